/*  wp_backend: the public API of workpool.h over one wp_store_t, either an
    in-process store (memory, SQLite) or the remote store that talks to a
    broker. The protocol's batch and waiting calls go straight to the broker
    when there is one, and are built from single store calls in-process.  */
#include "workpool.h"
#include "wp_store.h"
#include "wp_remote_store.h"

#include <czmq.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_DEFAULT_TIMEOUT 30.0

//  A memory store shared by the handles wp_backend_dup makes: the store
//  serializes its own calls, the lock also covers a call's errmsg and keeps
//  a multi-call sequence (a batch in a transaction) whole.
typedef struct {
    wp_store_t *store;
    pthread_mutex_t lock;
    int refs;                   //  handles using it, under lock
} s_shared_t;

struct _wp_backend_t {
    char *spec;                 //  as opened
    wp_backend_options_t options;   //  as opened, defaults filled in
    wp_store_t *store;          //  owned, or shared->store
    s_shared_t *shared;         //  memory store: shared with dups; else NULL
    bool remote;                //  store is a remote store
    double timeout;             //  deadline in force, seconds
    char errmsg [512];
};

struct _wp_pool_t {
    wp_backend_t *backend;      //  borrowed
    char *name;
};

//  ---------------------------------------------------------------------
//  Helpers

static wp_status
s_error (wp_backend_t *self, wp_status status, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static wp_status
s_error (wp_backend_t *self, wp_status status, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->errmsg, sizeof self->errmsg, format, args);
    va_end (args);
    return status;
}

//  Takes the handle's store for one API call (a lock for a shared store).
static void
s_enter (wp_backend_t *self)
{
    self->errmsg [0] = 0;
    if (self->shared)
        pthread_mutex_lock (&self->shared->lock);
}

//  Ends an API call that returns rc: copies the store's message of a
//  failure, releases the store, returns rc.
static wp_status
s_leave (wp_backend_t *self, wp_status rc)
{
    if (rc != WP_OK && !self->errmsg [0])
        snprintf (self->errmsg, sizeof self->errmsg, "%s", wp_store_errmsg (self->store));
    if (self->shared)
        pthread_mutex_unlock (&self->shared->lock);
    return rc;
}

static void
s_set_failure (wp_status *status, char **message, wp_status rc, const char *text)
{
    if (status)
        *status = rc;
    if (message)
        *message = wp_strdup (text);
}

static bool
s_is_endpoint (const char *spec)
{
    return strncmp (spec, "tcp://", 6) == 0 || strncmp (spec, "ipc://", 6) == 0
        || strncmp (spec, "inproc://", 9) == 0;
}

//  Opens the store spec names, for a new handle.
static wp_store_t *
s_store_open (const char *spec, const wp_backend_options_t *options, wp_status *status,
              char **message)
{
    if (s_is_endpoint (spec)) {
        wp_store_t *store = wp_remote_store_new (spec, options->timeout, status, message);
        if (store)
            wp_remote_store_set_retry_interval (store, options->retry_interval);
        return store;
    }
    if (streq (spec, "memory") || strncmp (spec, "sqlite:", 7) == 0) {
        wp_store_config_t config = { 0 };
        config.sync_full = options->sync_full;
        config.lease = options->lease;
        config.heartbeat = options->heartbeat;
        return wp_store_open (spec, &config, status, message);
    }
    char text [512];
    snprintf (text, sizeof text, "unknown backend '%.300s' (expected memory, sqlite:PATH, "
              "or a broker endpoint such as tcp://host:port or ipc://path)", spec);
    s_set_failure (status, message, WP_INVALID_ARGUMENT, text);
    return NULL;
}

//  ---------------------------------------------------------------------
//  Backend

wp_backend_t *
wp_backend_open (const char *spec, const wp_backend_options_t *opts, wp_status *status,
                 char **message)
{
    if (!spec) {
        s_set_failure (status, message, WP_INVALID_ARGUMENT, "a backend string is required");
        return NULL;
    }
    wp_backend_options_t options = { 0 };
    if (opts)
        options = *opts;
    if (!(options.timeout > 0))
        options.timeout = S_DEFAULT_TIMEOUT;
    wp_store_t *store = s_store_open (spec, &options, status, message);
    if (!store)
        return NULL;
    wp_backend_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    self->spec = wp_strdup (spec);
    self->options = options;
    self->store = store;
    self->remote = wp_remote_store_is (store);
    self->timeout = options.timeout;
    if (streq (spec, "memory")) {
        self->shared = calloc (1, sizeof *self->shared);
        if (!self->shared)
            abort ();
        self->shared->store = store;
        self->shared->refs = 1;
        pthread_mutex_init (&self->shared->lock, NULL);
    }
    return self;
}

