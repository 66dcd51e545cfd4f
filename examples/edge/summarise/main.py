"""summarise: reads every device's aggregate and writes one summary of the fleet: how many
devices and readings, the overall mean, min and max, the readings since the previous
summary, and the devices that have gone silent."""
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request

KUMO_URL = os.environ["KUMO_URL"]
SOURCE = os.environ.get("SOURCE", "readings")
TABLE = os.environ.get("TABLE", "summaries")
SILENT_AFTER_S = float(os.environ.get("SILENT_AFTER_S", "300"))


def auth():
    """The instance's own key (the permissions in kumo.yaml), read at each call: Kumo gives
    every instance a key of its own."""
    return {"Authorization": "Bearer " + os.environ.get("KUMO_API_KEY", "")}


def get(path):
    with urllib.request.urlopen(urllib.request.Request(KUMO_URL + path, headers=auth()),
                                timeout=5) as resp:
        return json.loads(resp.read())


def put(key, item):
    req = urllib.request.Request(
        f"{KUMO_URL}/api/v1/tables/{TABLE}/items/{urllib.parse.quote(key, safe='')}",
        data=json.dumps(item).encode(), method="PUT",
        headers={"Content-Type": "application/json", **auth()})
    urllib.request.urlopen(req, timeout=5).close()


def all_devices():
    items, after = [], ""
    while True:
        page = get(f"/api/v1/tables/{SOURCE}/items?limit=1000&after={urllib.parse.quote(after)}")
        items += [i["item"] for i in page["items"]]
        if not page["next"]:
            return items
        after = page["next"]


def previous_total():
    try:
        return get(f"/api/v1/tables/{TABLE}/items/latest")["item"]["readings"]
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return 0
        raise


def summarise(devices, now_ms):
    count = sum(d["count"] for d in devices)
    silent = [d["device"] for d in devices
              if now_ms - d.get("last", {}).get("ts", 0) > SILENT_AFTER_S * 1000]
    return {
        "devices": len(devices),
        "readings": count,
        "mean": round(sum(d["sum"] for d in devices) / count, 3) if count else None,
        "min": min((d["min"] for d in devices), default=None),
        "max": max((d["max"] for d in devices), default=None),
        "per_device": {d["device"]: {"count": d["count"], "mean": d["mean"]} for d in devices},
        "silent": sorted(silent),
    }


def handle(event, context):
    at = event.get("time") or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    summary = summarise(all_devices(), time.time() * 1000)
    summary["at"] = at
    summary["new_readings"] = summary["readings"] - previous_total()
    put(at, summary)
    put("latest", summary)
    print(f"{at}: {summary['readings']} readings from {summary['devices']} devices")
    return summary
