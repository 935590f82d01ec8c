"""Helpers for the API integration tests (issue 6), on top of sglib.

Error-contract checks, raw-socket requests (for what http.client refuses to
send), message and event reads, and the gammu oracle for modemsim's PDU log.
"""
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from sglib import TestFailure, check, http, wait_until  # noqa: E402

FINAL = ("sent", "delivered", "undelivered", "failed", "expired", "canceled", "unknown")


class Fake:
    """A modem slot whose port does not exist (for Daemon(modems=...))."""

    def __init__(self, h, name):
        self.name = name
        self.link = os.path.join(h.dir, name + ".missing-pty")


def req(d, method, path, body=None, headers=None, timeout=10):
    """One request; no answer within timeout is a test failure that says so
    (rather than a traceback from deep inside http.client)."""
    try:
        return http(d.sock, method, path, body=body, headers=headers, timeout=timeout)
    except socket.timeout:
        raise TestFailure("no answer to %s %s within %gs (body %r)" % (
            method, path, timeout, body if not isinstance(body, bytes) else body[:80]))


def expect_error(r, status, code=None, field=None, what=""):
    """Checks an error answer: status, JSON content type and exactly
    {"error": {"code": str, "message": non-empty str, "field"?: str}}.
    field=None: not checked; field=False: must be absent."""
    tag = "%s: " % what if what else ""
    check(r.status == status, "%swant %d, got %r" % (tag, status, r))
    ct = r.headers.get("Content-Type", "")
    check(ct.startswith("application/json"), "%serror content type %r" % (tag, ct))
    try:
        body = json.loads(r.body.decode("utf-8"))
    except ValueError:
        raise TestFailure("%serror body is not JSON: %r" % (tag, r.body[:200]))
    check(isinstance(body, dict) and list(body) == ["error"], "%serror body keys: %r" % (tag, body))
    e = body["error"]
    check(isinstance(e, dict), "%serror is not an object: %r" % (tag, body))
    extra = set(e) - {"code", "message", "field"}
    check(not extra, "%sunexpected error keys %r" % (tag, extra))
    check(isinstance(e.get("code"), str) and e["code"], "%serror.code: %r" % (tag, e))
    check(isinstance(e.get("message"), str) and e["message"], "%serror.message: %r" % (tag, e))
    if "field" in e:
        check(isinstance(e["field"], str) and e["field"], "%serror.field: %r" % (tag, e))
    if code is not None:
        check(e["code"] == code, "%swant code %r, got %r" % (tag, code, e))
    if field is False:
        check("field" not in e, "%sno field expected: %r" % (tag, e))
    elif field is not None:
        check(e.get("field") == field, "%swant field %r, got %r" % (tag, field, e))
    return e


def unwrap(body, key):
    return body.get(key, body) if isinstance(body, dict) else body


def msg(d, i):
    r = d.get("/v1/messages/%d" % i)
    check(r.status == 200, "GET /v1/messages/%d: %r" % (i, r))
    return r.json()


def wait_status(d, i, states, timeout=20):
    if isinstance(states, str):
        states = (states,)
    return wait_until(lambda: msg(d, i)["status"] in states and msg(d, i), timeout,
                      "message %d in %r (now %s)" % (i, states, "?"))


def submit(d, body, headers=None, want=202):
    r = d.post("/v1/messages", body, headers=headers)
    check(r.status == want, "submit %r: want %d, got %r" % (body, want, r))
    return r.json()


def events(d, after=0, limit=1000, wait=None, timeout=30):
    q = "/v1/events?after=%d&limit=%d" % (after, limit)
    if wait is not None:
        q += "&wait=%d" % wait
    r = d.get(q, timeout=timeout)
    check(r.status == 200, "GET %s: %r" % (q, r))
    return r.json()


def all_events(d):
    """Every event in the log, paging with the cursor."""
    out, after = [], 0
    while True:
        b = events(d, after=after)
        out += b["events"]
        if not b["events"]:
            return out
        after = b["last_seq"]


