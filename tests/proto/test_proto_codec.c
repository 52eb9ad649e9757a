/*  test_proto_codec: the wire codec against good and bad input.

    Round trips of every request and reply (optional fields set and unset);
    truncation at every length; every field given every wrong type;
    out-of-bounds values; header errors and their statuses; hostile sizes
    and nesting; random garbage and random mutations of good messages
    (deterministic seeds). Bad input must give an error naming the problem,
    never a crash or a read outside the buffer (ASan watches).  */
#include "proto_test.h"
#include "wp_msgpack.h"
#include <math.h>
#include <string.h>

#define ALL_METHODS(m) for (wp_method m = WP_METHOD_PUSH; m < WP_METHOD_COUNT; m++)

//  A deterministic generator (xorshift64*), so a failure replays.
static uint64_t s_seed = 0x9e3779b97f4a7c15ULL;
static uint64_t
s_random (void)
{
    s_seed ^= s_seed >> 12;
    s_seed ^= s_seed << 25;
    s_seed ^= s_seed >> 27;
    return s_seed * 0x2545f4914f6cdd1dULL;
}

//  ---------------------------------------------------------------------
//  Helpers to build bodies by hand

typedef struct {
    wp_mp_writer_t w;
    uint8_t *data;
    size_t size;
} s_buf_t;

static msgpack_packer *
s_begin (s_buf_t *b)
{
    wp_mp_writer_init (&b->w);
    b->data = NULL;
    b->size = 0;
    return &b->w.pk;
}

static void
s_end (s_buf_t *b)
{
    wp_mp_writer_take (&b->w, &b->data, &b->size);
}

static void
s_str (msgpack_packer *pk, const char *text)
{
    wp_mp_pack_cstr (pk, text);
}

static void
s_strn (msgpack_packer *pk, const char *text, size_t len)
{
    msgpack_pack_str (pk, len);
    msgpack_pack_str_body (pk, text, len);
}

static void
s_bin (msgpack_packer *pk, const char *data, size_t len)
{
    msgpack_pack_bin (pk, len);
    msgpack_pack_bin_body (pk, data, len);
}

//  Decodes body as a request to method; checks the status and that the
//  message contains needle (NULL: any).
static void
s_expect_request_body (int line, wp_method method, const uint8_t *body, size_t size,
                       wp_status expected, const char *needle)
{
    wp_request_t req;
    wp_request_init (&req);
    req.method = method;
    char err [512] = "";
    wp_status rc = wp_request_decode_body (&req, body, size, err, sizeof err);
    if (rc != expected || (needle && expected != WP_OK && !strstr (err, needle))) {
        fprintf (stderr, "line %d: %s body: got %s '%s', expected %s '%s'\n", line,
                 wp_method_name (method), wp_strerror (rc), err, wp_strerror (expected),
                 needle ? needle: "");
        pt_failures++;
    }
    wp_request_clear (&req);
}

#define EXPECT_BODY(method, buf, status, needle) do { \
    s_end (&(buf)); \
    s_expect_request_body (__LINE__, method, (buf).data, (buf).size, status, needle); \
    free ((buf).data); \
} while (0)

//  ---------------------------------------------------------------------

static void
test_method_table (void)
{
    ALL_METHODS (m) {
        const char *name = wp_method_name (m);
        CHECK (wp_method_from_name (name, strlen (name)) == m);
        CHECK (wp_method_from_name (name, strlen (name) - 1) == WP_METHOD_UNKNOWN);
    }
    CHECK (strcmp (wp_method_name (WP_METHOD_UNKNOWN), "?") == 0);
    CHECK (strcmp (wp_method_name (WP_METHOD_COUNT), "?") == 0);
    CHECK (wp_method_from_name ("WorkPool.Pushy", 14) == WP_METHOD_UNKNOWN);
    CHECK (wp_method_from_name (NULL, 0) == WP_METHOD_UNKNOWN);
    wp_method mutating [] = { WP_METHOD_PUSH, WP_METHOD_PUSH_MANY, WP_METHOD_CLAIM,
        WP_METHOD_CLAIM_MANY, WP_METHOD_COMPLETE, WP_METHOD_FAIL, WP_METHOD_COMPLETE_AND_CLAIM,
        WP_METHOD_RELEASE_BY_WORKER, WP_METHOD_RENEW, WP_METHOD_REGISTER, WP_METHOD_HEARTBEAT,
        WP_METHOD_UPDATE_STATUS, WP_METHOD_COMPLETE_MANY, WP_METHOD_RETRY, WP_METHOD_CANCEL,
        WP_METHOD_PURGE, WP_METHOD_PAUSE, WP_METHOD_RESUME, WP_METHOD_SET_BACKOFF,
        WP_METHOD_SCHEDULE_ADD, WP_METHOD_SCHEDULE_REMOVE, WP_METHOD_SUBSCRIBE };
    int count = 0;
    ALL_METHODS (m) {
        bool expected = false;
        for (size_t i = 0; i < sizeof mutating / sizeof mutating [0]; i++)
            expected |= mutating [i] == m;
        CHECKF (wp_method_mutates (m) == expected, "%s", wp_method_name (m));
        count += wp_method_mutates (m);
    }
    CHECK (count == 22);
    CHECK (!wp_method_mutates (WP_METHOD_SCHEDULE_LIST));
    //  It ends a subscription the broker holds; the store is not touched
    CHECK (!wp_method_mutates (WP_METHOD_UNSUBSCRIBE));
    //  Added last, so the numbers of the methods before them did not move
    CHECK (WP_METHOD_COMPLETE_MANY == WP_METHOD_PING + 1);
    CHECK (WP_METHOD_LIST_ITEMS == WP_METHOD_COMPLETE_MANY + 1);
    CHECK (WP_METHOD_RESUME == WP_METHOD_LIST_ITEMS + 5);
    static const char *const names [] = { "WorkPool.List", "WorkPool.Retry", "WorkPool.Cancel",
                                          "WorkPool.Purge", "WorkPool.Pause", "WorkPool.Resume" };
    for (int i = 0; i < 6; i++)
        CHECK (strcmp (wp_method_name (WP_METHOD_LIST_ITEMS + i), names [i]) == 0);
    CHECK (!wp_method_mutates (WP_METHOD_UNKNOWN));
}

static void
test_round_trips (void)
{
    ALL_METHODS (m) {
        for (int full = 0; full < 2; full++) {
            wp_request_t req;
            pt_request (m, full, &req);
            pt_request_round_trip (&req);
            wp_request_clear (&req);
            wp_reply_t reply;
            pt_reply (m, full, &reply);
            pt_reply_round_trip (m, &reply);
            wp_reply_clear (&reply);
        }
        //  Every error status, with a message, and an empty body
        for (int status = 1; status < WP_STATUS_COUNT; status++) {
            wp_reply_t reply;
            wp_reply_init (&reply);
            reply.request_id = UINT64_MAX;
            reply.status = status;
            reply.message = strdup ("it went wrong: ünïcode kept");
            pt_reply_round_trip (m, &reply);
            uint8_t *h, *b;
            size_t hn, bn;
            CHECK (wp_reply_encode (&reply, m, &h, &hn, &b, &bn) == 0);
            CHECK (bn == 1 && b [0] == 0x80);
            free (h);
            free (b);
            wp_reply_clear (&reply);
        }
    }
    //  Default-valued fields and odd but legal values survive
    wp_request_t req;
    pt_request (WP_METHOD_PUSH, false, &req);
    req.request_id = UINT64_MAX;
    req.timeout_ms = UINT32_MAX;
    ((wp_push_entry_t *) req.entries) [0].max_retries = WP_MAX_RETRIES_MAX;
    pt_request_round_trip (&req);
    ((wp_push_entry_t *) req.entries) [0].max_retries = 0;
    pt_request_round_trip (&req);
    wp_request_clear (&req);

    pt_request (WP_METHOD_CLAIM, true, &req);
    req.wait = WP_WAIT_MAX;
    req.lease = 1e-9;
    pt_request_round_trip (&req);
    wp_request_clear (&req);

    pt_request (WP_METHOD_LIST_WORKERS, true, &req);
    req.stale_threshold = 0;
    pt_request_round_trip (&req);
    wp_request_clear (&req);

    //  A worker whose started_at is unset round-trips as the epoch (0)
    wp_reply_t reply;
    pt_reply (WP_METHOD_REGISTER, false, &reply);
    reply.worker->started_at = 0;
    reply.worker->pid = 0;
    pt_reply_round_trip (WP_METHOD_REGISTER, &reply);
    wp_reply_clear (&reply);

    //  An item with extreme counters, and a negative (pre-1970) time
    pt_reply (WP_METHOD_GET, true, &reply);
    reply.item->attempts = UINT32_MAX;
    reply.item->max_retries = UINT32_MAX;
    reply.item->created_at = -1;
    pt_reply_round_trip (WP_METHOD_GET, &reply);
    wp_reply_clear (&reply);
}

//  Encoders refuse what they cannot express, allocating nothing.
static void
test_encode_refusals (void)
{
    uint8_t *h = NULL, *b = NULL;
    size_t hn, bn;
    wp_request_t req;
    ALL_METHODS (m) {
        if (m == WP_METHOD_LIST_WORKERS || m == WP_METHOD_STATS || m == WP_METHOD_PING
        ||  m == WP_METHOD_SCHEDULE_LIST)
            continue;       //  nothing required
        wp_request_init (&req);
        req.method = m;
        CHECKF (wp_request_encode (&req, &h, &hn, &b, &bn) == -1, "%s", wp_method_name (m));
    }
    wp_request_init (&req);
    CHECK (wp_request_encode (&req, &h, &hn, &b, &bn) == -1);     //  unknown method
    CHECK (wp_request_encode (NULL, &h, &hn, &b, &bn) == -1);

    pt_request (WP_METHOD_PUSH_MANY, true, &req);
    free ((void *) req.entries [1].data);
    req.entries [1].data = NULL;
    CHECK (wp_request_encode (&req, &h, &hn, &b, &bn) == -1);
    wp_request_clear (&req);
    pt_request (WP_METHOD_COMPLETE_MANY, true, &req);
    free ((void *) req.completions [1].id);
    req.completions [1].id = NULL;
    CHECK (wp_request_encode (&req, &h, &hn, &b, &bn) == -1);
    wp_request_clear (&req);

    wp_reply_t reply;
    pt_reply (WP_METHOD_FAIL, true, &reply);
    reply.item_state = WP_ITEM_DONE;
    CHECK (wp_reply_encode (&reply, WP_METHOD_FAIL, &h, &hn, &b, &bn) == -1);
    reply.status = WP_NOT_FOUND;       //  an error reply has no body to refuse
    CHECK (wp_reply_encode (&reply, WP_METHOD_FAIL, &h, &hn, &b, &bn) == 0);
    free (h);
    free (b);
    reply.status = 17;
    CHECK (wp_reply_encode (&reply, WP_METHOD_FAIL, &h, &hn, &b, &bn) == -1);
    wp_reply_clear (&reply);

    pt_reply (WP_METHOD_COMPLETE_MANY, true, &reply);
    reply.entry_statuses [1] = 17;
    CHECK (wp_reply_encode (&reply, WP_METHOD_COMPLETE_MANY, &h, &hn, &b, &bn) == -1);
    wp_reply_clear (&reply);
    pt_reply (WP_METHOD_COMPLETE_MANY, false, &reply);
    free (reply.entry_statuses);
    reply.entry_statuses = NULL;
    CHECK (wp_reply_encode (&reply, WP_METHOD_COMPLETE_MANY, &h, &hn, &b, &bn) == -1);
    wp_reply_clear (&reply);

    pt_reply (WP_METHOD_GET, false, &reply);
    wp_item_destroy (&reply.item);
    CHECK (wp_reply_encode (&reply, WP_METHOD_GET, &h, &hn, &b, &bn) == -1);
    wp_reply_clear (&reply);
    pt_reply (WP_METHOD_REGISTER, false, &reply);
    free (reply.worker->status);
    reply.worker->status = NULL;
    CHECK (wp_reply_encode (&reply, WP_METHOD_REGISTER, &h, &hn, &b, &bn) == -1);
    wp_reply_clear (&reply);
    pt_reply (WP_METHOD_PUSH, false, &reply);
    CHECK (wp_reply_encode (&reply, WP_METHOD_UNKNOWN, &h, &hn, &b, &bn) == -1);
    wp_reply_clear (&reply);
}

//  A reply message is cut to WP_MESSAGE_TEXT_MAX on a character boundary
//  and made valid UTF-8, so a client can always read it.
static void
test_reply_message (void)
{
    wp_reply_t reply;
    wp_reply_init (&reply);
    reply.status = WP_INVALID_ARGUMENT;
    reply.message = malloc (3000);
    memset (reply.message, 'x', 2999);
    reply.message [2999] = 0;
    memcpy (reply.message + WP_MESSAGE_TEXT_MAX - 1, "\xc3\xa9", 2);   //  é across the cut
    memcpy (reply.message + 10, "\xff\xc3", 2);                          //  invalid bytes
    uint8_t *h, *b;
    size_t hn, bn;
    CHECK (wp_reply_encode (&reply, WP_METHOD_PUSH, &h, &hn, &b, &bn) == 0);
    wp_reply_t back;
    wp_reply_init (&back);
    char err [256] = "";
    CHECKF (wp_reply_decode_header (&back, h, hn, err, sizeof err) == WP_OK, "%s", err);
    CHECK (back.message && strlen (back.message) <= WP_MESSAGE_TEXT_MAX);
    CHECK (back.message && back.message [10] == '?' && back.message [11] == '?');
    CHECK (back.status == WP_INVALID_ARGUMENT);
    free (h);
    free (b);
    wp_reply_clear (&back);
    //  OK replies carry "" whatever message the struct holds
    reply.status = WP_OK;
    pt_reply (WP_METHOD_COMPLETE, false, &back);
    back.message = strdup ("ignored");
    CHECK (wp_reply_encode (&back, WP_METHOD_COMPLETE, &h, &hn, &b, &bn) == 0);
    wp_reply_clear (&back);
    CHECK (wp_reply_decode_header (&back, h, hn, err, sizeof err) == WP_OK);
    CHECK (back.message && strcmp (back.message, "") == 0);
    free (h);
    free (b);
    wp_reply_clear (&back);
    wp_reply_clear (&reply);
}

