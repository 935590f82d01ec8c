#include "host-tools/modemsim/ms_ctl.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

typedef int (*ctl_fn)(struct ms_modem *m, json_t *req, json_t *rep, bool plugged, sg_ms now,
                      struct ms_ctl_result *res);

struct ctl_cmd {
    const char *name;
    ctl_fn fn;
};

static int ctl_fail(json_t *rep, const char *msg)
{
    json_object_set_new(rep, "error", json_string(msg));
    return -1;
}

/* Reads an optional number field; returns false when present but not a number. */
static bool opt_num(json_t *req, const char *key, double *out)
{
    json_t *v = json_object_get(req, key);
    if (!v)
        return true;
    if (!json_is_number(v))
        return false;
    *out = json_number_value(v);
    return true;
}

static int ctl_stats(struct ms_modem *m, json_t *req, json_t *rep, bool plugged, sg_ms now,
                     struct ms_ctl_result *res)
{
    (void)req;
    (void)now;
    (void)res;
    const struct ms_stats *s = ms_modem_stats(m);
    struct ms_state_view v;
    ms_modem_view(m, &v);
    const struct ms_faults *f = ms_modem_faults(m);
    json_t *st = json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s}", "commands",
        (json_int_t)s->commands, "unknown", (json_int_t)s->unknown, "sends", (json_int_t)s->sends,
        "sends_ok", (json_int_t)s->sends_ok, "sends_err", (json_int_t)s->sends_err, "sends_bad",
        (json_int_t)s->sends_bad, "sends_cancel", (json_int_t)s->sends_cancel, "reboots",
        (json_int_t)s->reboots, "garbage_bytes", (json_int_t)s->garbage_bytes, "lost_ok",
        (json_int_t)s->lost_ok, "status_reports", (json_int_t)s->status_reports, "sms_injected",
        (json_int_t)s->sms_injected, "sms_direct", (json_int_t)s->sms_direct, "sms_stored",
        (json_int_t)s->sms_stored, "sms_dropped", (json_int_t)s->sms_dropped, "out_dropped",
        (json_int_t)s->out_dropped, "in_dropped", (json_int_t)s->in_dropped, "cnma_timeouts",
        (json_int_t)s->cnma_timeouts, "last_unknown", s->last_unknown);
    json_t *state = json_pack("{s:s,s:b,s:i,s:i,s:i,s:i,s:b,s:b,s:s,s:i,s:i,s:[iiiii],s:b,s:b}",
                              "profile", ms_modem_profile_name(m), "plugged", plugged, "reg_stat",
                              v.reg_stat, "rssi", v.rssi, "cmee", v.cmee, "mr_next", v.mr_next,
                              "echo", v.echo, "booting", v.booting, "sim", v.sim_state, "stored",
                              v.stored, "cfun", v.cfun, "cnmi", v.cnmi[0], v.cnmi[1], v.cnmi[2],
                              v.cnmi[3], v.cnmi[4], "in_prompt", v.in_prompt, "silent", f->silent);
    if (!st || !state) {
        json_decref(st);
        json_decref(state);
        return ctl_fail(rep, "out of memory");
    }
    json_object_set_new(rep, "stats", st);
    json_object_set_new(rep, "state", state);
    return 0;
}

static int ctl_latency(struct ms_modem *m, json_t *req, json_t *rep, bool plugged, sg_ms now,
                       struct ms_ctl_result *res)
{
    (void)plugged;
    (void)now;
    (void)res;
    struct ms_faults *f = ms_modem_faults(m);
    double ms = (double)f->latency_ms, cmgs = (double)f->cmgs_latency_ms;
    if (!opt_num(req, "ms", &ms) || !opt_num(req, "cmgs_ms", &cmgs) || ms < 0 || cmgs < 0)
        return ctl_fail(rep, "latency: ms and cmgs_ms are numbers >= 0");
    f->latency_ms = (sg_ms)ms;
    f->cmgs_latency_ms = (sg_ms)cmgs;
    return 0;
}

