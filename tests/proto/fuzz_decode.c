/*  fuzz_decode: libFuzzer target feeding arbitrary bytes to every decoder
    of the proto layer (build with -DWP_FUZZ=ON and clang).

    Input: byte 0 picks the method a body is decoded for, bytes 1..2 (little
    endian) the header frame's length; the header follows, the rest is the
    body. Each frame is copied into a buffer of its exact size, so a read
    past it is caught by ASan. Besides "no crash, no leak", whatever decodes
    must encode, and its encoding must decode and encode to the same bytes
    (the canonical form is a fixed point).  */
#include "wp_proto.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
s_fail (const char *what, wp_method m)
{
    fprintf (stderr, "fuzz_decode: %s (%s)\n", what, wp_method_name (m));
    abort ();
}

static void
s_request (const uint8_t *header, size_t hn, const uint8_t *body, size_t bn, wp_method m)
{
    char err [512];
    wp_request_t req;
    wp_request_init (&req);
    bool replyable;
    wp_status rc = wp_request_decode_header (&req, header, hn, &replyable, err, sizeof err);
    if (rc != WP_OK && rc != WP_INVALID_ARGUMENT && rc != WP_UNIMPLEMENTED)
        s_fail ("request header status", m);
    if (rc != WP_OK) {
        wp_request_clear (&req);
        req.method = m;
    }
    rc = wp_request_decode_body (&req, body, bn, err, sizeof err);
    if (rc == WP_OK) {
        uint8_t *h1, *b1, *h2, *b2;
        size_t h1n, b1n, h2n, b2n;
        if (wp_request_encode (&req, &h1, &h1n, &b1, &b1n))
            s_fail ("decoded request does not encode", req.method);
        wp_request_t again;
        wp_request_init (&again);
        if (wp_request_decode_header (&again, h1, h1n, &replyable, err, sizeof err) != WP_OK
        ||  wp_request_decode_body (&again, b1, b1n, err, sizeof err) != WP_OK)
            s_fail ("encoded request does not decode", req.method);
        if (wp_request_encode (&again, &h2, &h2n, &b2, &b2n))
            s_fail ("re-decoded request does not encode", req.method);
        if (h1n != h2n || b1n != b2n || memcmp (h1, h2, h1n) || memcmp (b1, b2, b1n))
            s_fail ("request encoding is not a fixed point", req.method);
        wp_request_clear (&again);
        free (h1);
        free (b1);
        free (h2);
        free (b2);
    }
    else
    if (rc != WP_INVALID_ARGUMENT)
        s_fail ("request body status", m);
    wp_request_clear (&req);
}

static void
s_reply (const uint8_t *header, size_t hn, const uint8_t *body, size_t bn, wp_method m)
{
    char err [512];
    wp_reply_t reply;
    wp_reply_init (&reply);
    if (wp_reply_decode_header (&reply, header, hn, err, sizeof err) != WP_OK)
        wp_reply_clear (&reply);        //  decode the body as an OK reply's
    if (wp_reply_decode_body (&reply, m, body, bn, err, sizeof err) == WP_OK) {
        uint8_t *h1, *b1, *h2, *b2;
        size_t h1n, b1n, h2n, b2n;
        if (wp_reply_encode (&reply, m, &h1, &h1n, &b1, &b1n))
            s_fail ("decoded reply does not encode", m);
        wp_reply_t again;
        wp_reply_init (&again);
        if (wp_reply_decode_header (&again, h1, h1n, err, sizeof err) != WP_OK
        ||  wp_reply_decode_body (&again, m, b1, b1n, err, sizeof err) != WP_OK)
            s_fail ("encoded reply does not decode", m);
        if (wp_reply_encode (&again, m, &h2, &h2n, &b2, &b2n))
            s_fail ("re-decoded reply does not encode", m);
        if (h1n != h2n || b1n != b2n || memcmp (h1, h2, h1n) || memcmp (b1, b2, b1n))
            s_fail ("reply encoding is not a fixed point", m);
        wp_reply_clear (&again);
        free (h1);
        free (b1);
        free (h2);
        free (b2);
    }
    wp_reply_clear (&reply);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    wp_method m = (wp_method) (1 + data [0] % (WP_METHOD_COUNT - 1));
    size_t hn = (size_t) data [1] | (size_t) data [2] << 8;
    if (hn > size - 3)
        hn = size - 3;
    size_t bn = size - 3 - hn;
    uint8_t *header = malloc (hn ? hn: 1);
    uint8_t *body = malloc (bn ? bn: 1);
    memcpy (header, data + 3, hn);
    memcpy (body, data + 3 + hn, bn);

    s_request (header, hn, body, bn, m);
    s_reply (header, hn, body, bn, m);
    wp_meta_t meta = { NULL, 0 };
    if (wp_meta_decode (&meta, body, bn) == 0) {
        uint8_t *encoded;
        size_t encoded_size;
        wp_meta_encode (&meta, &encoded, &encoded_size);
        free (encoded);
    }
    wp_meta_clear (&meta);
    int64_t t;
    if (wp_time_parse ((const char *) body, bn, &t) == 0) {
        char text [WP_TIME_BUFSIZE];
        int64_t back;
        wp_time_format (t, text);
        if (wp_time_parse (text, strlen (text), &back) || back != t)
            s_fail ("time does not round-trip", m);
    }
    free (header);
    free (body);
    return 0;
}
