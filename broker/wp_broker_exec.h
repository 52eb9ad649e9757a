/*  wp_broker_exec: runs one decoded request against the store, inside the
    transaction the actor has open, and builds its reply. Internal to
    broker/.  */
#ifndef WP_BROKER_EXEC_H_INCLUDED
#define WP_BROKER_EXEC_H_INCLUDED

#include "wp_broker.h"
#include "wp_broker_quota.h"
#include "wp_broker_parked.h"
#include "wp_broker_stats.h"
#include "wp_broker_stream.h"
#include "wp_call.h"
#include "wp_store.h"

typedef enum {
    WP_EXEC_DONE,               //  the reply is set (success or failure)
    WP_EXEC_PARK                //  nothing to claim: the call waits
} wp_exec_result;

//  What a call runs against.
typedef struct _wp_exec_env_t {
    wp_store_t *store;
    const wp_broker_config_t *config;
    const wp_counters_t *counters;  //  for Broker.Stats
    wp_parked_t *parked;            //  for Broker.Stats
    zhashx_t *woken;                //  out: pools that may have gained pending items
    wp_quota_t *quota;              //  limits on what pushes may hold
    wp_streams_t *streams;          //  the subscriptions
} wp_exec_env_t;

//  Runs call->request inside the open transaction and fills call->reply.
wp_exec_result wp_call_execute (wp_call_t *call, wp_exec_env_t *env);

//  Tries to claim for a parked call. Returns 1 if it got items (reply set),
//  0 if nothing is pending (reply unchanged), -1 if the store failed
//  (reply is the error; a subscription's reply is unchanged). A
//  subscription adds what it gets to its reply; *again (may be NULL):
//  it stopped short for its message's size, more may be claimable.
int wp_call_claim_parked (wp_call_t *call, wp_exec_env_t *env, bool *again);

#endif
