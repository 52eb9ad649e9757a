/*  wp_broker_exec: runs one decoded request against the store, inside the
    transaction the actor has open, and builds its reply. Nothing here
    touches a socket or decides when to commit; it only reports what the
    actor must know: that a claim found nothing and should wait, that a
    pool may have gained pending items (so parked claims get a look), or
    that a request failed after changing something (so the batch must run
    again without it: a request fails alone and leaves no trace).  */
#include "wp_broker_impl.h"

#include <assert.h>

#ifndef WP_VERSION
#   define WP_VERSION "0"
#endif

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

//  Marks pool as one where parked claims may now find an item.
static void
s_wake (wp_exec_env_t *env, const char *pool)
{
    zhashx_insert (env->woken, pool, (void *) 1);
}

//  Sets the reply to the store's latest failure.
static wp_exec_result
s_store_error (wp_call_t *call, wp_exec_env_t *env, wp_status status)
{
    wp_call_set_error (call, status, wp_store_errmsg (env->store));
    return WP_EXEC_DONE;
}

static void
s_reply_ids (wp_reply_t *reply, size_t count)
{
    reply->ids = calloc (count, sizeof *reply->ids);
    reply->duplicates = calloc (count, sizeof *reply->duplicates);
    if (!reply->ids || !reply->duplicates)
        abort ();
}

static wp_exec_result
s_push (wp_call_t *call, wp_exec_env_t *env)
{
    wp_request_t *req = &call->request;
    wp_reply_t *reply = &call->reply;
    //  wp_request_decode_body has checked the pool, the count and every
    //  entry as wp_store_push would, so a PushMany with a bad entry never
    //  gets here; a store failure half-way is PARTIAL and rolled back.
    assert (req->entry_count > 0);
    s_reply_ids (reply, req->entry_count);
    bool woken = false;
    for (size_t i = 0; i < req->entry_count; i++) {
        wp_status rc = wp_store_push (env->store, req->pool, &req->entries [i],
                                      &reply->ids [i], &reply->duplicates [i]);
        if (rc != WP_OK) {
            wp_call_set_error (call, rc, wp_store_errmsg (env->store));
            return i > 0 ? WP_EXEC_PARTIAL : WP_EXEC_DONE;
        }
        reply->id_count = i + 1;
        if (!reply->duplicates [i])
            woken = true;
    }
    if (woken)
        s_wake (env, req->pool);
    return WP_EXEC_DONE;
}

//  True for the answers wp_store_complete gives about one entry (its
//  preconditions), which CompleteMany reports per entry; any other failure
//  is the store's and fails the whole request.
static bool
s_entry_outcome (wp_status rc)
{
    return rc == WP_OK || rc == WP_NOT_FOUND || rc == WP_FAILED_PRECONDITION
        || rc == WP_INVALID_ARGUMENT;
}

//  CompleteMany: each entry as Complete, in order, in this transaction. A
//  failed precondition changes nothing, so the next entries still run.
static wp_exec_result
s_complete_many (wp_call_t *call, wp_exec_env_t *env)
{
    wp_request_t *req = &call->request;
    wp_reply_t *reply = &call->reply;
    //  (wp_request_decode_body has checked the count: 1 to WP_BATCH_MAX)
    size_t count = req->completion_count;
    reply->entry_statuses = calloc (count, sizeof *reply->entry_statuses);
    reply->entry_messages = calloc (count, sizeof *reply->entry_messages);
    if (!reply->entry_statuses || !reply->entry_messages)
        abort ();
    reply->entry_count = count;
    bool changed = false;
    for (size_t i = 0; i < count; i++) {
        const wp_complete_entry_t *entry = &req->completions [i];
        wp_status rc = wp_store_complete (env->store, req->pool, entry->id, entry->result,
                                          entry->result_size, req->worker_id);
        if (!s_entry_outcome (rc)) {
            wp_call_set_error (call, rc, wp_store_errmsg (env->store));
            return changed ? WP_EXEC_PARTIAL : WP_EXEC_DONE;
        }
        reply->entry_statuses [i] = rc;
        reply->entry_messages [i] = wp_strdup (rc == WP_OK ? "" : wp_store_errmsg (env->store));
        changed |= rc == WP_OK;
    }
    return WP_EXEC_DONE;
}

//  Claims the items the call asks for (Claim: one; ClaimMany: up to max)
//  into its reply. Returns how many, or -1 if the first claim failed
//  (reply is the error). A ClaimMany stops
//  early once its items carry max_message bytes of data, so that a reply
//  stays within twice the request limit (what a client accepts, like us)
//  however large the items are.
static int
s_claim_into (wp_call_t *call, wp_exec_env_t *env)
{
    wp_request_t *req = &call->request;
    wp_reply_t *reply = &call->reply;
    size_t want = req->method == WP_METHOD_CLAIM_MANY ? req->max : 1;
    size_t got = 0, bytes = 0;
    while (got < want && bytes < env->config->max_message) {
        wp_item_t *item = NULL;
        wp_status rc = wp_store_claim (env->store, req->pool, req->worker_id, req->lease, &item);
        if (rc != WP_OK) {
            if (got == 0) {
                wp_call_set_error (call, rc, wp_store_errmsg (env->store));
                return -1;
            }
            break;              //  keep what was claimed: a shorter list is a valid answer
        }
        if (!item)
            break;
        bytes += item->data_size + item->result_size;
        if (req->method == WP_METHOD_CLAIM_MANY) {
            if (!reply->items)
                reply->items = wp_item_list_new ();
            wp_item_list_append (reply->items, &item);
        }
        else
            reply->item = item;
        got++;
    }
    return (int) got;
}

