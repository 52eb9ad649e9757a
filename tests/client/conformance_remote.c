/*  conformance_remote: the conformance suite, unchanged, against the remote
    store: each case gets a fresh broker started in-process on an ephemeral
    tcp port over a fresh store (memory by default; "sqlite" as the second
    argument puts each case's broker on a SQLite file in its own directory).
    Usage: conformance_remote [CASE | PREFIX* | all] [memory | sqlite]  */
#include "conformance.h"
#include "client_util.h"
#include "wp_remote_store.h"

#include <string.h>

typedef struct {
    bool sqlite;                //  brokers keep their store in a SQLite file
    zactor_t *broker;           //  the current case's broker
    char *dir;                  //  its directory (SQLite), or NULL
} s_remote_ctx_t;

static wp_store_t *
s_open (void *ctx)
{
    s_remote_ctx_t *self = ctx;
    char *store = NULL;
    if (self->sqlite) {
        self->dir = ct_tempdir ("conformance-remote");
        store = zsys_sprintf ("sqlite:%s/broker.db", self->dir);
    }
    char *endpoint = NULL;
    self->broker = ct_broker_start (store ? store : "memory", 0, 0, 0, &endpoint);
    free (store);
    wp_status status;
    char *message = NULL;
    wp_store_t *remote = wp_remote_store_new (endpoint, 20, &status, &message);
    if (!remote) {
        fprintf (stderr, "cannot open %s: %s %s\n", endpoint, wp_strerror (status),
                 message ? message : "");
        free (message);
    }
    free (endpoint);
    return remote;
}

static void
s_close (wp_store_t **store, void *ctx)
{
    s_remote_ctx_t *self = ctx;
    wp_store_destroy (store);
    zactor_destroy (&self->broker);
    if (self->dir) {
        ct_rmtree (self->dir);
        free (self->dir);
        self->dir = NULL;
    }
}

int
main (int argc, char *argv [])
{
    const char *only = argc > 1 && strcmp (argv [1], "all") ? argv [1] : NULL;
    s_remote_ctx_t ctx = { .sqlite = argc > 2 && streq (argv [2], "sqlite") };
    wp_conformance_backend_t backend = {
        .name = ctx.sqlite ? "remote (broker on sqlite)" : "remote (broker on memory)",
        .open = s_open,
        .close = s_close,
        .ctx = &ctx,
        .can_group = false,         //  the broker groups commits itself
        .can_set_clock = false,     //  the broker's clock rules
        .can_housekeep = false,     //  the broker reaps and purges on its timer
    };
    return wp_conformance_run (&backend, only) ? 1 : 0;
}
