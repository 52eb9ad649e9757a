/*  broker_actor: the broker actor in-process. What a client cannot arrange
    from outside: several requests in one batch (PAUSE / RESUME make the
    batch), a request that fails alone inside it, a commit that fails and a
    push that fails half-way through a PushMany (a store wrapper injects the
    faults), a request that waits longer than its timeout before it runs
    (STALL), and the actor's commands.  */
#include "wp_broker.h"
#include "wp_proto.h"
#include "wp_store_impl.h"
#include "wp_test.h"
#include <inttypes.h>

//  ---------------------------------------------------------------------
//  A store that forwards to a memory store, with faults on demand

static int s_fail_commit;                   //  commits fail while set
static const char *s_fail_push_id;          //  a push of this id fails

typedef struct {
    wp_store_t base;
    wp_store_t *inner;
} s_faulty_t;

#define INNER(self) (((s_faulty_t *) (self))->inner)

//  Returns rc with the inner store's message.
static wp_status
s_pass (wp_store_t *self, wp_status rc)
{
    snprintf (self->errmsg, sizeof self->errmsg, "%s", wp_store_errmsg (INNER (self)));
    return rc;
}

static void
s_f_destroy (wp_store_t *self)
{
    wp_store_destroy (&INNER (self));
    free (self);
}

static wp_status
s_f_begin (wp_store_t *self)
{
    return s_pass (self, wp_store_begin (INNER (self)));
}

static wp_status
s_f_commit (wp_store_t *self)
{
    if (__atomic_load_n (&s_fail_commit, __ATOMIC_SEQ_CST)) {
        wp_store_rollback (INNER (self));
        return wp_store_error (self, WP_UNAVAILABLE, "injected commit failure");
    }
    return s_pass (self, wp_store_commit (INNER (self)));
}

static void
s_f_rollback (wp_store_t *self)
{
    wp_store_rollback (INNER (self));
}

static wp_status
s_f_push (wp_store_t *self, const char *pool, const wp_push_entry_t *entry,
          char **id_out, bool *duplicate)
{
    const char *fail_id = __atomic_load_n (&s_fail_push_id, __ATOMIC_SEQ_CST);
    if (fail_id && entry->id && streq (entry->id, fail_id))
        return wp_store_error (self, WP_INTERNAL, "injected push failure");
    return s_pass (self, wp_store_push (INNER (self), pool, entry, id_out, duplicate));
}

static wp_status
s_f_claim (wp_store_t *self, const char *pool, const char *worker_id, double lease,
           wp_item_t **item_out)
{
    return s_pass (self, wp_store_claim (INNER (self), pool, worker_id, lease, item_out));
}

static wp_status
s_f_complete (wp_store_t *self, const char *pool, const char *id, const uint8_t *result,
              size_t result_size, const char *worker_id)
{
    return s_pass (self, wp_store_complete (INNER (self), pool, id, result, result_size, worker_id));
}

static wp_status
s_f_fail (wp_store_t *self, const char *pool, const char *id, const char *error,
          const char *worker_id, double retry_after, wp_item_state *state_out)
{
    return s_pass (self, wp_store_fail (INNER (self), pool, id, error, worker_id, retry_after, state_out));
}

static wp_status
s_f_size (wp_store_t *self, const char *pool, uint64_t *size_out)
{
    return s_pass (self, wp_store_size (INNER (self), pool, size_out));
}

static wp_status
s_f_release (wp_store_t *self, const char *pool, const char *worker_id, uint64_t *count_out)
{
    return s_pass (self, wp_store_release_by_worker (INNER (self), pool, worker_id, count_out));
}

static wp_status
s_f_get (wp_store_t *self, const char *pool, const char *id, wp_item_t **item_out)
{
    return s_pass (self, wp_store_get (INNER (self), pool, id, item_out));
}

static wp_status
s_f_renew (wp_store_t *self, const char *worker_id, double lease, uint64_t *count_out)
{
    return s_pass (self, wp_store_renew (INNER (self), worker_id, lease, count_out));
}

static wp_status
s_f_register (wp_store_t *self, const wp_worker_t *worker, wp_worker_t **worker_out)
{
    return s_pass (self, wp_store_register (INNER (self), worker, worker_out));
}

static wp_status
s_f_heartbeat (wp_store_t *self, const char *worker_id, const wp_meta_t *metadata)
{
    return s_pass (self, wp_store_heartbeat (INNER (self), worker_id, metadata));
}

static wp_status
s_f_update_status (wp_store_t *self, const char *worker_id, const char *status)
{
    return s_pass (self, wp_store_update_status (INNER (self), worker_id, status));
}

static wp_status
s_f_get_worker (wp_store_t *self, const char *worker_id, wp_worker_t **worker_out)
{
    return s_pass (self, wp_store_get_worker (INNER (self), worker_id, worker_out));
}

static wp_status
s_f_list (wp_store_t *self, const wp_worker_filter_t *filter, wp_worker_list_t **list_out)
{
    return s_pass (self, wp_store_list_workers (INNER (self), filter, list_out));
}

static wp_status
s_f_reap (wp_store_t *self, wp_reap_t *out)
{
    return s_pass (self, wp_store_reap (INNER (self), out));
}

static wp_status
s_f_next_due (wp_store_t *self, int64_t *next_out)
{
    return s_pass (self, wp_store_next_due (INNER (self), next_out));
}

static wp_status
s_f_purge (wp_store_t *self, double older_than, uint64_t *count_out)
{
    return s_pass (self, wp_store_purge (INNER (self), older_than, count_out));
}

static wp_status
s_f_stats (wp_store_t *self, wp_stats_t **stats_out)
{
    return s_pass (self, wp_store_stats (INNER (self), stats_out));
}

static wp_status
s_f_savepoint (wp_store_t *self)
{
    return s_pass (self, INNER (self)->ops->savepoint (INNER (self)));
}

static void
s_f_release_savepoint (wp_store_t *self)
{
    INNER (self)->ops->release (INNER (self));
}

