/*  wp_proto_request: encoder and decoder of request headers and bodies.

    The decoder reads every key of the body once into a table of the
    fields any method knows, then takes the fields of the request's method
    (a key of another method is as unknown as any other and is ignored).
    The encoder writes the canonical form: keys in PROTOCOL.md's order,
    unset optional fields omitted, numbers as float 64.  */
#include "wp_proto_fields.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Every request body key, in one table (indexes below)
typedef enum {
    F_POOL, F_DATA, F_ID, F_MAX_RETRIES, F_ITEMS, F_WORKER_ID, F_WAIT, F_LEASE,
    F_MAX, F_RESULT, F_ERROR, F_HOST, F_PID, F_CAPABILITIES, F_POOL_ID,
    F_STARTED_AT, F_HEARTBEAT, F_METADATA, F_STATUS, F_CAPABILITY, F_STALE,
    F_LIMIT, F_CURSOR, F_ALL, F_DELAY, F_RUN_AT, F_PRIORITY, F_UNIQUE_KEY,
    F_RETRY_AFTER, F_BASE, F_CAP, F_JITTER, F_NAME, F_CRON, F_CREDIT,
    F_COUNT
} s_field;

static const char *const s_field_names [F_COUNT] = {
    [F_POOL] = "pool", [F_DATA] = "data", [F_ID] = "id", [F_MAX_RETRIES] = "max_retries",
    [F_ITEMS] = "items", [F_WORKER_ID] = "worker_id", [F_WAIT] = "wait_seconds",
    [F_LEASE] = "lease_seconds", [F_MAX] = "max", [F_RESULT] = "result",
    [F_ERROR] = "error", [F_HOST] = "host", [F_PID] = "pid",
    [F_CAPABILITIES] = "capabilities", [F_POOL_ID] = "pool_id",
    [F_STARTED_AT] = "started_at", [F_HEARTBEAT] = "heartbeat_interval_seconds",
    [F_METADATA] = "metadata", [F_STATUS] = "status", [F_CAPABILITY] = "capability",
    [F_STALE] = "stale_threshold_seconds", [F_LIMIT] = "limit", [F_CURSOR] = "cursor",
    [F_ALL] = "all", [F_DELAY] = "delay_seconds", [F_RUN_AT] = "run_at",
    [F_PRIORITY] = "priority", [F_UNIQUE_KEY] = "unique_key",
    [F_RETRY_AFTER] = "retry_after_seconds", [F_BASE] = "base_seconds",
    [F_CAP] = "cap_seconds", [F_JITTER] = "jitter", [F_NAME] = "name", [F_CRON] = "cron",
    [F_CREDIT] = "credit",
};

//  The keys of one PushMany entry (and of Push's body, for the same fields)
#define S_ENTRY_FIELDS 7
static const char *const s_entry_names [S_ENTRY_FIELDS] = {
    "data", "id", "max_retries", "delay_seconds", "run_at", "priority", "unique_key"
};
//  The keys of one CompleteMany entry
static const char *const s_completion_names [2] = { "id", "result" };

//  ---------------------------------------------------------------------
//  Header

wp_status
wp_request_decode_header (wp_request_t *self, const uint8_t *data, size_t size,
                          bool *replyable, char *errbuf, size_t errlen)
{
    wp_pf_t e = { errbuf, errlen };
    *replyable = false;
    char why [160];
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    wp_status status = WP_INVALID_ARGUMENT;

    if (wp_mp_unpack (&unpacked, data, size, why, sizeof why)) {
        wp_pf_fail (&e, "header: %s", why);
        goto done;
    }
    const msgpack_object *root = &unpacked.data;
    //  Positions 0..2 are fixed in every version: without them, no reply
    if (root->type != MSGPACK_OBJECT_ARRAY || root->via.array.size < 3) {
        wp_pf_fail (&e, "header must be an array");
        goto done;
    }
    const msgpack_object *element = root->via.array.ptr;
    if (element [0].type != MSGPACK_OBJECT_STR || element [0].via.str.size != 3
    ||  memcmp (element [0].via.str.ptr, WP_PROTO_REQUEST_SIG, 3) != 0) {
        wp_pf_fail (&e, "header must begin with \"" WP_PROTO_REQUEST_SIG "\"");
        goto done;
    }
    if (element [2].type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        wp_pf_fail (&e, "header request_id must be an unsigned integer");
        goto done;
    }
    *replyable = true;
    self->request_id = element [2].via.u64;

    if (element [1].type == MSGPACK_OBJECT_POSITIVE_INTEGER && element [1].via.u64 != WP_PROTO_VERSION) {
        status = WP_UNIMPLEMENTED;
        wp_pf_fail (&e, "unsupported protocol version %llu (this broker speaks %d)",
                    (unsigned long long) element [1].via.u64, WP_PROTO_VERSION);
        goto done;
    }
    if (element [1].type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        status = WP_UNIMPLEMENTED;
        wp_pf_fail (&e, "unsupported protocol version %lld (this broker speaks %d)",
                    (long long) element [1].via.i64, WP_PROTO_VERSION);
        goto done;
    }
    if (element [1].type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        wp_pf_fail (&e, "header version must be an unsigned integer");
        goto done;
    }
    if (root->via.array.size != 6) {
        wp_pf_fail (&e, "header must be an array of 6 elements, not %u", root->via.array.size);
        goto done;
    }
    const msgpack_object *method = &element [3];
    if (!wp_pf_text_ok (method, 1, WP_NAME_MAX)) {
        wp_pf_fail (&e, "header method must be a string of 1 to %d bytes of UTF-8 without NUL",
                    WP_NAME_MAX);
        goto done;
    }
    if (element [4].type != MSGPACK_OBJECT_POSITIVE_INTEGER || element [4].via.u64 > UINT32_MAX) {
        wp_pf_fail (&e, "header timeout_ms must be an unsigned 32-bit integer");
        goto done;
    }
    const msgpack_object *meta = &element [5];
    if (wp_pf_map (&e, meta, "header metadata", true, NULL, 0, NULL))
        goto done;
    if (meta->type == MSGPACK_OBJECT_MAP) {
        const msgpack_object_map *map = &meta->via.map;
        if (map->size > WP_META_MAX) {
            wp_pf_fail (&e, "header metadata must have at most %d entries", WP_META_MAX);
            goto done;
        }
        self->meta_keys = wp_pf_alloc (map->size * sizeof (char *));
        self->meta_values = wp_pf_alloc (map->size * sizeof (char *));
        for (uint32_t i = 0; i < map->size; i++) {
            char *key = NULL, *value = NULL;
            if (wp_pf_name (&e, &map->ptr [i].key, "header metadata key", true, &key))
                goto done;
            if (wp_pf_text (&e, &map->ptr [i].val, "header metadata value", true,
                            WP_META_VALUE_MAX, &value)) {
                free (key);
                goto done;
            }
            self->meta_keys [self->meta_count] = key;
            self->meta_values [self->meta_count++] = value;
        }
    }
    self->timeout_ms = (uint32_t) element [4].via.u64;
    free (self->method_name);
    self->method_name = wp_pf_strndup (method->via.str.ptr, method->via.str.size);
    self->method = wp_method_from_name (method->via.str.ptr, method->via.str.size);
    if (self->method == WP_METHOD_UNKNOWN) {
        status = WP_UNIMPLEMENTED;
        wp_pf_fail (&e, "unknown method '%s'", self->method_name);
        goto done;
    }
    status = WP_OK;
done:
    msgpack_unpacked_destroy (&unpacked);
    return status;
}

