/*  test_pg_store: what is particular to the PostgreSQL store: a server that
    cannot be reached, a schema newer than the build, the backend string,
    the push notification (sent at commit, to the pool's name; not for a
    rollback or a scheduled item), the store's own claim_many, and a connection lost inside a group: the
    group fails, its commit is never reported, and the next call connects
    again.
    Usage: with_postgres.sh test_pg_store  */
#include "pgtest.h"
#include <poll.h>

//  The notifications on channel wp_push that reach conn within wait_ms,
//  their payloads joined by ',' into payloads.
static int
s_notifications (PGconn *conn, int wait_ms, char *payloads, size_t size)
{
    payloads [0] = 0;
    int count = 0;
    struct pollfd pfd = { PQsocket (conn), POLLIN, 0 };
    while (poll (&pfd, 1, wait_ms) > 0) {
        CHECK (PQconsumeInput (conn));
        PGnotify *notify;
        while ((notify = PQnotifies (conn))) {
            CHECK_STR (notify->relname, "wp_push");
            size_t used = strlen (payloads);
            snprintf (payloads + used, size - used, "%s%s", count? ",": "", notify->extra);
            count++;
            PQfreemem (notify);
        }
        wait_ms = 50;                   //  the rest of a burst
    }
    return count;
}

static void
s_unreachable (void)
{
    wp_status status = WP_OK;
    char *message = NULL;
    wp_store_t *store = wp_store_postgres_new ("host=/nonexistent-wp-dir port=1 connect_timeout=2",
                                               NULL, &status, &message);
    CHECK (!store);
    CHECK_INT (status, WP_UNAVAILABLE);
    CHECK (message && strstr (message, "cannot connect") && strstr (message, "nonexistent-wp-dir"));
    free (message);
    //  The same through the backend string
    message = NULL;
    store = wp_store_open ("postgres:host=/nonexistent-wp-dir port=1", NULL, &status, &message);
    CHECK (!store);
    CHECK_INT (status, WP_UNAVAILABLE);
    free (message);
}

static void
s_backend_string_and_version (void)
{
    char conninfo [1024], spec [1100];
    pgtest_schema_new ("versions", conninfo);
    snprintf (spec, sizeof spec, "postgres:%s", conninfo);
    wp_status status = WP_OK;
    char *message = NULL;
    wp_store_t *store = wp_store_open (spec, NULL, &status, &message);
    CHECK (store);
    pgtest_push (store, "p", "a");
    wp_store_destroy (&store);
    //  Opened again: migrated already, the item still there
    store = pgtest_open (conninfo, NULL);
    wp_item_t *item = NULL;
    CHECK_OK (store, wp_store_get (store, "p", "a", &item));
    wp_item_destroy (&item);
    wp_store_destroy (&store);

    PGconn *admin = pgtest_connect (pgtest_server ());
    CHECK_INT (pgtest_int (admin, "SELECT version FROM versions.wp_schema_version"), 1);
    pgtest_exec (admin, "UPDATE versions.wp_schema_version SET version = 99");
    store = wp_store_postgres_new (conninfo, NULL, &status, &message);
    CHECK (!store);
    CHECK_INT (status, WP_FAILED_PRECONDITION);
    CHECK (message && strstr (message, "schema version 99"));
    free (message);
    //  Refused without a change
    CHECK_INT (pgtest_int (admin, "SELECT version FROM versions.wp_schema_version"), 99);

    //  A role that may use the tables but not create in the schema opens
    //  a schema at this version (nothing to migrate, no DDL run)
    pgtest_exec (admin, "UPDATE versions.wp_schema_version SET version = 1");
    pgtest_exec (admin, "DROP ROLE IF EXISTS wp_user");
    pgtest_exec (admin, "CREATE ROLE wp_user LOGIN");
    pgtest_exec (admin, "GRANT USAGE ON SCHEMA versions TO wp_user");
    pgtest_exec (admin, "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA versions"
                        " TO wp_user");
    pgtest_exec (admin, "GRANT USAGE ON ALL SEQUENCES IN SCHEMA versions TO wp_user");
    char as_user [1100];
    snprintf (as_user, sizeof as_user, "%s user=wp_user", conninfo);
    store = pgtest_open (as_user, NULL);
    pgtest_push (store, "p", "b");
    wp_store_destroy (&store);
    //  Not one it would have to migrate
    pgtest_exec (admin, "CREATE SCHEMA empty_for_user");
    pgtest_exec (admin, "GRANT USAGE ON SCHEMA empty_for_user TO wp_user");
    snprintf (as_user, sizeof as_user, "%s user=wp_user options='-c search_path=empty_for_user'",
              pgtest_server ());
    store = wp_store_postgres_new (as_user, NULL, &status, &message);
    CHECK (!store);
    CHECK_INT (status, WP_PERMISSION_DENIED);
    free (message);
    PQfinish (admin);
}

