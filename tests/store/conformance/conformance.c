/*  conformance: the cases of the conformance suite and the loop that runs
    them (see conformance.h).

    A failed check longjmps out of its case, as cmocka does, so a case reads
    as a straight list of steps. Everything a case gets from the store is
    owned by the case and freed when it ends, so a failing case leaks nothing
    under AddressSanitizer and the next case starts clean.

    Time: cases about leases and stale workers run on real time with short
    intervals (leases of 0.2 s, heartbeat intervals of 0.25 s) and poll,
    bounded, until the expected state appears; they assert state, never
    speed, and so work on a backend whose clock cannot be injected (the
    remote store). Where the clock can be injected, the clock_ cases check
    exact boundaries.

    Decisions where docs/SEMANTICS.md is silent are written as "Decision:"
    comments at the case that relies on them.  */
#include "conformance.h"
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_SECOND        INT64_C (1000000)
#define S_WAIT_LIMIT    (10 * S_SECOND)     //  how long a poll waits for a state
#define S_POLL_MS       20
//  A fixed start for the injected clock: 2026-11-26T05:39:00Z
#define S_CLOCK_START   INT64_C (1795671540000000)

//  ---------------------------------------------------------------------
//  The running case

typedef struct {
    void *ptr;
    void (*free_fn) (void *ptr);
} s_owned_t;

typedef struct {
    const wp_conformance_backend_t *backend;
    wp_store_t *store;
    jmp_buf bail;               //  where a failed check returns to
    char why [1024];            //  the first failure, for the report
    s_owned_t *owned;           //  what the case got, freed when it ends
    size_t owned_count;
    size_t owned_capacity;
    int64_t clock;              //  the injected clock, for the clock_ cases
} s_case_t;

static void s_bail (s_case_t *t, int line, const char *format, ...)
    __attribute__ ((format (printf, 3, 4), noreturn));

static void
s_bail (s_case_t *t, int line, const char *format, ...)
{
    int used = snprintf (t->why, sizeof t->why, "line %d: ", line);
    va_list args;
    va_start (args, format);
    vsnprintf (t->why + used, sizeof t->why - (size_t) used, format, args);
    va_end (args);
    longjmp (t->bail, 1);
}

static void *
s_own (s_case_t *t, void *ptr, void (*free_fn) (void *ptr))
{
    if (!ptr)
        return NULL;
    if (t->owned_count == t->owned_capacity) {
        t->owned_capacity = t->owned_capacity ? t->owned_capacity * 2 : 32;
        t->owned = realloc (t->owned, t->owned_capacity * sizeof *t->owned);
        if (!t->owned)
            abort ();
    }
    t->owned [t->owned_count++] = (s_owned_t) { ptr, free_fn };
    return ptr;
}

static void
s_free_owned (s_case_t *t)
{
    while (t->owned_count > 0) {
        s_owned_t *owned = &t->owned [--t->owned_count];
        owned->free_fn (owned->ptr);
    }
    free (t->owned);
    t->owned = NULL;
    t->owned_capacity = 0;
}

static void s_free_item (void *ptr) { wp_item_t *item = ptr; wp_item_destroy (&item); }
static void s_free_worker (void *ptr) { wp_worker_t *worker = ptr; wp_worker_destroy (&worker); }
static void s_free_list (void *ptr) { wp_worker_list_t *list = ptr; wp_worker_list_destroy (&list); }
static void s_free_stats (void *ptr) { wp_stats_t *stats = ptr; wp_stats_destroy (&stats); }
static void s_free_meta (void *ptr) { wp_meta_clear (ptr); free (ptr); }

static char *
s_strdup (const char *text)
{
    char *copy = strdup (text);
    if (!copy)
        abort ();
    return copy;
}

static char *
s_sprintf (s_case_t *t, const char *format, ...) __attribute__ ((format (printf, 2, 3)));

//  A formatted string owned by the case.
static char *
s_sprintf (s_case_t *t, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *text;
    if (vasprintf (&text, format, args) < 0)
        abort ();
    va_end (args);
    return s_own (t, text, free);
}

static void
s_sleep_ms (int ms)
{
    struct timespec delay = { ms / 1000, (long) (ms % 1000) * 1000000L };
    while (nanosleep (&delay, &delay) != 0)
        ;
}

static int64_t
s_injected_clock (void *arg)
{
    return *(int64_t *) arg;
}

//  Drives the store's clock from t->clock, starting at S_CLOCK_START.
static void
s_use_clock (s_case_t *t)
{
    t->clock = S_CLOCK_START;
    wp_store_set_clock (t->store, s_injected_clock, &t->clock);
}

//  Microseconds from seconds, for the injected clock.
static int64_t
s_us (double seconds)
{
    return (int64_t) (seconds * 1e6 + (seconds < 0 ? -0.5 : 0.5));
}

//  ---------------------------------------------------------------------
//  Checks. They use the case `t` in scope, as every case names it.

#define CHECK(cond) \
    do { if (!(cond)) s_bail (t, __LINE__, "%s", #cond); } while (0)

#define CHECK_INT(actual, expected) do { \
    long long a_ = (long long) (actual), e_ = (long long) (expected); \
    if (a_ != e_) \
        s_bail (t, __LINE__, "%s is %lld, expected %lld", #actual, a_, e_); \
} while (0)

#define CHECK_STR(actual, expected) do { \
    const char *a_ = (actual), *e_ = (expected); \
    if (a_ != e_ && (!a_ || !e_ || strcmp (a_, e_) != 0)) \
        s_bail (t, __LINE__, "%s is %s%s%s, expected %s%s%s", #actual, \
                a_ ? "'" : "", a_ ? a_ : "NULL", a_ ? "'" : "", \
                e_ ? "'" : "", e_ ? e_ : "NULL", e_ ? "'" : ""); \
} while (0)

//  Runs call and checks its status. A failure must carry a message, a
//  success must leave none (wp_store.h).
#define CHECK_STATUS(expected, call) \
    s_check_status (t, __LINE__, (expected), (call), #call)

static void
s_check_status (s_case_t *t, int line, wp_status expected, wp_status rc, const char *call)
{
    const char *message = wp_store_errmsg (t->store);
    if (rc != expected)
        s_bail (t, line, "%s returned %s (%s), expected %s", call, wp_strerror (rc),
                message, wp_strerror (expected));
    if (rc != WP_OK && !message [0])
        s_bail (t, line, "%s returned %s with no message", call, wp_strerror (rc));
    if (rc == WP_OK && message [0])
        s_bail (t, line, "%s succeeded but left the message '%s'", call, message);
}

//  Times within [low, high], in microseconds.
#define CHECK_TIME(actual, low, high) do { \
    int64_t a_ = (actual), l_ = (low), h_ = (high); \
    if (a_ < l_ || a_ > h_) \
        s_bail (t, __LINE__, "%s is %lld, expected %lld..%lld", #actual, \
                (long long) a_, (long long) l_, (long long) h_); \
} while (0)

//  ---------------------------------------------------------------------
//  Values: item data, results and metadata values are msgpack, and the
//  remote store carries them as msgpack, so the cases use real (canonical)
//  msgpack values: a string, or a bin of any bytes.

typedef struct {
    uint8_t bytes [260];
    size_t size;
} s_value_t;

//  The msgpack string of text (at most 255 bytes).
static s_value_t
s_val (const char *text)
{
    s_value_t value;
    size_t len = strlen (text);
    if (len > 255)
        abort ();
    if (len < 32) {
        value.bytes [0] = (uint8_t) (0xa0 | len);
        value.size = 1;
    }
    else {
        value.bytes [0] = 0xd9;
        value.bytes [1] = (uint8_t) len;
        value.size = 2;
    }
    memcpy (value.bytes + value.size, text, len);
    value.size += len;
    return value;
}

#define CHECK_VALUE(bytes, size, text) \
    s_check_value (t, __LINE__, #bytes, (bytes), (size), (text))

static void
s_check_value (s_case_t *t, int line, const char *what,
               const uint8_t *bytes, size_t size, const char *text)
{
    s_value_t expected = s_val (text);
    if (!bytes || size != expected.size || memcmp (bytes, expected.bytes, size) != 0)
        s_bail (t, line, "%s is not the msgpack string '%s' (%zu bytes, expected %zu)",
                what, text, bytes ? size : 0, expected.size);
}

//  A msgpack bin16 of size - 3 bytes covering every byte value, NULs
//  included. Owned by the case.
static uint8_t *
s_big_value (s_case_t *t, size_t size, uint8_t seed)
{
    uint8_t *bytes = s_own (t, malloc (size), free);
    if (!bytes || size < 3 || size > 65535 + 3)
        abort ();
    bytes [0] = 0xc5;
    bytes [1] = (uint8_t) ((size - 3) >> 8);
    bytes [2] = (uint8_t) (size - 3);
    for (size_t i = 3; i < size; i++)
        bytes [i] = (uint8_t) (i * 7 + seed);
    return bytes;
}

//  ---------------------------------------------------------------------
//  Store calls that must succeed; what they return is owned by the case.

#define PUSH(pool, text)                s_push (t, __LINE__, pool, text, NULL, -1, NULL)
#define PUSH_ID(pool, text, id)         s_push (t, __LINE__, pool, text, id, -1, NULL)
#define PUSH_FULL(pool, text, id, max_retries, dup_p) \
    s_push (t, __LINE__, pool, text, id, max_retries, dup_p)
#define CLAIM(pool, worker, lease)      s_claim (t, __LINE__, pool, worker, lease)
#define GET(pool, id)                   s_get (t, __LINE__, pool, id)
#define COMPLETE(pool, id, text, worker) s_complete (t, __LINE__, pool, id, text, worker)
#define FAIL(pool, id, error, worker)   s_fail (t, __LINE__, pool, id, error, worker)
#define SIZE(pool)                      s_size (t, __LINE__, pool)
#define RELEASE(pool, worker)           s_release (t, __LINE__, pool, worker)
#define RENEW(worker, lease)            s_renew (t, __LINE__, worker, lease)
#define SPEC(worker_id)                 s_spec (t, worker_id)
#define REGISTER(spec)                  s_register (t, __LINE__, spec)
#define HEARTBEAT(worker_id, meta)      CHECK_STATUS (WP_OK, wp_store_heartbeat (t->store, worker_id, meta))
#define SET_STATUS(worker_id, status)   CHECK_STATUS (WP_OK, wp_store_update_status (t->store, worker_id, status))
#define WORKER(worker_id)               s_get_worker (t, __LINE__, worker_id)
#define LIST(filter)                    s_list (t, __LINE__, filter)
#define IDS(list)                       s_ids (t, list)

static const char *
s_push (s_case_t *t, int line, const char *pool, const char *text, const char *id,
        int64_t max_retries, bool *duplicate)
{
    s_value_t value = s_val (text);
    wp_push_entry_t entry = { value.bytes, value.size, id, max_retries };
    char *id_out = NULL;
    bool dup = false;
    s_check_status (t, line, WP_OK, wp_store_push (t->store, pool, &entry, &id_out, &dup), "push");
    s_own (t, id_out, free);
    if (!id_out)
        s_bail (t, line, "push returned no id");
    if (id && strcmp (id_out, id) != 0)
        s_bail (t, line, "push of id '%s' returned id '%s'", id, id_out);
    if (duplicate)
        *duplicate = dup;
    else
    if (dup)
        s_bail (t, line, "push of '%s' reported a duplicate", id_out);
    return id_out;
}

static wp_item_t *
s_claim (s_case_t *t, int line, const char *pool, const char *worker, double lease)
{
    wp_item_t *item = NULL;
    s_check_status (t, line, WP_OK, wp_store_claim (t->store, pool, worker, lease, &item), "claim");
    return s_own (t, item, s_free_item);
}

static wp_item_t *
s_get (s_case_t *t, int line, const char *pool, const char *id)
{
    wp_item_t *item = NULL;
    s_check_status (t, line, WP_OK, wp_store_get (t->store, pool, id, &item), "get");
    if (!item)
        s_bail (t, line, "get of '%s' returned OK and no item", id);
    return s_own (t, item, s_free_item);
}

static void
s_complete (s_case_t *t, int line, const char *pool, const char *id, const char *text,
            const char *worker)
{
    s_value_t value = s_val (text ? text : "");
    s_check_status (t, line, WP_OK,
                    wp_store_complete (t->store, pool, id, text ? value.bytes : NULL,
                                       text ? value.size : 0, worker), "complete");
}

static wp_item_state
s_fail (s_case_t *t, int line, const char *pool, const char *id, const char *error,
        const char *worker)
{
    wp_item_state state = WP_ITEM_CLAIMED;     //  what fail never leaves
    s_check_status (t, line, WP_OK,
                    wp_store_fail (t->store, pool, id, error, worker, 0, &state), "fail");
    if (state != WP_ITEM_PENDING && state != WP_ITEM_POISONED && state != WP_ITEM_SCHEDULED)
        s_bail (t, line, "fail of '%s' left state_out %s", id, wp_item_state_name (state));
    return state;
}

static uint64_t
s_size (s_case_t *t, int line, const char *pool)
{
    uint64_t size = UINT64_MAX;
    s_check_status (t, line, WP_OK, wp_store_size (t->store, pool, &size), "size");
    return size;
}

static uint64_t
s_release (s_case_t *t, int line, const char *pool, const char *worker)
{
    uint64_t count = UINT64_MAX;
    s_check_status (t, line, WP_OK,
                    wp_store_release_by_worker (t->store, pool, worker, &count), "release_by_worker");
    return count;
}

static uint64_t
s_renew (s_case_t *t, int line, const char *worker, double lease)
{
    uint64_t count = UINT64_MAX;
    s_check_status (t, line, WP_OK, wp_store_renew (t->store, worker, lease, &count), "renew");
    return count;
}

//  A registration to fill in: pid -1, nothing else set.
static wp_worker_t *
s_spec (s_case_t *t, const char *worker_id)
{
    wp_worker_t *spec = s_own (t, wp_worker_new (), s_free_worker);
    spec->worker_id = s_strdup (worker_id);
    return spec;
}

static wp_worker_t *
s_register (s_case_t *t, int line, const wp_worker_t *spec)
{
    wp_worker_t *record = NULL;
    s_check_status (t, line, WP_OK, wp_store_register (t->store, spec, &record), "register");
    if (!record)
        s_bail (t, line, "register of '%s' returned no record", spec->worker_id);
    return s_own (t, record, s_free_worker);
}

static wp_worker_t *
s_get_worker (s_case_t *t, int line, const char *worker_id)
{
    wp_worker_t *worker = (wp_worker_t *) &worker;      //  must be overwritten
    s_check_status (t, line, WP_OK, wp_store_get_worker (t->store, worker_id, &worker), "get_worker");
    if (worker == (wp_worker_t *) &worker)
        s_bail (t, line, "get_worker of '%s' returned OK without setting its out-parameter", worker_id);
    return s_own (t, worker, s_free_worker);
}

static wp_worker_list_t *
s_list (s_case_t *t, int line, const wp_worker_filter_t *filter)
{
    wp_worker_list_t *list = NULL;
    s_check_status (t, line, WP_OK, wp_store_list_workers (t->store, filter, &list), "list_workers");
    if (!list)
        s_bail (t, line, "list_workers returned OK and no list");
    return s_own (t, list, s_free_list);
}

//  The worker ids of list joined by commas, to compare with CHECK_STR.
static const char *
s_ids (s_case_t *t, const wp_worker_list_t *list)
{
    char *joined = s_sprintf (t, "%s", "");
    for (size_t i = 0; i < list->count; i++)
        joined = s_sprintf (t, "%s%s%s", joined, i ? "," : "", list->workers [i]->worker_id);
    return joined;
}

static wp_meta_t *
s_meta (s_case_t *t)
{
    wp_meta_t *meta = calloc (1, sizeof *meta);
    if (!meta)
        abort ();
    return s_own (t, meta, s_free_meta);
}

#define CHECK_META(meta, key, text) do { \
    const wp_meta_entry_t *entry_ = wp_meta_get (&(meta), key); \
    if (!entry_) \
        s_bail (t, __LINE__, "metadata has no key '%s'", key); \
    s_check_value (t, __LINE__, "metadata '" key "'", entry_->value, entry_->value_size, text); \
} while (0)

//  Checks the claim fields of an item claimed between t0 and t1 (real
//  time) for lease seconds.
#define CHECK_CLAIMED(item, worker, t0, t1, lease) \
    s_check_claimed (t, __LINE__, item, worker, t0, t1, lease)

static void
s_check_claimed (s_case_t *t, int line, const wp_item_t *item, const char *worker,
                 int64_t t0, int64_t t1, double lease)
{
    if (item->status != WP_ITEM_CLAIMED)
        s_bail (t, line, "item '%s' is %s, expected claimed", item->id,
                wp_item_state_name (item->status));
    if (!item->claimed_by || strcmp (item->claimed_by, worker) != 0)
        s_bail (t, line, "item '%s' is claimed by %s, expected '%s'", item->id,
                item->claimed_by ? item->claimed_by : "NULL", worker);
    if (item->claimed_at < t0 || item->claimed_at > t1)
        s_bail (t, line, "item '%s' claimed_at %lld is outside the call (%lld..%lld)",
                item->id, (long long) item->claimed_at, (long long) t0, (long long) t1);
    //  1 ms of slack: a store may read its clock twice in one claim
    int64_t expected = item->claimed_at + s_us (lease);
    if (item->lease_expires_at < expected - 1000 || item->lease_expires_at > expected + 1000)
        s_bail (t, line, "item '%s' lease_expires_at is claimed_at + %.6f s, expected + %.6f s",
                item->id, (double) (item->lease_expires_at - item->claimed_at) / 1e6, lease);
}

//  Checks an item is pending with no claim.
#define CHECK_PENDING(item) s_check_pending (t, __LINE__, item)

static void
s_check_pending (s_case_t *t, int line, const wp_item_t *item)
{
    if (item->status != WP_ITEM_PENDING)
        s_bail (t, line, "item '%s' is %s, expected pending", item->id,
                wp_item_state_name (item->status));
    if (item->claimed_by || item->claimed_at || item->lease_expires_at)
        s_bail (t, line, "pending item '%s' keeps claim fields (claimed_by %s, claimed_at %lld, "
                "lease_expires_at %lld)", item->id, item->claimed_by ? item->claimed_by : "NULL",
                (long long) item->claimed_at, (long long) item->lease_expires_at);
}

#define CHECK_STATE(item, state) do { \
    const wp_item_t *i_ = (item); \
    if (i_->status != (state)) \
        s_bail (t, __LINE__, "item '%s' is %s, expected %s", i_->id, \
                wp_item_state_name (i_->status), wp_item_state_name (state)); \
} while (0)

//  A state returned by fail.
#define CHECK_STATE_IS(actual, expected) do { \
    wp_item_state a_ = (actual), e_ = (expected); \
    if (a_ != e_) \
        s_bail (t, __LINE__, "%s is %s, expected %s", #actual, \
                wp_item_state_name (a_), wp_item_state_name (e_)); \
} while (0)

//  Polls get until the item is no longer claimed; bounded by S_WAIT_LIMIT.
#define WAIT_UNCLAIMED(pool, id) s_wait_unclaimed (t, __LINE__, pool, id)

static wp_item_t *
s_wait_unclaimed (s_case_t *t, int line, const char *pool, const char *id)
{
    int64_t deadline = wp_time_now () + S_WAIT_LIMIT;
    while (true) {
        wp_item_t *item = s_get (t, line, pool, id);
        if (item->status != WP_ITEM_CLAIMED)
            return item;
        if (wp_time_now () > deadline)
            s_bail (t, line, "item '%s' still claimed after %d s", id, (int) (S_WAIT_LIMIT / S_SECOND));
        s_sleep_ms (S_POLL_MS);
    }
}

//  Polls get_worker until the worker's status is status; bounded.
#define WAIT_WORKER_STATUS(worker_id, status) \
    s_wait_worker_status (t, __LINE__, worker_id, status)

static wp_worker_t *
s_wait_worker_status (s_case_t *t, int line, const char *worker_id, const char *status)
{
    int64_t deadline = wp_time_now () + S_WAIT_LIMIT;
    while (true) {
        wp_worker_t *worker = s_get_worker (t, line, worker_id);
        if (!worker)
            s_bail (t, line, "worker '%s' vanished", worker_id);
        if (strcmp (worker->status, status) == 0)
            return worker;
        if (wp_time_now () > deadline)
            s_bail (t, line, "worker '%s' still '%s' after %d s, expected '%s'", worker_id,
                    worker->status, (int) (S_WAIT_LIMIT / S_SECOND), status);
        s_sleep_ms (S_POLL_MS);
    }
}

