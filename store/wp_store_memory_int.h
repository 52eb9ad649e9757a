/*  wp_store_memory_int: what the image store (wp_store_image.c) needs of the
    memory store: a journal that is handed every change of a group before the
    group commits, and a way to load saved state into a fresh store.
    Internal to store/.

    The journal sees each item, worker, pool (its paused flag and retry
    policy) and schedule a group changed once, in its state at commit (an item pushed and then claimed
    in one group is one new item, already claimed; what a savepoint's
    rollback_to undid is not seen at all). If any journal call fails, the
    journal is rolled back, the group is rolled back in memory, and
    wp_store_commit returns the journal's status: the memory never runs
    ahead of what the journal holds.
    Calls outside a group are not journaled; the image store opens a group
    around each of them.  */
#ifndef WP_STORE_MEMORY_INT_H_INCLUDED
#define WP_STORE_MEMORY_INT_H_INCLUDED

#include "wp_store_impl.h"

//  An item as the group left it; the pointers are the store's, valid for
//  the journal call only.
typedef struct {
    const char *pool;
    const wp_item_t *rec;
    uint64_t seq;               //  push order, unique in the store
    int64_t lease_us;           //  claimed: the lease length asked for, else 0
    int64_t updated_at;         //  not claimed: time of the last change, else 0
    bool is_new;                //  pushed in this group
} wp_memory_item_image_t;

//  Each call returns WP_OK or a failure with errmsg set on the store it
//  was handed to the memory store for (see wp_store_memory_new_journaled).
typedef struct {
    void *arg;
    wp_status (*begin) (void *arg);
    wp_status (*item) (void *arg, const wp_memory_item_image_t *image);
    wp_status (*item_gone) (void *arg, uint64_t seq);
    wp_status (*worker) (void *arg, const wp_worker_t *rec);
    wp_status (*pool) (void *arg, const char *name, bool paused, const wp_backoff_t *backoff);
    wp_status (*schedule) (void *arg, const wp_schedule_t *rec);
    wp_status (*schedule_gone) (void *arg, const char *name);
    wp_status (*commit) (void *arg);
    void (*rollback) (void *arg);
} wp_memory_journal_t;

//  Opens a memory store whose commits go through journal first (borrowed:
//  it must outlive the store). Unlike wp_store_memory_new, one thread at a
//  time. Caller owns return value.
wp_store_t *wp_store_memory_new_journaled (const wp_store_config_t *cfg,
                                           const wp_memory_journal_t *journal);

//  Loading, before the first call: adds an item in the state rec gives,
//  taking the buffers rec points to (rec->pool is ignored) and nulling
//  *rec_p. seq must be unique; later pushes get higher ones. Returns -1,
//  taking nothing, if the pool already holds an item with rec's id.
int wp_store_memory_load_item (wp_store_t *self, const char *pool, wp_item_t **rec_p,
                               uint64_t seq, int64_t lease_us, int64_t updated_at);

//  Loading: sets pool's paused flag and retry policy (backoff may be NULL:
//  none), creating the pool.
void wp_store_memory_load_pool (wp_store_t *self, const char *pool, bool paused,
                                const wp_backoff_t *backoff);

//  Loading: adds a schedule as it was stored, taking it (nulls *rec_p); its
//  name must not be loaded already.
void wp_store_memory_load_schedule (wp_store_t *self, wp_schedule_t **rec_p);

//  Loading: adds a worker record as it was stored, taking it (nulls *rec_p).
void wp_store_memory_load_worker (wp_store_t *self, wp_worker_t **rec_p);

#endif
