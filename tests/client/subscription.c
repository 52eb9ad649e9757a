/*  subscription: wp_subscription_t on every backend (memory, sqlite:PATH, a
    broker on the sqlite and image stores): every item delivered once and
    done, the items in hand never more than the credit, acknowledgements in
    flight while the stream goes on, bad arguments refused with a message,
    failed acknowledgements reported. "kill" runs a workpoold process on
    sqlite (or image), SIGKILLs it mid-stream and starts it again: the
    subscription subscribes again by itself, and every item ends done (those
    in hand at the kill come back after their lease). "runners" races
    runners with a credit across processes: each item completed once.
    Usage: subscription
           subscription kill [sqlite | image]
           subscription runners [sqlite | image | memory] ITEMS WORKERS CREDIT
           subscription runner ENDPOINT CREDIT INDEX LOG   (what "runners" runs)  */
#include "client_util.h"
#include "wp_limits.h"

#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define POOL "sub"

//  Pushes items whose data is their index; returns the ids and fills
//  *index_p (id -> 1 + position).
static char **
s_push (wp_backend_t *backend, wp_pool_t *pool, int items, zhashx_t **index_p)
{
    char **ids = calloc (items, sizeof (char *));
    uint8_t (*data) [9] = calloc (WP_BATCH_MAX, sizeof *data);
    wp_push_entry_t *entries = calloc (WP_BATCH_MAX, sizeof *entries);
    CT_CHECK (ids && data && entries);
    for (int base = 0; base < items; base += WP_BATCH_MAX) {
        size_t count = items - base < WP_BATCH_MAX ? (size_t) (items - base) : WP_BATCH_MAX;
        for (size_t i = 0; i < count; i++)
            entries [i] = (wp_push_entry_t) { data [i], ct_pack_uint (data [i], base + i),
                                              NULL, -1 };
        CT_OK (backend, wp_pool_push_many (pool, entries, count, ids + base, NULL));
    }
    free (data);
    free (entries);
    zhashx_t *index = zhashx_new ();
    for (int i = 0; i < items; i++)
        zhashx_insert (index, ids [i], (void *) (intptr_t) (i + 1));
    CT_CHECK ((int) zhashx_size (index) == items);
    *index_p = index;
    return ids;
}

static void
s_free_ids (char **ids, int items)
{
    for (int i = 0; i < items; i++)
        free (ids [i]);
    free (ids);
}

//  Every item of pool done with result 3 * index + 1.
static void
s_check_done (wp_backend_t *backend, wp_pool_t *pool, char **ids, int items)
{
    wp_stats_t *stats = NULL;
    CT_OK (backend, wp_backend_stats (backend, &stats));
    const wp_pool_stats_t *counts = ct_pool_stats (stats, wp_pool_name (pool));
    if (counts->done != (uint64_t) items)
        fprintf (stderr, "done %" PRIu64 " of %d (pending %" PRIu64 ", claimed %" PRIu64 ")\n",
                 counts->done, items, counts->pending, counts->claimed);
    CT_CHECK (counts->done == (uint64_t) items && counts->claimed == 0 && counts->pending == 0);
    wp_stats_destroy (&stats);
    for (int i = 0; i < items; i++) {
        wp_item_t *item = NULL;
        CT_OK (backend, wp_pool_get (pool, ids [i], &item));
        CT_CHECK (item->status == WP_ITEM_DONE);
        CT_CHECK (ct_unpack_uint (item->result, item->result_size) == (uint64_t) i * 3 + 1);
        wp_item_destroy (&item);
    }
}

