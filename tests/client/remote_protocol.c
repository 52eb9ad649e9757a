/*  remote_protocol: the remote store's behaviour on the wire when the broker
    misbehaves, against a fake broker (a ROUTER in an actor, answering as
    each case scripts it): deadlines with no broker or a silent one, which
    requests are resent and which never, stale replies of earlier calls,
    duplicate reporting on a resent push, a resent complete whose first copy
    won, garbage frames, and error statuses passed through unchanged.  */
#include "client_util.h"
#include "wp_proto.h"
#include "wp_remote_store.h"

#include <pthread.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

//  ---------------------------------------------------------------------
//  The fake broker

typedef struct s_fake_t s_fake_t;

//  Decides the answer to the nth (from 1) request of its method: fills
//  reply and returns true to send it, false to stay silent.
typedef bool (s_script_fn) (s_fake_t *fake, const wp_request_t *request, int nth,
                            wp_reply_t *reply);

struct s_fake_t {
    pthread_mutex_t lock;
    s_script_fn *script;
    int counts [WP_METHOD_COUNT];   //  requests received, by method
    uint32_t last_timeout_ms;
    char *push_ids [8];             //  the id of each Push received
    int push_count;
    uint64_t held_id;               //  a request id held back, for the stale case
    bool garbage_first;             //  send a malformed message before each reply
};

static void
s_send_reply (zsock_t *router, zframe_t *identity, wp_reply_t *reply, wp_method method)
{
    uint8_t *header, *body;
    size_t header_size, body_size;
    CT_CHECK (wp_reply_encode (reply, method, &header, &header_size, &body, &body_size) == 0);
    zmsg_t *msg = zmsg_new ();
    zmsg_append (msg, &(zframe_t *) { zframe_dup (identity) });
    zmsg_addmem (msg, header, header_size);
    zmsg_addmem (msg, body, body_size);
    zmsg_send (&msg, router);
    free (header);
    free (body);
}

static void
s_fake_actor (zsock_t *pipe, void *args)
{
    s_fake_t *fake = args;
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    zsock_set_linger (router, 0);
    int port = zsock_bind (router, "tcp://127.0.0.1:*");
    zsock_signal (pipe, 0);
    zstr_sendf (pipe, "%d", port);
    zpoller_t *poller = zpoller_new (pipe, router, NULL);
    while (true) {
        void *which = zpoller_wait (poller, -1);
        if (which != router)
            break;
        zmsg_t *msg = zmsg_recv (router);
        zframe_t *identity = zmsg_pop (msg);
        zframe_t *header = zmsg_pop (msg);
        zframe_t *body = zmsg_pop (msg);
        wp_request_t request;
        wp_request_init (&request);
        bool replyable = false;
        char errbuf [256];
        CT_CHECK (header && body);
        CT_CHECK (wp_request_decode_header (&request, zframe_data (header), zframe_size (header),
                                            &replyable, errbuf, sizeof errbuf) == WP_OK);
        CT_CHECK (wp_request_decode_body (&request, zframe_data (body), zframe_size (body),
                                          errbuf, sizeof errbuf) == WP_OK);
        pthread_mutex_lock (&fake->lock);
        int nth = ++fake->counts [request.method];
        fake->last_timeout_ms = request.timeout_ms;
        if (request.method == WP_METHOD_PUSH && fake->push_count < 8)
            fake->push_ids [fake->push_count++] = strdup (request.entries [0].id);
        wp_reply_t reply;
        wp_reply_init (&reply);
        reply.request_id = request.request_id;
        bool answer = fake->script (fake, &request, nth, &reply);
        if (answer && fake->garbage_first) {
            zmsg_t *garbage = zmsg_new ();
            zmsg_append (garbage, &(zframe_t *) { zframe_dup (identity) });
            zmsg_addstr (garbage, "not msgpack at all");
            zmsg_addstr (garbage, "");
            zmsg_send (&garbage, router);
            garbage = zmsg_new ();
            zmsg_append (garbage, &(zframe_t *) { zframe_dup (identity) });
            zmsg_addstr (garbage, "one frame");
            zmsg_send (&garbage, router);
        }
        uint64_t held = answer ? fake->held_id : 0;
        if (held)
            fake->held_id = 0;
        pthread_mutex_unlock (&fake->lock);
        if (held) {
            //  The late answer to a request the client gave up on
            wp_reply_t late;
            wp_reply_init (&late);
            late.request_id = held;
            late.count = 111;
            s_send_reply (router, identity, &late, request.method);
        }
        if (answer)
            s_send_reply (router, identity, &reply, request.method);
        wp_reply_clear (&reply);
        wp_request_clear (&request);
        zframe_destroy (&identity);
        zframe_destroy (&header);
        zframe_destroy (&body);
        zmsg_destroy (&msg);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&router);
}

