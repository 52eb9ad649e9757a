/*  test_image_file: the image store's file. A commit whose image cannot be
    written (a trigger in the file refuses the row) fails and is rolled back
    in memory too, solo calls and groups alike; one process owns a file, and
    a second opener, in this process or another, is refused while the first
    goes on; files that are not an image (a SQLite store's, another
    application's, text, a newer version, a directory, a missing directory)
    are refused and left as they were; damaged rows fail the open with
    WP_DATA_LOSS; and everything a commit acknowledged is there after a
    restart, down to leases, claimants and metadata, while a group left open
    at destroy and purged items are not, even when a group purges an item
    and pushes its id again. Each case has its own directory.

    Usage: test_image_file [CASE]  */
#include "../filetest.h"
#include "../memory/memops.h"
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <time.h>
#include <sys/wait.h>

//  PRAGMA application_id of an image file ("wpim")
#define S_APPLICATION_ID 0x7770696D

static const uint8_t s_data [] = { 0xa1, 'x' };        //  msgpack "x"

//  ---------------------------------------------------------------------
//  Helpers

static wp_store_t *
s_open (const char *path, wp_test_clock_t *clock)
{
    wp_status status = WP_OK;
    char *message = NULL;
    wp_store_t *store = wp_store_image_new (path, NULL, &status, &message);
    if (!store) {
        fprintf (stderr, "cannot open %s: %s: %s\n", path, wp_strerror (status),
                 message ? message : "");
        abort ();
    }
    if (clock)
        wp_store_set_clock (store, wp_test_clock_read, clock);
    return store;
}

//  Runs sql on the file at path with a connection of its own
static void
s_raw_exec (const char *path, const char *sql)
{
    sqlite3 *db = filetest_raw_open (path);
    filetest_exec (db, sql);
    CHECK (sqlite3_close (db) == SQLITE_OK);
}

static int64_t
s_raw_query_int (const char *path, const char *sql)
{
    sqlite3 *db = filetest_raw_open (path);
    int64_t value = filetest_query_int (db, sql);
    CHECK (sqlite3_close (db) == SQLITE_OK);
    return value;
}

static void
s_push (wp_store_t *store, const char *pool, const char *id)
{
    wp_push_entry_t entry = { s_data, sizeof s_data, id, -1 };
    char *id_out = NULL;
    bool duplicate = true;
    CHECK_OK (store, wp_store_push (store, pool, &entry, &id_out, &duplicate));
    CHECK_STR (id_out, id);
    CHECK (!duplicate);
    free (id_out);
}

static void
s_absent (wp_store_t *store, const char *pool, const char *id)
{
    wp_item_t *item = NULL;
    CHECK_RC (store, wp_store_get (store, pool, id, &item), WP_NOT_FOUND);
    CHECK (!item);
}

static uint64_t
s_size (wp_store_t *store, const char *pool)
{
    uint64_t size = 0;
    CHECK_OK (store, wp_store_size (store, pool, &size));
    return size;
}

static wp_worker_t *
s_get_worker (wp_store_t *store, const char *worker_id)
{
    wp_worker_t *worker = NULL;
    CHECK_OK (store, wp_store_get_worker (store, worker_id, &worker));
    CHECK (worker);
    return worker;
}

//  The store's message after a commit its image refused
static void
s_check_image_error (wp_store_t *store)
{
    const char *message = wp_store_errmsg (store);
    if (!strstr (message, "image") || !strstr (message, "injected")) {
        fprintf (stderr, "unexpected message: '%s'\n", message);
        abort ();
    }
}

//  ---------------------------------------------------------------------
//  Cases

