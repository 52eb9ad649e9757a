/*  wp_store_sqlite_sql: the SQL the SQLite store runs, in one place, so that
    tests/store/sqlite can ask SQLite how it plans the very statements the
    store prepares (EXPLAIN QUERY PLAN), and store/SCHEMA.md can be checked
    against the migrations. Internal to the SQLite store and its tests.

    Times are INTEGER microseconds since the epoch; an item's status is the
    number of its wp_item_state (0 pending, 1 claimed, 2 done, 3 poisoned,
    4 scheduled).
    The partial indexes only serve a query whose WHERE clause repeats their
    condition literally ("status = 0", never "status = ?"), so the literals
    below are load-bearing.  */
#ifndef WP_STORE_SQLITE_SQL_H_INCLUDED
#define WP_STORE_SQLITE_SQL_H_INCLUDED

//  "wpol": PRAGMA application_id of every workpool store file.
#define WP_SQLITE_APPLICATION_ID 0x77706F6C

//  "wpim": PRAGMA application_id of the image store's files
//  (wp_store_image.c), named here so that each store can tell the other's.
#define WP_IMAGE_APPLICATION_ID 0x7770696D

//  The schema version this build writes (PRAGMA user_version). A file with
//  a higher version is refused; a lower one is migrated step by step.
#define WP_SQLITE_SCHEMA_VERSION 4

//  WAL pages that trigger a checkpoint (16 MB of 1 KiB pages).
#define WP_SQLITE_CHECKPOINT_PAGES 16000

//  Migration step N takes a file from user_version N-1 to N; it runs inside
//  the transaction that also sets user_version (see store/SCHEMA.md).

//  Version 1: the tables.
#define WP_SQLITE_MIGRATION_1 \
    "CREATE TABLE pools (" \
    "    pool_id          INTEGER PRIMARY KEY," \
    "    name             TEXT NOT NULL UNIQUE" \
    ");" \
    "CREATE TABLE items (" \
    "    seq              INTEGER PRIMARY KEY," \
    "    pool_id          INTEGER NOT NULL REFERENCES pools (pool_id)," \
    "    id               TEXT NOT NULL," \
    "    data             BLOB NOT NULL," \
    "    status           INTEGER NOT NULL DEFAULT 0," \
    "    claimed_by       TEXT," \
    "    claimed_at       INTEGER," \
    "    lease_us         INTEGER," \
    "    lease_expires_at INTEGER," \
    "    attempts         INTEGER NOT NULL DEFAULT 0," \
    "    max_retries      INTEGER NOT NULL," \
    "    result           BLOB," \
    "    error            TEXT," \
    "    created_at       INTEGER NOT NULL," \
    "    updated_at       INTEGER NOT NULL," \
    "    UNIQUE (pool_id, id)" \
    ");" \
    "CREATE TABLE workers (" \
    "    worker_id          TEXT PRIMARY KEY," \
    "    host               TEXT," \
    "    pid                INTEGER," \
    "    capabilities       BLOB NOT NULL," \
    "    pool_id            TEXT," \
    "    started_at         INTEGER NOT NULL," \
    "    status             TEXT NOT NULL," \
    "    last_heartbeat     INTEGER NOT NULL," \
    "    heartbeat_interval REAL NOT NULL," \
    "    stale_at           INTEGER NOT NULL," \
    "    current_item       INTEGER," \
    "    metadata           BLOB NOT NULL" \
    ");"

//  The change of one item's status, for the per-pool counters.
#define WP_SQLITE_COUNT_DELTA(sign, state) \
    "pending = pending " sign " (" state " = 0), " \
    "claimed = claimed " sign " (" state " = 1), " \
    "done = done " sign " (" state " = 2), " \
    "poisoned = poisoned " sign " (" state " = 3)"

//  An item moving from OLD.status to NEW.status in its pool (an item never
//  changes pool): one UPDATE of the pool's row, where two would cost a
//  second trigger step on every claim and complete.
#define WP_SQLITE_COUNT_MOVE \
    "pending = pending + (NEW.status = 0) - (OLD.status = 0), " \
    "claimed = claimed + (NEW.status = 1) - (OLD.status = 1), " \
    "done = done + (NEW.status = 2) - (OLD.status = 2), " \
    "poisoned = poisoned + (NEW.status = 3) - (OLD.status = 3)"

