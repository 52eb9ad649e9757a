/*  wp_store_image: the image store. The state lives in a memory store,
    which answers every call; a SQLite file holds an image of it, one row per
    item, per worker, per pool paused or with a retry policy, and per
    schedule, rewritten at each commit for exactly the rows the group
    changed, before the commit returns. Opening the file loads the image
    back (store/SCHEMA.md: the tables, the version, the migrations).

    Why: the SQLite store keeps every index in the file (pending by seq,
    claims by worker, leases by expiry, finished by age, ids per pool) and
    pays for each in B-tree writes on every state change. Here those indexes
    are the memory store's heaps and maps; the file has its rowid only, so an
    item costs one row write per group that changes it. The price is memory:
    every item the store holds (done ones until purged) is in RAM.

    Durability is the SQLite store's: a commit returns only after SQLite's
    COMMIT (WAL, synchronous NORMAL or FULL), and a group whose image cannot
    be written is rolled back in memory too (wp_store_memory_int.h).
    A call outside a group runs in a group of its own.

    One process owns the file: it is opened with locking_mode EXCLUSIVE and
    locked at open, so a second opener fails rather than write behind the
    first one's memory. Not thread-safe: one thread at a time.  */
#include "wp_store_memory_int.h"
#include "wp_sqlite_file.h"
#include "wp_store_sqlite_sql.h"
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

//  Version 2 added the pools table; version 3 the items' priority, run_at
//  and unique_key, the pools' retry policies and the schedules table. An
//  older file is brought up to date at open, one version at a time.
#define S_SCHEMA_VERSION 3

//  See wp_store_sqlite_sql.h: checkpoint stalls are rarer with a long WAL.
#define S_CHECKPOINT_PAGES 16000

//  The file keeps SQLite's default page size, 4 KiB. Unlike the SQLite store's, 1 KiB
//  pages did not pay here: a group's rows sit on few pages, and each WAL
//  frame is two pwrite()s, so smaller pages meant twice the system calls
//  (measured: batch push 187k/s with 1 KiB pages, 251k/s with 4 KiB,
//  medians of 3; sync push within noise).

#define S_SCHEMA \
    "CREATE TABLE items (" \
    "    seq              INTEGER PRIMARY KEY," \
    "    pool             TEXT NOT NULL," \
    "    id               TEXT NOT NULL," \
    "    data             BLOB NOT NULL," \
    "    status           INTEGER NOT NULL," \
    "    claimed_by       TEXT," \
    "    claimed_at       INTEGER NOT NULL," \
    "    lease_us         INTEGER NOT NULL," \
    "    lease_expires_at INTEGER NOT NULL," \
    "    attempts         INTEGER NOT NULL," \
    "    max_retries      INTEGER NOT NULL," \
    "    result           BLOB," \
    "    error            TEXT," \
    "    created_at       INTEGER NOT NULL," \
    "    updated_at       INTEGER NOT NULL," \
    "    priority         INTEGER NOT NULL DEFAULT 0," \
    "    run_at           INTEGER NOT NULL DEFAULT 0," \
    "    unique_key       TEXT" \
    ");" \
    "CREATE TABLE workers (" \
    "    worker_id          TEXT PRIMARY KEY," \
    "    host               TEXT," \
    "    pid                INTEGER NOT NULL," \
    "    capabilities       BLOB NOT NULL," \
    "    pool_id            TEXT," \
    "    started_at         INTEGER NOT NULL," \
    "    status             TEXT NOT NULL," \
    "    last_heartbeat     INTEGER NOT NULL," \
    "    current_task_id    TEXT," \
    "    heartbeat_interval REAL NOT NULL," \
    "    metadata           BLOB" \
    ");" \
    S_POOLS_TABLE_V2 \
    S_POOLS_V3 \
    S_SCHEDULES_TABLE

//  Pools that are paused or have a retry policy, one row each: a pool with
//  neither loses its row. Version 2 had the name and the flag only.
#define S_POOLS_TABLE_V2 \
    "CREATE TABLE pools (" \
    "    name             TEXT PRIMARY KEY," \
    "    paused           INTEGER NOT NULL" \
    ");"
#define S_POOLS_V3 \
    "ALTER TABLE pools ADD COLUMN backoff_base REAL NOT NULL DEFAULT 0;" \
    "ALTER TABLE pools ADD COLUMN backoff_cap REAL NOT NULL DEFAULT 0;" \
    "ALTER TABLE pools ADD COLUMN backoff_jitter REAL NOT NULL DEFAULT 0;"

#define S_SCHEDULES_TABLE \
    "CREATE TABLE schedules (" \
    "    name             TEXT PRIMARY KEY," \
    "    pool             TEXT NOT NULL," \
    "    cron             TEXT NOT NULL," \
    "    data             BLOB NOT NULL," \
    "    priority         INTEGER NOT NULL," \
    "    max_retries      INTEGER NOT NULL," \
    "    next_at          INTEGER NOT NULL," \
    "    last_fired_at    INTEGER NOT NULL," \
    "    created_at       INTEGER NOT NULL" \
    ");"

//  From version 2 to 3
#define S_MIGRATE_V3 \
    "ALTER TABLE items ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;" \
    "ALTER TABLE items ADD COLUMN run_at INTEGER NOT NULL DEFAULT 0;" \
    "ALTER TABLE items ADD COLUMN unique_key TEXT;" \
    S_POOLS_V3 \
    S_SCHEDULES_TABLE

//  The item columns, in the order of the ?N the statements bind
#define S_ITEM_COLUMNS \
    "seq, pool, id, data, status, claimed_by, claimed_at, lease_us, lease_expires_at, " \
    "attempts, max_retries, result, error, created_at, updated_at, priority, run_at, unique_key"

