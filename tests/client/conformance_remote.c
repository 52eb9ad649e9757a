/*  conformance_remote: the conformance suite, unchanged, against the remote
    store: each case gets a fresh broker started in-process on an ephemeral
    tcp port over a fresh store (memory by default; "sqlite" or "image" as
    the second argument puts each case's broker on that store's file in its
    own directory). "curve" as the third runs every case over CURVE, the
    suite's client holding an admin key (every method is the admin's).
    Usage: conformance_remote [CASE | PREFIX* | all] [memory | sqlite | image] [curve]  */
#include "conformance.h"
#include "client_util.h"
#include "wp_remote_store.h"

#include <string.h>

typedef struct {
    const char *kind;           //  the brokers' store: memory, sqlite or image
    zactor_t *broker;           //  the current case's broker
    char *dir;                  //  its directory (a store with a file), or NULL
    ct_curve_t *curve;          //  keys for CURVE, or NULL: plaintext
    char *admin_secret;         //  the client's certificate then
} s_remote_ctx_t;

static wp_store_t *
s_open (void *ctx)
{
    s_remote_ctx_t *self = ctx;
    char *store = NULL;
    if (!streq (self->kind, "memory")) {
        self->dir = ct_tempdir ("conformance-remote");
        store = zsys_sprintf ("%s:%s/broker.db", self->kind, self->dir);
    }
    char *endpoint = NULL;
    self->broker = ct_broker_start (store ? store : "memory", 0, 0, 0, &endpoint);
    free (store);
    wp_status status;
    char *message = NULL;
    wp_store_t *remote = wp_remote_store_new_curve (endpoint, 20,
                                                    self->curve ? self->curve->server_public : NULL,
                                                    self->admin_secret, &status, &message);
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
    s_remote_ctx_t ctx = { .kind = argc > 2 ? argv [2] : "memory" };
    if (argc > 3 && streq (argv [3], "curve")) {
        ctx.curve = ct_curve_new ();
        ctx.admin_secret = ct_curve_client (ctx.curve, "admin", "admin", NULL);
        ct_broker_use_curve (ctx.curve);
    }
    char name [64];
    snprintf (name, sizeof name, "remote (broker on %s%s)", ctx.kind,
              ctx.curve ? ", CURVE" : "");
    wp_conformance_backend_t backend = {
        .name = name,
        .open = s_open,
        .close = s_close,
        .ctx = &ctx,
        .can_group = false,         //  the broker groups commits itself
        .can_set_clock = false,     //  the broker's clock rules
        .can_housekeep = false,     //  the broker reaps and purges on its timer
    };
    int failed = wp_conformance_run (&backend, only);
    ct_broker_use_curve (NULL);
    ct_curve_destroy (&ctx.curve);
    free (ctx.admin_secret);
    return failed ? 1 : 0;
}
