/*  wp_runner: the worker helper of workpool.h. The worker's thread runs the
    claim / callback / complete loop on the caller's backend handle; a czmq
    actor with a handle of its own (wp_backend_dup) heartbeats at the
    registered interval, so a long callback does not get the worker declared
    lost, and registers again when the backend has forgotten the worker
    (NOT_FOUND, e.g. a broker restarted on a memory store) or declared it
    lost (FAILED_PRECONDITION).  */
#include "workpool.h"

#include <czmq.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_DEFAULT_WAIT 5.0

struct _wp_runner_t {
    wp_backend_t *backend;          //  borrowed; the run loop's handle
    wp_worker_t *registration;      //  what is registered, again if need be
    zactor_t *heartbeat;            //  the heartbeat actor
    wp_backend_t *beat_backend;     //  the actor's own handle (the actor uses it)
    double wait;                    //  seconds one claim waits
    double lease;                   //  lease of each claim; 0: default
    uint32_t credit;                //  0: claims; else a subscription's credit
    char *pool;                     //  pool of the latest run, or NULL
    atomic_int stop;                //  set by wp_runner_stop
    atomic_uint_least64_t heartbeats;
    atomic_uint_least64_t registrations;
};

//  Registers self->registration on backend, counting it.
static wp_status
s_register (wp_runner_t *self, wp_backend_t *backend)
{
    wp_status rc = wp_backend_register (backend, self->registration, NULL);
    if (rc == WP_OK)
        atomic_fetch_add (&self->registrations, 1);
    return rc;
}

//  One heartbeat, re-registering if the backend does not know the worker
//  as active. Failures of the connection are only logged: the next beat
//  may go through.
static void
s_beat (wp_runner_t *self, wp_backend_t *backend)
{
    const char *worker_id = self->registration->worker_id;
    wp_status rc = wp_backend_heartbeat (backend, worker_id, NULL);
    if (rc == WP_NOT_FOUND || rc == WP_FAILED_PRECONDITION) {
        zsys_info ("workpool: worker %s: %s (%s); registering again", worker_id,
                   wp_strerror (rc), wp_backend_errmsg (backend));
        rc = s_register (self, backend);
    }
    if (rc == WP_OK)
        atomic_fetch_add (&self->heartbeats, 1);
    else
        zsys_warning ("workpool: worker %s: heartbeat failed: %s: %s", worker_id,
                      wp_strerror (rc), wp_backend_errmsg (backend));
}

//  The heartbeat actor: beats every interval until $TERM. It ignores
//  SIGINT (zpoller nonstop): the worker's loop decides when to stop, and an
//  item in hand must stay covered until it is completed.
static void
s_heartbeat_actor (zsock_t *pipe, void *args)
{
    wp_runner_t *self = args;
    wp_backend_t *backend = self->beat_backend;
    int64_t interval_ms = (int64_t) (self->registration->heartbeat_interval * 1000);
    if (interval_ms < 1)
        interval_ms = 1;
    zpoller_t *poller = zpoller_new (pipe, NULL);
    zpoller_set_nonstop (poller, true);
    zsock_signal (pipe, 0);
    int64_t next = zclock_mono () + interval_ms;
    while (true) {
        int64_t timeout = next - zclock_mono ();
        void *which = zpoller_wait (poller, timeout > 0 ? (int) timeout : 0);
        if (which == pipe) {
            char *command = zstr_recv (pipe);
            bool term = !command || streq (command, "$TERM");
            zstr_free (&command);
            if (term)
                break;
        }
        else
        if (zpoller_terminated (poller))
            break;
        else
        if (zclock_mono () >= next) {
            s_beat (self, backend);
            //  Beat on the interval's grid, but never in a burst to catch up
            next += interval_ms;
            if (next <= zclock_mono ())
                next = zclock_mono () + interval_ms;
        }
    }
    zpoller_destroy (&poller);
}

static void
s_fail_new (wp_status *status, char **message, wp_status rc, const char *text)
{
    if (status)
        *status = rc;
    if (message)
        *message = wp_strdup (text);
}

