/*  wp_call: one request in flight (see wp_call.h).  */
#include "wp_call.h"
#include "wp_broker_stream.h"
#include <stdlib.h>

wp_call_t *
wp_call_new (void)
{
    wp_call_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    self->peer_fd = -1;
    wp_request_init (&self->request);
    wp_reply_init (&self->reply);
    return self;
}

void
wp_call_destroy (wp_call_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wp_call_t *self = *self_p;
    wp_stream_destroy (&self->stream);
    if (self->peer) {
        (*wp_peer_inflight (self->peer))--;
        *wp_peer_pending (self->peer) -= self->reply_estimate;
        wp_peer_unref (&self->peer);
    }
    wp_request_clear (&self->request);
    wp_reply_clear (&self->reply);
    free (self);
    *self_p = NULL;
}

void
wp_call_reset_reply (wp_call_t *self)
{
    wp_reply_clear (&self->reply);
    wp_reply_init (&self->reply);
    self->reply.request_id = self->request.request_id;
}

void
wp_call_set_error (wp_call_t *self, wp_status status, const char *message)
{
    wp_call_reset_reply (self);
    self->reply.status = status;
    self->reply.message = wp_strdup (message ? message : "");
}

void
wp_call_set_no_item (wp_call_t *self)
{
    wp_call_reset_reply (self);
    if (self->request.method == WP_METHOD_CLAIM_MANY)
        self->reply.items = wp_item_list_new ();
}
