/*  pgtest: what the PostgreSQL store's own tests share: the checks of
    tests/wp_test.h, the test server (WP_TEST_PG, set by with_postgres.sh),
    a fresh schema per test and opening stores on it.  */
#ifndef WP_PGTEST_H_INCLUDED
#define WP_PGTEST_H_INCLUDED

#include "wp_test.h"
#include <libpq-fe.h>

//  The test server's conninfo, or stops the test.
static inline const char *
pgtest_server (void)
{
    const char *conninfo = getenv ("WP_TEST_PG");
    if (!conninfo) {
        fprintf (stderr, "WP_TEST_PG is not set: run under tests/store/postgres/with_postgres.sh\n");
        abort ();
    }
    return conninfo;
}

//  A connection of the test's own (not a store's), or stops the test.
static inline PGconn *
pgtest_connect (const char *conninfo)
{
    PGconn *conn = PQconnectdb (conninfo);
    if (PQstatus (conn) != CONNECTION_OK) {
        fprintf (stderr, "cannot connect to %s: %s", conninfo, PQerrorMessage (conn));
        abort ();
    }
    PQclear (PQexec (conn, "SET client_min_messages = warning"));
    return conn;
}

//  Runs sql (no rows wanted) or stops the test.
static inline void
pgtest_exec (PGconn *conn, const char *sql)
{
    PGresult *res = PQexec (conn, sql);
    if (!res || (PQresultStatus (res) != PGRES_COMMAND_OK
             &&  PQresultStatus (res) != PGRES_TUPLES_OK)) {
        fprintf (stderr, "%s: %s", sql, PQerrorMessage (conn));
        abort ();
    }
    PQclear (res);
}

//  The integer sql returns in its first row and column.
static inline long long
pgtest_int (PGconn *conn, const char *sql)
{
    PGresult *res = PQexec (conn, sql);
    if (!res || PQresultStatus (res) != PGRES_TUPLES_OK || PQntuples (res) < 1) {
        fprintf (stderr, "%s: %s", sql, PQerrorMessage (conn));
        abort ();
    }
    long long value = atoll (PQgetvalue (res, 0, 0));
    PQclear (res);
    return value;
}

//  Makes schema name afresh (dropping one left by an earlier run) and
//  writes into conninfo (at least 1024 bytes) a conninfo that opens the
//  store in it.
static inline void
pgtest_schema_new (const char *name, char *conninfo)
{
    PGconn *conn = pgtest_connect (pgtest_server ());
    char sql [128];
    snprintf (sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", name);
    pgtest_exec (conn, sql);
    snprintf (sql, sizeof sql, "CREATE SCHEMA %s", name);
    pgtest_exec (conn, sql);
    PQfinish (conn);
    snprintf (conninfo, 1024, "%s options='-c search_path=%s'", pgtest_server (), name);
}

//  Opens the PostgreSQL store at conninfo or stops the test.
static inline wp_store_t *
pgtest_open (const char *conninfo, const wp_store_config_t *cfg)
{
    wp_status status = WP_OK;
    char *message = NULL;
    wp_store_t *store = wp_store_postgres_new (conninfo, cfg, &status, &message);
    if (!store) {
        fprintf (stderr, "cannot open %s: %s: %s\n", conninfo, wp_strerror (status),
                 message? message: "");
        abort ();
    }
    return store;
}

//  Pushes data "x" with the given id into pool.
static inline void
pgtest_push (wp_store_t *store, const char *pool, const char *id)
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
