/*  run_file: the conformance suite against a store kept in a file, the
    SQLite store or the image store, each case on a fresh file in its own
    mkdtemp directory, removed afterwards.
    Usage: run_file sqlite|image [CASE | PREFIX*]  */
#include "conformance.h"
#include "wp_test.h"

typedef struct {
    wp_store_t *(*open) (const char *path, const wp_store_config_t *cfg,
                         wp_status *status, char **message);
    char dir [64];              //  the current case's directory, or ""
} s_file_ctx_t;

static wp_store_t *
s_open (void *ctx)
{
    s_file_ctx_t *self = ctx;
    wp_test_dir_new (self->dir, "wp-conformance");
    char path [128];
    snprintf (path, sizeof path, "%s/store.db", self->dir);
    wp_status status = WP_OK;
    char *message = NULL;
    wp_store_t *store = self->open (path, NULL, &status, &message);
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
    s_file_ctx_t *self = ctx;
    wp_store_destroy (store);
    if (self->dir [0])
        wp_test_remove (self->dir);
    self->dir [0] = 0;
}

int
main (int argc, char *argv [])
{
    bool image = argc > 1 && strcmp (argv [1], "image") == 0;
    if (argc < 2 || (!image && strcmp (argv [1], "sqlite"))) {
        fprintf (stderr, "usage: run_file sqlite|image [CASE | PREFIX*]\n");
        return 2;
    }
    s_file_ctx_t ctx = { image ? wp_store_image_new : wp_store_sqlite_new, "" };
    wp_conformance_backend_t backend = {
        .name = argv [1],
        .open = s_open,
        .close = s_close,
        .ctx = &ctx,
        .can_group = true,
        .can_set_clock = true,
        .can_housekeep = true,
    };
    return wp_conformance_run (&backend, argc > 2 ? argv [2] : NULL) ? 1 : 0;
}
