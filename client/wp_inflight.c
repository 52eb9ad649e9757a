/*  wp_inflight: requests in flight on one connection (see wp_inflight.h).
    Four lists hold every request by what it waits for: pending (not yet
    written), once (written, never resent: waits for its deadline),
    resend (written, resent when late: in order of its latest send) and
    stream (written, no deadline). A zhashx finds a reply's request.  */
#include "wp_inflight.h"
#include "wp_remote_store.h"
#include "wp_store_impl.h"

#include <czmq.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { L_NONE, L_PENDING, L_ONCE, L_RESEND, L_STREAM, L_COUNT };

typedef struct {
    wp_inflight_req_t *head, *tail;
} s_list_t;

struct _wp_inflight_t {
    wp_store_t *store;          //  borrowed, a remote store
    wp_inflight_fn *fn;
    void *owner;
    s_list_t lists [L_COUNT];
    zhashx_t *by_id;            //  request id (the key itself) -> request
    size_t count;               //  requests that are not streams
    double timeout;             //  of the latest start: the check's Get gets it
    bool monitor_news;          //  a wait woke for the monitor (wp_inflight_monitor_news)
    unsigned unwatched;         //  watching pumps that did not wait since the last news
    uint64_t ended;             //  requests ended so far (a pump that ended some
                                //  does not wait: its caller has news)
    int64_t blocked_since;      //  several endpoints: no connection took a write
                                //  since then (zclock_usecs; 0: one did)
};

//  ---------------------------------------------------------------------
//  Lists and the table

static void
s_unlink (wp_inflight_t *self, wp_inflight_req_t *req)
{
    if (req->list == L_NONE)
        return;
    s_list_t *list = &self->lists [req->list];
    if (req->prev)
        req->prev->next = req->next;
    else
        list->head = req->next;
    if (req->next)
        req->next->prev = req->prev;
    else
        list->tail = req->prev;
    req->prev = req->next = NULL;
    req->list = L_NONE;
}

static void
s_append (wp_inflight_t *self, wp_inflight_req_t *req, int which)
{
    s_unlink (self, req);
    s_list_t *list = &self->lists [which];
    req->prev = list->tail;
    req->next = NULL;
    if (list->tail)
        list->tail->next = req;
    else
        list->head = req;
    list->tail = req;
    req->list = which;
}

static size_t
s_hash (const void *key)
{
    return (size_t) ((uintptr_t) key * 0x9E3779B97F4A7C15ull >> 7);
}

static int
s_compare (const void *a, const void *b)
{
    return (uintptr_t) a < (uintptr_t) b ? -1 : (uintptr_t) a > (uintptr_t) b;
}

static void
s_req_free (wp_inflight_t *self, wp_inflight_req_t *req)
{
    s_unlink (self, req);
    zhashx_delete (self->by_id, (void *) (uintptr_t) req->request_id);
    if (!req->stream)
        self->count--;
    free (req->header);
    free (req->body);
    free (req->extra);
    free (req->id);
    free (req->pool);
    free (req->worker_id);
    free (req->error);
    free (req->refused_message);
    free (req);
}

//  Ends req with a failure: its final callback, then it is freed.
static void
s_end (wp_inflight_t *self, wp_inflight_req_t *req, wp_status status, const char *message)
{
    s_unlink (self, req);
    self->ended++;
    self->fn (self->owner, req, status, message, NULL, true);
    s_req_free (self, req);
}

static int64_t
s_retry_us (wp_inflight_t *self)
{
    return (int64_t) (wp_remote_store_retry_interval (self->store) * 1e6);
}

//  ---------------------------------------------------------------------
//  The engine

wp_inflight_t *
wp_inflight_new (wp_store_t *store, wp_inflight_fn *fn, void *owner)
{
    wp_inflight_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    self->store = store;
    self->fn = fn;
    self->owner = owner;
    self->by_id = zhashx_new ();
    if (!self->by_id)
        abort ();
    zhashx_set_key_hasher (self->by_id, s_hash);
    zhashx_set_key_comparator (self->by_id, s_compare);
    zhashx_set_key_duplicator (self->by_id, NULL);
    zhashx_set_key_destructor (self->by_id, NULL);
    self->timeout = wp_remote_store_timeout (store);
    return self;
}

void
wp_inflight_destroy (wp_inflight_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wp_inflight_t *self = *self_p;
    for (int which = L_PENDING; which < L_COUNT; which++)
        while (self->lists [which].head)
            s_req_free (self, self->lists [which].head);
    zhashx_destroy (&self->by_id);
    free (self);
    *self_p = NULL;
}

bool
wp_inflight_monitor_news (wp_inflight_t *self)
{
    bool news = self->monitor_news;
    self->monitor_news = false;
    return news;
}

