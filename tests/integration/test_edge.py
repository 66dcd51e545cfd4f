"""The edge-to-cloud example (examples/edge) end to end: a real mosquitto on a free port, a real
`kumo serve` with the example's MQTT connector pointed at it, the simulated devices publishing
with the npm `mqtt` client, the `aggregate` function folding the batched readings into one item
per device, and the `summarise` function (on `@every 2s` here instead of every minute) writing
the fleet's summary."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import KumoTestCase
from test_connectors import Broker, free_port, which

HERE = os.path.dirname(os.path.abspath(__file__))
JS_DIR = os.path.join(HERE, "..", "js")
EXAMPLE = os.path.join(HERE, "..", "..", "examples", "edge")


def missing_tools():
    if not which("mosquitto"):
        return "mosquitto is not installed"
    if not which("node") or not os.path.isdir(os.path.join(JS_DIR, "node_modules")):
        return "node or tests/js/node_modules is missing"
    return None


SKIP = missing_tools()


@unittest.skipIf(SKIP, SKIP)
class EdgeExample(KumoTestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker_dir = tempfile.mkdtemp(prefix="kumo-edge-")
        port = free_port()
        conf = os.path.join(cls.broker_dir, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        cls.broker = Broker("mosquitto", [which("mosquitto"), "-c", conf], port, cls.broker_dir)
        # The example's server config, pointed at this broker.
        with open(os.path.join(EXAMPLE, "kumo-server.yaml")) as f:
            config = f.read().replace("port: 1883", f"port: {port}")
        server_config = os.path.join(cls.broker_dir, "kumo-server.yaml")
        with open(server_config, "w") as f:
            f.write(config)
        cls.server_args = ("--config", server_config)
        try:
            super().setUpClass()
        except Exception:
            cls.stop_broker()
            raise

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.stop_broker()

    @classmethod
    def stop_broker(cls):
        cls.broker.stop()
        shutil.rmtree(cls.broker_dir, ignore_errors=True)

    def setUp(self):
        self.kumo("table", "create", "readings")
        self.kumo("table", "create", "summaries")
        self.kumo("deploy", os.path.join(EXAMPLE, "aggregate"))

    # --- helpers --------------------------------------------------------------------------
    def run_devices(self, devices, count):
        env = dict(os.environ, NODE_PATH=os.path.join(JS_DIR, "node_modules"))
        r = subprocess.run(["node", os.path.join(EXAMPLE, "device.cjs"),
                            "--url", f"mqtt://127.0.0.1:{self.broker.port}",
                            "--devices", str(devices), "--count", str(count),
                            "--interval-ms", "0"],
                           capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return json.loads(r.stdout)["sent"]

    def item(self, table, key):
        r = self.request("GET", f"/api/v1/tables/{table}/items/{key}")
        return r.json()["item"] if r.status == 200 else None

    def deploy_summariser(self, schedule):
        d = os.path.join(self.tmp, "summarise")
        shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(os.path.join(EXAMPLE, "summarise"), d)
        spec = os.path.join(d, "kumo.yaml")
        with open(spec) as f:
            text = f.read()
        with open(spec, "w") as f:
            f.write(text.replace('cron: "* * * * *"', f'cron: "{schedule}"'))
        self.kumo("deploy", d)

    # --- tests ----------------------------------------------------------------------------
    def test_device_readings_over_mqtt_are_aggregated_per_device_and_summarised(self):
        sent = self.run_devices(devices=3, count=40)
        self.assertEqual(sorted(sent), ["dev-0", "dev-1", "dev-2"])

        def aggregated():
            items = {d: self.item("readings", d) for d in sent}
            done = all(i and i["count"] >= 40 for i in items.values())
            return items if done else None
        items = self.wait_for(aggregated, timeout=30, interval=0.2,
                              what="40 readings aggregated for each device")
        for device, want in sent.items():
            got = items[device]
            self.assertEqual(got["count"], 40, device)
            self.assertAlmostEqual(got["min"], want["min"], places=6)
            self.assertAlmostEqual(got["max"], want["max"], places=6)
            self.assertAlmostEqual(got["mean"], want["mean"], places=2)
            self.assertEqual(got["last"]["seq"], 39)

        # 120 messages arrived in batches of up to 50, not one invocation each.
        usage = json.loads(self.kumo("usage", "--json").stdout)
        runs = next(f for f in usage["functions"] if f["function"] == "aggregate")
        self.assertLess(runs["invocations"], 60)

        # The summariser, every 2 s instead of every minute.
        self.deploy_summariser("@every 2s")

        def summarised():
            latest = self.item("summaries", "latest")
            return latest if latest and latest["readings"] >= 120 else None
        latest = self.wait_for(summarised, timeout=20, interval=0.2, what="a summary")
        self.assertEqual((latest["devices"], latest["readings"]), (3, 120))
        self.assertAlmostEqual(latest["min"], min(s["min"] for s in sent.values()), places=6)
        self.assertAlmostEqual(latest["max"], max(s["max"] for s in sent.values()), places=6)
        self.assertEqual(latest["per_device"]["dev-1"]["count"], 40)
        self.assertEqual(latest["silent"], [])
        # Each run is also kept under its own time, the scheduled event's `time`.
        at = self.item("summaries", latest["at"])
        self.assertEqual(at["readings"], 120)
        self.assertRegex(latest["at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

        # More readings: each run counts those that came since the run before it, so the
        # runs' new_readings add up to the total.
        self.run_devices(devices=1, count=5)
        later = self.wait_for(lambda: (lambda s: s if s["readings"] == 125 else None)(
            self.item("summaries", "latest")), timeout=20, interval=0.2, what="a later summary")
        self.assertTrue(0 < later["new_readings"] <= 5, later)
        runs = json.loads(self.kumo("table", "query", "summaries", "--json").stdout)["items"]
        by_time = [r["item"] for r in runs if r["key"] != "latest"]
        upto = [r["new_readings"] for r in by_time if r["at"] <= later["at"]]
        self.assertEqual(sum(upto), 125)


class EdgeExampleWithoutBroker(KumoTestCase):
    """No connector: the topic takes readings over Kumo's own API, so the example's functions
    deploy and work where no broker runs (as under `make run`)."""

    def test_readings_published_to_the_topic_are_aggregated(self):
        self.kumo("table", "create", "readings")
        self.kumo("deploy", os.path.join(EXAMPLE, "aggregate"))
        for seq, temp in enumerate((18.5, 19.5)):
            body = json.dumps({"device": "bench-rig", "seq": seq, "temp": temp, "ts": seq})
            self.kumo("publish", "readings", body)
        self.kumo("publish", "readings", "not a reading")
        got = self.wait_for(lambda: (lambda i: i if i and i["count"] == 2 else None)(
            self.item("readings", "bench-rig")), timeout=20, interval=0.2,
            what="bench-rig's aggregate")
        self.assertEqual((got["min"], got["max"], got["mean"]), (18.5, 19.5, 19.0))
        self.assertEqual(got["last"]["seq"], 1)

    def item(self, table, key):
        r = self.request("GET", f"/api/v1/tables/{table}/items/{key}")
        return r.json()["item"] if r.status == 200 else None


if __name__ == "__main__":
    unittest.main()
