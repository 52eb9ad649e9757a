/*  wp_store: the WorkPool and worker-registration backend interface.

    One interface, several implementations: the memory store and the SQLite
    store here, and the remote store in client/ that forwards every call to a
    broker. All show exactly the behaviour of docs/semantics.md; one
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

//  Opens a store from a backend string: "memory", "sqlite:PATH" or
//  "image:PATH".
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

//  Queues entry. *id_out (caller owns) gets the id; *duplicate (may be NULL)
//  is true if an item with entry->id already existed (then nothing changed).
wp_status wp_store_push (wp_store_t *self, const char *pool,
                         const wp_push_entry_t *entry,
                         char **id_out, bool *duplicate);

//  Claims the oldest pending item for worker_id with a lease of lease
//  seconds (<= 0: the store's default). *item_out is the claimed item, or
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
//  pending again. *state_out (may be NULL) is the item's new state.
wp_status wp_store_fail (wp_store_t *self, const char *pool, const char *id,
                         const char *error, const char *worker_id,
                         wp_item_state *state_out);

//  *size_out is the number of pending items of pool.
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
} wp_reap_t;

//  Applies everything due now: expired leases return their items to pending
//  (attempts += 1, error "lease expired") or poison them; active workers
//  whose last heartbeat is older than 2 x their interval are declared lost
//  and their claims returned the same way (error "worker lost").
//  *out (may be NULL) says what was reaped since the previous call of
//  wp_store_reap, including what other calls applied on their way (so a
//  broker learns of every item that went back to pending).
wp_status wp_store_reap (wp_store_t *self, wp_reap_t *out);

//  *next_out: the earliest time anything will fall due (a lease or a
//  worker's staleness), or 0 if nothing is pending expiry.
wp_status wp_store_next_due (wp_store_t *self, int64_t *next_out);

//  Deletes done and poisoned items whose last change is older than
//  older_than seconds. *count_out (may be NULL): how many.
wp_status wp_store_purge (wp_store_t *self, double older_than, uint64_t *count_out);

//  *stats_out: items per pool by state, workers by status.
wp_status wp_store_stats (wp_store_t *self, wp_stats_t **stats_out);

#ifdef __cplusplus
}
#endif
#endif
