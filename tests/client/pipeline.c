/*  tests/client/pipeline: wp_pipeline on a broker and in-process: every
    completion once, ids distinct, every good item in the pool, never more
    than the window in flight, bad entries failing alone, and deadlines
    when the broker goes away mid-stream.
    "pipeline bench ENDPOINT N" times N pushes one at a time and with 64
    in flight against a broker already running.  */
#include "client_util.h"
#include "wp_limits.h"

#include <stdint.h>
#include <string.h>

#define S_PUSHES    10000
#define S_WINDOW    64

//  An id one byte longer than names may be.
static char s_long_id [WP_NAME_MAX + 2];

//  Entry i: data i, except the bad ones (no data; an id too long; a
//  max_retries below -1), refused alike in-process and through a broker.
static bool
s_entry (size_t i, uint8_t *buf, wp_push_entry_t *entry)
{
    size_t size = ct_pack_uint (buf, i);
    *entry = (wp_push_entry_t) { buf, size, NULL, -1 };
    if (i % 1000 == 7) {
        entry->data = NULL;
        entry->data_size = 0;
        return false;
    }
    if (i % 1000 == 500) {
        memset (s_long_id, 'x', WP_NAME_MAX + 1);
        entry->id = s_long_id;
        return false;
    }
    if (i % 1000 == 900) {
        entry->max_retries = -5;
        return false;
    }
    return true;
}

typedef struct {
    bool *seen;                 //  per push: its completion came
    zhashx_t *ids;              //  the ids of good ones
    size_t completions;
} s_tally_t;

//  Checks one completion of s_many's and frees it.
static void
s_tally (s_tally_t *tally, wp_completion_t *done)
{
    size_t i = (uintptr_t) done->tag - 1;
    CT_CHECK (i < S_PUSHES && !tally->seen [i]);
    tally->seen [i] = true;
    uint8_t buf [9];
    wp_push_entry_t entry;
    bool ok = s_entry (i, buf, &entry);
    if (ok != (done->status == WP_OK))
        fprintf (stderr, "entry %zu: %s %s\n", i, wp_strerror (done->status), done->message);
    CT_CHECK (ok ? done->status == WP_OK : done->status == WP_INVALID_ARGUMENT);
    if (ok) {
        CT_CHECK (done->count == 1 && done->ids [0] && !done->duplicates [0]);
        CT_CHECK (zhashx_insert (tally->ids, done->ids [0], tally->seen) == 0);
    }
    else
        CT_CHECK (done->message [0] && !done->ids);
    tally->completions++;
    wp_completion_destroy (&done);
}

static void
s_many (wp_backend_t *backend, bool remote)
{
    wp_pipeline_t *p = wp_pipeline_new (backend, S_WINDOW);
    s_tally_t tally = { calloc (S_PUSHES, sizeof (bool)), zhashx_new (), 0 };
    CT_CHECK (tally.seen && tally.ids);
    size_t good = 0;
    for (size_t i = 0; i < S_PUSHES; i++) {
        uint8_t buf [9];
        wp_push_entry_t entry;
        good += s_entry (i, buf, &entry);
        CT_OK (backend, wp_pipeline_push (p, "many", &entry, (void *) (uintptr_t) (i + 1)));
        CT_CHECK (wp_pipeline_in_flight (p) <= S_WINDOW);
        //  Collect some on the way, as a producer would
        wp_completion_t *done;
        if (i % 3 == 0 && (done = wp_pipeline_next (p)))
            s_tally (&tally, done);
    }
    wp_pipeline_flush (p);
    CT_CHECK (wp_pipeline_in_flight (p) == 0);
    wp_completion_t *done;
    while ((done = wp_pipeline_next (p)))
        s_tally (&tally, done);
    CT_CHECK (tally.completions == S_PUSHES);
    CT_CHECK (zhashx_size (tally.ids) == good);
    CT_CHECK (wp_pipeline_max_in_flight (p) <= S_WINDOW);
    if (remote)
        CT_CHECK (wp_pipeline_max_in_flight (p) > 1);
    wp_pool_t *pool = wp_backend_pool (backend, "many");
    uint64_t size = 0;
    CT_OK (backend, wp_pool_size (pool, &size));
    CT_CHECK (size == good);
    wp_pool_destroy (&pool);
    printf ("%s: %zu completions, %zu ids, at most %zu in flight\n",
            wp_backend_kind (backend), tally.completions, good, wp_pipeline_max_in_flight (p));
    zhashx_destroy (&tally.ids);
    free (tally.seen);
    wp_pipeline_destroy (&p);
}

