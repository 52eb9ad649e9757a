/*  run_cases: tests/cases/wire_cases.json through libworkpool's public API
    (workpool.h), each case against a fresh broker actor in this process on
    tcp://127.0.0.1:*, so the C client is held to the same list of cases as
    the Python client (tests/python/cases.py) and, later, the Node one.
    README.md in this folder gives the format: a step's outcome is put in
    the wire's shape (records as JSON objects of their wire fields, item
    values as the CLI prints them, wp_json) and matched against the case.

    Streams (WorkPool.Subscribe, WorkPool.Unsubscribe) go on DEALER sockets
    of this runner's own, written and read with the protocol's codec
    (wp_proto.h): the stream steps of README.md need one request answered
    many times, which the one-call-one-reply API does not carry.

    usage: run_cases CASES.json [memory|sqlite] [NAME-PREFIX]
    Prints "ok - name", "ok - name # skip: why" or "not ok - name: why" per
    case; exits 1 if any failed.  */
#include "client_util.h"
#include "wp_json.h"
#include "wp_proto.h"

#include <jansson.h>
#include <stdarg.h>
#include <string.h>

#define S_ERR_MAX 1024

#define S_STREAMS_MAX 8
//  How long a stream step waits for what it expects before it fails (a
//  bound on a wait, never a measure: a passing step returns at once)
#define S_STREAM_WAIT_MS 10000

//  One subscription of a case: its socket, its request id, the ids of the
//  items streamed and not yet taken by a step, and its final message
typedef struct {
    char *name;
    zsock_t *sock;
    uint64_t request_id;
    char **ids;
    size_t id_count;
    bool ended;
    wp_status final;
    char *final_message;
    char *pool;                 //  what the Subscribe named (its Unsubscribe names them too)
    char *worker_id;
    bool unsubscribed;          //  the Unsubscribe's reply came
    wp_status unsubscribe_rc;
} s_stream_t;

typedef struct {
    wp_backend_t *backend;
    const char *endpoint;
    json_t *saved;              //  values a step saved, by name
    char why [S_ERR_MAX];       //  what failed
    s_stream_t streams [S_STREAMS_MAX];
    size_t stream_count;
    uint64_t next_id;           //  request ids of the runner's own sockets
    char raw_message [S_ERR_MAX];   //  the message of the last raw call
} s_run_t;

static void
s_why (s_run_t *run, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (run->why, sizeof run->why, format, args);
    va_end (args);
}

//  Compact JSON text of value, for messages; caller frees.
static char *
s_text (const json_t *value)
{
    char *text = value ? json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    return text ? text : strdup ("(none)");
}

//  ---------------------------------------------------------------------
//  Request fields

static const char *
s_str (const json_t *w, const char *key)
{
    return json_string_value (json_object_get (w, key));
}

static double
s_num (const json_t *w, const char *key, double fallback)
{
    json_t *value = json_object_get (w, key);
    return json_is_number (value) ? json_number_value (value) : fallback;
}

//  The msgpack of a JSON value (the CLI's mapping); *buf_p NULL for none.
static int
s_pack (const json_t *value, uint8_t **buf_p, size_t *size_p)
{
    *buf_p = NULL;
    *size_p = 0;
    if (!value)
        return 0;
    char errbuf [256];
    return wp_json_to_msgpack (value, buf_p, size_p, errbuf, sizeof errbuf);
}

//  Item states named in w[key] (an array of names). Returns the count, or
//  -1 for a name that is no state (the broker would refuse it too).
static int
s_states (const json_t *w, const char *key, wp_item_state *states, size_t max)
{
    json_t *names = json_object_get (w, key);
    size_t index, count = 0;
    json_t *name;
    json_array_foreach (names, index, name) {
        int state = wp_item_state_from_name (json_string_value (name) ? json_string_value (name) : "");
        if (state < 0 || count == max)
            return -1;
        states [count++] = (wp_item_state) state;
    }
    return (int) count;
}

//  w [key], or NULL if absent or null.
static json_t *
s_field (const json_t *w, const char *key)
{
    json_t *value = json_object_get (w, key);
    return json_is_null (value) ? NULL : value;
}

//  An int32 field (priority): absent is 0. -1 if it is not a whole number
//  in range (a value libworkpool cannot carry; the broker would refuse it).
static int
s_int32 (const json_t *w, const char *key, int32_t *out)
{
    json_t *value = json_object_get (w, key);
    *out = 0;
    if (!value || json_is_null (value))
        return 0;
    if (!json_is_integer (value)
    ||  json_integer_value (value) < INT32_MIN || json_integer_value (value) > INT32_MAX)
        return -1;
    *out = (int32_t) json_integer_value (value);
    return 0;
}

//  A push entry's fields from e (its data packed into *buffer_p, the
//  caller's to free). -1 for what libworkpool cannot carry (refused before
//  sending, as the broker refuses it).
static int
s_entry (const json_t *e, wp_push_entry_t *entry, uint8_t **buffer_p)
{
    memset (entry, 0, sizeof *entry);
    if (s_pack (json_object_get (e, "data"), buffer_p, &entry->data_size))
        return -1;
    entry->data = *buffer_p;
    entry->id = s_str (e, "id");
    //  A field given as null counts as absent, as on the wire
    json_t *retries = s_field (e, "max_retries");
    entry->max_retries = retries ? json_integer_value (retries) : -1;
    if (retries && (!json_is_integer (retries) || json_integer_value (retries) < 0))
        return -1;
    json_t *delay = s_field (e, "delay_seconds");
    if (delay && !json_is_number (delay))
        return -1;
    entry->delay = delay ? json_number_value (delay) : 0;
    json_t *run_at = s_field (e, "run_at");
    if (run_at && (!json_is_string (run_at)
                   || wp_time_parse (json_string_value (run_at), json_string_length (run_at),
                                     &entry->run_at)))
        return -1;
    json_t *key = s_field (e, "unique_key");
    if (key && !json_is_string (key))
        return -1;
    entry->unique_key = json_string_value (key);
    return s_int32 (e, "priority", &entry->priority);
}

