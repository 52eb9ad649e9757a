/*  memops: the lifecycle and savepoint ops of a store, called through its
    vtable. Until wp_store.c dispatches them (the store-sql branch writes
    those calls), the memory and image stores' tests reach them here, after
    the same argument checks wp_store.c makes being the caller's job. Each
    first clears the store's error message, as dispatch does, by a call
    that changes nothing.  */
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

static inline wp_status
memops_list (wp_store_t *store, const char *pool, const wp_item_state *statuses,
             size_t status_count, size_t limit, const char *cursor,
             wp_item_list_t **items_out, char **cursor_out)
{
    memops_clear_error (store);
    return store->ops->list_items (store, pool, statuses, status_count, limit, cursor,
                                   items_out, cursor_out);
}

static inline wp_status
memops_retry (wp_store_t *store, const char *pool, const char *id)
{
    memops_clear_error (store);
    return store->ops->retry (store, pool, id);
}

static inline wp_status
memops_retry_all (wp_store_t *store, const char *pool, uint64_t *count_out)
{
    memops_clear_error (store);
    return store->ops->retry_all (store, pool, count_out);
}

static inline wp_status
memops_cancel (wp_store_t *store, const char *pool, const char *id)
{
    memops_clear_error (store);
    return store->ops->cancel (store, pool, id);
}

static inline wp_status
memops_purge_pool (wp_store_t *store, const char *pool, const wp_item_state *statuses,
                   size_t status_count, uint64_t *count_out)
{
    memops_clear_error (store);
    return store->ops->purge_pool (store, pool, statuses, status_count, count_out);
}

static inline wp_status
memops_set_paused (wp_store_t *store, const char *pool, bool paused)
{
    memops_clear_error (store);
    return store->ops->set_paused (store, pool, paused);
}

#endif
