/*  wp_store_postgres_int: what the files of the PostgreSQL store share: the
    store struct, the schema and every statement it prepares, the transaction
    frame every call runs in, parameters and result readers. Internal to
    store/wp_store_postgres*.c; SCHEMA.md tells the schema's story.

    Every call is framed by wp_pg_enter / wp_pg_leave, as in the SQLite store:
      enter  begins a transaction unless a group (wp_store_begin) is open,
             applies whatever expiry is due (kept even if the call then
             fails), and in a group, or after expiry applied something,
             opens SAVEPOINT op;
      leave  on failure rolls back to the savepoint, or the whole call's
             transaction if there is none (so a failing call changes
             nothing), then commits unless a group is open.
    In a group the savepoint of a call that succeeded is released by the
    next call's first round trip (or by the commit), so a call in a group
    costs one round trip more than its own statements, not three.

    Several brokers may share one database: claims take rows with FOR UPDATE
    SKIP LOCKED, so they never queue behind another broker's claim; expiry
    locks what it reclaims (SKIP LOCKED for lapsed leases and lost workers,
    then each change guarded by the state it expects), so an item is
    reclaimed once however many brokers reap at once. Every time is the
    store's clock (wp_store_now), never the server's now ().  */
#ifndef WP_STORE_POSTGRES_INT_H_INCLUDED
#define WP_STORE_POSTGRES_INT_H_INCLUDED

#include "wp_store_impl.h"
#include <libpq-fe.h>

//  The schema version this build writes (table wp_schema_version). A
//  database with a higher version is refused; a lower one is migrated.
#define WP_PG_SCHEMA_VERSION 1

//  The channel a push notifies (pg_notify, delivered at commit) with the
//  pool's name as payload, for a broker that LISTENs to wake its parked
//  claims. PostgreSQL folds identical notifications of one transaction into
//  one, so a group of pushes to one pool sends one.
#define WP_PG_PUSH_CHANNEL "wp_push"

//  The notification of pool (an SQL text expression) on that channel, sent
//  also wherever items become pending without a push: a failure or a lapse
//  back to pending, a release, a retry, a resume, a scheduled item falling
//  due; so a claim parked on one broker is served when another broker makes
//  an item claimable (wp_store_wake_fd).
#define WP_PG_WAKE(pool) "pg_notify ('" WP_PG_PUSH_CHANNEL "', " pool ")"

//  Migration step 1: the whole schema. Times are bigint microseconds since
//  the epoch; status is the number of wp_item_state (0 pending, 1 claimed,
//  2 done, 3 poisoned, 4 scheduled). Names are COLLATE "C": byte order,
//  as the other stores sort them, and cheaper comparisons. The partial
//  indexes serve statements whose WHERE repeats their literal condition.
//  wp_items_status keys on status::integer, so that only the statements
//  that say status::integer (list, purge_pool, retry_all) can use it: a
//  claim ("status = 0") can then only walk wp_items_ready in claim order,
//  whatever the statistics say. With both matching, a planner that expected
//  few pending rows (a table analyzed while small) read the pool's whole
//  pending range from wp_items_status and sorted it, per claim: 19 ms at
//  39,000 pending items, where the walk costs microseconds.
//  No per-pool counters: a counter row every claim and complete updates
//  would serialize every broker on it; size and stats count index entries.
#define WP_PG_MIGRATION_1 \
    "CREATE TABLE wp_pools (" \
    "    pool_id        bigserial PRIMARY KEY," \
    "    name           text COLLATE \"C\" NOT NULL UNIQUE," \
    "    paused         boolean NOT NULL DEFAULT false," \
    "    backoff_base   float8 NOT NULL DEFAULT 0," \
    "    backoff_cap    float8 NOT NULL DEFAULT 0," \
    "    backoff_jitter float8 NOT NULL DEFAULT 0" \
    ");" \
    "CREATE TABLE wp_items (" \
    "    seq              bigserial PRIMARY KEY," \
    "    pool_id          bigint NOT NULL REFERENCES wp_pools (pool_id)," \
    "    id               text COLLATE \"C\" NOT NULL," \
    "    data             bytea NOT NULL," \
    "    status           smallint NOT NULL," \
    "    claimed_by       text COLLATE \"C\"," \
    "    claimed_at       bigint," \
    "    lease_us         bigint," \
    "    lease_expires_at bigint," \
    "    attempts         bigint NOT NULL DEFAULT 0," \
    "    max_retries      bigint NOT NULL," \
    "    result           bytea," \
    "    error            text," \
    "    created_at       bigint NOT NULL," \
    "    updated_at       bigint NOT NULL," \
    "    priority         bigint NOT NULL DEFAULT 0," \
    "    run_at           bigint," \
    "    unique_key       text COLLATE \"C\"," \
    "    UNIQUE (pool_id, id)" \
    ");" \
    "CREATE INDEX wp_items_ready    ON wp_items (pool_id, priority, seq) WHERE status = 0;" \
    "CREATE INDEX wp_items_status   ON wp_items (pool_id, (status::integer), seq);" \
    "CREATE INDEX wp_items_claimed  ON wp_items (claimed_by, pool_id) WHERE status = 1;" \
    "CREATE INDEX wp_items_lease    ON wp_items (lease_expires_at) WHERE status = 1;" \
    "CREATE INDEX wp_items_due      ON wp_items (run_at) WHERE status = 4;" \
    "CREATE INDEX wp_items_finished ON wp_items (updated_at) WHERE status IN (2, 3);" \
    "CREATE UNIQUE INDEX wp_items_unique ON wp_items (pool_id, unique_key)" \
    "    WHERE unique_key IS NOT NULL AND status IN (0, 1, 4);" \
    "CREATE TABLE wp_workers (" \
    "    worker_id          text COLLATE \"C\" PRIMARY KEY," \
    "    host               text," \
    "    pid                bigint," \
    "    capabilities       bytea NOT NULL," \
    "    pool_id            text," \
    "    started_at         bigint NOT NULL," \
    "    status             text COLLATE \"C\" NOT NULL," \
    "    last_heartbeat     bigint NOT NULL," \
    "    heartbeat_interval float8 NOT NULL," \
    "    stale_at           bigint NOT NULL," \
    "    current_item       bigint," \
    "    metadata           bytea NOT NULL" \
    ");" \
    "CREATE INDEX wp_workers_stale ON wp_workers (stale_at) WHERE status = 'active';" \
    "CREATE TABLE wp_schedules (" \
    "    name          text COLLATE \"C\" PRIMARY KEY," \
    "    pool          text NOT NULL," \
    "    cron          text NOT NULL," \
    "    data          bytea NOT NULL," \
    "    priority      bigint NOT NULL," \
    "    max_retries   bigint," \
    "    next_at       bigint," \
    "    last_fired_at bigint," \
    "    created_at    bigint NOT NULL" \
    ");" \
    "CREATE INDEX wp_schedules_next ON wp_schedules (next_at) WHERE next_at IS NOT NULL;"

