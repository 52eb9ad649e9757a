/*  wp_store_sqlite: the SQLite store. This file opens and checks the file,
    migrates its schema, frames every call in a transaction, applies expiry,
    and does the housekeeping calls and the savepoints of wp_store.c's
    batches; the item calls live in wp_store_sqlite_items.c, the inspection
    and lifecycle calls in wp_store_sqlite_admin.c, the worker calls in
    wp_store_sqlite_workers.c, what the image store shares in
    wp_sqlite_file.c, the SQL in wp_store_sqlite_sql.h, the schema's story
    in SCHEMA.md.

    Concurrency: every writing call runs in BEGIN IMMEDIATE (or inside the
    group's BEGIN IMMEDIATE), so processes and connections sharing the file
    take turns on SQLite's write lock, waiting up to busy_timeout_ms; a claim
    is one guarded UPDATE in that transaction. Reading calls run in a
    deferred transaction and only take the write lock when expiry is due.  */
#include "wp_store_sqlite_int.h"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

//  ---------------------------------------------------------------------
//  Small helpers

int64_t
wp_sqlite_us (double seconds)
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

void
wp_sqlite_bind_text (sqlite3_stmt *stmt, int index, const char *text)
{
    if (text)
        sqlite3_bind_text (stmt, index, text, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null (stmt, index);
}

void
wp_sqlite_bind_blob (sqlite3_stmt *stmt, int index, const void *blob, size_t size)
{
    if (blob && size)
        sqlite3_bind_blob64 (stmt, index, blob, size, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null (stmt, index);
}

wp_status
wp_sqlite_error (wp_sqlite_t *self, int rc, const char *doing)
{
    wp_status status = wp_sqlite_status_of (rc);
    const char *text = sqlite3_errcode (self->db) == rc? sqlite3_errmsg (self->db)
                                                       : sqlite3_errstr (rc);
    return wp_store_error (&self->base, status, "sqlite: %s (while %s)", text, doing);
}

sqlite3_stmt *
wp_sqlite_stmt (wp_sqlite_t *self, wp_sqlite_stmt_id id)
{
    sqlite3_stmt *stmt = self->stmt [id];
    sqlite3_reset (stmt);
    sqlite3_clear_bindings (stmt);
    return stmt;
}

wp_status
wp_sqlite_run (wp_sqlite_t *self, sqlite3_stmt *stmt, const char *doing)
{
    int rc;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
        ;
    wp_status status = WP_OK;
    if (rc != SQLITE_DONE)
        status = wp_sqlite_error (self, rc, doing);
    sqlite3_reset (stmt);
    return status;
}

//  Runs one of the statements that take no arguments.
static wp_status
s_run (wp_sqlite_t *self, wp_sqlite_stmt_id id, const char *doing)
{
    //  What was read since the transaction began may be undone: it is not
    //  to be trusted once committed (wp_sqlite_pool_id)
    if (id == WP_SQL_BEGIN_WRITE || id == WP_SQL_BEGIN_READ || id == WP_SQL_ROLLBACK
    ||  id == WP_SQL_ROLLBACK_TO || id == WP_SQL_BATCH_ROLLBACK_TO)
        self->pools_seen_count = 0;
    wp_status status = wp_sqlite_run (self, wp_sqlite_stmt (self, id), doing);
    if (id == WP_SQL_COMMIT && status == WP_OK)
        wp_sqlite_pools_committed (self);
    return status;
}

//  ---------------------------------------------------------------------
//  Expiry

//  *lease: the earliest lease expiry; *stale: the earliest time an active
//  worker counts as lost; *run_at: the earliest time a scheduled item falls
//  due; 0 for none.
static wp_status
s_due_times (wp_sqlite_t *self, int64_t *lease, int64_t *stale, int64_t *run_at)
{
    sqlite3_stmt *stmt = wp_sqlite_stmt (self, WP_SQL_NEXT_DUE);
    int rc = sqlite3_step (stmt);
    if (rc != SQLITE_ROW) {
        wp_status status = wp_sqlite_error (self, rc, "looking for expired leases");
        sqlite3_reset (stmt);
        return status;
    }
    *lease = sqlite3_column_int64 (stmt, 0);        //  NULL reads as 0
    *stale = sqlite3_column_int64 (stmt, 1);
    *run_at = sqlite3_column_int64 (stmt, 2);
    sqlite3_reset (stmt);
    return WP_OK;
}

//  The earlier of two due times, 0 meaning none.
static int64_t
s_earlier (int64_t a, int64_t b)
{
    return a && (!b || a < b)? a: b;
}

//  *next_out: whichever falls due first, 0 if none.
static wp_status
s_next_due (wp_sqlite_t *self, int64_t *next_out)
{
    int64_t lease = 0, stale = 0, run_at = 0;
    wp_status status = s_due_times (self, &lease, &stale, &run_at);
    if (status == WP_OK)
        *next_out = s_earlier (s_earlier (lease, stale), run_at);
    return status;
}

wp_status
wp_sqlite_requeue (wp_sqlite_t *self, int64_t seq, uint32_t attempts, uint32_t max_retries,
                   const wp_backoff_t *policy, const char *error, double retry_after,
                   wp_item_state *state_out)
{
    int64_t due;
    wp_item_state state = wp_store_failure_state (&self->base, policy, attempts + 1, max_retries,
                                                  retry_after, &due);
    sqlite3_stmt *stmt = wp_sqlite_stmt (self, WP_SQL_REQUEUE);
    sqlite3_bind_int64 (stmt, 1, seq);
    sqlite3_bind_int (stmt, 2, (int) state);
    sqlite3_bind_int64 (stmt, 3, due);
    wp_sqlite_bind_text (stmt, 4, error);
    sqlite3_bind_int64 (stmt, 5, self->now);
    wp_status status = wp_sqlite_run (self, stmt, "failing the item");
    if (status == WP_OK) {
        if (due)
            wp_sqlite_due_before (self, due);
        *state_out = state;
    }
    return status;
}

//  One claimed item a lapse or a loss fails (WP_SQLITE_REQUEUE_COLUMNS).
typedef struct {
    int64_t seq;
    uint32_t attempts, max_retries;
    wp_backoff_t policy;
} s_claim_row_t;

//  Fails every claimed item stmt selects (WP_SQLITE_REQUEUE_COLUMNS) with
//  error, counting each by its new state into op_reaped, and *count (may
//  be NULL) by one each; resets stmt. The rows are read before any
//  changes: a statement is never stepped while another changes the rows
//  it walks.
static wp_status
s_requeue_selected (wp_sqlite_t *self, sqlite3_stmt *stmt, const char *error,
                    uint64_t *count, const char *doing)
{
    s_claim_row_t *rows = NULL;
    size_t row_count = 0, capacity = 0;
    int rc;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        if (row_count == capacity) {
            capacity = capacity? capacity * 2: 16;
            rows = realloc (rows, capacity * sizeof *rows);
            if (!rows)
                abort ();
        }
        s_claim_row_t *row = &rows [row_count++];
        row->seq = sqlite3_column_int64 (stmt, 0);
        row->attempts = (uint32_t) sqlite3_column_int64 (stmt, 1);
        row->max_retries = (uint32_t) sqlite3_column_int64 (stmt, 2);
        row->policy.base = sqlite3_column_double (stmt, 3);
        row->policy.cap = sqlite3_column_double (stmt, 4);
        row->policy.jitter = sqlite3_column_double (stmt, 5);
    }
    wp_status status = rc == SQLITE_DONE? WP_OK: wp_sqlite_error (self, rc, doing);
    sqlite3_reset (stmt);
    for (size_t i = 0; i < row_count && status == WP_OK; i++) {
        wp_item_state state;
        status = wp_sqlite_requeue (self, rows [i].seq, rows [i].attempts,
                                    rows [i].max_retries, &rows [i].policy, error, 0, &state);
        if (status == WP_OK) {
            wp_store_reap_count (&self->op_reaped, state);
            if (count)
                (*count)++;
        }
    }
    free (rows);
    return status;
}

//  Returns the claims whose lease lapsed by cutoff.
static wp_status
s_expire_leases (wp_sqlite_t *self, int64_t cutoff)
{
    sqlite3_stmt *stmt = wp_sqlite_stmt (self, WP_SQL_EXPIRED_TASKS);
    sqlite3_bind_int64 (stmt, 1, cutoff);
    wp_status status = wp_sqlite_run (self, stmt, "expiring leases");
    if (status)
        return status;
    stmt = wp_sqlite_stmt (self, WP_SQL_EXPIRED_ITEMS);
    sqlite3_bind_int64 (stmt, 1, cutoff);
    return s_requeue_selected (self, stmt, "lease expired", &self->op_reaped.leases_expired,
                               "expiring leases");
}

//  Declares lost the active workers stale by cutoff and returns their
//  claims.
static wp_status
s_lose_workers (wp_sqlite_t *self, int64_t cutoff)
{
    //  Collect the workers before touching items: a statement is never
    //  stepped while another changes the rows it walks.
    char **lost = NULL;
    size_t lost_count = 0;
    sqlite3_stmt *stmt = wp_sqlite_stmt (self, WP_SQL_LOST_WORKERS);
    sqlite3_bind_int64 (stmt, 1, cutoff);
    wp_status status = WP_OK;
    int rc;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        lost = realloc (lost, (lost_count + 1) * sizeof *lost);
        if (!lost)
            abort ();
        lost [lost_count++] = wp_sqlite_column_strdup (stmt, 0);
    }
    if (rc != SQLITE_DONE)
        status = wp_sqlite_error (self, rc, "declaring stale workers lost");
    sqlite3_reset (stmt);
    for (size_t i = 0; i < lost_count; i++) {
        if (status == WP_OK) {
            stmt = wp_sqlite_stmt (self, WP_SQL_LOST_ITEMS);
            wp_sqlite_bind_text (stmt, 1, lost [i]);
            status = s_requeue_selected (self, stmt, "worker lost", NULL,
                                         "returning a lost worker's items");
            self->op_reaped.workers_lost++;
        }
        free (lost [i]);
    }
    free (lost);
    return status;
}

