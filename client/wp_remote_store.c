/*  wp_remote_store: the store interface spoken to a broker over a DEALER
    socket. One call = one request, matched to its reply by request id,
    sent only on a live connection, resent only when that cannot do harm,
    and never waited on past its deadline (see wp_remote_store.h).  */
#include "wp_remote_store.h"
#include "wp_store_impl.h"
#include "wp_proto.h"

#include <czmq.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define S_DEFAULT_TIMEOUT   30.0
#define S_DEFAULT_RETRY     2.0

typedef struct {
    wp_store_t base;            //  first: a wp_store_t * is a s_remote_t *
    char *endpoint;             //  the one in use: endpoints [current]
    char **endpoints;           //  the brokers listed (one or more), in order
    size_t endpoint_count;
    size_t current;
    uint64_t moves;             //  moves to the next endpoint so far
    zsock_t *sock;              //  DEALER, connected to endpoint
    uint64_t next_request_id;
    double timeout;             //  seconds, the calls' deadline in force
    double timeout_default;     //  the one given at _new
    double retry;               //  seconds before a safe request is resent
    bool curve;                 //  CURVE keys were given
    zsock_t *monitor;           //  PAIR: the DEALER's handshake events
    wp_status refused;          //  the latest handshake was refused for good: the
                                //  status to report (0: it was not)
    char refused_text [256];    //  and why
    bool handshake_failed;      //  a handshake failed since the latest success, for
                                //  a reason that may pass (or a wrong server key)
    bool reconnect;             //  libzmq gives up an endpoint whose handshake
                                //  was refused: connect again before the next call
    uint64_t disconnects;       //  connections closed so far (monitor events read)
    void *handle;               //  the DEALER's and the monitor's libzmq sockets,
    void *monitor_handle;       //  resolved once (zsock_resolve costs on every call)
    int rcvtimeo;               //  the DEALER's ZMQ_RCVTIMEO as last set (-2: unknown)
} s_remote_t;

static const wp_store_ops_t s_ops;
static wp_status s_push_many (wp_store_t *base, const char *pool,
                              const wp_push_entry_t *entries, size_t count,
                              char **ids_out, bool *duplicates);
static wp_status s_complete_many (wp_store_t *base, const char *pool,
                                  const wp_complete_entry_t *entries, size_t count,
                                  const char *worker_id, wp_status *statuses_out,
                                  char **messages_out);

//  How a call may be repeated when its reply is late.
typedef enum {
    S_ONCE,                     //  never sent twice (claims; complete/fail without worker)
    S_RESEND                    //  harmless to send again
} s_resend;

//  ---------------------------------------------------------------------
//  The round trip

//  Seconds from now until deadline (microseconds, monotonic), >= 0.
static double
s_left (int64_t deadline)
{
    int64_t left = deadline - zclock_usecs ();
    return left > 0 ? left / 1e6 : 0;
}

//  A DEALER with the options every connection to a broker has.
static zsock_t *
s_dealer_new (void)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    if (!sock)
        abort ();
    zsock_set_linger (sock, 0);
    zsock_set_immediate (sock, 1);
    zsock_set_reconnect_ivl (sock, 100);
    zsock_set_reconnect_ivl_max (sock, 1000);
    //  ZMTP heartbeats drop a connection whose broker vanished without a
    //  word (host down, cable out), so IMMEDIATE stops writing to it and
    //  safe requests go out again on the next connection
    zsock_set_heartbeat_ivl (sock, 1000);
    zsock_set_heartbeat_timeout (sock, 5000);
    return sock;
}

//  The handshake's outcome, which the DEALER itself never tells: a
//  refused key would otherwise look like a broker that is not there.
//  The PAIR's unlimited receive queue keeps libzmq from ever waiting
//  on it; it holds a few events a reconnect, read at each blocked call.
static zsock_t *
s_monitor_attach (zsock_t *sock)
{
    zsock_t *monitor = zsock_new (ZMQ_PAIR);
    if (!monitor)
        abort ();
    //  A name never used before in this process: a closed monitor's inproc
    //  name may not be free again at once
    static uint64_t monitors = 0;
    char monitor_endpoint [64];
    snprintf (monitor_endpoint, sizeof monitor_endpoint, "inproc://wp-remote-monitor-%" PRIu64,
              __atomic_add_fetch (&monitors, 1, __ATOMIC_RELAXED));
    zsock_set_rcvhwm (monitor, 0);
    if (zmq_socket_monitor (zsock_resolve (sock), monitor_endpoint,
                            ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
                            | ZMQ_EVENT_DISCONNECTED
                            | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                            | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
    ||  zsock_connect (monitor, "%s", monitor_endpoint))
        abort ();
    return monitor;
}

//  Reads every handshake event the monitor holds, so that self says how
//  the latest handshake ended. The events come in order: a success clears
//  what failures before it said.
static void
s_monitor_read (s_remote_t *self)
{
    void *handle = self->monitor_handle;
    while (true) {
        zmq_msg_t frame;
        zmq_msg_init (&frame);
        if (zmq_msg_recv (&frame, handle, ZMQ_DONTWAIT) == -1) {
            zmq_msg_close (&frame);
            return;
        }
        uint16_t event = 0;
        uint32_t value = 0;
        if (zmq_msg_size (&frame) >= 6) {
            memcpy (&event, zmq_msg_data (&frame), 2);
            memcpy (&value, (uint8_t *) zmq_msg_data (&frame) + 2, 4);
        }
        //  The second frame is the endpoint, ours
        while (zmq_msg_more (&frame)) {
            zmq_msg_close (&frame);
            zmq_msg_init (&frame);
            if (zmq_msg_recv (&frame, handle, 0) == -1)
                break;
        }
        zmq_msg_close (&frame);
        if (event == ZMQ_EVENT_DISCONNECTED)
            //  A stream on that connection is gone (wp_subscription.c)
            self->disconnects++;
        else
        if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            self->refused = WP_OK;
            self->handshake_failed = false;
        }
        else
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
            //  The broker's ZAP handler said no (PROTOCOL.md 9.2)
            self->refused = WP_UNAUTHENTICATED;
            snprintf (self->refused_text, sizeof self->refused_text,
                      "authentication failed: the broker refused this client's key "
                      "(ZAP status %u from %s: is its public certificate in the broker's "
                      "key directory?)", value, self->endpoint);
        }
        else
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
        &&  value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH) {
            self->refused = self->curve ? WP_UNAVAILABLE : WP_UNAUTHENTICATED;
            snprintf (self->refused_text, sizeof self->refused_text, self->curve
                      ? "authentication failed: the broker at %s does not speak CURVE "
                        "(started without --curve-secret?)"
                      : "authentication failed: the broker at %s requires CURVE and this "
                        "client offered no key (give the broker's public certificate and "
                        "this client's secret one: server_key and cert)", self->endpoint);
        }
        else
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
        ||  event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
            //  A CURVE broker drops a HELLO it cannot decrypt without a word:
            //  this is all a wrong server key shows (and a broker going away)
            self->handshake_failed = true;
    }
}

//  If the latest handshake was refused for good, sets the store's error to
//  why and returns its status (the next call connects again); else WP_OK.
static wp_status
s_refusal (s_remote_t *self)
{
    s_monitor_read (self);
    if (self->refused == WP_OK)
        return WP_OK;
    self->reconnect = true;
    return wp_store_error (&self->base, self->refused, "%s", self->refused_text);
}

//  Connects again after a refused handshake, which libzmq does not retry,
//  so that a key added to the broker since (or a broker restarted with
//  CURVE) is tried on this call.
static void
s_reconnect (s_remote_t *self)
{
    s_monitor_read (self);
    self->refused = WP_OK;
    self->handshake_failed = false;
    self->reconnect = false;
    zsock_disconnect (self->sock, "%s", self->endpoint);
    zsock_connect (self->sock, "%s", self->endpoint);
}