static int ctl_cms_error(struct ms_modem *m, json_t *req, json_t *rep, bool plugged, sg_ms now,
                         struct ms_ctl_result *res)
{
    (void)plugged;
    (void)now;
    (void)res;
    struct ms_faults *f = ms_modem_faults(m);
    double code = f->cms_code, rate = 0, count = 0;
    if (!opt_num(req, "code", &code) || !opt_num(req, "rate", &rate) ||
        !opt_num(req, "count", &count) || code < 0 || code > 999 || rate < 0 || rate > 1 ||
        count < 0)
        return ctl_fail(rep, "cms_error: code 0..999, rate 0..1, count >= 0");
    f->cms_code = (int)code;
    f->cms_rate = rate;
    f->cms_count = (unsigned)count;
    return 0;
}

static int ctl_silent(struct ms_modem *m, json_t *req, json_t *rep, bool plugged, sg_ms now,
                      struct ms_ctl_result *res)
{
    (void)req;
    (void)rep;
    (void)plugged;
    (void)now;
    (void)res;
    ms_modem_faults(m)->silent = true;
    return 0;
}

static int ctl_resume(struct ms_modem *m, json_t *req, json_t *rep, bool plugged, sg_ms now,
                      struct ms_ctl_result *res)
{
    (void)req;
    (void)rep;
    (void)plugged;
    (void)now;
    (void)res;
    ms_modem_faults(m)->silent = false;
    return 0;
}

static int ctl_garbage(struct ms_modem *m, json_t *req, json_t *rep, bool plugged, sg_ms now,
                       struct ms_ctl_result *res)
{
    (void)plugged;
    (void)now;
    (void)res;
    struct ms_faults *f = ms_modem_faults(m);
    double bytes = 0, rate = f->garbage_rate;
    if (!opt_num(req, "bytes", &bytes) || !opt_num(req, "rate", &rate) || bytes < 0 ||
        bytes > 65536 || rate < 0 || rate > 1)
        return ctl_fail(rep, "garbage: bytes 0..65536, rate 0..1");
    f->garbage_rate = rate;
    ms_modem_garbage(m, (unsigned)bytes);
    return 0;
}

static int ctl_lose_ok(struct ms_modem *m, json_t *req, json_t *rep, bool plugged, sg_ms now,
                       struct ms_ctl_result *res)
{
    (void)plugged;
    (void)now;
    (void)res;
    double n = 1;
    if (!opt_num(req, "count", &n) || n < 0)
        return ctl_fail(rep, "lose_ok: count >= 0");
    ms_modem_faults(m)->lose_ok = (unsigned)n;
    return 0;
}

static int ctl_reboot_mid_send(struct ms_modem *m, json_t *req, json_t *rep, bool plugged,
                               sg_ms now, struct ms_ctl_result *res)
{
    (void)req;
    (void)rep;
    (void)plugged;
    (void)now;
    (void)res;
    ms_modem_faults(m)->reboot_mid_send = true;
    return 0;
}

static int ctl_reboot(struct ms_modem *m, json_t *req, json_t *rep, bool plugged, sg_ms now,
                      struct ms_ctl_result *res)
{
    (void)req;
    (void)rep;
    (void)plugged;
    (void)res;
    ms_modem_reboot(m, now);
    return 0;
}

static int ctl_sim_missing(struct ms_modem *m, json_t *req, json_t *rep, bool plugged, sg_ms now,
                           struct ms_ctl_result *res)
{
    (void)req;
    (void)rep;
    (void)plugged;
    (void)res;
    ms_modem_sim_remove(m, now);
    return 0;
}

