/*  race: 16 worker processes, each with its own connection to one broker,
    claim and complete 20,000 items with a mix of single claims, ClaimMany
    batches and CompleteAndClaim chains. Each worker logs every item it was
    given and every completion the broker acknowledged; afterwards every
    item was claimed once and completed once (the logs), and the broker
    holds each one done with its result (stats and get).
    With "curve" the broker serves CURVE: each worker process holds its own
    worker key (worker_prefix its worker id), the parent an admin key.
    Usage: race [memory | sqlite | image] [ITEMS] [WORKERS] [curve]
           race worker ENDPOINT INDEX LOGFILE [SERVER_KEY CERT]  (what the parent runs)  */
#include "client_util.h"

#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define POOL "race"

//  ---------------------------------------------------------------------
//  A worker process

typedef struct {
    FILE *log;
    wp_backend_t *backend;
    wp_pool_t *pool;
    char worker_id [32];
} s_worker_t;

static void
s_result (const wp_item_t *item, uint8_t *result, size_t *size)
{
    *size = ct_pack_uint (result, ct_unpack_uint (item->data, item->data_size) * 3 + 1);
}

static void
s_claimed (s_worker_t *self, const wp_item_t *item)
{
    CT_CHECK (streq (item->claimed_by, self->worker_id) && item->status == WP_ITEM_CLAIMED);
    fprintf (self->log, "C %s\n", item->id);
}

static void
s_complete (s_worker_t *self, const wp_item_t *item)
{
    uint8_t result [9];
    size_t size;
    s_result (item, result, &size);
    CT_OK (self->backend, wp_pool_complete (self->pool, item->id, result, size, self->worker_id));
    fprintf (self->log, "D %s\n", item->id);
}

