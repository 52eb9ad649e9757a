/*  wp_store_sqlite_admin: the inspection and lifecycle calls of the SQLite
    store (list_items, retry, retry_all, cancel, purge_pool, set_paused).

    Each runs in the frame of wp_store_sqlite_int.h and reaches its rows
    through items_status (pool_id, status, seq): a list page of one state is
    one range of it, so a page costs O(log n + limit) however large the
    pool. The per-pool counters follow through the triggers on items.  */
#include "wp_store_sqlite_int.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  An item of a list page and where it sits in push order.
typedef struct {
    int64_t seq;
    wp_item_t *item;
} s_row_t;

static int
s_row_compare (const void *a, const void *b)
{
    int64_t x = ((const s_row_t *) a)->seq, y = ((const s_row_t *) b)->seq;
    return (x > y) - (x < y);
}

//  The cursor is the decimal seq of the last item of the page before.
static bool
s_cursor_parse (const char *cursor, int64_t *after)
{
    *after = 0;
    if (!cursor)
        return true;
    if (cursor [0] < '0' || cursor [0] > '9')
        return false;
    errno = 0;
    char *end;
    long long value = strtoll (cursor, &end, 10);
    if (errno || *end || value < 0)
        return false;
    *after = value;
    return true;
}

//  Appends to *rows the first limit + 1 items of pool in state after seq
//  after; *count grows.
static wp_status
s_list_state (wp_sqlite_t *self, const char *pool, wp_item_state state, int64_t after,
              size_t limit, s_row_t **rows, size_t *count)
{
    sqlite3_stmt *stmt = wp_sqlite_stmt (self, WP_SQL_LIST);
    wp_sqlite_bind_text (stmt, 1, pool);
    sqlite3_bind_int (stmt, 2, (int) state);
    sqlite3_bind_int64 (stmt, 3, after);
    sqlite3_bind_int64 (stmt, 4, (int64_t) limit + 1);
    int rc;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        *rows = realloc (*rows, (*count + 1) * sizeof **rows);
        if (!*rows)
            abort ();
        (*rows) [*count].seq = sqlite3_column_int64 (stmt, 0);
        (*rows) [*count].item = wp_sqlite_item_read (stmt, pool);
        (*count)++;
    }
    sqlite3_reset (stmt);
    return rc == SQLITE_DONE? WP_OK: wp_sqlite_error (self, rc, "listing items");
}

wp_status
wp_sqlite_list_items (wp_store_t *base, const char *pool,
                      const wp_item_state *statuses, size_t status_count,
                      size_t limit, const char *cursor,
                      wp_item_list_t **items_out, char **cursor_out)
{
    wp_sqlite_t *self = (wp_sqlite_t *) base;
    int64_t after;
    if (!s_cursor_parse (cursor, &after))
        return wp_store_error (base, WP_INVALID_ARGUMENT, "cursor is not one this store made");
    static const wp_item_state all [] = {
        WP_ITEM_PENDING, WP_ITEM_CLAIMED, WP_ITEM_DONE, WP_ITEM_POISONED
    };
    if (status_count == 0) {
        statuses = all;
        status_count = sizeof all / sizeof all [0];
    }
    wp_status status = wp_sqlite_enter (self, false);
    if (status)
        return status;
    s_row_t *rows = NULL;
    size_t count = 0;
    bool seen [4] = { false };
    for (size_t i = 0; i < status_count && status == WP_OK; i++) {
        if (seen [statuses [i]])
            continue;               //  a state named twice is listed once
        seen [statuses [i]] = true;
        status = s_list_state (self, pool, statuses [i], after, limit, &rows, &count);
    }
    status = wp_sqlite_leave (self, false, status);
    //  Each state's run holds its first limit + 1 items, so the first
    //  limit + 1 of the merge are the page and whether another follows
    if (count > 1)
        qsort (rows, count, sizeof *rows, s_row_compare);
    wp_item_list_t *items = wp_item_list_new ();
    char *next = NULL;
    for (size_t i = 0; i < count; i++) {
        if (status == WP_OK && i < limit)
            wp_item_list_append (items, &rows [i].item);
        else
            wp_item_destroy (&rows [i].item);
    }
    if (status == WP_OK && count > limit) {
        char text [32];
        snprintf (text, sizeof text, "%lld", (long long) rows [limit - 1].seq);
        next = wp_strdup (text);
    }
    free (rows);
    if (status == WP_OK) {
        *items_out = items;
        *cursor_out = next;
    }
    else
        wp_item_list_destroy (&items);
    return status;
}

//  Reads item id of pool: *seq, *state and *holder (caller owns; NULL
//  unless claimed). Unknown: WP_NOT_FOUND.
static wp_status
s_item_state (wp_sqlite_t *self, const char *pool, const char *id, int64_t *seq,
              wp_item_state *state, char **holder)
{
    sqlite3_stmt *stmt = wp_sqlite_stmt (self, WP_SQL_ITEM_STATE);
    wp_sqlite_bind_text (stmt, 1, pool);
    wp_sqlite_bind_text (stmt, 2, id);
    int rc = sqlite3_step (stmt);
    wp_status status = WP_OK;
    if (rc == SQLITE_ROW) {
        *seq = sqlite3_column_int64 (stmt, 0);
        *state = (wp_item_state) sqlite3_column_int (stmt, 1);
        *holder = wp_sqlite_column_strdup (stmt, 2);
    }
    else
    if (rc == SQLITE_DONE)
        status = wp_store_error (&self->base, WP_NOT_FOUND, "no item '%s' in pool '%s'", id, pool);
    else
        status = wp_sqlite_error (self, rc, "reading the item");
    sqlite3_reset (stmt);
    return status;
}

