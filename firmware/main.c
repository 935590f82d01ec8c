/*
 * simgated: the simgate daemon. main reads in a straight line: parse the
 * command line into one struct, load and check the config, set up logging,
 * detach unless told to stay in the foreground, run the loop, release.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "firmware/cfg.h"
#include "firmware/gw.h"
#include "firmware/log.h"

#ifndef SG_SYSCONFDIR
#define SG_SYSCONFDIR "/etc"
#endif

enum { EXIT_CONFIG = 1, EXIT_USAGE = 2, EXIT_RUNTIME = 3 };

struct opts {
    const char *config;
    bool check_config;
    bool foreground;
    struct cfg_overrides ov;
};

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: simgated [OPTION]...\n"
            "The simgate SMS and voice gateway daemon: drives the modems named by its\n"
            "configuration, keeps a durable queue in the state directory and serves the\n"
            "API on a Unix socket.\n"
            "\n"
            "  -c, --config FILE       configuration file (default %s/simgate/simgated.conf)\n"
            "      --check-config      validate the configuration and its board file, print\n"
            "                          \"FILE:LINE: what is wrong\" on error, and exit\n"
            "  -f, --foreground        stay in the foreground and log to stderr (use this\n"
            "                          under systemd; without it the daemon detaches and\n"
            "                          logs to syslog)\n"
            "      --boards-dir DIR    where `board = \"NAME\";` is looked up as NAME.conf\n"
            "      --log-level LEVEL   err, warn, notice, info or debug\n"
            "      --socket PATH       API socket, overriding api.socket\n"
            "      --state-dir DIR     state directory (the database), overriding state_dir\n"
            "  -h, --help              show this help and exit\n"
            "  -V, --version           show the version and exit\n"
            "\n"
            "Signals: SIGTERM and SIGINT stop cleanly. SIGHUP re-reads the configuration:\n"
            "an invalid file is reported and ignored; a valid one changes the log level at\n"
            "once, and any other change is reported as needing a restart.\n"
            "\n"
            "Exit status: 0 clean stop (or valid config with --check-config), 1 invalid\n"
            "configuration, 2 usage error, 3 runtime failure (state directory in use,\n"
            "cannot create the socket...).\n",
            SG_SYSCONFDIR);
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    enum { OPT_BOARDS = 256, OPT_CHECK, OPT_LEVEL, OPT_SOCKET, OPT_STATE };
    static const struct option longopts[] = {
        {"boards-dir", required_argument, NULL, OPT_BOARDS},
        {"check-config", no_argument, NULL, OPT_CHECK},
        {"config", required_argument, NULL, 'c'},
        {"foreground", no_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {"log-level", required_argument, NULL, OPT_LEVEL},
        {"socket", required_argument, NULL, OPT_SOCKET},
        {"state-dir", required_argument, NULL, OPT_STATE},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "c:fhV", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            o->config = optarg;
            break;
        case 'f':
            o->foreground = true;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        case 'V':
            printf("simgated %s (%s)\n", SG_VERSION, SG_GIT_REV);
            exit(0);
        case OPT_BOARDS:
            o->ov.boards_dir = optarg;
            break;
        case OPT_CHECK:
            o->check_config = true;
            break;
        case OPT_LEVEL:
            o->ov.log_level = optarg;
            break;
        case OPT_SOCKET:
            o->ov.socket = optarg;
            break;
        case OPT_STATE:
            o->ov.state_dir = optarg;
            break;
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "simgated: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static char default_config[] = SG_SYSCONFDIR "/simgate/simgated.conf";
    struct opts o = {.config = default_config};
    if (parse_args(argc, argv, &o) != 0)
        return EXIT_USAGE;

    struct sg_config *cfg = NULL;
    struct sg_err err;
    if (cfg_load(o.config, &o.ov, &cfg, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return EXIT_CONFIG;
    }
    if (o.check_config) {
        printf("%s: configuration ok (%zu modem%s%s%s)\n", o.config, cfg->nmodems,
               cfg->nmodems == 1 ? "" : "s", cfg->board[0] ? ", board " : "", cfg->board);
        cfg_free(cfg);
        return 0;
    }

    if (!o.foreground && daemon(0, 0) != 0) {
        fprintf(stderr, "simgated: daemon: %s\n", strerror(errno));
        cfg_free(cfg);
        return EXIT_RUNTIME;
    }
    struct sglog log;
    log_setup(&log, (enum log_level)log_level_parse(cfg->log_level), !o.foreground);

    struct gw_opts gopts = {.config_path = o.config, .overrides = o.ov};
    struct gw *gw = NULL;
    if (gw_new(&gopts, cfg, &log, &gw, &err) != 0) {
        log_err(&log, "event=start result=failed reason=\"%s\"", err.msg);
        return EXIT_RUNTIME;
    }
    int rc = gw_run(gw);
    gw_free(gw);
    return rc == 0 ? 0 : EXIT_RUNTIME;
}