//  The pool_id of pool name $1; NULL for a pool never pushed to.
#define WP_PG_POOL "(SELECT pool_id FROM wp_pools WHERE name = $1::text)"

//  The columns wp_pg_item_read expects, in order (qualified: i.).
#define WP_PG_ITEM_COLUMNS \
    "i.seq, i.id, i.data, i.status, i.claimed_by, i.claimed_at, i.lease_expires_at, " \
    "i.attempts, i.max_retries, i.result, i.error, i.created_at, i.priority, i.run_at, " \
    "i.unique_key"

//  What a failure needs of a claimed item and its pool (items i, pools p),
//  in order: the row, its attempts and max_retries, the pool's policy, the
//  holder.
#define WP_PG_REQUEUE_COLUMNS \
    "i.seq, i.attempts, i.max_retries, p.backoff_base, p.backoff_cap, p.backoff_jitter, " \
    "i.claimed_by"

//  What retry does to an item: pending as if never tried, the error kept.
#define WP_PG_RETRY(now) \
    "status = 0, attempts = 0, result = NULL, claimed_by = NULL, claimed_at = NULL, " \
    "lease_us = NULL, lease_expires_at = NULL, updated_at = " now

#define WP_PG_WORKER_COLUMNS \
    "w.worker_id, w.host, w.pid, w.capabilities, w.pool_id, w.started_at, " \
    "w.status, w.last_heartbeat, i.id, w.heartbeat_interval, w.metadata"

//  What is due: the earliest lease expiry, stale worker, scheduled item.
#define WP_PG_NEXT_DUE_SQL \
    "SELECT (SELECT min(lease_expires_at) FROM wp_items WHERE status = 1)," \
    "       (SELECT min(stale_at) FROM wp_workers WHERE status = 'active')," \
    "       (SELECT min(run_at) FROM wp_items WHERE status = 4)"