//  Makes pending the scheduled items due at self->now.
static wp_status
s_promote (wp_sqlite_t *self)
{
    sqlite3_stmt *stmt = wp_sqlite_stmt (self, WP_SQL_PROMOTE);
    sqlite3_bind_int64 (stmt, 1, self->now);
    sqlite3_bind_int64 (stmt, 2, self->now);
    wp_status status = wp_sqlite_run (self, stmt, "making due items pending");
    if (status == WP_OK)
        self->op_reaped.promoted += (uint64_t) sqlite3_changes64 (self->db);
    return status;
}

//  Applies what is due at self->now inside the open write transaction, in
//  the order it fell due (as the memory store does): a lease that lapsed
//  before its worker went stale expires as a lease, and a worker that went
//  stale first takes its claims back with "worker lost". Then scheduled
//  items whose time has come are pending (a failure above schedules an
//  item after now, never before, so the order between the two is moot).
static wp_status
s_apply_due (wp_sqlite_t *self)
{
    while (true) {
        int64_t lease = 0, stale = 0, run_at = 0;
        wp_status status = s_due_times (self, &lease, &stale, &run_at);
        if (status)
            return status;
        bool stale_due = stale && stale <= self->now;
        int64_t cutoff = stale_due? stale - 1: self->now;
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
    }
}

