/*  wp_store_memory: the memory store. Everything lives in this process and
    is gone when the store is destroyed; one mutex serializes every call, so
    threads may share a store.

    Layout. Pools by name; in each pool the items by id, and per status an
    ordered index by the sequence number given at push (wp_mem_tree), which
    List walks, merged, from the cursor's seq. Pending items also sit in
    the pool's ready index, ordered by (priority, seq): a claim takes its
    first, and an item that returns to pending takes its old place among
    its equals. Its node shares memory with the holder links only claimed
    items use, so the second index costs an item nothing. Claimed items
    sit in one heap ordered by lease expiry and in a list per claiming
    worker (a "holder", registered or not); scheduled items in one heap
    ordered by run_at; done and poisoned items in one heap ordered by their
    last change, for purge. Each pool maps the unique keys of its live
    (pending, scheduled, claimed) items to them. Active workers sit in a
    heap ordered by the time they go stale, schedules in one by next tick
    (wp_store_memory_schedules.c). Every state change is "unindex, change,
    index", and whatever falls due next is at the top of a heap: checking
    for due work costs nothing when nothing is due. A paused pool keeps its
    items; claims on it find nothing.

    Groups. Outside begin/commit nothing is logged. Inside, the first change
    to an item, worker, schedule or pool (paused flag, retry policy) in an
    epoch saves its prior state in the undo log (wp_mem_undo); items pushed
    are logged as new and items removed are kept until commit. Rollback
    restores the log newest first, re-indexing each item, worker and
    schedule (the unique keys follow the items' states), and restores the
    reap totals as
    they were at begin. A savepoint marks the log and starts a new epoch, so
    rollback_to restores everything changed since the mark as it was there;
    its thread keeps the mutex until the mark ends, so no other thread's
    call falls inside the span a rollback_to undoes.
    A transaction belongs to the store, not to a thread: while one is open,
    every thread's calls join it.

    Files. This one: items, groups, WorkPool calls, housekeeping and the
    ops table; wp_store_memory_admin.c the inspection and lifecycle calls;
    wp_store_memory_workers.c registration; wp_store_memory_schedules.c the
    schedules; wp_mem_store.h the records and the transitions they share;
    wp_mem_map, wp_mem_heap, wp_mem_tree and wp_mem_undo the structures,
    each with its own tests.

    A call that fails checks before it changes anything. What lazy expiry
    applied on the way stays: it is the store catching up with the clock,
    and the next call would apply it anyway.  */
#include "wp_mem_store.h"
#include <assert.h>
#include <inttypes.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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


const char *wp_mem_active = "active";

//  Orders; ties go to the older item so results are deterministic

static uint32_t *
s_item_slot (void *elem)
{
    return &((wp_mem_item_t *) elem)->heap_pos;
}

static uint32_t *
s_worker_slot (void *elem)
{
    return &((wp_mem_worker_t *) elem)->heap_pos;
}

static uint64_t
s_item_key (const wp_mem_tnode_t *node)
{
    return wp_mem_item_of (node)->seq;
}

//  The claim order: lowest priority first, then push order
static bool
s_ready_before (const wp_mem_tnode_t *a, const wp_mem_tnode_t *b)
{
    const wp_mem_item_t *x = wp_mem_item_of_ready (a), *y = wp_mem_item_of_ready (b);
    if (x->rec.priority != y->rec.priority)
        return x->rec.priority < y->rec.priority;
    return x->seq < y->seq;
}

static uint64_t
s_ready_key (const wp_mem_tnode_t *node)
{
    return wp_mem_item_of_ready (node)->seq;
}

static bool
s_due_before (const void *a, const void *b)
{
    const wp_mem_item_t *x = a, *y = b;
    if (x->rec.run_at != y->rec.run_at)
        return x->rec.run_at < y->rec.run_at;
    return x->seq < y->seq;
}

static bool
s_lease_before (const void *a, const void *b)
{
    const wp_mem_item_t *x = a, *y = b;
    if (x->rec.lease_expires_at != y->rec.lease_expires_at)
        return x->rec.lease_expires_at < y->rec.lease_expires_at;
    return x->seq < y->seq;
}

static bool
s_finished_before (const void *a, const void *b)
{
    const wp_mem_item_t *x = a, *y = b;
    if (x->updated_at != y->updated_at)
        return x->updated_at < y->updated_at;
    return x->seq < y->seq;
}

static bool
s_stale_before (const void *a, const void *b)
{
    const wp_mem_worker_t *x = a, *y = b;
    if (x->stale_at != y->stale_at)
        return x->stale_at < y->stale_at;
    return strcmp (x->id, y->id) < 0;
}

//  The keys the maps read from their values

static const char *
s_pool_key (const void *value)
{
    return ((const wp_mem_pool_t *) value)->name;
}

static const char *
s_item_id (const void *value)
{
    return ((const wp_mem_item_t *) value)->rec.id;
}

static const char *
s_item_unique_key (const void *value)
{
    return ((const wp_mem_item_t *) value)->rec.unique_key;
}

static const char *
s_holder_key (const void *value)
{
    return ((const wp_mem_holder_t *) value)->worker_id;
}

static const char *
s_worker_key (const void *value)
{
    return ((const wp_mem_worker_t *) value)->id;
}

static const char *
s_schedule_key (const void *value)
{
    return ((const wp_mem_schedule_t *) value)->name;
}

//  ---------------------------------------------------------------------
//  Pools and items

wp_mem_pool_t *
wp_mem_pool_lookup (wp_mem_store_t *self, const char *name)
{
    return (wp_mem_pool_t *) wp_mem_map_lookup (&self->pools, name);
}

wp_mem_pool_t *
wp_mem_pool_require (wp_mem_store_t *self, const char *name)
{
    wp_mem_pool_t *pool = wp_mem_pool_lookup (self, name);
    if (!pool) {
        pool = (wp_mem_pool_t *) wp_mem_alloc (sizeof *pool);
        pool->name = wp_strdup (name);
        for (int state = 0; state < WP_ITEM_STATE_COUNT; state++)
            wp_mem_tree_init (&pool->by_status [state], s_item_key);
        wp_mem_tree_init_ordered (&pool->ready, s_ready_key, s_ready_before);
        wp_mem_map_init (&pool->items, s_item_id);
        wp_mem_map_init (&pool->unique, s_item_unique_key);
        wp_mem_map_insert (&self->pools, pool->name, pool);
    }
    return pool;
}

