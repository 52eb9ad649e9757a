/*  wp_store: the WorkPool and worker-registration backend interface.

    One interface, several implementations: the memory store and the SQLite
    store here, and the remote store in client/ that forwards every call to a
    broker. All show exactly the behaviour of docs/SEMANTICS.md; one
    conformance suite (tests/store/conformance/) runs against each.

    Every call returns a wp_status; on failure wp_store_errmsg() says why in
    words, and the call changed nothing. Out-parameters are written only on
    WP_OK and the caller owns what they point to.

    Transactions: outside wp_store_begin/commit every call commits alone
    before it returns. Between them, calls join one transaction (group
    commit); a call that fails still changes nothing, the others keep their
    effects; nothing is durable until wp_store_commit returns WP_OK. A store
    is not thread-safe: one thread at a time (the memory store excepted, see
    wp_store_memory_new: there a group a thread opens is the store's, and
    other threads' calls join it until it commits or rolls back).

    Expiry: every call that claims or reads items or workers first applies
    what is due (expired leases, stale workers declared lost); wp_store_reap
    does it on demand, for a broker's timer.  */
#ifndef WP_STORE_H_INCLUDED
#define WP_STORE_H_INCLUDED

#include "wp_status.h"
#include "wp_records.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _wp_store_t wp_store_t;

typedef struct {
    bool sync_full;             //  SQLite: synchronous=FULL (power-loss safe)
                                //  instead of NORMAL (broker-crash safe)
    int busy_timeout_ms;        //  SQLite: wait for a lock held by another
                                //  connection; 0: 5000
    double lease;               //  default lease in seconds; 0: 300
    double heartbeat;           //  default heartbeat interval; 0: 10
} wp_store_config_t;

//  Opens the memory store. cfg may be NULL. Its calls are serialized by a
//  mutex, so threads may share it. Caller owns return value.
wp_store_t *wp_store_memory_new (const wp_store_config_t *cfg);

//  Opens (creating, or migrating from an older schema) the SQLite store at
//  path. On failure returns NULL, sets *status (if status) and *message (if
//  message; caller frees) and leaves no file behind that it created.
//  A file that is not a workpool store fails with WP_FAILED_PRECONDITION.
//  Caller owns return value.
wp_store_t *wp_store_sqlite_new (const char *path, const wp_store_config_t *cfg,
                                 wp_status *status, char **message);

//  Opens (creating) the image store at path: the state in memory, as in
//  the memory store, and an image of it in a SQLite file written at every
//  commit, loaded again at open; as durable as the SQLite store and several
//  times faster, but every item it holds is in RAM, and one process owns the
//  file. Same failure contract as wp_store_sqlite_new (a file another
//  process has open: WP_UNAVAILABLE). Caller owns return value.
wp_store_t *wp_store_image_new (const char *path, const wp_store_config_t *cfg,
                                wp_status *status, char **message);

//  Opens (creating, or migrating from an older schema) the PostgreSQL
//  store in the database conninfo names (a libpq conninfo string or URI),
//  in the first schema of its search_path. Several brokers may share one
//  database. A server that cannot be reached: WP_UNAVAILABLE with libpq's
//  message; a schema newer than this build: WP_FAILED_PRECONDITION. Only
//  in builds with WP_WITH_POSTGRES. Same failure contract as
//  wp_store_sqlite_new otherwise. Caller owns return value.
wp_store_t *wp_store_postgres_new (const char *conninfo, const wp_store_config_t *cfg,
                                   wp_status *status, char **message);

//  Opens a store from a backend string: "memory", "sqlite:PATH",
//  "image:PATH" or "postgres:CONNINFO" (WP_UNIMPLEMENTED in a build
//  without PostgreSQL).
//  Same failure contract as wp_store_sqlite_new; an unknown string is
//  WP_INVALID_ARGUMENT. Caller owns return value.
wp_store_t *wp_store_open (const char *spec, const wp_store_config_t *cfg,
                           wp_status *status, char **message);

//  Closes the store (rolling back an open transaction) and nulls *self_p.
void wp_store_destroy (wp_store_t **self_p);

//  The message of the latest failed call, or "" after success. Valid until
//  the next call on this store.
const char *wp_store_errmsg (wp_store_t *self);

//  For tests: the clock every call reads (microseconds since the epoch).
//  NULL restores wp_time_now.
void wp_store_set_clock (wp_store_t *self, int64_t (*now) (void *arg), void *arg);

//  Group commit. begin while a transaction is open is WP_FAILED_PRECONDITION.
//  If commit fails, everything since begin is rolled back.
wp_status wp_store_begin (wp_store_t *self);
wp_status wp_store_commit (wp_store_t *self);
void wp_store_rollback (wp_store_t *self);

