/*  wp_records: the records every layer shares: work items, worker records,
    the worker filter, broker statistics, and the time format.

    Records are plain structs (their fields are the API), each owning every
    pointer it holds; wp_X_destroy (&p) frees one and nulls the caller's
    pointer, and is safe on NULL. Times are int64 microseconds since the Unix
    epoch (0 = unset) and appear on the wire as RFC 3339 UTC strings with
    microseconds ("2026-11-26T05:39:00.123456Z").  */
#ifndef WP_RECORDS_H_INCLUDED
#define WP_RECORDS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wp_limits.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WP_UUID_LEN         36      //  canonical text of a UUID

//  ---------------------------------------------------------------------
//  Time

//  Returns the wall-clock time in microseconds since the epoch.
int64_t wp_time_now (void);

//  Formats t as RFC 3339 UTC with microseconds into buf (at least
//  WP_TIME_BUFSIZE bytes). Returns buf.
#define WP_TIME_BUFSIZE 32
char *wp_time_format (int64_t t, char *buf);

//  Parses an RFC 3339 time ("Z" or a numeric offset, 0 to 9 fraction digits)
//  into *t. Returns 0, or -1 on any malformed input (nothing is written).
int wp_time_parse (const char *text, size_t len, int64_t *t);

//  Returns a copy of text, or NULL if text is NULL; aborts on out of
//  memory. Caller owns return value.
char *wp_strdup (const char *text);

//  Writes a fresh UUID v7 (time-ordered: the ids one thread makes sort in
//  the order it made them) in canonical text to buf (WP_UUID_LEN + 1).
void wp_uuid_new (char *buf);

//  ---------------------------------------------------------------------
//  Work items

typedef enum {
    WP_ITEM_PENDING   = 0,      //  claimable now
    WP_ITEM_CLAIMED   = 1,
    WP_ITEM_DONE      = 2,
    WP_ITEM_POISONED  = 3,
    WP_ITEM_SCHEDULED = 4,      //  not claimable until run_at (a delayed push,
                                //  or a retry waiting out its backoff)
    WP_ITEM_STATE_COUNT = 5
} wp_item_state;

//  "pending", "claimed", "done", "poisoned", "scheduled"; "?" outside the enum.
const char *wp_item_state_name (wp_item_state state);
//  Returns the state named, or -1.
int wp_item_state_from_name (const char *name);

typedef struct {
    char *id;                   //  item id, unique within its pool
    char *pool;                 //  pool name
    uint8_t *data;              //  msgpack value, stored opaquely
    size_t data_size;
    wp_item_state status;
    char *claimed_by;           //  worker holding the claim, or NULL
    int64_t claimed_at;         //  time of the current claim, or 0
    int64_t lease_expires_at;   //  when the current claim lapses, or 0
    uint32_t attempts;          //  failed attempts so far
    uint32_t max_retries;       //  attempts >= max_retries after a failure poisons
    uint8_t *result;            //  msgpack value given to complete, or NULL
    size_t result_size;
    char *error;                //  error of the latest failure, or NULL
    int64_t created_at;         //  push time
    int32_t priority;           //  lower is claimed first; 0 by default
    int64_t run_at;             //  the latest due time a delay or a backoff set
                                //  (scheduled: when it falls due), or 0: never delayed
    char *unique_key;           //  or NULL; see wp_push_entry_t
} wp_item_t;

//  Returns a zeroed item. Caller owns return value.
wp_item_t *wp_item_new (void);
//  Returns a deep copy. Caller owns return value.
wp_item_t *wp_item_dup (const wp_item_t *self);
//  Frees the item and nulls *self_p.
void wp_item_destroy (wp_item_t **self_p);

//  A growable array of items; owns every item in it.
typedef struct {
    wp_item_t **items;
    size_t count;
    size_t capacity;
} wp_item_list_t;

//  Returns an empty list. Caller owns return value.
wp_item_list_t *wp_item_list_new (void);
//  Appends item, taking ownership of it.
void wp_item_list_append (wp_item_list_t *self, wp_item_t **item_p);
void wp_item_list_destroy (wp_item_list_t **self_p);

