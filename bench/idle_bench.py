"""A/B of two kumo binaries on the warm path after an idle gap: one instance of the no-op
function each, and invocations sent one at a time, --gap ms apart, alternating between the two
servers so both see the same machine noise. With a gap over the freeze delay (100 ms) every
invocation finds its instance frozen and thaws it first; with a shorter one it never does.
Prints p50/p99 of request to response per binary. Usage:
  /usr/bin/python3 bench/idle_bench.py --a OLD_KUMO --b NEW_KUMO [--gap 200] [--count 100]
      [--b-args "--cpu-mb-per-vcpu 0"]
"""
import argparse
import http.client
import os
import shutil
import statistics
import tempfile
import time

import gateway_bench as g
from harness import Server

HERE = os.path.dirname(os.path.abspath(__file__))


def invoke_us(conn):
    start = time.perf_counter()
    conn.request("POST", "/api/v1/functions/noop/invoke", body=b"{}",
                 headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        raise RuntimeError(f"invoke answered {response.status}")
    return (time.perf_counter() - start) * 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--a", required=True, help="baseline kumo binary")
    ap.add_argument("--b", required=True, help="kumo binary under test")
    ap.add_argument("--b-args", default="", help="extra `kumo serve` flags for b")
    ap.add_argument("--gap", type=int, default=200, help="ms between invocations")
    ap.add_argument("--count", type=int, default=100)
    args = ap.parse_args()
    print("load average:", open("/proc/loadavg").read().strip(), "| cores:", os.cpu_count())
    tmp = tempfile.mkdtemp(prefix="kumo-idle-")
    servers = {}
    try:
        for name, binary, extra in (("a", args.a, ""), ("b", args.b, args.b_args)):
            binary = os.path.abspath(binary)
            servers[name] = Server(os.path.join(tmp, name), extra.split(), binary=binary).start()
            g.kumo_cli(binary, servers[name].url, "deploy", os.path.join(HERE, "functions", "noop"))
            while g.instances(binary, servers[name].url, "noop") < 1:
                time.sleep(0.1)
        conns = {n: http.client.HTTPConnection("127.0.0.1", s.port) for n, s in servers.items()}
        times = {n: [] for n in servers}
        for i in range(args.count + 5):
            for name in ("a", "b") if i % 2 == 0 else ("b", "a"):
                took = invoke_us(conns[name])
                if i >= 5:  # the first ones warm the connection and the instance
                    times[name].append(took)
            time.sleep(args.gap / 1000)
        print(f"{args.count} invocations each, {args.gap} ms apart, b with '{args.b_args}'")
        for name, ts in times.items():
            ts.sort()
            print(f"{name}: p50 {statistics.median(ts):6.0f}µs  p99 {ts[len(ts) * 99 // 100]:6.0f}µs")
    finally:
        for s in servers.values():
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
