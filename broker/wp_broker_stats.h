/*  wp_broker_stats: the broker's counters, and how Broker.Stats shows them.
    Internal to broker/.  */
#ifndef WP_BROKER_STATS_H_INCLUDED
#define WP_BROKER_STATS_H_INCLUDED

#include "wp_proto.h"

typedef struct {
    uint64_t requests [WP_METHOD_COUNT][WP_STATUS_COUNT];  //  replies by method, status
    uint64_t batches;               //  transactions that ran requests
    uint64_t batched_requests;      //  requests run in them
    uint64_t batch_max_seen;        //  largest batch
    uint64_t commits;               //  transactions committed
    uint64_t commit_failures;       //  transactions whose commit failed
    uint64_t replies_dropped;       //  replies to vanished or full clients
    uint64_t malformed_dropped;     //  messages that could not be answered
    uint64_t parked_total;          //  claims that waited
    uint64_t parked_served;         //  waiting claims given items
    uint64_t parked_abandoned;      //  waiting claims whose client went away
    uint64_t implicit_heartbeats;   //  heartbeats taken from workers' requests
    uint64_t parked_heartbeats;     //  heartbeats given to workers waiting in a claim
    uint64_t reaps;                 //  housekeeping transactions
    uint64_t leases_expired;
    uint64_t workers_lost;
    uint64_t requeued;
    uint64_t poisoned;
    uint64_t backed_off;            //  items a retry policy scheduled instead of requeued
    uint64_t promoted;              //  scheduled items that fell due
    uint64_t schedule_fired;        //  items periodic schedules pushed
    uint64_t purged;
    uint64_t handshakes_accepted;   //  CURVE connections the ZAP handler admitted
    uint64_t handshakes_refused;    //  CURVE connections with a key not in the directory
    uint64_t key_reloads;           //  key directory reads after the first
    uint64_t refused_inflight;      //  requests refused: their connection had max_inflight
    uint64_t refused_queued;        //  requests refused: replies to their connection unread
                                    //  past max_queued_bytes (a slow reader)
    uint64_t stream_messages;       //  Subscribe: stream messages of items sent
    uint64_t stream_items;          //  items in them
    uint64_t stream_credits_returned;   //  acknowledgements, lapses, releases
    uint64_t stream_ended_unsubscribed; //  subscriptions ended by cause:
    uint64_t stream_ended_replaced;
    uint64_t stream_ended_lost;         //  the worker declared lost
    uint64_t stream_ended_timeout;
    uint64_t stream_ended_disconnected; //  the connection closed
    uint64_t stream_ended_refused;      //  key revoked or role changed
    uint64_t store_wakes;               //  times the store said another process
                                        //  woke pools (several brokers on one database)
    uint64_t subscriptions;         //  now: subscriptions open
    uint64_t keys;                  //  now: keys accepted
    uint64_t peers;                 //  now: connections with requests or replies in hand
    uint64_t reply_bytes_queued;    //  now: bytes of replies held for every connection
} wp_counters_t;

//  Appends the counters, and parked (claims waiting now), to stats->counters
//  as named values ("requests.WorkPool.Push.OK", "commits", ...).
void wp_counters_export (const wp_counters_t *self, size_t parked, wp_stats_t *stats);

#endif
