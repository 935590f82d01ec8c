"""Every API endpoint's happy path and answer shape (issue 6), against the
real daemon on its real Unix socket, with two modemsims (SIM800, EC25):
submit (GSM-7, UCS-2 for Cyrillic and emoji, multipart), read back with the
SIM and TP-MR of each part checked against modemsim's own log, a status
report taking a message to delivered, paging by cursor without duplicates
or holes, status and since filters, cancel of a queued message and 409 for
one already handed to a modem, modems, SIMs, inbox (an SMS injected at the
modem), metrics, and health both ways (200 with ready modems; 503 with
reasons when the only modem's port is missing).
"""
import calendar
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from apilib import Fake, decoded_messages, expect_error, msg, submit, wait_status  # noqa: E402
from sglib import check, main, wait_until  # noqa: E402

SUBMIT_KEYS = {"id", "status", "parts", "encoding"}
MODEM_KEYS = {"id", "state", "ready", "vendor", "model", "signal_dbm", "band", "registration",
              "operator", "last_error", "iccid"}
SIM_KEYS = {"iccid", "imsi", "msisdn", "label", "modem", "enabled", "breaker", "sent_today",
            "sent_month", "daily_left", "monthly_left", "rate_per_min", "sent_total",
            "failed_total", "consecutive_failures", "last_used_at"}
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
# Prometheus text format 0.0.4: name{labels} value
SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"'
                       r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*")*)?\})? (\S+)$')


def check_health_ok(d):
    r = d.get("/v1/health")
    check(r.status == 200, "health: %r" % r)
    b = r.json()
    check(b["status"] == "ok" and b["modems_ready"] == 2 and b["modems"] == 2 and
          b["reasons"] == [], "health body: %r" % b)
    check(isinstance(b["last_event_seq"], int) and b["last_event_seq"] >= 2,
          "health last_event_seq (two modems came up): %r" % b)


def check_modems(d):
    r = d.get("/v1/modems")
    check(r.status == 200 and r.headers["Content-Type"].startswith("application/json"),
          "modems: %r" % r)
    mods = r.json()["modems"]
    check(sorted(m["id"] for m in mods) == ["m1", "m2"], "modem ids: %r" % mods)
    by = {m["id"]: m for m in mods}
    for m in mods:
        check(set(m) == MODEM_KEYS, "modem keys: %r" % sorted(m))
        check(m["state"] in ("ready", "busy") and m["ready"] is True, "modem state: %r" % m)
        check(m["registration"] == "home", "registration: %r" % m)
        check(isinstance(m["signal_dbm"], int) and -113 <= m["signal_dbm"] <= -51,
              "signal: %r" % m)
        check(re.fullmatch(r"89\d{16,18}", m["iccid"] or ""), "iccid: %r" % m)
        check(m["last_error"] is None, "no last_error: %r" % m)
    check(by["m1"]["vendor"] == "sim800" and by["m2"]["vendor"] == "ec25", "vendors: %r" % by)
    check("SIM800" in by["m1"]["model"], "m1 model: %r" % by["m1"])
    return {m["id"]: m["iccid"] for m in mods}


def check_sims(d, iccid):
    r = d.get("/v1/sims")
    check(r.status == 200, "sims: %r" % r)
    sims = r.json()["sims"]
    check(len(sims) == 2, "two SIMs: %r" % sims)
    by = {s["iccid"]: s for s in sims}
    check(set(by) == set(iccid.values()), "SIM iccids %r vs modems %r" % (sorted(by), iccid))
    for mid, ic in iccid.items():
        s = by[ic]
        check(set(s) == SIM_KEYS, "sim keys: %r" % sorted(s))
        check(s["modem"] == mid and s["enabled"] is True and s["breaker"] == "closed",
              "sim %s: %r" % (mid, s))
        check(re.fullmatch(r"\d{15}", s["imsi"] or ""), "imsi: %r" % s)
    return by


