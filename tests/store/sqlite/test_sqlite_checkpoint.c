/*  test_sqlite_checkpoint: the WAL is checkpointed every
    WP_SQLITE_CHECKPOINT_PAGES pages, so it stays bounded however many
    commits run, and what was committed across checkpoints is all in the
    file afterwards.

    Each push is its own commit (several 1 KiB pages in the WAL): 15,000
    of them append tens of MB of frames, so a WAL that never
    restarted would pass the bound; one checkpointed as configured stays
    near WP_SQLITE_CHECKPOINT_PAGES pages, and gets there (SQLite's default
    of 1000 pages would keep it near 1 MB).  */
#include "sqlitetest.h"
#include "wp_store_sqlite_sql.h"
#include <sqlite3.h>

#define S_PUSHES 15000

int
main (void)
{
    char dir [64], path [128], wal [160];
    sqlitetest_dir_new (dir);
    snprintf (path, sizeof path, "%s/store.db", dir);
    snprintf (wal, sizeof wal, "%s-wal", path);

    wp_store_t *store = sqlitetest_open (path, NULL);
    static const uint8_t data [64] = { 0xc4, 62 };      //  msgpack bin 62
    off_t wal_max = 0;
    for (int i = 0; i < S_PUSHES; i++) {
        wp_push_entry_t entry = { data, sizeof data, NULL, -1 };
        char *id = NULL;
        CHECK_OK (store, wp_store_push (store, "jobs", &entry, &id, NULL));
        free (id);
        struct stat st;
        if (i % 500 == 0 && stat (wal, &st) == 0 && st.st_size > wal_max)
            wal_max = st.st_size;
    }
    printf ("largest WAL seen: %lld bytes\n", (long long) wal_max);
    //  Checkpoints at WP_SQLITE_CHECKPOINT_PAGES, not at SQLite's 1000: the
    //  WAL grows past half the interval before it restarts
    CHECK (wal_max > WP_SQLITE_CHECKPOINT_PAGES / 2 * 1024);
    CHECK (wal_max < 2 * WP_SQLITE_CHECKPOINT_PAGES * (1024 + 24));
    wp_store_destroy (&store);

    //  Everything is there, and the file is sound
    store = sqlitetest_open (path, NULL);
    uint64_t size = 0;
    CHECK_OK (store, wp_store_size (store, "jobs", &size));
    CHECK_INT (size, S_PUSHES);
    wp_store_destroy (&store);
    sqlite3 *db;
    CHECK (sqlite3_open (path, &db) == SQLITE_OK);
    sqlite3_stmt *stmt;
    CHECK (sqlite3_prepare_v2 (db, "PRAGMA integrity_check", -1, &stmt, NULL) == SQLITE_OK);
    CHECK (sqlite3_step (stmt) == SQLITE_ROW);
    CHECK_STR ((const char *) sqlite3_column_text (stmt, 0), "ok");
    sqlite3_finalize (stmt);
    CHECK (sqlite3_prepare_v2 (db, "SELECT count(*) FROM items", -1, &stmt, NULL) == SQLITE_OK);
    CHECK (sqlite3_step (stmt) == SQLITE_ROW);
    CHECK_INT (sqlite3_column_int64 (stmt, 0), S_PUSHES);
    sqlite3_finalize (stmt);
    sqlite3_close (db);
    sqlitetest_remove (dir);
    printf ("test_sqlite_checkpoint: OK\n");
    return 0;
}