//  A commit whose image cannot be written fails, and the memory store
//  rolls back with it: the memory never holds what the file does not.
static void
s_unwritable_commit_rolls_back (const char *dir)
{
    char path [128];
    snprintf (path, sizeof path, "%s/poison.db", dir);
    wp_test_clock_t clock = { INT64_C (1700000000) * SECOND };
    wp_store_t *store = s_open (path, &clock);
    s_push (store, "p", "first");
    wp_worker_t *spec = wp_worker_new ();
    spec->worker_id = wp_strdup ("w");
    CHECK_OK (store, wp_store_register (store, spec, NULL));
    wp_worker_destroy (&spec);
    s_push (store, "p", "sticky");
    wp_store_destroy (&store);

    //  The file refuses an item 'poison', and refuses to mark 'sticky' done
    s_raw_exec (path,
        "CREATE TRIGGER poison BEFORE INSERT ON items WHEN NEW.id = 'poison' "
        "BEGIN SELECT RAISE (ABORT, 'injected'); END;"
        "CREATE TRIGGER sticky BEFORE UPDATE ON items WHEN OLD.id = 'sticky' AND NEW.status = 2 "
        "BEGIN SELECT RAISE (ABORT, 'injected'); END;");

    store = s_open (path, &clock);
    CHECK_INT (s_size (store, "p"), 2);
    //  A claim whose lease lapses just before the next call
    s_push (store, "l", "lapse");
    wp_item_t *item = filetest_claim (store, "l", "w", 1);
    wp_item_destroy (&item);
    clock.now += 2 * SECOND;

    //  A solo push: refused, and gone from memory too. The expiry it
    //  applied on its way went with it, and is applied (and counted) once,
    //  by the next call
    wp_push_entry_t entry = { s_data, sizeof s_data, "poison", -1 };
    char *id = NULL;
    wp_status status = wp_store_push (store, "p", &entry, &id, NULL);
    CHECK (status != WP_OK);
    CHECK (!id);
    s_check_image_error (store);
    wp_reap_t reap;
    CHECK_OK (store, wp_store_reap (store, &reap));
    CHECK_INT (reap.leases_expired, 1);
    CHECK_INT (reap.requeued, 1);
    item = filetest_get (store, "l", "lapse");
    CHECK_INT (item->status, WP_ITEM_PENDING);
    CHECK_INT (item->attempts, 1);
    wp_item_destroy (&item);
    s_absent (store, "p", "poison");
    CHECK_INT (s_size (store, "p"), 2);
    wp_stats_t *stats = NULL;
    CHECK_OK (store, wp_store_stats (store, &stats));
    CHECK_INT (stats->pool_count, 2);
    CHECK_STR (stats->pools [1].pool, "p");
    CHECK_INT (stats->pools [1].pending, 2);
    wp_stats_destroy (&stats);

    //  In a group the push itself succeeds (nothing is written before
    //  commit); the commit fails and takes 'a' with it
    CHECK_OK (store, wp_store_begin (store));
    s_push (store, "p", "a");
    CHECK_OK (store, wp_store_push (store, "p", &entry, &id, NULL));
    CHECK_STR (id, "poison");
    free (id);
    id = NULL;
    CHECK_INT (s_size (store, "p"), 4);
    status = wp_store_commit (store);
    CHECK (status != WP_OK);
    s_check_image_error (store);
    s_absent (store, "p", "a");
    s_absent (store, "p", "poison");
    CHECK_INT (s_size (store, "p"), 2);
    //  The group is over: there is nothing left to commit
    CHECK_RC (store, wp_store_commit (store), WP_FAILED_PRECONDITION);

    //  The next group commits as usual
    CHECK_OK (store, wp_store_begin (store));
    s_push (store, "p", "b");
    CHECK_OK (store, wp_store_commit (store));

    //  An update the file refuses: completing 'sticky' fails, and the claim
    //  and the worker's current task are as they were before the call
    item = filetest_claim (store, "p", "w", 30);
    CHECK_STR (item->id, "first");
    wp_item_destroy (&item);
    item = filetest_claim (store, "p", "w", 30);
    CHECK_STR (item->id, "sticky");
    int64_t lease_expires_at = item->lease_expires_at;
    wp_item_destroy (&item);
    clock.now += SECOND;
    status = wp_store_complete (store, "p", "sticky", s_data, sizeof s_data, "w");
    CHECK (status != WP_OK);
    s_check_image_error (store);
    item = filetest_get (store, "p", "sticky");
    CHECK_INT (item->status, WP_ITEM_CLAIMED);
    CHECK_STR (item->claimed_by, "w");
    CHECK_INT (item->lease_expires_at, lease_expires_at);
    CHECK (!item->result);
    wp_item_destroy (&item);
    wp_worker_t *worker = s_get_worker (store, "w");
    CHECK_STR (worker->current_task_id, "sticky");
    wp_worker_destroy (&worker);
    //  Failing it instead is no status 2: the file takes that
    wp_item_state state = WP_ITEM_DONE;
    CHECK_OK (store, wp_store_fail (store, "p", "sticky", "nope", "w", 0, &state));
    CHECK_INT (state, WP_ITEM_PENDING);
    CHECK_OK (store, wp_store_complete (store, "p", "first", NULL, 0, "w"));
    wp_store_destroy (&store);

    //  The file holds exactly what was acknowledged
    store = s_open (path, &clock);
    item = filetest_get (store, "p", "b");
    CHECK_INT (item->status, WP_ITEM_PENDING);
    wp_item_destroy (&item);
    s_absent (store, "p", "a");
    s_absent (store, "p", "poison");
    item = filetest_get (store, "p", "sticky");
    CHECK_INT (item->status, WP_ITEM_PENDING);
    CHECK_INT (item->attempts, 1);
    CHECK_STR (item->error, "nope");
    CHECK (!item->claimed_by);
    wp_item_destroy (&item);
    item = filetest_get (store, "p", "first");
    CHECK_INT (item->status, WP_ITEM_DONE);
    wp_item_destroy (&item);
    item = filetest_get (store, "l", "lapse");
    CHECK_INT (item->attempts, 1);
    CHECK_STR (item->error, "lease expired");
    wp_item_destroy (&item);
    worker = s_get_worker (store, "w");
    CHECK (!worker->current_task_id);
    wp_worker_destroy (&worker);
    CHECK_INT (s_size (store, "p"), 2);
    wp_store_destroy (&store);
    CHECK_INT (s_raw_query_int (path, "SELECT count(*) FROM items"), 4);
}

//  A solo call that fails on a state its own expiry made, and whose commit
//  then fails too: the caller hears of the commit, status and words alike,
//  not of a state the file never held.
static void
s_failed_call_failed_commit (const char *dir)
{
    char path [128];
    snprintf (path, sizeof path, "%s/both.db", dir);
    wp_test_clock_t clock = { INT64_C (1700000000) * SECOND };
    wp_store_t *store = s_open (path, &clock);
    s_push (store, "p", "a");
    wp_item_t *item = filetest_claim (store, "p", "w", 1);
    wp_item_destroy (&item);
    wp_store_destroy (&store);
    //  The file refuses to let 'a' leave its claim
    s_raw_exec (path,
        "CREATE TRIGGER keep BEFORE UPDATE ON items WHEN OLD.id = 'a' AND NEW.status != 1 "
        "BEGIN SELECT RAISE (ABORT, 'injected'); END;");
    store = s_open (path, &clock);
    clock.now += 2 * SECOND;
    //  The lease lapsed: the call requeues 'a' on its way, so 'a' is not
    //  claimed; the commit of that requeue fails and takes it back
    wp_status status = wp_store_complete (store, "p", "a", NULL, 0, "w");
    CHECK (status != WP_OK);
    CHECK (status != WP_FAILED_PRECONDITION);
    s_check_image_error (store);
    //  An unknown id likewise: the words go with the status
    status = wp_store_complete (store, "p", "nope", NULL, 0, "w");
    CHECK (status != WP_OK);
    CHECK (status != WP_NOT_FOUND);
    s_check_image_error (store);
    wp_store_destroy (&store);
}

//  Waits for a byte on fd, then tries to open path: exits 0 if refused
//  with WP_UNAVAILABLE, 1 if it opened, 2 on any other outcome.
static void
s_second_process (const char *path, int fd)
{
    char go;
    if (read (fd, &go, 1) != 1)
        _exit (2);
    wp_store_config_t cfg = { .busy_timeout_ms = 100 };
    wp_status status = WP_OK;
    char *message = NULL;
    wp_store_t *store = wp_store_image_new (path, &cfg, &status, &message);
    if (store)
        _exit (1);
    _exit (status == WP_UNAVAILABLE && message && strstr (message, "another process") ? 0 : 2);
}

