/*  test_store_memory_race: eight threads share one memory store and claim,
    fail, release and complete 20,000 items while a ninth pushes half of
    them in groups (begin/commit, which every thread's calls then join).
    Each item must be completed exactly once, never be held by two workers
    at once (holders are tracked with atomics outside the store), and end
    with the attempts its history gave it. Items carry three priorities, one
    in ten is pushed with a short delay and one in ten of those that fail
    waits out a short Retry-After, so promotion by whichever thread's call
    comes first takes part. Heartbeats, renewals and reads run in between
    to contend for the lock. Run under ThreadSanitizer too.  */
#include "memtest.h"
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#define ITEMS    20000
#define THREADS  8
#define POOL     "race"

typedef struct {
    wp_store_t *store;
    atomic_int holder [ITEMS];          //  0, or 1 + the thread holding it
    atomic_int completed [ITEMS];       //  completions seen
    atomic_int failed [ITEMS];          //  fails made
    atomic_int released [ITEMS];        //  releases made
    atomic_int done;                    //  items completed
    atomic_int violations;              //  claims of an item held by another
    atomic_int errors;                  //  calls that did not do what they should
} race_t;

typedef struct {
    race_t *race;
    int index;
} worker_arg_t;

static int
s_item_index (const char *id)
{
    int index = atoi (id + 1);
    return index >= 0 && index < ITEMS ? index : -1;
}

static void
s_push_range (wp_store_t *store, int from, int to, bool grouped)
{
    char id [16];
    for (int i = from; i < to; i++) {
        if (grouped && (i - from) % 100 == 0)
            CHECK_OK (store, wp_store_begin (store));
        snprintf (id, sizeof id, "i%05d", i);
        static const uint8_t data [] = { 0xc0 };
        wp_push_entry_t entry = { data, sizeof data, id, -1, .priority = i % 3 - 1,
                                  .delay = i % 10 == 3 ? 0.002 : 0 };
        char *id_out = NULL;
        bool duplicate = true;
        CHECK_OK (store, wp_store_push (store, POOL, &entry, &id_out, &duplicate));
        CHECK (strcmp (id_out, id) == 0 && !duplicate);
        free (id_out);
        if (grouped && ((i - from) % 100 == 99 || i == to - 1))
            CHECK_OK (store, wp_store_commit (store));
    }
}

static void *
s_pusher (void *arg)
{
    race_t *race = (race_t *) arg;
    s_push_range (race->store, ITEMS / 2, ITEMS, true);
    return NULL;
}

static void *
s_worker (void *arg)
{
    worker_arg_t *self = (worker_arg_t *) arg;
    race_t *race = self->race;
    wp_store_t *store = race->store;
    char worker_id [16];
    snprintf (worker_id, sizeof worker_id, "w%d", self->index);
    wp_worker_t *record = wp_worker_new ();
    record->worker_id = strdup (worker_id);
    if (wp_store_register (store, record, NULL) != WP_OK)
        atomic_fetch_add (&race->errors, 1);
    wp_worker_destroy (&record);

    int me = self->index + 1;
    unsigned seed = (unsigned) me;
    while (atomic_load (&race->done) < ITEMS) {
        wp_item_t *item = NULL;
        if (wp_store_claim (store, POOL, worker_id, 0, &item) != WP_OK) {
            atomic_fetch_add (&race->errors, 1);
            break;
        }
        if (!item) {
            sched_yield ();
            continue;
        }
        int index = s_item_index (item->id);
        if (index < 0 || item->status != WP_ITEM_CLAIMED
        ||  strcmp (item->claimed_by, worker_id) != 0) {
            atomic_fetch_add (&race->errors, 1);
            wp_item_destroy (&item);
            continue;
        }
        int expected = 0;
        if (!atomic_compare_exchange_strong (&race->holder [index], &expected, me))
            atomic_fetch_add (&race->violations, 1);

        //  Contend on the lock with the other calls while holding the item
        switch (rand_r (&seed) % 8) {
            case 0: {
                uint64_t renewed = 0;
                if (wp_store_renew (store, worker_id, 60, &renewed) != WP_OK || renewed != 1)
                    atomic_fetch_add (&race->errors, 1);
                break;
            }
            case 1:
                if (wp_store_heartbeat (store, worker_id, NULL) != WP_OK)
                    atomic_fetch_add (&race->errors, 1);
                break;
            case 2: {
                wp_stats_t *stats = NULL;
                if (wp_store_stats (store, &stats) != WP_OK)
                    atomic_fetch_add (&race->errors, 1);
                wp_stats_destroy (&stats);
                break;
            }
            default:
                break;
        }

        //  Give the item up before the store does, so that another thread
        //  may claim it as soon as the store lets it
        atomic_store (&race->holder [index], 0);
        if (index % 5 == 0 && atomic_load (&race->failed [index]) == 0) {
            atomic_fetch_add (&race->failed [index], 1);
            wp_item_state state;
            bool later = index % 10 == 0;
            if (wp_store_fail (store, POOL, item->id, "retry me", worker_id, later ? 0.001 : 0,
                               &state) != WP_OK
            ||  state != (later ? WP_ITEM_SCHEDULED : WP_ITEM_PENDING))
                atomic_fetch_add (&race->errors, 1);
        }
        else
        if (index % 7 == 0 && atomic_load (&race->released [index]) == 0) {
            atomic_fetch_add (&race->released [index], 1);
            uint64_t count = 0;
            if (wp_store_release_by_worker (store, POOL, worker_id, &count) != WP_OK
            ||  count != 1)
                atomic_fetch_add (&race->errors, 1);
        }
        else {
            uint8_t result [2] = { 0xcd, (uint8_t) me };
            if (wp_store_complete (store, POOL, item->id, result, sizeof result,
                                   worker_id) != WP_OK)
                atomic_fetch_add (&race->errors, 1);
            atomic_fetch_add (&race->completed [index], 1);
            atomic_fetch_add (&race->done, 1);
        }
        wp_item_destroy (&item);
    }
    return NULL;
}

