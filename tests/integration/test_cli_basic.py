"""`simgate` CLI against the real daemon on its real Unix socket, with two
modemsims (SIM800, EC25) that send status reports when asked:

- send --wait follows an OTP queued -> sending -> sent -> delivered (human
  and --json), stdin text, idempotency replay, a permanent TP-ST ending
  `undelivered` (exit 1), a queued message canceled while `send --wait`
  follows it (exit 1);
- status, list (filters, paging hint, aligned columns), cancel (queued: 0;
  too late and unknown id: 1 with the API's message), modems, sims, inbox
  (an SMS injected at the modem), events (page, --after, --follow across
  live traffic), health; each in human form and with --json;
- exit codes: the API's error printed as one line (bad number: 1), usage 2,
  socket missing or nobody listening: 3, health with no ready modem: 4.
"""
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sglib import BUILD, Harness, TestFailure, check, main, wait_until  # noqa: E402

SIMGATE = os.path.join(BUILD, "simgate")
TO = "+33612345678"


class Cli:
    def __init__(self, sock):
        self.sock = sock

    def run(self, args, rc=0, stdin=None, env=None, sock=True, timeout=40):
        cmd = [SIMGATE] + (["--socket", self.sock] if sock else []) + list(args)
        e = dict(os.environ)
        e.pop("SIMGATE_SOCKET", None)
        if env:
            e.update(env)
        p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout,
                           env=e)
        check(p.returncode == rc, "%s: exit %d, wanted %d\nstdout: %s\nstderr: %s"
              % (" ".join(args), p.returncode, rc, p.stdout, p.stderr))
        return p.stdout, p.stderr

    def json(self, args, rc=0):
        out, _ = self.run(["--json"] + list(args), rc=rc)
        lines = [ln for ln in out.splitlines() if ln.strip()]
        return [json.loads(ln) for ln in lines]


def columns_aligned(out, header_words):
    """Every line of a table starts its columns where the header does."""
    lines = out.rstrip("\n").split("\n")
    head = lines[0]
    check(head.split() == header_words, "header %r, wanted %r" % (head, header_words))
    starts = [m.start() for m in re.finditer(r"\S+", head)]
    for ln in lines[1:]:
        for s in starts[1:]:
            check(len(ln) > s and ln[s - 1] == " " and ln[s] != " ",
                  "column at %d not aligned in %r (header %r)" % (s, ln, head))
    return lines[1:]


def check_send_wait(cli):
    out, err = cli.run(["send", "--to", TO, "--text", "Your code is 482913", "--priority", "otp",
                        "--status-report", "--wait", "--timeout", "20"])
    lines = out.splitlines()
    check(re.match(r"^message (\d+) queued: 1 part, gsm7$", lines[0]), "first line: %r" % out)
    mid = int(lines[0].split()[1])
    states = [ln.split()[1] for ln in lines[1:]]
    check(states == ["queued", "sending", "sent", "delivered"], "states: %r" % out)
    check(re.search(r"sending +modem=m[12] iccid=89\d+", out), "modem and SIM shown: %r" % out)
    check(err == "", "no stderr: %r" % err)

    objs = cli.json(["send", "--to", TO, "--text", "json wait", "--status-report", "--wait",
                     "--timeout", "20"])
    check(set(objs[0]) >= {"id", "status", "parts", "encoding"} and objs[0]["status"] == "queued",
          "first JSON line is the 202 answer: %r" % objs)
    check([o["to"] for o in objs[1:]] == ["queued", "sending", "sent", "delivered"],
          "JSON history lines: %r" % objs)
    check(all(set(o) >= {"at", "from", "to", "modem", "iccid", "cause"} for o in objs[1:]),
          "history objects as the API gives them: %r" % objs)

    # No status report asked: `sent` is final.
    out, _ = cli.run(["send", "--to", TO, "--text", "-", "--wait", "--timeout", "20"],
                     stdin="from stdin\n")
    check(out.splitlines()[-1].split()[1] == "sent", "sent is final without SR: %r" % out)
    sid = int(out.split()[1])
    st = cli.json(["status", str(sid)])[0]
    check(st["text"] == "from stdin" and st["status_report"] is False, "stdin text: %r" % st)

    # The same idempotency key gives the same message back.
    a, _ = cli.run(["send", "--to", TO, "--text", "once", "--idempotency-key", "k-cli-1"])
    b, _ = cli.run(["send", "--to", TO, "--text", "once", "--idempotency-key", "k-cli-1"])
    check(a.split()[1] == b.split()[1] and "already sent with this key" in b,
          "replay: %r / %r" % (a, b))
    _, err = cli.run(["send", "--to", TO, "--text", "other", "--idempotency-key", "k-cli-1"],
                     rc=1)
    check(err.startswith("simgate: idempotency_conflict: ") and "(field: idempotency_key)" in err,
          "key reused with another text: %r" % err)
    return mid


