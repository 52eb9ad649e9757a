/*  wp_store_postgres_items: the WorkPool calls of the PostgreSQL store
    (push, claim, complete, fail, size, release_by_worker, get, renew), its
    inspection and lifecycle calls (list_items, retry, retry_all, cancel,
    purge_pool, set_paused, set_backoff) and its schedules.

    Each runs in the frame of wp_store_postgres_int.h. A claim is the one
    statement WP_PG_CLAIM: the first pending row of the pool that no other
    transaction holds (FOR UPDATE SKIP LOCKED), taken in the same statement,
    so brokers sharing the database claim side by side. complete, fail,
    retry and cancel lock the item's row as they read it (ITEM_STATE), so
    nothing changes it between the check and the change.  */
#include "wp_store_postgres_int.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

wp_item_t *
wp_pg_item_read (const PGresult *res, int row, const char *pool)
{
    wp_item_t *item = wp_item_new ();
    item->id = wp_pg_get_text (res, row, 1);
    item->pool = wp_strdup (pool);
    item->data = wp_pg_get_blob (res, row, 2, &item->data_size);
    item->status = (wp_item_state) wp_pg_get_int (res, row, 3);
    item->claimed_by = wp_pg_get_text (res, row, 4);
    item->claimed_at = wp_pg_get_int (res, row, 5);
    item->lease_expires_at = wp_pg_get_int (res, row, 6);
    item->attempts = (uint32_t) wp_pg_get_int (res, row, 7);
    item->max_retries = (uint32_t) wp_pg_get_int (res, row, 8);
    item->result = wp_pg_get_blob (res, row, 9, &item->result_size);
    item->error = wp_pg_get_text (res, row, 10);
    item->created_at = wp_pg_get_int (res, row, 11);
    item->priority = (int32_t) wp_pg_get_int (res, row, 12);
    item->run_at = wp_pg_get_int (res, row, 13);
    item->unique_key = wp_pg_get_text (res, row, 14);
    return item;
}

wp_status
wp_pg_item_state (wp_pg_t *self, const char *pool, const char *id, wp_pg_row_t *row)
{
    memset (row, 0, sizeof *row);
    wp_pg_params_t p = { 0 };
    wp_pg_text (&p, pool);
    wp_pg_text (&p, id);
    wp_status status;
    PGresult *res = wp_pg_exec (self, WP_PG_ITEM_STATE, &p, "reading the item", &status);
    if (res && PQntuples (res) == 1) {
        row->seq = wp_pg_get_int (res, 0, 0);
        row->state = (wp_item_state) wp_pg_get_int (res, 0, 1);
        row->holder = wp_pg_get_text (res, 0, 2);
        row->attempts = (uint32_t) wp_pg_get_int (res, 0, 3);
        row->max_retries = (uint32_t) wp_pg_get_int (res, 0, 4);
        row->unique_key = wp_pg_get_text (res, 0, 5);
        row->pool_id = wp_pg_get_int (res, 0, 6);
        row->policy.base = wp_pg_get_double (res, 0, 7);
        row->policy.cap = wp_pg_get_double (res, 0, 8);
        row->policy.jitter = wp_pg_get_double (res, 0, 9);
    }
    else
    if (res)
        status = wp_store_error (&self->base, WP_NOT_FOUND, "no item '%s' in pool '%s'", id, pool);
    PQclear (res);
    return status;
}

void
wp_pg_row_clear (wp_pg_row_t *row)
{
    free (row->holder);
    free (row->unique_key);
    memset (row, 0, sizeof *row);
}

wp_status
wp_pg_pool_id (wp_pg_t *self, const char *pool, int64_t *pool_id)
{
    wp_pg_params_t p = { 0 };
    wp_pg_text (&p, pool);
    //  Twice at most: an insert that finds the name taken (another broker
    //  made the pool meanwhile) returns no row, and the row is then there
    for (int attempt = 0; attempt < 2; attempt++) {
        wp_status status;
        PGresult *res = wp_pg_exec (self, WP_PG_POOL_FIND, &p, "finding the pool", &status);
        if (res && PQntuples (res) == 1)
            *pool_id = wp_pg_get_int (res, 0, 0);
        bool found = res && PQntuples (res) == 1;
        PQclear (res);
        if (status || found)
            return status;
        res = wp_pg_exec (self, WP_PG_POOL_INSERT, &p, "creating the pool", &status);
        if (res && PQntuples (res) == 1)
            *pool_id = wp_pg_get_int (res, 0, 0);
        found = res && PQntuples (res) == 1;
        PQclear (res);
        if (status || found)
            return status;
    }
    return wp_store_error (&self->base, WP_INTERNAL, "pool '%s' was neither found nor made", pool);
}