static zactor_t *
s_fake_start (s_fake_t *fake, s_script_fn *script, char **endpoint_p)
{
    memset (fake, 0, sizeof *fake);
    pthread_mutex_init (&fake->lock, NULL);
    fake->script = script;
    zactor_t *actor = zactor_new (s_fake_actor, fake);
    char *port = zstr_recv (actor);
    CT_CHECK (port && atoi (port) > 0);
    *endpoint_p = zsys_sprintf ("tcp://127.0.0.1:%s", port);
    zstr_free (&port);
    return actor;
}

static void
s_fake_stop (zactor_t **actor_p, s_fake_t *fake)
{
    zactor_destroy (actor_p);
    for (int i = 0; i < fake->push_count; i++)
        free (fake->push_ids [i]);
    pthread_mutex_destroy (&fake->lock);
}

static int
s_count (s_fake_t *fake, wp_method method)
{
    pthread_mutex_lock (&fake->lock);
    int count = fake->counts [method];
    pthread_mutex_unlock (&fake->lock);
    return count;
}

static char *
s_strdup (const char *text)
{
    char *copy = strdup (text);
    CT_CHECK (copy);
    return copy;
}

//  ---------------------------------------------------------------------
//  Scripts

//  Never answers anything.
static bool
s_silent (s_fake_t *fake, const wp_request_t *request, int nth, wp_reply_t *reply)
{
    return false;
}

//  Push: the first copy is lost, the second is reported a duplicate (as a
//  broker does when the first copy did arrive). Size: the first is held
//  back and answered (111) just before the second (222).
static bool
s_lossy (s_fake_t *fake, const wp_request_t *request, int nth, wp_reply_t *reply)
{
    if (request->method == WP_METHOD_PUSH) {
        if (nth % 2 == 1)
            return false;
        reply->ids = calloc (1, sizeof (char *));
        reply->duplicates = calloc (1, sizeof (bool));
        reply->ids [0] = s_strdup (request->entries [0].id);
        reply->duplicates [0] = true;
        reply->id_count = 1;
        return true;
    }
    if (request->method == WP_METHOD_SIZE) {
        if (nth == 1) {
            fake->held_id = request->request_id;
            return false;
        }
        reply->count = 222;
        return true;
    }
    reply->status = WP_UNIMPLEMENTED;
    reply->message = s_strdup ("not in this script");
    return true;
}

//  Complete and Fail: the first copy is taken (and its reply lost), the
//  second refused; Get shows what the first copy did.
static bool
s_first_copy (s_fake_t *fake, const wp_request_t *request, int nth, wp_reply_t *reply)
{
    if (request->method == WP_METHOD_COMPLETE || request->method == WP_METHOD_FAIL) {
        if (nth == 1)
            return false;
        reply->status = WP_FAILED_PRECONDITION;
        reply->message = s_strdup ("item is not claimed");
        return true;
    }
    //  CompleteMany: likewise per entry ("nope" is unknown)
    if (request->method == WP_METHOD_COMPLETE_MANY) {
        if (nth == 1)
            return false;
        size_t count = request->completion_count;
        reply->entry_statuses = calloc (count, sizeof (wp_status));
        reply->entry_messages = calloc (count, sizeof (char *));
        reply->entry_count = count;
        for (size_t i = 0; i < count; i++) {
            bool unknown = streq (request->completions [i].id, "nope");
            reply->entry_statuses [i] = unknown ? WP_NOT_FOUND : WP_FAILED_PRECONDITION;
            reply->entry_messages [i] = s_strdup (unknown ? "not found" : "item is not claimed");
        }
        return true;
    }
    //  A stream that never brings anything; its end is acknowledged
    if (request->method == WP_METHOD_UNSUBSCRIBE)
        return true;
    if (request->method == WP_METHOD_GET) {
        wp_item_t *item = wp_item_new ();
        item->id = s_strdup (request->id);
        item->pool = s_strdup (request->pool);
        item->data = malloc (1);
        item->data [0] = 0xc0;
        item->data_size = 1;
        item->max_retries = 3;
        item->created_at = wp_time_now ();
        if (streq (request->id, "done-by-me")) {
            item->status = WP_ITEM_DONE;
            item->claimed_by = s_strdup ("w1");
        }
        else
        if (streq (request->id, "done-by-other")) {
            item->status = WP_ITEM_DONE;
            item->claimed_by = s_strdup ("w2");
        }
        else {
            item->status = WP_ITEM_PENDING;
            item->attempts = 1;
            item->error = s_strdup ("boom");
        }
        reply->item = item;
        return true;
    }
    return false;
}

