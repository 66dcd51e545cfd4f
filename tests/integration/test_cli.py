"""What a newcomer meets first at the command line, against a real `kumo serve`: an unchanged
redeploy keeps its version, a folder too large is refused before it is packed, `--version`,
a mistyped command gets the nearest one, and a query parameter that is not a number is a 400
naming it."""
import json
import os
import re
import subprocess
import unittest

from harness import KUMO, KumoTestCase

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
HELLO = "def handle(event, context):\n    return 'hello'\n"


def project_version():
    with open(os.path.join(ROOT, "CMakeLists.txt")) as f:
        return re.search(r"project\(kumo VERSION ([0-9.]+)", f.read()).group(1)


class Cli(KumoTestCase):
    def test_redeploying_an_unchanged_folder_keeps_the_version(self):
        folder = self.write_function("same", HELLO)
        first = json.loads(self.kumo("deploy", folder, "--json").stdout)
        self.assertEqual((first["version"], first["unchanged"]), (1, False))

        again = self.kumo("deploy", folder)
        self.assertTrue(again.stdout.startswith("unchanged same version 1 ("), again.stdout)
        reply = json.loads(self.kumo("deploy", folder, "--json").stdout)
        self.assertEqual((reply["version"], reply["unchanged"]), (1, True))
        self.assertEqual(reply["sha256"], first["sha256"])
        self.assertEqual([v["version"] for v in self.describe("same")["versions"]], [1])

        self.write_function("same", "def handle(event, context):\n    return 'changed'\n")
        changed = json.loads(self.kumo("deploy", folder, "--json").stdout)
        self.assertEqual((changed["version"], changed["unchanged"]), (2, False))
        self.assertEqual(self.invoke("same").json(), "changed")

    def test_a_folder_over_the_package_limit_is_refused_before_packing(self):
        folder = self.write_function("huge", HELLO)
        with open(os.path.join(folder, "weights.bin"), "wb") as f:
            f.truncate(300 << 20)  # sparse: 300 MiB that take no disk
        r = self.kumo("deploy", folder, check=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stderr.count("\n"), 1, r.stderr)
        # The check that runs before packing says so (zeros pack small: without it the
        # package would have been uploaded and deployed).
        self.assertIn("holds 300 MiB of files; a package may be at most 256 MiB", r.stderr)
        self.assertEqual(self.request("GET", "/api/v1/functions/huge").status, 404)

    def test_version_flag_and_command_print_the_project_version(self):
        want = f"kumo {project_version()}\n"
        self.assertEqual(self.kumo("--version").stdout, want)
        self.assertEqual(self.kumo("version").stdout, want)

    def test_a_mistyped_command_names_the_nearest_one(self):
        r = subprocess.run([KUMO, "deplyo", "."], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr,
                         "error: 'deplyo' is not a `kumo` command; did you mean `kumo deploy`?\n")
        r = subprocess.run([KUMO, "srve"], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 2)
        self.assertIn("did you mean `kumo serve`?", r.stderr)

    def test_a_query_parameter_that_is_not_a_number_is_a_400_naming_it(self):
        for bad in ("abc", "12abc", "1e6", "-"):
            r = self.request("GET", f"/api/v1/usage?since_us={bad}")
            self.assertEqual(r.status, 400, (bad, r.body))
            error = r.json()["error"]
            self.assertEqual(error["type"], "invalid_argument")
            self.assertIn("since_us", error["message"])
        self.assertEqual(self.request("GET", "/api/v1/usage?since_us=0").status, 200)
        self.assertEqual(self.request("GET", "/api/v1/usage").status, 200)

        self.deploy("logged", HELLO)
        r = self.request("GET", "/api/v1/functions/logged/logs?tail=ten")
        self.assertEqual(r.status, 400, r.body)
        self.assertIn("tail", r.json()["error"]["message"])


if __name__ == "__main__":
    unittest.main()


class LocalKey(KumoTestCase):
    """The CLI finds a local server's admin key by itself, from any folder, and never sends
    it to a server elsewhere."""

    def run_cli(self, *args, env_extra=None, cwd=None):
        env = dict(os.environ, KUMO_URL=self.server.url)
        env.pop("KUMO_API_KEY", None)
        env.pop("KUMO_DATA", None)
        env.update(env_extra or {})
        return subprocess.run([KUMO, *args], capture_output=True, text=True, env=env,
                              cwd=cwd or self.tmp, timeout=60)

    def test_the_cli_finds_the_admin_key_of_the_server_on_that_port(self):
        r = self.run_cli("ls")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("no functions deployed", r.stdout)

    def test_without_a_key_the_server_answers_401_and_the_cli_says_what_to_set(self):
        home = os.path.join(self.tmp, "elsewhere")
        os.makedirs(home, exist_ok=True)
        r = self.run_cli("ls", env_extra={"HOME": home, "XDG_RUNTIME_DIR": ""})
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("KUMO_API_KEY", r.stderr)
        self.assertEqual(self.request("GET", "/api/v1/functions", key="").status, 401)

    def test_kumo_data_names_the_folder_whose_key_to_use(self):
        home = os.path.join(self.tmp, "elsewhere")
        os.makedirs(home, exist_ok=True)
        r = self.run_cli("ls", env_extra={"HOME": home, "XDG_RUNTIME_DIR": "",
                                          "KUMO_DATA": self.server.data_dir})
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_the_admin_key_file_is_for_the_servers_user_alone(self):
        mode = os.stat(os.path.join(self.server.data_dir, "admin.key")).st_mode & 0o777
        self.assertEqual(mode, 0o600)
