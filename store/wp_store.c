/*  wp_store: dispatch to the implementation, and the argument checks every
    backend must make identically (so the conformance suite sees the same
    status and the same words whichever store is underneath).  */
#include "wp_store_impl.h"
#include "wp_cron.h"
#include "wp_limits.h"
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

//  in_group is read and written with atomics: threads that share a store
//  (the memory store) join the group one of them opened, so a batch on one
//  thread reads what begin on another wrote.
static bool
s_in_group (wp_store_t *self)
{
    return __atomic_load_n (&self->in_group, __ATOMIC_ACQUIRE);
}

static void
s_set_group (wp_store_t *self, bool in_group)
{
    __atomic_store_n (&self->in_group, in_group, __ATOMIC_RELEASE);
}

#define CHECK(call) do { wp_status rc_ = (call); if (rc_ != WP_OK) return rc_; } while (0)

wp_status
wp_store_begin (wp_store_t *self)
{
    s_clear_error (self);
    wp_status rc = self->ops->begin (self);
    if (rc == WP_OK)
        s_set_group (self, true);
    return rc;
}

wp_status
wp_store_commit (wp_store_t *self)
{
    s_clear_error (self);
    wp_status rc = self->ops->commit (self);
    s_set_group (self, false);         //  a failed commit rolled the group back
    return rc;
}

void
wp_store_rollback (wp_store_t *self)
{
    self->ops->rollback (self);
    s_set_group (self, false);
}

//  The lease and heartbeat bounds of the limits table, in the words of the
//  wire decoder (proto/wp_proto_request.c), so a caller reads the same
//  refusal from every backend and from a broker. Here <= 0 means "the
//  default", which the wire spells by leaving the field out.
static wp_status
s_check_lease (wp_store_t *self, double lease)
{
    if (lease != lease || lease > WP_LEASE_MAX)
        return wp_store_error (self, WP_INVALID_ARGUMENT,
                               "field 'lease_seconds' must be a finite number greater than 0"
                               " and at most %g", WP_LEASE_MAX);
    return WP_OK;
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
    if (!(entry->delay >= 0 && entry->delay <= WP_DELAY_MAX))
        return wp_store_error (self, WP_INVALID_ARGUMENT,
                               "delay_seconds must be 0..%.0f", WP_DELAY_MAX);
    if (entry->delay > 0 && entry->run_at)
        return wp_store_error (self, WP_INVALID_ARGUMENT, "give delay_seconds or run_at, not both");
    if (entry->run_at
    &&  entry->run_at > wp_store_now (self) + (int64_t) (WP_DELAY_MAX * 1e6))
        return wp_store_error (self, WP_INVALID_ARGUMENT,
                               "run_at must be at most %.0f seconds ahead", WP_DELAY_MAX);
    if (entry->unique_key)
        CHECK (wp_store_check_name (self, "unique_key", entry->unique_key));
    return WP_OK;
}

int64_t
wp_store_entry_due (wp_store_t *self, const wp_push_entry_t *entry)
{
    int64_t now = wp_store_now (self);
    int64_t due = entry->run_at;
    if (entry->delay > 0)
        due = now + (int64_t) (entry->delay * 1e6);
    return due > now ? due : 0;
}