//  Every prefix of a good message is an error, never a crash.
static void
test_truncation (void)
{
    ALL_METHODS (m)
        for (int request = 1; request >= 0; request--) {
            uint8_t *h, *b;
            size_t hn, bn;
            CHECK (pt_encode (m, true, request, &h, &hn, &b, &bn) == 0);
            for (size_t len = 0; len < hn; len++) {
                bool replyable = true;
                CHECK (pt_decode_prefix (m, request, true, h, len, &replyable)
                       == WP_INVALID_ARGUMENT);
                if (request)
                    CHECK (!replyable);
            }
            for (size_t len = 0; len < bn; len++)
                CHECK (pt_decode_prefix (m, request, false, b, len, NULL) == WP_INVALID_ARGUMENT);
            free (h);
            free (b);
        }
}

//  ---------------------------------------------------------------------
//  Wrong types: replace one value of a good message by a value of another
//  type and decode. For the fields whose types we know, a type outside the
//  field's must fail with a message naming the field.

typedef enum { T_NIL, T_BOOL, T_UINT, T_NINT, T_FLOAT, T_STR, T_BIN, T_ARRAY, T_MAP, T_EXT,
               T_KINDS } s_kind;
static const char *s_kind_names [T_KINDS] = {
    "nil", "bool", "uint", "negative int", "float", "str", "bin", "array", "map", "ext"
};

//  The msgpack bytes of a sample value of each kind
static const struct { const char *bytes; size_t size; } s_samples [T_KINDS] = {
    { "\xc0", 1 }, { "\xc3", 1 }, { "\x07", 1 }, { "\xff", 1 },
    { "\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00", 9 }, { "\xa3" "abc", 4 }, { "\xc4\x01\x00", 3 },
    { "\x91\x01", 2 }, { "\x81\xa1k\x01", 4 }, { "\xd4\x01\x02", 3 },
};

//  The kinds each known field accepts (bit per s_kind). A field not in
//  the table (values inside metadata, say) accepts anything.
#define K(k) (1u << (k))
#define K_NUMBER (K (T_UINT) | K (T_NINT) | K (T_FLOAT))
static const struct { const char *key; unsigned kinds; } s_field_kinds [] = {
    { "pool", K (T_STR) }, { "id", K (T_STR) }, { "worker_id", K (T_STR) },
    { "data", K (T_BIN) }, { "result", K (T_BIN) }, { "max_retries", K (T_UINT) | K (T_NINT) },
    { "items", K (T_ARRAY) }, { "wait_seconds", K_NUMBER }, { "lease_seconds", K_NUMBER },
    { "max", K (T_UINT) }, { "error", K (T_STR) }, { "host", K (T_STR) },
    { "pid", K (T_UINT) | K (T_NINT) }, { "capabilities", K (T_ARRAY) },
    { "pool_id", K (T_STR) }, { "started_at", K (T_STR) },
    { "heartbeat_interval_seconds", K_NUMBER }, { "metadata", K (T_MAP) },
    { "status", K (T_STR) | K (T_ARRAY) }, { "capability", K (T_STR) },
    { "stale_threshold_seconds", K_NUMBER }, { "limit", K (T_UINT) },
    { "cursor", K (T_STR) }, { "all", K (T_BOOL) },
    //  reply fields
    { "duplicate", K (T_BOOL) }, { "ids", K (T_ARRAY) }, { "duplicates", K (T_ARRAY) },
    { "item", K (T_MAP) | K (T_NIL) }, { "size", K (T_UINT) }, { "released", K (T_UINT) },
    { "renewed", K (T_UINT) }, { "worker", K (T_MAP) | K (T_NIL) }, { "workers", K (T_ARRAY) | K (T_MAP) },
    { "pools", K (T_ARRAY) }, { "counters", K (T_MAP) }, { "version", K (T_UINT) },
    { "server", K (T_STR) }, { "time", K (T_STR) }, { "max_message", K (T_UINT) },
    { "statuses", K (T_ARRAY) }, { "messages", K (T_ARRAY) },
    { "claimed_by", K (T_STR) | K (T_NIL) }, { "claimed_at", K (T_STR) | K (T_NIL) },
    { "lease_expires_at", K (T_STR) | K (T_NIL) }, { "attempts", K (T_UINT) },
    { "created_at", K (T_STR) }, { "last_heartbeat", K (T_STR) },
    { "current_task_id", K (T_STR) | K (T_NIL) }, { "retried", K (T_UINT) },
    { "purged", K (T_UINT) }, { "paused", K (T_BOOL) },
};

static unsigned
s_kinds_of (const char *key, size_t len)
{
    for (size_t i = 0; i < sizeof s_field_kinds / sizeof s_field_kinds [0]; i++)
        if (strlen (s_field_kinds [i].key) == len && memcmp (s_field_kinds [i].key, key, len) == 0)
            return s_field_kinds [i].kinds;
    return ~0u;
}

//  Every value slot of a message: the object, its key when in a map, and
//  whether it lies inside a free map (metadata, Stats' maps) whose keys
//  are data, not fields
typedef struct {
    const msgpack_object *value;
    const msgpack_object *key;      //  NULL for array elements
    int depth;
    bool in_free_map;
} s_slot_t;

static bool
s_is_free_map (const msgpack_object *key, const msgpack_object *value)
{
    if (!key || key->type != MSGPACK_OBJECT_STR || value->type != MSGPACK_OBJECT_MAP)
        return false;
    const char *frees [] = { "metadata", "counters", "workers" };
    for (int i = 0; i < 3; i++)
        if (strlen (frees [i]) == key->via.str.size
        &&  memcmp (frees [i], key->via.str.ptr, key->via.str.size) == 0)
            return true;
    return false;
}

static void
s_collect (const msgpack_object *o, int depth, bool in_free, s_slot_t *slots, size_t *count,
           size_t max)
{
    if (o->type == MSGPACK_OBJECT_MAP)
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr [i];
            if (*count < max)
                slots [(*count)++] = (s_slot_t) { &kv->val, &kv->key, depth, in_free };
            s_collect (&kv->val, depth + 1, in_free || s_is_free_map (&kv->key, &kv->val),
                       slots, count, max);
        }
    else
    if (o->type == MSGPACK_OBJECT_ARRAY)
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            if (*count < max)
                slots [(*count)++] = (s_slot_t) { &o->via.array.ptr [i], NULL, depth, in_free };
            s_collect (&o->via.array.ptr [i], depth + 1, in_free, slots, count, max);
        }
}

//  Packs o with the object at target replaced by raw bytes.
static void
s_pack_replaced (msgpack_packer *pk, const msgpack_object *o, const msgpack_object *target,
                 const char *bytes, size_t size)
{
    if (o == target) {
        wp_mp_pack_raw (pk, (const uint8_t *) bytes, size);
        return;
    }
    if (o->type == MSGPACK_OBJECT_MAP) {
        msgpack_pack_map (pk, o->via.map.size);
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            msgpack_pack_object (pk, o->via.map.ptr [i].key);
            s_pack_replaced (pk, &o->via.map.ptr [i].val, target, bytes, size);
        }
    }
    else
    if (o->type == MSGPACK_OBJECT_ARRAY) {
        msgpack_pack_array (pk, o->via.array.size);
        for (uint32_t i = 0; i < o->via.array.size; i++)
            s_pack_replaced (pk, &o->via.array.ptr [i], target, bytes, size);
    }
    else
        msgpack_pack_object (pk, *o);
}

//  Decodes a body of method as a request (is_request) or an OK reply.
static wp_status
s_decode_any_body (bool is_request, wp_method m, const uint8_t *data, size_t size,
                   char *err, size_t errlen)
{
    wp_status rc;
    if (is_request) {
        wp_request_t req;
        wp_request_init (&req);
        req.method = m;
        rc = wp_request_decode_body (&req, data, size, err, errlen);
        wp_request_clear (&req);
    }
    else {
        wp_reply_t reply;
        wp_reply_init (&reply);
        rc = wp_reply_decode_body (&reply, m, data, size, err, errlen);
        wp_reply_clear (&reply);
    }
    return rc;
}

static int s_type_cases = 0;

static void
s_wrong_types (bool is_request, wp_method m, const uint8_t *body, size_t size)
{
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    char err [512];
    CHECK (wp_mp_unpack (&unpacked, body, size, err, sizeof err) == 0);
    s_slot_t slots [400];
    size_t count = 0;
    s_collect (&unpacked.data, 0, false, slots, &count, 400);
    for (size_t i = 0; i < count; i++) {
        const msgpack_object *key = slots [i].key;
        unsigned kinds = key && key->type == MSGPACK_OBJECT_STR && !slots [i].in_free_map
                       ? s_kinds_of (key->via.str.ptr, key->via.str.size): ~0u;
        for (int k = 0; k < T_KINDS; k++) {
            s_buf_t b;
            s_pack_replaced (s_begin (&b), &unpacked.data, slots [i].value,
                             s_samples [k].bytes, s_samples [k].size);
            s_end (&b);
            err [0] = 0;
            wp_status rc = s_decode_any_body (is_request, m, b.data, b.size, err, sizeof err);
            CHECK (rc == WP_OK || rc == WP_INVALID_ARGUMENT);
            CHECK (rc == WP_OK || err [0]);
            //  A wrong kind for a known field fails, naming the field;
            //  nil means absent, which is fine for an optional field
            bool known = kinds != ~0u && slots [i].depth <= 2;
            if (known && k != T_NIL && !(kinds & K (k))) {
                char name [300];
                snprintf (name, sizeof name, "%.*s", (int) key->via.str.size, key->via.str.ptr);
                CHECKF (rc == WP_INVALID_ARGUMENT && strstr (err, name),
                        "%s %s: field '%s' given %s: got %s '%s'", wp_method_name (m),
                        is_request ? "request": "reply", name, s_kind_names [k],
                        wp_strerror (rc), err);
                s_type_cases++;
            }
            free (b.data);
        }
    }
    msgpack_unpacked_destroy (&unpacked);
}

static void
test_wrong_types (void)
{
    ALL_METHODS (m) {
        for (int request = 1; request >= 0; request--) {
            uint8_t *h, *b;
            size_t hn, bn;
            CHECK (pt_encode (m, true, request, &h, &hn, &b, &bn) == 0);
            s_wrong_types (request, m, b, bn);
            free (h);
            free (b);
        }
    }
    CHECKF (s_type_cases > 500, "only %d wrong-type cases", s_type_cases);

    //  Request header elements, each given every kind
    uint8_t *h, *b;
    size_t hn, bn;
    CHECK (pt_encode (WP_METHOD_PUSH, true, true, &h, &hn, &b, &bn) == 0);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    char err [512];
    CHECK (wp_mp_unpack (&unpacked, h, hn, err, sizeof err) == 0);
    //  Accepted kinds of elements 0..5, and whether a bad one is answerable
    static const unsigned accepted [6] = { K (T_STR), K (T_UINT), K (T_UINT), K (T_STR),
                                           K (T_UINT), K (T_MAP) | K (T_NIL) };
    for (int e = 0; e < 6; e++)
        for (int k = 0; k < T_KINDS; k++) {
            s_buf_t buf;
            s_pack_replaced (s_begin (&buf), &unpacked.data, &unpacked.data.via.array.ptr [e],
                             s_samples [k].bytes, s_samples [k].size);
            s_end (&buf);
            wp_request_t back;
            wp_request_init (&back);
            bool replyable;
            wp_status rc = wp_request_decode_header (&back, buf.data, buf.size, &replyable,
                                                     err, sizeof err);
            if (accepted [e] & K (k)) {
                //  the sample str is not "WPQ" or a method; 7 is not version 1
                if (e == 0)
                    CHECK (rc == WP_INVALID_ARGUMENT && !replyable);
                else if (e == 1)
                    CHECK (rc == WP_UNIMPLEMENTED && replyable && strstr (err, "version 7"));
                else if (e == 3)
                    CHECK (rc == WP_UNIMPLEMENTED && strstr (err, "unknown method 'abc'")
                           && back.method_name && strcmp (back.method_name, "abc") == 0);
                else if (e == 5 && k == T_MAP)    //  {"k": 1}: values must be strings
                    CHECK (rc == WP_INVALID_ARGUMENT && replyable && strstr (err, "metadata value"));
                else
                    CHECKF (rc == WP_OK, "element %d %s: %s", e, s_kind_names [k], err);
            }
            else {
                bool expect_replyable = e != 0 && e != 2;
                wp_status expected = (e == 1 && k == T_NINT) ? WP_UNIMPLEMENTED: WP_INVALID_ARGUMENT;
                CHECKF (rc == expected && replyable == expect_replyable,
                        "element %d %s: %s %d '%s'", e, s_kind_names [k], wp_strerror (rc),
                        replyable, err);
            }
            wp_request_clear (&back);
            free (buf.data);
        }
    msgpack_unpacked_destroy (&unpacked);
    free (h);
    free (b);

    //  Reply header elements
    CHECK (pt_encode (WP_METHOD_PUSH, true, false, &h, &hn, &b, &bn) == 0);
    msgpack_unpacked_init (&unpacked);
    CHECK (wp_mp_unpack (&unpacked, h, hn, err, sizeof err) == 0);
    for (int e = 0; e < 5; e++)
        for (int k = 0; k < T_KINDS; k++) {
            s_buf_t buf;
            s_pack_replaced (s_begin (&buf), &unpacked.data, &unpacked.data.via.array.ptr [e],
                             s_samples [k].bytes, s_samples [k].size);
            s_end (&buf);
            wp_reply_t back;
            wp_reply_init (&back);
            wp_status rc = wp_reply_decode_header (&back, buf.data, buf.size, err, sizeof err);
            bool ok = (e == 2 && k == T_UINT) || (e == 3 && k == T_UINT) || (e == 4 && k == T_STR);
            CHECKF ((rc == WP_OK) == ok, "reply header element %d %s: %s", e, s_kind_names [k], err);
            wp_reply_clear (&back);
            free (buf.data);
        }
    msgpack_unpacked_destroy (&unpacked);
    free (h);
    free (b);
}

