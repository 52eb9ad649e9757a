/*  filetest: what the tests of the two file-backed stores (the SQLite store,
    tests/store/sqlite; the image store, tests/store/image) share: raw SQLite
    access to a store's file, a file's bytes, a directory's entries, opens
    that must be refused, the item calls a test makes in passing, and the
    durability checks both stores must pass (pause across a reopen). Every
    helper stops the test at the first failure.  */
#ifndef WP_FILETEST_H_INCLUDED
#define WP_FILETEST_H_INCLUDED

#include "wp_test.h"
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

//  wp_store_sqlite_new or wp_store_image_new
typedef wp_store_t *(filetest_open_fn) (const char *path, const wp_store_config_t *cfg,
                                        wp_status *status, char **message);

//  A connection of the test's own to the file at path
static inline sqlite3 *
filetest_raw_open (const char *path)
{
    sqlite3 *db;
    CHECK (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL)
           == SQLITE_OK);
    return db;
}

static inline void
filetest_exec (sqlite3 *db, const char *sql)
{
    char *error = NULL;
    if (sqlite3_exec (db, sql, NULL, NULL, &error) != SQLITE_OK) {
        fprintf (stderr, "%s: %s\n", sql, error);
        abort ();
    }
}

//  The integer of sql's first row and column
static inline int64_t
filetest_query_int (sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt;
    CHECK (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) == SQLITE_OK);
    CHECK (sqlite3_step (stmt) == SQLITE_ROW);
    int64_t value = sqlite3_column_int64 (stmt, 0);
    sqlite3_finalize (stmt);
    return value;
}

//  Reads a whole file. Caller frees.
static inline char *
filetest_slurp (const char *path, size_t *size)
{
    FILE *file = fopen (path, "rb");
    CHECK (file);
    CHECK (fseek (file, 0, SEEK_END) == 0);
    long length = ftell (file);
    CHECK (length >= 0);
    rewind (file);
    char *bytes = malloc ((size_t) length + 1);
    CHECK (bytes);
    CHECK (fread (bytes, 1, (size_t) length, file) == (size_t) length);
    fclose (file);
    *size = (size_t) length;
    return bytes;
}

//  Counts the entries of dir (besides . and ..).
static inline int
filetest_entries (const char *dir)
{
    DIR *handle = opendir (dir);
    CHECK (handle);
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir (handle)))
        count += strcmp (entry->d_name, ".") && strcmp (entry->d_name, "..");
    closedir (handle);
    return count;
}

//  Opening path with opener must fail with status and a message containing
//  words.
static inline void
filetest_expect_refused (filetest_open_fn *opener, const char *path,
                         const wp_store_config_t *cfg, wp_status expect, const char *words)
{
    wp_status status = WP_OK;
    char *message = NULL;
    wp_store_t *store = opener (path, cfg, &status, &message);
    if (store || status != expect || !message || !strstr (message, words)) {
        fprintf (stderr, "opening %s: got %s '%s', expected %s with '%s'\n", path,
                 store ? "a store" : wp_strerror (status), message ? message : "(no message)",
                 wp_strerror (expect), words);
        abort ();
    }
    free (message);
}

//  Opening path must be refused as above and leave the file byte for byte
//  as it was, with no companion file left behind.
static inline void
filetest_expect_refused_untouched (filetest_open_fn *opener, const char *dir,
                                   const char *path, wp_status expect, const char *words)
{
    size_t size_before, size_after;
    char *before = filetest_slurp (path, &size_before);
    int entries = filetest_entries (dir);
    filetest_expect_refused (opener, path, NULL, expect, words);
    char *after = filetest_slurp (path, &size_after);
    CHECK (size_before == size_after && memcmp (before, after, size_before) == 0);
    CHECK_INT (filetest_entries (dir), entries);
    free (before);
    free (after);
}

static inline wp_item_t *
filetest_get (wp_store_t *store, const char *pool, const char *id)
{
    wp_item_t *item = NULL;
    CHECK_OK (store, wp_store_get (store, pool, id, &item));
    CHECK (item);
    return item;
}

//  Claims the oldest pending item, which must be there
static inline wp_item_t *
filetest_claim (wp_store_t *store, const char *pool, const char *worker, double lease)
{
    wp_item_t *item = NULL;
    CHECK_OK (store, wp_store_claim (store, pool, worker, lease, &item));
    CHECK (item);
    return item;
}

//  Opens the store at path with opener or stops the test, printing why.
static inline wp_store_t *
filetest_open (filetest_open_fn *opener, const char *path)
{
    wp_status status = WP_OK;
    char *message = NULL;
    wp_store_t *store = opener (path, NULL, &status, &message);
    if (!store) {
        fprintf (stderr, "cannot open %s: %s: %s\n", path, wp_strerror (status),
                 message? message: "");
        abort ();
    }
    return store;
}