static void
s_f_rollback_to (wp_store_t *self)
{
    INNER (self)->ops->rollback_to (INNER (self));
}

static wp_status
s_f_list_items (wp_store_t *self, const char *pool, const wp_item_state *statuses,
                size_t status_count, size_t limit, const char *cursor,
                wp_item_list_t **items_out, char **cursor_out)
{
    return s_pass (self, wp_store_list_items (INNER (self), pool, statuses, status_count,
                                              limit, cursor, items_out, cursor_out));
}

static wp_status
s_f_retry (wp_store_t *self, const char *pool, const char *id)
{
    return s_pass (self, wp_store_retry (INNER (self), pool, id));
}

static wp_status
s_f_retry_all (wp_store_t *self, const char *pool, uint64_t *count_out)
{
    return s_pass (self, wp_store_retry_all (INNER (self), pool, count_out));
}

static wp_status
s_f_cancel (wp_store_t *self, const char *pool, const char *id)
{
    return s_pass (self, wp_store_cancel (INNER (self), pool, id));
}

static wp_status
s_f_purge_pool (wp_store_t *self, const char *pool, const wp_item_state *statuses,
                size_t status_count, uint64_t *count_out)
{
    return s_pass (self, wp_store_purge_pool (INNER (self), pool, statuses, status_count,
                                              count_out));
}

static wp_status
s_f_set_paused (wp_store_t *self, const char *pool, bool paused)
{
    return s_pass (self, wp_store_set_paused (INNER (self), pool, paused));
}

//  The batch calls are left to wp_store.c, so they run on the faulty
//  single calls above and a fault can strike half-way through a batch.
static const wp_store_ops_t s_faulty_ops = {
    .name = "faulty", .destroy = s_f_destroy, .begin = s_f_begin, .commit = s_f_commit,
    .rollback = s_f_rollback, .push = s_f_push, .claim = s_f_claim,
    .complete = s_f_complete, .fail = s_f_fail, .size = s_f_size,
    .release_by_worker = s_f_release, .get = s_f_get, .renew = s_f_renew,
    .register_worker = s_f_register, .heartbeat = s_f_heartbeat,
    .update_status = s_f_update_status, .get_worker = s_f_get_worker,
    .list_workers = s_f_list, .reap = s_f_reap, .next_due = s_f_next_due,
    .purge = s_f_purge, .stats = s_f_stats, .savepoint = s_f_savepoint,
    .release = s_f_release_savepoint, .rollback_to = s_f_rollback_to,
    .list_items = s_f_list_items, .retry = s_f_retry, .retry_all = s_f_retry_all,
    .cancel = s_f_cancel, .purge_pool = s_f_purge_pool, .set_paused = s_f_set_paused
};

static wp_store_t *
s_faulty_new (void)
{
    s_faulty_t *self = calloc (1, sizeof *self);
    CHECK (self);
    wp_store_init (&self->base, &s_faulty_ops, NULL);
    self->inner = wp_store_memory_new (NULL);
    return &self->base;
}

//  ---------------------------------------------------------------------
//  A client: requests built from wp_request_t, replies decoded by id

typedef struct {
    zsock_t *socket;
    uint64_t next_id;
    wp_method methods [1024];       //  method of each request id, to decode its reply
} s_client_t;

static s_client_t *
s_client_new (const char *endpoint)
{
    s_client_t *self = calloc (1, sizeof *self);
    CHECK (self);
    self->socket = zsock_new_dealer (endpoint);
    CHECK (self->socket);
    zsock_set_rcvtimeo (self->socket, 20000);
    self->next_id = 1;
    return self;
}

static void
s_client_destroy (s_client_t **self_p)
{
    zsock_destroy (&(*self_p)->socket);
    free (*self_p);
    *self_p = NULL;
}

//  Sends req (its pointers borrowed); returns its request id.
static uint64_t
s_send (s_client_t *self, wp_request_t *req)
{
    CHECK (self->next_id < 1024);
    req->request_id = self->next_id++;
    self->methods [req->request_id] = req->method;
    uint8_t *header, *body;
    size_t header_size, body_size;
    CHECK (wp_request_encode (req, &header, &header_size, &body, &body_size) == 0);
    zmsg_t *msg = zmsg_new ();
    zmsg_addmem (msg, header, header_size);
    zmsg_addmem (msg, body, body_size);
    CHECK (zmsg_send (&msg, self->socket) == 0);
    free (header);
    free (body);
    return req->request_id;
}

//  Receives the next reply into reply (to clear with wp_reply_clear), or
//  returns false if none comes within timeout_ms.
static bool
s_recv (s_client_t *self, wp_reply_t *reply, int timeout_ms)
{
    zsock_set_rcvtimeo (self->socket, timeout_ms);
    zmsg_t *msg = zmsg_recv (self->socket);
    if (!msg)
        return false;
    CHECK (zmsg_size (msg) == 2);
    zframe_t *header = zmsg_first (msg);
    zframe_t *body = zmsg_next (msg);
    char errbuf [256];
    wp_reply_init (reply);
    CHECK (wp_reply_decode_header (reply, zframe_data (header), zframe_size (header),
                                   errbuf, sizeof errbuf) == WP_OK);
    CHECK (reply->request_id > 0 && reply->request_id < self->next_id);
    if (reply->status == WP_OK)
        CHECK (wp_reply_decode_body (reply, self->methods [reply->request_id],
                                     zframe_data (body), zframe_size (body),
                                     errbuf, sizeof errbuf) == WP_OK);
    zmsg_destroy (&msg);
    return true;
}

//  Sends req and returns the status of its reply; *reply_out (may be NULL)
//  gets the reply.
static wp_status
s_call (s_client_t *self, wp_request_t *req, wp_reply_t *reply_out)
{
    uint64_t id = s_send (self, req);
    wp_reply_t reply;
    CHECK (s_recv (self, &reply, 20000));
    CHECK (reply.request_id == id);
    wp_status status = reply.status;
    if (reply_out)
        *reply_out = reply;
    else
        wp_reply_clear (&reply);
    return status;
}

