/*  curve: libworkpool against a CURVE broker (issue 12, PROTOCOL.md 9):
    an admin key gets in; no key, an unknown key and a wrong server key are
    refused with the status and words workpool.h promises, within the
    deadline, while the broker keeps serving the admin; a key added to the
    directory (RELOAD) gets in on the same handle's next call; a key
    removed gets "key revoked" unchanged; certificate files that are
    missing, malformed or lack a secret fail the open naming the file.
    The broker runs in-process on tcp://127.0.0.1:*.  */
#include "client_util.h"
#include "wp_broker.h"

#include <string.h>
#include <unistd.h>

static char *s_dir;             //  the test's directory
static char *s_keys;            //  the broker's key directory in it

//  Writes a key pair NAME (public, metadata role) and NAME_secret in s_dir;
//  the public one also in the key directory when trusted.
static void
s_keygen (const char *name, const char *role, bool trusted)
{
    zcert_t *cert = zcert_new ();
    if (role)
        zcert_set_meta (cert, "role", "%s", role);
    char *path = zsys_sprintf ("%s/%s", s_dir, name);
    CT_CHECK (zcert_save (cert, path) == 0);
    free (path);
    if (trusted) {
        path = zsys_sprintf ("%s/%s", s_keys, name);
        CT_CHECK (zcert_save_public (cert, path) == 0);
        free (path);
    }
    zcert_destroy (&cert);
}

static char *
s_path (const char *name)
{
    return zsys_sprintf ("%s/%s", s_dir, name);
}

//  Opens endpoint with timeout and the files named (NULL: none), or exits.
static wp_backend_t *
s_open (const char *endpoint, double timeout, const char *server_key, const char *cert)
{
    char *server_path = server_key ? s_path (server_key) : NULL;
    char *cert_path = cert ? s_path (cert) : NULL;
    wp_backend_options_t options = { .timeout = timeout, .server_key = server_path,
                                     .cert = cert_path };
    wp_status status;
    char *message = NULL;
    wp_backend_t *backend = wp_backend_open (endpoint, &options, &status, &message);
    if (!backend) {
        fprintf (stderr, "cannot open %s: %s %s\n", endpoint, wp_strerror (status), message);
        exit (1);
    }
    free (server_path);     //  the handle keeps its own copies
    free (cert_path);
    return backend;
}

//  Pings; checks the status, that the message holds words, and that it
//  took between min and max seconds.
static void
s_ping_expect (wp_backend_t *backend, wp_status expected, const char *words, double min,
               double max)
{
    int64_t start = zclock_usecs ();
    wp_status rc = wp_backend_ping (backend, NULL, NULL);
    double took = (zclock_usecs () - start) / 1e6;
    const char *message = wp_backend_errmsg (backend);
    if (rc != expected || !strstr (message, words) || took < min || took > max) {
        fprintf (stderr, "ping: %s \"%s\" after %.3f s; expected %s \"...%s...\" in %g..%g s\n",
                 wp_strerror (rc), message, took, wp_strerror (expected), words, min, max);
        exit (1);
    }
}

//  The open fails with INVALID_ARGUMENT and a message naming words.
static void
s_open_fails (const char *server_key, const char *cert, const char *words)
{
    wp_backend_options_t options = { .timeout = 1, .server_key = server_key, .cert = cert };
    wp_status status = WP_OK;
    char *message = NULL;
    wp_backend_t *backend = wp_backend_open ("tcp://127.0.0.1:1", &options, &status, &message);
    if (backend || status != WP_INVALID_ARGUMENT || !message || !strstr (message, words)) {
        fprintf (stderr, "open with server_key %s, cert %s: %s \"%s\"; expected "
                 "INVALID_ARGUMENT naming %s\n", server_key, cert, wp_strerror (status),
                 message ? message : "", words);
        exit (1);
    }
    free (message);
}

