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
#include <sys/stat.h>
#include <unistd.h>

#define S_DEFAULT_ENDPOINT  "tcp://127.0.0.1:5555"
#define S_DEFAULT_TIMEOUT   3.0     //  seconds: a person at a prompt waits no longer
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
    S_OPT_METADATA, S_OPT_STATUS, S_OPT_STALE, S_OPT_LIMIT, S_OPT_CURSOR,
    S_OPT_ALL, S_OPT_BATCH, S_OPT_SERVER_KEY, S_OPT_CERT, S_OPT_ROLE, S_OPT_WORKER_PREFIX,
    S_OPT_SERVER, S_OPT_DELAY, S_OPT_AT, S_OPT_PRIORITY, S_OPT_UNIQUE_KEY, S_OPT_BACKOFF,
    S_OPT_RETRY_AFTER,
    S_OPT_COUNT
};
#define S_BIT(opt) (1u << (opt))
#define S_GLOBAL (S_BIT (S_OPT_ENDPOINT) | S_BIT (S_OPT_TIMEOUT) \
                | S_BIT (S_OPT_HELP) | S_BIT (S_OPT_VERSION) \
                | S_BIT (S_OPT_SERVER_KEY) | S_BIT (S_OPT_CERT))
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
    { "limit",       required_argument, NULL, S_OPT_BASE + S_OPT_LIMIT },
    { "cursor",      required_argument, NULL, S_OPT_BASE + S_OPT_CURSOR },
    { "all",         no_argument,       NULL, S_OPT_BASE + S_OPT_ALL },
    { "batch",       required_argument, NULL, S_OPT_BASE + S_OPT_BATCH },
    { "server-key",  required_argument, NULL, S_OPT_BASE + S_OPT_SERVER_KEY },
    { "cert",        required_argument, NULL, S_OPT_BASE + S_OPT_CERT },
    { "role",        required_argument, NULL, S_OPT_BASE + S_OPT_ROLE },
    { "worker-prefix", required_argument, NULL, S_OPT_BASE + S_OPT_WORKER_PREFIX },
    { "server",      no_argument,       NULL, S_OPT_BASE + S_OPT_SERVER },
    { "delay",       required_argument, NULL, S_OPT_BASE + S_OPT_DELAY },
    { "at",          required_argument, NULL, S_OPT_BASE + S_OPT_AT },
    { "priority",    required_argument, NULL, S_OPT_BASE + S_OPT_PRIORITY },
    { "unique-key",  required_argument, NULL, S_OPT_BASE + S_OPT_UNIQUE_KEY },
    { "backoff",     required_argument, NULL, S_OPT_BASE + S_OPT_BACKOFF },
    { "retry-after", required_argument, NULL, S_OPT_BASE + S_OPT_RETRY_AFTER },
    { NULL, 0, NULL, 0 }
};

#define S_ARGS_MAX 5                //  positional arguments of a command, at most

typedef struct _s_cli_t s_cli_t;
//  Runs the command; pool is the pool its first argument names, for the
//  commands whose first argument is POOL, else NULL. Returns the exit code.
typedef int (s_run_fn) (s_cli_t *cli, wp_pool_t *pool);

//  One command: how it is called and what it says about itself
typedef struct {
    const char *name;
    s_run_fn *run;
    const char *args [S_ARGS_MAX];  //  names of the positional arguments
    int min_args;               //  how many are required (the rest optional)
    unsigned options;           //  S_BIT of each option it takes
    const char *synopsis;       //  after "workpool NAME "
    const char *summary;        //  one line for `workpool --help`
    const char *help;           //  the rest of `workpool NAME --help`
} s_command_t;