//  ---------------------------------------------------------------------
//  Bounds, one by one

static void
test_bounds (void)
{
    s_buf_t b;
    msgpack_packer *pk;
    char long_name [WP_NAME_MAX + 2];
    memset (long_name, 'n', sizeof long_name);
    long_name [WP_NAME_MAX + 1] = 0;

    //  Names: 255 bytes fine, 256 not; invalid UTF-8, NUL, empty
    struct { const char *text; size_t len; bool ok; } names [] = {
        { long_name, WP_NAME_MAX, true }, { long_name, WP_NAME_MAX + 1, false },
        { "", 0, false }, { "a\0b", 3, false }, { "\xc3\x28", 2, false },
        { "\xed\xa0\x80", 3, false },          //  a surrogate
        { "\xf4\x90\x80\x80", 4, false },      //  above U+10FFFF
        { "\xc0\xaf", 2, false },              //  overlong
        { "caf\xc3\xa9", 5, true }, { "\xf0\x9f\x98\x80", 4, true },
    };
    for (size_t i = 0; i < sizeof names / sizeof names [0]; i++) {
        pk = s_begin (&b);
        msgpack_pack_map (pk, 1);
        s_str (pk, "pool");
        s_strn (pk, names [i].text, names [i].len);
        EXPECT_BODY (WP_METHOD_SIZE, b, names [i].ok ? WP_OK: WP_INVALID_ARGUMENT, "'pool'");
    }
    //  ClaimMany max: 0 and 1001 out, 1 and 1000 in; negative and float out
    int64_t maxes [] = { 0, 1001, 1, 1000, -1, UINT32_MAX + INT64_C (1) };
    for (size_t i = 0; i < sizeof maxes / sizeof maxes [0]; i++) {
        pk = s_begin (&b);
        msgpack_pack_map (pk, 3);
        s_str (pk, "pool"); s_str (pk, "p");
        s_str (pk, "worker_id"); s_str (pk, "w");
        s_str (pk, "max"); msgpack_pack_int64 (pk, maxes [i]);
        EXPECT_BODY (WP_METHOD_CLAIM_MANY, b,
                     maxes [i] >= 1 && maxes [i] <= 1000 ? WP_OK: WP_INVALID_ARGUMENT, "'max'");
    }
    pk = s_begin (&b);
    msgpack_pack_map (pk, 2);
    s_str (pk, "pool"); s_str (pk, "p");
    s_str (pk, "worker_id"); s_str (pk, "w");
    EXPECT_BODY (WP_METHOD_CLAIM_MANY, b, WP_INVALID_ARGUMENT, "field 'max' is required");

    //  max_retries: negative out, 2^31-1 in, 2^31 out
    int64_t retries [] = { -1, 0, INT32_MAX, INT64_C (1) << 31, INT64_MIN };
    for (size_t i = 0; i < sizeof retries / sizeof retries [0]; i++) {
        pk = s_begin (&b);
        msgpack_pack_map (pk, 3);
        s_str (pk, "pool"); s_str (pk, "p");
        s_str (pk, "data"); s_bin (pk, "\xc0", 1);
        s_str (pk, "max_retries"); msgpack_pack_int64 (pk, retries [i]);
        bool ok = retries [i] >= 0 && retries [i] <= INT32_MAX;
        EXPECT_BODY (WP_METHOD_PUSH, b, ok ? WP_OK: WP_INVALID_ARGUMENT, "'max_retries'");
    }
    //  Numbers: NaN, infinities, out of range, float 32, ints
    struct { const char *field; double value; bool ok; } numbers [] = {
        { "wait_seconds", NAN, false }, { "wait_seconds", INFINITY, false },
        { "wait_seconds", -INFINITY, false }, { "wait_seconds", -0.001, false },
        { "wait_seconds", 0, true }, { "wait_seconds", 3600, true },
        { "wait_seconds", 3600.001, false },
        { "lease_seconds", 0, false }, { "lease_seconds", -1, false },
        { "lease_seconds", 0.001, true }, { "lease_seconds", 604800, true },
        { "lease_seconds", 604800.5, false }, { "lease_seconds", NAN, false },
    };
    for (size_t i = 0; i < sizeof numbers / sizeof numbers [0]; i++)
        for (int as = 0; as < 3; as++) {
            //  as float 64, float 32 (where exact), and int (where whole)
            double v = numbers [i].value;
            if (as == 1 && (double) (float) v != v && !isnan (v))
                continue;
            if (as == 2 && (!isfinite (v) || v != floor (v)))
                continue;
            pk = s_begin (&b);
            msgpack_pack_map (pk, 3);
            s_str (pk, "pool"); s_str (pk, "p");
            s_str (pk, "worker_id"); s_str (pk, "w");
            s_str (pk, numbers [i].field);
            if (as == 0)
                msgpack_pack_double (pk, v);
            else if (as == 1)
                msgpack_pack_float (pk, (float) v);
            else
                msgpack_pack_int64 (pk, (int64_t) v);
            EXPECT_BODY (WP_METHOD_CLAIM, b, numbers [i].ok ? WP_OK: WP_INVALID_ARGUMENT,
                         numbers [i].field);
        }
    //  Register's bounds
    struct { const char *field; double value; bool ok; } heartbeats [] = {
        { "heartbeat_interval_seconds", 0, false }, { "heartbeat_interval_seconds", 86400, true },
        { "heartbeat_interval_seconds", 86401, false }, { "heartbeat_interval_seconds", NAN, false },
    };
    for (size_t i = 0; i < 4; i++) {
        pk = s_begin (&b);
        msgpack_pack_map (pk, 2);
        s_str (pk, "worker_id"); s_str (pk, "w");
        s_str (pk, heartbeats [i].field); msgpack_pack_double (pk, heartbeats [i].value);
        EXPECT_BODY (WP_METHOD_REGISTER, b, heartbeats [i].ok ? WP_OK: WP_INVALID_ARGUMENT,
                     heartbeats [i].field);
    }
    for (int n = 64; n <= 65; n++) {
        pk = s_begin (&b);
        msgpack_pack_map (pk, 3);
        s_str (pk, "worker_id"); s_str (pk, "w");
        s_str (pk, "capabilities");
        msgpack_pack_array (pk, n);
        for (int i = 0; i < n; i++)
            s_str (pk, "cap");
        s_str (pk, "metadata");
        msgpack_pack_map (pk, n);
        for (int i = 0; i < n; i++) {
            char key [16];
            snprintf (key, sizeof key, "k%d", i);
            s_str (pk, key);
            msgpack_pack_int (pk, i);
        }
        EXPECT_BODY (WP_METHOD_REGISTER, b, n == 64 ? WP_OK: WP_INVALID_ARGUMENT, "'capabilities'");
    }
    pk = s_begin (&b);
    msgpack_pack_map (pk, 2);
    s_str (pk, "worker_id"); s_str (pk, "w");
    s_str (pk, "metadata");
    msgpack_pack_map (pk, 65);
    for (int i = 0; i < 65; i++) {
        char key [16];
        snprintf (key, sizeof key, "k%d", i);
        s_str (pk, key);
        msgpack_pack_nil (pk);
    }
    EXPECT_BODY (WP_METHOD_HEARTBEAT, b, WP_INVALID_ARGUMENT, "'metadata' must have at most 64");
    pk = s_begin (&b);
    msgpack_pack_map (pk, 2);
    s_str (pk, "worker_id"); s_str (pk, "w");
    s_str (pk, "metadata");
    msgpack_pack_map (pk, 1);
    s_strn (pk, long_name, WP_NAME_MAX + 1);
    msgpack_pack_nil (pk);
    EXPECT_BODY (WP_METHOD_HEARTBEAT, b, WP_INVALID_ARGUMENT, "'metadata' has a key");
    pk = s_begin (&b);
    msgpack_pack_map (pk, 3);
    s_str (pk, "worker_id"); s_str (pk, "w");
    s_str (pk, "host"); s_strn (pk, long_name, WP_HOST_MAX + 1);
    s_str (pk, "pid"); msgpack_pack_int (pk, 1);
    EXPECT_BODY (WP_METHOD_REGISTER, b, WP_INVALID_ARGUMENT, "'host'");
    pk = s_begin (&b);
    msgpack_pack_map (pk, 2);
    s_str (pk, "worker_id"); s_str (pk, "w");
    s_str (pk, "pid"); msgpack_pack_int (pk, -5);
    EXPECT_BODY (WP_METHOD_REGISTER, b, WP_INVALID_ARGUMENT, "'pid'");
    const char *times [] = { "2026-11-26T05:39:00Z", "2026-11-26 05:39:00Z", "yesterday",
                             "2026-02-30T00:00:00Z" };
    for (int i = 0; i < 4; i++) {
        pk = s_begin (&b);
        msgpack_pack_map (pk, 2);
        s_str (pk, "worker_id"); s_str (pk, "w");
        s_str (pk, "started_at"); s_str (pk, times [i]);
        EXPECT_BODY (WP_METHOD_REGISTER, b, i == 0 ? WP_OK: WP_INVALID_ARGUMENT, "'started_at'");
    }
    //  Fail's error: 65536 bytes in, 65537 out, NUL out
    for (size_t len = WP_ERROR_MAX; len <= WP_ERROR_MAX + 1; len++) {
        char *text = malloc (len);
        memset (text, 'e', len);
        pk = s_begin (&b);
        msgpack_pack_map (pk, 3);
        s_str (pk, "pool"); s_str (pk, "p");
        s_str (pk, "id"); s_str (pk, "i");
        s_str (pk, "error"); s_strn (pk, text, len);
        EXPECT_BODY (WP_METHOD_FAIL, b, len == WP_ERROR_MAX ? WP_OK: WP_INVALID_ARGUMENT, "'error'");
        free (text);
    }
    pk = s_begin (&b);
    msgpack_pack_map (pk, 3);
    s_str (pk, "pool"); s_str (pk, "p");
    s_str (pk, "id"); s_str (pk, "i");
    s_str (pk, "error"); s_strn (pk, "a\0b", 3);
    EXPECT_BODY (WP_METHOD_FAIL, b, WP_INVALID_ARGUMENT, "'error'");
    //  Data and result must not be empty
    pk = s_begin (&b);
    msgpack_pack_map (pk, 2);
    s_str (pk, "pool"); s_str (pk, "p");
    s_str (pk, "data"); s_bin (pk, "", 0);
    EXPECT_BODY (WP_METHOD_PUSH, b, WP_INVALID_ARGUMENT, "'data' must not be empty");
    pk = s_begin (&b);
    msgpack_pack_map (pk, 3);
    s_str (pk, "pool"); s_str (pk, "p");
    s_str (pk, "id"); s_str (pk, "i");
    s_str (pk, "result"); s_bin (pk, "", 0);
    EXPECT_BODY (WP_METHOD_COMPLETE, b, WP_INVALID_ARGUMENT, "'result'");
    //  PushMany: 0 and 1001 items out, 1000 in; a bad entry is named by index
    size_t counts [] = { 0, 1, 1000, 1001 };
    for (size_t c = 0; c < 4; c++) {
        pk = s_begin (&b);
        msgpack_pack_map (pk, 2);
        s_str (pk, "pool"); s_str (pk, "p");
        s_str (pk, "items");
        msgpack_pack_array (pk, counts [c]);
        for (size_t i = 0; i < counts [c]; i++) {
            msgpack_pack_map (pk, 1);
            s_str (pk, "data"); s_bin (pk, "\x01", 1);
        }
        EXPECT_BODY (WP_METHOD_PUSH_MANY, b,
                     counts [c] >= 1 && counts [c] <= 1000 ? WP_OK: WP_INVALID_ARGUMENT, "'items'");
    }
    pk = s_begin (&b);
    msgpack_pack_map (pk, 2);
    s_str (pk, "pool"); s_str (pk, "p");
    s_str (pk, "items");
    msgpack_pack_array (pk, 3);
    for (int i = 0; i < 3; i++) {
        msgpack_pack_map (pk, 2);
        s_str (pk, "data"); s_bin (pk, "\x01", 1);
        s_str (pk, "max_retries"); msgpack_pack_int (pk, i == 2 ? -3: 1);
    }
    EXPECT_BODY (WP_METHOD_PUSH_MANY, b, WP_INVALID_ARGUMENT, "'items[2].max_retries'");
    pk = s_begin (&b);
    msgpack_pack_map (pk, 2);
    s_str (pk, "pool"); s_str (pk, "p");
    s_str (pk, "items");
    msgpack_pack_array (pk, 2);
    msgpack_pack_map (pk, 1);
    s_str (pk, "data"); s_bin (pk, "\x01", 1);
    msgpack_pack_int (pk, 5);
    EXPECT_BODY (WP_METHOD_PUSH_MANY, b, WP_INVALID_ARGUMENT, "'items[1]' must be a map");
    //  CompleteMany: 0 and 1001 items out, 1000 in; worker_id optional;
    //  an entry without id, or with an empty result, is named by index
    for (size_t c = 0; c < 4; c++) {
        pk = s_begin (&b);
        msgpack_pack_map (pk, 2);
        s_str (pk, "pool"); s_str (pk, "p");
        s_str (pk, "items");
        msgpack_pack_array (pk, counts [c]);
        for (size_t i = 0; i < counts [c]; i++) {
            msgpack_pack_map (pk, 2);
            s_str (pk, "id"); s_str (pk, "i");
            s_str (pk, "result"); s_bin (pk, "\x01", 1);
        }
        EXPECT_BODY (WP_METHOD_COMPLETE_MANY, b,
                     counts [c] >= 1 && counts [c] <= 1000 ? WP_OK: WP_INVALID_ARGUMENT, "'items'");
    }
    pk = s_begin (&b);
    msgpack_pack_map (pk, 1);
    s_str (pk, "pool"); s_str (pk, "p");
    EXPECT_BODY (WP_METHOD_COMPLETE_MANY, b, WP_INVALID_ARGUMENT, "field 'items' is required");
    pk = s_begin (&b);
    msgpack_pack_map (pk, 2);
    s_str (pk, "pool"); s_str (pk, "p");
    s_str (pk, "items");
    msgpack_pack_array (pk, 3);
    for (int i = 0; i < 3; i++) {
        msgpack_pack_map (pk, 1);
        if (i == 1) {
            s_str (pk, "result"); s_bin (pk, "\x01", 1);
        }
        else {
            s_str (pk, "id"); s_str (pk, "i");
        }
    }
    EXPECT_BODY (WP_METHOD_COMPLETE_MANY, b, WP_INVALID_ARGUMENT, "field 'items[1].id' is required");
    pk = s_begin (&b);
    msgpack_pack_map (pk, 2);
    s_str (pk, "pool"); s_str (pk, "p");
    s_str (pk, "items");
    msgpack_pack_array (pk, 2);
    msgpack_pack_map (pk, 1);
    s_str (pk, "id"); s_str (pk, "i");
    msgpack_pack_map (pk, 2);
    s_str (pk, "id"); s_str (pk, "j");
    s_str (pk, "result"); s_bin (pk, "", 0);
    EXPECT_BODY (WP_METHOD_COMPLETE_MANY, b, WP_INVALID_ARGUMENT, "'items[1].result' must not be empty");
    pk = s_begin (&b);
    msgpack_pack_map (pk, 2);
    s_str (pk, "pool"); s_str (pk, "p");
    s_str (pk, "items");
    msgpack_pack_array (pk, 2);
    msgpack_pack_map (pk, 1);
    s_str (pk, "id"); s_str (pk, "i");
    s_str (pk, "i");
    EXPECT_BODY (WP_METHOD_COMPLETE_MANY, b, WP_INVALID_ARGUMENT, "'items[1]' must be a map");
    //  List: status as one name or up to 16
    for (int n = 0; n <= 17; n += 16) {
        pk = s_begin (&b);
        msgpack_pack_map (pk, 1);
        s_str (pk, "status");
        msgpack_pack_array (pk, n);
        for (int i = 0; i < n; i++)
            s_str (pk, "active");
        EXPECT_BODY (WP_METHOD_LIST_WORKERS, b, n <= 16 ? WP_OK: WP_INVALID_ARGUMENT, "'status'");
    }
    pk = s_begin (&b);
    msgpack_pack_map (pk, 1);
    s_str (pk, "status");
    msgpack_pack_array (pk, 17);
    for (int i = 0; i < 17; i++)
        s_str (pk, "active");
    EXPECT_BODY (WP_METHOD_LIST_WORKERS, b, WP_INVALID_ARGUMENT, "'status'");
    pk = s_begin (&b);
    msgpack_pack_map (pk, 2);
    s_str (pk, "status"); s_str (pk, "lost");
    s_str (pk, "stale_threshold_seconds"); msgpack_pack_double (pk, -1);
    EXPECT_BODY (WP_METHOD_LIST_WORKERS, b, WP_INVALID_ARGUMENT, "'stale_threshold_seconds'");
    {
        //  A single status decodes to a one-element filter
        pk = s_begin (&b);
        msgpack_pack_map (pk, 1);
        s_str (pk, "status"); s_str (pk, "lost");
        s_end (&b);
        wp_request_t req;
        wp_request_init (&req);
        req.method = WP_METHOD_LIST_WORKERS;
        char err [256];
        CHECK (wp_request_decode_body (&req, b.data, b.size, err, sizeof err) == WP_OK);
        CHECK (req.status_count == 1 && strcmp (req.statuses [0], "lost") == 0);
        CHECK (req.stale_threshold < 0);
        wp_request_clear (&req);
        free (b.data);
    }
    //  Nil is "absent": fine for an optional field, missing for a required one
    pk = s_begin (&b);
    msgpack_pack_map (pk, 4);
    s_str (pk, "pool"); s_str (pk, "p");
    s_str (pk, "data"); s_bin (pk, "\x01", 1);
    s_str (pk, "id"); msgpack_pack_nil (pk);
    s_str (pk, "max_retries"); msgpack_pack_nil (pk);
    EXPECT_BODY (WP_METHOD_PUSH, b, WP_OK, NULL);
    pk = s_begin (&b);
    msgpack_pack_map (pk, 2);
    s_str (pk, "pool"); msgpack_pack_nil (pk);
    s_str (pk, "data"); s_bin (pk, "\x01", 1);
    EXPECT_BODY (WP_METHOD_PUSH, b, WP_INVALID_ARGUMENT, "field 'pool' is required");
    //  Body shapes: nil is {}, duplicates and non-string keys refused,
    //  unknown keys ignored, trailing bytes refused
    pk = s_begin (&b);
    msgpack_pack_nil (pk);
    EXPECT_BODY (WP_METHOD_PING, b, WP_OK, NULL);
    pk = s_begin (&b);
    msgpack_pack_nil (pk);
    EXPECT_BODY (WP_METHOD_SIZE, b, WP_INVALID_ARGUMENT, "field 'pool' is required");
    pk = s_begin (&b);
    msgpack_pack_array (pk, 0);
    EXPECT_BODY (WP_METHOD_PING, b, WP_INVALID_ARGUMENT, "body must be a map");
    pk = s_begin (&b);
    msgpack_pack_map (pk, 2);
    s_str (pk, "pool"); s_str (pk, "p");
    s_str (pk, "pool"); s_str (pk, "q");
    EXPECT_BODY (WP_METHOD_SIZE, b, WP_INVALID_ARGUMENT, "key 'pool' twice");
    pk = s_begin (&b);
    msgpack_pack_map (pk, 3);
    s_str (pk, "zzz"); msgpack_pack_nil (pk);
    s_str (pk, "pool"); s_str (pk, "p");
    s_str (pk, "zzz"); msgpack_pack_int (pk, 1);
    EXPECT_BODY (WP_METHOD_SIZE, b, WP_INVALID_ARGUMENT, "key 'zzz' twice");
    pk = s_begin (&b);
    msgpack_pack_map (pk, 2);
    s_str (pk, "pool"); s_str (pk, "p");
    msgpack_pack_int (pk, 1); msgpack_pack_nil (pk);
    EXPECT_BODY (WP_METHOD_SIZE, b, WP_INVALID_ARGUMENT, "not a string");
    pk = s_begin (&b);
    msgpack_pack_map (pk, 4);
    s_str (pk, "future_field"); msgpack_pack_array (pk, 0);
    s_str (pk, "pool"); s_str (pk, "p");
    s_str (pk, "data"); msgpack_pack_int (pk, 5);       //  not Size's: ignored
    s_str (pk, ""); msgpack_pack_true (pk);
    EXPECT_BODY (WP_METHOD_SIZE, b, WP_OK, NULL);
    pk = s_begin (&b);
    msgpack_pack_map (pk, 1);
    s_str (pk, "pool"); s_str (pk, "p");
    msgpack_pack_nil (pk);
    EXPECT_BODY (WP_METHOD_SIZE, b, WP_INVALID_ARGUMENT, "1 byte after");
    //  Many keys: the duplicate check stays n log n and still finds the pair
    pk = s_begin (&b);
    msgpack_pack_map (pk, 50001);
    for (int i = 0; i < 50000; i++) {
        char key [16];
        snprintf (key, sizeof key, "k%d", i);
        s_str (pk, key);
        msgpack_pack_nil (pk);
    }
    s_str (pk, "k4242"); msgpack_pack_nil (pk);
    EXPECT_BODY (WP_METHOD_PING, b, WP_INVALID_ARGUMENT, "key 'k4242' twice");
}