#define S_POOL_COLUMNS "name, paused, backoff_base, backoff_cap, backoff_jitter"

#define S_SCHEDULE_COLUMNS \
    "name, pool, cron, data, priority, max_retries, next_at, last_fired_at, created_at"

#define S_WORKER_COLUMNS \
    "worker_id, host, pid, capabilities, pool_id, started_at, status, last_heartbeat, " \
    "current_task_id, heartbeat_interval, metadata"

typedef enum {
    S_BEGIN, S_COMMIT, S_ROLLBACK, S_ITEM_INSERT, S_ITEM_UPDATE, S_ITEM_DELETE, S_WORKER_SAVE,
    S_POOL_SAVE, S_POOL_DELETE, S_SCHEDULE_SAVE, S_SCHEDULE_DELETE, S_STMT_COUNT
} s_stmt_id;

static const char *const s_sql [S_STMT_COUNT] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_ITEM_INSERT] = "INSERT INTO items (" S_ITEM_COLUMNS ") VALUES "
                      "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, "
                      "?16, ?17, ?18)",
    //  An item's pool, id, data, max_retries, created_at, priority and
    //  unique_key never change
    [S_ITEM_UPDATE] = "UPDATE items SET status = ?5, claimed_by = ?6, claimed_at = ?7, "
                      "lease_us = ?8, lease_expires_at = ?9, attempts = ?10, result = ?12, "
                      "error = ?13, updated_at = ?15, run_at = ?17 WHERE seq = ?1",
    [S_ITEM_DELETE] = "DELETE FROM items WHERE seq = ?1",
    [S_WORKER_SAVE] = "INSERT OR REPLACE INTO workers (" S_WORKER_COLUMNS ") VALUES "
                      "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    [S_POOL_SAVE] = "INSERT OR REPLACE INTO pools (" S_POOL_COLUMNS ") VALUES "
                    "(?1, ?2, ?3, ?4, ?5)",
    [S_POOL_DELETE] = "DELETE FROM pools WHERE name = ?1",
    [S_SCHEDULE_SAVE] = "INSERT OR REPLACE INTO schedules (" S_SCHEDULE_COLUMNS ") VALUES "
                        "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [S_SCHEDULE_DELETE] = "DELETE FROM schedules WHERE name = ?1",
};

typedef struct {
    wp_store_t base;                //  first, so wp_store_t * converts
    wp_store_t *memory;             //  the state, and every answer
    wp_memory_journal_t journal;    //  how memory's commits reach the file
    sqlite3 *db;
    sqlite3_stmt *stmt [S_STMT_COUNT];
    bool in_group;                  //  between wp_store_begin and commit
} s_image_t;

//  ---------------------------------------------------------------------
//  The journal: memory's commits, written to the file

static wp_status
s_sqlite_failed (s_image_t *self, int rc, const char *doing)
{
    return wp_store_error (&self->base, wp_sqlite_status_of (rc),
                           "cannot save the store's image (%s): %s", doing,
                           sqlite3_errmsg (self->db));
}

//  Steps a statement that returns no rows, then resets it
static wp_status
s_run (s_image_t *self, sqlite3_stmt *stmt, const char *doing)
{
    int rc = sqlite3_step (stmt);
    wp_status status = rc == SQLITE_DONE? WP_OK: s_sqlite_failed (self, rc, doing);
    sqlite3_reset (stmt);
    sqlite3_clear_bindings (stmt);
    return status;
}

//  The bindings point into the memory store's records, which outlive the step
static void
s_bind_text (sqlite3_stmt *stmt, int index, const char *text)
{
    if (text)
        sqlite3_bind_text (stmt, index, text, -1, SQLITE_STATIC);
}

static void
s_bind_blob (sqlite3_stmt *stmt, int index, const void *blob, size_t size)
{
    if (blob)
        sqlite3_bind_blob64 (stmt, index, blob, size, SQLITE_STATIC);
}

static wp_status
s_journal_begin (void *arg)
{
    s_image_t *self = arg;
    return s_run (self, self->stmt [S_BEGIN], "beginning");
}

static wp_status
s_journal_item (void *arg, const wp_memory_item_image_t *image)
{
    s_image_t *self = arg;
    const wp_item_t *rec = image->rec;
    sqlite3_stmt *stmt = self->stmt [image->is_new? S_ITEM_INSERT: S_ITEM_UPDATE];
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) image->seq);
    if (image->is_new) {
        s_bind_text (stmt, 2, image->pool);
        s_bind_text (stmt, 3, rec->id);
        s_bind_blob (stmt, 4, rec->data, rec->data_size);
        sqlite3_bind_int64 (stmt, 11, rec->max_retries);
        sqlite3_bind_int64 (stmt, 14, rec->created_at);
        sqlite3_bind_int64 (stmt, 16, rec->priority);
        s_bind_text (stmt, 18, rec->unique_key);
    }
    sqlite3_bind_int (stmt, 5, (int) rec->status);
    s_bind_text (stmt, 6, rec->claimed_by);
    sqlite3_bind_int64 (stmt, 7, rec->claimed_at);
    sqlite3_bind_int64 (stmt, 8, image->lease_us);
    sqlite3_bind_int64 (stmt, 9, rec->lease_expires_at);
    sqlite3_bind_int64 (stmt, 10, rec->attempts);
    s_bind_blob (stmt, 12, rec->result, rec->result_size);
    s_bind_text (stmt, 13, rec->error);
    sqlite3_bind_int64 (stmt, 15, image->updated_at);
    sqlite3_bind_int64 (stmt, 17, rec->run_at);
    return s_run (self, stmt, "writing an item");
}