//  ---------------------------------------------------------------------
//  Body

//  Reads one push entry (Push's body or one of PushMany's items; the
//  caller names the item in a message, wp_pf_nested).
static int
s_decode_entry (wp_pf_t *e, const msgpack_object *const *f, wp_push_entry_t *entry)
{
    uint8_t *data = NULL;
    char *id = NULL;
    int rc = wp_pf_bin (e, f [0], "data", true, true, &data, &entry->data_size);
    entry->data = data;
    if (rc)
        return -1;
    rc = wp_pf_name (e, f [1], "id", false, &id);
    entry->id = id;
    if (rc)
        return -1;
    entry->max_retries = -1;
    if (wp_pf_int (e, f [2], "max_retries", false, 0, WP_MAX_RETRIES_MAX, &entry->max_retries)
    ||  wp_pf_number (e, f [3], "delay_seconds", false, 0, false, WP_DELAY_MAX, &entry->delay)
    ||  wp_pf_time (e, f [4], "run_at", false, &entry->run_at))
        return -1;
    int64_t priority = 0;
    if (wp_pf_int (e, f [5], "priority", false, INT32_MIN, INT32_MAX, &priority))
        return -1;
    entry->priority = (int32_t) priority;
    char *unique_key = NULL;
    rc = wp_pf_name (e, f [6], "unique_key", false, &unique_key);
    entry->unique_key = unique_key;
    return rc;
}

//  A schedule's name: a name of at most WP_SCHEDULE_NAME_MAX bytes (its
//  items' ids, NAME@TICK, must stay names).
static int
s_decode_schedule_name (wp_pf_t *e, const msgpack_object *o, char **out)
{
    if (o && !wp_pf_text_ok (o, 1, WP_SCHEDULE_NAME_MAX))
        return wp_pf_fail (e, "field 'name' must be a string of 1 to %d bytes of UTF-8"
                           " without NUL", WP_SCHEDULE_NAME_MAX);
    return wp_pf_name (e, o, "name", true, out);
}

static int
s_decode_schedule_add (wp_request_t *self, wp_pf_t *e, const msgpack_object **f)
{
    wp_schedule_t *schedule = self->schedule = wp_schedule_new ();
    int64_t priority = 0;
    if (s_decode_schedule_name (e, f [F_NAME], &schedule->name)
    ||  wp_pf_name (e, f [F_POOL], "pool", true, &schedule->pool)
    ||  wp_pf_text (e, f [F_CRON], "cron", true, WP_CRON_MAX, &schedule->cron)
    ||  wp_pf_bin (e, f [F_DATA], "data", true, true, &schedule->data, &schedule->data_size)
    ||  wp_pf_int (e, f [F_PRIORITY], "priority", false, INT32_MIN, INT32_MAX, &priority)
    ||  wp_pf_int (e, f [F_MAX_RETRIES], "max_retries", false, 0, WP_MAX_RETRIES_MAX,
                   &schedule->max_retries))
        return -1;
    schedule->priority = (int32_t) priority;
    return 0;
}

//  SetBackoff: cap defaults to the base, jitter to 0 (the store checks
//  the policy as a whole: cap at least the base, nothing without a base).
static int
s_decode_set_backoff (wp_request_t *self, wp_pf_t *e, const msgpack_object **f)
{
    wp_backoff_t *backoff = &self->backoff;
    if (wp_pf_name (e, f [F_POOL], "pool", true, &self->pool)
    ||  wp_pf_number (e, f [F_BASE], "base_seconds", true, 0, false, WP_DELAY_MAX,
                      &backoff->base))
        return -1;
    backoff->cap = backoff->base;
    return wp_pf_number (e, f [F_CAP], "cap_seconds", false, 0, false, WP_DELAY_MAX,
                         &backoff->cap)
        || wp_pf_number (e, f [F_JITTER], "jitter", false, 0, false, 1, &backoff->jitter)
         ? -1: 0;
}