static bool
s_is_uuid (const char *text)
{
    if (strlen (text) != WP_UUID_LEN)
        return false;
    for (int i = 0; i < WP_UUID_LEN; i++) {
        char c = text [i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return false;
        }
        else
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    //  Version 4 (random) or 7 (time-ordered): a backend may make either
    return strchr ("47", text [14]) && strchr ("89ab", text [19]);
}

//  =====================================================================
//  Push

static void
s_push_makes_uuid (s_case_t *t)
{
    //  Decision: "canonical text" is RFC 4122's: lower-case hex, 8-4-4-4-12.
    const char *first = PUSH ("p", "a");
    const char *second = PUSH ("p", "b");
    if (!s_is_uuid (first) || !s_is_uuid (second))
        s_bail (t, __LINE__, "ids '%s', '%s' are not canonical UUIDs (v4 or v7)", first, second);
    CHECK (strcmp (first, second) != 0);
    CHECK_STR (GET ("p", first)->id, first);
    CHECK_VALUE (GET ("p", second)->data, GET ("p", second)->data_size, "b");
}

static void
s_push_with_id (s_case_t *t)
{
    int64_t t0 = wp_time_now ();
    const char *id = PUSH_ID ("p", "payload", "job-1");
    int64_t t1 = wp_time_now ();
    CHECK_STR (id, "job-1");
    wp_item_t *item = GET ("p", "job-1");
    CHECK_STR (item->id, "job-1");
    CHECK_STR (item->pool, "p");
    CHECK_VALUE (item->data, item->data_size, "payload");
    CHECK_PENDING (item);
    CHECK_INT (item->attempts, 0);
    CHECK_INT (item->max_retries, WP_DEFAULT_MAX_RETRIES);
    CHECK (item->result == NULL);
    CHECK (item->error == NULL);
    CHECK_TIME (item->created_at, t0, t1);
    CHECK_INT (SIZE ("p"), 1);
}

static void
s_push_duplicate_id_changes_nothing (s_case_t *t)
{
    bool dup = true;
    PUSH_FULL ("p", "first", "x", 5, &dup);
    CHECK (!dup);
    int64_t created_at = GET ("p", "x")->created_at;

    //  Pending: the second push reports a duplicate and keeps the first.
    dup = false;
    CHECK_STR (PUSH_FULL ("p", "second", "x", 1, &dup), "x");
    CHECK (dup);
    wp_item_t *item = GET ("p", "x");
    CHECK_VALUE (item->data, item->data_size, "first");
    CHECK_INT (item->max_retries, 5);
    CHECK_INT (item->created_at, created_at);
    CHECK_INT (SIZE ("p"), 1);

    //  duplicate may be NULL: still OK, still nothing changed
    s_value_t value = s_val ("third");
    wp_push_entry_t entry = { value.bytes, value.size, "x", -1 };
    char *id_out = NULL;
    CHECK_STATUS (WP_OK, wp_store_push (t->store, "p", &entry, &id_out, NULL));
    s_own (t, id_out, free);
    CHECK_STR (id_out, "x");
    CHECK_INT (SIZE ("p"), 1);

    //  Claimed: the claim is kept.
    CLAIM ("p", "w1", 0);
    PUSH_FULL ("p", "again", "x", -1, &dup);
    CHECK (dup);
    item = GET ("p", "x");
    CHECK_STATE (item, WP_ITEM_CLAIMED);
    CHECK_STR (item->claimed_by, "w1");
    CHECK_INT (SIZE ("p"), 0);

    //  Done: a retried push does not queue the work again.
    COMPLETE ("p", "x", "r", "w1");
    PUSH_FULL ("p", "again", "x", -1, &dup);
    CHECK (dup);
    item = GET ("p", "x");
    CHECK_STATE (item, WP_ITEM_DONE);
    CHECK_VALUE (item->result, item->result_size, "r");
    CHECK_INT (SIZE ("p"), 0);

    //  Poisoned likewise.
    PUSH_FULL ("p", "y", "y", 0, NULL);
    CLAIM ("p", "w1", 0);
    CHECK_STATE_IS (FAIL ("p", "y", "bad", "w1"), WP_ITEM_POISONED);
    PUSH_FULL ("p", "again", "y", -1, &dup);
    CHECK (dup);
    item = GET ("p", "y");
    CHECK_STATE (item, WP_ITEM_POISONED);
    CHECK_VALUE (item->data, item->data_size, "y");
    CHECK_INT (SIZE ("p"), 0);
}

static void
s_push_max_retries (s_case_t *t)
{
    //  -1 in wp_push_entry_t means "not given": the default, 3.
    CHECK_INT (GET ("p", PUSH_FULL ("p", "a", NULL, -1, NULL))->max_retries, 3);
    CHECK_INT (GET ("p", PUSH_FULL ("p", "b", NULL, 5, NULL))->max_retries, 5);
    CHECK_INT (GET ("p", PUSH_FULL ("p", "c", NULL, 0, NULL))->max_retries, 0);
    //  The wire allows 0..2^31-1: the largest value must round-trip.
    CHECK_INT (GET ("p", PUSH_FULL ("p", "d", NULL, INT32_MAX, NULL))->max_retries, INT32_MAX);

    //  max_retries 5: four failures leave it pending, the fifth poisons.
    const char *id = PUSH_FULL ("q", "e", NULL, 5, NULL);
    for (int i = 1; i <= 5; i++) {
        CHECK_STR (CLAIM ("q", "w", 0)->id, id);
        wp_item_state state = FAIL ("q", id, "again", "w");
        CHECK_STATE_IS (state, i < 5 ? WP_ITEM_PENDING : WP_ITEM_POISONED);
        CHECK_INT (GET ("q", id)->attempts, i);
    }
}

static void
s_push_max_retries_zero_poisons_at_first_failure (s_case_t *t)
{
    const char *id = PUSH_FULL ("p", "a", NULL, 0, NULL);
    CHECK_STR (CLAIM ("p", "w", 0)->id, id);
    CHECK_STATE_IS (FAIL ("p", id, "boom", "w"), WP_ITEM_POISONED);
    wp_item_t *item = GET ("p", id);
    CHECK_STATE (item, WP_ITEM_POISONED);
    CHECK_INT (item->attempts, 1);
    CHECK_STR (item->error, "boom");
    CHECK (CLAIM ("p", "w", 0) == NULL);
}

static void
s_push_negative_max_retries_is_invalid (s_case_t *t)
{
    //  Decision: wp_push_entry_t spells "not given" as -1, so through this
    //  API "below 0" means below -1. Also refused: more than fits 32 bits.
    s_value_t value = s_val ("a");
    const int64_t bad [] = { -2, -100, INT64_MIN, (int64_t) UINT32_MAX + 1, INT64_MAX };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        wp_push_entry_t entry = { value.bytes, value.size, "x", bad [i] };
        char *id_out = NULL;
        bool dup = false;
        CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_push (t->store, "p", &entry, &id_out, &dup));
        CHECK (id_out == NULL);
        entry.id = NULL;
        CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_push (t->store, "p", &entry, &id_out, &dup));
        CHECK (id_out == NULL);
    }
    wp_item_t *item = NULL;
    CHECK_STATUS (WP_NOT_FOUND, wp_store_get (t->store, "p", "x", &item));
    CHECK_INT (SIZE ("p"), 0);
    CHECK (CLAIM ("p", "w", 0) == NULL);
}

static void
s_push_data_is_required (s_case_t *t)
{
    s_value_t value = s_val ("a");
    wp_push_entry_t entries [] = {
        { NULL, 0, "x", -1 },
        { value.bytes, 0, "x", -1 },
        { NULL, 5, "x", -1 },
    };
    for (size_t i = 0; i < sizeof entries / sizeof entries [0]; i++) {
        char *id_out = NULL;
        CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_push (t->store, "p", &entries [i], &id_out, NULL));
    }
    wp_item_t *item = NULL;
    CHECK_STATUS (WP_NOT_FOUND, wp_store_get (t->store, "p", "x", &item));
    CHECK_INT (SIZE ("p"), 0);
}

static void
s_data_and_result_round_trip (s_case_t *t)
{
    //  Opaque bytes of every value, NULs included, well past one page.
    uint8_t *data = s_big_value (t, 60000, 1);
    uint8_t *result = s_big_value (t, 50000, 2);
    wp_push_entry_t entry = { data, 60000, NULL, -1 };
    char *id = NULL;
    CHECK_STATUS (WP_OK, wp_store_push (t->store, "p", &entry, &id, NULL));
    s_own (t, id, free);
    wp_item_t *item = CLAIM ("p", "w", 0);
    CHECK (item && item->data_size == 60000 && memcmp (item->data, data, 60000) == 0);
    CHECK_STATUS (WP_OK, wp_store_complete (t->store, "p", id, result, 50000, "w"));
    item = GET ("p", id);
    CHECK (item->data_size == 60000 && memcmp (item->data, data, 60000) == 0);
    CHECK (item->result_size == 50000 && memcmp (item->result, result, 50000) == 0);

    //  An error string with multi-byte UTF-8 comes back byte for byte.
    const char *error = "d\xc3\xa9j\xc3\xa0 vu \xe2\x82\xac \xf0\x9f\x92\xa5";
    PUSH_ID ("p", "b", "b");
    CLAIM ("p", "w", 0);
    FAIL ("p", "b", error, "w");
    CHECK_STR (GET ("p", "b")->error, error);
}

//  =====================================================================
//  Names and pools

static void
s_invalid_names_are_refused (s_case_t *t)
{
    char too_long [WP_NAME_MAX + 2];
    memset (too_long, 'a', WP_NAME_MAX + 1);
    too_long [WP_NAME_MAX + 1] = 0;
    //  Decision: valid UTF-8 is RFC 3629's: no overlong forms, no surrogates,
    //  nothing above U+10FFFF.
    const char *bad [] = {
        "",
        too_long,
        "\xff",
        "abc\x80",              //  stray continuation byte
        "\xc3",                 //  truncated sequence
        "\xc0\xaf",             //  overlong '/'
        "\xed\xa0\x80",         //  surrogate U+D800
        "\xf4\x90\x80\x80",     //  above U+10FFFF
    };
    s_value_t value = s_val ("a");
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        const char *name = bad [i];
        wp_push_entry_t entry = { value.bytes, value.size, NULL, -1 };
        char *id_out = NULL;
        wp_item_t *item = NULL;
        uint64_t count = 0;
        //  as a pool name
        CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_push (t->store, name, &entry, &id_out, NULL));
        CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_claim (t->store, name, "w", 0, &item));
        CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_size (t->store, name, &count));
        CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_get (t->store, name, "x", &item));
        CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_complete (t->store, name, "x", NULL, 0, NULL));
        CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_fail (t->store, name, "x", NULL, NULL, 0, NULL));
        CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_release_by_worker (t->store, name, "w", &count));
        //  as an item id
        entry.id = name;
        CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_push (t->store, "p", &entry, &id_out, NULL));
        CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_get (t->store, "p", name, &item));
        //  as a worker id
        CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_claim (t->store, "p", name, 0, &item));
        wp_worker_t *spec = SPEC ("w");
        free (spec->worker_id);
        spec->worker_id = s_strdup (name);
        CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_register (t->store, spec, NULL));
        CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_heartbeat (t->store, name, NULL));
    }
    CHECK_INT (SIZE ("p"), 0);
    CHECK_INT (LIST (NULL)->count, 0);

    //  The longest valid names work, in bytes (127 two-byte characters + 1).
    char longest [WP_NAME_MAX + 1];
    memset (longest, 'p', WP_NAME_MAX);
    longest [WP_NAME_MAX] = 0;
    char accented [WP_NAME_MAX + 1];
    for (int i = 0; i < 127; i++)
        memcpy (accented + 2 * i, "\xc3\xa9", 2);
    accented [254] = 'z';
    accented [255] = 0;
    const char *good [] = { longest, accented };
    for (size_t i = 0; i < 2; i++) {
        PUSH_ID (good [i], "a", good [i]);
        CHECK_INT (SIZE (good [i]), 1);
        CHECK_STR (CLAIM (good [i], good [i], 0)->id, good [i]);
        CHECK_STR (GET (good [i], good [i])->claimed_by, good [i]);
    }
}

static void
s_pools_are_independent (s_case_t *t)
{
    //  The same id in two pools: two items, no duplicate.
    PUSH_ID ("p", "in p", "x");
    PUSH_ID ("q", "in q", "x");
    PUSH_ID ("q", "only q", "y");
    CHECK_INT (SIZE ("p"), 1);
    CHECK_INT (SIZE ("q"), 2);
    CHECK_INT (SIZE ("never-used"), 0);
    wp_item_t *item = NULL;
    CHECK_STATUS (WP_NOT_FOUND, wp_store_get (t->store, "p", "y", &item));
    CHECK_STATUS (WP_NOT_FOUND, wp_store_complete (t->store, "p", "y", NULL, 0, NULL));
    CHECK_STATUS (WP_NOT_FOUND, wp_store_fail (t->store, "p", "y", NULL, NULL, 0, NULL));

    wp_item_t *claimed = CLAIM ("p", "w", 0);
    CHECK_STR (claimed->pool, "p");
    CHECK_VALUE (claimed->data, claimed->data_size, "in p");
    CHECK (CLAIM ("p", "w", 0) == NULL);
    CHECK_INT (SIZE ("q"), 2);
    CHECK_PENDING (GET ("q", "x"));

    COMPLETE ("p", "x", "done in p", "w");
    CHECK_PENDING (GET ("q", "x"));
    //  Completing q's x is refused: it is pending there.
    CHECK_STATUS (WP_FAILED_PRECONDITION, wp_store_complete (t->store, "q", "x", NULL, 0, "w"));

    //  release_by_worker touches only the pool named.
    CHECK_STR (CLAIM ("q", "w", 0)->id, "x");
    CHECK_INT (RELEASE ("p", "w"), 0);
    CHECK_STATE (GET ("q", "x"), WP_ITEM_CLAIMED);
}

//  =====================================================================
//  Claim

static void
s_claim_takes_oldest_and_sets_claim_fields (s_case_t *t)
{
    const char *ids [5];
    for (int i = 0; i < 5; i++)
        ids [i] = PUSH ("p", s_sprintf (t, "item %d", i));
    int64_t t0 = wp_time_now ();
    wp_item_t *item = CLAIM ("p", "w1", 0);
    int64_t t1 = wp_time_now ();
    CHECK (item != NULL);
    CHECK_STR (item->id, ids [0]);
    CHECK_STR (item->pool, "p");
    CHECK_VALUE (item->data, item->data_size, "item 0");
    CHECK_INT (item->attempts, 0);
    CHECK_INT (item->max_retries, 3);
    CHECK_CLAIMED (item, "w1", t0, t1, WP_DEFAULT_LEASE_S);

    //  What get says matches what claim returned.
    wp_item_t *got = GET ("p", ids [0]);
    CHECK_STR (got->claimed_by, "w1");
    CHECK_INT (got->claimed_at, item->claimed_at);
    CHECK_INT (got->lease_expires_at, item->lease_expires_at);

    //  A lease given per claim.
    t0 = wp_time_now ();
    item = CLAIM ("p", "w2", 5.5);
    t1 = wp_time_now ();
    CHECK_STR (item->id, ids [1]);
    CHECK_CLAIMED (item, "w2", t0, t1, 5.5);

    for (int i = 2; i < 5; i++)
        CHECK_STR (CLAIM ("p", "w3", 0)->id, ids [i]);
    CHECK (CLAIM ("p", "w3", 0) == NULL);
}

static void
s_claim_from_empty_pool_returns_no_item (s_case_t *t)
{
    //  The out-parameter is written on OK, with NULL.
    wp_item_t *item = (wp_item_t *) &item;
    CHECK_STATUS (WP_OK, wp_store_claim (t->store, "never-used", "w", 0, &item));
    CHECK (item == NULL);

    PUSH ("p", "a");
    CHECK (CLAIM ("p", "w", 0) != NULL);
    item = (wp_item_t *) &item;
    CHECK_STATUS (WP_OK, wp_store_claim (t->store, "p", "w", 0, &item));
    CHECK (item == NULL);
}

static void
s_claim_returned_item_keeps_its_place (s_case_t *t)
{
    PUSH_ID ("p", "a", "a");
    PUSH_ID ("p", "b", "b");
    PUSH_ID ("p", "c", "c");
    CHECK_STR (CLAIM ("p", "w", 0)->id, "a");
    CHECK_STR (CLAIM ("p", "w", 0)->id, "b");

    //  a failed goes back before c
    FAIL ("p", "a", "retry", "w");
    CHECK_STR (CLAIM ("p", "v", 0)->id, "a");

    //  b released goes back before c
    CHECK_INT (RELEASE ("p", "w"), 1);
    CHECK_STR (CLAIM ("p", "v", 0)->id, "b");
    CHECK_STR (CLAIM ("p", "v", 0)->id, "c");

    //  Later pushes still come after the returned ones.
    PUSH_ID ("p", "d", "d");
    FAIL ("p", "c", "retry", "v");
    FAIL ("p", "a", "retry", "v");
    CHECK_STR (CLAIM ("p", "v", 0)->id, "a");
    CHECK_STR (CLAIM ("p", "v", 0)->id, "c");
    CHECK_STR (CLAIM ("p", "v", 0)->id, "d");
}

static void
s_claim_never_returns_an_item_twice (s_case_t *t)
{
    enum { N = 40 };
    const char *ids [N];
    for (int i = 0; i < N; i++)
        ids [i] = PUSH ("p", "same data");
    const char *seen [N];
    const char *workers [] = { "w1", "w2", "w3" };
    for (int i = 0; i < N; i++) {
        wp_item_t *item = CLAIM ("p", workers [i % 3], 0);
        CHECK (item != NULL);
        seen [i] = item->id;
        for (int j = 0; j < i; j++)
            if (strcmp (seen [j], seen [i]) == 0)
                s_bail (t, __LINE__, "item '%s' claimed twice", seen [i]);
        CHECK_STR (seen [i], ids [i]);
    }
    CHECK (CLAIM ("p", "w4", 0) == NULL);
    CHECK_INT (SIZE ("p"), 0);
}

//  =====================================================================
//  Complete

static void
s_complete_stores_result (s_case_t *t)
{
    const char *id = PUSH ("p", "a");
    PUSH ("p", "b");
    int64_t claimed_at = CLAIM ("p", "w", 0)->claimed_at;
    COMPLETE ("p", id, "the result", "w");
    wp_item_t *item = GET ("p", id);
    CHECK_STATE (item, WP_ITEM_DONE);
    CHECK_VALUE (item->result, item->result_size, "the result");
    CHECK_VALUE (item->data, item->data_size, "a");
    CHECK_INT (item->attempts, 0);
    CHECK_INT (SIZE ("p"), 1);
    //  Decision: semantics.md clears the claim fields only on the way back
    //  to pending; a finished item keeps who held it last and when, and
    //  has no lease.
    CHECK_STR (item->claimed_by, "w");
    CHECK_INT (item->claimed_at, claimed_at);
    CHECK_INT (item->lease_expires_at, 0);

    //  No result: none stored. Without worker_id any claim may be completed.
    const char *other = CLAIM ("p", "v", 0)->id;
    COMPLETE ("p", other, NULL, NULL);
    item = GET ("p", other);
    CHECK_STATE (item, WP_ITEM_DONE);
    CHECK (item->result == NULL && item->result_size == 0);
    CHECK (CLAIM ("p", "w", 0) == NULL);
}

static void
s_complete_unknown_is_not_found (s_case_t *t)
{
    CHECK_STATUS (WP_NOT_FOUND, wp_store_complete (t->store, "p", "nope", NULL, 0, NULL));
    PUSH_ID ("p", "a", "a");
    CHECK_STATUS (WP_NOT_FOUND, wp_store_complete (t->store, "p", "nope", NULL, 0, "w"));
    CHECK_STATUS (WP_NOT_FOUND, wp_store_complete (t->store, "other", "a", NULL, 0, NULL));
    CHECK_PENDING (GET ("p", "a"));
}

static void
s_complete_requires_a_claim (s_case_t *t)
{
    s_value_t result = s_val ("r");
    PUSH_ID ("p", "pending", "pending");
    CHECK_STATUS (WP_FAILED_PRECONDITION,
                  wp_store_complete (t->store, "p", "pending", result.bytes, result.size, NULL));
    CHECK_STATUS (WP_FAILED_PRECONDITION,
                  wp_store_complete (t->store, "p", "pending", result.bytes, result.size, "w"));
    wp_item_t *item = GET ("p", "pending");
    CHECK_PENDING (item);
    CHECK (item->result == NULL);

    CLAIM ("p", "w", 0);
    COMPLETE ("p", "pending", "first", "w");
    CHECK_STATUS (WP_FAILED_PRECONDITION,
                  wp_store_complete (t->store, "p", "pending", result.bytes, result.size, "w"));
    CHECK_STATUS (WP_FAILED_PRECONDITION,
                  wp_store_complete (t->store, "p", "pending", result.bytes, result.size, NULL));
    item = GET ("p", "pending");
    CHECK_STATE (item, WP_ITEM_DONE);
    CHECK_VALUE (item->result, item->result_size, "first");

    PUSH_FULL ("p", "x", "poisoned", 0, NULL);
    CLAIM ("p", "w", 0);
    FAIL ("p", "poisoned", "bad", "w");
    CHECK_STATUS (WP_FAILED_PRECONDITION,
                  wp_store_complete (t->store, "p", "poisoned", result.bytes, result.size, "w"));
    item = GET ("p", "poisoned");
    CHECK_STATE (item, WP_ITEM_POISONED);
    CHECK (item->result == NULL);
    CHECK_STR (item->error, "bad");
}

static void
s_complete_by_another_worker_is_refused (s_case_t *t)
{
    PUSH_ID ("p", "a", "a");
    CLAIM ("p", "owner", 0);
    s_value_t result = s_val ("stolen");
    CHECK_STATUS (WP_FAILED_PRECONDITION,
                  wp_store_complete (t->store, "p", "a", result.bytes, result.size, "thief"));
    wp_item_t *item = GET ("p", "a");
    CHECK_STATE (item, WP_ITEM_CLAIMED);
    CHECK_STR (item->claimed_by, "owner");
    CHECK (item->result == NULL);
    COMPLETE ("p", "a", "mine", "owner");
    CHECK_VALUE (GET ("p", "a")->result, GET ("p", "a")->result_size, "mine");
}

//  =====================================================================
//  Fail

static void
s_fail_counts_an_attempt_then_poisons (s_case_t *t)
{
    PUSH_ID ("p", "a", "a");
    PUSH_ID ("p", "b", "b");
    for (uint32_t attempt = 1; attempt <= 3; attempt++) {
        wp_item_t *claimed = CLAIM ("p", "w", 0);
        CHECK_STR (claimed->id, "a");
        const char *error = s_sprintf (t, "error %u", attempt);
        wp_item_state state = FAIL ("p", "a", error, "w");
        wp_item_t *item = GET ("p", "a");
        CHECK_INT (item->attempts, attempt);
        CHECK_STR (item->error, error);
        CHECK_INT (item->max_retries, 3);
        if (attempt < 3) {
            CHECK_STATE_IS (state, WP_ITEM_PENDING);
            CHECK_PENDING (item);
            CHECK_INT (SIZE ("p"), 2);
        }
        else {
            CHECK_STATE_IS (state, WP_ITEM_POISONED);
            CHECK_STATE (item, WP_ITEM_POISONED);
            CHECK_INT (SIZE ("p"), 1);
            //  As for done items: the last claimant stays, the lease goes.
            CHECK_STR (item->claimed_by, "w");
            CHECK_INT (item->claimed_at, claimed->claimed_at);
            CHECK_INT (item->lease_expires_at, 0);
        }
    }
    CHECK_STR (CLAIM ("p", "w", 0)->id, "b");
    CHECK (CLAIM ("p", "w", 0) == NULL);

    //  No error text, state_out NULL, no worker_id: all allowed.
    PUSH_ID ("p", "c", "c");
    CLAIM ("p", "w", 0);
    CHECK_STATUS (WP_OK, wp_store_fail (t->store, "p", "c", NULL, NULL, 0, NULL));
    CHECK_INT (GET ("p", "c")->attempts, 1);
    CHECK_PENDING (GET ("p", "c"));
    //  Decision: the error is the latest failure's, so a failure without
    //  text leaves none, rather than keeping an older one.
    CLAIM ("p", "w", 0);
    FAIL ("p", "c", "with text", "w");
    CLAIM ("p", "w", 0);
    FAIL ("p", "c", NULL, "w");
    wp_item_t *item = GET ("p", "c");
    CHECK_INT (item->attempts, 3);
    CHECK (item->error == NULL);
}

static void
s_fail_unknown_is_not_found (s_case_t *t)
{
    wp_item_state state = WP_ITEM_DONE;
    CHECK_STATUS (WP_NOT_FOUND, wp_store_fail (t->store, "p", "nope", "e", NULL, 0, &state));
    PUSH_ID ("p", "a", "a");
    CHECK_STATUS (WP_NOT_FOUND, wp_store_fail (t->store, "p", "nope", "e", "w", 0, &state));
    CHECK_STATUS (WP_NOT_FOUND, wp_store_fail (t->store, "other", "a", "e", NULL, 0, &state));
    CHECK_STATE_IS (state, WP_ITEM_DONE);        //  not written on failure
    CHECK_INT (GET ("p", "a")->attempts, 0);
}

