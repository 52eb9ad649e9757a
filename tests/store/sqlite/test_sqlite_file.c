/*  test_sqlite_file: the SQLite store's file. What it writes (application
    id, schema version, WAL, the synchronous and busy-timeout settings on the
    store's own connection); what it refuses and leaves untouched (a file
    that is not SQLite, another application's database, a schema from the
    future, read-only files, unwritable or missing directories); migration
    of a version 1 file; persistence across a restart, leases included;
    group commit and rollback between two connections; purge; and expiry
    applied by one connection for another. Each case has its own directory.

    Usage: test_sqlite_file [CASE]  */
#include "sqlitetest.h"
#include "../filetest.h"
#include "wp_store_sqlite_int.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/wait.h>

//  ---------------------------------------------------------------------
//  Helpers

//  The store's own connection, for its per-connection settings.
static sqlite3 *
s_store_db (wp_store_t *store)
{
    return ((wp_sqlite_t *) store)->db;
}

static void
s_items_equal (const wp_item_t *a, const wp_item_t *b)
{
    CHECK_STR (a->id, b->id);
    CHECK_STR (a->pool, b->pool);
    CHECK (a->data_size == b->data_size && memcmp (a->data, b->data, a->data_size) == 0);
    CHECK_INT (a->status, b->status);
    CHECK ((!a->claimed_by && !b->claimed_by)
           || (a->claimed_by && b->claimed_by && !strcmp (a->claimed_by, b->claimed_by)));
    CHECK_INT (a->claimed_at, b->claimed_at);
    CHECK_INT (a->lease_expires_at, b->lease_expires_at);
    CHECK_INT (a->attempts, b->attempts);
    CHECK_INT (a->max_retries, b->max_retries);
    CHECK (a->result_size == b->result_size
           && (a->result_size == 0 || memcmp (a->result, b->result, a->result_size) == 0));
    CHECK ((!a->error && !b->error) || (a->error && b->error && !strcmp (a->error, b->error)));
    CHECK_INT (a->created_at, b->created_at);
}

//  ---------------------------------------------------------------------
//  Cases

//  A new file is ours (application id, version), in WAL; the store's
//  connection has the synchronous level and busy timeout asked for.
static void
s_new_file_and_pragmas (const char *dir)
{
    char path [128];
    snprintf (path, sizeof path, "%s/new.db", dir);
    wp_store_t *store = sqlitetest_open (path, NULL);
    CHECK_INT (filetest_query_int (s_store_db (store), "PRAGMA synchronous"), 1);        //  NORMAL
    CHECK_INT (filetest_query_int (s_store_db (store), "PRAGMA busy_timeout"), 5000);
    wp_store_destroy (&store);

    sqlite3 *db = filetest_raw_open (path);
    CHECK_INT (filetest_query_int (db, "PRAGMA application_id"), WP_SQLITE_APPLICATION_ID);
    CHECK_INT (filetest_query_int (db, "PRAGMA user_version"), WP_SQLITE_SCHEMA_VERSION);
    sqlite3_stmt *stmt;
    CHECK (sqlite3_prepare_v2 (db, "PRAGMA journal_mode", -1, &stmt, NULL) == SQLITE_OK);
    CHECK (sqlite3_step (stmt) == SQLITE_ROW);
    CHECK_STR ((const char *) sqlite3_column_text (stmt, 0), "wal");
    sqlite3_finalize (stmt);
    sqlite3_close (db);

    wp_store_config_t cfg = { .sync_full = true, .busy_timeout_ms = 1234 };
    store = sqlitetest_open (path, &cfg);
    CHECK_INT (filetest_query_int (s_store_db (store), "PRAGMA synchronous"), 2);        //  FULL
    CHECK_INT (filetest_query_int (s_store_db (store), "PRAGMA busy_timeout"), 1234);
    sqlitetest_push (store, "p", "a");
    wp_store_destroy (&store);

    //  The backend string opens the same file
    char spec [160];
    snprintf (spec, sizeof spec, "sqlite:%s", path);
    wp_status status;
    char *message = NULL;
    store = wp_store_open (spec, NULL, &status, &message);
    CHECK (store);
    wp_item_t *item = filetest_get (store, "p", "a");
    wp_item_destroy (&item);
    wp_store_destroy (&store);
}

//  An empty file (as touch leaves it) is a new store.
static void
s_empty_file_is_initialised (const char *dir)
{
    char path [128];
    snprintf (path, sizeof path, "%s/empty.db", dir);
    int fd = open (path, O_CREAT | O_WRONLY, 0644);
    CHECK (fd >= 0);
    close (fd);
    wp_store_t *store = sqlitetest_open (path, NULL);
    sqlitetest_push (store, "p", "a");
    wp_store_destroy (&store);
    sqlite3 *db = filetest_raw_open (path);
    CHECK_INT (filetest_query_int (db, "PRAGMA user_version"), WP_SQLITE_SCHEMA_VERSION);
    sqlite3_close (db);
}

//  Files that are not ours are refused and left exactly as they were.
static void
s_foreign_files_are_refused (const char *dir)
{
    char path [128];
    snprintf (path, sizeof path, "%s/notes.txt", dir);
    FILE *file = fopen (path, "w");
    CHECK (file);
    for (int i = 0; i < 200; i++)
        fprintf (file, "line %d: this is not a database\n", i);
    fclose (file);
    filetest_expect_refused_untouched (wp_store_sqlite_new, dir, path, WP_FAILED_PRECONDITION, "not a workpool store");

    //  Another application's database, in rollback and in WAL mode
    snprintf (path, sizeof path, "%s/other.db", dir);
    sqlite3 *db = filetest_raw_open (path);
    filetest_exec (db, "CREATE TABLE items (id TEXT); INSERT INTO items VALUES ('mine');");
    sqlite3_close (db);
    filetest_expect_refused_untouched (wp_store_sqlite_new, dir, path, WP_FAILED_PRECONDITION, "another application");

    snprintf (path, sizeof path, "%s/other-wal.db", dir);
    db = filetest_raw_open (path);
    filetest_exec (db, "PRAGMA journal_mode = WAL; CREATE TABLE t (x); INSERT INTO t VALUES (1);");
    sqlite3_close (db);
    filetest_expect_refused_untouched (wp_store_sqlite_new, dir, path, WP_FAILED_PRECONDITION, "another application");

    //  Another application's id on an otherwise empty database
    snprintf (path, sizeof path, "%s/other-id.db", dir);
    db = filetest_raw_open (path);
    filetest_exec (db, "PRAGMA application_id = 42");
    sqlite3_close (db);
    filetest_expect_refused_untouched (wp_store_sqlite_new, dir, path, WP_FAILED_PRECONDITION, "application_id 42");

    //  The image store's file: refused, and the message names the right store
    snprintf (path, sizeof path, "%s/image.db", dir);
    wp_status status;
    char *message = NULL;
    wp_store_t *image = wp_store_image_new (path, NULL, &status, &message);
    CHECK (image);
    static const uint8_t data [] = { 0xa1, 'x' };
    wp_push_entry_t entry = { data, sizeof data, "kept", -1 };
    char *id = NULL;
    CHECK_OK (image, wp_store_push (image, "p", &entry, &id, NULL));
    free (id);
    wp_store_destroy (&image);
    char hint [160];
    snprintf (hint, sizeof hint, "open it as image:%s", path);
    filetest_expect_refused_untouched (wp_store_sqlite_new, dir, path, WP_FAILED_PRECONDITION, hint);
}

