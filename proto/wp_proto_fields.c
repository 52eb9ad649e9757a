/*  wp_proto_fields: type- and bounds-checked readers of msgpack fields, and
    the writers the codecs share (see wp_proto_fields.h).  */
#include "wp_proto_fields.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
wp_pf_fail (wp_pf_t *e, const char *format, ...)
{
    if (e->errbuf && e->errlen) {
        va_list args;
        va_start (args, format);
        vsnprintf (e->errbuf, e->errlen, format, args);
        va_end (args);
    }
    return -1;
}

int
wp_pf_nested (wp_pf_t *e, const char *what, int rc)
{
    //  Every reader's message begins "field 'NAME"
    static const char lead [] = "field '";
    if (rc && e->errbuf && e->errlen && strncmp (e->errbuf, lead, sizeof lead - 1) == 0) {
        char *rest = wp_pf_strndup (e->errbuf + sizeof lead - 1, strlen (e->errbuf) - (sizeof lead - 1));
        snprintf (e->errbuf, e->errlen, "%s%s.%s", lead, what, rest);
        free (rest);
    }
    return rc;
}

void *
wp_pf_alloc (size_t size)
{
    void *p = calloc (1, size ? size: 1);
    if (!p) {
        fprintf (stderr, "wp_proto: out of memory\n");
        abort ();
    }
    return p;
}

char *
wp_pf_strndup (const char *text, size_t len)
{
    char *copy = wp_pf_alloc (len + 1);
    memcpy (copy, text, len);
    return copy;
}

bool
wp_pf_text_ok (const msgpack_object *o, size_t min, size_t max)
{
    return o->type == MSGPACK_OBJECT_STR
        && o->via.str.size >= min && o->via.str.size <= max
        && !memchr (o->via.str.ptr, 0, o->via.str.size)
        && wp_mp_utf8_valid (o->via.str.ptr, o->via.str.size);
}

//  A key for messages: printable, at most 64 bytes (a hostile key may be
//  anything; the message must stay readable and valid UTF-8).
static void
s_key_for_message (const msgpack_object *key, char *buf, size_t size)
{
    size_t len = key->via.str.size < size - 1 ? key->via.str.size: size - 1;
    if (len > 64)
        len = 64;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) key->via.str.ptr [i];
        buf [i] = c >= 0x20 && c < 0x7f ? (char) c: '?';
    }
    buf [len] = 0;
}

int
wp_pf_map (wp_pf_t *e, const msgpack_object *obj, const char *what, bool nil_ok,
           const char *const *names, size_t count, const msgpack_object **out)
{
    for (size_t i = 0; i < count; i++)
        out [i] = NULL;
    if (obj->type == MSGPACK_OBJECT_NIL && nil_ok)
        return 0;
    if (obj->type != MSGPACK_OBJECT_MAP)
        return wp_pf_fail (e, "%s must be a map", what);
    const msgpack_object_map *map = &obj->via.map;
    for (uint32_t i = 0; i < map->size; i++)
        if (map->ptr [i].key.type != MSGPACK_OBJECT_STR)
            return wp_pf_fail (e, "%s has a key that is not a string", what);
    const msgpack_object *duplicate = wp_mp_map_duplicate (map);
    if (duplicate) {
        char key [65];
        s_key_for_message (duplicate, key, sizeof key);
        return wp_pf_fail (e, "%s has the key '%s' twice", what, key);
    }
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object_str *key = &map->ptr [i].key.via.str;
        for (size_t k = 0; k < count; k++)
            if (strlen (names [k]) == key->size && memcmp (names [k], key->ptr, key->size) == 0) {
                if (map->ptr [i].val.type != MSGPACK_OBJECT_NIL)
                    out [k] = &map->ptr [i].val;
                break;
            }
    }
    return 0;
}

//  The common start of every reader: absent is fine unless required.
#define S_PRESENCE(o, field, required) \
    if (!(o)) \
        return (required) ? wp_pf_fail (e, "field '%s' is required", (field)): 0

