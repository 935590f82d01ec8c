"""Who may talk to the API (issue 6), against the real daemon: the Unix
socket's mode and group, peer uid/pid logged with every write request, and the
optional TCP listener that wants `Authorization: Bearer <token>` (401 with
WWW-Authenticate otherwise, either of two configured tokens accepted, a
token never written to the log). Tokens shorter than 32 characters keep the
daemon from starting.
"""
import grp
import http.client
import json
import os
import re
import socket
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from apilib import api_conf, expect_error, msg, req, wait_status  # noqa: E402
from sglib import BUILD, Response, check, main  # noqa: E402

TOKEN_A = "tA9f3c1e0b7d54a2e8c6f1b3d5a7e9c0f2"
TOKEN_B = "tB0123456789abcdef0123456789abcdef0123456789"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def tcp(port, method, path, body=None, headers=None):
    h = {"Host": "localhost"}
    if body is not None:
        body = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    h.update(headers or {})
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        return Response(r.status, dict(r.getheaders()), r.read())
    finally:
        c.close()


def log_text(d):
    with open(d.logpath, errors="replace") as f:
        return f.read()


def test(h):
    m1 = h.modemsim("m1", "sim800")
    d = h.daemon([(m1, "sim800")])
    port = free_port()
    group = grp.getgrnam("nogroup")
    api_conf(d, socket_mode="0640", group="nogroup", tcp_listen="127.0.0.1:%d" % port,
             tokens=[TOKEN_A, TOKEN_B])
    d.start()

    st = os.stat(d.sock)
    check(stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o640,
          "socket mode %o, configured 0640" % stat.S_IMODE(st.st_mode))
    check(st.st_gid == group.gr_gid, "socket group %d, configured nogroup (%d)" % (
        st.st_gid, group.gr_gid))

    # Unix socket: no token needed; the write is logged with our uid and pid.
    r = req(d, "POST", "/v1/messages", {"to": "+33612345678", "text": "over the socket"})
    check(r.status == 202, "unix submit: %r" % r)
    uid, pid = os.getuid(), os.getpid()
    lines = [x for x in log_text(d).splitlines()
             if "event=api.request" in x and "method=POST" in x and "status=202" in x]
    check(lines and re.search(r"\buid=%d pid=%d\b" % (uid, pid), lines[-1]),
          "write request logged with uid=%d pid=%d: %r" % (uid, pid, lines[-1:]))

    # TCP without or with a wrong token: 401, nothing created.
    bad = [None, "Bearer", "Bearer ", "Bearer " + TOKEN_A[:-1], "Bearer " + TOKEN_A + "x",
           "Basic " + TOKEN_A, TOKEN_A, "Bearer " + TOKEN_A.upper()]
    for auth in bad:
        hdr = {"Authorization": auth} if auth is not None else {}
        r = tcp(port, "GET", "/v1/health", headers=hdr)
        expect_error(r, 401, "unauthorized", False, "auth %r" % auth)
        check(r.headers.get("WWW-Authenticate", "").startswith("Bearer"),
              "WWW-Authenticate: %r" % r.headers)
        r = tcp(port, "POST", "/v1/messages", {"to": "+33612345678", "text": "no"}, hdr)
        expect_error(r, 401, "unauthorized", False, "submit with auth %r" % auth)
    # 401 comes before routing: an unknown path does not tell it exists.
    expect_error(tcp(port, "GET", "/v1/nope"), 401, "unauthorized", False, "401 before 404")

    # Either token works, for reads and writes.
    for tok in (TOKEN_A, TOKEN_B):
        r = tcp(port, "GET", "/v1/health", headers={"Authorization": "Bearer " + tok})
        check(r.status == 200 and r.json()["status"] == "ok", "health over TCP: %r" % r)
    r = tcp(port, "POST", "/v1/messages", {"to": "+33612345678", "text": "over TCP"},
            {"Authorization": "Bearer " + TOKEN_B})
    check(r.status == 202, "TCP submit: %r" % r)
    wait_status(d, r.json()["id"], "sent")
    listed = d.get("/v1/messages?limit=100").json()["messages"]
    check(len(listed) == 2, "only the two authorised submits exist: %r" % listed)
    check(msg(d, r.json()["id"])["text"] == "over TCP", "TCP message text")
    text = log_text(d)
    check(re.search(r"method=POST .*status=202 .*token=1", text),
          "TCP write logged with the token's index")
    for t in (TOKEN_A, TOKEN_B, TOKEN_A[:12], TOKEN_B[:12]):
        check(t not in text, "a token (or its start) is in the log")
    d.stop()

    # A short token is a configuration error: the daemon refuses to start.
    with open(d.conf) as f:
        conf = f.read()
    short = re.sub(r'tokens = \[[^]]*\];', 'tokens = [ "short-token-0123456789" ];', conf)
    check(short != conf, "tokens found in the config")
    with open(d.conf, "w") as f:
        f.write(short)
    p = subprocess.run([os.path.join(BUILD, "simgated"), "--check-config", "-c", d.conf],
                       capture_output=True, text=True, timeout=10)
    check(p.returncode != 0 and "token" in (p.stdout + p.stderr),
          "short token accepted by --check-config: rc=%d %r" % (p.returncode,
                                                                 (p.stdout + p.stderr)[-300:]))


main(test)
