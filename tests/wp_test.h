/*  wp_test: what the C tests share: checks that stop the test at the first
    failure (naming the line, and the store's message for store calls), a
    clock the test moves by hand, and a temporary directory per test,
    removed with everything in it.  */
#ifndef WP_TEST_H_INCLUDED
#define WP_TEST_H_INCLUDED

#include "wp_store.h"
#include <dirent.h>
#include <limits.h>
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

//  A clock the test moves by hand (wp_store_set_clock (store,
//  wp_test_clock_read, &clock)); now is in microseconds
typedef struct {
    int64_t now;
} wp_test_clock_t;

static inline int64_t
wp_test_clock_read (void *arg)
{
    return ((wp_test_clock_t *) arg)->now;
}

//  Makes a fresh directory under /tmp into dir (at least 64 bytes); prefix
//  names the test ("wp-sqlite").
static inline void
wp_test_dir_new (char *dir, const char *prefix)
{
    snprintf (dir, 64, "/tmp/%.40s-XXXXXX", prefix);
    CHECK (mkdtemp (dir));
}

//  Removes path and everything under it.
static inline void
wp_test_remove (const char *path)
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
                    char child [PATH_MAX];
                    int size = snprintf (child, sizeof child, "%s/%s", path, entry->d_name);
                    if (size > 0 && (size_t) size < sizeof child)
                        wp_test_remove (child);
                }
            closedir (handle);
        }
        rmdir (path);
    }
    else
        unlink (path);
}

#endif