static uint8_t s_data [] = { 0x2a };            //  msgpack 42

static wp_request_t
s_push_request (const char *pool, const char *id, wp_push_entry_t *entry)
{
    wp_request_t req;
    wp_request_init (&req);
    req.method = WP_METHOD_PUSH;
    req.pool = (char *) pool;
    *entry = (wp_push_entry_t) { s_data, sizeof s_data, id, -1 };
    req.entries = entry;
    req.entry_count = 1;
    return req;
}

//  A PushMany of count entries, each with the given ids (borrowed).
static wp_request_t
s_push_many_request (const char *pool, const char **ids, wp_push_entry_t *entries, size_t count)
{
    wp_request_t req;
    wp_request_init (&req);
    req.method = WP_METHOD_PUSH_MANY;
    req.pool = (char *) pool;
    for (size_t i = 0; i < count; i++)
        entries [i] = (wp_push_entry_t) { s_data, sizeof s_data, ids [i], -1 };
    req.entries = entries;
    req.entry_count = count;
    return req;
}

//  Receives count replies, recording each one's status by request id.
static void
s_collect (s_client_t *client, int count, wp_status *status, size_t status_size)
{
    for (int i = 0; i < count; i++) {
        wp_reply_t reply;
        CHECK (s_recv (client, &reply, 20000));
        CHECK (reply.request_id < status_size);
        status [reply.request_id] = reply.status;
        wp_reply_clear (&reply);
    }
}

static wp_status
s_push (s_client_t *client, const char *pool, const char *id)
{
    wp_push_entry_t entry;
    wp_request_t req = s_push_request (pool, id, &entry);
    return s_call (client, &req, NULL);
}

static wp_status
s_get (s_client_t *client, const char *pool, const char *id)
{
    wp_request_t req;
    wp_request_init (&req);
    req.method = WP_METHOD_GET;
    req.pool = (char *) pool;
    req.id = (char *) id;
    return s_call (client, &req, NULL);
}

static uint64_t
s_size (s_client_t *client, const char *pool)
{
    wp_request_t req;
    wp_request_init (&req);
    req.method = WP_METHOD_SIZE;
    req.pool = (char *) pool;
    wp_reply_t reply;
    CHECK (s_call (client, &req, &reply) == WP_OK);
    uint64_t size = reply.count;
    wp_reply_clear (&reply);
    return size;
}

//  The value of a broker counter, from Broker.Stats.
static uint64_t
s_counter (s_client_t *client, const char *name)
{
    wp_request_t req;
    wp_request_init (&req);
    req.method = WP_METHOD_STATS;
    wp_reply_t reply;
    CHECK (s_call (client, &req, &reply) == WP_OK);
    CHECK (reply.stats);
    uint64_t value = UINT64_MAX;
    for (size_t i = 0; i < reply.stats->counter_count; i++)
        if (streq (reply.stats->counters [i].name, name))
            value = reply.stats->counters [i].value;
    wp_reply_clear (&reply);
    CHECK (value != UINT64_MAX);
    return value;
}

static void
s_command (zactor_t *broker, const char *command, const char *arg)
{
    zstr_sendx (broker, command, arg, NULL);
    CHECK (zsock_wait (broker) == 0);
}

static zactor_t *
s_broker (const char *store, const char *endpoint)
{
    wp_broker_config_t cfg = WP_BROKER_CONFIG_DEFAULT;
    cfg.store = store;
    cfg.log_level = 0;
    char *error = NULL;
    zactor_t *broker = wp_broker_new (&cfg, &error);
    if (!broker)
        fprintf (stderr, "cannot start the broker: %s\n", error);
    CHECK (broker);
    CHECK (wp_broker_bind (broker, endpoint) >= 0);
    return broker;
}

static zactor_t *
s_faulty_broker (const char *endpoint)
{
    wp_broker_config_t cfg = WP_BROKER_CONFIG_DEFAULT;
    cfg.store = "faulty";
    cfg.log_level = 0;
    wp_store_t *store = s_faulty_new ();
    zactor_t *broker = wp_broker_new_with_store (&cfg, &store);
    CHECK (broker && !store);
    CHECK (wp_broker_bind (broker, endpoint) == 0);
    return broker;
}

//  ---------------------------------------------------------------------
//  The tests

//  Requests waiting together run in one batch: pipelined pushes from
//  several sockets share commits. inproc delivers a message to the
//  broker's socket as zmq_send returns, so PAUSE/RESUME make one batch.
static void
s_test_group_commit (void)
{
    zactor_t *broker = s_broker ("memory", "inproc://wp-broker-group");
    s_client_t *clients [4];
    for (int k = 0; k < 4; k++)
        clients [k] = s_client_new ("inproc://wp-broker-group");
    CHECK (s_counter (clients [0], "commits") >= 1);
    uint64_t batches_before = s_counter (clients [0], "batches");

    s_command (broker, "PAUSE", NULL);
    char ids [4][50][16];
    uint64_t first [4];
    for (int k = 0; k < 4; k++) {
        first [k] = clients [k]->next_id;
        for (int i = 0; i < 50; i++) {
            snprintf (ids [k][i], sizeof ids [k][i], "g%d-%d", k, i);
            wp_push_entry_t entry;
            wp_request_t req = s_push_request ("group", ids [k][i], &entry);
            s_send (clients [k], &req);
        }
    }
    s_command (broker, "RESUME", NULL);
    for (int k = 0; k < 4; k++) {
        bool seen [50] = { false };
        for (int i = 0; i < 50; i++) {
            wp_reply_t reply;
            CHECK (s_recv (clients [k], &reply, 20000));
            CHECK (reply.status == WP_OK);
            size_t index = reply.request_id - first [k];
            CHECK (index < 50 && !seen [index]);
            seen [index] = true;
            CHECK (reply.id_count == 1 && streq (reply.ids [0], ids [k][index]));
            wp_reply_clear (&reply);
        }
    }
    CHECK (s_size (clients [0], "group") == 200);
    uint64_t batches = s_counter (clients [0], "batches") - batches_before;
    printf ("group commit: 200 pushes in %" PRIu64 " batches, largest %" PRIu64 "\n",
            batches, s_counter (clients [0], "batch_max_seen"));
    CHECK (s_counter (clients [0], "batch_max_seen") > 1);
    CHECK (batches < 200);
    for (int k = 0; k < 4; k++)
        s_client_destroy (&clients [k]);
    zactor_destroy (&broker);
}