//  A store written by a newer workpool is refused, untouched.
static void
s_future_version_is_refused (const char *dir)
{
    char path [128];
    snprintf (path, sizeof path, "%s/future.db", dir);
    wp_store_t *store = sqlitetest_open (path, NULL);
    sqlitetest_push (store, "p", "a");
    wp_store_destroy (&store);
    sqlite3 *db = filetest_raw_open (path);
    char sql [64];
    snprintf (sql, sizeof sql, "PRAGMA user_version = %d", WP_SQLITE_SCHEMA_VERSION + 1);
    filetest_exec (db, sql);
    sqlite3_close (db);
    filetest_expect_refused_untouched (wp_store_sqlite_new, dir, path, WP_FAILED_PRECONDITION, "newer than this workpool");
}

//  A version 1 file (tables without counters and indexes) with items in
//  every state and a worker holding a claim is migrated to the current
//  version and works as if it had always been.
static void
s_migrates_version_1 (const char *dir)
{
    char path [128];
    snprintf (path, sizeof path, "%s/v1.db", dir);
    sqlite3 *db = filetest_raw_open (path);
    filetest_exec (db, "BEGIN");
    filetest_exec (db, WP_SQLITE_MIGRATION_1);
    char sql [512];
    snprintf (sql, sizeof sql, "PRAGMA application_id = %d; PRAGMA user_version = 1",
              WP_SQLITE_APPLICATION_ID);
    filetest_exec (db, sql);
    filetest_exec (db,
        "INSERT INTO pools (pool_id, name) VALUES (7, 'p');"
        "INSERT INTO items (seq, pool_id, id, data, status, claimed_by, claimed_at, lease_us,"
        "  lease_expires_at, attempts, max_retries, result, error, created_at, updated_at) VALUES"
        " (1, 7, 'a', x'a161', 0, NULL, NULL, NULL, NULL, 1, 3, NULL, 'lease expired', 100, 150),"
        " (2, 7, 'b', x'a162', 1, 'w', 200, 300000000, 4000000000000200, 0, 3, NULL, NULL, 110, 200),"
        " (3, 7, 'c', x'a163', 2, 'w', 120, NULL, NULL, 0, 3, x'a26f6b', NULL, 111, 130),"
        " (4, 7, 'd', x'a164', 0, NULL, NULL, NULL, NULL, 0, 3, NULL, NULL, 112, 112),"
        " (5, 7, 'e', x'a165', 3, 'w', 140, NULL, NULL, 3, 3, NULL, 'boom', 113, 160);");
    //  metadata {"k": 1}; capabilities gpu, cpu; heartbeat and lease in 2096
    filetest_exec (db,
        "INSERT INTO workers (worker_id, host, pid, capabilities, pool_id, started_at, status,"
        "  last_heartbeat, heartbeat_interval, stale_at, current_item, metadata) VALUES"
        " ('w', 'h', 42, x'0067707500637075' || x'00', 'p', 90, 'active', 4000000000000000, 10,"
        "  4000000020000001, 2, x'81a16b01');");
    filetest_exec (db, "COMMIT");
    sqlite3_close (db);

    wp_store_t *store = sqlitetest_open (path, NULL);
    uint64_t size = 0;
    CHECK_OK (store, wp_store_size (store, "p", &size));
    CHECK_INT (size, 2);
    wp_stats_t *stats = NULL;
    CHECK_OK (store, wp_store_stats (store, &stats));
    CHECK_INT (stats->pool_count, 1);
    CHECK_INT (stats->pools [0].pending, 2);
    CHECK_INT (stats->pools [0].claimed, 1);
    CHECK_INT (stats->pools [0].done, 1);
    CHECK_INT (stats->pools [0].poisoned, 1);
    wp_stats_destroy (&stats);

    wp_item_t *item = filetest_get (store, "p", "b");
    CHECK_STR (item->claimed_by, "w");
    CHECK_INT (item->lease_expires_at, 4000000000000200);
    wp_item_destroy (&item);
    item = filetest_get (store, "p", "c");
    CHECK (item->result_size == 3 && memcmp (item->result, "\xa2ok", 3) == 0);
    wp_item_destroy (&item);
    wp_worker_t *worker = NULL;
    CHECK_OK (store, wp_store_get_worker (store, "w", &worker));
    CHECK (worker);
    CHECK_STR (worker->current_task_id, "b");
    CHECK_INT (worker->capability_count, 2);
    CHECK_STR (worker->capabilities [0], "gpu");
    CHECK_STR (worker->capabilities [1], "cpu");
    const wp_meta_entry_t *entry = wp_meta_get (&worker->metadata, "k");
    CHECK (entry && entry->value_size == 1 && entry->value [0] == 1);
    wp_worker_destroy (&worker);

    //  Push order survives, and the counters keep up from here on
    item = filetest_claim (store, "p", "v", 0);
    CHECK_STR (item->id, "a");
    wp_item_destroy (&item);
    item = filetest_claim (store, "p", "v", 0);
    CHECK_STR (item->id, "d");
    wp_item_destroy (&item);
    CHECK_OK (store, wp_store_claim (store, "p", "v", 0, &item));
    CHECK (!item);
    uint64_t released = 0;
    CHECK_OK (store, wp_store_release_by_worker (store, "p", "w", &released));
    CHECK_INT (released, 1);
    CHECK_OK (store, wp_store_size (store, "p", &size));
    CHECK_INT (size, 1);
    wp_store_destroy (&store);

    db = filetest_raw_open (path);
    CHECK_INT (filetest_query_int (db, "PRAGMA user_version"), WP_SQLITE_SCHEMA_VERSION);
    CHECK_INT (filetest_query_int (db, "SELECT count(*) FROM sqlite_schema WHERE name = 'items_status'"),
               1);
    CHECK_INT (filetest_query_int (db, "SELECT count(*) FROM sqlite_schema WHERE name = 'items_pending'"),
               0);
    CHECK_INT (filetest_query_int (db, "SELECT paused FROM pools WHERE name = 'p'"), 0);
    CHECK_INT (filetest_query_int (db, "SELECT pending FROM pools WHERE name = 'p'"), 1);
    sqlite3_close (db);

    //  A file of ours at version 0 (never initialised) is brought up too
    snprintf (path, sizeof path, "%s/v0.db", dir);
    db = filetest_raw_open (path);
    snprintf (sql, sizeof sql, "PRAGMA application_id = %d", WP_SQLITE_APPLICATION_ID);
    filetest_exec (db, sql);
    sqlite3_close (db);
    store = sqlitetest_open (path, NULL);
    sqlitetest_push (store, "p", "a");
    wp_store_destroy (&store);
}

