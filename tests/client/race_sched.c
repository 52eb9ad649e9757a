/*  race_sched: the race of race.c with scheduling mixed in. 16 worker
    processes, each with its own connection, claim and complete items of
    five priorities (-2..2), a third of them pushed with delays of up to
    1.5 s, with single claims, ClaimMany and CompleteAndClaim chains that
    wait for items to fall due. Each worker logs every item it was given,
    with the broker's claimed_at, and every completion acknowledged.
    Afterwards:
    - every item was claimed once and completed once (the logs and the
      broker's stats and records);
    - no item was claimed before it fell due (claimed_at >= run_at);
    - most urgent first within what was due: no item X was claimed while an
      item of a lower priority number had been due for a while (S_SLACK_US)
      and was still unclaimed. The slack covers the microseconds between
      a claim reading the clock to promote due items and stamping claimed_at.
    Usage: race_sched [memory | sqlite | image] [ITEMS] [WORKERS]
           race_sched worker ENDPOINT INDEX LOGFILE  (what the parent runs)  */
#include "client_util.h"

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define POOL        "sched"
#define S_LEVELS    5           //  priorities -2..2
#define S_SLACK_US  INT64_C (5000)

//  ---------------------------------------------------------------------
//  A worker process

typedef struct {
    FILE *log;
    wp_backend_t *backend;
    wp_pool_t *pool;
    char worker_id [32];
} s_worker_t;

static void
s_claimed (s_worker_t *self, const wp_item_t *item)
{
    CT_CHECK (streq (item->claimed_by, self->worker_id) && item->status == WP_ITEM_CLAIMED);
    fprintf (self->log, "C %s %" PRId64 "\n", item->id, item->claimed_at);
}

static void
s_complete (s_worker_t *self, const wp_item_t *item)
{
    CT_OK (self->backend, wp_pool_complete (self->pool, item->id, NULL, 0, self->worker_id));
    fprintf (self->log, "D %s\n", item->id);
}

static int
s_worker_main (const char *endpoint, int index, const char *log_path)
{
    s_worker_t self = { 0 };
    snprintf (self.worker_id, sizeof self.worker_id, "sched-%d", index);
    self.log = fopen (log_path, "w");
    CT_CHECK (self.log);
    self.backend = ct_open (endpoint, 30);
    self.pool = wp_backend_pool (self.backend, POOL);
    //  Waits outlast the longest delay: a worker stops when nothing falls
    //  due for that long
    wp_claim_options_t claim = { .wait = 3 };
    unsigned seed = (unsigned) index * 7919u + 1;
    while (true) {
        int mode = rand_r (&seed) % 3;
        if (mode == 0) {
            wp_item_t *item = NULL;
            CT_OK (self.backend, wp_pool_claim (self.pool, self.worker_id, &claim, &item));
            if (!item)
                break;
            s_claimed (&self, item);
            s_complete (&self, item);
            wp_item_destroy (&item);
        }
        else
        if (mode == 1) {
            wp_item_list_t *list = NULL;
            size_t max = 1 + rand_r (&seed) % 20;
            CT_OK (self.backend, wp_pool_claim_many (self.pool, self.worker_id, max, &claim,
                                                     &list));
            size_t count = list->count;
            CT_CHECK (count <= max);
            for (size_t i = 0; i < count; i++)
                s_claimed (&self, list->items [i]);
            for (size_t i = 0; i < count; i++)
                s_complete (&self, list->items [i]);
            wp_item_list_destroy (&list);
            if (count == 0)
                break;
        }
        else {
            wp_item_t *item = NULL;
            CT_OK (self.backend, wp_pool_claim (self.pool, self.worker_id, &claim, &item));
            if (!item)
                break;
            s_claimed (&self, item);
            int steps = 1 + rand_r (&seed) % 10;
            for (int step = 0; step < steps && item; step++) {
                wp_item_t *next = NULL;
                CT_OK (self.backend, wp_pool_complete_and_claim (self.pool, item->id, NULL, 0,
                                                                 self.worker_id, &claim, &next));
                fprintf (self.log, "D %s\n", item->id);
                wp_item_destroy (&item);
                item = next;
                if (item)
                    s_claimed (&self, item);
            }
            if (item) {
                s_complete (&self, item);
                wp_item_destroy (&item);
            }
        }
    }
    wp_pool_destroy (&self.pool);
    wp_backend_destroy (&self.backend);
    CT_CHECK (fclose (self.log) == 0);
    return 0;
}

