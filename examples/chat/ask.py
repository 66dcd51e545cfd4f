#!/usr/bin/env python3
"""A terminal client for the chat function: prints the reply as it streams, then its sources.

    python3 examples/chat/ask.py "How do I create a table?"          # a new session
    python3 examples/chat/ask.py --session s1 "And how do I delete one?"

It talks to $KUMO_URL (default http://127.0.0.1:8080) and keeps to the standard library.
"""
import argparse
import http.client
import json
import os
import sys
import urllib.parse


def events(response):
    """(event name or None, data) for each Server-Sent Event, as it arrives."""
    name, data = None, []
    for raw in response:
        line = raw.decode("utf-8").rstrip("\n")
        if line.startswith("event: "):
            name = line[len("event: "):]
        elif line.startswith("data: "):
            data.append(line[len("data: "):])
        elif not line and data:
            yield name, json.loads("\n".join(data))
            name, data = None, []


def main():
    parser = argparse.ArgumentParser(description="Ask Kumo's chat function a question.")
    parser.add_argument("message")
    parser.add_argument("--session", help="continue this conversation")
    parser.add_argument("--function", default="chat")
    args = parser.parse_args()
    url = urllib.parse.urlsplit(os.environ.get("KUMO_URL", "http://127.0.0.1:8080"))
    conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=120)
    body = {"message": args.message}
    if args.session:
        body["session"] = args.session
    conn.request("POST", "/fn/%s/" % args.function, json.dumps(body),
                 {"content-type": "application/json"})
    response = conn.getresponse()
    if response.status != 200:
        sys.exit("error %d: %s" % (response.status, response.read().decode()))
    for name, data in events(response):
        if name is None:
            print(data["delta"], end="", flush=True)
        elif name == "error":
            print("\n[error] " + data["message"], file=sys.stderr)
        elif name == "done":
            print("\n\nsources:")
            for s in data["sources"]:
                print("  %.2f  %s › %s" % (s["score"], s["source"], s["title"]))
            print("session: %s (pass --session %s to continue)" % (data["session"],
                                                                   data["session"]))


if __name__ == "__main__":
    main()
