/*  workpool: the command line of workpool. Every call of libworkpool's
    WorkPool and registration API as a command, JSON in and JSON out, for
    shell scripts: one result on stdout, errors on stderr as one line
    "workpool: STATUS: message", and an exit code per status.

    The commands and their options are one table (s_commands); one parser
    reads every option, then checks that the command takes the ones given.
    `workpool --help` and `workpool COMMAND --help` print the contract.  */
#include "workpool.h"
#include "wp_json.h"
#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_DEFAULT_ENDPOINT  "tcp://127.0.0.1:5555"
#define S_EXIT_OUTPUT       1       //  stdout could not be written
#define S_EXIT_USAGE        2       //  the command line is wrong
#define S_EXIT_STATUS       10      //  + the wp_status the backend returned

//  Options: global ones first, then the commands' (each a bit in a mask;
//  getopt_long returns S_OPT_BASE + the option)
#define S_OPT_BASE 256
enum {
    S_OPT_ENDPOINT = 0, S_OPT_TIMEOUT, S_OPT_HELP, S_OPT_VERSION,
    S_OPT_ID, S_OPT_MAX_RETRIES, S_OPT_WORKER, S_OPT_WAIT, S_OPT_LEASE,
    S_OPT_CAPABILITY, S_OPT_POOL, S_OPT_HOST, S_OPT_PID, S_OPT_HEARTBEAT,
    S_OPT_METADATA, S_OPT_STATUS, S_OPT_STALE,
    S_OPT_COUNT
};
#define S_BIT(opt) (1u << (opt))
#define S_GLOBAL (S_BIT (S_OPT_ENDPOINT) | S_BIT (S_OPT_TIMEOUT) \
                | S_BIT (S_OPT_HELP) | S_BIT (S_OPT_VERSION))
//  Options that may be given more than once
#define S_REPEATABLE (S_BIT (S_OPT_CAPABILITY) | S_BIT (S_OPT_STATUS))

static const struct option s_options [] = {
    { "endpoint",    required_argument, NULL, S_OPT_BASE + S_OPT_ENDPOINT },
    { "timeout",     required_argument, NULL, S_OPT_BASE + S_OPT_TIMEOUT },
    { "help",        no_argument,       NULL, S_OPT_BASE + S_OPT_HELP },
    { "version",     no_argument,       NULL, S_OPT_BASE + S_OPT_VERSION },
    { "id",          required_argument, NULL, S_OPT_BASE + S_OPT_ID },
    { "max-retries", required_argument, NULL, S_OPT_BASE + S_OPT_MAX_RETRIES },
    { "worker",      required_argument, NULL, S_OPT_BASE + S_OPT_WORKER },
    { "wait",        required_argument, NULL, S_OPT_BASE + S_OPT_WAIT },
    { "lease",       required_argument, NULL, S_OPT_BASE + S_OPT_LEASE },
    { "capability",  required_argument, NULL, S_OPT_BASE + S_OPT_CAPABILITY },
    { "pool",        required_argument, NULL, S_OPT_BASE + S_OPT_POOL },
    { "host",        required_argument, NULL, S_OPT_BASE + S_OPT_HOST },
    { "pid",         required_argument, NULL, S_OPT_BASE + S_OPT_PID },
    { "heartbeat",   required_argument, NULL, S_OPT_BASE + S_OPT_HEARTBEAT },
    { "metadata",    required_argument, NULL, S_OPT_BASE + S_OPT_METADATA },
    { "status",      required_argument, NULL, S_OPT_BASE + S_OPT_STATUS },
    { "stale",       required_argument, NULL, S_OPT_BASE + S_OPT_STALE },
    { NULL, 0, NULL, 0 }
};

typedef struct _s_cli_t s_cli_t;
//  Runs the command; pool is the pool its first argument names, for the
//  commands whose first argument is POOL, else NULL. Returns the exit code.
typedef int (s_run_fn) (s_cli_t *cli, wp_pool_t *pool);

//  One command: how it is called and what it says about itself
typedef struct {
    const char *name;
    s_run_fn *run;
    const char *args [4];       //  names of the positional arguments
    int min_args;               //  how many are required (the rest optional)
    unsigned options;           //  S_BIT of each option it takes
    const char *synopsis;       //  after "workpool NAME "
    const char *summary;        //  one line for `workpool --help`
    const char *help;           //  the rest of `workpool NAME --help`
} s_command_t;