//  A push changed nothing: *id (ours, replaced) becomes the id of the item
//  it duplicates, entry's id if that is taken, else the live holder of its
//  unique key.
static wp_status
s_duplicate_of (wp_pg_t *self, int64_t pool_id, const wp_push_entry_t *entry, char **id)
{
    wp_pg_params_t p = { 0 };
    wp_pg_int (&p, pool_id);
    wp_pg_text (&p, *id);
    wp_status status;
    PGresult *res = wp_pg_exec (self, WP_PG_PUSH_ID_TAKEN, &p, "finding the duplicate", &status);
    bool taken = res && PQntuples (res) > 0;
    PQclear (res);
    if (status || taken)
        return status;                  //  the id rule: *id is the item's
    char *holder = NULL;
    if (entry->unique_key) {
        wp_pg_params_t q = { 0 };
        wp_pg_int (&q, pool_id);
        wp_pg_text (&q, entry->unique_key);
        res = wp_pg_exec (self, WP_PG_KEY_HOLDER, &q, "finding the unique key's holder", &status);
        if (res && PQntuples (res) > 0)
            holder = wp_pg_get_text (res, 0, 0);
        PQclear (res);
        if (status)
            return status;
    }
    if (!holder)
        return wp_store_error (&self->base, WP_INTERNAL,
                               "the push of '%s' was refused, by neither its id nor its key", *id);
    free (*id);
    *id = holder;
    return WP_OK;
}

wp_status
wp_pg_push (wp_store_t *base, const char *pool, const wp_push_entry_t *entry,
            char **id_out, bool *duplicate)
{
    wp_pg_t *self = (wp_pg_t *) base;
    wp_status status = wp_pg_enter (self, true);
    if (status)
        return status;
    char *id;
    if (entry->id)
        id = wp_strdup (entry->id);
    else {
        id = malloc (WP_UUID_LEN + 1);
        if (!id)
            abort ();
        wp_uuid_new (id);
    }
    int64_t due = wp_store_entry_due (base, entry);
    wp_pg_params_t p = { 0 };
    wp_pg_text (&p, pool);
    wp_pg_text (&p, id);
    wp_pg_blob (&p, entry->data, entry->data_size, false);
    wp_pg_int (&p, entry->max_retries < 0? WP_DEFAULT_MAX_RETRIES: entry->max_retries);
    wp_pg_int (&p, self->now);
    wp_pg_int (&p, due? WP_ITEM_SCHEDULED: WP_ITEM_PENDING);
    wp_pg_int (&p, entry->priority);
    if (due)
        wp_pg_int (&p, due);
    else
        wp_pg_null (&p);
    wp_pg_text (&p, entry->unique_key);
    int64_t pool_id = 0;
    bool existed = false;
    //  A pool never pushed to: made, then the push runs again
    for (int attempt = 0; attempt < 2 && status == WP_OK; attempt++) {
        PGresult *res = wp_pg_exec (self, WP_PG_PUSH, &p, "pushing", &status);
        bool have_pool = res && PQntuples (res) == 1 && !wp_pg_is_null (res, 0, 0);
        if (have_pool) {
            pool_id = wp_pg_get_int (res, 0, 0);
            existed = wp_pg_is_null (res, 0, 1);
        }
        PQclear (res);
        if (status || have_pool)
            break;
        status = wp_pg_pool_id (self, pool, &pool_id);
        if (status == WP_OK && attempt == 1)
            status = wp_store_error (base, WP_INTERNAL, "pool '%s' vanished while pushing", pool);
    }
    if (status == WP_OK && due && !existed)
        wp_pg_due_before (self, due);
    if (status == WP_OK && existed)
        status = s_duplicate_of (self, pool_id, entry, &id);
    status = wp_pg_leave (self, true, status);
    if (status == WP_OK) {
        *id_out = id;
        if (duplicate)
            *duplicate = existed;
    }
    else
        free (id);
    return status;
}