//  Applies what is due, if anything is, inside a savepoint so that a
//  failure leaves no half-applied expiry behind.
static wp_status
s_expire (wp_sqlite_t *self)
{
    if (self->in_group && self->group_due && self->now < self->group_due)
        return WP_OK;
    int64_t next;
    wp_status status = s_next_due (self, &next);
    if (status)
        return status;
    if (next == 0 || next > self->now) {
        if (self->in_group)
            self->group_due = next? next: INT64_MAX;
        return WP_OK;
    }
    self->group_due = 0;
    status = s_run (self, WP_SQL_SAVEPOINT, "opening a savepoint");
    if (status)
        return status;
    status = s_apply_due (self);
    if (status) {
        memset (&self->op_reaped, 0, sizeof self->op_reaped);
        if (!sqlite3_get_autocommit (self->db)) {
            s_run (self, WP_SQL_ROLLBACK_TO, "rolling back expiry");
            s_run (self, WP_SQL_RELEASE, "rolling back expiry");
        }
        return status;
    }
    return s_run (self, WP_SQL_RELEASE, "applying expiry");
}

//  Whether anything is due at self->now (for a reading call, which then
//  needs the write lock).
static wp_status
s_due (wp_sqlite_t *self, bool *due)
{
    int64_t next;
    wp_status status = s_next_due (self, &next);
    *due = status == WP_OK && next != 0 && next <= self->now;
    return status;
}

//  ---------------------------------------------------------------------
//  The transaction frame (see wp_store_sqlite_int.h)

//  Ends a transaction begun by this call, after a failure.
static void
s_abandon (wp_sqlite_t *self)
{
    if (!sqlite3_get_autocommit (self->db))
        s_run (self, WP_SQL_ROLLBACK, "rolling back");
    memset (&self->op_reaped, 0, sizeof self->op_reaped);
}

//  Notes that SQLite rolled the group back on its own; every call until
//  commit or rollback then fails the same way.
static void
s_check_group (wp_sqlite_t *self, wp_status status)
{
    if (self->in_group && self->group_status == WP_OK && sqlite3_get_autocommit (self->db)) {
        self->group_status = status? status: WP_ABORTED;
        if (self->base.errmsg [0])
            memcpy (self->group_errmsg, self->base.errmsg, sizeof self->group_errmsg);
        else
            strcpy (self->group_errmsg, "SQLite ended it (an I/O error, a full disk, or a "
                                        "ROLLBACK outside the store)");
        memset (&self->group_reaped, 0, sizeof self->group_reaped);
    }
}

void
wp_sqlite_due_changed (wp_sqlite_t *self)
{
    self->group_due = 0;
}

