"""AT injection through the API (issue 6): nothing from a request reaches a
modem except through the PDU codec.

Numbers carrying CR, LF, Ctrl-Z, ESC, quotes, NUL or AT commands are
refused with 400 invalid_number. Texts carrying them are accepted and go
out as PDUs; then every line of both modemsims' logs (a SIM800 and an EC25,
which cancels a send on a stray ESC) is a well-formed SMS-SUBMIT to the
right number that decodes, with gammu and with an independent decoder in
apilib, to exactly one of the texts sent, each text exactly once; the
modems saw no unknown command, CFUN stayed 1, nothing was cancelled or
rebooted, and neither modem left ready/busy.
"""
import collections
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from apilib import all_events, decode_pdu, expect_error, msg, req, submit_pdu  # noqa: E402
from sglib import check, main, wait_until  # noqa: E402

TO = "+33612345678"

BAD_NUMBERS = [
    "+33612345678\r\nAT+CFUN=0\r\n",
    "+33612345678\rAT+CFUN=0",
    "+33612345678\n",
    "+33612345678\x1a",
    "\x1a+33612345678",
    "+3361234567\x1a8",
    "+33612345678\x1b",
    "+33612345678\x1b\x1a",
    '+33612345678"',
    '"+33612345678"',
    '+33612345678",145\r',
    "+33612345678,129",
    "+33612345678;+CFUN=0",
    "+33612345678\x00AT+CFUN=0",
    "AT+CFUN=0",
    "\r\nAT+CMGD=1,4\r\n",
    "+33 6 12 34 56 78\x1a",
    "+33612345678\u2028",
    "+３３６１２３４５６７８",  # full-width digits
]

# (name, text, encoding the codec must pick)
TEXTS = [
    ("CR LF then AT+CFUN=0", "Code 1234\r\nAT+CFUN=0\r\n", "gsm7"),
    ("leading CR LF, delete all", "\r\nAT+CMGD=1,4\r\n", "gsm7"),
    ("Ctrl-Z then AT+CFUN=0", "Ctrl-Z\x1a then AT+CFUN=0\r", "ucs2"),
    ("Ctrl-Z alone", "\x1a", "ucs2"),
    ("ESC sequence", "ESC \x1b[2J clear", "ucs2"),
    ("ESC alone", "\x1b", "ucs2"),
    ("quotes", 'Quote "x" and \'y\' ",129', "gsm7"),
    ("bare AT+CFUN=0", "AT+CFUN=0", "gsm7"),
    ("fake final result", "+CMGS: 255\r\nOK\r\n", "gsm7"),
    ("fake prompt", "> ", "gsm7"),
    ("Ctrl-Z ESC CR LF", "\x1a\x1b\r\n\x1a", "ucs2"),
    ("GSM-7 extension table", "{}[]~\\|€^", "gsm7"),
    ("emoji CR LF Ctrl-Z", "\U0001F600\r\n\x1a", "ucs2"),
    ("DEL and BEL", "\x7f DEL \x07 bell", "ucs2"),
    ("hex that looks like a PDU", "0011000B913366\x1a", "ucs2"),
    ("multipart UCS-2 with Ctrl-Z", "Line\r\nAT+CFUN=0\x1a" * 12, "ucs2"),
    ("multipart GSM-7 with CR LF", "AT+CMGD=1,4\r\n" * 20, "gsm7"),
]


def check_numbers(d):
    for n in BAD_NUMBERS:
        r = req(d, "POST", "/v1/messages", {"to": n, "text": "hello"})
        expect_error(r, 400, "invalid_number", "to", "number %r" % n)


def check_texts(d):
    ids = {}
    for name, text, enc in TEXTS:
        r = req(d, "POST", "/v1/messages", {"to": TO, "text": text, "priority": "urgent"})
        check(r.status == 202, "%s: %r" % (name, r))
        check(r.json()["encoding"] == enc, "%s: encoding %r, want %s" % (name, r.json(), enc))
        ids[r.json()["id"]] = (name, text)
    # NUL cannot be carried safely: refused, not truncated.
    r = req(d, "POST", "/v1/messages", {"to": TO, "text": "a\x00AT+CFUN=0"})
    expect_error(r, 400, "invalid_text", "text", "text with NUL")
    return ids