//  What the command line said, and the backend once opened
struct _s_cli_t {
    const s_command_t *command;
    char *args [S_ARGS_MAX];        //  positional arguments after the command
    int arg_count;
    unsigned given;                 //  S_BIT of each option given
    const char *endpoint;           //  --endpoint; NULL: environment or default
    const char *spec;               //  the backend opened (endpoint, environment or default)
    double timeout;                 //  --timeout, else $WORKPOOL_TIMEOUT, else 3 s
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
    wp_item_state *item_states;     //  items, purge: the --status names as states
    double stale;                   //  --stale; -1: none
    int64_t limit;                  //  --limit (>= 1)
    const char *cursor;             //  --cursor
    int64_t batch;                  //  --batch; 0: WP_BATCH_MAX
    const char *server_key;         //  --server-key, else $WORKPOOL_SERVER_KEY; NULL: none
    const char *cert;               //  --cert, else $WORKPOOL_CERT; NULL: none
    const char *role;               //  keygen --role
    const char *worker_prefix;      //  keygen --worker-prefix
    double delay;                   //  --delay; 0: none
    int64_t at;                     //  --at; 0: none
    int64_t priority;               //  --priority (int32)
    const char *unique_key;         //  --unique-key
    wp_backoff_t backoff;           //  --backoff BASE,CAP[,JITTER] or none
    double retry_after;             //  --retry-after; 0: none
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

//  What libworkpool's remote store says when no request could go out before
//  the deadline. A broker's own UNAVAILABLE (its store busy, shutting down)
//  says something else and is printed as it is.
#define S_NOT_REACHED "no broker reachable at "

//  Prints the backend's failure on one line, followed by note (may be "").
//  Returns its exit code.
static int
s_status_error_text (s_cli_t *cli, wp_status status, const char *message, const char *note);

static int
s_status_error_note (s_cli_t *cli, wp_status status, const char *note)
{
    return s_status_error_text (cli, status, cli->backend ? wp_backend_errmsg (cli->backend) : "",
                                note);
}

//  As s_status_error_note with the failure's message given.
static int
s_status_error_text (s_cli_t *cli, wp_status status, const char *message, const char *note)
{
    fprintf (stderr, "workpool: %s: ", wp_strerror (status));
    //  (unless the handshake failed: then the broker is there, the keys are wrong)
    if (status == WP_UNAVAILABLE && cli->backend && streq (wp_backend_kind (cli->backend), "remote")
    &&  strncmp (message, S_NOT_REACHED, strlen (S_NOT_REACHED)) == 0
    &&  !strstr (message, "handshake failed"))
        fprintf (stderr, "no broker at %s (is workpoold running?)", cli->spec);
    else
        fputs (*message ? message : "(no message)", stderr);
    fprintf (stderr, "%s\n", note);
    return S_EXIT_STATUS + (int) status;
}

//  Prints the backend's failure. Returns its exit code.
static int
s_status_error (s_cli_t *cli, wp_status status)
{
    return s_status_error_note (cli, status, "");
}

//  For a command that prints nothing: its exit code.
static int
s_result (s_cli_t *cli, wp_status status)
{
    return status == WP_OK ? 0 : s_status_error (cli, status);
}

//  For a command that prints a count: prints it on success (call it after
//  the call that sets count, not with it as an argument). Returns the exit
//  code.
static int
s_count_result (s_cli_t *cli, wp_status status, uint64_t count)
{
    if (status != WP_OK)
        return s_status_error (cli, status);
    printf ("%" PRIu64 "\n", count);
    return 0;
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

//  Parses "BASE,CAP[,JITTER]" or "none" (no policy). The ranges are the
//  store's to check, so the words match every client's.
static int
s_parse_backoff (const char *text, wp_backoff_t *out)
{
    wp_backoff_t policy = { 0, 0, 0 };
    if (strcmp (text, "none") == 0) {
        *out = policy;
        return 0;
    }
    double *fields [3] = { &policy.base, &policy.cap, &policy.jitter };
    const char *p = text;
    for (int i = 0; i < 3; i++) {
        char *end;
        errno = 0;
        *fields [i] = strtod (p, &end);
        if (end == p || errno || !isfinite (*fields [i]))
            return -1;
        if (*end == 0 && i >= 1)
            break;
        if (*end != ',' || i == 2)
            return -1;
        p = end + 1;
    }
    *out = policy;
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
        case S_OPT_CURSOR:      cli->cursor = value; break;
        case S_OPT_SERVER_KEY:  cli->server_key = value; break;
        case S_OPT_CERT:        cli->cert = value; break;
        case S_OPT_ROLE:        cli->role = value; break;
        case S_OPT_WORKER_PREFIX: cli->worker_prefix = value; break;
        case S_OPT_UNIQUE_KEY:  cli->unique_key = value; break;
        case S_OPT_DELAY:
        case S_OPT_RETRY_AFTER:
            if (s_parse_seconds (value, false,
                                 opt == S_OPT_DELAY ? &cli->delay : &cli->retry_after))
                return s_usage_error (cli, "--%s needs a number of seconds >= 0, not '%s'",
                                      name, value);
            break;
        case S_OPT_AT:
            if (wp_time_parse (value, strlen (value), &cli->at))
                return s_usage_error (cli, "--at needs an RFC 3339 time"
                                      " (2026-12-03T09:00:00Z), not '%s'", value);
            break;
        case S_OPT_PRIORITY: {
            char *end;
            errno = 0;
            long long priority = strtoll (value, &end, 10);
            if (end == value || *end || errno || priority < INT32_MIN || priority > INT32_MAX)
                return s_usage_error (cli, "--priority needs an integer %d..%d (lower is"
                                      " claimed first), not '%s'", INT32_MIN, INT32_MAX, value);
            cli->priority = priority;
            break;
        }
        case S_OPT_BACKOFF:
            if (s_parse_backoff (value, &cli->backoff))
                return s_usage_error (cli, "--backoff needs BASE,CAP[,JITTER] (seconds, seconds,"
                                      " 0..1) or none, not '%s'", value);
            break;
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
        case S_OPT_LIMIT:
            if (s_parse_count (value, &cli->limit) || cli->limit < 1)
                return s_usage_error (cli, "--limit needs an integer >= 1, not '%s'", value);
            break;
        case S_OPT_BATCH:
            if (s_parse_count (value, &cli->batch) || cli->batch < 1 || cli->batch > WP_BATCH_MAX)
                return s_usage_error (cli, "--batch needs an integer 1..%d, not '%s'",
                                      WP_BATCH_MAX, value);
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
    cli->spec = cli->endpoint;
    if (!cli->spec) {
        cli->spec = getenv ("WORKPOOL_ENDPOINT");
        if (!cli->spec || !*cli->spec)
            cli->spec = S_DEFAULT_ENDPOINT;
    }
    wp_backend_options_t options = { .timeout = cli->timeout, .server_key = cli->server_key,
                                     .cert = cli->cert };
    wp_status status = WP_OK;
    char *message = NULL;
    cli->backend = wp_backend_open (cli->spec, &options, &status, &message);
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
static int s_keygen (s_cli_t *cli, wp_pool_t *pool);

static int
s_run (s_cli_t *cli)
{
    if (cli->command->run == s_keygen)
        return s_keygen (cli, NULL);
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

//  An entry of data with the options push and push-many share
static wp_push_entry_t
s_entry (s_cli_t *cli, const uint8_t *data, size_t size)
{
    return (wp_push_entry_t) {
        .data = data, .data_size = size,
        .max_retries = cli->given & S_BIT (S_OPT_MAX_RETRIES) ? cli->max_retries : -1,
        .delay = cli->delay, .run_at = cli->at, .priority = (int32_t) cli->priority
    };
}

static int
s_push (s_cli_t *cli, wp_pool_t *pool)
{
    wp_push_entry_t entry = s_entry (cli, cli->data, cli->data_size);
    entry.id = cli->id;
    entry.unique_key = cli->unique_key;
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
    return s_result (cli, wp_pool_complete (pool, cli->args [1], cli->result, cli->result_size,
                                            cli->worker));
}

static int
s_fail (s_cli_t *cli, wp_pool_t *pool)
{
    wp_item_state state;
    wp_status status = wp_pool_fail_after (pool, cli->args [1],
                                           cli->arg_count > 2 ? cli->args [2] : NULL,
                                           cli->retry_after, cli->worker, &state);
    if (status != WP_OK)
        return s_status_error (cli, status);
    printf ("%s\n", wp_item_state_name (state));
    return 0;
}

static int
s_size (s_cli_t *cli, wp_pool_t *pool)
{
    uint64_t size = 0;
    wp_status status = wp_pool_size (pool, &size);
    return s_count_result (cli, status, size);
}

static int
s_release (s_cli_t *cli, wp_pool_t *pool)
{
    uint64_t count = 0;
    wp_status status = wp_pool_release_by_worker (pool, cli->args [1], &count);
    return s_count_result (cli, status, count);
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

//  Prints the items a page at a time, so that a pool of millions streams.
//  Without --limit every page is read; with it, at most --limit items and
//  the cursor of what remains on stderr.
static int
s_items (s_cli_t *cli, wp_pool_t *pool)
{
    bool limited = (cli->given & S_BIT (S_OPT_LIMIT)) != 0;
    uint64_t left = limited ? (uint64_t) cli->limit : UINT64_MAX;
    char *cursor = cli->cursor ? strdup (cli->cursor) : NULL;
    if (cli->cursor && !cursor)
        abort ();
    int rc = 0;
    while (left > 0) {
        size_t page = left < WP_LIST_MAX ? (size_t) left : WP_LIST_MAX;
        wp_item_list_t *items = NULL;
        char *next = NULL;
        wp_status status = wp_pool_list (pool, cli->item_states, cli->status_count, page,
                                         cursor, &items, &next);
        if (status != WP_OK) {
            rc = s_status_error (cli, status);
            break;
        }
        free (cursor);
        cursor = next;
        for (size_t i = 0; i < items->count; i++)
            s_print (wp_json_from_item (items->items [i]));
        left -= items->count;
        bool empty = items->count == 0;
        wp_item_list_destroy (&items);
        //  An empty page with a cursor would loop for ever; a write error
        //  is reported by main, no use reading a million more items
        if (!cursor || empty || fflush (stdout) || ferror (stdout))
            break;
    }
    if (rc == 0 && limited && cursor && !ferror (stdout))
        fprintf (stderr, "next cursor: %s\n", cursor);
    free (cursor);
    return rc;
}

static int
s_retry (s_cli_t *cli, wp_pool_t *pool)
{
    if (cli->given & S_BIT (S_OPT_ALL)) {
        uint64_t count = 0;
        wp_status status = wp_pool_retry_all (pool, &count);
        return s_count_result (cli, status, count);
    }
    return s_result (cli, wp_pool_retry (pool, cli->args [1]));
}

static int
s_cancel (s_cli_t *cli, wp_pool_t *pool)
{
    return s_result (cli, wp_pool_cancel (pool, cli->args [1]));
}

static int
s_purge (s_cli_t *cli, wp_pool_t *pool)
{
    uint64_t count = 0;
    wp_status status = wp_pool_purge (pool, cli->item_states, cli->status_count, &count);
    return s_count_result (cli, status, count);
}

static int
s_pause (s_cli_t *cli, wp_pool_t *pool)
{
    return s_result (cli, wp_pool_pause (pool));
}

static int
s_resume (s_cli_t *cli, wp_pool_t *pool)
{
    return s_result (cli, wp_pool_resume (pool));
}

//  push-many's batch: the values read so far, as msgpack
typedef struct {
    wp_push_entry_t *entries;       //  count entries; data points into buffers
    uint8_t **buffers;              //  owned, one per entry
    size_t count;
    uint64_t first_line;            //  the input line of entries [0]
} s_batch_t;

//  Frees the batch's values and empties it.
static void
s_batch_clear (s_batch_t *batch)
{
    for (size_t i = 0; i < batch->count; i++)
        free (batch->buffers [i]);
    batch->count = 0;
}

//  Batches push-many keeps in flight: enough to hide the round trip,
//  few enough that a failure leaves little in doubt.
#define S_BATCHES_IN_FLIGHT 4

//  A batch sent, waiting for its ids to be printed in input order.
typedef struct {
    uint64_t first_line;
    size_t count;
    wp_completion_t *done;          //  its completion once come, else NULL
} s_sent_t;

//  push-many's batches in flight, oldest first, and what failed.
typedef struct {
    wp_pipeline_t *pipeline;
    zlist_t *sent;                  //  s_sent_t *, in input order
    wp_completion_t *failure;       //  the first batch that failed, or NULL
    uint64_t failed_first;          //  its lines
    uint64_t failed_last;
    uint64_t later_first;           //  lines after it queued anyway (0: none)
    uint64_t later_last;
    int rc;                         //  0 or the exit code of a failed write
} s_flow_t;

//  Prints the ids of the oldest batches whose completions came. Batches
//  after a failed one were in flight when it failed: their ids are printed
//  too (they were queued) and the failure's note says which lines they are.
static void
s_flow_print (s_flow_t *flow)
{
    s_sent_t *sent;
    while ((sent = zlist_first (flow->sent)) && sent->done) {
        zlist_pop (flow->sent);
        wp_completion_t *done = sent->done;
        if (done->status == WP_OK) {
            for (size_t i = 0; i < done->count; i++)
                printf ("%s\n", done->ids [i]);
            if (flow->failure) {
                if (!flow->later_first)
                    flow->later_first = sent->first_line;
                flow->later_last = sent->first_line + sent->count - 1;
            }
            wp_completion_destroy (&done);
            if (fflush (stdout))
                flow->rc = S_EXIT_OUTPUT;
        }
        else
        if (!flow->failure) {
            flow->failure = done;
            flow->failed_first = sent->first_line;
            flow->failed_last = sent->first_line + sent->count - 1;
        }
        else
            wp_completion_destroy (&done);
        free (sent);
    }
}

//  Takes one completion (waiting for it) into its batch and prints what it can.
static void
s_flow_collect (s_flow_t *flow)
{
    wp_completion_t *done = wp_pipeline_next (flow->pipeline);
    if (done) {
        ((s_sent_t *) done->tag)->done = done;
        s_flow_print (flow);
    }
}

//  Sends the batch, after room is made: at most S_BATCHES_IN_FLIGHT are
//  sent and not printed. Returns 0, or non-zero once a batch failed.
static int
s_batch_push (s_flow_t *flow, const char *pool, s_batch_t *batch)
{
    while (!flow->failure && !flow->rc && zlist_size (flow->sent) >= S_BATCHES_IN_FLIGHT)
        s_flow_collect (flow);
    if (flow->failure || flow->rc)
        return 1;
    s_sent_t *sent = calloc (1, sizeof *sent);
    if (!sent)
        abort ();
    sent->first_line = batch->first_line;
    sent->count = batch->count;
    zlist_append (flow->sent, sent);
    //  The pipeline copies the entries: the batch may be reused at once
    wp_pipeline_push_many (flow->pipeline, pool, batch->entries, batch->count, sent);
    return 0;
}

//  Waits for every batch in flight, prints their ids, and reports the
//  first failure. Returns 0 or the exit code.
static int
s_flow_end (s_cli_t *cli, s_flow_t *flow)
{
    while (zlist_size (flow->sent))
        s_flow_collect (flow);
    int rc = flow->rc;
    if (flow->failure && !rc) {
        //  A batch is one commit, but a reply that never came may hide one
        char note [320], later [160] = "";
        if (flow->later_first)
            snprintf (later, sizeof later, "; lines %" PRIu64 "..%" PRIu64 ", in flight then,"
                      " were queued and their ids printed", flow->later_first, flow->later_last);
        wp_status status = flow->failure->status;
        if (status == WP_DEADLINE_EXCEEDED)
            snprintf (note, sizeof note, " (lines %" PRIu64 "..%" PRIu64 " may have been queued"
                      " without their ids printed%s)", flow->failed_first, flow->failed_last,
                      *later ? later : "; nothing after them was");
        else
        if (*later)
            snprintf (note, sizeof note, " (lines %" PRIu64 "..%" PRIu64 " were not queued%s;"
                      " nothing after them was)", flow->failed_first, flow->failed_last, later);
        else
            snprintf (note, sizeof note, " (nothing from line %" PRIu64 " on was queued)",
                      flow->failed_first);
        rc = s_status_error_text (cli, status, flow->failure->message, note);
    }
    wp_completion_destroy (&flow->failure);
    return rc;
}

//  Reads stdin a line at a time and pushes every --batch lines in one call:
//  a bad line is found before its batch goes out, so the batches queued are
//  exactly the lines before that batch, whose ids are printed.
static int
s_push_many (s_cli_t *cli, wp_pool_t *pool)
{
    size_t size = cli->batch ? (size_t) cli->batch : WP_BATCH_MAX;
    s_batch_t batch = {
        .entries = calloc (size, sizeof (wp_push_entry_t)),
        .buffers = calloc (size, sizeof (uint8_t *)),
        .first_line = 1
    };
    s_flow_t flow = {
        .pipeline = wp_pipeline_new (cli->backend, S_BATCHES_IN_FLIGHT),
        .sent = zlist_new ()
    };
    if (!batch.entries || !batch.buffers || !flow.sent)
        abort ();
    const char *pool_name = wp_pool_name (pool);
    char *line = NULL;
    size_t capacity = 0;
    uint64_t line_no = 0;
    int rc = 0;
    while (rc == 0) {
        ssize_t length = getline (&line, &capacity, stdin);
        if (length < 0) {
            if (ferror (stdin))
                rc = s_usage_error (cli, "cannot read stdin after line %" PRIu64 ": %s",
                                    line_no, strerror (errno));
            else if (batch.count)
                s_batch_push (&flow, pool_name, &batch);
            break;
        }
        line_no++;
        if (length > 0 && line [length - 1] == '\n')
            line [--length] = 0;    //  so the parser's positions are on line 1
        char error [256] = "";
        json_t *json = NULL;
        const char *why = "is empty";
        if (strspn (line, " \t\r") < (size_t) length) {
            json = wp_json_parse (line, (size_t) length, error, sizeof error);
            why = json ? "cannot be encoded" : "is not valid JSON";
        }
        uint8_t *buffer = NULL;
        size_t buffer_size = 0;
        if (json) {
            if (wp_json_to_msgpack (json, &buffer, &buffer_size, error, sizeof error))
                buffer = NULL;
            json_decref (json);
        }
        if (!buffer) {
            //  The parser's "line 1" says nothing here: the line is the value
            const char *where = strncmp (error, "line 1 ", 7) == 0 ? error + 7 : error;
            const char *colon = *where ? ": " : "";
            //  Say what was queued only once the batches before are answered
            rc = s_flow_end (cli, &flow);
            if (rc)
                break;
            if (batch.first_line > 1)
                rc = s_usage_error (cli, "line %" PRIu64 " %s%s%s; lines 1..%" PRIu64 " were"
                                    " queued (their ids printed), nothing from line %" PRIu64
                                    " on", line_no, why, colon, where, batch.first_line - 1,
                                    batch.first_line);
            else
                rc = s_usage_error (cli, "line %" PRIu64 " %s%s%s; nothing was queued",
                                    line_no, why, colon, where);
            break;
        }
        batch.buffers [batch.count] = buffer;
        batch.entries [batch.count] = s_entry (cli, buffer, buffer_size);
        if (++batch.count == size) {
            int failed = s_batch_push (&flow, pool_name, &batch);
            s_batch_clear (&batch);
            batch.first_line = line_no + 1;
            if (failed)
                break;
        }
    }
    int flow_rc = s_flow_end (cli, &flow);
    if (flow_rc)
        rc = flow_rc;
    wp_pipeline_destroy (&flow.pipeline);
    zlist_destroy (&flow.sent);
    s_batch_clear (&batch);
    free (batch.entries);
    free (batch.buffers);
    free (line);
    return rc;
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
    return s_result (cli, wp_backend_heartbeat (cli->backend, cli->args [0],
                                                cli->metadata ? &cli->meta : NULL));
}

static int
s_status (s_cli_t *cli, wp_pool_t *pool)
{
    return s_result (cli, wp_backend_update_status (cli->backend, cli->args [0], cli->args [1]));
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

//  stats, and pools: the pools of stats, one a line
static int
s_stats (s_cli_t *cli, wp_pool_t *pool)
{
    wp_stats_t *stats = NULL;
    wp_status status = wp_backend_stats (cli->backend, &stats);
    if (status != WP_OK)
        return s_status_error (cli, status);
    if (streq (cli->command->name, "pools"))
        for (size_t i = 0; i < stats->pool_count; i++)
            s_print (wp_json_from_pool_stats (&stats->pools [i]));
    else
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

//  Writes the key pair NAME (public) and NAME_secret in czmq's format; the
//  options were checked by s_parse. Touches no backend.
static int
s_keygen (s_cli_t *cli, wp_pool_t *pool)
{
    const char *name = cli->args [0];
    char *secret = zsys_sprintf ("%s_secret", name);
    int rc = 0;
    const char *exists = access (name, F_OK) == 0 ? name
                       : access (secret, F_OK) == 0 ? secret : NULL;
    if (exists) {
        fprintf (stderr, "workpool: %s: %s exists: keygen never overwrites a key (remove it, "
                 "or choose another NAME)\n", wp_strerror (WP_ALREADY_EXISTS), exists);
        free (secret);
        return S_EXIT_STATUS + WP_ALREADY_EXISTS;
    }
    zcert_t *cert = zcert_new ();
    if (!cert)
        abort ();
    if (cli->role)
        zcert_set_meta (cert, "role", "%s", cli->role);
    if (cli->worker_prefix)
        zcert_set_meta (cert, "worker_prefix", "%s", cli->worker_prefix);
    //  The secret file readable by its owner only, from its first byte
    mode_t mask = umask (077);
    int saved = zcert_save_secret (cert, secret);
    umask (mask);
    if (saved == 0)
        saved = zcert_save_public (cert, name);
    if (saved) {
        fprintf (stderr, "workpool: %s: cannot write %s and %s: %s\n", wp_strerror (WP_UNKNOWN),
                 name, secret, strerror (errno));
        rc = S_EXIT_STATUS + WP_UNKNOWN;
    }
    else {
        json_t *json = json_pack ("{s:s, s:s, s:s, s:s?, s:s?}", "public", name, "secret", secret,
                                  "public_key", zcert_public_txt (cert), "role", cli->role,
                                  "worker_prefix", cli->worker_prefix);
        if (!json)
            abort ();
        s_print (json);
    }
    zcert_destroy (&cert);
    free (secret);
    return rc;
}

//  schedule add NAME POOL CRON DATA | schedule list | schedule remove NAME
static int
s_schedule (s_cli_t *cli, wp_pool_t *pool)
{
    const char *sub = cli->args [0];
    wp_status status;
    if (streq (sub, "add")) {
        wp_schedule_t spec = {
            .name = cli->args [1], .pool = cli->args [2], .cron = cli->args [3],
            .data = cli->data, .data_size = cli->data_size,
            .priority = (int32_t) cli->priority,
            .max_retries = cli->given & S_BIT (S_OPT_MAX_RETRIES) ? cli->max_retries : -1
        };
        wp_schedule_t *stored = NULL;
        status = wp_backend_schedule_add (cli->backend, &spec, &stored);
        if (status != WP_OK)
            return s_status_error (cli, status);
        s_print (wp_json_from_schedule (stored));
        wp_schedule_destroy (&stored);
        return 0;
    }
    if (streq (sub, "remove"))
        return s_result (cli, wp_backend_schedule_remove (cli->backend, cli->args [1]));
    wp_schedule_list_t *list = NULL;
    status = wp_backend_schedule_list (cli->backend, &list);
    if (status != WP_OK)
        return s_status_error (cli, status);
    for (size_t i = 0; i < list->count; i++)
        s_print (wp_json_from_schedule (list->schedules [i]));
    wp_schedule_list_destroy (&list);
    return 0;
}

//  pool set POOL --backoff BASE,CAP[,JITTER] | none
static int
s_pool_set (s_cli_t *cli, wp_pool_t *unused)
{
    wp_pool_t *pool = wp_backend_pool (cli->backend, cli->args [1]);
    if (!pool)
        return s_status_error (cli, WP_INVALID_ARGUMENT);
    int rc = s_result (cli, wp_pool_set_backoff (pool, &cli->backoff));
    wp_pool_destroy (&pool);
    return rc;
}

#define S_OPTS2(a, b)   (S_BIT (a) | S_BIT (b))
#define S_PUSH_OPTS     (S_OPTS2 (S_OPT_DELAY, S_OPT_AT) | S_BIT (S_OPT_PRIORITY))

static const s_command_t s_commands [] = {
    { "push", s_push, { "POOL", "DATA" }, 2,
      S_OPTS2 (S_OPT_ID, S_OPT_MAX_RETRIES) | S_PUSH_OPTS | S_BIT (S_OPT_UNIQUE_KEY),
      "POOL DATA [--id ID] [--max-retries N] [--delay S | --at TIME] [--priority N]"
      " [--unique-key K]",
      "Queue the JSON value DATA in POOL; prints the item's id.",
      "\n"
      "  DATA               the item's data, JSON (- reads it from stdin)\n"
      "  --id ID            the item's id (default: a new UUID). Pushing an id the\n"
      "                     pool already holds changes nothing and prints that id,\n"
      "                     so a push with --id is safe to repeat\n"
      "  --max-retries N    failures before the item is poisoned (default 3)\n"
      "  --delay S          not claimable for S seconds (status scheduled until then)\n"
      "  --at TIME          not claimable before TIME (RFC 3339, e.g.\n"
      "                     2026-12-03T09:00:00Z; a past TIME is now)\n"
      "  --priority N       claims take the lowest N first, then the oldest (default\n"
      "                     0; -2147483648..2147483647: below 0 is urgent)\n"
      "  --unique-key K     while an item of POOL with key K is pending, scheduled or\n"
      "                     claimed, print its id instead of queueing another\n" },
    { "push-many", s_push_many, { "POOL" }, 1,
      S_OPTS2 (S_OPT_BATCH, S_OPT_MAX_RETRIES) | S_PUSH_OPTS,
      "POOL [--batch N] [--max-retries N] [--delay S | --at TIME] [--priority N] < VALUES",
      "Queue stdin's JSON values, one a line; prints their ids in order.",
      "\n"
      "  --batch N          values queued per request (1..1000, default 1000); a batch\n"
      "                     is one request and one commit: all of it is queued or none\n"
      "  --max-retries N    failures before each item is poisoned (default 3)\n"
      "Every line must hold one JSON value (an empty line is an error). Prints one id\n"
      "a line, in the order of the input, as each batch is queued.\n"
      "A line that is not valid JSON stops the command (exit 2) before its batch is\n"
      "sent: the batches before it were queued and their ids printed; nothing from its\n"
      "batch on was. The error names the lines queued; as many ids were printed as\n"
      "lines were queued, so `tail -n +$((IDS + 1))` of the input resumes after a fix.\n"
      "A request that fails stops the same way (exit 10 + its status); one that got no\n"
      "reply (DEADLINE_EXCEEDED) may have queued its batch, as the error says. A batch\n"
      "must fit the broker's --max-message (1 MiB by default): lower --batch for large\n"
      "values.\n" },
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
    { "complete", s_complete, { "POOL", "ID", "RESULT" }, 2,
      S_BIT (S_OPT_WORKER),
      "POOL ID [RESULT] [--worker W]",
      "Mark claimed item ID done, storing the JSON value RESULT.",
      "\n"
      "  RESULT             the result to store, JSON (- reads it from stdin; default\n"
      "                     none)\n"
      "  --worker W         fail unless W holds the claim (FAILED_PRECONDITION)\n"
      "Prints nothing. Unknown ID: NOT_FOUND; not claimed: FAILED_PRECONDITION.\n" },
    { "fail", s_fail, { "POOL", "ID", "ERROR" }, 2,
      S_OPTS2 (S_OPT_WORKER, S_OPT_RETRY_AFTER),
      "POOL ID [ERROR] [--worker W] [--retry-after S]",
      "Fail claimed item ID with the text ERROR; prints its new status.",
      "\n"
      "  ERROR              why it failed (plain text, stored on the item)\n"
      "  --worker W         fail unless W holds the claim (FAILED_PRECONDITION)\n"
      "  --retry-after S    due again no sooner than S seconds from now (the service\n"
      "                     said Retry-After); wins over the pool's --backoff\n"
      "The item's attempts go up by one; it is poisoned once attempts reach its\n"
      "max_retries, else due again: at once (pending), or after --retry-after or the\n"
      "pool's backoff (scheduled). Prints pending, scheduled or poisoned.\n" },
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
    { "items", s_items, { "POOL" }, 1,
      S_BIT (S_OPT_STATUS) | S_OPTS2 (S_OPT_LIMIT, S_OPT_CURSOR),
      "POOL [--status S]... [--limit N] [--cursor C]",
      "Print POOL's items, oldest first, one JSON object a line.",
      "\n"
      "  --status S         only items whose status is S: pending, scheduled (delayed,\n"
      "                     or waiting out a backoff), claimed, done or poisoned\n"
      "                     (repeat: any of them; default: every item)\n"
      "  --limit N          print at most N items; if more remain, print\n"
      "                     \"next cursor: C\" on stderr (still exit 0)\n"
      "  --cursor C         start after the items that ended with \"next cursor: C\"\n"
      "Each line is the item as get prints it. Without --limit every matching item\n"
      "is printed (read 1000 at a time).\n"
      "Dead letters, the items that failed max_retries times: --status poisoned.\n" },
    { "retry", s_retry, { "POOL", "ID" }, 1,
      S_BIT (S_OPT_ALL),
      "POOL ID | POOL --all",
      "Return item ID (--all: every poisoned item) to pending.",
      "\n"
      "  --all              every poisoned item of POOL, in one transaction; prints\n"
      "                     how many\n"
      "The item's attempts go back to 0, its result is cleared and its last error\n"
      "kept; it is claimed again in its push order. Prints nothing for one ID.\n"
      "Unknown ID: NOT_FOUND; pending or claimed: FAILED_PRECONDITION.\n" },
    { "cancel", s_cancel, { "POOL", "ID" }, 2, 0,
      "POOL ID",
      "Remove pending, scheduled or poisoned item ID from POOL.",
      "\nPrints nothing; the id may be pushed again afterwards. Unknown ID: NOT_FOUND;\n"
      "claimed: FAILED_PRECONDITION (a worker may be halfway: fail or release it\n"
      "first); done: FAILED_PRECONDITION (purge removes finished items).\n" },
    { "purge", s_purge, { "POOL" }, 1,
      S_BIT (S_OPT_STATUS),
      "POOL --status S [--status S]...",
      "Remove POOL's items in the statuses given; prints how many.",
      "\n"
      "  --status S         pending, scheduled, done or poisoned (required; repeat for\n"
      "                     several).\n"
      "                     claimed is refused (INVALID_ARGUMENT): a worker may be\n"
      "                     halfway\n"
      "A pool that holds nothing purges 0.\n" },
    { "pause", s_pause, { "POOL" }, 1, 0,
      "POOL",
      "Stop claims on POOL until resume; pushes still queue.",
      "\nPrints nothing. Durable (a broker restart keeps it) and idempotent. Claims\n"
      "find nothing (a waiting claim keeps waiting); size, get and items still work;\n"
      "stats and pools show the pool with \"paused\": true.\n" },
    { "resume", s_resume, { "POOL" }, 1, 0,
      "POOL",
      "Let claims on a paused POOL find items again.",
      "\nPrints nothing. Idempotent.\n" },
    { "pool", s_pool_set, { "set", "POOL" }, 2,
      S_BIT (S_OPT_BACKOFF),
      "set POOL --backoff BASE,CAP[,JITTER] | set POOL --backoff none",
      "Set POOL's retry policy: failed items wait out a backoff before a retry.",
      "\n"
      "  --backoff BASE,CAP[,JITTER]  after its Nth failure an item that is not\n"
      "                     poisoned is scheduled min(CAP, BASE * 2^(N-1)) seconds\n"
      "                     ahead, less up to JITTER (0..1, default 0) of that at\n"
      "                     random; lapsed leases and lost workers count as failures.\n"
      "                     none: retry at once (the default)\n"
      "Prints nothing. Durable; stats and pools show it. A fail --retry-after wins.\n" },
    { "schedule", s_schedule, { "add|list|remove", "NAME", "POOL", "CRON", "DATA" }, 1,
      S_OPTS2 (S_OPT_PRIORITY, S_OPT_MAX_RETRIES),
      "add NAME POOL CRON DATA [--priority N] [--max-retries N] | list | remove NAME",
      "Push DATA to POOL at every tick of CRON (UTC), from the broker.",
      "\n"
      "  add                create or replace schedule NAME; prints it\n"
      "  CRON               five fields, minute hour day-of-month month day-of-week\n"
      "                     (\"*/5 * * * *\"), or six with seconds first; numbers,\n"
      "                     ranges a-b, steps /n, lists, JAN..DEC, SUN..SAT\n"
      "  DATA               each item's data, JSON (- reads it from stdin)\n"
      "  list               every schedule, one JSON object a line\n"
      "  remove NAME        stop it (the items it pushed stay)\n"
      "Each tick's item has the id NAME@TICK, so a tick is pushed once, across broker\n"
      "restarts and crashes too. After downtime that missed ticks, one catch-up item\n"
      "is pushed (for the first tick missed), never a backlog.\n" },
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
      "Set WORKER's status (active, terminating, terminated, lost, any).",
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
    { "pools", s_stats, { NULL }, 0, 0,
      "",
      "Print each pool holding items or paused, one JSON object a line.",
      "\n{pool, pending, claimed, done, poisoned, paused} for each, by name: the pools\n"
      "of stats, one a line, so that a misspelt pool name stands out.\n" },
    { "stats", s_stats, { NULL }, 0, 0,
      "",
      "Print the backend's statistics as a JSON object.",
      "\n{\"pools\": [{pool, pending, claimed, done, poisoned, paused}], \"workers\":\n"
      " {STATUS: count}, \"counters\": {NAME: value}} (counters come from a broker only).\n"
      "Every pool that holds items or is paused is listed, by name.\n" },
    { "ping", s_ping, { NULL }, 0, 0,
      "",
      "Check that the backend answers; prints {backend, server, time}.",
      "\nExit 24 (UNAVAILABLE) when no broker answers within --timeout.\n" },
    { "keygen", s_keygen, { "NAME" }, 1,
      S_OPTS2 (S_OPT_ROLE, S_OPT_WORKER_PREFIX) | S_BIT (S_OPT_SERVER),
      "NAME --role producer|worker|admin [--worker-prefix P] | NAME --server",
      "Write a CURVE key pair: NAME (public) and NAME_secret.",
      "\n"
      "  --role R           what the key may do on a CURVE broker: producer (push and\n"
      "                     read items), worker (and claim, finish and register as\n"
      "                     the worker ids --worker-prefix allows), admin (everything)\n"
      "  --worker-prefix P  a worker key's worker ids start with P (required with\n"
      "                     --role worker, refused with the others)\n"
      "  --server           the broker's own certificate (no role): workpoold\n"
      "                     --curve-secret NAME_secret; clients --server-key NAME\n"
      "Both files are czmq certificates (zcert). NAME goes in the broker's --keys\n"
      "directory; NAME_secret (mode 0600) stays with the client (--cert). Never\n"
      "overwrites: an existing NAME or NAME_secret is ALREADY_EXISTS. Prints\n"
      "{public, secret, public_key, role, worker_prefix}. Needs no broker.\n" },
    { NULL, NULL, { NULL }, 0, 0, NULL, NULL, NULL }
};

//  ---------------------------------------------------------------------
//  Help

static void
s_help_command (const s_command_t *command)
{
    printf ("usage: workpool [GLOBAL OPTIONS] %s %s\n\n%s\n%s",
            command->name, command->synopsis, command->summary, command->help);
    printf ("\nGlobal options (before or after the command): --endpoint E, --timeout SECONDS,\n"
            "--server-key FILE, --cert FILE.\n"
            "Errors: one line on stderr, \"workpool: STATUS: message\"; exit codes in"
            " workpool --help.\n");
}

static void
s_help_main (void)
{
    printf (
"usage: workpool [--endpoint E] [--timeout SECONDS] [--server-key FILE --cert FILE]\n"
"                COMMAND [ARGS] [OPTIONS]\n"
"\n"
"The command line of workpool, a work-queue broker: queue JSON values in pools,\n"
"claim and complete them, inspect and mend them (items, retry, cancel, purge,\n"
"pause, resume), register workers, list them. JSON in, JSON out.\n"
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
"                     E1,E2,...    several brokers on one store: used one at a\n"
"                                  time, moving to the next when it stops answering;\n"
"                     sqlite:PATH  the SQLite store at PATH, opened in this process\n"
"                                  (no broker needed; shared with every process that\n"
"                                  opens the same file);\n"
"                     memory       a memory store that lives as long as this command\n"
"  --timeout SECONDS  how long a call may take (default: $WORKPOOL_TIMEOUT, else\n"
"                     3); a claim's --wait comes on top. With no broker at E,\n"
"                     UNAVAILABLE after that long\n"
"  --server-key FILE  a CURVE broker's public certificate (default:\n"
"                     $WORKPOOL_SERVER_KEY); with --cert, the connection is\n"
"                     encrypted and the broker checks the client's key\n"
"  --cert FILE        this client's secret certificate, NAME_secret of workpool\n"
"                     keygen (default: $WORKPOOL_CERT). A key the broker refuses:\n"
"                     UNAUTHENTICATED (exit 26) at once; a wrong --server-key:\n"
"                     UNAVAILABLE after --timeout\n"
"  --help             this text (COMMAND --help: that command's)\n"
"  --version          the version\n"
"\n"
"Output: one JSON value per command on stdout, compact, on one line (ids, item\n"
"states and counts print bare, as the text a shell wants); items, pools and\n"
"push-many print one a line. Items and workers print as objects with every\n"
"field; times as RFC 3339 UTC strings; unset as null.\n"
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
    if (!(cli->given & S_BIT (S_OPT_TIMEOUT))) {
        const char *timeout = getenv ("WORKPOOL_TIMEOUT");
        cli->timeout = S_DEFAULT_TIMEOUT;
        if (timeout && *timeout && s_parse_seconds (timeout, true, &cli->timeout))
            return s_usage_error (cli, "WORKPOOL_TIMEOUT needs a number of seconds > 0, not '%s'",
                                  timeout);
    }

    const s_command_t *command = cli->command;
    unsigned stray = cli->given & ~(command->options | S_GLOBAL);
    for (int o = 0; o < S_OPT_COUNT; o++)
        if (stray & S_BIT (o))
            return s_usage_error (cli, "%s does not take --%s", command->name,
                                  s_options [o].name);
    int max_args = 0;
    while (max_args < S_ARGS_MAX && command->args [max_args])
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
    bool all = (cli->given & S_BIT (S_OPT_ALL)) != 0;
    if (command->run == s_retry && all == (cli->arg_count == 2))
        return s_usage_error (cli, all ? "retry takes ID or --all, not both"
                                       : "retry needs ID or --all");
    if (command->run == s_keygen) {
        bool server = (cli->given & S_BIT (S_OPT_SERVER)) != 0;
        if (server && (cli->role || cli->worker_prefix))
            return s_usage_error (cli, "keygen --server makes the broker's certificate: it takes"
                                  " no --role or --worker-prefix");
        if (!server && !cli->role)
            return s_usage_error (cli, "keygen needs --role producer, worker or admin"
                                  " (or --server)");
        if (!server && !streq (cli->role, "producer") && !streq (cli->role, "worker")
        &&  !streq (cli->role, "admin"))
            return s_usage_error (cli, "--role needs producer, worker or admin, not '%s'",
                                  cli->role);
        if (cli->role && streq (cli->role, "worker") && (!cli->worker_prefix
                                                         || !*cli->worker_prefix))
            return s_usage_error (cli, "keygen --role worker needs --worker-prefix P (the"
                                  " broker skips a worker key without one)");
        if (cli->worker_prefix && !streq (cli->role, "worker"))
            return s_usage_error (cli, "--worker-prefix is for --role worker only");
        if (!*cli->args [0])
            return s_usage_error (cli, "keygen needs a NAME");
    }
    if (!(cli->given & S_BIT (S_OPT_SERVER_KEY))) {
        const char *env = getenv ("WORKPOOL_SERVER_KEY");
        cli->server_key = env && *env ? env : NULL;
    }
    if (!(cli->given & S_BIT (S_OPT_CERT))) {
        const char *env = getenv ("WORKPOOL_CERT");
        cli->cert = env && *env ? env : NULL;
    }
    if (cli->delay > 0 && (cli->given & S_BIT (S_OPT_AT)))
        return s_usage_error (cli, "give --delay or --at, not both");
    if (command->run == s_schedule) {
        const char *sub = cli->args [0];
        int want = streq (sub, "add") ? 5 : streq (sub, "remove") ? 2
                 : streq (sub, "list") ? 1 : -1;
        if (want < 0)
            return s_usage_error (cli, "schedule needs add, list or remove, not '%s'", sub);
        if (cli->arg_count != want)
            return s_usage_error (cli, want == 5 ? "schedule add needs NAME POOL CRON DATA"
                                  : want == 2 ? "schedule remove needs NAME"
                                  : "schedule list takes no arguments");
        if (!streq (sub, "add") && (cli->given & (S_BIT (S_OPT_PRIORITY)
                                                  | S_BIT (S_OPT_MAX_RETRIES))))
            return s_usage_error (cli, "only schedule add takes --priority and --max-retries");
    }
    if (command->run == s_pool_set) {
        if (!streq (cli->args [0], "set"))
            return s_usage_error (cli, "pool needs set, not '%s'", cli->args [0]);
        if (cli->arg_count != 2)
            return s_usage_error (cli, "pool set needs POOL");
        if (!(cli->given & S_BIT (S_OPT_BACKOFF)))
            return s_usage_error (cli, "pool set needs --backoff BASE,CAP[,JITTER] or"
                                  " --backoff none");
    }
    if (command->run == s_purge && !cli->status_count)
        return s_usage_error (cli, "purge needs --status S (pending, scheduled, done or"
                              " poisoned)");
    if (command->run == s_items || command->run == s_purge) {
        cli->item_states = calloc (cli->status_count + 1, sizeof (wp_item_state));
        if (!cli->item_states)
            abort ();
        for (size_t i = 0; i < cli->status_count; i++) {
            int state = wp_item_state_from_name (cli->statuses [i]);
            if (state < 0)
                return s_usage_error (cli, "--status needs pending, scheduled, claimed, done or"
                                      " poisoned, not '%s'", cli->statuses [i]);
            cli->item_states [i] = (wp_item_state) state;
        }
    }

    //  Convert the JSON inputs now: a mistake in them is the command line's.
    //  Errors name the argument as the synopsis does.
    if (command->run == s_push
    &&  s_read_msgpack (cli, cli->args [1], command->args [1], &cli->data, &cli->data_size))
        return S_EXIT_USAGE;
    if (command->run == s_schedule && streq (cli->args [0], "add")
    &&  s_read_msgpack (cli, cli->args [4], "DATA", &cli->data, &cli->data_size))
        return S_EXIT_USAGE;
    if (command->run == s_complete && cli->arg_count > 2
    &&  s_read_msgpack (cli, cli->args [2], command->args [2], &cli->result, &cli->result_size))
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
    free (cli.item_states);
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
