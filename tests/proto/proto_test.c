/*  proto_test: fixtures, comparisons, round trips and the vector-file reader
    shared by the proto tests and tools (see proto_test.h).  */
#include "proto_test.h"
#include <dirent.h>
#include <stdarg.h>
#include <string.h>

int pt_failures = 0;

static char *
s_dup (const char *text)
{
    char *copy = strdup (text);
    if (!copy)
        abort ();
    return copy;
}

static uint8_t *
s_bytes (const char *data, size_t size)
{
    uint8_t *copy = malloc (size ? size: 1);
    if (!copy)
        abort ();
    memcpy (copy, data, size);
    return copy;
}

//  ---------------------------------------------------------------------
//  Fixtures

//  msgpack encodings used as user values: {"n": 1}, "ok", [1, 2, 3]
#define S_DATA_MAP    "\x81\xa1n\x01"
#define S_DATA_STR    "\xa2ok"
#define S_DATA_ARRAY  "\x93\x01\x02\x03"

static void
s_push_entry (wp_push_entry_t *entry, const char *data, size_t size, const char *id,
              int64_t max_retries)
{
    entry->data = s_bytes (data, size);
    entry->data_size = size;
    entry->id = id ? s_dup (id): NULL;
    entry->max_retries = max_retries;
}

