/*  test_image_crash: SIGKILL in the middle of commits, for the image store.
    In each of several rounds a child opens the image (loading what the
    rounds before left) and pushes in a loop, single pushes and groups of 1
    to 20 pushes, claiming and completing an item now and then; after each
    commit returns it writes what the commit acknowledged to a pipe, one
    line per item ("p ID" pushed, "d ID" done), in one write() of less than
    PIPE_BUF, so a commit's lines are all there or not at all. The parent
    kills it at a random point (the kernel drops the child's exclusive lock
    with it), checks the file with PRAGMA integrity_check and counts its
    rows by state before anything else opens it, then opens the image and
    checks that every acknowledged push is there with its data, every
    acknowledged completion is done with its result, that no item is held
    twice (no two rows for one id, the stats adding up to the rows), and
    that the claim the child may have died holding can be released.  */
#include "../filetest.h"
#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <time.h>

#define S_ROUNDS 10

static const uint8_t s_data [] = { 0xa5, 'h', 'e', 'l', 'l', 'o' };
static const uint8_t s_result [] = { 0xa2, 'o', 'k' };

static wp_store_t *
s_open (const char *path)
{
    wp_status status = WP_OK;
    char *message = NULL;
    wp_store_t *store = wp_store_image_new (path, NULL, &status, &message);
    if (!store) {
        fprintf (stderr, "cannot open %s: %s: %s\n", path, wp_strerror (status),
                 message ? message : "");
        abort ();
    }
    return store;
}

//  The child: pushes, claims and completes until killed. Exits on its own
//  only if something fails.
static void
s_child (const char *path, int round, int fd)
{
    wp_status status;
    char *message = NULL;
    wp_store_t *store = wp_store_image_new (path, NULL, &status, &message);
    if (!store) {
        fprintf (stderr, "child: cannot open: %s\n", message);
        _exit (2);
    }
    srand ((unsigned) getpid ());
    for (int next = 0; ; ) {
        bool group = rand () % 3 == 0;
        int count = group ? 1 + rand () % 20 : 1;
        char acked [1024] = "";
        size_t length = 0;
        if (group && wp_store_begin (store) != WP_OK)
            _exit (3);
        for (int i = 0; i < count; i++) {
            char id [32];
            snprintf (id, sizeof id, "r%d-%d", round, next++);
            wp_push_entry_t entry = { s_data, sizeof s_data, id, -1 };
            char *id_out = NULL;
            if (wp_store_push (store, "crash", &entry, &id_out, NULL) != WP_OK) {
                fprintf (stderr, "child: push: %s\n", wp_store_errmsg (store));
                _exit (3);
            }
            free (id_out);
            length += (size_t) snprintf (acked + length, sizeof acked - length, "p %s\n", id);
            if (!group) {
                //  Acknowledged as the push returns: it committed alone
                if (write (fd, acked, length) != (ssize_t) length)
                    _exit (4);
                length = 0;
            }
        }
        if (rand () % 3 == 0) {
            //  Updates too: a claim, and its completion in the same group or
            //  in a commit of its own (so a kill may fall between the two)
            wp_item_t *item = NULL;
            if (wp_store_claim (store, "crash", "child", 0, &item) != WP_OK)
                _exit (3);
            if (item) {
                if (wp_store_complete (store, "crash", item->id, s_result, sizeof s_result,
                                       "child") != WP_OK)
                    _exit (3);
                length += (size_t) snprintf (acked + length, sizeof acked - length,
                                             "d %s\n", item->id);
                if (!group) {
                    if (write (fd, acked, length) != (ssize_t) length)
                        _exit (4);
                    length = 0;
                }
            }
            wp_item_destroy (&item);
        }
        if (group && wp_store_commit (store) != WP_OK) {
            fprintf (stderr, "child: commit: %s\n", wp_store_errmsg (store));
            _exit (3);
        }
        if (length > 0 && write (fd, acked, length) != (ssize_t) length)
            _exit (4);
    }
}

//  What the file holds, read raw as a crashed broker leaves it
typedef struct {
    int64_t rows;
    int64_t by_state [4];
} s_file_t;

