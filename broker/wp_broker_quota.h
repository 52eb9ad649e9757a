/*  wp_broker_quota: the limits on what pushes may hold: pending items per
    pool, and pools. Internal to broker/.  */
#ifndef WP_BROKER_QUOTA_H_INCLUDED
#define WP_BROKER_QUOTA_H_INCLUDED

#include "wp_store.h"

typedef struct _wp_quota_t wp_quota_t;

//  max_pending: pending items a push may bring a pool to; max_pools: pools
//  (holding items or paused) a push may bring the store to; 0: no limit.
//  Caller owns return value.
wp_quota_t *wp_quota_new (uint64_t max_pending, uint64_t max_pools);
void wp_quota_destroy (wp_quota_t **self_p);
//  In the open transaction, before a push of the count entries to pool:
//  WP_OK; or WP_RESOURCE_EXHAUSTED with a message naming the limit's flag
//  in msg; or the store's failure (its message in msg). An entry whose id
//  the pool holds (a duplicate) is not counted; one id twice in a batch is.
wp_status wp_quota_check_push (wp_quota_t *self, wp_store_t *store, const char *pool,
                               const wp_push_entry_t *entries, size_t count,
                               char *msg, size_t size);

#endif
