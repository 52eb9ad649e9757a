/*  wp_broker_stream: the subscriptions of WorkPool.Subscribe (see
    wp_broker_stream.h). A subscription's credit left is its credit less
    the items it holds; an item is held from the claim that streams it (in
    the open transaction) until it is acknowledged. The journal records
    every change in the order made; undoing it newest first restores the
    table exactly, whatever the transaction did to the same item or the
    same (pool, worker) several times over.  */
#include "wp_broker_stream.h"
#include "wp_broker_exec.h"

#define S_SEP   "\x1f"          //  between pool and worker / id in keys: never in a name

struct _wp_stream_t {
    wp_streams_t *table;
    wp_call_t *call;            //  the Subscribe call it belongs to
    char *key;                  //  pool S_SEP worker_id
    zhashx_t *held;             //  item id -> (void *) 1: streamed, not acknowledged
    bool registered;            //  in table->subs under key
    bool ended;                 //  ended in the open transaction, final reply due
    wp_status end_status;
    const char *end_message;
    size_t bytes;               //  data bytes streamed in the open transaction
};

typedef enum {
    S_HOLD,                     //  call took id
    S_RETURN,                   //  call's id was acknowledged (or lost)
    S_REGISTER,                 //  call registered under its key
    S_END,                      //  call ended (unregistered), final reply due
    S_MOVE                      //  every id of other moved to call (a replacement)
} s_op;

typedef struct {
    s_op op;
    wp_call_t *call;
    wp_call_t *other;           //  S_MOVE: the subscription the ids came from
    char *id;                   //  S_HOLD, S_RETURN (owned)
} s_entry_t;

struct _wp_streams_t {
    zhashx_t *subs;             //  pool S_SEP worker_id -> wp_call_t
    zhashx_t *holders;          //  pool S_SEP item id -> wp_call_t holding it
    s_entry_t *journal;
    size_t journal_size, journal_capacity;
    zlistx_t *ended;            //  wp_call_t ended in the open transaction
    wp_counters_t *counters;
};

static char *
s_key (const char *pool, const char *name)
{
    char *key;
    if (asprintf (&key, "%s" S_SEP "%s", pool, name) < 0)
        abort ();
    return key;
}

static void
s_log_entry (wp_streams_t *self, s_op op, wp_call_t *call, wp_call_t *other, const char *id)
{
    if (self->journal_size == self->journal_capacity) {
        self->journal_capacity = self->journal_capacity ? self->journal_capacity * 2 : 64;
        self->journal = realloc (self->journal, self->journal_capacity * sizeof *self->journal);
        if (!self->journal)
            abort ();
    }
    char *copy = NULL;
    if (id && !(copy = strdup (id)))
        abort ();
    self->journal [self->journal_size++] = (s_entry_t) { op, call, other, copy };
}

wp_streams_t *
wp_streams_new (wp_counters_t *counters)
{
    wp_streams_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    self->subs = zhashx_new ();
    self->holders = zhashx_new ();
    self->ended = zlistx_new ();
    self->counters = counters;
    return self;
}

static void
s_journal_clear (wp_streams_t *self)
{
    for (size_t i = 0; i < self->journal_size; i++)
        free (self->journal [i].id);
    self->journal_size = 0;
}

void
wp_streams_destroy (wp_streams_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wp_streams_t *self = *self_p;
    assert (zhashx_size (self->subs) == 0);
    s_journal_clear (self);
    free (self->journal);
    zhashx_destroy (&self->subs);
    zhashx_destroy (&self->holders);
    zlistx_destroy (&self->ended);
    free (self);
    *self_p = NULL;
}

size_t
wp_streams_size (wp_streams_t *self)
{
    return zhashx_size (self->subs);
}

//  ---------------------------------------------------------------------
//  The primitive changes; each journaled unless undoing

static void
s_hold (wp_streams_t *self, wp_call_t *call, const char *id, bool journal)
{
    char *key = s_key (call->request.pool, id);
    zhashx_update (self->holders, key, call);
    free (key);
    zhashx_update (call->stream->held, id, (void *) 1);
    if (journal)
        s_log_entry (self, S_HOLD, call, NULL, id);
}

static void
s_unhold (wp_streams_t *self, wp_call_t *call, const char *id, bool journal)
{
    char *key = s_key (call->request.pool, id);
    if (zhashx_lookup (self->holders, key) == call)
        zhashx_delete (self->holders, key);
    free (key);
    zhashx_delete (call->stream->held, id);
    if (journal)
        s_log_entry (self, S_RETURN, call, NULL, id);
}

