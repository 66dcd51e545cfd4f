"""Broker connectors end to end: real nats-server, mosquitto and redis-server on 127.0.0.1 and
free ports, a real `kumo serve --config` with one connector each, real clients publishing
(npm `nats`, npm `mqtt`, redis-cli), and python3 functions with queue triggers that log the
event they receive. Each broker's tests skip when its server binary is not installed.
"""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import uuid

import harness
from harness import free_port

JS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "js")
SEARCH_PATH = os.environ.get("PATH", "") + ":/usr/sbin:/usr/bin"

HANDLER = """\
import json

def handle(event, context):
    print(json.dumps(event), flush=True)
"""


def which(program):
    return shutil.which(program, path=SEARCH_PATH)


def wait_for_port(port, proc, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{proc.args[0]} did not listen on {port}")


class Broker:
    """One broker server started by the test on 127.0.0.1 and a free port."""

    def __init__(self, name, argv, port, log_dir):
        self.name, self.port = name, port
        self.log = open(os.path.join(log_dir, name + ".log"), "w")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)
        wait_for_port(port, self.proc)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def start_brokers(tmp):
    """Starts each broker whose server is installed; returns {kind: Broker}."""
    brokers = {}
    if which("nats-server"):
        port = free_port()
        store = os.path.join(tmp, "nats")
        brokers["nats"] = Broker("nats", [which("nats-server"), "-a", "127.0.0.1", "-p",
                                          str(port), "-js", "-sd", store], port, tmp)
    if which("mosquitto"):
        port = free_port()
        conf = os.path.join(tmp, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        brokers["mqtt"] = Broker("mosquitto", [which("mosquitto"), "-c", conf], port, tmp)
    if which("redis-server"):
        port = free_port()
        brokers["redis"] = Broker("redis", [which("redis-server"), "--bind", "127.0.0.1",
                                            "--port", str(port), "--save", "", "--appendonly",
                                            "no", "--dir", tmp], port, tmp)
    return brokers


def connectors_config(brokers):
    lines = ["connectors:"]
    if "nats" in brokers:
        lines.append(f'  - {{type: nats, url: "nats://127.0.0.1:{brokers["nats"].port}", '
                     'stream: EVENTS, subjects: ["events.>"], durable: kumo, topic: events}')
    if "mqtt" in brokers:
        lines.append(f'  - {{type: mqtt, host: 127.0.0.1, port: {brokers["mqtt"].port}, '
                     'subscribe: "sensors/#", qos: 1, client_id: kumo-it, topic: readings}')
    if "redis" in brokers:
        lines.append(f'  - {{type: redis, host: 127.0.0.1, port: {brokers["redis"].port}, '
                     'stream: jobs, group: kumo, topic: jobs}')
    return "\n".join(lines) + "\n" if len(lines) > 1 else ""


# The function that each connector's topic triggers.
FUNCTIONS = {"nats": ("on-events", "events"), "mqtt": ("on-readings", "readings"),
             "redis": ("on-jobs", "jobs")}


class ConnectorsTest(harness.KumoTestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker_dir = tempfile.mkdtemp(prefix="kumo-brokers-")
        cls.brokers = start_brokers(cls.broker_dir)
        config = os.path.join(cls.broker_dir, "kumo.yaml")
        with open(config, "w") as f:
            f.write(connectors_config(cls.brokers))
        cls.server_args = ("--config", config)
        try:
            super().setUpClass()
        except Exception:
            cls.stop_brokers()
            raise
        cls.deployed = set()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.stop_brokers()

    @classmethod
    def stop_brokers(cls):
        for b in cls.brokers.values():
            b.stop()
        shutil.rmtree(cls.broker_dir, ignore_errors=True)

    # --- helpers --------------------------------------------------------------------------
    def need(self, kind, client=None):
        if kind not in self.brokers:
            self.skipTest(f"{kind}: its server is not installed")
        if client == "node" and (not which("node") or
                                 not os.path.isdir(os.path.join(JS_DIR, "node_modules"))):
            self.skipTest("node or tests/js/node_modules is missing")
        if client and client != "node" and not which(client):
            self.skipTest(f"{client} is not installed")
        name, topic = FUNCTIONS[kind]
        if name not in self.deployed:
            self.deploy(name, HANDLER, f"triggers:\n  - queue: {{topic: {topic}}}\n")
            self.deployed.add(name)
        self.wait_for_connected(kind)
        return name

    def wait_for_connected(self, kind):
        index = [k for k in ("nats", "mqtt", "redis") if k in self.brokers].index(kind)
        needle = f"connectors[{index}] ({kind}"
        self.wait_for(lambda: any(needle in l and "connected" in l for l in self.server.output),
                      timeout=15, what=f"the {kind} connector to connect")

    def node(self, script, *args):
        r = subprocess.run(["node", os.path.join(JS_DIR, script), *args], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def publish(self, kind, body):
        port = self.brokers[kind].port
        if kind == "nats":
            self.node("nats_publish.mjs", f"nats://127.0.0.1:{port}", "events.orders", body,
                      "Tenant=acme")
        elif kind == "mqtt":
            self.node("mqtt_publish.mjs", f"mqtt://127.0.0.1:{port}", "sensors/door/1", body)
        else:
            r = subprocess.run([which("redis-cli"), "-h", "127.0.0.1", "-p", str(port), "XADD",
                                "jobs", "*", "body", body, "source", "it"],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            return r.stdout.strip()  # the entry id

    def record_with_body(self, function, body, timeout=30):
        """Polls the function's log until an event with a record carrying `body` shows up."""
        def find():
            r = self.request("GET", f"/api/v1/functions/{function}/logs?tail=1000")
            if r.status != 200:
                return None
            for line in r.body.decode(errors="replace").splitlines():
                start = line.find("{")
                if start < 0:
                    continue
                try:
                    event = json.loads(line[start:])
                except ValueError:
                    continue
                for record in event.get("Records", []) if isinstance(event, dict) else []:
                    if record.get("body") == body:
                        return record
            return None
        return self.wait_for(find, timeout=timeout, interval=0.2,
                             what=f"'{body}' in the logs of {function}")

    def attributes(self, record):
        """The connector's attributes, from SQS's messageAttributes form."""
        return {k: v["stringValue"] for k, v in record["messageAttributes"].items()}

    def assert_from_topic(self, record, topic):
        self.assertEqual(record["eventSource"], "kumo:queue")
        self.assertEqual(record["eventSourceARN"], f"arn:kumo:queue:local:{topic}")

    # --- tests ----------------------------------------------------------------------------
    def test_nats_jetstream_message_reaches_the_function(self):
        function = self.need("nats", "node")
        body = json.dumps({"order": str(uuid.uuid4())})
        self.publish("nats", body)
        record = self.record_with_body(function, body)
        self.assert_from_topic(record, "events")
        attributes = self.attributes(record)
        self.assertEqual(attributes["subject"], "events.orders")
        self.assertEqual(attributes["Tenant"], "acme")
        self.assertIn("nats_sequence", attributes)

    def test_mqtt_message_from_an_edge_device_reaches_the_function(self):
        function = self.need("mqtt", "node")
        body = "door opened " + str(uuid.uuid4())
        self.publish("mqtt", body)
        record = self.record_with_body(function, body)
        self.assert_from_topic(record, "readings")
        attributes = self.attributes(record)
        self.assertEqual(attributes["mqtt_topic"], "sensors/door/1")
        self.assertEqual(attributes["qos"], "1")
        self.assertEqual(attributes["retain"], "false")

    def test_redis_stream_entry_reaches_the_function(self):
        function = self.need("redis", "redis-cli")
        body = "resize " + str(uuid.uuid4())
        entry_id = self.publish("redis", body)
        record = self.record_with_body(function, body)
        self.assert_from_topic(record, "jobs")
        attributes = self.attributes(record)
        self.assertEqual(attributes["redis_stream"], "jobs")
        self.assertEqual(attributes["redis_id"], entry_id)

    def test_messages_sent_while_kumo_is_stopped_arrive_after_restart(self):
        clients = {"nats": "node", "mqtt": "node", "redis": "redis-cli"}
        kinds = [k for k in ("nats", "mqtt", "redis") if k in self.brokers]
        if not kinds:
            self.skipTest("no broker server is installed")
        functions = {k: self.need(k, clients[k]) for k in kinds}
        self.server.stop()
        try:
            bodies = {k: f"sent while kumo was stopped {uuid.uuid4()}" for k in kinds}
            for k in kinds:
                self.publish(k, bodies[k])  # the broker keeps it
        finally:
            self.server.start()
        for k in kinds:
            self.record_with_body(functions[k], bodies[k])


class ConnectorConfigTest(unittest.TestCase):
    def test_bad_connector_config_stops_the_server_with_the_field_named(self):
        tmp = tempfile.mkdtemp(prefix="kumo-it-")
        try:
            config = os.path.join(tmp, "kumo.yaml")
            with open(config, "w") as f:
                f.write("connectors:\n  - {type: mqtt, subscribe: 'a/#', topic: t, port: 0}\n")
            r = subprocess.run([harness.KUMO, "serve", "--listen", "127.0.0.1:0", "--data",
                                os.path.join(tmp, "data"), "--config", config],
                               capture_output=True, text=True, timeout=30)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("connectors[0].port: must be 1..65535", r.stdout + r.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
