"""`make run` end to end: scripts/run itself, on a free port (KUMO_LISTEN) and a temporary data
directory (KUMO_DATA), must deploy every example under examples/ and each must answer, so
that `make test` cannot pass while `make run` fails. Then SIGTERM stops it, and a second run
on the same data redeploys nothing new.

examples/textdir needs the model and ONNX Runtime that scripts/fetch-onnxruntime fetches;
without them scripts/run skips it with a warning naming it, and only then may it be missing.
A second run, in a copy of the repository with a broken example, names the function whose
deploy failed and deploys the others.
"""
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

import harness
from harness import KUMO, KumoTestCase, free_port
from test_model import LIBRARY, MODEL, text_input

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SCRIPT = os.path.join(ROOT, "scripts", "run")
BANNER_END = "Ctrl-C stops it."
IMAGE = os.path.join(ROOT, "examples", "detect", "testdata", "one_face.jpg")


def example_functions():
    """{function name: example folder} for each examples/*/kumo.yaml and */*/kumo.yaml."""
    found = {}
    for spec in sorted(glob.glob(os.path.join(ROOT, "examples", "*", "kumo.yaml")) +
                       glob.glob(os.path.join(ROOT, "examples", "*", "*", "kumo.yaml"))):
        with open(spec) as f:
            name = re.search(r"^name:\s*([a-z0-9-]+)", f.read(), re.M).group(1)
        found[name] = os.path.relpath(os.path.dirname(spec), ROOT)
    return found


class ScriptRun:
    """scripts/run KUMO_BIN started from an empty folder, its output collected."""

    def __init__(self, port, data_dir, cwd, script=SCRIPT):
        self.port, self.data_dir, self.cwd, self.script = port, data_dir, cwd, script
        self.output = []
        self.proc = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    admin_key = property(lambda self: harness.read_admin_key(self.data_dir))
    auth_headers = harness.auth_headers

    def start(self, timeout=240):
        env = dict(os.environ, KUMO_LISTEN=f"127.0.0.1:{self.port}", KUMO_DATA=self.data_dir)
        env.pop("KUMO_URL", None)
        self.kill()  # the previous run's, if any
        self.output = []
        self.proc = subprocess.Popen([self.script, KUMO], cwd=self.cwd, env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        ready = threading.Event()

        def pump():
            for line in self.proc.stdout:
                self.output.append(line)
                if BANNER_END in line:
                    ready.set()
            ready.set()  # it exited
        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(timeout) or self.proc.poll() is not None:
            self.kill()
            raise RuntimeError("scripts/run did not print its banner:\n" + self.text())
        return self

    def text(self):
        return "".join(self.output)

    def stop(self, timeout=60):
        """SIGTERM to the script alone, as `kill PID` would send; its exit code."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        if self.proc:
            self.proc.stdout.close()


class MakeRun(KumoTestCase):
    """One scripts/run for the class; the tests run in name order, test_z_... last."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="kumo-it-run-")
        cls.cwd = os.path.join(cls.tmp, "cwd")
        os.makedirs(cls.cwd)
        cls.server = ScriptRun(free_port(), os.path.join(cls.tmp, "data"), cls.cwd).start()
        cls.model_fetched = os.path.exists(MODEL) and os.path.exists(LIBRARY)

    @classmethod
    def tearDownClass(cls):
        cls.server.kill()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def deployed(self):
        r = self.request("GET", "/api/v1/functions")
        self.assertEqual(r.status, 200, r.body)
        return {f["name"]: f for f in r.json()["functions"]}

    def expected(self):
        names = example_functions()
        if not self.model_fetched:
            self.assertIn("run: skipped examples/textdir: it needs", self.server.text())
            names.pop("textdir")
        return names

    def item(self, table, key):
        path = f"/api/v1/tables/{table}/items/{urllib.parse.quote(key, safe='')}"
        r = self.request("GET", path)
        return r.json()["item"] if r.status == 200 else None

    # --- the tests ------------------------------------------------------------------------
    def test_banner_says_what_to_export_for_a_port_that_is_not_the_default(self):
        text = self.server.text()
        self.assertIn(f"Kumo is running at {self.server.url} (data in {self.server.data_dir})",
                      text)
        self.assertIn(f"export KUMO_URL={self.server.url}\n", text)
        self.assertNotIn("Failed to deploy", text)
        self.assertEqual(os.listdir(self.cwd), [], "scripts/run wrote into its working folder")

    def test_every_example_is_deployed(self):
        deployed = self.deployed()
        for name, folder in self.expected().items():
            self.assertIn(name, deployed, f"{folder} is not deployed:\n{self.server.text()}")

    def test_hello_sentiment_and_wordcount_answer(self):
        r = self.invoke("hello", {"name": "Kumo"})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["message"], "Hello, Kumo!")
        r = self.request("GET", "/fn/hello/greet?name=you")
        self.assertEqual(r.body, b"Hello, you! (path /greet)\n")
        r = self.invoke("sentiment", {"text": "what a great and happy day"})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["label"], "positive")
        r = self.request("POST", "/fn/wordcount/", b"the quick brown fox")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["words"], 4)

    def test_chat_answers_from_the_docs(self):
        r = self.request("POST", "/fn/chat/", {"message": "How do I create a table?"},
                         timeout=120)
        self.assertEqual(r.status, 200, r.body)
        self.assertIn(b"event: done", r.body)
        self.assertIn(b"tables.md", r.body)

    def test_watch_logs_a_message_published_to_its_topic(self):
        self.kumo("publish", "greetings", "hello from make run")
        self.wait_for(lambda: b"message on greetings" in
                      self.request("GET", "/api/v1/functions/watch/logs?tail=50").body,
                      timeout=60, what="watch to log the message")

    def test_detect_finds_the_face_and_detections_serves_it(self):
        self.kumo("put", "photos", "images/one_face.jpg", IMAGE)
        self.wait_for(lambda: self.item("detections", "photos/images/one_face.jpg"),
                      timeout=120, what="detect to record the upload")
        r = self.request("GET", "/fn/detections/photos/images/one_face.jpg")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["count"], 1, r.body)

    def test_aggregate_and_summarise_fold_published_readings(self):
        self.kumo("publish", "readings", '{"device": "dev-run", "temp": 21.5}')
        item = self.wait_for(lambda: self.item("readings", "dev-run"), timeout=60,
                             what="aggregate to fold the reading")
        self.assertEqual(item["count"], 1)
        r = self.invoke("summarise", {})
        self.assertEqual(r.status, 200, r.body)
        self.assertGreaterEqual(r.json()["devices"], 1)
        self.assertIsNotNone(self.item("summaries", "latest"))

    def test_textdir_reads_upright_text(self):
        if not self.model_fetched:
            self.skipTest("scripts/fetch-onnxruntime has not fetched the model")
        r = self.request("POST", "/v2/models/textdir/infer", {"inputs": [text_input()]},
                         headers={"content-type": "application/json"}, timeout=120)
        self.assertEqual(r.status, 200, r.body)
        upright, turned = r.json()["outputs"][0]["data"]
        self.assertGreater(upright, turned)

    def test_z_restart_on_the_same_data_redeploys_nothing_new(self):
        # "z": unittest runs tests in name order, and this one stops the class's scripts/run.
        before = self.deployed()
        self.assertEqual(self.server.stop(), 143)  # the shell's code for exit on SIGTERM
        with self.assertRaises(OSError):
            self.request("GET", "/healthz", timeout=5)

        self.server.start()
        self.assertEqual({n: f["version"] for n, f in self.deployed().items()},
                         {n: f["version"] for n, f in before.items()})
        self.assertIn("unchanged hello version", self.server.text())
        self.server.stop()
        with self.assertRaises(OSError):
            self.request("GET", "/healthz", timeout=5)