//  ---------------------------------------------------------------------
//  Headers

static void
s_expect_header (int line, const uint8_t *data, size_t size, wp_status expected,
                 bool replyable_expected, const char *needle)
{
    wp_request_t req;
    wp_request_init (&req);
    bool replyable = !replyable_expected;
    char err [512] = "";
    wp_status rc = wp_request_decode_header (&req, data, size, &replyable, err, sizeof err);
    if (rc != expected || replyable != replyable_expected
    ||  (needle && expected != WP_OK && !strstr (err, needle))) {
        fprintf (stderr, "line %d: header: got %s %d '%s', expected %s %d '%s'\n", line,
                 wp_strerror (rc), replyable, err, wp_strerror (expected),
                 replyable_expected, needle ? needle: "");
        pt_failures++;
    }
    wp_request_clear (&req);
}

#define EXPECT_HEADER(buf, status, replyable, needle) do { \
    s_end (&(buf)); \
    s_expect_header (__LINE__, (buf).data, (buf).size, status, replyable, needle); \
    free ((buf).data); \
} while (0)

//  Packs a request header from its parts (elements -1: leave out).
static msgpack_packer *
s_header (s_buf_t *b, int elements, int64_t version, const char *method, bool meta_nil)
{
    msgpack_packer *pk = s_begin (b);
    msgpack_pack_array (pk, elements);
    s_str (pk, "WPQ");
    msgpack_pack_int64 (pk, version);
    msgpack_pack_uint64 (pk, 77);
    if (elements >= 4)
        s_str (pk, method);
    if (elements >= 5)
        msgpack_pack_uint32 (pk, 100);
    if (elements >= 6) {
        if (meta_nil)
            msgpack_pack_nil (pk);
        else
            msgpack_pack_map (pk, 0);
    }
    return pk;
}

//  Packs one field's value: a double (kind 'd'), an int64 ('i'), a
//  string ('s') or nil ('n').
typedef struct {
    char kind;
    double d;
    int64_t i;
    const char *s;
    size_t len;
} s_value_t;

#define S_D(v) ((s_value_t) { 'd', (v), 0, NULL, 0 })
#define S_I(v) ((s_value_t) { 'i', 0, (v), NULL, 0 })
#define S_S(v) ((s_value_t) { 's', 0, 0, (v), strlen (v) })
#define S_SN(v, n) ((s_value_t) { 's', 0, 0, (v), (n) })

static void
s_value (msgpack_packer *pk, s_value_t v)
{
    if (v.kind == 'd')
        msgpack_pack_double (pk, v.d);
    else if (v.kind == 'i')
        msgpack_pack_int64 (pk, v.i);
    else if (v.kind == 's')
        s_strn (pk, v.s, v.len);
    else
        msgpack_pack_nil (pk);
}

//  Decodes a Push, a PushMany of two items (the field in the second) and,
//  for each, checks the answer and that a refusal names the field.
static void
s_expect_entry_field (int line, const char *field, s_value_t v, bool ok)
{
    s_buf_t b;
    msgpack_packer *pk = s_begin (&b);
    msgpack_pack_map (pk, 3);
    s_str (pk, "pool"); s_str (pk, "p");
    s_str (pk, "data"); s_bin (pk, "\xc0", 1);
    s_str (pk, field); s_value (pk, v);
    s_end (&b);
    char needle [64];
    snprintf (needle, sizeof needle, "field '%s'", field);
    s_expect_request_body (line, WP_METHOD_PUSH, b.data, b.size,
                           ok ? WP_OK: WP_INVALID_ARGUMENT, needle);
    free (b.data);
    pk = s_begin (&b);
    msgpack_pack_map (pk, 2);
    s_str (pk, "pool"); s_str (pk, "p");
    s_str (pk, "items");
    msgpack_pack_array (pk, 2);
    msgpack_pack_map (pk, 1);
    s_str (pk, "data"); s_bin (pk, "\xc0", 1);
    msgpack_pack_map (pk, 2);
    s_str (pk, "data"); s_bin (pk, "\xc0", 1);
    s_str (pk, field); s_value (pk, v);
    s_end (&b);
    snprintf (needle, sizeof needle, "field 'items[1].%s'", field);
    s_expect_request_body (line, WP_METHOD_PUSH_MANY, b.data, b.size,
                           ok ? WP_OK: WP_INVALID_ARGUMENT, needle);
    free (b.data);
}

