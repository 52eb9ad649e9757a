/*  test_store_memory_sched: the memory store's scheduling structures, on an
    injected clock: claims by (priority, seq) while List keeps push order
    (against a model under random pushes, fails and releases, and at a scale
    where a scan per claim would not finish in time); scheduled items
    promoted at exactly their run_at, in claim order, counted by reap, and
    next_due over leases, staleness, run_at and schedules; fail's
    retry_after, the pool's policy and lapsed leases scheduling a retry;
    the unique-key index (held while live, freed by done, poison, cancel,
    purge; retry and retry_all against it); and the undo of every new kind
    of change by rollback and rollback_to. The behaviour every backend shares
    is checked by tests/store/conformance.  */
#include "memtest.h"
#include "memops.h"
#include <inttypes.h>
#include <time.h>

#define T0 (INT64_C(1700000000) * SECOND)

static const uint8_t s_data [] = { 0xc0 };

static wp_store_t *
s_store (wp_test_clock_t *clock)
{
    clock->now = T0;
    wp_store_t *store = wp_store_memory_new (NULL);
    wp_store_set_clock (store, wp_test_clock_read, clock);
    return store;
}

//  Pushes id with the given options; returns whether it was a duplicate and
//  the id the store answered in *id_out (caller frees; may be NULL)
static bool
s_push (wp_store_t *store, const char *pool, const char *id, int32_t priority, double delay,
        const char *key, char **id_out)
{
    wp_push_entry_t entry = { s_data, sizeof s_data, id, -1, .priority = priority,
                              .delay = delay, .unique_key = key };
    char *got = NULL;
    bool duplicate = false;
    CHECK_OK (store, wp_store_push (store, pool, &entry, &got, &duplicate));
    if (id_out)
        *id_out = got;
    else
        free (got);
    return duplicate;
}

static wp_item_t *
s_get (wp_store_t *store, const char *pool, const char *id)
{
    wp_item_t *item = NULL;
    CHECK_OK (store, wp_store_get (store, pool, id, &item));
    return item;
}

static wp_item_state
s_state (wp_store_t *store, const char *pool, const char *id)
{
    wp_item_t *item = s_get (store, pool, id);
    wp_item_state state = item->status;
    wp_item_destroy (&item);
    return state;
}

static uint64_t
s_size (wp_store_t *store, const char *pool)
{
    uint64_t size = 0;
    CHECK_OK (store, wp_store_size (store, pool, &size));
    return size;
}

static int64_t
s_next_due (wp_store_t *store)
{
    int64_t next = -1;
    CHECK_OK (store, wp_store_next_due (store, &next));
    return next;
}

//  The ids of pool in List order (all states), joined by spaces; caller frees
static char *
s_list (wp_store_t *store, const char *pool)
{
    wp_item_list_t *items = NULL;
    char *cursor = NULL;
    CHECK_OK (store, wp_store_list_items (store, pool, NULL, 0, WP_LIST_MAX, NULL, &items,
                                          &cursor));
    CHECK (!cursor);
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    CHECK (out);
    for (size_t i = 0; i < items->count; i++)
        fprintf (out, "%s%s", i ? " " : "", items->items [i]->id);
    fclose (out);
    wp_item_list_destroy (&items);
    return text;
}

#define CHECK_LIST(store, pool, want) do { \
    char *list_ = s_list (store, pool); \
    CHECK_STR (list_, want); \
    free (list_); \
} while (0)

static wp_schedule_t *
s_schedule (const char *name, const char *pool, const char *cron)
{
    wp_schedule_t *schedule = wp_schedule_new ();
    schedule->name = wp_strdup (name);
    schedule->pool = wp_strdup (pool);
    schedule->cron = wp_strdup (cron);
    schedule->data = malloc (sizeof s_data);
    CHECK (schedule->data);
    memcpy (schedule->data, s_data, sizeof s_data);
    schedule->data_size = sizeof s_data;
    return schedule;
}

static void
s_put (wp_store_t *store, const char *name, const char *cron)
{
    wp_schedule_t *schedule = s_schedule (name, "p", cron);
    CHECK_OK (store, wp_store_schedule_put (store, schedule, NULL));
    wp_schedule_destroy (&schedule);
}

