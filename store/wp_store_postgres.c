/*  wp_store_postgres: the PostgreSQL store. This file connects, migrates
    the schema, prepares the statements, frames every call in a transaction
    (wp_store_postgres_int.h), applies expiry, and does the group commit,
    the savepoints of wp_store.c's batches and the housekeeping calls; the
    item, inspection and schedule calls live in wp_store_postgres_items.c,
    the worker calls in wp_store_postgres_workers.c, the schema's story in
    SCHEMA.md.

    Durability: a call reports WP_OK only once PostgreSQL answered COMMIT
    with COMMIT (a transaction it had aborted answers ROLLBACK, which is a
    failure here); a connection lost during the commit is WP_UNAVAILABLE,
    the outcome unknown. synchronous_commit is the server's, unless
    cfg->sync_full asks for more: then at least "on" (flushed locally, and
    on a synchronous standby if one is configured).  */
#include "wp_store_postgres_int.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  ---------------------------------------------------------------------
//  Parameters and results

static void
s_param (wp_pg_params_t *p, const char *value, int length, int format)
{
    if (p->count >= WP_PG_PARAMS_MAX)
        abort ();                       //  a statement with more: a bug here
    p->values [p->count] = value;
    p->lengths [p->count] = length;
    p->formats [p->count] = format;
    p->count++;
}

void
wp_pg_text (wp_pg_params_t *p, const char *text)
{
    s_param (p, text, 0, 0);
}

void
wp_pg_null (wp_pg_params_t *p)
{
    s_param (p, NULL, 0, 0);
}

void
wp_pg_int (wp_pg_params_t *p, int64_t value)
{
    char *buffer = p->text [p->count < WP_PG_PARAMS_MAX? p->count: 0];
    snprintf (buffer, sizeof p->text [0], "%" PRId64, value);
    s_param (p, buffer, 0, 0);
}

void
wp_pg_double (wp_pg_params_t *p, double value)
{
    char *buffer = p->text [p->count < WP_PG_PARAMS_MAX? p->count: 0];
    snprintf (buffer, sizeof p->text [0], "%.17g", value);
    s_param (p, buffer, 0, 0);
}

void
wp_pg_bool (wp_pg_params_t *p, bool value)
{
    s_param (p, value? "t": "f", 0, 0);
}

void
wp_pg_blob (wp_pg_params_t *p, const void *blob, size_t size, bool null_if_empty)
{
    if (size == 0 && null_if_empty)
        s_param (p, NULL, 0, 1);
    else
        s_param (p, size? (const char *) blob: "", (int) size, 1);
}

int64_t
wp_pg_us (double seconds)
{
    const double limit = 1152921504606846976.0;     //  2^60
    double us = seconds * 1e6;
    if (us != us)
        return 0;
    if (us > limit)
        return (int64_t) limit;
    if (us < -limit)
        return -(int64_t) limit;
    return (int64_t) (us + (us >= 0? 0.5: -0.5));
}

bool
wp_pg_is_null (const PGresult *res, int row, int col)
{
    return PQgetisnull (res, row, col) != 0;
}

//  A big-endian integer of size bytes.
static int64_t
s_be_int (const unsigned char *bytes, int size)
{
    uint64_t value = 0;
    for (int i = 0; i < size; i++)
        value = (value << 8) | bytes [i];
    //  Sign-extend the narrower types
    if (size < 8 && size > 0 && (bytes [0] & 0x80))
        value |= ~(uint64_t) 0 << (size * 8);
    return (int64_t) value;
}

int64_t
wp_pg_get_int (const PGresult *res, int row, int col)
{
    if (PQgetisnull (res, row, col))
        return 0;
    const char *value = PQgetvalue (res, row, col);
    if (PQfformat (res, col) == 0)
        return strtoll (value, NULL, 10);
    int size = PQgetlength (res, row, col);
    if (size == 1)
        return value [0] != 0;          //  a boolean
    if (size == 2 || size == 4 || size == 8)
        return s_be_int ((const unsigned char *) value, size);
    return 0;
}

double
wp_pg_get_double (const PGresult *res, int row, int col)
{
    if (PQgetisnull (res, row, col))
        return 0;
    const char *value = PQgetvalue (res, row, col);
    if (PQfformat (res, col) == 0)
        return strtod (value, NULL);
    if (PQgetlength (res, row, col) != 8)
        return 0;
    uint64_t bits = (uint64_t) s_be_int ((const unsigned char *) value, 8);
    double number;
    memcpy (&number, &bits, sizeof number);
    return number;
}

bool
wp_pg_get_bool (const PGresult *res, int row, int col)
{
    if (PQgetisnull (res, row, col))
        return false;
    const char *value = PQgetvalue (res, row, col);
    if (PQfformat (res, col) == 0)
        return value [0] == 't';
    return PQgetlength (res, row, col) == 1 && value [0] != 0;
}

char *
wp_pg_get_text (const PGresult *res, int row, int col)
{
    if (PQgetisnull (res, row, col))
        return NULL;
    int size = PQgetlength (res, row, col);
    char *text = malloc ((size_t) size + 1);
    if (!text)
        abort ();
    memcpy (text, PQgetvalue (res, row, col), (size_t) size);
    text [size] = 0;
    return text;
}

uint8_t *
wp_pg_get_blob (const PGresult *res, int row, int col, size_t *size)
{
    *size = 0;
    if (PQgetisnull (res, row, col) || PQgetlength (res, row, col) == 0)
        return NULL;
    //  Binary results only: every statement that reads a blob is prepared
    size_t length = (size_t) PQgetlength (res, row, col);
    uint8_t *blob = malloc (length);
    if (!blob)
        abort ();
    memcpy (blob, PQgetvalue (res, row, col), length);
    *size = length;
    return blob;
}

//  ---------------------------------------------------------------------
//  Errors and running statements

//  The status a SQLSTATE stands for.
static wp_status
s_status_of (const char *sqlstate)
{
    if (!sqlstate || strlen (sqlstate) != 5)
        return WP_UNAVAILABLE;          //  no server answer: the connection
    if (strncmp (sqlstate, "08", 2) == 0 || strncmp (sqlstate, "57", 2) == 0)
        return WP_UNAVAILABLE;          //  connection, operator intervention
    if (strncmp (sqlstate, "40", 2) == 0)
        return WP_ABORTED;              //  serialization failure, deadlock
    if (strcmp (sqlstate, "55P03") == 0 || strcmp (sqlstate, "57014") == 0)
        return WP_UNAVAILABLE;          //  lock not available, statement timeout
    if (strncmp (sqlstate, "53", 2) == 0)
        return WP_RESOURCE_EXHAUSTED;   //  disk full, out of memory, connections
    if (strncmp (sqlstate, "42", 2) == 0 && strcmp (sqlstate, "42501") == 0)
        return WP_PERMISSION_DENIED;
    if (strncmp (sqlstate, "23", 2) == 0)
        return WP_ABORTED;              //  a constraint raced by another broker
    if (strcmp (sqlstate, "XX001") == 0 || strcmp (sqlstate, "XX002") == 0)
        return WP_DATA_LOSS;
    return WP_INTERNAL;
}

