/*  wp_proto: encoder and decoder of every workpool wire message
    (proto/PROTOCOL.md is the specification; this is its C form).

    A message is two ZeroMQ frames: a header and a body, each one msgpack
    value. This codec works on plain byte buffers and knows nothing of
    sockets. Decoders check every field's type and bounds and never read
    outside the buffer: malformed input is a status and a message, never an
    assert. Encoders produce the canonical form (keys in the documented
    order, smallest integer encodings), so decode + encode of a canonical
    message gives back the same bytes.

    Requests and replies are structs holding the union of all methods'
    fields; each method uses the fields PROTOCOL.md lists for it. Decoded
    structs own every pointer they hold; wp_request_clear / wp_reply_clear
    free them. Encoders borrow.  */
#ifndef WP_PROTO_H_INCLUDED
#define WP_PROTO_H_INCLUDED

#include "wp_status.h"
#include "wp_records.h"
#include "wp_limits.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WP_PROTO_VERSION        1
#define WP_PROTO_REQUEST_SIG    "WPQ"   //  first element of a request header
#define WP_PROTO_REPLY_SIG      "WPR"   //  first element of a reply header

typedef enum {
    WP_METHOD_UNKNOWN = 0,
    WP_METHOD_PUSH,                 //  "WorkPool.Push"
    WP_METHOD_PUSH_MANY,            //  "WorkPool.PushMany"
    WP_METHOD_CLAIM,                //  "WorkPool.Claim"
    WP_METHOD_CLAIM_MANY,           //  "WorkPool.ClaimMany"
    WP_METHOD_COMPLETE,             //  "WorkPool.Complete"
    WP_METHOD_FAIL,                 //  "WorkPool.Fail"
    WP_METHOD_COMPLETE_AND_CLAIM,   //  "WorkPool.CompleteAndClaim"
    WP_METHOD_SIZE,                 //  "WorkPool.Size"
    WP_METHOD_RELEASE_BY_WORKER,    //  "WorkPool.ReleaseByWorker"
    WP_METHOD_GET,                  //  "WorkPool.Get"
    WP_METHOD_RENEW,                //  "WorkPool.Renew"
    WP_METHOD_REGISTER,             //  "Registry.Register"
    WP_METHOD_HEARTBEAT,            //  "Registry.Heartbeat"
    WP_METHOD_UPDATE_STATUS,        //  "Registry.UpdateStatus"
    WP_METHOD_GET_WORKER,           //  "Registry.Get"
    WP_METHOD_LIST_WORKERS,         //  "Registry.List"
    WP_METHOD_STATS,                //  "Broker.Stats"
    WP_METHOD_PING,                 //  "Broker.Ping"
    WP_METHOD_COMPLETE_MANY,        //  "WorkPool.CompleteMany" (numbers above stay)
    WP_METHOD_LIST_ITEMS,           //  "WorkPool.List"
    WP_METHOD_RETRY,                //  "WorkPool.Retry"
    WP_METHOD_CANCEL,               //  "WorkPool.Cancel"
    WP_METHOD_PURGE,                //  "WorkPool.Purge"
    WP_METHOD_PAUSE,                //  "WorkPool.Pause"
    WP_METHOD_RESUME,               //  "WorkPool.Resume"
    WP_METHOD_SET_BACKOFF,          //  "WorkPool.SetBackoff"
    WP_METHOD_SCHEDULE_ADD,         //  "Schedule.Add"
    WP_METHOD_SCHEDULE_LIST,        //  "Schedule.List"
    WP_METHOD_SCHEDULE_REMOVE,      //  "Schedule.Remove"
    WP_METHOD_SUBSCRIBE,            //  "WorkPool.Subscribe" (a stream of replies)
    WP_METHOD_UNSUBSCRIBE,          //  "WorkPool.Unsubscribe"
    WP_METHOD_COUNT
} wp_method;

