/*  wp_records: constructors, deep copies and destructors of the shared
    records (items, workers, metadata, statistics), and name validation.
    Out of memory aborts, so none of these fail.  */
#include "wp_records.h"
#include "wp_msgpack.h"
#include "wp_proto_fields.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Resizes p to count elements of elem bytes; overflow or out of memory aborts.
static void *
s_grow (void *p, size_t count, size_t elem)
{
    if (count && elem > SIZE_MAX / count)
        abort ();
    size_t bytes = count * elem;
    void *q = realloc (p, bytes ? bytes: 1);
    if (!q) {
        fprintf (stderr, "wp_records: out of memory\n");
        abort ();
    }
    return q;
}

char *
wp_strdup (const char *s)
{
    return s ? wp_pf_strndup (s, strlen (s)): NULL;
}

static uint8_t *
s_memdup (const uint8_t *data, size_t size)
{
    if (!data)
        return NULL;
    uint8_t *copy = wp_pf_alloc (size);
    if (size)
        memcpy (copy, data, size);
    return copy;
}

//  ---------------------------------------------------------------------
//  Items

static const char *s_item_state_names [WP_ITEM_STATE_COUNT] = {
    "pending", "claimed", "done", "poisoned", "scheduled"
};

const char *
wp_item_state_name (wp_item_state state)
{
    if ((int) state < 0 || (int) state >= WP_ITEM_STATE_COUNT)
        return "?";
    return s_item_state_names [state];
}

int
wp_item_state_from_name (const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < WP_ITEM_STATE_COUNT; i++)
        if (strcmp (name, s_item_state_names [i]) == 0)
            return i;
    return -1;
}

wp_item_t *
wp_item_new (void)
{
    return wp_pf_alloc (sizeof (wp_item_t));
}

wp_item_t *
wp_item_dup (const wp_item_t *self)
{
    if (!self)
        return NULL;
    wp_item_t *copy = wp_item_new ();
    *copy = *self;
    copy->id = wp_strdup (self->id);
    copy->pool = wp_strdup (self->pool);
    copy->data = s_memdup (self->data, self->data_size);
    copy->claimed_by = wp_strdup (self->claimed_by);
    copy->result = s_memdup (self->result, self->result_size);
    copy->error = wp_strdup (self->error);
    copy->unique_key = wp_strdup (self->unique_key);
    return copy;
}

void
wp_item_destroy (wp_item_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wp_item_t *self = *self_p;
    free (self->id);
    free (self->pool);
    free (self->data);
    free (self->claimed_by);
    free (self->result);
    free (self->error);
    free (self->unique_key);
    free (self);
    *self_p = NULL;
}

wp_item_list_t *
wp_item_list_new (void)
{
    return wp_pf_alloc (sizeof (wp_item_list_t));
}

void
wp_item_list_append (wp_item_list_t *self, wp_item_t **item_p)
{
    if (self->count == self->capacity) {
        self->capacity = self->capacity ? self->capacity * 2: 8;
        self->items = s_grow (self->items, self->capacity, sizeof *self->items);
    }
    self->items [self->count++] = *item_p;
    *item_p = NULL;
}

void
wp_item_list_destroy (wp_item_list_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wp_item_list_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++)
        wp_item_destroy (&self->items [i]);
    free (self->items);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  Metadata

static wp_meta_entry_t *
s_meta_find (const wp_meta_t *self, const char *key)
{
    for (size_t i = 0; i < self->count; i++)
        if (strcmp (self->entries [i].key, key) == 0)
            return &self->entries [i];
    return NULL;
}

void
wp_meta_set (wp_meta_t *self, const char *key, const uint8_t *value, size_t size)
{
    if (!value)
        size = 0;
    uint8_t *copy = s_memdup (value ? value: (const uint8_t *) "", size);
    wp_meta_entry_t *entry = s_meta_find (self, key);
    if (entry)
        free (entry->value);
    else {
        self->entries = s_grow (self->entries, self->count + 1, sizeof *self->entries);
        entry = &self->entries [self->count++];
        entry->key = wp_strdup (key);
    }
    entry->value = copy;
    entry->value_size = size;
}

