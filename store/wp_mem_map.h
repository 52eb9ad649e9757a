/*  wp_mem_map: a map from strings to pointers for the memory store. Open
    addressing, linear probing, deletion by backward shift (no tombstones),
    resized to keep the load between 1/8 and 7/10. Keys are not stored:
    each value holds its own, which the map reads through a function (so a
    slot is a hash and a pointer, 16 bytes: at millions of items the third
    pointer cost some 10 to 20 bytes an item). (czmq's zhashx also grows whenever one chain gets long, which at
    millions of keys cost kilobytes of table per key.) Internal to store/.  */
#ifndef WP_MEM_MAP_H_INCLUDED
#define WP_MEM_MAP_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

//  The key a value holds
typedef const char *(wp_mem_key_of_fn) (const void *value);

typedef struct {
    uint64_t hash;
    void *value;                //  NULL: a free slot
} wp_mem_slot_t;

//  A value type: zero-initialised is an empty map that takes lookups and
//  deletes; wp_mem_map_init it before the first insert
typedef struct {
    wp_mem_slot_t *slots;
    size_t capacity;            //  a power of two, or 0
    size_t count;               //  entries held
    wp_mem_key_of_fn *key_of;   //  a value's key
} wp_mem_map_t;

//  Empties map and sets how it reads a value's key.
void wp_mem_map_init (wp_mem_map_t *map, wp_mem_key_of_fn *key_of);

//  The value under key, or NULL.
void *wp_mem_map_lookup (const wp_mem_map_t *map, const char *key);

//  Adds value under key, which must be its key (key_of (value)) and not in
//  the map (asserted); value is not NULL.
void wp_mem_map_insert (wp_mem_map_t *map, const char *key, void *value);

//  Removes key, if present. Not while walking the map with wp_mem_map_next.
void wp_mem_map_delete (wp_mem_map_t *map, const char *key);

//  Walks the values: start with *cursor = 0; NULL at the end.
void *wp_mem_map_next (const wp_mem_map_t *map, size_t *cursor);

//  Frees the table (not the values) and empties the map (key_of stays).
void wp_mem_map_release (wp_mem_map_t *map);

#endif