void
pt_request (wp_method method, bool full, wp_request_t *req)
{
    wp_request_init (req);
    req->method = method;
    req->request_id = 1000 + (uint64_t) method;
    if (full) {
        req->timeout_ms = 5000;
        req->meta_keys = malloc (sizeof (char *));
        req->meta_values = malloc (sizeof (char *));
        req->meta_keys [0] = s_dup ("trace-id");
        req->meta_values [0] = s_dup ("4bf92f3577b34da6");
        req->meta_count = 1;
    }
    switch (method) {
        case WP_METHOD_PUSH:
            req->pool = s_dup ("jobs");
            req->entries = calloc (1, sizeof *req->entries);
            req->entry_count = 1;
            s_push_entry (&req->entries [0], S_DATA_MAP, 4, full ? "job-1": NULL, full ? 5: -1);
            if (full) {
                //  (delay_seconds and run_at together decode; the store refuses them)
                req->entries [0].delay = 90;
                req->entries [0].run_at = PT_TIME + 3600000000;
                req->entries [0].priority = -10;
                req->entries [0].unique_key = s_dup ("invoice-42");
            }
            break;
        case WP_METHOD_PUSH_MANY:
            req->pool = s_dup ("jobs");
            req->entry_count = full ? 3: 1;
            req->entries = calloc (req->entry_count, sizeof *req->entries);
            s_push_entry (&req->entries [0], S_DATA_MAP, 4, full ? "a": NULL, full ? 2: -1);
            if (full) {
                s_push_entry (&req->entries [1], S_DATA_STR, 3, NULL, -1);
                req->entries [1].delay = 2.5;
                req->entries [1].priority = 100;
                s_push_entry (&req->entries [2], S_DATA_ARRAY, 4, "c", 0);
                req->entries [2].run_at = PT_TIME + 60000000;
                req->entries [2].priority = INT32_MIN;
                req->entries [2].unique_key = s_dup ("report-c");
            }
            break;
        case WP_METHOD_CLAIM_MANY:
            req->max = 10;
            //  fall through
        case WP_METHOD_CLAIM:
            req->pool = s_dup ("jobs");
            req->worker_id = s_dup ("w-1");
            if (full) {
                req->wait = 2.5;
                req->lease = 60;
            }
            break;
        case WP_METHOD_COMPLETE:
            req->pool = s_dup ("jobs");
            req->id = s_dup ("job-1");
            if (full) {
                req->result = s_bytes (S_DATA_STR, 3);
                req->result_size = 3;
                req->worker_id = s_dup ("w-1");
            }
            break;
        case WP_METHOD_FAIL:
            req->pool = s_dup ("jobs");
            req->id = s_dup ("job-1");
            if (full) {
                req->error = s_dup ("ZeroDivisionError: division by zero");
                req->worker_id = s_dup ("w-1");
                req->retry_after = 30;
            }
            break;
        case WP_METHOD_COMPLETE_AND_CLAIM:
            req->pool = s_dup ("jobs");
            req->id = s_dup ("job-1");
            req->worker_id = s_dup ("w-1");
            if (full) {
                req->result = s_bytes (S_DATA_STR, 3);
                req->result_size = 3;
                req->wait = 1;
                req->lease = 30;
            }
            break;
        case WP_METHOD_COMPLETE_MANY: {
            static const char *ids [3] = { "job-1", "job-2", "job-3" };
            req->pool = s_dup ("jobs");
            req->completion_count = full ? 3: 1;
            req->completions = calloc (req->completion_count, sizeof *req->completions);
            for (size_t i = 0; i < req->completion_count; i++)
                req->completions [i].id = s_dup (ids [i]);
            if (full) {
                req->worker_id = s_dup ("w-1");
                req->completions [0].result = s_bytes (S_DATA_STR, 3);
                req->completions [0].result_size = 3;
                req->completions [2].result = s_bytes (S_DATA_ARRAY, 4);
                req->completions [2].result_size = 4;
            }
            break;
        }
        case WP_METHOD_SIZE:
            req->pool = s_dup ("jobs");
            break;
        case WP_METHOD_RELEASE_BY_WORKER:
            req->pool = s_dup ("jobs");
            req->worker_id = s_dup ("w-1");
            break;
        case WP_METHOD_GET:
            req->pool = s_dup ("jobs");
            req->id = s_dup ("job-1");
            break;
        case WP_METHOD_RENEW:
            req->worker_id = s_dup ("w-1");
            if (full)
                req->lease = 120;
            break;
        case WP_METHOD_REGISTER: {
            wp_worker_t *w = req->worker = wp_worker_new ();
            w->worker_id = s_dup ("w-1");
            req->worker_id = s_dup ("w-1");
            if (full) {
                w->host = s_dup ("node-7");
                w->pid = 4242;
                wp_worker_add_capability (w, "gpu");
                wp_worker_add_capability (w, "ocr");
                w->pool_id = s_dup ("jobs");
                w->started_at = PT_TIME;
                w->heartbeat_interval = 5;
                wp_meta_set (&w->metadata, "version", (const uint8_t *) "\xa3" "1.2", 4);
                wp_meta_set (&w->metadata, "slots", (const uint8_t *) "\x04", 1);
            }
            break;
        }
        case WP_METHOD_HEARTBEAT:
            req->worker_id = s_dup ("w-1");
            if (full)
                //  0.5 as float 64
                wp_meta_set (&req->metadata, "load",
                             (const uint8_t *) "\xcb\x3f\xe0\x00\x00\x00\x00\x00\x00", 9);
            break;
        case WP_METHOD_UPDATE_STATUS:
            req->worker_id = s_dup ("w-1");
            req->status = s_dup ("terminating");
            break;
        case WP_METHOD_GET_WORKER:
            req->worker_id = s_dup ("w-1");
            break;
        case WP_METHOD_LIST_WORKERS:
            if (full) {
                req->statuses = malloc (2 * sizeof (char *));
                req->statuses [0] = s_dup ("active");
                req->statuses [1] = s_dup ("lost");
                req->status_count = 2;
                req->capability = s_dup ("gpu");
                req->pool_id = s_dup ("jobs");
                req->stale_threshold = 30;
            }
            break;
        case WP_METHOD_LIST_ITEMS:
            req->pool = s_dup ("jobs");
            if (full) {
                req->statuses = malloc (2 * sizeof (char *));
                req->statuses [0] = s_dup ("poisoned");
                req->statuses [1] = s_dup ("done");
                req->status_count = 2;
                req->limit = 50;
                req->cursor = s_dup ("1234");
            }
            break;
        case WP_METHOD_RETRY:
            req->pool = s_dup ("jobs");
            //  The two forms: by id (full) and every poisoned item (minimal)
            if (full)
                req->id = s_dup ("job-1");
            else
                req->all = true;
            break;
        case WP_METHOD_PURGE:
            req->pool = s_dup ("jobs");
            req->status_count = full ? 2: 1;
            req->statuses = malloc (req->status_count * sizeof (char *));
            req->statuses [0] = s_dup ("done");
            if (full)
                req->statuses [1] = s_dup ("poisoned");
            break;
        case WP_METHOD_CANCEL:
            req->pool = s_dup ("jobs");
            req->id = s_dup ("job-1");
            break;
        case WP_METHOD_PAUSE:
        case WP_METHOD_RESUME:
            req->pool = s_dup ("jobs");
            break;
        case WP_METHOD_SET_BACKOFF:
            req->pool = s_dup ("jobs");
            req->backoff = full ? (wp_backoff_t) { 2, 600, 0.25 }: (wp_backoff_t) { 0, 0, 0 };
            break;
        case WP_METHOD_SCHEDULE_ADD: {
            wp_schedule_t *schedule = req->schedule = wp_schedule_new ();
            schedule->name = s_dup ("nightly-report");
            schedule->pool = s_dup ("reports");
            schedule->cron = s_dup (full ? "0 30 2 * * 1-5": "*/5 * * * *");
            schedule->data = s_bytes (S_DATA_MAP, 4);
            schedule->data_size = 4;
            if (full) {
                schedule->priority = -1;
                schedule->max_retries = 5;
            }
            break;
        }
        case WP_METHOD_SCHEDULE_REMOVE:
            req->name = s_dup ("nightly-report");
            break;
        case WP_METHOD_SUBSCRIBE:
            req->pool = s_dup ("jobs");
            req->worker_id = s_dup ("w-1");
            req->credit = full ? 64: 1;
            if (full)
                req->lease = 60;
            break;
        case WP_METHOD_UNSUBSCRIBE:
            req->pool = s_dup ("jobs");
            req->worker_id = s_dup ("w-1");
            break;
        default:
            break;
    }
}

