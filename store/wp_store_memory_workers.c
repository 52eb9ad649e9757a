/*  wp_store_memory_workers: the memory store's registration calls:
    Register, Heartbeat, UpdateStatus, GetWorker, ListWorkers. Records and
    transitions in wp_mem_store.h.  */
#include "wp_mem_store.h"
#include <string.h>

wp_status
wp_mem_register (wp_store_t *base, const wp_worker_t *worker, wp_worker_t **worker_out)
{
    wp_mem_store_t *self = wp_mem_enter (base);
    wp_worker_t *rec = wp_worker_dup (worker);
    free (rec->status);
    rec->status = wp_strdup (wp_mem_active);
    rec->last_heartbeat = self->now;
    if (rec->started_at == 0)
        rec->started_at = self->now;
    if (rec->heartbeat_interval <= 0)
        rec->heartbeat_interval = self->base.config.heartbeat;
    //  The store, not the caller, knows which claim is current; a worker
    //  that re-registers keeps it while it still holds the item
    free (rec->current_task_id);
    rec->current_task_id = NULL;

    wp_mem_worker_t *entry = (wp_mem_worker_t *) wp_mem_map_lookup (&self->workers, worker->worker_id);
    if (entry) {
        wp_mem_worker_change_begin (self, entry);
        rec->current_task_id = entry->rec->current_task_id;
        entry->rec->current_task_id = NULL;
        wp_worker_destroy (&entry->rec);
        entry->rec = rec;
    }
    else {
        entry = (wp_mem_worker_t *) wp_mem_alloc (sizeof *entry);
        entry->id = wp_strdup (worker->worker_id);
        entry->rec = rec;
        entry->heap_pos = WP_MEM_NOWHERE;
        wp_mem_map_insert (&self->workers, entry->id, entry);
        if (self->in_txn) {
            entry->txn_mark = self->txn_id;
            wp_mem_undo_add (&self->undo, WP_UNDO_WORKER)->worker = entry;
        }
    }
    wp_mem_worker_change_end (self, entry);
    if (worker_out)
        *worker_out = wp_worker_dup (entry->rec);
    return wp_mem_leave (self, WP_OK);
}

wp_status
wp_mem_heartbeat (wp_store_t *base, const char *worker_id, const wp_meta_t *metadata)
{
    wp_mem_store_t *self = wp_mem_enter (base);
    wp_mem_worker_t *worker = (wp_mem_worker_t *) wp_mem_map_lookup (&self->workers, worker_id);
    if (!worker)
        return wp_mem_leave (self, wp_store_error (base, WP_NOT_FOUND, "no worker '%s'", worker_id));
    if (strcmp (worker->rec->status, "lost") == 0)
        return wp_mem_leave (self, wp_store_error (base, WP_FAILED_PRECONDITION,
                                              "worker '%s' was declared lost and its claims "
                                              "returned: register again", worker_id));
    wp_mem_worker_change_begin (self, worker);
    worker->rec->last_heartbeat = self->now;
    if (metadata)
        wp_meta_merge (&worker->rec->metadata, metadata);
    wp_mem_worker_change_end (self, worker);
    wp_mem_renew_leases (self, worker_id, -1);
    return wp_mem_leave (self, WP_OK);
}

wp_status
wp_mem_update_status (wp_store_t *base, const char *worker_id, const char *status)
{
    wp_mem_store_t *self = wp_mem_enter (base);
    wp_mem_worker_t *worker = (wp_mem_worker_t *) wp_mem_map_lookup (&self->workers, worker_id);
    if (!worker)
        return wp_mem_leave (self, wp_store_error (base, WP_NOT_FOUND, "no worker '%s'", worker_id));
    wp_mem_worker_change_begin (self, worker);
    free (worker->rec->status);
    worker->rec->status = wp_strdup (status);
    wp_mem_worker_change_end (self, worker);
    return wp_mem_leave (self, WP_OK);
}

wp_status
wp_mem_get_worker (wp_store_t *base, const char *worker_id, wp_worker_t **worker_out)
{
    wp_mem_store_t *self = wp_mem_enter (base);
    wp_mem_worker_t *worker = (wp_mem_worker_t *) wp_mem_map_lookup (&self->workers, worker_id);
    *worker_out = worker ? wp_worker_dup (worker->rec) : NULL;
    return wp_mem_leave (self, WP_OK);
}

static bool
s_worker_matches (wp_mem_store_t *self, const wp_worker_t *rec, const wp_worker_filter_t *filter)
{
    if (filter->status_count > 0) {
        size_t i;
        for (i = 0; i < filter->status_count; i++)
            if (strcmp (rec->status, filter->statuses [i]) == 0)
                break;
        if (i == filter->status_count)
            return false;
    }
    if (filter->capability) {
        size_t i;
        for (i = 0; i < rec->capability_count; i++)
            if (strcmp (rec->capabilities [i], filter->capability) == 0)
                break;
        if (i == rec->capability_count)
            return false;
    }
    if (filter->pool_id && (!rec->pool_id || strcmp (rec->pool_id, filter->pool_id) != 0))
        return false;
    if (filter->stale_threshold >= 0
    &&  rec->last_heartbeat >= wp_mem_time_add (self->now, -wp_mem_usec (filter->stale_threshold)))
        return false;
    return true;
}

static int
s_compare_workers (const void *a, const void *b)
{
    const wp_worker_t *x = *(const wp_worker_t *const *) a;
    const wp_worker_t *y = *(const wp_worker_t *const *) b;
    return strcmp (x->worker_id, y->worker_id);
}

wp_status
wp_mem_list_workers (wp_store_t *base, const wp_worker_filter_t *filter,
                wp_worker_list_t **list_out)
{
    wp_mem_store_t *self = wp_mem_enter (base);
    size_t count = 0;
    wp_worker_t **found = (wp_worker_t **) wp_mem_alloc (
        self->workers.count * sizeof (wp_worker_t *));
    size_t worker_at = 0;
    for (wp_mem_worker_t *worker; (worker = (wp_mem_worker_t *) wp_mem_map_next (&self->workers, &worker_at)); )
        if (s_worker_matches (self, worker->rec, filter))
            found [count++] = worker->rec;
    qsort (found, count, sizeof (wp_worker_t *), s_compare_workers);
    wp_worker_list_t *list = wp_worker_list_new ();
    for (size_t i = 0; i < count; i++) {
        wp_worker_t *copy = wp_worker_dup (found [i]);
        wp_worker_list_append (list, &copy);
    }
    free (found);
    *list_out = list;
    return wp_mem_leave (self, WP_OK);
}
