"""Inbound SMS through the real daemon (issue 5): a multipart message
arrives once, reassembled in order, whether the modem stores it (+CMTI,
read with CMGR, deleted after the commit) or delivers it directly (+CMT);
each arrives as one "inbound" event; the SIM storage is emptied only after
the rows are committed.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from sglib import check, main, wait_until  # noqa: E402

LONG = ("Bonjour! Je confirme la location du vélo pour samedi matin, 9h devant la gare. "
        "Merci d'apporter un casque et une pièce d'identité; le dépôt de garantie est de "
        "150 euros, rendu au retour si tout va bien. À samedi, et bonne semaine à vous! "
        "PS: le cadenas est dans la sacoche de droite.")


def inbox(d):
    r = d.get("/v1/inbox").json()
    return r.get("messages", r.get("inbox", r)) if isinstance(r, dict) else r


def test(h):
    m1 = h.modemsim("m1", "sim800")
    m2 = h.modemsim("m2", "ec25")
    d = h.daemon([(m1, "sim800"), (m2, "ec25")]).start()

    r = m1.ctl(cmd="inject_sms", **{"from": "+33698765432", "text": LONG, "mode": "stored"})
    check(r and r.get("ok") and r.get("parts", 0) >= 2, "multipart injected: %r" % r)
    r = m2.ctl(cmd="inject_sms", **{"from": "+447700900123", "text": "Yes, 3pm works. Thanks",
                                    "mode": "direct"})
    check(r and r.get("ok"), "single injected: %r" % r)

    wait_until(lambda: len(inbox(d)) >= 2, 20, "two inbound messages")
    msgs = inbox(d)
    check(len(msgs) == 2, "exactly two messages (parts not listed separately): %r" % msgs)
    by_from = {m["from"]: m for m in msgs}
    check(by_from["+33698765432"]["text"] == LONG, "multipart text reassembled in order")
    check(by_from["+447700900123"]["text"] == "Yes, 3pm works. Thanks", "single text")

    ev = d.get("/v1/events?after=0&limit=1000").json()
    ev = ev.get("events", ev) if isinstance(ev, dict) else ev
    check(len([e for e in ev if e["type"] == "inbound"]) == 2, "one inbound event each")

    # Stored messages are deleted from the SIM once committed.
    wait_until(lambda: m1.ctl(cmd="stats")["state"]["stored"] == 0, 10, "m1 storage emptied")


main(test)
