/*  test_store_memory: what is particular to the memory store, beside the
    conformance suite: rollback of a group undoes every kind of change (and
    the reap totals), lazy expiry and reap driven by an injected clock at
    the exact boundaries, next_due, purge by age, and the pending order (an
    item that returns to pending keeps its place), checked against a model
    under random operations and at a scale where a scan per claim would not
    finish in time.  */
#include "memtest.h"
#include <inttypes.h>

#define T0 (INT64_C(1700000000) * SECOND)

//  ---------------------------------------------------------------------
//  A text picture of everything a caller can see, to compare before and
//  after a rollback

static void
s_dump_item (FILE *out, wp_store_t *store, const char *pool, const char *id)
{
    wp_item_t *item = NULL;
    wp_status rc = wp_store_get (store, pool, id, &item);
    if (rc == WP_NOT_FOUND) {
        fprintf (out, "%s/%s: none\n", pool, id);
        return;
    }
    CHECK_OK (store, rc);
    fprintf (out, "%s/%s: %s by=%s at=%" PRId64 " lease=%" PRId64 " attempts=%u/%u"
             " result=%zu error=%s created=%" PRId64 "\n",
             item->pool, item->id, wp_item_state_name (item->status),
             item->claimed_by ? item->claimed_by : "-", item->claimed_at,
             item->lease_expires_at, item->attempts, item->max_retries,
             item->result_size, item->error ? item->error : "-", item->created_at);
    wp_item_destroy (&item);
}

static void
s_dump_worker (FILE *out, wp_store_t *store, const char *worker_id)
{
    wp_worker_t *worker = NULL;
    CHECK_OK (store, wp_store_get_worker (store, worker_id, &worker));
    if (!worker) {
        fprintf (out, "worker %s: none\n", worker_id);
        return;
    }
    fprintf (out, "worker %s: %s host=%s pid=%" PRId64 " pool=%s started=%" PRId64
             " heartbeat=%" PRId64 " task=%s interval=%g caps=%zu meta=",
             worker->worker_id, worker->status, worker->host ? worker->host : "-",
             worker->pid, worker->pool_id ? worker->pool_id : "-", worker->started_at,
             worker->last_heartbeat,
             worker->current_task_id ? worker->current_task_id : "-",
             worker->heartbeat_interval, worker->capability_count);
    for (size_t i = 0; i < worker->metadata.count; i++)
        fprintf (out, "%s:%zu ", worker->metadata.entries [i].key,
                 worker->metadata.entries [i].value_size);
    fprintf (out, "\n");
    wp_worker_destroy (&worker);
}

//  Caller frees the returned text
static char *
s_dump (wp_store_t *store)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    CHECK (out);
    const char *pools [] = { "p", "other" };
    const char *ids [] = { "a", "b", "c", "d", "e", "f", "g", "h" };
    for (size_t p = 0; p < 2; p++) {
        for (size_t i = 0; i < sizeof ids / sizeof ids [0]; i++)
            s_dump_item (out, store, pools [p], ids [i]);
        uint64_t pending;
        CHECK_OK (store, wp_store_size (store, pools [p], &pending));
        fprintf (out, "size %s: %" PRIu64 "\n", pools [p], pending);
    }
    const char *workers [] = { "w1", "w2", "w3" };
    for (size_t i = 0; i < 3; i++)
        s_dump_worker (out, store, workers [i]);

    wp_worker_list_t *list = NULL;
    CHECK_OK (store, wp_store_list_workers (store, NULL, &list));
    fprintf (out, "list:");
    for (size_t i = 0; i < list->count; i++)
        fprintf (out, " %s", list->workers [i]->worker_id);
    fprintf (out, "\n");
    wp_worker_list_destroy (&list);

    wp_stats_t *stats = NULL;
    CHECK_OK (store, wp_store_stats (store, &stats));
    for (size_t i = 0; i < stats->pool_count; i++)
        fprintf (out, "stats %s: %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
                 stats->pools [i].pool, stats->pools [i].pending, stats->pools [i].claimed,
                 stats->pools [i].done, stats->pools [i].poisoned);
    for (size_t i = 0; i < stats->worker_status_count; i++)
        fprintf (out, "stats %s: %" PRIu64 "\n", stats->workers [i].status,
                 stats->workers [i].count);
    wp_stats_destroy (&stats);

    int64_t next;
    CHECK_OK (store, wp_store_next_due (store, &next));
    fprintf (out, "next due %" PRId64 "\n", next);
    fclose (out);
    return text;
}

