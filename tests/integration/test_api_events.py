"""GET /v1/events (issue 6) against the real daemon: cursor semantics
(after, limit, last_seq), long-poll that answers within a second of a
submit and answers empty when its wait (or api.long_poll_max) runs out, a long-poll answered (not
dropped) at SIGTERM, and a backend that consumes with the cursor while the
daemon is killed with -9 and stopped with SIGTERM under traffic: it sees
every event exactly once, in order, with nothing missing compared with a
final full read.
"""
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from apilib import FINAL, all_events, api_conf, events, msg, req, submit  # noqa: E402
from sglib import check, http, main, wait_until  # noqa: E402

EVENT_KEYS = {"seq", "at", "type", "message_id", "data"}


def check_shape(evs):
    for e in evs:
        check(set(e) == EVENT_KEYS, "event keys: %r" % e)
        check(isinstance(e["seq"], int) and e["seq"] > 0, "seq: %r" % e)
        check(isinstance(e["type"], str) and e["type"], "type: %r" % e)
        check(e["message_id"] is None or isinstance(e["message_id"], int), "message_id: %r" % e)
        check(isinstance(e["data"], dict), "data: %r" % e)
    seqs = [e["seq"] for e in evs]
    check(seqs == sorted(set(seqs)), "seqs strictly increasing: %r" % seqs)