//  A bad request fails alone; the others of its batch commit.
static void
s_test_fails_alone (void)
{
    zactor_t *broker = s_broker ("memory", "inproc://wp-broker-alone");
    s_client_t *client = s_client_new ("inproc://wp-broker-alone");
    s_command (broker, "PAUSE", NULL);
    wp_push_entry_t entry_a, entry_b, many [2];
    wp_request_t push_a = s_push_request ("alone", "a", &entry_a);
    wp_request_t push_b = s_push_request ("alone", "b", &entry_b);
    wp_request_t complete, push_many;
    wp_request_init (&complete);
    complete.method = WP_METHOD_COMPLETE;
    complete.pool = (char *) "alone";
    complete.id = (char *) "nope";
    const char *many_ids [] = { "m1", "m2" };
    push_many = s_push_many_request ("alone", many_ids, many, 2);
    wp_request_t fail_ = complete;
    fail_.method = WP_METHOD_FAIL;

    uint64_t id_a = s_send (client, &push_a);
    uint64_t id_complete = s_send (client, &complete);
    uint64_t id_fail = s_send (client, &fail_);
    uint64_t id_b = s_send (client, &push_b);
    uint64_t id_many = s_send (client, &push_many);
    s_command (broker, "RESUME", NULL);
    wp_status status [16] = { 0 };
    s_collect (client, 5, status, 16);
    CHECK (status [id_a] == WP_OK);
    CHECK (status [id_complete] == WP_NOT_FOUND);
    CHECK (status [id_fail] == WP_NOT_FOUND);
    CHECK (status [id_b] == WP_OK);
    CHECK (status [id_many] == WP_OK);
    CHECK (s_get (client, "alone", "a") == WP_OK);
    CHECK (s_get (client, "alone", "b") == WP_OK);
    CHECK (s_get (client, "alone", "m2") == WP_OK);
    CHECK (s_counter (client, "batch_max_seen") >= 5);
    CHECK (s_counter (client, "requests.WorkPool.Complete.NOT_FOUND") == 1);
    s_client_destroy (&client);
    zactor_destroy (&broker);
}

//  A failed commit: every request of the batch that could change
//  something gets the commit's error; reads keep their answers; a parked
//  claim served in that batch waits again and is served by the next push.
static void
s_test_commit_failure (void)
{
    zactor_t *broker = s_faulty_broker ("inproc://wp-broker-commit");
    s_client_t *client = s_client_new ("inproc://wp-broker-commit");
    s_client_t *waiter = s_client_new ("inproc://wp-broker-commit");
    CHECK (s_push (client, "cf", "before") == WP_OK);

    __atomic_store_n (&s_fail_commit, 1, __ATOMIC_SEQ_CST);
    s_command (broker, "PAUSE", NULL);
    wp_push_entry_t entry;
    wp_request_t push = s_push_request ("cf", "lost", &entry);
    wp_request_t size;
    wp_request_init (&size);
    size.method = WP_METHOD_SIZE;
    size.pool = (char *) "cf";
    uint64_t id_push = s_send (client, &push);
    uint64_t id_size = s_send (client, &size);
    s_command (broker, "RESUME", NULL);
    for (int i = 0; i < 2; i++) {
        wp_reply_t reply;
        CHECK (s_recv (client, &reply, 20000));
        if (reply.request_id == id_push) {
            CHECK (reply.status == WP_UNAVAILABLE);
            CHECK (strstr (reply.message, "injected commit failure"));
        }
        else {
            CHECK (reply.request_id == id_size);
            CHECK (reply.status == WP_OK);
        }
        wp_reply_clear (&reply);
    }
    __atomic_store_n (&s_fail_commit, 0, __ATOMIC_SEQ_CST);
    CHECK (s_get (client, "cf", "lost") == WP_NOT_FOUND);
    CHECK (s_counter (client, "commit_failures") == 1);

    //  A parked claim served in a failed batch waits again
    CHECK (s_size (client, "cf") == 1);
    wp_request_t claim;
    wp_request_init (&claim);
    claim.method = WP_METHOD_CLAIM;
    claim.pool = (char *) "cf-wait";
    claim.worker_id = (char *) "waiter";
    claim.wait = 30;
    uint64_t id_claim = s_send (waiter, &claim);
    while (s_counter (client, "parked") == 0)
        zclock_sleep (5);
    __atomic_store_n (&s_fail_commit, 1, __ATOMIC_SEQ_CST);
    CHECK (s_push (client, "cf-wait", "w1") == WP_UNAVAILABLE);
    __atomic_store_n (&s_fail_commit, 0, __ATOMIC_SEQ_CST);
    CHECK (s_counter (client, "parked") == 1);
    wp_reply_t reply;
    CHECK (!s_recv (waiter, &reply, 100));
    CHECK (s_push (client, "cf-wait", "w2") == WP_OK);
    CHECK (s_recv (waiter, &reply, 20000));
    CHECK (reply.request_id == id_claim && reply.status == WP_OK);
    CHECK (reply.item && streq (reply.item->id, "w2"));
    wp_reply_clear (&reply);

    //  A claim parked by a failing batch is answered with the failure
    __atomic_store_n (&s_fail_commit, 1, __ATOMIC_SEQ_CST);
    CHECK (s_call (waiter, &claim, NULL) == WP_UNAVAILABLE);
    __atomic_store_n (&s_fail_commit, 0, __ATOMIC_SEQ_CST);
    CHECK (s_counter (client, "parked") == 0);

    s_client_destroy (&client);
    s_client_destroy (&waiter);
    zactor_destroy (&broker);
}