static wp_status
s_journal_item_gone (void *arg, uint64_t seq)
{
    s_image_t *self = arg;
    sqlite3_stmt *stmt = self->stmt [S_ITEM_DELETE];
    sqlite3_bind_int64 (stmt, 1, (sqlite3_int64) seq);
    return s_run (self, stmt, "deleting an item");
}

static wp_status
s_journal_worker (void *arg, const wp_worker_t *rec)
{
    s_image_t *self = arg;
    sqlite3_stmt *stmt = self->stmt [S_WORKER_SAVE];
    uint8_t *caps = NULL, *meta = NULL;
    size_t caps_size = 0, meta_size = 0;
    wp_store_caps_encode (rec, &caps, &caps_size);
    wp_meta_encode (&rec->metadata, &meta, &meta_size);
    s_bind_text (stmt, 1, rec->worker_id);
    s_bind_text (stmt, 2, rec->host);
    sqlite3_bind_int64 (stmt, 3, rec->pid);
    s_bind_blob (stmt, 4, caps, caps_size);
    s_bind_text (stmt, 5, rec->pool_id);
    sqlite3_bind_int64 (stmt, 6, rec->started_at);
    s_bind_text (stmt, 7, rec->status);
    sqlite3_bind_int64 (stmt, 8, rec->last_heartbeat);
    s_bind_text (stmt, 9, rec->current_task_id);
    sqlite3_bind_double (stmt, 10, rec->heartbeat_interval);
    s_bind_blob (stmt, 11, meta, meta_size);
    wp_status status = s_run (self, stmt, "writing a worker");
    free (caps);
    free (meta);
    return status;
}

static wp_status
s_journal_pool (void *arg, const char *name, bool paused, const wp_backoff_t *backoff)
{
    s_image_t *self = arg;
    bool keep = paused || backoff->base > 0;
    sqlite3_stmt *stmt = self->stmt [keep? S_POOL_SAVE: S_POOL_DELETE];
    s_bind_text (stmt, 1, name);
    if (keep) {
        sqlite3_bind_int (stmt, 2, paused);
        sqlite3_bind_double (stmt, 3, backoff->base);
        sqlite3_bind_double (stmt, 4, backoff->cap);
        sqlite3_bind_double (stmt, 5, backoff->jitter);
    }
    return s_run (self, stmt, "writing a pool");
}

static wp_status
s_journal_schedule (void *arg, const wp_schedule_t *rec)
{
    s_image_t *self = arg;
    sqlite3_stmt *stmt = self->stmt [S_SCHEDULE_SAVE];
    s_bind_text (stmt, 1, rec->name);
    s_bind_text (stmt, 2, rec->pool);
    s_bind_text (stmt, 3, rec->cron);
    s_bind_blob (stmt, 4, rec->data, rec->data_size);
    sqlite3_bind_int64 (stmt, 5, rec->priority);
    sqlite3_bind_int64 (stmt, 6, rec->max_retries);
    sqlite3_bind_int64 (stmt, 7, rec->next_at);
    sqlite3_bind_int64 (stmt, 8, rec->last_fired_at);
    sqlite3_bind_int64 (stmt, 9, rec->created_at);
    return s_run (self, stmt, "writing a schedule");
}

static wp_status
s_journal_schedule_gone (void *arg, const char *name)
{
    s_image_t *self = arg;
    sqlite3_stmt *stmt = self->stmt [S_SCHEDULE_DELETE];
    s_bind_text (stmt, 1, name);
    return s_run (self, stmt, "deleting a schedule");
}

static wp_status
s_journal_commit (void *arg)
{
    s_image_t *self = arg;
    return s_run (self, self->stmt [S_COMMIT], "committing");
}

static void
s_journal_rollback (void *arg)
{
    s_image_t *self = arg;
    if (!sqlite3_get_autocommit (self->db))
        s_run (self, self->stmt [S_ROLLBACK], "rolling back");
}

//  ---------------------------------------------------------------------
//  The calls: the memory store's, each outside a group in a group of its own

#define MEMORY(self) ((self)->memory->ops)

//  The memory store's status for the caller. A failing journal has already
//  said why on this store; anything else the memory store says.
static wp_status
s_from_memory (s_image_t *self, wp_status status)
{
    if (status != WP_OK && *wp_store_errmsg (&self->base) == 0)
        wp_store_error (&self->base, status, "%s", wp_store_errmsg (self->memory));
    return status;
}

static wp_status
s_solo_begin (s_image_t *self)
{
    if (self->in_group)
        return WP_OK;
    return s_from_memory (self, MEMORY (self)->begin (self->memory));
}

//  Ends a call whose outcome is status: outside a group, commits whatever
//  the call changed, expiry included, even when the call itself failed. A
//  failed commit is the answer then: the call's own failure may rest on
//  expiry the commit took back, and the message is the commit's.
static wp_status
s_solo_end (s_image_t *self, wp_status status)
{
    status = s_from_memory (self, status);
    if (!self->in_group) {
        wp_status committed = s_from_memory (self, MEMORY (self)->commit (self->memory));
        if (committed != WP_OK)
            status = committed;
    }
    return status;
}

static wp_status
s_begin (wp_store_t *base)
{
    s_image_t *self = (s_image_t *) base;
    wp_status status = s_from_memory (self, MEMORY (self)->begin (self->memory));
    if (status == WP_OK)
        self->in_group = true;
    return status;
}

static wp_status
s_commit (wp_store_t *base)
{
    s_image_t *self = (s_image_t *) base;
    wp_status status = s_from_memory (self, MEMORY (self)->commit (self->memory));
    self->in_group = false;
    return status;
}

static void
s_rollback (wp_store_t *base)
{
    s_image_t *self = (s_image_t *) base;
    MEMORY (self)->rollback (self->memory);
    self->in_group = false;
}

