"""simpool send against modemsim: the whole send path of the modem layer
(modem_port + at_chan + the state machine + the PDU encoder) on every
profile, with modemsim's PDU log as the witness and python3-gammu (when
installed) as the independent decoder.

Per profile: a one-part GSM-7 text and a 3-part text with --report must be
accepted (one MR per part), logged by modemsim as valid PDUs that decode to
the text, and reported delivered. Faults: +CMS ERROR 42 (retry-now), 304
(permanent), a status report with TP-ST 0x46 (undelivered), a reboot in the
middle of the PDU (outcome unknown), and a SIM that needs a PIN.
"""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.environ.get("SG_ROOT", os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
BUILD = os.environ.get("SG_BUILD", os.path.join(ROOT, "build"))
sys.path.insert(0, os.path.join(ROOT, "host-tools", "modemsim"))

for tool in ("simpool", "modemsim"):
    if not os.access(os.path.join(BUILD, tool), os.X_OK):
        print("skip: %s/%s not built" % (BUILD, tool))
        sys.exit(77)

from msclient import ModemSim  # noqa: E402

try:
    import gammu
except ImportError:
    gammu = None

SIMPOOL = os.path.join(BUILD, "simpool")
DEST = "+33612345678"
SHORT = "hello from simpool"
LONG = " ".join("part%d" % i for i in range(60))   # > 306 GSM-7 chars: 3 parts
failures = []


def check(name, cond, detail=""):
    if cond:
        print("ok   %s" % name)
    else:
        print("FAIL %s %s" % (name, detail))
        failures.append(name)


def send(port, text, *args, timeout=20):
    cmd = [SIMPOOL, "send", port, "--to", DEST, "--text", text, "--json",
           "--timeout", str(timeout)] + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 30)
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        doc = None
    return p.returncode, doc, p.stderr


def gammu_text(pdus):
    """Joins the texts of SUBMIT PDUs (hex with SMSC field) as gammu decodes them."""
    out = []
    for hexpdu in pdus:
        sms = gammu.DecodePDU(bytes.fromhex(hexpdu), SMSC=True)
        check("gammu: PDU is a SUBMIT to %s" % DEST, sms["Number"] == DEST, sms["Number"])
        out.append(sms["Text"])
    return "".join(out)


def test_profiles(tmp):
    for prof in ("sim800", "sim7600", "ec25", "huawei"):
        with ModemSim(BUILD, prof, tmp, "--sr-delay-ms", "200", name="s-" + prof) as sim:
            rc, doc, err = send(sim.link, SHORT)
            check("%s: one part: exit 0" % prof, rc == 0, err)
            check("%s: one part: an MR" % prof, doc and len(doc["parts"]) == 1 and
                  doc["parts"][0]["mr"] is not None, doc)
            rc, doc, err = send(sim.link, LONG, "--report")
            check("%s: 3 parts with reports: exit 0" % prof, rc == 0, err)
            if doc:
                check("%s: 3 parts" % prof, len(doc["parts"]) == 3, doc)
                mrs = [p["mr"] for p in doc["parts"]]
                check("%s: distinct MRs" % prof, len(set(mrs)) == 3, mrs)
                check("%s: every part delivered" % prof,
                      all(p["status"] == "delivered" and p["tp_st"] == 0 for p in doc["parts"]),
                      doc["parts"])
            log = [e for e in sim.log_lines() if e.get("result", "ok") == "ok"]
            check("%s: modemsim logged 4 PDUs" % prof, len(log) == 4, log)
            if gammu and len(log) == 4:
                check("%s: gammu decodes the short text" % prof,
                      gammu_text([log[0]["pdu"]]) == SHORT)
                check("%s: gammu joins the 3 parts to the long text" % prof,
                      gammu_text([e["pdu"] for e in log[1:]]) == LONG)


def test_faults(tmp):
    with ModemSim(BUILD, "ec25", tmp, "--cms-error", "42", "--cms-count", "1", name="c42") as sim:
        rc, doc, err = send(sim.link, SHORT)
        check("CMS 42: exit 1", rc == 1)
        check("CMS 42: classified retry-now", doc and doc["parts"][0]["error_class"] == "retry-now"
              and doc["parts"][0]["error_code"] == 42, doc)
        check("CMS 42: reason line", "part 1 of 1: CMS 42 (retry-now)" in err, err)
        rc, doc, err = send(sim.link, SHORT)
        check("CMS 42 once: the next send works", rc == 0, err)
    with ModemSim(BUILD, "sim800", tmp, "--cms-error", "304", "--cms-count", "9", name="c304") as sim:
        rc, doc, err = send(sim.link, LONG)
        check("CMS 304: exit 1, permanent", rc == 1 and doc and
              doc["parts"][0]["error_class"] == "permanent", doc)
        check("CMS 304: the first failure stops the rest",
              doc and all(not p["sent"] for p in doc["parts"]) and
              len([e for e in sim.log_lines()]) <= 1, sim.log_lines())
    with ModemSim(BUILD, "sim7600", tmp, "--sr-delay-ms", "200", "--sr-status", "70",
                  name="sr46") as sim:
        rc, doc, err = send(sim.link, SHORT, "--report")
        check("TP-ST 0x46: exit 1", rc == 1, err)
        check("TP-ST 0x46: reported permanent", doc and doc["parts"][0]["tp_st"] == 0x46 and
              doc["parts"][0]["status"] == "permanent", doc)
        check("TP-ST 0x46: reason line", "not delivered (TP-ST 0x46" in err, err)
    with ModemSim(BUILD, "ec25", tmp, "--reboot-mid-send", name="reboot") as sim:
        rc, doc, err = send(sim.link, SHORT)
        check("reboot mid-send: exit 1", rc == 1, err)
        check("reboot mid-send: outcome unknown", doc and
              doc["parts"][0]["error_class"] == "unknown", doc)
    with ModemSim(BUILD, "huawei", tmp, "--pin", "2468", name="pin") as sim:
        rc, doc, err = send(sim.link, SHORT, "--pin", "2468")
        check("PIN SIM (Huawei) with --pin: exit 0", rc == 0, err)
    with ModemSim(BUILD, "sim800", tmp, "--sim-missing", name="nosim") as sim:
        rc, doc, err = send(sim.link, SHORT, timeout=8)
        check("no SIM: exit 1 with reason", rc == 1 and "no SIM" in err, err)
        check("no SIM: nothing sent", sim.log_lines() == [], sim.log_lines())
    p = subprocess.run([SIMPOOL, "send", "/dev/null", "--to", "12ab", "--text", "x"],
                       capture_output=True, text=True)
    check("bad number: exit 2 before touching the port", p.returncode == 2, p.stderr)


def main():
    with tempfile.TemporaryDirectory(prefix="simpool-send.") as tmp:
        test_profiles(tmp)
        test_faults(tmp)
    if failures:
        print("%d check(s) failed: %s" % (len(failures), ", ".join(failures)))
        return 1
    print("all simpool send checks passed" + ("" if gammu else " (gammu not installed: PDUs not cross-decoded)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
