"""The OpenAI-compatible chat-completions client of the chat example: builds the prompt from
the retrieved passages and the conversation, posts it with `stream: true`, and yields the
reply's text as the server sends it (its Server-Sent Events, one `data:` line per delta)."""
import json
import os
import urllib.error
import urllib.request

BASE_URL = os.environ.get("LLM_BASE_URL", "").rstrip("/")
API_KEY = os.environ.get("LLM_API_KEY", "")
MODEL = os.environ.get("LLM_MODEL", "")
TIMEOUT_S = float(os.environ.get("LLM_TIMEOUT_S", "60"))

if BASE_URL and not MODEL:
    raise ValueError("LLM_BASE_URL is set but LLM_MODEL is not; set both in kumo.yaml's env")

SYSTEM = """You answer questions about Kumo, a self-hosted serverless platform, from the \
passages of its documentation below. Cite the passages you use by number, like [1]. If they \
do not hold the answer, say so instead of guessing.

{passages}"""


class Error(Exception):
    """The LLM could not be reached or refused the request."""


def configured():
    return bool(BASE_URL)


def prompt(passages, past, question):
    """The chat messages: a system message holding the numbered passages, the earlier turns
    of the conversation, then the question."""
    numbered = "\n\n".join("[%d] %s (%s)\n%s" % (i, p.title, p.source, p.text)
                           for i, p in enumerate(passages, 1))
    messages = [{"role": "system", "content": SYSTEM.format(passages=numbered)}]
    messages += [{"role": m["role"], "content": m["content"]} for m in past]
    messages.append({"role": "user", "content": question})
    return messages


def open_stream(messages):
    """Posts the request and returns the open response once the LLM has answered 200, so that
    a refusal becomes an error before anything is streamed to the client."""
    body = json.dumps({"model": MODEL, "messages": messages, "stream": True}).encode()
    headers = {"content-type": "application/json", "accept": "text/event-stream"}
    if API_KEY:
        headers["authorization"] = "Bearer " + API_KEY
    request = urllib.request.Request(BASE_URL + "/chat/completions", body, headers)
    try:
        return urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as e:
        detail = e.read(2000).decode("utf-8", "replace")
        raise Error("the LLM at %s answered %d: %s" % (BASE_URL, e.code, detail)) from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise Error("cannot reach the LLM at %s: %s" % (BASE_URL, reason)) from None


def _events(response):
    """The data of each Server-Sent Event, as the lines arrive."""
    data = []
    for raw in response:
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if data:
                yield "\n".join(data)
            data = []
        elif line.startswith("data:"):
            data.append(line[5:].lstrip(" "))
    if data:
        yield "\n".join(data)


def deltas(response):
    """The reply's text pieces, in order, each as soon as its event arrives."""
    with response:
        for data in _events(response):
            if data == "[DONE]":
                return
            chunk = json.loads(data)
            if "error" in chunk:
                raise Error("the LLM failed mid-reply: %s" % chunk["error"])
            for choice in chunk.get("choices", []):
                text = (choice.get("delta") or {}).get("content")
                if text:
                    yield text
