/*  wp_broker_stats: the broker's counters as Broker.Stats shows them, one
    named value each. Only non-zero request counters are listed, so a reply
    stays small however many methods and statuses exist.  */
#include "wp_broker_stats.h"
#include <czmq.h>

static void
s_append (wp_stats_t *stats, size_t *capacity, char *name, uint64_t value)
{
    if (stats->counter_count == *capacity) {
        *capacity = *capacity ? *capacity * 2 : 64;
        stats->counters = realloc (stats->counters, *capacity * sizeof *stats->counters);
        if (!stats->counters)
            abort ();
    }
    stats->counters [stats->counter_count].name = name;
    stats->counters [stats->counter_count].value = value;
    stats->counter_count++;
}

static void
s_append_copy (wp_stats_t *stats, size_t *capacity, const char *name, uint64_t value)
{
    char *copy = strdup (name);
    if (!copy)
        abort ();
    s_append (stats, capacity, copy, value);
}

void
wp_counters_export (const wp_counters_t *self, size_t parked, wp_stats_t *stats)
{
    size_t capacity = stats->counter_count;
    for (int method = 0; method < WP_METHOD_COUNT; method++)
        for (int status = 0; status < WP_STATUS_COUNT; status++) {
            if (self->requests [method][status] == 0)
                continue;
            const char *method_name = method == WP_METHOD_UNKNOWN
                                    ? "unknown" : wp_method_name ((wp_method) method);
            char *name;
            if (asprintf (&name, "requests.%s.%s", method_name, wp_strerror (status)) < 0)
                abort ();
            s_append (stats, &capacity, name, self->requests [method][status]);
        }
    const struct { const char *name; uint64_t value; } named [] = {
        { "batches",             self->batches },
        { "batched_requests",    self->batched_requests },
        { "batch_max_seen",      self->batch_max_seen },
        { "commits",             self->commits },
        { "commit_failures",     self->commit_failures },
        { "replies_dropped",     self->replies_dropped },
        { "malformed_dropped",   self->malformed_dropped },
        { "parked",              parked },
        { "parked_total",        self->parked_total },
        { "parked_served",       self->parked_served },
        { "parked_abandoned",    self->parked_abandoned },
        { "implicit_heartbeats", self->implicit_heartbeats },
        { "parked_heartbeats",   self->parked_heartbeats },
        { "reaps",               self->reaps },
        { "leases_expired",      self->leases_expired },
        { "workers_lost",        self->workers_lost },
        { "requeued",            self->requeued },
        { "poisoned",            self->poisoned },
        { "backed_off",          self->backed_off },
        { "promoted",            self->promoted },
        { "schedule_fired",      self->schedule_fired },
        { "purged",              self->purged },
        { "handshakes_accepted", self->handshakes_accepted },
        { "handshakes_refused",  self->handshakes_refused },
        { "key_reloads",         self->key_reloads },
        { "refused_inflight",    self->refused_inflight },
        { "refused_queued",      self->refused_queued },
        { "subscriptions",       self->subscriptions },
        { "stream_messages",     self->stream_messages },
        { "stream_items",        self->stream_items },
        { "stream_credits_returned",   self->stream_credits_returned },
        { "stream_ended_unsubscribed", self->stream_ended_unsubscribed },
        { "stream_ended_replaced",     self->stream_ended_replaced },
        { "stream_ended_lost",         self->stream_ended_lost },
        { "stream_ended_timeout",      self->stream_ended_timeout },
        { "stream_ended_disconnected", self->stream_ended_disconnected },
        { "stream_ended_refused",      self->stream_ended_refused },
        { "store_wakes",         self->store_wakes },
        { "keys",                self->keys },
        { "peers",               self->peers },
        { "reply_bytes_queued",  self->reply_bytes_queued },
    };
    for (size_t i = 0; i < sizeof named / sizeof named [0]; i++)
        s_append_copy (stats, &capacity, named [i].name, named [i].value);
}
