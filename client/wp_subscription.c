/*  wp_subscription: WorkPool.Subscribe for libworkpool (workpool.h says how
    to use it). On a broker: one stream request on a connection of its own
    (wp_backend_dup), acknowledgements in flight beside it through
    client/wp_inflight.c, and a new Subscribe when the connection was lost
    (its monitor's DISCONNECTED events: the broker ends a stream whose
    connection closed, so the old one is gone). In-process ("memory",
    "sqlite:PATH"): claims of up to the credit left, waiting as a claim
    waits, with acknowledgements run at once, so that one program runs on
    every backend.  */
#include "workpool.h"
#include "wp_remote_store.h"
#include "wp_inflight.h"
#include "wp_store_impl.h"
#include "wp_limits.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

//  What a request of ours is
enum { S_SUBSCRIBE, S_ACK, S_UNSUBSCRIBE, S_BATCH, S_CHECK };

//  An acknowledgement that failed, for wp_subscription_failure
typedef struct {
    char *id;
    wp_status status;
    char *message;
} s_failure_t;

struct _wp_subscription_t {
    wp_backend_t *backend;      //  our own handle (wp_backend_dup), owned
    wp_pool_t *pool;            //  on it, owned
    char *worker_id;
    uint32_t credit;
    double lease;
    wp_store_t *store;          //  remote: backend's store; NULL: in-process
    wp_inflight_t *inflight;    //  remote: our requests
    wp_inflight_req_t *stream;  //  remote: the Subscribe in flight, or NULL
    uint64_t disconnects;       //  remote: the connection's count when it was sent
    bool ended;                 //  the stream gave its final reply
    wp_status end_status;       //  and its status
    char end_message [512];     //  and why
    bool closed;                //  wp_subscription_close ran
    bool unsubscribed;          //  the Unsubscribe was answered
    wp_status unsubscribe_status;
    zlist_t *items;             //  wp_item_t * brought and not yet returned by next
    zlist_t *failures;          //  s_failure_t *
    size_t outstanding;         //  in-process: items claimed and not acknowledged
    size_t batch_max;           //  remote: completes gathered per CompleteMany (0: off)
    wp_complete_entry_t *batch; //  the completes gathered (ids and results owned)
    size_t batch_count;
    wp_subscription_stats_t stats;
    char errmsg [512];
};

static wp_status
s_error (wp_subscription_t *self, wp_status status, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static wp_status
s_error (wp_subscription_t *self, wp_status status, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->errmsg, sizeof self->errmsg, format, args);
    va_end (args);
    return status;
}

static void
s_open_failure (wp_status *status, char **message, wp_status rc, const char *text)
{
    if (status)
        *status = rc;
    if (message)
        *message = wp_strdup (text);
}

//  An acknowledgement's answer: counted, and kept if it failed.
static void
s_ack_outcome (wp_subscription_t *self, const char *id, wp_status status, const char *message)
{
    if (status == WP_OK) {
        self->stats.acked++;
        return;
    }
    self->stats.ack_failures++;
    s_failure_t *failure = calloc (1, sizeof *failure);
    if (!failure)
        abort ();
    failure->id = wp_strdup (id ? id : "");
    failure->status = status;
    failure->message = wp_strdup (message ? message : "");
    zlist_append (self->failures, failure);
}

