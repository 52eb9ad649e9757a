/*  client_util: helpers shared by the client tests (see client_util.h).  */
#include "client_util.h"
#include "wp_broker.h"
#include "../wp_test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <string.h>
#include <unistd.h>

char *
ct_tempdir (const char *name)
{
    const char *base = getenv ("TMPDIR");
    char *path = zsys_sprintf ("%s/wp-%s-XXXXXX", base && *base ? base : "/tmp", name);
    if (!mkdtemp (path)) {
        perror ("mkdtemp");
        exit (1);
    }
    return path;
}

void
ct_rmtree (const char *path)
{
    if (path)
        wp_test_remove (path);
}

static const ct_curve_t *s_curve;       //  ct_broker_use_curve's

static zactor_t *
s_broker_new (const char *store, double heartbeat, double lease)
{
    wp_broker_config_t config = WP_BROKER_CONFIG_DEFAULT;
    config.store = store;
    if (s_curve) {
        config.curve_secret = s_curve->server_secret;
        config.keys_dir = s_curve->keys;
    }
    config.log_level = 0;
    if (heartbeat > 0)
        config.heartbeat = heartbeat;
    if (lease > 0)
        config.lease = lease;
    char *error = NULL;
    zactor_t *broker = wp_broker_new (&config, &error);
    if (!broker) {
        fprintf (stderr, "cannot start a broker on %s: %s\n", store, error ? error : "?");
        exit (1);
    }
    return broker;
}

zactor_t *
ct_broker_start_at (const char *store, double heartbeat, double lease, const char *endpoint)
{
    zactor_t *broker = s_broker_new (store, heartbeat, lease);
    if (wp_broker_bind (broker, endpoint) < 0) {
        fprintf (stderr, "cannot bind a broker to %s\n", endpoint);
        exit (1);
    }
    return broker;
}

int
ct_dead_port (int *fd_p)
{
    //  Bound without SO_REUSEADDR and never listening: a connect is refused,
    //  and no other socket can take the port meanwhile
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = 0,
                                   .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    socklen_t size = sizeof address;
    if (fd < 0 || bind (fd, (struct sockaddr *) &address, sizeof address)
    ||  getsockname (fd, (struct sockaddr *) &address, &size)) {
        perror ("ct_dead_port");
        exit (1);
    }
    *fd_p = fd;
    return ntohs (address.sin_port);
}

