/*
 * client: see client.h. One curl easy handle per client, reused so that
 * consecutive requests (long-polls in follow modes) share a connection.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "host-tools/simgate/client.h"

struct client {
    CURL *curl;
    char *socket_path;
    char errbuf[CURL_ERROR_SIZE];
    /* body of the answer being read */
    char *buf;
    size_t len, cap;
    bool too_big;
};

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    struct client *c = ud;
    size_t add = size * n;
    if (add > CLIENT_BODY_MAX - c->len) {
        c->too_big = true;
        return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
    }
    if (c->len + add + 1 > c->cap) {
        size_t ncap = c->cap ? c->cap : 4096;
        while (ncap < c->len + add + 1)
            ncap *= 2;
        char *nb = realloc(c->buf, ncap);
        if (!nb)
            return 0;
        c->buf = nb;
        c->cap = ncap;
    }
    memcpy(c->buf + c->len, data, add);
    c->len += add;
    c->buf[c->len] = '\0';
    return add;
}

int client_new(const char *socket_path, struct client **out, struct sg_err *err)
{
    *out = NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return sg_errf(err, -ENOMEM, "client: libcurl initialisation failed");
    struct client *c = calloc(1, sizeof(*c));
    if (!c || !(c->socket_path = strdup(socket_path)) || !(c->curl = curl_easy_init())) {
        if (c)
            free(c->socket_path);
        free(c);
        return sg_errf(err, -ENOMEM, "client: out of memory");
    }
    *out = c;
    return 0;
}

void client_free(struct client *c)
{
    if (!c)
        return;
    curl_easy_cleanup(c->curl);
    free(c->socket_path);
    free(c->buf);
    free(c);
    curl_global_cleanup();
}

void client_resp_clear(struct client_resp *resp)
{
    json_decref(resp->body);
    resp->body = NULL;
    resp->status = 0;
}

/* Turns a failed transfer into one of the codes documented in client.h. */
static int transfer_error(struct client *c, CURLcode rc, struct sg_err *err)
{
    long oserr = 0;
    struct stat st;
    curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &oserr);
    const char *why = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
        if (oserr == ENOENT)
            return sg_errf(err, -ENOENT, "no socket at %s", c->socket_path);
        if (oserr == EACCES || oserr == EPERM)
            return sg_errf(err, -EACCES, "not allowed to connect to %s", c->socket_path);
        if (stat(c->socket_path, &st) == 0 && !S_ISSOCK(st.st_mode))
            return sg_errf(err, -ECONNREFUSED, "%s is not a socket", c->socket_path);
        return sg_errf(err, -ECONNREFUSED, "nobody listens on %s (%s)", c->socket_path,
                       oserr ? strerror((int)oserr) : why);
    case CURLE_OPERATION_TIMEDOUT:
        return sg_errf(err, -ETIMEDOUT, "no answer from %s in time", c->socket_path);
    case CURLE_WRITE_ERROR:
        if (c->too_big)
            return sg_errf(err, -EMSGSIZE, "answer larger than %u bytes", CLIENT_BODY_MAX);
        return sg_errf(err, -ENOMEM, "out of memory reading the answer");
    case CURLE_OUT_OF_MEMORY:
        return sg_errf(err, -ENOMEM, "out of memory");
    case CURLE_GOT_NOTHING:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_UNSUPPORTED_PROTOCOL:
        return sg_errf(err, -EPROTO, "%s did not answer HTTP: %s", c->socket_path, why);
    default:
        return sg_errf(err, -EIO, "%s: %s", c->socket_path, why);
    }
}

int client_request(struct client *c, const char *method, const char *path, const json_t *body,
                   const char *idem_key, long timeout_ms, struct client_resp *resp,
                   struct sg_err *err)
{
    resp->status = 0;
    resp->body = NULL;
    char url[CLIENT_PATH_MAX + 32];
    if (strlen(path) > CLIENT_PATH_MAX || path[0] != '/')
        return sg_errf(err, -EINVAL, "client: bad request path");
    snprintf(url, sizeof(url), "http://localhost%s", path);