static void
s_fail_requires_a_claim (s_case_t *t)
{
    PUSH_ID ("p", "a", "a");
    CHECK_STATUS (WP_FAILED_PRECONDITION, wp_store_fail (t->store, "p", "a", "e", NULL, 0, NULL));
    CHECK_STATUS (WP_FAILED_PRECONDITION, wp_store_fail (t->store, "p", "a", "e", "w", 0, NULL));
    wp_item_t *item = GET ("p", "a");
    CHECK_PENDING (item);
    CHECK_INT (item->attempts, 0);
    CHECK (item->error == NULL);

    CLAIM ("p", "w", 0);
    COMPLETE ("p", "a", "r", "w");
    CHECK_STATUS (WP_FAILED_PRECONDITION, wp_store_fail (t->store, "p", "a", "e", "w", 0, NULL));
    item = GET ("p", "a");
    CHECK_STATE (item, WP_ITEM_DONE);
    CHECK_INT (item->attempts, 0);
    CHECK (item->error == NULL);

    PUSH_FULL ("p", "x", "b", 1, NULL);
    CLAIM ("p", "w", 0);
    FAIL ("p", "b", "first", "w");
    CHECK_STATUS (WP_FAILED_PRECONDITION, wp_store_fail (t->store, "p", "b", "second", "w", 0, NULL));
    item = GET ("p", "b");
    CHECK_STATE (item, WP_ITEM_POISONED);
    CHECK_INT (item->attempts, 1);
    CHECK_STR (item->error, "first");
}

static void
s_fail_by_another_worker_is_refused (s_case_t *t)
{
    PUSH_ID ("p", "a", "a");
    CLAIM ("p", "owner", 0);
    CHECK_STATUS (WP_FAILED_PRECONDITION, wp_store_fail (t->store, "p", "a", "no", "thief", 0, NULL));
    wp_item_t *item = GET ("p", "a");
    CHECK_STATE (item, WP_ITEM_CLAIMED);
    CHECK_STR (item->claimed_by, "owner");
    CHECK_INT (item->attempts, 0);
    CHECK (item->error == NULL);
    CHECK_STATE_IS (FAIL ("p", "a", "mine", "owner"), WP_ITEM_PENDING);
}

//  =====================================================================
//  Size, release, get

static void
s_size_counts_pending_only (s_case_t *t)
{
    CHECK_INT (SIZE ("p"), 0);
    PUSH_ID ("p", "a", "a");
    PUSH_ID ("p", "b", "b");
    PUSH_FULL ("p", "c", "c", 0, NULL);
    PUSH_ID ("p", "d", "d");
    CHECK_INT (SIZE ("p"), 4);
    CLAIM ("p", "w", 0);                        //  a claimed
    CHECK_INT (SIZE ("p"), 3);
    CLAIM ("p", "w", 0);                        //  b claimed
    COMPLETE ("p", "b", NULL, "w");             //  b done
    CHECK_INT (SIZE ("p"), 2);
    CLAIM ("p", "w", 0);                        //  c claimed
    FAIL ("p", "c", "x", "w");                  //  c poisoned
    CHECK_INT (SIZE ("p"), 1);
    FAIL ("p", "a", "x", "w");                  //  a pending again
    CHECK_INT (SIZE ("p"), 2);
}

static void
s_release_by_worker_returns_claims (s_case_t *t)
{
    PUSH_ID ("p", "a", "a");
    PUSH_ID ("p", "b", "b");
    PUSH_ID ("p", "c", "c");
    PUSH_ID ("p", "d", "d");
    PUSH_ID ("q", "e", "e");
    CLAIM ("p", "w", 0);                    //  a
    CLAIM ("p", "v", 0);                    //  b
    CLAIM ("p", "w", 0);                    //  c
    CLAIM ("q", "w", 0);                    //  e, another pool
    CLAIM ("p", "w", 0);                    //  d
    COMPLETE ("p", "d", NULL, "w");         //  done: not a claim any more

    CHECK_INT (RELEASE ("p", "w"), 2);
    for (int i = 0; i < 2; i++) {
        wp_item_t *item = GET ("p", i ? "c" : "a");
        CHECK_PENDING (item);
        CHECK_INT (item->attempts, 0);      //  a release is not a failure
        CHECK (item->error == NULL);
    }
    CHECK_STR (GET ("p", "b")->claimed_by, "v");
    CHECK_STR (GET ("q", "e")->claimed_by, "w");
    CHECK_STATE (GET ("p", "d"), WP_ITEM_DONE);
    CHECK_INT (SIZE ("p"), 2);

    CHECK_INT (RELEASE ("p", "w"), 0);
    CHECK_INT (RELEASE ("p", "nobody"), 0);
    CHECK_INT (RELEASE ("never-used", "w"), 0);
    //  Released items are claimable again, oldest first.
    CHECK_STR (CLAIM ("p", "x", 0)->id, "a");
}

static void
s_get_returns_the_whole_item (s_case_t *t)
{
    int64_t t0 = wp_time_now ();
    PUSH_FULL ("p", "data", "a", 4, NULL);
    int64_t t1 = wp_time_now ();
    CLAIM ("p", "w", 0);
    FAIL ("p", "a", "oops", "w");
    CLAIM ("p", "w", 0);
    COMPLETE ("p", "a", "result", "w");
    wp_item_t *item = GET ("p", "a");
    CHECK_STR (item->id, "a");
    CHECK_STR (item->pool, "p");
    CHECK_VALUE (item->data, item->data_size, "data");
    CHECK_STATE (item, WP_ITEM_DONE);
    CHECK_INT (item->attempts, 1);
    CHECK_INT (item->max_retries, 4);
    CHECK_VALUE (item->result, item->result_size, "result");
    //  Decision: complete does not clear the error of an earlier failure:
    //  semantics.md says error is set by the latest fail, nothing clears it.
    CHECK_STR (item->error, "oops");
    CHECK_TIME (item->created_at, t0, t1);
}

static void
s_get_unknown_is_not_found (s_case_t *t)
{
    wp_item_t *item = (wp_item_t *) &item;
    CHECK_STATUS (WP_NOT_FOUND, wp_store_get (t->store, "p", "nope", &item));
    CHECK (item == (wp_item_t *) &item);        //  not written on failure
    PUSH_ID ("p", "a", "a");
    CHECK_STATUS (WP_NOT_FOUND, wp_store_get (t->store, "p", "nope", &item));
    CHECK_STATUS (WP_NOT_FOUND, wp_store_get (t->store, "q", "a", &item));
    CHECK (item == (wp_item_t *) &item);
}

//  =====================================================================
//  Leases (real time)

static void
s_renew_extends_leases (s_case_t *t)
{
    PUSH_ID ("p", "a", "a");
    PUSH_ID ("q", "b", "b");
    PUSH_ID ("p", "c", "c");
    CLAIM ("p", "w", 10);
    CLAIM ("q", "w", 10);
    wp_item_t *other = CLAIM ("p", "v", 10);

    int64_t t0 = wp_time_now ();
    CHECK_INT (RENEW ("w", 60), 2);
    int64_t t1 = wp_time_now ();
    CHECK_TIME (GET ("p", "a")->lease_expires_at, t0 + 60 * S_SECOND - 1000, t1 + 60 * S_SECOND + 1000);
    CHECK_TIME (GET ("q", "b")->lease_expires_at, t0 + 60 * S_SECOND - 1000, t1 + 60 * S_SECOND + 1000);
    CHECK_INT (GET ("p", "c")->lease_expires_at, other->lease_expires_at);

    //  lease <= 0: the default
    t0 = wp_time_now ();
    CHECK_INT (RENEW ("w", 0), 2);
    t1 = wp_time_now ();
    int64_t lease = s_us (WP_DEFAULT_LEASE_S);
    CHECK_TIME (GET ("p", "a")->lease_expires_at, t0 + lease - 1000, t1 + lease + 1000);

    //  Decision: renewing for a worker that holds nothing is OK, count 0.
    CHECK_INT (RENEW ("nobody", 60), 0);
    COMPLETE ("p", "c", NULL, "v");
    CHECK_INT (RENEW ("v", 60), 0);
}

static void
s_lease_expiry_requeues (s_case_t *t)
{
    PUSH_ID ("p", "a", "a");
    PUSH_ID ("p", "b", "b");
    CHECK_STR (CLAIM ("p", "w", 0.2)->id, "a");
    wp_item_t *item = WAIT_UNCLAIMED ("p", "a");
    CHECK_PENDING (item);
    CHECK_INT (item->attempts, 1);
    CHECK_STR (item->error, "lease expired");
    CHECK_INT (SIZE ("p"), 2);
    //  The late worker cannot finish it; it keeps its place for the next.
    CHECK_STATUS (WP_FAILED_PRECONDITION, wp_store_complete (t->store, "p", "a", NULL, 0, "w"));
    CHECK_STR (CLAIM ("p", "v", 0)->id, "a");
}

static void
s_lease_expiry_poisons_at_max_retries (s_case_t *t)
{
    PUSH_FULL ("p", "a", "once", 1, NULL);
    CLAIM ("p", "w", 0.2);
    wp_item_t *item = WAIT_UNCLAIMED ("p", "once");
    CHECK_STATE (item, WP_ITEM_POISONED);
    CHECK_INT (item->attempts, 1);
    CHECK_STR (item->error, "lease expired");

    //  max_retries 2: pending after the first expiry, poisoned after the second.
    PUSH_FULL ("p", "b", "twice", 2, NULL);
    CHECK_STR (CLAIM ("p", "w", 0.2)->id, "twice");
    item = WAIT_UNCLAIMED ("p", "twice");
    CHECK_PENDING (item);
    CHECK_INT (item->attempts, 1);
    CHECK_STR (CLAIM ("p", "v", 0.2)->id, "twice");
    item = WAIT_UNCLAIMED ("p", "twice");
    CHECK_STATE (item, WP_ITEM_POISONED);
    CHECK_INT (item->attempts, 2);
    CHECK_STR (item->error, "lease expired");
    CHECK_STR (item->claimed_by, "v");
    CHECK_INT (item->lease_expires_at, 0);
    CHECK_INT (SIZE ("p"), 0);
}

static void
s_late_worker_cannot_complete_or_fail (s_case_t *t)
{
    PUSH_ID ("p", "a", "a");
    CLAIM ("p", "late", 0.2);
    WAIT_UNCLAIMED ("p", "a");
    //  Lapsed and not yet claimed again: pending, so refused.
    CHECK_STATUS (WP_FAILED_PRECONDITION, wp_store_complete (t->store, "p", "a", NULL, 0, "late"));
    CHECK_STATUS (WP_FAILED_PRECONDITION, wp_store_fail (t->store, "p", "a", "e", "late", 0, NULL));
    //  Claimed again by another: still refused to the late worker.
    CHECK_STR (CLAIM ("p", "new", 60)->id, "a");
    s_value_t result = s_val ("late result");
    CHECK_STATUS (WP_FAILED_PRECONDITION,
                  wp_store_complete (t->store, "p", "a", result.bytes, result.size, "late"));
    CHECK_STATUS (WP_FAILED_PRECONDITION, wp_store_fail (t->store, "p", "a", "e", "late", 0, NULL));
    wp_item_t *item = GET ("p", "a");
    CHECK_STATE (item, WP_ITEM_CLAIMED);
    CHECK_STR (item->claimed_by, "new");
    CHECK_INT (item->attempts, 1);
    CHECK (item->result == NULL);
    COMPLETE ("p", "a", "on time", "new");
    CHECK_STATE (GET ("p", "a"), WP_ITEM_DONE);
}

static void
s_heartbeat_renews_leases (s_case_t *t)
{
    REGISTER (SPEC ("w"));
    PUSH_ID ("p", "a", "a");
    PUSH_ID ("q", "b", "b");
    CLAIM ("p", "w", 1.0);
    CLAIM ("q", "w", 1.0);
    int64_t first_a = GET ("p", "a")->lease_expires_at;
    int64_t first_b = GET ("q", "b")->lease_expires_at;
    s_sleep_ms (20);
    HEARTBEAT ("w", NULL);
    CHECK (GET ("p", "a")->lease_expires_at > first_a);
    CHECK (GET ("q", "b")->lease_expires_at > first_b);

    //  Heartbeats keep both claims past their first leases.
    int64_t until = (first_a > first_b ? first_a : first_b) + 300000;
    while (wp_time_now () < until) {
        s_sleep_ms (100);
        HEARTBEAT ("w", NULL);
    }
    wp_item_t *a = GET ("p", "a");
    wp_item_t *b = GET ("q", "b");
    CHECK_STR (a->claimed_by, "w");
    CHECK_STR (b->claimed_by, "w");
    CHECK_INT (a->attempts, 0);
    COMPLETE ("p", "a", NULL, "w");
    COMPLETE ("q", "b", NULL, "w");
}

//  =====================================================================
//  Workers

static void
s_register_creates_an_active_record (s_case_t *t)
{
    wp_worker_t *spec = SPEC ("w1");
    spec->host = s_strdup ("node-7");
    spec->pid = 4242;
    wp_worker_add_capability (spec, "gpu");
    wp_worker_add_capability (spec, "paper-analysis");
    spec->pool_id = s_strdup ("pool-a");
    spec->started_at = S_CLOCK_START + 123456;
    spec->heartbeat_interval = 2.5;
    s_value_t one = s_val ("one");
    wp_meta_set (&spec->metadata, "k", one.bytes, one.size);

    int64_t t0 = wp_time_now ();
    wp_worker_t *record = REGISTER (spec);
    int64_t t1 = wp_time_now ();
    for (int i = 0; i < 2; i++) {
        //  Both what register returned and what get_worker returns.
        wp_worker_t *w = i ? WORKER ("w1") : record;
        CHECK (w != NULL);
        CHECK_STR (w->worker_id, "w1");
        CHECK_STR (w->host, "node-7");
        CHECK_INT (w->pid, 4242);
        //  Decision: capabilities keep their registered order.
        CHECK_INT (w->capability_count, 2);
        CHECK_STR (w->capabilities [0], "gpu");
        CHECK_STR (w->capabilities [1], "paper-analysis");
        CHECK_STR (w->pool_id, "pool-a");
        CHECK_INT (w->started_at, S_CLOCK_START + 123456);
        CHECK_STR (w->status, "active");
        CHECK_TIME (w->last_heartbeat, t0, t1);
        CHECK (w->current_task_id == NULL);
        CHECK (w->heartbeat_interval == 2.5);
        CHECK_INT (w->metadata.count, 1);
        CHECK_META (w->metadata, "k", "one");
    }
}

static void
s_register_defaults (s_case_t *t)
{
    int64_t t0 = wp_time_now ();
    REGISTER (SPEC ("w"));
    int64_t t1 = wp_time_now ();
    wp_worker_t *w = WORKER ("w");
    CHECK (w != NULL);
    CHECK (w->host == NULL);
    CHECK_INT (w->pid, -1);
    CHECK_INT (w->capability_count, 0);
    CHECK (w->pool_id == NULL);
    CHECK_TIME (w->started_at, t0, t1);         //  0 means "the register time"
    CHECK_INT (w->last_heartbeat, w->started_at);
    CHECK_STR (w->status, "active");
    if (w->heartbeat_interval != WP_DEFAULT_HEARTBEAT_S)
        s_bail (t, __LINE__, "heartbeat_interval is %g, expected %g",
                w->heartbeat_interval, WP_DEFAULT_HEARTBEAT_S);
    CHECK_INT (w->metadata.count, 0);
}

static void
s_register_replaces_the_record (s_case_t *t)
{
    wp_worker_t *spec = SPEC ("w");
    spec->host = s_strdup ("old-host");
    spec->pid = 1;
    wp_worker_add_capability (spec, "old");
    spec->pool_id = s_strdup ("old-pool");
    spec->heartbeat_interval = 30;
    s_value_t value = s_val ("v");
    wp_meta_set (&spec->metadata, "old-key", value.bytes, value.size);
    REGISTER (spec);
    SET_STATUS ("w", "terminating");
    int64_t first_heartbeat = WORKER ("w")->last_heartbeat;

    s_sleep_ms (2);
    //  Decision: re-register replaces the whole record (metadata included);
    //  nothing of the old one survives but the id.
    wp_worker_t *again = SPEC ("w");
    again->host = s_strdup ("new-host");
    again->pid = 2;
    wp_worker_add_capability (again, "new");
    REGISTER (again);
    wp_worker_t *w = WORKER ("w");
    CHECK_STR (w->host, "new-host");
    CHECK_INT (w->pid, 2);
    CHECK_INT (w->capability_count, 1);
    CHECK_STR (w->capabilities [0], "new");
    CHECK (w->pool_id == NULL);
    CHECK_STR (w->status, "active");
    CHECK (w->last_heartbeat > first_heartbeat);
    CHECK (w->heartbeat_interval == WP_DEFAULT_HEARTBEAT_S);
    CHECK (wp_meta_get (&w->metadata, "old-key") == NULL);
    CHECK_STR (IDS (LIST (NULL)), "w");
}

static void
s_register_refuses_bad_records (s_case_t *t)
{
    wp_worker_t *spec = SPEC ("w");
    spec->heartbeat_interval = -1;
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_register (t->store, spec, NULL));
    spec->heartbeat_interval = 0;
    spec->pool_id = s_strdup ("");
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_register (t->store, spec, NULL));
    free (spec->pool_id);
    spec->pool_id = NULL;
    wp_worker_add_capability (spec, "");
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_register (t->store, spec, NULL));
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_register (t->store, NULL, NULL));
    CHECK (WORKER ("w") == NULL);
    CHECK_INT (LIST (NULL)->count, 0);
}

static void
s_heartbeat_unknown_is_not_found (s_case_t *t)
{
    CHECK_STATUS (WP_NOT_FOUND, wp_store_heartbeat (t->store, "nobody", NULL));
    wp_meta_t *meta = s_meta (t);
    s_value_t value = s_val ("v");
    wp_meta_set (meta, "k", value.bytes, value.size);
    CHECK_STATUS (WP_NOT_FOUND, wp_store_heartbeat (t->store, "nobody", meta));
    CHECK (WORKER ("nobody") == NULL);
}

static void
s_heartbeat_merges_metadata (s_case_t *t)
{
    wp_worker_t *spec = SPEC ("w");
    s_value_t one = s_val ("1"), two = s_val ("2");
    wp_meta_set (&spec->metadata, "a", one.bytes, one.size);
    wp_meta_set (&spec->metadata, "b", two.bytes, two.size);
    int64_t registered = REGISTER (spec)->last_heartbeat;

    s_sleep_ms (2);
    wp_meta_t *meta = s_meta (t);
    s_value_t three = s_val ("3"), four = s_val ("4");
    wp_meta_set (meta, "b", three.bytes, three.size);
    wp_meta_set (meta, "c", four.bytes, four.size);
    int64_t t0 = wp_time_now ();
    HEARTBEAT ("w", meta);
    int64_t t1 = wp_time_now ();
    wp_worker_t *w = WORKER ("w");
    CHECK_INT (w->metadata.count, 3);
    CHECK_META (w->metadata, "a", "1");
    CHECK_META (w->metadata, "b", "3");
    CHECK_META (w->metadata, "c", "4");
    CHECK (w->last_heartbeat > registered);
    CHECK_TIME (w->last_heartbeat, t0, t1);

    //  A value that is itself a map, {"x": [1, 2]}, is kept as it came.
    static const uint8_t nested [] = { 0x81, 0xa1, 'x', 0x92, 0x01, 0x02 };
    wp_meta_t *deep = s_meta (t);
    wp_meta_set (deep, "d", nested, sizeof nested);
    HEARTBEAT ("w", deep);

    //  No metadata: the time moves, the metadata stays.
    int64_t before = WORKER ("w")->last_heartbeat;
    s_sleep_ms (2);
    HEARTBEAT ("w", NULL);
    w = WORKER ("w");
    CHECK (w->last_heartbeat > before);
    CHECK_INT (w->metadata.count, 4);
    CHECK_META (w->metadata, "b", "3");
    const wp_meta_entry_t *entry = wp_meta_get (&w->metadata, "d");
    CHECK (entry && entry->value_size == sizeof nested
           && memcmp (entry->value, nested, sizeof nested) == 0);
}

static void
s_update_status (s_case_t *t)
{
    CHECK_STATUS (WP_NOT_FOUND, wp_store_update_status (t->store, "nobody", "active"));
    CHECK (WORKER ("nobody") == NULL);
    REGISTER (SPEC ("w"));
    SET_STATUS ("w", "terminating");
    CHECK_STR (WORKER ("w")->status, "terminating");
    //  Status is a free string.
    SET_STATUS ("w", "draining-for-upgrade");
    CHECK_STR (WORKER ("w")->status, "draining-for-upgrade");
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_update_status (t->store, "w", ""));
    CHECK_STR (WORKER ("w")->status, "draining-for-upgrade");
    SET_STATUS ("w", "terminated");
    CHECK_STR (WORKER ("w")->status, "terminated");
}

static void
s_get_worker_unknown_is_none (s_case_t *t)
{
    CHECK (WORKER ("nobody") == NULL);
    REGISTER (SPEC ("somebody"));
    CHECK (WORKER ("nobody") == NULL);
    //  Decision: claiming does not register a worker.
    PUSH ("p", "a");
    CLAIM ("p", "claimer", 0);
    CHECK (WORKER ("claimer") == NULL);
}

static void
s_list_workers_filters (s_case_t *t)
{
    wp_worker_t *spec = SPEC ("w1");
    wp_worker_add_capability (spec, "gpu");
    wp_worker_add_capability (spec, "cpu");
    spec->pool_id = s_strdup ("p1");
    REGISTER (spec);
    spec = SPEC ("w2");
    wp_worker_add_capability (spec, "cpu");
    spec->pool_id = s_strdup ("p2");
    REGISTER (spec);
    spec = SPEC ("w3");
    spec->pool_id = s_strdup ("p1");
    REGISTER (spec);
    spec = SPEC ("w4");
    wp_worker_add_capability (spec, "gpu");
    REGISTER (spec);
    SET_STATUS ("w2", "terminating");
    SET_STATUS ("w3", "terminated");

    wp_worker_filter_t all = WP_WORKER_FILTER_ALL;
    CHECK_STR (IDS (LIST (NULL)), "w1,w2,w3,w4");
    CHECK_STR (IDS (LIST (&all)), "w1,w2,w3,w4");

    const char *active [] = { "active" };
    const char *ending [] = { "terminating", "terminated" };
    const char *none [] = { "lost" };
    wp_worker_filter_t f = all;
    f.statuses = active;
    f.status_count = 1;
    CHECK_STR (IDS (LIST (&f)), "w1,w4");
    f.statuses = ending;
    f.status_count = 2;
    CHECK_STR (IDS (LIST (&f)), "w2,w3");
    f.statuses = none;
    f.status_count = 1;
    CHECK_STR (IDS (LIST (&f)), "");

    f = all;
    f.capability = "gpu";
    CHECK_STR (IDS (LIST (&f)), "w1,w4");
    f.capability = "cpu";
    CHECK_STR (IDS (LIST (&f)), "w1,w2");
    f.capability = "tpu";
    CHECK_STR (IDS (LIST (&f)), "");

    f = all;
    f.pool_id = "p1";
    CHECK_STR (IDS (LIST (&f)), "w1,w3");
    f.pool_id = "p3";
    CHECK_STR (IDS (LIST (&f)), "");

    //  Combined: every criterion must hold.
    f = all;
    f.statuses = active;
    f.status_count = 1;
    f.capability = "gpu";
    CHECK_STR (IDS (LIST (&f)), "w1,w4");
    f.pool_id = "p1";
    CHECK_STR (IDS (LIST (&f)), "w1");
    f.statuses = ending;
    f.status_count = 2;
    f.capability = NULL;
    CHECK_STR (IDS (LIST (&f)), "w3");
    f.capability = "cpu";
    CHECK_STR (IDS (LIST (&f)), "");

    //  The records listed are whole.
    f = all;
    f.pool_id = "p2";
    wp_worker_list_t *list = LIST (&f);
    CHECK_INT (list->count, 1);
    CHECK_STR (list->workers [0]->status, "terminating");
    CHECK_INT (list->workers [0]->capability_count, 1);
    CHECK_STR (list->workers [0]->capabilities [0], "cpu");
}

