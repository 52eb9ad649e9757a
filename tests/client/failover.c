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
s_broker_start_on (s_broker_t *self, const char *dir, const char *name, const char *kind,
                   const char *db)
{
    self->db = db ? strdup (db) : zsys_sprintf ("%s/%s.db", dir, name);
    self->endpoint = zsys_sprintf ("ipc://%s/%s.ipc", dir, name);
    const char *bin = getenv ("WP_BINARY_DIR");
    char *path = zsys_sprintf ("%s/broker/workpoold", bin ? bin : ".");
    pid_t pid = fork ();
    CT_CHECK (pid >= 0);
    if (pid == 0) {
        int null = open ("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2 (null, 2);
        execl (path, path, "--bind", self->endpoint, "--store", kind, "--db", self->db,
               "--lease", "3", (char *) NULL);
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
s_broker_start (s_broker_t *self, const char *dir, const char *name)
{
    s_broker_start_on (self, dir, name, "sqlite", NULL);
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
    //  A dup starts where the handle is, not counted as a move
    wp_status dup_rc;
    wp_backend_t *copy = wp_backend_dup (backend, &dup_rc, NULL);
    CT_CHECK (copy);
    CT_CHECK (streq (wp_backend_endpoint (copy), b.endpoint) && wp_backend_moves (copy) == 0);
    CT_OK (copy, wp_backend_ping (copy, NULL, NULL));
    CT_CHECK (wp_backend_moves (copy) == 0);
    wp_backend_destroy (&copy);
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

//  ---------------------------------------------------------------------
//  pg: end to end on PostgreSQL, three brokers on one database. A producer
//  (wp_pipeline, ids made by the client) and two runners (subscriptions,
//  credit 16) are given all three endpoints; the one in use is SIGKILLed
//  when a quarter is done. Every acknowledged push is in the database,
//  no resent push made a second item, every item ends done, and each was
//  completed (acknowledged OK) once.

#define PG_RUNNERS  2

static void
s_log (int fd, char kind, const char *id)
{
    char line [300];
    int size = snprintf (line, sizeof line, "%c %s\n", kind, id);
    CT_CHECK (write (fd, line, size) == size);
}

static int
s_producer_main (const char *spec, int items, const char *log_path)
{
    int fd = open (log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    CT_CHECK (fd >= 0);
    wp_backend_t *backend = s_open_list (spec, 20);
    wp_pipeline_t *pipeline = wp_pipeline_new (backend, 32);
    int acked = 0;
    for (int i = 0; i <= items; i++) {
        if (i < items) {
            uint8_t data [9];
            wp_push_entry_t entry = { data, ct_pack_uint (data, (uint64_t) i), NULL, 3 };
            CT_OK (backend, wp_pipeline_push (pipeline, POOL, &entry, NULL));
        }
        wp_completion_t *done;
        while ((i == items || wp_pipeline_in_flight (pipeline) >= 16)
        &&     (done = wp_pipeline_next (pipeline))) {
            if (done->status != WP_OK)
                fprintf (stderr, "push: %s: %s\n", wp_strerror (done->status), done->message);
            CT_CHECK (done->status == WP_OK && done->count == 1);
            CT_CHECK (!done->duplicates [0]);
            s_log (fd, 'P', done->ids [0]);
            acked++;
            wp_completion_destroy (&done);
        }
    }
    CT_CHECK (acked == items);
    printf ("#   producer: %d pushes acknowledged, %" PRIu64 " moves\n", acked,
            wp_backend_moves (backend));
    wp_pipeline_destroy (&pipeline);
    wp_backend_destroy (&backend);
    close (fd);
    return 0;
}

static int
s_runner_main (const char *spec, const char *dir, int index, const char *log_path)
{
    int fd = open (log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    CT_CHECK (fd >= 0);
    wp_backend_t *backend = s_open_list (spec, 20);
    wp_pool_t *pool = wp_backend_pool (backend, POOL);
    char worker_id [32];
    snprintf (worker_id, sizeof worker_id, "runner-%d", index);
    wp_status rc;
    wp_subscription_t *sub = wp_subscription_new (pool, worker_id, 16, 3, &rc, NULL);
    CT_CHECK (sub);
    char *stop = zsys_sprintf ("%s/stop", dir);
    while (access (stop, F_OK) != 0) {
        wp_item_t *item = NULL;
        rc = wp_subscription_next (sub, 0.5, &item);
        if (rc != WP_OK)
            fprintf (stderr, "next: %s: %s\n", wp_strerror (rc), wp_subscription_errmsg (sub));
        CT_CHECK (rc == WP_OK);
        if (!item)
            continue;
        //  Logged before the acknowledgement goes out; a failed one is
        //  logged F below, so D minus F is what the broker acknowledged
        s_log (fd, 'D', item->id);
        CT_CHECK (wp_subscription_complete (sub, item->id, NULL, 0) == WP_OK);
        wp_item_destroy (&item);
        char *id, *message;
        wp_status status;
        while (wp_subscription_failure (sub, &id, &status, &message)) {
            s_log (fd, 'F', id);
            free (id);
            free (message);
        }
    }
    wp_subscription_flush (sub);
    char *id, *message;
    wp_status status;
    while (wp_subscription_failure (sub, &id, &status, &message)) {
        s_log (fd, 'F', id);
        free (id);
        free (message);
    }
    wp_subscription_stats_t stats;
    wp_subscription_stats (sub, &stats);
    printf ("#   %s: %" PRIu64 " delivered, %" PRIu64 " acked, %" PRIu64 " failed, %" PRIu64
            " resubscribes\n", worker_id, stats.delivered, stats.acked, stats.ack_failures,
            stats.resubscribes);
    wp_subscription_destroy (&sub);
    wp_pool_destroy (&pool);
    wp_backend_destroy (&backend);
    free (stop);
    close (fd);
    return 0;
}

static void
s_pg_case (const char *argv0, int items)
{
    const char *conninfo = getenv ("WP_TEST_PG");
    CT_CHECK (conninfo && *conninfo);
    char *dir = ct_tempdir ("failpg");
    s_broker_t brokers [3] = { { 0 } };
    const char *names [3] = { "a", "b", "c" };
    for (int i = 0; i < 3; i++)
        s_broker_start_on (&brokers [i], dir, names [i], "postgres", conninfo);
    char *spec = zsys_sprintf ("%s,%s,%s", brokers [0].endpoint, brokers [1].endpoint,
                               brokers [2].endpoint);
    char items_text [16];
    snprintf (items_text, sizeof items_text, "%d", items);
    pid_t pids [1 + PG_RUNNERS];
    for (int k = 0; k < 1 + PG_RUNNERS; k++) {
        char index_text [16];
        snprintf (index_text, sizeof index_text, "%d", k);
        char *log = zsys_sprintf ("%s/worker-%d.log", dir, k);
        pids [k] = fork ();
        CT_CHECK (pids [k] >= 0);
        if (pids [k] == 0) {
            if (k == 0)
                execl ("/proc/self/exe", argv0, "producer", spec, items_text, log, (char *) NULL);
            else
                execl ("/proc/self/exe", argv0, "runner", spec, dir, index_text, log,
                       (char *) NULL);
            _exit (127);
        }
        free (log);
    }
    //  Watch from the last broker; kill the first (every client's) at a quarter
    wp_backend_t *watch = ct_open (brokers [2].endpoint, 20);
    wp_pool_t *pool = wp_backend_pool (watch, POOL);
    bool killed = false;
    uint64_t done = 0;
    while (done < (uint64_t) items) {
        zclock_sleep (50);
        wp_stats_t *stats = NULL;
        CT_OK (watch, wp_backend_stats (watch, &stats));
        const wp_pool_stats_t *counts = NULL;
        for (size_t i = 0; i < stats->pool_count; i++)
            if (streq (stats->pools [i].pool, POOL))
                counts = &stats->pools [i];
        done = counts ? counts->done : 0;
        wp_stats_destroy (&stats);
        if (!killed && done >= (uint64_t) items / 4) {
            kill (brokers [0].pid, SIGKILL);
            killed = true;
            printf ("#   SIGKILL %s at %" PRIu64 " done\n", brokers [0].endpoint, done);
        }
    }
    char *stop = zsys_sprintf ("%s/stop", dir);
    FILE *file = fopen (stop, "w");
    CT_CHECK (file);
    fclose (file);
    for (int k = 0; k < 1 + PG_RUNNERS; k++) {
        int status;
        CT_CHECK (waitpid (pids [k], &status, 0) == pids [k]);
        CT_CHECK (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    }
    //  The producer's log: each acknowledged id once, and in the database done
    zhashx_t *index = zhashx_new ();
    char *path = zsys_sprintf ("%s/worker-0.log", dir);
    file = fopen (path, "r");
    CT_CHECK (file);
    char line [300];
    int pushed = 0;
    char **ids = calloc (items, sizeof *ids);
    CT_CHECK (ids);
    while (fgets (line, sizeof line, file)) {
        line [strcspn (line, "\n")] = 0;
        CT_CHECK (line [0] == 'P' && pushed < items);
        ids [pushed] = strdup (line + 2);
        CT_CHECK (zhashx_insert (index, line + 2, (void *) (intptr_t) (++pushed)) == 0);
    }
    fclose (file);
    free (path);
    CT_CHECK (pushed == items);
    int *completes = ct_count_logs (dir, 1 + PG_RUNNERS, index, items, 'D', NULL);
    int *failures = ct_count_logs (dir, 1 + PG_RUNNERS, index, items, 'F', NULL);
    for (int i = 0; i < items; i++) {
        const char *key = ids [i];
        wp_item_t *item = NULL;
        CT_OK (watch, wp_pool_get (pool, key, &item));
        CT_CHECK (item && item->status == WP_ITEM_DONE);
        wp_item_destroy (&item);
        if (completes [i] - failures [i] != 1)
            fprintf (stderr, "%s: %d completes, %d refused\n", key, completes [i], failures [i]);
        CT_CHECK (completes [i] - failures [i] == 1);
    }
    //  No item but the acknowledged ones: no resent push made a second
    uint64_t size = 0, total = 0;
    wp_stats_t *stats = NULL;
    CT_OK (watch, wp_backend_stats (watch, &stats));
    const wp_pool_stats_t *counts = ct_pool_stats (stats, POOL);
    total = counts->pending + counts->claimed + counts->done + counts->poisoned;
    wp_stats_destroy (&stats);
    CT_OK (watch, wp_pool_size (pool, &size));
    printf ("#   %" PRIu64 " items in the database, %d pushed\n", total, pushed);
    CT_CHECK (total == (uint64_t) items && size == 0);
    printf ("ok - pg: 3 brokers, the one in use SIGKILLed mid-load: %d pushes and their "
            "completes all in the database, each item done once, no duplicates\n", items);
    free (completes);
    free (failures);
    for (int i = 0; i < items; i++)
        free (ids [i]);
    free (ids);
    zhashx_destroy (&index);
    wp_pool_destroy (&pool);
    wp_backend_destroy (&watch);
    free (stop);
    free (spec);
    for (int i = 0; i < 3; i++)
        s_broker_end (&brokers [i]);
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
    if (argc == 5 && streq (which, "producer"))
        return s_producer_main (argv [2], atoi (argv [3]), argv [4]);
    if (argc == 6 && streq (which, "runner"))
        return s_runner_main (argv [2], argv [3], atoi (argv [4]), argv [5]);
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
    else
    if (streq (which, "pg"))
        s_pg_case (argv [0], argc > 2 ? atoi (argv [2]) : 3000);
    else {
        fprintf (stderr, "usage: failover open | kill | stop | pipeline\n");
        return 2;
    }
    return 0;
}