def raw(sock_path, data, timeout=5, close_write=False, chunks=None, pause=0.0):
    """Sends bytes on a fresh Unix-socket connection and returns every byte
    the server sent until it closed (or timeout). chunks: send these pieces
    with `pause` seconds in between instead of data."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock_path)
    buf = b""
    try:
        for i, c in enumerate(chunks if chunks is not None else [data]):
            if i and pause:
                time.sleep(pause)
            s.sendall(c)
        if close_write:
            s.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not b:
                break
            buf += b
            if response_complete(buf):
                break
    finally:
        s.close()
    return buf


def response_complete(buf):
    head, sep, body = buf.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            return len(body) >= int(v.strip())
    return False


def raw_status(buf):
    """Status code of the first response in buf, or None when there is none."""
    if not buf.startswith(b"HTTP/1."):
        return None
    try:
        return int(buf.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


def decode_pdu(hexpdu):
    """modemsim logs the PDU as sent (SMSC field first)."""
    import gammu
    return gammu.DecodePDU(bytes.fromhex(hexpdu), SMSC=True)


def decoded_messages(records):
    """Groups modemsim log records (result ok) into whole messages by concat
    reference: returns [(number, text, [records])] in arrival order."""
    groups, order = {}, []
    for rec in records:
        if rec.get("result") != "ok":
            continue
        d = decode_pdu(rec["pdu"])
        udh = d.get("UDH") or {}
        ref = udh.get("ID8bit", -1)
        if ref is None or ref < 0:
            ref = udh.get("ID16bit", -1)
        total = udh.get("AllParts", -1) or -1
        if ref is not None and ref >= 0 and total > 1:
            key = (d["Number"], ref, total)
        else:
            key = ("single", len(order))
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append((udh.get("PartNumber", 1), d, rec))
    out = []
    for key in order:
        parts = sorted(groups[key], key=lambda p: p[0])
        out.append((parts[0][1]["Number"], "".join(p[1]["Text"] for p in parts),
                    [p[2] for p in parts]))
    return out


# GSM 03.38 default alphabet and its extension table, written out here so the
# check below does not share a line of code with drivers/gsm.
GSM7 = ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
        "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXT = {0x0A: "\x0c", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\", 0x3C: "[", 0x3D: "~",
            0x3E: "]", 0x40: "|", 0x65: "€"}
assert len(GSM7) == 128


def submit_pdu(hexpdu):
    """Decodes an SMS-SUBMIT as sent with AT+CMGS (SMSC field first):
    returns dict(number, dcs, udh (bytes), text). Raises ValueError on any
    inconsistency (lengths that do not add up, trailing bytes)."""
    b = bytes.fromhex(hexpdu)
    i = 1 + b[0]
    fo = b[i]
    if fo & 0x03 != 0x01:
        raise ValueError("not a SUBMIT: first octet %02x" % fo)
    udhi, vpf = fo & 0x40, (fo >> 3) & 3
    i += 2  # first octet, TP-MR
    ndig, toa = b[i], b[i + 1]
    nb = (ndig + 1) // 2
    digits = "".join("%d%d" % (x & 15, x >> 4) for x in b[i + 2:i + 2 + nb])[:ndig]
    if not digits.isdigit():
        raise ValueError("address digits %r" % digits)
    number = ("+" if toa == 0x91 else "") + digits
    i += 2 + nb
    dcs = b[i + 1]
    i += 2 + {0: 0, 2: 1, 1: 7, 3: 7}[vpf]
    udl, ud = b[i], b[i + 1:]
    ucs2 = (dcs & 0x0C) == 0x08
    if dcs & 0x0C == 0x04:
        raise ValueError("8-bit data")
    need = udl if ucs2 else (udl * 7 + 7) // 8
    if len(ud) != need:
        raise ValueError("UDL %d needs %d octets, PDU has %d" % (udl, need, len(ud)))
    udh, skip = b"", 0
    if udhi:
        udh = ud[1:1 + ud[0]]
        skip = 1 + ud[0]
    if ucs2:
        return dict(number=number, dcs=dcs, udh=udh, text=ud[skip:].decode("utf-16-be"))
    bits = int.from_bytes(ud, "little")
    sept = [(bits >> (7 * k)) & 0x7F for k in range(udl)]
    sept = sept[(skip * 8 + 6) // 7:]
    out, esc = [], False
    for s in sept:
        if esc:
            if s not in GSM7_EXT:
                raise ValueError("undefined extension septet %02x" % s)
            out.append(GSM7_EXT[s])
            esc = False
        elif s == 0x1B:
            esc = True
        else:
            out.append(GSM7[s])
    if esc:
        raise ValueError("escape septet at the end")
    return dict(number=number, dcs=dcs, udh=udh, text="".join(out))


def api_conf(d, **keys):
    """Adds keys to the `api` group of the config sglib.Daemon wrote (a
    second `api` group in extra_conf would be a duplicate setting)."""
    with open(d.conf) as f:
        text = f.read()
    old = 'api = { socket = "%s"; };' % d.sock
    check(old in text, "sglib's api group not found in %s" % d.conf)
    def lit(v):
        if isinstance(v, (list, tuple)):
            return "[ %s ]" % ", ".join(lit(x) for x in v)
        return '"%s"' % v if isinstance(v, str) else str(v)
    extra = "".join(" %s = %s;" % (k, lit(v)) for k, v in keys.items())
    with open(d.conf, "w") as f:
        f.write(text.replace(old, 'api = { socket = "%s";%s };' % (d.sock, extra)))
