"""Event benchmarks: messages from the embedded queue to a no-op python3 function.

(a) throughput: N messages published over HTTP by 4 keep-alive clients, events per second
    until the function has seen every one, with batch_size 1 and 10;
(b) latency from publish to the handler's first line, p50 and p99, one message at a time;
(c) the same two through NATS JetStream (nats-server started here, the npm `nats` client
    publishing) when nats-server and node are installed.
Baseline in the same run: synchronous invocations of the same function over HTTP.
Each body is the publish time in Unix µs; the handler prints now - then per message.
"""
import argparse
import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
from harness import Server, free_port, key_headers  # noqa: E402
import gateway_bench as g  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

HANDLER = """import time
def handle(event, context):
    now = time.time_ns() // 1000
    if "Records" not in event:
        return None
    print("LAT " + " ".join(str(now - int(r["body"])) for r in event["Records"]), flush=True)
"""


def now_us():
    return time.time_ns() // 1000


def kumo(binary, url, *args):
    g.kumo_cli(binary, url, *args)


def deploy(binary, url, tmp, name, triggers):
    d = os.path.join(tmp, "fn", name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "main.py"), "w") as f:
        f.write(HANDLER)
    with open(os.path.join(d, "kumo.yaml"), "w") as f:
        f.write(f"name: {name}\nruntime: python3\nhandler: main.handle\nmax_instances: 2\n"
                f"idle_timeout: 5m\ntriggers:\n{triggers}")
    kumo(binary, url, "deploy", d)


def latencies(log_path):
    out = []
    try:
        with open(log_path) as f:
            for line in f:
                if "LAT " in line:
                    out.extend(int(x) for x in line.split("LAT ", 1)[1].split())
    except FileNotFoundError:
        pass
    return out


def wait_count(log_path, n, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = latencies(log_path)
        if len(got) >= n:
            return got
        time.sleep(0.01)
    raise RuntimeError(f"only {len(latencies(log_path))} of {n} messages arrived")


def publish_http(port, topic, count, clients=4):
    def worker(k):
        conn = http.client.HTTPConnection("127.0.0.1", port)
        for _ in range(k):
            conn.request("POST", f"/api/v1/topics/{topic}", body=str(now_us()),
                         headers=key_headers(port))
            r = conn.getresponse()
            r.read()
            if r.status != 202:
                raise RuntimeError(f"publish: {r.status}")
        conn.close()
    threads = [threading.Thread(target=worker, args=(count // clients,)) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return count // clients * clients


def sync_baseline(port, name, count=300):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        conn.request("POST", f"/api/v1/functions/{name}/invoke", body="{}",
                     headers=key_headers(port))
        conn.getresponse().read()
        times.append((time.perf_counter() - t0) * 1e6)
    start = time.perf_counter()
    for _ in range(count):
        conn.request("POST", f"/api/v1/functions/{name}/invoke", body="{}",
                     headers=key_headers(port))
        conn.getresponse().read()
    rate = count / (time.perf_counter() - start)
    return rate, statistics.median(times), pct(times, 99)


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p / 100))]


def report(label, rate, lat):
    print(f"  {label:<34} {rate:>8.0f} ev/s   p50 {statistics.median(lat):>7.0f} µs   "
          f"p99 {pct(lat, 99):>7.0f} µs", flush=True)


def measure(log_path, publish, count, gap_count):
    """Throughput: `count` published at once; latency: `gap_count` one at a time."""
    base = len(latencies(log_path))
    t0 = time.perf_counter()
    n = publish(count, 0)
    wait_count(log_path, base + n)
    rate = n / (time.perf_counter() - t0)
    base = len(latencies(log_path))
    n = publish(gap_count, 20)
    lat = wait_count(log_path, base + n)[base:]
    return rate, lat


def http_publisher(port, topic):
    def publish(count, gap_ms):
        if gap_ms == 0:
            return publish_http(port, topic, count)
        conn = http.client.HTTPConnection("127.0.0.1", port)
        for _ in range(count):
            conn.request("POST", f"/api/v1/topics/{topic}", body=str(now_us()),
                         headers=key_headers(port))
            conn.getresponse().read()
            time.sleep(gap_ms / 1000)
        return count
    return publish


def nats_publisher(url):
    script = os.path.join(ROOT, "tests", "js", "nats_bench.mjs")

    def publish(count, gap_ms):
        subprocess.run(["node", script, url, "bench.events", str(count), str(gap_ms)],
                       check=True)
        return count
    return publish


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kumo", default=os.path.join(ROOT, "build", "src", "server", "kumo"))
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--samples", type=int, default=200)
    args = ap.parse_args()
    print(f"load before: {open('/proc/loadavg').read().split()[:3]}")
    tmp = tempfile.mkdtemp(prefix="kumo-events-bench-")
    nats = None
    try:
        config = os.path.join(tmp, "kumo.yaml")
        have_nats = shutil.which("nats-server") and shutil.which("node")
        if have_nats:
            nats_port = free_port()
            nats = subprocess.Popen(["nats-server", "-a", "127.0.0.1", "-p", str(nats_port),
                                     "-js", "-sd", os.path.join(tmp, "nats")],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
            with open(config, "w") as f:
                f.write(f"connectors:\n  - {{type: nats, url: 'nats://127.0.0.1:{nats_port}', "
                        f"stream: BENCH, subjects: ['bench.>'], topic: from-nats}}\n")
        else:
            open(config, "w").close()
        data = os.path.join(tmp, "data")
        server = Server(data, ["--config", config], binary=args.kumo).start()
        url = server.url
        logs = os.path.join(data, "logs")
        deploy(args.kumo, url, tmp, "q1", "  - queue: {topic: t1}\n")
        deploy(args.kumo, url, tmp, "q10", "  - queue: {topic: t10, batch_size: 10, "
                                            "batch_window: 20ms}\n")
        http_publisher(server.port, "t1")(20, 0)  # warm both instances
        wait_count(os.path.join(logs, "q1.log"), 20)
        print(f"events: {args.count} messages per throughput run, {args.samples} latency "
              "samples 20 ms apart, no-op python3 function, max_instances 2")
        rate, p50, p99 = sync_baseline(server.port, "q1")
        print(f"  {'baseline: sync invoke over HTTP':<34} {rate:>8.0f} req/s  p50 {p50:>7.0f} "
              f"µs   p99 {p99:>7.0f} µs  (whole round trip, one client)")
        for name, topic in (("q1", "t1"), ("q10", "t10")):
            rate, lat = measure(os.path.join(logs, f"{name}.log"),
                                http_publisher(server.port, topic), args.count, args.samples)
            report(f"embedded queue, batch_size {1 if name == 'q1' else 10}", rate, lat)
        if have_nats:
            deploy(args.kumo, url, tmp, "qn", "  - queue: {topic: from-nats}\n")
            nats_publisher(f"nats://127.0.0.1:{nats_port}")(5, 0)
            wait_count(os.path.join(logs, "qn.log"), 5)
            rate, lat = measure(os.path.join(logs, "qn.log"),
                                nats_publisher(f"nats://127.0.0.1:{nats_port}"), args.count,
                                args.samples)
            report("NATS JetStream -> queue, batch 1", rate, lat)
        else:
            print("  (NATS skipped: nats-server or node missing)")
        server.stop()
    finally:
        if nats:
            nats.terminate()
            nats.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
