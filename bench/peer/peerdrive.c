/*  workpool-peerdrive: runs the standard workpool workload against a peer job
    queue, beanstalkd or Redis, so their figures and ours come from the same
    workload on the same machine in the same run (bench/run-compare).

    The standard workload:
      push   P producer connections push N jobs in total, one request at a
             time (send, wait for the reply), each with a B-byte body; with
             --pipeline D, D requests at a time (written together, then D
             replies read: redis-benchmark -P's way, the peers' best);
      drain  then W worker connections claim and complete jobs, one request
             at a time, until the queue is empty.
    The peers' natural claim/complete pairs:
      beanstalkd  put / reserve-with-timeout 0 + delete
      Redis       LPUSH q / LMOVE q p RIGHT LEFT + LREM p 1 body (the
                  reliable-queue pattern: a claimed job stays in list p
                  until it is completed, as a workpool claim does)
    Prints one JSON line: push_per_s, drain_per_s (jobs per second), and the
    percentiles of the push round trip and of the drain cycle (claim +
    complete) in microseconds; with --server-pid, the server's CPU time
    (user + system, from /proc) per job pushed and per job drained, as the
    broker's is reported, so that costs compare across servers.

    Use: workpool-peerdrive --peer beanstalkd|redis --port N [--producers P]
         [--workers W] [--jobs N] [--payload B] [--pipeline D] [--server-pid PID]
         [--label NAME]  */
#include "bench_util.h"
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define s_MAX_CONNECTIONS 256

//  One connection to the peer, with a read buffer for its line replies
typedef struct {
    int fd;
    char in [16384];            //  bytes read, not yet consumed
    size_t in_size;             //  bytes held in in
    size_t in_pos;              //  next byte to consume
    char *out;                  //  request being built
    size_t out_cap;
} s_conn_t;

//  What the run shares
static struct {
    bool redis;                 //  else beanstalkd
    int port;
    int producers, workers;
    long jobs;
    int payload;
    int pipeline;               //  push requests written before replies are read
    long next_job;              //  next job to push (atomic)
    long drained;               //  jobs completed (atomic)
} s_run;

static s_conn_t *
s_conn_new (void)
{
    s_conn_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    self->fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) s_run.port) };
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    if (self->fd < 0 || connect (self->fd, (struct sockaddr *) &addr, sizeof addr))
        wp_bench_die ("connect to port %d: %s", s_run.port, strerror (errno));
    int one = 1;
    setsockopt (self->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    self->out_cap = (size_t) s_run.payload + 256;
    self->out = malloc (self->out_cap);
    if (!self->out)
        abort ();
    return self;
}

static void
s_conn_destroy (s_conn_t **self_p)
{
    if (*self_p) {
        close ((*self_p)->fd);
        free ((*self_p)->out);
        free (*self_p);
        *self_p = NULL;
    }
}

static void
s_conn_write (s_conn_t *self, const char *data, size_t size)
{
    while (size > 0) {
        ssize_t sent = send (self->fd, data, size, MSG_NOSIGNAL);
        if (sent < 0 && errno == EINTR)
            continue;
        if (sent <= 0)
            wp_bench_die ("send: %s", strerror (errno));
        data += sent;
        size -= (size_t) sent;
    }
}

//  Makes at least one unread byte available
static void
s_conn_fill (s_conn_t *self)
{
    if (self->in_pos < self->in_size)
        return;
    ssize_t got;
    do
        got = recv (self->fd, self->in, sizeof self->in, 0);
    while (got < 0 && errno == EINTR);
    if (got <= 0)
        wp_bench_die ("the peer closed the connection");
    self->in_size = (size_t) got;
    self->in_pos = 0;
}

