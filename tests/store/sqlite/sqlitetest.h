/*  sqlitetest: what the SQLite store's own tests share: checks that stop
    the test at the first failure and a temporary directory (tests/wp_test.h),
    and opening a store on a file in it.  */
#ifndef WP_SQLITETEST_H_INCLUDED
#define WP_SQLITETEST_H_INCLUDED

#include "wp_test.h"

//  Makes a fresh directory under /tmp into dir (at least 64 bytes).
static inline void
sqlitetest_dir_new (char *dir)
{
    wp_test_dir_new (dir, "wp-sqlite");
}

#define sqlitetest_remove wp_test_remove

//  Opens the SQLite store at path or stops the test, printing why.
static inline wp_store_t *
sqlitetest_open (const char *path, const wp_store_config_t *cfg)
{
    wp_status status = WP_OK;
    char *message = NULL;
    wp_store_t *store = wp_store_sqlite_new (path, cfg, &status, &message);
    if (!store) {
        fprintf (stderr, "cannot open %s: %s: %s\n", path, wp_strerror (status),
                 message? message: "");
        abort ();
    }
    return store;
}

//  Pushes data "x" with the given id into pool.
static inline void
sqlitetest_push (wp_store_t *store, const char *pool, const char *id)
{
    static const uint8_t data [] = { 0xa1, 'x' };   //  msgpack "x"
    wp_push_entry_t entry = { data, sizeof data, id, -1 };
    char *id_out = NULL;
    bool duplicate = true;
    CHECK_OK (store, wp_store_push (store, pool, &entry, &id_out, &duplicate));
    CHECK_STR (id_out, id);
    CHECK (!duplicate);
    free (id_out);
}

#endif
