"""Realism check: Debian's gammu-smsd (files backend) against modemsim.

For each profile: messages queued with gammu-smsd-inject (a short GSM-7 text
with a delivery report requested, a UCS-2 text and a multipart text) must
reach modemsim's PDU log, each PDU must decode with python3-gammu
(gammu.DecodePDU) and the parts must join to the queued texts; the status
report modemsim sends back must reach gammu as "Delivered"; an SMS injected
into modemsim (one part and two parts) must land in gammu's inbox with its
text and sender.

Delivery reports take three routes here: SIM800 as +CDS (CNMI ds=1), EC25 and
Huawei stored and listed by gammu's storage poll. SIM7600 stores them in its
"SR" memory with +CDSI: "SR",<i>; gammu 1.42 logs the +CDSI but never reads
SR (it polls SM and ME only), so that check is skipped for SIM7600: a host
must read SR itself (AT+CPMS="SR").
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.environ.get("SG_ROOT", os.getcwd())
BUILD = os.environ.get("SG_BUILD", os.path.join(ROOT, "build"))
sys.path.insert(0, os.path.join(ROOT, "host-tools", "modemsim"))
from msclient import ModemSim  # noqa: E402

try:
    import gammu
except ImportError:
    print("skip: python3-gammu is not installed")
    sys.exit(77)
for tool in ("gammu-smsd", "gammu-smsd-inject"):
    if not shutil.which(tool):
        print("skip: %s is not installed" % tool)
        sys.exit(77)

# Two profiles per script keep each under a minute (gammu-smsd needs ~5 s to
# start and ~1 s per part); test_modemsim_gammu_more.py runs the other two.
PROFILES = ["sim800", "ec25"]
DEST = "+33612345678"
OUT_TEXTS = [
    "hello from gammu",
    "Привет, мир! ünïcödé",
    " ".join("part%d" % i for i in range(70)),   # ~410 chars: 3 GSM-7 parts
]
IN_SHORT = "ping from the network"
IN_LONG = "long inbound " * 20                      # 260 chars: 2 parts

CONFIG = """[gammu]
device = {link}
connection = at19200
logfile = {d}/gammu.log
logformat = textall

[smsd]
service = files
inboxpath = {d}/inbox/
outboxpath = {d}/outbox/
sentsmspath = {d}/sent/
errorsmspath = {d}/error/
logfile = {d}/smsd.log
debuglevel = 1
checksecurity = 0
checkbattery = 0
checksignal = 0
commtimeout = 1
sendtimeout = 20
receivefrequency = 1
statusfrequency = 0
loopsleep = 1
deliveryreport = log
multiparttimeout = 10
"""


def wait_for(pred, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


def joined_texts(log):
    """Texts of the sent PDUs, multipart parts joined by (ref, seq)."""
    singles, multi = [], {}
    for e in log:
        if e["result"] != "ok":
            continue
        d = gammu.DecodePDU(bytes.fromhex(e["pdu"]), SMSC=True)
        assert d["Type"] == "Submit", d
        assert d["Number"] == DEST, d["Number"]
        udh = d["UDH"]
        if udh["AllParts"] > 1:
            key = (udh["ID8bit"], udh["ID16bit"], udh["AllParts"])
            multi.setdefault(key, {})[udh["PartNumber"]] = d["Text"]
        else:
            singles.append(d["Text"])
    for parts in multi.values():
        singles.append("".join(parts[k] for k in sorted(parts)))
    return singles


def inbox_texts(d):
    out = []
    for name in sorted(os.listdir(os.path.join(d, "inbox"))):
        with open(os.path.join(d, "inbox", name), encoding="utf-8", errors="replace") as f:
            out.append((name, f.read()))
    return out


def run_profile(profile, base):
    d = os.path.join(base, profile)
    for sub in ("inbox", "outbox", "sent", "error"):
        os.makedirs(os.path.join(d, sub))
    sim = ModemSim(BUILD, profile, d, "--seed", "7", "--boot-ms", "100", "--sr-delay-ms", "200")
    smsd = None
    try:
        cfg = os.path.join(d, "smsdrc")
        with open(cfg, "w") as f:
            f.write(CONFIG.format(link=sim.link, d=d))
        for text in OUT_TEXTS:
            args = ["gammu-smsd-inject", "-c", cfg, "TEXT", DEST, "-text", text]
            if len(text) > 160:
                args.append("-len")
                args.append(str(len(text)))
            if any(ord(c) > 0x7F for c in text):
                args.append("-unicode")
            if text == OUT_TEXTS[0]:
                args.append("-report")
            subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        smsd = subprocess.Popen(["gammu-smsd", "-c", cfg], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        wait_for(lambda: len(os.listdir(os.path.join(d, "sent"))) == len(OUT_TEXTS)
                 or os.listdir(os.path.join(d, "error")), 25, profile + ": gammu sends")
        errors = os.listdir(os.path.join(d, "error"))
        assert not errors, "%s: gammu put messages in error/: %s" % (profile, errors)
        got = joined_texts(sim.log_lines())
        assert sorted(got) == sorted(OUT_TEXTS), "%s: sent %r, modemsim got %r" % (
            profile, OUT_TEXTS, got)
        if profile != "sim7600":
            def delivered():
                with open(os.path.join(d, "smsd.log"), errors="replace") as f:
                    return "Delivery report: Delivered to " + DEST in f.read()
            wait_for(delivered, 15, profile + ": gammu reads the status report")

        r = sim.ctl({"cmd": "inject_sms", "from": "+33699887766", "text": IN_SHORT})
        assert r["ok"] and r["parts"] == 1, r
        r = sim.ctl({"cmd": "inject_sms", "from": "+33699887766", "text": IN_LONG})
        assert r["ok"] and r["parts"] == 2, r

        def inbox_complete():
            return "".join(t for _, t in inbox_texts(d)).count("long inbound") == 20
        wait_for(inbox_complete, 20, profile + ": gammu inbox")
        texts = inbox_texts(d)
        assert all("+33699887766" in name for name, _ in texts), texts
        joined = "".join(t for _, t in texts)
        assert IN_SHORT in joined, texts
        assert joined.count(IN_SHORT) == 1, "%s: duplicate inbound: %r" % (profile, texts)
        stats = sim.ctl({"cmd": "stats"})["stats"]
        print("%s: ok (sent %d PDUs, %d commands, %d unknown, last unknown %s)" % (
            profile, stats["sends_ok"], stats["commands"], stats["unknown"],
            stats["last_unknown"] or "-"))
    finally:
        if smsd is not None and smsd.poll() is None:
            smsd.send_signal(signal.SIGTERM)
            try:
                smsd.wait(5)
            except subprocess.TimeoutExpired:
                smsd.kill()
                smsd.wait()
        sim.stop()


def main(profiles):
    base = tempfile.mkdtemp(prefix="modemsim-gammu.")
    start = time.monotonic()
    ok = False
    try:
        for p in profiles:
            run_profile(p, base)
        ok = True
    finally:
        if ok:
            shutil.rmtree(base, ignore_errors=True)
        else:
            print("logs kept in", base)
    print("gammu realism: %s in %.1f s" % (", ".join(profiles), time.monotonic() - start))


if __name__ == "__main__":
    main(os.environ.get("MS_PROFILES", " ".join(PROFILES)).split())