static int ctl_sim_insert(struct ms_modem *m, json_t *req, json_t *rep, bool plugged, sg_ms now,
                          struct ms_ctl_result *res)
{
    (void)plugged;
    (void)res;
    const char *pin = json_string_value(json_object_get(req, "pin"));
    const char *puk = json_string_value(json_object_get(req, "puk"));
    if ((pin && strlen(pin) > 8) || (puk && strlen(puk) > 8))
        return ctl_fail(rep, "sim_insert: pin and puk are at most 8 digits");
    ms_modem_sim_insert(m, pin, puk, now);
    return 0;
}

static int ctl_pin_required(struct ms_modem *m, json_t *req, json_t *rep, bool plugged, sg_ms now,
                            struct ms_ctl_result *res)
{
    const char *pin = json_string_value(json_object_get(req, "pin"));
    if (!pin || !*pin)
        return ctl_fail(rep, "pin_required: \"pin\" is required");
    return ctl_sim_insert(m, req, rep, plugged, now, res);
}

static int ctl_network_lost(struct ms_modem *m, json_t *req, json_t *rep, bool plugged, sg_ms now,
                            struct ms_ctl_result *res)
{
    (void)plugged;
    (void)res;
    double stat = 2;
    if (!opt_num(req, "stat", &stat) || (stat != 0 && stat != 2 && stat != 3))
        return ctl_fail(rep, "network_lost: stat is 0, 2 or 3");
    ms_modem_network(m, false, (int)stat, now);
    return 0;
}

static int ctl_network_regained(struct ms_modem *m, json_t *req, json_t *rep, bool plugged,
                                sg_ms now, struct ms_ctl_result *res)
{
    (void)req;
    (void)rep;
    (void)plugged;
    (void)res;
    ms_modem_network(m, true, 0, now);
    return 0;
}

static int ctl_csq(struct ms_modem *m, json_t *req, json_t *rep, bool plugged, sg_ms now,
                   struct ms_ctl_result *res)
{
    (void)plugged;
    (void)now;
    (void)res;
    double rssi = -1;
    if (!opt_num(req, "rssi", &rssi) || rssi < 0 || rssi > 31)
        return ctl_fail(rep, "csq: rssi 0..31");
    ms_modem_set_rssi(m, (int)rssi);
    return 0;
}

static int ctl_sr(struct ms_modem *m, json_t *req, json_t *rep, bool plugged, sg_ms now,
                  struct ms_ctl_result *res)
{
    (void)plugged;
    (void)now;
    (void)res;
    double delay = -1, st = -1;
    if (!opt_num(req, "delay_ms", &delay) || !opt_num(req, "st", &st) || st > 255)
        return ctl_fail(rep, "sr: delay_ms >= 0, st 0..255");
    ms_modem_set_sr(m, (sg_ms)delay, (int)st);
    return 0;
}

static int ctl_unplug(struct ms_modem *m, json_t *req, json_t *rep, bool plugged, sg_ms now,
                      struct ms_ctl_result *res)
{
    (void)m;
    (void)now;
    double after = 0;
    if (!opt_num(req, "replug_ms", &after) || after < 0)
        return ctl_fail(rep, "unplug: replug_ms >= 0");
    if (!plugged)
        return ctl_fail(rep, "unplug: already unplugged");
    res->action = MS_CTL_UNPLUG;
    res->replug_after_ms = (sg_ms)after;
    return 0;
}

static int ctl_replug(struct ms_modem *m, json_t *req, json_t *rep, bool plugged, sg_ms now,
                      struct ms_ctl_result *res)
{
    (void)m;
    (void)req;
    (void)now;
    if (plugged)
        return ctl_fail(rep, "replug: not unplugged");
    res->action = MS_CTL_REPLUG;
    return 0;
}

