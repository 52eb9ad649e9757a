/*  wp_proto_fields: the codec's internal field readers and writers, shared
    by the request and reply codecs (not part of the public API).

    Every reader takes the msgpack object of one field (NULL when the key
    was absent or its value nil), checks its type and bounds, and copies it
    out; on failure it writes a message naming the field into the context
    and returns -1; the message begins "field 'NAME" (wp_pf_nested relies
    on it). Copies are malloc'ed and owned by the caller; a reader
    overwrites *out without freeing it, so it must hold nothing.  */
#ifndef WP_PROTO_FIELDS_H_INCLUDED
#define WP_PROTO_FIELDS_H_INCLUDED

#include "wp_proto.h"
#include "wp_msgpack.h"

//  Where a decoder writes its message.
typedef struct {
    char *errbuf;
    size_t errlen;
} wp_pf_t;

//  Writes the message and returns -1.
int wp_pf_fail (wp_pf_t *e, const char *format, ...) __attribute__ ((format (printf, 2, 3)));

//  Names the field of a failed reader (rc -1) as a field of the record
//  what ("field 'id' ..." becomes "field 'items[1].id' ..."); returns rc.
//  Readers of a nested record get the bare field name, and the path is
//  written only when a message is: formatting it for every field of every
//  record cost more than decoding the record.
int wp_pf_nested (wp_pf_t *e, const char *what, int rc);

//  True if o is a str of min..max bytes of valid UTF-8 without NUL.
bool wp_pf_text_ok (const msgpack_object *o, size_t min, size_t max);

//  Reads a map (nil counts as empty when nil_ok): keys must be strings and
//  distinct; out [i] gets the value of key names [i], or NULL if absent or
//  nil. what names the map in messages ("body", "field 'item'").
int wp_pf_map (wp_pf_t *e, const msgpack_object *obj, const char *what, bool nil_ok,
               const char *const *names, size_t count, const msgpack_object **out);

//  Each reader: o NULL means absent; required fails then, else *out is left
//  untouched and 0 returned.
int wp_pf_name (wp_pf_t *e, const msgpack_object *o, const char *field, bool required,
                char **out);
int wp_pf_text (wp_pf_t *e, const msgpack_object *o, const char *field, bool required,
                size_t max, char **out);
//  A List cursor: a string of 1..WP_CURSOR_MAX bytes (as a name otherwise).
int wp_pf_cursor (wp_pf_t *e, const msgpack_object *o, const char *field, bool required,
                  char **out);
int wp_pf_bin (wp_pf_t *e, const msgpack_object *o, const char *field, bool required,
               bool nonempty, uint8_t **out, size_t *size);
int wp_pf_uint (wp_pf_t *e, const msgpack_object *o, const char *field, bool required,
                uint64_t min, uint64_t max, uint64_t *out);
int wp_pf_int (wp_pf_t *e, const msgpack_object *o, const char *field, bool required,
               int64_t min, int64_t max, int64_t *out);
//  A number: any int or float, finite, min <= x (min < x if min_open), x <= max.
int wp_pf_number (wp_pf_t *e, const msgpack_object *o, const char *field, bool required,
                  double min, bool min_open, double max, double *out);
int wp_pf_time (wp_pf_t *e, const msgpack_object *o, const char *field, bool required,
                int64_t *out);
int wp_pf_bool (wp_pf_t *e, const msgpack_object *o, const char *field, bool required,
                bool *out);
//  An array of min..max elements; *out points into the unpacked object.
int wp_pf_array (wp_pf_t *e, const msgpack_object *o, const char *field, bool required,
                 size_t min, size_t max, const msgpack_object_array **out);
//  An array of at most max names, appended to *names_p / *count_p.
int wp_pf_names (wp_pf_t *e, const msgpack_object *o, const char *field, size_t max,
                 char ***names_p, size_t *count_p);
//  A map of at most max entries, str (<= WP_META_KEY_MAX bytes) -> any value,
//  into out (which must be empty); values are re-encoded canonically.
int wp_pf_meta (wp_pf_t *e, const msgpack_object *o, const char *field, size_t max,
                wp_meta_t *out);

//  Writers
void wp_pf_pack_time (msgpack_packer *pk, int64_t t);
void wp_pf_pack_meta (msgpack_packer *pk, const wp_meta_t *meta);

//  Helpers that abort on out of memory.
void *wp_pf_alloc (size_t size);
char *wp_pf_strndup (const char *text, size_t len);

#endif
