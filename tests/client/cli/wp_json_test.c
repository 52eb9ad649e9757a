/*  wp_json_test: the command line's JSON conversions: exact msgpack bytes
    for every JSON type, the reserved $bin/$ext shapes, the depth limit,
    every msgpack type back to JSON (bad UTF-8, huge uints, NaN, non-string
    keys, malformed and hostile bytes), and the records' JSON form.  */
#include "wp_json.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond) do { \
    if (!(cond)) { \
        fprintf (stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        exit (1); \
    } \
} while (0)

//  JSON text -> msgpack must give exactly the expected bytes
static void
s_expect_pack (const char *text, const char *bytes, size_t size)
{
    char error [256] = "";
    json_t *json = wp_json_parse (text, strlen (text), error, sizeof error);
    if (!json)
        fprintf (stderr, "parse %s: %s\n", text, error);
    CHECK (json);
    uint8_t *buf = NULL;
    size_t buf_size = 0;
    int rc = wp_json_to_msgpack (json, &buf, &buf_size, error, sizeof error);
    if (rc)
        fprintf (stderr, "pack %s: %s\n", text, error);
    CHECK (rc == 0);
    if (buf_size != size || memcmp (buf, bytes, size)) {
        fprintf (stderr, "pack %s gave", text);
        for (size_t i = 0; i < buf_size; i++)
            fprintf (stderr, " %02x", buf [i]);
        fprintf (stderr, "\n");
        CHECK (false);
    }
    free (buf);
    json_decref (json);
}

//  JSON text that parses but must not encode; the message must name why
static void
s_expect_pack_error (const char *text, const char *why)
{
    char error [256] = "";
    json_t *json = wp_json_parse (text, strlen (text), error, sizeof error);
    if (!json)
        fprintf (stderr, "parse %s: %s\n", text, error);
    CHECK (json);
    uint8_t *buf = (uint8_t *) "untouched";
    size_t size = 7;
    CHECK (wp_json_to_msgpack (json, &buf, &size, error, sizeof error) == -1);
    CHECK (strcmp ((char *) buf, "untouched") == 0 && size == 7);
    if (!strstr (error, why))
        fprintf (stderr, "pack %s: '%s' lacks '%s'\n", text, error, why);
    CHECK (strstr (error, why));
    json_decref (json);
}

//  The compact JSON text of json (which is consumed) must be expected
static void
s_expect_text (json_t *json, const char *expected)
{
    CHECK (json);
    char *text = json_dumps (json, JSON_COMPACT | JSON_ENCODE_ANY);
    CHECK (text);
    if (strcmp (text, expected))
        fprintf (stderr, "got %s\nexpected %s\n", text, expected);
    CHECK (strcmp (text, expected) == 0);
    free (text);
    json_decref (json);
}

//  msgpack bytes -> compact JSON text must be expected (NULL: must fail)
static void
s_expect_json (const char *bytes, size_t size, const char *expected)
{
    json_t *json = wp_json_from_msgpack ((const uint8_t *) bytes, size);
    if (!expected) {
        CHECK (json == NULL);
        return;
    }
    if (!json)
        fprintf (stderr, "no JSON for %s\n", expected);
    s_expect_text (json, expected);
}

static void
s_test_parse (void)
{
    char error [256] = "";
    const char *ok [] = { "{}", "[]", "\"x\"", "42", "-1.5e3", "true", "false", "null",
                          " {\"a\": [1, {\"b\": null}]} ", NULL };
    for (int i = 0; ok [i]; i++) {
        json_t *json = wp_json_parse (ok [i], strlen (ok [i]), error, sizeof error);
        CHECK (json);
        json_decref (json);
    }
    const char *bad [] = { "", "{", "{\"a\":}", "[1,]", "nul", "'x'", "{\"a\":1,\"a\":2}",
                           "1 2", "18446744073709551616", "1e400", "{a:1}", NULL };
    for (int i = 0; bad [i]; i++) {
        strcpy (error, "");
        json_t *json = wp_json_parse (bad [i], strlen (bad [i]), error, sizeof error);
        if (json)
            fprintf (stderr, "parsed %s\n", bad [i]);
        CHECK (json == NULL);
        CHECK (strncmp (error, "line ", 5) == 0 && strstr (error, "column "));
    }
    //  Duplicate keys are refused, by name
    wp_json_parse ("{\"k\":1,\"k\":2}", 13, error, sizeof error);
    CHECK (strstr (error, "duplicate"));
    //  NUL inside a string is kept (it is the length that counts)
    json_t *json = wp_json_parse ("\"a\\u0000b\"", 10, error, sizeof error);
    CHECK (json && json_string_length (json) == 3);
    json_decref (json);
    //  The length given is what is parsed
    json = wp_json_parse ("12345", 2, error, sizeof error);
    CHECK (json && json_integer_value (json) == 12);
    json_decref (json);
}