static wp_status
s_push (wp_store_t *base, const char *pool, const wp_push_entry_t *entry,
        char **id_out, bool *duplicate)
{
    s_image_t *self = (s_image_t *) base;
    char *id = NULL;
    bool dup = false;
    wp_status status = s_solo_begin (self);
    if (status == WP_OK)
        status = s_solo_end (self, MEMORY (self)->push (self->memory, pool, entry, &id, &dup));
    if (status == WP_OK) {
        *id_out = id;
        if (duplicate)
            *duplicate = dup;
    }
    else
        free (id);
    return status;
}

static wp_status
s_claim (wp_store_t *base, const char *pool, const char *worker_id, double lease,
         wp_item_t **item_out)
{
    s_image_t *self = (s_image_t *) base;
    wp_item_t *item = NULL;
    wp_status status = s_solo_begin (self);
    if (status == WP_OK)
        status = s_solo_end (self, MEMORY (self)->claim (self->memory, pool, worker_id,
                                                         lease, &item));
    if (status == WP_OK)
        *item_out = item;
    else
        wp_item_destroy (&item);
    return status;
}

static wp_status
s_complete (wp_store_t *base, const char *pool, const char *id,
            const uint8_t *result, size_t result_size, const char *worker_id)
{
    s_image_t *self = (s_image_t *) base;
    wp_status status = s_solo_begin (self);
    if (status == WP_OK)
        status = s_solo_end (self, MEMORY (self)->complete (self->memory, pool, id, result,
                                                            result_size, worker_id));
    return status;
}

static wp_status
s_fail (wp_store_t *base, const char *pool, const char *id, const char *error,
        const char *worker_id, double retry_after, wp_item_state *state_out)
{
    s_image_t *self = (s_image_t *) base;
    wp_item_state state = WP_ITEM_PENDING;
    wp_status status = s_solo_begin (self);
    if (status == WP_OK)
        status = s_solo_end (self, MEMORY (self)->fail (self->memory, pool, id, error,
                                                        worker_id, retry_after, &state));
    if (status == WP_OK && state_out)
        *state_out = state;
    return status;
}

//  The calls whose only output is a count (or a plain struct) of type T
#define S_COUNTED_CALL(T, call, ...) \
    s_image_t *self = (s_image_t *) base; \
    T value; \
    memset (&value, 0, sizeof value); \
    wp_status status = s_solo_begin (self); \
    if (status == WP_OK) \
        status = s_solo_end (self, MEMORY (self)->call (self->memory, __VA_ARGS__, &value)); \
    if (status == WP_OK && out) \
        *out = value; \
    return status

static wp_status
s_size (wp_store_t *base, const char *pool, uint64_t *out)
{
    S_COUNTED_CALL (uint64_t, size, pool);
}

static wp_status
s_release_by_worker (wp_store_t *base, const char *pool, const char *worker_id,
                     uint64_t *out)
{
    S_COUNTED_CALL (uint64_t, release_by_worker, pool, worker_id);
}

static wp_status
s_renew (wp_store_t *base, const char *worker_id, double lease, uint64_t *out)
{
    S_COUNTED_CALL (uint64_t, renew, worker_id, lease);
}

static wp_status
s_purge (wp_store_t *base, double older_than, uint64_t *out)
{
    S_COUNTED_CALL (uint64_t, purge, older_than);
}

static wp_status
s_reap (wp_store_t *base, wp_reap_t *out)
{
    s_image_t *self = (s_image_t *) base;
    wp_reap_t value;
    memset (&value, 0, sizeof value);
    wp_status status = s_solo_begin (self);
    if (status == WP_OK)
        status = s_solo_end (self, MEMORY (self)->reap (self->memory, &value));
    if (status == WP_OK)
        *out = value;
    return status;
}

static wp_status
s_next_due (wp_store_t *base, int64_t *next_out)
{
    //  Reads the heaps and changes nothing
    s_image_t *self = (s_image_t *) base;
    return s_from_memory (self, MEMORY (self)->next_due (self->memory, next_out));
}

static wp_status
s_get (wp_store_t *base, const char *pool, const char *id, wp_item_t **item_out)
{
    s_image_t *self = (s_image_t *) base;
    wp_item_t *item = NULL;
    wp_status status = s_solo_begin (self);
    if (status == WP_OK)
        status = s_solo_end (self, MEMORY (self)->get (self->memory, pool, id, &item));
    if (status == WP_OK)
        *item_out = item;
    else
        wp_item_destroy (&item);
    return status;
}

static wp_status
s_register (wp_store_t *base, const wp_worker_t *worker, wp_worker_t **worker_out)
{
    s_image_t *self = (s_image_t *) base;
    wp_worker_t *rec = NULL;
    wp_status status = s_solo_begin (self);
    if (status == WP_OK)
        status = s_solo_end (self, MEMORY (self)->register_worker (
            self->memory, worker, worker_out? &rec: NULL));
    if (status == WP_OK && worker_out)
        *worker_out = rec;
    else
        wp_worker_destroy (&rec);
    return status;
}

static wp_status
s_heartbeat (wp_store_t *base, const char *worker_id, const wp_meta_t *metadata)
{
    s_image_t *self = (s_image_t *) base;
    wp_status status = s_solo_begin (self);
    if (status == WP_OK)
        status = s_solo_end (self, MEMORY (self)->heartbeat (self->memory, worker_id,
                                                             metadata));
    return status;
}

static wp_status
s_update_status (wp_store_t *base, const char *worker_id, const char *state)
{
    s_image_t *self = (s_image_t *) base;
    wp_status status = s_solo_begin (self);
    if (status == WP_OK)
        status = s_solo_end (self, MEMORY (self)->update_status (self->memory, worker_id,
                                                                 state));
    return status;
}

