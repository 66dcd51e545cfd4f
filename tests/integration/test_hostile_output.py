"""What a function's output and an upload may cost the server: streams flow with
backpressure, buffered results are capped, uploads go to disk as they arrive.

Each test watches the server's resident memory (VmRSS) while a hostile client or function
does its worst, and fails as soon as it grows past a bound (so a regression fails fast
instead of exhausting the machine).
"""
import os
import socket
import threading
import time
import unittest

from harness import KumoTestCase

MiB = 1024 * 1024
# Growth of the server's resident memory that a test tolerates: far below what the old
# behaviour reached (the whole stream, result or upload in memory).
RSS_BOUND = 200 * MiB


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


class RssWatch:
    """Samples a process's VmRSS on a thread; `peak` is the largest growth seen."""

    def __init__(self, pid):
        self.pid = pid
        self.base = rss_bytes(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid) - self.base)
            time.sleep(0.02)

    def over(self):
        return self.peak > RSS_BOUND

    def stop(self):
        self._stop.set()
        self._thread.join()
        return self.peak


def raw_connection(port, rcvbuf=64 * 1024):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(("127.0.0.1", port))
    return s


class FunctionOutput(KumoTestCase):
    def rss(self):
        return rss_bytes(self.server.proc.pid)

    def test_a_stream_whose_client_never_reads_holds_the_function_back(self):
        self.deploy("firehose", """\
            def handle(event, context):
                if event.get("rawPath") != "/forever":
                    return {"ok": True}
                def chunks():
                    while True:
                        yield b"x" * (1 << 20)
                return chunks()
        """, "max_instances: 1\ntimeout: 120s\n")
        self.assertEqual(self.request("GET", "/fn/firehose/warm").status, 200)
        watch = RssWatch(self.server.proc.pid)
        client = raw_connection(self.server.port)
        try:
            client.sendall(b"GET /fn/firehose/forever HTTP/1.1\r\nHost: x\r\n\r\n")
            deadline = time.time() + 5
            while time.time() < deadline and not watch.over():
                time.sleep(0.1)
        finally:
            client.close()  # with unread data: a reset
            peak = watch.stop()
        self.assertLess(peak, RSS_BOUND, f"the server grew by {peak // MiB} MiB")
        # The instance is freed for the next call (max_instances: 1), long before the
        # stalled call's 120 s timeout.
        r = self.request("GET", "/fn/firehose/again", timeout=60)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.json(), {"ok": True})

    def test_a_slow_reader_gets_the_whole_stream(self):
        self.deploy("counted", """\
            def handle(event, context):
                for i in range(64):
                    yield bytes([65 + i % 26]) * (256 * 1024)
        """)
        client = raw_connection(self.server.port)
        try:
            key = self.server.admin_key.encode()
            client.sendall(b"POST /api/v1/functions/counted/invoke HTTP/1.1\r\nHost: x\r\n"
                           b"Authorization: Bearer " + key + b"\r\n"
                           b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")
            time.sleep(1)  # let the server fill its window while nobody reads
            data = bytearray()
            while True:
                chunk = client.recv(65536)
                if not chunk:
                    break
                data += chunk
        finally:
            client.close()
        head, _, body = bytes(data).partition(b"\r\n\r\n")
        self.assertIn(b"200", head.split(b"\r\n")[0])
        payload = bytearray()
        while body:  # chunked framing
            size_line, _, rest = body.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                break
            payload += rest[:size]
            body = rest[size + 2:]
        self.assertEqual(len(payload), 64 * 256 * 1024)
        self.assertEqual(payload[:1] + payload[-1:], b"A" + bytes([65 + 63 % 26]))

    def test_a_result_over_6_mb_is_a_clear_error(self):
        self.deploy("huge", """\
            def handle(event, context):
                if event.get("small"):
                    return "fits"
                return "x" * (50 * 1024 * 1024)
        """, "memory: 512\n")
        watch = RssWatch(self.server.proc.pid)
        try:
            r = self.invoke("huge")
        finally:
            peak = watch.stop()
        self.assertEqual(r.status, 502, r.body[:200])
        error = r.json()["error"]
        self.assertEqual(error["type"], "result_too_large")
        self.assertIn("6 MB", error["message"])
        self.assertLess(peak, RSS_BOUND, f"the server grew by {peak // MiB} MiB")
        r = self.invoke("huge", {"small": True})
        self.assertEqual((r.status, r.json()), (200, "fits"))

    def test_a_generator_of_dicts_streams_newline_delimited_json(self):
        self.deploy("lines", """\
            def handle(event, context):
                for i in range(3):
                    yield {"i": i}
        """)
        r = self.invoke("lines")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("content-type"), "application/x-ndjson")
        self.assertEqual(r.body, b'{"i": 0}\n{"i": 1}\n{"i": 2}\n')


