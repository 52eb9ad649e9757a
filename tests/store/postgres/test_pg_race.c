/*  test_pg_race: claims raced by processes that share one database, as
    brokers on one PostgreSQL do. Eight forked processes, each with its own
    connection (wp_store_postgres_new), claim and complete 20,000 items as
    fast as they can; each records what it claimed in its own file. The
    parent then checks that every item was claimed by exactly one process,
    that the store shows all 20,000 done, and that each item's claimed_by
    and result name the process that recorded it. First the same eight
    processes race to open an empty schema (one migrates it, under the
    advisory lock; the others wait and find it done). Then the race runs
    again with claims and completions in group transactions (begin, up to 8
    claims, commit; begin, completes, commit), as the broker's group commit
    does, where SKIP LOCKED lets each process pass the rows another's open
    transaction holds.
    Usage: with_postgres.sh test_pg_race [single|group]  (both by default)  */
#include "pgtest.h"
#include <sys/wait.h>

#define S_PROCS 8
#define S_ITEMS 20000
#define S_GROUP 8

#define CHILD_CHECK(store, call) do { \
    wp_status rc_ = (call); \
    if (rc_ != WP_OK) { \
        fprintf (stderr, "child %d: %s returned %s (%s)\n", index, #call, \
                 wp_strerror (rc_), wp_store_errmsg (store)); \
        _exit (1); \
    } \
} while (0)

static size_t
s_result (const char *worker, uint8_t *buf)
{
    size_t length = strlen (worker);
    buf [0] = (uint8_t) (0xa0 | length);
    memcpy (buf + 1, worker, length);
    return length + 1;
}

static void
s_child (const char *conninfo, int index, bool group, const char *record_path)
{
    wp_status status;
    char *message = NULL;
    wp_store_t *store = wp_store_postgres_new (conninfo, NULL, &status, &message);
    if (!store) {
        fprintf (stderr, "child %d: cannot open: %s\n", index, message);
        _exit (2);
    }
    FILE *record = fopen (record_path, "w");
    if (!record)
        _exit (2);
    char worker [16];
    snprintf (worker, sizeof worker, "w%d", index);
    uint8_t result [32];
    size_t result_size = s_result (worker, result);
    while (true) {
        wp_item_t *items [S_GROUP];
        int count = 0;
        if (group) {
            CHILD_CHECK (store, wp_store_begin (store));
            for (; count < S_GROUP; count++) {
                CHILD_CHECK (store, wp_store_claim (store, "race", worker, 0, &items [count]));
                if (!items [count])
                    break;
            }
            CHILD_CHECK (store, wp_store_commit (store));
        }
        else {
            CHILD_CHECK (store, wp_store_claim (store, "race", worker, 0, &items [0]));
            count = items [0]? 1: 0;
        }
        if (count == 0)
            break;
        for (int i = 0; i < count; i++)
            fprintf (record, "%s\n", items [i]->id);
        if (group)
            CHILD_CHECK (store, wp_store_begin (store));
        for (int i = 0; i < count; i++) {
            CHILD_CHECK (store, wp_store_complete (store, "race", items [i]->id,
                                                   result, result_size, worker));
            wp_item_destroy (&items [i]);
        }
        if (group)
            CHILD_CHECK (store, wp_store_commit (store));
    }
    if (fclose (record))
        _exit (2);
    wp_store_destroy (&store);
    _exit (0);
}

//  Eight processes, released at once, open an empty schema and push one
//  item each: every open succeeds and every push lands.
static void
s_race_to_create (const char *conninfo)
{
    int gate [2];
    CHECK (pipe (gate) == 0);
    pid_t pids [S_PROCS];
    for (int index = 0; index < S_PROCS; index++) {
        pids [index] = fork ();
        CHECK (pids [index] >= 0);
        if (pids [index] == 0) {
            close (gate [1]);
            char byte;
            if (read (gate [0], &byte, 1) != 0)
                _exit (2);
            wp_status status;
            char *message = NULL;
            wp_store_t *store = wp_store_postgres_new (conninfo, NULL, &status, &message);
            if (!store) {
                fprintf (stderr, "opener %d: %s: %s\n", index, wp_strerror (status), message);
                _exit (1);
            }
            char id [16];
            snprintf (id, sizeof id, "opener-%d", index);
            static const uint8_t data [] = { 0xc0 };
            wp_push_entry_t entry = { data, sizeof data, id, -1 };
            char *id_out = NULL;
            CHILD_CHECK (store, wp_store_push (store, "openers", &entry, &id_out, NULL));
            free (id_out);
            wp_store_destroy (&store);
            _exit (0);
        }
    }
    close (gate [0]);
    close (gate [1]);
    for (int index = 0; index < S_PROCS; index++) {
        int wstatus;
        CHECK (waitpid (pids [index], &wstatus, 0) == pids [index]);
        CHECK (WIFEXITED (wstatus) && WEXITSTATUS (wstatus) == 0);
    }
    wp_store_t *store = pgtest_open (conninfo, NULL);
    uint64_t size = 0;
    CHECK_OK (store, wp_store_size (store, "openers", &size));
    CHECK_INT (size, S_PROCS);
    wp_store_destroy (&store);
}

