/*  workpool-echo: a bare ROUTER echo server, the physical ceiling of the
    ZeroMQ transport on this machine.

    It sends every message it receives straight back (identity frame
    included), doing nothing else: no decoding, no store, no allocation
    beyond libzmq's own. workpool-bench --echo drives it with the same
    message sizes and connection count as the real workload, so the broker's
    figures can be read as a fraction of what the transport alone allows.
    It uses libzmq directly rather than czmq: zmsg_t would add allocations
    the ceiling should not pay.

    Use: workpool-echo ENDPOINT [--io-threads N]
    Runs until SIGTERM or SIGINT; prints "ready ENDPOINT" once bound.  */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static volatile sig_atomic_t s_stop;

static void
s_on_signal (int signum)
{
    s_stop = 1;
}

int
main (int argc, char **argv)
{
    const char *endpoint = NULL;
    int io_threads = 1;
    for (int arg = 1; arg < argc; arg++) {
        if (strcmp (argv [arg], "--io-threads") == 0 && arg + 1 < argc)
            io_threads = atoi (argv [++arg]);
        else
        if (argv [arg][0] != '-' && !endpoint)
            endpoint = argv [arg];
        else {
            fprintf (stderr, "usage: workpool-echo ENDPOINT [--io-threads N]\n");
            return 2;
        }
    }
    if (!endpoint || io_threads < 1) {
        fprintf (stderr, "usage: workpool-echo ENDPOINT [--io-threads N]\n");
        return 2;
    }
    //  Without SA_RESTART, a signal interrupts zmq_msg_recv (EINTR). It must
    //  reach this thread, so libzmq's threads start with the signals blocked
    struct sigaction action = { .sa_handler = s_on_signal };
    sigaction (SIGTERM, &action, NULL);
    sigaction (SIGINT, &action, NULL);
    sigset_t stops, previous;
    sigemptyset (&stops);
    sigaddset (&stops, SIGTERM);
    sigaddset (&stops, SIGINT);
    pthread_sigmask (SIG_BLOCK, &stops, &previous);

    void *context = zmq_ctx_new ();
    zmq_ctx_set (context, ZMQ_IO_THREADS, io_threads);
    void *router = zmq_socket (context, ZMQ_ROUTER);
    pthread_sigmask (SIG_SETMASK, &previous, NULL);
    int linger = 0;
    zmq_setsockopt (router, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind (router, endpoint)) {
        fprintf (stderr, "workpool-echo: cannot bind %s: %s\n", endpoint, zmq_strerror (errno));
        return 1;
    }
    char bound [256];
    size_t bound_size = sizeof bound;
    zmq_getsockopt (router, ZMQ_LAST_ENDPOINT, bound, &bound_size);
    printf ("ready %s\n", bound);
    fflush (stdout);

    zmq_msg_t part;
    zmq_msg_init (&part);
    while (!s_stop) {
        if (zmq_msg_recv (&part, router, 0) < 0) {
            if (errno == EINTR || errno == ETERM)
                continue;
            fprintf (stderr, "workpool-echo: recv: %s\n", zmq_strerror (errno));
            break;
        }
        //  zmq_msg_more must be read before the send hands the part away
        int more = zmq_msg_more (&part);
        if (zmq_msg_send (&part, router, more? ZMQ_SNDMORE: 0) < 0 && errno != EHOSTUNREACH)
            fprintf (stderr, "workpool-echo: send: %s\n", zmq_strerror (errno));
    }
    zmq_msg_close (&part);
    zmq_close (router);
    zmq_ctx_term (context);
    return 0;
}
