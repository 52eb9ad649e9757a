/*  wp_broker_impl: the broker's internal parts, shared by the files of
    broker/ and by no one else. A request in flight is a wp_call_t; the
    actor (wp_broker.c) reads calls from its sockets, runs them against the
    store (wp_broker_exec.c) in one transaction per turn, parks blocking
    claims (wp_broker_parked.c) and keeps counters (wp_broker_stats.c).  */
#ifndef WP_BROKER_IMPL_H_INCLUDED
#define WP_BROKER_IMPL_H_INCLUDED

#include "wp_broker.h"
#include "wp_proto.h"
#include "wp_store.h"
#include <sys/types.h>

#define WP_ROUTING_ID_MAX   256     //  bytes of a ZeroMQ routing id, and one spare

//  One request from a client, from receipt to reply.
typedef struct {
    uint8_t identity [WP_ROUTING_ID_MAX];   //  the ROUTER's routing id of the client
    size_t identity_size;
    int peer_fd;                //  connection the request came on; -1: unknown (inproc)
    ino_t peer_ino;             //  that socket's inode, so a reused fd is told apart
    uint64_t turn;              //  loop turn that read it
    int64_t received;           //  when the broker read it (microseconds)
    int64_t wait_end;           //  parked: when the wait ends with "no item"
    wp_request_t request;       //  decoded request (owned)
    wp_reply_t reply;           //  the answer being built (owned)
    bool final;                 //  reply decided before or without running (decode
                                //  error, deadline, failure after a partial change)
    bool parked;                //  waiting in the parked queues for an item
    bool served;                //  parked, and given items in the open transaction
    bool gone;                  //  parked, and its client has disconnected
    size_t batch_index;         //  its place in the batch that read it
    void *queue_handle;         //  handle in its pool's queue (wp_broker_parked.c)
    void *end_handle;           //  handle in the queue by wait end
} wp_call_t;

//  Returns a fresh call with its request and reply initialized. Caller owns it.
wp_call_t *wp_call_new (void);
//  Frees the call and nulls *self_p; safe on NULL.
void wp_call_destroy (wp_call_t **self_p);
//  Replaces the call's reply with an error (message copied; NULL: none).
void wp_call_set_error (wp_call_t *self, wp_status status, const char *message);
//  Empties the call's reply so the call can run again.
void wp_call_reset_reply (wp_call_t *self);

//  ---------------------------------------------------------------------
//  Counters (wp_broker_stats.c)

typedef struct {
    uint64_t requests [WP_METHOD_COUNT][WP_STATUS_COUNT];  //  replies by method, status
    uint64_t batches;               //  transactions that ran requests
    uint64_t batched_requests;      //  requests run in them
    uint64_t batch_max_seen;        //  largest batch
    uint64_t commits;               //  transactions committed
    uint64_t commit_failures;       //  transactions whose commit failed
    uint64_t reruns;                //  batches rolled back and run again without
                                    //  a request that failed half-way
    uint64_t replies_dropped;       //  replies to vanished or full clients
    uint64_t malformed_dropped;     //  messages that could not be answered
    uint64_t parked_total;          //  claims that waited
    uint64_t parked_served;         //  waiting claims given items
    uint64_t parked_abandoned;      //  waiting claims whose client went away
    uint64_t implicit_heartbeats;   //  heartbeats taken from workers' requests
    uint64_t reaps;                 //  housekeeping transactions
    uint64_t leases_expired;
    uint64_t workers_lost;
    uint64_t requeued;
    uint64_t poisoned;
    uint64_t purged;
} wp_counters_t;

//  Appends the counters, and parked (claims waiting now), to stats->counters
//  as named values ("requests.WorkPool.Push.OK", "commits", ...).
void wp_counters_export (const wp_counters_t *self, size_t parked, wp_stats_t *stats);

//  ---------------------------------------------------------------------
//  Parked claims (wp_broker_parked.c): a FIFO per pool (the longest waiting
//  first) and one queue ordered by wait end, for the timer.

typedef struct _wp_parked_t wp_parked_t;

//  Caller owns return value.
wp_parked_t *wp_parked_new (void);
//  Destroys the queues and every call still in them; nulls *self_p.
void wp_parked_destroy (wp_parked_t **self_p);
//  Parks call (its request's pool, its wait_end), taking ownership.
void wp_parked_add (wp_parked_t *self, wp_call_t *call);
//  Takes call out of the queues; the caller owns it again.
void wp_parked_remove (wp_parked_t *self, wp_call_t *call);
//  How many calls are parked.
size_t wp_parked_size (wp_parked_t *self);
//  The earliest wait end, or 0 if nothing is parked.
int64_t wp_parked_next_end (wp_parked_t *self);
//  The parked call with the earliest wait end if that is <= now, else NULL.
//  The call stays parked.
wp_call_t *wp_parked_ended (wp_parked_t *self, int64_t now);
//  Any parked call (for shutdown), or NULL. The call stays parked.
wp_call_t *wp_parked_any (wp_parked_t *self);
//  Iterates pool's parked calls, the longest waiting first: first, then
//  next until NULL. wp_parked_remove of the current call is allowed while
//  iterating; pool must not point into a call that may be removed.
wp_call_t *wp_parked_first (wp_parked_t *self, const char *pool);
wp_call_t *wp_parked_next (wp_parked_t *self, const char *pool);
//  The names of the pools with parked calls. Caller owns return value
//  (a zlistx of strings it owns).
zlistx_t *wp_parked_pools (wp_parked_t *self);

//  ---------------------------------------------------------------------
//  Running a request against the store (wp_broker_exec.c)

typedef enum {
    WP_EXEC_DONE,               //  the reply is set (success or failure)
    WP_EXEC_PARK,               //  nothing to claim: the call waits
    WP_EXEC_PARTIAL             //  failed after changing the store: the reply
                                //  is the failure; the transaction must be
                                //  rolled back and run again without it
} wp_exec_result;

//  What a call runs against.
typedef struct {
    wp_store_t *store;
    const wp_broker_config_t *config;
    const wp_counters_t *counters;  //  for Broker.Stats
    wp_parked_t *parked;            //  for Broker.Stats
    zhashx_t *woken;                //  out: pools that may have gained pending items
} wp_exec_env_t;

//  Runs call->request inside the open transaction and fills call->reply.
wp_exec_result wp_call_execute (wp_call_t *call, wp_exec_env_t *env);

//  Tries to claim for a parked call. Returns 1 if it got items (reply set),
//  0 if nothing is pending (reply unchanged), -1 if the store failed
//  (reply is the error).
int wp_call_claim_parked (wp_call_t *call, wp_exec_env_t *env);

//  Sets the reply of a claim that ends without an item: OK, item nil / items [].
void wp_call_set_no_item (wp_call_t *call);

#endif