//  One entry of a push: the data to queue and its options.
//  Pointers are borrowed: the push does not take ownership.
typedef struct {
    const uint8_t *data;        //  msgpack value (required, non-empty)
    size_t data_size;
    const char *id;             //  NULL: the backend makes a UUID v4
    int64_t max_retries;        //  -1: the default (3); < -1 is invalid
    //  Scheduling; zero for each is the plain push
    double delay;               //  seconds (0..WP_DELAY_MAX) from the store's now
                                //  until the item may be claimed
    int64_t run_at;             //  or: the time it may be claimed (past: now; at most
                                //  WP_DELAY_MAX ahead). Not both with delay
    int32_t priority;           //  lower is claimed first (see SEMANTICS.md)
    const char *unique_key;     //  a name: while an item of the pool with this key is
                                //  pending, scheduled or claimed, the push returns its
                                //  id marked duplicate instead
} wp_push_entry_t;

//  A retry policy: after a failure (fail, a lapsed lease, a lost worker)
//  that does not poison it, an item falls due again after
//  min (cap, base * 2^(attempts - 1)) seconds, less a random part of up to
//  jitter of that (jitter 0: exact). base 0: at once (the spec's default).
typedef struct {
    double base;                //  seconds, 0..WP_DELAY_MAX; 0: no policy
    double cap;                 //  seconds, base..WP_DELAY_MAX
    double jitter;              //  0..1
} wp_backoff_t;

//  The delay in seconds policy gives an item after its attempts-th failure
//  (attempts >= 1), with unit a number in [0, 1) drawn at random (the
//  jitter). 0 if policy is NULL or has no base. The one formula every store
//  uses.
double wp_backoff_delay (const wp_backoff_t *policy, uint32_t attempts, double unit);

//  Returns NULL if policy is valid (as above; base 0 must have cap and
//  jitter 0 too), else a static message naming the bad field.
const char *wp_backoff_check (const wp_backoff_t *policy);

//  One entry of a batch completion (CompleteMany): the item and its result.
//  Pointers are borrowed: the completion does not take ownership.
typedef struct {
    const char *id;             //  the item (required)
    const uint8_t *result;      //  msgpack value; NULL: none (non-empty when given)
    size_t result_size;
} wp_complete_entry_t;

//  ---------------------------------------------------------------------
//  Periodic pushes

//  A schedule: the broker pushes data to pool at every tick of cron (five
//  fields, or six with seconds first; UTC). Each tick's item has the id
//  NAME@TICK (TICK as wp_time_format writes it), so a tick pushes once.
typedef struct {
    char *name;                 //  a name of at most WP_SCHEDULE_NAME_MAX bytes
    char *pool;
    char *cron;                 //  at most WP_CRON_MAX bytes
    uint8_t *data;              //  msgpack value of each item
    size_t data_size;
    int32_t priority;           //  of each item
    int64_t max_retries;        //  of each item; -1: the default
    int64_t next_at;            //  the next tick to fire
    int64_t last_fired_at;      //  the tick fired last, or 0: never
    int64_t created_at;
} wp_schedule_t;

wp_schedule_t *wp_schedule_new (void);              //  zeroed, max_retries -1
wp_schedule_t *wp_schedule_dup (const wp_schedule_t *self);
void wp_schedule_destroy (wp_schedule_t **self_p);

typedef struct {
    wp_schedule_t **schedules;
    size_t count;
    size_t capacity;
} wp_schedule_list_t;

wp_schedule_list_t *wp_schedule_list_new (void);
//  Appends schedule, taking ownership of it.
void wp_schedule_list_append (wp_schedule_list_t *self, wp_schedule_t **schedule_p);
void wp_schedule_list_destroy (wp_schedule_list_t **self_p);

//  ---------------------------------------------------------------------
//  Workers

//  One metadata entry: a string key and a msgpack value kept as bytes.
typedef struct {
    char *key;
    uint8_t *value;
    size_t value_size;
} wp_meta_entry_t;

typedef struct {
    wp_meta_entry_t *entries;
    size_t count;
} wp_meta_t;

