/*  test_store_memory_ops: the memory store's savepoints (rollback_to undoes
    every kind of change back to the mark, items changed on both sides of
    it included, and the reap totals, and ends the mark; one mark at a time;
    another thread's call waits while a mark is set) and its lifecycle ops
    with their exact words: List pages in push order across statuses with
    cursors (a full last page ends with no cursor), Retry, RetryAll,
    Cancel, Purge by status, Pause/Resume, and the per-pool counts of Stats
    after each. The conformance suite checks the same verbs on every
    backend.  */
#include "memtest.h"
#include "memops.h"
#include <pthread.h>
#include <unistd.h>

#define T0 (INT64_C(1700000000) * SECOND)

static void
s_expect_error (wp_store_t *store, wp_status got, wp_status want, const char *message)
{
    CHECK_INT (got, want);
    CHECK_STR (wp_store_errmsg (store), message);
}

static wp_item_state
s_state (wp_store_t *store, const char *pool, const char *id)
{
    wp_item_t *item = NULL;
    CHECK_OK (store, wp_store_get (store, pool, id, &item));
    wp_item_state state = item->status;
    wp_item_destroy (&item);
    return state;
}

static bool
s_exists (wp_store_t *store, const char *pool, const char *id)
{
    wp_item_t *item = NULL;
    wp_status rc = wp_store_get (store, pool, id, &item);
    CHECK (rc == WP_OK || rc == WP_NOT_FOUND);
    wp_item_destroy (&item);
    return rc == WP_OK;
}

//  The stats entry of pool, or NULL; *stats_p is the caller's to destroy
static const wp_pool_stats_t *
s_pool_stats (wp_store_t *store, const char *pool, wp_stats_t **stats_p)
{
    CHECK_OK (store, wp_store_stats (store, stats_p));
    for (size_t i = 0; i < (*stats_p)->pool_count; i++)
        if (strcmp ((*stats_p)->pools [i].pool, pool) == 0)
            return &(*stats_p)->pools [i];
    return NULL;
}

#define CHECK_COUNTS(store, pool, p, c, d, x) do { \
    wp_stats_t *stats_ = NULL; \
    const wp_pool_stats_t *entry_ = s_pool_stats (store, pool, &stats_); \
    CHECK (entry_); \
    CHECK_INT (entry_->pending, p); \
    CHECK_INT (entry_->claimed, c); \
    CHECK_INT (entry_->done, d); \
    CHECK_INT (entry_->poisoned, x); \
    wp_stats_destroy (&stats_); \
} while (0)

static void
s_poison (wp_store_t *store, const char *pool, const char *id)
{
    char *got = memtest_claim (store, pool, "w", 0);
    CHECK_STR (got, id);
    wp_item_state state;
    CHECK_OK (store, wp_store_fail (store, pool, id, "boom", "w", 0, &state));
    CHECK_INT (state, WP_ITEM_POISONED);
    free (got);
}