static void
s_register (wp_store_t *store, const char *worker_id, const char *host, double interval)
{
    wp_worker_t *worker = wp_worker_new ();
    worker->worker_id = strdup (worker_id);
    worker->host = host ? strdup (host) : NULL;
    worker->heartbeat_interval = interval;
    wp_worker_add_capability (worker, "gpu");
    static const uint8_t one [] = { 0x01 };
    wp_meta_set (&worker->metadata, "k1", one, sizeof one);
    CHECK_OK (store, wp_store_register (store, worker, NULL));
    wp_worker_destroy (&worker);
}

//  ---------------------------------------------------------------------

static void
test_rollback_undoes_group (void)
{
    wp_test_clock_t clock = { T0 };
    wp_store_t *store = wp_store_memory_new (NULL);
    wp_store_set_clock (store, wp_test_clock_read, &clock);
    static const uint8_t result [] = { 0x2a };

    //  A store with an item in every state and two workers
    s_register (store, "w1", "h1", 10);
    s_register (store, "w2", "h2", 10);
    memtest_push (store, "p", "a", -1);
    memtest_push (store, "p", "b", -1);
    memtest_push (store, "p", "c", -1);
    memtest_push (store, "p", "d", 0);
    memtest_push (store, "p", "e", -1);
    CHECK_CLAIM (store, "p", "w1", 60, "a");
    CHECK_CLAIM (store, "p", "w2", 0, "b");
    CHECK_OK (store, wp_store_complete (store, "p", "b", result, sizeof result, "w2"));
    CHECK_CLAIM (store, "p", "w2", 0, "c");
    CHECK_CLAIM (store, "p", "w2", 0, "d");
    CHECK_OK (store, wp_store_fail (store, "p", "c", "boom", "w2", 0, NULL));
    CHECK_OK (store, wp_store_fail (store, "p", "d", "bang", NULL, 0, NULL));
    clock.now += SECOND;
    char *before = s_dump (store);

    //  A group that touches everything, including a call that fails
    CHECK_OK (store, wp_store_begin (store));
    CHECK_RC (store, wp_store_begin (store), WP_FAILED_PRECONDITION);
    memtest_push (store, "p", "f", -1);
    memtest_push (store, "other", "g", -1);
    static const uint8_t two [] = { 0x02 };
    wp_meta_t meta = { NULL, 0 };
    wp_meta_set (&meta, "k2", two, sizeof two);
    CHECK_OK (store, wp_store_heartbeat (store, "w1", &meta));
    wp_meta_clear (&meta);
    CHECK_CLAIM (store, "p", "w1", 0, "c");
    CHECK_OK (store, wp_store_complete (store, "p", "a", result, sizeof result, "w1"));
    wp_item_state state;
    CHECK_OK (store, wp_store_fail (store, "p", "c", "again", "w1", 0, &state));
    CHECK (state == WP_ITEM_PENDING);
    s_register (store, "w3", NULL, 5);
    s_register (store, "w2", "elsewhere", 20);
    CHECK_OK (store, wp_store_update_status (store, "w1", "terminating"));
    CHECK_RC (store, wp_store_complete (store, "p", "e", NULL, 0, NULL), WP_FAILED_PRECONDITION);
    CHECK_CLAIM (store, "p", "w2", 1, "c");
    CHECK_CLAIM (store, "p", "w2", 1, "e");
    clock.now += 2 * SECOND;
    uint64_t count;
    CHECK_OK (store, wp_store_size (store, "p", &count));      //  c (poisoned), e lapse
    CHECK (count == 2);
    CHECK_CLAIM (store, "p", "w2", 0, "e");
    CHECK_OK (store, wp_store_release_by_worker (store, "p", "w2", &count));
    CHECK (count == 1);
    CHECK_CLAIM (store, "p", "w3", 0, "e");
    CHECK_OK (store, wp_store_renew (store, "w3", 100, &count));
    CHECK (count == 1);
    CHECK_OK (store, wp_store_purge (store, 0, &count));
    CHECK (count == 3);                                         //  a, b, d
    memtest_push (store, "p", "b", 5);                          //  b again, as new
    CHECK_OK (store, wp_store_purge (store, 0, &count));
    CHECK (count == 0);
    char *during = s_dump (store);
    CHECK (strcmp (before, during) != 0);
    wp_store_rollback (store);

    clock.now -= 2 * SECOND;
    char *after = s_dump (store);
    if (strcmp (before, after) != 0) {
        fprintf (stderr, "before:\n%s\nafter rollback:\n%s\n", before, after);
        CHECK (!"rollback restored the store");
    }
    free (before);
    free (during);
    free (after);

    //  The store still works after the rollback, and purges for real
    CHECK_CLAIM (store, "p", "w1", 0, "c");
    CHECK_OK (store, wp_store_complete (store, "p", "c", NULL, 0, "w1"));
    clock.now += SECOND;
    CHECK_OK (store, wp_store_purge (store, 0, &count));
    CHECK (count == 3);                                         //  b, c, d
    wp_store_destroy (&store);
    CHECK (store == NULL);
}