def check_submit_shapes(d):
    cases = [
        ("Hello from simgate, your order #1234 has shipped.", "gsm7", 1),
        ("Привет! Ваш код 4821", "ucs2", 1),
        ("Delivered \U0001F600 thanks", "ucs2", 1),
        ("A" * 161, "gsm7", 2),
        ("Ж" * 71, "ucs2", 2),
    ]
    ids = []
    for text, enc, parts in cases:
        r = d.post("/v1/messages", {"to": "+33612345678", "text": text})
        check(r.status == 202, "submit %r: %r" % (text[:20], r))
        check(r.headers["Content-Type"].startswith("application/json"), "202 content type")
        b = r.json()
        check(set(b) == SUBMIT_KEYS, "202 keys: %r" % b)
        check(isinstance(b["id"], int) and b["id"] > 0, "id: %r" % b)
        check(b["status"] == "queued" and b["encoding"] == enc and b["parts"] == parts,
              "submit %r: want %s/%d, got %r" % (text[:20], enc, parts, b))
        check(r.headers.get("Location") == "/v1/messages/%d" % b["id"], "Location: %r" % r.headers)
        check(not ids or b["id"] > ids[-1][0], "ids grow: %r after %r" % (b, ids))
        ids.append((b["id"], text, parts))
    return ids


def check_message(d, mid, text, nparts, iccid, logs):
    m = wait_status(d, mid, "sent")
    check(m["text"] == text and m["part_count"] == nparts and m["to"] == "+33612345678",
          "message %d: %r" % (mid, m))
    check(m["priority"] == "normal" and m["attempts"] == 1 and m["last_error"] is None,
          "defaults: %r" % m)
    for k in ("created_at", "updated_at", "expires_at"):
        check(TIME_RE.match(m[k] or ""), "%s: %r" % (k, m[k]))
    check(m["modem"] in ("m1", "m2") and m["iccid"] == iccid[m["modem"]],
          "SIM used: %r" % m)
    parts = m["parts"]
    check([p["seq"] for p in parts] == list(range(1, nparts + 1)), "part seqs: %r" % parts)
    # Each part went out through the SIM the API names, with the TP-MR that
    # this modem (and no other) answered for a PDU carrying that text.
    sent = [x for x in decoded_messages(logs[m["modem"]]()) if x[1] == text]
    check(len(sent) == 1, "one copy of message %d at %s, got %d" % (mid, m["modem"], len(sent)))
    mrs = [rec["mr"] for rec in sent[0][2]]
    for p, mr in zip(parts, mrs):
        check(p["status"] == "sent" and p["modem"] == m["modem"] and p["iccid"] == m["iccid"],
              "part: %r" % p)
        check(p["mr"] == mr, "part %d MR %r, modemsim answered %r" % (p["seq"], p["mr"], mr))
        check(TIME_RE.match(p["sent_at"] or ""), "sent_at: %r" % p)
    h = m["history"]
    check([(x["from"], x["to"]) for x in h] == [(None, "queued"), ("queued", "sending"),
                                                 ("sending", "sent")], "history: %r" % h)
    check(h[1]["modem"] == m["modem"] and h[2]["modem"] == m["modem"], "history modem: %r" % h)
    check(all(TIME_RE.match(x["at"]) for x in h) and [x["at"] for x in h] == sorted(
        x["at"] for x in h), "history times: %r" % h)


def check_delivered(d, iccid):
    """status_report: true -> the modem's report moves it to delivered."""
    b = submit(d, {"to": "+33612345678", "text": "Report back please", "priority": "urgent",
                   "status_report": True, "ttl": 600})
    m = wait_status(d, b["id"], "delivered", 15)
    check(m["status_report"] is True and m["ttl"] == 600 and m["priority"] == "urgent",
          "message fields: %r" % m)
    p = m["parts"][0]
    check(p["status"] == "delivered" and p["dlr_status"] == 0 and TIME_RE.match(p["dlr_at"] or "")
          and p["dlr_at"] >= p["sent_at"], "part after the report: %r" % p)
    check(p["iccid"] == iccid[p["modem"]], "part SIM: %r" % p)
    h = [(x["from"], x["to"]) for x in m["history"]]
    check(h == [(None, "queued"), ("queued", "sending"), ("sending", "sent"),
                ("sent", "delivered")], "history: %r" % h)
    return b["id"]


