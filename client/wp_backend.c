/*  wp_backend: the public API of workpool.h over one wp_store_t, either an
    in-process store (memory, SQLite) or the remote store that talks to a
    broker. The batch calls are the store layer's (wp_store.h: one
    implementation in-process, one request over the wire), so both behave
    alike by construction. Waits are what differs: a broker parks a claim
    that waits; in-process, the claim polls the store until its wait ends,
    heartbeating the worker as a broker would.  */
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
#define S_POLL_MAX_MS     50      //  in-process waits: longest pause between polls

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
    wp_backend_options_t options;   //  as opened, defaults filled in; its
                                    //  server_key and cert point at ours
    char *server_key;           //  owned copies of the options' file names, or NULL
    char *cert;
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

//  A broker endpoint, or a list of them (comma-separated, whitespace
//  around each ignored; wp_remote_store_new checks every element and
//  names a bad one)
static bool
s_is_endpoint (const char *spec)
{
    while (*spec == ' ' || *spec == '\t')
        spec++;
    if (strncmp (spec, "tcp://", 6) == 0 || strncmp (spec, "ipc://", 6) == 0
    ||  strncmp (spec, "inproc://", 9) == 0)
        return true;
    return strchr (spec, ',') != NULL && strstr (spec, "://") != NULL;
}