//  A string of min..max bytes of UTF-8 without NUL (name, text, cursor).
static int
s_string (wp_pf_t *e, const msgpack_object *o, const char *field, bool required,
          size_t min, size_t max, char **out)
{
    S_PRESENCE (o, field, required);
    if (!wp_pf_text_ok (o, min, max)) {
        if (min > 0)
            return wp_pf_fail (e, "field '%s' must be a string of %zu to %zu bytes of UTF-8"
                               " without NUL", field, min, max);
        return wp_pf_fail (e, "field '%s' must be a string of at most %zu bytes of UTF-8"
                           " without NUL", field, max);
    }
    *out = wp_pf_strndup (o->via.str.ptr, o->via.str.size);
    return 0;
}

int
wp_pf_name (wp_pf_t *e, const msgpack_object *o, const char *field, bool required, char **out)
{
    return s_string (e, o, field, required, 1, WP_NAME_MAX, out);
}

int
wp_pf_text (wp_pf_t *e, const msgpack_object *o, const char *field, bool required,
            size_t max, char **out)
{
    return s_string (e, o, field, required, 0, max, out);
}

int
wp_pf_cursor (wp_pf_t *e, const msgpack_object *o, const char *field, bool required,
              char **out)
{
    return s_string (e, o, field, required, 1, WP_CURSOR_MAX, out);
}

int
wp_pf_bin (wp_pf_t *e, const msgpack_object *o, const char *field, bool required,
           bool nonempty, uint8_t **out, size_t *size)
{
    S_PRESENCE (o, field, required);
    if (o->type != MSGPACK_OBJECT_BIN)
        return wp_pf_fail (e, "field '%s' must be binary (msgpack bin)", field);
    if (nonempty && o->via.bin.size == 0)
        return wp_pf_fail (e, "field '%s' must not be empty", field);
    *out = wp_pf_alloc (o->via.bin.size);
    memcpy (*out, o->via.bin.ptr, o->via.bin.size);
    *size = o->via.bin.size;
    return 0;
}

int
wp_pf_uint (wp_pf_t *e, const msgpack_object *o, const char *field, bool required,
            uint64_t min, uint64_t max, uint64_t *out)
{
    S_PRESENCE (o, field, required);
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER
    ||  o->via.u64 < min || o->via.u64 > max)
        return wp_pf_fail (e, "field '%s' must be an unsigned integer from %llu to %llu",
                           field, (unsigned long long) min, (unsigned long long) max);
    *out = o->via.u64;
    return 0;
}

int
wp_pf_int (wp_pf_t *e, const msgpack_object *o, const char *field, bool required,
           int64_t min, int64_t max, int64_t *out)
{
    S_PRESENCE (o, field, required);
    bool ok;
    int64_t value = 0;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        ok = o->via.u64 <= (uint64_t) INT64_MAX;
        value = ok ? (int64_t) o->via.u64: 0;
    }
    else
        ok = o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        value = o->via.i64;
    if (!ok || value < min || value > max)
        return wp_pf_fail (e, "field '%s' must be an integer from %lld to %lld",
                           field, (long long) min, (long long) max);
    *out = value;
    return 0;
}

int
wp_pf_number (wp_pf_t *e, const msgpack_object *o, const char *field, bool required,
              double min, bool min_open, double max, double *out)
{
    S_PRESENCE (o, field, required);
    double value;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        value = (double) o->via.u64;
    else
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        value = (double) o->via.i64;
    else
    if (o->type == MSGPACK_OBJECT_FLOAT32 || o->type == MSGPACK_OBJECT_FLOAT64)
        value = o->via.f64;
    else
        return wp_pf_fail (e, "field '%s' must be a number", field);
    if (!isfinite (value) || (min_open ? value <= min: value < min) || value > max) {
        if (isinf (max))
            return wp_pf_fail (e, "field '%s' must be a finite number %s %g",
                               field, min_open ? "greater than": "of at least", min);
        return wp_pf_fail (e, "field '%s' must be a finite number %s %g and at most %g",
                           field, min_open ? "greater than": "of at least", min, max);
    }
    *out = value;
    return 0;
}

