/*  wp_store_sqlite_items: the WorkPool calls of the SQLite store (push,
    claim, complete, fail, size, release_by_worker, get, renew).

    Each runs in the frame of wp_store_sqlite_int.h. A claim is the single
    guarded UPDATE WP_SQL_CLAIM: it takes the first row of the partial index
    of pending items of the pool, and re-checks status = 0 on the row it
    changes, inside a transaction that holds SQLite's write lock; no other
    connection can claim between the choice and the change.  */
#include "wp_store_sqlite_int.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

wp_item_t *
wp_sqlite_item_read (sqlite3_stmt *stmt, const char *pool)
{
    wp_item_t *item = wp_item_new ();
    item->id = wp_sqlite_column_strdup (stmt, 1);
    item->pool = wp_strdup (pool);
    item->data = wp_sqlite_column_blob (stmt, 2, &item->data_size);
    item->status = (wp_item_state) sqlite3_column_int (stmt, 3);
    item->claimed_by = wp_sqlite_column_strdup (stmt, 4);
    item->claimed_at = sqlite3_column_int64 (stmt, 5);
    item->lease_expires_at = sqlite3_column_int64 (stmt, 6);
    item->attempts = (uint32_t) sqlite3_column_int64 (stmt, 7);
    item->max_retries = (uint32_t) sqlite3_column_int64 (stmt, 8);
    item->result = wp_sqlite_column_blob (stmt, 9, &item->result_size);
    item->error = wp_sqlite_column_strdup (stmt, 10);
    item->created_at = sqlite3_column_int64 (stmt, 11);
    item->priority = (int32_t) sqlite3_column_int64 (stmt, 12);
    item->run_at = sqlite3_column_int64 (stmt, 13);
    item->unique_key = wp_sqlite_column_strdup (stmt, 14);
    return item;
}

wp_status
wp_sqlite_item_state (wp_sqlite_t *self, const char *pool, const char *id, wp_sqlite_row_t *row)
{
    memset (row, 0, sizeof *row);
    sqlite3_stmt *stmt = wp_sqlite_stmt (self, WP_SQL_ITEM_STATE);
    wp_sqlite_bind_text (stmt, 1, pool);
    wp_sqlite_bind_text (stmt, 2, id);
    int rc = sqlite3_step (stmt);
    wp_status status = WP_OK;
    if (rc == SQLITE_ROW) {
        row->seq = sqlite3_column_int64 (stmt, 0);
        row->state = (wp_item_state) sqlite3_column_int (stmt, 1);
        row->holder = wp_sqlite_column_strdup (stmt, 2);
        row->attempts = (uint32_t) sqlite3_column_int64 (stmt, 3);
        row->max_retries = (uint32_t) sqlite3_column_int64 (stmt, 4);
        row->unique_key = wp_sqlite_column_strdup (stmt, 5);
        row->pool_id = sqlite3_column_int64 (stmt, 6);
    }
    else
    if (rc == SQLITE_DONE)
        status = wp_store_error (&self->base, WP_NOT_FOUND, "no item '%s' in pool '%s'", id, pool);
    else
        status = wp_sqlite_error (self, rc, "reading the item");
    sqlite3_reset (stmt);
    return status;
}

void
wp_sqlite_row_clear (wp_sqlite_row_t *row)
{
    free (row->holder);
    free (row->unique_key);
    memset (row, 0, sizeof *row);
}

static wp_status s_pool_lookup (wp_sqlite_t *self, const char *pool, int64_t *pool_id);

//  Remembers (pool, id) in refs unless it is there; when full, replaces
//  the entry *next points at.
static void
s_pool_remember (wp_sqlite_pool_ref_t *refs, size_t *count, size_t *next,
                 const char *pool, int64_t id)
{
    for (size_t i = 0; i < *count; i++)
        if (strcmp (refs [i].name, pool) == 0)
            return;
    size_t slot = *count;
    if (slot == WP_SQLITE_POOLS_CACHED) {
        if (!next)
            return;
        slot = *next;
        *next = (*next + 1) % WP_SQLITE_POOLS_CACHED;
    }
    else
        (*count)++;
    snprintf (refs [slot].name, sizeof refs [slot].name, "%s", pool);
    refs [slot].id = id;
}