static void
s_test_to_msgpack (void)
{
    s_expect_pack ("null", "\xc0", 1);
    s_expect_pack ("true", "\xc3", 1);
    s_expect_pack ("false", "\xc2", 1);
    s_expect_pack ("0", "\x00", 1);
    s_expect_pack ("127", "\x7f", 1);
    s_expect_pack ("128", "\xcc\x80", 2);
    s_expect_pack ("300", "\xcd\x01\x2c", 3);
    s_expect_pack ("-1", "\xff", 1);
    s_expect_pack ("-33", "\xd0\xdf", 2);
    s_expect_pack ("9223372036854775807", "\xcf\x7f\xff\xff\xff\xff\xff\xff\xff", 9);
    s_expect_pack ("-9223372036854775808", "\xd3\x80\x00\x00\x00\x00\x00\x00\x00", 9);
    s_expect_pack ("1.5", "\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00", 9);
    s_expect_pack ("1.0", "\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00", 9);
    s_expect_pack ("\"\"", "\xa0", 1);
    s_expect_pack ("\"hi\"", "\xa2hi", 3);
    s_expect_pack ("\"\\u00e9\"", "\xa2\xc3\xa9", 3);
    s_expect_pack ("\"a\\u0000b\"", "\xa3" "a\0b", 4);
    s_expect_pack ("[]", "\x90", 1);
    s_expect_pack ("{}", "\x80", 1);
    s_expect_pack ("[1,\"a\",null]", "\x93\x01\xa1" "a\xc0", 5);
    //  Key order as written
    s_expect_pack ("{\"b\":1,\"a\":[true]}", "\x82\xa1" "b\x01\xa1" "a\x91\xc3", 8);
    //  A 40-byte string takes str8
    s_expect_pack ("\"0123456789012345678901234567890123456789\"",
                   "\xd9\x28" "0123456789012345678901234567890123456789", 42);

    //  Reserved shapes
    s_expect_pack ("{\"$bin\":\"aGk=\"}", "\xc4\x02hi", 4);
    s_expect_pack ("{\"$bin\":\"\"}", "\xc4\x00", 2);
    s_expect_pack ("{\"$bin\":\"AP8=\"}", "\xc4\x02\x00\xff", 4);
    s_expect_pack ("{\"$bin\":\"AAAA\"}", "\xc4\x03\x00\x00\x00", 5);
    s_expect_pack ("{\"$ext\":5,\"$bin\":\"AQ==\"}", "\xd4\x05\x01", 3);
    s_expect_pack ("{\"$bin\":\"AQID\",\"$ext\":-1}", "\xc7\x03\xff\x01\x02\x03", 6);
    //  ... only those: other members make it a plain map
    s_expect_pack ("{\"$bin\":\"aGk=\",\"x\":1}",
                   "\x82\xa4$bin\xa4" "aGk=\xa1x\x01", 14);
    s_expect_pack ("{\"$ext\":1}", "\x81\xa4$ext\x01", 7);
    s_expect_pack_error ("{\"$bin\":5}", "base64 string");
    s_expect_pack_error ("{\"$bin\":\"aGk\"}", "not valid base64");
    s_expect_pack_error ("{\"$bin\":\"a*k=\"}", "not valid base64");
    s_expect_pack_error ("{\"$bin\":\"a===\"}", "not valid base64");
    s_expect_pack_error ("{\"$bin\":\"aG=k\"}", "not valid base64");
    s_expect_pack_error ("{\"$bin\":\"aGk=\\n\"}", "not valid base64");
    s_expect_pack_error ("{\"$ext\":128,\"$bin\":\"\"}", "-128 to 127");
    s_expect_pack_error ("{\"$ext\":-129,\"$bin\":\"\"}", "-128 to 127");
    s_expect_pack_error ("{\"$ext\":\"1\",\"$bin\":\"\"}", "-128 to 127");
    s_expect_pack_error ("[1,{\"$bin\":null}]", "base64 string");

    //  Depth: 32 nested containers encode, 33 do not
    char deep [80];
    memset (deep, '[', 32);
    memset (deep + 32, ']', 32);
    deep [64] = 0;
    char expect [32];
    memset (expect, '\x91', 31);
    expect [31] = '\x90';
    s_expect_pack (deep, expect, 32);
    memset (deep, '[', 33);
    memset (deep + 33, ']', 33);
    deep [66] = 0;
    s_expect_pack_error (deep, "nested deeper than 32");
    //  ... counting objects too: {"a": 32 arrays} is 33 deep
    char mixed [80] = "{\"a\":";
    memset (mixed + 5, '[', 32);
    memcpy (mixed + 37, "1", 1);
    memset (mixed + 38, ']', 32);
    strcpy (mixed + 70, "}");
    s_expect_pack_error (mixed, "nested deeper");
    //  {"a": 31 arrays} is 32 deep: fine
    memset (mixed + 5, '[', 31);
    mixed [36] = '1';
    memset (mixed + 37, ']', 31);
    strcpy (mixed + 68, "}");
    char error [256];
    json_t *json = wp_json_parse (mixed, strlen (mixed), error, sizeof error);
    CHECK (json);
    uint8_t *buf;
    size_t size;
    CHECK (wp_json_to_msgpack (json, &buf, &size, error, sizeof error) == 0);
    CHECK (size == 1 + 2 + 31 + 1);
    free (buf);
    json_decref (json);
}