//  The engine's callback for every reply of ours.
static void
s_on_reply (void *owner, wp_inflight_req_t *req, wp_status status, const char *message,
            wp_reply_t *reply, bool final)
{
    wp_subscription_t *self = owner;
    if (req->kind == S_ACK) {
        self->stats.acks_in_flight--;
        s_ack_outcome (self, req->id, status, message);
        return;
    }
    if (req->kind == S_BATCH) {
        //  extra: the entries' ids, each ended by a 0
        const char *id = req->extra;
        for (size_t i = 0; i < req->count; i++, id += strlen (id) + 1) {
            wp_status entry = status;
            const char *why = message;
            if (status == WP_OK && reply && i < reply->entry_count) {
                entry = reply->entry_statuses [i];
                why = reply->entry_messages && reply->entry_messages [i]
                    ? reply->entry_messages [i] : "";
            }
            else
            if (status == WP_OK) {
                entry = WP_INTERNAL;
                why = "the broker answered fewer statuses than entries";
            }
            if (entry == WP_FAILED_PRECONDITION && req->sends > 1) {
                //  A resend refused: did the first copy complete it? A Get says
                wp_request_t get;
                wp_request_init (&get);
                get.method = WP_METHOD_GET;
                get.pool = (char *) wp_pool_name (self->pool);
                get.id = (char *) id;
                wp_inflight_req_t *check = wp_inflight_start (self->inflight, &get, true, false,
                                                              wp_backend_timeout (self->backend));
                if (check) {
                    check->kind = S_CHECK;
                    check->id = wp_strdup (id);
                    check->extra = wp_strdup (why);
                    continue;
                }
            }
            self->stats.acks_in_flight--;
            s_ack_outcome (self, id, entry, why);
        }
        return;
    }
    if (req->kind == S_CHECK) {
        self->stats.acks_in_flight--;
        const wp_item_t *item = status == WP_OK && reply ? reply->item : NULL;
        bool won = item && item->status == WP_ITEM_DONE
                && (!item->claimed_by || streq (item->claimed_by, self->worker_id));
        s_ack_outcome (self, req->id, won ? WP_OK : WP_FAILED_PRECONDITION,
                       won ? "" : (const char *) req->extra);
        return;
    }
    if (req->kind == S_UNSUBSCRIBE) {
        self->unsubscribed = true;
        self->unsubscribe_status = status;
        if (status != WP_OK)
            s_error (self, status, "%s", message);
        return;
    }
    //  The stream
    if (status == WP_OK && reply && reply->items) {
        for (size_t i = 0; i < reply->items->count; i++) {
            zlist_append (self->items, reply->items->items [i]);
            reply->items->items [i] = NULL;
        }
        self->stats.delivered += reply->items->count;
        reply->items->count = 0;
    }
    if (final) {
        self->stream = NULL;
        self->ended = true;
        self->end_status = status;
        snprintf (self->end_message, sizeof self->end_message, "%s",
                  status != WP_OK ? message : "the subscription was ended by Unsubscribe");
    }
}

//  Sends a new Subscribe (the first, or after the connection was lost).
static wp_status
s_subscribe (wp_subscription_t *self)
{
    wp_request_t request;
    wp_request_init (&request);
    request.method = WP_METHOD_SUBSCRIBE;
    request.pool = (char *) wp_pool_name (self->pool);
    request.worker_id = self->worker_id;
    request.credit = self->credit;
    request.lease = self->lease > 0 ? self->lease : 0;
    self->disconnects = wp_remote_store_disconnects (self->store);
    self->stream = wp_inflight_start (self->inflight, &request, false, true, 0);
    if (!self->stream)
        return s_error (self, WP_INTERNAL, "cannot encode the Subscribe");
    self->stream->kind = S_SUBSCRIBE;
    self->ended = false;
    return WP_OK;
}

//  After a pump: a stream sent on a connection that has closed since is
//  gone (the broker ended it); subscribe again. One never sent is kept.
static void
s_watch_connection (wp_subscription_t *self)
{
    if (!wp_inflight_monitor_news (self->inflight) || !self->stream || self->closed)
        return;
    uint64_t disconnects = wp_remote_store_disconnects (self->store);
    if (disconnects == self->disconnects)
        return;
    if (self->stream->sends == 0) {
        self->disconnects = disconnects;
        return;
    }
    wp_inflight_drop (self->inflight, self->stream);
    self->stream = NULL;
    self->stats.resubscribes++;
    s_subscribe (self);
}

//  Sends the completes gathered as one CompleteMany (resent when late: it
//  carries our worker_id; each refused entry of a resend is checked).
static void
s_send_batch (wp_subscription_t *self)
{
    if (self->batch_count == 0)
        return;
    wp_request_t request;
    wp_request_init (&request);
    request.method = WP_METHOD_COMPLETE_MANY;
    request.pool = (char *) wp_pool_name (self->pool);
    request.worker_id = self->worker_id;
    request.completions = self->batch;
    request.completion_count = self->batch_count;
    size_t ids_size = 0;
    for (size_t i = 0; i < self->batch_count; i++)
        ids_size += strlen (self->batch [i].id) + 1;
    char *ids = malloc (ids_size);
    if (!ids)
        abort ();
    char *at = ids;
    for (size_t i = 0; i < self->batch_count; i++) {
        size_t size = strlen (self->batch [i].id) + 1;
        memcpy (at, self->batch [i].id, size);
        at += size;
    }
    wp_inflight_req_t *req = wp_inflight_start (self->inflight, &request, true, false,
                                                wp_backend_timeout (self->backend));
    if (req) {
        req->kind = S_BATCH;
        req->count = self->batch_count;
        req->extra = ids;
    }
    else {
        const char *id = ids;
        for (size_t i = 0; i < self->batch_count; i++, id += strlen (id) + 1) {
            self->stats.acks_in_flight--;
            s_ack_outcome (self, id, WP_INTERNAL, "cannot encode the CompleteMany");
        }
        free (ids);
    }
    for (size_t i = 0; i < self->batch_count; i++) {
        free ((char *) self->batch [i].id);
        free ((uint8_t *) self->batch [i].result);
    }
    self->batch_count = 0;
}

