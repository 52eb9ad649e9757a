/*  wp_broker_parked: claims waiting for an item. Each pool has a FIFO so
    that a push goes to the worker that has waited longest; one more queue,
    sorted by wait end, tells the timer when the next wait runs out. Both
    hold the same calls; a call keeps its handle in each so taking it out is
    O(1). Sorted insertion searches from the end: waits mostly end in the
    order they started, so it rarely walks far.  */
#include "wp_broker_parked.h"

struct _wp_parked_t {
    zhashx_t *pools;            //  pool name -> zlistx_t of wp_call_t, oldest first
    zlistx_t *by_end;           //  every parked call, earliest wait end first
};

static int
s_compare_end (const void *item1, const void *item2)
{
    const wp_call_t *a = item1, *b = item2;
    return a->wait_end < b->wait_end ? -1 : a->wait_end > b->wait_end ? 1 : 0;
}

static void
s_queue_destroy (void **item_p)
{
    zlistx_destroy ((zlistx_t **) item_p);
}

bool
wp_parked_has (wp_parked_t *self, const char *pool)
{
    return zhashx_lookup (self->pools, pool) != NULL;
}

wp_parked_t *
wp_parked_new (void)
{
    wp_parked_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    self->pools = zhashx_new ();
    zhashx_set_destructor (self->pools, s_queue_destroy);
    self->by_end = zlistx_new ();
    zlistx_set_comparator (self->by_end, s_compare_end);
    return self;
}

void
wp_parked_destroy (wp_parked_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wp_parked_t *self = *self_p;
    wp_call_t *call;
    while ((call = wp_parked_any (self))) {
        wp_parked_remove (self, call);
        wp_call_destroy (&call);
    }
    zhashx_destroy (&self->pools);
    zlistx_destroy (&self->by_end);
    free (self);
    *self_p = NULL;
}

void
wp_parked_add (wp_parked_t *self, wp_call_t *call)
{
    assert (!call->parked && call->request.pool);
    zlistx_t *queue = zhashx_lookup (self->pools, call->request.pool);
    if (!queue) {
        queue = zlistx_new ();
        zhashx_insert (self->pools, call->request.pool, queue);
    }
    call->queue_handle = zlistx_add_end (queue, call);
    call->end_handle = zlistx_insert (self->by_end, call, false);
    call->parked = true;
}

void
wp_parked_remove (wp_parked_t *self, wp_call_t *call)
{
    assert (call->parked);
    zlistx_t *queue = zhashx_lookup (self->pools, call->request.pool);
    assert (queue);
    zlistx_detach (queue, call->queue_handle);
    if (zlistx_size (queue) == 0)
        zhashx_delete (self->pools, call->request.pool);
    zlistx_detach (self->by_end, call->end_handle);
    call->queue_handle = call->end_handle = NULL;
    call->parked = false;
    call->served = false;
}

size_t
wp_parked_size (wp_parked_t *self)
{
    return zlistx_size (self->by_end);
}

int64_t
wp_parked_next_end (wp_parked_t *self)
{
    wp_call_t *call = zlistx_head (self->by_end);
    return call && call->wait_end != WP_PARKED_NO_END ? call->wait_end : 0;
}

void
wp_parked_to_back (wp_parked_t *self, wp_call_t *call)
{
    assert (call->parked);
    zlistx_t *queue = zhashx_lookup (self->pools, call->request.pool);
    assert (queue);
    zlistx_move_end (queue, call->queue_handle);
}

wp_call_t *
wp_parked_ended (wp_parked_t *self, int64_t now)
{
    wp_call_t *call = zlistx_head (self->by_end);
    return call && call->wait_end <= now ? call : NULL;
}

wp_call_t *
wp_parked_any (wp_parked_t *self)
{
    return zlistx_head (self->by_end);
}

wp_call_t *
wp_parked_first (wp_parked_t *self, const char *pool)
{
    zlistx_t *queue = zhashx_lookup (self->pools, pool);
    return queue ? zlistx_first (queue) : NULL;
}

wp_call_t *
wp_parked_next (wp_parked_t *self, const char *pool)
{
    zlistx_t *queue = zhashx_lookup (self->pools, pool);
    return queue ? zlistx_next (queue) : NULL;
}

zlistx_t *
wp_parked_pools (wp_parked_t *self)
{
    return zhashx_keys (self->pools);
}
