/*  wp_broker_exec: runs one decoded request against the store, inside the
    transaction the actor has open, and builds its reply. Nothing here
    touches a socket or decides when to commit; it only reports what the
    actor must know: that a claim found nothing and should wait, or that a
    pool may have gained pending items (so parked claims get a look). Every
    store call, the batch calls included, changes nothing when it fails, so
    a request fails alone and leaves no trace.  */
#include "wp_broker_exec.h"

#ifndef WP_VERSION
#   define WP_VERSION "0"
#endif

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

//  Push and PushMany: one store call, all or nothing.
static wp_exec_result
s_push (wp_call_t *call, wp_exec_env_t *env)
{
    wp_request_t *req = &call->request;
    wp_reply_t *reply = &call->reply;
    size_t count = req->entry_count;
    char message [256];
    wp_status rc = wp_quota_check_push (env->quota, env->store, req->pool, req->entries,
                                        count, message, sizeof message);
    if (rc != WP_OK) {
        wp_call_set_error (call, rc, message);
        return WP_EXEC_DONE;
    }
    reply->ids = calloc (count, sizeof *reply->ids);
    reply->duplicates = calloc (count, sizeof *reply->duplicates);
    if (!reply->ids || !reply->duplicates)
        abort ();
    rc = req->method == WP_METHOD_PUSH
       ? wp_store_push (env->store, req->pool, req->entries, reply->ids, reply->duplicates)
       : wp_store_push_many (env->store, req->pool, req->entries, count, reply->ids,
                             reply->duplicates);
    if (rc != WP_OK)
        return s_store_error (call, env, rc);
    reply->id_count = count;
    for (size_t i = 0; i < count; i++)
        if (!reply->duplicates [i]) {
            s_wake (env, req->pool);
            break;
        }
    return WP_EXEC_DONE;
}

static wp_exec_result
s_complete_many (wp_call_t *call, wp_exec_env_t *env)
{
    wp_request_t *req = &call->request;
    wp_reply_t *reply = &call->reply;
    size_t count = req->completion_count;
    reply->entry_statuses = calloc (count, sizeof *reply->entry_statuses);
    reply->entry_messages = calloc (count, sizeof *reply->entry_messages);
    if (!reply->entry_statuses || !reply->entry_messages)
        abort ();
    wp_status rc = wp_store_complete_many (env->store, req->pool, req->completions, count,
                                           req->worker_id, reply->entry_statuses,
                                           reply->entry_messages);
    if (rc != WP_OK)
        return s_store_error (call, env, rc);
    reply->entry_count = count;
    return WP_EXEC_DONE;
}

//  Claims what the call asks for (Claim: one; ClaimMany: up to max, within
//  max_message bytes of data so a reply stays within what a client accepts)
//  into its reply. Returns how many, or -1 if the store failed (the reply is
//  the error).
static int
s_claim_into (wp_call_t *call, wp_exec_env_t *env)
{
    wp_request_t *req = &call->request;
    wp_reply_t *reply = &call->reply;
    wp_status rc;
    if (req->method == WP_METHOD_CLAIM_MANY) {
        wp_item_list_t *items = NULL;
        rc = wp_store_claim_many (env->store, req->pool, req->worker_id, req->max, req->lease,
                                  env->config->max_message, &items);
        if (rc == WP_OK) {
            size_t got = items->count;
            if (got > 0) {
                wp_item_list_destroy (&reply->items);
                reply->items = items;
            }
            else
                wp_item_list_destroy (&items);
            return (int) got;
        }
    }
    else {
        wp_item_t *item = NULL;
        rc = wp_store_claim (env->store, req->pool, req->worker_id, req->lease, &item);
        if (rc == WP_OK) {
            if (item)
                reply->item = item;
            return item != NULL;
        }
    }
    wp_call_set_error (call, rc, wp_store_errmsg (env->store));
    return -1;
}

//  Claim and ClaimMany: what there is, or park when nothing is and the
//  call may wait.
static wp_exec_result
s_claim (wp_call_t *call, wp_exec_env_t *env)
{
    int got = s_claim_into (call, env);
    if (got < 0)
        return WP_EXEC_DONE;
    if (got == 0 && call->request.wait > 0)
        return WP_EXEC_PARK;
    if (got == 0)
        wp_call_set_no_item (call);
    return WP_EXEC_DONE;
}

//  CompleteAndClaim: one atomic store call; a completion that succeeds and
//  finds nothing to claim parks the claim half (the completion stays).
static wp_exec_result
s_complete_and_claim (wp_call_t *call, wp_exec_env_t *env)
{
    wp_request_t *req = &call->request;
    wp_item_t *item = NULL;
    wp_status rc = wp_store_complete_and_claim (env->store, req->pool, req->id, req->result,
                                                req->result_size, req->worker_id, req->lease,
                                                &item);
    if (rc != WP_OK)
        return s_store_error (call, env, rc);
    call->reply.item = item;
    if (!item && req->wait > 0)
        return WP_EXEC_PARK;
    return WP_EXEC_DONE;
}

