/*  wp_pipeline: pushes, completes and fails with a bounded window of
    requests in flight on one handle (workpool.h says how to use it). On a
    broker the requests are client/wp_inflight.c's: encoded once, written
    when a connection takes it, resent when its reply is late if safe (a
    push with ids, the ids made here make it so; a complete or fail with a
    worker_id) and given up at its own deadline; replies are matched by
    request id in any order. On an in-process backend each call runs at
    once and its completion is queued.  */
#include "workpool.h"
#include "wp_remote_store.h"
#include "wp_inflight.h"
#include "wp_store_impl.h"
#include "wp_proto.h"
#include "wp_limits.h"

#include <czmq.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

struct _wp_pipeline_t {
    wp_backend_t *backend;      //  borrowed
    wp_store_t *store;          //  the backend's remote store, or NULL: in-process
    wp_inflight_t *inflight;    //  its requests in flight (remote only)
    size_t window;              //  requests in flight at most
    size_t max_in_flight;       //  the most ever at once
    zlist_t *done;              //  wp_completion_t *, not yet collected
};

static wp_completion_t *
s_completion (void *tag, size_t count, wp_status status, const char *message)
{
    wp_completion_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    self->tag = tag;
    self->count = count;
    self->status = status;
    self->message = strdup (message ? message : "");
    if (!self->message)
        abort ();
    return self;
}

static void
s_queue (wp_pipeline_t *self, wp_completion_t *done)
{
    zlist_append (self->done, done);
}

//  What a request is, for its completion
enum { S_PUSH, S_COMPLETE, S_FAIL };

//  The engine's callback: every request ends in one completion.
static void
s_answer (void *owner, wp_inflight_req_t *req, wp_status status, const char *message,
          wp_reply_t *reply, bool final)
{
    wp_pipeline_t *self = owner;
    if (status != WP_OK || req->kind != S_PUSH || !reply) {
        wp_completion_t *done = s_completion (req->tag, req->count, status, message);
        if (status == WP_OK && req->kind == S_FAIL)
            done->state = req->state;
        s_queue (self, done);
        return;
    }
    if (reply->id_count != req->count) {
        char text [320];
        snprintf (text, sizeof text, "malformed reply to %s: not one id per entry",
                  wp_method_name (req->method));
        s_queue (self, s_completion (req->tag, req->count, WP_INTERNAL, text));
        return;
    }
    const bool *generated = req->extra;
    wp_completion_t *done = s_completion (req->tag, req->count, WP_OK, "");
    done->ids = calloc (req->count, sizeof *done->ids);
    done->duplicates = calloc (req->count, sizeof *done->duplicates);
    if (!done->ids || !done->duplicates)
        abort ();
    for (size_t i = 0; i < req->count; i++) {
        done->ids [i] = reply->ids [i];
        reply->ids [i] = NULL;
        //  A UUID we made can exist already only because a resend of ours
        //  arrived twice: for the caller it is a fresh item
        done->duplicates [i] = generated [i] ? false : reply->duplicates [i];
    }
    s_queue (self, done);
}

//  Sends what is due and reads replies, waiting for one if wait.
static void
s_pump (wp_pipeline_t *self, bool wait)
{
    int64_t until = wait ? INT64_MAX : 0;
    if (wp_inflight_pump (self->inflight, until, false) == WP_CANCELLED)
        //  A signal: what is in flight is given up (the caller is stopping)
        wp_inflight_end_all (self->inflight, WP_CANCELLED, "interrupted");
}

//  Waits for room in the window, then starts request; its completion
//  carries tag. NULL if it cannot be encoded (the completion says so).
static wp_inflight_req_t *
s_start (wp_pipeline_t *self, wp_request_t *request, bool resend, void *tag, size_t count)
{
    //  Room first: the deadline runs from when the request is queued
    while (wp_inflight_count (self->inflight) >= self->window)
        s_pump (self, true);
    wp_inflight_req_t *req = wp_inflight_start (self->inflight, request, resend, false,
                                                wp_backend_timeout (self->backend));
    if (!req) {
        s_queue (self, s_completion (tag, count, WP_INVALID_ARGUMENT,
                                     "cannot encode the request (a field is missing)"));
        return NULL;
    }
    req->tag = tag;
    req->count = count;
    if (wp_inflight_count (self->inflight) > self->max_in_flight)
        self->max_in_flight = wp_inflight_count (self->inflight);
    return req;
}