//  The wire name of a method ("WorkPool.Push"); "?" for WP_METHOD_UNKNOWN.
const char *wp_method_name (wp_method method);
//  The method with that wire name, or WP_METHOD_UNKNOWN.
wp_method wp_method_from_name (const char *name, size_t len);
//  True if the method may change state (its reply waits for a commit).
bool wp_method_mutates (wp_method method);

//  ---------------------------------------------------------------------
//  Requests

typedef struct {
    //  Header
    uint64_t request_id;            //  chosen by the client; echoed in the reply
    wp_method method;
    char *method_name;              //  as received (decoded) or NULL (encode
                                    //  uses wp_method_name (method))
    uint32_t timeout_ms;            //  deadline, relative to receipt; 0: none
    char **meta_keys;               //  request metadata (string map)
    char **meta_values;
    size_t meta_count;

    //  Body: the fields of every method (see PROTOCOL.md for which is whose)
    char *pool;
    char *id;                       //  item id
    char *worker_id;
    wp_push_entry_t *entries;       //  Push (one) and PushMany (1..WP_BATCH_MAX), with
    size_t entry_count;             //  their scheduling fields; decoded entries own
                                    //  their pointers
    uint8_t *result;                //  Complete, CompleteAndClaim; NULL: none
    size_t result_size;
    char *error;                    //  Fail; NULL: none
    double retry_after;             //  Fail: retry_after_seconds; 0: none
    double wait;                    //  seconds to wait for an item; 0: none
    double lease;                   //  seconds; 0: the broker's default
    uint32_t max;                   //  ClaimMany: 1..WP_BATCH_MAX
    uint32_t credit;                //  Subscribe: 1..WP_CREDIT_MAX
    wp_worker_t *worker;            //  Register
    wp_meta_t metadata;             //  Heartbeat (and Register, in worker)
    char *status;                   //  UpdateStatus
    char **statuses;                //  Registry.List filter; WorkPool.List and
    size_t status_count;            //  Purge: item statuses (names)
    char *capability;               //  List filter
    char *pool_id;                  //  List filter
    double stale_threshold;         //  List filter; < 0: none
    wp_complete_entry_t *completions;   //  CompleteMany (1..WP_BATCH_MAX);
    size_t completion_count;        //  decoded entries own their pointers
    uint32_t limit;                 //  WorkPool.List: 1..WP_LIST_MAX; 0: WP_LIST_DEFAULT
    char *cursor;                   //  WorkPool.List: where the page starts; NULL: the start
    bool all;                       //  WorkPool.Retry: every poisoned item (id NULL)
    wp_backoff_t backoff;           //  WorkPool.SetBackoff (base 0: none)
    wp_schedule_t *schedule;        //  Schedule.Add: name, pool, cron, data,
                                    //  priority, max_retries (the rest unset)
    char *name;                     //  Schedule.Remove
} wp_request_t;

//  Sets every field to its empty value (stale_threshold -1, pointers NULL).
void wp_request_init (wp_request_t *self);
//  Frees what self owns and re-initializes it. Call it on decoded requests
//  (also after a failed decode: partial fields are freed) or on requests
//  whose every pointer is heap-owned; never on one holding borrowed pointers.
void wp_request_clear (wp_request_t *self);

//  Encodes the header and body of a request into fresh buffers (caller owns
//  *header_p and *body_p, to free with free()). Returns 0, or -1 if the
//  request cannot be encoded (method unknown, a required field missing);
//  nothing is allocated then.
int wp_request_encode (const wp_request_t *self,
                       uint8_t **header_p, size_t *header_size,
                       uint8_t **body_p, size_t *body_size);