static json_t *
s_schedules (const wp_schedule_list_t *list)
{
    json_t *array = json_array ();
    for (size_t i = 0; list && i < list->count; i++)
        json_array_append_new (array, wp_json_from_schedule (list->schedules [i]));
    return array;
}

static json_t *
s_item (const wp_item_t *item)
{
    return item ? wp_json_from_item (item) : json_null ();
}

static json_t *
s_items (const wp_item_list_t *list)
{
    json_t *array = json_array ();
    for (size_t i = 0; list && i < list->count; i++)
        json_array_append_new (array, wp_json_from_item (list->items [i]));
    return array;
}

static json_t *
s_worker (const wp_worker_t *worker)
{
    return worker ? wp_json_from_worker (worker) : json_null ();
}

//  ---------------------------------------------------------------------
//  One call, by its wire name, through the public API. On WP_OK *reply_p
//  holds the reply fields in the wire's shape.

static wp_status
s_pool_call (wp_backend_t *b, wp_pool_t *pool, const char *method, json_t *w, json_t *reply)
{
    wp_status rc = WP_UNIMPLEMENTED;
    const char *worker_id = s_str (w, "worker_id");
    wp_claim_options_t claim = { .wait = s_num (w, "wait_seconds", 0),
                                 .lease = s_num (w, "lease_seconds", 0) };
    if (streq (method, "WorkPool.Push")) {
        uint8_t *data = NULL;
        wp_push_entry_t entry;
        if (s_entry (w, &entry, &data)) {
            free (data);
            return WP_INVALID_ARGUMENT;
        }
        char *id = NULL;
        bool duplicate = false;
        rc = wp_pool_push_entry (pool, &entry, &id, &duplicate);
        if (rc == WP_OK) {
            json_object_set_new (reply, "id", json_string (id));
            json_object_set_new (reply, "duplicate", json_boolean (duplicate));
        }
        free (id);
        free (data);
    }
    else
    if (streq (method, "WorkPool.PushMany")) {
        json_t *items = json_object_get (w, "items");
        size_t count = json_array_size (items);
        wp_push_entry_t *entries = calloc (count + 1, sizeof *entries);
        uint8_t **buffers = calloc (count + 1, sizeof *buffers);
        char **ids = calloc (count + 1, sizeof *ids);
        bool *duplicates = calloc (count + 1, sizeof *duplicates);
        rc = WP_OK;
        for (size_t i = 0; i < count && rc == WP_OK; i++) {
            if (s_entry (json_array_get (items, i), &entries [i], &buffers [i]))
                rc = WP_INVALID_ARGUMENT;
        }
        if (rc == WP_OK)
            rc = wp_pool_push_many (pool, entries, count, ids, duplicates);
        if (rc == WP_OK) {
            json_t *id_list = json_array (), *dup_list = json_array ();
            for (size_t i = 0; i < count; i++) {
                json_array_append_new (id_list, json_string (ids [i]));
                json_array_append_new (dup_list, json_boolean (duplicates [i]));
                free (ids [i]);
            }
            json_object_set_new (reply, "ids", id_list);
            json_object_set_new (reply, "duplicates", dup_list);
        }
        for (size_t i = 0; i < count; i++)
            free (buffers [i]);
        free (entries);
        free (buffers);
        free (ids);
        free (duplicates);
    }
    else
    if (streq (method, "WorkPool.Claim")) {
        wp_item_t *item = NULL;
        rc = wp_pool_claim (pool, worker_id, &claim, &item);
        if (rc == WP_OK)
            json_object_set_new (reply, "item", s_item (item));
        wp_item_destroy (&item);
    }
    else
    if (streq (method, "WorkPool.ClaimMany")) {
        wp_item_list_t *items = NULL;
        json_int_t max = json_integer_value (json_object_get (w, "max"));
        rc = wp_pool_claim_many (pool, worker_id, max < 0 ? 0 : (size_t) max, &claim, &items);
        if (rc == WP_OK)
            json_object_set_new (reply, "items", s_items (items));
        wp_item_list_destroy (&items);
    }
    else
    if (streq (method, "WorkPool.Complete") || streq (method, "WorkPool.CompleteAndClaim")) {
        uint8_t *result;
        size_t size;
        if (s_pack (json_object_get (w, "result"), &result, &size))
            return WP_INVALID_ARGUMENT;
        if (streq (method, "WorkPool.Complete"))
            rc = wp_pool_complete (pool, s_str (w, "id"), result, size, worker_id);
        else {
            wp_item_t *item = NULL;
            rc = wp_pool_complete_and_claim (pool, s_str (w, "id"), result, size, worker_id,
                                             &claim, &item);
            if (rc == WP_OK)
                json_object_set_new (reply, "item", s_item (item));
            wp_item_destroy (&item);
        }
        free (result);
    }
    else
    if (streq (method, "WorkPool.CompleteMany")) {
        json_t *items = json_object_get (w, "items");
        size_t count = json_array_size (items);
        wp_complete_entry_t *entries = calloc (count + 1, sizeof *entries);
        uint8_t **buffers = calloc (count + 1, sizeof *buffers);
        wp_status *statuses = calloc (count + 1, sizeof *statuses);
        rc = WP_OK;
        for (size_t i = 0; i < count && rc == WP_OK; i++) {
            json_t *e = json_array_get (items, i);
            entries [i].id = s_str (e, "id");
            if (s_pack (json_object_get (e, "result"), &buffers [i], &entries [i].result_size))
                rc = WP_INVALID_ARGUMENT;
            entries [i].result = buffers [i];
        }
        if (rc == WP_OK)
            rc = wp_pool_complete_many (pool, entries, count, worker_id, statuses);
        if (rc == WP_OK) {
            json_t *names = json_array ();
            for (size_t i = 0; i < count; i++)
                json_array_append_new (names, json_string (wp_strerror (statuses [i])));
            json_object_set_new (reply, "statuses", names);
        }
        for (size_t i = 0; i < count; i++)
            free (buffers [i]);
        free (entries);
        free (buffers);
        free (statuses);
    }
    else
    if (streq (method, "WorkPool.Fail")) {
        wp_item_state state;
        json_t *after = json_object_get (w, "retry_after_seconds");
        rc = after && !json_is_number (after)
           ? WP_INVALID_ARGUMENT
           : wp_pool_fail_after (pool, s_str (w, "id"), s_str (w, "error"),
                                 s_num (w, "retry_after_seconds", 0), worker_id, &state);
        if (rc == WP_OK)
            json_object_set_new (reply, "status", json_string (wp_item_state_name (state)));
    }
    else
    if (streq (method, "WorkPool.Size") || streq (method, "WorkPool.ReleaseByWorker")
    ||  streq (method, "WorkPool.Purge")
    ||  (streq (method, "WorkPool.Retry") && json_is_true (json_object_get (w, "all")))) {
        uint64_t count = 0;
        const char *field;
        if (streq (method, "WorkPool.Size")) {
            field = "size";
            rc = wp_pool_size (pool, &count);
        }
        else
        if (streq (method, "WorkPool.ReleaseByWorker")) {
            field = "released";
            rc = wp_pool_release_by_worker (pool, worker_id, &count);
        }
        else
        if (streq (method, "WorkPool.Purge")) {
            field = "purged";
            wp_item_state states [WP_STATUSES_MAX];
            int n = s_states (w, "status", states, WP_STATUSES_MAX);
            rc = n < 0 ? WP_INVALID_ARGUMENT
                       : wp_pool_purge (pool, states, (size_t) n, &count);
        }
        else {
            field = "retried";
            rc = wp_pool_retry_all (pool, &count);
        }
        if (rc == WP_OK)
            json_object_set_new (reply, field, json_integer ((json_int_t) count));
    }
    else
    if (streq (method, "WorkPool.Get")) {
        wp_item_t *item = NULL;
        rc = wp_pool_get (pool, s_str (w, "id"), &item);
        if (rc == WP_OK)
            json_object_set_new (reply, "item", s_item (item));
        wp_item_destroy (&item);
    }
    else
    if (streq (method, "WorkPool.List")) {
        wp_item_state states [WP_STATUSES_MAX];
        int n = s_states (w, "status", states, WP_STATUSES_MAX);
        wp_item_list_t *items = NULL;
        char *cursor = NULL;
        json_int_t limit = json_integer_value (json_object_get (w, "limit"));
        rc = n < 0 ? WP_INVALID_ARGUMENT
                   : wp_pool_list (pool, states, (size_t) n, limit < 0 ? 0 : (size_t) limit,
                                   s_str (w, "cursor"), &items, &cursor);
        if (rc == WP_OK) {
            json_object_set_new (reply, "items", s_items (items));
            json_object_set_new (reply, "cursor", cursor ? json_string (cursor) : json_null ());
        }
        wp_item_list_destroy (&items);
        free (cursor);
    }
    else
    if (streq (method, "WorkPool.Retry"))
        rc = wp_pool_retry (pool, s_str (w, "id"));
    else
    if (streq (method, "WorkPool.Cancel"))
        rc = wp_pool_cancel (pool, s_str (w, "id"));
    else
    if (streq (method, "WorkPool.Pause"))
        rc = wp_pool_pause (pool);
    else
    if (streq (method, "WorkPool.Resume"))
        rc = wp_pool_resume (pool);
    else
    if (streq (method, "WorkPool.SetBackoff")) {
        //  cap defaults to the base, as on the wire
        json_t *base = json_object_get (w, "base_seconds");
        wp_backoff_t policy = { s_num (w, "base_seconds", 0), 0, s_num (w, "jitter", 0) };
        policy.cap = s_num (w, "cap_seconds", policy.base);
        rc = !json_is_number (base) ? WP_INVALID_ARGUMENT : wp_pool_set_backoff (pool, &policy);
    }
    (void) b;
    return rc;
}

