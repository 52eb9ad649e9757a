/*  workpoold: the workpool broker daemon. Parses its flags, starts the
    broker actor on the store, binds it, and waits for SIGINT or SIGTERM;
    then stops it cleanly (the batch in hand committed and answered, waiting
    claims answered with "no item", the store closed) and exits 0. SIGHUP
    has the broker read its key directory again.  */
#include "wp_broker.h"
#include "wp_auth.h"
#include <errno.h>
#include <malloc.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>

#ifndef WP_VERSION
#   define WP_VERSION "0"
#endif

#define S_POSTGRES_BATCH_MAX 32     //  --batch-max on PostgreSQL (see below)
#define S_BIND_DEFAULT  "tcp://127.0.0.1:5555"
#define S_BIND_MAX      32
#define S_STR_(x)       #x
#define S_STR(x)        S_STR_ (x)
//  Replies at least this large are their own mappings, returned to the
//  system when freed (glibc would otherwise raise its threshold to the
//  largest freed block and keep them on the heap)
#define S_MMAP_THRESHOLD    (256 * 1024)

static volatile sig_atomic_t s_reload_asked;

static void
s_on_sighup (int signum)
{
    s_reload_asked = 1;
}

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: workpoold [OPTION]...\n"
        "Serves workpool queues and worker registration to remote clients.\n"
        "\n"
        "  --bind ENDPOINT        listen on ENDPOINT, tcp://HOST:PORT or ipc://PATH;\n"
        "                         repeatable (default " S_BIND_DEFAULT ")\n"
        "  --db PATH              SQLite file of the store (default ./workpool.db);\n"
        "                         with --store postgres, the libpq conninfo string\n"
        "                         (\"host=H dbname=D\" or postgresql://...; default: libpq's\n"
        "                         PG* environment variables)\n"
        "  --store KIND           where the queues live (default sqlite):\n"
        "                           sqlite  in the SQLite file, indexed there\n"
        "                           image   in memory, every commit written to the\n"
        "                                   SQLite file and loaded from it at start\n"
        "                                   (faster; every item held is in RAM)\n"
        "                           memory  in memory only (lost when the broker stops)\n"
        "                           postgres  in a PostgreSQL database (--db CONNINFO,\n"
        "                                   or --store postgres:CONNINFO); several\n"
        "                                   brokers may serve one database at once\n"
        "  --sync normal|full     SQLite durability: normal survives a broker crash,\n"
        "                         full also a power loss (default normal)\n"
        "  --lease SECONDS        lease of a claim that asks for none (default 300)\n"
        "  --heartbeat SECONDS    heartbeat interval of workers that state none; a\n"
        "                         worker silent for twice its interval is lost (default 10)\n"
        "  --retain-done SECONDS  keep done and poisoned items this long; 0 keeps them\n"
        "                         forever (default 604800, a week)\n"
        "  --max-message BYTES    largest request accepted (default 1048576)\n"
        "  --batch-max N          most requests run in one commit (default 256; 32 on\n"
        "                         postgres, within its 64 subtransactions)\n"
        "\n"
        "Security:\n"
        "  --curve-secret FILE    the broker's czmq secret certificate: CURVE on every\n"
        "                         endpoint (needs --keys)\n"
        "  --keys DIR             the public certificates of the clients accepted; their\n"
        "                         metadata says each one's role (producer, worker with\n"
        "                         its worker_prefix, admin). SIGHUP reads DIR again\n"
        "  --insecure             allow a tcp endpoint beyond loopback without CURVE\n"
        "                         (anyone who can reach it can use every queue)\n"
        "\n"
        "Limits (0: none; a request past one is refused with RESOURCE_EXHAUSTED):\n"
        "  --max-pending N        pending items a push may bring one pool to\n"
        "                         (default " S_STR (WP_BROKER_MAX_PENDING_DEFAULT) ")\n"
        "  --max-pools N          pools a push may bring the store to (default "
                                  S_STR (WP_BROKER_MAX_POOLS_DEFAULT) ")\n"
        "  --max-inflight N       requests of one connection being run or waiting in a\n"
        "                         claim (default " S_STR (WP_BROKER_MAX_INFLIGHT_DEFAULT) ")\n"
        "  --max-queued-bytes N   bytes of replies to one connection held unread before\n"
        "                         its requests are refused (default 33554432, 32 MiB)\n"
        "  --log-level LEVEL      error, notice or debug (default notice)\n"
        "  --test-stall-ms MS     testing only: hold each batch MS milliseconds between\n"
        "                         receipt and running it\n"
        "  --version              print the version and exit\n"
        "  --help                 print this help and exit\n"
        "\n"
        "Logs go to stderr. SIGINT or SIGTERM stops the broker cleanly; SIGHUP reloads\n"
        "the key directory.\n");
}

