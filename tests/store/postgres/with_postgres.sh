#!/bin/sh
#  with_postgres: runs a command against a throwaway PostgreSQL server of
#  its own, then stops the server and removes everything, whatever the
#  command's outcome (a failed check aborts the test: the trap still runs).
#    with_postgres.sh CMD [ARGS...]
#  Debian's server binaries (/usr/lib/postgresql/N/bin, the newest N) make
#  a cluster in a fresh temporary directory, listening only on a unix
#  socket in that directory (a private socket directory: no TCP port to
#  collide with another test or a system server). As root, the server runs
#  as the postgres system user (initdb refuses root) and owns the directory.
#  CMD sees WP_TEST_PG, a libpq conninfo string for the database "workpool"
#  as superuser "postgres", and exits with CMD's status.
#  WP_TEST_PG_OPTIONS: extra server options ("-c fsync=off" by default: a
#  throwaway server needs no crash safety; the bench sets it to "" to
#  measure commits as a real server makes them).
set -eu
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
    echo "with_postgres: no PostgreSQL server binaries (Debian package postgresql)" >&2
    exit 1
fi
dir=$(mktemp -d /tmp/wp-pg-XXXXXX)
as=""
if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$dir"
    as="runuser -u postgres --"
fi
cleanup () {
    $as "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

options=${WP_TEST_PG_OPTIONS--c fsync=off}
$as "$bindir/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C --no-sync \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
$as "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-k $dir -p 5432 -c listen_addresses= -c max_connections=100 $options" start \
    >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
$as "$bindir/psql" -h "$dir" -p 5432 -U postgres -d postgres -qAt \
    -c "CREATE DATABASE workpool" >/dev/null
WP_TEST_PG="host=$dir port=5432 user=postgres dbname=workpool"
export WP_TEST_PG
status=0
"$@" || status=$?
exit $status