void
wp_sqlite_pools_committed (wp_sqlite_t *self)
{
    for (size_t i = 0; i < self->pools_seen_count; i++)
        s_pool_remember (self->pools_known, &self->pools_known_count, &self->pools_known_next,
                         self->pools_seen [i].name, self->pools_seen [i].id);
    self->pools_seen_count = 0;
}

//  Saves a POOL_FIND per push (one of its two statements): only ids from
//  committed transactions are trusted, since a row this transaction read or
//  inserted may yet be rolled back and its id given to another pool.
wp_status
wp_sqlite_pool_id (wp_sqlite_t *self, const char *pool, int64_t *pool_id)
{
    for (size_t i = 0; i < self->pools_known_count; i++)
        if (strcmp (self->pools_known [i].name, pool) == 0) {
            *pool_id = self->pools_known [i].id;
            return WP_OK;
        }
    wp_status status = s_pool_lookup (self, pool, pool_id);
    if (status == WP_OK)
        s_pool_remember (self->pools_seen, &self->pools_seen_count, NULL, pool, *pool_id);
    return status;
}

//  The pool's row id, created if the pool has none.
static wp_status
s_pool_lookup (wp_sqlite_t *self, const char *pool, int64_t *pool_id)
{
    sqlite3_stmt *stmt = wp_sqlite_stmt (self, WP_SQL_POOL_FIND);
    wp_sqlite_bind_text (stmt, 1, pool);
    int rc = sqlite3_step (stmt);
    if (rc == SQLITE_ROW)
        *pool_id = sqlite3_column_int64 (stmt, 0);
    sqlite3_reset (stmt);
    if (rc == SQLITE_ROW)
        return WP_OK;
    if (rc != SQLITE_DONE)
        return wp_sqlite_error (self, rc, "finding the pool");
    stmt = wp_sqlite_stmt (self, WP_SQL_POOL_INSERT);
    wp_sqlite_bind_text (stmt, 1, pool);
    wp_status status = wp_sqlite_run (self, stmt, "creating the pool");
    if (status == WP_OK)
        *pool_id = sqlite3_last_insert_rowid (self->db);
    return status;
}

//  A push changed nothing: *id (ours, replaced) becomes the id of the item
//  it duplicates, entry's id if that is taken, else the live holder of its
//  unique key.
static wp_status
s_duplicate_of (wp_sqlite_t *self, int64_t pool_id, const wp_push_entry_t *entry, char **id)
{
    sqlite3_stmt *stmt = wp_sqlite_stmt (self, WP_SQL_PUSH_ID_TAKEN);
    sqlite3_bind_int64 (stmt, 1, pool_id);
    wp_sqlite_bind_text (stmt, 2, *id);
    int rc = sqlite3_step (stmt);
    sqlite3_reset (stmt);
    if (rc == SQLITE_ROW)
        return WP_OK;                   //  the id rule: *id is the item's
    if (rc != SQLITE_DONE)
        return wp_sqlite_error (self, rc, "finding the duplicate");
    char *holder = NULL;
    if (entry->unique_key) {
        stmt = wp_sqlite_stmt (self, WP_SQL_KEY_HOLDER);
        sqlite3_bind_int64 (stmt, 1, pool_id);
        wp_sqlite_bind_text (stmt, 2, entry->unique_key);
        rc = sqlite3_step (stmt);
        if (rc == SQLITE_ROW)
            holder = wp_sqlite_column_strdup (stmt, 0);
        sqlite3_reset (stmt);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return wp_sqlite_error (self, rc, "finding the unique key's holder");
    }
    if (!holder)
        return wp_store_error (&self->base, WP_INTERNAL,
                               "the push of '%s' was refused, by neither its id nor its key", *id);
    free (*id);
    *id = holder;
    return WP_OK;
}