static wp_item_t *
s_item (const char *id, wp_item_state state, bool full)
{
    wp_item_t *item = wp_item_new ();
    item->id = s_dup (id);
    item->pool = s_dup ("jobs");
    item->data = s_bytes (S_DATA_MAP, 4);
    item->data_size = 4;
    item->status = state;
    item->max_retries = 3;
    item->created_at = PT_TIME;
    if (full) {
        if (state == WP_ITEM_CLAIMED) {
            item->claimed_by = s_dup ("w-1");
            item->claimed_at = PT_TIME + 1000000;
            item->lease_expires_at = PT_TIME + 301000000;
        }
        if (state == WP_ITEM_DONE) {
            item->result = s_bytes (S_DATA_STR, 3);
            item->result_size = 3;
        }
        item->attempts = 1;
        item->error = s_dup ("lease expired");
        item->priority = -10;
        item->run_at = PT_TIME + 30000000;
        if (state != WP_ITEM_DONE)
            item->unique_key = s_dup ("invoice-42");
    }
    return item;
}

static wp_schedule_t *
s_schedule (const char *name, bool full)
{
    wp_schedule_t *schedule = wp_schedule_new ();
    schedule->name = s_dup (name);
    schedule->pool = s_dup ("reports");
    schedule->cron = s_dup (full ? "0 30 2 * * 1-5": "*/5 * * * *");
    schedule->data = s_bytes (S_DATA_MAP, 4);
    schedule->data_size = 4;
    schedule->created_at = PT_TIME;
    schedule->next_at = PT_TIME + 3600000000 - 123456;
    if (full) {
        schedule->priority = -1;
        schedule->max_retries = 5;
        schedule->last_fired_at = PT_TIME + 3600000000 - 86400000000 - 123456;
    }
    return schedule;
}

static wp_worker_t *
s_worker (const char *id, bool full)
{
    wp_worker_t *w = wp_worker_new ();
    w->worker_id = s_dup (id);
    w->status = s_dup ("active");
    w->started_at = PT_TIME;
    w->last_heartbeat = PT_TIME + 5000000;
    w->heartbeat_interval = 10;
    if (full) {
        w->host = s_dup ("node-7");
        w->pid = 4242;
        wp_worker_add_capability (w, "gpu");
        wp_worker_add_capability (w, "ocr");
        w->pool_id = s_dup ("jobs");
        w->current_task_id = s_dup ("job-1");
        w->heartbeat_interval = 5;
        wp_meta_set (&w->metadata, "version", (const uint8_t *) "\xa3" "1.2", 4);
        wp_meta_set (&w->metadata, "slots", (const uint8_t *) "\x04", 1);
    }
    return w;
}