//  One owner per file: a second opener, in this process or in another, is
//  refused with WP_UNAVAILABLE, and the first goes on as if nothing happened.
static void
s_one_owner (const char *dir)
{
    char path [128];
    snprintf (path, sizeof path, "%s/owned.db", dir);
    //  The other process forks before this one opens anything, so that its
    //  SQLite knows nothing of this process's locks: the kernel's must stop it
    int fds [2];
    CHECK (pipe (fds) == 0);
    pid_t pid = fork ();
    CHECK (pid >= 0);
    if (pid == 0) {
        close (fds [1]);
        s_second_process (path, fds [0]);
    }
    close (fds [0]);

    wp_store_t *store = s_open (path, NULL);
    s_push (store, "p", "a");
    wp_store_config_t cfg = { .busy_timeout_ms = 100 };
    filetest_expect_refused (wp_store_image_new, path, &cfg, WP_UNAVAILABLE, "another process");
    filetest_expect_refused (wp_store_image_new, path, &cfg, WP_UNAVAILABLE, "another process");
    //  The SQLite store cannot even read the header of a file an image
    //  store holds, and says so in SQLite's words
    filetest_expect_refused (wp_store_sqlite_new, path, &cfg, WP_UNAVAILABLE, "database is locked");
    //  The refused opener closed its connection: the lock must still hold
    CHECK (write (fds [1], "g", 1) == 1);
    close (fds [1]);
    int wstatus;
    CHECK (waitpid (pid, &wstatus, 0) == pid);
    CHECK (WIFEXITED (wstatus));
    CHECK_INT (WEXITSTATUS (wstatus), 0);

    //  The owner goes on
    s_push (store, "p", "b");
    wp_item_t *item = filetest_claim (store, "p", "w", 0);
    CHECK_STR (item->id, "a");
    wp_item_destroy (&item);
    CHECK_OK (store, wp_store_complete (store, "p", "a", NULL, 0, "w"));
    wp_store_destroy (&store);

    //  Closed, the file opens again, with everything the owner committed
    store = s_open (path, NULL);
    item = filetest_get (store, "p", "a");
    CHECK_INT (item->status, WP_ITEM_DONE);
    wp_item_destroy (&item);
    CHECK_INT (s_size (store, "p"), 1);
    wp_store_destroy (&store);
    CHECK_INT (filetest_entries (dir), 1);
}

//  The other opener of s_racing_creators: a connection that waits (up to
//  2 s) for the file to appear, without creating it, then takes its lock as
//  the image store does.
typedef struct {
    const char *path;
    sqlite3 *db;                //  out: the connection, closed by the test
    bool locked;                //  out: it took the lock
} s_racer_t;