//  Sets key to value (copied), replacing any entry with that key.
void wp_meta_set (wp_meta_t *self, const char *key, const uint8_t *value, size_t size);
//  Returns the entry with that key, or NULL.
const wp_meta_entry_t *wp_meta_get (const wp_meta_t *self, const char *key);
//  Merges every entry of from into self, key by key.
void wp_meta_merge (wp_meta_t *self, const wp_meta_t *from);
//  Deep copy of from into self (self must be empty).
void wp_meta_copy (wp_meta_t *self, const wp_meta_t *from);
//  Frees the entries; self is left empty.
void wp_meta_clear (wp_meta_t *self);
//  Encodes the entries as one msgpack map into a fresh buffer (caller owns
//  *buf_p) and decodes such a map; decode returns -1 on malformed input.
void wp_meta_encode (const wp_meta_t *self, uint8_t **buf_p, size_t *size_p);
int wp_meta_decode (wp_meta_t *self, const uint8_t *buf, size_t size);

typedef struct {
    char *worker_id;
    char *host;                 //  or NULL
    int64_t pid;                //  or -1
    char **capabilities;        //  capability_count strings
    size_t capability_count;
    char *pool_id;              //  or NULL
    int64_t started_at;         //  0 at register: the register time
    char *status;               //  "active", "terminating", "terminated", "lost", ...
    int64_t last_heartbeat;
    char *current_task_id;      //  item most recently claimed, while held, or NULL
    double heartbeat_interval;  //  seconds; 0 at register: the default
    wp_meta_t metadata;
} wp_worker_t;

//  Returns a zeroed worker with pid -1. Caller owns return value.
wp_worker_t *wp_worker_new (void);
//  Caller owns return value.
wp_worker_t *wp_worker_dup (const wp_worker_t *self);
//  Appends a copy of capability.
void wp_worker_add_capability (wp_worker_t *self, const char *capability);
void wp_worker_destroy (wp_worker_t **self_p);

typedef struct {
    wp_worker_t **workers;
    size_t count;
    size_t capacity;
} wp_worker_list_t;

wp_worker_list_t *wp_worker_list_new (void);
//  Appends worker, taking ownership of it.
void wp_worker_list_append (wp_worker_list_t *self, wp_worker_t **worker_p);
void wp_worker_list_destroy (wp_worker_list_t **self_p);

//  Which workers list() returns; every criterion set must hold.
//  Pointers are borrowed.
typedef struct {
    const char *const *statuses;    //  status is one of these (none: any)
    size_t status_count;
    const char *capability;         //  NULL: any
    const char *pool_id;            //  NULL: any
    double stale_threshold;         //  seconds; < 0: any. Keeps workers whose
                                    //  last_heartbeat < now - stale_threshold
} wp_worker_filter_t;

//  A filter that matches every worker.
#define WP_WORKER_FILTER_ALL { NULL, 0, NULL, NULL, -1.0 }

//  ---------------------------------------------------------------------
//  Statistics

typedef struct {
    char *pool;
    uint64_t pending, claimed, done, poisoned;
    uint64_t scheduled;         //  not due yet (pending counts only what is due)
    bool paused;                //  claims on the pool find nothing (wp_store_set_paused)
    wp_backoff_t backoff;       //  the pool's retry policy (wp_store_set_backoff)
} wp_pool_stats_t;

typedef struct {
    char *status;
    uint64_t count;
} wp_status_count_t;

typedef struct {
    char *name;
    uint64_t value;
} wp_counter_t;

typedef struct {
    wp_pool_stats_t *pools;         //  one per pool that holds any item, is paused
                                    //  or has a retry policy, by name
    size_t pool_count;
    wp_status_count_t *workers;     //  workers by status
    size_t worker_status_count;
    wp_counter_t *counters;         //  broker counters (requests by method
    size_t counter_count;           //  and status, commits, ...); none from a store
} wp_stats_t;

wp_stats_t *wp_stats_new (void);
void wp_stats_destroy (wp_stats_t **self_p);

//  ---------------------------------------------------------------------
//  Validation shared by every backend

//  Returns 0 if name is a valid pool name / item id / worker id: non-empty,
//  at most WP_NAME_MAX bytes, valid UTF-8 without NUL. -1 otherwise.
int wp_name_check (const char *name);

//  How often a backend heartbeats a worker on its behalf while it waits in
//  a claim or makes requests: a quarter of its heartbeat interval, at most
//  once a second (interval <= 0: once a second). Microseconds.
int64_t wp_worker_beat_every_us (double interval);

#ifdef __cplusplus
}
#endif
#endif
