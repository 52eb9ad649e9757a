/*  wp_call: one request from a client, from receipt to reply: the decoded
    request, the reply being built, and what the actor must remember about
    it while it waits (parked) or runs. Internal to broker/.  */
#ifndef WP_CALL_H_INCLUDED
#define WP_CALL_H_INCLUDED

#include "wp_keys.h"
#include "wp_peer.h"
#include "wp_proto.h"
#include <sys/types.h>

#define WP_ROUTING_ID_MAX   256     //  bytes of a ZeroMQ routing id, and one spare

//  One request from a client, from receipt to reply.
typedef struct {
    uint8_t identity [WP_ROUTING_ID_MAX];   //  the ROUTER's routing id of the client
    size_t identity_size;
    wp_peer_t *peer;            //  its connection's accounting (a reference); NULL: none
    char key [WP_KEY_TEXT_SIZE];    //  CURVE: the connection's key (ZAP user id); "" without
    uint64_t reply_estimate;    //  bytes its reply is reckoned at in the peer's pending count
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
    struct _wp_stream_t *stream;    //  Subscribe: its subscription (owned); else NULL
} wp_call_t;

//  Returns a fresh call with its request and reply initialized. Caller owns it.
wp_call_t *wp_call_new (void);
//  Frees the call and nulls *self_p, taking it off its peer's requests in
//  flight and pending bytes, and its subscription out of its table; safe
//  on NULL.
void wp_call_destroy (wp_call_t **self_p);
//  Sets the reply of a claim that ends without an item: OK, item nil / items [].
void wp_call_set_no_item (wp_call_t *self);
//  Replaces the call's reply with an error (message copied; NULL: none).
void wp_call_set_error (wp_call_t *self, wp_status status, const char *message);
//  Empties the call's reply so the call can run again.
void wp_call_reset_reply (wp_call_t *self);

#endif