class Uploads(KumoTestCase):
    """The default object limit (512 MiB): an upload over it must never sit in memory."""

    def put_chunked(self, key, total, piece=MiB):
        """PUTs `total` bytes with Transfer-Encoding: chunked while a thread reads the answer
        (the server may answer and close before the body is all sent)."""
        s = raw_connection(self.server.port)
        answer = bytearray()

        def read():
            try:
                while True:
                    data = s.recv(65536)
                    if not data:
                        return
                    answer.extend(data)
            except OSError:
                return
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        watch = RssWatch(self.server.proc.pid)
        sent = 0
        try:
            s.sendall(f"PUT /s3/uploads/{key} HTTP/1.1\r\nHost: x\r\n"
                      f"Authorization: Bearer {self.server.admin_key}\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n".encode())
            block = f"{piece:x}\r\n".encode() + b"z" * piece + b"\r\n"
            while sent < total and not watch.over():
                s.sendall(block)
                sent += piece
            s.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed
        finally:
            peak = watch.stop()
        reader.join(60)
        s.close()
        return bytes(answer), sent, peak

    def test_a_chunked_put_over_the_limit_is_refused_without_holding_it(self):
        self.assertEqual(self.request("PUT", "/s3/uploads").status, 200)
        answer, sent, peak = self.put_chunked("big", 600 * MiB)
        self.assertLess(peak, RSS_BOUND, f"the server grew by {peak // MiB} MiB")
        self.assertIn(b"EntityTooLarge", answer, answer[:300])
        self.assertRegex(answer.split(b"\r\n")[0], rb"HTTP/1.1 (400|413)")
        self.assertEqual(self.request("GET", "/s3/uploads/big").status, 404)
        leftovers = [name for _, _, files in os.walk(self.server.data_dir)
                     for name in files if name.startswith(".tmp-")]
        self.assertEqual(leftovers, [])

    def test_a_multi_mib_put_round_trips(self):
        self.assertEqual(self.request("PUT", "/s3/trips").status, 200)
        data = os.urandom(12 * MiB)
        r = self.request("PUT", "/s3/trips/blob", body=data)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(self.request("GET", "/s3/trips/blob").body, data)

    def test_an_aws_chunked_put_with_a_trailer_checksum_round_trips(self):
        self.assertEqual(self.request("PUT", "/s3/signed").status, 200)
        body = (b"5;chunk-signature=aa\r\nhello\r\n6;chunk-signature=bb\r\n world\r\n"
                b"0;chunk-signature=cc\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n")
        headers = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": "11",
                   "x-amz-trailer": "x-amz-checksum-crc32",
                   "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER"}
        r = self.request("PUT", "/s3/signed/greeting", body=body, headers=headers)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.header("x-amz-checksum-crc32"), "DUoRhQ==")
        self.assertEqual(self.request("GET", "/s3/signed/greeting").body, b"hello world")
        bad = body.replace(b"DUoRhQ==", b"AAAAAA==")
        r = self.request("PUT", "/s3/signed/wrong", body=bad, headers=headers)
        self.assertEqual(r.status, 400)
        self.assertIn(b"BadDigest", r.body)
        self.assertEqual(self.request("GET", "/s3/signed/wrong").status, 404)


if __name__ == "__main__":
    unittest.main()