static wp_status
s_get_worker (wp_store_t *base, const char *worker_id, wp_worker_t **worker_out)
{
    s_image_t *self = (s_image_t *) base;
    wp_worker_t *rec = NULL;
    wp_status status = s_solo_begin (self);
    if (status == WP_OK)
        status = s_solo_end (self, MEMORY (self)->get_worker (self->memory, worker_id, &rec));
    if (status == WP_OK)
        *worker_out = rec;
    else
        wp_worker_destroy (&rec);
    return status;
}

static wp_status
s_list_workers (wp_store_t *base, const wp_worker_filter_t *filter,
                wp_worker_list_t **list_out)
{
    s_image_t *self = (s_image_t *) base;
    wp_worker_list_t *list = NULL;
    wp_status status = s_solo_begin (self);
    if (status == WP_OK)
        status = s_solo_end (self, MEMORY (self)->list_workers (self->memory, filter, &list));
    if (status == WP_OK)
        *list_out = list;
    else
        wp_worker_list_destroy (&list);
    return status;
}

static wp_status
s_stats (wp_store_t *base, wp_stats_t **stats_out)
{
    s_image_t *self = (s_image_t *) base;
    wp_stats_t *stats = NULL;
    wp_status status = s_solo_begin (self);
    if (status == WP_OK)
        status = s_solo_end (self, MEMORY (self)->stats (self->memory, &stats));
    if (status == WP_OK)
        *stats_out = stats;
    else
        wp_stats_destroy (&stats);
    return status;
}

//  Savepoints are the memory store's: a mark in its undo log, from which
//  the journal is written at commit, so undoing back to the mark also
//  forgets the rows the undone changes would have written
static wp_status
s_savepoint (wp_store_t *base)
{
    s_image_t *self = (s_image_t *) base;
    return s_from_memory (self, MEMORY (self)->savepoint (self->memory));
}

static void
s_release (wp_store_t *base)
{
    s_image_t *self = (s_image_t *) base;
    MEMORY (self)->release (self->memory);
}

static void
s_rollback_to (wp_store_t *base)
{
    s_image_t *self = (s_image_t *) base;
    MEMORY (self)->rollback_to (self->memory);
}

static wp_status
s_list_items (wp_store_t *base, const char *pool, const wp_item_state *statuses,
              size_t status_count, size_t limit, const char *cursor,
              wp_item_list_t **items_out, char **cursor_out)
{
    s_image_t *self = (s_image_t *) base;
    wp_item_list_t *items = NULL;
    char *next = NULL;
    wp_status status = s_solo_begin (self);
    if (status == WP_OK)
        status = s_solo_end (self, MEMORY (self)->list_items (self->memory, pool, statuses,
                                                              status_count, limit, cursor,
                                                              &items, &next));
    if (status == WP_OK) {
        *items_out = items;
        *cursor_out = next;
    }
    else {
        wp_item_list_destroy (&items);
        free (next);
    }
    return status;
}

static wp_status
s_retry (wp_store_t *base, const char *pool, const char *id)
{
    s_image_t *self = (s_image_t *) base;
    wp_status status = s_solo_begin (self);
    if (status == WP_OK)
        status = s_solo_end (self, MEMORY (self)->retry (self->memory, pool, id));
    return status;
}

static wp_status
s_retry_all (wp_store_t *base, const char *pool, uint64_t *out)
{
    S_COUNTED_CALL (uint64_t, retry_all, pool);
}

static wp_status
s_cancel (wp_store_t *base, const char *pool, const char *id)
{
    s_image_t *self = (s_image_t *) base;
    wp_status status = s_solo_begin (self);
    if (status == WP_OK)
        status = s_solo_end (self, MEMORY (self)->cancel (self->memory, pool, id));
    return status;
}

static wp_status
s_purge_pool (wp_store_t *base, const char *pool, const wp_item_state *statuses,
              size_t status_count, uint64_t *out)
{
    S_COUNTED_CALL (uint64_t, purge_pool, pool, statuses, status_count);
}

static wp_status
s_set_paused (wp_store_t *base, const char *pool, bool paused)
{
    s_image_t *self = (s_image_t *) base;
    wp_status status = s_solo_begin (self);
    if (status == WP_OK)
        status = s_solo_end (self, MEMORY (self)->set_paused (self->memory, pool, paused));
    return status;
}

static wp_status
s_set_backoff (wp_store_t *base, const char *pool, const wp_backoff_t *policy)
{
    s_image_t *self = (s_image_t *) base;
    wp_status status = s_solo_begin (self);
    if (status == WP_OK)
        status = s_solo_end (self, MEMORY (self)->set_backoff (self->memory, pool, policy));
    return status;
}

static wp_status
s_schedule_put (wp_store_t *base, const wp_schedule_t *schedule)
{
    s_image_t *self = (s_image_t *) base;
    wp_status status = s_solo_begin (self);
    if (status == WP_OK)
        status = s_solo_end (self, MEMORY (self)->schedule_put (self->memory, schedule));
    return status;
}

static wp_status
s_schedule_remove (wp_store_t *base, const char *name)
{
    s_image_t *self = (s_image_t *) base;
    wp_status status = s_solo_begin (self);
    if (status == WP_OK)
        status = s_solo_end (self, MEMORY (self)->schedule_remove (self->memory, name));
    return status;
}

static wp_status
s_schedule_list (wp_store_t *base, wp_schedule_list_t **list_out)
{
    s_image_t *self = (s_image_t *) base;
    wp_schedule_list_t *list = NULL;
    wp_status status = s_solo_begin (self);
    if (status == WP_OK)
        status = s_solo_end (self, MEMORY (self)->schedule_list (self->memory, &list));
    if (status == WP_OK)
        *list_out = list;
    else
        wp_schedule_list_destroy (&list);
    return status;
}