size_t
wp_inflight_count (wp_inflight_t *self)
{
    return self->count;
}

//  Writes req if a connection takes it: 0 written, 1 not now, -1 failed.
static int
s_write (wp_inflight_t *self, wp_inflight_req_t *req, int64_t now)
{
    int rc = wp_remote_store_send_encoded (self->store, req->header, req->header_size,
                                           req->body, req->body_size);
    if (rc == 0) {
        req->sends++;
        req->last_sent = now;
        req->moves_at_send = wp_remote_store_moves (self->store);
        self->blocked_since = 0;
        s_append (self, req, req->stream ? L_STREAM : req->resend ? L_RESEND : L_ONCE);
    }
    return rc;
}

//  Encodes request with a new id into req and files it as pending.
static int
s_encode (wp_inflight_t *self, wp_inflight_req_t *req, wp_request_t *request)
{
    request->request_id = wp_remote_store_next_request_id (self->store);
    uint8_t *header, *body;
    size_t header_size, body_size;
    if (wp_request_encode (request, &header, &header_size, &body, &body_size))
        return -1;
    free (req->header);
    free (req->body);
    req->header = header;
    req->header_size = header_size;
    req->body = body;
    req->body_size = body_size;
    if (req->request_id)
        zhashx_delete (self->by_id, (void *) (uintptr_t) req->request_id);
    req->request_id = request->request_id;
    zhashx_insert (self->by_id, (void *) (uintptr_t) req->request_id, req);
    req->sends = 0;
    s_append (self, req, L_PENDING);
    return 0;
}

wp_inflight_req_t *
wp_inflight_start (wp_inflight_t *self, wp_request_t *request, bool resend, bool stream,
                   double timeout)
{
    wp_inflight_req_t *req = calloc (1, sizeof *req);
    if (!req)
        abort ();
    req->method = request->method;
    req->resend = resend && !stream;
    req->stream = stream;
    int64_t now = zclock_usecs ();
    if (stream) {
        req->deadline = INT64_MAX;
        request->timeout_ms = 0;
    }
    else {
        req->deadline = now + (int64_t) (timeout * 1e6);
        double ms = timeout * 1000 + 0.5;
        request->timeout_ms = ms < 1 ? 1 : ms > UINT32_MAX ? UINT32_MAX : (uint32_t) ms;
        self->timeout = timeout;
    }
    if (s_encode (self, req, request)) {
        s_unlink (self, req);
        free (req->header);
        free (req->body);
        free (req);
        return NULL;
    }
    if (!stream)
        self->count++;
    //  First in line goes out now: the caller may not pump for a while
    if (self->lists [L_PENDING].head == req)
        s_write (self, req, now);
    return req;
}

static char *
s_dup (const char *text)
{
    return text ? wp_strdup (text) : NULL;
}

void
wp_inflight_check_resend (wp_inflight_req_t *req, const char *pool, const char *id,
                          const char *worker_id, bool completing, const char *error)
{
    req->pool = s_dup (pool);
    free (req->id);
    req->id = s_dup (id);
    req->worker_id = s_dup (worker_id);
    req->completing = completing;
    req->error = s_dup (error);
}

void
wp_inflight_drop (wp_inflight_t *self, wp_inflight_req_t *req)
{
    s_req_free (self, req);
}

//  A resend of req was refused with FAILED_PRECONDITION: asks with a Get
//  whether the first copy took effect. Returns false if it cannot ask.
static bool
s_start_check (wp_inflight_t *self, wp_inflight_req_t *req, wp_reply_t *reply)
{
    wp_request_t get;
    wp_request_init (&get);
    get.method = WP_METHOD_GET;
    get.pool = req->pool;
    get.id = req->id;
    double ms = self->timeout * 1000 + 0.5;
    get.timeout_ms = ms < 1 ? 1 : ms > UINT32_MAX ? UINT32_MAX : (uint32_t) ms;
    req->refused = reply->status;
    req->refused_message = wp_strdup (reply->message ? reply->message : "");
    req->checking = true;
    req->resend = true;             //  a Get is safe to repeat
    req->deadline = zclock_usecs () + (int64_t) (self->timeout * 1e6);
    return s_encode (self, req, &get) == 0;
}

//  The Get of a check answered: the first copy won if the item is in the
//  state it would have left it in and nobody else holds it (as
//  wp_remote_store.c's s_first_copy_won decides).
static bool
s_first_copy_won (wp_inflight_req_t *req, const wp_item_t *item)
{
    if (!item)
        return false;
    bool not_others = !item->claimed_by || streq (item->claimed_by, req->worker_id);
    if (req->completing)
        return item->status == WP_ITEM_DONE && not_others;
    return (item->status == WP_ITEM_PENDING || item->status == WP_ITEM_SCHEDULED
            || item->status == WP_ITEM_POISONED)
        && not_others
        && ((!req->error && !item->error)
            || (req->error && item->error && streq (req->error, item->error)));
}

