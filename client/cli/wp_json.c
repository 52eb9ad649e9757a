/*  wp_json: JSON <-> msgpack and records -> JSON for the command line.
    The rules are in wp_json.h.  */
#include "wp_json.h"
#include "wp_msgpack.h"
#include <czmq.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  jansson returns NULL when it runs out of memory; we abort, as everywhere.
static json_t *
s_new (json_t *value)
{
    if (!value)
        abort ();
    return value;
}

static void
s_set (json_t *object, const char *key, json_t *value)
{
    if (json_object_set_new (object, key, s_new (value)))
        abort ();
}

static void
s_append (json_t *array, json_t *value)
{
    if (json_array_append_new (array, s_new (value)))
        abort ();
}

static void
s_error (char *errbuf, size_t errlen, const char *format, ...)
{
    if (!errbuf || errlen == 0)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (errbuf, errlen, format, args);
    va_end (args);
}

json_t *
wp_json_parse (const char *text, size_t len, char *errbuf, size_t errlen)
{
    json_error_t error;
    json_t *json = json_loadb (text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
                               &error);
    if (!json)
        s_error (errbuf, errlen, "line %d column %d: %s", error.line, error.column, error.text);
    return json;
}

//  ---------------------------------------------------------------------
//  Base64, through czmq's zarmour. zarmour decodes whatever it is given, so
//  we check the text first: standard alphabet, padded to a multiple of 4.

static char *
s_base64_encode (const uint8_t *data, size_t size)
{
    zarmour_t *armour = zarmour_new ();
    //  zarmour asserts on NULL data, which msgpack-c gives an empty bin
    char *text = zarmour_encode (armour, size ? data : (const uint8_t *) "", size);
    zarmour_destroy (&armour);
    if (!text)
        abort ();
    return text;
}

//  Returns the decoded length of a valid base64 text, or -1.
static ssize_t
s_base64_check (const char *text, size_t len)
{
    if (len % 4)
        return -1;
    size_t pad = 0;
    while (pad < 2 && pad < len && text [len - 1 - pad] == '=')
        pad++;
    for (size_t i = 0; i < len - pad; i++) {
        char c = text [i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
        ||    c == '+' || c == '/'))
            return -1;
    }
    return (ssize_t) (len / 4 * 3 - pad);
}

//  Decodes base64 text that passed s_base64_check (which said size) into a
//  fresh buffer; caller frees.
static uint8_t *
s_base64_decode (const char *text, size_t size)
{
    uint8_t *bytes = malloc (size ? size : 1);
    if (!bytes)
        abort ();
    if (size) {
        zarmour_t *armour = zarmour_new ();
        zchunk_t *chunk = zarmour_decode (armour, text);
        zarmour_destroy (&armour);
        if (!chunk || zchunk_size (chunk) < size)
            abort ();
        memcpy (bytes, zchunk_data (chunk), size);
        zchunk_destroy (&chunk);
    }
    return bytes;
}

//  ---------------------------------------------------------------------
//  JSON -> msgpack

//  If object is one of the reserved shapes, packs it and returns 1; returns
//  0 if it is a plain object, -1 on a malformed reserved one.
static int
s_pack_special (msgpack_packer *pk, const json_t *object, char *errbuf, size_t errlen)
{
    size_t members = json_object_size (object);
    json_t *bin = json_object_get (object, "$bin");
    json_t *ext = json_object_get (object, "$ext");
    if (!bin || !((members == 1) || (members == 2 && ext)))
        return 0;
    if (!json_is_string (bin)) {
        s_error (errbuf, errlen, "\"$bin\" must be a base64 string");
        return -1;
    }
    if (ext && !(json_is_integer (ext)
             &&  json_integer_value (ext) >= INT8_MIN && json_integer_value (ext) <= INT8_MAX)) {
        s_error (errbuf, errlen, "\"$ext\" must be an integer from -128 to 127");
        return -1;
    }
    const char *text = json_string_value (bin);
    ssize_t size = s_base64_check (text, json_string_length (bin));
    if (size < 0) {
        s_error (errbuf, errlen, "\"$bin\" is not valid base64 (standard alphabet, padded)");
        return -1;
    }
    uint8_t *bytes = s_base64_decode (text, (size_t) size);
    if (ext) {
        msgpack_pack_ext (pk, (size_t) size, (int8_t) json_integer_value (ext));
        msgpack_pack_ext_body (pk, bytes, (size_t) size);
    }
    else {
        msgpack_pack_bin (pk, (size_t) size);
        msgpack_pack_bin_body (pk, bytes, (size_t) size);
    }
    free (bytes);
    return 1;
}

