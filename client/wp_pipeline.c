/*  wp_pipeline: pushes with a bounded window of requests in flight on one
    handle (workpool.h says how to use it). On a broker each request is
    encoded once, written when a connection takes it, resent when its reply
    is late (a push with ids is safe to repeat: the ids made here make it
    so) and given up at its own deadline; replies are matched by request id
    in any order. On an in-process backend a push runs at once.  */
#include "workpool.h"
#include "wp_remote_store.h"
#include "wp_store_impl.h"
#include "wp_proto.h"
#include "wp_limits.h"

#include <czmq.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

//  One request in flight.
typedef struct {
    bool used;                  //  the slot holds a request
    uint64_t request_id;
    wp_method method;           //  Push or PushMany
    uint8_t *header;            //  the encoded request, resent as is
    size_t header_size;
    uint8_t *body;
    size_t body_size;
    size_t count;               //  entries
    bool *generated;            //  per entry: its id was made here
    void *tag;                  //  the caller's
    int64_t deadline;           //  zclock_usecs
    int64_t last_sent;          //  zclock_usecs of the latest send
    int sends;                  //  times written so far
} s_slot_t;

struct _wp_pipeline_t {
    wp_backend_t *backend;      //  borrowed
    wp_store_t *store;          //  the backend's remote store, or NULL: in-process
    size_t window;              //  slots
    s_slot_t *slots;
    size_t in_flight;           //  slots used
    size_t max_in_flight;       //  the most ever used at once
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

static void
s_slot_free (wp_pipeline_t *self, s_slot_t *slot)
{
    free (slot->header);
    free (slot->body);
    free (slot->generated);
    memset (slot, 0, sizeof *slot);
    self->in_flight--;
}

//  Ends slot's request with a failure.
static void
s_slot_fail (wp_pipeline_t *self, s_slot_t *slot, wp_status status, const char *message)
{
    s_queue (self, s_completion (slot->tag, slot->count, status, message));
    s_slot_free (self, slot);
}

//  Ends every request in flight with status (a failure of the connection).
static void
s_fail_all (wp_pipeline_t *self, wp_status status, const char *message)
{
    for (size_t i = 0; i < self->window; i++)
        if (self->slots [i].used)
            s_slot_fail (self, &self->slots [i], status, message);
}

//  Ends the request a reply answers (a reply to none is dropped).
static void
s_answer (wp_pipeline_t *self, wp_reply_t *reply, zmq_msg_t *body)
{
    s_slot_t *slot = NULL;
    for (size_t i = 0; i < self->window && !slot; i++)
        if (self->slots [i].used && self->slots [i].request_id == reply->request_id)
            slot = &self->slots [i];
    if (!slot)
        return;
    if (reply->status != WP_OK) {
        s_slot_fail (self, slot, reply->status, reply->message);
        return;
    }
    char errbuf [256];
    if (wp_reply_decode_body (reply, slot->method, zmq_msg_data (body), zmq_msg_size (body),
                              errbuf, sizeof errbuf) != WP_OK
    ||  reply->id_count != slot->count) {
        char text [320];
        snprintf (text, sizeof text, "malformed reply to %s: %s",
                  wp_method_name (slot->method),
                  reply->id_count != slot->count ? "not one id per entry" : errbuf);
        s_slot_fail (self, slot, WP_INTERNAL, text);
        return;
    }
    wp_completion_t *done = s_completion (slot->tag, slot->count, WP_OK, "");
    done->ids = calloc (slot->count, sizeof *done->ids);
    done->duplicates = calloc (slot->count, sizeof *done->duplicates);
    if (!done->ids || !done->duplicates)
        abort ();
    for (size_t i = 0; i < slot->count; i++) {
        done->ids [i] = reply->ids [i];
        reply->ids [i] = NULL;
        //  A UUID we made can exist already only because a resend of ours
        //  arrived twice: for the caller it is a fresh item
        done->duplicates [i] = slot->generated [i] ? false : reply->duplicates [i];
    }
    s_queue (self, done);
    s_slot_free (self, slot);
}

//  Sends what is due (first sends, resends of late safe requests), ends
//  requests past their deadline, then reads replies: waiting for the
//  first until the next deadline or resend time if wait, else not at all.
static void
s_pump (wp_pipeline_t *self, bool wait)
{
    int64_t now = zclock_usecs ();
    int64_t retry = (int64_t) (wp_remote_store_retry_interval (self->store) * 1e6);
    int64_t wake = INT64_MAX;
    bool blocked = false;           //  a send is due but no connection takes it
    char text [512];
    for (size_t i = 0; i < self->window; i++) {
        s_slot_t *slot = &self->slots [i];
        if (!slot->used)
            continue;
        if (now >= slot->deadline) {
            wp_status refused = slot->sends ? WP_OK : wp_remote_store_refusal (self->store);
            if (refused != WP_OK)
                s_slot_fail (self, slot, refused, wp_store_errmsg (self->store));
            else {
                snprintf (text, sizeof text, slot->sends
                          ? "no reply to %s from %s within the deadline"
                          : "no broker reachable at %s within the deadline%s",
                          slot->sends ? wp_method_name (slot->method)
                                      : wp_remote_store_endpoint (self->store),
                          slot->sends ? wp_remote_store_endpoint (self->store) : "");
                s_slot_fail (self, slot, slot->sends ? WP_DEADLINE_EXCEEDED : WP_UNAVAILABLE,
                             text);
            }
            continue;
        }
        if (slot->sends == 0 || now - slot->last_sent >= retry) {
            int rc = blocked ? 1 : wp_remote_store_send_encoded (self->store,
                                slot->header, slot->header_size, slot->body, slot->body_size);
            if (rc == -1) {
                snprintf (text, sizeof text, "cannot send %s to %s: %s",
                          wp_method_name (slot->method), wp_remote_store_endpoint (self->store),
                          zmq_strerror (errno));
                s_slot_fail (self, slot, WP_INTERNAL, text);
                continue;
            }
            if (rc == 0) {
                slot->sends++;
                slot->last_sent = now;
            }
            else
                blocked = true;
        }
        if (slot->deadline < wake)
            wake = slot->deadline;
        if (slot->sends && slot->last_sent + retry < wake)
            wake = slot->last_sent + retry;
    }
    if (blocked) {
        //  A refused handshake ends what was never sent now: no connection will come
        wp_status refused = wp_remote_store_refusal (self->store);
        if (refused != WP_OK) {
            const char *why = wp_store_errmsg (self->store);
            for (size_t i = 0; i < self->window; i++)
                if (self->slots [i].used && self->slots [i].sends == 0)
                    s_slot_fail (self, &self->slots [i], refused, why);
        }
    }
    if (self->in_flight == 0)
        return;
    int wait_ms = 0;
    if (wait) {
        int64_t ms = (wake - zclock_usecs () + 999) / 1000;
        wait_ms = ms < 1 ? 1 : ms > INT_MAX ? INT_MAX : (int) ms;
    }
    if (blocked && wait_ms > 0) {
        //  Wake for a reply, for room to send, or for a handshake's outcome
        zmq_pollitem_t items [2] = {
            { wp_remote_store_handle (self->store), 0, ZMQ_POLLIN | ZMQ_POLLOUT, 0 },
            { wp_remote_store_monitor_handle (self->store), 0, ZMQ_POLLIN, 0 }
        };
        zmq_poll (items, 2, wait_ms);
        wait_ms = 0;
    }
    while (self->in_flight > 0) {
        wp_reply_t reply;
        zmq_msg_t body;
        int rc = wp_remote_store_recv (self->store, &reply, &body, wait_ms);
        wait_ms = 0;
        if (rc == -1 && errno == EINTR && zsys_interrupted) {
            s_fail_all (self, WP_CANCELLED, "interrupted");
            return;
        }
        if (rc == -1 && errno != EAGAIN && errno != EINTR) {
            snprintf (text, sizeof text, "cannot receive from %s: %s",
                      wp_remote_store_endpoint (self->store), zmq_strerror (errno));
            s_fail_all (self, WP_INTERNAL, text);
            return;
        }
        if (rc == -1)
            return;
        if (rc == 1)
            continue;
        s_answer (self, &reply, &body);
        wp_reply_clear (&reply);
        zmq_msg_close (&body);
    }
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
    self->slots = calloc (self->window, sizeof *self->slots);
    self->done = zlist_new ();
    if (!self->slots || !self->done)
        abort ();
    return self;
}

void
wp_pipeline_destroy (wp_pipeline_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wp_pipeline_t *self = *self_p;
    for (size_t i = 0; i < self->window; i++)
        if (self->slots [i].used)
            s_slot_free (self, &self->slots [i]);
    wp_completion_t *done;
    while ((done = zlist_pop (self->done)))
        wp_completion_destroy (&done);
    zlist_destroy (&self->done);
    free (self->slots);
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
    //  Room first: the deadline runs from when the request is queued
    while (self->in_flight == self->window)
        s_pump (self, true);

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
    double timeout = wp_backend_timeout (self->backend);
    s_slot_t slot = {
        .used = true,
        .method = count == 1 ? WP_METHOD_PUSH : WP_METHOD_PUSH_MANY,
        .count = count,
        .generated = generated,
        .tag = tag,
        .deadline = zclock_usecs () + (int64_t) (timeout * 1e6)
    };
    wp_request_t request;
    wp_request_init (&request);
    request.method = slot.method;
    request.request_id = slot.request_id = wp_remote_store_next_request_id (self->store);
    request.timeout_ms = (uint32_t) (timeout * 1000 + 0.5);
    request.pool = (char *) pool;
    request.entries = sent;
    request.entry_count = count;
    int rc = wp_request_encode (&request, &slot.header, &slot.header_size,
                                &slot.body, &slot.body_size);
    free (sent);
    free (made);
    if (rc) {
        free (generated);
        s_queue (self, s_completion (tag, count, WP_INVALID_ARGUMENT,
                                     "cannot encode the push (pool or an entry's data missing)"));
        return WP_OK;
    }
    for (size_t i = 0; i < self->window; i++)
        if (!self->slots [i].used) {
            self->slots [i] = slot;
            break;
        }
    if (++self->in_flight > self->max_in_flight)
        self->max_in_flight = self->in_flight;
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
    while (zlist_size (self->done) == 0 && self->in_flight > 0)
        s_pump (self, true);
    return zlist_pop (self->done);
}

void
wp_pipeline_flush (wp_pipeline_t *self)
{
    while (self->in_flight > 0)
        s_pump (self, true);
}

size_t
wp_pipeline_in_flight (wp_pipeline_t *self)
{
    return self->in_flight;
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