def check_cursor(d):
    r = submit(d, {"to": "+33612345678", "text": "cursor test", "priority": "urgent"})
    wait_until(lambda: msg(d, r["id"])["status"] == "sent", 10, "sent")
    full = events(d, after=0)
    evs = full["events"]
    check_shape(evs)
    check(full["last_seq"] == evs[-1]["seq"], "last_seq is the last event's: %r" % full["last_seq"])
    types = {e["type"] for e in evs}
    check({"modem.state", "message.state"} <= types, "event types: %r" % types)
    mine = [e["data"].get("status") for e in evs if e["message_id"] == r["id"]]
    check(mine == ["queued", "sending", "sent"], "the message's events: %r" % mine)
    check(all(e["type"] == "message.state" for e in evs if e["message_id"] == r["id"]),
          "message events are message.state")
    # Paging with a small limit gives the same sequence.
    paged, cur = [], 0
    while True:
        b = events(d, after=cur, limit=2)
        check(len(b["events"]) <= 2, "limit=2 honoured")
        if not b["events"]:
            check(b["last_seq"] == cur, "an empty page keeps the cursor: %r" % b)
            break
        check(b["events"][0]["seq"] > cur, "after=%d is exclusive: %r" % (cur, b["events"][0]))
        check(b["last_seq"] == b["events"][-1]["seq"], "page last_seq")
        paged += b["events"]
        cur = b["last_seq"]
    check(paged == evs, "paging by 2 equals one read")
    mid = evs[len(evs) // 2]["seq"]
    check(events(d, after=mid)["events"] == [e for e in evs if e["seq"] > mid], "after=mid")
    b = events(d, after=10 ** 12)
    check(b["events"] == [], "after beyond the end: %r" % b)
    r0 = events(d)  # no after: from the start
    check(r0["events"][:len(evs)] == evs, "no cursor reads from the start")
    return full["last_seq"]


def check_long_poll(d, last):
    # Nothing happens: the poll answers empty when its wait runs out.
    t0 = time.monotonic()
    b = events(d, after=last, wait=3)
    dt = time.monotonic() - t0
    check(b["events"] == [] and b["last_seq"] == last, "empty long-poll: %r" % b)
    check(2.9 <= dt <= 4.0, "empty long-poll took %.2fs, want ~3" % dt)

    # A submit while a poll waits: the poll answers right after the 202.
    out = {}

    def poll():
        t = time.monotonic()
        out["r"] = req(d, "GET", "/v1/events?after=%d&wait=5" % last)
        out["t"] = time.monotonic()
        out["dt"] = out["t"] - t
    th = threading.Thread(target=poll)
    th.start()
    time.sleep(0.5)
    t_sub = time.monotonic()
    r = submit(d, {"to": "+33612345678", "text": "wake the poll", "priority": "otp"})
    th.join(10)
    check("r" in out and out["r"].status == 200, "long-poll answer: %r" % out)
    lag = out["t"] - t_sub
    check(lag < 1.0, "long-poll answered %.3fs after the submit was sent" % lag)
    check(out["dt"] < 4.0, "the poll did not run to its 5 s wait (%.2fs)" % out["dt"])
    evs = out["r"].json()["events"]
    check(evs and evs[0]["seq"] == last + 1 and evs[0]["message_id"] == r["id"] and
          evs[0]["data"].get("status") == "queued",
          "the woken poll carries the new event: %r" % evs)
    print("long-poll wake-up: %.1f ms after the submit was sent" % (lag * 1000))
    wait_until(lambda: msg(d, r["id"])["status"] == "sent", 10, "sent")
    return events(d, after=0)["last_seq"]


def check_poll_at_stop(d, last):
    """A long-poll in progress when the daemon stops gets an answer."""
    out = {}

    def poll():
        try:
            out["r"] = http(d.sock, "GET", "/v1/events?after=%d&wait=30" % last, timeout=10)
        except OSError as e:
            out["e"] = e
    th = threading.Thread(target=poll)
    th.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    d.stop()
    th.join(12)
    check(time.monotonic() - t0 < 5, "stop took too long")
    r = out.get("r")
    check(r is not None, "the waiting poll got no answer at SIGTERM: %r" % out)
    check(r.status in (200, 503), "answer at stop: %r" % r)
    if r.status == 200:
        check(r.json()["events"] == [] or r.json()["events"][0]["seq"] > last, "at stop: %r" % r)


class Consumer(threading.Thread):
    """A backend: long-polls with the cursor, keeps what it got, and simply
    retries when the daemon is away."""

    def __init__(self, d):
        super().__init__(daemon=True)
        self.d = d
        self.cur = 0
        self.got = []
        self.stop = False
        self.errors = 0
        self.bad = None

    def run(self):
        while not self.stop:
            try:
                r = http(self.d.sock, "GET", "/v1/events?after=%d&limit=7&wait=1" % self.cur,
                         timeout=5)
            except (OSError, ValueError):
                self.errors += 1
                time.sleep(0.05)
                continue
            if r.status == 503:  # shutting down
                continue
            if r.status != 200:
                self.bad = r
                return
            b = r.json()
            for e in b["events"]:
                if e["seq"] <= self.cur:
                    self.bad = "seq %d after cursor %d" % (e["seq"], self.cur)
                    return
                self.got.append(e)
                self.cur = e["seq"]
            if b["events"] and b["last_seq"] != self.cur:
                self.bad = "last_seq %r vs cursor %d" % (b["last_seq"], self.cur)
                return


def check_restarts(h, d, m1, m2):
    c = Consumer(d)
    c.start()
    ids = []

    def burst(n, tag):
        for k in range(n):
            ids.append(submit(d, {"to": "+3361200%04d" % (len(ids)), "text": "%s %d" % (tag, k),
                                  "priority": ("otp", "normal", "bulk")[k % 3]})["id"])

    burst(10, "before kill")
    time.sleep(0.15)  # some in flight
    d.kill(signal.SIGKILL)
    time.sleep(0.3)  # the consumer retries against a dead socket
    d.start()
    burst(10, "after kill")
    time.sleep(0.15)
    d.stop()
    time.sleep(0.3)
    d.start()
    burst(10, "after term")
    wait_until(lambda: all(msg(d, i)["status"] in FINAL for i in ids), 30,
               "every message final")
    full = all_events(d)
    wait_until(lambda: c.bad or (c.got and c.got[-1]["seq"] >= full[-1]["seq"]), 10,
               "the consumer catching up")
    c.stop = True
    c.join(10)
    check(c.bad is None, "consumer saw: %r" % (c.bad,))
    check(c.errors > 0, "the consumer did see the daemon go away")
    seqs = [e["seq"] for e in c.got]
    check(len(seqs) == len(set(seqs)), "duplicates: %r" % sorted(
        s for s in set(seqs) if seqs.count(s) > 1))
    check(seqs == sorted(seqs), "out of order")
    want = [e["seq"] for e in full]
    missing = sorted(set(want) - set(seqs))
    check(not missing, "missed events: %r" % missing)
    check(c.got == full, "the consumer's events differ from a full read")
    for i in ids:
        st = [e["data"].get("status") for e in full if e["message_id"] == i]
        check(st[:1] == ["queued"] and st[-1] in FINAL, "message %d events %r" % (i, st))
    print("consumer: %d events across a kill -9 and a SIGTERM, %d failed polls" % (
        len(seqs), c.errors))


def test(h):
    m1 = h.modemsim("m1", "sim800")
    m2 = h.modemsim("m2", "ec25")
    d = h.daemon([(m1, "sim800"), (m2, "ec25")]).start()
    last = check_cursor(d)
    last = check_long_poll(d, last)
    check_poll_at_stop(d, last)
    # api.long_poll_max caps the wait a client asks for.
    api_conf(d, long_poll_max=2)
    d.start()
    last = events(d, after=0)["last_seq"]
    t0 = time.monotonic()
    b = events(d, after=last, wait=30)
    dt = time.monotonic() - t0
    check(b["events"] == [] and 1.9 <= dt <= 3.0, "wait=30 with long_poll_max=2: %.2fs %r" % (
        dt, b))
    check_restarts(h, d, m1, m2)
    d.stop()


main(test)
