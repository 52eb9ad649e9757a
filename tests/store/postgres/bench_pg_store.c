/*  bench_pg_store: what one push, claim and complete cost the PostgreSQL
    store, each committed alone (as a lone client's request is) and in
    groups of 100 (as the broker's loop commits under load), the figures
    bench_sqlite_store gives for SQLite. Wall time, on a shared machine:
    noisy; run it more than once. Not a test: run it by hand, as
      WP_TEST_PG_OPTIONS= tests/store/postgres/with_postgres.sh bench_pg_store [ITEMS]
    (the server's defaults: synchronous_commit on, an fsync per commit) or
    with WP_TEST_PG_OPTIONS="-c synchronous_commit=off" (commits flushed in
    the background: a server crash may lose the last ones, as SQLite's
    synchronous=NORMAL may on an OS crash).  */
#include "pgtest.h"
#include <time.h>

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void
s_report (const char *what, size_t count, double seconds)
{
    printf ("%-34s %8.2f us/call\n", what, seconds * 1e6 / (double) count);
}

static void
s_push (wp_store_t *store, const char *pool, int priority)
{
    static const uint8_t data [] = { 0xa1, 'x' };
    wp_push_entry_t entry = { data, sizeof data, NULL, -1 };
    entry.priority = priority;
    char *id = NULL;
    CHECK_OK (store, wp_store_push (store, pool, &entry, &id, NULL));
    free (id);
}

int
main (int argc, char *argv [])
{
    size_t items = argc > 1? (size_t) atol (argv [1]): 20000;
    if (items < 200)
        items = 200;
    char conninfo [1024];
    pgtest_schema_new ("bench_alone", conninfo);
    wp_store_t *store = pgtest_open (conninfo, NULL);

    size_t alone = 1000;
    double start = s_now ();
    for (size_t i = 0; i < alone; i++)
        s_push (store, "p", 0);
    s_report ("push, one per commit", alone, s_now () - start);
    start = s_now ();
    wp_item_t *claimed [1000];
    for (size_t i = 0; i < alone; i++) {
        CHECK_OK (store, wp_store_claim (store, "p", "w", 0, &claimed [i]));
        CHECK (claimed [i]);
    }
    s_report ("claim, one per commit", alone, s_now () - start);
    start = s_now ();
    for (size_t i = 0; i < alone; i++) {
        CHECK_OK (store, wp_store_complete (store, "p", claimed [i]->id, NULL, 0, "w"));
        wp_item_destroy (&claimed [i]);
    }
    s_report ("complete, one per commit", alone, s_now () - start);
    wp_store_destroy (&store);

    pgtest_schema_new ("bench_groups", conninfo);
    store = pgtest_open (conninfo, NULL);
    start = s_now ();
    for (size_t i = 0; i < items; i += 100) {
        CHECK_OK (store, wp_store_begin (store));
        for (size_t j = 0; j < 100; j++)
            s_push (store, "p", (int) ((i + j) % 7) - 3);
        CHECK_OK (store, wp_store_commit (store));
    }
    s_report ("push, groups of 100", items, s_now () - start);
    start = s_now ();
    for (size_t i = 0; i < items; i += 100) {
        CHECK_OK (store, wp_store_begin (store));
        for (size_t j = 0; j < 100; j++) {
            wp_item_t *item = NULL;
            CHECK_OK (store, wp_store_claim (store, "p", "w", 0, &item));
            CHECK (item);
            CHECK_OK (store, wp_store_complete (store, "p", item->id, NULL, 0, "w"));
            wp_item_destroy (&item);
        }
        CHECK_OK (store, wp_store_commit (store));
    }
    s_report ("claim + complete, groups of 100", items, s_now () - start);

    //  The batch path: one claim_many of 100, then its completes, per group
    for (size_t i = 0; i < items; i++)
        s_push (store, "q", 0);
    start = s_now ();
    for (size_t i = 0; i < items; i += 100) {
        CHECK_OK (store, wp_store_begin (store));
        wp_item_list_t *list = NULL;
        CHECK_OK (store, wp_store_claim_many (store, "q", "w", 100, 0, 0, &list));
        CHECK (list->count == 100);
        for (size_t j = 0; j < list->count; j++)
            CHECK_OK (store, wp_store_complete (store, "q", list->items [j]->id, NULL, 0, "w"));
        wp_item_list_destroy (&list);
        CHECK_OK (store, wp_store_commit (store));
    }
    s_report ("claim_many 100 + completes, groups", items, s_now () - start);
    wp_store_destroy (&store);
    return 0;
}
