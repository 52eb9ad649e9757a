/*  memtest: the few helpers the memory store's tests share: checks that
    stop the test at the first failure (naming the line and the store's
    message) and the hand-moved clock, from wp_test.h, and push/claim
    shorthands.  */
#ifndef WP_MEMTEST_H_INCLUDED
#define WP_MEMTEST_H_INCLUDED

#include "wp_test.h"

//  Pushes a one-byte value with the given id and max_retries (-1: default)
static inline void
memtest_push (wp_store_t *store, const char *pool, const char *id, int64_t max_retries)
{
    static const uint8_t data [] = { 0xc0 };  //  msgpack nil
    wp_push_entry_t entry = { data, sizeof data, id, max_retries };
    char *id_out = NULL;
    bool duplicate = true;
    CHECK_OK (store, wp_store_push (store, pool, &entry, &id_out, &duplicate));
    CHECK (strcmp (id_out, id) == 0);
    CHECK (!duplicate);
    free (id_out);
}

//  Claims for worker with the given lease; returns the claimed id (caller
//  frees) or NULL if nothing was pending
static inline char *
memtest_claim (wp_store_t *store, const char *pool, const char *worker, double lease)
{
    wp_item_t *item = NULL;
    CHECK_OK (store, wp_store_claim (store, pool, worker, lease, &item));
    if (!item)
        return NULL;
    CHECK (item->status == WP_ITEM_CLAIMED);
    CHECK (strcmp (item->claimed_by, worker) == 0);
    char *id = strdup (item->id);
    CHECK (id);
    wp_item_destroy (&item);
    return id;
}

//  Claims and checks that the claimed item is expect (NULL: none)
#define CHECK_CLAIM(store, pool, worker, lease, expect) do { \
    char *got_ = memtest_claim (store, pool, worker, lease); \
    const char *want_ = (expect); \
    if (want_ ? !got_ || strcmp (got_, want_) != 0 : got_ != NULL) { \
        fprintf (stderr, "%s:%d: claimed '%s', expected '%s'\n", __FILE__, __LINE__, \
                 got_ ? got_ : "(none)", want_ ? want_ : "(none)"); \
        abort (); \
    } \
    free (got_); \
} while (0)

#endif