//  ---------------------------------------------------------------------
//  WorkPool. pool must pass wp_name_check, else WP_INVALID_ARGUMENT.

//  Queues entry: pending, or scheduled until its delay or run_at when that
//  is ahead of now. *id_out (caller owns) gets the id; *duplicate (may be
//  NULL) is true if an item with entry->id already existed, or one with its
//  unique_key is pending, scheduled or claimed (*id_out is then that item's
//  id); then nothing changed. A run_at more than WP_DELAY_MAX ahead, or both
//  delay and run_at: WP_INVALID_ARGUMENT.
wp_status wp_store_push (wp_store_t *self, const char *pool,
                         const wp_push_entry_t *entry,
                         char **id_out, bool *duplicate);

//  Claims the most urgent pending item (lowest priority, then oldest by
//  push order) for worker_id with a lease of lease seconds (<= 0: the store's default). *item_out is the claimed item, or
//  NULL if none is pending (still WP_OK).
wp_status wp_store_claim (wp_store_t *self, const char *pool,
                          const char *worker_id, double lease,
                          wp_item_t **item_out);

//  Completes a claimed item, storing result (may be NULL). If worker_id is
//  not NULL, the claim must be held by that worker.
//  Unknown id: WP_NOT_FOUND; not claimed, or claimed by another worker:
//  WP_FAILED_PRECONDITION.
wp_status wp_store_complete (wp_store_t *self, const char *pool, const char *id,
                             const uint8_t *result, size_t result_size,
                             const char *worker_id);

//  Fails a claimed item (same preconditions as complete): attempts += 1,
//  error stored (may be NULL); poisoned if attempts >= max_retries, else
//  due again: after retry_after seconds if > 0 (0..WP_DELAY_MAX; the worker
//  saw a Retry-After), else after the pool's backoff (wp_store_set_backoff),
//  else at once; scheduled until then, pending if at once. *state_out (may
//  be NULL) is the item's new state.
wp_status wp_store_fail (wp_store_t *self, const char *pool, const char *id,
                         const char *error, const char *worker_id, double retry_after,
                         wp_item_state *state_out);

//  *size_out is the number of pending items of pool: those claimable now
//  (scheduled ones are not; wp_store_stats counts them apart).
wp_status wp_store_size (wp_store_t *self, const char *pool, uint64_t *size_out);

//  Returns every item of pool claimed by worker_id to pending, without
//  counting an attempt. *count_out: how many.
wp_status wp_store_release_by_worker (wp_store_t *self, const char *pool,
                                      const char *worker_id, uint64_t *count_out);

//  *item_out is the whole item. Unknown id: WP_NOT_FOUND.
wp_status wp_store_get (wp_store_t *self, const char *pool, const char *id,
                        wp_item_t **item_out);

//  Renews the lease of every claim worker_id holds, in every pool, to now +
//  lease (<= 0: the default). *count_out (may be NULL): how many.
wp_status wp_store_renew (wp_store_t *self, const char *worker_id, double lease,
                          uint64_t *count_out);

//  ---------------------------------------------------------------------
//  Batches. Each is one implementation (wp_store.c, on the calls above)
//  that every backend runs, unless it forwards the whole batch (the remote
//  store sends one request), so in-process and remote behave alike. Each is
//  atomic like any call: outside a group it commits alone; inside one it
//  runs under a savepoint, and if it fails it changes nothing.

//  Pushes count entries (1..WP_BATCH_MAX) as wp_store_push would, all or
//  nothing. ids_out is the caller's array of count pointers (each then the
//  caller's); duplicates (may be NULL) the caller's array of count bools. A
//  bad entry: WP_INVALID_ARGUMENT naming its index ("items[3]: ..."),
//  nothing pushed.
wp_status wp_store_push_many (wp_store_t *self, const char *pool,
                              const wp_push_entry_t *entries, size_t count,
                              char **ids_out, bool *duplicates);

//  Claims up to max (1..WP_BATCH_MAX) pending items, most urgent first, stopping
//  early once the items claimed carry max_bytes of data and result (0: no
//  cap), so a reply stays within a message limit. *items_out (caller owns)
//  may be empty; never NULL on WP_OK.
wp_status wp_store_claim_many (wp_store_t *self, const char *pool, const char *worker_id,
                               size_t max, double lease, size_t max_bytes,
                               wp_item_list_t **items_out);

//  Completes count entries (1..WP_BATCH_MAX) as wp_store_complete would, in
//  order. A bad entry or worker_id: WP_INVALID_ARGUMENT naming the index,
//  nothing done. Otherwise WP_OK, and each entry's outcome (WP_OK,
//  WP_NOT_FOUND, WP_FAILED_PRECONDITION) in statuses_out [i] (may be NULL)
//  with its message in messages_out [i] (may be NULL; "" on OK; caller owns
//  each). Any other failure is the store's: the whole batch changes nothing.
wp_status wp_store_complete_many (wp_store_t *self, const char *pool,
                                  const wp_complete_entry_t *entries, size_t count,
                                  const char *worker_id, wp_status *statuses_out,
                                  char **messages_out);

