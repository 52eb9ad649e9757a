/*  wp_store_memory_admin: the memory store's inspection and lifecycle
    calls: List (a walk per status index, merged by seq), Retry, RetryAll,
    Cancel, Purge by status, Pause/Resume, SetBackoff. Records and transitions in
    wp_mem_store.h.  */
#include "wp_mem_store.h"
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

//  Outside a group an idle pool goes at once (inside, commit sees to it)
static void
s_pool_drop_if_idle (wp_mem_store_t *self, wp_mem_pool_t *pool)
{
    if (!self->in_txn && wp_mem_pool_idle (pool)) {
        wp_mem_map_delete (&self->pools, pool->name);
        wp_mem_pool_free (pool);
    }
}

//  Items of pool in the given states (each at most once, in range), the
//  set of all of them if count is 0; returns how many
static size_t
s_state_set (const wp_item_state *statuses, size_t count, wp_item_state set [WP_ITEM_STATE_COUNT])
{
    bool seen [WP_ITEM_STATE_COUNT] = { false };
    size_t size = 0;
    for (size_t i = 0; i < (count ? count : WP_ITEM_STATE_COUNT); i++) {
        wp_item_state state = count ? statuses [i] : (wp_item_state) i;
        if ((int) state >= 0 && state < WP_ITEM_STATE_COUNT && !seen [state]) {
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
wp_status
wp_mem_list_items (wp_store_t *base, const char *pool_name,
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
    wp_mem_store_t *self = wp_mem_enter (base);
    wp_item_list_t *list = wp_item_list_new ();
    char *next_cursor = NULL;
    wp_mem_pool_t *pool = wp_mem_pool_lookup (self, pool_name);
    wp_item_state set [WP_ITEM_STATE_COUNT];
    size_t set_size = s_state_set (statuses, status_count, set);
    if (pool) {
        wp_mem_tree_walk_t walks [WP_ITEM_STATE_COUNT];
        for (size_t i = 0; i < set_size; i++)
            wp_mem_tree_walk_start (&walks [i], &pool->by_status [set [i]], cursor == NULL, after);
        uint64_t last_seq = 0;
        while (true) {
            //  The smallest seq at the head of the walks
            size_t best = set_size;
            for (size_t i = 0; i < set_size; i++) {
                wp_mem_item_t *head = wp_mem_item_of (wp_mem_tree_walk_peek (&walks [i]));
                if (head && (best == set_size
                         ||  head->seq < wp_mem_item_of (wp_mem_tree_walk_peek (&walks [best]))->seq))
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
            wp_mem_item_t *item = wp_mem_item_of (wp_mem_tree_walk_peek (&walks [best]));
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
    return wp_mem_leave (self, WP_OK);
}

//  Back to pending from done or poisoned, as new but for its error
static void
s_item_retry (wp_mem_store_t *self, wp_mem_item_t *item)
{
    wp_mem_item_change_begin (self, item);
    item->rec.status = WP_ITEM_PENDING;
    item->rec.attempts = 0;
    free (item->rec.result);
    item->rec.result = NULL;
    item->rec.result_size = 0;
    wp_mem_item_clear_claim (item, false);
    wp_mem_item_change_end (self, item);
}

wp_status
wp_mem_retry (wp_store_t *base, const char *pool_name, const char *id)
{
    wp_mem_store_t *self = wp_mem_enter (base);
    wp_mem_item_t *item = wp_mem_item_lookup (self, pool_name, id);
    if (!item)
        return wp_mem_leave (self, wp_store_error (base, WP_NOT_FOUND,
                                              "no item '%s' in pool '%s'", id, pool_name));
    wp_mem_item_t *holder = item->rec.unique_key
                          ? wp_mem_unique_holder (item->pool, item->rec.unique_key) : NULL;
    wp_status status = wp_store_refuse_retry (base, id, item->rec.status, item->rec.unique_key,
                                              holder ? holder->rec.id : NULL);
    if (status != WP_OK)
        return wp_mem_leave (self, status);
    s_item_retry (self, item);
    return wp_mem_leave (self, WP_OK);
}

//  The items of one of pool's status indexes, in a fresh array (caller
//  frees), so that the caller may move them while it walks
static wp_mem_item_t **
s_items_in (wp_mem_pool_t *pool, wp_item_state state, size_t *count_p)
{
    wp_mem_tree_t *tree = &pool->by_status [state];
    wp_mem_item_t **items = (wp_mem_item_t **) wp_mem_alloc (tree->count * sizeof (wp_mem_item_t *));
    size_t count = 0;
    wp_mem_tree_walk_t walk;
    wp_mem_tree_walk_start (&walk, tree, true, 0);
    for (wp_mem_tnode_t *node; (node = wp_mem_tree_walk_peek (&walk));
         wp_mem_tree_walk_next (&walk))
        items [count++] = wp_mem_item_of (node);
    wp_mem_tree_walk_end (&walk);
    *count_p = count;
    return items;
}

wp_status
wp_mem_retry_all (wp_store_t *base, const char *pool_name, uint64_t *count_out)
{
    wp_mem_store_t *self = wp_mem_enter (base);
    wp_mem_pool_t *pool = wp_mem_pool_lookup (self, pool_name);
    uint64_t retried = 0;
    if (pool) {
        //  In push order, so of several with one key the oldest is retried
        //  (and holds the key against the rest)
        size_t count;
        wp_mem_item_t **items = s_items_in (pool, WP_ITEM_POISONED, &count);
        for (size_t i = 0; i < count; i++)
            if (!items [i]->rec.unique_key
            ||  !wp_mem_unique_holder (pool, items [i]->rec.unique_key)) {
                s_item_retry (self, items [i]);
                retried++;
            }
        free (items);
    }
    *count_out = retried;
    return wp_mem_leave (self, WP_OK);
}

wp_status
wp_mem_cancel (wp_store_t *base, const char *pool_name, const char *id)
{
    wp_mem_store_t *self = wp_mem_enter (base);
    wp_mem_item_t *item = wp_mem_item_lookup (self, pool_name, id);
    if (!item)
        return wp_mem_leave (self, wp_store_error (base, WP_NOT_FOUND,
                                              "no item '%s' in pool '%s'", id, pool_name));
    wp_status status = wp_store_refuse_cancel (base, id, item->rec.status, item->rec.claimed_by);
    if (status != WP_OK)
        return wp_mem_leave (self, status);
    wp_mem_pool_t *pool = item->pool;
    wp_mem_item_remove (self, item);
    s_pool_drop_if_idle (self, pool);
    return wp_mem_leave (self, WP_OK);
}

//  wp_store.c has refused a set naming claimed; claimed items are skipped
//  here all the same, since a worker may be halfway
wp_status
wp_mem_purge_pool (wp_store_t *base, const char *pool_name,
              const wp_item_state *statuses, size_t status_count, uint64_t *count_out)
{
    wp_mem_store_t *self = wp_mem_enter (base);
    wp_mem_pool_t *pool = wp_mem_pool_lookup (self, pool_name);
    uint64_t removed = 0;
    wp_item_state set [WP_ITEM_STATE_COUNT];
    size_t set_size = s_state_set (statuses, status_count, set);
    for (size_t i = 0; pool && status_count > 0 && i < set_size; i++) {
        if (set [i] == WP_ITEM_CLAIMED)
            continue;
        size_t count;
        wp_mem_item_t **items = s_items_in (pool, set [i], &count);
        for (size_t j = 0; j < count; j++)
            wp_mem_item_remove (self, items [j]);
        free (items);
        removed += count;
    }
    if (pool)
        s_pool_drop_if_idle (self, pool);
    *count_out = removed;
    return wp_mem_leave (self, WP_OK);
}

static bool
s_backoff_equal (const wp_backoff_t *a, const wp_backoff_t *b)
{
    return a->base == b->base && a->cap == b->cap && a->jitter == b->jitter;
}

wp_status
wp_mem_set_backoff (wp_store_t *base, const char *pool_name, const wp_backoff_t *policy)
{
    wp_mem_store_t *self = wp_mem_enter (base);
    //  base 0 is no policy, whatever else it says (wp_store.c has checked it)
    wp_backoff_t none = { 0, 0, 0 };
    const wp_backoff_t *wanted = policy->base > 0 ? policy : &none;
    wp_mem_pool_t *pool = wp_mem_pool_lookup (self, pool_name);
    if (!pool && wanted->base <= 0)
        return wp_mem_leave (self, WP_OK);
    if (!pool)
        pool = wp_mem_pool_require (self, pool_name);
    if (!s_backoff_equal (&pool->backoff, wanted)) {
        wp_mem_pool_save (self, pool);
        pool->backoff = *wanted;
    }
    s_pool_drop_if_idle (self, pool);
    return wp_mem_leave (self, WP_OK);
}

wp_status
wp_mem_set_paused (wp_store_t *base, const char *pool_name, bool paused)
{
    wp_mem_store_t *self = wp_mem_enter (base);
    wp_mem_pool_t *pool = wp_mem_pool_lookup (self, pool_name);
    if (!pool && !paused)
        return wp_mem_leave (self, WP_OK);
    if (!pool)
        pool = wp_mem_pool_require (self, pool_name);
    if (pool->paused != paused) {
        wp_mem_pool_save (self, pool);
        pool->paused = paused;
    }
    s_pool_drop_if_idle (self, pool);
    return wp_mem_leave (self, WP_OK);
}
