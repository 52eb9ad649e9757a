/*  wp_store_postgres_workers: the registration calls of the PostgreSQL
    store (register, heartbeat, update_status, get_worker, list_workers).

    As in the SQLite store: capabilities are one blob (wp_store_caps_encode),
    so "has capability c" is one position () in it; metadata is the msgpack
    map of wp_meta_encode; stale_at is the first microsecond at which an
    active worker counts as lost, so finding lost workers is one range of
    wp_workers_stale. A heartbeat locks the worker's row while it merges
    its metadata (WORKER_STATE ... FOR UPDATE).  */
#include "wp_store_postgres_int.h"
#include <stdlib.h>
#include <string.h>

static int64_t
s_stale_at (int64_t heartbeat, double interval)
{
    return heartbeat + wp_pg_us (2 * interval) + 1;
}

//  Builds a worker from row of WP_PG_WORKER_COLUMNS into *worker_p.
static wp_status
s_worker_read (wp_pg_t *self, const PGresult *res, int row, wp_worker_t **worker_p)
{
    wp_worker_t *worker = wp_worker_new ();
    worker->worker_id = wp_pg_get_text (res, row, 0);
    worker->host = wp_pg_get_text (res, row, 1);
    worker->pid = wp_pg_is_null (res, row, 2)? -1: wp_pg_get_int (res, row, 2);
    bool ok = wp_store_caps_decode (worker, PQgetvalue (res, row, 3),
                                    (size_t) PQgetlength (res, row, 3));
    worker->pool_id = wp_pg_get_text (res, row, 4);
    worker->started_at = wp_pg_get_int (res, row, 5);
    worker->status = wp_pg_get_text (res, row, 6);
    worker->last_heartbeat = wp_pg_get_int (res, row, 7);
    worker->current_task_id = wp_pg_get_text (res, row, 8);
    worker->heartbeat_interval = wp_pg_get_double (res, row, 9);
    size_t size = (size_t) PQgetlength (res, row, 10);
    if (ok && size > 0
    &&  wp_meta_decode (&worker->metadata, (const uint8_t *) PQgetvalue (res, row, 10), size))
        ok = false;
    if (!ok || !worker->worker_id || !worker->status) {
        wp_worker_destroy (&worker);
        return wp_store_error (&self->base, WP_DATA_LOSS,
                               "the stored record of a worker is damaged");
    }
    *worker_p = worker;
    return WP_OK;
}

static wp_status
s_worker_get (wp_pg_t *self, const char *worker_id, wp_worker_t **worker_out)
{
    wp_pg_params_t p = { 0 };
    wp_pg_text (&p, worker_id);
    *worker_out = NULL;
    wp_status status;
    PGresult *res = wp_pg_exec (self, WP_PG_WORKER_GET, &p, "reading the worker", &status);
    if (res && PQntuples (res) == 1)
        status = s_worker_read (self, res, 0, worker_out);
    PQclear (res);
    return status;
}

wp_status
wp_pg_register (wp_store_t *base, const wp_worker_t *worker, wp_worker_t **worker_out)
{
    wp_pg_t *self = (wp_pg_t *) base;
    wp_status status = wp_pg_enter (self, true);
    if (status)
        return status;
    double interval = worker->heartbeat_interval > 0? worker->heartbeat_interval
                                                    : base->config.heartbeat;
    uint8_t *caps, *meta;
    size_t caps_size, meta_size;
    wp_store_caps_encode (worker, &caps, &caps_size);
    wp_meta_encode (&worker->metadata, &meta, &meta_size);
    wp_pg_params_t p = { 0 };
    wp_pg_text (&p, worker->worker_id);
    wp_pg_text (&p, worker->host);
    if (worker->pid >= 0)
        wp_pg_int (&p, worker->pid);
    else
        wp_pg_null (&p);
    wp_pg_blob (&p, caps, caps_size, false);
    wp_pg_text (&p, worker->pool_id);
    wp_pg_int (&p, worker->started_at? worker->started_at: self->now);
    wp_pg_int (&p, self->now);
    wp_pg_double (&p, interval);
    wp_pg_int (&p, s_stale_at (self->now, interval));
    wp_pg_blob (&p, meta, meta_size, false);
    status = wp_pg_run (self, WP_PG_WORKER_PUT, &p, "registering the worker", NULL);
    wp_pg_due_changed (self);           //  after the change (a new stale_at)
    free (caps);
    free (meta);
    wp_worker_t *stored = NULL;
    if (status == WP_OK && worker_out)
        status = s_worker_get (self, worker->worker_id, &stored);
    status = wp_pg_leave (self, true, status);
    if (status == WP_OK && worker_out)
        *worker_out = stored;
    else
        wp_worker_destroy (&stored);
    return status;
}

