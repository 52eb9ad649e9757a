/*  wp_msgpack: bounded pre-check of untrusted msgpack, UTF-8 validation,
    duplicate keys, and an abort-on-OOM packer (see wp_msgpack.h).  */
#include "wp_msgpack.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Big-endian unsigned integer of n bytes at p.
static uint64_t
s_be (const uint8_t *p, size_t n)
{
    uint64_t value = 0;
    for (size_t i = 0; i < n; i++)
        value = (value << 8) | p [i];
    return value;
}

//  Walks one value starting at *pos. Returns 0 and advances *pos past it,
//  or -1 if the bytes end early, a byte is not a msgpack type, a container
//  nests deeper than WP_MP_DEPTH_MAX, or a count cannot fit in what remains.
//  Recursion is bounded by the depth limit; the loop by the bytes, since
//  every element takes at least one.
//  Why a walk stopped, for the message
typedef enum { S_ENDS_EARLY = 1, S_BAD_BYTE, S_TOO_DEEP, S_COUNT_TOO_BIG } s_fault;

static int
s_walk (const uint8_t *data, size_t size, size_t *pos, int depth, s_fault *fault)
{
    if (*pos >= size) {
        *fault = S_ENDS_EARLY;
        return -1;
    }
    size_t start = *pos;        //  where the value begins, for messages
    uint8_t type = data [(*pos)++];
    size_t remaining = size - *pos;
    uint64_t skip = 0;              //  bytes of payload after the header
    uint64_t elements = 0;          //  values inside a container
    bool container = false;

    if (type <= 0x7f || type >= 0xe0 || type == 0xc0 || type == 0xc2 || type == 0xc3)
        return 0;
    if (type >= 0x80 && type <= 0x8f) {
        container = true;
        elements = 2 * (uint64_t) (type & 0x0f);
    }
    else
    if (type >= 0x90 && type <= 0x9f) {
        container = true;
        elements = type & 0x0f;
    }
    else
    if (type >= 0xa0 && type <= 0xbf)
        skip = type & 0x1f;
    else {
        //  Fixed-size headers: how many length bytes follow, and what they mean
        size_t len_bytes = 0;
        switch (type) {
            case 0xc4: case 0xd9: len_bytes = 1; break;         //  bin8, str8
            case 0xc5: case 0xda: len_bytes = 2; break;         //  bin16, str16
            case 0xc6: case 0xdb: len_bytes = 4; break;         //  bin32, str32
            case 0xc7: len_bytes = 1; break;                    //  ext8
            case 0xc8: len_bytes = 2; break;                    //  ext16
            case 0xc9: len_bytes = 4; break;                    //  ext32
            case 0xca: case 0xce: case 0xd2: skip = 4; break;
            case 0xcb: case 0xcf: case 0xd3: skip = 8; break;
            case 0xcc: case 0xd0: skip = 1; break;
            case 0xcd: case 0xd1: skip = 2; break;
            case 0xd4: skip = 2; break;                         //  fixext 1..16
            case 0xd5: skip = 3; break;
            case 0xd6: skip = 5; break;
            case 0xd7: skip = 9; break;
            case 0xd8: skip = 17; break;
            case 0xdc: case 0xde: len_bytes = 2; container = true; break;
            case 0xdd: case 0xdf: len_bytes = 4; container = true; break;
            default:                                            //  0xc1
                *pos = start;
                *fault = S_BAD_BYTE;
                return -1;
        }
        if (len_bytes) {
            if (remaining < len_bytes) {
                *fault = S_ENDS_EARLY;
                return -1;
            }
            uint64_t n = s_be (data + *pos, len_bytes);
            *pos += len_bytes;
            remaining -= len_bytes;
            if (container)
                elements = (type == 0xde || type == 0xdf) ? 2 * n: n;
            else
            if (type >= 0xc7 && type <= 0xc9)
                skip = n + 1;                                   //  ext type byte
            else
                skip = n;
        }
    }
    if (!container) {
        if (skip > remaining) {
            *fault = S_ENDS_EARLY;
            return -1;
        }
        *pos += skip;
        return 0;
    }
    if (depth >= WP_MP_DEPTH_MAX) {
        *pos = start;
        *fault = S_TOO_DEEP;
        return -1;
    }
    if (elements > remaining) {
        *pos = start;
        *fault = S_COUNT_TOO_BIG;
        return -1;
    }
    for (uint64_t i = 0; i < elements; i++)
        if (s_walk (data, size, pos, depth + 1, fault))
            return -1;
    return 0;
}