static void
s_register (wp_streams_t *self, wp_call_t *call, bool journal)
{
    zhashx_update (self->subs, call->stream->key, call);
    call->stream->registered = true;
    if (journal)
        s_log_entry (self, S_REGISTER, call, NULL, NULL);
}

static void
s_unregister (wp_streams_t *self, wp_call_t *call)
{
    wp_stream_t *stream = call->stream;
    if (stream->registered && zhashx_lookup (self->subs, stream->key) == call)
        zhashx_delete (self->subs, stream->key);
    stream->registered = false;
}

//  Moves every id held by from to to.
static void
s_move (wp_streams_t *self, wp_call_t *from, wp_call_t *to)
{
    zlistx_t *ids = zhashx_keys (from->stream->held);
    for (const char *id = zlistx_first (ids); id; id = zlistx_next (ids)) {
        s_unhold (self, from, id, false);
        s_hold (self, to, id, false);
    }
    zlistx_destroy (&ids);
}

//  Ends call (journaled): out of the table, final reply status due.
static void
s_end (wp_streams_t *self, wp_call_t *call, wp_status status, const char *message)
{
    wp_stream_t *stream = call->stream;
    if (stream->ended)
        return;
    s_unregister (self, call);
    stream->ended = true;
    stream->end_status = status;
    stream->end_message = message;
    zlistx_add_end (self->ended, call);
    s_log_entry (self, S_END, call, NULL, NULL);
}

//  ---------------------------------------------------------------------

void
wp_stream_destroy (wp_stream_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    wp_stream_t *self = *self_p;
    wp_streams_t *table = self->table;
    s_unregister (table, self->call);
    zlistx_t *ids = zhashx_keys (self->held);
    for (const char *id = zlistx_first (ids); id; id = zlistx_next (ids))
        s_unhold (table, self->call, id, false);
    zlistx_destroy (&ids);
    zhashx_destroy (&self->held);
    free (self->key);
    free (self);
    *self_p = NULL;
}

size_t
wp_stream_held (const wp_call_t *call)
{
    return call->stream ? zhashx_size (call->stream->held) : 0;
}

static size_t
s_credit_left (const wp_call_t *call)
{
    size_t held = zhashx_size (call->stream->held);
    return held < call->request.credit ? call->request.credit - held : 0;
}

bool
wp_stream_wants (const wp_call_t *call, size_t max_message)
{
    const wp_stream_t *stream = call->stream;
    return !stream->ended && s_credit_left (call) > 0
        && (max_message == 0 || stream->bytes < max_message);
}

static uint64_t
s_item_bytes (const wp_item_t *item)
{
    return 512 + item->data_size + item->result_size;
}

//  Claims up to max into call's reply; 0..max, or -1 (store failed).
static int
s_claim (wp_call_t *call, wp_exec_env_t *env, size_t max, bool *again)
{
    wp_streams_t *self = env->streams;
    wp_request_t *req = &call->request;
    wp_stream_t *stream = call->stream;
    size_t max_message = env->config->max_message;
    size_t room = max_message ? max_message - stream->bytes : 0;
    wp_item_list_t *items = NULL;
    wp_status rc = wp_store_claim_many (env->store, req->pool, req->worker_id, max, req->lease,
                                        room, &items);
    if (rc != WP_OK) {
        zsys_error ("streaming to %s on %s: %s: %s", req->worker_id, req->pool,
                    wp_strerror (rc), wp_store_errmsg (env->store));
        return -1;
    }
    size_t got = items->count;
    if (!call->reply.items)
        call->reply.items = wp_item_list_new ();
    uint64_t estimate = 0;
    for (size_t i = 0; i < got; i++) {
        wp_item_t *item = items->items [i];
        //  A lapsed claim of another subscription, taken again: it is no
        //  longer that one's
        char *key = s_key (req->pool, item->id);
        wp_call_t *holder = zhashx_lookup (self->holders, key);
        free (key);
        if (holder && holder != call)
            s_unhold (self, holder, item->id, true);
        s_hold (self, call, item->id, true);
        stream->bytes += item->data_size + item->result_size;
        estimate += s_item_bytes (item);
        items->items [i] = NULL;
        wp_item_list_append (call->reply.items, &item);
    }
    items->count = 0;
    wp_item_list_destroy (&items);
    //  Reckoned in the connection's pending bytes until sent
    call->reply_estimate += estimate;
    *wp_peer_pending (call->peer) += estimate;
    *again = got > 0 && got < max && max_message && stream->bytes > max_message / 2;
    return (int) got;
}

