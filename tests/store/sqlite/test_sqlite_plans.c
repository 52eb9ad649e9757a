/*  test_sqlite_plans: asks SQLite how it runs the very statements the store
    prepares (wp_store_sqlite_sql.h) and checks each one's plan: every
    statement has an entry below naming the index (or key) it must use and
    the one table, if any, it may walk; a statement without an entry fails
    the test, so a new one cannot slip by. The claim must be one seek of
    items_ready: no scan, no sort. The plans are checked on a fresh file and
    again after ANALYZE on a file with 200,000 items in every state (delays,
    priorities, unique keys, backoff policies and schedules included), where
    a planner that preferred a scan or a sort would show it.  */
#include "sqlitetest.h"
#include "wp_store_sqlite_sql.h"
#include <sqlite3.h>

typedef struct {
    const char *name;
    const char *sql;
} s_statement_t;

#define S_ROW(name, sql) { #name, sql },
static const s_statement_t s_statements [] = {
    WP_SQLITE_STATEMENTS (S_ROW)
};
#undef S_ROW

//  What a statement's plan must mention (the indexes that serve it), and
//  the table it may scan (NULL: none; a whole listing by design, or a
//  table that stays small). NO_PLAN: an INSERT, or a transaction verb,
//  which reads nothing (its plan must be empty).
typedef struct {
    const char *name;
    const char *needles [3];
    const char *may_scan;
} s_expect_t;

#define NO_PLAN { "" }

static const s_expect_t s_expected [] = {
    { "BEGIN_READ",         NO_PLAN },
    { "BEGIN_WRITE",        NO_PLAN },
    { "COMMIT",             NO_PLAN },
    { "ROLLBACK",           NO_PLAN },
    { "SAVEPOINT",          NO_PLAN },
    { "RELEASE",            NO_PLAN },
    { "ROLLBACK_TO",        NO_PLAN },
    { "BATCH_SAVEPOINT",    NO_PLAN },
    { "BATCH_RELEASE",      NO_PLAN },
    { "BATCH_ROLLBACK_TO",  NO_PLAN },
    { "NEXT_DUE",           { "items_lease", "workers_stale", "items_due" } },
    { "SCHEDULES_NEXT",     { "schedules_next" } },
    { "EXPIRED_TASKS",      { "items_lease", "workers_current" } },
    { "EXPIRED_ITEMS",      { "items_lease (lease_expires_at<?)", "SEARCH p USING INTEGER PRIMARY KEY" } },
    { "LOST_WORKERS",       { "workers_stale" } },
    { "LOST_ITEMS",         { "items_claimed (claimed_by=?)", "SEARCH p USING INTEGER PRIMARY KEY" } },
    { "REQUEUE",            { "INTEGER PRIMARY KEY (rowid=?)" } },
    { "PROMOTE",            { "items_due (run_at<?)" } },
    { "POOL_FIND",          { "sqlite_autoindex_pools_1" } },
    { "POOL_INSERT",        NO_PLAN },
    { "PUSH",               NO_PLAN },
    { "PUSH_ID_TAKEN",      { "sqlite_autoindex_items_1 (pool_id=? AND id=?)" } },
    { "KEY_HOLDER",         { "items_unique (pool_id=? AND unique_key=?)" } },
    { "CLAIM_NEXT",         { "SEARCH items USING INDEX items_ready (pool_id=?)",
                              "sqlite_autoindex_pools_1" } },
    { "CLAIM",              { "INTEGER PRIMARY KEY (rowid=?)" } },
    { "TASK_SET",           { "sqlite_autoindex_workers_1" } },
    { "TASK_CLEAR",         { "sqlite_autoindex_workers_1" } },
    { "ITEM_STATE",         { "sqlite_autoindex_items_1 (pool_id=? AND id=?)",
                              "sqlite_autoindex_pools_1 (name=?)" } },
    { "POOL_POLICY",        { "INTEGER PRIMARY KEY (rowid=?)" } },
    { "ITEM_GET",           { "sqlite_autoindex_items_1 (pool_id=? AND id=?)" } },
    { "COMPLETE",           { "INTEGER PRIMARY KEY (rowid=?)" } },
    { "SIZE",               { "sqlite_autoindex_pools_1" } },
    { "RELEASE_TASKS",      { "items_claimed", "sqlite_autoindex_workers_1" } },
    { "RELEASE_ITEMS",      { "items_claimed" } },
    { "RENEW",              { "items_claimed" } },
    { "RENEW_OWN",          { "items_claimed" } },
    { "LIST",               { "items_status (pool_id=? AND status=? AND seq>?)" } },
    { "RETRY",              { "INTEGER PRIMARY KEY (rowid=?)" } },
    { "RETRY_ALL",          { "items_status (pool_id=? AND status=?)" } },
    { "CANCEL",             { "INTEGER PRIMARY KEY (rowid=?)" } },
    { "PURGE_POOL",         { "items_status (pool_id=? AND status=?)" } },
    { "SET_PAUSED",         { "sqlite_autoindex_pools_1" } },
    { "SET_BACKOFF",        { "sqlite_autoindex_pools_1" } },
    { "SCHEDULE_PUT",       NO_PLAN },
    { "SCHEDULE_REMOVE",    { "SEARCH schedules USING PRIMARY KEY (name=?)" } },
    //  Every schedule, in key order (at most WP_SCHEDULES_MAX)
    { "SCHEDULE_LIST",      { "SCAN schedules" }, "schedules" },
    { "WORKER_PUT",         NO_PLAN },
    { "WORKER_GET",         { "sqlite_autoindex_workers_1", "INTEGER PRIMARY KEY" } },
    //  A filtered listing of the workers: every worker is a candidate
    { "WORKER_LIST",        { "SCAN w", "INTEGER PRIMARY KEY" }, "w" },
    { "WORKER_STATE",       { "sqlite_autoindex_workers_1" } },
    { "HEARTBEAT",          { "sqlite_autoindex_workers_1" } },
    { "UPDATE_STATUS",      { "sqlite_autoindex_workers_1" } },
    { "PURGE",              { "items_finished (updated_at<?)" } },
    //  One row per pool, which stats lists
    { "STATS_POOLS",        { "SCAN pools" }, "pools" },
    { "STATS_WORKERS",      { "SCAN workers" }, "workers" },
};