static int ctl_inject_sms(struct ms_modem *m, json_t *req, json_t *rep, bool plugged, sg_ms now,
                          struct ms_ctl_result *res)
{
    (void)plugged;
    (void)res;
    const char *from = json_string_value(json_object_get(req, "from"));
    const char *text = json_string_value(json_object_get(req, "text"));
    const char *mode = json_string_value(json_object_get(req, "mode"));
    enum ms_inject_mode im = MS_INJECT_AUTO;
    if (mode && strcmp(mode, "stored") == 0)
        im = MS_INJECT_STORED;
    else if (mode && strcmp(mode, "direct") == 0)
        im = MS_INJECT_DIRECT;
    else if (mode && strcmp(mode, "auto") != 0)
        return ctl_fail(rep, "inject_sms: mode is auto, stored or direct");
    struct sg_err err;
    sg_err_clear(&err);
    int n = ms_modem_inject_sms(m, from, text, im, now, &err);
    if (n < 0)
        return ctl_fail(rep, err.msg);
    json_object_set_new(rep, "parts", json_integer(n));
    return 0;
}

static int ctl_status_report(struct ms_modem *m, json_t *req, json_t *rep, bool plugged, sg_ms now,
                             struct ms_ctl_result *res)
{
    (void)plugged;
    (void)res;
    double mr = -1, st = 0;
    const char *to = json_string_value(json_object_get(req, "to"));
    if (!opt_num(req, "mr", &mr) || !opt_num(req, "st", &st))
        return ctl_fail(rep, "status_report: mr and st are numbers");
    struct sg_err err;
    sg_err_clear(&err);
    if (ms_modem_status_report(m, (int)mr, to, (int)st, now, &err) < 0)
        return ctl_fail(rep, err.msg);
    return 0;
}

static int ctl_urc(struct ms_modem *m, json_t *req, json_t *rep, bool plugged, sg_ms now,
                   struct ms_ctl_result *res)
{
    (void)plugged;
    (void)now;
    (void)res;
    const char *text = json_string_value(json_object_get(req, "text"));
    if (!text || !*text || strlen(text) > MS_URC_MAX)
        return ctl_fail(rep, "urc: \"text\" is required, at most 470 bytes");
    ms_modem_urc(m, text, json_is_true(json_object_get(req, "mid_reply")));
    return 0;
}

static int ctl_quit(struct ms_modem *m, json_t *req, json_t *rep, bool plugged, sg_ms now,
                    struct ms_ctl_result *res)
{
    (void)m;
    (void)req;
    (void)rep;
    (void)plugged;
    (void)now;
    res->action = MS_CTL_QUIT;
    return 0;
}

static const struct ctl_cmd ctl_cmds[] = {
    {"cms_error", ctl_cms_error},
    {"csq", ctl_csq},
    {"garbage", ctl_garbage},
    {"inject_sms", ctl_inject_sms},
    {"latency", ctl_latency},
    {"lose_ok", ctl_lose_ok},
    {"network_lost", ctl_network_lost},
    {"network_regained", ctl_network_regained},
    {"pin_required", ctl_pin_required},
    {"quit", ctl_quit},
    {"reboot", ctl_reboot},
    {"reboot_mid_send", ctl_reboot_mid_send},
    {"replug", ctl_replug},
    {"resume", ctl_resume},
    {"silent", ctl_silent},
    {"sim_insert", ctl_sim_insert},
    {"sim_missing", ctl_sim_missing},
    {"sr", ctl_sr},
    {"stats", ctl_stats},
    {"status_report", ctl_status_report},
    {"unplug", ctl_unplug},
    {"urc", ctl_urc},
};