//  Says what is wrong with the command line and exits 2.
static void
s_bad_flag (const char *format, ...) __attribute__ ((format (printf, 1, 2), noreturn));

static void
s_bad_flag (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fprintf (stderr, "workpoold: ");
    vfprintf (stderr, format, args);
    fprintf (stderr, "\nTry 'workpoold --help'.\n");
    va_end (args);
    exit (2);
}

//  Parses a number of seconds from min (excluded unless min_ok) to max,
//  or exits 2 naming the flag.
static double
s_seconds (const char *flag, const char *text, double min, bool min_ok, double max)
{
    char *end;
    errno = 0;
    double value = strtod (text, &end);
    if (errno || end == text || *end || !isfinite (value)
    ||  value < min || (!min_ok && value == min) || value > max)
        s_bad_flag ("%s needs %s %g and at most %g seconds, not '%s'",
                    flag, min_ok ? "at least" : "more than", min, max, text);
    return value;
}

//  Parses a whole number from min to max, or exits 2 naming the flag.
static long long
s_integer (const char *flag, const char *text, long long min, long long max)
{
    char *end;
    errno = 0;
    long long value = strtoll (text, &end, 10);
    if (errno || end == text || *end || value < min || value > max)
        s_bad_flag ("%s needs a whole number from %lld to %lld, not '%s'", flag, min, max, text);
    return value;
}