wp_status
wp_pg_claim (wp_store_t *base, const char *pool, const char *worker_id,
             double lease, wp_item_t **item_out)
{
    wp_pg_t *self = (wp_pg_t *) base;
    wp_status status = wp_pg_enter (self, true);
    if (status)
        return status;
    wp_pg_params_t p = { 0 };
    wp_pg_text (&p, pool);
    wp_pg_text (&p, worker_id);
    wp_pg_int (&p, self->now);
    wp_pg_int (&p, wp_pg_us (lease > 0? lease: base->config.lease));
    wp_item_t *item = NULL;
    PGresult *res = wp_pg_exec (self, WP_PG_CLAIM, &p, "claiming", &status);
    if (res && PQntuples (res) == 1) {
        item = wp_pg_item_read (res, 0, pool);
        wp_pg_due_before (self, item->lease_expires_at);
    }
    PQclear (res);
    status = wp_pg_leave (self, true, status);
    if (status == WP_OK)
        *item_out = item;
    else
        wp_item_destroy (&item);
    return status;
}

wp_status
wp_pg_claim_many (wp_store_t *base, const char *pool, const char *worker_id,
                  size_t max, double lease, size_t max_bytes, wp_item_list_t **items_out)
{
    wp_pg_t *self = (wp_pg_t *) base;
    wp_status status = wp_pg_enter (self, true);
    if (status)
        return status;
    wp_pg_params_t p = { 0 };
    wp_pg_text (&p, pool);
    wp_pg_text (&p, worker_id);
    wp_pg_int (&p, self->now);
    wp_pg_int (&p, wp_pg_us (lease > 0? lease: base->config.lease));
    wp_pg_int (&p, (int64_t) max);
    wp_pg_int (&p, (int64_t) max_bytes);
    wp_item_list_t *items = wp_item_list_new ();
    PGresult *res = wp_pg_exec (self, WP_PG_CLAIM_MANY, &p, "claiming", &status);
    for (int row = 0; res && row < PQntuples (res); row++) {
        wp_item_t *item = wp_pg_item_read (res, row, pool);
        wp_pg_due_before (self, item->lease_expires_at);
        wp_item_list_append (items, &item);
    }
    PQclear (res);
    status = wp_pg_leave (self, true, status);
    if (status == WP_OK)
        *items_out = items;
    else
        wp_item_list_destroy (&items);
    return status;
}

//  Checks that item id of pool is claimed (by worker_id, if given); *row
//  (clear it) says which row, who holds it and what a failure needs.
static wp_status
s_claimed_item (wp_pg_t *self, const char *pool, const char *id, const char *worker_id,
                wp_pg_row_t *row)
{
    wp_status status = wp_pg_item_state (self, pool, id, row);
    if (status)
        return status;
    if (row->state != WP_ITEM_CLAIMED)
        return wp_store_error (&self->base, WP_FAILED_PRECONDITION,
                               "item '%s' is %s, not claimed", id, wp_item_state_name (row->state));
    if (worker_id && (!row->holder || strcmp (row->holder, worker_id)))
        return wp_store_error (&self->base, WP_FAILED_PRECONDITION,
                               "item '%s' is claimed by '%s', not by '%s'", id,
                               row->holder? row->holder: "?", worker_id);
    return WP_OK;
}