int
ct_hold_port (int port)
{
    //  Listening (REUSEADDR, as libzmq binds) shuts out every other bind;
    //  the broker's TIME_WAIT connections on the port do not get in the way
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    int on = 1;
    setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in address = { .sin_family = AF_INET, .sin_port = htons (port),
                                   .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    if (fd < 0 || bind (fd, (struct sockaddr *) &address, sizeof address) || listen (fd, 64)) {
        fprintf (stderr, "cannot hold port %d: %s\n", port, strerror (errno));
        exit (1);
    }
    return fd;
}

void
ct_release_port (int fd)
{
    close (fd);
}

zactor_t *
ct_broker_start (const char *store, double heartbeat, double lease, int port,
                 char **endpoint_p)
{
    zactor_t *broker = s_broker_new (store, heartbeat, lease);
    char *bind = port ? zsys_sprintf ("tcp://127.0.0.1:%d", port)
                      : strdup ("tcp://127.0.0.1:*");
    //  A port just freed by a broker's restart may take a moment to bind
    int bound = -1;
    for (int attempt = 0; attempt < 100 && bound <= 0; attempt++) {
        bound = wp_broker_bind (broker, bind);
        if (bound <= 0 && port)
            zclock_sleep (50);
        else
        if (bound <= 0)
            break;
    }
    if (bound <= 0) {
        fprintf (stderr, "cannot bind a broker to %s\n", bind);
        exit (1);
    }
    free (bind);
    if (endpoint_p)
        *endpoint_p = zsys_sprintf ("tcp://127.0.0.1:%d", bound);
    return broker;
}

int
ct_endpoint_port (const char *endpoint)
{
    const char *colon = strrchr (endpoint, ':');
    return colon ? atoi (colon + 1) : -1;
}

size_t
ct_pack_uint (uint8_t *buf, uint64_t value)
{
    //  Always the 9-byte form: valid msgpack, and every item the same size
    buf [0] = 0xcf;
    for (int i = 0; i < 8; i++)
        buf [1 + i] = (uint8_t) (value >> (56 - 8 * i));
    return 9;
}

uint64_t
ct_unpack_uint (const uint8_t *buf, size_t size)
{
    //  Any encoding of an unsigned integer: a store may re-encode a value
    //  it decodes (metadata) in the smallest form
    static const size_t widths [4] = { 1, 2, 4, 8 };
    if (buf && size == 1 && buf [0] < 0x80)
        return buf [0];
    if (buf && size > 1 && buf [0] >= 0xcc && buf [0] <= 0xcf
    &&  size == 1 + widths [buf [0] - 0xcc]) {
        uint64_t value = 0;
        for (size_t i = 1; i < size; i++)
            value = (value << 8) | buf [i];
        return value;
    }
    fprintf (stderr, "not a packed uint (%zu bytes)\n", size);
    exit (1);
}

const wp_pool_stats_t *
ct_pool_stats (const wp_stats_t *stats, const char *pool)
{
    for (size_t i = 0; i < stats->pool_count; i++)
        if (strcmp (stats->pools [i].pool, pool) == 0)
            return &stats->pools [i];
    fprintf (stderr, "no pool '%s' in the stats\n", pool);
    exit (1);
}

wp_backend_t *
ct_open (const char *spec, double timeout)
{
    return ct_open_curve (spec, timeout, NULL, NULL);
}

wp_backend_t *
ct_open_curve (const char *spec, double timeout, const char *server_key, const char *cert)
{
    wp_backend_options_t options = { .timeout = timeout, .server_key = server_key,
                                     .cert = cert };
    wp_status status;
    char *message = NULL;
    wp_backend_t *backend = wp_backend_open (spec, &options, &status, &message);
    if (!backend) {
        fprintf (stderr, "cannot open %s: %s: %s\n", spec, wp_strerror (status),
                 message ? message : "");
        exit (1);
    }
    return backend;
}

ct_curve_t *
ct_curve_new (void)
{
    ct_curve_t *self = calloc (1, sizeof *self);
    CT_CHECK (self && zsys_has_curve ());
    self->dir = ct_tempdir ("curve-keys");
    self->server_public = zsys_sprintf ("%s/broker", self->dir);
    self->server_secret = zsys_sprintf ("%s/broker_secret", self->dir);
    self->keys = zsys_sprintf ("%s/keys", self->dir);
    CT_CHECK (zsys_dir_create ("%s", self->keys) == 0);
    zcert_t *cert = zcert_new ();
    CT_CHECK (cert && zcert_save (cert, self->server_public) == 0);
    zcert_destroy (&cert);
    return self;
}

void
ct_curve_destroy (ct_curve_t **self_p)
{
    ct_curve_t *self = *self_p;
    if (!self)
        return;
    ct_rmtree (self->dir);
    free (self->dir);
    free (self->server_public);
    free (self->server_secret);
    free (self->keys);
    free (self);
    *self_p = NULL;
}

char *
ct_curve_client (ct_curve_t *self, const char *name, const char *role, const char *prefix)
{
    zcert_t *cert = zcert_new ();
    CT_CHECK (cert);
    zcert_set_meta (cert, "role", "%s", role);
    if (prefix)
        zcert_set_meta (cert, "worker_prefix", "%s", prefix);
    char *secret = zsys_sprintf ("%s/%s_secret", self->dir, name);
    char *trusted = zsys_sprintf ("%s/%s", self->keys, name);
    CT_CHECK (zcert_save_secret (cert, secret) == 0 && zcert_save_public (cert, trusted) == 0);
    free (trusted);
    zcert_destroy (&cert);
    return secret;
}

void
ct_broker_use_curve (const ct_curve_t *curve)
{
    s_curve = curve;
}

pid_t *
ct_spawn_workers (const char *argv0, int workers, const char *const *args, const char *dir)
{
    size_t extra = 0;
    while (args && args [extra])
        extra++;
    pid_t *pids = calloc (workers, sizeof *pids);
    CT_CHECK (pids);
    for (int w = 0; w < workers; w++) {
        char index [16];
        snprintf (index, sizeof index, "%d", w);
        char *log = zsys_sprintf ("%s/worker-%d.log", dir, w);
        const char **argv = calloc (extra + 4, sizeof *argv);
        CT_CHECK (argv);
        argv [0] = argv0;
        for (size_t i = 0; i < extra; i++)
            argv [1 + i] = args [i];
        argv [1 + extra] = index;
        argv [2 + extra] = log;
        pids [w] = fork ();
        CT_CHECK (pids [w] >= 0);
        if (pids [w] == 0) {
            execv ("/proc/self/exe", (char *const *) argv);
            _exit (127);
        }
        free (argv);
        free (log);
    }
    return pids;
}

void
ct_wait_workers (pid_t *pids, int workers)
{
    for (int w = 0; w < workers; w++) {
        int status;
        CT_CHECK (waitpid (pids [w], &status, 0) == pids [w]);
        if (!WIFEXITED (status) || WEXITSTATUS (status) != 0) {
            fprintf (stderr, "worker %d failed (status %d)\n", w, status);
            exit (1);
        }
    }
}

int *
ct_count_logs (const char *dir, int workers, zhashx_t *index, int items, char tag, int **who)
{
    int *counts = calloc (items, sizeof (int));
    CT_CHECK (counts);
    if (who)
        CT_CHECK ((*who = calloc (items, sizeof (int))));
    for (int w = 0; w < workers; w++) {
        char *path = zsys_sprintf ("%s/worker-%d.log", dir, w);
        FILE *log = fopen (path, "r");
        CT_CHECK (log);
        char line [300];
        while (fgets (line, sizeof line, log)) {
            line [strcspn (line, "\n")] = 0;
            if (line [0] != tag)
                continue;
            intptr_t position = (intptr_t) zhashx_lookup (index, line + 2);
            CT_CHECK (position > 0 && position <= items);
            counts [position - 1]++;
            if (who)
                (*who) [position - 1] = w;
        }
        fclose (log);
        free (path);
    }
    return counts;
}
