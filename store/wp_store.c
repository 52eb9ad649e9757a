/*  wp_store: dispatch to the implementation, and the argument checks every
    backend must make identically (so the conformance suite sees the same
    status and the same words whichever store is underneath).  */
#include "wp_store_impl.h"
#include "wp_msgpack.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
wp_store_init (wp_store_t *self, const wp_store_ops_t *ops, const wp_store_config_t *cfg)
{
    self->ops = ops;
    if (cfg)
        self->config = *cfg;
    if (self->config.busy_timeout_ms <= 0)
        self->config.busy_timeout_ms = 5000;
    if (self->config.lease <= 0)
        self->config.lease = WP_DEFAULT_LEASE_S;
    if (self->config.heartbeat <= 0)
        self->config.heartbeat = WP_DEFAULT_HEARTBEAT_S;
    self->errmsg [0] = 0;
}

int64_t
wp_store_now (wp_store_t *self)
{
    return self->clock ? self->clock (self->clock_arg) : wp_time_now ();
}

//  A store that threads share (the memory store) keeps its error message per
//  thread, tagged with the store, so one thread never reads or clears
//  another's; the others keep it in the store.
static __thread const wp_store_t *s_error_store;
static __thread char s_error_text [sizeof ((wp_store_t *) 0)->errmsg];

static char *
s_errbuf (wp_store_t *self)
{
    if (!self->thread_shared)
        return self->errmsg;
    s_error_store = self;
    return s_error_text;
}

static void
s_clear_error (wp_store_t *self)
{
    if (self->thread_shared)
        s_error_store = NULL;
    else
        self->errmsg [0] = 0;
}

wp_status
wp_store_error (wp_store_t *self, wp_status status, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (s_errbuf (self), sizeof self->errmsg, format, args);
    va_end (args);
    return status;
}

void
wp_store_destroy (wp_store_t **self_p)
{
    if (self_p && *self_p) {
        (*self_p)->ops->destroy (*self_p);
        *self_p = NULL;
    }
}

const char *
wp_store_errmsg (wp_store_t *self)
{
    if (self->thread_shared)
        return s_error_store == self? s_error_text: "";
    return self->errmsg;
}

void
wp_store_set_clock (wp_store_t *self, int64_t (*now) (void *arg), void *arg)
{
    self->clock = now;
    self->clock_arg = arg;
}

wp_status
wp_store_check_name (wp_store_t *self, const char *what, const char *name)
{
    if (!name)
        return wp_store_error (self, WP_INVALID_ARGUMENT, "%s is required", what);
    if (wp_name_check (name))
        return wp_store_error (self, WP_INVALID_ARGUMENT,
                               "%s must be 1 to %d bytes of UTF-8", what, WP_NAME_MAX);
    return WP_OK;
}

//  Every metadata value must be exactly one msgpack value: a store keeps
//  the map as one encoded blob, which a stray byte would make unreadable.
static wp_status
s_check_metadata (wp_store_t *self, const wp_meta_t *metadata)
{
    for (size_t i = 0; metadata && i < metadata->count; i++) {
        const wp_meta_entry_t *entry = &metadata->entries [i];
        if (!entry->key)
            return wp_store_error (self, WP_INVALID_ARGUMENT, "a metadata key is NULL");
        if (!entry->value || entry->value_size == 0
        ||  wp_mp_value_size (entry->value, entry->value_size) != entry->value_size)
            return wp_store_error (self, WP_INVALID_ARGUMENT,
                                   "metadata value of '%.255s' is not one msgpack value", entry->key);
    }
    return WP_OK;
}

#define CHECK(call) do { wp_status rc_ = (call); if (rc_ != WP_OK) return rc_; } while (0)

wp_status
wp_store_begin (wp_store_t *self)
{
    s_clear_error (self);
    return self->ops->begin (self);
}

wp_status
wp_store_commit (wp_store_t *self)
{
    s_clear_error (self);
    return self->ops->commit (self);
}

void
wp_store_rollback (wp_store_t *self)
{
    self->ops->rollback (self);
}

wp_status
wp_store_check_entry (wp_store_t *self, const wp_push_entry_t *entry)
{
    if (!entry->data || entry->data_size == 0)
        return wp_store_error (self, WP_INVALID_ARGUMENT, "data is required");
    if (entry->id)
        CHECK (wp_store_check_name (self, "id", entry->id));
    if (entry->max_retries < -1)
        return wp_store_error (self, WP_INVALID_ARGUMENT, "max_retries must be 0 or more");
    if (entry->max_retries > INT32_MAX)      //  the wire's bound, so every backend agrees
        return wp_store_error (self, WP_INVALID_ARGUMENT, "max_retries must be at most 2147483647");
    return WP_OK;
}