def page_all(d, query, limit, after=None):
    seen, pages = [], 0
    while True:
        q = "/v1/messages?limit=%d%s%s" % (limit, query, "" if after is None else
                                           "&after=%d" % after)
        r = d.get(q)
        check(r.status == 200, "%s: %r" % (q, r))
        b = r.json()
        check(set(b) == {"messages", "next_after"}, "page keys: %r" % list(b))
        page = b["messages"]
        check(len(page) <= limit, "page over limit: %d" % len(page))
        seen += [m["id"] for m in page]
        pages += 1
        check(pages < 100, "paging does not end")
        if b["next_after"] is None:
            check(len(page) < limit, "next_after null on a full page")
            return seen, pages, page
        check(b["next_after"] == page[-1]["id"], "next_after %r vs last %r" % (
            b["next_after"], page[-1]["id"]))
        after = b["next_after"]


def check_paging(d):
    first = None
    ids = []
    for k in range(25):
        b = submit(d, {"to": "+4915112345%03d" % k, "text": "batch %02d" % k, "priority": "bulk"})
        ids.append(b["id"])
        first = first or b["id"]
    for i in ids:
        wait_status(d, i, "sent")
    seen, pages, _ = page_all(d, "", 10, after=first - 1)
    check(seen == ids, "pages by 10 from %d: %r, want %r" % (first, seen, ids))
    check(pages == 3, "25 messages are 3 pages of 10, got %d" % pages)
    # The whole list, paged from the start, holds every message once.
    allids, _, _ = page_all(d, "", 7)
    check(len(allids) == len(set(allids)) and allids == sorted(allids), "ids unique, ascending")
    check(set(ids) <= set(allids), "batch in the full list")
    # Status filter.
    sent, _, _ = page_all(d, "&status=sent", 10)
    for i in sent:
        check(msg(d, i)["status"] == "sent", "status filter gave %d" % i)
    check(set(ids) <= set(sent), "every batch message listed as sent")
    check(page_all(d, "&status=failed", 10)[0] == [], "no failed messages")
    # since: exactly the messages created at or after the 13th of the batch.
    created = {i: msg(d, i)["created_at"] for i in allids}
    cut = created[ids[12]]
    want = [i for i in allids if created[i] >= cut]
    got, _, _ = page_all(d, "&since=" + cut, 10)
    check(got == want, "since=%s: %r, want %r" % (cut, got, want))
    ms = calendar.timegm(time.strptime(cut[:19], "%Y-%m-%dT%H:%M:%S")) * 1000 + int(cut[20:23])
    got2, _, _ = page_all(d, "&since=%d" % ms, 10)
    check(got2 == want, "since as Unix ms %d: %r" % (ms, got2))
    return ids


def metrics(d):
    r = d.get("/metrics")
    check(r.status == 200, "metrics: %r" % r)
    check(r.headers["Content-Type"].startswith("text/plain; version=0.0.4"),
          "metrics content type %r" % r.headers["Content-Type"])
    text = r.body.decode()
    check(text.endswith("\n"), "metrics end with a newline")
    series, typed = {}, set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if line.startswith("#") or not line:
            continue
        mm = SAMPLE_RE.match(line)
        check(mm, "not a Prometheus sample line: %r" % line)
        name = mm.group(1)
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        check(name in typed or base in typed, "sample before its # TYPE: %r" % line)
        labels = tuple(sorted(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                                         mm.group(3) or "")))
        key = (name, labels)
        check(key not in series, "duplicate series %r" % (key,))
        series[key] = float(mm.group(4))
    return series


def m_get(series, name, **labels):
    return series.get((name, tuple(sorted(labels.items()))))