//  Every statement the store prepares once per connection: X (NAME, "SQL").
//  Parameters are cast where they appear, so no statement depends on how
//  the server would guess their types.
#define WP_PG_STATEMENTS(X) \
    /*  What is due, read at the start of every call */ \
    X (NEXT_DUE,        WP_PG_NEXT_DUE_SQL) \
    /*  next_due: what is due, and the earliest schedule */ \
    X (NEXT_DUE_ALL, \
        "SELECT (SELECT min(lease_expires_at) FROM wp_items WHERE status = 1)," \
        "       (SELECT min(stale_at) FROM wp_workers WHERE status = 'active')," \
        "       (SELECT min(run_at) FROM wp_items WHERE status = 4)," \
        "       (SELECT min(next_at) FROM wp_schedules WHERE next_at IS NOT NULL)") \
    /*  The claims whose lease lapsed by $1, locked; one another broker's  */ \
    /*  transaction holds is skipped (it is completing it, or reaping it). */ \
    X (EXPIRED_ITEMS, \
        "SELECT " WP_PG_REQUEUE_COLUMNS " FROM wp_items i JOIN wp_pools p ON p.pool_id = i.pool_id" \
        " WHERE i.status = 1 AND i.lease_expires_at <= $1::bigint ORDER BY i.seq" \
        " FOR UPDATE OF i SKIP LOCKED") \
    /*  Active workers stale by $1 declared lost; a worker another broker  */ \
    /*  is declaring lost (or heartbeating) is skipped.                     */ \
    X (LOST_WORKERS, \
        "UPDATE wp_workers SET status = 'lost', current_item = NULL" \
        " WHERE status = 'active' AND worker_id IN (SELECT worker_id FROM wp_workers" \
        "  WHERE status = 'active' AND stale_at <= $1::bigint ORDER BY worker_id" \
        "  FOR UPDATE SKIP LOCKED) RETURNING worker_id") \
    /*  A lost worker's claims, locked (waiting: only the broker that      */ \
    /*  declared the worker lost walks them, and none may be left behind)  */ \
    X (LOST_ITEMS, \
        "SELECT " WP_PG_REQUEUE_COLUMNS " FROM wp_items i JOIN wp_pools p ON p.pool_id = i.pool_id" \
        " WHERE i.status = 1 AND i.claimed_by = $1::text ORDER BY i.seq FOR UPDATE OF i") \
    /*  A failure of claimed item $1 (fail, lapse, loss): new status $2    */ \
    /*  (pending, scheduled until $3, or poisoned), one more attempt, the  */ \
    /*  error $4; the claim cleared, or kept as who held it last when      */ \
    /*  poisoned; no longer the current task of its holder $6. Guarded by  */ \
    /*  status: an item reclaimed already is not reclaimed again.          */ \
    X (REQUEUE, \
        "WITH u AS (UPDATE wp_items SET status = $2::smallint," \
        "  run_at = CASE WHEN $2::int = 4 THEN $3::bigint ELSE run_at END," \
        "  attempts = attempts + 1, error = $4::text," \
        "  claimed_by = CASE WHEN $2::int = 3 THEN claimed_by END," \
        "  claimed_at = CASE WHEN $2::int = 3 THEN claimed_at END," \
        "  lease_us = NULL, lease_expires_at = NULL, updated_at = $5::bigint" \
        "  WHERE seq = $1::bigint AND status = 1 RETURNING seq, pool_id)," \
        " w AS (UPDATE wp_workers SET current_item = NULL FROM u" \
        "  WHERE worker_id = $6::text AND current_item = u.seq)" \
        " SELECT (SELECT count(*) FROM u)," \
        "  (SELECT count (" WP_PG_WAKE ("p.name") ") FROM u JOIN wp_pools p" \
        "   ON p.pool_id = u.pool_id WHERE $2::int = 0)") \
    /*  Scheduled items due by $1 become pending, each by one broker,     */ \
    /*  which notifies their pools: the others' timers fire too, but find */ \
    /*  nothing left to promote, so would not serve their parked claims   */ \
    X (PROMOTE, \
        "UPDATE wp_items SET status = 0, updated_at = $1::bigint WHERE status = 4 AND seq IN" \
        " (SELECT seq FROM wp_items WHERE status = 4 AND run_at <= $1::bigint" \
        "  FOR UPDATE SKIP LOCKED)" \
        " RETURNING " WP_PG_WAKE ("(SELECT name FROM wp_pools p WHERE p.pool_id = wp_items.pool_id)")) \
    /*  Items  */ \
    X (POOL_FIND,       "SELECT pool_id FROM wp_pools WHERE name = $1::text") \
    X (POOL_INSERT, \
        "INSERT INTO wp_pools (name) VALUES ($1::text) ON CONFLICT (name) DO NOTHING" \
        " RETURNING pool_id") \
    /*  One round trip: the pool's id (NULL: make the pool, push again),  */ \
    /*  the new row's seq (NULL: the id or the unique key was taken, see   */ \
    /*  PUSH_ID_TAKEN and KEY_HOLDER), and a notification of a pending     */ \
    /*  item on WP_PG_PUSH_CHANNEL, sent if the transaction commits.       */ \
    X (PUSH, \
        "WITH p AS (SELECT pool_id FROM wp_pools WHERE name = $1::text)," \
        " ins AS (INSERT INTO wp_items (pool_id, id, data, status, max_retries, created_at," \
        "  updated_at, priority, run_at, unique_key)" \
        "  SELECT pool_id, $2::text, $3::bytea, $6::smallint, $4::bigint, $5::bigint, $5::bigint," \
        "  $7::bigint, $8::bigint, $9::text FROM p ON CONFLICT DO NOTHING RETURNING seq)" \
        " SELECT (SELECT pool_id FROM p), (SELECT seq FROM ins)," \
        "  (SELECT count (pg_notify ('" WP_PG_PUSH_CHANNEL "', $1::text)) FROM ins" \
        "   WHERE $6::int = 0)") \
    X (PUSH_ID_TAKEN,   "SELECT 1 FROM wp_items WHERE pool_id = $1::bigint AND id = $2::text") \
    X (KEY_HOLDER, \
        "SELECT id FROM wp_items WHERE pool_id = $1::bigint AND unique_key = $2::text" \
        " AND unique_key IS NOT NULL AND status IN (0, 1, 4)") \
    /*  One round trip: the first pending row by (priority, seq) that no   */ \
    /*  other transaction holds (wp_items_ready), claimed for worker $2    */ \
    /*  at $3 for $4 us, and made the worker's current task.               */ \
    X (CLAIM, \
        "WITH c AS (SELECT seq FROM wp_items" \
        "  WHERE pool_id = (SELECT pool_id FROM wp_pools WHERE name = $1::text AND NOT paused)" \
        "  AND status = 0 ORDER BY priority, seq LIMIT 1 FOR UPDATE SKIP LOCKED)," \
        " u AS (UPDATE wp_items i SET status = 1, claimed_by = $2::text, claimed_at = $3::bigint," \
        "  lease_us = $4::bigint, lease_expires_at = $3::bigint + $4::bigint," \
        "  updated_at = $3::bigint FROM c WHERE i.seq = c.seq RETURNING " WP_PG_ITEM_COLUMNS ")," \
        " w AS (UPDATE wp_workers SET current_item = u.seq FROM u WHERE worker_id = $2::text)" \
        " SELECT * FROM u") \
    /*  claim_many in one round trip: up to $5 rows as CLAIM takes one,   */ \
    /*  those whose data and result before them (in claim order) come to  */ \
    /*  less than $6 bytes ($6 0: no cap), so the row that crosses the    */ \
    /*  cap is the last, as wp_store.c's loop of claims stops; the last   */ \
    /*  claimed becomes the worker's current task, as after that loop.    */ \
    /*  Rows locked but not taken are free again at commit.               */ \
    X (CLAIM_MANY, \
        "WITH c AS (SELECT seq, priority, octet_length (data) + coalesce (octet_length (result), 0) AS b" \
        "  FROM wp_items" \
        "  WHERE pool_id = (SELECT pool_id FROM wp_pools WHERE name = $1::text AND NOT paused)" \
        "  AND status = 0 ORDER BY priority, seq LIMIT $5::bigint FOR UPDATE SKIP LOCKED)," \
        " k AS (SELECT seq FROM (SELECT seq, sum (b) OVER (ORDER BY priority, seq" \
        "  ROWS UNBOUNDED PRECEDING) - b AS before FROM c) x" \
        "  WHERE $6::bigint = 0 OR before < $6::bigint)," \
        " u AS (UPDATE wp_items i SET status = 1, claimed_by = $2::text, claimed_at = $3::bigint," \
        "  lease_us = $4::bigint, lease_expires_at = $3::bigint + $4::bigint," \
        "  updated_at = $3::bigint FROM k WHERE i.seq = k.seq RETURNING " WP_PG_ITEM_COLUMNS ")," \
        " w AS (UPDATE wp_workers SET current_item =" \
        "  (SELECT seq FROM u ORDER BY priority DESC, seq DESC LIMIT 1)" \
        "  WHERE worker_id = $2::text AND EXISTS (SELECT 1 FROM u))" \
        " SELECT * FROM u ORDER BY priority, seq") \
    /*  What complete, fail, retry and cancel check and then need, the row */ \
    /*  locked so nothing changes it between the check and the change      */ \
    X (ITEM_STATE, \
        "SELECT i.seq, i.status, i.claimed_by, i.attempts, i.max_retries, i.unique_key," \
        " i.pool_id, p.backoff_base, p.backoff_cap, p.backoff_jitter" \
        " FROM wp_items i JOIN wp_pools p ON p.pool_id = i.pool_id" \
        " WHERE p.name = $1::text AND i.id = $2::text FOR UPDATE OF i") \
    X (ITEM_GET, \
        "SELECT " WP_PG_ITEM_COLUMNS " FROM wp_items i WHERE i.pool_id = " WP_PG_POOL \
        " AND i.id = $2::text") \
    /*  A complete is one round trip: item $2 of pool $1 read and locked   */ \
    /*  (s: a row another transaction changed is read as it now is), done  */ \
    /*  with result $3 at $4 if it is claimed (by $5, unless NULL), no     */ \
    /*  longer its holder's current task. The row read, and whether it     */ \
    /*  changed, say why not (NOT_FOUND, FAILED_PRECONDITION).             */ \
    X (COMPLETE, \
        "WITH s AS (SELECT i.seq, i.status, i.claimed_by FROM wp_items i" \
        "  JOIN wp_pools p ON p.pool_id = i.pool_id WHERE p.name = $1::text AND i.id = $2::text" \
        "  FOR UPDATE OF i)," \
        " u AS (UPDATE wp_items SET status = 2, result = $3::bytea, lease_us = NULL," \
        "  lease_expires_at = NULL, updated_at = $4::bigint FROM s WHERE wp_items.seq = s.seq" \
        "  AND s.status = 1 AND ($5::text IS NULL OR s.claimed_by = $5::text)" \
        "  RETURNING wp_items.seq)," \
        " w AS (UPDATE wp_workers SET current_item = NULL FROM u, s" \
        "  WHERE worker_id = s.claimed_by AND current_item = u.seq)" \
        " SELECT s.status, s.claimed_by, (SELECT count(*) FROM u) FROM s") \
    /*  An index-only count of the pool's range of wp_items_ready          */ \
    X (SIZE, \
        "SELECT count(*) FROM wp_items WHERE pool_id = " WP_PG_POOL " AND status = 0") \
    X (RELEASE_ITEMS, \
        "WITH u AS (UPDATE wp_items SET status = 0, claimed_by = NULL, claimed_at = NULL," \
        "  lease_us = NULL, lease_expires_at = NULL, updated_at = $3::bigint" \
        "  WHERE status = 1 AND claimed_by = $2::text AND pool_id = " WP_PG_POOL " RETURNING seq)," \
        " w AS (UPDATE wp_workers SET current_item = NULL" \
        "  WHERE worker_id = $2::text AND current_item IN (SELECT seq FROM u))" \
        " SELECT count(*), count (" WP_PG_WAKE ("$1::text") ") FROM u") \
    X (RENEW, \
        "UPDATE wp_items SET lease_us = $2::bigint, lease_expires_at = $3::bigint + $2::bigint" \
        " WHERE status = 1 AND claimed_by = $1::text") \
    X (RENEW_OWN, \
        "UPDATE wp_items SET lease_expires_at = $2::bigint + coalesce (lease_us, $3::bigint)" \
        " WHERE status = 1 AND claimed_by = $1::text") \
    /*  Inspection and lifecycle: a page of one state is one range of      */ \
    /*  wp_items_status; several states are merged by seq in C.            */ \
    X (LIST, \
        "SELECT " WP_PG_ITEM_COLUMNS " FROM wp_items i WHERE i.pool_id = " WP_PG_POOL \
        " AND i.status::integer = $2::integer AND i.seq > $3::bigint ORDER BY i.seq LIMIT $4::bigint") \
    X (RETRY, \
        "UPDATE wp_items SET " WP_PG_RETRY ("$2::bigint") " WHERE seq = $1::bigint" \
        " RETURNING " WP_PG_WAKE ("(SELECT name FROM wp_pools p WHERE p.pool_id = wp_items.pool_id)")) \
    /*  Poisoned items of pool $1 to pending, but not one whose unique key */ \
    /*  a live item holds, and of several with one key only the first by   */ \
    /*  push order (PostgreSQL has no UPDATE OR IGNORE).                   */ \
    X (RETRY_ALL, \
        "WITH c AS (SELECT i.seq, i.unique_key," \
        "  row_number () OVER (PARTITION BY i.unique_key ORDER BY i.seq) AS n" \
        "  FROM wp_items i WHERE i.pool_id = " WP_PG_POOL " AND i.status::integer = 3" \
        "  AND NOT EXISTS (SELECT 1 FROM wp_items l WHERE l.pool_id = i.pool_id" \
        "   AND l.unique_key = i.unique_key AND l.unique_key IS NOT NULL" \
        "   AND l.status IN (0, 1, 4)))" \
        " UPDATE wp_items SET " WP_PG_RETRY ("$2::bigint") " FROM c" \
        " WHERE wp_items.seq = c.seq AND (c.unique_key IS NULL OR c.n = 1)" \
        " RETURNING " WP_PG_WAKE ("$1::text")) \
    X (CANCEL,          "DELETE FROM wp_items WHERE seq = $1::bigint") \
    X (PURGE_POOL, \
        "DELETE FROM wp_items WHERE pool_id = " WP_PG_POOL " AND status::integer = $2::integer") \
    X (SET_PAUSED, \
        "UPDATE wp_pools SET paused = $2::boolean WHERE name = $1::text" \
        " RETURNING (SELECT " WP_PG_WAKE ("$1::text") " WHERE NOT $2::boolean)") \
    X (SET_BACKOFF, \
        "UPDATE wp_pools SET backoff_base = $2::float8, backoff_cap = $3::float8," \
        " backoff_jitter = $4::float8 WHERE name = $1::text") \
    /*  Schedules: put replaces the whole record                          */ \
    X (SCHEDULE_PUT, \
        "INSERT INTO wp_schedules (name, pool, cron, data, priority, max_retries, next_at," \
        " last_fired_at, created_at) VALUES ($1::text, $2::text, $3::text, $4::bytea," \
        " $5::bigint, $6::bigint, $7::bigint, $8::bigint, $9::bigint)" \
        " ON CONFLICT (name) DO UPDATE SET pool = excluded.pool, cron = excluded.cron," \
        " data = excluded.data, priority = excluded.priority, max_retries = excluded.max_retries," \
        " next_at = excluded.next_at, last_fired_at = excluded.last_fired_at," \
        " created_at = excluded.created_at") \
    X (SCHEDULE_REMOVE, "DELETE FROM wp_schedules WHERE name = $1::text") \
    X (SCHEDULE_LIST, \
        "SELECT name, pool, cron, data, priority, max_retries, next_at, last_fired_at," \
        " created_at FROM wp_schedules ORDER BY name") \
    /*  Workers: registering again keeps the current task                 */ \
    X (WORKER_PUT, \
        "INSERT INTO wp_workers (worker_id, host, pid, capabilities, pool_id, started_at," \
        " status, last_heartbeat, heartbeat_interval, stale_at, current_item, metadata)" \
        " VALUES ($1::text, $2::text, $3::bigint, $4::bytea, $5::text, $6::bigint, 'active'," \
        " $7::bigint, $8::float8, $9::bigint, NULL, $10::bytea)" \
        " ON CONFLICT (worker_id) DO UPDATE SET host = excluded.host, pid = excluded.pid," \
        " capabilities = excluded.capabilities, pool_id = excluded.pool_id," \
        " started_at = excluded.started_at, status = 'active'," \
        " last_heartbeat = excluded.last_heartbeat," \
        " heartbeat_interval = excluded.heartbeat_interval, stale_at = excluded.stale_at," \
        " metadata = excluded.metadata") \
    X (WORKER_GET, \
        "SELECT " WP_PG_WORKER_COLUMNS " FROM wp_workers w" \
        " LEFT JOIN wp_items i ON i.seq = w.current_item WHERE w.worker_id = $1::text") \
    X (WORKER_LIST, \
        "SELECT " WP_PG_WORKER_COLUMNS " FROM wp_workers w" \
        " LEFT JOIN wp_items i ON i.seq = w.current_item" \
        " WHERE ($1::text IS NULL OR w.pool_id = $1::text)" \
        "   AND ($2::bytea IS NULL OR position ($2::bytea IN w.capabilities) > 0)" \
        "   AND ($3::bigint IS NULL OR w.last_heartbeat < $3::bigint)" \
        " ORDER BY w.worker_id") \
    X (WORKER_STATE, \
        "SELECT status, heartbeat_interval, metadata FROM wp_workers WHERE worker_id = $1::text" \
        " FOR UPDATE") \
    X (HEARTBEAT, \
        "UPDATE wp_workers SET last_heartbeat = $2::bigint, stale_at = $3::bigint," \
        " metadata = coalesce ($4::bytea, metadata) WHERE worker_id = $1::text") \
    X (UPDATE_STATUS,   "UPDATE wp_workers SET status = $2::text WHERE worker_id = $1::text") \
    /*  Housekeeping  */ \
    X (PURGE,           "DELETE FROM wp_items WHERE status IN (2, 3) AND updated_at < $1::bigint") \
    X (STATS_POOLS, \
        "SELECT p.name, count(*) FILTER (WHERE i.status = 0), count(*) FILTER (WHERE i.status = 1)," \
        " count(*) FILTER (WHERE i.status = 2), count(*) FILTER (WHERE i.status = 3), p.paused," \
        " count(*) FILTER (WHERE i.status = 4), p.backoff_base, p.backoff_cap, p.backoff_jitter" \
        " FROM wp_pools p LEFT JOIN wp_items i ON i.pool_id = p.pool_id GROUP BY p.pool_id" \
        " HAVING count(i.seq) > 0 OR p.paused OR p.backoff_base > 0 ORDER BY p.name") \
    X (STATS_WORKERS, \
        "SELECT status, count(*) FROM wp_workers GROUP BY status ORDER BY status")

