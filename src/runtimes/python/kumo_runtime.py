# Kumo's Python runtime shim: runs inside one instance, imports the function's handler once
# and serves invocations sent by the executor over fd 3. See src/runtimes/README.md for the
# frame protocol. Imports stay minimal because they are paid on every cold start.
import _json
import os
import struct
import sys
import time
import _thread

_HEADER = struct.Struct(">BIII")


# JSON through the C accelerator directly: `import json` pulls in `re` and `enum`, which cost
# more than the interpreter's own start-up (measured: 30 ms against 16 ms for `pass`).
class _DecodeContext:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"),
                      "NaN": float("nan")}.__getitem__


_scan = _json.make_scanner(_DecodeContext())
_WHITESPACE = " \t\n\r"


def _loads(text):
    if isinstance(text, (bytes, bytearray)):
        text = text.decode("utf-8")
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        value, end = _scan(text, start)
    except StopIteration:
        raise ValueError("the event is not JSON") from None
    except SystemError:
        # The scanner builds its error from json.decoder, which only `import json` loads;
        # pay for it on this error path alone, to raise json's own message.
        value, end = None, -1
    if end < 0:
        import json
        return json.loads(text)
    if text[end:].strip(_WHITESPACE):
        raise ValueError("the event has extra data after its JSON value")
    return value


def _not_serializable(value):
    raise TypeError("Object of type %s is not JSON serializable" % type(value).__name__)


def _dumps(value):
    encode = _json.make_encoder({}, _not_serializable, _json.encode_basestring_ascii, None,
                                ": ", ", ", False, False, True)
    return "".join(encode(value, 0))
(INVOKE, READY, INIT_ERROR, RESULT, ERROR,
 STREAM_START, CHUNK, STREAM_END, OOM, START) = range(1, 11)
_CONTROL_FD = 3
_write_lock = _thread.allocate_lock()
_local = _thread._local()
# Freed on MemoryError so that reporting the error has room to allocate.
_reserve = bytearray(1 << 20)


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _send(kind, slot, meta=None, body=b""):
    meta_bytes = _dumps(meta).encode() if meta is not None else b""
    frame = _HEADER.pack(kind, slot, len(meta_bytes), len(body)) + meta_bytes
    with _write_lock:
        if len(body) < 65536:
            _write_all(_CONTROL_FD, frame + body)
        else:  # avoid copying a large body only to prepend the header
            _write_all(_CONTROL_FD, frame)
            _write_all(_CONTROL_FD, body)


class _Reader:
    """Reads whole frames from the control fd, buffering partial reads."""

    def __init__(self, fd):
        self._fd = fd
        self._buf = bytearray()

    def _fill(self, n):
        while len(self._buf) < n:
            chunk = os.read(self._fd, max(65536, n - len(self._buf)))
            if not chunk:
                return False
            self._buf += chunk
        return True

    def _take(self, n):
        if not self._fill(n):
            return None
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    def next(self):
        header = self._take(_HEADER.size)
        if header is None:
            return None
        kind, slot, meta_len, body_len = _HEADER.unpack(header)
        meta = self._take(meta_len)
        body = self._take(body_len)
        if meta is None or body is None:
            return None
        return kind, slot, (_loads(meta) if meta else {}), body


class _LineWriter:
    """sys.stdout/sys.stderr replacement: writes whole lines, each tagged with the request id
    of the invocation running on the current thread, so the executor can attribute it."""

    encoding = "utf-8"
    errors = "replace"

    def __init__(self, fd):
        self._fd = fd
        self._buffers = _thread._local()

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError("write() argument must be str, not " + type(text).__name__)
        pending = getattr(self._buffers, "text", "") + text
        if "\n" in pending:
            lines = pending.split("\n")
            pending = lines.pop()
            self._emit(lines)
        self._buffers.text = pending
        return len(text)

    def _emit(self, lines):
        rid = getattr(_local, "request_id", None)
        prefix = "\x1e" + rid + "\x1f" if rid else ""
        data = "".join(prefix + line + "\n" for line in lines)
        _write_all(self._fd, data.encode("utf-8", "replace"))

    def end_request(self):
        pending = getattr(self._buffers, "text", "")
        if pending:
            self._buffers.text = ""
            self._emit([pending])

    def flush(self):
        pass

    def isatty(self):
        return False

    def writable(self):
        return True

    def fileno(self):
        return self._fd


class Context:
    """The Lambda-compatible context object passed as the handler's second argument."""

    def __init__(self, request_id, deadline_ms, attempt):
        self.aws_request_id = request_id
        self.function_name = _FUNCTION
        self.function_version = _VERSION
        self.memory_limit_in_mb = _MEMORY
        self.invoked_function_arn = _ARN
        self.log_group_name = _LOG_GROUP
        self.log_stream_name = _INSTANCE
        self.attempt = attempt
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(0, int(self._deadline_ms - time.time() * 1000))