//  Frees an empty pool's structures (its items are freed by the caller)
void
wp_mem_pool_free (wp_mem_pool_t *pool)
{
    wp_mem_map_release (&pool->items);
    wp_mem_map_release (&pool->unique);
    free (pool->name);
    free (pool);
}

wp_mem_item_t *
wp_mem_item_lookup (wp_mem_store_t *self, const char *pool_name, const char *id)
{
    wp_mem_pool_t *pool = wp_mem_pool_lookup (self, pool_name);
    return pool ? (wp_mem_item_t *) wp_mem_map_lookup (&pool->items, id) : NULL;
}

//  A zeroed item with its data and id copied in after it, in the same
//  allocation: they never change, and one block instead of three saves
//  two allocations' headers and rounding per item
static wp_mem_item_t *
s_item_alloc (const char *id, const uint8_t *data, size_t data_size)
{
    size_t id_size = strlen (id) + 1;
    wp_mem_item_t *item = (wp_mem_item_t *) wp_mem_alloc (sizeof *item + data_size + id_size);
    uint8_t *tail = (uint8_t *) (item + 1);
    if (data_size) {
        memcpy (tail, data, data_size);
        item->rec.data = tail;
        item->rec.data_size = data_size;
    }
    item->rec.id = (char *) tail + data_size;
    memcpy (item->rec.id, id, id_size);
    return item;
}

static void
s_item_free (wp_mem_item_t *item)
{
    free (item->rec.claimed_by);
    free (item->rec.result);
    free (item->rec.error);
    free (item->rec.unique_key);
    free (item);
}

static void
s_holder_add (wp_mem_store_t *self, wp_mem_item_t *item)
{
    wp_mem_holder_t *holder = (wp_mem_holder_t *) wp_mem_map_lookup (&self->holders, item->rec.claimed_by);
    if (!holder) {
        holder = (wp_mem_holder_t *) wp_mem_alloc (sizeof *holder);
        holder->worker_id = wp_strdup (item->rec.claimed_by);
        wp_mem_map_insert (&self->holders, holder->worker_id, holder);
    }
    item->by.held.prev = NULL;
    item->by.held.next = holder->first;
    if (holder->first)
        holder->first->by.held.prev = item;
    holder->first = item;
    holder->count++;
}

static void
s_holder_remove (wp_mem_store_t *self, wp_mem_item_t *item)
{
    //  An item's holder is found by its claimant, not kept in every item
    wp_mem_holder_t *holder = (wp_mem_holder_t *) wp_mem_map_lookup (&self->holders, item->rec.claimed_by);
    assert (holder);
    if (item->by.held.prev)
        item->by.held.prev->by.held.next = item->by.held.next;
    else
        holder->first = item->by.held.next;
    if (item->by.held.next)
        item->by.held.next->by.held.prev = item->by.held.prev;
    item->by.held.prev = item->by.held.next = NULL;
    if (--holder->count == 0) {
        wp_mem_map_delete (&self->holders, holder->worker_id);
        free (holder->worker_id);
        free (holder);
    }
}

//  Pending, scheduled and claimed items hold their unique key
static bool
s_item_live (const wp_mem_item_t *item)
{
    return item->rec.status == WP_ITEM_PENDING || item->rec.status == WP_ITEM_SCHEDULED
        || item->rec.status == WP_ITEM_CLAIMED;
}

//  The live item of pool holding key, or NULL
wp_mem_item_t *
wp_mem_unique_holder (wp_mem_pool_t *pool, const char *key)
{
    return (wp_mem_item_t *) wp_mem_map_lookup (&pool->unique, key);
}

//  Puts the item in the structures its state calls for
static void
s_item_index (wp_mem_store_t *self, wp_mem_item_t *item)
{
    wp_mem_tree_insert (&item->pool->by_status [item->rec.status], &item->node);
    switch (item->rec.status) {
        case WP_ITEM_PENDING:
            wp_mem_tree_insert (&item->pool->ready, &item->by.ready);
            break;
        case WP_ITEM_CLAIMED:
            wp_mem_heap_push (&self->leases, item);
            s_holder_add (self, item);
            break;
        case WP_ITEM_SCHEDULED:
            wp_mem_heap_push (&self->due, item);
            break;
        default:
            wp_mem_heap_push (&self->finished, item);
            break;
    }
    //  A key another live item holds stays with it (only a damaged image
    //  could load two)
    if (item->rec.unique_key && s_item_live (item)
    &&  !wp_mem_unique_holder (item->pool, item->rec.unique_key))
        wp_mem_map_insert (&item->pool->unique, item->rec.unique_key, item);
}

static void
s_item_unindex (wp_mem_store_t *self, wp_mem_item_t *item)
{
    wp_mem_tree_remove (&item->pool->by_status [item->rec.status], &item->node);
    switch (item->rec.status) {
        case WP_ITEM_PENDING:
            wp_mem_tree_remove (&item->pool->ready, &item->by.ready);
            break;
        case WP_ITEM_CLAIMED:
            wp_mem_heap_remove (&self->leases, item);
            s_holder_remove (self, item);
            break;
        case WP_ITEM_SCHEDULED:
            wp_mem_heap_remove (&self->due, item);
            break;
        default:
            wp_mem_heap_remove (&self->finished, item);
            break;
    }
    if (item->rec.unique_key
    &&  wp_mem_unique_holder (item->pool, item->rec.unique_key) == item)
        wp_mem_map_delete (&item->pool->unique, item->rec.unique_key);
}

//  ---------------------------------------------------------------------
//  The undo log

static wp_undo_t *
s_undo_add (wp_mem_store_t *self, wp_undo_kind kind)
{
    return wp_mem_undo_add (&self->undo, kind);
}