//  With several endpoints: disconnects from the one in use and connects to
//  the next (round robin). What was in flight on the old connection will
//  get no reply. Counts as a lost connection (a stream sent before is gone)
//  and as a move. Returns false (nothing done) with one endpoint.
static void
s_switch (s_remote_t *self, size_t next)
{
    s_monitor_read (self);
    //  A new socket, not a disconnect: libzmq ends a disconnected pipe in
    //  its I/O thread later, and a request written meanwhile would go to
    //  the old broker and be lost. The CURVE keys go over as they are.
    zsock_t *sock = s_dealer_new ();
    if (self->curve) {
        const int options [] = { ZMQ_CURVE_PUBLICKEY, ZMQ_CURVE_SECRETKEY, ZMQ_CURVE_SERVERKEY };
        for (int i = 0; i < 3; i++) {
            uint8_t key [32];
            size_t size = sizeof key;
            if (zmq_getsockopt (self->handle, options [i], key, &size) == 0)
                zmq_setsockopt (zsock_resolve (sock), options [i], key, size);
        }
    }
    zmq_socket_monitor (self->handle, NULL, 0);
    zsock_destroy (&self->monitor);
    zsock_destroy (&self->sock);
    self->sock = sock;
    self->monitor = s_monitor_attach (sock);
    self->handle = zsock_resolve (sock);
    self->monitor_handle = zsock_resolve (self->monitor);
    self->rcvtimeo = -2;
    self->current = next;
    self->endpoint = self->endpoints [self->current];
    self->refused = WP_OK;
    self->handshake_failed = false;
    self->reconnect = false;
    //  Checked at open, so it does not fail here but for lack of memory
    zsock_connect (self->sock, "%s", self->endpoint);
    self->disconnects++;
}

static bool
s_move (s_remote_t *self)
{
    if (self->endpoint_count < 2)
        return false;
    s_switch (self, (self->current + 1) % self->endpoint_count);
    self->moves++;
    return true;
}

//  Writes one encoded request if a connection is up. Returns 0 if written,
//  1 if no connection could take it now, -1 on a hard error.
static int
s_send_frames (s_remote_t *self, const uint8_t *header, size_t header_size,
               const uint8_t *body, size_t body_size)
{
    void *handle = self->handle;
    //  A DEALER takes a multipart message whole or not at all, so if the
    //  first frame goes, the second will.
    if (zmq_send (handle, header, header_size, ZMQ_DONTWAIT | ZMQ_SNDMORE) == -1)
        return (errno == EAGAIN || errno == EINTR) ? 1 : -1;
    if (zmq_send (handle, body, body_size, ZMQ_DONTWAIT) == -1)
        return -1;
    return 0;
}

//  Writes one request (header + body) if a connection is up. Returns 0 if
//  written, 1 if no connection could take it now, -1 on a hard error.
static int
s_send (s_remote_t *self, wp_request_t *request, int64_t deadline)
{
    double left = s_left (deadline);
    double ms = ceil (left * 1000);
    request->timeout_ms = ms < 1 ? 1 : ms > UINT32_MAX ? UINT32_MAX : (uint32_t) ms;
    uint8_t *header, *body;
    size_t header_size, body_size;
    if (wp_request_encode (request, &header, &header_size, &body, &body_size))
        return -1;
    int rc = s_send_frames (self, header, header_size, body, body_size);
    free (header);
    free (body);
    return rc;
}

//  Reads one message, waiting up to wait_ms for it (0: not at all).
//  Returns 0 with the reply header decoded and the body frame in *body
//  (caller closes it), 1 if the message is not a reply we can read (it is
//  dropped), -1 if nothing came (errno EAGAIN, or EINTR for a signal).
static int
s_recv (s_remote_t *self, wp_reply_t *reply, zmq_msg_t *body, int wait_ms)
{
    void *handle = self->handle;
    //  A blocking read with a timeout is one poll() inside libzmq; zmq_poll
    //  before a read cost four (measured with strace: 6 polls per call).
    //  The option is set only when it changes: each setsockopt is a
    //  round of libzmq's command processing (getpid, poll)
    if (wait_ms > 0 && wait_ms != self->rcvtimeo) {
        zmq_setsockopt (handle, ZMQ_RCVTIMEO, &wait_ms, sizeof wait_ms);
        self->rcvtimeo = wait_ms;
    }
    zmq_msg_t frames [3];
    int count = 0;
    bool more = true;
    while (more) {
        zmq_msg_t frame;
        zmq_msg_init (&frame);
        if (zmq_msg_recv (&frame, handle, count || wait_ms > 0 ? 0 : ZMQ_DONTWAIT) == -1) {
            int error = errno;
            zmq_msg_close (&frame);
            for (int i = 0; i < count && i < 3; i++)
                zmq_msg_close (&frames [i]);
            errno = error;
            return count ? 1 : -1;
        }
        more = zmq_msg_more (&frame);
        if (count < 3)
            frames [count] = frame;
        else
            zmq_msg_close (&frame);
        count++;
    }
    int rc = 1;
    if (count == 2) {
        char errbuf [256];
        wp_reply_init (reply);
        if (wp_reply_decode_header (reply, zmq_msg_data (&frames [0]), zmq_msg_size (&frames [0]),
                                    errbuf, sizeof errbuf) == WP_OK) {
            *body = frames [1];
            zmq_msg_close (&frames [0]);
            return 0;
        }
        wp_reply_clear (reply);
    }
    for (int i = 0; i < count && i < 3; i++)
        zmq_msg_close (&frames [i]);
    return rc;
}

