/*  workpool.h: the public API of libworkpool, the FlatAgents 0.9.0 WorkPool
    and worker-registration interfaces in C, in-process or against a broker.

    One opening call picks the backend from a string, as the spec's
    BackendConfig does, so the same program runs unchanged on any of them:
        "memory"            an in-process memory store, private to this handle
                            (and to the handles wp_backend_dup makes from it)
        "sqlite:PATH"       an in-process SQLite store at PATH (shared with every
                            process and connection that opens the same file)
        "tcp://HOST:PORT"   a workpoold broker; also "ipc://PATH" and
        "ipc://PATH"        "inproc://NAME" (a broker actor in this process)
        "tcp://A:P,tcp://B:P"  several brokers serving the same pools (on one
                            PostgreSQL store), used one at a time: see
                            "Lost connections"

        wp_backend_t *backend = wp_backend_open ("tcp://127.0.0.1:5555", NULL, &rc, &msg);
        wp_pool_t *pool = wp_backend_pool (backend, "jobs");
        wp_item_t *item;
        wp_claim_options_t wait = { .wait = 10 };
        if (wp_pool_claim (pool, "w1", &wait, &item) == WP_OK && item) {
            ... work on item->data (a msgpack value) ...
            wp_pool_complete (pool, item->id, NULL, 0, "w1");
            wp_item_destroy (&item);
        }
        wp_pool_destroy (&pool);
        wp_backend_destroy (&backend);

    Errors. Every call returns a wp_status (gRPC's canonical codes, named by
    wp_strerror); wp_backend_errmsg says why in words. Out-parameters are
    written only on WP_OK; what they point to is then the caller's.

    Deadlines. Each call on a broker must finish within the handle's timeout
    (options.timeout, default 30 s; wp_backend_set_timeout changes it for
    the calls that follow, so a caller overrides one call by setting it
    around that call). A claim that waits for an item gets its wait on top
    of the timeout. When the broker was never reached within the deadline
    the call returns WP_UNAVAILABLE; when the request went out and no reply
    came, WP_DEADLINE_EXCEEDED. Nothing blocks past the deadline.
    In-process backends do not time out (their calls do not wait on a
    network); a waiting claim there polls the store until its wait ends.

    Lost connections (broker backends). The connection reconnects on its
    own. A request is only sent while a connection is up (ZMQ_IMMEDIATE), so
    a request that could not go out is simply sent once the broker is back,
    before the deadline. A request that went out but got no reply within
    options.retry_interval is sent again only if doing it twice is harmless:
    - reads (size, get, list, get_worker, list_workers, stats, ping),
      register, heartbeat, update_status, renew, release_by_worker (the
      count returned is that of whichever attempt answered), pause and
      resume;
    - push and push_many: every entry carries an id; the client makes a
      UUID v7 for entries that have none, and reports a duplicate of an id
      it made itself as not duplicate (it can only be its own retry);
    - complete, complete_many and fail only when given a worker_id: the broker then
      refuses them on an item held by anyone else; if the retry is refused
      because the first attempt already took effect, the client finds that
      out with a get and reports the first attempt's success.
    Claims (claim, claim_many, complete_and_claim), and complete,
    complete_many and fail without a worker_id, are never sent twice: a second claim could take a
    second item the caller never hears of. Nor are retry, retry_all,
    cancel and purge: a second copy would answer wrongly (a refused retry,
    the second copy's count, a cancel or purge of items pushed between). If such a request went out and
    its reply was lost, the call returns WP_DEADLINE_EXCEEDED; an item it
    may have claimed stays claimed by worker_id until its lease expires,
    the worker is declared lost, or the worker calls release_by_worker.

    Several brokers (a spec listing endpoints, comma-separated, whitespace
    around commas ignored; an empty element or an unknown scheme is
    WP_INVALID_ARGUMENT at open, naming it). The handle uses one broker at
    a time, from the first listed, and moves to the next (round robin,
    wrapping) when the one in use stops answering: a request got no reply
    within options.retry_interval (a claim that waits: its wait plus the
    interval), or no connection took a request within it. Moving drops
    the connection and connects to the next; a request that is safe to
    send again (the list above) is sent there at once; one that is not is
    never resent and ends with WP_DEADLINE_EXCEEDED at its deadline, but
    the next call goes to the new broker. A push resent to another broker
    is de-duplicated by its id only if the brokers share a store. A
    subscription subscribes again after a move, as after a lost
    connection. The handle stays on the broker it moved to (no return to
    the first). A handshake refused (CURVE) still ends the call at once,
    without a move. With CURVE every listed broker must have the same
    server key (a set of brokers shares one certificate).
    wp_backend_endpoint says which broker is in use, wp_backend_moves how
    often it moved. With one endpoint nothing of this applies.

    Security. A broker started with CURVE (workpoold --curve-secret, see
    proto/PROTOCOL.md section 9) takes only clients whose key it knows:
    give options.server_key and options.cert (both, or neither). A file
    that cannot be read as a certificate fails the open
    (WP_INVALID_ARGUMENT, naming it). A broker that refuses the key, or a
    CURVE broker reached without one, fails the call at once with
    WP_UNAUTHENTICATED "authentication failed: ..."; a wrong server key
    looks like no broker: WP_UNAVAILABLE at the deadline, its message
    ending "(CURVE handshake failed: wrong server key?)". A key revoked
    while connected gets WP_UNAUTHENTICATED "key revoked: ..." from the
    broker, and a call outside the key's role WP_PERMISSION_DENIED.

    Threads. A handle (wp_backend_t, with its pools) is used by one thread
    at a time. Give each thread its own: wp_backend_open, or wp_backend_dup,
    which also works for "memory" (the copies share that one store). A
    broker handle owns one ZeroMQ DEALER socket (czmq); a process that
    forks must open its handles after the fork.

    Signals. czmq, underneath, catches SIGINT and SIGTERM by default and
    sets zsys_interrupted; a claim waiting when the signal comes returns
    WP_CANCELLED, and wp_runner_run stops after the item in hand (its
    wp_runner_destroy still releases and says "terminated"). Call zsys_handler_set (NULL) before the first
    open (or set ZSYS_SIGHANDLER=false) to keep your own handlers.  */