static void *
s_racer (void *arg)
{
    s_racer_t *racer = arg;
    struct timespec start, now;
    clock_gettime (CLOCK_MONOTONIC, &start);
    while (sqlite3_open_v2 (racer->path, &racer->db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        sqlite3_close (racer->db);
        racer->db = NULL;
        clock_gettime (CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > 2)
            return NULL;
    }
    racer->locked = sqlite3_exec (racer->db, "PRAGMA locking_mode = EXCLUSIVE; BEGIN IMMEDIATE",
                                  NULL, NULL, NULL) == SQLITE_OK;
    if (!racer->locked) {
        //  Refused, as a refused store does: close, and so drop the shared
        //  lock that EXCLUSIVE mode keeps even after a failed BEGIN
        sqlite3_close (racer->db);
        racer->db = NULL;
    }
    return NULL;
}

//  Two openers of a new path at once: the image store creates the file, and
//  another connection may lock it first. The store is then refused, and
//  must leave the file to the one that holds it, though it made it.
static void
s_racing_creators (const char *dir)
{
    wp_store_config_t cfg = { .busy_timeout_ms = 20 };
    int refused = 0;
    for (int round = 0; round < 300 && refused < 5; round++) {
        char path [128];
        snprintf (path, sizeof path, "%s/race-%d.db", dir, round);
        s_racer_t racer = { path, NULL, false };
        pthread_t thread;
        CHECK (pthread_create (&thread, NULL, s_racer, &racer) == 0);
        wp_status status = WP_OK;
        char *message = NULL;
        wp_store_t *store = wp_store_image_new (path, &cfg, &status, &message);
        CHECK (pthread_join (thread, NULL) == 0);
        if (store) {
            CHECK (!racer.locked);
            wp_store_destroy (&store);
        }
        else {
            CHECK_INT (status, WP_UNAVAILABLE);
            CHECK (racer.locked);
            //  The holder's file is still there
            CHECK (access (path, F_OK) == 0);
            refused++;
        }
        free (message);
        sqlite3_close (racer.db);
    }
    if (refused == 0)
        printf ("# racing_creators: the other opener never won the race\n");
}

//  Files that are not an image are refused, and left as they were.
static void
s_foreign_files_are_refused (const char *dir)
{
    char path [128];
    char spec [160];
    //  A SQLite store's file: the message says how to open it
    snprintf (path, sizeof path, "%s/store.db", dir);
    wp_status status = WP_OK;
    char *message = NULL;
    wp_store_t *store = wp_store_sqlite_new (path, NULL, &status, &message);
    CHECK (store);
    s_push (store, "p", "kept");
    wp_store_destroy (&store);
    snprintf (spec, sizeof spec, "sqlite:%s", path);
    filetest_expect_refused (wp_store_image_new, path, NULL, WP_FAILED_PRECONDITION, spec);
    store = wp_store_sqlite_new (path, NULL, &status, &message);
    CHECK (store);
    wp_item_t *item = filetest_get (store, "p", "kept");
    wp_item_destroy (&item);
    wp_store_destroy (&store);
    //  The backend string says the same
    snprintf (spec, sizeof spec, "image:%s", path);
    CHECK (!wp_store_open (spec, NULL, &status, &message));
    CHECK_INT (status, WP_FAILED_PRECONDITION);
    CHECK (message && strstr (message, "sqlite:"));
    free (message);

    //  Another application's database, with its own id or none
    snprintf (path, sizeof path, "%s/other.db", dir);
    s_raw_exec (path, "PRAGMA application_id = 42; CREATE TABLE items (id TEXT);"
                      "INSERT INTO items VALUES ('mine');");
    filetest_expect_refused_untouched (wp_store_image_new, dir, path, WP_FAILED_PRECONDITION, "application_id 42");
    snprintf (path, sizeof path, "%s/other-noid.db", dir);
    s_raw_exec (path, "CREATE TABLE t (x); INSERT INTO t VALUES (1);");
    filetest_expect_refused_untouched (wp_store_image_new, dir, path, WP_FAILED_PRECONDITION, "another application");
    CHECK_INT (s_raw_query_int (path, "SELECT x FROM t"), 1);

    //  Not SQLite at all
    snprintf (path, sizeof path, "%s/notes.txt", dir);
    FILE *file = fopen (path, "w");
    CHECK (file);
    for (int i = 0; i < 200; i++)
        fprintf (file, "line %d: this is not a database\n", i);
    fclose (file);
    filetest_expect_refused_untouched (wp_store_image_new, dir, path, WP_FAILED_PRECONDITION, "not a workpool store");

    //  An image from a newer workpool, refused untouched; as it was, it opens
    snprintf (path, sizeof path, "%s/future.db", dir);
    store = s_open (path, NULL);
    s_push (store, "p", "a");
    wp_store_destroy (&store);
    s_raw_exec (path, "PRAGMA user_version = 4");
    filetest_expect_refused_untouched (wp_store_image_new, dir, path, WP_FAILED_PRECONDITION, "version 4");
    s_raw_exec (path, "PRAGMA user_version = 3");
    store = s_open (path, NULL);
    item = filetest_get (store, "p", "a");
    wp_item_destroy (&item);
    wp_store_destroy (&store);
}

//  The tables of an image of version 1 and 2, as those versions created
//  them (version 2 added pools)
#define S_V1_SCHEMA \
    "CREATE TABLE items (" \
    "    seq INTEGER PRIMARY KEY, pool TEXT NOT NULL, id TEXT NOT NULL," \
    "    data BLOB NOT NULL, status INTEGER NOT NULL, claimed_by TEXT," \
    "    claimed_at INTEGER NOT NULL, lease_us INTEGER NOT NULL," \
    "    lease_expires_at INTEGER NOT NULL, attempts INTEGER NOT NULL," \
    "    max_retries INTEGER NOT NULL, result BLOB, error TEXT," \
    "    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);" \
    "CREATE TABLE workers (" \
    "    worker_id TEXT PRIMARY KEY, host TEXT, pid INTEGER NOT NULL," \
    "    capabilities BLOB NOT NULL, pool_id TEXT, started_at INTEGER NOT NULL," \
    "    status TEXT NOT NULL, last_heartbeat INTEGER NOT NULL, current_task_id TEXT," \
    "    heartbeat_interval REAL NOT NULL, metadata BLOB);" \
    "INSERT INTO items VALUES (1, 'p', 'a', x'a178', 0, NULL, 0, 0, 0, 0, 3, NULL, NULL," \
    "    1000, 1000);" \
    "INSERT INTO items VALUES (2, 'p', 'b', x'a178', 3, 'w', 0, 0, 0, 3, 3, NULL, 'boom'," \
    "    1000, 2000);" \
    "INSERT INTO items VALUES (3, 'p', 'c', x'a178', 0, NULL, 0, 0, 0, 0, 3, NULL, NULL," \
    "    1000, 1000);"
#define S_V2_POOLS "CREATE TABLE pools (name TEXT PRIMARY KEY, paused INTEGER NOT NULL);"

//  An image of version 1 or 2, made by that version's statements, is
//  brought to version 3 at open: its items keep every field (and get
//  priority 0, no run_at, no key), a version 2 pause is kept, and the new
//  fields, policies and schedules are stored from then on.
static void
s_old_versions_migrate (const char *dir)
{
    for (int version = 1; version <= 2; version++) {
        char path [160];
        snprintf (path, sizeof path, "%s/v%d.db", dir, version);
        char sql [2048];
        snprintf (sql, sizeof sql, "PRAGMA application_id = %d; PRAGMA user_version = %d; %s%s",
                  S_APPLICATION_ID, version, S_V1_SCHEMA,
                  version == 2 ? S_V2_POOLS "INSERT INTO pools VALUES ('q', 1);" : "");
        s_raw_exec (path, sql);
        wp_store_t *store = s_open (path, NULL);
        wp_item_t *item = filetest_get (store, "p", "b");
        CHECK (item->status == WP_ITEM_POISONED && item->attempts == 3);
        CHECK_STR (item->error, "boom");
        CHECK (item->priority == 0 && item->run_at == 0 && item->unique_key == NULL);
        wp_item_destroy (&item);
        CHECK_INT (s_size (store, "p"), 2);
        wp_stats_t *stats = NULL;
        CHECK_OK (store, wp_store_stats (store, &stats));
        CHECK_INT (stats->pool_count, version == 2 ? 2 : 1);
        if (version == 2)
            CHECK (stats->pools [1].paused);
        wp_stats_destroy (&stats);
        //  The new fields are stored from now on
        wp_push_entry_t entry = { s_data, sizeof s_data, "k", -1, .priority = -5,
                                  .unique_key = "key", .delay = 60 };
        char *id = NULL;
        CHECK_OK (store, wp_store_push (store, "p", &entry, &id, NULL));
        free (id);
        wp_backoff_t policy = { 2, 10, 0 };
        CHECK_OK (store, wp_store_set_backoff (store, "p", &policy));
        wp_schedule_t *schedule = wp_schedule_new ();
        schedule->name = wp_strdup ("s");
        schedule->pool = wp_strdup ("p");
        schedule->cron = wp_strdup ("*/5 * * * *");
        schedule->data = malloc (sizeof s_data);
        memcpy (schedule->data, s_data, sizeof s_data);
        schedule->data_size = sizeof s_data;
        CHECK_OK (store, wp_store_schedule_put (store, schedule, NULL));
        wp_schedule_destroy (&schedule);
        wp_store_destroy (&store);

        sqlite3 *db = filetest_raw_open (path);
        CHECK_INT (filetest_query_int (db, "PRAGMA user_version"), 3);
        CHECK_INT (filetest_query_int (db, "SELECT count(*) FROM items"), 4);
        sqlite3_close (db);
        store = s_open (path, NULL);
        item = filetest_get (store, "p", "k");
        CHECK (item->status == WP_ITEM_SCHEDULED && item->priority == -5 && item->run_at > 0);
        CHECK_STR (item->unique_key, "key");
        wp_item_destroy (&item);
        item = filetest_get (store, "p", "a");
        CHECK (item->status == WP_ITEM_PENDING && item->created_at == 1000);
        wp_item_destroy (&item);
        CHECK_OK (store, wp_store_stats (store, &stats));
        CHECK (stats->pools [0].backoff.base == 2 && stats->pools [0].backoff.cap == 10);
        CHECK_INT (stats->pools [0].scheduled, 1);
        wp_stats_destroy (&stats);
        wp_schedule_list_t *list = NULL;
        CHECK_OK (store, wp_store_schedule_list (store, &list));
        CHECK_INT (list->count, 1);
        CHECK_STR (list->schedules [0]->cron, "*/5 * * * *");
        wp_schedule_list_destroy (&list);
        wp_store_destroy (&store);
    }
}

//  Paths that cannot be an image fail with a status that says why, and
//  leave nothing behind.
static void
s_bad_paths (const char *dir)
{
    char path [160];
    snprintf (path, sizeof path, "%s/missing/image.db", dir);
    filetest_expect_refused (wp_store_image_new, path, NULL, WP_NOT_FOUND, "no directory");
    snprintf (path, sizeof path, "%s/missing", dir);
    CHECK (access (path, F_OK) != 0 && errno == ENOENT);
    snprintf (path, sizeof path, "%s/sub", dir);
    CHECK (mkdir (path, 0700) == 0);
    filetest_expect_refused (wp_store_image_new, path, NULL, WP_FAILED_PRECONDITION, "is a directory");
    CHECK_INT (filetest_entries (path), 0);
    filetest_expect_refused (wp_store_image_new, "", NULL, WP_INVALID_ARGUMENT, "path");
    CHECK (!wp_store_image_new (NULL, NULL, NULL, NULL));
    CHECK_INT (filetest_entries (dir), 1);
}

//  Makes an image at path with an item in every state and a worker with
//  capabilities and metadata.
static void
s_make_image (const char *path)
{
    wp_store_t *store = s_open (path, NULL);
    wp_worker_t *spec = wp_worker_new ();
    spec->worker_id = wp_strdup ("w");
    wp_worker_add_capability (spec, "gpu");
    wp_meta_set (&spec->metadata, "k", (const uint8_t *) "\x01", 1);
    CHECK_OK (store, wp_store_register (store, spec, NULL));
    wp_worker_destroy (&spec);
    s_push (store, "p", "a");
    s_push (store, "p", "b");
    s_push (store, "p", "c");
    s_push (store, "p", "d");
    wp_item_t *item = filetest_claim (store, "p", "w", 0);
    wp_item_destroy (&item);
    item = filetest_claim (store, "p", "w", 0);
    wp_item_destroy (&item);
    item = filetest_claim (store, "p", "w", 0);
    wp_item_destroy (&item);
    CHECK_OK (store, wp_store_complete (store, "p", "b", s_data, sizeof s_data, "w"));
    wp_push_entry_t entry = { s_data, sizeof s_data, "e", 0 };
    char *id = NULL;
    CHECK_OK (store, wp_store_push (store, "p", &entry, &id, NULL));
    free (id);
    wp_store_destroy (&store);
}

//  A row that does not decode fails the open with WP_DATA_LOSS and leaves
//  the file as it was; repaired, it opens.
static void
s_damaged_rows (const char *dir)
{
    static const struct {
        const char *damage;
        const char *repair;
    } cases [] = {
        { "UPDATE items SET status = 9 WHERE id = 'd'",
          "UPDATE items SET status = 0 WHERE id = 'd'" },
        { "UPDATE items SET status = -1 WHERE id = 'd'",
          "UPDATE items SET status = 0 WHERE id = 'd'" },
        //  Claimed, but by nobody
        { "UPDATE items SET claimed_by = NULL WHERE id = 'a'",
          "UPDATE items SET claimed_by = 'w' WHERE id = 'a'" },
        { "UPDATE items SET id = '' WHERE id = 'd'",
          "UPDATE items SET id = 'd' WHERE id = ''" },
        { "UPDATE items SET pool = '' WHERE id = 'd'",
          "UPDATE items SET pool = 'p' WHERE id = 'd'" },
        { "UPDATE items SET data = x'' WHERE id = 'd'",
          "UPDATE items SET data = x'a178' WHERE id = 'd'" },
        { "UPDATE items SET attempts = -1 WHERE id = 'd'",
          "UPDATE items SET attempts = 0 WHERE id = 'd'" },
        { "UPDATE items SET max_retries = 4294967296 WHERE id = 'd'",
          "UPDATE items SET max_retries = 3 WHERE id = 'd'" },
        //  An id twice in one pool; a push order before the first push
        { "INSERT INTO items SELECT seq + 1000, pool, id, data, status, claimed_by, claimed_at, "
          "lease_us, lease_expires_at, attempts, max_retries, result, error, created_at, "
          "updated_at, priority, run_at, unique_key FROM items WHERE id = 'd'",
          "DELETE FROM items WHERE seq >= 1000" },
        //  The scheduling fields: a priority out of range, a bad key, a
        //  scheduled item with no due time, a bad retry policy, a bad schedule
        { "UPDATE items SET priority = 2147483648 WHERE id = 'd'",
          "UPDATE items SET priority = 0 WHERE id = 'd'" },
        { "UPDATE items SET unique_key = '' WHERE id = 'd'",
          "UPDATE items SET unique_key = NULL WHERE id = 'd'" },
        { "UPDATE items SET status = 4, run_at = 0 WHERE id = 'd'",
          "UPDATE items SET status = 0 WHERE id = 'd'" },
        { "INSERT INTO pools VALUES ('bad', 0, 5, 1, 0)",
          "DELETE FROM pools WHERE name = 'bad'" },
        { "INSERT INTO schedules VALUES ('s', 'p', '* * * * *', x'a178', 0, -2, 0, 0, 0)",
          "DELETE FROM schedules" },
        { "UPDATE items SET seq = -7 WHERE id = 'd'",
          "UPDATE items SET seq = 900 WHERE id = 'd'" },
        //  Capabilities are "\0gpu\0"; metadata one msgpack map
        { "UPDATE workers SET capabilities = x'67707500'",
          "UPDATE workers SET capabilities = x'0067707500'" },
        { "UPDATE workers SET metadata = x'c1'",
          "UPDATE workers SET metadata = x'81a16b01'" },
        { "UPDATE workers SET worker_id = ''",
          "UPDATE workers SET worker_id = 'w'" },
        { "INSERT INTO pools VALUES ('', 1, 0, 0, 0)",
          "DELETE FROM pools WHERE name = ''" },
    };
    char path [128];
    snprintf (path, sizeof path, "%s/damaged.db", dir);
    s_make_image (path);
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        s_raw_exec (path, cases [i].damage);
        filetest_expect_refused_untouched (wp_store_image_new, dir, path, WP_DATA_LOSS, "damaged");
        s_raw_exec (path, cases [i].repair);
        wp_store_t *store = s_open (path, NULL);
        wp_item_t *item = filetest_get (store, "p", "a");
        CHECK_INT (item->status, WP_ITEM_CLAIMED);
        CHECK_STR (item->claimed_by, "w");
        wp_item_destroy (&item);
        item = filetest_get (store, "p", "d");
        CHECK_INT (item->status, WP_ITEM_PENDING);
        CHECK (item->data_size == sizeof s_data && memcmp (item->data, s_data, 2) == 0);
        CHECK_INT (item->attempts, 0);
        CHECK_INT (item->max_retries, 3);
        wp_item_destroy (&item);
        wp_worker_t *worker = s_get_worker (store, "w");
        CHECK_INT (worker->capability_count, 1);
        CHECK_STR (worker->capabilities [0], "gpu");
        CHECK_INT (worker->metadata.count, 1);
        wp_worker_destroy (&worker);
        wp_store_destroy (&store);
    }
}