//  Decodes a request header into self (initialized by the caller).
//  Returns WP_OK; or, with a message in errbuf:
//  - WP_INVALID_ARGUMENT  the header is malformed;
//  - WP_UNIMPLEMENTED     the version is not ours, or the method unknown
//                         (self->method is WP_METHOD_UNKNOWN, method_name set).
//  *replyable is false when the header does not carry our signature and a
//  request id (then nothing can be answered); else self->request_id is set.
wp_status wp_request_decode_header (wp_request_t *self, const uint8_t *data, size_t size,
                                    bool *replyable, char *errbuf, size_t errlen);

//  Decodes the body of self->method into self. Returns WP_OK, or
//  WP_INVALID_ARGUMENT with a message naming the field. A nil body counts
//  as {}; a field given as nil counts as absent. Register's fields go to
//  self->worker (its worker_id is also copied to self->worker_id).
wp_status wp_request_decode_body (wp_request_t *self, const uint8_t *data, size_t size,
                                  char *errbuf, size_t errlen);

//  ---------------------------------------------------------------------
//  Replies

typedef struct {
    //  Header
    uint64_t request_id;
    wp_status status;
    char *message;                  //  "" on success; NULL encodes as ""

    //  Body (empty unless status is WP_OK)
    char **ids;                     //  Push (1), PushMany (one per entry)
    bool *duplicates;
    size_t id_count;
    wp_item_t *item;                //  Claim, CompleteAndClaim, Get; NULL: no item
    wp_item_list_t *items;          //  ClaimMany, WorkPool.List, Subscribe; NULL
                                    //  encodes as []
    bool end;                       //  Subscribe: the stream's last message
    char *cursor;                   //  WorkPool.List: the next page; NULL: no more
    wp_item_state item_state;       //  Fail: the item's new state (pending,
                                    //  scheduled or poisoned)
    uint64_t count;                 //  Size (size), ReleaseByWorker (released),
                                    //  Renew (renewed), Retry (retried), Purge (purged)
    wp_worker_t *worker;            //  Register, Registry.Get; NULL: no worker
    wp_worker_list_t *workers;      //  Registry.List; NULL encodes as []
    wp_stats_t *stats;              //  Broker.Stats
    char *server;                   //  Broker.Ping: "workpoold 0.1.0"
    int64_t time;                   //  Broker.Ping: the broker's clock
    uint64_t max_message;           //  Broker.Ping: largest request accepted
    wp_status *entry_statuses;      //  CompleteMany: one status per entry
    char **entry_messages;          //  CompleteMany: one per entry, "" on OK
                                    //  (NULL encodes as "")
    size_t entry_count;             //  CompleteMany: entries of both arrays
    wp_schedule_t *schedule;        //  Schedule.Add: the stored record
    wp_schedule_list_t *schedules;  //  Schedule.List; NULL encodes as []
} wp_reply_t;

void wp_reply_init (wp_reply_t *self);
void wp_reply_clear (wp_reply_t *self);

//  Encodes a reply to method (the body is empty unless self->status is OK).
//  Caller owns *header_p and *body_p. Returns 0, or -1 (nothing allocated)
//  if a field the reply needs is missing. The message is sent as "" on OK,
//  else cut to WP_MESSAGE_TEXT_MAX bytes with invalid UTF-8 replaced by '?'.
int wp_reply_encode (const wp_reply_t *self, wp_method method,
                     uint8_t **header_p, size_t *header_size,
                     uint8_t **body_p, size_t *body_size);

//  Decodes a reply header (request id, status, message).
//  Returns WP_OK, or WP_INVALID_ARGUMENT with a message.
wp_status wp_reply_decode_header (wp_reply_t *self, const uint8_t *data, size_t size,
                                  char *errbuf, size_t errlen);

//  Decodes the body of a reply to method. Returns WP_OK, or
//  WP_INVALID_ARGUMENT with a message. Reads self->status (set by
//  wp_reply_decode_header): the body of a non-OK reply is only checked to
//  be a map (or nil).
wp_status wp_reply_decode_body (wp_reply_t *self, wp_method method,
                                const uint8_t *data, size_t size,
                                char *errbuf, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