//  Answers every request with NOT_FOUND, after garbage.
static bool
s_not_found (s_fake_t *fake, const wp_request_t *request, int nth, wp_reply_t *reply)
{
    reply->status = WP_NOT_FOUND;
    reply->message = s_strdup ("no item 'x' in pool 'p'");
    return true;
}

//  ---------------------------------------------------------------------
//  Cases

static wp_store_t *
s_remote (const char *endpoint, double timeout, double retry)
{
    wp_status status;
    wp_store_t *store = wp_remote_store_new (endpoint, timeout, &status, NULL);
    CT_CHECK (store && wp_remote_store_is (store));
    wp_remote_store_set_retry_interval (store, retry);
    return store;
}

#define CT_STORE(store, expected, call) do { wp_status ct_rc_ = (call); \
    if (ct_rc_ != (expected)) { \
        fprintf (stderr, "%s:%d: %s returned %s (%s), expected %s\n", __FILE__, __LINE__, \
                 #call, wp_strerror (ct_rc_), wp_store_errmsg (store), wp_strerror (expected)); \
        exit (1); } } while (0)

//  No broker at all: UNAVAILABLE at the deadline, for every kind of call
static void
s_no_broker (void)
{
    int fd;
    int port = ct_dead_port (&fd);
    char *endpoint = zsys_sprintf ("tcp://127.0.0.1:%d", port);
    wp_store_t *store = s_remote (endpoint, 0.3, 0.05);
    uint64_t size;
    int64_t start = zclock_mono ();
    CT_STORE (store, WP_UNAVAILABLE, wp_store_size (store, "p", &size));
    CT_CHECK (strstr (wp_store_errmsg (store), endpoint));
    wp_item_t *item;
    CT_STORE (store, WP_UNAVAILABLE, wp_store_claim (store, "p", "w", 0, &item));
    CT_STORE (store, WP_UNAVAILABLE, wp_remote_store_claim_wait (store, "p", "w", 0.2, 0, &item));
    //  A generous bound, not a speed check: the calls did not hang
    CT_CHECK (zclock_mono () - start < 30000);
    //  Not available over the wire
    CT_STORE (store, WP_UNIMPLEMENTED, wp_store_begin (store));
    CT_STORE (store, WP_UNIMPLEMENTED, wp_store_commit (store));
    wp_store_rollback (store);
    CT_STORE (store, WP_UNIMPLEMENTED, wp_store_reap (store, NULL));
    int64_t next;
    CT_STORE (store, WP_UNIMPLEMENTED, wp_store_next_due (store, &next));
    CT_STORE (store, WP_UNIMPLEMENTED, wp_store_purge (store, 1, NULL));
    wp_store_destroy (&store);
    free (endpoint);
    close (fd);

    //  The same through the public API, ipc included
    char *dir = ct_tempdir ("nobroker");
    char *ipc = zsys_sprintf ("ipc://%s/none.sock", dir);
    wp_backend_t *backend = ct_open (ipc, 0.3);
    CT_STATUS (backend, WP_UNAVAILABLE, wp_backend_ping (backend, NULL, NULL));
    wp_backend_set_timeout (backend, 0.1);
    CT_CHECK (wp_backend_timeout (backend) == 0.1);
    CT_STATUS (backend, WP_UNAVAILABLE, wp_backend_get_worker (backend, "w", &(wp_worker_t *) { 0 }));
    wp_backend_set_timeout (backend, 0);
    CT_CHECK (wp_backend_timeout (backend) == 0.3);
    wp_backend_destroy (&backend);
    free (ipc);
    ct_rmtree (dir);
    free (dir);

    //  An endpoint ZeroMQ refuses
    wp_status status = WP_OK;
    char *message = NULL;
    CT_CHECK (wp_remote_store_new ("tcp://", 1, &status, &message) == NULL);
    CT_CHECK (status == WP_INVALID_ARGUMENT && message);
    free (message);
}

