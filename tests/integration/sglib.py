"""Shared helpers for integration tests that run the real daemon.

Everything here is real: modemsim on a pty, simgated as a child process with
a temporary state directory, HTTP/1.1 over the daemon's Unix socket. Every
process started through a Harness is killed when the harness closes, also
when a test fails.
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("SG_BUILD", os.path.join(os.getcwd(), "build"))
ROOT = os.environ.get("SG_ROOT", os.getcwd())


class TestFailure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise TestFailure(what)


def wait_until(pred, timeout, what, interval=0.02):
    """Polls pred() until it returns a true value; fails with `what`."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TestFailure("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "<%d %s>" % (self.status, self.body[:300])


def http(sock_path, method, path, body=None, headers=None, timeout=30):
    """One request on a fresh connection. body: dict (sent as JSON), str or bytes."""
    h = {"Host": "localhost"}
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    elif isinstance(body, str):
        body = body.encode()
    if headers:
        h.update(headers)
    c = UnixHTTPConnection(sock_path, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        return Response(r.status, dict(r.getheaders()), r.read())
    finally:
        c.close()


class Modemsim:
    def __init__(self, harness, name, profile, extra=()):
        self.name = name
        self.link = os.path.join(harness.dir, name + ".pty")
        self.control = os.path.join(harness.dir, name + ".ctl")
        self.log = os.path.join(harness.dir, name + ".log")
        self.stderr = open(os.path.join(harness.dir, name + ".stderr"), "w")
        args = [os.path.join(BUILD, "modemsim"), "--profile", profile, "--link", self.link,
                "--control", self.control, "--log", self.log] + list(extra)
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.stderr,
                                     text=True)
        harness.procs.append(self.proc)
        line = self.proc.stdout.readline().strip()
        check(line.startswith("/dev/"), "modemsim %s did not print its pty (got %r)" % (name, line))
        self.pty = line
        wait_until(lambda: os.path.exists(self.control), 5, "modemsim control socket")

    def ctl(self, **cmd):
        """Sends one JSON command on the control socket, returns the reply."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(self.control)
        try:
            s.sendall((json.dumps(cmd) + "\n").encode())
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
            return json.loads(buf.decode()) if buf.strip() else None
        finally:
            s.close()

    def received(self):
        """Every PDU logged by the simulator, as dicts."""
        out = []
        if os.path.exists(self.log):
            with open(self.log) as f:
                for line in f:
                    line = line.strip()
                    if line:
                        out.append(json.loads(line))
        return out


class Daemon:
    def __init__(self, harness, modems, extra_conf="", name="simgated"):
        self.h = harness
        self.state = os.path.join(harness.dir, "state")
        self.sock = os.path.join(harness.dir, "api.sock")
        self.conf = os.path.join(harness.dir, name + ".conf")
        self.logpath = os.path.join(harness.dir, name + ".log")
        slots = ",\n".join(
            '  { id = "%s"; port = "%s"; vendor = "%s"; }' % (m.name, m.link, vendor)
            for m, vendor in modems)
        with open(self.conf, "w") as f:
            f.write('state_dir = "%s";\napi = { socket = "%s"; };\nlog_level = "debug";\n'
                    'modems = (\n%s\n);\n%s' % (self.state, self.sock, slots, extra_conf))
        self.proc = None

    def start(self, wait_ready=True):
        self.log = open(self.logpath, "a")
        self.proc = subprocess.Popen([os.path.join(BUILD, "simgated"), "-f", "-c", self.conf],
                                     stdout=self.log, stderr=self.log)
        self.h.procs.append(self.proc)
        # A killed daemon leaves its socket file behind: wait until the new
        # one answers, not until the file exists.
        wait_until(lambda: self.answers() or self.proc.poll() is not None, 10, "the API socket")
        check(self.proc.poll() is None, "simgated exited at start:\n" + self.tail())
        if wait_ready:
            wait_until(self.all_ready, 30, "every modem ready")
        return self

    def answers(self):
        try:
            return self.get("/v1/health", timeout=2).status in (200, 503)
        except OSError:
            return False

    def healthy(self):
        try:
            return self.get("/v1/health", timeout=2).status == 200
        except OSError:
            return False

    def modems(self):
        r = self.get("/v1/modems").json()
        return r.get("modems", r) if isinstance(r, dict) else r

    def all_ready(self):
        try:
            return all(m["state"] in ("ready", "busy") for m in self.modems())
        except (OSError, ValueError, KeyError):
            return False

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=10)
        if os.path.exists(self.sock) and sig == signal.SIGKILL:
            pass  # a killed daemon leaves its socket; the next start replaces it

    def stop(self):
        self.kill(signal.SIGTERM)

    def tail(self, n=60):
        try:
            with open(self.logpath) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def get(self, path, **kw):
        return http(self.sock, "GET", path, **kw)

    def post(self, path, body, **kw):
        return http(self.sock, "POST", path, body=body, **kw)

    def delete(self, path, **kw):
        return http(self.sock, "DELETE", path, **kw)


class Harness:
    """with Harness() as h: ... ; kills everything and removes the temp dir."""

    def __init__(self, keep=False):
        self.dir = tempfile.mkdtemp(prefix="sg-it-")
        self.procs = []
        self.keep = keep

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
        if et is not None:
            for f in sorted(os.listdir(self.dir)):
                if f.endswith(".log") or f.endswith(".stderr"):
                    p = os.path.join(self.dir, f)
                    with open(p, errors="replace") as fh:
                        lines = fh.readlines()[-40:]
                    sys.stderr.write("--- %s (last %d lines)\n%s" % (f, len(lines), "".join(lines)))
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def modemsim(self, name, profile, *extra):
        return Modemsim(self, name, profile, extra)

    def daemon(self, modems, extra_conf=""):
        return Daemon(self, modems, extra_conf)


def main(test):
    """Runs test(harness); prints the outcome; exit 0 / 1."""
    try:
        with Harness() as h:
            test(h)
    except TestFailure as e:
        print("FAIL:", e)
        sys.exit(1)
    print("ok")