int
wp_call_claim_parked (wp_call_t *call, wp_exec_env_t *env, bool *again)
{
    bool more = false;
    if (again)
        *again = false;
    if (call->stream) {
        int got = wp_stream_serve (call, env, &more);
        if (again)
            *again = more;
        return got < 0 ? -1 : got > 0;
    }
    int got = s_claim_into (call, env);
    return got < 0 ? -1 : got > 0;
}

//  The item states a List or Purge names (the decoder has checked them).
static size_t
s_states (const wp_request_t *req, wp_item_state *states, size_t max)
{
    size_t count = 0;
    for (size_t i = 0; i < req->status_count && count < max; i++) {
        int state = wp_item_state_from_name (req->statuses [i]);
        if (state >= 0)
            states [count++] = (wp_item_state) state;
    }
    return count;
}

static wp_exec_result
s_list_items (wp_call_t *call, wp_exec_env_t *env)
{
    wp_request_t *req = &call->request;
    wp_item_state states [WP_STATUSES_MAX];
    size_t count = s_states (req, states, WP_STATUSES_MAX);
    wp_status rc = wp_store_list_items (env->store, req->pool, states, count, req->limit,
                                        req->cursor, &call->reply.items, &call->reply.cursor);
    return rc == WP_OK ? WP_EXEC_DONE : s_store_error (call, env, rc);
}

static wp_exec_result
s_purge_pool (wp_call_t *call, wp_exec_env_t *env)
{
    wp_request_t *req = &call->request;
    wp_item_state states [WP_STATUSES_MAX];
    size_t count = s_states (req, states, WP_STATUSES_MAX);
    wp_status rc = wp_store_purge_pool (env->store, req->pool, states, count,
                                        &call->reply.count);
    return rc == WP_OK ? WP_EXEC_DONE : s_store_error (call, env, rc);
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
            return s_claim (call, env);

        case WP_METHOD_COMPLETE_AND_CLAIM:
            return s_complete_and_claim (call, env);

        //  A subscription always parks: it waits for items until it ends
        case WP_METHOD_SUBSCRIBE:
            return wp_stream_subscribe (call, env) == 0 ? WP_EXEC_PARK : WP_EXEC_DONE;

        case WP_METHOD_UNSUBSCRIBE:
            wp_streams_unsubscribe (env->streams, req->pool, req->worker_id);
            break;

        case WP_METHOD_COMPLETE:
            rc = wp_store_complete (store, req->pool, req->id, req->result, req->result_size,
                                    req->worker_id);
            break;

        case WP_METHOD_COMPLETE_MANY:
            return s_complete_many (call, env);

        case WP_METHOD_FAIL:
            rc = wp_store_fail (store, req->pool, req->id, req->error, req->worker_id,
                                req->retry_after, &reply->item_state);
            //  Scheduled (a retry_after or the pool's backoff): nothing to
            //  claim until it falls due, when the broker's timer wakes the pool
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
        case WP_METHOD_LIST_ITEMS:
            return s_list_items (call, env);

        case WP_METHOD_RETRY:
            if (req->all)
                rc = wp_store_retry_all (store, req->pool, &reply->count);
            else {
                rc = wp_store_retry (store, req->pool, req->id);
                reply->count = 1;
            }
            if (rc == WP_OK && reply->count > 0)
                s_wake (env, req->pool);
            break;

        case WP_METHOD_CANCEL:
            rc = wp_store_cancel (store, req->pool, req->id);
            break;

        case WP_METHOD_PURGE:
            return s_purge_pool (call, env);

        case WP_METHOD_PAUSE:
        case WP_METHOD_RESUME:
            rc = wp_store_set_paused (store, req->pool, req->method == WP_METHOD_PAUSE);
            if (rc == WP_OK && req->method == WP_METHOD_RESUME)
                s_wake (env, req->pool);
            break;

        case WP_METHOD_SET_BACKOFF:
            rc = wp_store_set_backoff (store, req->pool, &req->backoff);
            break;

        //  A schedule's items come from the broker's housekeeping when its
        //  ticks fall due (next_due counts next_at), never from these calls
        case WP_METHOD_SCHEDULE_ADD:
            rc = wp_store_schedule_put (store, req->schedule, &reply->schedule);
            break;

        case WP_METHOD_SCHEDULE_LIST:
            rc = wp_store_schedule_list (store, &reply->schedules);
            break;

        case WP_METHOD_SCHEDULE_REMOVE:
            rc = wp_store_schedule_remove (store, req->name);
            break;

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
