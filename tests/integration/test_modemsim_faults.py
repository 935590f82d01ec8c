"""modemsim faults, from flags and through the control socket, as a host on
the pty sees them: latency, +CMS ERROR by count and by rate, silence, garbage,
lost OK, reboot in the middle of a send, SIM missing, PIN/PUK, network lost
and regained, unplug/replug, CSMS=1 acknowledgements, MR wrap, bad control
requests.
"""
import os
import re
import shutil
import sys
import tempfile
import time

ROOT = os.environ.get("SG_ROOT", os.getcwd())
BUILD = os.environ.get("SG_BUILD", os.path.join(ROOT, "build"))
sys.path.insert(0, os.path.join(ROOT, "host-tools", "modemsim"))
from msclient import ModemSim  # noqa: E402

SUBMIT = "0011000B916407281553F80000AA0AE8329BFD4697D9EC37"  # REFERENCE §5.1, CMGS=23
TMP = None
COMMON = ["--boot-ms", "50", "--reg-ms", "50", "--cmgs-latency-ms", "0", "--seed", "3"]
if os.environ.get("MS_VERBOSE"):
    COMMON.append("--verbose")


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def start(profile="ec25", *args):
    sim = ModemSim(BUILD, profile, TMP, *(COMMON + list(args)), name="f%d" % time.monotonic_ns())
    p = sim.port()
    p.read_for(0.7)  # boot URCs
    p.sync()
    p.cmd("ATE0")
    p.cmd("AT+CMEE=1")
    return sim, p


def send(p, pdu=SUBMIT, n=23, timeout=3.0):
    p.write("AT+CMGS=%d\r" % n)
    p.read_until(rb"> ", 2)
    p.write(pdu + "\x1a")
    return p.read_until(rb"\r\n(OK|\+CMS ERROR: \d+)\r\n", timeout).decode()


def t_latency():
    sim, p = start("ec25", "--latency-ms", "250")
    try:
        t = time.monotonic()
        expect(p.cmd("AT") == "\r\nOK\r\n", "AT")
        expect(time.monotonic() - t >= 0.24, "generic latency")
        expect(sim.ctl({"cmd": "latency", "ms": 0, "cmgs_ms": 400})["ok"], "latency cmd")
        t = time.monotonic()
        r = send(p)
        dt = time.monotonic() - t
        expect(r == "\r\n+CMGS: 0\r\n\r\nOK\r\n" and dt >= 0.39, "CMGS latency %.2f %r" % (dt, r))
        # a command typed while the send is pending waits for it
        p.write("AT+CMGS=23\r")
        p.read_until(rb"> ")
        p.write(SUBMIT + "\x1aAT+CSQ\r")
        r = p.read_until(rb"\+CSQ: [^\r]*\r\n\r\nOK\r\n", 3).decode()
        expect(r.index("+CMGS: 1") < r.index("+CSQ"), "queued command order %r" % r)
    finally:
        sim.stop()


def t_cms_errors():
    sim, p = start("sim800", "--cms-error", "42", "--cms-count", "2")
    try:
        expect(send(p) == "\r\n+CMS ERROR: 42\r\n", "first forced error")
        expect(send(p) == "\r\n+CMS ERROR: 42\r\n", "second forced error")
        expect(send(p) == "\r\n+CMGS: 0\r\n\r\nOK\r\n", "third goes, MR not consumed by errors")
        expect(sim.ctl({"cmd": "cms_error", "code": 500, "rate": 1.0})["ok"], "rate")
        expect(send(p) == "\r\n+CMS ERROR: 500\r\n", "rate 1")
        sim.ctl({"cmd": "cms_error", "rate": 0.5})
        results = [send(p) for _ in range(40)]
        fails = sum("ERROR" in r for r in results)
        expect(8 <= fails <= 32, "rate 0.5 gave %d/40 failures" % fails)
        sim.ctl({"cmd": "cms_error", "rate": 0})
        expect("+CMGS:" in send(p), "rate 0")
        log = sim.log_lines()
        expect([e["result"] for e in log[:4]] == ["cms 42", "cms 42", "ok", "cms 500"],
               "log results %r" % log[:4])
        expect(log[0]["mr"] is None and log[2]["mr"] == 0, "log mr")
        st = sim.ctl({"cmd": "stats"})["stats"]
        expect(st["sends"] == 45 and st["sends_err"] == 3 + fails, st)
    finally:
        sim.stop()