//  A PushMany whose second push fails after the first succeeded: the store
//  undoes its first push (a savepoint in the group), so it leaves no trace
//  and the requests batched with it commit.
static void
s_test_partial_failure (void)
{
    zactor_t *broker = s_faulty_broker ("inproc://wp-broker-partial");
    s_client_t *client = s_client_new ("inproc://wp-broker-partial");
    __atomic_store_n (&s_fail_push_id, "y", __ATOMIC_SEQ_CST);
    s_command (broker, "PAUSE", NULL);
    wp_push_entry_t entry_1, entry_2, many [3];
    wp_request_t push_1 = s_push_request ("part", "a1", &entry_1);
    wp_request_t push_2 = s_push_request ("part", "a2", &entry_2);
    const char *many_ids [] = { "x", "y", "z" };
    wp_request_t push_many = s_push_many_request ("part", many_ids, many, 3);
    uint64_t id_1 = s_send (client, &push_1);
    uint64_t id_many = s_send (client, &push_many);
    uint64_t id_2 = s_send (client, &push_2);
    s_command (broker, "RESUME", NULL);
    wp_status status [16] = { 0 };
    s_collect (client, 3, status, 16);
    __atomic_store_n (&s_fail_push_id, NULL, __ATOMIC_SEQ_CST);
    CHECK (status [id_1] == WP_OK);
    CHECK (status [id_many] == WP_INTERNAL);
    CHECK (status [id_2] == WP_OK);
    CHECK (s_get (client, "part", "x") == WP_NOT_FOUND);
    CHECK (s_get (client, "part", "a1") == WP_OK);
    CHECK (s_get (client, "part", "a2") == WP_OK);
    CHECK (s_get (client, "part", "z") == WP_NOT_FOUND);
    CHECK (s_size (client, "part") == 2);
    s_client_destroy (&client);
    zactor_destroy (&broker);
}

//  Within a batch, a push goes to the claim that has waited longest, not
//  to a claim that comes after the push in the same batch; and a claim
//  that parks early in a batch is served by a push later in it.
static void
s_test_wake_in_batch (void)
{
    zactor_t *broker = s_broker ("memory", "inproc://wp-broker-wake");
    s_client_t *client = s_client_new ("inproc://wp-broker-wake");
    s_client_t *waiter = s_client_new ("inproc://wp-broker-wake");
    wp_request_t claim;
    wp_request_init (&claim);
    claim.method = WP_METHOD_CLAIM;
    claim.pool = (char *) "wake";
    claim.worker_id = (char *) "waiter";
    claim.wait = 30;
    uint64_t id_parked = s_send (waiter, &claim);
    while (s_counter (client, "parked") == 0)
        zclock_sleep (5);

    s_command (broker, "PAUSE", NULL);
    wp_push_entry_t entry_1, entry_2;
    wp_request_t push_1 = s_push_request ("wake", "i1", &entry_1);
    wp_request_t push_2 = s_push_request ("wake", "i2", &entry_2);
    wp_request_t at_once = claim;
    at_once.worker_id = (char *) "eager";
    at_once.wait = 0;
    wp_request_t late_waiter = claim;
    late_waiter.worker_id = (char *) "late";
    uint64_t id_push_1 = s_send (client, &push_1);
    uint64_t id_at_once = s_send (client, &at_once);
    uint64_t id_late = s_send (client, &late_waiter);
    uint64_t id_push_2 = s_send (client, &push_2);
    s_command (broker, "RESUME", NULL);

    wp_reply_t reply;
    CHECK (s_recv (waiter, &reply, 20000));
    CHECK (reply.request_id == id_parked && reply.status == WP_OK);
    CHECK (reply.item && streq (reply.item->id, "i1"));
    wp_reply_clear (&reply);
    for (int i = 0; i < 4; i++) {
        CHECK (s_recv (client, &reply, 20000));
        CHECK (reply.status == WP_OK);
        if (reply.request_id == id_at_once)
            CHECK (reply.item == NULL);
        else
        if (reply.request_id == id_late)
            CHECK (reply.item && streq (reply.item->id, "i2")
                   && streq (reply.item->claimed_by, "late"));
        else
            CHECK (reply.request_id == id_push_1 || reply.request_id == id_push_2);
        wp_reply_clear (&reply);
    }
    CHECK (s_counter (client, "parked") == 0);
    s_client_destroy (&client);
    s_client_destroy (&waiter);
    zactor_destroy (&broker);
}

//  A request whose timeout passes before it runs is not run.
static void
s_test_deadline (void)
{
    zactor_t *broker = s_broker ("memory", "inproc://wp-broker-deadline");
    s_client_t *client = s_client_new ("inproc://wp-broker-deadline");
    s_command (broker, "STALL", "100");
    wp_push_entry_t entry;
    wp_request_t push = s_push_request ("dl", "late", &entry);
    push.timeout_ms = 10;
    CHECK (s_call (client, &push, NULL) == WP_DEADLINE_EXCEEDED);
    push.timeout_ms = 20000;
    push.entries [0].id = (char *) "on-time";
    CHECK (s_call (client, &push, NULL) == WP_OK);
    s_command (broker, "STALL", "0");
    CHECK (s_get (client, "dl", "late") == WP_NOT_FOUND);
    CHECK (s_get (client, "dl", "on-time") == WP_OK);
    s_client_destroy (&client);
    zactor_destroy (&broker);
}

