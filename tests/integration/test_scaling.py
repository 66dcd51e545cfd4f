"""Scale-out under concurrent load, scale to zero after idle_timeout, usage and metrics."""
import concurrent.futures
import json
import os
import re
import time
import unittest

from harness import KumoTestCase

SLOW = """
    import os, time
    def handle(event, context):
        time.sleep(event.get("s", 0.5))
        return os.environ["KUMO_INSTANCE_ID"]
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

    def usage_of(self, name):
        usage = self.request("GET", "/api/v1/usage?since_us=0").json()
        return [f for f in usage["functions"] if f["function"] == name][0]

    def test_waiting_behind_another_call_is_queue_time_not_billed(self):
        # Init waits for a gate the test opens once all three calls are queued, so they are
        # concurrent whatever the machine's load; each handler then runs one second.
        gate = os.path.join(self.shared_dir(), "serial-gate")
        self.deploy("serial", """
            import os, time
            while not os.path.exists(os.environ["GATE"]):
                time.sleep(0.01)
            def handle(event, context):
                time.sleep(1)
                return context.aws_request_id
        """, f'max_instances: 1\nconcurrency: 1\ntimeout: 60s\nenv: {{GATE: "{gate}"}}\n')
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            calls = [pool.submit(self.invoke, "serial") for _ in range(3)]
            self.wait_for(lambda: self.describe("serial")["instances"]["queued"] == 3,
                          timeout=60, what="three queued calls")
            open(gate, "w").close()
            self.assertEqual([c.result().status for c in calls], [200, 200, 200])

        serial = self.usage_of("serial")
        self.assertEqual(serial["invocations"], 3)
        self.assertEqual(serial["cold_starts"], 1)  # the others waited behind it, not a start
        # Each row is one second of handler time (plus transport); a call that waited
        # behind another was billed ~2 s when its wait counted as duration.
        self.assertGreaterEqual(serial["p50_ms"], 1000)
        self.assertLess(serial["p99_ms"], 1700, serial)
        self.assertGreaterEqual(serial["billed_ms"], 3000)
        self.assertLess(serial["billed_ms"], 3 * 1700, serial)
        # The waits are queue time: the middle call waited a second, the last one two.
        self.assertGreaterEqual(serial["queue_p50_ms"], 1000, serial)
        self.assertGreaterEqual(serial["queue_p99_ms"], 2000, serial)

    def test_a_burst_that_starts_n_instances_records_n_cold_starts(self):
        # Every call holds its instance until the test releases them all, so the three
        # later calls arrive while the first one runs, whatever the machine's load.
        release = os.path.join(self.shared_dir(), "burst-release")
        self.deploy("held", """
            import os, time
            def handle(event, context):
                while not os.path.exists(os.environ["RELEASE"]):
                    time.sleep(0.01)
                return os.environ["KUMO_INSTANCE_ID"]
        """, f'max_instances: 4\ntimeout: 60s\nenv: {{RELEASE: "{release}"}}\n')
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            calls = [pool.submit(self.invoke, "held")]
            self.wait_for(lambda: self.describe("held")["instances"]["busy"] == 1,
                          timeout=60, what="the first call running")
            calls += [pool.submit(self.invoke, "held") for _ in range(3)]

            def settled():
                i = self.describe("held")["instances"]
                return i if i["total"] == 4 and i["starting"] == 0 and i["queued"] == 0 else None
            started = self.wait_for(settled, timeout=60, what="four instances started")["total"]
            open(release, "w").close()
            pids = {c.result().json() for c in calls}
        self.assertGreaterEqual(self.usage_of("held")["cold_starts"], started)
        self.assertEqual(len(pids), 4, "a call waited behind another while its instance started")

    def test_min_instances_stay_warm(self):
        self.deploy("warm", SLOW, "min_instances: 1\nidle_timeout: 200ms\n")
        self.wait_for(lambda: self.describe("warm")["instances"]["idle"] == 1, what="warm instance")
        time.sleep(1)
        self.assertEqual(self.describe("warm")["instances"]["total"], 1)


if __name__ == "__main__":
    unittest.main()
