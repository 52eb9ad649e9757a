/*  run_image: the conformance suite against the image store, each case on
    a fresh database file in its own mkdtemp directory, removed afterwards.
    Usage: run_image [CASE | PREFIX*]  */
#include "conformance.h"
#include "wp_test.h"

typedef struct {
    char dir [64];              //  the current case's directory, or ""
} s_image_ctx_t;

static wp_store_t *
s_open (void *ctx)
{
    s_image_ctx_t *self = ctx;
    wp_test_dir_new (self->dir, "wp-conformance");
    char path [128];
    snprintf (path, sizeof path, "%s/image.db", self->dir);
    wp_status status = WP_OK;
    char *message = NULL;
    wp_store_t *store = wp_store_image_new (path, NULL, &status, &message);
    if (!store) {
        fprintf (stderr, "cannot open %s: %s %s\n", path, wp_strerror (status),
                 message ? message : "");
        free (message);
        wp_test_remove (self->dir);
        self->dir [0] = 0;
    }
    return store;
}

static void
s_close (wp_store_t **store, void *ctx)
{
    s_image_ctx_t *self = ctx;
    wp_store_destroy (store);
    if (self->dir [0])
        wp_test_remove (self->dir);
    self->dir [0] = 0;
}

int
main (int argc, char *argv [])
{
    s_image_ctx_t ctx = { "" };
    wp_conformance_backend_t backend = {
        .name = "image",
        .open = s_open,
        .close = s_close,
        .ctx = &ctx,
        .can_group = true,
        .can_set_clock = true,
        .can_housekeep = true,
    };
    return wp_conformance_run (&backend, argc > 1 ? argv [1] : NULL) ? 1 : 0;
}