//  Names items [i] in the message of a failed reader; returns rc.
static int
s_nested_item (wp_pf_t *e, uint32_t i, int rc)
{
    if (rc) {
        char what [32];
        snprintf (what, sizeof what, "items[%u]", i);
        wp_pf_nested (e, what, rc);
    }
    return rc;
}

//  Reads CompleteMany's items into self->completions.
static int
s_decode_completions (wp_request_t *self, wp_pf_t *e, const msgpack_object *o)
{
    const msgpack_object_array *items = NULL;
    if (wp_pf_array (e, o, "items", true, 1, WP_BATCH_MAX, &items))
        return -1;
    self->completions = wp_pf_alloc (items->size * sizeof *self->completions);
    memset (self->completions, 0, items->size * sizeof *self->completions);
    self->completion_count = items->size;
    for (uint32_t i = 0; i < items->size; i++) {
        wp_complete_entry_t *entry = &self->completions [i];
        char what [32];
        snprintf (what, sizeof what, "field 'items[%u]'", i);
        const msgpack_object *ef [2];
        if (wp_pf_map (e, &items->ptr [i], what, false, s_completion_names, 2, ef))
            return -1;
        char *id = NULL;
        int rc = wp_pf_name (e, ef [0], "id", true, &id);
        entry->id = id;
        if (s_nested_item (e, i, rc))
            return -1;
        uint8_t *result = NULL;
        rc = wp_pf_bin (e, ef [1], "result", false, true, &result, &entry->result_size);
        entry->result = result;
        if (s_nested_item (e, i, rc))
            return -1;
    }
    return 0;
}

static int
s_decode_wait_lease (wp_request_t *self, wp_pf_t *e, const msgpack_object **f)
{
    if (wp_pf_number (e, f [F_WAIT], "wait_seconds", false, 0, false, WP_WAIT_MAX, &self->wait))
        return -1;
    return wp_pf_number (e, f [F_LEASE], "lease_seconds", false, 0, true, WP_LEASE_MAX,
                         &self->lease);
}

static int
s_decode_status_filter (wp_request_t *self, wp_pf_t *e, const msgpack_object *o)
{
    if (!o)
        return 0;
    if (o->type == MSGPACK_OBJECT_STR) {
        self->statuses = wp_pf_alloc (sizeof (char *));
        self->status_count = 1;
        return wp_pf_name (e, o, "status", true, &self->statuses [0]);
    }
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return wp_pf_fail (e, "field 'status' must be a string or an array of at most %d strings",
                           WP_STATUSES_MAX);
    return wp_pf_names (e, o, "status", WP_STATUSES_MAX, &self->statuses, &self->status_count);
}

//  Item statuses of WorkPool.List (optional, any of the five) and Purge
//  (required, not "claimed"): a name or an array of distinct item state
//  names, kept as names in self->statuses.
static int
s_decode_item_statuses (wp_request_t *self, wp_pf_t *e, const msgpack_object *o,
                        bool purge)
{
    size_t max = purge ? WP_ITEM_STATE_COUNT - 1: WP_ITEM_STATE_COUNT;
    if (!o)
        return purge ? wp_pf_fail (e, "field 'status' is required"): 0;
    if (o->type == MSGPACK_OBJECT_STR) {
        self->statuses = wp_pf_alloc (sizeof (char *));
        self->status_count = 1;
        if (wp_pf_name (e, o, "status", true, &self->statuses [0]))
            return -1;
    }
    else {
        if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 1 || o->via.array.size > max)
            return wp_pf_fail (e, "field 'status' must be an item status or an array of"
                               " 1 to %zu of them", max);
        if (wp_pf_names (e, o, "status", max, &self->statuses, &self->status_count))
            return -1;
    }
    bool seen [WP_ITEM_STATE_COUNT] = { false };
    for (size_t i = 0; i < self->status_count; i++) {
        int state = wp_item_state_from_name (self->statuses [i]);
        if (state < 0)
            return wp_pf_fail (e, "status: '%s' is not an item status (pending, scheduled,"
                               " claimed, done or poisoned)", self->statuses [i]);
        if (seen [state])
            return wp_pf_fail (e, "status: '%s' is given twice", self->statuses [i]);
        seen [state] = true;
        if (purge && state == WP_ITEM_CLAIMED)
            return wp_pf_fail (e, "status: claimed items cannot be purged (a worker may be"
                               " halfway)");
    }
    return 0;
}

static int
s_decode_retry (wp_request_t *self, wp_pf_t *e, const msgpack_object **f)
{
    if (wp_pf_name (e, f [F_POOL], "pool", true, &self->pool)
    ||  wp_pf_name (e, f [F_ID], "id", false, &self->id)
    ||  wp_pf_bool (e, f [F_ALL], "all", false, &self->all))
        return -1;
    if (self->id && self->all)
        return wp_pf_fail (e, "give id or all: true, not both");
    if (!self->id && !self->all)
        return wp_pf_fail (e, "id or all: true is required");
    return 0;
}

