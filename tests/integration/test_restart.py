"""A restart keeps every deployed function and version, and its usage."""
import json
import os
import subprocess
import unittest

from harness import KUMO, KumoTestCase, free_port, host_pid, sandbox_available


def running(pid):
    """True while `pid` is a live process (a zombie has ended: only its entry is left)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def cgroup_dirs(pid):
    """The folders of the kumo cgroups (memory, pids) that `pid` is in."""
    dirs = []
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, controllers, path = line.strip().split(":", 2)
            if "/kumo" not in path:
                continue
            if controllers == "":
                dirs.append("/sys/fs/cgroup" + path)
            for name in controllers.split(","):
                if name in ("memory", "pids"):
                    dirs.append(f"/sys/fs/cgroup/{name}{path}")
    return dirs


class Restart(KumoTestCase):
    def test_functions_versions_and_usage_survive_a_restart(self):
        self.deploy("keeper", "def handle(e, c):\n    return 'one'\n")
        self.deploy("keeper", "def handle(e, c):\n    return 'two'\n")
        self.assertEqual(self.invoke("keeper").json(), "two")

        self.server.stop()
        self.server.start()

        self.assertEqual(self.invoke("keeper").json(), "two")
        described = self.describe("keeper")
        self.assertEqual(described["version"], 2)
        self.assertEqual(len(described["versions"]), 2)
        usage = json.loads(self.kumo("usage", "--json").stdout)
        keeper = [f for f in usage["functions"] if f["function"] == "keeper"][0]
        self.assertEqual(keeper["invocations"], 2)


class OneServerPerDataDirectory(KumoTestCase):
    def test_a_second_server_is_refused_naming_the_first_and_changes_nothing(self):
        self.deploy("steady", "import os\ndef handle(e, c):\n"
                    "    return [os.environ['KUMO_INSTANCE_ID'], os.getpid()]\n",
                    "zygote: false\n")
        instance_pid = host_pid(*self.invoke("steady").json())
        self.assertIsNotNone(instance_pid)
        instances = os.path.join(self.server.data_dir, "instances")
        before = sorted(os.listdir(instances))

        second = subprocess.Popen(
            [KUMO, "serve", "--listen", f"127.0.0.1:{free_port()}",
             "--data", self.server.data_dir, "--threads", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            output, _ = second.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            second.kill()
            output, _ = second.communicate()
            self.fail("a second server runs on the same data directory:\n" + output)

        self.assertNotEqual(second.returncode, 0)
        self.assertIn(f"pid {self.server.proc.pid}", output)
        self.assertNotIn("listening", output)
        self.assertTrue(running(instance_pid), "the first server's instance was killed")
        self.assertEqual(sorted(os.listdir(instances)), before)
        self.assertEqual(self.invoke("steady").status, 200)


class StaleInstancesAfterAKill(KumoTestCase):
    def test_a_child_that_left_its_session_and_directory_is_stopped_at_restart(self):
        self.deploy("escaper", """
            import os, time
            def handle(e, c):
                pid = os.fork()
                if pid == 0:
                    os.setsid()
                    os.chdir("/")
                    for fd in range(0, 64):
                        try:
                            os.close(fd)
                        except OSError:
                            pass
                    time.sleep(600)
                    os._exit(0)
                return [os.environ["KUMO_INSTANCE_ID"], pid]
            """, "zygote: false\n")
        child = host_pid(*self.invoke("escaper").json())
        self.assertIsNotNone(child)
        self.addCleanup(lambda: running(child) and os.kill(child, 9))
        self.assertTrue(running(child))
        groups = cgroup_dirs(child)
        if not groups:
            self.skipTest("instances run without kumo cgroups here")

        self.server.stop(9)
        if not sandbox_available():
            # In a box it may end sooner: with its instance, pid 1 of its pid namespace.
            self.assertTrue(running(child), "the child should outlive a kill -9 of its server")
        self.server.start()

        self.wait_for(lambda: not running(child), timeout=30, what="the stale child to end")
        self.wait_for(lambda: not any(os.path.exists(d) for d in groups), timeout=30,
                      what=f"the stale cgroups {groups} to be removed")


if __name__ == "__main__":
    unittest.main()
