/*  test_proto_vectors: reads every golden vector of proto/vectors/, decodes
    it, checks the decoded values against the fixtures it was made from,
    re-encodes it and compares byte for byte; malformed ones must give the
    status, stage and message recorded; every prefix of every vector must
    be refused without a crash.  */
#include "proto_test.h"
#include <string.h>

//  The method a vector names (its header's, for requests).
static wp_method
s_method (const pt_vector_t *v)
{
    return v->method ? wp_method_from_name (v->method, strlen (v->method)): WP_METHOD_UNKNOWN;
}

static bool
s_ends_with (const char *text, const char *suffix)
{
    size_t a = strlen (text), b = strlen (suffix);
    return a >= b && strcmp (text + a - b, suffix) == 0;
}

static void
s_good_request (const pt_vector_t *v)
{
    wp_method m = s_method (v);
    wp_request_t req;
    wp_request_init (&req);
    bool replyable = false;
    char err [512] = "";
    wp_status rc = wp_request_decode_header (&req, v->header, v->header_size, &replyable, err, sizeof err);
    CHECKF (rc == WP_OK && replyable && req.method == m, "%s: header: %s", v->name, err);
    if (rc == WP_OK) {
        rc = wp_request_decode_body (&req, v->body, v->body_size, err, sizeof err);
        CHECKF (rc == WP_OK, "%s: body: %s", v->name, err);
    }
    if (rc == WP_OK) {
        //  The values are the fixture's
        wp_request_t expected;
        pt_request (m, !s_ends_with (v->name, ".minimal.hex"), &expected);
        CHECKF (pt_request_equal (&expected, &req, err, sizeof err), "%s: %s", v->name, err);
        wp_request_clear (&expected);
        //  And encode to the same bytes
        uint8_t *h, *b;
        size_t hn, bn;
        CHECK (wp_request_encode (&req, &h, &hn, &b, &bn) == 0);
        CHECKF (hn == v->header_size && memcmp (h, v->header, hn) == 0, "%s: header re-encodes differently", v->name);
        CHECKF (bn == v->body_size && memcmp (b, v->body, bn) == 0, "%s: body re-encodes differently", v->name);
        free (h);
        free (b);
    }
    wp_request_clear (&req);
}

static void
s_reply (const pt_vector_t *v)
{
    bool error = strncmp (v->name, "error.", 6) == 0;
    wp_method m = s_method (v);
    CHECKF (m != WP_METHOD_UNKNOWN || error, "%s: unknown method", v->name);
    wp_reply_t reply;
    wp_reply_init (&reply);
    char err [512] = "";
    wp_status rc = wp_reply_decode_header (&reply, v->header, v->header_size, err, sizeof err);
    CHECKF (rc == WP_OK, "%s: header: %s", v->name, err);
    if (rc == WP_OK) {
        CHECKF ((reply.status != WP_OK) == error, "%s: status %s", v->name, wp_strerror (reply.status));
        CHECKF (error == (reply.message [0] != 0), "%s: message '%s'", v->name, reply.message);
        if (error)
            CHECKF (strstr (v->name, wp_strerror (reply.status)) != NULL, "%s: status %s",
                    v->name, wp_strerror (reply.status));
        rc = wp_reply_decode_body (&reply, m, v->body, v->body_size, err, sizeof err);
        CHECKF (rc == WP_OK, "%s: body: %s", v->name, err);
    }
    if (rc == WP_OK && !error) {
        wp_reply_t expected;
        pt_reply (m, !s_ends_with (v->name, ".minimal.hex"), &expected);
        CHECKF (pt_reply_equal (m, &expected, &reply, err, sizeof err), "%s: %s", v->name, err);
        wp_reply_clear (&expected);
    }
    if (rc == WP_OK) {
        if (error)
            CHECKF (v->body_size == 1 && v->body [0] == 0x80, "%s: error body is not {}", v->name);
        uint8_t *h, *b;
        size_t hn, bn;
        CHECK (wp_reply_encode (&reply, m, &h, &hn, &b, &bn) == 0);
        CHECKF (hn == v->header_size && memcmp (h, v->header, hn) == 0, "%s: header re-encodes differently", v->name);
        CHECKF (bn == v->body_size && memcmp (b, v->body, bn) == 0, "%s: body re-encodes differently", v->name);
        free (h);
        free (b);
    }
    wp_reply_clear (&reply);
}