static void
s_destroy (wp_store_t *base)
{
    s_image_t *self = (s_image_t *) base;
    //  Rolls back an open group: nothing of it reached the file
    wp_store_destroy (&self->memory);
    if (self->db) {
        for (int i = 0; i < S_STMT_COUNT; i++)
            sqlite3_finalize (self->stmt [i]);
        sqlite3_close_v2 (self->db);
    }
    free (self);
}

static const wp_store_ops_t s_ops = {
    .name = "image",
    .destroy = s_destroy,
    .begin = s_begin,
    .commit = s_commit,
    .rollback = s_rollback,
    .push = s_push,
    .claim = s_claim,
    .complete = s_complete,
    .fail = s_fail,
    .size = s_size,
    .release_by_worker = s_release_by_worker,
    .get = s_get,
    .renew = s_renew,
    .register_worker = s_register,
    .heartbeat = s_heartbeat,
    .update_status = s_update_status,
    .get_worker = s_get_worker,
    .list_workers = s_list_workers,
    .reap = s_reap,
    .next_due = s_next_due,
    .purge = s_purge,
    .stats = s_stats,
    .savepoint = s_savepoint,
    .release = s_release,
    .rollback_to = s_rollback_to,
    .list_items = s_list_items,
    .retry = s_retry,
    .retry_all = s_retry_all,
    .cancel = s_cancel,
    .purge_pool = s_purge_pool,
    .set_paused = s_set_paused,
    .set_backoff = s_set_backoff,
    .schedule_put = s_schedule_put,
    .schedule_remove = s_schedule_remove,
    .schedule_list = s_schedule_list,
};

//  ---------------------------------------------------------------------
//  Opening: check the file, create or load the image

//  The memory store reads the clock the caller set on the image store
static int64_t
s_clock (void *arg)
{
    return wp_store_now ((wp_store_t *) arg);
}

//  Loads one row of S_ITEM_COLUMNS; -1 if the row is not a valid item, or
//  its pool already holds its id
static int
s_load_item (s_image_t *self, sqlite3_stmt *stmt)
{
    int64_t seq = sqlite3_column_int64 (stmt, 0);
    const char *pool = (const char *) sqlite3_column_text (stmt, 1);
    int64_t status = sqlite3_column_int64 (stmt, 4);
    int64_t attempts = sqlite3_column_int64 (stmt, 9);
    int64_t max_retries = sqlite3_column_int64 (stmt, 10);
    wp_item_t *rec = wp_item_new ();
    rec->id = wp_sqlite_column_strdup (stmt, 2);
    rec->data = wp_sqlite_column_blob (stmt, 3, &rec->data_size);
    rec->status = (wp_item_state) status;
    rec->claimed_by = wp_sqlite_column_strdup (stmt, 5);
    rec->claimed_at = sqlite3_column_int64 (stmt, 6);
    rec->lease_expires_at = sqlite3_column_int64 (stmt, 8);
    rec->attempts = (uint32_t) attempts;
    rec->max_retries = (uint32_t) max_retries;
    rec->result = wp_sqlite_column_blob (stmt, 11, &rec->result_size);
    rec->error = wp_sqlite_column_strdup (stmt, 12);
    rec->created_at = sqlite3_column_int64 (stmt, 13);
    int64_t priority = sqlite3_column_int64 (stmt, 15);
    rec->priority = (int32_t) priority;
    rec->run_at = sqlite3_column_int64 (stmt, 16);
    rec->unique_key = wp_sqlite_column_strdup (stmt, 17);
    bool valid = seq >= 0
              && pool && wp_name_check (pool) == 0 && rec->id && wp_name_check (rec->id) == 0
              && rec->data && status >= WP_ITEM_PENDING && status < WP_ITEM_STATE_COUNT
              && priority >= INT32_MIN && priority <= INT32_MAX
              && (!rec->unique_key || wp_name_check (rec->unique_key) == 0)
              && (status != WP_ITEM_SCHEDULED || rec->run_at != 0)
              && attempts >= 0 && attempts <= UINT32_MAX
              && max_retries >= 0 && max_retries <= UINT32_MAX
              && (status != WP_ITEM_CLAIMED || rec->claimed_by);
    if (valid && wp_store_memory_load_item (self->memory, pool, &rec, (uint64_t) seq,
                                            sqlite3_column_int64 (stmt, 7),
                                            sqlite3_column_int64 (stmt, 14)) == 0)
        return 0;
    wp_item_destroy (&rec);
    return -1;
}

//  Loads one row of S_WORKER_COLUMNS; -1 if the row is not a valid worker
static int
s_load_worker (s_image_t *self, sqlite3_stmt *stmt)
{
    wp_worker_t *rec = wp_worker_new ();
    rec->worker_id = wp_sqlite_column_strdup (stmt, 0);
    rec->host = wp_sqlite_column_strdup (stmt, 1);
    rec->pid = sqlite3_column_int64 (stmt, 2);
    bool valid = wp_store_caps_decode (rec, sqlite3_column_blob (stmt, 3),
                                       (size_t) sqlite3_column_bytes (stmt, 3));
    rec->pool_id = wp_sqlite_column_strdup (stmt, 4);
    rec->started_at = sqlite3_column_int64 (stmt, 5);
    rec->status = wp_sqlite_column_strdup (stmt, 6);
    rec->last_heartbeat = sqlite3_column_int64 (stmt, 7);
    rec->current_task_id = wp_sqlite_column_strdup (stmt, 8);
    rec->heartbeat_interval = sqlite3_column_double (stmt, 9);
    const uint8_t *meta = sqlite3_column_blob (stmt, 10);
    size_t meta_size = (size_t) sqlite3_column_bytes (stmt, 10);
    if (meta && meta_size > 0 && wp_meta_decode (&rec->metadata, meta, meta_size))
        valid = false;
    if (!valid || !rec->worker_id || wp_name_check (rec->worker_id) || !rec->status) {
        wp_worker_destroy (&rec);
        return -1;
    }
    wp_store_memory_load_worker (self->memory, &rec);
    return 0;
}