//  libpq's message without its trailing newline, into buffer.
static const char *
s_message (PGconn *conn, const PGresult *res, char *buffer, size_t size)
{
    const char *text = res? PQresultErrorMessage (res): "";
    if (!text || !*text)
        text = PQerrorMessage (conn);
    if (!text || !*text)
        text = "no answer from the server";
    snprintf (buffer, size, "%s", text);
    size_t length = strlen (buffer);
    while (length && (buffer [length - 1] == '\n' || buffer [length - 1] == ' '))
        buffer [--length] = 0;
    return buffer;
}

wp_status
wp_pg_error (wp_pg_t *self, const PGresult *res, const char *doing)
{
    char text [400];
    s_message (self->conn, res, text, sizeof text);
    wp_status status = PQstatus (self->conn) == CONNECTION_BAD
        ? WP_UNAVAILABLE
        : s_status_of (res? PQresultErrorField (res, PG_DIAG_SQLSTATE): NULL);
    return wp_store_error (&self->base, status, "postgres: %s (while %s)", text, doing);
}

#define WP_PG_NAME_(name, sql) "wp_" #name,
static const char *const s_names [WP_PG_COUNT] = {
    WP_PG_STATEMENTS (WP_PG_NAME_)
};
#undef WP_PG_NAME_

#define WP_PG_SQL_(name, sql) sql,
static const char *const s_sql [WP_PG_COUNT] = {
    WP_PG_STATEMENTS (WP_PG_SQL_)
};
#undef WP_PG_SQL_

//  Runs statement id now, outside the frame's pipelined start.
static PGresult *
s_exec_plain (wp_pg_t *self, wp_pg_stmt_id id, const wp_pg_params_t *params,
              const char *doing, wp_status *status)
{
    PGresult *res = PQexecPrepared (self->conn, s_names [id], params? params->count: 0,
                                    params? params->values: NULL,
                                    params? params->lengths: NULL,
                                    params? params->formats: NULL, 1);
    ExecStatusType kind = res? PQresultStatus (res): PGRES_FATAL_ERROR;
    if (kind == PGRES_TUPLES_OK || kind == PGRES_COMMAND_OK) {
        *status = WP_OK;
        return res;
    }
    *status = wp_pg_error (self, res, doing);
    PQclear (res);
    return NULL;
}

wp_status
wp_pg_run (wp_pg_t *self, wp_pg_stmt_id id, const wp_pg_params_t *params,
           const char *doing, uint64_t *changed)
{
    wp_status status;
    PGresult *res = wp_pg_exec (self, id, params, doing, &status);
    if (res && changed) {
        const char *tuples = PQcmdTuples (res);
        *changed = tuples && *tuples? strtoull (tuples, NULL, 10): 0;
    }
    PQclear (res);
    return status;
}

//  Runs sql (one or more statements, no parameters) as one simple query.
//  *last (may be NULL) gets the result of the last statement that returned
//  rows (caller PQclear()s it; NULL if none did).
static wp_status
s_simple (wp_pg_t *self, const char *sql, const char *doing, PGresult **last)
{
    if (last)
        *last = NULL;
    if (!PQsendQuery (self->conn, sql))
        return wp_pg_error (self, NULL, doing);
    wp_status status = WP_OK;
    PGresult *res;
    while ((res = PQgetResult (self->conn))) {
        ExecStatusType kind = PQresultStatus (res);
        if (status == WP_OK && kind != PGRES_TUPLES_OK && kind != PGRES_COMMAND_OK)
            status = wp_pg_error (self, res, doing);
        if (kind == PGRES_TUPLES_OK && last && status == WP_OK) {
            PQclear (*last);
            *last = res;
        }
        else
            PQclear (res);
    }
    if (status && last) {
        PQclear (*last);
        *last = NULL;
    }
    return status;
}

//  Whether our connection is inside a transaction that can still commit.
static bool
s_in_transaction (wp_pg_t *self)
{
    return PQtransactionStatus (self->conn) == PQTRANS_INTRANS;
}

//  ---------------------------------------------------------------------
//  Expiry

//  The earlier of two due times, 0 meaning none.
static int64_t
s_earlier (int64_t a, int64_t b)
{
    return a && (!b || a < b)? a: b;
}

//  Reads the three due times (WP_PG_NEXT_DUE_SQL's columns) from res.
static void
s_due_read (const PGresult *res, int64_t *lease, int64_t *stale, int64_t *run_at)
{
    *lease = *stale = *run_at = 0;
    if (res && PQntuples (res) == 1 && PQnfields (res) >= 3) {
        *lease = wp_pg_get_int (res, 0, 0);
        *stale = wp_pg_get_int (res, 0, 1);
        *run_at = wp_pg_get_int (res, 0, 2);
    }
}

static wp_status
s_due_times (wp_pg_t *self, int64_t *lease, int64_t *stale, int64_t *run_at)
{
    PGresult *res;
    wp_status status = s_simple (self, WP_PG_NEXT_DUE_SQL, "looking for expired leases", &res);
    s_due_read (res, lease, stale, run_at);
    PQclear (res);
    return status;
}

wp_status
wp_pg_requeue (wp_pg_t *self, int64_t seq, const char *holder, uint32_t attempts,
               uint32_t max_retries, const wp_backoff_t *policy, const char *error,
               double retry_after, wp_item_state *state_out, bool *changed)
{
    int64_t due;
    wp_item_state state = wp_store_failure_state (&self->base, policy, attempts + 1, max_retries,
                                                  retry_after, &due);
    wp_pg_params_t p = { 0 };
    wp_pg_int (&p, seq);
    wp_pg_int (&p, (int64_t) state);
    wp_pg_int (&p, due);
    wp_pg_text (&p, error);
    wp_pg_int (&p, self->now);
    wp_pg_text (&p, holder);
    wp_status status;
    PGresult *res = wp_pg_exec (self, WP_PG_REQUEUE, &p, "failing the item", &status);
    if (res) {
        *changed = PQntuples (res) == 1 && wp_pg_get_int (res, 0, 0) == 1;
        *state_out = state;
        if (due)
            wp_pg_due_before (self, due);
    }
    PQclear (res);
    return status;
}