//  Sends request and waits for its reply until extra_wait + the timeout
//  from now. On WP_OK reply holds the decoded reply body (caller clears it).
//  *resent (may be NULL) says whether the request went out more than once.
static wp_status
s_call (s_remote_t *self, wp_request_t *request, s_resend resend, double extra_wait,
        wp_reply_t *reply, bool *resent)
{
    wp_store_t *store = &self->base;
    int64_t deadline = zclock_usecs () + (int64_t) ((self->timeout + extra_wait) * 1e6);
    int64_t last_sent = 0;
    int sends = 0;
    //  Several endpoints: the time since which no connection took the
    //  request (0: one did, or none was tried), and whether the copy in
    //  flight was written to the endpoint in use (after a move it was not)
    int64_t blocked_since = 0;
    bool on_current = false;
    int64_t retry_us = (int64_t) (self->retry * 1e6);
    //  A claim that waits is not late before its wait is over
    int64_t late_us = retry_us + (int64_t) (extra_wait * 1e6);
    bool several = self->endpoint_count > 1;
    const char *sent_to = NULL;     //  the endpoint of the latest write (stays allocated)
    request->request_id = self->next_request_id++;
    if (resent)
        *resent = false;
    if (self->reconnect)
        s_reconnect (self);

    while (true) {
        int64_t now = zclock_usecs ();
        if (now >= deadline)
            break;
        if (several) {
            //  The broker in use stopped answering: no connection within the
            //  retry interval, or no reply to what it was given. A safe
            //  request goes out again to the next one; an unsafe one is not
            //  resent (it ends at its deadline) but the next call goes there
            bool late = on_current && now - last_sent >= (resend == S_RESEND ? retry_us : late_us);
            bool unreachable = blocked_since && now - blocked_since >= retry_us;
            if ((late || unreachable) && s_move (self)) {
                on_current = false;
                blocked_since = 0;
                if (resend == S_RESEND)
                    last_sent = 0;      //  due now
            }
        }
        //  Send the first time, and again when the reply is late if safe
        bool want_send = sends == 0
                      || (resend == S_RESEND && now - last_sent >= retry_us);
        bool blocked = false;       //  a send is due but no connection takes it
        if (want_send) {
            int rc = s_send (self, request, deadline);
            if (rc == -1)
                return wp_store_error (store, WP_INTERNAL, "cannot send %s to %s: %s",
                                       wp_method_name (request->method), self->endpoint,
                                       zmq_strerror (errno));
            if (rc == 0) {
                sends++;
                last_sent = now;
                on_current = true;
                sent_to = self->endpoint;
                blocked_since = 0;
                if (sends > 1 && resent)
                    *resent = true;
            }
            else {
                blocked = true;
                if (several && !blocked_since)
                    blocked_since = now;
            }
        }
        //  Wait for a reply, for a connection to write to, or for the resend time
        int64_t until = deadline;
        if (!blocked && sends > 0 && resend == S_RESEND
        &&  last_sent + retry_us < until)
            until = last_sent + retry_us;
        if (several && blocked && blocked_since + retry_us < until)
            until = blocked_since + retry_us;
        if (several && !blocked && on_current && resend == S_ONCE
        &&  last_sent + late_us < until)
            until = last_sent + late_us;
        int64_t timeout_ms = (until - zclock_usecs () + 999) / 1000;
        int wait_ms = timeout_ms < 1 ? 1 : timeout_ms > INT_MAX ? INT_MAX : (int) timeout_ms;
        if (blocked) {
            //  No connection yet: a refused handshake ends the call now (no
            //  connection will come); else wake for a reply, for room to
            //  send, or for the outcome of a handshake
            wp_status refused = s_refusal (self);
            if (refused != WP_OK)
                return refused;
            zmq_pollitem_t items [2] = {
                { self->handle, 0, ZMQ_POLLIN | ZMQ_POLLOUT, 0 },
                { self->monitor_handle, 0, ZMQ_POLLIN, 0 }
            };
            zmq_pollitem_t *item = &items [0];
            int rc = zmq_poll (items, 2, wait_ms);
            if (rc == -1 && errno == EINTR && zsys_interrupted)
                return wp_store_error (store, WP_CANCELLED, "%s interrupted",
                                       wp_method_name (request->method));
            if (rc == -1 && errno != EINTR)
                return wp_store_error (store, WP_INTERNAL, "poll failed: %s",
                                       zmq_strerror (errno));
            if (!(item->revents & ZMQ_POLLIN))
                continue;
            wait_ms = 0;
        }
        //  Read what comes, the first read waiting; replies to earlier calls
        //  are dropped
        while (true) {
            zmq_msg_t body;
            int rc = s_recv (self, reply, &body, wait_ms);
            wait_ms = 0;
            if (rc == -1 && errno == EINTR && zsys_interrupted)
                return wp_store_error (store, WP_CANCELLED, "%s interrupted",
                                       wp_method_name (request->method));
            //  Anything but "nothing came" (ETERM: the context is ending)
            //  would fail again at once: the loop would spin to the deadline
            if (rc == -1 && errno != EAGAIN && errno != EINTR)
                return wp_store_error (store, WP_INTERNAL, "cannot receive from %s: %s",
                                       self->endpoint, zmq_strerror (errno));
            if (rc == -1)
                break;
            if (rc == 1)
                continue;
            if (reply->request_id != request->request_id) {
                wp_reply_clear (reply);
                zmq_msg_close (&body);
                continue;
            }
            wp_status status = reply->status;
            if (status != WP_OK) {
                wp_store_error (store, status, "%s", reply->message ? reply->message : "");
                wp_reply_clear (reply);
                zmq_msg_close (&body);
                return status;
            }
            char errbuf [256];
            status = wp_reply_decode_body (reply, request->method, zmq_msg_data (&body),
                                           zmq_msg_size (&body), errbuf, sizeof errbuf);
            zmq_msg_close (&body);
            if (status != WP_OK) {
                wp_reply_clear (reply);
                return wp_store_error (store, WP_INTERNAL, "malformed reply to %s: %s",
                                       wp_method_name (request->method), errbuf);
            }
            return WP_OK;
        }
    }
    if (sends == 0) {
        wp_status refused = s_refusal (self);
        if (refused != WP_OK)
            return refused;
        return wp_store_error (store, WP_UNAVAILABLE, "no broker reachable at %s within %.3g s%s",
                               self->endpoint, self->timeout + extra_wait,
                               !self->handshake_failed ? ""
                               : self->curve ? " (CURVE handshake failed: wrong server key?)"
                               : " (handshake failed: does the broker require CURVE?)");
    }
    if (sent_to != self->endpoint)
        //  Moved since: the request went to one that stopped answering
        return wp_store_error (store, WP_DEADLINE_EXCEEDED,
                               "no reply to %s from %s within %.3g s (not resent: "
                               "moved to %s)", wp_method_name (request->method), sent_to,
                               self->timeout + extra_wait, self->endpoint);
    return wp_store_error (store, WP_DEADLINE_EXCEEDED, "no reply to %s from %s within %.3g s",
                           wp_method_name (request->method), self->endpoint,
                           self->timeout + extra_wait);
}

//  A request for method, every field empty.
static wp_request_t
s_request (wp_method method)
{
    wp_request_t request;
    wp_request_init (&request);
    request.method = method;
    return request;
}

//  ---------------------------------------------------------------------
//  Argument checks for the calls wp_store.c does not dispatch (same words)

static wp_status
s_check_claim (wp_store_t *self, const char *pool, const char *worker_id, double wait,
               double lease)
{
    wp_status rc = wp_store_check_name (self, "pool", pool);
    if (rc == WP_OK)
        rc = wp_store_check_name (self, "worker_id", worker_id);
    if (rc != WP_OK)
        return rc;
    if (wait != wait || wait < 0 || wait > WP_WAIT_MAX)
        return wp_store_error (self, WP_INVALID_ARGUMENT, "wait must be 0 to %g seconds",
                               WP_WAIT_MAX);
    //  (<= 0 asks for the broker's default lease)
    if (lease != lease || lease > WP_LEASE_MAX)
        return wp_store_error (self, WP_INVALID_ARGUMENT, "lease must be at most %g seconds",
                               WP_LEASE_MAX);
    return WP_OK;
}

//  Prefixes the error just set with the index of the batch entry it is
//  about. Returns rc.
static wp_status
s_item_error (wp_store_t *self, wp_status rc, size_t index)
{
    char saved [sizeof self->errmsg];
    memcpy (saved, self->errmsg, sizeof saved);
    return wp_store_error (self, rc, "items[%zu]: %s", index, saved);
}

//  ---------------------------------------------------------------------
//  The store's operations

static void
s_destroy (wp_store_t *base)
{
    s_remote_t *self = (s_remote_t *) base;
    zmq_socket_monitor (zsock_resolve (self->sock), NULL, 0);
    zsock_destroy (&self->monitor);
    zsock_destroy (&self->sock);
    for (size_t i = 0; i < self->endpoint_count; i++)
        free (self->endpoints [i]);
    free (self->endpoints);
    free (self);
}

static wp_status
s_unimplemented (wp_store_t *base, const char *what)
{
    return wp_store_error (base, WP_UNIMPLEMENTED, "%s is not available on a remote store "
                           "(the broker does it itself)", what);
}

static wp_status
s_begin (wp_store_t *base)
{
    return s_unimplemented (base, "begin");
}

static wp_status
s_commit (wp_store_t *base)
{
    return s_unimplemented (base, "commit");
}

static void
s_rollback (wp_store_t *base)
{
}

//  Savepoints live inside a group, and a remote store has none (begin is
//  refused): the broker makes each batch request atomic itself.
static wp_status
s_savepoint (wp_store_t *base)
{
    return s_unimplemented (base, "savepoint");
}

static void
s_release (wp_store_t *base)
{
}

static void
s_rollback_to (wp_store_t *base)
{
}

//  Pushes count entries (Push if count is 1 and many is false, else
//  PushMany), giving each entry without an id a fresh UUID so that the
//  request can be resent without duplicating anything.
static wp_status
s_push_entries (s_remote_t *self, const char *pool, const wp_push_entry_t *entries,
                size_t count, bool many, char **ids_out, bool *duplicates)
{
    //  One entry (the common push) on the stack: three allocations fewer
    wp_push_entry_t sent_one;
    char made_one [1][WP_UUID_LEN + 1];
    bool generated_one = false;
    wp_push_entry_t *sent = count == 1 ? &sent_one : malloc (count * sizeof *sent);
    char (*made) [WP_UUID_LEN + 1] = count == 1 ? made_one : malloc (count * sizeof *made);
    bool *generated = count == 1 ? &generated_one : calloc (count, sizeof *generated);
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
    wp_request_t request = s_request (many ? WP_METHOD_PUSH_MANY : WP_METHOD_PUSH);
    request.pool = (char *) pool;
    request.entries = sent;
    request.entry_count = count;
    wp_reply_t reply;
    wp_reply_init (&reply);
    wp_status rc = s_call (self, &request, S_RESEND, 0, &reply, NULL);
    if (rc == WP_OK && reply.id_count != count)
        rc = wp_store_error (&self->base, WP_INTERNAL, "the broker answered %zu ids for %zu items",
                             reply.id_count, count);
    if (rc == WP_OK)
        for (size_t i = 0; i < count; i++) {
            ids_out [i] = reply.ids [i];
            reply.ids [i] = NULL;
            //  A UUID we made can only exist already because a resend of
            //  ours arrived twice: for the caller it is a fresh item. Any
            //  other id answered for it is the live holder of its unique key.
            if (duplicates)
                duplicates [i] = reply.duplicates [i]
                              && !(generated [i] && streq (ids_out [i], made [i]));
        }
    wp_reply_clear (&reply);
    if (count != 1) {
        free (sent);
        free (made);
        free (generated);
    }
    return rc;
}