//  Bad arguments: WP_INVALID_ARGUMENT with a message, nothing opened.
static void
s_bad_arguments (void)
{
    wp_backend_t *backend = ct_open ("memory", 5);
    wp_pool_t *pool = wp_backend_pool (backend, POOL);
    struct { wp_pool_t *pool; const char *worker; uint32_t credit; double lease;
             const char *words; } cases [] = {
        { NULL, "w", 1, 0, "pool" },
        { pool, "w", 0, 0, "credit" },
        { pool, "w", WP_CREDIT_MAX + 1, 0, "credit" },
        { pool, NULL, 1, 0, "worker_id" },
        { pool, "", 1, 0, "worker_id" },
        { pool, "w", 1, WP_LEASE_MAX * 2, "lease" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        wp_status rc = WP_OK;
        char *message = NULL;
        wp_subscription_t *sub = wp_subscription_new (cases [i].pool, cases [i].worker,
                                                      cases [i].credit, cases [i].lease,
                                                      &rc, &message);
        CT_CHECK (!sub && rc == WP_INVALID_ARGUMENT);
        CT_CHECK (message && strstr (message, cases [i].words));
        free (message);
    }
    //  The runner's credit, likewise
    wp_runner_options_t opts = { .worker_id = "w", .credit = WP_CREDIT_MAX + 1 };
    wp_status rc = WP_OK;
    char *message = NULL;
    CT_CHECK (!wp_runner_new (backend, &opts, &rc, &message) && rc == WP_INVALID_ARGUMENT);
    CT_CHECK (message && strstr (message, "credit"));
    free (message);
    //  Bad acknowledgements and timeouts are refused at once
    wp_subscription_t *sub = wp_subscription_new (pool, "w", 4, 0, &rc, NULL);
    CT_CHECK (sub);
    CT_CHECK (wp_subscription_complete (sub, NULL, NULL, 0) == WP_INVALID_ARGUMENT);
    CT_CHECK (strstr (wp_subscription_errmsg (sub), "id"));
    CT_CHECK (wp_subscription_fail_after (sub, "x", NULL, -1) == WP_INVALID_ARGUMENT);
    wp_item_t *item = NULL;
    CT_CHECK (wp_subscription_next (sub, -1, &item) == WP_INVALID_ARGUMENT);
    CT_CHECK (wp_subscription_next (sub, 0, NULL) == WP_INVALID_ARGUMENT);
    CT_CHECK (wp_subscription_close (sub) == WP_OK);
    CT_CHECK (wp_subscription_next (sub, 0, &item) == WP_FAILED_PRECONDITION);
    wp_subscription_destroy (&sub);
    CT_CHECK (!sub);
    wp_subscription_destroy (&sub);
    wp_pool_destroy (&pool);
    wp_backend_destroy (&backend);
    printf ("ok - bad arguments refused with a message\n");
}

//  One backend: items delivered once, in hand <= credit, acks in flight,
//  every item done; a failed ack reported.
static void
s_stream (const char *spec, const char *label, size_t batch)
{
    const int items = 600;
    const uint32_t credit = 8;
    wp_backend_t *backend = ct_open (spec, 30);
    wp_pool_t *pool = wp_backend_pool (backend, batch ? "sub-batched" : POOL);
    zhashx_t *index;
    char **ids = s_push (backend, pool, items, &index);
    bool remote = streq (wp_backend_kind (backend), "remote");

    wp_status rc = WP_OK;
    char *message = NULL;
    wp_subscription_t *sub = wp_subscription_new (pool, "streamer", credit, 60, &rc, &message);
    if (!sub)
        fprintf (stderr, "%s: %s\n", label, message);
    CT_CHECK (sub);
    CT_CHECK (wp_subscription_set_batch (sub, WP_BATCH_MAX + 1) == WP_INVALID_ARGUMENT);
    CT_OK (NULL, wp_subscription_set_batch (sub, batch));
    int *seen = calloc (items, sizeof (int));
    CT_CHECK (seen);
    //  Items in hand: returned by next, not yet acknowledged. Half are
    //  acknowledged at once, half after the next item came, so the hand
    //  fills and the credit shows
    wp_item_t **hand = calloc (credit + 1, sizeof *hand);
    size_t in_hand = 0, most_in_hand = 0;
    uint64_t most_in_flight = 0;
    int delivered = 0;
    while (delivered < items) {
        wp_item_t *item = NULL;
        rc = wp_subscription_next (sub, in_hand ? 0.05 : 10, &item);
        if (rc != WP_OK)
            fprintf (stderr, "%s: next: %s: %s\n", label, wp_strerror (rc),
                     wp_subscription_errmsg (sub));
        CT_CHECK (rc == WP_OK);
        if (item) {
            intptr_t position = (intptr_t) zhashx_lookup (index, item->id);
            CT_CHECK (position > 0);
            CT_CHECK (streq (item->claimed_by, "streamer") && item->status == WP_ITEM_CLAIMED);
            CT_CHECK (ct_unpack_uint (item->data, item->data_size) == (uint64_t) position - 1);
            seen [position - 1]++;
            delivered++;
            hand [in_hand++] = item;
            CT_CHECK (in_hand <= credit);
            if (in_hand > most_in_hand)
                most_in_hand = in_hand;
        }
        //  Hold on while there is room and items keep coming; else let go
        if (item && in_hand < credit)
            continue;
        if (in_hand == credit && delivered % (4 * credit) == 0) {
            //  The whole credit in hand: nothing more may come until an ack
            wp_item_t *more = NULL;
            CT_CHECK (wp_subscription_next (sub, 0.1, &more) == WP_OK);
            CT_CHECK (!more);
        }
        while (in_hand > 0) {
            wp_item_t *done = hand [--in_hand];
            uint8_t result [9];
            size_t size = ct_pack_uint (result, ct_unpack_uint (done->data, done->data_size) * 3 + 1);
            CT_CHECK (wp_subscription_complete (sub, done->id, result, size) == WP_OK);
            wp_subscription_stats_t stats;
            wp_subscription_stats (sub, &stats);
            if (stats.acks_in_flight > most_in_flight)
                most_in_flight = stats.acks_in_flight;
            wp_item_destroy (&done);
        }
    }
    for (int i = 0; i < items; i++)
        CT_CHECK (seen [i] == 1);
    //  Nothing more comes
    wp_item_t *extra = NULL;
    CT_CHECK (wp_subscription_next (sub, 0.2, &extra) == WP_OK && !extra);
    wp_subscription_flush (sub);
    wp_subscription_stats_t stats;
    wp_subscription_stats (sub, &stats);
    CT_CHECK (stats.delivered == (uint64_t) items && stats.acked == (uint64_t) items);
    CT_CHECK (stats.ack_failures == 0 && stats.acks_in_flight == 0 && stats.held == 0);
    CT_CHECK (!wp_subscription_failure (sub, NULL, NULL, NULL));
    //  On a broker acknowledgements went out without waiting
    if (remote)
        CT_CHECK (most_in_flight >= 2);
    CT_CHECK (most_in_hand == credit);
    s_check_done (backend, pool, ids, items);

    //  An acknowledgement the store refuses is reported, not lost
    CT_CHECK (wp_subscription_complete (sub, ids [0], NULL, 0) == WP_OK);
    wp_subscription_flush (sub);
    char *id = NULL;
    char *why = NULL;
    CT_CHECK (wp_subscription_failure (sub, &id, &rc, &why));
    CT_CHECK (streq (id, ids [0]) && rc == WP_FAILED_PRECONDITION && *why);
    free (id);
    free (why);
    wp_subscription_stats (sub, &stats);
    CT_CHECK (stats.ack_failures == 1);
    CT_CHECK (wp_subscription_close (sub) == WP_OK);
    wp_subscription_destroy (&sub);

    //  A second worker's subscription replaces nobody; one replaced by the
    //  same worker ends with CANCELLED (broker only: in-process has no stream)
    if (remote) {
        wp_subscription_t *first = wp_subscription_new (pool, "twin", 2, 0, &rc, NULL);
        wp_item_t *item = NULL;
        CT_CHECK (wp_subscription_next (first, 0.2, &item) == WP_OK && !item);
        wp_subscription_t *second = wp_subscription_new (pool, "twin", 2, 0, &rc, NULL);
        CT_CHECK (wp_subscription_next (second, 0.2, &item) == WP_OK && !item);
        CT_CHECK (wp_subscription_next (first, 5, &item) == WP_CANCELLED);
        CT_CHECK (*wp_subscription_errmsg (first));
        CT_CHECK (wp_subscription_next (first, 0, &item) == WP_CANCELLED);
        wp_subscription_destroy (&first);
        wp_subscription_destroy (&second);
    }
    free (hand);
    free (seen);
    zhashx_destroy (&index);
    s_free_ids (ids, items);
    wp_pool_destroy (&pool);
    wp_backend_destroy (&backend);
    printf ("ok - %s%s: %d items delivered once, at most %zu in hand (credit %u), "
            "%" PRIu64 " acknowledgements in flight at most\n",
            label, batch ? " (batched)" : "", items, most_in_hand, credit, most_in_flight);
}

//  Acknowledgements resent while their first copy is on its way (a retry
//  interval far below the round trip), single and batched: the copies are
//  harmless, each acknowledgement is counted once and OK (the first copy's
//  reply wins; a refused resend is checked only when that reply is lost,
//  which the fake broker of "check" makes happen).
static void
s_hasty (const char *endpoint, size_t batch)
{
    const int items = 300;
    wp_backend_options_t options = { .timeout = 30, .retry_interval = 0.0002 };
    wp_status rc;
    wp_backend_t *backend = wp_backend_open (endpoint, &options, &rc, NULL);
    CT_CHECK (backend);
    wp_pool_t *pool = wp_backend_pool (backend, batch ? "hasty-batched" : "hasty");
    zhashx_t *index;
    char **ids = s_push (backend, pool, items, &index);
    wp_subscription_t *sub = wp_subscription_new (pool, "hasty", 32, 0, &rc, NULL);
    CT_CHECK (sub);
    CT_OK (NULL, wp_subscription_set_batch (sub, batch));
    int delivered = 0;
    while (delivered < items) {
        wp_item_t *item = NULL;
        CT_CHECK (wp_subscription_next (sub, 10, &item) == WP_OK && item);
        delivered++;
        uint8_t result [9];
        size_t size = ct_pack_uint (result, ct_unpack_uint (item->data, item->data_size) * 3 + 1);
        CT_CHECK (wp_subscription_complete (sub, item->id, result, size) == WP_OK);
        wp_item_destroy (&item);
    }
    wp_subscription_flush (sub);
    wp_subscription_stats_t stats;
    wp_subscription_stats (sub, &stats);
    char *id = NULL, *why = NULL;
    if (wp_subscription_failure (sub, &id, &rc, &why))
        fprintf (stderr, "hasty: %s: %s: %s\n", id, wp_strerror (rc), why);
    CT_CHECK (stats.acked == (uint64_t) items && stats.ack_failures == 0);
    s_check_done (backend, pool, ids, items);
    wp_subscription_destroy (&sub);
    zhashx_destroy (&index);
    s_free_ids (ids, items);
    wp_pool_destroy (&pool);
    wp_backend_destroy (&backend);
    printf ("ok - resent acknowledgements%s: each counted once and OK\n",
            batch ? " (batched)" : "");
}

//  ---------------------------------------------------------------------
//  kill: a workpoold process killed and started again mid-stream

static pid_t
s_workpoold (const char *kind, const char *db, const char *endpoint)
{
    const char *bin = getenv ("WP_BINARY_DIR");
    char *path = zsys_sprintf ("%s/broker/workpoold", bin ? bin : ".");
    pid_t pid = fork ();
    CT_CHECK (pid >= 0);
    if (pid == 0) {
        int null = open ("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2 (null, 2);
        execl (path, path, "--bind", endpoint, "--store", kind, "--db", db, "--lease", "2",
               (char *) NULL);
        _exit (127);
    }
    free (path);
    return pid;
}

static void
s_kill (const char *kind)
{
    const int items = 400;
    char *dir = ct_tempdir ("subkill");
    char *db = zsys_sprintf ("%s/broker.db", dir);
    char *endpoint = zsys_sprintf ("ipc://%s/broker.ipc", dir);
    pid_t broker = s_workpoold (kind, db, endpoint);
    wp_backend_t *backend = ct_open (endpoint, 30);
    CT_OK (backend, wp_backend_ping (backend, NULL, NULL));
    wp_pool_t *pool = wp_backend_pool (backend, POOL);
    zhashx_t *index;
    char **ids = s_push (backend, pool, items, &index);

    wp_status rc;
    wp_subscription_t *sub = wp_subscription_new (pool, "survivor", 16, 2, &rc, NULL);
    CT_CHECK (sub);
    int delivered = 0, dropped = 0;
    bool killed = false;
    while (true) {
        wp_item_t *item = NULL;
        rc = wp_subscription_next (sub, 0.5, &item);
        if (rc != WP_OK)
            fprintf (stderr, "next: %s: %s\n", wp_strerror (rc), wp_subscription_errmsg (sub));
        CT_CHECK (rc == WP_OK);
        if (!item) {
            if (!killed)
                continue;
            //  Done when the broker holds every item done
            wp_stats_t *stats = NULL;
            if (wp_backend_stats (backend, &stats) == WP_OK) {
                bool all = ct_pool_stats (stats, POOL)->done == (uint64_t) items;
                wp_stats_destroy (&stats);
                if (all)
                    break;
            }
            continue;
        }
        delivered++;
        if (!killed && delivered == items / 3) {
            //  Mid-stream: this item and what the stream brought meanwhile
            //  are in hand; acknowledgements may be in flight
            CT_CHECK (kill (broker, SIGKILL) == 0);
            CT_CHECK (waitpid (broker, NULL, 0) == broker);
            killed = true;
            zclock_sleep (300);
            broker = s_workpoold (kind, db, endpoint);
            //  Dropped: it must come back after its lease
            dropped++;
            wp_item_destroy (&item);
            continue;
        }
        uint8_t result [9];
        size_t size = ct_pack_uint (result, ct_unpack_uint (item->data, item->data_size) * 3 + 1);
        CT_CHECK (wp_subscription_complete (sub, item->id, result, size) == WP_OK);
        wp_item_destroy (&item);
    }
    wp_subscription_flush (sub);
    wp_subscription_stats_t stats;
    wp_subscription_stats (sub, &stats);
    CT_CHECK (stats.resubscribes >= 1);
    CT_CHECK (stats.delivered >= (uint64_t) items + dropped);
    //  Failures are acceptable only for items that came twice (a lapsed
    //  lease between delivery and its acknowledgement)
    s_check_done (backend, pool, ids, items);
    CT_CHECK (wp_subscription_close (sub) == WP_OK);
    wp_subscription_destroy (&sub);
    wp_pool_destroy (&pool);
    wp_backend_destroy (&backend);
    kill (broker, SIGTERM);
    waitpid (broker, NULL, 0);
    printf ("ok - %s broker killed mid-stream: %" PRIu64 " resubscribe(s), %" PRIu64
            " items delivered for %d, every item done\n", kind, stats.resubscribes,
            stats.delivered, items);
    zhashx_destroy (&index);
    s_free_ids (ids, items);
    ct_rmtree (dir);
    free (dir);
    free (db);
    free (endpoint);
}

//  ---------------------------------------------------------------------
//  runners: runners with a credit in several processes

typedef struct {
    FILE *log;
} s_runner_arg_t;

static int
s_runner_fn (const wp_item_t *item, void *arg, uint8_t **result_p, size_t *size_p,
             char **error_p)
{
    s_runner_arg_t *self = arg;
    uint8_t *result = malloc (9);
    CT_CHECK (result);
    *size_p = ct_pack_uint (result, ct_unpack_uint (item->data, item->data_size) * 3 + 1);
    *result_p = result;
    fprintf (self->log, "C %s\n", item->id);
    return 0;
}

static int
s_runner_main (const char *endpoint, uint32_t credit, int index, const char *log_path)
{
    s_runner_arg_t arg = { fopen (log_path, "w") };
    CT_CHECK (arg.log);
    wp_backend_t *backend = ct_open (endpoint, 30);
    char worker_id [32];
    snprintf (worker_id, sizeof worker_id, "runner-%d", index);
    wp_runner_options_t opts = { .worker_id = worker_id, .credit = credit, .wait = 0.5 };
    wp_status rc;
    char *message = NULL;
    wp_runner_t *runner = wp_runner_new (backend, &opts, &rc, &message);
    if (!runner)
        fprintf (stderr, "runner: %s\n", message);
    CT_CHECK (runner);
    CT_OK (backend, wp_runner_run (runner, POOL, s_runner_fn, &arg));
    wp_runner_destroy (&runner);
    wp_backend_destroy (&backend);
    fclose (arg.log);
    return 0;
}

static void
s_runners (const char *kind, int items, int workers, uint32_t credit, const char *argv0)
{
    char *dir = ct_tempdir ("subrun");
    //  A running broker's endpoint instead of a store: a measurement (the
    //  pool is emptied first)
    bool external = strstr (kind, "://") != NULL;
    char *store = streq (kind, "memory") || external ? strdup ("memory")
                : zsys_sprintf ("%s:%s/broker.db", kind, dir);
    char *endpoint = NULL;
    zactor_t *broker = external ? NULL : ct_broker_start (store, 0, 0, 0, &endpoint);
    if (external)
        endpoint = strdup (kind);
    wp_backend_t *backend = ct_open (endpoint, 30);
    wp_pool_t *pool = wp_backend_pool (backend, POOL);
    if (external) {
        wp_item_state all [] = { WP_ITEM_PENDING, WP_ITEM_DONE, WP_ITEM_POISONED };
        CT_OK (backend, wp_pool_purge (pool, all, 3, NULL));
    }
    zhashx_t *index;
    char **ids = s_push (backend, pool, items, &index);
    char credit_text [16];
    snprintf (credit_text, sizeof credit_text, "%u", credit);
    const char *args [] = { "runner", endpoint, credit_text, NULL };
    int64_t start = zclock_usecs ();
    pid_t *pids = ct_spawn_workers (argv0, workers, args, dir);
    //  Until the broker holds every item done, then stop the runners. The
    //  rate is timed from a tenth done (the processes started) to the end
    int64_t tenth = 0;
    uint64_t tenth_done = 0;
    while (true) {
        wp_stats_t *stats = NULL;
        CT_OK (backend, wp_backend_stats (backend, &stats));
        uint64_t done = ct_pool_stats (stats, POOL)->done;
        wp_stats_destroy (&stats);
        if (!tenth && done >= (uint64_t) items / 10) {
            tenth = zclock_usecs ();
            tenth_done = done;
        }
        if (done == (uint64_t) items)
            break;
        zclock_sleep (10);
    }
    int64_t end = zclock_usecs ();
    double seconds = (end - start) / 1e6;
    double steady = end > tenth ? (items - tenth_done) / ((end - tenth) / 1e6) : 0;
    for (int w = 0; w < workers; w++)
        kill (pids [w], SIGTERM);
    ct_wait_workers (pids, workers);
    free (pids);
    int *who = NULL;
    int *calls = ct_count_logs (dir, workers, index, items, 'C', &who);
    for (int i = 0; i < items; i++)
        if (calls [i] != 1) {
            fprintf (stderr, "item %d (%s): called back %d times\n", i, ids [i], calls [i]);
            exit (1);
        }
    s_check_done (backend, pool, ids, items);
    for (int i = 0; i < items; i++) {
        wp_item_t *item = NULL;
        CT_OK (backend, wp_pool_get (pool, ids [i], &item));
        char expected [32];
        snprintf (expected, sizeof expected, "runner-%d", who [i]);
        CT_CHECK (!item->claimed_by || streq (item->claimed_by, expected));
        wp_item_destroy (&item);
    }
    printf ("ok - %s: %d runners with credit %u, %d items each completed once "
            "(%.0f items/s with start-up, %.0f from a tenth done)\n", kind, workers, credit,
            items, items / seconds, steady);
    free (calls);
    free (who);
    zhashx_destroy (&index);
    s_free_ids (ids, items);
    wp_pool_destroy (&pool);
    wp_backend_destroy (&backend);
    zactor_destroy (&broker);
    free (endpoint);
    free (store);
    ct_rmtree (dir);
    free (dir);
}

//  A runner with credit in this process, on any backend: it stops itself
//  after the last item; every item done once, nothing left claimed.
typedef struct {
    wp_runner_t *runner;
    int calls;
    int items;
} s_local_arg_t;

static int
s_local_fn (const wp_item_t *item, void *arg, uint8_t **result_p, size_t *size_p,
            char **error_p)
{
    s_local_arg_t *self = arg;
    uint8_t *result = malloc (9);
    CT_CHECK (result);
    *size_p = ct_pack_uint (result, ct_unpack_uint (item->data, item->data_size) * 3 + 1);
    *result_p = result;
    if (++self->calls == self->items)
        wp_runner_stop (self->runner);
    return 0;
}

static void
s_runner_local (const char *spec, const char *label)
{
    const int items = 200;
    wp_backend_t *backend = ct_open (spec, 30);
    wp_pool_t *pool = wp_backend_pool (backend, "local");
    zhashx_t *index;
    char **ids = s_push (backend, pool, items, &index);
    wp_runner_options_t opts = { .worker_id = "local-runner", .credit = 4, .wait = 0.2 };
    wp_status rc;
    s_local_arg_t arg = { NULL, 0, items };
    arg.runner = wp_runner_new (backend, &opts, &rc, NULL);
    CT_CHECK (arg.runner);
    CT_OK (backend, wp_runner_run (arg.runner, "local", s_local_fn, &arg));
    wp_runner_destroy (&arg.runner);
    CT_CHECK (arg.calls == items);
    s_check_done (backend, pool, ids, items);
    zhashx_destroy (&index);
    s_free_ids (ids, items);
    wp_pool_destroy (&pool);
    wp_backend_destroy (&backend);
    printf ("ok - %s: a runner with credit 4 did %d items once each\n", label, items);
}

//  ---------------------------------------------------------------------
//  lost: a runner with credit stopped (SIGSTOP) while it holds its whole
//  credit is declared lost; continued, it registers and subscribes again
//  and finishes the work

static int
s_slow_fn (const wp_item_t *item, void *arg, uint8_t **result_p, size_t *size_p,
           char **error_p)
{
    s_runner_fn (item, arg, result_p, size_p, error_p);
    fflush (((s_runner_arg_t *) arg)->log);
    zclock_sleep (20);
    return 0;
}

static int
s_lost_runner_main (const char *endpoint, const char *log_path)
{
    s_runner_arg_t arg = { fopen (log_path, "w") };
    CT_CHECK (arg.log);
    wp_backend_t *backend = ct_open (endpoint, 30);
    wp_runner_options_t opts = { .worker_id = "sleeper", .credit = 2, .wait = 0.2,
                                 .heartbeat_interval = 0.3 };
    wp_status rc;
    wp_runner_t *runner = wp_runner_new (backend, &opts, &rc, NULL);
    CT_CHECK (runner);
    CT_OK (backend, wp_runner_run (runner, POOL, s_slow_fn, &arg));
    fprintf (arg.log, "R %" PRIu64 "\n", wp_runner_registrations (runner));
    wp_runner_destroy (&runner);
    wp_backend_destroy (&backend);
    fclose (arg.log);
    return 0;
}

static void
s_lost (const char *argv0)
{
    const int items = 60;
    char *dir = ct_tempdir ("sublost");
    char *store = zsys_sprintf ("sqlite:%s/broker.db", dir);
    char *endpoint;
    zactor_t *broker = ct_broker_start (store, 0, 0, 0, &endpoint);
    wp_backend_t *backend = ct_open (endpoint, 30);
    wp_pool_t *pool = wp_backend_pool (backend, POOL);
    zhashx_t *index;
    char **ids = s_push (backend, pool, items, &index);
    const char *args [] = { "lost-runner", endpoint, NULL };
    pid_t *pids = ct_spawn_workers (argv0, 1, args, dir);
    //  Once it works, stop it mid-item (its credit of 2 is all held)
    char *log = zsys_sprintf ("%s/worker-0.log", dir);
    while (true) {
        zclock_sleep (20);
        FILE *file = fopen (log, "r");
        int lines = 0;
        char line [300];
        while (file && fgets (line, sizeof line, file))
            lines++;
        if (file)
            fclose (file);
        if (lines >= 5)
            break;
    }
    CT_CHECK (kill (pids [0], SIGSTOP) == 0);
    while (true) {
        wp_worker_t *worker = NULL;
        CT_OK (backend, wp_backend_get_worker (backend, "sleeper", &worker));
        bool lost = worker && streq (worker->status, "lost");
        wp_worker_destroy (&worker);
        if (lost)
            break;
        zclock_sleep (50);
    }
    CT_CHECK (kill (pids [0], SIGCONT) == 0);
    while (true) {
        wp_stats_t *stats = NULL;
        CT_OK (backend, wp_backend_stats (backend, &stats));
        bool all = ct_pool_stats (stats, POOL)->done == (uint64_t) items;
        wp_stats_destroy (&stats);
        if (all)
            break;
        zclock_sleep (20);
    }
    kill (pids [0], SIGTERM);
    ct_wait_workers (pids, 1);
    free (pids);
    s_check_done (backend, pool, ids, items);
    //  It registered again after it was lost
    FILE *file = fopen (log, "r");
    CT_CHECK (file);
    char line [300];
    uint64_t registrations = 0;
    while (fgets (line, sizeof line, file))
        if (line [0] == 'R')
            registrations = strtoull (line + 2, NULL, 10);
    fclose (file);
    CT_CHECK (registrations >= 2);
    printf ("ok - a runner with credit declared lost registers and subscribes again "
            "(%" PRIu64 " registrations), every item done\n", registrations);
    free (log);
    zhashx_destroy (&index);
    s_free_ids (ids, items);
    wp_pool_destroy (&pool);
    wp_backend_destroy (&backend);
    zactor_destroy (&broker);
    free (endpoint);
    free (store);
    ct_rmtree (dir);
    free (dir);
}

int
main (int argc, char *argv [])
{
    if (argc == 5 && streq (argv [1], "lost-runner"))
        return s_lost_runner_main (argv [2], argv [4]);
    if (argc == 2 && streq (argv [1], "lost")) {
        s_lost (argv [0]);
        return 0;
    }
    if (argc == 6 && streq (argv [1], "runner"))
        return s_runner_main (argv [2], (uint32_t) atoi (argv [3]), atoi (argv [4]), argv [5]);
    if (argc >= 2 && streq (argv [1], "kill")) {
        s_kill (argc > 2 ? argv [2] : "sqlite");
        return 0;
    }
    if (argc == 6 && streq (argv [1], "runners")) {
        s_runners (argv [2], atoi (argv [3]), atoi (argv [4]), (uint32_t) atoi (argv [5]),
                   argv [0]);
        return 0;
    }
    s_bad_arguments ();
    char *dir = ct_tempdir ("sub");
    s_stream ("memory", "memory", 0);
    s_runner_local ("memory", "memory");
    char *spec = zsys_sprintf ("sqlite:%s/local.db", dir);
    s_stream (spec, "sqlite in-process", 0);
    s_runner_local (spec, "sqlite in-process");
    free (spec);
    const char *stores [] = { "sqlite", "image" };
    for (size_t i = 0; i < 2; i++) {
        char *store = zsys_sprintf ("%s:%s/broker-%s.db", stores [i], dir, stores [i]);
        char *endpoint;
        zactor_t *broker = ct_broker_start (store, 0, 0, 0, &endpoint);
        char *label = zsys_sprintf ("broker on %s", stores [i]);
        s_stream (endpoint, label, 0);
        s_stream (endpoint, label, 5);
        if (i == 0) {
            s_hasty (endpoint, 0);
            s_hasty (endpoint, 8);
        }
        s_runner_local (endpoint, label);
        zactor_destroy (&broker);
        free (label);
        free (endpoint);
        free (store);
    }
    ct_rmtree (dir);
    free (dir);
    return 0;
}