//  The bounds of scheduling's fields (wp_limits.h): each just inside is
//  taken, just outside refused with a message naming the field.
static void
test_scheduling_bounds (void)
{
    char long_text [WP_NAME_MAX + 2];
    memset (long_text, 'k', sizeof long_text);
    //  Push / PushMany: delay_seconds, run_at, priority, unique_key
    struct { const char *field; s_value_t v; bool ok; } entries [] = {
        { "delay_seconds", S_D (0), true }, { "delay_seconds", S_D (0.25), true },
        { "delay_seconds", S_D (WP_DELAY_MAX), true },
        { "delay_seconds", S_D (WP_DELAY_MAX + 0.5), false },
        { "delay_seconds", S_D (-0.001), false }, { "delay_seconds", S_D (NAN), false },
        { "delay_seconds", S_D (INFINITY), false }, { "delay_seconds", S_I (60), true },
        { "delay_seconds", S_S ("60"), false },
        { "run_at", S_S ("2026-11-26T05:39:00.123456Z"), true },
        { "run_at", S_S ("2026-11-26T07:39:00+02:00"), true },
        { "run_at", S_S ("tomorrow"), false }, { "run_at", S_I (1795671540), false },
        { "priority", S_I (0), true }, { "priority", S_I (-1), true },
        { "priority", S_I (INT32_MIN), true }, { "priority", S_I (INT32_MAX), true },
        { "priority", S_I (INT32_MIN - INT64_C (1)), false },
        { "priority", S_I (INT32_MAX + INT64_C (1)), false },
        { "priority", S_D (1.5), false }, { "priority", S_S ("high"), false },
        { "unique_key", S_S ("invoice-42"), true },
        { "unique_key", S_SN (long_text, WP_NAME_MAX), true },
        { "unique_key", S_SN (long_text, WP_NAME_MAX + 1), false },
        { "unique_key", S_S (""), false }, { "unique_key", S_SN ("a\0b", 3), false },
        { "unique_key", S_I (7), false },
    };
    for (size_t i = 0; i < sizeof entries / sizeof entries [0]; i++)
        s_expect_entry_field (__LINE__, entries [i].field, entries [i].v, entries [i].ok);
    //  Both delay_seconds and run_at decode (the store refuses the pair)
    s_buf_t b;
    msgpack_packer *pk = s_begin (&b);
    msgpack_pack_map (pk, 4);
    s_str (pk, "pool"); s_str (pk, "p");
    s_str (pk, "data"); s_bin (pk, "\xc0", 1);
    s_str (pk, "delay_seconds"); msgpack_pack_double (pk, 5);
    s_str (pk, "run_at"); s_str (pk, "2026-11-26T05:39:00Z");
    EXPECT_BODY (WP_METHOD_PUSH, b, WP_OK, NULL);

    //  Fail: retry_after_seconds 0..WP_DELAY_MAX
    struct { s_value_t v; bool ok; } retry_after [] = {
        { S_D (0), true }, { S_D (30), true }, { S_D (WP_DELAY_MAX), true },
        { S_D (WP_DELAY_MAX + 1), false }, { S_D (-1), false }, { S_D (NAN), false },
        { S_S ("30"), false },
    };
    for (size_t i = 0; i < sizeof retry_after / sizeof retry_after [0]; i++) {
        pk = s_begin (&b);
        msgpack_pack_map (pk, 3);
        s_str (pk, "pool"); s_str (pk, "p");
        s_str (pk, "id"); s_str (pk, "j");
        s_str (pk, "retry_after_seconds"); s_value (pk, retry_after [i].v);
        EXPECT_BODY (WP_METHOD_FAIL, b, retry_after [i].ok ? WP_OK: WP_INVALID_ARGUMENT,
                     "field 'retry_after_seconds'");
    }

    //  SetBackoff: base required 0..WP_DELAY_MAX, cap 0..WP_DELAY_MAX, jitter 0..1
    struct { const char *field; s_value_t v; bool ok; } backoff [] = {
        { "base_seconds", S_D (0), true }, { "base_seconds", S_D (WP_DELAY_MAX), true },
        { "base_seconds", S_D (WP_DELAY_MAX + 1), false },
        { "base_seconds", S_D (-0.5), false }, { "base_seconds", S_D (NAN), false },
        { "cap_seconds", S_D (WP_DELAY_MAX), true },
        { "cap_seconds", S_D (WP_DELAY_MAX * 2), false }, { "cap_seconds", S_D (-1), false },
        { "jitter", S_D (0), true }, { "jitter", S_D (1), true }, { "jitter", S_I (1), true },
        { "jitter", S_D (1.01), false }, { "jitter", S_D (-0.1), false },
        { "jitter", S_S ("0.5"), false },
    };
    for (size_t i = 0; i < sizeof backoff / sizeof backoff [0]; i++) {
        bool base = strcmp (backoff [i].field, "base_seconds") == 0;
        pk = s_begin (&b);
        msgpack_pack_map (pk, base ? 2: 3);
        s_str (pk, "pool"); s_str (pk, "p");
        if (!base) {
            s_str (pk, "base_seconds"); msgpack_pack_double (pk, 1);
        }
        s_str (pk, backoff [i].field); s_value (pk, backoff [i].v);
        char needle [64];
        snprintf (needle, sizeof needle, "field '%s'", backoff [i].field);
        EXPECT_BODY (WP_METHOD_SET_BACKOFF, b, backoff [i].ok ? WP_OK: WP_INVALID_ARGUMENT,
                     needle);
    }
    pk = s_begin (&b);
    msgpack_pack_map (pk, 1);
    s_str (pk, "pool"); s_str (pk, "p");
    EXPECT_BODY (WP_METHOD_SET_BACKOFF, b, WP_INVALID_ARGUMENT,
                 "field 'base_seconds' is required");
    //  cap defaults to the base, jitter to 0
    pk = s_begin (&b);
    msgpack_pack_map (pk, 2);
    s_str (pk, "pool"); s_str (pk, "p");
    s_str (pk, "base_seconds"); msgpack_pack_double (pk, 4);
    s_end (&b);
    wp_request_t req;
    wp_request_init (&req);
    req.method = WP_METHOD_SET_BACKOFF;
    char err [256];
    CHECK (wp_request_decode_body (&req, b.data, b.size, err, sizeof err) == WP_OK);
    CHECK (req.backoff.base == 4 && req.backoff.cap == 4 && req.backoff.jitter == 0);
    wp_request_clear (&req);
    free (b.data);

    //  Schedule.Add: name <= WP_SCHEDULE_NAME_MAX, cron <= WP_CRON_MAX, data a
    //  non-empty bin, priority int32, max_retries 0..2^31-1
    char long_cron [WP_CRON_MAX + 2];
    memset (long_cron, ' ', sizeof long_cron);
    memcpy (long_cron, "* * * * *", 9);
    struct { const char *field; s_value_t v; bool ok; } adds [] = {
        { "name", S_SN (long_text, WP_SCHEDULE_NAME_MAX), true },
        { "name", S_SN (long_text, WP_SCHEDULE_NAME_MAX + 1), false },
        { "name", S_S (""), false }, { "name", S_SN ("\xc3\x28", 2), false },
        { "name", S_I (1), false }, { "name", (s_value_t) { 'n' }, false },
        { "cron", S_SN (long_cron, WP_CRON_MAX), true },
        { "cron", S_SN (long_cron, WP_CRON_MAX + 1), false },
        { "cron", S_I (5), false }, { "cron", (s_value_t) { 'n' }, false },
        { "pool", S_SN (long_text, WP_NAME_MAX + 1), false },
        { "priority", S_I (INT32_MIN), true }, { "priority", S_I (INT32_MAX), true },
        { "priority", S_I (INT32_MAX + INT64_C (1)), false },
        { "priority", S_I (INT32_MIN - INT64_C (1)), false },
        { "max_retries", S_I (0), true }, { "max_retries", S_I (WP_MAX_RETRIES_MAX), true },
        { "max_retries", S_I (-1), false },
        { "max_retries", S_I (WP_MAX_RETRIES_MAX + INT64_C (1)), false },
    };
    static const char *const add_fields [] = { "name", "pool", "cron", "priority",
                                               "max_retries" };
    for (size_t i = 0; i < sizeof adds / sizeof adds [0]; i++) {
        pk = s_begin (&b);
        msgpack_pack_map (pk, 4 + (strcmp (adds [i].field, "priority") == 0
                                   || strcmp (adds [i].field, "max_retries") == 0));
        for (size_t k = 0; k < 5; k++) {
            bool here = strcmp (add_fields [k], adds [i].field) == 0;
            if (here) {
                s_str (pk, adds [i].field);
                s_value (pk, adds [i].v);
            }
            else
            if (k < 3) {
                s_str (pk, add_fields [k]);
                s_str (pk, k == 2 ? "*/5 * * * *": "x");
            }
        }
        s_str (pk, "data"); s_bin (pk, "\x01", 1);
        char needle [64];
        snprintf (needle, sizeof needle, "field '%s'", adds [i].field);
        EXPECT_BODY (WP_METHOD_SCHEDULE_ADD, b, adds [i].ok ? WP_OK: WP_INVALID_ARGUMENT,
                     needle);
    }
    for (int empty = 0; empty < 2; empty++) {
        pk = s_begin (&b);
        msgpack_pack_map (pk, 3 + empty);
        s_str (pk, "name"); s_str (pk, "n");
        s_str (pk, "pool"); s_str (pk, "p");
        s_str (pk, "cron"); s_str (pk, "* * * * *");
        if (empty) {
            s_str (pk, "data"); s_bin (pk, "", 0);
        }
        EXPECT_BODY (WP_METHOD_SCHEDULE_ADD, b, WP_INVALID_ARGUMENT,
                     empty ? "field 'data' must not be empty": "field 'data' is required");
    }
    //  Schedule.Remove: the same name rule
    struct { s_value_t v; bool ok; } removes [] = {
        { S_SN (long_text, WP_SCHEDULE_NAME_MAX), true },
        { S_SN (long_text, WP_SCHEDULE_NAME_MAX + 1), false },
        { S_S (""), false }, { (s_value_t) { 'n' }, false },
    };
    for (size_t i = 0; i < sizeof removes / sizeof removes [0]; i++) {
        pk = s_begin (&b);
        msgpack_pack_map (pk, 1);
        s_str (pk, "name"); s_value (pk, removes [i].v);
        EXPECT_BODY (WP_METHOD_SCHEDULE_REMOVE, b, removes [i].ok ? WP_OK: WP_INVALID_ARGUMENT,
                     "field 'name'");
    }
    //  Schedule.List takes nothing (and ignores what it does not know)
    pk = s_begin (&b);
    msgpack_pack_map (pk, 1);
    s_str (pk, "name"); s_str (pk, "n");
    EXPECT_BODY (WP_METHOD_SCHEDULE_LIST, b, WP_OK, NULL);
}