wp_status
wp_subscription_set_batch (wp_subscription_t *self, size_t max)
{
    if (max > WP_BATCH_MAX)
        return s_error (self, WP_INVALID_ARGUMENT, "batch must be 0 to %d, not %zu",
                        WP_BATCH_MAX, max);
    if (!self->store)
        return WP_OK;           //  in-process: every acknowledgement runs at once
    s_send_batch (self);
    free (self->batch);
    self->batch = NULL;
    self->batch_max = max > 1 ? max : 0;
    if (self->batch_max) {
        self->batch = calloc (self->batch_max, sizeof *self->batch);
        if (!self->batch)
            abort ();
    }
    return WP_OK;
}

wp_subscription_t *
wp_subscription_new (wp_pool_t *pool, const char *worker_id, uint32_t credit, double lease,
                     wp_status *status, char **message)
{
    char text [256];
    if (!pool) {
        s_open_failure (status, message, WP_INVALID_ARGUMENT, "a pool is required");
        return NULL;
    }
    if (!worker_id || !*worker_id || strlen (worker_id) > WP_NAME_MAX) {
        snprintf (text, sizeof text, "worker_id must be 1 to %d bytes", WP_NAME_MAX);
        s_open_failure (status, message, WP_INVALID_ARGUMENT, text);
        return NULL;
    }
    if (credit < 1 || credit > WP_CREDIT_MAX) {
        snprintf (text, sizeof text, "credit must be 1 to %d, not %u", WP_CREDIT_MAX, credit);
        s_open_failure (status, message, WP_INVALID_ARGUMENT, text);
        return NULL;
    }
    if (lease != lease || lease > WP_LEASE_MAX) {
        snprintf (text, sizeof text, "lease must be at most %g seconds", WP_LEASE_MAX);
        s_open_failure (status, message, WP_INVALID_ARGUMENT, text);
        return NULL;
    }
    wp_backend_t *backend = wp_backend_dup (wp_pool_backend (pool), status, message);
    if (!backend)
        return NULL;
    wp_subscription_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    self->backend = backend;
    self->pool = wp_backend_pool (backend, wp_pool_name (pool));
    self->worker_id = wp_strdup (worker_id);
    self->credit = credit;
    self->lease = lease > 0 ? lease : 0;
    self->items = zlist_new ();
    self->failures = zlist_new ();
    if (!self->pool || !self->items || !self->failures)
        abort ();
    if (strcmp (wp_backend_kind (backend), "remote") == 0) {
        self->store = wp_backend_store (backend);
        self->inflight = wp_inflight_new (self->store, s_on_reply, self);
        if (s_subscribe (self) != WP_OK) {
            s_open_failure (status, message, WP_INTERNAL, self->errmsg);
            wp_subscription_destroy (&self);
            return NULL;
        }
    }
    return self;
}

const char *
wp_subscription_errmsg (wp_subscription_t *self)
{
    return self->errmsg;
}

//  In-process: claims up to the credit left, waiting up to timeout.
static wp_status
s_claim_local (wp_subscription_t *self, double timeout)
{
    size_t room = self->credit - self->outstanding;
    if (room == 0) {
        //  Holding the whole credit: nothing comes until an acknowledgement
        if (timeout > 0)
            zclock_sleep ((int) (timeout * 1000));
        return WP_OK;
    }
    if (room > WP_BATCH_MAX)
        room = WP_BATCH_MAX;
    wp_claim_options_t opts = { .wait = timeout, .lease = self->lease };
    wp_item_list_t *list = NULL;
    wp_status rc = wp_pool_claim_many (self->pool, self->worker_id, room, &opts, &list);
    if (rc != WP_OK)
        return s_error (self, rc, "%s", wp_backend_errmsg (self->backend));
    for (size_t i = 0; i < list->count; i++) {
        zlist_append (self->items, list->items [i]);
        list->items [i] = NULL;
    }
    self->outstanding += list->count;
    self->stats.delivered += list->count;
    list->count = 0;
    wp_item_list_destroy (&list);
    return WP_OK;
}

