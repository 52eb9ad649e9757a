/*  test_proto_records: the records helpers every layer shares: time text
    (format, strict parse, edge cases), UUIDs, name validation, deep copies
    of items and workers, metadata set/merge/encode/decode, lists.  */
#include "proto_test.h"
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void
s_expect_time (const char *text, int ok, int64_t expected)
{
    int64_t t = 12345;
    int rc = wp_time_parse (text, strlen (text), &t);
    CHECKF (rc == (ok ? 0: -1), "'%s' parsed with %d", text, rc);
    if (ok)
        CHECKF (t == expected, "'%s' gave %lld, expected %lld", text, (long long) t,
                (long long) expected);
    else
        CHECKF (t == 12345, "'%s' wrote to its output on failure", text);
}

static void
test_time (void)
{
    char buf [WP_TIME_BUFSIZE];
    CHECK (strcmp (wp_time_format (PT_TIME, buf), "2026-11-26T05:39:00.123456Z") == 0);
    CHECK (strcmp (wp_time_format (0, buf), "1970-01-01T00:00:00.000000Z") == 0);
    CHECK (strcmp (wp_time_format (-1, buf), "1969-12-31T23:59:59.999999Z") == 0);
    CHECK (strcmp (wp_time_format (951782400000000, buf), "2000-02-29T00:00:00.000000Z") == 0);
    //  Outside years 1..9999 the text is clamped, never longer
    CHECK (strcmp (wp_time_format (INT64_MAX, buf), "9999-12-31T23:59:59.999999Z") == 0);
    CHECK (strcmp (wp_time_format (INT64_MIN, buf), "0001-01-01T00:00:00.000000Z") == 0);

    s_expect_time ("2026-11-26T05:39:00.123456Z", 1, PT_TIME);
    s_expect_time ("2026-11-26t05:39:00.123456z", 1, PT_TIME);
    s_expect_time ("2026-11-26T06:39:00.123456+01:00", 1, PT_TIME);
    s_expect_time ("2026-11-26T00:09:00.123456-05:30", 1, PT_TIME);
    s_expect_time ("2026-11-26T05:39:00.123456-00:00", 1, PT_TIME);
    s_expect_time ("2026-11-26T05:39:00Z", 1, PT_TIME - 123456);
    s_expect_time ("2026-11-26T05:39:00.1Z", 1, PT_TIME - 23456);
    s_expect_time ("2026-11-26T05:39:00.123456789Z", 1, PT_TIME);     //  9 digits, truncated
    s_expect_time ("2026-11-26T05:39:00.1234567890Z", 0, 0);         //  10 digits
    s_expect_time ("2026-11-26T05:39:00.Z", 0, 0);
    s_expect_time ("1970-01-01T00:00:00Z", 1, 0);
    s_expect_time ("1969-12-31T23:59:59.5Z", 1, -500000);
    s_expect_time ("2000-02-29T00:00:00Z", 1, 951782400000000);
    s_expect_time ("2100-02-29T00:00:00Z", 0, 0);                    //  not a leap year
    s_expect_time ("2023-02-29T00:00:00Z", 0, 0);
    s_expect_time ("2023-04-31T00:00:00Z", 0, 0);
    s_expect_time ("2023-13-01T00:00:00Z", 0, 0);
    s_expect_time ("2023-00-01T00:00:00Z", 0, 0);
    s_expect_time ("2023-01-00T00:00:00Z", 0, 0);
    s_expect_time ("2023-01-01T24:00:00Z", 0, 0);
    s_expect_time ("2023-01-01T23:60:00Z", 0, 0);
    s_expect_time ("2023-12-31T23:59:60Z", 0, 0);                    //  leap seconds refused
    s_expect_time ("2023-01-01T00:00:00+24:00", 0, 0);
    s_expect_time ("2023-01-01T00:00:00+01:60", 0, 0);
    s_expect_time ("2023-01-01T00:00:00+0100", 0, 0);
    s_expect_time ("2023-01-01T00:00:00", 0, 0);                     //  no zone
    s_expect_time ("2023-01-01 00:00:00Z", 0, 0);
    s_expect_time ("2023-1-01T00:00:00Z", 0, 0);
    s_expect_time ("+2023-01-01T00:00:00Z", 0, 0);
    s_expect_time ("2023-01-01T00:00:00ZZ", 0, 0);
    s_expect_time ("2023-01-01T00:00:00Z ", 0, 0);
    s_expect_time ("0000-01-01T00:00:00Z", 0, 0);
    s_expect_time ("0001-01-01T00:00:00Z", 1, INT64_C (-62135596800000000));
    s_expect_time ("0001-01-01T00:30:00+01:00", 0, 0);               //  before year 1
    s_expect_time ("9999-12-31T23:59:59.999999Z", 1, INT64_C (253402300799999999));
    s_expect_time ("9999-12-31T23:59:59.999999-00:01", 0, 0);        //  after year 9999
    s_expect_time ("", 0, 0);
    s_expect_time ("2023", 0, 0);
    //  Only len bytes are read: a prefix that is a whole time parses
    const char *text = "2026-11-26T05:39:00.123456Zjunk";
    int64_t t = 0;
    CHECK (wp_time_parse (text, 27, &t) == 0 && t == PT_TIME);
    CHECK (wp_time_parse (text, 26, &t) == -1);
    CHECK (wp_time_parse ("2026-11-26T05:39:00\0Z", 21, &t) == -1);
    CHECK (wp_time_parse (NULL, 0, &t) == -1);
    //  Format then parse gives the time back, over a spread of values
    for (int64_t v = INT64_C (-62135596800000000); v < INT64_C (253402300799999999);
         v += INT64_C (7777777777777) + (v & 0xffff)) {
        int64_t back = 0;
        wp_time_format (v, buf);
        CHECKF (wp_time_parse (buf, strlen (buf), &back) == 0 && back == v, "%s", buf);
    }
    //  The clock is in microseconds and now-ish (after 2024, before 2100)
    int64_t now = wp_time_now ();
    CHECK (now > INT64_C (1704067200000000) && now < INT64_C (4102444800000000));
}

