"""Scale-out under concurrent load, scale to zero after idle_timeout, usage and metrics."""
import concurrent.futures
import json
import re
import time
import unittest

from harness import KumoTestCase

SLOW = """
    import os, time
    def handle(event, context):
        time.sleep(event.get("s", 0.5))
        return os.getpid()
"""


class Scaling(KumoTestCase):
    def test_scales_out_under_load_and_back_to_zero(self):
        self.deploy("burst", SLOW, "max_instances: 4\nidle_timeout: 1s\n")
        peak = [0]

        def watch():
            end = time.time() + 3
            while time.time() < end:
                peak[0] = max(peak[0], self.describe("burst")["instances"]["total"])
                time.sleep(0.1)
        with concurrent.futures.ThreadPoolExecutor(9) as pool:
            watcher = pool.submit(watch)
            results = [pool.submit(self.invoke, "burst", {"s": 0.8}) for _ in range(8)]
            pids = {r.result().json() for r in results}
            watcher.result()
        self.assertTrue(all(r.result().status == 200 for r in results))
        self.assertGreater(len(pids), 1, "every request ran on one instance")
        self.assertLessEqual(len(pids), 4, "max_instances exceeded")
        self.assertGreater(peak[0], 1)

        self.wait_for(lambda: self.describe("burst")["instances"]["total"] == 0, timeout=15,
                      what="scale to zero")

        usage = json.loads(self.kumo("usage", "--json").stdout)
        burst = [f for f in usage["functions"] if f["function"] == "burst"][0]
        self.assertEqual(burst["invocations"], 8)
        self.assertGreaterEqual(burst["cold_starts"], len(pids))
        self.assertGreater(burst["gb_seconds"], 0)
        self.assertGreaterEqual(burst["p50_ms"], 700)
        self.assertIn("burst", self.kumo("usage").stdout)

        metrics = self.request("GET", "/metrics").body.decode()
        m = re.search(r'kumo_invocations_total\{function="burst",outcome="ok"\} (\d+)', metrics)
        self.assertIsNotNone(m, metrics)
        self.assertEqual(int(m.group(1)), 8)
        self.assertIn("kumo_invocation_duration_seconds_bucket", metrics)

    def test_min_instances_stay_warm(self):
        self.deploy("warm", SLOW, "min_instances: 1\nidle_timeout: 200ms\n")
        self.wait_for(lambda: self.describe("warm")["instances"]["idle"] == 1, what="warm instance")
        time.sleep(1)
        self.assertEqual(self.describe("warm")["instances"]["total"], 1)


if __name__ == "__main__":
    unittest.main()
