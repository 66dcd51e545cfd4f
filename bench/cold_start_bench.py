"""Cold starts of python3 functions, forked from a zygote against a fresh interpreter, side by
side in one run: (a) a no-op, (b) a function importing numpy and cv2, (c) one importing torch
and building a small nn.Sequential in init (docs/zygote.md).

Each function is deployed twice, `zygote: true` and `zygote: false`, with `idle_timeout: 0s`.
Before every measured request the script waits until the function has zero instances, so
each request starts one: the time is request to response, cold start included. The zygote
(the template that ran init) outlives scale-to-zero, which is the point. The first request
after deploy runs a fresh interpreter while the template starts beside it; it is reported
apart, not in the percentiles, and the script then waits for the template's init.

Each function is measured twice in the same run: on a server that boxes its instances (the
default, docs/security.md) and on one started with --insecure-no-sandbox; the last column is
what the box adds to the p50.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
from harness import Server, key_headers  # noqa: E402
import gateway_bench as g  # noqa: E402

FUNCTIONS = {
    "noop": (128, "def handle(event, context):\n    return {}\n"),
    "cv": (512, "import numpy\nimport cv2\n\n"
                "def handle(event, context):\n"
                "    return {'shape': list(numpy.zeros((4, 3)).shape)}\n"),
    "torch": (1024, "import torch\n\n"
                    "MODEL = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(),\n"
                    "                            torch.nn.Linear(128, 10)).eval()\n\n"
                    "def handle(event, context):\n"
                    "    with torch.no_grad():\n"
                    "        return MODEL(torch.ones(1, 64)).tolist()\n"),
}
LABELS = {"noop": "(a) no-op", "cv": "(b) numpy + cv2", "torch": "(c) torch model"}


def kumo_cli(kumo, url, *args):
    return g.kumo_cli(kumo, url, *args)


def instances(kumo, url, name):
    return json.loads(kumo_cli(kumo, url, "describe", name, "--json"))["instances"]["total"]


def deploy(kumo, url, tmp, name, memory, code, zygote):
    d = os.path.join(tmp, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "main.py"), "w") as f:
        f.write(code)
    with open(os.path.join(d, "kumo.yaml"), "w") as f:
        f.write(f"name: {name}\nruntime: python3\nhandler: main.handle\nmemory: {memory}\n"
                f"timeout: 30s\nidle_timeout: 0s\nmax_instances: 1\n"
                f"zygote: {'true' if zygote else 'false'}\n")
    kumo_cli(kumo, url, "deploy", d)


def cold_request(kumo, url, name):
    deadline = time.time() + 30
    while instances(kumo, url, name) and time.time() < deadline:
        time.sleep(0.05)
    if instances(kumo, url, name):
        raise RuntimeError(f"{name} did not scale to zero")
    req = urllib.request.Request(f"{url}/api/v1/functions/{name}/invoke", data=b"{}",
                                 method="POST", headers=key_headers(url))
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=60) as r:
        r.read()
        if r.status != 200:
            raise RuntimeError(f"{name}: HTTP {r.status}")
    return (time.perf_counter() - t0) * 1e3


def percentiles(ms):
    s = sorted(ms)
    return statistics.median(s), s[int(0.99 * (len(s) - 1))]


def measure(kumo, server, tmp, key, runs):
    memory, code = FUNCTIONS[key]
    result = {}
    for zygote in (True, False):
        name = f"{key}-{'zygote' if zygote else 'fresh'}"
        deploy(kumo, server.url, tmp, name, memory, code, zygote)
        first = cold_request(kumo, server.url, name)
        # The first launch runs a fresh interpreter while the template starts
        # beside it; give the template the time an init takes before measuring.
        time.sleep(1.5 * first / 1e3 + 0.2)
        ms = [cold_request(kumo, server.url, name) for _ in range(runs)]
        result[zygote] = (first, *percentiles(ms))
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kumo", required=True)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--only", choices=list(FUNCTIONS), action="append")
    args = ap.parse_args()
    kumo = os.path.abspath(args.kumo)
    print("load average:", open("/proc/loadavg").read().strip(), "| cores:", os.cpu_count())
    tmp = tempfile.mkdtemp(prefix="kumo-cold-bench-")
    servers = {
        "box": Server(os.path.join(tmp, "boxed"), binary=kumo).start(),
        "no box": Server(os.path.join(tmp, "bare"), ["--insecure-no-sandbox"], kumo).start(),
    }
    try:
        for key in args.only or list(FUNCTIONS):
            results = {mode: measure(kumo, server, tmp, key, args.runs)
                       for mode, server in servers.items()}
            for mode in servers:
                print_row(key, mode, results[mode], results["no box"])
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def print_row(key, mode, result, bare):
    if not print_row.header:
        print(f"\ncold start, request to response with zero instances, ms (p50/p99 of the runs;"
              f" 'first' = first request after deploy, not counted)")
        print(f"{'function':<18} {'':<6} | {'zygote p50':>10} {'p99':>7} {'first':>7} | "
              f"{'fresh p50':>9} {'p99':>7} | {'p50 ratio':>9} | {'box adds (zygote/fresh)':>23}")
        print_row.header = True
    z, f = result[True], result[False]
    added = f"{z[1] - bare[True][1]:+.1f} / {f[1] - bare[False][1]:+.1f}"
    print(f"{LABELS[key]:<18} {mode:<6} | {z[1]:>10.1f} {z[2]:>7.1f} {z[0]:>7.1f} | "
          f"{f[1]:>9.1f} {f[2]:>7.1f} | {f[1] / z[1]:>8.1f}x | {added:>23}", flush=True)


print_row.header = False

if __name__ == "__main__":
    main()
