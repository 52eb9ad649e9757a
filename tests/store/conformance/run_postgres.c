/*  run_postgres: the conformance suite against the PostgreSQL store, each
    case in a fresh schema of its own (CREATE SCHEMA, then the store opened
    with that schema first in its search_path, so it migrates an empty
    schema as on a new database), dropped afterwards. The server is the
    throwaway one of tests/store/postgres/with_postgres.sh, named by
    WP_TEST_PG (a libpq conninfo string).
    Usage: with_postgres.sh run_postgres [CASE | PREFIX*]  */
#include "conformance.h"
#include "wp_test.h"
#include <libpq-fe.h>

typedef struct {
    const char *conninfo;       //  the test server's database
    PGconn *admin;              //  makes and drops the cases' schemas
    int cases;                  //  schemas made so far
    char schema [32];           //  the current case's, or ""
} s_pg_ctx_t;

static bool
s_admin (s_pg_ctx_t *self, const char *sql)
{
    PGresult *res = PQexec (self->admin, sql);
    bool ok = res && PQresultStatus (res) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf (stderr, "run_postgres: %s: %s", sql, PQerrorMessage (self->admin));
    PQclear (res);
    return ok;
}

static wp_store_t *
s_open (void *ctx)
{
    s_pg_ctx_t *self = ctx;
    snprintf (self->schema, sizeof self->schema, "wp_case_%d", ++self->cases);
    char sql [96];
    snprintf (sql, sizeof sql, "CREATE SCHEMA %s", self->schema);
    if (!s_admin (self, sql)) {
        self->schema [0] = 0;
        return NULL;
    }
    char conninfo [1024];
    snprintf (conninfo, sizeof conninfo, "%s options='-c search_path=%s'", self->conninfo,
              self->schema);
    wp_status status = WP_OK;
    char *message = NULL;
    wp_store_t *store = wp_store_postgres_new (conninfo, NULL, &status, &message);
    if (!store) {
        fprintf (stderr, "cannot open %s: %s %s\n", conninfo, wp_strerror (status),
                 message? message: "");
        free (message);
    }
    return store;
}

static void
s_close (wp_store_t **store, void *ctx)
{
    s_pg_ctx_t *self = ctx;
    wp_store_destroy (store);
    if (self->schema [0]) {
        char sql [96];
        snprintf (sql, sizeof sql, "DROP SCHEMA %s CASCADE", self->schema);
        s_admin (self, sql);
    }
    self->schema [0] = 0;
}

int
main (int argc, char *argv [])
{
    s_pg_ctx_t ctx = { getenv ("WP_TEST_PG"), NULL, 0, "" };
    if (!ctx.conninfo) {
        fprintf (stderr, "run_postgres: WP_TEST_PG is not set: run it under "
                         "tests/store/postgres/with_postgres.sh\n");
        return 2;
    }
    ctx.admin = PQconnectdb (ctx.conninfo);
    if (PQstatus (ctx.admin) != CONNECTION_OK) {
        fprintf (stderr, "run_postgres: cannot connect: %s", PQerrorMessage (ctx.admin));
        return 2;
    }
    //  DROP SCHEMA ... CASCADE lists every object it drops as a notice
    PQclear (PQexec (ctx.admin, "SET client_min_messages = warning"));
    wp_conformance_backend_t backend = {
        .name = "postgres",
        .open = s_open,
        .close = s_close,
        .ctx = &ctx,
        .can_group = true,
        .can_set_clock = true,
        .can_housekeep = true,
    };
    int failures = wp_conformance_run (&backend, argc > 1? argv [1]: NULL);
    PQfinish (ctx.admin);
    return failures? 1: 0;
}
