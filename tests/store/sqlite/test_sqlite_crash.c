/*  test_sqlite_crash: SIGKILL in the middle of commits. In each of several
    rounds a child opens the store and pushes in a loop, single pushes and
    group commits of 1 to 20 pushes, with a claim and complete now and then;
    after each commit returns it writes the ids it acknowledged to a pipe
    (one write() of less than PIPE_BUF, so a line is all there or not at
    all). The parent kills it at a random point, checks the file with
    PRAGMA integrity_check before anything else opens it, then reopens the
    store and checks that every acknowledged push is there.  */
#include "sqlitetest.h"
#include "../filetest.h"
#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <time.h>

#define S_ROUNDS 10

static void
s_child (const char *path, int round, int fd)
{
    wp_store_config_t cfg = { .busy_timeout_ms = 60000 };
    wp_status status;
    char *message = NULL;
    wp_store_t *store = wp_store_sqlite_new (path, &cfg, &status, &message);
    if (!store) {
        fprintf (stderr, "child: cannot open: %s\n", message);
        _exit (2);
    }
    srand ((unsigned) getpid ());
    static const uint8_t data [] = { 0xa5, 'h', 'e', 'l', 'l', 'o' };
    for (int next = 0; ; ) {
        bool group = rand () % 3 == 0;
        int count = group? 1 + rand () % 20: 1;
        char acked [1024] = "";
        size_t length = 0;
        if (group && wp_store_begin (store) != WP_OK)
            _exit (3);
        for (int i = 0; i < count; i++) {
            char id [32];
            snprintf (id, sizeof id, "r%d-%d", round, next++);
            wp_push_entry_t entry = { data, sizeof data, id, -1 };
            char *id_out = NULL;
            if (wp_store_push (store, "crash", &entry, &id_out, NULL) != WP_OK) {
                fprintf (stderr, "child: push: %s\n", wp_store_errmsg (store));
                _exit (3);
            }
            free (id_out);
            length += (size_t) snprintf (acked + length, sizeof acked - length, "%s\n", id);
        }
        if (rand () % 4 == 0) {
            //  Some updates too, so the WAL holds more than inserts
            wp_item_t *item = NULL;
            if (wp_store_claim (store, "crash", "child", 0, &item) != WP_OK
            ||  (item && wp_store_complete (store, "crash", item->id, data, sizeof data,
                                            "child") != WP_OK))
                _exit (3);
            wp_item_destroy (&item);
        }
        if (group && wp_store_commit (store) != WP_OK) {
            fprintf (stderr, "child: commit: %s\n", wp_store_errmsg (store));
            _exit (3);
        }
        if (write (fd, acked, length) != (ssize_t) length)
            _exit (4);
    }
}

//  Runs PRAGMA integrity_check on the file as a crashed broker leaves it.
static void
s_check_integrity (const char *path)
{
    sqlite3 *db;
    CHECK (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK);
    sqlite3_stmt *stmt;
    CHECK (sqlite3_prepare_v2 (db, "PRAGMA integrity_check", -1, &stmt, NULL) == SQLITE_OK);
    CHECK (sqlite3_step (stmt) == SQLITE_ROW);
    CHECK_STR ((const char *) sqlite3_column_text (stmt, 0), "ok");
    sqlite3_finalize (stmt);
    sqlite3_close (db);
}

int
main (void)
{
    char dir [64], path [128];
    sqlitetest_dir_new (dir);
    snprintf (path, sizeof path, "%s/crash.db", dir);
    wp_store_t *store = sqlitetest_open (path, NULL);
    wp_store_destroy (&store);
    srand ((unsigned) time (NULL));

    size_t acked_total = 0;
    for (int round = 0; round < S_ROUNDS; round++) {
        char *acked = filetest_kill_midway (s_child, path, round);
        size_t lines = 0;
        for (const char *c = acked; *c; c++)
            lines += *c == '\n';

        s_check_integrity (path);
        store = sqlitetest_open (path, NULL);
        size_t found = 0;
        for (char *line = strtok (acked, "\n"); line; line = strtok (NULL, "\n")) {
            wp_item_t *item = NULL;
            CHECK_OK (store, wp_store_get (store, "crash", line, &item));
            CHECK (item->data_size == 6 && memcmp (item->data, "\xa5hello", 6) == 0);
            wp_item_destroy (&item);
            found++;
        }
        CHECK_INT (found, lines);
        acked_total += found;
        wp_store_destroy (&store);
        free (acked);
    }
    CHECK (acked_total >= S_ROUNDS);
    s_check_integrity (path);
    sqlitetest_remove (dir);
    printf ("test_sqlite_crash: %d rounds, %zu acknowledged pushes all found\n",
            S_ROUNDS, acked_total);
    return 0;
}