//  tcp binds, PORT, a bind that fails, a store that cannot open, a reply
//  to a client that has gone, and $TERM answering a parked claim.
static wp_status
s_register (s_client_t *client, const char *worker_id, double interval)
{
    wp_worker_t *worker = wp_worker_new ();
    worker->worker_id = strdup (worker_id);
    worker->heartbeat_interval = interval;
    wp_request_t req;
    wp_request_init (&req);
    req.method = WP_METHOD_REGISTER;
    req.worker = worker;
    req.worker_id = worker->worker_id;
    wp_status rc = s_call (client, &req, NULL);
    wp_worker_destroy (&worker);
    return rc;
}

static wp_status
s_heartbeat (s_client_t *client, const char *worker_id)
{
    wp_request_t req;
    wp_request_init (&req);
    req.method = WP_METHOD_HEARTBEAT;
    req.worker_id = (char *) worker_id;
    return s_call (client, &req, NULL);
}

static wp_request_t
s_claim_request (const char *pool, const char *worker_id, double wait, double lease)
{
    wp_request_t req;
    wp_request_init (&req);
    req.method = WP_METHOD_CLAIM;
    req.pool = (char *) pool;
    req.worker_id = (char *) worker_id;
    req.wait = wait;
    req.lease = lease;
    return req;
}

//  A worker waiting in a claim is alive (PROTOCOL.md section 7): a worker
//  with a 0.2 s heartbeat that waits 1.5 s (more than 2 x its interval,
//  when a silent worker is lost) is not declared lost, keeps the lease of
//  the item it holds, and its next heartbeat is accepted; a worker that
//  says nothing for as long is lost, so the test can tell the difference.
static void
s_test_waiting_is_alive (void)
{
    zactor_t *broker = s_broker ("memory", "inproc://wp-broker-alive");
    s_client_t *client = s_client_new ("inproc://wp-broker-alive");
    CHECK (s_register (client, "sleepy", 0.2) == WP_OK);
    CHECK (s_register (client, "silent", 0.2) == WP_OK);
    CHECK (s_push (client, "held", "h1") == WP_OK);
    wp_request_t take = s_claim_request ("held", "sleepy", 0, 0.5);
    wp_reply_t reply;
    CHECK (s_call (client, &take, &reply) == WP_OK && reply.item);
    wp_reply_clear (&reply);
    CHECK (s_push (client, "held", "s1") == WP_OK);
    wp_request_t take_silent = s_claim_request ("held", "silent", 0, 0.5);
    CHECK (s_call (client, &take_silent, &reply) == WP_OK && reply.item);
    wp_reply_clear (&reply);

    int64_t start = zclock_usecs ();
    wp_request_t wait = s_claim_request ("nap", "sleepy", 1.5, 0);
    CHECK (s_call (client, &wait, &reply) == WP_OK && !reply.item);
    wp_reply_clear (&reply);
    CHECK (zclock_usecs () - start >= 1400000);
    CHECK (s_heartbeat (client, "sleepy") == WP_OK);
    CHECK (s_heartbeat (client, "silent") == WP_FAILED_PRECONDITION);

    wp_request_t get = { 0 };
    wp_request_init (&get);
    get.method = WP_METHOD_GET;
    get.pool = (char *) "held";
    get.id = (char *) "h1";
    CHECK (s_call (client, &get, &reply) == WP_OK);
    CHECK (reply.item->status == WP_ITEM_CLAIMED && streq (reply.item->claimed_by, "sleepy"));
    CHECK (reply.item->attempts == 0);
    wp_reply_clear (&reply);
    get.id = (char *) "s1";
    CHECK (s_call (client, &get, &reply) == WP_OK);
    CHECK (reply.item->status == WP_ITEM_PENDING && reply.item->attempts == 1);
    wp_reply_clear (&reply);

    //  A wait that ends with an item counts too
    wait.wait = 3;
    uint64_t id_wait = s_send (client, &wait);
    zclock_sleep (1000);
    s_client_t *producer = s_client_new ("inproc://wp-broker-alive");
    CHECK (s_push (producer, "nap", "n1") == WP_OK);
    CHECK (s_recv (client, &reply, 20000));
    CHECK (reply.request_id == id_wait && reply.item && streq (reply.item->id, "n1"));
    wp_reply_clear (&reply);
    CHECK (s_heartbeat (client, "sleepy") == WP_OK);
    CHECK (s_counter (client, "parked_heartbeats") > 0);
    s_client_destroy (&producer);
    s_client_destroy (&client);
    zactor_destroy (&broker);
}