//  Fails every claimed item res holds (WP_PG_REQUEUE_COLUMNS, locked by
//  us) with error, counting each by its new state into op_reaped, and
//  *count (may be NULL) by one each.
static wp_status
s_requeue_rows (wp_pg_t *self, const PGresult *res, const char *error, uint64_t *count)
{
    wp_status status = WP_OK;
    for (int row = 0; row < PQntuples (res) && status == WP_OK; row++) {
        wp_backoff_t policy = {
            .base = wp_pg_get_double (res, row, 3),
            .cap = wp_pg_get_double (res, row, 4),
            .jitter = wp_pg_get_double (res, row, 5),
        };
        char *holder = wp_pg_get_text (res, row, 6);
        wp_item_state state;
        bool changed = false;
        status = wp_pg_requeue (self, wp_pg_get_int (res, row, 0), holder,
                                (uint32_t) wp_pg_get_int (res, row, 1),
                                (uint32_t) wp_pg_get_int (res, row, 2), &policy, error, 0,
                                &state, &changed);
        free (holder);
        if (status == WP_OK && changed) {
            wp_store_reap_count (&self->op_reaped, state);
            if (count)
                (*count)++;
        }
    }
    return status;
}

//  Returns the claims whose lease lapsed by cutoff.
static wp_status
s_expire_leases (wp_pg_t *self, int64_t cutoff)
{
    wp_pg_params_t p = { 0 };
    wp_pg_int (&p, cutoff);
    wp_status status;
    PGresult *res = wp_pg_exec (self, WP_PG_EXPIRED_ITEMS, &p, "expiring leases", &status);
    if (res)
        status = s_requeue_rows (self, res, "lease expired", &self->op_reaped.leases_expired);
    PQclear (res);
    return status;
}

//  Declares lost the active workers stale by cutoff and returns their
//  claims.
static wp_status
s_lose_workers (wp_pg_t *self, int64_t cutoff)
{
    wp_pg_params_t p = { 0 };
    wp_pg_int (&p, cutoff);
    wp_status status;
    PGresult *lost = wp_pg_exec (self, WP_PG_LOST_WORKERS, &p, "declaring stale workers lost",
                                 &status);
    for (int row = 0; lost && row < PQntuples (lost) && status == WP_OK; row++) {
        wp_pg_params_t q = { 0 };
        wp_pg_text (&q, PQgetvalue (lost, row, 0));
        PGresult *items = wp_pg_exec (self, WP_PG_LOST_ITEMS, &q,
                                      "returning a lost worker's items", &status);
        if (items)
            status = s_requeue_rows (self, items, "worker lost", NULL);
        PQclear (items);
        if (status == WP_OK)
            self->op_reaped.workers_lost++;
    }
    PQclear (lost);
    return status;
}

static wp_status
s_promote (wp_pg_t *self)
{
    wp_pg_params_t p = { 0 };
    wp_pg_int (&p, self->now);
    uint64_t changed = 0;
    wp_status status = wp_pg_run (self, WP_PG_PROMOTE, &p, "making due items pending", &changed);
    if (status == WP_OK)
        self->op_reaped.promoted += changed;
    return status;
}

//  Applies what is due at self->now, in the order it fell due (as the
//  SQLite store does): a lease that lapsed before its worker went stale
//  expires as a lease, a worker that went stale first takes its claims
//  back with "worker lost"; then scheduled items whose time has come.
//  lease, stale, run_at: the due times read last.
static wp_status
s_apply_due (wp_pg_t *self, int64_t lease, int64_t stale, int64_t run_at)
{
    while (true) {
        bool stale_due = stale && stale <= self->now;
        int64_t cutoff = stale_due? stale - 1: self->now;
        wp_status status = WP_OK;
        if (lease && lease <= cutoff) {
            status = s_expire_leases (self, cutoff);
            if (status)
                return status;
        }
        if (!stale_due)
            return run_at && run_at <= self->now? s_promote (self): WP_OK;
        status = s_lose_workers (self, stale);
        if (status)
            return status;
        //  Items another broker holds were skipped: what is still due is
        //  read again, and what we cannot take now waits for a later reap
        int64_t before = stale;
        status = s_due_times (self, &lease, &stale, &run_at);
        if (status)
            return status;
        if (stale == before)
            stale = 0;                  //  held elsewhere: not ours to wait for
    }
}

static bool
s_is_due (int64_t lease, int64_t stale, int64_t run_at, int64_t now)
{
    int64_t next = s_earlier (s_earlier (lease, stale), run_at);
    return next != 0 && next <= now;
}

//  Applies what is due (the due times just read), inside SAVEPOINT expire
//  in a group so that a failure leaves no half-applied expiry behind (and
//  the group alive); outside one a failure abandons the call's transaction.
static wp_status
s_expire (wp_pg_t *self, int64_t lease, int64_t stale, int64_t run_at)
{
    if (!s_is_due (lease, stale, run_at, self->now))
        return WP_OK;
    wp_status status = WP_OK;
    if (self->in_group)
        status = s_simple (self, "SAVEPOINT expire", "opening a savepoint", NULL);
    if (status == WP_OK)
        status = s_apply_due (self, lease, stale, run_at);
    if (self->in_group) {
        if (status) {
            memset (&self->op_reaped, 0, sizeof self->op_reaped);
            s_simple (self, "ROLLBACK TO expire; RELEASE expire", "rolling back expiry", NULL);
        }
        else
            status = s_simple (self, "RELEASE expire", "applying expiry", NULL);
    }
    return status;
}

//  ---------------------------------------------------------------------
//  Connection

static wp_status
s_prepare (wp_pg_t *self)
{
    for (int i = 0; i < WP_PG_COUNT; i++) {
        PGresult *res = PQprepare (self->conn, s_names [i], s_sql [i], 0, NULL);
        bool ok = res && PQresultStatus (res) == PGRES_COMMAND_OK;
        if (!ok) {
            char doing [64];
            snprintf (doing, sizeof doing, "preparing statement %s", s_names [i]);
            wp_status status = wp_pg_error (self, res, doing);
            PQclear (res);
            return status;
        }
        PQclear (res);
    }
    self->prepared = true;
    return WP_OK;
}

//  Outside a transaction: a connection that broke (the server restarted,
//  the network failed) is made again, and its statements prepared, so a
//  broker outlives a PostgreSQL restart. A group never spans a reconnect.
static wp_status s_session (wp_pg_t *self);