static void
s_test_from_msgpack (void)
{
    s_expect_json ("\xc0", 1, "null");
    s_expect_json ("\xc3", 1, "true");
    s_expect_json ("\xc2", 1, "false");
    s_expect_json ("\x05", 1, "5");
    s_expect_json ("\xe0", 1, "-32");
    s_expect_json ("\xd3\x80\x00\x00\x00\x00\x00\x00\x00", 9, "-9223372036854775808");
    s_expect_json ("\xcf\x7f\xff\xff\xff\xff\xff\xff\xff", 9, "9223372036854775807");
    //  Above INT64_MAX: a real
    s_expect_json ("\xcf\xff\xff\xff\xff\xff\xff\xff\xff", 9, "1.8446744073709552e19");
    s_expect_json ("\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00", 9, "1.5");
    s_expect_json ("\xca\x3f\xc0\x00\x00", 5, "1.5");                  //  float32
    s_expect_json ("\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00", 9, "\"NaN\"");
    s_expect_json ("\xcb\x7f\xf0\x00\x00\x00\x00\x00\x00", 9, "\"Infinity\"");
    s_expect_json ("\xcb\xff\xf0\x00\x00\x00\x00\x00\x00", 9, "\"-Infinity\"");
    s_expect_json ("\xa2hi", 3, "\"hi\"");
    s_expect_json ("\xa0", 1, "\"\"");
    s_expect_json ("\xd9\x00", 2, "\"\"");
    s_expect_json ("\xa3" "a\0b", 4, "\"a\\u0000b\"");
    //  Not UTF-8: the bytes, as $bin
    s_expect_json ("\xa2\xff\xfe", 3, "{\"$bin\":\"//4=\"}");
    s_expect_json ("\xa2\xc0\x80", 3, "{\"$bin\":\"wIA=\"}");          //  overlong NUL
    s_expect_json ("\xc4\x02hi", 4, "{\"$bin\":\"aGk=\"}");
    s_expect_json ("\xc4\x00", 2, "{\"$bin\":\"\"}");
    s_expect_json ("\xd4\x05\x01", 3, "{\"$ext\":5,\"$bin\":\"AQ==\"}");
    s_expect_json ("\xc7\x00\xff", 3, "{\"$ext\":-1,\"$bin\":\"\"}");
    s_expect_json ("\x93\x01\xa1" "a\xc0", 5, "[1,\"a\",null]");
    s_expect_json ("\x82\xa1" "b\x01\xa1" "a\x02", 7, "{\"b\":1,\"a\":2}");
    //  Keys that are not strings: their JSON text
    s_expect_json ("\x85\x01\xa1x\xc0\x02\xc3\x03\x92\x01\x02\x04\xc4\x01\x00\x05", 16,
        "{\"1\":\"x\",\"null\":2,\"true\":3,\"[1,2]\":4,\"{\\\"$bin\\\":\\\"AA==\\\"}\":5}");
    //  A key not UTF-8
    s_expect_json ("\x81\xa1\xff\x01", 4, "{\"{\\\"$bin\\\":\\\"/w==\\\"}\":1}");
    //  Keys equal once converted: the last wins
    s_expect_json ("\x82\x01\xa1" "a\xa1" "1\xa1" "b", 8, "{\"1\":\"b\"}");
    //  Key with a NUL
    s_expect_json ("\x81\xa3" "a\0b\x01", 6, "{\"a\\u0000b\":1}");

    //  Not exactly one value
    s_expect_json ("", 0, NULL);
    s_expect_json ("\x01\x02", 2, NULL);                            //  trailing byte
    s_expect_json ("\xa5" "ab", 3, NULL);                          //  truncated str
    s_expect_json ("\x92\x01", 2, NULL);                            //  truncated array
    s_expect_json ("\xc1", 1, NULL);                                //  never used
    s_expect_json ("\xdd\xff\xff\xff\xff", 5, NULL);                //  2^32 elements, no bytes
    s_expect_json ("\xdf\xff\xff\xff\xff\x01", 6, NULL);
    s_expect_json ("\xc6\xff\xff\xff\xff\x00", 6, NULL);            //  4 GiB bin
    CHECK (wp_json_from_msgpack (NULL, 5) == NULL);

    //  Depth: 32 decode, 33 do not
    char deep [40];
    memset (deep, '\x91', sizeof deep);
    deep [31] = '\xc0';
    json_t *json = wp_json_from_msgpack ((const uint8_t *) deep, 32);
    CHECK (json && json_is_array (json));
    json_decref (json);
    deep [31] = '\x90';
    json = wp_json_from_msgpack ((const uint8_t *) deep, 32);
    CHECK (json);
    json_decref (json);
    memset (deep, '\x91', sizeof deep);
    deep [32] = '\x90';
    CHECK (wp_json_from_msgpack ((const uint8_t *) deep, 33) == NULL);

    //  wp_json_from_data never fails
    s_expect_text (wp_json_from_data (NULL, 0), "null");
    s_expect_text (wp_json_from_data ((const uint8_t *) "\x01\x02", 2), "{\"$raw\":\"AQI=\"}");
    json = wp_json_from_data ((const uint8_t *) deep, 33);
    CHECK (strncmp (json_string_value (json_object_get (json, "$raw")), "kZGR", 4) == 0);
    json_decref (json);
    s_expect_text (wp_json_from_data ((const uint8_t *) "\x81\xa1k\x90", 4), "{\"k\":[]}");
}

