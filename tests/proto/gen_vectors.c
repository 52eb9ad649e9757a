/*  gen_vectors: writes the golden vectors of proto/vectors/ and their
    annotated README.md from the fixtures (proto_test.c), so the files are
    reproducible and always what our encoder emits.

        gen_vectors DIR            write every vector file and README.md into DIR
        gen_vectors --check [DIR]  compare DIR (default $WP_SOURCE_DIR/proto/vectors)
                                   with what would be written; exit 1 on any
                                   difference (ctest runs this)

    Good messages come from the encoder; malformed requests are packed by
    hand here, and the status, stage and message recorded for each are what
    our decoder answers (the vector test checks it still does).  */
#include "proto_test.h"
#include "wp_msgpack.h"
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static FILE *s_readme;
static const char *s_dir;
static int s_written;

//  ---------------------------------------------------------------------
//  The annotated dump: one line per msgpack value, its bytes on the left

#define S_HEX_COLUMN 34

//  Writes up to max bytes as hex, ".." if there are more.
static int
s_hex (char *out, size_t size, const uint8_t *data, size_t count, size_t max)
{
    size_t len = 0;
    for (size_t i = 0; i < count && i < max && len + 3 < size; i++)
        len += snprintf (out + len, size - len, "%s%02x", i ? " ": "", data [i]);
    if (count > max && len + 3 < size)
        len += snprintf (out + len, size - len, " ..");
    return (int) len;
}

static void
s_line (int indent, const uint8_t *data, size_t count, const char *what)
{
    char hex [128];
    s_hex (hex, sizeof hex, data, count, 10);
    fprintf (s_readme, "%*s%-*s %s\n", indent, "", S_HEX_COLUMN - indent, hex, what);
}

//  A str or bin payload shown readably.
static void
s_quote (char *out, size_t size, const uint8_t *data, size_t count, bool text)
{
    size_t len = 0;
    if (text) {
        out [len++] = '"';
        for (size_t i = 0; i < count && i < 48 && len + 6 < size; i++) {
            uint8_t c = data [i];
            if (c == '"' || c == '\\')
                len += snprintf (out + len, size - len, "\\%c", c);
            else if (c >= 0x20 && c < 0x7f)
                out [len++] = (char) c;
            else
                len += snprintf (out + len, size - len, "\\x%02x", c);
        }
        if (count > 48)
            len += snprintf (out + len, size - len, "...");
        snprintf (out + len, size - len, "\" (%zu bytes)", count);
    }
    else {
        len += s_hex (out, size, data, count, 16);
        snprintf (out + len, size - len, " (%zu bytes)", count);
    }
}

static uint64_t
s_be (const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p [i];
    return v;
}

//  Dumps the value at *pos; returns -1 where the bytes end early or are not
//  msgpack (the malformed vectors).
static int
s_dump (const uint8_t *data, size_t size, size_t *pos, int indent, const char *prefix)
{
    if (*pos >= size) {
        fprintf (s_readme, "%*s(the bytes end here)\n", indent, "");
        return -1;
    }
    const uint8_t *at = data + *pos;
    size_t left = size - *pos;
    uint8_t t = at [0];
    char what [256];
    size_t head = 1, payload = 0;
    uint64_t count = 0;
    int kind = 0;           //  0 scalar, 1 array, 2 map, 3 str, 4 bin
    #define NEED(n) if (left < (n)) { s_line (indent, at, left, "(truncated)"); return -1; }
    if (t <= 0x7f) snprintf (what, sizeof what, "uint %u", t);
    else if (t >= 0xe0) snprintf (what, sizeof what, "int %d", (int8_t) t);
    else if (t <= 0x8f) { kind = 2; count = t & 0x0f; }
    else if (t <= 0x9f) { kind = 1; count = t & 0x0f; }
    else if (t <= 0xbf) { kind = 3; payload = t & 0x1f; }
    else switch (t) {
        case 0xc0: snprintf (what, sizeof what, "nil"); break;
        case 0xc2: snprintf (what, sizeof what, "false"); break;
        case 0xc3: snprintf (what, sizeof what, "true"); break;
        case 0xc4: case 0xc5: case 0xc6: {
            size_t n = (size_t) 1 << (t - 0xc4);
            NEED (1 + n);
            head = 1 + n; payload = s_be (at + 1, n); kind = 4;
            break;
        }
        case 0xd9: case 0xda: case 0xdb: {
            size_t n = (size_t) 1 << (t - 0xd9);
            NEED (1 + n);
            head = 1 + n; payload = s_be (at + 1, n); kind = 3;
            break;
        }
        case 0xcc: case 0xcd: case 0xce: case 0xcf: {
            size_t n = (size_t) 1 << (t - 0xcc);
            NEED (1 + n);
            head = 1 + n;
            snprintf (what, sizeof what, "uint %llu (uint %zu)", (unsigned long long) s_be (at + 1, n), 8 * n);
            break;
        }
        case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
            size_t n = (size_t) 1 << (t - 0xd0);
            NEED (1 + n);
            head = 1 + n;
            uint64_t u = s_be (at + 1, n);
            int64_t v = n == 8 ? (int64_t) u: (int64_t) (u << (64 - 8 * n)) >> (64 - 8 * n);
            snprintf (what, sizeof what, "int %lld (int %zu)", (long long) v, 8 * n);
            break;
        }
        case 0xca: {
            NEED (5);
            head = 5;
            uint32_t u = (uint32_t) s_be (at + 1, 4);
            float f;
            memcpy (&f, &u, 4);
            snprintf (what, sizeof what, "float 32 %g", f);
            break;
        }
        case 0xcb: {
            NEED (9);
            head = 9;
            uint64_t u = s_be (at + 1, 8);
            double d;
            memcpy (&d, &u, 8);
            snprintf (what, sizeof what, "float 64 %.17g", d);
            break;
        }
        case 0xdc: case 0xdd: case 0xde: case 0xdf: {
            size_t n = (t == 0xdc || t == 0xde) ? 2: 4;
            NEED (1 + n);
            head = 1 + n; count = s_be (at + 1, n);
            kind = t <= 0xdd ? 1: 2;
            break;
        }
        default:
            s_line (indent, at, 1, "(not a msgpack value here)");
            return -1;
    }
    if (kind == 3 || kind == 4) {
        if (left < head + payload) {
            s_line (indent, at, left, kind == 3 ? "str, truncated": "bin, truncated");
            return -1;
        }
        char quoted [200];
        s_quote (quoted, sizeof quoted, at + head, payload, kind == 3);
        snprintf (what, sizeof what, "%s%s %s", prefix, kind == 3 ? "str": "bin", quoted);
        s_line (indent, at, head + payload, what);
        *pos += head + payload;
        return 0;
    }
    if (kind == 0) {
        char full [300];
        snprintf (full, sizeof full, "%s%s", prefix, what);
        s_line (indent, at, head, full);
        *pos += head;
        return 0;
    }
    snprintf (what, sizeof what, "%s%s of %llu", prefix, kind == 1 ? "array": "map",
              (unsigned long long) count);
    s_line (indent, at, head, what);
    *pos += head;
    if (count > size - *pos) {
        fprintf (s_readme, "%*s(claims more elements than the %zu bytes left)\n",
                 indent + 2, "", size - *pos);
        return -1;
    }
    if (indent > 2 * 40) {
        fprintf (s_readme, "%*s(and so on, deeper)\n", indent + 2, "");
        return -1;
    }
    for (uint64_t i = 0; i < count; i++) {
        if (kind == 2) {
            if (s_dump (data, size, pos, indent + 2, "key "))
                return -1;
            if (s_dump (data, size, pos, indent + 4, "= "))
                return -1;
        }
        else
        if (s_dump (data, size, pos, indent + 2, ""))
            return -1;
    }
    return 0;
}