static wp_status
s_registry_call (wp_backend_t *b, const char *method, json_t *w, json_t *reply)
{
    wp_status rc = WP_UNIMPLEMENTED;
    const char *worker_id = s_str (w, "worker_id");
    if (streq (method, "Registry.Register")) {
        wp_worker_t *worker = wp_worker_new ();
        worker->worker_id = wp_strdup (worker_id);
        worker->host = wp_strdup (s_str (w, "host"));
        json_t *pid = json_object_get (w, "pid");
        worker->pid = pid ? json_integer_value (pid) : -1;
        size_t index;
        json_t *name;
        json_array_foreach (json_object_get (w, "capabilities"), index, name)
            wp_worker_add_capability (worker, json_string_value (name));
        worker->pool_id = wp_strdup (s_str (w, "pool_id"));
        worker->heartbeat_interval = s_num (w, "heartbeat_interval_seconds", 0);
        const char *started = s_str (w, "started_at");
        char errbuf [256];
        rc = WP_OK;
        //  A time the client cannot read is refused before sending, as the
        //  broker would refuse it
        if (started && wp_time_parse (started, strlen (started), &worker->started_at))
            rc = WP_INVALID_ARGUMENT;
        json_t *meta = json_object_get (w, "metadata");
        if (rc == WP_OK && meta && wp_json_to_meta (meta, &worker->metadata, errbuf, sizeof errbuf))
            rc = WP_INVALID_ARGUMENT;
        wp_worker_t *stored = NULL;
        if (rc == WP_OK)
            rc = wp_backend_register (b, worker, &stored);
        if (rc == WP_OK)
            json_object_set_new (reply, "worker", s_worker (stored));
        wp_worker_destroy (&stored);
        wp_worker_destroy (&worker);
    }
    else
    if (streq (method, "Registry.Heartbeat")) {
        wp_meta_t meta = { NULL, 0 };
        char errbuf [256];
        json_t *given = json_object_get (w, "metadata");
        rc = given && wp_json_to_meta (given, &meta, errbuf, sizeof errbuf)
           ? WP_INVALID_ARGUMENT
           : wp_backend_heartbeat (b, worker_id, given ? &meta : NULL);
        wp_meta_clear (&meta);
    }
    else
    if (streq (method, "Registry.UpdateStatus"))
        rc = wp_backend_update_status (b, worker_id, s_str (w, "status"));
    else
    if (streq (method, "Registry.Get")) {
        wp_worker_t *worker = NULL;
        rc = wp_backend_get_worker (b, worker_id, &worker);
        if (rc == WP_OK)
            json_object_set_new (reply, "worker", s_worker (worker));
        wp_worker_destroy (&worker);
    }
    else
    if (streq (method, "Registry.List")) {
        json_t *names = json_object_get (w, "status");
        const char *statuses [WP_STATUSES_MAX];
        size_t count = 0, index;
        json_t *name;
        json_array_foreach (names, index, name)
            if (count < WP_STATUSES_MAX)
                statuses [count++] = json_string_value (name);
        wp_worker_filter_t filter = { statuses, count, s_str (w, "capability"),
                                      s_str (w, "pool_id"),
                                      s_num (w, "stale_threshold_seconds", -1) };
        wp_worker_list_t *list = NULL;
        rc = wp_backend_list_workers (b, &filter, &list);
        if (rc == WP_OK) {
            json_t *array = json_array ();
            for (size_t i = 0; i < list->count; i++)
                json_array_append_new (array, wp_json_from_worker (list->workers [i]));
            json_object_set_new (reply, "workers", array);
        }
        wp_worker_list_destroy (&list);
    }
    else
    if (streq (method, "WorkPool.Renew")) {
        uint64_t count = 0;
        rc = wp_backend_renew (b, worker_id, s_num (w, "lease_seconds", 0), &count);
        if (rc == WP_OK)
            json_object_set_new (reply, "renewed", json_integer ((json_int_t) count));
    }
    else
    if (streq (method, "Broker.Stats")) {
        wp_stats_t *stats = NULL;
        rc = wp_backend_stats (b, &stats);
        if (rc == WP_OK) {
            json_t *object = wp_json_from_stats (stats);
            //  paused, which the CLI's printer may not show yet
            json_t *pools = json_object_get (object, "pools");
            for (size_t i = 0; i < stats->pool_count; i++)
                if (!json_object_get (json_array_get (pools, i), "paused"))
                    json_object_set_new (json_array_get (pools, i), "paused",
                                         json_boolean (stats->pools [i].paused));
            json_object_update (reply, object);
            json_decref (object);
        }
        wp_stats_destroy (&stats);
    }
    else
    if (streq (method, "Schedule.Add")) {
        wp_schedule_t *schedule = wp_schedule_new ();
        schedule->name = wp_strdup (s_str (w, "name"));
        schedule->pool = wp_strdup (s_str (w, "pool"));
        schedule->cron = wp_strdup (s_str (w, "cron"));
        json_t *retries = s_field (w, "max_retries");
        schedule->max_retries = retries ? json_integer_value (retries) : -1;
        rc = s_pack (json_object_get (w, "data"), &schedule->data, &schedule->data_size)
          || s_int32 (w, "priority", &schedule->priority)
          || (retries && (!json_is_integer (retries) || json_integer_value (retries) < 0))
           ? WP_INVALID_ARGUMENT : WP_OK;
        wp_schedule_t *stored = NULL;
        if (rc == WP_OK)
            rc = wp_backend_schedule_add (b, schedule, &stored);
        if (rc == WP_OK)
            json_object_set_new (reply, "schedule", wp_json_from_schedule (stored));
        wp_schedule_destroy (&stored);
        wp_schedule_destroy (&schedule);
    }
    else
    if (streq (method, "Schedule.List")) {
        wp_schedule_list_t *list = NULL;
        rc = wp_backend_schedule_list (b, &list);
        if (rc == WP_OK)
            json_object_set_new (reply, "schedules", s_schedules (list));
        wp_schedule_list_destroy (&list);
    }
    else
    if (streq (method, "Schedule.Remove"))
        rc = wp_backend_schedule_remove (b, s_str (w, "name"));
    else
    if (streq (method, "Broker.Ping")) {
        char *server = NULL;
        int64_t now = 0;
        rc = wp_backend_ping (b, &server, &now);
        if (rc == WP_OK) {
            json_object_set_new (reply, "server", json_string (server));
            json_object_set_new (reply, "time", wp_json_from_time (now));
        }
        free (server);
    }
    return rc;
}