int
main (void)
{
    CT_CHECK (zsys_has_curve ());
    s_dir = ct_tempdir ("curve");
    s_keys = zsys_sprintf ("%s/keys", s_dir);
    CT_CHECK (zsys_dir_create ("%s", s_keys) == 0);
    s_keygen ("broker", NULL, false);
    s_keygen ("admin", "admin", true);
    s_keygen ("stranger", "admin", false);
    s_keygen ("impostor", NULL, false);         //  posing as the broker

    wp_broker_config_t config = WP_BROKER_CONFIG_DEFAULT;
    config.store = "memory";
    config.log_level = 0;
    char *broker_secret = s_path ("broker_secret");
    config.curve_secret = broker_secret;
    config.keys_dir = s_keys;
    char *error = NULL;
    zactor_t *broker = wp_broker_new (&config, &error);
    if (!broker) {
        fprintf (stderr, "cannot start a CURVE broker: %s\n", error);
        return 1;
    }
    int port = wp_broker_bind (broker, "tcp://127.0.0.1:*");
    CT_CHECK (port > 0);
    char *endpoint = zsys_sprintf ("tcp://127.0.0.1:%d", port);

    //  The admin: in, and every call works
    wp_backend_t *admin = s_open (endpoint, 5, "broker", "admin_secret");
    CT_OK (admin, wp_backend_ping (admin, NULL, NULL));
    wp_pool_t *pool = wp_backend_pool (admin, "jobs");
    uint8_t data [9];
    char *id = NULL;
    CT_OK (admin, wp_pool_push (pool, data, ct_pack_uint (data, 7), &id));
    free (id);

    //  No key: refused at once, not at the deadline
    wp_backend_t *plain = s_open (endpoint, 3, NULL, NULL);
    s_ping_expect (plain, WP_UNAUTHENTICATED, "authentication failed", 0, 2.9);
    //  and again on the next call (a fresh handshake, refused again)
    s_ping_expect (plain, WP_UNAUTHENTICATED, "requires CURVE", 0, 2.9);
    wp_backend_destroy (&plain);

    //  A key the broker does not know: refused at once
    wp_backend_t *stranger = s_open (endpoint, 3, "broker", "stranger_secret");
    s_ping_expect (stranger, WP_UNAUTHENTICATED,
                   "authentication failed: the broker refused this client's key", 0, 2.9);
    uint64_t size = 0;
    wp_pool_t *stranger_pool = wp_backend_pool (stranger, "jobs");
    CT_STATUS (stranger, WP_UNAUTHENTICATED, wp_pool_size (stranger_pool, &size));

    //  A wrong server key: no connection, UNAVAILABLE at the deadline
    wp_backend_t *fooled = s_open (endpoint, 1, "impostor", "admin_secret");
    s_ping_expect (fooled, WP_UNAVAILABLE, "(CURVE handshake failed: wrong server key?)",
                   0.9, 2.5);
    wp_backend_destroy (&fooled);

    //  The broker served the admin all along
    CT_OK (admin, wp_pool_size (pool, &size));
    CT_CHECK (size == 1);

    //  The stranger's key added and reloaded: the same handle gets in
    char *path = zsys_sprintf ("%s/stranger", s_keys);
    char *stranger_path = s_path ("stranger");
    zcert_t *cert = zcert_load (stranger_path);
    free (stranger_path);
    CT_CHECK (cert && zcert_save_public (cert, path) == 0);
    zcert_destroy (&cert);
    zstr_sendx (broker, "RELOAD", NULL);
    char *reply = zstr_recv (broker);
    CT_CHECK (reply && streq (reply, "OK"));
    zstr_free (&reply);
    zsock_flush (zactor_sock (broker));
    CT_OK (stranger, wp_pool_size (stranger_pool, &size));
    CT_CHECK (size == 1);

    //  Removed again: its open connection hears "key revoked" as the broker says it
    CT_CHECK (unlink (path) == 0);
    zstr_sendx (broker, "RELOAD", NULL);
    reply = zstr_recv (broker);
    CT_CHECK (reply && streq (reply, "OK"));
    zstr_free (&reply);
    zsock_flush (zactor_sock (broker));
    CT_STATUS (stranger, WP_UNAUTHENTICATED, wp_pool_size (stranger_pool, &size));
    CT_CHECK (strncmp (wp_backend_errmsg (stranger), "key revoked", 11) == 0);
    wp_pool_destroy (&stranger_pool);
    wp_backend_destroy (&stranger);
    free (path);

    //  A CURVE client at a plaintext broker: UNAVAILABLE, never a hang
    zactor_t *open_broker = NULL;
    char *open_endpoint = NULL;
    open_broker = ct_broker_start ("memory", 0, 0, 0, &open_endpoint);
    wp_backend_t *misfit = s_open (open_endpoint, 1, "broker", "admin_secret");
    s_ping_expect (misfit, WP_UNAVAILABLE, "", 0, 2.5);
    wp_backend_destroy (&misfit);
    zactor_destroy (&open_broker);
    free (open_endpoint);

    //  Certificate files the open refuses, each named
    char *missing = s_path ("missing");
    char *garbage = s_path ("garbage");
    char *public_only = s_path ("public_only");
    FILE *file = fopen (garbage, "w");
    CT_CHECK (file);
    //  (zconfig syntax, no curve section: a file zconfig cannot parse at all
    //  makes czmq 4.2 leak inside zconfig_load)
    fputs ("metadata\n    role = \"admin\"\n", file);
    fclose (file);
    cert = zcert_new ();
    CT_CHECK (zcert_save_public (cert, public_only) == 0);
    zcert_destroy (&cert);
    char *server = s_path ("broker");
    char *secret = s_path ("admin_secret");
    s_open_fails (missing, secret, missing);
    s_open_fails (server, missing, missing);
    s_open_fails (garbage, secret, garbage);
    s_open_fails (server, garbage, garbage);
    s_open_fails (server, public_only, "no secret-key");
    s_open_fails (server, NULL, "cert");
    s_open_fails (NULL, secret, "server_key");

    //  A dup keeps the keys (its own copies)
    wp_backend_t *copy = wp_backend_dup (admin, NULL, NULL);
    CT_CHECK (copy);
    CT_OK (copy, wp_backend_ping (copy, NULL, NULL));
    wp_backend_destroy (&copy);

    wp_pool_destroy (&pool);
    wp_backend_destroy (&admin);
    zactor_destroy (&broker);
    free (missing);
    free (garbage);
    free (public_only);
    free (server);
    free (secret);
    free (endpoint);
    free (broker_secret);
    ct_rmtree (s_dir);
    free (s_keys);
    free (s_dir);
    printf ("curve: OK\n");
    return 0;
}