//  What the command line said, and the backend once opened
struct _s_cli_t {
    const s_command_t *command;
    char *args [4];                 //  positional arguments after the command
    int arg_count;
    unsigned given;                 //  S_BIT of each option given
    const char *endpoint;           //  --endpoint; NULL: environment or default
    double timeout;                 //  --timeout; 0: the library's default
    const char *id;                 //  --id
    int64_t max_retries;            //  --max-retries; -1: default
    const char *worker;             //  --worker
    double wait;                    //  --wait; 0: none
    double lease;                   //  --lease; 0: default
    const char **capabilities;      //  --capability, in order
    size_t capability_count;
    const char *pool;               //  --pool
    const char *host;               //  --host
    int64_t pid;                    //  --pid; -1: none
    double heartbeat;               //  --heartbeat; 0: default
    const char *metadata;           //  --metadata (JSON text)
    const char **statuses;          //  --status, in order
    size_t status_count;
    double stale;                   //  --stale; -1: none
    //  Inputs converted before the backend is opened
    uint8_t *data;                  //  push: JSON as msgpack
    size_t data_size;
    uint8_t *result;                //  complete: RESULT_JSON as msgpack, or NULL
    size_t result_size;
    wp_meta_t meta;                 //  --metadata
    wp_backend_t *backend;
};

//  ---------------------------------------------------------------------
//  Errors and output

//  Prints "workpool: INVALID_ARGUMENT: ..." for a wrong command line.
//  Returns S_EXIT_USAGE.
static int
s_usage_error (s_cli_t *cli, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fprintf (stderr, "workpool: %s: ", wp_strerror (WP_INVALID_ARGUMENT));
    vfprintf (stderr, format, args);
    va_end (args);
    if (cli && cli->command)
        fprintf (stderr, " (see workpool %s --help)\n", cli->command->name);
    else
        fprintf (stderr, " (see workpool --help)\n");
    return S_EXIT_USAGE;
}

//  Prints the backend's failure. Returns its exit code.
static int
s_status_error (s_cli_t *cli, wp_status status)
{
    const char *message = cli->backend ? wp_backend_errmsg (cli->backend) : "";
    fprintf (stderr, "workpool: %s: %s\n", wp_strerror (status),
             *message ? message : "(no message)");
    return S_EXIT_STATUS + (int) status;
}

//  Prints json and a newline on stdout, then drops json.
static void
s_print (json_t *json)
{
    json_dumpf (json, stdout, JSON_COMPACT | JSON_ENCODE_ANY);
    fputc ('\n', stdout);
    json_decref (json);
}

//  ---------------------------------------------------------------------
//  Arguments

//  Parses a number of seconds: finite, and > 0 (positive) or >= 0.
static int
s_parse_seconds (const char *text, bool positive, double *out)
{
    char *end;
    errno = 0;
    double value = strtod (text, &end);
    if (end == text || *end || errno || !isfinite (value)
    ||  (positive ? !(value > 0) : !(value >= 0)))
        return -1;
    *out = value;
    return 0;
}

//  Parses a non-negative decimal integer.
static int
s_parse_count (const char *text, int64_t *out)
{
    char *end;
    errno = 0;
    long long value = strtoll (text, &end, 10);
    if (end == text || *end || errno || value < 0)
        return -1;
    *out = value;
    return 0;
}

//  Parses JSON from a command-line argument, or from stdin when it is "-".
//  what names the argument in errors. Returns the value, or NULL after
//  printing the error.
static json_t *
s_read_json (s_cli_t *cli, const char *text, const char *what)
{
    char error [256] = "";
    json_t *json;
    if (streq (text, "-")) {
        size_t size = 0, capacity = 4096;
        char *buffer = malloc (capacity);
        if (!buffer)
            abort ();
        size_t got;
        while ((got = fread (buffer + size, 1, capacity - size, stdin)) > 0) {
            size += got;
            if (size == capacity) {
                capacity *= 2;
                buffer = realloc (buffer, capacity);
                if (!buffer)
                    abort ();
            }
        }
        if (ferror (stdin)) {
            free (buffer);
            s_usage_error (cli, "%s: cannot read stdin: %s", what, strerror (errno));
            return NULL;
        }
        json = wp_json_parse (buffer, size, error, sizeof error);
        free (buffer);
    }
    else
        json = wp_json_parse (text, strlen (text), error, sizeof error);
    if (!json)
        s_usage_error (cli, "%s is not valid JSON: %s", what, error);
    return json;
}

