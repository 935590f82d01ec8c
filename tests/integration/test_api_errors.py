"""The API's error contract (issue 6) against the real daemon: more than 50
malformed requests, each answered with the right status and exactly
{"error": {"code", "message", "field"?}} naming the code (and field) the
contract gives; raw-socket abuse (garbage request line, oversized header,
bad Content-Length, a client that sends half a request and hangs up, one
that dawdles while others are served); 429 for the 65th long-poll; a
burst of connections over the cap; 503 when another process holds the
database's write lock; 409 for an idempotency key reused with other
parameters. Afterwards the daemon still answers, no malformed request left
a row behind, and a valid message is sent and arrives intact at the modem.
Then, restarted with per-client and per-destination submit limits: 429 with
Retry-After, naming the limit, and nothing created.
"""
import collections
import os
import socket
import sqlite3
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from apilib import (api_conf, decoded_messages, expect_error, raw, raw_status, req,  # noqa: E402
                    wait_status)
from sglib import TestFailure, check, http, main, wait_until  # noqa: E402

J = {"Content-Type": "application/json"}
OK_TO = '"to":"+33612345678"'


def body(*fields):
    return ("{" + ",".join(fields) + "}").encode()


def sub(name, payload, status, code, field=None, headers=None):
    """A POST /v1/messages case. payload: bytes or str (sent as is)."""
    if isinstance(payload, str):
        payload = payload.encode()
    return (name, "POST", "/v1/messages", payload, J if headers is None else headers,
            status, code, field)


def get(name, path, status, code, field=None, method="GET"):
    return (name, method, path, None, {}, status, code, field)