#define WP_PG_ENUM_(name, sql) WP_PG_##name,
typedef enum {
    WP_PG_STATEMENTS (WP_PG_ENUM_)
    WP_PG_COUNT
} wp_pg_stmt_id;
#undef WP_PG_ENUM_

typedef struct {
    wp_store_t base;                    //  common part; must come first
    PGconn *conn;                       //  our connection
    bool prepared;                      //  the statements are prepared on conn
    bool in_group;                      //  between wp_store_begin and commit
    wp_status group_status;             //  not OK once the group's transaction
                                        //  is lost (server, connection)
    char group_errmsg [512];            //  why, for the calls that follow
    bool pending;                       //  the current call's start (BEGIN or
                                        //  RELEASE, due times, SAVEPOINT) is not
                                        //  sent yet: it goes with its first
                                        //  statement, one round trip
    bool frame_failed;                  //  that start failed (and cleaned up)
    bool due_known;                     //  due_next holds (see wp_pg_due_before)
    int64_t due_next;                   //  nothing falls due before this time
                                        //  (INT64_MAX: nothing at all) ...
    int64_t due_read_at;                //  ... as read at this time
    bool savepoint;                     //  the current call opened SAVEPOINT op
    bool op_open;                       //  SAVEPOINT op of a call that succeeded
                                        //  is still open (released lazily)
    int64_t now;                        //  the store clock, read once per call
    wp_reap_t reaped;                   //  committed since the last reap call
    wp_reap_t group_reaped;             //  applied in the open group
    wp_reap_t group_told;               //  of which a reap in the group reported
    wp_reap_t op_reaped;                //  applied by the current call
    bool batch;                         //  SAVEPOINT batch is open (in a group)
    wp_reap_t batch_reaped;             //  group_reaped when it was opened
    char *conninfo;                     //  as opened, for the listening connection
    PGconn *listen;                     //  LISTENs on WP_PG_PUSH_CHANNEL; NULL: not
                                        //  (yet, or lost: see listen_retry_at)
    bool listen_wanted;                 //  wp_store_wake_fd was called
    bool listen_fresh;                  //  listen has just been (re)made: wakes
                                        //  may have been missed before it
    int64_t listen_retry_at;            //  when to try listening again (wp_time_now)
} wp_pg_t;