static void
test_rollback_restores_reap_totals (void)
{
    wp_test_clock_t clock = { T0 };
    wp_store_t *store = wp_store_memory_new (NULL);
    wp_store_set_clock (store, wp_test_clock_read, &clock);
    memtest_push (store, "p", "a", -1);
    CHECK_CLAIM (store, "p", "w1", 5, "a");

    //  Expiry applied inside a group is undone with it
    CHECK_OK (store, wp_store_begin (store));
    clock.now += 10 * SECOND;
    uint64_t size;
    CHECK_OK (store, wp_store_size (store, "p", &size));
    CHECK (size == 1);
    wp_store_rollback (store);
    clock.now = T0;
    wp_item_t *item = NULL;
    CHECK_OK (store, wp_store_get (store, "p", "a", &item));
    CHECK (item->status == WP_ITEM_CLAIMED && item->attempts == 0 && !item->error);
    wp_item_destroy (&item);
    wp_reap_t reap;
    CHECK_OK (store, wp_store_reap (store, &reap));
    CHECK (reap.leases_expired == 0 && reap.requeued == 0);

    //  Reaped inside a committed group: counted once
    CHECK_OK (store, wp_store_begin (store));
    clock.now += 10 * SECOND;
    CHECK_OK (store, wp_store_size (store, "p", &size));
    CHECK_OK (store, wp_store_commit (store));
    CHECK_OK (store, wp_store_reap (store, &reap));
    CHECK (reap.leases_expired == 1 && reap.requeued == 1 && reap.poisoned == 0);
    CHECK_OK (store, wp_store_reap (store, &reap));
    CHECK (reap.leases_expired == 0 && reap.requeued == 0);
    wp_store_destroy (&store);
}

static void
test_commit_and_misuse (void)
{
    wp_test_clock_t clock = { T0 };
    wp_store_t *store = wp_store_memory_new (NULL);
    wp_store_set_clock (store, wp_test_clock_read, &clock);
    CHECK_RC (store, wp_store_commit (store), WP_FAILED_PRECONDITION);
    wp_store_rollback (store);                  //  nothing open: nothing happens
    CHECK_OK (store, wp_store_begin (store));
    memtest_push (store, "p", "a", -1);
    CHECK_OK (store, wp_store_commit (store));
    wp_store_rollback (store);
    uint64_t size;
    CHECK_OK (store, wp_store_size (store, "p", &size));
    CHECK (size == 1);

    //  A large group grows the log; rolling it back leaves the store as it was
    CHECK_OK (store, wp_store_begin (store));
    char id [32];
    for (int i = 0; i < 5000; i++) {
        snprintf (id, sizeof id, "x%d", i);
        memtest_push (store, "p", id, -1);
    }
    for (int i = 0; i < 2500; i++) {
        char *claimed = memtest_claim (store, "p", "w", 0);
        CHECK (claimed);
        CHECK_OK (store, wp_store_complete (store, "p", claimed, NULL, 0, "w"));
        free (claimed);
    }
    wp_store_rollback (store);
    CHECK_OK (store, wp_store_size (store, "p", &size));
    CHECK (size == 1);
    CHECK_CLAIM (store, "p", "w", 0, "a");
    CHECK_CLAIM (store, "p", "w", 0, NULL);

    //  Destroying a store with a group open rolls it back (ASan sees leaks),
    //  including an item purged in the group
    CHECK_OK (store, wp_store_complete (store, "p", "a", NULL, 0, "w"));
    clock.now += SECOND;
    CHECK_OK (store, wp_store_begin (store));
    memtest_push (store, "p", "b", -1);
    CHECK_OK (store, wp_store_purge (store, 0, &size));
    CHECK (size == 1);
    wp_store_destroy (&store);
    wp_store_destroy (&store);                  //  safe twice
}

