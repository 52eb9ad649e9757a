/*  wp_proto: the method table, and the lifecycle of request and reply
    structs. The codecs are in wp_proto_request.c and wp_proto_reply.c.  */
#include "wp_proto.h"
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    bool mutates;               //  the reply waits for the store's commit
} s_methods [WP_METHOD_COUNT] = {
    [WP_METHOD_UNKNOWN]            = { "?", false },
    [WP_METHOD_PUSH]               = { "WorkPool.Push", true },
    [WP_METHOD_PUSH_MANY]          = { "WorkPool.PushMany", true },
    [WP_METHOD_CLAIM]              = { "WorkPool.Claim", true },
    [WP_METHOD_CLAIM_MANY]         = { "WorkPool.ClaimMany", true },
    [WP_METHOD_COMPLETE]           = { "WorkPool.Complete", true },
    [WP_METHOD_FAIL]               = { "WorkPool.Fail", true },
    [WP_METHOD_COMPLETE_AND_CLAIM] = { "WorkPool.CompleteAndClaim", true },
    [WP_METHOD_SIZE]               = { "WorkPool.Size", false },
    [WP_METHOD_RELEASE_BY_WORKER]  = { "WorkPool.ReleaseByWorker", true },
    [WP_METHOD_GET]                = { "WorkPool.Get", false },
    [WP_METHOD_RENEW]              = { "WorkPool.Renew", true },
    [WP_METHOD_REGISTER]           = { "Registry.Register", true },
    [WP_METHOD_HEARTBEAT]          = { "Registry.Heartbeat", true },
    [WP_METHOD_UPDATE_STATUS]      = { "Registry.UpdateStatus", true },
    [WP_METHOD_GET_WORKER]         = { "Registry.Get", false },
    [WP_METHOD_LIST_WORKERS]       = { "Registry.List", false },
    [WP_METHOD_STATS]              = { "Broker.Stats", false },
    [WP_METHOD_PING]               = { "Broker.Ping", false },
    [WP_METHOD_COMPLETE_MANY]      = { "WorkPool.CompleteMany", true },
    [WP_METHOD_LIST_ITEMS]         = { "WorkPool.List", false },
    [WP_METHOD_RETRY]              = { "WorkPool.Retry", true },
    [WP_METHOD_CANCEL]             = { "WorkPool.Cancel", true },
    [WP_METHOD_PURGE]              = { "WorkPool.Purge", true },
    [WP_METHOD_PAUSE]              = { "WorkPool.Pause", true },
    [WP_METHOD_RESUME]             = { "WorkPool.Resume", true },
    [WP_METHOD_SET_BACKOFF]        = { "WorkPool.SetBackoff", true },
    [WP_METHOD_SCHEDULE_ADD]       = { "Schedule.Add", true },
    [WP_METHOD_SCHEDULE_LIST]      = { "Schedule.List", false },
    [WP_METHOD_SCHEDULE_REMOVE]    = { "Schedule.Remove", true },
    [WP_METHOD_SUBSCRIBE]          = { "WorkPool.Subscribe", true },
    [WP_METHOD_UNSUBSCRIBE]        = { "WorkPool.Unsubscribe", false },
};

const char *
wp_method_name (wp_method method)
{
    if ((int) method <= WP_METHOD_UNKNOWN || method >= WP_METHOD_COUNT)
        return "?";
    return s_methods [method].name;
}

wp_method
wp_method_from_name (const char *name, size_t len)
{
    if (!name)
        return WP_METHOD_UNKNOWN;
    for (int m = WP_METHOD_UNKNOWN + 1; m < WP_METHOD_COUNT; m++)
        if (strlen (s_methods [m].name) == len && memcmp (s_methods [m].name, name, len) == 0)
            return (wp_method) m;
    return WP_METHOD_UNKNOWN;
}

bool
wp_method_mutates (wp_method method)
{
    if ((int) method <= WP_METHOD_UNKNOWN || method >= WP_METHOD_COUNT)
        return false;
    return s_methods [method].mutates;
}

void
wp_request_init (wp_request_t *self)
{
    memset (self, 0, sizeof *self);
    self->stale_threshold = -1;
}

static void
s_free_strings (char **strings, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free (strings [i]);
    free (strings);
}

void
wp_request_clear (wp_request_t *self)
{
    free (self->method_name);
    s_free_strings (self->meta_keys, self->meta_count);
    s_free_strings (self->meta_values, self->meta_count);
    free (self->pool);
    free (self->id);
    free (self->worker_id);
    //  Decoded entries own their pointers, though the type lets encoders borrow
    for (size_t i = 0; i < self->entry_count; i++) {
        free ((void *) self->entries [i].data);
        free ((void *) self->entries [i].id);
        free ((void *) self->entries [i].unique_key);
    }
    free (self->entries);
    for (size_t i = 0; i < self->completion_count; i++) {
        free ((void *) self->completions [i].id);
        free ((void *) self->completions [i].result);
    }
    free (self->completions);
    free (self->result);
    free (self->error);
    wp_worker_destroy (&self->worker);
    wp_meta_clear (&self->metadata);
    free (self->status);
    s_free_strings (self->statuses, self->status_count);
    free (self->capability);
    free (self->pool_id);
    free (self->cursor);
    wp_schedule_destroy (&self->schedule);
    free (self->name);
    wp_request_init (self);
}

void
wp_reply_init (wp_reply_t *self)
{
    memset (self, 0, sizeof *self);
}

void
wp_reply_clear (wp_reply_t *self)
{
    free (self->message);
    s_free_strings (self->ids, self->id_count);
    free (self->duplicates);
    wp_item_destroy (&self->item);
    wp_item_list_destroy (&self->items);
    wp_worker_destroy (&self->worker);
    wp_worker_list_destroy (&self->workers);
    wp_stats_destroy (&self->stats);
    free (self->server);
    free (self->cursor);
    free (self->entry_statuses);
    s_free_strings (self->entry_messages, self->entry_count);
    wp_schedule_destroy (&self->schedule);
    wp_schedule_list_destroy (&self->schedules);
    wp_reply_init (self);
}