//  One reply, matched to its request.
static void
s_answer (wp_inflight_t *self, wp_reply_t *reply, zmq_msg_t *body)
{
    wp_inflight_req_t *req = zhashx_lookup (self->by_id, (void *) (uintptr_t) reply->request_id);
    if (!req)
        return;                 //  a late answer to a request already ended
    char errbuf [256];
    wp_method method = req->checking ? WP_METHOD_GET : req->method;
    if (req->checking) {
        bool won = reply->status == WP_OK
                && wp_reply_decode_body (reply, WP_METHOD_GET, zmq_msg_data (body),
                                         zmq_msg_size (body), errbuf, sizeof errbuf) == WP_OK
                && s_first_copy_won (req, reply->item);
        if (won) {
            req->state = reply->item->status;
            s_unlink (self, req);
            self->fn (self->owner, req, WP_OK, "", NULL, true);
            s_req_free (self, req);
        }
        else
            s_end (self, req, req->refused, req->refused_message);
        return;
    }
    if (reply->status != WP_OK) {
        if (reply->status == WP_FAILED_PRECONDITION && req->sends > 1 && req->pool
        &&  req->worker_id && s_start_check (self, req, reply))
            return;
        s_end (self, req, reply->status, reply->message ? reply->message : "");
        return;
    }
    if (wp_reply_decode_body (reply, method, zmq_msg_data (body), zmq_msg_size (body),
                              errbuf, sizeof errbuf) != WP_OK) {
        char text [320];
        snprintf (text, sizeof text, "malformed reply to %s: %s", wp_method_name (method),
                  errbuf);
        s_end (self, req, WP_INTERNAL, text);
        return;
    }
    bool final = !req->stream || reply->end;
    if (method == WP_METHOD_FAIL)
        req->state = reply->item_state;
    if (final)
        s_unlink (self, req);
    self->fn (self->owner, req, WP_OK, "", reply, final);
    if (final)
        s_req_free (self, req);
}

//  Ends req, past its deadline.
static void
s_expire (wp_inflight_t *self, wp_inflight_req_t *req)
{
    char text [512];
    const char *endpoint = wp_remote_store_endpoint (self->store);
    if (req->sends == 0) {
        wp_status refused = wp_remote_store_refusal (self->store);
        if (refused != WP_OK) {
            s_end (self, req, refused, wp_store_errmsg (self->store));
            return;
        }
        snprintf (text, sizeof text, "no broker reachable at %s within the deadline", endpoint);
        s_end (self, req, WP_UNAVAILABLE, text);
        return;
    }
    snprintf (text, sizeof text, "no reply to %s from %s within the deadline",
              wp_method_name (req->checking ? WP_METHOD_GET : req->method), endpoint);
    s_end (self, req, WP_DEADLINE_EXCEEDED, text);
}

void
wp_inflight_end_all (wp_inflight_t *self, wp_status status, const char *message)
{
    for (int which = L_PENDING; which < L_COUNT; which++)
        while (self->lists [which].head)
            s_end (self, self->lists [which].head, status, message);
}