static wp_status
s_connected (wp_pg_t *self)
{
    if (PQstatus (self->conn) == CONNECTION_OK && self->prepared)
        return WP_OK;
    if (PQstatus (self->conn) != CONNECTION_OK) {
        self->prepared = false;
        PQreset (self->conn);
        if (PQstatus (self->conn) != CONNECTION_OK)
            return wp_pg_error (self, NULL, "connecting again");
        //  A new session: its settings again, then its statements
        wp_status status = s_session (self);
        if (status)
            return status;
    }
    return s_prepare (self);
}

//  ---------------------------------------------------------------------
//  The transaction frame (see wp_store_postgres_int.h)

//  Ends a transaction begun by this call, after a failure.
static void
s_abandon (wp_pg_t *self)
{
    //  The failure that brought us here is the one to report
    char saved [sizeof self->base.errmsg];
    memcpy (saved, self->base.errmsg, sizeof saved);
    if (PQtransactionStatus (self->conn) != PQTRANS_IDLE
    &&  PQstatus (self->conn) == CONNECTION_OK)
        s_simple (self, "ROLLBACK", "rolling back", NULL);
    memcpy (self->base.errmsg, saved, sizeof saved);
    memset (&self->op_reaped, 0, sizeof self->op_reaped);
    self->op_open = false;
    self->due_known = false;            //  what was undone may be due again
}

//  Notes that the group's transaction is lost (the connection broke, or a
//  statement failed outside any savepoint); every call until commit or
//  rollback then fails the same way.
static void
s_check_group (wp_pg_t *self, wp_status status)
{
    if (self->in_group && self->group_status == WP_OK && !s_in_transaction (self)) {
        self->group_status = status? status: WP_ABORTED;
        if (self->base.errmsg [0])
            memcpy (self->group_errmsg, self->base.errmsg, sizeof self->group_errmsg);
        else
            strcpy (self->group_errmsg, "PostgreSQL ended it (the connection broke, or the "
                                        "server aborted it)");
        memset (&self->group_reaped, 0, sizeof self->group_reaped);
    }
}

//  Whether what is due is known without asking (wp_store_postgres_int.h).
static bool
s_due_fresh (wp_pg_t *self)
{
    return self->due_known && self->now < self->due_next && self->now >= self->due_read_at
        && self->now - self->due_read_at < WP_PG_DUE_RECHECK_US;
}

void
wp_pg_due_before (wp_pg_t *self, int64_t when)
{
    if (self->due_known && when < self->due_next)
        self->due_next = when;
}

void
wp_pg_due_changed (wp_pg_t *self)
{
    self->due_known = false;
}

//  The frame's first round trip, pipelined with the call's first
//  statement (libpq pipeline mode): outside a group BEGIN, in one the
//  RELEASE of the savepoint the last call left open; the due times; in a
//  group SAVEPOINT op; then the statement (id, params; none if id is
//  WP_PG_COUNT). *res (caller clears) and *stmt_status: the statement's
//  outcome. Returns the prefix's status (a failure there voids the rest).
static wp_status
s_pipeline (wp_pg_t *self, wp_pg_stmt_id id, const wp_pg_params_t *params,
            int64_t *due, PGresult **res, wp_status *stmt_status)
{
    const char *prefix [3];
    int prefix_count = 0;
    if (!self->in_group)
        prefix [prefix_count++] = "BEGIN";
    else
    if (self->op_open)
        prefix [prefix_count++] = "RELEASE op";
    int due_index = -1;
    if (!s_due_fresh (self)) {
        due_index = prefix_count;
        prefix [prefix_count++] = NULL;             //  the due times
    }
    if (self->in_group)
        prefix [prefix_count++] = "SAVEPOINT op";
    self->op_open = false;
    *res = NULL;
    *stmt_status = WP_OK;
    due [0] = due [1] = due [2] = 0;
    if (!PQenterPipelineMode (self->conn))
        return wp_pg_error (self, NULL, "beginning a call");
    bool sent = true;
    for (int i = 0; i < prefix_count && sent; i++)
        sent = prefix [i]
            ? PQsendQueryParams (self->conn, prefix [i], 0, NULL, NULL, NULL, NULL, 1)
            : PQsendQueryPrepared (self->conn, "wp_NEXT_DUE", 0, NULL, NULL, NULL, 1);
    if (sent && id != WP_PG_COUNT)
        sent = PQsendQueryPrepared (self->conn, s_names [id], params? params->count: 0,
                                    params? params->values: NULL,
                                    params? params->lengths: NULL,
                                    params? params->formats: NULL, 1);
    if (sent)
        sent = PQpipelineSync (self->conn);
    wp_status status = sent? WP_OK: wp_pg_error (self, NULL, "beginning a call");
    int queries = prefix_count + (id != WP_PG_COUNT);
    //  Each query's result, then NULL; then the sync
    for (int i = 0; sent && i < queries; i++) {
        PGresult *got;
        while ((got = PQgetResult (self->conn))) {
            ExecStatusType kind = PQresultStatus (got);
            bool ok = kind == PGRES_TUPLES_OK || kind == PGRES_COMMAND_OK;
            if (i < prefix_count) {
                if (!ok && status == WP_OK)
                    status = wp_pg_error (self, got, "beginning a call");
                if (ok && i == due_index) {
                    s_due_read (got, &due [0], &due [1], &due [2]);
                    int64_t next = s_earlier (s_earlier (due [0], due [1]), due [2]);
                    self->due_known = true;
                    self->due_next = next? next: INT64_MAX;
                    self->due_read_at = self->now;
                }
                PQclear (got);
            }
            else
            if (ok && !*res)
                *res = got;
            else {
                if (!ok && *stmt_status == WP_OK && status == WP_OK)
                    *stmt_status = kind == PGRES_PIPELINE_ABORTED
                        ? wp_store_error (&self->base, WP_ABORTED, "postgres: not run")
                        : wp_pg_error (self, got, "running the call");
                PQclear (got);
            }
        }
        if (PQstatus (self->conn) == CONNECTION_BAD)
            break;
    }
    //  The sync, and anything left if the connection broke midway
    PGresult *got;
    while (PQstatus (self->conn) != CONNECTION_BAD && (got = PQgetResult (self->conn))) {
        bool sync = PQresultStatus (got) == PGRES_PIPELINE_SYNC;
        PQclear (got);
        if (sync)
            break;
    }
    if (!PQexitPipelineMode (self->conn) || PQstatus (self->conn) == CONNECTION_BAD) {
        if (status == WP_OK)
            status = wp_pg_error (self, NULL, "beginning a call");
    }
    if (status || *stmt_status) {
        PQclear (*res);
        *res = NULL;
        if (*stmt_status == WP_OK)
            *stmt_status = status;
    }
    return status;
}

