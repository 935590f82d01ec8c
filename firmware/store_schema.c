/*
 * store_schema: migrations of simgate.db, one SQL script per version.
 *
 * Index choices (the hot queries are in store.c):
 *   messages_due     (priority, next_attempt_at, id) WHERE state='queued':
 *                    the dispatcher seeks once per priority, O(log n) at
 *                    100,000 queued; the partial index holds only queued rows.
 *   messages_expiry  (expires_at) WHERE state='queued': the TTL sweep and the
 *                    earliest-expiry timer.
 *   messages_state   (state, updated_at): listing by status, retention.
 *   parts_mr         (iccid, mr, sent_at): status-report matching.
 *   events_at        (at): retention; readers page by seq (the rowid).
 * messages, inbound and events use AUTOINCREMENT: an id handed to a client
 * or a cursor is never reused after retention deleted the newest rows.
 */
#include "firmware/store_schema.h"

static const char *const steps[] = {
    /* 1: initial schema */
    "CREATE TABLE messages ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " idem_key TEXT UNIQUE,"
    " param_hash TEXT,"
    " to_number TEXT NOT NULL,"
    " text TEXT NOT NULL,"
    " priority INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 3),"
    " encoding TEXT NOT NULL,"
    " parts INTEGER NOT NULL CHECK (parts >= 1),"
    " status_report INTEGER NOT NULL DEFAULT 0,"
    " ttl_ms INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " state TEXT NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " next_attempt_at INTEGER NOT NULL,"
    " last_error TEXT,"
    " modem TEXT,"
    " iccid TEXT,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL);"
    "CREATE INDEX messages_due ON messages(priority, next_attempt_at, id) WHERE state = 'queued';"
    "CREATE INDEX messages_expiry ON messages(expires_at) WHERE state = 'queued';"
    "CREATE INDEX messages_state ON messages(state, updated_at);"
    "CREATE TABLE message_parts ("
    " msg_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
    " seq INTEGER NOT NULL,"
    " tpdu_len INTEGER NOT NULL,"
    " pdu TEXT NOT NULL,"
    " iccid TEXT,"
    " modem TEXT,"
    " mr INTEGER,"
    " sent_at INTEGER,"
    " status INTEGER NOT NULL DEFAULT 0,"
    " dlr_st INTEGER,"
    " dlr_at INTEGER,"
    " PRIMARY KEY (msg_id, seq)) WITHOUT ROWID;"
    "CREATE INDEX parts_mr ON message_parts(iccid, mr, sent_at) WHERE mr IS NOT NULL;"
    "CREATE TABLE message_history ("
    " id INTEGER PRIMARY KEY,"
    " msg_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
    " at INTEGER NOT NULL,"
    " from_state TEXT,"
    " to_state TEXT NOT NULL,"
    " modem TEXT,"
    " iccid TEXT,"
    " mr INTEGER,"
    " cause TEXT);"
    "CREATE INDEX history_msg ON message_history(msg_id, id);"
    "CREATE TABLE sims ("
    " iccid TEXT PRIMARY KEY,"
    " imsi TEXT,"
    " msisdn TEXT,"
    " label TEXT,"
    " day_key INTEGER NOT NULL DEFAULT 0,"
    " sent_day INTEGER NOT NULL DEFAULT 0,"
    " month_key INTEGER NOT NULL DEFAULT 0,"
    " sent_month INTEGER NOT NULL DEFAULT 0,"
    " consec_failures INTEGER NOT NULL DEFAULT 0,"
    " breaker_state INTEGER NOT NULL DEFAULT 0,"
    " breaker_until INTEGER NOT NULL DEFAULT 0,"
    " last_used_at INTEGER NOT NULL DEFAULT 0,"
    " updated_at INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE inbound ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " originator TEXT NOT NULL,"
    " text TEXT NOT NULL,"
    " received_at INTEGER NOT NULL,"
    " smsc_ts INTEGER NOT NULL DEFAULT 0,"
    " concat_ref INTEGER NOT NULL DEFAULT -1,"
    " concat_total INTEGER NOT NULL DEFAULT 1,"
    " concat_seq INTEGER NOT NULL DEFAULT 1,"
    " grp TEXT,"
    " complete INTEGER NOT NULL,"
    " pdu TEXT,"
    " dedupe TEXT UNIQUE,"
    " iccid TEXT,"
    " modem TEXT);"
    "CREATE INDEX inbound_group ON inbound(grp, concat_seq) WHERE complete = 0;"
    "CREATE INDEX inbound_received ON inbound(complete, received_at);"
    "CREATE TABLE events ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " at INTEGER NOT NULL,"
    " type TEXT NOT NULL,"
    " msg_id INTEGER,"
    " payload TEXT NOT NULL);"
    "CREATE INDEX events_at ON events(at);",
};

const char *const *store_schema_steps(size_t *n)
{
    *n = sizeof steps / sizeof steps[0];
    return steps;
}
