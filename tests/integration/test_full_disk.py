"""A full data directory: deletes still work through Kumo, so space can be freed (a real full
disk: the data directory is a small tmpfs, filled with a file). Mounting needs root; the suite
is skipped where it is not permitted."""
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import KumoTestCase, Server


def fill(path):
    """Writes `path` until the disk is full."""
    block = b"\0" * 65536
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(block)
        except OSError:
            pass
    with open(path, "ab", buffering=0) as f:  # the last partial blocks
        try:
            while True:
                f.write(b"\0" * 512)
        except OSError:
            pass


class FullDisk(KumoTestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="kumo-it-")
        cls.data = os.path.join(cls.tmp, "data")
        os.makedirs(cls.data)
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", cls.data],
                                 capture_output=True)
        if mounted.returncode != 0:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise unittest.SkipTest("cannot mount a tmpfs here: " + mounted.stderr.decode())
        cls.server = Server(cls.data).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        subprocess.run(["umount", "-l", cls.data], capture_output=True)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_deletes_work_when_the_data_directory_is_full(self):
        self.deploy("doomed", "def handle(e, c):\n    return 1\n")
        self.assertEqual(self.request("PUT", "/api/v1/tables/t").status, 201)
        self.assertEqual(self.request("PUT", "/api/v1/tables/t/items/k", {"a": 1}).status, 201)
        self.assertEqual(self.request("PUT", "/s3/bkt").status, 200)
        self.assertEqual(self.request("PUT", "/s3/bkt/o", body="x" * 1000).status, 200)
        filler = os.path.join(self.data, "filler")
        fill(filler)
        self.addCleanup(lambda: os.path.exists(filler) and os.remove(filler))
        # Writing fails: the disk is really full.
        self.assertGreaterEqual(
            self.request("PUT", "/api/v1/tables/t/items/k2", {"b": "y" * 200000}).status, 500)

        r = self.request("DELETE", "/api/v1/tables/t/items/k")
        self.assertEqual(r.status, 200, r.body)
        r = self.request("DELETE", "/s3/bkt/o")
        self.assertEqual(r.status, 204, r.body)
        r = self.kumo("rm", "doomed", check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

        self.assertEqual(self.request("GET", "/api/v1/tables/t/items/k").status, 404)
        self.assertEqual(self.request("GET", "/s3/bkt/o").status, 404)
        self.assertEqual(self.request("GET", "/api/v1/functions/doomed").status, 404)


if __name__ == "__main__":
    unittest.main()