//  A broker that never answers: DEADLINE_EXCEEDED; safe requests are sent
//  again, claims and worker-less completes never
static void
s_silent_broker (void)
{
    s_fake_t fake;
    char *endpoint;
    zactor_t *actor = s_fake_start (&fake, s_silent, &endpoint);
    wp_store_t *store = s_remote (endpoint, 1.5, 0.1);
    uint64_t size;
    CT_STORE (store, WP_DEADLINE_EXCEEDED, wp_store_size (store, "p", &size));
    CT_CHECK (s_count (&fake, WP_METHOD_SIZE) >= 2);
    CT_CHECK (fake.last_timeout_ms > 0 && fake.last_timeout_ms <= 1500);
    wp_item_t *item;
    CT_STORE (store, WP_DEADLINE_EXCEEDED, wp_store_claim (store, "p", "w", 0, &item));
    wp_item_list_t *list;
    CT_STORE (store, WP_DEADLINE_EXCEEDED,
              wp_remote_store_claim_many (store, "p", "w", 5, 0, 0, &list));
    CT_STORE (store, WP_DEADLINE_EXCEEDED,
              wp_remote_store_complete_and_claim (store, "p", "i", NULL, 0, "w", 0, 0, &item));
    CT_STORE (store, WP_DEADLINE_EXCEEDED, wp_store_complete (store, "p", "i", NULL, 0, NULL));
    CT_STORE (store, WP_DEADLINE_EXCEEDED, wp_store_fail (store, "p", "i", "e", NULL, 0, NULL));
    CT_CHECK (s_count (&fake, WP_METHOD_CLAIM) == 1);
    CT_CHECK (s_count (&fake, WP_METHOD_CLAIM_MANY) == 1);
    CT_CHECK (s_count (&fake, WP_METHOD_COMPLETE_AND_CLAIM) == 1);
    CT_CHECK (s_count (&fake, WP_METHOD_COMPLETE) == 1);
    CT_CHECK (s_count (&fake, WP_METHOD_FAIL) == 1);
    //  With the worker named, a complete is safe to send again
    CT_STORE (store, WP_DEADLINE_EXCEEDED, wp_store_complete (store, "p", "i", NULL, 0, "w"));
    CT_CHECK (s_count (&fake, WP_METHOD_COMPLETE) >= 3);
    //  CompleteMany likewise: once without the worker, again with it
    wp_complete_entry_t entry = { "i", NULL, 0 };
    CT_STORE (store, WP_DEADLINE_EXCEEDED,
              wp_remote_store_complete_many (store, "p", &entry, 1, NULL, NULL));
    CT_CHECK (s_count (&fake, WP_METHOD_COMPLETE_MANY) == 1);
    CT_STORE (store, WP_DEADLINE_EXCEEDED,
              wp_remote_store_complete_many (store, "p", &entry, 1, "w", NULL));
    CT_CHECK (s_count (&fake, WP_METHOD_COMPLETE_MANY) >= 3);
    //  A waiting claim's deadline is its wait on top of the timeout
    wp_remote_store_set_timeout (store, 0.2);
    CT_STORE (store, WP_DEADLINE_EXCEEDED,
              wp_remote_store_claim_wait (store, "p", "w", 1.0, 0, &item));
    CT_CHECK (fake.last_timeout_ms > 200 && fake.last_timeout_ms <= 1200);
    wp_store_destroy (&store);
    s_fake_stop (&actor, &fake);
    free (endpoint);
}