//  The rest of the frame's start, once the due times are known: nothing
//  due, the statement's outcome stands; else it is undone (back to op, or
//  the whole transaction outside a group), expiry applied and kept, a fresh
//  op opened, and the statement run again, now after the expiry.
static PGresult *
s_flush (wp_pg_t *self, wp_pg_stmt_id id, const wp_pg_params_t *params, const char *doing,
         wp_status *status)
{
    self->pending = false;
    int64_t due [3];
    PGresult *res;
    wp_status stmt_status;
    wp_status rc = s_pipeline (self, id, params, due, &res, &stmt_status);
    if (rc && !self->in_group && PQstatus (self->conn) == CONNECTION_BAD) {
        //  The connection broke since the last call (libpq learns it only
        //  by trying): nothing was done yet, so connect again and retry once
        rc = s_connected (self);
        if (rc == WP_OK)
            rc = s_pipeline (self, id, params, due, &res, &stmt_status);
    }
    if (rc == WP_OK && s_is_due (due [0], due [1], due [2], self->now)) {
        PQclear (res);
        res = NULL;
        self->due_known = false;        //  read again once this is applied
        if (self->in_group) {
            rc = s_simple (self, "ROLLBACK TO op; RELEASE op", "applying expiry", NULL);
            if (rc == WP_OK)
                rc = s_expire (self, due [0], due [1], due [2]);
            if (rc == WP_OK)
                rc = s_simple (self, "SAVEPOINT op", "opening a savepoint", NULL);
        }
        else {
            rc = s_simple (self, "ROLLBACK; BEGIN", "applying expiry", NULL);
            if (rc == WP_OK)
                rc = s_expire (self, due [0], due [1], due [2]);
            //  A savepoint only where something must outlive the call's
            //  failure: expiry applied on the way in
            bool applied = self->op_reaped.leases_expired || self->op_reaped.workers_lost
                        || self->op_reaped.promoted;
            if (rc == WP_OK && applied) {
                rc = s_simple (self, "SAVEPOINT op", "opening a savepoint", NULL);
                self->savepoint = rc == WP_OK;
            }
        }
        if (rc == WP_OK && id != WP_PG_COUNT)
            res = s_exec_plain (self, id, params, doing, &stmt_status);
        else
            stmt_status = rc;
    }
    if (rc) {
        self->frame_failed = true;
        if (self->in_group)
            s_check_group (self, rc);
        else
            s_abandon (self);
        *status = rc;
        PQclear (res);
        return NULL;
    }
    if (self->in_group)
        self->savepoint = true;
    *status = stmt_status;
    return res;
}

PGresult *
wp_pg_exec (wp_pg_t *self, wp_pg_stmt_id id, const wp_pg_params_t *params,
            const char *doing, wp_status *status)
{
    if (self->pending)
        return s_flush (self, id, params, doing, status);
    return s_exec_plain (self, id, params, doing, status);
}

wp_status
wp_pg_enter (wp_pg_t *self, bool write)
{
    (void) write;
    self->now = wp_store_now (&self->base);
    memset (&self->op_reaped, 0, sizeof self->op_reaped);
    self->savepoint = false;
    self->frame_failed = false;
    if (self->in_group) {
        //  Whatever ended the group behind our back, no call may run
        //  outside it thinking it is inside
        s_check_group (self, WP_ABORTED);
        if (self->group_status)
            return wp_store_error (&self->base, self->group_status,
                                   "the transaction was rolled back: %s", self->group_errmsg);
    }
    else {
        wp_status status = s_connected (self);
        if (status)
            return status;
    }
    //  Sent with the call's first statement (wp_pg_exec), or by leave
    self->pending = true;
    return WP_OK;
}

//  Commits the call's or the group's transaction: WP_OK only if the server
//  says it committed.
static wp_status
s_commit_tx (wp_pg_t *self)
{
    PGresult *res = PQexec (self->conn, "COMMIT");
    wp_status status = WP_OK;
    if (!res || PQresultStatus (res) != PGRES_COMMAND_OK)
        status = PQstatus (self->conn) == CONNECTION_BAD
            ? wp_store_error (&self->base, WP_UNAVAILABLE,
                              "postgres: the connection broke while committing: the outcome is "
                              "unknown (%s)", PQerrorMessage (self->conn))
            : wp_pg_error (self, res, "committing");
    else
    if (strcmp (PQcmdStatus (res), "COMMIT") != 0)
        status = wp_store_error (&self->base, WP_ABORTED,
                                 "postgres: the transaction was rolled back, not committed");
    PQclear (res);
    self->op_open = false;
    return status;
}

wp_status
wp_pg_leave (wp_pg_t *self, bool write, wp_status rc)
{
    (void) write;
    if (self->pending) {
        //  A call that ran no statement still applies what is due
        wp_status status;
        PQclear (s_flush (self, WP_PG_COUNT, NULL, "applying expiry", &status));
        if (status && rc == WP_OK)
            rc = status;
    }
    if (self->frame_failed) {
        //  The frame's start failed and cleaned up after itself
        self->frame_failed = false;
        self->savepoint = false;
        return rc;
    }
    bool savepoint = self->savepoint;
    self->savepoint = false;
    if (savepoint && rc && PQtransactionStatus (self->conn) != PQTRANS_IDLE) {
        char saved [sizeof self->base.errmsg];
        memcpy (saved, self->base.errmsg, sizeof saved);
        wp_status status = s_simple (self, "ROLLBACK TO op; RELEASE op",
                                     "rolling back a failed call", NULL);
        memcpy (self->base.errmsg, saved, sizeof saved);
        if (status)
            savepoint = false;          //  the transaction is lost too
    }
    if (self->in_group) {
        //  Released by the next call's first round trip, or the commit
        self->op_open = savepoint && rc == WP_OK;
        s_check_group (self, rc);
        //  What expiry applied stands even if the call failed (its own
        //  savepoint, s_expire)
        if (self->group_status == WP_OK)
            wp_store_reap_add (&self->group_reaped, &self->op_reaped);
        return rc;
    }
    if (rc && !savepoint) {
        s_abandon (self);
        return rc;
    }
    if (!s_in_transaction (self)) {
        s_abandon (self);
        return rc? rc: wp_store_error (&self->base, WP_INTERNAL, "the transaction was lost");
    }
    //  A failed call under a savepoint still commits: the expiry it
    //  applied on its way in is due whatever happens to the call.
    char saved [sizeof self->base.errmsg];
    memcpy (saved, self->base.errmsg, sizeof saved);
    wp_status status = s_commit_tx (self);
    if (status) {
        s_abandon (self);
        if (rc)
            memcpy (self->base.errmsg, saved, sizeof saved);
        return rc? rc: status;
    }
    wp_store_reap_add (&self->reaped, &self->op_reaped);
    return rc;
}