const wp_meta_entry_t *
wp_meta_get (const wp_meta_t *self, const char *key)
{
    return s_meta_find (self, key);
}

void
wp_meta_merge (wp_meta_t *self, const wp_meta_t *from)
{
    for (size_t i = 0; i < from->count; i++)
        wp_meta_set (self, from->entries [i].key,
                     from->entries [i].value, from->entries [i].value_size);
}

void
wp_meta_copy (wp_meta_t *self, const wp_meta_t *from)
{
    wp_meta_clear (self);
    wp_meta_merge (self, from);
}

void
wp_meta_clear (wp_meta_t *self)
{
    for (size_t i = 0; i < self->count; i++) {
        free (self->entries [i].key);
        free (self->entries [i].value);
    }
    free (self->entries);
    self->entries = NULL;
    self->count = 0;
}

void
wp_meta_encode (const wp_meta_t *self, uint8_t **buf_p, size_t *size_p)
{
    wp_mp_writer_t writer;
    wp_mp_writer_init (&writer);
    wp_pf_pack_meta (&writer.pk, self);
    wp_mp_writer_take (&writer, buf_p, size_p);
}

int
wp_meta_decode (wp_meta_t *self, const uint8_t *buf, size_t size)
{
    wp_meta_clear (self);
    char errbuf [128];
    wp_pf_t e = { errbuf, sizeof errbuf };
    msgpack_unpacked unpacked;
    msgpack_unpacked_init (&unpacked);
    int rc = wp_mp_unpack (&unpacked, buf, size, errbuf, sizeof errbuf);
    if (rc == 0)
        rc = wp_pf_meta (&e, &unpacked.data, "metadata", SIZE_MAX, self);
    if (rc)
        wp_meta_clear (self);
    msgpack_unpacked_destroy (&unpacked);
    return rc;
}

//  ---------------------------------------------------------------------
//  Retry policies

double
wp_backoff_delay (const wp_backoff_t *policy, uint32_t attempts, double unit)
{
    if (!policy || policy->base <= 0 || attempts == 0)
        return 0;
    //  base * 2^(attempts - 1), stopping at the cap before it can overflow
    double delay = policy->base;
    for (uint32_t i = 1; i < attempts && delay < policy->cap; i++)
        delay *= 2;
    if (delay > policy->cap)
        delay = policy->cap;
    if (unit < 0 || unit >= 1)
        unit = 0;
    return delay - delay * policy->jitter * unit;
}

const char *
wp_backoff_check (const wp_backoff_t *policy)
{
    //  Written so NaN fails every comparison and is refused
    if (!(policy->base >= 0 && policy->base <= WP_DELAY_MAX))
        return "backoff base must be 0..31622400 seconds";
    if (policy->base == 0)
        return policy->cap == 0 && policy->jitter == 0
             ? NULL: "a backoff without a base takes no cap or jitter";
    if (!(policy->cap >= policy->base && policy->cap <= WP_DELAY_MAX))
        return "backoff cap must be at least the base and at most 31622400 seconds";
    if (!(policy->jitter >= 0 && policy->jitter <= 1))
        return "backoff jitter must be 0..1";
    return NULL;
}

//  ---------------------------------------------------------------------
//  Schedules

wp_schedule_t *
wp_schedule_new (void)
{
    wp_schedule_t *self = wp_pf_alloc (sizeof (wp_schedule_t));
    self->max_retries = -1;
    return self;
}

wp_schedule_t *
wp_schedule_dup (const wp_schedule_t *self)
{
    if (!self)
        return NULL;
    wp_schedule_t *copy = wp_schedule_new ();
    *copy = *self;
    copy->name = wp_strdup (self->name);
    copy->pool = wp_strdup (self->pool);
    copy->cron = wp_strdup (self->cron);
    copy->data = s_memdup (self->data, self->data_size);
    return copy;
}

void
wp_schedule_destroy (wp_schedule_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wp_schedule_t *self = *self_p;
    free (self->name);
    free (self->pool);
    free (self->cron);
    free (self->data);
    free (self);
    *self_p = NULL;
}

wp_schedule_list_t *
wp_schedule_list_new (void)
{
    return wp_pf_alloc (sizeof (wp_schedule_list_t));
}

