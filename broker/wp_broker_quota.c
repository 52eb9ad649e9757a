/*  wp_broker_quota: limits on pushes (see wp_broker_quota.h).

    Pending per pool costs one wp_store_size, O(1) in every store (the
    SQLite store keeps per-pool counts). Pools are counted from a set of the
    names known to exist, read from wp_store_stats (O(pools)) on the first
    push to a pool not in it, and again only when the set says the limit is
    reached, at most once a second: the set may hold pools since emptied
    (it only grows between reads), so it errs towards reading again, and an
    exact answer costs a read only near the limit.  */
#include "wp_broker_quota.h"
#include <czmq.h>
#include <inttypes.h>

#define S_REREAD_EVERY_US   1000000

struct _wp_quota_t {
    uint64_t max_pending;
    uint64_t max_pools;
    zhashx_t *pools;            //  names of pools known to exist (values unused)
    bool read;                  //  pools was read from the store at least once
    int64_t read_at;
};

wp_quota_t *
wp_quota_new (uint64_t max_pending, uint64_t max_pools)
{
    wp_quota_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    self->max_pending = max_pending;
    self->max_pools = max_pools;
    self->pools = zhashx_new ();
    return self;
}

void
wp_quota_destroy (wp_quota_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhashx_destroy (&(*self_p)->pools);
    free (*self_p);
    *self_p = NULL;
}

static wp_status
s_read_pools (wp_quota_t *self, wp_store_t *store)
{
    wp_stats_t *stats = NULL;
    wp_status rc = wp_store_stats (store, &stats);
    if (rc != WP_OK)
        return rc;
    zhashx_purge (self->pools);
    for (size_t i = 0; i < stats->pool_count; i++)
        zhashx_insert (self->pools, stats->pools [i].pool, (void *) 1);
    wp_stats_destroy (&stats);
    self->read = true;
    self->read_at = wp_time_now ();
    return WP_OK;
}

wp_status
wp_quota_check_push (wp_quota_t *self, wp_store_t *store, const char *pool,
                     const wp_push_entry_t *entries, size_t count, char *msg, size_t size)
{
    wp_status rc;
    if (self->max_pending) {
        uint64_t pending = 0;
        rc = wp_store_size (store, pool, &pending);
        if (rc != WP_OK) {
            snprintf (msg, size, "%s", wp_store_errmsg (store));
            return rc;
        }
        //  Near the limit, the entries whose ids the pool holds already
        //  (a retried push: duplicates) bring nothing new and are not counted
        size_t fresh = count;
        for (size_t i = 0; i < count && pending + fresh > self->max_pending; i++) {
            wp_item_t *item = NULL;
            if (entries [i].id && wp_store_get (store, pool, entries [i].id, &item) == WP_OK
            &&  item)
                fresh--;
            wp_item_destroy (&item);
        }
        if (pending + fresh > self->max_pending) {
            snprintf (msg, size, "pool '%s' holds %" PRIu64 " pending items: %zu more would "
                      "pass this broker's limit of %" PRIu64 " per pool (--max-pending)",
                      pool, pending, fresh, self->max_pending);
            return WP_RESOURCE_EXHAUSTED;
        }
    }
    if (self->max_pools == 0 || zhashx_lookup (self->pools, pool))
        return WP_OK;
    if (!self->read
    ||  (zhashx_size (self->pools) >= self->max_pools
         && wp_time_now () - self->read_at >= S_REREAD_EVERY_US)) {
        rc = s_read_pools (self, store);
        if (rc != WP_OK) {
            snprintf (msg, size, "%s", wp_store_errmsg (store));
            return rc;
        }
        if (zhashx_lookup (self->pools, pool))
            return WP_OK;
    }
    if (zhashx_size (self->pools) >= self->max_pools) {
        snprintf (msg, size, "this broker holds %zu pools, its limit (--max-pools); "
                  "pool '%s' would be one more", zhashx_size (self->pools), pool);
        return WP_RESOURCE_EXHAUSTED;
    }
    zhashx_insert (self->pools, pool, (void *) 1);
    return WP_OK;
}