//  Loads one row of S_POOL_COLUMNS; -1 if the name is not a pool's or the
//  policy is not one
static int
s_load_pool (s_image_t *self, sqlite3_stmt *stmt)
{
    const char *name = (const char *) sqlite3_column_text (stmt, 0);
    wp_backoff_t backoff = {
        .base = sqlite3_column_double (stmt, 2),
        .cap = sqlite3_column_double (stmt, 3),
        .jitter = sqlite3_column_double (stmt, 4),
    };
    if (!name || wp_name_check (name) || wp_backoff_check (&backoff))
        return -1;
    wp_store_memory_load_pool (self->memory, name, sqlite3_column_int64 (stmt, 1) != 0,
                               &backoff);
    return 0;
}

//  Loads one row of S_SCHEDULE_COLUMNS; -1 if it is not a valid schedule
//  (its cron is not checked: a newer version's is kept, and never fired)
static int
s_load_schedule (s_image_t *self, sqlite3_stmt *stmt)
{
    wp_schedule_t *rec = wp_schedule_new ();
    rec->name = wp_sqlite_column_strdup (stmt, 0);
    rec->pool = wp_sqlite_column_strdup (stmt, 1);
    rec->cron = wp_sqlite_column_strdup (stmt, 2);
    rec->data = wp_sqlite_column_blob (stmt, 3, &rec->data_size);
    int64_t priority = sqlite3_column_int64 (stmt, 4);
    rec->priority = (int32_t) priority;
    rec->max_retries = sqlite3_column_int64 (stmt, 5);
    rec->next_at = sqlite3_column_int64 (stmt, 6);
    rec->last_fired_at = sqlite3_column_int64 (stmt, 7);
    rec->created_at = sqlite3_column_int64 (stmt, 8);
    bool valid = rec->name && wp_name_check (rec->name) == 0
              && rec->pool && wp_name_check (rec->pool) == 0 && rec->cron && rec->data
              && priority >= INT32_MIN && priority <= INT32_MAX
              && rec->max_retries >= -1 && rec->max_retries <= INT32_MAX;
    if (!valid) {
        wp_schedule_destroy (&rec);
        return -1;
    }
    wp_store_memory_load_schedule (self->memory, &rec);
    return 0;
}

//  Runs SELECT sql and loads each row with load; fills failure if a row is
//  damaged or SQLite fails
static int
s_load_rows (s_image_t *self, const char *path, const char *sql, const char *what,
             int (*load) (s_image_t *, sqlite3_stmt *), wp_sqlite_failure_t *failure)
{
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v2 (self->db, sql, -1, &stmt, NULL);
    int result = 0;
    while (rc == SQLITE_OK && result == 0) {
        rc = sqlite3_step (stmt);
        if (rc == SQLITE_ROW) {
            rc = SQLITE_OK;
            if (load (self, stmt))
                result = wp_sqlite_open_failed (failure, WP_DATA_LOSS,
                    "'%s' is damaged: a stored %s does not decode", path, what);
        }
    }
    sqlite3_finalize (stmt);
    if (result == 0 && rc != SQLITE_DONE)
        result = wp_sqlite_open_failed_io (failure, self->db, rc, path, "loading it");
    return result;
}

