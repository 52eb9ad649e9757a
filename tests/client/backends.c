/*  backends: one test body, run unchanged through the public API against
    "memory", "sqlite:PATH" and a broker endpoint (a broker on memory and one
    on SQLite): the promise that a program runs on any backend.  */
#include "client_util.h"

#include <pthread.h>
#include <unistd.h>
#include <string.h>

#define POOL "jobs"

static wp_item_t *
s_claim (wp_backend_t *backend, wp_pool_t *pool, const char *worker, double wait)
{
    wp_claim_options_t opts = { .wait = wait };
    wp_item_t *item = (wp_item_t *) 1;
    CT_OK (backend, wp_pool_claim (pool, worker, &opts, &item));
    return item;
}

static char *
s_push (wp_backend_t *backend, wp_pool_t *pool, uint64_t value)
{
    uint8_t buf [9];
    size_t size = ct_pack_uint (buf, value);
    char *id = NULL;
    CT_OK (backend, wp_pool_push (pool, buf, size, &id));
    CT_CHECK (id && strlen (id) == WP_UUID_LEN);
    return id;
}

//  The WorkPool calls, errors included
static void
s_pool_calls (wp_backend_t *backend)
{
    CT_CHECK (wp_backend_pool (backend, "") == NULL);
    CT_CHECK (strlen (wp_backend_errmsg (backend)) > 0);
    char long_name [300];
    memset (long_name, 'x', sizeof long_name - 1);
    long_name [sizeof long_name - 1] = 0;
    CT_CHECK (wp_backend_pool (backend, long_name) == NULL);

    wp_pool_t *pool = wp_backend_pool (backend, POOL);
    CT_CHECK (pool && streq (wp_pool_name (pool), POOL));
    uint64_t size = 99;
    CT_OK (backend, wp_pool_size (pool, &size));
    CT_CHECK (size == 0);

    //  Push: made ids, a given id, a duplicate, bad arguments
    char *a = s_push (backend, pool, 1);
    char *b = s_push (backend, pool, 2);
    uint8_t buf [9];
    size_t bufsize = ct_pack_uint (buf, 3);
    wp_push_entry_t entry = { buf, bufsize, "given", 1 };
    char *id = NULL;
    bool duplicate = true;
    CT_OK (backend, wp_pool_push_entry (pool, &entry, &id, &duplicate));
    CT_CHECK (streq (id, "given") && !duplicate);
    free (id);
    CT_OK (backend, wp_pool_push_entry (pool, &entry, &id, &duplicate));
    CT_CHECK (streq (id, "given") && duplicate);
    free (id);
    entry.max_retries = -5;
    entry.id = NULL;
    CT_STATUS (backend, WP_INVALID_ARGUMENT, wp_pool_push_entry (pool, &entry, &id, NULL));
    CT_CHECK (strlen (wp_backend_errmsg (backend)) > 0);
    CT_STATUS (backend, WP_INVALID_ARGUMENT, wp_pool_push (pool, buf, 0, &id));
    CT_OK (backend, wp_pool_size (pool, &size));
    CT_CHECK (size == 3);

    //  Claim takes the oldest; complete stores the result once
    wp_item_t *item = s_claim (backend, pool, "w1", 0);
    CT_CHECK (item && streq (item->id, a) && item->status == WP_ITEM_CLAIMED);
    CT_CHECK (streq (item->claimed_by, "w1") && ct_unpack_uint (item->data, item->data_size) == 1);
    CT_CHECK (item->max_retries == WP_DEFAULT_MAX_RETRIES && item->attempts == 0);
    wp_item_destroy (&item);
    uint8_t result [9];
    size_t result_size = ct_pack_uint (result, 101);
    CT_STATUS (backend, WP_FAILED_PRECONDITION, wp_pool_complete (pool, a, result, result_size, "w2"));
    CT_OK (backend, wp_pool_complete (pool, a, result, result_size, "w1"));
    CT_STATUS (backend, WP_FAILED_PRECONDITION, wp_pool_complete (pool, a, result, result_size, "w1"));
    CT_STATUS (backend, WP_NOT_FOUND, wp_pool_complete (pool, "nope", NULL, 0, NULL));
    CT_OK (backend, wp_pool_get (pool, a, &item));
    CT_CHECK (item->status == WP_ITEM_DONE && ct_unpack_uint (item->result, item->result_size) == 101);
    wp_item_destroy (&item);
    CT_STATUS (backend, WP_NOT_FOUND, wp_pool_get (pool, "nope", &item));

    //  Fail: back to pending in its place, then poisoned at max_retries
    item = s_claim (backend, pool, "w2", 0);
    CT_CHECK (item && streq (item->id, b));
    wp_item_destroy (&item);
    wp_item_state state = WP_ITEM_DONE;
    CT_STATUS (backend, WP_FAILED_PRECONDITION, wp_pool_fail (pool, b, "no", "w1", &state));
    CT_OK (backend, wp_pool_fail (pool, b, "boom", "w2", &state));
    CT_CHECK (state == WP_ITEM_PENDING);
    CT_OK (backend, wp_pool_get (pool, b, &item));
    CT_CHECK (item->attempts == 1 && streq (item->error, "boom") && !item->claimed_by);
    wp_item_destroy (&item);

    //  ClaimMany in push order; ReleaseByWorker; "given" poisons at once
    wp_item_list_t *list = NULL;
    CT_OK (backend, wp_pool_claim_many (pool, "w3", 10, NULL, &list));
    CT_CHECK (list->count == 2 && streq (list->items [0]->id, b)
              && streq (list->items [1]->id, "given"));
    wp_item_list_destroy (&list);
    CT_STATUS (backend, WP_INVALID_ARGUMENT, wp_pool_claim_many (pool, "w3", 0, NULL, &list));
    uint64_t count = 0;
    CT_OK (backend, wp_pool_release_by_worker (pool, "w3", &count));
    CT_CHECK (count == 2);
    CT_OK (backend, wp_pool_size (pool, &size));
    CT_CHECK (size == 2);
    item = s_claim (backend, pool, "w4", 0);
    CT_CHECK (streq (item->id, b) && item->attempts == 1);
    //  CompleteAndClaim: done, and the next one comes with it
    wp_item_t *next = NULL;
    CT_OK (backend, wp_pool_complete_and_claim (pool, b, NULL, 0, "w4", NULL, &next));
    CT_CHECK (next && streq (next->id, "given") && streq (next->claimed_by, "w4"));
    CT_OK (backend, wp_pool_fail (pool, "given", "bad", "w4", &state));
    CT_CHECK (state == WP_ITEM_POISONED);
    wp_item_destroy (&item);
    wp_item_destroy (&next);
    //  Nothing left: a claim says so, at once or after its wait
    CT_CHECK (s_claim (backend, pool, "w4", 0) == NULL);
    CT_CHECK (s_claim (backend, pool, "w4", 0.2) == NULL);
    wp_claim_options_t bad = { .wait = -1 };
    CT_STATUS (backend, WP_INVALID_ARGUMENT, wp_pool_claim (pool, "w4", &bad, &item));
    CT_STATUS (backend, WP_INVALID_ARGUMENT, wp_pool_claim (pool, "", NULL, &item));

    //  PushMany: all or nothing; made ids are never duplicates
    wp_push_entry_t entries [4];
    uint8_t datas [4][9];
    for (int i = 0; i < 4; i++) {
        size_t n = ct_pack_uint (datas [i], 10 + i);
        entries [i] = (wp_push_entry_t) { datas [i], n, NULL, -1 };
    }
    entries [3].id = "batch-given";
    char *ids [4] = { 0 };
    bool dups [4] = { true, true, true, true };
    CT_OK (backend, wp_pool_push_many (pool, entries, 4, ids, dups));
    for (int i = 0; i < 4; i++)
        CT_CHECK (ids [i] && !dups [i]);
    CT_CHECK (streq (ids [3], "batch-given"));
    for (int i = 0; i < 4; i++)
        zstr_free (&ids [i]);
    CT_OK (backend, wp_pool_push_many (pool, entries + 3, 1, ids, dups));
    CT_CHECK (dups [0] && streq (ids [0], "batch-given"));
    zstr_free (&ids [0]);
    entries [1].data_size = 0;
    CT_STATUS (backend, WP_INVALID_ARGUMENT, wp_pool_push_many (pool, entries, 4, ids, dups));
    CT_OK (backend, wp_pool_size (pool, &size));
    CT_CHECK (size == 4);
    CT_OK (backend, wp_pool_claim_many (pool, "w5", 3, NULL, &list));
    CT_CHECK (list->count == 3 && ct_unpack_uint (list->items [0]->data, 9) == 10);
    for (size_t i = 0; i < list->count; i++)
        CT_OK (backend, wp_pool_complete (pool, list->items [i]->id, NULL, 0, "w5"));
    wp_item_list_destroy (&list);
    item = s_claim (backend, pool, "w5", 0);
    CT_CHECK (item && streq (item->id, "batch-given"));
    CT_OK (backend, wp_pool_complete (pool, item->id, NULL, 0, NULL));
    wp_item_destroy (&item);

    //  Renew: the claims a worker holds, in every pool
    char *c = s_push (backend, pool, 3);
    item = s_claim (backend, pool, "w6", 0);
    CT_OK (backend, wp_backend_renew (backend, "w6", 60, &count));
    CT_CHECK (count == 1);
    CT_OK (backend, wp_pool_complete (pool, c, NULL, 0, "w6"));
    wp_item_destroy (&item);

    //  Stats: 6 done, 2 poisoned... as counted above
    wp_stats_t *stats = NULL;
    CT_OK (backend, wp_backend_stats (backend, &stats));
    const wp_pool_stats_t *counts = ct_pool_stats (stats, POOL);
    CT_CHECK (counts->pending == 0 && counts->claimed == 0);
    CT_CHECK (counts->done == 7 && counts->poisoned == 1);
    wp_stats_destroy (&stats);
    free (a);
    free (b);
    free (c);
    wp_pool_destroy (&pool);
}

