"""simpool probe against modemsim: every profile, then every fault.

For each case a modemsim plays the modem on a pty (its --link in a temp dir),
`simpool probe --json` brings it up, and the test checks the exit code, the
JSON fields and the one-line reason on stderr. Faults come from modemsim's
flags (silent, garbage, SIM missing, PIN, no network) or, for "network lost"
after a good bring-up, from its control socket.
"""
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.environ.get("SG_ROOT", os.path.abspath(os.path.join(os.path.dirname(__file__), "../..")))
BUILD = os.environ.get("SG_BUILD", os.path.join(ROOT, "build"))
sys.path.insert(0, os.path.join(ROOT, "host-tools", "modemsim"))

for tool in ("simpool", "modemsim"):
    if not os.access(os.path.join(BUILD, tool), os.X_OK):
        print("skip: %s/%s not built" % (BUILD, tool))
        sys.exit(77)

from msclient import ModemSim  # noqa: E402

SIMPOOL = os.path.join(BUILD, "simpool")
failures = []


def probe(ports, *args, timeout=20):
    cmd = [SIMPOOL, "probe", "--json", "--timeout", str(timeout)] + list(args) + list(ports)
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 30)
    took = time.monotonic() - t0
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        doc = None
    return p.returncode, doc, p.stderr, took


def check(name, cond, detail=""):
    if cond:
        print("ok   %s" % name)
    else:
        print("FAIL %s %s" % (name, detail))
        failures.append(name)


PROFILES = {
    # profile: (manufacturer, model, imei, iccid, msisdn)
    "sim800": ("SIMCOM_Ltd", "SIMCOM_SIM800L", "869988012345670", "8933012405123456783",
               "+33612345670"),
    "sim7600": ("SIMCOM INCORPORATED", "SIMCOM_SIM7600E-H", "862227031234566",
                "8933012405123456791", "+33612345671"),
    "ec25": ("Quectel", "EC25", "861675039876542", "8933012405123456809", "+33612345672"),
    "huawei": ("huawei", "E173", "351423045678900", "8933012405123456817", None),
}


def test_profiles(tmp):
    sims = []
    try:
        for prof in PROFILES:
            sims.append(ModemSim(BUILD, prof, tmp, "--rssi", "14", name=prof))
        # auto-identification, all four in parallel
        rc, doc, err, took = probe([s.link for s in sims])
        check("profiles: exit 0 when every port is ready", rc == 0, "rc=%d err=%s" % (rc, err))
        check("profiles: JSON names its class", doc is not None and doc.get("class") == "probe")
        if doc is None:
            return
        check("profiles: top-level ready", doc["ready"] is True)
        for s, port in zip(PROFILES, doc["ports"]):
            man, model, imei, iccid, msisdn = PROFILES[s]
            tag = "profiles/%s" % s
            check(tag + ": ready", port["ready"] and port["state"] == "ready", port)
            check(tag + ": vendor identified from ATI", port["vendor"] == s, port["vendor"])
            check(tag + ": manufacturer/model", (port["manufacturer"], port["model"]) == (man, model),
                  (port["manufacturer"], port["model"]))
            check(tag + ": IMEI", port["imei"] == imei, port["imei"])
            check(tag + ": ICCID", port["iccid"] == iccid, port["iccid"])
            check(tag + ": IMSI present", bool(port["imsi"]), port["imsi"])
            check(tag + ": MSISDN", port["msisdn"] == msisdn, port["msisdn"])
            check(tag + ": PIN state", port["pin_state"] == "READY", port["pin_state"])
            check(tag + ": registered", port["registration"] in ("home", "roaming"),
                  port["registration"])
            check(tag + ": operator", port["operator"] == "Orange F", port["operator"])
            check(tag + ": signal -85 dBm workable", (port["signal_dbm"], port["signal_band"]) ==
                  (-85, "workable"), (port["signal_dbm"], port["signal_band"]))
            check(tag + ": SMSC", port["smsc"] == "+33689004000", port["smsc"])
            check(tag + ": firmware", bool(port["firmware"]), port["firmware"])
        check("profiles: parallel bring-up is quick", took < 10, "%.1fs" % took)
        # the same, with the vendor forced, text output
        for s in sims:
            p = subprocess.run([SIMPOOL, "probe", "--vendor", s.link.split("/")[-1].split(".")[0],
                                "--timeout", "15", s.link], capture_output=True, text=True,
                               timeout=40)
            prof = os.path.basename(s.link).split(".")[0]
            check("text/%s: exit 0 and 'ready'" % prof,
                  p.returncode == 0 and (s.link + ": ready") in p.stdout, p.stdout + p.stderr)
            check("text/%s: IMEI shown" % prof, PROFILES[prof][2] in p.stdout, p.stdout)
    finally:
        for s in sims:
            s.stop()