wp_status
wp_pg_complete (wp_store_t *base, const char *pool, const char *id,
                const uint8_t *result, size_t result_size, const char *worker_id)
{
    wp_pg_t *self = (wp_pg_t *) base;
    wp_status status = wp_pg_enter (self, true);
    if (status)
        return status;
    wp_pg_params_t p = { 0 };
    wp_pg_text (&p, pool);
    wp_pg_text (&p, id);
    wp_pg_blob (&p, result, result_size, true);
    wp_pg_int (&p, self->now);
    wp_pg_text (&p, worker_id);
    PGresult *res = wp_pg_exec (self, WP_PG_COMPLETE, &p, "completing", &status);
    if (res && PQntuples (res) == 0)
        status = wp_store_error (base, WP_NOT_FOUND, "no item '%s' in pool '%s'", id, pool);
    else
    if (res && wp_pg_get_int (res, 0, 2) != 1) {
        //  Not changed: the same checks and words as s_claimed_item
        wp_item_state state = (wp_item_state) wp_pg_get_int (res, 0, 0);
        const char *holder = wp_pg_is_null (res, 0, 1)? "?": PQgetvalue (res, 0, 1);
        if (state != WP_ITEM_CLAIMED)
            status = wp_store_error (base, WP_FAILED_PRECONDITION, "item '%s' is %s, not claimed",
                                     id, wp_item_state_name (state));
        else
            status = wp_store_error (base, WP_FAILED_PRECONDITION,
                                     "item '%s' is claimed by '%s', not by '%s'", id, holder,
                                     worker_id? worker_id: "?");
    }
    PQclear (res);
    return wp_pg_leave (self, true, status);
}

wp_status
wp_pg_fail (wp_store_t *base, const char *pool, const char *id,
            const char *error, const char *worker_id, double retry_after,
            wp_item_state *state_out)
{
    wp_pg_t *self = (wp_pg_t *) base;
    wp_status status = wp_pg_enter (self, true);
    if (status)
        return status;
    wp_item_state state = WP_ITEM_PENDING;
    wp_pg_row_t row;
    status = s_claimed_item (self, pool, id, worker_id, &row);
    bool changed = false;
    if (status == WP_OK)
        status = wp_pg_requeue (self, row.seq, row.holder, row.attempts, row.max_retries,
                                &row.policy, error, retry_after, &state, &changed);
    //  The row is locked since ITEM_STATE: still claimed
    if (status == WP_OK && !changed)
        status = wp_store_error (base, WP_INTERNAL, "item '%s' changed under its lock", id);
    wp_pg_row_clear (&row);
    status = wp_pg_leave (self, true, status);
    if (status == WP_OK && state_out)
        *state_out = state;
    return status;
}

wp_status
wp_pg_size (wp_store_t *base, const char *pool, uint64_t *size_out)
{
    wp_pg_t *self = (wp_pg_t *) base;
    wp_status status = wp_pg_enter (self, false);
    if (status)
        return status;
    wp_pg_params_t p = { 0 };
    wp_pg_text (&p, pool);
    uint64_t size = 0;
    PGresult *res = wp_pg_exec (self, WP_PG_SIZE, &p, "counting pending items", &status);
    if (res && PQntuples (res) == 1)
        size = (uint64_t) wp_pg_get_int (res, 0, 0);
    PQclear (res);
    status = wp_pg_leave (self, false, status);
    if (status == WP_OK)
        *size_out = size;
    return status;
}

wp_status
wp_pg_release_by_worker (wp_store_t *base, const char *pool,
                         const char *worker_id, uint64_t *count_out)
{
    wp_pg_t *self = (wp_pg_t *) base;
    wp_status status = wp_pg_enter (self, true);
    if (status)
        return status;
    wp_pg_params_t p = { 0 };
    wp_pg_text (&p, pool);
    wp_pg_text (&p, worker_id);
    wp_pg_int (&p, self->now);
    uint64_t count = 0;
    PGresult *res = wp_pg_exec (self, WP_PG_RELEASE_ITEMS, &p, "releasing the worker's items",
                                &status);
    if (res && PQntuples (res) == 1)
        count = (uint64_t) wp_pg_get_int (res, 0, 0);
    PQclear (res);
    status = wp_pg_leave (self, true, status);
    if (status == WP_OK)
        *count_out = count;
    return status;
}

wp_status
wp_pg_get (wp_store_t *base, const char *pool, const char *id, wp_item_t **item_out)
{
    wp_pg_t *self = (wp_pg_t *) base;
    wp_status status = wp_pg_enter (self, false);
    if (status)
        return status;
    wp_pg_params_t p = { 0 };
    wp_pg_text (&p, pool);
    wp_pg_text (&p, id);
    wp_item_t *item = NULL;
    PGresult *res = wp_pg_exec (self, WP_PG_ITEM_GET, &p, "reading the item", &status);
    if (res && PQntuples (res) == 1)
        item = wp_pg_item_read (res, 0, pool);
    else
    if (res)
        status = wp_store_error (base, WP_NOT_FOUND, "no item '%s' in pool '%s'", id, pool);
    PQclear (res);
    status = wp_pg_leave (self, false, status);
    if (status == WP_OK)
        *item_out = item;
    else
        wp_item_destroy (&item);
    return status;
}

