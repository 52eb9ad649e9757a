/*  wp_remote_store: a wp_store_t whose every call is a request to a workpool
    broker over one ZeroMQ DEALER socket (proto/PROTOCOL.md), so a broker is
    one more backend behind wp_store.h, held to the same conformance suite.

    Internal to libworkpool (users see workpool.h, whose header comment says
    what is retried and how deadlines work; this is where it is done).

    Connection: the socket connects at once but nothing is sent until a
    call; ZMQ_IMMEDIATE keeps requests from queueing for a broker that is not
    there (a request is written only to a live connection, so "never sent"
    is known for sure and reported WP_UNAVAILABLE at the deadline), and
    ZMQ_LINGER 0 lets destroy return at once. Replies are matched by request
    id; a reply to an earlier call that gave up is read and dropped. ZMTP
    heartbeats (1 s, 5 s timeout) notice a broker that vanished silently.
    A socket monitor reports each handshake's outcome (a DEALER itself
    never tells): a refused one ends the call at once instead of at the
    deadline, and the next call connects again, since libzmq does not
    retry an endpoint whose handshake was refused.

    Not supported over the wire: begin/commit (the broker groups commits
    itself, so a remote store never has a group), savepoint (it lives in
    a group), reap, next_due, purge (the broker does them on its timer):
    WP_UNIMPLEMENTED; rollback, release and rollback_to do nothing. The
    batch calls are the vtable's own batch ops, each one request, so the
    broker makes each atomic. wp_store_set_clock has no effect: the
    broker's clock rules. Which calls are resent after a lost reply is
    PROTOCOL.md section 7's "Retries" (List, Pause, Resume, Retry and
    Cancel are; Purge is not). */
#ifndef WP_REMOTE_STORE_H_INCLUDED
#define WP_REMOTE_STORE_H_INCLUDED

#include "wp_store.h"
#include "wp_proto.h"
#include <zmq.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Opens a remote store on endpoint ("tcp://...", "ipc://...", "inproc://...")
//  whose calls each have timeout_seconds (<= 0: 30) to finish. Does not wait
//  for the broker. Fails (NULL, *status, *message as wp_store_sqlite_new)
//  only on an endpoint ZeroMQ refuses: WP_INVALID_ARGUMENT. endpoint may
//  list several brokers, comma-separated ("tcp://a:1, tcp://b:2"): one is
//  used at a time, from the first; when it stops answering (a request has
//  no reply within the retry interval, or no connection takes one within
//  it) the store moves to the next, wrapping (workpool.h, "Lost
//  connections"). An empty element or one that is not tcp://, ipc:// or
//  inproc:// is WP_INVALID_ARGUMENT naming it.
//  Caller owns return value (wp_store_destroy).
wp_store_t *wp_remote_store_new (const char *endpoint, double timeout_seconds,
                                 wp_status *status, char **message);

//  As wp_remote_store_new, over CURVE (proto/PROTOCOL.md section 9):
//  server_key is the broker's public certificate file, cert this client's
//  secret certificate file (czmq zcert files, e.g. NAME_secret from
//  `workpool keygen`); both NULL: plaintext. Fails with WP_INVALID_ARGUMENT
//  naming the file when one is given without the other or cannot be read
//  as a certificate, WP_UNIMPLEMENTED without CURVE in libzmq. A handshake
//  the broker refuses ends a call at once: WP_UNAUTHENTICATED "authentication
//  failed: ..." (its key is not in the broker's directory, or it offered
//  none to a CURVE broker); a wrong server key shows only as no connection:
//  WP_UNAVAILABLE at the deadline, "(CURVE handshake failed: wrong server
//  key?)". Caller owns return value.
wp_store_t *wp_remote_store_new_curve (const char *endpoint, double timeout_seconds,
                                       const char *server_key, const char *cert,
                                       wp_status *status, char **message);

//  True if store is a remote store.
bool wp_remote_store_is (wp_store_t *store);

//  The endpoint it connects to (of several: the one in use now; borrowed,
//  valid until the next call).
const char *wp_remote_store_endpoint (wp_store_t *self);
//  Moves to the next endpoint so far; the number listed.
uint64_t wp_remote_store_moves (wp_store_t *self);
size_t wp_remote_store_endpoint_count (wp_store_t *self);
//  Disconnects from the endpoint in use and connects to the next (it
//  counts as a lost connection in wp_remote_store_disconnects, and as a
//  move). False, nothing done, with one endpoint. For client/wp_inflight.c.
bool wp_remote_store_move (wp_store_t *self);
//  Uses endpoint (one of the list) from now on, not counted as a move;
//  nothing if it is not listed or already in use. A handle's dup starts
//  where the handle is (client/wp_backend.c).
void wp_remote_store_use (wp_store_t *self, const char *endpoint);

