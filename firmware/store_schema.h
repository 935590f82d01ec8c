/*
 * store_schema: the numbered schema migrations of simgate.db.
 *
 * Step i (0-based) takes the database from user_version i to i + 1. Steps
 * are append-only: a released step is never edited, a change is a new step.
 * store.c runs each step in its own transaction together with the
 * `PRAGMA user_version` bump, so a crash leaves the file at a whole version.
 */
#ifndef SG_STORE_SCHEMA_H
#define SG_STORE_SCHEMA_H

#include <stddef.h>

/* The steps (static storage) and their count = the code's schema version. */
const char *const *store_schema_steps(size_t *n);

#endif