static void
s_dump_frame (const char *label, const uint8_t *data, size_t size)
{
    fprintf (s_readme, "%s, %zu bytes:\n\n```\n", label, size);
    size_t pos = 0;
    if (s_dump (data, size, &pos, 0, "") == 0 && pos < size) {
        fprintf (s_readme, "(then %zu more bytes:)\n", size - pos);
        s_line (0, data + pos, size - pos, "(after the value)");
    }
    fprintf (s_readme, "```\n\n");
}

//  ---------------------------------------------------------------------
//  Writing vectors

static void
s_write_hex (FILE *file, const char *label, const uint8_t *data, size_t size)
{
    fprintf (file, "%s ", label);
    for (size_t i = 0; i < size; i++)
        fprintf (file, "%02x", data [i]);
    fputc ('\n', file);
}

//  Writes one vector file and its README section. expect NULL: a good one.
static void
s_emit (const char *name, const char *kind, const char *method, const char *summary,
        const uint8_t *header, size_t header_size, const uint8_t *body, size_t body_size,
        const char *expect, const char *stage, int replyable, const char *message)
{
    char path [4096];
    snprintf (path, sizeof path, "%s/%s.hex", s_dir, name);
    FILE *file = fopen (path, "w");
    if (!file) {
        perror (path);
        exit (1);
    }
    fprintf (file, "# %s\n# Generated by tests/proto/gen_vectors.c; README.md shows the layout.\n",
             summary);
    fprintf (file, "kind %s\nmethod %s\n", kind, method);
    s_write_hex (file, "header", header, header_size);
    s_write_hex (file, "body", body, body_size);
    if (expect) {
        fprintf (file, "expect %s\nstage %s\nreplyable %s\nmessage %s\n", expect, stage,
                 replyable ? "yes": "no", message);
    }
    fclose (file);
    s_written++;

    fprintf (s_readme, "### %s.hex\n\n%s\n\n", name, summary);
    if (expect)
        fprintf (s_readme, "Decoding gives **%s** at the %s (%s); our message: `%s`\n\n",
                 expect, stage, replyable ? "answerable: the header carries a request id"
                                         : "not answerable: dropped silently", message);
    s_dump_frame ("HEADER", header, header_size);
    s_dump_frame ("BODY", body, body_size);
}

static const char *
s_fields_summary (wp_method m, bool full, bool request)
{
    if (request && m == WP_METHOD_RETRY)
        return full ? "one item by id, header metadata {\"trace-id\": ...}, timeout 5000 ms"
                    : "every poisoned item (all: true), no timeout, empty header metadata";
    if (request)
        return full ? "every optional field set, header metadata {\"trace-id\": ...}, timeout 5000 ms"
                    : "only the required fields, no timeout, empty header metadata";
    return full ? "fields and records filled in (lists non-empty, nullable fields set)"
                : "the smallest OK reply (nil item/worker, empty lists, zero counts)";
}

//  Encodes the full or minimal fixture of one method's request or OK reply;
//  exits if it does not encode. Caller owns *h and *b.
static void
s_encode_fixture (wp_method m, bool full, bool request,
                  uint8_t **h, size_t *hn, uint8_t **b, size_t *bn)
{
    if (pt_encode (m, full, request, h, hn, b, bn)) {
        fprintf (stderr, "%s: %sfixture does not encode\n", wp_method_name (m),
                 request ? "": "reply ");
        exit (1);
    }
}

