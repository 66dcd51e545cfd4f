"""Tenants against a real `kumo serve`: the operator makes tenants, each tenant's keys see and
touch only that tenant's functions, tables, topics, logs, invocations and usage (names are
per tenant, so two tenants deploy a function of the same name), triggers fire only for their
own tenant's table and topic, and the operator sees everything by its full name."""
import json
import os
import tarfile
import tempfile
import textwrap
import unittest

from harness import KumoTestCase, Server

# Prints the event it got, and who it thinks it is, as one JSON line of its log.
PRINTER = """
    import json
    def handle(event, context):
        print("EVENT " + json.dumps({"event": event, "me": context.function_name}))
        return {"tenant": TENANT, "me": context.function_name}
"""

TENANT_SCOPES = "deploy, read, write, publish, invoke"


def printer(tenant):
    return f"TENANT = {tenant!r}\n" + textwrap.dedent(PRINTER)


class Tenants(KumoTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.keys = {}

    def setUp(self):
        for tenant in ("acme", "globex"):
            if tenant not in self.keys:
                r = self.request("POST", "/api/v1/tenants", {"name": tenant})
                self.assertIn(r.status, (201, 409), r.body)
                self.keys[tenant] = self.make_key(TENANT_SCOPES, tenant=tenant)
        self.acme, self.globex = self.keys["acme"], self.keys["globex"]

    def deploy_as(self, key, name, code, spec_extra=""):
        return self.kumo("deploy", self.write_function(name, code, spec_extra), key=key)

    def names(self, key):
        r = self.request("GET", "/api/v1/functions", key=key)
        self.assertEqual(r.status, 200, r.body)
        return sorted(f["name"] for f in r.json()["functions"])

    def events_in_log(self, name, key):
        out = self.kumo("logs", name, key=key).stdout
        return [json.loads(line.split("EVENT ", 1)[1]) for line in out.splitlines()
                if "EVENT " in line]

    def test_the_operator_manages_tenants_and_a_tenant_cannot(self):
        listed = self.request("GET", "/api/v1/tenants").json()["tenants"]
        self.assertTrue({"default", "acme", "globex"} <= {t["name"] for t in listed})
        self.assertIn("acme", self.kumo("tenants", "ls").stdout)
        self.assertEqual(self.request("POST", "/api/v1/tenants", {"name": "acme"}).status, 409)
        for bad in ("Acme", "a~b", "", "-x", "x" * 64):
            r = self.request("POST", "/api/v1/tenants", {"name": bad})
            self.assertEqual(r.status, 400, bad)
            self.assertIn("error", r.json())
        self.assertEqual(self.request("POST", "/api/v1/tenants", "[1]").status, 400)
        self.assertEqual(self.request("DELETE", "/api/v1/tenants/default").status, 400)
        self.assertEqual(self.request("DELETE", "/api/v1/tenants/nobody").status, 404)
        r = self.request("POST", "/api/v1/keys", {"name": "typo", "scopes": "read",
                                                  "tenant": "acmee"})
        self.assertEqual(r.status, 404, r.body)
        self.assertIn("kumo tenants create acmee", r.json()["error"]["message"])
        tenant_admin = self.make_key("admin", tenant="acme")
        for method, path, body in (("GET", "/api/v1/tenants", None),
                                   ("POST", "/api/v1/tenants", {"name": "mine"}),
                                   ("DELETE", "/api/v1/tenants/globex", None)):
            for key in (self.acme, tenant_admin):
                r = self.request(method, path, body, key=key)
                self.assertEqual(r.status, 403, (method, path, r.body))
                self.assertIn("error", r.json())

    def test_two_tenants_deploy_the_same_name_and_each_runs_its_own(self):
        self.deploy_as(self.acme, "hello", printer("acme"))
        self.deploy_as(self.globex, "hello", printer("globex"))
        for tenant, key in (("acme", self.acme), ("globex", self.globex)):
            r = self.request("POST", "/api/v1/functions/hello/invoke", {}, key=key)
            self.assertEqual(r.status, 200, r.body)
            # A function knows itself by its plain name.
            self.assertEqual(r.json(), {"tenant": tenant, "me": "hello"})
            self.assertIn("hello", self.names(key))
            self.assertNotIn("acme~hello", self.names(key))
            described = json.loads(self.kumo("describe", "hello", "--json", key=key).stdout)
            self.assertEqual(described["name"], "hello")
            self.assertEqual(described["spec"]["name"], "hello")
        everything = self.names(None)
        self.assertIn("acme~hello", everything)
        self.assertIn("globex~hello", everything)
        self.assertNotIn("hello", everything)
        # The operator reaches either by its full name.
        r = self.request("POST", "/api/v1/functions/acme~hello/invoke", {})
        self.assertEqual(r.json()["tenant"], "acme")
        # Metrics label each by its full name, for the operator only.
        metrics = self.request("GET", "/metrics").body.decode()
        self.assertIn('function="acme~hello"', metrics)
        self.assertIn('function="globex~hello"', metrics)
        self.assertEqual(self.request("GET", "/metrics", key=self.acme).status, 403)

    def test_another_tenants_function_is_not_found_and_its_full_name_is_refused(self):
        self.deploy_as(self.acme, "secret", printer("acme"))
        self.assertEqual(self.request("POST", "/api/v1/functions/secret/invoke", {},
                                      key=self.acme).status, 200)
        self.assertNotIn("secret", self.names(self.globex))
        for method, path in (("GET", "/api/v1/functions/secret"),
                             ("GET", "/api/v1/functions/secret/logs"),
                             ("POST", "/api/v1/functions/secret/invoke"),
                             ("DELETE", "/api/v1/functions/secret")):
            r = self.request(method, path, {} if method == "POST" else None, key=self.globex)
            self.assertEqual(r.status, 404, (method, path, r.body))
            self.assertNotIn(b"acme", r.body)
            full = self.request(method, path.replace("secret", "acme~secret"),
                                {} if method == "POST" else None, key=self.globex)
            self.assertEqual(full.status, 403, (method, path, full.body))
        # An async invocation's record is the invoking tenant's alone.
        r = self.request("POST", "/api/v1/functions/secret/invoke", {"n": 1},
                         headers={"X-Kumo-Invocation-Type": "async"}, key=self.acme)
        request_id = r.json()["request_id"]
        self.wait_for(lambda: self.request("GET", f"/api/v1/invocations/{request_id}",
                                           key=self.acme).json().get("state") == "succeeded",
                      what="the async invocation to succeed")
        mine = self.request("GET", f"/api/v1/invocations/{request_id}", key=self.acme).json()
        self.assertEqual(mine["function"], "secret")
        theirs = self.request("GET", f"/api/v1/invocations/{request_id}", key=self.globex)
        self.assertEqual(theirs.status, 404)
        self.assertEqual(self.kumo("invoke", "secret", key=self.globex, check=False).returncode, 1)

    def test_a_spec_cannot_name_another_tenants_things(self):
        r = self.kumo("deploy", self.write_function("sneaky", PRINTER,
                                                    "triggers:\n  - queue: {topic: globex~jobs}\n"),
                      key=self.acme, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("globex~jobs", r.stderr)
        self.assertNotIn("sneaky", self.names(self.acme))

    def test_tables_are_per_tenant(self):
        for tenant, key in (("acme", self.acme), ("globex", self.globex)):
            self.assertIn(self.request("PUT", "/api/v1/tables/ledger", key=key).status, (200, 201))
            r = self.request("PUT", "/api/v1/tables/ledger/items/k1", {"owner": tenant}, key=key)
            self.assertEqual(r.status, 201, r.body)
            self.assertEqual(r.json()["table"], "ledger")
        for tenant, key in (("acme", self.acme), ("globex", self.globex)):
            r = self.request("GET", "/api/v1/tables/ledger/items/k1", key=key)
            self.assertEqual(r.json()["item"], {"owner": tenant})
            self.assertEqual(r.json()["table"], "ledger")
            tables = [t["name"] for t in self.request("GET", "/api/v1/tables", key=key)
                      .json()["tables"]]
            self.assertIn("ledger", tables)
            self.assertFalse([t for t in tables if "~" in t], tables)
        # A table only acme has is missing to globex.
        self.request("PUT", "/api/v1/tables/acme-only", key=self.acme)
        self.request("PUT", "/api/v1/tables/acme-only/items/k", {"x": 1}, key=self.acme)
        self.assertEqual(self.request("GET", "/api/v1/tables/acme-only/items/k",
                                      key=self.globex).status, 404)
        self.assertNotIn("acme-only", [t["name"] for t in self.request(
            "GET", "/api/v1/tables", key=self.globex).json()["tables"]])
        everything = [t["name"] for t in self.request("GET", "/api/v1/tables").json()["tables"]]
        self.assertTrue({"acme~ledger", "globex~ledger", "acme~acme-only"} <= set(everything))
        self.assertEqual(self.request("GET", "/api/v1/tables/acme~ledger/items/k1").json()["item"],
                         {"owner": "acme"})

    def test_triggers_fire_only_for_their_own_tenants_table_and_topic(self):
        self.request("PUT", "/api/v1/tables/orders", key=self.acme)
        self.request("PUT", "/api/v1/tables/orders", key=self.globex)
        self.deploy_as(self.acme, "watch", printer("acme"),
                       "triggers:\n  - table: {name: orders}\n  - queue: {topic: jobs}\n")
        # globex writes a table and a topic of the same names: acme's trigger stays quiet.
        self.request("PUT", "/api/v1/tables/orders/items/g1", {"by": "globex"}, key=self.globex)
        self.assertEqual(self.request("POST", "/api/v1/topics/jobs", "from globex",
                                      key=self.globex).status, 202)
        self.request("PUT", "/api/v1/tables/orders/items/a1", {"by": "acme"}, key=self.acme)
        self.assertEqual(self.request("POST", "/api/v1/topics/jobs", "from acme",
                                     key=self.acme).status, 202)
        events = self.wait_for(lambda: len(self.events_in_log("watch", self.acme)) >= 2 and
                               self.events_in_log("watch", self.acme),
                               what="acme's table change and message")
        # Give a stray delivery of globex's writes the time acme's own took, then look again.
        self.request("PUT", "/api/v1/tables/orders/items/a2", {"by": "acme"}, key=self.acme)
        events = self.wait_for(lambda: len(self.events_in_log("watch", self.acme)) >= 3 and
                               self.events_in_log("watch", self.acme),
                               what="acme's second table change")
        texts = json.dumps(events)
        self.assertNotIn("globex", texts)
        self.assertEqual(len(events), 3, texts)
        records = [r for e in events for r in e["event"]["Records"]]
        arns = {r["eventSourceARN"] for r in records}
        # The function sees its own things by their plain names.
        self.assertEqual(arns, {"arn:kumo:tables:local:table/orders/stream",
                                "arn:kumo:queue:local:jobs"})
        self.assertEqual({e["me"] for e in events}, {"watch"})
        # Each tenant reads its own topic's messages.
        for tenant, key in (("acme", self.acme), ("globex", self.globex)):
            r = self.request("GET", "/api/v1/topics/jobs/messages", key=key).json()
            self.assertEqual([m["body"] for m in r["messages"]], [f"from {tenant}"])

    def test_a_storage_trigger_fires_only_for_its_own_tenants_bucket(self):
        for key in (self.acme, self.globex):
            self.assertEqual(self.request("PUT", "/s3/photos", key=key).status, 200)
        self.deploy_as(self.acme, "thumbs", printer("acme"),
                       "triggers:\n  - storage: {bucket: photos, events: [created]}\n")
        # globex uploads to its photos and posts a notification naming photos: acme's
        # trigger stays quiet.
        self.assertEqual(self.request("PUT", "/s3/photos/g.jpg", b"g", key=self.globex).status,
                         200)
        note = {"Records": [{"eventName": "s3:ObjectCreated:Put",
                             "s3": {"bucket": {"name": "photos"},
                                    "object": {"key": "posted.jpg"}}}]}
        r = self.request("POST", "/api/v1/storage/events", note, key=self.globex)
        self.assertEqual((r.status, r.json()["invocations"]), (200, 0), r.body)
        # A key that may not write the bucket it names is refused, whatever the tenant.
        hook = self.make_key("write:bucket/other", tenant="globex")
        r = self.request("POST", "/api/v1/storage/events", note, key=hook)
        self.assertEqual(r.status, 403, r.body)
        self.assertIn("photos", r.json()["error"]["message"])
        self.assertEqual(self.request("PUT", "/s3/photos/a.jpg", b"a", key=self.acme).status,
                         200)
        r = self.request("POST", "/api/v1/storage/events", note, key=self.acme)
        self.assertEqual((r.status, r.json()["invocations"]), (200, 1), r.body)
        events = self.wait_for(lambda: len(self.events_in_log("thumbs", self.acme)) >= 2 and
                               self.events_in_log("thumbs", self.acme),
                               what="acme's upload and notification")
        # acme's own took their time; another look after a third finds no stray one.
        self.assertEqual(self.request("PUT", "/s3/photos/b.jpg", b"b", key=self.acme).status,
                         200)
        events = self.wait_for(lambda: len(self.events_in_log("thumbs", self.acme)) >= 3 and
                               self.events_in_log("thumbs", self.acme),
                               what="acme's second upload")
        keys = sorted(r["s3"]["object"]["key"] for e in events for r in e["event"]["Records"])
        self.assertEqual(keys, ["a.jpg", "b.jpg", "posted.jpg"])
        buckets = {r["s3"]["bucket"]["name"] for e in events for r in e["event"]["Records"]}
        self.assertEqual(buckets, {"photos"})

    def test_logs_and_usage_are_per_tenant(self):
        self.deploy_as(self.acme, "counted", printer("acme"))
        self.deploy_as(self.globex, "counted", printer("globex"))
        self.deploy_as(self.globex, "other", printer("globex"))
        for _ in range(2):
            self.request("POST", "/api/v1/functions/counted/invoke", {"who": "acme"}, key=self.acme)
        self.request("POST", "/api/v1/functions/counted/invoke", {"who": "globex"},
                     key=self.globex)
        self.request("POST", "/api/v1/functions/other/invoke", {}, key=self.globex)
        acme_log = self.kumo("logs", "counted", key=self.acme).stdout
        self.assertIn('"who": "acme"', acme_log)
        self.assertNotIn("globex", acme_log)
        self.assertNotIn('"who": "acme"', self.kumo("logs", "counted", key=self.globex).stdout)

        acme = self.request("GET", "/api/v1/usage", key=self.acme).json()
        by_name = {f["function"]: f for f in acme["functions"]}
        self.assertEqual(by_name["counted"]["invocations"], 2)
        self.assertFalse([n for n in by_name if "~" in n or n == "other"], by_name)
        self.assertNotIn("tenants", acme)
        self.assertEqual(acme["total"]["invocations"],
                         sum(f["invocations"] for f in acme["functions"]))
        globex = self.request("GET", "/api/v1/usage", key=self.globex).json()
        self.assertEqual({f["function"]: f["invocations"] for f in globex["functions"]}
                         .get("counted"), 1)
        # The operator's report covers every tenant, with a total per tenant.
        everything = self.request("GET", "/api/v1/usage").json()
        names = {f["function"] for f in everything["functions"]}
        self.assertTrue({"acme~counted", "globex~counted", "globex~other"} <= names)
        tenants = {t["tenant"]: t for t in everything["tenants"]}
        self.assertEqual(tenants["acme"]["invocations"],
                         sum(f["invocations"] for f in everything["functions"]
                             if f["function"].startswith("acme~")))
        self.assertGreaterEqual(tenants["globex"]["invocations"], 2)
        text = self.kumo("usage").stdout
        self.assertIn("TENANT", text)
        self.assertIn("globex", text)
        only = json.loads(self.kumo("usage", "--tenant", "globex", "--json").stdout)
        self.assertTrue(only["functions"])
        self.assertTrue(all(f["function"].startswith("globex~") for f in only["functions"]))
        # A tenant's --tenant cannot reach another's.
        sneaky = self.request("GET", "/api/v1/usage?tenant=globex", key=self.acme).json()
        self.assertFalse([f for f in sneaky["functions"] if f["function"] == "other"])

    def test_a_tenant_with_functions_cannot_be_removed_and_removing_revokes_its_keys(self):
        self.assertEqual(self.request("POST", "/api/v1/tenants", {"name": "brief"}).status, 201)
        key = self.make_key(TENANT_SCOPES, tenant="brief")
        self.deploy_as(key, "short", printer("brief"))
        r = self.request("DELETE", "/api/v1/tenants/brief")
        self.assertEqual(r.status, 409, r.body)
        self.assertIn("brief", r.json()["error"]["message"])
        self.assertEqual(self.request("DELETE", "/api/v1/functions/short", key=key).status, 200)
        removed = self.kumo("tenants", "rm", "brief").stdout
        self.assertIn("1 key(s) revoked", removed)
        self.assertEqual(self.request("GET", "/api/v1/functions", key=key).status, 401)
        self.assertNotIn("brief", [t["name"] for t in
                                   self.request("GET", "/api/v1/tenants").json()["tenants"]])
        records = self.request("GET", "/api/v1/audit").json()["records"]
        seen = {(r["action"], r["target"], r["status"]) for r in records}
        self.assertTrue({("tenant.create", "brief", 201), ("tenant.remove", "brief", 409),
                         ("tenant.remove", "brief", 200)} <= seen, seen)


FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures",
                       "single_tenant_data.tar.gz")


class Migration(KumoTestCase):
    """Today's server on a copy of a data directory the release before keys and tenants
    wrote (fixtures/make_single_tenant_data.py): its function, topic, table, object and usage
    are the default tenant's, seen by the operator and a `default` key, not by another
    tenant's key. Nothing in it names the folder it was made in, so it works moved."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="kumo-it-")
        with tarfile.open(FIXTURE) as tar:
            tar.extractall(cls.tmp)
        cls.server = Server(os.path.join(cls.tmp, "data"), cls.server_args).start()

    def setUp(self):
        self.request("POST", "/api/v1/tenants", {"name": "acme"})
        self.default = self.make_key("deploy, read, write, publish, invoke", tenant="default")
        self.acme = self.make_key("deploy, read, write, publish, invoke", tenant="acme")

    def test_the_first_start_on_old_data_makes_the_admin_key(self):
        path = os.path.join(self.server.data_dir, "admin.key")
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        self.assertIn("admin key", self.server.log_text())

    def test_old_data_is_the_default_tenants(self):
        for key in (None, self.default):
            names = [f["name"] for f in self.request("GET", "/api/v1/functions", key=key)
                     .json()["functions"]]
            self.assertEqual(names, ["greet"])
            item = self.request("GET", "/api/v1/tables/guests/items/ada", key=key)
            self.assertEqual(item.json()["item"], {"name": "Ada Lovelace"}, item.body)
            self.assertIn("guests", [t["name"] for t in self.request(
                "GET", "/api/v1/tables", key=key).json()["tables"]])
            messages = self.request("GET", "/api/v1/topics/greetings/messages", key=key).json()
            self.assertIn("hi", [m["body"] for m in messages["messages"]])
            usage = self.request("GET", "/api/v1/usage?since_us=0", key=key).json()
            greet = [f for f in usage["functions"] if f["function"] == "greet"]
            self.assertEqual(len(greet), 1, usage)
            self.assertGreaterEqual(greet[0]["invocations"], 2)
            self.assertIn("greeted", self.kumo("logs", "greet", key=key).stdout)
            got = self.kumo("get", "inbox", "notes/hello.txt", key=key).stdout
            self.assertEqual(got, "hello from the old release\n")
        everything = self.request("GET", "/api/v1/usage?since_us=0").json()
        self.assertEqual([t["tenant"] for t in everything["tenants"]], ["default"])

    def test_old_data_is_invisible_to_another_tenant(self):
        self.assertEqual(self.request("GET", "/api/v1/functions", key=self.acme)
                         .json()["functions"], [])
        self.assertEqual(self.request("GET", "/api/v1/functions/greet", key=self.acme).status, 404)
        self.assertEqual(self.request("GET", "/api/v1/tables/guests/items/ada",
                                      key=self.acme).status, 404)
        self.assertEqual(self.request("GET", "/api/v1/tables", key=self.acme)
                         .json()["tables"], [])
        self.assertEqual(self.request("GET", "/api/v1/topics/greetings/messages", key=self.acme)
                         .json()["messages"], [])
        usage = self.request("GET", "/api/v1/usage?since_us=0", key=self.acme).json()
        self.assertEqual(usage["functions"], [])
        self.assertEqual(usage["total"]["invocations"], 0)

    def test_the_old_function_still_runs_and_its_trigger_still_fires(self):
        r = self.request("POST", "/api/v1/functions/greet/invoke", {"name": "grace"},
                         key=self.default)
        self.assertEqual((r.status, r.json()), (200, {"hello": "grace"}))
        self.assertEqual(self.request("POST", "/api/v1/topics/greetings", "again",
                                      key=self.default).status, 202)
        self.wait_for(lambda: "greeted" in self.kumo("logs", "greet").stdout and
                      "again" in self.kumo("logs", "greet").stdout,
                      what="the queue trigger to run greet")


if __name__ == "__main__":
    unittest.main()