wp_backend_t *
wp_backend_dup (wp_backend_t *self, wp_status *status, char **message)
{
    if (!self->shared) {
        wp_backend_t *copy = wp_backend_open (self->spec, &self->options, status, message);
        if (copy)
            wp_backend_set_timeout (copy, self->timeout);
        return copy;
    }
    wp_backend_t *copy = calloc (1, sizeof *copy);
    if (!copy)
        abort ();
    copy->spec = wp_strdup (self->spec);
    copy->options = self->options;
    copy->store = self->store;
    copy->timeout = self->timeout;
    copy->shared = self->shared;
    pthread_mutex_lock (&self->shared->lock);
    self->shared->refs++;
    pthread_mutex_unlock (&self->shared->lock);
    return copy;
}

void
wp_backend_destroy (wp_backend_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wp_backend_t *self = *self_p;
    if (self->shared) {
        pthread_mutex_lock (&self->shared->lock);
        bool last = --self->shared->refs == 0;
        pthread_mutex_unlock (&self->shared->lock);
        if (last) {
            wp_store_destroy (&self->shared->store);
            pthread_mutex_destroy (&self->shared->lock);
            free (self->shared);
        }
    }
    else
        wp_store_destroy (&self->store);
    free (self->spec);
    free (self);
    *self_p = NULL;
}

const char *
wp_backend_errmsg (wp_backend_t *self)
{
    return self->errmsg;
}

const char *
wp_backend_kind (wp_backend_t *self)
{
    return self->remote ? "remote" : self->shared ? "memory" : "sqlite";
}

void
wp_backend_set_timeout (wp_backend_t *self, double seconds)
{
    self->timeout = seconds > 0 && seconds == seconds ? seconds : self->options.timeout;
    if (self->remote)
        wp_remote_store_set_timeout (self->store, self->timeout);
}

double
wp_backend_timeout (wp_backend_t *self)
{
    return self->timeout;
}

wp_status
wp_backend_ping (wp_backend_t *self, char **server_out, int64_t *time_out)
{
    s_enter (self);
    wp_status rc = WP_OK;
    if (self->remote)
        rc = wp_remote_store_ping (self->store, server_out, time_out);
    else {
        if (server_out)
            *server_out = wp_strdup (wp_backend_kind (self));
        if (time_out)
            *time_out = wp_time_now ();
    }
    return s_leave (self, rc);
}

wp_status
wp_backend_stats (wp_backend_t *self, wp_stats_t **stats_out)
{
    s_enter (self);
    return s_leave (self, wp_store_stats (self->store, stats_out));
}

wp_status
wp_backend_renew (wp_backend_t *self, const char *worker_id, double lease, uint64_t *count_out)
{
    s_enter (self);
    return s_leave (self, wp_store_renew (self->store, worker_id, lease, count_out));
}

//  ---------------------------------------------------------------------
//  Registration

wp_status
wp_backend_register (wp_backend_t *self, const wp_worker_t *worker, wp_worker_t **worker_out)
{
    s_enter (self);
    return s_leave (self, wp_store_register (self->store, worker, worker_out));
}

wp_status
wp_backend_heartbeat (wp_backend_t *self, const char *worker_id, const wp_meta_t *metadata)
{
    s_enter (self);
    return s_leave (self, wp_store_heartbeat (self->store, worker_id, metadata));
}

wp_status
wp_backend_update_status (wp_backend_t *self, const char *worker_id, const char *status)
{
    s_enter (self);
    return s_leave (self, wp_store_update_status (self->store, worker_id, status));
}

wp_status
wp_backend_get_worker (wp_backend_t *self, const char *worker_id, wp_worker_t **worker_out)
{
    s_enter (self);
    return s_leave (self, wp_store_get_worker (self->store, worker_id, worker_out));
}

wp_status
wp_backend_list_workers (wp_backend_t *self, const wp_worker_filter_t *filter,
                         wp_worker_list_t **list_out)
{
    s_enter (self);
    return s_leave (self, wp_store_list_workers (self->store, filter, list_out));
}

//  ---------------------------------------------------------------------
//  WorkPool

