"""Deploy, list, describe, invoke, the HTTP trigger, redeploy and remove, through the CLI and HTTP."""
import json
import os
import unittest

from harness import KumoTestCase

ECHO = """
    import os
    INITS = 0
    INITS += 1          # module level: runs once per instance
    def handle(event, context):
        print("handling", event.get("n"))
        return {"event": event, "inits": INITS, "pid": os.environ["KUMO_INSTANCE_ID"],
                "request_id": context.aws_request_id,
                "function": context.function_name, "version": context.function_version,
                "memory": context.memory_limit_in_mb,
                "remaining_ms": context.get_remaining_time_in_millis(),
                "greeting": os.environ.get("GREETING")}
"""


class DeployAndInvoke(KumoTestCase):
    def test_deploy_then_invoke_through_cli_and_http(self):
        out = self.deploy("echo", ECHO, "memory: 256\nenv: {GREETING: hi}\n").stdout
        self.assertIn("deployed echo version 1", out)

        r = self.kumo("invoke", "echo", "-d", '{"n": 1}')
        body = json.loads(r.stdout)
        self.assertEqual(body["event"], {"n": 1})
        self.assertEqual(body["function"], "echo")
        self.assertEqual(body["version"], "1")
        self.assertEqual(int(body["memory"]), 256)
        self.assertEqual(body["greeting"], "hi")
        self.assertTrue(0 < body["remaining_ms"] <= 30000)

        r2 = self.invoke("echo", {"n": 2})
        self.assertEqual(r2.status, 200)
        self.assertEqual(r2.json()["inits"], 1, "init ran again on a warm instance")
        self.assertEqual(r2.json()["pid"], body["pid"], "a second instance served a lone request")
        # One request at a time never wants a second instance (docs/autoscaling.md, "Headroom
        # up to the peak"): not even one started ahead that a later request could land on.
        self.assertEqual(self.describe("echo")["instances"]["total"], 1,
                         "one request at a time started a second instance")
        self.assertEqual(r2.header("x-kumo-request-id"), r2.json()["request_id"])

        logs = self.wait_for(lambda: (lambda t: t if "handling 2" in t else None)(
            self.kumo("logs", "echo").stdout), what="log line")
        line = [l for l in logs.splitlines() if "handling 2" in l][0]
        self.assertIn(r2.json()["request_id"], line, "log line not tagged with its request id")

    def test_metrics_show_each_deployed_functions_pool_until_it_is_removed(self):
        self.deploy("gauged", ECHO)
        self.assertEqual(self.invoke("gauged", {"n": 1}).status, 200)

        def gauges():
            text = self.request("GET", "/metrics").body.decode()
            return {l.rsplit(" ", 1)[0]: int(l.rsplit(" ", 1)[1]) for l in text.splitlines()
                    if l.startswith(("kumo_instances{", "kumo_desired_instances{"))
                    and 'function="gauged"' in l}

        live = gauges()
        self.assertIn('kumo_desired_instances{function="gauged"}', live)
        self.assertEqual(sum(v for k, v in live.items() if k.startswith("kumo_instances{")), 1,
                         live)
        self.kumo("rm", "gauged")
        self.assertEqual(gauges(), {}, "a removed function still has pool gauges")

    def test_http_trigger_gets_an_api_gateway_v2_event_and_proxy_response(self):
        self.deploy("web", """
            import json
            def handle(event, context):
                return {"statusCode": 201, "headers": {"x-seen-path": event["rawPath"]},
                        "cookies": ["s=1"],
                        "body": json.dumps({"method": event["requestContext"]["http"]["method"],
                                            "query": event.get("queryStringParameters"),
                                            "body": event.get("body")})}
        """)
        r = self.request("PUT", "/fn/web/items/7?color=red", body="payload",
                         headers={"content-type": "text/plain"})
        self.assertEqual(r.status, 201)
        self.assertEqual(r.header("x-seen-path"), "/items/7")
        self.assertEqual(r.header("set-cookie"), "s=1")
        self.assertEqual(r.json(), {"method": "PUT", "query": {"color": "red"}, "body": "payload"})
        self.assertEqual(self.request("GET", "/fn/web").status, 201)

    def test_ls_describe_redeploy_and_rm(self):
        self.deploy("versions", "def handle(e, c):\n    return 'v1'\n")
        self.deploy("versions", "def handle(e, c):\n    return 'v2'\n")
        self.assertEqual(self.invoke("versions").json(), "v2")
        listing = json.loads(self.kumo("ls", "--json").stdout)
        entry = [f for f in listing["functions"] if f["name"] == "versions"][0]
        self.assertEqual(entry["version"], 2)
        self.assertIn("versions", self.kumo("ls").stdout)
        described = self.describe("versions")
        self.assertEqual([v["version"] for v in described["versions"]], [1, 2])
        self.assertGreaterEqual(described["instances"]["total"], 1)

        self.assertIn("removed versions", self.kumo("rm", "versions").stdout)
        r = self.invoke("versions")
        self.assertEqual(r.status, 404)
        self.assertIn("not found", r.json()["error"]["message"])
        gone = self.kumo("describe", "versions", check=False)
        self.assertEqual(gone.returncode, 1)
        self.assertIn("not found", gone.stderr)

    def test_exec_function_serves_http_on_port(self):
        d = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "wordcount")
        self.kumo("deploy", d)
        r = self.request("POST", "/fn/wordcount/", body="a b a")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["words"], 3)
        r = self.invoke("wordcount", {"x": 1})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["words"], 2)  # {"x": 1} has the words x and 1


class BadDeploys(KumoTestCase):
    def post_package(self, data):
        return self.request("POST", "/api/v1/functions", body=data,
                            headers={"content-type": "application/gzip"})

    def test_invalid_spec_names_the_field(self):
        d = self.write_function("badmem", "def handle(e, c):\n    return 1\n", "memory: 64\n")
        r = self.kumo("deploy", d, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("memory", r.stderr)
        self.assertIn("128", r.stderr)

    def test_not_a_package_is_a_400(self):
        r = self.post_package(b"this is not gzip")
        self.assertEqual(r.status, 400)
        self.assertIn("error", r.json())

    def test_path_traversal_is_rejected(self):
        import io
        import tarfile
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            for name, data in [("kumo.yaml", b"name: evil\nruntime: python3\nhandler: m.h\n"),
                               ("../../escape.txt", b"x")]:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        r = self.post_package(buf.getvalue())
        self.assertEqual(r.status, 400)
        self.assertIn("..", r.json()["error"]["message"])
        self.assertEqual(self.invoke("evil").status, 404)


if __name__ == "__main__":
    unittest.main()
