"""The PostgreSQL connector against a real PostgreSQL server started by the test: rows changed
with psql reach a `table` trigger as DynamoDB Streams records, also those changed while Kumo
was down."""
import glob
import json
import os
import shutil
import subprocess
import tempfile
import textwrap
import time
import unittest

from harness import KumoTestCase, Server, free_port

PRINTER = """
    import json
    def handle(event, context):
        print("EVENT " + json.dumps(event, sort_keys=True))
"""


def postgres_bin():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(found[-1]) if found else None


class PostgresServer:
    """initdb + pg_ctl in a temp dir, as the postgres user (PostgreSQL refuses root)."""

    def __init__(self, bindir):
        # Its own temp dir: the postgres user cannot enter a root-only one.
        self.bindir, self.root = bindir, tempfile.mkdtemp(prefix="kumo-it-pg-")
        self.data = os.path.join(self.root, "pgdata")
        self.port = free_port()

    def as_postgres(self, *cmd):
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run(prefix + list(cmd), capture_output=True, text=True, timeout=60)

    def start(self):
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        r = self.as_postgres(f"{self.bindir}/initdb", "-D", self.data, "-U", "postgres",
                             "--auth=trust", "--no-sync")
        if r.returncode != 0:
            raise RuntimeError("initdb failed:\n" + r.stdout + r.stderr)
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        r = self.as_postgres(f"{self.bindir}/pg_ctl", "-D", self.data, "-o", opts,
                             "-l", os.path.join(self.root, "pg.log"), "-w", "start")
        if r.returncode != 0:
            raise RuntimeError("pg_ctl start failed:\n" + r.stdout + r.stderr)

    def restart(self):
        r = self.as_postgres(f"{self.bindir}/pg_ctl", "-D", self.data, "-m", "fast", "-w",
                             "-l", os.path.join(self.root, "pg.log"), "restart")
        if r.returncode != 0:
            raise RuntimeError("pg_ctl restart failed:\n" + r.stdout + r.stderr)

    def stop(self):
        self.as_postgres(f"{self.bindir}/pg_ctl", "-D", self.data, "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def psql(self, sql, db="app"):
        r = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                            "-d", db, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise AssertionError(f"psql {sql!r} failed:\n{r.stderr}")
        return r.stdout


@unittest.skipUnless(postgres_bin() and shutil.which("psql"), "PostgreSQL is not installed")
class PostgresConnector(KumoTestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="kumo-it-")
        cls.pg = PostgresServer(postgres_bin())
        cls.pg.start()
        cls.pg.psql("CREATE DATABASE app", db="postgres")
        cls.pg.psql("CREATE TABLE orders (id int PRIMARY KEY, item text, qty int, "
                    "paid boolean DEFAULT false)")
        config = os.path.join(cls.tmp, "kumo.yaml")
        with open(config, "w") as f:
            f.write(textwrap.dedent(f"""\
                tables:
                  postgres:
                    - dsn: "host=127.0.0.1 port={cls.pg.port} dbname=app user=postgres"
                      table: orders
                      key: id
                      name: shop-orders
            """))
        cls.server = Server(os.path.join(cls.tmp, "data"), ["--config", config])
        cls.start_kumo()

    @classmethod
    def start_kumo(cls):
        cls.server.start()
        # Rows changed before the trigger is installed are not captured: wait for it.
        watching = "watching PostgreSQL table public.orders"
        end = time.time() + 20
        while watching not in cls.server.log_text():
            if time.time() > end:
                raise RuntimeError("the connector did not start:\n" + cls.server.log_text())
            time.sleep(0.05)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.pg.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def records(self, function="on-order"):
        out = self.kumo("logs", function).stdout
        return [r for line in out.splitlines() if "EVENT " in line
                for r in json.loads(line.split("EVENT ", 1)[1])["Records"]]

    def wait_records(self, n, function="on-order"):
        return self.wait_for(lambda: len(self.records(function)) >= n and self.records(function),
                             timeout=30, what=f"{n} records for {function}")

    def test_row_changes_arrive_in_order_also_those_made_while_kumo_was_down(self):
        self.deploy("on-order", PRINTER, "max_instances: 1\ntriggers:\n"
                    "  - table: {name: shop-orders, events: [insert, update, delete]}\n")
        listed = self.request("GET", "/api/v1/tables").json()["tables"]
        self.assertIn({"name": "shop-orders", "source": "postgres", "postgres_table": "orders",
                       "key": "id"}, listed)

        self.pg.psql("INSERT INTO orders (id, item, qty) VALUES (1, 'book', 2)")
        self.pg.psql("UPDATE orders SET qty = 3 WHERE id = 1")
        self.pg.psql("UPDATE orders SET qty = 3 WHERE id = 1")  # changes nothing: no record
        self.pg.psql("DELETE FROM orders WHERE id = 1")
        records = self.wait_records(3)
        self.assertEqual([r["eventName"] for r in records], ["INSERT", "MODIFY", "REMOVE"])
        insert, modify, remove = records
        row1 = {"id": {"N": "1"}, "item": {"S": "book"}, "qty": {"N": "2"},
                "paid": {"BOOL": False}}
        self.assertEqual(insert["dynamodb"]["NewImage"], row1)
        self.assertNotIn("OldImage", insert["dynamodb"])
        self.assertEqual(modify["dynamodb"]["OldImage"], row1)
        self.assertEqual(modify["dynamodb"]["NewImage"], dict(row1, qty={"N": "3"}))
        self.assertEqual(remove["dynamodb"]["OldImage"], dict(row1, qty={"N": "3"}))
        self.assertNotIn("NewImage", remove["dynamodb"])
        for r in records:
            self.assertEqual(r["dynamodb"]["Keys"], {"id": {"N": "1"}})
            self.assertEqual(r["eventSourceARN"], "arn:kumo:tables:local:table/shop-orders/stream")
            self.assertEqual(r["eventSource"], "aws:dynamodb")
        seqs = [r["dynamodb"]["SequenceNumber"] for r in records]
        self.assertEqual(seqs, sorted(seqs))
        # Delivered changes leave the database-side outbox.
        self.wait_for(lambda: self.pg.psql("SELECT count(*) FROM kumo_changes").strip() == "0",
                      what="kumo_changes to empty")

        # Kumo is down: the trigger keeps recording, and the changes arrive after the restart.
        self.server.stop()
        self.pg.psql("INSERT INTO orders (id, item, qty) VALUES (2, 'pen', 10)")
        self.pg.psql("UPDATE orders SET paid = true WHERE id = 2")
        self.assertEqual(self.pg.psql("SELECT count(*) FROM kumo_changes").strip(), "2")
        self.start_kumo()
        records = self.wait_records(5)[3:]
        self.assertEqual([r["eventName"] for r in records], ["INSERT", "MODIFY"])
        self.assertEqual(records[0]["dynamodb"]["Keys"], {"id": {"N": "2"}})
        self.assertEqual(records[1]["dynamodb"]["NewImage"]["paid"], {"BOOL": True})
        self.assertEqual(records[1]["dynamodb"]["OldImage"]["paid"], {"BOOL": False})

    def test_changes_after_a_database_restart_arrive(self):
        self.deploy("on-restart", PRINTER, "triggers:\n  - table: {name: shop-orders}\n")
        self.pg.psql("INSERT INTO orders (id, item, qty) VALUES (100, 'cup', 1)")
        self.wait_records(1, "on-restart")
        self.pg.restart()
        self.pg.psql("UPDATE orders SET qty = 5 WHERE id = 100")
        records = self.wait_records(2, "on-restart")
        self.assertEqual([r["eventName"] for r in records], ["INSERT", "MODIFY"])
        self.assertEqual(records[1]["dynamodb"]["NewImage"]["qty"], {"N": "5"})
        self.assertIn("lost the connection", self.server.log_text())

    def test_the_postgres_table_cannot_be_written_through_kumo(self):
        r = self.request("PUT", "/api/v1/tables/shop-orders/items/9", {"id": 9})
        self.assertEqual(r.status, 409)
        self.assertIn("PostgreSQL", r.json()["error"]["message"])
        self.assertEqual(self.request("PUT", "/api/v1/tables/shop-orders").status, 409)


if __name__ == "__main__":
    unittest.main()