//  Claim, ClaimMany, and the claim half of CompleteAndClaim.
static wp_exec_result
s_claim (wp_call_t *call, wp_exec_env_t *env, bool completed)
{
    int got = s_claim_into (call, env);
    if (got < 0)
        return completed ? WP_EXEC_PARTIAL : WP_EXEC_DONE;
    if (got == 0 && call->request.wait > 0)
        return WP_EXEC_PARK;
    if (got == 0)
        wp_call_set_no_item (call);
    return WP_EXEC_DONE;
}

int
wp_call_claim_parked (wp_call_t *call, wp_exec_env_t *env)
{
    int got = s_claim_into (call, env);
    return got < 0 ? -1 : got > 0;
}

static wp_exec_result
s_stats (wp_call_t *call, wp_exec_env_t *env)
{
    wp_stats_t *stats = NULL;
    wp_status rc = wp_store_stats (env->store, &stats);
    if (rc != WP_OK)
        return s_store_error (call, env, rc);
    wp_counters_export (env->counters, wp_parked_size (env->parked), stats);
    call->reply.stats = stats;
    return WP_EXEC_DONE;
}

wp_exec_result
wp_call_execute (wp_call_t *call, wp_exec_env_t *env)
{
    wp_request_t *req = &call->request;
    wp_reply_t *reply = &call->reply;
    wp_store_t *store = env->store;
    wp_call_reset_reply (call);
    wp_status rc = WP_OK;

    switch (req->method) {
        case WP_METHOD_PUSH:
        case WP_METHOD_PUSH_MANY:
            return s_push (call, env);

        case WP_METHOD_CLAIM:
        case WP_METHOD_CLAIM_MANY:
            return s_claim (call, env, false);

        case WP_METHOD_COMPLETE_AND_CLAIM:
            rc = wp_store_complete (store, req->pool, req->id, req->result, req->result_size,
                                    req->worker_id);
            if (rc != WP_OK)
                return s_store_error (call, env, rc);
            return s_claim (call, env, true);

        case WP_METHOD_COMPLETE:
            rc = wp_store_complete (store, req->pool, req->id, req->result, req->result_size,
                                    req->worker_id);
            break;

        case WP_METHOD_COMPLETE_MANY:
            return s_complete_many (call, env);

        case WP_METHOD_FAIL:
            rc = wp_store_fail (store, req->pool, req->id, req->error, req->worker_id,
                                &reply->item_state);
            if (rc == WP_OK && reply->item_state == WP_ITEM_PENDING)
                s_wake (env, req->pool);
            break;

        case WP_METHOD_SIZE:
            rc = wp_store_size (store, req->pool, &reply->count);
            break;

        case WP_METHOD_RELEASE_BY_WORKER:
            rc = wp_store_release_by_worker (store, req->pool, req->worker_id, &reply->count);
            if (rc == WP_OK && reply->count > 0)
                s_wake (env, req->pool);
            break;

        case WP_METHOD_GET:
            rc = wp_store_get (store, req->pool, req->id, &reply->item);
            break;

        case WP_METHOD_RENEW:
            rc = wp_store_renew (store, req->worker_id, req->lease, &reply->count);
            break;

        case WP_METHOD_REGISTER:
            rc = wp_store_register (store, req->worker, &reply->worker);
            break;

        case WP_METHOD_HEARTBEAT:
            rc = wp_store_heartbeat (store, req->worker_id, &req->metadata);
            break;

        case WP_METHOD_UPDATE_STATUS:
            rc = wp_store_update_status (store, req->worker_id, req->status);
            break;

        case WP_METHOD_GET_WORKER:
            rc = wp_store_get_worker (store, req->worker_id, &reply->worker);
            break;

        case WP_METHOD_LIST_WORKERS: {
            wp_worker_filter_t filter = {
                .statuses = (const char *const *) req->statuses,
                .status_count = req->status_count,
                .capability = req->capability,
                .pool_id = req->pool_id,
                .stale_threshold = req->stale_threshold
            };
            rc = wp_store_list_workers (store, &filter, &reply->workers);
            break;
        }
        case WP_METHOD_STATS:
            return s_stats (call, env);

        case WP_METHOD_PING:
            reply->server = wp_strdup ("workpoold " WP_VERSION);
            reply->time = wp_time_now ();
            reply->max_message = env->config->max_message;
            break;

        default:
            wp_call_set_error (call, WP_UNIMPLEMENTED, "method not implemented");
            return WP_EXEC_DONE;
    }
    if (rc != WP_OK)
        return s_store_error (call, env, rc);
    return WP_EXEC_DONE;
}