//  Reads one CRLF-terminated line into line (truncated to cap - 1, NUL-ended)
static void
s_conn_line (s_conn_t *self, char *line, size_t cap)
{
    size_t len = 0;
    for (;;) {
        s_conn_fill (self);
        char *start = self->in + self->in_pos;
        size_t avail = self->in_size - self->in_pos;
        char *newline = memchr (start, '\n', avail);
        size_t take = newline? (size_t) (newline - start) + 1: avail;
        size_t copy = take < cap - 1 - len? take: cap - 1 - len;
        memcpy (line + len, start, copy);
        len += copy;
        self->in_pos += take;
        if (newline)
            break;
    }
    while (len > 0 && (line [len - 1] == '\n' || line [len - 1] == '\r'))
        len--;
    line [len] = 0;
}

//  Reads exactly size bytes into data (NULL: discards them)
static void
s_conn_read (s_conn_t *self, char *data, size_t size)
{
    while (size > 0) {
        s_conn_fill (self);
        size_t avail = self->in_size - self->in_pos;
        size_t take = avail < size? avail: size;
        if (data) {
            memcpy (data, self->in + self->in_pos, take);
            data += take;
        }
        self->in_pos += take;
        size -= take;
    }
}

//  The body of job number job: its number, then filler up to the payload size
static void
s_job_body (char *body, long job)
{
    int tag = snprintf (body, (size_t) s_run.payload + 1, "job-%ld-", job);
    if (tag < s_run.payload)
        memset (body + tag, 'x', (size_t) (s_run.payload - tag));
    body [s_run.payload] = 0;
}

//  Writes the push requests of jobs first .. first + count - 1 in one
//  send, then reads their count replies
static void
s_push (s_conn_t *conn, long first, int count)
{
    size_t request = (size_t) s_run.payload + 64;
    if (conn->out_cap < request * (size_t) count) {
        conn->out_cap = request * (size_t) count;
        conn->out = realloc (conn->out, conn->out_cap);
        if (!conn->out)
            abort ();
    }
    char *body = malloc ((size_t) s_run.payload + 1);
    if (!body)
        abort ();
    size_t size = 0;
    for (int i = 0; i < count; i++) {
        s_job_body (body, first + i);
        size += (size_t) (s_run.redis
            ? snprintf (conn->out + size, conn->out_cap - size,
                        "*3\r\n$5\r\nLPUSH\r\n$1\r\nq\r\n$%d\r\n%s\r\n", s_run.payload, body)
            : snprintf (conn->out + size, conn->out_cap - size, "put 0 0 600 %d\r\n%s\r\n",
                        s_run.payload, body));
    }
    free (body);
    s_conn_write (conn, conn->out, size);
    for (int i = 0; i < count; i++) {
        char line [256];
        s_conn_line (conn, line, sizeof line);
        if (s_run.redis? line [0] != ':': strncmp (line, "INSERTED ", 9) != 0)
            wp_bench_die ("push refused: %s", line);
    }
}

//  Claims one job: its body into body (Redis) or its id into *id
//  (beanstalkd). Returns false when the queue is empty.
static bool
s_claim (s_conn_t *conn, char *body, unsigned long *id)
{
    char line [256];
    if (s_run.redis) {
        static const char lmove [] =
            "*5\r\n$5\r\nLMOVE\r\n$1\r\nq\r\n$1\r\np\r\n$5\r\nRIGHT\r\n$4\r\nLEFT\r\n";
        s_conn_write (conn, lmove, sizeof lmove - 1);
        s_conn_line (conn, line, sizeof line);
        if (line [0] != '$')
            wp_bench_die ("LMOVE: %s", line);
        long size = atol (line + 1);
        if (size < 0)
            return false;
        if (size != s_run.payload)
            wp_bench_die ("LMOVE returned %ld bytes, expected %d", size, s_run.payload);
        s_conn_read (conn, body, (size_t) size);
        body [size] = 0;
        s_conn_read (conn, NULL, 2);
    }
    else {
        static const char reserve [] = "reserve-with-timeout 0\r\n";
        s_conn_write (conn, reserve, sizeof reserve - 1);
        s_conn_line (conn, line, sizeof line);
        long size;
        if (strcmp (line, "TIMED_OUT") == 0)
            return false;
        if (sscanf (line, "RESERVED %lu %ld", id, &size) != 2 || size < 0)
            wp_bench_die ("reserve: %s", line);
        s_conn_read (conn, NULL, (size_t) size + 2);
    }
    return true;
}

