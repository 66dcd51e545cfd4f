"""A real `kumo serve` on a free port in a temporary directory, driven through the CLI and HTTP.

Only the standard library: these tests run on Debian's /usr/bin/python3.
"""
import atexit
import functools
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import textwrap
import threading
import time
import unittest

KUMO = os.environ.get("KUMO_BIN", "build/src/server/kumo")


def host_pid(instance_id, inner_pid):
    """The pid, as this test sees it, of a process of a fresh (zygote: false) instance that
    calls itself `inner_pid` in its own pid namespace (in a box an instance is pid 1 of its
    own); None when there is none. The process's environment names its instance."""
    wanted = f"KUMO_INSTANCE_ID={instance_id}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if wanted not in f.read().split(b"\0"):
                    continue
            with open(f"/proc/{entry}/status") as f:
                nspid = [l for l in f if l.startswith("NSpid:")][0].split()[1:]
        except (OSError, IndexError):
            continue
        if int(nspid[-1]) == inner_pid:
            return int(entry)
    return None


def read_admin_key(data_dir):
    """The operator's key a server wrote in its data directory ("" with --auth none)."""
    try:
        with open(os.path.join(data_dir, "admin.key")) as f:
            return f.read().strip()
    except FileNotFoundError:
        return ""


def auth_headers(server, key=None):
    """The Authorization header for `key`, by default the server's admin key ("": none)."""
    key = server.admin_key if key is None else key
    return {"Authorization": f"Bearer {key}"} if key else {}


# The admin key of each server started here, by port, for tools that only know the address.
SERVER_KEYS = {}