static wp_status s_raw_unsubscribe (s_run_t *run, json_t *w);

static wp_status
s_call (s_run_t *run, const char *method, json_t *w, json_t **reply_p)
{
    json_t *reply = json_object ();
    wp_status rc;
    run->raw_message [0] = 0;
    if (streq (method, "WorkPool.Unsubscribe")) {
        *reply_p = reply;
        return s_raw_unsubscribe (run, w);
    }
    if (strncmp (method, "WorkPool.", 9) == 0 && !streq (method, "WorkPool.Renew")) {
        const char *name = s_str (w, "pool");
        wp_pool_t *pool = name ? wp_backend_pool (run->backend, name) : NULL;
        //  A pool name libworkpool will not take is refused before sending
        rc = pool ? s_pool_call (run->backend, pool, method, w, reply) : WP_INVALID_ARGUMENT;
        wp_pool_destroy (&pool);
    }
    else
        rc = s_registry_call (run->backend, method, w, reply);
    if (rc == WP_UNIMPLEMENTED && !*wp_backend_errmsg (run->backend))
        s_why (run, "the case names a method this runner does not know: %s", method);
    *reply_p = reply;
    return rc;
}

//  ---------------------------------------------------------------------
//  Matching (the rules of tests/cases/README.md)

//  The case's request value with $ref and $repeat replaced; a new reference.
static json_t *
s_resolve (json_t *value, json_t *saved)
{
    if (json_is_object (value)) {
        json_t *ref = json_object_get (value, "$ref");
        json_t *repeat = json_object_get (value, "$repeat");
        if (ref && json_object_size (value) == 1) {
            json_t *found = json_object_get (saved, json_string_value (ref));
            return found ? json_incref (found) : json_null ();
        }
        if (repeat && json_object_size (value) == 1) {
            const char *unit = json_string_value (json_array_get (repeat, 0));
            json_int_t times = json_integer_value (json_array_get (repeat, 1));
            size_t len = strlen (unit ? unit : "");
            char *text = calloc ((size_t) times * len + 1, 1);
            for (json_int_t i = 0; i < times; i++)
                memcpy (text + i * len, unit, len);
            json_t *string = json_string (text);
            free (text);
            return string;
        }
        json_t *copy = json_object ();
        const char *key;
        json_t *member;
        json_object_foreach (value, key, member)
            json_object_set_new (copy, key, s_resolve (member, saved));
        return copy;
    }
    if (json_is_array (value)) {
        json_t *copy = json_array ();
        size_t index;
        json_t *member;
        json_array_foreach (value, index, member)
            json_array_append_new (copy, s_resolve (member, saved));
        return copy;
    }
    return json_incref (value);
}

