/*  test_mem_map: the memory store's string map against a model under
    random inserts and deletes (probe runs stay unbroken across backward
    shifts and resizes, both ways), and a walk that sees every value once.  */
#include "wp_test.h"
#include "wp_mem_map.h"

#define S_KEYS 5000

//  The values are their keys
static const char *
s_key_of (const void *value)
{
    return (const char *) value;
}

int
main (void)
{
    static char keys [S_KEYS][16];
    static bool present [S_KEYS];
    wp_mem_map_t map = { 0 };
    CHECK (wp_mem_map_lookup (&map, "none") == NULL);
    wp_mem_map_delete (&map, "none");       //  an empty map takes it, uninitialised
    wp_mem_map_init (&map, s_key_of);
    for (int i = 0; i < S_KEYS; i++)
        snprintf (keys [i], sizeof keys [i], "k%d", i);

    uint64_t rng = 42;
    size_t count = 0;
    for (int round = 0; round < 200000; round++) {
        rng = rng * UINT64_C (6364136223846793005) + 1442695040888963407;
        int key = (int) ((rng >> 33) % S_KEYS);
        //  Grow for the first half, shrink in the second
        bool insert = ((rng >> 20) & 3) != 0;
        if (round >= 100000)
            insert = !insert;
        if (insert && !present [key]) {
            wp_mem_map_insert (&map, keys [key], keys [key]);
            present [key] = true;
            count++;
        }
        else
        if (!insert) {
            wp_mem_map_delete (&map, keys [key]);
            count -= present [key];
            present [key] = false;
        }
        if (round % 997 == 0)
            for (int i = 0; i < S_KEYS; i++)
                CHECK (wp_mem_map_lookup (&map, keys [i]) == (present [i] ? keys [i] : NULL));
        CHECK (map.count == count);
    }
    //  The load stays between 1/8 and 7/10 (16 slots at least)
    CHECK (map.capacity == 16 || map.count * 8 >= map.capacity);
    CHECK (map.count * 10 <= map.capacity * 7);

    size_t seen = 0, cursor = 0;
    for (char *value; (value = wp_mem_map_next (&map, &cursor)); seen++)
        CHECK (present [atoi (value + 1)]);
    CHECK (seen == count);
    wp_mem_map_release (&map);
    CHECK (map.count == 0 && map.slots == NULL && map.key_of == s_key_of);
    printf ("test_mem_map: ok\n");
    return 0;
}