static int
s_decode_register (wp_request_t *self, wp_pf_t *e, const msgpack_object **f)
{
    wp_worker_t *worker = self->worker = wp_worker_new ();
    if (wp_pf_name (e, f [F_WORKER_ID], "worker_id", true, &worker->worker_id)
    ||  wp_pf_text (e, f [F_HOST], "host", false, WP_HOST_MAX, &worker->host)
    ||  wp_pf_int (e, f [F_PID], "pid", false, 0, INT64_MAX, &worker->pid)
    ||  wp_pf_names (e, f [F_CAPABILITIES], "capabilities", WP_CAPABILITIES_MAX,
                     &worker->capabilities, &worker->capability_count)
    ||  wp_pf_name (e, f [F_POOL_ID], "pool_id", false, &worker->pool_id)
    ||  wp_pf_time (e, f [F_STARTED_AT], "started_at", false, &worker->started_at)
    ||  wp_pf_number (e, f [F_HEARTBEAT], "heartbeat_interval_seconds", false, 0, true,
                      WP_HEARTBEAT_MAX, &worker->heartbeat_interval)
    ||  wp_pf_meta (e, f [F_METADATA], "metadata", WP_META_MAX, &worker->metadata))
        return -1;
    //  Also at the top, so the broker finds the worker id where it does for other methods
    self->worker_id = wp_pf_strndup (worker->worker_id, strlen (worker->worker_id));
    return 0;
}

static int
s_decode_body (wp_request_t *self, wp_pf_t *e, const msgpack_object *root)
{
    const msgpack_object *f [F_COUNT];
    if (wp_pf_map (e, root, "body", true, s_field_names, F_COUNT, f))
        return -1;
    uint64_t max = 0;

    switch (self->method) {
        case WP_METHOD_PUSH: {
            if (wp_pf_name (e, f [F_POOL], "pool", true, &self->pool))
                return -1;
            self->entries = wp_pf_alloc (sizeof *self->entries);
            self->entry_count = 1;
            const msgpack_object *ef [S_ENTRY_FIELDS] = {
                f [F_DATA], f [F_ID], f [F_MAX_RETRIES], f [F_DELAY], f [F_RUN_AT],
                f [F_PRIORITY], f [F_UNIQUE_KEY] };
            return s_decode_entry (e, ef, &self->entries [0]);
        }
        case WP_METHOD_PUSH_MANY: {
            const msgpack_object_array *items = NULL;
            if (wp_pf_name (e, f [F_POOL], "pool", true, &self->pool)
            ||  wp_pf_array (e, f [F_ITEMS], "items", true, 1, WP_BATCH_MAX, &items))
                return -1;
            self->entries = wp_pf_alloc (items->size * sizeof *self->entries);
            self->entry_count = items->size;
            for (uint32_t i = 0; i < items->size; i++) {
                char what [32];
                snprintf (what, sizeof what, "field 'items[%u]'", i);
                const msgpack_object *ef [S_ENTRY_FIELDS];
                if (wp_pf_map (e, &items->ptr [i], what, false, s_entry_names,
                               S_ENTRY_FIELDS, ef)
                ||  s_nested_item (e, i, s_decode_entry (e, ef, &self->entries [i])))
                    return -1;
            }
            return 0;
        }
        case WP_METHOD_CLAIM:
            if (wp_pf_name (e, f [F_POOL], "pool", true, &self->pool)
            ||  wp_pf_name (e, f [F_WORKER_ID], "worker_id", true, &self->worker_id))
                return -1;
            return s_decode_wait_lease (self, e, f);
        case WP_METHOD_CLAIM_MANY:
            if (wp_pf_name (e, f [F_POOL], "pool", true, &self->pool)
            ||  wp_pf_name (e, f [F_WORKER_ID], "worker_id", true, &self->worker_id)
            ||  wp_pf_uint (e, f [F_MAX], "max", true, 1, WP_BATCH_MAX, &max))
                return -1;
            self->max = (uint32_t) max;
            return s_decode_wait_lease (self, e, f);
        case WP_METHOD_SUBSCRIBE:
            if (wp_pf_name (e, f [F_POOL], "pool", true, &self->pool)
            ||  wp_pf_name (e, f [F_WORKER_ID], "worker_id", true, &self->worker_id)
            ||  wp_pf_uint (e, f [F_CREDIT], "credit", true, 1, WP_CREDIT_MAX, &max)
            ||  wp_pf_number (e, f [F_LEASE], "lease_seconds", false, 0, true,
                              WP_LEASE_MAX, &self->lease))
                return -1;
            self->credit = (uint32_t) max;
            return 0;
        case WP_METHOD_UNSUBSCRIBE:
            return wp_pf_name (e, f [F_POOL], "pool", true, &self->pool)
                || wp_pf_name (e, f [F_WORKER_ID], "worker_id", true, &self->worker_id) ? -1: 0;
        case WP_METHOD_COMPLETE:
            return wp_pf_name (e, f [F_POOL], "pool", true, &self->pool)
                || wp_pf_name (e, f [F_ID], "id", true, &self->id)
                || wp_pf_bin (e, f [F_RESULT], "result", false, true, &self->result, &self->result_size)
                || wp_pf_name (e, f [F_WORKER_ID], "worker_id", false, &self->worker_id) ? -1: 0;
        case WP_METHOD_FAIL:
            return wp_pf_name (e, f [F_POOL], "pool", true, &self->pool)
                || wp_pf_name (e, f [F_ID], "id", true, &self->id)
                || wp_pf_text (e, f [F_ERROR], "error", false, WP_ERROR_MAX, &self->error)
                || wp_pf_name (e, f [F_WORKER_ID], "worker_id", false, &self->worker_id)
                || wp_pf_number (e, f [F_RETRY_AFTER], "retry_after_seconds", false, 0, false,
                                 WP_DELAY_MAX, &self->retry_after) ? -1: 0;
        case WP_METHOD_COMPLETE_AND_CLAIM:
            if (wp_pf_name (e, f [F_POOL], "pool", true, &self->pool)
            ||  wp_pf_name (e, f [F_ID], "id", true, &self->id)
            ||  wp_pf_name (e, f [F_WORKER_ID], "worker_id", true, &self->worker_id)
            ||  wp_pf_bin (e, f [F_RESULT], "result", false, true, &self->result, &self->result_size))
                return -1;
            return s_decode_wait_lease (self, e, f);
        case WP_METHOD_COMPLETE_MANY:
            return wp_pf_name (e, f [F_POOL], "pool", true, &self->pool)
                || wp_pf_name (e, f [F_WORKER_ID], "worker_id", false, &self->worker_id)
                || s_decode_completions (self, e, f [F_ITEMS]) ? -1: 0;
        case WP_METHOD_RELEASE_BY_WORKER:
            return wp_pf_name (e, f [F_POOL], "pool", true, &self->pool)
                || wp_pf_name (e, f [F_WORKER_ID], "worker_id", true, &self->worker_id) ? -1: 0;
        case WP_METHOD_GET:
            return wp_pf_name (e, f [F_POOL], "pool", true, &self->pool)
                || wp_pf_name (e, f [F_ID], "id", true, &self->id) ? -1: 0;
        case WP_METHOD_RENEW:
            return wp_pf_name (e, f [F_WORKER_ID], "worker_id", true, &self->worker_id)
                || wp_pf_number (e, f [F_LEASE], "lease_seconds", false, 0, true,
                                 WP_LEASE_MAX, &self->lease) ? -1: 0;
        case WP_METHOD_REGISTER:
            return s_decode_register (self, e, f);
        case WP_METHOD_HEARTBEAT:
            return wp_pf_name (e, f [F_WORKER_ID], "worker_id", true, &self->worker_id)
                || wp_pf_meta (e, f [F_METADATA], "metadata", WP_META_MAX,
                               &self->metadata) ? -1: 0;
        case WP_METHOD_UPDATE_STATUS:
            return wp_pf_name (e, f [F_WORKER_ID], "worker_id", true, &self->worker_id)
                || wp_pf_name (e, f [F_STATUS], "status", true, &self->status) ? -1: 0;
        case WP_METHOD_GET_WORKER:
            return wp_pf_name (e, f [F_WORKER_ID], "worker_id", true, &self->worker_id);
        case WP_METHOD_LIST_WORKERS:
            return s_decode_status_filter (self, e, f [F_STATUS])
                || wp_pf_name (e, f [F_CAPABILITY], "capability", false, &self->capability)
                || wp_pf_name (e, f [F_POOL_ID], "pool_id", false, &self->pool_id)
                || wp_pf_number (e, f [F_STALE], "stale_threshold_seconds", false, 0, false,
                                 INFINITY, &self->stale_threshold) ? -1: 0;
        case WP_METHOD_LIST_ITEMS:
            if (wp_pf_name (e, f [F_POOL], "pool", true, &self->pool)
            ||  s_decode_item_statuses (self, e, f [F_STATUS], false)
            ||  wp_pf_uint (e, f [F_LIMIT], "limit", false, 1, WP_LIST_MAX, &max)
            ||  wp_pf_cursor (e, f [F_CURSOR], "cursor", false, &self->cursor))
                return -1;
            self->limit = (uint32_t) max;
            return 0;
        case WP_METHOD_RETRY:
            return s_decode_retry (self, e, f);
        case WP_METHOD_CANCEL:
            return wp_pf_name (e, f [F_POOL], "pool", true, &self->pool)
                || wp_pf_name (e, f [F_ID], "id", true, &self->id) ? -1: 0;
        case WP_METHOD_PURGE:
            return wp_pf_name (e, f [F_POOL], "pool", true, &self->pool)
                || s_decode_item_statuses (self, e, f [F_STATUS], true) ? -1: 0;
        case WP_METHOD_SIZE:
        case WP_METHOD_PAUSE:
        case WP_METHOD_RESUME:
            return wp_pf_name (e, f [F_POOL], "pool", true, &self->pool);
        case WP_METHOD_SET_BACKOFF:
            return s_decode_set_backoff (self, e, f);
        case WP_METHOD_SCHEDULE_ADD:
            return s_decode_schedule_add (self, e, f);
        case WP_METHOD_SCHEDULE_REMOVE:
            return s_decode_schedule_name (e, f [F_NAME], &self->name);
        case WP_METHOD_STATS:
        case WP_METHOD_PING:
        case WP_METHOD_SCHEDULE_LIST:
            return 0;
        default:
            return wp_pf_fail (e, "unknown method");
    }
}

