"""A function's identity (docs/functions.md, Permissions): each instance gets a key of its own
for exactly the spec's `permissions:`, in KUMO_API_KEY and in the variables every AWS SDK reads,
so an unchanged boto3 handler reads and writes Kumo's objects; the key dies with the instance.
And HTTP triggers: `auth: none | key` and CORS."""
import os
import tempfile
import threading
import unittest
import urllib.parse

from harness import KumoTestCase, share_base

# The AWS S3-trigger tutorial's handler, unchanged but for the result it writes: a client made
# at init, get_object of the event's bucket and key, put_object of a result.
TUTORIAL = """
import json
import urllib.parse
import boto3

print('Loading function')

s3 = boto3.client('s3')


def lambda_handler(event, context):
    # Get the object from the event and show its content type
    bucket = event['Records'][0]['s3']['bucket']['name']
    key = urllib.parse.unquote_plus(event['Records'][0]['s3']['object']['key'], encoding='utf-8')
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
        print("CONTENT TYPE: " + response['ContentType'])
        body = response['Body'].read()
        s3.put_object(Bucket='outbox', Key=key + '.upper', Body=body.upper(),
                      ContentType=response['ContentType'])
        return response['ContentType']
    except Exception as e:
        print(e)
        print('Error getting object {} from bucket {}. Make sure they exist and your bucket is in the same region as this function.'.format(key, bucket))
        raise e
"""

# What boto3 may do with the same identity: each step's S3 error code, or "ok".
S3_ATTEMPTS = """
import boto3
from botocore.exceptions import ClientError

s3 = boto3.client('s3')


def attempt(step):
    try:
        step()
        return "ok"
    except ClientError as e:
        return e.response["Error"]["Code"]


def handle(event, context):
    return {
        "read in": attempt(lambda: s3.get_object(Bucket="inbox", Key="a.txt")["Body"].read()),
        "write out": attempt(lambda: s3.put_object(Bucket="outbox", Key="b.txt", Body=b"b")),
        "write in": attempt(lambda: s3.put_object(Bucket="inbox", Key="evil.txt", Body=b"x")),
        "read other": attempt(lambda: s3.get_object(Bucket="other", Key="c.txt")),
    }
"""

# Calls Kumo's API with the instance's key and answers each status.
API_CALLS = """
import json
import os
import urllib.error
import urllib.request


def status(method, path, body=None, key=None):
    key = os.environ.get("KUMO_API_KEY", "") if key is None else key
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = "Bearer " + key
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(os.environ["KUMO_URL"] + path, data=data, method=method,
                                 headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def handle(event, context):
    return {
        "write notes": status("PUT", "/api/v1/tables/notes/items/n1", {"text": "hi"}),
        "read notes": status("GET", "/api/v1/tables/notes/items/n1"),
        "read secrets": status("GET", "/api/v1/tables/secrets/items/s1"),
        "write secrets": status("PUT", "/api/v1/tables/secrets/items/s1", {"x": 1}),
        "publish": status("POST", "/api/v1/topics/jobs", {"m": 1}),
        "no key": status("GET", "/api/v1/tables/notes/items/n1", key=""),
    }
"""

# Tells what identity the instance has: its variables, and the key a client made at init
# signs with.
WHOAMI = """
import os
import time

import boto3

s3 = boto3.client('s3')  # made at init: in a zygote template, before the fork


def handle(event, context):
    if event.get("token_dir"):
        with open(os.path.join(event["token_dir"], os.environ["KUMO_INSTANCE_ID"]), "w") as f:
            f.write(os.environ.get("KUMO_API_KEY", ""))
    time.sleep(event.get("sleep", 0))
    signing = s3._request_signer._credentials.get_frozen_credentials()
    names = ["KUMO_API_KEY", "KUMO_URL", "KUMO_INSTANCE_ID", "AWS_ACCESS_KEY_ID",
             "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION",
             "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"]
    return {"env": {n: os.environ.get(n) for n in names},
            "endpoint": s3.meta.endpoint_url,
            "signing_key": signing.access_key}
"""