//  The names and next ticks of every schedule, "name@next ..."; caller frees
static char *
s_schedules (wp_store_t *store)
{
    wp_schedule_list_t *list = NULL;
    CHECK_OK (store, wp_store_schedule_list (store, &list));
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    CHECK (out);
    for (size_t i = 0; i < list->count; i++)
        fprintf (out, "%s%s:%s@%" PRId64, i ? " " : "", list->schedules [i]->name,
                 list->schedules [i]->cron, list->schedules [i]->next_at);
    fclose (out);
    wp_schedule_list_destroy (&list);
    return text;
}

//  ---------------------------------------------------------------------

//  Claims go by (priority, seq); List stays in push order; an item back
//  to pending keeps its priority and its place among its equals
static void
test_priority_order (void)
{
    wp_test_clock_t clock;
    wp_store_t *store = s_store (&clock);
    s_push (store, "p", "a", 0, 0, NULL, NULL);
    s_push (store, "p", "b", 5, 0, NULL, NULL);
    s_push (store, "p", "c", -3, 0, NULL, NULL);
    s_push (store, "p", "d", 0, 0, NULL, NULL);
    s_push (store, "p", "e", -3, 0, NULL, NULL);
    s_push (store, "p", "f", INT32_MIN, 0, NULL, NULL);
    s_push (store, "p", "g", INT32_MAX, 0, NULL, NULL);
    CHECK_LIST (store, "p", "a b c d e f g");
    CHECK_CLAIM (store, "p", "w", 0, "f");
    CHECK_CLAIM (store, "p", "w", 0, "c");
    CHECK_CLAIM (store, "p", "w", 0, "e");
    //  c back to pending goes before e's equals again
    uint64_t count;
    CHECK_OK (store, wp_store_release_by_worker (store, "p", "w", &count));
    CHECK_INT (count, 3);
    CHECK_CLAIM (store, "p", "w", 0, "f");
    CHECK_CLAIM (store, "p", "w", 0, "c");
    CHECK_OK (store, wp_store_fail (store, "p", "c", "x", "w", 0, NULL));
    CHECK_CLAIM (store, "p", "w", 0, "c");
    CHECK_CLAIM (store, "p", "w", 0, "e");
    CHECK_CLAIM (store, "p", "w", 0, "a");
    CHECK_CLAIM (store, "p", "w", 0, "d");
    CHECK_CLAIM (store, "p", "w", 0, "b");
    CHECK_CLAIM (store, "p", "w", 0, "g");
    CHECK_CLAIM (store, "p", "w", 0, NULL);
    CHECK_LIST (store, "p", "a b c d e f g");
    wp_store_destroy (&store);
}

//  A model: the pending set as (priority, seq) pairs; claims must take the
//  smallest, under random pushes, claims, fails and releases
#define S_MODEL_MAX 2000

typedef struct {
    int32_t priority;
    int seq;
    bool pending;
    bool claimed;
} s_model_item_t;

static void
test_order_matches_model (void)
{
    wp_test_clock_t clock;
    wp_store_t *store = s_store (&clock);
    s_model_item_t *model = calloc (S_MODEL_MAX, sizeof *model);
    CHECK (model);
    int pushed = 0;
    uint64_t rng = 42;
    for (int step = 0; step < 20000; step++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        unsigned roll = (unsigned) (rng >> 33);
        char id [16];
        if (roll % 10 < 4 && pushed < S_MODEL_MAX) {
            model [pushed].priority = (int32_t) ((roll >> 4) % 7) - 3;
            model [pushed].seq = pushed;
            model [pushed].pending = true;
            snprintf (id, sizeof id, "%d", pushed);
            s_push (store, "p", id, model [pushed].priority, 0, NULL, NULL);
            pushed++;
        }
        else
        if (roll % 10 < 8) {
            int best = -1;
            for (int i = 0; i < pushed; i++)
                if (model [i].pending
                &&  (best < 0 || model [i].priority < model [best].priority))
                    best = i;
            char *got = memtest_claim (store, "p", "w", 0);
            if (best < 0)
                CHECK (!got);
            else {
                snprintf (id, sizeof id, "%d", best);
                CHECK_STR (got, id);
                model [best].pending = false;
                model [best].claimed = true;
            }
            free (got);
        }
        else {
            //  One claimed item back to pending by fail (max_retries 3 is
            //  never reached: a release resets nothing, so count them), or
            //  all of them by release
            if (roll % 10 == 8) {
                uint64_t count;
                CHECK_OK (store, wp_store_release_by_worker (store, "p", "w", &count));
                for (int i = 0; i < pushed; i++)
                    if (model [i].claimed) {
                        model [i].claimed = false;
                        model [i].pending = true;
                    }
            }
            else
                for (int i = 0; i < pushed; i++)
                    if (model [i].claimed) {
                        snprintf (id, sizeof id, "%d", i);
                        CHECK_OK (store, wp_store_complete (store, "p", id, NULL, 0, "w"));
                        model [i].claimed = false;
                        break;
                    }
        }
    }
    free (model);
    wp_store_destroy (&store);
}