static bool
s_is_uuid (const char *text)
{
    //  Version 4 (random) or 7 (time-ordered): either is a UUID a client or
    //  a backend may make
    return text && strlen (text) == 36 && strchr ("47", text [14]) && strchr ("89ab", text [19])
        && text [8] == '-' && text [13] == '-' && text [18] == '-' && text [23] == '-';
}

static bool
s_is_time (const char *text)
{
    int64_t t;
    size_t len = text ? strlen (text) : 0;
    return len == 27 && text [26] == 'Z' && wp_time_parse (text, len, &t) == 0;
}

//  A predicate object {"$name": argument}; *known false if it is not one.
static bool
s_predicate (s_run_t *run, json_t *expected, json_t *actual, bool *known)
{
    *known = false;
    if (!json_is_object (expected) || json_object_size (expected) != 1)
        return false;
    const char *kind = json_object_iter_key (json_object_iter (expected));
    json_t *arg = json_object_iter_value (json_object_iter (expected));
    if (kind [0] != '$' || streq (kind, "$bin") || streq (kind, "$raw"))
        return false;
    *known = true;
    const char *text = json_string_value (actual);
    if (streq (kind, "$ref"))
        return json_equal (actual, json_object_get (run->saved, json_string_value (arg)));
    if (streq (kind, "$uuid"))
        return s_is_uuid (text) == json_is_true (arg);
    if (streq (kind, "$time"))
        return s_is_time (text) == json_is_true (arg);
    if (streq (kind, "$null"))
        return json_is_null (actual) == json_is_true (arg);
    if (streq (kind, "$prefix"))
        return text && strncmp (text, json_string_value (arg), strlen (json_string_value (arg))) == 0;
    if (streq (kind, "$contains"))
        return text && strstr (text, json_string_value (arg));
    if (streq (kind, "$any"))
        return true;
    s_why (run, "unknown predicate %s", kind);
    return false;
}

static int
s_match (s_run_t *run, json_t *expected, json_t *actual, const char *path)
{
    bool known;
    bool ok = s_predicate (run, expected, actual, &known);
    if (known) {
        if (ok)
            return 0;
        char *want = s_text (expected), *got = s_text (actual);
        s_why (run, "%s: %s does not satisfy %s", path, got, want);
        free (want);
        free (got);
        return -1;
    }
    char sub [512];
    if (json_is_object (expected)) {
        if (!json_is_object (actual)) {
            char *got = s_text (actual);
            s_why (run, "%s: expected a map, got %s", path, got);
            free (got);
            return -1;
        }
        const char *key;
        json_t *value;
        json_object_foreach (expected, key, value) {
            json_t *member = json_object_get (actual, key);
            snprintf (sub, sizeof sub, "%s.%s", path, key);
            if (!member) {
                s_why (run, "%s: no such field", sub);
                return -1;
            }
            if (s_match (run, value, member, sub))
                return -1;
        }
        return 0;
    }
    if (json_is_array (expected)) {
        if (!json_is_array (actual) || json_array_size (actual) != json_array_size (expected)) {
            char *got = s_text (actual);
            s_why (run, "%s: expected %zu elements, got %s", path, json_array_size (expected), got);
            free (got);
            return -1;
        }
        for (size_t i = 0; i < json_array_size (expected); i++) {
            snprintf (sub, sizeof sub, "%s[%zu]", path, i);
            if (s_match (run, json_array_get (expected, i), json_array_get (actual, i), sub))
                return -1;
        }
        return 0;
    }
    //  Numbers compare by value (5 and 5.0 are one number in JSON)
    bool same = json_is_number (expected) && json_is_number (actual)
              ? json_number_value (expected) == json_number_value (actual)
              : json_equal (expected, actual);
    if (!same) {
        char *want = s_text (expected), *got = s_text (actual);
        s_why (run, "%s: expected %s, got %s", path, want, got);
        free (want);
        free (got);
        return -1;
    }
    return 0;
}

//  reply's value at a dotted path ("item.id"), borrowed.
static json_t *
s_at (json_t *value, const char *dotted)
{
    char *copy = strdup (dotted), *rest = copy, *part;
    while (value && (part = strsep (&rest, ".")))
        value = json_is_array (value) ? json_array_get (value, (size_t) atoi (part))
                                      : json_object_get (value, part);
    free (copy);
    return value;
}

//  ---------------------------------------------------------------------
//  Streams (README.md, "Streams"): raw DEALER sockets and the codec

//  Sends req on sock. Returns 0, or -1 if it cannot be encoded (a field the
//  codec requires is missing or zero: refused before sending).
static int
s_raw_send (zsock_t *sock, wp_request_t *req)
{
    uint8_t *header, *body;
    size_t header_size, body_size;
    if (wp_request_encode (req, &header, &header_size, &body, &body_size))
        return -1;
    zmsg_t *msg = zmsg_new ();
    zmsg_addmem (msg, header, header_size);
    zmsg_addmem (msg, body, body_size);
    free (header);
    free (body);
    int rc = zmsg_send (&msg, sock);
    zmsg_destroy (&msg);
    return rc;
}

static zsock_t *
s_raw_socket (const char *endpoint)
{
    zsock_t *sock = zsock_new_dealer (endpoint);
    assert (sock);
    zsock_set_linger (sock, 0);
    return sock;
}