//  ---------------------------------------------------------------------
//  Group commit

static wp_status
s_begin (wp_store_t *base)
{
    wp_pg_t *self = (wp_pg_t *) base;
    if (self->in_group)
        return wp_store_error (base, WP_FAILED_PRECONDITION, "a transaction is already open");
    wp_status status = s_connected (self);
    if (status == WP_OK)
        status = s_simple (self, "BEGIN", "beginning a transaction", NULL);
    if (status && PQstatus (self->conn) == CONNECTION_BAD) {
        status = s_connected (self);    //  broke since the last call: once more
        if (status == WP_OK)
            status = s_simple (self, "BEGIN", "beginning a transaction", NULL);
    }
    if (status) {
        s_abandon (self);
        return status;
    }
    self->in_group = true;
    self->batch = false;
    self->op_open = false;
    self->group_status = WP_OK;
    memset (&self->group_reaped, 0, sizeof self->group_reaped);
    memset (&self->group_told, 0, sizeof self->group_told);
    return WP_OK;
}

static wp_status
s_commit (wp_store_t *base)
{
    wp_pg_t *self = (wp_pg_t *) base;
    if (!self->in_group)
        return wp_store_error (base, WP_FAILED_PRECONDITION, "no transaction is open");
    s_check_group (self, WP_ABORTED);
    self->in_group = false;
    if (self->group_status) {
        s_abandon (self);
        return wp_store_error (base, self->group_status,
                               "the transaction was rolled back: %s", self->group_errmsg);
    }
    wp_status status = s_commit_tx (self);
    if (status) {
        s_abandon (self);
        return status;
    }
    wp_store_reap_sub (&self->group_reaped, &self->group_told);
    wp_store_reap_add (&self->reaped, &self->group_reaped);
    return WP_OK;
}

static void
s_rollback (wp_store_t *base)
{
    wp_pg_t *self = (wp_pg_t *) base;
    if (self->in_group) {
        self->in_group = false;
        s_abandon (self);
    }
}

//  Savepoints, for wp_store.c's batches inside a group: what the store
//  keeps in memory about the group follows an undo as the database does.

static wp_status
s_savepoint (wp_store_t *base)
{
    wp_pg_t *self = (wp_pg_t *) base;
    s_check_group (self, WP_ABORTED);
    if (self->group_status)
        return wp_store_error (base, self->group_status,
                               "the transaction was rolled back: %s", self->group_errmsg);
    wp_status status = s_simple (self, self->op_open? "RELEASE op; SAVEPOINT batch"
                                                    : "SAVEPOINT batch",
                                 "opening a savepoint", NULL);
    self->op_open = false;
    if (status) {
        s_check_group (self, status);
        return status;
    }
    self->batch = true;
    self->batch_reaped = self->group_reaped;
    return WP_OK;
}

static void
s_release (wp_store_t *base)
{
    wp_pg_t *self = (wp_pg_t *) base;
    //  Releasing batch releases an op opened inside it too
    if (self->batch && s_in_transaction (self))
        s_check_group (self, s_simple (self, "RELEASE batch", "releasing a savepoint", NULL));
    self->op_open = false;
    self->batch = false;
}

static void
s_rollback_to (wp_store_t *base)
{
    wp_pg_t *self = (wp_pg_t *) base;
    if (self->batch && PQtransactionStatus (self->conn) != PQTRANS_IDLE)
        s_check_group (self, s_simple (self, "ROLLBACK TO batch; RELEASE batch",
                                       "undoing a batch", NULL));
    self->op_open = false;
    self->batch = false;
    self->group_reaped = self->batch_reaped;
    self->due_known = false;            //  expiry the batch applied is undone
}

//  ---------------------------------------------------------------------
//  Housekeeping

static wp_status
s_reap (wp_store_t *base, wp_reap_t *out)
{
    wp_pg_t *self = (wp_pg_t *) base;
    //  Everything due now, other brokers' doing included
    self->due_known = false;
    wp_status status = wp_pg_leave (self, true, wp_pg_enter (self, true));
    if (status)
        return status;
    *out = self->reaped;
    if (self->in_group) {
        wp_reap_t fresh = self->group_reaped;
        wp_store_reap_sub (&fresh, &self->group_told);
        wp_store_reap_add (out, &fresh);
        self->group_told = self->group_reaped;
    }
    memset (&self->reaped, 0, sizeof self->reaped);
    return WP_OK;
}

//  Applies nothing: a time already past tells the broker to reap now. One
//  statement reads a consistent snapshot on its own (inside the group if
//  one is open).
static wp_status
s_next_due_op (wp_store_t *base, int64_t *next_out)
{
    wp_pg_t *self = (wp_pg_t *) base;
    if (self->in_group) {
        s_check_group (self, WP_ABORTED);
        if (self->group_status)
            return wp_store_error (base, self->group_status,
                                   "the transaction was rolled back: %s", self->group_errmsg);
    }
    else {
        wp_status status = s_connected (self);
        if (status)
            return status;
    }
    wp_status status;
    PGresult *res = wp_pg_exec (self, WP_PG_NEXT_DUE_ALL, NULL, "looking for what is due",
                                &status);
    if (res) {
        int64_t next = 0;
        for (int col = 0; col < 4; col++)
            next = s_earlier (next, wp_pg_get_int (res, 0, col));
        *next_out = next;
    }
    PQclear (res);
    s_check_group (self, status);
    return status;
}

static wp_status
s_purge (wp_store_t *base, double older_than, uint64_t *count_out)
{
    wp_pg_t *self = (wp_pg_t *) base;
    wp_status status = wp_pg_enter (self, true);
    if (status)
        return status;
    wp_pg_params_t p = { 0 };
    wp_pg_int (&p, self->now - wp_pg_us (older_than));
    uint64_t count = 0;
    status = wp_pg_run (self, WP_PG_PURGE, &p, "purging finished items", &count);
    status = wp_pg_leave (self, true, status);
    if (status == WP_OK)
        *count_out = count;
    return status;
}