wp_runner_t *
wp_runner_new (wp_backend_t *backend, const wp_runner_options_t *opts, wp_status *status,
               char **message)
{
    wp_runner_options_t options = { 0 };
    if (opts)
        options = *opts;
    if (!backend) {
        s_fail_new (status, message, WP_INVALID_ARGUMENT, "a backend is required");
        return NULL;
    }
    if (options.heartbeat_interval != options.heartbeat_interval
    ||  options.heartbeat_interval < 0 || options.heartbeat_interval > WP_HEARTBEAT_MAX
    ||  options.wait < 0 || options.wait > WP_WAIT_MAX || options.wait != options.wait) {
        char text [128];
        snprintf (text, sizeof text, "heartbeat_interval must be 0 to %g and wait 0 to %g seconds",
                  WP_HEARTBEAT_MAX, WP_WAIT_MAX);
        s_fail_new (status, message, WP_INVALID_ARGUMENT, text);
        return NULL;
    }
    if (options.credit > WP_CREDIT_MAX) {
        char text [128];
        snprintf (text, sizeof text, "credit must be 0 (claims) or 1 to %d, not %u",
                  WP_CREDIT_MAX, options.credit);
        s_fail_new (status, message, WP_INVALID_ARGUMENT, text);
        return NULL;
    }
    wp_runner_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    self->backend = backend;
    self->wait = options.wait > 0 ? options.wait : S_DEFAULT_WAIT;
    self->lease = options.lease;
    self->credit = options.credit;

    char host [256] = "";
    if (options.host)
        snprintf (host, sizeof host, "%s", options.host);
    else
    if (gethostname (host, sizeof host - 1) != 0)
        snprintf (host, sizeof host, "localhost");
    wp_worker_t *worker = wp_worker_new ();
    if (options.worker_id)
        worker->worker_id = wp_strdup (options.worker_id);
    else {
        char uuid [WP_UUID_LEN + 1];
        wp_uuid_new (uuid);
        worker->worker_id = zsys_sprintf ("%.200s-%d-%.8s", host, (int) getpid (), uuid);
    }
    worker->host = wp_strdup (host);
    worker->pid = options.pid ? options.pid : getpid ();
    for (size_t i = 0; i < options.capability_count; i++)
        if (options.capabilities [i])
            wp_worker_add_capability (worker, options.capabilities [i]);
    if (options.pool_id)
        worker->pool_id = wp_strdup (options.pool_id);
    worker->started_at = wp_time_now ();
    worker->heartbeat_interval = options.heartbeat_interval > 0
                               ? options.heartbeat_interval : WP_DEFAULT_HEARTBEAT_S;
    self->registration = worker;

    wp_status rc = s_register (self, backend);
    if (rc != WP_OK) {
        s_fail_new (status, message, rc, wp_backend_errmsg (backend));
        wp_worker_destroy (&self->registration);
        free (self);
        return NULL;
    }
    char *text = NULL;
    self->beat_backend = wp_backend_dup (backend, &rc, &text);
    if (!self->beat_backend) {
        s_fail_new (status, message, rc, text ? text : "cannot open a second handle");
        free (text);
        wp_backend_update_status (backend, worker->worker_id, "terminated");
        wp_worker_destroy (&self->registration);
        free (self);
        return NULL;
    }
    //  A beat must not outlast its interval, or beats would fall behind
    if (wp_backend_timeout (self->beat_backend) > worker->heartbeat_interval)
        wp_backend_set_timeout (self->beat_backend, worker->heartbeat_interval);
    self->heartbeat = zactor_new (s_heartbeat_actor, self);
    return self;
}

void
wp_runner_destroy (wp_runner_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wp_runner_t *self = *self_p;
    zactor_destroy (&self->heartbeat);
    wp_backend_destroy (&self->beat_backend);
    const char *worker_id = self->registration->worker_id;
    //  Hand back anything a claim left with us (one cut short by a
    //  deadline, say) before saying goodbye
    if (self->pool) {
        wp_pool_t *pool = wp_backend_pool (self->backend, self->pool);
        if (pool && wp_pool_release_by_worker (pool, worker_id, NULL) != WP_OK)
            zsys_warning ("workpool: worker %s: release failed: %s", worker_id,
                          wp_backend_errmsg (self->backend));
        wp_pool_destroy (&pool);
    }
    if (wp_backend_update_status (self->backend, worker_id, "terminated") != WP_OK)
        zsys_warning ("workpool: worker %s: cannot mark terminated: %s", worker_id,
                      wp_backend_errmsg (self->backend));
    wp_worker_destroy (&self->registration);
    free (self->pool);
    free (self);
    *self_p = NULL;
}

