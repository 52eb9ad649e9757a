/*  wp_broker: the workpool broker, a czmq actor serving one store over
    ROUTER sockets with the protocol of proto/PROTOCOL.md.

    Tests start it in-process:
        wp_broker_config_t cfg = WP_BROKER_CONFIG_DEFAULT;
        cfg.store = "memory";
        zactor_t *broker = wp_broker_new (&cfg, NULL);
        int port = wp_broker_bind (broker, "tcp://127.0.0.1:*");
        ...
        zactor_destroy (&broker);

    The actor also takes these commands on its pipe (zstr_sendx):
        BIND endpoint   replies one frame: the port (tcp), "0" (ipc), "-1" (failed)
        $TERM           stops: finishes and commits the batch in hand, answers
                        parked claims with "no item", closes the store.
        PORT            replies one frame: the port of the latest tcp bind, or "0".
    and, for tests that need several requests in one batch or a request that
    waits before it runs, these (each replies with a signal, zsock_wait):
        PAUSE           leaves requests unread in the socket until RESUME
        RESUME          reads requests again
        STALL msecs     holds each batch msecs between receipt and running  */
#ifndef WP_BROKER_H_INCLUDED
#define WP_BROKER_H_INCLUDED

#include <czmq.h>
#include "wp_store.h"
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *store;          //  "memory", "sqlite:PATH" or "image:PATH"
    bool sync_full;             //  SQLite synchronous=FULL (power-loss safe)
    double lease;               //  default lease, seconds
    double heartbeat;           //  default heartbeat interval of workers that state none
    double retain_done;         //  done/poisoned items are purged after this many seconds; 0: never
    size_t max_message;         //  largest request processed, bytes
    int batch_max;              //  most requests run in one commit
    int log_level;              //  0 errors, 1 notices (default), 2 debug
} wp_broker_config_t;

#define WP_BROKER_CONFIG_DEFAULT { "sqlite:./workpool.db", false, 300.0, 10.0, \
                                   7 * 86400.0, 1 << 20, 256, 1 }

//  Starts a broker actor on cfg (copied). Returns NULL if the store cannot be
//  opened, with *error (if error; caller frees) saying why.
//  Caller owns return value (destroy with zactor_destroy).
zactor_t *wp_broker_new (const wp_broker_config_t *cfg, char **error);

//  Starts a broker actor on cfg (copied; cfg->store is only a label) that
//  serves *store_p, taking ownership of it and nulling *store_p: for tests
//  that wrap a store (fault injection). Caller owns return value.
zactor_t *wp_broker_new_with_store (const wp_broker_config_t *cfg, wp_store_t **store_p);

//  Binds the broker to endpoint (tcp:// or ipc://; "tcp://127.0.0.1:*" picks a
//  free port). Returns the port (tcp), 0 (ipc), or -1 on failure.
int wp_broker_bind (zactor_t *self, const char *endpoint);

#ifdef __cplusplus
}
#endif
#endif