int
main (int argc, char *argv [])
{
    enum { OPT_BIND = 1, OPT_DB, OPT_STORE, OPT_SYNC, OPT_LEASE, OPT_HEARTBEAT, OPT_RETAIN, OPT_MAX_MESSAGE,
           OPT_BATCH_MAX, OPT_LOG_LEVEL, OPT_STALL, OPT_VERSION, OPT_HELP, OPT_CURVE_SECRET,
           OPT_KEYS, OPT_INSECURE, OPT_MAX_PENDING, OPT_MAX_POOLS, OPT_MAX_INFLIGHT,
           OPT_MAX_QUEUED };
    //  SQLite's memory statistics take a global mutex on every allocation;
    //  the daemon reads none of them (process-wide, so set here, not in the store)
    sqlite3_config (SQLITE_CONFIG_MEMSTATUS, 0);
    static const struct option options [] = {
        { "bind",          required_argument, NULL, OPT_BIND },
        { "db",            required_argument, NULL, OPT_DB },
        { "store",         required_argument, NULL, OPT_STORE },
        { "sync",          required_argument, NULL, OPT_SYNC },
        { "lease",         required_argument, NULL, OPT_LEASE },
        { "heartbeat",     required_argument, NULL, OPT_HEARTBEAT },
        { "retain-done",   required_argument, NULL, OPT_RETAIN },
        { "max-message",   required_argument, NULL, OPT_MAX_MESSAGE },
        { "batch-max",     required_argument, NULL, OPT_BATCH_MAX },
        { "log-level",     required_argument, NULL, OPT_LOG_LEVEL },
        { "test-stall-ms", required_argument, NULL, OPT_STALL },
        { "curve-secret",  required_argument, NULL, OPT_CURVE_SECRET },
        { "keys",          required_argument, NULL, OPT_KEYS },
        { "insecure",      no_argument,       NULL, OPT_INSECURE },
        { "max-pending",   required_argument, NULL, OPT_MAX_PENDING },
        { "max-pools",     required_argument, NULL, OPT_MAX_POOLS },
        { "max-inflight",  required_argument, NULL, OPT_MAX_INFLIGHT },
        { "max-queued-bytes", required_argument, NULL, OPT_MAX_QUEUED },
        { "version",       no_argument,       NULL, OPT_VERSION },
        { "help",          no_argument,       NULL, OPT_HELP },
        { NULL, 0, NULL, 0 }
    };
    wp_broker_config_t config = WP_BROKER_CONFIG_DEFAULT;
    const char *binds [S_BIND_MAX];
    int bind_count = 0;
    const char *db = "./workpool.db";
    bool db_given = false;
    bool batch_given = false;
    const char *store_kind = "sqlite";
    const char *conninfo = NULL;        //  of --store postgres:CONNINFO
    long long stall_ms = 0;

    opterr = 0;
    int option;
    while ((option = getopt_long (argc, argv, "", options, NULL)) != -1) {
        switch (option) {
            case OPT_BIND:
                if (bind_count == S_BIND_MAX)
                    s_bad_flag ("too many --bind flags (at most 32): '%s'", optarg);
                if (strncmp (optarg, "tcp://", 6) && strncmp (optarg, "ipc://", 6))
                    s_bad_flag ("--bind needs a tcp:// or ipc:// endpoint, not '%s'", optarg);
                binds [bind_count++] = optarg;
                break;
            case OPT_DB:
                if (!*optarg)
                    s_bad_flag ("--db needs a path");
                db = optarg;
                db_given = true;
                break;
            case OPT_STORE:
                conninfo = NULL;
                if (streq (optarg, "memory") || streq (optarg, "sqlite")
                ||  streq (optarg, "image") || streq (optarg, "postgres"))
                    store_kind = optarg;
                else
                if (strncmp (optarg, "postgres:", 9) == 0) {
                    store_kind = "postgres";
                    conninfo = optarg + 9;
                }
                else
                    s_bad_flag ("--store is sqlite, image, memory, postgres or "
                                "postgres:CONNINFO, not '%s'", optarg);
                break;
            case OPT_SYNC:
                if (streq (optarg, "full"))
                    config.sync_full = true;
                else
                if (streq (optarg, "normal"))
                    config.sync_full = false;
                else
                    s_bad_flag ("--sync is normal or full, not '%s'", optarg);
                break;
            case OPT_LEASE:
                config.lease = s_seconds ("--lease", optarg, 0, false, WP_LEASE_MAX);
                break;
            case OPT_HEARTBEAT:
                config.heartbeat = s_seconds ("--heartbeat", optarg, 0, false, WP_HEARTBEAT_MAX);
                break;
            case OPT_RETAIN:
                config.retain_done = s_seconds ("--retain-done", optarg, 0, true, WP_RETENTION_MAX);
                break;
            case OPT_MAX_MESSAGE:
                config.max_message = (size_t) s_integer ("--max-message", optarg, 1024, 1 << 30);
                break;
            case OPT_BATCH_MAX:
                config.batch_max = (int) s_integer ("--batch-max", optarg, 1, 100000);
                batch_given = true;
                break;
            case OPT_LOG_LEVEL:
                if (streq (optarg, "error"))
                    config.log_level = 0;
                else
                if (streq (optarg, "notice"))
                    config.log_level = 1;
                else
                if (streq (optarg, "debug"))
                    config.log_level = 2;
                else
                    s_bad_flag ("--log-level is error, notice or debug, not '%s'", optarg);
                break;
            case OPT_CURVE_SECRET:
                config.curve_secret = optarg;
                break;
            case OPT_KEYS:
                config.keys_dir = optarg;
                break;
            case OPT_INSECURE:
                config.insecure = true;
                break;
            case OPT_MAX_PENDING:
                config.max_pending = (uint64_t) s_integer ("--max-pending", optarg, 0, 1LL << 40);
                break;
            case OPT_MAX_POOLS:
                config.max_pools = (uint64_t) s_integer ("--max-pools", optarg, 0, 1LL << 40);
                break;
            case OPT_MAX_INFLIGHT:
                config.max_inflight = (size_t) s_integer ("--max-inflight", optarg, 0, 1LL << 30);
                break;
            case OPT_MAX_QUEUED:
                config.max_queued_bytes = (uint64_t) s_integer ("--max-queued-bytes", optarg,
                                                                0, 1LL << 40);
                break;
            case OPT_STALL:
                stall_ms = s_integer ("--test-stall-ms", optarg, 0, 60000);
                break;
            case OPT_VERSION:
                printf ("workpoold %s\n", WP_VERSION);
                return 0;
            case OPT_HELP:
                s_usage (stdout);
                return 0;
            default:
                if (optopt)
                    s_bad_flag ("option '%s' needs a value", argv [optind - 1]);
                s_bad_flag ("unknown option '%s'", argv [optind - 1]);
        }
    }
    if (optind < argc)
        s_bad_flag ("unexpected argument '%s'", argv [optind]);
    if (bind_count == 0)
        binds [bind_count++] = S_BIND_DEFAULT;
    if (!config.curve_secret != !config.keys_dir)
        s_bad_flag (config.keys_dir ? "--keys needs --curve-secret FILE, the broker's certificate"
                                    : "--curve-secret needs --keys DIR, the clients it accepts");
    //  Safe by default: off loopback, only CURVE, unless told otherwise
    for (int i = 0; i < bind_count; i++)
        if (!config.curve_secret && !config.insecure && !wp_endpoint_is_local (binds [i])) {
            fprintf (stderr, "workpoold: refusing to listen on %s without CURVE: give "
                     "--curve-secret FILE and --keys DIR, or --insecure to let anyone who "
                     "can reach it use every queue\n", binds [i]);
            return 2;
        }
    mallopt (M_MMAP_THRESHOLD, S_MMAP_THRESHOLD);

    if (conninfo && db_given)
        s_bad_flag ("--store postgres:CONNINFO and --db both name the database; give one");
    if (streq (store_kind, "postgres") && !conninfo)
        conninfo = db_given ? db : "";
    //  Each call of a group is a PostgreSQL savepoint, and a transaction of
    //  more than 64 writing ones overflows the server's subtransaction cache,
    //  slowing every other session (store/SCHEMA.md): smaller groups, with
    //  room for the serves of waiting claims and the housekeeping in them
    if ((streq (store_kind, "postgres") || conninfo) && !batch_given)
        config.batch_max = S_POSTGRES_BATCH_MAX;
    char *store = NULL;
    if (streq (store_kind, "memory"))
        store = strdup ("memory");
    else
    if (asprintf (&store, "%s:%s", store_kind, conninfo ? conninfo : db) < 0)
        store = NULL;
    if (!store)
        abort ();
    config.store = store;

    zsys_init ();               //  installs czmq's SIGINT/SIGTERM handler
    zsys_set_logstream (stderr);
    zsys_set_logident ("workpoold");

    //  The broker's thread is started with the signals blocked, so they
    //  reach this thread and wake it
    sigset_t signals, previous;
    sigemptyset (&signals);
    sigaddset (&signals, SIGINT);
    sigaddset (&signals, SIGTERM);
    sigaddset (&signals, SIGHUP);
    //  No SA_RESTART: the signal wakes the wait below at once
    struct sigaction hup = { .sa_handler = s_on_sighup };
    sigemptyset (&hup.sa_mask);
    sigaction (SIGHUP, &hup, NULL);
    pthread_sigmask (SIG_BLOCK, &signals, &previous);
    char *error = NULL;
    zactor_t *broker = wp_broker_new (&config, &error);
    pthread_sigmask (SIG_SETMASK, &previous, NULL);
    if (!broker) {
        zsys_error ("%s", error ? error : "cannot start the broker");
        free (error);
        free (store);
        return 1;
    }
    for (int i = 0; i < bind_count; i++)
        if (wp_broker_bind (broker, binds [i]) < 0) {
            zsys_error ("cannot listen on %s; stopping", binds [i]);
            zactor_destroy (&broker);
            free (store);
            return 1;
        }
    if (stall_ms > 0) {
        char text [32];
        snprintf (text, sizeof text, "%lld", stall_ms);
        zstr_sendx (broker, "STALL", text, NULL);
        zsock_wait (broker);
    }
    zsys_notice ("workpoold %s started: store %s, lease %gs, heartbeat %gs, retain-done %gs, "
                 "max-message %zu bytes, %s", WP_VERSION,
                 conninfo ? "postgres" : store,     //  a conninfo may hold a password
                 config.lease, config.heartbeat,
                 config.retain_done, config.max_message,
                 config.curve_secret ? "CURVE" : "no CURVE (plaintext, any client)");

    zmq_pollitem_t items [] = { { zsock_resolve (broker), 0, ZMQ_POLLIN, 0 } };
    while (!zsys_interrupted) {
        if (s_reload_asked) {
            s_reload_asked = 0;
            if (!config.keys_dir)
                zsys_notice ("SIGHUP: no key directory to reload (CURVE is off)");
            else {
                //  The actor logs what changed, or why the keys stay as they were
                zstr_send (broker, "RELOAD");
                zmsg_t *reply = zmsg_recv (broker);
                zmsg_destroy (&reply);
            }
        }
        if (zmq_poll (items, 1, 1000) == 1) {
            //  The actor says nothing unasked; drop whatever it is
            zmsg_t *msg = zmsg_recv (broker);
            zmsg_destroy (&msg);
        }
    }
    zsys_notice ("stopping on signal");
    zactor_destroy (&broker);
    zsys_notice ("stopped");
    free (store);
    return 0;
}