#ifndef WORKPOOL_H_INCLUDED
#define WORKPOOL_H_INCLUDED

#include "wp_status.h"
#include "wp_records.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WP_LIB_VERSION_MAJOR 0
#define WP_LIB_VERSION_MINOR 1
#define WP_LIB_VERSION_PATCH 0

typedef struct _wp_backend_t wp_backend_t;
typedef struct _wp_pool_t wp_pool_t;

//  How to open a backend. Zero means the default for every field, so
//  "wp_backend_options_t opts = { .timeout = 5 };" is complete.
typedef struct {
    double timeout;             //  seconds each call may take; 0: 30
    double retry_interval;      //  broker: resend a safe request after this many
                                //  seconds without a reply; 0: 2
    double lease;               //  in-process: default lease of a claim; 0: 300
    double heartbeat;           //  in-process: heartbeat interval of workers
                                //  that state none; 0: 10
    bool sync_full;             //  SQLite: synchronous=FULL (power-loss safe)
    const char *server_key;     //  broker over CURVE: the broker's public certificate
                                //  file (czmq zcert); NULL: plaintext. Copied
    const char *cert;           //  broker over CURVE: this client's secret certificate
                                //  file (NAME_secret of `workpool keygen`). Copied
} wp_backend_options_t;

//  What a claim asks for. Zero (or a NULL pointer) means: return at once,
//  with the backend's default lease.
typedef struct {
    double wait;                //  seconds to wait for a push if none is pending (0..3600)
    double lease;               //  seconds the claim holds before it lapses; 0: default
} wp_claim_options_t;

//  ---------------------------------------------------------------------
//  Backend

//  Opens the backend named by spec ("memory", "sqlite:PATH", "tcp://...",
//  "ipc://...", "inproc://..."); opts may be NULL. A broker is not contacted
//  here: an unreachable one shows as WP_UNAVAILABLE on the first call (use
//  wp_backend_ping to check). On failure returns NULL with *status and
//  *message (each if not NULL; caller frees *message): WP_INVALID_ARGUMENT
//  for a spec of no known kind, or the store's failure. Caller owns return value.
wp_backend_t *wp_backend_open (const char *spec, const wp_backend_options_t *opts,
                               wp_status *status, char **message);

//  Opens a second handle on the same backend, for another thread: a new
//  connection to the same broker or SQLite file, or a share of the same
//  memory store. Of several brokers, it starts on the one this
//  handle uses now (its moves count from 0). Same failure contract as wp_backend_open. Caller owns
//  return value.
wp_backend_t *wp_backend_dup (wp_backend_t *self, wp_status *status, char **message);

//  Closes the handle and nulls *self_p; safe on NULL. Pools made from it
//  must be destroyed first.
void wp_backend_destroy (wp_backend_t **self_p);