//  Emits one good vector of a method's request or OK reply
static void
s_emit_good (wp_method m, bool full, bool request,
             uint8_t *h, size_t hn, uint8_t *b, size_t bn)
{
    const char *method = wp_method_name (m);
    const char *kind = request ? "request": "reply";
    char name [128], summary [512];
    snprintf (name, sizeof name, "%s.%s%s", method, kind, full ? "": ".minimal");
    if (request)
        snprintf (summary, sizeof summary, "A %s request: %s.", method,
                  s_fields_summary (m, full, true));
    else
        snprintf (summary, sizeof summary, "The OK reply to %s: %s.", method,
                  s_fields_summary (m, full, false));
    s_emit (name, kind, method, summary, h, hn, b, bn, NULL, NULL, 0, NULL);
}

static void
s_good_vectors (void)
{
    fprintf (s_readme, "## Requests and replies of every method\n\n");
    for (wp_method m = WP_METHOD_PUSH; m < WP_METHOD_COUNT; m++)
        for (int request = 1; request >= 0; request--) {
            uint8_t *full_h, *full_b, *h, *b;
            size_t full_hn, full_bn, hn, bn;
            s_encode_fixture (m, true, request, &full_h, &full_hn, &full_b, &full_bn);
            s_emit_good (m, true, request, full_h, full_hn, full_b, full_bn);
            //  A minimal vector only where it differs from the full one's body
            s_encode_fixture (m, false, request, &h, &hn, &b, &bn);
            if (bn != full_bn || memcmp (b, full_b, bn))
                s_emit_good (m, false, request, h, hn, b, bn);
            free (h);
            free (b);
            free (full_h);
            free (full_b);
        }
}

static void
s_error_vectors (void)
{
    fprintf (s_readme, "## Error replies\n\nEvery error reply has the empty map `{}` as its body.\n\n");
    static const struct { wp_method m; wp_status status; uint64_t id; const char *message; } errors [] = {
        { WP_METHOD_GET, WP_NOT_FOUND, 77, "item 'job-9' not found in pool 'jobs'" },
        { WP_METHOD_COMPLETE, WP_FAILED_PRECONDITION, 78, "item 'job-1' is claimed by another worker" },
        { WP_METHOD_PUSH, WP_INVALID_ARGUMENT, 79, "field 'pool' is required" },
        { WP_METHOD_UNKNOWN, WP_UNIMPLEMENTED, 80, "unknown method 'WorkPool.Frobnicate'" },
        { WP_METHOD_CLAIM, WP_DEADLINE_EXCEEDED, 81, "the request's deadline passed before it ran" },
        { WP_METHOD_PUSH_MANY, WP_RESOURCE_EXHAUSTED, 82,
          "request of 2000000 bytes is larger than the limit of 1048576" },
        { WP_METHOD_RETRY, WP_FAILED_PRECONDITION, 83,
          "item 'job-1' is pending: only poisoned or done items can be retried" },
        { WP_METHOD_CANCEL, WP_FAILED_PRECONDITION, 84,
          "item 'job-1' is claimed by 'w-1': a worker may be halfway; fail or release it first" },
        { WP_METHOD_CANCEL, WP_NOT_FOUND, 85, "no item 'job-9' in pool 'jobs'" },
        { WP_METHOD_LIST_ITEMS, WP_INVALID_ARGUMENT, 86, "cursor is not one this store made" },
        { WP_METHOD_PUSH, WP_INVALID_ARGUMENT, 87, "give delay_seconds or run_at, not both" },
        { WP_METHOD_SCHEDULE_REMOVE, WP_NOT_FOUND, 88, "no schedule 'nightly-report'" },
        { WP_METHOD_SCHEDULE_ADD, WP_INVALID_ARGUMENT, 89,
          "cron: the minute field: '61' is not a value, range or step within 0-59" },
        { WP_METHOD_SET_BACKOFF, WP_PERMISSION_DENIED, 90,
          "key 'ingest' has role producer, which may not call WorkPool.SetBackoff (it needs admin)" },
        { WP_METHOD_SUBSCRIBE, WP_CANCELLED, 91,
          "replaced by a newer subscription of worker 'w-1' on pool 'jobs'" },
        { WP_METHOD_SUBSCRIBE, WP_FAILED_PRECONDITION, 92,
          "worker 'w-1' was declared lost: its items were returned; register again" },
    };
    for (size_t i = 0; i < sizeof errors / sizeof errors [0]; i++) {
        wp_reply_t reply;
        wp_reply_init (&reply);
        reply.request_id = errors [i].id;
        reply.status = errors [i].status;
        reply.message = strdup (errors [i].message);
        uint8_t *h, *b;
        size_t hn, bn;
        if (wp_reply_encode (&reply, errors [i].m, &h, &hn, &b, &bn))
            exit (1);
        wp_reply_clear (&reply);
        const char *method = errors [i].m == WP_METHOD_UNKNOWN ? "WorkPool.Frobnicate"
                                                               : wp_method_name (errors [i].m);
        char name [128], summary [512];
        snprintf (name, sizeof name, "error.%s.%s.reply", wp_strerror (errors [i].status), method);
        snprintf (summary, sizeof summary, "A %s reply to %s (request id %llu).",
                  wp_strerror (errors [i].status), method, (unsigned long long) errors [i].id);
        s_emit (name, "reply", method, summary, h, hn, b, bn, NULL, NULL, 0, NULL);
        free (h);
        free (b);
    }
}