//  As s_read_json, then encodes the value as msgpack (caller frees *buf_p).
static int
s_read_msgpack (s_cli_t *cli, const char *text, const char *what,
                uint8_t **buf_p, size_t *size_p)
{
    json_t *json = s_read_json (cli, text, what);
    if (!json)
        return -1;
    char error [256] = "";
    int rc = wp_json_to_msgpack (json, buf_p, size_p, error, sizeof error);
    json_decref (json);
    if (rc)
        s_usage_error (cli, "%s cannot be encoded: %s", what, error);
    return rc;
}

//  --metadata into meta. Returns 0, or -1 after printing the error.
static int
s_read_metadata (s_cli_t *cli, wp_meta_t *meta)
{
    json_t *json = s_read_json (cli, cli->metadata, "--metadata");
    if (!json)
        return -1;
    char error [256] = "";
    int rc = wp_json_to_meta (json, meta, error, sizeof error);
    json_decref (json);
    if (rc)
        s_usage_error (cli, "--metadata: %s", error);
    return rc;
}

//  Appends text to a growing array of strings (borrowed).
static void
s_push_string (const char ***array, size_t *count, const char *text)
{
    *array = realloc (*array, (*count + 1) * sizeof (char *));
    if (!*array)
        abort ();
    (*array) [(*count)++] = text;
}

//  Stores one option's value. Returns 0, or S_EXIT_USAGE after an error.
static int
s_take_option (s_cli_t *cli, int opt, const char *value)
{
    const char *name = s_options [opt].name;
    if ((cli->given & S_BIT (opt)) && !(S_BIT (opt) & S_REPEATABLE))
        return s_usage_error (cli, "--%s given twice", name);
    cli->given |= S_BIT (opt);
    switch (opt) {
        case S_OPT_ENDPOINT:    cli->endpoint = value; break;
        case S_OPT_ID:          cli->id = value; break;
        case S_OPT_WORKER:      cli->worker = value; break;
        case S_OPT_POOL:        cli->pool = value; break;
        case S_OPT_HOST:        cli->host = value; break;
        case S_OPT_METADATA:    cli->metadata = value; break;
        case S_OPT_CAPABILITY:
            s_push_string (&cli->capabilities, &cli->capability_count, value);
            break;
        case S_OPT_STATUS:
            s_push_string (&cli->statuses, &cli->status_count, value);
            break;
        case S_OPT_TIMEOUT:
        case S_OPT_LEASE:
        case S_OPT_HEARTBEAT: {
            double *target = opt == S_OPT_TIMEOUT ? &cli->timeout
                           : opt == S_OPT_LEASE ? &cli->lease : &cli->heartbeat;
            if (s_parse_seconds (value, true, target))
                return s_usage_error (cli, "--%s needs a number of seconds > 0, not '%s'",
                                      name, value);
            break;
        }
        case S_OPT_WAIT:
        case S_OPT_STALE:
            if (s_parse_seconds (value, false, opt == S_OPT_WAIT ? &cli->wait : &cli->stale))
                return s_usage_error (cli, "--%s needs a number of seconds >= 0, not '%s'",
                                      name, value);
            break;
        case S_OPT_MAX_RETRIES:
        case S_OPT_PID:
            if (s_parse_count (value, opt == S_OPT_PID ? &cli->pid : &cli->max_retries))
                return s_usage_error (cli, "--%s needs an integer >= 0, not '%s'", name, value);
            break;
        default:
            break;
    }
    return 0;
}

//  ---------------------------------------------------------------------
//  Backend

static int
s_open (s_cli_t *cli)
{
    const char *spec = cli->endpoint;
    if (!spec) {
        spec = getenv ("WORKPOOL_ENDPOINT");
        if (!spec || !*spec)
            spec = S_DEFAULT_ENDPOINT;
    }
    wp_backend_options_t options = { .timeout = cli->timeout };
    wp_status status = WP_OK;
    char *message = NULL;
    cli->backend = wp_backend_open (spec, &options, &status, &message);
    if (!cli->backend) {
        fprintf (stderr, "workpool: %s: %s\n", wp_strerror (status),
                 message ? message : "cannot open the backend");
        free (message);
        return S_EXIT_STATUS + (int) status;
    }
    return 0;
}

//  Opens the backend and, for a command on a pool, the pool; runs the
//  command. Returns the exit code.
static int
s_run (s_cli_t *cli)
{
    int rc = s_open (cli);
    if (rc)
        return rc;
    wp_pool_t *pool = NULL;
    if (streq (cli->command->args [0] ? cli->command->args [0] : "", "POOL")) {
        pool = wp_backend_pool (cli->backend, cli->args [0]);
        if (!pool)
            return s_status_error (cli, WP_INVALID_ARGUMENT);
    }
    rc = cli->command->run (cli, pool);
    wp_pool_destroy (&pool);
    return rc;
}

