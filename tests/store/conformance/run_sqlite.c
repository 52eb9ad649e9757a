/*  run_sqlite: the conformance suite against the SQLite store, each case on
    a fresh database file in its own mkdtemp directory, removed afterwards.
    Usage: run_sqlite [CASE | PREFIX*]  */
#include "conformance.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char dir [64];              //  the current case's directory, or ""
} s_sqlite_ctx_t;

//  Removes dir and the files in it (the database, its -wal and -shm).
static void
s_remove_dir (const char *dir)
{
    DIR *handle = opendir (dir);
    if (handle) {
        struct dirent *entry;
        while ((entry = readdir (handle)))
            if (strcmp (entry->d_name, ".") && strcmp (entry->d_name, "..")) {
                char path [512];
                snprintf (path, sizeof path, "%s/%s", dir, entry->d_name);
                unlink (path);
            }
        closedir (handle);
    }
    rmdir (dir);
}

static wp_store_t *
s_open (void *ctx)
{
    s_sqlite_ctx_t *self = ctx;
    snprintf (self->dir, sizeof self->dir, "/tmp/wp-conformance-XXXXXX");
    if (!mkdtemp (self->dir)) {
        perror ("mkdtemp");
        self->dir [0] = 0;
        return NULL;
    }
    char path [128];
    snprintf (path, sizeof path, "%s/store.db", self->dir);
    wp_status status = WP_OK;
    char *message = NULL;
    wp_store_t *store = wp_store_sqlite_new (path, NULL, &status, &message);
    if (!store) {
        fprintf (stderr, "cannot open %s: %s %s\n", path, wp_strerror (status),
                 message ? message : "");
        free (message);
        s_remove_dir (self->dir);
        self->dir [0] = 0;
    }
    return store;
}

static void
s_close (wp_store_t **store, void *ctx)
{
    s_sqlite_ctx_t *self = ctx;
    wp_store_destroy (store);
    if (self->dir [0])
        s_remove_dir (self->dir);
    self->dir [0] = 0;
}

int
main (int argc, char *argv [])
{
    s_sqlite_ctx_t ctx = { "" };
    wp_conformance_backend_t backend = {
        .name = "sqlite",
        .open = s_open,
        .close = s_close,
        .ctx = &ctx,
        .can_group = true,
        .can_set_clock = true,
        .can_housekeep = true,
    };
    return wp_conformance_run (&backend, argc > 1 ? argv [1] : NULL) ? 1 : 0;
}