//  A version 2 file (counters, no pause, items_pending) with items in
//  every state is migrated to version 3: pools gain paused (0), the
//  counters carry over, items_status replaces items_pending, and list,
//  retry and pause work on the old rows.
static void
s_migrates_version_2 (const char *dir)
{
    char path [128];
    snprintf (path, sizeof path, "%s/v2.db", dir);
    sqlite3 *db = filetest_raw_open (path);
    filetest_exec (db, "BEGIN");
    filetest_exec (db, WP_SQLITE_MIGRATION_1);
    filetest_exec (db, WP_SQLITE_MIGRATION_2);
    char sql [128];
    snprintf (sql, sizeof sql, "PRAGMA application_id = %d; PRAGMA user_version = 2",
              WP_SQLITE_APPLICATION_ID);
    filetest_exec (db, sql);
    filetest_exec (db,
        "INSERT INTO pools (pool_id, name) VALUES (3, 'p');"
        "INSERT INTO items (seq, pool_id, id, data, status, claimed_by, claimed_at, lease_us,"
        "  lease_expires_at, attempts, max_retries, result, error, created_at, updated_at) VALUES"
        " (1, 3, 'a', x'a161', 3, 'w', 140, NULL, NULL, 3, 3, NULL, 'boom', 100, 160),"
        " (2, 3, 'b', x'a162', 0, NULL, NULL, NULL, NULL, 0, 3, NULL, NULL, 110, 110),"
        " (3, 3, 'c', x'a163', 2, 'w', 120, NULL, NULL, 0, 3, x'a26f6b', NULL, 111, 130);");
    filetest_exec (db, "COMMIT");
    sqlite3_close (db);

    wp_store_t *store = sqlitetest_open (path, NULL);
    wp_item_list_t *items = NULL;
    char *cursor = NULL;
    CHECK_OK (store, wp_store_list_items (store, "p", NULL, 0, 2, NULL, &items, &cursor));
    CHECK_INT (items->count, 2);
    CHECK_STR (items->items [0]->id, "a");
    CHECK_STR (items->items [1]->id, "b");
    CHECK (cursor);
    wp_item_list_destroy (&items);
    char *next = NULL;
    CHECK_OK (store, wp_store_list_items (store, "p", NULL, 0, 2, cursor, &items, &next));
    free (cursor);
    cursor = next;
    CHECK_INT (items->count, 1);
    CHECK_STR (items->items [0]->id, "c");
    CHECK (!cursor);
    wp_item_list_destroy (&items);
    CHECK_INT (filetest_paused (store, "p"), 0);
    CHECK_OK (store, wp_store_retry (store, "p", "a"));
    uint64_t size = 0;
    CHECK_OK (store, wp_store_size (store, "p", &size));
    CHECK_INT (size, 2);
    CHECK_OK (store, wp_store_set_paused (store, "p", true));
    wp_item_t *item = NULL;
    CHECK_OK (store, wp_store_claim (store, "p", "w", 0, &item));
    CHECK (!item);
    wp_store_destroy (&store);

    db = filetest_raw_open (path);
    CHECK_INT (filetest_query_int (db, "PRAGMA user_version"), WP_SQLITE_SCHEMA_VERSION);
    CHECK_INT (filetest_query_int (db, "SELECT paused FROM pools WHERE name = 'p'"), 1);
    CHECK_INT (filetest_query_int (db, "SELECT pending FROM pools WHERE name = 'p'"), 2);
    CHECK_INT (filetest_query_int (db, "SELECT poisoned FROM pools WHERE name = 'p'"), 0);
    CHECK_INT (filetest_query_int (db, "SELECT count(*) FROM sqlite_schema WHERE name = 'items_status'"),
               1);
    CHECK_INT (filetest_query_int (db, "SELECT count(*) FROM sqlite_schema WHERE name = 'items_pending'"),
               0);
    sqlite3_close (db);
}


//  The schema of a version 3 file as that version wrote it, spelled out
//  here rather than taken from the migrations, so the test holds whatever
//  later steps do to the macros.
#define S_SCHEMA_3 \
    "CREATE TABLE pools (pool_id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE," \
    "  pending INTEGER NOT NULL DEFAULT 0, claimed INTEGER NOT NULL DEFAULT 0," \
    "  done INTEGER NOT NULL DEFAULT 0, poisoned INTEGER NOT NULL DEFAULT 0," \
    "  paused INTEGER NOT NULL DEFAULT 0);" \
    "CREATE TABLE items (seq INTEGER PRIMARY KEY," \
    "  pool_id INTEGER NOT NULL REFERENCES pools (pool_id), id TEXT NOT NULL," \
    "  data BLOB NOT NULL, status INTEGER NOT NULL DEFAULT 0, claimed_by TEXT," \
    "  claimed_at INTEGER, lease_us INTEGER, lease_expires_at INTEGER," \
    "  attempts INTEGER NOT NULL DEFAULT 0, max_retries INTEGER NOT NULL, result BLOB," \
    "  error TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL," \
    "  UNIQUE (pool_id, id));" \
    "CREATE TABLE workers (worker_id TEXT PRIMARY KEY, host TEXT, pid INTEGER," \
    "  capabilities BLOB NOT NULL, pool_id TEXT, started_at INTEGER NOT NULL," \
    "  status TEXT NOT NULL, last_heartbeat INTEGER NOT NULL, heartbeat_interval REAL NOT NULL," \
    "  stale_at INTEGER NOT NULL, current_item INTEGER, metadata BLOB NOT NULL);" \
    "CREATE TRIGGER items_count_insert AFTER INSERT ON items BEGIN" \
    "  UPDATE pools SET pending = pending + (NEW.status = 0), claimed = claimed + (NEW.status = 1)," \
    "  done = done + (NEW.status = 2), poisoned = poisoned + (NEW.status = 3)" \
    "  WHERE pool_id = NEW.pool_id; END;" \
    "CREATE TRIGGER items_count_update AFTER UPDATE OF status ON items" \
    "  WHEN OLD.status <> NEW.status BEGIN" \
    "  UPDATE pools SET pending = pending + (NEW.status = 0) - (OLD.status = 0)," \
    "  claimed = claimed + (NEW.status = 1) - (OLD.status = 1)," \
    "  done = done + (NEW.status = 2) - (OLD.status = 2)," \
    "  poisoned = poisoned + (NEW.status = 3) - (OLD.status = 3)" \
    "  WHERE pool_id = NEW.pool_id; END;" \
    "CREATE TRIGGER items_count_delete AFTER DELETE ON items BEGIN" \
    "  UPDATE pools SET pending = pending - (OLD.status = 0), claimed = claimed - (OLD.status = 1)," \
    "  done = done - (OLD.status = 2), poisoned = poisoned - (OLD.status = 3)" \
    "  WHERE pool_id = OLD.pool_id; END;" \
    "CREATE INDEX items_claimed ON items (claimed_by, pool_id) WHERE status = 1;" \
    "CREATE INDEX items_lease ON items (lease_expires_at) WHERE status = 1;" \
    "CREATE INDEX items_finished ON items (updated_at) WHERE status >= 2;" \
    "CREATE INDEX workers_stale ON workers (stale_at) WHERE status = 'active';" \
    "CREATE INDEX workers_current ON workers (current_item) WHERE current_item IS NOT NULL;" \
    "CREATE INDEX items_status ON items (pool_id, status, seq);"