void
wp_sqlite_due_before (wp_sqlite_t *self, int64_t when)
{
    if (self->group_due > when)
        self->group_due = when;
}

wp_status
wp_sqlite_enter (wp_sqlite_t *self, bool write)
{
    self->now = wp_store_now (&self->base);
    memset (&self->op_reaped, 0, sizeof self->op_reaped);
    self->savepoint = false;
    wp_status status;
    if (self->in_group) {
        //  Whatever ended the group behind our back, no call may run
        //  outside it thinking it is inside
        s_check_group (self, WP_ABORTED);
        if (self->group_status)
            return wp_store_error (&self->base, self->group_status,
                                   "the transaction was rolled back: %s", self->group_errmsg);
        status = s_expire (self);
        if (status) {
            s_check_group (self, status);
            return status;
        }
    }
    else {
        status = s_run (self, write? WP_SQL_BEGIN_WRITE: WP_SQL_BEGIN_READ,
                        "beginning a transaction");
        if (status)
            return status;
        if (!write) {
            bool due;
            status = s_due (self, &due);
            if (status == WP_OK && due) {
                //  Upgrading a read transaction can fail with a stale
                //  snapshot; starting over with the write lock cannot.
                s_run (self, WP_SQL_ROLLBACK, "ending a read");
                status = s_run (self, WP_SQL_BEGIN_WRITE, "beginning a transaction");
                if (status)
                    return status;
                status = s_expire (self);
            }
        }
        else
            status = s_expire (self);
        if (status) {
            s_abandon (self);
            return status;
        }
    }
    //  A savepoint only where something must outlive the call's failure:
    //  the group's other calls, or expiry applied on the way in. Otherwise
    //  a failed call rolls its whole transaction back, which is cheaper on
    //  the claim path.
    bool applied = self->op_reaped.leases_expired || self->op_reaped.workers_lost
                || self->op_reaped.promoted;
    if (write && (self->in_group || applied)) {
        status = s_run (self, WP_SQL_SAVEPOINT, "opening a savepoint");
        if (status) {
            if (self->in_group)
                s_check_group (self, status);
            else
                s_abandon (self);
            return status;
        }
        self->savepoint = true;
    }
    return WP_OK;
}

wp_status
wp_sqlite_leave (wp_sqlite_t *self, bool write, wp_status rc)
{
    bool savepoint = self->savepoint;
    if (savepoint && !sqlite3_get_autocommit (self->db)) {
        wp_status status = WP_OK;
        if (rc)
            status = s_run (self, WP_SQL_ROLLBACK_TO, "rolling back a failed call");
        if (status == WP_OK)
            status = s_run (self, WP_SQL_RELEASE, "releasing a savepoint");
        if (rc == WP_OK)
            rc = status;
    }
    self->savepoint = false;
    if (self->in_group) {
        s_check_group (self, rc);
        if (self->group_status == WP_OK)
            wp_store_reap_add (&self->group_reaped, &self->op_reaped);
        return rc;
    }
    if (sqlite3_get_autocommit (self->db))
        //  SQLite already rolled back (an I/O error, a full disk)
        return rc? rc: wp_store_error (&self->base, WP_INTERNAL, "the transaction was rolled back");
    if (rc && write && !savepoint) {
        s_abandon (self);
        return rc;
    }
    //  A failed call still commits: the expiry it applied on its way in is
    //  due whatever happens to the call.
    char saved [sizeof self->base.errmsg];
    memcpy (saved, self->base.errmsg, sizeof saved);
    wp_status status = s_run (self, WP_SQL_COMMIT, "committing");
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
    wp_sqlite_t *self = (wp_sqlite_t *) base;
    if (self->in_group)
        return wp_store_error (base, WP_FAILED_PRECONDITION, "a transaction is already open");
    wp_status status = s_run (self, WP_SQL_BEGIN_WRITE, "beginning a transaction");
    if (status)
        return status;
    self->in_group = true;
    self->batch = false;
    self->group_due = 0;
    self->group_status = WP_OK;
    memset (&self->group_reaped, 0, sizeof self->group_reaped);
    memset (&self->group_told, 0, sizeof self->group_told);
    return WP_OK;
}

static wp_status
s_commit (wp_store_t *base)
{
    wp_sqlite_t *self = (wp_sqlite_t *) base;
    if (!self->in_group)
        return wp_store_error (base, WP_FAILED_PRECONDITION, "no transaction is open");
    self->in_group = false;
    if (self->group_status) {
        s_abandon (self);
        return wp_store_error (base, self->group_status,
                               "the transaction was rolled back: %s", self->group_errmsg);
    }
    wp_status status = s_run (self, WP_SQL_COMMIT, "committing");
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
    wp_sqlite_t *self = (wp_sqlite_t *) base;
    if (self->in_group) {
        self->in_group = false;
        s_abandon (self);
    }
}