_FUNCTION = os.environ.get("KUMO_FUNCTION_NAME", "")
_VERSION = os.environ.get("KUMO_FUNCTION_VERSION", "")
_MEMORY = int(os.environ.get("KUMO_MEMORY_MB", "0") or 0)
_INSTANCE = os.environ.get("KUMO_INSTANCE_ID", "")
_ARN = "arn:aws:lambda:local:000000000000:function:%s:%s" % (_FUNCTION, _VERSION)
_LOG_GROUP = "/aws/lambda/" + _FUNCTION


# A streamed item larger than this goes out as several CHUNK frames, so the executor never
# holds more than one piece of it.
_CHUNK_FRAME = 1 << 20


def _chunk_bytes(item):
    """An item's bytes: str as UTF-8, bytes as-is, anything else as one line of JSON
    (newline-delimited JSON, so that a reader can tell the items apart)."""
    if isinstance(item, (bytes, bytearray, memoryview)):
        return bytes(item)
    if isinstance(item, str):
        return item.encode("utf-8")
    return _dumps(item).encode("utf-8") + b"\n"


def _stream_type(first):
    if isinstance(first, str):
        return "text/event-stream" if first.startswith(("data:", "event:")) else "text/plain"
    if first is _END or isinstance(first, (bytes, bytearray, memoryview)):
        return "text/plain"
    return "application/x-ndjson"


def _stream(slot, result):
    first = next(result, _END)
    _send(STREAM_START, slot, {"content_type": _stream_type(first)})
    item = first
    while item is not _END:
        data = _chunk_bytes(item)
        if len(data) <= _CHUNK_FRAME:
            _send(CHUNK, slot, None, data)
        else:
            view = memoryview(data)
            for start in range(0, len(data), _CHUNK_FRAME):
                _send(CHUNK, slot, None, view[start:start + _CHUNK_FRAME])
        item = next(result, _END)
    _send(STREAM_END, slot)


_END = object()


def _reply(slot, result):
    if hasattr(result, "__next__") and hasattr(result, "__iter__"):
        _stream(slot, result)
    elif isinstance(result, (bytes, bytearray, memoryview)):
        _send(RESULT, slot, {"content_type": "application/octet-stream"}, bytes(result))
    else:
        try:
            body = _dumps(result).encode("utf-8")
        except (TypeError, ValueError) as e:
            _send(ERROR, slot, {"type": "Runtime.MarshalError", "message": str(e)})
            return
        _send(RESULT, slot, {"content_type": "application/json"}, body)


def _out_of_memory(slot):
    global _reserve
    _reserve = None
    try:
        _send(OOM, slot, {"type": "OutOfMemory", "message": "MemoryError"})
    finally:
        os._exit(137)


def _invoke(handler, slot, meta, body):
    _local.request_id = meta.get("request_id", "")
    oom = False
    try:
        event = _loads(body) if body else None
        # The timeout runs from when the handler starts: an invocation sent ahead of time
        # may have waited behind another one.
        deadline_ms = time.time() * 1000 + meta["timeout_ms"] if "timeout_ms" in meta \
            else meta.get("deadline_ms", 0)
        context = Context(_local.request_id, deadline_ms, meta.get("attempt", 1))
        _reply(slot, handler(event, context))
    except MemoryError:
        oom = True
    except BaseException as e:  # noqa: B902 - anything the handler raises is its error
        import traceback
        traceback.print_exc()
        _send(ERROR, slot, {"type": type(e).__name__, "message": str(e)})
    finally:
        sys.stdout.end_request()
        sys.stderr.end_request()
        _local.request_id = None
    if oom:
        _out_of_memory(slot)


def _load_handler(spec):
    module_name, _, function_name = spec.rpartition(".")
    if not module_name:
        raise ValueError("handler '%s' must be module.function" % spec)
    __import__(module_name)
    module = sys.modules[module_name]
    handler = getattr(module, function_name, None)
    if not callable(handler):
        raise AttributeError("module '%s' has no function '%s'" % (module_name, function_name))
    return handler


def _await_start(reader):
    """Waits until kumo has placed this process in its cgroups: only then may the
    function's own code run."""
    while True:
        frame = reader.next()
        if frame is None:
            os._exit(0)
        if frame[0] == START:
            return