//  A version 3 file with items in every state (a claim with its lease and
//  worker, a paused pool) is migrated to version 4 keeping every item:
//  each keeps its state, counters and place, with priority 0, no run_at and
//  no key; the pool has no policy and no schedules exist; and from then on
//  claims go by priority, scheduled items stay out of purge, and unique
//  keys are enforced on the old rows' pool.
static void
s_migrates_version_3 (const char *dir)
{
    char path [128];
    snprintf (path, sizeof path, "%s/v3.db", dir);
    sqlite3 *db = filetest_raw_open (path);
    filetest_exec (db, "PRAGMA page_size = 1024; PRAGMA journal_mode = WAL");
    filetest_exec (db, "BEGIN");
    filetest_exec (db, S_SCHEMA_3);
    char sql [128];
    snprintf (sql, sizeof sql, "PRAGMA application_id = %d; PRAGMA user_version = 3",
              WP_SQLITE_APPLICATION_ID);
    filetest_exec (db, sql);
    //  The triggers count the rows as they go in
    filetest_exec (db,
        "INSERT INTO pools (pool_id, name, paused) VALUES (4, 'p', 0), (5, 'held', 1);"
        "INSERT INTO items (seq, pool_id, id, data, status, claimed_by, claimed_at, lease_us,"
        "  lease_expires_at, attempts, max_retries, result, error, created_at, updated_at) VALUES"
        " (1, 4, 'a', x'a161', 3, 'w', 140, NULL, NULL, 3, 3, NULL, 'boom', 100, 160),"
        " (2, 4, 'b', x'a162', 0, NULL, NULL, NULL, NULL, 1, 3, NULL, 'lease expired', 110, 150),"
        " (3, 4, 'c', x'a163', 1, 'w', 200, 300000000, 4000000000000200, 0, 3, NULL, NULL, 111, 200),"
        " (4, 4, 'd', x'a164', 2, 'w', 120, NULL, NULL, 0, 3, x'a26f6b', NULL, 112, 130),"
        " (5, 4, 'e', x'a165', 0, NULL, NULL, NULL, NULL, 0, 3, NULL, NULL, 113, 113),"
        " (6, 5, 'f', x'a166', 0, NULL, NULL, NULL, NULL, 0, 3, NULL, NULL, 114, 114);");
    filetest_exec (db,
        "INSERT INTO workers (worker_id, host, pid, capabilities, pool_id, started_at, status,"
        "  last_heartbeat, heartbeat_interval, stale_at, current_item, metadata) VALUES"
        " ('w', 'h', 42, x'0067707500', 'p', 90, 'active', 4000000000000000, 10,"
        "  4000000020000001, 3, x'80');");
    filetest_exec (db, "COMMIT");
    CHECK_INT (filetest_query_int (db, "SELECT pending FROM pools WHERE name = 'p'"), 2);
    sqlite3_close (db);

    wp_store_t *store = sqlitetest_open (path, NULL);
    //  Every item, as it was
    wp_item_list_t *items = NULL;
    char *cursor = NULL;
    CHECK_OK (store, wp_store_list_items (store, "p", NULL, 0, 10, NULL, &items, &cursor));
    CHECK (!cursor);
    CHECK_INT (items->count, 5);
    const char *ids [] = { "a", "b", "c", "d", "e" };
    const wp_item_state states [] = { WP_ITEM_POISONED, WP_ITEM_PENDING, WP_ITEM_CLAIMED,
                                      WP_ITEM_DONE, WP_ITEM_PENDING };
    for (size_t i = 0; i < 5; i++) {
        wp_item_t *item = items->items [i];
        CHECK_STR (item->id, ids [i]);
        CHECK_INT (item->status, states [i]);
        CHECK_INT (item->priority, 0);
        CHECK_INT (item->run_at, 0);
        CHECK (item->unique_key == NULL);
        CHECK_INT (item->created_at, 100 + (i? 10 + i - 1: 0));
    }
    CHECK_STR (items->items [1]->error, "lease expired");
    CHECK_INT (items->items [1]->attempts, 1);
    CHECK_INT (items->items [2]->lease_expires_at, 4000000000000200);
    CHECK (items->items [3]->result_size == 3);
    wp_item_list_destroy (&items);
    wp_worker_t *worker = NULL;
    CHECK_OK (store, wp_store_get_worker (store, "w", &worker));
    CHECK (worker);
    CHECK_STR (worker->current_task_id, "c");
    wp_worker_destroy (&worker);
    wp_stats_t *stats = NULL;
    CHECK_OK (store, wp_store_stats (store, &stats));
    CHECK_INT (stats->pool_count, 2);
    CHECK_STR (stats->pools [0].pool, "held");
    CHECK (stats->pools [0].paused);
    CHECK_INT (stats->pools [0].pending, 1);
    wp_pool_stats_t *p = &stats->pools [1];
    CHECK_STR (p->pool, "p");
    CHECK (p->pending == 2 && p->claimed == 1 && p->done == 1 && p->poisoned == 1);
    CHECK (p->scheduled == 0 && p->backoff.base == 0 && !p->paused);
    wp_stats_destroy (&stats);
    wp_schedule_list_t *schedules = NULL;
    CHECK_OK (store, wp_store_schedule_list (store, &schedules));
    CHECK_INT (schedules->count, 0);
    wp_schedule_list_destroy (&schedules);

    //  Claims by priority: a new urgent item first, then the old ones in
    //  push order, a new one of their priority after them
    static const uint8_t data [] = { 0xa1, 'x' };
    wp_push_entry_t entry = { data, sizeof data, "late", -1 };
    char *id = NULL;
    CHECK_OK (store, wp_store_push (store, "p", &entry, &id, NULL));
    free (id);
    entry.id = "urgent";
    entry.priority = -5;
    entry.unique_key = "k";
    CHECK_OK (store, wp_store_push (store, "p", &entry, &id, NULL));
    free (id);
    entry.id = "again";
    bool duplicate = false;
    CHECK_OK (store, wp_store_push (store, "p", &entry, &id, &duplicate));
    CHECK (duplicate);
    CHECK_STR (id, "urgent");
    free (id);
    const char *order [] = { "urgent", "b", "e", "late" };
    for (size_t i = 0; i < 4; i++) {
        wp_item_t *item = filetest_claim (store, "p", "v", 0);
        CHECK_STR (item->id, order [i]);
        wp_item_destroy (&item);
    }
    //  Purge takes the finished items, not a scheduled one
    entry.id = "later";
    entry.unique_key = NULL;
    entry.delay = 3600;
    CHECK_OK (store, wp_store_push (store, "p", &entry, &id, NULL));
    free (id);
    uint64_t purged = 0;
    CHECK_OK (store, wp_store_purge (store, 0, &purged));
    CHECK_INT (purged, 2);
    wp_item_t *item = filetest_get (store, "p", "later");
    CHECK_INT (item->status, WP_ITEM_SCHEDULED);
    wp_item_destroy (&item);
    wp_store_destroy (&store);

    db = filetest_raw_open (path);
    CHECK_INT (filetest_query_int (db, "PRAGMA user_version"), WP_SQLITE_SCHEMA_VERSION);
    CHECK_INT (filetest_query_int (db, "SELECT count(*) FROM sqlite_schema WHERE name IN"
                                       " ('items_ready', 'items_due', 'items_unique',"
                                       "  'schedules', 'schedules_next', 'items_status')"), 6);
    CHECK_INT (filetest_query_int (db, "SELECT scheduled FROM pools WHERE name = 'p'"), 1);
    CHECK_INT (filetest_query_int (db, "SELECT pending FROM pools WHERE name = 'p'"), 0);
    CHECK_INT (filetest_query_int (db, "SELECT claimed FROM pools WHERE name = 'p'"), 5);
    sqlite3_close (db);
}

