"""hello: echoes its event, and greets over HTTP (GET /fn/hello/greet?name=you)."""
import os
import time

GREETING = os.environ.get("GREETING", "Hello")
STARTED = time.time()  # module-level code runs once per instance (the init phase)


def handle(event, context):
    if event.get("version") == "2.0" and "requestContext" in event:  # the HTTP trigger
        name = (event.get("queryStringParameters") or {}).get("name", "world")
        return {
            "statusCode": 200,
            "headers": {"content-type": "text/plain"},
            "body": f"{GREETING}, {name}! (path {event['rawPath']})\n",
        }
    if "sleep_ms" in event:  # lets the tour keep instances busy to watch them scale out
        time.sleep(event["sleep_ms"] / 1000)
    print(f"greeting {event.get('name', 'world')}")
    return {
        "message": f"{GREETING}, {event.get('name', 'world')}!",
        "event": event,
        "request_id": context.aws_request_id,
        "instance_age_s": round(time.time() - STARTED, 3),
    }