//  CompleteMany: each entry as complete, per-entry statuses, one batch
static void
s_complete_many (wp_backend_t *backend)
{
    wp_pool_t *pool = wp_backend_pool (backend, "batch");
    const char *ids [5] = { "c0", "c1", "c2", "c3", "c4" };
    wp_push_entry_t pushes [5];
    uint8_t datas [5][9];
    for (int i = 0; i < 5; i++)
        pushes [i] = (wp_push_entry_t) { datas [i], ct_pack_uint (datas [i], i), ids [i], -1 };
    char *made [5] = { 0 };
    CT_OK (backend, wp_pool_push_many (pool, pushes, 5, made, NULL));
    for (int i = 0; i < 5; i++)
        zstr_free (&made [i]);
    wp_item_list_t *list = NULL;
    CT_OK (backend, wp_pool_claim_many (pool, "w1", 3, NULL, &list));       //  c0 c1 c2
    CT_CHECK (list->count == 3);
    wp_item_list_destroy (&list);
    wp_item_t *item = s_claim (backend, pool, "w2", 0);                     //  c3
    CT_CHECK (item && streq (item->id, "c3"));
    wp_item_destroy (&item);

    //  Mixed outcomes: unknown, another worker's, unclaimed fail alone
    uint8_t result [9];
    size_t result_size = ct_pack_uint (result, 4242);
    wp_complete_entry_t entries [6] = {
        { "c0", result, result_size }, { "nope", NULL, 0 }, { "c1", NULL, 0 },
        { "c3", NULL, 0 }, { "c4", NULL, 0 }, { "c2", result, result_size } };
    wp_status statuses [6];
    memset (statuses, 0xff, sizeof statuses);
    CT_OK (backend, wp_pool_complete_many (pool, entries, 6, "w1", statuses));
    wp_status expected [6] = { WP_OK, WP_NOT_FOUND, WP_OK, WP_FAILED_PRECONDITION,
                               WP_FAILED_PRECONDITION, WP_OK };
    for (int i = 0; i < 6; i++)
        CT_CHECK (statuses [i] == expected [i]);
    CT_OK (backend, wp_pool_get (pool, "c0", &item));
    CT_CHECK (item->status == WP_ITEM_DONE && item->result_size == result_size
              && memcmp (item->result, result, result_size) == 0);
    wp_item_destroy (&item);
    CT_OK (backend, wp_pool_get (pool, "c1", &item));
    CT_CHECK (item->status == WP_ITEM_DONE && !item->result);
    wp_item_destroy (&item);
    CT_OK (backend, wp_pool_get (pool, "c3", &item));
    CT_CHECK (item->status == WP_ITEM_CLAIMED && streq (item->claimed_by, "w2"));
    wp_item_destroy (&item);
    CT_OK (backend, wp_pool_get (pool, "c4", &item));
    CT_CHECK (item->status == WP_ITEM_PENDING);
    wp_item_destroy (&item);

    //  Again: done now, so refused; statuses may be NULL
    CT_OK (backend, wp_pool_complete_many (pool, entries, 1, "w1", statuses));
    CT_CHECK (statuses [0] == WP_FAILED_PRECONDITION);
    CT_OK (backend, wp_pool_complete_many (pool, entries + 3, 1, "w2", NULL));

    //  Bad arguments change nothing
    item = s_claim (backend, pool, "w1", 0);                                //  c4
    CT_CHECK (item && streq (item->id, "c4"));
    wp_item_destroy (&item);
    wp_complete_entry_t bad [2] = { { "c4", NULL, 0 }, { NULL, NULL, 0 } };
    CT_STATUS (backend, WP_INVALID_ARGUMENT, wp_pool_complete_many (pool, bad, 2, "w1", statuses));
    CT_CHECK (strstr (wp_backend_errmsg (backend), "items[1]"));
    bad [1] = (wp_complete_entry_t) { "c9", result, 0 };
    CT_STATUS (backend, WP_INVALID_ARGUMENT, wp_pool_complete_many (pool, bad, 2, "w1", statuses));
    CT_STATUS (backend, WP_INVALID_ARGUMENT, wp_pool_complete_many (pool, bad, 1, "", statuses));
    CT_STATUS (backend, WP_INVALID_ARGUMENT, wp_pool_complete_many (pool, bad, 0, "w1", statuses));
    CT_STATUS (backend, WP_INVALID_ARGUMENT,
               wp_pool_complete_many (pool, bad, WP_BATCH_MAX + 1, "w1", statuses));
    CT_STATUS (backend, WP_INVALID_ARGUMENT, wp_pool_complete_many (pool, NULL, 1, "w1", statuses));
    CT_OK (backend, wp_pool_get (pool, "c4", &item));
    CT_CHECK (item->status == WP_ITEM_CLAIMED);
    wp_item_destroy (&item);
    CT_OK (backend, wp_pool_complete_many (pool, bad, 1, "w1", statuses));
    CT_CHECK (statuses [0] == WP_OK);

    wp_stats_t *stats = NULL;
    CT_OK (backend, wp_backend_stats (backend, &stats));
    const wp_pool_stats_t *counts = ct_pool_stats (stats, "batch");
    CT_CHECK (counts->done == 5 && counts->pending == 0 && counts->claimed == 0);
    wp_stats_destroy (&stats);
    wp_pool_destroy (&pool);
}

