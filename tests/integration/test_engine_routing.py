"""Routing with the real daemon and two modemsims (issue 5):
- messages spread across SIMs within each SIM's per-minute rate;
- a SIM whose modem answers every send with a SIM-side permanent error
  (+CMS ERROR: 330, SMSC unknown) is skipped and the messages go out on the
  other SIM.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from sglib import check, main, wait_until  # noqa: E402


def iccids(d):
    mods = d.get("/v1/modems").json()
    mods = mods.get("modems", mods) if isinstance(mods, dict) else mods
    return {m["id"]: m["iccid"] for m in mods}


def states(d, ids):
    return [d.get("/v1/messages/%d" % i).json()["status"] for i in ids]


def submit(d, n, prio, prefix, report=False):
    ids = []
    for k in range(n):
        r = d.post("/v1/messages", {"to": "+3361234%04d" % k, "text": "%s %d" % (prefix, k),
                                    "priority": prio, "status_report": report})
        check(r.status == 202, "submit: %r" % r)
        ids.append(r.json()["id"])
    return ids


def test(h):
    m1 = h.modemsim("m1", "sim800")
    m2 = h.modemsim("m2", "ec25")
    d = h.daemon([(m1, "sim800"), (m2, "ec25")]).start()
    sims = iccids(d)
    check(all(len(v) >= 18 for v in sims.values()), "ICCIDs discovered: %r" % sims)
    d.stop()

    # 1. Five parts a minute per SIM, burst five: 14 messages, 10 go out at
    #    once (5 on each SIM), 4 wait for tokens.
    conf = "sims = (\n" + ",\n".join(
        '  { iccid = "%s"; label = "%s"; rate_per_min = 5; }' % (sims[m], m) for m in ("m1", "m2")
    ) + "\n);\n"
    d = h.daemon([(m1, "sim800"), (m2, "ec25")], extra_conf=conf).start()
    ids = submit(d, 14, "normal", "rate")
    wait_until(lambda: len(m1.received()) + len(m2.received()) >= 10, 20, "10 sends")
    time.sleep(1.5)  # nothing more may leave while the buckets are empty
    n1, n2 = len(m1.received()), len(m2.received())
    check((n1, n2) == (5, 5), "per-SIM rate: m1 sent %d, m2 sent %d (want 5 and 5)" % (n1, n2))
    st = states(d, ids)
    check(st.count("queued") == 4, "4 waiting for tokens, states %r" % st)
    waiting = [d.get("/v1/messages/%d" % i).json() for i in ids]
    waiting = [m for m in waiting if m["status"] == "queued"]
    check(all(m["next_attempt_at"] for m in waiting), "deferred messages carry next_attempt_at")
    sv = d.get("/v1/sims").json()
    sv = sv.get("sims", sv) if isinstance(sv, dict) else sv
    check(sorted(s["sent_today"] for s in sv) == [5, 5], "SIM counters: %r" % sv)
    d.stop()

    # 2. m1's SIM has no SMSC: every send there fails with CMS 330. The
    #    messages must all go out on m2, and m1's breaker must open.
    base1, base2 = len(m1.received()), len(m2.received())
    m1.ctl(cmd="cms_error", code=330, rate=1.0)
    conf = "routing = { breaker_threshold = 3; breaker_cooldown = 600; };\n"
    d = h.daemon([(m1, "sim800"), (m2, "ec25")], extra_conf=conf).start()
    ids = submit(d, 8, "urgent", "skip", report=True)
    wait_until(lambda: all(s == "delivered" for s in states(d, ids)), 30,
               "every message delivered")
    for i in ids:
        m = d.get("/v1/messages/%d" % i).json()
        check(m["modem"] == "m2", "message %d went out on %s" % (i, m["modem"]))
    failed_on_m1 = [r for r in m1.received()[base1:] if r["result"].startswith("cms 330")]
    check(1 <= len(failed_on_m1) <= 3,
          "m1 should be tried until its breaker opens (3), got %d" % len(failed_on_m1))
    sv = d.get("/v1/sims").json()
    sv = sv.get("sims", sv) if isinstance(sv, dict) else sv
    b = {s["iccid"]: s["breaker"] for s in sv}
    if len(failed_on_m1) == 3:
        check(b[sims["m1"]] == "open", "m1 breaker after 3 failures: %r" % b)
    check(b[sims["m2"]] == "closed", "m2 breaker: %r" % b)
    check(len(m2.received()) - base2 == 8, "m2 carried all 8")

    # /metrics names the failing SIM and code, and times the reports.
    text = d.get("/metrics").body.decode()
    want = 'simgate_send_errors_total{iccid="%s",code="330"' % sims["m1"]
    line = [x for x in text.splitlines() if x.startswith(want)]
    check(line and int(line[0].split()[-1]) == len(failed_on_m1), "errors metric: %r" % line)
    count = [x for x in text.splitlines() if x.startswith("simgate_dlr_latency_seconds_count")]
    check(count and int(count[0].split()[-1]) == 8, "DLR histogram count: %r" % count)


main(test)
