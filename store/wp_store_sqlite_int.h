/*  wp_store_sqlite_int: what the files of the SQLite store share: the store
    struct, the transaction frame every call runs in, statement access and
    the SQLite-to-wp_status mapping. Internal to store/wp_store_sqlite*.c.

    Every call is framed by wp_sqlite_enter / wp_sqlite_leave:
      enter  begins a transaction unless a group (wp_store_begin) is open,
             applies whatever expiry is due (kept even if the call then
             fails), and for a writing call in a group, or after expiry
             applied something, opens SAVEPOINT op;
      leave  on failure rolls back to the savepoint, or the whole call's
             transaction if there is none (so a failing call changes
             nothing), then commits unless a group is open.
    A call computes its results into locals and hands them to the caller
    only when leave returned WP_OK: nothing is reported that was not
    committed.  */
#ifndef WP_STORE_SQLITE_INT_H_INCLUDED
#define WP_STORE_SQLITE_INT_H_INCLUDED

#include "wp_store_impl.h"
#include "wp_store_sqlite_sql.h"
#include "wp_sqlite_file.h"
#include <sqlite3.h>

//  A pool's row id, remembered so that a push need not look it up: pool
//  rows are never deleted, so an id read in a transaction that committed
//  stays right for good.
#define WP_SQLITE_POOLS_CACHED 8
typedef struct {
    char name [WP_NAME_MAX + 1];
    int64_t id;
} wp_sqlite_pool_ref_t;

typedef struct {
    wp_store_t base;                    //  common part; must come first
    sqlite3 *db;                        //  our connection to the file
    sqlite3_stmt *stmt [WP_SQL_COUNT];  //  prepared once at open
    bool in_group;                      //  between wp_store_begin and commit
    int64_t group_due;                  //  in a group: nothing falls due before
                                        //  this time (0: unknown, ask the file);
                                        //  see wp_sqlite_due_changed
    wp_status group_status;             //  not OK once SQLite rolled the group
                                        //  back on its own (I/O error, full disk)
    char group_errmsg [512];            //  why, for the calls that follow
    bool savepoint;                     //  SAVEPOINT op is open
    int64_t now;                        //  the store clock, read once per call
    wp_reap_t reaped;                   //  committed since the last reap call
    wp_reap_t group_reaped;             //  applied in the open group
    wp_reap_t group_told;               //  of which a reap in the group reported
    wp_reap_t op_reaped;                //  applied by the current call
    bool batch;                         //  SAVEPOINT batch is open (in a group)
    wp_reap_t batch_reaped;             //  group_reaped when it was opened
    wp_sqlite_pool_ref_t pools_known [WP_SQLITE_POOLS_CACHED];  //  committed ids
    size_t pools_known_count;
    size_t pools_known_next;            //  the entry replaced when full
    wp_sqlite_pool_ref_t pools_seen [WP_SQLITE_POOLS_CACHED];   //  read in the
    size_t pools_seen_count;            //  open transaction: known once it commits,
                                        //  forgotten if anything in it rolls back
} wp_sqlite_t;

//  Starts a call: see above. write: the call changes items or workers.
//  On failure nothing is open and errmsg says why.
wp_status wp_sqlite_enter (wp_sqlite_t *self, bool write);

//  Ends a call whose outcome so far is rc; returns the final status (rc, or
//  the commit's failure).
wp_status wp_sqlite_leave (wp_sqlite_t *self, bool write, wp_status rc);

//  A group holds the write lock, so only its own calls change when leases,
//  workers and scheduled items fall due: expiry is then checked against
//  group_due without a query. A claim lowers group_due to its lease's end,
//  a push or a failure that schedules an item to its run_at
//  (wp_sqlite_due_before); a call that renews leases or changes workers'
//  staleness forgets it (wp_sqlite_due_changed). Completes, fails and
//  releases only remove due times, which leaves group_due early: safe.
void wp_sqlite_due_changed (wp_sqlite_t *self);
void wp_sqlite_due_before (wp_sqlite_t *self, int64_t when);

//  Returns statement id, reset and with its bindings cleared.
sqlite3_stmt *wp_sqlite_stmt (wp_sqlite_t *self, wp_sqlite_stmt_id id);

//  Steps stmt, which must return no rows, then resets it. Returns WP_OK or
//  the mapped SQLite failure (errmsg set, naming doing).
wp_status wp_sqlite_run (wp_sqlite_t *self, sqlite3_stmt *stmt, const char *doing);

//  Maps a SQLite result code to a status, sets errmsg to SQLite's message
//  and what the store was doing, and returns the status. Out of memory
//  aborts, as everywhere in workpool.
wp_status wp_sqlite_error (wp_sqlite_t *self, int rc, const char *doing);

//  Binds text or NULL.
void wp_sqlite_bind_text (sqlite3_stmt *stmt, int index, const char *text);
//  Binds a blob (copied) or, when size is 0, NULL.
void wp_sqlite_bind_blob (sqlite3_stmt *stmt, int index, const void *blob, size_t size);

