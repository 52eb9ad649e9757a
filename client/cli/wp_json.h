/*  wp_json: the command line's conversions between JSON (jansson) and the
    msgpack values and records of workpool.

    JSON -> msgpack: objects become maps (key order kept), arrays arrays,
    strings str, integers the smallest int encoding, reals float64, true,
    false and null themselves. Two object shapes are reserved so that what
    `workpool get` prints can be pushed back unchanged:
        {"$bin": "BASE64"}               a msgpack bin
        {"$ext": TYPE, "$bin": "BASE64"} a msgpack ext of TYPE (-128..127)
    Nesting is limited to WP_MP_DEPTH_MAX (32) containers, the depth msgpack-c
    can decode again.

    msgpack -> JSON: the inverse, plus: bin and ext print in the shapes above
    (standard base64 with padding); a str that is not valid UTF-8 prints as
    {"$bin"}; a uint above INT64_MAX as a real (rounded); NaN and infinities
    as the strings "NaN", "Infinity", "-Infinity"; a map key that is not a
    string as its compact JSON text (1 -> "1", true -> "true"; of keys equal
    after that, the last wins). Bytes that are not exactly one msgpack value
    (data pushed by another client, or nested deeper than msgpack-c decodes)
    print as {"$raw": "BASE64"}.

    Records print as JSON objects with every field of the wire's Item and
    Worker, in the wire's order; times as RFC 3339 strings; unset as null.
    Every json_t returned is a new reference the caller owns (json_decref).
    Out of memory aborts.  */
#ifndef WP_JSON_H_INCLUDED
#define WP_JSON_H_INCLUDED

#include <jansson.h>
#include "wp_records.h"

#ifdef __cplusplus
extern "C" {
#endif

//  Parses the len bytes of text as one JSON value of any type (NUL in
//  strings allowed, duplicate object keys refused). Returns the value, or
//  NULL with "line L column C: why" in errbuf.
json_t *wp_json_parse (const char *text, size_t len, char *errbuf, size_t errlen);

//  Encodes json as one msgpack value into a fresh buffer (caller owns
//  *buf_p, to free with free()). Returns 0, or -1 with a message in errbuf
//  (too deep, a malformed $bin/$ext object); nothing is allocated then.
int wp_json_to_msgpack (const json_t *json, uint8_t **buf_p, size_t *size_p,
                        char *errbuf, size_t errlen);

//  Decodes buf, which must hold exactly one msgpack value, into JSON.
//  Returns NULL if it does not.
json_t *wp_json_from_msgpack (const uint8_t *buf, size_t size);

//  As wp_json_from_msgpack, but never fails: NULL buf gives null, bytes that
//  are not one msgpack value give {"$raw": "BASE64"}.
json_t *wp_json_from_data (const uint8_t *buf, size_t size);

//  Adds every member of the JSON object json to meta, each value encoded as
//  msgpack. Returns 0, or -1 with a message in errbuf (json is not an
//  object, a value cannot be encoded); meta may then hold some members.
int wp_json_to_meta (const json_t *json, wp_meta_t *meta, char *errbuf, size_t errlen);

//  t as an RFC 3339 string, or null when t is 0 (unset).
json_t *wp_json_from_time (int64_t t);

//  The item as an object of its 15 fields.
json_t *wp_json_from_item (const wp_item_t *item);

//  The schedule as an object of its 9 fields (max_retries null: the default).
json_t *wp_json_from_schedule (const wp_schedule_t *schedule);

//  The worker as an object of its 11 fields; metadata values decoded.
json_t *wp_json_from_worker (const wp_worker_t *worker);

//  One pool's counts as {pool, pending, claimed, done, poisoned, paused,
//  scheduled, backoff_base_seconds, backoff_cap_seconds, backoff_jitter}.
json_t *wp_json_from_pool_stats (const wp_pool_stats_t *pool);

//  Statistics as {"pools": [wp_json_from_pool_stats of each], "workers":
//  {status: count}, "counters": {name: value}}.
json_t *wp_json_from_stats (const wp_stats_t *stats);

#ifdef __cplusplus
}
#endif
#endif