//  How long a listening connection that could not be made waits before the
//  next try (the broker polls for it meanwhile).
#define WP_PG_LISTEN_RETRY_US 1000000

//  The parameters of one statement, in $ order: text (copied into the
//  struct for numbers) or binary for bytea.
#define WP_PG_PARAMS_MAX 12
typedef struct {
    int count;
    const char *values [WP_PG_PARAMS_MAX];
    int lengths [WP_PG_PARAMS_MAX];
    int formats [WP_PG_PARAMS_MAX];
    char text [WP_PG_PARAMS_MAX][32];
} wp_pg_params_t;

void wp_pg_text (wp_pg_params_t *p, const char *text);      //  NULL: SQL NULL
void wp_pg_int (wp_pg_params_t *p, int64_t value);
void wp_pg_double (wp_pg_params_t *p, double value);
void wp_pg_bool (wp_pg_params_t *p, bool value);
void wp_pg_null (wp_pg_params_t *p);
//  Binds size bytes (not copied: keep blob alive until the statement ran);
//  null_if_empty: an empty blob is SQL NULL, else an empty bytea.
void wp_pg_blob (wp_pg_params_t *p, const void *blob, size_t size, bool null_if_empty);

//  Runs prepared statement id with params (may be NULL), binary results.
//  Returns the result (caller PQclear()s it) or NULL with *status set and
//  errmsg naming doing.
PGresult *wp_pg_exec (wp_pg_t *self, wp_pg_stmt_id id, const wp_pg_params_t *params,
                      const char *doing, wp_status *status);