static void
s_list_workers_stale_threshold (s_case_t *t)
{
    REGISTER (SPEC ("w1"));
    wp_worker_t *spec = SPEC ("w2");
    wp_worker_add_capability (spec, "gpu");
    REGISTER (spec);
    REGISTER (SPEC ("w3"));
    spec = SPEC ("w4");
    wp_worker_add_capability (spec, "gpu");
    REGISTER (spec);
    SET_STATUS ("w4", "terminating");
    s_sleep_ms (1200);
    HEARTBEAT ("w1", NULL);
    HEARTBEAT ("w3", NULL);

    wp_worker_filter_t f = WP_WORKER_FILTER_ALL;
    f.stale_threshold = 0.6;
    CHECK_STR (IDS (LIST (&f)), "w2,w4");
    f.stale_threshold = 3600;
    CHECK_STR (IDS (LIST (&f)), "");
    f.stale_threshold = -1;
    CHECK_STR (IDS (LIST (&f)), "w1,w2,w3,w4");

    const char *active [] = { "active" };
    f.stale_threshold = 0.6;
    f.capability = "gpu";
    CHECK_STR (IDS (LIST (&f)), "w2,w4");
    f.statuses = active;
    f.status_count = 1;
    CHECK_STR (IDS (LIST (&f)), "w2");
}

static void
s_stale_worker_is_declared_lost (s_case_t *t)
{
    //  v: stale too, but not active, so never declared lost.
    wp_worker_t *spec = SPEC ("v");
    spec->heartbeat_interval = 0.25;
    REGISTER (spec);
    SET_STATUS ("v", "terminating");
    REGISTER (SPEC ("steady"));                 //  10 s interval: stays active
    spec = SPEC ("w");
    spec->heartbeat_interval = 0.25;
    REGISTER (spec);
    PUSH_ID ("p", "a", "a");
    PUSH_FULL ("p", "b", "b", 1, NULL);
    PUSH_ID ("q", "c", "c");
    PUSH_ID ("p", "d", "d");
    //  Long leases: only the worker's loss can return these.
    CLAIM ("p", "w", 600);
    CLAIM ("p", "w", 600);
    CLAIM ("q", "w", 600);
    CLAIM ("p", "steady", 600);

    WAIT_WORKER_STATUS ("w", "lost");
    wp_item_t *item = GET ("p", "a");
    CHECK_PENDING (item);
    CHECK_INT (item->attempts, 1);
    CHECK_STR (item->error, "worker lost");
    item = GET ("p", "b");
    CHECK_STATE (item, WP_ITEM_POISONED);
    CHECK_INT (item->attempts, 1);
    CHECK_STR (item->error, "worker lost");
    item = GET ("q", "c");
    CHECK_PENDING (item);
    CHECK_STR (item->error, "worker lost");
    CHECK_STR (GET ("p", "d")->claimed_by, "steady");
    CHECK_STR (WORKER ("v")->status, "terminating");
    CHECK_STR (WORKER ("steady")->status, "active");

    const char *lost [] = { "lost" };
    wp_worker_filter_t f = WP_WORKER_FILTER_ALL;
    f.statuses = lost;
    f.status_count = 1;
    CHECK_STR (IDS (LIST (&f)), "w");
    //  The lost worker cannot finish what it had.
    CHECK_STATUS (WP_FAILED_PRECONDITION, wp_store_complete (t->store, "p", "a", NULL, 0, "w"));
}

static void
s_lost_worker_must_register_again (s_case_t *t)
{
    wp_worker_t *spec = SPEC ("w");
    spec->heartbeat_interval = 0.25;
    REGISTER (spec);
    WAIT_WORKER_STATUS ("w", "lost");
    CHECK_STATUS (WP_FAILED_PRECONDITION, wp_store_heartbeat (t->store, "w", NULL));
    CHECK_STR (WORKER ("w")->status, "lost");

    wp_worker_t *again = SPEC ("w");
    again->heartbeat_interval = 60;
    CHECK_STR (REGISTER (again)->status, "active");
    HEARTBEAT ("w", NULL);
    CHECK_STR (WORKER ("w")->status, "active");
    PUSH ("p", "a");
    CHECK (CLAIM ("p", "w", 0) != NULL);
}

static void
s_current_task_id_follows_claims (s_case_t *t)
{
    REGISTER (SPEC ("w"));
    for (int i = 1; i <= 5; i++)
        PUSH_ID ("p", "x", s_sprintf (t, "i%d", i));
    CHECK (WORKER ("w")->current_task_id == NULL);
    CLAIM ("p", "w", 0);
    CHECK_STR (WORKER ("w")->current_task_id, "i1");
    CLAIM ("p", "w", 0);
    CHECK_STR (WORKER ("w")->current_task_id, "i2");
    //  Decision: "the item claimed most recently, while it holds it": once
    //  i2 is finished it is cleared, even though i1 is still held.
    COMPLETE ("p", "i2", NULL, "w");
    CHECK (WORKER ("w")->current_task_id == NULL);
    COMPLETE ("p", "i1", NULL, "w");
    CHECK (WORKER ("w")->current_task_id == NULL);

    CLAIM ("p", "w", 0);
    CHECK_STR (WORKER ("w")->current_task_id, "i3");
    FAIL ("p", "i3", "e", "w");
    CHECK (WORKER ("w")->current_task_id == NULL);

    CLAIM ("p", "w", 0);                        //  i3 again: it kept its place
    CHECK_STR (WORKER ("w")->current_task_id, "i3");
    RELEASE ("p", "w");
    CHECK (WORKER ("w")->current_task_id == NULL);

    //  Another worker's claim does not touch w's record.
    REGISTER (SPEC ("v"));
    CLAIM ("p", "w", 0);
    CLAIM ("p", "v", 0);
    CHECK_STR (WORKER ("w")->current_task_id, "i3");
    CHECK_STR (WORKER ("v")->current_task_id, "i4");
    COMPLETE ("p", "i4", NULL, NULL);           //  completed without naming v
    CHECK (WORKER ("v")->current_task_id == NULL);
    CHECK_STR (WORKER ("w")->current_task_id, "i3");
}

//  =====================================================================
//  Statistics and housekeeping

static const wp_pool_stats_t *
s_pool_stats (s_case_t *t, const wp_stats_t *stats, const char *pool)
{
    const wp_pool_stats_t *found = NULL;
    for (size_t i = 0; i < stats->pool_count; i++)
        if (strcmp (stats->pools [i].pool, pool) == 0) {
            if (found)
                s_bail (t, __LINE__, "stats list pool '%s' twice", pool);
            found = &stats->pools [i];
        }
    return found;
}

static uint64_t
s_worker_stats (const wp_stats_t *stats, const char *status)
{
    for (size_t i = 0; i < stats->worker_status_count; i++)
        if (strcmp (stats->workers [i].status, status) == 0)
            return stats->workers [i].count;
    return 0;
}

static void
s_stats_count_items_and_workers (s_case_t *t)
{
    PUSH_FULL ("a", "1", "a1", 0, NULL);
    for (int i = 2; i <= 5; i++)
        PUSH_ID ("a", "x", s_sprintf (t, "a%d", i));
    PUSH_ID ("b", "1", "b1");
    SIZE ("c");                                 //  named, but holds nothing
    CLAIM ("a", "w", 0);
    FAIL ("a", "a1", "bad", "w");               //  poisoned
    CLAIM ("a", "w", 0);
    COMPLETE ("a", "a2", NULL, "w");            //  done
    CLAIM ("a", "w", 0);                        //  a3 claimed; a4, a5 pending
    REGISTER (SPEC ("w1"));
    REGISTER (SPEC ("w2"));
    REGISTER (SPEC ("w3"));
    SET_STATUS ("w3", "terminating");

    wp_stats_t *stats = NULL;
    CHECK_STATUS (WP_OK, wp_store_stats (t->store, &stats));
    s_own (t, stats, s_free_stats);
    CHECK (stats != NULL);
    const wp_pool_stats_t *a = s_pool_stats (t, stats, "a");
    const wp_pool_stats_t *b = s_pool_stats (t, stats, "b");
    CHECK (a != NULL && b != NULL);
    CHECK_INT (a->pending, 2);
    CHECK_INT (a->claimed, 1);
    CHECK_INT (a->done, 1);
    CHECK_INT (a->poisoned, 1);
    CHECK_INT (b->pending, 1);
    CHECK_INT (b->claimed + b->done + b->poisoned, 0);
    CHECK (s_pool_stats (t, stats, "c") == NULL);
    CHECK_INT (stats->pool_count, 2);
    CHECK_INT (s_worker_stats (stats, "active"), 2);
    CHECK_INT (s_worker_stats (stats, "terminating"), 1);
    CHECK_INT (s_worker_stats (stats, "lost"), 0);
}

static void
s_reap_reports_counts (s_case_t *t)
{
    wp_reap_t reap;
    memset (&reap, 0xff, sizeof reap);
    CHECK_STATUS (WP_OK, wp_store_reap (t->store, &reap));
    CHECK_INT (reap.leases_expired + reap.workers_lost + reap.requeued + reap.poisoned, 0);

    PUSH_ID ("p", "a", "a");                    //  lease lapses: requeued
    PUSH_FULL ("p", "b", "b", 1, NULL);         //  lease lapses: poisoned
    PUSH_ID ("p", "c", "c");                    //  worker lost: requeued
    PUSH_ID ("p", "d", "d");                    //  stays claimed
    CLAIM ("p", "x", 0.2);
    CLAIM ("p", "x", 0.2);
    wp_worker_t *spec = SPEC ("w");
    spec->heartbeat_interval = 0.25;
    REGISTER (spec);
    CLAIM ("p", "w", 600);
    CLAIM ("p", "y", 600);
    //  A get applies a's expiry on its way; reap still reports it.
    WAIT_UNCLAIMED ("p", "a");
    WAIT_WORKER_STATUS ("w", "lost");
    WAIT_UNCLAIMED ("p", "b");

    CHECK_STATUS (WP_OK, wp_store_reap (t->store, &reap));
    CHECK_INT (reap.leases_expired, 2);
    CHECK_INT (reap.workers_lost, 1);
    CHECK_INT (reap.requeued, 2);
    CHECK_INT (reap.poisoned, 1);
    CHECK_STATUS (WP_OK, wp_store_reap (t->store, &reap));
    CHECK_INT (reap.leases_expired + reap.workers_lost + reap.requeued + reap.poisoned, 0);
    CHECK_STATUS (WP_OK, wp_store_reap (t->store, NULL));
    CHECK_STR (GET ("p", "d")->claimed_by, "y");
}

static void
s_next_due (s_case_t *t)
{
    int64_t next = -1;
    CHECK_STATUS (WP_OK, wp_store_next_due (t->store, &next));
    CHECK_INT (next, 0);
    PUSH_ID ("p", "a", "a");
    wp_item_t *item = CLAIM ("p", "x", 30);
    CHECK_STATUS (WP_OK, wp_store_next_due (t->store, &next));
    CHECK_INT (next, item->lease_expires_at);

    //  A worker falls due at last_heartbeat + 2 x interval (1 ms of slack
    //  for a store that counts "older than" from the next microsecond).
    wp_worker_t *spec = SPEC ("w");
    spec->heartbeat_interval = 5;
    wp_worker_t *w = REGISTER (spec);
    CHECK_STATUS (WP_OK, wp_store_next_due (t->store, &next));
    CHECK_TIME (next, w->last_heartbeat + 10 * S_SECOND, w->last_heartbeat + 10 * S_SECOND + 1000);

    //  Neither a worker that is not active nor a finished item is due.
    SET_STATUS ("w", "terminated");
    CHECK_STATUS (WP_OK, wp_store_next_due (t->store, &next));
    CHECK_INT (next, item->lease_expires_at);
    COMPLETE ("p", "a", NULL, "x");
    CHECK_STATUS (WP_OK, wp_store_next_due (t->store, &next));
    CHECK_INT (next, 0);
}

static void
s_purge_removes_old_finished_items (s_case_t *t)
{
    PUSH_ID ("p", "done", "done");
    PUSH_FULL ("p", "poisoned", "poisoned", 0, NULL);
    PUSH_ID ("p", "claimed", "claimed");
    PUSH_ID ("p", "pending", "pending");
    CLAIM ("p", "w", 0);
    COMPLETE ("p", "done", NULL, "w");
    CLAIM ("p", "w", 0);
    FAIL ("p", "poisoned", "bad", "w");
    CLAIM ("p", "w", 0);

    uint64_t count = UINT64_MAX;
    CHECK_STATUS (WP_OK, wp_store_purge (t->store, 3600, &count));
    CHECK_INT (count, 0);
    s_sleep_ms (300);
    CHECK_STATUS (WP_OK, wp_store_purge (t->store, 0.1, &count));
    CHECK_INT (count, 2);
    wp_item_t *item = NULL;
    CHECK_STATUS (WP_NOT_FOUND, wp_store_get (t->store, "p", "done", &item));
    CHECK_STATUS (WP_NOT_FOUND, wp_store_get (t->store, "p", "poisoned", &item));
    CHECK_STATE (GET ("p", "claimed"), WP_ITEM_CLAIMED);
    CHECK_PENDING (GET ("p", "pending"));
    CHECK_STATUS (WP_OK, wp_store_purge (t->store, 0, NULL));
    CHECK_STATE (GET ("p", "claimed"), WP_ITEM_CLAIMED);
    CHECK_INT (SIZE ("p"), 1);
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_purge (t->store, -1, &count));

    //  Decision: a purged id is gone, so pushing it again queues new work.
    bool dup = true;
    PUSH_FULL ("p", "new", "done", -1, &dup);
    CHECK (!dup);
    CHECK_PENDING (GET ("p", "done"));
}

//  =====================================================================
//  Group commit

static void
s_group_commit_makes_calls_visible (s_case_t *t)
{
    PUSH_ID ("p", "a", "a");
    CHECK_STATUS (WP_OK, wp_store_begin (t->store));
    //  Calls inside a group see the group's earlier calls.
    PUSH_ID ("p", "b", "b");
    CHECK_STR (CLAIM ("p", "w", 0)->id, "a");
    COMPLETE ("p", "a", "r", "w");
    CHECK_STATE (GET ("p", "a"), WP_ITEM_DONE);
    PUSH_ID ("p", "c", "c");
    CHECK_INT (SIZE ("p"), 2);
    REGISTER (SPEC ("w2"));
    HEARTBEAT ("w2", NULL);
    CHECK_STATUS (WP_OK, wp_store_commit (t->store));

    CHECK_STATE (GET ("p", "a"), WP_ITEM_DONE);
    CHECK_VALUE (GET ("p", "a")->result, GET ("p", "a")->result_size, "r");
    CHECK_PENDING (GET ("p", "b"));
    CHECK_PENDING (GET ("p", "c"));
    CHECK_INT (SIZE ("p"), 2);
    CHECK_STR (WORKER ("w2")->status, "active");

    //  A second group after the first.
    CHECK_STATUS (WP_OK, wp_store_begin (t->store));
    CHECK_STR (CLAIM ("p", "w", 0)->id, "b");
    CHECK_STATUS (WP_OK, wp_store_commit (t->store));
    CHECK_STR (GET ("p", "b")->claimed_by, "w");
}

static void
s_group_rollback_discards (s_case_t *t)
{
    PUSH_ID ("p", "a", "a");
    REGISTER (SPEC ("w"));
    CHECK_STATUS (WP_OK, wp_store_begin (t->store));
    PUSH_ID ("p", "b", "b");
    CHECK_STR (CLAIM ("p", "w", 0)->id, "a");
    wp_meta_t *meta = s_meta (t);
    s_value_t value = s_val ("v");
    wp_meta_set (meta, "k", value.bytes, value.size);
    HEARTBEAT ("w", meta);
    SET_STATUS ("w", "terminating");
    REGISTER (SPEC ("w2"));
    wp_store_rollback (t->store);

    wp_item_t *item = NULL;
    CHECK_STATUS (WP_NOT_FOUND, wp_store_get (t->store, "p", "b", &item));
    item = GET ("p", "a");
    CHECK_PENDING (item);
    CHECK_INT (item->attempts, 0);
    CHECK_INT (SIZE ("p"), 1);
    wp_worker_t *w = WORKER ("w");
    CHECK_STR (w->status, "active");
    CHECK (wp_meta_get (&w->metadata, "k") == NULL);
    CHECK (w->current_task_id == NULL);
    CHECK (WORKER ("w2") == NULL);

    //  The store works on, and the rolled-back id is free again.
    bool dup = true;
    PUSH_FULL ("p", "b again", "b", -1, &dup);
    CHECK (!dup);
    CHECK_STATUS (WP_OK, wp_store_begin (t->store));
    PUSH_ID ("p", "c", "c");
    CHECK_STATUS (WP_OK, wp_store_commit (t->store));
    CHECK_INT (SIZE ("p"), 3);
}

static void
s_group_failed_call_changes_nothing (s_case_t *t)
{
    PUSH_ID ("p", "done", "done");
    PUSH_ID ("p", "pending", "pending");
    CHECK_STR (CLAIM ("p", "w", 0)->id, "done");
    COMPLETE ("p", "done", "r", "w");

    CHECK_STATUS (WP_OK, wp_store_begin (t->store));
    PUSH_ID ("p", "b", "b");
    CHECK_STATUS (WP_FAILED_PRECONDITION, wp_store_complete (t->store, "p", "pending", NULL, 0, NULL));
    CHECK_STATUS (WP_FAILED_PRECONDITION, wp_store_fail (t->store, "p", "pending", "e", NULL, 0, NULL));
    CHECK_STATUS (WP_FAILED_PRECONDITION, wp_store_complete (t->store, "p", "done", NULL, 0, NULL));
    s_value_t value = s_val ("x");
    wp_push_entry_t entry = { value.bytes, value.size, "x", -2 };
    char *id_out = NULL;
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_push (t->store, "p", &entry, &id_out, NULL));
    CHECK_STATUS (WP_NOT_FOUND, wp_store_fail (t->store, "p", "nope", "e", NULL, 0, NULL));
    CHECK_STATUS (WP_NOT_FOUND, wp_store_heartbeat (t->store, "nobody", NULL));
    PUSH_ID ("p", "c", "c");
    CHECK_STATUS (WP_OK, wp_store_commit (t->store));

    CHECK_PENDING (GET ("p", "b"));
    CHECK_PENDING (GET ("p", "c"));
    wp_item_t *item = GET ("p", "pending");
    CHECK_PENDING (item);
    CHECK_INT (item->attempts, 0);
    CHECK (item->error == NULL);
    item = GET ("p", "done");
    CHECK_STATE (item, WP_ITEM_DONE);
    CHECK_VALUE (item->result, item->result_size, "r");
    CHECK_STATUS (WP_NOT_FOUND, wp_store_get (t->store, "p", "x", &item));
    CHECK_INT (SIZE ("p"), 3);
}

static void
s_group_begin_twice_is_refused (s_case_t *t)
{
    CHECK_STATUS (WP_OK, wp_store_begin (t->store));
    PUSH_ID ("p", "a", "a");
    //  The refused begin leaves the open group as it was.
    CHECK_STATUS (WP_FAILED_PRECONDITION, wp_store_begin (t->store));
    PUSH_ID ("p", "b", "b");
    CHECK_STATUS (WP_OK, wp_store_commit (t->store));
    CHECK_INT (SIZE ("p"), 2);
}

//  =====================================================================
//  Injected clock: exact boundaries

static void
s_clock_times_come_from_the_store_clock (s_case_t *t)
{
    s_use_clock (t);
    int64_t start = t->clock;
    PUSH_ID ("p", "a", "a");
    CHECK_INT (GET ("p", "a")->created_at, start);
    t->clock += S_SECOND;
    wp_item_t *item = CLAIM ("p", "x", 7);
    CHECK_INT (item->claimed_at, start + S_SECOND);
    CHECK_INT (item->lease_expires_at, start + 8 * S_SECOND);
    t->clock += S_SECOND;
    wp_worker_t *w = REGISTER (SPEC ("w"));
    CHECK_INT (w->last_heartbeat, start + 2 * S_SECOND);
    CHECK_INT (w->started_at, start + 2 * S_SECOND);
    t->clock += S_SECOND;
    HEARTBEAT ("w", NULL);
    CHECK_INT (WORKER ("w")->last_heartbeat, start + 3 * S_SECOND);
    t->clock += S_SECOND;
    CHECK_INT (RENEW ("x", 5), 1);
    CHECK_INT (GET ("p", "a")->lease_expires_at, start + 9 * S_SECOND);
    //  Microseconds are kept exactly.
    t->clock += 1;
    PUSH_ID ("p", "b", "b");
    CHECK_INT (GET ("p", "b")->created_at, start + 4 * S_SECOND + 1);
}

static void
s_clock_lease_expires_at_its_end (s_case_t *t)
{
    s_use_clock (t);
    int64_t start = t->clock;
    PUSH_ID ("p", "a", "a");
    PUSH_FULL ("p", "b", "b", 1, NULL);
    PUSH_ID ("p", "c", "c");
    CLAIM ("p", "w", 10);
    CLAIM ("p", "w", 10);
    CLAIM ("p", "w", 0);                        //  the default: 300 s

    t->clock = start + 10 * S_SECOND - 1;
    CHECK_STATE (GET ("p", "a"), WP_ITEM_CLAIMED);
    CHECK_STATE (GET ("p", "b"), WP_ITEM_CLAIMED);
    t->clock = start + 10 * S_SECOND + 1;
    wp_item_t *item = GET ("p", "a");
    CHECK_PENDING (item);
    CHECK_INT (item->attempts, 1);
    CHECK_STR (item->error, "lease expired");
    item = GET ("p", "b");
    CHECK_STATE (item, WP_ITEM_POISONED);
    CHECK_STR (item->error, "lease expired");

    t->clock = start + 300 * S_SECOND - 1;
    CHECK_STATE (GET ("p", "c"), WP_ITEM_CLAIMED);
    t->clock = start + 300 * S_SECOND + 1;
    CHECK_PENDING (GET ("p", "c"));
    //  Expiry is applied by a claim too, oldest first.
    CHECK_STR (CLAIM ("p", "v", 0)->id, "a");
}

