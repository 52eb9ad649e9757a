/*  run_memory: the conformance suite against the memory store.
    Usage: run_memory [CASE | PREFIX*]  */
#include "conformance.h"

static wp_store_t *
s_open (void *ctx)
{
    return wp_store_memory_new (NULL);
}

static void
s_close (wp_store_t **store, void *ctx)
{
    wp_store_destroy (store);
}

int
main (int argc, char *argv [])
{
    wp_conformance_backend_t backend = {
        .name = "memory",
        .open = s_open,
        .close = s_close,
        .can_group = true,
        .can_set_clock = true,
        .can_housekeep = true,
    };
    return wp_conformance_run (&backend, argc > 1 ? argv [1] : NULL) ? 1 : 0;
}