int
main (void)
{
    race_t *race = calloc (1, sizeof *race);
    CHECK (race);
    race->store = wp_store_memory_new (NULL);
    s_push_range (race->store, 0, ITEMS / 2, false);

    pthread_t pusher;
    pthread_t threads [THREADS];
    worker_arg_t args [THREADS];
    CHECK (pthread_create (&pusher, NULL, s_pusher, race) == 0);
    for (int i = 0; i < THREADS; i++) {
        args [i].race = race;
        args [i].index = i;
        CHECK (pthread_create (&threads [i], NULL, s_worker, &args [i]) == 0);
    }
    CHECK (pthread_join (pusher, NULL) == 0);
    for (int i = 0; i < THREADS; i++)
        CHECK (pthread_join (threads [i], NULL) == 0);

    CHECK (atomic_load (&race->errors) == 0);
    CHECK (atomic_load (&race->violations) == 0);
    CHECK (atomic_load (&race->done) == ITEMS);
    wp_store_t *store = race->store;
    char id [16];
    for (int i = 0; i < ITEMS; i++) {
        CHECK (atomic_load (&race->completed [i]) == 1);
        snprintf (id, sizeof id, "i%05d", i);
        wp_item_t *item = NULL;
        CHECK_OK (store, wp_store_get (store, POOL, id, &item));
        CHECK (item->status == WP_ITEM_DONE);
        CHECK (item->attempts == (i % 5 == 0 ? 1u : 0u));
        CHECK ((item->run_at != 0) == (i % 10 == 3 || i % 10 == 0));   //  delayed, backed off
        CHECK (item->priority == i % 3 - 1);
        CHECK (item->result_size == 2 && item->result [0] == 0xcd);
        CHECK (item->claimed_by && item->claimed_by [0] == 'w');
        wp_item_destroy (&item);
        //  A late worker cannot complete it again
        CHECK_RC (store, wp_store_complete (store, POOL, id, NULL, 0, "w0"),
                  WP_FAILED_PRECONDITION);
    }
    uint64_t size;
    CHECK_OK (store, wp_store_size (store, POOL, &size));
    CHECK (size == 0);
    wp_stats_t *stats = NULL;
    CHECK_OK (store, wp_store_stats (store, &stats));
    CHECK (stats->pool_count == 1 && stats->pools [0].done == ITEMS);
    CHECK (stats->pools [0].pending == 0 && stats->pools [0].claimed == 0);
    CHECK (stats->pools [0].scheduled == 0);
    CHECK (stats->worker_status_count == 1 && stats->workers [0].count == THREADS);
    wp_stats_destroy (&stats);
    for (int i = 0; i < THREADS; i++) {
        char worker_id [16];
        snprintf (worker_id, sizeof worker_id, "w%d", i);
        wp_worker_t *worker = NULL;
        CHECK_OK (store, wp_store_get_worker (store, worker_id, &worker));
        CHECK (worker && worker->current_task_id == NULL);
        wp_worker_destroy (&worker);
    }
    wp_store_destroy (&store);
    free (race);
    printf ("test_store_memory_race: %d items, %d threads, all completed once\n",
            ITEMS, THREADS);
    return 0;
}