//  ---------------------------------------------------------------------
//  Commands

static int
s_push (s_cli_t *cli, wp_pool_t *pool)
{
    wp_push_entry_t entry = { .id = cli->id, .max_retries = -1 };
    if (cli->given & S_BIT (S_OPT_MAX_RETRIES))
        entry.max_retries = cli->max_retries;
    entry.data = cli->data;
    entry.data_size = cli->data_size;
    char *id = NULL;
    wp_status status = wp_pool_push_entry (pool, &entry, &id, NULL);
    if (status != WP_OK)
        return s_status_error (cli, status);
    printf ("%s\n", id);
    free (id);
    return 0;
}

static int
s_claim (s_cli_t *cli, wp_pool_t *pool)
{
    wp_claim_options_t options = { .wait = cli->wait, .lease = cli->lease };
    wp_item_t *item = NULL;
    wp_status status = wp_pool_claim (pool, cli->worker, &options, &item);
    if (status != WP_OK)
        return s_status_error (cli, status);
    s_print (item ? wp_json_from_item (item) : json_null ());
    wp_item_destroy (&item);
    return 0;
}

static int
s_complete (s_cli_t *cli, wp_pool_t *pool)
{
    wp_status status = wp_pool_complete (pool, cli->args [1], cli->result, cli->result_size,
                                         cli->worker);
    if (status != WP_OK)
        return s_status_error (cli, status);
    return 0;
}

static int
s_fail (s_cli_t *cli, wp_pool_t *pool)
{
    wp_item_state state;
    wp_status status = wp_pool_fail (pool, cli->args [1],
                                     cli->arg_count > 2 ? cli->args [2] : NULL,
                                     cli->worker, &state);
    if (status != WP_OK)
        return s_status_error (cli, status);
    printf ("%s\n", wp_item_state_name (state));
    return 0;
}

static int
s_size (s_cli_t *cli, wp_pool_t *pool)
{
    uint64_t size;
    wp_status status = wp_pool_size (pool, &size);
    if (status != WP_OK)
        return s_status_error (cli, status);
    printf ("%" PRIu64 "\n", size);
    return 0;
}

static int
s_release (s_cli_t *cli, wp_pool_t *pool)
{
    uint64_t count;
    wp_status status = wp_pool_release_by_worker (pool, cli->args [1], &count);
    if (status != WP_OK)
        return s_status_error (cli, status);
    printf ("%" PRIu64 "\n", count);
    return 0;
}

static int
s_get (s_cli_t *cli, wp_pool_t *pool)
{
    wp_item_t *item = NULL;
    wp_status status = wp_pool_get (pool, cli->args [1], &item);
    if (status != WP_OK)
        return s_status_error (cli, status);
    s_print (wp_json_from_item (item));
    wp_item_destroy (&item);
    return 0;
}

static int
s_register (s_cli_t *cli, wp_pool_t *pool)
{
    wp_worker_t *worker = wp_worker_new ();
    worker->worker_id = strdup (cli->args [0]);
    worker->host = cli->host ? strdup (cli->host) : NULL;
    worker->pool_id = cli->pool ? strdup (cli->pool) : NULL;
    if (!worker->worker_id || (cli->host && !worker->host) || (cli->pool && !worker->pool_id))
        abort ();
    worker->pid = cli->given & S_BIT (S_OPT_PID) ? cli->pid : -1;
    worker->heartbeat_interval = cli->heartbeat;
    for (size_t i = 0; i < cli->capability_count; i++)
        wp_worker_add_capability (worker, cli->capabilities [i]);
    wp_meta_copy (&worker->metadata, &cli->meta);
    wp_worker_t *stored = NULL;
    wp_status status = wp_backend_register (cli->backend, worker, &stored);
    wp_worker_destroy (&worker);
    if (status != WP_OK)
        return s_status_error (cli, status);
    s_print (wp_json_from_worker (stored));
    wp_worker_destroy (&stored);
    return 0;
}

static int
s_heartbeat (s_cli_t *cli, wp_pool_t *pool)
{
    wp_status status = wp_backend_heartbeat (cli->backend, cli->args [0],
                                             cli->metadata ? &cli->meta : NULL);
    return status == WP_OK ? 0 : s_status_error (cli, status);
}

static int
s_status (s_cli_t *cli, wp_pool_t *pool)
{
    wp_status status = wp_backend_update_status (cli->backend, cli->args [0], cli->args [1]);
    return status == WP_OK ? 0 : s_status_error (cli, status);
}

