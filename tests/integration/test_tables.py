"""Embedded tables against a real `kumo serve`: the HTTP API and `kumo table`, errors, restart,
and the change records `table` triggers receive."""
import json
import unittest
import urllib.parse

from harness import KumoTestCase

# Prints the event it got as one JSON line, so a test can read it back from the log.
PRINTER = """
    import json
    def handle(event, context):
        print("EVENT " + json.dumps(event, sort_keys=True))
"""


def item_path(table, key):
    return f"/api/v1/tables/{table}/items/{urllib.parse.quote(key, safe='')}"


class TablesApi(KumoTestCase):
    def put(self, table, key, item):
        return self.request("PUT", item_path(table, key), item)

    def test_tables_are_created_listed_and_deleted(self):
        self.assertEqual(self.request("PUT", "/api/v1/tables/books").status, 201)
        self.assertEqual(self.request("PUT", "/api/v1/tables/books").status, 200)
        self.assertEqual(self.put("books", "b1", {"title": "Dune"}).status, 201)
        tables = self.request("GET", "/api/v1/tables").json()["tables"]
        books = [t for t in tables if t["name"] == "books"]
        self.assertEqual(len(books), 1)
        self.assertEqual((books[0]["source"], books[0]["items"]), ("embedded", 1))
        r = self.request("DELETE", "/api/v1/tables/books")
        self.assertEqual((r.status, r.json()["deleted_items"]), (200, 1))
        self.assertEqual(self.request("DELETE", "/api/v1/tables/books").status, 404)
        self.assertEqual(self.request("GET", item_path("books", "b1")).status, 404)

    def test_items_are_written_read_replaced_and_deleted(self):
        self.request("PUT", "/api/v1/tables/users")
        r = self.put("users", "user/1", {"name": "Ada", "langs": ["en"], "age": 36})
        self.assertEqual(r.status, 201)
        self.assertEqual(r.json()["created"], True)
        got = self.request("GET", item_path("users", "user/1"))
        self.assertEqual(got.status, 200)
        self.assertEqual(got.json()["item"], {"name": "Ada", "langs": ["en"], "age": 36})
        self.assertEqual(got.json()["key"], "user/1")
        r = self.put("users", "user/1", {"name": "Ada", "age": 37})
        self.assertEqual((r.status, r.json()["created"], r.json()["changed"]), (200, False, True))
        same = self.put("users", "user/1", {"age": 37, "name": "Ada"})
        self.assertEqual((same.status, same.json()["changed"]), (200, False))
        self.assertEqual(self.request("GET", item_path("users", "user/1")).json()["item"],
                         {"name": "Ada", "age": 37})
        self.assertEqual(self.request("DELETE", item_path("users", "user/1")).status, 200)
        self.assertEqual(self.request("GET", item_path("users", "user/1")).status, 404)
        self.assertEqual(self.request("DELETE", item_path("users", "user/1")).status, 404)

    def test_query_by_prefix_pages_in_key_order(self):
        self.request("PUT", "/api/v1/tables/events")
        keys = [f"2024-01-{d:02d}/{n}" for d in range(1, 4) for n in range(9)]
        for key in reversed(keys):
            self.assertEqual(self.put("events", key, {"k": key}).status, 201)
        self.put("events", "2024-02-01/0", {"k": "feb"})
        seen, after = [], None
        pages = 0
        while True:
            q = "prefix=2024-01-&limit=10" + (f"&after={urllib.parse.quote(after)}" if after else "")
            page = self.request("GET", f"/api/v1/tables/events/items?{q}").json()
            pages += 1
            seen += [i["key"] for i in page["items"]]
            for i in page["items"]:
                self.assertEqual(i["item"], {"k": i["key"]})
            after = page["next"]
            if after is None:
                break
        self.assertEqual(seen, sorted(keys))
        self.assertEqual(pages, 3)
        one_day = self.request("GET", "/api/v1/tables/events/items?prefix=2024-01-02/").json()
        self.assertEqual([i["key"] for i in one_day["items"]], [f"2024-01-02/{n}" for n in range(9)])

    def test_bad_requests_get_clear_errors(self):
        self.request("PUT", "/api/v1/tables/strict")
        missing = self.put("nope", "k", {"a": 1})
        self.assertEqual(missing.status, 404)
        self.assertIn("kumo table create nope", missing.json()["error"]["message"])
        not_json = self.request("PUT", item_path("strict", "k"), "{not json")
        self.assertEqual(not_json.status, 400)
        self.assertIn("JSON object", not_json.json()["error"]["message"])
        self.assertEqual(self.request("PUT", item_path("strict", "k"), "[1, 2]").status, 400)
        big = self.put("strict", "k", {"blob": "x" * (400 * 1024)})
        self.assertEqual(big.status, 413)
        self.assertIn("400 KB", big.json()["error"]["message"])
        huge = self.request("PUT", item_path("strict", "k"), b"{" + b" " * (2 << 20) + b"}")
        self.assertEqual(huge.status, 413)
        bad_name = self.request("PUT", "/api/v1/tables/Bad_Name")
        self.assertEqual(bad_name.status, 400)
        self.assertIn("a-z", bad_name.json()["error"]["message"])
        self.assertEqual(self.put("strict", "k" * 1025, {"a": 1}).status, 400)
        self.assertEqual(self.request("PUT", "/api/v1/tables/strict/items/", {"a": 1}).status, 400)
        self.assertEqual(self.request("GET", "/api/v1/tables/strict/items?limit=0").status, 400)
        self.assertEqual(self.request("GET", "/api/v1/tables/nope/items").status, 404)
        self.assertEqual(self.request("GET", item_path("strict", "absent")).status, 404)
        self.assertEqual(self.request("GET", "/api/v1/tables/strict/items").json()["items"], [])

    def test_the_cli_creates_writes_reads_queries_and_removes(self):
        self.assertIn("created table notes", self.kumo("table", "create", "notes").stdout)
        self.assertIn("already exists", self.kumo("table", "create", "notes").stdout)
        self.assertIn("created", self.kumo("table", "put", "notes", "n/1", '{"text": "hi"}').stdout)
        self.assertIn("updated", self.kumo("table", "put", "notes", "n/1", '{"text": "yo"}').stdout)
        self.kumo("table", "put", "notes", "n/2", "-", input='{"text": "from stdin"}')
        self.kumo("table", "put", "notes", "other", '{"text": "x"}')
        self.assertEqual(json.loads(self.kumo("table", "get", "notes", "n/1").stdout), {"text": "yo"})
        listing = self.kumo("table", "ls").stdout
        self.assertRegex(listing, r"notes\s+embedded\s+3")
        text = self.kumo("table", "query", "notes", "--prefix", "n/").stdout
        self.assertIn("n/1", text)
        self.assertIn("from stdin", text)
        self.assertNotIn("other", text)
        q = json.loads(self.kumo("table", "query", "notes", "--json").stdout)
        self.assertEqual([i["key"] for i in q["items"]], ["n/1", "n/2", "other"])
        limited = json.loads(self.kumo("table", "query", "notes", "--limit", "2", "--json").stdout)
        self.assertEqual(len(limited["items"]), 2)
        self.assertIn("removed", self.kumo("table", "rm", "notes", "n/1").stdout)
        gone = self.kumo("table", "get", "notes", "n/1", check=False)
        self.assertEqual(gone.returncode, 1)
        self.assertIn("no item with key 'n/1'", gone.stderr)
        bad = self.kumo("table", "put", "notes", "k", "not json", check=False)
        self.assertEqual(bad.returncode, 1)
        self.assertIn("JSON object", bad.stderr)
        missing = self.kumo("table", "put", "ghost", "k", "{}", check=False)
        self.assertIn("kumo table create ghost", missing.stderr)


