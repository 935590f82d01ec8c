"""A modem dies in the middle of a send (issue 5): the PDU went out, the
answer never came. An OTP is resent on the other modem (a duplicate code
beats no code); a bulk message becomes `unknown` and is never sent twice.
Also: a permanent TP-ST in the status report makes a message `undelivered`.
"""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(__file__))
from sglib import check, main, wait_until  # noqa: E402


def msg(d, i):
    return d.get("/v1/messages/%d" % i).json()


def kill_midsend(h, d, m1, prio, text):
    r = d.post("/v1/messages", {"to": "+33612345678", "text": text, "priority": prio})
    check(r.status == 202, "submit: %r" % r)
    i = r.json()["id"]
    # m1 is the least recently used modem, so it takes the message; its
    # +CMGS answer is 5 s away when the modem dies.
    wait_until(lambda: any(text_in(x, text) for x in m1.received()), 10, "the PDU on m1")
    m1.proc.send_signal(signal.SIGKILL)
    m1.proc.wait()
    return i


def text_in(rec, text):
    import gammu
    try:
        return gammu.DecodePDU(bytes.fromhex(rec["pdu"]), SMSC=True)["Text"] == text
    except Exception:
        return False


def test(h):
    m1 = h.modemsim("m1", "sim800", "--cmgs-latency-ms", "5000")
    m2 = h.modemsim("m2", "ec25")
    d = h.daemon([(m1, "sim800"), (m2, "ec25")]).start()

    i = kill_midsend(h, d, m1, "otp", "Your code is 482913")
    wait_until(lambda: msg(d, i)["status"] in ("sent", "delivered"), 30, "the OTP resent")
    m = msg(d, i)
    check(m["modem"] == "m2", "OTP finished on %s" % m["modem"])
    sends = [x for x in m["history"] if x["to"] == "sending"]
    check([x["modem"] for x in sends] == ["m1", "m2"], "hand-overs: %r" % sends)
    check(sum(text_in(x, "Your code is 482913") for x in m2.received()) == 1, "one copy on m2")

    # The backend hears that m1 went away, and no event per send.
    ev = d.get("/v1/events?after=0&limit=1000").json()
    ev = ev.get("events", ev) if isinstance(ev, dict) else ev
    ms = [e.get("data") or {} for e in ev if e["type"] == "modem.state"]
    check(any(x.get("modem") == "m1" and x.get("to") == "absent" for x in ms),
          "modem.state m1 -> absent: %r" % ms)
    check(not any({x.get("from"), x.get("to")} == {"ready", "busy"} for x in ms),
          "ready<->busy flips are not events: %r" % ms)

    # Same failure for bulk: the outcome is unknown, and it stays so.
    m3 = h.modemsim("m3", "sim800", "--cmgs-latency-ms", "5000")
    d.stop()
    d = h.daemon([(m3, "sim800"), (m2, "ec25")], extra_conf="").start()
    before = len(m2.received())
    i = kill_midsend(h, d, m3, "bulk", "Weekly newsletter")
    wait_until(lambda: msg(d, i)["status"] == "unknown", 30, "bulk marked unknown")
    check(len(m2.received()) == before, "bulk must not be sent again")

    # A report with TP-ST 0x46 (validity period expired, permanent).
    m2.ctl(cmd="sr", delay_ms=200, st=0x46)
    r = d.post("/v1/messages", {"to": "+33612345679", "text": "Door code 1234",
                                "priority": "urgent", "status_report": True})
    i = r.json()["id"]
    wait_until(lambda: msg(d, i)["status"] == "undelivered", 20, "undelivered after TP-ST 0x46")
    check("0x46" in (msg(d, i)["last_error"] or ""), "cause names TP-ST: %r" % msg(d, i))


main(test)