//  The same for a statement whose rows are not wanted; *changed (may be
//  NULL): the rows it changed.
wp_status wp_pg_run (wp_pg_t *self, wp_pg_stmt_id id, const wp_pg_params_t *params,
                     const char *doing, uint64_t *changed);

//  Sets errmsg from libpq's message and what the store was doing; returns
//  the status the failure stands for (a lost connection: UNAVAILABLE, a
//  serialization failure or deadlock: ABORTED, a full disk:
//  RESOURCE_EXHAUSTED, ...). res may be NULL.
wp_status wp_pg_error (wp_pg_t *self, const PGresult *res, const char *doing);

//  Result readers, either format. NULL reads as 0, NULL, or (blob) NULL
//  with *size 0, as does an empty blob. Strings and blobs: caller owns.
bool wp_pg_is_null (const PGresult *res, int row, int col);
int64_t wp_pg_get_int (const PGresult *res, int row, int col);
double wp_pg_get_double (const PGresult *res, int row, int col);
bool wp_pg_get_bool (const PGresult *res, int row, int col);
char *wp_pg_get_text (const PGresult *res, int row, int col);
uint8_t *wp_pg_get_blob (const PGresult *res, int row, int col, size_t *size);

//  Returns seconds as microseconds, rounded, clamped to +/- 2^60.
int64_t wp_pg_us (double seconds);