wp_pool_t *
wp_backend_pool (wp_backend_t *self, const char *name)
{
    self->errmsg [0] = 0;
    if (!name || wp_name_check (name)) {
        s_error (self, WP_INVALID_ARGUMENT, "pool must be 1 to %d bytes of UTF-8", WP_NAME_MAX);
        return NULL;
    }
    wp_pool_t *pool = calloc (1, sizeof *pool);
    if (!pool)
        abort ();
    pool->backend = self;
    pool->name = wp_strdup (name);
    return pool;
}

void
wp_pool_destroy (wp_pool_t **self_p)
{
    if (self_p && *self_p) {
        free ((*self_p)->name);
        free (*self_p);
        *self_p = NULL;
    }
}

const char *
wp_pool_name (wp_pool_t *self)
{
    return self->name;
}

wp_status
wp_pool_push (wp_pool_t *self, const void *data, size_t size, char **id_out)
{
    wp_push_entry_t entry = { data, size, NULL, -1 };
    return wp_pool_push_entry (self, &entry, id_out, NULL);
}

wp_status
wp_pool_push_entry (wp_pool_t *self, const wp_push_entry_t *entry, char **id_out,
                    bool *duplicate)
{
    wp_backend_t *backend = self->backend;
    s_enter (backend);
    return s_leave (backend, wp_store_push (backend->store, self->name, entry, id_out, duplicate));
}

//  In-process push_many: every entry in one transaction, all or nothing.
static wp_status
s_push_many_local (wp_pool_t *self, const wp_push_entry_t *entries, size_t count,
                   char **ids_out, bool *duplicates)
{
    wp_backend_t *backend = self->backend;
    wp_store_t *store = backend->store;
    wp_status rc = wp_store_begin (store);
    if (rc != WP_OK)
        return rc;
    size_t done = 0;
    for (; done < count; done++) {
        rc = wp_store_push (store, self->name, &entries [done], &ids_out [done],
                            duplicates ? &duplicates [done] : NULL);
        if (rc != WP_OK) {
            s_error (backend, rc, "items[%zu]: %s", done, wp_store_errmsg (store));
            wp_store_rollback (store);
            break;
        }
    }
    if (rc == WP_OK)
        rc = wp_store_commit (store);
    if (rc != WP_OK)
        for (size_t i = 0; i < done; i++) {
            free (ids_out [i]);
            ids_out [i] = NULL;
        }
    return rc;
}

wp_status
wp_pool_push_many (wp_pool_t *self, const wp_push_entry_t *entries, size_t count,
                   char **ids_out, bool *duplicates)
{
    wp_backend_t *backend = self->backend;
    s_enter (backend);
    wp_status rc;
    if (!entries || !ids_out || count < 1 || count > WP_BATCH_MAX)
        rc = s_error (backend, WP_INVALID_ARGUMENT,
                      "push_many needs 1 to %d entries and an id array", WP_BATCH_MAX);
    else
    if (backend->remote)
        rc = wp_remote_store_push_many (backend->store, self->name, entries, count, ids_out,
                                        duplicates);
    else
        rc = s_push_many_local (self, entries, count, ids_out, duplicates);
    return s_leave (backend, rc);
}

static wp_status
s_check_claim_options (wp_backend_t *self, const wp_claim_options_t *opts)
{
    if (opts && (opts->wait != opts->wait || opts->wait < 0 || opts->wait > 3600))
        return s_error (self, WP_INVALID_ARGUMENT, "wait must be 0 to 3600 seconds");
    return WP_OK;
}