//  Runs PRAGMA integrity_check on the file and counts its rows: one per
//  (pool, id), each in one valid state.
static void
s_check_file (const char *path, s_file_t *file)
{
    sqlite3 *db;
    CHECK (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK);
    sqlite3_stmt *stmt;
    CHECK (sqlite3_prepare_v2 (db, "PRAGMA integrity_check", -1, &stmt, NULL) == SQLITE_OK);
    CHECK (sqlite3_step (stmt) == SQLITE_ROW);
    CHECK_STR ((const char *) sqlite3_column_text (stmt, 0), "ok");
    sqlite3_finalize (stmt);
    file->rows = filetest_query_int (db, "SELECT count(*) FROM items");
    CHECK_INT (filetest_query_int (db, "SELECT count(*) FROM (SELECT DISTINCT pool, id FROM items)"),
               file->rows);
    CHECK_INT (filetest_query_int (db, "SELECT count(*) FROM items WHERE status NOT BETWEEN 0 AND 3"),
               0);
    for (int state = 0; state < 4; state++) {
        char sql [80];
        snprintf (sql, sizeof sql, "SELECT count(*) FROM items WHERE status = %d", state);
        file->by_state [state] = filetest_query_int (db, sql);
    }
    //  Only the child claims, and done items keep it as their claimant
    CHECK_INT (filetest_query_int (db, "SELECT count(*) FROM items WHERE status = 1 "
                                "AND (claimed_by IS NOT 'child' OR lease_expires_at = 0)"), 0);
    CHECK_INT (filetest_query_int (db, "SELECT count(*) FROM items WHERE status = 0 "
                                "AND (claimed_by IS NOT NULL OR result IS NOT NULL)"), 0);
    CHECK_INT (filetest_query_int (db, "SELECT count(*) FROM items WHERE status = 2 "
                                "AND (claimed_by IS NOT 'child' OR result IS NULL)"), 0);
    CHECK (sqlite3_close (db) == SQLITE_OK);
}

int
main (void)
{
    char dir [64], path [128];
    wp_test_dir_new (dir, "wp-image-crash");
    snprintf (path, sizeof path, "%s/crash.db", dir);
    wp_store_t *store = s_open (path);
    wp_store_destroy (&store);
    srand ((unsigned) time (NULL));

    size_t pushed_total = 0, done_total = 0;
    for (int round = 0; round < S_ROUNDS; round++) {
        char *acked = filetest_kill_midway (s_child, path, round);
        size_t lines = 0;
        for (const char *c = acked; *c; c++)
            lines += *c == '\n';

        s_file_t file;
        s_check_file (path, &file);
        store = s_open (path);
        //  The image holds what the file holds, each item in one state
        wp_stats_t *stats = NULL;
        CHECK_OK (store, wp_store_stats (store, &stats));
        CHECK_INT (stats->pool_count, 1);
        CHECK_INT (stats->pools [0].pending, file.by_state [WP_ITEM_PENDING]);
        CHECK_INT (stats->pools [0].claimed, file.by_state [WP_ITEM_CLAIMED]);
        CHECK_INT (stats->pools [0].done, file.by_state [WP_ITEM_DONE]);
        CHECK_INT (stats->pools [0].poisoned, 0);
        CHECK_INT (stats->pools [0].pending + stats->pools [0].claimed + stats->pools [0].done,
                   file.rows);
        wp_stats_destroy (&stats);

        size_t pushed = 0, done = 0;
        for (char *line = strtok (acked, "\n"); line; line = strtok (NULL, "\n")) {
            CHECK ((line [0] == 'p' || line [0] == 'd') && line [1] == ' ');
            wp_item_t *item = NULL;
            CHECK_OK (store, wp_store_get (store, "crash", line + 2, &item));
            CHECK (item->data_size == sizeof s_data
                   && memcmp (item->data, s_data, sizeof s_data) == 0);
            if (line [0] == 'd') {
                CHECK_INT (item->status, WP_ITEM_DONE);
                CHECK (item->result_size == sizeof s_result
                       && memcmp (item->result, s_result, sizeof s_result) == 0);
                done++;
            }
            else
                pushed++;
            wp_item_destroy (&item);
        }
        CHECK_INT (pushed + done, lines);
        //  Whatever the child held when it died goes back to pending
        uint64_t released = 0;
        CHECK_OK (store, wp_store_release_by_worker (store, "crash", "child", &released));
        CHECK (released <= 1);
        CHECK_INT (released, file.by_state [WP_ITEM_CLAIMED]);
        pushed_total += pushed;
        done_total += done;
        wp_store_destroy (&store);
        free (acked);
    }
    CHECK (pushed_total >= S_ROUNDS);
    s_file_t file;
    s_check_file (path, &file);
    CHECK (file.rows >= (int64_t) pushed_total);
    CHECK_INT (file.by_state [WP_ITEM_CLAIMED], 0);
    wp_test_remove (dir);
    printf ("test_image_crash: %d rounds, %zu acknowledged pushes and %zu completions "
            "all found\n", S_ROUNDS, pushed_total, done_total);
    return 0;
}