static void
s_paused_survives_reopen (const char *dir)
{
    char path [128];
    snprintf (path, sizeof path, "%s/paused.db", dir);
    filetest_paused_survives_reopen (wp_store_sqlite_new, path);
}

//  Paths that cannot be a store fail with a status that says why, and
//  leave nothing behind.
static void
s_bad_paths (const char *dir)
{
    char path [160];
    snprintf (path, sizeof path, "%s/missing/store.db", dir);
    filetest_expect_refused (wp_store_sqlite_new, path, NULL, WP_NOT_FOUND, "no directory");
    snprintf (path, sizeof path, "%s/plain", dir);
    FILE *file = fopen (path, "w");
    CHECK (file);
    fclose (file);
    snprintf (path, sizeof path, "%s/plain/store.db", dir);
    filetest_expect_refused (wp_store_sqlite_new, path, NULL, WP_NOT_FOUND, "no directory");
    snprintf (path, sizeof path, "%s/sub", dir);
    CHECK (mkdir (path, 0700) == 0);
    filetest_expect_refused (wp_store_sqlite_new, path, NULL, WP_FAILED_PRECONDITION, "is a directory");
    filetest_expect_refused (wp_store_sqlite_new, "", NULL, WP_INVALID_ARGUMENT, "path");
    CHECK_INT (filetest_entries (dir), 2);
}

//  Permission checks, run as a user the files deny. Returns 0 if all held.
static int
s_permission_checks (const char *dir)
{
    char path [160];
    //  A read-only store in a writable directory
    snprintf (path, sizeof path, "%s/rofile/store.db", dir);
    filetest_expect_refused (wp_store_sqlite_new, path, NULL, WP_PERMISSION_DENIED, "read-only");
    //  A store in a directory we may not write (WAL needs its -shm there)
    snprintf (path, sizeof path, "%s/rodir/store.db", dir);
    filetest_expect_refused (wp_store_sqlite_new, path, NULL, WP_PERMISSION_DENIED, "not writable");
    //  A new store there
    snprintf (path, sizeof path, "%s/rodir/new.db", dir);
    filetest_expect_refused (wp_store_sqlite_new, path, NULL, WP_PERMISSION_DENIED, "not writable");
    CHECK (access (path, F_OK) != 0);
    return 0;
}

static void
s_permissions (const char *dir)
{
    char path [160];
    snprintf (path, sizeof path, "%s/rofile", dir);
    CHECK (mkdir (path, 0777) == 0 && chmod (path, 0777) == 0);
    snprintf (path, sizeof path, "%s/rofile/store.db", dir);
    wp_store_t *store = sqlitetest_open (path, NULL);
    sqlitetest_push (store, "p", "a");
    wp_store_destroy (&store);
    CHECK (chmod (path, 0444) == 0);

    snprintf (path, sizeof path, "%s/rodir", dir);
    CHECK (mkdir (path, 0755) == 0);
    snprintf (path, sizeof path, "%s/rodir/store.db", dir);
    store = sqlitetest_open (path, NULL);
    sqlitetest_push (store, "p", "a");
    wp_store_destroy (&store);
    CHECK (chmod (path, 0666) == 0);
    CHECK (chmod (dir, 0755) == 0);

    size_t size_before;
    char *before = filetest_slurp (path, &size_before);
    //  Root may write anything: check as nobody, in a child
    pid_t pid = fork ();
    CHECK (pid >= 0);
    if (pid == 0) {
        if (geteuid () == 0 && (setgid (65534) || setuid (65534)))
            _exit (77);
        _exit (s_permission_checks (dir));
    }
    int wstatus;
    CHECK (waitpid (pid, &wstatus, 0) == pid);
    if (WIFEXITED (wstatus) && WEXITSTATUS (wstatus) == 77)
        printf ("# permissions: skipped, cannot drop root\n");
    else
        CHECK (WIFEXITED (wstatus) && WEXITSTATUS (wstatus) == 0);
    size_t size_after;
    char *after = filetest_slurp (path, &size_after);
    CHECK (size_before == size_after && memcmp (before, after, size_before) == 0);
    free (before);
    free (after);
}

//  Close and reopen: every item field, the worker record, the counters and
//  the leases of claims are as they were, and the leases still expire.
static void
s_restart_keeps_everything (const char *dir)
{
    char path [128];
    snprintf (path, sizeof path, "%s/restart.db", dir);
    wp_test_clock_t clock = { 1700000000 * SECOND + 123456 };
    wp_store_t *store = sqlitetest_open (path, NULL);
    wp_store_set_clock (store, wp_test_clock_read, &clock);
    static const char *ids [] = { "a", "b", "c", "d" };
    for (int i = 0; i < 4; i++) {
        uint8_t data [] = { 0x92, 0x01, (uint8_t) i };
        wp_push_entry_t entry = { data, sizeof data, ids [i], i == 3? 1: -1 };
        char *id = NULL;
        CHECK_OK (store, wp_store_push (store, "p", &entry, &id, NULL));
        free (id);
        clock.now += 7;
    }
    wp_worker_t *spec = wp_worker_new ();
    spec->worker_id = strdup ("w");
    spec->host = strdup ("host-1");
    spec->pid = 4242;
    wp_worker_add_capability (spec, "gpu");
    wp_worker_add_capability (spec, "cpu");
    spec->pool_id = strdup ("p");
    spec->heartbeat_interval = 1000;
    //  A value that is not one msgpack value would make the stored map
    //  unreadable: refused
    wp_meta_set (&spec->metadata, "k", (const uint8_t *) "\xa1v\x01", 3);
    CHECK_RC (store, wp_store_register (store, spec, NULL), WP_INVALID_ARGUMENT);
    wp_meta_set (&spec->metadata, "k", (const uint8_t *) "\xa1v", 2);
    CHECK_OK (store, wp_store_register (store, spec, NULL));
    wp_meta_t bad = { NULL, 0 };
    wp_meta_set (&bad, "k", (const uint8_t *) "\xa2v", 2);
    CHECK_RC (store, wp_store_heartbeat (store, "w", &bad), WP_INVALID_ARGUMENT);
    wp_meta_clear (&bad);
    wp_worker_destroy (&spec);

    wp_item_t *item = filetest_claim (store, "p", "w", 600);            //  a: stays claimed
    wp_item_destroy (&item);
    item = filetest_claim (store, "p", "x", 0);                          //  b: done
    CHECK_OK (store, wp_store_complete (store, "p", "b", (const uint8_t *) "\xa2ok", 3, "x"));
    wp_item_destroy (&item);
    item = filetest_claim (store, "p", "w", 0);                          //  c: failed once
    wp_item_destroy (&item);
    item = filetest_claim (store, "p", "w", 0);                          //  d: poisoned
    CHECK_OK (store, wp_store_fail (store, "p", "d", "fatal", "w", 0, NULL));
    CHECK_OK (store, wp_store_fail (store, "p", "c", "boom", "w", 0, NULL));
    wp_item_destroy (&item);
    item = filetest_claim (store, "p", "w", 900);                        //  c again: current task
    CHECK_STR (item->id, "c");
    wp_item_destroy (&item);

    wp_item_t *before [4];
    for (int i = 0; i < 4; i++)
        before [i] = filetest_get (store, "p", ids [i]);
    wp_worker_t *worker_before = NULL;
    CHECK_OK (store, wp_store_get_worker (store, "w", &worker_before));
    int64_t due_before = 0;
    CHECK_OK (store, wp_store_next_due (store, &due_before));
    wp_store_destroy (&store);

    store = sqlitetest_open (path, NULL);
    wp_store_set_clock (store, wp_test_clock_read, &clock);
    for (int i = 0; i < 4; i++) {
        wp_item_t *after = filetest_get (store, "p", ids [i]);
        s_items_equal (before [i], after);
        wp_item_destroy (&after);
        wp_item_destroy (&before [i]);
    }
    wp_worker_t *worker = NULL;
    CHECK_OK (store, wp_store_get_worker (store, "w", &worker));
    CHECK_STR (worker->host, "host-1");
    CHECK_INT (worker->pid, 4242);
    CHECK_INT (worker->capability_count, 2);
    CHECK_STR (worker->capabilities [1], "cpu");
    CHECK_STR (worker->pool_id, "p");
    CHECK_INT (worker->started_at, worker_before->started_at);
    CHECK_INT (worker->last_heartbeat, worker_before->last_heartbeat);
    CHECK_STR (worker->status, "active");
    CHECK_STR (worker->current_task_id, "c");
    CHECK (worker->heartbeat_interval == 1000);
    const wp_meta_entry_t *entry = wp_meta_get (&worker->metadata, "k");
    CHECK (entry && entry->value_size == 2 && memcmp (entry->value, "\xa1v", 2) == 0);
    wp_worker_destroy (&worker);
    wp_worker_destroy (&worker_before);
    int64_t due = 0;
    CHECK_OK (store, wp_store_next_due (store, &due));
    CHECK_INT (due, due_before);
    wp_stats_t *stats = NULL;
    CHECK_OK (store, wp_store_stats (store, &stats));
    CHECK_INT (stats->pools [0].pending, 0);
    CHECK_INT (stats->pools [0].claimed, 2);
    CHECK_INT (stats->pools [0].done, 1);
    CHECK_INT (stats->pools [0].poisoned, 1);
    wp_stats_destroy (&stats);

    //  The persisted lease of a lapses at its time, after the restart
    clock.now = due - 1;
    item = filetest_get (store, "p", "a");
    CHECK_INT (item->status, WP_ITEM_CLAIMED);
    wp_item_destroy (&item);
    clock.now = due;
    item = filetest_get (store, "p", "a");
    CHECK_INT (item->status, WP_ITEM_PENDING);
    CHECK_STR (item->error, "lease expired");
    wp_item_destroy (&item);
    wp_store_destroy (&store);
}

