"""Hostile clients against a real `kumo serve`: slowloris and idle connections, a server whose
descriptors run out, a connection cap, and a YAML bomb as a function's kumo.yaml and as the
server's config file.

Each check waits for what must happen with a generous deadline; none bets on speed.
"""
import io
import os
import resource
import shutil
import socket
import subprocess
import tarfile
import tempfile
import time
import unittest

from harness import KUMO, KumoTestCase, Server


def connect(port, timeout=30):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.settimeout(timeout)
    return s


def closed_by_server(sock):
    """True once the server closes `sock` (end of stream or reset); False if it stays open
    until the socket's timeout."""
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def healthz(port, timeout=20):
    """The status of GET /healthz on a fresh connection, or None when it cannot be had."""
    try:
        with connect(port, timeout) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            reply = b""
            while True:
                data = s.recv(4096)
                if not data:
                    break
                reply += data
        return int(reply.split(b" ", 2)[1]) if reply.startswith(b"HTTP/1.1 ") else None
    except OSError:
        return None


def cpu_seconds(pid):
    """User plus system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0


class SlowAndIdleClients(KumoTestCase):
    server_args = ("--http-header-timeout", "500ms", "--http-idle-timeout", "1s",
                   "--http-body-timeout", "1s")

    def test_slowloris_idle_and_stalled_connections_are_closed_while_healthz_answers(self):
        port = self.server.port
        slow = [connect(port) for _ in range(50)]
        for s in slow:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # never finished
        idle = [connect(port) for _ in range(50)]
        for s in idle:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 200"))  # then kept alive, idle
        stalled = [connect(port) for _ in range(10)]
        for s in stalled:
            s.sendall(b"POST /api/v1/functions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
                      b"\r\nonly a little")
        self.assertEqual(healthz(port), 200)
        for kind, group in (("slowloris", slow), ("idle", idle), ("stalled body", stalled)):
            for s in group:
                self.assertTrue(closed_by_server(s), f"a {kind} connection was kept open")
                s.close()
        self.assertEqual(healthz(port), 200)
        self.assertIsNone(self.server.proc.poll())


class ConnectionCap(KumoTestCase):
    """The cap from the config file's `http:` section."""

    @classmethod
    def setUpClass(cls):
        fd, cls.config = tempfile.mkstemp(suffix=".yaml")
        with os.fdopen(fd, "w") as f:
            f.write("http:\n  max_connections: 20\n  header_timeout: 1h\n")
        cls.server_args = ("--config", cls.config)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        os.unlink(cls.config)

    def test_the_connection_over_the_cap_gets_503_and_healthz_answers_after(self):
        held = [connect(self.server.port) for _ in range(20)]
        for s in held:  # each one served, so each one is held by the server
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 200"))
        with connect(self.server.port) as over:
            reply = b""
            while b"}}" not in reply:
                data = over.recv(4096)
                if not data:
                    break
                reply += data
        self.assertTrue(reply.startswith(b"HTTP/1.1 503"), reply)
        self.assertIn(b"Retry-After: 1", reply)
        for s in held:
            s.close()
        deadline = time.time() + 20
        while healthz(self.server.port, timeout=5) != 200 and time.time() < deadline:
            time.sleep(0.1)
        self.assertEqual(healthz(self.server.port), 200)