static void
s_complete (s_conn_t *conn, const char *body, unsigned long id)
{
    char line [256];
    int size = s_run.redis
        ? snprintf (conn->out, conn->out_cap, "*4\r\n$4\r\nLREM\r\n$1\r\np\r\n$1\r\n1\r\n$%d\r\n%s\r\n",
                    s_run.payload, body)
        : snprintf (conn->out, conn->out_cap, "delete %lu\r\n", id);
    s_conn_write (conn, conn->out, (size_t) size);
    s_conn_line (conn, line, sizeof line);
    if (s_run.redis? strcmp (line, ":1") != 0: strcmp (line, "DELETED") != 0)
        wp_bench_die ("complete refused: %s", line);
}

//  A thread's connection and its round-trip samples
typedef struct {
    pthread_t thread;
    wp_bench_samples_t samples;
} s_thread_t;

static void *
s_producer (void *arg)
{
    s_thread_t *self = arg;
    s_conn_t *conn = s_conn_new ();
    long job;
    while ((job = __atomic_fetch_add (&s_run.next_job, s_run.pipeline, __ATOMIC_RELAXED))
           < s_run.jobs) {
        int count = s_run.jobs - job < s_run.pipeline ? (int) (s_run.jobs - job) : s_run.pipeline;
        double start = wp_bench_now ();
        s_push (conn, job, count);
        //  One sample per round trip: with a pipeline, of the whole window
        wp_bench_samples_add (&self->samples, (wp_bench_now () - start) * 1e6);
    }
    s_conn_destroy (&conn);
    return NULL;
}

static void *
s_worker (void *arg)
{
    s_thread_t *self = arg;
    s_conn_t *conn = s_conn_new ();
    char *body = malloc ((size_t) s_run.payload + 1);
    unsigned long id = 0;
    for (;;) {
        double start = wp_bench_now ();
        if (!s_claim (conn, body, &id))
            break;
        s_complete (conn, body, id);
        wp_bench_samples_add (&self->samples, (wp_bench_now () - start) * 1e6);
        __atomic_fetch_add (&s_run.drained, 1, __ATOMIC_RELAXED);
    }
    free (body);
    s_conn_destroy (&conn);
    return NULL;
}

//  Runs count threads of body and returns the seconds they took; their
//  samples are merged into all
static double
s_phase (void *(*body) (void *), int count, wp_bench_samples_t *all)
{
    s_thread_t *threads = calloc ((size_t) count, sizeof *threads);
    if (!threads)
        abort ();
    double start = wp_bench_now ();
    for (int i = 0; i < count; i++) {
        wp_bench_samples_init (&threads [i].samples, (size_t) s_run.jobs);
        if (pthread_create (&threads [i].thread, NULL, body, &threads [i]))
            wp_bench_die ("cannot start a thread");
    }
    for (int i = 0; i < count; i++)
        pthread_join (threads [i].thread, NULL);
    double elapsed = wp_bench_now () - start;
    for (int i = 0; i < count; i++) {
        wp_bench_samples_merge (all, &threads [i].samples);
        wp_bench_samples_free (&threads [i].samples);
    }
    free (threads);
    return elapsed;
}

static void
s_usage (void)
{
    fprintf (stderr,
        "usage: workpool-peerdrive --peer beanstalkd|redis --port N [--producers P]\n"
        "       [--workers W] [--jobs N] [--payload B] [--pipeline D] [--server-pid PID]\n"
        "       [--label NAME]\n");
    exit (2);
}

