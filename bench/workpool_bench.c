/*  workpool-bench: the standard workload against a workpool broker, through
    libworkpool, as a user's producers and workers would run it.

    workpool-bench [--endpoint E | --spawn] --producers P --workers W
                   --jobs N --payload BYTES [--mode sync|batch|fused|stream]
                   [--batch K] [--sync normal|full] [--store sqlite|image|memory]
                   [--transport tcp|ipc] [--io-threads N] [--window D] [--label NAME]
                   [--echo | --latency | --scale]

    The workload (the same as bench/peer/peerdrive.c runs against beanstalkd
    and Redis):
      push   P producer connections push N jobs in total;
      drain  then W worker connections claim and complete until the pool is
             empty (a claim that finds nothing ends a worker).
    Modes say how each side talks to the broker:
      sync   one Push per job; drain: Claim, then Complete (2 round trips);
      batch  PushMany of K jobs; drain: ClaimMany of up to K, then one
             CompleteMany of them (wp_pool_complete_many): 2 round trips per
             K items; with --pipeline the K items are completed instead by K
             Completes sent back to back on a raw DEALER of the bench's own,
             their replies collected after (the same 2 round trips, K
             requests for the broker instead of one);
      fused  one Push per job; drain: CompleteAndClaim, one round trip per
             item (a Claim starts each worker);
      stream one Push per job; drain: each worker subscribes (--credit C,
             default 64) and completes each streamed item without waiting
             for the reply (wp_subscription_t): no round trip per item;
             --ack-batch K gathers the completes into CompleteMany requests
             of up to K (sent when K are gathered or the worker would wait).
    --window D makes each producer keep D push requests in flight on its
    connection (wp_pipeline; Push, or PushMany of K in batch mode) instead
    of one at a time.
    The percentiles: push_* is one push request's round trip (a PushMany in
    batch mode; with --window, from being queued to its completion); cycle_* is the time to claim and complete one item (sync,
    fused), or one whole batch, ClaimMany and its completes (batch).
    With --spawn, broker_cpu_us_per_request is the CPU time (user + system,
    all its threads) the broker used per request it ran, push and drain
    together; --echo reports the echo server's as server_cpu_us_per_request.
    On a machine where the clients share the cores, that is what the rate
    comes down to.

    --spawn starts workpoold (a separate process, the honest measurement) on
    a fresh database in a temporary folder, on a loopback TCP port or an
    ipc:// socket (--transport), and stops it at the end. --endpoint uses a
    running broker, with a pool name of its own so runs do not mix.

    Other measurements:
      --echo     the transport's ceiling: W DEALER connections send N
                 requests to workpool-echo, each the bytes of a Push of the
                 payload, one at a time per connection; requests/s and the
                 round trip. --idle-us N pauses N microseconds before each
                 request, so both ends sleep between requests as they do in
                 --latency (the fair baseline for it: waking idle threads
                 costs more than passing work to busy ones).
      --latency  one worker parked in a waiting claim, one producer pushing
                 one item at a time (after the worker has parked again); the
                 push-to-delivery time, from CLOCK_MONOTONIC stamps carried
                 in the payload, over N items.
      --scale    the drain rate (of the chosen mode, W workers) with 10^4,
                 10^5 and 10^6 items pending (preloaded with PushMany of
                 1000), N items drained at each level (at most half of it),
                 and the spawned broker's resident set (VmRSS at each level,
                 peak VmHWM at the end).
    Everything printed before the last line is progress; the last line is one
    JSON object with the figures and the settings.  */
#include "bench_util.h"
#include "workpool.h"
#include "wp_proto.h"
#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef WP_BENCH_WORKPOOLD
#   define WP_BENCH_WORKPOOLD "workpoold"
#endif
#ifndef WP_BENCH_ECHO
#   define WP_BENCH_ECHO "workpool-echo"
#endif

#define s_MAX_CONNECTIONS 256

typedef enum { s_MODE_SYNC, s_MODE_BATCH, s_MODE_FUSED, s_MODE_STREAM } s_mode_t;
static const char *s_mode_names [] = { "sync", "batch", "fused", "stream" };

//  The run's settings, from the command line
static struct {
    const char *endpoint;       //  broker (or echo server) to use
    bool spawn;                 //  start our own
    int producers, workers;
    long jobs;
    int payload;                //  bytes of each item's data (a msgpack bin)
    s_mode_t mode;
    int batch;                  //  K of batch mode
    bool pipeline;              //  batch drain: completes pipelined on a raw DEALER
    int window;                 //  producers: requests in flight (wp_pipeline); 0: one at a time
    int credit;                 //  stream mode: each worker's subscription credit
    int ack_batch;              //  stream mode: completes sent as CompleteMany of up
                                //  to this many (wp_subscription_set_batch); 0: each alone
    int idle_us;                //  echo: pause between a connection's requests
    bool sync_full;
    const char *store;          //  "sqlite", "image" or "memory"
    const char *transport;      //  "tcp" or "ipc" (--spawn)
    int io_threads;             //  ZeroMQ I/O threads on both sides; 0: default
    const char *label;
    const char *broker_path;
    const char *echo_path;
    enum { s_RUN_WORKLOAD, s_RUN_ECHO, s_RUN_LATENCY, s_RUN_SCALE } run;
} s_opt;

//  What the run has set up
static struct {
    char *dir;                  //  temporary folder of a spawned server
    pid_t server;               //  spawned broker or echo server; 0: none
    char *endpoint;             //  where the clients connect
    char pool [64];             //  pool the run uses
} s_env;

//  ---------------------------------------------------------------------
//  Payloads: a msgpack bin of exactly s_opt.payload bytes in all, whose
//  first 8 data bytes carry a CLOCK_MONOTONIC stamp and the next 8 the job
//  number; the rest is filler.

static size_t
s_payload_header (void)
{
    return s_opt.payload - 2 <= 0xff? 2: 3;
}

static void
s_payload_fill (uint8_t *data, int64_t stamp, int64_t job)
{
    size_t header = s_payload_header ();
    size_t body = (size_t) s_opt.payload - header;
    if (header == 2) {
        data [0] = 0xc4;                //  bin 8
        data [1] = (uint8_t) body;
    }
    else {
        data [0] = 0xc5;                //  bin 16
        data [1] = (uint8_t) (body >> 8);
        data [2] = (uint8_t) body;
    }
    memset (data + header, 'x', body);
    memcpy (data + header, &stamp, sizeof stamp);
    memcpy (data + header + 8, &job, sizeof job);
}

static int64_t
s_payload_stamp (const uint8_t *data, size_t size)
{
    int64_t stamp = 0;
    if (size >= s_payload_header () + sizeof stamp)
        memcpy (&stamp, data + s_payload_header (), sizeof stamp);
    return stamp;
}