static void
s_clock_worker_lost_after_twice_its_interval (s_case_t *t)
{
    s_use_clock (t);
    int64_t start = t->clock;
    wp_worker_t *spec = SPEC ("w");
    spec->heartbeat_interval = 2;
    REGISTER (spec);
    REGISTER (SPEC ("default"));                //  10 s: lost after 20 s
    spec = SPEC ("v");
    spec->heartbeat_interval = 2;
    REGISTER (spec);
    SET_STATUS ("v", "terminating");
    PUSH_FULL ("p", "a", "a", 2, NULL);
    CLAIM ("p", "w", 1000);

    t->clock = start + 3 * S_SECOND;
    HEARTBEAT ("w", NULL);                      //  stale from start + 7 s
    t->clock = start + 7 * S_SECOND - 1;
    CHECK_STR (WORKER ("w")->status, "active");
    t->clock = start + 7 * S_SECOND + 1;
    CHECK_STR (WORKER ("w")->status, "lost");
    wp_item_t *item = GET ("p", "a");
    CHECK_PENDING (item);
    CHECK_INT (item->attempts, 1);
    CHECK_STR (item->error, "worker lost");
    CHECK_STR (WORKER ("v")->status, "terminating");

    //  The item crashes its second worker too: poisoned at max_retries 2.
    spec = SPEC ("u");
    spec->heartbeat_interval = 1;
    REGISTER (spec);
    CHECK_STR (CLAIM ("p", "u", 1000)->id, "a");
    t->clock += 2 * S_SECOND + 1;
    item = GET ("p", "a");
    CHECK_STATE (item, WP_ITEM_POISONED);
    CHECK_INT (item->attempts, 2);
    CHECK_STR (item->error, "worker lost");

    t->clock = start + 20 * S_SECOND - 1;
    CHECK_STR (WORKER ("default")->status, "active");
    //  Decision: a heartbeat arriving after the worker went stale, before
    //  anything declared it lost, is too late: heartbeat applies what is
    //  due first, as every call does, so the answer never depends on when
    //  a broker's timer last ran.
    t->clock = start + 20 * S_SECOND + 1;
    CHECK_STATUS (WP_FAILED_PRECONDITION, wp_store_heartbeat (t->store, "default", NULL));
    CHECK_STR (WORKER ("default")->status, "lost");
    CHECK_STR (WORKER ("v")->status, "terminating");
}

static void
s_clock_stale_filter_threshold (s_case_t *t)
{
    s_use_clock (t);
    int64_t start = t->clock;
    REGISTER (SPEC ("w1"));
    t->clock = start + 5 * S_SECOND;
    REGISTER (SPEC ("w2"));
    wp_worker_filter_t f = WP_WORKER_FILTER_ALL;
    f.stale_threshold = 5;
    //  "older than now - threshold": strictly.
    t->clock = start + 10 * S_SECOND;
    CHECK_STR (IDS (LIST (&f)), "w1");
    t->clock = start + 10 * S_SECOND + 1;
    CHECK_STR (IDS (LIST (&f)), "w1,w2");
    f.stale_threshold = 0.5;
    t->clock = start + 5 * S_SECOND + 500000;
    CHECK_STR (IDS (LIST (&f)), "w1");
    f.stale_threshold = 0;
    CHECK_STR (IDS (LIST (&f)), "w1,w2");
}

static void
s_clock_push_order_at_one_instant (s_case_t *t)
{
    s_use_clock (t);
    const char *ids [6];
    for (int i = 0; i < 6; i++)
        ids [i] = PUSH ("p", "same time");
    CHECK_STR (CLAIM ("p", "w", 0)->id, ids [0]);
    CHECK_STR (CLAIM ("p", "w", 0)->id, ids [1]);
    FAIL ("p", ids [1], "e", "w");
    FAIL ("p", ids [0], "e", "w");
    for (int i = 0; i < 6; i++)
        CHECK_STR (CLAIM ("p", "w", 0)->id, ids [i]);
}

static void
s_clock_heartbeat_renews_leases (s_case_t *t)
{
    s_use_clock (t);
    int64_t start = t->clock;
    REGISTER (SPEC ("w"));
    REGISTER (SPEC ("v"));
    PUSH_ID ("p", "a", "a");
    PUSH_ID ("p", "b", "b");
    CLAIM ("p", "w", 10);
    CLAIM ("p", "v", 10);
    t->clock = start + 8 * S_SECOND;
    HEARTBEAT ("w", NULL);                      //  v is silent (yet not stale)
    t->clock = start + 15 * S_SECOND;
    wp_item_t *item = GET ("p", "a");
    CHECK_STR (item->claimed_by, "w");
    CHECK (item->lease_expires_at > start + 15 * S_SECOND);
    item = GET ("p", "b");
    CHECK_PENDING (item);
    CHECK_STR (item->error, "lease expired");
    CHECK_STR (WORKER ("v")->status, "active");
}

static void
s_clock_purge_counts_from_the_last_change (s_case_t *t)
{
    s_use_clock (t);
    int64_t start = t->clock;
    PUSH_ID ("p", "a", "a");
    t->clock = start + 100 * S_SECOND;
    CLAIM ("p", "w", 0);
    COMPLETE ("p", "a", NULL, "w");
    uint64_t count = UINT64_MAX;
    t->clock = start + 149 * S_SECOND;
    CHECK_STATUS (WP_OK, wp_store_purge (t->store, 50, &count));
    CHECK_INT (count, 0);
    t->clock = start + 151 * S_SECOND;
    CHECK_STATUS (WP_OK, wp_store_purge (t->store, 50, &count));
    CHECK_INT (count, 1);
}

//  =====================================================================
//  Batches. Each case runs twice: alone, and again inside a group
//  (begin ... commit, the "_in_group" cases) where the backend has groups,
//  since a batch in a group runs under a savepoint rather than its own
//  transaction.

static void s_free_items (void *ptr) { wp_item_list_t *list = ptr; wp_item_list_destroy (&list); }

//  The ids of an item list joined by commas, to compare with CHECK_STR.
static const char *
s_item_ids (s_case_t *t, const wp_item_list_t *list)
{
    char *joined = s_sprintf (t, "%s", "");
    for (size_t i = 0; i < list->count; i++)
        joined = s_sprintf (t, "%s%s%s", joined, i ? "," : "", list->items [i]->id);
    return joined;
}

#define CLAIM_MANY(pool, worker, max, max_bytes) \
    s_claim_many (t, __LINE__, pool, worker, max, max_bytes)

static wp_item_list_t *
s_claim_many (s_case_t *t, int line, const char *pool, const char *worker, size_t max,
              size_t max_bytes)
{
    wp_item_list_t *list = NULL;
    s_check_status (t, line, WP_OK,
                    wp_store_claim_many (t->store, pool, worker, max, 0, max_bytes, &list),
                    "claim_many");
    if (!list)
        s_bail (t, line, "claim_many returned OK and no list");
    return s_own (t, list, s_free_items);
}

//  The message of the latest failure starts with prefix.
#define CHECK_MESSAGE_STARTS(prefix) do { \
    const char *m_ = wp_store_errmsg (t->store), *p_ = (prefix); \
    if (strncmp (m_, p_, strlen (p_)) != 0) \
        s_bail (t, __LINE__, "message '%s' does not start with '%s'", m_, p_); \
} while (0)

#define CHECK_MESSAGE(text) CHECK_STR (wp_store_errmsg (t->store), text)

static void
s_batch_push_many_pushes_all (s_case_t *t)
{
    PUSH_ID ("p", "old", "old");
    s_value_t a = s_val ("a"), b = s_val ("b"), c = s_val ("c");
    wp_push_entry_t entries [] = {
        { a.bytes, a.size, "a", -1 },
        { b.bytes, b.size, NULL, 5 },
        { c.bytes, c.size, "old", -1 },        //  a duplicate: reported, unchanged
    };
    char *ids [3] = { NULL, NULL, NULL };
    bool dups [3] = { true, true, false };
    CHECK_STATUS (WP_OK, wp_store_push_many (t->store, "p", entries, 3, ids, dups));
    for (int i = 0; i < 3; i++)
        s_own (t, ids [i], free);
    CHECK_STR (ids [0], "a");
    CHECK (ids [1] && s_is_uuid (ids [1]));
    CHECK_STR (ids [2], "old");
    CHECK (!dups [0] && !dups [1] && dups [2]);
    CHECK_INT (GET ("p", ids [1])->max_retries, 5);
    CHECK_VALUE (GET ("p", "old")->data, GET ("p", "old")->data_size, "old");
    CHECK_INT (SIZE ("p"), 3);
    //  Push order: the batch's entries in order, after what came before
    CHECK_STR (CLAIM ("p", "w", 0)->id, "old");
    CHECK_STR (CLAIM ("p", "w", 0)->id, "a");
    CHECK_STR (CLAIM ("p", "w", 0)->id, ids [1]);
    //  duplicates may be NULL
    char *id = NULL;
    CHECK_STATUS (WP_OK, wp_store_push_many (t->store, "p", entries, 1, &id, NULL));
    s_own (t, id, free);
    CHECK_STR (id, "a");
}

static void
s_batch_push_many_bad_entry_changes_nothing (s_case_t *t)
{
    s_value_t a = s_val ("a");
    wp_push_entry_t entries [] = {
        { a.bytes, a.size, "a", -1 },
        { a.bytes, a.size, "b", -1 },
        { NULL, 0, "c", -1 },                   //  no data
    };
    char *ids [3] = { NULL, NULL, NULL };
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_push_many (t->store, "p", entries, 3, ids, NULL));
    CHECK_MESSAGE ("items[2]: data is required");
    CHECK (!ids [0] && !ids [1] && !ids [2]);
    entries [2] = (wp_push_entry_t) { a.bytes, a.size, "c", -5 };
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_push_many (t->store, "p", entries, 3, ids, NULL));
    CHECK_MESSAGE_STARTS ("items[2]: ");
    entries [1].id = "";
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_push_many (t->store, "p", entries, 2, ids, NULL));
    CHECK_MESSAGE_STARTS ("items[1]: ");
    CHECK (!ids [0] && !ids [1] && !ids [2]);
    wp_item_t *item = NULL;
    CHECK_STATUS (WP_NOT_FOUND, wp_store_get (t->store, "p", "a", &item));
    CHECK_INT (SIZE ("p"), 0);
    //  Counts: 1 to WP_BATCH_MAX
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_push_many (t->store, "p", entries, 0, ids, NULL));
    CHECK_STATUS (WP_INVALID_ARGUMENT,
                  wp_store_push_many (t->store, "p", entries, WP_BATCH_MAX + 1, ids, NULL));
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_push_many (t->store, "p", entries, 1, NULL, NULL));
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_push_many (t->store, "", entries, 1, ids, NULL));
    CHECK_INT (SIZE ("p"), 0);
}

static void
s_batch_claim_many_order_and_caps (s_case_t *t)
{
    for (int i = 1; i <= 6; i++)
        PUSH_ID ("p", "0123456789", s_sprintf (t, "i%d", i));
    size_t size = GET ("p", "i1")->data_size;
    int64_t t0 = wp_time_now ();
    wp_item_list_t *list = CLAIM_MANY ("p", "w", 2, 0);
    int64_t t1 = wp_time_now ();
    CHECK_STR (s_item_ids (t, list), "i1,i2");
    CHECK_CLAIMED (list->items [0], "w", t0, t1, 300);
    CHECK_VALUE (list->items [1]->data, list->items [1]->data_size, "0123456789");
    //  Decision: the batch stops once the items carry max_bytes, so the
    //  item that reaches it is the last, and one byte still claims one item
    CHECK_STR (s_item_ids (t, CLAIM_MANY ("p", "w", 10, 1)), "i3");
    CHECK_STR (s_item_ids (t, CLAIM_MANY ("p", "w", 10, size + 1)), "i4,i5");
    CHECK_STR (s_item_ids (t, CLAIM_MANY ("p", "w", 10, 0)), "i6");
    CHECK_INT (CLAIM_MANY ("p", "w", 10, 0)->count, 0);
    CHECK_INT (CLAIM_MANY ("empty", "w", 1, 0)->count, 0);
    CHECK_STR (GET ("p", "i6")->claimed_by, "w");
    CHECK_INT (SIZE ("p"), 0);
    //  Bounds
    wp_item_list_t *none = NULL;
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_claim_many (t->store, "p", "w", 0, 0, 0, &none));
    CHECK_STATUS (WP_INVALID_ARGUMENT,
                  wp_store_claim_many (t->store, "p", "w", WP_BATCH_MAX + 1, 0, 0, &none));
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_claim_many (t->store, "p", NULL, 1, 0, 0, &none));
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_claim_many (t->store, "p", "w", 1, 0, 0, NULL));
    CHECK (none == NULL);
}

static void
s_batch_claim_many_paused_finds_nothing (s_case_t *t)
{
    PUSH_ID ("p", "a", "a");
    PUSH_ID ("p", "b", "b");
    CHECK_STATUS (WP_OK, wp_store_set_paused (t->store, "p", true));
    CHECK_INT (CLAIM_MANY ("p", "w", 5, 0)->count, 0);
    CHECK_INT (SIZE ("p"), 2);
    CHECK_STATUS (WP_OK, wp_store_set_paused (t->store, "p", false));
    CHECK_STR (s_item_ids (t, CLAIM_MANY ("p", "w", 5, 0)), "a,b");
}

static void
s_batch_complete_many_per_entry_outcomes (s_case_t *t)
{
    PUSH_ID ("p", "a", "a");
    PUSH_ID ("p", "b", "b");
    PUSH_ID ("p", "c", "c");
    PUSH_ID ("p", "pending", "pending");
    CLAIM ("p", "w", 0);
    CLAIM ("p", "w", 0);
    CLAIM ("p", "v", 0);                        //  c, held by v
    s_value_t r = s_val ("r");
    wp_complete_entry_t entries [] = {
        { "a", r.bytes, r.size },
        { "nope", NULL, 0 },
        { "pending", NULL, 0 },
        { "c", NULL, 0 },
        { "b", NULL, 0 },
        { "a", NULL, 0 },                       //  Decision: done by the first entry,
    };                                          //  so not claimed: a precondition
    wp_status statuses [6];
    char *messages [6] = { NULL };
    CHECK_STATUS (WP_OK, wp_store_complete_many (t->store, "p", entries, 6, "w",
                                                 statuses, messages));
    for (int i = 0; i < 6; i++)
        s_own (t, messages [i], free);
    CHECK_INT (statuses [0], WP_OK);
    CHECK_INT (statuses [1], WP_NOT_FOUND);
    CHECK_INT (statuses [2], WP_FAILED_PRECONDITION);
    CHECK_INT (statuses [3], WP_FAILED_PRECONDITION);
    CHECK_INT (statuses [4], WP_OK);
    CHECK_INT (statuses [5], WP_FAILED_PRECONDITION);
    CHECK_STR (messages [0], "");
    CHECK_STR (messages [1], "no item 'nope' in pool 'p'");
    CHECK (messages [2] && messages [2][0] && messages [3] && messages [3][0]);
    CHECK_STR (messages [4], "");
    wp_item_t *item = GET ("p", "a");
    CHECK_STATE (item, WP_ITEM_DONE);
    CHECK_VALUE (item->result, item->result_size, "r");
    CHECK_STATE (GET ("p", "b"), WP_ITEM_DONE);
    CHECK_STR (GET ("p", "c")->claimed_by, "v");
    CHECK_PENDING (GET ("p", "pending"));
    //  statuses and messages may be NULL; worker_id too (any holder)
    wp_complete_entry_t by_any [] = { { "c", NULL, 0 } };
    CHECK_STATUS (WP_OK, wp_store_complete_many (t->store, "p", by_any, 1, NULL, NULL, NULL));
    CHECK_STATE (GET ("p", "c"), WP_ITEM_DONE);
}

static void
s_batch_complete_many_bad_entry_changes_nothing (s_case_t *t)
{
    PUSH_ID ("p", "a", "a");
    CLAIM ("p", "w", 0);
    s_value_t r = s_val ("r");
    wp_complete_entry_t entries [] = {
        { "a", r.bytes, r.size },
        { NULL, NULL, 0 },
    };
    wp_status statuses [2] = { WP_UNKNOWN, WP_UNKNOWN };
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_complete_many (t->store, "p", entries, 2, "w",
                                                               statuses, NULL));
    CHECK_MESSAGE ("items[1]: id is required");
    entries [1] = (wp_complete_entry_t) { "a", r.bytes, 0 };
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_complete_many (t->store, "p", entries, 2, "w",
                                                               statuses, NULL));
    CHECK_MESSAGE ("items[1]: result must not be empty");
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_complete_many (t->store, "p", entries, 1, "",
                                                               statuses, NULL));
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_complete_many (t->store, "p", entries, 0, "w",
                                                               statuses, NULL));
    CHECK_STATUS (WP_INVALID_ARGUMENT,
                  wp_store_complete_many (t->store, "p", entries, WP_BATCH_MAX + 1, "w",
                                          statuses, NULL));
    CHECK (statuses [0] == WP_UNKNOWN && statuses [1] == WP_UNKNOWN);
    wp_item_t *item = GET ("p", "a");
    CHECK_STATE (item, WP_ITEM_CLAIMED);
    CHECK (item->result == NULL);
}

#define COMPLETE_AND_CLAIM(pool, id, worker) s_complete_and_claim (t, __LINE__, pool, id, worker)

static wp_item_t *
s_complete_and_claim (s_case_t *t, int line, const char *pool, const char *id, const char *worker)
{
    s_value_t r = s_val ("r");
    wp_item_t *item = (wp_item_t *) &item;      //  must be overwritten
    s_check_status (t, line, WP_OK,
                    wp_store_complete_and_claim (t->store, pool, id, r.bytes, r.size, worker, 0,
                                                 &item), "complete_and_claim");
    if (item == (wp_item_t *) &item)
        s_bail (t, line, "complete_and_claim returned OK without setting its out-parameter");
    return s_own (t, item, s_free_item);
}

static void
s_batch_complete_and_claim (s_case_t *t)
{
    PUSH_ID ("p", "a", "a");
    PUSH_ID ("p", "b", "b");
    CLAIM ("p", "w", 0);
    int64_t t0 = wp_time_now ();
    wp_item_t *next = COMPLETE_AND_CLAIM ("p", "a", "w");
    int64_t t1 = wp_time_now ();
    CHECK (next);
    CHECK_STR (next->id, "b");
    CHECK_CLAIMED (next, "w", t0, t1, 300);
    wp_item_t *item = GET ("p", "a");
    CHECK_STATE (item, WP_ITEM_DONE);
    CHECK_VALUE (item->result, item->result_size, "r");
    //  Nothing left to claim: the complete still happens
    CHECK (COMPLETE_AND_CLAIM ("p", "b", "w") == NULL);
    CHECK_STATE (GET ("p", "b"), WP_ITEM_DONE);
}

static void
s_batch_complete_and_claim_failure_claims_nothing (s_case_t *t)
{
    PUSH_ID ("p", "a", "a");
    PUSH_ID ("p", "b", "b");
    CLAIM ("p", "v", 0);
    wp_item_t *item = NULL;
    CHECK_STATUS (WP_NOT_FOUND, wp_store_complete_and_claim (t->store, "p", "nope", NULL, 0,
                                                             "w", 0, &item));
    CHECK_STATUS (WP_FAILED_PRECONDITION, wp_store_complete_and_claim (t->store, "p", "a", NULL,
                                                                       0, "w", 0, &item));
    CHECK_STATUS (WP_FAILED_PRECONDITION, wp_store_complete_and_claim (t->store, "p", "b", NULL,
                                                                       0, "w", 0, &item));
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_complete_and_claim (t->store, "p", "a", NULL, 0,
                                                                    NULL, 0, &item));
    CHECK_MESSAGE ("worker_id is required");
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_complete_and_claim (t->store, "p", "a", NULL, 0,
                                                                    "v", 0, NULL));
    CHECK (item == NULL);
    CHECK_STR (GET ("p", "a")->claimed_by, "v");
    CHECK_PENDING (GET ("p", "b"));
    CHECK_INT (SIZE ("p"), 1);
}

static void
s_batch_complete_and_claim_paused_completes_only (s_case_t *t)
{
    PUSH_ID ("p", "a", "a");
    PUSH_ID ("p", "b", "b");
    CLAIM ("p", "w", 0);
    CHECK_STATUS (WP_OK, wp_store_set_paused (t->store, "p", true));
    CHECK (COMPLETE_AND_CLAIM ("p", "a", "w") == NULL);
    CHECK_STATE (GET ("p", "a"), WP_ITEM_DONE);
    CHECK_PENDING (GET ("p", "b"));
}

//  Inside a group, a failing batch undoes only itself: the group's other
//  calls, before and after it, commit.
static void
s_group_failed_batch_keeps_the_rest (s_case_t *t)
{
    PUSH_ID ("p", "a", "a");
    CLAIM ("p", "w", 0);
    CHECK_STATUS (WP_OK, wp_store_begin (t->store));
    PUSH_ID ("p", "before", "before");
    s_value_t v = s_val ("v");
    wp_push_entry_t entries [] = { { v.bytes, v.size, "x", -1 }, { v.bytes, 0, "y", -1 } };
    char *ids [2] = { NULL, NULL };
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_push_many (t->store, "p", entries, 2, ids, NULL));
    wp_item_t *item = NULL;
    CHECK_STATUS (WP_FAILED_PRECONDITION, wp_store_complete_and_claim (t->store, "p", "a", NULL,
                                                                       0, "v", 0, &item));
    CHECK_STR (s_item_ids (t, CLAIM_MANY ("p", "w", 1, 0)), "before");
    PUSH_ID ("p", "after", "after");
    CHECK_STATUS (WP_OK, wp_store_commit (t->store));
    CHECK_STR (GET ("p", "before")->claimed_by, "w");
    CHECK_PENDING (GET ("p", "after"));
    CHECK_STR (GET ("p", "a")->claimed_by, "w");
    CHECK_STATUS (WP_NOT_FOUND, wp_store_get (t->store, "p", "x", &item));
    //  A batch's effects in a group that rolls back go with it
    CHECK_STATUS (WP_OK, wp_store_begin (t->store));
    entries [1].data_size = v.size;
    CHECK_STATUS (WP_OK, wp_store_push_many (t->store, "p", entries, 2, ids, NULL));
    s_own (t, ids [0], free);
    s_own (t, ids [1], free);
    CHECK_STR (COMPLETE_AND_CLAIM ("p", "a", "w")->id, "after");
    wp_store_rollback (t->store);
    CHECK_STATUS (WP_NOT_FOUND, wp_store_get (t->store, "p", "x", &item));
    CHECK_STR (GET ("p", "a")->claimed_by, "w");
    CHECK_PENDING (GET ("p", "after"));
}

//  =====================================================================
//  Inspection and lifecycle

#define LIST_ITEMS(pool, statuses, count, limit, cursor, next_p) \
    s_list_items (t, __LINE__, pool, statuses, count, limit, cursor, next_p)

static wp_item_list_t *
s_list_items (s_case_t *t, int line, const char *pool, const wp_item_state *statuses,
              size_t count, size_t limit, const char *cursor, const char **next_p)
{
    wp_item_list_t *list = NULL;
    char *next = (char *) &next;                //  must be overwritten
    s_check_status (t, line, WP_OK,
                    wp_store_list_items (t->store, pool, statuses, count, limit, cursor,
                                         &list, &next), "list_items");
    if (!list || next == (char *) &next)
        s_bail (t, line, "list_items returned OK without setting its out-parameters");
    s_own (t, list, s_free_items);
    s_own (t, next, free);
    if (next_p)
        *next_p = next;
    else
    if (next)
        s_bail (t, line, "list_items returned a cursor '%s' where no more was expected", next);
    return list;
}

//  Two items are equal field by field.
#define CHECK_SAME_ITEM(a, b) s_check_same_item (t, __LINE__, a, b)

