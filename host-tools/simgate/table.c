/*
 * table: see table.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "host-tools/simgate/table.h"

struct table {
    const char *const *headers;
    size_t ncols;
    size_t cap[TABLE_COLS_MAX]; /* 0 = no cap */
    char **cells;               /* nrows * ncols, row-major */
    size_t nrows, rows_alloc;
};

struct table *table_new(const char *const *headers, size_t ncols)
{
    if (ncols == 0 || ncols > TABLE_COLS_MAX)
        return NULL;
    struct table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->headers = headers;
    t->ncols = ncols;
    return t;
}

void table_free(struct table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

void table_cap(struct table *t, size_t col, size_t width)
{
    if (col < t->ncols)
        t->cap[col] = width < 4 ? 4 : width;
}

size_t table_rows(const struct table *t)
{
    return t->nrows;
}

size_t table_width(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xC0) != 0x80)
            n++;
    return n;
}

/* A copy of s with control characters made visible, cut to cap code points
 * (0 = no cap) with "..." at the end when cut. */
static char *cell_copy(const char *s, size_t cap)
{
    size_t len = strlen(s);
    char *o = malloc(len * 2 + 4);
    if (!o)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\n' || ch == '\r' || ch == '\t') {
            o[j++] = '\\';
            o[j++] = ch == '\n' ? 'n' : ch == '\r' ? 'r' : 't';
        } else {
            o[j++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
        }
    }
    o[j] = '\0';
    if (cap && table_width(o) > cap) {
        size_t w = 0, k = 0;
        /* keep cap - 3 code points, never splitting one */
        for (; o[k]; k++) {
            if (((unsigned char)o[k] & 0xC0) != 0x80 && w++ == cap - 3)
                break;
        }
        memcpy(o + k, "...", 4);
    }
    return o;
}

int table_add(struct table *t, const char *const *cells)
{
    if (t->nrows == t->rows_alloc) {
        size_t n = t->rows_alloc ? t->rows_alloc * 2 : 16;
        char **nc = realloc(t->cells, n * t->ncols * sizeof(*nc));
        if (!nc)
            return -ENOMEM;
        t->cells = nc;
        t->rows_alloc = n;
    }
    char **row = t->cells + t->nrows * t->ncols;
    for (size_t c = 0; c < t->ncols; c++) {
        row[c] = cell_copy(cells[c] ? cells[c] : "-", t->cap[c]);
        if (!row[c]) {
            while (c-- > 0)
                free(row[c]);
            return -ENOMEM;
        }
    }
    t->nrows++;
    return 0;
}

static void print_row(const struct table *t, const size_t *w, const char *const *cells, FILE *f)
{
    for (size_t c = 0; c < t->ncols; c++) {
        fputs(cells[c], f);
        if (c + 1 < t->ncols)
            fprintf(f, "%*s", (int)(w[c] - table_width(cells[c]) + 2), "");
    }
    fputc('\n', f);
}

void table_print(const struct table *t, FILE *f)
{
    size_t w[TABLE_COLS_MAX];
    for (size_t c = 0; c < t->ncols; c++) {
        w[c] = t->headers ? table_width(t->headers[c]) : 0;
        for (size_t r = 0; r < t->nrows; r++) {
            size_t cw = table_width(t->cells[r * t->ncols + c]);
            if (cw > w[c])
                w[c] = cw;
        }
    }
    if (t->headers)
        print_row(t, w, t->headers, f);
    for (size_t r = 0; r < t->nrows; r++)
        print_row(t, w, (const char *const *)(t->cells + r * t->ncols), f);
}