void
pt_reply (wp_method method, bool full, wp_reply_t *reply)
{
    wp_reply_init (reply);
    reply->request_id = 1000 + (uint64_t) method;
    reply->status = WP_OK;
    switch (method) {
        case WP_METHOD_PUSH:
            reply->ids = malloc (sizeof (char *));
            reply->duplicates = malloc (sizeof (bool));
            reply->ids [0] = s_dup ("job-1");
            reply->duplicates [0] = full;
            reply->id_count = 1;
            break;
        case WP_METHOD_PUSH_MANY: {
            static const char *ids [3] = { "a", "0b6f3c1e-9a4d-4c7e-8f21-5d3a7b9c2e10", "c" };
            reply->id_count = full ? 3: 1;
            reply->ids = malloc (reply->id_count * sizeof (char *));
            reply->duplicates = malloc (reply->id_count * sizeof (bool));
            for (size_t i = 0; i < reply->id_count; i++) {
                reply->ids [i] = s_dup (ids [i]);
                reply->duplicates [i] = i == 2;
            }
            break;
        }
        case WP_METHOD_COMPLETE_MANY: {
            static const wp_status statuses [3] = { WP_OK, WP_NOT_FOUND, WP_FAILED_PRECONDITION };
            static const char *messages [3] = {
                "", "item 'job-2' not found in pool 'jobs'", "item 'job-3' is not claimed" };
            reply->entry_count = full ? 3: 1;
            reply->entry_statuses = malloc (reply->entry_count * sizeof (wp_status));
            reply->entry_messages = malloc (reply->entry_count * sizeof (char *));
            for (size_t i = 0; i < reply->entry_count; i++) {
                reply->entry_statuses [i] = statuses [i];
                reply->entry_messages [i] = s_dup (messages [i]);
            }
            break;
        }
        case WP_METHOD_CLAIM:
        case WP_METHOD_COMPLETE_AND_CLAIM:
            if (full)
                reply->item = s_item ("job-2", WP_ITEM_CLAIMED, true);
            break;
        case WP_METHOD_GET:
            reply->item = full ? s_item ("job-1", WP_ITEM_DONE, true)
                               : s_item ("job-1", WP_ITEM_PENDING, false);
            break;
        case WP_METHOD_SUBSCRIBE:
            //  Full: a message of the stream; minimal: the stream's end
            reply->end = !full;
            //  fall through
        case WP_METHOD_CLAIM_MANY:
            reply->items = wp_item_list_new ();
            if (full) {
                wp_item_t *item = s_item ("job-2", WP_ITEM_CLAIMED, true);
                wp_item_list_append (reply->items, &item);
                item = s_item ("job-3", WP_ITEM_CLAIMED, true);
                wp_item_list_append (reply->items, &item);
            }
            break;
        case WP_METHOD_FAIL:
            reply->item_state = full ? WP_ITEM_SCHEDULED: WP_ITEM_PENDING;
            break;
        case WP_METHOD_SIZE:
            reply->count = full ? 42: 0;
            break;
        case WP_METHOD_RELEASE_BY_WORKER:
            reply->count = full ? 3: 0;
            break;
        case WP_METHOD_RENEW:
            reply->count = full ? 70000: 0;
            break;
        case WP_METHOD_RETRY:
            reply->count = full ? 1: 0;
            break;
        case WP_METHOD_PURGE:
            reply->count = full ? 250: 0;
            break;
        case WP_METHOD_LIST_ITEMS:
            reply->items = wp_item_list_new ();
            if (full) {
                wp_item_t *item = s_item ("job-1", WP_ITEM_POISONED, true);
                wp_item_list_append (reply->items, &item);
                item = s_item ("job-2", WP_ITEM_DONE, true);
                wp_item_list_append (reply->items, &item);
                item = s_item ("job-3", WP_ITEM_SCHEDULED, true);
                wp_item_list_append (reply->items, &item);
                reply->cursor = s_dup ("1236");
            }
            break;
        case WP_METHOD_REGISTER:
            reply->worker = s_worker ("w-1", full);
            break;
        case WP_METHOD_GET_WORKER:
            if (full)
                reply->worker = s_worker ("w-1", true);
            break;
        case WP_METHOD_LIST_WORKERS:
            reply->workers = wp_worker_list_new ();
            if (full) {
                wp_worker_t *w = s_worker ("w-1", true);
                wp_worker_list_append (reply->workers, &w);
                w = s_worker ("w-2", false);
                wp_worker_list_append (reply->workers, &w);
            }
            break;
        case WP_METHOD_STATS: {
            wp_stats_t *stats = reply->stats = wp_stats_new ();
            if (!full)
                break;
            stats->pools = calloc (2, sizeof *stats->pools);
            stats->pools [0] = (wp_pool_stats_t) { s_dup ("images"), 0, 1, 250, 0, 0, true,
                                                   { 0, 0, 0 } };
            stats->pools [1] = (wp_pool_stats_t) { s_dup ("jobs"), 42, 3, 100000, 2, 7, false,
                                                   { 2, 600, 0.25 } };
            stats->pool_count = 2;
            stats->workers = calloc (2, sizeof *stats->workers);
            stats->workers [0] = (wp_status_count_t) { s_dup ("active"), 3 };
            stats->workers [1] = (wp_status_count_t) { s_dup ("lost"), 1 };
            stats->worker_status_count = 2;
            stats->counters = calloc (2, sizeof *stats->counters);
            stats->counters [0] = (wp_counter_t) { s_dup ("commits"), 1234 };
            stats->counters [1] = (wp_counter_t) { s_dup ("requests.WorkPool.Push.OK"), 5000000000 };
            stats->counter_count = 2;
            break;
        }
        case WP_METHOD_SCHEDULE_ADD:
            reply->schedule = s_schedule ("nightly-report", full);
            break;
        case WP_METHOD_SCHEDULE_LIST:
            reply->schedules = wp_schedule_list_new ();
            if (full) {
                wp_schedule_t *schedule = s_schedule ("cleanup", false);
                wp_schedule_list_append (reply->schedules, &schedule);
                schedule = s_schedule ("nightly-report", true);
                wp_schedule_list_append (reply->schedules, &schedule);
            }
            break;
        case WP_METHOD_PING:
            reply->server = s_dup ("workpoold 0.1.0");
            reply->time = PT_TIME;
            reply->max_message = 1048576;
            break;
        default:
            break;
    }
}

//  ---------------------------------------------------------------------
//  Comparisons

static bool s_differ (char *why, size_t len, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

static bool
s_differ (char *why, size_t len, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (why, len, format, args);
    va_end (args);
    return false;
}

static bool
s_str_eq (const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp (a, b) == 0);
}

static bool
s_bin_eq (const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    return (!a && !b) || (a && b && an == bn && memcmp (a, b, an) == 0);
}

static bool
s_meta_eq (const wp_meta_t *a, const wp_meta_t *b)
{
    if (a->count != b->count)
        return false;
    for (size_t i = 0; i < a->count; i++)
        if (!s_str_eq (a->entries [i].key, b->entries [i].key)
        ||  !s_bin_eq (a->entries [i].value, a->entries [i].value_size,
                       b->entries [i].value, b->entries [i].value_size))
            return false;
    return true;
}