//  ---------------------------------------------------------------------

static void
test_reap_with_clock (void)
{
    wp_test_clock_t clock = { T0 };
    wp_store_config_t cfg = { .lease = 30 };
    wp_store_t *store = wp_store_memory_new (&cfg);
    wp_store_set_clock (store, wp_test_clock_read, &clock);
    int64_t next;
    CHECK_OK (store, wp_store_next_due (store, &next));
    CHECK (next == 0);

    s_register (store, "w1", NULL, 1);          //  lost after T0 + 2 s
    s_register (store, "w2", NULL, 100);
    memtest_push (store, "p", "a", -1);
    memtest_push (store, "p", "b", 1);
    memtest_push (store, "p", "c", -1);
    memtest_push (store, "p", "d", -1);
    CHECK_CLAIM (store, "p", "w2", 10, "a");
    CHECK_CLAIM (store, "p", "w2", 10, "b");
    CHECK_CLAIM (store, "p", "w1", 1000, "c");
    CHECK_CLAIM (store, "p", "w3", 0, "d");     //  unregistered: store lease 30 s
    CHECK_OK (store, wp_store_next_due (store, &next));
    CHECK (next == T0 + 2 * SECOND + 1);

    //  A heartbeat moves the deadline and renews each lease by the length
    //  it was claimed (or last renewed) with
    clock.now = T0 + 1500000;
    CHECK_OK (store, wp_store_heartbeat (store, "w1", NULL));
    wp_item_t *item = NULL;
    CHECK_OK (store, wp_store_get (store, "p", "c", &item));
    CHECK (item->lease_expires_at == clock.now + 1000 * SECOND);
    wp_item_destroy (&item);
    uint64_t renewed;
    CHECK_OK (store, wp_store_renew (store, "w1", 20, &renewed));
    CHECK (renewed == 1);
    clock.now += 1;
    CHECK_OK (store, wp_store_heartbeat (store, "w1", NULL));
    CHECK_OK (store, wp_store_get (store, "p", "c", &item));
    CHECK (item->lease_expires_at == clock.now + 20 * SECOND);
    wp_item_destroy (&item);
    clock.now -= 1;                             //  keep the deadlines below simple
    CHECK_OK (store, wp_store_heartbeat (store, "w1", NULL));
    CHECK_OK (store, wp_store_next_due (store, &next));
    CHECK (next == clock.now + 2 * SECOND + 1);
    wp_reap_t reap;
    CHECK_OK (store, wp_store_reap (store, &reap));
    CHECK (reap.leases_expired == 0 && reap.workers_lost == 0);

    //  Exactly at the deadline the worker is not lost; a microsecond later
    //  it is, on the next call that reads, and its claims go back
    clock.now += 2 * SECOND;
    wp_worker_t *worker = NULL;
    CHECK_OK (store, wp_store_get_worker (store, "w1", &worker));
    CHECK (strcmp (worker->status, "active") == 0);
    CHECK (worker->current_task_id && strcmp (worker->current_task_id, "c") == 0);
    wp_worker_destroy (&worker);
    clock.now += 1;
    CHECK_OK (store, wp_store_get_worker (store, "w1", &worker));
    CHECK (strcmp (worker->status, "lost") == 0);
    CHECK (worker->current_task_id == NULL);
    wp_worker_destroy (&worker);
    CHECK_OK (store, wp_store_get (store, "p", "c", &item));
    CHECK (item->status == WP_ITEM_PENDING && item->attempts == 1);
    CHECK (item->error && strcmp (item->error, "worker lost") == 0);
    CHECK (!item->claimed_by && item->claimed_at == 0 && item->lease_expires_at == 0);
    wp_item_destroy (&item);
    CHECK_RC (store, wp_store_heartbeat (store, "w1", NULL), WP_FAILED_PRECONDITION);
    CHECK (strstr (wp_store_errmsg (store), "register again"));
    CHECK_RC (store, wp_store_complete (store, "p", "c", NULL, 0, "w1"), WP_FAILED_PRECONDITION);

    //  Leases lapse at their expiry time exactly
    clock.now = T0 + 10 * SECOND - 1;
    CHECK_OK (store, wp_store_get (store, "p", "a", &item));
    CHECK (item->status == WP_ITEM_CLAIMED);
    wp_item_destroy (&item);
    CHECK_OK (store, wp_store_next_due (store, &next));
    CHECK (next == T0 + 10 * SECOND);
    clock.now += 1;
    uint64_t size;
    CHECK_OK (store, wp_store_size (store, "p", &size));
    CHECK (size == 2);                          //  a back; b poisoned; c pending
    CHECK_OK (store, wp_store_get (store, "p", "a", &item));
    CHECK (item->status == WP_ITEM_PENDING && item->attempts == 1);
    CHECK (strcmp (item->error, "lease expired") == 0);
    wp_item_destroy (&item);
    CHECK_OK (store, wp_store_get (store, "p", "b", &item));
    CHECK (item->status == WP_ITEM_POISONED && item->attempts == 1);
    CHECK (strcmp (item->error, "lease expired") == 0 && item->lease_expires_at == 0);
    wp_item_destroy (&item);
    CHECK_OK (store, wp_store_get_worker (store, "w2", &worker));
    CHECK (worker->current_task_id == NULL);    //  its latest claim, b, left it
    wp_worker_destroy (&worker);

    //  reap reports what calls applied on their way, once
    CHECK_OK (store, wp_store_reap (store, &reap));
    CHECK (reap.leases_expired == 2 && reap.workers_lost == 1);
    CHECK (reap.requeued == 2 && reap.poisoned == 1);
    CHECK_OK (store, wp_store_reap (store, &reap));
    CHECK (reap.leases_expired == 0 && reap.workers_lost == 0);
    CHECK (reap.requeued == 0 && reap.poisoned == 0);

    //  reap itself applies what is due
    clock.now = T0 + 30 * SECOND;
    CHECK_OK (store, wp_store_reap (store, &reap));
    CHECK (reap.leases_expired == 1 && reap.requeued == 1);    //  d

    //  A lost worker registers again and is active; nothing is claimed, so
    //  only the workers' deadlines are due
    s_register (store, "w1", NULL, 1);
    CHECK_OK (store, wp_store_heartbeat (store, "w1", NULL));
    CHECK_OK (store, wp_store_next_due (store, &next));
    CHECK (next == clock.now + 2 * SECOND + 1);
    CHECK_OK (store, wp_store_update_status (store, "w1", "terminated"));
    CHECK_OK (store, wp_store_update_status (store, "w2", "terminated"));
    CHECK_OK (store, wp_store_next_due (store, &next));
    CHECK (next == 0);
    clock.now += 1000 * SECOND;
    CHECK_OK (store, wp_store_reap (store, &reap));
    CHECK (reap.workers_lost == 0);             //  only active workers go lost
    wp_store_destroy (&store);
}

