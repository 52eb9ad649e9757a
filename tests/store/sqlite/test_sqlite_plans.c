/*  test_sqlite_plans: asks SQLite how it runs the very statements the store
    prepares (wp_store_sqlite_sql.h) and checks that none walks the items
    table: claim, size, release_by_worker, renew, lease expiry, lost
    workers, next_due, purge, and list, retry_all and purge by state each
    reach their rows through an index. The
    plans are checked on a fresh file and again after ANALYZE on a file with
    200,000 items in every state, where a planner that preferred a scan
    would show it.  */
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

//  What a hot statement's plan must mention: the index that serves it.
typedef struct {
    const char *name;
    const char *needles [3];
} s_expect_t;

static const s_expect_t s_expected [] = {
    { "CLAIM_NEXT",     { "items_status" } },
    { "LIST",           { "items_status" } },
    { "RETRY_ALL",      { "items_status" } },
    { "PURGE_POOL",     { "items_status" } },
    { "RETRY",          { NULL } },
    { "CANCEL",         { NULL } },
    { "SET_PAUSED",     { "sqlite_autoindex_pools_1" } },
    { "CLAIM",          { "INTEGER PRIMARY KEY" } },
    { "SIZE",           { "sqlite_autoindex_pools_1" } },
    { "RELEASE_TASKS",  { "items_claimed", "workers" } },
    { "RELEASE_ITEMS",  { "items_claimed" } },
    { "RENEW",          { "items_claimed" } },
    { "RENEW_OWN",      { "items_claimed" } },
    { "EXPIRED_TASKS",  { "items_lease", "workers_current" } },
    { "EXPIRED_ITEMS",  { "items_lease" } },
    { "LOST_WORKERS",   { "workers_stale" } },
    { "LOST_ITEMS",     { "items_claimed" } },
    { "NEXT_DUE",       { "items_lease", "workers_stale" } },
    { "PURGE",          { "items_finished" } },
    { "ITEM_GET",       { "sqlite_autoindex_items_1" } },
    { "ITEM_STATE",     { "sqlite_autoindex_items_1" } },
    { "PUSH",           { NULL } },
    { "COMPLETE",       { NULL } },
    { "FAIL",           { NULL } },
    { "TASK_SET",       { "sqlite_autoindex_workers_1" } },
    { "TASK_CLEAR",     { "sqlite_autoindex_workers_1" } },
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

//  True if a line of plan starts with text.
static bool
s_has_line (const char *plan, const char *text)
{
    for (const char *line = plan; *line; line = strchr (line, '\n') + 1)
        if (strncmp (line, text, strlen (text)) == 0)
            return true;
    return false;
}

static void
s_check_plans (sqlite3 *db, const char *when)
{
    size_t checked = 0;
    for (size_t i = 0; i < sizeof s_statements / sizeof s_statements [0]; i++) {
        const s_statement_t *statement = &s_statements [i];
        if (strncmp (statement->sql, "BEGIN", 5) == 0 || strcmp (statement->sql, "COMMIT") == 0
        ||  strncmp (statement->sql, "ROLLBACK", 8) == 0
        ||  strncmp (statement->sql, "SAVEPOINT", 9) == 0
        ||  strncmp (statement->sql, "RELEASE", 7) == 0)
            continue;
        char *plan = s_plan (db, statement->sql);
        //  A walk of every item (table or whole index), or a sort of them
        bool bad = s_has_line (plan, "SCAN items") || s_has_line (plan, "SCAN i ")
                || s_has_line (plan, "SCAN i\n")
                || (strstr (plan, "TEMP B-TREE") && strcmp (statement->name, "STATS_WORKERS"));
        for (size_t e = 0; e < sizeof s_expected / sizeof s_expected [0]; e++)
            if (strcmp (s_expected [e].name, statement->name) == 0) {
                for (int n = 0; n < 3 && s_expected [e].needles [n]; n++)
                    if (!strstr (plan, s_expected [e].needles [n]))
                        bad = true;
                checked++;
            }
        if (bad) {
            fprintf (stderr, "%s: statement %s does not use its index:\n%s\n%s", when,
                     statement->name, statement->sql, plan);
            abort ();
        }
        free (plan);
    }
    CHECK_INT (checked, sizeof s_expected / sizeof s_expected [0]);
}

//  Fills the store with items in every state and a few workers, so that
//  ANALYZE has something to weigh.
static void
s_fill (const char *path)
{
    wp_store_t *store = sqlitetest_open (path, NULL);
    static const uint8_t data [] = { 0xc0 };
    for (int batch = 0; batch < 200; batch++) {
        CHECK_OK (store, wp_store_begin (store));
        for (int i = 0; i < 1000; i++) {
            wp_push_entry_t entry = { data, sizeof data, NULL, -1 };
            char *id = NULL;
            CHECK_OK (store, wp_store_push (store, batch % 2? "odd": "even", &entry, &id, NULL));
            free (id);
        }
        CHECK_OK (store, wp_store_commit (store));
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

    //  The store still works on the analysed file, with its plans
    store = sqlitetest_open (path, NULL);
    uint64_t size = 0;
    CHECK_OK (store, wp_store_size (store, "odd", &size));
    CHECK_INT (size, 100000);
    wp_store_destroy (&store);

    sqlitetest_remove (dir);
    printf ("test_sqlite_plans: ok\n");
    return 0;
}
