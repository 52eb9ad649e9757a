/*  wp_mem_store: the memory store's records and the transitions its call
    files share: wp_store_memory.c (groups, items, housekeeping, the ops
    table), wp_store_memory_admin.c (inspection and lifecycle) and
    wp_store_memory_workers.c (registration) and
    wp_store_memory_schedules.c (schedules). Internal to store/; every
    function here runs with the store's mutex held (between wp_mem_enter and
    wp_mem_leave) unless it says otherwise.  */
#ifndef WP_MEM_STORE_H_INCLUDED
#define WP_MEM_STORE_H_INCLUDED

#include "wp_store_memory_int.h"
#include "wp_mem_heap.h"
#include "wp_mem_map.h"
#include "wp_mem_tree.h"
#include "wp_mem_undo.h"
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>

//  ---------------------------------------------------------------------
//  Small helpers: allocation aborts on failure, times saturate

static inline void *
wp_mem_alloc (size_t size)
{
    void *mem = calloc (1, size ? size : 1);
    if (!mem)
        abort ();
    return mem;
}

//  Far beyond any real time, and far from overflow when added to one
#define WP_MEM_TIME_FAR INT64_C(4000000000000000000)

//  Seconds to microseconds, clamped to +-WP_MEM_TIME_FAR (callers check NaN).
static inline int64_t
wp_mem_usec (double seconds)
{
    double usec = seconds * 1e6;
    if (usec >= (double) WP_MEM_TIME_FAR)
        return WP_MEM_TIME_FAR;
    if (usec <= -(double) WP_MEM_TIME_FAR)
        return -WP_MEM_TIME_FAR;
    return (int64_t) (usec + (usec >= 0 ? 0.5 : -0.5));
}