static wp_status
s_push (wp_store_t *base, const char *pool, const wp_push_entry_t *entry,
        char **id_out, bool *duplicate)
{
    return s_push_entries ((s_remote_t *) base, pool, entry, 1, false, id_out, duplicate);
}

//  Claim or CompleteAndClaim: one item or none.
static wp_status
s_claim_one (s_remote_t *self, wp_request_t *request, wp_item_t **item_out)
{
    wp_reply_t reply;
    wp_reply_init (&reply);
    wp_status rc = s_call (self, request, S_ONCE, request->wait, &reply, NULL);
    if (rc == WP_OK) {
        *item_out = reply.item;
        reply.item = NULL;
    }
    wp_reply_clear (&reply);
    return rc;
}

static wp_status
s_claim (wp_store_t *base, const char *pool, const char *worker_id, double lease,
         wp_item_t **item_out)
{
    wp_request_t request = s_request (WP_METHOD_CLAIM);
    request.pool = (char *) pool;
    request.worker_id = (char *) worker_id;
    request.lease = lease > 0 ? lease : 0;
    return s_claim_one ((s_remote_t *) base, &request, item_out);
}

//  After a resent Complete or Fail was refused, finds out whether the first
//  copy took effect: the item then is in the state that copy left it in and
//  nobody else holds it. Returns true if so (with *state_out set).
static bool
s_first_copy_won (s_remote_t *self, const char *pool, const char *id, const char *worker_id,
                  bool completing, const char *error, wp_item_state *state_out)
{
    char saved [sizeof self->base.errmsg];
    memcpy (saved, self->base.errmsg, sizeof saved);
    wp_request_t request = s_request (WP_METHOD_GET);
    request.pool = (char *) pool;
    request.id = (char *) id;
    wp_reply_t reply;
    wp_reply_init (&reply);
    bool won = false;
    if (s_call (self, &request, S_RESEND, 0, &reply, NULL) == WP_OK && reply.item) {
        wp_item_t *item = reply.item;
        bool not_others = !item->claimed_by || streq (item->claimed_by, worker_id);
        if (completing)
            won = item->status == WP_ITEM_DONE && not_others;
        else
            //  (a poisoned item keeps its last claimant, a pending or
            //  scheduled one none)
            won = (item->status == WP_ITEM_PENDING || item->status == WP_ITEM_SCHEDULED
                   || item->status == WP_ITEM_POISONED)
               && not_others
               && ((!error && !item->error) || (error && item->error && streq (error, item->error)));
        if (won && state_out)
            *state_out = item->status;
    }
    wp_reply_clear (&reply);
    memcpy (self->base.errmsg, saved, sizeof saved);
    if (won)
        self->base.errmsg [0] = 0;
    return won;
}

static wp_status
s_complete (wp_store_t *base, const char *pool, const char *id, const uint8_t *result,
            size_t result_size, const char *worker_id)
{
    s_remote_t *self = (s_remote_t *) base;
    wp_request_t request = s_request (WP_METHOD_COMPLETE);
    request.pool = (char *) pool;
    request.id = (char *) id;
    request.result = (uint8_t *) result;
    request.result_size = result ? result_size : 0;
    request.worker_id = (char *) worker_id;
    wp_reply_t reply;
    wp_reply_init (&reply);
    bool resent;
    wp_status rc = s_call (self, &request, worker_id ? S_RESEND : S_ONCE, 0, &reply, &resent);
    wp_reply_clear (&reply);
    if (rc == WP_FAILED_PRECONDITION && resent
    &&  s_first_copy_won (self, pool, id, worker_id, true, NULL, NULL))
        rc = WP_OK;
    return rc;
}

static wp_status
s_fail (wp_store_t *base, const char *pool, const char *id, const char *error,
        const char *worker_id, double retry_after, wp_item_state *state_out)
{
    s_remote_t *self = (s_remote_t *) base;
    wp_request_t request = s_request (WP_METHOD_FAIL);
    request.pool = (char *) pool;
    request.id = (char *) id;
    request.error = (char *) error;
    request.worker_id = (char *) worker_id;
    request.retry_after = retry_after;
    wp_reply_t reply;
    wp_reply_init (&reply);
    bool resent;
    wp_status rc = s_call (self, &request, worker_id ? S_RESEND : S_ONCE, 0, &reply, &resent);
    if (rc == WP_OK && state_out)
        *state_out = reply.item_state;
    wp_reply_clear (&reply);
    if (rc == WP_FAILED_PRECONDITION && resent
    &&  s_first_copy_won (self, pool, id, worker_id, false, error, state_out))
        rc = WP_OK;
    return rc;
}

//  A call answered by one count (Size, ReleaseByWorker, Renew).
static wp_status
s_count_call (s_remote_t *self, wp_request_t *request, uint64_t *count_out)
{
    wp_reply_t reply;
    wp_reply_init (&reply);
    wp_status rc = s_call (self, request, S_RESEND, 0, &reply, NULL);
    if (rc == WP_OK && count_out)
        *count_out = reply.count;
    wp_reply_clear (&reply);
    return rc;
}

static wp_status
s_size (wp_store_t *base, const char *pool, uint64_t *size_out)
{
    wp_request_t request = s_request (WP_METHOD_SIZE);
    request.pool = (char *) pool;
    return s_count_call ((s_remote_t *) base, &request, size_out);
}

static wp_status
s_release_by_worker (wp_store_t *base, const char *pool, const char *worker_id,
                     uint64_t *count_out)
{
    wp_request_t request = s_request (WP_METHOD_RELEASE_BY_WORKER);
    request.pool = (char *) pool;
    request.worker_id = (char *) worker_id;
    return s_count_call ((s_remote_t *) base, &request, count_out);
}

static wp_status
s_renew (wp_store_t *base, const char *worker_id, double lease, uint64_t *count_out)
{
    wp_request_t request = s_request (WP_METHOD_RENEW);
    request.worker_id = (char *) worker_id;
    request.lease = lease > 0 ? lease : 0;
    return s_count_call ((s_remote_t *) base, &request, count_out);
}

static wp_status
s_get (wp_store_t *base, const char *pool, const char *id, wp_item_t **item_out)
{
    s_remote_t *self = (s_remote_t *) base;
    wp_request_t request = s_request (WP_METHOD_GET);
    request.pool = (char *) pool;
    request.id = (char *) id;
    wp_reply_t reply;
    wp_reply_init (&reply);
    wp_status rc = s_call (self, &request, S_RESEND, 0, &reply, NULL);
    if (rc == WP_OK && !reply.item)
        rc = wp_store_error (base, WP_INTERNAL, "the broker answered Get without an item");
    if (rc == WP_OK) {
        *item_out = reply.item;
        reply.item = NULL;
    }
    wp_reply_clear (&reply);
    return rc;
}

//  Register and Registry.Get: one worker record, or none.
static wp_status
s_worker_call (s_remote_t *self, wp_request_t *request, wp_worker_t **worker_out)
{
    wp_reply_t reply;
    wp_reply_init (&reply);
    wp_status rc = s_call (self, request, S_RESEND, 0, &reply, NULL);
    if (rc == WP_OK && worker_out) {
        *worker_out = reply.worker;
        reply.worker = NULL;
    }
    wp_reply_clear (&reply);
    return rc;
}