//  The message of the latest failed call on this handle or its pools, or ""
//  after a success. Valid until the next call on the handle.
const char *wp_backend_errmsg (wp_backend_t *self);

//  "memory", "sqlite" or "remote".
const char *wp_backend_kind (wp_backend_t *self);

//  The broker endpoint in use (of several listed: the one the handle moved
//  to last), or NULL for an in-process backend. Borrowed: valid until the
//  next call on the handle or its pools.
const char *wp_backend_endpoint (wp_backend_t *self);

//  How many times the handle moved to the next listed broker (0 with one
//  endpoint, and for in-process backends).
uint64_t wp_backend_moves (wp_backend_t *self);

//  Sets the deadline of the calls that follow, in seconds (> 0); a value
//  <= 0 restores the one the handle was opened with.
void wp_backend_set_timeout (wp_backend_t *self, double seconds);

//  The deadline in force, in seconds.
double wp_backend_timeout (wp_backend_t *self);

//  Checks that the backend answers. *server_out (may be NULL; caller frees)
//  names it ("workpoold 0.1.0", "memory", "sqlite"); *time_out (may be
//  NULL) is its clock in microseconds since the epoch. Fails as any call does.
wp_status wp_backend_ping (wp_backend_t *self, char **server_out, int64_t *time_out);

//  *stats_out (caller owns): items per pool by state, workers by status, and
//  from a broker its counters.
wp_status wp_backend_stats (wp_backend_t *self, wp_stats_t **stats_out);

//  ---------------------------------------------------------------------
//  WorkPool

//  The pool called name (the spec's pool(name); pools exist once named).
//  Returns NULL if name is not 1..255 bytes of UTF-8 (wp_backend_errmsg says
//  so). The pool borrows self. Caller owns return value.
wp_pool_t *wp_backend_pool (wp_backend_t *self, const char *name);

//  Frees the pool handle (not the pool's items) and nulls *self_p.
void wp_pool_destroy (wp_pool_t **self_p);

//  The pool's name; valid while the pool handle lives.
const char *wp_pool_name (wp_pool_t *self);

//  Queues data (a msgpack value, size > 0, copied) with the default options.
//  *id_out (caller frees) is the new item's id.
wp_status wp_pool_push (wp_pool_t *self, const void *data, size_t size, char **id_out);

//  Queues entry (id, max_retries, delay or run_at, priority and unique_key
//  optional, see wp_push_entry_t). *id_out (caller frees) is the id;
//  *duplicate (may be NULL) is true if the pool already held an item with
//  entry->id, or a live one with its unique_key (*id_out is then that
//  item's), which then changed nothing.
wp_status wp_pool_push_entry (wp_pool_t *self, const wp_push_entry_t *entry,
                              char **id_out, bool *duplicate);

//  Queues count entries (1..WP_BATCH_MAX) in one request. ids_out is the
//  caller's array of count pointers, each filled with an id the caller
//  frees; duplicates (may be NULL) an array of count flags. On a broker the
//  batch is one request and one commit; on failure nothing is written.
wp_status wp_pool_push_many (wp_pool_t *self, const wp_push_entry_t *entries, size_t count,
                             char **ids_out, bool *duplicates);

//  Claims the most urgent pending item (lowest priority, then oldest) for
//  worker_id. *item_out (caller owns) is
//  the item, or NULL if none was pending within opts->wait (still WP_OK).
wp_status wp_pool_claim (wp_pool_t *self, const char *worker_id,
                         const wp_claim_options_t *opts, wp_item_t **item_out);

//  Claims up to max (1..WP_BATCH_MAX) pending items, oldest first, waiting
//  as wp_pool_claim does for the first one. *items_out (caller owns) may be
//  empty, never NULL on WP_OK.
wp_status wp_pool_claim_many (wp_pool_t *self, const char *worker_id, size_t max,
                              const wp_claim_options_t *opts, wp_item_list_t **items_out);

//  Completes item id with result (a msgpack value, may be NULL, copied).
//  worker_id (may be NULL) asserts who holds the claim; give it whenever you
//  can (it makes a retry safe). Unknown id: WP_NOT_FOUND; not claimed, or
//  claimed by another worker: WP_FAILED_PRECONDITION.
wp_status wp_pool_complete (wp_pool_t *self, const char *id, const void *result,
                            size_t result_size, const char *worker_id);