//  Sets the deadline of the calls that follow (seconds; <= 0: the one given
//  at _new), and the interval after which a safe request is resent
//  (seconds; <= 0: 2).
void wp_remote_store_set_timeout (wp_store_t *self, double seconds);
double wp_remote_store_timeout (wp_store_t *self);
void wp_remote_store_set_retry_interval (wp_store_t *self, double seconds);

//  The calls of the protocol that wp_store.h lacks: the claims that wait
//  (client/wp_backend.c's), and CompleteMany by itself (tests/client's). Arguments are checked as wp_store.c checks the others;
//  the same out-parameter rules hold. The vtable's claim_many and
//  complete_and_claim are these without a wait; its complete_many is
//  wp_remote_store_complete_many that also gives each entry's message; its
//  push_many (one PushMany request) is reached through wp_store_push_many.

//  WorkPool.Claim with wait_seconds = wait (the deadline grows by wait).
wp_status wp_remote_store_claim_wait (wp_store_t *self, const char *pool,
                                      const char *worker_id, double wait, double lease,
                                      wp_item_t **item_out);

//  WorkPool.ClaimMany. *items_out (caller owns) may be empty. The broker caps
//  the reply at its max_message; the wire has no cap of the caller's, so the
//  vtable op with max_bytes claims one item a request until it is reached.
wp_status wp_remote_store_claim_many (wp_store_t *self, const char *pool,
                                      const char *worker_id, size_t max, double wait,
                                      double lease, wp_item_list_t **items_out);

//  WorkPool.CompleteAndClaim. *item_out: the next item, or NULL.
wp_status wp_remote_store_complete_and_claim (wp_store_t *self, const char *pool,
                                              const char *id, const uint8_t *result,
                                              size_t result_size, const char *worker_id,
                                              double wait, double lease,
                                              wp_item_t **item_out);

//  WorkPool.CompleteMany: each of count entries (1..WP_BATCH_MAX) completed
//  as wp_store_complete would, in one request. WP_OK when the broker ran the
//  request; statuses_out (may be NULL) is the caller's array of count
//  statuses, one per entry. A malformed request changes nothing:
//  WP_INVALID_ARGUMENT naming the entry. Resent only when worker_id is given.
wp_status wp_remote_store_complete_many (wp_store_t *self, const char *pool,
                                         const wp_complete_entry_t *entries, size_t count,
                                         const char *worker_id, wp_status *statuses_out);
//  Broker.Ping. *server_out (may be NULL; caller frees), *time_out (may be NULL).
wp_status wp_remote_store_ping (wp_store_t *self, char **server_out, int64_t *time_out);

//  The primitives client/wp_pipeline.c keeps many requests in flight with
//  (one thread, as for every call). A request id for a new request (after a
//  refused handshake this connects again first).
uint64_t wp_remote_store_next_request_id (wp_store_t *self);
//  Writes one encoded request (wp_request_encode's frames) if a connection
//  is up: 0 written, 1 no connection takes it now, -1 hard error (errno).
int wp_remote_store_send_encoded (wp_store_t *self, const uint8_t *header, size_t header_size,
                                  const uint8_t *body, size_t body_size);
//  Reads one reply, waiting up to wait_ms (0: not at all): 0 with the
//  header in *reply and the body frame in *body (caller clears and closes
//  both), 1 for a message that is no reply (dropped), -1 if none came.
int wp_remote_store_recv (wp_store_t *self, wp_reply_t *reply, zmq_msg_t *body, int wait_ms);
//  The status of a handshake the broker refused for good (the store's
//  error says why), else WP_OK.
wp_status wp_remote_store_refusal (wp_store_t *self);
//  The DEALER and its monitor, to poll on; the seconds before a resend.
void *wp_remote_store_handle (wp_store_t *self);
void *wp_remote_store_monitor_handle (wp_store_t *self);
double wp_remote_store_retry_interval (wp_store_t *self);
//  Connections to the broker closed so far (the monitor's DISCONNECTED
//  events, read now): a stream sent before the count grew is gone.
uint64_t wp_remote_store_disconnects (wp_store_t *self);

//  The store behind a backend handle (client/wp_backend.c), for the
//  pipeline's remote path. Borrowed.
typedef struct _wp_backend_t wp_backend_t;
wp_store_t *wp_backend_store (wp_backend_t *backend);
//  The handle a pool borrows (client/wp_subscription.c dups it). Borrowed.
typedef struct _wp_pool_t wp_pool_t;
wp_backend_t *wp_pool_backend (wp_pool_t *pool);

#ifdef __cplusplus
}
#endif
#endif