int
wp_stream_serve (wp_call_t *call, wp_exec_env_t *env, bool *again)
{
    *again = false;
    size_t max = s_credit_left (call);
    if (max == 0 || call->stream->ended)
        return 0;
    return s_claim (call, env, max, again);
}

int
wp_stream_subscribe (wp_call_t *call, wp_exec_env_t *env)
{
    wp_streams_t *self = env->streams;
    wp_request_t *req = &call->request;
    wp_stream_t *stream = calloc (1, sizeof *stream);
    if (!stream)
        abort ();
    stream->table = self;
    stream->call = call;
    stream->key = s_key (req->pool, req->worker_id);
    stream->held = zhashx_new ();
    call->stream = stream;
    wp_call_t *old = zhashx_lookup (self->subs, stream->key);
    size_t inherited = old ? zhashx_size (old->stream->held) : 0;
    if (inherited < req->credit) {
        bool again = false;
        if (s_claim (call, env, req->credit - inherited, &again) < 0) {
            wp_stream_destroy (&call->stream);
            wp_call_set_error (call, WP_INTERNAL, wp_store_errmsg (env->store));
            return -1;
        }
    }
    if (old) {
        s_end (self, old, WP_CANCELLED, "replaced by a newer Subscribe of the same worker "
               "on the same pool; it took over the items not yet acknowledged");
        s_move (self, old, call);
        s_log_entry (self, S_MOVE, call, old, NULL);
    }
    s_register (self, call, true);
    return 0;
}

void
wp_streams_unsubscribe (wp_streams_t *self, const char *pool, const char *worker_id)
{
    char *key = s_key (pool, worker_id);
    wp_call_t *call = zhashx_lookup (self->subs, key);
    free (key);
    if (call)
        s_end (self, call, WP_OK, NULL);
}

//  Returns the credit of (pool, id) if a subscription holds it and the
//  acknowledgement counts for it; wakes its pool.
static void
s_acknowledge (wp_streams_t *self, wp_exec_env_t *env, const char *pool, const char *id,
               const char *worker_id, wp_status status)
{
    if (status != WP_OK && status != WP_NOT_FOUND && status != WP_FAILED_PRECONDITION)
        return;
    char *key = s_key (pool, id);
    wp_call_t *holder = zhashx_lookup (self->holders, key);
    free (key);
    if (!holder)
        return;
    //  Another worker's Complete refused because this one holds the claim:
    //  the item has not left this worker's hands
    if (status == WP_FAILED_PRECONDITION && worker_id
    &&  strcmp (worker_id, holder->request.worker_id))
        return;
    s_unhold (self, holder, id, true);
    zhashx_insert (env->woken, pool, (void *) 1);
}

void
wp_streams_acknowledge (wp_streams_t *self, const wp_call_t *call, wp_exec_env_t *env)
{
    if (zhashx_size (self->holders) == 0)
        return;
    const wp_request_t *req = &call->request;
    const wp_reply_t *reply = &call->reply;
    switch (req->method) {
        case WP_METHOD_COMPLETE:
        case WP_METHOD_FAIL:
        case WP_METHOD_COMPLETE_AND_CLAIM:
            s_acknowledge (self, env, req->pool, req->id, req->worker_id, reply->status);
            break;
        case WP_METHOD_COMPLETE_MANY:
            if (reply->status == WP_OK && reply->entry_statuses)
                for (size_t i = 0; i < reply->entry_count && i < req->completion_count; i++)
                    s_acknowledge (self, env, req->pool, req->completions [i].id,
                                   req->worker_id, reply->entry_statuses [i]);
            break;
        case WP_METHOD_RELEASE_BY_WORKER: {
            if (reply->status != WP_OK)
                break;
            char *key = s_key (req->pool, req->worker_id);
            wp_call_t *sub = zhashx_lookup (self->subs, key);
            free (key);
            if (!sub || zhashx_size (sub->stream->held) == 0)
                break;
            zlistx_t *ids = zhashx_keys (sub->stream->held);
            for (const char *id = zlistx_first (ids); id; id = zlistx_next (ids))
                s_unhold (self, sub, id, true);
            zlistx_destroy (&ids);
            zhashx_insert (env->woken, req->pool, (void *) 1);
            break;
        }
        default:
            break;
    }
}