int
wp_pf_time (wp_pf_t *e, const msgpack_object *o, const char *field, bool required,
            int64_t *out)
{
    S_PRESENCE (o, field, required);
    if (o->type != MSGPACK_OBJECT_STR
    ||  wp_time_parse (o->via.str.ptr, o->via.str.size, out))
        return wp_pf_fail (e, "field '%s' must be an RFC 3339 time"
                           " (\"2026-11-26T05:39:00.123456Z\")", field);
    return 0;
}

int
wp_pf_bool (wp_pf_t *e, const msgpack_object *o, const char *field, bool required, bool *out)
{
    S_PRESENCE (o, field, required);
    if (o->type != MSGPACK_OBJECT_BOOLEAN)
        return wp_pf_fail (e, "field '%s' must be a boolean", field);
    *out = o->via.boolean;
    return 0;
}

int
wp_pf_array (wp_pf_t *e, const msgpack_object *o, const char *field, bool required,
             size_t min, size_t max, const msgpack_object_array **out)
{
    S_PRESENCE (o, field, required);
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < min || o->via.array.size > max)
        return wp_pf_fail (e, "field '%s' must be an array of %zu to %zu elements",
                           field, min, max);
    *out = &o->via.array;
    return 0;
}

int
wp_pf_names (wp_pf_t *e, const msgpack_object *o, const char *field, size_t max,
             char ***names_p, size_t *count_p)
{
    const msgpack_object_array *array = NULL;
    if (wp_pf_array (e, o, field, false, 0, max, &array))
        return -1;
    if (!array)
        return 0;
    char **names = realloc (*names_p, (*count_p + array->size + 1) * sizeof *names);
    if (!names)
        abort ();
    *names_p = names;
    for (uint32_t i = 0; i < array->size; i++) {
        char element [300];
        snprintf (element, sizeof element, "%s[%u]", field, i);
        char *name = NULL;
        if (wp_pf_name (e, &array->ptr [i], element, true, &name))
            return -1;
        names [(*count_p)++] = name;
    }
    return 0;
}

int
wp_pf_meta (wp_pf_t *e, const msgpack_object *o, const char *field, size_t max, wp_meta_t *out)
{
    if (!o)
        return 0;
    char what [300];
    snprintf (what, sizeof what, "field '%s'", field);
    if (wp_pf_map (e, o, what, false, NULL, 0, NULL))
        return -1;
    const msgpack_object_map *map = &o->via.map;
    if (map->size > max)
        return wp_pf_fail (e, "field '%s' must have at most %zu entries", field, max);
    for (uint32_t i = 0; i < map->size; i++)
        if (!wp_pf_text_ok (&map->ptr [i].key, 0, WP_META_KEY_MAX))
            return wp_pf_fail (e, "field '%s' has a key that is not a string of at most %d"
                               " bytes of UTF-8 without NUL", field, WP_META_KEY_MAX);
    out->entries = wp_pf_alloc (map->size * sizeof *out->entries);
    for (uint32_t i = 0; i < map->size; i++) {
        wp_meta_entry_t *entry = &out->entries [out->count++];
        entry->key = wp_pf_strndup (map->ptr [i].key.via.str.ptr, map->ptr [i].key.via.str.size);
        wp_mp_writer_t writer;
        wp_mp_writer_init (&writer);
        msgpack_pack_object (&writer.pk, map->ptr [i].val);
        wp_mp_writer_take (&writer, &entry->value, &entry->value_size);
    }
    return 0;
}

void
wp_pf_pack_time (msgpack_packer *pk, int64_t t)
{
    char text [WP_TIME_BUFSIZE];
    wp_mp_pack_cstr (pk, wp_time_format (t, text));
}

void
wp_pf_pack_meta (msgpack_packer *pk, const wp_meta_t *meta)
{
    msgpack_pack_map (pk, meta->count);
    for (size_t i = 0; i < meta->count; i++) {
        wp_mp_pack_cstr (pk, meta->entries [i].key);
        if (meta->entries [i].value_size)
            wp_mp_pack_raw (pk, meta->entries [i].value, meta->entries [i].value_size);
        else
            msgpack_pack_nil (pk);
    }
}
