/*  wp_inflight: many requests in flight on one remote store's connection,
    the machinery client/wp_pipeline.c and client/wp_subscription.c share.
    Internal to libworkpool.

    Each request is encoded once and kept as bytes: written when a
    connection takes it (ZMQ_IMMEDIATE: never queued for a broker that is
    not there), resent as is when its reply is late if it is safe to repeat
    (workpool.h's rules; the caller says which), and given up at its own
    deadline: WP_UNAVAILABLE if it never went out, WP_DEADLINE_EXCEEDED if
    it did. Replies are matched by request id in any order (a hash, so
    a thousand acknowledgements in flight cost no scan per reply). A
    Complete or Fail with a worker_id whose resend is refused with
    FAILED_PRECONDITION is checked with a Get (itself in flight, so other
    replies are not eaten meanwhile): if the first copy took effect, its
    success is reported, as wp_remote_store.c does for the synchronous
    calls. A stream request (Subscribe) has no deadline and gets many
    replies; the last is "final".

    With several endpoints (wp_remote_store.h) the engine moves the store
    to the next one when a resend falls due for a request written to the
    one in use, or when no connection took a write for the retry interval;
    every safe request in flight is then sent again at once, the others
    end at their deadlines (the monitor's news is raised, so a
    subscription subscribes again).

    Deadlines and resends are checked in send order (all requests of a
    handle share its retry interval), so a pump costs nothing for requests
    that are not due. One thread at a time, as for every call of the
    handle; synchronous calls on the same store between pumps drop the
    replies they do not expect, so a user of this module owns its store's
    connection (the subscription opens its own; the pipeline says so).  */
#ifndef WP_INFLIGHT_H_INCLUDED
#define WP_INFLIGHT_H_INCLUDED

#include "wp_store.h"
#include "wp_proto.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _wp_inflight_t wp_inflight_t;
typedef struct _wp_inflight_req_t wp_inflight_req_t;

//  One request in flight. The fields above the line are the owner's to
//  read (and tag, kind, count, extra to set after wp_inflight_start).
struct _wp_inflight_req_t {
    wp_method method;           //  as started (Get while a resend is checked)
    void *tag;                  //  the owner's
    int kind;                   //  the owner's
    size_t count;               //  the owner's (entries of a batch)
    void *extra;                //  the owner's; freed (free) with the request
    char *id;                   //  the item id of a Complete/Fail, or NULL
    wp_item_state state;        //  Fail: the state it left the item in, on WP_OK
    //  -----------------------------------------------------------------
    uint64_t request_id;
    uint8_t *header, *body;     //  the encoded request, resent as is
    size_t header_size, body_size;
    bool resend;                //  safe to send again when late
    bool stream;                //  many replies, no deadline
    int64_t deadline;           //  zclock_usecs; INT64_MAX: none
    int64_t last_sent;
    int sends;
    uint64_t moves_at_send;     //  the store's move count when last written
    //  The check of a refused resend: the original request's facts
    char *pool, *worker_id, *error;
    bool completing;
    bool checking;              //  the Get of the check is what is in flight now
    wp_status refused;          //  the refusal being checked, and its message
    char *refused_message;
    wp_inflight_req_t *prev, *next;     //  on one of the engine's lists
    int list;
};

//  Called for every reply of a request and when it ends otherwise
//  (deadline, refused handshake, lost connection). status OK: reply is the
//  decoded reply (its items, ids, ... may be taken by nulling them), else
//  reply may be NULL and message says why. final: the request is done and
//  freed when the callback returns (for a non-stream request always true).
typedef void (wp_inflight_fn) (void *owner, wp_inflight_req_t *req, wp_status status,
                               const char *message, wp_reply_t *reply, bool final);

//  An engine on store (a remote store, borrowed). fn gets owner.
wp_inflight_t *wp_inflight_new (wp_store_t *store, wp_inflight_fn *fn, void *owner);
//  Drops every request without a callback; nulls *self_p; safe on NULL.
void wp_inflight_destroy (wp_inflight_t **self_p);

//  Encodes request (its request_id and timeout_ms are set here) and queues
//  it: sent at once if a connection takes it. resend: safe to repeat.
//  stream: a Subscribe (no deadline, timeout_ms 0). timeout: seconds to
//  its deadline. Returns the request (owned by the engine), or NULL if it
//  cannot be encoded (a field missing).
wp_inflight_req_t *wp_inflight_start (wp_inflight_t *self, wp_request_t *request, bool resend,
                                      bool stream, double timeout);

//  Makes req a Complete (completing) or Fail (error, may be NULL) whose
//  refused resend is checked with a Get (see above). Copies the strings.
void wp_inflight_check_resend (wp_inflight_req_t *req, const char *pool, const char *id,
                               const char *worker_id, bool completing, const char *error);

//  Drops req without a callback (a stream whose connection is gone).
void wp_inflight_drop (wp_inflight_t *self, wp_inflight_req_t *req);

//  Sends what is due, ends what is past its deadline, and reads the
//  replies there are, waiting for the first until until_usecs (zclock_usecs;
//  <= now: not at all) or the next resend or deadline. watch: also wake
//  when the connection's monitor has news (a reconnect). Returns WP_OK, or
//  WP_CANCELLED if a signal interrupted the wait (zsys_interrupted; nothing
//  is ended), or WP_INTERNAL if the socket failed (every request then
//  ended with it).
wp_status wp_inflight_pump (wp_inflight_t *self, int64_t until_usecs, bool watch);

//  Ends every request (streams too) with status: a final callback each.
void wp_inflight_end_all (wp_inflight_t *self, wp_status status, const char *message);

//  True (once) if a pump's wait woke for the monitor since the last ask:
//  the connection's events are worth reading (wp_remote_store_disconnects).
//  While messages keep coming no wait happens, and none is needed: a lost
//  connection brings none, so the next wait sees its events.
bool wp_inflight_monitor_news (wp_inflight_t *self);

//  Requests in flight, streams not counted.
size_t wp_inflight_count (wp_inflight_t *self);

#ifdef __cplusplus
}
#endif
#endif
