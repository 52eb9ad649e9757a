/*  wp_store_sqlite_workers: the registration calls of the SQLite store
    (register, heartbeat, update_status, get_worker, list_workers).

    A worker's capabilities are one blob (wp_store_caps_encode), so "has
    capability c" is one instr () and the list comes back in registered order.
    Metadata is one blob, the msgpack map of wp_meta_encode. stale_at is the
    first microsecond at which an active worker counts as lost
    (last_heartbeat + 2 x interval + 1), kept in a column so that finding
    lost workers is one range over a partial index.  */
#include "wp_store_sqlite_int.h"
#include <stdlib.h>
#include <string.h>


//  The first microsecond at which a worker last heard from at heartbeat
//  is stale: its heartbeat is then more than 2 x interval old.
static int64_t
s_stale_at (int64_t heartbeat, double interval)
{
    return heartbeat + wp_sqlite_us (2 * interval) + 1;
}

//  Builds a worker from a row of WP_SQLITE_WORKER_COLUMNS into *worker_p
//  (caller owns). A blob that does not decode is data loss.
static wp_status
s_worker_read (wp_sqlite_t *self, sqlite3_stmt *stmt, wp_worker_t **worker_p)
{
    wp_worker_t *worker = wp_worker_new ();
    worker->worker_id = wp_sqlite_column_strdup (stmt, 0);
    worker->host = wp_sqlite_column_strdup (stmt, 1);
    worker->pid = sqlite3_column_type (stmt, 2) == SQLITE_NULL? -1: sqlite3_column_int64 (stmt, 2);
    bool ok = wp_store_caps_decode (worker, sqlite3_column_blob (stmt, 3),
                                    (size_t) sqlite3_column_bytes (stmt, 3));
    worker->pool_id = wp_sqlite_column_strdup (stmt, 4);
    worker->started_at = sqlite3_column_int64 (stmt, 5);
    worker->status = wp_sqlite_column_strdup (stmt, 6);
    worker->last_heartbeat = sqlite3_column_int64 (stmt, 7);
    worker->current_task_id = wp_sqlite_column_strdup (stmt, 8);
    worker->heartbeat_interval = sqlite3_column_double (stmt, 9);
    const uint8_t *meta = sqlite3_column_blob (stmt, 10);
    size_t size = (size_t) sqlite3_column_bytes (stmt, 10);
    //  An empty blob is an empty map (SQLite hands it back as NULL)
    if (ok && size > 0 && (!meta || wp_meta_decode (&worker->metadata, meta, size)))
        ok = false;
    if (!ok || !worker->worker_id || !worker->status) {
        wp_worker_destroy (&worker);
        return wp_store_error (&self->base, WP_DATA_LOSS,
                               "the stored record of a worker is damaged");
    }
    *worker_p = worker;
    return WP_OK;
}

//  *worker_out: the record of worker_id, or NULL if there is none.
static wp_status
s_worker_get (wp_sqlite_t *self, const char *worker_id, wp_worker_t **worker_out)
{
    sqlite3_stmt *stmt = wp_sqlite_stmt (self, WP_SQL_WORKER_GET);
    wp_sqlite_bind_text (stmt, 1, worker_id);
    wp_status status = WP_OK;
    *worker_out = NULL;
    int rc = sqlite3_step (stmt);
    if (rc == SQLITE_ROW)
        status = s_worker_read (self, stmt, worker_out);
    else
    if (rc != SQLITE_DONE)
        status = wp_sqlite_error (self, rc, "reading the worker");
    sqlite3_reset (stmt);
    return status;
}