static int
s_worker (s_cli_t *cli, wp_pool_t *pool)
{
    wp_worker_t *worker = NULL;
    wp_status status = wp_backend_get_worker (cli->backend, cli->args [0], &worker);
    if (status != WP_OK)
        return s_status_error (cli, status);
    s_print (worker ? wp_json_from_worker (worker) : json_null ());
    wp_worker_destroy (&worker);
    return 0;
}

static int
s_workers (s_cli_t *cli, wp_pool_t *pool)
{
    wp_worker_filter_t filter = WP_WORKER_FILTER_ALL;
    filter.statuses = cli->statuses;
    filter.status_count = cli->status_count;
    filter.capability = cli->capability_count ? cli->capabilities [0] : NULL;
    filter.pool_id = cli->pool;
    if (cli->given & S_BIT (S_OPT_STALE))
        filter.stale_threshold = cli->stale;
    wp_worker_list_t *list = NULL;
    wp_status status = wp_backend_list_workers (cli->backend, &filter, &list);
    if (status != WP_OK)
        return s_status_error (cli, status);
    json_t *array = json_array ();
    if (!array)
        abort ();
    for (size_t i = 0; i < list->count; i++)
        if (json_array_append_new (array, wp_json_from_worker (list->workers [i])))
            abort ();
    s_print (array);
    wp_worker_list_destroy (&list);
    return 0;
}

static int
s_stats (s_cli_t *cli, wp_pool_t *pool)
{
    wp_stats_t *stats = NULL;
    wp_status status = wp_backend_stats (cli->backend, &stats);
    if (status != WP_OK)
        return s_status_error (cli, status);
    s_print (wp_json_from_stats (stats));
    wp_stats_destroy (&stats);
    return 0;
}

static int
s_ping (s_cli_t *cli, wp_pool_t *pool)
{
    char *server = NULL;
    int64_t time = 0;
    wp_status status = wp_backend_ping (cli->backend, &server, &time);
    if (status != WP_OK)
        return s_status_error (cli, status);
    json_t *json = json_pack ("{s:s, s:s?, s:o}", "backend", wp_backend_kind (cli->backend),
                              "server", server, "time", wp_json_from_time (time));
    if (!json)
        abort ();
    s_print (json);
    free (server);
    return 0;
}

#define S_OPTS2(a, b)   (S_BIT (a) | S_BIT (b))