//  The registration calls
static void
s_registration_calls (wp_backend_t *backend)
{
    wp_worker_t *worker = wp_worker_new ();
    worker->worker_id = strdup ("reg-1");
    worker->host = strdup ("host-a");
    worker->pid = 1234;
    wp_worker_add_capability (worker, "gpu");
    worker->pool_id = strdup ("p1");
    worker->heartbeat_interval = 60;
    wp_worker_t *stored = NULL;
    CT_OK (backend, wp_backend_register (backend, worker, &stored));
    CT_CHECK (streq (stored->status, "active") && streq (stored->host, "host-a"));
    CT_CHECK (stored->pid == 1234 && stored->capability_count == 1 && stored->last_heartbeat > 0);
    wp_worker_destroy (&stored);
    free (worker->worker_id);
    worker->worker_id = strdup ("reg-2");
    free (worker->pool_id);
    worker->pool_id = NULL;
    CT_OK (backend, wp_backend_register (backend, worker, NULL));

    wp_meta_t meta = { 0 };
    uint8_t value [9];
    wp_meta_set (&meta, "load", value, ct_pack_uint (value, 7));
    CT_OK (backend, wp_backend_heartbeat (backend, "reg-1", &meta));
    CT_OK (backend, wp_backend_heartbeat (backend, "reg-1", NULL));
    wp_meta_clear (&meta);
    CT_STATUS (backend, WP_NOT_FOUND, wp_backend_heartbeat (backend, "nobody", NULL));
    CT_OK (backend, wp_backend_update_status (backend, "reg-2", "terminating"));
    CT_STATUS (backend, WP_NOT_FOUND, wp_backend_update_status (backend, "nobody", "x"));

    CT_OK (backend, wp_backend_get_worker (backend, "reg-1", &stored));
    CT_CHECK (stored && streq (stored->pool_id, "p1"));
    const wp_meta_entry_t *load = wp_meta_get (&stored->metadata, "load");
    CT_CHECK (load && ct_unpack_uint (load->value, load->value_size) == 7);
    wp_worker_destroy (&stored);
    CT_OK (backend, wp_backend_get_worker (backend, "nobody", &stored));
    CT_CHECK (stored == NULL);

    wp_worker_list_t *list = NULL;
    CT_OK (backend, wp_backend_list_workers (backend, NULL, &list));
    CT_CHECK (list->count == 2 && streq (list->workers [0]->worker_id, "reg-1"));
    wp_worker_list_destroy (&list);
    const char *active [] = { "active" };
    wp_worker_filter_t filter = WP_WORKER_FILTER_ALL;
    filter.statuses = active;
    filter.status_count = 1;
    CT_OK (backend, wp_backend_list_workers (backend, &filter, &list));
    CT_CHECK (list->count == 1 && streq (list->workers [0]->worker_id, "reg-1"));
    wp_worker_list_destroy (&list);
    filter = (wp_worker_filter_t) WP_WORKER_FILTER_ALL;
    filter.capability = "gpu";
    filter.pool_id = "p1";
    CT_OK (backend, wp_backend_list_workers (backend, &filter, &list));
    CT_CHECK (list->count == 1);
    wp_worker_list_destroy (&list);
    filter = (wp_worker_filter_t) WP_WORKER_FILTER_ALL;
    filter.stale_threshold = 3600;
    CT_OK (backend, wp_backend_list_workers (backend, &filter, &list));
    CT_CHECK (list->count == 0);
    wp_worker_list_destroy (&list);
    wp_worker_destroy (&worker);
}