//  ---------------------------------------------------------------------
//  Malformed requests, packed by hand

typedef struct {
    wp_mp_writer_t w;
    msgpack_packer *pk;
} s_frame_t;

static msgpack_packer *
s_frame (s_frame_t *f)
{
    wp_mp_writer_init (&f->w);
    f->pk = &f->w.pk;
    return f->pk;
}

static void
s_header (s_frame_t *f, int elements, int64_t version, uint64_t id, const char *method,
          uint64_t timeout)
{
    msgpack_packer *pk = s_frame (f);
    msgpack_pack_array (pk, elements);
    wp_mp_pack_cstr (pk, "WPQ");
    msgpack_pack_int64 (pk, version);
    msgpack_pack_uint64 (pk, id);
    if (elements > 3)
        wp_mp_pack_cstr (pk, method);
    if (elements > 4)
        msgpack_pack_uint64 (pk, timeout);
    if (elements > 5)
        msgpack_pack_map (pk, 0);
}

static void
s_kv_str (msgpack_packer *pk, const char *key, const char *value)
{
    wp_mp_pack_cstr (pk, key);
    wp_mp_pack_cstr (pk, value);
}

//  Decodes the malformed request to learn what our decoder answers, and
//  emits it; a malformed vector that decodes is a bug here.
static void
s_malformed (const char *slug, const char *method, const char *summary, s_frame_t *header,
             s_frame_t *body)
{
    uint8_t *h, *b;
    size_t hn, bn;
    wp_mp_writer_take (&header->w, &h, &hn);
    wp_mp_writer_take (&body->w, &b, &bn);
    wp_request_t req;
    wp_request_init (&req);
    bool replyable;
    char err [512] = "";
    const char *stage = "header";
    wp_status rc = wp_request_decode_header (&req, h, hn, &replyable, err, sizeof err);
    if (rc == WP_OK) {
        stage = "body";
        rc = wp_request_decode_body (&req, b, bn, err, sizeof err);
    }
    wp_request_clear (&req);
    if (rc == WP_OK) {
        fprintf (stderr, "malformed vector '%s' decodes\n", slug);
        exit (1);
    }
    char name [128];
    snprintf (name, sizeof name, "malformed.%s.request", slug);
    s_emit (name, "request", method, summary, h, hn, b, bn, wp_strerror (rc), stage, replyable, err);
    free (h);
    free (b);
}

