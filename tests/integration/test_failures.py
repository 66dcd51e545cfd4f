"""Every error status: 404, 405, 413, 429, 502 (exception, crash, out of memory, init), 504;
and a fork bomb that the server survives."""
import concurrent.futures
import unittest

from harness import KumoTestCase


class Failures(KumoTestCase):
    def test_unknown_function_is_404_with_a_json_error(self):
        r = self.invoke("nope")
        self.assertEqual(r.status, 404)
        err = r.json()["error"]
        self.assertEqual(err["type"], "not_found")
        self.assertIn("kumo ls", err["message"])
        self.assertEqual(self.request("GET", "/no/such/route").status, 404)
        self.assertEqual(self.request("PATCH", "/api/v1/functions").status, 405)

    def test_an_event_that_is_not_json_is_400(self):
        self.deploy("strict", "def handle(e, c):\n    return e\n")
        r = self.request("POST", "/api/v1/functions/strict/invoke", body="{bad json")
        self.assertEqual(r.status, 400)
        self.assertIn("not JSON", r.json()["error"]["message"])
        self.assertEqual(self.invoke("strict", [1, "two"]).json(), [1, "two"])

    def test_body_over_6_mb_is_413_and_the_server_carries_on(self):
        self.deploy("small", "def handle(e, c):\n    return 'ok'\n")
        r = self.request("POST", "/api/v1/functions/small/invoke", body=b"x" * (6 * 1024 * 1024 + 1))
        self.assertEqual(r.status, 413)
        self.assertEqual(r.json()["error"]["type"], "too_large")
        self.assertEqual(self.invoke("small").status, 200)

    def test_exception_is_502_naming_type_and_message_with_traceback_in_log(self):
        self.deploy("raiser", """
            def handle(event, context):
                raise ValueError("bad input: " + str(event.get("x")))
        """)
        r = self.invoke("raiser", {"x": 42})
        self.assertEqual(r.status, 502)
        err = r.json()["error"]
        self.assertIn("ValueError", err["message"])
        self.assertIn("bad input: 42", err["message"])
        self.assertEqual(err["request_id"], r.header("x-kumo-request-id"))
        self.wait_for(lambda: "Traceback" in self.kumo("logs", "raiser").stdout,
                      what="traceback in the log")

    def test_timeout_is_504_and_a_fresh_instance_serves_the_next(self):
        self.deploy("sleeper", """
            import time
            def handle(event, context):
                time.sleep(event.get("s", 0))
                return "awake"
        """, "timeout: 500ms\n")
        r = self.invoke("sleeper", {"s": 5})
        self.assertEqual(r.status, 504)
        self.assertEqual(r.json()["error"]["type"], "timeout")
        self.assertEqual(self.invoke("sleeper", {"s": 0}).json(), "awake")

    def test_out_of_memory_is_reported_as_such(self):
        self.deploy("hog", """
            def handle(event, context):
                blocks = []
                for _ in range(64):
                    blocks.append(bytearray(16 * 1024 * 1024))
                return len(blocks)
        """, "memory: 128\n")
        r = self.invoke("hog")
        self.assertEqual(r.status, 502)
        self.assertEqual(r.json()["error"]["type"], "out_of_memory")

    def test_crash_fails_only_the_requests_on_that_instance(self):
        self.deploy("crashy", """
            import os, time
            def handle(event, context):
                if event.get("crash"):
                    time.sleep(0.2)
                    os._exit(3)
                time.sleep(event.get("s", 0))
                return os.getpid()
        """, "max_instances: 3\n")
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            slow = [pool.submit(self.invoke, "crashy", {"s": 1.0}) for _ in range(2)]
            crashed = pool.submit(self.invoke, "crashy", {"crash": True})
            self.assertEqual(crashed.result().status, 502)
            self.assertEqual(crashed.result().json()["error"]["type"], "function_crashed")
            for f in slow:
                self.assertEqual(f.result().status, 200)
        self.assertEqual(self.invoke("crashy").status, 200)

    def test_init_error_is_502_naming_the_exception(self):
        self.deploy("broken", "import no_such_module\ndef handle(e, c):\n    return 1\n")
        r = self.invoke("broken")
        self.assertEqual(r.status, 502)
        err = r.json()["error"]
        self.assertEqual(err["type"], "init_error")
        self.assertIn("no_such_module", err["message"])

    def test_fork_bomb_times_out_and_the_server_stays_healthy(self):
        if "pids cgroups unavailable" in self.server.log_text():
            self.skipTest("this server cannot cap an instance's processes here")
        self.deploy("steady", "def handle(e, c):\n    return 'steady'\n")
        self.assertEqual(self.invoke("steady").json(), "steady")  # warm before the storm
        self.deploy("bomb", """
            import os
            def handle(event, context):
                while True:
                    try:
                        os.fork()
                    except OSError:
                        pass
        """, "timeout: 2s\nmemory: 512\n")
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            bomb = pool.submit(self.invoke, "bomb")
            self.assertEqual(self.request("GET", "/healthz").status, 200)
            self.assertEqual(self.invoke("steady").json(), "steady")
            r = bomb.result()
        self.assertEqual(r.status, 504)
        self.assertEqual(r.json()["error"]["type"], "timeout")
        self.assertEqual(self.request("GET", "/healthz").status, 200)
        self.assertEqual(self.invoke("steady").json(), "steady")

    def test_queue_full_is_429(self):
        self.deploy("narrow", """
            import time
            def handle(event, context):
                time.sleep(1.5)
                return "done"
        """, "max_instances: 1\nmax_queue: 1\n")
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(self.invoke, "narrow") for _ in range(4)]
            statuses = sorted(f.result().status for f in futures)
        self.assertIn(200, statuses)
        self.assertIn(429, statuses)
        throttled = [f.result() for f in futures if f.result().status == 429][0]
        self.assertEqual(throttled.json()["error"]["type"], "throttled")


if __name__ == "__main__":
    unittest.main()