//  In-process: runs the push now and queues its completion.
static void
s_push_now (wp_pipeline_t *self, const char *pool_name, const wp_push_entry_t *entries,
            size_t count, void *tag)
{
    wp_pool_t *pool = pool_name ? wp_backend_pool (self->backend, pool_name) : NULL;
    if (!pool) {
        s_queue (self, s_completion (tag, count, WP_INVALID_ARGUMENT, pool_name
                                     ? wp_backend_errmsg (self->backend) : "pool is required"));
        return;
    }
    char **ids = calloc (count ? count : 1, sizeof *ids);
    bool *duplicates = calloc (count ? count : 1, sizeof *duplicates);
    if (!ids || !duplicates)
        abort ();
    wp_status rc = count == 1
                 ? wp_pool_push_entry (pool, entries, ids, duplicates)
                 : wp_pool_push_many (pool, entries, count, ids, duplicates);
    wp_completion_t *done = s_completion (tag, count, rc,
                                          rc == WP_OK ? "" : wp_backend_errmsg (self->backend));
    if (rc == WP_OK) {
        done->ids = ids;
        done->duplicates = duplicates;
    }
    else {
        free (ids);
        free (duplicates);
    }
    s_queue (self, done);
    wp_pool_destroy (&pool);
}

wp_pipeline_t *
wp_pipeline_new (wp_backend_t *backend, size_t window)
{
    wp_pipeline_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    self->backend = backend;
    self->store = strcmp (wp_backend_kind (backend), "remote") == 0
                ? wp_backend_store (backend) : NULL;
    self->window = window ? window : 64;
    self->done = zlist_new ();
    if (!self->done)
        abort ();
    if (self->store)
        self->inflight = wp_inflight_new (self->store, s_answer, self);
    return self;
}

void
wp_pipeline_destroy (wp_pipeline_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wp_pipeline_t *self = *self_p;
    wp_inflight_destroy (&self->inflight);
    wp_completion_t *done;
    while ((done = zlist_pop (self->done)))
        wp_completion_destroy (&done);
    zlist_destroy (&self->done);
    free (self);
    *self_p = NULL;
}

wp_status
wp_pipeline_push_many (wp_pipeline_t *self, const char *pool, const wp_push_entry_t *entries,
                       size_t count, void *tag)
{
    if (count < 1 || count > WP_BATCH_MAX || !entries) {
        char text [128];
        snprintf (text, sizeof text, "a push holds 1 to %d entries, not %zu",
                  WP_BATCH_MAX, count);
        s_queue (self, s_completion (tag, count, WP_INVALID_ARGUMENT, text));
        return WP_OK;
    }
    if (!self->store) {
        s_push_now (self, pool, entries, count, tag);
        return WP_OK;
    }
    //  The checks every backend makes (wp_store.c), so a bad entry gets the
    //  same answer here as in-process, before anything is sent
    wp_status check = wp_store_check_name (self->store, "pool", pool);
    for (size_t i = 0; i < count && check == WP_OK; i++)
        if ((check = wp_store_check_entry (self->store, &entries [i])) != WP_OK && count > 1) {
            char text [sizeof self->store->errmsg + 32];
            snprintf (text, sizeof text, "items[%zu]: %s", i, wp_store_errmsg (self->store));
            s_queue (self, s_completion (tag, count, check, text));
            return WP_OK;
        }
    if (check != WP_OK) {
        s_queue (self, s_completion (tag, count, check, wp_store_errmsg (self->store)));
        return WP_OK;
    }
    wp_push_entry_t *sent = malloc (count * sizeof *sent);
    char (*made) [WP_UUID_LEN + 1] = malloc (count * sizeof *made);
    bool *generated = calloc (count, sizeof *generated);
    if (!sent || !made || !generated)
        abort ();
    for (size_t i = 0; i < count; i++) {
        sent [i] = entries [i];
        if (!sent [i].id) {
            wp_uuid_new (made [i]);
            sent [i].id = made [i];
            generated [i] = true;
        }
    }
    wp_request_t request;
    wp_request_init (&request);
    request.method = count == 1 ? WP_METHOD_PUSH : WP_METHOD_PUSH_MANY;
    request.pool = (char *) pool;
    request.entries = sent;
    request.entry_count = count;
    //  Every entry has an id now: safe to resend
    wp_inflight_req_t *req = s_start (self, &request, true, tag, count);
    free (sent);
    free (made);
    if (req) {
        req->kind = S_PUSH;
        req->extra = generated;
    }
    else
        free (generated);
    s_pump (self, false);
    return WP_OK;
}

wp_status
wp_pipeline_push (wp_pipeline_t *self, const char *pool, const wp_push_entry_t *entry,
                  void *tag)
{
    return wp_pipeline_push_many (self, pool, entry, entry ? 1 : 0, tag);
}

wp_completion_t *
wp_pipeline_next (wp_pipeline_t *self)
{
    while (zlist_size (self->done) == 0 && self->inflight
       &&  wp_inflight_count (self->inflight) > 0)
        s_pump (self, true);
    return zlist_pop (self->done);
}

