/*
 * Config and board validation: each malformed file must be refused with the
 * exact "FILE:LINE: message" an operator would see from --check-config.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "firmware/cfg.h"

struct fixture {
    char dir[64];
    char conf[128];
    char boards[128];
    char board[160];
};

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/sg-cfg-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->conf, sizeof(fx->conf), "%s/simgated.conf", fx->dir);
    snprintf(fx->boards, sizeof(fx->boards), "%s/boards", fx->dir);
    snprintf(fx->board, sizeof(fx->board), "%s/b1.conf", fx->boards);
    mkdir(fx->boards, 0700);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    unlink(fx->conf);
    unlink(fx->board);
    rmdir(fx->boards);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

/* Loads `conf` (with `board` written as boards/b1.conf when given) and
 * returns the error message with the temp dir replaced by "D". */
static int load(struct fixture *fx, const char *conf, const char *board, char *msg, size_t len,
                struct sg_config **out)
{
    char text[4096];
    snprintf(text, sizeof(text), "boards_dir = \"%s\";\n%s", fx->boards, conf);
    write_file(fx->conf, text);
    if (board)
        write_file(fx->board, board);
    else
        unlink(fx->board);
    struct sg_err err = {0};
    int rc = cfg_load(fx->conf, NULL, out, &err);
    msg[0] = '\0';
    if (rc) {
        const char *p = err.msg;
        size_t dl = strlen(fx->dir);
        size_t o = 0;
        while (*p && o + 2 < len) {
            if (strncmp(p, fx->dir, dl) == 0) {
                msg[o++] = 'D';
                p += dl;
            } else {
                msg[o++] = *p++;
            }
        }
        msg[o] = '\0';
    }
    return rc;
}

struct bad_case {
    const char *name;  /* the real mistake it reproduces */
    const char *conf;  /* line 1 is boards_dir, so the file's own line N is N+1 */
    const char *board; /* NULL: no board file */
    const char *want;
};

#define MODEM "modems = ( { id = \"m1\"; port = \"/dev/pts/7\"; vendor = \"sim800\"; } );\n"