//  A claim that waits gets an item another handle pushes meanwhile
static void *
s_late_pusher (void *arg)
{
    wp_backend_t *backend = arg;
    wp_pool_t *pool = wp_backend_pool (backend, "waiting");
    zclock_sleep (200);
    free (s_push (backend, pool, 42));
    wp_pool_destroy (&pool);
    return NULL;
}

static void
s_waiting_claim (wp_backend_t *backend)
{
    wp_status status;
    wp_backend_t *other = wp_backend_dup (backend, &status, NULL);
    CT_CHECK (other);
    pthread_t thread;
    pthread_create (&thread, NULL, s_late_pusher, other);
    wp_pool_t *pool = wp_backend_pool (backend, "waiting");
    wp_item_t *item = s_claim (backend, pool, "waiter", 30);
    CT_CHECK (item && ct_unpack_uint (item->data, item->data_size) == 42);
    CT_OK (backend, wp_pool_complete (pool, item->id, NULL, 0, "waiter"));
    wp_item_destroy (&item);
    pthread_join (thread, NULL);
    wp_backend_destroy (&other);
    wp_pool_destroy (&pool);
}

//  The worker helper: completes what succeeds, fails what does not
typedef struct {
    int seen;
    int total;
    wp_runner_t *runner;
} s_job_t;

