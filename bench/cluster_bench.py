"""Cluster mode's times on loopback: how long after `kill -9` a node is gone from another
node's view (its etcd lease of 3 s expiring), and how long a deploy through one node takes
to be invocable through another (package through NATS JetStream, entry through etcd), with
a single node's deploy-to-invocable time as the baseline. Medians of repeats.

  /usr/bin/python3 bench/cluster_bench.py --kumo build/src/server/kumo [--repeats 3]
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
os.environ.setdefault("KUMO_BIN", os.path.abspath("build/src/server/kumo"))

import gateway_bench as g  # noqa: E402
from harness import Server  # noqa: E402
from test_cluster import Etcd, Nats, node_ids  # noqa: E402

FUNCTION = "def handle(event, context):\n    return {'v': V}\n"


def write_function(tmp, v):
    d = os.path.join(tmp, f"fn{v}")
    os.makedirs(d)
    with open(os.path.join(d, "kumo.yaml"), "w") as f:
        f.write("name: timed\nruntime: python3\nhandler: main.handle\n")
    with open(os.path.join(d, "main.py"), "w") as f:
        f.write(FUNCTION.replace("V", str(v)))
    return d


def until(check):
    while not check():
        time.sleep(0.02)


def returns(server, v):
    def check():
        try:
            r = g.post(server.url + "/api/v1/functions/timed/invoke", b"{}")
            return json.loads(r) == {"v": v}
        except Exception:  # not deployed there yet
            return False
    return check


def deploy_to_invocable(kumo, via, on, tmp, v):
    start = time.time()
    g.kumo_cli(kumo, via.url, "deploy", write_function(tmp, v))
    until(returns(on, v))
    return time.time() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kumo", required=True)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    kumo = os.path.abspath(args.kumo)
    print("load average:", open("/proc/loadavg").read().strip(), "| cores:", os.cpu_count())
    tmp = tempfile.mkdtemp(prefix="kumo-cluster-bench-")
    etcd, nats, servers = Etcd(tmp), Nats(tmp), []
    try:
        def node(name):
            s = Server(os.path.join(tmp, name), ["--cluster", "--etcd", etcd.url, "--nats",
                                                  nats.url, "--node-id", name], binary=kumo)
            servers.append(s.start())
            return s
        a, b = node("a"), node("b")
        single = Server(os.path.join(tmp, "single"), binary=kumo).start()
        servers.append(single)
        local, remote, gone = [], [], []
        for i in range(args.repeats):
            local.append(deploy_to_invocable(kumo, single, single, tmp, 100 + i))
            remote.append(deploy_to_invocable(kumo, a, b, tmp, i))
        for i in range(args.repeats):
            c = node(f"c{i}")
            until(lambda: len(node_ids(a)) == 3)
            c.stop(signal.SIGKILL)
            killed = time.time()
            until(lambda: len(node_ids(a)) == 2)
            gone.append(time.time() - killed)
        med = statistics.median
        print(f"deploy to invocable, single node:            median {med(local):.2f} s "
              f"(of {[round(x, 2) for x in local]})")
        print(f"deploy through node a, invocable through b:  median {med(remote):.2f} s "
              f"(of {[round(x, 2) for x in remote]}), ratio {med(remote) / med(local):.2f}")
        print(f"kill -9 to gone from another node's view:    median {med(gone):.2f} s "
              f"(of {[round(x, 2) for x in gone]}; lease TTL 3 s)")
    finally:
        for s in servers:
            s.stop()
        nats.stop()
        etcd.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
