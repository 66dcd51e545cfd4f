"""A/B of two kumo binaries on the warm path: both servers run side by side with the no-op
function (two warm instances each) and wrk -t1 alternates between them, so both see the same
machine noise. Prints medians per binary at 1 and 16 connections. Usage:
  /usr/bin/python3 bench/ab_bench.py --a OLD_KUMO --b NEW_KUMO [--rounds 4] [--seconds 3]
"""
import argparse
import os
import shutil
import statistics
import tempfile
import time

import gateway_bench as g
from harness import Server

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--a", required=True, help="baseline kumo binary")
    ap.add_argument("--b", required=True, help="kumo binary under test")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--seconds", type=int, default=3)
    args = ap.parse_args()
    bins = {"a": os.path.abspath(args.a), "b": os.path.abspath(args.b)}
    print("load average:", open("/proc/loadavg").read().strip(), "| cores:", os.cpu_count())
    tmp = tempfile.mkdtemp(prefix="kumo-ab-")
    servers = {}
    try:
        for name, binary in bins.items():
            servers[name] = Server(os.path.join(tmp, name), binary=binary).start()
            g.kumo_cli(binary, servers[name].url, "deploy", os.path.join(HERE, "functions", "noop"))
            while g.instances(binary, servers[name].url, "noop") < 2:
                time.sleep(0.1)
        runs = {(name, c): [] for name in bins for c in (1, 16)}
        for r in range(args.rounds):
            for c in (1, 16):
                for name in ("a", "b") if r % 2 == 0 else ("b", "a"):
                    url = servers[name].url + "/api/v1/functions/noop/invoke"
                    lua = g.write_post_lua(os.path.join(tmp, f"post-{name}.lua"), url)
                    runs[(name, c)].append(g.wrk(url, c, args.seconds, lua))
        print(f"wrk -t1 -d{args.seconds}s, {args.rounds} alternating rounds, medians")
        for c in (1, 16):
            base = statistics.median(x["rps"] for x in runs[("a", c)])
            for name in bins:
                rs = runs[(name, c)]
                rps = statistics.median(x["rps"] for x in rs)
                print(f"c={c:<3} {name}: {rps:7.0f} req/s  "
                      f"p50 {statistics.median(x['p50_us'] for x in rs):6.0f}µs  "
                      f"p99 {statistics.median(x['p99_us'] for x in rs):6.0f}µs  "
                      f"b/a {rps / base:5.2f}")
    finally:
        for s in servers.values():
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