void
wp_pipeline_flush (wp_pipeline_t *self)
{
    while (self->inflight && wp_inflight_count (self->inflight) > 0)
        s_pump (self, true);
}

size_t
wp_pipeline_in_flight (wp_pipeline_t *self)
{
    return self->inflight ? wp_inflight_count (self->inflight) : 0;
}

size_t
wp_pipeline_max_in_flight (wp_pipeline_t *self)
{
    return self->max_in_flight;
}

void
wp_completion_destroy (wp_completion_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wp_completion_t *self = *self_p;
    if (self->ids)
        for (size_t i = 0; i < self->count; i++)
            free (self->ids [i]);
    free (self->ids);
    free (self->duplicates);
    free (self->message);
    free (self);
    *self_p = NULL;
}

//  Complete and Fail: checked as the synchronous calls are, then one
//  request each (in-process: run now).
static wp_status
s_ack (wp_pipeline_t *self, bool completing, const char *pool_name, const char *id,
       const void *result, size_t result_size, const char *error, double retry_after,
       const char *worker_id, void *tag)
{
    if (!self->store) {
        wp_pool_t *pool = pool_name ? wp_backend_pool (self->backend, pool_name) : NULL;
        if (!pool) {
            s_queue (self, s_completion (tag, 1, WP_INVALID_ARGUMENT, pool_name
                                         ? wp_backend_errmsg (self->backend)
                                         : "pool is required"));
            return WP_OK;
        }
        wp_item_state state = WP_ITEM_PENDING;
        wp_status rc = completing
                     ? wp_pool_complete (pool, id, result, result_size, worker_id)
                     : wp_pool_fail_after (pool, id, error, retry_after, worker_id, &state);
        wp_completion_t *done = s_completion (tag, 1, rc, rc == WP_OK
                                              ? "" : wp_backend_errmsg (self->backend));
        if (rc == WP_OK && !completing)
            done->state = state;
        s_queue (self, done);
        wp_pool_destroy (&pool);
        return WP_OK;
    }
    wp_store_t *store = self->store;
    store->errmsg [0] = 0;
    wp_status check = wp_store_check_name (store, "pool", pool_name);
    if (check == WP_OK)
        check = wp_store_check_name (store, "id", id);
    if (check == WP_OK && worker_id)
        check = wp_store_check_name (store, "worker_id", worker_id);
    //  (the words of wp_store.c's checks, as the synchronous calls give)
    if (check == WP_OK && !completing && !(retry_after >= 0 && retry_after <= WP_DELAY_MAX))
        check = wp_store_error (store, WP_INVALID_ARGUMENT,
                                "retry_after_seconds must be 0..%.0f", WP_DELAY_MAX);
    if (check != WP_OK) {
        s_queue (self, s_completion (tag, 1, check, wp_store_errmsg (store)));
        return WP_OK;
    }
    wp_request_t request;
    wp_request_init (&request);
    request.method = completing ? WP_METHOD_COMPLETE : WP_METHOD_FAIL;
    request.pool = (char *) pool_name;
    request.id = (char *) id;
    request.worker_id = (char *) worker_id;
    request.result = completing ? (uint8_t *) result : NULL;
    request.result_size = completing && result ? result_size : 0;
    request.error = completing ? NULL : (char *) error;
    request.retry_after = completing ? 0 : retry_after;
    //  With a worker_id the broker refuses a second copy on an item held by
    //  anyone else: safe to resend (and a refused resend is checked)
    wp_inflight_req_t *req = s_start (self, &request, worker_id != NULL, tag, 1);
    if (req) {
        req->kind = completing ? S_COMPLETE : S_FAIL;
        if (worker_id)
            wp_inflight_check_resend (req, pool_name, id, worker_id, completing,
                                      completing ? NULL : error);
    }
    s_pump (self, false);
    return WP_OK;
}

wp_status
wp_pipeline_complete (wp_pipeline_t *self, const char *pool, const char *id,
                      const void *result, size_t result_size, const char *worker_id, void *tag)
{
    return s_ack (self, true, pool, id, result, result_size, NULL, 0, worker_id, tag);
}

wp_status
wp_pipeline_fail (wp_pipeline_t *self, const char *pool, const char *id, const char *error,
                  const char *worker_id, void *tag)
{
    return s_ack (self, false, pool, id, NULL, 0, error, 0, worker_id, tag);
}

wp_status
wp_pipeline_fail_after (wp_pipeline_t *self, const char *pool, const char *id,
                        const char *error, double retry_after, const char *worker_id, void *tag)
{
    return s_ack (self, false, pool, id, NULL, 0, error, retry_after, worker_id, tag);
}
