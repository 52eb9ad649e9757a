/*  wp_mem_heap: the memory store's indexed binary heap (see wp_mem_heap.h).  */
#include "wp_mem_heap.h"
#include <assert.h>
#include <stdlib.h>
#include <string.h>

void
wp_mem_heap_init (wp_mem_heap_t *heap, wp_mem_before_fn *before, wp_mem_slot_fn *slot)
{
    memset (heap, 0, sizeof *heap);
    heap->before = before;
    heap->slot = slot;
}

void
wp_mem_heap_release (wp_mem_heap_t *heap)
{
    free (heap->elems);
    heap->elems = NULL;
    heap->count = heap->capacity = 0;
}

void *
wp_mem_heap_top (const wp_mem_heap_t *heap)
{
    return heap->count ? heap->elems [0] : NULL;
}

static void
s_place (wp_mem_heap_t *heap, size_t index, void *elem)
{
    heap->elems [index] = elem;
    *heap->slot (elem) = (uint32_t) index;
}

static void
s_sift_up (wp_mem_heap_t *heap, size_t index)
{
    void *elem = heap->elems [index];
    while (index > 0) {
        size_t parent = (index - 1) / 2;
        if (!heap->before (elem, heap->elems [parent]))
            break;
        s_place (heap, index, heap->elems [parent]);
        index = parent;
    }
    s_place (heap, index, elem);
}

static void
s_sift_down (wp_mem_heap_t *heap, size_t index)
{
    void *elem = heap->elems [index];
    while (true) {
        size_t child = 2 * index + 1;
        if (child >= heap->count)
            break;
        if (child + 1 < heap->count
        &&  heap->before (heap->elems [child + 1], heap->elems [child]))
            child++;
        if (!heap->before (heap->elems [child], elem))
            break;
        s_place (heap, index, heap->elems [child]);
        index = child;
    }
    s_place (heap, index, elem);
}

//  Restores heap order around index after its element's key changed
static void
s_fix_at (wp_mem_heap_t *heap, size_t index)
{
    if (index > 0 && heap->before (heap->elems [index], heap->elems [(index - 1) / 2]))
        s_sift_up (heap, index);
    else
        s_sift_down (heap, index);
}

void
wp_mem_heap_push (wp_mem_heap_t *heap, void *elem)
{
    if (heap->count == heap->capacity) {
        if (heap->capacity >= WP_MEM_NOWHERE / 2)
            abort ();       //  beyond what a 32-bit index names
        heap->capacity = heap->capacity ? heap->capacity * 2 : 16;
        heap->elems = realloc (heap->elems, heap->capacity * sizeof (void *));
        if (!heap->elems)
            abort ();
    }
    s_place (heap, heap->count++, elem);
    s_sift_up (heap, heap->count - 1);
}

void
wp_mem_heap_remove (wp_mem_heap_t *heap, void *elem)
{
    size_t index = *heap->slot (elem);
    assert (index < heap->count && heap->elems [index] == elem);
    void *last = heap->elems [--heap->count];
    if (index < heap->count) {
        s_place (heap, index, last);
        s_fix_at (heap, index);
    }
    *heap->slot (elem) = WP_MEM_NOWHERE;
}

void
wp_mem_heap_fix (wp_mem_heap_t *heap, void *elem)
{
    s_fix_at (heap, *heap->slot (elem));
}