static void
s_check_same_item (s_case_t *t, int line, const wp_item_t *a, const wp_item_t *b)
{
    bool same = strcmp (a->id, b->id) == 0 && strcmp (a->pool, b->pool) == 0
        && a->data_size == b->data_size && memcmp (a->data, b->data, a->data_size) == 0
        && a->status == b->status && a->claimed_at == b->claimed_at
        && a->lease_expires_at == b->lease_expires_at && a->attempts == b->attempts
        && a->max_retries == b->max_retries && a->result_size == b->result_size
        && (a->result_size == 0 || memcmp (a->result, b->result, a->result_size) == 0)
        && a->created_at == b->created_at
        && (a->claimed_by == b->claimed_by
            || (a->claimed_by && b->claimed_by && strcmp (a->claimed_by, b->claimed_by) == 0))
        && (a->error == b->error || (a->error && b->error && strcmp (a->error, b->error) == 0));
    if (!same)
        s_bail (t, line, "listed item '%s' differs from what get returns", a->id);
}

//  a: done, b: poisoned, c: claimed by w, d and e: pending; in push order.
static void
s_five_states (s_case_t *t)
{
    PUSH_ID ("p", "a", "a");
    PUSH_FULL ("p", "b", "b", 0, NULL);
    PUSH_ID ("p", "c", "c");
    PUSH_ID ("p", "d", "d");
    PUSH_ID ("p", "e", "e");
    CLAIM ("p", "w", 0);
    COMPLETE ("p", "a", "r", "w");
    CLAIM ("p", "w", 0);
    FAIL ("p", "b", "boom", "w");
    CLAIM ("p", "w", 0);
}

static void
s_list_filters_by_status (s_case_t *t)
{
    s_five_states (t);
    PUSH_ID ("q", "other", "other");
    const wp_item_state pending [] = { WP_ITEM_PENDING };
    const wp_item_state finished [] = { WP_ITEM_POISONED, WP_ITEM_DONE };
    //  Decision: a state named twice is listed once
    const wp_item_state claimed_pending [] = { WP_ITEM_PENDING, WP_ITEM_CLAIMED, WP_ITEM_PENDING };
    CHECK_STR (s_item_ids (t, LIST_ITEMS ("p", pending, 1, 0, NULL, NULL)), "d,e");
    CHECK_STR (s_item_ids (t, LIST_ITEMS ("p", finished, 2, 0, NULL, NULL)), "a,b");
    CHECK_STR (s_item_ids (t, LIST_ITEMS ("p", claimed_pending, 3, 0, NULL, NULL)), "c,d,e");
    wp_item_list_t *all = LIST_ITEMS ("p", NULL, 0, 0, NULL, NULL);
    CHECK_STR (s_item_ids (t, all), "a,b,c,d,e");
    for (size_t i = 0; i < all->count; i++)
        CHECK_SAME_ITEM (all->items [i], GET ("p", all->items [i]->id));
    CHECK_INT (LIST_ITEMS ("unknown", NULL, 0, 0, NULL, NULL)->count, 0);
}

static void
s_list_pages_with_a_cursor (s_case_t *t)
{
    for (int i = 0; i < 25; i++)
        PUSH_ID ("p", "x", s_sprintf (t, "i%02d", i));
    //  Every other item poisoned, so the pages of one state skip rows
    for (int i = 0; i < 25; i += 2) {
        wp_item_t *item = CLAIM ("p", "w", 0);
        FAIL ("p", item->id, "e", "w");
        FAIL ("p", CLAIM ("p", "w", 0)->id, "e", "w");
    }
    const char *cursor = NULL;
    wp_item_list_t *page = LIST_ITEMS ("p", NULL, 0, 10, NULL, &cursor);
    CHECK_INT (page->count, 10);
    CHECK_STR (page->items [0]->id, "i00");
    CHECK (cursor && strlen (cursor) <= WP_CURSOR_MAX);
    page = LIST_ITEMS ("p", NULL, 0, 10, cursor, &cursor);
    CHECK_INT (page->count, 10);
    CHECK_STR (page->items [0]->id, "i10");
    CHECK (cursor);
    page = LIST_ITEMS ("p", NULL, 0, 10, cursor, &cursor);
    CHECK_INT (page->count, 5);
    CHECK_STR (page->items [4]->id, "i24");
    CHECK (cursor == NULL);
    //  A page that ends exactly at the last item has no next cursor
    page = LIST_ITEMS ("p", NULL, 0, 25, NULL, &cursor);
    CHECK_INT (page->count, 25);
    CHECK (cursor == NULL);
    //  Paging through several states
    wp_item_list_t *all = LIST_ITEMS ("p", NULL, 0, 0, NULL, NULL);
    const wp_item_state both [] = { WP_ITEM_PENDING, WP_ITEM_POISONED };
    const char *seen = "";
    cursor = NULL;
    int pages = 0;
    do {
        page = LIST_ITEMS ("p", both, 2, 7, cursor, &cursor);
        seen = s_sprintf (t, "%s%s%s", seen, seen [0] && page->count ? "," : "",
                          s_item_ids (t, page));
        pages++;
    } while (cursor && pages < 10);
    CHECK_INT (pages, 4);
    CHECK_STR (seen, s_item_ids (t, all));
}

static void
s_list_refuses_bad_arguments (s_case_t *t)
{
    PUSH_ID ("p", "a", "a");
    wp_item_list_t *list = NULL;
    char *next = NULL;
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_list_items (t->store, "p", NULL, 0,
                                                            WP_LIST_MAX + 1, NULL, &list, &next));
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_list_items (t->store, "p", NULL, 0, 1,
                                                            "not a cursor", &list, &next));
    CHECK_MESSAGE ("cursor is not one this store made");
    char *long_cursor = s_own (t, calloc (1, WP_CURSOR_MAX + 2), free);
    memset (long_cursor, '1', WP_CURSOR_MAX + 1);
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_list_items (t->store, "p", NULL, 0, 1,
                                                            long_cursor, &list, &next));
    CHECK_MESSAGE ("cursor is not one this store made");
    const wp_item_state bad [] = { (wp_item_state) 7 };
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_list_items (t->store, "p", bad, 1, 1, NULL,
                                                            &list, &next));
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_list_items (t->store, "", NULL, 0, 1, NULL,
                                                            &list, &next));
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_list_items (t->store, "p", NULL, 0, 1, NULL,
                                                            NULL, &next));
    CHECK (list == NULL && next == NULL);
    //  The bounds themselves
    CHECK_INT (LIST_ITEMS ("p", NULL, 0, WP_LIST_MAX, NULL, NULL)->count, 1);
    CHECK_INT (LIST_ITEMS ("p", NULL, 0, 1, NULL, NULL)->count, 1);
}

static void
s_list_limit_zero_is_the_default (s_case_t *t)
{
    s_value_t v = s_val ("v");
    wp_push_entry_t entries [WP_LIST_DEFAULT + 1];
    for (size_t i = 0; i < WP_LIST_DEFAULT + 1; i++)
        entries [i] = (wp_push_entry_t) { v.bytes, v.size, NULL, -1 };
    char *ids [WP_LIST_DEFAULT + 1];
    CHECK_STATUS (WP_OK, wp_store_push_many (t->store, "p", entries, WP_LIST_DEFAULT + 1, ids,
                                             NULL));
    for (size_t i = 0; i < WP_LIST_DEFAULT + 1; i++)
        s_own (t, ids [i], free);
    const char *cursor = NULL;
    wp_item_list_t *page = LIST_ITEMS ("p", NULL, 0, 0, NULL, &cursor);
    CHECK_INT (page->count, WP_LIST_DEFAULT);
    CHECK_STR (page->items [0]->id, ids [0]);
    CHECK (cursor);
    page = LIST_ITEMS ("p", NULL, 0, 0, cursor, &cursor);
    CHECK_INT (page->count, 1);
    CHECK_STR (page->items [0]->id, ids [WP_LIST_DEFAULT]);
    CHECK (cursor == NULL);
}

static void
s_retry_returns_finished_items_to_pending (s_case_t *t)
{
    s_five_states (t);
    CHECK_STATUS (WP_OK, wp_store_retry (t->store, "p", "b"));
    wp_item_t *item = GET ("p", "b");
    CHECK_PENDING (item);
    CHECK_INT (item->attempts, 0);
    CHECK_STR (item->error, "boom");
    CHECK_STATUS (WP_OK, wp_store_retry (t->store, "p", "a"));
    item = GET ("p", "a");
    CHECK_PENDING (item);
    CHECK_INT (item->attempts, 0);
    CHECK (item->result == NULL && item->result_size == 0);
    CHECK_INT (SIZE ("p"), 4);
    //  Listed and claimed in push order, as if never taken
    CHECK_STR (s_item_ids (t, LIST_ITEMS ("p", NULL, 0, 0, NULL, NULL)), "a,b,c,d,e");
    CHECK_STR (CLAIM ("p", "w", 0)->id, "a");
    CHECK_STR (CLAIM ("p", "w", 0)->id, "b");
    CHECK_STR (CLAIM ("p", "w", 0)->id, "d");
    //  Refused: pending, claimed, unknown
    CHECK_STATUS (WP_FAILED_PRECONDITION, wp_store_retry (t->store, "p", "e"));
    CHECK_MESSAGE ("item 'e' is pending: only poisoned or done items can be retried");
    CHECK_STATUS (WP_FAILED_PRECONDITION, wp_store_retry (t->store, "p", "c"));
    CHECK_MESSAGE ("item 'c' is claimed: only poisoned or done items can be retried");
    CHECK_STATUS (WP_NOT_FOUND, wp_store_retry (t->store, "p", "nope"));
    CHECK_MESSAGE ("no item 'nope' in pool 'p'");
    CHECK_STATUS (WP_NOT_FOUND, wp_store_retry (t->store, "other", "a"));
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_retry (t->store, "p", ""));
}

static void
s_retry_all_returns_every_poisoned_item (s_case_t *t)
{
    s_five_states (t);
    PUSH_FULL ("p", "f", "f", 0, NULL);
    PUSH_FULL ("p", "g", "g", 0, NULL);
    for (int i = 0; i < 4; i++) {               //  d, e back; f, g poisoned
        wp_item_t *item = CLAIM ("p", "v", 0);
        if (strcmp (item->id, "f") == 0 || strcmp (item->id, "g") == 0)
            FAIL ("p", item->id, "bad", "v");
    }
    RELEASE ("p", "v");
    uint64_t count = 0;
    CHECK_STATUS (WP_OK, wp_store_retry_all (t->store, "p", &count));
    CHECK_INT (count, 3);
    const wp_item_state poisoned [] = { WP_ITEM_POISONED };
    CHECK_INT (LIST_ITEMS ("p", poisoned, 1, 0, NULL, NULL)->count, 0);
    CHECK_INT (SIZE ("p"), 5);
    CHECK_INT (GET ("p", "f")->attempts, 0);
    CHECK_STATE (GET ("p", "a"), WP_ITEM_DONE);
    CHECK_STR (GET ("p", "c")->claimed_by, "w");
    wp_stats_t *stats = NULL;
    CHECK_STATUS (WP_OK, wp_store_stats (t->store, &stats));
    s_own (t, stats, s_free_stats);
    const wp_pool_stats_t *p = s_pool_stats (t, stats, "p");
    CHECK (p);
    CHECK_INT (p->pending, 5);
    CHECK_INT (p->poisoned, 0);
    CHECK_INT (p->claimed, 1);
    CHECK_INT (p->done, 1);
    CHECK_STATUS (WP_OK, wp_store_retry_all (t->store, "p", &count));
    CHECK_INT (count, 0);
    CHECK_STATUS (WP_OK, wp_store_retry_all (t->store, "unknown", &count));
    CHECK_INT (count, 0);
    CHECK_STATUS (WP_OK, wp_store_retry_all (t->store, "p", NULL));
}

static void
s_cancel_removes_pending_or_poisoned (s_case_t *t)
{
    s_five_states (t);
    CHECK_STATUS (WP_OK, wp_store_cancel (t->store, "p", "d"));
    CHECK_STATUS (WP_OK, wp_store_cancel (t->store, "p", "b"));
    wp_item_t *item = NULL;
    CHECK_STATUS (WP_NOT_FOUND, wp_store_get (t->store, "p", "d", &item));
    CHECK_STATUS (WP_NOT_FOUND, wp_store_get (t->store, "p", "b", &item));
    CHECK_INT (SIZE ("p"), 1);
    CHECK_STR (s_item_ids (t, LIST_ITEMS ("p", NULL, 0, 0, NULL, NULL)), "a,c,e");
    //  The id is free again: a new push, at the back (Decision: a new item,
    //  with a new place in push order)
    bool dup = true;
    PUSH_FULL ("p", "new d", "d", -1, &dup);
    CHECK (!dup);
    CHECK_VALUE (GET ("p", "d")->data, GET ("p", "d")->data_size, "new d");
    CHECK_STR (s_item_ids (t, LIST_ITEMS ("p", NULL, 0, 0, NULL, NULL)), "a,c,e,d");
    //  Refused: claimed, done, unknown
    CHECK_STATUS (WP_FAILED_PRECONDITION, wp_store_cancel (t->store, "p", "c"));
    CHECK_MESSAGE ("item 'c' is claimed by 'w': a worker may be halfway; fail or release it first");
    CHECK_STATUS (WP_FAILED_PRECONDITION, wp_store_cancel (t->store, "p", "a"));
    CHECK_MESSAGE ("item 'a' is done: purge removes finished items");
    CHECK_STATUS (WP_NOT_FOUND, wp_store_cancel (t->store, "p", "nope"));
    CHECK_MESSAGE ("no item 'nope' in pool 'p'");
    CHECK_STR (GET ("p", "c")->claimed_by, "w");
    CHECK_STATE (GET ("p", "a"), WP_ITEM_DONE);
}

static void
s_purge_pool_by_status (s_case_t *t)
{
    s_five_states (t);
    PUSH_ID ("q", "other", "other");
    uint64_t count = UINT64_MAX;
    const wp_item_state done [] = { WP_ITEM_DONE };
    const wp_item_state rest [] = { WP_ITEM_PENDING, WP_ITEM_POISONED };
    const wp_item_state claimed [] = { WP_ITEM_DONE, WP_ITEM_CLAIMED };
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_purge_pool (t->store, "p", claimed, 2, &count));
    CHECK_MESSAGE_STARTS ("claimed items cannot be purged: ");
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_purge_pool (t->store, "p", done, 0, &count));
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_purge_pool (t->store, "p", NULL, 0, &count));
    CHECK_INT (count, UINT64_MAX);
    CHECK_INT (LIST_ITEMS ("p", NULL, 0, 0, NULL, NULL)->count, 5);

    CHECK_STATUS (WP_OK, wp_store_purge_pool (t->store, "p", done, 1, &count));
    CHECK_INT (count, 1);
    CHECK_STR (s_item_ids (t, LIST_ITEMS ("p", NULL, 0, 0, NULL, NULL)), "b,c,d,e");
    CHECK_STATUS (WP_OK, wp_store_purge_pool (t->store, "p", rest, 2, &count));
    CHECK_INT (count, 3);
    CHECK_STR (s_item_ids (t, LIST_ITEMS ("p", NULL, 0, 0, NULL, NULL)), "c");
    CHECK_INT (SIZE ("p"), 0);
    CHECK_INT (SIZE ("q"), 1);
    wp_stats_t *stats = NULL;
    CHECK_STATUS (WP_OK, wp_store_stats (t->store, &stats));
    s_own (t, stats, s_free_stats);
    const wp_pool_stats_t *p = s_pool_stats (t, stats, "p");
    CHECK (p);
    CHECK_INT (p->pending + p->done + p->poisoned, 0);
    CHECK_INT (p->claimed, 1);
    CHECK_STATUS (WP_OK, wp_store_purge_pool (t->store, "p", rest, 2, &count));
    CHECK_INT (count, 0);
    CHECK_STATUS (WP_OK, wp_store_purge_pool (t->store, "unknown", rest, 2, &count));
    CHECK_INT (count, 0);
    //  The claimed item still completes
    COMPLETE ("p", "c", NULL, "w");
}

static void
s_pause_stops_claims_only (s_case_t *t)
{
    PUSH_ID ("p", "a", "a");
    PUSH_ID ("q", "b", "b");
    CHECK_STATUS (WP_OK, wp_store_set_paused (t->store, "p", true));
    CHECK_STATUS (WP_OK, wp_store_set_paused (t->store, "p", true));     //  idempotent
    CHECK (CLAIM ("p", "w", 0) == NULL);
    CHECK_STR (CLAIM ("q", "w", 0)->id, "b");           //  other pools go on
    //  Pushes, size, get and list still work
    PUSH_ID ("p", "c", "c");
    CHECK_INT (SIZE ("p"), 2);
    CHECK_PENDING (GET ("p", "a"));
    CHECK_STR (s_item_ids (t, LIST_ITEMS ("p", NULL, 0, 0, NULL, NULL)), "a,c");
    CHECK (CLAIM ("p", "w", 0) == NULL);
    //  Stats lists paused pools, one never pushed to included
    CHECK_STATUS (WP_OK, wp_store_set_paused (t->store, "empty", true));
    wp_stats_t *stats = NULL;
    CHECK_STATUS (WP_OK, wp_store_stats (t->store, &stats));
    s_own (t, stats, s_free_stats);
    const wp_pool_stats_t *p = s_pool_stats (t, stats, "p");
    const wp_pool_stats_t *q = s_pool_stats (t, stats, "q");
    const wp_pool_stats_t *empty = s_pool_stats (t, stats, "empty");
    CHECK (p && q && empty);
    CHECK (p->paused && !q->paused && empty->paused);
    CHECK_INT (p->pending, 2);
    CHECK_INT (empty->pending + empty->claimed + empty->done + empty->poisoned, 0);
    CHECK_INT (stats->pool_count, 3);
    CHECK_INT (SIZE ("empty"), 0);

    //  Resume: claimable again, in push order; idempotent too. Decision:
    //  resuming a pool never paused (or never named) is OK and creates
    //  nothing, and a resumed pool without items leaves stats
    CHECK_STATUS (WP_OK, wp_store_set_paused (t->store, "p", false));
    CHECK_STATUS (WP_OK, wp_store_set_paused (t->store, "p", false));
    CHECK_STATUS (WP_OK, wp_store_set_paused (t->store, "empty", false));
    CHECK_STATUS (WP_OK, wp_store_set_paused (t->store, "never", false));
    CHECK_STR (CLAIM ("p", "w", 0)->id, "a");
    CHECK_STATUS (WP_OK, wp_store_stats (t->store, &stats));
    s_own (t, stats, s_free_stats);
    p = s_pool_stats (t, stats, "p");
    CHECK (p && !p->paused);
    CHECK (s_pool_stats (t, stats, "empty") == NULL);
    CHECK (s_pool_stats (t, stats, "never") == NULL);
    CHECK_INT (stats->pool_count, 2);
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_set_paused (t->store, "", true));
}

//  A paused pool's items returned to pending (fail, release) stay put.
static void
s_pause_holds_returned_items (s_case_t *t)
{
    PUSH_ID ("p", "a", "a");
    PUSH_ID ("p", "b", "b");
    CLAIM ("p", "w", 0);
    CLAIM ("p", "v", 0);
    CHECK_STATUS (WP_OK, wp_store_set_paused (t->store, "p", true));
    FAIL ("p", "a", "e", "w");
    RELEASE ("p", "v");
    CHECK_INT (SIZE ("p"), 2);
    CHECK (CLAIM ("p", "w", 0) == NULL);
    CHECK_STATUS (WP_OK, wp_store_retry_all (t->store, "p", NULL));
    CHECK_STATUS (WP_OK, wp_store_set_paused (t->store, "p", false));
    CHECK_STR (CLAIM ("p", "w", 0)->id, "a");
}

//  The bounds of the limits table (proto/wp_limits.h), with the words the
//  wire decoder uses.
static void
s_bounds_from_the_limits_table (s_case_t *t)
{
    PUSH_ID ("p", "a", "a");
    PUSH_ID ("p", "b", "b");
    wp_item_t *item = NULL;
    const char *lease_words =
        "field 'lease_seconds' must be a finite number greater than 0 and at most 604800";
    CHECK_STATUS (WP_INVALID_ARGUMENT,
                  wp_store_claim (t->store, "p", "w", WP_LEASE_MAX + 1, &item));
    CHECK_MESSAGE (lease_words);
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_renew (t->store, "w", WP_LEASE_MAX * 2, NULL));
    CHECK_MESSAGE (lease_words);
    wp_item_list_t *list = NULL;
    CHECK_STATUS (WP_INVALID_ARGUMENT,
                  wp_store_claim_many (t->store, "p", "w", 1, WP_LEASE_MAX + 1, 0, &list));
    CHECK_MESSAGE (lease_words);
    CHECK (item == NULL && list == NULL);
    CHECK_INT (SIZE ("p"), 2);
    int64_t t0 = wp_time_now ();
    item = CLAIM ("p", "w", WP_LEASE_MAX);
    int64_t t1 = wp_time_now ();
    CHECK_CLAIMED (item, "w", t0, t1, WP_LEASE_MAX);
    wp_item_t *next = NULL;
    CHECK_STATUS (WP_INVALID_ARGUMENT,
                  wp_store_complete_and_claim (t->store, "p", "a", NULL, 0, "w",
                                               WP_LEASE_MAX + 1, &next));
    CHECK_MESSAGE (lease_words);
    CHECK_STATE (GET ("p", "a"), WP_ITEM_CLAIMED);

    wp_worker_t *spec = SPEC ("w");
    spec->heartbeat_interval = WP_HEARTBEAT_MAX + 1;
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_register (t->store, spec, NULL));
    CHECK_MESSAGE ("field 'heartbeat_interval_seconds' must be a finite number greater than 0"
                   " and at most 86400");
    spec->heartbeat_interval = WP_HEARTBEAT_MAX;
    CHECK (REGISTER (spec)->heartbeat_interval == WP_HEARTBEAT_MAX);
}

//  =====================================================================
//  Scheduling: delays, priorities, unique keys, retry policies, schedules

#define S_DAY_US        (INT64_C (86400) * S_SECOND)

static void s_free_schedule (void *ptr) { wp_schedule_t *s = ptr; wp_schedule_destroy (&s); }
static void
s_free_schedule_list (void *ptr)
{
    wp_schedule_list_t *list = ptr;
    wp_schedule_list_destroy (&list);
}

//  A push with every option; returns the id, *duplicate as for PUSH_FULL.
static const char *
s_push_entry (s_case_t *t, int line, const char *pool, const char *text,
              const wp_push_entry_t *options, bool *duplicate)
{
    s_value_t value = s_val (text);
    wp_push_entry_t entry = *options;
    entry.data = value.bytes;
    entry.data_size = value.size;
    if (!options->max_retries)
        entry.max_retries = -1;
    char *id_out = NULL;
    bool dup = false;
    s_check_status (t, line, WP_OK, wp_store_push (t->store, pool, &entry, &id_out, &dup), "push");
    s_own (t, id_out, free);
    if (duplicate)
        *duplicate = dup;
    else
    if (dup)
        s_bail (t, line, "push of '%s' reported a duplicate", id_out);
    return id_out;
}

//  PUSH_WITH (pool, text, bool *dup or NULL, .field = value, ...)
#define PUSH_WITH(pool, text, dup_p, ...) \
    s_push_entry (t, __LINE__, pool, text, &(wp_push_entry_t) { __VA_ARGS__ }, dup_p)

static wp_item_state
s_fail_after (s_case_t *t, int line, const char *pool, const char *id, double retry_after,
              const char *worker)
{
    wp_item_state state = WP_ITEM_CLAIMED;
    s_check_status (t, line, WP_OK,
                    wp_store_fail (t->store, pool, id, "busy", worker, retry_after, &state),
                    "fail");
    return state;
}
#define FAIL_AFTER(pool, id, after, worker) s_fail_after (t, __LINE__, pool, id, after, worker)