//  Everything a commit acknowledged is there after a restart, and works
//  on from there: claims (their leases, their claimants, the worker's
//  current task), attempts and errors, results, workers and their
//  metadata, push order. Purged items are gone from the file itself.
static void
s_restart_keeps_everything (const char *dir)
{
    char path [128];
    snprintf (path, sizeof path, "%s/restart.db", dir);
    wp_test_clock_t clock = { INT64_C (1700000000) * SECOND };
    int64_t t0 = clock.now;
    wp_store_t *store = s_open (path, &clock);

    wp_worker_t *spec = wp_worker_new ();
    spec->worker_id = wp_strdup ("w");
    spec->host = wp_strdup ("host-1");
    spec->pid = 4242;
    wp_worker_add_capability (spec, "gpu");
    wp_worker_add_capability (spec, "big");
    spec->pool_id = wp_strdup ("p");
    spec->heartbeat_interval = 5;
    wp_meta_set (&spec->metadata, "k", (const uint8_t *) "\x01", 1);
    CHECK_OK (store, wp_store_register (store, spec, NULL));
    wp_worker_destroy (&spec);

    for (int i = 0; i < 6; i++) {
        char id [8];
        snprintf (id, sizeof id, "i%d", i);
        s_push (store, "p", id);
        clock.now += 1000;
    }
    //  One item in another pool, pushed without an id
    wp_push_entry_t entry = { s_data, sizeof s_data, NULL, 1 };
    char *other = NULL;
    CHECK_OK (store, wp_store_push (store, "q", &entry, &other, NULL));

    //  i0 done; i1 failed once, then claimed by v; i2 claimed by w with a
    //  60 s lease; x (its own pool) poisoned after two failures
    wp_item_t *item = filetest_claim (store, "p", "w", 0);
    CHECK_STR (item->id, "i0");
    wp_item_destroy (&item);
    static const uint8_t result [] = { 0x92, 0x01, 0x00, 0x02 };
    CHECK_OK (store, wp_store_complete (store, "p", "i0", result, sizeof result, "w"));
    item = filetest_claim (store, "p", "w", 0);
    CHECK_STR (item->id, "i1");
    wp_item_destroy (&item);
    wp_item_state state;
    CHECK_OK (store, wp_store_fail (store, "p", "i1", "boom", "w", 0, &state));
    CHECK_INT (state, WP_ITEM_PENDING);
    entry = (wp_push_entry_t) { s_data, sizeof s_data, "x", 2 };
    char *id = NULL;
    CHECK_OK (store, wp_store_begin (store));
    CHECK_OK (store, wp_store_push (store, "x", &entry, &id, NULL));
    free (id);
    CHECK_OK (store, wp_store_commit (store));
    for (int i = 0; i < 2; i++) {
        item = filetest_claim (store, "x", "v", 0);
        wp_item_destroy (&item);
        //  The last error is "", which is not NULL
        CHECK_OK (store, wp_store_fail (store, "x", "x", i ? "" : "first", "v", 0, &state));
        CHECK_INT (state, i ? WP_ITEM_POISONED : WP_ITEM_PENDING);
    }
    //  i1 went back to its place, before i2
    item = filetest_claim (store, "p", "v", 0);
    CHECK_STR (item->id, "i1");
    wp_item_destroy (&item);
    item = filetest_claim (store, "p", "w", 60);
    CHECK_STR (item->id, "i2");
    int64_t claimed_at = item->claimed_at;
    wp_item_destroy (&item);

    wp_meta_t meta = { NULL, 0 };
    wp_meta_set (&meta, "load", (const uint8_t *) "\x05", 1);
    wp_meta_set (&meta, "k", (const uint8_t *) "\xa1y", 2);
    clock.now += SECOND;
    CHECK_OK (store, wp_store_heartbeat (store, "w", &meta));
    wp_meta_clear (&meta);
    int64_t heartbeat = clock.now;

    //  A group left open at destroy reaches nothing
    CHECK_OK (store, wp_store_begin (store));
    s_push (store, "p", "uncommitted");
    CHECK_OK (store, wp_store_complete (store, "p", "i2", NULL, 0, "w"));
    wp_store_destroy (&store);

    store = s_open (path, &clock);
    s_absent (store, "p", "uncommitted");
    item = filetest_get (store, "p", "i0");
    CHECK_INT (item->status, WP_ITEM_DONE);
    CHECK_STR (item->claimed_by, "w");
    CHECK (item->result_size == sizeof result && memcmp (item->result, result, sizeof result) == 0);
    CHECK_INT (item->lease_expires_at, 0);
    CHECK_INT (item->created_at, t0);
    wp_item_destroy (&item);
    item = filetest_get (store, "p", "i1");
    CHECK_INT (item->status, WP_ITEM_CLAIMED);
    CHECK_STR (item->claimed_by, "v");
    CHECK_INT (item->attempts, 1);
    CHECK_STR (item->error, "boom");
    CHECK_INT (item->max_retries, 3);
    CHECK_INT (item->created_at, t0 + 1000);
    wp_item_destroy (&item);
    item = filetest_get (store, "p", "i2");
    CHECK_INT (item->status, WP_ITEM_CLAIMED);
    CHECK_STR (item->claimed_by, "w");
    CHECK_INT (item->claimed_at, claimed_at);
    //  The heartbeat renewed the lease by its length, 60 s
    CHECK_INT (item->lease_expires_at, heartbeat + 60 * SECOND);
    wp_item_destroy (&item);
    item = filetest_get (store, "x", "x");
    CHECK_INT (item->status, WP_ITEM_POISONED);
    CHECK_INT (item->attempts, 2);
    CHECK_INT (item->max_retries, 2);
    CHECK_STR (item->error, "");            //  not NULL
    CHECK_STR (item->claimed_by, "v");
    wp_item_destroy (&item);
    item = filetest_get (store, "q", other);
    CHECK_INT (item->status, WP_ITEM_PENDING);
    CHECK_INT (item->max_retries, 1);
    CHECK (!item->claimed_by && !item->error && !item->result);
    wp_item_destroy (&item);
    wp_worker_t *worker = s_get_worker (store, "w");
    CHECK_STR (worker->host, "host-1");
    CHECK_INT (worker->pid, 4242);
    CHECK_INT (worker->capability_count, 2);
    CHECK_STR (worker->capabilities [0], "gpu");
    CHECK_STR (worker->capabilities [1], "big");
    CHECK_STR (worker->pool_id, "p");
    CHECK_INT (worker->started_at, t0);
    CHECK_STR (worker->status, "active");
    CHECK_INT (worker->last_heartbeat, heartbeat);
    CHECK_STR (worker->current_task_id, "i2");
    CHECK (worker->heartbeat_interval == 5);
    CHECK_INT (worker->metadata.count, 2);
    const wp_meta_entry_t *value = wp_meta_get (&worker->metadata, "k");
    CHECK (value && value->value_size == 2 && memcmp (value->value, "\xa1y", 2) == 0);
    value = wp_meta_get (&worker->metadata, "load");
    CHECK (value && value->value_size == 1 && value->value [0] == 5);
    wp_worker_destroy (&worker);

    //  The loaded claims are indexed: by claimant, by lease, by staleness
    uint64_t count = 0;
    CHECK_OK (store, wp_store_release_by_worker (store, "p", "v", &count));
    CHECK_INT (count, 1);
    //  Pending order survives, and new pushes go after the old ones
    s_push (store, "p", "new");
    item = filetest_claim (store, "p", "v", 2);
    CHECK_STR (item->id, "i1");
    wp_item_destroy (&item);
    item = filetest_claim (store, "p", "v", 2);
    CHECK_STR (item->id, "i3");
    wp_item_destroy (&item);
    wp_store_destroy (&store);

    //  v's 2 s leases lapse while the store is closed; w goes quiet for
    //  more than twice its interval and is declared lost
    clock.now += 11 * SECOND;
    store = s_open (path, &clock);
    wp_reap_t reap;
    CHECK_OK (store, wp_store_reap (store, &reap));
    CHECK_INT (reap.leases_expired, 2);
    CHECK_INT (reap.workers_lost, 1);
    CHECK_INT (reap.requeued, 3);
    worker = s_get_worker (store, "w");
    CHECK_STR (worker->status, "lost");
    CHECK (!worker->current_task_id);
    wp_worker_destroy (&worker);
    item = filetest_get (store, "p", "i2");
    CHECK_INT (item->status, WP_ITEM_PENDING);
    CHECK_STR (item->error, "worker lost");
    CHECK_INT (item->attempts, 1);
    wp_item_destroy (&item);
    item = filetest_get (store, "p", "i3");
    CHECK_STR (item->error, "lease expired");
    wp_item_destroy (&item);
    CHECK_RC (store, wp_store_heartbeat (store, "w", NULL), WP_FAILED_PRECONDITION);
    wp_store_destroy (&store);

    //  Which the file holds as well; then purge the finished items
    store = s_open (path, &clock);
    CHECK_INT (s_size (store, "p"), 6);
    worker = s_get_worker (store, "w");
    CHECK_STR (worker->status, "lost");
    wp_worker_destroy (&worker);
    CHECK_OK (store, wp_store_purge (store, 1, &count));
    CHECK_INT (count, 2);                   //  i0 and x
    s_absent (store, "p", "i0");
    s_absent (store, "x", "x");
    wp_store_destroy (&store);
    CHECK_INT (s_raw_query_int (path, "SELECT count(*) FROM items"), 7);
    CHECK_INT (s_raw_query_int (path, "SELECT count(*) FROM items WHERE id IN ('i0', 'x')"), 0);

    store = s_open (path, &clock);
    s_absent (store, "p", "i0");
    s_absent (store, "x", "x");
    wp_stats_t *stats = NULL;
    CHECK_OK (store, wp_store_stats (store, &stats));
    CHECK_INT (stats->pool_count, 2);
    CHECK_STR (stats->pools [0].pool, "p");
    CHECK_INT (stats->pools [0].pending, 6);
    CHECK_INT (stats->pools [0].done + stats->pools [0].poisoned + stats->pools [0].claimed, 0);
    CHECK_STR (stats->pools [1].pool, "q");
    CHECK_INT (stats->pools [1].pending, 1);
    wp_stats_destroy (&stats);
    wp_store_destroy (&store);
    free (other);

    //  The file is an image: its id, its version, WAL
    sqlite3 *db = filetest_raw_open (path);
    CHECK_INT (filetest_query_int (db, "PRAGMA application_id"), S_APPLICATION_ID);
    CHECK_INT (filetest_query_int (db, "PRAGMA user_version"), 3);
    sqlite3_stmt *stmt;
    CHECK (sqlite3_prepare_v2 (db, "PRAGMA journal_mode", -1, &stmt, NULL) == SQLITE_OK);
    CHECK (sqlite3_step (stmt) == SQLITE_ROW);
    CHECK_STR ((const char *) sqlite3_column_text (stmt, 0), "wal");
    sqlite3_finalize (stmt);
    sqlite3_close (db);
}