void
wp_schedule_list_append (wp_schedule_list_t *self, wp_schedule_t **schedule_p)
{
    if (self->count == self->capacity) {
        self->capacity = self->capacity ? self->capacity * 2: 8;
        self->schedules = s_grow (self->schedules, self->capacity, sizeof *self->schedules);
    }
    self->schedules [self->count++] = *schedule_p;
    *schedule_p = NULL;
}

void
wp_schedule_list_destroy (wp_schedule_list_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wp_schedule_list_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++)
        wp_schedule_destroy (&self->schedules [i]);
    free (self->schedules);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  Workers

wp_worker_t *
wp_worker_new (void)
{
    wp_worker_t *self = wp_pf_alloc (sizeof (wp_worker_t));
    self->pid = -1;
    return self;
}

wp_worker_t *
wp_worker_dup (const wp_worker_t *self)
{
    if (!self)
        return NULL;
    wp_worker_t *copy = wp_worker_new ();
    *copy = *self;
    copy->worker_id = wp_strdup (self->worker_id);
    copy->host = wp_strdup (self->host);
    copy->capabilities = NULL;
    copy->capability_count = 0;
    for (size_t i = 0; i < self->capability_count; i++)
        wp_worker_add_capability (copy, self->capabilities [i]);
    copy->pool_id = wp_strdup (self->pool_id);
    copy->status = wp_strdup (self->status);
    copy->current_task_id = wp_strdup (self->current_task_id);
    copy->metadata = (wp_meta_t) { NULL, 0 };
    wp_meta_copy (&copy->metadata, &self->metadata);
    return copy;
}

void
wp_worker_add_capability (wp_worker_t *self, const char *capability)
{
    self->capabilities = s_grow (self->capabilities, self->capability_count + 1,
                                 sizeof *self->capabilities);
    self->capabilities [self->capability_count++] = wp_strdup (capability);
}

void
wp_worker_destroy (wp_worker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wp_worker_t *self = *self_p;
    free (self->worker_id);
    free (self->host);
    for (size_t i = 0; i < self->capability_count; i++)
        free (self->capabilities [i]);
    free (self->capabilities);
    free (self->pool_id);
    free (self->status);
    free (self->current_task_id);
    wp_meta_clear (&self->metadata);
    free (self);
    *self_p = NULL;
}

wp_worker_list_t *
wp_worker_list_new (void)
{
    return wp_pf_alloc (sizeof (wp_worker_list_t));
}

void
wp_worker_list_append (wp_worker_list_t *self, wp_worker_t **worker_p)
{
    if (self->count == self->capacity) {
        self->capacity = self->capacity ? self->capacity * 2: 8;
        self->workers = s_grow (self->workers, self->capacity, sizeof *self->workers);
    }
    self->workers [self->count++] = *worker_p;
    *worker_p = NULL;
}

void
wp_worker_list_destroy (wp_worker_list_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wp_worker_list_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++)
        wp_worker_destroy (&self->workers [i]);
    free (self->workers);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  Statistics

wp_stats_t *
wp_stats_new (void)
{
    return wp_pf_alloc (sizeof (wp_stats_t));
}

void
wp_stats_destroy (wp_stats_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wp_stats_t *self = *self_p;
    for (size_t i = 0; i < self->pool_count; i++)
        free (self->pools [i].pool);
    free (self->pools);
    for (size_t i = 0; i < self->worker_status_count; i++)
        free (self->workers [i].status);
    free (self->workers);
    for (size_t i = 0; i < self->counter_count; i++)
        free (self->counters [i].name);
    free (self->counters);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  Validation

int
wp_name_check (const char *name)
{
    if (!name)
        return -1;
    size_t len = strnlen (name, WP_NAME_MAX + 1);
    if (len == 0 || len > WP_NAME_MAX || !wp_mp_utf8_valid (name, len))
        return -1;
    return 0;
}

int64_t
wp_worker_beat_every_us (double interval)
{
    int64_t every = (int64_t) (interval * 1e6 / 4);
    return every > 1000000 || every <= 0 ? 1000000 : every;
}