//  JSON -> msgpack -> JSON gives the same value
static void
s_test_round_trip (void)
{
    const char *values [] = {
        "{\"name\":\"job\",\"n\":[1,-2,3.25,true,false,null],\"nested\":{\"a\":{\"b\":[]}},"
        "\"bin\":{\"$bin\":\"AAECAwQ=\"},\"ext\":{\"$ext\":-1,\"$bin\":\"AAAAAQ==\"},"
        "\"utf8\":\"\\u00e9\\u4e2d\\ud83d\\ude00\",\"nul\":\"a\\u0000b\"}",
        "0.1", "1e-300", "-0.0", "\"\"", "[[],{}]", "{\"$bin\":\"\"}",
        NULL
    };
    for (int i = 0; values [i]; i++) {
        char error [256];
        json_t *in = wp_json_parse (values [i], strlen (values [i]), error, sizeof error);
        CHECK (in);
        uint8_t *buf;
        size_t size;
        CHECK (wp_json_to_msgpack (in, &buf, &size, error, sizeof error) == 0);
        json_t *out = wp_json_from_msgpack (buf, size);
        CHECK (out);
        if (!json_equal (in, out))
            fprintf (stderr, "round trip of %s\n", values [i]);
        CHECK (json_equal (in, out));
        //  Every bit of a real comes back
        if (json_is_real (in))
            CHECK (memcmp (&(double) { json_real_value (in) },
                           &(double) { json_real_value (out) }, sizeof (double)) == 0);
        free (buf);
        json_decref (in);
        json_decref (out);
    }
}