def reassemble(records):
    """modemsim log -> {text: copies}, checking every PDU on the way."""
    groups = collections.OrderedDict()
    for rec in records:
        check(rec["result"] == "ok", "a send did not succeed at the modem: %r" % rec)
        mine = submit_pdu(rec["pdu"])  # raises on any malformed PDU
        check(mine["number"] == TO, "PDU to %r" % mine["number"])
        g = decode_pdu(rec["pdu"])
        check(g["Type"] == "Submit" and g["Number"] == TO, "gammu: %r" % g)
        # gammu returns UDL characters for GSM-7, so text with extension
        # characters (two septets each) comes back with junk after it.
        check(g["Text"].startswith(mine["text"]) and
              (g["Text"] == mine["text"] or mine["dcs"] & 0x0C == 0),
              "gammu %r vs %r" % (g["Text"], mine["text"]))
        udh = mine["udh"]
        if udh and udh[0] == 0x00:
            key, total, seq = ("c8", udh[2]), udh[3], udh[4]
        elif udh and udh[0] == 0x08:
            key, total, seq = ("c16", udh[2] << 8 | udh[3]), udh[4], udh[5]
        else:
            key, total, seq = ("single", len(groups)), 1, 1
        groups.setdefault(key, {})[seq] = mine["text"]
        groups[key]["total"] = total
    out = collections.Counter()
    for key, parts in groups.items():
        total = parts.pop("total")
        check(sorted(parts) == list(range(1, total + 1)), "parts of %r: %r" % (key, sorted(parts)))
        out["".join(parts[k] for k in sorted(parts))] += 1
    return out


def test(h):
    m1 = h.modemsim("m1", "sim800")
    m2 = h.modemsim("m2", "ec25")
    d = h.daemon([(m1, "sim800"), (m2, "ec25")]).start()
    base = all_events(d)[-1]["seq"]

    check_numbers(d)
    ids = check_texts(d)
    wait_until(lambda: all(msg(d, i)["status"] == "sent" for i in ids), 20, "every text sent")
    for i, (name, _) in ids.items():
        check(msg(d, i)["attempts"] == 1, "%s: sent at the first attempt: %r" % (name, msg(d, i)))

    got = reassemble(m1.received() + m2.received())
    want = collections.Counter(text for _, text, _ in TEXTS)
    check(got == want, "texts at the modems differ:\n  extra %r\n  missing %r" % (
        got - want, want - got))

    nparts = sum(msg(d, i)["part_count"] for i in ids)
    check(nparts == len(m1.received()) + len(m2.received()), "one PDU per part")
    for m in (m1, m2):
        s = m.ctl(cmd="stats")
        st, state = s["stats"], s["state"]
        check(st["unknown"] == 0, "%s: unknown commands, last %r" % (m.name, st["last_unknown"]))
        check(state["cfun"] == 1, "%s: CFUN is %r" % (m.name, state["cfun"]))
        check(st["sends_bad"] == 0 and st["sends_cancel"] == 0 and st["sends_err"] == 0,
              "%s: bad/cancelled sends %r" % (m.name, st))
        check(st["reboots"] == 0 and state["plugged"] and not state["in_prompt"],
              "%s: state %r" % (m.name, s))
        check(st["sends"] == st["sends_ok"] == len(m.received()), "%s: sends %r" % (m.name, st))
        check(state["stored"] == 0, "%s: nothing was stored or deleted behind our back" % m.name)
    # Both modems did take work, and neither left ready/busy meanwhile.
    check(m1.received() and m2.received(), "both modems sent")
    moves = [e["data"] for e in all_events(d) if e["seq"] > base and e["type"] == "modem.state"]
    bad = [x for x in moves if x.get("to") not in ("ready", "busy")]
    check(not bad, "a modem left ready: %r" % bad)
    mods = d.get("/v1/modems").json()["modems"]
    check(all(m["state"] == "ready" and m["last_error"] is None for m in mods),
          "modems after: %r" % mods)
    d.stop()


main(test)
