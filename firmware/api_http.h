/*
 * api_http: the API's transport. HTTP/1.1 over a Unix socket (and an
 * optional TCP listener) with libmicrohttpd driven from the daemon's libuv
 * loop: no MHD thread. Each listener is one MHD daemon in external epoll
 * mode; its epoll fd is watched by a uv_poll_t and MHD_run() is called from
 * it and from one uv_timer_t armed with MHD_get_timeout().
 *
 * What this layer does before a handler runs, in order:
 *   1. route: (method, path) through the caller's const table; 404 for an
 *      unknown path, 405 with Allow for a known path and another method;
 *   2. TCP: `Authorization: Bearer <token>` or 401 (tokens are kept as
 *      BLAKE2b hashes and compared with sodium_memcmp, every one of them);
 *      Unix socket: the peer's uid (SO_PEERCRED) must be ours or listed in
 *      opts.uids when that list is not empty, else 403;
 *   3. query parameters not named in the route: 400 unknown_parameter;
 *   4. a body (Content-Length > 0 or chunked) must be application/json
 *      (415) and at most body_max bytes (413, also for chunked bodies);
 *   5. the handler gets the whole body.
 * Every error answer is `{"error": {"code": …, "message": …, "field": …}}`.
 *
 * Replies: a handler answers with api_req_reply*() exactly once, either
 * before it returns or later (from a commit callback, a long-poll wake-up):
 * a request not answered when its handler returns is suspended
 * (MHD_suspend_connection) until it is. Suspended requests are capped by
 * the caller (the long-poll and submit code); a suspended connection is not
 * watched, so a client that hangs up is noticed only when it is answered.
 *
 * Write routes (route.write) are logged at info with the peer's uid/pid
 * (SO_PEERCRED) or TCP address, status and duration; reads at debug.
 *
 * Ownership: api_http_new copies the options' strings; routes, ud and log
 * are borrowed and must outlive the object. A struct api_req belongs to this
 * layer; it stays valid from the handler call until it is answered (after
 * the reply call it must not be touched).
 * Threading: the loop's thread only.
 */
#ifndef SG_API_HTTP_H
#define SG_API_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>
#include <uv.h>

#include "drivers/base/sg_err.h"
#include "firmware/log.h"

#define API_HTTP_BODY_MAX_DEFAULT (64u * 1024u)  /* request body cap: beyond -> 413 */
#define API_HTTP_CONN_MAX_DEFAULT 128u           /* connections per listener */
#define API_HTTP_TIMEOUT_DEFAULT 30u             /* idle connection timeout, seconds */
#define API_HTTP_TOKENS_MAX 8                    /* bearer tokens accepted on TCP */
#define API_HTTP_TOKEN_MIN 16                    /* shorter tokens are refused at start */
#define API_HTTP_HEADERS_MAX 4                   /* extra headers per reply */
#define API_HTTP_QUERY_MAX 8                     /* query parameters a route may name */
#define API_HTTP_UIDS_MAX 16                     /* allowed peer uids on the Unix socket */

struct api_req;

/* arg: the path segment matched by '*' in the pattern ("" when none). */
typedef void (*api_http_handler)(void *ud, struct api_req *req, const char *arg);

/* One row of the route table. pattern is a path whose segments are literal
 * or '*' (exactly one non-empty segment, without '/'): "/v1/messages/ *". */
struct api_route {
    const char *method;                        /* "GET", "POST", "DELETE" */
    const char *pattern;
    api_http_handler fn;
    bool write;                                /* logged at info with peer credentials */
    const char *query[API_HTTP_QUERY_MAX];     /* allowed query parameters, NULL-ended */
};

struct api_http_opts {
    const char *socket_path;        /* required */
    unsigned socket_mode;           /* 0 = 0660 */
    const char *socket_group;       /* NULL or "" = the process's group */
    /* Peer uids allowed on the Unix socket besides our own (SO_PEERCRED);
     * nuids 0 = whoever the file mode lets connect. Others get 403. */
    const uid_t *uids;
    size_t nuids;
    const char *tcp_listen;         /* NULL or "" = off; "127.0.0.1:8080", "[::1]:8080" */
    const char *const *tokens;      /* bearer tokens for TCP (required when TCP is on) */
    size_t ntokens;
    size_t body_max;                /* 0 = API_HTTP_BODY_MAX_DEFAULT */
    unsigned conn_max;              /* 0 = API_HTTP_CONN_MAX_DEFAULT */
    unsigned conn_timeout_s;        /* 0 = API_HTTP_TIMEOUT_DEFAULT */
    const struct api_route *routes; /* borrowed */
    size_t nroutes;
    void *ud;                       /* handlers' first argument */
    const struct sglog *log;        /* borrowed; NULL = silent */
};

