/*  wp_mem_heap: a binary min-heap of pointers for the memory store. Each
    element keeps its own index (the slot function says where), so it can
    be removed or re-keyed in O(log n). The heap borrows its elements.
    Internal to store/.  */
#ifndef WP_MEM_HEAP_H_INCLUDED
#define WP_MEM_HEAP_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef bool (wp_mem_before_fn) (const void *a, const void *b);
typedef uint32_t *(wp_mem_slot_fn) (void *elem);

//  An element's index is 32 bits (4 billion elements of a heap is far more
//  than a store's memory holds): it packs beside a flag in the item
#define WP_MEM_NOWHERE UINT32_MAX   //  heap index of an element in no heap

typedef struct {
    void **elems;
    size_t count;
    size_t capacity;
    wp_mem_before_fn *before;   //  true if a must be nearer the top than b
    wp_mem_slot_fn *slot;       //  where an element keeps its index
} wp_mem_heap_t;

//  Empties heap and sets its order.
void wp_mem_heap_init (wp_mem_heap_t *heap, wp_mem_before_fn *before, wp_mem_slot_fn *slot);

//  Frees the array (not the elements); the heap is empty after.
void wp_mem_heap_release (wp_mem_heap_t *heap);

//  The first element, or NULL if the heap is empty.
void *wp_mem_heap_top (const wp_mem_heap_t *heap);

//  Adds elem (which must be in no heap of this slot).
void wp_mem_heap_push (wp_mem_heap_t *heap, void *elem);

//  Removes elem (which must be in heap); its slot becomes WP_MEM_NOWHERE.
void wp_mem_heap_remove (wp_mem_heap_t *heap, void *elem);

//  Restores the order after elem's key changed.
void wp_mem_heap_fix (wp_mem_heap_t *heap, void *elem);

#endif