static bool
s_item_eq (const wp_item_t *a, const wp_item_t *b)
{
    if (!a || !b)
        return a == b;
    return s_str_eq (a->id, b->id) && s_str_eq (a->pool, b->pool)
        && s_bin_eq (a->data, a->data_size, b->data, b->data_size)
        && a->status == b->status && s_str_eq (a->claimed_by, b->claimed_by)
        && a->claimed_at == b->claimed_at && a->lease_expires_at == b->lease_expires_at
        && a->attempts == b->attempts && a->max_retries == b->max_retries
        && s_bin_eq (a->result, a->result_size, b->result, b->result_size)
        && s_str_eq (a->error, b->error) && a->created_at == b->created_at
        && a->priority == b->priority && a->run_at == b->run_at
        && s_str_eq (a->unique_key, b->unique_key);
}

static bool
s_schedule_eq (const wp_schedule_t *a, const wp_schedule_t *b)
{
    if (!a || !b)
        return a == b;
    return s_str_eq (a->name, b->name) && s_str_eq (a->pool, b->pool)
        && s_str_eq (a->cron, b->cron)
        && s_bin_eq (a->data, a->data_size, b->data, b->data_size)
        && a->priority == b->priority && a->max_retries == b->max_retries
        && a->next_at == b->next_at && a->last_fired_at == b->last_fired_at
        && a->created_at == b->created_at;
}

//  Register's worker (request) compares only what a request carries.
static bool
s_worker_eq (const wp_worker_t *a, const wp_worker_t *b)
{
    if (!a || !b)
        return a == b;
    if (a->capability_count != b->capability_count)
        return false;
    for (size_t i = 0; i < a->capability_count; i++)
        if (!s_str_eq (a->capabilities [i], b->capabilities [i]))
            return false;
    return s_str_eq (a->worker_id, b->worker_id) && s_str_eq (a->host, b->host)
        && a->pid == b->pid && s_str_eq (a->pool_id, b->pool_id)
        && a->started_at == b->started_at && s_str_eq (a->status, b->status)
        && a->last_heartbeat == b->last_heartbeat
        && s_str_eq (a->current_task_id, b->current_task_id)
        && a->heartbeat_interval == b->heartbeat_interval
        && s_meta_eq (&a->metadata, &b->metadata);
}

int
pt_encode (wp_method method, bool full, bool request,
           uint8_t **header, size_t *header_size, uint8_t **body, size_t *body_size)
{
    int rc;
    if (request) {
        wp_request_t req;
        pt_request (method, full, &req);
        rc = wp_request_encode (&req, header, header_size, body, body_size);
        wp_request_clear (&req);
    }
    else {
        wp_reply_t reply;
        pt_reply (method, full, &reply);
        rc = wp_reply_encode (&reply, method, header, header_size, body, body_size);
        wp_reply_clear (&reply);
    }
    return rc;
}

wp_status
pt_decode_prefix (wp_method m, bool request, bool header, const uint8_t *frame, size_t len,
                  bool *replyable)
{
    char err [256];
    uint8_t *copy = malloc (len + 1);
    memcpy (copy, frame, len);
    wp_status rc;
    if (request) {
        wp_request_t back;
        wp_request_init (&back);
        if (!header)
            back.method = m;        //  a body is decoded for the header's method
        rc = header ? wp_request_decode_header (&back, copy, len, replyable, err, sizeof err)
                    : wp_request_decode_body (&back, copy, len, err, sizeof err);
        wp_request_clear (&back);
    }
    else {
        wp_reply_t back;
        wp_reply_init (&back);
        rc = header ? wp_reply_decode_header (&back, copy, len, err, sizeof err)
                    : wp_reply_decode_body (&back, m, copy, len, err, sizeof err);
        wp_reply_clear (&back);
    }
    free (copy);
    return rc;
}

