"""Signs requests with botocore, the real client, and prints them as JSON for auth_test.

Each case: how it is signed ("header" or "presigned"), whether S3's URI rules apply, the
request as it would go on the wire (method, path, raw query, headers, body), and the secret
the verifier should find for the access key id.
"""
import json
import sys
from urllib.parse import urlsplit

import botocore.session
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

AKID = "AKIAKUMOTEST0000001"
SECRET = "kumo/secret+with/slashes=="
ENDPOINT = "http://127.0.0.1:9000"


def wire(method, url, headers, body, kind, s3):
    parts = urlsplit(url)
    headers = [[k, v] for k, v in headers.items()]
    if not any(k.lower() == "host" for k, _ in headers):
        headers.append(["Host", parts.netloc])  # what the HTTP client adds
    return {"kind": kind, "s3": s3, "method": method, "path": parts.path,
            "query": parts.query, "headers": headers,
            "body": body}


def header_signed(auth_cls, service, method, url, body, headers):
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    auth_cls(Credentials(AKID, SECRET), service, "eu-west-1").add_auth(request)
    prepared = request.prepare()
    return wire(method, prepared.url, prepared.headers, body, "header", service == "s3")


def presigned(key, expires):
    client = botocore.session.get_session().create_client(
        "s3", endpoint_url=ENDPOINT, region_name="us-east-1", aws_access_key_id=AKID,
        aws_secret_access_key=SECRET,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    url = client.generate_presigned_url(
        "get_object", Params={"Bucket": "photos", "Key": key}, ExpiresIn=expires)
    return wire("GET", url, {}, "", "presigned", True)


def main():
    cases = [
        header_signed(S3SigV4Auth, "s3", "PUT", ENDPOINT + "/photos/dir/my%20file%2B%24.txt",
                      "hello", {"Content-Type": "text/plain", "x-amz-meta-note": "a  b"}),
        header_signed(S3SigV4Auth, "s3", "GET",
                      ENDPOINT + "/photos?list-type=2&prefix=dir%2F&max-keys=5", "", {}),
        header_signed(SigV4Auth, "lambda", "POST",
                      ENDPOINT + "/2015-03-31/functions/my%20fn/invocations?Qualifier=%24LATEST",
                      '{"x": 1}', {"Content-Type": "application/json"}),
        presigned("dir/report 2024+final.txt", 3600),
    ]
    json.dump({"secret": SECRET, "cases": cases}, sys.stdout)


if __name__ == "__main__":
    main()