static int
s_pack (msgpack_packer *pk, const json_t *json, int depth, char *errbuf, size_t errlen)
{
    switch (json_typeof (json)) {
        case JSON_OBJECT: {
            if (depth >= WP_MP_DEPTH_MAX) {
                s_error (errbuf, errlen, "nested deeper than %d arrays/objects", WP_MP_DEPTH_MAX);
                return -1;
            }
            int special = s_pack_special (pk, json, errbuf, errlen);
            if (special)
                return special < 0 ? -1 : 0;
            msgpack_pack_map (pk, json_object_size (json));
            const char *key;
            size_t key_len;
            json_t *value;
            json_object_keylen_foreach ((json_t *) json, key, key_len, value) {
                msgpack_pack_str_with_body (pk, key, key_len);
                if (s_pack (pk, value, depth + 1, errbuf, errlen))
                    return -1;
            }
            return 0;
        }
        case JSON_ARRAY: {
            if (depth >= WP_MP_DEPTH_MAX) {
                s_error (errbuf, errlen, "nested deeper than %d arrays/objects", WP_MP_DEPTH_MAX);
                return -1;
            }
            msgpack_pack_array (pk, json_array_size (json));
            size_t index;
            json_t *value;
            json_array_foreach ((json_t *) json, index, value) {
                if (s_pack (pk, value, depth + 1, errbuf, errlen))
                    return -1;
            }
            return 0;
        }
        case JSON_STRING:
            msgpack_pack_str_with_body (pk, json_string_value (json), json_string_length (json));
            return 0;
        case JSON_INTEGER:
            msgpack_pack_int64 (pk, json_integer_value (json));
            return 0;
        case JSON_REAL:
            msgpack_pack_double (pk, json_real_value (json));
            return 0;
        case JSON_TRUE:
            msgpack_pack_true (pk);
            return 0;
        case JSON_FALSE:
            msgpack_pack_false (pk);
            return 0;
        case JSON_NULL:
            msgpack_pack_nil (pk);
            return 0;
    }
    s_error (errbuf, errlen, "unknown JSON type");
    return -1;
}

int
wp_json_to_msgpack (const json_t *json, uint8_t **buf_p, size_t *size_p,
                    char *errbuf, size_t errlen)
{
    wp_mp_writer_t writer;
    wp_mp_writer_init (&writer);
    if (s_pack (&writer.pk, json, 0, errbuf, errlen)) {
        wp_mp_writer_clear (&writer);
        return -1;
    }
    wp_mp_writer_take (&writer, buf_p, size_p);
    return 0;
}

int
wp_json_to_meta (const json_t *json, wp_meta_t *meta, char *errbuf, size_t errlen)
{
    if (!json_is_object (json)) {
        s_error (errbuf, errlen, "metadata must be a JSON object");
        return -1;
    }
    const char *key;
    size_t key_len;
    json_t *value;
    json_object_keylen_foreach ((json_t *) json, key, key_len, value) {
        if (strlen (key) != key_len) {
            s_error (errbuf, errlen, "metadata keys may not contain NUL");
            return -1;
        }
        uint8_t *buf;
        size_t size;
        if (wp_json_to_msgpack (value, &buf, &size, errbuf, errlen))
            return -1;
        wp_meta_set (meta, key, buf, size);
        free (buf);
    }
    return 0;
}

//  ---------------------------------------------------------------------
//  msgpack -> JSON

static json_t *
s_bin_object (const char *key, const void *bytes, size_t size)
{
    char *text = s_base64_encode (bytes, size);
    json_t *object = s_new (json_object ());
    s_set (object, key, json_string (text));
    free (text);
    return object;
}

static json_t *s_from_object (const msgpack_object *object);
static json_t *s_number (double value);

//  Text from outside as a JSON string; bytes that are not valid UTF-8 (which
//  jansson refuses) as {"$bin": "BASE64"}, so that nothing is lost.
static json_t *
s_text (const char *text, size_t len)
{
    if (len == 0)
        return s_new (json_string (""));    //  msgpack-c's pointer may be NULL
    json_t *string = json_stringn (text, len);
    return string ? string : s_bin_object ("$bin", text, len);
}