//  In-process claims of up to max items (max 0: one item, into *item_out),
//  polling the store until the wait ends: another thread or process may push
//  meanwhile. The store is released between polls.
static wp_status
s_claim_local (wp_pool_t *self, const char *worker_id, size_t max,
               const wp_claim_options_t *opts, wp_item_t **item_out, wp_item_list_t **list_out)
{
    wp_backend_t *backend = self->backend;
    wp_store_t *store = backend->store;
    double wait = opts ? opts->wait : 0;
    double lease = opts ? opts->lease : 0;
    int64_t until = zclock_usecs () + (int64_t) (wait * 1e6);
    int pause_ms = 1;
    while (true) {
        wp_status rc;
        if (max == 0) {
            rc = wp_store_claim (store, self->name, worker_id, lease, item_out);
            if (rc != WP_OK || *item_out)
                return rc;
        }
        else {
            //  One transaction for the batch, so SQLite writes it once
            wp_item_list_t *list = wp_item_list_new ();
            bool in_txn = wp_store_begin (store) == WP_OK;
            rc = WP_OK;
            while (rc == WP_OK && list->count < max) {
                wp_item_t *item = NULL;
                rc = wp_store_claim (store, self->name, worker_id, lease, &item);
                if (rc != WP_OK || !item)
                    break;
                wp_item_list_append (list, &item);
            }
            if (in_txn) {
                if (rc == WP_OK)
                    rc = wp_store_commit (store);
                else {
                    s_error (backend, rc, "%s", wp_store_errmsg (store));
                    wp_store_rollback (store);
                }
            }
            if (rc != WP_OK || list->count > 0) {
                if (rc == WP_OK)
                    *list_out = list;
                else
                    wp_item_list_destroy (&list);
                return rc;
            }
            wp_item_list_destroy (&list);
        }
        int64_t now = zclock_usecs ();
        if (now >= until) {
            if (max > 0)
                *list_out = wp_item_list_new ();
            return WP_OK;
        }
        if (zsys_interrupted)
            return s_error (backend, WP_CANCELLED, "claim interrupted");
        int64_t pause_us = (int64_t) pause_ms * 1000;
        if (pause_us > until - now)
            pause_us = until - now;
        if (backend->shared)
            pthread_mutex_unlock (&backend->shared->lock);
        zclock_sleep ((int) ((pause_us + 999) / 1000));
        if (backend->shared)
            pthread_mutex_lock (&backend->shared->lock);
        if (pause_ms < 50)
            pause_ms *= 2;
    }
}

wp_status
wp_pool_claim (wp_pool_t *self, const char *worker_id, const wp_claim_options_t *opts,
               wp_item_t **item_out)
{
    wp_backend_t *backend = self->backend;
    s_enter (backend);
    wp_status rc = s_check_claim_options (backend, opts);
    if (rc == WP_OK) {
        if (backend->remote)
            rc = wp_remote_store_claim_wait (backend->store, self->name, worker_id,
                                             opts ? opts->wait : 0, opts ? opts->lease : 0,
                                             item_out);
        else
            rc = s_claim_local (self, worker_id, 0, opts, item_out, NULL);
    }
    return s_leave (backend, rc);
}

wp_status
wp_pool_claim_many (wp_pool_t *self, const char *worker_id, size_t max,
                    const wp_claim_options_t *opts, wp_item_list_t **items_out)
{
    wp_backend_t *backend = self->backend;
    s_enter (backend);
    wp_status rc = s_check_claim_options (backend, opts);
    if (rc == WP_OK && (max < 1 || max > WP_BATCH_MAX))
        rc = s_error (backend, WP_INVALID_ARGUMENT, "max must be 1 to %d", WP_BATCH_MAX);
    if (rc == WP_OK && !items_out)
        rc = s_error (backend, WP_INVALID_ARGUMENT, "claim_many needs an out-parameter");
    if (rc == WP_OK) {
        if (backend->remote)
            rc = wp_remote_store_claim_many (backend->store, self->name, worker_id, max,
                                             opts ? opts->wait : 0, opts ? opts->lease : 0,
                                             items_out);
        else
            rc = s_claim_local (self, worker_id, max, opts, NULL, items_out);
    }
    return s_leave (backend, rc);
}

wp_status
wp_pool_complete (wp_pool_t *self, const char *id, const void *result, size_t result_size,
                  const char *worker_id)
{
    wp_backend_t *backend = self->backend;
    s_enter (backend);
    return s_leave (backend, wp_store_complete (backend->store, self->name, id, result,
                                                result_size, worker_id));
}