def check_undelivered(cli, sims):
    for m in sims:
        check(m.ctl(cmd="sr", delay_ms=200, st=65)["ok"], "permanent TP-ST set")
    try:
        out, _ = cli.run(["send", "--to", TO, "--text", "nobody home", "--status-report",
                          "--wait", "--timeout", "20"], rc=1)
        check(out.splitlines()[-1].split()[1] == "undelivered", "ends undelivered: %r" % out)
    finally:
        for m in sims:
            m.ctl(cmd="sr", delay_ms=300, st=0)


def check_cancel(cli, d, sims):
    # Both modems take 3 s per send: two messages keep them busy, the third
    # waits in the queue while `send --wait` follows it; cancel ends it.
    for m in sims:
        check(m.ctl(cmd="latency", ms=0, cmgs_ms=3000)["ok"], "latency set")
    busy = [int(cli.run(["send", "--to", TO, "--text", "busy %d" % i, "--priority", "urgent"])[0]
                .split()[1]) for i in range(2)]
    wait_until(lambda: all(d.get("/v1/messages/%d" % i).json()["status"] == "sending"
                           for i in busy), 5, "both modems busy")
    w = subprocess.Popen([SIMGATE, "--socket", cli.sock, "send", "--to", TO, "--text",
                          "cancel me", "--priority", "bulk", "--wait", "--timeout", "20"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = w.stdout.readline()
        check(first.startswith("message "), "waiting send printed %r" % first)
        cid = int(first.split()[1])
        out, _ = cli.run(["cancel", str(cid)])
        check(out == "message %d canceled\n" % cid, "cancel output: %r" % out)
        rest, err = w.communicate(timeout=10)
        check(w.returncode == 1, "send --wait on a canceled message exits 1: %d %r %r"
              % (w.returncode, rest, err))
        check(rest.splitlines()[-1].split()[1] == "canceled", "last change: %r" % rest)
    finally:
        if w.poll() is None:
            w.kill()
            w.wait()
    obj = cli.json(["cancel", str(cid)])[0]
    check(obj == {"id": cid, "status": "canceled"}, "cancel --json: %r" % obj)
    _, err = cli.run(["cancel", str(busy[0])], rc=1)
    check(re.match(r"^simgate: too_late: .+ \(field: id\)\n$", err), "too late: %r" % err)
    errs = cli.json(["cancel", "999999"], rc=1)
    check(errs[0]["error"]["code"] == "not_found", "--json prints the error object: %r" % errs)
    for m in sims:
        m.ctl(cmd="latency", ms=0, cmgs_ms=50)
    return cid


def check_status_list(cli, mid, cid):
    out, _ = cli.run(["status", str(mid)])
    check(re.search(r"^status +delivered$", out, re.M) and re.search(r"^to +\+33612345678$", out,
                                                                       re.M),
          "status block: %r" % out)
    hist = out.split("\nhistory:\n")[1]
    rows = columns_aligned(hist, ["AT", "FROM", "TO", "MODEM", "ICCID", "MR", "CAUSE"])
    check([r.split()[2] for r in rows] == ["queued", "sending", "sent", "delivered"],
          "history rows: %r" % rows)
    parts = out.split("\nparts:\n")[1].split("\n\n")[0]
    prow = columns_aligned(parts, ["PART", "STATUS", "MODEM", "ICCID", "MR", "SENT_AT", "TP-ST",
                                   "REPORT_AT"])
    check(len(prow) == 1 and prow[0].split()[1] == "delivered" and prow[0].split()[6] == "0",
          "part row: %r" % prow)
    m = cli.json(["status", str(mid)])[0]
    check(m["id"] == mid and m["status"] == "delivered" and len(m["history"]) == 4,
          "status --json: %r" % m)

    out, err = cli.run(["list"])
    rows = columns_aligned(out, ["ID", "TO", "STATUS", "PRIORITY", "PARTS", "ATTEMPTS", "MODEM",
                                 "UPDATED", "LAST_ERROR"])
    ids = [int(r.split()[0]) for r in rows]
    check(mid in ids and cid in ids and ids == sorted(ids) and err == "", "list: %r" % out)
    out, _ = cli.run(["list", "--status", "canceled"])
    check([r.split()[0] for r in out.splitlines()[1:]] == [str(cid)], "status filter: %r" % out)
    out, err = cli.run(["list", "--limit", "2"])
    check(len(out.splitlines()) == 3 and re.match(r"more messages follow: repeat with --after \d+",
                                                   err), "paging hint: %r %r" % (out, err))
    page = cli.json(["list", "--since", "1h", "--limit", "1000"])[0]
    check({mid, cid} <= {x["id"] for x in page["messages"]} and page["next_after"] is None,
          "--since 1h --json: %r" % page)
    out, _ = cli.run(["list", "--since", "2099-01-01T00:00:00Z"])
    check(out.splitlines()[1:] == [], "nothing since 2099: %r" % out)
    _, err = cli.run(["list", "--status", "lost"], rc=1)
    check(err.startswith("simgate: invalid_parameter: ") and "(field: status)" in err,
          "bad status filter: %r" % err)


def check_gateway(cli):
    out, _ = cli.run(["modems"])
    rows = columns_aligned(out, ["ID", "STATE", "VENDOR", "MODEL", "DBM", "BAND", "REG",
                                 "OPERATOR", "ICCID", "LAST_ERROR"])
    by = {r.split()[0]: r.split() for r in rows}
    check(sorted(by) == ["m1", "m2"] and by["m1"][2] == "sim800" and by["m2"][2] == "ec25",
          "modems: %r" % out)
    mods = cli.json(["modems"])[0]["modems"]
    check(sorted(m["id"] for m in mods) == ["m1", "m2"], "modems --json: %r" % mods)
    iccids = sorted(m["iccid"] for m in mods)

    out, _ = cli.run(["sims"])
    rows = columns_aligned(out, ["ICCID", "MSISDN", "LABEL", "MODEM", "ENABLED", "BREAKER",
                                 "TODAY", "MONTH", "DAILY_LEFT", "MONTHLY_LEFT", "RATE/MIN",
                                 "SENT", "FAILED"])
    check(sorted(r.split()[0] for r in rows) == iccids and all("unlimited" in r for r in rows),
          "sims: %r" % out)
    sims = cli.json(["sims"])[0]["sims"]
    check(sorted(s["iccid"] for s in sims) == iccids and sum(s["sent_total"] for s in sims) >= 4,
          "sims --json: %r" % sims)

    out, _ = cli.run(["health"])
    check(re.match(r"^ok: 2 of 2 modems ready, last event \d+\n$", out), "health: %r" % out)
    h = cli.json(["health"])[0]
    check(h["status"] == "ok" and h["modems_ready"] == 2, "health --json: %r" % h)


def check_inbox(cli, d, m1):
    check(m1.ctl(cmd="inject_sms", **{"from": "+33698765432", "text": "STOP\tplease"})["ok"],
          "inject")
    wait_until(lambda: d.get("/v1/inbox").json()["messages"], 10, "the SMS in the inbox")
    out, _ = cli.run(["inbox"])
    rows = columns_aligned(out, ["ID", "RECEIVED", "FROM", "MODEM", "ICCID", "PARTS", "TEXT"])
    check(len(rows) == 1 and "+33698765432" in rows[0] and rows[0].endswith("STOP\\tplease"),
          "inbox row (tab shown as \\t): %r" % out)
    page = cli.json(["inbox", "--since", "10m"])[0]
    check(page["messages"][0]["text"] == "STOP\tplease", "inbox --json: %r" % page)
    out, _ = cli.run(["inbox", "--since", "2099-01-01T00:00:00Z"])
    check(out.splitlines()[1:] == [], "empty inbox since 2099: %r" % out)


def read_json_lines(p, pred, timeout):
    """Reads JSON lines from p.stdout until pred(obj); returns all read."""
    got, buf = [], ""
    deadline = time.monotonic() + timeout
    fd = p.stdout.fileno()
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.2)
        if not r:
            continue
        chunk = os.read(fd, 65536).decode()
        check(chunk, "events --follow ended early")
        buf += chunk
        while "\n" in buf:
            line, buf = buf.split("\n", 1)
            got.append(json.loads(line))
            if pred(got[-1]):
                return got
    raise TestFailure("events --follow: nothing matched in %ss: %r" % (timeout, got))


def check_events(cli):
    out, _ = cli.run(["events"])
    rows = columns_aligned(out, ["SEQ", "AT", "TYPE", "MESSAGE", "DATA"])
    check(len(rows) == 20, "20 newest events by default: %d" % len(rows))
    seqs = [int(r.split()[0]) for r in rows]
    check(seqs == list(range(seqs[0], seqs[0] + 20)), "consecutive: %r" % seqs)
    page = cli.json(["events", "--after", "0", "--limit", "5"])[0]
    check([e["seq"] for e in page["events"]] == [1, 2, 3, 4, 5] and page["last_seq"] == 5,
          "--after 0 --limit 5: %r" % page)
    check(page["events"][0]["type"] == "modem.state", "first event: %r" % page["events"][0])
    out, _ = cli.run(["events", "--after", "0", "--limit", "2"])
    check(re.search(r"modem\.state +- +modem=m\d from=absent to=initializing", out),
          "key=value data: %r" % out)

    f = subprocess.Popen([SIMGATE, "--socket", cli.sock, "--json", "events", "--follow"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(0.3)
        out, _ = cli.run(["send", "--to", TO, "--text", "followed"])
        mid = int(out.split()[1])
        got = read_json_lines(f, lambda e: e.get("message_id") == mid and
                              e["data"].get("status") == "sent", 15)
        seqs = [e["seq"] for e in got]
        check(seqs == sorted(set(seqs)), "follow: increasing, no doubles: %r" % seqs)
        mine = [e["data"]["status"] for e in got if e.get("message_id") == mid]
        check(mine == ["queued", "sending", "sent"], "follow saw the message: %r" % got)
    finally:
        f.kill()
        f.wait()


def check_errors(cli, h):
    _, err = cli.run(["send", "--to", "12", "--text", "x"], rc=1)
    check(re.match(r"^simgate: invalid_number: .+ \(field: to\)\n$", err),
          "bad number: one line with the API's message: %r" % err)
    e = cli.json(["send", "--to", "12", "--text", "x"], rc=1)[0]
    check(e["error"]["code"] == "invalid_number" and e["error"]["field"] == "to",
          "--json error object on stdout: %r" % e)
    _, err = cli.run(["status", "424242"], rc=1)
    check(err.startswith("simgate: not_found: "), "unknown id: %r" % err)

    for args in (["send", "--to", TO], ["send", "--text", "x"],
                 ["send", "--to", TO, "--text", "x", "--priority", "high"],
                 ["send", "--to", TO, "--text", "x", "--ttl", "soon"],
                 ["send", "--to", TO, "--text", "x", "--timeout", "5"],
                 ["status"], ["status", "abc"], ["status", "1", "2"], ["cancel", "-3"],
                 ["list", "--limit", "0"], ["events", "--after", "x"], ["modems", "extra"],
                 ["health", "--bogus"], ["nosuchcommand"], ["list", "--status"]):
        _, err = cli.run(args, rc=2)
        check(err.startswith("simgate") and err.count("\n") == 1, "usage %r: %r" % (args, err))

    out, _ = cli.run(["--help"], sock=False)
    for w in ("send", "status", "list", "cancel", "modems", "sims", "inbox", "events", "health",
              "pdu", "exit status", "SIMGATE_SOCKET"):
        check(w in out, "--help mentions %s" % w)
    check(re.search(r"^  3  cannot reach simgated", out, re.M) and
          re.search(r"^  4  simgated answers but is unhealthy", out, re.M), "exit codes in help")
    for c in ("send", "status", "list", "cancel", "modems", "sims", "inbox", "events", "health"):
        out, _ = cli.run([c, "--help"], sock=False)
        check(out.startswith("usage: simgate " + c) and "exit status" in out, "%s --help" % c)

    # Cannot reach the daemon: 3.
    missing = os.path.join(h.dir, "nope.sock")
    _, err = cli.run(["--socket", missing, "health"], rc=3, sock=False)
    check("no socket at " + missing in err, "missing socket: %r" % err)
    _, err = cli.run(["modems"], rc=3, sock=False, env={"SIMGATE_SOCKET": missing})
    check("no socket at " + missing in err, "SIMGATE_SOCKET is used: %r" % err)
    cli.run(["health"], rc=0, sock=False, env={"SIMGATE_SOCKET": cli.sock})
    dead = os.path.join(h.dir, "dead.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(dead)  # bound, never listening: connect is refused
    try:
        _, err = cli.run(["send", "--socket", dead, "--to", TO, "--text", "x"], rc=3, sock=False)
        check("nobody listens on " + dead in err, "refused: %r" % err)
    finally:
        s.close()


def check_follow_restart(cli, d):
    """events --follow (human) keeps its cursor across a kill -9 and restart."""
    f = subprocess.Popen([SIMGATE, "--socket", cli.sock, "events", "--follow"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(0.3)
        d.kill(signal.SIGKILL)
        time.sleep(1.2)  # the follower notices and retries
        d.start()
        out, _ = cli.run(["send", "--to", TO, "--text", "after restart", "--wait",
                          "--timeout", "20"])
        mid = int(out.split()[1])
        buf, deadline = "", time.monotonic() + 15
        pat = re.compile(r"^\d+ +\S+ +message\.state +%d +.*status=sent" % mid, re.M)
        while not pat.search(buf) and time.monotonic() < deadline:
            if select.select([f.stdout], [], [], 0.2)[0]:
                buf += os.read(f.stdout.fileno(), 65536).decode()
        check(pat.search(buf), "follow after restart saw message %d: %r" % (mid, buf))
        lines = buf.splitlines()
        check(lines[0].split() == ["SEQ", "AT", "TYPE", "MESSAGE", "DATA"], "header: %r" % buf)
        seqs = [int(ln.split()[0]) for ln in lines[1:]]
        check(seqs == sorted(set(seqs)), "no event twice across the restart: %r" % seqs)
    finally:
        f.kill()
        _, err = f.communicate()
    check("lost simgated" in err.decode() and "simgated is back" in err.decode(),
          "follow said it lost and found the daemon: %r" % err)


class NoModem:
    """A modem slot whose port does not exist."""

    def __init__(self, h):
        self.name = "m9"
        self.link = os.path.join(h.dir, "absent.pty")


def check_unhealthy():
    with Harness() as h2:
        d = h2.daemon([(NoModem(h2), "sim800")]).start(wait_ready=False)
        cli = Cli(d.sock)
        out, _ = cli.run(["health"], rc=4)
        check(out.startswith("unavailable: 0 of 1 modems ready") and "modem m9 is " in out,
              "unhealthy health: %r" % out)
        hj = cli.json(["health"], rc=4)[0]
        check(hj["status"] == "unavailable" and hj["reasons"], "health --json 503: %r" % hj)
        d.stop()
        _, err = cli.run(["health"], rc=3)
        check("cannot reach simgated" in err, "after stop: %r" % err)


def test(h):
    sims = [h.modemsim("m1", "sim800", "--sr-delay-ms", "300"),
            h.modemsim("m2", "ec25", "--sr-delay-ms", "300")]
    d = h.daemon([(sims[0], "sim800"), (sims[1], "ec25")]).start()
    cli = Cli(d.sock)
    mid = check_send_wait(cli)
    check_undelivered(cli, sims)
    cid = check_cancel(cli, d, sims)
    check_status_list(cli, mid, cid)
    check_gateway(cli)
    check_inbox(cli, d, sims[0])
    check_events(cli)
    check_errors(cli, h)
    check_follow_restart(cli, d)
    d.stop()
    check_unhealthy()


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    main(test)