//  Opens, locks and checks the file; creates the schema in an empty one and
//  loads a stored image
static int
s_open (s_image_t *self, const char *path, wp_sqlite_failure_t *failure)
{
    int rc = sqlite3_open_v2 (path, &self->db,
                              SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                              NULL);
    if (rc != SQLITE_OK)
        return wp_sqlite_open_failed_io (failure, self->db, rc, path, "opening it");
    sqlite3_extended_result_codes (self->db, 1);
    sqlite3_busy_timeout (self->db, self->base.config.busy_timeout_ms);
    if (sqlite3_db_readonly (self->db, "main") == 1)
        return wp_sqlite_open_failed (failure, WP_PERMISSION_DENIED,
                                      "cannot open '%s': the file is read-only", path);
    //  The write lock, taken now and kept until close: no other process
    //  may change the file under our memory
    rc = sqlite3_exec (self->db, "PRAGMA locking_mode = EXCLUSIVE; BEGIN IMMEDIATE", NULL, NULL,
                       NULL);
    if ((rc & 0xff) == SQLITE_BUSY)
        return wp_sqlite_open_failed (failure, WP_UNAVAILABLE,
                                      "cannot open '%s': another process has it open", path);
    int64_t application_id = 0, version = 0, objects = 0;
    if (rc == SQLITE_OK)
        rc = wp_sqlite_query_int (self->db, "PRAGMA application_id", &application_id);
    if (rc == SQLITE_OK)
        rc = wp_sqlite_query_int (self->db, "PRAGMA user_version", &version);
    if (rc == SQLITE_OK)
        rc = wp_sqlite_query_int (self->db, "SELECT count(*) FROM sqlite_schema", &objects);
    if (rc != SQLITE_OK)
        return wp_sqlite_open_failed_io (failure, self->db, rc, path, "reading its header");
    bool empty = application_id == 0 && version == 0 && objects == 0;
    if (application_id == WP_SQLITE_APPLICATION_ID)
        return wp_sqlite_open_failed (failure, WP_FAILED_PRECONDITION,
            "'%s' is a SQLite store's file, not an image store's: open it as sqlite:%s",
            path, path);
    if (!empty && application_id != WP_IMAGE_APPLICATION_ID)
        return wp_sqlite_open_failed (failure, WP_FAILED_PRECONDITION,
            "'%s' is not a workpool store: a SQLite database of another application "
            "(application_id %lld)", path, (long long) application_id);
    if (!empty && (version < 1 || version > S_SCHEMA_VERSION))
        return wp_sqlite_open_failed (failure, WP_FAILED_PRECONDITION,
            "'%s' is an image of version %lld; this workpool reads version %d", path,
            (long long) version, S_SCHEMA_VERSION);
    if (empty) {
        char sql [128];
        snprintf (sql, sizeof sql, "PRAGMA application_id = %d; PRAGMA user_version = %d;",
                  WP_IMAGE_APPLICATION_ID, S_SCHEMA_VERSION);
        rc = sqlite3_exec (self->db, S_SCHEMA, NULL, NULL, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec (self->db, sql, NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            return wp_sqlite_open_failed_io (failure, self->db, rc, path, "creating its tables");
    }
    else {
        //  Each step in the transaction taken above: all of them, or none
        if (version == 1) {
            rc = sqlite3_exec (self->db, S_POOLS_TABLE_V2 "PRAGMA user_version = 2;", NULL,
                               NULL, NULL);
            if (rc != SQLITE_OK)
                return wp_sqlite_open_failed_io (failure, self->db, rc, path,
                                                 "adding its pools table");
            version = 2;
        }
        if (version == 2) {
            rc = sqlite3_exec (self->db, S_MIGRATE_V3 "PRAGMA user_version = 3;", NULL, NULL,
                               NULL);
            if (rc != SQLITE_OK)
                return wp_sqlite_open_failed_io (failure, self->db, rc, path,
                                                 "adding its scheduling columns");
        }
        if (s_load_rows (self, path, "SELECT " S_ITEM_COLUMNS " FROM items", "item",
                         s_load_item, failure)
        ||  s_load_rows (self, path, "SELECT " S_WORKER_COLUMNS " FROM workers", "worker",
                         s_load_worker, failure)
        ||  s_load_rows (self, path, "SELECT " S_POOL_COLUMNS " FROM pools", "pool",
                         s_load_pool, failure)
        ||  s_load_rows (self, path, "SELECT " S_SCHEDULE_COLUMNS " FROM schedules",
                         "schedule", s_load_schedule, failure))
            return -1;
    }
    rc = sqlite3_exec (self->db, "COMMIT", NULL, NULL, NULL);
    //  WAL, with the lock held: no shared-memory index, no readers to wait for
    if (rc == SQLITE_OK)
        rc = sqlite3_exec (self->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec (self->db, self->base.config.sync_full? "PRAGMA synchronous = FULL"
                                                                : "PRAGMA synchronous = NORMAL",
                           NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return wp_sqlite_open_failed_io (failure, self->db, rc, path, "setting it up");
    for (int i = 0; i < S_STMT_COUNT; i++) {
        rc = sqlite3_prepare_v3 (self->db, s_sql [i], -1, SQLITE_PREPARE_PERSISTENT,
                                 &self->stmt [i], NULL);
        if (rc == SQLITE_NOMEM)
            abort ();
        if (rc != SQLITE_OK)
            return wp_sqlite_open_failed (failure, WP_INTERNAL,
                                          "cannot prepare statement %d of '%s': %s", i, path,
                                          sqlite3_errmsg (self->db));
    }
    sqlite3_wal_autocheckpoint (self->db, S_CHECKPOINT_PAGES);
    return 0;
}

wp_store_t *
wp_store_image_new (const char *path, const wp_store_config_t *cfg,
                    wp_status *status, char **message)
{
    wp_sqlite_failure_t failure = { WP_OK, "" };
    s_image_t *self = NULL;
    struct stat st;
    if (!path || !*path)
        wp_sqlite_open_failed (&failure, WP_INVALID_ARGUMENT, "the image store needs a file path");
    else
    if (stat (path, &st) == 0 && S_ISDIR (st.st_mode))
        wp_sqlite_open_failed (&failure, WP_FAILED_PRECONDITION,
                               "'%s' is a directory, not a workpool store", path);
    else {
        int fd = open (path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        bool created = fd >= 0;
        if (created)
            close (fd);
        self = calloc (1, sizeof *self);
        if (!self)
            abort ();
        wp_store_init (&self->base, &s_ops, cfg);
        self->journal = (wp_memory_journal_t) {
            .arg = self,
            .begin = s_journal_begin,
            .item = s_journal_item,
            .item_gone = s_journal_item_gone,
            .worker = s_journal_worker,
            .pool = s_journal_pool,
            .schedule = s_journal_schedule,
            .schedule_gone = s_journal_schedule_gone,
            .commit = s_journal_commit,
            .rollback = s_journal_rollback,
        };
        self->memory = wp_store_memory_new_journaled (cfg, &self->journal);
        wp_store_set_clock (self->memory, s_clock, self);
        if (s_open (self, path, &failure)) {
            s_destroy (&self->base);
            self = NULL;
            //  A file we made, unless another opener locked it before we
            //  could (WP_UNAVAILABLE): it is that process's store now, and
            //  unlinking it would leave it committing to a deleted file
            if (created && failure.status != WP_UNAVAILABLE)
                wp_sqlite_unlink_created (path);
        }
    }
    if (self)
        return &self->base;
    if (status)
        *status = failure.status;
    if (message)
        *message = wp_strdup (failure.message);
    return NULL;
}