//  Sets object[name] (taking name and value): a string name as it is, any
//  other as its compact JSON text. So map keys that are not strings, and
//  keys from outside that are not valid UTF-8, still make a JSON key.
static void
s_set_named (json_t *object, json_t *name, json_t *value)
{
    if (json_is_string (name)) {
        if (json_object_setn_new (object, json_string_value (name),
                                  json_string_length (name), value))
            abort ();
    }
    else {
        char *text = json_dumps (name, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!text || json_object_set_new (object, text, value))
            abort ();
        free (text);
    }
    json_decref (name);
}

//  Sets object[key] for a key from outside. Takes value.
static void
s_set_key (json_t *object, const char *key, json_t *value)
{
    s_set_named (object, s_text (key, strlen (key)), value);
}

static json_t *
s_from_object (const msgpack_object *object)
{
    switch (object->type) {
        case MSGPACK_OBJECT_NIL:
            return s_new (json_null ());
        case MSGPACK_OBJECT_BOOLEAN:
            return s_new (json_boolean (object->via.boolean));
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            if (object->via.u64 > INT64_MAX)
                return s_new (json_real ((double) object->via.u64));
            return s_new (json_integer ((json_int_t) object->via.u64));
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            return s_new (json_integer ((json_int_t) object->via.i64));
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
            return s_number (object->via.f64);
        case MSGPACK_OBJECT_STR:
            return s_text (object->via.str.ptr, object->via.str.size);
        case MSGPACK_OBJECT_BIN:
            return s_bin_object ("$bin", object->via.bin.ptr, object->via.bin.size);
        case MSGPACK_OBJECT_EXT: {
            json_t *ext = s_new (json_object ());
            s_set (ext, "$ext", json_integer (object->via.ext.type));
            char *text = s_base64_encode ((const uint8_t *) object->via.ext.ptr,
                                          object->via.ext.size);
            s_set (ext, "$bin", json_string (text));
            free (text);
            return ext;
        }
        case MSGPACK_OBJECT_ARRAY: {
            json_t *array = s_new (json_array ());
            for (uint32_t i = 0; i < object->via.array.size; i++)
                s_append (array, s_from_object (&object->via.array.ptr [i]));
            return array;
        }
        case MSGPACK_OBJECT_MAP: {
            json_t *map = s_new (json_object ());
            for (uint32_t i = 0; i < object->via.map.size; i++)
                s_set_named (map, s_from_object (&object->via.map.ptr [i].key),
                             s_from_object (&object->via.map.ptr [i].val));
            return map;
        }
    }
    return s_new (json_null ());        //  msgpack-c makes no other type
}

json_t *
wp_json_from_msgpack (const uint8_t *buf, size_t size)
{
    if (!buf || size == 0)
        return NULL;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    json_t *json = NULL;
    if (wp_mp_unpack (&unpacked, buf, size, NULL, 0) == 0)
        json = s_from_object (&unpacked.data);
    msgpack_unpacked_destroy (&unpacked);
    return json;
}

json_t *
wp_json_from_data (const uint8_t *buf, size_t size)
{
    if (!buf)
        return s_new (json_null ());
    json_t *json = wp_json_from_msgpack (buf, size);
    return json ? json : s_bin_object ("$raw", buf, size);
}

//  ---------------------------------------------------------------------
//  Records

//  A string, or null for NULL
static json_t *
s_string_or_null (const char *text)
{
    return text ? s_text (text, strlen (text)) : s_new (json_null ());
}

//  jansson has no NaN or infinity
static json_t *
s_number (double value)
{
    if (isnan (value))
        return s_new (json_string ("NaN"));
    if (isinf (value))
        return s_new (json_string (value > 0 ? "Infinity" : "-Infinity"));
    return s_new (json_real (value));
}

//  Counters are uint64; jansson holds int64
static json_t *
s_count (uint64_t value)
{
    if (value > INT64_MAX)
        return s_new (json_real ((double) value));
    return s_new (json_integer ((json_int_t) value));
}

json_t *
wp_json_from_time (int64_t t)
{
    if (t == 0)
        return s_new (json_null ());
    char text [WP_TIME_BUFSIZE];
    return s_new (json_string (wp_time_format (t, text)));
}

json_t *
wp_json_from_item (const wp_item_t *item)
{
    json_t *object = s_new (json_object ());
    s_set (object, "id", s_string_or_null (item->id));
    s_set (object, "pool", s_string_or_null (item->pool));
    s_set (object, "data", wp_json_from_data (item->data, item->data_size));
    s_set (object, "status", json_string (wp_item_state_name (item->status)));
    s_set (object, "claimed_by", s_string_or_null (item->claimed_by));
    s_set (object, "claimed_at", wp_json_from_time (item->claimed_at));
    s_set (object, "lease_expires_at", wp_json_from_time (item->lease_expires_at));
    s_set (object, "attempts", json_integer (item->attempts));
    s_set (object, "max_retries", json_integer (item->max_retries));
    s_set (object, "result", wp_json_from_data (item->result, item->result_size));
    s_set (object, "error", s_string_or_null (item->error));
    s_set (object, "created_at", wp_json_from_time (item->created_at));
    s_set (object, "priority", json_integer (item->priority));
    s_set (object, "run_at", wp_json_from_time (item->run_at));
    s_set (object, "unique_key", s_string_or_null (item->unique_key));
    return object;
}