static void
test_headers (void)
{
    s_buf_t b;
    msgpack_packer *pk;
    s_header (&b, 6, 1, "WorkPool.Size", false);
    EXPECT_HEADER (b, WP_OK, true, NULL);
    s_header (&b, 6, 1, "WorkPool.Size", true);
    EXPECT_HEADER (b, WP_OK, true, NULL);
    s_header (&b, 6, 2, "WorkPool.Size", false);
    EXPECT_HEADER (b, WP_UNIMPLEMENTED, true,
                   "unsupported protocol version 2 (this broker speaks 1)");
    //  A version 2 header may have another shape: the version is checked first
    s_header (&b, 3, 2, "", false);
    EXPECT_HEADER (b, WP_UNIMPLEMENTED, true, "version 2");
    s_header (&b, 6, 0, "WorkPool.Size", false);
    EXPECT_HEADER (b, WP_UNIMPLEMENTED, true, "version 0");
    s_header (&b, 6, -1, "WorkPool.Size", false);
    EXPECT_HEADER (b, WP_UNIMPLEMENTED, true, "version -1");
    s_header (&b, 6, 1, "WorkPool.Frobnicate", false);
    EXPECT_HEADER (b, WP_UNIMPLEMENTED, true, "unknown method 'WorkPool.Frobnicate'");
    s_header (&b, 5, 1, "WorkPool.Size", false);
    EXPECT_HEADER (b, WP_INVALID_ARGUMENT, true, "array of 6 elements, not 5");
    pk = s_header (&b, 7, 1, "WorkPool.Size", false);
    msgpack_pack_nil (pk);
    EXPECT_HEADER (b, WP_INVALID_ARGUMENT, true, "array of 6 elements, not 7");
    s_header (&b, 6, 1, "", false);
    EXPECT_HEADER (b, WP_INVALID_ARGUMENT, true, "method must be a string");
    //  Not ours: no signature, no id, not an array, not msgpack
    pk = s_begin (&b);
    msgpack_pack_array (pk, 6);
    s_str (pk, "WPR");
    EXPECT_HEADER (b, WP_INVALID_ARGUMENT, false, NULL);
    pk = s_begin (&b);
    msgpack_pack_array (pk, 3);
    s_str (pk, "WPQ"); msgpack_pack_int (pk, 1); msgpack_pack_int (pk, -7);
    EXPECT_HEADER (b, WP_INVALID_ARGUMENT, false, "request_id");
    pk = s_begin (&b);
    msgpack_pack_array (pk, 2);
    s_str (pk, "WPQ"); msgpack_pack_int (pk, 1);
    EXPECT_HEADER (b, WP_INVALID_ARGUMENT, false, "header must be an array");
    pk = s_begin (&b);
    msgpack_pack_map (pk, 0);
    EXPECT_HEADER (b, WP_INVALID_ARGUMENT, false, "header must be an array");
    s_expect_header (__LINE__, (const uint8_t *) "", 0, WP_INVALID_ARGUMENT, false, "empty");
    s_expect_header (__LINE__, NULL, 0, WP_INVALID_ARGUMENT, false, "empty");
    s_expect_header (__LINE__, (const uint8_t *) "\xc1", 1, WP_INVALID_ARGUMENT, false, NULL);
    //  Trailing byte after a good header: not one msgpack value, not answered
    pk = s_header (&b, 6, 1, "WorkPool.Size", false);
    msgpack_pack_nil (pk);
    EXPECT_HEADER (b, WP_INVALID_ARGUMENT, false, "1 byte after");
    //  timeout_ms: uint32
    pk = s_begin (&b);
    msgpack_pack_array (pk, 6);
    s_str (pk, "WPQ"); msgpack_pack_int (pk, 1); msgpack_pack_int (pk, 3);
    s_str (pk, "Broker.Ping"); msgpack_pack_uint64 (pk, UINT32_MAX + UINT64_C (1));
    msgpack_pack_map (pk, 0);
    EXPECT_HEADER (b, WP_INVALID_ARGUMENT, true, "timeout_ms");
    //  Metadata: strings only, 64 entries, bounded values, no duplicates
    for (int n = 64; n <= 65; n++) {
        pk = s_begin (&b);
        msgpack_pack_array (pk, 6);
        s_str (pk, "WPQ"); msgpack_pack_int (pk, 1); msgpack_pack_int (pk, 3);
        s_str (pk, "Broker.Ping"); msgpack_pack_int (pk, 0);
        msgpack_pack_map (pk, n);
        for (int i = 0; i < n; i++) {
            char key [16];
            snprintf (key, sizeof key, "k%d", i);
            s_str (pk, key);
            s_str (pk, "v");
        }
        EXPECT_HEADER (b, n == 64 ? WP_OK: WP_INVALID_ARGUMENT, true, "at most 64");
    }
    struct { const char *key; size_t key_len; const char *value; size_t value_len; bool ok; } metas [] = {
        { "k", 1, "v", 1, true }, { "", 0, "v", 1, false }, { "k", 1, "a\0", 2, false },
        { "k", 1, "\xff", 1, false },
    };
    for (size_t i = 0; i < sizeof metas / sizeof metas [0]; i++) {
        pk = s_begin (&b);
        msgpack_pack_array (pk, 6);
        s_str (pk, "WPQ"); msgpack_pack_int (pk, 1); msgpack_pack_int (pk, 3);
        s_str (pk, "Broker.Ping"); msgpack_pack_int (pk, 0);
        msgpack_pack_map (pk, 1);
        s_strn (pk, metas [i].key, metas [i].key_len);
        s_strn (pk, metas [i].value, metas [i].value_len);
        EXPECT_HEADER (b, metas [i].ok ? WP_OK: WP_INVALID_ARGUMENT, true, "metadata");
    }
    char *long_value = malloc (WP_META_VALUE_MAX + 1);
    memset (long_value, 'v', WP_META_VALUE_MAX + 1);
    for (size_t len = WP_META_VALUE_MAX; len <= WP_META_VALUE_MAX + 1; len++) {
        pk = s_begin (&b);
        msgpack_pack_array (pk, 6);
        s_str (pk, "WPQ"); msgpack_pack_int (pk, 1); msgpack_pack_int (pk, 3);
        s_str (pk, "Broker.Ping"); msgpack_pack_int (pk, 0);
        msgpack_pack_map (pk, 1);
        s_str (pk, "k");
        s_strn (pk, long_value, len);
        EXPECT_HEADER (b, len == WP_META_VALUE_MAX ? WP_OK: WP_INVALID_ARGUMENT, true,
                       "metadata value");
    }
    free (long_value);
    pk = s_begin (&b);
    msgpack_pack_array (pk, 6);
    s_str (pk, "WPQ"); msgpack_pack_int (pk, 1); msgpack_pack_int (pk, 3);
    s_str (pk, "Broker.Ping"); msgpack_pack_int (pk, 0);
    msgpack_pack_map (pk, 2);
    s_str (pk, "k"); s_str (pk, "1");
    s_str (pk, "k"); s_str (pk, "2");
    EXPECT_HEADER (b, WP_INVALID_ARGUMENT, true, "twice");

    //  Non-canonical but valid encodings are read (int 1 as uint 64, ...)
    pk = s_begin (&b);
    static const char odd [] = "\x96\xd9\x03WPQ\xd0\x01\xcf\x00\x00\x00\x00\x00\x00\x00\x05"
                               "\xab" "Broker.Ping\xce\x00\x00\x00\x00\xde\x00\x00";
    wp_mp_pack_raw (pk, (const uint8_t *) odd, sizeof odd - 1);
    EXPECT_HEADER (b, WP_OK, true, NULL);

    //  Reply headers
    struct { const char *bytes; size_t size; bool ok; const char *needle; } replies [] = {
        { "\x95\xa3WPR\x01\x07\x05\xa0", 9, true, NULL },
        { "\x95\xa3WPR\x02\x07\x05\xa0", 9, false, "version 2" },
        { "\x95\xa3WPR\x01\x07\x11\xa0", 9, false, "'status'" },         //  17
        { "\x95\xa3WPQ\x01\x07\x05\xa0", 9, false, "\"WPR\"" },
        { "\x94\xa3WPR\x01\x07\x05", 8, false, "array of 5" },
        { "\x95\xa3WPR\x01\x07\x05\xc0", 9, false, "'message'" },
        { "\x95\xa3WPR\x01\x07\x05\xa1\x00", 10, false, "'message'" },
    };
    for (size_t i = 0; i < sizeof replies / sizeof replies [0]; i++) {
        wp_reply_t reply;
        wp_reply_init (&reply);
        char err [256] = "";
        wp_status rc = wp_reply_decode_header (&reply, (const uint8_t *) replies [i].bytes,
                                               replies [i].size, err, sizeof err);
        CHECKF (replies [i].ok ? rc == WP_OK: rc == WP_INVALID_ARGUMENT
                && strstr (err, replies [i].needle), "reply header %zu: '%s'", i, err);
        if (replies [i].ok)
            CHECK (reply.request_id == 7 && reply.status == WP_NOT_FOUND
                   && reply.message && strcmp (reply.message, "") == 0);
        wp_reply_clear (&reply);
    }
}

