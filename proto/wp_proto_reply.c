/*  wp_proto_reply: encoder and decoder of reply headers and bodies, with
    the Item and Worker records they carry.

    Encoders write every reply field, nil when unset, records with all
    their fields in PROTOCOL.md's order. Decoders accept keys in any order,
    ignore unknown ones, and take an absent nullable record field as nil
    (so a newer broker may drop nothing but add fields).  */
#include "wp_proto_fields.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  ---------------------------------------------------------------------
//  Header

//  Copies message into at most WP_MESSAGE_TEXT_MAX bytes of valid UTF-8
//  without NUL: a message may quote client input, and the reply must stay
//  decodable whatever it holds. Caller frees.
static char *
s_clean_message (const char *message)
{
    size_t len = strnlen (message, WP_MESSAGE_TEXT_MAX);
    char *clean = wp_pf_strndup (message, len);
    //  Replace each byte that does not start a valid sequence with '?'
    size_t i = 0;
    while (i < len) {
        size_t seq = 1;
        unsigned char c = (unsigned char) clean [i];
        if (c >= 0x80) {
            seq = c >= 0xf0 ? 4: c >= 0xe0 ? 3: 2;
            if (i + seq > len || !wp_mp_utf8_valid (clean + i, seq)) {
                clean [i] = '?';
                seq = 1;
            }
        }
        i += seq;
    }
    return clean;
}

wp_status
wp_reply_decode_header (wp_reply_t *self, const uint8_t *data, size_t size,
                        char *errbuf, size_t errlen)
{
    wp_pf_t e = { errbuf, errlen };
    char why [160];
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    int rc = -1;
    if (wp_mp_unpack (&unpacked, data, size, why, sizeof why)) {
        wp_pf_fail (&e, "reply header: %s", why);
        goto done;
    }
    const msgpack_object *root = &unpacked.data;
    if (root->type != MSGPACK_OBJECT_ARRAY || root->via.array.size != 5) {
        wp_pf_fail (&e, "reply header must be an array of 5 elements");
        goto done;
    }
    const msgpack_object *element = root->via.array.ptr;
    uint64_t request_id, status, version;
    if (element [0].type != MSGPACK_OBJECT_STR || element [0].via.str.size != 3
    ||  memcmp (element [0].via.str.ptr, WP_PROTO_REPLY_SIG, 3) != 0) {
        wp_pf_fail (&e, "reply header must begin with \"" WP_PROTO_REPLY_SIG "\"");
        goto done;
    }
    if (wp_pf_uint (&e, &element [1], "version", true, 0, UINT64_MAX, &version))
        goto done;
    if (version != WP_PROTO_VERSION) {
        wp_pf_fail (&e, "unsupported protocol version %llu in reply (we speak %d)",
                    (unsigned long long) version, WP_PROTO_VERSION);
        goto done;
    }
    if (wp_pf_uint (&e, &element [2], "request_id", true, 0, UINT64_MAX, &request_id)
    ||  wp_pf_uint (&e, &element [3], "status", true, 0, WP_STATUS_COUNT - 1, &status))
        goto done;
    char *message = NULL;
    if (wp_pf_text (&e, &element [4], "message", true, WP_MESSAGE_TEXT_MAX, &message))
        goto done;
    free (self->message);
    self->message = message;
    self->request_id = request_id;
    self->status = (wp_status) status;
    rc = 0;
done:
    msgpack_unpacked_destroy (&unpacked);
    return rc ? WP_INVALID_ARGUMENT: WP_OK;
}

//  ---------------------------------------------------------------------
//  Records

static const char *const s_item_fields [] = {
    "id", "pool", "data", "status", "claimed_by", "claimed_at", "lease_expires_at",
    "attempts", "max_retries", "result", "error", "created_at", "priority", "run_at",
    "unique_key"
};
#define S_ITEM_FIELDS (sizeof s_item_fields / sizeof s_item_fields [0])

static const char *const s_worker_fields [] = {
    "worker_id", "host", "pid", "capabilities", "pool_id", "started_at", "status",
    "last_heartbeat", "current_task_id", "heartbeat_interval_seconds", "metadata"
};
#define S_WORKER_FIELDS (sizeof s_worker_fields / sizeof s_worker_fields [0])

//  A nullable time: 0 (unset) is nil.
static void
s_pack_time_or_nil (msgpack_packer *pk, int64_t t)
{
    if (t)
        wp_pf_pack_time (pk, t);
    else
        msgpack_pack_nil (pk);
}

static int
s_pack_item (msgpack_packer *pk, const wp_item_t *item)
{
    if (!item->id || !item->pool || !item->data
    ||  (int) item->status < WP_ITEM_PENDING || item->status >= WP_ITEM_STATE_COUNT)
        return -1;
    msgpack_pack_map (pk, S_ITEM_FIELDS);
    const char *const *k = s_item_fields;
    wp_mp_pack_cstr (pk, *k++);
    wp_mp_pack_cstr (pk, item->id);
    wp_mp_pack_cstr (pk, *k++);
    wp_mp_pack_cstr (pk, item->pool);
    wp_mp_pack_cstr (pk, *k++);
    wp_mp_pack_bin (pk, item->data, item->data_size);
    wp_mp_pack_cstr (pk, *k++);
    wp_mp_pack_cstr (pk, wp_item_state_name (item->status));
    wp_mp_pack_cstr (pk, *k++);
    wp_mp_pack_cstr (pk, item->claimed_by);
    wp_mp_pack_cstr (pk, *k++);
    s_pack_time_or_nil (pk, item->claimed_at);
    wp_mp_pack_cstr (pk, *k++);
    s_pack_time_or_nil (pk, item->lease_expires_at);
    wp_mp_pack_cstr (pk, *k++);
    msgpack_pack_uint32 (pk, item->attempts);
    wp_mp_pack_cstr (pk, *k++);
    msgpack_pack_uint32 (pk, item->max_retries);
    wp_mp_pack_cstr (pk, *k++);
    wp_mp_pack_bin (pk, item->result, item->result_size);
    wp_mp_pack_cstr (pk, *k++);
    wp_mp_pack_cstr (pk, item->error);
    wp_mp_pack_cstr (pk, *k++);
    wp_pf_pack_time (pk, item->created_at);
    wp_mp_pack_cstr (pk, *k++);
    msgpack_pack_int32 (pk, item->priority);
    wp_mp_pack_cstr (pk, *k++);
    s_pack_time_or_nil (pk, item->run_at);
    wp_mp_pack_cstr (pk, *k++);
    wp_mp_pack_cstr (pk, item->unique_key);
    return 0;
}

