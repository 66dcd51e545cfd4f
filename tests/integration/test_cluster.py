"""Cluster mode against real processes: an etcd (Debian's etcd-server), a nats-server with
JetStream and Kumo nodes started by the test on loopback. Nodes see each other join; a node
killed with -9 is gone from the others' view within seconds (its etcd lease expires), one
stopped cleanly at once; `kumo nodes` shows them; a function deployed, redeployed or removed
through one node is so on every node, and a node joining later gets it; a bad cluster
setting stops the server with exit code 2."""
import base64
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from harness import KUMO, Server


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Etcd:
    """A single-member etcd in a temporary folder, answering when start() returns."""

    def __init__(self, folder):
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        peer = f"http://127.0.0.1:{free_port()}"
        self.log = open(os.path.join(folder, "etcd.log"), "w")
        self.proc = subprocess.Popen(
            ["etcd", "--name", "it", "--data-dir", os.path.join(folder, "etcd"),
             "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
             "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
             "--initial-cluster", f"it={peer}"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while not self.answers():
            if time.time() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("etcd did not start")
            time.sleep(0.1)

    def answers(self):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            conn.request("POST", "/v3/kv/range", body=json.dumps({"key": "eA=="}))
            ok = conn.getresponse().status == 200
            conn.close()
            return ok
        except OSError:
            return False

    def get(self, key):
        """The values under `key` (a list of zero or one)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request("POST", "/v3/kv/range",
                     body=json.dumps({"key": base64.b64encode(key.encode()).decode()}))
        reply = json.loads(conn.getresponse().read())
        conn.close()
        return [base64.b64decode(kv["value"]).decode() for kv in reply.get("kvs", [])]

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()


def cluster(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("GET", "/api/v1/cluster", headers=server.auth_headers())
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, json.loads(body)


def node_ids(server):
    status, body = cluster(server)
    return sorted(n["id"] for n in body.get("nodes", [])) if status == 200 else None


@unittest.skipUnless(shutil.which("etcd"), "etcd is not installed (apt-get install etcd-server)")
class ClusterCase(unittest.TestCase):
    """An etcd per test, and Kumo nodes on it."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="kumo-it-cluster-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.etcd = Etcd(self.tmp)
        self.addCleanup(self.etcd.stop)

    def node(self, node_id, *extra):
        server = Server(os.path.join(self.tmp, node_id),
                        ["--cluster", "--etcd", self.etcd.url, "--node-id", node_id, *extra])
        server.start()
        self.addCleanup(server.stop, signal.SIGKILL)
        return server

    def wait_for(self, check, what, timeout=30):
        deadline = time.time() + timeout
        while not check():
            if time.time() > deadline:
                self.fail(f"timed out waiting for {what}")
            time.sleep(0.1)


class Membership(ClusterCase):
    def test_nodes_see_each_other_and_a_killed_node_goes_within_seconds(self):
        a = self.node("node-a")
        b = self.node("node-b")
        self.assertEqual(node_ids(b), ["node-a", "node-b"])  # known when it listens
        self.wait_for(lambda: node_ids(a) == ["node-a", "node-b"], "node-a to see node-b")
        status, body = cluster(a)
        self.assertEqual((status, body["mode"], body["node"]), (200, "cluster", "node-a"))
        self.assertIn({"id": "node-b", "url": b.url}, body["nodes"])

        b.stop(signal.SIGKILL)
        killed = time.time()
        self.wait_for(lambda: node_ids(a) == ["node-a"], "node-a to see node-b gone")
        # The lease's TTL is 3 s; etcd checks expiry about every half second.
        self.assertLess(time.time() - killed, 10)

        c = self.node("node-c")
        self.wait_for(lambda: node_ids(a) == ["node-a", "node-c"], "node-a to see node-c")
        # A clean stop leaves before the process ends: its key is gone from etcd at once,
        # not when its lease would have expired.
        c.stop()
        self.assertEqual(self.etcd.get("kumo/nodes/node-c"), [])
        self.wait_for(lambda: node_ids(a) == ["node-a"], "node-c's clean leave")

    def test_kumo_nodes_lists_them_and_marks_this_one(self):
        a = self.node("node-a")
        self.node("node-b")
        self.wait_for(lambda: node_ids(a) == ["node-a", "node-b"], "both nodes")
        env = dict(os.environ, KUMO_URL=a.url, KUMO_API_KEY=a.admin_key)
        out = subprocess.run([KUMO, "nodes"], capture_output=True, text=True, env=env,
                             timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        lines = out.stdout.splitlines()
        self.assertTrue(any("node-a" in line and "(this one)" in line for line in lines), lines)
        self.assertTrue(any("node-b" in line and "(this one)" not in line for line in lines))

    def test_the_cluster_view_is_the_operators(self):
        a = self.node("node-a")
        conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=10)
        conn.request("POST", "/api/v1/tenants", body=json.dumps({"name": "acme"}),
                     headers=a.auth_headers())
        self.assertEqual(conn.getresponse().status, 201)
        conn.close()
        conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=10)
        conn.request("POST", "/api/v1/keys", headers=a.auth_headers(),
                     body=json.dumps({"name": "t", "scopes": "admin", "tenant": "acme"}))
        token = json.loads(conn.getresponse().read())["token"]
        conn.close()
        for headers, status in (({}, 401), ({"Authorization": "Bearer " + token}, 403)):
            conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=10)
            conn.request("GET", "/api/v1/cluster", headers=headers)
            r = conn.getresponse()
            self.assertEqual(r.status, status)
            self.assertIn("error", json.loads(r.read()))
            conn.close()