class TablesRestart(KumoTestCase):
    def test_items_and_tables_survive_a_restart(self):
        self.request("PUT", "/api/v1/tables/keep")
        self.request("PUT", item_path("keep", "a"), {"v": [1, 2.5, None, True]})
        self.server.stop()
        self.server.start()
        got = self.request("GET", item_path("keep", "a"))
        self.assertEqual(got.status, 200)
        self.assertEqual(got.json()["item"], {"v": [1, 2.5, None, True]})
        self.assertIn("keep", [t["name"] for t in self.request("GET", "/api/v1/tables").json()["tables"]])


class TableTriggers(KumoTestCase):
    def events_in_log(self, name):
        out = self.kumo("logs", name).stdout
        return [json.loads(line.split("EVENT ", 1)[1]) for line in out.splitlines()
                if "EVENT " in line]

    def wait_records(self, name, n, timeout=20):
        def records():
            got = [r for e in self.events_in_log(name) for r in e["Records"]]
            return got if len(got) >= n else None
        return self.wait_for(records, timeout=timeout, what=f"{n} records in {name}'s log")

    def test_inserts_updates_and_deletes_reach_the_trigger_with_old_and_new_images(self):
        self.request("PUT", "/api/v1/tables/profiles")
        self.deploy("on-profile", PRINTER, "max_instances: 1\ntriggers:\n"
                    "  - table: {name: profiles, events: [insert, update, delete]}\n")
        self.request("PUT", item_path("profiles", "p1"), {"name": "Ada", "score": 1.5})
        self.request("PUT", item_path("profiles", "p1"), {"name": "Ada", "score": 2,
                                                          "tags": ["x"], "meta": {"ok": True}})
        self.request("PUT", item_path("profiles", "p1"), {"name": "Ada", "score": 2,
                                                          "tags": ["x"], "meta": {"ok": True}})
        self.request("DELETE", item_path("profiles", "p1"))
        records = self.wait_records("on-profile", 3)
        self.assertEqual([r["eventName"] for r in records], ["INSERT", "MODIFY", "REMOVE"])
        insert, modify, remove = records
        for r in records:
            self.assertEqual(r["eventSource"], "aws:dynamodb")
            self.assertEqual(r["eventVersion"], "1.1")
            self.assertEqual(r["eventSourceARN"], "arn:kumo:tables:local:table/profiles/stream")
            self.assertEqual(r["dynamodb"]["Keys"], {"key": {"S": "p1"}})
            self.assertEqual(r["dynamodb"]["StreamViewType"], "NEW_AND_OLD_IMAGES")
            self.assertGreater(r["dynamodb"]["SizeBytes"], 0)
        self.assertNotIn("OldImage", insert["dynamodb"])
        self.assertEqual(insert["dynamodb"]["NewImage"],
                         {"name": {"S": "Ada"}, "score": {"N": "1.5"}})
        self.assertEqual(modify["dynamodb"]["OldImage"], insert["dynamodb"]["NewImage"])
        self.assertEqual(modify["dynamodb"]["NewImage"],
                         {"name": {"S": "Ada"}, "score": {"N": "2"}, "tags": {"L": [{"S": "x"}]},
                          "meta": {"M": {"ok": {"BOOL": True}}}})
        self.assertEqual(remove["dynamodb"]["OldImage"], modify["dynamodb"]["NewImage"])
        self.assertNotIn("NewImage", remove["dynamodb"])
        seqs = [r["dynamodb"]["SequenceNumber"] for r in records]
        self.assertEqual(seqs, sorted(seqs))
        self.assertEqual(len(set(r["eventID"] for r in records)), 3)
        # The identical PUT above recorded nothing.
        self.assertEqual(len(self.wait_records("on-profile", 3)), 3)

    def test_a_trigger_hears_only_the_events_it_names(self):
        self.request("PUT", "/api/v1/tables/audit")
        self.deploy("on-delete", PRINTER, "triggers:\n  - table: {name: audit, events: [delete]}\n")
        self.request("PUT", item_path("audit", "a"), {"v": 1})
        self.request("PUT", item_path("audit", "a"), {"v": 2})
        self.request("DELETE", item_path("audit", "a"))
        records = self.wait_records("on-delete", 1)
        self.assertEqual([r["eventName"] for r in records], ["REMOVE"])

    def test_a_trigger_naming_a_missing_table_fails_the_deploy(self):
        d = self.write_function("orphan", PRINTER, "triggers:\n  - table: {name: nowhere}\n")
        r = self.kumo("deploy", d, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("nowhere", r.stderr)
        self.assertIn("kumo table create nowhere", r.stderr)


if __name__ == "__main__":
    unittest.main()