static void
s_notify (void)
{
    char conninfo [1024];
    pgtest_schema_new ("notify", conninfo);
    wp_store_t *store = pgtest_open (conninfo, NULL);
    PGconn *listener = pgtest_connect (pgtest_server ());
    pgtest_exec (listener, "LISTEN wp_push");
    char payloads [256];

    pgtest_push (store, "jobs", "a");
    CHECK_INT (s_notifications (listener, 2000, payloads, sizeof payloads), 1);
    CHECK_STR (payloads, "jobs");

    //  A group of pushes to two pools: one notification per pool, at commit
    CHECK_OK (store, wp_store_begin (store));
    pgtest_push (store, "jobs", "b");
    pgtest_push (store, "jobs", "c");
    pgtest_push (store, "mail", "d");
    CHECK_INT (s_notifications (listener, 200, payloads, sizeof payloads), 0);
    CHECK_OK (store, wp_store_commit (store));
    CHECK_INT (s_notifications (listener, 2000, payloads, sizeof payloads), 2);
    CHECK_STR (payloads, "jobs,mail");

    //  Rolled back: nothing pushed, nothing told
    CHECK_OK (store, wp_store_begin (store));
    pgtest_push (store, "jobs", "e");
    wp_store_rollback (store);
    //  A scheduled item wakes no claim; a duplicate changes nothing
    static const uint8_t data [] = { 0xc0 };
    wp_push_entry_t later = { data, sizeof data, "f", -1, .delay = 60 };
    char *id = NULL;
    CHECK_OK (store, wp_store_push (store, "jobs", &later, &id, NULL));
    free (id);
    wp_push_entry_t again = { data, sizeof data, "a", -1 };
    bool duplicate = false;
    CHECK_OK (store, wp_store_push (store, "jobs", &again, &id, &duplicate));
    CHECK (duplicate);
    free (id);
    CHECK_INT (s_notifications (listener, 300, payloads, sizeof payloads), 0);
    PQfinish (listener);
    wp_store_destroy (&store);
}

//  Ends the store's server process (the only client named "workpool").
static void
s_kill_store_backend (PGconn *admin)
{
    CHECK_INT (pgtest_int (admin, "SELECT count (pg_terminate_backend (pid)) FROM pg_stat_activity"
                                  " WHERE application_name = 'workpool'"), 1);
    //  Until the server has removed it
    for (int i = 0; i < 100; i++) {
        if (pgtest_int (admin, "SELECT count(*) FROM pg_stat_activity"
                               " WHERE application_name = 'workpool'") == 0)
            return;
        usleep (20 * 1000);
    }
    abort ();
}