//  Returns the plan of sql as one string, a line per step. Caller frees.
static char *
s_plan (sqlite3 *db, const char *sql)
{
    char *query = sqlite3_mprintf ("EXPLAIN QUERY PLAN %s", sql);
    sqlite3_stmt *stmt;
    int rc = sqlite3_prepare_v2 (db, query, -1, &stmt, NULL);
    if (rc != SQLITE_OK) {
        fprintf (stderr, "cannot prepare %s: %s\n", sql, sqlite3_errmsg (db));
        abort ();
    }
    size_t size = 1;
    char *plan = calloc (1, size);
    CHECK (plan);
    while (sqlite3_step (stmt) == SQLITE_ROW) {
        const char *detail = (const char *) sqlite3_column_text (stmt, 3);
        size += strlen (detail) + 1;
        plan = realloc (plan, size);
        CHECK (plan);
        strcat (plan, detail);
        strcat (plan, "\n");
    }
    sqlite3_finalize (stmt);
    sqlite3_free (query);
    return plan;
}

static const s_expect_t *
s_expect (const char *name)
{
    for (size_t e = 0; e < sizeof s_expected / sizeof s_expected [0]; e++)
        if (strcmp (s_expected [e].name, name) == 0)
            return &s_expected [e];
    return NULL;
}

static void
s_check_plans (sqlite3 *db, const char *when)
{
    size_t checked = 0;
    for (size_t i = 0; i < sizeof s_statements / sizeof s_statements [0]; i++) {
        const s_statement_t *statement = &s_statements [i];
        const s_expect_t *expect = s_expect (statement->name);
        if (!expect) {
            fprintf (stderr, "statement %s has no expected plan in this test:\n%s\n",
                     statement->name, statement->sql);
            abort ();
        }
        char *plan = s_plan (db, statement->sql);
        bool bad = false;
        if (expect->needles [0] && expect->needles [0][0] == 0)
            bad = plan [0] != 0;                //  NO_PLAN
        for (int n = 0; n < 3 && expect->needles [n] && expect->needles [n][0]; n++)
            if (!strstr (plan, expect->needles [n]))
                bad = true;
        //  A walk of a table or a whole index, but the one allowed, or a sort
        for (const char *line = plan; *line; line = strchr (line, '\n') + 1)
            if (strncmp (line, "SCAN ", 5) == 0 && strncmp (line, "SCAN CONSTANT ROW", 17)) {
                const char *table = line + 5;
                size_t length = strcspn (table, " \n");
                if (!expect->may_scan || strlen (expect->may_scan) != length
                ||  strncmp (table, expect->may_scan, length))
                    bad = true;
            }
        if (strstr (plan, "TEMP B-TREE") && strcmp (statement->name, "STATS_WORKERS"))
            bad = true;
        if (bad) {
            fprintf (stderr, "%s: statement %s does not use its index:\n%s\n%s", when,
                     statement->name, statement->sql, plan);
            abort ();
        }
        free (plan);
        checked++;
    }
    CHECK_INT (checked, sizeof s_expected / sizeof s_expected [0]);
}