static const struct bad_case bad_cases[] = {
    {"typo in a top-level key", "stat_dir = \"/var/lib/simgate\";\n" MODEM, NULL,
     "D/simgated.conf:2: unknown key 'stat_dir'"},
    {"unknown key inside api", "api = { sock = \"/run/x.sock\"; };\n" MODEM, NULL,
     "D/simgated.conf:2: unknown key 'sock' in api"},
    {"baud given as a string", "modems = ( { id = \"m1\"; port = \"/dev/pts/7\";\n baud = \"115200\"; } );\n",
     NULL, "D/simgated.conf:3: modems[0].baud must be an integer"},
    {"unsupported baud rate", "modems = ( { id = \"m1\"; port = \"/dev/pts/7\";\n baud = 115201; } );\n",
     NULL,
     "D/simgated.conf:3: modems[0].baud is 115201; must be one of 9600, 19200, 38400, 57600, "
     "115200, 230400, 460800, 921600"},
    {"unknown vendor", "modems = ( { id = \"m1\"; port = \"/dev/pts/7\"; vendor = \"sim900\"; } );\n",
     NULL,
     "D/simgated.conf:2: modems[0].vendor is \"sim900\"; must be one of sim800, sim7600, ec25, "
     "huawei, generic, auto"},
    {"relative serial path", "modems = ( { id = \"m1\"; port = \"ttyUSB2\"; } );\n", NULL,
     "D/simgated.conf:2: modems[0].port must be an absolute path"},
    {"slot without a port", "modems = (\n { id = \"m1\"; vendor = \"ec25\"; }\n);\n", NULL,
     "D/simgated.conf:3: modems[0]: missing required key 'port'"},
    {"two slots with one id",
     "modems = (\n { id = \"m1\"; port = \"/dev/pts/7\"; },\n { id = \"m1\"; port = \"/dev/pts/8\"; }\n);\n",
     NULL, "D/simgated.conf:4: modems[1].id \"m1\" is already used by modems[0]"},
    {"PIN with letters", "modems = ( { id = \"m1\"; port = \"/dev/pts/7\"; pin = \"12a4\"; } );\n",
     NULL, "D/simgated.conf:2: modems[0].pin must be 4 to 8 digits"},
    {"path without quotes", "log_level = \"info\";\nstate_dir = /var/lib/simgate;\n" MODEM, NULL,
     "D/simgated.conf:3: syntax error"},
    {"verbose log level", "log_level = \"verbose\";\n" MODEM, NULL,
     "D/simgated.conf:2: log_level is \"verbose\"; must be one of err, warn, notice, info, debug"},
    {"neither board nor modems", "state_dir = \"/tmp/x\";\n", NULL,
     "D/simgated.conf: no modems: set 'board' or list 'modems'"},
    {"board file missing", "\nboard = \"b1\";\n", NULL,
     "D/simgated.conf:3: board \"b1\": no file D/boards/b1.conf"},
    {"board given as a path", "board = \"../b1\";\n", NULL,
     "D/simgated.conf:2: board must be a board name (a file in the boards directory), not a path"},
    {"board: GPIO line out of range", "board = \"b1\";\n",
     "name = \"x\";\nmodems = (\n { id = \"m1\"; port = \"/dev/ttyS0\";\n   gpio = { chip = \"gpiochip0\";\n            pwrkey = 4096; };\n }\n);\n",
     "D/boards/b1.conf:5: modems[0].gpio.pwrkey is 4096; must be between 0 and 1023"},
    {"board: gpio without chip", "board = \"b1\";\n",
     "name = \"x\";\nmodems = ( { id = \"m1\"; port = \"/dev/ttyS0\";\n gpio = { pwrkey = 4; }; } );\n",
     "D/boards/b1.conf:3: modems[0].gpio: missing required key 'chip'"},
    {"board: no name", "board = \"b1\";\n", "modems = ( { id = \"m1\"; port = \"/dev/ttyS0\"; } );\n",
     "D/boards/b1.conf: missing required key 'name'"},
    {"board: empty slot list", "board = \"b1\";\n", "name = \"x\";\nmodems = ( );\n",
     "D/boards/b1.conf:2: modems must list at least 1 entry"},
    {"board: a PIN does not belong in a board", "board = \"b1\";\n",
     "name = \"x\";\nmodems = ( { id = \"m1\"; port = \"/dev/ttyS0\";\n pin = \"1234\"; } );\n",
     "D/boards/b1.conf:3: unknown key 'pin' in modems[0]"},
    {"board: pulse too short", "board = \"b1\";\n",
     "name = \"x\";\nmodems = ( { id = \"m1\"; port = \"/dev/ttyS0\"; gpio = { chip = \"c\"; pwrkey_on_ms = 5; }; } );\n",
     "D/boards/b1.conf:2: modems[0].gpio.pwrkey_on_ms is 5; must be between 50 and 10000"},
    {"pins for a slot the board lacks", "board = \"b1\";\npins = { m9 = \"1234\"; };\n",
     "name = \"x\";\nmodems = ( { id = \"m1\"; port = \"/dev/ttyS0\"; } );\n",
     "D/simgated.conf:3: pins.m9 names no modem slot"},
    {"socket mode as a number", "api = { socket_mode = 660; };\n" MODEM, NULL,
     "D/simgated.conf:2: api.socket_mode must be a string"},
    {"ICCID with a letter", MODEM "sims = ( { iccid = \"89330123456789012X\"; } );\n", NULL,
     "D/simgated.conf:3: sims[0].iccid must be digits only"},
    {"prefix that is not a number", MODEM "sims = ( { iccid = \"8933012345678901234\";\n  allow = [ \"+33\", \"FR\" ]; } );\n",
     NULL, "D/simgated.conf:4: sims[0].allow entry \"FR\" is not a number prefix such as \"+33\""},
    {"prefixes given as numbers", MODEM "sims = ( { iccid = \"8933012345678901234\"; deny = [ 3389 ]; } );\n",
     NULL, "D/simgated.conf:3: sims[0].deny must be an array of strings [ \"...\" ]"},
    {"one SIM listed twice",
     MODEM "sims = (\n { iccid = \"8933012345678901234\"; },\n { iccid = \"8933012345678901234\"; }\n);\n",
     NULL, "D/simgated.conf:5: sims[1].iccid \"8933012345678901234\" is already used by sims[0]"},
    {"OTP TTL in minutes by mistake", MODEM "queue = { ttl = { otp = 5; }; };\n", NULL,
     "D/simgated.conf:3: queue.ttl.otp is 5; must be between 10 and 604800"},
    {"recovery rule misspelt", MODEM "queue = { recover_sending = { bulk = \"retry-later\"; }; };\n",
     NULL, "D/simgated.conf:3: queue.recover_sending.bulk is \"retry-later\"; must be one of retry, unknown"},
    {"webhook URL without scheme", MODEM "webhook = { urls = [ \"localhost:8080/hook\" ];\n secret = \"0123456789abcdef\"; };\n",
     NULL, "D/simgated.conf:3: webhook.urls entry \"localhost:8080/hook\" must start with http:// or https://"},
    {"webhook without a secret", MODEM "webhook = {\n urls = [ \"http://127.0.0.1:8080/hook\" ]; };\n", NULL,
     "D/simgated.conf:3: webhook: 'secret' is required when 'urls' are set"},
    {"webhook secret too short", MODEM "webhook = { secret = \"hunter2\"; };\n", NULL,
     "D/simgated.conf:3: webhook.secret is too short (7 characters, at least 16)"},
    {"TCP listener without tokens", MODEM "api = {\n tcp_listen = \"127.0.0.1:8088\"; };\n", NULL,
     "D/simgated.conf:3: api: 'tokens' are required when 'tcp_listen' is set"},
    {"TCP listener with a port name", MODEM "api = { tcp_listen = \"localhost:http\"; };\n", NULL,
     "D/simgated.conf:3: api.tcp_listen must be \"host:port\", e.g. \"127.0.0.1:8088\""},
    {"short bearer token", MODEM "api = { tokens = [ \"secret\" ]; };\n", NULL,
     "D/simgated.conf:3: api.tokens entry 0 must be 32 to 128 characters (it has 6)"},
    {"too many modems",
     "modems = ("
     "{id=\"a\";port=\"/p\";},{id=\"b\";port=\"/p\";},{id=\"c\";port=\"/p\";},{id=\"d\";port=\"/p\";},"
     "{id=\"e\";port=\"/p\";},{id=\"f\";port=\"/p\";},{id=\"g\";port=\"/p\";},{id=\"h\";port=\"/p\";},"
     "{id=\"i\";port=\"/p\";},{id=\"j\";port=\"/p\";},{id=\"k\";port=\"/p\";},{id=\"l\";port=\"/p\";},"
     "{id=\"m\";port=\"/p\";},{id=\"n\";port=\"/p\";},{id=\"o\";port=\"/p\";},{id=\"p\";port=\"/p\";},"
     "{id=\"q\";port=\"/p\";});\n",
     NULL, "D/simgated.conf:2: modems lists 17 entries; at most 16 are supported"},
};