//  Version 2: per-pool counters kept by triggers (so size and stats never
//  count rows), and the indexes every hot statement needs.
#define WP_SQLITE_MIGRATION_2 \
    "ALTER TABLE pools ADD COLUMN pending  INTEGER NOT NULL DEFAULT 0;" \
    "ALTER TABLE pools ADD COLUMN claimed  INTEGER NOT NULL DEFAULT 0;" \
    "ALTER TABLE pools ADD COLUMN done     INTEGER NOT NULL DEFAULT 0;" \
    "ALTER TABLE pools ADD COLUMN poisoned INTEGER NOT NULL DEFAULT 0;" \
    "UPDATE pools SET" \
    "    pending  = (SELECT count(*) FROM items i WHERE i.pool_id = pools.pool_id AND i.status = 0)," \
    "    claimed  = (SELECT count(*) FROM items i WHERE i.pool_id = pools.pool_id AND i.status = 1)," \
    "    done     = (SELECT count(*) FROM items i WHERE i.pool_id = pools.pool_id AND i.status = 2)," \
    "    poisoned = (SELECT count(*) FROM items i WHERE i.pool_id = pools.pool_id AND i.status = 3);" \
    "CREATE TRIGGER items_count_insert AFTER INSERT ON items BEGIN" \
    "    UPDATE pools SET " WP_SQLITE_COUNT_DELTA ("+", "NEW.status") \
    "     WHERE pool_id = NEW.pool_id;" \
    "END;" \
    "CREATE TRIGGER items_count_update AFTER UPDATE OF status ON items" \
    "    WHEN OLD.status <> NEW.status BEGIN" \
    "    UPDATE pools SET " WP_SQLITE_COUNT_MOVE \
    "     WHERE pool_id = NEW.pool_id;" \
    "END;" \
    "CREATE TRIGGER items_count_delete AFTER DELETE ON items BEGIN" \
    "    UPDATE pools SET " WP_SQLITE_COUNT_DELTA ("-", "OLD.status") \
    "     WHERE pool_id = OLD.pool_id;" \
    "END;" \
    "CREATE INDEX items_pending  ON items (pool_id, seq) WHERE status = 0;" \
    "CREATE INDEX items_claimed  ON items (claimed_by, pool_id) WHERE status = 1;" \
    "CREATE INDEX items_lease    ON items (lease_expires_at) WHERE status = 1;" \
    "CREATE INDEX items_finished ON items (updated_at) WHERE status >= 2;" \
    "CREATE INDEX workers_stale  ON workers (stale_at) WHERE status = 'active';" \
    "CREATE INDEX workers_current ON workers (current_item) WHERE current_item IS NOT NULL;"

//  Version 3: pools can be paused (claims on them find nothing), and one
//  index by pool, status and push order, so that listing the items of a
//  pool in some states, retrying its poisoned items and purging it by state
//  each reach only the rows they return. It also serves the claim, as
//  items_pending did, which it replaces (one index fewer to write).
#define WP_SQLITE_MIGRATION_3 \
    "ALTER TABLE pools ADD COLUMN paused INTEGER NOT NULL DEFAULT 0;" \
    "CREATE INDEX items_status ON items (pool_id, status, seq);" \
    "DROP INDEX items_pending;"

//  The change of one item's status for the counters of version 4, which
//  count scheduled items too (WP_SQLITE_COUNT_DELTA and _MOVE stay as
//  version 2 shipped them).
#define WP_SQLITE_COUNT_DELTA_4(sign, state) \
    WP_SQLITE_COUNT_DELTA (sign, state) ", " \
    "scheduled = scheduled " sign " (" state " = 4)"

#define WP_SQLITE_COUNT_MOVE_4 \
    WP_SQLITE_COUNT_MOVE ", " \
    "scheduled = scheduled + (NEW.status = 4) - (OLD.status = 4)"