wp_status
wp_store_push (wp_store_t *self, const char *pool, const wp_push_entry_t *entry,
               char **id_out, bool *duplicate)
{
    s_clear_error (self);
    CHECK (wp_store_check_name (self, "pool", pool));
    if (!entry || !id_out)
        return wp_store_error (self, WP_INVALID_ARGUMENT, "push needs an entry");
    CHECK (wp_store_check_entry (self, entry));
    return self->ops->push (self, pool, entry, id_out, duplicate);
}

wp_status
wp_store_claim (wp_store_t *self, const char *pool, const char *worker_id,
                double lease, wp_item_t **item_out)
{
    s_clear_error (self);
    CHECK (wp_store_check_name (self, "pool", pool));
    CHECK (wp_store_check_name (self, "worker_id", worker_id));
    if (!item_out)
        return wp_store_error (self, WP_INVALID_ARGUMENT, "claim needs an out-parameter");
    if (lease != lease || lease > 1e9)
        return wp_store_error (self, WP_INVALID_ARGUMENT, "lease must be a number of seconds");
    return self->ops->claim (self, pool, worker_id, lease, item_out);
}

wp_status
wp_store_complete (wp_store_t *self, const char *pool, const char *id,
                   const uint8_t *result, size_t result_size, const char *worker_id)
{
    s_clear_error (self);
    CHECK (wp_store_check_name (self, "pool", pool));
    CHECK (wp_store_check_name (self, "id", id));
    if (worker_id)
        CHECK (wp_store_check_name (self, "worker_id", worker_id));
    if (!result)
        result_size = 0;
    return self->ops->complete (self, pool, id, result, result_size, worker_id);
}

wp_status
wp_store_fail (wp_store_t *self, const char *pool, const char *id,
               const char *error, const char *worker_id, wp_item_state *state_out)
{
    s_clear_error (self);
    CHECK (wp_store_check_name (self, "pool", pool));
    CHECK (wp_store_check_name (self, "id", id));
    if (worker_id)
        CHECK (wp_store_check_name (self, "worker_id", worker_id));
    return self->ops->fail (self, pool, id, error, worker_id, state_out);
}

wp_status
wp_store_size (wp_store_t *self, const char *pool, uint64_t *size_out)
{
    s_clear_error (self);
    CHECK (wp_store_check_name (self, "pool", pool));
    if (!size_out)
        return wp_store_error (self, WP_INVALID_ARGUMENT, "size needs an out-parameter");
    return self->ops->size (self, pool, size_out);
}

wp_status
wp_store_release_by_worker (wp_store_t *self, const char *pool,
                            const char *worker_id, uint64_t *count_out)
{
    s_clear_error (self);
    CHECK (wp_store_check_name (self, "pool", pool));
    CHECK (wp_store_check_name (self, "worker_id", worker_id));
    uint64_t count = 0;
    wp_status rc = self->ops->release_by_worker (self, pool, worker_id, &count);
    if (rc == WP_OK && count_out)
        *count_out = count;
    return rc;
}

wp_status
wp_store_get (wp_store_t *self, const char *pool, const char *id, wp_item_t **item_out)
{
    s_clear_error (self);
    CHECK (wp_store_check_name (self, "pool", pool));
    CHECK (wp_store_check_name (self, "id", id));
    if (!item_out)
        return wp_store_error (self, WP_INVALID_ARGUMENT, "get needs an out-parameter");
    return self->ops->get (self, pool, id, item_out);
}

wp_status
wp_store_renew (wp_store_t *self, const char *worker_id, double lease, uint64_t *count_out)
{
    s_clear_error (self);
    CHECK (wp_store_check_name (self, "worker_id", worker_id));
    if (lease != lease || lease > 1e9)
        return wp_store_error (self, WP_INVALID_ARGUMENT, "lease must be a number of seconds");
    uint64_t count = 0;
    wp_status rc = self->ops->renew (self, worker_id, lease, &count);
    if (rc == WP_OK && count_out)
        *count_out = count;
    return rc;
}

wp_status
wp_store_register (wp_store_t *self, const wp_worker_t *worker, wp_worker_t **worker_out)
{
    s_clear_error (self);
    if (!worker)
        return wp_store_error (self, WP_INVALID_ARGUMENT, "register needs a worker");
    CHECK (wp_store_check_name (self, "worker_id", worker->worker_id));
    if (worker->pool_id)
        CHECK (wp_store_check_name (self, "pool_id", worker->pool_id));
    if (worker->heartbeat_interval < 0 || worker->heartbeat_interval != worker->heartbeat_interval
    ||  worker->heartbeat_interval > 1e9)
        return wp_store_error (self, WP_INVALID_ARGUMENT,
                               "heartbeat_interval must be a positive number of seconds");
    for (size_t i = 0; i < worker->capability_count; i++)
        if (!worker->capabilities [i] || !worker->capabilities [i][0])
            return wp_store_error (self, WP_INVALID_ARGUMENT, "capabilities must be non-empty strings");
    CHECK (s_check_metadata (self, &worker->metadata));
    return self->ops->register_worker (self, worker, worker_out);
}