//  Savepoints, for wp_store.c's batches inside a group. What the store
//  keeps in memory about the group must follow an undo as the file does:
//  the reap totals go back to what they were at the mark, and group_due is
//  forgotten (expiry the batch applied is undone, so its items are due
//  again). The current tasks and the per-pool counters live in the file.

static wp_status
s_savepoint (wp_store_t *base)
{
    wp_sqlite_t *self = (wp_sqlite_t *) base;
    s_check_group (self, WP_ABORTED);
    if (self->group_status)
        return wp_store_error (base, self->group_status,
                               "the transaction was rolled back: %s", self->group_errmsg);
    wp_status status = s_run (self, WP_SQL_BATCH_SAVEPOINT, "opening a savepoint");
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
    wp_sqlite_t *self = (wp_sqlite_t *) base;
    if (self->batch && !sqlite3_get_autocommit (self->db))
        s_check_group (self, s_run (self, WP_SQL_BATCH_RELEASE, "releasing a savepoint"));
    self->batch = false;
}

static void
s_rollback_to (wp_store_t *base)
{
    wp_sqlite_t *self = (wp_sqlite_t *) base;
    if (self->batch && !sqlite3_get_autocommit (self->db)) {
        wp_status status = s_run (self, WP_SQL_BATCH_ROLLBACK_TO, "undoing a batch");
        if (status == WP_OK)
            status = s_run (self, WP_SQL_BATCH_RELEASE, "undoing a batch");
        s_check_group (self, status);
    }
    self->batch = false;
    self->group_reaped = self->batch_reaped;
    self->group_due = 0;
}

//  ---------------------------------------------------------------------
//  Housekeeping

static wp_status
s_reap (wp_store_t *base, wp_reap_t *out)
{
    wp_sqlite_t *self = (wp_sqlite_t *) base;
    wp_status status = wp_sqlite_leave (self, true, wp_sqlite_enter (self, true));
    if (status)
        return status;
    //  Inside a group, what the group applied so far counts too (told once:
    //  the commit adds only what came after), so a broker learns of an
    //  item requeued in the transaction it is about to commit; a broker
    //  counts what a reap says only once that commit succeeds.
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

//  Applies nothing (as the memory store): a time already past tells the
//  broker to reap now. One statement reads a consistent snapshot on its own.
static wp_status
s_next_due_op (wp_store_t *base, int64_t *next_out)
{
    wp_sqlite_t *self = (wp_sqlite_t *) base;
    int64_t next = 0;
    wp_status status = s_next_due (self, &next);
    if (status == WP_OK) {
        sqlite3_stmt *stmt = wp_sqlite_stmt (self, WP_SQL_SCHEDULES_NEXT);
        int rc = sqlite3_step (stmt);
        if (rc == SQLITE_ROW)
            next = s_earlier (next, sqlite3_column_int64 (stmt, 0));
        else
            status = wp_sqlite_error (self, rc, "looking for due schedules");
        sqlite3_reset (stmt);
    }
    if (status == WP_OK)
        *next_out = next;
    else
        s_check_group (self, status);
    return status;
}

static wp_status
s_purge (wp_store_t *base, double older_than, uint64_t *count_out)
{
    wp_sqlite_t *self = (wp_sqlite_t *) base;
    wp_status status = wp_sqlite_enter (self, true);
    if (status)
        return status;
    sqlite3_stmt *stmt = wp_sqlite_stmt (self, WP_SQL_PURGE);
    sqlite3_bind_int64 (stmt, 1, self->now - wp_sqlite_us (older_than));
    status = wp_sqlite_run (self, stmt, "purging finished items");
    uint64_t count = status == WP_OK? (uint64_t) sqlite3_changes64 (self->db): 0;
    status = wp_sqlite_leave (self, true, status);
    if (status == WP_OK)
        *count_out = count;
    return status;
}

//  Reads the per-pool counters and the workers by status into stats.
static wp_status
s_stats_read (wp_sqlite_t *self, wp_stats_t *stats)
{
    sqlite3_stmt *stmt = wp_sqlite_stmt (self, WP_SQL_STATS_POOLS);
    int rc;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        stats->pools = realloc (stats->pools, (stats->pool_count + 1) * sizeof *stats->pools);
        if (!stats->pools)
            abort ();
        wp_pool_stats_t *pool = &stats->pools [stats->pool_count++];
        pool->pool = wp_sqlite_column_strdup (stmt, 0);
        pool->pending = (uint64_t) sqlite3_column_int64 (stmt, 1);
        pool->claimed = (uint64_t) sqlite3_column_int64 (stmt, 2);
        pool->done = (uint64_t) sqlite3_column_int64 (stmt, 3);
        pool->poisoned = (uint64_t) sqlite3_column_int64 (stmt, 4);
        pool->paused = sqlite3_column_int (stmt, 5) != 0;
        pool->scheduled = (uint64_t) sqlite3_column_int64 (stmt, 6);
        pool->backoff.base = sqlite3_column_double (stmt, 7);
        pool->backoff.cap = sqlite3_column_double (stmt, 8);
        pool->backoff.jitter = sqlite3_column_double (stmt, 9);
    }
    sqlite3_reset (stmt);
    if (rc != SQLITE_DONE)
        return wp_sqlite_error (self, rc, "counting items");
    stmt = wp_sqlite_stmt (self, WP_SQL_STATS_WORKERS);
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        stats->workers = realloc (stats->workers,
                                  (stats->worker_status_count + 1) * sizeof *stats->workers);
        if (!stats->workers)
            abort ();
        wp_status_count_t *count = &stats->workers [stats->worker_status_count++];
        count->status = wp_sqlite_column_strdup (stmt, 0);
        count->count = (uint64_t) sqlite3_column_int64 (stmt, 1);
    }
    sqlite3_reset (stmt);
    if (rc != SQLITE_DONE)
        return wp_sqlite_error (self, rc, "counting workers");
    return WP_OK;
}