//  The frame (see above). write: the call changes items or workers.
wp_status wp_pg_enter (wp_pg_t *self, bool write);
wp_status wp_pg_leave (wp_pg_t *self, bool write, wp_status rc);

//  What is due is read at a call's start only when the store does not
//  know already (due_known): as the SQLite store does in a group, a call
//  that makes something fall due earlier lowers due_next (due_before: a
//  claim's lease end, a scheduled item's run_at), one that may move it
//  either way forgets it (due_changed: renew, heartbeat, register, a
//  worker's status), and a rollback forgets it. Other brokers on the
//  database change due times behind our back, so what was read is also
//  forgotten after WP_PG_DUE_RECHECK_US: their changes reach this store's
//  calls within that time, and wp_store_reap always reads afresh.
#define WP_PG_DUE_RECHECK_US 1000000
void wp_pg_due_before (wp_pg_t *self, int64_t when);
void wp_pg_due_changed (wp_pg_t *self);

//  Builds an item of pool from row of a result of WP_PG_ITEM_COLUMNS.
wp_item_t *wp_pg_item_read (const PGresult *res, int row, const char *pool);

//  *pool_id: the pool's row, created if it does not exist yet.
wp_status wp_pg_pool_id (wp_pg_t *self, const char *pool, int64_t *pool_id);

