"""chat: answers questions about Kumo from Kumo's own docs, streaming the reply.

    curl -N http://127.0.0.1:8080/fn/chat/ -d '{"message": "How do I create a table?"}'

Each message is embedded (retrieval.py: LSA over the shipped docs, offline), the nearest
passages are found in an hnswlib index, and an OpenAI-compatible LLM (LLM_BASE_URL,
LLM_API_KEY, LLM_MODEL) answers from them. The reply streams as Server-Sent Events:
`data: {"delta": "..."}` per piece of text, then `event: done` with the sources. Without an
LLM the answer is the best passages, and it says so. The conversation is kept per session id
in the embedded table `chat_sessions` (history.py). GET /fn/chat/sessions/ID returns it.
"""
import base64
import json
import os
import re
import uuid

import history
import llm
import retrieval

HERE = os.path.dirname(os.path.abspath(__file__))
INDEX = retrieval.Index(retrieval.load_passages(os.path.join(HERE, "docs")))  # init phase
TOP_K = 4
PAST_MESSAGES = 10      # earlier messages sent to the LLM with each question
MAX_MESSAGE_CHARS = 8000
SESSION = re.compile(r"[A-Za-z0-9_.:-]{1,128}")
NO_LLM = ("No LLM is configured (LLM_BASE_URL is not set), so here are the passages of "
          "Kumo's documentation that best match your question:")


def handle(event, context):
    if isinstance(event, dict) and "requestContext" in event:  # the HTTP trigger
        method = event["requestContext"]["http"]["method"]
        path = event.get("rawPath", "/")
        if path.startswith("/sessions/"):
            return _session(method, path[len("/sessions/"):])
        if method != "POST":
            return _error(405, "method_not_allowed", "POST a JSON message to /fn/chat/")
        body = event.get("body") or ""
        try:
            if event.get("isBase64Encoded"):  # a body sent without a text content type
                body = base64.b64decode(body).decode("utf-8")
            request = json.loads(body)
        except ValueError:  # also bad base64 and bad UTF-8
            return _error(400, "invalid_argument",
                          'the body must be JSON: {"message": "...", "session": "..."}')
    else:  # `kumo invoke chat -d '{"message": ...}'`
        request = event
    return _chat(request)


def _chat(request):
    if not isinstance(request, dict):
        return _error(400, "invalid_argument", 'the body must be a JSON object with "message"')
    message = request.get("message")
    session = request.get("session") or uuid.uuid4().hex
    if not isinstance(message, str) or not message.strip():
        return _error(400, "invalid_argument", '"message" must be a non-empty string')
    if len(message) > MAX_MESSAGE_CHARS:
        return _error(400, "invalid_argument",
                      '"message" is limited to %d characters' % MAX_MESSAGE_CHARS)
    if not isinstance(session, str) or not SESSION.fullmatch(session):
        return _error(400, "invalid_argument",
                      '"session" must be 1..128 of letters, digits and _ . : -')
    past = history.load(session)
    hits = INDEX.search(message, TOP_K, _previous_question(past))
    if not llm.configured():
        return _reply(session, past, message, hits, _passages_answer(hits), None)
    messages = llm.prompt([p for p, _ in hits], past[-PAST_MESSAGES:], message)
    try:
        response = llm.open_stream(messages)
    except llm.Error as e:  # nothing streamed yet, so the client gets a plain 502
        return _error(502, "llm_error", str(e))
    return _reply(session, past, message, hits, llm.deltas(response), llm.MODEL)


def _previous_question(past):
    """The session's last question: the subject of a follow-up ("and how do I delete one?")."""
    questions = [m["content"] for m in past if m["role"] == "user"]
    return questions[-1] if questions else ""


def _passages_answer(hits):
    yield NO_LLM
    if not hits:
        yield "\n\n(none: no word of the question occurs in the documentation)"
    for i, (p, _) in enumerate(hits, 1):
        yield "\n\n[%d] %s (%s)\n%s" % (i, p.title, p.source, p.text)


def _event(data, name=None):
    head = "event: %s\n" % name if name else ""
    return "%sdata: %s\n\n" % (head, json.dumps(data))


def _reply(session, past, message, hits, pieces, model):
    """The SSE stream: each piece as it comes, then `done` with the sources; the turn is
    saved to the session's history once the reply is complete."""
    answer = []
    try:
        for piece in pieces:
            answer.append(piece)
            yield _event({"delta": piece})
    except llm.Error as e:
        yield _event({"message": str(e)}, "error")
    turn = [{"role": "user", "content": message},
            {"role": "assistant", "content": "".join(answer)}]
    done = {"session": session, "model": model,
            "sources": [p.as_dict(score) for p, score in hits]}
    try:
        history.save(session, past + turn)
    except OSError as e:  # the reply was sent; say that the next turn will not remember it
        done["history_error"] = str(e)
    yield _event(done, "done")


def _session(method, session):
    if method != "GET":
        return _error(405, "method_not_allowed", "GET /fn/chat/sessions/ID reads a session")
    if not SESSION.fullmatch(session):
        return _error(400, "invalid_argument", "a session id is 1..128 of A-Z a-z 0-9 _ . : -")
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps({"session": session, "messages": history.load(session)})}


def _error(status, kind, message):
    return {"statusCode": status, "headers": {"content-type": "application/json"},
            "body": json.dumps({"error": {"type": kind, "message": message}})}