//  Reads an Item map; what names it in messages ("item", "items[2]").
static int
s_decode_item (wp_pf_t *e, const msgpack_object *o, const char *what, wp_item_t **item_p)
{
    char where [64];
    snprintf (where, sizeof where, "field '%s'", what);
    const msgpack_object *f [S_ITEM_FIELDS];
    if (wp_pf_map (e, o, where, false, s_item_fields, S_ITEM_FIELDS, f))
        return -1;
    wp_item_t *item = *item_p = wp_item_new ();
    char *status = NULL;
    uint64_t attempts = 0, max_retries = 0;
    int64_t priority = 0;
    #define S_FIELD(i) s_item_fields [i]
    int rc = wp_pf_name (e, f [0], S_FIELD (0), true, &item->id)
          || wp_pf_name (e, f [1], S_FIELD (1), true, &item->pool)
          || wp_pf_bin (e, f [2], S_FIELD (2), true, false, &item->data, &item->data_size)
          || wp_pf_name (e, f [3], S_FIELD (3), true, &status)
          || wp_pf_name (e, f [4], S_FIELD (4), false, &item->claimed_by)
          || wp_pf_time (e, f [5], S_FIELD (5), false, &item->claimed_at)
          || wp_pf_time (e, f [6], S_FIELD (6), false, &item->lease_expires_at)
          || wp_pf_uint (e, f [7], S_FIELD (7), true, 0, UINT32_MAX, &attempts)
          || wp_pf_uint (e, f [8], S_FIELD (8), true, 0, UINT32_MAX, &max_retries)
          || wp_pf_bin (e, f [9], S_FIELD (9), false, false, &item->result, &item->result_size)
          || wp_pf_text (e, f [10], S_FIELD (10), false, WP_ERROR_MAX, &item->error)
          || wp_pf_time (e, f [11], S_FIELD (11), true, &item->created_at)
          //  Absent from a broker older than scheduling: 0, nil, nil
          || wp_pf_int (e, f [12], S_FIELD (12), false, INT32_MIN, INT32_MAX, &priority)
          || wp_pf_time (e, f [13], S_FIELD (13), false, &item->run_at)
          || wp_pf_name (e, f [14], S_FIELD (14), false, &item->unique_key) ? -1: 0;
    wp_pf_nested (e, what, rc);
    if (rc == 0) {
        int state = wp_item_state_from_name (status);
        if (state < 0)
            rc = wp_pf_fail (e, "field '%s.status' must be pending, scheduled, claimed, done"
                             " or poisoned", what);
        else
            item->status = (wp_item_state) state;
    }
    #undef S_FIELD
    item->priority = (int32_t) priority;
    item->attempts = (uint32_t) attempts;
    item->max_retries = (uint32_t) max_retries;
    free (status);
    return rc;
}

static const char *const s_schedule_fields [] = {
    "name", "pool", "cron", "data", "priority", "max_retries", "next_at", "last_fired_at",
    "created_at"
};
#define S_SCHEDULE_FIELDS (sizeof s_schedule_fields / sizeof s_schedule_fields [0])

static int
s_pack_schedule (msgpack_packer *pk, const wp_schedule_t *schedule)
{
    if (!schedule->name || !schedule->pool || !schedule->cron || !schedule->data)
        return -1;
    msgpack_pack_map (pk, S_SCHEDULE_FIELDS);
    const char *const *k = s_schedule_fields;
    wp_mp_pack_cstr (pk, *k++);
    wp_mp_pack_cstr (pk, schedule->name);
    wp_mp_pack_cstr (pk, *k++);
    wp_mp_pack_cstr (pk, schedule->pool);
    wp_mp_pack_cstr (pk, *k++);
    wp_mp_pack_cstr (pk, schedule->cron);
    wp_mp_pack_cstr (pk, *k++);
    wp_mp_pack_bin (pk, schedule->data, schedule->data_size);
    wp_mp_pack_cstr (pk, *k++);
    msgpack_pack_int32 (pk, schedule->priority);
    wp_mp_pack_cstr (pk, *k++);
    if (schedule->max_retries >= 0)
        msgpack_pack_int64 (pk, schedule->max_retries);
    else
        msgpack_pack_nil (pk);
    wp_mp_pack_cstr (pk, *k++);
    s_pack_time_or_nil (pk, schedule->next_at);
    wp_mp_pack_cstr (pk, *k++);
    s_pack_time_or_nil (pk, schedule->last_fired_at);
    wp_mp_pack_cstr (pk, *k++);
    wp_pf_pack_time (pk, schedule->created_at);
    return 0;
}

