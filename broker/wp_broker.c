/*  wp_broker: the broker actor. One thread owns the store and a ROUTER
    socket and loops:

      1. wait on the pipe and the socket, no longer than the next thing due
         (a lease or worker staleness from the store, a parked claim's wait
         end, the next purge);
      2. end the waits that ran out ("no item");
      3. take every request already waiting, up to batch_max, without
         blocking, and decode it; malformed ones get their error now;
      4. run them in ONE store transaction (group commit), with the reaping
         that is due and with the parked claims that a push, fail, release
         or reap may now satisfy; commit once;
      5. send every reply, never blocking: a reply to a client that has gone
         or stopped reading is dropped and counted.

    A reply reporting a change is sent only after its commit. A request that
    fails changes nothing: every store call, the batch calls included, undoes
    itself when it fails (a savepoint inside the group). If the commit fails,
    every request in the batch
    that could have changed something is answered with the commit's error and
    parked claims served in it wait again.  */
#include "wp_broker_exec.h"
#include "wp_auth.h"
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <sys/stat.h>

#define S_HOUSEKEEPING_MAX_US   60000000    //  reap at least this often, whatever the store says
//  ... and this often on a store other brokers share: what they made due
//  (a lease of a claim made there, a delayed push there) is not in the due
//  time this broker read at its last commit, and would wait for the next
//  one if the broker that knew of it died
#define S_SHARED_HOUSEKEEPING_US 1000000
#define S_RETRY_AFTER_FAILURE_US 1000000    //  after a failed housekeeping commit
#define S_DUE_AGAIN_US          50000       //  when a reap leaves something due
#define S_ROUTER_SNDHWM         100000      //  replies queued to one client before drops
#define S_ROUTER_RCVHWM         10000       //  requests queued from one client before it waits
#define S_ROUTER_LINGER_MS      500         //  to flush the last replies on stop
#define S_PEER_PRUNE_US         1000000     //  forget idle connections this often
#define S_TRIM_AFTER_BYTES      (4u << 20)  //  give freed reply memory back to the system
#define S_TRIM_EVERY_US         1000000     //  after this much was released, at most this often
#define S_ZAP_LOG_EVERY_US      1000000     //  a refused handshake is logged at most this often
#define S_ZAP_ENDPOINT          "inproc://zeromq.zap.01"
#define S_SLOW_READER_RETRY_US  50000       //  a subscription passed over for its reader

//  Calls the broker refers to without owning them.
typedef struct {
    wp_call_t **calls;
    size_t count;
    size_t capacity;
} s_calls_t;

typedef struct {
    zsock_t *pipe;              //  to the actor's owner
    wp_broker_config_t config;  //  with defaults filled in
    char *store_spec;           //  config.store points here
    wp_store_t *store;
    void *context;              //  CURVE: the broker's own ZeroMQ context, so that its ZAP
                                //  handler serves its router alone, whatever else the
                                //  process runs; else czmq's (inproc clients can connect)
    bool own_context;
    void *router;               //  the clients' socket, bound to every endpoint
    void *zap;                  //  CURVE: the ZAP handler (REP); NULL without CURVE
    zcert_t *cert;              //  CURVE: the broker's certificate; NULL without
    wp_keys_t *keys;            //  CURVE: the accepted keys
    char *curve_secret;         //  config.curve_secret points here
    char *keys_dir;             //  config.keys_dir points here
    wp_peers_t *peers;          //  per connection: requests in flight, replies queued
    wp_quota_t *quota;          //  limits on pushes
    int64_t next_peer_prune;
    uint64_t released;          //  reply bytes freed since the last malloc_trim
    int64_t trimmed_at;
    int64_t zap_logged_at;      //  when a refused handshake was last logged
    uint64_t zap_unlogged;      //  refusals since, not logged
    int last_port;              //  of the latest tcp bind
    bool terminated;            //  $TERM received
    bool paused;                //  tests: requests are left unread
    int stall_ms;               //  tests: hold each batch this long before running it
    uint64_t turn;              //  loop turns so far
    wp_call_t **batch;          //  calls read this turn (owned; NULL once parked)
    size_t batch_size;
    s_calls_t parked_now;       //  calls of this batch parked in the open transaction
    s_calls_t served;           //  parked calls given items in the open transaction
    s_calls_t gone;             //  parked calls whose client went away
    wp_parked_t *parked;        //  claims waiting for an item (owned)
    wp_streams_t *streams;      //  the subscriptions among them (owned)
    s_calls_t to_back;          //  subscriptions just served, for the back of their queue
    int64_t stream_again;       //  when to serve every pool again for subscriptions, 0:
                                //  no need. At once when one stopped short for its
                                //  message's size; shortly when one was passed over for
                                //  a connection that does not read (nothing else tells
                                //  us when it has read)
    bool stream_skipped;        //  a subscription was passed over for its reader
    zhashx_t *woken;            //  pools that may have gained pending items this turn
    zhashx_t *credited;         //  pools whose subscriptions got credit back this turn
    zhashx_t *heartbeats;       //  worker_id -> s_beat_t
    wp_counters_t counters;
    int64_t next_due;           //  store: next lease or staleness due, 0: none
    int64_t next_purge;         //  0: never
    int64_t next_housekeeping;  //  at the latest
    int64_t next_parked_beat;   //  when a parked claim's worker next needs a heartbeat
    bool store_shared;          //  other processes share the store (it has wakes)
} s_broker_t;

//  What the actor thread starts from.
typedef struct {
    wp_broker_config_t config;
    char *store_spec;
    char *curve_secret;
    char *keys_dir;
    wp_store_t *store;
    zcert_t *cert;
    wp_keys_t *keys;
} s_args_t;

//  ---------------------------------------------------------------------
//  Small helpers