wp_status
wp_subscription_next (wp_subscription_t *self, double timeout, wp_item_t **item_out)
{
    self->errmsg [0] = 0;
    if (!item_out)
        return s_error (self, WP_INVALID_ARGUMENT, "next needs an out-parameter");
    if (timeout != timeout || timeout < 0 || timeout > WP_WAIT_MAX)
        return s_error (self, WP_INVALID_ARGUMENT, "timeout must be 0 to %g seconds",
                        WP_WAIT_MAX);
    if (self->closed)
        return s_error (self, WP_FAILED_PRECONDITION, "the subscription is closed");
    int64_t until = zclock_usecs () + (int64_t) (timeout * 1e6);
    while (true) {
        wp_item_t *item = zlist_pop (self->items);
        if (item) {
            self->stats.held++;
            *item_out = item;
            return WP_OK;
        }
        if (!self->store) {
            if (zsys_interrupted)
                return s_error (self, WP_CANCELLED, "interrupted");
            int64_t left = until - zclock_usecs ();
            wp_status rc = s_claim_local (self, left > 0 ? left / 1e6 : 0);
            if (rc != WP_OK)
                return rc;
            if (zlist_size (self->items) == 0) {
                *item_out = NULL;
                return WP_OK;
            }
            continue;
        }
        if (self->ended) {
            //  The final reply: its status, every time from now on
            return s_error (self, self->end_status == WP_OK ? WP_FAILED_PRECONDITION
                                                            : self->end_status,
                            "%s", self->end_message);
        }
        //  About to wait: the completes gathered go now (the broker holds
        //  their credit until they arrive)
        s_send_batch (self);
        int64_t now = zclock_usecs ();
        wp_status rc = wp_inflight_pump (self->inflight, now < until ? until : 0, true);
        if (rc == WP_CANCELLED)
            return s_error (self, WP_CANCELLED, "interrupted");
        s_watch_connection (self);
        if (zlist_size (self->items) == 0 && !self->ended && zclock_usecs () >= until) {
            *item_out = NULL;
            return WP_OK;
        }
        if (rc != WP_OK && !self->ended)
            return rc;
    }
}

//  An acknowledgement: in-process, run now; remote, in flight.
static wp_status
s_ack (wp_subscription_t *self, bool completing, const char *id, const void *result,
       size_t result_size, const char *error, double retry_after)
{
    self->errmsg [0] = 0;
    if (!id || !*id || strlen (id) > WP_NAME_MAX)
        return s_error (self, WP_INVALID_ARGUMENT, "id must be 1 to %d bytes", WP_NAME_MAX);
    if (!completing && !(retry_after >= 0 && retry_after <= WP_DELAY_MAX))
        return s_error (self, WP_INVALID_ARGUMENT, "retry_after_seconds must be 0..%.0f",
                        WP_DELAY_MAX);
    if (self->stats.held > 0)
        self->stats.held--;
    if (!self->store) {
        wp_status rc = completing
                     ? wp_pool_complete (self->pool, id, result, result_size, self->worker_id)
                     : wp_pool_fail_after (self->pool, id, error, retry_after, self->worker_id,
                                           NULL);
        //  As on a broker, the credit returns unless the item is still ours
        if ((rc == WP_OK || rc == WP_NOT_FOUND || rc == WP_FAILED_PRECONDITION)
        &&  self->outstanding > 0)
            self->outstanding--;
        s_ack_outcome (self, id, rc, wp_backend_errmsg (self->backend));
        return WP_OK;
    }
    if (completing && self->batch_max) {
        wp_complete_entry_t *entry = &self->batch [self->batch_count++];
        entry->id = wp_strdup (id);
        entry->result = NULL;
        entry->result_size = 0;
        if (result && result_size) {
            uint8_t *copy = malloc (result_size);
            if (!copy)
                abort ();
            memcpy (copy, result, result_size);
            entry->result = copy;
            entry->result_size = result_size;
        }
        self->stats.acks_in_flight++;
        if (self->batch_count == self->batch_max)
            s_send_batch (self);
        return WP_OK;
    }
    wp_request_t request;
    wp_request_init (&request);
    request.method = completing ? WP_METHOD_COMPLETE : WP_METHOD_FAIL;
    request.pool = (char *) wp_pool_name (self->pool);
    request.id = (char *) id;
    request.worker_id = self->worker_id;
    request.result = completing ? (uint8_t *) result : NULL;
    request.result_size = completing && result ? result_size : 0;
    request.error = completing ? NULL : (char *) error;
    request.retry_after = completing ? 0 : retry_after;
    //  With our worker_id it is safe to resend; a refused resend is checked
    wp_inflight_req_t *req = wp_inflight_start (self->inflight, &request, true, false,
                                                wp_backend_timeout (self->backend));
    if (!req)
        return s_error (self, WP_INTERNAL, "cannot encode the acknowledgement");
    req->kind = S_ACK;
    wp_inflight_check_resend (req, request.pool, id, self->worker_id, completing,
                              completing ? NULL : error);
    self->stats.acks_in_flight++;
    //  Collect what has come meanwhile, without waiting
    wp_inflight_pump (self->inflight, 0, false);
    return WP_OK;
}