//  Reads one reply from sock within timeout_ms into reply (initialized by
//  the caller; cleared here first) for method. Returns 0, or -1 on silence
//  or a reply that cannot be read.
static int
s_raw_recv (zsock_t *sock, int timeout_ms, wp_method method, wp_reply_t *reply)
{
    wp_reply_clear (reply);
    zsock_set_rcvtimeo (sock, timeout_ms);
    zmsg_t *msg = zmsg_recv (sock);
    if (!msg)
        return -1;
    int rc = -1;
    char errbuf [256];
    zframe_t *header = zmsg_first (msg), *body = zmsg_next (msg);
    if (zmsg_size (msg) == 2
    &&  wp_reply_decode_header (reply, zframe_data (header), zframe_size (header),
                                errbuf, sizeof errbuf) == WP_OK
    &&  wp_reply_decode_body (reply, method, zframe_data (body), zframe_size (body),
                              errbuf, sizeof errbuf) == WP_OK)
        rc = 0;
    zmsg_destroy (&msg);
    return rc;
}

static s_stream_t *
s_stream_named (s_run_t *run, const char *name)
{
    for (size_t i = 0; i < run->stream_count; i++)
        if (streq (run->streams [i].name, name))
            return &run->streams [i];
    return NULL;
}

//  Reads what the stream's socket brings for up to timeout_ms: items
//  queue, the final message ends it, the Unsubscribe's reply is noted.
//  Returns 0 if something came, -1 on silence.
static int
s_stream_read (s_stream_t *stream, int timeout_ms)
{
    wp_reply_t reply;
    wp_reply_init (&reply);
    zsock_set_rcvtimeo (stream->sock, timeout_ms);
    zmsg_t *msg = zmsg_recv (stream->sock);
    if (!msg)
        return -1;
    char errbuf [256];
    zframe_t *header = zmsg_first (msg), *body = zmsg_next (msg);
    if (zmsg_size (msg) == 2
    &&  wp_reply_decode_header (&reply, zframe_data (header), zframe_size (header),
                                errbuf, sizeof errbuf) == WP_OK) {
        if (reply.request_id == stream->request_id && !stream->ended) {
            if (reply.status != WP_OK) {
                stream->ended = true;
                stream->final = reply.status;
                stream->final_message = strdup (reply.message ? reply.message : "");
            }
            else
            if (wp_reply_decode_body (&reply, WP_METHOD_SUBSCRIBE, zframe_data (body),
                                      zframe_size (body), errbuf, sizeof errbuf) == WP_OK) {
                size_t count = reply.items ? reply.items->count : 0;
                stream->ids = realloc (stream->ids, (stream->id_count + count + 1) * sizeof (char *));
                for (size_t i = 0; i < count; i++)
                    stream->ids [stream->id_count++] = strdup (reply.items->items [i]->id);
                if (reply.end) {
                    stream->ended = true;
                    stream->final = WP_OK;
                    stream->final_message = strdup ("");
                }
            }
            else {
                stream->ended = true;
                stream->final = WP_INTERNAL;
                stream->final_message = zsys_sprintf ("malformed stream message: %s", errbuf);
            }
        }
        else
        if (reply.request_id == stream->request_id + 1) {
            stream->unsubscribed = true;
            stream->unsubscribe_rc = reply.status;
        }
    }
    wp_reply_clear (&reply);
    zmsg_destroy (&msg);
    return 0;
}

static void
s_stream_free (s_stream_t *stream)
{
    zsock_destroy (&stream->sock);
    for (size_t i = 0; i < stream->id_count; i++)
        free (stream->ids [i]);
    free (stream->ids);
    free (stream->name);
    free (stream->pool);
    free (stream->worker_id);
    free (stream->final_message);
    memset (stream, 0, sizeof *stream);
}

//  Waits for stream's final message; 0 if it came (an item before it is a
//  failure, said in run->why).
static int
s_stream_end (s_run_t *run, s_stream_t *stream, const char *where)
{
    int64_t deadline = zclock_mono () + S_STREAM_WAIT_MS;
    while (!stream->ended && stream->id_count == 0 && zclock_mono () < deadline)
        s_stream_read (stream, (int) (deadline - zclock_mono ()));
    if (stream->id_count > 0) {
        s_why (run, "%s: an item '%s' came, expected the end", where, stream->ids [0]);
        return -1;
    }
    if (!stream->ended) {
        s_why (run, "%s: the stream did not end within %d s", where, S_STREAM_WAIT_MS / 1000);
        return -1;
    }
    return 0;
}