//  Purge and push in one group. An item purged and pushed again under its
//  id is a new row in place of the old one; an item pushed and purged in
//  the same group never reaches the file. Rolled back, a purge undoes.
static void
s_group_purge_and_repush (const char *dir)
{
    char path [128];
    snprintf (path, sizeof path, "%s/repush.db", dir);
    wp_test_clock_t clock = { INT64_C (1700000000) * SECOND };
    wp_store_t *store = s_open (path, &clock);
    s_push (store, "p", "a");
    wp_item_t *item = filetest_claim (store, "p", "w", 0);
    wp_item_destroy (&item);
    CHECK_OK (store, wp_store_complete (store, "p", "a", s_data, sizeof s_data, "w"));
    clock.now += 10 * SECOND;

    static const uint8_t other [] = { 0xa1, 'y' };
    wp_push_entry_t entry = { other, sizeof other, "a", -1 };
    char *id = NULL;
    bool duplicate = true;
    uint64_t count = 0;
    CHECK_OK (store, wp_store_begin (store));
    CHECK_OK (store, wp_store_purge (store, 1, &count));
    CHECK_INT (count, 1);
    s_absent (store, "p", "a");
    CHECK_OK (store, wp_store_push (store, "p", &entry, &id, &duplicate));
    CHECK (!duplicate);
    free (id);
    wp_store_rollback (store);
    item = filetest_get (store, "p", "a");
    CHECK_INT (item->status, WP_ITEM_DONE);
    CHECK (item->data_size == sizeof s_data && memcmp (item->data, s_data, sizeof s_data) == 0);
    wp_item_destroy (&item);

    CHECK_OK (store, wp_store_begin (store));
    CHECK_OK (store, wp_store_purge (store, 1, &count));
    CHECK_INT (count, 1);
    //  The second 'a' lives and dies inside the group
    s_push (store, "p", "a");
    item = filetest_claim (store, "p", "w", 0);
    CHECK_STR (item->id, "a");
    wp_item_destroy (&item);
    CHECK_OK (store, wp_store_complete (store, "p", "a", s_data, sizeof s_data, "w"));
    clock.now += 1;
    CHECK_OK (store, wp_store_purge (store, 0, &count));
    CHECK_INT (count, 1);
    //  The third stays
    CHECK_OK (store, wp_store_push (store, "p", &entry, &id, &duplicate));
    CHECK (!duplicate);
    free (id);
    CHECK_OK (store, wp_store_commit (store));
    wp_store_destroy (&store);

    CHECK_INT (s_raw_query_int (path, "SELECT count(*) FROM items"), 1);
    store = s_open (path, &clock);
    item = filetest_get (store, "p", "a");
    CHECK_INT (item->status, WP_ITEM_PENDING);
    CHECK (item->data_size == sizeof other && memcmp (item->data, other, sizeof other) == 0);
    CHECK (!item->claimed_by && !item->result);
    CHECK_INT (item->created_at, clock.now);
    wp_item_destroy (&item);
    CHECK_INT (s_size (store, "p"), 1);
    wp_store_destroy (&store);
}