//  ---------------------------------------------------------------------
//  The parent

typedef struct {
    int32_t priority;
    int64_t due;                //  run_at, else created_at
    int64_t claimed_at;
    int claims, dones;
} s_item_t;

static int
s_by_due (const void *a, const void *b, void *arg)
{
    const s_item_t *items = arg;
    int64_t x = items [*(const int *) a].due, y = items [*(const int *) b].due;
    return x < y ? -1 : x > y;
}

int
main (int argc, char *argv [])
{
    if (argc == 5 && streq (argv [1], "worker"))
        return s_worker_main (argv [2], atoi (argv [3]), argv [4]);
    const char *kind = argc > 1 ? argv [1] : "memory";
    int count = argc > 2 ? atoi (argv [2]) : 6000;
    int workers = argc > 3 ? atoi (argv [3]) : 16;
    CT_CHECK (count > 0 && workers > 0 && workers < 1000);

    char *dir = ct_tempdir ("race_sched");
    char *store = streq (kind, "memory") ? strdup ("memory")
                : zsys_sprintf ("%s:%s/broker.db", kind, dir);
    char *endpoint;
    zactor_t *broker = ct_broker_start (store, 0, 0, 0, &endpoint);
    wp_backend_t *backend = ct_open (endpoint, 60);
    wp_pool_t *pool = wp_backend_pool (backend, POOL);

    //  The items: id "i<N>", priority and delay drawn at random
    s_item_t *items = calloc (count, sizeof *items);
    wp_push_entry_t *entries = calloc (WP_BATCH_MAX, sizeof *entries);
    char (*names) [16] = calloc (WP_BATCH_MAX, sizeof *names);
    char **ids = calloc (WP_BATCH_MAX, sizeof (char *));
    uint8_t value = 0xc0;       //  msgpack nil
    CT_CHECK (items && entries && names && ids);
    unsigned seed = 12345;
    for (int base = 0; base < count; base += WP_BATCH_MAX) {
        size_t batch = count - base < WP_BATCH_MAX ? (size_t) (count - base) : WP_BATCH_MAX;
        for (size_t i = 0; i < batch; i++) {
            snprintf (names [i], sizeof names [i], "i%zu", base + i);
            int32_t priority = (int32_t) (rand_r (&seed) % S_LEVELS) - 2;
            double delay = rand_r (&seed) % 3 == 0 ? (rand_r (&seed) % 1500 + 1) / 1000.0 : 0;
            entries [i] = (wp_push_entry_t) { &value, 1, names [i], -1, .delay = delay,
                                              .priority = priority };
        }
        CT_OK (backend, wp_pool_push_many (pool, entries, batch, ids, NULL));
        for (size_t i = 0; i < batch; i++)
            free (ids [i]);
    }
    free (entries);
    free (names);
    free (ids);

    pid_t *pids = calloc (workers, sizeof *pids);
    for (int w = 0; w < workers; w++) {
        char index_text [16];
        snprintf (index_text, sizeof index_text, "%d", w);
        char *log = zsys_sprintf ("%s/worker-%d.log", dir, w);
        pids [w] = fork ();
        CT_CHECK (pids [w] >= 0);
        if (pids [w] == 0) {
            execl ("/proc/self/exe", argv [0], "worker", endpoint, index_text, log,
                   (char *) NULL);
            _exit (127);
        }
        free (log);
    }
    for (int w = 0; w < workers; w++) {
        int status;
        CT_CHECK (waitpid (pids [w], &status, 0) == pids [w]);
        if (!WIFEXITED (status) || WEXITSTATUS (status) != 0) {
            fprintf (stderr, "worker %d failed (status %d)\n", w, status);
            exit (1);
        }
    }
    free (pids);

    //  The logs
    for (int w = 0; w < workers; w++) {
        char *path = zsys_sprintf ("%s/worker-%d.log", dir, w);
        FILE *log = fopen (path, "r");
        CT_CHECK (log);
        char line [128];
        while (fgets (line, sizeof line, log)) {
            int index = atoi (line + 3);
            CT_CHECK (line [2] == 'i' && index >= 0 && index < count);
            if (line [0] == 'C') {
                items [index].claims++;
                items [index].claimed_at = strtoll (strchr (line + 3, ' ') + 1, NULL, 10);
            }
            else
                items [index].dones++;
        }
        fclose (log);
        free (path);
    }
    //  The broker's records: each done once, never claimed before it was due
    int delayed = 0;
    for (int i = 0; i < count; i++) {
        char id [16];
        snprintf (id, sizeof id, "i%d", i);
        if (items [i].claims != 1 || items [i].dones != 1) {
            fprintf (stderr, "item %s: claimed %d times, completed %d times\n", id,
                     items [i].claims, items [i].dones);
            exit (1);
        }
        wp_item_t *item = NULL;
        CT_OK (backend, wp_pool_get (pool, id, &item));
        CT_CHECK (item->status == WP_ITEM_DONE && item->attempts == 0);
        items [i].priority = item->priority;
        items [i].due = item->run_at ? item->run_at : item->created_at;
        delayed += item->run_at != 0;
        if (items [i].claimed_at < items [i].due) {
            fprintf (stderr, "item %s claimed at %" PRId64 ", before it was due at %" PRId64 "\n",
                     id, items [i].claimed_at, items [i].due);
            exit (1);
        }
        wp_item_destroy (&item);
    }
    CT_CHECK (delayed > count / 5);
    wp_stats_t *stats = NULL;
    CT_OK (backend, wp_backend_stats (backend, &stats));
    const wp_pool_stats_t *counts = ct_pool_stats (stats, POOL);
    CT_CHECK (counts->done == (uint64_t) count && counts->pending == 0);
    CT_CHECK (counts->claimed == 0 && counts->scheduled == 0 && counts->poisoned == 0);
    wp_stats_destroy (&stats);

    //  Most urgent first: for each priority level L, the items of L sorted
    //  by due time with the latest claim among those due by then; an item X
    //  of a higher level claimed at c must not find an L item due by
    //  c - slack that was claimed after c.
    int *order = calloc (count, sizeof *order);
    int64_t *latest = calloc (count, sizeof *latest);
    CT_CHECK (order && latest);
    long inversions = 0;
    for (int level = -2; level <= 2; level++) {
        int n = 0;
        for (int i = 0; i < count; i++)
            if (items [i].priority == level)
                order [n++] = i;
        qsort_r (order, n, sizeof *order, s_by_due, items);
        for (int k = 0; k < n; k++)
            latest [k] = k && latest [k - 1] > items [order [k]].claimed_at
                       ? latest [k - 1] : items [order [k]].claimed_at;
        for (int x = 0; x < count; x++) {
            if (items [x].priority <= level)
                continue;
            int64_t cutoff = items [x].claimed_at - S_SLACK_US;
            int low = 0, high = n;          //  the L items due by cutoff: order [0..low)
            while (low < high) {
                int mid = (low + high) / 2;
                if (items [order [mid]].due <= cutoff)
                    low = mid + 1;
                else
                    high = mid;
            }
            if (low > 0 && latest [low - 1] > items [x].claimed_at) {
                if (inversions++ < 5)
                    fprintf (stderr, "item i%d (priority %d) claimed at %" PRId64 " while an"
                             " item of priority %d due by then was still waiting\n", x,
                             items [x].priority, items [x].claimed_at, level);
            }
        }
    }
    CT_CHECK (inversions == 0);
    printf ("ok - %d items (%d delayed), %d workers: each claimed and completed once, none"
            " before it was due, most urgent first\n", count, delayed, workers);

    free (order);
    free (latest);
    free (items);
    wp_pool_destroy (&pool);
    wp_backend_destroy (&backend);
    zactor_destroy (&broker);
    free (endpoint);
    free (store);
    ct_rmtree (dir);
    free (dir);
    return 0;
}