def check_cancel(d, m1, m2):
    # Both modems take 3 s per send: two messages keep them busy, the third
    # has to wait in the queue, where it can be canceled.
    for m in (m1, m2):
        check(m.ctl(cmd="latency", ms=0, cmgs_ms=3000)["ok"], "latency set")
    a = submit(d, {"to": "+33611111111", "text": "in flight A", "priority": "urgent"})["id"]
    b = submit(d, {"to": "+33622222222", "text": "in flight B", "priority": "urgent"})["id"]
    wait_until(lambda: msg(d, a)["status"] == "sending" and msg(d, b)["status"] == "sending", 5,
               "A and B sending")
    c = submit(d, {"to": "+33633333333", "text": "cancel me please", "priority": "otp"})["id"]
    time.sleep(0.3)
    check(msg(d, c)["status"] == "queued", "C waits while both modems are busy: %r" % msg(d, c))
    s = metrics(d)
    check(m_get(s, "simgate_queue_depth", priority="otp") == 1,
          "queue depth otp while C waits: %r" % m_get(s, "simgate_queue_depth", priority="otp"))
    check(m_get(s, "simgate_messages", state="sending") == 2, "2 sending in metrics")
    busy = [m_get(s, "simgate_modem_state", modem=x, state="busy") for x in ("m1", "m2")]
    check(busy == [1, 1], "both modems busy in metrics: %r" % busy)

    r = d.delete("/v1/messages/%d" % c)
    check(r.status == 200 and r.json() == {"id": c, "status": "canceled"}, "cancel C: %r" % r)
    m = msg(d, c)
    check(m["status"] == "canceled" and m["history"][-1]["from"] == "queued" and
          m["history"][-1]["to"] == "canceled" and m["parts"][0]["status"] == "pending",
          "C after cancel: %r" % m)
    r = d.delete("/v1/messages/%d" % c)
    check(r.status == 200 and r.json()["status"] == "canceled", "cancel twice is 200: %r" % r)
    expect_error(d.delete("/v1/messages/%d" % a), 409, "too_late", "id", "cancel while sending")
    for m in (m1, m2):
        m.ctl(cmd="latency", ms=0, cmgs_ms=50)
    wait_status(d, a, "sent", 10)
    wait_status(d, b, "sent", 10)
    expect_error(d.delete("/v1/messages/%d" % a), 409, "too_late", "id", "cancel once sent")
    time.sleep(0.3)
    check(msg(d, c)["status"] == "canceled", "C stays canceled")
    texts = [x[1] for x in decoded_messages(m1.received() + m2.received())]
    check("cancel me please" not in texts, "a canceled message reached a modem")
    check(texts.count("in flight A") == 1, "A sent once")
    return c


def check_inbox(d, m1, iccid):
    r = d.get("/v1/inbox")
    check(r.status == 200 and r.json() == {"messages": [], "next_after": None},
          "empty inbox: %r" % r)
    text = "Réponse: OK, à demain 10h"
    r = m1.ctl(cmd="inject_sms", **{"from": "+33698765432", "text": text})
    check(r["ok"] and r["parts"] == 1, "inject: %r" % r)
    got = wait_until(lambda: d.get("/v1/inbox").json()["messages"], 15, "the inbound SMS")
    check(len(got) == 1, "one inbound: %r" % got)
    i = got[0]
    check(set(i) == {"id", "from", "text", "received_at", "smsc_at", "parts", "iccid", "modem"},
          "inbox keys: %r" % sorted(i))
    check(i["from"] == "+33698765432" and i["text"] == text and i["parts"] == 1,
          "inbox row: %r" % i)
    check(i["modem"] == "m1" and i["iccid"] == iccid["m1"], "inbox SIM: %r" % i)
    check(TIME_RE.match(i["received_at"]), "received_at: %r" % i)
    r = d.get("/v1/inbox?after=%d" % i["id"]).json()
    check(r["messages"] == [], "after the last id: %r" % r)
    r = d.get("/v1/inbox?since=%s" % i["received_at"]).json()
    check([x["id"] for x in r["messages"]] == [i["id"]], "since its own time: %r" % r)
    r = d.get("/v1/inbox?since=2100-01-01T00:00:00Z").json()
    check(r["messages"] == [], "since the future: %r" % r)