bool
pt_request_equal (const wp_request_t *a, const wp_request_t *b, char *why, size_t len)
{
    if (a->request_id != b->request_id || a->method != b->method || a->timeout_ms != b->timeout_ms)
        return s_differ (why, len, "header ids, methods or timeouts differ");
    if (a->meta_count != b->meta_count)
        return s_differ (why, len, "header metadata counts differ");
    for (size_t i = 0; i < a->meta_count; i++)
        if (!s_str_eq (a->meta_keys [i], b->meta_keys [i])
        ||  !s_str_eq (a->meta_values [i], b->meta_values [i]))
            return s_differ (why, len, "header metadata %zu differs", i);
    if (!s_str_eq (a->pool, b->pool) || !s_str_eq (a->id, b->id)
    ||  !s_str_eq (a->worker_id, b->worker_id))
        return s_differ (why, len, "pool, id or worker_id differ");
    if (a->entry_count != b->entry_count)
        return s_differ (why, len, "entry counts differ");
    for (size_t i = 0; i < a->entry_count; i++)
        if (!s_bin_eq (a->entries [i].data, a->entries [i].data_size,
                       b->entries [i].data, b->entries [i].data_size)
        ||  !s_str_eq (a->entries [i].id, b->entries [i].id)
        ||  a->entries [i].max_retries != b->entries [i].max_retries
        ||  a->entries [i].delay != b->entries [i].delay
        ||  a->entries [i].run_at != b->entries [i].run_at
        ||  a->entries [i].priority != b->entries [i].priority
        ||  !s_str_eq (a->entries [i].unique_key, b->entries [i].unique_key))
            return s_differ (why, len, "entry %zu differs", i);
    if (a->completion_count != b->completion_count)
        return s_differ (why, len, "completion counts differ");
    for (size_t i = 0; i < a->completion_count; i++)
        if (!s_str_eq (a->completions [i].id, b->completions [i].id)
        ||  !s_bin_eq (a->completions [i].result, a->completions [i].result_size,
                       b->completions [i].result, b->completions [i].result_size))
            return s_differ (why, len, "completion %zu differs", i);
    if (!s_bin_eq (a->result, a->result_size, b->result, b->result_size)
    ||  !s_str_eq (a->error, b->error))
        return s_differ (why, len, "result or error differ");
    if (a->wait != b->wait || a->lease != b->lease || a->max != b->max
    ||  a->credit != b->credit)
        return s_differ (why, len, "wait, lease, max or credit differ");
    if (!s_worker_eq (a->worker, b->worker))
        return s_differ (why, len, "worker differs");
    if (!s_meta_eq (&a->metadata, &b->metadata))
        return s_differ (why, len, "metadata differs");
    if (!s_str_eq (a->status, b->status) || a->status_count != b->status_count)
        return s_differ (why, len, "status or statuses differ");
    for (size_t i = 0; i < a->status_count; i++)
        if (!s_str_eq (a->statuses [i], b->statuses [i]))
            return s_differ (why, len, "statuses [%zu] differ", i);
    if (!s_str_eq (a->capability, b->capability) || !s_str_eq (a->pool_id, b->pool_id)
    ||  a->stale_threshold != b->stale_threshold)
        return s_differ (why, len, "list filter differs");
    if (a->limit != b->limit || !s_str_eq (a->cursor, b->cursor) || a->all != b->all)
        return s_differ (why, len, "limit, cursor or all differ");
    if (a->retry_after != b->retry_after)
        return s_differ (why, len, "retry_after differs");
    if (a->backoff.base != b->backoff.base || a->backoff.cap != b->backoff.cap
    ||  a->backoff.jitter != b->backoff.jitter)
        return s_differ (why, len, "backoff differs");
    if (!s_schedule_eq (a->schedule, b->schedule) || !s_str_eq (a->name, b->name))
        return s_differ (why, len, "schedule or name differ");
    return true;
}

