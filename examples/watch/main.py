"""Logs what happened, one line per record: queue messages and object changes."""


def describe(record):
    if "s3" in record:
        obj = record["s3"]["object"]
        return "%s %s/%s (%s bytes)" % (record["eventName"], record["s3"]["bucket"]["name"],
                                        obj["key"], obj.get("size", "-"))
    return "message on %s: %s" % (record["eventSourceARN"].rsplit(":", 1)[-1], record["body"])


def handle(event, context):
    records = event.get("Records", [])
    for record in records:
        print(describe(record))
    return {"records": len(records), "attempt": context.attempt}