//  A poisoning worker loss: every worker that takes the item crashes
static void
test_lost_workers_poison (void)
{
    wp_test_clock_t clock = { T0 };
    wp_store_t *store = wp_store_memory_new (NULL);
    wp_store_set_clock (store, wp_test_clock_read, &clock);
    memtest_push (store, "p", "a", 2);
    for (int round = 0; round < 2; round++) {
        s_register (store, "w", NULL, 1);
        CHECK_CLAIM (store, "p", "w", 0, "a");
        clock.now += 3 * SECOND;
    }
    wp_item_t *item = NULL;
    CHECK_OK (store, wp_store_get (store, "p", "a", &item));
    CHECK (item->status == WP_ITEM_POISONED && item->attempts == 2);
    CHECK (strcmp (item->error, "worker lost") == 0);
    wp_item_destroy (&item);
    wp_reap_t reap;
    CHECK_OK (store, wp_store_reap (store, &reap));
    CHECK (reap.workers_lost == 2 && reap.requeued == 1 && reap.poisoned == 1);
    wp_store_destroy (&store);
}

//  ---------------------------------------------------------------------

static void
test_purge_by_age (void)
{
    wp_test_clock_t clock = { T0 };
    wp_store_t *store = wp_store_memory_new (NULL);
    wp_store_set_clock (store, wp_test_clock_read, &clock);
    memtest_push (store, "p", "a", -1);
    memtest_push (store, "p", "b", 0);
    memtest_push (store, "p", "c", -1);
    CHECK_CLAIM (store, "p", "w", 0, "a");
    CHECK_OK (store, wp_store_complete (store, "p", "a", NULL, 0, NULL));
    clock.now += 5 * SECOND;
    CHECK_CLAIM (store, "p", "w", 0, "b");
    wp_item_state state;
    CHECK_OK (store, wp_store_fail (store, "p", "b", NULL, NULL, 0, &state));
    CHECK (state == WP_ITEM_POISONED);

    //  A duplicate push of a finished id changes nothing
    static const uint8_t data [] = { 0x01 };
    wp_push_entry_t entry = { data, sizeof data, "a", 7 };
    char *id = NULL;
    bool duplicate = false;
    CHECK_OK (store, wp_store_push (store, "p", &entry, &id, &duplicate));
    CHECK (duplicate && strcmp (id, "a") == 0);
    free (id);
    wp_item_t *item = NULL;
    CHECK_OK (store, wp_store_get (store, "p", "a", &item));
    CHECK (item->status == WP_ITEM_DONE && item->max_retries == 3 && item->data [0] == 0xc0);
    wp_item_destroy (&item);

    clock.now = T0 + 10 * SECOND;
    uint64_t count;
    CHECK_OK (store, wp_store_purge (store, 10, &count));
    CHECK (count == 0);                         //  a is 10 s old: not older than 10 s
    CHECK_OK (store, wp_store_purge (store, 7, &count));
    CHECK (count == 1);
    CHECK_RC (store, wp_store_get (store, "p", "a", &item), WP_NOT_FOUND);
    CHECK_OK (store, wp_store_purge (store, 1e300, &count));   //  absurd ages are fine
    CHECK (count == 0);
    CHECK_OK (store, wp_store_purge (store, 0, &count));
    CHECK (count == 1);                         //  b; c is pending

    //  A purged id is free again
    CHECK_OK (store, wp_store_push (store, "p", &entry, &id, &duplicate));
    CHECK (!duplicate);
    free (id);

    //  A pool that is empty after a purge leaves the statistics
    CHECK_CLAIM (store, "p", "w", 0, "c");
    CHECK_OK (store, wp_store_complete (store, "p", "c", NULL, 0, NULL));
    CHECK_CLAIM (store, "p", "w", 0, "a");
    CHECK_OK (store, wp_store_complete (store, "p", "a", NULL, 0, NULL));
    memtest_push (store, "q", "z", -1);
    clock.now += SECOND;
    CHECK_OK (store, wp_store_purge (store, 0, &count));
    CHECK (count == 2);
    wp_stats_t *stats = NULL;
    CHECK_OK (store, wp_store_stats (store, &stats));
    CHECK (stats->pool_count == 1 && strcmp (stats->pools [0].pool, "q") == 0);
    wp_stats_destroy (&stats);
    memtest_push (store, "p", "again", -1);    //  and comes back when named
    CHECK_CLAIM (store, "p", "w", 0, "again");
    wp_store_destroy (&store);
}

