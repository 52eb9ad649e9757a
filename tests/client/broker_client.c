/*  broker_client: the client against a real broker (in-process) when the
    broker goes away and comes back: a call across a restart on the same
    SQLite file succeeds, a call made while the broker is down gets it once
    it is back within the deadline, or UNAVAILABLE when it is not; and the
    worker helper: registers again when the broker forgot it (restarted on
    memory) or declared it lost, and keeps heartbeating while its callback
    runs past the stale threshold; and SIGINT ends a waiting call.  */
#include "client_util.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>

//  Waits (bounded) until cond holds; fails the test if it never does.
#define CT_EVENTUALLY(cond) do { int64_t ct_until_ = zclock_mono () + 30000; \
    while (!(cond)) { \
        if (zclock_mono () > ct_until_) { \
            fprintf (stderr, "%s:%d: never became true: %s\n", __FILE__, __LINE__, #cond); \
            exit (1); } \
        zclock_sleep (20); } } while (0)

//  Where a broker comes back: the same tcp port, or the same ipc path
typedef struct {
    const char *store;
    const char *ipc;            //  ipc endpoint, or NULL for tcp on port
    int port;
    int delay_ms;               //  for s_start_later
    zactor_t *broker;
    int hold;                   //  tcp: the socket holding the port while down
} s_where_t;

//  Starts the broker again at its address.
static zactor_t *
s_up (s_where_t *where)
{
    if (where->ipc)
        return ct_broker_start_at (where->store, 0, 0, where->ipc);
    ct_release_port (where->hold);
    return ct_broker_start (where->store, 0, 0, where->port, NULL);
}

//  Stops the broker, keeping its address from other programs.
static void
s_down (s_where_t *where, zactor_t **broker_p)
{
    zactor_destroy (broker_p);
    if (!where->ipc)
        where->hold = ct_hold_port (where->port);
}

static void *
s_start_later (void *arg)
{
    s_where_t *where = arg;
    zclock_sleep (where->delay_ms);
    where->broker = s_up (where);
    return NULL;
}

static void
s_restart (const char *dir, bool ipc)
{
    char *store = zsys_sprintf ("sqlite:%s/restart-%s.db", dir, ipc ? "ipc" : "tcp");
    s_where_t where = { store, NULL, 0, 300, NULL, -1 };
    char *endpoint;
    zactor_t *broker;
    if (ipc) {
        endpoint = zsys_sprintf ("ipc://%s/broker.sock", dir);
        where.ipc = endpoint;
        broker = s_up (&where);
    }
    else {
        broker = ct_broker_start (store, 0, 0, 0, &endpoint);
        where.port = ct_endpoint_port (endpoint);
    }
    wp_backend_t *backend = ct_open (endpoint, 20);
    wp_pool_t *pool = wp_backend_pool (backend, "jobs");
    uint8_t data [9];
    char *id = NULL;
    CT_OK (backend, wp_pool_push (pool, data, ct_pack_uint (data, 7), &id));

    //  Restarted between two calls: the next call goes through
    s_down (&where, &broker);
    broker = s_up (&where);
    uint64_t size = 0;
    CT_OK (backend, wp_pool_size (pool, &size));
    CT_CHECK (size == 1);
    wp_item_t *item = NULL;
    CT_OK (backend, wp_pool_claim (pool, "w1", NULL, &item));
    CT_CHECK (item && streq (item->id, id));
    wp_item_destroy (&item);

    //  Down: the call gives up at its deadline
    s_down (&where, &broker);
    wp_backend_set_timeout (backend, 0.5);
    wp_status rc = wp_pool_complete (pool, id, NULL, 0, "w1");
    CT_CHECK (rc == WP_UNAVAILABLE || rc == WP_DEADLINE_EXCEEDED);

    //  Down when the call starts, back before its deadline: it goes through
    wp_backend_set_timeout (backend, 20);
    pthread_t thread;
    pthread_create (&thread, NULL, s_start_later, &where);
    CT_OK (backend, wp_pool_complete (pool, id, NULL, 0, "w1"));
    pthread_join (thread, NULL);
    CT_OK (backend, wp_pool_get (pool, id, &item));
    CT_CHECK (item->status == WP_ITEM_DONE);
    wp_item_destroy (&item);

    zactor_destroy (&where.broker);
    free (id);
    wp_pool_destroy (&pool);
    wp_backend_destroy (&backend);
    free (endpoint);
    free (store);
}

//  The runner registers again after the broker restarted on memory (the
//  worker is unknown there) and after it was declared lost
static void
s_reregister (const char *dir)
{
    //  ipc: the restarted broker cannot lose its address to another program
    char *endpoint = zsys_sprintf ("ipc://%s/reregister.sock", dir);
    zactor_t *broker = ct_broker_start_at ("memory", 0, 0, endpoint);
    wp_backend_t *backend = ct_open (endpoint, 5);
    wp_runner_options_t options = { .worker_id = "phoenix", .heartbeat_interval = 0.2 };
    wp_runner_t *runner = wp_runner_new (backend, &options, NULL, NULL);
    CT_CHECK (runner);
    CT_EVENTUALLY (wp_runner_heartbeats (runner) >= 2);
    CT_CHECK (wp_runner_registrations (runner) == 1);

    zactor_destroy (&broker);
    broker = ct_broker_start_at ("memory", 0, 0, endpoint);
    CT_EVENTUALLY (wp_runner_registrations (runner) == 2);
    wp_worker_t *worker = NULL;
    CT_OK (backend, wp_backend_get_worker (backend, "phoenix", &worker));
    CT_CHECK (worker && streq (worker->status, "active"));
    wp_worker_destroy (&worker);

    //  Declared lost (by hand here; the broker's reaper does the same when
    //  heartbeats stop): the next heartbeat is refused, and it registers
    wp_backend_t *admin = ct_open (endpoint, 5);
    CT_OK (admin, wp_backend_update_status (admin, "phoenix", "lost"));
    CT_EVENTUALLY (wp_runner_registrations (runner) == 3);
    CT_OK (admin, wp_backend_get_worker (admin, "phoenix", &worker));
    CT_CHECK (worker && streq (worker->status, "active"));
    wp_worker_destroy (&worker);

    wp_runner_destroy (&runner);
    CT_OK (admin, wp_backend_get_worker (admin, "phoenix", &worker));
    CT_CHECK (worker && streq (worker->status, "terminated"));
    wp_worker_destroy (&worker);
    wp_backend_destroy (&admin);
    wp_backend_destroy (&backend);
    zactor_destroy (&broker);
    free (endpoint);
}