static wp_status
s_register (wp_store_t *base, const wp_worker_t *worker, wp_worker_t **worker_out)
{
    wp_request_t request = s_request (WP_METHOD_REGISTER);
    request.worker_id = worker->worker_id;
    request.worker = (wp_worker_t *) worker;
    return s_worker_call ((s_remote_t *) base, &request, worker_out);
}

static wp_status
s_get_worker (wp_store_t *base, const char *worker_id, wp_worker_t **worker_out)
{
    wp_request_t request = s_request (WP_METHOD_GET_WORKER);
    request.worker_id = (char *) worker_id;
    return s_worker_call ((s_remote_t *) base, &request, worker_out);
}

//  A call whose reply body is empty (Heartbeat, UpdateStatus).
static wp_status
s_empty_call (s_remote_t *self, wp_request_t *request)
{
    wp_reply_t reply;
    wp_reply_init (&reply);
    wp_status rc = s_call (self, request, S_RESEND, 0, &reply, NULL);
    wp_reply_clear (&reply);
    return rc;
}

static wp_status
s_heartbeat (wp_store_t *base, const char *worker_id, const wp_meta_t *metadata)
{
    wp_request_t request = s_request (WP_METHOD_HEARTBEAT);
    request.worker_id = (char *) worker_id;
    if (metadata)
        request.metadata = *metadata;   //  borrowed: the request is not cleared
    return s_empty_call ((s_remote_t *) base, &request);
}

static wp_status
s_update_status (wp_store_t *base, const char *worker_id, const char *status)
{
    wp_request_t request = s_request (WP_METHOD_UPDATE_STATUS);
    request.worker_id = (char *) worker_id;
    request.status = (char *) status;
    return s_empty_call ((s_remote_t *) base, &request);
}

static wp_status
s_list_workers (wp_store_t *base, const wp_worker_filter_t *filter, wp_worker_list_t **list_out)
{
    wp_request_t request = s_request (WP_METHOD_LIST_WORKERS);
    request.statuses = (char **) filter->statuses;
    request.status_count = filter->status_count;
    request.capability = (char *) filter->capability;
    request.pool_id = (char *) filter->pool_id;
    request.stale_threshold = filter->stale_threshold;
    wp_reply_t reply;
    wp_reply_init (&reply);
    wp_status rc = s_call ((s_remote_t *) base, &request, S_RESEND, 0, &reply, NULL);
    if (rc == WP_OK) {
        *list_out = reply.workers ? reply.workers : wp_worker_list_new ();
        reply.workers = NULL;
    }
    wp_reply_clear (&reply);
    return rc;
}

static wp_status
s_reap (wp_store_t *base, wp_reap_t *out)
{
    return s_unimplemented (base, "reap");
}

static wp_status
s_next_due (wp_store_t *base, int64_t *next_out)
{
    return s_unimplemented (base, "next_due");
}

static wp_status
s_purge (wp_store_t *base, double older_than, uint64_t *count_out)
{
    return s_unimplemented (base, "purge");
}

static wp_status
s_stats (wp_store_t *base, wp_stats_t **stats_out)
{
    wp_request_t request = s_request (WP_METHOD_STATS);
    wp_reply_t reply;
    wp_reply_init (&reply);
    wp_status rc = s_call ((s_remote_t *) base, &request, S_RESEND, 0, &reply, NULL);
    if (rc == WP_OK) {
        *stats_out = reply.stats ? reply.stats : wp_stats_new ();
        reply.stats = NULL;
    }
    wp_reply_clear (&reply);
    return rc;
}

//  ---------------------------------------------------------------------
//  Inspection and lifecycle (PROTOCOL.md section 7 says which are resent)

//  Points request->statuses at the names of states, each once (the store
//  interface takes a state twice, the wire refuses it); names is the
//  caller's array of WP_ITEM_STATE_COUNT slots; the names are static.
static void
s_state_names (wp_request_t *request, const wp_item_state *states, size_t count,
               const char **names)
{
    bool seen [WP_ITEM_STATE_COUNT] = { false };
    size_t distinct = 0;
    for (size_t i = 0; i < count; i++)
        if ((unsigned) states [i] < WP_ITEM_STATE_COUNT && !seen [states [i]]) {
            seen [states [i]] = true;
            names [distinct++] = wp_item_state_name (states [i]);
        }
    request->statuses = (char **) names;
    request->status_count = distinct;
}

static wp_status
s_list_items (wp_store_t *base, const char *pool, const wp_item_state *statuses,
              size_t status_count, size_t limit, const char *cursor,
              wp_item_list_t **items_out, char **cursor_out)
{
    const char *names [WP_ITEM_STATE_COUNT];
    if (limit > WP_LIST_MAX)
        return wp_store_error (base, WP_INVALID_ARGUMENT, "limit must be at most %d",
                               WP_LIST_MAX);
    wp_request_t request = s_request (WP_METHOD_LIST_ITEMS);
    request.pool = (char *) pool;
    s_state_names (&request, statuses, status_count, names);
    request.limit = (uint32_t) limit;
    request.cursor = (char *) cursor;
    wp_reply_t reply;
    wp_reply_init (&reply);
    wp_status rc = s_call ((s_remote_t *) base, &request, S_RESEND, 0, &reply, NULL);
    if (rc == WP_OK) {
        *items_out = reply.items ? reply.items : wp_item_list_new ();
        reply.items = NULL;
        if (cursor_out) {
            *cursor_out = reply.cursor;
            reply.cursor = NULL;
        }
    }
    wp_reply_clear (&reply);
    return rc;
}

//  Retry, RetryAll, Cancel and Purge are operators' verbs, sent once: a
//  second copy after a lost reply would give a wrong answer (a refused
//  retry, a count of the second copy's, a cancel of an item pushed again in
//  between, a purge of items pushed in between). A lost reply is
//  WP_DEADLINE_EXCEEDED; a Get or List then says what happened.
static wp_status
s_once (s_remote_t *self, wp_request_t *request, uint64_t *count_out)
{
    wp_reply_t reply;
    wp_reply_init (&reply);
    wp_status rc = s_call (self, request, S_ONCE, 0, &reply, NULL);
    if (rc == WP_OK && count_out)
        *count_out = reply.count;
    wp_reply_clear (&reply);
    return rc;
}

static wp_status
s_retry (wp_store_t *base, const char *pool, const char *id)
{
    wp_request_t request = s_request (WP_METHOD_RETRY);
    request.pool = (char *) pool;
    request.id = (char *) id;
    return s_once ((s_remote_t *) base, &request, NULL);
}

static wp_status
s_retry_all (wp_store_t *base, const char *pool, uint64_t *count_out)
{
    wp_request_t request = s_request (WP_METHOD_RETRY);
    request.pool = (char *) pool;
    request.all = true;
    return s_once ((s_remote_t *) base, &request, count_out);
}

static wp_status
s_cancel (wp_store_t *base, const char *pool, const char *id)
{
    wp_request_t request = s_request (WP_METHOD_CANCEL);
    request.pool = (char *) pool;
    request.id = (char *) id;
    return s_once ((s_remote_t *) base, &request, NULL);
}

static wp_status
s_purge_pool (wp_store_t *base, const char *pool, const wp_item_state *statuses,
              size_t status_count, uint64_t *count_out)
{
    const char *names [WP_ITEM_STATE_COUNT];
    wp_request_t request = s_request (WP_METHOD_PURGE);
    request.pool = (char *) pool;
    s_state_names (&request, statuses, status_count, names);
    return s_once ((s_remote_t *) base, &request, count_out);
}

static wp_status
s_set_paused (wp_store_t *base, const char *pool, bool paused)
{
    wp_request_t request = s_request (paused ? WP_METHOD_PAUSE : WP_METHOD_RESUME);
    request.pool = (char *) pool;
    return s_empty_call ((s_remote_t *) base, &request);
}