def _init_handler():
    """Imports the function (its init). Returns the handler, or the exception that init
    raised (its traceback already printed)."""
    oom = False
    try:
        return _load_handler(os.environ.get("KUMO_HANDLER", ""))
    except MemoryError:
        oom = True
    except BaseException as e:  # noqa: B902 - init failures of any kind are reported
        import traceback
        traceback.print_exc()
        return e
    if oom:
        return MemoryError()


def _serve(handler, reader):
    concurrency = int(os.environ.get("KUMO_CONCURRENCY", "1") or 1)
    _send(READY, 0)
    while True:
        frame = reader.next()
        if frame is None:
            os._exit(0)
        kind, slot, meta, body = frame
        if kind != INVOKE:
            continue
        if concurrency > 1:
            _thread.start_new_thread(_invoke, (handler, slot, meta, body))
        else:
            _invoke(handler, slot, meta, body)


def _adapt_aws_sdk():
    # An instance with an identity: an unchanged boto3 handler uses it and reaches Kumo
    # (kumo_aws.py, beside this file: sys.path[0] is still this file's folder).
    if not os.environ.get("AWS_ENDPOINT_URL"):
        return
    try:
        import kumo_aws
        kumo_aws.install()
    except Exception as error:
        os.write(2, f"kumo: the AWS SDK is not adapted: {error}\n".encode())


def main():
    _adapt_aws_sdk()
    sys.path[0] = os.getcwd()
    sys.stdout = _LineWriter(1)
    sys.stderr = _LineWriter(2)
    if os.environ.get("KUMO_ZYGOTE") == "1":
        _template_main()
    reader = _Reader(_CONTROL_FD)
    _await_start(reader)
    handler = _init_handler()
    if isinstance(handler, MemoryError):
        _out_of_memory(0)
    if isinstance(handler, BaseException):
        _send(INIT_ERROR, 0, {"type": type(handler).__name__, "message": str(handler)})
        os._exit(1)
    _serve(handler, reader)


# Template (zygote) mode: see src/executor/zygote.h for the messages. Init runs once here,
# single-threaded (the executor sets OMP_NUM_THREADS=1 and friends); each instance is a fork.
# One child is forked ahead of time (a spare) and waits for its instance's descriptors, so a
# cold start does not wait for the fork: copying the page tables of a template that loaded
# torch takes 10-15 ms here. A new spare is forked after the reply.

def _template_main():
    import socket
    control = socket.socket(fileno=_CONTROL_FD)
    handler = _init_handler()
    if isinstance(handler, BaseException):
        kind = "OutOfMemory" if isinstance(handler, MemoryError) else type(handler).__name__
        control.send(_dumps({"init_error": {"type": kind, "message": str(handler)}}).encode())
        os._exit(1)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)
    threads = len(os.listdir("/proc/self/task"))
    if threads > 1:
        sys.stderr.write("kumo: init started %d threads; forked instances do not have them\n"
                         % (threads - 1))
    control.send(b'{"ready": true}')
    spare = None
    while True:
        if spare is None:
            spare = _fork_spare(socket, control, handler, threads > 1)
        data, fds, _, _ = socket.recv_fds(control, 1 << 20, 3)
        if not data:
            os._exit(0)
        request = _loads(data)
        if "reap" in request:
            try:
                status = os.waitpid(request["reap"], 0)[1]
            except ChildProcessError:
                status = -1
            control.send(_dumps({"status": status}).encode())
            continue
        if "spare" in request:
            # Kumo moves the spare into the next instance's cgroups ahead of its request.
            if spare is None:
                spare = _fork_spare(socket, control, handler, threads > 1)
            control.send(_dumps({"pid": spare[0] if spare else -1}).encode())
            continue
        reply = {"error": "a fork request needs three descriptors"}
        if len(fds) == 3:
            reply, spare = _hand_over(socket, control, handler, threads > 1, spare, data, fds)
        for fd in fds:
            os.close(fd)
        control.send(_dumps(reply).encode())


def _fork_spare(socket, control, handler, init_threads):
    """A child that waits for its instance's descriptors; (pid, socket) or None."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        pid = os.fork()
    except OSError:
        ours.close()
        theirs.close()
        return None
    if pid == 0:
        control.detach()  # fd 3 becomes the instance's control socket
        ours.detach()
        try:
            os.setsid()
            _close_inherited(_CONTROL_FD, keep=theirs.fileno())
            _prepare_instance(init_threads)
            data, fds, _, _ = socket.recv_fds(theirs, 1 << 20, 3)
        except BaseException:  # noqa: B902 - never return into the template's loop
            os._exit(70)
        if not data or len(fds) != 3:
            os._exit(0)  # the template went away
        _become_instance(handler, _loads(data), fds)
    theirs.close()
    return pid, ours


def _hand_over(socket, control, handler, init_threads, spare, data, fds):
    """Gives the instance's descriptors to the spare (a fresh fork if it died)."""
    fresh = spare is None
    for _ in range(2):
        if spare is None:
            spare = _fork_spare(socket, control, handler, init_threads)
            if spare is None:
                return {"error": "fork failed"}, None
        pid, sock = spare
        try:
            socket.send_fds(sock, [data], fds)
            sock.close()
            return {"pid": pid, "fresh": fresh}, None
        except OSError:
            fresh = True
            sock.close()
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
            spare = None
    return {"error": "the spare child died"}, None


