"""What checking the caller's key costs on the warm path: two servers of the same binary side
by side, one with API keys (the default) and one with `--auth none`, each with the no-op
function on two warm instances; wrk -t1 alternates between them so both see the same machine
noise. Prints medians at 1 and 16 connections and the difference. Usage:
  /usr/bin/python3 bench/auth_bench.py --kumo build/src/server/kumo [--rounds 4] [--seconds 3]
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
MODES = {"keys": [], "none": ["--auth", "none"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kumo", required=True)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--seconds", type=int, default=3)
    args = ap.parse_args()
    kumo = os.path.abspath(args.kumo)
    print("load average:", open("/proc/loadavg").read().strip(), "| cores:", os.cpu_count())
    tmp = tempfile.mkdtemp(prefix="kumo-auth-bench-")
    servers = {}
    try:
        for mode, extra in MODES.items():
            servers[mode] = Server(os.path.join(tmp, mode), extra, binary=kumo).start()
            g.kumo_cli(kumo, servers[mode].url, "deploy", os.path.join(HERE, "functions", "noop"))
            while g.instances(kumo, servers[mode].url, "noop") < 2:
                time.sleep(0.1)
        runs = {(mode, c): [] for mode in MODES for c in (1, 16)}
        for r in range(args.rounds):
            for c in (1, 16):
                for mode in ("keys", "none") if r % 2 == 0 else ("none", "keys"):
                    url = servers[mode].url + "/api/v1/functions/noop/invoke"
                    lua = g.write_post_lua(os.path.join(tmp, f"post-{mode}.lua"), url)
                    runs[(mode, c)].append(g.wrk(url, c, args.seconds, lua))
        print(f"warm invoke of a no-op, wrk -t1 -d{args.seconds}s, {args.rounds} alternating "
              "rounds, medians")
        for c in (1, 16):
            med = {m: {k: statistics.median(x[k] for x in runs[(m, c)])
                       for k in ("rps", "p50_us", "p99_us", "non2xx")} for m in MODES}
            for m in MODES:
                print(f"c={c:<3} {m:>4}: {med[m]['rps']:7.0f} req/s  p50 {med[m]['p50_us']:6.0f}µs  "
                      f"p99 {med[m]['p99_us']:6.0f}µs" +
                      (f"  ({med[m]['non2xx']:.0f} non-2xx!)" if med[m]["non2xx"] else ""))
            print(f"c={c:<3} keys - none: p50 {med['keys']['p50_us'] - med['none']['p50_us']:+.0f}µs, "
                  f"req/s ratio {med['keys']['rps'] / med['none']['rps']:.3f}")
    finally:
        for s in servers.values():
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