//  Completes count entries (1..WP_BATCH_MAX, each {id, result (may be NULL,
//  else non-empty, copied)}) as wp_pool_complete would, in order, in one request
//  (in-process: one transaction). WP_OK when the batch was processed, even if
//  entries failed: statuses_out (may be NULL) is the caller's array of count
//  statuses, one per entry (WP_NOT_FOUND, WP_FAILED_PRECONDITION as for
//  wp_pool_complete). A bad argument or entry: WP_INVALID_ARGUMENT, nothing done.
wp_status wp_pool_complete_many (wp_pool_t *self, const wp_complete_entry_t *entries,
                                 size_t count, const char *worker_id,
                                 wp_status *statuses_out);

//  Fails item id with error (may be NULL): attempts += 1, then poisoned if
//  attempts >= max_retries, else due again (at once, or after the pool's
//  backoff: scheduled); *state_out (may be NULL) is the new state. Same
//  preconditions as wp_pool_complete.
wp_status wp_pool_fail (wp_pool_t *self, const char *id, const char *error,
                        const char *worker_id, wp_item_state *state_out);

//  wp_pool_fail, with the item due again no sooner than retry_after seconds
//  from now (0..WP_DELAY_MAX; 0: as wp_pool_fail), winning over the pool's
//  backoff: for a worker told to come back later (HTTP 429's Retry-After).
wp_status wp_pool_fail_after (wp_pool_t *self, const char *id, const char *error,
                              double retry_after, const char *worker_id,
                              wp_item_state *state_out);

//  Completes item id (held by worker_id) and claims the next item in one
//  round trip. *item_out as for wp_pool_claim. If the complete fails,
//  nothing is claimed and the complete's status is returned.
wp_status wp_pool_complete_and_claim (wp_pool_t *self, const char *id, const void *result,
                                      size_t result_size, const char *worker_id,
                                      const wp_claim_options_t *opts, wp_item_t **item_out);

//  *size_out is the number of pending items.
wp_status wp_pool_size (wp_pool_t *self, uint64_t *size_out);

//  Returns every item of the pool claimed by worker_id to pending without
//  counting an attempt. *count_out (may be NULL): how many.
wp_status wp_pool_release_by_worker (wp_pool_t *self, const char *worker_id,
                                     uint64_t *count_out);

//  *item_out (caller owns) is the whole item, result and error included.
//  Unknown id: WP_NOT_FOUND.
wp_status wp_pool_get (wp_pool_t *self, const char *id, wp_item_t **item_out);

//  ---------------------------------------------------------------------
//  Inspection and lifecycle (dead letters): admin verbs

//  One page of the pool's items whose status is one of statuses
//  (status_count 0: any), oldest first. limit 1..WP_LIST_MAX (0: 100);
//  cursor NULL for the first page, else the *cursor_out of the page before.
//  *items_out (caller owns) never NULL on WP_OK; *cursor_out (caller owns,
//  may be NULL) is the next page's cursor, or NULL at the end.
wp_status wp_pool_list (wp_pool_t *self, const wp_item_state *statuses, size_t status_count,
                        size_t limit, const char *cursor, wp_item_list_t **items_out,
                        char **cursor_out);

//  Returns a poisoned or done item to pending with attempts 0 (its last
//  error kept). Unknown: WP_NOT_FOUND; pending or claimed:
//  WP_FAILED_PRECONDITION.
wp_status wp_pool_retry (wp_pool_t *self, const char *id);

//  Returns every poisoned item to pending, in one transaction. *count_out
//  (may be NULL): how many.
wp_status wp_pool_retry_all (wp_pool_t *self, uint64_t *count_out);

//  Removes a pending, scheduled or poisoned item. Unknown: WP_NOT_FOUND; claimed or
//  done: WP_FAILED_PRECONDITION.
wp_status wp_pool_cancel (wp_pool_t *self, const char *id);

//  Removes every item whose status is one of statuses (pending, scheduled,
//  done, poisoned; never claimed: WP_INVALID_ARGUMENT). *count_out (may be NULL).
wp_status wp_pool_purge (wp_pool_t *self, const wp_item_state *statuses, size_t status_count,
                         uint64_t *count_out);

//  A paused pool takes pushes; its claims find nothing (waiting claims keep
//  waiting) until it is resumed. Durable.
wp_status wp_pool_pause (wp_pool_t *self);
wp_status wp_pool_resume (wp_pool_t *self);

//  Sets the pool's retry policy (NULL or base 0: retry at once, the
//  default): after a failure that does not poison it, an item waits
//  min (cap, base * 2^(attempts - 1)) seconds, less up to jitter of that at
//  random, as scheduled. Durable. Broker.Stats shows it.
wp_status wp_pool_set_backoff (wp_pool_t *self, const wp_backoff_t *policy);

//  ---------------------------------------------------------------------
//  Periodic pushes: admin verbs (a broker fires them; see wp_store.h)

//  Creates or replaces (by name) the schedule: name, pool, cron, data,
//  priority and max_retries of schedule are read. *schedule_out (may be
//  NULL; caller owns) is the stored record, next_at set.
wp_status wp_backend_schedule_add (wp_backend_t *self, const wp_schedule_t *schedule,
                                   wp_schedule_t **schedule_out);

//  *list_out (caller owns): every schedule, by name.
wp_status wp_backend_schedule_list (wp_backend_t *self, wp_schedule_list_t **list_out);

//  Removes the schedule named (items it pushed stay). Unknown: WP_NOT_FOUND.
wp_status wp_backend_schedule_remove (wp_backend_t *self, const char *name);

//  Renews the lease of every claim worker_id holds in every pool to now +
//  lease (<= 0: the default). *count_out (may be NULL): how many.
wp_status wp_backend_renew (wp_backend_t *self, const char *worker_id, double lease,
                            uint64_t *count_out);

//  ---------------------------------------------------------------------
//  Registration (worker_id, host, pid, capabilities, pool_id, started_at,
//  heartbeat_interval and metadata of wp_worker_t are what is registered)

//  Creates or replaces worker's record (status "active"). *worker_out (may
//  be NULL; caller owns) is the record as stored.
wp_status wp_backend_register (wp_backend_t *self, const wp_worker_t *worker,
                               wp_worker_t **worker_out);

//  Records a heartbeat, merging metadata (may be NULL) key by key, and
//  renews the worker's leases. Unknown worker: WP_NOT_FOUND; declared lost:
//  WP_FAILED_PRECONDITION (register again).
wp_status wp_backend_heartbeat (wp_backend_t *self, const char *worker_id,
                                const wp_meta_t *metadata);

//  Sets the worker's status ("active", "terminating", "terminated", "lost",
//  or any name). Unknown worker: WP_NOT_FOUND.
wp_status wp_backend_update_status (wp_backend_t *self, const char *worker_id,
                                    const char *status);

//  *worker_out (caller owns) is the record, or NULL if there is none (WP_OK).
wp_status wp_backend_get_worker (wp_backend_t *self, const char *worker_id,
                                 wp_worker_t **worker_out);

//  *list_out (caller owns): the workers filter matches (NULL: all), by id.
wp_status wp_backend_list_workers (wp_backend_t *self, const wp_worker_filter_t *filter,
                                   wp_worker_list_t **list_out);

//  ---------------------------------------------------------------------
//  Worker helper: registers a worker, heartbeats from a background actor
//  with its own handle (wp_backend_dup) so heartbeats go on while the
//  worker computes, registers again when the backend says the worker is
//  unknown or lost, and runs a claim / callback / complete-or-fail loop.
//  On a clean stop (wp_runner_destroy) it releases what it still holds and
//  marks itself "terminated". A runner is driven by one thread; only
//  wp_runner_stop may be called from elsewhere.

typedef struct _wp_runner_t wp_runner_t;

//  Who the worker is and how it works. Zero means the default everywhere.
//  Pointers are borrowed (copied by wp_runner_new).
typedef struct {
    const char *worker_id;              //  NULL: "HOST-PID-XXXXXXXX" (random suffix)
    const char *host;                   //  NULL: gethostname()
    int64_t pid;                        //  0: getpid()
    const char *const *capabilities;    //  capability_count names
    size_t capability_count;
    const char *pool_id;                //  the worker's pool group; NULL: none
    double heartbeat_interval;          //  seconds; 0: 10
    double lease;                       //  lease of each claim; 0: the backend's default
    double wait;                        //  seconds one claim waits; 0: 5
    uint32_t credit;                    //  0: claim one item at a time; 1..WP_CREDIT_MAX:
                                        //  a subscription with this credit (items
                                        //  streamed, acknowledgements pipelined;
                                        //  from 8, completes go in CompleteMany
                                        //  batches of credit / 4)
} wp_runner_options_t;

//  What the loop does with an item: return 0 to complete it with *result_p
//  (msgpack bytes the callback malloc'ed, or left NULL), or non-zero to fail
//  it with *error_p (a malloc'ed string, or left NULL). The runner frees
//  both. item is the runner's; the callback must not keep it.
typedef int (wp_runner_fn) (const wp_item_t *item, void *arg,
                            uint8_t **result_p, size_t *result_size_p, char **error_p);

//  Registers a worker on backend (borrowed: it must outlive the runner and is
//  used by the thread that calls wp_runner_run) and starts its heartbeat.
//  On failure returns NULL with *status and *message (each if not NULL;
//  caller frees *message). Caller owns return value.
wp_runner_t *wp_runner_new (wp_backend_t *backend, const wp_runner_options_t *opts,
                            wp_status *status, char **message);

//  Stops the heartbeat, returns to pending any item the worker still holds
//  in the pool it ran on, marks the worker "terminated", and nulls *self_p.
void wp_runner_destroy (wp_runner_t **self_p);

//  The worker id registered.
const char *wp_runner_worker_id (wp_runner_t *self);

//  Claims items of pool (waiting options.wait each time), calls fn on each,
//  completes or fails it, until wp_runner_stop or SIGINT/SIGTERM (czmq's
//  zsys_interrupted). With options.credit, the items come from a
//  subscription (wp_subscription_new on a handle of its own) and each
//  complete or fail is sent without waiting; a failed acknowledgement is
//  logged. When the worker is declared lost it registers again and
//  subscribes again; on stop it unsubscribes, waits for the
//  acknowledgements in flight, then releases what it still holds (items
//  streamed and not yet called back included). Passing failures (broker away, claim lost to a
//  reclaim) are logged and the loop goes on. Returns WP_OK when stopped,
//  or the status of a failure no retry can mend (e.g. WP_INVALID_ARGUMENT).
wp_status wp_runner_run (wp_runner_t *self, const char *pool, wp_runner_fn *fn, void *arg);

//  Asks wp_runner_run to return after the item in hand. Safe from any
//  thread and from a signal handler.
void wp_runner_stop (wp_runner_t *self);

//  Heartbeats the background actor has had accepted so far.
uint64_t wp_runner_heartbeats (wp_runner_t *self);

//  Times the worker registered, the first time included (a re-registration
//  after the backend said unknown or lost adds one).
uint64_t wp_runner_registrations (wp_runner_t *self);

//  ---------------------------------------------------------------------
//  Pipeline: many requests in flight on one handle (pushes, completes, fails)
//
//      wp_pipeline_t *p = wp_pipeline_new (backend, 64);
//      for (i = 0; i < n; i++)            //  blocks only while 64 are in flight
//          wp_pipeline_push (p, "jobs", &entries [i], &tags [i]);
//      wp_completion_t *done;
//      while ((done = wp_pipeline_next (p)))  //  any order; NULL: none left
//          { use (done->tag, done->status, done->ids); wp_completion_destroy (&done); }
//      wp_pipeline_destroy (&p);
//
//  Each push is one request (Push, or PushMany for a batch) with its own
//  deadline, the handle's timeout from when it was queued; an entry
//  without an id gets a UUID made here, so a request whose reply is late
//  is resent as the remote store resends pushes (and the pool holding our
//  own id already is reported as not a duplicate). Failures, bad entries
//  included, arrive as completions and stop nothing else. On an in-process
//  backend (memory, sqlite:PATH) each push runs at once and its completion
//  is queued, so one program runs on every backend.
//  wp_pipeline_complete and wp_pipeline_fail follow the synchronous calls'
//  resend rules: with a worker_id, resent when late (a resend refused
//  because the first copy took effect is that copy's success, checked with
//  a Get in flight); without one, sent once. Other calls are synchronous.
//  The pipeline borrows backend; use neither from another thread
//  meanwhile, nor the backend's synchronous calls while requests are in
//  flight (a synchronous call drops the replies it does not expect).

typedef struct _wp_pipeline_t wp_pipeline_t;

//  What became of one push. Caller owns it (wp_completion_destroy).
typedef struct {
    void *tag;                  //  as given to the push
    wp_status status;           //  WP_OK, or why the whole request failed
    char *message;              //  "" on success, else why
    size_t count;               //  entries in the request
    char **ids;                 //  count ids on WP_OK (take one by nulling it), else NULL
    bool *duplicates;           //  count flags on WP_OK, else NULL
    wp_item_state state;        //  fail on WP_OK: the item's new state
} wp_completion_t;

//  A pipeline of at most window (0: 64) requests in flight on backend
//  (borrowed: it must outlive the pipeline). Caller owns return value.
wp_pipeline_t *wp_pipeline_new (wp_backend_t *backend, size_t window);

//  Drops what is still in flight or uncollected (a request already sent
//  may still be applied by the broker) and nulls *self_p; safe on NULL.
void wp_pipeline_destroy (wp_pipeline_t **self_p);