//  ---------------------------------------------------------------------

static void
test_returned_items_keep_their_place (void)
{
    wp_test_clock_t clock = { T0 };
    wp_store_t *store = wp_store_memory_new (NULL);
    wp_store_set_clock (store, wp_test_clock_read, &clock);
    const char *ids [] = { "a", "b", "c", "d", "e", "f" };
    for (int i = 0; i < 6; i++)
        memtest_push (store, "p", ids [i], -1);
    memtest_push (store, "q", "x", -1);
    CHECK_CLAIM (store, "p", "w1", 0, "a");
    CHECK_CLAIM (store, "p", "w2", 0, "b");
    CHECK_CLAIM (store, "p", "w1", 0, "c");
    CHECK_CLAIM (store, "q", "w1", 0, "x");

    //  fail: b goes back ahead of d
    CHECK_OK (store, wp_store_fail (store, "p", "b", "oops", "w2", 0, NULL));
    CHECK_CLAIM (store, "p", "w3", 0, "b");

    //  release: a and c (and not x, in another pool) go back ahead of d
    uint64_t count;
    CHECK_OK (store, wp_store_release_by_worker (store, "p", "w1", &count));
    CHECK (count == 2);
    wp_item_t *item = NULL;
    CHECK_OK (store, wp_store_get (store, "p", "a", &item));
    CHECK (item->status == WP_ITEM_PENDING && item->attempts == 0 && !item->claimed_by);
    wp_item_destroy (&item);
    CHECK_OK (store, wp_store_get (store, "q", "x", &item));
    CHECK (item->status == WP_ITEM_CLAIMED);
    wp_item_destroy (&item);
    CHECK_CLAIM (store, "p", "w4", 0, "a");
    CHECK_CLAIM (store, "p", "w4", 0, "c");

    //  a lapsed lease: e goes back ahead of f
    CHECK_CLAIM (store, "p", "w5", 5, "d");
    CHECK_CLAIM (store, "p", "w5", 1, "e");
    clock.now += 2 * SECOND;
    CHECK_CLAIM (store, "p", "w6", 0, "e");
    CHECK_CLAIM (store, "p", "w6", 0, "f");
    CHECK_CLAIM (store, "p", "w6", 0, NULL);
    wp_store_destroy (&store);
}