//  Group commit between two connections: a group holds the write lock (the
//  other connection gets UNAVAILABLE once its busy timeout passes), a
//  failing call inside it changes nothing, commit publishes the rest,
//  rollback and destroy discard it.
static void
s_group_commit_and_rollback (const char *dir)
{
    char path [128];
    snprintf (path, sizeof path, "%s/group.db", dir);
    wp_store_t *a = sqlitetest_open (path, NULL);
    wp_store_config_t impatient = { .busy_timeout_ms = 50 };
    wp_store_t *b = sqlitetest_open (path, &impatient);

    CHECK_OK (a, wp_store_begin (a));
    sqlitetest_push (a, "p", "x");
    sqlitetest_push (a, "p", "y");
    static const uint8_t data [] = { 0xc0 };
    wp_push_entry_t entry = { data, sizeof data, "z", -1 };
    char *id = NULL;
    CHECK_RC (b, wp_store_push (b, "p", &entry, &id, NULL), WP_UNAVAILABLE);
    CHECK (strstr (wp_store_errmsg (b), "locked"));
    CHECK_RC (b, wp_store_get (b, "p", "x", &(wp_item_t *) { NULL }), WP_NOT_FOUND);
    CHECK_RC (a, wp_store_complete (a, "p", "nothing", NULL, 0, NULL), WP_NOT_FOUND);
    CHECK_RC (a, wp_store_fail (a, "p", "y", "e", NULL, 0, NULL), WP_FAILED_PRECONDITION);
    wp_item_t *item = filetest_claim (a, "p", "w", 0);
    CHECK_STR (item->id, "x");
    wp_item_destroy (&item);
    CHECK_RC (a, wp_store_begin (a), WP_FAILED_PRECONDITION);
    CHECK_OK (a, wp_store_commit (a));
    CHECK_RC (a, wp_store_commit (a), WP_FAILED_PRECONDITION);

    item = filetest_get (b, "p", "x");
    CHECK_INT (item->status, WP_ITEM_CLAIMED);
    wp_item_destroy (&item);
    item = filetest_get (b, "p", "y");
    CHECK_INT (item->status, WP_ITEM_PENDING);
    CHECK_INT (item->attempts, 0);
    wp_item_destroy (&item);
    sqlitetest_push (b, "p", "z");

    CHECK_OK (a, wp_store_begin (a));
    sqlitetest_push (a, "p", "r");
    wp_store_rollback (a);
    CHECK_RC (a, wp_store_get (a, "p", "r", &item), WP_NOT_FOUND);
    CHECK_RC (b, wp_store_get (b, "p", "r", &item), WP_NOT_FOUND);

    //  Destroying a store with an open group rolls it back and lets go
    CHECK_OK (a, wp_store_begin (a));
    sqlitetest_push (a, "p", "s");
    wp_store_destroy (&a);
    CHECK_RC (b, wp_store_get (b, "p", "s", &item), WP_NOT_FOUND);
    sqlitetest_push (b, "p", "t");
    uint64_t size = 0;
    CHECK_OK (b, wp_store_size (b, "p", &size));
    CHECK_INT (size, 3);                                //  y, z, t
    wp_store_destroy (&b);
}

//  Expiry applied inside a group that rolls back is not reported by reap;
//  the next call applies it again, and then it is.
static void
s_group_rollback_and_reap (const char *dir)
{
    char path [128];
    snprintf (path, sizeof path, "%s/reap.db", dir);
    wp_test_clock_t clock = { 1700000000 * SECOND };
    wp_store_t *store = sqlitetest_open (path, NULL);
    wp_store_set_clock (store, wp_test_clock_read, &clock);
    sqlitetest_push (store, "p", "a");
    wp_item_t *item = filetest_claim (store, "p", "w", 1);
    wp_item_destroy (&item);
    clock.now += 2 * SECOND;
    CHECK_OK (store, wp_store_begin (store));
    uint64_t size = 0;
    CHECK_OK (store, wp_store_size (store, "p", &size));
    CHECK_INT (size, 1);
    wp_store_rollback (store);
    wp_reap_t reap;
    CHECK_OK (store, wp_store_reap (store, &reap));
    CHECK_INT (reap.leases_expired, 1);             //  reap itself applied it again
    CHECK_INT (reap.requeued, 1);
    CHECK_OK (store, wp_store_reap (store, &reap));
    CHECK_INT (reap.leases_expired + reap.requeued, 0);

    item = filetest_claim (store, "p", "w", 1);
    wp_item_destroy (&item);
    clock.now += 2 * SECOND;
    CHECK_OK (store, wp_store_begin (store));
    CHECK_OK (store, wp_store_size (store, "p", &size));
    CHECK_OK (store, wp_store_reap (store, &reap));
    CHECK_INT (reap.leases_expired, 1);             //  the group's own, told once
    CHECK_OK (store, wp_store_commit (store));
    CHECK_OK (store, wp_store_reap (store, &reap));
    CHECK_INT (reap.leases_expired, 0);
    item = filetest_get (store, "p", "a");
    CHECK_INT (item->attempts, 2);
    wp_item_destroy (&item);
    wp_store_destroy (&store);
}