TXT = '"text":"Your code is 1234"'
CASES = [
    # --- JSON that does not parse, or is not one object
    sub("truncated object", '{"to":"+33612345678","text":"hi"', 400, "malformed_json", False),
    sub("trailing garbage", body(OK_TO, TXT) + b" xyz", 400, "malformed_json", False),
    sub("two objects", body(OK_TO, TXT) * 2, 400, "malformed_json", False),
    sub("a string", '"send it"', 400, "malformed_json", False),
    sub("an array of objects", b"[" + body(OK_TO, TXT) + b"]", 400, "malformed_json", False),
    sub("a number", "42", 400, "malformed_json", False),
    sub("null", "null", 400, "malformed_json", False),
    sub("empty body", b"", 400, "malformed_json", False),
    sub("whitespace only", b"  \n ", 400, "malformed_json", False),
    sub("UTF-8 BOM first", b"\xef\xbb\xbf" + body(OK_TO, TXT), 400, "malformed_json", False),
    sub("invalid UTF-8 in text", b'{"to":"+33612345678","text":"caf\xe9"}', 400,
        "malformed_json", False),
    sub("overlong UTF-8 slash", b'{"to":"+33612345678","text":"\xc0\xaf"}', 400,
        "malformed_json", False),
    sub("lone surrogate escape", body(OK_TO, r'"text":"\ud800"'), 400, "malformed_json", False),
    sub("duplicate key", body(OK_TO, OK_TO, TXT), 400, "malformed_json", False),
    sub("single quotes", "{'to':'+33612345678','text':'x'}", 400, "malformed_json", False),
    sub("comment", body(OK_TO, TXT) + b" // hi", 400, "malformed_json", False),
    sub("NaN", body(OK_TO, TXT, '"ttl":NaN'), 400, "malformed_json", False),
    sub("5000 nested arrays", b"[" * 5000 + b"]" * 5000, 400, "malformed_json", False),
    sub("real overflow", body(OK_TO, TXT, '"ttl":1e400'), 400, "malformed_json", False),
    sub("integer overflow", body(OK_TO, TXT, '"ttl":99999999999999999999999'), 400,
        "malformed_json", False),
    # --- fields: names and types
    sub("missing to", body(TXT), 400, "missing_field", "to"),
    sub("missing text", body(OK_TO), 400, "missing_field", "text"),
    sub("empty object", b"{}", 400, "missing_field"),
    sub("unknown field from", body(OK_TO, TXT, '"from":"+33600000000"'), 400, "unknown_field",
        "from"),
    sub("unknown field To (case)", body('"To":"+33612345678"', TXT), 400, "unknown_field", "To"),
    sub("unknown field, long multibyte name", body(OK_TO, TXT, '"' + "\u00e9" * 40 + '":1'), 400,
        "unknown_field", "\u00e9" * 31),
    sub("to is a number", body('"to":33612345678', TXT), 400, "invalid_type", "to"),
    sub("to is null", body('"to":null', TXT), 400, "invalid_type", "to"),
    sub("to is nested nonsense", body('"to":{"a":[1,{"b":null}]}', TXT), 400, "invalid_type",
        "to"),
    sub("text is an array", body(OK_TO, '"text":["a","b"]'), 400, "invalid_type", "text"),
    sub("text is null", body(OK_TO, '"text":null'), 400, "invalid_type", "text"),
    sub("priority is a number", body(OK_TO, TXT, '"priority":1'), 400, "invalid_type", "priority"),
    sub("ttl is a string", body(OK_TO, TXT, '"ttl":"60"'), 400, "invalid_type", "ttl"),
    sub("status_report is a string", body(OK_TO, TXT, '"status_report":"yes"'), 400,
        "invalid_type", "status_report"),
    sub("smart_encoding is 1", body(OK_TO, TXT, '"smart_encoding":1'), 400, "invalid_type",
        "smart_encoding"),
    # --- numbers
    sub("number with letters", body('"to":"+33abc45678"', TXT), 400, "invalid_number", "to"),
    sub("number too short", body('"to":"+33612"', TXT), 400, "invalid_number", "to"),
    sub("number too long", body('"to":"+3361234567890123"', TXT), 400, "invalid_number", "to"),
    sub("number over the input cap", body('"to":"+%s"' % ("3" * 40), TXT), 400, "invalid_number",
        "to"),
    sub("number empty", body('"to":""', TXT), 400, "invalid_number", "to"),
    sub("number plus only", body('"to":"+"', TXT), 400, "invalid_number", "to"),
    sub("number double plus", body('"to":"++33612345678"', TXT), 400, "invalid_number", "to"),
    sub("number with CR", body(r'"to":"+33612345678\r"', TXT), 400, "invalid_number", "to"),
    sub("number with LF", body(r'"to":"+3361234\n5678"', TXT), 400, "invalid_number", "to"),
    sub("number with NUL", body(r'"to":"+3361234\u00005678"', TXT), 400, "invalid_number", "to"),
    sub("number with quote", body(r'"to":"+33612\"345678"', TXT), 400, "invalid_number", "to"),
    sub("number with Ctrl-Z", body(r'"to":"+33612345678\u001a"', TXT), 400, "invalid_number",
        "to"),
    sub("number is an AT command", body('"to":"AT+CFUN=0"', TXT), 400, "invalid_number", "to"),
    sub("country code 0", body('"to":"+0612345678"', TXT), 400, "invalid_number", "to"),
    sub("national without default_country_code", body('"to":"0612345678"', TXT), 400,
        "invalid_number", "to"),
    # --- text
    sub("empty text", body(OK_TO, '"text":""'), 400, "invalid_text", "text"),
    sub("text with NUL", body(OK_TO, r'"text":"code\u00001234"'), 400, "invalid_text", "text"),
    sub("GSM-7 text over 10 parts", body(OK_TO, '"text":"%s"' % ("A" * 1531)), 400,
        "text_too_long", "text"),
    sub("UCS-2 text over 10 parts", body(OK_TO, '"text":"%s"' % ("Ж" * 671)), 400,
        "text_too_long", "text"),
    sub("text over 8191 bytes", body(OK_TO, '"text":"%s"' % ("A" * 9000)), 400, "text_too_long",
        "text"),
    # --- priority, ttl
    sub("priority high", body(OK_TO, TXT, '"priority":"high"'), 400, "invalid_priority",
        "priority"),
    sub("priority OTP (case)", body(OK_TO, TXT, '"priority":"OTP"'), 400, "invalid_priority",
        "priority"),
    sub("priority with a space", body(OK_TO, TXT, '"priority":"otp "'), 400, "invalid_priority",
        "priority"),
    sub("priority with NUL", body(OK_TO, TXT, r'"priority":"otp\u0000"'), 400,
        "invalid_priority", "priority"),
    sub("priority empty", body(OK_TO, TXT, '"priority":""'), 400, "invalid_priority", "priority"),
    sub("ttl 0", body(OK_TO, TXT, '"ttl":0'), 400, "invalid_ttl", "ttl"),
    sub("ttl negative", body(OK_TO, TXT, '"ttl":-5'), 400, "invalid_ttl", "ttl"),
    sub("ttl 1.5", body(OK_TO, TXT, '"ttl":1.5'), 400, "invalid_ttl", "ttl"),
    sub("ttl over max_ttl", body(OK_TO, TXT, '"ttl":604801'), 400, "invalid_ttl", "ttl"),
    sub("ttl INT64_MAX", body(OK_TO, TXT, '"ttl":9223372036854775807'), 400, "invalid_ttl", "ttl"),
    # --- Idempotency-Key
    sub("key of 129 bytes", body(OK_TO, TXT), 400, "invalid_idempotency_key", "idempotency_key",
        dict(J, **{"Idempotency-Key": "k" * 129})),
    sub("key with a space", body(OK_TO, TXT), 400, "invalid_idempotency_key", "idempotency_key",
        dict(J, **{"Idempotency-Key": "order 17"})),
    sub("key with Latin-1 bytes", body(OK_TO, TXT), 400, "invalid_idempotency_key",
        "idempotency_key", dict(J, **{"Idempotency-Key": "cl\xe9"})),
    # --- media type
    sub("text/plain", body(OK_TO, TXT), 415, "unsupported_media_type", False,
        {"Content-Type": "text/plain"}),
    sub("no Content-Type", body(OK_TO, TXT), 415, "unsupported_media_type", False, {}),
    sub("application/jsonx", body(OK_TO, TXT), 415, "unsupported_media_type", False,
        {"Content-Type": "application/jsonx"}),
    sub("form urlencoded", b"to=%2B33612345678&text=hi", 415, "unsupported_media_type", False,
        {"Content-Type": "application/x-www-form-urlencoded"}),
    # --- size
    sub("body over 64 KiB", body(OK_TO, '"text":"%s"' % ("A" * 70000)), 413, "body_too_large",
        False),
    # --- paths, ids, methods
    get("unknown path", "/v1/nope", 404, "not_found", False),
    get("root", "/", 404, "not_found", False),
    get("v2", "/v2/messages", 404, "not_found", False),
    get("trailing slash", "/v1/messages/", 404, "not_found", False),
    get("id with a tail", "/v1/messages/1/parts", 404, "not_found", False),
    get("unknown id", "/v1/messages/987654", 404, "not_found", "id"),
    get("cancel unknown id", "/v1/messages/987654", 404, "not_found", "id", "DELETE"),
    get("id not a number", "/v1/messages/abc", 400, "invalid_id", "id"),
    get("id zero", "/v1/messages/0", 400, "invalid_id", "id"),
    get("id negative", "/v1/messages/-3", 400, "invalid_id", "id"),
    get("id overflow", "/v1/messages/99999999999999999999", 400, "invalid_id", "id"),
    get("PUT messages", "/v1/messages", 405, "method_not_allowed", False, "PUT"),
    get("DELETE health", "/v1/health", 405, "method_not_allowed", False, "DELETE"),
    get("POST one message", "/v1/messages/1", 405, "method_not_allowed", False, "POST"),
    get("PATCH events", "/v1/events", 405, "method_not_allowed", False, "PATCH"),
    get("POST metrics", "/metrics", 405, "method_not_allowed", False, "POST"),
    # --- query parameters
    get("limit 0", "/v1/messages?limit=0", 400, "invalid_parameter", "limit"),
    get("limit letters", "/v1/messages?limit=ten", 400, "invalid_parameter", "limit"),
    get("limit 1001", "/v1/messages?limit=1001", 400, "invalid_parameter", "limit"),
    get("status bogus", "/v1/messages?status=lost", 400, "invalid_parameter", "status"),
    get("since yesterday", "/v1/messages?since=yesterday", 400, "invalid_parameter", "since"),
    get("since Feb 30", "/v1/messages?since=2026-02-30T00:00:00Z", 400, "invalid_parameter",
        "since"),
    get("after negative", "/v1/messages?after=-1", 400, "invalid_parameter", "after"),
    get("unknown parameter", "/v1/messages?page=2", 400, "unknown_parameter", "page"),
    get("events after letters", "/v1/events?after=x", 400, "invalid_parameter", "after"),
    get("events wait negative", "/v1/events?wait=-1", 400, "invalid_parameter", "wait"),
    get("events limit 0", "/v1/events?limit=0", 400, "invalid_parameter", "limit"),
    get("inbox limit 201", "/v1/inbox?limit=201", 400, "invalid_parameter", "limit"),
    get("health with a parameter", "/v1/health?verbose=1", 400, "unknown_parameter", "verbose"),
]

