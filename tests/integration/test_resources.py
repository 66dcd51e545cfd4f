"""An instance's CPU quota (`--cpu-mb-per-vcpu`, the config's `cpu_mb_per_vcpu`) and the
freezing of idle instances, seen from the host's cgroups."""
import glob
import os
import shutil
import tempfile
import unittest

from harness import KumoTestCase

INSTANCE_ID = """
import os
def handle(event, context):
    return os.environ["KUMO_INSTANCE_ID"]
"""


def read(path):
    with open(path) as f:
        return f.read().strip()


def instance_file(instance_id, v1_hierarchy, v1_name, v2_name):
    """The file of an instance's cgroup: v1's own hierarchy, else the v2 tree."""
    found = glob.glob(f"/sys/fs/cgroup/{v1_hierarchy}/kumo/*/{instance_id}/{v1_name}")
    found += glob.glob(f"/sys/fs/cgroup/kumo/*/{instance_id}/{v2_name}")
    return found[0] if found else None


def quota(instance_id):
    """The instance's CPU quota per 20 ms period in µs; None when it has no quota."""
    path = instance_file(instance_id, "cpu", "cpu.cfs_quota_us", "cpu.max")
    if path is None:
        return None
    value = read(path).split()[0]
    return None if value in ("-1", "max") else int(value)


class Resources(KumoTestCase):
    # 128 MB at 885 MB per CPU: 20000 * 128 / 885 µs per 20 ms.
    server_args = ("--cpu-mb-per-vcpu", "885")

    def test_the_flag_sets_an_instances_cpu_share(self):
        if "cpu cgroups unavailable" in self.server.log_text():
            self.skipTest("this server cannot cap an instance's CPU here")
        self.deploy("share", INSTANCE_ID)
        instance_id = self.invoke("share").json()
        self.assertEqual(quota(instance_id), 20000 * 128 // 885)

    def test_an_idle_instance_is_frozen_and_thawed_by_the_next_call(self):
        if "freezer cgroups unavailable" in self.server.log_text():
            self.skipTest("this server cannot freeze instances here")
        self.deploy("sleeper", INSTANCE_ID)
        instance_id = self.invoke("sleeper").json()
        state = instance_file(instance_id, "freezer", "freezer.state", "cgroup.events")
        self.assertIsNotNone(state)
        self.wait_for(lambda: "FROZEN" in read(state) or "frozen 1" in read(state),
                      what="the idle instance to be frozen")
        self.assertEqual(self.invoke("sleeper").json(), instance_id)


class ResourcesFromTheConfigFile(KumoTestCase):
    @classmethod
    def setUpClass(cls):
        cls.config_dir = tempfile.mkdtemp(prefix="kumo-it-resources-")
        config = os.path.join(cls.config_dir, "kumo.yaml")
        with open(config, "w") as f:
            f.write("cpu_mb_per_vcpu: 0\n")
        cls.server_args = ("--config", config)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.config_dir, ignore_errors=True)

    def test_zero_leaves_instances_without_a_cpu_quota(self):
        self.deploy("free", INSTANCE_ID)
        instance_id = self.invoke("free").json()
        if instance_file(instance_id, "memory", "memory.limit_in_bytes", "memory.max") is None:
            self.skipTest("instances run without kumo cgroups here")
        self.assertIsNone(quota(instance_id))


if __name__ == "__main__":
    unittest.main()