static wp_status
s_stats_read (wp_pg_t *self, wp_stats_t *stats)
{
    wp_status status;
    PGresult *res = wp_pg_exec (self, WP_PG_STATS_POOLS, NULL, "counting items", &status);
    if (!res)
        return status;
    int rows = PQntuples (res);
    if (rows > 0) {
        stats->pools = calloc ((size_t) rows, sizeof *stats->pools);
        if (!stats->pools)
            abort ();
    }
    for (int row = 0; row < rows; row++) {
        wp_pool_stats_t *pool = &stats->pools [stats->pool_count++];
        pool->pool = wp_pg_get_text (res, row, 0);
        pool->pending = (uint64_t) wp_pg_get_int (res, row, 1);
        pool->claimed = (uint64_t) wp_pg_get_int (res, row, 2);
        pool->done = (uint64_t) wp_pg_get_int (res, row, 3);
        pool->poisoned = (uint64_t) wp_pg_get_int (res, row, 4);
        pool->paused = wp_pg_get_bool (res, row, 5);
        pool->scheduled = (uint64_t) wp_pg_get_int (res, row, 6);
        pool->backoff.base = wp_pg_get_double (res, row, 7);
        pool->backoff.cap = wp_pg_get_double (res, row, 8);
        pool->backoff.jitter = wp_pg_get_double (res, row, 9);
    }
    PQclear (res);
    res = wp_pg_exec (self, WP_PG_STATS_WORKERS, NULL, "counting workers", &status);
    if (!res)
        return status;
    rows = PQntuples (res);
    if (rows > 0) {
        stats->workers = calloc ((size_t) rows, sizeof *stats->workers);
        if (!stats->workers)
            abort ();
    }
    for (int row = 0; row < rows; row++) {
        wp_status_count_t *count = &stats->workers [stats->worker_status_count++];
        count->status = wp_pg_get_text (res, row, 0);
        count->count = (uint64_t) wp_pg_get_int (res, row, 1);
    }
    PQclear (res);
    return WP_OK;
}

static wp_status
s_stats (wp_store_t *base, wp_stats_t **stats_out)
{
    wp_pg_t *self = (wp_pg_t *) base;
    wp_status status = wp_pg_enter (self, false);
    if (status)
        return status;
    wp_stats_t *stats = wp_stats_new ();
    status = wp_pg_leave (self, false, s_stats_read (self, stats));
    if (status == WP_OK)
        *stats_out = stats;
    else
        wp_stats_destroy (&stats);
    return status;
}

//  ---------------------------------------------------------------------
//  Open, migrate, close

static void
s_destroy (wp_store_t *base)
{
    wp_pg_t *self = (wp_pg_t *) base;
    if (self->conn)
        PQfinish (self->conn);          //  an open transaction is rolled back
    if (self->listen)
        PQfinish (self->listen);
    free (self->conninfo);
    free (self);
}

static void s_no_notice (void *arg, const char *message);

//  ---------------------------------------------------------------------
//  Wakes: a second connection LISTENs on WP_PG_PUSH_CHANNEL, where every
//  statement that makes an item claimable notifies its pool (WP_PG_WAKE).
//  Apart from the store's connection, which is in a transaction most of the
//  time and would only see notifications between them.

//  Makes the listening connection; on failure, tries again after
//  WP_PG_LISTEN_RETRY_US. Blocks while connecting, as a reconnect of the
//  store's own connection does.
static void
s_listen_open (wp_pg_t *self)
{
    const char *keys [] = { "dbname", "fallback_application_name", NULL };
    const char *values [] = { self->conninfo, "workpool-listen", NULL };
    PGconn *conn = PQconnectdbParams (keys, values, 1);
    if (!conn)
        abort ();                       //  libpq's out of memory
    bool ok = PQstatus (conn) == CONNECTION_OK;
    if (ok) {
        PQsetNoticeProcessor (conn, s_no_notice, NULL);
        PGresult *res = PQexec (conn, "LISTEN " WP_PG_PUSH_CHANNEL);
        ok = PQresultStatus (res) == PGRES_COMMAND_OK && PQsetnonblocking (conn, 1) == 0;
        PQclear (res);
    }
    if (ok) {
        self->listen = conn;
        self->listen_fresh = true;
        self->listen_retry_at = 0;
    }
    else {
        PQfinish (conn);
        self->listen_retry_at = wp_time_now () + WP_PG_LISTEN_RETRY_US;
    }
}

static int
s_wake_fd (wp_store_t *base, int64_t *retry_at)
{
    wp_pg_t *self = (wp_pg_t *) base;
    if (!self->listen_wanted) {
        self->listen_wanted = true;
        s_listen_open (self);
    }
    *retry_at = self->listen? 0: self->listen_retry_at;
    return self->listen? PQsocket (self->listen): -1;
}

static bool
s_wake_drain (wp_store_t *base, wp_store_wake_fn *fn, void *arg)
{
    wp_pg_t *self = (wp_pg_t *) base;
    if (!self->listen_wanted)
        return false;
    //  A lost connection (the server restarted, a network cut) is made
    //  again at once, then every WP_PG_LISTEN_RETRY_US until it is
    if (self->listen && (!PQconsumeInput (self->listen)
                     ||  PQstatus (self->listen) == CONNECTION_BAD)) {
        PQfinish (self->listen);
        self->listen = NULL;
        self->listen_retry_at = wp_time_now ();
    }
    if (!self->listen && wp_time_now () >= self->listen_retry_at)
        s_listen_open (self);
    if (!self->listen)
        return false;
    //  Our own commits woke our own claims already
    int own = self->conn? PQbackendPID (self->conn): 0;
    PGnotify *notify;
    while ((notify = PQnotifies (self->listen))) {
        if (notify->be_pid != own)
            fn (notify->extra, arg);
        PQfreemem (notify);
    }
    bool all = self->listen_fresh;
    self->listen_fresh = false;
    return all;
}

static const wp_store_ops_t s_ops = {
    .name = "postgres",
    .destroy = s_destroy,
    .begin = s_begin,
    .commit = s_commit,
    .rollback = s_rollback,
    .push = wp_pg_push,
    .claim = wp_pg_claim,
    .complete = wp_pg_complete,
    .fail = wp_pg_fail,
    .size = wp_pg_size,
    .release_by_worker = wp_pg_release_by_worker,
    .get = wp_pg_get,
    .renew = wp_pg_renew,
    .register_worker = wp_pg_register,
    .heartbeat = wp_pg_heartbeat,
    .update_status = wp_pg_update_status,
    .get_worker = wp_pg_get_worker,
    .list_workers = wp_pg_list_workers,
    .reap = s_reap,
    .next_due = s_next_due_op,
    .purge = s_purge,
    .stats = s_stats,
    .savepoint = s_savepoint,
    .release = s_release,
    .rollback_to = s_rollback_to,
    .list_items = wp_pg_list_items,
    .retry = wp_pg_retry,
    .retry_all = wp_pg_retry_all,
    .cancel = wp_pg_cancel,
    .purge_pool = wp_pg_purge_pool,
    .set_paused = wp_pg_set_paused,
    .set_backoff = wp_pg_set_backoff,
    .schedule_put = wp_pg_schedule_put,
    .schedule_remove = wp_pg_schedule_remove,
    .schedule_list = wp_pg_schedule_list,
    //  One statement instead of wp_store.c's loop of claims
    .claim_many = wp_pg_claim_many,
    .wake_fd = s_wake_fd,
    .wake_drain = s_wake_drain,
};

