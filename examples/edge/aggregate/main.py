"""aggregate: folds a batch of device readings into one running aggregate per device.

A reading is a JSON message such as {"device": "dev-1", "seq": 7, "temp": 21.5,
"humidity": 40.2, "ts": 1795690000000}, published by a device over MQTT (the connector puts
it on the `readings` topic) or with `kumo publish readings ...`."""
import json
import os
import urllib.error
import urllib.parse
import urllib.request

KUMO_URL = os.environ["KUMO_URL"]
TABLE = os.environ.get("TABLE", "readings")


def auth():
    """The instance's own key (the permissions in kumo.yaml), read at each call: Kumo gives
    every instance a key of its own."""
    return {"Authorization": "Bearer " + os.environ.get("KUMO_API_KEY", "")}


def item_url(key):
    return f"{KUMO_URL}/api/v1/tables/{TABLE}/items/{urllib.parse.quote(key, safe='')}"


def load(device):
    try:
        with urllib.request.urlopen(urllib.request.Request(item_url(device), headers=auth()),
                                    timeout=5) as resp:
            return json.loads(resp.read())["item"]
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return {"device": device, "count": 0, "sum": 0.0, "min": None, "max": None}
        raise


def store(device, item):
    req = urllib.request.Request(item_url(device), data=json.dumps(item).encode(),
                                 method="PUT",
                                 headers={"Content-Type": "application/json", **auth()})
    urllib.request.urlopen(req, timeout=5).close()


def device_of(record, reading):
    """The reading's own `device`, else the MQTT topic's second level (sensors/DEVICE/...)."""
    if reading.get("device"):
        return str(reading["device"])
    topic = record.get("messageAttributes", {}).get("mqtt_topic", {}).get("stringValue", "")
    parts = topic.split("/")
    return parts[1] if len(parts) > 1 else "unknown"


def fold(item, readings):
    for r in readings:
        temp = float(r["temp"])
        item["count"] += 1
        item["sum"] = round(item["sum"] + temp, 6)
        item["min"] = temp if item["min"] is None else min(item["min"], temp)
        item["max"] = temp if item["max"] is None else max(item["max"], temp)
        if r.get("ts", 0) >= item.get("last", {}).get("ts", 0):
            item["last"] = r
    item["mean"] = round(item["sum"] / item["count"], 3)
    return item


def handle(event, context):
    by_device = {}
    skipped = 0
    for record in event.get("Records", []):
        try:
            reading = json.loads(record["body"])
            float(reading["temp"])
        except (ValueError, KeyError, TypeError):
            skipped += 1  # not a reading: retrying would not make it one
            continue
        by_device.setdefault(device_of(record, reading), []).append(reading)
    for device, readings in by_device.items():
        store(device, fold(load(device), readings))
    print(f"{sum(map(len, by_device.values()))} readings from {len(by_device)} devices"
          + (f", {skipped} skipped" if skipped else ""))
    return {"devices": sorted(by_device), "skipped": skipped}
