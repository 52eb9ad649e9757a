/*  wp_mem_map: the memory store's string map (see wp_mem_map.h).  */
#include "wp_mem_map.h"
#include <assert.h>
#include <stdlib.h>
#include <string.h>

//  FNV-1a, then a finalizer so that the low bits, the index, mix well
static uint64_t
s_hash (const char *key)
{
    uint64_t hash = UINT64_C (14695981039346656037);
    for (const unsigned char *p = (const unsigned char *) key; *p; p++)
        hash = (hash ^ *p) * UINT64_C (1099511628211);
    hash ^= hash >> 33;
    hash *= UINT64_C (0xff51afd7ed558ccd);
    hash ^= hash >> 33;
    return hash;
}

void
wp_mem_map_init (wp_mem_map_t *map, wp_mem_key_of_fn *key_of)
{
    memset (map, 0, sizeof *map);
    map->key_of = key_of;
}

//  The slot holding key, or the free slot where it would go
static wp_mem_slot_t *
s_find (const wp_mem_map_t *map, const char *key, uint64_t hash)
{
    size_t mask = map->capacity - 1;
    for (size_t index = hash & mask; ; index = (index + 1) & mask) {
        wp_mem_slot_t *slot = &map->slots [index];
        if (!slot->value
        ||  (slot->hash == hash && strcmp (map->key_of (slot->value), key) == 0))
            return slot;
    }
}

//  The free slot where an entry of this hash goes while resizing (its key
//  is not in the new table yet)
static wp_mem_slot_t *
s_free_slot (const wp_mem_map_t *map, uint64_t hash)
{
    size_t mask = map->capacity - 1;
    size_t index = hash & mask;
    while (map->slots [index].value)
        index = (index + 1) & mask;
    return &map->slots [index];
}

static void
s_resize (wp_mem_map_t *map, size_t capacity)
{
    wp_mem_slot_t *old = map->slots;
    size_t old_capacity = map->capacity;
    map->slots = (wp_mem_slot_t *) calloc (capacity, sizeof (wp_mem_slot_t));
    if (!map->slots)
        abort ();
    map->capacity = capacity;
    for (size_t i = 0; i < old_capacity; i++)
        if (old [i].value)
            *s_free_slot (map, old [i].hash) = old [i];
    free (old);
}

void *
wp_mem_map_lookup (const wp_mem_map_t *map, const char *key)
{
    if (map->count == 0)
        return NULL;
    return s_find (map, key, s_hash (key))->value;
}

void
wp_mem_map_insert (wp_mem_map_t *map, const char *key, void *value)
{
    if ((map->count + 1) * 10 > map->capacity * 7)
        s_resize (map, map->capacity ? map->capacity * 2 : 16);
    assert (map->key_of && value && strcmp (map->key_of (value), key) == 0);
    uint64_t hash = s_hash (key);
    wp_mem_slot_t *slot = s_find (map, key, hash);
    assert (!slot->value);
    slot->hash = hash;
    slot->value = value;
    map->count++;
}

void
wp_mem_map_delete (wp_mem_map_t *map, const char *key)
{
    if (map->count == 0)
        return;
    wp_mem_slot_t *slot = s_find (map, key, s_hash (key));
    if (!slot->value)
        return;
    //  Entries after the hole move back into it unless that would put them
    //  before their home slot, so every probe run stays unbroken
    size_t mask = map->capacity - 1;
    size_t hole = (size_t) (slot - map->slots);
    for (size_t index = (hole + 1) & mask; map->slots [index].value; index = (index + 1) & mask) {
        size_t home = map->slots [index].hash & mask;
        if (((index - home) & mask) >= ((index - hole) & mask)) {
            map->slots [hole] = map->slots [index];
            hole = index;
        }
    }
    memset (&map->slots [hole], 0, sizeof (wp_mem_slot_t));
    map->count--;
    if (map->capacity > 16 && map->count * 8 < map->capacity)
        s_resize (map, map->capacity / 2);
}

void *
wp_mem_map_next (const wp_mem_map_t *map, size_t *cursor)
{
    while (*cursor < map->capacity) {
        wp_mem_slot_t *slot = &map->slots [(*cursor)++];
        if (slot->value)
            return slot->value;
    }
    return NULL;
}

void
wp_mem_map_release (wp_mem_map_t *map)
{
    wp_mem_key_of_fn *key_of = map->key_of;
    free (map->slots);
    wp_mem_map_init (map, key_of);
}