static int
s_decode_schedule (wp_pf_t *e, const msgpack_object *o, const char *what,
                   wp_schedule_t **schedule_p)
{
    char where [64];
    snprintf (where, sizeof where, "field '%s'", what);
    const msgpack_object *f [S_SCHEDULE_FIELDS];
    if (wp_pf_map (e, o, where, false, s_schedule_fields, S_SCHEDULE_FIELDS, f))
        return -1;
    wp_schedule_t *schedule = *schedule_p = wp_schedule_new ();
    int64_t priority = 0;
    #define S_FIELD(i) s_schedule_fields [i]
    int rc = wp_pf_name (e, f [0], S_FIELD (0), true, &schedule->name)
          || wp_pf_name (e, f [1], S_FIELD (1), true, &schedule->pool)
          || wp_pf_text (e, f [2], S_FIELD (2), true, WP_CRON_MAX, &schedule->cron)
          || wp_pf_bin (e, f [3], S_FIELD (3), true, false, &schedule->data,
                        &schedule->data_size)
          || wp_pf_int (e, f [4], S_FIELD (4), true, INT32_MIN, INT32_MAX, &priority)
          || wp_pf_int (e, f [5], S_FIELD (5), false, 0, WP_MAX_RETRIES_MAX,
                        &schedule->max_retries)
          || wp_pf_time (e, f [6], S_FIELD (6), false, &schedule->next_at)
          || wp_pf_time (e, f [7], S_FIELD (7), false, &schedule->last_fired_at)
          || wp_pf_time (e, f [8], S_FIELD (8), true, &schedule->created_at) ? -1: 0;
    #undef S_FIELD
    schedule->priority = (int32_t) priority;
    return wp_pf_nested (e, what, rc);
}

static int
s_pack_worker (msgpack_packer *pk, const wp_worker_t *worker)
{
    if (!worker->worker_id || !worker->status)
        return -1;
    for (size_t i = 0; i < worker->capability_count; i++)
        if (!worker->capabilities [i])
            return -1;
    msgpack_pack_map (pk, S_WORKER_FIELDS);
    const char *const *k = s_worker_fields;
    wp_mp_pack_cstr (pk, *k++);
    wp_mp_pack_cstr (pk, worker->worker_id);
    wp_mp_pack_cstr (pk, *k++);
    wp_mp_pack_cstr (pk, worker->host);
    wp_mp_pack_cstr (pk, *k++);
    if (worker->pid >= 0)
        msgpack_pack_int64 (pk, worker->pid);
    else
        msgpack_pack_nil (pk);
    wp_mp_pack_cstr (pk, *k++);
    msgpack_pack_array (pk, worker->capability_count);
    for (size_t i = 0; i < worker->capability_count; i++)
        wp_mp_pack_cstr (pk, worker->capabilities [i]);
    wp_mp_pack_cstr (pk, *k++);
    wp_mp_pack_cstr (pk, worker->pool_id);
    wp_mp_pack_cstr (pk, *k++);
    wp_pf_pack_time (pk, worker->started_at);
    wp_mp_pack_cstr (pk, *k++);
    wp_mp_pack_cstr (pk, worker->status);
    wp_mp_pack_cstr (pk, *k++);
    wp_pf_pack_time (pk, worker->last_heartbeat);
    wp_mp_pack_cstr (pk, *k++);
    wp_mp_pack_cstr (pk, worker->current_task_id);
    wp_mp_pack_cstr (pk, *k++);
    msgpack_pack_double (pk, worker->heartbeat_interval);
    wp_mp_pack_cstr (pk, *k++);
    wp_pf_pack_meta (pk, &worker->metadata);
    return 0;
}

static int
s_decode_worker (wp_pf_t *e, const msgpack_object *o, const char *what, wp_worker_t **worker_p)
{
    char where [64];
    snprintf (where, sizeof where, "field '%s'", what);
    const msgpack_object *f [S_WORKER_FIELDS];
    if (wp_pf_map (e, o, where, false, s_worker_fields, S_WORKER_FIELDS, f))
        return -1;
    wp_worker_t *worker = *worker_p = wp_worker_new ();
    #define S_FIELD(i) s_worker_fields [i]
    //  Counts are not bounded here as in Register: heartbeats merge
    //  metadata, so a record may hold more than one request could carry
    int rc = wp_pf_name (e, f [0], S_FIELD (0), true, &worker->worker_id)
          || wp_pf_text (e, f [1], S_FIELD (1), false, WP_HOST_MAX, &worker->host)
          || wp_pf_int (e, f [2], S_FIELD (2), false, 0, INT64_MAX, &worker->pid)
          || wp_pf_names (e, f [3], S_FIELD (3), UINT32_MAX, &worker->capabilities,
                          &worker->capability_count)
          || wp_pf_name (e, f [4], S_FIELD (4), false, &worker->pool_id)
          || wp_pf_time (e, f [5], S_FIELD (5), true, &worker->started_at)
          || wp_pf_name (e, f [6], S_FIELD (6), true, &worker->status)
          || wp_pf_time (e, f [7], S_FIELD (7), true, &worker->last_heartbeat)
          || wp_pf_name (e, f [8], S_FIELD (8), false, &worker->current_task_id)
          || wp_pf_number (e, f [9], S_FIELD (9), true, 0, false, INFINITY,
                           &worker->heartbeat_interval)
          || wp_pf_meta (e, f [10], S_FIELD (10), UINT32_MAX, &worker->metadata) ? -1: 0;
    #undef S_FIELD
    return wp_pf_nested (e, what, rc);
}