wp_status
wp_request_decode_body (wp_request_t *self, const uint8_t *data, size_t size,
                        char *errbuf, size_t errlen)
{
    wp_pf_t e = { errbuf, errlen };
    char why [160];
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    int rc;
    if (wp_mp_unpack (&unpacked, data, size, why, sizeof why))
        rc = wp_pf_fail (&e, "body: %s", why);
    else
        rc = s_decode_body (self, &e, &unpacked.data);
    msgpack_unpacked_destroy (&unpacked);
    return rc ? WP_INVALID_ARGUMENT: WP_OK;
}

//  ---------------------------------------------------------------------
//  Encoding

static void
s_pack_kv_str (msgpack_packer *pk, const char *key, const char *value)
{
    wp_mp_pack_cstr (pk, key);
    wp_mp_pack_cstr (pk, value);
}

static void
s_pack_kv_double (msgpack_packer *pk, const char *key, double value)
{
    wp_mp_pack_cstr (pk, key);
    msgpack_pack_double (pk, value);
}

//  Writes one push entry's fields (the map header is the caller's).
static void
s_pack_entry (msgpack_packer *pk, const wp_push_entry_t *entry)
{
    wp_mp_pack_cstr (pk, "data");
    wp_mp_pack_bin (pk, entry->data, entry->data_size);
    if (entry->id)
        s_pack_kv_str (pk, "id", entry->id);
    if (entry->max_retries >= 0) {
        wp_mp_pack_cstr (pk, "max_retries");
        msgpack_pack_int64 (pk, entry->max_retries);
    }
    if (entry->delay > 0)
        s_pack_kv_double (pk, "delay_seconds", entry->delay);
    if (entry->run_at != 0) {
        wp_mp_pack_cstr (pk, "run_at");
        wp_pf_pack_time (pk, entry->run_at);
    }
    if (entry->priority != 0) {
        wp_mp_pack_cstr (pk, "priority");
        msgpack_pack_int32 (pk, entry->priority);
    }
    if (entry->unique_key)
        s_pack_kv_str (pk, "unique_key", entry->unique_key);
}