//  Reply bodies: what a client must refuse.
static void
test_reply_bodies (void)
{
    #define B(text) text, sizeof text - 1
    struct { wp_method m; const char *bytes; size_t size; bool ok; const char *needle; } cases [] = {
        { WP_METHOD_PUSH_MANY, B ("\x82\xa3ids\x91\xa1x\xaa" "duplicates\x92\xc2\xc2"), false, "same length" },
        { WP_METHOD_FAIL, B ("\x81\xa6status\xa4" "done"), false, "pending, scheduled or poisoned" },
        { WP_METHOD_FAIL, B ("\x81\xa6status\xa9" "scheduled"), true, NULL },
        { WP_METHOD_SCHEDULE_ADD, B ("\x80"), false, "'schedule' is required" },
        { WP_METHOD_SCHEDULE_ADD, B ("\x81\xa8schedule\x80"), false, "'schedule.name' is required" },
        { WP_METHOD_SCHEDULE_LIST, B ("\x80"), false, "'schedules' is required" },
        { WP_METHOD_SCHEDULE_LIST, B ("\x81\xa9schedules\x90"), true, NULL },
        { WP_METHOD_SCHEDULE_LIST, B ("\x81\xa9schedules\x91\x80"), false, "'schedules[0].name'" },
        { WP_METHOD_SCHEDULE_REMOVE, B ("\x80"), true, NULL },
        { WP_METHOD_SET_BACKOFF, B ("\x80"), true, NULL },
        { WP_METHOD_COMPLETE_MANY, B ("\x82\xa8statuses\x91\x00\xa8messages\x92\xa0\xa0"), false, "same length" },
        { WP_METHOD_COMPLETE_MANY, B ("\x82\xa8statuses\x91\x11\xa8messages\x91\xa0"), false, "'statuses[0]'" },
        { WP_METHOD_COMPLETE_MANY, B ("\x82\xa8statuses\x90\xa8messages\x90"), false, "'statuses'" },
        { WP_METHOD_COMPLETE_MANY, B ("\x82\xa8statuses\x92\x00\x05\xa8messages\x92\xa0\xa1x"), true, NULL },
        { WP_METHOD_COMPLETE_MANY, B ("\x80"), false, "'statuses' is required" },
        { WP_METHOD_GET, B ("\x81\xa4item\xc0"), false, "'item' is required" },
        { WP_METHOD_GET, B ("\x80"), false, "'item' is required" },
        { WP_METHOD_CLAIM, B ("\x81\xa4item\xc0"), true, NULL },
        { WP_METHOD_CLAIM, B ("\x80"), true, NULL },
        { WP_METHOD_REGISTER, B ("\x81\xa6worker\xc0"), false, "'worker' is required" },
        { WP_METHOD_GET_WORKER, B ("\x81\xa6worker\xc0"), true, NULL },
        { WP_METHOD_SIZE, B ("\x81\xa4size\xff"), false, "'size'" },
        { WP_METHOD_STATS, B ("\x83\xa5pools\x90\xa7workers\x90\xa8" "counters\x80"), false, "'workers'" },
        { WP_METHOD_STATS, B ("\x83\xa5pools\x90\xa7workers\x80\xa8" "counters\x80"), true, NULL },
        { WP_METHOD_COMPLETE, B ("\xc0"), true, NULL },
        { WP_METHOD_COMPLETE, B ("\x90"), false, "body must be a map" },
        { WP_METHOD_UNKNOWN, B ("\x80"), false, "unknown method" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        wp_reply_t reply;
        wp_reply_init (&reply);
        char err [256] = "";
        wp_status rc = wp_reply_decode_body (&reply, cases [i].m, (const uint8_t *) cases [i].bytes,
                                             cases [i].size, err, sizeof err);
        CHECKF (cases [i].ok ? rc == WP_OK: rc == WP_INVALID_ARGUMENT
                && strstr (err, cases [i].needle), "reply body %zu: '%s'", i, err);
        wp_reply_clear (&reply);
    }
    //  An error reply's body is not read beyond being a map
    wp_reply_t reply;
    wp_reply_init (&reply);
    reply.status = WP_NOT_FOUND;
    char err [256];
    CHECK (wp_reply_decode_body (&reply, WP_METHOD_GET, (const uint8_t *) "\x81\xa4item\x05",
                                 7, err, sizeof err) == WP_OK);
    CHECK (reply.item == NULL);
    CHECK (wp_reply_decode_body (&reply, WP_METHOD_GET, (const uint8_t *) "\x05",
                                 1, err, sizeof err) == WP_INVALID_ARGUMENT);
    wp_reply_clear (&reply);
    //  Absent nullable fields of an item are nil
    pt_reply (WP_METHOD_GET, false, &reply);
    uint8_t *h, *b;
    size_t hn, bn;
    CHECK (wp_reply_encode (&reply, WP_METHOD_GET, &h, &hn, &b, &bn) == 0);
    wp_reply_clear (&reply);
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    CHECK (wp_mp_unpack (&unpacked, b, bn, err, sizeof err) == 0);
    const msgpack_object_map *item = &unpacked.data.via.map.ptr [0].val.via.map;
    s_buf_t buf;
    msgpack_packer *pk = s_begin (&buf);
    msgpack_pack_map (pk, 1);
    s_str (pk, "item");
    int kept = 0;
    for (uint32_t i = 0; i < item->size; i++)
        kept += item->ptr [i].val.type != MSGPACK_OBJECT_NIL;
    msgpack_pack_map (pk, kept);
    for (uint32_t i = 0; i < item->size; i++)
        if (item->ptr [i].val.type != MSGPACK_OBJECT_NIL) {
            msgpack_pack_object (pk, item->ptr [i].key);
            msgpack_pack_object (pk, item->ptr [i].val);
        }
    s_end (&buf);
    CHECK (kept == 8);      //  and priority, which is never nil
    wp_reply_init (&reply);
    CHECKF (wp_reply_decode_body (&reply, WP_METHOD_GET, buf.data, buf.size, err, sizeof err) == WP_OK,
            "%s", err);
    CHECK (reply.item && !reply.item->claimed_by && !reply.item->result && !reply.item->error);
    wp_reply_clear (&reply);
    free (buf.data);
    //  A bad field of a nested item is named by its whole path, and so is
    //  a key a record holds twice
    for (int twice = 0; twice < 2; twice++) {
        pk = s_begin (&buf);
        msgpack_pack_map (pk, 1);
        s_str (pk, "items");
        msgpack_pack_array (pk, 2);
        msgpack_pack_object (pk, unpacked.data.via.map.ptr [0].val);
        msgpack_pack_map (pk, item->size + (uint32_t) twice);
        for (uint32_t i = 0; i < item->size; i++) {
            msgpack_pack_object (pk, item->ptr [i].key);
            if (item->ptr [i].key.via.str.size == 2 && memcmp (item->ptr [i].key.via.str.ptr, "id", 2) == 0
            &&  !twice)
                msgpack_pack_int (pk, 5);
            else
                msgpack_pack_object (pk, item->ptr [i].val);
        }
        if (twice) {
            s_str (pk, "id");
            s_str (pk, "again");
        }
        s_end (&buf);
        wp_reply_init (&reply);
        CHECK (wp_reply_decode_body (&reply, WP_METHOD_CLAIM_MANY, buf.data, buf.size, err,
                                     sizeof err) == WP_INVALID_ARGUMENT);
        const char *expect = twice ? "field 'items[1]' has the key 'id' twice"
                                   : "field 'items[1].id' must be a string of 1 to 255 bytes";
        CHECKF (strncmp (err, expect, strlen (expect)) == 0, "nested message: '%s'", err);
        wp_reply_clear (&reply);
        free (buf.data);
    }
    msgpack_unpacked_destroy (&unpacked);
    free (h);
    free (b);
}

//  ---------------------------------------------------------------------
//  Hostile sizes and nesting

static void
test_hostile (void)
{
    char err [256];
    //  Container headers claiming 2^32-1 elements with nothing after them:
    //  refused before msgpack-c would allocate a table for them
    const char *claims [] = {
        "\xdd\xff\xff\xff\xff", "\xdf\xff\xff\xff\xff", "\xdc\xff\xff", "\xde\xff\xff",
        "\xdb\xff\xff\xff\xff", "\xc6\xff\xff\xff\xff", "\xc9\xff\xff\xff\xff\x01",
    };
    for (size_t i = 0; i < sizeof claims / sizeof claims [0]; i++) {
        size_t len = claims [i][0] == '\xc9' ? 6: (claims [i][0] == '\xdc' || claims [i][0] == '\xde') ? 3: 5;
        s_expect_request_body (__LINE__, WP_METHOD_PING, (const uint8_t *) claims [i], len,
                               WP_INVALID_ARGUMENT, claims [i][0] == '\xdb' || claims [i][0] == '\xc6'
                               || claims [i][0] == '\xc9' ? "end inside it": "claims more elements");
        s_expect_header (__LINE__, (const uint8_t *) claims [i], len, WP_INVALID_ARGUMENT, false, NULL);
    }
    //  Inside a body: {"pool": "p", "items": array32(2^32-1)} with a few bytes
    s_buf_t b;
    msgpack_packer *pk = s_begin (&b);
    msgpack_pack_map (pk, 2);
    s_str (pk, "pool"); s_str (pk, "p");
    s_str (pk, "items");
    wp_mp_pack_raw (pk, (const uint8_t *) "\xdd\xff\xff\xff\xff\x80\x80\x80", 8);
    EXPECT_BODY (WP_METHOD_PUSH_MANY, b, WP_INVALID_ARGUMENT, "offset 14 claims more elements");
    //  A frame of nothing but nested array16 headers of 65535 (each claim
    //  would be 1.5 MiB of objects): refused by the count check
    size_t size = 3 * 20000;
    uint8_t *nest = malloc (size);
    for (size_t i = 0; i < size; i += 3)
        memcpy (nest + i, "\xdc\xff\xff", 3);
    s_expect_request_body (__LINE__, WP_METHOD_PING, nest, size, WP_INVALID_ARGUMENT, NULL);
    free (nest);
    //  Nesting: WP_MP_DEPTH_MAX containers in all are fine, one more is not
    for (int depth = WP_MP_DEPTH_MAX; depth <= WP_MP_DEPTH_MAX + 1; depth++) {
        pk = s_begin (&b);
        msgpack_pack_map (pk, 2);                   //  1: body
        s_str (pk, "worker_id"); s_str (pk, "w");
        s_str (pk, "metadata");
        msgpack_pack_map (pk, 1);                   //  2: metadata
        s_str (pk, "deep");
        for (int i = 2; i < depth; i++)
            msgpack_pack_array (pk, 1);
        msgpack_pack_nil (pk);
        EXPECT_BODY (WP_METHOD_HEARTBEAT, b, depth <= WP_MP_DEPTH_MAX ? WP_OK: WP_INVALID_ARGUMENT,
                     "nested deeper than 32");
    }
    //  100000 levels: the walk's recursion is bounded by the depth limit
    size = 100000;
    nest = malloc (size);
    memset (nest, 0x91, size - 1);
    nest [size - 1] = 0xc0;
    s_expect_request_body (__LINE__, WP_METHOD_PING, nest, size, WP_INVALID_ARGUMENT, "nested deeper than 32");
    free (nest);
    //  Oversized strings: a 1 MiB pool name is refused, a 4 MiB data is carried
    size = 1 << 20;
    char *big = malloc (4 * size);
    memset (big, 'x', 4 * size);
    pk = s_begin (&b);
    msgpack_pack_map (pk, 1);
    s_str (pk, "pool"); s_strn (pk, big, size);
    EXPECT_BODY (WP_METHOD_SIZE, b, WP_INVALID_ARGUMENT, "'pool'");
    pk = s_begin (&b);
    msgpack_pack_map (pk, 2);
    s_str (pk, "pool"); s_str (pk, "p");
    s_str (pk, "data"); s_bin (pk, big, 4 * size);
    s_end (&b);
    wp_request_t req;
    wp_request_init (&req);
    req.method = WP_METHOD_PUSH;
    CHECK (wp_request_decode_body (&req, b.data, b.size, err, sizeof err) == WP_OK);
    CHECK (req.entry_count == 1 && req.entries [0].data_size == 4 * size);
    wp_request_clear (&req);
    free (b.data);
    //  A str header claiming more than the frame holds
    s_expect_request_body (__LINE__, WP_METHOD_SIZE, (const uint8_t *) "\x81\xa4pool\xdb\x7f\xff\xff\xff", 10,
                           WP_INVALID_ARGUMENT, "end inside it");
    free (big);
    //  0xc1 (never used) anywhere is malformed
    s_expect_request_body (__LINE__, WP_METHOD_SIZE, (const uint8_t *) "\x81\xa4pool\xc1", 7,
                           WP_INVALID_ARGUMENT, "byte 0xc1 at offset 6");
}

//  ---------------------------------------------------------------------
//  Garbage

//  Feeds bytes to every decoder; whatever decodes must re-encode.
static void
s_feed (const uint8_t *data, size_t size, wp_method m)
{
    char err [512];
    wp_request_t req;
    wp_request_init (&req);
    bool replyable;
    wp_status rc = wp_request_decode_header (&req, data, size, &replyable, err, sizeof err);
    CHECK (rc == WP_OK || rc == WP_INVALID_ARGUMENT || rc == WP_UNIMPLEMENTED);
    wp_request_clear (&req);
    req.method = m;
    rc = wp_request_decode_body (&req, data, size, err, sizeof err);
    CHECK (rc == WP_OK || rc == WP_INVALID_ARGUMENT);
    if (rc == WP_OK) {
        uint8_t *h, *b;
        size_t hn, bn;
        CHECKF (wp_request_encode (&req, &h, &hn, &b, &bn) == 0, "%s", wp_method_name (m));
        free (h);
        free (b);
    }
    wp_request_clear (&req);
    wp_reply_t reply;
    wp_reply_init (&reply);
    rc = wp_reply_decode_header (&reply, data, size, err, sizeof err);
    CHECK (rc == WP_OK || rc == WP_INVALID_ARGUMENT);
    wp_reply_clear (&reply);
    rc = wp_reply_decode_body (&reply, m, data, size, err, sizeof err);
    CHECK (rc == WP_OK || rc == WP_INVALID_ARGUMENT);
    if (rc == WP_OK) {
        uint8_t *h, *b;
        size_t hn, bn;
        CHECKF (wp_reply_encode (&reply, m, &h, &hn, &b, &bn) == 0, "%s", wp_method_name (m));
        free (h);
        free (b);
    }
    wp_reply_clear (&reply);
    wp_meta_t meta = { NULL, 0 };
    wp_meta_decode (&meta, data, size);
    wp_meta_clear (&meta);
}

static void
test_garbage (void)
{
    //  Random bytes
    for (int i = 0; i < 20000; i++) {
        size_t size = s_random () % 48;
        uint8_t *data = malloc (size + 1);
        for (size_t k = 0; k < size; k++)
            data [k] = (uint8_t) s_random ();
        //  Half the time, start like a container so the walk goes deeper
        if (size && i % 2)
            data [0] = (uint8_t) (0x80 + s_random () % 0x20);
        s_feed (data, size, (wp_method) (1 + s_random () % (WP_METHOD_COUNT - 1)));
        free (data);
    }
    //  Mutations of good messages: flip, insert or drop bytes
    ALL_METHODS (m) {
        for (int side = 0; side < 4; side++) {
            uint8_t *h, *b;
            size_t hn, bn;
            CHECK (pt_encode (m, true, side < 2, &h, &hn, &b, &bn) == 0);
            const uint8_t *base = side % 2 ? b: h;
            size_t base_size = side % 2 ? bn: hn;
            for (int i = 0; i < 400; i++) {
                uint8_t *data = malloc (base_size + 2);
                memcpy (data, base, base_size);
                size_t size = base_size;
                size_t at = s_random () % size;
                switch (s_random () % 3) {
                    case 0: data [at] ^= (uint8_t) (1 + s_random () % 255); break;
                    case 1: memmove (data + at + 1, data + at, size - at); data [at] = (uint8_t) s_random (); size++; break;
                    default: memmove (data + at, data + at + 1, size - at - 1); size--; break;
                }
                s_feed (data, size, m);
                free (data);
            }
            free (h);
            free (b);
        }
    }
}


//  ---------------------------------------------------------------------
//  The inspection and lifecycle methods (List, Retry, Cancel, Purge,
//  Pause, Resume) and Stats' paused

//  Packs {pool: "p", status: <count names>} (count -1: status as one str).
static void
s_status_body (s_buf_t *b, const char *const *names, int count)
{
    msgpack_packer *pk = s_begin (b);
    msgpack_pack_map (pk, 2);
    s_str (pk, "pool"); s_str (pk, "p");
    s_str (pk, "status");
    if (count < 0)
        s_str (pk, names [0]);
    else {
        msgpack_pack_array (pk, count);
        for (int i = 0; i < count; i++)
            s_str (pk, names [i]);
    }
}

static void
test_lifecycle_requests (void)
{
    s_buf_t b;
    msgpack_packer *pk;
    static const char *const all4 [] = { "pending", "claimed", "done", "poisoned", "scheduled",
                                         "done" };
    static const char *const bad [] = { "lost" };
    static const char *const twice [] = { "done", "done" };
    static const char *const claimed [] = { "claimed" };
    static const char *const three [] = { "pending", "done", "poisoned" };

    //  List's status: one name or 1..5 distinct item states
    s_status_body (&b, all4, -1);
    EXPECT_BODY (WP_METHOD_LIST_ITEMS, b, WP_OK, NULL);
    s_status_body (&b, all4, 5);
    EXPECT_BODY (WP_METHOD_LIST_ITEMS, b, WP_OK, NULL);
    s_status_body (&b, all4 + 4, -1);
    EXPECT_BODY (WP_METHOD_LIST_ITEMS, b, WP_OK, NULL);
    s_status_body (&b, all4, 6);
    EXPECT_BODY (WP_METHOD_LIST_ITEMS, b, WP_INVALID_ARGUMENT, "1 to 5");
    s_status_body (&b, all4, 0);
    EXPECT_BODY (WP_METHOD_LIST_ITEMS, b, WP_INVALID_ARGUMENT, "field 'status'");
    s_status_body (&b, bad, 1);
    EXPECT_BODY (WP_METHOD_LIST_ITEMS, b, WP_INVALID_ARGUMENT, "status: 'lost' is not an item status");
    s_status_body (&b, bad, -1);
    EXPECT_BODY (WP_METHOD_LIST_ITEMS, b, WP_INVALID_ARGUMENT, "status: 'lost'");
    s_status_body (&b, twice, 2);
    EXPECT_BODY (WP_METHOD_LIST_ITEMS, b, WP_INVALID_ARGUMENT, "status: 'done' is given twice");
    s_status_body (&b, claimed, 1);
    EXPECT_BODY (WP_METHOD_LIST_ITEMS, b, WP_OK, NULL);
    pk = s_begin (&b);
    msgpack_pack_map (pk, 1);
    s_str (pk, "status"); s_str (pk, "done");
    EXPECT_BODY (WP_METHOD_LIST_ITEMS, b, WP_INVALID_ARGUMENT, "field 'pool' is required");

    //  limit: 1..WP_LIST_MAX; cursor: 1..WP_CURSOR_MAX bytes
    int64_t limits [] = { 0, 1, WP_LIST_MAX, WP_LIST_MAX + 1, -1 };
    for (size_t i = 0; i < sizeof limits / sizeof limits [0]; i++) {
        pk = s_begin (&b);
        msgpack_pack_map (pk, 2);
        s_str (pk, "pool"); s_str (pk, "p");
        s_str (pk, "limit"); msgpack_pack_int64 (pk, limits [i]);
        bool ok = limits [i] >= 1 && limits [i] <= WP_LIST_MAX;
        EXPECT_BODY (WP_METHOD_LIST_ITEMS, b, ok ? WP_OK: WP_INVALID_ARGUMENT, "'limit'");
    }
    pk = s_begin (&b);
    msgpack_pack_map (pk, 2);
    s_str (pk, "pool"); s_str (pk, "p");
    s_str (pk, "limit"); msgpack_pack_double (pk, 10.0);
    EXPECT_BODY (WP_METHOD_LIST_ITEMS, b, WP_INVALID_ARGUMENT, "'limit'");
    char cursor [WP_CURSOR_MAX + 1];
    memset (cursor, '7', sizeof cursor);
    size_t cursor_lens [] = { 0, 1, WP_CURSOR_MAX, WP_CURSOR_MAX + 1 };
    for (size_t i = 0; i < 4; i++) {
        pk = s_begin (&b);
        msgpack_pack_map (pk, 2);
        s_str (pk, "pool"); s_str (pk, "p");
        s_str (pk, "cursor"); s_strn (pk, cursor, cursor_lens [i]);
        bool ok = cursor_lens [i] >= 1 && cursor_lens [i] <= WP_CURSOR_MAX;
        EXPECT_BODY (WP_METHOD_LIST_ITEMS, b, ok ? WP_OK: WP_INVALID_ARGUMENT, "'cursor'");
    }
    //  What the decoder keeps: names, limit, cursor; a single name
    //  re-encodes as the canonical array
    s_status_body (&b, all4 + 3, -1);
    s_end (&b);
    wp_request_t req;
    wp_request_init (&req);
    req.method = WP_METHOD_LIST_ITEMS;
    char err [512];
    CHECK (wp_request_decode_body (&req, b.data, b.size, err, sizeof err) == WP_OK);
    CHECK (req.status_count == 1 && strcmp (req.statuses [0], "poisoned") == 0);
    CHECK (req.limit == 0 && req.cursor == NULL);
    uint8_t *h2, *b2;
    size_t h2n, b2n;
    CHECK (wp_request_encode (&req, &h2, &h2n, &b2, &b2n) == 0);
    static const uint8_t canonical [] = "\x82\xa4pool\xa1p\xa6status\x91\xa8poisoned";
    CHECK (b2n == sizeof canonical - 1 && memcmp (b2, canonical, b2n) == 0);
    free (h2);
    free (b2);
    free (b.data);
    wp_request_clear (&req);

    //  Retry: exactly one of id and all: true
    struct { const char *id; int all; wp_status status; const char *needle; } retries [] = {
        { "job-1", -1, WP_OK, NULL }, { NULL, 1, WP_OK, NULL }, { "job-1", 0, WP_OK, NULL },
        { NULL, 0, WP_INVALID_ARGUMENT, "id or all: true is required" },
        { NULL, -1, WP_INVALID_ARGUMENT, "id or all: true is required" },
        { "job-1", 1, WP_INVALID_ARGUMENT, "give id or all: true, not both" },
        { "", -1, WP_INVALID_ARGUMENT, "field 'id'" },
    };
    for (size_t i = 0; i < sizeof retries / sizeof retries [0]; i++) {
        pk = s_begin (&b);
        msgpack_pack_map (pk, 1 + (retries [i].id != NULL) + (retries [i].all >= 0));
        s_str (pk, "pool"); s_str (pk, "p");
        if (retries [i].id) {
            s_str (pk, "id"); s_str (pk, retries [i].id);
        }
        if (retries [i].all >= 0) {
            s_str (pk, "all");
            if (retries [i].all)
                msgpack_pack_true (pk);
            else
                msgpack_pack_false (pk);
        }
        EXPECT_BODY (WP_METHOD_RETRY, b, retries [i].status, retries [i].needle);
    }
    pk = s_begin (&b);
    msgpack_pack_map (pk, 2);
    s_str (pk, "pool"); s_str (pk, "p");
    s_str (pk, "all"); msgpack_pack_int (pk, 1);
    EXPECT_BODY (WP_METHOD_RETRY, b, WP_INVALID_ARGUMENT, "field 'all' must be a boolean");

    //  Cancel needs pool and id; Pause and Resume a pool
    pk = s_begin (&b);
    msgpack_pack_map (pk, 1);
    s_str (pk, "pool"); s_str (pk, "p");
    EXPECT_BODY (WP_METHOD_CANCEL, b, WP_INVALID_ARGUMENT, "field 'id' is required");
    wp_method pool_only [] = { WP_METHOD_PAUSE, WP_METHOD_RESUME };
    for (int i = 0; i < 2; i++) {
        pk = s_begin (&b);
        msgpack_pack_map (pk, 0);
        EXPECT_BODY (pool_only [i], b, WP_INVALID_ARGUMENT, "field 'pool' is required");
        pk = s_begin (&b);
        msgpack_pack_map (pk, 1);
        s_str (pk, "pool"); s_str (pk, "p");
        EXPECT_BODY (pool_only [i], b, WP_OK, NULL);
    }

    //  Purge: 1..3 of pending, done, poisoned, required
    pk = s_begin (&b);
    msgpack_pack_map (pk, 1);
    s_str (pk, "pool"); s_str (pk, "p");
    EXPECT_BODY (WP_METHOD_PURGE, b, WP_INVALID_ARGUMENT, "field 'status' is required");
    s_status_body (&b, three, 3);
    EXPECT_BODY (WP_METHOD_PURGE, b, WP_OK, NULL);
    s_status_body (&b, three + 1, -1);
    EXPECT_BODY (WP_METHOD_PURGE, b, WP_OK, NULL);
    s_status_body (&b, claimed, 1);
    EXPECT_BODY (WP_METHOD_PURGE, b, WP_INVALID_ARGUMENT,
                 "status: claimed items cannot be purged (a worker may be halfway)");
    s_status_body (&b, claimed, -1);
    EXPECT_BODY (WP_METHOD_PURGE, b, WP_INVALID_ARGUMENT, "claimed items cannot be purged");
    s_status_body (&b, all4, 5);
    EXPECT_BODY (WP_METHOD_PURGE, b, WP_INVALID_ARGUMENT, "1 to 4");
    {
        static const char *const purgeable [] = { "pending", "scheduled", "done", "poisoned" };
        s_status_body (&b, purgeable, 4);
        EXPECT_BODY (WP_METHOD_PURGE, b, WP_OK, NULL);
        s_status_body (&b, purgeable + 1, -1);
        EXPECT_BODY (WP_METHOD_PURGE, b, WP_OK, NULL);
    }
    s_status_body (&b, all4, 0);
    EXPECT_BODY (WP_METHOD_PURGE, b, WP_INVALID_ARGUMENT, "field 'status'");
    s_status_body (&b, twice, 2);
    EXPECT_BODY (WP_METHOD_PURGE, b, WP_INVALID_ARGUMENT, "given twice");
    s_status_body (&b, bad, 1);
    EXPECT_BODY (WP_METHOD_PURGE, b, WP_INVALID_ARGUMENT, "not an item status");

    //  Encoders refuse what the decoders would
    uint8_t *h = NULL;
    size_t hn, bn;
    uint8_t *body = NULL;
    pt_request (WP_METHOD_RETRY, true, &req);
    req.all = true;             //  both
    CHECK (wp_request_encode (&req, &h, &hn, &body, &bn) == -1);
    free (req.id);
    req.id = NULL;
    req.all = false;            //  neither
    CHECK (wp_request_encode (&req, &h, &hn, &body, &bn) == -1);
    wp_request_clear (&req);
    pt_request (WP_METHOD_PURGE, true, &req);
    free (req.statuses [1]);
    req.statuses [1] = NULL;
    CHECK (wp_request_encode (&req, &h, &hn, &body, &bn) == -1);
    wp_request_clear (&req);
    pt_request (WP_METHOD_LIST_ITEMS, false, &req);
    req.limit = WP_LIST_MAX;
    pt_request_round_trip (&req);
    req.cursor = strdup ("c");
    pt_request_round_trip (&req);
    wp_request_clear (&req);
}

//  Decodes body as an OK reply to method; checks the status and message.
static void
s_expect_reply_body (int line, wp_method method, s_buf_t *b, wp_status expected,
                     const char *needle, wp_reply_t *out)
{
    s_end (b);
    wp_reply_t reply;
    wp_reply_init (&reply);
    char err [512] = "";
    wp_status rc = wp_reply_decode_body (&reply, method, b->data, b->size, err, sizeof err);
    if (rc != expected || (needle && !strstr (err, needle))) {
        fprintf (stderr, "line %d: %s reply: got %s '%s', expected %s '%s'\n", line,
                 wp_method_name (method), wp_strerror (rc), err, wp_strerror (expected),
                 needle ? needle: "");
        pt_failures++;
    }
    if (out)
        *out = reply;
    else
        wp_reply_clear (&reply);
    free (b->data);
}

static void
test_lifecycle_replies (void)
{
    s_buf_t b;
    msgpack_packer *pk;
    wp_reply_t reply;

    //  A Stats pool entry from a broker older than Pause: paused is false
    pk = s_begin (&b);
    msgpack_pack_map (pk, 3);
    s_str (pk, "pools");
    msgpack_pack_array (pk, 1);
    msgpack_pack_map (pk, 5);
    s_str (pk, "pool"); s_str (pk, "jobs");
    s_str (pk, "pending"); msgpack_pack_int (pk, 1);
    s_str (pk, "claimed"); msgpack_pack_int (pk, 2);
    s_str (pk, "done"); msgpack_pack_int (pk, 3);
    s_str (pk, "poisoned"); msgpack_pack_int (pk, 4);
    s_str (pk, "workers"); msgpack_pack_map (pk, 0);
    s_str (pk, "counters"); msgpack_pack_map (pk, 0);
    s_expect_reply_body (__LINE__, WP_METHOD_STATS, &b, WP_OK, NULL, &reply);
    CHECK (reply.stats && reply.stats->pool_count == 1 && !reply.stats->pools [0].paused
           && reply.stats->pools [0].poisoned == 4);
    wp_reply_clear (&reply);
    pk = s_begin (&b);
    msgpack_pack_map (pk, 3);
    s_str (pk, "pools");
    msgpack_pack_array (pk, 1);
    msgpack_pack_map (pk, 6);
    s_str (pk, "pool"); s_str (pk, "jobs");
    s_str (pk, "pending"); msgpack_pack_int (pk, 1);
    s_str (pk, "claimed"); msgpack_pack_int (pk, 2);
    s_str (pk, "done"); msgpack_pack_int (pk, 3);
    s_str (pk, "poisoned"); msgpack_pack_int (pk, 4);
    s_str (pk, "paused"); msgpack_pack_int (pk, 1);
    s_str (pk, "workers"); msgpack_pack_map (pk, 0);
    s_str (pk, "counters"); msgpack_pack_map (pk, 0);
    s_expect_reply_body (__LINE__, WP_METHOD_STATS, &b, WP_INVALID_ARGUMENT,
                         "field 'pools[0].paused' must be a boolean", NULL);

    //  List: items required, cursor nil or 1..WP_CURSOR_MAX bytes
    pk = s_begin (&b);
    msgpack_pack_map (pk, 1);
    s_str (pk, "items"); msgpack_pack_array (pk, 0);
    s_expect_reply_body (__LINE__, WP_METHOD_LIST_ITEMS, &b, WP_OK, NULL, &reply);
    CHECK (reply.items && reply.items->count == 0 && !reply.cursor);
    wp_reply_clear (&reply);
    pk = s_begin (&b);
    msgpack_pack_map (pk, 1);
    s_str (pk, "cursor"); s_str (pk, "12");
    s_expect_reply_body (__LINE__, WP_METHOD_LIST_ITEMS, &b, WP_INVALID_ARGUMENT,
                         "field 'items' is required", NULL);
    char cursor [WP_CURSOR_MAX + 1];
    memset (cursor, 'c', sizeof cursor);
    pk = s_begin (&b);
    msgpack_pack_map (pk, 2);
    s_str (pk, "items"); msgpack_pack_array (pk, 0);
    s_str (pk, "cursor"); s_strn (pk, cursor, WP_CURSOR_MAX + 1);
    s_expect_reply_body (__LINE__, WP_METHOD_LIST_ITEMS, &b, WP_INVALID_ARGUMENT,
                         "field 'cursor'", NULL);
    pk = s_begin (&b);
    msgpack_pack_map (pk, 2);
    s_str (pk, "items"); msgpack_pack_array (pk, 0);
    s_str (pk, "cursor"); s_strn (pk, cursor, WP_CURSOR_MAX);
    s_expect_reply_body (__LINE__, WP_METHOD_LIST_ITEMS, &b, WP_OK, NULL, &reply);
    CHECK (reply.cursor && strlen (reply.cursor) == WP_CURSOR_MAX);
    wp_reply_clear (&reply);

    //  Retry and Purge: one count each, required
    wp_method counted [] = { WP_METHOD_RETRY, WP_METHOD_PURGE };
    const char *keys [] = { "retried", "purged" };
    for (int i = 0; i < 2; i++) {
        pk = s_begin (&b);
        msgpack_pack_map (pk, 0);
        s_expect_reply_body (__LINE__, counted [i], &b, WP_INVALID_ARGUMENT, keys [i], NULL);
        pk = s_begin (&b);
        msgpack_pack_map (pk, 1);
        s_str (pk, keys [i]); msgpack_pack_uint64 (pk, UINT64_MAX);
        s_expect_reply_body (__LINE__, counted [i], &b, WP_OK, NULL, &reply);
        CHECK (reply.count == UINT64_MAX);
        wp_reply_clear (&reply);
    }
    //  Cancel, Pause, Resume: {} (and a nil body counts as {})
    wp_method empty [] = { WP_METHOD_CANCEL, WP_METHOD_PAUSE, WP_METHOD_RESUME };
    for (int i = 0; i < 3; i++) {
        uint8_t *h, *body;
        size_t hn, bn;
        CHECK (pt_encode (empty [i], true, false, &h, &hn, &body, &bn) == 0);
        CHECK (bn == 1 && body [0] == 0x80);
        free (h);
        free (body);
        pk = s_begin (&b);
        msgpack_pack_nil (pk);
        s_expect_reply_body (__LINE__, empty [i], &b, WP_OK, NULL, NULL);
    }
}

int
main (void)
{
    test_method_table ();
    test_round_trips ();
    test_encode_refusals ();
    test_reply_message ();
    test_truncation ();
    test_wrong_types ();
    test_bounds ();
    test_scheduling_bounds ();
    test_headers ();
    test_reply_bodies ();
    test_lifecycle_requests ();
    test_lifecycle_replies ();
    test_hostile ();
    test_garbage ();
    if (pt_failures) {
        fprintf (stderr, "test_proto_codec: %d checks failed\n", pt_failures);
        return 1;
    }
    printf ("test_proto_codec: all checks passed (%d wrong-type cases)\n", s_type_cases);
    return 0;
}