def t_cms_rate_seeded():
    """The same seed gives the same failures."""
    runs = []
    for _ in range(2):
        sim, p = start("ec25", "--cms-rate", "0.5")
        try:
            runs.append(["ERROR" in send(p) for _ in range(12)])
        finally:
            sim.stop()
    expect(runs[0] == runs[1], "seeded runs differ: %r" % runs)


def t_silent_garbage_lost_ok():
    sim, p = start("ec25")
    try:
        sim.ctl({"cmd": "silent"})
        p.write("AT\r")
        expect(p.read_for(0.4) == b"", "silent answers nothing")
        sim.ctl({"cmd": "resume"})
        expect(p.cmd("AT") == "\r\nOK\r\n", "resume")
        sim.ctl({"cmd": "garbage", "bytes": 40})
        expect(len(p.read_for(0.3)) == 40, "40 garbage bytes")
        sim.ctl({"cmd": "garbage", "rate": 1.0})
        r = p.cmd("AT")
        expect(len(r) > len("\r\nOK\r\n") and r.endswith("\r\nOK\r\n"), "garbage before reply %r" % r)
        sim.ctl({"cmd": "garbage", "rate": 0})
        sim.ctl({"cmd": "lose_ok", "count": 2})
        p.write("AT\r")
        expect(p.read_for(0.3) == b"", "lost OK")
        p.write("AT+CSQ\r")
        expect(p.read_for(0.3) == b"\r\n+CSQ: 20,99\r\n", "lost OK after info")
        expect(p.cmd("AT") == "\r\nOK\r\n", "third OK comes")
        st = sim.ctl({"cmd": "stats"})["stats"]
        expect(st["lost_ok"] == 2 and st["garbage_bytes"] >= 41, st)
    finally:
        sim.stop()


def t_reboot_mid_send():
    sim, p = start("ec25", "--reboot-mid-send")
    try:
        p.write("AT+CMGS=23\r")
        p.read_until(rb"> ")
        p.write(SUBMIT + "\x1a")
        r = p.read_for(1.0).decode()
        expect("+CMGS" not in r and r.startswith("\r\nRDY\r\n"), "reboot URCs %r" % r)
        r = p.cmd("AT")
        expect(r == "AT\r\r\nOK\r\n", "echo back on: %r" % r)
        expect(p.cmd("AT+CMEE?").startswith("AT+CMEE?\r\r\n+CMEE: 0"), "CMEE forgotten")
        log = sim.log_lines()
        expect(len(log) == 1 and log[0]["result"] == "reboot" and 0 < len(log[0]["pdu"]) < 48,
               "log %r" % log)
        p.cmd("ATE0")
        expect(send(p) == "\r\n+CMGS: 0\r\n\r\nOK\r\n", "next send works")
        # at runtime too
        sim.ctl({"cmd": "reboot_mid_send"})
        p.write("AT+CMGS=23\r")
        p.read_until(rb"> ")
        p.write(SUBMIT + "\x1a")
        expect("RDY" in p.read_for(0.6).decode(), "runtime reboot_mid_send")
    finally:
        sim.stop()


def t_sim_missing():
    sim, p = start("sim800", "--sim-missing")
    try:
        expect(p.cmd("AT+CPIN?") == "\r\n+CME ERROR: 10\r\n", "CPIN? without SIM")
        expect(p.cmd("AT+CIMI") == "\r\n+CME ERROR: 10\r\n", "CIMI without SIM")
        p.write("AT+CMGS=23\r")
        expect(p.read_until(rb"\r\n\+CMS ERROR: \d+\r\n").decode() == "\r\n+CMS ERROR: 310\r\n",
               "CMGS without SIM")
        expect(p.cmd("AT+CREG?") == "\r\n+CREG: 0,0\r\n\r\nOK\r\n", "not registered")
        sim.ctl({"cmd": "sim_insert"})
        p.read_until(rb"\+CPIN: READY\r\n", 2)
        time.sleep(0.2)
        p.read_for(0.6)
        expect(p.cmd("AT+CREG?") == "\r\n+CREG: 0,1\r\n\r\nOK\r\n", "registered with SIM")
        sim.ctl({"cmd": "sim_missing"})
        expect(p.read_until(rb"\r\n\+CPIN: NOT INSERTED\r\n", 1), "NOT INSERTED URC")
    finally:
        sim.stop()


