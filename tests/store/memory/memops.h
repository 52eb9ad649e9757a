/*  memops: a store's savepoint ops, which only wp_store.c's batch calls
    reach through the vtable, for the tests of the memory and image stores.
    savepoint first clears the store's error message, as a dispatch does,
    by a call that changes nothing.  */
#ifndef WP_MEMOPS_H_INCLUDED
#define WP_MEMOPS_H_INCLUDED

#include "wp_store_impl.h"

static inline void
memops_clear_error (wp_store_t *store)
{
    int64_t next;
    wp_store_next_due (store, &next);
}

static inline wp_status
memops_savepoint (wp_store_t *store)
{
    memops_clear_error (store);
    return store->ops->savepoint (store);
}

static inline void
memops_release (wp_store_t *store)
{
    store->ops->release (store);
}

static inline void
memops_rollback_to (wp_store_t *store)
{
    store->ops->rollback_to (store);
}

#endif