//  A paused pool keeps its waiting claims parked; Resume serves them, and
//  a Retry of a poisoned item serves a claim waiting on its pool.
static void
s_test_pause_and_retry_wake (void)
{
    zactor_t *broker = s_broker ("memory", "inproc://wp-broker-pause");
    s_client_t *client = s_client_new ("inproc://wp-broker-pause");
    s_client_t *waiter = s_client_new ("inproc://wp-broker-pause");
    wp_request_t pause;
    wp_request_init (&pause);
    pause.method = WP_METHOD_PAUSE;
    pause.pool = (char *) "paused";
    CHECK (s_call (client, &pause, NULL) == WP_OK);
    CHECK (s_push (client, "paused", "p1") == WP_OK);
    wp_request_t claim = s_claim_request ("paused", "w", 10, 0);
    uint64_t id_claim = s_send (waiter, &claim);
    while (s_counter (client, "parked") == 0)
        zclock_sleep (5);
    CHECK (s_push (client, "paused", "p2") == WP_OK);
    wp_reply_t reply;
    CHECK (!s_recv (waiter, &reply, 300));
    CHECK (s_size (client, "paused") == 2);
    wp_request_t resume = pause;
    resume.method = WP_METHOD_RESUME;
    CHECK (s_call (client, &resume, NULL) == WP_OK);
    CHECK (s_recv (waiter, &reply, 20000));
    CHECK (reply.request_id == id_claim && reply.item && streq (reply.item->id, "p1"));
    wp_reply_clear (&reply);

    //  p2 poisoned (max_retries 0 fails it at once), then retried
    wp_request_t take = s_claim_request ("paused", "w", 0, 0);
    CHECK (s_call (client, &take, &reply) == WP_OK && reply.item);
    wp_reply_clear (&reply);
    wp_request_t fail;
    wp_request_init (&fail);
    fail.method = WP_METHOD_FAIL;
    fail.pool = (char *) "paused";
    fail.id = (char *) "p2";
    fail.worker_id = (char *) "w";
    for (int attempt = 0; attempt < WP_DEFAULT_MAX_RETRIES; attempt++) {
        CHECK (s_call (client, &fail, &reply) == WP_OK);
        bool poisoned = reply.item_state == WP_ITEM_POISONED;
        wp_reply_clear (&reply);
        if (poisoned)
            break;
        CHECK (s_call (client, &take, &reply) == WP_OK && reply.item);
        wp_reply_clear (&reply);
    }
    id_claim = s_send (waiter, &claim);
    while (s_counter (client, "parked") == 0)
        zclock_sleep (5);
    wp_request_t retry;
    wp_request_init (&retry);
    retry.method = WP_METHOD_RETRY;
    retry.pool = (char *) "paused";
    retry.all = true;
    CHECK (s_call (client, &retry, &reply) == WP_OK && reply.count == 1);
    wp_reply_clear (&reply);
    CHECK (s_recv (waiter, &reply, 20000));
    CHECK (reply.request_id == id_claim && reply.item && streq (reply.item->id, "p2"));
    CHECK (reply.item->attempts == 0);
    wp_reply_clear (&reply);
    s_client_destroy (&waiter);
    s_client_destroy (&client);
    zactor_destroy (&broker);
}

static void
s_test_actor (const char *tmp)
{
    wp_broker_config_t cfg = WP_BROKER_CONFIG_DEFAULT;
    cfg.store = "nonsense";
    char *error = NULL;
    CHECK (wp_broker_new (&cfg, &error) == NULL);
    CHECK (error && strstr (error, "nonsense"));
    free (error);

    char store [512];
    snprintf (store, sizeof store, "sqlite:%s/actor.db", tmp);
    zactor_t *broker = s_broker (store, "tcp://127.0.0.1:*");
    zstr_send (broker, "PORT");
    char *port_text = zstr_recv (broker);
    int port = atoi (port_text);
    zstr_free (&port_text);
    CHECK (port > 0);
    CHECK (wp_broker_bind (broker, "tcp://no-such-interface-name:1") == -1);
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    s_client_t *client = s_client_new (endpoint);
    CHECK (s_push (client, "actor", "one") == WP_OK);

    //  A client that goes while its claim waits: the "no item" at the end
    //  of the wait cannot be delivered and is dropped. Whether the broker's
    //  I/O thread has seen the connection close by then is up to the
    //  machine, so try until one is dropped.
    wp_request_t claim;
    wp_request_init (&claim);
    claim.method = WP_METHOD_CLAIM;
    claim.pool = (char *) "idle";
    claim.worker_id = (char *) "w";
    uint64_t dropped = s_counter (client, "replies_dropped");
    for (int attempt = 0; attempt < 50 && s_counter (client, "replies_dropped") == dropped;
         attempt++) {
        s_client_t *quitter = s_client_new (endpoint);
        claim.wait = 0.5;
        s_send (quitter, &claim);
        while (s_counter (client, "parked") == 0)
            zclock_sleep (5);
        s_client_destroy (&quitter);
        while (s_counter (client, "parked") > 0)
            zclock_sleep (5);
    }
    CHECK (s_counter (client, "replies_dropped") == dropped + 1);

    //  $TERM answers a parked claim with no item
    claim.wait = 600;
    uint64_t id_claim = s_send (client, &claim);
    while (s_counter (client, "parked") == 0)
        zclock_sleep (5);
    zactor_destroy (&broker);
    wp_reply_t reply;
    CHECK (s_recv (client, &reply, 20000));
    CHECK (reply.request_id == id_claim && reply.status == WP_OK && reply.item == NULL);
    wp_reply_clear (&reply);
    s_client_destroy (&client);

    //  The store was closed cleanly: a new broker finds the item
    broker = s_broker (store, "inproc://wp-broker-reopen");
    client = s_client_new ("inproc://wp-broker-reopen");
    CHECK (s_get (client, "actor", "one") == WP_OK);
    s_client_destroy (&client);
    zactor_destroy (&broker);
}

//  Expects the next message on client to be a stream message of request
//  id with exactly the item ids given (in order).
static void
s_expect_stream (s_client_t *client, uint64_t id, const char **ids, size_t count)
{
    wp_reply_t reply;
    CHECK (s_recv (client, &reply, 20000));
    CHECK (reply.request_id == id && reply.status == WP_OK && !reply.end);
    CHECK (reply.items && reply.items->count == count);
    for (size_t i = 0; i < count; i++)
        CHECK (streq (reply.items->items [i]->id, ids [i]));
    wp_reply_clear (&reply);
}

static wp_status
s_complete (s_client_t *client, const char *pool, const char *id, const char *worker_id)
{
    wp_request_t req;
    wp_request_init (&req);
    req.method = WP_METHOD_COMPLETE;
    req.pool = (char *) pool;
    req.id = (char *) id;
    req.worker_id = (char *) worker_id;
    return s_call (client, &req, NULL);
}

