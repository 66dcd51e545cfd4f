"""Deeply nested JSON against a real `kumo serve`: every endpoint that takes JSON refuses more
than 128 levels with a 400 naming the limit, a function whose result nests deeper gets a 502,
and records an older release stored unchecked neither crash the server nor stop its start.
Each case checks that the server still answers and still holds what it accepted before."""
import json
import os
import sqlite3
import time
import unittest
import urllib.parse

from harness import KumoTestCase

LIMIT = "JSON nesting deeper than 128 levels"
LEVELS = 50_000


def deep_json(levels=LEVELS):
    """{"a":[[[...]]]}: about 100 KB."""
    return '{"a":' + "[" * levels + "]" * levels + "}"


def item_path(table, key):
    return f"/api/v1/tables/{table}/items/{urllib.parse.quote(key, safe='')}"


# Returns JSON nested 50,000 deep (Python's encoder manages it with a raised recursion limit):
# as the body of an API Gateway proxy response when called through the HTTP trigger, else
# as the whole result.
DEEP_RESULT = """
    import sys
    def handle(event, context):
        sys.setrecursionlimit(200000)
        value = 1
        for _ in range(50000):
            value = [value]
        if isinstance(event, dict) and event.get("version") == "2.0":
            return {"statusCode": 200, "body": value}
        return {"a": value}
"""


class HostileJson(KumoTestCase):
    def assert_refused(self, r, what):
        self.assertEqual(r.status, 400, f"{what}: {r.body[:300]!r}")
        self.assertIn(LIMIT, r.json()["error"]["message"], what)
        self.assert_alive()

    def assert_alive(self):
        self.assertIsNone(self.server.proc.poll(), "the server died:\n" + self.server.log_text())
        self.assertEqual(self.request("GET", "/healthz").status, 200)

    def test_a_deep_table_item_is_400_and_the_earlier_items_stay(self):
        self.assertEqual(self.request("PUT", "/api/v1/tables/things").status, 201)
        self.assertEqual(self.request("PUT", item_path("things", "ok"), {"v": [1]}).status, 201)
        self.assert_refused(self.request("PUT", item_path("things", "deep"), body=deep_json()),
                            "table item")
        at_limit = '{"a":' + "[" * 127 + "]" * 127 + "}"
        self.assertIn(self.request("PUT", item_path("things", "edge"), body=at_limit).status,
                      (200, 201))
        self.assertEqual(self.request("GET", item_path("things", "ok")).json()["item"], {"v": [1]})
        self.assertEqual(self.request("GET", item_path("things", "deep")).status, 404)

    def test_deep_cloudevents_are_400_in_every_mode(self):
        binary = {"ce-specversion": "1.0", "ce-type": "t.deep", "ce-source": "/s",
                  "ce-id": "1", "content-type": "application/json"}
        self.assert_refused(self.request("POST", "/api/v1/events", deep_json(), binary),
                            "binary CloudEvent")
        structured = ('{"specversion":"1.0","type":"t.deep","source":"/s","id":"2","data":' +
                      deep_json() + "}")
        self.assert_refused(
            self.request("POST", "/api/v1/events", structured,
                         {"content-type": "application/cloudevents+json"}),
            "structured CloudEvent")
        self.assert_refused(
            self.request("POST", "/api/v1/events", "[" + structured + "]",
                         {"content-type": "application/cloudevents-batch+json"}),
            "CloudEvents batch")

    def test_a_deep_storage_notification_is_400(self):
        body = '{"Records":[{"eventName":"ObjectCreated:Put","s3":' + deep_json() + "}]}"
        self.assert_refused(self.request("POST", "/api/v1/storage/events", body),
                            "storage notification")

    def test_a_deep_topic_message_is_400_and_the_earlier_ones_stay(self):
        self.assertEqual(self.request("POST", "/api/v1/topics/hostile", "before").status, 202)
        self.assert_refused(self.request("POST", "/api/v1/topics/hostile", deep_json()),
                            "topic message")
        listed = self.request("GET", "/api/v1/topics/hostile/messages").json()
        self.assertEqual([m["body"] for m in listed["messages"]], ["before"])

    def test_a_deep_invocation_event_is_400_sync_and_async(self):
        self.deploy("echo", "def handle(e, c):\n    return e\n")
        self.assert_refused(self.request("POST", "/api/v1/functions/echo/invoke", deep_json()),
                            "invocation")
        self.assert_refused(
            self.request("POST", "/api/v1/functions/echo/invoke", deep_json(),
                         {"x-kumo-invocation-type": "async"}),
            "async invocation")
        self.assertEqual(self.invoke("echo", {"still": "here"}).json(), {"still": "here"})

    def test_a_function_returning_deep_json_is_a_502_through_invoke_and_the_http_trigger(self):
        self.deploy("deep-result", DEEP_RESULT, "async:\n  retries: 0\n")
        r = self.invoke("deep-result")
        self.assertEqual(r.status, 502, r.body[:300])
        self.assertIn(LIMIT, r.json()["error"]["message"])
        self.assert_alive()
        r = self.request("GET", "/fn/deep-result/")
        self.assertEqual(r.status, 502, r.body[:300])
        self.assertIn(LIMIT, r.json()["error"]["message"])
        self.assert_alive()

        queued = self.request("POST", "/api/v1/functions/deep-result/invoke", {},
                              {"x-kumo-invocation-type": "async"})
        self.assertEqual(queued.status, 202, queued.body)
        request_id = queued.json()["request_id"]

        def ended():
            got = self.request("GET", f"/api/v1/invocations/{request_id}").json()
            return got if got["state"] in ("succeeded", "dead") else None
        got = self.wait_for(ended, timeout=60, what="the async invocation to end")
        self.assertEqual(got["state"], "dead")
        self.assertIn(LIMIT, got["error"]["message"])
        self.assert_alive()