//  ---------------------------------------------------------------------
//  Bodies

//  The key of a reply that is one count.
static const char *
s_count_key (wp_method method)
{
    switch (method) {
        case WP_METHOD_SIZE:    return "size";
        case WP_METHOD_RENEW:   return "renewed";
        case WP_METHOD_RETRY:   return "retried";
        case WP_METHOD_PURGE:   return "purged";
        default:                return "released";
    }
}

static int
s_encode_body (const wp_reply_t *self, wp_method method, msgpack_packer *pk)
{
    switch (method) {
        case WP_METHOD_PUSH:
            if (self->id_count != 1 || !self->ids || !self->ids [0])
                return -1;
            msgpack_pack_map (pk, 2);
            wp_mp_pack_cstr (pk, "id");
            wp_mp_pack_cstr (pk, self->ids [0]);
            wp_mp_pack_cstr (pk, "duplicate");
            if (self->duplicates && self->duplicates [0])
                msgpack_pack_true (pk);
            else
                msgpack_pack_false (pk);
            return 0;
        case WP_METHOD_PUSH_MANY:
            for (size_t i = 0; i < self->id_count; i++)
                if (!self->ids [i])
                    return -1;
            msgpack_pack_map (pk, 2);
            wp_mp_pack_cstr (pk, "ids");
            msgpack_pack_array (pk, self->id_count);
            for (size_t i = 0; i < self->id_count; i++)
                wp_mp_pack_cstr (pk, self->ids [i]);
            wp_mp_pack_cstr (pk, "duplicates");
            msgpack_pack_array (pk, self->id_count);
            for (size_t i = 0; i < self->id_count; i++)
                if (self->duplicates && self->duplicates [i])
                    msgpack_pack_true (pk);
                else
                    msgpack_pack_false (pk);
            return 0;
        case WP_METHOD_COMPLETE_MANY:
            if (self->entry_count == 0 || !self->entry_statuses)
                return -1;
            for (size_t i = 0; i < self->entry_count; i++)
                if ((unsigned) self->entry_statuses [i] > WP_UNAUTHENTICATED)
                    return -1;
            msgpack_pack_map (pk, 2);
            wp_mp_pack_cstr (pk, "statuses");
            msgpack_pack_array (pk, self->entry_count);
            for (size_t i = 0; i < self->entry_count; i++)
                msgpack_pack_uint32 (pk, (uint32_t) self->entry_statuses [i]);
            wp_mp_pack_cstr (pk, "messages");
            msgpack_pack_array (pk, self->entry_count);
            for (size_t i = 0; i < self->entry_count; i++) {
                const char *message = self->entry_messages && self->entry_statuses [i] != WP_OK
                                    ? self->entry_messages [i]: NULL;
                char *clean = s_clean_message (message ? message: "");
                wp_mp_pack_cstr (pk, clean);
                free (clean);
            }
            return 0;
        case WP_METHOD_CLAIM:
        case WP_METHOD_COMPLETE_AND_CLAIM:
        case WP_METHOD_GET:
            if (method == WP_METHOD_GET && !self->item)
                return -1;
            msgpack_pack_map (pk, 1);
            wp_mp_pack_cstr (pk, "item");
            if (!self->item) {
                msgpack_pack_nil (pk);
                return 0;
            }
            return s_pack_item (pk, self->item);
        case WP_METHOD_CLAIM_MANY:
        case WP_METHOD_LIST_ITEMS:
        case WP_METHOD_SUBSCRIBE: {
            bool list = method == WP_METHOD_LIST_ITEMS;
            bool end = method == WP_METHOD_SUBSCRIBE && self->end;
            size_t count = self->items ? self->items->count: 0;
            msgpack_pack_map (pk, 1 + list + end);
            wp_mp_pack_cstr (pk, "items");
            msgpack_pack_array (pk, count);
            for (size_t i = 0; i < count; i++)
                if (s_pack_item (pk, self->items->items [i]))
                    return -1;
            if (list) {
                wp_mp_pack_cstr (pk, "cursor");
                wp_mp_pack_cstr (pk, self->cursor);
            }
            if (end) {
                wp_mp_pack_cstr (pk, "end");
                msgpack_pack_true (pk);
            }
            return 0;
        }
        case WP_METHOD_COMPLETE:
        case WP_METHOD_HEARTBEAT:
        case WP_METHOD_UPDATE_STATUS:
        case WP_METHOD_CANCEL:
        case WP_METHOD_PAUSE:
        case WP_METHOD_RESUME:
        case WP_METHOD_SET_BACKOFF:
        case WP_METHOD_SCHEDULE_REMOVE:
        case WP_METHOD_UNSUBSCRIBE:
            msgpack_pack_map (pk, 0);
            return 0;
        case WP_METHOD_SCHEDULE_ADD:
            if (!self->schedule)
                return -1;
            msgpack_pack_map (pk, 1);
            wp_mp_pack_cstr (pk, "schedule");
            return s_pack_schedule (pk, self->schedule);
        case WP_METHOD_SCHEDULE_LIST: {
            size_t count = self->schedules ? self->schedules->count: 0;
            msgpack_pack_map (pk, 1);
            wp_mp_pack_cstr (pk, "schedules");
            msgpack_pack_array (pk, count);
            for (size_t i = 0; i < count; i++)
                if (s_pack_schedule (pk, self->schedules->schedules [i]))
                    return -1;
            return 0;
        }
        case WP_METHOD_FAIL:
            if (self->item_state != WP_ITEM_PENDING && self->item_state != WP_ITEM_SCHEDULED
            &&  self->item_state != WP_ITEM_POISONED)
                return -1;
            msgpack_pack_map (pk, 1);
            wp_mp_pack_cstr (pk, "status");
            wp_mp_pack_cstr (pk, wp_item_state_name (self->item_state));
            return 0;
        case WP_METHOD_SIZE:
        case WP_METHOD_RELEASE_BY_WORKER:
        case WP_METHOD_RENEW:
        case WP_METHOD_RETRY:
        case WP_METHOD_PURGE:
            msgpack_pack_map (pk, 1);
            wp_mp_pack_cstr (pk, s_count_key (method));
            msgpack_pack_uint64 (pk, self->count);
            return 0;
        case WP_METHOD_REGISTER:
        case WP_METHOD_GET_WORKER:
            if (method == WP_METHOD_REGISTER && !self->worker)
                return -1;
            msgpack_pack_map (pk, 1);
            wp_mp_pack_cstr (pk, "worker");
            if (!self->worker) {
                msgpack_pack_nil (pk);
                return 0;
            }
            return s_pack_worker (pk, self->worker);
        case WP_METHOD_LIST_WORKERS: {
            size_t count = self->workers ? self->workers->count: 0;
            msgpack_pack_map (pk, 1);
            wp_mp_pack_cstr (pk, "workers");
            msgpack_pack_array (pk, count);
            for (size_t i = 0; i < count; i++)
                if (s_pack_worker (pk, self->workers->workers [i]))
                    return -1;
            return 0;
        }
        case WP_METHOD_STATS: {
            static const wp_stats_t none = { 0 };
            const wp_stats_t *stats = self->stats ? self->stats: &none;
            msgpack_pack_map (pk, 3);
            wp_mp_pack_cstr (pk, "pools");
            msgpack_pack_array (pk, stats->pool_count);
            for (size_t i = 0; i < stats->pool_count; i++) {
                const wp_pool_stats_t *pool = &stats->pools [i];
                if (!pool->pool)
                    return -1;
                msgpack_pack_map (pk, 10);
                wp_mp_pack_cstr (pk, "pool");
                wp_mp_pack_cstr (pk, pool->pool);
                wp_mp_pack_cstr (pk, "pending");
                msgpack_pack_uint64 (pk, pool->pending);
                wp_mp_pack_cstr (pk, "claimed");
                msgpack_pack_uint64 (pk, pool->claimed);
                wp_mp_pack_cstr (pk, "done");
                msgpack_pack_uint64 (pk, pool->done);
                wp_mp_pack_cstr (pk, "poisoned");
                msgpack_pack_uint64 (pk, pool->poisoned);
                wp_mp_pack_cstr (pk, "paused");
                if (pool->paused)
                    msgpack_pack_true (pk);
                else
                    msgpack_pack_false (pk);
                wp_mp_pack_cstr (pk, "scheduled");
                msgpack_pack_uint64 (pk, pool->scheduled);
                wp_mp_pack_cstr (pk, "backoff_base_seconds");
                msgpack_pack_double (pk, pool->backoff.base);
                wp_mp_pack_cstr (pk, "backoff_cap_seconds");
                msgpack_pack_double (pk, pool->backoff.cap);
                wp_mp_pack_cstr (pk, "backoff_jitter");
                msgpack_pack_double (pk, pool->backoff.jitter);
            }
            wp_mp_pack_cstr (pk, "workers");
            msgpack_pack_map (pk, stats->worker_status_count);
            for (size_t i = 0; i < stats->worker_status_count; i++) {
                if (!stats->workers [i].status)
                    return -1;
                wp_mp_pack_cstr (pk, stats->workers [i].status);
                msgpack_pack_uint64 (pk, stats->workers [i].count);
            }
            wp_mp_pack_cstr (pk, "counters");
            msgpack_pack_map (pk, stats->counter_count);
            for (size_t i = 0; i < stats->counter_count; i++) {
                if (!stats->counters [i].name)
                    return -1;
                wp_mp_pack_cstr (pk, stats->counters [i].name);
                msgpack_pack_uint64 (pk, stats->counters [i].value);
            }
            return 0;
        }
        case WP_METHOD_PING:
            msgpack_pack_map (pk, 4);
            wp_mp_pack_cstr (pk, "version");
            msgpack_pack_uint32 (pk, WP_PROTO_VERSION);
            wp_mp_pack_cstr (pk, "server");
            wp_mp_pack_cstr (pk, self->server ? self->server: "");
            wp_mp_pack_cstr (pk, "time");
            wp_pf_pack_time (pk, self->time);
            wp_mp_pack_cstr (pk, "max_message");
            msgpack_pack_uint64 (pk, self->max_message);
            return 0;
        default:
            return -1;
    }
}