//  Why item id, in state (held by holder, if claimed), may not change as
//  the call asks: WP_FAILED_PRECONDITION with errmsg set, or WP_OK.
typedef wp_status (s_refuse_fn) (wp_sqlite_t *self, const char *id, wp_item_state state,
                                 const char *holder);

//  Runs statement (?1 the item's seq, ?2 if it has one the time) on item
//  id of pool, unless refuse says no. Unknown id: WP_NOT_FOUND.
static wp_status
s_item_change (wp_sqlite_t *self, const char *pool, const char *id, s_refuse_fn *refuse,
               wp_sqlite_stmt_id statement, const char *doing)
{
    wp_status status = wp_sqlite_enter (self, true);
    if (status)
        return status;
    int64_t seq = 0;
    wp_item_state state = WP_ITEM_PENDING;
    char *holder = NULL;
    status = s_item_state (self, pool, id, &seq, &state, &holder);
    if (status == WP_OK)
        status = refuse (self, id, state, holder);
    if (status == WP_OK) {
        sqlite3_stmt *stmt = wp_sqlite_stmt (self, statement);
        sqlite3_bind_int64 (stmt, 1, seq);
        if (sqlite3_bind_parameter_count (stmt) > 1)
            sqlite3_bind_int64 (stmt, 2, self->now);
        status = wp_sqlite_run (self, stmt, doing);
    }
    free (holder);
    return wp_sqlite_leave (self, true, status);
}

static wp_status
s_refuse_retry (wp_sqlite_t *self, const char *id, wp_item_state state, const char *holder)
{
    (void) holder;
    if (state == WP_ITEM_POISONED || state == WP_ITEM_DONE)
        return WP_OK;
    return wp_store_error (&self->base, WP_FAILED_PRECONDITION,
                           "item '%s' is %s: only poisoned or done items can be retried",
                           id, wp_item_state_name (state));
}

wp_status
wp_sqlite_retry (wp_store_t *base, const char *pool, const char *id)
{
    return s_item_change ((wp_sqlite_t *) base, pool, id, s_refuse_retry, WP_SQL_RETRY,
                          "retrying the item");
}

wp_status
wp_sqlite_retry_all (wp_store_t *base, const char *pool, uint64_t *count_out)
{
    wp_sqlite_t *self = (wp_sqlite_t *) base;
    wp_status status = wp_sqlite_enter (self, true);
    if (status)
        return status;
    sqlite3_stmt *stmt = wp_sqlite_stmt (self, WP_SQL_RETRY_ALL);
    wp_sqlite_bind_text (stmt, 1, pool);
    sqlite3_bind_int64 (stmt, 2, self->now);
    status = wp_sqlite_run (self, stmt, "retrying poisoned items");
    uint64_t count = status == WP_OK? (uint64_t) sqlite3_changes64 (self->db): 0;
    status = wp_sqlite_leave (self, true, status);
    if (status == WP_OK)
        *count_out = count;
    return status;
}

static wp_status
s_refuse_cancel (wp_sqlite_t *self, const char *id, wp_item_state state, const char *holder)
{
    if (state == WP_ITEM_CLAIMED)
        return wp_store_error (&self->base, WP_FAILED_PRECONDITION,
                               "item '%s' is claimed by '%s': a worker may be halfway;"
                               " fail or release it first", id, holder? holder: "?");
    if (state == WP_ITEM_DONE)
        return wp_store_error (&self->base, WP_FAILED_PRECONDITION,
                               "item '%s' is done: purge removes finished items", id);
    return WP_OK;
}

wp_status
wp_sqlite_cancel (wp_store_t *base, const char *pool, const char *id)
{
    return s_item_change ((wp_sqlite_t *) base, pool, id, s_refuse_cancel, WP_SQL_CANCEL,
                          "cancelling the item");
}

wp_status
wp_sqlite_purge_pool (wp_store_t *base, const char *pool,
                      const wp_item_state *statuses, size_t status_count,
                      uint64_t *count_out)
{
    wp_sqlite_t *self = (wp_sqlite_t *) base;
    wp_status status = wp_sqlite_enter (self, true);
    if (status)
        return status;
    uint64_t count = 0;
    for (size_t i = 0; i < status_count && status == WP_OK; i++) {
        sqlite3_stmt *stmt = wp_sqlite_stmt (self, WP_SQL_PURGE_POOL);
        wp_sqlite_bind_text (stmt, 1, pool);
        sqlite3_bind_int (stmt, 2, (int) statuses [i]);
        status = wp_sqlite_run (self, stmt, "purging the pool");
        if (status == WP_OK)
            count += (uint64_t) sqlite3_changes64 (self->db);
    }
    status = wp_sqlite_leave (self, true, status);
    if (status == WP_OK)
        *count_out = count;
    return status;
}

wp_status
wp_sqlite_set_paused (wp_store_t *base, const char *pool, bool paused)
{
    wp_sqlite_t *self = (wp_sqlite_t *) base;
    wp_status status = wp_sqlite_enter (self, true);
    if (status)
        return status;
    //  Pausing a pool never pushed to makes its row, so stats lists it and
    //  pushes to come find it paused; resuming one needs none.
    int64_t pool_id = 0;
    if (paused)
        status = wp_sqlite_pool_id (self, pool, &pool_id);
    if (status == WP_OK) {
        sqlite3_stmt *stmt = wp_sqlite_stmt (self, WP_SQL_SET_PAUSED);
        wp_sqlite_bind_text (stmt, 1, pool);
        sqlite3_bind_int (stmt, 2, paused);
        status = wp_sqlite_run (self, stmt, paused? "pausing the pool": "resuming the pool");
    }
    return wp_sqlite_leave (self, true, status);
}