class DeepRecordsFromAnOlderRelease(KumoTestCase):
    """What an older release stored without a depth bound, written straight into its SQLite file."""

    def insert_old_records(self):
        db = sqlite3.connect(os.path.join(self.server.data_dir, "kumo.db"))
        now_us = int(time.time() * 1e6)
        with db:
            db.execute("INSERT INTO tables_items (tbl, key, item, updated_us) VALUES (?,?,?,?)",
                       ("old", "deep", deep_json(), now_us))
            db.execute("INSERT INTO tables_changes (tbl, kind, key, old_item, new_item, at_us, "
                       "event_id) VALUES (?,?,?,?,?,?,?)",
                       ("old", "INSERT", "deep", None, deep_json(), now_us, "olddeepevent"))
            db.execute("INSERT INTO events_invocations (request_id, function, payload, source, "
                       "state, attempts, max_attempts, next_run_us, created_us, updated_us, "
                       "result) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                       ("old-deep-result", "gone", "{}", "api", "succeeded", 1, 1, now_us,
                        now_us, now_us, deep_json()))
        db.close()

    def test_a_restart_over_deep_records_starts_and_dead_letters_the_change(self):
        self.assertEqual(self.request("PUT", "/api/v1/tables/old").status, 201)
        self.assertEqual(self.request("PUT", item_path("old", "good"), {"v": 1}).status, 201)
        self.server.stop()
        self.insert_old_records()
        self.server.start()
        self.assertEqual(self.request("GET", "/healthz").status, 200)

        def dead_letters():
            r = self.request("GET", "/api/v1/topics/dead-letters/messages").json()
            return [json.loads(m["body"]) for m in r["messages"]] or None
        letters = self.wait_for(dead_letters, timeout=30, what="a dead letter for the change")
        self.assertEqual(letters[0]["source"], "table:old")
        self.assertEqual(letters[0]["keys"], {"key": {"S": "deep"}})
        self.assertEqual(letters[0]["eventID"], "olddeepevent")
        self.assertIn(LIMIT, letters[0]["error"]["message"])
        self.assertIn("cannot be delivered", self.server.log_text())

        self.assertEqual(self.request("GET", item_path("old", "good")).json()["item"], {"v": 1})
        deep = self.request("GET", item_path("old", "deep"))
        self.assertEqual(deep.status, 500)
        self.assertIn(LIMIT, deep.json()["error"]["message"])
        listed = self.request("GET", "/api/v1/tables/old/items").json()
        self.assertEqual([i["key"] for i in listed["items"]], ["good"])
        self.assertEqual(self.request("DELETE", item_path("old", "deep")).status, 200)

        got = self.request("GET", "/api/v1/invocations/old-deep-result")
        self.assertEqual(got.status, 200)
        self.assertEqual(got.json()["result"], deep_json())  # shown as text, not parsed
        self.assertIsNone(self.server.proc.poll())

        # And it starts again, with nothing left to trip over.
        self.server.stop()
        self.server.start()
        self.assertEqual(self.request("GET", "/healthz").status, 200)


if __name__ == "__main__":
    unittest.main()