int
wp_reply_encode (const wp_reply_t *self, wp_method method,
                 uint8_t **header_p, size_t *header_size,
                 uint8_t **body_p, size_t *body_size)
{
    if (!self || (int) self->status < 0 || self->status >= WP_STATUS_COUNT)
        return -1;
    wp_mp_writer_t body;
    wp_mp_writer_init (&body);
    if (self->status == WP_OK) {
        if (s_encode_body (self, method, &body.pk)) {
            wp_mp_writer_clear (&body);
            return -1;
        }
    }
    else
        msgpack_pack_map (&body.pk, 0);

    wp_mp_writer_t header;
    wp_mp_writer_init (&header);
    msgpack_pack_array (&header.pk, 5);
    wp_mp_pack_cstr (&header.pk, WP_PROTO_REPLY_SIG);
    msgpack_pack_uint32 (&header.pk, WP_PROTO_VERSION);
    msgpack_pack_uint64 (&header.pk, self->request_id);
    msgpack_pack_uint32 (&header.pk, (uint32_t) self->status);
    char *message = s_clean_message (self->status == WP_OK || !self->message ? "": self->message);
    wp_mp_pack_cstr (&header.pk, message);
    free (message);
    wp_mp_writer_take (&header, header_p, header_size);
    wp_mp_writer_take (&body, body_p, body_size);
    return 0;
}

