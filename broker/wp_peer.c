/*  wp_peer: per-connection accounting (see wp_peer.h). A peer is freed by
    whoever drops its last reference: the table (when pruned), a call in
    flight, or a frame libzmq releases in its I/O thread; so the counts are
    atomic, and the totals they feed are freed with the last of the table
    and its peers (a frame may outlive the table when the socket's context
    lives on).  */
#include "wp_peer.h"
#include <czmq.h>

typedef struct {
    uint32_t refs;              //  atomic: the table and each peer
    uint64_t queued;            //  bytes held by libzmq for every peer (atomic)
    uint64_t released;          //  bytes released since wp_peers_take_released (atomic)
} s_totals_t;

struct _wp_peer_t {
    uint32_t refs;              //  atomic
    uint64_t queued;            //  atomic: bytes of frames libzmq holds for this peer
    size_t inflight;            //  actor thread only
    uint64_t pending;           //  actor thread only
    s_totals_t *totals;
};

struct _wp_peers_t {
    zhashx_t *peers;            //  hex routing id -> wp_peer_t (one reference each)
    s_totals_t *totals;
};

static s_totals_t *
s_totals_ref (s_totals_t *self)
{
    __atomic_add_fetch (&self->refs, 1, __ATOMIC_RELAXED);
    return self;
}

static void
s_totals_unref (s_totals_t *self)
{
    if (__atomic_sub_fetch (&self->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free (self);
}

//  One frame handed to libzmq.
typedef struct {
    wp_peer_t *peer;
    size_t size;
} s_frame_t;

static void
s_peer_release (void **item_p)
{
    wp_peer_unref ((wp_peer_t **) item_p);
}

wp_peers_t *
wp_peers_new (void)
{
    wp_peers_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    self->peers = zhashx_new ();
    zhashx_set_destructor (self->peers, s_peer_release);
    self->totals = calloc (1, sizeof *self->totals);
    if (!self->totals)
        abort ();
    self->totals->refs = 1;
    return self;
}

void
wp_peers_destroy (wp_peers_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhashx_destroy (&(*self_p)->peers);
    s_totals_unref ((*self_p)->totals);
    free (*self_p);
    *self_p = NULL;
}

wp_peer_t *
wp_peers_get (wp_peers_t *self, const uint8_t *routing_id, size_t size)
{
    char key [2 * 256 + 1];
    static const char hex [] = "0123456789abcdef";
    if (size > 256)
        size = 256;
    for (size_t i = 0; i < size; i++) {
        key [2 * i] = hex [routing_id [i] >> 4];
        key [2 * i + 1] = hex [routing_id [i] & 15];
    }
    key [2 * size] = 0;
    wp_peer_t *peer = zhashx_lookup (self->peers, key);
    if (!peer) {
        peer = calloc (1, sizeof *peer);
        if (!peer)
            abort ();
        peer->refs = 1;
        peer->totals = s_totals_ref (self->totals);
        zhashx_insert (self->peers, key, peer);
    }
    return wp_peer_ref (peer);
}

void
wp_peers_prune (wp_peers_t *self)
{
    zlistx_t *idle = zlistx_new ();
    for (wp_peer_t *peer = zhashx_first (self->peers); peer; peer = zhashx_next (self->peers))
        if (peer->inflight == 0 && wp_peer_queued (peer) == 0)
            zlistx_add_end (idle, (void *) zhashx_cursor (self->peers));
    for (const char *key = zlistx_first (idle); key; key = zlistx_next (idle))
        zhashx_delete (self->peers, key);
    zlistx_destroy (&idle);
}

size_t
wp_peers_size (wp_peers_t *self)
{
    return zhashx_size (self->peers);
}

uint64_t
wp_peers_queued (wp_peers_t *self)
{
    return __atomic_load_n (&self->totals->queued, __ATOMIC_RELAXED);
}

uint64_t
wp_peers_take_released (wp_peers_t *self)
{
    return __atomic_exchange_n (&self->totals->released, 0, __ATOMIC_RELAXED);
}

wp_peer_t *
wp_peer_ref (wp_peer_t *self)
{
    __atomic_add_fetch (&self->refs, 1, __ATOMIC_RELAXED);
    return self;
}

void
wp_peer_unref (wp_peer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    if (__atomic_sub_fetch (&(*self_p)->refs, 1, __ATOMIC_ACQ_REL) == 0) {
        s_totals_unref ((*self_p)->totals);
        free (*self_p);
    }
    *self_p = NULL;
}

size_t *
wp_peer_inflight (wp_peer_t *self)
{
    return &self->inflight;
}

uint64_t *
wp_peer_pending (wp_peer_t *self)
{
    return &self->pending;
}

uint64_t
wp_peer_queued (wp_peer_t *self)
{
    return __atomic_load_n (&self->queued, __ATOMIC_RELAXED);
}

//  libzmq is done with a frame (I/O thread, or ours if the send failed).
static void
s_frame_free (void *data, void *hint)
{
    s_frame_t *frame = hint;
    wp_peer_t *peer = frame->peer;
    __atomic_sub_fetch (&peer->queued, frame->size, __ATOMIC_RELAXED);
    __atomic_sub_fetch (&peer->totals->queued, frame->size, __ATOMIC_RELAXED);
    __atomic_add_fetch (&peer->totals->released, frame->size, __ATOMIC_RELAXED);
    wp_peer_unref (&frame->peer);
    free (frame);
    free (data);
}

int
wp_peer_send (wp_peer_t *self, void *socket, uint8_t *data, size_t size, int flags)
{
    s_frame_t *frame = malloc (sizeof *frame);
    if (!frame)
        abort ();
    frame->peer = wp_peer_ref (self);
    frame->size = size;
    __atomic_add_fetch (&self->queued, size, __ATOMIC_RELAXED);
    __atomic_add_fetch (&self->totals->queued, size, __ATOMIC_RELAXED);
    zmq_msg_t msg;
    zmq_msg_init_data (&msg, data, size, s_frame_free, frame);
    if (zmq_msg_send (&msg, socket, flags | ZMQ_DONTWAIT) == -1) {
        zmq_msg_close (&msg);
        return -1;
    }
    return 0;
}