//  Random pushes, claims, fails, releases and completes against a model:
//  a claim must always return the pending item pushed first.
#define MODEL_ITEMS 3000
#define MODEL_WORKERS 4

static void
test_order_matches_model (void)
{
    wp_store_t *store = wp_store_memory_new (NULL);
    wp_item_state model [MODEL_ITEMS];
    int holder [MODEL_ITEMS];
    int pushed = 0;
    unsigned seed = 12345;
    char id [32], worker [32];
    for (int step = 0; step < 40000; step++) {
        int op = rand_r (&seed) % 10;
        if (op < 3 && pushed < MODEL_ITEMS) {
            snprintf (id, sizeof id, "%d", pushed);
            memtest_push (store, "p", id, 1000000);
            model [pushed] = WP_ITEM_PENDING;
            holder [pushed++] = -1;
        }
        else
        if (op < 6) {
            int w = rand_r (&seed) % MODEL_WORKERS;
            snprintf (worker, sizeof worker, "w%d", w);
            int expect = 0;
            while (expect < pushed && model [expect] != WP_ITEM_PENDING)
                expect++;
            if (expect == pushed)
                CHECK_CLAIM (store, "p", worker, 0, NULL);
            else {
                snprintf (id, sizeof id, "%d", expect);
                CHECK_CLAIM (store, "p", worker, 0, id);
                model [expect] = WP_ITEM_CLAIMED;
                holder [expect] = w;
            }
        }
        else {
            //  act on a random claimed item, if there is one near
            int start = pushed ? rand_r (&seed) % pushed : 0;
            int i = start;
            while (i < pushed && model [i] != WP_ITEM_CLAIMED)
                i++;
            if (i == pushed)
                continue;
            snprintf (id, sizeof id, "%d", i);
            snprintf (worker, sizeof worker, "w%d", holder [i]);
            if (op < 8) {
                CHECK_OK (store, wp_store_fail (store, "p", id, "no", worker, 0, NULL));
                model [i] = WP_ITEM_PENDING;
            }
            else
            if (op < 9) {
                uint64_t released;
                CHECK_OK (store, wp_store_release_by_worker (store, "p", worker, &released));
                uint64_t expect = 0;
                for (int j = 0; j < pushed; j++)
                    if (model [j] == WP_ITEM_CLAIMED && holder [j] == holder [i]) {
                        model [j] = WP_ITEM_PENDING;
                        expect++;
                    }
                CHECK (released == expect);
            }
            else {
                CHECK_OK (store, wp_store_complete (store, "p", id, NULL, 0, worker));
                model [i] = WP_ITEM_DONE;
            }
        }
    }
    uint64_t size, expect = 0;
    for (int i = 0; i < pushed; i++)
        expect += model [i] == WP_ITEM_PENDING;
    CHECK_OK (store, wp_store_size (store, "p", &size));
    CHECK (size == expect);
    CHECK (pushed == MODEL_ITEMS);
    wp_store_destroy (&store);
}