static void
s_test_savepoints (void)
{
    wp_test_clock_t clock = { T0 };
    wp_store_t *store = wp_store_memory_new (NULL);
    wp_store_set_clock (store, wp_test_clock_read, &clock);
    CHECK_RC (store, memops_savepoint (store), WP_FAILED_PRECONDITION);
    CHECK_STR (wp_store_errmsg (store), "no transaction is open");

    memtest_push (store, "p", "a", -1);
    memtest_push (store, "p", "lapse", -1);
    CHECK_CLAIM (store, "p", "w", 1, "a");          //  a: claimed, 1 s lease
    CHECK_OK (store, wp_store_begin (store));
    CHECK_CLAIM (store, "p", "w", 0, "lapse");      //  in the group, before the mark
    CHECK_OK (store, memops_savepoint (store));
    //  After the mark: a changed again, a push, a worker, a pause, an expiry
    CHECK_OK (store, wp_store_complete (store, "p", "lapse", NULL, 0, "w"));
    memtest_push (store, "p", "b", -1);
    wp_worker_t spec = { .worker_id = "x", .heartbeat_interval = 1 };
    CHECK_OK (store, wp_store_register (store, &spec, NULL));
    CHECK_OK (store, wp_store_set_paused (store, "p", true));
    clock.now += 2 * SECOND;                        //  a's lease lapses
    uint64_t size = 0;
    CHECK_OK (store, wp_store_size (store, "p", &size));
    CHECK_INT (size, 2);                            //  a and b
    memops_rollback_to (store);
    //  Back to the mark: lapse claimed, no b, no x, not paused, and a's
    //  expiry undone (it is applied again on the next call, counted once)
    CHECK_INT (s_state (store, "p", "lapse"), WP_ITEM_CLAIMED);
    CHECK (!s_exists (store, "p", "b"));            //  this call re-applies a's expiry
    wp_worker_t *worker = NULL;
    CHECK_OK (store, wp_store_get_worker (store, "x", &worker));
    CHECK (worker == NULL);
    wp_stats_t *stats = NULL;
    CHECK (!s_pool_stats (store, "p", &stats)->paused);
    wp_stats_destroy (&stats);
    //  rollback_to ended the mark: another undoes nothing, a second mark may
    //  be set, and only one at a time
    CHECK_OK (store, wp_store_complete (store, "p", "lapse", NULL, 0, "w"));
    memops_rollback_to (store);
    CHECK_INT (s_state (store, "p", "lapse"), WP_ITEM_DONE);
    CHECK_OK (store, memops_savepoint (store));
    CHECK_RC (store, memops_savepoint (store), WP_FAILED_PRECONDITION);
    CHECK_STR (wp_store_errmsg (store), "a savepoint is already set");
    CHECK_OK (store, wp_store_retry (store, "p", "lapse"));
    memops_release (store);                         //  kept
    memops_rollback_to (store);                     //  no mark: does nothing
    CHECK_INT (s_state (store, "p", "lapse"), WP_ITEM_PENDING);
    CHECK_OK (store, wp_store_commit (store));
    CHECK_INT (s_state (store, "p", "lapse"), WP_ITEM_PENDING);
    CHECK_INT (s_state (store, "p", "a"), WP_ITEM_PENDING);
    wp_reap_t reap;
    CHECK_OK (store, wp_store_reap (store, &reap));
    CHECK_INT (reap.leases_expired, 1);             //  a's, once

    //  A rollback of the whole group undoes what came before the mark too,
    //  and ends a mark left set
    CHECK_CLAIM (store, "p", "w", 0, "a");
    CHECK_OK (store, wp_store_begin (store));
    CHECK_OK (store, wp_store_complete (store, "p", "a", NULL, 0, "w"));
    CHECK_OK (store, memops_savepoint (store));
    CHECK_OK (store, wp_store_retry (store, "p", "a"));
    CHECK_OK (store, wp_store_cancel (store, "p", "a"));
    memtest_push (store, "p", "a", -1);             //  its id is free again
    memops_rollback_to (store);
    CHECK_INT (s_state (store, "p", "a"), WP_ITEM_DONE);
    CHECK_OK (store, memops_savepoint (store));
    CHECK_OK (store, wp_store_retry (store, "p", "a"));
    wp_store_rollback (store);
    CHECK_INT (s_state (store, "p", "a"), WP_ITEM_CLAIMED);
    CHECK_COUNTS (store, "p", 1, 1, 0, 0);
    wp_store_destroy (&store);
}

//  Another thread's call while a batch's savepoint is set waits for the
//  mark to end, so rollback_to cannot undo it along with the batch
typedef struct {
    wp_store_t *store;
    volatile int stage;         //  1: the mark is set; 2: the push returned
} s_race_t;

static void *
s_pusher (void *arg)
{
    s_race_t *race = arg;
    while (__atomic_load_n (&race->stage, __ATOMIC_ACQUIRE) < 1)
        usleep (1000);
    memtest_push (race->store, "p", "other", -1);
    __atomic_store_n (&race->stage, 2, __ATOMIC_RELEASE);
    return NULL;
}

static void
s_test_savepoint_threads (void)
{
    s_race_t race = { wp_store_memory_new (NULL), 0 };
    pthread_t thread;
    CHECK (pthread_create (&thread, NULL, s_pusher, &race) == 0);
    CHECK_OK (race.store, wp_store_begin (race.store));
    CHECK_OK (race.store, memops_savepoint (race.store));
    memtest_push (race.store, "p", "batch", -1);
    __atomic_store_n (&race.stage, 1, __ATOMIC_RELEASE);
    usleep (50000);
    CHECK (__atomic_load_n (&race.stage, __ATOMIC_ACQUIRE) == 1);      //  it waits
    memops_rollback_to (race.store);
    CHECK (pthread_join (thread, NULL) == 0);
    CHECK_OK (race.store, wp_store_commit (race.store));
    CHECK (!s_exists (race.store, "p", "batch"));
    CHECK (s_exists (race.store, "p", "other"));
    wp_store_destroy (&race.store);
}

