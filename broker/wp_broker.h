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
        BIND endpoint   replies one frame: the port (tcp), "0" (ipc), "-1" (failed;
                        also a tcp endpoint beyond loopback without CURVE,
                        unless the config says insecure)
        $TERM           stops: finishes and commits the batch in hand, answers
                        parked claims with "no item", closes the store.
        PORT            replies one frame: the port of the latest tcp bind, or "0".
        RELOAD          reads the key directory again: replies "OK" and what
                        changed, or "ERROR" and why (the keys stay as they were).
                        A removed key's requests are refused from then on, on
                        connections already open too; its waiting claims end
                        with UNAUTHENTICATED.
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
    //  Security (see the Security section of proto/PROTOCOL.md)
    const char *curve_secret;   //  czmq secret certificate file: CURVE on every endpoint; NULL: off
    const char *keys_dir;       //  directory of the accepted clients' public certificates
                                //  (required with curve_secret); reloaded by RELOAD
    bool insecure;              //  may bind tcp beyond loopback without CURVE
    //  Limits a client cannot pass (0: none); reaching one is RESOURCE_EXHAUSTED
    uint64_t max_pending;       //  pending items a push may bring one pool to
    uint64_t max_pools;         //  pools (holding items or paused) a push may bring the store to
    size_t max_inflight;        //  requests of one connection read and not yet answered
                                //  (in the batch, or waiting in a claim)
    uint64_t max_queued_bytes;  //  bytes of replies to one connection held unsent; past it
                                //  the connection's requests are refused until it reads
} wp_broker_config_t;

//  (the numbers are proto/wp_limits.h's, the one table of them)
#define WP_BROKER_MAX_PENDING_DEFAULT       WP_MAX_PENDING_DEFAULT
#define WP_BROKER_MAX_POOLS_DEFAULT         WP_MAX_POOLS_DEFAULT
#define WP_BROKER_MAX_INFLIGHT_DEFAULT      WP_MAX_INFLIGHT_DEFAULT
#define WP_BROKER_MAX_QUEUED_BYTES_DEFAULT  WP_MAX_QUEUED_BYTES_DEFAULT

#define WP_BROKER_CONFIG_DEFAULT { .store = "sqlite:./workpool.db", .sync_full = false, \
    .lease = WP_DEFAULT_LEASE_S, .heartbeat = WP_DEFAULT_HEARTBEAT_S, \
    .retain_done = WP_RETAIN_DONE_DEFAULT, .max_message = WP_DEFAULT_MESSAGE_MAX, \
    .batch_max = WP_COMMIT_BATCH_DEFAULT, .log_level = 1, .curve_secret = NULL, .keys_dir = NULL, \
    .insecure = false, .max_pending = WP_BROKER_MAX_PENDING_DEFAULT, \
    .max_pools = WP_BROKER_MAX_POOLS_DEFAULT, .max_inflight = WP_BROKER_MAX_INFLIGHT_DEFAULT, \
    .max_queued_bytes = WP_BROKER_MAX_QUEUED_BYTES_DEFAULT }

//  Starts a broker actor on cfg (copied). Returns NULL if the store cannot be
//  opened, or the certificate or the key directory read (or one is given
//  without the other), with *error (if error; caller frees) saying why.
//  Caller owns return value (destroy with zactor_destroy).
zactor_t *wp_broker_new (const wp_broker_config_t *cfg, char **error);

//  Starts a broker actor on cfg (copied; cfg->store is only a label) that
//  serves *store_p, taking ownership of it and nulling *store_p: for tests
//  that wrap a store (fault injection). Returns NULL (the store destroyed,
//  the reason logged) where wp_broker_new would. Caller owns return value.
zactor_t *wp_broker_new_with_store (const wp_broker_config_t *cfg, wp_store_t **store_p);

//  Binds the broker to endpoint (tcp:// or ipc://; "tcp://127.0.0.1:*" picks a
//  free port). Returns the port (tcp), 0 (ipc), or -1 on failure.
int wp_broker_bind (zactor_t *self, const char *endpoint);

#ifdef __cplusplus
}
#endif
#endif
