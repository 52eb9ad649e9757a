/*  client_util: what the client tests share: checks that stop the test with
    the place and the backend's message, a temp directory per test, an
    in-process broker on an ephemeral port, and msgpack-encoded integers
    (the opaque data items carry).  */
#ifndef WP_CLIENT_UTIL_H_INCLUDED
#define WP_CLIENT_UTIL_H_INCLUDED

#include "workpool.h"
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

//  Fails the test (exit 1) unless cond holds.
#define CT_CHECK(cond) do { if (!(cond)) { \
    fprintf (stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
    exit (1); } } while (0)

//  Fails the test unless call returns status expected; says what came back.
#define CT_STATUS(backend, expected, call) do { wp_status ct_rc_ = (call); \
    if (ct_rc_ != (expected)) { \
        fprintf (stderr, "%s:%d: %s returned %s (%s), expected %s\n", __FILE__, __LINE__, \
                 #call, wp_strerror (ct_rc_), (backend) ? wp_backend_errmsg (backend) : "", \
                 wp_strerror (expected)); \
        exit (1); } } while (0)

#define CT_OK(backend, call) CT_STATUS (backend, WP_OK, call)

//  A fresh temp directory (mkdtemp). Caller frees; ct_rmtree removes it.
char *ct_tempdir (const char *name);
void ct_rmtree (const char *path);

//  Starts a broker on store ("memory", "sqlite:PATH") bound to
//  tcp://127.0.0.1:port (0: any free port). heartbeat and lease (0: the
//  defaults) configure it. *endpoint_p (caller frees) is its endpoint.
//  Exits the test if it cannot start.
zactor_t *ct_broker_start (const char *store, double heartbeat, double lease, int port,
                           char **endpoint_p);

//  Starts a broker as ct_broker_start does, bound to endpoint exactly (an
//  ipc:// path in the test's directory can be bound again after a restart
//  without racing other programs for a tcp port).
zactor_t *ct_broker_start_at (const char *store, double heartbeat, double lease,
                              const char *endpoint);

//  Reserves a tcp port on 127.0.0.1 where nothing listens: connections are
//  refused and nobody else can bind it while *fd_p stays open. Returns the port.
int ct_dead_port (int *fd_p);

//  Holds tcp port on 127.0.0.1 while a broker is down, so that no other
//  program's ephemeral bind takes it (connections get no ZeroMQ handshake).
//  Returns the socket to pass to ct_release_port before the broker binds again.
int ct_hold_port (int port);
void ct_release_port (int fd);

//  The port of a tcp endpoint.
int ct_endpoint_port (const char *endpoint);

//  Writes the msgpack encoding of value to buf (9 bytes), returns the size.
size_t ct_pack_uint (uint8_t *buf, uint64_t value);
//  Reads a msgpack unsigned integer; exits the test if it is not one.
uint64_t ct_unpack_uint (const uint8_t *buf, size_t size);

//  The counts of pool in stats; exits the test if stats has no such pool.
const wp_pool_stats_t *ct_pool_stats (const wp_stats_t *stats, const char *pool);

//  Opens spec with a timeout of seconds, or exits the test.
wp_backend_t *ct_open (const char *spec, double timeout);

//  CURVE for the tests that run once more over it: a key set in a temp
//  directory, the broker's certificate and its key directory.
typedef struct {
    char *dir;                  //  the set's directory
    char *server_public;        //  dir/broker: clients' server_key
    char *server_secret;        //  dir/broker_secret: the broker's curve_secret
    char *keys;                 //  dir/keys: the broker's keys_dir
} ct_curve_t;

//  Makes a key set with the broker's certificate. Caller owns return value.
ct_curve_t *ct_curve_new (void);
//  Removes the set's directory, frees it, nulls *self_p.
void ct_curve_destroy (ct_curve_t **self_p);
//  Writes a client key pair NAME with role (and worker_prefix, may be NULL)
//  whose public certificate the broker trusts. Returns the path of its
//  secret certificate (caller frees).
char *ct_curve_client (ct_curve_t *self, const char *name, const char *role,
                       const char *prefix);
//  The brokers ct_broker_start starts from now on serve CURVE with curve's
//  keys (borrowed; NULL: plaintext again).
void ct_broker_use_curve (const ct_curve_t *curve);
//  As ct_open, over CURVE with these certificate files (NULL: none).
wp_backend_t *ct_open_curve (const char *spec, double timeout, const char *server_key,
                             const char *cert);

//  Worker processes of a multi-process test (race.c's pattern): runs this
//  program again (/proc/self/exe) workers times, each as
//  "argv0 ARGS... INDEX DIR/worker-INDEX.log" (args NULL-terminated), so
//  each starts with fresh ZeroMQ state. Returns their pids (caller frees).
pid_t *ct_spawn_workers (const char *argv0, int workers, const char *const *args,
                         const char *dir);
//  Waits for them; exits the test unless each exited 0.
void ct_wait_workers (pid_t *pids, int workers);
//  Counts the lines "TAG ID" of the workers' logs in dir, per item: counts
//  [i] for the item whose 1 + position index (id -> position) holds. An
//  id not in index fails the test. *who (may be NULL) [i]: the last worker
//  logging it. Caller frees the array.
int *ct_count_logs (const char *dir, int workers, zhashx_t *index, int items, char tag,
                    int **who);

#endif
