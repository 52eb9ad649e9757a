/*  wp_mem_undo: the memory store's undo log (see wp_mem_undo.h).  */
#include "wp_mem_undo.h"
#include <assert.h>
#include <stdlib.h>
#include <string.h>

wp_undo_t *
wp_mem_undo_add (wp_mem_undo_t *log, wp_undo_kind kind)
{
    if (log->count == log->capacity) {
        log->capacity = log->capacity ? log->capacity * 2 : 64;
        log->entries = realloc (log->entries, log->capacity * sizeof (wp_undo_t));
        if (!log->entries)
            abort ();
    }
    wp_undo_t *undo = &log->entries [log->count++];
    memset (undo, 0, sizeof *undo);
    undo->kind = kind;
    return undo;
}

void
wp_mem_undo_truncate (wp_mem_undo_t *log, size_t from)
{
    assert (from <= log->count);
    for (size_t i = from; i < log->count; i++) {
        wp_undo_t *undo = &log->entries [i];
        free (undo->claimed_by);
        free (undo->result);
        free (undo->error);
        wp_worker_destroy (&undo->saved_rec);
        wp_schedule_destroy (&undo->saved_schedule);
    }
    log->count = from;
    if (log->count == 0 && log->capacity > 1024) {
        //  One huge group should not pin its log forever
        free (log->entries);
        log->entries = NULL;
        log->capacity = 0;
    }
}

void
wp_mem_undo_release (wp_mem_undo_t *log)
{
    assert (log->count == 0);
    free (log->entries);
    memset (log, 0, sizeof *log);
}