//  What ITEM_STATE reads of an item, the row locked.
typedef struct {
    int64_t seq;
    int64_t pool_id;
    wp_item_state state;
    char *holder;                       //  claimed_by, or NULL
    uint32_t attempts, max_retries;
    char *unique_key;                   //  or NULL
    wp_backoff_t policy;                //  its pool's
} wp_pg_row_t;

wp_status wp_pg_item_state (wp_pg_t *self, const char *pool, const char *id, wp_pg_row_t *row);
void wp_pg_row_clear (wp_pg_row_t *row);

//  Fails claimed item seq held by holder, tried attempts times of
//  max_retries, of a pool with policy: poisoned at its last attempt, else
//  due again at wp_store_failure_state's time. *state_out: the new state;
//  *changed: false if the item was no longer claimed (reclaimed already).
wp_status wp_pg_requeue (wp_pg_t *self, int64_t seq, const char *holder, uint32_t attempts,
                         uint32_t max_retries, const wp_backoff_t *policy, const char *error,
                         double retry_after, wp_item_state *state_out, bool *changed);

//  The operations, with wp_store_ops_t's signatures: items, inspection,
//  lifecycle and schedules in wp_store_postgres_items.c, workers in
//  wp_store_postgres_workers.c.
wp_status wp_pg_push (wp_store_t *base, const char *pool, const wp_push_entry_t *entry,
                      char **id_out, bool *duplicate);
wp_status wp_pg_claim (wp_store_t *base, const char *pool, const char *worker_id,
                       double lease, wp_item_t **item_out);
wp_status wp_pg_claim_many (wp_store_t *base, const char *pool, const char *worker_id,
                            size_t max, double lease, size_t max_bytes,
                            wp_item_list_t **items_out);
wp_status wp_pg_complete (wp_store_t *base, const char *pool, const char *id,
                          const uint8_t *result, size_t result_size, const char *worker_id);
wp_status wp_pg_fail (wp_store_t *base, const char *pool, const char *id,
                      const char *error, const char *worker_id, double retry_after,
                      wp_item_state *state_out);
wp_status wp_pg_size (wp_store_t *base, const char *pool, uint64_t *size_out);
wp_status wp_pg_release_by_worker (wp_store_t *base, const char *pool,
                                   const char *worker_id, uint64_t *count_out);
wp_status wp_pg_get (wp_store_t *base, const char *pool, const char *id, wp_item_t **item_out);
wp_status wp_pg_renew (wp_store_t *base, const char *worker_id, double lease,
                       uint64_t *count_out);
wp_status wp_pg_list_items (wp_store_t *base, const char *pool,
                            const wp_item_state *statuses, size_t status_count,
                            size_t limit, const char *cursor,
                            wp_item_list_t **items_out, char **cursor_out);
wp_status wp_pg_retry (wp_store_t *base, const char *pool, const char *id);
wp_status wp_pg_retry_all (wp_store_t *base, const char *pool, uint64_t *count_out);
wp_status wp_pg_cancel (wp_store_t *base, const char *pool, const char *id);
wp_status wp_pg_purge_pool (wp_store_t *base, const char *pool,
                            const wp_item_state *statuses, size_t status_count,
                            uint64_t *count_out);
wp_status wp_pg_set_paused (wp_store_t *base, const char *pool, bool paused);
wp_status wp_pg_set_backoff (wp_store_t *base, const char *pool, const wp_backoff_t *policy);
wp_status wp_pg_schedule_put (wp_store_t *base, const wp_schedule_t *schedule);
wp_status wp_pg_schedule_remove (wp_store_t *base, const char *name);
wp_status wp_pg_schedule_list (wp_store_t *base, wp_schedule_list_t **list_out);
wp_status wp_pg_register (wp_store_t *base, const wp_worker_t *worker,
                          wp_worker_t **worker_out);
wp_status wp_pg_heartbeat (wp_store_t *base, const char *worker_id, const wp_meta_t *metadata);
wp_status wp_pg_update_status (wp_store_t *base, const char *worker_id, const char *status);
wp_status wp_pg_get_worker (wp_store_t *base, const char *worker_id,
                            wp_worker_t **worker_out);
wp_status wp_pg_list_workers (wp_store_t *base, const wp_worker_filter_t *filter,
                              wp_worker_list_t **list_out);

#endif
