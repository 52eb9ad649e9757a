/*  wp_mem_undo: the memory store's undo log. Inside a group, the first
    change to an item, worker, pool or schedule saves what it was here (the store
    fills the entry); rollback walks the entries newest first and restores
    each (the store does, it knows its indexes). A savepoint is a mark: an
    index into the log, and the entries after it are what rollback_to
    undoes. The log owns the saved fields of its entries. Internal to
    store/.  */
#ifndef WP_MEM_UNDO_H_INCLUDED
#define WP_MEM_UNDO_H_INCLUDED

#include "wp_records.h"

typedef enum {
    WP_UNDO_ITEM,               //  item changed: saved fields restore it
    WP_UNDO_ITEM_NEW,           //  item pushed in the group: delete it
    WP_UNDO_ITEM_PURGED,        //  item removed in the group: put it back
    WP_UNDO_WORKER,             //  worker changed (saved_rec) or new (NULL)
    WP_UNDO_POOL,               //  pool's paused flag or retry policy changed
    WP_UNDO_SCHEDULE            //  schedule changed (saved_schedule), new or
                                //  removed (NULL: it did not exist)
} wp_undo_kind;

typedef struct {
    wp_undo_kind kind;
    void *item;                 //  the store's item, for the item kinds
    void *worker;               //  the store's worker, for WP_UNDO_WORKER
    void *pool;                 //  the store's pool, for WP_UNDO_POOL
    void *schedule;             //  the store's schedule, for WP_UNDO_SCHEDULE
    //  WP_UNDO_ITEM: the fields a change may touch, owned here
    wp_item_state status;
    char *claimed_by;
    int64_t claimed_at;
    int64_t lease_expires_at;
    uint32_t attempts;
    uint8_t *result;
    size_t result_size;
    char *error;
    int64_t updated_at;
    int64_t run_at;
    //  WP_UNDO_WORKER: the record before the group, NULL if it was created
    wp_worker_t *saved_rec;
    //  WP_UNDO_POOL: the flag and the policy before the change
    bool paused;
    wp_backoff_t backoff;
    //  WP_UNDO_SCHEDULE: the record before the group, NULL if there was none
    wp_schedule_t *saved_schedule;
} wp_undo_t;

//  A value type: zero-initialised is an empty log
typedef struct {
    wp_undo_t *entries;         //  oldest first
    size_t count;
    size_t capacity;
} wp_mem_undo_t;

//  Appends a zeroed entry of kind; the pointer is valid until the next add.
wp_undo_t *wp_mem_undo_add (wp_mem_undo_t *log, wp_undo_kind kind);

//  Frees the saved fields of entries [from, count) and drops them. A log
//  that grew large gives back its array when emptied.
void wp_mem_undo_truncate (wp_mem_undo_t *log, size_t from);

//  Frees the array; the log must be empty.
void wp_mem_undo_release (wp_mem_undo_t *log);

#endif