PLAIN = """
import os

def handle(event, context):
    return {n: os.environ.get(n) for n in ["KUMO_API_KEY", "AWS_ACCESS_KEY_ID", "AWS_ENDPOINT_URL"]}
"""


class FunctionIdentity(KumoTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.made = False

    def setUp(self):
        if not FunctionIdentity.made:
            for bucket in ("inbox", "outbox", "other"):
                self.kumo("mb", bucket)
            for table in ("notes", "secrets"):
                self.kumo("table", "create", table)
            FunctionIdentity.made = True

    def put_object(self, bucket, key, body, content_type="text/plain"):
        r = self.request("PUT", f"/s3/{bucket}/{urllib.parse.quote(key)}", body,
                         {"Content-Type": content_type})
        self.assertEqual(r.status, 200, r.body)

    def get_object(self, bucket, key):
        return self.request("GET", f"/s3/{bucket}/{urllib.parse.quote(key)}")

    def test_the_unchanged_s3_tutorial_handler_works_with_its_own_identity(self):
        self.deploy("tutorial", TUTORIAL, """
            permissions: read:bucket/inbox, write:bucket/outbox
            triggers:
              - storage: {bucket: inbox, events: [created]}
        """, handler="main.lambda_handler")
        self.put_object("inbox", "note one.txt", b"hello from kumo")
        result = self.wait_for(
            lambda: (r := self.get_object("outbox", "note one.txt.upper")).status == 200 and r,
            timeout=60, what="the handler's result object")
        self.assertEqual(result.body, b"HELLO FROM KUMO")
        self.assertEqual(result.header("content-type"), "text/plain")
        log = self.kumo("logs", "tutorial").stdout
        self.assertIn("CONTENT TYPE: text/plain", log)

    def test_boto3_is_refused_outside_the_functions_permissions(self):
        # Needs S3 to check signatures (it answers an unsigned request 403 then); until it does,
        # S3 accepts anything and there is nothing to refuse.
        if self.request("GET", "/s3/inbox/a.txt", key="").status != 403:
            self.skipTest("this server's S3 endpoint does not check signatures")
        self.put_object("inbox", "a.txt", b"a")
        self.put_object("other", "c.txt", b"c")
        self.deploy("s3-attempts", S3_ATTEMPTS,
                    "permissions: [read:bucket/inbox, write:bucket/outbox]\n")
        r = self.invoke("s3-attempts")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json(), {"read in": "ok", "write out": "ok",
                                    "write in": "AccessDenied", "read other": "AccessDenied"})
        self.assertEqual(self.get_object("inbox", "evil.txt").status, 404)

    def test_kumos_api_answers_the_instance_inside_its_permissions_and_403_outside(self):
        self.deploy("api-calls", API_CALLS, "permissions: [write:table/notes]\n")
        r = self.invoke("api-calls")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json(), {"write notes": 201, "read notes": 200, "read secrets": 403,
                                    "write secrets": 403, "publish": 403, "no key": 401})

    def test_an_instance_has_the_aws_environment_and_signs_with_its_own_key(self):
        self.deploy("whoami", WHOAMI, "permissions: [read:bucket/inbox]\n")
        r = self.invoke("whoami")
        self.assertEqual(r.status, 200, r.body)
        out = r.json()
        env = out["env"]
        kumo_url = env["KUMO_URL"]
        self.assertTrue(env["AWS_ACCESS_KEY_ID"].startswith("kk_"), env)
        self.assertEqual(env["KUMO_API_KEY"],
                         f"kumo_{env['AWS_ACCESS_KEY_ID']}_{env['AWS_SECRET_ACCESS_KEY']}")
        self.assertTrue(env["AWS_SESSION_TOKEN"])
        self.assertEqual(env["AWS_REGION"], "us-east-1")
        self.assertEqual(env["AWS_DEFAULT_REGION"], "us-east-1")
        self.assertEqual(env["AWS_ENDPOINT_URL"], kumo_url)
        self.assertEqual(env["AWS_ENDPOINT_URL_S3"], kumo_url + "/s3")
        self.assertEqual(out["endpoint"], kumo_url + "/s3")
        # The client was made during init (in the zygote template), yet signs with this
        # instance's key.
        self.assertEqual(out["signing_key"], env["AWS_ACCESS_KEY_ID"])
        # The token works from outside too, with the function's grants only.
        token = env["KUMO_API_KEY"]
        self.assertEqual(self.request("GET", "/api/v1/functions", key=token).status, 403)
        # Credentials are never written to the server's or the function's logs.
        secret = env["AWS_SECRET_ACCESS_KEY"]
        self.assertNotIn(secret, self.server.log_text())
        self.assertNotIn(secret, self.kumo("logs", "whoami").stdout)

    def test_a_function_without_permissions_gets_no_credential(self):
        self.deploy("plain", PLAIN)
        r = self.invoke("plain")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json(), {"KUMO_API_KEY": None, "AWS_ACCESS_KEY_ID": None,
                                    "AWS_ENDPOINT_URL": None})

    def test_admin_is_refused_in_a_functions_permissions(self):
        d = self.write_function("greedy", PLAIN, "permissions: [admin]\n")
        r = self.kumo("deploy", d, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("admin is not for functions", r.stderr + r.stdout)

    def test_two_instances_have_different_keys(self):
        self.deploy("twins", WHOAMI, "permissions: [read:bucket/inbox]\nmax_instances: 2\n")
        results = [None, None]

        def call(i):
            results[i] = self.invoke("twins", {"sleep": 2})

        threads = [threading.Thread(target=call, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        envs = [r.json()["env"] for r in results]
        self.assertNotEqual(envs[0]["KUMO_INSTANCE_ID"], envs[1]["KUMO_INSTANCE_ID"])
        self.assertNotEqual(envs[0]["AWS_ACCESS_KEY_ID"], envs[1]["AWS_ACCESS_KEY_ID"])
        self.assertNotEqual(envs[0]["KUMO_API_KEY"], envs[1]["KUMO_API_KEY"])
        for r in results:
            self.assertEqual(r.json()["signing_key"], r.json()["env"]["AWS_ACCESS_KEY_ID"])

    def captured_token(self, name, spec):
        """Deploys WHOAMI as `name`, invokes it once and returns the token its instance wrote."""
        shared = self.shared_dir()
        self.deploy(name, WHOAMI, spec)
        r = self.invoke(name, {"token_dir": shared})
        self.assertEqual(r.status, 200, r.body)
        [instance] = os.listdir(shared)
        with open(os.path.join(shared, instance)) as f:
            token = f.read()
        self.assertEqual(self.request("GET", "/api/v1/tables/notes/items/n0", key=token).status,
                         404)  # known, allowed, and no such item
        return token

    def test_the_credential_dies_when_the_function_is_removed(self):
        token = self.captured_token("doomed", "permissions: [read:table/notes]\n")
        self.kumo("rm", "doomed")
        self.wait_for(
            lambda: self.request("GET", "/api/v1/tables/notes/items/n0", key=token).status == 401,
            timeout=60, what="the removed function's key to be refused")

    def test_the_credential_dies_when_its_instance_is_killed_for_a_timeout(self):
        shared = self.shared_dir()
        self.deploy("slow", WHOAMI, "permissions: [read:table/notes]\ntimeout: 2s\n")
        r = self.invoke("slow", {"token_dir": shared, "sleep": 30})
        self.assertEqual(r.status, 504, r.body)
        [instance] = os.listdir(shared)
        with open(os.path.join(shared, instance)) as f:
            token = f.read()
        self.wait_for(
            lambda: self.request("GET", "/api/v1/tables/notes/items/n0", key=token).status == 401,
            timeout=60, what="the killed instance's key to be refused")

    def test_the_credential_dies_when_the_instance_scales_to_zero(self):
        token = self.captured_token("idle", "permissions: [read:table/notes]\nidle_timeout: 1s\n")
        self.wait_for(
            lambda: self.request("GET", "/api/v1/tables/notes/items/n0", key=token).status == 401,
            timeout=60, what="the idle instance's key to be refused")
        self.assertEqual(self.describe("idle")["instances"]["total"], 0)


# Answers what it was called with: method, path, the Authorization header it saw, and counts
# its invocations in a shared folder.
ECHO = """
import json
import os
import uuid


def handle(event, context):
    seen = os.environ.get("SEEN_DIR")
    if seen:
        open(os.path.join(seen, uuid.uuid4().hex), "w").close()
    http = event["requestContext"]["http"]
    return {"statusCode": 200, "headers": {"content-type": "application/json",
                                           "x-echo": "1"},
            "body": json.dumps({"method": http["method"], "path": event["rawPath"],
                                "authorization": event["headers"].get("authorization")})}
"""


class HttpTriggerAuth(KumoTestCase):
    def setUp(self):
        if not hasattr(HttpTriggerAuth, "deployed"):
            self.deploy("private-fn", ECHO)
            self.deploy("public-fn", ECHO, "auth: none\n")
            HttpTriggerAuth.deployed = True

    def reader_token(self):
        """A key that may read a table and invoke nothing: an instance's own."""
        shared = self.shared_dir()
        self.deploy("reader-token", WHOAMI, "permissions: [read:table/notes]\n")
        r = self.invoke("reader-token", {"token_dir": shared})
        self.assertEqual(r.status, 200, r.body)
        [instance] = os.listdir(shared)
        with open(os.path.join(shared, instance)) as f:
            return f.read()

    def test_a_private_function_needs_a_key_with_invoke_scope(self):
        self.assertEqual(self.request("GET", "/fn/private-fn/x", key="").status, 401)
        r = self.request("GET", "/fn/private-fn/x", key="")
        self.assertIn("Bearer", r.header("www-authenticate"))
        self.assertEqual(self.request("GET", "/fn/private-fn/x", key="kumo_wrong").status, 401)
        self.assertEqual(self.request("GET", "/fn/private-fn/x", key=self.reader_token()).status,
                         403)
        r = self.request("GET", "/fn/private-fn/x")  # the admin key
        self.assertEqual(r.status, 200, r.body)
        # The caller's Kumo key is not the function's to see.
        self.assertIsNone(r.json()["authorization"])

    def test_a_public_function_answers_anyone(self):
        r = self.request("GET", "/fn/public-fn/hello", key="")
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["path"], "/hello")
        # A header of the function's own (not a Kumo key) reaches it unchecked.
        r = self.request("GET", "/fn/public-fn/", key="", headers={"Authorization": "Bearer app"})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["authorization"], "Bearer app")
        # With a key, the same; the key itself stays with Kumo.
        r = self.request("POST", "/fn/public-fn/", b"x")
        self.assertEqual(r.status, 200, r.body)
        self.assertIsNone(r.json()["authorization"])

    def test_the_invoke_api_always_needs_a_key(self):
        r = self.request("POST", "/api/v1/functions/public-fn/invoke", {}, key="")
        self.assertEqual(r.status, 401)

    def test_an_unknown_function_is_401_without_a_key_and_404_with_one(self):
        self.assertEqual(self.request("GET", "/fn/absent/", key="").status, 401)
        self.assertEqual(self.request("GET", "/fn/absent/").status, 404)

    def test_a_bad_auth_value_is_refused_at_deploy(self):
        d = self.write_function("bad-auth", ECHO, "auth: public\n")
        r = self.kumo("deploy", d, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("auth: 'public' is not key", r.stderr + r.stdout)


CORS_SPEC = """
cors:
  allow_origins: ["https://app.example.com"]
  allow_methods: [GET, POST]
  allow_headers: [content-type, x-app]
  expose_headers: [x-echo]
  max_age: 600
"""


class HttpTriggerCors(KumoTestCase):
    def setUp(self):
        if not hasattr(HttpTriggerCors, "seen"):
            # Where ECHO counts its invocations; kept for the class (share_base() goes at exit).
            HttpTriggerCors.seen = tempfile.mkdtemp(prefix="kumo-seen-", dir=share_base())
            os.chmod(HttpTriggerCors.seen, 0o777)
            extra = f"env: {{SEEN_DIR: {HttpTriggerCors.seen}}}\n"
            self.deploy("cors-private", ECHO, CORS_SPEC + extra)
            self.deploy("cors-public", ECHO, CORS_SPEC + extra + "auth: none\n")

    def preflight(self, name, origin, method="POST", headers="content-type"):
        return self.request("OPTIONS", f"/fn/{name}/items", key="", headers={
            "Origin": origin, "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers})

    def test_kumo_answers_an_allowed_preflight_itself_before_any_key(self):
        before = len(os.listdir(HttpTriggerCors.seen))
        for name in ("cors-private", "cors-public"):
            r = self.preflight(name, "https://app.example.com")
            self.assertEqual(r.status, 204, r.body)
            self.assertEqual(r.header("access-control-allow-origin"), "https://app.example.com")
            self.assertEqual(r.header("access-control-allow-methods"), "GET, POST")
            self.assertEqual(r.header("access-control-allow-headers"), "content-type, x-app")
            self.assertEqual(r.header("access-control-max-age"), "600")
        # The function was not invoked.
        self.assertEqual(len(os.listdir(HttpTriggerCors.seen)), before)

    def test_a_preflight_from_another_origin_or_for_another_method_is_refused(self):
        r = self.preflight("cors-public", "https://evil.example")
        self.assertEqual(r.status, 403)
        self.assertEqual(r.header("access-control-allow-origin"), "")
        self.assertIn("origin", r.json()["error"]["message"])
        self.assertEqual(self.preflight("cors-public", "https://app.example.com", "DELETE").status,
                         403)
        self.assertEqual(self.preflight("cors-public", "https://app.example.com", "GET",
                                        "x-other").status, 403)

    def test_replies_carry_the_cors_headers_for_an_allowed_origin_only(self):
        r = self.request("GET", "/fn/cors-public/x", key="",
                         headers={"Origin": "https://app.example.com"})
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.header("access-control-allow-origin"), "https://app.example.com")
        self.assertEqual(r.header("access-control-expose-headers"), "x-echo")
        self.assertEqual(r.header("x-echo"), "1")
        other = self.request("GET", "/fn/cors-public/x", key="",
                             headers={"Origin": "https://evil.example"})
        self.assertEqual(other.status, 200)
        self.assertEqual(other.header("access-control-allow-origin"), "")
        plain = self.request("GET", "/fn/cors-public/x", key="")
        self.assertEqual(plain.header("access-control-allow-origin"), "")
        # A private function's refusal is readable by the allowed origin too.
        refused = self.request("GET", "/fn/cors-private/x", key="",
                               headers={"Origin": "https://app.example.com"})
        self.assertEqual(refused.status, 401)
        self.assertEqual(refused.header("access-control-allow-origin"), "https://app.example.com")
        allowed = self.request("GET", "/fn/cors-private/x",
                               headers={"Origin": "https://app.example.com"})
        self.assertEqual(allowed.status, 200, allowed.body)
        self.assertEqual(allowed.header("access-control-allow-origin"), "https://app.example.com")

    def test_bad_cors_settings_are_refused_at_deploy(self):
        for spec, message in (
                ("cors: {allow_origins: [\"app.example.com\"]}\n", "cors.allow_origins"),
                ("cors: {allow_methods: [FETCH]}\n", "cors.allow_methods: 'FETCH'"),
                ("cors: {max_age: 999999}\n", "cors.max_age: must be 0..86400"),
                ("cors: {allow_origins: [\"*\"], allow_credentials: true}\n",
                 "cors.allow_credentials")):
            d = self.write_function("bad-cors", ECHO, spec)
            r = self.kumo("deploy", d, check=False)
            self.assertNotEqual(r.returncode, 0, spec)
            self.assertIn(message, r.stderr + r.stdout)


if __name__ == "__main__":
    unittest.main()