const char *
wp_runner_worker_id (wp_runner_t *self)
{
    return self->registration->worker_id;
}

void
wp_runner_stop (wp_runner_t *self)
{
    atomic_store (&self->stop, 1);
}

uint64_t
wp_runner_heartbeats (wp_runner_t *self)
{
    return atomic_load (&self->heartbeats);
}

uint64_t
wp_runner_registrations (wp_runner_t *self)
{
    return atomic_load (&self->registrations);
}

static bool
s_stopping (wp_runner_t *self)
{
    return atomic_load (&self->stop) || zsys_interrupted;
}

//  True for failures that waiting and trying again cannot mend.
static bool
s_fatal (wp_status rc)
{
    return rc == WP_INVALID_ARGUMENT || rc == WP_UNIMPLEMENTED || rc == WP_PERMISSION_DENIED
        || rc == WP_UNAUTHENTICATED || rc == WP_DATA_LOSS;
}

//  Logs the acknowledgements the broker refused (FAILED_PRECONDITION: the
//  lease lapsed and the item went to someone else, whose result counts).
static void
s_log_failures (wp_runner_t *self, wp_subscription_t *sub)
{
    char *id, *text;
    wp_status rc;
    while (wp_subscription_failure (sub, &id, &rc, &text)) {
        zsys_warning ("workpool: worker %s: acknowledgement of %s failed: %s: %s",
                      self->registration->worker_id, id, wp_strerror (rc), text);
        free (id);
        free (text);
    }
}

//  wp_runner_run with a subscription (options.credit).
//  A subscription for the runner: its completes gathered in CompleteMany
//  requests of a quarter of the credit, so that acknowledgements cost the
//  broker one request per batch (image store: 12.4 -> 8.5 us of broker CPU
//  per item, drain 83k -> 106k items/s with credit 64, bench/RESULTS.md)
//  while three quarters of the credit keep streaming meanwhile.
static wp_subscription_t *
s_subscribe (wp_pool_t *pool, const char *worker_id, uint32_t credit, double lease,
             wp_status *rc, char **text)
{
    wp_subscription_t *sub = wp_subscription_new (pool, worker_id, credit, lease, rc, text);
    if (sub && credit >= 8)
        wp_subscription_set_batch (sub, credit / 4);
    return sub;
}

static wp_status
s_run_stream (wp_runner_t *self, wp_pool_t *pool, wp_runner_fn *fn, void *arg)
{
    const char *worker_id = self->registration->worker_id;
    wp_status rc;
    char *text = NULL;
    wp_subscription_t *sub = s_subscribe (pool, worker_id, self->credit, self->lease,
                                          &rc, &text);
    if (!sub) {
        zsys_warning ("workpool: worker %s: cannot subscribe: %s: %s", worker_id,
                      wp_strerror (rc), text ? text : "");
        free (text);
        return rc;
    }
    wp_status result = WP_OK;
    while (!s_stopping (self)) {
        wp_item_t *item = NULL;
        rc = wp_subscription_next (sub, self->wait, &item);
        s_log_failures (self, sub);
        if (rc == WP_CANCELLED && s_stopping (self))
            break;
        if (rc != WP_OK) {
            zsys_warning ("workpool: worker %s: subscription ended: %s: %s", worker_id,
                          wp_strerror (rc), wp_subscription_errmsg (sub));
            if (s_fatal (rc) || rc == WP_CANCELLED) {
                //  (CANCELLED: a newer subscription of this worker id took over)
                result = rc;
                break;
            }
            //  Declared lost (its items were returned) or the broker stopping:
            //  register again if need be, and subscribe again
            wp_subscription_destroy (&sub);
            if (rc == WP_FAILED_PRECONDITION || rc == WP_NOT_FOUND) {
                wp_status again = s_register (self, self->backend);
                if (again != WP_OK)
                    zsys_warning ("workpool: worker %s: registering again failed: %s: %s",
                                  worker_id, wp_strerror (again),
                                  wp_backend_errmsg (self->backend));
            }
            zclock_sleep (100);
            sub = s_subscribe (pool, worker_id, self->credit, self->lease, &rc, &text);
            if (!sub) {
                zsys_warning ("workpool: worker %s: cannot subscribe: %s: %s", worker_id,
                              wp_strerror (rc), text ? text : "");
                free (text);
                return rc;
            }
            continue;
        }
        if (!item)
            continue;
        uint8_t *output = NULL;
        size_t output_size = 0;
        char *error = NULL;
        if (fn (item, arg, &output, &output_size, &error) == 0)
            rc = wp_subscription_complete (sub, item->id, output, output_size);
        else
            rc = wp_subscription_fail (sub, item->id, error);
        if (rc != WP_OK)
            zsys_warning ("workpool: worker %s: acknowledgement of %s failed: %s: %s",
                          worker_id, item->id, wp_strerror (rc), wp_subscription_errmsg (sub));
        free (output);
        free (error);
        wp_item_destroy (&item);
    }
    //  Unsubscribe (the acknowledgements in flight first), then hand back
    //  what the stream brought that no callback saw
    wp_subscription_close (sub);
    s_log_failures (self, sub);
    wp_subscription_destroy (&sub);
    wp_pool_release_by_worker (pool, worker_id, NULL);
    return result;
}