size_t
wp_mp_value_size (const uint8_t *data, size_t size)
{
    size_t pos = 0;
    s_fault fault;
    if (!data || s_walk (data, size, &pos, 0, &fault))
        return 0;
    return pos;
}

#define S_ZONE_CHUNK 512

int
wp_mp_unpack (msgpack_unpacked *result, const uint8_t *data, size_t size,
              char *errbuf, size_t errlen)
{
    if (!data || size == 0) {
        snprintf (errbuf, errlen, "empty frame");
        return -1;
    }
    size_t pos = 0;
    s_fault fault = 0;
    if (s_walk (data, size, &pos, 0, &fault)) {
        if (fault == S_ENDS_EARLY)
            snprintf (errbuf, errlen, "not a complete msgpack value (the %zu bytes end inside it)",
                      size);
        else
        if (fault == S_BAD_BYTE)
            snprintf (errbuf, errlen, "not msgpack (byte 0x%02x at offset %zu)", data [pos], pos);
        else
        if (fault == S_TOO_DEEP)
            snprintf (errbuf, errlen, "msgpack nested deeper than %d (at offset %zu)",
                      WP_MP_DEPTH_MAX, pos);
        else
            snprintf (errbuf, errlen, "msgpack container at offset %zu claims more elements"
                      " than the %zu bytes of the frame can hold", pos, size);
        return -1;
    }
    if (pos != size) {
        snprintf (errbuf, errlen, "%zu byte%s after the msgpack value", size - pos,
                  size - pos == 1 ? "": "s");
        return -1;
    }
    //  msgpack_unpack_next would make a zone of 8 KiB chunks for every
    //  message (a large-bin malloc and its free, with fast-bin
    //  consolidation, twice a reply); most messages need far less, and the
    //  zone grows as it must
    msgpack_unpacked_destroy (result);
    msgpack_zone *zone = msgpack_zone_new (S_ZONE_CHUNK);
    if (!zone) {
        fprintf (stderr, "wp_msgpack: out of memory\n");
        abort ();
    }
    size_t offset = 0;
    msgpack_unpack_return rc = msgpack_unpack ((const char *) data, size, &offset, zone,
                                               &result->data);
    result->zone = zone;
    if (rc == MSGPACK_UNPACK_NOMEM_ERROR) {
        fprintf (stderr, "wp_msgpack: out of memory\n");
        abort ();
    }
    if (rc != MSGPACK_UNPACK_SUCCESS || offset != size) {
        //  The walk above accepts only what msgpack-c accepts; kept as a guard
        snprintf (errbuf, errlen, "malformed msgpack");
        return -1;
    }
    return 0;
}