static int
s_job (const wp_item_t *item, void *arg, uint8_t **result_p, size_t *result_size_p,
       char **error_p)
{
    s_job_t *job = arg;
    uint64_t value = ct_unpack_uint (item->data, item->data_size);
    if (++job->seen == job->total)
        wp_runner_stop (job->runner);
    if (value % 2) {
        *error_p = strdup ("odd");
        return -1;
    }
    *result_p = malloc (9);
    *result_size_p = ct_pack_uint (*result_p, value * 10);
    return 0;
}

static void
s_runner (wp_backend_t *backend)
{
    wp_pool_t *pool = wp_backend_pool (backend, "run");
    for (uint64_t i = 0; i < 10; i++) {
        uint8_t buf [9];
        wp_push_entry_t entry = { buf, ct_pack_uint (buf, i), NULL, 1 };
        char *id;
        CT_OK (backend, wp_pool_push_entry (pool, &entry, &id, NULL));
        free (id);
    }
    const char *caps [] = { "cpu" };
    wp_runner_options_t options = { .worker_id = "runner-1", .capabilities = caps,
                                     .capability_count = 1, .pool_id = "run",
                                     .heartbeat_interval = 0.5, .wait = 0.2 };
    wp_status status;
    char *message = NULL;
    wp_runner_t *runner = wp_runner_new (backend, &options, &status, &message);
    CT_CHECK (runner && streq (wp_runner_worker_id (runner), "runner-1"));
    wp_worker_t *worker = NULL;
    CT_OK (backend, wp_backend_get_worker (backend, "runner-1", &worker));
    CT_CHECK (worker && streq (worker->status, "active") && worker->capability_count == 1);
    CT_CHECK (worker->pid == getpid () && streq (worker->pool_id, "run"));
    wp_worker_destroy (&worker);

    s_job_t job = { 0, 10, runner };
    CT_OK (backend, wp_runner_run (runner, "run", s_job, &job));
    CT_CHECK (job.seen == 10);
    CT_CHECK (wp_runner_registrations (runner) == 1);
    wp_runner_destroy (&runner);
    CT_CHECK (runner == NULL);
    CT_OK (backend, wp_backend_get_worker (backend, "runner-1", &worker));
    CT_CHECK (worker && streq (worker->status, "terminated"));
    wp_worker_destroy (&worker);

    wp_stats_t *stats = NULL;
    CT_OK (backend, wp_backend_stats (backend, &stats));
    const wp_pool_stats_t *counts = ct_pool_stats (stats, "run");
    CT_CHECK (counts->done == 5 && counts->poisoned == 5);
    wp_stats_destroy (&stats);
    wp_pool_destroy (&pool);

    //  Unknown default worker id is made from host and pid
    runner = wp_runner_new (backend, NULL, &status, &message);
    CT_CHECK (runner && strlen (wp_runner_worker_id (runner)) > 0);
    wp_runner_destroy (&runner);
    wp_runner_destroy (&runner);
}

