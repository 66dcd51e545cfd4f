"""Gateway benchmarks: (a) warm invocations of a no-op python3 function against nginx serving a
static response, at 1, 16 and 64 connections (wrk, one thread, median of repeats); (b) cold
start: request to response with zero instances, against a bare `/usr/bin/python3 -c pass`.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
from harness import Server, free_port, key_headers  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

NGINX_CONF = """
worker_processes 2;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location / {{ return 200 '{{}}'; }}
  }}
}}
"""

POST_LUA = 'wrk.method = "POST"\nwrk.body = "{}"\nwrk.headers["Content-Type"] = "application/json"\n'


def post_lua(url):
    """wrk's script for a POST of {} to the server at `url`, with its key."""
    return POST_LUA + "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in key_headers(url).items())


def write_post_lua(path, url):
    with open(path, "w") as f:
        f.write(post_lua(url))
    return path


def post(url, body=b"{}"):
    """POSTs to a Kumo URL with the server's key; the response body."""
    req = urllib.request.Request(url, data=body, method="POST", headers=key_headers(url))
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.read()


def to_us(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    if not m:
        raise ValueError(f"unexpected wrk latency '{text}'")
    value, unit = float(m.group(1)), m.group(2)
    return value * {"us": 1, "ms": 1e3, "s": 1e6, "m": 60e6}[unit]


def wrk(url, connections, seconds, script=None):
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    if "Latency Distribution" not in out:
        raise RuntimeError(f"wrk printed no latency distribution:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = to_us(re.search(r"^\s+50%\s+(\S+)\s*$", out, re.M).group(1))
    p99 = to_us(re.search(r"^\s+99%\s+(\S+)\s*$", out, re.M).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50_us": p50, "p99_us": p99, "non2xx": int(errors.group(1)) if errors else 0}


def median_of(runs):
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def kumo_cli(kumo, url, *args):
    env = dict(os.environ, KUMO_URL=url)
    env.update({"KUMO_API_KEY": v.split(" ", 1)[1] for v in key_headers(url).values()})
    return subprocess.run([kumo, *args], capture_output=True, text=True, env=env, check=True).stdout


def instances(kumo, url, name):
    return json.loads(kumo_cli(kumo, url, "describe", name, "--json"))["instances"]["total"]


def warm(args, kumo_url, nginx_url, lua):
    print(f"\n(a) warm invocations, wrk -t1 -d{args.seconds}s, median of {args.repeats} runs")
    print(f"{'conns':>5} | {'kumo req/s':>10} {'p50':>8} {'p99':>8} | "
          f"{'nginx req/s':>11} {'p50':>8} {'p99':>8} | {'req/s ratio':>11}")
    results = {}
    for c in (1, 16, 64):
        k = median_of([wrk(kumo_url, c, args.seconds, lua) for _ in range(args.repeats)])
        n = median_of([wrk(nginx_url, c, args.seconds) for _ in range(args.repeats)])
        results[c] = (k, n)
        print(f"{c:>5} | {k['rps']:>10.0f} {k['p50_us']:>6.0f}µs {k['p99_us']:>6.0f}µs | "
              f"{n['rps']:>11.0f} {n['p50_us']:>6.0f}µs {n['p99_us']:>6.0f}µs | "
              f"{k['rps'] / n['rps']:>11.3f}" + (f"  ({k['non2xx']:.0f} non-2xx!)" if k["non2xx"] else ""))
    return results


def cold(args, kumo, url):
    print(f"\n(b) cold start: request to response with zero instances, {args.cold} runs")
    body = json.dumps({}).encode()
    kumo_ms = []
    for _ in range(args.cold):
        deadline = time.time() + 10
        while instances(kumo, url, "noop-cold") and time.time() < deadline:
            time.sleep(0.05)
        t0 = time.perf_counter()
        post(f"{url}/api/v1/functions/noop-cold/invoke", body)
        kumo_ms.append((time.perf_counter() - t0) * 1e3)
    bare_ms = []
    for _ in range(args.cold):
        t0 = time.perf_counter()
        subprocess.run(["/usr/bin/python3", "-c", "pass"], check=True)
        bare_ms.append((time.perf_counter() - t0) * 1e3)
    k50, b50 = statistics.median(kumo_ms), statistics.median(bare_ms)
    k99 = sorted(kumo_ms)[int(0.99 * (len(kumo_ms) - 1))]
    print(f"kumo cold start   p50 {k50:6.1f} ms  max {max(kumo_ms):6.1f} ms  (p99 {k99:.1f})")
    print(f"python3 -c pass   p50 {b50:6.1f} ms")
    print(f"ratio             {k50 / b50:6.2f}x")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kumo", required=True)
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cold", type=int, default=20)
    ap.add_argument("--only", choices=["warm", "cold"], help="run one of the two")
    args = ap.parse_args()
    kumo = os.path.abspath(args.kumo)
    print("load average:", open("/proc/loadavg").read().strip(), "| cores:", os.cpu_count())

    tmp = tempfile.mkdtemp(prefix="kumo-bench-")
    server = Server(os.path.join(tmp, "data"), binary=kumo).start()
    nginx_port = free_port()
    with open(os.path.join(tmp, "nginx.conf"), "w") as f:
        f.write(NGINX_CONF.format(tmp=tmp, port=nginx_port))
    nginx = subprocess.Popen(["nginx", "-c", os.path.join(tmp, "nginx.conf")])
    lua = write_post_lua(os.path.join(tmp, "post.lua"), server.url)
    try:
        kumo_cli(kumo, server.url, "deploy", os.path.join(HERE, "functions", "noop"))
        cold_dir = os.path.join(tmp, "noop-cold")
        shutil.copytree(os.path.join(HERE, "functions", "noop"), cold_dir)
        with open(os.path.join(cold_dir, "kumo.yaml"), "w") as f:
            f.write("name: noop-cold\nruntime: python3\nhandler: main.handle\nidle_timeout: 0s\n")
        kumo_cli(kumo, server.url, "deploy", cold_dir)
        while instances(kumo, server.url, "noop") < 2:
            time.sleep(0.1)
        post(f"{server.url}/api/v1/functions/noop/invoke")
        if args.only != "cold":
            warm(args, f"{server.url}/api/v1/functions/noop/invoke",
                 f"http://127.0.0.1:{nginx_port}/", lua)
        if args.only != "warm":
            cold(args, kumo, server.url)
    finally:
        nginx.terminate()
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
