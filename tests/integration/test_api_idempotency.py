"""Idempotency-Key on POST /v1/messages (issue 6), real daemon and modemsim:
the same key with the same body gives the same id and one PDU at the modem,
also when eight copies race in one group commit and when the number is
written another way; the same key with another body is 409; different keys
(or none) make different messages; the key survives a SIGTERM restart and a
kill -9 right after the 202.
"""
import os
import signal
import sys
import threading

sys.path.insert(0, os.path.dirname(__file__))
from apilib import decoded_messages, expect_error, req, wait_status  # noqa: E402
from sglib import check, main  # noqa: E402


def post(d, body, key=None):
    hdr = {"Content-Type": "application/json"}
    if key is not None:
        hdr["Idempotency-Key"] = key
    return req(d, "POST", "/v1/messages", body, hdr)


def accepted(r, what):
    check(r.status == 202, "%s: %r" % (what, r))
    return r.json()


def copies(m1, text):
    return [x[1] for x in decoded_messages(m1.received())].count(text)


def rows(d):
    return d.get("/v1/messages?limit=1000").json()["messages"]


def test(h):
    m1 = h.modemsim("m1", "sim800")
    d = h.daemon([(m1, "sim800")]).start()
    otp = {"to": "+33612345678", "text": "Your code is 551204", "priority": "otp", "ttl": 120}

    # Same key, same body: one message, replays answer with its id.
    a = accepted(post(d, otp, "order-1001-otp"), "first submit")
    check(a["status"] == "queued" and "replayed" not in a, "first answer: %r" % a)
    wait_status(d, a["id"], "sent")
    b = accepted(post(d, otp, "order-1001-otp"), "replay")
    check(b["id"] == a["id"] and b.get("replayed") is True, "replay answer: %r vs %r" % (b, a))
    check(b["status"] == "sent", "a replay reports the message's state now: %r" % b)
    check(len(rows(d)) == 1, "one row after a replay: %r" % rows(d))
    # The same number written another way is the same parameters.
    c = accepted(post(d, dict(otp, to="0033 6 12 34 56 78"), "order-1001-otp"), "replay 00")
    check(c["id"] == a["id"], "00-prefixed number replays: %r" % c)
    check(copies(m1, otp["text"]) == 1, "one PDU at the modem, got %d" % copies(m1, otp["text"]))

    # Same key, another body: 409, nothing created.
    for change in ({"text": "Your code is 000000"}, {"to": "+33612345679"},
                   {"priority": "urgent"}, {"ttl": 121}, {"status_report": True}):
        r = post(d, dict(otp, **change), "order-1001-otp")
        expect_error(r, 409, "idempotency_conflict", "idempotency_key", "changed %r" % change)
        check("message %d" % a["id"] in r.json()["error"]["message"],
              "409 names the message the key belongs to: %r" % r.json())
    check(len(rows(d)) == 1, "409s create nothing")

    # Different keys, and no key: different messages.
    bulk = {"to": "+33698765432", "text": "Spring sale: 20% off", "priority": "bulk"}
    ids = [accepted(post(d, bulk, k), "key %r" % k)["id"] for k in ("sale-1", "sale-2", None, None)]
    check(len(set(ids)) == 4 and a["id"] not in ids, "four messages: %r" % ids)
    for i in ids:
        wait_status(d, i, "sent")
    check(copies(m1, bulk["text"]) == 4, "four PDUs for four messages")

    # Eight copies at once with one key: they meet in one group commit.
    race = {"to": "+447700900123", "text": "Race for the key", "priority": "urgent"}
    out = [None] * 8

    def one(k):
        out[k] = post(d, race, "race-key-7")
    th = [threading.Thread(target=one, args=(k,)) for k in range(8)]
    for t in th:
        t.start()
    for t in th:
        t.join(20)
    check(all(r is not None and r.status == 202 for r in out), "racing submits: %r" % out)
    rid = {r.json()["id"] for r in out}
    check(len(rid) == 1, "eight racing copies got ids %r" % rid)
    check(sum(1 for r in out if not r.json().get("replayed")) == 1,
          "exactly one racing copy is the original: %r" % [r.json() for r in out])
    wait_status(d, rid.pop(), "sent")
    check(copies(m1, race["text"]) == 1, "one PDU for the race, got %d" % copies(m1, race["text"]))
    n_rows = len(rows(d))
    check(n_rows == 6, "rows: %d" % n_rows)

    # The key survives a clean restart...
    d.stop()
    d.start()
    r = accepted(post(d, otp, "order-1001-otp"), "replay after SIGTERM")
    check(r["id"] == a["id"] and r.get("replayed") is True, "after restart: %r" % r)
    expect_error(post(d, dict(otp, text="Your code is 999999"), "order-1001-otp"), 409,
                 "idempotency_conflict", "idempotency_key", "conflict after restart")

    # ...and a kill -9 right after the 202: it was committed before the answer.
    late = {"to": "+33655555555", "text": "Accepted then killed", "priority": "normal"}
    k = accepted(post(d, late, "kill-9-key"), "submit before kill")
    d.kill(signal.SIGKILL)
    d.start()
    r = accepted(post(d, late, "kill-9-key"), "replay after kill -9")
    check(r["id"] == k["id"] and r.get("replayed") is True, "after kill -9: %r vs %r" % (r, k))
    wait_status(d, k["id"], ("sent", "unknown"), 20)
    check(len(rows(d)) == n_rows + 1, "one more row, not two: %d" % len(rows(d)))
    check(copies(m1, late["text"]) <= 1, "at most one PDU for the killed submit")
    check(copies(m1, otp["text"]) == 1, "still one PDU for the OTP after restarts")
    d.stop()


main(test)