//  Opens the store spec names, for a new handle.
static wp_store_t *
s_store_open (const char *spec, const wp_backend_options_t *options, wp_status *status,
              char **message)
{
    if (s_is_endpoint (spec)) {
        wp_store_t *store = wp_remote_store_new_curve (spec, options->timeout,
                                                       options->server_key, options->cert,
                                                       status, message);
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

//  Gives self its own copies of options's file names (the caller's may go
//  before a dup needs them).
static void
s_set_options (wp_backend_t *self, const wp_backend_options_t *options)
{
    self->options = *options;
    self->server_key = options->server_key ? wp_strdup (options->server_key) : NULL;
    self->cert = options->cert ? wp_strdup (options->cert) : NULL;
    self->options.server_key = self->server_key;
    self->options.cert = self->cert;
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
    s_set_options (self, &options);
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
        //  Several brokers: on the one this handle moved to (the first may
        //  be the one that stopped answering), not counted as a move
        if (copy && self->remote)
            wp_remote_store_use (copy->store, wp_remote_store_endpoint (self->store));
        return copy;
    }
    wp_backend_t *copy = calloc (1, sizeof *copy);
    if (!copy)
        abort ();
    copy->spec = wp_strdup (self->spec);
    s_set_options (copy, &self->options);
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
    free (self->server_key);
    free (self->cert);
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

const char *
wp_backend_endpoint (wp_backend_t *self)
{
    return self->remote ? wp_remote_store_endpoint (self->store) : NULL;
}

uint64_t
wp_backend_moves (wp_backend_t *self)
{
    return self->remote ? wp_remote_store_moves (self->store) : 0;
}

void
wp_backend_set_timeout (wp_backend_t *self, double seconds)
{
    self->timeout = seconds > 0 && seconds == seconds ? seconds : self->options.timeout;
    if (self->remote)
        wp_remote_store_set_timeout (self->store, self->timeout);
}

wp_store_t *
wp_backend_store (wp_backend_t *self)
{
    return self->store;
}

wp_backend_t *
wp_pool_backend (wp_pool_t *pool)
{
    return pool->backend;
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

wp_status
wp_pool_push_many (wp_pool_t *self, const wp_push_entry_t *entries, size_t count,
                   char **ids_out, bool *duplicates)
{
    wp_backend_t *backend = self->backend;
    s_enter (backend);
    return s_leave (backend, wp_store_push_many (backend->store, self->name, entries, count,
                                                 ids_out, duplicates));
}

static wp_status
s_check_claim_options (wp_backend_t *self, const wp_claim_options_t *opts)
{
    if (opts && (opts->wait != opts->wait || opts->wait < 0 || opts->wait > WP_WAIT_MAX))
        return s_error (self, WP_INVALID_ARGUMENT, "wait must be 0 to %g seconds", WP_WAIT_MAX);
    return WP_OK;
}

//  Keeps a worker that waits in an in-process claim alive, as a broker does
//  for a parked claim (PROTOCOL.md section 7): a heartbeat at the start, every
//  quarter of its interval (at most a second) while it waits, and at the end.
//  A worker that is not registered, or was declared lost, is left as it is.
typedef struct {
    const char *worker_id;
    int64_t every;              //  microseconds between heartbeats
    int64_t last;               //  the latest one (zclock_usecs)
} s_waiter_t;

static void
s_waiter_beat (wp_backend_t *backend, s_waiter_t *waiter, bool force)
{
    int64_t now = zclock_usecs ();
    if (!force && now - waiter->last < waiter->every)
        return;
    wp_store_heartbeat (backend->store, waiter->worker_id, NULL);
    waiter->last = now;
}

static void
s_waiter_init (wp_backend_t *backend, s_waiter_t *waiter, const char *worker_id)
{
    waiter->worker_id = worker_id;
    waiter->every = wp_worker_beat_every_us (0);
    wp_worker_t *worker = NULL;
    if (wp_store_get_worker (backend->store, worker_id, &worker) == WP_OK && worker)
        waiter->every = wp_worker_beat_every_us (worker->heartbeat_interval);
    wp_worker_destroy (&worker);
    s_waiter_beat (backend, waiter, true);
}

//  One look at the store for the claim (max 0: one item into *item_out;
//  else up to max into *list_out). True if it is answered: items found, or
//  the store failed (then the status is in *rc).
static bool
s_claim_once (wp_pool_t *self, const char *worker_id, size_t max, double lease,
              wp_item_t **item_out, wp_item_list_t **list_out, wp_status *rc)
{
    wp_store_t *store = self->backend->store;
    if (max == 0) {
        *rc = wp_store_claim (store, self->name, worker_id, lease, item_out);
        return *rc != WP_OK || *item_out;
    }
    wp_item_list_t *list = NULL;
    *rc = wp_store_claim_many (store, self->name, worker_id, max, lease,
                               WP_DEFAULT_MESSAGE_MAX, &list);
    if (*rc == WP_OK && list->count == 0) {
        wp_item_list_destroy (&list);
        return false;
    }
    if (*rc == WP_OK)
        *list_out = list;
    return true;
}

//  In-process claims, polling the store until the wait ends: another thread
//  or process may push meanwhile. The store is released between polls.
static wp_status
s_claim_local (wp_pool_t *self, const char *worker_id, size_t max,
               const wp_claim_options_t *opts, wp_item_t **item_out, wp_item_list_t **list_out)
{
    wp_backend_t *backend = self->backend;
    double wait = opts ? opts->wait : 0;
    double lease = opts ? opts->lease : 0;
    wp_status rc;
    if (s_claim_once (self, worker_id, max, lease, item_out, list_out, &rc))
        return rc;
    if (wait <= 0) {
        if (max > 0)
            *list_out = wp_item_list_new ();
        return WP_OK;
    }
    s_waiter_t waiter;
    s_waiter_init (backend, &waiter, worker_id);
    int64_t until = zclock_usecs () + (int64_t) (wait * 1e6);
    int pause_ms = 1;
    while (true) {
        int64_t now = zclock_usecs ();
        if (now >= until) {
            s_waiter_beat (backend, &waiter, true);
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
        if (pause_ms < S_POLL_MAX_MS)
            pause_ms *= 2;
        s_waiter_beat (backend, &waiter, false);
        if (s_claim_once (self, worker_id, max, lease, item_out, list_out, &rc)) {
            s_waiter_beat (backend, &waiter, true);
            return rc;
        }
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

wp_status
wp_pool_complete_many (wp_pool_t *self, const wp_complete_entry_t *entries, size_t count,
                       const char *worker_id, wp_status *statuses_out)
{
    wp_backend_t *backend = self->backend;
    s_enter (backend);
    return s_leave (backend, wp_store_complete_many (backend->store, self->name, entries, count,
                                                     worker_id, statuses_out, NULL));
}

wp_status
wp_pool_fail (wp_pool_t *self, const char *id, const char *error, const char *worker_id,
              wp_item_state *state_out)
{
    return wp_pool_fail_after (self, id, error, 0, worker_id, state_out);
}

wp_status
wp_pool_fail_after (wp_pool_t *self, const char *id, const char *error, double retry_after,
                    const char *worker_id, wp_item_state *state_out)
{
    wp_backend_t *backend = self->backend;
    s_enter (backend);
    return s_leave (backend, wp_store_fail (backend->store, self->name, id, error, worker_id,
                                            retry_after, state_out));
}

wp_status
wp_pool_complete_and_claim (wp_pool_t *self, const char *id, const void *result,
                            size_t result_size, const char *worker_id,
                            const wp_claim_options_t *opts, wp_item_t **item_out)
{
    wp_backend_t *backend = self->backend;
    s_enter (backend);
    wp_status rc = s_check_claim_options (backend, opts);
    double wait = opts ? opts->wait : 0;
    double lease = opts ? opts->lease : 0;
    if (rc == WP_OK && backend->remote && wait > 0)
        rc = wp_remote_store_complete_and_claim (backend->store, self->name, id, result,
                                                 result_size, worker_id, wait, lease,
                                                 item_out);
    else
    if (rc == WP_OK) {
        rc = wp_store_complete_and_claim (backend->store, self->name, id, result, result_size,
                                          worker_id, lease, item_out);
        if (rc == WP_OK && !*item_out && wait > 0)
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

//  ---------------------------------------------------------------------
//  Inspection and lifecycle

wp_status
wp_pool_list (wp_pool_t *self, const wp_item_state *statuses, size_t status_count,
              size_t limit, const char *cursor, wp_item_list_t **items_out, char **cursor_out)
{
    wp_backend_t *backend = self->backend;
    s_enter (backend);
    char *next = NULL;
    wp_status rc = wp_store_list_items (backend->store, self->name, statuses, status_count,
                                        limit, cursor, items_out, &next);
    if (rc == WP_OK && cursor_out)
        *cursor_out = next;
    else
        free (next);
    return s_leave (backend, rc);
}

wp_status
wp_pool_retry (wp_pool_t *self, const char *id)
{
    wp_backend_t *backend = self->backend;
    s_enter (backend);
    return s_leave (backend, wp_store_retry (backend->store, self->name, id));
}

wp_status
wp_pool_retry_all (wp_pool_t *self, uint64_t *count_out)
{
    wp_backend_t *backend = self->backend;
    s_enter (backend);
    return s_leave (backend, wp_store_retry_all (backend->store, self->name, count_out));
}

wp_status
wp_pool_cancel (wp_pool_t *self, const char *id)
{
    wp_backend_t *backend = self->backend;
    s_enter (backend);
    return s_leave (backend, wp_store_cancel (backend->store, self->name, id));
}

wp_status
wp_pool_purge (wp_pool_t *self, const wp_item_state *statuses, size_t status_count,
               uint64_t *count_out)
{
    wp_backend_t *backend = self->backend;
    s_enter (backend);
    return s_leave (backend, wp_store_purge_pool (backend->store, self->name, statuses,
                                                  status_count, count_out));
}

wp_status
wp_pool_pause (wp_pool_t *self)
{
    wp_backend_t *backend = self->backend;
    s_enter (backend);
    return s_leave (backend, wp_store_set_paused (backend->store, self->name, true));
}

wp_status
wp_pool_resume (wp_pool_t *self)
{
    wp_backend_t *backend = self->backend;
    s_enter (backend);
    return s_leave (backend, wp_store_set_paused (backend->store, self->name, false));
}

wp_status
wp_pool_set_backoff (wp_pool_t *self, const wp_backoff_t *policy)
{
    wp_backend_t *backend = self->backend;
    s_enter (backend);
    return s_leave (backend, wp_store_set_backoff (backend->store, self->name, policy));
}

//  ---------------------------------------------------------------------
//  Periodic pushes

wp_status
wp_backend_schedule_add (wp_backend_t *self, const wp_schedule_t *schedule,
                         wp_schedule_t **schedule_out)
{
    s_enter (self);
    return s_leave (self, wp_store_schedule_put (self->store, schedule, schedule_out));
}

wp_status
wp_backend_schedule_list (wp_backend_t *self, wp_schedule_list_t **list_out)
{
    s_enter (self);
    return s_leave (self, wp_store_schedule_list (self->store, list_out));
}

wp_status
wp_backend_schedule_remove (wp_backend_t *self, const char *name)
{
    s_enter (self);
    return s_leave (self, wp_store_schedule_remove (self->store, name));
}
