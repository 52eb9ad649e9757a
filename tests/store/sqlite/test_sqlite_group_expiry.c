/*  test_sqlite_group_expiry: inside a group the SQLite store skips its
    expiry query while it knows nothing can be due (wp_sqlite_due_changed);
    these cases would fail if that knowledge went stale: a claim's lease,
    a renewal, a re-registration and a status change made inside the same
    group must all be honoured by the group's later calls, and so must
    expiry that a failed batch undid (its savepoint's rollback).  */
#include "sqlitetest.h"

static wp_item_t *
s_get (wp_store_t *store, const char *id)
{
    wp_item_t *item = NULL;
    CHECK_OK (store, wp_store_get (store, "jobs", id, &item));
    return item;
}

int
main (void)
{
    char dir [64], path [128];
    sqlitetest_dir_new (dir);
    snprintf (path, sizeof path, "%s/store.db", dir);
    wp_store_t *store = sqlitetest_open (path, NULL);
    wp_test_clock_t clock = { INT64_C (1700000000) * SECOND };
    wp_store_set_clock (store, wp_test_clock_read, &clock);

    //  A lease claimed inside the group lapses inside the group
    CHECK_OK (store, wp_store_begin (store));
    sqlitetest_push (store, "jobs", "a");
    wp_item_t *item = NULL;
    CHECK_OK (store, wp_store_claim (store, "jobs", "w1", 1.0, &item));
    CHECK_STR (item->id, "a");
    wp_item_destroy (&item);
    clock.now += 2 * SECOND;
    item = s_get (store, "a");
    CHECK_INT (item->status, WP_ITEM_PENDING);
    CHECK_INT (item->attempts, 1);
    CHECK_STR (item->error, "lease expired");
    wp_item_destroy (&item);
    CHECK_OK (store, wp_store_commit (store));

    //  A renewal inside the group moves the lease's end later
    CHECK_OK (store, wp_store_begin (store));
    CHECK_OK (store, wp_store_claim (store, "jobs", "w1", 1.0, &item));
    wp_item_destroy (&item);
    CHECK_OK (store, wp_store_renew (store, "w1", 10.0, NULL));
    clock.now += 2 * SECOND;
    item = s_get (store, "a");
    CHECK_INT (item->status, WP_ITEM_CLAIMED);
    wp_item_destroy (&item);
    //  ... and a shorter one moves it earlier
    CHECK_OK (store, wp_store_renew (store, "w1", 1.0, NULL));
    clock.now += 2 * SECOND;
    item = s_get (store, "a");
    CHECK_INT (item->status, WP_ITEM_PENDING);
    CHECK_INT (item->attempts, 2);
    wp_item_destroy (&item);
    CHECK_OK (store, wp_store_commit (store));

    //  A worker made active inside the group goes stale inside it: a
    //  register with a short interval, then a status change that makes a
    //  stale worker active again
    wp_worker_t *worker = wp_worker_new ();
    worker->worker_id = strdup ("w2");
    worker->heartbeat_interval = 1.0;
    CHECK_OK (store, wp_store_begin (store));
    CHECK_OK (store, wp_store_register (store, worker, NULL));
    wp_worker_t *got = NULL;
    CHECK_OK (store, wp_store_get_worker (store, "w2", &got));
    CHECK_STR (got->status, "active");
    wp_worker_destroy (&got);
    clock.now += 3 * SECOND;
    CHECK_OK (store, wp_store_get_worker (store, "w2", &got));
    CHECK_STR (got->status, "lost");
    wp_worker_destroy (&got);
    CHECK_OK (store, wp_store_update_status (store, "w2", "active"));
    CHECK_OK (store, wp_store_get_worker (store, "w2", &got));
    CHECK_STR (got->status, "lost");            //  stale since long: lost again at once
    wp_worker_destroy (&got);
    CHECK_OK (store, wp_store_commit (store));

    //  A batch that applied expiry and then failed undoes the expiry with
    //  the rest (the file, the reap totals and the known due time alike):
    //  the next call applies it again, once
    wp_reap_t reap;
    CHECK_OK (store, wp_store_claim (store, "jobs", "w0", 100.0, &item));
    CHECK_OK (store, wp_store_complete (store, "jobs", item->id, NULL, 0, "w0"));
    wp_item_destroy (&item);
    CHECK_OK (store, wp_store_reap (store, &reap));
    sqlitetest_push (store, "jobs", "b");
    CHECK_OK (store, wp_store_claim (store, "jobs", "w3", 1.0, &item));
    CHECK_STR (item->id, "b");
    wp_item_destroy (&item);
    CHECK_OK (store, wp_store_begin (store));
    CHECK_OK (store, wp_store_size (store, "jobs", &(uint64_t) { 0 }));    //  nothing due yet
    clock.now += 2 * SECOND;
    CHECK (wp_store_complete_and_claim (store, "jobs", "b", NULL, 0, "w3", 0, &item)
           == WP_FAILED_PRECONDITION);
    CHECK (!item);
    item = s_get (store, "b");
    CHECK_INT (item->status, WP_ITEM_PENDING);
    CHECK_INT (item->attempts, 1);
    wp_item_destroy (&item);
    CHECK_OK (store, wp_store_commit (store));
    CHECK_OK (store, wp_store_reap (store, &reap));
    CHECK_INT (reap.leases_expired, 1);
    CHECK_INT (reap.requeued, 1);

    wp_worker_destroy (&worker);
    wp_store_destroy (&store);
    sqlitetest_remove (dir);
    printf ("test_sqlite_group_expiry: OK\n");
    return 0;
}