wp_status
wp_sqlite_push (wp_store_t *base, const char *pool, const wp_push_entry_t *entry,
                char **id_out, bool *duplicate)
{
    wp_sqlite_t *self = (wp_sqlite_t *) base;
    wp_status status = wp_sqlite_enter (self, true);
    if (status)
        return status;
    char *id;
    if (entry->id)
        id = wp_strdup (entry->id);
    else {
        id = malloc (WP_UUID_LEN + 1);
        if (!id)
            abort ();
        wp_uuid_new (id);
    }
    int64_t pool_id = 0;
    bool existed = false;
    int64_t due = wp_store_entry_due (base, entry);
    status = wp_sqlite_pool_id (self, pool, &pool_id);
    if (status == WP_OK) {
        sqlite3_stmt *stmt = wp_sqlite_stmt (self, WP_SQL_PUSH);
        sqlite3_bind_int64 (stmt, 1, pool_id);
        wp_sqlite_bind_text (stmt, 2, id);
        wp_sqlite_bind_blob (stmt, 3, entry->data, entry->data_size);
        sqlite3_bind_int64 (stmt, 4, entry->max_retries < 0? WP_DEFAULT_MAX_RETRIES
                                                           : entry->max_retries);
        sqlite3_bind_int64 (stmt, 5, self->now);
        sqlite3_bind_int (stmt, 6, due? WP_ITEM_SCHEDULED: WP_ITEM_PENDING);
        sqlite3_bind_int64 (stmt, 7, entry->priority);
        if (due)
            sqlite3_bind_int64 (stmt, 8, due);
        wp_sqlite_bind_text (stmt, 9, entry->unique_key);
        status = wp_sqlite_run (self, stmt, "pushing");
        //  DO NOTHING: no row changed means the id or the key was taken
        existed = status == WP_OK && sqlite3_changes (self->db) == 0;
        if (status == WP_OK && due && !existed)
            wp_sqlite_due_before (self, due);
    }
    if (existed)
        status = s_duplicate_of (self, pool_id, entry, &id);
    status = wp_sqlite_leave (self, true, status);
    if (status == WP_OK) {
        *id_out = id;
        if (duplicate)
            *duplicate = existed;
    }
    else
        free (id);
    return status;
}

wp_status
wp_sqlite_claim (wp_store_t *base, const char *pool, const char *worker_id,
                 double lease, wp_item_t **item_out)
{
    wp_sqlite_t *self = (wp_sqlite_t *) base;
    wp_status status = wp_sqlite_enter (self, true);
    if (status)
        return status;
    sqlite3_stmt *stmt = wp_sqlite_stmt (self, WP_SQL_CLAIM_NEXT);
    wp_sqlite_bind_text (stmt, 1, pool);
    wp_item_t *item = NULL;
    int64_t seq = 0;
    int rc = sqlite3_step (stmt);
    if (rc == SQLITE_ROW) {
        item = wp_sqlite_item_read (stmt, pool);
        seq = sqlite3_column_int64 (stmt, 0);
    }
    else
    if (rc != SQLITE_DONE)
        status = wp_sqlite_error (self, rc, "finding a pending item");
    sqlite3_reset (stmt);
    if (status == WP_OK && item) {
        int64_t lease_us = wp_sqlite_us (lease > 0? lease: base->config.lease);
        stmt = wp_sqlite_stmt (self, WP_SQL_CLAIM);
        sqlite3_bind_int64 (stmt, 1, seq);
        wp_sqlite_bind_text (stmt, 2, worker_id);
        sqlite3_bind_int64 (stmt, 3, self->now);
        sqlite3_bind_int64 (stmt, 4, lease_us);
        status = wp_sqlite_run (self, stmt, "claiming");
        //  The write lock is held since the SELECT: the row is still ours
        if (status == WP_OK && sqlite3_changes (self->db) != 1)
            status = wp_store_error (base, WP_INTERNAL, "item '%s' changed under the write lock",
                                     item->id);
        if (status == WP_OK) {
            wp_sqlite_due_before (self, self->now + lease_us);
            item->status = WP_ITEM_CLAIMED;
            free (item->claimed_by);
            item->claimed_by = wp_strdup (worker_id);
            item->claimed_at = self->now;
            item->lease_expires_at = self->now + lease_us;
        }
    }
    if (status == WP_OK && item) {
        stmt = wp_sqlite_stmt (self, WP_SQL_TASK_SET);
        wp_sqlite_bind_text (stmt, 1, worker_id);
        sqlite3_bind_int64 (stmt, 2, seq);
        status = wp_sqlite_run (self, stmt, "noting the worker's task");
    }
    status = wp_sqlite_leave (self, true, status);
    if (status == WP_OK)
        *item_out = item;
    else
        wp_item_destroy (&item);
    return status;
}