static void
s_connection_lost (void)
{
    char conninfo [1024];
    pgtest_schema_new ("lost", conninfo);
    wp_store_t *store = pgtest_open (conninfo, NULL);
    PGconn *admin = pgtest_connect (pgtest_server ());
    pgtest_push (store, "p", "before");

    CHECK_OK (store, wp_store_begin (store));
    pgtest_push (store, "p", "inside");
    s_kill_store_backend (admin);
    static const uint8_t data [] = { 0xc0 };
    wp_push_entry_t entry = { data, sizeof data, "after", -1 };
    char *id = NULL;
    CHECK_RC (store, wp_store_push (store, "p", &entry, &id, NULL), WP_UNAVAILABLE);
    //  The group is gone: its commit must not say otherwise
    wp_status rc = wp_store_commit (store);
    CHECK (rc != WP_OK);

    //  Outside a group the store connects again
    uint64_t size = 0;
    CHECK_OK (store, wp_store_size (store, "p", &size));
    CHECK_INT (size, 1);                //  "before" only
    wp_item_t *item = NULL;
    CHECK_RC (store, wp_store_get (store, "p", "inside", &item), WP_NOT_FOUND);

    //  Lost between calls: the next call connects again
    s_kill_store_backend (admin);
    pgtest_push (store, "p", "later");
    CHECK_OK (store, wp_store_size (store, "p", &size));
    CHECK_INT (size, 2);

    //  Lost between begin and the first call: the group fails whole
    CHECK_OK (store, wp_store_begin (store));
    s_kill_store_backend (admin);
    CHECK (wp_store_push (store, "p", &entry, &id, NULL) != WP_OK);
    CHECK (wp_store_commit (store) != WP_OK);
    CHECK_OK (store, wp_store_size (store, "p", &size));
    CHECK_INT (size, 2);
    PQfinish (admin);
    wp_store_destroy (&store);
}

//  The store's own claim_many (one statement) leaves what wp_store.c's
//  loop of claims would: claim order by priority then push order, and the
//  last item claimed as the worker's current task.
static void
s_claim_many (void)
{
    char conninfo [1024];
    pgtest_schema_new ("many", conninfo);
    wp_store_t *store = pgtest_open (conninfo, NULL);
    wp_worker_t *worker = wp_worker_new ();
    worker->worker_id = wp_strdup ("w");
    CHECK_OK (store, wp_store_register (store, worker, NULL));
    wp_worker_destroy (&worker);
    static const uint8_t data [] = { 0xc0 };
    const char *ids [] = { "a", "b", "c", "d" };
    int priorities [] = { 5, -1, 5, 0 };
    for (int i = 0; i < 4; i++) {
        wp_push_entry_t entry = { data, sizeof data, ids [i], -1, .priority = priorities [i] };
        char *id = NULL;
        CHECK_OK (store, wp_store_push (store, "p", &entry, &id, NULL));
        free (id);
    }
    wp_item_list_t *items = NULL;
    CHECK_OK (store, wp_store_claim_many (store, "p", "w", 3, 0, 0, &items));
    CHECK_INT (items->count, 3);
    CHECK_STR (items->items [0]->id, "b");
    CHECK_STR (items->items [1]->id, "d");
    CHECK_STR (items->items [2]->id, "a");
    CHECK_INT (items->items [2]->status, WP_ITEM_CLAIMED);
    wp_item_list_destroy (&items);
    CHECK_OK (store, wp_store_get_worker (store, "w", &worker));
    CHECK_STR (worker->current_task_id, "a");
    wp_worker_destroy (&worker);
    //  Inside a group, as the broker claims
    CHECK_OK (store, wp_store_begin (store));
    CHECK_OK (store, wp_store_claim_many (store, "p", "w", 3, 0, 0, &items));
    CHECK_INT (items->count, 1);
    CHECK_STR (items->items [0]->id, "c");
    wp_item_list_destroy (&items);
    CHECK_OK (store, wp_store_commit (store));
    CHECK_OK (store, wp_store_get_worker (store, "w", &worker));
    CHECK_STR (worker->current_task_id, "c");
    wp_worker_destroy (&worker);
    wp_store_destroy (&store);
}

int
main (void)
{
    s_claim_many ();
    s_unreachable ();
    s_backend_string_and_version ();
    s_notify ();
    s_connection_lost ();
    printf ("test_pg_store: ok\n");
    return 0;
}