//  A stream step; 0 if it went as the case says.
static int
s_stream_step (s_run_t *run, json_t *step, int number)
{
    char where [256];
    const char *message = s_str (step, "message");
    if (json_object_get (step, "subscribe")) {
        const char *name = s_str (step, "subscribe");
        const char *want = s_str (step, "status") ? s_str (step, "status") : "OK";
        snprintf (where, sizeof where, "step %d (subscribe %s)", number, name);
        json_t *w = json_object_get (step, "with");
        if (run->stream_count == S_STREAMS_MAX || s_stream_named (run, name)) {
            s_why (run, "%s: too many streams, or one of that name already", where);
            return -1;
        }
        s_stream_t *stream = &run->streams [run->stream_count++];
        stream->name = strdup (name);
        stream->sock = s_raw_socket (run->endpoint);
        stream->request_id = run->next_id;
        run->next_id += 2;          //  its Unsubscribe is the id after it
        stream->pool = s_str (w, "pool") ? strdup (s_str (w, "pool")) : NULL;
        stream->worker_id = s_str (w, "worker_id") ? strdup (s_str (w, "worker_id")) : NULL;
        wp_request_t req;
        wp_request_init (&req);
        req.request_id = stream->request_id;
        req.method = WP_METHOD_SUBSCRIBE;
        req.pool = (char *) s_str (w, "pool");
        req.worker_id = (char *) s_str (w, "worker_id");
        json_int_t credit = json_integer_value (json_object_get (w, "credit"));
        req.credit = credit >= 1 && credit <= WP_CREDIT_MAX ? (uint32_t) credit : 0;
        req.lease = s_num (w, "lease_seconds", 0);
        //  (the request holds borrowed pointers: not cleared)
        if (s_raw_send (stream->sock, &req)) {
            //  Refused before sending, in the broker's words
            stream->ended = true;
            stream->final = WP_INVALID_ARGUMENT;
            stream->final_message = zsys_sprintf (
                "field 'credit' must be an unsigned integer from 1 to %d (or pool, worker_id "
                "missing)", WP_CREDIT_MAX);
        }
        if (streq (want, "OK"))
            return 0;
        if (s_stream_end (run, stream, where))
            return -1;
        if (!streq (wp_strerror (stream->final), want)) {
            s_why (run, "%s: %s '%s', expected %s", where, wp_strerror (stream->final),
                   stream->final_message, want);
            return -1;
        }
        if (message && !strstr (stream->final_message, message)) {
            s_why (run, "%s: message '%s' lacks '%s'", where, stream->final_message, message);
            return -1;
        }
        return 0;
    }
    const char *name = s_str (step, "stream");
    s_stream_t *stream = name ? s_stream_named (run, name) : NULL;
    if (!stream) {
        s_why (run, "step %d: no stream '%s'", number, name ? name : "(none)");
        return -1;
    }
    json_t *items = json_object_get (step, "items");
    if (items) {
        snprintf (where, sizeof where, "step %d (stream %s items)", number, name);
        size_t want = json_array_size (items);
        int64_t deadline = zclock_mono () + S_STREAM_WAIT_MS;
        while (stream->id_count < want && !stream->ended && zclock_mono () < deadline)
            s_stream_read (stream, (int) (deadline - zclock_mono ()));
        if (stream->id_count < want) {
            s_why (run, "%s: got %zu of %zu items%s%s", where, stream->id_count, want,
                   stream->ended ? ", then the end: " : "",
                   stream->ended ? wp_strerror (stream->final) : "");
            return -1;
        }
        for (size_t i = 0; i < want; i++)
            if (!streq (stream->ids [i], json_string_value (json_array_get (items, i)))) {
                s_why (run, "%s: item %zu is '%s', expected '%s'", where, i, stream->ids [i],
                       json_string_value (json_array_get (items, i)));
                return -1;
            }
        //  Taken: the rest stay for the next step
        for (size_t i = 0; i < want; i++)
            free (stream->ids [i]);
        memmove (stream->ids, stream->ids + want, (stream->id_count - want) * sizeof (char *));
        stream->id_count -= want;
        return 0;
    }
    if (json_object_get (step, "end")) {
        snprintf (where, sizeof where, "step %d (stream %s end)", number, name);
        if (s_stream_end (run, stream, where))
            return -1;
        if (!streq (wp_strerror (stream->final), s_str (step, "end"))) {
            s_why (run, "%s: ended %s '%s', expected %s", where, wp_strerror (stream->final),
                   stream->final_message, s_str (step, "end"));
            return -1;
        }
        if (message && !strstr (stream->final_message, message)) {
            s_why (run, "%s: message '%s' lacks '%s'", where, stream->final_message, message);
            return -1;
        }
        return 0;
    }
    if (json_is_true (json_object_get (step, "unsubscribe"))) {
        snprintf (where, sizeof where, "step %d (stream %s unsubscribe)", number, name);
        wp_request_t req;
        wp_request_init (&req);
        req.request_id = stream->request_id + 1;
        req.method = WP_METHOD_UNSUBSCRIBE;
        req.pool = stream->pool;
        req.worker_id = stream->worker_id;
        if (s_raw_send (stream->sock, &req)) {
            s_why (run, "%s: cannot encode the Unsubscribe", where);
            return -1;
        }
        //  The final message comes before the Unsubscribe's reply
        int64_t deadline = zclock_mono () + S_STREAM_WAIT_MS;
        while (!stream->unsubscribed && zclock_mono () < deadline)
            s_stream_read (stream, (int) (deadline - zclock_mono ()));
        if (!stream->unsubscribed || stream->unsubscribe_rc != WP_OK) {
            s_why (run, "%s: Unsubscribe answered %s", where,
                   stream->unsubscribed ? wp_strerror (stream->unsubscribe_rc) : "nothing");
            return -1;
        }
        if (stream->id_count > 0) {
            s_why (run, "%s: %zu items came before the end", where, stream->id_count);
            return -1;
        }
        if (!stream->ended || stream->final != WP_OK) {
            s_why (run, "%s: ended %s, expected OK end", where,
                   stream->ended ? wp_strerror (stream->final) : "not at all");
            return -1;
        }
        return 0;
    }
    s_why (run, "step %d: a stream step this runner does not know", number);
    return -1;
}

//  WorkPool.Unsubscribe as a call step, on a socket of its own: status in
//  the return, the broker's message in run->raw_message.
static wp_status
s_raw_unsubscribe (s_run_t *run, json_t *w)
{
    zsock_t *sock = s_raw_socket (run->endpoint);
    wp_request_t req;
    wp_request_init (&req);
    req.request_id = run->next_id++;
    req.method = WP_METHOD_UNSUBSCRIBE;
    req.pool = (char *) s_str (w, "pool");
    req.worker_id = (char *) s_str (w, "worker_id");
    wp_status rc = WP_INVALID_ARGUMENT;
    snprintf (run->raw_message, sizeof run->raw_message, "pool and worker_id are required");
    if (s_raw_send (sock, &req) == 0) {
        wp_reply_t reply;
        wp_reply_init (&reply);
        if (s_raw_recv (sock, S_STREAM_WAIT_MS, WP_METHOD_UNSUBSCRIBE, &reply) == 0) {
            rc = reply.status;
            snprintf (run->raw_message, sizeof run->raw_message, "%s",
                      reply.message ? reply.message : "");
        }
        else {
            rc = WP_DEADLINE_EXCEEDED;
            snprintf (run->raw_message, sizeof run->raw_message, "no reply to Unsubscribe");
        }
        wp_reply_clear (&reply);
    }
    zsock_destroy (&sock);
    return rc;
}