//  A worker waiting in a claim is alive on every backend: with a 0.2 s
//  heartbeat, a 1.2 s wait does not get it declared lost (its next
//  heartbeat is accepted), while a registered worker that says nothing for
//  as long is lost.
static void
s_waiting_is_alive (wp_backend_t *backend)
{
    wp_pool_t *pool = wp_backend_pool (backend, "nap");
    const char *names [] = { "napper", "mute" };
    for (size_t i = 0; i < 2; i++) {
        wp_worker_t *worker = wp_worker_new ();
        worker->worker_id = strdup (names [i]);
        worker->heartbeat_interval = 0.2;
        CT_OK (backend, wp_backend_register (backend, worker, NULL));
        wp_worker_destroy (&worker);
    }
    int64_t start = zclock_usecs ();
    wp_item_t *item = s_claim (backend, pool, "napper", 1.2);
    CT_CHECK (item == NULL && zclock_usecs () - start >= 1100000);
    CT_OK (backend, wp_backend_heartbeat (backend, "napper", NULL));
    CT_STATUS (backend, WP_FAILED_PRECONDITION, wp_backend_heartbeat (backend, "mute", NULL));
    wp_worker_t *record = NULL;
    CT_OK (backend, wp_backend_get_worker (backend, "napper", &record));
    CT_CHECK (record && streq (record->status, "active"));
    wp_worker_destroy (&record);
    CT_OK (backend, wp_backend_update_status (backend, "napper", "terminated"));
    wp_pool_destroy (&pool);
}

