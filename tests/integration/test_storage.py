"""The embedded object store against a real `kumo serve`: the real @aws-sdk/client-s3 at
$KUMO_URL/s3, S3's XML errors, the `kumo mb|put|get|ls-objects|rm-object` commands, objects
kept across a restart, and functions triggered by object changes and posted notifications."""
import json
import os
import shutil
import subprocess
import tempfile

from harness import KumoTestCase

JS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "js")

# Prints the event it got as one JSON line, so a test can read it back from the log.
PRINTER = """
    import json
    def handle(event, context):
        print("EVENT " + json.dumps(event, sort_keys=True))
"""


def s3_code(body):
    """The <Code> of an S3 XML error body."""
    text = body.decode()
    return text.split("<Code>", 1)[1].split("</Code>", 1)[0] if "<Code>" in text else text


class ObjectStore(KumoTestCase):
    def write_file(self, name, data):
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    # --- the AWS SDK ----------------------------------------------------------------------
    def test_the_aws_sdk_for_javascript_works_against_the_s3_endpoint(self):
        if not shutil.which("node") or not os.path.isdir(os.path.join(JS_DIR, "node_modules")):
            self.skipTest("node or tests/js/node_modules is missing")
        key_id, secret = self.server.aws_credentials()
        r = subprocess.run(["node", os.path.join(JS_DIR, "s3_client.mjs"),
                            self.server.url + "/s3", "sdk-bucket"],
                           capture_output=True, text=True, timeout=180,
                           env=dict(os.environ, AWS_ACCESS_KEY_ID=key_id,
                                    AWS_SECRET_ACCESS_KEY=secret))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        out = json.loads(r.stdout)
        self.assertEqual(out["create"], 200)
        self.assertEqual(out["create_again"]["name"], "BucketAlreadyOwnedByYou")
        self.assertEqual(out["create_again"]["status"], 409)
        self.assertIn("sdk-bucket", out["buckets"])
        # PutObject of a string, then GetObject: body, type, user metadata, ETag and the CRC32
        # that the SDK checked against the body.
        self.assertEqual(out["put_etag"], '"5eb63bbbe01eeed093cb22bb8f5acdc3"')
        self.assertEqual(out["get"], {"body": "hello world", "type": "text/plain",
                                      "meta": {"owner": "ada"},
                                      "etag": '"5eb63bbbe01eeed093cb22bb8f5acdc3"',
                                      "crc32": "DUoRhQ==", "length": 11})
        self.assertTrue(out["binary_md5_matches"])
        self.assertEqual(out["stream_body"], "streamed body")  # sent aws-chunked
        self.assertEqual(out["odd_body"], "odd")
        self.assertEqual(out["range"], {"body": "world", "content_range": "bytes 6-10/11"})
        self.assertEqual(out["suffix_range"], "world")
        self.assertEqual(out["head"]["length"], 300 * 1024)
        self.assertTrue(out["head"]["modified"])
        # ListObjectsV2: delimiter, prefix, pages.
        self.assertEqual(out["list_top"], {"prefixes": ["bin/", "docs/", "pages/", "unicode/"],
                                           "keys": []})
        self.assertEqual([o["key"] for o in out["list_docs"]],
                         ["docs/hello.txt", "docs/stream.txt"])
        self.assertEqual(out["list_docs"][1]["size"], 13)
        self.assertEqual(out["list_pages"], {"keys": [f"pages/item-{i}" for i in range(5)],
                                             "pages": 3})
        # Multipart: 12 MiB in three 5 MiB parts, with S3's "<md5 of md5s>-3" ETag.
        self.assertEqual(out["bad_order"]["name"], "InvalidPartOrder")
        self.assertEqual(out["bad_order"]["status"], 400)
        self.assertEqual(out["bad_part"]["name"], "InvalidPart")
        self.assertEqual(out["multipart"]["parts"], 3)
        self.assertTrue(out["multipart"]["etag"].endswith('-3"'))
        self.assertTrue(out["multipart"]["md5_matches"])
        self.assertEqual(out["multipart"]["length"], 12 * 1024 * 1024 + 123)
        self.assertEqual(out["multipart"]["type"], "application/x-test")
        self.assertEqual(out["after_abort"]["name"], "NoSuchUpload")
        self.assertEqual(out["copy_body"], "hello world")
        self.assertEqual(out["deleted"], ["pages/item-0", "pages/item-1"])
        # Errors carry S3's codes and statuses.
        self.assertEqual((out["no_such_bucket"]["name"], out["no_such_bucket"]["status"]),
                         ("NoSuchBucket", 404))
        self.assertEqual((out["no_such_key"]["name"], out["no_such_key"]["status"]),
                         ("NoSuchKey", 404))
        self.assertEqual(out["head_missing"]["status"], 404)
        self.assertEqual((out["bad_range"]["name"], out["bad_range"]["status"]),
                         ("InvalidRange", 416))
        self.assertEqual(out["bad_bucket_name"]["name"], "InvalidBucketName")
        self.assertEqual(out["delete"], 204)
        self.assertEqual(out["after_delete"]["name"], "NoSuchKey")

    # --- raw HTTP -------------------------------------------------------------------------
    def test_bad_requests_get_s3_xml_errors_with_the_right_status(self):
        self.assertEqual(self.request("PUT", "/s3/errs").status, 200)
        again = self.request("PUT", "/s3/errs")
        self.assertEqual((again.status, s3_code(again.body)), (409, "BucketAlreadyOwnedByYou"))
        missing = self.request("GET", "/s3/nope/key")
        self.assertEqual((missing.status, s3_code(missing.body)), (404, "NoSuchBucket"))
        self.assertEqual(missing.header("content-type"), "application/xml")
        self.assertTrue(missing.header("x-amz-request-id"))
        no_key = self.request("GET", "/s3/errs/absent")
        self.assertEqual((no_key.status, s3_code(no_key.body)), (404, "NoSuchKey"))
        head = self.request("HEAD", "/s3/errs/absent")
        self.assertEqual((head.status, head.body), (404, b""))

        self.assertEqual(self.request("PUT", "/s3/errs/k", body="0123456789").status, 200)
        r = self.request("GET", "/s3/errs/k", headers={"Range": "bytes=20-"})
        self.assertEqual((r.status, s3_code(r.body)), (416, "InvalidRange"))
        r = self.request("PUT", "/s3/errs/k", body="changed",
                         headers={"Content-MD5": "AAAAAAAAAAAAAAAAAAAAAA=="})
        self.assertEqual((r.status, s3_code(r.body)), (400, "BadDigest"))
        r = self.request("PUT", "/s3/errs/k", body="changed",
                         headers={"x-amz-checksum-crc32": "AAAAAA=="})
        self.assertEqual((r.status, s3_code(r.body)), (400, "BadDigest"))
        self.assertEqual(self.request("GET", "/s3/errs/k").body, b"0123456789")

        r = self.request("POST", "/s3/errs/k?uploads")
        upload_id = r.body.decode().split("<UploadId>")[1].split("<")[0]
        r = self.request("POST", f"/s3/errs/k?uploadId={upload_id}", body="<not xml")
        self.assertEqual((r.status, s3_code(r.body)), (400, "MalformedXML"))
        r = self.request("POST", "/s3/errs/k?uploadId=unknown",
                         body="<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>"
                              "<ETag>x</ETag></Part></CompleteMultipartUpload>")
        self.assertEqual((r.status, s3_code(r.body)), (404, "NoSuchUpload"))
        r = self.request("PUT", f"/s3/errs/k?partNumber=0&uploadId={upload_id}", body="x")
        self.assertEqual((r.status, s3_code(r.body)), (400, "InvalidArgument"))
        r = self.request("PUT", "/s3/Bad_Bucket")
        self.assertEqual((r.status, s3_code(r.body)), (400, "InvalidBucketName"))
        r = self.request("DELETE", "/s3/errs")
        self.assertEqual((r.status, s3_code(r.body)), (409, "BucketNotEmpty"))
        r = self.request("GET", "/s3/errs?tagging")
        self.assertEqual((r.status, s3_code(r.body)), (501, "NotImplemented"))

    def test_a_key_with_dot_segments_stays_a_key(self):
        self.assertEqual(self.request("PUT", "/s3/dots").status, 200)
        r = self.request("PUT", "/s3/dots/..%2F..%2F..%2Fescaped", body="inside")
        self.assertEqual(r.status, 200)
        self.assertEqual(self.request("GET", "/s3/dots/..%2F..%2F..%2Fescaped").body, b"inside")
        data = self.server.data_dir
        self.assertFalse(os.path.exists(os.path.join(data, "escaped")))
        self.assertFalse(os.path.exists(os.path.join(data, "objects", "escaped")))

    # --- the CLI --------------------------------------------------------------------------
    def test_cli_makes_buckets_and_puts_gets_lists_and_removes_objects(self):
        self.assertIn("created bucket photos", self.kumo("mb", "photos").stdout)
        again = self.kumo("mb", "photos", check=False)
        self.assertEqual(again.returncode, 1)
        self.assertIn("already exists", again.stderr)
        bad = self.kumo("mb", "Bad_Name", check=False)
        self.assertEqual(bad.returncode, 1)
        self.assertIn("not a valid bucket name", bad.stderr)

        path = self.write_file("cat.txt", b"a cat\n")
        put = self.kumo("put", "photos", "cats/my cat ü.txt", path).stdout
        self.assertIn("uploaded s3://photos/cats/my cat ü.txt (6 B", put)
        self.kumo("put", "photos", "dogs/rex.txt", "-", input="a dog")
        self.assertEqual(self.kumo("get", "photos", "cats/my cat ü.txt").stdout, "a cat\n")
        dest = os.path.join(self.tmp, "back.txt")
        self.assertIn("downloaded", self.kumo("get", "photos", "dogs/rex.txt", "-o", dest).stdout)
        with open(dest) as f:
            self.assertEqual(f.read(), "a dog")

        table = self.kumo("ls-objects", "photos").stdout
        self.assertIn("KEY", table)
        self.assertIn("cats/my cat ü.txt", table)
        self.assertIn("dogs/rex.txt", table)
        listed = json.loads(self.kumo("ls-objects", "photos", "--prefix", "dogs/", "--json").stdout)
        self.assertEqual([(o["key"], o["size"]) for o in listed], [("dogs/rex.txt", 5)])
        self.assertEqual(len(listed[0]["etag"]), 32)

        self.assertIn("removed", self.kumo("rm-object", "photos", "dogs/rex.txt").stdout)
        gone = self.kumo("get", "photos", "dogs/rex.txt", check=False)
        self.assertEqual(gone.returncode, 1)
        self.assertIn("does not exist", gone.stderr)
        self.assertIn("kumo ls-objects photos", gone.stderr)
        no_bucket = self.kumo("put", "nobucket", "k", path, check=False)
        self.assertEqual(no_bucket.returncode, 1)
        self.assertIn("`kumo mb nobucket` creates it", no_bucket.stderr)
        no_file = self.kumo("put", "photos", "k", os.path.join(self.tmp, "absent"), check=False)
        self.assertEqual(no_file.returncode, 2)
        self.assertIn("cannot open", no_file.stderr)

    def test_cli_sends_a_large_file_as_a_multipart_upload(self):
        self.kumo("mb", "large")
        data = os.urandom(20 * 1024 * 1024 + 7)
        path = self.write_file("large.bin", data)
        out = self.kumo("put", "large", "blob.bin", path).stdout
        self.assertRegex(out, r'ETag "[0-9a-f]{32}-2"')
        dest = os.path.join(self.tmp, "large.back")
        self.kumo("get", "large", "blob.bin", "-o", dest)
        with open(dest, "rb") as f:
            self.assertEqual(f.read(), data)