//  Lost and late replies
static void
s_lossy_broker (void)
{
    s_fake_t fake;
    char *endpoint;
    zactor_t *actor = s_fake_start (&fake, s_lossy, &endpoint);
    wp_store_t *store = s_remote (endpoint, 10, 0.1);
    //  A push resent after a lost reply keeps its made id, and the
    //  duplicate the broker reports is ours: not a duplicate to the caller
    uint8_t data [] = { 0x01 };
    wp_push_entry_t entry = { data, 1, NULL, -1 };
    char *id = NULL;
    bool duplicate = true;
    CT_STORE (store, WP_OK, wp_store_push (store, "p", &entry, &id, &duplicate));
    CT_CHECK (!duplicate && strlen (id) == WP_UUID_LEN);
    CT_CHECK (fake.push_count == 2 && streq (fake.push_ids [0], id)
              && streq (fake.push_ids [1], id));
    free (id);
    //  A caller's own id that is a duplicate stays one
    entry.id = "mine";
    CT_STORE (store, WP_OK, wp_store_push (store, "p", &entry, &id, &duplicate));
    CT_CHECK (duplicate && streq (id, "mine"));
    free (id);
    //  A reply to a call that gave up is dropped, not taken for the next
    wp_remote_store_set_timeout (store, 0.3);
    wp_remote_store_set_retry_interval (store, 100);
    uint64_t size = 0;
    CT_STORE (store, WP_DEADLINE_EXCEEDED, wp_store_size (store, "p", &size));
    CT_STORE (store, WP_OK, wp_store_size (store, "p", &size));
    CT_CHECK (size == 222);
    //  And an unknown method's answer comes back as it was given
    CT_STORE (store, WP_UNIMPLEMENTED, wp_store_get_worker (store, "w", &(wp_worker_t *) { 0 }));
    CT_CHECK (streq (wp_store_errmsg (store), "not in this script"));
    wp_store_destroy (&store);
    s_fake_stop (&actor, &fake);
    free (endpoint);
}

//  A resent complete or fail whose first copy took effect reports success
static void
s_first_copy_broker (void)
{
    s_fake_t fake;
    char *endpoint;
    zactor_t *actor = s_fake_start (&fake, s_first_copy, &endpoint);
    wp_store_t *store = s_remote (endpoint, 10, 0.1);
    CT_STORE (store, WP_OK, wp_store_complete (store, "p", "done-by-me", NULL, 0, "w1"));
    CT_CHECK (s_count (&fake, WP_METHOD_COMPLETE) == 2 && s_count (&fake, WP_METHOD_GET) == 1);
    //  Done by someone else: the refusal stands
    CT_STORE (store, WP_FAILED_PRECONDITION,
              wp_store_complete (store, "p", "done-by-other", NULL, 0, "w1"));
    CT_CHECK (streq (wp_store_errmsg (store), "item is not claimed"));
    wp_item_state state = WP_ITEM_DONE;
    CT_STORE (store, WP_OK, wp_store_fail (store, "p", "failed", "boom", "w1", 0, &state));
    CT_CHECK (state == WP_ITEM_PENDING);
    CT_STORE (store, WP_FAILED_PRECONDITION, wp_store_fail (store, "p", "failed", "other", "w1", 0, &state));
    //  CompleteMany: each refused entry of the resend is checked with a get
    wp_complete_entry_t entries [3] = { { "done-by-me", NULL, 0 }, { "done-by-other", NULL, 0 },
                                        { "nope", NULL, 0 } };
    wp_status statuses [3];
    int gets = s_count (&fake, WP_METHOD_GET);
    CT_STORE (store, WP_OK, wp_remote_store_complete_many (store, "p", entries, 3, "w1", statuses));
    CT_CHECK (statuses [0] == WP_OK && statuses [1] == WP_FAILED_PRECONDITION
              && statuses [2] == WP_NOT_FOUND);
    CT_CHECK (s_count (&fake, WP_METHOD_COMPLETE_MANY) == 2
              && s_count (&fake, WP_METHOD_GET) == gets + 2);
    wp_store_destroy (&store);
    s_fake_stop (&actor, &fake);
    free (endpoint);
}

