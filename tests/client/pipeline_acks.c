/*  pipeline_acks: wp_pipeline_complete and wp_pipeline_fail beside
    pipeline.c's pushes, on a broker and in-process: one completion each,
    in any order, with the synchronous calls' outcomes (a fail's new state,
    FAILED_PRECONDITION for an item not held, INVALID_ARGUMENT for a bad
    argument, without stopping the others), never more than the window in
    flight; and with a retry interval so short that completes are resent
    while their first copy is on its way: every refused resend whose first
    copy took effect is reported as that copy's success.  */
#include "client_util.h"
#include "wp_limits.h"

#include <string.h>

#define S_ITEMS  300
#define S_WINDOW 16

//  Pushes count items and claims them all for worker; returns the items.
static wp_item_list_t *
s_claimed (wp_backend_t *backend, wp_pool_t *pool, size_t count, const char *worker)
{
    wp_push_entry_t entries [S_ITEMS];
    uint8_t data [S_ITEMS][9];
    char *ids [S_ITEMS];
    CT_CHECK (count <= S_ITEMS);
    for (size_t i = 0; i < count; i++)
        entries [i] = (wp_push_entry_t) { data [i], ct_pack_uint (data [i], i), NULL, 5 };
    CT_OK (backend, wp_pool_push_many (pool, entries, count, ids, NULL));
    for (size_t i = 0; i < count; i++)
        free (ids [i]);
    wp_item_list_t *list = NULL;
    CT_OK (backend, wp_pool_claim_many (pool, worker, count, NULL, &list));
    CT_CHECK (list->count == count);
    return list;
}

static void
s_acks (const char *spec, const char *label)
{
    wp_backend_t *backend = ct_open (spec, 30);
    wp_pool_t *pool = wp_backend_pool (backend, "acks");
    wp_item_list_t *list = s_claimed (backend, pool, S_ITEMS, "acker");
    wp_pipeline_t *pipeline = wp_pipeline_new (backend, S_WINDOW);
    //  Tags: 1 + the item's position, then the extra requests
    for (size_t i = 0; i < S_ITEMS; i++) {
        const wp_item_t *item = list->items [i];
        void *tag = (void *) (intptr_t) (i + 1);
        if (i < 150)
            wp_pipeline_complete (pipeline, "acks", item->id, item->data, item->data_size,
                                  "acker", tag);
        else
        if (i < 225)
            wp_pipeline_fail (pipeline, "acks", item->id, "boom", "acker", tag);
        else
            wp_pipeline_complete (pipeline, "acks", item->id, NULL, 0, NULL, tag);
    }
    //  Not held any more: refused, like the synchronous call
    wp_pipeline_complete (pipeline, "acks", list->items [0]->id, NULL, 0, "acker",
                          (void *) (intptr_t) 1001);
    wp_pipeline_complete (pipeline, "acks", NULL, NULL, 0, "acker", (void *) (intptr_t) 1002);
    wp_pipeline_fail_after (pipeline, "acks", list->items [1]->id, NULL, -1, "acker",
                            (void *) (intptr_t) 1003);
    wp_pipeline_fail (pipeline, NULL, list->items [1]->id, NULL, "acker",
                      (void *) (intptr_t) 1004);
    int seen [S_ITEMS + 1] = { 0 };
    int extras = 0;
    wp_completion_t *done;
    while ((done = wp_pipeline_next (pipeline))) {
        intptr_t tag = (intptr_t) done->tag;
        if (tag > 1000) {
            extras++;
            wp_status expected = tag == 1001 ? WP_FAILED_PRECONDITION : WP_INVALID_ARGUMENT;
            if (done->status != expected)
                fprintf (stderr, "%s: tag %ld: %s: %s\n", label, (long) tag,
                         wp_strerror (done->status), done->message);
            CT_CHECK (done->status == expected && *done->message);
        }
        else {
            CT_CHECK (tag >= 1 && tag <= S_ITEMS);
            if (done->status != WP_OK)
                fprintf (stderr, "%s: item %ld: %s: %s\n", label, (long) tag,
                         wp_strerror (done->status), done->message);
            CT_CHECK (done->status == WP_OK && done->count == 1 && !done->ids);
            if (tag > 150 && tag <= 225)
                CT_CHECK (done->state == WP_ITEM_PENDING);
            seen [tag]++;
        }
        wp_completion_destroy (&done);
    }
    //  Completion 1001 may only be refused once the first complete of item
    //  0 ran: requests of one connection run in order
    CT_CHECK (extras == 4);
    for (size_t i = 1; i <= S_ITEMS; i++)
        CT_CHECK (seen [i] == 1);
    CT_CHECK (wp_pipeline_in_flight (pipeline) == 0);
    CT_CHECK (wp_pipeline_max_in_flight (pipeline) <= S_WINDOW);
    if (streq (wp_backend_kind (backend), "remote"))
        CT_CHECK (wp_pipeline_max_in_flight (pipeline) > 1);
    wp_stats_t *stats = NULL;
    CT_OK (backend, wp_backend_stats (backend, &stats));
    const wp_pool_stats_t *counts = ct_pool_stats (stats, "acks");
    CT_CHECK (counts->done == 225 && counts->pending == 75 && counts->claimed == 0);
    wp_stats_destroy (&stats);
    wp_item_t *item = NULL;
    CT_OK (backend, wp_pool_get (pool, list->items [3]->id, &item));
    CT_CHECK (item->status == WP_ITEM_DONE && item->result_size == list->items [3]->data_size);
    wp_item_destroy (&item);
    CT_OK (backend, wp_pool_get (pool, list->items [160]->id, &item));
    CT_CHECK (item->attempts == 1 && streq (item->error, "boom"));
    wp_item_destroy (&item);
    wp_pipeline_destroy (&pipeline);
    wp_item_list_destroy (&list);
    wp_pool_destroy (&pool);
    wp_backend_destroy (&backend);
    printf ("ok - %s: completes and fails in flight, each answered once\n", label);
}