static const s_command_t s_commands [] = {
    { "push", s_push, { "POOL", "JSON" }, 2,
      S_OPTS2 (S_OPT_ID, S_OPT_MAX_RETRIES),
      "POOL JSON [--id ID] [--max-retries N]",
      "Queue a JSON value in POOL; prints the item's id.",
      "\n"
      "  JSON               the item's data (- reads it from stdin)\n"
      "  --id ID            the item's id (default: a new UUID). Pushing an id the\n"
      "                     pool already holds changes nothing and prints that id,\n"
      "                     so a push with --id is safe to repeat\n"
      "  --max-retries N    failures before the item is poisoned (default 3)\n" },
    { "claim", s_claim, { "POOL" }, 1,
      S_BIT (S_OPT_WORKER) | S_OPTS2 (S_OPT_WAIT, S_OPT_LEASE),
      "POOL --worker W [--wait SECONDS] [--lease SECONDS]",
      "Claim the oldest pending item for worker W; prints it, or null.",
      "\n"
      "  --worker W         the claiming worker (required)\n"
      "  --wait SECONDS     if none is pending, wait up to this long for a push\n"
      "                     (default 0: answer at once)\n"
      "  --lease SECONDS    how long the claim holds before the item returns to the\n"
      "                     pool (default: the backend's, 300)\n"
      "Prints the item as a JSON object, or null if there was none (exit 0).\n" },
    { "complete", s_complete, { "POOL", "ID", "RESULT_JSON" }, 2,
      S_BIT (S_OPT_WORKER),
      "POOL ID [RESULT_JSON] [--worker W]",
      "Mark claimed item ID done, storing RESULT_JSON.",
      "\n"
      "  RESULT_JSON        the result to store (- reads it from stdin; default none)\n"
      "  --worker W         fail unless W holds the claim (FAILED_PRECONDITION)\n"
      "Prints nothing. Unknown ID: NOT_FOUND; not claimed: FAILED_PRECONDITION.\n" },
    { "fail", s_fail, { "POOL", "ID", "ERROR" }, 2,
      S_BIT (S_OPT_WORKER),
      "POOL ID [ERROR] [--worker W]",
      "Fail claimed item ID with the text ERROR; prints pending or poisoned.",
      "\n"
      "  ERROR              why it failed (plain text, stored on the item)\n"
      "  --worker W         fail unless W holds the claim (FAILED_PRECONDITION)\n"
      "The item's attempts go up by one; it returns to pending, or is poisoned once\n"
      "attempts reach its max_retries. Prints the item's new status.\n" },
    { "size", s_size, { "POOL" }, 1, 0,
      "POOL",
      "Print the number of pending items in POOL.",
      "" },
    { "release", s_release, { "POOL", "WORKER" }, 2, 0,
      "POOL WORKER",
      "Return every item of POOL that WORKER holds to pending; prints how many.",
      "\nNo attempt is counted (this is the cleanup after a worker that stopped).\n" },
    { "get", s_get, { "POOL", "ID" }, 2, 0,
      "POOL ID",
      "Print item ID with every field (status, result, error...).",
      "\nUnknown ID: NOT_FOUND.\n" },
    { "register", s_register, { "WORKER" }, 1,
      S_BIT (S_OPT_CAPABILITY) | S_OPTS2 (S_OPT_POOL, S_OPT_HOST)
      | S_OPTS2 (S_OPT_PID, S_OPT_HEARTBEAT) | S_BIT (S_OPT_METADATA),
      "WORKER [--capability C]... [--pool P] [--host H] [--pid N] [--heartbeat SECONDS]"
      " [--metadata JSON_OBJECT]",
      "Register (or re-register) worker WORKER as active; prints its record.",
      "\n"
      "  --capability C     a capability (repeat for several)\n"
      "  --pool P           the worker's pool group\n"
      "  --host H, --pid N  where it runs\n"
      "  --heartbeat SECONDS  the interval it promises to heartbeat at (default 10);\n"
      "                     a worker silent for twice that is declared lost\n"
      "  --metadata JSON_OBJECT  free metadata\n" },
    { "heartbeat", s_heartbeat, { "WORKER" }, 1,
      S_BIT (S_OPT_METADATA),
      "WORKER [--metadata JSON_OBJECT]",
      "Record a heartbeat of WORKER (renews its leases).",
      "\n"
      "  --metadata JSON_OBJECT  merged into the worker's metadata, key by key\n"
      "Prints nothing. Unknown worker: NOT_FOUND; declared lost: FAILED_PRECONDITION\n"
      "(register again).\n" },
    { "status", s_status, { "WORKER", "STATUS" }, 2, 0,
      "WORKER STATUS",
      "Set WORKER's status (active, terminating, terminated, lost, or any name).",
      "\nPrints nothing. Unknown worker: NOT_FOUND.\n" },
    { "worker", s_worker, { "WORKER" }, 1, 0,
      "WORKER",
      "Print WORKER's record, or null if there is none.",
      "" },
    { "workers", s_workers, { NULL }, 0,
      S_BIT (S_OPT_STATUS) | S_BIT (S_OPT_CAPABILITY) | S_OPTS2 (S_OPT_POOL, S_OPT_STALE),
      "[--status S]... [--capability C] [--pool P] [--stale SECONDS]",
      "Print the workers that match every filter given, as a JSON array.",
      "\n"
      "  --status S         status is S (repeat: any of them)\n"
      "  --capability C     C is one of its capabilities\n"
      "  --pool P           its pool group is P\n"
      "  --stale SECONDS    its last heartbeat is older than SECONDS\n" },
    { "stats", s_stats, { NULL }, 0, 0,
      "",
      "Print the backend's statistics as a JSON object.",
      "\n{\"pools\": [{pool, pending, claimed, done, poisoned}], \"workers\": {STATUS: count},\n"
      " \"counters\": {NAME: value}} (counters come from a broker only).\n" },
    { "ping", s_ping, { NULL }, 0, 0,
      "",
      "Check that the backend answers; prints {backend, server, time}.",
      "\nExit 24 (UNAVAILABLE) when no broker answers within --timeout.\n" },
    { NULL, NULL, { NULL }, 0, 0, NULL, NULL, NULL }
};

//  ---------------------------------------------------------------------
//  Help

static void
s_help_command (const s_command_t *command)
{
    printf ("usage: workpool [GLOBAL OPTIONS] %s %s\n\n%s\n%s",
            command->name, command->synopsis, command->summary, command->help);
    printf ("\nGlobal options (before or after the command): --endpoint E, --timeout SECONDS.\n"
            "Errors: one line on stderr, \"workpool: STATUS: message\"; exit codes in"
            " workpool --help.\n");
}