//  A batch through the pipeline: PushMany, one completion with its ids.
static void
s_batch (wp_backend_t *backend)
{
    wp_pipeline_t *p = wp_pipeline_new (backend, 4);
    wp_push_entry_t entries [10];
    uint8_t bufs [10][9];
    for (size_t i = 0; i < 10; i++)
        entries [i] = (wp_push_entry_t) { bufs [i], ct_pack_uint (bufs [i], i), NULL, -1 };
    entries [3].id = "mine";
    CT_OK (backend, wp_pipeline_push_many (p, "batch", entries, 10, NULL));
    CT_OK (backend, wp_pipeline_push_many (p, "batch", entries + 3, 1, NULL));
    CT_OK (backend, wp_pipeline_push_many (p, "batch", entries, 0, NULL));
    size_t count = 0, oks = 0;
    wp_completion_t *done;
    while ((done = wp_pipeline_next (p))) {
        count++;
        if (done->status == WP_OK && done->count == 10) {
            CT_CHECK (strcmp (done->ids [3], "mine") == 0);
            oks++;
        }
        else
        if (done->status == WP_OK) {
            CT_CHECK (done->count == 1 && strcmp (done->ids [0], "mine") == 0);
            //  Ours, but not made by the pipeline: a true duplicate
            CT_CHECK (done->duplicates [0]);
            oks++;
        }
        else
            CT_CHECK (done->status == WP_INVALID_ARGUMENT);
        wp_completion_destroy (&done);
    }
    CT_CHECK (count == 3 && oks == 2);
    wp_pipeline_destroy (&p);
}

//  The broker stops mid-stream: what was sent and never answered, and what
//  never found a connection, end at their deadline; nothing hangs.
static void
s_broker_stops (void)
{
    char *endpoint = NULL;
    zactor_t *broker = ct_broker_start ("memory", 0, 0, 0, &endpoint);
    wp_backend_t *backend = ct_open (endpoint, 1);
    wp_pipeline_t *p = wp_pipeline_new (backend, S_WINDOW);
    size_t ok = 0, failed = 0, count = 0;
    int64_t start = zclock_usecs ();
    for (size_t i = 0; i < 300; i++) {
        if (i == 100) {
            wp_pipeline_flush (p);
            zactor_destroy (&broker);
        }
        uint8_t buf [9];
        wp_push_entry_t entry = { buf, ct_pack_uint (buf, i), NULL, -1 };
        CT_OK (backend, wp_pipeline_push (p, "stops", &entry, NULL));
    }
    wp_completion_t *done;
    while ((done = wp_pipeline_next (p))) {
        count++;
        if (done->status == WP_OK)
            ok++;
        else {
            CT_CHECK (done->status == WP_UNAVAILABLE || done->status == WP_DEADLINE_EXCEEDED);
            CT_CHECK (done->message [0]);
            failed++;
        }
        wp_completion_destroy (&done);
    }
    double seconds = (zclock_usecs () - start) / 1e6;
    printf ("broker stopped: %zu ok, %zu failed in %.1f s\n", ok, failed, seconds);
    CT_CHECK (count == 300 && ok == 100 && failed == 200);
    //  200 requests, 64 at a time, 1 s each: about 4 s, not a hang
    CT_CHECK (seconds < 15);
    wp_pipeline_destroy (&p);
    wp_backend_destroy (&backend);
    free (endpoint);
}

//  Pushes per second, one at a time and with window in flight.
static void
s_bench (const char *endpoint, size_t n)
{
    wp_backend_t *backend = ct_open (endpoint, 30);
    wp_pool_t *pool = wp_backend_pool (backend, "bench");
    uint8_t buf [64];
    memset (buf, 0, sizeof buf);
    buf [0] = 0xc4;                     //  bin 8 of 62 bytes: a 64-byte value
    buf [1] = 62;
    wp_push_entry_t entry = { buf, sizeof buf, NULL, -1 };
    int64_t start = zclock_usecs ();
    for (size_t i = 0; i < n; i++) {
        char *id = NULL;
        CT_OK (backend, wp_pool_push_entry (pool, &entry, &id, NULL));
        free (id);
    }
    double one = n / ((zclock_usecs () - start) / 1e6);
    wp_pipeline_t *p = wp_pipeline_new (backend, S_WINDOW);
    start = zclock_usecs ();
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        wp_pipeline_push (p, "bench", &entry, NULL);
        wp_completion_t *done;
        //  Collect what has come, so completions do not pile up
        while (wp_pipeline_in_flight (p) == S_WINDOW && (done = wp_pipeline_next (p))) {
            ok += done->status == WP_OK;
            wp_completion_destroy (&done);
        }
    }
    wp_completion_t *done;
    while ((done = wp_pipeline_next (p))) {
        ok += done->status == WP_OK;
        wp_completion_destroy (&done);
    }
    double piped = n / ((zclock_usecs () - start) / 1e6);
    CT_CHECK (ok == n);
    printf ("%zu pushes: one at a time %.0f/s, window %d %.0f/s (%.1fx)\n",
            n, one, S_WINDOW, piped, piped / one);
    wp_pipeline_destroy (&p);
    wp_pool_destroy (&pool);
    wp_backend_destroy (&backend);
}

int
main (int argc, char *argv [])
{
    if (argc == 4 && strcmp (argv [1], "bench") == 0) {
        s_bench (argv [2], (size_t) atol (argv [3]));
        return 0;
    }
    wp_backend_t *memory = ct_open ("memory", 5);
    s_many (memory, false);
    s_batch (memory);
    wp_backend_destroy (&memory);

    char *endpoint = NULL;
    zactor_t *broker = ct_broker_start ("memory", 0, 0, 0, &endpoint);
    wp_backend_t *remote = ct_open (endpoint, 10);
    s_many (remote, true);
    s_batch (remote);
    wp_backend_destroy (&remote);
    zactor_destroy (&broker);
    free (endpoint);

    s_broker_stops ();
    printf ("pipeline: OK\n");
    return 0;
}