//  Resends while the first copy is on its way: every refused resend is
//  checked, and the first copy's success reported.
static void
s_resends (const char *endpoint)
{
    wp_backend_options_t options = { .timeout = 30, .retry_interval = 0.0002 };
    wp_status rc;
    char *message = NULL;
    wp_backend_t *backend = wp_backend_open (endpoint, &options, &rc, &message);
    CT_CHECK (backend);
    wp_pool_t *pool = wp_backend_pool (backend, "resends");
    wp_item_list_t *list = s_claimed (backend, pool, S_ITEMS, "hasty");
    wp_pipeline_t *pipeline = wp_pipeline_new (backend, 64);
    for (int round = 0; round < 2; round++) {
        for (size_t i = round; i < S_ITEMS; i += 2) {
            if (round == 0)
                wp_pipeline_complete (pipeline, "resends", list->items [i]->id, NULL, 0,
                                      "hasty", NULL);
            else
                wp_pipeline_fail (pipeline, "resends", list->items [i]->id, "again", "hasty",
                                  NULL);
        }
    }
    int answered = 0;
    wp_completion_t *done;
    while ((done = wp_pipeline_next (pipeline))) {
        if (done->status != WP_OK)
            fprintf (stderr, "resends: %s: %s\n", wp_strerror (done->status), done->message);
        CT_CHECK (done->status == WP_OK);
        answered++;
        wp_completion_destroy (&done);
    }
    CT_CHECK (answered == S_ITEMS);
    wp_stats_t *stats = NULL;
    CT_OK (backend, wp_backend_stats (backend, &stats));
    const wp_pool_stats_t *counts = ct_pool_stats (stats, "resends");
    CT_CHECK (counts->done == S_ITEMS / 2 && counts->pending == S_ITEMS / 2);
    wp_stats_destroy (&stats);
    wp_pipeline_destroy (&pipeline);
    wp_item_list_destroy (&list);
    wp_pool_destroy (&pool);
    wp_backend_destroy (&backend);
    printf ("ok - resent completes and fails: each reported once, as its first copy did\n");
}

int
main (void)
{
    char *dir = ct_tempdir ("acks");
    s_acks ("memory", "memory");
    char *store = zsys_sprintf ("sqlite:%s/broker.db", dir);
    char *endpoint;
    zactor_t *broker = ct_broker_start (store, 0, 0, 0, &endpoint);
    s_acks (endpoint, "broker on sqlite");
    s_resends (endpoint);
    zactor_destroy (&broker);
    free (endpoint);
    free (store);
    ct_rmtree (dir);
    free (dir);
    return 0;
}