wp_status
wp_inflight_pump (wp_inflight_t *self, int64_t until, bool watch)
{
    int64_t now = zclock_usecs ();
    int64_t retry = s_retry_us (self);
    bool blocked = false;
    char text [512];
    uint64_t ended = self->ended;

    //  Several endpoints: the one in use stopped answering (a resend is due
    //  for what was written to it, or nothing could be written for the
    //  retry interval): move, and make every safe request due now
    if (wp_remote_store_endpoint_count (self->store) > 1) {
        wp_inflight_req_t *head = self->lists [L_RESEND].head;
        bool late = head && head->moves_at_send == wp_remote_store_moves (self->store)
                 && now - head->last_sent >= retry;
        bool unreachable = self->blocked_since && now - self->blocked_since >= retry;
        if ((late || unreachable) && wp_remote_store_move (self->store)) {
            self->blocked_since = 0;
            self->monitor_news = true;
            for (wp_inflight_req_t *req = head; req; req = req->next)
                req->last_sent = now - retry;
        }
    }
    //  Written once: only the deadline (in send order)
    while (self->lists [L_ONCE].head && self->lists [L_ONCE].head->deadline <= now)
        s_expire (self, self->lists [L_ONCE].head);
    //  Resent when late: the head is the one sent longest ago
    while (!blocked && self->lists [L_RESEND].head) {
        wp_inflight_req_t *req = self->lists [L_RESEND].head;
        if (req->deadline <= now) {
            s_expire (self, req);
            continue;
        }
        if (now - req->last_sent < retry)
            break;
        int rc = s_write (self, req, now);      //  to the tail if written
        if (rc == 1)
            blocked = true;
        else
        if (rc == -1) {
            snprintf (text, sizeof text, "cannot send to %s: %s",
                      wp_remote_store_endpoint (self->store), zmq_strerror (errno));
            wp_inflight_end_all (self, WP_INTERNAL, text);
            return WP_INTERNAL;
        }
    }
    //  Never written yet, in the order they came
    while (self->lists [L_PENDING].head) {
        wp_inflight_req_t *req = self->lists [L_PENDING].head;
        if (req->deadline <= now) {
            s_expire (self, req);
            continue;
        }
        if (blocked)
            break;
        int rc = s_write (self, req, now);
        if (rc == 1)
            blocked = true;
        else
        if (rc == -1) {
            snprintf (text, sizeof text, "cannot send to %s: %s",
                      wp_remote_store_endpoint (self->store), zmq_strerror (errno));
            wp_inflight_end_all (self, WP_INTERNAL, text);
            return WP_INTERNAL;
        }
    }
    if (blocked && !self->blocked_since && wp_remote_store_endpoint_count (self->store) > 1)
        self->blocked_since = now;
    if (blocked) {
        //  A refused handshake ends what was never written: no connection will come
        wp_status refused = wp_remote_store_refusal (self->store);
        if (refused != WP_OK) {
            snprintf (text, sizeof text, "%s", wp_store_errmsg (self->store));
            while (self->lists [L_PENDING].head)
                s_end (self, self->lists [L_PENDING].head, refused, text);
        }
    }
    //  Wake at the first of: the caller's time, a deadline, a resend
    int64_t wake = until;
    if (self->lists [L_ONCE].head && self->lists [L_ONCE].head->deadline < wake)
        wake = self->lists [L_ONCE].head->deadline;
    if (self->lists [L_PENDING].head && self->lists [L_PENDING].head->deadline < wake)
        wake = self->lists [L_PENDING].head->deadline;
    if (self->lists [L_RESEND].head) {
        wp_inflight_req_t *req = self->lists [L_RESEND].head;
        int64_t due = req->last_sent + retry < req->deadline ? req->last_sent + retry
                                                             : req->deadline;
        if (due < wake)
            wake = due;
    }
    if (self->blocked_since && self->blocked_since + retry < wake)
        wake = self->blocked_since + retry;
    now = zclock_usecs ();
    int wait_ms = 0;
    if (self->ended != ended)
        wake = now;             //  the caller has completions to see
    if (wake > now) {
        int64_t ms = (wake - now + 999) / 1000;
        wait_ms = ms > INT_MAX ? INT_MAX : (int) ms;
    }
    //  A caller that never waits still hears of the monitor now and then
    if (watch && wait_ms == 0 && ++self->unwatched >= 256) {
        self->unwatched = 0;
        self->monitor_news = true;
    }
    if ((blocked || watch) && wait_ms > 0) {
        //  Wake for a reply, for room to write, or for the monitor's news
        zmq_pollitem_t items [2] = {
            //  Asked each time: a move to another endpoint makes new sockets
            { wp_remote_store_handle (self->store), 0,
              ZMQ_POLLIN | (blocked ? ZMQ_POLLOUT : 0), 0 },
            { wp_remote_store_monitor_handle (self->store), 0, ZMQ_POLLIN, 0 }
        };
        int rc = zmq_poll (items, 2, wait_ms);
        if (rc == -1 && errno == EINTR && zsys_interrupted)
            return WP_CANCELLED;
        if (rc > 0 && (items [1].revents & ZMQ_POLLIN))
            self->monitor_news = true;
        wait_ms = 0;
    }
    while (true) {
        wp_reply_t reply;
        zmq_msg_t body;
        int rc = wp_remote_store_recv (self->store, &reply, &body, wait_ms);
        wait_ms = 0;
        if (rc == -1 && errno == EINTR && zsys_interrupted)
            return WP_CANCELLED;
        if (rc == -1 && errno != EAGAIN && errno != EINTR) {
            snprintf (text, sizeof text, "cannot receive from %s: %s",
                      wp_remote_store_endpoint (self->store), zmq_strerror (errno));
            wp_inflight_end_all (self, WP_INTERNAL, text);
            return WP_INTERNAL;
        }
        if (rc == -1)
            break;
        if (rc == 1)
            continue;
        s_answer (self, &reply, &body);
        wp_reply_clear (&reply);
        zmq_msg_close (&body);
    }
    return WP_OK;
}