ALLOW = {"PUT messages": {"GET", "POST"}, "DELETE health": {"GET"},
         "POST one message": {"GET", "DELETE"}, "PATCH events": {"GET"}, "POST metrics": {"GET"}}


def run_table(d, wrongly_accepted):
    failures = []
    for name, method, path, payload, headers, status, code, field in CASES:
        r = req(d, method, path, payload, headers)
        if r.status == 202:
            wrongly_accepted.append(r.json().get("id"))
        try:
            expect_error(r, status, code, field, name)
            if name in ALLOW:
                got = set(x.strip() for x in r.headers.get("Allow", "").split(","))
                check(got == ALLOW[name], "%s: Allow %r" % (name, r.headers.get("Allow")))
        except Exception as e:  # collect them all: one run shows every broken case
            failures.append(str(e))
    check(not failures, "%d of %d cases failed:\n  %s" % (len(failures), len(CASES),
                                                          "\n  ".join(failures)))


def run_raw(d):
    """What http.client will not send. MHD answers some of these itself
    (HTML bodies), so only the status is checked there."""
    st = raw_status(raw(d.sock, b"GARBAGE\r\n\r\n"))
    check(st in (None, 400), "garbage request line: %r" % st)
    st = raw_status(raw(d.sock, b"GET /v1/health HTTP/9.9\r\nHost: x\r\n\r\n"))
    check(st == 505, "HTTP/9.9: %r" % st)
    big = b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n"
    st = raw_status(raw(d.sock, big))
    check(st in (413, 431), "100 KB header: %r" % st)
    bad_cl = (b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: abc\r\n\r\n{}")
    check(raw_status(raw(d.sock, bad_cl)) == 400, "Content-Length abc")
    huge_cl = (b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: 10000000\r\n\r\n{}")
    out = raw(d.sock, huge_cl)
    check(raw_status(out) == 413 and b'"code":"body_too_large"' in out,
          "Content-Length 10 MB: %r" % out[:200])
    chunk = b"8000\r\n" + b" " * 0x8000 + b"\r\n"
    chunked = (b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n" + chunk * 3 + b"0\r\n\r\n")
    out = raw(d.sock, chunked)
    check(raw_status(out) == 413 and b'"code":"body_too_large"' in out,
          "96 KB chunked: %r" % out[:200])
    out = raw(d.sock, b"GET /v1/health HTTP/1.0\r\n\r\n")
    check(raw_status(out) == 200, "HTTP/1.0 without Host still served: %r" % out[:100])

    # Half a request, then the client hangs up: nothing is created.
    partial = (b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: 100\r\n\r\n{\"to\":\"+33612345678\",\"te")
    out = raw(d.sock, partial, timeout=0.3)
    check(out == b"", "a half-sent body gets no answer yet: %r" % out[:100])
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(d.sock)
    s.sendall(b"GET /v1/hea")
    s.close()

    # A slow client holding a half-sent request does not stall the loop.
    slow = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    slow.settimeout(5)
    slow.connect(d.sock)
    try:
        slow.sendall(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\n")
        t0 = time.monotonic()
        r = d.get("/v1/health")
        dt = time.monotonic() - t0
        check(r.status == 200 and dt < 0.5, "health while a client dawdles: %r in %.3fs" % (r, dt))
        slow.sendall(b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n")
        time.sleep(0.2)
        slow.sendall(b"{}")
        got = b""
        while b"\r\n\r\n" not in got or not got.endswith(b"\n"):
            c = slow.recv(4096)
            if not c:
                break
            got += c
        check(raw_status(got) == 400 and b'"missing_field"' in got,
              "the slow request is answered in the end: %r" % got[:200])
    finally:
        slow.close()


def run_crowds(d):
    """64 long-polls may wait at once (API_WAITERS_MAX_DEFAULT); two more
    get 429 too_many_waiters."""
    last = d.get("/v1/events").json()["last_seq"]
    res = [None] * 66

    def poll(k):
        try:
            res[k] = http(d.sock, "GET", "/v1/events?after=%d&wait=2" % last, timeout=10)
        except OSError as e:
            res[k] = e
    th = [threading.Thread(target=poll, args=(k,)) for k in range(len(res))]
    for t in th:
        t.start()
    for t in th:
        t.join(15)
    st = collections.Counter(getattr(r, "status", repr(r)) for r in res)
    check(st == {200: 64, 429: 2}, "66 long-polls: %r" % st)
    for r in res:
        if r.status == 429:
            expect_error(r, 429, "too_many_waiters", "wait", "67th long-poll")
            check(r.headers.get("Retry-After") == "1", "Retry-After: %r" % r.headers)
        else:
            check(r.json() == {"events": [], "last_seq": last}, "empty poll: %r" % r)
    # Bursts of connections over the listener's cap (128), all closed again
    # at once: the API must answer right away each time, not after a minute.
    # 150 blocking connects: MHD accepts 128, the backlog (64) holds the
    # rest. Whether the limit bites depends on timing: twelve rounds.
    for rnd in range(12):
        socks = []

        def burst():
            for _ in range(150):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                socks.append(s)
                s.connect(d.sock)
        t = threading.Thread(target=burst, daemon=True)
        t.start()
        t.join(5)
        n = len(socks)
        for s in socks:
            s.close()
        check(n == 150, "burst %d: only %d connects in 5 s" % (rnd + 1, n))
        t0 = time.monotonic()
        wait_until(lambda: d.healthy(), 3, "health after burst %d of 150 connections (over "
                   "the cap of 128) opened and closed" % (rnd + 1))
        check(time.monotonic() - t0 < 1.0, "recovered in %.2fs" % (time.monotonic() - t0))


def run_conflict(d):
    k = {"Content-Type": "application/json", "Idempotency-Key": "errors-test-key-1"}
    r = req(d, "POST", "/v1/messages", {"to": "+33612345678", "text": "first use of the key"}, k)
    check(r.status == 202, "first use: %r" % r)
    r = req(d, "POST", "/v1/messages", {"to": "+33612345678", "text": "other text, same key"}, k)
    expect_error(r, 409, "idempotency_conflict", "idempotency_key", "key reused")
    r = req(d, "POST", "/v1/messages", {"to": "+33699999999", "text": "first use of the key"}, k)
    expect_error(r, 409, "idempotency_conflict", "idempotency_key", "key reused, other number")
    r = req(d, "POST", "/v1/messages", {"to": "+33612345678", "text": "first use of the key",
                                "priority": "otp"}, k)
    expect_error(r, 409, "idempotency_conflict", "idempotency_key", "key reused, other priority")


def run_store_locked(d):
    """Another process holds the database's write lock: the commit cannot
    happen, so the submit gets 503 with Retry-After, not 202 and not 500."""
    con = sqlite3.connect(os.path.join(d.state, "simgate.db"), isolation_level=None, timeout=2)
    try:
        con.execute("BEGIN IMMEDIATE")
        r = d.post("/v1/messages", {"to": "+33612345678", "text": "while the store is locked"})
        expect_error(r, 503, "unavailable", False, "store locked")
        check(r.headers.get("Retry-After") == "1", "503 Retry-After: %r" % r.headers)
        r = d.get("/v1/health")
        check(r.status == 200, "reads still work while a writer holds the lock: %r" % r)
    finally:
        con.execute("ROLLBACK")
        con.close()


def run_final(d, m1, wrongly_accepted):
    """Still serving, and nothing malformed left a trace: besides what a
    failed table case let in, the only messages are the one the 409 cases
    collided with and the one below."""
    check(d.get("/v1/health").status == 200, "health after the abuse")
    r = d.post("/v1/messages", {"to": "+33612345678", "text": "Still here: code 90210"})
    check(r.status == 202, "valid submit after the abuse: %r" % r)
    i = r.json()["id"]
    wait_status(d, i, "sent", 15)
    listed = d.get("/v1/messages?limit=1000").json()["messages"]
    rows = [(m["id"], m["status"]) for m in listed if m["id"] not in wrongly_accepted]
    check(len(rows) == 2 and rows[-1][0] == i, "rows in the store: %r" % rows)
    want = ["first use of the key", "Still here: code 90210"]
    texts = [x[1] for x in decoded_messages(m1.received())]
    check([t for t in texts if t in want] == want, "modemsim received %r" % texts)
    check(m1.ctl(cmd="stats")["stats"]["unknown"] == 0, "no unknown AT command")


def test(h):
    m1 = h.modemsim("m1", "sim800")
    d = h.daemon([(m1, "sim800")]).start()
    check(len(CASES) >= 50, "at least 50 table cases, have %d" % len(CASES))
    wrong = []
    sections = [lambda: run_table(d, wrong), lambda: run_raw(d), lambda: run_conflict(d),
                lambda: run_store_locked(d), lambda: run_final(d, m1, wrong),
                lambda: run_crowds(d), d.stop, lambda: run_rate_limits(d)]
    # Every section runs even when one fails, so one run shows every defect.
    failures = []
    for run in sections:
        try:
            run()
        except (TestFailure, OSError) as e:
            failures.append("%s: %s" % (type(e).__name__, e))
    check(not failures, "\n".join(failures))


def retry_after(r):
    v = r.headers.get("Retry-After", "")
    check(v.isdigit() and 1 <= int(v) <= 60, "Retry-After %r" % v)
    return int(v)


def run_rate_limits(d):
    """Four submits a minute per client, one per destination: A, A (429
    destination), B, C, then D is over the client's budget (429 client).
    Refused submits create nothing. Also api.body_max = 2048."""
    api_conf(d, client_rate_per_min=4, client_burst=4, destination_rate_per_min=1,
             destination_burst=1, body_max=2048)
    d.start()
    before = len(d.get("/v1/messages?limit=1000").json()["messages"])

    def send(to):
        return req(d, "POST", "/v1/messages", {"to": to, "text": "rate %s" % to})
    check(send("+33611111111").status == 202, "A first")
    r = send("+33611111111")
    expect_error(r, 429, "rate_limited", False, "A again: destination limit")
    check("destination" in r.json()["error"]["message"], "names the limit: %r" % r.json())
    ra_dest = retry_after(r)
    check(ra_dest >= 30, "one a minute: Retry-After %d" % ra_dest)
    check(send("+33622222222").status == 202, "B")
    check(send("0033 6 33 33 33 33").status == 202, "C")
    r = send("+33644444444")
    expect_error(r, 429, "rate_limited", False, "D: client limit")
    check("client" in r.json()["error"]["message"], "names the limit: %r" % r.json())
    retry_after(r)
    after = len(d.get("/v1/messages?limit=1000").json()["messages"])
    check(after == before + 3, "three accepted, %d rows added" % (after - before))
    m = [x for x in d.get("/metrics").body.decode().splitlines()
         if x.startswith("simgate_api_rate_limited_total")]
    check(m == ["simgate_api_rate_limited_total 2"], "metrics: %r" % m)
    # The configured body cap, just over and just under.
    pad = '{"to":"+33655555555","text":"%s"}'
    r = req(d, "POST", "/v1/messages", (pad % ("A" * 2100)).encode(), J)
    expect_error(r, 413, "body_too_large", False, "over body_max 2048")
    r = req(d, "POST", "/v1/messages", (pad % ("A" * 1000)).encode(), J)
    expect_error(r, 429, "rate_limited", False, "under body_max: reaches the limiter")
    d.stop()


main(test)