//  The dead-letter verbs through the public API, on every backend: an
//  item poisoned, found by List, retried, claimed again; Cancel, Purge,
//  Pause and Resume (the conformance suite holds every detail).
static void
s_lifecycle (wp_backend_t *backend)
{
    wp_pool_t *pool = wp_backend_pool (backend, "dead");
    uint8_t buf [9];
    wp_push_entry_t entry = { buf, ct_pack_uint (buf, 7), "poison", 1 };
    char *id = NULL;
    CT_OK (backend, wp_pool_push_entry (pool, &entry, &id, NULL));
    free (id);
    wp_item_t *item = s_claim (backend, pool, "d1", 0);
    CT_CHECK (item && streq (item->id, "poison"));
    wp_item_destroy (&item);
    wp_item_state state = WP_ITEM_PENDING;
    CT_OK (backend, wp_pool_fail (pool, "poison", "boom", "d1", &state));
    CT_CHECK (state == WP_ITEM_POISONED);

    wp_item_state poisoned = WP_ITEM_POISONED;
    wp_item_list_t *items = NULL;
    char *cursor = (char *) 1;
    CT_OK (backend, wp_pool_list (pool, &poisoned, 1, 0, NULL, &items, &cursor));
    CT_CHECK (items && items->count == 1 && streq (items->items [0]->id, "poison"));
    CT_CHECK (streq (items->items [0]->error, "boom") && cursor == NULL);
    wp_item_list_destroy (&items);
    CT_STATUS (backend, WP_NOT_FOUND, wp_pool_cancel (pool, "nope"));
    CT_OK (backend, wp_pool_retry (pool, "poison"));
    CT_STATUS (backend, WP_FAILED_PRECONDITION, wp_pool_retry (pool, "poison"));
    item = s_claim (backend, pool, "d1", 0);
    CT_CHECK (item && streq (item->id, "poison") && item->attempts == 0);
    wp_item_destroy (&item);
    CT_STATUS (backend, WP_FAILED_PRECONDITION, wp_pool_cancel (pool, "poison"));
    CT_OK (backend, wp_pool_fail (pool, "poison", "again", "d1", &state));
    uint64_t count = 0;
    CT_OK (backend, wp_pool_retry_all (pool, &count));
    CT_CHECK (count == 1);

    CT_OK (backend, wp_pool_pause (pool));
    CT_CHECK (s_claim (backend, pool, "d1", 0) == NULL);
    wp_stats_t *stats = NULL;
    CT_OK (backend, wp_backend_stats (backend, &stats));
    CT_CHECK (ct_pool_stats (stats, "dead")->paused);
    wp_stats_destroy (&stats);
    CT_OK (backend, wp_pool_resume (pool));
    CT_OK (backend, wp_pool_cancel (pool, "poison"));
    CT_STATUS (backend, WP_NOT_FOUND, wp_pool_get (pool, "poison", &item));

    wp_item_state finished [] = { WP_ITEM_DONE, WP_ITEM_POISONED };
    CT_OK (backend, wp_pool_purge (pool, finished, 2, &count));
    CT_CHECK (count == 0);
    wp_pool_destroy (&pool);
}

static void
s_exercise (const char *spec)
{
    printf ("backend %s\n", spec);
    wp_backend_t *backend = ct_open (spec, 20);
    char *server = NULL;
    int64_t time = 0;
    CT_OK (backend, wp_backend_ping (backend, &server, &time));
    CT_CHECK (server && *server && time > 0);
    free (server);
    s_pool_calls (backend);
    s_complete_many (backend);
    s_registration_calls (backend);
    s_waiting_claim (backend);
    s_waiting_is_alive (backend);
    s_lifecycle (backend);
    s_runner (backend);
    wp_backend_destroy (&backend);
    CT_CHECK (backend == NULL);
    wp_backend_destroy (&backend);
}

int
main (void)
{
    char *dir = ct_tempdir ("backends");
    //  An unknown backend string is refused, with words
    wp_status status = WP_OK;
    char *message = NULL;
    CT_CHECK (wp_backend_open ("redis://x", NULL, &status, &message) == NULL);
    CT_CHECK (status == WP_INVALID_ARGUMENT && message && *message);
    free (message);

    s_exercise ("memory");
    char *sqlite = zsys_sprintf ("sqlite:%s/local.db", dir);
    s_exercise (sqlite);
    wp_backend_t *backend = ct_open (sqlite, 5);
    CT_CHECK (streq (wp_backend_kind (backend), "sqlite"));
    wp_backend_destroy (&backend);

    char *endpoint = NULL;
    zactor_t *broker = ct_broker_start ("memory", 0, 0, 0, &endpoint);
    s_exercise (endpoint);
    backend = ct_open (endpoint, 5);
    CT_CHECK (streq (wp_backend_kind (backend), "remote"));
    wp_backend_destroy (&backend);
    zactor_destroy (&broker);
    free (endpoint);

    char *broker_store = zsys_sprintf ("sqlite:%s/broker.db", dir);
    broker = ct_broker_start (broker_store, 0, 0, 0, &endpoint);
    s_exercise (endpoint);
    zactor_destroy (&broker);
    free (endpoint);

    free (broker_store);
    free (sqlite);
    ct_rmtree (dir);
    free (dir);
    printf ("ok\n");
    return 0;
}
