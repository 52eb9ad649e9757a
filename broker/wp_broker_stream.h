/*  wp_broker_stream: the subscriptions of WorkPool.Subscribe. Internal to
    broker/.

    A subscription is a parked call (wp_broker_parked.h) of method
    Subscribe with a wp_stream_t attached (call->stream, owned by the
    call). The table knows each by (pool, worker_id), and each streamed
    item not yet acknowledged by (pool, id), so that a Complete from any
    client returns the credit of the subscription holding it.

    Everything that changes the table inside the actor's open transaction
    (items streamed, credits returned, subscriptions made, replaced or
    ended) is journaled: wp_streams_undo puts the table back exactly as it
    was before the transaction when its commit fails, wp_streams_commit
    forgets the journal when it succeeds.  */
#ifndef WP_BROKER_STREAM_H_INCLUDED
#define WP_BROKER_STREAM_H_INCLUDED

#include "wp_call.h"
#include "wp_broker_stats.h"
#include <czmq.h>

typedef struct _wp_streams_t wp_streams_t;
typedef struct _wp_stream_t wp_stream_t;
struct _wp_exec_env_t;

//  Caller owns return value. counters (kept, not owned) counts what the
//  table commits.
wp_streams_t *wp_streams_new (wp_counters_t *counters);
//  Destroys the table; every subscription must have been destroyed first
//  (they are calls, owned by the parked queues). Nulls *self_p.
void wp_streams_destroy (wp_streams_t **self_p);
//  Subscriptions open.
size_t wp_streams_size (wp_streams_t *self);

//  Frees a call's subscription, taking it out of its table (and its items
//  off the table's holders) first; safe on NULL. wp_call_destroy calls it.
void wp_stream_destroy (wp_stream_t **self_p);

//  Runs a Subscribe call in the open transaction: claims at once up to its
//  credit (less what a subscription it replaces held, which it inherits;
//  the replaced one is ended with CANCELLED) into call->reply.items and
//  registers it. Returns 0 (the call is to park), or -1 if the store
//  failed (the reply is the error; nothing registered).
int wp_stream_subscribe (wp_call_t *call, struct _wp_exec_env_t *env);

//  Runs an Unsubscribe: ends the worker's subscription on the pool, if any,
//  with its final OK message (sent by the actor after commit).
void wp_streams_unsubscribe (wp_streams_t *self, const char *pool, const char *worker_id);

//  True if a subscription may be given items now: not ending, with credit
//  left and room in its stream message of this transaction.
bool wp_stream_wants (const wp_call_t *call, size_t max_message);

//  Claims up to the subscription's credit left into call->reply.items
//  (added to what this transaction already gave it). Returns how many, or
//  -1 if the store failed (logged; the reply is unchanged). *again: true
//  if it stopped short for its message's size, so more may be waiting.
int wp_stream_serve (wp_call_t *call, struct _wp_exec_env_t *env, bool *again);

//  After a call ran (done or parked): returns the credit of what it
//  acknowledged (Complete, Fail, CompleteAndClaim, CompleteMany entries,
//  ReleaseByWorker) and marks the pools whose subscriptions got credit
//  back as woken (env->woken).
void wp_streams_acknowledge (wp_streams_t *self, const wp_call_t *call,
                             struct _wp_exec_env_t *env);

//  After a reap reported leases expired or workers lost: drops from every
//  subscription the items the store no longer has claimed by its worker,
//  and, if workers_lost, ends with FAILED_PRECONDITION the subscriptions of
//  workers now lost. Wakes the pools concerned.
void wp_streams_check (wp_streams_t *self, struct _wp_exec_env_t *env, bool workers_lost);

//  The subscriptions ended in the open transaction (Unsubscribe, replaced,
//  worker lost), for the actor to answer after commit: first, then next
//  until NULL. A call whose end was undone is not listed.
wp_call_t *wp_streams_first_ended (wp_streams_t *self);
wp_call_t *wp_streams_next_ended (wp_streams_t *self);

//  The final status of an ended subscription, and its message.
wp_status wp_stream_end_status (const wp_call_t *call);
const char *wp_stream_end_message (const wp_call_t *call);

//  Takes a subscription out of the table at once, outside a transaction
//  (its timeout, its key, the broker stopping, its connection gone).
void wp_stream_close (wp_call_t *call);

//  A served subscription's stream message was sent: its items stay held.
//  Resets the reply and the bytes it was reckoned at.
void wp_stream_sent (wp_call_t *call);

//  The open transaction committed: forgets the journal, counts what it did
//  and forgets the list of ended subscriptions.
void wp_streams_commit (wp_streams_t *self);
//  The open transaction failed: undoes every journaled change, newest
//  first, and forgets the list of ended subscriptions.
void wp_streams_undo (wp_streams_t *self);
//  Forgets the ended list (after the actor answered them).
void wp_streams_clear_ended (wp_streams_t *self);

//  Items held, not acknowledged, by call's subscription.
size_t wp_stream_held (const wp_call_t *call);

#endif