static void
s_help_main (void)
{
    printf (
"usage: workpool [--endpoint E] [--timeout SECONDS] COMMAND [ARGS] [OPTIONS]\n"
"\n"
"The command line of workpool, a work-queue broker: queue JSON values in pools,\n"
"claim and complete them, register workers, list them. JSON in, JSON out.\n"
"\n"
"Commands:\n");
    for (const s_command_t *command = s_commands; command->name; command++)
        printf ("  %-10s %s\n", command->name, command->summary);
    printf (
"  help       workpool help COMMAND is workpool COMMAND --help\n"
"\n"
"Global options:\n"
"  --endpoint E       the backend (default: $WORKPOOL_ENDPOINT, else %s):\n"
"                     tcp://HOST:PORT or ipc://PATH  a workpoold broker;\n"
"                     sqlite:PATH  the SQLite store at PATH, opened in this process\n"
"                                  (no broker needed; shared with every process that\n"
"                                  opens the same file);\n"
"                     memory       a memory store that lives as long as this command\n"
"  --timeout SECONDS  how long a call may take (default 30); a claim's --wait\n"
"                     comes on top\n"
"  --help             this text (COMMAND --help: that command's)\n"
"  --version          the version\n"
"\n"
"Output: one JSON value per command on stdout, compact, on one line (ids, item\n"
"states and counts print bare, as the text a shell wants). Items and workers\n"
"print as objects with every field; times as RFC 3339 UTC strings; unset as null.\n"
"\n"
"Values: item data and results are msgpack on the wire; JSON converts both ways\n"
"(objects, arrays, strings, integers, reals, true, false, null). A JSON argument\n"
"given as - is read from stdin; put -- before one that starts with -.\n"
"  {\"$bin\": \"BASE64\"}                a msgpack bin (standard base64, padded)\n"
"  {\"$ext\": TYPE, \"$bin\": \"BASE64\"}  a msgpack ext\n"
"These two shapes go both ways, so printed data pushes back unchanged. On output\n"
"only: a string that is not UTF-8 prints as {\"$bin\"}; a map key that is not a\n"
"string as its JSON text (1 -> \"1\"); NaN and infinities as \"NaN\", \"Infinity\",\n"
"\"-Infinity\"; an unsigned integer above 2^63-1 as a real; bytes that are not one\n"
"msgpack value (pushed by another client) as {\"$raw\": \"BASE64\"}. Values nest at\n"
"most 32 arrays/objects deep.\n"
"\n"
"Errors: one line on stderr, \"workpool: STATUS: message\", STATUS a gRPC code name.\n"
"Exit codes:\n"
"   0  success (a claim that found nothing prints null and succeeds)\n"
"   1  the output could not be written\n"
"   2  the command line is wrong: unknown command or option, missing or extra\n"
"      argument, a bad number, JSON that does not parse (STATUS INVALID_ARGUMENT)\n"
"  10 + the status code the backend returned:\n",
        S_DEFAULT_ENDPOINT);
    for (int status = 1; status < WP_STATUS_COUNT; status++)
        printf ("  %2d  %s%s", S_EXIT_STATUS + status, wp_strerror (status),
                status % 4 == 0 || status == WP_STATUS_COUNT - 1 ? "\n" : "");
    printf (
"      (e.g. 15 NOT_FOUND: no such item or worker; 19 FAILED_PRECONDITION: the item\n"
"      is not claimed, or not by --worker; 24 UNAVAILABLE: no broker answered)\n");
}

static const s_command_t *
s_command_find (const char *name)
{
    for (const s_command_t *command = s_commands; command->name; command++)
        if (streq (command->name, name))
            return command;
    return NULL;
}

//  ---------------------------------------------------------------------
//  Main

//  One pass of getopt over argv (which it permutes: options first, then
//  the positional arguments from optind). With take, stores each option in
//  cli; without, only finds where the positional arguments start. Returns
//  0, or the exit code of the first error (printed only with take).
static int
s_getopt (s_cli_t *cli, int argc, char **argv, bool take)
{
    opterr = 0;
    optind = 0;
    int opt;
    while ((opt = getopt_long (argc, argv, ":h", s_options, NULL)) != -1) {
        if (!take)
            continue;
        if (opt == '?' || opt == ':') {
            const char *arg = argv [optind - 1];
            if (opt == ':')
                return s_usage_error (cli, "%s needs a value", arg);
            if (arg [0] == '-' && (arg [1] == '.' || (arg [1] >= '0' && arg [1] <= '9')))
                return s_usage_error (cli, "unknown option '%s' (put -- before a JSON value"
                                      " that starts with -)", arg);
            return s_usage_error (cli, "unknown option '%s'", arg);
        }
        int rc = s_take_option (cli, opt == 'h' ? S_OPT_HELP : opt - S_OPT_BASE, optarg);
        if (rc)
            return rc;
    }
    return 0;
}