//  Checks that item id of pool is claimed (by worker_id, if given); *row
//  (clear it) says which row, who holds it and what a failure needs.
static wp_status
s_claimed_item (wp_sqlite_t *self, const char *pool, const char *id, const char *worker_id,
                wp_sqlite_row_t *row)
{
    wp_status status = wp_sqlite_item_state (self, pool, id, row);
    if (status)
        return status;
    if (row->state != WP_ITEM_CLAIMED)
        return wp_store_error (&self->base, WP_FAILED_PRECONDITION,
                               "item '%s' is %s, not claimed", id, wp_item_state_name (row->state));
    if (worker_id && (!row->holder || strcmp (row->holder, worker_id)))
        return wp_store_error (&self->base, WP_FAILED_PRECONDITION,
                               "item '%s' is claimed by '%s', not by '%s'", id,
                               row->holder? row->holder: "?", worker_id);
    return WP_OK;
}

//  The item left its worker: it is no longer the worker's current task.
static wp_status
s_task_clear (wp_sqlite_t *self, const char *holder, int64_t seq)
{
    sqlite3_stmt *stmt = wp_sqlite_stmt (self, WP_SQL_TASK_CLEAR);
    wp_sqlite_bind_text (stmt, 1, holder);
    sqlite3_bind_int64 (stmt, 2, seq);
    return wp_sqlite_run (self, stmt, "clearing the worker's task");
}

wp_status
wp_sqlite_complete (wp_store_t *base, const char *pool, const char *id,
                    const uint8_t *result, size_t result_size, const char *worker_id)
{
    wp_sqlite_t *self = (wp_sqlite_t *) base;
    wp_status status = wp_sqlite_enter (self, true);
    if (status)
        return status;
    wp_sqlite_row_t row;
    status = s_claimed_item (self, pool, id, worker_id, &row);
    if (status == WP_OK) {
        sqlite3_stmt *stmt = wp_sqlite_stmt (self, WP_SQL_COMPLETE);
        sqlite3_bind_int64 (stmt, 1, row.seq);
        wp_sqlite_bind_blob (stmt, 2, result, result_size);
        sqlite3_bind_int64 (stmt, 3, self->now);
        status = wp_sqlite_run (self, stmt, "completing");
    }
    if (status == WP_OK)
        status = s_task_clear (self, row.holder, row.seq);
    wp_sqlite_row_clear (&row);
    return wp_sqlite_leave (self, true, status);
}

//  *policy: the retry policy of pool pool_id.
static wp_status
s_pool_policy (wp_sqlite_t *self, int64_t pool_id, wp_backoff_t *policy)
{
    sqlite3_stmt *stmt = wp_sqlite_stmt (self, WP_SQL_POOL_POLICY);
    sqlite3_bind_int64 (stmt, 1, pool_id);
    int rc = sqlite3_step (stmt);
    if (rc == SQLITE_ROW) {
        policy->base = sqlite3_column_double (stmt, 0);
        policy->cap = sqlite3_column_double (stmt, 1);
        policy->jitter = sqlite3_column_double (stmt, 2);
    }
    sqlite3_reset (stmt);
    return rc == SQLITE_ROW? WP_OK: wp_sqlite_error (self, rc == SQLITE_DONE? SQLITE_CORRUPT: rc,
                                                      "reading the pool's backoff");
}

wp_status
wp_sqlite_fail (wp_store_t *base, const char *pool, const char *id,
                const char *error, const char *worker_id, double retry_after, wp_item_state *state_out)
{
    wp_sqlite_t *self = (wp_sqlite_t *) base;
    wp_status status = wp_sqlite_enter (self, true);
    if (status)
        return status;
    wp_item_state state = WP_ITEM_PENDING;
    wp_sqlite_row_t row;
    status = s_claimed_item (self, pool, id, worker_id, &row);
    wp_backoff_t policy = { 0, 0, 0 };
    if (status == WP_OK)
        status = s_pool_policy (self, row.pool_id, &policy);
    if (status == WP_OK)
        status = wp_sqlite_requeue (self, row.seq, row.attempts, row.max_retries, &policy,
                                    error, retry_after, &state);
    if (status == WP_OK)
        status = s_task_clear (self, row.holder, row.seq);
    wp_sqlite_row_clear (&row);
    status = wp_sqlite_leave (self, true, status);
    if (status == WP_OK && state_out)
        *state_out = state;
    return status;
}