//  At 10^6 pending items with random priorities, claiming them all in
//  order takes seconds, not the hours a scan per claim would
#define S_SCALE 1000000

static void
test_priority_at_scale (void)
{
    wp_test_clock_t clock;
    wp_store_t *store = s_store (&clock);
    struct timespec start, end;
    clock_gettime (CLOCK_MONOTONIC, &start);
    uint64_t rng = 7;
    for (int i = 0; i < S_SCALE; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        char id [16];
        snprintf (id, sizeof id, "%d", i);
        s_push (store, "p", id, (int32_t) ((rng >> 33) % 1000) - 500, 0, NULL, NULL);
    }
    int32_t last_priority = INT32_MIN;
    int last_seq = -1;
    for (int i = 0; i < S_SCALE; i++) {
        wp_item_t *item = NULL;
        CHECK_OK (store, wp_store_claim (store, "p", "w", 0, &item));
        CHECK (item);
        int seq = atoi (item->id);
        CHECK (item->priority > last_priority
           || (item->priority == last_priority && seq > last_seq));
        last_priority = item->priority;
        last_seq = seq;
        wp_item_destroy (&item);
    }
    clock_gettime (CLOCK_MONOTONIC, &end);
    double seconds = (double) (end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9;
    printf ("priority at scale: %d pushes and claims in %.2f s\n", S_SCALE, seconds);
    CHECK (seconds < 60);
    wp_store_destroy (&store);
}

//  Delayed items: scheduled, not counted by size, promoted at exactly
//  run_at (counted by reap, told once), then claimed by priority; next_due
//  sees the earliest of every kind of deadline
static void
test_promotion (void)
{
    wp_test_clock_t clock;
    wp_store_t *store = s_store (&clock);
    CHECK_INT (s_next_due (store), 0);
    s_push (store, "p", "late", 0, 30, NULL, NULL);
    s_push (store, "p", "soon", 5, 10, NULL, NULL);
    s_push (store, "p", "also", -1, 10, NULL, NULL);
    s_push (store, "p", "now", 9, 0, NULL, NULL);
    wp_item_t *item = s_get (store, "p", "soon");
    CHECK (item->status == WP_ITEM_SCHEDULED && item->run_at == T0 + 10 * SECOND);
    CHECK (item->priority == 5);
    wp_item_destroy (&item);
    CHECK_INT (s_size (store, "p"), 1);
    CHECK_INT (s_next_due (store), T0 + 10 * SECOND);
    wp_stats_t *stats = NULL;
    CHECK_OK (store, wp_store_stats (store, &stats));
    CHECK_INT (stats->pools [0].scheduled, 3);
    CHECK_INT (stats->pools [0].pending, 1);
    wp_stats_destroy (&stats);

    //  A lease that lapses before the first run_at comes first in next_due
    CHECK_CLAIM (store, "p", "w", 4, "now");
    CHECK_INT (s_next_due (store), T0 + 4 * SECOND);
    CHECK_OK (store, wp_store_complete (store, "p", "now", NULL, 0, "w"));
    CHECK_INT (s_next_due (store), T0 + 10 * SECOND);

    clock.now = T0 + 10 * SECOND - 1;
    CHECK_CLAIM (store, "p", "w", 0, NULL);
    wp_reap_t reap;
    CHECK_OK (store, wp_store_reap (store, &reap));
    CHECK_INT (reap.promoted, 0);
    clock.now = T0 + 10 * SECOND;
    CHECK_INT (s_size (store, "p"), 2);
    CHECK_OK (store, wp_store_reap (store, &reap));
    CHECK_INT (reap.promoted, 2);
    CHECK_OK (store, wp_store_reap (store, &reap));
    CHECK_INT (reap.promoted, 0);
    item = s_get (store, "p", "soon");
    CHECK (item->status == WP_ITEM_PENDING && item->run_at == T0 + 10 * SECOND);
    wp_item_destroy (&item);
    CHECK_CLAIM (store, "p", "w", 0, "also");
    CHECK_CLAIM (store, "p", "w", 0, "soon");
    CHECK_INT (s_next_due (store), T0 + 30 * SECOND);     //  "late", before the leases
    uint64_t count;
    CHECK_OK (store, wp_store_release_by_worker (store, "p", "w", &count));
    CHECK_INT (count, 2);
    clock.now = T0 + 40 * SECOND;
    CHECK_OK (store, wp_store_reap (store, &reap));
    CHECK_INT (reap.promoted, 1);
    CHECK_INT (s_size (store, "p"), 3);

    //  A schedule's next tick is a deadline too; its removal takes it away
    clock.now = T0 + 45 * SECOND;
    s_put (store, "tick", "* * * * *");
    CHECK_INT (s_next_due (store), T0 + 100 * SECOND);    //  the minute after T0 + 45
    s_push (store, "p", "x", 0, 5, NULL, NULL);
    CHECK_INT (s_next_due (store), T0 + 50 * SECOND);
    CHECK_OK (store, wp_store_cancel (store, "p", "x"));
    CHECK_INT (s_next_due (store), T0 + 100 * SECOND);    //  the minute after T0 + 45
    CHECK_OK (store, wp_store_schedule_remove (store, "tick"));
    CHECK_INT (s_next_due (store), 0);
    CHECK_RC (store, wp_store_schedule_remove (store, "tick"), WP_NOT_FOUND);
    CHECK_STR (wp_store_errmsg (store), "no schedule 'tick'");
    wp_store_destroy (&store);
}

//  fail's retry_after, the pool's policy, lapsed leases and lost workers:
//  scheduled by the policy (counted backed_off), poisoned at max_retries
static void
test_retry_scheduling (void)
{
    wp_test_clock_t clock;
    wp_store_t *store = s_store (&clock);
    memtest_push (store, "p", "a", 5);
    CHECK_CLAIM (store, "p", "w", 0, "a");
    wp_item_state state = WP_ITEM_CLAIMED;
    CHECK_OK (store, wp_store_fail (store, "p", "a", "slow down", "w", 7, &state));
    CHECK_INT (state, WP_ITEM_SCHEDULED);
    wp_item_t *item = s_get (store, "p", "a");
    CHECK (item->run_at == T0 + 7 * SECOND && item->attempts == 1 && !item->claimed_by);
    CHECK_STR (item->error, "slow down");
    wp_item_destroy (&item);
    CHECK_CLAIM (store, "p", "w", 0, NULL);

    //  The pool's policy: 2 s, then 4, capped at 5
    wp_backoff_t policy = { 2, 5, 0 };
    CHECK_OK (store, wp_store_set_backoff (store, "p", &policy));
    clock.now = T0 + 7 * SECOND;
    CHECK_CLAIM (store, "p", "w", 0, "a");
    CHECK_OK (store, wp_store_fail (store, "p", "a", "x", "w", 0, &state));
    CHECK_INT (state, WP_ITEM_SCHEDULED);
    item = s_get (store, "p", "a");
    CHECK (item->run_at == T0 + 11 * SECOND);       //  attempts 2: 2 * 2
    wp_item_destroy (&item);
    //  A lapsed lease backs off too (attempts 3: min (5, 8))
    clock.now = T0 + 11 * SECOND;
    CHECK_CLAIM (store, "p", "w", 1, "a");
    clock.now = T0 + 12 * SECOND;
    wp_reap_t reap;
    CHECK_OK (store, wp_store_reap (store, &reap));
    CHECK_INT (reap.leases_expired, 1);
    CHECK_INT (reap.backed_off, 1);
    CHECK_INT (reap.requeued, 0);
    CHECK_INT (reap.promoted, 2);       //  due at 7 s and at 11 s
    item = s_get (store, "p", "a");
    CHECK (item->status == WP_ITEM_SCHEDULED && item->run_at == T0 + 17 * SECOND);
    CHECK_STR (item->error, "lease expired");
    wp_item_destroy (&item);
    //  A lost worker's claim: attempts 4
    clock.now = T0 + 17 * SECOND;
    wp_worker_t *spec = wp_worker_new ();
    spec->worker_id = wp_strdup ("w");
    spec->heartbeat_interval = 1;
    CHECK_OK (store, wp_store_register (store, spec, NULL));
    wp_worker_destroy (&spec);
    CHECK_CLAIM (store, "p", "w", 100, "a");
    clock.now = T0 + 20 * SECOND;
    CHECK_OK (store, wp_store_reap (store, &reap));
    CHECK_INT (reap.workers_lost, 1);
    CHECK_INT (reap.backed_off, 1);
    CHECK_INT (s_state (store, "p", "a"), WP_ITEM_SCHEDULED);
    //  Fifth failure poisons, policy or not
    clock.now = T0 + 25 * SECOND;
    CHECK_CLAIM (store, "p", "v", 0, "a");
    CHECK_OK (store, wp_store_fail (store, "p", "a", "x", "v", 3, &state));
    CHECK_INT (state, WP_ITEM_POISONED);
    //  Cleared, failures retry at once; a pool with only a policy shows in stats
    wp_backoff_t none = { 0, 0, 0 };
    CHECK_OK (store, wp_store_set_backoff (store, "p", &none));
    CHECK_OK (store, wp_store_retry (store, "p", "a"));
    CHECK_CLAIM (store, "p", "v", 0, "a");
    CHECK_OK (store, wp_store_fail (store, "p", "a", "x", "v", 0, &state));
    CHECK_INT (state, WP_ITEM_PENDING);
    CHECK_OK (store, wp_store_set_backoff (store, "idle", &policy));
    wp_stats_t *stats = NULL;
    CHECK_OK (store, wp_store_stats (store, &stats));
    CHECK_INT (stats->pool_count, 2);
    CHECK_STR (stats->pools [0].pool, "idle");
    CHECK (stats->pools [0].backoff.base == 2 && stats->pools [0].backoff.cap == 5);
    CHECK (stats->pools [1].backoff.base == 0);
    wp_stats_destroy (&stats);
    CHECK_OK (store, wp_store_set_backoff (store, "idle", &none));
    CHECK_OK (store, wp_store_stats (store, &stats));
    CHECK_INT (stats->pool_count, 1);
    wp_stats_destroy (&stats);
    wp_store_destroy (&store);
}

//  The unique index: a key is held while its item is pending, scheduled or
//  claimed, and free once it is done, poisoned, cancelled or purged
static void
test_unique_index (void)
{
    wp_test_clock_t clock;
    wp_store_t *store = s_store (&clock);
    char *id = NULL;
    CHECK (!s_push (store, "p", "a", 0, 10, "k", NULL));
    CHECK (s_push (store, "p", "b", 0, 0, "k", &id));
    CHECK_STR (id, "a");
    free (id);
    CHECK (s_push (store, "p", NULL, 0, 0, "k", &id));
    CHECK_STR (id, "a");
    free (id);
    //  The id rule first: "a" again is a duplicate of itself
    CHECK (s_push (store, "p", "a", 0, 0, "other", &id));
    CHECK_STR (id, "a");
    free (id);
    //  Other pools and other keys are free
    CHECK (!s_push (store, "q", "b", 0, 0, "k", NULL));
    CHECK (!s_push (store, "p", "c", 0, 0, "k2", NULL));
    CHECK_OK (store, wp_store_cancel (store, "p", "a"));
    CHECK (!s_push (store, "p", "d", 0, 0, "k", NULL));
    CHECK_CLAIM (store, "p", "w", 0, "c");
    CHECK_CLAIM (store, "p", "w", 0, "d");
    CHECK (s_push (store, "p", "e", 0, 0, "k", &id));        //  claimed: held
    CHECK_STR (id, "d");
    free (id);
    CHECK_OK (store, wp_store_complete (store, "p", "d", NULL, 0, "w"));
    CHECK (!s_push (store, "p", "e", 0, 0, "k", NULL));      //  done: free
    //  Retry of the done one: e holds the key
    CHECK_RC (store, wp_store_retry (store, "p", "d"), WP_FAILED_PRECONDITION);
    CHECK_STR (wp_store_errmsg (store), "item 'd' has unique key 'k', held by item 'e'");
    CHECK_RC (store, wp_store_retry (store, "p", "e"), WP_FAILED_PRECONDITION);
    CHECK_STR (wp_store_errmsg (store),
               "item 'e' is pending: only poisoned or done items can be retried");
    //  Purge frees it (poison does: RetryAll below)
    uint64_t count;
    wp_item_state pending = WP_ITEM_PENDING;
    CHECK_OK (store, wp_store_purge_pool (store, "p", &pending, 1, &count));
    CHECK_INT (count, 1);
    CHECK (!s_push (store, "p", "f", 0, 0, "k", NULL));
    CHECK_RC (store, wp_store_retry (store, "p", "d"), WP_FAILED_PRECONDITION);
    CHECK_STR (wp_store_errmsg (store), "item 'd' has unique key 'k', held by item 'f'");
    wp_store_destroy (&store);

    //  RetryAll: in push order, the first of several with one key wins, and
    //  one held by a live item stays poisoned
    store = s_store (&clock);
    const char *ids [] = { "p1", "p2", "p3", "p4" };
    const char *keys [] = { "x", "x", "y", NULL };
    for (int i = 0; i < 4; i++) {
        wp_push_entry_t entry = { s_data, sizeof s_data, ids [i], 0, .unique_key = keys [i] };
        char *out = NULL;
        CHECK_OK (store, wp_store_push (store, "p", &entry, &out, NULL));
        free (out);
        CHECK_CLAIM (store, "p", "w", 0, ids [i]);
        CHECK_OK (store, wp_store_fail (store, "p", ids [i], "x", "w", 0, NULL));
        CHECK_INT (s_state (store, "p", ids [i]), WP_ITEM_POISONED);
    }
    CHECK (!s_push (store, "p", "live", 0, 0, "y", NULL));
    CHECK_OK (store, wp_store_retry_all (store, "p", &count));
    CHECK_INT (count, 2);
    CHECK_INT (s_state (store, "p", "p1"), WP_ITEM_PENDING);
    CHECK_INT (s_state (store, "p", "p2"), WP_ITEM_POISONED);
    CHECK_INT (s_state (store, "p", "p3"), WP_ITEM_POISONED);
    CHECK_INT (s_state (store, "p", "p4"), WP_ITEM_PENDING);
    CHECK (s_push (store, "p", "z", 0, 0, "x", &id));
    CHECK_STR (id, "p1");
    free (id);
    wp_store_destroy (&store);
}

//  Everything a caller can see of the scheduling state, as text
static char *
s_picture (wp_store_t *store, bool probe_keys)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    CHECK (out);
    const char *pools [] = { "p", "q" };
    for (int p = 0; p < 2; p++) {
        wp_item_list_t *items = NULL;
        char *cursor = NULL;
        CHECK_OK (store, wp_store_list_items (store, pools [p], NULL, 0, WP_LIST_MAX, NULL,
                                              &items, &cursor));
        for (size_t i = 0; i < items->count; i++) {
            wp_item_t *item = items->items [i];
            fprintf (out, "%s/%s %s prio=%d run_at=%" PRId64 " key=%s attempts=%u error=%s\n",
                     pools [p], item->id, wp_item_state_name (item->status), item->priority,
                     item->run_at, item->unique_key ? item->unique_key : "-", item->attempts,
                     item->error ? item->error : "-");
        }
        wp_item_list_destroy (&items);
        free (cursor);
    }
    wp_stats_t *stats = NULL;
    CHECK_OK (store, wp_store_stats (store, &stats));
    for (size_t i = 0; i < stats->pool_count; i++)
        fprintf (out, "pool %s: %" PRIu64 "/%" PRIu64 "/%" PRIu64 "/%" PRIu64 "/%" PRIu64
                 " paused=%d backoff=%g,%g,%g\n", stats->pools [i].pool,
                 stats->pools [i].pending, stats->pools [i].claimed, stats->pools [i].done,
                 stats->pools [i].poisoned, stats->pools [i].scheduled, stats->pools [i].paused,
                 stats->pools [i].backoff.base, stats->pools [i].backoff.cap,
                 stats->pools [i].backoff.jitter);
    wp_stats_destroy (&stats);
    char *schedules = s_schedules (store);
    fprintf (out, "schedules: %s\nnext_due %" PRId64 "\n", schedules, s_next_due (store));
    free (schedules);
    //  The unique index, seen through pushes: one that is no duplicate
    //  changes the state, so the probes run in a group rolled back (only
    //  outside a group, then)
    if (!probe_keys) {
        fclose (out);
        return text;
    }
    CHECK_OK (store, wp_store_begin (store));
    const char *keys [] = { "k1", "k2", "k3" };
    for (int k = 0; k < 3; k++) {
        char *id = NULL;
        bool duplicate = s_push (store, "p", NULL, 0, 0, keys [k], &id);
        fprintf (out, "key %s: %s\n", keys [k], duplicate ? id : "free");
        free (id);
    }
    wp_store_rollback (store);
    fclose (out);
    return text;
}