static void
s_malformed_vectors (void)
{
    fprintf (s_readme, "## Malformed requests\n\nEach file adds `expect` (the status), `stage` "
             "(which frame is at fault), `replyable` (whether the header carries a request id "
             "to answer; if not, the broker drops the message) and `message` (what our decoder "
             "says; other implementations may word it differently).\n\n");
    s_frame_t h, b;
    msgpack_packer *pk;

    s_header (&h, 6, 2, 5, "WorkPool.Size", 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 1);
    s_kv_str (pk, "pool", "jobs");
    s_malformed ("version-2", "WorkPool.Size", "Protocol version 2: answered UNIMPLEMENTED.", &h, &b);

    s_header (&h, 6, 1, 6, "WorkPool.Frobnicate", 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 0);
    s_malformed ("unknown-method", "WorkPool.Frobnicate", "A method that does not exist.", &h, &b);

    pk = s_frame (&h);
    msgpack_pack_array (pk, 6);
    wp_mp_pack_cstr (pk, "XYZ");
    msgpack_pack_int (pk, 1);
    msgpack_pack_int (pk, 7);
    wp_mp_pack_cstr (pk, "WorkPool.Size");
    msgpack_pack_int (pk, 0);
    msgpack_pack_map (pk, 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 1);
    s_kv_str (pk, "pool", "jobs");
    s_malformed ("bad-signature", "WorkPool.Size", "A header not starting with \"WPQ\".", &h, &b);

    pk = s_frame (&h);
    msgpack_pack_map (pk, 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 0);
    s_malformed ("header-not-array", "?", "A header that is a map.", &h, &b);

    s_header (&h, 5, 1, 8, "WorkPool.Size", 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 1);
    s_kv_str (pk, "pool", "jobs");
    s_malformed ("header-5-elements", "WorkPool.Size", "A header of 5 elements (metadata missing).",
                 &h, &b);

    s_header (&h, 6, 1, 9, "WorkPool.Size", 0);
    msgpack_pack_nil (h.pk);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 1);
    s_kv_str (pk, "pool", "jobs");
    s_malformed ("header-trailing-byte", "WorkPool.Size",
                 "A good header followed by one more byte (nil): not one msgpack value.", &h, &b);

    s_header (&h, 6, 1, 10, "WorkPool.Size", UINT64_C (1) << 32);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 1);
    s_kv_str (pk, "pool", "jobs");
    s_malformed ("timeout-too-big", "WorkPool.Size", "timeout_ms of 2^32: not a uint 32.", &h, &b);

    pk = s_frame (&h);
    msgpack_pack_array (pk, 6);
    wp_mp_pack_cstr (pk, "WPQ");
    wp_mp_pack_cstr (pk, "1");
    msgpack_pack_int (pk, 11);
    wp_mp_pack_cstr (pk, "WorkPool.Size");
    msgpack_pack_int (pk, 0);
    msgpack_pack_map (pk, 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 1);
    s_kv_str (pk, "pool", "jobs");
    s_malformed ("version-string", "WorkPool.Size", "The version as the string \"1\".", &h, &b);

    s_header (&h, 6, 1, 12, "WorkPool.Size", 0);
    pk = s_frame (&b);
    msgpack_pack_array (pk, 1);
    wp_mp_pack_cstr (pk, "jobs");
    s_malformed ("body-not-map", "WorkPool.Size", "A body that is an array.", &h, &b);

    s_header (&h, 6, 1, 13, "WorkPool.Size", 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 2);
    s_kv_str (pk, "pool", "jobs");
    s_kv_str (pk, "pool", "other");
    s_malformed ("duplicate-key", "WorkPool.Size", "The key \"pool\" twice.", &h, &b);

    s_header (&h, 6, 1, 14, "WorkPool.Size", 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 1);
    s_kv_str (pk, "pool", "jobs");
    msgpack_pack_nil (pk);
    s_malformed ("body-trailing-byte", "WorkPool.Size", "A good body followed by one more byte.",
                 &h, &b);

    s_header (&h, 6, 1, 15, "WorkPool.Push", 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 1);
    wp_mp_pack_cstr (pk, "data");
    wp_mp_pack_bin (pk, (const uint8_t *) "\x01", 1);
    s_malformed ("missing-pool", "WorkPool.Push", "Push without a pool.", &h, &b);

    s_header (&h, 6, 1, 16, "WorkPool.Push", 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 2);
    s_kv_str (pk, "pool", "jobs");
    s_kv_str (pk, "data", "hello");
    s_malformed ("data-not-bin", "WorkPool.Push",
                 "Push with data as a str: data must be bin (the msgpack encoding of the value).",
                 &h, &b);

    s_header (&h, 6, 1, 17, "WorkPool.Push", 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 2);
    s_kv_str (pk, "pool", "jobs");
    wp_mp_pack_cstr (pk, "data");
    wp_mp_pack_bin (pk, (const uint8_t *) "", 0);
    s_malformed ("empty-data", "WorkPool.Push", "Push with an empty bin as data.", &h, &b);

    char long_name [257];
    memset (long_name, 'p', 256);
    long_name [256] = 0;
    s_header (&h, 6, 1, 18, "WorkPool.Size", 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 1);
    s_kv_str (pk, "pool", long_name);
    s_malformed ("pool-too-long", "WorkPool.Size", "A pool name of 256 bytes.", &h, &b);

    s_header (&h, 6, 1, 19, "WorkPool.Size", 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 1);
    wp_mp_pack_cstr (pk, "pool");
    msgpack_pack_str (pk, 3);
    msgpack_pack_str_body (pk, "a\xff" "b", 3);
    s_malformed ("pool-invalid-utf8", "WorkPool.Size", "A pool name that is not UTF-8.", &h, &b);

    for (int i = 0; i < 2; i++) {
        s_header (&h, 6, 1, 20 + i, "WorkPool.ClaimMany", 0);
        pk = s_frame (&b);
        msgpack_pack_map (pk, 3);
        s_kv_str (pk, "pool", "jobs");
        s_kv_str (pk, "worker_id", "w-1");
        wp_mp_pack_cstr (pk, "max");
        msgpack_pack_int (pk, i ? 1001: 0);
        s_malformed (i ? "max-1001": "max-0", "WorkPool.ClaimMany",
                     i ? "ClaimMany with max 1001.": "ClaimMany with max 0.", &h, &b);
    }

    s_header (&h, 6, 1, 22, "WorkPool.Push", 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 3);
    s_kv_str (pk, "pool", "jobs");
    wp_mp_pack_cstr (pk, "data");
    wp_mp_pack_bin (pk, (const uint8_t *) "\x01", 1);
    wp_mp_pack_cstr (pk, "max_retries");
    msgpack_pack_int (pk, -1);
    s_malformed ("negative-max-retries", "WorkPool.Push", "Push with max_retries -1.", &h, &b);

    s_header (&h, 6, 1, 23, "WorkPool.Claim", 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 3);
    s_kv_str (pk, "pool", "jobs");
    s_kv_str (pk, "worker_id", "w-1");
    wp_mp_pack_cstr (pk, "wait_seconds");
    msgpack_pack_double (pk, WP_WAIT_MAX + 0.5);
    s_malformed ("wait-too-long", "WorkPool.Claim",
                 "Claim waiting half a second longer than WP_WAIT_MAX.", &h, &b);

    s_header (&h, 6, 1, 24, "WorkPool.Claim", 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 3);
    s_kv_str (pk, "pool", "jobs");
    s_kv_str (pk, "worker_id", "w-1");
    wp_mp_pack_cstr (pk, "lease_seconds");
    wp_mp_pack_raw (pk, (const uint8_t *) "\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00", 9);
    s_malformed ("lease-nan", "WorkPool.Claim", "Claim with a NaN lease.", &h, &b);

    s_header (&h, 6, 1, 25, "WorkPool.PushMany", 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 2);
    s_kv_str (pk, "pool", "jobs");
    wp_mp_pack_cstr (pk, "items");
    wp_mp_pack_raw (pk, (const uint8_t *) "\xdd\xff\xff\xff\xff", 5);
    s_malformed ("huge-array-claim", "WorkPool.PushMany",
                 "items: an array header claiming 2^32-1 elements, and nothing after it. A "
                 "decoder must not allocate for the claim.", &h, &b);

    s_header (&h, 6, 1, 26, "Registry.Heartbeat", 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 2);
    s_kv_str (pk, "worker_id", "w-1");
    wp_mp_pack_cstr (pk, "metadata");
    msgpack_pack_map (pk, 1);
    wp_mp_pack_cstr (pk, "deep");
    for (int i = 0; i < WP_NESTING_MAX + 8; i++)
        msgpack_pack_array (pk, 1);
    msgpack_pack_nil (pk);
    char summary [160];
    snprintf (summary, sizeof summary, "A metadata value nested %d arrays deep (containers "
              "nest at most WP_NESTING_MAX, %d, deep in a frame).", WP_NESTING_MAX + 8,
              WP_NESTING_MAX);
    s_malformed ("nested-too-deep", "Registry.Heartbeat", summary, &h, &b);

    s_header (&h, 6, 1, 28, "WorkPool.CompleteMany", 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 3);
    s_kv_str (pk, "pool", "jobs");
    s_kv_str (pk, "worker_id", "w-1");
    wp_mp_pack_cstr (pk, "items");
    msgpack_pack_array (pk, 2);
    msgpack_pack_map (pk, 1);
    s_kv_str (pk, "id", "job-1");
    msgpack_pack_map (pk, 1);
    wp_mp_pack_cstr (pk, "result");
    wp_mp_pack_bin (pk, (const uint8_t *) "\xa2ok", 3);
    s_malformed ("entry-without-id", "WorkPool.CompleteMany",
                 "CompleteMany whose second entry has no id: the whole request is refused.",
                 &h, &b);

    s_header (&h, 6, 1, 29, "WorkPool.CompleteMany", 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 2);
    s_kv_str (pk, "pool", "jobs");
    wp_mp_pack_cstr (pk, "items");
    msgpack_pack_array (pk, 0);
    s_malformed ("complete-many-empty", "WorkPool.CompleteMany", "CompleteMany with no entries.",
                 &h, &b);

    s_header (&h, 6, 1, 30, "WorkPool.Purge", 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 2);
    s_kv_str (pk, "pool", "jobs");
    wp_mp_pack_cstr (pk, "status");
    msgpack_pack_array (pk, 2);
    wp_mp_pack_cstr (pk, "done");
    wp_mp_pack_cstr (pk, "claimed");
    s_malformed ("purge-claimed", "WorkPool.Purge",
                 "Purge of claimed items: refused, a worker may be halfway.", &h, &b);

    s_header (&h, 6, 1, 31, "WorkPool.Purge", 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 1);
    s_kv_str (pk, "pool", "jobs");
    s_malformed ("purge-no-status", "WorkPool.Purge", "Purge without a status.", &h, &b);

    s_header (&h, 6, 1, 32, "WorkPool.Retry", 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 3);
    s_kv_str (pk, "pool", "jobs");
    s_kv_str (pk, "id", "job-1");
    wp_mp_pack_cstr (pk, "all");
    msgpack_pack_true (pk);
    s_malformed ("retry-id-and-all", "WorkPool.Retry", "Retry with both id and all: true.",
                 &h, &b);

    s_header (&h, 6, 1, 33, "WorkPool.Retry", 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 2);
    s_kv_str (pk, "pool", "jobs");
    wp_mp_pack_cstr (pk, "all");
    msgpack_pack_false (pk);
    s_malformed ("retry-neither", "WorkPool.Retry", "Retry with all: false and no id.", &h, &b);

    s_header (&h, 6, 1, 34, "WorkPool.List", 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 2);
    s_kv_str (pk, "pool", "jobs");
    wp_mp_pack_cstr (pk, "limit");
    msgpack_pack_uint32 (pk, WP_LIST_MAX + 1);
    s_malformed ("list-limit-too-big", "WorkPool.List", "List with a limit above the page bound.",
                 &h, &b);

    s_header (&h, 6, 1, 35, "WorkPool.List", 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 2);
    s_kv_str (pk, "pool", "jobs");
    s_kv_str (pk, "status", "lost");
    s_malformed ("list-status-unknown", "WorkPool.List",
                 "List filtered by \"lost\", a worker status, not an item status.", &h, &b);

    s_header (&h, 6, 1, 36, "WorkPool.List", 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 2);
    s_kv_str (pk, "pool", "jobs");
    wp_mp_pack_cstr (pk, "status");
    msgpack_pack_array (pk, 2);
    wp_mp_pack_cstr (pk, "done");
    wp_mp_pack_cstr (pk, "done");
    s_malformed ("list-status-twice", "WorkPool.List", "List filtered by \"done\" twice.", &h, &b);

    s_header (&h, 6, 1, 27, "Registry.List", 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 1);
    wp_mp_pack_cstr (pk, "status");
    msgpack_pack_int (pk, 1);
    s_malformed ("status-filter-int", "Registry.List", "A List status filter that is an int.",
                 &h, &b);

    //  Scheduling's fields, each just past its bound (proto/wp_limits.h)
    s_header (&h, 6, 1, 40, "WorkPool.Push", 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 3);
    s_kv_str (pk, "pool", "jobs");
    wp_mp_pack_cstr (pk, "data");
    wp_mp_pack_bin (pk, (const uint8_t *) "\x01", 1);
    wp_mp_pack_cstr (pk, "delay_seconds");
    msgpack_pack_double (pk, WP_DELAY_MAX + 1);
    s_malformed ("delay-too-long", "WorkPool.Push",
                 "Push delayed one second longer than WP_DELAY_MAX (366 days).", &h, &b);

    s_header (&h, 6, 1, 41, "WorkPool.Push", 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 3);
    s_kv_str (pk, "pool", "jobs");
    wp_mp_pack_cstr (pk, "data");
    wp_mp_pack_bin (pk, (const uint8_t *) "\x01", 1);
    s_kv_str (pk, "run_at", "next tuesday");
    s_malformed ("run-at-not-rfc3339", "WorkPool.Push",
                 "Push with a run_at that is not an RFC 3339 time.", &h, &b);

    s_header (&h, 6, 1, 42, "WorkPool.PushMany", 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 2);
    s_kv_str (pk, "pool", "jobs");
    wp_mp_pack_cstr (pk, "items");
    msgpack_pack_array (pk, 1);
    msgpack_pack_map (pk, 2);
    wp_mp_pack_cstr (pk, "data");
    wp_mp_pack_bin (pk, (const uint8_t *) "\x01", 1);
    wp_mp_pack_cstr (pk, "priority");
    msgpack_pack_int64 (pk, INT32_MAX + INT64_C (1));
    s_malformed ("priority-too-big", "WorkPool.PushMany",
                 "PushMany with an item's priority of 2^31: priorities are int 32.", &h, &b);

    s_header (&h, 6, 1, 43, "WorkPool.Fail", 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 3);
    s_kv_str (pk, "pool", "jobs");
    s_kv_str (pk, "id", "job-1");
    wp_mp_pack_cstr (pk, "retry_after_seconds");
    msgpack_pack_double (pk, -1);
    s_malformed ("retry-after-negative", "WorkPool.Fail",
                 "Fail with a retry_after_seconds of -1.", &h, &b);

    s_header (&h, 6, 1, 44, "WorkPool.SetBackoff", 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 3);
    s_kv_str (pk, "pool", "jobs");
    wp_mp_pack_cstr (pk, "base_seconds");
    msgpack_pack_double (pk, 1);
    wp_mp_pack_cstr (pk, "jitter");
    msgpack_pack_double (pk, 1.5);
    s_malformed ("jitter-above-1", "WorkPool.SetBackoff", "SetBackoff with a jitter of 1.5.",
                 &h, &b);

    char long_schedule [WP_SCHEDULE_NAME_MAX + 2];
    memset (long_schedule, 's', WP_SCHEDULE_NAME_MAX + 1);
    long_schedule [WP_SCHEDULE_NAME_MAX + 1] = 0;
    s_header (&h, 6, 1, 45, "Schedule.Add", 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 4);
    s_kv_str (pk, "name", long_schedule);
    s_kv_str (pk, "pool", "jobs");
    s_kv_str (pk, "cron", "* * * * *");
    wp_mp_pack_cstr (pk, "data");
    wp_mp_pack_bin (pk, (const uint8_t *) "\x01", 1);
    s_malformed ("schedule-name-too-long", "Schedule.Add",
                 "Schedule.Add with a name one byte longer than WP_SCHEDULE_NAME_MAX (its "
                 "items' ids NAME@TICK must stay names).", &h, &b);

    s_header (&h, 6, 1, 46, "Schedule.Add", 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 3);
    s_kv_str (pk, "name", "nightly");
    s_kv_str (pk, "pool", "jobs");
    wp_mp_pack_cstr (pk, "data");
    wp_mp_pack_bin (pk, (const uint8_t *) "\x01", 1);
    s_malformed ("schedule-no-cron", "Schedule.Add", "Schedule.Add without a cron.", &h, &b);

    s_header (&h, 6, 1, 47, "Schedule.Remove", 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 0);
    s_malformed ("schedule-remove-no-name", "Schedule.Remove", "Schedule.Remove without a name.",
                 &h, &b);

    s_header (&h, 6, 1, 48, "WorkPool.Subscribe", 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 3);
    s_kv_str (pk, "pool", "jobs");
    s_kv_str (pk, "worker_id", "w-1");
    wp_mp_pack_cstr (pk, "credit");
    msgpack_pack_uint32 (pk, 0);
    s_malformed ("subscribe-credit-zero", "WorkPool.Subscribe",
                 "WorkPool.Subscribe with credit 0: a stream that may never send.", &h, &b);

    s_header (&h, 6, 1, 49, "WorkPool.Subscribe", 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 3);
    s_kv_str (pk, "pool", "jobs");
    s_kv_str (pk, "worker_id", "w-1");
    wp_mp_pack_cstr (pk, "credit");
    msgpack_pack_uint32 (pk, WP_CREDIT_MAX + 1);
    s_malformed ("subscribe-credit-too-large", "WorkPool.Subscribe",
                 "WorkPool.Subscribe with credit one more than WP_CREDIT_MAX.", &h, &b);

    s_header (&h, 6, 1, 50, "WorkPool.Subscribe", 0);
    pk = s_frame (&b);
    msgpack_pack_map (pk, 2);
    s_kv_str (pk, "pool", "jobs");
    wp_mp_pack_cstr (pk, "credit");
    msgpack_pack_uint32 (pk, 8);
    s_malformed ("subscribe-no-worker", "WorkPool.Subscribe",
                 "WorkPool.Subscribe without a worker_id (credit is returned by that worker's "
                 "completions).", &h, &b);
}