static void
s_test_meta (void)
{
    char error [256];
    const char *text = "{\"gpu\":\"a100\",\"load\":0.5,\"tags\":[1,2]}";
    json_t *json = wp_json_parse (text, strlen (text), error, sizeof error);
    wp_meta_t meta = { NULL, 0 };
    CHECK (wp_json_to_meta (json, &meta, error, sizeof error) == 0);
    CHECK (meta.count == 3);
    const wp_meta_entry_t *entry = wp_meta_get (&meta, "gpu");
    CHECK (entry && entry->value_size == 5 && memcmp (entry->value, "\xa4" "a100", 5) == 0);
    entry = wp_meta_get (&meta, "tags");
    CHECK (entry && entry->value_size == 3 && memcmp (entry->value, "\x92\x01\x02", 3) == 0);
    json_decref (json);
    wp_meta_clear (&meta);

    json = json_array ();
    CHECK (wp_json_to_meta (json, &meta, error, sizeof error) == -1);
    CHECK (strstr (error, "must be a JSON object"));
    json_decref (json);
    json = wp_json_parse ("{\"a\":{\"$bin\":\"!\"}}", 18, error, sizeof error);
    CHECK (json);
    CHECK (wp_json_to_meta (json, &meta, error, sizeof error) == -1);
    CHECK (strstr (error, "base64"));
    json_decref (json);
    wp_meta_clear (&meta);
    //  jansson parses no NUL in a key, but builds one
    CHECK (wp_json_parse ("{\"a\\u0000b\":1}", 14, error, sizeof error) == NULL);
    json = json_object ();
    json_object_setn_new (json, "a\0b", 3, json_integer (1));
    CHECK (wp_json_to_meta (json, &meta, error, sizeof error) == -1);
    CHECK (strstr (error, "NUL"));
    json_decref (json);
    wp_meta_clear (&meta);
}

