/*  wp_mem_map: a map from strings to pointers for the memory store. Open
    addressing, linear probing, deletion by backward shift (no tombstones),
    resized to keep the load between 1/8 and 7/10. Keys are not copied:
    each value owns the string its key points at, which must outlive its
    entry. (czmq's zhashx also grows whenever one chain gets long, which at
    millions of keys cost kilobytes of table per key.) Internal to store/.  */
#ifndef WP_MEM_MAP_H_INCLUDED
#define WP_MEM_MAP_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t hash;
    const char *key;            //  NULL: a free slot
    void *value;
} wp_mem_slot_t;

//  A value type: zero-initialised is an empty map
typedef struct {
    wp_mem_slot_t *slots;
    size_t capacity;            //  a power of two, or 0
    size_t count;               //  entries held
} wp_mem_map_t;

//  The value under key, or NULL.
void *wp_mem_map_lookup (const wp_mem_map_t *map, const char *key);

//  Adds key -> value; key must not be in the map (asserted).
void wp_mem_map_insert (wp_mem_map_t *map, const char *key, void *value);

//  Removes key, if present. Not while walking the map with wp_mem_map_next.
void wp_mem_map_delete (wp_mem_map_t *map, const char *key);

//  Walks the values: start with *cursor = 0; NULL at the end.
void *wp_mem_map_next (const wp_mem_map_t *map, size_t *cursor);

//  Frees the table (not the values) and empties the map.
void wp_mem_map_release (wp_mem_map_t *map);

#endif
