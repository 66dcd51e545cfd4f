"""Conversation history of the chat example, one item per session id in Kumo's embedded
table `chat_sessions` (reached through $KUMO_URL, like any client of the tables API)."""
import json
import os
import urllib.error
import urllib.parse
import urllib.request

TABLE = "chat_sessions"
KEEP = 40        # messages kept per session (20 turns); older ones are dropped
MAX_BYTES = 300_000  # under the tables' 400 KB item limit

_table_ready = False


def _call(method, path, body=None):
    url = os.environ["KUMO_URL"] + "/api/v1/tables/" + path
    data = json.dumps(body).encode() if body is not None else None
    # The instance's own key (the permissions in kumo.yaml), read at each call: Kumo gives
    # every instance a key of its own.
    headers = {"content-type": "application/json",
               "authorization": "Bearer " + os.environ.get("KUMO_API_KEY", "")}
    request = urllib.request.Request(url, data, headers, method=method)
    with urllib.request.urlopen(request, timeout=10) as r:
        return json.load(r)


def _key(session):
    return TABLE + "/items/" + urllib.parse.quote(session, safe="")


def _ensure_table():
    """Creates the table on first use (PUT is idempotent: 200 when it exists)."""
    global _table_ready
    if not _table_ready:
        _call("PUT", TABLE)
        _table_ready = True


def load(session):
    """The session's messages, oldest first: [{"role", "content"}]; [] for a new session."""
    _ensure_table()
    try:
        return _call("GET", _key(session))["item"]["messages"]
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return []
        raise


def save(session, messages):
    """Stores the latest KEEP messages, fewer if they would not fit in one item."""
    messages = messages[-KEEP:]
    while len(messages) > 2 and len(json.dumps(messages)) > MAX_BYTES:
        messages = messages[2:]
    _ensure_table()
    _call("PUT", _key(session), {"messages": messages})