static void
s_test_records (void)
{
    //  An item fresh from a push: unset fields are null, times RFC 3339
    wp_item_t *item = wp_item_new ();
    item->id = strdup ("i1");
    item->pool = strdup ("jobs");
    item->data = malloc (4);
    memcpy (item->data, "\x81\xa1n\x01", 4);      //  {"n": 1}, but only 3 bytes given
    item->data_size = 3;
    item->max_retries = 3;
    item->created_at = 1795671540123456;
    s_expect_text (wp_json_from_item (item),
        "{\"id\":\"i1\",\"pool\":\"jobs\",\"data\":{\"$raw\":\"gaFu\"},\"status\":\"pending\","
        "\"claimed_by\":null,\"claimed_at\":null,\"lease_expires_at\":null,\"attempts\":0,"
                   "\"max_retries\":3,\"result\":null,\"error\":null,"
                   "\"created_at\":\"2026-11-26T05:39:00.123456Z\",\"priority\":0,"
                   "\"run_at\":null,\"unique_key\":null}");

    //  A done item with everything set
    item->data_size = 4;
    item->status = WP_ITEM_DONE;
    item->claimed_by = strdup ("w1");
    item->claimed_at = 1795671541000000;
    item->lease_expires_at = 1795671841000000;
    item->attempts = 2;
    item->result = malloc (1);
    item->result [0] = 0x2a;
    item->result_size = 1;
    item->error = strdup ("boom \"quoted\"");
    item->priority = -7;
    item->run_at = 1795671600000000;
    item->unique_key = strdup ("k1");
    s_expect_text (wp_json_from_item (item),
                   "{\"id\":\"i1\",\"pool\":\"jobs\",\"data\":{\"n\":1},\"status\":\"done\","
                   "\"claimed_by\":\"w1\",\"claimed_at\":\"2026-11-26T05:39:01.000000Z\","
                   "\"lease_expires_at\":\"2026-11-26T05:44:01.000000Z\",\"attempts\":2,"
                   "\"max_retries\":3,\"result\":42,\"error\":\"boom \\\"quoted\\\"\","
                   "\"created_at\":\"2026-11-26T05:39:00.123456Z\",\"priority\":-7,"
                   "\"run_at\":\"2026-11-26T05:40:00.000000Z\",\"unique_key\":\"k1\"}");
    //  A string field that is not UTF-8 keeps its bytes
    free (item->error);
    item->error = strdup ("\xff");
    json_t *json = wp_json_from_item (item);
    CHECK (json_is_object (json_object_get (json, "error")));
    json_decref (json);
    wp_item_destroy (&item);

    //  A worker as registered with nothing optional
    wp_worker_t *worker = wp_worker_new ();
    worker->worker_id = strdup ("w1");
    worker->status = strdup ("active");
    worker->started_at = 1795671540000000;
    worker->last_heartbeat = 1795671540000000;
    worker->heartbeat_interval = 10;
    s_expect_text (wp_json_from_worker (worker),
        "{\"worker_id\":\"w1\",\"host\":null,\"pid\":null,\"capabilities\":[],\"pool_id\":null,"
                   "\"started_at\":\"2026-11-26T05:39:00.000000Z\",\"status\":\"active\","
                   "\"last_heartbeat\":\"2026-11-26T05:39:00.000000Z\",\"current_task_id\":null,"
                   "\"heartbeat_interval_seconds\":10.0,\"metadata\":{}}");

    //  ... and with everything
    worker->host = strdup ("h");
    worker->pid = 42;
    wp_worker_add_capability (worker, "gpu");
    wp_worker_add_capability (worker, "cpu");
    worker->pool_id = strdup ("p");
    worker->current_task_id = strdup ("i1");
    worker->heartbeat_interval = 2.5;
    wp_meta_set (&worker->metadata, "load", (const uint8_t *) "\xcb\x3f\xe0\0\0\0\0\0\0", 9);
    wp_meta_set (&worker->metadata, "raw", (const uint8_t *) "\xc1", 1);
    s_expect_text (wp_json_from_worker (worker),
        "{\"worker_id\":\"w1\",\"host\":\"h\",\"pid\":42,\"capabilities\":[\"gpu\",\"cpu\"],"
        "\"pool_id\":\"p\",\"started_at\":\"2026-11-26T05:39:00.000000Z\",\"status\":\"active\","
                   "\"last_heartbeat\":\"2026-11-26T05:39:00.000000Z\",\"current_task_id\":\"i1\","
        "\"heartbeat_interval_seconds\":2.5,"
        "\"metadata\":{\"load\":0.5,\"raw\":{\"$raw\":\"wQ==\"}}}");
    wp_worker_destroy (&worker);

    //  Statistics
    wp_stats_t *stats = wp_stats_new ();
    s_expect_text (wp_json_from_stats (stats), "{\"pools\":[],\"workers\":{},\"counters\":{}}");
    stats->pools = calloc (1, sizeof (wp_pool_stats_t));
    stats->pools [0] = (wp_pool_stats_t) { .pool = strdup ("jobs"), .pending = 1, .claimed = 2,
                                           .done = 3, .poisoned = UINT64_MAX, .scheduled = 5,
                                           .paused = true, .backoff = { 2, 60, 0.25 } };
    stats->pool_count = 1;
    stats->workers = calloc (1, sizeof (wp_status_count_t));
    stats->workers [0] = (wp_status_count_t) { strdup ("active"), 4 };
    stats->worker_status_count = 1;
    stats->counters = calloc (2, sizeof (wp_counter_t));
    stats->counters [0] = (wp_counter_t) { strdup ("requests"), 7 };
    stats->counters [1] = (wp_counter_t) { strdup ("\xff"), 8 };
    stats->counter_count = 2;
    s_expect_text (wp_json_from_stats (stats),
                   "{\"pools\":[{\"pool\":\"jobs\",\"pending\":1,\"claimed\":2,\"done\":3,"
                   "\"poisoned\":1.8446744073709552e19,\"paused\":true,\"scheduled\":5,"
                   "\"backoff_base_seconds\":2.0,\"backoff_cap_seconds\":60.0,"
                   "\"backoff_jitter\":0.25}],\"workers\":{\"active\":4},"
                   "\"counters\":{\"requests\":7,\"{\\\"$bin\\\":\\\"/w==\\\"}\":8}}");
    wp_stats_destroy (&stats);

    s_expect_text (wp_json_from_time (0), "null");
}

int
main (void)
{
    s_test_parse ();
    s_test_to_msgpack ();
    s_test_from_msgpack ();
    s_test_round_trip ();
    s_test_meta ();
    s_test_records ();
    printf ("wp_json_test: OK\n");
    return 0;
}