//  Completes id (held by worker_id, required) and claims the next item as
//  wp_store_claim, atomically. If the complete fails, nothing is claimed and
//  its status is returned. *item_out as for wp_store_claim.
wp_status wp_store_complete_and_claim (wp_store_t *self, const char *pool, const char *id,
                                       const uint8_t *result, size_t result_size,
                                       const char *worker_id, double lease,
                                       wp_item_t **item_out);

//  ---------------------------------------------------------------------
//  Inspection and lifecycle (dead letters). Admin verbs: under CURVE only
//  the admin role may call the ones that change state.

//  Pages through the items of pool whose status is one of statuses
//  (status_count 0: any), oldest first (push order). limit: 1..WP_LIST_MAX,
//  0 for WP_LIST_DEFAULT. cursor: NULL for the first page, else the
//  *cursor_out of the page before (opaque text, at most WP_CURSOR_MAX bytes;
//  a malformed one is WP_INVALID_ARGUMENT). *items_out (caller owns) holds
//  each item as wp_store_get returns it; *cursor_out (caller owns) is where
//  the next page starts, or NULL when there is no more. Costs O(log n +
//  limit) however many items the pool holds.
wp_status wp_store_list_items (wp_store_t *self, const char *pool,
                               const wp_item_state *statuses, size_t status_count,
                               size_t limit, const char *cursor,
                               wp_item_list_t **items_out, char **cursor_out);

//  Returns a poisoned or done item to pending: attempts 0, result cleared,
//  error kept until the next failure, claim order by its priority and push
//  order as ever. Unknown id: WP_NOT_FOUND; pending, scheduled or claimed,
//  or its unique_key now held by another item: WP_FAILED_PRECONDITION.
wp_status wp_store_retry (wp_store_t *self, const char *pool, const char *id);

//  Returns every poisoned item of pool to pending as wp_store_retry does,
//  in one transaction, leaving poisoned those whose unique_key another
//  item holds (of several poisoned items with one key, one is retried).
//  *count_out (may be NULL): how many.
wp_status wp_store_retry_all (wp_store_t *self, const char *pool, uint64_t *count_out);

//  Removes a pending, scheduled or poisoned item (its id may then be
//  pushed again).
//  Unknown id: WP_NOT_FOUND; claimed (a worker may be halfway) or done:
//  WP_FAILED_PRECONDITION.
wp_status wp_store_cancel (wp_store_t *self, const char *pool, const char *id);

//  Removes every item of pool whose status is one of statuses (1 or more
//  of pending, scheduled, done, poisoned; claimed is WP_INVALID_ARGUMENT). *count_out
//  (may be NULL): how many.
wp_status wp_store_purge_pool (wp_store_t *self, const char *pool,
                               const wp_item_state *statuses, size_t status_count,
                               uint64_t *count_out);

//  Pauses (paused true) or resumes pool: a paused pool takes pushes, but
//  its claims find nothing until it is resumed. Durable; a pool never
//  pushed to may be paused. wp_store_stats lists paused pools.
wp_status wp_store_set_paused (wp_store_t *self, const char *pool, bool paused);

//  Sets pool's retry policy (wp_backoff_t; NULL or base 0: none, retry at
//  once). Durable; a pool never pushed to may have one. A bad policy:
//  WP_INVALID_ARGUMENT (wp_backoff_check's message).
wp_status wp_store_set_backoff (wp_store_t *self, const char *pool,
                                const wp_backoff_t *policy);

//  ---------------------------------------------------------------------
//  Periodic pushes (admin verbs)

//  Creates, or replaces by name, a schedule from schedule's name, pool,
//  cron, data, priority and max_retries (the times are the store's: next_at
//  the first tick after now, created_at now; a replaced schedule keeps its
//  last_fired_at). A bad cron, name or field: WP_INVALID_ARGUMENT; more
//  than WP_SCHEDULES_MAX: WP_RESOURCE_EXHAUSTED. *schedule_out (may be
//  NULL; caller owns) is the stored record.
wp_status wp_store_schedule_put (wp_store_t *self, const wp_schedule_t *schedule,
                                 wp_schedule_t **schedule_out);

//  Removes the schedule named (its items stay). Unknown: WP_NOT_FOUND.
wp_status wp_store_schedule_remove (wp_store_t *self, const char *name);

//  *list_out (caller owns): every schedule, by name.
wp_status wp_store_schedule_list (wp_store_t *self, wp_schedule_list_t **list_out);