//  Fills the store with items in every state and a few workers, so that
//  ANALYZE has something to weigh: two pools of 100,000 items, a tenth of
//  them delayed (scheduled), priorities -3..3, a fifth with unique keys,
//  a backoff policy on one pool that schedules some of the failures, and
//  schedules.
static void
s_fill (const char *path)
{
    wp_store_t *store = sqlitetest_open (path, NULL);
    static const uint8_t data [] = { 0xc0 };
    for (int batch = 0; batch < 200; batch++) {
        CHECK_OK (store, wp_store_begin (store));
        for (int i = 0; i < 1000; i++) {
            wp_push_entry_t entry = { data, sizeof data, NULL, -1 };
            entry.priority = (i % 7) - 3;
            if (i % 10 == 0)
                entry.delay = 3600 + i;
            char key [32];
            if (i % 5 == 1) {
                snprintf (key, sizeof key, "k%d.%d", batch, i);
                entry.unique_key = key;
            }
            char *id = NULL;
            CHECK_OK (store, wp_store_push (store, batch % 2? "odd": "even", &entry, &id, NULL));
            free (id);
        }
        CHECK_OK (store, wp_store_commit (store));
    }
    wp_backoff_t policy = { 60, 600, 0.1 };
    CHECK_OK (store, wp_store_set_backoff (store, "even", &policy));
    for (int s = 0; s < 50; s++) {
        char name [32];
        snprintf (name, sizeof name, "s%02d", s);
        wp_schedule_t schedule = { .name = name, .pool = "odd", .cron = "*/5 * * * *",
                                   .data = (uint8_t *) data, .data_size = sizeof data,
                                   .max_retries = -1 };
        CHECK_OK (store, wp_store_schedule_put (store, &schedule, NULL));
    }
    for (int w = 0; w < 20; w++) {
        wp_worker_t *worker = wp_worker_new ();
        char name [32];
        snprintf (name, sizeof name, "w%d", w);
        worker->worker_id = strdup (name);
        CHECK_OK (store, wp_store_register (store, worker, NULL));
        wp_worker_destroy (&worker);
    }
    CHECK_OK (store, wp_store_begin (store));
    for (int i = 0; i < 30000; i++) {
        wp_item_t *item = NULL;
        char name [32];
        snprintf (name, sizeof name, "w%d", i % 20);
        CHECK_OK (store, wp_store_claim (store, "even", name, 0, &item));
        CHECK (item);
        if (i % 3 == 0)
            CHECK_OK (store, wp_store_complete (store, "even", item->id, NULL, 0, name));
        else
        if (i % 3 == 1)
            CHECK_OK (store, wp_store_fail (store, "even", item->id, "no", name, 0, NULL));
        wp_item_destroy (&item);
    }
    CHECK_OK (store, wp_store_commit (store));
    wp_store_destroy (&store);
}

int
main (void)
{
    char dir [64], path [128];
    sqlitetest_dir_new (dir);
    snprintf (path, sizeof path, "%s/plans.db", dir);

    //  A fresh file: the schema the store made
    wp_store_t *store = sqlitetest_open (path, NULL);
    wp_store_destroy (&store);
    sqlite3 *db;
    CHECK (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK);
    s_check_plans (db, "fresh file");
    sqlite3_close (db);

    //  The same after ANALYZE has seen many rows
    s_fill (path);
    CHECK (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK);
    CHECK (sqlite3_exec (db, "ANALYZE", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close (db);
    CHECK (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK);
    s_check_plans (db, "after ANALYZE");
    sqlite3_close (db);

    //  The store still works on the analysed file, with its plans: the
    //  odd pool's 90,000 due items are pending, its first claim the oldest
    //  of the lowest priority
    store = sqlitetest_open (path, NULL);
    uint64_t size = 0;
    CHECK_OK (store, wp_store_size (store, "odd", &size));
    CHECK_INT (size, 90000);
    wp_item_t *item = NULL;
    CHECK_OK (store, wp_store_claim (store, "odd", "w0", 0, &item));
    CHECK (item);
    CHECK_INT (item->priority, -3);
    wp_item_list_t *first = NULL;
    char *cursor = NULL;
    const wp_item_state pending = WP_ITEM_PENDING;
    CHECK_OK (store, wp_store_list_items (store, "odd", &pending, 1, 1, NULL, &first, &cursor));
    CHECK_INT (first->count, 1);
    CHECK_INT (first->items [0]->priority, -2);     //  the first pending by push order
    wp_item_list_destroy (&first);
    free (cursor);
    wp_item_destroy (&item);
    wp_store_destroy (&store);

    sqlitetest_remove (dir);
    printf ("test_sqlite_plans: ok\n");
    return 0;
}