def check_unhealthy(h):
    """The only modem's port does not exist: 503 with a reason naming it."""
    ghost = Fake(h, "m9")
    d = h.daemon([(ghost, "sim800")]).start(wait_ready=False)
    time.sleep(0.5)
    r = d.get("/v1/health")
    check(r.status == 503, "health with no ready modem: %r" % r)
    b = r.json()
    check(b["status"] == "unavailable" and b["modems_ready"] == 0 and b["modems"] == 1,
          "503 body: %r" % b)
    check(len(b["reasons"]) >= 1 and any("m9" in x for x in b["reasons"]),
          "reasons name the modem: %r" % b)
    mods = d.get("/v1/modems").json()["modems"]
    check(len(mods) == 1 and mods[0]["id"] == "m9" and mods[0]["ready"] is False and
          mods[0]["state"] not in ("ready", "busy"), "m9 not ready: %r" % mods)
    s = metrics(d)
    check(m_get(s, "simgate_modem_ready", modem="m9") == 0, "metrics: m9 not ready")
    # Accepting still works: the message waits for a modem.
    b = submit(d, {"to": "+33612345678", "text": "waits for a modem"})
    check(msg(d, b["id"])["status"] == "queued", "queued without modems")
    d.stop()


def test(h):
    m1 = h.modemsim("m1", "sim800")
    m2 = h.modemsim("m2", "ec25")
    d = h.daemon([(m1, "sim800"), (m2, "ec25")]).start()
    check_health_ok(d)
    iccid = check_modems(d)
    sims0 = check_sims(d, iccid)
    check(all(s["sent_today"] == 0 and s["sent_total"] == 0 for s in sims0.values()),
          "fresh counters: %r" % sims0)

    logs = {"m1": m1.received, "m2": m2.received}
    for mid, text, nparts in check_submit_shapes(d):
        check_message(d, mid, text, nparts, iccid, logs)
    delivered = check_delivered(d, iccid)
    batch = check_paging(d)
    canceled = check_cancel(d, m1, m2)
    check_inbox(d, m1, iccid)

    # SIM counters add up to the parts the modemsims acknowledged.
    acked = {mid: sum(1 for x in logs[mid]() if x["result"] == "ok") for mid in logs}
    sims = check_sims(d, iccid)
    for mid in logs:
        s = sims[iccid[mid]]
        check(s["sent_today"] == acked[mid], "%s sent_today %r, modemsim acked %d" % (
            mid, s["sent_today"], acked[mid]))
    check(sum(acked.values()) == 5 + 2 + 1 + 25 + 2, "parts acked: %r" % acked)

    s = metrics(d)
    listed = d.get("/v1/messages?limit=1000").json()["messages"]
    for st in ("queued", "sending", "sent", "delivered", "canceled", "failed"):
        n = sum(1 for m in listed if m["status"] == st)
        check(m_get(s, "simgate_messages", state=st) == n,
              "metrics messages{state=%s} %r, list says %d" % (
                  st, m_get(s, "simgate_messages", state=st), n))
    check(m_get(s, "simgate_messages", state="canceled") == 1, "one canceled")
    check(m_get(s, "simgate_messages", state="sent") == 5 + 25 + 2, "sent count")
    check(m_get(s, "simgate_messages", state="delivered") == 1, "delivered count")
    for p in ("otp", "urgent", "normal", "bulk"):
        check(m_get(s, "simgate_queue_depth", priority=p) == 0, "queue empty at the end: %s" % p)
    for x in ("m1", "m2"):
        check(m_get(s, "simgate_modem_state", modem=x, state="ready") == 1, "%s ready" % x)
        check(m_get(s, "simgate_modem_ready", modem=x) == 1, "%s ready gauge" % x)
        check(m_get(s, "simgate_modem_signal_dbm", modem=x) is not None, "%s signal" % x)
    check((m_get(s, "simgate_api_responses_total", code="202") or 0) >= 5 + 1 + 25 + 3,
          "202s counted")
    check(batch and canceled and delivered, "sections ran")
    d.stop()

    check_unhealthy(h)


main(test)
