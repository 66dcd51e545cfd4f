"""A restart keeps every deployed function and version, and its usage."""
import json
import unittest

from harness import KumoTestCase


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


if __name__ == "__main__":
    unittest.main()