class Nats:
    """nats-server with JetStream in a temporary folder, accepting connections."""

    def __init__(self, folder):
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.log = open(os.path.join(folder, "nats.log"), "w")
        self.proc = subprocess.Popen(
            ["nats-server", "-a", "127.0.0.1", "-p", str(self.port), "-js",
             "-sd", os.path.join(folder, "jetstream")], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError("nats-server did not start")
                time.sleep(0.1)

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()


GREETER = """
def handle(event, context):
    return {"greeting": GREETING, "me": context.function_name}
"""


@unittest.skipUnless(shutil.which("etcd") and shutil.which("nats-server"),
                     "etcd or nats-server is not installed")
class SharedFunctions(ClusterCase):
    """A function deployed or removed through one node is deployed or removed on every node:
    the package travels through NATS JetStream, the entry through etcd."""

    def setUp(self):
        super().setUp()
        self.nats = Nats(self.tmp)
        self.addCleanup(self.nats.stop)

    def node(self, node_id, *extra):
        return super().node(node_id, "--nats", self.nats.url, *extra)

    def kumo(self, server, *args):
        env = dict(os.environ, KUMO_URL=server.url, KUMO_API_KEY=server.admin_key)
        r = subprocess.run([KUMO, *args], capture_output=True, text=True, env=env, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout

    def deploy(self, server, greeting):
        d = os.path.join(self.tmp, "src", greeting)
        os.makedirs(d)
        with open(os.path.join(d, "kumo.yaml"), "w") as f:
            f.write("name: greeter\nruntime: python3\nhandler: main.handle\n")
        with open(os.path.join(d, "main.py"), "w") as f:
            f.write(f"GREETING = {greeting!r}\n" + GREETER)
        self.kumo(server, "deploy", d)

    def invoke(self, server):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        conn.request("POST", "/api/v1/functions/greeter/invoke", body="{}",
                     headers=server.auth_headers())
        r = conn.getresponse()
        body = r.read()
        conn.close()
        return r.status, json.loads(body) if body else None

    def test_a_deploy_through_one_node_runs_on_every_node(self):
        a = self.node("node-a")
        b = self.node("node-b")
        self.deploy(a, "hello")
        self.wait_for(lambda: self.invoke(b)[0] == 200, "node-b to have greeter")
        self.assertEqual(self.invoke(b), (200, {"greeting": "hello", "me": "greeter"}))
        # A new version through node-b reaches node-a.
        self.deploy(b, "bonjour")
        self.wait_for(lambda: self.invoke(a)[1] == {"greeting": "bonjour", "me": "greeter"},
                      "node-a to run the new version")
        # A node that joins later gets what is there.
        c = self.node("node-c")
        self.assertEqual(self.invoke(c), (200, {"greeting": "bonjour", "me": "greeter"}))
        # Version numbers are the cluster's: the same on every node.
        for server in (a, b, c):
            described = json.loads(self.kumo(server, "describe", "greeter", "--json"))
            self.assertEqual(described["version"], 2, server.url)
        # A removal through one node removes it everywhere.
        self.kumo(a, "rm", "greeter")
        for server in (b, c):
            self.wait_for(lambda: self.invoke(server)[0] == 404, "greeter to be removed")


class Settings(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="kumo-it-cluster-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def serve(self, *args, config=None):
        cmd = [KUMO, "serve", "--listen", "127.0.0.1:0", "--data", os.path.join(self.tmp, "d")]
        if config is not None:
            path = os.path.join(self.tmp, "kumo.yaml")
            with open(path, "w") as f:
                f.write(config)
            cmd += ["--config", path]
        return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=60)

    def test_bad_cluster_settings_stop_the_server_with_exit_code_2(self):
        for args, config, says in (
                (["--cluster"], None, "needs etcd"),
                (["--cluster", "--etcd", "https://etcd:2379"], None, "etcd endpoint"),
                (["--cluster", "--etcd", "http://127.0.0.1:1", "--nats", "127.0.0.1:4222"], None,
                 "nats://"),
                ([], "cluster: {etcd: [http://127.0.0.1:1], nodes: 3}\n", "unknown"),
                ([], "cluster: [1]\n", "expected a map")):
            r = self.serve(*args, config=config)
            self.assertEqual(r.returncode, 2, (args, config, r.stdout, r.stderr))
            self.assertIn(says, r.stdout + r.stderr)

    def test_a_single_node_server_says_so(self):
        server = Server(os.path.join(self.tmp, "single")).start()
        self.addCleanup(server.stop)
        self.assertEqual(cluster(server), (200, {"mode": "single"}))


if __name__ == "__main__":
    unittest.main()