//  xorshift64*: the jitter needs spread, not secrecy; seeded per store so
//  brokers started together do not retry in step
static double
s_random_unit (wp_store_t *self)
{
    if (!self->random_state)
        self->random_state = (uint64_t) wp_time_now () ^ (uint64_t) (uintptr_t) self
                           ^ 0x9E3779B97F4A7C15ull;
    uint64_t x = self->random_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    self->random_state = x;
    return (double) ((x * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0;
}

wp_item_state
wp_store_failure_state (wp_store_t *self, const wp_backoff_t *policy, uint32_t attempts,
                        uint32_t max_retries, double retry_after, int64_t *due_out)
{
    *due_out = 0;
    if (attempts >= max_retries)
        return WP_ITEM_POISONED;
    double delay = retry_after > 0
                 ? retry_after
                 : wp_backoff_delay (policy, attempts, s_random_unit (self));
    if (delay <= 0)
        return WP_ITEM_PENDING;
    *due_out = wp_store_now (self) + (int64_t) (delay * 1e6);
    return WP_ITEM_SCHEDULED;
}

void
wp_store_reap_count (wp_reap_t *reap, wp_item_state state)
{
    if (state == WP_ITEM_POISONED)
        reap->poisoned++;
    else
    if (state == WP_ITEM_SCHEDULED)
        reap->backed_off++;
    else
        reap->requeued++;
}

void
wp_store_reap_add (wp_reap_t *to, const wp_reap_t *from)
{
    to->leases_expired += from->leases_expired;
    to->workers_lost += from->workers_lost;
    to->requeued += from->requeued;
    to->poisoned += from->poisoned;
    to->backed_off += from->backed_off;
    to->promoted += from->promoted;
}

void
wp_store_reap_sub (wp_reap_t *to, const wp_reap_t *from)
{
    to->leases_expired -= from->leases_expired;
    to->workers_lost -= from->workers_lost;
    to->requeued -= from->requeued;
    to->poisoned -= from->poisoned;
    to->backed_off -= from->backed_off;
    to->promoted -= from->promoted;
}

wp_status
wp_store_refuse_retry (wp_store_t *self, const char *id, wp_item_state state,
                       const char *key, const char *key_holder)
{
    if (state != WP_ITEM_POISONED && state != WP_ITEM_DONE)
        return wp_store_error (self, WP_FAILED_PRECONDITION,
                               "item '%s' is %s: only poisoned or done items can be retried",
                               id, wp_item_state_name (state));
    if (key && key_holder)
        return wp_store_error (self, WP_FAILED_PRECONDITION,
                               "item '%s' has unique key '%s', held by item '%s'", id, key,
                               key_holder);
    return WP_OK;
}

wp_status
wp_store_refuse_cancel (wp_store_t *self, const char *id, wp_item_state state,
                        const char *holder)
{
    if (state == WP_ITEM_CLAIMED)
        return wp_store_error (self, WP_FAILED_PRECONDITION,
                               "item '%s' is claimed by '%s': a worker may be halfway;"
                               " fail or release it first", id, holder ? holder : "?");
    if (state == WP_ITEM_DONE)
        return wp_store_error (self, WP_FAILED_PRECONDITION,
                               "item '%s' is done: purge removes finished items", id);
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
    CHECK (s_check_lease (self, lease));
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
               const char *error, const char *worker_id, double retry_after,
               wp_item_state *state_out)
{
    s_clear_error (self);
    CHECK (wp_store_check_name (self, "pool", pool));
    CHECK (wp_store_check_name (self, "id", id));
    if (worker_id)
        CHECK (wp_store_check_name (self, "worker_id", worker_id));
    if (!(retry_after >= 0 && retry_after <= WP_DELAY_MAX))
        return wp_store_error (self, WP_INVALID_ARGUMENT,
                               "retry_after_seconds must be 0..%.0f", WP_DELAY_MAX);
    return self->ops->fail (self, pool, id, error, worker_id, retry_after, state_out);
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
    CHECK (s_check_lease (self, lease));
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
    //  0 means the store's default, as an absent field on the wire
    if (worker->heartbeat_interval < 0 || worker->heartbeat_interval != worker->heartbeat_interval
    ||  worker->heartbeat_interval > WP_HEARTBEAT_MAX)
        return wp_store_error (self, WP_INVALID_ARGUMENT,
                               "field 'heartbeat_interval_seconds' must be a finite number"
                               " greater than 0 and at most %g", WP_HEARTBEAT_MAX);
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

int
wp_store_wake_fd (wp_store_t *self, int64_t *retry_at)
{
    int64_t retry = 0;
    int fd = self->ops->wake_fd ? self->ops->wake_fd (self, &retry) : -1;
    if (retry_at)
        *retry_at = fd >= 0 ? 0 : retry;
    return fd;
}

bool
wp_store_wake_drain (wp_store_t *self, wp_store_wake_fn *fn, void *arg)
{
    return self->ops->wake_drain && fn ? self->ops->wake_drain (self, fn, arg) : false;
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

//  ---------------------------------------------------------------------
//  Batches, written once on the single calls (wp_store.h). A batch runs in
//  its own transaction outside a group, under a savepoint inside one, so a
//  failing batch changes nothing either way.

//  A backend that predates a call (its op is NULL) says so rather than crash.
static wp_status
s_unimplemented (wp_store_t *self, const char *call)
{
    return wp_store_error (self, WP_UNIMPLEMENTED, "the %s store has no %s",
                           self->ops->name, call);
}

//  Prefixes the current message with "items[i]: " and returns rc.
static wp_status
s_entry_error (wp_store_t *self, wp_status rc, size_t index)
{
    char message [sizeof self->errmsg];
    snprintf (message, sizeof message, "%s", wp_store_errmsg (self));
    return wp_store_error (self, rc, "items[%zu]: %s", index, message);
}

//  Whether a batch outside a group also marks a savepoint in the group it
//  opens: in a store that threads share (the memory store), another thread's
//  call joins any open group, so undoing a failed batch by rolling the whole
//  group back would also undo that call, already answered OK. Rolling back
//  to the mark (which holds the store's lock until it ends) undoes only the
//  batch, and the commit keeps the rest.
static bool
s_batch_marks (wp_store_t *self, bool nested)
{
    return nested || (self->thread_shared && self->ops->savepoint);
}

//  Opens the batch's frame; *nested: inside a group, under a savepoint.
static wp_status
s_batch_begin (wp_store_t *self, bool *nested)
{
    *nested = s_in_group (self);
    if (*nested && !self->ops->savepoint)
        return s_unimplemented (self, "savepoints");
    if (!*nested) {
        wp_status rc = self->ops->begin (self);
        if (rc != WP_OK)
            return rc;
        s_set_group (self, true);
    }
    if (!s_batch_marks (self, *nested))
        return WP_OK;
    wp_status rc = self->ops->savepoint (self);
    if (rc != WP_OK && !*nested) {
        s_set_group (self, false);
        self->ops->rollback (self);
    }
    return rc;
}

//  Closes the frame of a batch whose outcome is rc: keeps its effects if rc
//  is WP_OK, else undoes them keeping rc's message. Returns the final status.
static wp_status
s_batch_end (wp_store_t *self, bool nested, wp_status rc)
{
    bool marked = s_batch_marks (self, nested);
    if (rc == WP_OK) {
        if (marked)
            self->ops->release (self);
        if (!nested) {
            s_set_group (self, false);
            rc = self->ops->commit (self);
        }
        if (rc == WP_OK)
            s_clear_error (self);   //  an entry's own failure is not the batch's
        return rc;
    }
    char message [sizeof self->errmsg];
    snprintf (message, sizeof message, "%s", wp_store_errmsg (self));
    if (marked)
        self->ops->rollback_to (self);
    if (!nested) {
        s_set_group (self, false);
        if (marked)
            self->ops->commit (self);   //  what other threads' calls did in it
        else
            self->ops->rollback (self);
    }
    return wp_store_error (self, rc, "%s", message);
}

static wp_status
s_check_count (wp_store_t *self, const char *call, const void *entries, size_t count)
{
    if (!entries || count < 1 || count > WP_BATCH_MAX)
        return wp_store_error (self, WP_INVALID_ARGUMENT, "%s needs 1 to %d entries",
                               call, WP_BATCH_MAX);
    return WP_OK;
}

wp_status
wp_store_push_many (wp_store_t *self, const char *pool, const wp_push_entry_t *entries,
                    size_t count, char **ids_out, bool *duplicates)
{
    s_clear_error (self);
    CHECK (wp_store_check_name (self, "pool", pool));
    CHECK (s_check_count (self, "push_many", entries, count));
    if (!ids_out)
        return wp_store_error (self, WP_INVALID_ARGUMENT, "push_many needs an id array");
    for (size_t i = 0; i < count; i++) {
        wp_status rc = wp_store_check_entry (self, &entries [i]);
        if (rc != WP_OK)
            return s_entry_error (self, rc, i);
    }
    if (self->ops->push_many)
        return self->ops->push_many (self, pool, entries, count, ids_out, duplicates);
    if (count == 1) {
        //  One push is atomic on its own: no frame (a savepoint per Push in
        //  a broker's group would be work on its hottest path)
        wp_status rc = self->ops->push (self, pool, entries, ids_out, duplicates);
        return rc == WP_OK ? rc : s_entry_error (self, rc, 0);
    }

    //  Out-parameters are written only on success: collect, then hand over
    char **ids = calloc (count, sizeof *ids);
    bool *dups = calloc (count, sizeof *dups);
    if (!ids || !dups)
        abort ();
    bool nested;
    wp_status rc = s_batch_begin (self, &nested);
    if (rc != WP_OK) {
        free (ids);
        free (dups);
        return rc;
    }
    for (size_t i = 0; i < count && rc == WP_OK; i++) {
        rc = self->ops->push (self, pool, &entries [i], &ids [i], &dups [i]);
        if (rc != WP_OK)
            s_entry_error (self, rc, i);
    }
    rc = s_batch_end (self, nested, rc);
    for (size_t i = 0; i < count; i++) {
        if (rc == WP_OK)
            ids_out [i] = ids [i];
        else
            free (ids [i]);
    }
    if (rc == WP_OK && duplicates)
        memcpy (duplicates, dups, count * sizeof *dups);
    free (ids);
    free (dups);
    return rc;
}

wp_status
wp_store_claim_many (wp_store_t *self, const char *pool, const char *worker_id,
                     size_t max, double lease, size_t max_bytes, wp_item_list_t **items_out)
{
    s_clear_error (self);
    CHECK (wp_store_check_name (self, "pool", pool));
    CHECK (wp_store_check_name (self, "worker_id", worker_id));
    if (max < 1 || max > WP_BATCH_MAX)
        return wp_store_error (self, WP_INVALID_ARGUMENT, "max must be 1 to %d", WP_BATCH_MAX);
    CHECK (s_check_lease (self, lease));
    if (!items_out)
        return wp_store_error (self, WP_INVALID_ARGUMENT, "claim_many needs an out-parameter");
    if (self->ops->claim_many)
        return self->ops->claim_many (self, pool, worker_id, max, lease, max_bytes, items_out);

    bool nested;
    wp_status rc = s_batch_begin (self, &nested);
    if (rc != WP_OK)
        return rc;
    wp_item_list_t *list = wp_item_list_new ();
    size_t bytes = 0;
    while (rc == WP_OK && list->count < max && (max_bytes == 0 || bytes < max_bytes)) {
        wp_item_t *item = NULL;
        rc = self->ops->claim (self, pool, worker_id, lease, &item);
        if (rc != WP_OK || !item)
            break;
        bytes += item->data_size + item->result_size;
        wp_item_list_append (list, &item);
    }
    rc = s_batch_end (self, nested, rc);
    if (rc == WP_OK)
        *items_out = list;
    else
        wp_item_list_destroy (&list);
    return rc;
}

//  The answers wp_store_complete gives about one entry, which CompleteMany
//  reports per entry; any other is the store's failure and undoes the batch.
static bool
s_entry_outcome (wp_status rc)
{
    return rc == WP_OK || rc == WP_NOT_FOUND || rc == WP_FAILED_PRECONDITION;
}

wp_status
wp_store_complete_many (wp_store_t *self, const char *pool, const wp_complete_entry_t *entries,
                        size_t count, const char *worker_id, wp_status *statuses_out,
                        char **messages_out)
{
    s_clear_error (self);
    CHECK (wp_store_check_name (self, "pool", pool));
    CHECK (s_check_count (self, "complete_many", entries, count));
    for (size_t i = 0; i < count; i++) {
        wp_status rc = wp_store_check_name (self, "id", entries [i].id);
        if (rc != WP_OK)
            return s_entry_error (self, rc, i);
        if (entries [i].result && entries [i].result_size == 0)
            return wp_store_error (self, WP_INVALID_ARGUMENT,
                                   "items[%zu]: result must not be empty", i);
    }
    if (worker_id)
        CHECK (wp_store_check_name (self, "worker_id", worker_id));
    if (self->ops->complete_many)
        return self->ops->complete_many (self, pool, entries, count, worker_id,
                                         statuses_out, messages_out);

    wp_status *statuses = calloc (count, sizeof *statuses);
    char **messages = calloc (count, sizeof *messages);
    if (!statuses || !messages)
        abort ();
    bool nested;
    wp_status rc = s_batch_begin (self, &nested);
    bool opened = rc == WP_OK;
    for (size_t i = 0; i < count && rc == WP_OK; i++) {
        const wp_complete_entry_t *entry = &entries [i];
        wp_status outcome = self->ops->complete (self, pool, entry->id, entry->result,
                                                 entry->result ? entry->result_size : 0,
                                                 worker_id);
        if (s_entry_outcome (outcome)) {
            statuses [i] = outcome;
            messages [i] = wp_strdup (outcome == WP_OK ? "" : wp_store_errmsg (self));
        }
        else
            rc = s_entry_error (self, outcome, i);
    }
    if (opened)
        rc = s_batch_end (self, nested, rc);
    for (size_t i = 0; i < count; i++) {
        if (rc == WP_OK && messages_out)
            messages_out [i] = messages [i];
        else
            free (messages [i]);
    }
    if (rc == WP_OK && statuses_out)
        memcpy (statuses_out, statuses, count * sizeof *statuses);
    free (statuses);
    free (messages);
    return rc;
}

wp_status
wp_store_complete_and_claim (wp_store_t *self, const char *pool, const char *id,
                             const uint8_t *result, size_t result_size, const char *worker_id,
                             double lease, wp_item_t **item_out)
{
    s_clear_error (self);
    CHECK (wp_store_check_name (self, "pool", pool));
    CHECK (wp_store_check_name (self, "id", id));
    CHECK (wp_store_check_name (self, "worker_id", worker_id));
    CHECK (s_check_lease (self, lease));
    if (!item_out)
        return wp_store_error (self, WP_INVALID_ARGUMENT,
                               "complete_and_claim needs an out-parameter");
    if (!result)
        result_size = 0;
    if (self->ops->complete_and_claim)
        return self->ops->complete_and_claim (self, pool, id, result, result_size, worker_id,
                                              lease, item_out);

    bool nested;
    wp_status rc = s_batch_begin (self, &nested);
    if (rc != WP_OK)
        return rc;
    wp_item_t *item = NULL;
    rc = self->ops->complete (self, pool, id, result, result_size, worker_id);
    if (rc == WP_OK)
        rc = self->ops->claim (self, pool, worker_id, lease, &item);
    rc = s_batch_end (self, nested, rc);
    if (rc == WP_OK)
        *item_out = item;
    else
        wp_item_destroy (&item);
    return rc;
}

//  ---------------------------------------------------------------------
//  Inspection and lifecycle

//  A set of item states: each one of the four; for purge (claimed false)
//  1 or more, claimed excluded.
static wp_status
s_check_statuses (wp_store_t *self, const wp_item_state *statuses, size_t count,
                  bool for_purge)
{
    if (count > 0 && !statuses)
        return wp_store_error (self, WP_INVALID_ARGUMENT, "statuses is NULL");
    if (count > WP_STATUSES_MAX)
        return wp_store_error (self, WP_INVALID_ARGUMENT,
                               "statuses must hold at most %d states", WP_STATUSES_MAX);
    for (size_t i = 0; i < count; i++) {
        if ((int) statuses [i] < 0 || (int) statuses [i] >= WP_ITEM_STATE_COUNT)
            return wp_store_error (self, WP_INVALID_ARGUMENT,
                                   "statuses[%zu] is not an item state", i);
        if (for_purge && statuses [i] == WP_ITEM_CLAIMED)
            return wp_store_error (self, WP_INVALID_ARGUMENT,
                                   "claimed items cannot be purged: a worker may be halfway;"
                                   " fail or release them first");
    }
    if (for_purge && count == 0)
        return wp_store_error (self, WP_INVALID_ARGUMENT,
                               "purge needs 1 or more of the statuses pending, scheduled,"
                               " done, poisoned");
    return WP_OK;
}

wp_status
wp_store_list_items (wp_store_t *self, const char *pool, const wp_item_state *statuses,
                     size_t status_count, size_t limit, const char *cursor,
                     wp_item_list_t **items_out, char **cursor_out)
{
    s_clear_error (self);
    CHECK (wp_store_check_name (self, "pool", pool));
    CHECK (s_check_statuses (self, statuses, status_count, false));
    if (limit > WP_LIST_MAX)
        return wp_store_error (self, WP_INVALID_ARGUMENT,
                               "limit must be 1 to %d (0: %d)", WP_LIST_MAX, WP_LIST_DEFAULT);
    if (cursor && (!cursor [0] || strnlen (cursor, WP_CURSOR_MAX + 1) > WP_CURSOR_MAX))
        return wp_store_error (self, WP_INVALID_ARGUMENT, "cursor is not one this store made");
    if (!items_out || !cursor_out)
        return wp_store_error (self, WP_INVALID_ARGUMENT, "list_items needs out-parameters");
    if (!self->ops->list_items)
        return s_unimplemented (self, "list_items");
    wp_item_list_t *items = NULL;
    char *next = NULL;
    wp_status rc = self->ops->list_items (self, pool, statuses, status_count,
                                          limit ? limit : WP_LIST_DEFAULT, cursor,
                                          &items, &next);
    if (rc == WP_OK) {
        *items_out = items;
        *cursor_out = next;
    }
    return rc;
}

wp_status
wp_store_retry (wp_store_t *self, const char *pool, const char *id)
{
    s_clear_error (self);
    CHECK (wp_store_check_name (self, "pool", pool));
    CHECK (wp_store_check_name (self, "id", id));
    if (!self->ops->retry)
        return s_unimplemented (self, "retry");
    return self->ops->retry (self, pool, id);
}

wp_status
wp_store_retry_all (wp_store_t *self, const char *pool, uint64_t *count_out)
{
    s_clear_error (self);
    CHECK (wp_store_check_name (self, "pool", pool));
    if (!self->ops->retry_all)
        return s_unimplemented (self, "retry_all");
    uint64_t count = 0;
    wp_status rc = self->ops->retry_all (self, pool, &count);
    if (rc == WP_OK && count_out)
        *count_out = count;
    return rc;
}

wp_status
wp_store_cancel (wp_store_t *self, const char *pool, const char *id)
{
    s_clear_error (self);
    CHECK (wp_store_check_name (self, "pool", pool));
    CHECK (wp_store_check_name (self, "id", id));
    if (!self->ops->cancel)
        return s_unimplemented (self, "cancel");
    return self->ops->cancel (self, pool, id);
}

wp_status
wp_store_purge_pool (wp_store_t *self, const char *pool, const wp_item_state *statuses,
                     size_t status_count, uint64_t *count_out)
{
    s_clear_error (self);
    CHECK (wp_store_check_name (self, "pool", pool));
    CHECK (s_check_statuses (self, statuses, status_count, true));
    if (!self->ops->purge_pool)
        return s_unimplemented (self, "purge_pool");
    uint64_t count = 0;
    wp_status rc = self->ops->purge_pool (self, pool, statuses, status_count, &count);
    if (rc == WP_OK && count_out)
        *count_out = count;
    return rc;
}

wp_status
wp_store_set_paused (wp_store_t *self, const char *pool, bool paused)
{
    s_clear_error (self);
    CHECK (wp_store_check_name (self, "pool", pool));
    if (!self->ops->set_paused)
        return s_unimplemented (self, "set_paused");
    return self->ops->set_paused (self, pool, paused);
}

wp_status
wp_store_set_backoff (wp_store_t *self, const char *pool, const wp_backoff_t *policy)
{
    s_clear_error (self);
    CHECK (wp_store_check_name (self, "pool", pool));
    wp_backoff_t none = { 0, 0, 0 };
    if (!policy)
        policy = &none;
    const char *problem = wp_backoff_check (policy);
    if (problem)
        return wp_store_error (self, WP_INVALID_ARGUMENT, "%s", problem);
    if (!self->ops->set_backoff)
        return s_unimplemented (self, "set_backoff");
    return self->ops->set_backoff (self, pool, policy);
}

//  ---------------------------------------------------------------------
//  Periodic pushes, written once on the backends' schedule_* ops

static wp_status
s_check_schedule (wp_store_t *self, const wp_schedule_t *schedule, wp_cron_t *cron)
{
    if (!schedule)
        return wp_store_error (self, WP_INVALID_ARGUMENT, "schedule_put needs a schedule");
    CHECK (wp_store_check_name (self, "name", schedule->name));
    if (strlen (schedule->name) > WP_SCHEDULE_NAME_MAX)
        return wp_store_error (self, WP_INVALID_ARGUMENT,
                               "name must be at most %d bytes", WP_SCHEDULE_NAME_MAX);
    CHECK (wp_store_check_name (self, "pool", schedule->pool));
    if (!schedule->cron || strlen (schedule->cron) > WP_CRON_MAX)
        return wp_store_error (self, WP_INVALID_ARGUMENT,
                               "cron must be 1..%d bytes", WP_CRON_MAX);
    char why [160];
    if (wp_cron_parse (schedule->cron, cron, why, sizeof why))
        return wp_store_error (self, WP_INVALID_ARGUMENT, "cron: %s", why);
    //  The entry each tick pushes must pass the checks a push makes
    wp_push_entry_t entry = { .data = schedule->data, .data_size = schedule->data_size,
                              .max_retries = schedule->max_retries,
                              .priority = schedule->priority };
    return wp_store_check_entry (self, &entry);
}

wp_status
wp_store_schedule_put (wp_store_t *self, const wp_schedule_t *schedule,
                       wp_schedule_t **schedule_out)
{
    s_clear_error (self);
    wp_cron_t cron;
    CHECK (s_check_schedule (self, schedule, &cron));
    int64_t now = wp_store_now (self);
    int64_t next = wp_cron_next (&cron, now);
    if (!next)
        return wp_store_error (self, WP_INVALID_ARGUMENT,
                               "cron: '%s' has no tick in the next 5 years", schedule->cron);
    if (self->ops->schedule_add)
        return self->ops->schedule_add (self, schedule, schedule_out);
    if (!self->ops->schedule_put || !self->ops->schedule_list)
        return s_unimplemented (self, "schedules");
    wp_schedule_list_t *list = NULL;
    wp_status rc = self->ops->schedule_list (self, &list);
    const wp_schedule_t *old = NULL;
    for (size_t i = 0; rc == WP_OK && i < list->count; i++)
        if (strcmp (list->schedules [i]->name, schedule->name) == 0)
            old = list->schedules [i];
    if (rc == WP_OK && !old && list->count >= WP_SCHEDULES_MAX)
        rc = wp_store_error (self, WP_RESOURCE_EXHAUSTED,
                             "the store holds %d schedules, the most it takes", WP_SCHEDULES_MAX);
    wp_schedule_t *record = NULL;
    if (rc == WP_OK) {
        record = wp_schedule_dup (schedule);
        record->next_at = next;
        record->created_at = now;
        record->last_fired_at = old ? old->last_fired_at : 0;
        rc = self->ops->schedule_put (self, record);
    }
    wp_schedule_list_destroy (&list);
    if (rc == WP_OK && schedule_out)
        *schedule_out = record;
    else
        wp_schedule_destroy (&record);
    return rc;
}

wp_status
wp_store_schedule_remove (wp_store_t *self, const char *name)
{
    s_clear_error (self);
    CHECK (wp_store_check_name (self, "name", name));
    if (!self->ops->schedule_remove)
        return s_unimplemented (self, "schedules");
    return self->ops->schedule_remove (self, name);
}

wp_status
wp_store_schedule_list (wp_store_t *self, wp_schedule_list_t **list_out)
{
    s_clear_error (self);
    if (!list_out)
        return wp_store_error (self, WP_INVALID_ARGUMENT, "schedule_list needs an out-parameter");
    if (!self->ops->schedule_list)
        return s_unimplemented (self, "schedules");
    return self->ops->schedule_list (self, list_out);
}

//  Fires one due schedule: its tick's item and its next tick, in the frame
//  the caller opened. A cron that no longer parses (a store written by a
//  newer version) is left alone rather than fired wrongly.
static wp_status
s_fire_one (wp_store_t *self, wp_schedule_t *schedule, int64_t now, uint64_t *fired)
{
    wp_cron_t cron;
    char why [160];
    if (wp_cron_parse (schedule->cron, &cron, why, sizeof why))
        return WP_OK;
    char tick [WP_TIME_BUFSIZE];
    char id [WP_NAME_MAX + 1];
    snprintf (id, sizeof id, "%s@%s", schedule->name, wp_time_format (schedule->next_at, tick));
    wp_push_entry_t entry = { .data = schedule->data, .data_size = schedule->data_size,
                              .id = id, .max_retries = schedule->max_retries,
                              .priority = schedule->priority };
    char *pushed = NULL;
    bool duplicate = false;
    wp_status rc = self->ops->push (self, schedule->pool, &entry, &pushed, &duplicate);
    free (pushed);
    if (rc != WP_OK)
        return rc;
    if (!duplicate)
        (*fired)++;
    schedule->last_fired_at = schedule->next_at;
    schedule->next_at = wp_cron_next (&cron, now);
    return self->ops->schedule_put (self, schedule);
}

wp_status
wp_store_fire_schedules (wp_store_t *self, uint64_t *fired_out)
{
    s_clear_error (self);
    if (!self->ops->schedule_list || !self->ops->schedule_put)
        return s_unimplemented (self, "schedules");
    wp_schedule_list_t *list = NULL;
    CHECK (self->ops->schedule_list (self, &list));
    int64_t now = wp_store_now (self);
    uint64_t fired = 0;
    wp_status rc = WP_OK;
    bool due = false;
    for (size_t i = 0; i < list->count; i++)
        due |= list->schedules [i]->next_at && list->schedules [i]->next_at <= now;
    if (due) {
        bool nested;
        rc = s_batch_begin (self, &nested);
        if (rc == WP_OK) {
            for (size_t i = 0; rc == WP_OK && i < list->count; i++) {
                wp_schedule_t *schedule = list->schedules [i];
                if (schedule->next_at && schedule->next_at <= now)
                    rc = s_fire_one (self, schedule, now, &fired);
            }
            rc = s_batch_end (self, nested, rc);
        }
    }
    wp_schedule_list_destroy (&list);
    if (rc == WP_OK && fired_out)
        *fired_out = fired;
    return rc;
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
