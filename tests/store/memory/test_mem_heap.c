/*  test_mem_heap: the indexed heap against a model under random pushes,
    removals from the middle and re-keys: the top is always the minimum, and
    each element's slot names where it is (WP_MEM_NOWHERE once removed).  */
#include "wp_test.h"
#include "wp_mem_heap.h"

#define S_ELEMS 3000

typedef struct {
    int64_t key;
    uint32_t slot;
    bool in;
} s_elem_t;

static bool
s_before (const void *a, const void *b)
{
    const s_elem_t *x = a, *y = b;
    return x->key != y->key ? x->key < y->key : x < y;
}

static uint32_t *
s_slot (void *elem)
{
    return &((s_elem_t *) elem)->slot;
}

int
main (void)
{
    static s_elem_t elems [S_ELEMS];
    wp_mem_heap_t heap;
    wp_mem_heap_init (&heap, s_before, s_slot);
    CHECK (wp_mem_heap_top (&heap) == NULL);
    uint64_t rng = 7;
    for (int round = 0; round < 100000; round++) {
        rng = rng * UINT64_C (6364136223846793005) + 1442695040888963407;
        s_elem_t *elem = &elems [(rng >> 33) % S_ELEMS];
        int64_t key = (int64_t) ((rng >> 8) % 100000);
        int what = (int) ((rng >> 3) % 3);
        if (!elem->in) {
            elem->key = key;
            wp_mem_heap_push (&heap, elem);
            elem->in = true;
        }
        else
        if (what == 0) {
            wp_mem_heap_remove (&heap, elem);
            CHECK (elem->slot == WP_MEM_NOWHERE);
            elem->in = false;
        }
        else {
            elem->key = key;
            wp_mem_heap_fix (&heap, elem);
        }
        if (round % 101 == 0) {
            s_elem_t *min = NULL;
            size_t in = 0;
            for (int i = 0; i < S_ELEMS; i++)
                if (elems [i].in) {
                    in++;
                    CHECK (heap.elems [elems [i].slot] == &elems [i]);
                    if (!min || s_before (&elems [i], min))
                        min = &elems [i];
                }
            CHECK (heap.count == in);
            CHECK (wp_mem_heap_top (&heap) == min);
        }
    }
    //  Draining gives the keys in order
    int64_t last = -1;
    for (s_elem_t *top; (top = wp_mem_heap_top (&heap)); ) {
        CHECK (top->key >= last);
        last = top->key;
        wp_mem_heap_remove (&heap, top);
    }
    wp_mem_heap_release (&heap);
    printf ("test_mem_heap: ok\n");
    return 0;
}
