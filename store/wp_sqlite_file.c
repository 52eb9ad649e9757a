/*  wp_sqlite_file: what the two SQLite-backed stores share when they open a
    file, read columns and map SQLite's errors (see wp_sqlite_file.h).  */
#include "wp_sqlite_file.h"
#include "wp_records.h"
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *
wp_sqlite_column_strdup (sqlite3_stmt *stmt, int col)
{
    const char *text = (const char *) sqlite3_column_text (stmt, col);
    if (text)
        return wp_strdup (text);
    if (sqlite3_errcode (sqlite3_db_handle (stmt)) == SQLITE_NOMEM)
        abort ();
    return NULL;
}

uint8_t *
wp_sqlite_column_blob (sqlite3_stmt *stmt, int col, size_t *size)
{
    const void *blob = sqlite3_column_blob (stmt, col);
    *size = (size_t) sqlite3_column_bytes (stmt, col);
    if (!blob || *size == 0) {
        if (sqlite3_errcode (sqlite3_db_handle (stmt)) == SQLITE_NOMEM)
            abort ();
        *size = 0;
        return NULL;
    }
    uint8_t *copy = malloc (*size);
    if (!copy)
        abort ();
    memcpy (copy, blob, *size);
    return copy;
}

//  Maps a SQLite result code to the status a caller can act on.
wp_status
wp_sqlite_status_of (int rc)
{
    switch (rc & 0xff) {
        case SQLITE_NOMEM:
            abort ();
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
            return WP_UNAVAILABLE;      //  another connection holds the lock: retry
        case SQLITE_FULL:
            return WP_RESOURCE_EXHAUSTED;
        case SQLITE_TOOBIG:
            return WP_INVALID_ARGUMENT;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
            return WP_DATA_LOSS;
        case SQLITE_READONLY:
        case SQLITE_PERM:
        case SQLITE_AUTH:
            return WP_PERMISSION_DENIED;
        default:
            return WP_INTERNAL;
    }
}

int
wp_sqlite_open_failed (wp_sqlite_failure_t *failure, wp_status status, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (failure->message, sizeof failure->message, format, args);
    va_end (args);
    failure->status = status;
    return -1;
}

//  SQLite's words for rc: the connection's message if it is rc's (a later
//  call, a finalize say, resets it to "not an error"), else rc's own
static const char *
s_open_errmsg (sqlite3 *db, int rc)
{
    return db && sqlite3_extended_errcode (db) == rc? sqlite3_errmsg (db): sqlite3_errstr (rc);
}

//  A missing directory or missing permission is the usual cause, and says
//  more than SQLite's "unable to open database file".
int
wp_sqlite_open_failed_io (wp_sqlite_failure_t *failure, sqlite3 *db, int rc, const char *path, const char *doing)
{
    char *dir = wp_strdup (path);
    char *slash = strrchr (dir, '/');
    if (!slash)
        strcpy (dir, ".");
    else
    if (slash == dir)
        dir [1] = 0;
    else
        *slash = 0;
    struct stat st;
    int result;
    if (stat (dir, &st) || !S_ISDIR (st.st_mode))
        result = wp_sqlite_open_failed (failure, WP_NOT_FOUND, "cannot open '%s': no directory '%s'", path, dir);
    else
    if (access (dir, W_OK | X_OK))
        result = wp_sqlite_open_failed (failure, WP_PERMISSION_DENIED,
                         "cannot open '%s': directory '%s' is not writable", path, dir);
    else
    if (access (path, F_OK) == 0 && access (path, R_OK | W_OK))
        result = wp_sqlite_open_failed (failure, WP_PERMISSION_DENIED,
                         "cannot open '%s': the file is not readable and writable", path);
    else
    if ((rc & 0xff) == SQLITE_NOTADB)
        result = wp_sqlite_open_failed (failure, WP_FAILED_PRECONDITION,
                         "'%s' is not a workpool store: not a SQLite database", path);
    else
        result = wp_sqlite_open_failed (failure, wp_sqlite_status_of (rc), "cannot open '%s' (%s): %s", path, doing,
                         s_open_errmsg (db, rc));
    free (dir);
    return result;
}

//  Runs a one-row, one-integer query (a PRAGMA) into *value.
int
wp_sqlite_query_int (sqlite3 *db, const char *sql, int64_t *value)
{
    sqlite3_stmt *stmt;
    int rc = sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step (stmt);
        if (rc == SQLITE_ROW) {
            *value = sqlite3_column_int64 (stmt, 0);
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize (stmt);
    if (rc == SQLITE_NOMEM)
        abort ();
    return rc;
}

//  Removes what a failed open created: the file and SQLite's companions.
void
wp_sqlite_unlink_created (const char *path)
{
    static const char *const suffixes [] = { "", "-wal", "-shm", "-journal" };
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes [0]; i++) {
        char name [PATH_MAX];
        if (snprintf (name, sizeof name, "%s%s", path, suffixes [i]) < (int) sizeof name)
            unlink (name);
    }
}