wp_status
wp_runner_run (wp_runner_t *self, const char *pool_name, wp_runner_fn *fn, void *arg)
{
    const char *worker_id = self->registration->worker_id;
    wp_pool_t *pool = wp_backend_pool (self->backend, pool_name);
    if (!pool)
        return WP_INVALID_ARGUMENT;
    if (!fn) {
        wp_pool_destroy (&pool);
        return WP_INVALID_ARGUMENT;
    }
    free (self->pool);
    self->pool = wp_strdup (pool_name);
    if (self->credit) {
        wp_status rc = s_run_stream (self, pool, fn, arg);
        wp_pool_destroy (&pool);
        return rc;
    }
    wp_claim_options_t claim = { self->wait, self->lease };
    wp_item_t *item = NULL;
    wp_status result = WP_OK;

    while (!s_stopping (self)) {
        wp_status rc = WP_OK;
        if (!item) {
            rc = wp_pool_claim (pool, worker_id, &claim, &item);
            if (rc == WP_CANCELLED)
                break;
            if (rc != WP_OK) {
                zsys_warning ("workpool: worker %s: claim failed: %s: %s", worker_id,
                              wp_strerror (rc), wp_backend_errmsg (self->backend));
                if (s_fatal (rc)) {
                    result = rc;
                    break;
                }
                zclock_sleep (100);
            }
            continue;
        }
        uint8_t *output = NULL;
        size_t output_size = 0;
        char *error = NULL;
        int outcome = fn (item, arg, &output, &output_size, &error);
        wp_item_t *next = NULL;
        const char *what = "complete";
        if (outcome == 0 && !s_stopping (self))
            rc = wp_pool_complete_and_claim (pool, item->id, output, output_size, worker_id,
                                             &claim, &next);
        else
        if (outcome == 0)
            rc = wp_pool_complete (pool, item->id, output, output_size, worker_id);
        else {
            what = "fail";
            rc = wp_pool_fail (pool, item->id, error, worker_id, NULL);
        }
        if (rc != WP_OK)
            //  FAILED_PRECONDITION: the claim lapsed and the item went to
            //  someone else, whose result counts. Others: broker away.
            zsys_warning ("workpool: worker %s: %s %s failed: %s: %s", worker_id, what,
                          item->id, wp_strerror (rc), wp_backend_errmsg (self->backend));
        if (rc == WP_DEADLINE_EXCEEDED || rc == WP_UNAVAILABLE || rc == WP_CANCELLED)
            //  We cannot know whether it took effect; whatever we may still
            //  hold goes back to pending rather than wait for its lease.
            wp_pool_release_by_worker (pool, worker_id, NULL);
        free (output);
        free (error);
        wp_item_destroy (&item);
        item = next;
    }
    if (item) {
        //  Claimed as the stop came: someone else will do it
        wp_pool_release_by_worker (pool, worker_id, NULL);
        wp_item_destroy (&item);
    }
    wp_pool_destroy (&pool);
    return result;
}