//  Lists every page of pool in statuses with limit; checks the ids come in
//  the order of expect (n of them) and how many pages it took
static void
s_check_pages (wp_store_t *store, const char *pool, const wp_item_state *statuses,
               size_t status_count, size_t limit, const char *const *expect, size_t n,
               size_t pages)
{
    char *cursor = NULL;
    size_t at = 0, page = 0;
    do {
        wp_item_list_t *items = NULL;
        char *next = NULL;
        CHECK_OK (store, wp_store_list_items (store, pool, statuses, status_count, limit, cursor,
                                      &items, &next));
        free (cursor);
        cursor = next;
        CHECK (items->count <= (limit ? limit : WP_LIST_DEFAULT));
        CHECK (!cursor || items->count == (limit ? limit : WP_LIST_DEFAULT));
        CHECK (!cursor || strlen (cursor) <= WP_CURSOR_MAX);
        for (size_t i = 0; i < items->count; i++) {
            CHECK (at < n);
            CHECK_STR (items->items [i]->id, expect [at]);
            CHECK_STR (items->items [i]->pool, pool);
            at++;
        }
        wp_item_list_destroy (&items);
        page++;
    } while (cursor);
    CHECK_INT (at, n);
    CHECK_INT (page, pages);
}

static void
s_test_list (void)
{
    wp_store_t *store = wp_store_memory_new (NULL);
    static char ids [250][8];
    const char *all [250], *pending [250], *finished [250];
    size_t pending_count = 0, finished_count = 0;
    for (int i = 0; i < 250; i++) {
        snprintf (ids [i], sizeof ids [i], "i%03d", i);
        all [i] = ids [i];
        memtest_push (store, "p", ids [i], 0);      //  a failure poisons
    }
    memtest_push (store, "other", "i000", -1);
    //  Claim the first 30: 10 done, 10 poisoned, 10 left claimed
    for (int i = 0; i < 30; i++)
        CHECK_CLAIM (store, "p", "w", 0, ids [i]);
    for (int i = 0; i < 20; i++) {
        if (i % 2)
            CHECK_OK (store, wp_store_complete (store, "p", ids [i], NULL, 0, "w"));
        else
            CHECK_OK (store, wp_store_fail (store, "p", ids [i], "boom", "w", 0, NULL));
        finished [finished_count++] = ids [i];
    }
    for (int i = 30; i < 250; i++)
        pending [pending_count++] = ids [i];

    s_check_pages (store, "p", NULL, 0, 100, all, 250, 3);
    s_check_pages (store, "p", NULL, 0, 0, all, 250, 3);        //  0: WP_LIST_DEFAULT
    s_check_pages (store, "p", NULL, 0, 1000, all, 250, 1);
    s_check_pages (store, "p", NULL, 0, 125, all, 250, 2);      //  a full last page
    s_check_pages (store, "p", NULL, 0, 7, all, 250, 36);
    wp_item_state only_pending [] = { WP_ITEM_PENDING };
    s_check_pages (store, "p", only_pending, 1, 100, pending, pending_count, 3);
    wp_item_state gone [] = { WP_ITEM_POISONED, WP_ITEM_DONE, WP_ITEM_POISONED };
    s_check_pages (store, "p", gone, 3, 3, finished, finished_count, 7);
    s_check_pages (store, "nowhere", NULL, 0, 10, all, 0, 1);

    //  Each item as Get returns it
    wp_item_list_t *items = NULL;
    char *next = NULL;
    CHECK_OK (store, wp_store_list_items (store, "p", gone, 1, 1, NULL, &items, &next));
    CHECK_STR (items->items [0]->error, "boom");
    CHECK_INT (items->items [0]->status, WP_ITEM_POISONED);
    CHECK_STR (items->items [0]->claimed_by, "w");
    wp_item_list_destroy (&items);
    //  A cursor from another page still works after the item it names is gone
    CHECK_STR (next, "0");
    CHECK_OK (store, wp_store_cancel (store, "p", "i000"));
    char *after = next;
    CHECK_OK (store, wp_store_list_items (store, "p", gone, 1, 1, after, &items, &next));
    CHECK_STR (items->items [0]->id, "i002");
    wp_item_list_destroy (&items);
    free (after);
    free (next);

    const char *bad [] = { "", "abc", "12a", "-1", "+1", " 1", "18446744073709551616",
                           "123456789012345678901234567890" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        items = NULL;
        next = NULL;
        s_expect_error (store, wp_store_list_items (store, "p", NULL, 0, 10, bad [i], &items, &next),
                        WP_INVALID_ARGUMENT, "cursor is not one this store made");
        CHECK (!items && !next);
    }
    wp_store_destroy (&store);
}