bool
pt_reply_equal (wp_method method, const wp_reply_t *a, const wp_reply_t *b, char *why, size_t len)
{
    const char *am = a->message ? a->message: "", *bm = b->message ? b->message: "";
    if (a->request_id != b->request_id || a->status != b->status || strcmp (am, bm) != 0)
        return s_differ (why, len, "headers differ");
    if (a->status != WP_OK)
        return true;
    if (a->id_count != b->id_count)
        return s_differ (why, len, "id counts differ");
    for (size_t i = 0; i < a->id_count; i++)
        if (!s_str_eq (a->ids [i], b->ids [i])
        ||  (a->duplicates ? a->duplicates [i]: false) != (b->duplicates ? b->duplicates [i]: false))
            return s_differ (why, len, "ids [%zu] differ", i);
    if (a->entry_count != b->entry_count)
        return s_differ (why, len, "entry counts differ");
    for (size_t i = 0; i < a->entry_count; i++) {
        const char *ae = a->entry_messages && a->entry_messages [i] ? a->entry_messages [i]: "";
        const char *be = b->entry_messages && b->entry_messages [i] ? b->entry_messages [i]: "";
        if (a->entry_statuses [i] != b->entry_statuses [i] || strcmp (ae, be) != 0)
            return s_differ (why, len, "entry statuses [%zu] differ", i);
    }
    if (!s_item_eq (a->item, b->item))
        return s_differ (why, len, "items differ");
    size_t an = a->items ? a->items->count: 0, bn = b->items ? b->items->count: 0;
    if (an != bn)
        return s_differ (why, len, "item list lengths differ");
    for (size_t i = 0; i < an; i++)
        if (!s_item_eq (a->items->items [i], b->items->items [i]))
            return s_differ (why, len, "items [%zu] differ", i);
    if (method == WP_METHOD_FAIL && a->item_state != b->item_state)
        return s_differ (why, len, "fail states differ");
    if (a->count != b->count)
        return s_differ (why, len, "counts differ");
    if (!s_str_eq (a->cursor, b->cursor))
        return s_differ (why, len, "cursors differ");
    if (a->end != b->end)
        return s_differ (why, len, "ends differ");
    if (!s_worker_eq (a->worker, b->worker))
        return s_differ (why, len, "workers differ");
    an = a->workers ? a->workers->count: 0;
    bn = b->workers ? b->workers->count: 0;
    if (an != bn)
        return s_differ (why, len, "worker list lengths differ");
    for (size_t i = 0; i < an; i++)
        if (!s_worker_eq (a->workers->workers [i], b->workers->workers [i]))
            return s_differ (why, len, "workers [%zu] differ", i);
    if (method == WP_METHOD_STATS) {
        const wp_stats_t *sa = a->stats, *sb = b->stats;
        size_t ap = sa ? sa->pool_count: 0, bp = sb ? sb->pool_count: 0;
        size_t aw = sa ? sa->worker_status_count: 0, bw = sb ? sb->worker_status_count: 0;
        size_t ac = sa ? sa->counter_count: 0, bc = sb ? sb->counter_count: 0;
        if (ap != bp || aw != bw || ac != bc)
            return s_differ (why, len, "stats sizes differ");
        for (size_t i = 0; i < ap; i++)
            if (!s_str_eq (sa->pools [i].pool, sb->pools [i].pool)
            ||  sa->pools [i].pending != sb->pools [i].pending
            ||  sa->pools [i].claimed != sb->pools [i].claimed
            ||  sa->pools [i].done != sb->pools [i].done
            ||  sa->pools [i].poisoned != sb->pools [i].poisoned
            ||  sa->pools [i].paused != sb->pools [i].paused
            ||  sa->pools [i].scheduled != sb->pools [i].scheduled
            ||  sa->pools [i].backoff.base != sb->pools [i].backoff.base
            ||  sa->pools [i].backoff.cap != sb->pools [i].backoff.cap
            ||  sa->pools [i].backoff.jitter != sb->pools [i].backoff.jitter)
                return s_differ (why, len, "stats pools [%zu] differ", i);
        for (size_t i = 0; i < aw; i++)
            if (!s_str_eq (sa->workers [i].status, sb->workers [i].status)
            ||  sa->workers [i].count != sb->workers [i].count)
                return s_differ (why, len, "stats workers [%zu] differ", i);
        for (size_t i = 0; i < ac; i++)
            if (!s_str_eq (sa->counters [i].name, sb->counters [i].name)
            ||  sa->counters [i].value != sb->counters [i].value)
                return s_differ (why, len, "stats counters [%zu] differ", i);
    }
    if (!s_schedule_eq (a->schedule, b->schedule))
        return s_differ (why, len, "schedules differ");
    an = a->schedules ? a->schedules->count: 0;
    bn = b->schedules ? b->schedules->count: 0;
    if (an != bn)
        return s_differ (why, len, "schedule list lengths differ");
    for (size_t i = 0; i < an; i++)
        if (!s_schedule_eq (a->schedules->schedules [i], b->schedules->schedules [i]))
            return s_differ (why, len, "schedules [%zu] differ", i);
    if (method == WP_METHOD_PING
    &&  (!s_str_eq (a->server, b->server) || a->time != b->time || a->max_message != b->max_message))
        return s_differ (why, len, "ping fields differ");
    return true;
}

//  ---------------------------------------------------------------------
//  Round trips

bool
pt_request_round_trip (const wp_request_t *req)
{
    const char *name = wp_method_name (req->method);
    uint8_t *h1, *b1, *h2 = NULL, *b2 = NULL;
    size_t h1n, b1n, h2n = 0, b2n = 0;
    if (wp_request_encode (req, &h1, &h1n, &b1, &b1n)) {
        fprintf (stderr, "%s: request does not encode\n", name);
        pt_failures++;
        return false;
    }
    bool ok = false;
    char err [256] = "";
    bool replyable;
    wp_request_t back;
    wp_request_init (&back);
    wp_status rc = wp_request_decode_header (&back, h1, h1n, &replyable, err, sizeof err);
    if (rc == WP_OK)
        rc = wp_request_decode_body (&back, b1, b1n, err, sizeof err);
    if (rc != WP_OK)
        fprintf (stderr, "%s: request does not decode: %s\n", name, err);
    else
    if (!pt_request_equal (req, &back, err, sizeof err))
        fprintf (stderr, "%s: decoded request differs: %s\n", name, err);
    else
    if (wp_request_encode (&back, &h2, &h2n, &b2, &b2n))
        fprintf (stderr, "%s: decoded request does not encode\n", name);
    else
    if (h1n != h2n || b1n != b2n || memcmp (h1, h2, h1n) || memcmp (b1, b2, b1n))
        fprintf (stderr, "%s: re-encoded request differs\n", name);
    else
        ok = true;
    if (!ok)
        pt_failures++;
    wp_request_clear (&back);
    free (h1);
    free (b1);
    free (h2);
    free (b2);
    return ok;
}