wp_status
wp_sqlite_size (wp_store_t *base, const char *pool, uint64_t *size_out)
{
    wp_sqlite_t *self = (wp_sqlite_t *) base;
    wp_status status = wp_sqlite_enter (self, false);
    if (status)
        return status;
    sqlite3_stmt *stmt = wp_sqlite_stmt (self, WP_SQL_SIZE);
    wp_sqlite_bind_text (stmt, 1, pool);
    uint64_t size = 0;
    int rc = sqlite3_step (stmt);
    if (rc == SQLITE_ROW)
        size = (uint64_t) sqlite3_column_int64 (stmt, 0);
    else
    if (rc != SQLITE_DONE)
        status = wp_sqlite_error (self, rc, "counting pending items");
    sqlite3_reset (stmt);
    status = wp_sqlite_leave (self, false, status);
    if (status == WP_OK)
        *size_out = size;
    return status;
}

wp_status
wp_sqlite_release_by_worker (wp_store_t *base, const char *pool,
                             const char *worker_id, uint64_t *count_out)
{
    wp_sqlite_t *self = (wp_sqlite_t *) base;
    wp_status status = wp_sqlite_enter (self, true);
    if (status)
        return status;
    sqlite3_stmt *stmt = wp_sqlite_stmt (self, WP_SQL_RELEASE_TASKS);
    wp_sqlite_bind_text (stmt, 1, pool);
    wp_sqlite_bind_text (stmt, 2, worker_id);
    status = wp_sqlite_run (self, stmt, "clearing the worker's task");
    uint64_t count = 0;
    if (status == WP_OK) {
        stmt = wp_sqlite_stmt (self, WP_SQL_RELEASE_ITEMS);
        wp_sqlite_bind_text (stmt, 1, pool);
        wp_sqlite_bind_text (stmt, 2, worker_id);
        sqlite3_bind_int64 (stmt, 3, self->now);
        status = wp_sqlite_run (self, stmt, "releasing the worker's items");
        if (status == WP_OK)
            count = (uint64_t) sqlite3_changes64 (self->db);
    }
    status = wp_sqlite_leave (self, true, status);
    if (status == WP_OK)
        *count_out = count;
    return status;
}

wp_status
wp_sqlite_get (wp_store_t *base, const char *pool, const char *id, wp_item_t **item_out)
{
    wp_sqlite_t *self = (wp_sqlite_t *) base;
    wp_status status = wp_sqlite_enter (self, false);
    if (status)
        return status;
    sqlite3_stmt *stmt = wp_sqlite_stmt (self, WP_SQL_ITEM_GET);
    wp_sqlite_bind_text (stmt, 1, pool);
    wp_sqlite_bind_text (stmt, 2, id);
    wp_item_t *item = NULL;
    int rc = sqlite3_step (stmt);
    if (rc == SQLITE_ROW)
        item = wp_sqlite_item_read (stmt, pool);
    else
    if (rc == SQLITE_DONE)
        status = wp_store_error (base, WP_NOT_FOUND, "no item '%s' in pool '%s'", id, pool);
    else
        status = wp_sqlite_error (self, rc, "reading the item");
    sqlite3_reset (stmt);
    status = wp_sqlite_leave (self, false, status);
    if (status == WP_OK)
        *item_out = item;
    else
        wp_item_destroy (&item);
    return status;
}

wp_status
wp_sqlite_renew (wp_store_t *base, const char *worker_id, double lease, uint64_t *count_out)
{
    wp_sqlite_t *self = (wp_sqlite_t *) base;
    wp_status status = wp_sqlite_enter (self, true);
    if (status)
        return status;
    wp_sqlite_due_changed (self);
    sqlite3_stmt *stmt = wp_sqlite_stmt (self, WP_SQL_RENEW);
    wp_sqlite_bind_text (stmt, 1, worker_id);
    sqlite3_bind_int64 (stmt, 2, wp_sqlite_us (lease > 0? lease: base->config.lease));
    sqlite3_bind_int64 (stmt, 3, self->now);
    status = wp_sqlite_run (self, stmt, "renewing leases");
    uint64_t count = status == WP_OK? (uint64_t) sqlite3_changes64 (self->db): 0;
    status = wp_sqlite_leave (self, true, status);
    if (status == WP_OK)
        *count_out = count;
    return status;
}
