"""run_suite.py, the runner ctest starts for each suite: a suite that skips every test exits
with the skip code (ctest shows "Skipped"), one that ran something exits 0 or 1."""
import os
import shutil
import subprocess
import tempfile
import textwrap
import unittest

from run_suite import SKIPPED

HERE = os.path.dirname(os.path.abspath(__file__))

SUITES = {
    "all_skipped_by_decorator": """
        @unittest.skip("no broker here")
        class T(unittest.TestCase):
            def test_a(self): pass
            def test_b(self): pass
    """,
    "all_skipped_in_setup_class": """
        class T(unittest.TestCase):
            @classmethod
            def setUpClass(cls):
                raise unittest.SkipTest("no model here")
            def test_a(self): pass
    """,
    "all_skipped_one_by_one": """
        class T(unittest.TestCase):
            def test_a(self): self.skipTest("no GPU")
            def test_b(self): self.skipTest("no GPU")
    """,
    "some_skipped": """
        class T(unittest.TestCase):
            def test_a(self): pass
            def test_b(self): self.skipTest("no GPU")
    """,
    "one_fails": """
        class T(unittest.TestCase):
            def test_a(self): self.fail("broken")
            def test_b(self): self.skipTest("no GPU")
    """,
    "setup_class_errors": """
        class T(unittest.TestCase):
            @classmethod
            def setUpClass(cls):
                raise RuntimeError("kumo serve did not start")
            def test_a(self): pass
    """,
}


class RunSuite(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="kumo-run-suite-")
        for name, body in SUITES.items():
            with open(os.path.join(cls.tmp, name + ".py"), "w") as f:
                f.write("import unittest\n" + textwrap.dedent(body))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def run_suite(self, name):
        env = dict(os.environ, PYTHONPATH=self.tmp, PYTHONDONTWRITEBYTECODE="1")
        r = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "run_suite.py"), name],
                           capture_output=True, text=True, env=env, timeout=60)
        return r.returncode

    def test_a_suite_that_skips_every_test_reports_skipped(self):
        for name in ("all_skipped_by_decorator", "all_skipped_in_setup_class",
                     "all_skipped_one_by_one"):
            self.assertEqual(self.run_suite(name), SKIPPED, name)

    def test_a_suite_that_ran_a_test_passes_or_fails(self):
        self.assertEqual(self.run_suite("some_skipped"), 0)
        self.assertEqual(self.run_suite("one_fails"), 1)
        self.assertEqual(self.run_suite("setup_class_errors"), 1)
        self.assertEqual(self.run_suite("no_such_suite"), 1)


if __name__ == "__main__":
    unittest.main()