static size_t
s_entry_fields (const wp_push_entry_t *entry)
{
    return 1 + (entry->id != NULL) + (entry->max_retries >= 0) + (entry->delay > 0)
             + (entry->run_at != 0) + (entry->priority != 0) + (entry->unique_key != NULL);
}

static void
s_pack_wait_lease (msgpack_packer *pk, const wp_request_t *self)
{
    if (self->wait > 0)
        s_pack_kv_double (pk, "wait_seconds", self->wait);
    if (self->lease > 0)
        s_pack_kv_double (pk, "lease_seconds", self->lease);
}

static size_t
s_wait_lease_fields (const wp_request_t *self)
{
    return (self->wait > 0) + (self->lease > 0);
}

static int
s_encode_register (const wp_request_t *self, msgpack_packer *pk)
{
    const wp_worker_t *w = self->worker;
    if (!w || !w->worker_id)
        return -1;
    msgpack_pack_map (pk, 1 + (w->host != NULL) + (w->pid >= 0) + (w->capability_count > 0)
                          + (w->pool_id != NULL) + (w->started_at != 0)
                          + (w->heartbeat_interval > 0) + (w->metadata.count > 0));
    s_pack_kv_str (pk, "worker_id", w->worker_id);
    if (w->host)
        s_pack_kv_str (pk, "host", w->host);
    if (w->pid >= 0) {
        wp_mp_pack_cstr (pk, "pid");
        msgpack_pack_int64 (pk, w->pid);
    }
    if (w->capability_count > 0) {
        wp_mp_pack_cstr (pk, "capabilities");
        msgpack_pack_array (pk, w->capability_count);
        for (size_t i = 0; i < w->capability_count; i++)
            wp_mp_pack_cstr (pk, w->capabilities [i]);
    }
    if (w->pool_id)
        s_pack_kv_str (pk, "pool_id", w->pool_id);
    if (w->started_at != 0) {
        wp_mp_pack_cstr (pk, "started_at");
        wp_pf_pack_time (pk, w->started_at);
    }
    if (w->heartbeat_interval > 0)
        s_pack_kv_double (pk, "heartbeat_interval_seconds", w->heartbeat_interval);
    if (w->metadata.count > 0) {
        wp_mp_pack_cstr (pk, "metadata");
        wp_pf_pack_meta (pk, &w->metadata);
    }
    return 0;
}

//  Writes "status" as an array of names (the canonical form of a filter).
static void
s_pack_statuses (msgpack_packer *pk, const wp_request_t *self)
{
    wp_mp_pack_cstr (pk, "status");
    msgpack_pack_array (pk, self->status_count);
    for (size_t i = 0; i < self->status_count; i++)
        wp_mp_pack_cstr (pk, self->statuses [i]);
}

static bool
s_statuses_set (const wp_request_t *self)
{
    for (size_t i = 0; i < self->status_count; i++)
        if (!self->statuses || !self->statuses [i])
            return false;
    return true;
}

