/*  wp_msgpack: the small msgpack helpers the proto layer shares (records
    and codec): a bounded check run before msgpack-c unpacks untrusted
    bytes, UTF-8 validation, duplicate-key detection, and a packer whose
    buffer aborts on out of memory.

    Why the check: msgpack-c allocates an array's or map's element table
    from the count in its header before reading any element, so five bytes
    claiming 2^32 elements would ask for 96 GiB. wp_mp_unpack first walks
    the bytes without allocating and refuses any container whose count
    cannot fit in the bytes that remain, so what msgpack-c then allocates
    is bounded by about 24 times the input size.  */
#ifndef WP_MSGPACK_H_INCLUDED
#define WP_MSGPACK_H_INCLUDED

#include <msgpack.h>
#include "wp_limits.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Containers nest at most this deep (the protocol's bound, wp_limits.h).
#define WP_MP_DEPTH_MAX WP_NESTING_MAX

//  Unpacks data, which must hold exactly one msgpack value (no trailing
//  byte), nested at most WP_MP_DEPTH_MAX deep, into *result (initialized by
//  the caller with msgpack_unpacked_init; strings and bins in it point into
//  data, which must outlive it). Returns 0, or -1 with a message in errbuf.
int wp_mp_unpack (msgpack_unpacked *result, const uint8_t *data, size_t size,
                  char *errbuf, size_t errlen);

//  Returns the size of the single msgpack value at the start of data, or 0
//  if data does not start with a complete, bounded value. Never allocates.
size_t wp_mp_value_size (const uint8_t *data, size_t size);

//  True if the len bytes at text are valid UTF-8 (no overlong forms,
//  surrogates or code points above U+10FFFF).
bool wp_mp_utf8_valid (const char *text, size_t len);

//  Returns a key that appears twice in the map, or NULL if none does.
//  Only string keys are compared: callers reject other keys first.
const msgpack_object *wp_mp_map_duplicate (const msgpack_object_map *map);

//  A packer writing into a growable buffer that aborts on out of memory.
typedef struct {
    msgpack_sbuffer buffer;
    msgpack_packer pk;
} wp_mp_writer_t;

void wp_mp_writer_init (wp_mp_writer_t *self);
//  Hands the bytes written to the caller (free() them) and resets self.
//  An empty writer yields a NULL buffer of size 0.
void wp_mp_writer_take (wp_mp_writer_t *self, uint8_t **data_p, size_t *size_p);
void wp_mp_writer_clear (wp_mp_writer_t *self);

//  Packs a C string as msgpack str, and NULL as nil.
void wp_mp_pack_cstr (msgpack_packer *pk, const char *text);
//  Packs len bytes as msgpack bin (NULL as nil).
void wp_mp_pack_bin (msgpack_packer *pk, const uint8_t *data, size_t len);
//  Appends raw bytes (an already encoded msgpack value).
void wp_mp_pack_raw (msgpack_packer *pk, const uint8_t *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif
