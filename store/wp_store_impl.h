/*  wp_store_impl: what an implementation of wp_store provides. Internal to
    the stores and to client/'s remote store; users include wp_store.h.

    An implementation allocates a struct whose first member is wp_store_t,
    fills ops, and returns it. The dispatch functions in wp_store.c clear
    errmsg before each call and check arguments every backend must refuse
    the same way (names, NULL pointers), so implementations may assume a
    valid pool name, item id and worker id.  */
#ifndef WP_STORE_IMPL_H_INCLUDED
#define WP_STORE_IMPL_H_INCLUDED

#include "wp_store.h"

typedef struct {
    const char *name;           //  "memory", "sqlite", "remote"
    void (*destroy) (wp_store_t *self);
    wp_status (*begin) (wp_store_t *self);
    wp_status (*commit) (wp_store_t *self);
    void (*rollback) (wp_store_t *self);
    wp_status (*push) (wp_store_t *self, const char *pool, const wp_push_entry_t *entry,
                       char **id_out, bool *duplicate);
    wp_status (*claim) (wp_store_t *self, const char *pool, const char *worker_id,
                        double lease, wp_item_t **item_out);
    wp_status (*complete) (wp_store_t *self, const char *pool, const char *id,
                           const uint8_t *result, size_t result_size, const char *worker_id);
    //  retry_after: as wp_store_fail's; the store calls wp_store_failure_state
    wp_status (*fail) (wp_store_t *self, const char *pool, const char *id,
                       const char *error, const char *worker_id, double retry_after,
                       wp_item_state *state_out);
    wp_status (*size) (wp_store_t *self, const char *pool, uint64_t *size_out);
    wp_status (*release_by_worker) (wp_store_t *self, const char *pool,
                                    const char *worker_id, uint64_t *count_out);
    wp_status (*get) (wp_store_t *self, const char *pool, const char *id, wp_item_t **item_out);
    wp_status (*renew) (wp_store_t *self, const char *worker_id, double lease, uint64_t *count_out);
    wp_status (*register_worker) (wp_store_t *self, const wp_worker_t *worker,
                                  wp_worker_t **worker_out);
    wp_status (*heartbeat) (wp_store_t *self, const char *worker_id, const wp_meta_t *metadata);
    wp_status (*update_status) (wp_store_t *self, const char *worker_id, const char *status);
    wp_status (*get_worker) (wp_store_t *self, const char *worker_id, wp_worker_t **worker_out);
    wp_status (*list_workers) (wp_store_t *self, const wp_worker_filter_t *filter,
                               wp_worker_list_t **list_out);
    wp_status (*reap) (wp_store_t *self, wp_reap_t *out);
    wp_status (*next_due) (wp_store_t *self, int64_t *next_out);
    wp_status (*purge) (wp_store_t *self, double older_than, uint64_t *count_out);
    wp_status (*stats) (wp_store_t *self, wp_stats_t **stats_out);

    //  Savepoints, for the batch calls of wp_store.c inside a group: mark
    //  what is done so far, then release the mark or undo back to it.
    //  Called only while a group (begin) is open; one mark at a time.
    wp_status (*savepoint) (wp_store_t *self);
    void (*release) (wp_store_t *self);
    void (*rollback_to) (wp_store_t *self);

    //  Inspection and lifecycle (wp_store.h says what each does)
    wp_status (*list_items) (wp_store_t *self, const char *pool,
                             const wp_item_state *statuses, size_t status_count,
                             size_t limit, const char *cursor,
                             wp_item_list_t **items_out, char **cursor_out);
    wp_status (*retry) (wp_store_t *self, const char *pool, const char *id);
    wp_status (*retry_all) (wp_store_t *self, const char *pool, uint64_t *count_out);
    wp_status (*cancel) (wp_store_t *self, const char *pool, const char *id);
    wp_status (*purge_pool) (wp_store_t *self, const char *pool,
                             const wp_item_state *statuses, size_t status_count,
                             uint64_t *count_out);
    wp_status (*set_paused) (wp_store_t *self, const char *pool, bool paused);
    wp_status (*set_backoff) (wp_store_t *self, const char *pool,
                              const wp_backoff_t *policy);     //  checked, never NULL

    //  Schedules. put stores the record as given (wp_store.c has checked it
    //  and set its times), replacing one of that name; list returns all, by
    //  name; remove: WP_NOT_FOUND if unknown. wp_store.c fires them with
    //  push and put inside one atomic unit.
    wp_status (*schedule_put) (wp_store_t *self, const wp_schedule_t *schedule);
    wp_status (*schedule_remove) (wp_store_t *self, const char *name);
    wp_status (*schedule_list) (wp_store_t *self, wp_schedule_list_t **list_out);

    //  Optional (NULL: wp_store.c builds the batch from the calls above): a
    //  backend that forwards a whole batch at once (the remote store)
    wp_status (*push_many) (wp_store_t *self, const char *pool,
                            const wp_push_entry_t *entries, size_t count,
                            char **ids_out, bool *duplicates);
    wp_status (*claim_many) (wp_store_t *self, const char *pool, const char *worker_id,
                             size_t max, double lease, size_t max_bytes,
                             wp_item_list_t **items_out);
    wp_status (*complete_many) (wp_store_t *self, const char *pool,
                                const wp_complete_entry_t *entries, size_t count,
                                const char *worker_id, wp_status *statuses_out,
                                char **messages_out);
    wp_status (*complete_and_claim) (wp_store_t *self, const char *pool, const char *id,
                                     const uint8_t *result, size_t result_size,
                                     const char *worker_id, double lease,
                                     wp_item_t **item_out);
    //  A backend whose schedules live elsewhere (the remote store: the
    //  broker's store sets the times) takes the whole put; checked first.
    //  *schedule_out (may be NULL) is the stored record.
    wp_status (*schedule_add) (wp_store_t *self, const wp_schedule_t *schedule,
                               wp_schedule_t **schedule_out);
    //  Optional (NULL: no other process shares the store, so no wakes):
    //  as wp_store_wake_fd and wp_store_wake_drain; retry_at is never NULL.
    int (*wake_fd) (wp_store_t *self, int64_t *retry_at);
    bool (*wake_drain) (wp_store_t *self, wp_store_wake_fn *fn, void *arg);
} wp_store_ops_t;