//  ---------------------------------------------------------------------
//  Servers

static bool
s_server_alive (void)
{
    int status;
    return s_env.server > 0 && waitpid (s_env.server, &status, WNOHANG) == 0;
}

static void
s_server_log_dump (void)
{
    char path [4096];
    snprintf (path, sizeof path, "%s/server.log", s_env.dir);
    FILE *log = fopen (path, "r");
    if (log) {
        char line [1024];
        while (fgets (line, sizeof line, log))
            fprintf (stderr, "  | %s", line);
        fclose (log);
    }
}

static void
s_server_start (const char *path, bool broker)
{
    s_env.dir = wp_bench_tempdir ();
    char endpoint [4200], db [4200], log [4200];
    if (strcmp (s_opt.transport, "ipc") == 0)
        snprintf (endpoint, sizeof endpoint, "ipc://%s/server.sock", s_env.dir);
    else
        snprintf (endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", wp_bench_free_port ());
    snprintf (db, sizeof db, "%s/workpool.db", s_env.dir);
    snprintf (log, sizeof log, "%s/server.log", s_env.dir);
    s_env.endpoint = strdup (endpoint);
    if (s_opt.io_threads > 0) {
        char threads [16];
        snprintf (threads, sizeof threads, "%d", s_opt.io_threads);
        setenv ("ZSYS_IO_THREADS", threads, 1);
    }
    if (broker) {
        char *argv [] = { (char *) path, "--bind", endpoint,
                          "--store", (char *) s_opt.store, "--db", db,
                          "--sync", s_opt.sync_full? "full": "normal",
                          "--log-level", "error", NULL };
        s_env.server = wp_bench_spawn (argv, log);
    }
    else {
        char threads [16];
        snprintf (threads, sizeof threads, "%d", s_opt.io_threads > 0? s_opt.io_threads: 1);
        char *argv [] = { (char *) path, endpoint, "--io-threads", threads, NULL };
        s_env.server = wp_bench_spawn (argv, log);
    }
    //  Binding takes a moment; a client that connects before it retries
    //  on its own, but a server that failed must be reported, not waited on
    usleep (50000);
    if (!s_server_alive ()) {
        s_server_log_dump ();
        wp_bench_die ("%s exited at start", path);
    }
}

static void
s_server_stop (void)
{
    if (s_env.server > 0) {
        int status = wp_bench_stop (s_env.server);
        if (status != 0) {
            fprintf (stderr, "workpool-bench: the server exited with status %d\n", status);
            s_server_log_dump ();
        }
        s_env.server = 0;
    }
    wp_bench_rmtree (s_env.dir);
    free (s_env.dir);
    s_env.dir = NULL;
}

//  Opens a connection to the broker and waits until it answers a ping
static wp_backend_t *
s_connect (void)
{
    wp_backend_options_t options = { .timeout = 60 };
    wp_status status;
    char *message = NULL;
    wp_backend_t *backend = wp_backend_open (s_env.endpoint, &options, &status, &message);
    if (!backend)
        wp_bench_die ("cannot open %s: %s: %s", s_env.endpoint, wp_strerror (status),
                      message? message: "");
    double deadline = wp_bench_now () + 30;
    wp_backend_set_timeout (backend, 1);
    while ((status = wp_backend_ping (backend, NULL, NULL)) != WP_OK) {
        if (wp_bench_now () > deadline || (s_env.server && !s_server_alive ())) {
            s_server_log_dump ();
            wp_bench_die ("no broker answers at %s: %s: %s", s_env.endpoint,
                          wp_strerror (status), wp_backend_errmsg (backend));
        }
    }
    wp_backend_set_timeout (backend, 0);
    return backend;
}

static void
s_check (wp_status status, wp_backend_t *backend, const char *what)
{
    if (status != WP_OK)
        wp_bench_die ("%s: %s: %s", what, wp_strerror (status), wp_backend_errmsg (backend));
}

//  The broker's group-commit counters, to show how many requests each
//  commit carried (the broker counts from its start: take differences)
typedef struct {
    uint64_t batches;           //  turns of the loop that ran requests
    uint64_t batched_requests;  //  requests those turns ran
    uint64_t commits;
    uint64_t batch_max_seen;
} s_counters_t;

static s_counters_t
s_counters (wp_backend_t *backend)
{
    s_counters_t counters = { 0 };
    wp_stats_t *stats = NULL;
    s_check (wp_backend_stats (backend, &stats), backend, "stats");
    for (size_t i = 0; i < stats->counter_count; i++) {
        const wp_counter_t *counter = &stats->counters [i];
        if (streq (counter->name, "batches"))
            counters.batches = counter->value;
        else
        if (streq (counter->name, "batched_requests"))
            counters.batched_requests = counter->value;
        else
        if (streq (counter->name, "commits"))
            counters.commits = counter->value;
        else
        if (streq (counter->name, "batch_max_seen"))
            counters.batch_max_seen = counter->value;
    }
    wp_stats_destroy (&stats);
    return counters;
}

//  Prints the group commit figures between two readings, as JSON members
static void
s_print_commits (s_counters_t before, s_counters_t after)
{
    uint64_t batches = after.batches - before.batches;
    uint64_t requests = after.batched_requests - before.batched_requests;
    printf (",\"broker_commits\":%" PRIu64 ",\"broker_requests_per_batch\":%.2f,"
            "\"broker_batch_max\":%" PRIu64,
            after.commits - before.commits,
            batches? (double) requests / (double) batches: 0.0, after.batch_max_seen);
}

//  ---------------------------------------------------------------------
//  The standard workload

//  One connection's thread
typedef struct {
    pthread_t thread;
    int index;
    wp_backend_t *backend;
    wp_pool_t *pool;
    char worker_id [32];
    long done;                  //  items drained by this worker
    long drain_max;             //  stop after this many (scale mode); 0: until empty
    wp_bench_samples_t samples; //  round trips of the phase
    void *dealer;               //  raw socket of --pipeline, or NULL
} s_conn_t;

static long s_next_job;         //  next job to push (atomic)
static long s_push_jobs;        //  jobs to push in this phase

static s_conn_t *
s_conns_open (int count, const char *role)
{
    s_conn_t *conns = calloc ((size_t) count, sizeof *conns);
    if (!conns)
        abort ();
    for (int i = 0; i < count; i++) {
        conns [i].index = i;
        conns [i].backend = s_connect ();
        conns [i].pool = wp_backend_pool (conns [i].backend, s_env.pool);
        snprintf (conns [i].worker_id, sizeof conns [i].worker_id, "bench-%s-%d", role, i);
        wp_bench_samples_init (&conns [i].samples, (size_t) s_opt.jobs + 1);
    }
    return conns;
}

static void
s_conns_close (s_conn_t *conns, int count)
{
    for (int i = 0; i < count; i++) {
        wp_pool_destroy (&conns [i].pool);
        wp_backend_destroy (&conns [i].backend);
        if (conns [i].dealer)
            zmq_close (conns [i].dealer);
        wp_bench_samples_free (&conns [i].samples);
    }
    free (conns);
}

//  A producer with --window: its requests go through a wp_pipeline, window
//  of them in flight; push_* is then each request's time from being queued
//  to its completion (so it includes the wait behind the others in flight).
static void
s_produce_pipelined (s_conn_t *self, uint8_t *data, wp_push_entry_t *entries, int batch)
{
    wp_pipeline_t *pipeline = wp_pipeline_new (self->backend, (size_t) s_opt.window);
    size_t capacity = (size_t) (s_push_jobs / batch + 2);
    double *started = malloc (capacity * sizeof *started);
    if (!pipeline || !started)
        abort ();
    size_t sent = 0;
    for (;;) {
        long first = __atomic_fetch_add (&s_next_job, batch, __ATOMIC_RELAXED);
        if (first >= s_push_jobs)
            break;
        long count = s_push_jobs - first < batch? s_push_jobs - first: batch;
        for (long i = 0; i < count; i++) {
            entries [i] = (wp_push_entry_t) { .data = data + i * s_opt.payload,
                                              .data_size = (size_t) s_opt.payload,
                                              .max_retries = -1 };
            s_payload_fill (data + i * s_opt.payload, wp_bench_now_ns (), first + i);
        }
        started [sent] = wp_bench_now ();
        void *tag = (void *) (uintptr_t) sent++;
        //  The pipeline copies each entry before this returns
        if (s_opt.mode == s_MODE_BATCH)
            wp_pipeline_push_many (pipeline, s_env.pool, entries, (size_t) count, tag);
        else
            wp_pipeline_push (pipeline, s_env.pool, entries, tag);
        //  Collect what has come without waiting, so samples are timely
        while (wp_pipeline_in_flight (pipeline) == (size_t) s_opt.window) {
            wp_completion_t *done = wp_pipeline_next (pipeline);
            if (!done)
                break;
            if (done->status != WP_OK)
                wp_bench_die ("pipelined push: %s: %s", wp_strerror (done->status), done->message);
            wp_bench_samples_add (&self->samples,
                                  (wp_bench_now () - started [(uintptr_t) done->tag]) * 1e6);
            wp_completion_destroy (&done);
        }
    }
    wp_completion_t *done;
    while ((done = wp_pipeline_next (pipeline))) {
        if (done->status != WP_OK)
            wp_bench_die ("pipelined push: %s: %s", wp_strerror (done->status), done->message);
        wp_bench_samples_add (&self->samples,
                              (wp_bench_now () - started [(uintptr_t) done->tag]) * 1e6);
        wp_completion_destroy (&done);
    }
    free (started);
    wp_pipeline_destroy (&pipeline);
}

static void *
s_producer (void *arg)
{
    s_conn_t *self = arg;
    uint8_t *data = malloc ((size_t) s_opt.payload * WP_BATCH_MAX);
    wp_push_entry_t *entries = calloc (WP_BATCH_MAX, sizeof *entries);
    char **ids = calloc (WP_BATCH_MAX, sizeof *ids);
    if (!data || !entries || !ids)
        abort ();
    int batch = s_opt.mode == s_MODE_BATCH? s_opt.batch: 1;
    if (s_opt.window > 0) {
        s_produce_pipelined (self, data, entries, batch);
        free (data);
        free (entries);
        free (ids);
        return NULL;
    }
    for (;;) {
        long first = __atomic_fetch_add (&s_next_job, batch, __ATOMIC_RELAXED);
        if (first >= s_push_jobs)
            break;
        long count = s_push_jobs - first < batch? s_push_jobs - first: batch;
        for (long i = 0; i < count; i++) {
            entries [i].data = data + i * s_opt.payload;
            entries [i].data_size = (size_t) s_opt.payload;
            entries [i].id = NULL;
            entries [i].max_retries = -1;
            s_payload_fill (data + i * s_opt.payload, wp_bench_now_ns (), first + i);
        }
        double start = wp_bench_now ();
        if (s_opt.mode == s_MODE_BATCH) {
            s_check (wp_pool_push_many (self->pool, entries, (size_t) count, ids, NULL),
                     self->backend, "push_many");
            for (long i = 0; i < count; i++)
                free (ids [i]);
        }
        else {
            s_check (wp_pool_push (self->pool, data, (size_t) s_opt.payload, ids),
                     self->backend, "push");
            free (ids [0]);
        }
        wp_bench_samples_add (&self->samples, (wp_bench_now () - start) * 1e6);
    }
    free (data);
    free (entries);
    free (ids);
    return NULL;
}

static bool
s_drain_more (s_conn_t *self)
{
    return self->drain_max == 0 || self->done < self->drain_max;
}

//  Completes every item of a batch with one CompleteMany; each must succeed.
static void
s_complete_many (s_conn_t *self, wp_item_list_t *items)
{
    wp_complete_entry_t entries [WP_BATCH_MAX];
    wp_status statuses [WP_BATCH_MAX];
    for (size_t i = 0; i < items->count; i++)
        entries [i] = (wp_complete_entry_t) { items->items [i]->id, NULL, 0 };
    s_check (wp_pool_complete_many (self->pool, entries, items->count, self->worker_id, statuses),
             self->backend, "complete_many");
    for (size_t i = 0; i < items->count; i++)
        if (statuses [i] != WP_OK)
            wp_bench_die ("complete_many: item %s: %s", items->items [i]->id,
                          wp_strerror (statuses [i]));
}

//  Completes every item of a batch with Complete requests sent back to
//  back on a raw DEALER, then collects the replies (the protocol matches
//  them by request id). The library has no asynchronous complete; this
//  compares K pipelined Completes with one CompleteMany.
static void *s_pipeline_context;        //  of the raw DEALERs of --pipeline
static pthread_mutex_t s_pipeline_lock = PTHREAD_MUTEX_INITIALIZER;

static void
s_complete_pipelined (s_conn_t *self, wp_item_list_t *items)
{
    if (!self->dealer) {
        pthread_mutex_lock (&s_pipeline_lock);
        if (!s_pipeline_context)
            s_pipeline_context = zmq_ctx_new ();
        pthread_mutex_unlock (&s_pipeline_lock);
        self->dealer = zmq_socket (s_pipeline_context, ZMQ_DEALER);
        int linger = 0;
        zmq_setsockopt (self->dealer, ZMQ_LINGER, &linger, sizeof linger);
        if (zmq_connect (self->dealer, s_env.endpoint))
            wp_bench_die ("connect %s: %s", s_env.endpoint, zmq_strerror (errno));
    }
    for (size_t i = 0; i < items->count; i++) {
        wp_request_t request;
        wp_request_init (&request);
        request.request_id = i + 1;
        request.method = WP_METHOD_COMPLETE;
        request.pool = s_env.pool;
        request.id = items->items [i]->id;
        request.worker_id = self->worker_id;
        uint8_t *header, *body;
        size_t header_size, body_size;
        if (wp_request_encode (&request, &header, &header_size, &body, &body_size))
            wp_bench_die ("cannot encode a complete request");
        if (zmq_send (self->dealer, header, header_size, ZMQ_SNDMORE) < 0
        ||  zmq_send (self->dealer, body, body_size, 0) < 0)
            wp_bench_die ("send: %s", zmq_strerror (errno));
        free (header);
        free (body);
    }
    for (size_t i = 0; i < items->count; i++) {
        zmq_msg_t header, body;
        zmq_msg_init (&header);
        zmq_msg_init (&body);
        if (zmq_msg_recv (&header, self->dealer, 0) < 0 || !zmq_msg_more (&header)
        ||  zmq_msg_recv (&body, self->dealer, 0) < 0)
            wp_bench_die ("a complete's reply is not two frames");
        wp_reply_t reply;
        wp_reply_init (&reply);
        char errbuf [256];
        if (wp_reply_decode_header (&reply, zmq_msg_data (&header), zmq_msg_size (&header),
                                    errbuf, sizeof errbuf) != WP_OK)
            wp_bench_die ("a complete's reply is malformed: %s", errbuf);
        if (reply.status != WP_OK)
            wp_bench_die ("complete: %s: %s", wp_strerror ((int) reply.status),
                          reply.message? reply.message: "");
        wp_reply_clear (&reply);
        zmq_msg_close (&header);
        zmq_msg_close (&body);
    }
}

//  Stream mode: the worker's items come on a subscription (credit items
//  unacknowledged at most), each completed without waiting for the reply.
//  The pool being empty says nothing to a subscription, so workers stop
//  when all of them together have drained what the phase asked for.
static long s_stream_done;              //  items every stream worker completed (atomic)
static long s_stream_goal;              //  the phase's total

static void
s_stream_worker (s_conn_t *self)
{
    wp_status rc = WP_OK;
    char *message = NULL;
    wp_subscription_t *sub = wp_subscription_new (self->pool, self->worker_id,
                                                  (uint32_t) s_opt.credit, 0, &rc, &message);
    if (!sub)
        wp_bench_die ("subscribe: %s: %s", wp_strerror (rc), message? message: "");
    if (s_opt.ack_batch > 1
    &&  wp_subscription_set_batch (sub, (size_t) s_opt.ack_batch) != WP_OK)
        wp_bench_die ("set_batch: %s", wp_subscription_errmsg (sub));
    double start = wp_bench_now ();
    while (__atomic_load_n (&s_stream_done, __ATOMIC_RELAXED) < s_stream_goal
       &&  s_drain_more (self)) {
        wp_item_t *item = NULL;
        rc = wp_subscription_next (sub, 0.05, &item);
        if (rc != WP_OK)
            wp_bench_die ("subscription: %s: %s", wp_strerror (rc), wp_subscription_errmsg (sub));
        if (!item)
            continue;
        s_check (wp_subscription_complete (sub, item->id, NULL, 0), self->backend, "complete");
        wp_item_destroy (&item);
        self->done++;
        __atomic_add_fetch (&s_stream_done, 1, __ATOMIC_RELAXED);
        double now = wp_bench_now ();
        wp_bench_samples_add (&self->samples, (now - start) * 1e6);
        start = now;
    }
    wp_subscription_flush (sub);
    wp_subscription_stats_t stats;
    wp_subscription_stats (sub, &stats);
    char *id = NULL;
    wp_status failed;
    if (wp_subscription_failure (sub, &id, &failed, &message))
        wp_bench_die ("complete %s: %s: %s", id, wp_strerror (failed), message);
    //  Items the stream brought past the goal stay claimed: give them back
    //  (a scale level drains a sample of what is pending)
    wp_subscription_destroy (&sub);
    if (stats.delivered > stats.acked)
        s_check (wp_pool_release_by_worker (self->pool, self->worker_id, NULL),
                 self->backend, "release_by_worker");
}

static void *
s_worker (void *arg)
{
    s_conn_t *self = arg;
    wp_item_t *item = NULL;
    if (s_opt.mode == s_MODE_STREAM)
        s_stream_worker (self);
    else
    if (s_opt.mode == s_MODE_FUSED) {
        double start = wp_bench_now ();
        s_check (wp_pool_claim (self->pool, self->worker_id, NULL, &item), self->backend, "claim");
        while (item) {
            char *id = item->id;
            item->id = NULL;
            wp_item_destroy (&item);
            self->done++;
            //  The last one is completed alone: fused claims would run past
            //  a scale sample's end
            if (!s_drain_more (self)) {
                s_check (wp_pool_complete (self->pool, id, NULL, 0, self->worker_id),
                         self->backend, "complete");
                free (id);
                break;
            }
            s_check (wp_pool_complete_and_claim (self->pool, id, NULL, 0, self->worker_id,
                                                 NULL, &item),
                     self->backend, "complete_and_claim");
            free (id);
            double now = wp_bench_now ();
            wp_bench_samples_add (&self->samples, (now - start) * 1e6);
            start = now;
        }
    }
    else
    if (s_opt.mode == s_MODE_BATCH) {
        while (s_drain_more (self)) {
            long max = s_opt.batch;
            if (self->drain_max && self->drain_max - self->done < max)
                max = self->drain_max - self->done;
            wp_item_list_t *items = NULL;
            double start = wp_bench_now ();
            s_check (wp_pool_claim_many (self->pool, self->worker_id, (size_t) max, NULL, &items),
                     self->backend, "claim_many");
            size_t count = items->count;
            if (s_opt.pipeline)
                s_complete_pipelined (self, items);
            else
            if (count > 0)
                s_complete_many (self, items);
            wp_item_list_destroy (&items);
            if (count == 0)
                break;
            self->done += (long) count;
            wp_bench_samples_add (&self->samples, (wp_bench_now () - start) * 1e6);
        }
    }
    else {
        while (s_drain_more (self)) {
            double start = wp_bench_now ();
            s_check (wp_pool_claim (self->pool, self->worker_id, NULL, &item),
                     self->backend, "claim");
            if (!item)
                break;
            s_check (wp_pool_complete (self->pool, item->id, NULL, 0, self->worker_id),
                     self->backend, "complete");
            wp_item_destroy (&item);
            self->done++;
            wp_bench_samples_add (&self->samples, (wp_bench_now () - start) * 1e6);
        }
    }
    return NULL;
}

//  Runs body on each connection's thread; returns the seconds the slowest
//  took, with every round trip merged into all (if not NULL)
static double
s_phase (s_conn_t *conns, int count, void *(*body) (void *), wp_bench_samples_t *all)
{
    double start = wp_bench_now ();
    for (int i = 0; i < count; i++)
        if (pthread_create (&conns [i].thread, NULL, body, &conns [i]))
            wp_bench_die ("cannot start a thread");
    for (int i = 0; i < count; i++)
        pthread_join (conns [i].thread, NULL);
    double elapsed = wp_bench_now () - start;
    if (all)
        for (int i = 0; i < count; i++)
            wp_bench_samples_merge (all, &conns [i].samples);
    for (int i = 0; i < count; i++)
        conns [i].samples.count = 0;
    return elapsed;
}

//  Pushes jobs more items with the producers, in the run's mode
static double
s_push_phase (s_conn_t *producers, long jobs, wp_bench_samples_t *samples)
{
    s_next_job = 0;
    s_push_jobs = jobs;
    return s_phase (producers, s_opt.producers, s_producer, samples);
}

//  Microseconds of CPU per request from two wp_bench_cpu_seconds readings
//  over count requests; -1 if either reading failed or nothing ran.
static double
s_cpu_us_per_request (double before, double after, double count)
{
    return before >= 0 && after >= 0 && count > 0? (after - before) * 1e6 / count: -1;
}

static void
s_print_settings (void)
{
    printf ("\"store\":\"%s\",\"sync\":\"%s\",\"transport\":\"%s\",\"io_threads\":%d,"
            "\"producers\":%d,\"workers\":%d,\"jobs\":%ld,\"payload\":%d",
            s_opt.store, s_opt.sync_full? "full": "normal", s_opt.transport,
            s_opt.io_threads, s_opt.producers, s_opt.workers, s_opt.jobs, s_opt.payload);
}

static void
s_run_workload (void)
{
    s_conn_t *producers = s_conns_open (s_opt.producers, "p");
    s_conn_t *workers = s_conns_open (s_opt.workers, "w");

    wp_bench_samples_t push, cycle;
    wp_bench_samples_init (&push, (size_t) s_opt.jobs);
    wp_bench_samples_init (&cycle, (size_t) s_opt.jobs);
    s_counters_t before = s_counters (workers [0].backend);
    double cpu_before = s_env.server? wp_bench_cpu_seconds (s_env.server): -1;
    double push_time = s_push_phase (producers, s_opt.jobs, &push);
    double cpu_pushed = s_env.server? wp_bench_cpu_seconds (s_env.server): -1;
    s_counters_t pushed = s_counters (workers [0].backend);
    s_stream_done = 0;
    s_stream_goal = s_opt.jobs;
    double drain_time = s_phase (workers, s_opt.workers, s_worker, &cycle);
    long drained = 0;
    for (int i = 0; i < s_opt.workers; i++)
        drained += workers [i].done;
    if (drained != s_opt.jobs)
        wp_bench_die ("drained %ld of %ld jobs", drained, s_opt.jobs);

    uint64_t left = 0;
    s_check (wp_pool_size (workers [0].pool, &left), workers [0].backend, "size");
    if (left != 0)
        wp_bench_die ("%lu items still pending after the drain", (unsigned long) left);
    long peak_rss = s_env.server? wp_bench_peak_rss_kb (s_env.server): -1;
    double cpu_after = s_env.server? wp_bench_cpu_seconds (s_env.server): -1;
    s_counters_t after = s_counters (workers [0].backend);
    //  The broker's CPU (both its threads, user and system) per request it
    //  ran: on 2 cores shared with the clients, what sets the rate
    double cpu_us = s_cpu_us_per_request (cpu_before, cpu_after,
                                          (double) (after.batched_requests - before.batched_requests));

    printf ("{\"bench\":\"workpool\",\"label\":\"%s\",\"mode\":\"%s\",\"batch\":%d,"
            "\"pipelined_completes\":%s,",
            s_opt.label? s_opt.label: s_mode_names [s_opt.mode], s_mode_names [s_opt.mode],
            s_opt.mode == s_MODE_BATCH? s_opt.batch: 1,
            s_opt.pipeline && s_opt.mode == s_MODE_BATCH? "true": "false");
    s_print_settings ();
    printf (",\"push_per_s\":%.0f,\"drain_per_s\":%.0f,\"push_p50_us\":%.1f,\"push_p99_us\":%.1f,"
            "\"cycle_p50_us\":%.1f,\"cycle_p99_us\":%.1f,\"broker_peak_rss_kb\":%ld",
            (double) s_opt.jobs / push_time, (double) s_opt.jobs / drain_time,
            wp_bench_samples_quantile (&push, 0.5), wp_bench_samples_quantile (&push, 0.99),
            wp_bench_samples_quantile (&cycle, 0.5), wp_bench_samples_quantile (&cycle, 0.99),
            peak_rss);
    printf (",\"broker_cpu_us_per_request\":%.1f", cpu_us);
    //  Per item of each phase, whatever the requests carried: the figure
    //  that compares with a peer's CPU per job
    printf (",\"broker_cpu_us_per_push\":%.2f,\"broker_cpu_us_per_drained\":%.2f",
            s_cpu_us_per_request (cpu_before, cpu_pushed, (double) s_opt.jobs),
            s_cpu_us_per_request (cpu_pushed, cpu_after, (double) s_opt.jobs));
    uint64_t push_commits = pushed.commits - before.commits;
    printf (",\"credit\":%d,\"ack_batch\":%d", s_opt.mode == s_MODE_STREAM? s_opt.credit: 0,
            s_opt.mode == s_MODE_STREAM? s_opt.ack_batch: 0);
    printf (",\"push_window\":%d,\"push_requests_per_commit\":%.2f", s_opt.window,
            push_commits? (double) (pushed.batched_requests - before.batched_requests)
                          / (double) push_commits: 0.0);
    s_print_commits (before, after);
    printf ("}\n");
    wp_bench_samples_free (&push);
    wp_bench_samples_free (&cycle);
    s_conns_close (producers, s_opt.producers);
    s_conns_close (workers, s_opt.workers);
    if (s_pipeline_context)
        zmq_ctx_term (s_pipeline_context);
}

//  ---------------------------------------------------------------------
//  Scale: drain rate against the number of items pending

static void
s_run_scale (void)
{
    static const long levels [] = { 10000, 100000, 1000000 };
    const int level_count = (int) (sizeof levels / sizeof levels [0]);
    s_conn_t *producers = s_conns_open (s_opt.producers, "p");
    s_conn_t *workers = s_conns_open (s_opt.workers, "w");
    double rates [3];
    long rss [3];
    long drained_at [3];

    //  Preloading always uses the largest batches: its speed is not measured
    s_mode_t mode = s_opt.mode;
    int batch = s_opt.batch;
    uint64_t pending = 0;
    for (int level = 0; level < level_count; level++) {
        s_opt.mode = s_MODE_BATCH;
        s_opt.batch = WP_BATCH_MAX;
        double fill = s_push_phase (producers, levels [level] - (long) pending, NULL);
        s_opt.mode = mode;
        s_opt.batch = batch;
        s_check (wp_pool_size (workers [0].pool, &pending), workers [0].backend, "size");
        fprintf (stderr, "workpool-bench: %lu pending (filled in %.1f s)\n",
                 (unsigned long) pending, fill);

        long sample = s_opt.jobs < levels [level] / 2? s_opt.jobs: levels [level] / 2;
        long drained = 0;
        for (int i = 0; i < s_opt.workers; i++) {
            workers [i].done = 0;
            workers [i].drain_max = sample / s_opt.workers
                                  + (i < sample % s_opt.workers? 1: 0);
        }
        s_stream_done = 0;
        s_stream_goal = sample;
        double elapsed = s_phase (workers, s_opt.workers, s_worker, NULL);
        for (int i = 0; i < s_opt.workers; i++)
            drained += workers [i].done;
        rates [level] = (double) drained / elapsed;
        drained_at [level] = drained;
        rss [level] = s_env.server? wp_bench_rss_kb (s_env.server): -1;
        s_check (wp_pool_size (workers [0].pool, &pending), workers [0].backend, "size");
        fprintf (stderr, "workpool-bench: drained %ld at %.0f/s, broker RSS %ld KiB\n",
                 drained, rates [level], rss [level]);
    }
    long peak_rss = s_env.server? wp_bench_peak_rss_kb (s_env.server): -1;
    printf ("{\"bench\":\"workpool\",\"label\":\"%s\",\"mode\":\"scale\",\"drain_mode\":\"%s\","
            "\"batch\":%d,",
            s_opt.label? s_opt.label: "scale", s_mode_names [s_opt.mode],
            s_opt.mode == s_MODE_BATCH? s_opt.batch: 1);
    s_print_settings ();
    printf (",\"levels\":[");
    for (int level = 0; level < level_count; level++)
        printf ("%s{\"pending\":%ld,\"drained\":%ld,\"drain_per_s\":%.0f,\"broker_rss_kb\":%ld}",
                level? ",": "", levels [level], drained_at [level], rates [level], rss [level]);
    //  What each item held costs the broker: the resident set's growth from
    //  the first level to the last over the items added (RSS is read after
    //  each level's drain, so the items held are the level less its sample)
    double held_first = (double) (levels [0] - drained_at [0]);
    double held_last = (double) (levels [level_count - 1] - drained_at [level_count - 1]);
    double bytes_per_item = rss [0] > 0 && rss [level_count - 1] > 0
                          ? (double) (rss [level_count - 1] - rss [0]) * 1024
                            / (held_last - held_first): -1;
    printf ("],\"drain_ratio_1e6_vs_1e4\":%.3f,\"broker_peak_rss_kb\":%ld,"
            "\"broker_bytes_per_item_held\":%.0f}\n",
            rates [level_count - 1] / rates [0], peak_rss, bytes_per_item);
    s_conns_close (producers, s_opt.producers);
    s_conns_close (workers, s_opt.workers);
}

//  ---------------------------------------------------------------------
//  Latency: push-to-delivery with a parked worker

//  Counters threads wait on, all under one lock
static pthread_mutex_t s_gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t s_gate_changed = PTHREAD_COND_INITIALIZER;

static void
s_gate_note (long *counter)
{
    pthread_mutex_lock (&s_gate_lock);
    (*counter)++;
    pthread_cond_broadcast (&s_gate_changed);
    pthread_mutex_unlock (&s_gate_lock);
}

static void
s_gate_await (long *counter, long value)
{
    pthread_mutex_lock (&s_gate_lock);
    while (*counter < value)
        pthread_cond_wait (&s_gate_changed, &s_gate_lock);
    pthread_mutex_unlock (&s_gate_lock);
}

static struct {
    long parked;                //  claims the worker has sent (its parks)
    long received;              //  items the worker has received
    wp_bench_samples_t samples; //  push-to-delivery times
} s_latency;

static void *
s_latency_worker (void *arg)
{
    s_conn_t *self = arg;
    wp_claim_options_t wait = { .wait = 30 };
    wp_item_t *item = NULL;
    char *id = NULL;
    for (long n = 0; n < s_opt.jobs; n++) {
        s_gate_note (&s_latency.parked);
        wp_status status = id
            ? wp_pool_complete_and_claim (self->pool, id, NULL, 0, self->worker_id, &wait, &item)
            : wp_pool_claim (self->pool, self->worker_id, &wait, &item);
        int64_t now = wp_bench_now_ns ();
        s_check (status, self->backend, "claim with wait");
        if (!item)
            wp_bench_die ("a parked claim got no item within %.0f s", wait.wait);
        wp_bench_samples_add (&s_latency.samples,
                              (double) (now - s_payload_stamp (item->data, item->data_size)) / 1e3);
        free (id);
        id = item->id;
        item->id = NULL;
        wp_item_destroy (&item);
        s_gate_note (&s_latency.received);
    }
    s_check (wp_pool_complete (self->pool, id, NULL, 0, self->worker_id), self->backend,
             "complete");
    free (id);
    return NULL;
}

static void
s_run_latency (void)
{
    s_conn_t *producer = s_conns_open (1, "p");
    s_conn_t *worker = s_conns_open (1, "w");
    wp_bench_samples_init (&s_latency.samples, (size_t) s_opt.jobs);
    if (pthread_create (&worker->thread, NULL, s_latency_worker, worker))
        wp_bench_die ("cannot start a thread");
    uint8_t *data = malloc ((size_t) s_opt.payload);
    if (!data)
        abort ();
    for (long n = 0; n < s_opt.jobs; n++) {
        //  Push only once the worker's claim has had time to park at the
        //  broker (a CompleteAndClaim commits first): what is measured is
        //  the wake-up of a parked claim, not a claim finding an item
        s_gate_await (&s_latency.parked, n + 1);
        usleep (s_opt.sync_full? 5000: 2000);
        char *id = NULL;
        s_payload_fill (data, wp_bench_now_ns (), n);
        s_check (wp_pool_push (producer->pool, data, (size_t) s_opt.payload, &id),
                 producer->backend, "push");
        free (id);
        s_gate_await (&s_latency.received, n + 1);
    }
    pthread_join (worker->thread, NULL);
    free (data);
    s_opt.producers = s_opt.workers = 1;
    printf ("{\"bench\":\"workpool\",\"label\":\"%s\",\"mode\":\"latency\",",
            s_opt.label? s_opt.label: "latency");
    s_print_settings ();
    printf (",\"samples\":%zu,\"delivery_p50_us\":%.1f,\"delivery_p99_us\":%.1f}\n",
            s_latency.samples.count,
            wp_bench_samples_quantile (&s_latency.samples, 0.5),
            wp_bench_samples_quantile (&s_latency.samples, 0.99));
    wp_bench_samples_free (&s_latency.samples);
    s_conns_close (producer, 1);
    s_conns_close (worker, 1);
}

//  ---------------------------------------------------------------------
//  Echo: the transport's ceiling, with raw libzmq DEALER sockets sending
//  the bytes of a real Push request

static struct {
    void *context;
    uint8_t *header, *body;     //  an encoded Push of one payload
    size_t header_size, body_size;
    long next;                  //  next request to send (atomic)
    long ready;                 //  connections that made their first trip
    long started;               //  1 once the clock runs
} s_echo;

static void
s_echo_roundtrip (void *dealer)
{
    if (zmq_send (dealer, s_echo.header, s_echo.header_size, ZMQ_SNDMORE) < 0
    ||  zmq_send (dealer, s_echo.body, s_echo.body_size, 0) < 0)
        wp_bench_die ("echo send: %s", zmq_strerror (errno));
    zmq_msg_t part;
    zmq_msg_init (&part);
    int more;
    do {
        if (zmq_msg_recv (&part, dealer, 0) < 0)
            wp_bench_die ("echo recv: %s", zmq_strerror (errno));
        more = zmq_msg_more (&part);
    } while (more);
    zmq_msg_close (&part);
}

static void *
s_echo_client (void *arg)
{
    s_conn_t *self = arg;
    void *dealer = zmq_socket (s_echo.context, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt (dealer, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect (dealer, s_env.endpoint))
        wp_bench_die ("echo connect %s: %s", s_env.endpoint, zmq_strerror (errno));
    s_echo_roundtrip (dealer);          //  connected: the clock may start
    s_gate_note (&s_echo.ready);
    s_gate_await (&s_echo.started, 1);
    while (__atomic_fetch_add (&s_echo.next, 1, __ATOMIC_RELAXED) < s_opt.jobs) {
        if (s_opt.idle_us)
            usleep ((useconds_t) s_opt.idle_us);
        double start = wp_bench_now ();
        s_echo_roundtrip (dealer);
        wp_bench_samples_add (&self->samples, (wp_bench_now () - start) * 1e6);
    }
    zmq_close (dealer);
    return NULL;
}

static void
s_run_echo (void)
{
    wp_request_t request;
    wp_request_init (&request);
    request.request_id = 1;
    request.method = WP_METHOD_PUSH;
    request.pool = s_env.pool;
    uint8_t *data = malloc ((size_t) s_opt.payload);
    if (!data)
        abort ();
    s_payload_fill (data, 0, 0);
    wp_push_entry_t entry = { data, (size_t) s_opt.payload, NULL, -1 };
    request.entries = &entry;
    request.entry_count = 1;
    if (wp_request_encode (&request, &s_echo.header, &s_echo.header_size,
                           &s_echo.body, &s_echo.body_size))
        wp_bench_die ("cannot encode a push request");
    free (data);

    s_echo.context = zmq_ctx_new ();
    if (s_opt.io_threads > 0)
        zmq_ctx_set (s_echo.context, ZMQ_IO_THREADS, s_opt.io_threads);
    s_conn_t *conns = calloc ((size_t) s_opt.workers, sizeof *conns);
    if (!conns)
        abort ();
    for (int i = 0; i < s_opt.workers; i++)
        wp_bench_samples_init (&conns [i].samples, (size_t) s_opt.jobs);
    for (int i = 0; i < s_opt.workers; i++)
        if (pthread_create (&conns [i].thread, NULL, s_echo_client, &conns [i]))
            wp_bench_die ("cannot start a thread");
    //  Start the clock once every connection has made its first round trip
    s_gate_await (&s_echo.ready, s_opt.workers);
    double cpu_before = s_env.server? wp_bench_cpu_seconds (s_env.server): -1;
    double start = wp_bench_now ();
    s_gate_note (&s_echo.started);
    wp_bench_samples_t all;
    wp_bench_samples_init (&all, (size_t) s_opt.jobs);
    for (int i = 0; i < s_opt.workers; i++)
        pthread_join (conns [i].thread, NULL);
    double elapsed = wp_bench_now () - start;
    double cpu_after = s_env.server? wp_bench_cpu_seconds (s_env.server): -1;
    for (int i = 0; i < s_opt.workers; i++) {
        wp_bench_samples_merge (&all, &conns [i].samples);
        wp_bench_samples_free (&conns [i].samples);
    }
    printf ("{\"bench\":\"echo\",\"label\":\"%s\",\"transport\":\"%s\",\"io_threads\":%d,"
            "\"connections\":%d,\"idle_us\":%d,\"requests\":%ld,\"payload\":%d,\"message_bytes\":%zu,"
            "\"echo_per_s\":%.0f,\"rtt_p50_us\":%.1f,\"rtt_p99_us\":%.1f,"
            "\"server_cpu_us_per_request\":%.1f}\n",
            s_opt.label? s_opt.label: "echo", s_opt.transport, s_opt.io_threads,
            s_opt.workers, s_opt.idle_us, s_opt.jobs, s_opt.payload,
            s_echo.header_size + s_echo.body_size,
            (double) s_opt.jobs / elapsed,
            wp_bench_samples_quantile (&all, 0.5), wp_bench_samples_quantile (&all, 0.99),
            s_cpu_us_per_request (cpu_before, cpu_after, (double) s_opt.jobs));
    wp_bench_samples_free (&all);
    free (conns);
    zmq_ctx_term (s_echo.context);
    free (s_echo.header);
    free (s_echo.body);
}

//  ---------------------------------------------------------------------

static void
s_usage (void)
{
    fprintf (stderr,
        "usage: workpool-bench [--endpoint E | --spawn] [--producers P] [--workers W]\n"
        "         [--jobs N] [--payload BYTES] [--mode sync|batch|fused|stream] [--batch K]\n"
        "         [--credit C] [--ack-batch K]\n"
        "         [--sync normal|full] [--store sqlite|image|memory] [--transport tcp|ipc]\n"
        "         [--io-threads N] [--pipeline] [--window D] [--idle-us N] [--label NAME]\n"
        "         [--broker PATH]\n"
        "         [--echo-server PATH]\n"
        "         [--echo | --latency | --scale]\n"
        "Runs the standard workload (or the echo ceiling, latency or scale measurement)\n"
        "and prints one JSON line last. See the header of bench/workpool_bench.c.\n");
    exit (2);
}

static long
s_number (const char *text, long low, long high, const char *what)
{
    char *end;
    errno = 0;
    long value = strtol (text, &end, 10);
    if (errno || end == text || *end || value < low || value > high)
        wp_bench_die ("--%s must be a number from %ld to %ld", what, low, high);
    return value;
}

int
main (int argc, char **argv)
{
    static const struct option options [] = {
        { "endpoint", required_argument, NULL, 'E' },
        { "spawn", no_argument, NULL, 'S' },
        { "producers", required_argument, NULL, 'p' },
        { "workers", required_argument, NULL, 'w' },
        { "jobs", required_argument, NULL, 'n' },
        { "payload", required_argument, NULL, 'b' },
        { "mode", required_argument, NULL, 'm' },
        { "batch", required_argument, NULL, 'k' },
        { "sync", required_argument, NULL, 'y' },
        { "store", required_argument, NULL, 's' },
        { "transport", required_argument, NULL, 't' },
        { "io-threads", required_argument, NULL, 'i' },
        { "label", required_argument, NULL, 'l' },
        { "broker", required_argument, NULL, 'B' },
        { "echo-server", required_argument, NULL, 'C' },
        { "pipeline", no_argument, NULL, 'P' },
        { "window", required_argument, NULL, 'W' },
        { "credit", required_argument, NULL, 'c' },
        { "ack-batch", required_argument, NULL, 'a' },
        { "idle-us", required_argument, NULL, 'I' },
        { "echo", no_argument, NULL, 'e' },
        { "latency", no_argument, NULL, 'L' },
        { "scale", no_argument, NULL, 'G' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    s_opt.producers = s_opt.workers = 4;
    s_opt.jobs = 100000;
    s_opt.payload = 64;
    s_opt.batch = 100;
    s_opt.credit = 64;
    s_opt.store = "sqlite";
    s_opt.transport = "tcp";
    s_opt.broker_path = getenv ("WORKPOOLD")? getenv ("WORKPOOLD"): WP_BENCH_WORKPOOLD;
    s_opt.echo_path = WP_BENCH_ECHO;
    int option;
    while ((option = getopt_long (argc, argv, "", options, NULL)) != -1) {
        switch (option) {
            case 'E': s_opt.endpoint = optarg; break;
            case 'S': s_opt.spawn = true; break;
            case 'p': s_opt.producers = (int) s_number (optarg, 1, s_MAX_CONNECTIONS, "producers"); break;
            case 'w': s_opt.workers = (int) s_number (optarg, 1, s_MAX_CONNECTIONS, "workers"); break;
            case 'n': s_opt.jobs = s_number (optarg, 1, 100000000, "jobs"); break;
            case 'b': s_opt.payload = (int) s_number (optarg, 20, 65536, "payload"); break;
            case 'k': s_opt.batch = (int) s_number (optarg, 1, WP_BATCH_MAX, "batch"); break;
            case 'i': s_opt.io_threads = (int) s_number (optarg, 1, 64, "io-threads"); break;
            case 'l': s_opt.label = optarg; break;
            case 'B': s_opt.broker_path = optarg; break;
            case 'C': s_opt.echo_path = optarg; break;
            case 'P': s_opt.pipeline = true; break;
            case 'W': s_opt.window = (int) s_number (optarg, 1, 1000, "window"); break;
            case 'c': s_opt.credit = (int) s_number (optarg, 1, WP_CREDIT_MAX, "credit"); break;
            case 'a': s_opt.ack_batch = (int) s_number (optarg, 0, WP_BATCH_MAX, "ack-batch"); break;
            case 'I': s_opt.idle_us = (int) s_number (optarg, 0, 1000000, "idle-us"); break;
            case 'e': s_opt.run = s_RUN_ECHO; break;
            case 'L': s_opt.run = s_RUN_LATENCY; break;
            case 'G': s_opt.run = s_RUN_SCALE; break;
            case 'm':
                if (strcmp (optarg, "sync") == 0)       s_opt.mode = s_MODE_SYNC;
                else if (strcmp (optarg, "batch") == 0) s_opt.mode = s_MODE_BATCH;
                else if (strcmp (optarg, "fused") == 0) s_opt.mode = s_MODE_FUSED;
                else if (strcmp (optarg, "stream") == 0) s_opt.mode = s_MODE_STREAM;
                else wp_bench_die ("--mode is sync, batch, fused or stream");
                break;
            case 'y':
                if (strcmp (optarg, "full") && strcmp (optarg, "normal"))
                    wp_bench_die ("--sync is normal or full");
                s_opt.sync_full = strcmp (optarg, "full") == 0;
                break;
            case 's':
                if (strcmp (optarg, "sqlite") && strcmp (optarg, "image")
                &&  strcmp (optarg, "memory"))
                    wp_bench_die ("--store is sqlite, image or memory");
                s_opt.store = optarg;
                break;
            case 't':
                if (strcmp (optarg, "tcp") && strcmp (optarg, "ipc"))
                    wp_bench_die ("--transport is tcp or ipc");
                s_opt.transport = optarg;
                break;
            default:
                s_usage ();
        }
    }
    if (optind != argc || s_opt.spawn == (s_opt.endpoint != NULL))
        s_usage ();
    //  The client's czmq sockets take their I/O threads from here
    if (s_opt.io_threads > 0)
        zsys_set_io_threads ((size_t) s_opt.io_threads);
    snprintf (s_env.pool, sizeof s_env.pool, "bench-%d-%ld", (int) getpid (),
              (long) (wp_bench_now_ns () % 1000000));
    if (s_opt.spawn)
        s_server_start (s_opt.run == s_RUN_ECHO? s_opt.echo_path: s_opt.broker_path,
                        s_opt.run != s_RUN_ECHO);
    else
        s_env.endpoint = strdup (s_opt.endpoint);

    switch (s_opt.run) {
        case s_RUN_WORKLOAD: s_run_workload (); break;
        case s_RUN_ECHO:     s_run_echo (); break;
        case s_RUN_LATENCY:  s_run_latency (); break;
        case s_RUN_SCALE:    s_run_scale (); break;
    }
    fflush (stdout);
    s_server_stop ();
    free (s_env.endpoint);
    return 0;
}
