"""What an instance may write: never its own code (read-only), and its /tmp only up to its
`ephemeral_storage`, in a /tmp of its own."""
import os
import time
import unittest
import uuid

from harness import KumoTestCase

# Whether this process was forked from a zygote template (its parent runs in template mode);
# an instance that was not ends shortly after its reply, so that the next call starts a new
# one (forked once the template is ready).
FORKED = """
    def forked():
        try:
            with open("/proc/%d/environ" % os.getppid(), "rb") as f:
                answer = b"KUMO_ZYGOTE=1" in f.read().split(b"\\0")
        except OSError:
            answer = False
        if not answer:
            import threading
            threading.Timer(0.3, os._exit, (0,)).start()
        return answer
"""

# Tries to rewrite its own main.py; answers with the errno it got, or "wrote".
SELF_WRITER = """
    import errno, os
    def handle(event, context):
        path = os.path.join(os.environ["LAMBDA_TASK_ROOT"], "main.py")
        try:
            with open(path, "w") as f:
                f.write("def handle(e, c):\\n    return {'result': 'changed'}\\n")
        except OSError as e:
            return {"result": errno.errorcode[e.errno], "forked": forked()}
        return {"result": "wrote", "forked": forked()}
""" + FORKED

# Writes 1 MiB blocks to /tmp until an error; answers with the error and the MiB written.
TMP_FILLER = """
    import errno, os
    def handle(event, context):
        marker = "/tmp/" + event["marker"]
        open(marker, "w").close()
        written = 0
        block = b"x" * (1 << 20)
        try:
            with open("/tmp/fill", "wb") as f:
                while written < event["limit_mb"] << 20:
                    f.write(block)
                    f.flush()
                    written += len(block)
        except OSError as e:
            return {"error": errno.errorcode[e.errno], "mb": written >> 20, "forked": forked()}
        finally:
            if os.path.exists("/tmp/fill"):
                os.remove("/tmp/fill")
        return {"error": None, "mb": written >> 20, "forked": forked()}
""" + FORKED


class InstanceTestCase(KumoTestCase):
    def mounts(self):
        """Whether the server gives instances mount namespaces. Where they are forbidden (a
        chroot or a container) it says so at start, and instances get a private copy of their
        code and no /tmp cap."""
        return "mount namespaces unavailable" not in self.server.log_text()

    def invoke_as(self, name, zygote, event=None):
        """Invokes until an instance forked from the template answers (zygote) or once (not):
        while the template runs its init, instances start fresh (and end after answering)."""
        deadline = time.time() + 120
        while True:
            r = self.invoke(name, event, timeout=180)
            if r.status == 200 and r.json()["forked"] == zygote:
                return r.json()
            # A call that reached an instance as it ended is retried like the others.
            if r.status != 200:
                self.assertEqual(r.json()["error"]["type"], "function_crashed", r.body)
            self.assertLess(time.time(), deadline, "no instance was forked from the template:\n"
                            + self.server.log_text()[-3000:])
            time.sleep(0.6)  # past the end of the instance that answered


class CodeIsReadOnly(InstanceTestCase):
    def check_cannot_change_its_code(self, name, zygote):
        # With mounts the code is read-only; with a private copy the write lands in the copy,
        # and what must hold is that no later instance runs the changed code ("changed").
        cannot_write = ("EROFS", "EACCES") if self.mounts() else ("EROFS", "EACCES", "wrote")
        spec = f"zygote: {str(zygote).lower()}\n"
        self.deploy(name, SELF_WRITER, spec)
        self.assertIn(self.invoke_as(name, zygote)["result"], cannot_write)
        # Later instances, after a restart and a redeploy, load the stored code: the original.
        self.server.stop()
        self.server.start()
        self.assertIn(self.invoke_as(name, zygote)["result"], cannot_write)
        self.deploy(name, SELF_WRITER, spec)
        self.assertIn(self.invoke_as(name, zygote)["result"], cannot_write)

    def test_a_fresh_interpreter_cannot_write_its_own_code(self):
        self.check_cannot_change_its_code("selfwriter", False)

    def test_an_instance_forked_from_a_template_cannot_write_its_own_code(self):
        self.check_cannot_change_its_code("selfwriter-zygote", True)


class TmpIsCappedAndPrivate(InstanceTestCase):
    def check_tmp(self, name, zygote):
        if not self.mounts():
            self.skipTest("mount namespaces are not permitted here: /tmp is not capped")
        # /tmp is a tmpfs: what it holds counts against the memory limit, hence 1024 MB.
        self.deploy(name, TMP_FILLER, "memory: 1024\nephemeral_storage: 512\ntimeout: 2m\n"
                    f"zygote: {str(zygote).lower()}\n")
        marker = "kumo-marker-" + uuid.uuid4().hex
        r = self.invoke_as(name, zygote, {"marker": marker, "limit_mb": 700})
        self.assertEqual(r["error"], "ENOSPC", r)
        self.assertLessEqual(r["mb"], 512)
        self.assertGreater(r["mb"], 400)
        self.assertFalse(os.path.exists("/tmp/" + marker), "the instance wrote the host's /tmp")

    def test_a_fresh_interpreter_gets_enospc_past_its_ephemeral_storage(self):
        self.check_tmp("filler", False)

    def test_an_instance_forked_from_a_template_gets_enospc_past_its_ephemeral_storage(self):
        self.check_tmp("filler-zygote", True)


if __name__ == "__main__":
    unittest.main()
