/*  test_pg_reap: expiry raced by brokers sharing one database. A store
    makes 1,000 claims whose leases lapse, 10 workers that go stale holding
    50 claims each, and 300 scheduled items, all falling due by the same
    time; then four processes, each its own store (connection) with its
    clock past that time, released at once, reap together. Each item must
    be reclaimed once: the reapers' counts (plus a last reap by the parent,
    for anything a reaper skipped because another held it at that moment)
    add up to exactly 1,000 lapsed leases, 10 lost workers, 1,500 items
    requeued and 300 promoted, and every reclaimed item has attempts 1 and
    the error of its own reclaim. The whole race runs three times.
    Usage: with_postgres.sh test_pg_reap  */
#include "pgtest.h"
#include <sys/wait.h>

#define S_REAPERS   4
#define S_LAPSED    1000
#define S_GONE      10
#define S_PER_GONE  50
#define S_SCHEDULED 300
#define S_T0        (INT64_C(1800000000) * SECOND)

static void
s_claim (wp_store_t *store, const char *worker, int count, double lease)
{
    for (int i = 0; i < count; i++) {
        wp_item_t *item = NULL;
        CHECK_OK (store, wp_store_claim (store, "r", worker, lease, &item));
        CHECK (item);
        wp_item_destroy (&item);
    }
}

static void
s_register (wp_store_t *store, const char *worker_id, double heartbeat)
{
    wp_worker_t *worker = wp_worker_new ();
    worker->worker_id = wp_strdup (worker_id);
    worker->heartbeat_interval = heartbeat;
    CHECK_OK (store, wp_store_register (store, worker, NULL));
    wp_worker_destroy (&worker);
}

static void
s_reaper (const char *conninfo, int gate, int out)
{
    wp_status status;
    char *message = NULL;
    wp_store_t *store = wp_store_postgres_new (conninfo, NULL, &status, &message);
    if (!store) {
        fprintf (stderr, "reaper: cannot open: %s\n", message);
        _exit (2);
    }
    wp_test_clock_t clock = { S_T0 + 100 * SECOND };
    wp_store_set_clock (store, wp_test_clock_read, &clock);
    char byte;
    if (read (gate, &byte, 1) != 0)
        _exit (2);
    wp_reap_t reap;
    status = wp_store_reap (store, &reap);
    if (status != WP_OK) {
        fprintf (stderr, "reaper: %s: %s\n", wp_strerror (status), wp_store_errmsg (store));
        _exit (1);
    }
    if (write (out, &reap, sizeof reap) != (ssize_t) sizeof reap)
        _exit (2);
    wp_store_destroy (&store);
    _exit (0);
}

static void
s_add (wp_reap_t *to, const wp_reap_t *from)
{
    to->leases_expired += from->leases_expired;
    to->workers_lost += from->workers_lost;
    to->requeued += from->requeued;
    to->poisoned += from->poisoned;
    to->backed_off += from->backed_off;
    to->promoted += from->promoted;
}