//  Runs one step; 0 if it went as the case says.
static int
s_step (s_run_t *run, json_t *step, int number)
{
    const char *method = s_str (step, "call");
    const char *want = s_str (step, "status") ? s_str (step, "status") : "OK";
    const char *message = s_str (step, "message");
    json_t *expect = json_object_get (step, "expect");
    int64_t deadline = zclock_mono () + (int64_t) (s_num (step, "within", 0) * 1000);
    json_t *fields = s_resolve (json_object_get (step, "with"), run->saved);
    if (!json_is_object (fields)) {
        json_decref (fields);
        fields = json_object ();
    }
    char where [256];
    snprintf (where, sizeof where, "step %d (%s)", number, method);
    json_t *reply = NULL;
    int outcome;
    while (true) {
        json_decref (reply);
        run->why [0] = 0;
        wp_status rc = s_call (run, method, fields, &reply);
        outcome = 0;
        if (run->why [0])
            outcome = -1;
        else
        if (!streq (wp_strerror (rc), want)) {
            s_why (run, "%s: %s '%s', expected %s", where, wp_strerror (rc),
                   run->raw_message [0] ? run->raw_message : wp_backend_errmsg (run->backend),
                   want);
            outcome = -1;
        }
        else
        if (message && !strstr (run->raw_message [0] ? run->raw_message
                                                     : wp_backend_errmsg (run->backend),
                                message)) {
            s_why (run, "%s: message '%s' lacks '%s'", where, wp_backend_errmsg (run->backend),
                   message);
            outcome = -1;
        }
        else
        if (expect && rc == WP_OK)
            outcome = s_match (run, expect, reply, where);
        if (outcome == 0 || zclock_mono () >= deadline)
            break;
        zclock_sleep (50);
    }
    if (outcome == 0) {
        const char *name;
        json_t *dotted;
        json_object_foreach (json_object_get (step, "save"), name, dotted) {
            json_t *value = s_at (reply, json_string_value (dotted));
            json_object_set (run->saved, name, value ? value : json_null ());
        }
    }
    json_decref (reply);
    json_decref (fields);
    return outcome;
}

//  Whether the broker answers WorkPool.List (the lifecycle verbs).
static bool
s_has_lifecycle (wp_backend_t *backend)
{
    wp_pool_t *pool = wp_backend_pool (backend, "probe");
    wp_item_list_t *items = NULL;
    char *cursor = NULL;
    wp_backend_set_timeout (backend, 2);
    wp_status rc = wp_pool_list (pool, NULL, 0, 1, NULL, &items, &cursor);
    wp_backend_set_timeout (backend, 0);
    wp_item_list_destroy (&items);
    free (cursor);
    wp_pool_destroy (&pool);
    return rc == WP_OK;
}

//  Runs case on a fresh broker. Returns 0 passed, 1 failed, 2 skipped.
static int
s_case (json_t *test, const char *store, char *why, size_t why_size)
{
    char *dir = ct_tempdir ("cases");
    char *spec = streq (store, "sqlite") ? zsys_sprintf ("sqlite:%s/workpool.db", dir)
                                         : strdup ("memory");
    char *endpoint = NULL;
    zactor_t *broker = ct_broker_start (spec, 0, 0, 0, &endpoint);
    s_run_t run = { .backend = ct_open (endpoint, 10), .endpoint = endpoint,
                    .saved = json_object (), .next_id = 1 };
    int outcome = 0;
    const char *needs = s_str (test, "needs");
    if (needs && streq (needs, "lifecycle") && !s_has_lifecycle (run.backend)) {
        snprintf (why, why_size, "this broker has no WorkPool.List yet (the lifecycle verbs)");
        outcome = 2;
    }
    size_t index;
    json_t *step;
    json_array_foreach (json_object_get (test, "steps"), index, step) {
        if (outcome)
            break;
        if (json_object_get (step, "sleep"))
            zclock_sleep ((int) (s_num (step, "sleep", 0) * 1000));
        else
        if (json_object_get (step, "subscribe") || json_object_get (step, "stream")) {
            run.why [0] = 0;
            if (s_stream_step (&run, step, (int) index + 1)) {
                snprintf (why, why_size, "%s", run.why);
                outcome = 1;
            }
        }
        else
        if (s_step (&run, step, (int) index + 1)) {
            snprintf (why, why_size, "%s", run.why);
            outcome = 1;
        }
    }
    for (size_t i = 0; i < run.stream_count; i++)
        s_stream_free (&run.streams [i]);
    json_decref (run.saved);
    wp_backend_destroy (&run.backend);
    zactor_destroy (&broker);
    ct_rmtree (dir);
    free (dir);
    free (spec);
    free (endpoint);
    return outcome;
}

int
main (int argc, char *argv [])
{
    if (argc < 2) {
        fprintf (stderr, "usage: run_cases CASES.json [memory|sqlite] [NAME-PREFIX]\n");
        return 2;
    }
    const char *store = argc > 2 ? argv [2] : "memory";
    const char *only = argc > 3 ? argv [3] : NULL;
    json_error_t error;
    json_t *document = json_load_file (argv [1], JSON_REJECT_DUPLICATES, &error);
    if (!document || json_integer_value (json_object_get (document, "format")) != 1) {
        fprintf (stderr, "%s: %s\n", argv [1], document ? "not format 1" : error.text);
        return 2;
    }
    zsys_init ();
    int passed = 0, failed = 0, skipped = 0;
    size_t index;
    json_t *test;
    json_array_foreach (json_object_get (document, "cases"), index, test) {
        const char *name = s_str (test, "name");
        if (only && strncmp (name, only, strlen (only)) != 0)
            continue;
        char why [S_ERR_MAX] = "";
        int outcome = s_case (test, store, why, sizeof why);
        if (outcome == 0)
            printf ("ok - %s\n", name), passed++;
        else
        if (outcome == 2)
            printf ("ok - %s # skip: %s\n", name, why), skipped++;
        else
            printf ("not ok - %s: %s\n", name, why), failed++;
        fflush (stdout);
    }
    printf ("%d passed, %d failed (%d skipped)\n", passed, failed, skipped);
    json_decref (document);
    return failed || passed + skipped == 0 ? 1 : 0;
}