//  A pool's retry policy: resent like Pause (setting it twice is setting it).
static wp_status
s_set_backoff (wp_store_t *base, const char *pool, const wp_backoff_t *policy)
{
    wp_request_t request = s_request (WP_METHOD_SET_BACKOFF);
    request.pool = (char *) pool;
    request.backoff = *policy;
    return s_empty_call ((s_remote_t *) base, &request);
}

//  Schedule.Add: the broker's store sets the times (next_at, created_at,
//  last_fired_at kept on a replace), so only the fields a caller gives are
//  sent and the broker's record is returned. Resent: a second copy replaces
//  the schedule with itself (next_at is the first tick after the later copy,
//  which is the same tick unless one fell due between them, and then the
//  broker has fired it).
static wp_status
s_schedule_add (wp_store_t *base, const wp_schedule_t *schedule, wp_schedule_t **schedule_out)
{
    wp_schedule_t sent = {
        .name = schedule->name, .pool = schedule->pool, .cron = schedule->cron,
        .data = schedule->data, .data_size = schedule->data_size,
        .priority = schedule->priority, .max_retries = schedule->max_retries
    };
    wp_request_t request = s_request (WP_METHOD_SCHEDULE_ADD);
    request.schedule = &sent;
    wp_reply_t reply;
    wp_reply_init (&reply);
    wp_status rc = s_call ((s_remote_t *) base, &request, S_RESEND, 0, &reply, NULL);
    if (rc == WP_OK && !reply.schedule)
        rc = wp_store_error (base, WP_INTERNAL, "the broker answered Schedule.Add with no schedule");
    if (rc == WP_OK && schedule_out) {
        *schedule_out = reply.schedule;
        reply.schedule = NULL;
    }
    wp_reply_clear (&reply);
    return rc;
}

static wp_status
s_schedule_list (wp_store_t *base, wp_schedule_list_t **list_out)
{
    wp_request_t request = s_request (WP_METHOD_SCHEDULE_LIST);
    wp_reply_t reply;
    wp_reply_init (&reply);
    wp_status rc = s_call ((s_remote_t *) base, &request, S_RESEND, 0, &reply, NULL);
    if (rc == WP_OK) {
        *list_out = reply.schedules ? reply.schedules : wp_schedule_list_new ();
        reply.schedules = NULL;
    }
    wp_reply_clear (&reply);
    return rc;
}

//  Sent once, like the other removals: a second copy after the first
//  removed it would say NOT_FOUND about a remove that worked.
static wp_status
s_schedule_remove (wp_store_t *base, const char *name)
{
    wp_request_t request = s_request (WP_METHOD_SCHEDULE_REMOVE);
    request.name = (char *) name;
    return s_once ((s_remote_t *) base, &request, NULL);
}

//  The batch ops of the vtable: the exported calls without a wait (the
//  broker answers with what there is at once)

static wp_status
s_claim_many (wp_store_t *base, const char *pool, const char *worker_id, size_t max,
              double lease, size_t max_bytes, wp_item_list_t **items_out)
{
    if (max_bytes == 0)
        return wp_remote_store_claim_many (base, pool, worker_id, max, 0, lease, items_out);
    //  ClaimMany carries no byte cap (the broker applies its max_message), so
    //  a cap of the caller's is met one claim at a time: a round trip per
    //  item, paid only by a caller that sets one. Once an item is claimed a
    //  later failure ends the batch with what it holds, so no claim is lost.
    wp_item_list_t *list = wp_item_list_new ();
    size_t bytes = 0;
    wp_status rc = WP_OK;
    while (list->count < max && bytes < max_bytes) {
        wp_item_t *item = NULL;
        rc = wp_remote_store_claim_wait (base, pool, worker_id, 0, lease, &item);
        if (rc != WP_OK || !item)
            break;
        bytes += item->data_size + item->result_size;
        wp_item_list_append (list, &item);
    }
    if (rc != WP_OK && list->count == 0) {
        wp_item_list_destroy (&list);
        return rc;
    }
    base->errmsg [0] = 0;
    *items_out = list;
    return WP_OK;
}

static wp_status
s_complete_and_claim (wp_store_t *base, const char *pool, const char *id,
                      const uint8_t *result, size_t result_size, const char *worker_id,
                      double lease, wp_item_t **item_out)
{
    return wp_remote_store_complete_and_claim (base, pool, id, result, result_size, worker_id,
                                               0, lease, item_out);
}

static const wp_store_ops_t s_ops = {
    .name = "remote",
    .destroy = s_destroy,
    .begin = s_begin,
    .commit = s_commit,
    .rollback = s_rollback,
    .push = s_push,
    .claim = s_claim,
    .complete = s_complete,
    .fail = s_fail,
    .size = s_size,
    .release_by_worker = s_release_by_worker,
    .get = s_get,
    .renew = s_renew,
    .register_worker = s_register,
    .heartbeat = s_heartbeat,
    .update_status = s_update_status,
    .get_worker = s_get_worker,
    .list_workers = s_list_workers,
    .reap = s_reap,
    .next_due = s_next_due,
    .purge = s_purge,
    .stats = s_stats,
    .savepoint = s_savepoint,
    .release = s_release,
    .rollback_to = s_rollback_to,
    .list_items = s_list_items,
    .retry = s_retry,
    .retry_all = s_retry_all,
    .cancel = s_cancel,
    .purge_pool = s_purge_pool,
    .set_paused = s_set_paused,
    .set_backoff = s_set_backoff,
    .schedule_remove = s_schedule_remove,
    .schedule_list = s_schedule_list,
    .push_many = s_push_many,
    .claim_many = s_claim_many,
    .complete_many = s_complete_many,
    .complete_and_claim = s_complete_and_claim,
    .schedule_add = s_schedule_add,
};

//  ---------------------------------------------------------------------
//  Public

//  Sets *status and *message (each if not NULL) for a failed open.
static void
s_open_failure (wp_status *status, char **message, wp_status code, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));

static void
s_open_failure (wp_status *status, char **message, wp_status code, const char *format, ...)
{
    if (status)
        *status = code;
    if (message) {
        va_list args;
        va_start (args, format);
        if (vasprintf (message, format, args) < 0)
            abort ();
        va_end (args);
    }
}

//  Loads the certificate file path (what names the option, for errors);
//  a secret one must hold a secret key. Returns NULL after setting the
//  failure. Caller owns return value.
static zcert_t *
s_cert_load (const char *what, const char *path, bool secret, wp_status *status,
             char **message)
{
    static const char *zeros = "0000000000000000000000000000000000000000";
    //  zcert_load says nothing of why: open it first for the reason
    FILE *file = fopen (path, "r");
    if (!file) {
        s_open_failure (status, message, WP_INVALID_ARGUMENT, "%s: cannot read %s: %s",
                        what, path, strerror (errno));
        return NULL;
    }
    fclose (file);
    //  (zcert_load reads PATH_secret instead when there is one: the same keys)
    zcert_t *cert = zcert_load (path);
    const char *why = NULL;
    if (!cert || strlen (zcert_public_txt (cert)) != 40 || streq (zcert_public_txt (cert), zeros))
        why = "is not a czmq certificate (no curve public-key)";
    else
    if (secret && (strlen (zcert_secret_txt (cert)) != 40
               ||  streq (zcert_secret_txt (cert), zeros)))
        why = "holds no secret-key (give the NAME_secret file that workpool keygen wrote)";
    if (why) {
        s_open_failure (status, message, WP_INVALID_ARGUMENT, "%s: %s %s", what, path, why);
        zcert_destroy (&cert);
    }
    return cert;
}

//  Sets CURVE up on sock (before it connects). Returns 0, or -1 after
//  setting the failure.
static int
s_curve_apply (zsock_t *sock, const char *server_key, const char *cert_path,
               wp_status *status, char **message)
{
    if (!server_key || !cert_path) {
        s_open_failure (status, message, WP_INVALID_ARGUMENT, "CURVE needs both the broker's "
                        "public certificate (server_key) and this client's secret certificate "
                        "(cert); %s was not given", server_key ? "cert" : "server_key");
        return -1;
    }
    if (!zsys_has_curve ()) {
        s_open_failure (status, message, WP_UNIMPLEMENTED,
                        "this libzmq was built without CURVE (libsodium)");
        return -1;
    }
    zcert_t *server = s_cert_load ("server_key", server_key, false, status, message);
    if (!server)
        return -1;
    zcert_t *client = s_cert_load ("cert", cert_path, true, status, message);
    if (!client) {
        zcert_destroy (&server);
        return -1;
    }
    zcert_apply (client, sock);
    zsock_set_curve_serverkey (sock, zcert_public_txt (server));
    zcert_destroy (&client);
    zcert_destroy (&server);
    return 0;
}