//  Version 4: scheduling. Items gain a priority (claims take the lowest,
//  then the oldest: items_ready), a run_at (a scheduled item, status 4,
//  falls due then: items_due) and a unique key, which at most one live
//  item (pending, claimed or scheduled) of a pool holds: items_unique, so
//  the file itself refuses a second. Pools gain a counter of scheduled
//  items and a retry policy; schedules are a table of their own. Purge's
//  index is remade for "done or poisoned", which status >= 2 no longer
//  means. No item changes: every existing one keeps its state, priority 0,
//  no run_at, no key.
#define WP_SQLITE_MIGRATION_4 \
    "ALTER TABLE items ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;" \
    "ALTER TABLE items ADD COLUMN run_at INTEGER;" \
    "ALTER TABLE items ADD COLUMN unique_key TEXT;" \
    "ALTER TABLE pools ADD COLUMN scheduled INTEGER NOT NULL DEFAULT 0;" \
    "ALTER TABLE pools ADD COLUMN backoff_base REAL NOT NULL DEFAULT 0;" \
    "ALTER TABLE pools ADD COLUMN backoff_cap REAL NOT NULL DEFAULT 0;" \
    "ALTER TABLE pools ADD COLUMN backoff_jitter REAL NOT NULL DEFAULT 0;" \
    "DROP TRIGGER items_count_insert;" \
    "DROP TRIGGER items_count_update;" \
    "DROP TRIGGER items_count_delete;" \
    "CREATE TRIGGER items_count_insert AFTER INSERT ON items BEGIN" \
    "    UPDATE pools SET " WP_SQLITE_COUNT_DELTA_4 ("+", "NEW.status") \
    "     WHERE pool_id = NEW.pool_id;" \
    "END;" \
    "CREATE TRIGGER items_count_update AFTER UPDATE OF status ON items" \
    "    WHEN OLD.status <> NEW.status BEGIN" \
    "    UPDATE pools SET " WP_SQLITE_COUNT_MOVE_4 \
    "     WHERE pool_id = NEW.pool_id;" \
    "END;" \
    "CREATE TRIGGER items_count_delete AFTER DELETE ON items BEGIN" \
    "    UPDATE pools SET " WP_SQLITE_COUNT_DELTA_4 ("-", "OLD.status") \
    "     WHERE pool_id = OLD.pool_id;" \
    "END;" \
    "CREATE INDEX items_ready ON items (pool_id, priority, seq) WHERE status = 0;" \
    "CREATE INDEX items_due ON items (run_at) WHERE status = 4;" \
    "CREATE UNIQUE INDEX items_unique ON items (pool_id, unique_key)" \
    "    WHERE unique_key IS NOT NULL AND status IN (0, 1, 4);" \
    "DROP INDEX items_finished;" \
    "CREATE INDEX items_finished ON items (updated_at) WHERE status IN (2, 3);" \
    "CREATE TABLE schedules (" \
    "    name          TEXT PRIMARY KEY," \
    "    pool          TEXT NOT NULL," \
    "    cron          TEXT NOT NULL," \
    "    data          BLOB NOT NULL," \
    "    priority      INTEGER NOT NULL," \
    "    max_retries   INTEGER," \
    "    next_at       INTEGER," \
    "    last_fired_at INTEGER," \
    "    created_at    INTEGER NOT NULL" \
    ") WITHOUT ROWID;" \
    "CREATE INDEX schedules_next ON schedules (next_at) WHERE next_at IS NOT NULL;"

//  The pool_id of a pool name bound as ?1; NULL for a pool never pushed to.
#define WP_SQLITE_POOL "(SELECT pool_id FROM pools WHERE name = ?1)"

//  The same, NULL also while the pool is paused: what a claim looks in.
#define WP_SQLITE_POOL_CLAIMABLE "(SELECT pool_id FROM pools WHERE name = ?1 AND paused = 0)"

//  What retry does to an item: pending as if never tried, the error kept.
#define WP_SQLITE_RETRY(now) \
    "status = 0, attempts = 0, result = NULL, claimed_by = NULL, claimed_at = NULL, " \
    "lease_us = NULL, lease_expires_at = NULL, updated_at = " now

//  The columns wp_sqlite_item_read expects, in order.
#define WP_SQLITE_ITEM_COLUMNS \
    "seq, id, data, status, claimed_by, claimed_at, lease_expires_at, " \
    "attempts, max_retries, result, error, created_at, priority, run_at, unique_key"

//  What a failure needs of a claimed item and its pool (items i, pools p),
//  in order: the row, its attempts and max_retries, the pool's policy.
#define WP_SQLITE_REQUEUE_COLUMNS \
    "i.seq, i.attempts, i.max_retries, p.backoff_base, p.backoff_cap, p.backoff_jitter"

//  The live holder of unique key ?2 in pool ?1 (pool_id): items_unique.
#define WP_SQLITE_KEY_LIVE \
    "pool_id = ?1 AND unique_key = ?2 AND unique_key IS NOT NULL AND status IN (0, 1, 4)"

//  The columns s_worker_read expects, in order.
#define WP_SQLITE_WORKER_COLUMNS \
    "w.worker_id, w.host, w.pid, w.capabilities, w.pool_id, w.started_at, " \
    "w.status, w.last_heartbeat, i.id, w.heartbeat_interval, w.metadata"