static void
s_malformed (const pt_vector_t *v)
{
    CHECKF (v->stage && v->message && v->replyable >= 0, "%s: incomplete", v->name);
    if (!v->stage || !v->message)
        return;
    int expected = wp_status_from_name (v->expect);
    CHECKF (expected > 0, "%s: expect '%s'", v->name, v->expect);
    wp_request_t req;
    wp_request_init (&req);
    bool replyable;
    char err [512] = "";
    const char *stage = "header";
    wp_status rc = wp_request_decode_header (&req, v->header, v->header_size, &replyable, err, sizeof err);
    if (rc == WP_OK) {
        stage = "body";
        rc = wp_request_decode_body (&req, v->body, v->body_size, err, sizeof err);
    }
    CHECKF ((int) rc == expected, "%s: got %s", v->name, wp_strerror (rc));
    CHECKF (strcmp (stage, v->stage) == 0, "%s: failed at the %s", v->name, stage);
    CHECKF (replyable == (v->replyable == 1), "%s: replyable %d", v->name, replyable);
    CHECKF (strcmp (err, v->message) == 0, "%s: message '%s'", v->name, err);
    if (replyable)
        CHECK (req.request_id > 0);
    wp_request_clear (&req);
}

//  Every proper prefix of a good frame is refused; of a malformed one, it
//  may be good (the byte after a good body), but nothing reads past it.
static void
s_truncations (const pt_vector_t *v)
{
    bool strict = v->expect == NULL;
    wp_method m = s_method (v);
    bool request = strcmp (v->kind, "request") == 0;
    for (int frame = 0; frame < 2; frame++) {
        const uint8_t *data = frame ? v->body: v->header;
        size_t size = frame ? v->body_size: v->header_size;
        for (size_t len = 0; len < size; len++) {
            bool replyable = false;
            wp_status rc = pt_decode_prefix (m, request, frame == 0, data, len, &replyable);
            if (request && frame == 0)
                CHECK (!replyable || !strict);
            CHECKF (rc == WP_INVALID_ARGUMENT || !strict, "%s: %s cut to %zu bytes gave %s", v->name,
                    frame ? "body": "header", len, wp_strerror (rc));
        }
    }
}

int
main (void)
{
    const char *source = getenv ("WP_SOURCE_DIR");
    if (!source) {
        fprintf (stderr, "test_proto_vectors: WP_SOURCE_DIR is not set\n");
        return 1;
    }
    char dir [4096];
    snprintf (dir, sizeof dir, "%s/proto/vectors", source);
    pt_vector_t *vectors = NULL;
    int count = pt_vectors_load (dir, &vectors);
    CHECKF (count > 0, "no vectors in %s", dir);

    //  One request and one reply of every method at least
    for (wp_method m = WP_METHOD_PUSH; m < WP_METHOD_COUNT; m++) {
        bool request = false, reply = false;
        char want_request [128], want_reply [128];
        snprintf (want_request, sizeof want_request, "%s.request.hex", wp_method_name (m));
        snprintf (want_reply, sizeof want_reply, "%s.reply.hex", wp_method_name (m));
        for (int i = 0; i < count; i++) {
            request |= strcmp (vectors [i].name, want_request) == 0;
            reply |= strcmp (vectors [i].name, want_reply) == 0;
        }
        CHECKF (request && reply, "%s: missing a vector", wp_method_name (m));
    }
    int good = 0, errors = 0, malformed = 0;
    for (int i = 0; i < count; i++) {
        pt_vector_t *v = &vectors [i];
        CHECKF (v->kind && v->method && v->header && v->body, "%s: incomplete", v->name);
        if (!v->kind || !v->method || !v->header || !v->body)
            continue;
        if (v->expect) {
            s_malformed (v);
            malformed++;
        }
        else
        if (strcmp (v->kind, "request") == 0) {
            s_good_request (v);
            good++;
        }
        else {
            s_reply (v);
            if (strncmp (v->name, "error.", 6) == 0)
                errors++;
            else
                good++;
        }
        s_truncations (v);
    }
    CHECK (errors >= 3 && malformed >= 10);
    pt_vectors_free (vectors, count);
    if (pt_failures) {
        fprintf (stderr, "test_proto_vectors: %d checks failed\n", pt_failures);
        return 1;
    }
    printf ("test_proto_vectors: %d good, %d error and %d malformed vectors pass\n",
            good, errors, malformed);
    return 0;
}