//  ---------------------------------------------------------------------

static void
s_generate (const char *dir)
{
    s_dir = dir;
    char path [4096];
    snprintf (path, sizeof path, "%s/README.md", dir);
    s_readme = fopen (path, "w");
    if (!s_readme) {
        perror (path);
        exit (1);
    }
    fprintf (s_readme,
"# Golden vectors of the workpool protocol\n\n"
"Generated by `tests/proto/gen_vectors.c` from fixed inputs; do not edit by hand (run\n"
"`gen_vectors proto/vectors` after changing the encoder, and explain why in the commit).\n"
"`proto/PROTOCOL.md` is the specification; these files are its examples, and a client in\n"
"any language should decode each one and, for the good ones, re-encode it to the same bytes.\n"
"`tests/proto/test_proto_vectors.c` (C) and `tests/proto/check_vectors.py` (Python msgpack)\n"
"do so.\n\n"
"## File format\n\n"
"One message per `.hex` file, as lines of `key value`; `#` starts a comment:\n\n"
"| key | value |\n|---|---|\n"
"| `kind` | `request` or `reply` |\n"
"| `method` | the method name (the header's for requests; the request's for replies) |\n"
"| `header` | the HEADER frame, in lowercase hex |\n"
"| `body` | the BODY frame, in lowercase hex |\n"
"| `expect` | malformed requests only: the status decoding gives |\n"
"| `stage` | malformed requests only: `header` or `body`, the frame at fault |\n"
"| `replyable` | malformed requests only: `yes` if the header carries a request id to answer |\n"
"| `message` | malformed requests only: the message of our decoder (informative) |\n\n"
"Names: `<Method>.request.hex` / `<Method>.reply.hex` hold every optional field set;\n"
"`.minimal` ones only the required fields (where that differs); `error.<STATUS>.<Method>.reply.hex`\n"
"are error replies; `malformed.<what>.request.hex` are requests a decoder must refuse.\n\n"
"The values used: pool `\"jobs\"`, item id `\"job-1\"`, worker `\"w-1\"`, time\n"
"`2026-11-26T05:39:00.123456Z`; `data` is the msgpack encoding of the user's value, e.g.\n"
"`81 a1 6e 01` = `{\"n\": 1}`, `a2 6f 6b` = `\"ok\"`, `93 01 02 03` = `[1, 2, 3]`.\n"
"Request ids are 1000 + the method's number, so every request has its own.\n\n"
"In the layouts below, each line is one msgpack value: its bytes (cut after 10), then what\n"
"they mean; map entries show the key, then `=` and the value, indented.\n\n");
    s_good_vectors ();
    s_error_vectors ();
    s_malformed_vectors ();
    fclose (s_readme);
}

