"""The chat example (examples/chat) against a real `kumo serve`: retrieval over the shipped
docs, an OpenAI-compatible LLM (a small server this test starts stands in for the hosted one)
streamed to the client through the HTTP trigger as Server-Sent Events, conversation history in
an embedded table, and the answer without an LLM."""
import http.client
import http.server
import json
import os
import re
import shutil
import threading
import time
import unittest

from harness import KumoTestCase

EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples",
                       "chat")
API_KEY = "test-key"
CHUNKS = ["Create the table ", "with `kumo table create`", " and write items ",
          "with `kumo table put` ", "[1]."]
GAP_S = 0.4  # between two chunks the fake LLM sends


class FakeLLM(http.server.ThreadingHTTPServer):
    """An OpenAI-compatible /v1/chat/completions that streams CHUNKS, GAP_S apart, and records
    each request body and when it sent each chunk (time.monotonic())."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), FakeLLMHandler)
        self.requests, self.sent_at = [], []

    @property
    def url(self):
        return "http://127.0.0.1:%d/v1" % self.server_address[1]


class FakeLLMHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        if self.path != "/v1/chat/completions" or \
                self.headers.get("authorization") != "Bearer " + API_KEY:
            return self._refuse()
        self.server.requests.append(body)
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        self._event({"choices": [{"index": 0, "delta": {"role": "assistant"}}]})
        sent = []
        for i, text in enumerate(CHUNKS):
            if i:
                time.sleep(GAP_S)
            self._event({"choices": [{"index": 0, "delta": {"content": text}}],
                         "model": body["model"]})
            sent.append(time.monotonic())
        self.server.sent_at.append(sent)
        self._chunk(b"data: [DONE]\n\n")
        self._chunk(b"")

    def _refuse(self):
        data = json.dumps({"error": {"message": "Incorrect API key provided"}}).encode()
        self.send_response(401)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _event(self, chunk):
        self._chunk(b"data: " + json.dumps(chunk).encode() + b"\n\n")

    def _chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()


class Stream:
    """A reply read as it arrives: each SSE event with its arrival time (time.monotonic())."""

    def __init__(self, status, content_type, events):
        self.status, self.content_type, self.events = status, content_type, events

    def deltas(self):
        return [e["data"]["delta"] for e in self.events if e["event"] is None]

    def arrivals(self):
        return [e["at"] for e in self.events if e["event"] is None]

    def done(self):
        return [e["data"] for e in self.events if e["event"] == "done"][0]


class ChatTest(KumoTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.llm = FakeLLM()
        threading.Thread(target=cls.llm.serve_forever, daemon=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.llm.shutdown()
        cls.llm.server_close()
        super().tearDownClass()

    def deploy_chat(self, name, base_url="", api_key="", model=""):
        """Deploys a copy of examples/chat as `name`, with its LLM_ variables set."""
        d = os.path.join(self.tmp, name)
        shutil.copytree(EXAMPLE, d, ignore=shutil.ignore_patterns("__pycache__"))
        with open(os.path.join(d, "kumo.yaml")) as f:
            spec = f.read()
        spec = re.sub(r"(?m)^name: chat$", "name: " + name, spec)
        for var, value in (("LLM_BASE_URL", base_url), ("LLM_API_KEY", api_key),
                           ("LLM_MODEL", model)):
            spec = re.sub(r'(?m)^(\s+%s:) ""' % var, r'\1 "%s"' % value, spec)
        with open(os.path.join(d, "kumo.yaml"), "w") as f:
            f.write(spec)
        self.kumo("deploy", d)

    def chat(self, name, message, session):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)
        conn.request("POST", f"/fn/{name}/", json.dumps({"message": message, "session": session}),
                     {"content-type": "application/json"})
        r = conn.getresponse()
        events, event, data = [], None, []
        while True:
            line = r.readline()
            if not line:
                break
            line = line.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[len("event: "):]
            elif line.startswith("data: "):
                data.append(line[len("data: "):])
            elif not line and data:
                events.append({"event": event, "data": json.loads("\n".join(data)),
                               "at": time.monotonic()})
                event, data = None, []
        conn.close()
        return Stream(r.status, r.getheader("content-type"), events)

    def test_llm_reply_streams_in_order_as_sent_with_passages_in_prompt(self):
        self.deploy_chat("chat", self.llm.url, API_KEY, "fake-model")
        before = len(self.llm.requests)
        reply = self.chat("chat", "How do I create an embedded table?", "s-stream")
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.content_type, "text/event-stream")
        self.assertEqual(reply.deltas(), CHUNKS)
        # Each chunk reached the client before the LLM sent the next one: nothing buffered.
        sent = self.llm.sent_at[-1]
        for i, at in enumerate(reply.arrivals()[:-1]):
            self.assertLess(at, sent[i + 1], f"chunk {i} arrived after chunk {i + 1} was sent")

        self.assertEqual(len(self.llm.requests), before + 1)
        request = self.llm.requests[-1]
        self.assertEqual((request["model"], request["stream"]), ("fake-model", True))
        system = request["messages"][0]
        self.assertEqual(system["role"], "system")
        done = reply.done()
        self.assertEqual(done["model"], "fake-model")
        self.assertTrue(done["sources"])
        for source in done["sources"]:
            self.assertIn(source["text"], system["content"])
        # The passage that answers it, from the shipped tables.md, is among them.
        self.assertTrue(any(s["source"] == "tables.md" and "kumo table create" in s["text"]
                            for s in done["sources"]), done["sources"])
        self.assertEqual(request["messages"][-1],
                         {"role": "user", "content": "How do I create an embedded table?"})

    def test_a_second_message_carries_the_conversation(self):
        self.deploy_chat("chat-history", self.llm.url, API_KEY, "fake-model")
        self.chat("chat-history", "How do I create an embedded table?", "s-history")
        reply = self.chat("chat-history", "And how do I delete one?", "s-history")
        self.assertEqual(reply.deltas(), CHUNKS)
        messages = self.llm.requests[-1]["messages"]
        self.assertEqual(messages[1:], [
            {"role": "user", "content": "How do I create an embedded table?"},
            {"role": "assistant", "content": "".join(CHUNKS)},
            {"role": "user", "content": "And how do I delete one?"},
        ])
        r = self.request("GET", "/fn/chat-history/sessions/s-history")
        self.assertEqual(r.status, 200)
        self.assertEqual([m["role"] for m in r.json()["messages"]],
                         ["user", "assistant", "user", "assistant"])
        item = self.request("GET", "/api/v1/tables/chat_sessions/items/s-history").json()
        self.assertEqual(item["item"]["messages"][2]["content"], "And how do I delete one?")
        # Another session starts empty.
        self.chat("chat-history", "What is a dead letter?", "s-other")
        self.assertEqual(len(self.llm.requests[-1]["messages"]), 2)

    def test_without_an_llm_the_answer_is_the_best_passages_and_says_so(self):
        self.deploy_chat("chat-plain")
        reply = self.chat("chat-plain", "What is a dead letter?", "s-plain")
        self.assertEqual((reply.status, reply.content_type), (200, "text/event-stream"))
        text = "".join(reply.deltas())
        self.assertTrue(text.startswith("No LLM is configured"), text[:200])
        done = reply.done()
        self.assertIsNone(done["model"])
        self.assertTrue(any(s["source"] == "events.md" and "dead-letter" in s["text"]
                            for s in done["sources"]), done["sources"])
        for source in done["sources"]:
            self.assertIn(source["text"], text)

    def test_bad_requests_and_a_refusing_llm_get_clear_errors(self):
        self.deploy_chat("chat-badkey", self.llm.url, "wrong-key", "fake-model")
        r = self.request("POST", "/fn/chat-badkey/", {"message": "What is a topic?"})
        self.assertEqual(r.status, 502)
        self.assertIn("answered 401", r.json()["error"]["message"])
        self.assertIn("Incorrect API key", r.json()["error"]["message"])
        r = self.request("POST", "/fn/chat-badkey/", b"\xff not json",
                         {"content-type": "application/octet-stream"})
        self.assertEqual((r.status, r.json()["error"]["type"]), (400, "invalid_argument"))
        r = self.request("POST", "/fn/chat-badkey/", {"session": "s1"})
        self.assertEqual(r.status, 400)
        self.assertIn('"message"', r.json()["error"]["message"])
        r = self.request("POST", "/fn/chat-badkey/", {"message": "hi", "session": "a b"})
        self.assertEqual(r.status, 400)
        self.assertEqual(self.request("GET", "/fn/chat-badkey/").status, 405)

    def test_an_llm_without_a_model_fails_the_init_with_what_to_set(self):
        self.deploy_chat("chat-nomodel", self.llm.url, API_KEY, "")
        r = self.request("POST", "/fn/chat-nomodel/", {"message": "What is a topic?"})
        self.assertEqual((r.status, r.json()["error"]["type"]), (502, "init_error"))
        self.assertIn("LLM_MODEL is not", r.json()["error"]["message"])


if __name__ == "__main__":
    unittest.main()