void
wp_streams_check (wp_streams_t *self, wp_exec_env_t *env, bool workers_lost)
{
    if (zhashx_size (self->subs) == 0)
        return;
    zlistx_t *calls = zhashx_values (self->subs);
    for (wp_call_t *call = zlistx_first (calls); call; call = zlistx_next (calls)) {
        const char *pool = call->request.pool, *worker_id = call->request.worker_id;
        bool woke = false;
        zlistx_t *ids = zhashx_keys (call->stream->held);
        for (const char *id = zlistx_first (ids); id; id = zlistx_next (ids)) {
            wp_item_t *item = NULL;
            wp_status rc = wp_store_get (env->store, pool, id, &item);
            bool held = rc != WP_OK || (item && item->status == WP_ITEM_CLAIMED
                                        && item->claimed_by
                                        && streq (item->claimed_by, worker_id));
            //  A store failure keeps the item held: better a credit late
            //  than an item streamed twice
            if (rc == WP_NOT_FOUND)
                held = false;
            if (!held) {
                s_unhold (self, call, id, true);
                woke = true;
            }
            wp_item_destroy (&item);
        }
        zlistx_destroy (&ids);
        if (workers_lost) {
            wp_worker_t *worker = NULL;
            if (wp_store_get_worker (env->store, worker_id, &worker) == WP_OK && worker
            &&  worker->status && streq (worker->status, "lost"))
                s_end (self, call, WP_FAILED_PRECONDITION, "the worker was declared lost "
                       "(no heartbeat); its items were returned: register again");
            wp_worker_destroy (&worker);
        }
        if (woke)
            zhashx_insert (env->woken, pool, (void *) 1);
    }
    zlistx_destroy (&calls);
}

wp_call_t *
wp_streams_first_ended (wp_streams_t *self)
{
    for (wp_call_t *call = zlistx_first (self->ended); call; call = zlistx_next (self->ended))
        if (call->stream->ended)
            return call;
    return NULL;
}

wp_call_t *
wp_streams_next_ended (wp_streams_t *self)
{
    for (wp_call_t *call = zlistx_next (self->ended); call; call = zlistx_next (self->ended))
        if (call->stream->ended)
            return call;
    return NULL;
}

wp_status
wp_stream_end_status (const wp_call_t *call)
{
    return call->stream->end_status;
}

const char *
wp_stream_end_message (const wp_call_t *call)
{
    return call->stream->end_message;
}

void
wp_stream_close (wp_call_t *call)
{
    if (call->stream)
        s_unregister (call->stream->table, call);
}

void
wp_stream_sent (wp_call_t *call)
{
    wp_stream_t *stream = call->stream;
    if (call->reply.items)
        stream->table->counters->stream_items += call->reply.items->count;
    stream->table->counters->stream_messages++;
    *wp_peer_pending (call->peer) -= call->reply_estimate;
    call->reply_estimate = 0;
    stream->bytes = 0;
    call->served = false;
    wp_call_reset_reply (call);
}

void
wp_streams_commit (wp_streams_t *self)
{
    for (size_t i = 0; i < self->journal_size; i++)
        if (self->journal [i].op == S_RETURN)
            self->counters->stream_credits_returned++;
    s_journal_clear (self);
}

void
wp_streams_undo (wp_streams_t *self)
{
    while (self->journal_size > 0) {
        s_entry_t *entry = &self->journal [--self->journal_size];
        wp_call_t *call = entry->call;
        switch (entry->op) {
            case S_HOLD:
                s_unhold (self, call, entry->id, false);
                break;
            case S_RETURN:
                s_hold (self, call, entry->id, false);
                break;
            case S_REGISTER:
                s_unregister (self, call);
                break;
            case S_END:
                call->stream->ended = false;
                s_register (self, call, false);
                break;
            case S_MOVE:
                s_move (self, call, entry->other);
                break;
        }
        free (entry->id);
    }
    //  What this transaction streamed is not: the claims were rolled back
    zlistx_t *calls = zhashx_values (self->subs);
    for (wp_call_t *call = zlistx_first (calls); call; call = zlistx_next (calls))
        call->stream->bytes = 0;
    zlistx_destroy (&calls);
    zlistx_purge (self->ended);
}

void
wp_streams_clear_ended (wp_streams_t *self)
{
    zlistx_purge (self->ended);
}