//  A callback that sleeps for 5 heartbeat intervals (2.5 stale thresholds):
//  the actor's heartbeats keep the worker active and its claim held, so the
//  complete goes through
typedef struct {
    wp_runner_t *runner;
    wp_backend_t *observer;
    bool lost_seen;
} s_sleeper_t;

static int
s_sleepy_job (const wp_item_t *item, void *arg, uint8_t **result_p, size_t *result_size_p,
              char **error_p)
{
    s_sleeper_t *sleeper = arg;
    uint64_t before = wp_runner_heartbeats (sleeper->runner);
    for (int i = 0; i < 10; i++) {
        zclock_sleep (100);
        wp_worker_t *worker = NULL;
        if (wp_backend_get_worker (sleeper->observer, wp_runner_worker_id (sleeper->runner),
                                   &worker) == WP_OK && worker
        &&  !streq (worker->status, "active"))
            sleeper->lost_seen = true;
        wp_worker_destroy (&worker);
    }
    //  The actor went on beating while we slept
    CT_CHECK (wp_runner_heartbeats (sleeper->runner) > before);
    wp_runner_stop (sleeper->runner);
    return 0;
}

static void
s_heartbeat_while_busy (void)
{
    char *endpoint;
    zactor_t *broker = ct_broker_start ("memory", 0, 0, 0, &endpoint);
    wp_backend_t *backend = ct_open (endpoint, 5);
    wp_pool_t *pool = wp_backend_pool (backend, "slow");
    uint8_t data [9];
    char *id = NULL;
    CT_OK (backend, wp_pool_push (pool, data, ct_pack_uint (data, 1), &id));
    wp_runner_options_t options = { .worker_id = "sleeper", .heartbeat_interval = 0.2,
                                     .wait = 0.5 };
    wp_runner_t *runner = wp_runner_new (backend, &options, NULL, NULL);
    CT_CHECK (runner);
    s_sleeper_t sleeper = { runner, ct_open (endpoint, 5), false };
    CT_OK (backend, wp_runner_run (runner, "slow", s_sleepy_job, &sleeper));
    CT_CHECK (!sleeper.lost_seen);
    CT_CHECK (wp_runner_registrations (runner) == 1);
    wp_item_t *item = NULL;
    CT_OK (backend, wp_pool_get (pool, id, &item));
    CT_CHECK (item->status == WP_ITEM_DONE && item->attempts == 0);
    wp_item_destroy (&item);
    wp_runner_destroy (&runner);
    wp_backend_destroy (&sleeper.observer);
    free (id);
    wp_pool_destroy (&pool);
    wp_backend_destroy (&backend);
    zactor_destroy (&broker);
    free (endpoint);
}

static void *
s_interrupt_later (void *arg)
{
    zclock_sleep (300);
    pthread_kill (*(pthread_t *) arg, SIGINT);
    return NULL;
}

//  SIGINT (czmq's handler sets zsys_interrupted) ends a call that waits for
//  its reply with CANCELLED, long before the wait it asked for
static void
s_interrupted_wait (void)
{
    char *endpoint;
    zactor_t *broker = ct_broker_start ("memory", 0, 0, 0, &endpoint);
    wp_backend_t *backend = ct_open (endpoint, 20);
    wp_pool_t *pool = wp_backend_pool (backend, "idle");
    pthread_t self = pthread_self (), thread;
    pthread_create (&thread, NULL, s_interrupt_later, &self);
    int64_t started = zclock_mono ();
    wp_claim_options_t wait = { .wait = 20 };
    wp_item_t *item = NULL;
    CT_STATUS (backend, WP_CANCELLED, wp_pool_claim (pool, "w1", &wait, &item));
    CT_CHECK (zclock_mono () - started < 10000);
    pthread_join (thread, NULL);
    zsys_interrupted = 0;
    CT_CHECK (!item);
    wp_pool_destroy (&pool);
    wp_backend_destroy (&backend);
    zactor_destroy (&broker);
    free (endpoint);
}

int
main (void)
{
    char *dir = ct_tempdir ("broker-client");
    s_restart (dir, false);
    printf ("ok - restart (tcp)\n");
    s_restart (dir, true);
    printf ("ok - restart (ipc)\n");
    s_reregister (dir);
    printf ("ok - re-register\n");
    s_heartbeat_while_busy ();
    printf ("ok - heartbeat while busy\n");
    s_interrupted_wait ();
    printf ("ok - interrupted wait\n");
    ct_rmtree (dir);
    free (dir);
    return 0;
}