static wp_backend_t *
s_backend (const char *endpoint, double retry)
{
    wp_backend_options_t options = { .timeout = 10, .retry_interval = retry };
    wp_status rc;
    wp_backend_t *backend = wp_backend_open (endpoint, &options, &rc, NULL);
    CT_CHECK (backend);
    return backend;
}

//  The same through requests in flight (wp_pipeline, wp_subscription): the
//  check is a Get in flight beside the others, and its answer is the
//  completion's or the acknowledgement's outcome
static void
s_first_copy_in_flight (void)
{
    s_fake_t fake;
    char *endpoint;
    zactor_t *actor = s_fake_start (&fake, s_first_copy, &endpoint);
    wp_backend_t *backend = s_backend (endpoint, 0.1);
    wp_pipeline_t *pipeline = wp_pipeline_new (backend, 8);
    wp_pipeline_complete (pipeline, "p", "done-by-me", NULL, 0, "w1", (void *) 1);
    wp_pipeline_fail (pipeline, "p", "failed", "boom", "w1", (void *) 2);
    int answered = 0;
    wp_completion_t *done;
    while ((done = wp_pipeline_next (pipeline))) {
        if (done->status != WP_OK)
            fprintf (stderr, "in flight: %s: %s\n", wp_strerror (done->status), done->message);
        CT_CHECK (done->status == WP_OK);
        if (done->tag == (void *) 2)
            CT_CHECK (done->state == WP_ITEM_PENDING);
        answered++;
        wp_completion_destroy (&done);
    }
    CT_CHECK (answered == 2);
    CT_CHECK (s_count (&fake, WP_METHOD_COMPLETE) == 2 && s_count (&fake, WP_METHOD_FAIL) == 2
              && s_count (&fake, WP_METHOD_GET) == 2);
    //  Done by someone else: the refusal stands, in its words
    wp_pipeline_complete (pipeline, "p", "done-by-other", NULL, 0, "w1", NULL);
    done = wp_pipeline_next (pipeline);
    CT_CHECK (done && done->status == WP_FAILED_PRECONDITION
              && streq (done->message, "item is not claimed"));
    wp_completion_destroy (&done);
    wp_pipeline_destroy (&pipeline);
    wp_backend_destroy (&backend);
    s_fake_stop (&actor, &fake);
    free (endpoint);

    //  A subscription's acknowledgements, single and batched
    actor = s_fake_start (&fake, s_first_copy, &endpoint);
    backend = s_backend (endpoint, 0.1);
    wp_pool_t *pool = wp_backend_pool (backend, "p");
    wp_status rc;
    wp_subscription_t *sub = wp_subscription_new (pool, "w1", 4, 0, &rc, NULL);
    CT_CHECK (sub);
    CT_CHECK (wp_subscription_complete (sub, "done-by-me", NULL, 0) == WP_OK);
    wp_subscription_flush (sub);
    wp_subscription_stats_t stats;
    wp_subscription_stats (sub, &stats);
    CT_CHECK (stats.acked == 1 && stats.ack_failures == 0);
    CT_CHECK (wp_subscription_set_batch (sub, 3) == WP_OK);
    CT_CHECK (wp_subscription_complete (sub, "done-by-me", NULL, 0) == WP_OK);
    CT_CHECK (wp_subscription_complete (sub, "done-by-other", NULL, 0) == WP_OK);
    CT_CHECK (wp_subscription_complete (sub, "nope", NULL, 0) == WP_OK);
    wp_subscription_flush (sub);
    wp_subscription_stats (sub, &stats);
    CT_CHECK (stats.acked == 2 && stats.ack_failures == 2 && stats.acks_in_flight == 0);
    CT_CHECK (s_count (&fake, WP_METHOD_COMPLETE_MANY) == 2);
    //  (in the order their outcomes were known: "nope" at once, the other
    //  after its check)
    int failures = 0;
    char *id = NULL;
    char *why = NULL;
    while (wp_subscription_failure (sub, &id, &rc, &why)) {
        CT_CHECK ((streq (id, "done-by-other") && rc == WP_FAILED_PRECONDITION)
                  || (streq (id, "nope") && rc == WP_NOT_FOUND));
        CT_CHECK (*why);
        failures++;
        free (id);
        free (why);
    }
    CT_CHECK (failures == 2);
    CT_CHECK (wp_subscription_close (sub) == WP_OK);
    CT_CHECK (s_count (&fake, WP_METHOD_SUBSCRIBE) == 1
              && s_count (&fake, WP_METHOD_UNSUBSCRIBE) == 1);
    wp_subscription_destroy (&sub);
    wp_pool_destroy (&pool);
    wp_backend_destroy (&backend);
    s_fake_stop (&actor, &fake);
    free (endpoint);
}