wp_status
wp_sqlite_register (wp_store_t *base, const wp_worker_t *worker, wp_worker_t **worker_out)
{
    wp_sqlite_t *self = (wp_sqlite_t *) base;
    wp_status status = wp_sqlite_enter (self, true);
    if (status)
        return status;
    wp_sqlite_due_changed (self);
    double interval = worker->heartbeat_interval > 0? worker->heartbeat_interval
                                                    : base->config.heartbeat;
    uint8_t *caps, *meta;
    size_t caps_size, meta_size;
    wp_store_caps_encode (worker, &caps, &caps_size);
    wp_meta_encode (&worker->metadata, &meta, &meta_size);

    sqlite3_stmt *stmt = wp_sqlite_stmt (self, WP_SQL_WORKER_PUT);
    wp_sqlite_bind_text (stmt, 1, worker->worker_id);
    wp_sqlite_bind_text (stmt, 2, worker->host);
    if (worker->pid >= 0)
        sqlite3_bind_int64 (stmt, 3, worker->pid);
    sqlite3_bind_blob64 (stmt, 4, caps, caps_size, SQLITE_TRANSIENT);
    wp_sqlite_bind_text (stmt, 5, worker->pool_id);
    sqlite3_bind_int64 (stmt, 6, worker->started_at? worker->started_at: self->now);
    sqlite3_bind_int64 (stmt, 7, self->now);
    sqlite3_bind_double (stmt, 8, interval);
    sqlite3_bind_int64 (stmt, 9, s_stale_at (self->now, interval));
    //  An empty map still is a blob, never NULL (the column is NOT NULL)
    sqlite3_bind_blob64 (stmt, 10, meta? (const void *) meta: "", meta_size, SQLITE_TRANSIENT);
    status = wp_sqlite_run (self, stmt, "registering the worker");
    free (caps);
    free (meta);

    wp_worker_t *stored = NULL;
    if (status == WP_OK && worker_out)
        status = s_worker_get (self, worker->worker_id, &stored);
    status = wp_sqlite_leave (self, true, status);
    if (status == WP_OK && worker_out)
        *worker_out = stored;
    else
        wp_worker_destroy (&stored);
    return status;
}

//  Records a heartbeat of worker_id at self->now; see wp_store_heartbeat.
static wp_status
s_heartbeat (wp_sqlite_t *self, const char *worker_id, const wp_meta_t *metadata)
{
    sqlite3_stmt *stmt = wp_sqlite_stmt (self, WP_SQL_WORKER_STATE);
    wp_sqlite_bind_text (stmt, 1, worker_id);
    int rc = sqlite3_step (stmt);
    if (rc != SQLITE_ROW) {
        wp_status status = rc == SQLITE_DONE
            ? wp_store_error (&self->base, WP_NOT_FOUND, "no worker '%s'", worker_id)
            : wp_sqlite_error (self, rc, "reading the worker");
        sqlite3_reset (stmt);
        return status;
    }
    const char *state = (const char *) sqlite3_column_text (stmt, 0);
    if (state && strcmp (state, "lost") == 0) {
        sqlite3_reset (stmt);
        return wp_store_error (&self->base, WP_FAILED_PRECONDITION,
                               "worker '%s' was declared lost and its claims returned: "
                               "register again", worker_id);
    }
    double interval = sqlite3_column_double (stmt, 1);
    uint8_t *meta = NULL;
    size_t meta_size = 0;
    if (metadata && metadata->count) {
        wp_meta_t merged = { NULL, 0 };
        const uint8_t *stored = sqlite3_column_blob (stmt, 2);
        int stored_size = sqlite3_column_bytes (stmt, 2);
        if (stored_size > 0
        &&  (!stored || wp_meta_decode (&merged, stored, (size_t) stored_size))) {
            wp_meta_clear (&merged);
            sqlite3_reset (stmt);
            return wp_store_error (&self->base, WP_DATA_LOSS,
                                   "the stored metadata of worker '%s' is damaged", worker_id);
        }
        wp_meta_merge (&merged, metadata);
        wp_meta_encode (&merged, &meta, &meta_size);
        wp_meta_clear (&merged);
    }
    sqlite3_reset (stmt);

    stmt = wp_sqlite_stmt (self, WP_SQL_HEARTBEAT);
    wp_sqlite_bind_text (stmt, 1, worker_id);
    sqlite3_bind_int64 (stmt, 2, self->now);
    sqlite3_bind_int64 (stmt, 3, s_stale_at (self->now, interval));
    if (meta)
        sqlite3_bind_blob64 (stmt, 4, meta, meta_size, SQLITE_TRANSIENT);
    free (meta);
    wp_status status = wp_sqlite_run (self, stmt, "recording the heartbeat");
    if (status == WP_OK) {
        //  Each claim is renewed by its own lease; the default stands in
        //  for a row that lacks one
        stmt = wp_sqlite_stmt (self, WP_SQL_RENEW_OWN);
        wp_sqlite_bind_text (stmt, 1, worker_id);
        sqlite3_bind_int64 (stmt, 2, self->now);
        sqlite3_bind_int64 (stmt, 3, wp_sqlite_us (self->base.config.lease));
        status = wp_sqlite_run (self, stmt, "renewing the worker's leases");
    }
    return status;
}