static wp_status
s_stats (wp_store_t *base, wp_stats_t **stats_out)
{
    wp_sqlite_t *self = (wp_sqlite_t *) base;
    wp_status status = wp_sqlite_enter (self, false);
    if (status)
        return status;
    wp_stats_t *stats = wp_stats_new ();
    status = wp_sqlite_leave (self, false, s_stats_read (self, stats));
    if (status == WP_OK)
        *stats_out = stats;
    else
        wp_stats_destroy (&stats);
    return status;
}

//  ---------------------------------------------------------------------
//  Open, check, migrate, close

static void
s_destroy (wp_store_t *base)
{
    wp_sqlite_t *self = (wp_sqlite_t *) base;
    if (self->db) {
        if (!sqlite3_get_autocommit (self->db))
            sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
        for (int i = 0; i < WP_SQL_COUNT; i++)
            sqlite3_finalize (self->stmt [i]);
        sqlite3_close_v2 (self->db);
    }
    free (self);
}

static const wp_store_ops_t s_ops = {
    .name = "sqlite",
    .destroy = s_destroy,
    .begin = s_begin,
    .commit = s_commit,
    .rollback = s_rollback,
    .push = wp_sqlite_push,
    .claim = wp_sqlite_claim,
    .complete = wp_sqlite_complete,
    .fail = wp_sqlite_fail,
    .size = wp_sqlite_size,
    .release_by_worker = wp_sqlite_release_by_worker,
    .get = wp_sqlite_get,
    .renew = wp_sqlite_renew,
    .register_worker = wp_sqlite_register,
    .heartbeat = wp_sqlite_heartbeat,
    .update_status = wp_sqlite_update_status,
    .get_worker = wp_sqlite_get_worker,
    .list_workers = wp_sqlite_list_workers,
    .reap = s_reap,
    .next_due = s_next_due_op,
    .purge = s_purge,
    .stats = s_stats,
    .savepoint = s_savepoint,
    .release = s_release,
    .rollback_to = s_rollback_to,
    .list_items = wp_sqlite_list_items,
    .retry = wp_sqlite_retry,
    .retry_all = wp_sqlite_retry_all,
    .cancel = wp_sqlite_cancel,
    .purge_pool = wp_sqlite_purge_pool,
    .set_paused = wp_sqlite_set_paused,
    .set_backoff = wp_sqlite_set_backoff,
    .schedule_put = wp_sqlite_schedule_put,
    .schedule_remove = wp_sqlite_schedule_remove,
    .schedule_list = wp_sqlite_schedule_list,
};

#define WP_SQLITE_STRING_(name, sql) sql,
static const char *const s_sql [WP_SQL_COUNT] = {
    WP_SQLITE_STATEMENTS (WP_SQLITE_STRING_)
};
#undef WP_SQLITE_STRING_

//  Migration step N takes user_version N-1 to N.
static const char *const s_migrations [WP_SQLITE_SCHEMA_VERSION + 1] = {
    NULL,
    WP_SQLITE_MIGRATION_1,
    WP_SQLITE_MIGRATION_2,
    WP_SQLITE_MIGRATION_3,
    WP_SQLITE_MIGRATION_4,
};

//  What the file at hand is.
typedef enum { S_FILE_EMPTY, S_FILE_OURS } s_file_kind;