//  Queues entry (copied) into pool; tag comes back in its completion.
//  Returns once it is sent, waiting while window requests are in flight
//  (collecting replies meanwhile). WP_OK always: failures are completions.
wp_status wp_pipeline_push (wp_pipeline_t *self, const char *pool,
                            const wp_push_entry_t *entry, void *tag);

//  As wp_pipeline_push for count entries (1..WP_BATCH_MAX) in one PushMany.
wp_status wp_pipeline_push_many (wp_pipeline_t *self, const char *pool,
                                 const wp_push_entry_t *entries, size_t count, void *tag);

//  wp_pool_complete as a request in flight (count 1, no ids); id, result
//  (may be NULL) and worker_id (may be NULL: then sent once) are copied.
wp_status wp_pipeline_complete (wp_pipeline_t *self, const char *pool, const char *id,
                                const void *result, size_t result_size,
                                const char *worker_id, void *tag);

//  wp_pool_fail / wp_pool_fail_after as requests in flight; the
//  completion's state is the item's new state.
wp_status wp_pipeline_fail (wp_pipeline_t *self, const char *pool, const char *id,
                            const char *error, const char *worker_id, void *tag);
wp_status wp_pipeline_fail_after (wp_pipeline_t *self, const char *pool, const char *id,
                                  const char *error, double retry_after,
                                  const char *worker_id, void *tag);

//  The next completion, waiting for one if requests are in flight; NULL
//  when none is in flight or uncollected. Caller owns return value.
wp_completion_t *wp_pipeline_next (wp_pipeline_t *self);

//  Waits until no request is in flight (their completions stay queued).
void wp_pipeline_flush (wp_pipeline_t *self);

//  Requests in flight now, and the most there ever were.
size_t wp_pipeline_in_flight (wp_pipeline_t *self);
size_t wp_pipeline_max_in_flight (wp_pipeline_t *self);

//  Frees a completion and nulls *self_p; safe on NULL.
void wp_completion_destroy (wp_completion_t **self_p);

//  ---------------------------------------------------------------------
//  Subscription: a stream of claimed items (WorkPool.Subscribe)
//
//      wp_subscription_t *sub = wp_subscription_new (pool, "w1", 64, 0, &rc, &msg);
//      wp_item_t *item;
//      while (wp_subscription_next (sub, 5, &item) == WP_OK)   //  item NULL: none came
//          if (item) { wp_subscription_complete (sub, item->id, NULL, 0);
//                      wp_item_destroy (&item); }          //  the reply comes later
//      wp_subscription_destroy (&sub);     //  Unsubscribe; unacknowledged items stay claimed
//
//  The broker claims items for worker_id as they become claimable (each
//  claimed, leased and fenced as by wp_pool_claim) and streams them; at most
//  credit of them are unacknowledged at once. wp_subscription_complete and
//  _fail return the credit: each is sent without waiting for its reply,
//  always with worker_id, so it is resent when late (a refused resend whose
//  first copy took effect counts as success); the replies are collected
//  while next waits (or by wp_subscription_flush). Outcomes are not lost:
//  the stats count them and wp_subscription_failure hands out each failed
//  one (id, status, message: an item whose lease lapsed meanwhile is
//  WP_FAILED_PRECONDITION, someone else's result counts).
//
//  Its own connection: the subscription opens a second handle on the
//  pool's backend (wp_backend_dup), so synchronous calls on your handle do
//  not eat stream messages and the stream does not eat their replies; the
//  two may be used by the same thread in turn (not by two at once).
//
//  The connection lost (the broker restarted, a network cut): the broker
//  ended the stream when it saw the connection close; the subscription
//  subscribes again by itself once a connection is back (stats.resubscribes
//  counts it) and acknowledgements in flight are resent. Items in hand at
//  the cut are still claimed by worker_id: acknowledge them as usual, or
//  they come back after their lease. A final error reply is returned by
//  next as its status, every call from then on (wp_subscription_errmsg says
//  why): WP_FAILED_PRECONDITION the worker was declared lost (register
//  again, open a new subscription), WP_CANCELLED a newer subscription of
//  the same worker and pool replaced it, WP_UNAUTHENTICATED or
//  WP_PERMISSION_DENIED its key was revoked, WP_UNAVAILABLE the broker is
//  stopping. next also returns WP_CANCELLED on SIGINT/SIGTERM (the stream
//  goes on).
//
//  Close (wp_subscription_close, or destroy): waits for the
//  acknowledgements in flight, sends Unsubscribe and waits for the final
//  message, within the handle's timeout. Items it does not acknowledge,
//  those in hand and those the stream brought that next has not returned
//  yet, stay claimed by worker_id (wp_pool_release_by_worker returns them).
//
//  In-process backends ("memory", "sqlite:PATH"): emulated with claims of up
//  to the credit left (wp_pool_claim_many, waiting as a claim waits) and
//  acknowledgements run at once, so one program runs on every backend.

