/*
 * table: aligned text tables for the CLI's human output. Columns are as
 * wide as their widest cell (counted in UTF-8 code points), separated by
 * two spaces; the last column is not padded.
 *
 * Cells are copied. Control characters (an SMS may hold CR/LF/TAB) are
 * shown as "\n", "\r", "\t" or "?" so that one row stays one line. A column
 * may be capped (table_cap): longer cells are cut and end with "...".
 * Caps: TABLE_COLS_MAX columns; rows are bounded by what the API pages
 * return (at most 1000).
 */
#ifndef SG_SIMGATE_TABLE_H
#define SG_SIMGATE_TABLE_H

#include <stddef.h>
#include <stdio.h>

#define TABLE_COLS_MAX 16

struct table;

/* headers: ncols strings (borrowed until table_free), or NULL for a table
 * without a header line (key/value blocks). NULL on ENOMEM or
 * ncols out of 1..TABLE_COLS_MAX. */
struct table *table_new(const char *const *headers, size_t ncols);
void table_free(struct table *t);
/* Cuts cells of column col to at most width code points (>= 4). */
void table_cap(struct table *t, size_t col, size_t width);
/* Adds one row of ncols cells (NULL cell = "-"). -ENOMEM. */
int table_add(struct table *t, const char *const *cells);
size_t table_rows(const struct table *t);
/* Prints the header line and every row. */
void table_print(const struct table *t, FILE *f);

/* Display width of a UTF-8 string, in code points. */
size_t table_width(const char *s);

#endif