//  A call that fails outside a group still commits the expiry it applied
//  on its way in: another connection sees it, and reap reports it.
static void
s_failed_call_keeps_expiry (const char *dir)
{
    char path [128];
    snprintf (path, sizeof path, "%s/keep.db", dir);
    wp_test_clock_t clock = { 1700000000 * SECOND };
    wp_store_t *store = sqlitetest_open (path, NULL);
    wp_store_t *other = sqlitetest_open (path, NULL);
    wp_store_set_clock (store, wp_test_clock_read, &clock);
    wp_store_set_clock (other, wp_test_clock_read, &(wp_test_clock_t) { 0 });   //  never due
    sqlitetest_push (store, "p", "a");
    sqlitetest_push (store, "p", "b");
    wp_item_t *item = filetest_claim (store, "p", "w", 1);
    wp_item_destroy (&item);
    item = filetest_claim (store, "p", "w", 60);
    wp_item_destroy (&item);
    clock.now += 2 * SECOND;
    CHECK_RC (store, wp_store_complete (store, "p", "a", NULL, 0, "w"), WP_FAILED_PRECONDITION);
    item = filetest_get (other, "p", "a");
    CHECK_INT (item->status, WP_ITEM_PENDING);
    CHECK_STR (item->error, "lease expired");
    wp_item_destroy (&item);
    wp_reap_t reap;
    CHECK_OK (store, wp_store_reap (store, &reap));
    CHECK_INT (reap.leases_expired, 1);

    //  With nothing due, a failing call changes nothing either
    CHECK_RC (store, wp_store_complete (store, "p", "b", NULL, 0, "v"), WP_FAILED_PRECONDITION);
    item = filetest_get (other, "p", "b");
    CHECK_INT (item->status, WP_ITEM_CLAIMED);
    CHECK_STR (item->claimed_by, "w");
    wp_item_destroy (&item);
    wp_store_destroy (&store);
    wp_store_destroy (&other);
}

//  Purge deletes by last change, keeps the counters right, frees the ids,
//  and is undone by a rollback.
static void
s_purge (const char *dir)
{
    char path [128];
    snprintf (path, sizeof path, "%s/purge.db", dir);
    wp_test_clock_t clock = { 1700000000 * SECOND };
    wp_store_t *store = sqlitetest_open (path, NULL);
    wp_store_set_clock (store, wp_test_clock_read, &clock);
    static const char *ids [] = { "a", "b", "c", "d", "e" };
    for (int i = 0; i < 5; i++)
        sqlitetest_push (store, "p", ids [i]);
    for (int i = 0; i < 3; i++) {
        wp_item_t *item = filetest_claim (store, "p", "w", 0);
        if (i < 2)
            CHECK_OK (store, wp_store_complete (store, "p", item->id, NULL, 0, "w"));
        wp_item_destroy (&item);
    }
    //  c: failed three times, so poisoned
    for (int i = 0; i < 3; i++) {
        wp_item_t *item = NULL;
        if (i > 0) {
            item = filetest_claim (store, "p", "w", 0);
            CHECK_STR (item->id, "c");
            wp_item_destroy (&item);
        }
        CHECK_OK (store, wp_store_fail (store, "p", "c", "no", "w", 0, NULL));
    }
    wp_item_t *item = filetest_get (store, "p", "c");
    CHECK_INT (item->status, WP_ITEM_POISONED);
    wp_item_destroy (&item);

    uint64_t count = 99;
    CHECK_OK (store, wp_store_purge (store, 0, &count));
    CHECK_INT (count, 0);                           //  changed at this very instant
    clock.now += 100 * SECOND;
    CHECK_OK (store, wp_store_purge (store, 101, &count));
    CHECK_INT (count, 0);
    CHECK_OK (store, wp_store_begin (store));
    CHECK_OK (store, wp_store_purge (store, 50, &count));
    CHECK_INT (count, 3);
    wp_store_rollback (store);
    item = filetest_get (store, "p", "a");
    wp_item_destroy (&item);
    CHECK_OK (store, wp_store_purge (store, 50, &count));
    CHECK_INT (count, 3);
    CHECK_RC (store, wp_store_get (store, "p", "a", &item), WP_NOT_FOUND);
    wp_stats_t *stats = NULL;
    CHECK_OK (store, wp_store_stats (store, &stats));
    CHECK_INT (stats->pool_count, 1);
    CHECK_INT (stats->pools [0].pending, 2);
    CHECK_INT (stats->pools [0].done + stats->pools [0].poisoned + stats->pools [0].claimed, 0);
    wp_stats_destroy (&stats);
    sqlitetest_push (store, "p", "a");              //  the id is free again
    wp_store_destroy (&store);
}

//  Expiry is never cached in-process: a connection whose clock is ahead
//  applies what is due for everyone, and declares another's worker lost.
static void
s_expiry_across_connections (const char *dir)
{
    char path [128];
    snprintf (path, sizeof path, "%s/cross.db", dir);
    wp_store_t *a = sqlitetest_open (path, NULL);
    wp_store_t *b = sqlitetest_open (path, NULL);
    wp_test_clock_t ahead = { wp_time_now () + 1000 * SECOND };
    wp_store_set_clock (b, wp_test_clock_read, &ahead);

    wp_worker_t *spec = wp_worker_new ();
    spec->worker_id = strdup ("w");
    spec->heartbeat_interval = 60;
    CHECK_OK (a, wp_store_register (a, spec, NULL));
    wp_worker_destroy (&spec);
    sqlitetest_push (a, "p", "x");
    sqlitetest_push (a, "p", "y");
    wp_item_t *item = filetest_claim (a, "p", "v", 10);
    wp_item_destroy (&item);
    item = filetest_claim (a, "p", "w", 3600);
    wp_item_destroy (&item);

    uint64_t size = 0;
    CHECK_OK (a, wp_store_size (a, "p", &size));
    CHECK_INT (size, 0);
    CHECK_OK (b, wp_store_size (b, "p", &size));
    CHECK_INT (size, 2);
    item = filetest_get (a, "p", "x");
    CHECK_STR (item->error, "lease expired");
    wp_item_destroy (&item);
    item = filetest_get (a, "p", "y");
    CHECK_STR (item->error, "worker lost");
    CHECK_INT (item->attempts, 1);
    wp_item_destroy (&item);
    wp_worker_t *worker = NULL;
    CHECK_OK (a, wp_store_get_worker (a, "w", &worker));
    CHECK_STR (worker->status, "lost");
    wp_worker_destroy (&worker);
    CHECK_RC (a, wp_store_heartbeat (a, "w", NULL), WP_FAILED_PRECONDITION);

    wp_reap_t reap;
    CHECK_OK (a, wp_store_reap (a, &reap));
    CHECK_INT (reap.leases_expired + reap.workers_lost, 0);
    CHECK_OK (b, wp_store_reap (b, &reap));
    CHECK_INT (reap.leases_expired, 1);
    CHECK_INT (reap.workers_lost, 1);
    CHECK_INT (reap.requeued, 2);
    wp_store_destroy (&a);
    wp_store_destroy (&b);
}