class BadLimits(unittest.TestCase):
    def test_a_limit_out_of_range_stops_the_start_naming_the_flag(self):
        with tempfile.TemporaryDirectory() as tmp:
            r = subprocess.run([KUMO, "serve", "--data", tmp, "--listen", "127.0.0.1:0",
                                "--http-header-timeout", "0s"],
                               capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("--http-header-timeout: must be 1ms..1h", r.stdout + r.stderr)


class DescriptorsRunOut(unittest.TestCase):
    """A server under a low `ulimit -n` with a cap above it, so that accept() itself fails."""

    LIMIT = 256

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="kumo-it-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.server = Server(os.path.join(self.tmp, "data"),
                             ["--max-connections", "100000", "--http-header-timeout", "1h",
                              "--http-idle-timeout", "1h"])
        # The server inherits the lowered limit (`ulimit -n`); this process gets its own back.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.LIMIT, hard))
        try:
            self.server.start()
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        self.addCleanup(self.server.stop)

    def test_accept_backs_off_when_descriptors_run_out_and_recovers(self):
        port, pid = self.server.port, self.server.proc.pid
        clients = []
        self.addCleanup(lambda: [c.close() for c in clients])
        for _ in range(self.LIMIT + 100):  # more than the server can hold
            clients.append(connect(port))
        deadline = time.time() + 30
        while "accept failed" not in self.server.log_text() and time.time() < deadline:
            time.sleep(0.1)
        self.assertIn("Too many open files", self.server.log_text())
        lines_before = self.server.log_text().count("accept failed")
        cpu_before = cpu_seconds(pid)
        time.sleep(2)
        cpu = cpu_seconds(pid) - cpu_before
        lines = self.server.log_text().count("accept failed") - lines_before
        # Spinning on accept() used a whole core and logged every failure.
        self.assertLess(cpu, 0.5, f"{cpu:.2f} s of CPU in 2 s while descriptors ran out")
        self.assertLessEqual(lines, 2, "the accept failure is logged on every retry")
        for c in clients:
            c.close()
        clients.clear()
        deadline = time.time() + 30
        while healthz(port, timeout=5) != 200 and time.time() < deadline:
            time.sleep(0.2)
        self.assertEqual(healthz(port), 200)
        self.assertIsNone(self.server.proc.poll())


def billion_laughs(name):
    """Nine levels of ten aliases: a billion strings once expanded, in about 600 bytes."""
    lines = [f"name: {name}", "runtime: python3", "handler: main.handle", "async:",
             "  l0: &a0 [" + ", ".join(["lol"] * 10) + "]"]
    for i in range(1, 9):
        lines.append(f"  l{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return ("\n".join(lines) + "\n").encode()


class YamlBomb(KumoTestCase):
    def test_a_billion_laughs_kumo_yaml_gets_400_naming_the_limit(self):
        spec = billion_laughs("bomb")
        self.assertLess(len(spec), 700)
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            code = b"def handle(e, c):\n    return 1\n"
            for name, data in [("kumo.yaml", spec), ("main.py", code)]:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        r = self.request("POST", "/api/v1/functions", body=buf.getvalue(),
                         headers={"content-type": "application/gzip"})
        self.assertEqual(r.status, 400, r.body)
        message = r.json()["error"]["message"]
        self.assertIn("once its aliases are expanded", message)
        self.assertIn("the limit is 10000 nodes", message)
        self.assertEqual(self.request("GET", "/healthz").status, 200)
        self.assertLess(rss_mb(self.server.proc.pid), 1024)
        # Through the CLI too, with the server's message.
        d = self.write_function("bomb", "def handle(e, c):\n    return 1\n")
        with open(os.path.join(d, "kumo.yaml"), "wb") as f:
            f.write(spec)
        out = self.kumo("deploy", d, check=False)
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("once its aliases are expanded", out.stderr)

    def test_a_billion_laughs_server_config_stops_the_start_with_a_message(self):
        lines = ["events:", "  l0: &a0 [" + ", ".join(["lol"] * 10) + "]"]
        for i in range(1, 9):
            lines.append(f"  l{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
        config = os.path.join(self.tmp, "bomb-server.yaml")
        with open(config, "w") as f:
            f.write("\n".join(lines) + "\n")
        # Address space capped, so that a server that did expand it fails instead of the machine.
        r = subprocess.run(
            [KUMO, "serve", "--config", config, "--data", os.path.join(self.tmp, "other"),
             "--listen", "127.0.0.1:0"],
            capture_output=True, text=True, timeout=120,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30)))
        self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("once its aliases are expanded", r.stderr)


if __name__ == "__main__":
    unittest.main()