//  Fires every schedule whose next_at is due: pushes one item (id
//  NAME@TICK for the tick next_at names) and moves next_at to the first
//  tick after now, committed together, so a tick fires once across crashes
//  and a downtime that missed several ticks fires one of them (the first)
//  on the way back. *fired_out (may be NULL): items pushed. The broker
//  calls it when wp_store_next_due says; nothing else does.
wp_status wp_store_fire_schedules (wp_store_t *self, uint64_t *fired_out);

//  ---------------------------------------------------------------------
//  Registration

//  Creates or replaces the record of worker->worker_id with status
//  "active" and last_heartbeat now. *worker_out (may be NULL) is the
//  stored record.
wp_status wp_store_register (wp_store_t *self, const wp_worker_t *worker,
                             wp_worker_t **worker_out);

//  Updates last_heartbeat, merges metadata (may be NULL) key by key and
//  renews the worker's leases (each by the length it was claimed with, so a
//  heartbeat never shortens a lease). Unknown: WP_NOT_FOUND; declared lost:
//  WP_FAILED_PRECONDITION (the worker must register again).
wp_status wp_store_heartbeat (wp_store_t *self, const char *worker_id,
                              const wp_meta_t *metadata);

//  Unknown worker: WP_NOT_FOUND. status must be a non-empty name.
wp_status wp_store_update_status (wp_store_t *self, const char *worker_id,
                                  const char *status);

//  *worker_out is the record, or NULL if there is none (still WP_OK).
wp_status wp_store_get_worker (wp_store_t *self, const char *worker_id,
                               wp_worker_t **worker_out);

//  *list_out: the workers the filter matches (NULL: all), by worker_id.
wp_status wp_store_list_workers (wp_store_t *self, const wp_worker_filter_t *filter,
                                 wp_worker_list_t **list_out);

//  ---------------------------------------------------------------------
//  Housekeeping, for the broker

//  What one reap did.
typedef struct {
    uint64_t leases_expired;    //  claims whose lease lapsed
    uint64_t workers_lost;      //  workers declared lost
    uint64_t requeued;          //  items back to pending
    uint64_t poisoned;          //  items poisoned
    uint64_t backed_off;        //  items scheduled by a backoff instead of pending
    uint64_t promoted;          //  scheduled items that fell due (now pending)
} wp_reap_t;

//  Applies everything due now: scheduled items whose run_at has come become
//  pending; expired leases return their items to pending or to scheduled
//  by the pool's backoff (attempts += 1, error "lease expired") or poison
//  them; active workers whose last heartbeat is older than 2 x their
//  interval are declared lost and their claims returned the same way
//  (error "worker lost").
//  *out (may be NULL) says what was reaped since the previous call of
//  wp_store_reap, including what other calls applied on their way (so a
//  broker learns of every item that went back to pending) and, inside a
//  group, what the group applied so far (each told once; a broker counts it
//  only if the group then commits).
wp_status wp_store_reap (wp_store_t *self, wp_reap_t *out);

//  *next_out: the earliest time anything will fall due (a lease, a
//  worker's staleness, a scheduled item's run_at, a schedule's next_at),
//  or 0 if nothing will.
wp_status wp_store_next_due (wp_store_t *self, int64_t *next_out);

//  Deletes done and poisoned items whose last change is older than
//  older_than seconds. *count_out (may be NULL): how many.
wp_status wp_store_purge (wp_store_t *self, double older_than, uint64_t *count_out);

//  *stats_out: items per pool by state, workers by status.
wp_status wp_store_stats (wp_store_t *self, wp_stats_t **stats_out);

//  Wakes from the other processes on one store (several brokers on one
//  PostgreSQL database), so a broker serves its parked claims when another
//  made items claimable (pushed, failed or reclaimed back to pending,
//  released, retried, resumed, fallen due).
//  wake_fd: a file descriptor that turns readable when such a wake arrives,
//  for the caller's poll; -1 if none: a store no other process shares
//  (memory, SQLite, image), or one whose listening connection is lost; then
//  *retry_at (may be NULL) is when wp_store_wake_drain next tries to listen
//  again, 0 never. The first call starts listening (a second connection);
//  the descriptor may change after a drain, so ask before each poll.
int wp_store_wake_fd (wp_store_t *self, int64_t *retry_at);

//  Called with the name of a pool woken (borrowed for the call).
typedef void (wp_store_wake_fn) (const char *pool, void *arg);

//  Calls fn with each pool named by the wakes that arrived since the last
//  drain (a pool may come more than once; this process's own are left
//  out). Does not block, except to listen again once a lost connection's
//  retry_at has passed. Returns true when every pool must be taken as
//  woken: listening has just (re)started, so wakes may have been missed.
bool wp_store_wake_drain (wp_store_t *self, wp_store_wake_fn *fn, void *arg);

#ifdef __cplusplus
}
#endif
#endif