//  A state with every new kind of thing in it
static void
s_setup (wp_store_t *store)
{
    wp_backoff_t policy = { 3, 30, 0 };
    CHECK_OK (store, wp_store_set_backoff (store, "p", &policy));
    s_push (store, "p", "a", -1, 0, "k1", NULL);
    s_push (store, "p", "b", -2, 20, "k2", NULL);
    s_push (store, "p", "c", 0, 0, NULL, NULL);
    s_put (store, "s1", "*/5 * * * *");
    s_put (store, "s2", "0 * * * *");
}

//  Each change of the scheduling state, made in a group, is undone by
//  rollback and by rollback_to: the picture is as before
static void
test_undo_of_each_change (void)
{
    static const char *const changes [] = {
        "push scheduled with a key", "claim by priority", "fail into backoff", "promotion",
        "set_backoff", "clear backoff", "schedule put new", "schedule replace",
        "schedule remove", "schedule remove and put again", "cancel scheduled (frees the key)",
        "complete frees the key, push takes it", "retry_all with keys",
        "fire schedules (a batch: no savepoint of ours around it)",
    };
    size_t change_count = sizeof changes / sizeof changes [0];
    for (size_t c = 0; c < change_count; c++) {
        for (int how = 0; how < (c == 13 ? 1 : 2); how++) {
            wp_test_clock_t clock;
            wp_store_t *store = s_store (&clock);
            s_setup (store);
            clock.now = T0 + SECOND;
            char *before = s_picture (store, true);
            CHECK_OK (store, wp_store_begin (store));
            if (how == 1) {
                //  Something before the mark that must stay
                s_push (store, "q", "kept", 0, 0, NULL, NULL);
                CHECK_OK (store, memops_savepoint (store));
            }
            wp_item_state state;
            uint64_t count;
            wp_backoff_t policy = { 1, 2, 0.5 }, none = { 0, 0, 0 };
            switch (c) {
                case 0:
                    s_push (store, "p", "n", 1, 9, "k3", NULL);
                    break;
                case 1:
                    CHECK_CLAIM (store, "p", "w", 0, "a");
                    break;
                case 2:
                    CHECK_CLAIM (store, "p", "w", 0, "a");
                    CHECK_OK (store, wp_store_fail (store, "p", "a", "e", "w", 0, &state));
                    CHECK_INT (state, WP_ITEM_SCHEDULED);
                    break;
                case 3:
                    clock.now = T0 + 20 * SECOND;
                    CHECK_CLAIM (store, "p", "w", 0, "b");
                    break;
                case 4:
                    CHECK_OK (store, wp_store_set_backoff (store, "p", &policy));
                    CHECK_OK (store, wp_store_set_backoff (store, "q", &policy));
                    break;
                case 5:
                    CHECK_OK (store, wp_store_set_backoff (store, "p", &none));
                    break;
                case 6:
                    s_put (store, "s3", "* * * * *");
                    break;
                case 7:
                    s_put (store, "s1", "* * * * *");
                    break;
                case 8:
                    CHECK_OK (store, wp_store_schedule_remove (store, "s1"));
                    break;
                case 9:
                    CHECK_OK (store, wp_store_schedule_remove (store, "s2"));
                    s_put (store, "s2", "*/2 * * * *");
                    CHECK_OK (store, wp_store_schedule_remove (store, "s2"));
                    s_put (store, "s2", "*/3 * * * *");
                    break;
                case 10:
                    CHECK_OK (store, wp_store_cancel (store, "p", "b"));
                    CHECK (!s_push (store, "p", "b2", 0, 0, "k2", NULL));
                    break;
                case 11:
                    CHECK_CLAIM (store, "p", "w", 0, "a");
                    CHECK_OK (store, wp_store_complete (store, "p", "a", NULL, 0, "w"));
                    CHECK (!s_push (store, "p", "a2", 0, 0, "k1", NULL));
                    break;
                case 12:
                    CHECK_CLAIM (store, "p", "w", 0, "a");
                    CHECK_OK (store, wp_store_cancel (store, "p", "c"));
                    CHECK_OK (store, wp_store_retry_all (store, "p", &count));
                    break;
                case 13:
                    clock.now = T0 + 3600 * SECOND;
                    CHECK_OK (store, wp_store_fire_schedules (store, &count));
                    CHECK_INT (count, 2);
                    break;
            }
            char *during = s_picture (store, false);
            if (strncmp (during, before, strlen (during)) == 0) {
                fprintf (stderr, "change '%s' changed nothing:\n%s", changes [c], during);
                abort ();
            }
            //  Back before anything fell due, so the calls below apply nothing
            clock.now = T0 + SECOND;
            if (how == 0)
                wp_store_rollback (store);
            else {
                memops_rollback_to (store);
                CHECK_OK (store, wp_store_cancel (store, "q", "kept"));
                CHECK_OK (store, wp_store_commit (store));
            }
            char *after = s_picture (store, true);
            if (strcmp (after, before) != 0) {
                fprintf (stderr, "change '%s' (%s) not undone:\nbefore:\n%safter:\n%s",
                         changes [c], how ? "rollback_to" : "rollback", before, after);
                abort ();
            }
            free (before);
            free (during);
            free (after);
            wp_store_destroy (&store);
        }
    }
}