int
main (int argc, char **argv)
{
    static const struct option options [] = {
        { "peer", required_argument, NULL, 'e' },
        { "port", required_argument, NULL, 'o' },
        { "producers", required_argument, NULL, 'p' },
        { "workers", required_argument, NULL, 'w' },
        { "jobs", required_argument, NULL, 'n' },
        { "payload", required_argument, NULL, 'b' },
        { "label", required_argument, NULL, 'l' },
        { "pipeline", required_argument, NULL, 'd' },
        { "server-pid", required_argument, NULL, 's' },
        { NULL, 0, NULL, 0 }
    };
    const char *peer = NULL, *label = NULL;
    pid_t server = 0;
    s_run.producers = s_run.workers = 4;
    s_run.jobs = 100000;
    s_run.payload = 64;
    s_run.pipeline = 1;
    int option;
    while ((option = getopt_long (argc, argv, "", options, NULL)) != -1) {
        switch (option) {
            case 'e': peer = optarg; break;
            case 'o': s_run.port = atoi (optarg); break;
            case 'p': s_run.producers = atoi (optarg); break;
            case 'w': s_run.workers = atoi (optarg); break;
            case 'n': s_run.jobs = atol (optarg); break;
            case 'b': s_run.payload = atoi (optarg); break;
            case 'l': label = optarg; break;
            case 'd': s_run.pipeline = atoi (optarg); break;
            case 's': server = (pid_t) atoi (optarg); break;
            default: s_usage ();
        }
    }
    if (!peer || (strcmp (peer, "redis") && strcmp (peer, "beanstalkd")) || optind != argc
    ||  s_run.port <= 0 || s_run.port > 65535
    ||  s_run.producers < 1 || s_run.producers > s_MAX_CONNECTIONS
    ||  s_run.workers < 1 || s_run.workers > s_MAX_CONNECTIONS
    ||  s_run.jobs < 1 || s_run.payload < 16 || s_run.payload > 65536
    ||  s_run.pipeline < 1 || s_run.pipeline > 4096)
        s_usage ();
    s_run.redis = strcmp (peer, "redis") == 0;

    wp_bench_samples_t push, cycle;
    wp_bench_samples_init (&push, (size_t) s_run.jobs);
    wp_bench_samples_init (&cycle, (size_t) s_run.jobs);
    double cpu_start = server ? wp_bench_cpu_seconds (server) : 0;
    double push_time = s_phase (s_producer, s_run.producers, &push);
    double cpu_pushed = server ? wp_bench_cpu_seconds (server) : 0;
    double drain_time = s_phase (s_worker, s_run.workers, &cycle);
    double cpu_drained = server ? wp_bench_cpu_seconds (server) : 0;
    if (s_run.drained != s_run.jobs)
        wp_bench_die ("drained %ld of %ld jobs (was the queue empty at the start?)",
                      s_run.drained, s_run.jobs);
    printf ("{\"peer\":\"%s\",\"producers\":%d,\"workers\":%d,\"jobs\":%ld,\"payload\":%d,"
            "\"pipeline\":%d,"
            "\"push_per_s\":%.0f,\"drain_per_s\":%.0f,\"push_p50_us\":%.1f,\"push_p99_us\":%.1f,"
            "\"cycle_p50_us\":%.1f,\"cycle_p99_us\":%.1f",
            label? label: peer, s_run.producers, s_run.workers, s_run.jobs, s_run.payload,
            s_run.pipeline,
            (double) s_run.jobs / push_time, (double) s_run.jobs / drain_time,
            wp_bench_samples_quantile (&push, 0.50), wp_bench_samples_quantile (&push, 0.99),
            wp_bench_samples_quantile (&cycle, 0.50), wp_bench_samples_quantile (&cycle, 0.99));
    if (server && cpu_start >= 0 && cpu_drained >= 0)
        printf (",\"server_cpu_us_per_push\":%.2f,\"server_cpu_us_per_drained\":%.2f",
                (cpu_pushed - cpu_start) * 1e6 / (double) s_run.jobs,
                (cpu_drained - cpu_pushed) * 1e6 / (double) s_run.jobs);
    printf ("}\n");
    wp_bench_samples_free (&push);
    wp_bench_samples_free (&cycle);
    return 0;
}