static void test_bad_configs(void **state)
{
    struct fixture *fx = *state;
    int failures = 0;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *c = &bad_cases[i];
        char msg[SG_ERR_MSG_MAX];
        struct sg_config *cfg = NULL;
        int rc = load(fx, c->conf, c->board, msg, sizeof(msg), &cfg);
        if (rc == 0 || strcmp(msg, c->want) != 0) {
            print_error("case \"%s\":\n  want: %s\n  got:  %s (rc %d)\n", c->name, c->want, msg, rc);
            cfg_free(cfg);
            failures++;
            continue;
        }
        assert_null(cfg);
    }
    assert_int_equal(failures, 0);
}

static void test_minimal_modems_config(void **state)
{
    struct fixture *fx = *state;
    char msg[SG_ERR_MSG_MAX];
    struct sg_config *cfg = NULL;
    int rc = load(fx,
                  "state_dir = \"/tmp/sg\";\napi = { socket = \"/tmp/sg/api.sock\"; };\n"
                  "modems = ( { id = \"m1\"; port = \"/dev/pts/7\"; vendor = \"sim800\"; } );\n",
                  NULL, msg, sizeof(msg), &cfg);
    assert_int_equal(rc, 0);
    assert_string_equal(cfg->state_dir, "/tmp/sg");
    assert_string_equal(cfg->api.socket, "/tmp/sg/api.sock");
    assert_int_equal(cfg->api.socket_mode, 0660);
    assert_int_equal(cfg->nmodems, 1);
    assert_string_equal(cfg->modems[0].port, "/dev/pts/7");
    assert_string_equal(cfg->modems[0].vendor, "sim800");
    assert_int_equal(cfg->modems[0].baud, 115200);
    assert_false(cfg->modems[0].gpio.present);
    assert_string_equal(cfg->log_level, "info");
    /* Engine defaults an operator gets without writing them. */
    assert_int_equal(cfg->queue.ttl_s[CFG_PRIO_OTP], 300);
    assert_int_equal(cfg->queue.attempts[CFG_PRIO_BULK], 3);
    assert_true(cfg->queue.recover_retry[CFG_PRIO_OTP]);
    assert_false(cfg->queue.recover_retry[CFG_PRIO_BULK]);
    assert_int_equal(cfg->queue.max_parts, 10);
    assert_true(cfg->routing.unknown_sims);
    assert_int_equal(cfg->nsims, 0);
    cfg_free(cfg);
}

static void test_sim_pool(void **state)
{
    struct fixture *fx = *state;
    char msg[SG_ERR_MSG_MAX];
    struct sg_config *cfg = NULL;
    int rc = load(fx,
                  MODEM "default_country_code = \"33\";\n"
                        "sims = ( { iccid = \"8933012345678901234\"; label = \"Orange 1\"; "
                        "allow = [\"+33\"]; deny = [\"+3389\", \"+33899\"]; rate_per_min = 10; "
                        "daily = 500; enabled = false; } );\n",
                  NULL, msg, sizeof(msg), &cfg);
    assert_int_equal(rc, 0);
    assert_string_equal(cfg->default_cc, "33");
    assert_int_equal(cfg->nsims, 1);
    assert_string_equal(cfg->sims[0].label, "Orange 1");
    assert_false(cfg->sims[0].enabled);
    assert_int_equal(cfg->sims[0].n_allow, 1);
    assert_int_equal(cfg->sims[0].n_deny, 2);
    assert_string_equal(cfg->sims[0].deny[1], "+33899");
    assert_int_equal(cfg->sims[0].rate_per_min, 10);
    assert_int_equal(cfg->sims[0].daily, 500);
    cfg_free(cfg);
}