static void
s_test_retry_cancel_purge (void)
{
    wp_store_t *store = wp_store_memory_new (NULL);
    memtest_push (store, "p", "a", 1);
    memtest_push (store, "p", "b", 1);
    memtest_push (store, "p", "c", 1);
    memtest_push (store, "p", "d", 1);
    s_expect_error (store, wp_store_retry (store, "p", "zz"), WP_NOT_FOUND,
                    "no item 'zz' in pool 'p'");
    s_expect_error (store, wp_store_retry (store, "q", "a"), WP_NOT_FOUND,
                    "no item 'a' in pool 'q'");
    s_expect_error (store, wp_store_retry (store, "p", "a"), WP_FAILED_PRECONDITION,
                    "item 'a' is pending: only poisoned or done items can be retried");
    s_expect_error (store, wp_store_cancel (store, "p", "zz"), WP_NOT_FOUND,
                    "no item 'zz' in pool 'p'");
    CHECK_CLAIM (store, "p", "w", 0, "a");
    s_expect_error (store, wp_store_retry (store, "p", "a"), WP_FAILED_PRECONDITION,
                    "item 'a' is claimed: only poisoned or done items can be retried");
    s_expect_error (store, wp_store_cancel (store, "p", "a"), WP_FAILED_PRECONDITION,
                    "item 'a' is claimed by 'w': a worker may be halfway; "
                    "fail or release it first");
    static const uint8_t result [] = { 0x01 };
    CHECK_OK (store, wp_store_complete (store, "p", "a", result, 1, "w"));
    s_expect_error (store, wp_store_cancel (store, "p", "a"), WP_FAILED_PRECONDITION,
                    "item 'a' is done: purge removes finished items");
    s_poison (store, "p", "b");
    CHECK_COUNTS (store, "p", 2, 0, 1, 1);

    //  Retry of a done item: pending as new, in its push place
    CHECK_OK (store, wp_store_retry (store, "p", "a"));
    wp_item_t *item = NULL;
    CHECK_OK (store, wp_store_get (store, "p", "a", &item));
    CHECK_INT (item->status, WP_ITEM_PENDING);
    CHECK_INT (item->attempts, 0);
    CHECK (item->result == NULL && item->result_size == 0);
    CHECK (item->claimed_by == NULL && item->claimed_at == 0 && item->lease_expires_at == 0);
    wp_item_destroy (&item);
    //  Retry of a poisoned one keeps its error
    CHECK_OK (store, wp_store_retry (store, "p", "b"));
    CHECK_OK (store, wp_store_get (store, "p", "b", &item));
    CHECK_STR (item->error, "boom");
    CHECK_INT (item->attempts, 0);
    wp_item_destroy (&item);
    CHECK_COUNTS (store, "p", 4, 0, 0, 0);
    CHECK_CLAIM (store, "p", "w", 0, "a");          //  push order, as ever
    CHECK_CLAIM (store, "p", "w", 0, "b");
    CHECK_OK (store, wp_store_complete (store, "p", "a", NULL, 0, "w"));
    CHECK_OK (store, wp_store_fail (store, "p", "b", "again", "w", 0, NULL));
    s_poison (store, "p", "c");

    uint64_t count = 99;
    CHECK_OK (store, wp_store_retry_all (store, "p", &count));
    CHECK_INT (count, 2);                           //  b and c, not done a
    CHECK_COUNTS (store, "p", 3, 0, 1, 0);
    CHECK_OK (store, wp_store_retry_all (store, "nowhere", &count));
    CHECK_INT (count, 0);

    //  Cancel: a pending item goes, its id may come again (a new item)
    CHECK_OK (store, wp_store_cancel (store, "p", "d"));
    CHECK (!s_exists (store, "p", "d"));
    memtest_push (store, "p", "d", -1);
    s_poison (store, "p", "b");
    CHECK_CLAIM (store, "p", "w", 0, "c");
    CHECK_OK (store, wp_store_fail (store, "p", "c", "x", "w", 0, NULL));
    CHECK_OK (store, wp_store_cancel (store, "p", "b"));          //  a poisoned one
    CHECK_COUNTS (store, "p", 1, 0, 1, 1);                      //  d; a; c

    //  Purge by status
    wp_item_state finished [] = { WP_ITEM_DONE, WP_ITEM_POISONED };
    CHECK_OK (store, wp_store_purge_pool (store, "p", finished, 2, &count));
    CHECK_INT (count, 2);
    CHECK_COUNTS (store, "p", 1, 0, 0, 0);
    CHECK_OK (store, wp_store_purge_pool (store, "nowhere", finished, 2, &count));
    CHECK_INT (count, 0);
    wp_item_state pending [] = { WP_ITEM_PENDING };
    CHECK_OK (store, wp_store_purge_pool (store, "p", pending, 1, &count));
    CHECK_INT (count, 1);
    wp_stats_t *stats = NULL;
    CHECK (s_pool_stats (store, "p", &stats) == NULL);          //  an empty pool goes
    wp_stats_destroy (&stats);
    memtest_push (store, "p", "a", -1);                         //  and comes back
    CHECK_COUNTS (store, "p", 1, 0, 0, 0);

    //  In a group, removals roll back
    CHECK_OK (store, wp_store_begin (store));
    CHECK_OK (store, wp_store_purge_pool (store, "p", pending, 1, &count));
    CHECK_INT (count, 1);
    wp_store_rollback (store);
    CHECK_COUNTS (store, "p", 1, 0, 0, 0);
    CHECK_OK (store, wp_store_begin (store));
    CHECK_OK (store, wp_store_cancel (store, "p", "a"));
    CHECK_OK (store, wp_store_commit (store));
    CHECK (!s_exists (store, "p", "a"));
    wp_store_destroy (&store);
}