    char *payload = NULL;
    struct curl_slist *hdrs = NULL;
    char idem[256];
    int rc = -ENOMEM;
    if (body) {
        payload = json_dumps(body, JSON_COMPACT);
        if (!payload)
            return sg_errf(err, -ENOMEM, "client: cannot serialise the request");
        if (!(hdrs = curl_slist_append(hdrs, "Content-Type: application/json")))
            goto out;
    }
    if (idem_key) {
        snprintf(idem, sizeof(idem), "Idempotency-Key: %s", idem_key);
        struct curl_slist *h = curl_slist_append(hdrs, idem);
        if (!h)
            goto out;
        hdrs = h;
    }
    /* libcurl adds "Expect: 100-continue" to large POSTs; the daemon does not
     * need the extra round trip. */
    struct curl_slist *h = curl_slist_append(hdrs, "Expect:");
    if (!h)
        goto out;
    hdrs = h;

    CURL *k = c->curl;
    curl_easy_reset(k);
    c->len = 0;
    c->too_big = false;
    c->errbuf[0] = '\0';
    if (c->buf)
        c->buf[0] = '\0';
    curl_easy_setopt(k, CURLOPT_UNIX_SOCKET_PATH, c->socket_path);
    curl_easy_setopt(k, CURLOPT_URL, url);
    curl_easy_setopt(k, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(k, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(k, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(k, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(k, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(k, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(k, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(k, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 5000 ? timeout_ms : 5000L);
    curl_easy_setopt(k, CURLOPT_PROTOCOLS_STR, "http");
    if (payload) {
        curl_easy_setopt(k, CURLOPT_POSTFIELDS, payload);
        curl_easy_setopt(k, CURLOPT_POSTFIELDSIZE, (long)strlen(payload));
    } else if (!strcmp(method, "GET")) {
        curl_easy_setopt(k, CURLOPT_HTTPGET, 1L);
    }

    CURLcode cc = curl_easy_perform(k);
    if (cc != CURLE_OK) {
        rc = transfer_error(c, cc, err);
        goto out;
    }
    curl_easy_getinfo(k, CURLINFO_RESPONSE_CODE, &resp->status);
    if (c->len > 0) {
        json_error_t je;
        resp->body = json_loadb(c->buf, c->len, 0, &je);
        if (!resp->body) {
            rc = sg_errf(err, -EPROTO, "HTTP %ld answer is not JSON: %s", resp->status, je.text);
            resp->status = 0;
            goto out;
        }
    }
    rc = 0;
out:
    curl_slist_free_all(hdrs);
    free(payload);
    if (rc == -ENOMEM && err && !err->msg[0])
        sg_errf(err, -ENOMEM, "client: out of memory");
    return rc;
}

int client_error_parts(const json_t *body, const char **code, const char **message,
                       const char **field)
{
    const json_t *e = json_object_get(body, "error");
    const char *c = json_string_value(json_object_get(e, "code"));
    if (!c)
        return -EINVAL;
    const char *m = json_string_value(json_object_get(e, "message"));
    *code = c;
    *message = m ? m : "";
    *field = json_string_value(json_object_get(e, "field"));
    return 0;
}

static bool unreserved(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

int client_query_add(char *buf, size_t cap, const char *key, const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t len = strlen(buf);
    size_t need = len + 1 + strlen(key) + 1;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        need += unreserved(*p) ? 1 : 3;
    if (need + 1 > cap)
        return -ENAMETOOLONG;
    char *o = buf + len;
    *o++ = strchr(buf, '?') ? '&' : '?';
    size_t kl = strlen(key);
    memcpy(o, key, kl);
    o += kl;
    *o++ = '=';
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if (unreserved(*p)) {
            *o++ = (char)*p;
        } else {
            *o++ = '%';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        }
    }
    *o = '\0';
    return 0;
}
