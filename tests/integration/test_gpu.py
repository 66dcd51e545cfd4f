"""GPUs: an inventory from --gpus, a config file or nvidia-smi (a stand-in script here, so no
GPU is needed), instances pinned with CUDA_VISIBLE_DEVICES, a request that waits for a free
device, and a deploy refused when it asks for more devices than the server has."""
import concurrent.futures
import io
import os
import subprocess
import tarfile
import tempfile
import unittest

from harness import KUMO, KumoTestCase, Server

DEVICES = """
    import os, time
    def handle(event, context):
        start = time.time()
        time.sleep(event.get("s", 0))
        return {"cuda": os.environ.get("CUDA_VISIBLE_DEVICES"),
                "nvidia": os.environ.get("NVIDIA_VISIBLE_DEVICES"),
                "start": start, "end": time.time(), "pid": os.environ["KUMO_INSTANCE_ID"]}
"""


def package(spec):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in [("kumo.yaml", spec.encode()), ("main.py", b"def handle(e, c): {}\n")]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class ConfiguredGpus(KumoTestCase):
    server_args = ("--gpus", "2")

    def test_each_instance_gets_its_own_device_and_a_third_request_waits(self):
        self.deploy("pinned", DEVICES, "gpu: 1\nmax_instances: 3\n")
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            futures = [pool.submit(self.invoke, "pinned", {"s": 1.5}) for _ in range(3)]
            replies = [f.result() for f in futures]
        self.assertEqual([r.status for r in replies], [200, 200, 200],
                         [r.body for r in replies])
        runs = sorted((r.json() for r in replies), key=lambda run: run["start"])
        first, second, third = runs
        self.assertEqual(sorted([first["cuda"], second["cuda"]]), ["0", "1"])
        self.assertTrue(all(run["nvidia"] == run["cuda"] for run in runs), runs)
        self.assertEqual(len({run["pid"] for run in runs}), 2, "a third instance started")
        # The third ran on a device already in use, once that instance's request was done.
        before = first if first["cuda"] == third["cuda"] else second
        self.assertEqual(before["pid"], third["pid"])
        self.assertGreaterEqual(third["start"], before["end"])
        self.assertIn("scale up", self.server.log_text())

    def test_a_function_that_asks_for_no_gpu_sees_none(self):
        self.deploy("cpu-only", DEVICES)
        run = self.invoke("cpu-only").json()
        self.assertEqual(run["cuda"], "")
        self.assertEqual(run["nvidia"], "none")

    def test_more_gpus_than_the_server_has_is_refused_at_deploy(self):
        r = self.request("POST", "/api/v1/functions",
                         package("name: huge\nruntime: python3\nhandler: main.handle\ngpu: 3\n"),
                         headers={"Content-Type": "application/gzip"})
        self.assertEqual(r.status, 400, r.body)
        message = r.json()["error"]["message"]
        self.assertIn("function 'huge': gpu is 3 but this server has 2 GPUs", message)
        self.assertEqual(self.request("GET", "/api/v1/functions/huge").status, 404)

        d = self.write_function("huge-cli", DEVICES, "gpu: 3\n")
        cli = self.kumo("deploy", d, check=False)
        self.assertNotEqual(cli.returncode, 0)
        self.assertIn("gpu is 3 but this server has 2 GPUs", cli.stderr)


class OneGpuTwoFunctions(KumoTestCase):
    server_args = ("--gpus", "1")

    def test_the_second_function_gets_the_device_once_the_first_is_done_with_it(self):
        self.deploy("first", DEVICES, "gpu: 1\nidle_timeout: 10m\n")
        self.deploy("second", DEVICES, "gpu: 1\nidle_timeout: 10m\n")
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            a = pool.submit(self.invoke, "first", {"s": 1.0})
            self.wait_for(lambda: self.describe("first")["instances"]["busy"] == 1,
                          what="first busy")
            b = pool.submit(self.invoke, "second")
            a, b = a.result().json(), b.result()
        self.assertEqual(b.status, 200, b.body)
        b = b.json()
        self.assertEqual((a["cuda"], b["cuda"]), ("0", "0"))
        # Not before the first was done with it, and well before its 10 minutes idle_timeout.
        self.assertGreaterEqual(b["start"], a["end"])
        self.assertEqual(self.describe("first")["instances"]["total"], 0)
        self.assertIn("its GPUs went to a waiting function", self.server.log_text())


class GpusFromTheConfigFile(KumoTestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="kumo-it-")
        config = os.path.join(cls.tmp, "kumo.yaml")
        with open(config, "w") as f:
            f.write("gpus: [1]\n")
        cls.server = Server(os.path.join(cls.tmp, "data"), ("--config", config)).start()

    def test_the_listed_device_is_the_one_used(self):
        self.deploy("one", DEVICES, "gpu: 1\n")
        self.assertEqual(self.invoke("one").json()["cuda"], "1")
        cli = self.kumo("deploy", self.write_function("two", DEVICES, "gpu: 2\n"), check=False)
        self.assertIn("this server has 1 GPU;", cli.stderr)


FAKE_NVIDIA_SMI = """#!/bin/sh
echo "0, GPU-8d3c5a1e-0f6b-11ee-be56-0242ac120002, NVIDIA H100 80GB HBM3, 81559 MiB"
echo "1, GPU-11ab5a1e-0f6b-11ee-be56-0242ac120002, NVIDIA H100 80GB HBM3, 81559 MiB"
"""


class GpusFromNvidiaSmi(KumoTestCase):
    """No --gpus: the server asks nvidia-smi (here a script that answers as one would)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="kumo-it-")
        bin_dir = os.path.join(cls.tmp, "bin")
        os.makedirs(bin_dir)
        smi = os.path.join(bin_dir, "nvidia-smi")
        with open(smi, "w") as f:
            f.write(FAKE_NVIDIA_SMI)
        os.chmod(smi, 0o755)
        cls.saved_path = os.environ["PATH"]
        os.environ["PATH"] = bin_dir + os.pathsep + cls.saved_path
        try:
            cls.server = Server(os.path.join(cls.tmp, "data")).start()
        finally:
            os.environ["PATH"] = cls.saved_path

    def test_detected_devices_are_used(self):
        self.assertIn("gpu 1: NVIDIA H100 80GB HBM3 (81559 MiB", self.server.log_text())
        self.deploy("both", DEVICES, "gpu: 2\n")
        self.assertEqual(self.invoke("both").json()["cuda"], "0,1")


class NoGpus(KumoTestCase):
    server_args = ("--gpus", "none")

    def test_a_gpu_function_is_refused_and_others_run_untouched(self):
        cli = self.kumo("deploy", self.write_function("needs", DEVICES, "gpu: 1\n"), check=False)
        self.assertIn("this server has 0 GPUs", cli.stderr)
        self.deploy("plain", DEVICES)
        self.assertIsNone(self.invoke("plain").json()["cuda"])

    def test_a_bad_gpus_setting_stops_the_server_with_a_clear_error(self):
        r = subprocess.run([KUMO, "serve", "--listen", "127.0.0.1:0", "--gpus", "two",
                            "--data", os.path.join(self.tmp, "bad")],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 2)
        self.assertIn("gpus 'two': expected auto, none, a count", r.stdout + r.stderr)

if __name__ == "__main__":
    unittest.main()