//  A failed commit undoes exactly what the transaction did to the
//  subscriptions: the items it streamed (their credit is free again), the
//  credits it returned (still used), a replacement (the old stream goes
//  on) and an Unsubscribe (answered with the failure, the stream goes on).
static void
s_test_stream_commit_failure (void)
{
    zactor_t *broker = s_faulty_broker ("inproc://wp-broker-stream");
    s_client_t *client = s_client_new ("inproc://wp-broker-stream");
    s_client_t *worker = s_client_new ("inproc://wp-broker-stream");
    s_client_t *other = s_client_new ("inproc://wp-broker-stream");
    wp_request_t subscribe;
    wp_request_init (&subscribe);
    subscribe.method = WP_METHOD_SUBSCRIBE;
    subscribe.pool = (char *) "sf";
    subscribe.worker_id = (char *) "w";
    subscribe.credit = 2;
    uint64_t id_sub = s_send (worker, &subscribe);
    while (s_counter (client, "subscriptions") == 0)
        zclock_sleep (5);
    CHECK (s_push (client, "sf", "a") == WP_OK);
    s_expect_stream (worker, id_sub, (const char *[]) { "a" }, 1);

    //  An item streamed by a failed transaction is not sent nor counted
    __atomic_store_n (&s_fail_commit, 1, __ATOMIC_SEQ_CST);
    CHECK (s_push (client, "sf", "b") == WP_UNAVAILABLE);
    __atomic_store_n (&s_fail_commit, 0, __ATOMIC_SEQ_CST);
    wp_reply_t reply;
    CHECK (!s_recv (worker, &reply, 100));
    CHECK (s_push (client, "sf", "c") == WP_OK);
    s_expect_stream (worker, id_sub, (const char *[]) { "c" }, 1);

    //  A credit returned by a failed transaction is still used, and the
    //  item streamed in the same batch is not
    s_command (broker, "PAUSE", NULL);
    __atomic_store_n (&s_fail_commit, 1, __ATOMIC_SEQ_CST);
    wp_request_t complete;
    wp_request_init (&complete);
    complete.method = WP_METHOD_COMPLETE;
    complete.pool = (char *) "sf";
    complete.id = (char *) "a";
    complete.worker_id = (char *) "w";
    wp_push_entry_t entry;
    wp_request_t push = s_push_request ("sf", "d", &entry);
    uint64_t id_complete = s_send (client, &complete);
    uint64_t id_push = s_send (client, &push);
    s_command (broker, "RESUME", NULL);
    wp_status status [64] = { 0 };
    s_collect (client, 2, status, 64);
    __atomic_store_n (&s_fail_commit, 0, __ATOMIC_SEQ_CST);
    CHECK (status [id_complete] == WP_UNAVAILABLE && status [id_push] == WP_UNAVAILABLE);
    CHECK (!s_recv (worker, &reply, 100));
    CHECK (s_push (client, "sf", "e") == WP_OK);
    CHECK (!s_recv (worker, &reply, 100));          //  a and c still held: no credit
    CHECK (s_complete (client, "sf", "a", "w") == WP_OK);
    s_expect_stream (worker, id_sub, (const char *[]) { "e" }, 1);

    //  A replacement by a failed transaction: the old stream goes on
    __atomic_store_n (&s_fail_commit, 1, __ATOMIC_SEQ_CST);
    CHECK (s_call (other, &subscribe, NULL) == WP_UNAVAILABLE);
    __atomic_store_n (&s_fail_commit, 0, __ATOMIC_SEQ_CST);
    CHECK (!s_recv (worker, &reply, 100));
    CHECK (s_counter (client, "subscriptions") == 1);
    CHECK (s_push (client, "sf", "f") == WP_OK);
    CHECK (s_complete (client, "sf", "c", "w") == WP_OK);
    s_expect_stream (worker, id_sub, (const char *[]) { "f" }, 1);

    //  An Unsubscribe in a failed transaction fails; the stream goes on
    wp_request_t unsubscribe;
    wp_request_init (&unsubscribe);
    unsubscribe.method = WP_METHOD_UNSUBSCRIBE;
    unsubscribe.pool = (char *) "sf";
    unsubscribe.worker_id = (char *) "w";
    __atomic_store_n (&s_fail_commit, 1, __ATOMIC_SEQ_CST);
    CHECK (s_call (client, &unsubscribe, NULL) == WP_UNAVAILABLE);
    __atomic_store_n (&s_fail_commit, 0, __ATOMIC_SEQ_CST);
    CHECK (!s_recv (worker, &reply, 100));
    CHECK (s_push (client, "sf", "g") == WP_OK);
    CHECK (s_complete (client, "sf", "e", "w") == WP_OK);
    s_expect_stream (worker, id_sub, (const char *[]) { "g" }, 1);
    CHECK (s_counter (client, "stream_credits_returned") == 3);
    CHECK (s_counter (client, "stream_items") == 5);

    //  A committed one ends it: its final message, then its reply
    uint64_t id_unsub = s_send (worker, &unsubscribe);
    CHECK (s_recv (worker, &reply, 20000));
    CHECK (reply.request_id == id_sub && reply.status == WP_OK && reply.end);
    CHECK (reply.items && reply.items->count == 0);
    wp_reply_clear (&reply);
    CHECK (s_recv (worker, &reply, 20000));
    CHECK (reply.request_id == id_unsub && reply.status == WP_OK);
    wp_reply_clear (&reply);
    CHECK (s_counter (client, "subscriptions") == 0);

    //  $TERM ends an open subscription UNAVAILABLE
    id_sub = s_send (other, &subscribe);
    while (s_counter (client, "subscriptions") == 0)
        zclock_sleep (5);
    zactor_destroy (&broker);
    CHECK (s_recv (other, &reply, 20000));
    CHECK (reply.request_id == id_sub && reply.status == WP_UNAVAILABLE);
    wp_reply_clear (&reply);
    s_client_destroy (&client);
    s_client_destroy (&worker);
    s_client_destroy (&other);
}

int
main (void)
{
    char tmp [64];
    wp_test_dir_new (tmp, "wp-broker-actor");
    s_test_group_commit ();
    s_test_fails_alone ();
    s_test_commit_failure ();
    s_test_partial_failure ();
    s_test_wake_in_batch ();
    s_test_deadline ();
    s_test_waiting_is_alive ();
    s_test_pause_and_retry_wake ();
    s_test_stream_commit_failure ();
    s_test_actor (tmp);
    wp_test_remove (tmp);
    printf ("broker_actor: ok\n");
    return 0;
}