wp_status
wp_store_heartbeat (wp_store_t *self, const char *worker_id, const wp_meta_t *metadata)
{
    s_clear_error (self);
    CHECK (wp_store_check_name (self, "worker_id", worker_id));
    CHECK (s_check_metadata (self, metadata));
    return self->ops->heartbeat (self, worker_id, metadata);
}

wp_status
wp_store_update_status (wp_store_t *self, const char *worker_id, const char *status)
{
    s_clear_error (self);
    CHECK (wp_store_check_name (self, "worker_id", worker_id));
    CHECK (wp_store_check_name (self, "status", status));
    return self->ops->update_status (self, worker_id, status);
}

wp_status
wp_store_get_worker (wp_store_t *self, const char *worker_id, wp_worker_t **worker_out)
{
    s_clear_error (self);
    CHECK (wp_store_check_name (self, "worker_id", worker_id));
    if (!worker_out)
        return wp_store_error (self, WP_INVALID_ARGUMENT, "get_worker needs an out-parameter");
    return self->ops->get_worker (self, worker_id, worker_out);
}

wp_status
wp_store_list_workers (wp_store_t *self, const wp_worker_filter_t *filter,
                       wp_worker_list_t **list_out)
{
    s_clear_error (self);
    static const wp_worker_filter_t all = WP_WORKER_FILTER_ALL;
    if (!filter)
        filter = &all;
    if (!list_out)
        return wp_store_error (self, WP_INVALID_ARGUMENT, "list needs an out-parameter");
    for (size_t i = 0; i < filter->status_count; i++)
        if (!filter->statuses [i])
            return wp_store_error (self, WP_INVALID_ARGUMENT, "status filter holds a NULL");
    if (filter->stale_threshold != filter->stale_threshold)
        return wp_store_error (self, WP_INVALID_ARGUMENT, "stale_threshold must be a number");
    return self->ops->list_workers (self, filter, list_out);
}

wp_status
wp_store_reap (wp_store_t *self, wp_reap_t *out)
{
    s_clear_error (self);
    wp_reap_t reap = { 0 };
    wp_status rc = self->ops->reap (self, &reap);
    if (rc == WP_OK && out)
        *out = reap;
    return rc;
}

wp_status
wp_store_next_due (wp_store_t *self, int64_t *next_out)
{
    s_clear_error (self);
    if (!next_out)
        return wp_store_error (self, WP_INVALID_ARGUMENT, "next_due needs an out-parameter");
    return self->ops->next_due (self, next_out);
}

wp_status
wp_store_purge (wp_store_t *self, double older_than, uint64_t *count_out)
{
    s_clear_error (self);
    if (older_than < 0 || older_than != older_than)
        return wp_store_error (self, WP_INVALID_ARGUMENT, "older_than must be 0 or more seconds");
    uint64_t count = 0;
    wp_status rc = self->ops->purge (self, older_than, &count);
    if (rc == WP_OK && count_out)
        *count_out = count;
    return rc;
}

wp_status
wp_store_stats (wp_store_t *self, wp_stats_t **stats_out)
{
    s_clear_error (self);
    if (!stats_out)
        return wp_store_error (self, WP_INVALID_ARGUMENT, "stats needs an out-parameter");
    return self->ops->stats (self, stats_out);
}

void
wp_store_caps_encode (const wp_worker_t *worker, uint8_t **blob_p, size_t *size_p)
{
    size_t size = 1;
    for (size_t i = 0; i < worker->capability_count; i++)
        size += strlen (worker->capabilities [i]) + 1;
    uint8_t *blob = malloc (size);
    if (!blob)
        abort ();
    size_t at = 0;
    blob [at++] = 0;
    for (size_t i = 0; i < worker->capability_count; i++) {
        size_t length = strlen (worker->capabilities [i]) + 1;
        memcpy (blob + at, worker->capabilities [i], length);
        at += length;
    }
    *blob_p = blob;
    *size_p = size;
}

bool
wp_store_caps_decode (wp_worker_t *worker, const void *blob, size_t size)
{
    const char *caps = blob;
    if (!caps || size == 0 || caps [0] != 0 || caps [size - 1] != 0)
        return false;
    for (size_t at = 1; at < size; at += strlen (caps + at) + 1)
        wp_worker_add_capability (worker, caps + at);
    return true;
}