bool
pt_reply_round_trip (wp_method method, const wp_reply_t *reply)
{
    const char *name = wp_method_name (method);
    uint8_t *h1, *b1, *h2 = NULL, *b2 = NULL;
    size_t h1n, b1n, h2n = 0, b2n = 0;
    if (wp_reply_encode (reply, method, &h1, &h1n, &b1, &b1n)) {
        fprintf (stderr, "%s: reply does not encode\n", name);
        pt_failures++;
        return false;
    }
    bool ok = false;
    char err [256] = "";
    wp_reply_t back;
    wp_reply_init (&back);
    wp_status rc = wp_reply_decode_header (&back, h1, h1n, err, sizeof err);
    if (rc == WP_OK)
        rc = wp_reply_decode_body (&back, method, b1, b1n, err, sizeof err);
    if (rc != WP_OK)
        fprintf (stderr, "%s: reply does not decode: %s\n", name, err);
    else
    if (!pt_reply_equal (method, reply, &back, err, sizeof err))
        fprintf (stderr, "%s: decoded reply differs: %s\n", name, err);
    else
    if (wp_reply_encode (&back, method, &h2, &h2n, &b2, &b2n))
        fprintf (stderr, "%s: decoded reply does not encode\n", name);
    else
    if (h1n != h2n || b1n != b2n || memcmp (h1, h2, h1n) || memcmp (b1, b2, b1n))
        fprintf (stderr, "%s: re-encoded reply differs\n", name);
    else
        ok = true;
    if (!ok)
        pt_failures++;
    wp_reply_clear (&back);
    free (h1);
    free (b1);
    free (h2);
    free (b2);
    return ok;
}

//  ---------------------------------------------------------------------
//  Vector files

static int
s_hex_value (char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int
s_unhex (const char *text, uint8_t **out, size_t *size)
{
    size_t len = strlen (text);
    if (len % 2)
        return -1;
    *out = malloc (len / 2 + 1);
    *size = len / 2;
    for (size_t i = 0; i < len / 2; i++) {
        int hi = s_hex_value (text [2 * i]), lo = s_hex_value (text [2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        (*out) [i] = (uint8_t) (hi * 16 + lo);
    }
    return 0;
}

static int
s_compare_names (const void *a, const void *b)
{
    return strcmp (((const pt_vector_t *) a)->name, ((const pt_vector_t *) b)->name);
}

int
pt_vectors_load (const char *dir, pt_vector_t **vectors_p)
{
    DIR *handle = opendir (dir);
    if (!handle)
        return -1;
    pt_vector_t *vectors = NULL;
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir (handle))) {
        size_t len = strlen (entry->d_name);
        if (len < 5 || strcmp (entry->d_name + len - 4, ".hex") != 0)
            continue;
        char path [4096];
        snprintf (path, sizeof path, "%s/%s", dir, entry->d_name);
        FILE *file = fopen (path, "r");
        if (!file)
            continue;
        vectors = realloc (vectors, (count + 1) * sizeof *vectors);
        pt_vector_t *v = &vectors [count++];
        memset (v, 0, sizeof *v);
        v->name = s_dup (entry->d_name);
        v->replyable = -1;
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline (&line, &cap, file)) > 0) {
            while (n > 0 && (line [n - 1] == '\n' || line [n - 1] == '\r'))
                line [--n] = 0;
            char *space = strchr (line, ' ');
            if (line [0] == '#' || !space)
                continue;
            *space = 0;
            const char *value = space + 1;
            if (strcmp (line, "kind") == 0)
                v->kind = s_dup (value);
            else if (strcmp (line, "method") == 0)
                v->method = s_dup (value);
            else if (strcmp (line, "header") == 0) {
                if (s_unhex (value, &v->header, &v->header_size))
                    fprintf (stderr, "%s: bad header hex\n", v->name);
            }
            else if (strcmp (line, "body") == 0) {
                if (s_unhex (value, &v->body, &v->body_size))
                    fprintf (stderr, "%s: bad body hex\n", v->name);
            }
            else if (strcmp (line, "expect") == 0)
                v->expect = s_dup (value);
            else if (strcmp (line, "stage") == 0)
                v->stage = s_dup (value);
            else if (strcmp (line, "replyable") == 0)
                v->replyable = strcmp (value, "yes") == 0;
            else if (strcmp (line, "message") == 0)
                v->message = s_dup (value);
        }
        free (line);
        fclose (file);
    }
    closedir (handle);
    if (count)
        qsort (vectors, count, sizeof *vectors, s_compare_names);
    *vectors_p = vectors;
    return count;
}

void
pt_vectors_free (pt_vector_t *vectors, int count)
{
    for (int i = 0; i < count; i++) {
        free (vectors [i].name);
        free (vectors [i].kind);
        free (vectors [i].method);
        free (vectors [i].header);
        free (vectors [i].body);
        free (vectors [i].expect);
        free (vectors [i].stage);
        free (vectors [i].message);
    }
    free (vectors);
}