static void test_board_with_pins_and_gpio(void **state)
{
    struct fixture *fx = *state;
    char msg[SG_ERR_MSG_MAX];
    struct sg_config *cfg = NULL;
    int rc = load(fx, "board = \"b1\";\npins = { m1 = \"0000\"; };\n",
                  "name = \"Pi + SIM800\";\nmodems = ( { id = \"m1\"; port = \"/dev/serial0\"; "
                  "vendor = \"sim800\"; gpio = { chip = \"gpiochip0\"; pwrkey = 4; "
                  "pwrkey_on_ms = 1200; }; } );\n",
                  msg, sizeof(msg), &cfg);
    assert_int_equal(rc, 0);
    assert_string_equal(cfg->board_name, "Pi + SIM800");
    assert_string_equal(cfg->modems[0].pin, "0000");
    assert_true(cfg->modems[0].gpio.present);
    assert_int_equal(cfg->modems[0].gpio.pwrkey, 4);
    assert_int_equal(cfg->modems[0].gpio.reset, -1);
    assert_int_equal(cfg->modems[0].gpio.pwrkey_on_ms, 1200);
    assert_int_equal(cfg->modems[0].gpio.pwrkey_off_ms, 0); /* vendor default */
    cfg_free(cfg);
}

/* A config naming a board but also listing modems uses the list: tests and
 * tools rely on overriding the board's slots this way. */
static void test_modems_override_board(void **state)
{
    struct fixture *fx = *state;
    char msg[SG_ERR_MSG_MAX];
    struct sg_config *cfg = NULL;
    int rc = load(fx, "board = \"b1\";\n" MODEM,
                  "name = \"x\";\nmodems = ( { id = \"a\"; port = \"/dev/x\"; }, "
                  "{ id = \"b\"; port = \"/dev/y\"; } );\n",
                  msg, sizeof(msg), &cfg);
    assert_int_equal(rc, 0);
    assert_int_equal(cfg->nmodems, 1);
    assert_string_equal(cfg->modems[0].id, "m1");
    cfg_free(cfg);
}

static void test_overrides_win(void **state)
{
    struct fixture *fx = *state;
    write_file(fx->conf, "state_dir = \"/var/lib/simgate\";\n" MODEM);
    struct cfg_overrides ov = {.state_dir = "/tmp/elsewhere", .socket = "/tmp/elsewhere/s.sock",
                               .log_level = "debug"};
    struct sg_config *cfg = NULL;
    struct sg_err err;
    assert_int_equal(cfg_load(fx->conf, &ov, &cfg, &err), 0);
    assert_string_equal(cfg->state_dir, "/tmp/elsewhere");
    assert_string_equal(cfg->api.socket, "/tmp/elsewhere/s.sock");
    assert_string_equal(cfg->log_level, "debug");
    cfg_free(cfg);

    ov.log_level = "loud";
    assert_int_not_equal(cfg_load(fx->conf, &ov, &cfg, &err), 0);
    assert_null(cfg);
    assert_non_null(strstr(err.msg, "log level \"loud\""));
}

static void test_unreadable_file(void **state)
{
    (void)state;
    struct sg_config *cfg = NULL;
    struct sg_err err;
    assert_int_not_equal(cfg_load("/nonexistent/simgated.conf", NULL, &cfg, &err), 0);
    assert_string_equal(err.msg, "/nonexistent/simgated.conf: cannot read: No such file or directory");
}

/* Every board file we ship must pass. */
static void test_shipped_boards(void **state)
{
    (void)state;
    static const char *const boards[] = {"boards/virtual.conf", "boards/rpi-sim800.conf",
                                         "boards/rpi-ec25.conf", "boards/usb-huawei.conf"};
    for (size_t i = 0; i < 4; i++) {
        struct sg_err err = {0};
        if (cfg_check_board(boards[i], &err) != 0) {
            print_error("%s: %s\n", boards[i], err.msg);
            fail();
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bad_configs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_minimal_modems_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_board_with_pins_and_gpio, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sim_pool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_modems_override_board, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overrides_win, setup, teardown),
        cmocka_unit_test(test_unreadable_file),
        cmocka_unit_test(test_shipped_boards),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
