/*  wp_sqlite_file: what the two SQLite-backed stores (wp_store_sqlite*.c,
    wp_store_image.c) share when they open a file, read columns and map
    SQLite's errors.
    Internal to store/.  */
#ifndef WP_SQLITE_FILE_H_INCLUDED
#define WP_SQLITE_FILE_H_INCLUDED

#include "wp_status.h"
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

//  An open that is failing: what to tell the caller.
typedef struct {
    wp_status status;
    char message [512];
} wp_sqlite_failure_t;

//  Fills failure (printf-style) and returns -1.
int wp_sqlite_open_failed (wp_sqlite_failure_t *failure, wp_status status, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

//  Explains SQLite's failure rc to open or write path while doing: a
//  missing directory or permission says more than "unable to open database
//  file". db may be NULL. Returns -1.
int wp_sqlite_open_failed_io (wp_sqlite_failure_t *failure, sqlite3 *db, int rc,
                              const char *path, const char *doing);

//  Runs a one-row, one-integer query (a PRAGMA) into *value; SQLite's rc.
int wp_sqlite_query_int (sqlite3 *db, const char *sql, int64_t *value);

//  Removes what a failed open created: the file and SQLite's companions.
void wp_sqlite_unlink_created (const char *path);

//  Returns a copy of column col as a string, or NULL if it is NULL.
//  Caller owns return value.
char *wp_sqlite_column_strdup (sqlite3_stmt *stmt, int col);

//  Returns a copy of blob column col, or NULL with *size 0 if it is NULL or
//  empty. Caller owns return value.
uint8_t *wp_sqlite_column_blob (sqlite3_stmt *stmt, int col, size_t *size);

//  The status a SQLite result code stands for (busy: UNAVAILABLE, full
//  disk: RESOURCE_EXHAUSTED, corruption: DATA_LOSS, ...).
wp_status wp_sqlite_status_of (int rc);

#endif