//  Reads a uint-valued map (Stats' workers and counters) into parallel
//  arrays of names and counts.
static int
s_decode_count_map (wp_pf_t *e, const msgpack_object *o, const char *field,
                    char **names, uint64_t *values, size_t *count_p)
{
    const msgpack_object_map *map = &o->via.map;
    for (uint32_t i = 0; i < map->size; i++) {
        char element [64];
        snprintf (element, sizeof element, "%s key", field);
        if (wp_pf_name (e, &map->ptr [i].key, element, true, &names [i]))
            return -1;
        (*count_p)++;
        snprintf (element, sizeof element, "%s.%s", field, names [i]);
        if (wp_pf_uint (e, &map->ptr [i].val, element, true, 0, UINT64_MAX, &values [i]))
            return -1;
    }
    return 0;
}

static int
s_decode_stats (wp_reply_t *self, wp_pf_t *e, const msgpack_object **f)
{
    wp_stats_t *stats = self->stats = wp_stats_new ();
    const msgpack_object_array *pools = NULL;
    if (wp_pf_array (e, f [0], "pools", true, 0, UINT32_MAX, &pools))
        return -1;
    stats->pools = wp_pf_alloc (pools->size * sizeof *stats->pools);
    for (uint32_t i = 0; i < pools->size; i++) {
        static const char *const names [10] = {
            "pool", "pending", "claimed", "done", "poisoned", "paused", "scheduled",
            "backoff_base_seconds", "backoff_cap_seconds", "backoff_jitter" };
        const msgpack_object *pf [10];
        char where [48], field [64];
        snprintf (where, sizeof where, "field 'pools[%u]'", i);
        if (wp_pf_map (e, &pools->ptr [i], where, false, names, 10, pf))
            return -1;
        wp_pool_stats_t *pool = &stats->pools [stats->pool_count++];
        uint64_t *counts [4] = { &pool->pending, &pool->claimed, &pool->done, &pool->poisoned };
        snprintf (field, sizeof field, "pools[%u].pool", i);
        if (wp_pf_name (e, pf [0], field, true, &pool->pool))
            return -1;
        for (int k = 0; k < 4; k++) {
            snprintf (field, sizeof field, "pools[%u].%s", i, names [k + 1]);
            if (wp_pf_uint (e, pf [k + 1], field, true, 0, UINT64_MAX, counts [k]))
                return -1;
        }
        //  Optional: a broker older than Pause sends none (and pauses nothing)
        snprintf (field, sizeof field, "pools[%u].paused", i);
        if (wp_pf_bool (e, pf [5], field, false, &pool->paused))
            return -1;
        //  Optional too: a broker older than scheduling sends none (all 0)
        snprintf (field, sizeof field, "pools[%u].scheduled", i);
        if (wp_pf_uint (e, pf [6], field, false, 0, UINT64_MAX, &pool->scheduled))
            return -1;
        double *policy [3] = { &pool->backoff.base, &pool->backoff.cap, &pool->backoff.jitter };
        double policy_max [3] = { WP_DELAY_MAX, WP_DELAY_MAX, 1 };
        for (int k = 0; k < 3; k++) {
            snprintf (field, sizeof field, "pools[%u].%s", i, names [k + 7]);
            if (wp_pf_number (e, pf [k + 7], field, false, 0, false, policy_max [k], policy [k]))
                return -1;
        }
    }
    if (!f [1] || f [1]->type != MSGPACK_OBJECT_MAP)
        return wp_pf_fail (e, "field 'workers' must be a map of status to count");
    if (!f [2] || f [2]->type != MSGPACK_OBJECT_MAP)
        return wp_pf_fail (e, "field 'counters' must be a map of name to count");
    if (wp_pf_map (e, f [1], "field 'workers'", false, NULL, 0, NULL)
    ||  wp_pf_map (e, f [2], "field 'counters'", false, NULL, 0, NULL))
        return -1;
    uint32_t statuses = f [1]->via.map.size, counters = f [2]->via.map.size;
    stats->workers = wp_pf_alloc (statuses * sizeof *stats->workers);
    stats->counters = wp_pf_alloc (counters * sizeof *stats->counters);
    //  Parallel scratch arrays keep one reader for both maps
    char **names = wp_pf_alloc ((statuses > counters ? statuses: counters) * sizeof (char *));
    uint64_t *values = wp_pf_alloc ((statuses > counters ? statuses: counters) * sizeof (uint64_t));
    size_t count = 0;
    int rc = s_decode_count_map (e, f [1], "workers", names, values, &count);
    for (size_t i = 0; i < count; i++)
        stats->workers [stats->worker_status_count++] = (wp_status_count_t) { names [i], values [i] };
    count = 0;
    if (rc == 0) {
        rc = s_decode_count_map (e, f [2], "counters", names, values, &count);
        for (size_t i = 0; i < count; i++)
            stats->counters [stats->counter_count++] = (wp_counter_t) { names [i], values [i] };
    }
    free (names);
    free (values);
    return rc;
}