//  Every statement the store prepares once at open: X (NAME, "SQL").
#define WP_SQLITE_STATEMENTS(X) \
    X (BEGIN_READ,      "BEGIN") \
    X (BEGIN_WRITE,     "BEGIN IMMEDIATE") \
    X (COMMIT,          "COMMIT") \
    X (ROLLBACK,        "ROLLBACK") \
    X (SAVEPOINT,       "SAVEPOINT op") \
    X (RELEASE,         "RELEASE op") \
    X (ROLLBACK_TO,     "ROLLBACK TO op") \
    /*  A batch of wp_store.c inside a group, around its calls' own "op"  */ \
    X (BATCH_SAVEPOINT, "SAVEPOINT batch") \
    X (BATCH_RELEASE,   "RELEASE batch") \
    X (BATCH_ROLLBACK_TO, "ROLLBACK TO batch") \
    /*  Expiry  */ \
    X (NEXT_DUE, \
        "SELECT (SELECT min(lease_expires_at) FROM items WHERE status = 1)," \
        "       (SELECT min(stale_at) FROM workers WHERE status = 'active')," \
        "       (SELECT min(run_at) FROM items WHERE status = 4)") \
    /*  Not due for expiry (fire_schedules fires them): for next_due only */ \
    X (SCHEDULES_NEXT, \
        "SELECT min(next_at) FROM schedules WHERE next_at IS NOT NULL") \
    X (EXPIRED_TASKS, \
        "UPDATE workers SET current_item = NULL WHERE current_item IN" \
        " (SELECT seq FROM items WHERE status = 1 AND lease_expires_at <= ?1)") \
    /*  The claims a lapse or a loss fails, read first and then each     */ \
    /*  failed by REQUEUE, since its due time is wp_store_failure_state's,    */ \
    /*  computed in C, item by item.                                      */ \
    X (EXPIRED_ITEMS, \
        "SELECT " WP_SQLITE_REQUEUE_COLUMNS " FROM items i CROSS JOIN pools p" \
        " WHERE i.status = 1 AND i.lease_expires_at <= ?1 AND p.pool_id = i.pool_id") \
    X (LOST_WORKERS, \
        "UPDATE workers SET status = 'lost', current_item = NULL" \
        " WHERE status = 'active' AND stale_at <= ?1 RETURNING worker_id") \
    X (LOST_ITEMS, \
        "SELECT " WP_SQLITE_REQUEUE_COLUMNS " FROM items i INDEXED BY items_claimed" \
        " CROSS JOIN pools p WHERE i.status = 1 AND i.claimed_by = ?1 AND p.pool_id = i.pool_id") \
    /*  What a failure does to a claimed item (fail, lease expiry, lost   */ \
    /*  worker): the new status ?2 (pending, scheduled until ?3, or       */ \
    /*  poisoned), one more attempt, the error ?4; the claim is cleared,  */ \
    /*  or kept as who held it last when poisoned. run_at stays the last  */ \
    /*  due time set.                                                     */ \
    X (REQUEUE, \
        "UPDATE items SET status = ?2, run_at = CASE WHEN ?2 = 4 THEN ?3 ELSE run_at END," \
        " attempts = attempts + 1, error = ?4," \
        " claimed_by = CASE WHEN ?2 = 3 THEN claimed_by END," \
        " claimed_at = CASE WHEN ?2 = 3 THEN claimed_at END," \
        " lease_us = NULL, lease_expires_at = NULL, updated_at = ?5 WHERE seq = ?1") \
    /*  Scheduled items whose time has come become pending (items_due)    */ \
    X (PROMOTE, \
        "UPDATE items SET status = 0, updated_at = ?2 WHERE status = 4 AND run_at <= ?1") \
    /*  Items  */ \
    X (POOL_FIND,       "SELECT pool_id FROM pools WHERE name = ?1") \
    X (POOL_INSERT,     "INSERT INTO pools (name) VALUES (?1)") \
    /*  No row inserted: the id is taken, or the unique key is live (the  */ \
    /*  conflict with items_unique); PUSH_ID_TAKEN, then KEY_HOLDER, say  */ \
    /*  which, in the order of the rule (the id first).                   */ \
    X (PUSH, \
        "INSERT INTO items (pool_id, id, data, status, max_retries, created_at, updated_at," \
        " priority, run_at, unique_key)" \
        " VALUES (?1, ?2, ?3, ?6, ?4, ?5, ?5, ?7, ?8, ?9) ON CONFLICT DO NOTHING") \
    X (PUSH_ID_TAKEN,   "SELECT 1 FROM items WHERE pool_id = ?1 AND id = ?2") \
    X (KEY_HOLDER,      "SELECT id FROM items WHERE " WP_SQLITE_KEY_LIVE) \
    /*  A claim reads the first pending row by (priority, seq): the first  */ \
    /*  entry of the pool's range of items_ready, named, since with        */ \
    /*  statistics the planner prefers the pool's pending range of         */ \
    /*  items_status and a sort of all of it. Then an UPDATE guarded by    */ \
    /*  its status takes it. Both run under the write lock (BEGIN          */ \
    /*  IMMEDIATE or the broker's group), so no other connection can take  */ \
    /*  the row in between; RETURNING would cost an ephemeral table.       */ \
    X (CLAIM_NEXT, \
        "SELECT " WP_SQLITE_ITEM_COLUMNS " FROM items INDEXED BY items_ready" \
        " WHERE pool_id = " WP_SQLITE_POOL_CLAIMABLE " AND status = 0" \
        " ORDER BY priority, seq LIMIT 1") \
    X (CLAIM, \
        "UPDATE items SET status = 1, claimed_by = ?2, claimed_at = ?3, lease_us = ?4," \
        " lease_expires_at = ?3 + ?4, updated_at = ?3 WHERE seq = ?1 AND status = 0") \
    X (TASK_SET,        "UPDATE workers SET current_item = ?2 WHERE worker_id = ?1") \
    X (TASK_CLEAR, \
        "UPDATE workers SET current_item = NULL WHERE worker_id = ?1 AND current_item = ?2") \
    /*  What complete, fail, retry and cancel check, with what a failure  */ \
    /*  and a retry then need (wp_sqlite_item_state); the pool's policy   */ \
    /*  for a failure (POOL_POLICY)                                        */ \
    X (ITEM_STATE, \
        "SELECT seq, status, claimed_by, attempts, max_retries, unique_key, pool_id FROM items" \
        " WHERE pool_id = " WP_SQLITE_POOL " AND id = ?2") \
    X (POOL_POLICY, \
        "SELECT backoff_base, backoff_cap, backoff_jitter FROM pools WHERE pool_id = ?1") \
    X (ITEM_GET, \
        "SELECT " WP_SQLITE_ITEM_COLUMNS " FROM items" \
        " WHERE pool_id = " WP_SQLITE_POOL " AND id = ?2") \
    X (COMPLETE, \
        "UPDATE items SET status = 2, result = ?2, lease_us = NULL, lease_expires_at = NULL," \
        " updated_at = ?3 WHERE seq = ?1") \
    X (SIZE,            "SELECT pending FROM pools WHERE name = ?1") \
    /*  A worker's claims in one pool: items_claimed, never items_status   */ \
    /*  (every claim of the pool), which a planner without statistics      */ \
    /*  would pick.                                                         */ \
    X (RELEASE_TASKS, \
        "UPDATE workers SET current_item = NULL WHERE worker_id = ?2 AND current_item IN" \
        " (SELECT seq FROM items INDEXED BY items_claimed WHERE status = 1 AND claimed_by = ?2" \
        "  AND pool_id = " WP_SQLITE_POOL ")") \
    X (RELEASE_ITEMS, \
        "UPDATE items INDEXED BY items_claimed SET status = 0, claimed_by = NULL, claimed_at = NULL, lease_us = NULL," \
        " lease_expires_at = NULL, updated_at = ?3" \
        " WHERE status = 1 AND claimed_by = ?2 AND pool_id = " WP_SQLITE_POOL) \
    X (RENEW, \
        "UPDATE items SET lease_us = ?2, lease_expires_at = ?3 + ?2" \
        " WHERE status = 1 AND claimed_by = ?1") \
    X (RENEW_OWN, \
        "UPDATE items SET lease_expires_at = ?2 + coalesce (lease_us, ?3)" \
        " WHERE status = 1 AND claimed_by = ?1") \
    /*  Inspection and lifecycle. A list page of several states is one  */ \
    /*  LIST per state, merged by seq in C: each is one range of         */ \
    /*  items_status, where one query over several states would sort.    */ \
    X (LIST, \
        "SELECT " WP_SQLITE_ITEM_COLUMNS " FROM items WHERE pool_id = " WP_SQLITE_POOL \
        " AND status = ?2 AND seq > ?3 ORDER BY seq LIMIT ?4") \
    X (RETRY,           "UPDATE items SET " WP_SQLITE_RETRY ("?2") " WHERE seq = ?1") \
    /*  OR IGNORE: an item whose unique key a live item holds stays       */ \
    /*  poisoned (items_unique refuses it), one retried earlier in this   */ \
    /*  statement included; the rows go in push order.                    */ \
    X (RETRY_ALL, \
        "UPDATE OR IGNORE items SET " WP_SQLITE_RETRY ("?2") \
        " WHERE pool_id = " WP_SQLITE_POOL " AND status = 3") \
    X (CANCEL,          "DELETE FROM items WHERE seq = ?1") \
    X (PURGE_POOL,      "DELETE FROM items WHERE pool_id = " WP_SQLITE_POOL " AND status = ?2") \
    X (SET_PAUSED,      "UPDATE pools SET paused = ?2 WHERE name = ?1") \
    X (SET_BACKOFF, \
        "UPDATE pools SET backoff_base = ?2, backoff_cap = ?3, backoff_jitter = ?4 WHERE name = ?1") \
    /*  Schedules: put replaces the whole record                          */ \
    X (SCHEDULE_PUT, \
        "INSERT OR REPLACE INTO schedules (name, pool, cron, data, priority, max_retries," \
        " next_at, last_fired_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)") \
    X (SCHEDULE_REMOVE, "DELETE FROM schedules WHERE name = ?1") \
    X (SCHEDULE_LIST, \
        "SELECT name, pool, cron, data, priority, max_retries, next_at, last_fired_at," \
        " created_at FROM schedules ORDER BY name") \
    /*  Workers  */ \
    /*  A worker registering again keeps its current task: the store, not */ \
    /*  the worker, knows which claim that is.                            */ \
    X (WORKER_PUT, \
        "INSERT INTO workers (worker_id, host, pid, capabilities, pool_id, started_at," \
        " status, last_heartbeat, heartbeat_interval, stale_at, current_item, metadata)" \
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'active', ?7, ?8, ?9, NULL, ?10)" \
        " ON CONFLICT (worker_id) DO UPDATE SET host = excluded.host, pid = excluded.pid," \
        " capabilities = excluded.capabilities, pool_id = excluded.pool_id," \
        " started_at = excluded.started_at, status = 'active'," \
        " last_heartbeat = excluded.last_heartbeat," \
        " heartbeat_interval = excluded.heartbeat_interval, stale_at = excluded.stale_at," \
        " metadata = excluded.metadata") \
    X (WORKER_GET, \
        "SELECT " WP_SQLITE_WORKER_COLUMNS " FROM workers w" \
        " LEFT JOIN items i ON i.seq = w.current_item WHERE w.worker_id = ?1") \
    X (WORKER_LIST, \
        "SELECT " WP_SQLITE_WORKER_COLUMNS " FROM workers w" \
        " LEFT JOIN items i ON i.seq = w.current_item" \
        " WHERE (?1 IS NULL OR w.pool_id = ?1)" \
        "   AND (?2 IS NULL OR instr (w.capabilities, ?2) > 0)" \
        "   AND (?3 IS NULL OR w.last_heartbeat < ?3)" \
        " ORDER BY w.worker_id") \
    X (WORKER_STATE, \
        "SELECT status, heartbeat_interval, metadata FROM workers WHERE worker_id = ?1") \
    X (HEARTBEAT, \
        "UPDATE workers SET last_heartbeat = ?2, stale_at = ?3, metadata = coalesce (?4, metadata)" \
        " WHERE worker_id = ?1") \
    X (UPDATE_STATUS,   "UPDATE workers SET status = ?2 WHERE worker_id = ?1") \
    /*  Housekeeping  */ \
    X (PURGE,           "DELETE FROM items WHERE status IN (2, 3) AND updated_at < ?1") \
    X (STATS_POOLS, \
        "SELECT name, pending, claimed, done, poisoned, paused, scheduled, backoff_base," \
        " backoff_cap, backoff_jitter FROM pools" \
        " WHERE pending + claimed + done + poisoned + scheduled > 0 OR paused" \
        " OR backoff_base > 0 ORDER BY name") \
    X (STATS_WORKERS, \
        "SELECT status, count(*) FROM workers GROUP BY status ORDER BY status")

#define WP_SQLITE_ENUM_(name, sql) WP_SQL_##name,
typedef enum {
    WP_SQLITE_STATEMENTS (WP_SQLITE_ENUM_)
    WP_SQL_COUNT
} wp_sqlite_stmt_id;
#undef WP_SQLITE_ENUM_

#endif