static void
s_round (int round)
{
    char conninfo [1024];
    pgtest_schema_new ("reap", conninfo);
    wp_store_t *store = pgtest_open (conninfo, NULL);
    wp_test_clock_t clock = { S_T0 };
    wp_store_set_clock (store, wp_test_clock_read, &clock);

    //  Lapsing claims first (push order), then the lost workers' claims
    CHECK_OK (store, wp_store_begin (store));
    int total = S_LAPSED + S_GONE * S_PER_GONE;
    for (int i = 0; i < total; i++) {
        char id [16];
        snprintf (id, sizeof id, "i%05d", i);
        pgtest_push (store, "r", id);
    }
    static const uint8_t data [] = { 0xc0 };
    for (int i = 0; i < S_SCHEDULED; i++) {
        char id [16];
        snprintf (id, sizeof id, "s%05d", i);
        wp_push_entry_t entry = { data, sizeof data, id, -1, .delay = 20 };
        char *id_out = NULL;
        CHECK_OK (store, wp_store_push (store, "r", &entry, &id_out, NULL));
        free (id_out);
    }
    s_register (store, "lapsed", 1000);
    s_claim (store, "lapsed", S_LAPSED, 10);
    for (int g = 0; g < S_GONE; g++) {
        char worker [16];
        snprintf (worker, sizeof worker, "gone%d", g);
        s_register (store, worker, 5);
        s_claim (store, worker, S_PER_GONE, 1000);
    }
    CHECK_OK (store, wp_store_commit (store));
    wp_store_destroy (&store);

    int gate [2], results [2];
    CHECK (pipe (gate) == 0 && pipe (results) == 0);
    pid_t pids [S_REAPERS];
    for (int i = 0; i < S_REAPERS; i++) {
        pids [i] = fork ();
        CHECK (pids [i] >= 0);
        if (pids [i] == 0) {
            close (gate [1]);
            close (results [0]);
            s_reaper (conninfo, gate [0], results [1]);
        }
    }
    close (gate [0]);
    close (results [1]);
    //  Let every reaper connect before the gate opens
    usleep (300 * 1000);
    close (gate [1]);
    wp_reap_t sum = { 0 };
    char split [128] = "";
    for (int i = 0; i < S_REAPERS; i++) {
        int wstatus;
        CHECK (waitpid (pids [i], &wstatus, 0) == pids [i]);
        CHECK (WIFEXITED (wstatus) && WEXITSTATUS (wstatus) == 0);
        wp_reap_t reap;
        CHECK (read (results [0], &reap, sizeof reap) == (ssize_t) sizeof reap);
        s_add (&sum, &reap);
        size_t used = strlen (split);
        snprintf (split + used, sizeof split - used, "%s%llu", i? "/": "",
                  (unsigned long long) (reap.requeued + reap.promoted));
    }
    close (results [0]);

    store = pgtest_open (conninfo, NULL);
    clock.now = S_T0 + 100 * SECOND;
    wp_store_set_clock (store, wp_test_clock_read, &clock);
    wp_reap_t last;
    CHECK_OK (store, wp_store_reap (store, &last));
    s_add (&sum, &last);
    CHECK_INT (sum.leases_expired, S_LAPSED);
    CHECK_INT (sum.workers_lost, S_GONE);
    CHECK_INT (sum.requeued, total);
    CHECK_INT (sum.poisoned + sum.backed_off, 0);
    CHECK_INT (sum.promoted, S_SCHEDULED);

    uint64_t size = 0;
    CHECK_OK (store, wp_store_size (store, "r", &size));
    CHECK_INT (size, total + S_SCHEDULED);
    for (int i = 0; i < total; i++) {
        char id [16];
        snprintf (id, sizeof id, "i%05d", i);
        wp_item_t *item = NULL;
        CHECK_OK (store, wp_store_get (store, "r", id, &item));
        CHECK_INT (item->status, WP_ITEM_PENDING);
        CHECK_INT (item->attempts, 1);
        CHECK_STR (item->error, i < S_LAPSED? "lease expired": "worker lost");
        wp_item_destroy (&item);
    }
    wp_worker_list_t *workers = NULL;
    CHECK_OK (store, wp_store_list_workers (store, NULL, &workers));
    CHECK_INT (workers->count, S_GONE + 1);
    for (size_t i = 0; i < workers->count; i++) {
        bool gone = strncmp (workers->workers [i]->worker_id, "gone", 4) == 0;
        CHECK_STR (workers->workers [i]->status, gone? "lost": "active");
        CHECK (workers->workers [i]->current_task_id == NULL);
    }
    wp_worker_list_destroy (&workers);
    wp_store_destroy (&store);
    printf ("test_pg_reap round %d: %d reapers reclaimed %d items and promoted %d, each once "
            "(per reaper: %s; left for the last reap: %llu)\n", round, S_REAPERS, total,
            S_SCHEDULED, split, (unsigned long long) (last.requeued + last.promoted));
}

int
main (void)
{
    for (int round = 1; round <= 3; round++)
        s_round (round);
    return 0;
}