class MakeRunWithABrokenExample(KumoTestCase):
    """scripts/run in a copy of the repository whose examples are one good function, one
    whose deploy fails, and textdir without the fetched model: it names the one that failed,
    skips textdir with a warning naming it, and deploys the rest."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="kumo-it-run-broken-")
        root = os.path.join(cls.tmp, "repo")
        os.makedirs(os.path.join(root, "scripts"))
        shutil.copy(SCRIPT, os.path.join(root, "scripts", "run"))
        shutil.copytree(os.path.join(ROOT, "examples", "textdir"),
                        os.path.join(root, "examples", "textdir"))
        for name, memory in (("broken", 64), ("fine", 128)):
            folder = os.path.join(root, "examples", name)
            os.makedirs(folder)
            with open(os.path.join(folder, "kumo.yaml"), "w") as f:
                f.write(f"name: {name}\nruntime: python3\nhandler: main.handle\n"
                        f"memory: {memory}\n")
            with open(os.path.join(folder, "main.py"), "w") as f:
                f.write("def handle(event, context):\n    return 'fine'\n")
        cwd = os.path.join(cls.tmp, "cwd")
        os.makedirs(cwd)
        cls.server = ScriptRun(free_port(), os.path.join(cls.tmp, "data"), cwd,
                               script=os.path.join(root, "scripts", "run")).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.kill()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_the_failed_deploy_is_named_and_the_others_go_on(self):
        text = self.server.text()
        self.assertIn("memory: must be 128..10240 MB, got 64", text)
        self.assertIn("run: the deploy of function broken (examples/broken) failed", text)
        self.assertIn("Failed to deploy (see the errors above): broken\n", text)
        self.assertEqual(self.invoke("fine").json(), "fine")

    def test_textdir_without_the_model_is_skipped_with_a_warning_naming_it(self):
        self.assertIn("run: skipped examples/textdir: it needs .deps/models/ocr/cls.onnx",
                      self.server.text())
        self.assertIn("Skipped (see the warnings above): textdir\n", self.server.text())
        self.assertEqual(self.request("GET", "/api/v1/functions/textdir").status, 404)


if __name__ == "__main__":
    unittest.main()
