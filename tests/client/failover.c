/*  failover: a client given several broker endpoints (issue 17,
    notes FAILOVER.md) moves to the next when the one in use stops
    answering. Two workpoold processes on separate SQLite files (so what
    is on one is not on the other, and where a call went shows).
    Usage: failover open | kill | stop | pipeline
      open      bad lists are INVALID_ARGUMENT naming the element; a good one
                starts on the first; one endpoint reports no moves
      kill      SIGKILL the broker in use: the next push moves and succeeds,
                get finds it on the second; a claim in flight at the kill
                (written while the broker was stopped) is not resent
                (DEADLINE_EXCEEDED) and the next claim takes the second's item
      stop      the same with SIGSTOP (the connection stays up: a late reply,
                not a refused connection, is what moves it)
      pipeline  a wp_pipeline of pushes in flight when the broker in use is
                SIGKILLed: every push is acknowledged, all on the second
                broker or the first, none lost  */
#include "client_util.h"

#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define POOL    "jobs"

typedef struct {
    pid_t pid;
    char *endpoint;
    char *db;
} s_broker_t;

//  Every broker started, killed at exit even when a check fails
static pid_t s_pids [8];
static int s_pid_count = 0;

static void
s_kill_all (void)
{
    for (int i = 0; i < s_pid_count; i++)
        if (s_pids [i] > 0) {
            kill (s_pids [i], SIGKILL);
            kill (s_pids [i], SIGCONT);
            waitpid (s_pids [i], NULL, 0);
        }
}

