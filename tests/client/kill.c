/*  kill: worker processes killed with SIGKILL in the middle of an item.
    Workers register with the worker helper (heartbeat every 0.25 s) and
    claim with 1 s leases; items have max_retries 3. The parent SIGKILLs a
    random worker now and then and starts a replacement, and every 10th item
    is a "crasher" that kills whichever worker takes it. In the end every
    item is done or poisoned (none lost), the crashers are poisoned after 3
    attempts, and no item was completed twice (each worker logs each
    completion the broker acknowledged, before doing anything else).
    Usage: kill [memory | sqlite] [ITEMS] [WORKERS] [KILLS]
           kill worker ENDPOINT INDEX LOGFILE  */
#include "client_util.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define POOL        "fragile"
#define CRASHER     1000000     //  data value that kills its worker

//  Appends one line with a single write, so a SIGKILL cannot tear it.
static void
s_log (int fd, char kind, const char *id)
{
    char line [300];
    int size = snprintf (line, sizeof line, "%c %s\n", kind, id);
    CT_CHECK (write (fd, line, size) == size);
}

static int
s_worker_main (const char *endpoint, int index, const char *log_path)
{
    int fd = open (log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    CT_CHECK (fd >= 0);
    wp_backend_t *backend = ct_open (endpoint, 20);
    char worker_id [32];
    snprintf (worker_id, sizeof worker_id, "victim-%d", index);
    wp_runner_options_t options = { .worker_id = worker_id, .heartbeat_interval = 0.25 };
    wp_runner_t *runner = wp_runner_new (backend, &options, NULL, NULL);
    CT_CHECK (runner);
    wp_pool_t *pool = wp_backend_pool (backend, POOL);
    wp_claim_options_t claim = { .wait = 0.5, .lease = 1.0 };
    unsigned seed = (unsigned) getpid ();
    int idle = 0;
    while (idle < 4) {
        wp_item_t *item = NULL;
        wp_status rc = wp_pool_claim (pool, worker_id, &claim, &item);
        CT_CHECK (rc == WP_OK || rc == WP_DEADLINE_EXCEEDED || rc == WP_UNAVAILABLE);
        if (!item) {
            idle++;
            continue;
        }
        idle = 0;
        s_log (fd, 'C', item->id);
        uint64_t value = ct_unpack_uint (item->data, item->data_size);
        if (value == CRASHER)
            raise (SIGKILL);
        zclock_sleep (rand_r (&seed) % 20);
        rc = wp_pool_complete (pool, item->id, item->data, item->data_size, worker_id);
        //  Refused if our claim lapsed meanwhile: then it is not ours to count
        if (rc == WP_OK)
            s_log (fd, 'D', item->id);
        else
            CT_CHECK (rc == WP_FAILED_PRECONDITION);
        wp_item_destroy (&item);
    }
    wp_pool_destroy (&pool);
    wp_runner_destroy (&runner);
    wp_backend_destroy (&backend);
    close (fd);
    return 0;
}

static pid_t
s_spawn (const char *self, const char *endpoint, const char *dir, int index)
{
    char index_text [16];
    snprintf (index_text, sizeof index_text, "%d", index);
    char *log = zsys_sprintf ("%s/worker-%d.log", dir, index);
    pid_t pid = fork ();
    CT_CHECK (pid >= 0);
    if (pid == 0) {
        execl ("/proc/self/exe", self, "worker", endpoint, index_text, log, (char *) NULL);
        _exit (127);
    }
    free (log);
    return pid;
}

int
main (int argc, char *argv [])
{
    if (argc == 5 && streq (argv [1], "worker"))
        return s_worker_main (argv [2], atoi (argv [3]), argv [4]);
    bool sqlite = !(argc > 1 && streq (argv [1], "memory"));
    int items = argc > 2 ? atoi (argv [2]) : 300;
    int workers = argc > 3 ? atoi (argv [3]) : 6;
    int kills = argc > 4 ? atoi (argv [4]) : 12;
    CT_CHECK (items > 0 && workers > 0 && workers < 200 && kills >= 0);

    char *dir = ct_tempdir ("kill");
    char *store = sqlite ? zsys_sprintf ("sqlite:%s/broker.db", dir) : strdup ("memory");
    char *endpoint;
    zactor_t *broker = ct_broker_start (store, 0, 0, 0, &endpoint);
    wp_backend_t *backend = ct_open (endpoint, 30);
    wp_pool_t *pool = wp_backend_pool (backend, POOL);
    char **ids = calloc (items, sizeof (char *));
    CT_CHECK (ids);
    for (int i = 0; i < items; i++) {
        uint8_t data [9];
        uint64_t value = i % 10 == 5 ? CRASHER : (uint64_t) i;
        wp_push_entry_t entry = { data, ct_pack_uint (data, value), NULL, 3 };
        CT_OK (backend, wp_pool_push_entry (pool, &entry, &ids [i], NULL));
    }

    //  Workers, and a killer: SIGKILL one at random, start another
    int next_index = 0;
    pid_t *pids = calloc (workers, sizeof *pids);
    for (int w = 0; w < workers; w++)
        pids [w] = s_spawn (argv [0], endpoint, dir, next_index++);
    unsigned seed = 12345;
    int killed = 0;
    int alive = workers;
    while (alive > 0) {
        //  While there is work, now and then SIGKILL a worker at random
        if (killed < kills) {
            zclock_sleep (100 + rand_r (&seed) % 200);
            uint64_t size = 0;
            CT_OK (backend, wp_pool_size (pool, &size));
            int victim = rand_r (&seed) % workers;
            if (size == 0)
                killed = kills;
            else
            if (pids [victim] && kill (pids [victim], SIGKILL) == 0)
                killed++;
        }
        //  Replace the dead; let a worker that ends go only once all is
        //  settled (items may still sit with a dead worker's lease)
        int status;
        pid_t pid;
        while ((pid = waitpid (-1, &status, killed < kills ? WNOHANG : 0)) > 0) {
            int slot = -1;
            for (int w = 0; w < workers; w++)
                if (pids [w] == pid)
                    slot = w;
            CT_CHECK (slot >= 0);
            if (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL) {
                pids [slot] = s_spawn (argv [0], endpoint, dir, next_index++);
                continue;
            }
            if (!WIFEXITED (status) || WEXITSTATUS (status) != 0) {
                fprintf (stderr, "worker exited with status %d\n", status);
                exit (1);
            }
            wp_stats_t *stats = NULL;
            CT_OK (backend, wp_backend_stats (backend, &stats));
            bool settled = true;
            for (size_t i = 0; i < stats->pool_count; i++)
                if (streq (stats->pools [i].pool, POOL))
                    settled = stats->pools [i].pending == 0 && stats->pools [i].claimed == 0;
            wp_stats_destroy (&stats);
            if (settled) {
                alive--;
                pids [slot] = 0;
            }
            else
                pids [slot] = s_spawn (argv [0], endpoint, dir, next_index++);
            if (alive == 0)
                break;
        }
    }
    free (pids);

    //  The logs: nothing completed twice
    zhashx_t *done = zhashx_new ();
    for (int w = 0; w < next_index; w++) {
        char *path = zsys_sprintf ("%s/worker-%d.log", dir, w);
        FILE *log = fopen (path, "r");
        char line [300];
        while (log && fgets (line, sizeof line, log)) {
            line [strcspn (line, "\n")] = 0;
            if (line [0] != 'D')
                continue;
            if (zhashx_lookup (done, line + 2)) {
                fprintf (stderr, "item %s completed twice\n", line + 2);
                exit (1);
            }
            zhashx_insert (done, line + 2, (void *) 1);
        }
        if (log)
            fclose (log);
        free (path);
    }
    //  The broker: every item done or poisoned; crashers poisoned after 3
    int done_count = 0, poisoned = 0;
    for (int i = 0; i < items; i++) {
        wp_item_t *item = NULL;
        CT_OK (backend, wp_pool_get (pool, ids [i], &item));
        CT_CHECK (item->status == WP_ITEM_DONE || item->status == WP_ITEM_POISONED);
        if (i % 10 == 5)
            CT_CHECK (item->status == WP_ITEM_POISONED && item->attempts == 3);
        if (item->status == WP_ITEM_DONE) {
            done_count++;
            CT_CHECK (ct_unpack_uint (item->result, item->result_size) == (uint64_t) i);
        }
        else
            poisoned++;
        //  A logged completion is a done item
        if (zhashx_lookup (done, ids [i]))
            CT_CHECK (item->status == WP_ITEM_DONE);
        wp_item_destroy (&item);
    }
    printf ("ok - %d items: %d done, %d poisoned; %d workers killed, %d started\n",
            items, done_count, poisoned, killed, next_index);

    zhashx_destroy (&done);
    for (int i = 0; i < items; i++)
        free (ids [i]);
    free (ids);
    wp_pool_destroy (&pool);
    wp_backend_destroy (&backend);
    zactor_destroy (&broker);
    free (endpoint);
    free (store);
    ct_rmtree (dir);
    free (dir);
    return 0;
}