//  Compares every file of a with b, and the other way round.
static int
s_compare_dirs (const char *generated, const char *committed)
{
    int differences = 0;
    for (int side = 0; side < 2; side++) {
        const char *from = side ? committed: generated, *to = side ? generated: committed;
        DIR *dir = opendir (from);
        if (!dir) {
            perror (from);
            return 1;
        }
        struct dirent *entry;
        while ((entry = readdir (dir))) {
            if (entry->d_name [0] == '.')
                continue;
            char a [4096], b [4096];
            snprintf (a, sizeof a, "%.3800s/%.255s", from, entry->d_name);
            snprintf (b, sizeof b, "%.3800s/%.255s", to, entry->d_name);
            FILE *fa = fopen (a, "rb"), *fb = fopen (b, "rb");
            bool same = fa && fb;
            while (same) {
                int ca = fgetc (fa), cb = fgetc (fb);
                same = ca == cb;
                if (ca == EOF || cb == EOF)
                    break;
            }
            if (!same) {
                fprintf (stderr, "%s: %s\n", entry->d_name,
                         !fb ? (side ? "no longer generated": "not committed"): "differs");
                differences++;
            }
            if (fa)
                fclose (fa);
            if (fb)
                fclose (fb);
        }
        closedir (dir);
    }
    return differences;
}

