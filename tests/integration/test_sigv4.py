"""AWS Signature Version 4 on the S3 endpoint with keys on, through Debian's boto3: signed,
presigned and aws-chunked requests and S3's errors for bad ones, what a key's grants allow,
public-read buckets, and two tenants' buckets of the same name."""
import hashlib
import hmac
import http.client
import os
import shutil
import subprocess
import urllib.parse

import boto3
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from harness import KumoTestCase

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
JS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "js")


def error_of(call):
    """The S3 error code and message a boto3 call ends with; None when it succeeds."""
    try:
        call()
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"].get("Message", "")
    return None


def xml_code(body):
    text = body.decode()
    return text.split("<Code>", 1)[1].split("</Code>", 1)[0] if "<Code>" in text else text


class SigV4(KumoTestCase):
    def client(self, key_id, secret, **kw):
        config = Config(signature_version="s3v4", s3={"addressing_style": "path"})
        return boto3.client("s3", endpoint_url=self.server.url + "/s3", region_name="us-east-1",
                            aws_access_key_id=key_id, aws_secret_access_key=secret,
                            config=config, **kw)

    def anonymous(self):
        return boto3.client("s3", endpoint_url=self.server.url + "/s3", region_name="us-east-1",
                            config=Config(s3={"addressing_style": "path"},
                                          signature_version=UNSIGNED))

    def get_url(self, url):
        """GETs a URL exactly as given, with no credential of its own."""
        parts = urllib.parse.urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        conn.request("GET", parts.path + "?" + parts.query)
        r = conn.getresponse()
        body = r.read()
        conn.close()
        return r.status, body

    def test_signed_put_get_and_list_work(self):
        s3 = self.s3_client()
        s3.create_bucket(Bucket="signed")
        s3.put_object(Bucket="signed", Key="a/b.txt", Body=b"hello")
        self.assertEqual(s3.get_object(Bucket="signed", Key="a/b.txt")["Body"].read(), b"hello")
        listed = s3.list_objects_v2(Bucket="signed")
        self.assertEqual([o["Key"] for o in listed["Contents"]], ["a/b.txt"])
        self.assertIn("signed", [b["Name"] for b in s3.list_buckets()["Buckets"]])
        # A session token (as function instances get) is signed along and accepted.
        key_id, secret = self.server.aws_credentials()
        with_token = self.client(key_id, secret, aws_session_token="a-token")
        self.assertEqual(with_token.get_object(Bucket="signed", Key="a/b.txt")["Body"].read(),
                         b"hello")

    def test_wrong_secret_unknown_key_and_no_signature_are_refused(self):
        self.s3_client().create_bucket(Bucket="guarded")
        key_id, secret = self.server.aws_credentials()
        wrong = self.client(key_id, secret[:-1] + ("a" if secret[-1] != "a" else "b"))
        self.assertEqual(error_of(lambda: wrong.put_object(Bucket="guarded", Key="k", Body=b"x"))[0],
                         "SignatureDoesNotMatch")
        unknown = self.client("kk_0000000000000000", secret)
        self.assertEqual(error_of(lambda: unknown.list_objects_v2(Bucket="guarded"))[0],
                         "InvalidAccessKeyId")
        anonymous = self.anonymous()
        self.assertEqual(error_of(lambda: anonymous.put_object(Bucket="guarded", Key="k",
                                                               Body=b"x"))[0], "AccessDenied")
        self.assertEqual(error_of(lambda: anonymous.list_buckets())[0], "AccessDenied")
        r = self.request("GET", "/s3/guarded", key="")
        self.assertEqual((r.status, xml_code(r.body)), (403, "AccessDenied"))
        self.assertEqual(error_of(lambda: self.s3_client().head_object(Bucket="guarded",
                                                                       Key="k"))[0], "404")

    def test_presigned_get_works_until_it_expires_and_tampering_is_refused(self):
        s3 = self.s3_client()
        s3.create_bucket(Bucket="pre")
        s3.put_object(Bucket="pre", Key="k", Body=b"presigned")
        s3.put_object(Bucket="pre", Key="j", Body=b"other")
        url = s3.generate_presigned_url("get_object", Params={"Bucket": "pre", "Key": "k"},
                                        ExpiresIn=600)
        self.assertEqual(self.get_url(url), (200, b"presigned"))

        sig_at = url.index("X-Amz-Signature=") + len("X-Amz-Signature=")
        flipped = url[:sig_at] + ("0" if url[sig_at] != "0" else "1") + url[sig_at + 1:]
        status, body = self.get_url(flipped)
        self.assertEqual((status, xml_code(body)), (403, "SignatureDoesNotMatch"))
        other_path = url.replace("/s3/pre/k?", "/s3/pre/j?")
        status, body = self.get_url(other_path)
        self.assertEqual((status, xml_code(body)), (403, "SignatureDoesNotMatch"))

        short = s3.generate_presigned_url("get_object", Params={"Bucket": "pre", "Key": "k"},
                                          ExpiresIn=1)
        status, body = self.wait_for(lambda: (lambda r: r if r[0] != 200 else None)(
            self.get_url(short)), timeout=60, what="the presigned URL to expire")
        self.assertEqual((status, xml_code(body)), (403, "AccessDenied"))
        self.assertIn(b"Request has expired", body)

    def chunked_put(self, bucket, key, chunks, tamper=None):
        """PUTs `chunks` as a signed aws-chunked body (STREAMING-AWS4-HMAC-SHA256-PAYLOAD),
        signed with botocore's signer and the chunk signatures chained from its signature."""
        key_id, secret = self.server.aws_credentials()
        path = f"/s3/{bucket}/{key}"
        req = AWSRequest(method="PUT", url=self.server.url + path, headers={
            "X-Amz-Content-SHA256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            "Content-Encoding": "aws-chunked",
            "X-Amz-Decoded-Content-Length": str(sum(len(c) for c in chunks))})
        SigV4Auth(Credentials(key_id, secret), "s3", "us-east-1").add_auth(req)
        previous = req.headers["Authorization"].rsplit("Signature=", 1)[1]
        amz_date = req.headers["X-Amz-Date"]
        scope = f"{amz_date[:8]}/us-east-1/s3/aws4_request"
        signing = ("AWS4" + secret).encode()
        for part in (amz_date[:8], "us-east-1", "s3", "aws4_request"):
            signing = hmac.new(signing, part.encode(), hashlib.sha256).digest()
        body = b""
        for data in list(chunks) + [b""]:
            to_sign = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous,
                                 EMPTY_SHA256, hashlib.sha256(data).hexdigest()])
            previous = hmac.new(signing, to_sign.encode(), hashlib.sha256).hexdigest()
            body += f"{len(data):x};chunk-signature={previous}\r\n".encode() + data + b"\r\n"
        if tamper:
            body = tamper(body)
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)
        conn.request("PUT", path, body=body, headers=dict(req.headers.items()))
        r = conn.getresponse()
        reply = r.read()
        conn.close()
        return r.status, reply

    def test_an_aws_chunked_upload_has_every_chunk_verified(self):
        s3 = self.s3_client()
        s3.create_bucket(Bucket="chunks")
        chunks = [bytes([i]) * 65536 for i in range(3)] + [b"tail"]
        status, body = self.chunked_put("chunks", "whole.bin", chunks)
        self.assertEqual(status, 200, body)
        self.assertEqual(s3.get_object(Bucket="chunks", Key="whole.bin")["Body"].read(),
                         b"".join(chunks))

        def flip_in_second_chunk(body):
            at = body.index(bytes([1]) * 16) + 100
            return body[:at] + b"\x07" + body[at + 1:]
        status, body = self.chunked_put("chunks", "tampered.bin", chunks, flip_in_second_chunk)
        self.assertEqual((status, xml_code(body)), (403, "SignatureDoesNotMatch"))
        self.assertEqual(error_of(lambda: s3.head_object(Bucket="chunks", Key="tampered.bin"))[0],
                         "404")
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="chunks")["Contents"]]
        self.assertEqual(keys, ["whole.bin"])

    def test_a_key_reads_only_the_bucket_its_grant_names(self):
        admin = self.s3_client()
        for b in ("granted", "other"):
            admin.create_bucket(Bucket=b)
            admin.put_object(Bucket=b, Key="x", Body=b"in " + b.encode())
        reader = self.s3_client(self.server.add_key("read:bucket/granted"))
        self.assertEqual(reader.get_object(Bucket="granted", Key="x")["Body"].read(),
                         b"in granted")
        self.assertEqual(error_of(lambda: reader.put_object(Bucket="granted", Key="y",
                                                            Body=b"no"))[0], "AccessDenied")
        self.assertEqual(error_of(lambda: reader.get_object(Bucket="other", Key="x"))[0],
                         "AccessDenied")
        self.assertEqual([b["Name"] for b in reader.list_buckets()["Buckets"]], ["granted"])

    def test_a_public_read_bucket_is_readable_anonymously_and_a_private_one_is_not(self):
        admin = self.s3_client()
        admin.create_bucket(Bucket="public", ACL="public-read")
        admin.put_object(Bucket="public", Key="hello.txt", Body=b"for everyone")
        self.kumo("mb", "--public-read", "public-cli")
        admin.put_object(Bucket="public-cli", Key="a", Body=b"from the cli")
        admin.create_bucket(Bucket="private")
        admin.put_object(Bucket="private", Key="hello.txt", Body=b"secret")

        anonymous = self.anonymous()
        self.assertEqual(anonymous.get_object(Bucket="public", Key="hello.txt")["Body"].read(),
                         b"for everyone")
        self.assertEqual(anonymous.get_object(Bucket="public-cli", Key="a")["Body"].read(),
                         b"from the cli")
        self.assertEqual(anonymous.head_object(Bucket="public", Key="hello.txt")
                         ["ContentLength"], 12)
        for refused in (lambda: anonymous.list_objects_v2(Bucket="public"),
                        lambda: anonymous.put_object(Bucket="public", Key="b", Body=b"x"),
                        lambda: anonymous.delete_object(Bucket="public", Key="hello.txt"),
                        lambda: anonymous.get_object(Bucket="private", Key="hello.txt")):
            self.assertEqual(error_of(refused)[0], "AccessDenied")
        grants = admin.get_bucket_acl(Bucket="public")["Grants"]
        self.assertIn("READ", [g["Permission"] for g in grants])
        admin.put_bucket_acl(Bucket="public", ACL="private")
        self.assertEqual(error_of(lambda: anonymous.get_object(Bucket="public",
                                                               Key="hello.txt"))[0],
                         "AccessDenied")

    def test_two_tenants_each_with_a_bucket_named_photos_do_not_see_each_other(self):
        self.server.add_tenant("acme")
        self.server.add_tenant("globex")
        acme_key = self.server.add_key("write", tenant="acme")
        acme = self.s3_client(acme_key)
        globex = self.s3_client(self.server.add_key("write", tenant="globex"))
        acme.create_bucket(Bucket="photos")
        globex.create_bucket(Bucket="photos")
        acme.put_object(Bucket="photos", Key="cat.jpg", Body=b"acme's cat")
        self.assertEqual(error_of(lambda: globex.get_object(Bucket="photos",
                                                            Key="cat.jpg"))[0], "NoSuchKey")
        globex.put_object(Bucket="photos", Key="dog.jpg", Body=b"globex's dog")
        self.assertEqual([o["Key"] for o in acme.list_objects_v2(Bucket="photos")["Contents"]],
                         ["cat.jpg"])
        listed = globex.list_objects_v2(Bucket="photos")
        self.assertEqual((listed["Name"], [o["Key"] for o in listed["Contents"]]),
                         ("photos", ["dog.jpg"]))
        self.assertEqual([b["Name"] for b in acme.list_buckets()["Buckets"]], ["photos"])
        # boto3 refuses '~' in a bucket name itself; raw requests show what the server does.
        r = self.request("GET", "/s3/globex~photos/dog.jpg", key=acme_key)
        self.assertEqual((r.status, xml_code(r.body)), (403, "AccessDenied"))
        # The operator names them as kept.
        self.assertEqual(self.request("GET", "/s3/acme~photos/cat.jpg").body, b"acme's cat")

    def test_the_js_sdk_signs_with_a_kumo_key_and_a_wrong_secret_is_refused(self):
        if not shutil.which("node") or not os.path.isdir(os.path.join(JS_DIR, "node_modules")):
            self.skipTest("node or tests/js/node_modules is missing")
        path = os.path.join(self.tmp, "js.txt")
        with open(path, "w") as f:
            f.write("from the js sdk")
        key_id, secret = self.server.aws_credentials()

        def upload(secret):
            return subprocess.run(["node", os.path.join(JS_DIR, "s3_upload.mjs"),
                                   self.server.url + "/s3", "js-bucket", f"a.txt={path}"],
                                  capture_output=True, text=True, timeout=120,
                                  env=dict(os.environ, AWS_ACCESS_KEY_ID=key_id,
                                           AWS_SECRET_ACCESS_KEY=secret))
        r = upload(secret)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.s3_client().get_object(Bucket="js-bucket", Key="a.txt")["Body"]
                         .read(), b"from the js sdk")
        r = upload(secret[:-1] + ("a" if secret[-1] != "a" else "b"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("SignatureDoesNotMatch", r.stderr)