wp_status
wp_sqlite_heartbeat (wp_store_t *base, const char *worker_id, const wp_meta_t *metadata)
{
    wp_sqlite_t *self = (wp_sqlite_t *) base;
    wp_status status = wp_sqlite_enter (self, true);
    if (status)
        return status;
    wp_sqlite_due_changed (self);
    return wp_sqlite_leave (self, true, s_heartbeat (self, worker_id, metadata));
}

wp_status
wp_sqlite_update_status (wp_store_t *base, const char *worker_id, const char *state)
{
    wp_sqlite_t *self = (wp_sqlite_t *) base;
    wp_status status = wp_sqlite_enter (self, true);
    if (status)
        return status;
    wp_sqlite_due_changed (self);
    sqlite3_stmt *stmt = wp_sqlite_stmt (self, WP_SQL_UPDATE_STATUS);
    wp_sqlite_bind_text (stmt, 1, worker_id);
    wp_sqlite_bind_text (stmt, 2, state);
    status = wp_sqlite_run (self, stmt, "updating the worker's status");
    if (status == WP_OK && sqlite3_changes (self->db) == 0)
        status = wp_store_error (base, WP_NOT_FOUND, "no worker '%s'", worker_id);
    return wp_sqlite_leave (self, true, status);
}

wp_status
wp_sqlite_get_worker (wp_store_t *base, const char *worker_id, wp_worker_t **worker_out)
{
    wp_sqlite_t *self = (wp_sqlite_t *) base;
    wp_status status = wp_sqlite_enter (self, false);
    if (status)
        return status;
    wp_worker_t *worker = NULL;
    status = wp_sqlite_leave (self, false, s_worker_get (self, worker_id, &worker));
    if (status == WP_OK)
        *worker_out = worker;
    else
        wp_worker_destroy (&worker);
    return status;
}

//  Appends to list the workers filter matches, in worker_id order.
static wp_status
s_list (wp_sqlite_t *self, const wp_worker_filter_t *filter, wp_worker_list_t *list)
{
    sqlite3_stmt *stmt = wp_sqlite_stmt (self, WP_SQL_WORKER_LIST);
    wp_sqlite_bind_text (stmt, 1, filter->pool_id);
    if (filter->capability) {
        size_t length = strlen (filter->capability);
        char *needle = malloc (length + 2);
        if (!needle)
            abort ();
        needle [0] = 0;
        memcpy (needle + 1, filter->capability, length + 1);
        sqlite3_bind_blob64 (stmt, 2, needle, length + 2, SQLITE_TRANSIENT);
        free (needle);
    }
    if (filter->stale_threshold >= 0)
        sqlite3_bind_int64 (stmt, 3, self->now - wp_sqlite_us (filter->stale_threshold));
    wp_status status = WP_OK;
    int rc = SQLITE_DONE;
    while (status == WP_OK && (rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        //  The status list varies in length; it is checked here rather
        //  than by preparing a statement per length.
        const char *state = (const char *) sqlite3_column_text (stmt, 6);
        bool wanted = filter->status_count == 0;
        for (size_t i = 0; !wanted && i < filter->status_count; i++)
            wanted = state && strcmp (state, filter->statuses [i]) == 0;
        if (wanted) {
            wp_worker_t *worker;
            status = s_worker_read (self, stmt, &worker);
            if (status == WP_OK)
                wp_worker_list_append (list, &worker);
        }
    }
    if (status == WP_OK && rc != SQLITE_DONE)
        status = wp_sqlite_error (self, rc, "listing workers");
    sqlite3_reset (stmt);
    return status;
}

wp_status
wp_sqlite_list_workers (wp_store_t *base, const wp_worker_filter_t *filter,
                        wp_worker_list_t **list_out)
{
    wp_sqlite_t *self = (wp_sqlite_t *) base;
    wp_status status = wp_sqlite_enter (self, false);
    if (status)
        return status;
    wp_worker_list_t *list = wp_worker_list_new ();
    status = wp_sqlite_leave (self, false, s_list (self, filter, list));
    if (status == WP_OK)
        *list_out = list;
    else
        wp_worker_list_destroy (&list);
    return status;
}
