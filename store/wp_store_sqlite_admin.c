/*  wp_store_sqlite_admin: the inspection and lifecycle calls of the SQLite
    store (list_items, retry, retry_all, cancel, purge_pool, set_paused,
    set_backoff) and its schedules (schedule_put, schedule_remove,
    schedule_list).

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
        WP_ITEM_PENDING, WP_ITEM_CLAIMED, WP_ITEM_DONE, WP_ITEM_POISONED, WP_ITEM_SCHEDULED
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
    bool seen [WP_ITEM_STATE_COUNT] = { false };
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

//  Why item id (row) may not change as the call asks:
//  WP_FAILED_PRECONDITION with errmsg set, or WP_OK.
typedef wp_status (s_refuse_fn) (wp_sqlite_t *self, const char *id, const wp_sqlite_row_t *row);

//  Runs statement (?1 the item's seq, ?2 if it has one the time) on item
//  id of pool, unless refuse says no. Unknown id: WP_NOT_FOUND.
static wp_status
s_item_change (wp_sqlite_t *self, const char *pool, const char *id, s_refuse_fn *refuse,
               wp_sqlite_stmt_id statement, const char *doing)
{
    wp_status status = wp_sqlite_enter (self, true);
    if (status)
        return status;
    wp_sqlite_row_t row;
    status = wp_sqlite_item_state (self, pool, id, &row);
    if (status == WP_OK)
        status = refuse (self, id, &row);
    if (status == WP_OK) {
        sqlite3_stmt *stmt = wp_sqlite_stmt (self, statement);
        sqlite3_bind_int64 (stmt, 1, row.seq);
        if (sqlite3_bind_parameter_count (stmt) > 1)
            sqlite3_bind_int64 (stmt, 2, self->now);
        status = wp_sqlite_run (self, stmt, doing);
    }
    wp_sqlite_row_clear (&row);
    return wp_sqlite_leave (self, true, status);
}

//  Only a finished item is retried, and only if no live item holds its
//  unique key (items_unique would refuse the change; this says who holds it).
static wp_status
s_refuse_retry (wp_sqlite_t *self, const char *id, const wp_sqlite_row_t *row)
{
    wp_status status = wp_store_refuse_retry (&self->base, id, row->state, NULL, NULL);
    if (status != WP_OK || !row->unique_key)
        return status;
    sqlite3_stmt *stmt = wp_sqlite_stmt (self, WP_SQL_KEY_HOLDER);
    sqlite3_bind_int64 (stmt, 1, row->pool_id);
    wp_sqlite_bind_text (stmt, 2, row->unique_key);
    int rc = sqlite3_step (stmt);
    if (rc == SQLITE_ROW)
        status = wp_store_refuse_retry (&self->base, id, row->state, row->unique_key,
                                        (const char *) sqlite3_column_text (stmt, 0));
    else
    if (rc != SQLITE_DONE)
        status = wp_sqlite_error (self, rc, "finding the unique key's holder");
    sqlite3_reset (stmt);
    return status;
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
s_refuse_cancel (wp_sqlite_t *self, const char *id, const wp_sqlite_row_t *row)
{
    return wp_store_refuse_cancel (&self->base, id, row->state, row->holder);
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

wp_status
wp_sqlite_set_backoff (wp_store_t *base, const char *pool, const wp_backoff_t *policy)
{
    wp_sqlite_t *self = (wp_sqlite_t *) base;
    wp_status status = wp_sqlite_enter (self, true);
    if (status)
        return status;
    //  A policy for a pool never pushed to makes its row (stats lists it);
    //  clearing one needs none.
    int64_t pool_id = 0;
    if (policy->base > 0)
        status = wp_sqlite_pool_id (self, pool, &pool_id);
    if (status == WP_OK) {
        sqlite3_stmt *stmt = wp_sqlite_stmt (self, WP_SQL_SET_BACKOFF);
        wp_sqlite_bind_text (stmt, 1, pool);
        sqlite3_bind_double (stmt, 2, policy->base);
        sqlite3_bind_double (stmt, 3, policy->cap);
        sqlite3_bind_double (stmt, 4, policy->jitter);
        status = wp_sqlite_run (self, stmt, "setting the pool's backoff");
    }
    return wp_sqlite_leave (self, true, status);
}

//  ---------------------------------------------------------------------
//  Schedules: one row each, the record as wp_store.c made it (0 times and
//  the default max_retries, -1, stored as NULL)

static void
s_bind_time (sqlite3_stmt *stmt, int index, int64_t when)
{
    if (when)
        sqlite3_bind_int64 (stmt, index, when);
    else
        sqlite3_bind_null (stmt, index);
}

wp_status
wp_sqlite_schedule_put (wp_store_t *base, const wp_schedule_t *schedule)
{
    wp_sqlite_t *self = (wp_sqlite_t *) base;
    wp_status status = wp_sqlite_enter (self, true);
    if (status)
        return status;
    sqlite3_stmt *stmt = wp_sqlite_stmt (self, WP_SQL_SCHEDULE_PUT);
    wp_sqlite_bind_text (stmt, 1, schedule->name);
    wp_sqlite_bind_text (stmt, 2, schedule->pool);
    wp_sqlite_bind_text (stmt, 3, schedule->cron);
    //  data is NOT NULL: an empty value still is a blob
    sqlite3_bind_blob64 (stmt, 4, schedule->data? (const void *) schedule->data: "",
                         schedule->data_size, SQLITE_TRANSIENT);
    sqlite3_bind_int64 (stmt, 5, schedule->priority);
    if (schedule->max_retries >= 0)
        sqlite3_bind_int64 (stmt, 6, schedule->max_retries);
    s_bind_time (stmt, 7, schedule->next_at);
    s_bind_time (stmt, 8, schedule->last_fired_at);
    sqlite3_bind_int64 (stmt, 9, schedule->created_at);
    status = wp_sqlite_run (self, stmt, "storing the schedule");
    return wp_sqlite_leave (self, true, status);
}

wp_status
wp_sqlite_schedule_remove (wp_store_t *base, const char *name)
{
    wp_sqlite_t *self = (wp_sqlite_t *) base;
    wp_status status = wp_sqlite_enter (self, true);
    if (status)
        return status;
    sqlite3_stmt *stmt = wp_sqlite_stmt (self, WP_SQL_SCHEDULE_REMOVE);
    wp_sqlite_bind_text (stmt, 1, name);
    status = wp_sqlite_run (self, stmt, "removing the schedule");
    if (status == WP_OK && sqlite3_changes (self->db) == 0)
        status = wp_store_error (base, WP_NOT_FOUND, "no schedule '%s'", name);
    return wp_sqlite_leave (self, true, status);
}

//  Appends every schedule to list, by name.
static wp_status
s_schedule_list (wp_sqlite_t *self, wp_schedule_list_t *list)
{
    sqlite3_stmt *stmt = wp_sqlite_stmt (self, WP_SQL_SCHEDULE_LIST);
    int rc;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        wp_schedule_t *schedule = wp_schedule_new ();
        schedule->name = wp_sqlite_column_strdup (stmt, 0);
        schedule->pool = wp_sqlite_column_strdup (stmt, 1);
        schedule->cron = wp_sqlite_column_strdup (stmt, 2);
        schedule->data = wp_sqlite_column_blob (stmt, 3, &schedule->data_size);
        schedule->priority = (int32_t) sqlite3_column_int64 (stmt, 4);
        schedule->max_retries = sqlite3_column_type (stmt, 5) == SQLITE_NULL
                              ? -1: sqlite3_column_int64 (stmt, 5);
        schedule->next_at = sqlite3_column_int64 (stmt, 6);
        schedule->last_fired_at = sqlite3_column_int64 (stmt, 7);
        schedule->created_at = sqlite3_column_int64 (stmt, 8);
        bool damaged = !schedule->name || !schedule->pool || !schedule->cron;
        if (damaged) {
            wp_schedule_destroy (&schedule);
            sqlite3_reset (stmt);
            return wp_store_error (&self->base, WP_DATA_LOSS,
                                   "the stored record of a schedule is damaged");
        }
        wp_schedule_list_append (list, &schedule);
    }
    sqlite3_reset (stmt);
    return rc == SQLITE_DONE? WP_OK: wp_sqlite_error (self, rc, "listing schedules");
}

wp_status
wp_sqlite_schedule_list (wp_store_t *base, wp_schedule_list_t **list_out)
{
    wp_sqlite_t *self = (wp_sqlite_t *) base;
    wp_status status = wp_sqlite_enter (self, false);
    if (status)
        return status;
    wp_schedule_list_t *list = wp_schedule_list_new ();
    status = wp_sqlite_leave (self, false, s_schedule_list (self, list));
    if (status == WP_OK)
        *list_out = list;
    else
        wp_schedule_list_destroy (&list);
    return status;
}