def key_headers(port_or_url):
    """{"Authorization": ...} for the server at that port or URL ({} with --auth none)."""
    port = int(str(port_or_url).rstrip("/").rsplit(":", 1)[-1].split("/")[0])
    key = SERVER_KEYS.get(port, "")
    return {"Authorization": f"Bearer {key}"} if key else {}


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now (for servers a test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@functools.lru_cache(maxsize=None)
def serve_accepts(binary, flag):
    """Whether `kumo serve` of `binary` has the option `flag`."""
    r = subprocess.run([binary, "serve", "--help"], capture_output=True, text=True)
    return re.search(re.escape(flag) + r"\b", r.stdout) is not None


@functools.lru_cache(maxsize=None)
def sandbox_available(binary=None):
    """Whether `kumo serve` can box functions on this machine (not, e.g., in a chroot that
    forbids namespaces); where it cannot, servers run with --insecure-no-sandbox."""
    binary = binary or KUMO
    if not serve_accepts(binary, "--check-sandbox"):
        return False
    return subprocess.run([binary, "serve", "--check-sandbox"], capture_output=True).returncode == 0


@functools.lru_cache(maxsize=None)
def share_base():
    """One folder under /var/tmp for every server of this process to bind into its instances'
    boxes (`--sandbox-share`): shared_dir() folders are made in it. Removed at exit."""
    d = tempfile.mkdtemp(prefix="kumo-share-", dir="/var/tmp")
    os.chmod(d, 0o755)
    atexit.register(shutil.rmtree, d, True)
    return d


class Server:
    """Starts `kumo serve --listen 127.0.0.1:0` and reads the port from its log. Where the binary
    boxes its instances, share_base() is bound into every box (at the same path)."""

    def __init__(self, data_dir, extra_args=(), binary=None):
        self.binary = binary or KUMO
        self.data_dir = data_dir
        self.extra_args = list(extra_args)
        self.proc = None
        self.port = None
        self.output = []

    def start(self):
        self.output = []
        share = []
        if serve_accepts(self.binary, "--sandbox-share"):
            share = ["--sandbox-share", share_base()]
            if not sandbox_available(self.binary) and "--insecure-no-sandbox" not in self.extra_args:
                share.append("--insecure-no-sandbox")
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--listen", "127.0.0.1:0", "--data", self.data_dir,
             "--threads", "2", *share, *self.extra_args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        ready = threading.Event()

        def pump():
            for line in self.proc.stdout:
                self.output.append(line)
                m = re.search(r"listening on http://[\d.]+:(\d+)", line)
                if m:
                    self.port = int(m.group(1))
                    ready.set()
        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(30):
            self.stop()
            raise RuntimeError("kumo serve did not start:\n" + "".join(self.output))
        SERVER_KEYS[self.port] = self.admin_key
        return self

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    admin_key = property(lambda self: read_admin_key(self.data_dir))
    auth_headers = auth_headers

    def aws_credentials(self, key=None):
        """(access key id, secret access key) of a key, the admin key by default: a token
        kumo_<id>_<secret> signs AWS SigV4 with its id and its secret."""
        token = key or self.admin_key
        return token[5:24], token[25:]

    def add_key(self, scopes, tenant=""):
        """A new key made through the keys API with the admin key; returns its token."""
        body = {"name": "test", "scopes": scopes}
        if tenant:
            body["tenant"] = tenant
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request("POST", "/api/v1/keys", body=json.dumps(body),
                     headers=self.auth_headers())
        r = conn.getresponse()
        data = r.read()
        conn.close()
        if r.status != 201:
            raise RuntimeError(f"making a key {body} answered {r.status}: {data!r}")
        return json.loads(data)["token"]

    def add_tenant(self, name):
        """Makes tenant `name` through the tenants API (the operator's); one that exists is
        left as it is."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request("POST", "/api/v1/tenants", body=json.dumps({"name": name}),
                     headers=self.auth_headers())
        r = conn.getresponse()
        data = r.read()
        conn.close()
        if r.status not in (201, 409):
            raise RuntimeError(f"making tenant {name} answered {r.status}: {data!r}")

    def log_text(self):
        return "".join(self.output)


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    def header(self, name):
        return self.headers.get(name.lower(), "")


class KumoTestCase(unittest.TestCase):
    """Each test class gets its own server and data directory."""

    server_args = ()

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="kumo-it-")
        cls.server = Server(os.path.join(cls.tmp, "data"), cls.server_args).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    # --- HTTP -----------------------------------------------------------------------------
    def request(self, method, path, body=None, headers=None, timeout=60, key=None):
        """Sends the admin key unless `key` names another ("" sends none)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=timeout)
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        all_headers = self.server.auth_headers(key)
        all_headers.update(headers or {})
        conn.request(method, path, body=body, headers=all_headers)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)

    def s3_client(self, key=None, **s3_config):
        """Debian's boto3 at this server's S3 endpoint (path-style), signing with a key (the
        admin key by default); `s3_config` adds to botocore's Config(s3={...})."""
        import boto3
        from botocore.config import Config
        key_id, secret = self.server.aws_credentials(key)
        return boto3.client("s3", endpoint_url=self.server.url + "/s3", region_name="us-east-1",
                            aws_access_key_id=key_id, aws_secret_access_key=secret,
                            config=Config(signature_version="s3v4",
                                          s3={"addressing_style": "path", **s3_config}))

    def make_key(self, scopes, tenant=None, key=None, **fields):
        """A new key's token (made with the admin key unless `key` names another)."""
        body = {"name": fields.pop("name", "test"), "scopes": scopes, **fields}
        if tenant is not None:
            body["tenant"] = tenant
        r = self.request("POST", "/api/v1/keys", body, key=key)
        if r.status != 201:
            self.fail(f"making a key {body} answered {r.status}: {r.body!r}")
        return r.json()["token"]

    def invoke(self, name, event=None, timeout=60):
        return self.request("POST", f"/api/v1/functions/{name}/invoke", event or {},
                            timeout=timeout)

    # --- CLI ------------------------------------------------------------------------------
    def kumo(self, *args, check=True, input=None, key=None):
        env = dict(os.environ, KUMO_URL=self.server.url)
        env.pop("KUMO_API_KEY", None)
        key = self.server.admin_key if key is None else key
        if key:
            env["KUMO_API_KEY"] = key
        r = subprocess.run([KUMO, *args], capture_output=True, text=True, env=env,
                           input=input, timeout=120)
        if check and r.returncode != 0:
            self.fail(f"kumo {' '.join(args)} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
        return r

    # --- functions ------------------------------------------------------------------------
    def write_function(self, name, code, spec_extra="", handler="main.handle",
                       runtime="python3", files=None):
        d = os.path.join(self.tmp, "src", name)
        os.makedirs(d, exist_ok=True)
        spec = f"name: {name}\nruntime: {runtime}\nhandler: {handler}\n" + \
            textwrap.dedent(spec_extra)
        with open(os.path.join(d, "kumo.yaml"), "w") as f:
            f.write(spec)
        if code is not None:
            with open(os.path.join(d, "main.py"), "w") as f:
                f.write(textwrap.dedent(code))
        for rel, content in (files or {}).items():
            with open(os.path.join(d, rel), "w") as f:
                f.write(content)
        return d

    def shared_dir(self):
        """A folder both the test and its functions see (an instance's /tmp is its own), that
        functions may write (they run as users of their own)."""
        d = tempfile.mkdtemp(prefix="kumo-shared-", dir=share_base())
        os.chmod(d, 0o777)
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def deploy(self, name, code, spec_extra="", **kw):
        d = self.write_function(name, code, spec_extra, **kw)
        return self.kumo("deploy", d)

    def describe(self, name):
        return json.loads(self.kumo("describe", name, "--json").stdout)

    def wait_for(self, predicate, timeout=20, interval=0.1, what="condition"):
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(interval)
        self.fail(f"timed out waiting for {what}")