//  Splits a comma-separated list of endpoints (whitespace around each
//  ignored) into *list_out (caller frees each and the array). A single
//  endpoint (no comma) is taken as is, as before lists existed. Returns
//  the count, or 0 with the open failure set: an empty element, or one
//  that is not tcp://, ipc:// or inproc://, named.
static size_t
s_split_endpoints (const char *spec, char ***list_out, wp_status *status, char **message)
{
    size_t count = 1;
    for (const char *c = spec; *c; c++)
        count += *c == ',';
    char **list = calloc (count, sizeof *list);
    if (!list)
        abort ();
    if (count == 1) {
        list [0] = strdup (spec);
        if (!list [0])
            abort ();
        *list_out = list;
        return 1;
    }
    const char *start = spec;
    for (size_t i = 0; i < count; i++) {
        const char *end = strchr (start, ',');
        if (!end)
            end = start + strlen (start);
        while (start < end && (*start == ' ' || *start == '\t'))
            start++;
        const char *stop = end;
        while (stop > start && (stop [-1] == ' ' || stop [-1] == '\t'))
            stop--;
        size_t size = (size_t) (stop - start);
        list [i] = strndup (start, size);
        if (!list [i])
            abort ();
        const char *problem = NULL;
        if (size == 0)
            problem = "is empty";
        else
        if (strncmp (list [i], "tcp://", 6) && strncmp (list [i], "ipc://", 6)
        &&  strncmp (list [i], "inproc://", 9))
            problem = "is not tcp://, ipc:// or inproc://";
        if (problem) {
            s_open_failure (status, message, WP_INVALID_ARGUMENT,
                            "endpoint %zu of %zu in '%.200s' ('%.100s') %s", i + 1, count,
                            spec, list [i], problem);
            for (size_t j = 0; j <= i; j++)
                free (list [j]);
            free (list);
            return 0;
        }
        start = *end ? end + 1 : end;
    }
    *list_out = list;
    return count;
}

wp_store_t *
wp_remote_store_new (const char *endpoint, double timeout_seconds, wp_status *status,
                     char **message)
{
    return wp_remote_store_new_curve (endpoint, timeout_seconds, NULL, NULL, status, message);
}

wp_store_t *
wp_remote_store_new_curve (const char *endpoint, double timeout_seconds,
                           const char *server_key, const char *cert, wp_status *status,
                           char **message)
{
    if (!endpoint || !*endpoint) {
        s_open_failure (status, message, WP_INVALID_ARGUMENT, "an endpoint is required");
        return NULL;
    }
    char **endpoints = NULL;
    size_t endpoint_count = s_split_endpoints (endpoint, &endpoints, status, message);
    if (endpoint_count == 0)
        return NULL;
    zsock_t *sock = s_dealer_new ();
    bool curve = server_key || cert;
    if (curve && s_curve_apply (sock, server_key, cert, status, message)) {
        zsock_destroy (&sock);
        for (size_t j = 0; j < endpoint_count; j++)
            free (endpoints [j]);
        free (endpoints);
        return NULL;
    }
    zsock_t *monitor = s_monitor_attach (sock);
    //  Every listed endpoint is checked by ZeroMQ now (a connect undone at
    //  once), so that a move never meets one it refuses; the first stays
    for (size_t i = endpoint_count; i-- > 0; ) {
        if (zsock_connect (sock, "%s", endpoints [i]) == -1) {
            s_open_failure (status, message, WP_INVALID_ARGUMENT, "cannot connect to '%s': %s",
                            endpoints [i], zmq_strerror (zmq_errno ()));
            zmq_socket_monitor (zsock_resolve (sock), NULL, 0);
            zsock_destroy (&monitor);
            zsock_destroy (&sock);
            for (size_t j = 0; j < endpoint_count; j++)
                free (endpoints [j]);
            free (endpoints);
            return NULL;
        }
        if (i > 0)
            zsock_disconnect (sock, "%s", endpoints [i]);
    }
    s_remote_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    wp_store_init (&self->base, &s_ops, NULL);
    self->endpoints = endpoints;
    self->endpoint_count = endpoint_count;
    self->endpoint = endpoints [0];
    self->sock = sock;
    self->monitor = monitor;
    self->handle = zsock_resolve (sock);
    self->monitor_handle = zsock_resolve (monitor);
    self->rcvtimeo = -2;
    self->curve = curve;
    //  Random start, so replies meant for an earlier handle on a reused
    //  connection identity are never taken for ours.
    self->next_request_id = ((uint64_t) randof (1 << 30) << 32) | 1;
    self->timeout_default = timeout_seconds > 0 ? timeout_seconds : S_DEFAULT_TIMEOUT;
    self->timeout = self->timeout_default;
    self->retry = S_DEFAULT_RETRY;
    return &self->base;
}

bool
wp_remote_store_is (wp_store_t *store)
{
    return store && store->ops == &s_ops;
}

const char *
wp_remote_store_endpoint (wp_store_t *self)
{
    return ((s_remote_t *) self)->endpoint;
}

void
wp_remote_store_set_timeout (wp_store_t *base, double seconds)
{
    s_remote_t *self = (s_remote_t *) base;
    self->timeout = seconds > 0 && seconds == seconds ? seconds : self->timeout_default;
}

double
wp_remote_store_timeout (wp_store_t *base)
{
    return ((s_remote_t *) base)->timeout;
}

void
wp_remote_store_set_retry_interval (wp_store_t *base, double seconds)
{
    ((s_remote_t *) base)->retry = seconds > 0 && seconds == seconds ? seconds : S_DEFAULT_RETRY;
}

wp_status
wp_remote_store_claim_wait (wp_store_t *base, const char *pool, const char *worker_id,
                            double wait, double lease, wp_item_t **item_out)
{
    base->errmsg [0] = 0;
    wp_status rc = s_check_claim (base, pool, worker_id, wait, lease);
    if (rc != WP_OK)
        return rc;
    if (!item_out)
        return wp_store_error (base, WP_INVALID_ARGUMENT, "claim needs an out-parameter");
    wp_request_t request = s_request (WP_METHOD_CLAIM);
    request.pool = (char *) pool;
    request.worker_id = (char *) worker_id;
    request.wait = wait;
    request.lease = lease > 0 ? lease : 0;
    return s_claim_one ((s_remote_t *) base, &request, item_out);
}

wp_status
wp_remote_store_claim_many (wp_store_t *base, const char *pool, const char *worker_id,
                            size_t max, double wait, double lease, wp_item_list_t **items_out)
{
    base->errmsg [0] = 0;
    wp_status rc = s_check_claim (base, pool, worker_id, wait, lease);
    if (rc != WP_OK)
        return rc;
    if (!items_out)
        return wp_store_error (base, WP_INVALID_ARGUMENT, "claim_many needs an out-parameter");
    if (max < 1 || max > WP_BATCH_MAX)
        return wp_store_error (base, WP_INVALID_ARGUMENT, "max must be 1 to %d", WP_BATCH_MAX);
    wp_request_t request = s_request (WP_METHOD_CLAIM_MANY);
    request.pool = (char *) pool;
    request.worker_id = (char *) worker_id;
    request.max = (uint32_t) max;
    request.wait = wait;
    request.lease = lease > 0 ? lease : 0;
    wp_reply_t reply;
    wp_reply_init (&reply);
    rc = s_call ((s_remote_t *) base, &request, S_ONCE, wait, &reply, NULL);
    if (rc == WP_OK) {
        *items_out = reply.items ? reply.items : wp_item_list_new ();
        reply.items = NULL;
    }
    wp_reply_clear (&reply);
    return rc;
}