json_t *
wp_json_from_schedule (const wp_schedule_t *schedule)
{
    json_t *object = s_new (json_object ());
    s_set (object, "name", s_string_or_null (schedule->name));
    s_set (object, "pool", s_string_or_null (schedule->pool));
    s_set (object, "cron", s_string_or_null (schedule->cron));
    s_set (object, "data", wp_json_from_data (schedule->data, schedule->data_size));
    s_set (object, "priority", json_integer (schedule->priority));
    s_set (object, "max_retries", schedule->max_retries < 0
                                  ? json_null () : json_integer (schedule->max_retries));
    s_set (object, "next_at", wp_json_from_time (schedule->next_at));
    s_set (object, "last_fired_at", wp_json_from_time (schedule->last_fired_at));
    s_set (object, "created_at", wp_json_from_time (schedule->created_at));
    return object;
}

json_t *
wp_json_from_worker (const wp_worker_t *worker)
{
    json_t *object = s_new (json_object ());
    s_set (object, "worker_id", s_string_or_null (worker->worker_id));
    s_set (object, "host", s_string_or_null (worker->host));
    s_set (object, "pid", worker->pid < 0 ? json_null () : json_integer (worker->pid));
    json_t *capabilities = s_new (json_array ());
    for (size_t i = 0; i < worker->capability_count; i++)
        s_append (capabilities, json_string (worker->capabilities [i]));
    s_set (object, "capabilities", capabilities);
    s_set (object, "pool_id", s_string_or_null (worker->pool_id));
    s_set (object, "started_at", wp_json_from_time (worker->started_at));
    s_set (object, "status", s_string_or_null (worker->status));
    s_set (object, "last_heartbeat", wp_json_from_time (worker->last_heartbeat));
    s_set (object, "current_task_id", s_string_or_null (worker->current_task_id));
    s_set (object, "heartbeat_interval_seconds", s_number (worker->heartbeat_interval));
    json_t *metadata = s_new (json_object ());
    for (size_t i = 0; i < worker->metadata.count; i++) {
        const wp_meta_entry_t *entry = &worker->metadata.entries [i];
        s_set_key (metadata, entry->key, wp_json_from_data (entry->value, entry->value_size));
    }
    s_set (object, "metadata", metadata);
    return object;
}

json_t *
wp_json_from_pool_stats (const wp_pool_stats_t *pool)
{
    json_t *entry = s_new (json_object ());
    s_set (entry, "pool", s_string_or_null (pool->pool));
    s_set (entry, "pending", s_count (pool->pending));
    s_set (entry, "claimed", s_count (pool->claimed));
    s_set (entry, "done", s_count (pool->done));
    s_set (entry, "poisoned", s_count (pool->poisoned));
    s_set (entry, "paused", json_boolean (pool->paused));
    s_set (entry, "scheduled", s_count (pool->scheduled));
    s_set (entry, "backoff_base_seconds", s_number (pool->backoff.base));
    s_set (entry, "backoff_cap_seconds", s_number (pool->backoff.cap));
    s_set (entry, "backoff_jitter", s_number (pool->backoff.jitter));
    return entry;
}

json_t *
wp_json_from_stats (const wp_stats_t *stats)
{
    json_t *object = s_new (json_object ());
    json_t *pools = s_new (json_array ());
    for (size_t i = 0; i < stats->pool_count; i++)
        s_append (pools, wp_json_from_pool_stats (&stats->pools [i]));
    s_set (object, "pools", pools);
    json_t *workers = s_new (json_object ());
    for (size_t i = 0; i < stats->worker_status_count; i++)
        s_set_key (workers, stats->workers [i].status, s_count (stats->workers [i].count));
    s_set (object, "workers", workers);
    json_t *counters = s_new (json_object ());
    for (size_t i = 0; i < stats->counter_count; i++)
        s_set_key (counters, stats->counters [i].name, s_count (stats->counters [i].value));
    s_set (object, "counters", counters);
    return object;
}
