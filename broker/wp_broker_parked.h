/*  wp_broker_parked: claims waiting for an item. Internal to broker/.  */
#ifndef WP_BROKER_PARKED_H_INCLUDED
#define WP_BROKER_PARKED_H_INCLUDED

#include "wp_call.h"
#include <czmq.h>

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
//  Moves call to the back of its pool's queue (a subscription just served
//  lets the others go first). Not while iterating that pool.
void wp_parked_to_back (wp_parked_t *self, wp_call_t *call);
//  How many calls are parked.
size_t wp_parked_size (wp_parked_t *self);
//  The wait end of a call that waits until it is ended (a subscription
//  without timeout_ms): never reached.
#define WP_PARKED_NO_END    INT64_MAX

//  The earliest wait end, or 0 if nothing is parked (or none ends).
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
//  Whether any call of pool is parked.
bool wp_parked_has (wp_parked_t *self, const char *pool);
//  The names of the pools with parked calls. Caller owns return value
//  (a zlistx of strings it owns).
zlistx_t *wp_parked_pools (wp_parked_t *self);

#endif