struct _wp_store_t {
    const wp_store_ops_t *ops;
    wp_store_config_t config;       //  with defaults filled in
    int64_t (*clock) (void *arg);   //  NULL: wp_time_now
    void *clock_arg;
    bool in_group;                  //  between begin and commit/rollback (wp_store.c)
    bool thread_shared;             //  threads share this store: errors are
                                    //  kept per thread (see wp_store_error)
    char errmsg [512];              //  the latest error, unless thread_shared
    uint64_t random_state;          //  the jitter's generator (wp_store_failure_state)
};

//  Fills self's common part: ops, config with defaults applied.
void wp_store_init (wp_store_t *self, const wp_store_ops_t *ops, const wp_store_config_t *cfg);

//  The store's clock.
int64_t wp_store_now (wp_store_t *self);

//  The argument checks every backend makes alike (wp_store.c does them
//  before dispatching; an implementation's own batch calls reuse them):
//  a name (pool, id, worker_id, ...) must pass wp_name_check; a push entry
//  needs data, an optional valid id, and -1 <= max_retries <= 2^31-1.
//  On failure they set errmsg and return WP_INVALID_ARGUMENT.
wp_status wp_store_check_name (wp_store_t *self, const char *what, const char *name);
wp_status wp_store_check_entry (wp_store_t *self, const wp_push_entry_t *entry);

//  A worker's capabilities as the SQLite-backed stores keep them: one blob,
//  each capability followed by a NUL, after a leading NUL ("\0gpu\0cpu\0"),
//  so "has capability c" is one instr () for "\0c\0". Caller owns *blob_p.
//  decode adds blob's capabilities to worker; false if blob is not one.
void wp_store_caps_encode (const wp_worker_t *worker, uint8_t **blob_p, size_t *size_p);
bool wp_store_caps_decode (wp_worker_t *worker, const void *blob, size_t size);

//  Scheduling rules every store applies alike, on the store's clock.
//  The time an entry falls due: 0 now (pending at once), else the run_at
//  of a scheduled item (the entry was checked).
int64_t wp_store_entry_due (wp_store_t *self, const wp_push_entry_t *entry);

//  What a failure (fail, a lapsed lease, a lost worker) makes of an item
//  that has now failed attempts times: POISONED if attempts >= max_retries;
//  else due again after retry_after (> 0: a fail's Retry-After) or the
//  pool's policy (may be NULL or have no base): SCHEDULED with *due_out its
//  run_at, or PENDING at once (*due_out 0). The jitter's random part comes
//  from the store's own generator.
wp_item_state wp_store_failure_state (wp_store_t *self, const wp_backoff_t *policy,
                                      uint32_t attempts, uint32_t max_retries,
                                      double retry_after, int64_t *due_out);

//  Counts a reclaim (a lapsed lease, a lost worker) whose outcome was state
//  in reap: poisoned, backed_off or requeued.
void wp_store_reap_count (wp_reap_t *reap, wp_item_state state);

//  to += from and to -= from, field by field (a store's totals of what a
//  call, a group or a batch applied).
void wp_store_reap_add (wp_reap_t *to, const wp_reap_t *from);
void wp_store_reap_sub (wp_reap_t *to, const wp_reap_t *from);

//  The lifecycle verbs' refusals, written once for every store. Each
//  returns WP_OK, or FAILED_PRECONDITION with the message set:
//  - retry: only a poisoned or done item (state), and only if no live item
//    (key_holder, NULL: none) holds its unique key (key);
//  - cancel: not a claimed item (holder: its worker) nor a done one.
wp_status wp_store_refuse_retry (wp_store_t *self, const char *id, wp_item_state state,
                                 const char *key, const char *key_holder);
wp_status wp_store_refuse_cancel (wp_store_t *self, const char *id, wp_item_state state,
                                  const char *holder);

//  Sets errmsg (printf-style) and returns status, for "return wp_store_error
//  (self, WP_NOT_FOUND, "no item '%s'", id);".
wp_status wp_store_error (wp_store_t *self, wp_status status, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));

#endif