static void
s_race (bool group)
{
    char dir [64], conninfo [1024];
    wp_test_dir_new (dir, "wp-pg-race");
    pgtest_schema_new (group? "race_group": "race_single", conninfo);
    s_race_to_create (conninfo);

    wp_store_t *store = pgtest_open (conninfo, NULL);
    static const uint8_t data [] = { 0xc0 };
    for (int i = 0; i < S_ITEMS; i++) {
        if (i % 1000 == 0)
            CHECK_OK (store, wp_store_begin (store));
        char id [16];
        snprintf (id, sizeof id, "i%05d", i);
        wp_push_entry_t entry = { data, sizeof data, id, -1 };
        char *id_out = NULL;
        CHECK_OK (store, wp_store_push (store, "race", &entry, &id_out, NULL));
        free (id_out);
        if (i % 1000 == 999)
            CHECK_OK (store, wp_store_commit (store));
    }
    //  A libpq connection must not cross a fork
    wp_store_destroy (&store);

    pid_t pids [S_PROCS];
    for (int index = 0; index < S_PROCS; index++) {
        char record_path [160];
        snprintf (record_path, sizeof record_path, "%s/claimed.%d", dir, index);
        pids [index] = fork ();
        CHECK (pids [index] >= 0);
        if (pids [index] == 0)
            s_child (conninfo, index, group, record_path);
    }
    for (int index = 0; index < S_PROCS; index++) {
        int wstatus;
        CHECK (waitpid (pids [index], &wstatus, 0) == pids [index]);
        if (!WIFEXITED (wstatus) || WEXITSTATUS (wstatus) != 0) {
            fprintf (stderr, "child %d failed (wait status %d)\n", index, wstatus);
            abort ();
        }
    }

    int *owner = malloc (S_ITEMS * sizeof *owner);
    CHECK (owner);
    for (int i = 0; i < S_ITEMS; i++)
        owner [i] = -1;
    int total = 0, busiest = 0, idlest = S_ITEMS;
    for (int index = 0; index < S_PROCS; index++) {
        char record_path [160], line [64];
        snprintf (record_path, sizeof record_path, "%s/claimed.%d", dir, index);
        FILE *record = fopen (record_path, "r");
        CHECK (record);
        int mine = 0;
        while (fgets (line, sizeof line, record)) {
            int number = -1;
            CHECK (sscanf (line, "i%d", &number) == 1 && number >= 0 && number < S_ITEMS);
            if (owner [number] != -1) {
                fprintf (stderr, "item i%05d was claimed by w%d and by w%d\n", number,
                         owner [number], index);
                abort ();
            }
            owner [number] = index;
            mine++;
        }
        fclose (record);
        total += mine;
        busiest = mine > busiest? mine: busiest;
        idlest = mine < idlest? mine: idlest;
    }
    CHECK_INT (total, S_ITEMS);

    store = pgtest_open (conninfo, NULL);
    wp_stats_t *stats = NULL;
    CHECK_OK (store, wp_store_stats (store, &stats));
    CHECK_INT (stats->pool_count, 2);                   //  "openers", "race"
    CHECK_STR (stats->pools [1].pool, "race");
    CHECK_INT (stats->pools [1].done, S_ITEMS);
    CHECK_INT (stats->pools [1].pending + stats->pools [1].claimed + stats->pools [1].poisoned, 0);
    wp_stats_destroy (&stats);
    for (int i = 0; i < S_ITEMS; i++) {
        char id [16], worker [16];
        snprintf (id, sizeof id, "i%05d", i);
        snprintf (worker, sizeof worker, "w%d", owner [i]);
        wp_item_t *item = NULL;
        CHECK_OK (store, wp_store_get (store, "race", id, &item));
        CHECK_INT (item->status, WP_ITEM_DONE);
        CHECK_STR (item->claimed_by, worker);
        uint8_t result [32];
        size_t result_size = s_result (worker, result);
        CHECK (item->result_size == result_size && memcmp (item->result, result, result_size) == 0);
        CHECK_INT (item->attempts, 0);
        wp_item_destroy (&item);
    }
    wp_store_destroy (&store);
    free (owner);
    wp_test_remove (dir);
    printf ("test_pg_race (%s): %d processes completed %d items exactly once "
            "(per process: %d to %d)\n", group? "group": "single", S_PROCS, S_ITEMS,
            idlest, busiest);
}

int
main (int argc, char *argv [])
{
    const char *only = argc > 1? argv [1]: NULL;
    if (!only || strcmp (only, "single") == 0)
        s_race (false);
    if (!only || strcmp (only, "group") == 0)
        s_race (true);
    return 0;
}
