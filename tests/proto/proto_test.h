/*  proto_test: the check macros and fixtures shared by the proto tests,
    the golden-vector generator and the fuzz target.

    The fixtures build, for every method, a request and an OK reply with
    every optional field set (full) or only the required ones, from fixed
    values, so the vectors are reproducible. Everything they build is heap
    owned: wp_request_clear / wp_reply_clear free it.  */
#ifndef PROTO_TEST_H_INCLUDED
#define PROTO_TEST_H_INCLUDED

#include "wp_proto.h"
#include <stdio.h>
#include <stdlib.h>

extern int pt_failures;

//  Counts and reports a failed check, and goes on (so one run shows all).
#define CHECK(cond) do { \
    if (!(cond)) { \
        fprintf (stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        pt_failures++; \
    } \
} while (0)

#define CHECKF(cond, ...) do { \
    if (!(cond)) { \
        fprintf (stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
        fprintf (stderr, __VA_ARGS__); \
        fputc ('\n', stderr); \
        pt_failures++; \
    } \
} while (0)

//  The fixed time of the fixtures: 2026-11-26T05:39:00.123456Z
#define PT_TIME INT64_C (1795671540123456)

//  Builds the request of method (full: every optional field set).
void pt_request (wp_method method, bool full, wp_request_t *req);
//  Builds the OK reply to method (full: every optional field and record
//  field set, lists non-empty; else nils and empty lists).
void pt_reply (wp_method method, bool full, wp_reply_t *reply);

//  Encodes the fixture request (request) or OK reply of method, as built by
//  pt_request / pt_reply. Returns 0, or -1 if it does not encode. Caller owns
//  *header and *body.
int pt_encode (wp_method method, bool full, bool request,
               uint8_t **header, size_t *header_size, uint8_t **body, size_t *body_size);

//  Decodes the first len bytes of frame, from a copy of exactly that size
//  (so ASan sees overreads), as the header or body of a request or reply of
//  method m. Sets *replyable for a request header.
wp_status pt_decode_prefix (wp_method m, bool request, bool header, const uint8_t *frame,
                            size_t len, bool *replyable);

//  Compare what the codec carries; on a difference write it into why.
bool pt_request_equal (const wp_request_t *a, const wp_request_t *b, char *why, size_t len);
bool pt_reply_equal (wp_method method, const wp_reply_t *a, const wp_reply_t *b,
                     char *why, size_t len);

//  Encodes, decodes and re-encodes; checks the decoded struct equals the
//  original and the bytes are identical. Returns false (with a report) if not.
bool pt_request_round_trip (const wp_request_t *req);
bool pt_reply_round_trip (wp_method method, const wp_reply_t *reply);

//  A vector file of proto/vectors: fields as in its lines.
typedef struct {
    char *name;             //  file name without the directory
    char *kind;             //  "request" or "reply"
    char *method;           //  method name as in the header
    uint8_t *header;
    size_t header_size;
    uint8_t *body;
    size_t body_size;
    char *expect;           //  malformed requests: the status name decoding gives
    char *stage;            //  malformed requests: "header" or "body"
    int replyable;          //  malformed requests: 1, 0, or -1 when not given
    char *message;          //  malformed requests: the message our decoder writes
} pt_vector_t;

//  Reads every *.hex file of dir, sorted by name. Returns the count (-1 if
//  the directory cannot be read); *vectors_p is the caller's.
int pt_vectors_load (const char *dir, pt_vector_t **vectors_p);
void pt_vectors_free (pt_vector_t *vectors, int count);

#endif
