/*  workpool-curve-bench: what CURVE costs the broker per request. Starts
    workpoold (memory store, so the store's cost does not hide the
    transport's) plaintext and then with CURVE, and drives it from one
    DEALER: sync (one request at a time) and batch (a window of 256 in
    flight). Reports, per mode, the median of three runs of the rate and of
    the broker's CPU per request (every thread of the daemon: CURVE's
    encryption runs in libzmq's I/O thread).

    usage: workpool-curve-bench WORKPOOLD [SYNC_REQUESTS [BATCH_REQUESTS]]  */
#include "bench_util.h"
#include "wp_proto.h"
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>

#define S_RUNS      3
#define S_WINDOW    256

typedef struct {
    double rate;                //  requests a second
    double cpu_us;              //  broker CPU per request, microseconds
} s_result_t;

static uint8_t s_data [] = { 0x2a };

//  One Push request's frames, encoded once.
static zmsg_t *
s_request (uint8_t *header, size_t header_size, uint8_t *body, size_t body_size)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addmem (msg, header, header_size);
    zmsg_addmem (msg, body, body_size);
    return msg;
}

static s_result_t
s_drive (const char *endpoint, pid_t broker, zcert_t *client_cert, const char *server_key,
         int requests, int window)
{
    zsock_t *socket = zsock_new (ZMQ_DEALER);
    zsock_set_rcvtimeo (socket, 10000);
    if (client_cert) {
        zcert_apply (client_cert, socket);
        zsock_set_curve_serverkey (socket, server_key);
    }
    if (zsock_connect (socket, "%s", endpoint))
        wp_bench_die ("cannot connect to %s", endpoint);
    wp_request_t req;
    wp_request_init (&req);
    req.method = WP_METHOD_PUSH;
    req.request_id = 1;
    req.pool = "bench";
    wp_push_entry_t entry = { s_data, sizeof s_data, NULL, -1 };
    req.entries = &entry;
    req.entry_count = 1;
    uint8_t *header, *body;
    size_t header_size, body_size;
    if (wp_request_encode (&req, &header, &header_size, &body, &body_size))
        wp_bench_die ("cannot encode a push");
    //  A first round trip: the handshake is not part of the figure
    zmsg_t *msg = s_request (header, header_size, body, body_size);
    zmsg_send (&msg, socket);
    msg = zmsg_recv (socket);
    if (!msg)
        wp_bench_die ("no reply from the broker");
    zmsg_destroy (&msg);

    double cpu_start = wp_bench_cpu_seconds (broker);
    double start = wp_bench_now ();
    int sent = 0, received = 0;
    while (received < requests) {
        while (sent < requests && sent - received < window) {
            msg = s_request (header, header_size, body, body_size);
            zmsg_send (&msg, socket);
            sent++;
        }
        msg = zmsg_recv (socket);
        if (!msg)
            wp_bench_die ("a reply did not come");
        zmsg_destroy (&msg);
        received++;
    }
    double elapsed = wp_bench_now () - start;
    double cpu = wp_bench_cpu_seconds (broker) - cpu_start;
    free (header);
    free (body);
    zsock_destroy (&socket);
    return (s_result_t) { requests / elapsed, cpu * 1e6 / requests };
}

static int
s_compare (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static double
s_median (double *values)
{
    qsort (values, S_RUNS, sizeof *values, s_compare);
    return values [S_RUNS / 2];
}

int
main (int argc, char *argv [])
{
    if (argc < 2)
        wp_bench_die ("usage: workpool-curve-bench WORKPOOLD [SYNC_REQUESTS [BATCH_REQUESTS]]");
    int sync_requests = argc > 2 ? atoi (argv [2]) : 5000;
    int batch_requests = argc > 3 ? atoi (argv [3]) : 100000;
    zsys_init ();
    char *dir = wp_bench_tempdir ();
    char keys [512], secret [512], path [600];
    snprintf (keys, sizeof keys, "%s/keys", dir);
    if (mkdir (keys, 0700))
        wp_bench_die ("cannot make %s", keys);
    zcert_t *server = zcert_new ();
    snprintf (path, sizeof path, "%s/broker", dir);
    zcert_save (server, path);
    snprintf (secret, sizeof secret, "%s/broker_secret", dir);
    zcert_t *client = zcert_new ();
    zcert_set_meta (client, "role", "producer");
    snprintf (path, sizeof path, "%s/client", keys);
    zcert_save_public (client, path);

    //  Both brokers run at once and the runs alternate between them, so
    //  that the load of a shared machine falls on both alike
    pid_t brokers [2];
    char endpoints [2][64];
    for (int curve = 0; curve < 2; curve++) {
        char bind [64], log [600];
        int port = wp_bench_free_port ();
        snprintf (bind, sizeof bind, "tcp://127.0.0.1:%d", port);
        snprintf (endpoints [curve], sizeof endpoints [curve], "tcp://127.0.0.1:%d", port);
        snprintf (log, sizeof log, "%s/workpoold-%d.log", dir, curve);
        char *plain_argv [] = { argv [1], "--bind", bind, "--store", "memory",
                                "--log-level", "error", NULL };
        char *curve_argv [] = { argv [1], "--bind", bind, "--store", "memory",
                                "--log-level", "error", "--curve-secret", secret,
                                "--keys", keys, NULL };
        brokers [curve] = wp_bench_spawn (curve ? curve_argv : plain_argv, log);
    }
    zclock_sleep (500);
    double cpu [2][2], rate [2][2];
    printf ("%-8s %-6s %12s %18s\n", "mode", "curve", "requests/s", "broker CPU us/req");
    for (int mode = 0; mode < 2; mode++) {
        double rates [2][S_RUNS], cpus [2][S_RUNS];
        for (int run = 0; run < S_RUNS; run++)
            for (int curve = 0; curve < 2; curve++) {
                s_result_t result = s_drive (endpoints [curve], brokers [curve],
                                             curve ? client : NULL, zcert_public_txt (server),
                                             mode ? batch_requests : sync_requests,
                                             mode ? S_WINDOW : 1);
                rates [curve][run] = result.rate;
                cpus [curve][run] = result.cpu_us;
            }
        for (int curve = 0; curve < 2; curve++) {
            rate [curve][mode] = s_median (rates [curve]);
            cpu [curve][mode] = s_median (cpus [curve]);
            printf ("%-8s %-6s %12.0f %18.2f\n", mode ? "batch" : "sync", curve ? "yes" : "no",
                    rate [curve][mode], cpu [curve][mode]);
        }
    }
    for (int curve = 0; curve < 2; curve++)
        wp_bench_stop (brokers [curve]);
    for (int mode = 0; mode < 2; mode++)
        printf ("# %s: CURVE adds %.2f us of broker CPU per request (%+.0f%%), rate %+.0f%%\n",
                mode ? "batch" : "sync", cpu [1][mode] - cpu [0][mode],
                100 * (cpu [1][mode] / cpu [0][mode] - 1),
                100 * (rate [1][mode] / rate [0][mode] - 1));
    zcert_destroy (&server);
    zcert_destroy (&client);
    wp_bench_rmtree (dir);
    free (dir);
    return 0;
}