class ObjectStoreConfigAndRestart(KumoTestCase):
    @classmethod
    def setUpClass(cls):
        cls.config_dir = tempfile.mkdtemp(prefix="kumo-it-storage-")
        config = os.path.join(cls.config_dir, "kumo.yaml")
        with open(config, "w") as f:
            f.write("storage: {max_object_bytes: 1MiB}\n")
        cls.server_args = ("--config", config)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.config_dir, ignore_errors=True)

    def test_a_body_over_max_object_bytes_is_entity_too_large(self):
        self.assertEqual(self.request("PUT", "/s3/limits").status, 200)
        r = self.request("PUT", "/s3/limits/big", body=b"x" * (1024 * 1024 + 1))
        self.assertEqual((r.status, s3_code(r.body)), (400, "EntityTooLarge"))
        self.assertEqual(self.request("PUT", "/s3/limits/fits", body=b"x" * 1024).status, 200)

    def test_objects_survive_a_restart(self):
        self.kumo("mb", "kept")
        self.kumo("put", "kept", "a/b.txt", "-", input="still here")
        self.server.stop()
        self.server.start()
        self.assertEqual(self.kumo("get", "kept", "a/b.txt").stdout, "still here")
        listed = json.loads(self.kumo("ls-objects", "kept", "--json").stdout)
        self.assertEqual([o["key"] for o in listed], ["a/b.txt"])