//  A full disk (a page limit here) is an error the caller can see, not a
//  crash: a push too big for it fails with RESOURCE_EXHAUSTED and changes
//  nothing; in a group, either the group survives the failed call or
//  SQLite rolled it all back and commit says so; once there is room the
//  store works on.
static void
s_disk_full_is_an_error (const char *dir)
{
    char path [128];
    snprintf (path, sizeof path, "%s/full.db", dir);
    wp_store_t *store = sqlitetest_open (path, NULL);
    sqlitetest_push (store, "p", "a");
    sqlite3 *db = s_store_db (store);
    int64_t pages = filetest_query_int (db, "PRAGMA page_count");
    char sql [64];
    snprintf (sql, sizeof sql, "PRAGMA max_page_count = %lld", (long long) pages + 2);
    filetest_exec (db, sql);

    size_t big_size = 64 * 1024;
    uint8_t *big = calloc (1, big_size);
    CHECK (big);
    big [0] = 0xc6;                                 //  msgpack bin 32
    wp_push_entry_t entry = { big, big_size, "big", -1 };
    char *id = NULL;
    CHECK_RC (store, wp_store_push (store, "p", &entry, &id, NULL), WP_RESOURCE_EXHAUSTED);
    CHECK (strstr (wp_store_errmsg (store), "full"));
    wp_item_t *item = NULL;
    CHECK_RC (store, wp_store_get (store, "p", "big", &item), WP_NOT_FOUND);

    CHECK_OK (store, wp_store_begin (store));
    sqlitetest_push (store, "p", "b");
    CHECK_RC (store, wp_store_push (store, "p", &entry, &id, NULL), WP_RESOURCE_EXHAUSTED);
    wp_status committed = wp_store_commit (store);
    printf ("# full disk in a group: %s\n", committed == WP_OK? "the group survived"
                                                                : "SQLite rolled it back");
    if (committed == WP_OK) {
        item = filetest_get (store, "p", "b");
        wp_item_destroy (&item);
    }
    else {
        CHECK_INT (committed, WP_RESOURCE_EXHAUSTED);
        CHECK_RC (store, wp_store_get (store, "p", "b", &item), WP_NOT_FOUND);
    }
    CHECK_RC (store, wp_store_get (store, "p", "big", &item), WP_NOT_FOUND);

    //  A group SQLite ended on its own: every call until commit fails,
    //  none runs outside the group, commit reports it
    CHECK_OK (store, wp_store_begin (store));
    sqlitetest_push (store, "p", "c");
    filetest_exec (db, "ROLLBACK");
    CHECK_RC (store, wp_store_push (store, "p", &entry, &id, NULL), WP_ABORTED);
    CHECK (strstr (wp_store_errmsg (store), "rolled back"));
    CHECK_RC (store, wp_store_size (store, "p", &(uint64_t) { 0 }), WP_ABORTED);
    CHECK_RC (store, wp_store_commit (store), WP_ABORTED);
    CHECK_RC (store, wp_store_get (store, "p", "c", &item), WP_NOT_FOUND);

    filetest_exec (db, "PRAGMA max_page_count = 1073741823");
    CHECK_OK (store, wp_store_push (store, "p", &entry, &id, NULL));
    free (id);
    free (big);
    item = filetest_claim (store, "p", "w", 0);
    CHECK_STR (item->id, "a");
    wp_item_destroy (&item);
    wp_store_destroy (&store);
}

//  A batch whose store call fails half-way (a full disk) changes nothing:
//  alone, its own transaction rolls back; in a group, its savepoint does,
//  and the group's other calls stay.
static void
s_batch_store_failure_changes_nothing (const char *dir)
{
    char path [128];
    snprintf (path, sizeof path, "%s/full.db", dir);
    wp_store_t *store = sqlitetest_open (path, NULL);
    sqlitetest_push (store, "p", "a");
    sqlite3 *db = s_store_db (store);
    int64_t pages = filetest_query_int (db, "PRAGMA page_count");
    char sql [64];
    snprintf (sql, sizeof sql, "PRAGMA max_page_count = %lld", (long long) pages + 2);
    filetest_exec (db, sql);

    size_t big_size = 64 * 1024;
    uint8_t *big = calloc (1, big_size);
    CHECK (big);
    big [0] = 0xc6;                                 //  msgpack bin 32
    static const uint8_t small [] = { 0xa1, 's' };
    wp_push_entry_t entries [] = {
        { small, sizeof small, "s1", -1 },
        { big, big_size, "big", -1 },
    };
    char *ids [2] = { NULL, NULL };
    CHECK_RC (store, wp_store_push_many (store, "p", entries, 2, ids, NULL),
              WP_RESOURCE_EXHAUSTED);
    CHECK (strncmp (wp_store_errmsg (store), "items[1]: ", 10) == 0);
    CHECK (!ids [0] && !ids [1]);
    wp_item_t *item = NULL;
    CHECK_RC (store, wp_store_get (store, "p", "s1", &item), WP_NOT_FOUND);

    CHECK_OK (store, wp_store_begin (store));
    sqlitetest_push (store, "p", "b");
    entries [0].id = "s2";
    CHECK_RC (store, wp_store_push_many (store, "p", entries, 2, ids, NULL),
              WP_RESOURCE_EXHAUSTED);
    CHECK (!ids [0] && !ids [1]);
    wp_status committed = wp_store_commit (store);
    if (committed == WP_OK) {
        item = filetest_get (store, "p", "b");
        wp_item_destroy (&item);
    }
    else
        CHECK_INT (committed, WP_RESOURCE_EXHAUSTED);
    CHECK_RC (store, wp_store_get (store, "p", "s2", &item), WP_NOT_FOUND);
    CHECK_RC (store, wp_store_get (store, "p", "big", &item), WP_NOT_FOUND);
    uint64_t size = 0;
    CHECK_OK (store, wp_store_size (store, "p", &size));
    CHECK_INT (size, committed == WP_OK? 2: 1);
    free (big);
    wp_store_destroy (&store);
}

//  ---------------------------------------------------------------------

static const filetest_case_t s_cases [] = {
    { "new_file_and_pragmas", s_new_file_and_pragmas },
    { "empty_file_is_initialised", s_empty_file_is_initialised },
    { "foreign_files_are_refused", s_foreign_files_are_refused },
    { "future_version_is_refused", s_future_version_is_refused },
    { "migrates_version_1", s_migrates_version_1 },
    { "migrates_version_2", s_migrates_version_2 },
    { "migrates_version_3", s_migrates_version_3 },
    { "paused_survives_reopen", s_paused_survives_reopen },
    { "bad_paths", s_bad_paths },
    { "permissions", s_permissions },
    { "restart_keeps_everything", s_restart_keeps_everything },
    { "group_commit_and_rollback", s_group_commit_and_rollback },
    { "group_rollback_and_reap", s_group_rollback_and_reap },
    { "failed_call_keeps_expiry", s_failed_call_keeps_expiry },
    { "purge", s_purge },
    { "expiry_across_connections", s_expiry_across_connections },
    { "disk_full_is_an_error", s_disk_full_is_an_error },
    { "batch_store_failure_changes_nothing", s_batch_store_failure_changes_nothing },
};

int
main (int argc, char *argv [])
{
    return filetest_run (s_cases, sizeof s_cases / sizeof s_cases [0], argc > 1 ? argv [1] : NULL,
                         "wp-sqlite");
}