//  Enough items that a scan per claim or per expiry check would run past
//  the test's timeout (no timing is asserted), and enough purged ones that
//  the id maps shrink: every id is looked up after each purge.
#define MANY 200000

static void
s_check_lookups (wp_store_t *store, char **ids, int from_pending, int step)
{
    //  ids [i] for i >= from_pending with i % step == 0 are pending; the rest are gone
    for (int i = 0; i < MANY; i++) {
        wp_item_t *item = NULL;
        wp_status rc = wp_store_get (store, "p", ids [i], &item);
        if (i >= from_pending && i % step == 0) {
            CHECK_OK (store, rc);
            CHECK (item->status == WP_ITEM_PENDING && strcmp (item->id, ids [i]) == 0);
            wp_item_destroy (&item);
        }
        else
            CHECK_RC (store, rc, WP_NOT_FOUND);
    }
}

static void
test_many_items (void)
{
    wp_test_clock_t clock = { T0 };
    wp_store_t *store = wp_store_memory_new (NULL);
    wp_store_set_clock (store, wp_test_clock_read, &clock);
    char **ids = calloc (MANY, sizeof (char *));
    CHECK (ids);
    static const uint8_t data [] = { 0x01 };
    wp_push_entry_t entry = { data, sizeof data, NULL, -1 };
    for (int i = 0; i < MANY; i++) {
        CHECK_OK (store, wp_store_push (store, "p", &entry, &ids [i], NULL));
        CHECK (strlen (ids [i]) == WP_UUID_LEN);
    }
    //  Claims come in push order; odd ones complete, even ones stay claimed
    //  (so the lease heap is large) until their worker is released
    for (int i = 0; i < MANY; i++) {
        const char *worker = i % 2 ? "odd" : "even";
        CHECK_CLAIM (store, "p", worker, 0, ids [i]);
        if (i % 2)
            CHECK_OK (store, wp_store_complete (store, "p", ids [i], NULL, 0, worker));
    }
    uint64_t count;
    CHECK_OK (store, wp_store_release_by_worker (store, "p", "even", &count));
    CHECK (count == MANY / 2);
    clock.now += SECOND;
    CHECK_OK (store, wp_store_purge (store, 0, &count));
    CHECK (count == MANY / 2);
    s_check_lookups (store, ids, 0, 2);

    //  Finish the first half of the rest: the map drops below 1/8 full
    for (int i = 0; i < MANY / 2; i += 2) {
        CHECK_CLAIM (store, "p", "w", 0, ids [i]);
        CHECK_OK (store, wp_store_complete (store, "p", ids [i], NULL, 0, "w"));
    }
    clock.now += SECOND;
    CHECK_OK (store, wp_store_purge (store, 0, &count));
    CHECK (count == MANY / 4);
    s_check_lookups (store, ids, MANY / 2, 2);
    wp_stats_t *stats = NULL;
    CHECK_OK (store, wp_store_stats (store, &stats));
    CHECK (stats->pool_count == 1 && stats->pools [0].pending == MANY / 4);
    CHECK (stats->pools [0].done == 0 && stats->pools [0].claimed == 0);
    wp_stats_destroy (&stats);
    for (int i = 0; i < MANY; i++)
        free (ids [i]);
    free (ids);
    wp_store_destroy (&store);
}

int
main (void)
{
    test_rollback_undoes_group ();
    test_rollback_restores_reap_totals ();
    test_commit_and_misuse ();
    test_reap_with_clock ();
    test_lost_workers_poison ();
    test_purge_by_age ();
    test_returned_items_keep_their_place ();
    test_order_matches_model ();
    test_many_items ();
    printf ("test_store_memory: all passed\n");
    return 0;
}