# name, profile, modemsim flags, probe args, probe timeout, expected reason start, JSON checks
FAULTS = [
    ("silent SIM800", "sim800", ["--silent"], [], 4, "no answer within 4 s", {}),
    ("silent EC25", "ec25", ["--silent"], [], 4, "no answer within 4 s", {}),
    ("garbage on every reply (EC25)", "ec25", ["--garbage-rate", "1"], [], 6, "not ready within 6 s",
     {}),
    ("SIM missing (SIM800)", "sim800", ["--sim-missing"], [], 10, "no SIM",
     {"pin_state": "NO SIM"}),
    ("SIM missing (Huawei)", "huawei", ["--sim-missing"], [], 10, "no SIM",
     {"pin_state": "NO SIM"}),
    ("PIN required, none given (SIM7600)", "sim7600", ["--pin", "1234"], [], 10, "PIN needed",
     {"pin_state": "SIM PIN"}),
    ("wrong PIN (EC25)", "ec25", ["--pin", "1234"], ["--pin", "4321"], 10, "wrong PIN",
     {"pin_state": "SIM PIN"}),
    ("network absent (SIM800)", "sim800", ["--no-network"], [], 4, "not registered (searching)",
     {"registration": "searching"}),
]


def test_faults(tmp):
    for i, (name, prof, flags, args, tmo, reason, fields) in enumerate(FAULTS):
        with ModemSim(BUILD, prof, tmp, *flags, name="f%d" % i) as sim:
            rc, doc, err, took = probe([sim.link], *args, timeout=tmo)
            check("%s: exit 1" % name, rc == 1, "rc=%d" % rc)
            if doc is None:
                check("%s: JSON output" % name, False, err)
                continue
            port = doc["ports"][0]
            check("%s: not ready" % name, port["ready"] is False and doc["ready"] is False)
            check("%s: reason '%s'" % (name, reason),
                  (port["reason"] or "").startswith(reason), port["reason"])
            line = "simpool: %s: %s" % (sim.link, port["reason"])
            check("%s: one reason line on stderr" % name,
                  err.count("simpool: %s:" % sim.link) == 1 and line in err, err)
            for k, v in fields.items():
                check("%s: %s=%s" % (name, k, v), port.get(k) == v, port.get(k))
            check("%s: within the timeout" % name, took < tmo + 3, "%.1fs" % took)
            if "PIN" in reason:
                # a PIN is entered at most once, and never printed
                check("%s: PIN not in output" % name, "4321" not in err and "4321" not in
                      json.dumps(doc))


def test_pin_right(tmp):
    with ModemSim(BUILD, "sim800", tmp, "--pin", "1234", name="pin") as sim:
        rc, doc, err, _ = probe([sim.link], "--pin", "1234", timeout=15)
        check("PIN required and given (SIM800): exit 0", rc == 0, "rc=%d %s" % (rc, err))
        if doc:
            check("PIN required and given: PIN READY", doc["ports"][0]["pin_state"] == "READY")
        # the env variable works too and keeps the PIN off the command line
    with ModemSim(BUILD, "ec25", tmp, "--pin", "5678", name="pinenv") as sim:
        env = dict(os.environ, SIMPOOL_PIN="5678")
        p = subprocess.run([SIMPOOL, "probe", "--json", "--timeout", "15", sim.link],
                           capture_output=True, text=True, timeout=45, env=env)
        check("PIN from $SIMPOOL_PIN (EC25): exit 0", p.returncode == 0, p.stderr)


