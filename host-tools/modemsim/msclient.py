"""Drive modemsim from Python (stdlib only): start it, talk AT on its pty,
send control commands. Used by tests/integration/test_modemsim_*.py and handy
for integrators:

    with ModemSim(build_dir, "ec25", tmpdir) as sim:
        port = sim.port()
        print(port.cmd("AT+CSQ"))
        sim.ctl({"cmd": "network_lost"})
"""
import json
import os
import re
import select
import signal
import socket
import subprocess
import termios
import time

FINAL = re.compile(
    rb"\r\n(OK|ERROR|COMMAND NOT SUPPORT|NO CARRIER|\+CM[ES] ERROR: [^\r]*)\r\n")


class Port:
    """The host side of the pty, raw, non-blocking."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        t = termios.tcgetattr(self.fd)
        t[0] = 0                      # iflag
        t[1] = 0                      # oflag
        t[2] = termios.CS8 | termios.CREAD | termios.CLOCAL
        t[3] = 0                      # lflag
        t[6][termios.VMIN] = 0
        t[6][termios.VTIME] = 0
        termios.tcsetattr(self.fd, termios.TCSANOW, t)
        self.buf = b""

    def close(self):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def write(self, data):
        if isinstance(data, str):
            data = data.encode()
        while data:
            try:
                n = os.write(self.fd, data)
            except BlockingIOError:
                time.sleep(0.005)
                continue
            data = data[n:]

    def _fill(self, timeout):
        r, _, _ = select.select([self.fd], [], [], max(0.0, timeout))
        if not r:
            return False
        try:
            chunk = os.read(self.fd, 4096)
        except BlockingIOError:
            return False
        # EIO means the pty is gone (unplug, or modemsim died): let it show.
        self.buf += chunk
        return bool(chunk)

    def read_for(self, seconds):
        """Everything that arrives within `seconds`."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self._fill(end - time.monotonic())
        out, self.buf = self.buf, b""
        return out

    def read_until(self, pattern, timeout=3.0):
        """Bytes up to and including the first match of regex `pattern`
        (bytes); raises TimeoutError with what came."""
        rx = re.compile(pattern) if isinstance(pattern, bytes) else pattern
        end = time.monotonic() + timeout
        while True:
            m = rx.search(self.buf)
            if m:
                out, self.buf = self.buf[:m.end()], self.buf[m.end():]
                return out
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError("waited for %r, got %r" % (rx.pattern, self.buf))
            self._fill(min(left, 0.2))

    def cmd(self, line, timeout=3.0):
        """Sends line + CR; returns the reply up to the final result, decoded."""
        self.write(line + "\r")
        return self.read_until(FINAL, timeout).decode("latin-1")

    def sync(self, tries=30):
        """AT until OK (the modem drops input while it boots)."""
        for _ in range(tries):
            self.write("AT\r")
            try:
                self.read_until(rb"\r\nOK\r\n", 0.25)
                return
            except TimeoutError:
                pass
        raise TimeoutError("no OK to AT")


class ModemSim:
    """A modemsim process with a --link, --control and --log in tmpdir."""

    def __init__(self, build, profile, tmpdir, *args, name="m"):
        self.tmpdir = tmpdir
        self.link = os.path.join(tmpdir, name + ".tty")
        self.control = os.path.join(tmpdir, name + ".ctl")
        self.log = os.path.join(tmpdir, name + ".log")
        self.stderr = open(os.path.join(tmpdir, name + ".stderr"), "w")
        cmd = [os.path.join(build, "modemsim"), "--profile", profile, "--link", self.link,
               "--control", self.control, "--log", self.log] + list(args)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.stderr)
        self.path = self.proc.stdout.readline().decode().strip()
        if not self.path:
            self.stop()
            raise RuntimeError("modemsim did not start: " + " ".join(cmd))
        for _ in range(100):
            if os.path.exists(self.control):
                break
            time.sleep(0.01)
        self.sock = None
        self.ports = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def port(self):
        p = Port(self.link)
        self.ports.append(p)
        return p

    def ctl(self, obj):
        if self.sock is None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(5)
            self.sock.connect(self.control)
            self.sockf = self.sock.makefile("rb")
        self.sock.sendall((json.dumps(obj) + "\n").encode())
        return json.loads(self.sockf.readline())

    def log_lines(self):
        try:
            with open(self.log) as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def stop(self):
        if self.proc.stdout.closed:
            return
        for p in self.ports:
            p.close()
        self.ports = []
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.stderr.close()
        # A clean SIGTERM exit is 0; sanitizer builds report here too.
        with open(self.stderr.name, errors="replace") as f:
            err = f.read()
        if self.proc.returncode != 0 or "Sanitizer" in err or "runtime error:" in err:
            raise RuntimeError("modemsim exited %s: %s" % (self.proc.returncode, err[-2000:]))