//  Parses argv into cli. Returns -1 to go on, or an exit code.
static int
s_parse (s_cli_t *cli, int argc, char **argv)
{
    //  --help anywhere before "--" wins over any other mistake
    bool help = false;
    for (int i = 1; i < argc && !streq (argv [i], "--"); i++)
        if (streq (argv [i], "--help") || streq (argv [i], "-h"))
            help = true;

    //  Find the command first, so that errors in options can name it. On a
    //  copy: getopt reorders argv, and a second pass over a reordered argv
    //  would read it differently ("--worker" last would take the command).
    char **copy = malloc ((argc + 1) * sizeof (char *));
    if (!copy)
        abort ();
    memcpy (copy, argv, (argc + 1) * sizeof (char *));
    s_getopt (cli, argc, copy, false);
    const char *name = optind < argc ? copy [optind] : NULL;
    if (name && streq (name, "help")) {
        help = true;
        name = optind + 1 < argc ? copy [optind + 1] : NULL;
    }
    free (copy);
    if (name && !(cli->command = s_command_find (name)))
        return s_usage_error (NULL, "unknown command '%s'", name);
    if (help) {
        if (cli->command)
            s_help_command (cli->command);
        else
            s_help_main ();
        return 0;
    }
    int rc = s_getopt (cli, argc, argv, true);
    if (rc)
        return rc;
    if (cli->given & S_BIT (S_OPT_VERSION)) {
        printf ("workpool %d.%d.%d\n", WP_LIB_VERSION_MAJOR, WP_LIB_VERSION_MINOR,
                WP_LIB_VERSION_PATCH);
        return 0;
    }
    if (!cli->command)
        return s_usage_error (NULL, "a command is required");

    const s_command_t *command = cli->command;
    unsigned stray = cli->given & ~(command->options | S_GLOBAL);
    for (int o = 0; o < S_OPT_COUNT; o++)
        if (stray & S_BIT (o))
            return s_usage_error (cli, "%s does not take --%s", command->name,
                                  s_options [o].name);
    int max_args = 0;
    while (max_args < 4 && command->args [max_args])
        max_args++;
    for (optind++; optind < argc; optind++) {
        if (cli->arg_count == max_args)
            return s_usage_error (cli, "unexpected argument '%s'", argv [optind]);
        cli->args [cli->arg_count++] = argv [optind];
    }
    if (cli->arg_count < command->min_args)
        return s_usage_error (cli, "%s needs %s", command->name, command->args [cli->arg_count]);
    if (command->run == s_claim && !cli->worker)
        return s_usage_error (cli, "claim needs --worker W");
    if (command->run == s_workers && cli->capability_count > 1)
        return s_usage_error (cli, "workers takes one --capability");

    //  Convert the JSON inputs now: a mistake in them is the command line's
    if (command->run == s_push
    &&  s_read_msgpack (cli, cli->args [1], "JSON", &cli->data, &cli->data_size))
        return S_EXIT_USAGE;
    if (command->run == s_complete && cli->arg_count > 2
    &&  s_read_msgpack (cli, cli->args [2], "RESULT_JSON", &cli->result, &cli->result_size))
        return S_EXIT_USAGE;
    if (cli->metadata && s_read_metadata (cli, &cli->meta))
        return S_EXIT_USAGE;
    return -1;
}

int
main (int argc, char **argv)
{
    //  Leave SIGINT/SIGTERM to the default action: a claim waiting on a broker
    //  must die on Ctrl-C, not set a flag nobody reads.
    zsys_handler_set (NULL);

    s_cli_t cli = { .max_retries = -1, .pid = -1, .stale = -1 };
    int rc = s_parse (&cli, argc, argv);
    if (rc < 0)
        rc = s_run (&cli);
    wp_backend_destroy (&cli.backend);
    free (cli.capabilities);
    free (cli.statuses);
    free (cli.data);
    free (cli.result);
    wp_meta_clear (&cli.meta);
    if (fflush (stdout) || ferror (stdout)) {
        fprintf (stderr, "workpool: %s: cannot write the output: %s\n",
                 wp_strerror (WP_UNKNOWN), strerror (errno));
        if (rc == 0)
            rc = S_EXIT_OUTPUT;
    }
    return rc;
}
