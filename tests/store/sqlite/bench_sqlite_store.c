/*  bench_sqlite_store: what one push, claim and complete cost the SQLite
    store, each committed alone (as a lone client's request is) and in
    groups of 100 (as the broker's loop commits under load). Two measures:
    wall time (noisy on a shared machine) and WAL frames written per call,
    which counts every page the call dirtied (the row, each index entry,
    the pool's counters) and does not depend on the machine's load.
    Not a test: run it by hand, before and after a schema change.
    Usage: bench_sqlite_store [ITEMS]  (default 20000)  */
#include "sqlitetest.h"
#include <sys/stat.h>
#include <time.h>

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

//  WAL frames written so far (1024-byte pages, 24-byte frame headers).
static double
s_frames (const char *path)
{
    char wal [256];
    snprintf (wal, sizeof wal, "%s-wal", path);
    struct stat st;
    if (stat (wal, &st))
        return 0;
    return st.st_size > 32? (double) (st.st_size - 32) / (24 + 1024): 0;
}

static void
s_report (const char *what, size_t count, double seconds, double frames)
{
    printf ("%-34s %8.2f us/call %6.2f WAL frames/call\n", what, seconds * 1e6 / (double) count,
            frames / (double) count);
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
    char dir [64], path [128];
    sqlitetest_dir_new (dir);
    snprintf (path, sizeof path, "%s/bench.db", dir);
    wp_store_t *store = sqlitetest_open (path, NULL);

    //  Commits of one call: WAL small enough that no checkpoint runs
    size_t alone = 1000;
    double frames = s_frames (path), start = s_now ();
    for (size_t i = 0; i < alone; i++)
        s_push (store, "p", 0);
    s_report ("push, one per commit", alone, s_now () - start, s_frames (path) - frames);

    frames = s_frames (path);
    start = s_now ();
    for (size_t i = 0; i < alone; i++) {
        wp_item_t *item = NULL;
        CHECK_OK (store, wp_store_claim (store, "p", "w", 0, &item));
        CHECK (item);
        wp_item_destroy (&item);
    }
    s_report ("claim, one per commit", alone, s_now () - start, s_frames (path) - frames);
    wp_store_destroy (&store);
    sqlitetest_remove (dir);

    //  Groups of 100 on a pool that grows to items, then claims from it
    sqlitetest_dir_new (dir);
    snprintf (path, sizeof path, "%s/bench.db", dir);
    store = sqlitetest_open (path, NULL);
    start = s_now ();
    for (size_t i = 0; i < items; i += 100) {
        CHECK_OK (store, wp_store_begin (store));
        for (size_t j = 0; j < 100; j++)
            s_push (store, "p", (int) ((i + j) % 7) - 3);
        CHECK_OK (store, wp_store_commit (store));
    }
    s_report ("push, groups of 100", items, s_now () - start, 0);
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
    s_report ("claim + complete, groups of 100", items, s_now () - start, 0);
    wp_store_destroy (&store);
    sqlitetest_remove (dir);
    return 0;
}
