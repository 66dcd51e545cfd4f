"""The Python shim alone, over its control socket: a no-op invocation answered one at a time
(each request waits for the previous reply, as without sending ahead) against requests that
are already waiting (as with sending ahead). The difference is the cost of the wake-ups.
"""
import json
import os
import socket
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SHIM = os.path.join(HERE, "..", "src", "runtimes", "python", "kumo_runtime.py")
HEADER = struct.Struct(">BIII")
INVOKE, READY, START = 1, 2, 10


def start_shim():
    # The shim expects its control socket as fd 3.
    null = os.open(os.devnull, os.O_RDONLY)
    if null != 3:
        os.dup2(null, 3)
    ours, theirs = socket.socketpair()
    os.dup2(theirs.fileno(), 3)
    proc = subprocess.Popen(["/usr/bin/python3", "-u", "-B", "-s", SHIM],
                            cwd=os.path.join(HERE, "functions", "noop"), pass_fds=(3,),
                            env={"PATH": "/usr/bin:/bin", "KUMO_HANDLER": "main.handle"},
                            stdout=subprocess.DEVNULL)
    os.dup2(null, 3)
    theirs.close()
    ours.sendall(HEADER.pack(START, 0, 0, 0))
    return proc, ours, ours.makefile("rb")


def read_frame(stream):
    kind, _, meta_len, body_len = HEADER.unpack(stream.read(HEADER.size))
    stream.read(meta_len + body_len)
    return kind


def run(sock, stream, frame, n, depth):
    sent = got = 0
    t0 = time.perf_counter()
    while got < n:
        while sent < n and sent - got < depth:
            sock.sendall(frame)
            sent += 1
        read_frame(stream)
        got += 1
    return (time.perf_counter() - t0) / n * 1e6


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    proc, sock, stream = start_shim()
    assert read_frame(stream) == READY
    meta = json.dumps({"request_id": "r" * 36, "timeout_ms": 60000, "attempt": 1}).encode()
    frame = HEADER.pack(INVOKE, 1, len(meta), 2) + meta + b"{}"
    run(sock, stream, frame, 500, 1)  # warm up
    print(f"\n(c) the Python shim alone, {n} no-op invocations, median of 3")
    for label, depth in [("one at a time", 1), ("requests waiting", 50)]:
        runs = sorted(run(sock, stream, frame, n, depth) for _ in range(3))
        print(f"{label:17} {runs[1]:6.1f} µs per invocation")
    proc.kill()


if __name__ == "__main__":
    main()