//  Garbage is skipped; an error status and its words pass through
static void
s_error_broker (void)
{
    s_fake_t fake;
    char *endpoint;
    zactor_t *actor = s_fake_start (&fake, s_not_found, &endpoint);
    fake.garbage_first = true;
    wp_backend_t *backend = ct_open (endpoint, 10);
    wp_pool_t *pool = wp_backend_pool (backend, "p");
    wp_item_t *item = NULL;
    CT_STATUS (backend, WP_NOT_FOUND, wp_pool_get (pool, "x", &item));
    CT_CHECK (streq (wp_backend_errmsg (backend), "no item 'x' in pool 'p'"));
    CT_CHECK (item == NULL);
    //  Arguments are refused before anything is sent, as the stores do
    CT_STATUS (backend, WP_INVALID_ARGUMENT, wp_pool_get (pool, "", &item));
    wp_item_list_t *list = NULL;
    CT_STATUS (backend, WP_INVALID_ARGUMENT, wp_pool_claim_many (pool, "w", 1001, NULL, &list));
    CT_CHECK (s_count (&fake, WP_METHOD_GET) == 1 && s_count (&fake, WP_METHOD_CLAIM_MANY) == 0);
    wp_pool_destroy (&pool);
    wp_backend_destroy (&backend);
    s_fake_stop (&actor, &fake);
    free (endpoint);
}

static void *
s_end_context_later (void *context)
{
    zclock_sleep (300);
    zmq_ctx_shutdown (context);
    return NULL;
}

//  The context ending under a call that waits for its reply (every read
//  then fails with ETERM) ends the call with INTERNAL at once, not after a
//  busy loop to its deadline. In a child process, forked before this
//  process touches ZeroMQ: the context is gone for good afterwards.
static void
s_context_ends (void)
{
    pid_t pid = fork ();
    CT_CHECK (pid >= 0);
    if (pid == 0) {
        s_fake_t fake;
        char *endpoint;
        s_fake_start (&fake, s_silent, &endpoint);
        wp_store_t *store = s_remote (endpoint, 10, 0.1);
        pthread_t thread;
        CT_CHECK (pthread_create (&thread, NULL, s_end_context_later, zsys_init ()) == 0);
        int64_t start = zclock_mono ();
        wp_item_t *item = NULL;
        wp_status rc = wp_store_claim (store, "p", "w", 0, &item);
        int64_t took = zclock_mono () - start;
        if (rc != WP_INTERNAL || took > 5000) {
            fprintf (stderr, "claim returned %s (%s) after %lld ms, expected INTERNAL at once\n",
                     wp_strerror (rc), wp_store_errmsg (store), (long long) took);
            _exit (1);
        }
        _exit (0);
    }
    int wstatus;
    CT_CHECK (waitpid (pid, &wstatus, 0) == pid);
    CT_CHECK (WIFEXITED (wstatus) && WEXITSTATUS (wstatus) == 0);
}

int
main (void)
{
    s_context_ends ();
    printf ("ok - context ends\n");
    s_no_broker ();
    printf ("ok - no broker\n");
    s_silent_broker ();
    printf ("ok - silent broker\n");
    s_lossy_broker ();
    printf ("ok - lossy broker\n");
    s_first_copy_broker ();
    printf ("ok - first copy won\n");
    s_first_copy_in_flight ();
    printf ("ok - first copy won, in flight\n");
    s_error_broker ();
    printf ("ok - errors and garbage\n");
    return 0;
}