//  Whether stats lists pool as paused (1), not paused (0) or not at all (-1)
static inline int
filetest_paused (wp_store_t *store, const char *pool)
{
    wp_stats_t *stats = NULL;
    CHECK_OK (store, wp_store_stats (store, &stats));
    int paused = -1;
    for (size_t i = 0; i < stats->pool_count; i++)
        if (strcmp (stats->pools [i].pool, pool) == 0)
            paused = stats->pools [i].paused;
    wp_stats_destroy (&stats);
    return paused;
}

//  Pause and resume are durable: a paused pool (one with items, one never
//  pushed to) is paused still after the store is closed and opened again,
//  its items claimable only once it is resumed, and a resume lasts too.
static inline void
filetest_paused_survives_reopen (filetest_open_fn *opener, const char *path)
{
    static const uint8_t data [] = { 0xa1, 'x' };   //  msgpack "x"
    wp_push_entry_t entry = { data, sizeof data, "a", -1 };
    wp_store_t *store = filetest_open (opener, path);
    char *id = NULL;
    CHECK_OK (store, wp_store_push (store, "p", &entry, &id, NULL));
    free (id);
    CHECK_OK (store, wp_store_set_paused (store, "p", true));
    CHECK_OK (store, wp_store_set_paused (store, "empty", true));
    wp_store_destroy (&store);

    store = filetest_open (opener, path);
    CHECK_INT (filetest_paused (store, "p"), 1);
    CHECK_INT (filetest_paused (store, "empty"), 1);
    wp_item_t *item = NULL;
    CHECK_OK (store, wp_store_claim (store, "p", "w", 0, &item));
    CHECK (!item);
    uint64_t size = 0;
    CHECK_OK (store, wp_store_size (store, "p", &size));
    CHECK_INT (size, 1);
    CHECK_OK (store, wp_store_set_paused (store, "p", false));
    wp_store_destroy (&store);

    store = filetest_open (opener, path);
    CHECK_INT (filetest_paused (store, "p"), 0);
    CHECK_INT (filetest_paused (store, "empty"), 1);
    item = filetest_claim (store, "p", "w", 0);
    CHECK_STR (item->id, "a");
    wp_item_destroy (&item);
    wp_store_destroy (&store);
}

//  The crash tests' harness: runs child (path, round, fd) in a process of
//  its own, which writes a line to fd for each change it got acknowledged
//  and never returns; reads those lines until a random number of them
//  (1 to 2000), SIGKILLs the child after a random pause of up to 3 ms
//  (somewhere inside a call or a commit), and returns every line it read,
//  NUL-terminated (caller frees). Fails the test if the child ended on its
//  own. Lines are single write()s under PIPE_BUF: each is whole or absent.
static inline char *
filetest_kill_midway (void (*child) (const char *path, int round, int fd), const char *path,
                      int round)
{
    int fds [2];
    CHECK (pipe (fds) == 0);
    pid_t pid = fork ();
    CHECK (pid >= 0);
    if (pid == 0) {
        close (fds [0]);
        child (path, round, fds [1]);
        _exit (1);
    }
    close (fds [1]);

    size_t target = 1 + (size_t) (rand () % 2000);
    size_t size = 0, capacity = 4096, lines = 0;
    char *acked = malloc (capacity);
    CHECK (acked);
    bool killed = false;
    while (true) {
        if (!killed && lines >= target) {
            struct timespec pause = { 0, (rand () % 3000) * 1000L };
            nanosleep (&pause, NULL);
            CHECK (kill (pid, SIGKILL) == 0);
            killed = true;
        }
        if (capacity - size < 2048) {
            capacity *= 2;
            acked = realloc (acked, capacity);
            CHECK (acked);
        }
        ssize_t got = read (fds [0], acked + size, capacity - size - 1);
        if (got < 0 && errno == EINTR)
            continue;
        CHECK (got >= 0);
        if (got == 0)
            break;
        for (ssize_t i = 0; i < got; i++)
            lines += acked [size + (size_t) i] == '\n';
        size += (size_t) got;
    }
    acked [size] = 0;
    close (fds [0]);
    int wstatus;
    CHECK (waitpid (pid, &wstatus, 0) == pid);
    if (!WIFSIGNALED (wstatus) || WTERMSIG (wstatus) != SIGKILL) {
        fprintf (stderr, "round %d: the child ended on its own (wait status %d)\n",
                 round, wstatus);
        abort ();
    }
    return acked;
}

//  One case of a file test; run gets a fresh directory, removed afterwards.
typedef struct {
    const char *name;
    void (*run) (const char *dir);
} filetest_case_t;

//  Runs the case named only, or every case if only is NULL, each in a
//  fresh directory under /tmp whose name starts with prefix; fails the
//  test if no case has that name. Returns main's exit code.
static inline int
filetest_run (const filetest_case_t *cases, size_t count, const char *only, const char *prefix)
{
    int ran = 0;
    for (size_t i = 0; i < count; i++) {
        if (only && strcmp (only, cases [i].name))
            continue;
        char dir [64];
        wp_test_dir_new (dir, prefix);
        cases [i].run (dir);
        wp_test_remove (dir);
        printf ("ok - %s\n", cases [i].name);
        ran++;
    }
    CHECK (ran > 0);
    return 0;
}

#endif