def test_network_lost_runtime(tmp):
    with ModemSim(BUILD, "ec25", tmp, name="net") as sim:
        rc, _, err, _ = probe([sim.link], timeout=15)
        check("network lost: first probe ready", rc == 0, err)
        r = sim.ctl({"cmd": "network_lost", "stat": 2})
        check("network lost: control accepted", r.get("ok") is True, r)
        rc, doc, err, _ = probe([sim.link], timeout=4)
        check("network lost: exit 1", rc == 1, "rc=%d" % rc)
        if doc:
            check("network lost: not registered",
                  (doc["ports"][0]["reason"] or "").startswith("not registered"),
                  doc["ports"][0]["reason"])
        sim.ctl({"cmd": "network_regained"})
        rc, _, err, _ = probe([sim.link], timeout=15)
        check("network regained: exit 0", rc == 0, err)


def test_recovery(tmp):
    # silent for 8 s: the AT probes fail, the ladder reopens the port, then it answers
    with ModemSim(BUILD, "ec25", tmp, "--silent", name="rec") as sim:
        p = subprocess.Popen([SIMPOOL, "probe", "-v", "--timeout", "30", sim.link],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(8)
            sim.ctl({"cmd": "resume"})
            out, err = p.communicate(timeout=40)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        check("silent 8 s then answers: exit 0", p.returncode == 0, err[-500:])
        check("silent 8 s then answers: ladder reopened the port",
              "event=recovery step=reopen" in err, err[-500:])
    # unplugged (link dangling) when the probe starts, replugged 2.5 s later
    with ModemSim(BUILD, "sim800", tmp, name="plug") as sim:
        sim.ctl({"cmd": "unplug", "replug_ms": 2500})
        time.sleep(0.2)
        rc, doc, err, took = probe([sim.link], "-v", timeout=20)
        check("unplugged at start, replugged: exit 0", rc == 0, err[-800:])
        check("unplugged at start: seen absent first", "absent" in err, err[-800:])


def test_mixed_and_usage(tmp):
    with ModemSim(BUILD, "sim800", tmp, name="ok1") as good, \
            ModemSim(BUILD, "ec25", tmp, "--sim-missing", name="bad1") as bad:
        rc, doc, err, _ = probe([good.link, bad.link], timeout=10)
        check("mixed: exit 1 when one port is not ready", rc == 1)
        if doc:
            check("mixed: first ready, second not",
                  doc["ports"][0]["ready"] and not doc["ports"][1]["ready"])
        check("mixed: only the bad port has a reason line",
              good.link + ":" not in err and bad.link + ": no SIM" in err, err)
    missing = os.path.join(tmp, "nothing-here")
    rc, doc, err, _ = probe([missing], timeout=3)
    check("absent port: exit 1", rc == 1)
    check("absent port: reason", doc is not None and
          (doc["ports"][0]["reason"] or "").startswith("port absent"), doc and doc["ports"][0])
    p = subprocess.run([SIMPOOL, "probe"], capture_output=True, text=True)
    check("usage: no port is exit 2", p.returncode == 2, p.stderr)
    p = subprocess.run([SIMPOOL, "probe", "--vendor", "nokia", "x"], capture_output=True, text=True)
    check("usage: unknown vendor is exit 2", p.returncode == 2, p.stderr)
    p = subprocess.run([SIMPOOL, "probe", "--help"], capture_output=True, text=True)
    check("help: explains exit codes", p.returncode == 0 and "exit codes" in p.stdout and
          "wrong PIN" in p.stdout)
    p = subprocess.run([SIMPOOL, "frobnicate"], capture_output=True, text=True)
    check("usage: unknown command is exit 2", p.returncode == 2)


def main():
    with tempfile.TemporaryDirectory(prefix="simpool-probe.") as tmp:
        test_profiles(tmp)
        test_faults(tmp)
        test_pin_right(tmp)
        test_network_lost_runtime(tmp)
        test_recovery(tmp)
        test_mixed_and_usage(tmp)
    if failures:
        print("%d check(s) failed: %s" % (len(failures), ", ".join(failures)))
        return 1
    print("all simpool probe checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