//  Returns seconds as microseconds, rounded, clamped to +/- 2^60 so sums
//  with times never overflow.
int64_t wp_sqlite_us (double seconds);

//  Builds an item of pool from a row of WP_SQLITE_ITEM_COLUMNS. Caller
//  owns it.
wp_item_t *wp_sqlite_item_read (sqlite3_stmt *stmt, const char *pool);

//  *pool_id: the pool's row, created if it does not exist yet.
wp_status wp_sqlite_pool_id (wp_sqlite_t *self, const char *pool, int64_t *pool_id);
//  The transaction committed: the pool ids it read are known for good.
void wp_sqlite_pools_committed (wp_sqlite_t *self);

//  What WP_SQL_ITEM_STATE reads of an item.
typedef struct {
    int64_t seq;
    int64_t pool_id;
    wp_item_state state;
    char *holder;                       //  claimed_by, or NULL
    uint32_t attempts, max_retries;
    char *unique_key;                   //  or NULL
} wp_sqlite_row_t;

//  Reads item id of pool into *row (free it with wp_sqlite_row_clear).
//  Unknown: WP_NOT_FOUND "no item 'X' in pool 'P'".
wp_status wp_sqlite_item_state (wp_sqlite_t *self, const char *pool, const char *id,
                                wp_sqlite_row_t *row);
void wp_sqlite_row_clear (wp_sqlite_row_t *row);

//  Fails claimed item seq, tried attempts times of max_retries, of a pool
//  with policy (base 0: none): poisoned at its last attempt, else due again
//  at wp_store_failure_state's time, scheduled until then or pending at once.
//  *state_out is the new state.
wp_status wp_sqlite_requeue (wp_sqlite_t *self, int64_t seq, uint32_t attempts,
                             uint32_t max_retries, const wp_backoff_t *policy,
                             const char *error, double retry_after, wp_item_state *state_out);

//  The operations, with wp_store_ops_t's signatures: items in
//  wp_store_sqlite_items.c, inspection and lifecycle in
//  wp_store_sqlite_admin.c, workers in wp_store_sqlite_workers.c.
wp_status wp_sqlite_push (wp_store_t *base, const char *pool, const wp_push_entry_t *entry,
                          char **id_out, bool *duplicate);
wp_status wp_sqlite_claim (wp_store_t *base, const char *pool, const char *worker_id,
                           double lease, wp_item_t **item_out);
wp_status wp_sqlite_complete (wp_store_t *base, const char *pool, const char *id,
                              const uint8_t *result, size_t result_size, const char *worker_id);
wp_status wp_sqlite_fail (wp_store_t *base, const char *pool, const char *id,
                          const char *error, const char *worker_id, double retry_after, wp_item_state *state_out);
wp_status wp_sqlite_size (wp_store_t *base, const char *pool, uint64_t *size_out);
wp_status wp_sqlite_release_by_worker (wp_store_t *base, const char *pool,
                                       const char *worker_id, uint64_t *count_out);
wp_status wp_sqlite_get (wp_store_t *base, const char *pool, const char *id,
                         wp_item_t **item_out);
wp_status wp_sqlite_renew (wp_store_t *base, const char *worker_id, double lease,
                           uint64_t *count_out);
wp_status wp_sqlite_list_items (wp_store_t *base, const char *pool,
                                const wp_item_state *statuses, size_t status_count,
                                size_t limit, const char *cursor,
                                wp_item_list_t **items_out, char **cursor_out);
wp_status wp_sqlite_retry (wp_store_t *base, const char *pool, const char *id);
wp_status wp_sqlite_retry_all (wp_store_t *base, const char *pool, uint64_t *count_out);
wp_status wp_sqlite_cancel (wp_store_t *base, const char *pool, const char *id);
wp_status wp_sqlite_purge_pool (wp_store_t *base, const char *pool,
                                const wp_item_state *statuses, size_t status_count,
                                uint64_t *count_out);
wp_status wp_sqlite_set_paused (wp_store_t *base, const char *pool, bool paused);
wp_status wp_sqlite_set_backoff (wp_store_t *base, const char *pool, const wp_backoff_t *policy);
wp_status wp_sqlite_schedule_put (wp_store_t *base, const wp_schedule_t *schedule);
wp_status wp_sqlite_schedule_remove (wp_store_t *base, const char *name);
wp_status wp_sqlite_schedule_list (wp_store_t *base, wp_schedule_list_t **list_out);
wp_status wp_sqlite_register (wp_store_t *base, const wp_worker_t *worker,
                              wp_worker_t **worker_out);
wp_status wp_sqlite_heartbeat (wp_store_t *base, const char *worker_id,
                               const wp_meta_t *metadata);
wp_status wp_sqlite_update_status (wp_store_t *base, const char *worker_id, const char *status);
wp_status wp_sqlite_get_worker (wp_store_t *base, const char *worker_id,
                                wp_worker_t **worker_out);
wp_status wp_sqlite_list_workers (wp_store_t *base, const wp_worker_filter_t *filter,
                                  wp_worker_list_t **list_out);

#endif