bool
wp_mp_utf8_valid (const char *text, size_t len)
{
    const uint8_t *p = (const uint8_t *) text;
    size_t i = 0;
    while (i < len) {
        uint8_t c = p [i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t extra;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) {
            extra = 1;
            cp = c & 0x1f;
        }
        else
        if (c >= 0xe0 && c <= 0xef) {
            extra = 2;
            cp = c & 0x0f;
        }
        else
        if (c >= 0xf0 && c <= 0xf4) {
            extra = 3;
            cp = c & 0x07;
        }
        else
            return false;           //  continuation byte, 0xc0/0xc1, 0xf5..
        if (len - i - 1 < extra)
            return false;
        for (size_t k = 1; k <= extra; k++) {
            if ((p [i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p [i + k] & 0x3f);
        }
        if ((extra == 2 && cp < 0x800)
        ||  (extra == 3 && (cp < 0x10000 || cp > 0x10ffff))
        ||  (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += extra + 1;
    }
    return true;
}

//  Maps of at most this many keys are checked for duplicates pairwise
#define S_PAIRWISE_MAX 16

//  Orders two entries by key: type, then bytes, then length
static int
s_compare_kv_at (const msgpack_object_kv *a, const msgpack_object_kv *b)
{
    const msgpack_object *ka = &a->key, *kb = &b->key;
    if (ka->type != kb->type)
        return ka->type < kb->type ? -1: 1;
    if (ka->type != MSGPACK_OBJECT_STR)
        return 0;           //  callers reject non-string keys first
    uint32_t na = ka->via.str.size, nb = kb->via.str.size;
    int rc = memcmp (ka->via.str.ptr, kb->via.str.ptr, na < nb ? na: nb);
    if (rc)
        return rc;
    return na < nb ? -1: na > nb ? 1: 0;
}

//  s_compare_kv_at for qsort over pointers to entries
static int
s_compare_kv (const void *a, const void *b)
{
    return s_compare_kv_at (*(const msgpack_object_kv *const *) a,
                            *(const msgpack_object_kv *const *) b);
}

const msgpack_object *
wp_mp_map_duplicate (const msgpack_object_map *map)
{
    if (map->size < 2)
        return NULL;
    //  A record's few keys: compared pairwise, no allocation (the sort below
    //  cost 13,000 instructions per decoded item, with glibc's qsort
    //  allocating its merge buffer)
    if (map->size <= S_PAIRWISE_MAX) {
        for (uint32_t i = 1; i < map->size; i++)
            for (uint32_t j = 0; j < i; j++)
                if (map->ptr [i].key.type == MSGPACK_OBJECT_STR
                &&  map->ptr [j].key.type == MSGPACK_OBJECT_STR
                &&  s_compare_kv_at (&map->ptr [j], &map->ptr [i]) == 0)
                    return &map->ptr [i].key;
        return NULL;
    }
    //  Sort pointers, so a body of many keys costs n log n, not n^2
    const msgpack_object_kv **sorted = malloc (map->size * sizeof *sorted);
    if (!sorted)
        abort ();
    for (uint32_t i = 0; i < map->size; i++)
        sorted [i] = &map->ptr [i];
    qsort (sorted, map->size, sizeof *sorted, s_compare_kv);
    const msgpack_object *duplicate = NULL;
    for (uint32_t i = 1; i < map->size && !duplicate; i++)
        if (sorted [i]->key.type == MSGPACK_OBJECT_STR
        &&  s_compare_kv (&sorted [i - 1], &sorted [i]) == 0)
            duplicate = &sorted [i]->key;
    free (sorted);
    return duplicate;
}

//  The packer's write callback: msgpack_sbuffer_write fails only when
//  realloc does, and out of memory aborts.
#define S_WRITER_INIT 256

static int
s_write (void *data, const char *buf, size_t len)
{
    if (msgpack_sbuffer_write (data, buf, len)) {
        fprintf (stderr, "wp_msgpack: out of memory\n");
        abort ();
    }
    return 0;
}

void
wp_mp_writer_init (wp_mp_writer_t *self)
{
    msgpack_sbuffer_init (&self->buffer);
    //  Start small: msgpack's first write would take 8 KiB, a large-bin
    //  malloc that consolidates the fast bins every time (a tenth of a
    //  client's instructions per request, measured with callgrind); most
    //  messages are far smaller, and the buffer doubles as it must
    self->buffer.data = malloc (S_WRITER_INIT);
    if (!self->buffer.data) {
        fprintf (stderr, "wp_msgpack: out of memory\n");
        abort ();
    }
    self->buffer.alloc = S_WRITER_INIT;
    msgpack_packer_init (&self->pk, &self->buffer, s_write);
}

void
wp_mp_writer_take (wp_mp_writer_t *self, uint8_t **data_p, size_t *size_p)
{
    *size_p = self->buffer.size;
    *data_p = (uint8_t *) msgpack_sbuffer_release (&self->buffer);
}

void
wp_mp_writer_clear (wp_mp_writer_t *self)
{
    msgpack_sbuffer_destroy (&self->buffer);
    msgpack_sbuffer_init (&self->buffer);
}

void
wp_mp_pack_cstr (msgpack_packer *pk, const char *text)
{
    if (!text) {
        msgpack_pack_nil (pk);
        return;
    }
    size_t len = strlen (text);
    msgpack_pack_str (pk, len);
    msgpack_pack_str_body (pk, text, len);
}

void
wp_mp_pack_bin (msgpack_packer *pk, const uint8_t *data, size_t len)
{
    if (!data) {
        msgpack_pack_nil (pk);
        return;
    }
    msgpack_pack_bin (pk, len);
    msgpack_pack_bin_body (pk, data, len);
}

void
wp_mp_pack_raw (msgpack_packer *pk, const uint8_t *data, size_t len)
{
    if (len)
        pk->callback (pk->data, (const char *) data, len);
}