wp_status
wp_pg_renew (wp_store_t *base, const char *worker_id, double lease, uint64_t *count_out)
{
    wp_pg_t *self = (wp_pg_t *) base;
    wp_status status = wp_pg_enter (self, true);
    if (status)
        return status;
    wp_pg_params_t p = { 0 };
    wp_pg_text (&p, worker_id);
    wp_pg_int (&p, wp_pg_us (lease > 0? lease: base->config.lease));
    wp_pg_int (&p, self->now);
    uint64_t count = 0;
    status = wp_pg_run (self, WP_PG_RENEW, &p, "renewing leases", &count);
    wp_pg_due_changed (self);           //  after the change: forget it for good
    status = wp_pg_leave (self, true, status);
    if (status == WP_OK)
        *count_out = count;
    return status;
}

//  ---------------------------------------------------------------------
//  Inspection and lifecycle

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
s_list_state (wp_pg_t *self, const char *pool, wp_item_state state, int64_t after,
              size_t limit, s_row_t **rows, size_t *count)
{
    wp_pg_params_t p = { 0 };
    wp_pg_text (&p, pool);
    wp_pg_int (&p, (int64_t) state);
    wp_pg_int (&p, after);
    wp_pg_int (&p, (int64_t) limit + 1);
    wp_status status;
    PGresult *res = wp_pg_exec (self, WP_PG_LIST, &p, "listing items", &status);
    int found = res? PQntuples (res): 0;
    if (found > 0) {
        *rows = realloc (*rows, (*count + (size_t) found) * sizeof **rows);
        if (!*rows)
            abort ();
    }
    for (int row = 0; row < found; row++) {
        (*rows) [*count].seq = wp_pg_get_int (res, row, 0);
        (*rows) [*count].item = wp_pg_item_read (res, row, pool);
        (*count)++;
    }
    PQclear (res);
    return status;
}

