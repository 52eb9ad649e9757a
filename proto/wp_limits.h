/*  wp_limits: every bound and default of workpool, in one table. The
    decoder, the stores, the client library, the runner and the broker's
    flags all read them from here, so a bound is written once; PROTOCOL.md
    gives each with its field, and tests/proto checks the two agree.  */
#ifndef WP_LIMITS_H_INCLUDED
#define WP_LIMITS_H_INCLUDED

//  Names and batches
#define WP_NAME_MAX             255     //  bytes of a pool name, item id, worker id,
                                        //  status, capability (valid UTF-8, no NUL)
#define WP_BATCH_MAX            1000    //  entries of one PushMany / ClaimMany / CompleteMany
#define WP_CREDIT_MAX           1000    //  credit of one WorkPool.Subscribe
#define WP_LIST_MAX             1000    //  items of one WorkPool.List page
#define WP_LIST_DEFAULT         100     //  items of a page when the request sets no limit
#define WP_CURSOR_MAX           64      //  bytes of a List cursor
#define WP_SCHEDULE_NAME_MAX    200     //  bytes of a schedule's name (its items' ids are
                                        //  NAME@TICK, which must stay a name)
#define WP_SCHEDULES_MAX        1000    //  schedules in one store
#define WP_CRON_MAX             255     //  bytes of a schedule's cron expression

//  Durations, in seconds
#define WP_WAIT_MAX             3600.0      //  wait_seconds of a claim
#define WP_LEASE_MAX            604800.0    //  lease_seconds (a week)
#define WP_HEARTBEAT_MAX        86400.0     //  heartbeat_interval_seconds (a day)
#define WP_RETENTION_MAX        1e9         //  --retain-done / --retain-poisoned
#define WP_DELAY_MAX            31622400.0  //  366 days: Push's delay_seconds (and run_at
                                            //  ahead of now), Fail's retry_after_seconds,
                                            //  a backoff's base and cap

//  Defaults
#define WP_DEFAULT_MAX_RETRIES  3
#define WP_DEFAULT_LEASE_S      300.0
#define WP_DEFAULT_HEARTBEAT_S  10.0
#define WP_DEFAULT_MESSAGE_MAX  (1 << 20)   //  bytes of the largest request a broker
                                            //  processes; also ClaimMany's reply cap

//  A broker's defaults (workpoold's flags; 0 turns a limit off)
#define WP_RETAIN_DONE_DEFAULT  604800.0    //  --retain-done: a week
#define WP_COMMIT_BATCH_DEFAULT 256         //  --batch-max: requests run in one commit
#define WP_MAX_PENDING_DEFAULT  1000000     //  --max-pending: items pending in one pool
#define WP_MAX_POOLS_DEFAULT    10000       //  --max-pools: pools in the store
#define WP_MAX_INFLIGHT_DEFAULT 2000        //  --max-inflight: requests of one connection
                                            //  (a subscription of WP_CREDIT_MAX with every
                                            //  acknowledgement in flight fits twice)
#define WP_MAX_QUEUED_BYTES_DEFAULT (32 << 20) //  --max-queued-bytes: replies held for
                                            //  one connection that is not reading

//  Fields
#define WP_MAX_RETRIES_MAX      2147483647  //  Push's max_retries
#define WP_ERROR_MAX            65536       //  bytes of Fail's error text
#define WP_HOST_MAX             255         //  bytes of Register's host
#define WP_CAPABILITIES_MAX     64          //  capabilities in a Register
#define WP_STATUSES_MAX         16          //  statuses in a filter (Registry.List)
#define WP_META_MAX             64          //  entries of a metadata map
#define WP_META_KEY_MAX         255         //  bytes of a metadata key
#define WP_META_VALUE_MAX       1024        //  bytes of a request-header metadata value
#define WP_MESSAGE_TEXT_MAX     1024        //  bytes of a reply's status message
#define WP_SERVER_MAX           255         //  bytes of Ping's server
#define WP_NESTING_MAX          32          //  containers nested in one frame, the
                                            //  outermost counted (msgpack-c's own
                                            //  fixed stack is 32)

#endif