//  Migration step N takes schema version N-1 to N.
static const char *const s_migrations [WP_PG_SCHEMA_VERSION + 1] = {
    NULL,
    WP_PG_MIGRATION_1,
};

//  Brings the schema (in the connection's current schema, the first of
//  search_path) to WP_PG_SCHEMA_VERSION in one transaction, under an
//  advisory lock named after that schema, so brokers opening one database
//  at once take turns: the first migrates, the others find it done.
static wp_status
s_migrate (wp_pg_t *self)
{
    //  A schema at this version needs neither the lock nor any DDL (and a
    //  role without CREATE on the schema may then open it)
    PGresult *res;
    wp_status status = s_simple (self, "SELECT to_regclass ('wp_schema_version') IS NOT NULL",
                                 "reading the schema version", &res);
    bool exists = status == WP_OK && res && PQntuples (res) == 1
               && PQgetvalue (res, 0, 0) [0] == 't';
    PQclear (res);
    if (status)
        return status;
    if (exists) {
        status = s_simple (self, "SELECT version FROM wp_schema_version",
                           "reading the schema version", &res);
        bool current = status == WP_OK && res && PQntuples (res) == 1
                    && wp_pg_get_int (res, 0, 0) == WP_PG_SCHEMA_VERSION;
        PQclear (res);
        if (status || current)
            return status;
    }
    status = s_simple (self,
        "BEGIN;"
        "SELECT pg_advisory_xact_lock (hashtext ('workpool schema ' ||"
        " coalesce (current_schema (), '')));"
        "CREATE TABLE IF NOT EXISTS wp_schema_version (version integer NOT NULL);"
        "SELECT version FROM wp_schema_version",
        "locking the schema to migrate it", &res);
    if (status) {
        PQclear (res);
        s_abandon (self);
        return status;
    }
    int64_t version = 0;
    bool have_row = res && PQntuples (res) == 1;
    if (res && PQntuples (res) > 1)
        status = wp_store_error (&self->base, WP_FAILED_PRECONDITION,
                                 "postgres: wp_schema_version holds %d rows, not one: "
                                 "not a workpool schema", PQntuples (res));
    else
    if (have_row)
        version = wp_pg_get_int (res, 0, 0);
    PQclear (res);
    if (status == WP_OK && version > WP_PG_SCHEMA_VERSION)
        status = wp_store_error (&self->base, WP_FAILED_PRECONDITION,
                                 "postgres: the database has schema version %lld, newer than "
                                 "this workpool reads (%d): use a newer workpool",
                                 (long long) version, WP_PG_SCHEMA_VERSION);
    for (int64_t step = version + 1; step <= WP_PG_SCHEMA_VERSION && status == WP_OK; step++)
        status = s_simple (self, s_migrations [step], "migrating the schema", NULL);
    if (status == WP_OK && version < WP_PG_SCHEMA_VERSION) {
        char sql [128];
        snprintf (sql, sizeof sql, have_row? "UPDATE wp_schema_version SET version = %d"
                                           : "INSERT INTO wp_schema_version VALUES (%d)",
                  WP_PG_SCHEMA_VERSION);
        status = s_simple (self, sql, "migrating the schema", NULL);
    }
    if (status == WP_OK)
        status = s_commit_tx (self);
    if (status)
        s_abandon (self);
    return status;
}

//  synchronous_commit: the server's, unless cfg->sync_full asks for at
//  least "on" (a commit flushed before it is acknowledged, on the standby
//  too where synchronous replication is configured).
static wp_status
s_set_sync (wp_pg_t *self)
{
    if (!self->base.config.sync_full)
        return WP_OK;
    PGresult *res;
    wp_status status = s_simple (self, "SHOW synchronous_commit", "reading synchronous_commit",
                                 &res);
    const char *value = res && PQntuples (res) == 1? PQgetvalue (res, 0, 0): "";
    bool weaker = strcmp (value, "off") == 0 || strcmp (value, "local") == 0
               || strcmp (value, "remote_write") == 0;
    PQclear (res);
    if (status == WP_OK && weaker)
        status = s_simple (self, "SET synchronous_commit = on", "setting synchronous_commit",
                           NULL);
    return status;
}

//  Notices (CREATE TABLE IF NOT EXISTS on a migrated schema) are not
//  errors; a store prints nothing.
static void
s_no_notice (void *arg, const char *message)
{
    (void) arg;
    (void) message;
}

//  The settings of the store's session, at open and at every reconnect:
//  synchronous_commit (s_set_sync).
static wp_status
s_session (wp_pg_t *self)
{
    PQsetNoticeProcessor (self->conn, s_no_notice, NULL);
    return s_set_sync (self);
}


wp_store_t *
wp_store_postgres_new (const char *conninfo, const wp_store_config_t *cfg,
                       wp_status *status, char **message)
{
    wp_status rc = WP_OK;
    char text [512] = "";
    wp_pg_t *self = NULL;
    if (!conninfo)
        rc = WP_INVALID_ARGUMENT, snprintf (text, sizeof text,
                                            "the PostgreSQL store needs a conninfo string");
    else {
        self = calloc (1, sizeof *self);
        if (!self)
            abort ();
        wp_store_init (&self->base, &s_ops, cfg);
        self->conninfo = wp_strdup (conninfo);
        //  conninfo is expanded (key=value or a URI); the application name
        //  shows in pg_stat_activity unless conninfo names another
        const char *keys [] = { "dbname", "fallback_application_name", NULL };
        const char *values [] = { conninfo, "workpool", NULL };
        self->conn = PQconnectdbParams (keys, values, 1);
        if (!self->conn)
            abort ();                   //  libpq's out of memory
        if (PQstatus (self->conn) != CONNECTION_OK) {
            rc = WP_UNAVAILABLE;
            char reason [400];
            snprintf (text, sizeof text, "postgres: cannot connect: %s",
                      s_message (self->conn, NULL, reason, sizeof reason));
        }
        else {
            rc = s_session (self);
            if (rc == WP_OK)
                rc = s_migrate (self);
            if (rc == WP_OK)
                rc = s_prepare (self);
            if (rc)
                snprintf (text, sizeof text, "%s", self->base.errmsg);
        }
        if (rc) {
            s_destroy (&self->base);
            self = NULL;
        }
    }
    if (self) {
        self->base.errmsg [0] = 0;
        return &self->base;
    }
    if (status)
        *status = rc;
    if (message)
        *message = wp_strdup (text);
    return NULL;
}