//  In-process complete_many: the entries in one transaction, each as
//  wp_store_complete. A failed precondition is that entry's status (it
//  changed nothing); any other failure is the store's and undoes the batch.
static wp_status
s_complete_many_local (wp_pool_t *self, const wp_complete_entry_t *entries, size_t count,
                       const char *worker_id, wp_status *statuses_out)
{
    wp_backend_t *backend = self->backend;
    wp_store_t *store = backend->store;
    for (size_t i = 0; i < count; i++) {
        if (!entries [i].id || wp_name_check (entries [i].id))
            return s_error (backend, WP_INVALID_ARGUMENT, entries [i].id
                            ? "items[%zu]: id must be 1 to %d bytes of UTF-8"
                            : "items[%zu]: id is required", i, WP_NAME_MAX);
        if (entries [i].result && entries [i].result_size == 0)
            return s_error (backend, WP_INVALID_ARGUMENT, "items[%zu]: result must not be empty", i);
    }
    if (worker_id && wp_name_check (worker_id))
        return s_error (backend, WP_INVALID_ARGUMENT, "worker_id must be 1 to %d bytes of UTF-8",
                        WP_NAME_MAX);
    wp_status rc = wp_store_begin (store);
    if (rc != WP_OK)
        return rc;
    //  Out-parameters are written only on success: collect, then copy
    wp_status *statuses = calloc (count, sizeof *statuses);
    if (!statuses)
        abort ();
    for (size_t i = 0; i < count && rc == WP_OK; i++) {
        statuses [i] = wp_store_complete (store, self->name, entries [i].id, entries [i].result,
                                          entries [i].result_size, worker_id);
        if (statuses [i] != WP_OK && statuses [i] != WP_NOT_FOUND
        &&  statuses [i] != WP_FAILED_PRECONDITION) {
            rc = s_error (backend, statuses [i], "items[%zu]: %s", i, wp_store_errmsg (store));
            wp_store_rollback (store);
        }
    }
    if (rc == WP_OK)
        rc = wp_store_commit (store);
    if (rc == WP_OK && statuses_out)
        memcpy (statuses_out, statuses, count * sizeof *statuses);
    free (statuses);
    return rc;
}

wp_status
wp_pool_complete_many (wp_pool_t *self, const wp_complete_entry_t *entries, size_t count,
                       const char *worker_id, wp_status *statuses_out)
{
    wp_backend_t *backend = self->backend;
    s_enter (backend);
    wp_status rc;
    if (!entries || count < 1 || count > WP_BATCH_MAX)
        rc = s_error (backend, WP_INVALID_ARGUMENT,
                      "complete_many needs 1 to %d entries", WP_BATCH_MAX);
    else
    if (backend->remote)
        rc = wp_remote_store_complete_many (backend->store, self->name, entries, count,
                                            worker_id, statuses_out);
    else
        rc = s_complete_many_local (self, entries, count, worker_id, statuses_out);
    return s_leave (backend, rc);
}

wp_status
wp_pool_fail (wp_pool_t *self, const char *id, const char *error, const char *worker_id,
              wp_item_state *state_out)
{
    wp_backend_t *backend = self->backend;
    s_enter (backend);
    return s_leave (backend, wp_store_fail (backend->store, self->name, id, error, worker_id,
                                            state_out));
}

wp_status
wp_pool_complete_and_claim (wp_pool_t *self, const char *id, const void *result,
                            size_t result_size, const char *worker_id,
                            const wp_claim_options_t *opts, wp_item_t **item_out)
{
    wp_backend_t *backend = self->backend;
    s_enter (backend);
    wp_status rc = s_check_claim_options (backend, opts);
    if (rc == WP_OK && backend->remote)
        rc = wp_remote_store_complete_and_claim (backend->store, self->name, id, result,
                                                 result_size, worker_id,
                                                 opts ? opts->wait : 0, opts ? opts->lease : 0,
                                                 item_out);
    else
    if (rc == WP_OK) {
        //  The protocol requires the worker for this call; say so the same way
        if (!worker_id || wp_name_check (worker_id))
            rc = s_error (backend, WP_INVALID_ARGUMENT, worker_id
                          ? "worker_id must be 1 to %d bytes of UTF-8" : "worker_id is required",
                          WP_NAME_MAX);
        else
        if (!item_out)
            rc = s_error (backend, WP_INVALID_ARGUMENT, "complete_and_claim needs an out-parameter");
        else
            rc = wp_store_complete (backend->store, self->name, id, result, result_size,
                                    worker_id);
        if (rc == WP_OK)
            rc = s_claim_local (self, worker_id, 0, opts, item_out, NULL);
    }
    return s_leave (backend, rc);
}

wp_status
wp_pool_size (wp_pool_t *self, uint64_t *size_out)
{
    wp_backend_t *backend = self->backend;
    s_enter (backend);
    return s_leave (backend, wp_store_size (backend->store, self->name, size_out));
}

wp_status
wp_pool_release_by_worker (wp_pool_t *self, const char *worker_id, uint64_t *count_out)
{
    wp_backend_t *backend = self->backend;
    s_enter (backend);
    return s_leave (backend, wp_store_release_by_worker (backend->store, self->name,
                                                         worker_id, count_out));
}

wp_status
wp_pool_get (wp_pool_t *self, const char *id, wp_item_t **item_out)
{
    wp_backend_t *backend = self->backend;
    s_enter (backend);
    return s_leave (backend, wp_store_get (backend->store, self->name, id, item_out));
}
