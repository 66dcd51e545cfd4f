"""`runtime: model` benchmark: a real image model (PaddleOCR's text direction classifier, a
MobileNetV3, on a 48x192 rendered line of text) served through the gateway over KServe v2
JSON, at 1, 8 and 32 concurrent clients, with dynamic batching on (max_size 32, max_delay
5 ms) and off, each on one instance. Prints throughput, p50/p99 latency and where a request's
time goes: the model's forward pass (per request: the pass's time over its rows), the wait
in the batcher's queue, and the rest (HTTP, JSON, gateway, scheduling). Inputs go as
JSON numbers (the protocol's default) and as raw bytes after a JSON header (the binary
tensor extension Triton's clients use); --inputs picks.

Needs scripts/fetch-onnxruntime to have run.
"""
import argparse
import http.client
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from harness import Server, key_headers  # noqa: E402
import gateway_bench as g  # noqa: E402
from test_model import text_input  # noqa: E402

MODEL = os.path.join(ROOT, ".deps", "models", "ocr", "cls.onnx")
SPEC = """name: {name}
runtime: model
handler: cls.onnx
memory: 2048
concurrency: 32
min_instances: 1
max_instances: 1
max_queue: 1000
batch: {{max_size: {max_size}, max_delay: {delay}}}
"""


def deploy(kumo, url, tmp, name, max_size, delay):
    d = os.path.join(tmp, name)
    os.makedirs(d)
    shutil.copy(MODEL, d)
    with open(os.path.join(d, "kumo.yaml"), "w") as f:
        f.write(SPEC.format(name=name, max_size=max_size, delay=delay))
    g.kumo_cli(kumo, url, "deploy", d)


def request_body(binary):
    """The request's body and headers: the rendered text as JSON numbers or raw bytes."""
    tensor = text_input()
    if not binary:
        return json.dumps({"inputs": [tensor]}).encode(), {"content-type": "application/json"}
    raw = struct.pack(f"<{len(tensor['data'])}f", *tensor.pop("data"))
    tensor["parameters"] = {"binary_data_size": len(raw)}
    header = json.dumps({"inputs": [tensor]}).encode()
    return header + raw, {"content-type": "application/octet-stream",
                          "inference-header-content-length": str(len(header))}


def load(port, name, body, headers, clients, seconds):
    """`clients` keep-alive connections sending back to back for `seconds`."""
    samples, lock = [], threading.Lock()
    stop_at = time.time() + seconds

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        mine = []
        while time.time() < stop_at:
            t0 = time.perf_counter()
            conn.request("POST", f"/v2/models/{name}/infer", body, {**headers, **key_headers(port)})
            r = conn.getresponse()
            data = r.read()
            elapsed = time.perf_counter() - t0
            if r.status != 200:
                raise RuntimeError(f"{r.status}: {data[:200]}")
            p = json.loads(data)["parameters"]
            mine.append((elapsed, p["batch_size"], p["queue_us"] / 1e6, p["run_us"] / 1e6))
        conn.close()
        with lock:
            samples.extend(mine)

    started = time.time()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.time() - started
    lat = sorted(s[0] for s in samples)
    n = len(lat)
    return {
        "rps": n / wall,
        "p50_ms": lat[n // 2] * 1e3,
        "p99_ms": lat[min(n - 1, int(n * 0.99))] * 1e3,
        "batch": statistics.mean(s[1] for s in samples),
        "model_ms": statistics.mean(s[3] / s[1] for s in samples) * 1e3,
        "pass_ms": statistics.mean(s[3] for s in samples) * 1e3,
        "queue_ms": statistics.mean(s[2] for s in samples) * 1e3,
        "rest_ms": statistics.mean(s[0] - s[2] - s[3] for s in samples) * 1e3,
    }


def run_mode(port, configs, binary, args):
    body, headers = request_body(binary)
    print(f"\nrequest body {len(body) / 1024:.0f} KiB (1x3x48x192 FP32 as "
          f"{'raw bytes' if binary else 'JSON numbers'})")
    for name, _, _ in configs:
        load(port, name, body, headers, 4, 2)  # warm-up
    print(f"{'clients':>7} {'batching':>9} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
          f"{'batch':>6} {'pass ms':>8} {'model ms/req':>12} {'queue ms':>9} {'rest ms':>8}")
    results = {}
    for clients in (int(c) for c in args.clients.split(",")):
        for name, _, _ in configs:
            r = load(port, name, body, headers, clients, args.seconds)
            results[(clients, name)] = r
            print(f"{clients:>7} {name:>9} {r['rps']:>7.1f} {r['p50_ms']:>7.1f} "
                  f"{r['p99_ms']:>7.1f} {r['batch']:>6.1f} {r['pass_ms']:>8.1f} "
                  f"{r['model_ms']:>12.2f} {r['queue_ms']:>9.1f} {r['rest_ms']:>8.1f}")
    top = max(c for c, _ in results)
    b, u = results[(top, "batched")], results[(top, "unbatched")]
    print(f"at {top} clients: batched/unbatched throughput {b['rps'] / u['rps']:.2f}x "
          f"(target >= 2x), p99 {b['p99_ms'] / u['p99_ms']:.2f}x (target <= 2x)")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--kumo", default="build/src/server/kumo")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--clients", default="1,8,32")
    ap.add_argument("--inputs", default="json,binary",
                    help="json (numbers in the JSON), binary (raw bytes), or both")
    args = ap.parse_args()
    if not os.path.exists(MODEL):
        print("model_bench: run scripts/fetch-onnxruntime first; skipped")
        return
    print(f"model_bench: load average {open('/proc/loadavg').read().split()[0]}, "
          f"{os.cpu_count()} cores")
    tmp = tempfile.mkdtemp(prefix="kumo-model-bench-")
    server = Server(os.path.join(tmp, "data"), binary=args.kumo).start()
    try:
        configs = [("batched", 32, "5ms"), ("unbatched", 1, "0ms")]
        for name, size, delay in configs:
            deploy(args.kumo, server.url, tmp, name, size, delay)
        for mode in args.inputs.split(","):
            run_mode(server.port, configs, mode == "binary", args)
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
