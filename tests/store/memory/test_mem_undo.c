/*  test_mem_undo: the undo log keeps its entries in order across growth,
    truncation at a mark frees the saved fields after it (ASan's leak check
    tells), and a large log gives its array back when emptied.  */
#include "wp_test.h"
#include "wp_mem_undo.h"

int
main (void)
{
    wp_mem_undo_t log = { 0 };
    for (int i = 0; i < 3000; i++) {
        wp_undo_t *undo = wp_mem_undo_add (&log, i % 2 ? WP_UNDO_ITEM : WP_UNDO_WORKER);
        CHECK (undo->claimed_by == NULL && undo->saved_rec == NULL);
        undo->attempts = (uint32_t) i;
        if (i % 2) {
            undo->claimed_by = wp_strdup ("w");
            undo->error = wp_strdup ("boom");
            undo->result = malloc (4);
            undo->result_size = 4;
        }
        else
            undo->saved_rec = wp_worker_new ();
    }
    CHECK (log.count == 3000);
    for (size_t i = 0; i < log.count; i++)
        CHECK (log.entries [i].attempts == i);
    //  A savepoint's mark at 1000: what follows goes, what precedes stays
    wp_mem_undo_truncate (&log, 1000);
    CHECK (log.count == 1000);
    CHECK (log.entries [999].attempts == 999);
    wp_mem_undo_add (&log, WP_UNDO_POOL)->paused = true;
    CHECK (log.entries [1000].kind == WP_UNDO_POOL && log.entries [1000].paused);
    wp_mem_undo_truncate (&log, 0);
    CHECK (log.count == 0 && log.entries == NULL && log.capacity == 0);
    wp_mem_undo_add (&log, WP_UNDO_ITEM_NEW);
    wp_mem_undo_truncate (&log, 0);
    CHECK (log.capacity > 0);       //  a small one is kept for the next group
    wp_mem_undo_release (&log);
    printf ("test_mem_undo: ok\n");
    return 0;
}