static int
s_encode_body (const wp_request_t *self, msgpack_packer *pk)
{
    switch (self->method) {
        case WP_METHOD_PUSH:
            if (!self->pool || self->entry_count != 1 || !self->entries || !self->entries [0].data)
                return -1;
            msgpack_pack_map (pk, 1 + s_entry_fields (&self->entries [0]));
            s_pack_kv_str (pk, "pool", self->pool);
            s_pack_entry (pk, &self->entries [0]);
            return 0;
        case WP_METHOD_PUSH_MANY:
            if (!self->pool || self->entry_count == 0 || !self->entries)
                return -1;
            for (size_t i = 0; i < self->entry_count; i++)
                if (!self->entries [i].data)
                    return -1;
            msgpack_pack_map (pk, 2);
            s_pack_kv_str (pk, "pool", self->pool);
            wp_mp_pack_cstr (pk, "items");
            msgpack_pack_array (pk, self->entry_count);
            for (size_t i = 0; i < self->entry_count; i++) {
                msgpack_pack_map (pk, s_entry_fields (&self->entries [i]));
                s_pack_entry (pk, &self->entries [i]);
            }
            return 0;
        case WP_METHOD_CLAIM:
        case WP_METHOD_CLAIM_MANY: {
            bool many = self->method == WP_METHOD_CLAIM_MANY;
            if (!self->pool || !self->worker_id)
                return -1;
            msgpack_pack_map (pk, 2 + many + s_wait_lease_fields (self));
            s_pack_kv_str (pk, "pool", self->pool);
            s_pack_kv_str (pk, "worker_id", self->worker_id);
            if (many) {
                wp_mp_pack_cstr (pk, "max");
                msgpack_pack_uint32 (pk, self->max);
            }
            s_pack_wait_lease (pk, self);
            return 0;
        }
        case WP_METHOD_COMPLETE:
        case WP_METHOD_FAIL: {
            bool fail = self->method == WP_METHOD_FAIL;
            if (!self->pool || !self->id)
                return -1;
            bool extra = fail ? self->error != NULL: self->result != NULL;
            bool retry_after = fail && self->retry_after > 0;
            msgpack_pack_map (pk, 2 + extra + (self->worker_id != NULL) + retry_after);
            s_pack_kv_str (pk, "pool", self->pool);
            s_pack_kv_str (pk, "id", self->id);
            if (fail && self->error)
                s_pack_kv_str (pk, "error", self->error);
            if (!fail && self->result) {
                wp_mp_pack_cstr (pk, "result");
                wp_mp_pack_bin (pk, self->result, self->result_size);
            }
            if (self->worker_id)
                s_pack_kv_str (pk, "worker_id", self->worker_id);
            if (retry_after)
                s_pack_kv_double (pk, "retry_after_seconds", self->retry_after);
            return 0;
        }
        case WP_METHOD_COMPLETE_AND_CLAIM:
            if (!self->pool || !self->id || !self->worker_id)
                return -1;
            msgpack_pack_map (pk, 3 + (self->result != NULL) + s_wait_lease_fields (self));
            s_pack_kv_str (pk, "pool", self->pool);
            s_pack_kv_str (pk, "id", self->id);
            s_pack_kv_str (pk, "worker_id", self->worker_id);
            if (self->result) {
                wp_mp_pack_cstr (pk, "result");
                wp_mp_pack_bin (pk, self->result, self->result_size);
            }
            s_pack_wait_lease (pk, self);
            return 0;
        case WP_METHOD_COMPLETE_MANY:
            if (!self->pool || self->completion_count == 0 || !self->completions)
                return -1;
            for (size_t i = 0; i < self->completion_count; i++)
                if (!self->completions [i].id)
                    return -1;
            msgpack_pack_map (pk, 2 + (self->worker_id != NULL));
            s_pack_kv_str (pk, "pool", self->pool);
            if (self->worker_id)
                s_pack_kv_str (pk, "worker_id", self->worker_id);
            wp_mp_pack_cstr (pk, "items");
            msgpack_pack_array (pk, self->completion_count);
            for (size_t i = 0; i < self->completion_count; i++) {
                const wp_complete_entry_t *entry = &self->completions [i];
                msgpack_pack_map (pk, 1 + (entry->result != NULL));
                s_pack_kv_str (pk, "id", entry->id);
                if (entry->result) {
                    wp_mp_pack_cstr (pk, "result");
                    wp_mp_pack_bin (pk, entry->result, entry->result_size);
                }
            }
            return 0;
        case WP_METHOD_SIZE:
        case WP_METHOD_PAUSE:
        case WP_METHOD_RESUME:
            if (!self->pool)
                return -1;
            msgpack_pack_map (pk, 1);
            s_pack_kv_str (pk, "pool", self->pool);
            return 0;
        case WP_METHOD_LIST_ITEMS:
            if (!self->pool || !s_statuses_set (self))
                return -1;
            msgpack_pack_map (pk, 1 + (self->status_count > 0) + (self->limit > 0)
                                + (self->cursor != NULL));
            s_pack_kv_str (pk, "pool", self->pool);
            if (self->status_count > 0)
                s_pack_statuses (pk, self);
            if (self->limit > 0) {
                wp_mp_pack_cstr (pk, "limit");
                msgpack_pack_uint32 (pk, self->limit);
            }
            if (self->cursor)
                s_pack_kv_str (pk, "cursor", self->cursor);
            return 0;
        case WP_METHOD_RETRY:
            //  Exactly one of the two, as the decoder demands
            if (!self->pool || (self->id != NULL) == self->all)
                return -1;
            msgpack_pack_map (pk, 2);
            s_pack_kv_str (pk, "pool", self->pool);
            if (self->id)
                s_pack_kv_str (pk, "id", self->id);
            else {
                wp_mp_pack_cstr (pk, "all");
                msgpack_pack_true (pk);
            }
            return 0;
        case WP_METHOD_PURGE:
            if (!self->pool || self->status_count == 0 || !s_statuses_set (self))
                return -1;
            msgpack_pack_map (pk, 2);
            s_pack_kv_str (pk, "pool", self->pool);
            s_pack_statuses (pk, self);
            return 0;
        case WP_METHOD_SUBSCRIBE:
            if (!self->pool || !self->worker_id || self->credit == 0)
                return -1;
            msgpack_pack_map (pk, 3 + (self->lease > 0));
            s_pack_kv_str (pk, "pool", self->pool);
            s_pack_kv_str (pk, "worker_id", self->worker_id);
            wp_mp_pack_cstr (pk, "credit");
            msgpack_pack_uint32 (pk, self->credit);
            if (self->lease > 0)
                s_pack_kv_double (pk, "lease_seconds", self->lease);
            return 0;
        case WP_METHOD_RELEASE_BY_WORKER:
        case WP_METHOD_UNSUBSCRIBE:
            if (!self->pool || !self->worker_id)
                return -1;
            msgpack_pack_map (pk, 2);
            s_pack_kv_str (pk, "pool", self->pool);
            s_pack_kv_str (pk, "worker_id", self->worker_id);
            return 0;
        case WP_METHOD_GET:
        case WP_METHOD_CANCEL:
            if (!self->pool || !self->id)
                return -1;
            msgpack_pack_map (pk, 2);
            s_pack_kv_str (pk, "pool", self->pool);
            s_pack_kv_str (pk, "id", self->id);
            return 0;
        case WP_METHOD_RENEW:
            if (!self->worker_id)
                return -1;
            msgpack_pack_map (pk, 1 + (self->lease > 0));
            s_pack_kv_str (pk, "worker_id", self->worker_id);
            if (self->lease > 0)
                s_pack_kv_double (pk, "lease_seconds", self->lease);
            return 0;
        case WP_METHOD_REGISTER:
            return s_encode_register (self, pk);
        case WP_METHOD_HEARTBEAT:
            if (!self->worker_id)
                return -1;
            msgpack_pack_map (pk, 1 + (self->metadata.count > 0));
            s_pack_kv_str (pk, "worker_id", self->worker_id);
            if (self->metadata.count > 0) {
                wp_mp_pack_cstr (pk, "metadata");
                wp_pf_pack_meta (pk, &self->metadata);
            }
            return 0;
        case WP_METHOD_UPDATE_STATUS:
            if (!self->worker_id || !self->status)
                return -1;
            msgpack_pack_map (pk, 2);
            s_pack_kv_str (pk, "worker_id", self->worker_id);
            s_pack_kv_str (pk, "status", self->status);
            return 0;
        case WP_METHOD_GET_WORKER:
            if (!self->worker_id)
                return -1;
            msgpack_pack_map (pk, 1);
            s_pack_kv_str (pk, "worker_id", self->worker_id);
            return 0;
        case WP_METHOD_LIST_WORKERS:
            if (!s_statuses_set (self))
                return -1;
            msgpack_pack_map (pk, (self->status_count > 0) + (self->capability != NULL)
                                + (self->pool_id != NULL) + (self->stale_threshold >= 0));
            if (self->status_count > 0)
                s_pack_statuses (pk, self);
            if (self->capability)
                s_pack_kv_str (pk, "capability", self->capability);
            if (self->pool_id)
                s_pack_kv_str (pk, "pool_id", self->pool_id);
            if (self->stale_threshold >= 0)
                s_pack_kv_double (pk, "stale_threshold_seconds", self->stale_threshold);
            return 0;
        case WP_METHOD_SET_BACKOFF: {
            //  The defaults (cap = base, jitter 0) are left out
            const wp_backoff_t *b = &self->backoff;
            if (!self->pool)
                return -1;
            bool cap = b->cap != b->base, jitter = b->jitter != 0;
            msgpack_pack_map (pk, 2 + cap + jitter);
            s_pack_kv_str (pk, "pool", self->pool);
            s_pack_kv_double (pk, "base_seconds", b->base);
            if (cap)
                s_pack_kv_double (pk, "cap_seconds", b->cap);
            if (jitter)
                s_pack_kv_double (pk, "jitter", b->jitter);
            return 0;
        }
        case WP_METHOD_SCHEDULE_ADD: {
            const wp_schedule_t *s = self->schedule;
            if (!s || !s->name || !s->pool || !s->cron || !s->data)
                return -1;
            msgpack_pack_map (pk, 4 + (s->priority != 0) + (s->max_retries >= 0));
            s_pack_kv_str (pk, "name", s->name);
            s_pack_kv_str (pk, "pool", s->pool);
            s_pack_kv_str (pk, "cron", s->cron);
            wp_mp_pack_cstr (pk, "data");
            wp_mp_pack_bin (pk, s->data, s->data_size);
            if (s->priority != 0) {
                wp_mp_pack_cstr (pk, "priority");
                msgpack_pack_int32 (pk, s->priority);
            }
            if (s->max_retries >= 0) {
                wp_mp_pack_cstr (pk, "max_retries");
                msgpack_pack_int64 (pk, s->max_retries);
            }
            return 0;
        }
        case WP_METHOD_SCHEDULE_REMOVE:
            if (!self->name)
                return -1;
            msgpack_pack_map (pk, 1);
            s_pack_kv_str (pk, "name", self->name);
            return 0;
        case WP_METHOD_STATS:
        case WP_METHOD_PING:
        case WP_METHOD_SCHEDULE_LIST:
            msgpack_pack_map (pk, 0);
            return 0;
        default:
            return -1;
    }
}