static void
s_broker_start (s_broker_t *self, const char *dir, const char *name)
{
    self->db = zsys_sprintf ("%s/%s.db", dir, name);
    self->endpoint = zsys_sprintf ("ipc://%s/%s.ipc", dir, name);
    const char *bin = getenv ("WP_BINARY_DIR");
    char *path = zsys_sprintf ("%s/broker/workpoold", bin ? bin : ".");
    pid_t pid = fork ();
    CT_CHECK (pid >= 0);
    if (pid == 0) {
        int null = open ("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2 (null, 2);
        execl (path, path, "--bind", self->endpoint, "--store", "sqlite", "--db", self->db,
               (char *) NULL);
        _exit (127);
    }
    free (path);
    self->pid = pid;
    CT_CHECK (s_pid_count < 8);
    s_pids [s_pid_count++] = pid;
    //  Up when it answers a ping on a handle of its own
    wp_backend_t *backend = ct_open (self->endpoint, 10);
    CT_OK (backend, wp_backend_ping (backend, NULL, NULL));
    wp_backend_destroy (&backend);
}

static void
s_broker_end (s_broker_t *self)
{
    if (self->pid > 0) {
        kill (self->pid, SIGKILL);
        kill (self->pid, SIGCONT);
        int status;
        waitpid (self->pid, &status, 0);
        for (int i = 0; i < s_pid_count; i++)
            if (s_pids [i] == self->pid)
                s_pids [i] = 0;
        self->pid = 0;
    }
    free (self->endpoint);
    free (self->db);
}

static wp_backend_t *
s_open_list (const char *spec, double timeout)
{
    wp_backend_options_t options = { .timeout = timeout, .retry_interval = 0.5 };
    wp_status rc;
    char *message = NULL;
    wp_backend_t *backend = wp_backend_open (spec, &options, &rc, &message);
    if (!backend)
        fprintf (stderr, "open %s: %s: %s\n", spec, wp_strerror (rc), message);
    CT_CHECK (backend);
    free (message);
    return backend;
}

static char *
s_push_one (wp_backend_t *backend, uint64_t value)
{
    wp_pool_t *pool = wp_backend_pool (backend, POOL);
    uint8_t data [9];
    wp_push_entry_t entry = { data, ct_pack_uint (data, value), NULL, 3 };
    char *id = NULL;
    CT_OK (backend, wp_pool_push_entry (pool, &entry, &id, NULL));
    wp_pool_destroy (&pool);
    return id;
}

//  True if the broker at endpoint (a handle of its own) holds id
static bool
s_holds (const char *endpoint, const char *id)
{
    wp_backend_t *backend = ct_open (endpoint, 10);
    wp_pool_t *pool = wp_backend_pool (backend, POOL);
    wp_item_t *item = NULL;
    wp_status rc = wp_pool_get (pool, id, &item);
    CT_CHECK (rc == WP_OK || rc == WP_NOT_FOUND);
    bool held = item != NULL;
    wp_item_destroy (&item);
    wp_pool_destroy (&pool);
    wp_backend_destroy (&backend);
    return held;
}

//  ---------------------------------------------------------------------

static void
s_open_cases (void)
{
    const char *bad [] = { "tcp://127.0.0.1:1,,", "tcp://127.0.0.1:1, foo://x",
                           "tcp://127.0.0.1:1,", ",tcp://127.0.0.1:1", "foo://x",
                           "tcp://127.0.0.1:1, tcp://nohostport", NULL };
    for (int i = 0; bad [i]; i++) {
        wp_status rc = WP_OK;
        char *message = NULL;
        wp_backend_t *backend = wp_backend_open (bad [i], NULL, &rc, &message);
        if (backend || rc != WP_INVALID_ARGUMENT)
            fprintf (stderr, "'%s': %s %s\n", bad [i], wp_strerror (rc), message ? message : "");
        CT_CHECK (!backend);
        CT_CHECK (rc == WP_INVALID_ARGUMENT);
        CT_CHECK (message && *message);
        printf ("#   '%s': %s\n", bad [i], message);
        free (message);
    }
    //  The element at fault is named
    wp_status rc;
    char *message = NULL;
    CT_CHECK (!wp_backend_open ("tcp://127.0.0.1:1, foo://x", NULL, &rc, &message));
    CT_CHECK (strstr (message, "'foo://x'"));
    free (message);
    CT_CHECK (!wp_backend_open ("tcp://127.0.0.1:1,,tcp://127.0.0.1:2", NULL, &rc, &message));
    CT_CHECK (strstr (message, "endpoint 2 of 3"));
    free (message);

    //  A good list (whitespace ignored) starts on the first
    wp_backend_t *backend = s_open_list (" tcp://127.0.0.1:1 ,\ttcp://127.0.0.1:2", 1);
    CT_CHECK (streq (wp_backend_endpoint (backend), "tcp://127.0.0.1:1"));
    CT_CHECK (wp_backend_moves (backend) == 0);
    wp_backend_destroy (&backend);
    //  One endpoint: as before, and never moves (nothing listens: UNAVAILABLE)
    backend = s_open_list ("tcp://127.0.0.1:1", 1.5);
    CT_STATUS (backend, WP_UNAVAILABLE, wp_backend_ping (backend, NULL, NULL));
    CT_CHECK (wp_backend_moves (backend) == 0);
    CT_CHECK (streq (wp_backend_endpoint (backend), "tcp://127.0.0.1:1"));
    wp_backend_destroy (&backend);
    //  In-process backends have none
    backend = s_open_list ("memory", 1);
    CT_CHECK (wp_backend_endpoint (backend) == NULL && wp_backend_moves (backend) == 0);
    wp_backend_destroy (&backend);
    //  Two dead endpoints: moves round robin, wrapping, and reports UNAVAILABLE
    backend = s_open_list ("tcp://127.0.0.1:1,tcp://127.0.0.1:2", 2.2);
    CT_STATUS (backend, WP_UNAVAILABLE, wp_backend_ping (backend, NULL, NULL));
    CT_CHECK (wp_backend_moves (backend) >= 2);
    wp_backend_destroy (&backend);
    printf ("ok - open: bad lists refused naming the element, one endpoint unchanged\n");
}

//  The broker killer of the claim case: SIGKILL once the claim is out
typedef struct {
    pid_t pid;
    volatile int calling;       //  the main thread is about to claim
} s_killer_t;

static void *
s_killer (void *arg)
{
    s_killer_t *killer = arg;
    while (!__atomic_load_n (&killer->calling, __ATOMIC_ACQUIRE))
        zclock_sleep (1);
    //  The claim is written at once (the stopped broker's connection is up);
    //  this only lets the main thread reach its send
    zclock_sleep (200);
    kill (killer->pid, SIGKILL);
    return NULL;
}

static void
s_failover_case (bool sigkill)
{
    char *dir = ct_tempdir ("failover");
    s_broker_t a = { 0 }, b = { 0 };
    s_broker_start (&a, dir, "a");
    s_broker_start (&b, dir, "b");
    char *spec = zsys_sprintf ("%s,%s", a.endpoint, b.endpoint);
    wp_backend_t *backend = s_open_list (spec, 3);
    wp_pool_t *pool = wp_backend_pool (backend, POOL);

    //  Starts on the first
    char *first = s_push_one (backend, 1);
    CT_CHECK (streq (wp_backend_endpoint (backend), a.endpoint));
    CT_CHECK (s_holds (a.endpoint, first) && !s_holds (b.endpoint, first));
    CT_CHECK (wp_backend_moves (backend) == 0);
    //  An item on the second only, for the claims to find
    wp_backend_t *direct = ct_open (b.endpoint, 10);
    char *waiting = s_push_one (direct, 7);
    wp_backend_destroy (&direct);

    //  The first stops answering (SIGKILL: connection refused; SIGSTOP: the
    //  connection stays up, no reply): the next push moves and succeeds
    kill (a.pid, sigkill ? SIGKILL : SIGSTOP);
    char *second = s_push_one (backend, 2);
    printf ("#   after the push: on %s, %" PRIu64 " moves\n", wp_backend_endpoint (backend),
            wp_backend_moves (backend));
    CT_CHECK (streq (wp_backend_endpoint (backend), b.endpoint));
    CT_CHECK (wp_backend_moves (backend) == 1);
    wp_item_t *item = NULL;
    CT_OK (backend, wp_pool_get (pool, second, &item));
    CT_CHECK (item && ct_unpack_uint (item->data, item->data_size) == 2);
    wp_item_destroy (&item);
    CT_CHECK (s_holds (b.endpoint, second));
    //  Not resent to the first or pushed twice: one copy
    uint64_t size = 0;
    CT_OK (backend, wp_pool_size (pool, &size));
    CT_CHECK (size == 2);
    printf ("ok - %s: the push moved to the second broker and succeeded\n",
            sigkill ? "SIGKILL" : "SIGSTOP");

    //  A claim in flight when the broker in use dies: back to the first
    //  (restarted), stopped, the claim written to it, then killed. It
    //  must not be resent to the other (which holds items it would take)
    s_broker_end (&a);
    s_broker_start (&a, dir, "a2");
    wp_backend_destroy (&backend);
    wp_pool_destroy (&pool);
    free (spec);
    spec = zsys_sprintf ("%s , %s", a.endpoint, b.endpoint);
    backend = s_open_list (spec, 3);
    pool = wp_backend_pool (backend, POOL);
    CT_OK (backend, wp_backend_ping (backend, NULL, NULL));
    CT_CHECK (streq (wp_backend_endpoint (backend), a.endpoint));
    kill (a.pid, SIGSTOP);
    s_killer_t killer = { .pid = a.pid };
    pthread_t thread;
    if (sigkill)
        CT_CHECK (pthread_create (&thread, NULL, s_killer, &killer) == 0);
    __atomic_store_n (&killer.calling, 1, __ATOMIC_RELEASE);
    wp_claim_options_t claim = { .lease = 30 };
    CT_STATUS (backend, WP_DEADLINE_EXCEEDED, wp_pool_claim (pool, "w1", &claim, &item));
    printf ("#   the claim: %s\n", wp_backend_errmsg (backend));
    if (sigkill)
        pthread_join (thread, NULL);
    //  It moved (the next call goes to the second) but did not resend
    CT_CHECK (wp_backend_moves (backend) == 1);
    CT_CHECK (streq (wp_backend_endpoint (backend), b.endpoint));
    wp_stats_t *stats = NULL;
    CT_OK (backend, wp_backend_stats (backend, &stats));
    CT_CHECK (ct_pool_stats (stats, POOL)->pending == 2);
    wp_stats_destroy (&stats);
    //  The next claim works there, and takes an item of the second's
    CT_OK (backend, wp_pool_claim (pool, "w1", &claim, &item));
    CT_CHECK (item);
    CT_CHECK (streq (item->id, waiting) || streq (item->id, second));
    CT_OK (backend, wp_pool_complete (pool, item->id, NULL, 0, "w1"));
    wp_item_destroy (&item);
    CT_CHECK (wp_backend_moves (backend) == 1);
    printf ("ok - %s: a claim in flight is not resent (DEADLINE_EXCEEDED), the next "
            "claim works on the new broker, one move counted\n", sigkill ? "SIGKILL" : "SIGSTOP");

    wp_pool_destroy (&pool);
    wp_backend_destroy (&backend);
    free (first);
    free (second);
    free (waiting);
    free (spec);
    s_broker_end (&a);
    s_broker_end (&b);
    ct_rmtree (dir);
    free (dir);
}

static void
s_pipeline_case (void)
{
    const int items = 2000;
    char *dir = ct_tempdir ("failpipe");
    s_broker_t a = { 0 }, b = { 0 };
    s_broker_start (&a, dir, "a");
    s_broker_start (&b, dir, "b");
    char *spec = zsys_sprintf ("%s,%s", a.endpoint, b.endpoint);
    wp_backend_t *backend = s_open_list (spec, 10);
    CT_OK (backend, wp_backend_ping (backend, NULL, NULL));
    wp_pipeline_t *pipeline = wp_pipeline_new (backend, 32);
    CT_CHECK (pipeline);
    int acked = 0;
    for (int i = 0; i < items; i++) {
        if (i == items / 2)
            kill (a.pid, SIGKILL);
        uint8_t data [9];
        wp_push_entry_t entry = { data, ct_pack_uint (data, (uint64_t) i), NULL, 3 };
        CT_OK (backend, wp_pipeline_push (pipeline, POOL, &entry, NULL));
        wp_completion_t *done;
        while (wp_pipeline_in_flight (pipeline) < 16 && (done = wp_pipeline_next (pipeline))) {
            if (done->status != WP_OK)
                fprintf (stderr, "push: %s: %s\n", wp_strerror (done->status), done->message);
            CT_CHECK (done->status == WP_OK);
            acked++;
            wp_completion_destroy (&done);
            if (wp_pipeline_in_flight (pipeline) == 0)
                break;
        }
    }
    wp_completion_t *done;
    while ((done = wp_pipeline_next (pipeline))) {
        if (done->status != WP_OK)
            fprintf (stderr, "push: %s: %s\n", wp_strerror (done->status), done->message);
        CT_CHECK (done->status == WP_OK);
        acked++;
        wp_completion_destroy (&done);
    }
    CT_CHECK (acked == items);
    wp_pipeline_destroy (&pipeline);
    CT_CHECK (wp_backend_moves (backend) == 1);
    CT_CHECK (streq (wp_backend_endpoint (backend), b.endpoint));
    //  What the first acknowledged is in its file; the rest on the second
    uint64_t on_b = 0;
    wp_pool_t *pool = wp_backend_pool (backend, POOL);
    CT_OK (backend, wp_pool_size (pool, &on_b));
    wp_pool_destroy (&pool);
    wp_backend_destroy (&backend);
    s_broker_end (&a);
    s_broker_start (&a, dir, "a");
    wp_backend_t *first = ct_open (a.endpoint, 10);
    pool = wp_backend_pool (first, POOL);
    uint64_t on_a = 0;
    CT_OK (first, wp_pool_size (pool, &on_a));
    wp_pool_destroy (&pool);
    wp_backend_destroy (&first);
    printf ("#   %" PRIu64 " items on the first, %" PRIu64 " on the second\n", on_a, on_b);
    //  Each acknowledged on one of them; a push resent to the second after
    //  the first took it is on both (separate files: no shared ids)
    CT_CHECK (on_a + on_b >= (uint64_t) items);
    CT_CHECK (on_b > 0 && on_a > 0);
    printf ("ok - pipeline: %d pushes acknowledged across a SIGKILL, one move\n", items);
    free (spec);
    s_broker_end (&a);
    s_broker_end (&b);
    ct_rmtree (dir);
    free (dir);
}

int
main (int argc, char *argv [])
{
    zsys_init ();
    zsys_set_linger (0);
    signal (SIGPIPE, SIG_IGN);
    atexit (s_kill_all);
    const char *which = argc > 1 ? argv [1] : "open";
    if (streq (which, "open"))
        s_open_cases ();
    else
    if (streq (which, "kill"))
        s_failover_case (true);
    else
    if (streq (which, "stop"))
        s_failover_case (false);
    else
    if (streq (which, "pipeline"))
        s_pipeline_case ();
    else {
        fprintf (stderr, "usage: failover open | kill | stop | pipeline\n");
        return 2;
    }
    return 0;
}
