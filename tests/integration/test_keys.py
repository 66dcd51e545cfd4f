"""API keys against a real server: 401 and 403 with the JSON error body, what each scope allows
and refuses, `kumo keys create/ls/revoke`, a tenant's admin, `--auth none`, the admin.key file
and `kumo audit`."""
import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
import time
import unittest

from harness import KUMO, KumoTestCase, Server, sandbox_available

HELLO = """
    def handle(event, context):
        print("hello called")
        return {"hello": context.function_name}
"""

TOKEN = re.compile(r"kumo_kk_[a-z0-9]{16}_[A-Za-z0-9]{43}")


def key_id(token):
    """The public id part of a token: kumo_<id>_<secret>."""
    return token[len("kumo_"):len("kumo_") + 19]


class Refusals(KumoTestCase):
    def assert_refused(self, r, status, message_part):
        self.assertEqual(r.status, status, r.body)
        error = r.json()["error"]
        self.assertIn(message_part, error["message"])
        if status == 401:
            self.assertIn("Bearer", r.header("WWW-Authenticate"))

    def test_no_key_a_wrong_or_malformed_key_get_401_with_the_json_error_body(self):
        self.assert_refused(self.request("GET", "/api/v1/functions", key=""), 401, "API key")
        wrong = "kumo_kk_0000000000000000_" + "a" * 43
        self.assert_refused(self.request("GET", "/api/v1/functions", key=wrong), 401,
                            "unknown key")
        self.assert_refused(self.request("GET", "/api/v1/functions", key="nonsense"), 401,
                            "malformed key")
        r = self.request("GET", "/api/v1/functions",
                         headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
        self.assert_refused(r, 401, "Bearer")

    def test_a_revoked_key_gets_401_at_once(self):
        token = self.make_key("read")
        self.assertEqual(self.request("GET", "/api/v1/functions", key=token).status, 200)
        r = self.request("DELETE", f"/api/v1/keys/{key_id(token)}")
        self.assertEqual(r.status, 200, r.body)
        self.assertIsNotNone(r.json()["revoked_us"])
        self.assert_refused(self.request("GET", "/api/v1/functions", key=token), 401,
                            "revoked key")

    def test_an_expired_key_gets_401(self):
        token = self.make_key("read", expires_in_s=1)
        self.wait_for(lambda: self.request("GET", "/api/v1/functions", key=token).status == 401,
                      timeout=30, what="the key to expire")
        self.assert_refused(self.request("GET", "/api/v1/functions", key=token), 401,
                            "expired key")

    def test_a_key_without_the_scope_gets_403_naming_what_was_refused(self):
        token = self.make_key("invoke:function/hello")
        r = self.request("DELETE", "/api/v1/functions/hello", key=token)
        self.assert_refused(r, 403, f"key {key_id(token)} may not deploy function 'hello'")
        self.assertEqual(r.json()["error"]["type"], "permission_denied")

    def test_hostile_key_requests_get_a_400(self):
        for body in ('{"name": "x"}', '{"name": "x", "scopes": "fly"}', "[" * 10_000, "not json",
                     '{"name": "x", "scopes": "read", "expires_at": 5}',
                     '{"name": "x", "scopes": "read", "expires_in_s": -5}',
                     '{"name": "' + "n" * 100 + '", "scopes": "read"}',
                     '{"name": "x", "scopes": [1, 2]}',
                     json.dumps({"name": "x",
                                 "scopes": ",".join(f"read:function/f{i}" for i in range(100))})):
            r = self.request("POST", "/api/v1/keys", body)
            self.assertEqual(r.status, 400, f"{body[:60]}: {r.body[:200]}")
            self.assertIn("message", r.json()["error"])
        r = self.request("POST", "/api/v1/keys", '{"name": "' + "x" * 20_000 + '"}')
        self.assertEqual(r.status, 413)


class Scopes(KumoTestCase):
    """One server with functions hello and other, tables orders and stock, and keys of each
    scope; each test shows what one scope allows and what it refuses."""
    ready = False

    def setUp(self):
        if not Scopes.ready:
            self.deploy("hello", HELLO)
            self.deploy("other", HELLO)
            for table in ("orders", "stock"):
                self.assertIn(self.request("PUT", f"/api/v1/tables/{table}").status, (200, 201))
            self.invoke("hello")
            Scopes.ready = True

    # What a key may do, each a (method, path, body) the admin key is allowed.
    def calls(self):
        return {
            "list functions": ("GET", "/api/v1/functions", None),
            "describe hello": ("GET", "/api/v1/functions/hello", None),
            "describe other": ("GET", "/api/v1/functions/other", None),
            "logs hello": ("GET", "/api/v1/functions/hello/logs", None),
            "logs other": ("GET", "/api/v1/functions/other/logs", None),
            "invoke hello": ("POST", "/api/v1/functions/hello/invoke", {}),
            "invoke other": ("POST", "/api/v1/functions/other/invoke", {}),
            "put orders": ("PUT", "/api/v1/tables/orders/items/a", {"n": 1}),
            "put stock": ("PUT", "/api/v1/tables/stock/items/a", {"n": 1}),
            "read orders": ("GET", "/api/v1/tables/orders/items", None),
            "read stock": ("GET", "/api/v1/tables/stock/items", None),
            "publish news": ("POST", "/api/v1/topics/news", {"m": 1}),
            "publish alerts": ("POST", "/api/v1/topics/alerts", {"m": 1}),
            "list keys": ("GET", "/api/v1/keys", None),
            "read audit": ("GET", "/api/v1/audit", None),
            "usage": ("GET", "/api/v1/usage", None),
        }

    def check_scope(self, scopes, allowed):
        """Every call in `allowed` succeeds with a key of `scopes`, every other gets a 403
        whose message names the key."""
        token = self.make_key(scopes)
        for what, (method, path, body) in self.calls().items():
            r = self.request(method, path, body, key=token)
            if what in allowed:
                self.assertLess(r.status, 300, f"{scopes}: {what} was refused: {r.body[:300]}")
            else:
                self.assertEqual(r.status, 403, f"{scopes}: {what} was allowed: {r.body[:300]}")
                self.assertIn(f"key {key_id(token)} may not", r.json()["error"]["message"])
        self.assertEqual(set(allowed) - set(self.calls()), set(), "a misspelled call")

    def test_admin_allows_everything(self):
        self.check_scope("admin", set(self.calls()))

    def test_read_allows_reading_and_nothing_else(self):
        self.check_scope("read", {"list functions", "describe hello", "describe other",
                                  "logs hello", "logs other", "read orders", "read stock",
                                  "usage"})

    def test_invoke_allows_invoking_only(self):
        self.check_scope("invoke", {"invoke hello", "invoke other"})

    def test_invoke_of_one_function_allows_that_one_only(self):
        self.check_scope("invoke:function/hello", {"invoke hello"})

    def test_read_of_one_function_allows_its_description_and_logs_only(self):
        self.check_scope("read:function/hello", {"describe hello", "logs hello"})

    def test_write_allows_tables_and_reading_them(self):
        self.check_scope("write", {"put orders", "put stock", "read orders", "read stock"})

    def test_write_of_one_table_allows_that_table_only(self):
        self.check_scope("write:table/orders", {"put orders", "read orders"})

    def test_publish_allows_publishing_only(self):
        self.check_scope("publish", {"publish news", "publish alerts"})

    def test_publish_to_one_topic_allows_that_topic_only(self):
        self.check_scope("publish:topic/news", {"publish news"})

    def test_deploy_allows_functions_but_not_tables_topics_or_keys(self):
        self.check_scope("deploy", {"list functions", "describe hello", "describe other",
                                    "logs hello", "logs other", "invoke hello", "invoke other",
                                    "usage"})
        token = self.make_key("deploy")
        self.assertIn("deployed fresh", self.kumo("deploy", self.write_function("fresh", HELLO),
                                                  key=token).stdout)
        self.kumo("rm", "fresh", key=token)

    def test_deploy_of_one_function_deploys_that_name_only(self):
        token = self.make_key("deploy:function/mine")
        self.kumo("deploy", self.write_function("mine", HELLO), key=token)
        r = self.kumo("deploy", self.write_function("sneaky", HELLO), key=token, check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("may not deploy function 'sneaky'", r.stderr)
        r = self.kumo("rm", "hello", key=token, check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("may not deploy function 'hello'", r.stderr)
        self.kumo("rm", "mine", key=token)


class KeysCli(KumoTestCase):
    def test_create_use_list_and_revoke_a_key_from_the_cli(self):
        out = self.kumo("keys", "create", "ci", "--scopes", "invoke:function/hello,read").stdout
        token = TOKEN.search(out).group(0)
        self.assertIn(f"export KUMO_API_KEY={token}", out)
        self.assertEqual(self.request("GET", "/api/v1/functions", key=token).status, 200)

        listing = self.kumo("keys", "ls").stdout
        row = [l for l in listing.splitlines() if l.startswith(key_id(token))][0]
        self.assertIn("invoke:function/hello,read", row)
        self.assertIn("(operator)", row)
        listed = json.loads(self.kumo("keys", "ls", "--json").stdout)["keys"]
        self.assertIn(key_id(token), {k["id"] for k in listed})
        text = json.dumps(listed)
        self.assertNotIn(token.split("_")[-1], text, "a secret in the listing")
        self.assertFalse(any("hash" in f or "salt" in f or "token" in f
                             for k in listed for f in k), listed)

        out = self.kumo("keys", "revoke", key_id(token)).stdout
        self.assertIn(f"revoked key {key_id(token)}", out)
        r = self.request("GET", "/api/v1/functions", key=token)
        self.assertEqual(r.status, 401)
        self.assertIn("revoked key", r.json()["error"]["message"])
        row = [l for l in self.kumo("keys", "ls").stdout.splitlines()
               if l.startswith(key_id(token))][0]
        self.assertFalse(row.rstrip().endswith("-"), row)

    def test_a_key_made_with_expires_expires_then(self):
        out = self.kumo("keys", "create", "short", "--scopes", "read", "--expires", "30d",
                        "--json").stdout
        made = json.loads(out)
        days = (made["expires_us"] - made["created_us"]) / 86_400e6
        self.assertAlmostEqual(days, 30, delta=0.01)
        r = self.kumo("keys", "create", "x", "--scopes", "read", "--expires", "someday",
                      check=False)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--expires", r.stderr)

    def test_a_bad_scope_is_refused_naming_it(self):
        r = self.kumo("keys", "create", "x", "--scopes", "read,fly:function/x", check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("fly", r.stderr)

    def test_keys_need_the_admin_grant(self):
        token = self.make_key("deploy")
        r = self.kumo("keys", "ls", key=token, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("may not administer", r.stderr)
        r = self.kumo("keys", "create", "x", "--scopes", "admin", key=token, check=False)
        self.assertEqual(r.returncode, 1)

    def test_an_unknown_key_id_is_not_found(self):
        r = self.kumo("keys", "revoke", "kk_0000000000000000", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no key 'kk_0000000000000000'", r.stderr)

    def test_the_operators_last_admin_key_cannot_be_revoked(self):
        admin = key_id(self.server.admin_key)
        for k in self.request("GET", "/api/v1/keys").json()["keys"]:
            if k["tenant"] == "" and "admin" in k["scopes"] and k["id"] != admin and \
                    k["revoked_us"] is None:
                self.assertEqual(self.request("DELETE", f"/api/v1/keys/{k['id']}").status, 200)
        r = self.request("DELETE", f"/api/v1/keys/{admin}")
        self.assertEqual(r.status, 409, r.body)
        self.assertIn("last admin key", r.json()["error"]["message"])
        self.assertEqual(self.request("GET", "/api/v1/keys").status, 200)


class TenantAdmins(KumoTestCase):
    def test_a_tenants_admin_manages_its_own_tenants_keys_only(self):
        self.server.add_tenant("acme")
        acme = self.make_key("admin", tenant="acme")
        made = self.request("POST", "/api/v1/keys", {"name": "acme ci", "scopes": "deploy"},
                            key=acme)
        self.assertEqual(made.status, 201, made.body)
        self.assertEqual(made.json()["tenant"], "acme")
        for tenant, whose in (("", "the operator"), ("zeta", "tenant 'zeta'")):
            r = self.request("POST", "/api/v1/keys",
                             {"name": "x", "scopes": "admin", "tenant": tenant}, key=acme)
            self.assertEqual(r.status, 403, r.body)
            self.assertIn(f"may not manage keys of {whose}", r.json()["error"]["message"])

        listed = self.request("GET", "/api/v1/keys", key=acme).json()["keys"]
        self.assertEqual({k["tenant"] for k in listed}, {"acme"})
        operator_key = key_id(self.server.admin_key)
        self.assertEqual(self.request("GET", f"/api/v1/keys/{operator_key}", key=acme).status,
                         404)
        self.assertEqual(self.request("DELETE", f"/api/v1/keys/{operator_key}", key=acme).status,
                         404)
        everyone = self.request("GET", "/api/v1/keys").json()["keys"]
        self.assertEqual({k["tenant"] for k in everyone}, {"", "acme"})

    def test_a_tenants_admin_cannot_make_an_operator_key_from_the_cli(self):
        self.server.add_tenant("acme")
        acme = self.make_key("admin", tenant="acme")
        r = self.kumo("keys", "create", "x", "--scopes", "admin", "--tenant", "", key=acme,
                      check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("may not manage keys of the operator", r.stderr)


class Audit(KumoTestCase):
    def audit(self, *args, key=None):
        return json.loads(self.kumo("audit", "--json", *args, key=key).stdout)["records"]

    def test_deploys_removals_and_key_changes_are_recorded_with_who_and_from_where(self):
        admin = key_id(self.server.admin_key)
        self.deploy("aud", HELLO)
        reader = self.make_key("read")
        self.assertEqual(self.request("DELETE", "/api/v1/functions/aud", key=reader).status, 403)
        self.assertEqual(self.request("DELETE", "/api/v1/functions/aud", key="").status, 401)
        self.kumo("rm", "aud")
        self.kumo("keys", "revoke", key_id(reader))

        records = self.audit()
        def find(action, target, status):
            hits = [r for r in records if (r["action"], r["target"], r["status"]) ==
                    (action, target, status)]
            self.assertTrue(hits, f"no {action} {target} {status} in {records}")
            return hits[-1]
        for action, target, status, who in (
                ("function.deploy", "aud", 201, admin),
                ("key.create", key_id(reader), 201, admin),
                ("function.remove", "aud", 403, key_id(reader)),
                ("function.remove", "aud", 401, "anonymous"),
                ("function.remove", "aud", 200, admin),
                ("key.revoke", key_id(reader), 200, admin)):
            r = find(action, target, status)
            self.assertEqual(r["key_id"], who, r)
            self.assertEqual(r["remote"], "127.0.0.1", r)
            self.assertEqual(r["tenant"], "", r)
        self.assertIn("may not deploy function 'aud'",
                      find("function.remove", "aud", 403)["detail"])

        table = self.kumo("audit").stdout
        self.assertRegex(table, r"function\.deploy\s+aud\s+127\.0\.0\.1\s+201")
        self.assertIn(admin, table)
        self.assertIn("key.revoke", table)
        self.assertEqual(self.audit("--since", "2000-01-01"), records)
        r = self.kumo("audit", "--since", "whenever", check=False)
        self.assertEqual(r.returncode, 2, r.stderr)

    def test_table_and_bucket_changes_are_recorded(self):
        self.assertEqual(self.request("PUT", "/api/v1/tables/ledger").status, 201)
        self.assertEqual(self.request("DELETE", "/api/v1/tables/ledger").status, 200)
        self.kumo("mb", "receipts")
        self.assertEqual(self.request("DELETE", "/s3/receipts").status, 204)
        seen = {(r["action"], r["target"], r["status"]) for r in self.audit()}
        for expected in (("table.create", "ledger", 201), ("table.delete", "ledger", 200),
                         ("bucket.create", "receipts", 200), ("bucket.delete", "receipts", 204)):
            self.assertIn(expected, seen)

    def test_the_audit_log_needs_admin_and_a_tenant_sees_its_own_records(self):
        deployer = self.make_key("deploy")
        r = self.kumo("audit", key=deployer, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("may not administer", r.stderr)
        self.server.add_tenant("acme")
        acme = self.make_key("admin", tenant="acme")
        self.make_key("read", key=acme)
        acme_records = self.audit(key=acme)
        self.assertTrue(acme_records)
        self.assertEqual({r["tenant"] for r in acme_records}, {"acme"})
        self.assertIn("", {r["tenant"] for r in self.audit()})

    def test_a_bad_limit_is_a_400(self):
        for query in ("limit=0", "limit=5000", "limit=x", "since_us=-1"):
            r = self.request("GET", f"/api/v1/audit?{query}")
            self.assertEqual(r.status, 400, query)


class AdminKeyFile(KumoTestCase):
    def run_cli(self, *args, env_extra=None, cwd=None):
        env = dict(os.environ, KUMO_URL=self.server.url)
        for name in ("KUMO_API_KEY", "KUMO_DATA"):
            env.pop(name, None)
        env.update(env_extra or {})
        return subprocess.run([KUMO, *args], capture_output=True, text=True, env=env,
                              cwd=cwd or self.tmp, timeout=60)

    def test_admin_key_is_private_and_the_cli_finds_it_through_kumo_data(self):
        path = os.path.join(self.server.data_dir, "admin.key")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.assertIn("admin.key", self.server.log_text())
        self.assertTrue(TOKEN.fullmatch(self.server.admin_key))
        r = self.run_cli("keys", "ls", env_extra={"KUMO_DATA": self.server.data_dir})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(key_id(self.server.admin_key), r.stdout)
        # Without KUMO_DATA and where no running server's runtime file is found, the CLI
        # says which variable to set.
        elsewhere = os.path.join(self.tmp, "elsewhere")
        os.mkdir(elsewhere)
        r = self.run_cli("ls", env_extra={"XDG_RUNTIME_DIR": elsewhere, "HOME": elsewhere})
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("KUMO_API_KEY", r.stderr)


class AuthNone(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="kumo-it-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def test_auth_none_beyond_loopback_exits_2_saying_why(self):
        args = [KUMO, "serve", "--auth", "none", "--listen", "0.0.0.0:0",
                "--data", os.path.join(self.tmp, "data")]
        if not sandbox_available():
            args.append("--insecure-no-sandbox")
        r = subprocess.run(args, capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("--auth none is for a server on loopback only", r.stdout + r.stderr)

    def test_auth_none_on_loopback_warns_and_takes_calls_without_a_key(self):
        server = Server(os.path.join(self.tmp, "data"), ["--auth", "none"]).start()
        self.addCleanup(server.stop)
        self.assertIn("authentication is off", server.log_text())
        self.assertFalse(os.path.exists(os.path.join(server.data_dir, "admin.key")))
        env = dict(os.environ, KUMO_URL=server.url)
        env.pop("KUMO_API_KEY", None)
        r = subprocess.run([KUMO, "ls"], capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = subprocess.run([KUMO, "keys", "ls"], capture_output=True, text=True, env=env,
                           timeout=60)
        self.assertEqual(r.returncode, 1)
        self.assertIn("--auth none", r.stderr)
        r = subprocess.run([KUMO, "table", "create", "t"], capture_output=True, text=True,
                           env=env, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = subprocess.run([KUMO, "audit", "--json"], capture_output=True, text=True, env=env,
                           timeout=60)
        record = json.loads(r.stdout)["records"][-1]
        self.assertEqual((record["action"], record["key_id"]), ("table.create", "anonymous"))


if __name__ == "__main__":
    unittest.main()