//  Reads the file's header and says whether it is ours (*version: its
//  schema version) or empty; anything else fails, changing nothing.
static int
s_identify (sqlite3 *db, const char *path, s_file_kind *kind, int64_t *version,
            wp_sqlite_failure_t *failure)
{
    //  One snapshot for the three reads: another process may be creating
    //  the store right now
    int64_t application_id = 0, objects = 0;
    bool own_read = sqlite3_get_autocommit (db);
    int rc = own_read? sqlite3_exec (db, "BEGIN", NULL, NULL, NULL): SQLITE_OK;
    if (rc == SQLITE_OK)
        rc = wp_sqlite_query_int (db, "PRAGMA application_id", &application_id);
    if (rc == SQLITE_OK)
        rc = wp_sqlite_query_int (db, "PRAGMA user_version", version);
    if (rc == SQLITE_OK)
        rc = wp_sqlite_query_int (db, "SELECT count(*) FROM sqlite_schema", &objects);
    if (own_read && !sqlite3_get_autocommit (db))
        sqlite3_exec (db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return wp_sqlite_open_failed_io (failure, db, rc, path, "reading its header");
    if (application_id == WP_SQLITE_APPLICATION_ID) {
        if (*version > WP_SQLITE_SCHEMA_VERSION)
            return wp_sqlite_open_failed (failure, WP_FAILED_PRECONDITION,
                           "'%s' has schema version %lld, newer than this workpool reads (%d): "
                           "use a newer workpool", path, (long long) *version,
                           WP_SQLITE_SCHEMA_VERSION);
        *kind = S_FILE_OURS;
        return 0;
    }
    if (application_id == 0 && *version == 0 && objects == 0) {
        *kind = S_FILE_EMPTY;
        return 0;
    }
    if (application_id == WP_IMAGE_APPLICATION_ID)
        return wp_sqlite_open_failed (failure, WP_FAILED_PRECONDITION,
                                      "'%s' is an image store's file, not a SQLite store's: "
                                      "open it as image:%s", path, path);
    return wp_sqlite_open_failed (failure, WP_FAILED_PRECONDITION,
                   "'%s' is not a workpool store: a SQLite database of another application "
                   "(application_id %lld, user_version %lld)", path,
                   (long long) application_id, (long long) *version);
}

//  Brings the file to WP_SQLITE_SCHEMA_VERSION in one transaction. The
//  header is read again under the write lock: another process may have
//  initialised or migrated the file since we looked.
static int
s_migrate (sqlite3 *db, const char *path, wp_sqlite_failure_t *failure)
{
    int rc = sqlite3_exec (db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return wp_sqlite_open_failed_io (failure, db, rc, path, "locking it to migrate");
    s_file_kind kind;
    int64_t version;
    if (s_identify (db, path, &kind, &version, failure)) {
        sqlite3_exec (db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    for (int64_t step = version + 1; step <= WP_SQLITE_SCHEMA_VERSION && rc == SQLITE_OK; step++)
        rc = sqlite3_exec (db, s_migrations [step], NULL, NULL, NULL);
    if (rc == SQLITE_OK && version < WP_SQLITE_SCHEMA_VERSION) {
        char sql [128];
        snprintf (sql, sizeof sql, "PRAGMA application_id = %d; PRAGMA user_version = %d",
                  WP_SQLITE_APPLICATION_ID, WP_SQLITE_SCHEMA_VERSION);
        rc = sqlite3_exec (db, sql, NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_exec (db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        wp_sqlite_open_failed_io (failure, db, rc, path, "migrating its schema");
        sqlite3_exec (db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

//  Returns whether the file's journal mode is WAL (reading it).
static int
s_journal_mode (sqlite3 *db, const char *sql, bool *wal)
{
    sqlite3_stmt *stmt;
    int rc = sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step (stmt);
        if (rc == SQLITE_ROW) {
            const char *mode = (const char *) sqlite3_column_text (stmt, 0);
            *wal = mode && strcmp (mode, "wal") == 0;
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize (stmt);
    if (rc == SQLITE_NOMEM)
        abort ();
    return rc;
}

//  Puts the file in WAL mode, unless it is already (every store but a new
//  one). Switching needs a lock that SQLite does not always wait for when
//  several processes create the same file at once, so a busy switch is
//  retried until the busy timeout has passed.
static int
s_set_wal (sqlite3 *db, int busy_timeout_ms)
{
    bool wal = false;
    int rc = s_journal_mode (db, "PRAGMA journal_mode", &wal);
    for (int waited_ms = 0, pause_ms = 1; rc == SQLITE_OK && !wal; ) {
        rc = s_journal_mode (db, "PRAGMA journal_mode = WAL", &wal);
        if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED) {
            if (waited_ms >= busy_timeout_ms)
                break;
            usleep ((useconds_t) pause_ms * 1000);
            waited_ms += pause_ms;
            pause_ms = pause_ms < 32? pause_ms * 2: 32;
            rc = SQLITE_OK;
        }
        else
        if (rc == SQLITE_OK && !wal)
            rc = SQLITE_CANTOPEN;           //  a file system without shared memory
    }
    return rc;
}

//  Opens and prepares self->db; on failure fills failure.
static int
s_open (wp_sqlite_t *self, const char *path, wp_sqlite_failure_t *failure)
{
    int rc = sqlite3_open_v2 (path, &self->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        return wp_sqlite_open_failed_io (failure, self->db, rc, path, "opening it");
    sqlite3_extended_result_codes (self->db, 1);
    sqlite3_busy_timeout (self->db, self->base.config.busy_timeout_ms);
    if (sqlite3_db_readonly (self->db, "main") == 1)
        return wp_sqlite_open_failed (failure, WP_PERMISSION_DENIED, "cannot open '%s': the file is read-only",
                       path);
    s_file_kind kind;
    int64_t version;
    if (s_identify (self->db, path, &kind, &version, failure))
        return -1;

    //  Only now that the file is known to be ours (or empty) may we write.
    if (kind == S_FILE_EMPTY)
        sqlite3_exec (self->db, "PRAGMA page_size = 1024", NULL, NULL, NULL);
    rc = s_set_wal (self->db, self->base.config.busy_timeout_ms);
    if (rc != SQLITE_OK)
        return wp_sqlite_open_failed_io (failure, self->db, rc, path, "switching it to WAL");
    rc = sqlite3_exec (self->db, self->base.config.sync_full? "PRAGMA synchronous = FULL"
                                                            : "PRAGMA synchronous = NORMAL",
                       NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return wp_sqlite_open_failed_io (failure, self->db, rc, path, "setting synchronous");
    if (kind == S_FILE_EMPTY || version < WP_SQLITE_SCHEMA_VERSION)
        if (s_migrate (self->db, path, failure))
            return -1;
    for (int i = 0; i < WP_SQL_COUNT; i++) {
        rc = sqlite3_prepare_v3 (self->db, s_sql [i], -1, SQLITE_PREPARE_PERSISTENT,
                                 &self->stmt [i], NULL);
        if (rc == SQLITE_NOMEM)
            abort ();
        if (rc != SQLITE_OK)
            return wp_sqlite_open_failed (failure, WP_INTERNAL, "cannot prepare statement %d of '%s': %s",
                           i, path, sqlite3_errmsg (self->db));
    }
    //  A checkpoint runs inside the commit that crosses this many WAL pages
    //  and ends with an fsync of the file, stalling the broker's loop (5 ms
    //  on this machine's disk). SQLite's 1000 pages meant one stall every
    //  ~125 commits; at 16000 they are 16 times rarer, and barely longer,
    //  since a checkpoint copies each page once however often it changed.
    sqlite3_wal_autocheckpoint (self->db, WP_SQLITE_CHECKPOINT_PAGES);
    return 0;
}

//  Whether the file behind db is a store (read through its WAL).
static bool
s_initialised (sqlite3 *db)
{
    int64_t application_id = 0;
    return db && wp_sqlite_query_int (db, "PRAGMA application_id", &application_id) == SQLITE_OK
        && application_id == WP_SQLITE_APPLICATION_ID;
}

wp_store_t *
wp_store_sqlite_new (const char *path, const wp_store_config_t *cfg,
                     wp_status *status, char **message)
{
    wp_sqlite_failure_t failure = { WP_OK, "" };
    wp_sqlite_t *self = NULL;
    struct stat st;
    if (!path || !*path)
        wp_sqlite_open_failed (&failure, WP_INVALID_ARGUMENT, "the SQLite store needs a file path");
    else
    if (stat (path, &st) == 0 && S_ISDIR (st.st_mode))
        wp_sqlite_open_failed (&failure, WP_FAILED_PRECONDITION, "'%s' is a directory, not a workpool store",
                path);
    else {
        //  Made here rather than by SQLite, so we know whether we made it
        int fd = open (path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        bool created = fd >= 0;
        if (created)
            close (fd);
        self = calloc (1, sizeof *self);
        if (!self)
            abort ();
        wp_store_init (&self->base, &s_ops, cfg);
        if (s_open (self, path, &failure)) {
            //  A file we made, unless another process opening it at the
            //  same time has made it a store meanwhile
            bool remove = created && !s_initialised (self->db);
            s_destroy (&self->base);
            self = NULL;
            if (remove)
                wp_sqlite_unlink_created (path);
        }
    }
    if (self)
        return &self->base;
    if (status)
        *status = failure.status;
    if (message)
        *message = wp_strdup (failure.message);
    return NULL;
}