static void
s_set_backoff (s_case_t *t, int line, const char *pool, double base, double cap, double jitter)
{
    wp_backoff_t policy = { base, cap, jitter };
    s_check_status (t, line, WP_OK, wp_store_set_backoff (t->store, pool, &policy), "set_backoff");
}
#define SET_BACKOFF(pool, base, cap, jitter) s_set_backoff (t, __LINE__, pool, base, cap, jitter)

static const wp_pool_stats_t *
s_stats_of (s_case_t *t, const char *pool)
{
    wp_stats_t *stats = NULL;
    CHECK_STATUS (WP_OK, wp_store_stats (t->store, &stats));
    s_own (t, stats, s_free_stats);
    return s_pool_stats (t, stats, pool);
}

static const char *
s_claimed_id (s_case_t *t, int line, const char *pool, const char *worker)
{
    wp_item_t *item = s_claim (t, line, pool, worker, 0);
    return item ? item->id : NULL;
}
#define CLAIMED_ID(pool, worker) s_claimed_id (t, __LINE__, pool, worker)

//  Polls, bounded, until a claim gets an item; returns it.
static wp_item_t *
s_claim_within (s_case_t *t, int line, const char *pool, const char *worker)
{
    for (int64_t waited = 0; waited < S_WAIT_LIMIT; waited += S_POLL_MS * 1000) {
        wp_item_t *item = s_claim (t, line, pool, worker, 0);
        if (item)
            return item;
        s_sleep_ms (S_POLL_MS);
    }
    s_bail (t, line, "no item of '%s' fell due within %d s", pool,
            (int) (S_WAIT_LIMIT / S_SECOND));
}

static void
s_sched_delayed_push_is_scheduled (s_case_t *t)
{
    const char *id = PUSH_WITH ("p", "later", NULL, .id = "a", .delay = 3600);
    CHECK_STR (id, "a");
    wp_item_t *item = GET ("p", "a");
    CHECK_STATE (item, WP_ITEM_SCHEDULED);
    CHECK_TIME (item->run_at, item->created_at + 3600 * S_SECOND - S_SECOND,
                item->created_at + 3600 * S_SECOND + S_SECOND);
    //  Not claimable, not counted by size; stats count it apart
    CHECK_INT (SIZE ("p"), 0);
    CHECK (CLAIM ("p", "w", 0) == NULL);
    const wp_pool_stats_t *stats = s_stats_of (t, "p");
    CHECK (stats != NULL);
    CHECK_INT (stats->scheduled, 1);
    CHECK_INT (stats->pending, 0);
    //  The plain push beside it is claimable at once, with no run_at
    PUSH_ID ("p", "now", "b");
    CHECK_INT (GET ("p", "b")->run_at, 0);
    CHECK_STR (CLAIMED_ID ("p", "w"), "b");
    //  List finds it by its state; a scheduled item may be cancelled
    wp_item_state scheduled = WP_ITEM_SCHEDULED;
    wp_item_list_t *list = LIST_ITEMS ("p", &scheduled, 1, 0, NULL, NULL);
    CHECK_INT (list->count, 1);
    CHECK_STR (list->items [0]->id, "a");
    CHECK_STATUS (WP_OK, wp_store_cancel (t->store, "p", "a"));
    CHECK_STATUS (WP_NOT_FOUND, wp_store_get (t->store, "p", "a", &item));
}

static void
s_sched_delay_falls_due (s_case_t *t)
{
    PUSH_WITH ("p", "soon", NULL, .id = "a", .delay = 0.3);
    CHECK_STATE (GET ("p", "a"), WP_ITEM_SCHEDULED);
    wp_item_t *item = s_claim_within (t, __LINE__, "p", "w");
    CHECK_STR (item->id, "a");
    CHECK_STATE (item, WP_ITEM_CLAIMED);
    CHECK (item->claimed_at >= item->run_at);
    CHECK_VALUE (item->data, item->data_size, "soon");
}

static void
s_sched_run_at_in_the_past_is_pending (s_case_t *t)
{
    wp_item_t *probe = GET ("p", PUSH_ID ("p", "probe", "probe"));
    PUSH_WITH ("p", "late", NULL, .id = "a", .run_at = probe->created_at - 10 * S_SECOND);
    wp_item_t *item = GET ("p", "a");
    CHECK_PENDING (item);
    CHECK_INT (item->run_at, 0);
    PUSH_WITH ("p", "future", NULL, .id = "b", .run_at = probe->created_at + 3600 * S_SECOND);
    item = GET ("p", "b");
    CHECK_STATE (item, WP_ITEM_SCHEDULED);
    CHECK_INT (item->run_at, probe->created_at + 3600 * S_SECOND);
}

static void
s_sched_bad_input_changes_nothing (s_case_t *t)
{
    s_value_t v = s_val ("x");
    char *id = NULL;
    wp_push_entry_t entry = { v.bytes, v.size, "a", -1 };
    entry.delay = -1;
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_push (t->store, "p", &entry, &id, NULL));
    CHECK_MESSAGE ("delay_seconds must be 0..31622400");
    entry.delay = WP_DELAY_MAX + 1;
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_push (t->store, "p", &entry, &id, NULL));
    entry.delay = NAN;
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_push (t->store, "p", &entry, &id, NULL));
    entry.delay = 5;
    entry.run_at = S_CLOCK_START;
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_push (t->store, "p", &entry, &id, NULL));
    CHECK_MESSAGE ("give delay_seconds or run_at, not both");
    entry.delay = 0;
    entry.run_at = INT64_MAX / 2;
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_push (t->store, "p", &entry, &id, NULL));
    CHECK_MESSAGE ("run_at must be at most 31622400 seconds ahead");
    entry.run_at = 0;
    entry.unique_key = "";
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_push (t->store, "p", &entry, &id, NULL));
    CHECK (strstr (wp_store_errmsg (t->store), "unique_key") != NULL);
    CHECK (id == NULL);
    CHECK_INT (SIZE ("p"), 0);
    wp_item_t *item = NULL;
    CHECK_STATUS (WP_NOT_FOUND, wp_store_get (t->store, "p", "a", &item));

    PUSH_ID ("p", "b", "b");
    CLAIM ("p", "w", 0);
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_fail (t->store, "p", "b", "e", "w", -1, NULL));
    CHECK_MESSAGE ("retry_after_seconds must be 0..31622400");
    CHECK_STATUS (WP_INVALID_ARGUMENT,
                  wp_store_fail (t->store, "p", "b", "e", "w", WP_DELAY_MAX + 1, NULL));
    CHECK_STATE (GET ("p", "b"), WP_ITEM_CLAIMED);
    CHECK_INT (GET ("p", "b")->attempts, 0);

    wp_backoff_t bad [] = {
        { -1, 0, 0 }, { 10, 5, 0 }, { 10, 20, 1.5 }, { 0, 5, 0 }, { 10, WP_DELAY_MAX + 1, 0 },
        { NAN, 1, 0 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_set_backoff (t->store, "p", &bad [i]));
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_set_backoff (t->store, "p", &bad [1]));
    CHECK_MESSAGE ("backoff cap must be at least the base and at most 31622400 seconds");
    const wp_pool_stats_t *stats = s_stats_of (t, "p");
    CHECK (stats && stats->backoff.base == 0);
}

static void
s_sched_priority_orders_claims (s_case_t *t)
{
    PUSH_WITH ("p", "a", NULL, .id = "a", .priority = 5);
    PUSH_WITH ("p", "b", NULL, .id = "b");
    PUSH_WITH ("p", "c", NULL, .id = "c", .priority = -3);
    PUSH_WITH ("p", "d", NULL, .id = "d");
    PUSH_WITH ("p", "e", NULL, .id = "e", .priority = 5);
    PUSH_WITH ("p", "f", NULL, .id = "f", .priority = INT32_MIN);
    PUSH_WITH ("p", "g", NULL, .id = "g", .priority = INT32_MAX);
    CHECK_INT (GET ("p", "c")->priority, -3);
    CHECK_INT (GET ("p", "f")->priority, INT32_MIN);
    CHECK_INT (GET ("p", "g")->priority, INT32_MAX);
    //  Lowest first, then push order
    const char *order [] = { "f", "c", "b", "d", "a", "e", "g" };
    for (size_t i = 0; i < 7; i++)
        CHECK_STR (CLAIMED_ID ("p", "w"), order [i]);
    //  A returned item goes back to its place among its priority
    FAIL ("p", "d", "again", "w");
    PUSH_WITH ("p", "h", NULL, .id = "h");
    PUSH_WITH ("p", "i", NULL, .id = "i", .priority = -1);
    CHECK_STR (CLAIMED_ID ("p", "w"), "i");
    CHECK_STR (CLAIMED_ID ("p", "w"), "d");
    CHECK_STR (CLAIMED_ID ("p", "w"), "h");
}

static void
s_sched_priority_orders_batches (s_case_t *t)
{
    PUSH_WITH ("p", "a", NULL, .id = "a", .priority = 2);
    PUSH_WITH ("p", "b", NULL, .id = "b", .priority = 1);
    PUSH_WITH ("p", "c", NULL, .id = "c", .priority = 2);
    PUSH_WITH ("p", "d", NULL, .id = "d", .priority = 0);
    wp_item_list_t *items = NULL;
    CHECK_STATUS (WP_OK, wp_store_claim_many (t->store, "p", "w", 3, 0, 0, &items));
    s_own (t, items, s_free_items);
    CHECK_INT (items->count, 3);
    CHECK_STR (items->items [0]->id, "d");
    CHECK_STR (items->items [1]->id, "b");
    CHECK_STR (items->items [2]->id, "a");
    PUSH_WITH ("p", "e", NULL, .id = "e", .priority = -1);
    wp_item_t *next = NULL;
    CHECK_STATUS (WP_OK, wp_store_complete_and_claim (t->store, "p", "d", NULL, 0, "w", 0, &next));
    s_own (t, next, s_free_item);
    CHECK (next != NULL);
    CHECK_STR (next->id, "e");
}

static void
s_sched_unique_key_returns_the_live_holder (s_case_t *t)
{
    bool dup = true;
    CHECK_STR (PUSH_WITH ("p", "one", &dup, .id = "a", .unique_key = "k"), "a");
    CHECK (!dup);
    CHECK_STR (GET ("p", "a")->unique_key, "k");
    //  Same key: the holder's id, marked duplicate, nothing pushed
    CHECK_STR (PUSH_WITH ("p", "two", &dup, .id = "b", .unique_key = "k"), "a");
    CHECK (dup);
    wp_item_t *item = NULL;
    CHECK_STATUS (WP_NOT_FOUND, wp_store_get (t->store, "p", "b", &item));
    CHECK_STR (PUSH_WITH ("p", "two", &dup, .unique_key = "k"), "a");
    CHECK (dup);
    CHECK_VALUE (GET ("p", "a")->data, GET ("p", "a")->data_size, "one");
    //  The id rule comes first
    CHECK_STR (PUSH_WITH ("p", "x", &dup, .id = "a", .unique_key = "other"), "a");
    CHECK (dup);
    //  Keys are per pool; another key is another item
    CHECK_STR (PUSH_WITH ("q", "q", &dup, .id = "a2", .unique_key = "k"), "a2");
    CHECK (!dup);
    CHECK_STR (PUSH_WITH ("p", "y", &dup, .id = "c", .unique_key = "k2"), "c");
    CHECK (!dup);
    CHECK_INT (SIZE ("p"), 2);
    //  Claimed still holds the key; failed and pending again too
    CLAIM ("p", "w", 0);
    CHECK_STR (PUSH_WITH ("p", "z", &dup, .unique_key = "k"), "a");
    CHECK (dup);
    FAIL ("p", "a", "e", "w");
    CHECK_STR (PUSH_WITH ("p", "z", &dup, .unique_key = "k"), "a");
    CHECK (dup);
    //  Done frees it
    CHECK_STR (CLAIMED_ID ("p", "w"), "a");
    COMPLETE ("p", "a", "r", "w");
    CHECK_STR (PUSH_WITH ("p", "three", &dup, .id = "d", .unique_key = "k"), "d");
    CHECK (!dup);
    //  A scheduled item holds it; a cancel frees it
    CHECK_STR (PUSH_WITH ("p", "s", &dup, .id = "s", .unique_key = "ks", .delay = 3600), "s");
    CHECK_STR (PUSH_WITH ("p", "s2", &dup, .unique_key = "ks"), "s");
    CHECK (dup);
    CHECK_STATUS (WP_OK, wp_store_cancel (t->store, "p", "s"));
    CHECK_STR (PUSH_WITH ("p", "s3", &dup, .id = "s3", .unique_key = "ks"), "s3");
    CHECK (!dup);
}

static void
s_sched_unique_key_poisoned_and_retried (s_case_t *t)
{
    bool dup;
    PUSH_WITH ("p", "a", NULL, .id = "a", .unique_key = "k", .max_retries = 1);
    CLAIM ("p", "w", 0);
    CHECK_STATE_IS (FAIL ("p", "a", "boom", "w"), WP_ITEM_POISONED);
    //  Poisoned frees the key
    CHECK_STR (PUSH_WITH ("p", "b", &dup, .id = "b", .unique_key = "k"), "b");
    CHECK (!dup);
    //  ...so a retry of the poisoned one would make two holders: refused
    CHECK_STATUS (WP_FAILED_PRECONDITION, wp_store_retry (t->store, "p", "a"));
    CHECK_MESSAGE ("item 'a' has unique key 'k', held by item 'b'");
    uint64_t count = 99;
    CHECK_STATUS (WP_OK, wp_store_retry_all (t->store, "p", &count));
    CHECK_INT (count, 0);
    CHECK_STATE (GET ("p", "a"), WP_ITEM_POISONED);
    //  Once the holder is done, the retry goes through
    CHECK_STR (CLAIMED_ID ("p", "w"), "b");
    COMPLETE ("p", "b", NULL, "w");
    CHECK_STATUS (WP_OK, wp_store_retry_all (t->store, "p", &count));
    CHECK_INT (count, 1);
    CHECK_PENDING (GET ("p", "a"));
    CHECK_STR (PUSH_WITH ("p", "c", &dup, .unique_key = "k"), "a");
    CHECK (dup);
}

static void
s_sched_fail_retry_after_schedules (s_case_t *t)
{
    PUSH_FULL ("p", "a", "a", 2, NULL);
    wp_item_t *claimed = CLAIM ("p", "w", 0);
    CHECK_STATE_IS (FAIL_AFTER ("p", "a", 3600, "w"), WP_ITEM_SCHEDULED);
    wp_item_t *item = GET ("p", "a");
    CHECK_STATE (item, WP_ITEM_SCHEDULED);
    CHECK_INT (item->attempts, 1);
    CHECK_STR (item->error, "busy");
    CHECK (item->claimed_by == NULL);
    CHECK_TIME (item->run_at, claimed->claimed_at + 3600 * S_SECOND,
                claimed->claimed_at + 3610 * S_SECOND);
    CHECK_INT (SIZE ("p"), 0);
    CHECK (CLAIM ("p", "w", 0) == NULL);
    //  A scheduled item is not a finished one
    CHECK_STATUS (WP_FAILED_PRECONDITION, wp_store_retry (t->store, "p", "a"));
    CHECK_MESSAGE ("item 'a' is scheduled: only poisoned or done items can be retried");
    wp_item_state scheduled = WP_ITEM_SCHEDULED;
    uint64_t purged = 0;
    CHECK_STATUS (WP_OK, wp_store_purge_pool (t->store, "p", &scheduled, 1, &purged));
    CHECK_INT (purged, 1);
    //  retry_after does not save an item at its last attempt
    PUSH_FULL ("p", "b", "b", 1, NULL);
    CLAIM ("p", "w", 0);
    CHECK_STATE_IS (FAIL_AFTER ("p", "b", 60, "w"), WP_ITEM_POISONED);
}

static void
s_sched_retry_after_falls_due (s_case_t *t)
{
    PUSH_ID ("p", "a", "a");
    CLAIM ("p", "w", 0);
    CHECK_STATE_IS (FAIL_AFTER ("p", "a", 0.3, "w"), WP_ITEM_SCHEDULED);
    wp_item_t *item = s_claim_within (t, __LINE__, "p", "w");
    CHECK_STR (item->id, "a");
    CHECK_INT (item->attempts, 1);
}

static void
s_sched_backoff_policy_schedules_failures (s_case_t *t)
{
    SET_BACKOFF ("p", 0.3, 10, 0);
    const wp_pool_stats_t *stats = s_stats_of (t, "p");
    CHECK (stats != NULL);                      //  a policy alone lists the pool
    CHECK (stats->backoff.base == 0.3 && stats->backoff.cap == 10 && stats->backoff.jitter == 0);
    PUSH_FULL ("p", "a", "a", 5, NULL);
    CLAIM ("p", "w", 0);
    CHECK_STATE_IS (FAIL ("p", "a", "e", "w"), WP_ITEM_SCHEDULED);
    CHECK_STATE (GET ("p", "a"), WP_ITEM_SCHEDULED);
    CHECK_STR (s_claim_within (t, __LINE__, "p", "w")->id, "a");
    //  retry_after wins over the policy
    CHECK_STATE_IS (FAIL_AFTER ("p", "a", 3600, "w"), WP_ITEM_SCHEDULED);
    wp_item_t *item = GET ("p", "a");
    CHECK (item->run_at - item->created_at > 3000 * S_SECOND);
    //  Cleared: failures are due at once again
    CHECK_STATUS (WP_OK, wp_store_set_backoff (t->store, "p", NULL));
    PUSH_ID ("p", "b", "b");
    CLAIM ("p", "w", 0);
    CHECK_STATE_IS (FAIL ("p", "b", "e", "w"), WP_ITEM_PENDING);
    stats = s_stats_of (t, "p");
    CHECK (stats && stats->backoff.base == 0 && stats->scheduled == 1);
    //  Pools have policies of their own
    SET_BACKOFF ("q", 3600, 3600, 0);
    PUSH_ID ("r", "c", "c");
    CLAIM ("r", "w", 0);
    CHECK_STATE_IS (FAIL ("r", "c", "e", "w"), WP_ITEM_PENDING);
}

static void
s_sched_release_is_due_at_once (s_case_t *t)
{
    SET_BACKOFF ("p", 3600, 3600, 0);
    PUSH_ID ("p", "a", "a");
    CLAIM ("p", "w", 0);
    CHECK_INT (RELEASE ("p", "w"), 1);
    CHECK_PENDING (GET ("p", "a"));
    CHECK_INT (GET ("p", "a")->attempts, 0);
}

static void
s_sched_schedule_put_list_remove (s_case_t *t)
{
    s_value_t v = s_val ("tick");
    wp_schedule_t spec = { .name = "nightly", .pool = "p", .cron = "0 3 * * *",
                           .data = v.bytes, .data_size = v.size, .priority = 4,
                           .max_retries = -1 };
    wp_schedule_t *stored = NULL;
    CHECK_STATUS (WP_OK, wp_store_schedule_put (t->store, &spec, &stored));
    s_own (t, stored, s_free_schedule);
    CHECK_STR (stored->name, "nightly");
    CHECK_STR (stored->cron, "0 3 * * *");
    CHECK_INT (stored->priority, 4);
    CHECK_INT (stored->max_retries, -1);
    CHECK_INT (stored->last_fired_at, 0);
    CHECK (stored->next_at > stored->created_at);
    CHECK (stored->next_at - stored->created_at <= S_DAY_US);
    CHECK_INT ((stored->next_at / S_SECOND) % 86400, 3 * 3600);
    CHECK_VALUE (stored->data, stored->data_size, "tick");

    wp_schedule_t other = spec;
    other.name = "a-first";
    other.cron = "*/5 * * * * *";
    other.max_retries = 7;
    CHECK_STATUS (WP_OK, wp_store_schedule_put (t->store, &other, NULL));
    wp_schedule_list_t *list = NULL;
    CHECK_STATUS (WP_OK, wp_store_schedule_list (t->store, &list));
    s_own (t, list, s_free_schedule_list);
    CHECK_INT (list->count, 2);
    CHECK_STR (list->schedules [0]->name, "a-first");
    CHECK_INT (list->schedules [0]->max_retries, 7);
    CHECK_STR (list->schedules [1]->name, "nightly");
    CHECK_INT (list->schedules [1]->next_at, stored->next_at);

    //  Replaced by name
    other.cron = "0 0 1 1 *";
    CHECK_STATUS (WP_OK, wp_store_schedule_put (t->store, &other, NULL));
    list = NULL;
    CHECK_STATUS (WP_OK, wp_store_schedule_list (t->store, &list));
    s_own (t, list, s_free_schedule_list);
    CHECK_INT (list->count, 2);
    CHECK_STR (list->schedules [0]->cron, "0 0 1 1 *");

    CHECK_STATUS (WP_OK, wp_store_schedule_remove (t->store, "a-first"));
    CHECK_STATUS (WP_NOT_FOUND, wp_store_schedule_remove (t->store, "a-first"));
    CHECK_MESSAGE ("no schedule 'a-first'");
    list = NULL;
    CHECK_STATUS (WP_OK, wp_store_schedule_list (t->store, &list));
    s_own (t, list, s_free_schedule_list);
    CHECK_INT (list->count, 1);
}

static void
s_sched_schedule_bad_input (s_case_t *t)
{
    s_value_t v = s_val ("tick");
    wp_schedule_t spec = { .name = "s", .pool = "p", .cron = "61 * * * *",
                           .data = v.bytes, .data_size = v.size, .max_retries = -1 };
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_schedule_put (t->store, &spec, NULL));
    CHECK (strncmp (wp_store_errmsg (t->store), "cron: the minute field", 22) == 0);
    const char *bad [] = { "* * * *", "* * * * * * *", "*/0 * * * *", "5-1 * * * *",
                           "* * 0 * *", "* * * 13 *", "* * * * 8", "x * * * *", "1,,2 * * * *",
                           "0 0 30 2 *" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        spec.cron = (char *) bad [i];
        if (wp_store_schedule_put (t->store, &spec, NULL) != WP_INVALID_ARGUMENT)
            s_bail (t, __LINE__, "cron '%s' was not refused", bad [i]);
        CHECK (strncmp (wp_store_errmsg (t->store), "cron: ", 6) == 0);
    }
    spec.cron = "0 0 30 2 *";
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_schedule_put (t->store, &spec, NULL));
    CHECK_MESSAGE ("cron: '0 0 30 2 *' has no tick in the next 5 years");
    spec.cron = "* * * * *";
    spec.name = s_sprintf (t, "%0*d", WP_SCHEDULE_NAME_MAX + 1, 0);
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_schedule_put (t->store, &spec, NULL));
    CHECK_MESSAGE ("name must be at most 200 bytes");
    spec.name = "s";
    spec.data = NULL;
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_schedule_put (t->store, &spec, NULL));
    spec.data = v.bytes;
    spec.pool = "";
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_schedule_put (t->store, &spec, NULL));
    wp_schedule_list_t *list = NULL;
    CHECK_STATUS (WP_OK, wp_store_schedule_list (t->store, &list));
    s_own (t, list, s_free_schedule_list);
    CHECK_INT (list->count, 0);
}