def t_pin_puk():
    sim, p = start("ec25", "--pin", "1234", "--puk", "87654321")
    try:
        expect(p.cmd("AT+CPIN?") == "\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n", "SIM PIN state")
        expect(p.cmd("AT+CIMI") == "\r\n+CME ERROR: 11\r\n", "CIMI needs the PIN")
        expect(p.cmd("AT+CREG?") == "\r\n+CREG: 0,0\r\n\r\nOK\r\n", "no registration locked")
        for _ in range(2):
            expect(p.cmd('AT+CPIN="0000"') == "\r\n+CME ERROR: 16\r\n", "wrong PIN")
        expect(p.cmd('AT+CPIN="0000"') == "\r\n+CME ERROR: 16\r\n", "third wrong PIN")
        r = p.read_until(rb"\+CPIN: SIM PUK\r\n", 1)
        expect(r, "PUK URC")
        expect(p.cmd("AT+CPIN?") == "\r\n+CPIN: SIM PUK\r\n\r\nOK\r\n", "SIM PUK state")
        expect(p.cmd('AT+CPIN="1234"') == "\r\n+CME ERROR: 12\r\n", "PIN while PUK locked")
        expect(p.cmd('AT+CPIN="11111111","4321"') == "\r\n+CME ERROR: 16\r\n", "wrong PUK")
        expect(p.cmd('AT+CPIN="87654321","4321"') == "\r\nOK\r\n", "PUK + new PIN")
        r = p.read_until(rb"\+QIND: PB DONE\r\n", 2).decode()
        expect(r.startswith("\r\n+CPIN: READY\r\n"), "READY URC after PUK %r" % r)
        time.sleep(0.15)
        expect(p.cmd("AT+CREG?") == "\r\n+CREG: 0,1\r\n\r\nOK\r\n", "registered after PUK")
        # the new PIN is asked again after a reset
        p.cmd("AT+CFUN=1,1")
        p.read_for(0.6)
        p.sync()
        p.cmd("ATE0")
        expect(p.cmd("AT+CPIN?") == "\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n", "locked after reboot")
        p.cmd("AT+CMEE=1")
        expect(p.cmd('AT+CPIN="4321"') == "\r\nOK\r\n", "new PIN works")
        # at runtime: pin_required
        expect(sim.ctl({"cmd": "pin_required", "pin": "9999"})["ok"], "pin_required")
        p.read_until(rb"\+CPIN: SIM PIN\r\n", 2)
        expect(p.cmd("AT+CPIN?").startswith("\r\n+CPIN: SIM PIN"), "runtime PIN")
        expect(not sim.ctl({"cmd": "pin_required"})["ok"], "pin_required needs a pin")
    finally:
        sim.stop()


def t_network():
    sim, p = start("ec25")
    try:
        p.cmd("AT+CREG=1")
        p.cmd("AT+CEREG=2")
        sim.ctl({"cmd": "network_lost"})
        r = p.read_until(rb"\+CEREG: 2\r\n", 1).decode()
        expect("\r\n+CREG: 2\r\n" in r, "lost URCs %r" % r)
        expect(p.cmd("AT+CSQ") == "\r\n+CSQ: 99,99\r\n\r\nOK\r\n", "CSQ while lost")
        expect(send(p) == "\r\n+CMS ERROR: 331\r\n", "send while lost")
        r = sim.ctl({"cmd": "inject_sms", "from": "+33699887766", "text": "x"})
        expect(not r["ok"] and "not registered" in r["error"], "inject while lost %r" % r)
        sim.ctl({"cmd": "network_regained"})
        r = p.read_until(rb'\+CEREG: 1,"1A2B","01C3F2A1",7\r\n', 1).decode()
        expect("\r\n+CREG: 1\r\n" in r, "regained URCs %r" % r)
        expect(send(p) == "\r\n+CMGS: 0\r\n\r\nOK\r\n", "send after regain")
        sim.ctl({"cmd": "network_lost", "stat": 3})
        expect(p.read_until(rb"\+CREG: 3\r\n", 1), "denied")
    finally:
        sim.stop()
    sim, p = start("sim7600", "--no-network")
    try:
        expect(p.cmd("AT+CREG?") == "\r\n+CREG: 0,2\r\n\r\nOK\r\n", "--no-network searching")
    finally:
        sim.stop()