wp_status
wp_pg_list_items (wp_store_t *base, const char *pool,
                  const wp_item_state *statuses, size_t status_count,
                  size_t limit, const char *cursor,
                  wp_item_list_t **items_out, char **cursor_out)
{
    wp_pg_t *self = (wp_pg_t *) base;
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
    wp_status status = wp_pg_enter (self, false);
    if (status)
        return status;
    s_row_t *rows = NULL;
    size_t count = 0;
    bool seen [WP_ITEM_STATE_COUNT] = { false };
    for (size_t i = 0; i < status_count && status == WP_OK; i++) {
        if (seen [statuses [i]])
            continue;
        seen [statuses [i]] = true;
        status = s_list_state (self, pool, statuses [i], after, limit, &rows, &count);
    }
    status = wp_pg_leave (self, false, status);
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

//  Why item id (row) may not change as the call asks: WP_FAILED_PRECONDITION
//  with errmsg set, or WP_OK.
typedef wp_status (s_refuse_fn) (wp_pg_t *self, const char *id, const wp_pg_row_t *row);

//  Runs statement ($1 the item's seq, $2 the time if with_now) on item id
//  of pool, unless refuse says no. Unknown id: WP_NOT_FOUND.
static wp_status
s_item_change (wp_pg_t *self, const char *pool, const char *id, s_refuse_fn *refuse,
               wp_pg_stmt_id statement, bool with_now, const char *doing)
{
    wp_status status = wp_pg_enter (self, true);
    if (status)
        return status;
    wp_pg_row_t row;
    status = wp_pg_item_state (self, pool, id, &row);
    if (status == WP_OK)
        status = refuse (self, id, &row);
    if (status == WP_OK) {
        wp_pg_params_t p = { 0 };
        wp_pg_int (&p, row.seq);
        if (with_now)
            wp_pg_int (&p, self->now);
        status = wp_pg_run (self, statement, &p, doing, NULL);
    }
    wp_pg_row_clear (&row);
    return wp_pg_leave (self, true, status);
}

static wp_status
s_refuse_retry (wp_pg_t *self, const char *id, const wp_pg_row_t *row)
{
    wp_status status = wp_store_refuse_retry (&self->base, id, row->state, NULL, NULL);
    if (status != WP_OK || !row->unique_key)
        return status;
    wp_pg_params_t p = { 0 };
    wp_pg_int (&p, row->pool_id);
    wp_pg_text (&p, row->unique_key);
    PGresult *res = wp_pg_exec (self, WP_PG_KEY_HOLDER, &p, "finding the unique key's holder",
                                &status);
    if (res && PQntuples (res) > 0)
        status = wp_store_refuse_retry (&self->base, id, row->state, row->unique_key,
                                        PQgetvalue (res, 0, 0));
    PQclear (res);
    return status;
}

wp_status
wp_pg_retry (wp_store_t *base, const char *pool, const char *id)
{
    return s_item_change ((wp_pg_t *) base, pool, id, s_refuse_retry, WP_PG_RETRY, true,
                          "retrying the item");
}

wp_status
wp_pg_retry_all (wp_store_t *base, const char *pool, uint64_t *count_out)
{
    wp_pg_t *self = (wp_pg_t *) base;
    wp_status status = wp_pg_enter (self, true);
    if (status)
        return status;
    wp_pg_params_t p = { 0 };
    wp_pg_text (&p, pool);
    wp_pg_int (&p, self->now);
    uint64_t count = 0;
    status = wp_pg_run (self, WP_PG_RETRY_ALL, &p, "retrying poisoned items", &count);
    status = wp_pg_leave (self, true, status);
    if (status == WP_OK)
        *count_out = count;
    return status;
}

static wp_status
s_refuse_cancel (wp_pg_t *self, const char *id, const wp_pg_row_t *row)
{
    return wp_store_refuse_cancel (&self->base, id, row->state, row->holder);
}

wp_status
wp_pg_cancel (wp_store_t *base, const char *pool, const char *id)
{
    return s_item_change ((wp_pg_t *) base, pool, id, s_refuse_cancel, WP_PG_CANCEL, false,
                          "cancelling the item");
}

wp_status
wp_pg_purge_pool (wp_store_t *base, const char *pool,
                  const wp_item_state *statuses, size_t status_count,
                  uint64_t *count_out)
{
    wp_pg_t *self = (wp_pg_t *) base;
    wp_status status = wp_pg_enter (self, true);
    if (status)
        return status;
    uint64_t count = 0;
    for (size_t i = 0; i < status_count && status == WP_OK; i++) {
        wp_pg_params_t p = { 0 };
        wp_pg_text (&p, pool);
        wp_pg_int (&p, (int64_t) statuses [i]);
        uint64_t changed = 0;
        status = wp_pg_run (self, WP_PG_PURGE_POOL, &p, "purging the pool", &changed);
        count += changed;
    }
    status = wp_pg_leave (self, true, status);
    if (status == WP_OK)
        *count_out = count;
    return status;
}

wp_status
wp_pg_set_paused (wp_store_t *base, const char *pool, bool paused)
{
    wp_pg_t *self = (wp_pg_t *) base;
    wp_status status = wp_pg_enter (self, true);
    if (status)
        return status;
    //  Pausing a pool never pushed to makes its row; resuming one needs none
    int64_t pool_id = 0;
    if (paused)
        status = wp_pg_pool_id (self, pool, &pool_id);
    if (status == WP_OK) {
        wp_pg_params_t p = { 0 };
        wp_pg_text (&p, pool);
        wp_pg_bool (&p, paused);
        status = wp_pg_run (self, WP_PG_SET_PAUSED, &p,
                            paused? "pausing the pool": "resuming the pool", NULL);
    }
    return wp_pg_leave (self, true, status);
}

wp_status
wp_pg_set_backoff (wp_store_t *base, const char *pool, const wp_backoff_t *policy)
{
    wp_pg_t *self = (wp_pg_t *) base;
    wp_status status = wp_pg_enter (self, true);
    if (status)
        return status;
    int64_t pool_id = 0;
    if (policy->base > 0)
        status = wp_pg_pool_id (self, pool, &pool_id);
    if (status == WP_OK) {
        wp_pg_params_t p = { 0 };
        wp_pg_text (&p, pool);
        wp_pg_double (&p, policy->base);
        wp_pg_double (&p, policy->cap);
        wp_pg_double (&p, policy->jitter);
        status = wp_pg_run (self, WP_PG_SET_BACKOFF, &p, "setting the pool's backoff", NULL);
    }
    return wp_pg_leave (self, true, status);
}

//  ---------------------------------------------------------------------
//  Schedules: one row each, the record as wp_store.c made it (0 times and
//  the default max_retries, -1, stored as NULL)

static void
s_param_time (wp_pg_params_t *p, int64_t when)
{
    if (when)
        wp_pg_int (p, when);
    else
        wp_pg_null (p);
}

wp_status
wp_pg_schedule_put (wp_store_t *base, const wp_schedule_t *schedule)
{
    wp_pg_t *self = (wp_pg_t *) base;
    wp_status status = wp_pg_enter (self, true);
    if (status)
        return status;
    wp_pg_params_t p = { 0 };
    wp_pg_text (&p, schedule->name);
    wp_pg_text (&p, schedule->pool);
    wp_pg_text (&p, schedule->cron);
    wp_pg_blob (&p, schedule->data, schedule->data_size, false);
    wp_pg_int (&p, schedule->priority);
    if (schedule->max_retries >= 0)
        wp_pg_int (&p, schedule->max_retries);
    else
        wp_pg_null (&p);
    s_param_time (&p, schedule->next_at);
    s_param_time (&p, schedule->last_fired_at);
    wp_pg_int (&p, schedule->created_at);
    status = wp_pg_run (self, WP_PG_SCHEDULE_PUT, &p, "storing the schedule", NULL);
    return wp_pg_leave (self, true, status);
}

wp_status
wp_pg_schedule_remove (wp_store_t *base, const char *name)
{
    wp_pg_t *self = (wp_pg_t *) base;
    wp_status status = wp_pg_enter (self, true);
    if (status)
        return status;
    wp_pg_params_t p = { 0 };
    wp_pg_text (&p, name);
    uint64_t changed = 0;
    status = wp_pg_run (self, WP_PG_SCHEDULE_REMOVE, &p, "removing the schedule", &changed);
    if (status == WP_OK && changed == 0)
        status = wp_store_error (base, WP_NOT_FOUND, "no schedule '%s'", name);
    return wp_pg_leave (self, true, status);
}

static wp_status
s_schedule_list (wp_pg_t *self, wp_schedule_list_t *list)
{
    wp_status status;
    PGresult *res = wp_pg_exec (self, WP_PG_SCHEDULE_LIST, NULL, "listing schedules", &status);
    for (int row = 0; res && row < PQntuples (res) && status == WP_OK; row++) {
        wp_schedule_t *schedule = wp_schedule_new ();
        schedule->name = wp_pg_get_text (res, row, 0);
        schedule->pool = wp_pg_get_text (res, row, 1);
        schedule->cron = wp_pg_get_text (res, row, 2);
        schedule->data = wp_pg_get_blob (res, row, 3, &schedule->data_size);
        schedule->priority = (int32_t) wp_pg_get_int (res, row, 4);
        schedule->max_retries = wp_pg_is_null (res, row, 5)? -1: wp_pg_get_int (res, row, 5);
        schedule->next_at = wp_pg_get_int (res, row, 6);
        schedule->last_fired_at = wp_pg_get_int (res, row, 7);
        schedule->created_at = wp_pg_get_int (res, row, 8);
        if (!schedule->name || !schedule->pool || !schedule->cron) {
            wp_schedule_destroy (&schedule);
            status = wp_store_error (&self->base, WP_DATA_LOSS,
                                     "the stored record of a schedule is damaged");
        }
        else
            wp_schedule_list_append (list, &schedule);
    }
    PQclear (res);
    return status;
}

wp_status
wp_pg_schedule_list (wp_store_t *base, wp_schedule_list_t **list_out)
{
    wp_pg_t *self = (wp_pg_t *) base;
    wp_status status = wp_pg_enter (self, false);
    if (status)
        return status;
    wp_schedule_list_t *list = wp_schedule_list_new ();
    status = wp_pg_leave (self, false, s_schedule_list (self, list));
    if (status == WP_OK)
        *list_out = list;
    else
        wp_schedule_list_destroy (&list);
    return status;
}
