/*  wp_store_memory_schedules: the memory store's schedules (Schedule.Add,
    List, Remove as wp_store_impl.h's schedule ops): a map by name and a
    heap by next_at, for next_due. Every change is saved in the undo log
    like an item's, so rollback, savepoints and the image's journal see
    schedules as they see items. A schedule removed inside a group stays in
    the map with no record until the group ends (its log entry points at
    it). Records and transitions in wp_mem_store.h.  */
#include "wp_mem_store.h"
#include <stdlib.h>
#include <string.h>

bool
wp_mem_tick_before (const void *a, const void *b)
{
    const wp_mem_schedule_t *x = a, *y = b;
    if (x->rec->next_at != y->rec->next_at)
        return x->rec->next_at < y->rec->next_at;
    return strcmp (x->name, y->name) < 0;
}

uint32_t *
wp_mem_schedule_slot (void *elem)
{
    return &((wp_mem_schedule_t *) elem)->heap_pos;
}

void
wp_mem_schedule_free (wp_mem_schedule_t *schedule)
{
    wp_schedule_destroy (&schedule->rec);
    free (schedule->name);
    free (schedule);
}

//  The heap holds a schedule while it has a record with a next tick
static void
s_unindex (wp_mem_store_t *self, wp_mem_schedule_t *schedule)
{
    if (schedule->heap_pos != WP_MEM_NOWHERE)
        wp_mem_heap_remove (&self->ticks, schedule);
}

static void
s_index (wp_mem_store_t *self, wp_mem_schedule_t *schedule)
{
    if (schedule->rec && schedule->rec->next_at)
        wp_mem_heap_push (&self->ticks, schedule);
}

//  Saves the record before its first change in the epoch (NULL: none)
static void
s_save (wp_mem_store_t *self, wp_mem_schedule_t *schedule)
{
    if (!self->in_txn || schedule->txn_mark == self->txn_id)
        return;
    schedule->txn_mark = self->txn_id;
    schedule->refs++;
    wp_undo_t *undo = wp_mem_undo_add (&self->undo, WP_UNDO_SCHEDULE);
    undo->schedule = schedule;
    undo->saved_schedule = schedule->rec ? wp_schedule_dup (schedule->rec) : NULL;
}

void
wp_mem_schedule_restore (wp_mem_store_t *self, wp_mem_schedule_t *schedule,
                         wp_schedule_t **saved_p)
{
    s_unindex (self, schedule);
    wp_schedule_destroy (&schedule->rec);
    schedule->rec = *saved_p;
    *saved_p = NULL;
    s_index (self, schedule);
}

//  Frees the record-less schedules the log names from index from on that
//  no earlier entry names (all of them, from 0, as refs then count only
//  these entries)
static void
s_free_unnamed (wp_mem_store_t *self, size_t from)
{
    for (size_t i = from; i < self->undo.count; i++)
        if (self->undo.entries [i].kind == WP_UNDO_SCHEDULE)
            ((wp_mem_schedule_t *) self->undo.entries [i].schedule)->refs--;
    wp_mem_schedule_t **gone = NULL;
    size_t count = 0;
    for (size_t i = from; i < self->undo.count; i++) {
        wp_undo_t *undo = &self->undo.entries [i];
        wp_mem_schedule_t *schedule = undo->kind == WP_UNDO_SCHEDULE ? undo->schedule : NULL;
        //  Unlinked at its first entry, so a second one finds it gone
        if (schedule && !schedule->rec && schedule->refs == 0
        &&  wp_mem_map_lookup (&self->schedules, schedule->name) == schedule) {
            wp_mem_map_delete (&self->schedules, schedule->name);
            gone = (wp_mem_schedule_t **) realloc (gone, (count + 1) * sizeof *gone);
            if (!gone)
                abort ();
            gone [count++] = schedule;
        }
    }
    for (size_t i = 0; i < count; i++)
        wp_mem_schedule_free (gone [i]);
    free (gone);
}

void
wp_mem_schedule_sweep (wp_mem_store_t *self)
{
    s_free_unnamed (self, 0);
}

void
wp_mem_schedule_forget (wp_mem_store_t *self, size_t from)
{
    s_free_unnamed (self, from);
}

void
wp_store_memory_load_schedule (wp_store_t *base, wp_schedule_t **rec_p)
{
    wp_mem_store_t *self = (wp_mem_store_t *) base;
    wp_mem_schedule_t *schedule = (wp_mem_schedule_t *) wp_mem_alloc (sizeof *schedule);
    schedule->rec = *rec_p;
    *rec_p = NULL;
    schedule->name = wp_strdup (schedule->rec->name);
    schedule->heap_pos = WP_MEM_NOWHERE;
    wp_mem_map_insert (&self->schedules, schedule->name, schedule);
    s_index (self, schedule);
}

wp_status
wp_mem_schedule_put (wp_store_t *base, const wp_schedule_t *record)
{
    wp_mem_store_t *self = wp_mem_enter (base);
    wp_mem_schedule_t *schedule = (wp_mem_schedule_t *) wp_mem_map_lookup (&self->schedules,
                                                                            record->name);
    if (schedule)
        s_save (self, schedule);
    else {
        schedule = (wp_mem_schedule_t *) wp_mem_alloc (sizeof *schedule);
        schedule->name = wp_strdup (record->name);
        schedule->heap_pos = WP_MEM_NOWHERE;
        wp_mem_map_insert (&self->schedules, schedule->name, schedule);
        s_save (self, schedule);
    }
    s_unindex (self, schedule);
    wp_schedule_destroy (&schedule->rec);
    schedule->rec = wp_schedule_dup (record);
    s_index (self, schedule);
    return wp_mem_leave (self, WP_OK);
}

wp_status
wp_mem_schedule_remove (wp_store_t *base, const char *name)
{
    wp_mem_store_t *self = wp_mem_enter (base);
    wp_mem_schedule_t *schedule = (wp_mem_schedule_t *) wp_mem_map_lookup (&self->schedules, name);
    if (!schedule || !schedule->rec)
        return wp_mem_leave (self, wp_store_error (base, WP_NOT_FOUND, "no schedule '%s'", name));
    s_save (self, schedule);
    s_unindex (self, schedule);
    wp_schedule_destroy (&schedule->rec);
    if (!self->in_txn) {
        wp_mem_map_delete (&self->schedules, schedule->name);
        wp_mem_schedule_free (schedule);
    }
    return wp_mem_leave (self, WP_OK);
}

static int
s_compare_names (const void *a, const void *b)
{
    return strcmp ((*(wp_schedule_t *const *) a)->name, (*(wp_schedule_t *const *) b)->name);
}

wp_status
wp_mem_schedule_list (wp_store_t *base, wp_schedule_list_t **list_out)
{
    wp_mem_store_t *self = wp_mem_enter (base);
    wp_schedule_list_t *list = wp_schedule_list_new ();
    size_t at = 0;
    for (wp_mem_schedule_t *schedule;
         (schedule = (wp_mem_schedule_t *) wp_mem_map_next (&self->schedules, &at)); )
        if (schedule->rec) {
            wp_schedule_t *copy = wp_schedule_dup (schedule->rec);
            wp_schedule_list_append (list, &copy);
        }
    if (list->count > 1)
        qsort (list->schedules, list->count, sizeof (wp_schedule_t *), s_compare_names);
    *list_out = list;
    return wp_mem_leave (self, WP_OK);
}