//  a + b without overflow (an injected clock may return anything)
static inline int64_t
wp_mem_time_add (int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

//  ---------------------------------------------------------------------
//  The store's records

typedef struct _wp_mem_pool_t wp_mem_pool_t;
typedef struct _wp_mem_holder_t wp_mem_holder_t;
typedef struct _wp_mem_item_t wp_mem_item_t;

struct _wp_mem_item_t {
    wp_item_t rec;              //  the record; rec.pool borrows pool->name,
                                //  rec.unique_key is NULL unless given
    wp_mem_tnode_t node;        //  in pool->by_status [rec.status], by seq
    wp_mem_pool_t *pool;        //  the pool holding it
    uint64_t seq;               //  push order: the status index's key
    union {                     //  by status, one of:
        int64_t lease_us;       //  claimed: the lease length asked for
        int64_t updated_at;     //  else: time of the last change, for purge
    };
    union {                     //  by status, so an item pays for one:
        wp_mem_tnode_t ready;   //  pending: in pool->ready, by (priority, seq)
        struct {                //  claimed: neighbours in the list of the
            wp_mem_item_t *prev, *next;     //  holder of rec.claimed_by
        } held;
    } by;
    uint64_t txn_mark;          //  epoch in which its prior state was saved
    uint32_t heap_pos;          //  claimed: in self->leases; scheduled: in
                                //  self->due; done, poisoned: in self->finished
    bool purged;                //  removed in the open group (freed at commit)
};

//  The item a pool's ready index's node is in
static inline wp_mem_item_t *
wp_mem_item_of_ready (const wp_mem_tnode_t *node)
{
    return node ? (wp_mem_item_t *) ((char *) node - offsetof (wp_mem_item_t, by.ready)) : NULL;
}

struct _wp_mem_pool_t {
    char *name;                 //  key in self->pools
    wp_mem_map_t items;         //  id -> wp_mem_item_t, every state
    wp_mem_tree_t by_status [WP_ITEM_STATE_COUNT];  //  items by wp_item_state, each
                                                    //  by seq: list walks them
    wp_mem_tree_t ready;        //  pending items by (priority, seq): claims
                                //  take the first
    wp_mem_map_t unique;        //  unique_key -> the live (pending, scheduled
                                //  or claimed) item that holds it
    bool paused;                //  claims find nothing
    wp_backoff_t backoff;       //  retry policy; base 0: none
    uint64_t txn_mark;          //  epoch in which paused and backoff were saved
};

//  A schedule. While a group is open a removed one stays, rec NULL, until
//  commit (its undo entry points at it)
typedef struct {
    char *name;                 //  key in self->schedules
    wp_schedule_t *rec;         //  the record, or NULL: removed in the group
    uint32_t heap_pos;          //  in self->ticks while rec->next_at != 0
    uint32_t refs;              //  entries of the undo log that point at it
    uint64_t txn_mark;          //  epoch in which its prior state was saved
} wp_mem_schedule_t;

//  The claims of one worker id, in every pool (the worker need not be
//  registered: claim takes any worker id).
struct _wp_mem_holder_t {
    char *worker_id;            //  key in self->holders
    wp_mem_item_t *first;            //  claimed items, most recent first
    size_t count;
};

typedef struct {
    char *id;                   //  key in self->workers; rec is replaced
    wp_worker_t *rec;           //  the record
    int64_t stale_at;           //  last_heartbeat + 2 x heartbeat interval
    uint32_t heap_pos;          //  in self->stale while status is "active"
    uint64_t txn_mark;          //  epoch in which its prior state was saved
} wp_mem_worker_t;

typedef struct {
    wp_store_t base;            //  first, so wp_store_t * converts
    pthread_mutex_t mutex;      //  held for the whole of every call, and
                                //  from savepoint to its end (recursive)
    int64_t now;                //  the clock, read once per call
    wp_mem_map_t pools;         //  name -> wp_mem_pool_t
    wp_mem_map_t holders;       //  worker id -> wp_mem_holder_t
    wp_mem_map_t workers;       //  worker id -> wp_mem_worker_t
    wp_mem_heap_t leases;       //  claimed items by lease expiry
    wp_mem_heap_t finished;     //  done and poisoned items by last change
    wp_mem_heap_t due;          //  scheduled items by run_at
    wp_mem_map_t schedules;     //  name -> wp_mem_schedule_t
    wp_mem_heap_t ticks;        //  schedules by next_at
    wp_mem_heap_t stale;        //  active workers by stale_at
    uint64_t next_seq;          //  seq of the next push
    wp_reap_t reaped;           //  applied since the last wp_store_reap
    bool in_txn;                //  a group is open
    uint64_t txn_id;            //  epoch: bumped at begin and at each
                                //  savepoint, so a record changed after a
                                //  mark is saved again
    wp_reap_t reaped_at_begin;  //  reaped when the group began
    wp_mem_undo_t undo;         //  the group's undo log
    bool has_mark;              //  a savepoint is set
    size_t mark;                //  where it is in the undo log
    wp_reap_t reaped_at_mark;   //  reaped when it was set
    const wp_memory_journal_t *journal;     //  commits go through it, or NULL
} wp_mem_store_t;

//  The status workers are in while they heartbeat
extern const char *wp_mem_active;

//  The item a status index's node is in
static inline wp_mem_item_t *
wp_mem_item_of (const wp_mem_tnode_t *node)
{
    return node ? (wp_mem_item_t *) ((char *) node - offsetof (wp_mem_item_t, node)) : NULL;
}

//  ---------------------------------------------------------------------
//  Shared transitions (wp_store_memory.c)

//  The pool named name, or NULL.
wp_mem_pool_t *wp_mem_pool_lookup (wp_mem_store_t *self, const char *name);

//  The pool named name, created empty if there is none.
wp_mem_pool_t *wp_mem_pool_require (wp_mem_store_t *self, const char *name);

//  Frees an empty pool's structures (the caller frees its items and unlinks
//  it).
void wp_mem_pool_free (wp_mem_pool_t *pool);

//  True if the pool holds no item, is not paused and has no retry policy:
//  not worth keeping.
bool wp_mem_pool_idle (const wp_mem_pool_t *pool);

//  Saves the pool's paused flag and retry policy in the undo log before
//  their first change in the epoch.
void wp_mem_pool_save (wp_mem_store_t *self, wp_mem_pool_t *pool);

//  The item id of pool pool_name, or NULL.
wp_mem_item_t *wp_mem_item_lookup (wp_mem_store_t *self, const char *pool_name, const char *id);

//  Every change of an item's state goes begin (saved for undo, unindexed),
//  change fields, end (reindexed; updated_at now unless claimed).
void wp_mem_item_change_begin (wp_mem_store_t *self, wp_mem_item_t *item);
void wp_mem_item_change_end (wp_mem_store_t *self, wp_mem_item_t *item);

//  Clears the lease, and the claimant unless keep_claimant (done and poisoned
//  items keep who held them last).
void wp_mem_item_clear_claim (wp_mem_item_t *item, bool keep_claimant);

//  Removes an unclaimed item: freed now outside a group, kept in the undo log
//  until commit inside one.
void wp_mem_item_remove (wp_mem_store_t *self, wp_mem_item_t *item);

//  Every change of a worker record goes begin, change, end: the staleness
//  deadline depends on last_heartbeat, the interval and the status.
void wp_mem_worker_change_begin (wp_mem_store_t *self, wp_mem_worker_t *worker);
void wp_mem_worker_change_end (wp_mem_store_t *self, wp_mem_worker_t *worker);

//  Renews every lease worker_id holds to now + lease_us (lease_us < 0, for a
//  heartbeat: by the length each claim has). Returns how many.
uint64_t wp_mem_renew_leases (wp_mem_store_t *self, const char *worker_id, int64_t lease_us);

//  Every call: takes the lock, reads the clock once, applies what is due.
wp_mem_store_t *wp_mem_enter (wp_store_t *base);

//  Releases the lock; returns status.
wp_status wp_mem_leave (wp_mem_store_t *self, wp_status status);

//  The live item of pool holding unique key key, or NULL.
wp_mem_item_t *wp_mem_unique_holder (wp_mem_pool_t *pool, const char *key);

//  ---------------------------------------------------------------------
//  Schedules (wp_store_memory_schedules.c)

//  The ticks heap's order (next_at, then name) and slot.
bool wp_mem_tick_before (const void *a, const void *b);
uint32_t *wp_mem_schedule_slot (void *elem);

//  Frees a schedule unlinked from self->schedules.
void wp_mem_schedule_free (wp_mem_schedule_t *schedule);

//  Undo: gives schedule the record *saved_p (taken, *saved_p nulled; NULL:
//  none, so removed until the group ends), re-indexed.
void wp_mem_schedule_restore (wp_mem_store_t *self, wp_mem_schedule_t *schedule,
                              wp_schedule_t **saved_p);

//  At the end of a group (commit, or rollback of all of it): unlinks and
//  frees the schedules the undo log names that have no record.
void wp_mem_schedule_sweep (wp_mem_store_t *self);

//  Before rollback_to drops the log's entries from index from on (already
//  applied): unlinks and frees the schedules without a record that no
//  entry before from points at (created after the mark).
void wp_mem_schedule_forget (wp_mem_store_t *self, size_t from);

//  ---------------------------------------------------------------------
//  The calls of wp_store_memory_admin.c and wp_store_memory_workers.c, as
//  wp_store_impl.h's ops say

wp_status wp_mem_list_items (wp_store_t *base, const char *pool_name,
                             const wp_item_state *statuses, size_t status_count,
                             size_t limit, const char *cursor, wp_item_list_t **items_out,
                             char **cursor_out);
wp_status wp_mem_retry (wp_store_t *base, const char *pool_name, const char *id);
wp_status wp_mem_retry_all (wp_store_t *base, const char *pool_name, uint64_t *count_out);
wp_status wp_mem_cancel (wp_store_t *base, const char *pool_name, const char *id);
wp_status wp_mem_purge_pool (wp_store_t *base, const char *pool_name,
                             const wp_item_state *statuses, size_t status_count,
                             uint64_t *count_out);
wp_status wp_mem_set_paused (wp_store_t *base, const char *pool_name, bool paused);
wp_status wp_mem_set_backoff (wp_store_t *base, const char *pool_name,
                              const wp_backoff_t *policy);
wp_status wp_mem_schedule_put (wp_store_t *base, const wp_schedule_t *schedule);
wp_status wp_mem_schedule_remove (wp_store_t *base, const char *name);
wp_status wp_mem_schedule_list (wp_store_t *base, wp_schedule_list_t **list_out);
wp_status wp_mem_register (wp_store_t *base, const wp_worker_t *worker,
                           wp_worker_t **worker_out);
wp_status wp_mem_heartbeat (wp_store_t *base, const char *worker_id, const wp_meta_t *metadata);
wp_status wp_mem_update_status (wp_store_t *base, const char *worker_id, const char *status);
wp_status wp_mem_get_worker (wp_store_t *base, const char *worker_id, wp_worker_t **worker_out);
wp_status wp_mem_list_workers (wp_store_t *base, const wp_worker_filter_t *filter,
                               wp_worker_list_t **list_out);

#endif