//  Real-time firing is the broker's (tests/client); here the clock is exact
static void
s_clock_delay_boundary_is_exact (s_case_t *t)
{
    s_use_clock (t);
    int64_t start = t->clock;
    PUSH_WITH ("p", "a", NULL, .id = "a", .delay = 10);
    CHECK_INT (GET ("p", "a")->run_at, start + 10 * S_SECOND);
    PUSH_WITH ("p", "b", NULL, .id = "b", .run_at = start + 5 * S_SECOND);
    t->clock = start + 5 * S_SECOND - 1;
    CHECK_STATE (GET ("p", "b"), WP_ITEM_SCHEDULED);
    CHECK (CLAIM ("p", "w", 0) == NULL);
    t->clock = start + 5 * S_SECOND;
    CHECK_PENDING (GET ("p", "b"));
    CHECK_INT (GET ("p", "b")->run_at, start + 5 * S_SECOND);
    CHECK_INT (SIZE ("p"), 1);
    //  Fallen due, it keeps its push order: ahead of a later push
    t->clock = start + 10 * S_SECOND;
    PUSH_ID ("p", "c", "c");
    CHECK_STR (CLAIMED_ID ("p", "w"), "a");
    CHECK_STR (CLAIMED_ID ("p", "w"), "b");
    CHECK_STR (CLAIMED_ID ("p", "w"), "c");
}

static void
s_clock_backoff_grows_to_its_cap (s_case_t *t)
{
    s_use_clock (t);
    SET_BACKOFF ("p", 10, 35, 0);
    PUSH_FULL ("p", "a", "a", 10, NULL);
    int64_t expected [] = { 10, 20, 35, 35 };
    for (int i = 0; i < 4; i++) {
        CHECK_STR (CLAIMED_ID ("p", "w"), "a");
        int64_t failed_at = t->clock;
        CHECK_STATE_IS (FAIL ("p", "a", "e", "w"), WP_ITEM_SCHEDULED);
        CHECK_INT (GET ("p", "a")->run_at, failed_at + expected [i] * S_SECOND);
        t->clock += expected [i] * S_SECOND - 1;
        CHECK (CLAIM ("p", "w", 0) == NULL);
        t->clock += 1;
    }
    //  Jitter takes up to its share off, never adds
    SET_BACKOFF ("q", 100, 100, 0.5);
    for (int i = 0; i < 20; i++) {
        char *id = s_sprintf (t, "j%d", i);
        PUSH_ID ("q", "j", id);
        CLAIM ("q", "w", 0);
        FAIL ("q", id, "e", "w");
        CHECK_TIME (GET ("q", id)->run_at, t->clock + 50 * S_SECOND, t->clock + 100 * S_SECOND);
    }
}

static void
s_clock_lapsed_lease_backs_off (s_case_t *t)
{
    s_use_clock (t);
    int64_t start = t->clock;
    SET_BACKOFF ("p", 30, 300, 0);
    PUSH_ID ("p", "a", "a");
    CLAIM ("p", "w", 10);
    wp_worker_t *spec = SPEC ("lost");
    spec->heartbeat_interval = 2;
    REGISTER (spec);
    PUSH_ID ("p", "b", "b");
    CLAIM ("p", "lost", 100);
    //  Both fall due 30 s after the store saw them lapse
    t->clock = start + 11 * S_SECOND;
    wp_item_t *item = GET ("p", "a");
    CHECK_STATE (item, WP_ITEM_SCHEDULED);
    CHECK_STR (item->error, "lease expired");
    CHECK_INT (item->attempts, 1);
    CHECK_INT (item->run_at, start + 41 * S_SECOND);
    item = GET ("p", "b");                      //  lost: no heartbeat for 2 x 2 s
    CHECK_STATE (item, WP_ITEM_SCHEDULED);
    CHECK_STR (item->error, "worker lost");
    CHECK_INT (item->run_at, start + 41 * S_SECOND);
    t->clock = start + 41 * S_SECOND - 1;
    CHECK (CLAIM ("p", "v", 0) == NULL);
    t->clock = start + 41 * S_SECOND;
    CHECK_STR (CLAIMED_ID ("p", "v"), "a");
    CHECK_STR (CLAIMED_ID ("p", "v"), "b");
}

static void
s_clock_reap_counts_backoffs_and_promotions (s_case_t *t)
{
    s_use_clock (t);
    int64_t start = t->clock;
    wp_reap_t reap;
    CHECK_STATUS (WP_OK, wp_store_reap (t->store, &reap));
    PUSH_WITH ("p", "a", NULL, .id = "a", .delay = 5);
    SET_BACKOFF ("p", 20, 20, 0);
    PUSH_ID ("p", "b", "b");
    CLAIM ("p", "w", 10);
    int64_t next = 0;
    CHECK_STATUS (WP_OK, wp_store_next_due (t->store, &next));
    CHECK_INT (next, start + 5 * S_SECOND);
    t->clock = start + 5 * S_SECOND;
    CHECK_STATUS (WP_OK, wp_store_reap (t->store, &reap));
    CHECK_INT (reap.promoted, 1);
    CHECK_INT (reap.backed_off, 0);
    CHECK_STATUS (WP_OK, wp_store_next_due (t->store, &next));
    CHECK_INT (next, start + 10 * S_SECOND);
    t->clock = start + 11 * S_SECOND;
    CHECK_STATUS (WP_OK, wp_store_reap (t->store, &reap));
    CHECK_INT (reap.leases_expired, 1);
    CHECK_INT (reap.backed_off, 1);
    CHECK_INT (reap.requeued, 0);
    CHECK_INT (reap.promoted, 0);
    CHECK_STATUS (WP_OK, wp_store_next_due (t->store, &next));
    CHECK_INT (next, start + 31 * S_SECOND);
    //  A promotion a claim applied on its way is still told to the next reap
    t->clock = start + 31 * S_SECOND;
    CHECK_STR (CLAIMED_ID ("p", "w"), "a");
    CHECK_STATUS (WP_OK, wp_store_reap (t->store, &reap));
    CHECK_INT (reap.promoted, 1);
    CHECK_STATUS (WP_OK, wp_store_reap (t->store, &reap));
    CHECK_INT (reap.promoted, 0);
}

static wp_schedule_t *
s_put_schedule (s_case_t *t, int line, const char *name, const char *cron, const char *text)
{
    s_value_t v = s_val (text);
    wp_schedule_t spec = { .name = (char *) name, .pool = "p", .cron = (char *) cron,
                           .data = v.bytes, .data_size = v.size, .priority = -2,
                           .max_retries = 1 };
    wp_schedule_t *stored = NULL;
    s_check_status (t, line, WP_OK, wp_store_schedule_put (t->store, &spec, &stored),
                    "schedule_put");
    return s_own (t, stored, s_free_schedule);
}
#define PUT_SCHEDULE(name, cron, text) s_put_schedule (t, __LINE__, name, cron, text)

static uint64_t
s_fire (s_case_t *t, int line)
{
    uint64_t fired = UINT64_MAX;
    s_check_status (t, line, WP_OK, wp_store_fire_schedules (t->store, &fired), "fire");
    return fired;
}
#define FIRE() s_fire (t, __LINE__)

static void
s_clock_schedule_fires_once_per_tick (s_case_t *t)
{
    s_use_clock (t);                            //  05:39:00
    int64_t start = t->clock;
    wp_schedule_t *stored = PUT_SCHEDULE ("five", "*/5 * * * *", "tick");
    CHECK_INT (stored->next_at, start + 60 * S_SECOND);     //  05:40:00
    CHECK_INT (stored->created_at, start);
    int64_t next = 0;
    CHECK_STATUS (WP_OK, wp_store_next_due (t->store, &next));
    CHECK_INT (next, start + 60 * S_SECOND);
    t->clock = start + 60 * S_SECOND - 1;
    CHECK_INT (FIRE (), 0);
    t->clock = start + 60 * S_SECOND;
    CHECK_INT (FIRE (), 1);
    CHECK_INT (FIRE (), 0);
    wp_item_t *item = GET ("p", "five@2026-11-26T05:40:00.000000Z");
    CHECK_PENDING (item);
    CHECK_VALUE (item->data, item->data_size, "tick");
    CHECK_INT (item->priority, -2);
    CHECK_INT (item->max_retries, 1);
    wp_schedule_list_t *list = NULL;
    CHECK_STATUS (WP_OK, wp_store_schedule_list (t->store, &list));
    s_own (t, list, s_free_schedule_list);
    CHECK_INT (list->schedules [0]->last_fired_at, start + 60 * S_SECOND);
    CHECK_INT (list->schedules [0]->next_at, start + 360 * S_SECOND);
    //  Replacing it keeps what it fired
    stored = PUT_SCHEDULE ("five", "*/5 * * * *", "tock");
    CHECK_INT (stored->last_fired_at, start + 60 * S_SECOND);
    t->clock = start + 360 * S_SECOND;
    CHECK_INT (FIRE (), 1);
    item = GET ("p", "five@2026-11-26T05:45:00.000000Z");
    CHECK_VALUE (item->data, item->data_size, "tock");
    CHECK_INT (SIZE ("p"), 2);
}

static void
s_clock_schedule_after_downtime_fires_one_catch_up (s_case_t *t)
{
    s_use_clock (t);                            //  05:39:00
    int64_t start = t->clock;
    PUT_SCHEDULE ("minutely", "* * * * *", "m");
    PUT_SCHEDULE ("seconds", "*/10 * * * * *", "s");
    //  Three hours without a fire: one item each, for the first tick missed
    t->clock = start + 3 * 3600 * S_SECOND + 30 * S_SECOND;     //  08:39:30
    CHECK_INT (FIRE (), 2);
    CHECK_INT (SIZE ("p"), 2);
    GET ("p", "minutely@2026-11-26T05:40:00.000000Z");
    GET ("p", "seconds@2026-11-26T05:39:10.000000Z");
    wp_schedule_list_t *list = NULL;
    CHECK_STATUS (WP_OK, wp_store_schedule_list (t->store, &list));
    s_own (t, list, s_free_schedule_list);
    CHECK_INT (list->schedules [0]->next_at, start + (3 * 3600 + 60) * S_SECOND);
    CHECK_INT (list->schedules [1]->next_at, start + (3 * 3600 + 40) * S_SECOND);
    CHECK_INT (FIRE (), 0);
    //  A removed schedule fires no more; its items stay
    CHECK_STATUS (WP_OK, wp_store_schedule_remove (t->store, "seconds"));
    t->clock = start + (3 * 3600 + 60) * S_SECOND;
    CHECK_INT (FIRE (), 1);
    CHECK_INT (SIZE ("p"), 3);
}

static void
s_group_schedule_changes_roll_back (s_case_t *t)
{
    PUT_SCHEDULE ("kept", "* * * * *", "k");
    SET_BACKOFF ("p", 5, 5, 0);
    CHECK_STATUS (WP_OK, wp_store_begin (t->store));
    PUT_SCHEDULE ("dropped", "* * * * *", "d");
    CHECK_STATUS (WP_OK, wp_store_schedule_remove (t->store, "kept"));
    SET_BACKOFF ("p", 60, 60, 0);
    PUSH_WITH ("p", "x", NULL, .id = "x", .delay = 60, .unique_key = "k", .priority = 3);
    wp_store_rollback (t->store);
    wp_schedule_list_t *list = NULL;
    CHECK_STATUS (WP_OK, wp_store_schedule_list (t->store, &list));
    s_own (t, list, s_free_schedule_list);
    CHECK_INT (list->count, 1);
    CHECK_STR (list->schedules [0]->name, "kept");
    const wp_pool_stats_t *stats = s_stats_of (t, "p");
    CHECK (stats && stats->backoff.base == 5 && stats->scheduled == 0);
    bool dup = true;
    CHECK_STR (PUSH_WITH ("p", "y", &dup, .id = "y", .unique_key = "k"), "y");
    CHECK (!dup);
}

static void
s_batch_push_many_schedules_entries (s_case_t *t)
{
    s_value_t a = s_val ("a"), b = s_val ("b"), c = s_val ("c");
    wp_push_entry_t entries [] = {
        { a.bytes, a.size, "a", -1, .delay = 3600 },
        { b.bytes, b.size, "b", -1, .priority = -5, .unique_key = "k" },
        { c.bytes, c.size, "c", -1, .unique_key = "k" },       //  b holds k
    };
    char *ids [3] = { NULL, NULL, NULL };
    bool dups [3] = { true, true, false };
    CHECK_STATUS (WP_OK, wp_store_push_many (t->store, "p", entries, 3, ids, dups));
    for (int i = 0; i < 3; i++)
        s_own (t, ids [i], free);
    CHECK_STR (ids [2], "b");
    CHECK (!dups [0] && !dups [1] && dups [2]);
    CHECK_STATE (GET ("p", "a"), WP_ITEM_SCHEDULED);
    CHECK_INT (GET ("p", "b")->priority, -5);
    CHECK_INT (SIZE ("p"), 1);
    //  A bad entry: nothing of the batch
    entries [0].id = "a2";
    entries [1].id = "b2";
    entries [1].unique_key = "k2";
    entries [2].delay = 5;
    entries [2].run_at = 1;
    CHECK_STATUS (WP_INVALID_ARGUMENT, wp_store_push_many (t->store, "p", entries, 3, ids, NULL));
    CHECK_MESSAGE ("items[2]: give delay_seconds or run_at, not both");
    wp_item_t *item = NULL;
    CHECK_STATUS (WP_NOT_FOUND, wp_store_get (t->store, "p", "a2", &item));
}

//  =====================================================================
//  The suite

enum {
    S_NEEDS_GROUP     = 1,
    S_NEEDS_CLOCK     = 2,
    S_NEEDS_HOUSEKEEP = 4,
    S_IN_GROUP        = 8       //  run between begin and commit (needs a group)
};

typedef struct {
    const char *name;
    void (*run) (s_case_t *t);
    unsigned needs;
} s_case_def_t;

#define CASE(name, needs) { #name, s_##name, needs }
//  A batch case: alone, and again inside a group
#define BATCH_CASE(name) CASE (name, 0), \
    { #name "_in_group", s_##name, S_NEEDS_GROUP | S_IN_GROUP }

static const s_case_def_t s_cases [] = {
    CASE (push_makes_uuid, 0),
    CASE (push_with_id, 0),
    CASE (push_duplicate_id_changes_nothing, 0),
    CASE (push_max_retries, 0),
    CASE (push_max_retries_zero_poisons_at_first_failure, 0),
    CASE (push_negative_max_retries_is_invalid, 0),
    CASE (push_data_is_required, 0),
    CASE (data_and_result_round_trip, 0),
    CASE (invalid_names_are_refused, 0),
    CASE (pools_are_independent, 0),
    CASE (claim_takes_oldest_and_sets_claim_fields, 0),
    CASE (claim_from_empty_pool_returns_no_item, 0),
    CASE (claim_returned_item_keeps_its_place, 0),
    CASE (claim_never_returns_an_item_twice, 0),
    CASE (complete_stores_result, 0),
    CASE (complete_unknown_is_not_found, 0),
    CASE (complete_requires_a_claim, 0),
    CASE (complete_by_another_worker_is_refused, 0),
    CASE (fail_counts_an_attempt_then_poisons, 0),
    CASE (fail_unknown_is_not_found, 0),
    CASE (fail_requires_a_claim, 0),
    CASE (fail_by_another_worker_is_refused, 0),
    CASE (size_counts_pending_only, 0),
    CASE (release_by_worker_returns_claims, 0),
    CASE (get_returns_the_whole_item, 0),
    CASE (get_unknown_is_not_found, 0),
    CASE (renew_extends_leases, 0),
    CASE (lease_expiry_requeues, 0),
    CASE (lease_expiry_poisons_at_max_retries, 0),
    CASE (late_worker_cannot_complete_or_fail, 0),
    CASE (heartbeat_renews_leases, 0),
    CASE (register_creates_an_active_record, 0),
    CASE (register_defaults, 0),
    CASE (register_replaces_the_record, 0),
    CASE (register_refuses_bad_records, 0),
    CASE (heartbeat_unknown_is_not_found, 0),
    CASE (heartbeat_merges_metadata, 0),
    CASE (update_status, 0),
    CASE (get_worker_unknown_is_none, 0),
    CASE (list_workers_filters, 0),
    CASE (list_workers_stale_threshold, 0),
    CASE (stale_worker_is_declared_lost, 0),
    CASE (lost_worker_must_register_again, 0),
    CASE (current_task_id_follows_claims, 0),
    CASE (stats_count_items_and_workers, 0),
    CASE (reap_reports_counts, S_NEEDS_HOUSEKEEP),
    CASE (next_due, S_NEEDS_HOUSEKEEP),
    CASE (purge_removes_old_finished_items, S_NEEDS_HOUSEKEEP),
    BATCH_CASE (batch_push_many_pushes_all),
    BATCH_CASE (batch_push_many_bad_entry_changes_nothing),
    BATCH_CASE (batch_claim_many_order_and_caps),
    BATCH_CASE (batch_claim_many_paused_finds_nothing),
    BATCH_CASE (batch_complete_many_per_entry_outcomes),
    BATCH_CASE (batch_complete_many_bad_entry_changes_nothing),
    BATCH_CASE (batch_complete_and_claim),
    BATCH_CASE (batch_complete_and_claim_failure_claims_nothing),
    BATCH_CASE (batch_complete_and_claim_paused_completes_only),
    CASE (list_filters_by_status, 0),
    CASE (list_pages_with_a_cursor, 0),
    CASE (list_refuses_bad_arguments, 0),
    CASE (list_limit_zero_is_the_default, 0),
    CASE (retry_returns_finished_items_to_pending, 0),
    CASE (retry_all_returns_every_poisoned_item, 0),
    CASE (cancel_removes_pending_or_poisoned, 0),
    CASE (purge_pool_by_status, 0),
    CASE (pause_stops_claims_only, 0),
    CASE (pause_holds_returned_items, 0),
    CASE (bounds_from_the_limits_table, 0),
    CASE (group_failed_batch_keeps_the_rest, S_NEEDS_GROUP),
    CASE (group_commit_makes_calls_visible, S_NEEDS_GROUP),
    CASE (group_rollback_discards, S_NEEDS_GROUP),
    CASE (group_failed_call_changes_nothing, S_NEEDS_GROUP),
    CASE (group_begin_twice_is_refused, S_NEEDS_GROUP),
    CASE (clock_times_come_from_the_store_clock, S_NEEDS_CLOCK),
    CASE (clock_lease_expires_at_its_end, S_NEEDS_CLOCK),
    CASE (clock_worker_lost_after_twice_its_interval, S_NEEDS_CLOCK),
    CASE (clock_stale_filter_threshold, S_NEEDS_CLOCK),
    CASE (clock_push_order_at_one_instant, S_NEEDS_CLOCK),
    CASE (clock_heartbeat_renews_leases, S_NEEDS_CLOCK),
    CASE (clock_purge_counts_from_the_last_change, S_NEEDS_CLOCK | S_NEEDS_HOUSEKEEP),
    CASE (sched_delayed_push_is_scheduled, 0),
    CASE (sched_delay_falls_due, 0),
    CASE (sched_run_at_in_the_past_is_pending, 0),
    CASE (sched_bad_input_changes_nothing, 0),
    CASE (sched_priority_orders_claims, 0),
    CASE (sched_priority_orders_batches, 0),
    CASE (sched_unique_key_returns_the_live_holder, 0),
    CASE (sched_unique_key_poisoned_and_retried, 0),
    CASE (sched_fail_retry_after_schedules, 0),
    CASE (sched_retry_after_falls_due, 0),
    CASE (sched_backoff_policy_schedules_failures, 0),
    CASE (sched_release_is_due_at_once, 0),
    CASE (sched_schedule_put_list_remove, 0),
    CASE (sched_schedule_bad_input, 0),
    BATCH_CASE (batch_push_many_schedules_entries),
    CASE (group_schedule_changes_roll_back, S_NEEDS_GROUP),
    CASE (clock_delay_boundary_is_exact, S_NEEDS_CLOCK),
    CASE (clock_backoff_grows_to_its_cap, S_NEEDS_CLOCK),
    CASE (clock_lapsed_lease_backs_off, S_NEEDS_CLOCK),
    CASE (clock_reap_counts_backoffs_and_promotions, S_NEEDS_CLOCK | S_NEEDS_HOUSEKEEP),
    CASE (clock_schedule_fires_once_per_tick, S_NEEDS_CLOCK | S_NEEDS_HOUSEKEEP),
    CASE (clock_schedule_after_downtime_fires_one_catch_up, S_NEEDS_CLOCK | S_NEEDS_HOUSEKEEP),
};

#define S_CASE_COUNT (sizeof s_cases / sizeof s_cases [0])

//  Why the backend cannot run a case, or NULL if it can.
static const char *
s_missing (const wp_conformance_backend_t *backend, unsigned needs)
{
    if ((needs & S_NEEDS_GROUP) && !backend->can_group)
        return "backend has no group commit";
    if ((needs & S_NEEDS_CLOCK) && !backend->can_set_clock)
        return "backend clock cannot be injected";
    if ((needs & S_NEEDS_HOUSEKEEP) && !backend->can_housekeep)
        return "backend has no reap, next_due or purge";
    return NULL;
}

static bool
s_selected (const char *name, const char *only)
{
    if (!only)
        return true;
    size_t len = strlen (only);
    if (len > 0 && only [len - 1] == '*')
        return strncmp (name, only, len - 1) == 0;
    return strcmp (name, only) == 0;
}

//  Runs one case on a fresh store; returns true if it passed.
static bool
s_run_case (const wp_conformance_backend_t *backend, const s_case_def_t *def)
{
    //  On the heap, so nothing the case touches lives in this frame across
    //  the longjmp.
    s_case_t *t = calloc (1, sizeof *t);
    if (!t)
        abort ();
    t->backend = backend;
    t->store = backend->open (backend->ctx);
    bool passed = false;
    if (!t->store)
        snprintf (t->why, sizeof t->why, "the backend could not open a store");
    else
    if (setjmp (t->bail) == 0) {
        if (def->needs & S_IN_GROUP)
            CHECK_STATUS (WP_OK, wp_store_begin (t->store));
        def->run (t);
        if (def->needs & S_IN_GROUP)
            CHECK_STATUS (WP_OK, wp_store_commit (t->store));
        passed = true;
    }
    if (t->store)
        backend->close (&t->store, backend->ctx);
    s_free_owned (t);
    if (passed)
        printf ("ok - %s\n", def->name);
    else
        printf ("not ok - %s: %s\n", def->name, t->why);
    fflush (stdout);
    free (t);
    return passed;
}

int
wp_conformance_run (const wp_conformance_backend_t *backend, const char *only)
{
    size_t passed = 0, failed = 0, skipped = 0, selected = 0;
    printf ("# conformance: %s\n", backend->name);
    for (size_t i = 0; i < S_CASE_COUNT; i++) {
        const s_case_def_t *def = &s_cases [i];
        if (!s_selected (def->name, only))
            continue;
        selected++;
        const char *missing = s_missing (backend, def->needs);
        if (missing) {
            printf ("ok - %s # skip: %s\n", def->name, missing);
            skipped++;
        }
        else
        if (s_run_case (backend, def))
            passed++;
        else
            failed++;
    }
    if (selected == 0) {
        printf ("not ok - no case named '%s'\n", only);
        failed++;
    }
    printf ("%zu passed, %zu failed (%zu skipped)\n", passed, failed, skipped);
    fflush (stdout);
    return (int) failed;
}