int
wp_request_encode (const wp_request_t *self,
                   uint8_t **header_p, size_t *header_size,
                   uint8_t **body_p, size_t *body_size)
{
    if (!self)
        return -1;
    const char *method = self->method_name ? self->method_name: wp_method_name (self->method);
    wp_mp_writer_t body;
    wp_mp_writer_init (&body);
    if (s_encode_body (self, &body.pk)) {
        wp_mp_writer_clear (&body);
        return -1;
    }
    for (size_t i = 0; i < self->meta_count; i++)
        if (!self->meta_keys [i] || !self->meta_values [i]) {
            wp_mp_writer_clear (&body);
            return -1;
        }
    wp_mp_writer_t header;
    wp_mp_writer_init (&header);
    msgpack_pack_array (&header.pk, 6);
    wp_mp_pack_cstr (&header.pk, WP_PROTO_REQUEST_SIG);
    msgpack_pack_uint32 (&header.pk, WP_PROTO_VERSION);
    msgpack_pack_uint64 (&header.pk, self->request_id);
    wp_mp_pack_cstr (&header.pk, method);
    msgpack_pack_uint32 (&header.pk, self->timeout_ms);
    msgpack_pack_map (&header.pk, self->meta_count);
    for (size_t i = 0; i < self->meta_count; i++)
        s_pack_kv_str (&header.pk, self->meta_keys [i], self->meta_values [i]);
    wp_mp_writer_take (&header, header_p, header_size);
    wp_mp_writer_take (&body, body_p, body_size);
    return 0;
}