//  Saves the item's state before its first change in the open group
static void
s_item_save (wp_mem_store_t *self, wp_mem_item_t *item)
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
    undo->attempts = item->rec.attempts;
    undo->result = s_memdup (item->rec.result, item->rec.result_size);
    undo->result_size = item->rec.result_size;
    undo->error = wp_strdup (item->rec.error);
    undo->updated_at = item->updated_at;       //  or lease_us: one field
    undo->run_at = item->rec.run_at;
}

//  Saves the pool's paused flag before its first change in the epoch
void
wp_mem_pool_save (wp_mem_store_t *self, wp_mem_pool_t *pool)
{
    if (!self->in_txn || pool->txn_mark == self->txn_id)
        return;
    pool->txn_mark = self->txn_id;
    wp_undo_t *undo = s_undo_add (self, WP_UNDO_POOL);
    undo->pool = pool;
    undo->paused = pool->paused;
    undo->backoff = pool->backoff;
}

static void
s_worker_save (wp_mem_store_t *self, wp_mem_worker_t *worker)
{
    if (!self->in_txn || worker->txn_mark == self->txn_id)
        return;
    worker->txn_mark = self->txn_id;
    wp_undo_t *undo = s_undo_add (self, WP_UNDO_WORKER);
    undo->worker = worker;
    undo->saved_rec = wp_worker_dup (worker->rec);
}

//  Every change of an item's state goes begin, change fields, end
void
wp_mem_item_change_begin (wp_mem_store_t *self, wp_mem_item_t *item)
{
    s_item_save (self, item);
    s_item_unindex (self, item);
}

void
wp_mem_item_change_end (wp_mem_store_t *self, wp_mem_item_t *item)
{
    if (item->rec.status != WP_ITEM_CLAIMED)
        item->updated_at = self->now;
    s_item_index (self, item);
}

//  Every change of a worker record goes begin, change, end: the staleness
//  deadline depends on last_heartbeat, the interval and the status.
void
wp_mem_worker_change_begin (wp_mem_store_t *self, wp_mem_worker_t *worker)
{
    s_worker_save (self, worker);
    if (worker->heap_pos != WP_MEM_NOWHERE)
        wp_mem_heap_remove (&self->stale, worker);
}

void
wp_mem_worker_change_end (wp_mem_store_t *self, wp_mem_worker_t *worker)
{
    worker->stale_at = wp_mem_time_add (worker->rec->last_heartbeat,
                                   wp_mem_usec (2 * worker->rec->heartbeat_interval));
    if (strcmp (worker->rec->status, wp_mem_active) == 0)
        wp_mem_heap_push (&self->stale, worker);
}

static void
s_worker_free (wp_mem_worker_t *worker)
{
    wp_worker_destroy (&worker->rec);
    free (worker->id);
    free (worker);
}

//  Drops the log entries from index from on; on commit (from 0) that
//  frees the items the group removed
static void
s_undo_discard (wp_mem_store_t *self, size_t from, bool committed)
{
    for (size_t i = from; committed && i < self->undo.count; i++)
        if (self->undo.entries [i].kind == WP_UNDO_ITEM_PURGED)
            s_item_free (self->undo.entries [i].item);
    wp_mem_undo_truncate (&self->undo, from);
}

