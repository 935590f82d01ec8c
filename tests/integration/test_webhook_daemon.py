"""Webhooks through the real daemon (issue 6): a receiver on loopback
checks every X-Simgate-Signature, answers 500 to its first two requests and
200 afterwards; every event of a delivered OTP arrives, in seq order, once.
"""
import hashlib
import hmac
import http.server
import json
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(__file__))
from sglib import check, main, wait_until  # noqa: E402

SECRET = "test-secret-0123456789"


class Receiver(http.server.BaseHTTPRequestHandler):
    got = []
    bad = []
    calls = 0
    lock = threading.Lock()

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        sig = self.headers.get("X-Simgate-Signature", "")
        parts = dict(p.split("=", 1) for p in sig.split(",") if "=" in p)
        want = hmac.new(SECRET.encode(), ("%s." % parts.get("t", "")).encode() + body,
                        hashlib.sha256).hexdigest()
        with Receiver.lock:
            Receiver.calls += 1
            fail = Receiver.calls <= 2
            if not hmac.compare_digest(want, parts.get("v1", "")):
                Receiver.bad.append(sig)
            elif not fail:
                Receiver.got.append(json.loads(body))
        self.send_response(500 if fail else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


def test(h):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = "http://127.0.0.1:%d/hook" % srv.server_address[1]
        m1 = h.modemsim("m1", "sim800", "--sr-delay-ms", "200")
        conf = 'webhook = { urls = [ "%s" ]; secret = "%s"; timeout = 5; };\n' % (url, SECRET)
        d = h.daemon([(m1, "sim800")], extra_conf=conf).start()
        r = d.post("/v1/messages", {"to": "+33612345678", "text": "Code 777111",
                                    "priority": "otp", "status_report": True})
        check(r.status == 202, "submit: %r" % r)
        mid = r.json()["id"]

        def delivered_seen():
            with Receiver.lock:
                return any(e.get("message_id") == mid and
                           (e.get("data") or {}).get("status") == "delivered" for e in Receiver.got)
        wait_until(delivered_seen, 30, "the delivered event at the receiver")
        check(not Receiver.bad, "bad signatures: %r" % Receiver.bad)
        check(Receiver.calls >= 3, "the first two failures were retried")
        seqs = [e["seq"] for e in Receiver.got]
        check(seqs == sorted(seqs) and len(seqs) == len(set(seqs)), "in order, once: %r" % seqs)
        # Everything the log holds up to the last delivered seq reached the receiver.
        ev = d.get("/v1/events?after=0&limit=1000").json()
        ev = ev.get("events", ev) if isinstance(ev, dict) else ev
        logged = [e["seq"] for e in ev if e["seq"] <= seqs[-1]]
        check(logged == seqs, "receiver got %r, log has %r" % (seqs, logged))
        states = [(e.get("data") or {}).get("status") for e in Receiver.got
                  if e.get("message_id") == mid]
        check(states[:1] == ["queued"] and "sent" in states, "message states: %r" % states)
    finally:
        srv.shutdown()


main(test)