int
main (int argc, char *argv [])
{
    if (argc >= 2 && strcmp (argv [1], "--check") == 0) {
        char committed [4096];
        if (argc >= 3)
            snprintf (committed, sizeof committed, "%s", argv [2]);
        else {
            const char *source = getenv ("WP_SOURCE_DIR");
            if (!source) {
                fprintf (stderr, "gen_vectors --check: give DIR or set WP_SOURCE_DIR\n");
                return 2;
            }
            snprintf (committed, sizeof committed, "%s/proto/vectors", source);
        }
        char temp [] = "/tmp/wp-vectors-XXXXXX";
        if (!mkdtemp (temp)) {
            perror ("mkdtemp");
            return 2;
        }
        s_generate (temp);
        int differences = s_compare_dirs (temp, committed);
        //  Clean up what we wrote
        DIR *dir = opendir (temp);
        struct dirent *entry;
        while (dir && (entry = readdir (dir))) {
            if (entry->d_name [0] == '.')
                continue;
            char path [4096];
            snprintf (path, sizeof path, "%.3800s/%.255s", temp, entry->d_name);
            unlink (path);
        }
        if (dir)
            closedir (dir);
        rmdir (temp);
        if (differences) {
            fprintf (stderr, "gen_vectors: %d files differ from %s; if the encoder changed on "
                     "purpose, run gen_vectors %s\n", differences, committed, committed);
            return 1;
        }
        printf ("gen_vectors: %d vectors and README.md match %s\n", s_written, committed);
        return 0;
    }
    if (argc != 2) {
        fprintf (stderr, "usage: gen_vectors DIR | gen_vectors --check [DIR]\n");
        return 2;
    }
    if (mkdir (argv [1], 0755) && errno != EEXIST) {
        perror (argv [1]);
        return 1;
    }
    s_generate (argv [1]);
    printf ("gen_vectors: wrote %d vectors and README.md to %s\n", s_written, argv [1]);
    return 0;
}