def t_unplug():
    sim, p = start("ec25")
    try:
        old = os.readlink(sim.link)
        expect(sim.ctl({"cmd": "unplug"})["ok"], "unplug")
        time.sleep(0.1)
        expect(os.path.islink(sim.link), "link kept")
        try:  # the host sees EIO (hang-up) on its open port
            p.write("AT\r")
            data = p.read_for(0.3)
        except OSError:
            data = b""
        expect(data == b"", "no answer while unplugged: %r" % data)
        p.close()
        time.sleep(0.05)
        # The link keeps naming the old pty, which is gone (unless another
        # process on this machine got the same /dev/pts number meanwhile).
        expect(os.readlink(sim.link) == old, "link left alone while unplugged")
        if os.path.exists(sim.link):
            print("note: %s was reused by another process" % old)
        expect(sim.ctl({"cmd": "stats"})["state"]["plugged"] is False, "stats plugged")
        expect(sim.ctl({"cmd": "replug"})["ok"], "replug")
        time.sleep(0.1)
        new = os.readlink(sim.link)
        expect(os.path.exists(sim.link), "link re-pointed (%s -> %s)" % (old, new))
        p2 = sim.port()
        r = p2.read_for(0.7).decode()
        expect(r.startswith("\r\nRDY\r\n"), "boots after replug %r" % r)
        p2.sync()
        # unplug with automatic replug
        sim.ctl({"cmd": "unplug", "replug_ms": 200})
        p2.close()
        time.sleep(0.5)
        p3 = sim.port()
        p3.read_for(0.6)
        p3.sync()
        expect(sim.proc.stdout.readline().strip(), "new path printed")
    finally:
        sim.stop()


def t_cnma():
    sim, p = start("ec25", "--cnma-timeout-ms", "400")
    try:
        expect(p.cmd("AT+CSMS=1") == "\r\n+CSMS: 1,1,1\r\n\r\nOK\r\n", "CSMS=1")
        expect(p.cmd("AT+CNMA") == "\r\n+CMS ERROR: 340\r\n", "ack with nothing pending")
        p.cmd("AT+CNMI=2,2,0,0,0")
        r = sim.ctl({"cmd": "inject_sms", "from": "+33699887766", "text": "x" * 200})
        expect(r["parts"] == 2, r)
        expect(p.read_until(rb"\+CMT: ,\d+\r\n[0-9A-F]+\r\n", 1), "first part")
        expect(p.read_for(0.2) == b"", "second part waits for +CNMA")
        expect(p.cmd("AT+CNMA") == "\r\nOK\r\n", "ack")
        expect(p.read_until(rb"\+CMT: ,\d+\r\n[0-9A-F]+\r\n", 1), "second part after ack")
        time.sleep(0.6)  # no ack: the modem turns routing off
        expect(p.cmd("AT+CNMI?") == "\r\n+CNMI: 2,0,0,0,0\r\n\r\nOK\r\n", "CNMI reset")
        expect(sim.ctl({"cmd": "stats"})["stats"]["cnma_timeouts"] == 1, "cnma timeout counted")
    finally:
        sim.stop()


def t_mr_wrap_and_reports():
    sim, p = start("ec25", "--sr-delay-ms", "0", "--sr-status", "70")
    try:
        for i in range(257):
            r = send(p, "0031" + SUBMIT[4:] if i == 256 else SUBMIT)
            expect(r == "\r\n+CMGS: %d\r\n\r\nOK\r\n" % (i % 256), "MR %d: %r" % (i, r))
        p.cmd("AT+CNMI=2,1,0,1,0")
        sim.ctl({"cmd": "status_report", "mr": 7, "to": "+46708251358", "st": 0})
        r = p.read_until(rb"\+CDS: \d+\r\n[0-9A-F]+\r\n", 1).decode()
        pdu = r.split("\r\n")[-2]
        expect(re.search(r"^07913386094000F006070B91", pdu), "report MR 7 %r" % pdu)
        expect(pdu.endswith("00"), "TP-ST 0")
        sim.ctl({"cmd": "sr", "delay_ms": 0, "st": 70})
        send(p, "0031" + SUBMIT[4:])
        r = p.read_until(rb"\+CDS: \d+\r\n[0-9A-F]+\r\n", 1).decode()
        expect(r.split("\r\n")[-2].endswith("46"), "TP-ST 0x46 %r" % r)
    finally:
        sim.stop()


