"""Crash test (issue 6): kill -9 simgated at random moments while a few
hundred messages flow through two modemsims, at least 20 times, restarting
it each time. At the end every accepted message (202 received) is in a
final state, none is missing, and no message was handed to a modem more
than twice, and twice only if it was in `sending` at a kill (its history
shows the restart), checked against what the modemsims logged.
"""
import json
import os
import random
import signal
import sys
import threading
import time

import gammu

sys.path.insert(0, os.path.dirname(__file__))
from sglib import check, main, wait_until  # noqa: E402

KILLS = int(os.environ.get("SG_CRASH_KILLS", "20"))
FINAL = {"sent", "delivered", "undelivered", "failed", "expired", "canceled", "unknown"}


class Submitter(threading.Thread):
    """Submits unique texts as fast as the daemon answers; keeps the 202s."""

    def __init__(self, d, seed):
        super().__init__(daemon=True)
        self.d = d
        self.rng = random.Random(seed)
        self.accepted = {}   # id -> text
        self.n = 0
        self.stop = False
        self.pause = threading.Event()

    def run(self):
        while not self.stop:
            if self.pause.is_set():
                time.sleep(0.01)
                continue
            self.n += 1
            text = "crash-%05d" % self.n
            prio = self.rng.choice(["otp", "urgent", "normal", "bulk"])
            try:
                r = self.d.post("/v1/messages", {"to": "+3361111%04d" % (self.n % 10000),
                                                 "text": text, "priority": prio,
                                                 "ttl": 3600}, timeout=5)
            except OSError:
                time.sleep(0.02)  # the daemon is down: not accepted, not counted
                continue
            if r.status == 202:
                self.accepted[r.json()["id"]] = text
            time.sleep(0.005)


def sent_copies(sims):
    """text -> number of times a modem received it (cancelled prompts excluded)."""
    copies = {}
    for m in sims:
        for rec in m.received():
            if rec.get("result") == "cancel":
                continue
            try:
                t = gammu.DecodePDU(bytes.fromhex(rec["pdu"]), SMSC=True)["Text"]
            except Exception:
                continue
            copies[t] = copies.get(t, 0) + 1
    return copies


def test(h):
    rng = random.Random(int(os.environ.get("SG_CRASH_SEED", "7")))
    m1 = h.modemsim("m1", "sim800", "--cmgs-latency-ms", "30")
    m2 = h.modemsim("m2", "ec25", "--cmgs-latency-ms", "30")
    d = h.daemon([(m1, "sim800"), (m2, "ec25")]).start()
    sub = Submitter(d, rng.random())
    sub.start()
    for k in range(KILLS):
        time.sleep(rng.uniform(0.2, 1.2))
        d.kill(signal.SIGKILL)
        d.start(wait_ready=False)
        wait_until(d.healthy, 30, "restart %d ready" % k)
    sub.stop = True
    sub.join(10)
    accepted = dict(sub.accepted)
    check(len(accepted) >= 200, "only %d messages accepted; want a few hundred" % len(accepted))

    def all_final():
        return all(d.get("/v1/messages/%d" % i).json().get("status") in FINAL for i in accepted)

    wait_until(all_final, 120, "every accepted message final", interval=0.5)
    copies = sent_copies([m1, m2])
    twice = 0
    for i, text in accepted.items():
        r = d.get("/v1/messages/%d" % i)
        check(r.status == 200, "accepted message %d missing: %r" % (i, r))
        m = r.json()
        check(m["text"] == text, "message %d text changed" % i)
        n = copies.get(text, 0)
        restarted = any((x.get("cause") or "").startswith("restart while sending")
                        for x in m["history"])
        check(n <= 2, "message %d (%s) handed to a modem %d times; history %s" %
              (i, text, n, json.dumps(m["history"], indent=1)))
        if n == 2:
            twice += 1
            check(restarted, "message %d sent twice without being in sending at a kill: %r"
                  % (i, m["history"]))
        if m["status"] in ("sent", "delivered"):
            check(n >= 1, "message %d is %s but no modem got it" % (i, m["status"]))
        if m["status"] == "unknown" and m["priority"] in ("normal", "bulk"):
            # Never resent after a crash: at most the one interrupted copy.
            check(n <= 1, "unknown %s message %d was sent %d times" % (m["priority"], i, n))
    print("crash: kills=%d accepted=%d submitted=%d sent-twice=%d" %
          (KILLS, len(accepted), sub.n, twice))


main(test)
