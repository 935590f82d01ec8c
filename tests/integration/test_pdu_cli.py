#!/usr/bin/env python3
"""`simgate pdu encode|decode|count`: output formats, exit codes (0 ok,
1 bad input, 2 usage), stdin text, and the command table's help.
Cases are named after what a field technician would type."""
import json
import os
import subprocess
import sys

BUILD = os.environ.get("SG_BUILD", "build")
SIMGATE = os.path.join(BUILD, "simgate")
failures = []


def run(args, stdin=None):
    p = subprocess.run([SIMGATE] + args, input=stdin, capture_output=True, text=True,
                       timeout=20)
    return p.returncode, p.stdout, p.stderr


def check(name, cond, detail=""):
    if not cond:
        failures.append(name)
        print("FAIL:", name, detail)


def case(name, args, rc, stdout=None, stderr_has=None, stdin=None):
    got_rc, out, err = run(args, stdin)
    check(name + ": exit %d" % rc, got_rc == rc, "got %d, stderr %r" % (got_rc, err))
    if stdout is not None:
        check(name + ": stdout", out == stdout, "got %r want %r" % (out, stdout))
    if stderr_has is not None:
        check(name + ": one error line", err.count("\n") == 1 and stderr_has in err,
              "stderr %r" % err)
    return out


def main():
    if not os.access(SIMGATE, os.X_OK):
        print("FAIL: %s not built" % SIMGATE)
        return 1
    v1 = "0011000B916407281553F80000AA0AE8329BFD4697D9EC37"
    case("oFono simple_submit via the CLI",
         ["pdu", "encode", "--to", "+46708251358", "--text", "hellohello", "--validity", "5760"],
         0, "23 %s\n" % v1)
    case("oFono 7-bit with SMSC, 24 h",
         ["pdu", "encode", "--smsc", "+358405202090", "--to", "+358478400241", "--text",
          "This is testing !", "--validity", "1440"], 0,
         "29 079153485002020911000C915348870420140000A71154747A0E4ACF41F4F29C9E769F4121\n")
    case("text from stdin, trailing newline dropped",
         ["pdu", "encode", "--to", "+46708251358", "--text", "-", "--validity", "5760"], 0,
         "23 %s\n" % v1, stdin="hellohello\n")
    out = case("161 characters make two lines", ["pdu", "encode", "--to", "+491711", "--text",
                                                 "a" * 161], 0)
    lines = out.splitlines()
    check("two parts", len(lines) == 2, out)
    for ln in lines:
        n, hexpdu = ln.split(" ")
        check("tpdu_length matches hex", int(n) == len(hexpdu) // 2 - 1, ln)
    out = case("--json encode", ["pdu", "encode", "--json", "--to", "+491711", "--text", "Д"], 0)
    j = json.loads(out)
    check("json encode fields", j["encoding"] == "ucs2" and j["parts"] == 1 and
          j["pdus"][0]["tpdu_length"] > 0, out)

    out = case("decode an alphanumeric DELIVER",
               ["pdu", "decode", "0791447758100650040DD0F334FC1CA6970100008080312170224008D4F29CDE0EA7D9"], 0)
    j = json.loads(out)
    check("decode fields", (j["type"], j["number"], j["text"], j["timestamp"], j["smsc"]) ==
          ("deliver", "sipgate", "Testmail", "2008-08-13T12:07:22+01:00", "+447785016005"), out)
    check("one line of JSON", out.count("\n") == 1, out)
    out = case("decode a +CDS report with its length",
               ["pdu", "decode", "--length", "24",
                "07914356060013F1065A098136395339F6219011700463802190117004638030"], 0)
    j = json.loads(out)
    check("report fields", (j["type"], j["mr"], j["status"], j["status_class"], j["number"]) ==
          ("status-report", 90, 48, "temporary", "639335936"), out)
    out = case("decode a SUBMIT", ["pdu", "decode", "--direction", "out", v1], 0)
    check("submit fields", json.loads(out)["validity_minutes"] == 5760, out)
    out = case("decode a multipart part", ["pdu", "decode",
               "07912160130320F6440B916171056429F5000021405291651569320500034C0202E9E8301D4447"
               "9741F0B09C3E0785E56590BCCC0ED3CB6410FD0D7ABBCBA0B0FB4D4797E52E10"], 0)
    u = json.loads(out)["udh"]
    check("udh fields", (u["ref"], u["total"], u["seq"], u["single_shift"]) == (76, 2, 2, None),
          out)

    case("count a short text", ["pdu", "count", "hello"], 0, "encoding=gsm7 parts=1 left=155\n")
    case("count 161 chars", ["pdu", "count", "a" * 161], 0, "encoding=gsm7 parts=2 left=145\n")
    case("count 71 Cyrillic", ["pdu", "count", "Д" * 71], 0, "encoding=ucs2 parts=2 left=63\n")
    case("count with smart quotes", ["pdu", "count", "--smart", "“ok”"], 0,
         "encoding=gsm7 parts=1 left=156\n")
    out = case("count --json", ["pdu", "count", "--json", "😀"], 0)
    check("count json", json.loads(out)["units"] == 2, out)

    # bad input: exit 1, one line on stderr
    case("letters in the number", ["pdu", "encode", "--to", "+49abc", "--text", "x"], 1,
         stderr_has="not a digit")
    # "\udcff" is how Python passes the raw byte 0xFF in argv
    case("invalid UTF-8", ["pdu", "encode", "--to", "+491711", "--text", "abc\udcff"], 1,
         stderr_has="offset 3")
    case("too many parts", ["pdu", "encode", "--to", "+491711", "--text", "a" * 1600], 1,
         stderr_has="11 parts")
    case("odd hex", ["pdu", "decode", "001"], 1, stderr_has="odd number")
    case("truncated PDU", ["pdu", "decode", "0791447758100650040DD0F334"], 1,
         stderr_has="truncated")
    # usage: exit 2
    case("no subcommand", ["pdu"], 2, stderr_has="missing subcommand")
    case("unknown subcommand", ["pdu", "frobnicate"], 2, stderr_has="unknown subcommand")
    case("encode without --to", ["pdu", "encode", "--text", "x"], 2, stderr_has="--to")
    case("unknown option", ["pdu", "encode", "--bogus"], 2, stderr_has="--bogus")
    case("option of another subcommand", ["pdu", "decode", "--smart", "00"], 2,
         stderr_has="does not apply")
    case("bad --validity", ["pdu", "encode", "--to", "1", "--text", "x", "--validity", "soon"],
         2, stderr_has="--validity")
    case("8-bit ref out of range", ["pdu", "encode", "--to", "1", "--text", "x", "--ref", "300"],
         2, stderr_has="--ref16")
    case("unknown command", ["frobnicate"], 2, stderr_has="unknown command")
    out = case("simgate --help lists pdu", ["--help"], 0)
    check("help mentions pdu", "pdu" in out and "exit status" in out, out)
    out = case("simgate pdu --help explains encodings", ["pdu", "--help"], 0)
    check("pdu help", "UCS-2" in out and "--smart" in out and "AT+CMGS" in out, out)
    out = case("simgate pdu encode --help", ["pdu", "encode", "--help"], 0)
    check("encode help", "--validity" in out, out)

    print("%d failures" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
