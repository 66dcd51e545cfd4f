"""detections: GET /fn/detections/BUCKET/KEY answers the faces found in s3://BUCKET/KEY, as
the `detect` function recorded them, with a link to the annotated copy."""
import json
import os
import urllib.error
import urllib.parse
import urllib.request

KUMO_URL = os.environ["KUMO_URL"]
TABLE = os.environ.get("TABLE", "detections")


def auth():
    """The instance's own key (the permissions in kumo.yaml), read at each call: Kumo gives
    every instance a key of its own."""
    return {"Authorization": "Bearer " + os.environ.get("KUMO_API_KEY", "")}


def reply(status, body):
    return {"statusCode": status, "headers": {"content-type": "application/json"},
            "body": json.dumps(body)}


def handle(event, context):
    if event.get("requestContext", {}).get("http", {}).get("method", "GET") != "GET":
        return reply(405, {"error": "only GET"})
    path = urllib.parse.unquote(event.get("rawPath", "")).strip("/")  # BUCKET/KEY
    if "/" not in path:
        return reply(400, {"error": "GET /fn/detections/BUCKET/KEY, e.g. photos/images/a.jpg"})
    url = f"{KUMO_URL}/api/v1/tables/{TABLE}/items/{urllib.parse.quote(path)}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=auth()),
                                    timeout=5) as resp:
            item = json.loads(resp.read())["item"]
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return reply(404, {"error": f"no detections for {path} (yet); upload it under "
                                        "images/ in the photos bucket"})
        raise
    if "annotated" in item:
        item["annotated_url"] = f"{KUMO_URL}/s3/{item['bucket']}/{item['annotated']}"
    return reply(200, item)
