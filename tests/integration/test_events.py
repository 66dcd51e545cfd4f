"""Async invocation (retries, dead letters, on_failure, kill -9 survival), embedded topics with
queue triggers, schedules and CloudEvents ingest, against a real `kumo serve`."""
import json
import os
import signal
import time
import unittest

from harness import KumoTestCase, Server

# Prints the event it got as one JSON line, so a test can read it back from the log.
PRINTER = """
    import json
    def handle(event, context):
        print("EVENT " + json.dumps(event, sort_keys=True))
        return {"attempt": context.attempt}
"""


class Events(KumoTestCase):
    def events_in_log(self, name):
        out = self.kumo("logs", name).stdout
        return [json.loads(line.split("EVENT ", 1)[1]) for line in out.splitlines()
                if "EVENT " in line]

    def wait_events(self, name, n, timeout=20):
        return self.wait_for(lambda: len(self.events_in_log(name)) >= n and
                             self.events_in_log(name), timeout=timeout,
                             what=f"{n} events in {name}'s log")

    def invocation(self, request_id):
        return self.request("GET", f"/api/v1/invocations/{request_id}").json()

    def wait_state(self, request_id, state, timeout=20):
        return self.wait_for(lambda: self.invocation(request_id)["state"] == state and
                             self.invocation(request_id), timeout=timeout,
                             what=f"invocation {request_id} to be {state}")

    def test_async_invoke_answers_202_and_the_result_is_kept(self):
        self.deploy("later", PRINTER)
        r = self.request("POST", "/api/v1/functions/later/invoke", {"n": 1},
                         headers={"X-Kumo-Invocation-Type": "async"})
        self.assertEqual(r.status, 202)
        request_id = r.json()["request_id"]
        self.assertEqual(r.header("x-kumo-request-id"), request_id)
        done = self.wait_state(request_id, "succeeded")
        self.assertEqual(done["attempts"], 1)
        self.assertEqual(done["result"], {"attempt": 1})
        # The CLI does the same.
        cli_id = self.kumo("invoke", "later", "-d", '{"n": 2}', "--async").stdout.strip()
        self.wait_state(cli_id, "succeeded")
        self.assertIn("succeeded", self.kumo("invocation", cli_id).stdout)

    def test_a_failed_attempt_is_retried_and_the_context_says_which_attempt(self):
        self.deploy("second-time", """
            def handle(event, context):
                if context.attempt < 2:
                    raise RuntimeError("first attempt fails")
                return "ok on attempt %d" % context.attempt
        """, "async: {retries: 2, backoff: 100ms}\n")
        r = self.request("POST", "/api/v1/functions/second-time/invoke", {},
                         headers={"X-Kumo-Invocation-Type": "async"})
        done = self.wait_state(r.json()["request_id"], "succeeded")
        self.assertEqual(done["attempts"], 2)
        self.assertEqual(done["result"], "ok on attempt 2")

    def test_after_the_last_retry_it_is_dead_and_goes_to_dead_letters_and_on_failure(self):
        self.deploy("catcher", PRINTER)
        self.deploy("doomed", """
            def handle(event, context):
                raise ValueError("cannot handle order %s" % event["order"])
        """, "async: {retries: 1, backoff: 50ms, on_failure: catcher, dead_letter: doomed-dl}\n")
        r = self.request("POST", "/api/v1/functions/doomed/invoke", {"order": 7},
                         headers={"X-Kumo-Invocation-Type": "async"})
        request_id = r.json()["request_id"]
        dead = self.wait_state(request_id, "dead")
        self.assertEqual(dead["attempts"], 2)
        self.assertEqual(dead["error"]["type"], "ValueError")
        self.assertIn("cannot handle order 7", dead["error"]["message"])
        letters = json.loads(self.kumo("messages", "doomed-dl", "--json").stdout)["messages"]
        self.assertEqual(len(letters), 1)
        letter = json.loads(letters[0]["body"])
        self.assertEqual(letter["request_id"], request_id)
        self.assertEqual(letter["payload"], {"order": 7})
        record = self.wait_events("catcher", 1)[0]
        self.assertEqual(record["requestContext"]["condition"], "RetriesExhausted")
        self.assertEqual(record["requestContext"]["requestId"], request_id)
        self.assertEqual(record["requestPayload"], {"order": 7})
        self.assertEqual(record["responsePayload"]["errorType"], "ValueError")

    def test_unknown_invocation_is_404(self):
        r = self.request("GET", "/api/v1/invocations/no-such-id")
        self.assertEqual(r.status, 404)

    def test_topic_messages_reach_queue_triggers_in_batches(self):
        self.deploy("batcher", PRINTER, """
            triggers:
              - queue: {topic: orders, batch_size: 3, batch_window: 300ms}
        """)
        for i in range(4):
            r = self.request("POST", "/api/v1/topics/orders", f"order-{i}",
                             headers={"X-Kumo-Attr-Region": "eu"})
            self.assertEqual(r.status, 202, r.body)
        self.kumo("publish", "orders", "order-4")
        events = self.wait_events("batcher", 2)
        bodies = [rec["body"] for e in events for rec in e["Records"]]
        self.assertEqual(sorted(bodies), [f"order-{i}" for i in range(5)])
        self.assertEqual(len(events[0]["Records"]), 3)
        first = events[0]["Records"][0]
        self.assertEqual(first["eventSource"], "kumo:queue")
        self.assertEqual(first["messageAttributes"]["region"]["stringValue"], "eu")

    def test_bad_messages_get_clear_errors_and_do_not_disturb_accepted_ones(self):
        self.deploy("steady", PRINTER, "triggers:\n  - queue: {topic: steady}\n")
        self.assertEqual(self.request("POST", "/api/v1/topics/steady", "before").status, 202)
        big = self.request("POST", "/api/v1/topics/steady", b"x" * (256 * 1024 + 1))
        self.assertEqual(big.status, 413)
        bad = self.request("POST", "/api/v1/topics/not%20a%20topic", "x")
        self.assertEqual(bad.status, 400)
        self.assertIn("topic name", bad.json()["error"]["message"])
        self.assertEqual(self.request("POST", "/api/v1/topics/steady", "after").status, 202)
        events = self.wait_events("steady", 2)
        self.assertEqual([e["Records"][0]["body"] for e in events], ["before", "after"])

    def test_bad_triggers_fail_the_deploy_naming_the_field(self):
        d = self.write_function("badcron", PRINTER,
                                "triggers:\n  - schedule: {cron: '61 * * * *'}\n")
        r = self.kumo("deploy", d, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("triggers[0].schedule.cron", r.stderr)
        d = self.write_function("notable", PRINTER,
                                "triggers:\n  - table: {name: no_such_table}\n")
        r = self.kumo("deploy", d, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("no_such_table", r.stderr)
        self.assertIn("does not exist", r.stderr)

    def test_a_schedule_fires_on_its_ticks(self):
        self.deploy("ticker", PRINTER, "triggers:\n  - schedule: {cron: '@every 1s'}\n")
        events = self.wait_events("ticker", 2, timeout=10)
        self.assertEqual(events[0]["detail-type"], "Scheduled Event")
        times = [e["time"] for e in events[:2]]
        self.assertEqual(len(set(times)), 2, "each tick fires once")

    def test_cloudevents_in_binary_and_structured_mode_reach_the_topic_named_by_type(self):
        self.deploy("ce", PRINTER, "triggers:\n  - queue: {topic: com.example.order.created}\n")
        r = self.request("POST", "/api/v1/events", {"id": 1},
                         headers={"ce-specversion": "1.0", "ce-type": "com.example.order.created",
                                  "ce-source": "/shop", "ce-id": "A-1",
                                  "content-type": "application/json"})
        self.assertEqual(r.status, 202, r.body)
        structured = {"specversion": "1.0", "type": "com.example.order.created",
                      "source": "/shop", "id": "A-2", "data": {"id": 2}}
        r = self.request("POST", "/api/v1/events", json.dumps(structured),
                         headers={"content-type": "application/cloudevents+json"})
        self.assertEqual(r.status, 202, r.body)
        missing = self.request("POST", "/api/v1/events", "{}",
                               headers={"ce-specversion": "1.0", "ce-type": "t",
                                        "ce-source": "/s"})
        self.assertEqual(missing.status, 400)
        self.assertIn("'id'", missing.json()["error"]["message"])
        events = self.wait_events("ce", 2)
        got = sorted((json.loads(e["Records"][0]["body"]) for e in events),
                     key=lambda ce: ce["id"])
        self.assertEqual([ce["id"] for ce in got], ["A-1", "A-2"])
        self.assertEqual([ce["data"] for ce in got], [{"id": 1}, {"id": 2}])
        self.assertEqual(got[0]["source"], "/shop")


class SurvivesKill(KumoTestCase):
    def test_invocations_answered_202_run_after_a_kill_9(self):
        marks = self.shared_dir()
        self.deploy("slow", f"""
            import os, time
            def handle(event, context):
                time.sleep(0.5)
                open(os.path.join({marks!r}, context.aws_request_id), "w").close()
                return "done"
        """, "max_instances: 2\n")
        ids = []
        for i in range(6):
            r = self.request("POST", "/api/v1/functions/slow/invoke", {"i": i},
                             headers={"X-Kumo-Invocation-Type": "async"})
            self.assertEqual(r.status, 202)
            ids.append(r.json()["request_id"])
        self.server.stop(signal.SIGKILL)
        self.server = type(self).server = Server(self.server.data_dir).start()
        for request_id in ids:
            done = self.wait_for(
                lambda: self.request("GET", f"/api/v1/invocations/{request_id}").json()
                ["state"] == "succeeded", timeout=30, what=f"{request_id} to run")
            self.assertTrue(done)
            self.assertTrue(os.path.exists(os.path.join(marks, request_id)))


if __name__ == "__main__":
    unittest.main()