static void
s_undo_apply (wp_mem_store_t *self, wp_undo_t *undo)
{
    wp_mem_item_t *item = undo->item;
    wp_mem_worker_t *worker = undo->worker;
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
            item->rec.attempts = undo->attempts;
            item->rec.result = undo->result;
            item->rec.result_size = undo->result_size;
            item->rec.error = undo->error;
            item->updated_at = undo->updated_at;
            item->rec.run_at = undo->run_at;
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
            ((wp_mem_pool_t *) undo->pool)->paused = undo->paused;
            ((wp_mem_pool_t *) undo->pool)->backoff = undo->backoff;
            break;
        case WP_UNDO_SCHEDULE:
            wp_mem_schedule_restore (self, undo->schedule, &undo->saved_schedule);
            break;
        case WP_UNDO_WORKER:
            if (worker->heap_pos != WP_MEM_NOWHERE)
                wp_mem_heap_remove (&self->stale, worker);
            if (undo->saved_rec) {
                wp_worker_destroy (&worker->rec);
                worker->rec = undo->saved_rec;
                undo->saved_rec = NULL;
                wp_mem_worker_change_end (self, worker);
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
s_current_task_clear (wp_mem_store_t *self, wp_mem_item_t *item)
{
    wp_mem_worker_t *worker = (wp_mem_worker_t *) wp_mem_map_lookup (&self->workers, item->rec.claimed_by);
    if (worker && worker->rec->current_task_id
    &&  strcmp (worker->rec->current_task_id, item->rec.id) == 0) {
        s_worker_save (self, worker);
        free (worker->rec->current_task_id);
        worker->rec->current_task_id = NULL;
    }
}

//  Claim fields go when an item returns to pending; done and poisoned
//  items keep who held them last, but no lease.
void
wp_mem_item_clear_claim (wp_mem_item_t *item, bool keep_claimant)
{
    if (!keep_claimant) {
        free (item->rec.claimed_by);
        item->rec.claimed_by = NULL;
        item->rec.claimed_at = 0;
    }
    item->rec.lease_expires_at = 0;
    item->lease_us = 0;
}

//  A failed attempt on a claimed item: fail() (retry_after > 0: the
//  worker's Retry-After), a lapsed lease, a lost worker. Poisoned, or due
//  again (wp_store_failure_state): scheduled until then, or pending at once.
//  Returns the new state.
static wp_item_state
s_item_fail (wp_mem_store_t *self, wp_mem_item_t *item, const char *error, double retry_after)
{
    s_current_task_clear (self, item);
    wp_mem_item_change_begin (self, item);
    if (item->rec.attempts < UINT32_MAX)
        item->rec.attempts++;
    free (item->rec.error);
    item->rec.error = wp_strdup (error);
    int64_t due;
    item->rec.status = wp_store_failure_state (&self->base, &item->pool->backoff,
                                               item->rec.attempts, item->rec.max_retries,
                                               retry_after, &due);
    if (due)
        item->rec.run_at = due;
    wp_mem_item_clear_claim (item, item->rec.status == WP_ITEM_POISONED);
    wp_mem_item_change_end (self, item);
    return item->rec.status;
}

//  Reclaim by the store itself: counted for wp_store_reap
static void
s_item_reclaim (wp_mem_store_t *self, wp_mem_item_t *item, const char *error)
{
    wp_store_reap_count (&self->reaped, s_item_fail (self, item, error, 0));
}

//  Back to pending without counting an attempt
static void
s_item_release (wp_mem_store_t *self, wp_mem_item_t *item)
{
    s_current_task_clear (self, item);
    wp_mem_item_change_begin (self, item);
    item->rec.status = WP_ITEM_PENDING;
    wp_mem_item_clear_claim (item, false);
    wp_mem_item_change_end (self, item);
}

//  Removes an unclaimed item (purge, cancel): freed now outside a group,
//  kept in the undo log until commit inside one
void
wp_mem_item_remove (wp_mem_store_t *self, wp_mem_item_t *item)
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
static wp_mem_item_t **
s_holder_items (wp_mem_store_t *self, const char *worker_id, size_t *count_p)
{
    wp_mem_holder_t *holder = (wp_mem_holder_t *) wp_mem_map_lookup (&self->holders, worker_id);
    *count_p = 0;
    if (!holder)
        return NULL;
    wp_mem_item_t **items = (wp_mem_item_t **) wp_mem_alloc (holder->count * sizeof (wp_mem_item_t *));
    for (wp_mem_item_t *item = holder->first; item; item = item->by.held.next)
        items [(*count_p)++] = item;
    return items;
}

//  Renews every lease worker_id holds to now + lease_us, which becomes the
//  claim's lease length, or (lease_us < 0, for a heartbeat) to now + the
//  length each claim has: a heartbeat never shortens a lease the worker
//  asked for. Returns how many.
uint64_t
wp_mem_renew_leases (wp_mem_store_t *self, const char *worker_id, int64_t lease_us)
{
    wp_mem_holder_t *holder = (wp_mem_holder_t *) wp_mem_map_lookup (&self->holders, worker_id);
    uint64_t count = 0;
    //  The item stays claimed by the same worker: only its lease key moves
    for (wp_mem_item_t *item = holder ? holder->first : NULL; item; item = item->by.held.next) {
        s_item_save (self, item);
        if (lease_us >= 0)
            item->lease_us = lease_us;
        item->rec.lease_expires_at = wp_mem_time_add (self->now, item->lease_us);
        wp_mem_heap_fix (&self->leases, item);
        count++;
    }
    return count;
}

static void
s_worker_lose (wp_mem_store_t *self, wp_mem_worker_t *worker)
{
    wp_mem_worker_change_begin (self, worker);
    free (worker->rec->status);
    worker->rec->status = wp_strdup ("lost");
    wp_mem_worker_change_end (self, worker);
    self->reaped.workers_lost++;

    size_t count;
    wp_mem_item_t **items = s_holder_items (self, worker->id, &count);
    for (size_t i = 0; i < count; i++)
        s_item_reclaim (self, items [i], "worker lost");
    free (items);
}

//  Applies everything due by self->now, in the order it fell due
static void
s_apply_due (wp_mem_store_t *self)
{
    while (true) {
        wp_mem_item_t *item = (wp_mem_item_t *) wp_mem_heap_top (&self->leases);
        wp_mem_worker_t *worker = (wp_mem_worker_t *) wp_mem_heap_top (&self->stale);
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
    //  Scheduled items that fell due; a failure above schedules after now
    wp_mem_item_t *item;
    while ((item = (wp_mem_item_t *) wp_mem_heap_top (&self->due))
       &&  item->rec.run_at <= self->now) {
        wp_mem_item_change_begin (self, item);
        item->rec.status = WP_ITEM_PENDING;
        wp_mem_item_change_end (self, item);
        self->reaped.promoted++;
    }
}

//  Every call: take the lock, read the clock once, catch up with it
wp_mem_store_t *
wp_mem_enter (wp_store_t *base)
{
    wp_mem_store_t *self = (wp_mem_store_t *) base;
    pthread_mutex_lock (&self->mutex);
    self->now = wp_store_now (base);
    s_apply_due (self);
    return self;
}

wp_status
wp_mem_leave (wp_mem_store_t *self, wp_status status)
{
    pthread_mutex_unlock (&self->mutex);
    return status;
}

//  ---------------------------------------------------------------------
//  Groups

static wp_status
s_begin (wp_store_t *base)
{
    wp_mem_store_t *self = (wp_mem_store_t *) base;
    pthread_mutex_lock (&self->mutex);
    if (self->in_txn)
        return wp_mem_leave (self, wp_store_error (base, WP_FAILED_PRECONDITION,
                                              "a transaction is already open"));
    self->in_txn = true;
    self->txn_id++;
    self->reaped_at_begin = self->reaped;
    return wp_mem_leave (self, WP_OK);
}

static void s_rollback_locked (wp_mem_store_t *self);
static void s_mark_end (wp_mem_store_t *self);

//  Hands the group's changes to the journal, each item, worker and pool
//  once, in its state now. The undo log names each the first time it
//  changed in an epoch, so one changed on both sides of a savepoint (a
//  batch pushes it, the next claims it) is named twice: the pass marks
//  what it wrote with an epoch of its own and skips it the second time.
static wp_status
s_journal_write (wp_mem_store_t *self)
{
    const wp_memory_journal_t *journal = self->journal;
    if (!journal || self->undo.count == 0)
        return WP_OK;
    uint64_t pass = ++self->txn_id;
    wp_status rc = journal->begin (journal->arg);
    for (size_t i = 0; i < self->undo.count && rc == WP_OK; i++) {
        wp_undo_t *undo = &self->undo.entries [i];
        wp_mem_item_t *item = undo->item;
        if (undo->kind == WP_UNDO_POOL) {
            wp_mem_pool_t *pool = undo->pool;
            if (pool->txn_mark != pass) {
                pool->txn_mark = pass;
                rc = journal->pool (journal->arg, pool->name, pool->paused, &pool->backoff);
            }
        }
        else
        if (undo->kind == WP_UNDO_SCHEDULE) {
            wp_mem_schedule_t *schedule = undo->schedule;
            if (schedule->txn_mark != pass) {
                schedule->txn_mark = pass;
                rc = schedule->rec ? journal->schedule (journal->arg, schedule->rec)
                                   : journal->schedule_gone (journal->arg, schedule->name);
            }
        }
        else
        if (undo->kind == WP_UNDO_ITEM_PURGED)
            rc = journal->item_gone (journal->arg, item->seq);
        else
        if (undo->kind == WP_UNDO_WORKER) {
            wp_mem_worker_t *worker = undo->worker;
            if (worker->txn_mark != pass) {
                worker->txn_mark = pass;
                rc = journal->worker (journal->arg, worker->rec);
            }
        }
        else
        if (!item->purged && item->txn_mark != pass) {
            //  The first entry of an item pushed in the group is its "new"
            item->txn_mark = pass;
            bool claimed = item->rec.status == WP_ITEM_CLAIMED;
            wp_memory_item_image_t image = {
                .pool = item->pool->name,
                .rec = &item->rec,
                .seq = item->seq,
                .lease_us = claimed ? item->lease_us : 0,
                .updated_at = claimed ? 0 : item->updated_at,
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

//  A pool with no items, not paused and without a policy is not worth keeping
bool
wp_mem_pool_idle (const wp_mem_pool_t *pool)
{
    return pool->items.count == 0 && !pool->paused && pool->backoff.base <= 0;
}

static wp_status
s_commit (wp_store_t *base)
{
    wp_mem_store_t *self = (wp_mem_store_t *) base;
    pthread_mutex_lock (&self->mutex);
    if (!self->in_txn)
        return wp_mem_leave (self, wp_store_error (base, WP_FAILED_PRECONDITION,
                                              "no transaction is open"));
    wp_status rc = s_journal_write (self);
    if (rc != WP_OK) {
        s_rollback_locked (self);
        return wp_mem_leave (self, rc);
    }
    //  A pool the group's removals (or a resume) left idle goes once the log
    //  is done with it (a broker purges only inside groups; without this its
    //  pools would pile up). Each is unlinked from the map once, then freed.
    wp_mem_pool_t **empty = NULL;
    size_t empty_count = 0;
    for (size_t i = 0; i < self->undo.count; i++) {
        wp_undo_t *undo = &self->undo.entries [i];
        wp_mem_pool_t *pool = undo->kind == WP_UNDO_ITEM_PURGED ? ((wp_mem_item_t *) undo->item)->pool
                       : undo->kind == WP_UNDO_POOL ? (wp_mem_pool_t *) undo->pool : NULL;
        if (pool && wp_mem_pool_idle (pool) && wp_mem_map_lookup (&self->pools, pool->name) == pool) {
            wp_mem_map_delete (&self->pools, pool->name);
            empty = (wp_mem_pool_t **) realloc (empty, (empty_count + 1) * sizeof (wp_mem_pool_t *));
            if (!empty)
                abort ();
            empty [empty_count++] = pool;
        }
    }
    wp_mem_schedule_sweep (self);
    s_undo_discard (self, 0, true);
    for (size_t i = 0; i < empty_count; i++)
        wp_mem_pool_free (empty [i]);
    free (empty);
    self->in_txn = false;
    s_mark_end (self);
    return wp_mem_leave (self, WP_OK);
}

//  Ends the savepoint, if one is set, giving back the hold on the mutex
//  that savepoint took; the caller holds the mutex as well
static void
s_mark_end (wp_mem_store_t *self)
{
    if (self->has_mark) {
        self->has_mark = false;
        pthread_mutex_unlock (&self->mutex);
    }
}

//  Undoes the log back to index from, newest first
static void
s_undo_back_to (wp_mem_store_t *self, size_t from)
{
    for (size_t i = self->undo.count; i-- > from; )
        s_undo_apply (self, &self->undo.entries [i]);
    wp_mem_schedule_forget (self, from);
    s_undo_discard (self, from, false);
}

static void
s_rollback_locked (wp_mem_store_t *self)
{
    if (!self->in_txn)
        return;
    for (size_t i = self->undo.count; i-- > 0; )
        s_undo_apply (self, &self->undo.entries [i]);
    wp_mem_schedule_sweep (self);
    s_undo_discard (self, 0, false);
    self->reaped = self->reaped_at_begin;
    self->in_txn = false;
    s_mark_end (self);
}

static void
s_rollback (wp_store_t *base)
{
    wp_mem_store_t *self = (wp_mem_store_t *) base;
    pthread_mutex_lock (&self->mutex);
    s_rollback_locked (self);
    pthread_mutex_unlock (&self->mutex);
}

//  Savepoints: a mark in the undo log, and a new epoch so that whatever
//  changes after the mark is saved again, as it was at the mark. From
//  savepoint to release or rollback_to the thread that set the mark keeps
//  the (recursive) mutex: another thread's call made meanwhile would land
//  after the mark and be undone with the batch, so it waits instead.
static wp_status
s_savepoint (wp_store_t *base)
{
    wp_mem_store_t *self = (wp_mem_store_t *) base;
    pthread_mutex_lock (&self->mutex);
    if (!self->in_txn)
        return wp_mem_leave (self, wp_store_error (base, WP_FAILED_PRECONDITION,
                                                   "no transaction is open"));
    if (self->has_mark)
        return wp_mem_leave (self, wp_store_error (base, WP_FAILED_PRECONDITION,
                                                   "a savepoint is already set"));
    self->has_mark = true;
    self->mark = self->undo.count;
    self->reaped_at_mark = self->reaped;
    self->txn_id++;
    return WP_OK;               //  the mutex stays held until the mark ends
}

static void
s_release (wp_store_t *base)
{
    wp_mem_store_t *self = (wp_mem_store_t *) base;
    pthread_mutex_lock (&self->mutex);
    s_mark_end (self);
    pthread_mutex_unlock (&self->mutex);
}

//  Undoes back to the mark and ends it
static void
s_rollback_to (wp_store_t *base)
{
    wp_mem_store_t *self = (wp_mem_store_t *) base;
    pthread_mutex_lock (&self->mutex);
    if (self->in_txn && self->has_mark) {
        s_undo_back_to (self, self->mark);
        self->reaped = self->reaped_at_mark;
        self->txn_id++;
    }
    s_mark_end (self);
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
    wp_mem_store_t *self = wp_mem_enter (base);
    if (entry->id) {
        wp_mem_item_t *existing = wp_mem_item_lookup (self, pool_name, entry->id);
        if (existing) {
            *id_out = wp_strdup (existing->rec.id);
            if (duplicate)
                *duplicate = true;
            return wp_mem_leave (self, WP_OK);
        }
    }
    wp_mem_pool_t *existing_pool = wp_mem_pool_lookup (self, pool_name);
    wp_mem_item_t *holder = existing_pool && entry->unique_key
                          ? wp_mem_unique_holder (existing_pool, entry->unique_key) : NULL;
    if (holder) {
        *id_out = wp_strdup (holder->rec.id);
        if (duplicate)
            *duplicate = true;
        return wp_mem_leave (self, WP_OK);
    }
    int64_t due = wp_store_entry_due (base, entry);
    wp_mem_pool_t *pool = wp_mem_pool_require (self, pool_name);
    if (!entry->id)
        while (wp_mem_map_lookup (&pool->items, uuid))
            wp_uuid_new (uuid);
    wp_mem_item_t *item = s_item_alloc (entry->id ? entry->id : uuid, entry->data,
                                        entry->data_size);
    item->rec.pool = pool->name;
    item->rec.status = due ? WP_ITEM_SCHEDULED : WP_ITEM_PENDING;
    item->rec.run_at = due;
    item->rec.priority = entry->priority;
    item->rec.unique_key = wp_strdup (entry->unique_key);
    item->rec.max_retries = entry->max_retries < 0
                          ? WP_DEFAULT_MAX_RETRIES: (uint32_t) entry->max_retries;
    item->rec.created_at = self->now;
    item->pool = pool;
    item->seq = self->next_seq++;
    item->heap_pos = WP_MEM_NOWHERE;
    wp_mem_map_insert (&pool->items, item->rec.id, item);
    wp_mem_item_change_end (self, item);
    if (self->in_txn) {
        item->txn_mark = self->txn_id;
        s_undo_add (self, WP_UNDO_ITEM_NEW)->item = item;
    }
    *id_out = wp_strdup (item->rec.id);
    if (duplicate)
        *duplicate = false;
    return wp_mem_leave (self, WP_OK);
}

static wp_status
s_claim (wp_store_t *base, const char *pool_name, const char *worker_id,
         double lease, wp_item_t **item_out)
{
    wp_mem_store_t *self = wp_mem_enter (base);
    wp_mem_pool_t *pool = wp_mem_pool_lookup (self, pool_name);
    wp_mem_item_t *item = pool && !pool->paused
                   ? wp_mem_item_of_ready (wp_mem_tree_first (&pool->ready)) : NULL;
    if (!item) {
        *item_out = NULL;
        return wp_mem_leave (self, WP_OK);
    }
    int64_t lease_us = wp_mem_usec (lease > 0 ? lease : self->base.config.lease);
    wp_mem_item_change_begin (self, item);
    item->rec.status = WP_ITEM_CLAIMED;
    item->rec.claimed_by = wp_strdup (worker_id);
    item->rec.claimed_at = self->now;
    item->rec.lease_expires_at = wp_mem_time_add (self->now, lease_us);
    item->lease_us = lease_us;
    wp_mem_item_change_end (self, item);

    wp_mem_worker_t *worker = (wp_mem_worker_t *) wp_mem_map_lookup (&self->workers, worker_id);
    if (worker) {
        s_worker_save (self, worker);
        free (worker->rec->current_task_id);
        worker->rec->current_task_id = wp_strdup (item->rec.id);
    }
    *item_out = wp_item_dup (&item->rec);
    return wp_mem_leave (self, WP_OK);
}

//  Finds the item complete or fail may act on, or says why there is none
static wp_status
s_claimed_item (wp_mem_store_t *self, const char *pool_name, const char *id,
                const char *worker_id, wp_mem_item_t **item_p)
{
    wp_mem_item_t *item = wp_mem_item_lookup (self, pool_name, id);
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
    wp_mem_store_t *self = wp_mem_enter (base);
    wp_mem_item_t *item = NULL;
    wp_status rc = s_claimed_item (self, pool_name, id, worker_id, &item);
    if (rc != WP_OK)
        return wp_mem_leave (self, rc);
    s_current_task_clear (self, item);
    wp_mem_item_change_begin (self, item);
    item->rec.status = WP_ITEM_DONE;
    free (item->rec.result);
    item->rec.result = s_memdup (result, result_size);
    item->rec.result_size = item->rec.result ? result_size : 0;
    wp_mem_item_clear_claim (item, true);
    wp_mem_item_change_end (self, item);
    return wp_mem_leave (self, WP_OK);
}

static wp_status
s_fail (wp_store_t *base, const char *pool_name, const char *id,
        const char *error, const char *worker_id, double retry_after, wp_item_state *state_out)
{
    wp_mem_store_t *self = wp_mem_enter (base);
    wp_mem_item_t *item = NULL;
    wp_status rc = s_claimed_item (self, pool_name, id, worker_id, &item);
    if (rc != WP_OK)
        return wp_mem_leave (self, rc);
    wp_item_state state = s_item_fail (self, item, error, retry_after);
    if (state_out)
        *state_out = state;
    return wp_mem_leave (self, WP_OK);
}

static wp_status
s_size (wp_store_t *base, const char *pool_name, uint64_t *size_out)
{
    wp_mem_store_t *self = wp_mem_enter (base);
    wp_mem_pool_t *pool = wp_mem_pool_lookup (self, pool_name);
    *size_out = pool ? pool->by_status [WP_ITEM_PENDING].count : 0;
    return wp_mem_leave (self, WP_OK);
}

static wp_status
s_release_by_worker (wp_store_t *base, const char *pool_name,
                     const char *worker_id, uint64_t *count_out)
{
    wp_mem_store_t *self = wp_mem_enter (base);
    size_t count;
    wp_mem_item_t **items = s_holder_items (self, worker_id, &count);
    uint64_t released = 0;
    for (size_t i = 0; i < count; i++)
        if (strcmp (items [i]->pool->name, pool_name) == 0) {
            s_item_release (self, items [i]);
            released++;
        }
    free (items);
    *count_out = released;
    return wp_mem_leave (self, WP_OK);
}

static wp_status
s_get (wp_store_t *base, const char *pool_name, const char *id, wp_item_t **item_out)
{
    wp_mem_store_t *self = wp_mem_enter (base);
    wp_mem_item_t *item = wp_mem_item_lookup (self, pool_name, id);
    if (!item)
        return wp_mem_leave (self, wp_store_error (base, WP_NOT_FOUND,
                                              "no item '%s' in pool '%s'", id, pool_name));
    *item_out = wp_item_dup (&item->rec);
    return wp_mem_leave (self, WP_OK);
}

static wp_status
s_renew (wp_store_t *base, const char *worker_id, double lease, uint64_t *count_out)
{
    wp_mem_store_t *self = wp_mem_enter (base);
    *count_out = wp_mem_renew_leases (self, worker_id,
                                 wp_mem_usec (lease > 0 ? lease : self->base.config.lease));
    return wp_mem_leave (self, WP_OK);
}

//  ---------------------------------------------------------------------
//  Housekeeping

static wp_status
s_reap (wp_store_t *base, wp_reap_t *out)
{
    wp_mem_store_t *self = wp_mem_enter (base);
    *out = self->reaped;
    memset (&self->reaped, 0, sizeof self->reaped);
    return wp_mem_leave (self, WP_OK);
}

static wp_status
s_next_due (wp_store_t *base, int64_t *next_out)
{
    //  No wp_mem_enter: a time already past tells the broker to reap now
    wp_mem_store_t *self = (wp_mem_store_t *) base;
    pthread_mutex_lock (&self->mutex);
    wp_mem_item_t *item = (wp_mem_item_t *) wp_mem_heap_top (&self->leases);
    wp_mem_worker_t *worker = (wp_mem_worker_t *) wp_mem_heap_top (&self->stale);
    int64_t next = item ? item->rec.lease_expires_at : 0;
    if (worker) {
        //  A worker is lost once its deadline has passed, not at it
        int64_t lost_at = wp_mem_time_add (worker->stale_at, 1);
        if (!next || lost_at < next)
            next = lost_at;
    }
    wp_mem_item_t *scheduled = (wp_mem_item_t *) wp_mem_heap_top (&self->due);
    if (scheduled && (!next || scheduled->rec.run_at < next))
        next = scheduled->rec.run_at;
    wp_mem_schedule_t *schedule = (wp_mem_schedule_t *) wp_mem_heap_top (&self->ticks);
    if (schedule && (!next || schedule->rec->next_at < next))
        next = schedule->rec->next_at;
    *next_out = next;
    return wp_mem_leave (self, WP_OK);
}

static wp_status
s_purge (wp_store_t *base, double older_than, uint64_t *count_out)
{
    wp_mem_store_t *self = wp_mem_enter (base);
    int64_t cutoff = wp_mem_time_add (self->now, -wp_mem_usec (older_than));
    uint64_t count = 0;
    wp_mem_item_t *item;
    while ((item = (wp_mem_item_t *) wp_mem_heap_top (&self->finished)) && item->updated_at < cutoff) {
        wp_mem_item_remove (self, item);
        count++;
    }
    //  Empty pools go too, but not inside a group: its undo log points at them
    if (!self->in_txn) {
        size_t empty = 0;
        wp_mem_pool_t **pools = (wp_mem_pool_t **) wp_mem_alloc (self->pools.count * sizeof (wp_mem_pool_t *));
        size_t pool_at = 0;
        for (wp_mem_pool_t *pool; (pool = (wp_mem_pool_t *) wp_mem_map_next (&self->pools, &pool_at)); )
            if (wp_mem_pool_idle (pool))
                pools [empty++] = pool;
        for (size_t i = 0; i < empty; i++) {
            wp_mem_map_delete (&self->pools, pools [i]->name);
            wp_mem_pool_free (pools [i]);
        }
        free (pools);
    }
    *count_out = count;
    return wp_mem_leave (self, WP_OK);
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
    wp_mem_store_t *self = wp_mem_enter (base);
    wp_stats_t *stats = wp_stats_new ();

    stats->pools = (wp_pool_stats_t *) wp_mem_alloc (self->pools.count * sizeof (wp_pool_stats_t));
    size_t pool_at = 0;
    for (wp_mem_pool_t *pool; (pool = (wp_mem_pool_t *) wp_mem_map_next (&self->pools, &pool_at)); ) {
        if (wp_mem_pool_idle (pool))
            continue;
        wp_pool_stats_t *entry = &stats->pools [stats->pool_count++];
        entry->pool = wp_strdup (pool->name);
        entry->paused = pool->paused;
        entry->pending = pool->by_status [WP_ITEM_PENDING].count;
        entry->claimed = pool->by_status [WP_ITEM_CLAIMED].count;
        entry->done = pool->by_status [WP_ITEM_DONE].count;
        entry->poisoned = pool->by_status [WP_ITEM_POISONED].count;
        entry->scheduled = pool->by_status [WP_ITEM_SCHEDULED].count;
        entry->backoff = pool->backoff;
    }
    qsort (stats->pools, stats->pool_count, sizeof (wp_pool_stats_t), s_compare_pool_stats);

    //  Few distinct statuses: a linear search per worker is cheapest
    stats->workers = (wp_status_count_t *) wp_mem_alloc (
        self->workers.count * sizeof (wp_status_count_t));
    size_t worker_at = 0;
    for (wp_mem_worker_t *worker; (worker = (wp_mem_worker_t *) wp_mem_map_next (&self->workers, &worker_at)); ) {
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
    return wp_mem_leave (self, WP_OK);
}

//  ---------------------------------------------------------------------
//  Life cycle

static void
s_destroy (wp_store_t *base)
{
    wp_mem_store_t *self = (wp_mem_store_t *) base;
    s_rollback_locked (self);
    size_t pool_at = 0;
    for (wp_mem_pool_t *pool; (pool = (wp_mem_pool_t *) wp_mem_map_next (&self->pools, &pool_at)); ) {
        size_t item_at = 0;
        for (wp_mem_item_t *item; (item = (wp_mem_item_t *) wp_mem_map_next (&pool->items, &item_at)); )
            s_item_free (item);
        wp_mem_pool_free (pool);
    }
    size_t holder_at = 0;
    for (wp_mem_holder_t *holder; (holder = (wp_mem_holder_t *) wp_mem_map_next (&self->holders, &holder_at)); ) {
        free (holder->worker_id);
        free (holder);
    }
    size_t worker_at = 0;
    for (wp_mem_worker_t *worker; (worker = (wp_mem_worker_t *) wp_mem_map_next (&self->workers, &worker_at)); )
        s_worker_free (worker);
    size_t schedule_at = 0;
    for (wp_mem_schedule_t *schedule;
         (schedule = (wp_mem_schedule_t *) wp_mem_map_next (&self->schedules, &schedule_at)); )
        wp_mem_schedule_free (schedule);
    wp_mem_map_release (&self->schedules);
    wp_mem_heap_release (&self->due);
    wp_mem_heap_release (&self->ticks);
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
    .register_worker = wp_mem_register,
    .heartbeat = wp_mem_heartbeat,
    .update_status = wp_mem_update_status,
    .get_worker = wp_mem_get_worker,
    .list_workers = wp_mem_list_workers,
    .reap = s_reap,
    .next_due = s_next_due,
    .purge = s_purge,
    .stats = s_stats,
    .savepoint = s_savepoint,
    .release = s_release,
    .rollback_to = s_rollback_to,
    .list_items = wp_mem_list_items,
    .retry = wp_mem_retry,
    .retry_all = wp_mem_retry_all,
    .cancel = wp_mem_cancel,
    .purge_pool = wp_mem_purge_pool,
    .set_paused = wp_mem_set_paused,
    .set_backoff = wp_mem_set_backoff,
    .schedule_put = wp_mem_schedule_put,
    .schedule_remove = wp_mem_schedule_remove,
    .schedule_list = wp_mem_schedule_list,
};

wp_store_t *
wp_store_memory_new_journaled (const wp_store_config_t *cfg, const wp_memory_journal_t *journal)
{
    wp_store_t *base = wp_store_memory_new (cfg);
    ((wp_mem_store_t *) base)->journal = journal;
    base->thread_shared = false;
    return base;
}

int
wp_store_memory_load_item (wp_store_t *base, const char *pool_name, wp_item_t **rec_p,
                           uint64_t seq, int64_t lease_us, int64_t updated_at)
{
    wp_mem_store_t *self = (wp_mem_store_t *) base;
    wp_mem_pool_t *pool = wp_mem_pool_require (self, pool_name);
    if (wp_mem_map_lookup (&pool->items, (*rec_p)->id))
        return -1;
    wp_item_t *rec = *rec_p;
    wp_mem_item_t *item = s_item_alloc (rec->id, rec->data, rec->data_size);
    char *id = item->rec.id;
    uint8_t *data = item->rec.data;
    item->rec = *rec;
    item->rec.id = id;
    item->rec.data = data;
    item->rec.pool = pool->name;
    free (rec->id);
    free (rec->data);
    free (rec->pool);
    free (rec);
    *rec_p = NULL;
    item->pool = pool;
    item->seq = seq;
    if (item->rec.status == WP_ITEM_CLAIMED)
        item->lease_us = lease_us;
    else
        item->updated_at = updated_at;
    item->heap_pos = WP_MEM_NOWHERE;
    if (seq >= self->next_seq)
        self->next_seq = seq + 1;
    wp_mem_map_insert (&pool->items, item->rec.id, item);
    s_item_index (self, item);
    return 0;
}

void
wp_store_memory_load_pool (wp_store_t *base, const char *pool_name, bool paused,
                           const wp_backoff_t *backoff)
{
    wp_mem_store_t *self = (wp_mem_store_t *) base;
    wp_mem_pool_t *pool = wp_mem_pool_require (self, pool_name);
    pool->paused = paused;
    if (backoff)
        pool->backoff = *backoff;
}

void
wp_store_memory_load_worker (wp_store_t *base, wp_worker_t **rec_p)
{
    wp_mem_store_t *self = (wp_mem_store_t *) base;
    wp_mem_worker_t *entry = (wp_mem_worker_t *) wp_mem_alloc (sizeof *entry);
    entry->rec = *rec_p;
    *rec_p = NULL;
    entry->id = wp_strdup (entry->rec->worker_id);
    entry->heap_pos = WP_MEM_NOWHERE;
    wp_mem_map_insert (&self->workers, entry->id, entry);
    wp_mem_worker_change_end (self, entry);
}

wp_store_t *
wp_store_memory_new (const wp_store_config_t *cfg)
{
    wp_mem_store_t *self = (wp_mem_store_t *) wp_mem_alloc (sizeof *self);
    wp_store_init (&self->base, &s_memory_ops, cfg);
    self->base.thread_shared = true;
    //  Recursive: a savepoint holds it across the calls of its batch
    pthread_mutexattr_t attr;
    if (pthread_mutexattr_init (&attr) != 0
    ||  pthread_mutexattr_settype (&attr, PTHREAD_MUTEX_RECURSIVE) != 0
    ||  pthread_mutex_init (&self->mutex, &attr) != 0)
        abort ();
    pthread_mutexattr_destroy (&attr);
    wp_mem_map_init (&self->pools, s_pool_key);
    wp_mem_map_init (&self->holders, s_holder_key);
    wp_mem_map_init (&self->workers, s_worker_key);
    wp_mem_map_init (&self->schedules, s_schedule_key);
    wp_mem_heap_init (&self->leases, s_lease_before, s_item_slot);
    wp_mem_heap_init (&self->finished, s_finished_before, s_item_slot);
    wp_mem_heap_init (&self->due, s_due_before, s_item_slot);
    wp_mem_heap_init (&self->ticks, wp_mem_tick_before, wp_mem_schedule_slot);
    wp_mem_heap_init (&self->stale, s_stale_before, s_worker_slot);
    return &self->base;
}
