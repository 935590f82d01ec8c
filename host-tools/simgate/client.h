/*
 * client: HTTP/1.1 + JSON requests to simgated over its Unix socket
 * (libcurl with CURLOPT_UNIX_SOCKET_PATH, bodies parsed by jansson).
 *
 * One client keeps one connection alive across requests (follow modes
 * long-poll on it). It never prints and never exits: every failure is a
 * negative errno-style code plus a line in the caller's sg_err.
 *
 * Failure codes of client_request (the HTTP status is NOT a failure: a 4xx
 * or 5xx answer returns 0 with resp->status set):
 *   -ENOENT        no socket file at the path
 *   -ECONNREFUSED  the file is there but nobody listens (daemon stopped or
 *                  killed), or it is not a socket
 *   -EACCES        not allowed to connect (socket group / mode)
 *   -ETIMEDOUT     no complete answer within the timeout
 *   -EPROTO        the answer is not HTTP, or its body is not JSON
 *   -EMSGSIZE      the body is over CLIENT_BODY_MAX
 *   -EIO           any other transfer error
 *   -ENOMEM
 */
#ifndef SG_SIMGATE_CLIENT_H
#define SG_SIMGATE_CLIENT_H

#include <jansson.h>
#include <stddef.h>

#include "drivers/base/sg_err.h"

/* Largest answer body accepted. The API's biggest pages (1000 messages or
 * 200 inbound texts of up to 8 KiB) stay well below it. */
#define CLIENT_BODY_MAX (4u * 1024 * 1024)
/* Longest request path with its query string. */
#define CLIENT_PATH_MAX 1024

struct client;

struct client_resp {
    long status;  /* HTTP status */
    json_t *body; /* parsed body, owned by the response (client_resp_clear) */
};

/* socket_path is copied. */
int client_new(const char *socket_path, struct client **out, struct sg_err *err);
void client_free(struct client *c);

/* One request. path is "/v1/..." with its query; body (borrowed) is sent as
 * JSON when not NULL; idem_key adds an Idempotency-Key header when not NULL.
 * timeout_ms bounds the whole exchange (connect included). On 0 the caller
 * owns resp->body and releases it with client_resp_clear(). Bodies that
 * are empty are returned as resp->body == NULL; bodies that are not JSON
 * fail with -EPROTO. */
int client_request(struct client *c, const char *method, const char *path, const json_t *body,
                   const char *idem_key, long timeout_ms, struct client_resp *resp,
                   struct sg_err *err);
void client_resp_clear(struct client_resp *resp);

/* The API's error object {"error": {"code", "message", "field"}}: fills the
 * pointers (borrowed from body; field NULL when absent) and returns 0, or
 * -EINVAL when body is not such an object. */
int client_error_parts(const json_t *body, const char **code, const char **message,
                       const char **field);

/* Appends "?key=value" or "&key=value" to the NUL-terminated path in buf
 * (capacity cap), percent-encoding value (RFC 3986 unreserved characters
 * pass through). -ENAMETOOLONG when it does not fit (buf unchanged). */
int client_query_add(char *buf, size_t cap, const char *key, const char *value);

#endif
