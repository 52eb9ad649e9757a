/*  wp_peer: what the broker keeps per client connection (a ROUTER peer,
    told by its routing id): its requests in flight, and the bytes of its
    replies that libzmq still holds. Each reply frame is handed to libzmq
    with a free callback that takes its bytes off the peer's count when
    libzmq releases the frame (written to the connection, or dropped with
    it), from libzmq's I/O thread; so "queued" is exactly what the broker's
    memory holds for that peer, and it falls to 0 when the peer leaves.
    Internal to broker/.  */
#ifndef WP_PEER_H_INCLUDED
#define WP_PEER_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _wp_peer_t wp_peer_t;
typedef struct _wp_peers_t wp_peers_t;

//  Caller owns return value.
wp_peers_t *wp_peers_new (void);
//  Drops the table's references and nulls *self_p; a peer with frames
//  still in libzmq lives until they are released.
void wp_peers_destroy (wp_peers_t **self_p);
//  The peer with this routing id, made on first sight. The caller gets a
//  reference of its own (wp_peer_unref).
wp_peer_t *wp_peers_get (wp_peers_t *self, const uint8_t *routing_id, size_t size);
//  Forgets the peers with nothing in flight and nothing queued.
void wp_peers_prune (wp_peers_t *self);
//  Peers in the table.
size_t wp_peers_size (wp_peers_t *self);
//  Bytes queued for every peer together.
uint64_t wp_peers_queued (wp_peers_t *self);
//  Bytes libzmq released since the previous call (to decide when to give
//  freed memory back to the system).
uint64_t wp_peers_take_released (wp_peers_t *self);

//  Drops a reference and nulls *self_p; safe on NULL.
void wp_peer_unref (wp_peer_t **self_p);
//  Another reference to self. Caller owns return value (wp_peer_unref).
wp_peer_t *wp_peer_ref (wp_peer_t *self);
//  Requests of the peer read and not yet answered (adjusted by the caller,
//  the actor thread only).
size_t *wp_peer_inflight (wp_peer_t *self);
//  Bytes of replies decided this turn and not yet sent (actor thread only).
uint64_t *wp_peer_pending (wp_peer_t *self);
//  Bytes of the peer's replies libzmq holds now.
uint64_t wp_peer_queued (wp_peer_t *self);
//  Sends data (size bytes, taking ownership; freed with free ()) as one
//  frame on socket with flags | ZMQ_DONTWAIT, counted as queued for self
//  until libzmq releases it. Returns 0, or -1 if libzmq refused the frame
//  (data is freed, nothing stays counted).
int wp_peer_send (wp_peer_t *self, void *socket, uint8_t *data, size_t size, int flags);

#endif
