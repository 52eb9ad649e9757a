/*  wp_store_memory: the memory store. Everything lives in this process and
    is gone when the store is destroyed; one mutex serializes every call, so
    threads may share a store.

    Layout. Pools by name; in each pool the items by id, and per status an
    ordered index by the sequence number given at push (wp_mem_tree): the
    oldest pending item is the first of the pending index, an item that
    returns to pending takes its old place, and List walks the indexes of
    the statuses asked for, merged, from the cursor's seq. Claimed items
    also sit in one heap ordered by lease expiry and in a list per
    claiming worker (a "holder", registered or not); done and poisoned
    items in one heap ordered by their last change, for purge. Active
    workers sit in a heap ordered by the time they go stale. Every state
    change is "unindex, change, index", and whatever falls due next is at
    the top of a heap: checking for due work costs nothing when nothing is
    due. A paused pool keeps its items; claims on it find nothing.

    Groups. Outside begin/commit nothing is logged. Inside, the first change
    to an item, worker or pool's paused flag in an epoch saves its prior
    state in the undo log (wp_mem_undo); items pushed are logged as new and
    items removed are kept until commit. Rollback restores the log newest
    first, re-indexing each item and worker, and restores the reap totals as
    they were at begin. A savepoint marks the log and starts a new epoch, so
    rollback_to restores everything changed since the mark as it was there.
    A transaction belongs to the store, not to a thread: while one is open,
    every thread's calls join it.

    A call that fails checks before it changes anything. What lazy expiry
    applied on the way stays: it is the store catching up with the clock,
    and the next call would apply it anyway.  */
#include "wp_store_memory_int.h"
#include "wp_mem_heap.h"
#include "wp_mem_map.h"
#include "wp_mem_tree.h"
#include "wp_mem_undo.h"
#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  ---------------------------------------------------------------------
//  Small helpers: allocation aborts on failure, times saturate

static void *
s_alloc (size_t size)
{
    void *mem = calloc (1, size ? size : 1);
    if (!mem)
        abort ();
    return mem;
}

static uint8_t *
s_memdup (const uint8_t *data, size_t size)
{
    if (!data || size == 0)
        return NULL;
    uint8_t *copy = malloc (size);
    if (!copy)
        abort ();
    memcpy (copy, data, size);
    return copy;
}

//  Far beyond any real time, and far from overflow when added to one
#define S_TIME_FAR INT64_C(4000000000000000000)

//  Seconds to microseconds, clamped to +-S_TIME_FAR (callers check NaN).
static int64_t
s_usec (double seconds)
{
    double usec = seconds * 1e6;
    if (usec >= (double) S_TIME_FAR)
        return S_TIME_FAR;
    if (usec <= -(double) S_TIME_FAR)
        return -S_TIME_FAR;
    return (int64_t) (usec + (usec >= 0 ? 0.5 : -0.5));
}

