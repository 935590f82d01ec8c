"""modemsim bring-up and SMS replies, per profile, byte for byte on its pty.

Each profile must print its own ready URCs (none from a SIM800 on autobaud
until the host's first AT), echo until ATE0, answer identity, SIM, network
and storage commands as the real module does, accept only the CNMI values
the module lists, send with the module's prompt, and deliver status reports
and inbound SMS as +CDS/+CDSI/+CMTI/+CMT per CNMI.
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

try:
    import gammu
except ImportError:
    gammu = None

# oFono unit/test-sms.c simple_submit, "hellohello", AT+CMGS=23 (REFERENCE §5.1)
SUBMIT = "0011000B916407281553F80000AA0AE8329BFD4697D9EC37"
SUBMIT_SRR = "0031" + SUBMIT[4:]  # same with TP-SRR

PROFILES = {
    "sim800": dict(
        boot=[], after_sync=["Call Ready", "SMS Ready"],
        cgmi="SIMCOM_Ltd", cgmm="SIMCOM_SIM800L", cgmr="Revision:1418B04SIM800L24",
        ati=["SIM800 R14.18"], imei="869988012345670",
        iccid=("AT+CCID", "8933012405123456783"), cnum='+CNUM: "","+33612345670",145',
        creg2='+CREG: 2,1,"1A2B","3C4D"', cereg=False, csq="+CSQ: 20,0",
        cops='+COPS: 0,0,"Orange F"', cpms='+CPMS: "SM",0,30,"SM",0,30,"SM",0,30',
        cnmi_ok=["2,1,0,1,0", "2,2,0,1,0"], cnmi_bad=["2,1,0,2,0", "2,1,2,2,0"],
        unknown="ERROR", esc_ok=False, first_idx=1, cmt_alpha='""', cdsi_mem="SM"),
    "sim7600": dict(
        boot=["RDY", "+CPIN: READY", "SMS DONE", "PB DONE"], after_sync=[],
        cgmi="SIMCOM INCORPORATED", cgmm="SIMCOM_SIM7600E-H", cgmr="+CGMR: LE20B04SIM7600M22",
        ati=["Manufacturer: SIMCOM INCORPORATED", "Model: SIMCOM_SIM7600E-H",
             "Revision: SIM7600M22_V2.0", "IMEI: 862227031234566", "+GCAP: +CGSM"],
        imei="862227031234566", iccid=("AT+CICCID", "+ICCID: 8933012405123456791"),
        cnum='+CNUM: "","+33612345671",145',
        creg2='+CREG: 2,1,"1A2B","01C3F2A1",7', cereg=True, csq="+CSQ: 20,99",
        cops='+COPS: 0,0,"Orange F",7', cpms='+CPMS: "SM",0,30,"SM",0,30,"SM",0,30',
        cnmi_ok=["2,1,0,1,0", "2,1,2,2,0"], cnmi_bad=["3,1,0,1,0"],
        unknown="ERROR", esc_ok=True, first_idx=0, cmt_alpha='""', cdsi_mem="SR"),
    "ec25": dict(
        boot=["RDY", "+CFUN: 1", "+CPIN: READY", "+QUSIM: 1", "+QIND: SMS DONE",
              "+QIND: PB DONE"], after_sync=[],
        cgmi="Quectel", cgmm="EC25", cgmr="EC25EFAR06A06M4G",
        ati=["Quectel", "EC25", "Revision: EC25EFAR06A06M4G"], imei="861675039876542",
        iccid=("AT+QCCID", "+QCCID: 8933012405123456809"), cnum='+CNUM: ,"+33612345672",145',
        creg2='+CREG: 2,1,"1A2B","01C3F2A1",7', cereg=True, csq="+CSQ: 20,99",
        cops='+COPS: 0,0,"Orange F",7', cpms='+CPMS: "ME",0,50,"ME",0,50,"ME",0,50',
        cnmi_ok=["2,1,0,1,0", "2,1,2,2,0"], cnmi_bad=["3,1,0,1,0"],
        unknown="ERROR", esc_ok=True, first_idx=0, cmt_alpha="", cdsi_mem="ME"),
    "huawei": dict(
        boot=[], after_sync=[],
        cgmi="huawei", cgmm="E173", cgmr="11.126.85.00.209",
        ati=["Manufacturer: huawei", "Model: E173", "Revision: 11.126.85.00.209",
             "IMEI: 351423045678900", "+GCAP: +CGSM,+DS,+ES"],
        imei="351423045678900", iccid=("AT^ICCID?", "^ICCID: 983310425021436518F7"),
        cnum=None, creg2='+CREG: 2,1,"1A2B","3C4D"', cereg=False, csq="+CSQ: 20,99",
        cops='+COPS: 0,0,"Orange F",2', cpms='+CPMS: "SM",0,30,"SM",0,30,"SM",0,30',
        cnmi_ok=["2,1,2,2,0", "2,2,0,0,0"], cnmi_bad=["2,1,0,1,0", "2,1,2,1,0"],
        unknown="COMMAND NOT SUPPORT", esc_ok=False, first_idx=0, cmt_alpha="",
        cdsi_mem="SM"),
}


def lines(reply):
    """Information lines of a reply (without echo and final result)."""
    out = [ln for ln in reply.split("\r\n") if ln]
    return out


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def info(port, cmd):
    reply = port.cmd(cmd)
    expect(reply.endswith("\r\nOK\r\n"), "%s: no OK in %r" % (cmd, reply))
    return lines(reply)[:-1]


def check_profile(name, exp, tmp):
    sim = ModemSim(BUILD, name, tmp, "--boot-ms", "100", "--urc-period-ms", "150",
                   "--sr-delay-ms", "100", "--sr-status", "48", "--cmgs-latency-ms", "20",
                   name=name)
    try:
        p = sim.port()
        # ---- ready URCs, in order
        boot = p.read_for(0.4 if name == "sim800" else 0.75).decode()
        got = lines(boot)
        if name == "huawei":
            expect(got and all(re.match(r"\^(RSSI:\d+|BOOT:[\d,]+|MODE:[\d,]+)$", g) for g in got),
                   "huawei periodic URCs: %r" % got)
            expect(any(g.startswith("^RSSI:") for g in got), "no ^RSSI in %r" % got)
        else:
            expect(got == exp["boot"], "%s boot URCs %r, want %r" % (name, got, exp["boot"]))
        # ---- echo on after boot, off after ATE0
        p.write("AT\r")
        r = p.read_until(rb"OK\r\n").decode()
        # (Huawei's periodic URCs may come just before the echo)
        expect(r.endswith("AT\r\r\nOK\r\n"), "%s: echo of AT: %r" % (name, r))
        if exp["after_sync"]:
            late = lines(p.read_for(0.6).decode())
            expect(late == exp["after_sync"], "%s after sync: %r" % (name, late))
        expect(p.cmd("ATE0").endswith("ATE0\r\r\nOK\r\n"), "ATE0 is echoed")
        if name == "huawei":
            expect(p.cmd("AT^CURC=0") == "\r\nOK\r\n", "AT^CURC=0")
            p.read_for(0.2)
            expect(p.read_for(0.4) == b"", "huawei URCs after ^CURC=0")
        expect(p.cmd("AT") == "\r\nOK\r\n", "%s: AT after ATE0" % name)
        # ---- identity
        expect(info(p, "AT+CGMI") == [exp["cgmi"]], "CGMI")
        expect(info(p, "AT+CGMM") == [exp["cgmm"]], "CGMM")
        expect(info(p, "AT+CGMR") == [exp["cgmr"]], "CGMR")
        expect(info(p, "ATI") == exp["ati"], "ATI %r" % info(p, "ATI"))
        expect(info(p, "AT+CGSN") == [exp["imei"]], "CGSN")
        expect(info(p, exp["iccid"][0]) == [exp["iccid"][1]], "ICCID %r" % info(p, exp["iccid"][0]))
        expect(len(info(p, "AT+CIMI")[0]) == 15, "CIMI")
        expect(info(p, "AT+CNUM") == ([exp["cnum"]] if exp["cnum"] else []), "CNUM")
        # ---- errors
        expect(p.cmd("AT+CMEE=1") == "\r\nOK\r\n", "CMEE=1")
        expect(p.cmd("AT+XYZZY") == "\r\n%s\r\n" % exp["unknown"], "unknown command")
        expect(p.cmd('AT+CPIN="1234"') == "\r\n+CME ERROR: 3\r\n", "PIN when ready")
        expect(p.cmd("AT+CMEE=2") == "\r\nOK\r\n", "CMEE=2")
        expect(p.cmd('AT+CPIN="1234"') == "\r\n+CME ERROR: operation not allowed\r\n", "verbose")
        expect(p.cmd("AT+CMEE=1") == "\r\nOK\r\n", "CMEE=1")
        expect(info(p, "AT+CPIN?") == ["+CPIN: READY"], "CPIN?")
        # ---- network
        expect(p.cmd("AT+CREG=2") == "\r\nOK\r\n", "CREG=2")
        expect(info(p, "AT+CREG?") == [exp["creg2"]], "CREG? %r" % info(p, "AT+CREG?"))
        r = p.cmd("AT+CEREG?")
        expect(("OK" in r) == exp["cereg"], "CEREG support: %r" % r)
        expect(info(p, "AT+CSQ") == [exp["csq"]], "CSQ")
        expect(info(p, "AT+COPS?") == [exp["cops"]], "COPS %r" % info(p, "AT+COPS?"))
        expect(info(p, "AT+CFUN?") == ["+CFUN: 1"], "CFUN?")
        # ---- SMS settings
        expect(info(p, "AT+CMGF=0") == [], "CMGF=0")
        expect(p.cmd("AT+CMGF=1").startswith("\r\n+CMS ERROR: 303"), "text mode refused")
        expect(info(p, "AT+CPMS?") == [exp["cpms"]], "CPMS? %r" % info(p, "AT+CPMS?"))
        expect(info(p, "AT+CSCA?") == ['+CSCA: "+33689004000",145'], "CSCA")
        for v in exp["cnmi_bad"]:
            expect(p.cmd("AT+CNMI=" + v) == "\r\n+CMS ERROR: 303\r\n", "CNMI=%s refused" % v)
        for v in exp["cnmi_ok"]:
            expect(p.cmd("AT+CNMI=" + v) == "\r\nOK\r\n", "CNMI=%s accepted" % v)
            expect(info(p, "AT+CNMI?") == ["+CNMI: " + v], "CNMI? after " + v)
        ds = int(exp["cnmi_ok"][0].split(",")[3])
        p.cmd("AT+CNMI=" + exp["cnmi_ok"][0])
        # ---- send: exact prompt, MR counts up, status report per ds
        for mr in (0, 1):
            p.write("AT+CMGS=23\r")
            expect(p.read_until(rb"> ", 2) == b"\r\n> ", "%s prompt" % name)
            p.write(SUBMIT_SRR + "\x1a")
            r = p.read_until(rb"OK\r\n|ERROR[^\r]*\r\n").decode()
            expect(r == "\r\n+CMGS: %d\r\n\r\nOK\r\n" % mr, "CMGS reply %r" % r)
            if ds == 1:
                r = p.read_until(rb"\+CDS: \d+\r\n[0-9A-F]+\r\n", 2).decode()
                hexpdu = r.split("\r\n")[-2]
                if gammu:
                    d = gammu.DecodePDU(bytes.fromhex(hexpdu), SMSC=True)
                    expect(d["Type"] == "Status_Report" and d["MessageReference"] == mr,
                           "CDS decode %r" % d)
                    expect(d["Number"] == "+46708251358", "CDS recipient %r" % d["Number"])
            else:
                r = p.read_until(rb'\+CDSI: "\w+",\d+\r\n', 2).decode()
                m = re.search(r'\+CDSI: "(\w+)",(\d+)', r)
                expect(m.group(1) == exp["cdsi_mem"], "CDSI memory %r" % r)
        log = sim.log_lines()
        expect([e["mr"] for e in log] == [0, 1] and all(e["result"] == "ok" for e in log),
               "PDU log %r" % log)
        expect(log[0]["pdu"] == SUBMIT_SRR and log[0]["len"] == 23 and log[0]["profile"] == name,
               "PDU log line %r" % log[0])
        # ---- wrong length and ESC
        p.write("AT+CMGS=22\r")
        p.read_until(rb"> ")
        p.write(SUBMIT + "\x1a")
        expect(p.read_until(rb"ERROR: \d+\r\n").decode() == "\r\n+CMS ERROR: 304\r\n", "len 22")
        p.write("AT+CMGS=23\r")
        p.read_until(rb"> ")
        p.write("0011\x1b")
        r = p.read_for(0.3)
        expect(r == (b"\r\nOK\r\n" if exp["esc_ok"] else b""), "ESC reply %r" % r)
        expect([e["result"] for e in sim.log_lines()][2:] == ["cms 304", "cancel"], "log results")
        # ---- inbound: stored, read, deleted; then direct
        p.cmd("AT+CNMI=2,1,0,0,0")
        p.cmd("AT+CMGD=%d,4" % exp["first_idx"])
        r = sim.ctl({"cmd": "inject_sms", "from": "+33699887766", "text": "stored one"})
        expect(r["ok"] and r["parts"] == 1, r)
        r = p.read_until(rb'\+CMTI: "\w+",\d+\r\n').decode()
        idx = int(re.search(r",(\d+)", r).group(1))
        expect(idx == exp["first_idx"], "first index %d" % idx)
        got = info(p, "AT+CMGR=%d" % idx)
        expect(got[0] == "+CMGR: 0,%s,%d" % (exp["cmt_alpha"], (len(got[1]) - 16) // 2),
               "CMGR header %r" % got)
        if gammu:
            d = gammu.DecodePDU(bytes.fromhex(got[1]), SMSC=True)
            expect(d["Text"] == "stored one" and d["Number"] == "+33699887766", d)
        expect(info(p, "AT+CMGR=%d" % idx)[0].startswith("+CMGR: 1,"), "read after CMGR")
        expect(len(info(p, "AT+CMGL=4")) == 2, "CMGL lists one message")
        info(p, "AT+CMGD=%d" % idx)
        expect(info(p, "AT+CMGL=4") == [], "CMGL after CMGD")
        p.cmd("AT+CNMI=" + ("2,2,0,0,0" if name != "sim800" else "2,2,0,0,0"))
        sim.ctl({"cmd": "inject_sms", "from": "+33699887766", "text": "direct one"})
        r = p.read_until(rb"\+CMT: [^\r]*\r\n[0-9A-F]+\r\n").decode()
        expect(r.startswith("\r\n+CMT: %s," % exp["cmt_alpha"]), "CMT header %r" % r)
        # ---- reboot: OK, then echo is back and boot URCs come again
        expect(p.cmd("AT+CFUN=1,1") == "\r\nOK\r\n", "CFUN=1,1")
        time.sleep(0.5)
        p.read_for(0.1)
        p.sync()
        p.read_for(0.8)  # the rest of the boot URCs
        r = p.cmd("AT")
        expect(r == "AT\r\r\nOK\r\n", "%s: echo back after reboot: %r" % (name, r))
        st = sim.ctl({"cmd": "stats"})
        expect(st["ok"] and st["stats"]["reboots"] == 1 and st["state"]["cmee"] == 0, st)
    finally:
        sim.stop()


def main():
    tmp = tempfile.mkdtemp(prefix="modemsim-prof.")
    t0 = time.monotonic()
    try:
        for name, exp in PROFILES.items():
            check_profile(name, exp, tmp)
            print("%s: ok" % name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("profiles checked in %.1f s" % (time.monotonic() - t0))


if __name__ == "__main__":
    main()