static wp_status
s_heartbeat (wp_pg_t *self, const char *worker_id, const wp_meta_t *metadata)
{
    wp_pg_params_t p = { 0 };
    wp_pg_text (&p, worker_id);
    wp_status status;
    PGresult *res = wp_pg_exec (self, WP_PG_WORKER_STATE, &p, "reading the worker", &status);
    if (!res)
        return status;
    if (PQntuples (res) != 1) {
        PQclear (res);
        return wp_store_error (&self->base, WP_NOT_FOUND, "no worker '%s'", worker_id);
    }
    if (strcmp (PQgetvalue (res, 0, 0), "lost") == 0) {
        PQclear (res);
        return wp_store_error (&self->base, WP_FAILED_PRECONDITION,
                               "worker '%s' was declared lost and its claims returned: "
                               "register again", worker_id);
    }
    double interval = wp_pg_get_double (res, 0, 1);
    uint8_t *meta = NULL;
    size_t meta_size = 0;
    if (metadata && metadata->count) {
        wp_meta_t merged = { NULL, 0 };
        size_t stored_size = (size_t) PQgetlength (res, 0, 2);
        if (stored_size > 0
        &&  wp_meta_decode (&merged, (const uint8_t *) PQgetvalue (res, 0, 2), stored_size)) {
            wp_meta_clear (&merged);
            PQclear (res);
            return wp_store_error (&self->base, WP_DATA_LOSS,
                                   "the stored metadata of worker '%s' is damaged", worker_id);
        }
        wp_meta_merge (&merged, metadata);
        wp_meta_encode (&merged, &meta, &meta_size);
        wp_meta_clear (&merged);
    }
    PQclear (res);
    wp_pg_params_t q = { 0 };
    wp_pg_text (&q, worker_id);
    wp_pg_int (&q, self->now);
    wp_pg_int (&q, s_stale_at (self->now, interval));
    if (meta)
        wp_pg_blob (&q, meta, meta_size, false);
    else
        wp_pg_null (&q);
    status = wp_pg_run (self, WP_PG_HEARTBEAT, &q, "recording the heartbeat", NULL);
    free (meta);
    if (status == WP_OK) {
        //  Each claim renewed by its own lease; the default for a row
        //  that lacks one
        wp_pg_params_t r = { 0 };
        wp_pg_text (&r, worker_id);
        wp_pg_int (&r, self->now);
        wp_pg_int (&r, wp_pg_us (self->base.config.lease));
        status = wp_pg_run (self, WP_PG_RENEW_OWN, &r, "renewing the worker's leases", NULL);
    }
    return status;
}

wp_status
wp_pg_heartbeat (wp_store_t *base, const char *worker_id, const wp_meta_t *metadata)
{
    wp_pg_t *self = (wp_pg_t *) base;
    wp_status status = wp_pg_enter (self, true);
    if (status)
        return status;
    status = s_heartbeat (self, worker_id, metadata);
    wp_pg_due_changed (self);           //  after the change (stale_at, leases)
    return wp_pg_leave (self, true, status);
}

wp_status
wp_pg_update_status (wp_store_t *base, const char *worker_id, const char *state)
{
    wp_pg_t *self = (wp_pg_t *) base;
    wp_status status = wp_pg_enter (self, true);
    if (status)
        return status;
    wp_pg_params_t p = { 0 };
    wp_pg_text (&p, worker_id);
    wp_pg_text (&p, state);
    uint64_t changed = 0;
    status = wp_pg_run (self, WP_PG_UPDATE_STATUS, &p, "updating the worker's status", &changed);
    wp_pg_due_changed (self);           //  after the change (active or not)
    if (status == WP_OK && changed == 0)
        status = wp_store_error (base, WP_NOT_FOUND, "no worker '%s'", worker_id);
    return wp_pg_leave (self, true, status);
}

wp_status
wp_pg_get_worker (wp_store_t *base, const char *worker_id, wp_worker_t **worker_out)
{
    wp_pg_t *self = (wp_pg_t *) base;
    wp_status status = wp_pg_enter (self, false);
    if (status)
        return status;
    wp_worker_t *worker = NULL;
    status = wp_pg_leave (self, false, s_worker_get (self, worker_id, &worker));
    if (status == WP_OK)
        *worker_out = worker;
    else
        wp_worker_destroy (&worker);
    return status;
}

static wp_status
s_list (wp_pg_t *self, const wp_worker_filter_t *filter, wp_worker_list_t *list)
{
    wp_pg_params_t p = { 0 };
    wp_pg_text (&p, filter->pool_id);
    char *needle = NULL;
    size_t needle_size = 0;
    if (filter->capability) {
        //  "\0cap\0", as wp_store_caps_encode stores each one
        size_t length = strlen (filter->capability);
        needle = malloc (length + 2);
        if (!needle)
            abort ();
        needle [0] = 0;
        memcpy (needle + 1, filter->capability, length + 1);
        needle_size = length + 2;
        wp_pg_blob (&p, needle, needle_size, false);
    }
    else
        wp_pg_null (&p);
    if (filter->stale_threshold >= 0)
        wp_pg_int (&p, self->now - wp_pg_us (filter->stale_threshold));
    else
        wp_pg_null (&p);
    wp_status status;
    PGresult *res = wp_pg_exec (self, WP_PG_WORKER_LIST, &p, "listing workers", &status);
    free (needle);
    for (int row = 0; res && row < PQntuples (res) && status == WP_OK; row++) {
        const char *state = PQgetvalue (res, row, 6);
        bool wanted = filter->status_count == 0;
        for (size_t i = 0; !wanted && i < filter->status_count; i++)
            wanted = strcmp (state, filter->statuses [i]) == 0;
        if (wanted) {
            wp_worker_t *worker;
            status = s_worker_read (self, res, row, &worker);
            if (status == WP_OK)
                wp_worker_list_append (list, &worker);
        }
    }
    PQclear (res);
    return status;
}

wp_status
wp_pg_list_workers (wp_store_t *base, const wp_worker_filter_t *filter,
                    wp_worker_list_t **list_out)
{
    wp_pg_t *self = (wp_pg_t *) base;
    wp_status status = wp_pg_enter (self, false);
    if (status)
        return status;
    wp_worker_list_t *list = wp_worker_list_new ();
    status = wp_pg_leave (self, false, s_list (self, filter, list));
    if (status == WP_OK)
        *list_out = list;
    else
        wp_worker_list_destroy (&list);
    return status;
}