char *ms_ctl_handle(struct ms_modem *m, const char *line, size_t len, bool plugged, sg_ms now,
                    struct ms_ctl_result *res)
{
    res->action = MS_CTL_NONE;
    res->replug_after_ms = 0;
    json_t *rep = json_object();
    if (!rep)
        return NULL;
    json_error_t jerr;
    json_t *req = NULL;
    const char *name = NULL;
    int rc = -1;
    if (len > MS_CTL_LINE_MAX) {
        ctl_fail(rep, "request longer than 8192 bytes");
    } else if (!(req = json_loadb(line, len, 0, &jerr)) || !json_is_object(req)) {
        ctl_fail(rep, "not a JSON object");
    } else if (!(name = json_string_value(json_object_get(req, "cmd")))) {
        ctl_fail(rep, "missing \"cmd\"");
    } else {
        const struct ctl_cmd *c = NULL;
        for (size_t i = 0; i < sizeof(ctl_cmds) / sizeof(ctl_cmds[0]); i++)
            if (strcmp(ctl_cmds[i].name, name) == 0)
                c = &ctl_cmds[i];
        if (!c)
            ctl_fail(rep, "unknown cmd");
        else
            rc = c->fn(m, req, rep, plugged, now, res);
    }
    json_object_set_new(rep, "ok", json_boolean(rc == 0));
    if (name)
        json_object_set_new(rep, "cmd", json_string(name));
    char *out = json_dumps(rep, JSON_COMPACT);
    json_decref(rep);
    json_decref(req);
    return out;
}

const char *ms_ctl_help(void)
{
    return "Control socket (--control PATH): one JSON object per line, one reply per line,\n"
           "{\"ok\":true,...} or {\"ok\":false,\"error\":\"...\"}.\n"
           "  {\"cmd\":\"stats\"}                          counters and modem state\n"
           "  {\"cmd\":\"latency\",\"ms\":N,\"cmgs_ms\":N}     delay before every reply / before "
           "+CMGS\n"
           "  {\"cmd\":\"cms_error\",\"code\":C,\"rate\":R,\"count\":N}  +CMS ERROR C for a share "
           "R\n"
           "                                           of sends, or for the next N (0 = off)\n"
           "  {\"cmd\":\"silent\"} / {\"cmd\":\"resume\"}    stop answering (input dropped) / "
           "answer again\n"
           "  {\"cmd\":\"garbage\",\"bytes\":N,\"rate\":R}   N random bytes now; 1..16 bytes "
           "before a\n"
           "                                           share R of replies\n"
           "  {\"cmd\":\"lose_ok\",\"count\":N}            drop the final OK of the next N "
           "commands\n"
           "  {\"cmd\":\"reboot_mid_send\"}               the next send reboots half way through "
           "its PDU\n"
           "  {\"cmd\":\"reboot\"}                        reset now (echo on, settings forgotten)\n"
           "  {\"cmd\":\"sim_missing\"}                   SIM out: +CPIN: NOT INSERTED, CME 10\n"
           "  {\"cmd\":\"sim_insert\",\"pin\":P,\"puk\":K}   SIM in, asking for PIN P when given\n"
           "  {\"cmd\":\"pin_required\",\"pin\":P}         same, PIN mandatory\n"
           "  {\"cmd\":\"network_lost\",\"stat\":S}        registration S (0, 2 or 3) with URCs\n"
           "  {\"cmd\":\"network_regained\"}              searching, then registered again\n"
           "  {\"cmd\":\"csq\",\"rssi\":N}                 signal 0..31\n"
           "  {\"cmd\":\"sr\",\"delay_ms\":N,\"st\":S}       status report delay and TP-ST\n"
           "  {\"cmd\":\"unplug\",\"replug_ms\":N}         close the pty (the link dangles); "
           "replug\n"
           "                                           after N ms when N > 0\n"
           "  {\"cmd\":\"replug\"}                        new pty, link re-pointed, modem boots\n"
           "  "
           "{\"cmd\":\"inject_sms\",\"from\":\"+33...\",\"text\":\"...\",\"mode\":\"auto|stored|"
           "direct\"}\n"
           "                                           inbound SMS, split in parts when long\n"
           "  {\"cmd\":\"status_report\",\"mr\":N,\"to\":\"+33...\",\"st\":S}  unsolicited report\n"
           "  {\"cmd\":\"urc\",\"text\":\"+CREG: 1\",\"mid_reply\":true}  any URC now, or inside "
           "the next\n"
           "                                           reply (after its first line)\n"
           "  {\"cmd\":\"quit\"}                          exit\n";
}
