#!/usr/bin/python3
"""simgated benchmarks (make bench): real daemon, real modemsims on ptys, real
HTTP on the Unix socket. Prints a table, writes results.json. Not pass/fail.

  1 pickup     submit -> first byte of AT+CMGS at an idle modem, 1,000 sequential
  2 util       throughput / (N/L) with 1, 4, 8 modems at CMGS latency L
  3 otp        OTP submit -> its AT+CMGS behind 10,000 queued bulk (one modem)
  4 accepts    202s per second, 8 keep-alive clients (C load generator)
  5 footprint  peak RSS with 100,000 queued; wakeups per second when idle

Clocks: modemsim stamps "cmgs_us" (wall-clock UTC microseconds of the read()
that delivered the first byte of the AT+CMGS= line) and "t" (wall ms, the
PDU's Ctrl-Z). The benchmark stamps its submits with time.time() on the same
host, so submit -> CMGS differences need no clock sync.
"""
import argparse
import http.client
import json
import math
import os
import platform
import random
import shutil
import subprocess
import sys
import threading
import time

ROOT = os.environ.get("SG_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import sglib  # noqa: E402  (the integration tests' harness, shared on purpose)

TARGETS = {
    "pickup_p50_ms": 5.0,
    "pickup_p99_ms": 20.0,
    "utilisation": 0.98,
    "otp_slack_ms": 50.0,
    "accepts_per_s": 2000.0,
    "rss_kb": 16 * 1024,
    "wakeups_per_s": 1.0,
}


# ------------------------------------------------------------------ helpers

def pct(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    v = sorted(values)
    k = max(0, min(len(v) - 1, math.ceil(p / 100.0 * len(v)) - 1))
    return v[k]


def start_daemon(h, modems, extra_conf="", wait_ready=True):
    """sglib's daemon at log level info (the production default: debug
    would add a log write per AT line to every number measured)."""
    d = h.daemon(modems, extra_conf)
    with open(d.conf) as f:
        conf = f.read().replace('log_level = "debug";', 'log_level = "info";')
    with open(d.conf, "w") as f:
        f.write(conf)
    return d.start(wait_ready=wait_ready)


class daemon_env:
    """Extra environment for the processes started inside the block (the
    daemon): sglib starts them with this process's environment."""

    def __init__(self, env):
        self.env = env or {}
        self.saved = {}

    def __enter__(self):
        for k, v in self.env.items():
            self.saved[k] = os.environ.get(k)
            os.environ[k] = v

    def __exit__(self, *exc):
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        return False


class Absent:
    """A modem slot whose port never exists: the daemon queues, never sends."""

    def __init__(self, h, name):
        self.name = name
        self.link = os.path.join(h.dir, name + ".absent")


class Conn:
    """One keep-alive HTTP/1.1 connection on the daemon's socket."""

    def __init__(self, sock):
        self.sock = sock
        self.c = None

    def post(self, path, body):
        data = json.dumps(body).encode()
        for attempt in (0, 1):
            if self.c is None:
                self.c = sglib.UnixHTTPConnection(self.sock, timeout=30)
            try:
                self.c.request("POST", path, body=data,
                               headers={"Content-Type": "application/json"})
                r = self.c.getresponse()
                return r.status, r.read()
            except (http.client.HTTPException, OSError):
                self.c.close()
                self.c = None
                if attempt:
                    raise
        return None

    def close(self):
        if self.c:
            self.c.close()


class LogTail:
    """New JSON lines of a modemsim PDU log since the last call."""

    def __init__(self, path):
        self.path = path
        self.off = 0
        self.partial = b""

    def new(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.off)
                data = f.read()
        except FileNotFoundError:
            return []
        self.off += len(data)
        data = self.partial + data
        lines = data.split(b"\n")
        self.partial = lines.pop()
        return [json.loads(x) for x in lines if x.strip()]


def pdu_dest(hexpdu):
    """Destination number of an SMS-SUBMIT TPDU as sent with AT+CMGS
    (SCA length octet first, 00 = the SIM's SMSC)."""
    b = bytes.fromhex(hexpdu)
    i = 1 + b[0]            # skip the SCA
    ndig, toa = b[i + 2], b[i + 3]
    digits = ""
    for o in b[i + 4:i + 4 + (ndig + 1) // 2]:
        digits += "%d%d" % (o & 0xF, o >> 4) if (o >> 4) != 0xF else "%d" % (o & 0xF)
    return ("+" if toa == 0x91 else "") + digits[:ndig]


def cmgs_time_s(rec):
    """When AT+CMGS started arriving, in wall seconds; falls back to the
    Ctrl-Z time when modemsim does not log cmgs_us (older build)."""
    if rec.get("cmgs_us") is not None:
        return rec["cmgs_us"] / 1e6
    return rec["t"] / 1e3


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def ctx_switches(pid):
    """Voluntary + involuntary context switches summed over every thread."""
    vol = invol = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            st = proc_status_task(pid, tid)
        except FileNotFoundError:
            continue
        vol += int(st["voluntary_ctxt_switches"])
        invol += int(st["nonvoluntary_ctxt_switches"])
    return vol, invol


def proc_status_task(pid, tid):
    out = {}
    with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def loadgen(args, sock, count, priority="bulk", base=0, clients=8):
    out = subprocess.run([args.loadgen, "--socket", sock, "--count", str(count),
                          "--clients", str(clients), "--priority", priority,
                          "--base", str(base)],
                         capture_output=True, text=True, timeout=600)
    if not out.stdout.strip():
        raise sglib.TestFailure("loadgen printed nothing: " + out.stderr)
    r = json.loads(out.stdout)
    if r["accepted"] != count:
        raise sglib.TestFailure("loadgen: %d of %d accepted: %s" % (r["accepted"], count, r))
    return r


def wait_sent(d, mid, timeout=10):
    """Until message mid leaves `sending` (the modem is idle again)."""
    def done():
        st = d.get("/v1/messages/%d" % mid).json()["status"]
        return st not in ("queued", "sending")
    sglib.wait_until(done, timeout, "message %d sent" % mid, interval=0.001)


# ------------------------------------------------------------------ 1 pickup

def bench_pickup(args, h, n=None, env=None):
    n = n or args.pickup_n
    m = h.modemsim("p1", "ec25", "--cmgs-latency-ms", "5")
    with daemon_env(env):
        d = start_daemon(h, [(m, "ec25")])
    tail = LogTail(m.log)
    conn = Conn(d.sock)
    lat, acc, after_202 = [], [], 0
    have_us = None
    for i in range(n + 10):          # the first 10 warm caches, not counted
        to = "+3361%07d" % i
        t0 = time.time()
        st, body = conn.post("/v1/messages", {"to": to, "text": "pickup %d" % i,
                                              "priority": "normal"})
        t1 = time.time()
        sglib.check(st == 202, "submit %d: %d %s" % (i, st, body[:200]))
        recs = []
        deadline = time.monotonic() + 10
        while not recs:
            recs = [r for r in tail.new() if pdu_dest(r["pdu"]) == to]
            if not recs:
                sglib.check(time.monotonic() < deadline, "no AT+CMGS for message %d" % i)
                time.sleep(0.0005)
        wait_sent(d, json.loads(body)["id"])
        if i < 10:
            continue
        have_us = recs[0].get("cmgs_us") is not None
        tc = cmgs_time_s(recs[0])
        lat.append((tc - t0) * 1e3)
        acc.append((t1 - t0) * 1e3)
        after_202 += tc > t1
    conn.close()
    return {
        "messages": n,
        "modem": "ec25 modemsim, CMGS latency 5 ms, idle before each submit",
        "clock": "cmgs_us (read() of the first AT+CMGS byte)" if have_us
                 else "t (PDU Ctrl-Z, ms): modemsim without cmgs_us, an upper bound",
        "p50_ms": round(pct(lat, 50), 3), "p99_ms": round(pct(lat, 99), 3),
        "max_ms": round(max(lat), 3), "min_ms": round(min(lat), 3),
        "accept_p50_ms": round(pct(acc, 50), 3), "accept_p99_ms": round(pct(acc, 99), 3),
        "cmgs_after_202": after_202,
        "met": pct(lat, 50) <= TARGETS["pickup_p50_ms"] and pct(lat, 99) <= TARGETS["pickup_p99_ms"],
    }


# ------------------------------------------------------------------ 2 utilisation

def bench_util_one(args, h, n, L, window=None, env=None):
    ms = [h.modemsim("u%d" % i, "ec25", "--cmgs-latency-ms", str(L)) for i in range(n)]
    with daemon_env(env):
        d = start_daemon(h, [(m, "ec25") for m in ms])
    warm, window = 1.5, window or args.util_window
    total = int(n * (warm + window + 3.0) / (L / 1e3)) + 4 * n
    lg = loadgen(args, d.sock, total, priority="normal", base=n * 1000000)
    t_end = time.time() + warm + window + 1.0
    while time.time() < t_end:
        time.sleep(0.2)
    per = []
    for m in ms:
        recs = m.received()
        per.append(recs)
    d.kill()
    # Steady state: after `warm` seconds from the first send, and only while
    # the queue still held work (before the last 2n sends of the batch).
    allrecs = sorted(((cmgs_time_s(r), r) for recs in per for r in recs), key=lambda x: x[0])
    sglib.check(len(allrecs) > 4 * n, "util n=%d: only %d sends" % (n, len(allrecs)))
    t_first = allrecs[0][0]
    t_lo, t_hi = t_first + warm, t_first + warm + window
    if len(allrecs) >= total - 2 * n:
        t_hi = min(t_hi, allrecs[total - 2 * n - 1][0])
    rate, cycles = 0.0, []
    for recs in per:
        ts = [cmgs_time_s(r) for r in recs if t_lo <= cmgs_time_s(r) <= t_hi]
        if len(ts) < 2:
            continue
        rate += (len(ts) - 1) / (ts[-1] - ts[0])
        cycles += [(b - a) * 1e3 for a, b in zip(ts, ts[1:])]
    ideal = n / (L / 1e3)
    res = {
        "modems": n, "cmgs_latency_ms": L, "queued": total,
        "submit_rate": lg["rate"],
        "window_s": round(t_hi - t_lo, 2),
        "throughput_per_s": round(rate, 3), "ideal_per_s": round(ideal, 3),
        "utilisation": round(rate / ideal, 4),
        "cycle_p50_ms": round(pct(cycles, 50), 2), "cycle_p99_ms": round(pct(cycles, 99), 2),
    }
    # What a send costs beyond L: the prompt round trip, the PDU write and
    # the daemon's turnaround from +CMGS OK to the next AT+CMGS.
    res["overhead_per_send_ms"] = round(sum(cycles) / len(cycles) - L, 2)
    return res


def bench_util(args, h_factory):
    out = []
    for n in (1, 4, 8):
        with h_factory() as h:
            out.append(bench_util_one(args, h, n, args.util_latency))
    return {"cmgs_latency_ms": args.util_latency, "runs": out,
            "met": all(r["utilisation"] >= TARGETS["utilisation"] for r in out)}


# ------------------------------------------------------------------ 3 otp behind bulk

def bench_otp(args, h):
    L = 100
    m = h.modemsim("o1", "ec25", "--cmgs-latency-ms", str(L))
    d = start_daemon(h, [(m, "ec25")])
    lg = loadgen(args, d.sock, args.otp_backlog, priority="bulk", base=2000000)
    tail = LogTail(m.log)
    conn = Conn(d.sock)
    time.sleep(1.0)
    lat, bulk_sends = [], []
    rnd = random.Random(7)
    for k in range(args.otp_n):
        time.sleep(rnd.uniform(0.05, 0.35))  # random phase against the bulk sends
        to = "+3379%07d" % k
        t0 = time.time()
        st, body = conn.post("/v1/messages", {"to": to, "text": "Your code is %06d" % k,
                                              "priority": "otp"})
        sglib.check(st == 202, "otp submit: %d %s" % (st, body[:200]))
        found = None
        deadline = time.monotonic() + 30
        while found is None:
            for r in tail.new():
                if pdu_dest(r["pdu"]) == to:
                    found = r
                else:
                    bulk_sends.append(r)
            if found is None:
                sglib.check(time.monotonic() < deadline, "OTP %d never sent" % k)
                time.sleep(0.001)
        lat.append((cmgs_time_s(found) - t0) * 1e3)
    conn.close()
    # One in-flight send: a bulk send's whole cycle, AT+CMGS to the next AT+CMGS.
    ts = sorted(cmgs_time_s(r) for r in bulk_sends)
    cyc = [(b - a) * 1e3 for a, b in zip(ts, ts[1:]) if (b - a) < 2.0]
    cycle = pct(cyc, 50) if cyc else float("nan")
    left = d.get("/metrics").body.decode(errors="replace")
    d.kill()
    bound = cycle + TARGETS["otp_slack_ms"]
    return {
        "backlog": args.otp_backlog, "backlog_submit_rate": lg["rate"],
        "cmgs_latency_ms": L, "otps": len(lat),
        "send_cycle_p50_ms": round(cycle, 2),
        "bound_ms": round(bound, 2),
        "p50_ms": round(pct(lat, 50), 2), "p99_ms": round(pct(lat, 99), 2),
        "max_ms": round(max(lat), 2),
        "within_bound": sum(1 for x in lat if x <= bound),
        "met": max(lat) <= bound,
        "queued_metric_lines": [x for x in left.splitlines()
                                if x.startswith("simgate_queue_depth")][:6],
    }


# ------------------------------------------------------------------ 4 accepts

def py_accepts(sock, threads, seconds):
    """The same load from Python threads (http.client, keep-alive): how far
    a GIL-bound client gets, to show why the C load generator is needed."""
    counts = [0] * threads
    stop = time.monotonic() + seconds

    def work(k):
        c = Conn(sock)
        i = 0
        while time.monotonic() < stop:
            st, _ = c.post("/v1/messages", {"to": "+3368%07d" % (k * 100000 + i),
                                            "text": "py %d" % i, "priority": "bulk"})
            counts[k] += st == 202
            i += 1
        c.close()
    ts = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sum(counts) / (time.monotonic() - t0)


def bench_accepts(args, h):
    d = start_daemon(h, [(Absent(h, "a1"), "ec25")], wait_ready=False)
    runs = [loadgen(args, d.sock, args.accepts_n, base=3000000 + k * args.accepts_n)
            for k in range(3)]
    one = loadgen(args, d.sock, args.accepts_n // 4, clients=1, base=3900000)
    py = py_accepts(d.sock, 8, 3.0)
    best = max(r["rate"] for r in runs)
    rates = sorted(r["rate"] for r in runs)
    return {
        "clients": 8, "requests_per_run": args.accepts_n,
        "modems": "one absent (nothing drains: API + store only)",
        "rate_runs": [r["rate"] for r in runs], "rate_median": rates[1], "rate_best": best,
        "lat_p50_ms": runs[-1]["lat_p50_ms"], "lat_p99_ms": runs[-1]["lat_p99_ms"],
        "rate_1_client": one["rate"],
        "python_8_threads_rate": round(py, 1),
        "met": rates[1] >= TARGETS["accepts_per_s"],
    }


# ------------------------------------------------------------------ 5 footprint

def bench_rss(args, h):
    d = start_daemon(h, [(Absent(h, "r1"), "ec25")], wait_ready=False)
    health = d.get("/v1/health")
    kb = lambda k: int(proc_status(d.proc.pid)[k].split()[0])  # noqa: E731
    steps = {"start_rss_kb": kb("VmRSS")}
    lg = loadgen(args, d.sock, args.rss_n, base=4000000)
    steps["after_submits"] = kb("VmHWM")
    # Each read path on its own, so a jump is pinned on one endpoint.
    for name, path in (("after_list", "/v1/messages?status=queued&limit=100"),
                       ("after_events", "/v1/events?after=0&limit=100"),
                       ("after_health_modems_sims", "/v1/health"),
                       ("after_metrics", "/metrics")):
        if name == "after_health_modems_sims":
            d.get("/v1/modems")
            d.get("/v1/sims")
        t0 = time.monotonic()
        d.get(path)
        steps[name] = kb("VmHWM")
        steps[name + "_ms"] = round((time.monotonic() - t0) * 1e3, 1)
    steps["rss_after_metrics"] = kb("VmRSS")
    d.stop()
    d.start(wait_ready=False)        # restart over the full queue
    time.sleep(1.0)
    steps["after_restart"] = kb("VmHWM")
    d.get("/metrics")
    steps["after_restart_metrics"] = kb("VmHWM")
    db = os.path.join(d.state, "simgate.db")
    dbsize = sum(os.path.getsize(p) for p in (db, db + "-wal") if os.path.exists(p))
    d.stop()
    peak = max(v for k, v in steps.items() if k.startswith("after") and not k.endswith("_ms"))
    return {
        "queued": args.rss_n, "submit_rate": lg["rate"],
        "health": "%d %s" % (health.status, health.json().get("reasons")),
        "hwm_kb": steps, "peak_kb": peak, "db_bytes": dbsize,
        "met": peak <= TARGETS["rss_kb"],
    }


def strace_counts(path):
    """(epoll_wait returns, of which timeouts, read() calls by fd) in an
    `strace -f -tt` output file."""
    ret = timeouts = 0
    reads = {}
    with open(path) as f:
        for line in f:
            if "<unfinished" in line:
                continue
            if "epoll_wait(" in line or "epoll_pwait(" in line or \
                    "epoll_wait resumed" in line or "epoll_pwait resumed" in line:
                ret += 1
                timeouts += line.rstrip().endswith("= 0")
            elif " read(" in line:
                fd = line.split("read(", 1)[1].split(",", 1)[0]
                reads[fd] = reads.get(fd, 0) + 1
    return ret, timeouts, reads


def fsync_probe(d, n=50):
    """fdatasync latency of the state directory's disk (4 KiB appends), ms:
    every accept and every state change of a send waits for one."""
    path = os.path.join(d, "fsync-probe")
    lat = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for _ in range(n):
            os.write(fd, b"x" * 4096)
            t0 = time.perf_counter()
            os.fdatasync(fd)
            lat.append((time.perf_counter() - t0) * 1e3)
    finally:
        os.close(fd)
        os.unlink(path)
    return {"p50_ms": round(pct(lat, 50), 3), "p99_ms": round(pct(lat, 99), 3)}


def bench_idle(args, h):
    m1 = h.modemsim("i1", "sim800")
    m2 = h.modemsim("i2", "ec25")
    d = start_daemon(h, [(m1, "sim800"), (m2, "ec25")])
    time.sleep(3.0)                  # let bring-up stragglers settle
    pid, secs = d.proc.pid, args.idle_s
    v0, n0 = ctx_switches(pid)
    time.sleep(secs)
    v1, n1 = ctx_switches(pid)
    res = {"modems": "sim800 + ec25 modemsims, ready, no traffic", "seconds": secs,
           "method": "delta of voluntary_ctxt_switches (all threads) in /proc/PID/task/*/status",
           "threads": len(os.listdir("/proc/%d/task" % pid)),
           "voluntary": v1 - v0, "involuntary": n1 - n0,
           "wakeups_per_s": round((v1 - v0) / secs, 3)}
    if shutil.which("strace") and args.strace_s > 0:
        secs = args.strace_s
        out = os.path.join(h.dir, "strace.txt")
        p = subprocess.Popen(["strace", "-f", "-tt", "-e", "trace=epoll_wait,epoll_pwait,read",
                              "-o", out, "-p", str(pid)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        h.procs.append(p)
        time.sleep(secs)
        p.terminate()
        p.wait(timeout=10)
        ret, timeouts, reads = strace_counts(out)
        res["strace_seconds"] = secs
        res["strace_epoll_returns"] = ret
        res["strace_epoll_timeouts"] = timeouts
        res["strace_epoll_returns_per_s"] = round(ret / secs, 3)
        res["strace_note"] = "strace -f -p over a separate window; epoll_wait returns incl. timeouts"
        res["strace_reads_by_fd"] = reads
    res["met"] = res["wakeups_per_s"] <= TARGETS["wakeups_per_s"]
    d.kill()
    return res


# ------------------------------------------------------------------ what if: slow flash

def bench_sdcard(args):
    """Benchmarks 1 and 2 (N=1) again with every fsync/fdatasync of the
    daemon delayed by --fsync-delay-ms (LD_PRELOAD shim): what the commit
    path costs on an SBC's SD card, where one fdatasync takes milliseconds.
    Not a target row: it shows how many syncs sit on each path."""
    env = {"LD_PRELOAD": args.slowsync,
           "SG_BENCH_FSYNC_DELAY_US": str(int(args.fsync_delay_ms * 1000))}
    with sglib.Harness() as h:
        p = bench_pickup(args, h, n=200, env=env)
    with sglib.Harness() as h:
        u = bench_util_one(args, h, 1, args.util_latency, window=8.0, env=env)
    return {"fsync_delay_ms": args.fsync_delay_ms, "pickup": p, "util_1": u}


# ------------------------------------------------------------------ report

def fmt_table(res):
    rows = []

    def row(name, value, target, met):
        rows.append((name, value, target, "yes" if met else "NO" if met is not None else "-"))
    if "pickup" in res:
        p = res["pickup"]
        row("1 pickup p50 / p99", "%.2f / %.2f ms" % (p["p50_ms"], p["p99_ms"]),
            "<= 5 / 20 ms", p["met"])
    if "utilisation" in res:
        for r in res["utilisation"]["runs"]:
            row("2 utilisation N=%d L=%d ms" % (r["modems"], r["cmgs_latency_ms"]),
                "%.1f%% (%.2f/s of %.2f/s)" % (100 * r["utilisation"], r["throughput_per_s"],
                                              r["ideal_per_s"]),
                ">= 98%", r["utilisation"] >= TARGETS["utilisation"])
    if "otp" in res:
        o = res["otp"]
        row("3 OTP behind %d bulk p50/max" % o["backlog"],
            "%.1f / %.1f ms" % (o["p50_ms"], o["max_ms"]),
            "<= %.0f ms (cycle+50)" % o["bound_ms"], o["met"])
    if "accepts" in res:
        a = res["accepts"]
        row("4 accepts, 8 clients", "%.0f /s (py: %.0f /s)" % (a["rate_median"],
                                                              a["python_8_threads_rate"]),
            ">= 2000 /s", a["met"])
    if "rss" in res:
        r = res["rss"]
        row("5 peak RSS, %d queued" % r["queued"], "%.1f MB" % (r["peak_kb"] / 1024),
            "<= 16 MB", r["met"])
    if "idle" in res:
        i = res["idle"]
        row("5 idle wakeups", "%.2f /s" % i["wakeups_per_s"], "<= 1 /s", i["met"])
    if "sdcard" in res:
        sd = res["sdcard"]
        row("what-if fsync+%gms: pickup p50/p99" % sd["fsync_delay_ms"],
            "%.2f / %.2f ms" % (sd["pickup"]["p50_ms"], sd["pickup"]["p99_ms"]),
            "(5 / 20 ms)", None)
        row("what-if fsync+%gms: util N=1" % sd["fsync_delay_ms"],
            "%.1f%%" % (100 * sd["util_1"]["utilisation"]), "(98%)", None)
    for name, e in res.get("errors", {}).items():
        row(name, "ERROR: " + e[:60], "", None)
    w = [max(len(r[k]) for r in rows + [("benchmark", "measured", "target", "met")])
         for k in range(4)]
    lines = []
    for r in [("benchmark", "measured", "target", "met")] + rows:
        lines.append("  ".join(r[k].ljust(w[k]) for k in range(4)).rstrip())
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--slowsync", default="", help="LD_PRELOAD shim for the SD-card what-if")
    ap.add_argument("--fsync-delay-ms", type=float, default=5.0)
    ap.add_argument("--only", default="1,2,3,4,5,sd",
                    help="comma list of benchmarks to run (sd: the slow-flash what-if)")
    ap.add_argument("--pickup-n", type=int, default=1000)
    ap.add_argument("--util-latency", type=int, default=300)
    ap.add_argument("--util-window", type=float, default=12.0)
    ap.add_argument("--otp-backlog", type=int, default=10000)
    ap.add_argument("--otp-n", type=int, default=30)
    ap.add_argument("--accepts-n", type=int, default=20000)
    ap.add_argument("--rss-n", type=int, default=100000)
    ap.add_argument("--idle-s", type=float, default=65.0,
                    help="idle window; > 60 s so the 60 s CSQ poll of each modem is inside")
    ap.add_argument("--strace-s", type=float, default=20.0)
    args = ap.parse_args()
    only = set(args.only.split(","))

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = ""
    res = {"meta": {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "commit": commit, "host": platform.node(), "kernel": platform.release(),
                    "cpus": os.cpu_count(), "loadavg_start": os.getloadavg()[0],
                    "build": sglib.BUILD, "targets": TARGETS},
           "errors": {}}
    with sglib.Harness() as h:
        res["meta"]["fdatasync_start"] = fsync_probe(h.dir)
    plan = [("1", "pickup", lambda: run_in_harness(bench_pickup, args)),
            ("2", "utilisation", lambda: bench_util(args, sglib.Harness)),
            ("3", "otp", lambda: run_in_harness(bench_otp, args)),
            ("4", "accepts", lambda: run_in_harness(bench_accepts, args)),
            ("5", "rss", lambda: run_in_harness(bench_rss, args)),
            ("5", "idle", lambda: run_in_harness(bench_idle, args)),
            ("sd", "sdcard", lambda: bench_sdcard(args))]
    for key, name, fn in plan:
        if key not in only or (key == "sd" and not args.slowsync):
            continue
        t0 = time.monotonic()
        sys.stderr.write("bench: %s ...\n" % name)
        try:
            res[name] = fn()
            res[name]["bench_seconds"] = round(time.monotonic() - t0, 1)
        except Exception as e:  # noqa: BLE001  (one broken benchmark must not hide the others)
            res["errors"][name] = "%s: %s" % (type(e).__name__, e)
        sys.stderr.write("bench: %s done in %.1fs\n" % (name, time.monotonic() - t0))
    res["meta"]["loadavg_end"] = os.getloadavg()[0]
    with sglib.Harness() as h:
        res["meta"]["fdatasync_end"] = fsync_probe(h.dir)
    with open(args.out, "w") as f:
        json.dump(res, f, indent=2)
        f.write("\n")
    print(fmt_table(res))
    print("details: %s" % args.out)
    return 1 if res["errors"] else 0


def run_in_harness(fn, args):
    with sglib.Harness() as h:
        return fn(args, h)


if __name__ == "__main__":
    sys.exit(main())