static void
test_uuid (void)
{
    char a [WP_UUID_LEN + 1], b [WP_UUID_LEN + 1];
    for (int i = 0; i < 1000; i++) {
        wp_uuid_new (a);
        CHECK (strlen (a) == WP_UUID_LEN);
        CHECK (a [8] == '-' && a [13] == '-' && a [18] == '-' && a [23] == '-');
        CHECK (a [14] == '7');
        CHECK (strchr ("89ab", a [19]) != NULL);
        CHECK (strspn (a, "0123456789abcdef-") == WP_UUID_LEN);
        CHECK (wp_name_check (a) == 0);
        wp_uuid_new (b);
        //  Time-ordered: one thread's ids sort in the order it made them,
        //  also many within one millisecond
        CHECK (strcmp (a, b) < 0);
    }
    //  Its first 12 hex digits are the time in milliseconds
    wp_uuid_new (a);
    char ms_hex [13];
    memcpy (ms_hex, a, 8);
    memcpy (ms_hex + 8, a + 9, 4);
    ms_hex [12] = 0;
    long long ms = strtoll (ms_hex, NULL, 16);
    CHECK (llabs (ms - wp_time_now () / 1000) < 5000);
    //  A forked child must not repeat its parent's ids: both draw from a
    //  generator the fork copied
    int fds [2];
    CHECK (pipe (fds) == 0);
    pid_t pid = fork ();
    if (pid == 0) {
        char child [WP_UUID_LEN + 1];
        wp_uuid_new (child);
        ssize_t n = write (fds [1], child, sizeof child);
        _exit (n == (ssize_t) sizeof child? 0: 1);
    }
    char parent [WP_UUID_LEN + 1], child [WP_UUID_LEN + 1];
    wp_uuid_new (parent);
    CHECK (read (fds [0], child, sizeof child) == (ssize_t) sizeof child);
    int status = 0;
    waitpid (pid, &status, 0);
    CHECK (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    CHECK (memcmp (parent + 19, child + 19, 17) != 0);
    close (fds [0]);
    close (fds [1]);
}

static void
test_names (void)
{
    char name [WP_NAME_MAX + 2];
    memset (name, 'a', sizeof name);
    name [WP_NAME_MAX] = 0;
    CHECK (wp_name_check (name) == 0);
    name [WP_NAME_MAX] = 'a';
    name [WP_NAME_MAX + 1] = 0;
    CHECK (wp_name_check (name) == -1);
    CHECK (wp_name_check ("") == -1);
    CHECK (wp_name_check (NULL) == -1);
    CHECK (wp_name_check ("jobs") == 0);
    CHECK (wp_name_check ("caf\xc3\xa9") == 0);
    CHECK (wp_name_check ("\xe2\x82\xac") == 0);
    CHECK (wp_name_check ("\xf0\x9f\x98\x80") == 0);
    CHECK (wp_name_check ("caf\xc3") == -1);            //  cut sequence
    CHECK (wp_name_check ("\xc0\x80") == -1);           //  overlong NUL
    CHECK (wp_name_check ("\xe0\x80\xaf") == -1);       //  overlong
    CHECK (wp_name_check ("\xed\xb0\x80") == -1);       //  surrogate
    CHECK (wp_name_check ("\xf4\x90\x80\x80") == -1);   //  > U+10FFFF
    CHECK (wp_name_check ("\xff") == -1);
    CHECK (wp_name_check ("\x80") == -1);
}

static void
test_item_and_lists (void)
{
    CHECK (strcmp (wp_item_state_name (WP_ITEM_POISONED), "poisoned") == 0);
    CHECK (strcmp (wp_item_state_name ((wp_item_state) 9), "?") == 0);
    CHECK (wp_item_state_from_name ("claimed") == WP_ITEM_CLAIMED);
    CHECK (wp_item_state_from_name ("Claimed") == -1);
    CHECK (wp_item_state_from_name (NULL) == -1);

    wp_reply_t reply;
    pt_reply (WP_METHOD_GET, true, &reply);
    wp_item_t *copy = wp_item_dup (reply.item);
    CHECK (copy != reply.item && copy->id != reply.item->id && copy->data != reply.item->data);
    CHECK (strcmp (copy->id, "job-1") == 0 && copy->result_size == 3
           && memcmp (copy->result, reply.item->result, 3) == 0);
    CHECK (copy->created_at == PT_TIME && copy->status == WP_ITEM_DONE);
    wp_reply_clear (&reply);               //  the copy stands alone
    CHECK (strcmp (copy->pool, "jobs") == 0 && strcmp (copy->error, "lease expired") == 0);
    wp_item_list_t *list = wp_item_list_new ();
    for (int i = 0; i < 100; i++) {
        wp_item_t *item = wp_item_dup (copy);
        wp_item_list_append (list, &item);
        CHECK (item == NULL);
    }
    CHECK (list->count == 100);
    wp_item_list_destroy (&list);
    CHECK (list == NULL);
    wp_item_list_destroy (&list);
    wp_item_destroy (&copy);
    CHECK (copy == NULL);
    wp_item_destroy (&copy);
    CHECK (wp_item_dup (NULL) == NULL);
    wp_item_t *empty = wp_item_new ();
    CHECK (empty->id == NULL && empty->data == NULL && empty->claimed_at == 0);
    wp_item_t *empty_copy = wp_item_dup (empty);
    CHECK (empty_copy->id == NULL && empty_copy->result == NULL);
    wp_item_destroy (&empty);
    wp_item_destroy (&empty_copy);
}

static void
test_worker (void)
{
    wp_reply_t reply;
    pt_reply (WP_METHOD_REGISTER, true, &reply);
    wp_worker_t *copy = wp_worker_dup (reply.worker);
    CHECK (copy->capabilities != reply.worker->capabilities);
    CHECK (copy->capability_count == 2 && strcmp (copy->capabilities [1], "ocr") == 0);
    CHECK (copy->metadata.entries != reply.worker->metadata.entries);
    wp_reply_clear (&reply);
    CHECK (strcmp (copy->worker_id, "w-1") == 0 && strcmp (copy->host, "node-7") == 0);
    CHECK (copy->pid == 4242 && copy->heartbeat_interval == 5);
    CHECK (copy->metadata.count == 2 && wp_meta_get (&copy->metadata, "slots")->value [0] == 4);
    wp_worker_list_t *list = wp_worker_list_new ();
    for (int i = 0; i < 20; i++) {
        wp_worker_t *w = wp_worker_dup (copy);
        wp_worker_list_append (list, &w);
    }
    CHECK (list->count == 20);
    wp_worker_list_destroy (&list);
    wp_worker_list_destroy (&list);
    wp_worker_destroy (&copy);
    CHECK (copy == NULL);
    wp_worker_destroy (&copy);
    wp_worker_t *fresh = wp_worker_new ();
    CHECK (fresh->pid == -1 && fresh->capability_count == 0 && fresh->metadata.count == 0);
    wp_worker_destroy (&fresh);
    CHECK (wp_worker_dup (NULL) == NULL);

    wp_stats_t *stats = wp_stats_new ();
    CHECK (stats->pool_count == 0);
    //  A paused pool with no items is an entry of its own (Stats lists it)
    stats->pools = calloc (1, sizeof *stats->pools);
    stats->pools [0] = (wp_pool_stats_t) { .pool = strdup ("idle"), .paused = true };
    stats->pool_count = 1;
    CHECK (stats->pools [0].paused);
    wp_stats_destroy (&stats);
    CHECK (stats == NULL);
    wp_stats_destroy (&stats);
}

static void
test_meta (void)
{
    wp_meta_t meta = { NULL, 0 };
    wp_meta_set (&meta, "a", (const uint8_t *) "\x01", 1);
    wp_meta_set (&meta, "b", (const uint8_t *) "\xa2hi", 3);
    wp_meta_set (&meta, "a", (const uint8_t *) "\x02", 1);     //  replaces
    CHECK (meta.count == 2);
    CHECK (wp_meta_get (&meta, "a")->value [0] == 2);
    CHECK (wp_meta_get (&meta, "z") == NULL);

    wp_meta_t other = { NULL, 0 };
    wp_meta_set (&other, "b", (const uint8_t *) "\xc0", 1);
    wp_meta_set (&other, "c", (const uint8_t *) "\xc3", 1);
    wp_meta_merge (&meta, &other);
    CHECK (meta.count == 3);
    CHECK (wp_meta_get (&meta, "b")->value_size == 1 && wp_meta_get (&meta, "b")->value [0] == 0xc0);
    CHECK (wp_meta_get (&meta, "c")->value [0] == 0xc3);
    CHECK (wp_meta_get (&meta, "a")->value [0] == 2);          //  untouched
    //  Merging a map into itself changes nothing
    wp_meta_merge (&meta, &meta);
    CHECK (meta.count == 3);

    //  Encode / decode: one msgpack map, order kept
    uint8_t *buf;
    size_t size;
    wp_meta_encode (&meta, &buf, &size);
    static const uint8_t expected [] = { 0x83, 0xa1, 'a', 0x02, 0xa1, 'b', 0xc0, 0xa1, 'c', 0xc3 };
    CHECK (size == sizeof expected && memcmp (buf, expected, size) == 0);
    wp_meta_t back = { NULL, 0 };
    wp_meta_set (&back, "stale", (const uint8_t *) "\x00", 1);   //  decode replaces
    CHECK (wp_meta_decode (&back, buf, size) == 0);
    CHECK (back.count == 3 && strcmp (back.entries [2].key, "c") == 0);
    CHECK (wp_meta_get (&back, "stale") == NULL);
    free (buf);

    //  Values are re-encoded canonically (uint 64 holding 1 becomes 01)
    static const uint8_t odd [] = { 0x81, 0xa1, 'x', 0xcf, 0, 0, 0, 0, 0, 0, 0, 1 };
    CHECK (wp_meta_decode (&back, odd, sizeof odd) == 0);
    CHECK (back.count == 1 && back.entries [0].value_size == 1 && back.entries [0].value [0] == 1);
    //  Nested values survive whole
    static const uint8_t nested [] = { 0x81, 0xa1, 'n', 0x92, 0x81, 0xa1, 'k', 0xc4, 0x01, 0xff, 0xa0 };
    CHECK (wp_meta_decode (&back, nested, sizeof nested) == 0);
    CHECK (back.count == 1 && back.entries [0].value_size == 8
           && memcmp (back.entries [0].value, nested + 3, 8) == 0);
    //  Refused: not a map, duplicate keys, non-string keys, trailing bytes,
    //  truncation, a key with NUL; a failure leaves it empty
    static const struct { const char *bytes; size_t size; } bad [] = {
        { "\x90", 1 }, { "\x82\xa1k\x01\xa1k\x02", 7 }, { "\x81\x01\x01", 3 },
        { "\x80\xc0", 2 }, { "\x81\xa1k", 3 }, { "\x81\xa2k\x00\x01", 5 }, { "", 0 },
        { "\xc0", 1 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        wp_meta_set (&back, "x", (const uint8_t *) "\x01", 1);
        CHECKF (wp_meta_decode (&back, (const uint8_t *) bad [i].bytes, bad [i].size) == -1,
                "bad meta %zu", i);
        CHECK (back.count == 0 && back.entries == NULL);
    }
    //  Empty map, and empty values encode as nil
    wp_meta_encode (&back, &buf, &size);
    CHECK (size == 1 && buf [0] == 0x80);
    free (buf);
    wp_meta_set (&back, "empty", NULL, 0);
    wp_meta_encode (&back, &buf, &size);
    CHECK (size == 8 && buf [7] == 0xc0);
    free (buf);

    //  Copy is deep
    wp_meta_copy (&other, &meta);
    CHECK (other.count == 3 && other.entries [0].value != meta.entries [0].value);
    wp_meta_clear (&meta);
    CHECK (meta.count == 0 && meta.entries == NULL);
    CHECK (wp_meta_get (&other, "a")->value [0] == 2);
    wp_meta_clear (&other);
    wp_meta_clear (&back);
    wp_meta_clear (&back);
}

int
main (void)
{
    test_time ();
    test_uuid ();
    test_names ();
    test_item_and_lists ();
    test_worker ();
    test_meta ();
    if (pt_failures) {
        fprintf (stderr, "test_proto_records: %d checks failed\n", pt_failures);
        return 1;
    }
    printf ("test_proto_records: all checks passed\n");
    return 0;
}