def _become_instance(handler, request, fds):
    """Runs in the forked child: from the template's state to a fresh instance's."""
    try:
        control, out, err = fds
        os.dup2(out, 1)
        os.dup2(err, 2)
        os.dup2(control, _CONTROL_FD)
        for fd in fds:
            if fd > _CONTROL_FD:
                os.close(fd)
        _close_inherited(_CONTROL_FD + 1)
        os.chdir(request["cwd"])
        sys.path[0] = request["cwd"]
        os.environ.clear()
        os.environ.update(entry.split("=", 1) for entry in request["env"] if "=" in entry)
        global _INSTANCE
        _INSTANCE = os.environ.get("KUMO_INSTANCE_ID", "")
        reader = _Reader(_CONTROL_FD)
    except BaseException:  # noqa: B902 - never return into the template's loop
        os._exit(70)
    # No waiting for START: the function's code runs only on INVOKE, which kumo sends once
    # this process is in its cgroups (it joins them before it reads READY).
    _serve(handler, reader)


def _close_inherited(first, keep=-1):
    """Descriptors that init opened (a socket, a file) must not be shared with the template
    and the other instances. They are replaced by an O_PATH descriptor rather than closed,
    so that their numbers stay taken: an object left over from init then fails with EBADF
    instead of writing into whatever file the instance opens next under the same number."""
    placeholder = os.open("/dev/null", os.O_PATH | os.O_CLOEXEC)
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd >= first and fd not in (placeholder, keep):
            try:
                os.dup2(placeholder, fd, inheritable=False)
            except OSError:
                pass
    os.close(placeholder)


_CLONE_NEWNS = 0x00020000
_MS_NOSUID, _MS_NODEV, _MS_RDONLY, _MS_REMOUNT, _MS_BIND = 2, 4, 1, 32, 4096


def _private_tmp():
    """With KUMO_TMP_MB (the template runs in its own mount namespace), each instance gets a
    /tmp of its own: a tmpfs of that many MB in a mount namespace of its own (see
    src/executor/instance_mounts.h). What init wrote to the template's /tmp is not in it. The
    code (the cwd) is bound again, read-only, for when it lies under /tmp."""
    size = os.environ.get("KUMO_TMP_MB")
    if not size:
        return
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                           ctypes.c_char_p]

    def check(rc, what):
        if rc != 0:
            raise OSError(ctypes.get_errno(), "cannot %s for the instance" % what)

    check(libc.unshare(_CLONE_NEWNS), "unshare its mount namespace")
    root = os.getcwd()
    code = os.open(root, os.O_PATH)
    check(libc.mount(b"tmpfs", b"/tmp", b"tmpfs", _MS_NOSUID | _MS_NODEV,
                     ("size=%dm,mode=1777" % int(size)).encode()), "mount /tmp")
    os.makedirs(root, exist_ok=True)
    check(libc.mount(("/proc/self/fd/%d" % code).encode(), root.encode(), None, _MS_BIND, None),
          "bind its code")
    check(libc.mount(None, root.encode(), None,
                     _MS_BIND | _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV, None),
          "make its code read-only")
    os.close(code)
    os.chdir(root)


def _prepare_instance(init_threads):
    """Runs in the spare, before its instance asks for it: its own random state and thread
    counts (torch.set_num_threads takes 13-28 ms here: paid ahead, not by the cold start).
    Threads made here move with the process when it joins the instance's cgroups."""
    _private_tmp()
    threads = int(os.environ.get("KUMO_THREADS", "0") or 0) or len(os.sched_getaffinity(0))
    # `random` reseeds itself after a fork; these keep the template's state otherwise.
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.seed()
        torch.set_num_threads(threads)
    # OpenCV's TBB pool starts its workers on first use, in the child, unless init already
    # ran a parallel loop: then the pool believes in workers that did not survive the fork
    # and runs everything on the calling thread until it is rebuilt (17 ms here, so only
    # when needed).
    cv2 = sys.modules.get("cv2")
    if cv2 is not None and init_threads:
        cv2.setNumThreads(threads)


main()