def t_prompt_variant_and_mr_start():
    sim, p = start("sim7600", "--prompt", "crlf", "--mr-start", "255", "--urc-crcrlf")
    try:
        for mr in (255, 0):
            p.write("AT+CMGS=23\r")
            expect(p.read_until(rb">\r\n", 2) == b"\r\n>\r\n", "SIM7670G-style prompt")
            p.write(SUBMIT + "\x1a")
            r = p.read_until(rb"OK\r\n").decode()
            expect(r == "\r\n+CMGS: %d\r\n\r\nOK\r\n" % mr, "MR %d: %r" % (mr, r))
        sim.ctl({"cmd": "urc", "text": "VOICE CALL: END: 000012"})
        expect(p.read_for(0.3) == b"\r\nVOICE CALL: END: 000012\r\r\n", "CR CR LF URC")
    finally:
        sim.stop()


def t_urc_inside_reply():
    sim, p = start("sim800")
    try:
        p.cmd("AT+CREG=1")
        expect(sim.ctl({"cmd": "urc", "text": "+CREG: 1", "mid_reply": True})["ok"], "urc")
        r = p.cmd("AT+CREG?")
        expect(r == "\r\n+CREG: 1,1\r\n\r\n+CREG: 1\r\n\r\nOK\r\n", "URC inside reply %r" % r)
        sim.ctl({"cmd": "urc", "text": "+CREG: 1", "mid_reply": True})
        expect(p.cmd("AT") == "\r\n+CREG: 1\r\n\r\nOK\r\n", "URC before a bare OK")
        sim.ctl({"cmd": "urc", "text": "UNDER-VOLTAGE WARNNING"})
        expect(p.read_until(rb"WARNNING\r\n", 1) == b"\r\nUNDER-VOLTAGE WARNNING\r\n", "URC now")
    finally:
        sim.stop()


def t_control_errors():
    sim, p = start("huawei")
    try:
        for req, what in (({"cmd": "nope"}, "unknown cmd"), ({"x": 1}, "missing"),
                          ({"cmd": "cms_error", "rate": 2}, "rate"),
                          ({"cmd": "inject_sms", "from": "+3361"}, "required"),
                          ({"cmd": "replug"}, "not unplugged")):
            r = sim.ctl(req)
            expect(not r["ok"] and what in r["error"], "%r -> %r" % (req, r))
        sim.sock.sendall(b"not json\n")
        r = sim.sockf.readline()
        expect(b'"ok":false' in r, "bad JSON %r" % r)
        p.cmd("AT^CURC=0")  # no ^RSSI in the middle of the reply below
        p.read_for(0.1)
        expect(p.cmd("AT+CHUP") == "\r\nCOMMAND NOT SUPPORT\r\n", "Huawei unknown command")
    finally:
        sim.stop()


TESTS = [t_latency, t_cms_errors, t_cms_rate_seeded, t_silent_garbage_lost_ok, t_reboot_mid_send,
         t_sim_missing, t_pin_puk, t_network, t_unplug, t_cnma, t_mr_wrap_and_reports,
         t_prompt_variant_and_mr_start, t_urc_inside_reply, t_control_errors]


def main():
    global TMP
    TMP = tempfile.mkdtemp(prefix="modemsim-faults.")
    t0 = time.monotonic()
    only = sys.argv[1:]
    ok = False
    try:
        for t in TESTS:
            if only and t.__name__ not in only:
                continue
            s = time.monotonic()
            t()
            print("%s: ok (%.1f s)" % (t.__name__, time.monotonic() - s))
        ok = True
    finally:
        if ok:
            shutil.rmtree(TMP, ignore_errors=True)
        else:
            print("modemsim logs kept in", TMP)
    print("faults checked in %.1f s" % (time.monotonic() - t0))


if __name__ == "__main__":
    main()