wp_status
wp_remote_store_complete_and_claim (wp_store_t *base, const char *pool, const char *id,
                                    const uint8_t *result, size_t result_size,
                                    const char *worker_id, double wait, double lease,
                                    wp_item_t **item_out)
{
    base->errmsg [0] = 0;
    wp_status rc = s_check_claim (base, pool, worker_id, wait, lease);
    if (rc == WP_OK)
        rc = wp_store_check_name (base, "id", id);
    if (rc != WP_OK)
        return rc;
    if (!item_out)
        return wp_store_error (base, WP_INVALID_ARGUMENT,
                               "complete_and_claim needs an out-parameter");
    wp_request_t request = s_request (WP_METHOD_COMPLETE_AND_CLAIM);
    request.pool = (char *) pool;
    request.id = (char *) id;
    request.worker_id = (char *) worker_id;
    request.result = (uint8_t *) result;
    request.result_size = result ? result_size : 0;
    request.wait = wait;
    request.lease = lease > 0 ? lease : 0;
    return s_claim_one ((s_remote_t *) base, &request, item_out);
}

//  The vtable's push_many: one PushMany request (wp_store_push_many has
//  checked the arguments; they are checked again for a direct caller).
static wp_status
s_push_many (wp_store_t *base, const char *pool, const wp_push_entry_t *entries,
             size_t count, char **ids_out, bool *duplicates)
{
    base->errmsg [0] = 0;
    wp_status rc = wp_store_check_name (base, "pool", pool);
    if (rc != WP_OK)
        return rc;
    if (!entries || !ids_out || count < 1 || count > WP_BATCH_MAX)
        return wp_store_error (base, WP_INVALID_ARGUMENT,
                               "push_many needs 1 to %d entries and an id array", WP_BATCH_MAX);
    for (size_t i = 0; i < count; i++)
        if ((rc = wp_store_check_entry (base, &entries [i])) != WP_OK)
            return s_item_error (base, rc, i);
    return s_push_entries ((s_remote_t *) base, pool, entries, count, true, ids_out, duplicates);
}

//  The checks the broker makes of a CompleteMany entry, so that a bad one is
//  refused before anything is sent, in the same words as the other calls.
static wp_status
s_check_completion (wp_store_t *self, const wp_complete_entry_t *entry, size_t index)
{
    wp_status rc = wp_store_check_name (self, "id", entry->id);
    if (rc == WP_OK && entry->result && entry->result_size == 0)
        rc = wp_store_error (self, WP_INVALID_ARGUMENT, "result must not be empty");
    return rc == WP_OK ? rc : s_item_error (self, rc, index);
}

//  CompleteMany, with each entry's message in messages_out [i] (may be
//  NULL; "" on OK; caller owns each) as the vtable's complete_many gives.
static wp_status
s_complete_many (wp_store_t *base, const char *pool, const wp_complete_entry_t *entries,
                 size_t count, const char *worker_id, wp_status *statuses_out,
                 char **messages_out)
{
    s_remote_t *self = (s_remote_t *) base;
    base->errmsg [0] = 0;
    wp_status rc = wp_store_check_name (base, "pool", pool);
    if (rc == WP_OK && worker_id)
        rc = wp_store_check_name (base, "worker_id", worker_id);
    if (rc != WP_OK)
        return rc;
    if (!entries || count < 1 || count > WP_BATCH_MAX)
        return wp_store_error (base, WP_INVALID_ARGUMENT,
                               "complete_many needs 1 to %d entries", WP_BATCH_MAX);
    for (size_t i = 0; i < count; i++)
        if ((rc = s_check_completion (base, &entries [i], i)) != WP_OK)
            return rc;
    wp_request_t request = s_request (WP_METHOD_COMPLETE_MANY);
    request.pool = (char *) pool;
    request.worker_id = (char *) worker_id;
    request.completions = (wp_complete_entry_t *) entries;
    request.completion_count = count;
    wp_reply_t reply;
    wp_reply_init (&reply);
    bool resent;
    rc = s_call (self, &request, worker_id ? S_RESEND : S_ONCE, 0, &reply, &resent);
    if (rc == WP_OK && reply.entry_count != count)
        rc = wp_store_error (base, WP_INTERNAL, "the broker answered %zu statuses for %zu entries",
                             reply.entry_count, count);
    if (rc == WP_OK)
        for (size_t i = 0; i < count; i++) {
            wp_status status = reply.entry_statuses [i];
            //  As for complete: a resend refused because the first copy
            //  already completed the entry is that first copy's success
            if (status == WP_FAILED_PRECONDITION && resent
            &&  s_first_copy_won (self, pool, entries [i].id, worker_id, true, NULL, NULL))
                status = WP_OK;
            if (statuses_out)
                statuses_out [i] = status;
            if (messages_out) {
                const char *message = status == WP_OK || !reply.entry_messages
                                   || !reply.entry_messages [i] ? "" : reply.entry_messages [i];
                messages_out [i] = strdup (message);
                if (!messages_out [i])
                    abort ();
            }
        }
    wp_reply_clear (&reply);
    return rc;
}

wp_status
wp_remote_store_complete_many (wp_store_t *base, const char *pool,
                               const wp_complete_entry_t *entries, size_t count,
                               const char *worker_id, wp_status *statuses_out)
{
    return s_complete_many (base, pool, entries, count, worker_id, statuses_out, NULL);
}

wp_status
wp_remote_store_ping (wp_store_t *base, char **server_out, int64_t *time_out)
{
    base->errmsg [0] = 0;
    wp_request_t request = s_request (WP_METHOD_PING);
    wp_reply_t reply;
    wp_reply_init (&reply);
    wp_status rc = s_call ((s_remote_t *) base, &request, S_RESEND, 0, &reply, NULL);
    if (rc == WP_OK) {
        if (server_out) {
            *server_out = strdup (reply.server ? reply.server : "");
            if (!*server_out)
                abort ();
        }
        if (time_out)
            *time_out = reply.time;
    }
    wp_reply_clear (&reply);
    return rc;
}

//  ---------------------------------------------------------------------
//  The primitives of client/wp_pipeline.c (see wp_remote_store.h)

uint64_t
wp_remote_store_next_request_id (wp_store_t *base)
{
    s_remote_t *self = (s_remote_t *) base;
    if (self->reconnect)
        s_reconnect (self);
    return self->next_request_id++;
}

int
wp_remote_store_send_encoded (wp_store_t *base, const uint8_t *header, size_t header_size,
                              const uint8_t *body, size_t body_size)
{
    return s_send_frames ((s_remote_t *) base, header, header_size, body, body_size);
}

int
wp_remote_store_recv (wp_store_t *base, wp_reply_t *reply, zmq_msg_t *body, int wait_ms)
{
    return s_recv ((s_remote_t *) base, reply, body, wait_ms);
}

wp_status
wp_remote_store_refusal (wp_store_t *base)
{
    return s_refusal ((s_remote_t *) base);
}

void *
wp_remote_store_handle (wp_store_t *base)
{
    return ((s_remote_t *) base)->handle;
}

void *
wp_remote_store_monitor_handle (wp_store_t *base)
{
    return ((s_remote_t *) base)->monitor_handle;
}

uint64_t
wp_remote_store_disconnects (wp_store_t *base)
{
    s_remote_t *self = (s_remote_t *) base;
    s_monitor_read (self);
    return self->disconnects;
}

uint64_t
wp_remote_store_moves (wp_store_t *base)
{
    return ((s_remote_t *) base)->moves;
}

size_t
wp_remote_store_endpoint_count (wp_store_t *base)
{
    return ((s_remote_t *) base)->endpoint_count;
}

void
wp_remote_store_use (wp_store_t *base, const char *endpoint)
{
    s_remote_t *self = (s_remote_t *) base;
    for (size_t i = 0; i < self->endpoint_count; i++)
        if (i != self->current && endpoint && strcmp (self->endpoints [i], endpoint) == 0) {
            s_switch (self, i);
            return;
        }
}

bool
wp_remote_store_move (wp_store_t *base)
{
    return s_move ((s_remote_t *) base);
}

double
wp_remote_store_retry_interval (wp_store_t *base)
{
    return ((s_remote_t *) base)->retry;
}