class StorageTriggers(KumoTestCase):
    def events_in_log(self, name):
        out = self.kumo("logs", name).stdout
        return [json.loads(line.split("EVENT ", 1)[1]) for line in out.splitlines()
                if "EVENT " in line]

    def wait_keys(self, name, n):
        def keys():
            got = [e["Records"][0]["s3"]["object"]["key"] for e in self.events_in_log(name)]
            return got if len(got) >= n else None
        return self.wait_for(keys, timeout=30, what=f"{n} events in {name}'s log")

    def test_object_changes_and_posted_notifications_invoke_matching_functions(self):
        self.deploy("on-image", PRINTER, """
            triggers:
              - storage: {bucket: uploads, events: [created], prefix: images/, suffix: .jpg}
        """)
        self.deploy("on-delete", PRINTER, """
            triggers:
              - storage: {bucket: uploads, events: [deleted]}
        """)
        self.kumo("mb", "uploads")
        for key in ("images/cat.jpg", "images/cat.png", "docs/cat.jpg"):
            self.kumo("put", "uploads", key, "-", input="bytes")
        self.kumo("rm-object", "uploads", "images/cat.png")
        # An external S3/MinIO posts its notification; the key is URL-encoded as S3 does.
        minio = {"EventName": "s3:ObjectCreated:Put", "Key": "uploads/images/from minio.jpg",
                 "Records": [{"eventVersion": "2.0", "eventSource": "minio:s3",
                              "eventName": "s3:ObjectCreated:Put",
                              "s3": {"bucket": {"name": "uploads"},
                                     "object": {"key": "images/from+minio.jpg", "size": 5}}}]}
        r = self.request("POST", "/api/v1/storage/events", minio)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json()["accepted"], 1)

        self.assertEqual(sorted(self.wait_keys("on-image", 2)),
                         ["images/cat.jpg", "images/from+minio.jpg"])
        record = next(e["Records"][0] for e in self.events_in_log("on-image")
                      if e["Records"][0]["s3"]["object"]["key"] == "images/cat.jpg")
        self.assertEqual(record["eventSource"], "aws:s3")
        self.assertEqual(record["eventName"], "ObjectCreated:Put")
        self.assertEqual(record["s3"]["bucket"]["name"], "uploads")
        self.assertEqual(record["s3"]["object"]["size"], 5)
        self.assertEqual(len(record["s3"]["object"]["eTag"]), 32)
        removed = self.wait_keys("on-delete", 1)
        self.assertEqual(removed, ["images/cat.png"])
        self.assertEqual(self.events_in_log("on-delete")[0]["Records"][0]["eventName"],
                         "ObjectRemoved:Delete")
        # Nothing else matched: not the .png, not the key outside images/.
        self.assertEqual(len(self.events_in_log("on-image")), 2)

    def test_a_malformed_notification_is_a_400(self):
        r = self.request("POST", "/api/v1/storage/events", body="not json")
        self.assertEqual(r.status, 400)
        self.assertIn("Records", r.json()["error"]["message"])
        r = self.request("POST", "/api/v1/storage/events",
                         {"Records": [{"eventName": "ObjectCreated:Put", "s3": {}}]})
        self.assertEqual(r.status, 400)
        self.assertIn("s3.bucket.name", r.json()["error"]["message"])


if __name__ == "__main__":
    import unittest
    unittest.main()