typedef struct _wp_subscription_t wp_subscription_t;

//  What happened so far.
typedef struct {
    uint64_t delivered;         //  items the stream brought
    uint64_t acked;             //  acknowledgements answered OK
    uint64_t ack_failures;      //  answered otherwise (see wp_subscription_failure)
    uint64_t acks_in_flight;    //  sent, not yet answered
    uint64_t resubscribes;      //  new Subscribes after the connection was lost
    uint64_t held;              //  returned by next, not acknowledged yet
} wp_subscription_stats_t;

//  Subscribes worker_id (copied) to pool (borrowed for this call only: the
//  subscription opens its own handle on its backend) with credit
//  (1..WP_CREDIT_MAX) items unacknowledged at most, each claimed with
//  lease seconds (0: the backend's default). Does not wait for the broker.
//  On failure returns NULL with *status and *message (each if not NULL;
//  caller frees *message): WP_INVALID_ARGUMENT for a NULL pool, a bad
//  worker_id, credit or lease. Caller owns return value.
wp_subscription_t *wp_subscription_new (wp_pool_t *pool, const char *worker_id,
                                        uint32_t credit, double lease,
                                        wp_status *status, char **message);

//  The next item, waiting up to timeout seconds (0..3600; 0: only what has
//  come) for one: *item_out (caller owns) is it, or NULL if none came
//  (WP_OK). Other statuses: see above (a final reply, WP_CANCELLED).
wp_status wp_subscription_next (wp_subscription_t *self, double timeout, wp_item_t **item_out);

//  Acknowledges item id (copied) with result (may be NULL; copied), or
//  fails it with error (may be NULL), due again no sooner than retry_after
//  seconds (0: the pool's backoff). Returns once sent (or queued for the
//  connection): WP_OK, or WP_INVALID_ARGUMENT for a bad id or retry_after.
//  The outcome comes later (stats, wp_subscription_failure).
wp_status wp_subscription_complete (wp_subscription_t *self, const char *id,
                                    const void *result, size_t result_size);
wp_status wp_subscription_fail (wp_subscription_t *self, const char *id, const char *error);
wp_status wp_subscription_fail_after (wp_subscription_t *self, const char *id,
                                      const char *error, double retry_after);

//  Batched mode (broker only; in-process every acknowledgement runs at
//  once): completes are gathered and sent as one CompleteMany of up to max
//  (2..WP_BATCH_MAX; 0 or 1: each its own Complete, the default) when max
//  are gathered, when next is about to wait, or at flush and close. Each
//  entry's outcome is counted and reported as a single complete's is (a
//  refused entry of a resent batch is checked with a Get). Fails are sent
//  one by one. WP_INVALID_ARGUMENT for max > WP_BATCH_MAX.
wp_status wp_subscription_set_batch (wp_subscription_t *self, size_t max);

//  Takes the oldest failed acknowledgement: true with *id_out and
//  *message_out (each may be NULL; caller frees) and *status_out, or false
//  if there is none.
bool wp_subscription_failure (wp_subscription_t *self, char **id_out, wp_status *status_out,
                              char **message_out);

//  Waits until no acknowledgement is in flight (each ends by its deadline).
void wp_subscription_flush (wp_subscription_t *self);

//  Copies the counts into *stats_out.
void wp_subscription_stats (wp_subscription_t *self, wp_subscription_stats_t *stats_out);

//  The message of the latest failure of next or an acknowledgement call.
const char *wp_subscription_errmsg (wp_subscription_t *self);

//  Flushes, unsubscribes and waits for the stream's end (see above).
//  Returns WP_OK, or why the Unsubscribe failed (WP_UNAVAILABLE: no broker
//  within the timeout; the broker ends the stream when the connection
//  closes anyway). next then returns WP_FAILED_PRECONDITION.
wp_status wp_subscription_close (wp_subscription_t *self);

//  Closes (if not closed) and frees the subscription, nulls *self_p; safe
//  on NULL.
void wp_subscription_destroy (wp_subscription_t **self_p);

#ifdef __cplusplus
}
#endif
#endif