wp_status
wp_subscription_complete (wp_subscription_t *self, const char *id, const void *result,
                          size_t result_size)
{
    return s_ack (self, true, id, result, result_size, NULL, 0);
}

wp_status
wp_subscription_fail (wp_subscription_t *self, const char *id, const char *error)
{
    return s_ack (self, false, id, NULL, 0, error, 0);
}

wp_status
wp_subscription_fail_after (wp_subscription_t *self, const char *id, const char *error,
                            double retry_after)
{
    return s_ack (self, false, id, NULL, 0, error, retry_after);
}

bool
wp_subscription_failure (wp_subscription_t *self, char **id_out, wp_status *status_out,
                         char **message_out)
{
    s_failure_t *failure = zlist_pop (self->failures);
    if (!failure)
        return false;
    if (status_out)
        *status_out = failure->status;
    if (id_out)
        *id_out = failure->id;
    else
        free (failure->id);
    if (message_out)
        *message_out = failure->message;
    else
        free (failure->message);
    free (failure);
    return true;
}

void
wp_subscription_flush (wp_subscription_t *self)
{
    if (self->store)
        s_send_batch (self);
    while (self->store && self->stats.acks_in_flight > 0) {
        if (wp_inflight_pump (self->inflight, INT64_MAX, true) != WP_OK)
            break;
        s_watch_connection (self);
    }
}

void
wp_subscription_stats (wp_subscription_t *self, wp_subscription_stats_t *stats_out)
{
    *stats_out = self->stats;
}

wp_status
wp_subscription_close (wp_subscription_t *self)
{
    if (self->closed)
        return WP_OK;
    self->errmsg [0] = 0;
    wp_subscription_flush (self);
    self->closed = true;
    if (!self->store || self->ended)
        return WP_OK;
    if (self->stream && self->stream->sends == 0) {
        //  Never reached the broker: nothing to end there
        wp_inflight_drop (self->inflight, self->stream);
        self->stream = NULL;
        self->ended = true;
        return WP_OK;
    }
    wp_request_t request;
    wp_request_init (&request);
    request.method = WP_METHOD_UNSUBSCRIBE;
    request.pool = (char *) wp_pool_name (self->pool);
    request.worker_id = self->worker_id;
    wp_inflight_req_t *req = wp_inflight_start (self->inflight, &request, true, false,
                                                wp_backend_timeout (self->backend));
    if (!req)
        return s_error (self, WP_INTERNAL, "cannot encode the Unsubscribe");
    req->kind = S_UNSUBSCRIBE;
    //  The final message comes before the Unsubscribe's reply (PROTOCOL.md)
    while (!self->unsubscribed)
        if (wp_inflight_pump (self->inflight, INT64_MAX, false) != WP_OK)
            return s_error (self, WP_CANCELLED, "interrupted while unsubscribing");
    if (self->stream) {
        //  Its stream was already gone (connection lost meanwhile)
        wp_inflight_drop (self->inflight, self->stream);
        self->stream = NULL;
    }
    self->ended = true;
    return self->unsubscribe_status;
}

void
wp_subscription_destroy (wp_subscription_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wp_subscription_t *self = *self_p;
    if (self->pool)
        wp_subscription_close (self);
    for (size_t i = 0; i < self->batch_count; i++) {
        free ((char *) self->batch [i].id);
        free ((uint8_t *) self->batch [i].result);
    }
    free (self->batch);
    wp_inflight_destroy (&self->inflight);
    wp_item_t *item;
    while ((item = zlist_pop (self->items)))
        wp_item_destroy (&item);
    zlist_destroy (&self->items);
    s_failure_t *failure;
    while ((failure = zlist_pop (self->failures))) {
        free (failure->id);
        free (failure->message);
        free (failure);
    }
    zlist_destroy (&self->failures);
    wp_pool_destroy (&self->pool);
    wp_backend_destroy (&self->backend);
    free (self->worker_id);
    free (self);
    *self_p = NULL;
}