static void
s_log (s_broker_t *self, int level, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static void
s_log (s_broker_t *self, int level, const char *format, ...)
{
    if (level > self->config.log_level)
        return;
    char line [1024];
    va_list args;
    va_start (args, format);
    vsnprintf (line, sizeof line, format, args);
    va_end (args);
    if (level == 0)
        zsys_error ("%s", line);
    else
    if (level == 1)
        zsys_notice ("%s", line);
    else
        zsys_debug ("%s", line);
}

static void
s_calls_add (s_calls_t *self, wp_call_t *call)
{
    if (self->count == self->capacity) {
        self->capacity = self->capacity ? self->capacity * 2 : 16;
        self->calls = realloc (self->calls, self->capacity * sizeof *self->calls);
        if (!self->calls)
            abort ();
    }
    self->calls [self->count++] = call;
}

static void
s_free_item (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

static int64_t
s_min_due (int64_t a, int64_t b)
{
    return a == 0 ? b : b == 0 ? a : a < b ? a : b;
}

//  How often purge runs: often enough that nothing outlives retain_done by
//  much more than a quarter of it, rarely enough to cost nothing.
static int64_t
s_purge_period (s_broker_t *self)
{
    double period = self->config.retain_done / 4;
    if (period < 0.05)
        period = 0.05;
    if (period > 60)
        period = 60;
    return (int64_t) (period * 1e6);
}

//  True unless we can tell that the client of call has disconnected: libzmq
//  closes a connection's socket when the peer goes, and a reused descriptor
//  is a different socket (another inode). inproc peers cannot be told.
static bool
s_peer_alive (wp_call_t *call)
{
    if (call->peer_fd < 0)
        return true;
    struct stat st;
    return fstat (call->peer_fd, &st) == 0 && st.st_ino == call->peer_ino;
}

//  ---------------------------------------------------------------------
//  Sending

//  Sends the call's reply; never blocks. A client that has gone
//  (EHOSTUNREACH) or has too many unread replies (EAGAIN) loses it.
static void
s_send (s_broker_t *self, wp_call_t *call)
{
    wp_reply_t *reply = &call->reply;
    reply->request_id = call->request.request_id;
    uint8_t *header, *body;
    size_t header_size, body_size;
    if (wp_reply_encode (reply, call->request.method, &header, &header_size, &body, &body_size)) {
        s_log (self, 0, "cannot encode the reply to %s (status %s)",
               wp_method_name (call->request.method), wp_strerror (reply->status));
        wp_call_set_error (call, WP_INTERNAL, "the broker could not encode its reply");
        if (wp_reply_encode (reply, call->request.method,
                             &header, &header_size, &body, &body_size)) {
            self->counters.replies_dropped++;
            return;
        }
    }
    int method = call->request.method < WP_METHOD_COUNT ? call->request.method : 0;
    int status = reply->status < WP_STATUS_COUNT ? reply->status : WP_UNKNOWN;
    self->counters.requests [method][status]++;

    void *router = self->router;
    if (zmq_send (router, call->identity, call->identity_size, ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1) {
        self->counters.replies_dropped++;
        free (header);
        free (body);
        return;
    }
    //  Once the routing id is taken, the other frames of the message go
    //  into the same pipe: they cannot fail on their own
    wp_peer_send (call->peer, router, header, header_size, ZMQ_SNDMORE);
    wp_peer_send (call->peer, router, body, body_size, 0);
}

static void
s_send_and_destroy (s_broker_t *self, wp_call_t **call_p)
{
    s_send (self, *call_p);
    wp_call_destroy (call_p);
}

//  ---------------------------------------------------------------------
//  Receiving

//  Remembers which connection the request came on (see s_peer_alive).
static void
s_note_peer (wp_call_t *call, zmq_msg_t *frame)
{
    int fd = zmq_msg_get (frame, ZMQ_SRCFD);
    struct stat st;
    if (fd >= 0 && fstat (fd, &st) == 0) {
        call->peer_fd = fd;
        call->peer_ino = st.st_ino;
    }
}

//  Decodes a received request into call; answers what is malformed. count
//  is how many frames came after the routing id; frames holds the first two
//  of them. Returns false if no reply is possible (the call is to be dropped).
static bool
s_decode (s_broker_t *self, wp_call_t *call, zmq_msg_t *frames, size_t count, size_t total)
{
    if (count == 0)
        return false;
    char errbuf [256] = "";
    bool replyable = false;
    wp_status rc = wp_request_decode_header (&call->request, zmq_msg_data (&frames [0]),
                                             zmq_msg_size (&frames [0]),
                                             &replyable, errbuf, sizeof errbuf);
    if (!replyable)
        return false;
    call->reply.request_id = call->request.request_id;
    call->final = true;
    if (total > self->config.max_message) {
        snprintf (errbuf, sizeof errbuf,
                  "request of %zu bytes is larger than this broker's limit of %zu bytes "
                  "(--max-message)",
                  total, self->config.max_message);
        wp_call_set_error (call, WP_RESOURCE_EXHAUSTED, errbuf);
    }
    else
    if (rc != WP_OK)
        wp_call_set_error (call, rc, errbuf);
    else
    if (count != 2) {
        snprintf (errbuf, sizeof errbuf,
                  "a request is 2 frames (header and body); this one has %zu", count);
        wp_call_set_error (call, WP_INVALID_ARGUMENT, errbuf);
    }
    else {
        rc = wp_request_decode_body (&call->request, zmq_msg_data (&frames [1]),
                                     zmq_msg_size (&frames [1]), errbuf, sizeof errbuf);
        if (rc != WP_OK)
            wp_call_set_error (call, rc, errbuf);
        else
            call->final = false;
    }
    return true;
}

//  ---------------------------------------------------------------------
//  Admission: who is asking, and whether its connection is within limits

//  Refuses call with status and message (the call is then final).
static void
s_refuse (wp_call_t *call, wp_status status, const char *message)
{
    wp_call_set_error (call, status, message);
    call->final = true;
}

//  Checks the call's key against the key table as it is now, and the
//  key's role. Returns false (the call refused) if it may not run.
static bool
s_authorized (s_broker_t *self, wp_call_t *call)
{
    if (!self->keys)
        return true;
    const wp_key_t *key = wp_keys_lookup (self->keys, call->key);
    if (!key) {
        s_refuse (call, WP_UNAUTHENTICATED, "key revoked: this connection's CURVE key is "
                  "no longer in the broker's key directory");
        return false;
    }
    char message [512];
    if (wp_auth_check (key, &call->request, message, sizeof message) != WP_OK) {
        s_refuse (call, WP_PERMISSION_DENIED, message);
        return false;
    }
    return true;
}

//  A request just read: its key and role, and its connection's requests
//  in flight (this one counted).
static void
s_admit (s_broker_t *self, wp_call_t *call)
{
    if (!s_authorized (self, call))
        return;
    size_t inflight = *wp_peer_inflight (call->peer);
    if (self->config.max_inflight && inflight > self->config.max_inflight) {
        char message [256];
        snprintf (message, sizeof message, "this connection has %zu requests in flight, "
                  "this broker's limit (--max-inflight); wait for replies before sending more",
                  inflight - 1);
        s_refuse (call, WP_RESOURCE_EXHAUSTED, message);
        self->counters.refused_inflight++;
    }
}

//  True if the replies to peer that libzmq holds, with those decided this
//  turn and not yet sent, pass max_queued_bytes.
static bool
s_peer_full (s_broker_t *self, wp_peer_t *peer)
{
    return self->config.max_queued_bytes && peer
        && wp_peer_queued (peer) + *wp_peer_pending (peer) > self->config.max_queued_bytes;
}

//  Refuses a call whose connection does not read its replies, before it
//  runs. Returns false if it was refused. Acknowledgements (Complete, Fail,
//  CompleteMany) are let through: their replies are small, they free what
//  the connection holds, and a streaming worker's own stream is what fills
//  its queue, so refusing them would fail the acknowledgements of a worker
//  that is reading, only more slowly than its stream arrives (its
//  in-flight requests stay bounded by --max-inflight).
static bool
s_reader_keeps_up (s_broker_t *self, wp_call_t *call)
{
    wp_method method = call->request.method;
    if (method == WP_METHOD_COMPLETE || method == WP_METHOD_FAIL
    ||  method == WP_METHOD_COMPLETE_MANY)
        return true;
    if (!s_peer_full (self, call->peer))
        return true;
    char message [256];
    snprintf (message, sizeof message, "%" PRIu64 " bytes of replies to this connection are "
              "unread, past this broker's limit of %" PRIu64 " (--max-queued-bytes): "
              "read replies before sending more", wp_peer_queued (call->peer)
              + *wp_peer_pending (call->peer), self->config.max_queued_bytes);
    s_refuse (call, WP_RESOURCE_EXHAUSTED, message);
    self->counters.refused_queued++;
    return false;
}

static uint64_t
s_item_bytes (const wp_item_t *item)
{
    return 512 + item->data_size + item->result_size;
}

//  What the reply of a call that ran is reckoned to weigh, before it is
//  encoded: its items' bytes and a margin for the rest.
static uint64_t
s_reply_estimate (const wp_call_t *call)
{
    const wp_reply_t *reply = &call->reply;
    uint64_t bytes = 128;
    if (reply->item)
        bytes += s_item_bytes (reply->item);
    if (reply->items)
        for (size_t i = 0; i < reply->items->count; i++)
            bytes += s_item_bytes (reply->items->items [i]);
    if (reply->workers)
        bytes += 1024 * reply->workers->count;
    return bytes;
}

//  Reads every request already waiting, up to batch_max, without blocking.
//  The ROUTER queues fairly across connections (one message from each in
//  turn), so a connection that floods takes no more of a batch than its
//  share while others have requests waiting.
static void
s_read_batch (s_broker_t *self)
{
    void *router = self->router;
    while (self->batch_size < (size_t) self->config.batch_max) {
        zmq_msg_t frames [3];       //  routing id, header, body; more are counted and closed
        zmq_msg_init (&frames [0]);
        if (zmq_msg_recv (&frames [0], router, ZMQ_DONTWAIT) == -1) {
            zmq_msg_close (&frames [0]);
            break;
        }
        wp_call_t *call = wp_call_new ();
        call->turn = self->turn;
        call->identity_size = zmq_msg_size (&frames [0]);
        if (call->identity_size > sizeof call->identity)
            call->identity_size = sizeof call->identity;        //  libzmq caps it at 255
        memcpy (call->identity, zmq_msg_data (&frames [0]), call->identity_size);
        call->peer = wp_peers_get (self->peers, call->identity, call->identity_size);
        (*wp_peer_inflight (call->peer))++;
        bool more = zmq_msg_more (&frames [0]);
        zmq_msg_close (&frames [0]);

        //  The parts of a multipart message arrive together, so none blocks
        size_t count = 0, total = 0;
        while (more) {
            zmq_msg_t *frame = &frames [count < 2 ? count : 2];
            zmq_msg_init (frame);
            if (zmq_msg_recv (frame, router, ZMQ_DONTWAIT) == -1) {
                zmq_msg_close (frame);
                break;
            }
            more = zmq_msg_more (frame);
            total += zmq_msg_size (frame);
            if (count >= 2)
                zmq_msg_close (frame);
            count++;
        }
        call->received = wp_time_now ();
        bool keep = s_decode (self, call, frames, count, total);
        if (keep && self->keys) {
            //  The ZAP handler named the connection by its key
            const char *user_id = zmq_msg_gets (&frames [0], "User-Id");
            snprintf (call->key, sizeof call->key, "%s", user_id ? user_id : "");
        }
        if (keep && !call->final)
            s_admit (self, call);
        //  Only a claim that may park needs to know its connection later;
        //  the fstat is kept off every other request
        if (keep && !call->final
        &&  (call->request.wait > 0 || call->request.method == WP_METHOD_SUBSCRIBE))
            s_note_peer (call, &frames [0]);
        for (size_t i = 0; i < count && i < 2; i++)
            zmq_msg_close (&frames [i]);
        if (!keep) {
            self->counters.malformed_dropped++;
            wp_call_destroy (&call);
            continue;
        }
        call->batch_index = self->batch_size;
        self->batch [self->batch_size++] = call;
    }
}

//  ---------------------------------------------------------------------
//  Waits

//  Answers "no item" to every parked claim whose wait has ended, and
//  DEADLINE_EXCEEDED to every subscription whose timeout_ms passed.
static void
s_end_waits (s_broker_t *self, int64_t now)
{
    wp_call_t *call;
    while ((call = wp_parked_ended (self->parked, now))) {
        wp_parked_remove (self->parked, call);
        if (call->stream) {
            wp_stream_close (call);
            char message [128];
            snprintf (message, sizeof message, "the subscription's timeout of %u ms passed",
                      call->request.timeout_ms);
            wp_call_set_error (call, WP_DEADLINE_EXCEEDED, message);
            self->counters.stream_ended_timeout++;
        }
        else
            wp_call_set_no_item (call);
        s_send_and_destroy (self, &call);
    }
}

//  Parks a claim of this batch that found nothing. It waits until its
//  wait_seconds, or its timeout, whichever ends first; the wait stops a
//  little short of the timeout so that the "no item" reaches a client that
//  gives up at exactly its timeout before it does.
static void
s_park (s_broker_t *self, size_t index)
{
    wp_call_t *call = self->batch [index];
    wp_request_t *req = &call->request;
    bool stream = call->stream != NULL;
    //  A subscription waits until it is ended, or its timeout
    int64_t wait_end = stream ? WP_PARKED_NO_END : call->received + (int64_t) (req->wait * 1e6);
    if (req->timeout_ms) {
        int64_t timeout = (int64_t) req->timeout_ms * 1000;
        int64_t margin = timeout / 20 < 50000 ? timeout / 20 : 50000;
        if (call->received + timeout - margin < wait_end)
            wait_end = call->received + timeout - margin;
    }
    if (!stream && wait_end <= wp_time_now ()) {
        wp_call_set_no_item (call);
        return;
    }
    call->wait_end = wait_end;
    wp_parked_add (self->parked, call);
    self->batch [index] = NULL;
    s_calls_add (&self->parked_now, call);
    //  What a subscription claimed at once is its first stream message
    if (stream && call->reply.items && call->reply.items->count > 0) {
        call->served = true;
        s_calls_add (&self->served, call);
    }
}

//  Gives pending items to the parked claims of pool, longest waiting first,
//  until the pool has none left. A subscription takes up to its credit
//  left, may be served again in the same transaction (its items add up in
//  one stream message), and goes to the back of the queue once served, so
//  that claims and subscriptions of a pool take turns; one without credit
//  is passed over.
static void
s_serve_pool (s_broker_t *self, wp_exec_env_t *env, const char *pool)
{
    for (wp_call_t *call = wp_parked_first (self->parked, pool); call;
         call = wp_parked_next (self->parked, pool)) {
        bool stream = call->stream != NULL;
        if (stream ? !wp_stream_wants (call, self->config.max_message) : call->served)
            continue;
        if (call->gone)
            continue;
        if (s_peer_full (self, call->peer)) {
            self->stream_skipped |= stream;
            continue;       //  a slow reader's claim waits until it reads
        }
        //  A call served already is alive: it is never both served and gone
        if (!call->served && !s_peer_alive (call)) {
            call->gone = true;
            s_calls_add (&self->gone, call);
            continue;
        }
        int got = wp_call_claim_parked (call, env);
        if (got == 0 || (got < 0 && stream))
            break;
        if (!call->served) {
            call->served = true;
            s_calls_add (&self->served, call);
        }
        if (stream)
            s_calls_add (&self->to_back, call);
        if (got < 0)
            break;              //  the store is failing; the next turn tries again
    }
    for (size_t i = 0; i < self->to_back.count; i++)
        wp_parked_to_back (self->parked, self->to_back.calls [i]);
    self->to_back.count = 0;
}

//  Serves the parked claims of the pools that may have gained pending
//  items in the open transaction (every pool, if items were requeued).
static void
s_serve_parked (s_broker_t *self, wp_exec_env_t *env, bool every_pool)
{
    if (wp_parked_size (self->parked) == 0)
        return;
    if (!every_pool && zhashx_size (self->woken) == 0)
        return;
    zlistx_t *pools = every_pool ? wp_parked_pools (self->parked) : zhashx_keys (self->woken);
    for (const char *pool = zlistx_first (pools); pool; pool = zlistx_next (pools))
        s_serve_pool (self, env, pool);
    zlistx_destroy (&pools);
}

//  Puts the parked claims of the open transaction back as they were before
//  it: claims parked by this batch return to the batch, claims served wait
//  again.
static void
s_undo_parked (s_broker_t *self)
{
    for (size_t i = 0; i < self->parked_now.count; i++) {
        wp_call_t *call = self->parked_now.calls [i];
        wp_parked_remove (self->parked, call);
        call->gone = false;
        wp_call_reset_reply (call);
        self->batch [call->batch_index] = call;
    }
    for (size_t i = 0; i < self->served.count; i++) {
        wp_call_t *call = self->served.calls [i];
        if (call->parked) {
            call->served = false;
            wp_call_reset_reply (call);
            //  A subscription's items were reckoned as they were claimed
            *wp_peer_pending (call->peer) -= call->reply_estimate;
            call->reply_estimate = 0;
        }
    }
    for (size_t i = 0; i < self->gone.count; i++)
        self->gone.calls [i]->gone = false;
    self->parked_now.count = self->served.count = self->gone.count = 0;
}

//  ---------------------------------------------------------------------
//  Running a batch

//  When a worker's requests last counted as its heartbeat, and how often
//  they may: at most once a second, and four times per heartbeat interval
//  so that a worker with a short interval is kept alive by its requests.
typedef struct {
    int64_t last;
    int64_t every;
    bool known;                 //  every is from the worker's own interval
} s_beat_t;

static s_beat_t *
s_beat_for (s_broker_t *self, const char *worker_id)
{
    s_beat_t *beat = zhashx_lookup (self->heartbeats, worker_id);
    if (!beat) {
        beat = calloc (1, sizeof *beat);
        if (!beat)
            abort ();
        beat->every = wp_worker_beat_every_us (self->config.heartbeat);
        zhashx_insert (self->heartbeats, worker_id, beat);
    }
    return beat;
}

//  Learns a worker's heartbeat interval from its registration.
static void
s_note_registration (s_broker_t *self, wp_call_t *call)
{
    const wp_worker_t *worker = call->reply.worker;
    if (call->request.method != WP_METHOD_REGISTER || call->reply.status != WP_OK || !worker)
        return;
    s_beat_t *beat = s_beat_for (self, worker->worker_id);
    beat->every = wp_worker_beat_every_us (worker->heartbeat_interval);
    beat->known = true;
    beat->last = wp_time_now ();
}

//  Counts a request from a registered worker as its heartbeat, throttled
//  (s_beat_t). Only requests a worker makes for itself count: an
//  operator's ReleaseByWorker or Registry.Get naming a worker says nothing
//  about that worker being alive.
static void
s_implicit_heartbeat (s_broker_t *self, wp_call_t *call)
{
    switch (call->request.method) {
        case WP_METHOD_CLAIM:
        case WP_METHOD_CLAIM_MANY:
        case WP_METHOD_COMPLETE_AND_CLAIM:
        case WP_METHOD_COMPLETE:
        case WP_METHOD_COMPLETE_MANY:
        case WP_METHOD_FAIL:
        case WP_METHOD_RENEW:
        case WP_METHOD_SUBSCRIBE:
            break;
        default:
            return;
    }
    const char *worker_id = call->request.worker_id;
    if (!worker_id || wp_name_check (worker_id))
        return;
    int64_t now = wp_time_now ();
    s_beat_t *beat = s_beat_for (self, worker_id);
    if (beat->last && now - beat->last < beat->every)
        return;
    //  Unknown (NOT_FOUND) and lost (FAILED_PRECONDITION) workers are not
    //  told here: an explicit Registry.Heartbeat tells them
    if (wp_store_heartbeat (self->store, worker_id, NULL) == WP_OK)
        self->counters.implicit_heartbeats++;
    beat->last = now;
}

//  Forgets the implicit heartbeats of this batch's workers, whose
//  transaction did not commit, so that their next request heartbeats.
static void
s_forget_heartbeats (s_broker_t *self)
{
    for (size_t i = 0; i < self->batch_size; i++) {
        wp_call_t *call = self->batch [i];
        s_beat_t *beat = call && call->request.worker_id
                       ? zhashx_lookup (self->heartbeats, call->request.worker_id) : NULL;
        if (beat)
            beat->last = 0;
    }
}

//  A parked claim is proof of life: its worker is waiting on us, not gone.
//  Gives every worker with a claim parked a heartbeat whenever a quarter of
//  its interval (at most a second) has passed since its last one, so it is
//  never declared lost while it waits, however long the wait. Called at the
//  start of a transaction, before anything in it can reap.
static void
s_beat_parked (s_broker_t *self)
{
    int64_t now = wp_time_now ();
    if (wp_parked_size (self->parked) == 0 || now < self->next_parked_beat)
        return;
    int64_t next = 0;
    zlistx_t *pools = wp_parked_pools (self->parked);
    for (const char *pool = zlistx_first (pools); pool; pool = zlistx_next (pools))
        for (wp_call_t *call = wp_parked_first (self->parked, pool); call;
             call = wp_parked_next (self->parked, pool)) {
            const char *worker_id = call->request.worker_id;
            if (!worker_id || call->gone)
                continue;
            //  A subscription's connection that closed ends it, silently
            if (call->stream && !s_peer_alive (call)) {
                call->gone = true;
                s_calls_add (&self->gone, call);
                continue;
            }
            s_beat_t *beat = s_beat_for (self, worker_id);
            //  A subscription is waiting on us only while it has credit
            //  left; with none, its worker's own requests keep it alive
            bool waiting = !call->stream || wp_stream_wants (call, 0);
            if (waiting && (!beat->last || now - beat->last >= beat->every)) {
                if (wp_store_heartbeat (self->store, worker_id, NULL) == WP_OK)
                    self->counters.parked_heartbeats++;
                beat->last = now;
            }
            //  Not beaten: look again (for its connection, its credit)
            //  an interval on, not in a tight loop
            int64_t due = beat->last + beat->every;
            if (!waiting && due <= now)
                due = now + beat->every;
            next = s_min_due (next, due);
        }
    zlistx_destroy (&pools);
    self->next_parked_beat = next;
}

//  Learns the heartbeat interval of a worker whose claim parks, if this
//  broker has not seen it register (it registered before a restart), so
//  that s_beat_parked keeps pace with a short interval.
static void
s_learn_interval (s_broker_t *self, const char *worker_id)
{
    s_beat_t *beat = s_beat_for (self, worker_id);
    if (!beat->known) {
        wp_worker_t *worker = NULL;
        if (wp_store_get_worker (self->store, worker_id, &worker) == WP_OK && worker)
            beat->every = wp_worker_beat_every_us (worker->heartbeat_interval);
        wp_worker_destroy (&worker);
        beat->known = true;
    }
    self->next_parked_beat = s_min_due (self->next_parked_beat, beat->last + beat->every);
}

//  Runs the batch's calls in the open transaction.
static void
s_run_calls (s_broker_t *self, wp_exec_env_t *env)
{
    for (size_t i = 0; i < self->batch_size; i++) {
        wp_call_t *call = self->batch [i];
        if (!call || call->final)
            continue;
        wp_request_t *req = &call->request;
        if (req->timeout_ms
        &&  wp_time_now () - call->received > (int64_t) req->timeout_ms * 1000) {
            char message [128];
            snprintf (message, sizeof message,
                      "the request's timeout of %u ms passed before it could run",
                      req->timeout_ms);
            wp_call_set_error (call, WP_DEADLINE_EXCEEDED, message);
            call->final = true;
            continue;
        }
        if (!s_reader_keeps_up (self, call))
            continue;
        s_implicit_heartbeat (self, call);
        wp_exec_result result = wp_call_execute (call, env);
        wp_streams_acknowledge (self->streams, call, env);
        switch (result) {
            case WP_EXEC_DONE:
                call->reply_estimate = s_reply_estimate (call);
                *wp_peer_pending (call->peer) += call->reply_estimate;
                //  Now, before the next call of the batch can take what
                //  this one made pending: the longest waiting come first
                s_serve_parked (self, env, false);
                zhashx_purge (self->woken);
                break;
            case WP_EXEC_PARK:
                if (req->worker_id)
                    s_learn_interval (self, req->worker_id);
                s_park (self, i);
                break;
        }
    }
}

//  Reaps what is due, fires the schedules that are due and purges what is
//  old, in the open transaction: a schedule's tick is committed with the
//  item it pushed, or neither is.
static void
s_housekeep (s_broker_t *self, bool purge, wp_reap_t *reap, uint64_t *fired,
             uint64_t *purged)
{
    memset (reap, 0, sizeof *reap);
    *purged = *fired = 0;
    wp_status rc = wp_store_reap (self->store, reap);
    if (rc != WP_OK) {
        s_log (self, 0, "reaping failed: %s: %s", wp_strerror (rc), wp_store_errmsg (self->store));
        memset (reap, 0, sizeof *reap);
    }
    rc = wp_store_fire_schedules (self->store, fired);
    if (rc != WP_OK && rc != WP_UNIMPLEMENTED) {
        s_log (self, 0, "firing schedules failed: %s: %s",
               wp_strerror (rc), wp_store_errmsg (self->store));
        *fired = 0;
    }
    if (purge) {
        rc = wp_store_purge (self->store, self->config.retain_done, purged);
        if (rc != WP_OK) {
            s_log (self, 0, "purging failed: %s: %s",
                   wp_strerror (rc), wp_store_errmsg (self->store));
            *purged = 0;
        }
    }
}

//  The transaction did not happen: every call of the batch that could have
//  changed something (or, when ran is false, every call) is answered with
//  the failure; parked claims are as before the batch.
static void
s_fail_batch (s_broker_t *self, wp_status rc, const char *message, bool ran)
{
    wp_streams_undo (self->streams);
    s_undo_parked (self);
    s_forget_heartbeats (self);
    size_t failed = 0;
    for (size_t i = 0; i < self->batch_size; i++) {
        wp_call_t *call = self->batch [i];
        //  An Unsubscribe changes no item but its end was undone with the
        //  rest: it fails too (and may be resent)
        if (call->final || (ran && !wp_method_mutates (call->request.method)
                                && call->request.method != WP_METHOD_UNSUBSCRIBE))
            continue;
        wp_call_set_error (call, rc, message);
        failed++;
    }
    s_log (self, 0, "%s failed: %s: %s; answered %zu request%s with it",
           ran ? "commit" : "begin", wp_strerror (rc), message, failed, failed == 1 ? "" : "s");
}

//  Sends the replies of a turn whose transaction committed (or failed, with
//  the failure already in the replies) and frees the finished calls.
static void
s_finish (s_broker_t *self)
{
    self->counters.parked_total += self->parked_now.count;
    //  Served subscriptions send their stream message and stay parked;
    //  then the subscriptions ended send their final reply (before the
    //  reply to an Unsubscribe of the batch); then the gone are dropped
    for (size_t i = 0; i < self->served.count; i++) {
        wp_call_t *call = self->served.calls [i];
        if (call->stream) {
            s_send (self, call);
            wp_stream_sent (call);
            continue;
        }
        wp_parked_remove (self->parked, call);
        self->counters.parked_served++;
        s_send_and_destroy (self, &call);
    }
    for (wp_call_t *call = wp_streams_first_ended (self->streams); call;
         call = wp_streams_next_ended (self->streams)) {
        if (call->gone)
            continue;
        wp_status status = wp_stream_end_status (call);
        wp_parked_remove (self->parked, call);
        wp_call_reset_reply (call);
        if (status == WP_OK) {
            call->reply.items = wp_item_list_new ();
            call->reply.end = true;
            self->counters.stream_ended_unsubscribed++;
        }
        else {
            wp_call_set_error (call, status, wp_stream_end_message (call));
            if (status == WP_CANCELLED)
                self->counters.stream_ended_replaced++;
            else
                self->counters.stream_ended_lost++;
        }
        s_send_and_destroy (self, &call);
    }
    wp_streams_clear_ended (self->streams);
    for (size_t i = 0; i < self->gone.count; i++) {
        wp_call_t *call = self->gone.calls [i];
        wp_parked_remove (self->parked, call);
        if (call->stream)
            self->counters.stream_ended_disconnected++;
        else
            self->counters.parked_abandoned++;
        wp_call_destroy (&call);
    }
    for (size_t i = 0; i < self->batch_size; i++)
        if (self->batch [i]) {
            s_note_registration (self, self->batch [i]);
            s_send_and_destroy (self, &self->batch [i]);
        }
    self->batch_size = 0;
    self->parked_now.count = self->served.count = self->gone.count = 0;
    zhashx_purge (self->woken);
    zhashx_purge (self->credited);
}

//  One transaction: housekeeping if due, the batch, the parked claims it
//  or the reaping may satisfy; then one commit, then every reply.
static void
s_run (s_broker_t *self, bool housekeeping)
{
    int64_t now = wp_time_now ();
    //  Pools woken by another process on the store (s_take_wakes): served
    //  below; again after a failure, as the items they gained are still there
    bool woken_before = zhashx_size (self->woken) > 0;
    bool purge = housekeeping && self->next_purge && now >= self->next_purge;
    if (self->batch_size > 0) {
        self->counters.batches++;
        self->counters.batched_requests += self->batch_size;
        if (self->batch_size > self->counters.batch_max_seen)
            self->counters.batch_max_seen = self->batch_size;
        if (self->stall_ms > 0)
            zclock_sleep (self->stall_ms);
    }
    self->counters.keys = self->keys ? wp_keys_size (self->keys) : 0;
    self->counters.peers = wp_peers_size (self->peers);
    self->counters.reply_bytes_queued = wp_peers_queued (self->peers);
    wp_exec_env_t env = {
        .store = self->store, .config = &self->config, .counters = &self->counters,
        .parked = self->parked, .woken = self->woken, .quota = self->quota,
        .streams = self->streams, .credited = self->credited
    };
    bool again = self->stream_again && now >= self->stream_again;
    if (again)
        self->stream_again = 0;
    wp_reap_t reap = { 0 };
    uint64_t purged = 0, fired = 0;
    wp_status rc;
    rc = wp_store_begin (self->store);
    if (rc != WP_OK)
        s_fail_batch (self, rc, wp_store_errmsg (self->store), false);
    else {
        s_beat_parked (self);
        s_run_calls (self, &env);
        //  After the calls, so that what they expired on their way is
        //  reported too, and when something fell due while they ran
        if (housekeeping || (self->next_due && wp_time_now () >= self->next_due)) {
            housekeeping = true;
            s_housekeep (self, purge, &reap, &fired, &purged);
            //  Subscriptions' items whose leases lapsed or whose workers
            //  were lost are theirs no more: their credit returns
            if (reap.leases_expired || reap.workers_lost)
                wp_streams_check (self->streams, &env, reap.workers_lost > 0);
        }
        //  The pools where subscriptions got credit back, once for the
        //  whole batch (see wp_streams_acknowledge)
        for (void *mark = zhashx_first (self->credited); mark;
             mark = zhashx_next (self->credited))
            zhashx_insert (self->woken, zhashx_cursor (self->credited), (void *) 1);
        zhashx_purge (self->credited);
        //  Every pool when items became pending without a push of ours:
        //  requeued or fallen due (every store reports what this
        //  transaction applied, its own calls' included) or pushed by a
        //  schedule, or when a subscription's message filled up
        s_serve_parked (self, &env, reap.requeued > 0 || reap.promoted > 0 || fired > 0
                                    || again);
        if (wp_streams_take_again (self->streams))
            self->stream_again = wp_time_now ();
        else
        if (self->stream_skipped)
            self->stream_again = s_min_due (self->stream_again,
                                            wp_time_now () + S_SLOW_READER_RETRY_US);
        self->stream_skipped = false;
        int64_t next_due = 0;
        if (wp_store_next_due (self->store, &next_due) == WP_OK)
            self->next_due = next_due;
        rc = wp_store_commit (self->store);
        if (rc != WP_OK)
            s_fail_batch (self, rc, wp_store_errmsg (self->store), true);
    }
    now = wp_time_now ();
    if (rc == WP_OK) {
        wp_streams_commit (self->streams);
        self->counters.commits++;
        if (housekeeping) {
            self->counters.reaps++;
            self->counters.leases_expired += reap.leases_expired;
            self->counters.workers_lost += reap.workers_lost;
            self->counters.requeued += reap.requeued;
            self->counters.poisoned += reap.poisoned;
            self->counters.backed_off += reap.backed_off;
            self->counters.promoted += reap.promoted;
            self->counters.schedule_fired += fired;
            self->counters.purged += purged;
            if (reap.leases_expired || reap.workers_lost)
                s_log (self, 1, "%" PRIu64 " leases expired, %" PRIu64 " workers lost: "
                       "%" PRIu64 " items back to pending, %" PRIu64 " backed off, "
                       "%" PRIu64 " poisoned", reap.leases_expired, reap.workers_lost,
                       reap.requeued, reap.backed_off, reap.poisoned);
            if (fired)
                s_log (self, 2, "schedules pushed %" PRIu64 " item%s", fired,
                       fired == 1 ? "" : "s");
            if (purged)
                s_log (self, 1, "purged %" PRIu64 " done or poisoned items older than %gs",
                       purged, self->config.retain_done);
            self->next_housekeeping = now + (self->store_shared ? S_SHARED_HOUSEKEEPING_US
                                                                : S_HOUSEKEEPING_MAX_US);
            //  What the reap left due stays due: look again shortly, not
            //  in a tight loop
            if (self->next_due && self->next_due <= now)
                self->next_due = now + S_DUE_AGAIN_US;
            if (purge)
                self->next_purge = now + s_purge_period (self);
        }
    }
    else {
        self->counters.commit_failures++;
        //  Try again soon, but not in a tight loop on a store that is failing
        int64_t retry = now + S_RETRY_AFTER_FAILURE_US;
        if (self->next_due && self->next_due < retry)
            self->next_due = retry;
        if (self->next_purge && self->next_purge < retry)
            self->next_purge = retry;
        if (self->next_housekeeping < retry)
            self->next_housekeeping = retry;
        if (woken_before)
            self->stream_again = s_min_due (self->stream_again, retry);
    }
    s_finish (self);
    self->counters.subscriptions = wp_streams_size (self->streams);
}

//  ---------------------------------------------------------------------
//  The actor

//  When housekeeping is next due (microseconds since the epoch).
static int64_t
s_housekeeping_due (s_broker_t *self)
{
    return s_min_due (s_min_due (self->next_due, self->next_purge), self->next_housekeeping);
}

//  Milliseconds zmq_poll may sleep: up to the next thing due.
static long
s_poll_timeout (s_broker_t *self)
{
    int64_t wake = s_min_due (s_housekeeping_due (self), wp_parked_next_end (self->parked));
    if (wp_parked_size (self->parked) > 0)
        wake = s_min_due (wake, self->next_parked_beat);
    wake = s_min_due (wake, self->stream_again);
    int64_t now = wp_time_now ();
    if (wake <= now)
        return 0;
    return (long) ((wake - now + 999) / 1000);
}

//  Binds the router to endpoint. Returns the port (tcp), 0, or -1.
static int
s_bind (s_broker_t *self, const char *endpoint)
{
    if (!self->cert && !self->config.insecure && !wp_endpoint_is_local (endpoint)) {
        s_log (self, 0, "refusing to listen on %s without CURVE: anyone who can reach it "
               "could use every queue (give a certificate and a key directory, or insecure)",
               endpoint);
        return -1;
    }
    if (zmq_bind (self->router, endpoint) == -1) {
        s_log (self, 0, "cannot bind to %s: %s", endpoint, zmq_strerror (zmq_errno ()));
        return -1;
    }
    char bound [1024] = "";
    size_t size = sizeof bound;
    zmq_getsockopt (self->router, ZMQ_LAST_ENDPOINT, bound, &size);
    s_log (self, 1, "listening on %s%s", bound, self->cert ? " (CURVE)" : "");
    if (strncmp (bound, "tcp://", 6))
        return 0;
    const char *colon = strrchr (bound, ':');
    self->last_port = colon ? atoi (colon + 1) : 0;
    return self->last_port;
}

//  Ends, with status, the waiting claims whose key was removed or whose
//  key's role no longer allows them.
static void
s_recheck_parked (s_broker_t *self)
{
    zlistx_t *refused = zlistx_new ();
    zlistx_t *pools = wp_parked_pools (self->parked);
    for (const char *pool = zlistx_first (pools); pool; pool = zlistx_next (pools))
        for (wp_call_t *call = wp_parked_first (self->parked, pool); call;
             call = wp_parked_next (self->parked, pool)) {
            bool was_final = call->final;
            if (!s_authorized (self, call))
                zlistx_add_end (refused, call);
            call->final = was_final;
        }
    zlistx_destroy (&pools);
    for (wp_call_t *call = zlistx_first (refused); call; call = zlistx_next (refused)) {
        wp_parked_remove (self->parked, call);
        if (call->stream)
            self->counters.stream_ended_refused++;
        s_send_and_destroy (self, &call);
    }
    if (zlistx_size (refused))
        s_log (self, 1, "ended %zu waiting claims of keys removed or changed",
               zlistx_size (refused));
    zlistx_destroy (&refused);
}

//  Reads the key directory again; replies OK and the changes, or ERROR.
static void
s_reload (s_broker_t *self)
{
    if (!self->keys_dir) {
        zstr_sendx (self->pipe, "ERROR", "no key directory to reload: CURVE is off", NULL);
        return;
    }
    char *error = NULL;
    wp_keys_t *keys = wp_keys_load (self->keys_dir, &error);
    if (!keys) {
        s_log (self, 0, "reloading keys: %s; the keys stay as they were", error);
        zstr_sendx (self->pipe, "ERROR", error, NULL);
        free (error);
        return;
    }
    char *changes = wp_keys_changes (self->keys, keys);
    wp_keys_destroy (&self->keys);
    self->keys = keys;
    self->counters.key_reloads++;
    s_log (self, 1, "keys reloaded from %s: %zu keys; %s", self->keys_dir,
           wp_keys_size (keys), changes);
    s_recheck_parked (self);
    zstr_sendx (self->pipe, "OK", changes, NULL);
    free (changes);
}

//  Answers the ZAP requests waiting; logs refusals, at most one line a second.
static void
s_serve_zap (s_broker_t *self)
{
    wp_zap_outcome_t outcome;
    while (wp_zap_handle (self->zap, self->keys, &outcome) == 0) {
        if (outcome.accepted) {
            self->counters.handshakes_accepted++;
            continue;
        }
        self->counters.handshakes_refused++;
        int64_t now = wp_time_now ();
        if (now - self->zap_logged_at < S_ZAP_LOG_EVERY_US) {
            self->zap_unlogged++;
            continue;
        }
        s_log (self, 1, "refused a CURVE connection from %s, key %s: %s (and %" PRIu64
               " more refusals since the last such line)", outcome.address,
               *outcome.public_key ? outcome.public_key : "(none)", outcome.reason,
               self->zap_unlogged);
        self->zap_logged_at = now;
        self->zap_unlogged = 0;
    }
}

static void
s_handle_command (s_broker_t *self)
{
    zmsg_t *msg = zmsg_recv (self->pipe);
    if (!msg)
        return;                 //  interrupted: the owner sends $TERM if it means it
    char *command = zmsg_popstr (msg);
    if (!command)
        ;
    else
    if (streq (command, "$TERM"))
        self->terminated = true;
    else
    if (streq (command, "BIND")) {
        char *endpoint = zmsg_popstr (msg);
        int port = endpoint ? s_bind (self, endpoint) : -1;
        zstr_sendf (self->pipe, "%d", port);
        zstr_free (&endpoint);
    }
    else
    if (streq (command, "PORT"))
        zstr_sendf (self->pipe, "%d", self->last_port);
    else
    if (streq (command, "RELOAD"))
        s_reload (self);
    else
    if (streq (command, "PAUSE") || streq (command, "RESUME")) {
        self->paused = streq (command, "PAUSE");
        zsock_signal (self->pipe, 0);
    }
    else
    if (streq (command, "STALL")) {
        char *msecs = zmsg_popstr (msg);
        self->stall_ms = msecs ? atoi (msecs) : 0;
        zstr_free (&msecs);
        zsock_signal (self->pipe, 0);
    }
    else
        s_log (self, 0, "broker: unknown command '%s'", command);
    zstr_free (&command);
    zmsg_destroy (&msg);
}

//  A pool another process on the store woke: worth a look only if claims
//  wait on it here.
static void
s_on_wake (const char *pool, void *arg)
{
    s_broker_t *self = (s_broker_t *) arg;
    if (wp_parked_has (self->parked, pool))
        zhashx_insert (self->woken, pool, (void *) 1);
}

//  Takes the store's wakes: the pools named are served by the next run;
//  every pool is when wakes may have been missed (listening restarted).
static void
s_take_wakes (s_broker_t *self)
{
    self->counters.store_wakes++;
    if (wp_store_wake_drain (self->store, s_on_wake, self)
    &&  wp_parked_size (self->parked) > 0)
        self->stream_again = wp_time_now ();
}

//  One turn of the loop: wait, end waits, read, run, reply.
static void
s_turn (s_broker_t *self)
{
    //  The ZAP handler is served while requests are paused: a test may
    //  connect a client then
    zmq_pollitem_t items [4];
    int count = 0, zap_at = -1, wake_at = -1, router_at = -1;
    items [count++] = (zmq_pollitem_t) { zsock_resolve (self->pipe), 0, ZMQ_POLLIN, 0 };
    if (self->zap) {
        zap_at = count;
        items [count++] = (zmq_pollitem_t) { self->zap, 0, ZMQ_POLLIN, 0 };
    }
    //  Other brokers on the store tell us of items they made claimable
    int64_t wake_retry = 0;
    int wake_fd = wp_store_wake_fd (self->store, &wake_retry);
    if ((wake_fd >= 0 || wake_retry) && !self->store_shared) {
        self->store_shared = true;
        self->next_housekeeping = s_min_due (self->next_housekeeping,
                                             wp_time_now () + S_SHARED_HOUSEKEEPING_US);
    }
    if (wake_fd >= 0) {
        wake_at = count;
        items [count++] = (zmq_pollitem_t) { NULL, wake_fd, ZMQ_POLLIN, 0 };
    }
    if (!self->paused) {
        router_at = count;
        items [count++] = (zmq_pollitem_t) { self->router, 0, ZMQ_POLLIN, 0 };
    }
    long timeout = s_poll_timeout (self);
    if (wake_retry) {
        int64_t until = wake_retry - wp_time_now ();
        long retry_ms = until <= 0 ? 0 : (long) ((until + 999) / 1000);
        if (retry_ms < timeout)
            timeout = retry_ms;
    }
    if (zmq_poll (items, count, timeout) == -1) {
        if (zmq_errno () == ETERM)
            self->terminated = true;
        return;                 //  EINTR: a signal; the owner sends $TERM if it is ours
    }
    self->turn++;
    if (items [0].revents & ZMQ_POLLIN) {
        s_handle_command (self);
        if (self->terminated)
            return;
    }
    if (zap_at >= 0 && (items [zap_at].revents & ZMQ_POLLIN))
        s_serve_zap (self);
    int64_t now = wp_time_now ();
    if ((wake_at >= 0 && (items [wake_at].revents & (ZMQ_POLLIN | ZMQ_POLLERR)))
    ||  (wake_retry && now >= wake_retry))
        s_take_wakes (self);
    s_end_waits (self, now);
    if (router_at >= 0 && (items [router_at].revents & ZMQ_POLLIN))
        s_read_batch (self);
    bool housekeeping = now >= s_housekeeping_due (self);
    bool beat = wp_parked_size (self->parked) > 0 && self->next_parked_beat
             && now >= self->next_parked_beat;
    bool again = self->stream_again && now >= self->stream_again;
    bool woken = zhashx_size (self->woken) > 0;
    if (self->batch_size > 0 || housekeeping || beat || again || woken)
        s_run (self, housekeeping);
}

static s_broker_t *
s_broker_new (zsock_t *pipe, s_args_t *args)
{
    s_broker_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    self->pipe = pipe;
    self->config = args->config;
    self->store_spec = args->store_spec;
    self->config.store = self->store_spec;
    self->store = args->store;
    self->curve_secret = args->curve_secret;
    self->config.curve_secret = self->curve_secret;
    self->keys_dir = args->keys_dir;
    self->config.keys_dir = self->keys_dir;
    self->cert = args->cert;
    self->keys = args->keys;
    free (args);

    self->own_context = self->cert != NULL;
    self->context = self->own_context ? zmq_ctx_new () : zsys_init ();
    if (!self->context)
        abort ();
    self->router = zmq_socket (self->context, ZMQ_ROUTER);
    if (!self->router)
        abort ();
    int on = 1, sndhwm = S_ROUTER_SNDHWM, rcvhwm = S_ROUTER_RCVHWM, linger = S_ROUTER_LINGER_MS;
    int64_t maxmsgsize = (int64_t) self->config.max_message * 2;
    zmq_setsockopt (self->router, ZMQ_ROUTER_MANDATORY, &on, sizeof on);
    zmq_setsockopt (self->router, ZMQ_SNDHWM, &sndhwm, sizeof sndhwm);
    zmq_setsockopt (self->router, ZMQ_RCVHWM, &rcvhwm, sizeof rcvhwm);
    zmq_setsockopt (self->router, ZMQ_TCP_KEEPALIVE, &on, sizeof on);
    zmq_setsockopt (self->router, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (self->router, ZMQ_MAXMSGSIZE, &maxmsgsize, sizeof maxmsgsize);
    if (self->cert) {
        //  The ZAP handler is bound before the router is, so no connection
        //  is ever made without it (libzmq admits every key when none is)
        self->zap = zmq_socket (self->context, ZMQ_REP);
        if (!self->zap || zmq_bind (self->zap, S_ZAP_ENDPOINT))
            abort ();
        zmq_setsockopt (self->router, ZMQ_CURVE_SERVER, &on, sizeof on);
        zmq_setsockopt (self->router, ZMQ_CURVE_SECRETKEY, zcert_secret_key (self->cert), 32);
        zmq_setsockopt (self->router, ZMQ_ZAP_DOMAIN, "workpool", 8);
    }
    self->peers = wp_peers_new ();
    self->quota = wp_quota_new (self->config.max_pending, self->config.max_pools);

    self->batch = calloc ((size_t) self->config.batch_max, sizeof *self->batch);
    if (!self->batch)
        abort ();
    self->parked = wp_parked_new ();
    self->streams = wp_streams_new (&self->counters);
    self->woken = zhashx_new ();
    self->credited = zhashx_new ();
    self->heartbeats = zhashx_new ();
    zhashx_set_destructor (self->heartbeats, s_free_item);

    //  Housekeeping first: reap what fell due while no broker was running
    int64_t now = wp_time_now ();
    self->next_housekeeping = now;
    if (self->config.retain_done > 0)
        self->next_purge = now;
    return self;
}

static void
s_broker_destroy (s_broker_t **self_p)
{
    s_broker_t *self = *self_p;
    wp_parked_destroy (&self->parked);     //  the subscriptions with it
    wp_streams_destroy (&self->streams);
    free (self->to_back.calls);
    zhashx_destroy (&self->woken);
    zhashx_destroy (&self->credited);
    zhashx_destroy (&self->heartbeats);
    free (self->batch);
    free (self->parked_now.calls);
    free (self->served.calls);
    free (self->gone.calls);
    //  Frames libzmq still holds keep their peers (wp_peer.c)
    zmq_close (self->router);
    if (self->zap)
        zmq_close (self->zap);
    if (self->own_context)
        zmq_ctx_term (self->context);
    wp_peers_destroy (&self->peers);
    wp_quota_destroy (&self->quota);
    wp_keys_destroy (&self->keys);
    zcert_destroy (&self->cert);
    wp_store_destroy (&self->store);
    free (self->store_spec);
    free (self->curve_secret);
    free (self->keys_dir);
    free (self);
    *self_p = NULL;
}

//  Drops implicit-heartbeat marks too old to throttle anything, so the
//  table holds only the workers seen lately.
static void
s_prune_heartbeats (s_broker_t *self)
{
    int64_t now = wp_time_now ();
    zlistx_t *stale = zlistx_new ();
    for (s_beat_t *beat = zhashx_first (self->heartbeats); beat;
         beat = zhashx_next (self->heartbeats))
        if (now - beat->last >= S_HOUSEKEEPING_MAX_US)
            zlistx_add_end (stale, (void *) zhashx_cursor (self->heartbeats));
    for (const char *key = zlistx_first (stale); key; key = zlistx_next (stale))
        zhashx_delete (self->heartbeats, key);
    zlistx_destroy (&stale);
}

static void
s_broker_actor (zsock_t *pipe, void *args)
{
    s_broker_t *self = s_broker_new (pipe, (s_args_t *) args);
    zsock_signal (pipe, 0);
    int64_t next_prune = wp_time_now () + S_HOUSEKEEPING_MAX_US;
    while (!self->terminated) {
        s_turn (self);
        int64_t now = wp_time_now ();
        if (zhashx_size (self->heartbeats) > 1000 && now >= next_prune) {
            s_prune_heartbeats (self);
            next_prune = now + S_HOUSEKEEPING_MAX_US;
        }
        if (now >= self->next_peer_prune) {
            wp_peers_prune (self->peers);
            self->next_peer_prune = now + S_PEER_PRUNE_US;
        }
        //  Large replies freed by libzmq's thread leave the heap high;
        //  give it back once a good deal has been released
        self->released += wp_peers_take_released (self->peers);
        if (self->released >= S_TRIM_AFTER_BYTES && now - self->trimmed_at >= S_TRIM_EVERY_US) {
            malloc_trim (0);
            self->released = 0;
            self->trimmed_at = now;
        }
    }
    //  Stop: the last batch is committed and answered; waits end now
    wp_call_t *call;
    size_t ended = 0;
    size_t streams = 0;
    while ((call = wp_parked_any (self->parked))) {
        wp_parked_remove (self->parked, call);
        if (call->stream) {
            wp_call_set_error (call, WP_UNAVAILABLE, "the broker is stopping");
            streams++;
        }
        else {
            wp_call_set_no_item (call);
            ended++;
        }
        s_send_and_destroy (self, &call);
    }
    s_log (self, 1, "broker stopping: %zu waiting claims and %zu subscriptions answered, "
           "store closed", ended, streams);
    s_broker_destroy (&self);
}

//  ---------------------------------------------------------------------
//  Public API

static void
s_config_defaults (wp_broker_config_t *config)
{
    if (!(config->lease > 0))
        config->lease = WP_DEFAULT_LEASE_S;
    if (!(config->heartbeat > 0))
        config->heartbeat = WP_DEFAULT_HEARTBEAT_S;
    if (!(config->retain_done > 0))
        config->retain_done = 0;
    if (config->max_message == 0)
        config->max_message = 1 << 20;
    if (config->batch_max <= 0)
        config->batch_max = 256;
}

static char *
s_strdup_or_null (const char *text)
{
    char *copy = text ? strdup (text) : NULL;
    if (text && !copy)
        abort ();
    return copy;
}

//  Loads the broker's certificate and the key directory into args.
//  Returns 0, or -1 with *error (caller frees) saying why.
static int
s_load_security (s_args_t *args, char **error)
{
    const char *secret = args->config.curve_secret, *dir = args->config.keys_dir;
    if (!secret && !dir)
        return 0;
    if (!secret || !dir) {
        *error = strdup (secret ? "a CURVE certificate needs a key directory of the clients "
                                  "it accepts (--keys DIR)"
                                : "a key directory needs the broker's CURVE certificate "
                                  "(--curve-secret FILE)");
        if (!*error)
            abort ();
        return -1;
    }
    args->cert = zcert_load (secret);
    if (!args->cert
    ||  streq (zcert_secret_txt (args->cert), "0000000000000000000000000000000000000000")) {
        if (asprintf (error, "cannot use %s as the broker's CURVE certificate: %s", secret,
                      args->cert ? "it holds no secret key" : "no czmq certificate there") < 0)
            abort ();
        zcert_destroy (&args->cert);
        return -1;
    }
    args->keys = wp_keys_load (dir, error);
    if (!args->keys) {
        zcert_destroy (&args->cert);
        return -1;
    }
    if (wp_keys_size (args->keys) == 0)
        zsys_warning ("the key directory %s holds no usable key: no client can connect "
                      "until keys are added and the broker reloads them (SIGHUP)", dir);
    return 0;
}

//  Starts the actor on config and *store_p (taken). Returns NULL (the store
//  destroyed) with *error if the security settings cannot be loaded.
static zactor_t *
s_broker_start (const wp_broker_config_t *cfg, wp_store_t **store_p, char **error)
{
    s_args_t *args = calloc (1, sizeof *args);
    if (!args)
        abort ();
    args->config = *cfg;
    s_config_defaults (&args->config);
    args->store_spec = strdup (cfg->store ? cfg->store : "");
    if (!args->store_spec)
        abort ();
    args->curve_secret = s_strdup_or_null (cfg->curve_secret);
    args->keys_dir = s_strdup_or_null (cfg->keys_dir);
    args->config.curve_secret = args->curve_secret;
    args->config.keys_dir = args->keys_dir;
    args->store = *store_p;
    *store_p = NULL;
    if (s_load_security (args, error)) {
        wp_store_destroy (&args->store);
        free (args->store_spec);
        free (args->curve_secret);
        free (args->keys_dir);
        free (args);
        return NULL;
    }
    return zactor_new (s_broker_actor, args);
}

zactor_t *
wp_broker_new_with_store (const wp_broker_config_t *cfg, wp_store_t **store_p)
{
    assert (cfg && store_p && *store_p);
    char *error = NULL;
    zactor_t *actor = s_broker_start (cfg, store_p, &error);
    if (!actor) {
        zsys_error ("%s", error);
        free (error);
    }
    return actor;
}

zactor_t *
wp_broker_new (const wp_broker_config_t *cfg, char **error)
{
    assert (cfg);
    wp_broker_config_t config = *cfg;
    s_config_defaults (&config);
    wp_store_config_t store_config = {
        .sync_full = config.sync_full,
        .lease = config.lease,
        .heartbeat = config.heartbeat
    };
    wp_status status = WP_INTERNAL;
    char *message = NULL;
    wp_store_t *store = wp_store_open (config.store, &store_config, &status, &message);
    if (!store) {
        //  A PostgreSQL conninfo may hold a password: not in the log
        const char *shown = config.store ? config.store : "";
        if (strncmp (shown, "postgres:", 9) == 0)
            shown = "postgres:...";
        if (error) {
            if (asprintf (error, "cannot open store '%s': %s: %s", shown,
                          wp_strerror (status), message ? message : "") < 0)
                abort ();
        }
        free (message);
        return NULL;
    }
    char *reason = NULL;
    zactor_t *actor = s_broker_start (&config, &store, &reason);
    if (!actor) {
        if (error)
            *error = reason;
        else
            free (reason);
    }
    return actor;
}

int
wp_broker_bind (zactor_t *self, const char *endpoint)
{
    assert (self && endpoint);
    if (zstr_sendx (self, "BIND", endpoint, NULL))
        return -1;
    char *reply = zstr_recv (self);
    int port = reply ? atoi (reply) : -1;
    zstr_free (&reply);
    return port;
}
