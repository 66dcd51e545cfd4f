"""Hostile input against a real `kumo serve`: a YAML bomb as a function's kumo.yaml and as the
server's config file.
"""
import io
import os
import resource
import subprocess
import tarfile

from harness import KUMO, KumoTestCase


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0


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