static int
s_worker_main (const char *endpoint, int index, const char *log_path, const char *server_key,
               const char *cert)
{
    s_worker_t self = { 0 };
    snprintf (self.worker_id, sizeof self.worker_id, "racer-%d", index);
    self.log = fopen (log_path, "w");
    CT_CHECK (self.log);
    self.backend = ct_open_curve (endpoint, 30, server_key, cert);
    self.pool = wp_backend_pool (self.backend, POOL);
    wp_claim_options_t claim = { .wait = 0 };
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
            size_t max = 1 + rand_r (&seed) % 50;
            CT_OK (self.backend, wp_pool_claim_many (self.pool, self.worker_id, max, &claim, &list));
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
            int steps = 1 + rand_r (&seed) % 20;
            for (int step = 0; step < steps && item; step++) {
                uint8_t result [9];
                size_t size;
                s_result (item, result, &size);
                wp_item_t *next = NULL;
                CT_OK (self.backend, wp_pool_complete_and_claim (self.pool, item->id, result, size,
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

int
main (int argc, char *argv [])
{
    if ((argc == 5 || argc == 7) && streq (argv [1], "worker"))
        return s_worker_main (argv [2], atoi (argv [3]), argv [4], argc == 7 ? argv [5] : NULL,
                              argc == 7 ? argv [6] : NULL);
    const char *kind = argc > 1 ? argv [1] : "memory";
    int items = argc > 2 ? atoi (argv [2]) : 20000;
    int workers = argc > 3 ? atoi (argv [3]) : 16;
    CT_CHECK (items > 0 && workers > 0 && workers < 1000);
    ct_curve_t *curve = argc > 4 && streq (argv [4], "curve") ? ct_curve_new () : NULL;
    char *admin_secret = curve ? ct_curve_client (curve, "admin", "admin", NULL) : NULL;
    //  Each worker's key allows its own worker id (and those it prefixes);
    //  all in the key directory before the broker reads it
    char **secrets = calloc (workers, sizeof (char *));
    CT_CHECK (secrets);
    for (int w = 0; curve && w < workers; w++) {
        char name [32];
        snprintf (name, sizeof name, "racer-%d", w);
        secrets [w] = ct_curve_client (curve, name, "worker", name);
    }
    ct_broker_use_curve (curve);

    char *dir = ct_tempdir ("race");
    char *store = streq (kind, "memory") ? strdup ("memory")
                : zsys_sprintf ("%s:%s/broker.db", kind, dir);
    char *endpoint;
    zactor_t *broker = ct_broker_start (store, 0, 0, 0, &endpoint);
    wp_backend_t *backend = ct_open_curve (endpoint, 60, curve ? curve->server_public : NULL,
                                           admin_secret);
    wp_pool_t *pool = wp_backend_pool (backend, POOL);

    //  The items, pushed in batches; each id's value is its index
    char **ids = calloc (items, sizeof (char *));
    uint8_t (*data) [9] = calloc (WP_BATCH_MAX, sizeof *data);
    wp_push_entry_t *entries = calloc (WP_BATCH_MAX, sizeof *entries);
    CT_CHECK (ids && data && entries);
    for (int base = 0; base < items; base += WP_BATCH_MAX) {
        size_t count = items - base < WP_BATCH_MAX ? (size_t) (items - base) : WP_BATCH_MAX;
        for (size_t i = 0; i < count; i++)
            entries [i] = (wp_push_entry_t) { data [i], ct_pack_uint (data [i], base + i), NULL, -1 };
        CT_OK (backend, wp_pool_push_many (pool, entries, count, ids + base, NULL));
    }
    free (data);
    free (entries);
    zhashx_t *index = zhashx_new ();    //  id -> 1 + position
    for (int i = 0; i < items; i++)
        zhashx_insert (index, ids [i], (void *) (intptr_t) (i + 1));
    CT_CHECK ((int) zhashx_size (index) == items);

    //  The workers: this program again, so each starts with fresh ZeroMQ state
    pid_t *pids = calloc (workers, sizeof *pids);
    for (int w = 0; w < workers; w++) {
        char index_text [16];
        snprintf (index_text, sizeof index_text, "%d", w);
        char *log = zsys_sprintf ("%s/worker-%d.log", dir, w);
        pids [w] = fork ();
        CT_CHECK (pids [w] >= 0);
        if (pids [w] == 0) {
            if (curve)
                execl ("/proc/self/exe", argv [0], "worker", endpoint, index_text, log,
                       curve->server_public, secrets [w], (char *) NULL);
            else
                execl ("/proc/self/exe", argv [0], "worker", endpoint, index_text, log,
                       (char *) NULL);
            _exit (127);
        }
        free (log);
        free (secrets [w]);
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
    free (secrets);

    //  Every item claimed once and completed once, by the logs
    int *claims = calloc (items, sizeof (int));
    int *dones = calloc (items, sizeof (int));
    int *doer = calloc (items, sizeof (int));
    for (int w = 0; w < workers; w++) {
        char *path = zsys_sprintf ("%s/worker-%d.log", dir, w);
        FILE *log = fopen (path, "r");
        CT_CHECK (log);
        char line [128];
        while (fgets (line, sizeof line, log)) {
            line [strcspn (line, "\n")] = 0;
            intptr_t position = (intptr_t) zhashx_lookup (index, line + 2);
            CT_CHECK (position > 0);
            if (line [0] == 'C')
                claims [position - 1]++;
            else {
                dones [position - 1]++;
                doer [position - 1] = w;
            }
        }
        fclose (log);
        free (path);
    }
    for (int i = 0; i < items; i++)
        if (claims [i] != 1 || dones [i] != 1) {
            fprintf (stderr, "item %d (%s): claimed %d times, completed %d times\n", i, ids [i],
                     claims [i], dones [i]);
            exit (1);
        }

    //  And by the broker: all done, each with its result and right worker
    wp_stats_t *stats = NULL;
    CT_OK (backend, wp_backend_stats (backend, &stats));
    const wp_pool_stats_t *counts = ct_pool_stats (stats, POOL);
    CT_CHECK (counts->done == (uint64_t) items);
    CT_CHECK (counts->pending == 0 && counts->claimed == 0);
    CT_CHECK (counts->poisoned == 0);
    wp_stats_destroy (&stats);
    for (int i = 0; i < items; i++) {
        wp_item_t *item = NULL;
        CT_OK (backend, wp_pool_get (pool, ids [i], &item));
        CT_CHECK (item->status == WP_ITEM_DONE && item->attempts == 0);
        CT_CHECK (ct_unpack_uint (item->result, item->result_size) == (uint64_t) i * 3 + 1);
        char expected [32];
        snprintf (expected, sizeof expected, "racer-%d", doer [i]);
        //  (a store may or may not keep the claimant of a done item)
        CT_CHECK (!item->claimed_by || streq (item->claimed_by, expected));
        wp_item_destroy (&item);
    }
    printf ("ok - %d items, %d workers, each claimed and completed once\n", items, workers);

    for (int i = 0; i < items; i++)
        free (ids [i]);
    free (ids);
    free (claims);
    free (dones);
    free (doer);
    zhashx_destroy (&index);
    wp_pool_destroy (&pool);
    wp_backend_destroy (&backend);
    zactor_destroy (&broker);
    ct_broker_use_curve (NULL);
    ct_curve_destroy (&curve);
    free (admin_secret);
    free (endpoint);
    free (store);
    ct_rmtree (dir);
    free (dir);
    return 0;
}