//  a + b without overflow (an injected clock may return anything)
static int64_t
s_time_add (int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

//  ---------------------------------------------------------------------
//  The store's records

typedef struct _s_pool_t s_pool_t;
typedef struct _s_holder_t s_holder_t;
typedef struct _s_item_t s_item_t;

struct _s_item_t {
    wp_item_t rec;              //  the record; rec.pool borrows pool->name
    wp_mem_tnode_t node;        //  in pool->by_status [rec.status], by seq
    s_pool_t *pool;             //  the pool holding it
    uint64_t seq;               //  push order: the status index's key
    int64_t updated_at;         //  time of the last change, for purge
    int64_t lease_us;           //  while claimed: the lease length asked for
    s_item_t *prev, *next;      //  while claimed: neighbours in the list of
                                //  the holder of rec.claimed_by
    uint64_t txn_mark;          //  epoch in which its prior state was saved
    uint32_t heap_pos;          //  claimed: in self->leases; done, poisoned:
                                //  in self->finished
    bool purged;                //  removed in the open group (freed at commit)
};

struct _s_pool_t {
    char *name;                 //  key in self->pools
    wp_mem_map_t items;         //  id -> s_item_t, every state
    wp_mem_tree_t by_status [4];    //  items by wp_item_state, each by seq:
                                    //  claims take the first pending one,
                                    //  list walks them
    bool paused;                //  claims find nothing
    uint64_t txn_mark;          //  epoch in which its paused flag was saved
};

//  The claims of one worker id, in every pool (the worker need not be
//  registered: claim takes any worker id).
struct _s_holder_t {
    char *worker_id;            //  key in self->holders
    s_item_t *first;            //  claimed items, most recent first
    size_t count;
};

typedef struct {
    char *id;                   //  key in self->workers; rec is replaced
    wp_worker_t *rec;           //  the record
    int64_t stale_at;           //  last_heartbeat + 2 x heartbeat interval
    uint32_t heap_pos;          //  in self->stale while status is "active"
    uint64_t txn_mark;          //  epoch in which its prior state was saved
} s_worker_t;

typedef struct {
    wp_store_t base;            //  first, so wp_store_t * converts
    pthread_mutex_t mutex;      //  held for the whole of every call
    int64_t now;                //  the clock, read once per call
    wp_mem_map_t pools;         //  name -> s_pool_t
    wp_mem_map_t holders;       //  worker id -> s_holder_t
    wp_mem_map_t workers;       //  worker id -> s_worker_t
    wp_mem_heap_t leases;       //  claimed items by lease expiry
    wp_mem_heap_t finished;     //  done and poisoned items by last change
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
} s_memory_t;

static const char *s_active = "active";

//  Orders; ties go to the older item so results are deterministic

static uint32_t *
s_item_slot (void *elem)
{
    return &((s_item_t *) elem)->heap_pos;
}

static uint32_t *
s_worker_slot (void *elem)
{
    return &((s_worker_t *) elem)->heap_pos;
}

static s_item_t *
s_item_of (const wp_mem_tnode_t *node)
{
    return node ? (s_item_t *) ((char *) node - offsetof (s_item_t, node)) : NULL;
}

static uint64_t
s_item_key (const wp_mem_tnode_t *node)
{
    return s_item_of (node)->seq;
}

static bool
s_lease_before (const void *a, const void *b)
{
    const s_item_t *x = a, *y = b;
    if (x->rec.lease_expires_at != y->rec.lease_expires_at)
        return x->rec.lease_expires_at < y->rec.lease_expires_at;
    return x->seq < y->seq;
}

static bool
s_finished_before (const void *a, const void *b)
{
    const s_item_t *x = a, *y = b;
    if (x->updated_at != y->updated_at)
        return x->updated_at < y->updated_at;
    return x->seq < y->seq;
}

static bool
s_stale_before (const void *a, const void *b)
{
    const s_worker_t *x = a, *y = b;
    if (x->stale_at != y->stale_at)
        return x->stale_at < y->stale_at;
    return strcmp (x->id, y->id) < 0;
}

//  ---------------------------------------------------------------------
//  Pools and items

static s_pool_t *
s_pool_lookup (s_memory_t *self, const char *name)
{
    return (s_pool_t *) wp_mem_map_lookup (&self->pools, name);
}

static s_pool_t *
s_pool_require (s_memory_t *self, const char *name)
{
    s_pool_t *pool = s_pool_lookup (self, name);
    if (!pool) {
        pool = (s_pool_t *) s_alloc (sizeof *pool);
        pool->name = wp_strdup (name);
        for (int state = 0; state < 4; state++)
            wp_mem_tree_init (&pool->by_status [state], s_item_key);
        wp_mem_map_insert (&self->pools, pool->name, pool);
    }
    return pool;
}

//  Frees an empty pool's structures (its items are freed by the caller)
static void
s_pool_free (s_pool_t *pool)
{
    wp_mem_map_release (&pool->items);
    free (pool->name);
    free (pool);
}

static s_item_t *
s_item_lookup (s_memory_t *self, const char *pool_name, const char *id)
{
    s_pool_t *pool = s_pool_lookup (self, pool_name);
    return pool ? (s_item_t *) wp_mem_map_lookup (&pool->items, id) : NULL;
}

static void
s_item_free (s_item_t *item)
{
    free (item->rec.id);
    free (item->rec.data);
    free (item->rec.claimed_by);
    free (item->rec.result);
    free (item->rec.error);
    free (item);
}

static void
s_holder_add (s_memory_t *self, s_item_t *item)
{
    s_holder_t *holder = (s_holder_t *) wp_mem_map_lookup (&self->holders, item->rec.claimed_by);
    if (!holder) {
        holder = (s_holder_t *) s_alloc (sizeof *holder);
        holder->worker_id = wp_strdup (item->rec.claimed_by);
        wp_mem_map_insert (&self->holders, holder->worker_id, holder);
    }
    item->prev = NULL;
    item->next = holder->first;
    if (holder->first)
        holder->first->prev = item;
    holder->first = item;
    holder->count++;
}

static void
s_holder_remove (s_memory_t *self, s_item_t *item)
{
    //  An item's holder is found by its claimant, not kept in every item
    s_holder_t *holder = (s_holder_t *) wp_mem_map_lookup (&self->holders, item->rec.claimed_by);
    assert (holder);
    if (item->prev)
        item->prev->next = item->next;
    else
        holder->first = item->next;
    if (item->next)
        item->next->prev = item->prev;
    item->prev = item->next = NULL;
    if (--holder->count == 0) {
        wp_mem_map_delete (&self->holders, holder->worker_id);
        free (holder->worker_id);
        free (holder);
    }
}

//  Puts the item in the structures its state calls for
static void
s_item_index (s_memory_t *self, s_item_t *item)
{
    wp_mem_tree_insert (&item->pool->by_status [item->rec.status], &item->node);
    if (item->rec.status == WP_ITEM_CLAIMED) {
        wp_mem_heap_push (&self->leases, item);
        s_holder_add (self, item);
    }
    else
    if (item->rec.status != WP_ITEM_PENDING)
        wp_mem_heap_push (&self->finished, item);
}

static void
s_item_unindex (s_memory_t *self, s_item_t *item)
{
    wp_mem_tree_remove (&item->pool->by_status [item->rec.status], &item->node);
    if (item->rec.status == WP_ITEM_CLAIMED) {
        wp_mem_heap_remove (&self->leases, item);
        s_holder_remove (self, item);
    }
    else
    if (item->rec.status != WP_ITEM_PENDING)
        wp_mem_heap_remove (&self->finished, item);
}

//  ---------------------------------------------------------------------
//  The undo log

static wp_undo_t *
s_undo_add (s_memory_t *self, wp_undo_kind kind)
{
    return wp_mem_undo_add (&self->undo, kind);
}

//  Saves the item's state before its first change in the open group
static void
s_item_save (s_memory_t *self, s_item_t *item)
{
    if (!self->in_txn || item->txn_mark == self->txn_id)
        return;
    item->txn_mark = self->txn_id;
    wp_undo_t *undo = s_undo_add (self, WP_UNDO_ITEM);
    undo->item = item;
    undo->status = item->rec.status;
    undo->claimed_by = wp_strdup (item->rec.claimed_by);
    undo->claimed_at = item->rec.claimed_at;
    undo->lease_expires_at = item->rec.lease_expires_at;
    undo->lease_us = item->lease_us;
    undo->attempts = item->rec.attempts;
    undo->result = s_memdup (item->rec.result, item->rec.result_size);
    undo->result_size = item->rec.result_size;
    undo->error = wp_strdup (item->rec.error);
    undo->updated_at = item->updated_at;
}

//  Saves the pool's paused flag before its first change in the epoch
static void
s_pool_save (s_memory_t *self, s_pool_t *pool)
{
    if (!self->in_txn || pool->txn_mark == self->txn_id)
        return;
    pool->txn_mark = self->txn_id;
    wp_undo_t *undo = s_undo_add (self, WP_UNDO_POOL);
    undo->pool = pool;
    undo->paused = pool->paused;
}

static void
s_worker_save (s_memory_t *self, s_worker_t *worker)
{
    if (!self->in_txn || worker->txn_mark == self->txn_id)
        return;
    worker->txn_mark = self->txn_id;
    wp_undo_t *undo = s_undo_add (self, WP_UNDO_WORKER);
    undo->worker = worker;
    undo->saved_rec = wp_worker_dup (worker->rec);
}

//  Every change of an item's state goes begin, change fields, end
static void
s_item_change_begin (s_memory_t *self, s_item_t *item)
{
    s_item_save (self, item);
    s_item_unindex (self, item);
}

static void
s_item_change_end (s_memory_t *self, s_item_t *item)
{
    item->updated_at = self->now;
    s_item_index (self, item);
}

//  Every change of a worker record goes begin, change, end: the staleness
//  deadline depends on last_heartbeat, the interval and the status.
static void
s_worker_change_begin (s_memory_t *self, s_worker_t *worker)
{
    s_worker_save (self, worker);
    if (worker->heap_pos != WP_MEM_NOWHERE)
        wp_mem_heap_remove (&self->stale, worker);
}

static void
s_worker_change_end (s_memory_t *self, s_worker_t *worker)
{
    worker->stale_at = s_time_add (worker->rec->last_heartbeat,
                                   s_usec (2 * worker->rec->heartbeat_interval));
    if (strcmp (worker->rec->status, s_active) == 0)
        wp_mem_heap_push (&self->stale, worker);
}

static void
s_worker_free (s_worker_t *worker)
{
    wp_worker_destroy (&worker->rec);
    free (worker->id);
    free (worker);
}

//  Drops the log entries from index from on; on commit (from 0) that
//  frees the items the group removed
static void
s_undo_discard (s_memory_t *self, size_t from, bool committed)
{
    for (size_t i = from; committed && i < self->undo.count; i++)
        if (self->undo.entries [i].kind == WP_UNDO_ITEM_PURGED)
            s_item_free (self->undo.entries [i].item);
    wp_mem_undo_truncate (&self->undo, from);
}

static void
s_undo_apply (s_memory_t *self, wp_undo_t *undo)
{
    s_item_t *item = undo->item;
    s_worker_t *worker = undo->worker;
    switch (undo->kind) {
        case WP_UNDO_ITEM:
            s_item_unindex (self, item);
            free (item->rec.claimed_by);
            free (item->rec.result);
            free (item->rec.error);
            item->rec.status = undo->status;
            item->rec.claimed_by = undo->claimed_by;
            item->rec.claimed_at = undo->claimed_at;
            item->rec.lease_expires_at = undo->lease_expires_at;
            item->lease_us = undo->lease_us;
            item->rec.attempts = undo->attempts;
            item->rec.result = undo->result;
            item->rec.result_size = undo->result_size;
            item->rec.error = undo->error;
            item->updated_at = undo->updated_at;
            undo->claimed_by = NULL;
            undo->result = NULL;
            undo->error = NULL;
            s_item_index (self, item);
            break;
        case WP_UNDO_ITEM_NEW:
            s_item_unindex (self, item);
            wp_mem_map_delete (&item->pool->items, item->rec.id);
            s_item_free (item);
            break;
        case WP_UNDO_ITEM_PURGED: {
            item->purged = false;
            wp_mem_map_insert (&item->pool->items, item->rec.id, item);
            s_item_index (self, item);
            break;
        }
        case WP_UNDO_POOL:
            ((s_pool_t *) undo->pool)->paused = undo->paused;
            break;
        case WP_UNDO_WORKER:
            if (worker->heap_pos != WP_MEM_NOWHERE)
                wp_mem_heap_remove (&self->stale, worker);
            if (undo->saved_rec) {
                wp_worker_destroy (&worker->rec);
                worker->rec = undo->saved_rec;
                undo->saved_rec = NULL;
                s_worker_change_end (self, worker);
            }
            else {
                wp_mem_map_delete (&self->workers, worker->id);
                s_worker_free (worker);
            }
            break;
    }
}

//  ---------------------------------------------------------------------
//  Item and worker transitions shared by several calls

//  When an item leaves its claimant, a registered claimant that named it
//  as its current task has none any more.
static void
s_current_task_clear (s_memory_t *self, s_item_t *item)
{
    s_worker_t *worker = (s_worker_t *) wp_mem_map_lookup (&self->workers, item->rec.claimed_by);
    if (worker && worker->rec->current_task_id
    &&  strcmp (worker->rec->current_task_id, item->rec.id) == 0) {
        s_worker_save (self, worker);
        free (worker->rec->current_task_id);
        worker->rec->current_task_id = NULL;
    }
}

//  Claim fields go when an item returns to pending; done and poisoned
//  items keep who held them last, but no lease.
static void
s_item_clear_claim (s_item_t *item, bool keep_claimant)
{
    if (!keep_claimant) {
        free (item->rec.claimed_by);
        item->rec.claimed_by = NULL;
        item->rec.claimed_at = 0;
    }
    item->rec.lease_expires_at = 0;
    item->lease_us = 0;
}

//  A failed attempt on a claimed item: fail(), a lapsed lease, a lost
//  worker. Returns the new state.
static wp_item_state
s_item_fail (s_memory_t *self, s_item_t *item, const char *error)
{
    s_current_task_clear (self, item);
    s_item_change_begin (self, item);
    if (item->rec.attempts < UINT32_MAX)
        item->rec.attempts++;
    free (item->rec.error);
    item->rec.error = wp_strdup (error);
    item->rec.status = item->rec.attempts >= item->rec.max_retries
                     ? WP_ITEM_POISONED: WP_ITEM_PENDING;
    s_item_clear_claim (item, item->rec.status == WP_ITEM_POISONED);
    s_item_change_end (self, item);
    return item->rec.status;
}

//  Reclaim by the store itself: counted for wp_store_reap
static void
s_item_reclaim (s_memory_t *self, s_item_t *item, const char *error)
{
    if (s_item_fail (self, item, error) == WP_ITEM_POISONED)
        self->reaped.poisoned++;
    else
        self->reaped.requeued++;
}

//  Back to pending without counting an attempt
static void
s_item_release (s_memory_t *self, s_item_t *item)
{
    s_current_task_clear (self, item);
    s_item_change_begin (self, item);
    item->rec.status = WP_ITEM_PENDING;
    s_item_clear_claim (item, false);
    s_item_change_end (self, item);
}

//  Removes an unclaimed item (purge, cancel): freed now outside a group,
//  kept in the undo log until commit inside one
static void
s_item_remove (s_memory_t *self, s_item_t *item)
{
    s_item_unindex (self, item);
    wp_mem_map_delete (&item->pool->items, item->rec.id);
    if (self->in_txn) {
        item->purged = true;
        s_undo_add (self, WP_UNDO_ITEM_PURGED)->item = item;
    }
    else
        s_item_free (item);
}

//  Copies the claimant's items into a fresh array (caller frees), so that
//  the caller may change them while it walks
static s_item_t **
s_holder_items (s_memory_t *self, const char *worker_id, size_t *count_p)
{
    s_holder_t *holder = (s_holder_t *) wp_mem_map_lookup (&self->holders, worker_id);
    *count_p = 0;
    if (!holder)
        return NULL;
    s_item_t **items = (s_item_t **) s_alloc (holder->count * sizeof (s_item_t *));
    for (s_item_t *item = holder->first; item; item = item->next)
        items [(*count_p)++] = item;
    return items;
}

//  Renews every lease worker_id holds to now + lease_us, which becomes the
//  claim's lease length, or (lease_us < 0, for a heartbeat) to now + the
//  length each claim has: a heartbeat never shortens a lease the worker
//  asked for. Returns how many.
static uint64_t
s_renew_leases (s_memory_t *self, const char *worker_id, int64_t lease_us)
{
    s_holder_t *holder = (s_holder_t *) wp_mem_map_lookup (&self->holders, worker_id);
    uint64_t count = 0;
    //  The item stays claimed by the same worker: only its lease key moves
    for (s_item_t *item = holder ? holder->first : NULL; item; item = item->next) {
        s_item_save (self, item);
        if (lease_us >= 0)
            item->lease_us = lease_us;
        item->rec.lease_expires_at = s_time_add (self->now, item->lease_us);
        item->updated_at = self->now;
        wp_mem_heap_fix (&self->leases, item);
        count++;
    }
    return count;
}

static void
s_worker_lose (s_memory_t *self, s_worker_t *worker)
{
    s_worker_change_begin (self, worker);
    free (worker->rec->status);
    worker->rec->status = wp_strdup ("lost");
    s_worker_change_end (self, worker);
    self->reaped.workers_lost++;

    size_t count;
    s_item_t **items = s_holder_items (self, worker->id, &count);
    for (size_t i = 0; i < count; i++)
        s_item_reclaim (self, items [i], "worker lost");
    free (items);
}

//  Applies everything due by self->now, in the order it fell due
static void
s_apply_due (s_memory_t *self)
{
    while (true) {
        s_item_t *item = (s_item_t *) wp_mem_heap_top (&self->leases);
        s_worker_t *worker = (s_worker_t *) wp_mem_heap_top (&self->stale);
        bool item_due = item && item->rec.lease_expires_at <= self->now;
        bool worker_due = worker && worker->stale_at < self->now;
        if (item_due && (!worker_due || item->rec.lease_expires_at <= worker->stale_at)) {
            self->reaped.leases_expired++;
            s_item_reclaim (self, item, "lease expired");
        }
        else
        if (worker_due)
            s_worker_lose (self, worker);
        else
            break;
    }
}

//  Every call: take the lock, read the clock once, catch up with it
static s_memory_t *
s_enter (wp_store_t *base)
{
    s_memory_t *self = (s_memory_t *) base;
    pthread_mutex_lock (&self->mutex);
    self->now = wp_store_now (base);
    s_apply_due (self);
    return self;
}

static wp_status
s_leave (s_memory_t *self, wp_status status)
{
    pthread_mutex_unlock (&self->mutex);
    return status;
}

//  ---------------------------------------------------------------------
//  Groups

static wp_status
s_begin (wp_store_t *base)
{
    s_memory_t *self = (s_memory_t *) base;
    pthread_mutex_lock (&self->mutex);
    if (self->in_txn)
        return s_leave (self, wp_store_error (base, WP_FAILED_PRECONDITION,
                                              "a transaction is already open"));
    self->in_txn = true;
    self->txn_id++;
    self->reaped_at_begin = self->reaped;
    return s_leave (self, WP_OK);
}

static void s_rollback_locked (s_memory_t *self);

//  Hands the group's changes to the journal, each item, worker and pool
//  once, in its state now. The undo log names each the first time it
//  changed in an epoch, so one changed on both sides of a savepoint (a
//  batch pushes it, the next claims it) is named twice: the pass marks
//  what it wrote with an epoch of its own and skips it the second time.
static wp_status
s_journal_write (s_memory_t *self)
{
    const wp_memory_journal_t *journal = self->journal;
    if (!journal || self->undo.count == 0)
        return WP_OK;
    uint64_t pass = ++self->txn_id;
    wp_status rc = journal->begin (journal->arg);
    for (size_t i = 0; i < self->undo.count && rc == WP_OK; i++) {
        wp_undo_t *undo = &self->undo.entries [i];
        s_item_t *item = undo->item;
        if (undo->kind == WP_UNDO_POOL) {
            s_pool_t *pool = undo->pool;
            if (pool->txn_mark != pass) {
                pool->txn_mark = pass;
                rc = journal->pool (journal->arg, pool->name, pool->paused);
            }
        }
        else
        if (undo->kind == WP_UNDO_ITEM_PURGED)
            rc = journal->item_gone (journal->arg, item->seq);
        else
        if (undo->kind == WP_UNDO_WORKER) {
            s_worker_t *worker = undo->worker;
            if (worker->txn_mark != pass) {
                worker->txn_mark = pass;
                rc = journal->worker (journal->arg, worker->rec);
            }
        }
        else
        if (!item->purged && item->txn_mark != pass) {
            //  The first entry of an item pushed in the group is its "new"
            item->txn_mark = pass;
            wp_memory_item_image_t image = {
                .pool = item->pool->name,
                .rec = &item->rec,
                .seq = item->seq,
                .lease_us = item->lease_us,
                .updated_at = item->updated_at,
                .is_new = undo->kind == WP_UNDO_ITEM_NEW,
            };
            rc = journal->item (journal->arg, &image);
        }
    }
    if (rc == WP_OK)
        rc = journal->commit (journal->arg);
    if (rc != WP_OK)
        journal->rollback (journal->arg);
    return rc;
}

//  A pool with no items that is not paused is not worth keeping
static bool
s_pool_idle (const s_pool_t *pool)
{
    return pool->items.count == 0 && !pool->paused;
}

static wp_status
s_commit (wp_store_t *base)
{
    s_memory_t *self = (s_memory_t *) base;
    pthread_mutex_lock (&self->mutex);
    if (!self->in_txn)
        return s_leave (self, wp_store_error (base, WP_FAILED_PRECONDITION,
                                              "no transaction is open"));
    wp_status rc = s_journal_write (self);
    if (rc != WP_OK) {
        s_rollback_locked (self);
        return s_leave (self, rc);
    }
    //  A pool the group's removals (or a resume) left idle goes once the log
    //  is done with it (a broker purges only inside groups; without this its
    //  pools would pile up). Each is unlinked from the map once, then freed.
    s_pool_t **empty = NULL;
    size_t empty_count = 0;
    for (size_t i = 0; i < self->undo.count; i++) {
        wp_undo_t *undo = &self->undo.entries [i];
        s_pool_t *pool = undo->kind == WP_UNDO_ITEM_PURGED ? ((s_item_t *) undo->item)->pool
                       : undo->kind == WP_UNDO_POOL ? (s_pool_t *) undo->pool : NULL;
        if (pool && s_pool_idle (pool) && wp_mem_map_lookup (&self->pools, pool->name) == pool) {
            wp_mem_map_delete (&self->pools, pool->name);
            empty = (s_pool_t **) realloc (empty, (empty_count + 1) * sizeof (s_pool_t *));
            if (!empty)
                abort ();
            empty [empty_count++] = pool;
        }
    }
    s_undo_discard (self, 0, true);
    for (size_t i = 0; i < empty_count; i++)
        s_pool_free (empty [i]);
    free (empty);
    self->in_txn = false;
    self->has_mark = false;
    return s_leave (self, WP_OK);
}

//  Undoes the log back to index from, newest first
static void
s_undo_back_to (s_memory_t *self, size_t from)
{
    for (size_t i = self->undo.count; i-- > from; )
        s_undo_apply (self, &self->undo.entries [i]);
    s_undo_discard (self, from, false);
}

static void
s_rollback_locked (s_memory_t *self)
{
    if (!self->in_txn)
        return;
    s_undo_back_to (self, 0);
    self->reaped = self->reaped_at_begin;
    self->in_txn = false;
    self->has_mark = false;
}

static void
s_rollback (wp_store_t *base)
{
    s_memory_t *self = (s_memory_t *) base;
    pthread_mutex_lock (&self->mutex);
    s_rollback_locked (self);
    pthread_mutex_unlock (&self->mutex);
}

//  Savepoints: a mark in the undo log, and a new epoch so that whatever
//  changes after the mark is saved again, as it was at the mark
static wp_status
s_savepoint (wp_store_t *base)
{
    s_memory_t *self = (s_memory_t *) base;
    pthread_mutex_lock (&self->mutex);
    if (!self->in_txn)
        return s_leave (self, wp_store_error (base, WP_FAILED_PRECONDITION,
                                              "no transaction is open"));
    self->has_mark = true;
    self->mark = self->undo.count;
    self->reaped_at_mark = self->reaped;
    self->txn_id++;
    return s_leave (self, WP_OK);
}

static void
s_release (wp_store_t *base)
{
    s_memory_t *self = (s_memory_t *) base;
    pthread_mutex_lock (&self->mutex);
    self->has_mark = false;
    pthread_mutex_unlock (&self->mutex);
}

//  Undoes back to the mark, which stays set (as SQLite's ROLLBACK TO)
static void
s_rollback_to (wp_store_t *base)
{
    s_memory_t *self = (s_memory_t *) base;
    pthread_mutex_lock (&self->mutex);
    if (self->in_txn && self->has_mark) {
        s_undo_back_to (self, self->mark);
        self->reaped = self->reaped_at_mark;
        self->txn_id++;
    }
    pthread_mutex_unlock (&self->mutex);
}

//  ---------------------------------------------------------------------
//  WorkPool

static wp_status
s_push (wp_store_t *base, const char *pool_name, const wp_push_entry_t *entry,
        char **id_out, bool *duplicate)
{
    //  getrandom is a system call: make the id before taking the lock
    char uuid [WP_UUID_LEN + 1];
    if (!entry->id)
        wp_uuid_new (uuid);
    s_memory_t *self = s_enter (base);
    if (entry->id) {
        s_item_t *existing = s_item_lookup (self, pool_name, entry->id);
        if (existing) {
            *id_out = wp_strdup (existing->rec.id);
            if (duplicate)
                *duplicate = true;
            return s_leave (self, WP_OK);
        }
    }
    s_pool_t *pool = s_pool_require (self, pool_name);
    s_item_t *item = (s_item_t *) s_alloc (sizeof *item);
    if (entry->id)
        item->rec.id = wp_strdup (entry->id);
    else {
        while (wp_mem_map_lookup (&pool->items, uuid))
            wp_uuid_new (uuid);
        item->rec.id = wp_strdup (uuid);
    }
    item->rec.pool = pool->name;
    item->rec.data = s_memdup (entry->data, entry->data_size);
    item->rec.data_size = entry->data_size;
    item->rec.status = WP_ITEM_PENDING;
    item->rec.max_retries = entry->max_retries < 0
                          ? WP_DEFAULT_MAX_RETRIES: (uint32_t) entry->max_retries;
    item->rec.created_at = self->now;
    item->pool = pool;
    item->seq = self->next_seq++;
    item->heap_pos = WP_MEM_NOWHERE;
    wp_mem_map_insert (&pool->items, item->rec.id, item);
    s_item_change_end (self, item);
    if (self->in_txn) {
        item->txn_mark = self->txn_id;
        s_undo_add (self, WP_UNDO_ITEM_NEW)->item = item;
    }
    *id_out = wp_strdup (item->rec.id);
    if (duplicate)
        *duplicate = false;
    return s_leave (self, WP_OK);
}

static wp_status
s_claim (wp_store_t *base, const char *pool_name, const char *worker_id,
         double lease, wp_item_t **item_out)
{
    s_memory_t *self = s_enter (base);
    s_pool_t *pool = s_pool_lookup (self, pool_name);
    s_item_t *item = pool && !pool->paused
                   ? s_item_of (wp_mem_tree_first (&pool->by_status [WP_ITEM_PENDING])) : NULL;
    if (!item) {
        *item_out = NULL;
        return s_leave (self, WP_OK);
    }
    int64_t lease_us = s_usec (lease > 0 ? lease : self->base.config.lease);
    s_item_change_begin (self, item);
    item->rec.status = WP_ITEM_CLAIMED;
    item->rec.claimed_by = wp_strdup (worker_id);
    item->rec.claimed_at = self->now;
    item->rec.lease_expires_at = s_time_add (self->now, lease_us);
    item->lease_us = lease_us;
    s_item_change_end (self, item);

    s_worker_t *worker = (s_worker_t *) wp_mem_map_lookup (&self->workers, worker_id);
    if (worker) {
        s_worker_save (self, worker);
        free (worker->rec->current_task_id);
        worker->rec->current_task_id = wp_strdup (item->rec.id);
    }
    *item_out = wp_item_dup (&item->rec);
    return s_leave (self, WP_OK);
}

//  Finds the item complete or fail may act on, or says why there is none
static wp_status
s_claimed_item (s_memory_t *self, const char *pool_name, const char *id,
                const char *worker_id, s_item_t **item_p)
{
    s_item_t *item = s_item_lookup (self, pool_name, id);
    if (!item)
        return wp_store_error (&self->base, WP_NOT_FOUND,
                               "no item '%s' in pool '%s'", id, pool_name);
    if (item->rec.status != WP_ITEM_CLAIMED)
        return wp_store_error (&self->base, WP_FAILED_PRECONDITION,
                               "item '%s' is %s, not claimed", id,
                               wp_item_state_name (item->rec.status));
    if (worker_id && strcmp (item->rec.claimed_by, worker_id) != 0)
        return wp_store_error (&self->base, WP_FAILED_PRECONDITION,
                               "item '%s' is claimed by '%s', not by '%s'", id,
                               item->rec.claimed_by, worker_id);
    *item_p = item;
    return WP_OK;
}

static wp_status
s_complete (wp_store_t *base, const char *pool_name, const char *id,
            const uint8_t *result, size_t result_size, const char *worker_id)
{
    s_memory_t *self = s_enter (base);
    s_item_t *item = NULL;
    wp_status rc = s_claimed_item (self, pool_name, id, worker_id, &item);
    if (rc != WP_OK)
        return s_leave (self, rc);
    s_current_task_clear (self, item);
    s_item_change_begin (self, item);
    item->rec.status = WP_ITEM_DONE;
    free (item->rec.result);
    item->rec.result = s_memdup (result, result_size);
    item->rec.result_size = item->rec.result ? result_size : 0;
    s_item_clear_claim (item, true);
    s_item_change_end (self, item);
    return s_leave (self, WP_OK);
}

static wp_status
s_fail (wp_store_t *base, const char *pool_name, const char *id,
        const char *error, const char *worker_id, wp_item_state *state_out)
{
    s_memory_t *self = s_enter (base);
    s_item_t *item = NULL;
    wp_status rc = s_claimed_item (self, pool_name, id, worker_id, &item);
    if (rc != WP_OK)
        return s_leave (self, rc);
    wp_item_state state = s_item_fail (self, item, error);
    if (state_out)
        *state_out = state;
    return s_leave (self, WP_OK);
}

static wp_status
s_size (wp_store_t *base, const char *pool_name, uint64_t *size_out)
{
    s_memory_t *self = s_enter (base);
    s_pool_t *pool = s_pool_lookup (self, pool_name);
    *size_out = pool ? pool->by_status [WP_ITEM_PENDING].count : 0;
    return s_leave (self, WP_OK);
}

static wp_status
s_release_by_worker (wp_store_t *base, const char *pool_name,
                     const char *worker_id, uint64_t *count_out)
{
    s_memory_t *self = s_enter (base);
    size_t count;
    s_item_t **items = s_holder_items (self, worker_id, &count);
    uint64_t released = 0;
    for (size_t i = 0; i < count; i++)
        if (strcmp (items [i]->pool->name, pool_name) == 0) {
            s_item_release (self, items [i]);
            released++;
        }
    free (items);
    *count_out = released;
    return s_leave (self, WP_OK);
}

static wp_status
s_get (wp_store_t *base, const char *pool_name, const char *id, wp_item_t **item_out)
{
    s_memory_t *self = s_enter (base);
    s_item_t *item = s_item_lookup (self, pool_name, id);
    if (!item)
        return s_leave (self, wp_store_error (base, WP_NOT_FOUND,
                                              "no item '%s' in pool '%s'", id, pool_name));
    *item_out = wp_item_dup (&item->rec);
    return s_leave (self, WP_OK);
}

static wp_status
s_renew (wp_store_t *base, const char *worker_id, double lease, uint64_t *count_out)
{
    s_memory_t *self = s_enter (base);
    *count_out = s_renew_leases (self, worker_id,
                                 s_usec (lease > 0 ? lease : self->base.config.lease));
    return s_leave (self, WP_OK);
}

//  ---------------------------------------------------------------------
//  Inspection and lifecycle

//  Outside a group an idle pool goes at once (inside, commit sees to it)
static void
s_pool_drop_if_idle (s_memory_t *self, s_pool_t *pool)
{
    if (!self->in_txn && s_pool_idle (pool)) {
        wp_mem_map_delete (&self->pools, pool->name);
        s_pool_free (pool);
    }
}

//  Items of pool in the given states (each at most once, in range), the
//  set of all four if count is 0; returns how many
static size_t
s_state_set (const wp_item_state *statuses, size_t count, wp_item_state set [4])
{
    bool seen [4] = { false, false, false, false };
    size_t size = 0;
    for (size_t i = 0; i < (count ? count : 4); i++) {
        wp_item_state state = count ? statuses [i] : (wp_item_state) i;
        if ((int) state >= 0 && state <= WP_ITEM_POISONED && !seen [state]) {
            seen [state] = true;
            set [size++] = state;
        }
    }
    return size;
}

//  A cursor is the seq of the last item listed, in decimal
static bool
s_cursor_parse (const char *cursor, uint64_t *seq_out)
{
    size_t length = strlen (cursor);
    if (length == 0 || length > 20)
        return false;
    uint64_t seq = 0;
    for (const char *p = cursor; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        unsigned digit = (unsigned) (*p - '0');
        if (seq > (UINT64_MAX - digit) / 10)
            return false;
        seq = seq * 10 + digit;
    }
    *seq_out = seq;
    return true;
}

//  One walk per state in the set, merged by seq: O(log n) to start each,
//  then O(1) amortized per item, so a page costs O(log n + limit)
static wp_status
s_list_items (wp_store_t *base, const char *pool_name,
              const wp_item_state *statuses, size_t status_count,
              size_t limit, const char *cursor,
              wp_item_list_t **items_out, char **cursor_out)
{
    uint64_t after = 0;
    if (cursor && !s_cursor_parse (cursor, &after))
        return wp_store_error (base, WP_INVALID_ARGUMENT, "cursor is not one this store made");
    if (limit == 0)
        limit = WP_LIST_DEFAULT;
    if (limit > WP_LIST_MAX)
        limit = WP_LIST_MAX;
    s_memory_t *self = s_enter (base);
    wp_item_list_t *list = wp_item_list_new ();
    char *next_cursor = NULL;
    s_pool_t *pool = s_pool_lookup (self, pool_name);
    wp_item_state set [4];
    size_t set_size = s_state_set (statuses, status_count, set);
    if (pool) {
        wp_mem_tree_walk_t walks [4];
        for (size_t i = 0; i < set_size; i++)
            wp_mem_tree_walk_start (&walks [i], &pool->by_status [set [i]], cursor == NULL, after);
        uint64_t last_seq = 0;
        while (true) {
            //  The smallest seq at the head of the walks
            size_t best = set_size;
            for (size_t i = 0; i < set_size; i++) {
                s_item_t *head = s_item_of (wp_mem_tree_walk_peek (&walks [i]));
                if (head && (best == set_size
                         ||  head->seq < s_item_of (wp_mem_tree_walk_peek (&walks [best]))->seq))
                    best = i;
            }
            if (best == set_size)
                break;
            if (list->count == limit) {
                char text [24];
                snprintf (text, sizeof text, "%" PRIu64, last_seq);
                next_cursor = wp_strdup (text);
                break;
            }
            s_item_t *item = s_item_of (wp_mem_tree_walk_peek (&walks [best]));
            wp_item_t *copy = wp_item_dup (&item->rec);
            wp_item_list_append (list, &copy);
            last_seq = item->seq;
            wp_mem_tree_walk_next (&walks [best]);
        }
        for (size_t i = 0; i < set_size; i++)
            wp_mem_tree_walk_end (&walks [i]);
    }
    *items_out = list;
    *cursor_out = next_cursor;
    return s_leave (self, WP_OK);
}

//  Back to pending from done or poisoned, as new but for its error
static void
s_item_retry (s_memory_t *self, s_item_t *item)
{
    s_item_change_begin (self, item);
    item->rec.status = WP_ITEM_PENDING;
    item->rec.attempts = 0;
    free (item->rec.result);
    item->rec.result = NULL;
    item->rec.result_size = 0;
    s_item_clear_claim (item, false);
    s_item_change_end (self, item);
}

static wp_status
s_retry (wp_store_t *base, const char *pool_name, const char *id)
{
    s_memory_t *self = s_enter (base);
    s_item_t *item = s_item_lookup (self, pool_name, id);
    if (!item)
        return s_leave (self, wp_store_error (base, WP_NOT_FOUND,
                                              "no item '%s' in pool '%s'", id, pool_name));
    if (item->rec.status != WP_ITEM_DONE && item->rec.status != WP_ITEM_POISONED)
        return s_leave (self, wp_store_error (base, WP_FAILED_PRECONDITION,
                                              "item '%s' is %s: only poisoned or done items "
                                              "can be retried", id,
                                              wp_item_state_name (item->rec.status)));
    s_item_retry (self, item);
    return s_leave (self, WP_OK);
}

//  The items of one of pool's status indexes, in a fresh array (caller
//  frees), so that the caller may move them while it walks
static s_item_t **
s_items_in (s_pool_t *pool, wp_item_state state, size_t *count_p)
{
    wp_mem_tree_t *tree = &pool->by_status [state];
    s_item_t **items = (s_item_t **) s_alloc (tree->count * sizeof (s_item_t *));
    size_t count = 0;
    wp_mem_tree_walk_t walk;
    wp_mem_tree_walk_start (&walk, tree, true, 0);
    for (wp_mem_tnode_t *node; (node = wp_mem_tree_walk_peek (&walk));
         wp_mem_tree_walk_next (&walk))
        items [count++] = s_item_of (node);
    wp_mem_tree_walk_end (&walk);
    *count_p = count;
    return items;
}

static wp_status
s_retry_all (wp_store_t *base, const char *pool_name, uint64_t *count_out)
{
    s_memory_t *self = s_enter (base);
    s_pool_t *pool = s_pool_lookup (self, pool_name);
    size_t count = 0;
    if (pool) {
        s_item_t **items = s_items_in (pool, WP_ITEM_POISONED, &count);
        for (size_t i = 0; i < count; i++)
            s_item_retry (self, items [i]);
        free (items);
    }
    *count_out = count;
    return s_leave (self, WP_OK);
}

static wp_status
s_cancel (wp_store_t *base, const char *pool_name, const char *id)
{
    s_memory_t *self = s_enter (base);
    s_item_t *item = s_item_lookup (self, pool_name, id);
    if (!item)
        return s_leave (self, wp_store_error (base, WP_NOT_FOUND,
                                              "no item '%s' in pool '%s'", id, pool_name));
    if (item->rec.status == WP_ITEM_CLAIMED)
        return s_leave (self, wp_store_error (base, WP_FAILED_PRECONDITION,
                                              "item '%s' is claimed by '%s': a worker may be "
                                              "halfway; fail or release it first", id,
                                              item->rec.claimed_by));
    if (item->rec.status == WP_ITEM_DONE)
        return s_leave (self, wp_store_error (base, WP_FAILED_PRECONDITION,
                                              "item '%s' is done: purge removes finished items",
                                              id));
    s_pool_t *pool = item->pool;
    s_item_remove (self, item);
    s_pool_drop_if_idle (self, pool);
    return s_leave (self, WP_OK);
}

//  wp_store.c has refused a set naming claimed; claimed items are skipped
//  here all the same, since a worker may be halfway
static wp_status
s_purge_pool (wp_store_t *base, const char *pool_name,
              const wp_item_state *statuses, size_t status_count, uint64_t *count_out)
{
    s_memory_t *self = s_enter (base);
    s_pool_t *pool = s_pool_lookup (self, pool_name);
    uint64_t removed = 0;
    wp_item_state set [4];
    size_t set_size = s_state_set (statuses, status_count, set);
    for (size_t i = 0; pool && status_count > 0 && i < set_size; i++) {
        if (set [i] == WP_ITEM_CLAIMED)
            continue;
        size_t count;
        s_item_t **items = s_items_in (pool, set [i], &count);
        for (size_t j = 0; j < count; j++)
            s_item_remove (self, items [j]);
        free (items);
        removed += count;
    }
    if (pool)
        s_pool_drop_if_idle (self, pool);
    *count_out = removed;
    return s_leave (self, WP_OK);
}

static wp_status
s_set_paused (wp_store_t *base, const char *pool_name, bool paused)
{
    s_memory_t *self = s_enter (base);
    s_pool_t *pool = s_pool_lookup (self, pool_name);
    if (!pool && !paused)
        return s_leave (self, WP_OK);
    if (!pool)
        pool = s_pool_require (self, pool_name);
    if (pool->paused != paused) {
        s_pool_save (self, pool);
        pool->paused = paused;
    }
    s_pool_drop_if_idle (self, pool);
    return s_leave (self, WP_OK);
}

//  ---------------------------------------------------------------------
//  Registration

static wp_status
s_register (wp_store_t *base, const wp_worker_t *worker, wp_worker_t **worker_out)
{
    s_memory_t *self = s_enter (base);
    wp_worker_t *rec = wp_worker_dup (worker);
    free (rec->status);
    rec->status = wp_strdup (s_active);
    rec->last_heartbeat = self->now;
    if (rec->started_at == 0)
        rec->started_at = self->now;
    if (rec->heartbeat_interval <= 0)
        rec->heartbeat_interval = self->base.config.heartbeat;
    //  The store, not the caller, knows which claim is current; a worker
    //  that re-registers keeps it while it still holds the item
    free (rec->current_task_id);
    rec->current_task_id = NULL;

    s_worker_t *entry = (s_worker_t *) wp_mem_map_lookup (&self->workers, worker->worker_id);
    if (entry) {
        s_worker_change_begin (self, entry);
        rec->current_task_id = entry->rec->current_task_id;
        entry->rec->current_task_id = NULL;
        wp_worker_destroy (&entry->rec);
        entry->rec = rec;
    }
    else {
        entry = (s_worker_t *) s_alloc (sizeof *entry);
        entry->id = wp_strdup (worker->worker_id);
        entry->rec = rec;
        entry->heap_pos = WP_MEM_NOWHERE;
        wp_mem_map_insert (&self->workers, entry->id, entry);
        if (self->in_txn) {
            entry->txn_mark = self->txn_id;
            s_undo_add (self, WP_UNDO_WORKER)->worker = entry;
        }
    }
    s_worker_change_end (self, entry);
    if (worker_out)
        *worker_out = wp_worker_dup (entry->rec);
    return s_leave (self, WP_OK);
}

static wp_status
s_heartbeat (wp_store_t *base, const char *worker_id, const wp_meta_t *metadata)
{
    s_memory_t *self = s_enter (base);
    s_worker_t *worker = (s_worker_t *) wp_mem_map_lookup (&self->workers, worker_id);
    if (!worker)
        return s_leave (self, wp_store_error (base, WP_NOT_FOUND, "no worker '%s'", worker_id));
    if (strcmp (worker->rec->status, "lost") == 0)
        return s_leave (self, wp_store_error (base, WP_FAILED_PRECONDITION,
                                              "worker '%s' was declared lost and its claims "
                                              "returned: register again", worker_id));
    s_worker_change_begin (self, worker);
    worker->rec->last_heartbeat = self->now;
    if (metadata)
        wp_meta_merge (&worker->rec->metadata, metadata);
    s_worker_change_end (self, worker);
    s_renew_leases (self, worker_id, -1);
    return s_leave (self, WP_OK);
}

static wp_status
s_update_status (wp_store_t *base, const char *worker_id, const char *status)
{
    s_memory_t *self = s_enter (base);
    s_worker_t *worker = (s_worker_t *) wp_mem_map_lookup (&self->workers, worker_id);
    if (!worker)
        return s_leave (self, wp_store_error (base, WP_NOT_FOUND, "no worker '%s'", worker_id));
    s_worker_change_begin (self, worker);
    free (worker->rec->status);
    worker->rec->status = wp_strdup (status);
    s_worker_change_end (self, worker);
    return s_leave (self, WP_OK);
}

static wp_status
s_get_worker (wp_store_t *base, const char *worker_id, wp_worker_t **worker_out)
{
    s_memory_t *self = s_enter (base);
    s_worker_t *worker = (s_worker_t *) wp_mem_map_lookup (&self->workers, worker_id);
    *worker_out = worker ? wp_worker_dup (worker->rec) : NULL;
    return s_leave (self, WP_OK);
}

static bool
s_worker_matches (s_memory_t *self, const wp_worker_t *rec, const wp_worker_filter_t *filter)
{
    if (filter->status_count > 0) {
        size_t i;
        for (i = 0; i < filter->status_count; i++)
            if (strcmp (rec->status, filter->statuses [i]) == 0)
                break;
        if (i == filter->status_count)
            return false;
    }
    if (filter->capability) {
        size_t i;
        for (i = 0; i < rec->capability_count; i++)
            if (strcmp (rec->capabilities [i], filter->capability) == 0)
                break;
        if (i == rec->capability_count)
            return false;
    }
    if (filter->pool_id && (!rec->pool_id || strcmp (rec->pool_id, filter->pool_id) != 0))
        return false;
    if (filter->stale_threshold >= 0
    &&  rec->last_heartbeat >= s_time_add (self->now, -s_usec (filter->stale_threshold)))
        return false;
    return true;
}

static int
s_compare_workers (const void *a, const void *b)
{
    const wp_worker_t *x = *(const wp_worker_t *const *) a;
    const wp_worker_t *y = *(const wp_worker_t *const *) b;
    return strcmp (x->worker_id, y->worker_id);
}

static wp_status
s_list_workers (wp_store_t *base, const wp_worker_filter_t *filter,
                wp_worker_list_t **list_out)
{
    s_memory_t *self = s_enter (base);
    size_t count = 0;
    wp_worker_t **found = (wp_worker_t **) s_alloc (
        self->workers.count * sizeof (wp_worker_t *));
    size_t worker_at = 0;
    for (s_worker_t *worker; (worker = (s_worker_t *) wp_mem_map_next (&self->workers, &worker_at)); )
        if (s_worker_matches (self, worker->rec, filter))
            found [count++] = worker->rec;
    qsort (found, count, sizeof (wp_worker_t *), s_compare_workers);
    wp_worker_list_t *list = wp_worker_list_new ();
    for (size_t i = 0; i < count; i++) {
        wp_worker_t *copy = wp_worker_dup (found [i]);
        wp_worker_list_append (list, &copy);
    }
    free (found);
    *list_out = list;
    return s_leave (self, WP_OK);
}

//  ---------------------------------------------------------------------
//  Housekeeping

static wp_status
s_reap (wp_store_t *base, wp_reap_t *out)
{
    s_memory_t *self = s_enter (base);
    *out = self->reaped;
    memset (&self->reaped, 0, sizeof self->reaped);
    return s_leave (self, WP_OK);
}

static wp_status
s_next_due (wp_store_t *base, int64_t *next_out)
{
    //  No s_enter: a time already past tells the broker to reap now
    s_memory_t *self = (s_memory_t *) base;
    pthread_mutex_lock (&self->mutex);
    s_item_t *item = (s_item_t *) wp_mem_heap_top (&self->leases);
    s_worker_t *worker = (s_worker_t *) wp_mem_heap_top (&self->stale);
    int64_t next = item ? item->rec.lease_expires_at : 0;
    if (worker) {
        //  A worker is lost once its deadline has passed, not at it
        int64_t lost_at = s_time_add (worker->stale_at, 1);
        if (!item || lost_at < next)
            next = lost_at;
    }
    *next_out = next;
    return s_leave (self, WP_OK);
}

static wp_status
s_purge (wp_store_t *base, double older_than, uint64_t *count_out)
{
    s_memory_t *self = s_enter (base);
    int64_t cutoff = s_time_add (self->now, -s_usec (older_than));
    uint64_t count = 0;
    s_item_t *item;
    while ((item = (s_item_t *) wp_mem_heap_top (&self->finished)) && item->updated_at < cutoff) {
        s_item_remove (self, item);
        count++;
    }
    //  Empty pools go too, but not inside a group: its undo log points at them
    if (!self->in_txn) {
        size_t empty = 0;
        s_pool_t **pools = (s_pool_t **) s_alloc (self->pools.count * sizeof (s_pool_t *));
        size_t pool_at = 0;
        for (s_pool_t *pool; (pool = (s_pool_t *) wp_mem_map_next (&self->pools, &pool_at)); )
            if (s_pool_idle (pool))
                pools [empty++] = pool;
        for (size_t i = 0; i < empty; i++) {
            wp_mem_map_delete (&self->pools, pools [i]->name);
            s_pool_free (pools [i]);
        }
        free (pools);
    }
    *count_out = count;
    return s_leave (self, WP_OK);
}

static int
s_compare_pool_stats (const void *a, const void *b)
{
    return strcmp (((const wp_pool_stats_t *) a)->pool, ((const wp_pool_stats_t *) b)->pool);
}

static int
s_compare_status_counts (const void *a, const void *b)
{
    return strcmp (((const wp_status_count_t *) a)->status,
                   ((const wp_status_count_t *) b)->status);
}

static wp_status
s_stats (wp_store_t *base, wp_stats_t **stats_out)
{
    s_memory_t *self = s_enter (base);
    wp_stats_t *stats = wp_stats_new ();

    stats->pools = (wp_pool_stats_t *) s_alloc (self->pools.count * sizeof (wp_pool_stats_t));
    size_t pool_at = 0;
    for (s_pool_t *pool; (pool = (s_pool_t *) wp_mem_map_next (&self->pools, &pool_at)); ) {
        if (pool->items.count == 0 && !pool->paused)
            continue;
        wp_pool_stats_t *entry = &stats->pools [stats->pool_count++];
        entry->pool = wp_strdup (pool->name);
        entry->paused = pool->paused;
        entry->pending = pool->by_status [WP_ITEM_PENDING].count;
        entry->claimed = pool->by_status [WP_ITEM_CLAIMED].count;
        entry->done = pool->by_status [WP_ITEM_DONE].count;
        entry->poisoned = pool->by_status [WP_ITEM_POISONED].count;
    }
    qsort (stats->pools, stats->pool_count, sizeof (wp_pool_stats_t), s_compare_pool_stats);

    //  Few distinct statuses: a linear search per worker is cheapest
    stats->workers = (wp_status_count_t *) s_alloc (
        self->workers.count * sizeof (wp_status_count_t));
    size_t worker_at = 0;
    for (s_worker_t *worker; (worker = (s_worker_t *) wp_mem_map_next (&self->workers, &worker_at)); ) {
        size_t i;
        for (i = 0; i < stats->worker_status_count; i++)
            if (strcmp (stats->workers [i].status, worker->rec->status) == 0)
                break;
        if (i == stats->worker_status_count) {
            stats->workers [i].status = wp_strdup (worker->rec->status);
            stats->worker_status_count++;
        }
        stats->workers [i].count++;
    }
    qsort (stats->workers, stats->worker_status_count, sizeof (wp_status_count_t),
           s_compare_status_counts);
    *stats_out = stats;
    return s_leave (self, WP_OK);
}

//  ---------------------------------------------------------------------
//  Life cycle

static void
s_destroy (wp_store_t *base)
{
    s_memory_t *self = (s_memory_t *) base;
    s_rollback_locked (self);
    size_t pool_at = 0;
    for (s_pool_t *pool; (pool = (s_pool_t *) wp_mem_map_next (&self->pools, &pool_at)); ) {
        size_t item_at = 0;
        for (s_item_t *item; (item = (s_item_t *) wp_mem_map_next (&pool->items, &item_at)); )
            s_item_free (item);
        s_pool_free (pool);
    }
    size_t holder_at = 0;
    for (s_holder_t *holder; (holder = (s_holder_t *) wp_mem_map_next (&self->holders, &holder_at)); ) {
        free (holder->worker_id);
        free (holder);
    }
    size_t worker_at = 0;
    for (s_worker_t *worker; (worker = (s_worker_t *) wp_mem_map_next (&self->workers, &worker_at)); )
        s_worker_free (worker);
    wp_mem_map_release (&self->pools);
    wp_mem_map_release (&self->holders);
    wp_mem_map_release (&self->workers);
    wp_mem_heap_release (&self->leases);
    wp_mem_heap_release (&self->finished);
    wp_mem_heap_release (&self->stale);
    wp_mem_undo_release (&self->undo);
    pthread_mutex_destroy (&self->mutex);
    free (self);
}

static const wp_store_ops_t s_memory_ops = {
    .name = "memory",
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
};

wp_store_t *
wp_store_memory_new_journaled (const wp_store_config_t *cfg, const wp_memory_journal_t *journal)
{
    wp_store_t *base = wp_store_memory_new (cfg);
    ((s_memory_t *) base)->journal = journal;
    base->thread_shared = false;
    return base;
}

int
wp_store_memory_load_item (wp_store_t *base, const char *pool_name, wp_item_t **rec_p,
                           uint64_t seq, int64_t lease_us, int64_t updated_at)
{
    s_memory_t *self = (s_memory_t *) base;
    s_pool_t *pool = s_pool_require (self, pool_name);
    if (wp_mem_map_lookup (&pool->items, (*rec_p)->id))
        return -1;
    s_item_t *item = (s_item_t *) s_alloc (sizeof *item);
    item->rec = **rec_p;
    free (item->rec.pool);
    item->rec.pool = pool->name;
    free (*rec_p);
    *rec_p = NULL;
    item->pool = pool;
    item->seq = seq;
    item->lease_us = lease_us;
    item->updated_at = updated_at;
    item->heap_pos = WP_MEM_NOWHERE;
    if (seq >= self->next_seq)
        self->next_seq = seq + 1;
    wp_mem_map_insert (&pool->items, item->rec.id, item);
    s_item_index (self, item);
    return 0;
}

void
wp_store_memory_load_pool (wp_store_t *base, const char *pool_name, bool paused)
{
    s_memory_t *self = (s_memory_t *) base;
    s_pool_require (self, pool_name)->paused = paused;
}

void
wp_store_memory_load_worker (wp_store_t *base, wp_worker_t **rec_p)
{
    s_memory_t *self = (s_memory_t *) base;
    s_worker_t *entry = (s_worker_t *) s_alloc (sizeof *entry);
    entry->rec = *rec_p;
    *rec_p = NULL;
    entry->id = wp_strdup (entry->rec->worker_id);
    entry->heap_pos = WP_MEM_NOWHERE;
    wp_mem_map_insert (&self->workers, entry->id, entry);
    s_worker_change_end (self, entry);
}

wp_store_t *
wp_store_memory_new (const wp_store_config_t *cfg)
{
    s_memory_t *self = (s_memory_t *) s_alloc (sizeof *self);
    wp_store_init (&self->base, &s_memory_ops, cfg);
    self->base.thread_shared = true;
    if (pthread_mutex_init (&self->mutex, NULL) != 0)
        abort ();
    wp_mem_heap_init (&self->leases, s_lease_before, s_item_slot);
    wp_mem_heap_init (&self->finished, s_finished_before, s_item_slot);
    wp_mem_heap_init (&self->stale, s_stale_before, s_worker_slot);
    return &self->base;
}