static void
s_test_paused (void)
{
    wp_store_t *store = wp_store_memory_new (NULL);
    wp_stats_t *stats = NULL;
    //  A pool with no items may be paused: Stats lists it
    CHECK_OK (store, wp_store_set_paused (store, "idle", true));
    CHECK_OK (store, wp_store_set_paused (store, "idle", true));  //  idempotent
    const wp_pool_stats_t *entry = s_pool_stats (store, "idle", &stats);
    CHECK (entry && entry->paused && entry->pending == 0);
    wp_stats_destroy (&stats);
    CHECK_OK (store, wp_store_set_paused (store, "idle", false));
    CHECK (s_pool_stats (store, "idle", &stats) == NULL);
    wp_stats_destroy (&stats);
    CHECK_OK (store, wp_store_set_paused (store, "never", false));
    CHECK (s_pool_stats (store, "never", &stats) == NULL);
    wp_stats_destroy (&stats);

    memtest_push (store, "p", "a", -1);
    memtest_push (store, "p", "b", -1);
    CHECK_CLAIM (store, "p", "w", 0, "a");
    CHECK_OK (store, wp_store_set_paused (store, "p", true));
    memtest_push (store, "p", "c", -1);             //  pushes go on
    CHECK_CLAIM (store, "p", "w", 0, NULL);         //  claims find nothing
    uint64_t size = 0;
    CHECK_OK (store, wp_store_size (store, "p", &size));
    CHECK_INT (size, 2);
    CHECK_OK (store, wp_store_complete (store, "p", "a", NULL, 0, "w"));    //  completes go on
    entry = s_pool_stats (store, "p", &stats);
    CHECK (entry && entry->paused && entry->pending == 2 && entry->done == 1);
    wp_stats_destroy (&stats);
    //  Purging every item of a paused pool keeps it listed, paused
    wp_item_state any [] = { WP_ITEM_PENDING, WP_ITEM_DONE };
    uint64_t count = 0;
    CHECK_OK (store, wp_store_purge_pool (store, "p", any, 2, &count));
    CHECK_INT (count, 3);
    CHECK_OK (store, wp_store_purge (store, 0, NULL));
    entry = s_pool_stats (store, "p", &stats);
    CHECK (entry && entry->paused && entry->pending == 0);
    wp_stats_destroy (&stats);
    memtest_push (store, "p", "d", -1);

    //  A pause in a group rolls back; a resume commits
    CHECK_OK (store, wp_store_begin (store));
    CHECK_OK (store, wp_store_set_paused (store, "q", true));
    wp_store_rollback (store);
    CHECK (s_pool_stats (store, "q", &stats) == NULL);
    wp_stats_destroy (&stats);
    CHECK_OK (store, wp_store_begin (store));
    CHECK_OK (store, wp_store_set_paused (store, "p", false));
    CHECK_CLAIM (store, "p", "w", 0, "d");
    CHECK_OK (store, wp_store_commit (store));
    entry = s_pool_stats (store, "p", &stats);
    CHECK (entry && !entry->paused && entry->claimed == 1);
    wp_stats_destroy (&stats);
    wp_store_destroy (&store);
}

int
main (void)
{
    s_test_savepoints ();
    s_test_savepoint_threads ();
    s_test_list ();
    s_test_retry_cancel_purge ();
    s_test_paused ();
    printf ("test_store_memory_ops: ok\n");
    return 0;
}