//  The lifecycle verbs reach the file: a retried item, a cancelled one, a
//  pause (of a pool with items and of one without) are there after a
//  restart; what a group undid back to a savepoint never reaches it
static void
s_lifecycle_is_durable (const char *dir)
{
    char path [128];
    snprintf (path, sizeof path, "%s/lifecycle.db", dir);
    wp_test_clock_t clock = { INT64_C (1700000000) * SECOND };
    wp_store_t *store = s_open (path, &clock);
    s_push (store, "p", "a");
    s_push (store, "p", "b");
    s_push (store, "p", "c");
    wp_item_t *item = filetest_claim (store, "p", "w", 0);
    CHECK_OK (store, wp_store_complete (store, "p", item->id, NULL, 0, "w"));
    wp_item_destroy (&item);
    CHECK_OK (store, wp_store_retry (store, "p", "a"));
    CHECK_OK (store, wp_store_cancel (store, "p", "b"));
    CHECK_OK (store, wp_store_set_paused (store, "p", true));
    CHECK_OK (store, wp_store_set_paused (store, "idle", true));

    CHECK_OK (store, wp_store_begin (store));
    s_push (store, "p", "d");
    CHECK_OK (store, memops_savepoint (store));
    s_push (store, "p", "e");
    CHECK_OK (store, wp_store_set_paused (store, "idle", false));
    CHECK_OK (store, wp_store_cancel (store, "p", "c"));
    memops_rollback_to (store);
    memops_release (store);
    CHECK_OK (store, wp_store_commit (store));
    wp_store_destroy (&store);

    CHECK_INT (s_raw_query_int (path, "SELECT count(*) FROM items"), 3);
    CHECK_INT (s_raw_query_int (path, "SELECT count(*) FROM pools"), 2);
    store = s_open (path, &clock);
    item = filetest_get (store, "p", "a");
    CHECK_INT (item->status, WP_ITEM_PENDING);
    CHECK_INT (item->attempts, 0);
    CHECK (!item->claimed_by);
    wp_item_destroy (&item);
    s_absent (store, "p", "b");
    s_absent (store, "p", "e");
    wp_item_destroy ((item = filetest_get (store, "p", "c"), &item));
    wp_item_destroy ((item = filetest_get (store, "p", "d"), &item));
    wp_stats_t *stats = NULL;
    CHECK_OK (store, wp_store_stats (store, &stats));
    CHECK_INT (stats->pool_count, 2);
    CHECK_STR (stats->pools [0].pool, "idle");
    CHECK (stats->pools [0].paused && stats->pools [0].pending == 0);
    CHECK_STR (stats->pools [1].pool, "p");
    CHECK (stats->pools [1].paused && stats->pools [1].pending == 3);
    wp_stats_destroy (&stats);
    item = NULL;
    CHECK_OK (store, wp_store_claim (store, "p", "w", 0, &item));
    CHECK (!item);                                  //  paused, still
    CHECK_OK (store, wp_store_set_paused (store, "p", false));
    CHECK_OK (store, wp_store_set_paused (store, "idle", false));
    wp_store_destroy (&store);

    CHECK_INT (s_raw_query_int (path, "SELECT count(*) FROM pools"), 0);
    store = s_open (path, &clock);
    item = filetest_claim (store, "p", "w", 0);
    CHECK_STR (item->id, "a");                      //  its push place
    wp_item_destroy (&item);
    CHECK_OK (store, wp_store_stats (store, &stats));
    CHECK_INT (stats->pool_count, 1);
    CHECK (!stats->pools [0].paused);
    wp_stats_destroy (&stats);
    wp_store_destroy (&store);
}