static int
s_decode_body (wp_reply_t *self, wp_method method, wp_pf_t *e, const msgpack_object *root)
{
    //  Every reply field any method has, so one map read serves them all
    enum { R_ID, R_DUPLICATE, R_IDS, R_DUPLICATES, R_ITEM, R_ITEMS, R_STATUS, R_SIZE,
           R_RELEASED, R_RENEWED, R_WORKER, R_WORKERS, R_POOLS, R_WORKER_COUNTS,
           R_COUNTERS, R_VERSION, R_SERVER, R_TIME, R_MAX_MESSAGE, R_STATUSES, R_MESSAGES,
           R_CURSOR, R_RETRIED, R_PURGED, R_SCHEDULE, R_SCHEDULES, R_END, R_COUNT };
    static const char *const names [R_COUNT] = {
        "id", "duplicate", "ids", "duplicates", "item", "items", "status", "size",
        "released", "renewed", "worker", "workers", "pools", "workers", "counters",
        "version", "server", "time", "max_message", "statuses", "messages",
        "cursor", "retried", "purged", "schedule", "schedules", "end"
    };
    const msgpack_object *f [R_COUNT];
    if (wp_pf_map (e, root, "body", true, names, R_COUNT, f))
        return -1;
    //  "workers" is Registry.List's array and Stats' map: one key, two uses
    f [R_WORKER_COUNTS] = f [R_WORKERS];
    if (self->status != WP_OK)
        return 0;

    switch (method) {
        case WP_METHOD_PUSH:
            self->ids = wp_pf_alloc (sizeof (char *));
            self->duplicates = wp_pf_alloc (sizeof (bool));
            self->id_count = 1;
            return wp_pf_name (e, f [R_ID], "id", true, &self->ids [0])
                || wp_pf_bool (e, f [R_DUPLICATE], "duplicate", true, &self->duplicates [0]) ? -1: 0;
        case WP_METHOD_PUSH_MANY: {
            const msgpack_object_array *ids = NULL, *duplicates = NULL;
            if (wp_pf_array (e, f [R_IDS], "ids", true, 1, WP_BATCH_MAX, &ids)
            ||  wp_pf_array (e, f [R_DUPLICATES], "duplicates", true, 1, WP_BATCH_MAX, &duplicates))
                return -1;
            if (ids->size != duplicates->size)
                return wp_pf_fail (e, "fields 'ids' and 'duplicates' must have the same length");
            self->ids = wp_pf_alloc (ids->size * sizeof (char *));
            self->duplicates = wp_pf_alloc (ids->size * sizeof (bool));
            self->id_count = ids->size;
            for (uint32_t i = 0; i < ids->size; i++) {
                char field [32];
                snprintf (field, sizeof field, "ids[%u]", i);
                if (wp_pf_name (e, &ids->ptr [i], field, true, &self->ids [i]))
                    return -1;
                snprintf (field, sizeof field, "duplicates[%u]", i);
                if (wp_pf_bool (e, &duplicates->ptr [i], field, true, &self->duplicates [i]))
                    return -1;
            }
            return 0;
        }
        case WP_METHOD_COMPLETE_MANY: {
            const msgpack_object_array *statuses = NULL, *messages = NULL;
            if (wp_pf_array (e, f [R_STATUSES], "statuses", true, 1, WP_BATCH_MAX, &statuses)
            ||  wp_pf_array (e, f [R_MESSAGES], "messages", true, 1, WP_BATCH_MAX, &messages))
                return -1;
            if (statuses->size != messages->size)
                return wp_pf_fail (e, "fields 'statuses' and 'messages' must have the same length");
            self->entry_statuses = wp_pf_alloc (statuses->size * sizeof (wp_status));
            self->entry_messages = wp_pf_alloc (statuses->size * sizeof (char *));
            memset (self->entry_messages, 0, statuses->size * sizeof (char *));
            self->entry_count = statuses->size;
            for (uint32_t i = 0; i < statuses->size; i++) {
                char field [32];
                uint64_t code;
                snprintf (field, sizeof field, "statuses[%u]", i);
                if (wp_pf_uint (e, &statuses->ptr [i], field, true, 0, WP_UNAUTHENTICATED, &code))
                    return -1;
                self->entry_statuses [i] = (wp_status) code;
                snprintf (field, sizeof field, "messages[%u]", i);
                if (wp_pf_text (e, &messages->ptr [i], field, true, WP_MESSAGE_TEXT_MAX,
                                &self->entry_messages [i]))
                    return -1;
            }
            return 0;
        }
        case WP_METHOD_GET:
            if (!f [R_ITEM])
                return wp_pf_fail (e, "field 'item' is required");
            //  fall through
        case WP_METHOD_CLAIM:
        case WP_METHOD_COMPLETE_AND_CLAIM:
            if (!f [R_ITEM])
                return 0;       //  no item
            return s_decode_item (e, f [R_ITEM], "item", &self->item);
        case WP_METHOD_CLAIM_MANY:
        case WP_METHOD_LIST_ITEMS:
        case WP_METHOD_SUBSCRIBE: {
            bool list = method == WP_METHOD_LIST_ITEMS;
            bool stream = method == WP_METHOD_SUBSCRIBE;
            const msgpack_object_array *items = NULL;
            if (wp_pf_array (e, f [R_ITEMS], "items", true, 0,
                             list ? WP_LIST_MAX: stream ? WP_CREDIT_MAX: WP_BATCH_MAX, &items)
            ||  (list && wp_pf_cursor (e, f [R_CURSOR], "cursor", false, &self->cursor))
            ||  (stream && wp_pf_bool (e, f [R_END], "end", false, &self->end)))
                return -1;
            self->items = wp_item_list_new ();
            for (uint32_t i = 0; i < items->size; i++) {
                char what [32];
                snprintf (what, sizeof what, "items[%u]", i);
                wp_item_t *item = NULL;
                int rc = s_decode_item (e, &items->ptr [i], what, &item);
                wp_item_list_append (self->items, &item);
                if (rc)
                    return -1;
            }
            return 0;
        }
        case WP_METHOD_COMPLETE:
        case WP_METHOD_HEARTBEAT:
        case WP_METHOD_UPDATE_STATUS:
        case WP_METHOD_CANCEL:
        case WP_METHOD_PAUSE:
        case WP_METHOD_RESUME:
        case WP_METHOD_SET_BACKOFF:
        case WP_METHOD_SCHEDULE_REMOVE:
        case WP_METHOD_UNSUBSCRIBE:
            return 0;
        case WP_METHOD_SCHEDULE_ADD:
            if (!f [R_SCHEDULE])
                return wp_pf_fail (e, "field 'schedule' is required");
            return s_decode_schedule (e, f [R_SCHEDULE], "schedule", &self->schedule);
        case WP_METHOD_SCHEDULE_LIST: {
            const msgpack_object_array *schedules = NULL;
            if (wp_pf_array (e, f [R_SCHEDULES], "schedules", true, 0, UINT32_MAX, &schedules))
                return -1;
            self->schedules = wp_schedule_list_new ();
            for (uint32_t i = 0; i < schedules->size; i++) {
                char what [32];
                snprintf (what, sizeof what, "schedules[%u]", i);
                wp_schedule_t *schedule = NULL;
                int rc = s_decode_schedule (e, &schedules->ptr [i], what, &schedule);
                wp_schedule_list_append (self->schedules, &schedule);
                if (rc)
                    return -1;
            }
            return 0;
        }
        case WP_METHOD_FAIL: {
            char *status = NULL;
            if (wp_pf_name (e, f [R_STATUS], "status", true, &status))
                return -1;
            int state = wp_item_state_from_name (status);
            free (status);
            if (state != WP_ITEM_PENDING && state != WP_ITEM_SCHEDULED && state != WP_ITEM_POISONED)
                return wp_pf_fail (e, "field 'status' must be pending, scheduled or poisoned");
            self->item_state = (wp_item_state) state;
            return 0;
        }
        case WP_METHOD_SIZE:
            return wp_pf_uint (e, f [R_SIZE], "size", true, 0, UINT64_MAX, &self->count);
        case WP_METHOD_RELEASE_BY_WORKER:
            return wp_pf_uint (e, f [R_RELEASED], "released", true, 0, UINT64_MAX, &self->count);
        case WP_METHOD_RENEW:
            return wp_pf_uint (e, f [R_RENEWED], "renewed", true, 0, UINT64_MAX, &self->count);
        case WP_METHOD_RETRY:
            return wp_pf_uint (e, f [R_RETRIED], "retried", true, 0, UINT64_MAX, &self->count);
        case WP_METHOD_PURGE:
            return wp_pf_uint (e, f [R_PURGED], "purged", true, 0, UINT64_MAX, &self->count);
        case WP_METHOD_REGISTER:
            if (!f [R_WORKER])
                return wp_pf_fail (e, "field 'worker' is required");
            //  fall through
        case WP_METHOD_GET_WORKER:
            if (!f [R_WORKER])
                return 0;       //  no worker
            return s_decode_worker (e, f [R_WORKER], "worker", &self->worker);
        case WP_METHOD_LIST_WORKERS: {
            const msgpack_object_array *workers = NULL;
            if (wp_pf_array (e, f [R_WORKERS], "workers", true, 0, UINT32_MAX, &workers))
                return -1;
            self->workers = wp_worker_list_new ();
            for (uint32_t i = 0; i < workers->size; i++) {
                char what [32];
                snprintf (what, sizeof what, "workers[%u]", i);
                wp_worker_t *worker = NULL;
                int rc = s_decode_worker (e, &workers->ptr [i], what, &worker);
                wp_worker_list_append (self->workers, &worker);
                if (rc)
                    return -1;
            }
            return 0;
        }
        case WP_METHOD_STATS: {
            const msgpack_object *sf [3] = { f [R_POOLS], f [R_WORKER_COUNTS], f [R_COUNTERS] };
            return s_decode_stats (self, e, sf);
        }
        case WP_METHOD_PING: {
            uint64_t version;
            return wp_pf_uint (e, f [R_VERSION], "version", true, 0, UINT64_MAX, &version)
                || wp_pf_text (e, f [R_SERVER], "server", true, WP_SERVER_MAX, &self->server)
                || wp_pf_time (e, f [R_TIME], "time", true, &self->time)
                || wp_pf_uint (e, f [R_MAX_MESSAGE], "max_message", true, 0, UINT64_MAX,
                               &self->max_message) ? -1: 0;
        }
        default:
            return wp_pf_fail (e, "unknown method");
    }
}

wp_status
wp_reply_decode_body (wp_reply_t *self, wp_method method,
                      const uint8_t *data, size_t size,
                      char *errbuf, size_t errlen)
{
    wp_pf_t e = { errbuf, errlen };
    char why [160];
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    int rc;
    if (wp_mp_unpack (&unpacked, data, size, why, sizeof why))
        rc = wp_pf_fail (&e, "reply body: %s", why);
    else
        rc = s_decode_body (self, method, &e, &unpacked.data);
    msgpack_unpacked_destroy (&unpacked);
    return rc ? WP_INVALID_ARGUMENT: WP_OK;
}