struct api_http;

/*
 * Binds the Unix socket (a stale socket file is removed only when nothing
 * answers on it; any other existing file is an error), sets its mode and
 * group, optionally binds TCP, and starts serving on loop.
 * Errors: -EADDRINUSE (a live server owns the socket), -EEXIST (not a
 * socket), -EINVAL (bad options), -errno of a failed system call, -EIO (MHD).
 */
int api_http_new(uv_loop_t *loop, const struct api_http_opts *o, struct api_http **out,
                 struct sg_err *err);
/*
 * Answers every still-suspended request with 503 shutting_down (after
 * calling its abort hook), stops MHD, removes the socket file and closes
 * the loop handles. The memory is released by the handles' close
 * callbacks, so the loop must run once more (uv_run) after this.
 */
void api_http_free(struct api_http *h);

/* Path of the Unix socket; TCP port actually bound (0 when off). */
const char *api_http_socket_path(const struct api_http *h);
int api_http_tcp_port(const struct api_http *h);
/* Requests suspended right now. */
size_t api_http_suspended(const struct api_http *h);
/* Answers sent with this status so far (metrics). */
uint64_t api_http_count(const struct api_http *h, unsigned status);

/* ------------------------------------------------------------ request */

struct api_peer {
    bool has_cred;   /* Unix socket: SO_PEERCRED worked */
    uid_t uid;
    gid_t gid;
    pid_t pid;
    bool tcp;
    int token;       /* TCP: index of the matching token */
    char addr[64];   /* TCP: "127.0.0.1:5678"; Unix: "unix" */
};

const char *api_req_method(const struct api_req *r);
const char *api_req_path(const struct api_req *r);
/* Header / query value (first occurrence), NULL when absent. */
const char *api_req_header(const struct api_req *r, const char *name);
const char *api_req_query(const struct api_req *r, const char *name);
/* The body (NUL-terminated for convenience; len excludes the NUL). */
const char *api_req_body(const struct api_req *r, size_t *len);
const struct api_peer *api_req_peer(const struct api_req *r);

/* Adds a header to the coming reply (e.g. Retry-After); at most
 * API_HTTP_HEADERS_MAX, both strings copied. */
void api_req_header_add(struct api_req *r, const char *name, const char *value);
/* Extra key=value text for the request's log line ("id=17"); copied. */
void api_req_log_note(struct api_req *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Called once if the request is dropped unanswered (daemon shutdown), so
 * whoever holds it (a long-poll list) can forget it. */
void api_req_on_abort(struct api_req *r, void (*fn)(void *ud, struct api_req *r), void *ud);

/* Answers: body is taken over (free()d by this layer), may be NULL. */
void api_req_reply(struct api_req *r, unsigned status, const char *content_type, char *body,
                   size_t len);
/* Answers with the JSON value (reference stolen), compact, "\n"-terminated. */
void api_req_reply_json(struct api_req *r, unsigned status, json_t *v);
/* Answers {"error": {"code", "message", "field"?}}; field may be NULL. */
void api_req_error(struct api_req *r, unsigned status, const char *code, const char *field,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* ------------------------------------------------------------ pure helpers */

/* Does path match pattern? On a match, the '*' segment is copied to arg
 * (argn bytes; "" when the pattern has none). Segments over argn-1 bytes
 * do not match. */
bool api_http_match(const char *pattern, const char *path, char *arg, size_t argn);
/* "application/json", optionally with parameters ("; charset=utf-8"),
 * case-insensitive. */
bool api_http_is_json(const char *content_type);
/* "host:port" or "[v6]:port" -> host and port. -EINVAL when malformed. */
int api_http_split_hostport(const char *s, char *host, size_t hostn, int *port);

#endif