//  The pause survives a restart, as in the SQLite store (the shared case)
static void
s_paused_survives_reopen (const char *dir)
{
    char path [128];
    snprintf (path, sizeof path, "%s/paused.db", dir);
    filetest_paused_survives_reopen (wp_store_image_new, path);
}

//  ---------------------------------------------------------------------

static const filetest_case_t s_cases [] = {
    { "unwritable_commit_rolls_back", s_unwritable_commit_rolls_back },
    { "failed_call_failed_commit", s_failed_call_failed_commit },
    { "one_owner", s_one_owner },
    { "racing_creators", s_racing_creators },
    { "foreign_files_are_refused", s_foreign_files_are_refused },
    { "bad_paths", s_bad_paths },
    { "damaged_rows", s_damaged_rows },
    { "restart_keeps_everything", s_restart_keeps_everything },
    { "group_purge_and_repush", s_group_purge_and_repush },
    { "lifecycle_is_durable", s_lifecycle_is_durable },
    { "paused_survives_reopen", s_paused_survives_reopen },
    { "old_versions_migrate", s_old_versions_migrate },
};

int
main (int argc, char *argv [])
{
    return filetest_run (s_cases, sizeof s_cases / sizeof s_cases [0], argc > 1 ? argv [1] : NULL,
                         "wp-image-file");
}
