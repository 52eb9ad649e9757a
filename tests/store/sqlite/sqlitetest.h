/*  sqlitetest: what the SQLite store's own tests share: checks that stop
    the test at the first failure (naming the line and the store's message),
    a temporary directory per test, and opening a store on a file in it.  */
#ifndef WP_SQLITETEST_H_INCLUDED
#define WP_SQLITETEST_H_INCLUDED

#include "wp_store.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHECK(cond) do { \
    if (!(cond)) { \
        fprintf (stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        abort (); \
    } \
} while (0)

//  Checks that a store call returns expect, printing the store's message if not
#define CHECK_RC(store, call, expect) do { \
    wp_status rc_ = (call); \
    if (rc_ != (expect)) { \
        fprintf (stderr, "%s:%d: %s returned %s (%s), expected %s\n", __FILE__, __LINE__, \
                 #call, wp_strerror (rc_), wp_store_errmsg (store), wp_strerror (expect)); \
        abort (); \
    } \
} while (0)

#define CHECK_OK(store, call) CHECK_RC (store, call, WP_OK)

#define CHECK_STR(got, want) do { \
    const char *got_ = (got), *want_ = (want); \
    if (!got_ || strcmp (got_, want_)) { \
        fprintf (stderr, "%s:%d: %s is '%s', expected '%s'\n", __FILE__, __LINE__, #got, \
                 got_? got_: "(null)", want_); \
        abort (); \
    } \
} while (0)

#define CHECK_INT(got, want) do { \
    long long got_ = (long long) (got), want_ = (long long) (want); \
    if (got_ != want_) { \
        fprintf (stderr, "%s:%d: %s is %lld, expected %lld\n", __FILE__, __LINE__, #got, \
                 got_, want_); \
        abort (); \
    } \
} while (0)

#define SECOND INT64_C(1000000)

//  Makes a fresh directory under /tmp into dir (at least 64 bytes).
static inline void
sqlitetest_dir_new (char *dir)
{
    strcpy (dir, "/tmp/wp-sqlite-XXXXXX");
    CHECK (mkdtemp (dir));
}

//  Removes path and everything under it.
static inline void
sqlitetest_remove (const char *path)
{
    struct stat st;
    if (lstat (path, &st))
        return;
    if (S_ISDIR (st.st_mode)) {
        chmod (path, 0700);
        DIR *handle = opendir (path);
        if (handle) {
            struct dirent *entry;
            while ((entry = readdir (handle)))
                if (strcmp (entry->d_name, ".") && strcmp (entry->d_name, "..")) {
                    char child [1024];
                    snprintf (child, sizeof child, "%s/%s", path, entry->d_name);
                    sqlitetest_remove (child);
                }
            closedir (handle);
        }
        rmdir (path);
    }
    else
        unlink (path);
}

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