//  Committed, the same changes stay; a schedule removed in a group is gone
//  for good at commit and its name free again
static void
test_commit_keeps_changes (void)
{
    wp_test_clock_t clock;
    wp_store_t *store = s_store (&clock);
    s_setup (store);
    CHECK_OK (store, wp_store_begin (store));
    CHECK_OK (store, wp_store_schedule_remove (store, "s1"));
    s_put (store, "s3", "* * * * *");
    CHECK_OK (store, wp_store_schedule_remove (store, "s3"));
    CHECK_RC (store, wp_store_schedule_remove (store, "s3"), WP_NOT_FOUND);
    CHECK_OK (store, wp_store_commit (store));
    char *text = s_schedules (store);
    CHECK (strncmp (text, "s2:0 * * * *@", 13) == 0 && !strstr (text, "s1") && !strstr (text, "s3"));
    free (text);
    s_put (store, "s1", "* * * * *");
    text = s_schedules (store);
    CHECK (strncmp (text, "s1:* * * * *@", 13) == 0);
    free (text);
    wp_store_destroy (&store);
}

int
main (void)
{
    test_priority_order ();
    test_order_matches_model ();
    test_promotion ();
    test_retry_scheduling ();
    test_unique_index ();
    test_undo_of_each_change ();
    test_commit_keeps_changes ();
    test_priority_at_scale ();
    printf ("test_store_memory_sched: all passed\n");
    return 0;
}
