/*  test_image_reload: the image store against the memory store, call for
    call. Both run the same seeded random sequence of calls (pushes with and
    without ids, duplicates, several pools, priorities, delays and run_at,
    unique keys, claims, completions, failures that poison or wait out a
    Retry-After or the pool's retry policy, releases, renewals, registrations, heartbeats with
    metadata, status updates, reads, purges, reaps, the lifecycle verbs
    (list pages, retry, retry_all, cancel, purge by status, pause and
    resume, retry policies), schedules (put, remove, list, firing), batches,
    and groups that commit or roll back, with savepoints
    released or rolled back to inside them) on one injected clock that jumps forward, with short
    leases and heartbeat intervals so that leases lapse and workers go lost
    on the way. Every status and every output must agree.

    Every few dozen steps the image store is destroyed and opened again on
    the same file (now and then in the middle of a group, which the memory
    store then rolls back too, as destroy does): from then on it must still
    answer exactly as the memory store does, and right after each reopen
    the whole state (every item ever pushed, the stats, every worker, every
    schedule, the next due time) must be the same in both.

    Retry policies have no jitter here: each store draws its own random
    part, so with jitter the two would differ.

    Ids: an id-less push gets a fresh UUID from each store, so the two
    differ; the test keeps the pair and translates (explicit ids are the
    same in both).

    Reap counts: wp_store_reap reports what was reaped since the previous
    reap, and that tally lives in memory only (the image holds the state,
    not the broker's bookkeeping). Decision: reap's counts are compared
    exactly while both stores have counted since the same point, that is
    unless the image store was reopened since the last reap; the first reap
    after such a reopen only checks that the image store reports no more
    than the memory store, after which both tallies restart from zero.
    Before half the reopens both stores are reaped first, so that the
    exact comparison resumes at once. A group that rolls back restores the
    tally as it was at begin, so it restores that state as well.

    Usage: test_image_reload [SEED [STEPS]]  */
#include "wp_test.h"
#include "../memory/memops.h"

#define S_SEEDS 6
#define S_STEPS 4000
#define S_ID_RANGE 300          //  explicit ids i0..i299: duplicates happen
#define S_RECENT 16             //  claims remembered for complete and fail

static const char *const s_pools [] = { "alpha", "beta", "gamma" };
#define S_POOL_COUNT 3

//  Registered workers, and a claimant that never registers
static const char *const s_workers [] = { "w0", "w1", "w2", "w3", "w4", "u0" };
#define S_WORKER_COUNT 6

static const char *const s_statuses [] = { "active", "terminating", "lost", "idle" };
static const char *const s_capabilities [] = { "gpu", "cpu", "big" };

//  Unique keys few enough that pushes collide; schedules, and crons that
//  fire within a run (six fields: seconds first)
static const char *const s_keys [] = { "k0", "k1", "k2", "k3", "k4", "k5" };
#define S_KEY_COUNT 6
static const char *const s_schedule_names [] = { "s0", "s1", "s2" };
#define S_SCHEDULE_COUNT 3
static const char *const s_crons [] = { "*/5 * * * * *", "*/2 * * * * *", "* * * * *",
                                        "0 0 1 1 *" };
#define S_CRON_COUNT 4

//  Metadata values, each one msgpack value in its canonical encoding: the
//  image keeps metadata as one msgpack map and decodes it at open, which
//  re-encodes every value canonically (proto/wp_proto_fields.h), while the
//  memory store keeps the bytes it was given
typedef struct {
    const char *bytes;
    size_t size;
} s_value_t;

static const s_value_t s_values [] = {
    { "\x01", 1 }, { "\x7f", 1 }, { "\xff", 1 }, { "\xc0", 1 }, { "\xc3", 1 },
    { "\xa1x", 2 }, { "\xa3" "abc", 4 }, { "\xcd\x01\x00", 3 }, { "\x92\x01\x02", 3 },
    { "\x81\xa1k\x05", 4 },
};
#define S_VALUE_COUNT (sizeof s_values / sizeof s_values [0])

//  An item the test pushed, under the id each store gave it
typedef struct {
    int pool;
    char *oracle_id;
    char *image_id;
} s_known_t;

//  A recent claim, for complete and fail to act on
typedef struct {
    size_t known;
    int worker;
} s_recent_t;

typedef struct {
    unsigned seed;
    uint64_t rng;
    int step;
    const char *op;             //  the call being compared, for messages
    wp_test_clock_t clock;
    wp_store_config_t cfg;
    char path [128];
    wp_store_t *oracle;         //  the memory store
    wp_store_t *image;
    s_known_t *known;
    size_t known_count;
    size_t known_capacity;
    s_recent_t recent [S_RECENT];
    size_t recent_count;
    bool in_group;
    int group_left;             //  steps until the group ends
    bool reap_exact;            //  both reap tallies started at the same point
    bool reap_exact_at_begin;
    bool has_mark;              //  a savepoint is set in the open group
    bool reap_exact_at_mark;
    //  What the run did, so the test can tell it exercised something
    size_t reopens;
    size_t reopens_in_group;
    size_t commits;
    size_t rollbacks;
    size_t rollbacks_to;        //  savepoints rolled back to
    size_t items_compared;
    size_t workers_compared;
    size_t failures;            //  calls both stores refused alike
    size_t completed;
    size_t failed;
    size_t poisoned;
    size_t reaped;              //  leases expired and workers lost, as reaped
    size_t scheduled;           //  items seen scheduled
    size_t key_duplicates;      //  pushes answered by a unique key's holder
    size_t fired;               //  items schedules pushed
} s_run_t;

//  Stops the test naming the seed, the step and the call
#define SAME(run, cond) do { \
    if (!(cond)) { \
        fprintf (stderr, "%s:%d: seed %u step %d (%s): stores differ: %s\n", __FILE__, \
                 __LINE__, (run)->seed, (run)->step, (run)->op, #cond); \
        abort (); \
    } \
} while (0)

//  ---------------------------------------------------------------------
//  Randomness: splitmix64, one stream per seed

static uint64_t
s_next (s_run_t *run)
{
    uint64_t z = (run->rng += UINT64_C (0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C (0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C (0x94d049bb133111eb);
    return z ^ (z >> 31);
}

//  0 <= result < bound
static int
s_below (s_run_t *run, int bound)
{
    return (int) (s_next (run) % (uint64_t) bound);
}

static bool
s_chance (s_run_t *run, int percent)
{
    return s_below (run, 100) < percent;
}

//  Fills buf with 1 to max random bytes (NULs included); returns how many
static size_t
s_bytes (s_run_t *run, uint8_t *buf, size_t max)
{
    size_t size = 1 + (size_t) s_below (run, (int) max);
    for (size_t i = 0; i < size; i++)
        buf [i] = (uint8_t) s_next (run);
    return size;
}

//  ---------------------------------------------------------------------
//  Comparing what the two stores return

static bool
s_str_eq (const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp (a, b) == 0);
}

static bool
s_bytes_eq (const uint8_t *a, size_t a_size, const uint8_t *b, size_t b_size)
{
    return a_size == b_size && (a_size == 0 || (a && b && memcmp (a, b, a_size) == 0));
}

//  The known item with this oracle id in this pool (pool < 0: any), or -1
static ptrdiff_t
s_known_find (s_run_t *run, int pool, const char *oracle_id)
{
    for (size_t i = run->known_count; i-- > 0; )
        if ((pool < 0 || run->known [i].pool == pool)
        &&  strcmp (run->known [i].oracle_id, oracle_id) == 0)
            return (ptrdiff_t) i;
    return -1;
}

static int
s_pool_index (const char *name)
{
    for (int i = 0; i < S_POOL_COUNT; i++)
        if (strcmp (s_pools [i], name) == 0)
            return i;
    return -1;
}

//  The image store's id for the item the memory store calls oracle_id
static const char *
s_image_id (s_run_t *run, int pool, const char *oracle_id)
{
    ptrdiff_t known = s_known_find (run, pool, oracle_id);
    SAME (run, known >= 0);
    return run->known [known].image_id;
}

static void
s_same_status (s_run_t *run, wp_status a, wp_status b)
{
    if (a != b) {
        fprintf (stderr, "seed %u step %d (%s): memory store %s (%s), image store %s (%s)\n",
                 run->seed, run->step, run->op, wp_strerror (a), wp_store_errmsg (run->oracle),
                 wp_strerror (b), wp_store_errmsg (run->image));
        abort ();
    }
    if (a != WP_OK) {
        //  A refusal says why in both (the words may name different ids)
        SAME (run, *wp_store_errmsg (run->oracle));
        SAME (run, *wp_store_errmsg (run->image));
        run->failures++;
    }
}

static void
s_same_item (s_run_t *run, const wp_item_t *a, const wp_item_t *b)
{
    SAME (run, (a == NULL) == (b == NULL));
    if (!a)
        return;
    int pool = s_pool_index (a->pool);
    SAME (run, pool >= 0);
    SAME (run, s_str_eq (a->pool, b->pool));
    SAME (run, s_str_eq (s_image_id (run, pool, a->id), b->id));
    SAME (run, s_bytes_eq (a->data, a->data_size, b->data, b->data_size));
    SAME (run, a->status == b->status);
    SAME (run, s_str_eq (a->claimed_by, b->claimed_by));
    SAME (run, a->claimed_at == b->claimed_at);
    SAME (run, a->lease_expires_at == b->lease_expires_at);
    SAME (run, a->attempts == b->attempts);
    SAME (run, a->max_retries == b->max_retries);
    SAME (run, s_bytes_eq (a->result, a->result_size, b->result, b->result_size));
    SAME (run, s_str_eq (a->error, b->error));
    SAME (run, a->created_at == b->created_at);
    SAME (run, a->priority == b->priority);
    SAME (run, a->run_at == b->run_at);
    SAME (run, s_str_eq (a->unique_key, b->unique_key));
    run->items_compared++;
    run->scheduled += a->status == WP_ITEM_SCHEDULED;
}

static void
s_same_worker (s_run_t *run, const wp_worker_t *a, const wp_worker_t *b)
{
    SAME (run, (a == NULL) == (b == NULL));
    if (!a)
        return;
    SAME (run, s_str_eq (a->worker_id, b->worker_id));
    SAME (run, s_str_eq (a->host, b->host));
    SAME (run, a->pid == b->pid);
    SAME (run, a->capability_count == b->capability_count);
    for (size_t i = 0; i < a->capability_count; i++)
        SAME (run, s_str_eq (a->capabilities [i], b->capabilities [i]));
    SAME (run, s_str_eq (a->pool_id, b->pool_id));
    SAME (run, a->started_at == b->started_at);
    SAME (run, s_str_eq (a->status, b->status));
    SAME (run, a->last_heartbeat == b->last_heartbeat);
    //  The current task may be an id-less push: translate
    SAME (run, (a->current_task_id == NULL) == (b->current_task_id == NULL));
    if (a->current_task_id)
        SAME (run, s_str_eq (s_image_id (run, -1, a->current_task_id), b->current_task_id));
    SAME (run, a->heartbeat_interval == b->heartbeat_interval);
    SAME (run, a->metadata.count == b->metadata.count);
    for (size_t i = 0; i < a->metadata.count; i++) {
        const wp_meta_entry_t *x = &a->metadata.entries [i], *y = &b->metadata.entries [i];
        SAME (run, s_str_eq (x->key, y->key));
        SAME (run, s_bytes_eq (x->value, x->value_size, y->value, y->value_size));
    }
    run->workers_compared++;
}

static void
s_same_list (s_run_t *run, const wp_worker_list_t *a, const wp_worker_list_t *b)
{
    SAME (run, a->count == b->count);
    for (size_t i = 0; i < a->count; i++)
        s_same_worker (run, a->workers [i], b->workers [i]);
}

static void
s_same_stats (s_run_t *run, const wp_stats_t *a, const wp_stats_t *b)
{
    SAME (run, a->pool_count == b->pool_count);
    for (size_t i = 0; i < a->pool_count; i++) {
        SAME (run, s_str_eq (a->pools [i].pool, b->pools [i].pool));
        SAME (run, a->pools [i].pending == b->pools [i].pending);
        SAME (run, a->pools [i].claimed == b->pools [i].claimed);
        SAME (run, a->pools [i].done == b->pools [i].done);
        SAME (run, a->pools [i].poisoned == b->pools [i].poisoned);
        SAME (run, a->pools [i].paused == b->pools [i].paused);
        SAME (run, a->pools [i].scheduled == b->pools [i].scheduled);
        SAME (run, a->pools [i].backoff.base == b->pools [i].backoff.base);
        SAME (run, a->pools [i].backoff.cap == b->pools [i].backoff.cap);
        SAME (run, a->pools [i].backoff.jitter == b->pools [i].backoff.jitter);
    }
    SAME (run, a->worker_status_count == b->worker_status_count);
    for (size_t i = 0; i < a->worker_status_count; i++) {
        SAME (run, s_str_eq (a->workers [i].status, b->workers [i].status));
        SAME (run, a->workers [i].count == b->workers [i].count);
    }
    SAME (run, a->counter_count == 0 && b->counter_count == 0);
}

static void
s_same_schedule (s_run_t *run, const wp_schedule_t *a, const wp_schedule_t *b)
{
    SAME (run, s_str_eq (a->name, b->name));
    SAME (run, s_str_eq (a->pool, b->pool));
    SAME (run, s_str_eq (a->cron, b->cron));
    SAME (run, s_bytes_eq (a->data, a->data_size, b->data, b->data_size));
    SAME (run, a->priority == b->priority);
    SAME (run, a->max_retries == b->max_retries);
    SAME (run, a->next_at == b->next_at);
    SAME (run, a->last_fired_at == b->last_fired_at);
    SAME (run, a->created_at == b->created_at);
}

//  Every schedule, in both
static void
s_same_schedules (s_run_t *run)
{
    wp_schedule_list_t *a = NULL, *b = NULL;
    wp_status rc_a = wp_store_schedule_list (run->oracle, &a);
    wp_status rc_b = wp_store_schedule_list (run->image, &b);
    s_same_status (run, rc_a, rc_b);
    SAME (run, rc_a == WP_OK);
    SAME (run, a->count == b->count);
    for (size_t i = 0; i < a->count; i++)
        s_same_schedule (run, a->schedules [i], b->schedules [i]);
    wp_schedule_list_destroy (&a);
    wp_schedule_list_destroy (&b);
}

//  ---------------------------------------------------------------------
//  The whole state, compared through the public calls

static void
s_compare_all (s_run_t *run)
{
    const char *op = run->op;
    size_t failures = run->failures;    //  NOT_FOUND here is no refusal to count
    run->op = "compare all: get";
    uint64_t found = 0;
    for (size_t i = 0; i < run->known_count; i++) {
        const s_known_t *known = &run->known [i];
        const char *pool = s_pools [known->pool];
        wp_item_t *a = NULL, *b = NULL;
        wp_status rc_a = wp_store_get (run->oracle, pool, known->oracle_id, &a);
        wp_status rc_b = wp_store_get (run->image, pool, known->image_id, &b);
        s_same_status (run, rc_a, rc_b);
        SAME (run, rc_a == WP_OK || rc_a == WP_NOT_FOUND);
        if (rc_a == WP_OK) {
            s_same_item (run, a, b);
            found++;
        }
        wp_item_destroy (&a);
        wp_item_destroy (&b);
    }
    run->op = "compare all: size";
    for (int pool = 0; pool < S_POOL_COUNT; pool++) {
        uint64_t a = 1, b = 2;
        CHECK_OK (run->oracle, wp_store_size (run->oracle, s_pools [pool], &a));
        CHECK_OK (run->image, wp_store_size (run->image, s_pools [pool], &b));
        SAME (run, a == b);
    }
    run->op = "compare all: stats";
    wp_stats_t *stats_a = NULL, *stats_b = NULL;
    CHECK_OK (run->oracle, wp_store_stats (run->oracle, &stats_a));
    CHECK_OK (run->image, wp_store_stats (run->image, &stats_b));
    s_same_stats (run, stats_a, stats_b);
    //  Every item the stores hold is one the test knows: the counts add up
    //  to what the gets above found, so no stray item (a row loaded twice,
    //  a rolled-back push that reached the file) hides from the comparison
    uint64_t total = 0;
    for (size_t i = 0; i < stats_a->pool_count; i++)
        total += stats_a->pools [i].pending + stats_a->pools [i].claimed
               + stats_a->pools [i].done + stats_a->pools [i].poisoned
               + stats_a->pools [i].scheduled;
    SAME (run, total == found);
    wp_stats_destroy (&stats_a);
    wp_stats_destroy (&stats_b);
    run->op = "compare all: list_workers";
    wp_worker_list_t *list_a = NULL, *list_b = NULL;
    CHECK_OK (run->oracle, wp_store_list_workers (run->oracle, NULL, &list_a));
    CHECK_OK (run->image, wp_store_list_workers (run->image, NULL, &list_b));
    s_same_list (run, list_a, list_b);
    wp_worker_list_destroy (&list_a);
    wp_worker_list_destroy (&list_b);
    run->op = "compare all: schedule_list";
    s_same_schedules (run);
    run->op = "compare all: next_due";
    int64_t due_a = -1, due_b = -2;
    CHECK_OK (run->oracle, wp_store_next_due (run->oracle, &due_a));
    CHECK_OK (run->image, wp_store_next_due (run->image, &due_b));
    SAME (run, due_a == due_b);
    run->op = op;
    run->failures = failures;
}

//  ---------------------------------------------------------------------
//  Opening and reopening

static wp_store_t *
s_image_open (s_run_t *run)
{
    wp_status status = WP_OK;
    char *message = NULL;
    wp_store_t *store = wp_store_image_new (run->path, &run->cfg, &status, &message);
    if (!store) {
        fprintf (stderr, "seed %u step %d: cannot open %s: %s: %s\n", run->seed, run->step,
                 run->path, wp_strerror (status), message ? message : "");
        abort ();
    }
    wp_store_set_clock (store, wp_test_clock_read, &run->clock);
    return store;
}

static void s_reap (s_run_t *run);

//  Destroys the image store and opens the file again; in a group, the
//  memory store rolls back what destroy rolled back
static void
s_reopen (s_run_t *run)
{
    run->op = "reopen";
    bool drained = false;
    if (run->in_group) {
        wp_store_rollback (run->oracle);
        run->in_group = false;
        run->reap_exact = run->reap_exact_at_begin;
        run->reopens_in_group++;
    }
    else
    if (s_chance (run, 50)) {
        s_reap (run);
        drained = true;
    }
    wp_store_destroy (&run->image);
    run->image = s_image_open (run);
    //  The image store's reap tally starts again at zero; the memory
    //  store's does not, unless it was just reaped
    run->reap_exact = drained;
    run->op = "after reopen";
    s_compare_all (run);
    run->reopens++;
}

//  ---------------------------------------------------------------------
//  The calls, each made on both stores and compared

//  An item to act on: usually one claimed lately, else any the test pushed,
//  else an id no store holds; *worker_p: who claimed it, or -1
static void
s_pick_item (s_run_t *run, int *pool_p, const char **oracle_id_p, const char **image_id_p,
             int *worker_p)
{
    *worker_p = -1;
    if (run->recent_count > 0 && s_chance (run, 80)) {
        //  The latest claim half the time: the older ones may have lapsed
        size_t pick = s_chance (run, 50) ? run->recent_count - 1
                                         : (size_t) s_below (run, (int) run->recent_count);
        const s_recent_t *recent = &run->recent [pick];
        const s_known_t *known = &run->known [recent->known];
        *pool_p = known->pool;
        *oracle_id_p = known->oracle_id;
        *image_id_p = known->image_id;
        *worker_p = recent->worker;
    }
    else
    if (run->known_count > 0 && s_chance (run, 90)) {
        const s_known_t *known = &run->known [s_below (run, (int) run->known_count)];
        *pool_p = known->pool;
        *oracle_id_p = known->oracle_id;
        *image_id_p = known->image_id;
    }
    else {
        *pool_p = s_below (run, S_POOL_COUNT);
        *oracle_id_p = *image_id_p = "never-pushed";
    }
}

//  The worker id a complete or fail names: the claimant, none, or another
static const char *
s_pick_actor (s_run_t *run, int claimant)
{
    int roll = s_below (run, 10);
    if (claimant >= 0 && roll < 6)
        return s_workers [claimant];
    if (roll < 8)
        return NULL;
    return s_workers [s_below (run, S_WORKER_COUNT)];
}

static void
s_known_add (s_run_t *run, int pool, const char *oracle_id, const char *image_id)
{
    if (s_known_find (run, pool, oracle_id) >= 0)
        return;
    if (run->known_count == run->known_capacity) {
        run->known_capacity = run->known_capacity ? run->known_capacity * 2 : 256;
        run->known = realloc (run->known, run->known_capacity * sizeof (s_known_t));
        CHECK (run->known);
    }
    s_known_t *known = &run->known [run->known_count++];
    known->pool = pool;
    known->oracle_id = wp_strdup (oracle_id);
    known->image_id = wp_strdup (image_id);
}

static void
s_push (s_run_t *run)
{
    run->op = "push";
    int pool = s_below (run, S_POOL_COUNT);
    uint8_t data [2048];
    size_t size = s_bytes (run, data, s_chance (run, 5) ? sizeof data : 48);
    char id [32];
    bool with_id = s_chance (run, 65);
    snprintf (id, sizeof id, "i%d", s_below (run, S_ID_RANGE));
    static const int64_t retries [] = { -1, 0, 1, 2, 3 };
    wp_push_entry_t entry = { data, size, with_id ? id : NULL, retries [s_below (run, 5)] };
    //  Scheduling: a priority, a delay or a run_at (past or ahead; both now
    //  and then, which both refuse), a unique key
    if (s_chance (run, 40))
        entry.priority = s_below (run, 5) - 2;
    int when = s_below (run, 100);
    if (when < 15)
        entry.delay = s_below (run, 12) * 0.25;
    else
    if (when < 22)
        entry.run_at = run->clock.now + (s_below (run, 8) - 2) * SECOND / 2;
    else
    if (when < 23) {
        entry.delay = 1;
        entry.run_at = run->clock.now + SECOND;
    }
    if (s_chance (run, 30))
        entry.unique_key = s_keys [s_below (run, S_KEY_COUNT)];
    char *id_a = NULL, *id_b = NULL;
    bool dup_a = false, dup_b = true;
    wp_status rc_a = wp_store_push (run->oracle, s_pools [pool], &entry, &id_a, &dup_a);
    wp_status rc_b = wp_store_push (run->image, s_pools [pool], &entry, &id_b, &dup_b);
    s_same_status (run, rc_a, rc_b);
    if (entry.delay > 0 && entry.run_at) {
        SAME (run, rc_a == WP_INVALID_ARGUMENT);
        return;
    }
    SAME (run, rc_a == WP_OK);
    SAME (run, dup_a == dup_b);
    SAME (run, !with_id || dup_a || (s_str_eq (id_a, id) && s_str_eq (id_b, id)));
    SAME (run, with_id || dup_a
            || (strlen (id_a) == WP_UUID_LEN && strlen (id_b) == WP_UUID_LEN));
    if (dup_a) {
        SAME (run, s_str_eq (s_image_id (run, pool, id_a), id_b));
        run->key_duplicates += !with_id || !s_str_eq (id_a, id);
    }
    else
        s_known_add (run, pool, id_a, id_b);
    free (id_a);
    free (id_b);
}

static void
s_claim (s_run_t *run)
{
    run->op = "claim";
    int pool = s_below (run, S_POOL_COUNT);
    int worker = s_below (run, S_WORKER_COUNT);
    //  0: the store's default lease
    double lease = s_chance (run, 40) ? 0: 0.25 + s_below (run, 24) * 0.25;
    wp_item_t *a = NULL, *b = NULL;
    wp_status rc_a = wp_store_claim (run->oracle, s_pools [pool], s_workers [worker], lease, &a);
    wp_status rc_b = wp_store_claim (run->image, s_pools [pool], s_workers [worker], lease, &b);
    s_same_status (run, rc_a, rc_b);
    SAME (run, rc_a == WP_OK);
    s_same_item (run, a, b);
    if (a) {
        SAME (run, a->status == WP_ITEM_CLAIMED);
        s_recent_t recent = { (size_t) s_known_find (run, pool, a->id), worker };
        if (run->recent_count == S_RECENT) {
            memmove (run->recent, run->recent + 1, (S_RECENT - 1) * sizeof (s_recent_t));
            run->recent_count--;
        }
        run->recent [run->recent_count++] = recent;
    }
    wp_item_destroy (&a);
    wp_item_destroy (&b);
}

static void
s_complete (s_run_t *run)
{
    run->op = "complete";
    int pool, claimant;
    const char *id_a, *id_b;
    s_pick_item (run, &pool, &id_a, &id_b, &claimant);
    const char *worker = s_pick_actor (run, claimant);
    uint8_t result [64];
    size_t size = s_bytes (run, result, sizeof result);
    bool with_result = s_chance (run, 70);
    wp_status rc_a = wp_store_complete (run->oracle, s_pools [pool], id_a,
                                        with_result ? result : NULL, size, worker);
    wp_status rc_b = wp_store_complete (run->image, s_pools [pool], id_b,
                                        with_result ? result : NULL, size, worker);
    s_same_status (run, rc_a, rc_b);
    run->completed += rc_a == WP_OK;
}

static void
s_fail (s_run_t *run)
{
    run->op = "fail";
    int pool, claimant;
    const char *id_a, *id_b;
    s_pick_item (run, &pool, &id_a, &id_b, &claimant);
    const char *worker = s_pick_actor (run, claimant);
    char error [32];
    snprintf (error, sizeof error, "boom %d", s_below (run, 1000));
    int roll = s_below (run, 10);
    //  NULL and "" are different errors, and must stay so in the file
    const char *text = roll == 0 ? NULL : roll == 1 ? "" : error;
    wp_item_state state_a = (wp_item_state) 7, state_b = (wp_item_state) 8;
    double retry_after = s_chance (run, 25) ? s_below (run, 8) * 0.25 : 0;
    wp_status rc_a = wp_store_fail (run->oracle, s_pools [pool], id_a, text, worker, retry_after,
                                    &state_a);
    wp_status rc_b = wp_store_fail (run->image, s_pools [pool], id_b, text, worker, retry_after,
                                    &state_b);
    s_same_status (run, rc_a, rc_b);
    if (rc_a == WP_OK) {
        SAME (run, state_a == state_b);
        run->failed++;
        run->poisoned += state_a == WP_ITEM_POISONED;
    }
}

static void
s_release (s_run_t *run)
{
    run->op = "release_by_worker";
    int pool = s_below (run, S_POOL_COUNT);
    const char *worker = s_workers [s_below (run, S_WORKER_COUNT)];
    uint64_t a = 1000, b = 2000;
    wp_status rc_a = wp_store_release_by_worker (run->oracle, s_pools [pool], worker, &a);
    wp_status rc_b = wp_store_release_by_worker (run->image, s_pools [pool], worker, &b);
    s_same_status (run, rc_a, rc_b);
    SAME (run, rc_a == WP_OK && a == b);
}

static void
s_renew (s_run_t *run)
{
    run->op = "renew";
    const char *worker = s_workers [s_below (run, S_WORKER_COUNT)];
    double lease = s_chance (run, 30) ? 0: 0.5 + s_below (run, 10) * 0.5;
    uint64_t a = 1000, b = 2000;
    wp_status rc_a = wp_store_renew (run->oracle, worker, lease, &a);
    wp_status rc_b = wp_store_renew (run->image, worker, lease, &b);
    s_same_status (run, rc_a, rc_b);
    SAME (run, rc_a == WP_OK && a == b);
}

//  Random metadata: 0 to 3 entries, canonical values
static void
s_random_meta (s_run_t *run, wp_meta_t *meta, int max)
{
    int count = s_below (run, max + 1);
    for (int i = 0; i < count; i++) {
        char key [8];
        snprintf (key, sizeof key, "k%d", s_below (run, 4));
        const s_value_t *value = &s_values [s_below (run, (int) S_VALUE_COUNT)];
        wp_meta_set (meta, key, (const uint8_t *) value->bytes, value->size);
    }
}

static void
s_register (s_run_t *run)
{
    run->op = "register";
    //  u0 stays a claimant that never registers
    wp_worker_t *spec = wp_worker_new ();
    spec->worker_id = wp_strdup (s_workers [s_below (run, S_WORKER_COUNT - 1)]);
    int host = s_below (run, 3);
    spec->host = host == 0 ? NULL : wp_strdup (host == 1 ? "" : "host-1");
    spec->pid = s_chance (run, 20) ? -1 : (int64_t) s_below (run, 100000);
    int caps = s_below (run, 4);
    for (int i = 0; i < caps; i++)
        wp_worker_add_capability (spec, s_capabilities [s_below (run, 3)]);
    if (s_chance (run, 50))
        spec->pool_id = wp_strdup (s_pools [s_below (run, S_POOL_COUNT)]);
    spec->started_at = s_chance (run, 50) ? 0 : run->clock.now - s_below (run, 1000000);
    //  0: the store's default interval
    spec->heartbeat_interval = s_chance (run, 30) ? 0 : 0.5 + s_below (run, 6) * 0.5;
    //  Whatever the caller says, the store decides these
    spec->status = wp_strdup ("weird");
    spec->last_heartbeat = 12345;
    if (s_chance (run, 20))
        spec->current_task_id = wp_strdup ("not-mine");
    s_random_meta (run, &spec->metadata, 3);
    wp_worker_t *a = NULL, *b = NULL;
    bool with_out = s_chance (run, 70);
    wp_status rc_a = wp_store_register (run->oracle, spec, with_out ? &a : NULL);
    wp_status rc_b = wp_store_register (run->image, spec, with_out ? &b : NULL);
    s_same_status (run, rc_a, rc_b);
    SAME (run, rc_a == WP_OK);
    SAME (run, !with_out || (a && b));
    s_same_worker (run, a, b);
    wp_worker_destroy (&a);
    wp_worker_destroy (&b);
    wp_worker_destroy (&spec);
}

static void
s_heartbeat (s_run_t *run)
{
    run->op = "heartbeat";
    const char *worker = s_workers [s_below (run, S_WORKER_COUNT)];
    wp_meta_t meta = { NULL, 0 };
    s_random_meta (run, &meta, 2);
    bool with_meta = s_chance (run, 60);
    wp_status rc_a = wp_store_heartbeat (run->oracle, worker, with_meta ? &meta : NULL);
    wp_status rc_b = wp_store_heartbeat (run->image, worker, with_meta ? &meta : NULL);
    s_same_status (run, rc_a, rc_b);
    wp_meta_clear (&meta);
}

static void
s_update_status (s_run_t *run)
{
    run->op = "update_status";
    const char *worker = s_workers [s_below (run, S_WORKER_COUNT)];
    const char *status = s_statuses [s_below (run, 4)];
    wp_status rc_a = wp_store_update_status (run->oracle, worker, status);
    wp_status rc_b = wp_store_update_status (run->image, worker, status);
    s_same_status (run, rc_a, rc_b);
}

static void
s_get (s_run_t *run)
{
    run->op = "get";
    int pool, claimant;
    const char *id_a, *id_b;
    s_pick_item (run, &pool, &id_a, &id_b, &claimant);
    if (s_chance (run, 10))
        pool = s_below (run, S_POOL_COUNT);     //  the id may be in another pool
    wp_item_t *a = NULL, *b = NULL;
    wp_status rc_a = wp_store_get (run->oracle, s_pools [pool], id_a, &a);
    wp_status rc_b = wp_store_get (run->image, s_pools [pool], id_b, &b);
    s_same_status (run, rc_a, rc_b);
    if (rc_a == WP_OK)
        s_same_item (run, a, b);
    wp_item_destroy (&a);
    wp_item_destroy (&b);
}

static void
s_get_worker (s_run_t *run)
{
    run->op = "get_worker";
    const char *worker = s_chance (run, 90) ? s_workers [s_below (run, S_WORKER_COUNT)]
                                            : "nobody";
    wp_worker_t *a = NULL, *b = NULL;
    wp_status rc_a = wp_store_get_worker (run->oracle, worker, &a);
    wp_status rc_b = wp_store_get_worker (run->image, worker, &b);
    s_same_status (run, rc_a, rc_b);
    SAME (run, rc_a == WP_OK);
    s_same_worker (run, a, b);
    wp_worker_destroy (&a);
    wp_worker_destroy (&b);
}

static void
s_list_workers (s_run_t *run)
{
    run->op = "list_workers";
    const char *statuses [2] = { s_statuses [s_below (run, 4)], s_statuses [s_below (run, 4)] };
    wp_worker_filter_t filter = WP_WORKER_FILTER_ALL;
    if (s_chance (run, 40)) {
        filter.statuses = statuses;
        filter.status_count = 1 + (size_t) s_below (run, 2);
    }
    if (s_chance (run, 30))
        filter.capability = s_capabilities [s_below (run, 3)];
    if (s_chance (run, 30))
        filter.pool_id = s_pools [s_below (run, S_POOL_COUNT)];
    if (s_chance (run, 30))
        filter.stale_threshold = s_below (run, 8) * 0.5;
    wp_worker_list_t *a = NULL, *b = NULL;
    bool no_filter = s_chance (run, 20);
    wp_status rc_a = wp_store_list_workers (run->oracle, no_filter ? NULL : &filter, &a);
    wp_status rc_b = wp_store_list_workers (run->image, no_filter ? NULL : &filter, &b);
    s_same_status (run, rc_a, rc_b);
    SAME (run, rc_a == WP_OK);
    s_same_list (run, a, b);
    wp_worker_list_destroy (&a);
    wp_worker_list_destroy (&b);
}

static void
s_size (s_run_t *run)
{
    run->op = "size";
    int pool = s_below (run, S_POOL_COUNT);
    uint64_t a = 1, b = 2;
    wp_status rc_a = wp_store_size (run->oracle, s_pools [pool], &a);
    wp_status rc_b = wp_store_size (run->image, s_pools [pool], &b);
    s_same_status (run, rc_a, rc_b);
    SAME (run, rc_a == WP_OK && a == b);
}

static void
s_stats (s_run_t *run)
{
    run->op = "stats";
    wp_stats_t *a = NULL, *b = NULL;
    wp_status rc_a = wp_store_stats (run->oracle, &a);
    wp_status rc_b = wp_store_stats (run->image, &b);
    s_same_status (run, rc_a, rc_b);
    SAME (run, rc_a == WP_OK);
    s_same_stats (run, a, b);
    wp_stats_destroy (&a);
    wp_stats_destroy (&b);
}

static void
s_purge (s_run_t *run)
{
    run->op = "purge";
    double older_than = s_below (run, 17) * 0.5;
    uint64_t a = 1000, b = 2000;
    wp_status rc_a = wp_store_purge (run->oracle, older_than, &a);
    wp_status rc_b = wp_store_purge (run->image, older_than, &b);
    s_same_status (run, rc_a, rc_b);
    SAME (run, rc_a == WP_OK && a == b);
}

static void
s_reap (s_run_t *run)
{
    run->op = "reap";
    wp_reap_t a, b;
    memset (&a, 0xa5, sizeof a);
    memset (&b, 0x5a, sizeof b);
    wp_status rc_a = wp_store_reap (run->oracle, &a);
    wp_status rc_b = wp_store_reap (run->image, &b);
    s_same_status (run, rc_a, rc_b);
    SAME (run, rc_a == WP_OK);
    if (run->reap_exact) {
        SAME (run, a.leases_expired == b.leases_expired);
        SAME (run, a.workers_lost == b.workers_lost);
        SAME (run, a.requeued == b.requeued);
        SAME (run, a.poisoned == b.poisoned);
        SAME (run, a.backed_off == b.backed_off);
        SAME (run, a.promoted == b.promoted);
    }
    else {
        //  The image store counted since its reopen only
        SAME (run, b.leases_expired <= a.leases_expired);
        SAME (run, b.workers_lost <= a.workers_lost);
        SAME (run, b.requeued <= a.requeued);
        SAME (run, b.poisoned <= a.poisoned);
        SAME (run, b.backed_off <= a.backed_off);
        SAME (run, b.promoted <= a.promoted);
    }
    //  Both tallies are zero now
    run->reap_exact = true;
    run->reaped += b.leases_expired + b.workers_lost;
}

static void
s_next_due (s_run_t *run)
{
    run->op = "next_due";
    int64_t a = -1, b = -2;
    wp_status rc_a = wp_store_next_due (run->oracle, &a);
    wp_status rc_b = wp_store_next_due (run->image, &b);
    s_same_status (run, rc_a, rc_b);
    SAME (run, rc_a == WP_OK && a == b);
}

//  The lifecycle verbs

static void
s_list (s_run_t *run)
{
    run->op = "list_items";
    int pool = s_below (run, S_POOL_COUNT);
    wp_item_state statuses [2] = { (wp_item_state) s_below (run, WP_ITEM_STATE_COUNT),
                                   (wp_item_state) s_below (run, WP_ITEM_STATE_COUNT) };
    size_t status_count = (size_t) s_below (run, 3);
    size_t limit = (size_t) s_below (run, 40);
    char *cursor_a = NULL, *cursor_b = NULL;
    //  Every page to the end: the cursors are the stores' own (seqs)
    do {
        wp_item_list_t *a = NULL, *b = NULL;
        char *next_a = NULL, *next_b = NULL;
        wp_status rc_a = wp_store_list_items (run->oracle, s_pools [pool], statuses,
                                              status_count, limit, cursor_a, &a, &next_a);
        wp_status rc_b = wp_store_list_items (run->image, s_pools [pool], statuses,
                                              status_count, limit, cursor_b, &b, &next_b);
        s_same_status (run, rc_a, rc_b);
        SAME (run, rc_a == WP_OK);
        SAME (run, a->count == b->count);
        for (size_t i = 0; i < a->count; i++)
            s_same_item (run, a->items [i], b->items [i]);
        SAME (run, (next_a == NULL) == (next_b == NULL));
        wp_item_list_destroy (&a);
        wp_item_list_destroy (&b);
        free (cursor_a);
        free (cursor_b);
        cursor_a = next_a;
        cursor_b = next_b;
    } while (cursor_a);
}

static void
s_retry (s_run_t *run)
{
    run->op = "retry";
    int pool, claimant;
    const char *id_a, *id_b;
    s_pick_item (run, &pool, &id_a, &id_b, &claimant);
    wp_status rc_a = wp_store_retry (run->oracle, s_pools [pool], id_a);
    wp_status rc_b = wp_store_retry (run->image, s_pools [pool], id_b);
    s_same_status (run, rc_a, rc_b);
}

static void
s_retry_all (s_run_t *run)
{
    run->op = "retry_all";
    int pool = s_below (run, S_POOL_COUNT);
    uint64_t a = 1, b = 2;
    wp_status rc_a = wp_store_retry_all (run->oracle, s_pools [pool], &a);
    wp_status rc_b = wp_store_retry_all (run->image, s_pools [pool], &b);
    s_same_status (run, rc_a, rc_b);
    SAME (run, rc_a == WP_OK && a == b);
}

static void
s_cancel (s_run_t *run)
{
    run->op = "cancel";
    int pool, claimant;
    const char *id_a, *id_b;
    s_pick_item (run, &pool, &id_a, &id_b, &claimant);
    wp_status rc_a = wp_store_cancel (run->oracle, s_pools [pool], id_a);
    wp_status rc_b = wp_store_cancel (run->image, s_pools [pool], id_b);
    s_same_status (run, rc_a, rc_b);
}

static void
s_purge_pool (s_run_t *run)
{
    run->op = "purge_pool";
    static const wp_item_state removable [] = { WP_ITEM_PENDING, WP_ITEM_DONE, WP_ITEM_POISONED,
                                                WP_ITEM_SCHEDULED };
    wp_item_state statuses [2] = { removable [s_below (run, 4)], removable [s_below (run, 4)] };
    //  Pending items go seldom, or the pools would stay empty
    if (statuses [0] == WP_ITEM_PENDING && s_chance (run, 70))
        statuses [0] = WP_ITEM_DONE;
    if (statuses [1] == WP_ITEM_PENDING && s_chance (run, 70))
        statuses [1] = WP_ITEM_POISONED;
    int pool = s_below (run, S_POOL_COUNT);
    uint64_t a = 1, b = 2;
    size_t count = 1 + (size_t) s_below (run, 2);
    wp_status rc_a = wp_store_purge_pool (run->oracle, s_pools [pool], statuses, count, &a);
    wp_status rc_b = wp_store_purge_pool (run->image, s_pools [pool], statuses, count, &b);
    s_same_status (run, rc_a, rc_b);
    SAME (run, rc_a == WP_OK && a == b);
}

static void
s_set_paused (s_run_t *run)
{
    run->op = "set_paused";
    int pool = s_below (run, S_POOL_COUNT);
    //  Resumes more often than pauses, so pools are mostly claimable
    bool paused = s_chance (run, 35);
    wp_status rc_a = wp_store_set_paused (run->oracle, s_pools [pool], paused);
    wp_status rc_b = wp_store_set_paused (run->image, s_pools [pool], paused);
    s_same_status (run, rc_a, rc_b);
    SAME (run, rc_a == WP_OK);
}

static void
s_set_backoff (s_run_t *run)
{
    run->op = "set_backoff";
    int pool = s_below (run, S_POOL_COUNT);
    wp_backoff_t policy = { 0, 0, 0 };
    if (s_chance (run, 70)) {
        policy.base = 0.25 + s_below (run, 4) * 0.25;
        policy.cap = policy.base * (1 + s_below (run, 4));
    }
    bool none = s_chance (run, 10);
    wp_status rc_a = wp_store_set_backoff (run->oracle, s_pools [pool], none ? NULL : &policy);
    wp_status rc_b = wp_store_set_backoff (run->image, s_pools [pool], none ? NULL : &policy);
    s_same_status (run, rc_a, rc_b);
    SAME (run, rc_a == WP_OK);
}

static void
s_schedule_put (s_run_t *run)
{
    run->op = "schedule_put";
    wp_schedule_t *schedule = wp_schedule_new ();
    schedule->name = wp_strdup (s_schedule_names [s_below (run, S_SCHEDULE_COUNT)]);
    schedule->pool = wp_strdup (s_pools [s_below (run, S_POOL_COUNT)]);
    schedule->cron = wp_strdup (s_crons [s_below (run, S_CRON_COUNT)]);
    schedule->data = malloc (16);
    CHECK (schedule->data);
    schedule->data_size = s_bytes (run, schedule->data, 16);
    schedule->priority = s_below (run, 3) - 1;
    schedule->max_retries = s_below (run, 4) - 1;
    wp_schedule_t *a = NULL, *b = NULL;
    wp_status rc_a = wp_store_schedule_put (run->oracle, schedule, &a);
    wp_status rc_b = wp_store_schedule_put (run->image, schedule, &b);
    s_same_status (run, rc_a, rc_b);
    SAME (run, rc_a == WP_OK);
    s_same_schedule (run, a, b);
    wp_schedule_destroy (&a);
    wp_schedule_destroy (&b);
    wp_schedule_destroy (&schedule);
}

static void
s_schedule_remove (s_run_t *run)
{
    run->op = "schedule_remove";
    const char *name = s_schedule_names [s_below (run, S_SCHEDULE_COUNT)];
    wp_status rc_a = wp_store_schedule_remove (run->oracle, name);
    wp_status rc_b = wp_store_schedule_remove (run->image, name);
    s_same_status (run, rc_a, rc_b);
    SAME (run, rc_a == WP_OK || rc_a == WP_NOT_FOUND);
}

static void
s_schedule_list (s_run_t *run)
{
    run->op = "schedule_list";
    s_same_schedules (run);
}

//  Fires what is due in both; the items it pushes (NAME@TICK, the same id
//  in both) join the known ones
static void
s_fire (s_run_t *run)
{
    run->op = "fire_schedules";
    wp_schedule_list_t *list = NULL;
    CHECK_OK (run->oracle, wp_store_schedule_list (run->oracle, &list));
    uint64_t a = 1000, b = 2000;
    wp_status rc_a = wp_store_fire_schedules (run->oracle, &a);
    wp_status rc_b = wp_store_fire_schedules (run->image, &b);
    s_same_status (run, rc_a, rc_b);
    if (rc_a == WP_OK) {
        SAME (run, a == b);
        run->fired += a;
        for (size_t i = 0; i < list->count; i++) {
            const wp_schedule_t *schedule = list->schedules [i];
            if (!schedule->next_at || schedule->next_at > run->clock.now)
                continue;
            char tick [WP_TIME_BUFSIZE], id [WP_NAME_MAX + 1];
            snprintf (id, sizeof id, "%s@%s", schedule->name,
                      wp_time_format (schedule->next_at, tick));
            s_known_add (run, s_pool_index (schedule->pool), id, id);
        }
    }
    wp_schedule_list_destroy (&list);
}

//  A batch (its own savepoint inside a group): pushes with ids, some bad
static void
s_push_many (s_run_t *run)
{
    run->op = "push_many";
    int pool = s_below (run, S_POOL_COUNT);
    static const uint8_t data [] = { 0x01 };
    char ids [4][16];
    wp_push_entry_t entries [4];
    size_t count = 1 + (size_t) s_below (run, 4);
    for (size_t i = 0; i < count; i++) {
        snprintf (ids [i], sizeof ids [i], "i%d", s_below (run, S_ID_RANGE));
        entries [i] = (wp_push_entry_t) { data, sizeof data, ids [i], -1 };
    }
    if (s_chance (run, 20))
        entries [count - 1].data = NULL;        //  the batch changes nothing
    char *out_a [4], *out_b [4];
    wp_status rc_a = wp_store_push_many (run->oracle, s_pools [pool], entries, count, out_a, NULL);
    wp_status rc_b = wp_store_push_many (run->image, s_pools [pool], entries, count, out_b, NULL);
    s_same_status (run, rc_a, rc_b);
    for (size_t i = 0; rc_a == WP_OK && i < count; i++) {
        SAME (run, s_str_eq (out_a [i], out_b [i]));
        s_known_add (run, pool, out_a [i], out_b [i]);
        free (out_a [i]);
        free (out_b [i]);
    }
}

//  Inside a group: set a savepoint, or release it, or roll back to it
//  (outside one, a step that does nothing: its weight is for groups)
static void
s_savepoint (s_run_t *run)
{
    if (!run->in_group)
        return;
    if (!run->has_mark) {
        run->op = "savepoint";
        wp_status rc_a = memops_savepoint (run->oracle);
        wp_status rc_b = memops_savepoint (run->image);
        s_same_status (run, rc_a, rc_b);
        SAME (run, rc_a == WP_OK);
        run->has_mark = true;
        run->reap_exact_at_mark = run->reap_exact;
    }
    else
    if (s_chance (run, 30)) {
        run->op = "release";
        memops_release (run->oracle);
        memops_release (run->image);
        run->has_mark = false;
    }
    else {
        run->op = "rollback_to";
        memops_rollback_to (run->oracle);
        memops_rollback_to (run->image);
        run->has_mark = false;
        run->reap_exact = run->reap_exact_at_mark;
        run->rollbacks_to++;
    }
}

//  Group boundaries: begin (the group ends after a random number of
//  steps, see s_group_end); inside a group now and then a second begin,
//  outside one a commit, which both stores must refuse
static void
s_group (s_run_t *run)
{
    if (run->in_group) {
        run->op = "begin inside a group";
        wp_status rc_a = wp_store_begin (run->oracle);
        wp_status rc_b = wp_store_begin (run->image);
        s_same_status (run, rc_a, rc_b);
        SAME (run, rc_a == WP_FAILED_PRECONDITION);
        return;
    }
    if (s_chance (run, 10)) {
        run->op = "commit outside a group";
        wp_status rc_a = wp_store_commit (run->oracle);
        wp_status rc_b = wp_store_commit (run->image);
        s_same_status (run, rc_a, rc_b);
        SAME (run, rc_a == WP_FAILED_PRECONDITION);
        return;
    }
    run->op = "begin";
    wp_status rc_a = wp_store_begin (run->oracle);
    wp_status rc_b = wp_store_begin (run->image);
    s_same_status (run, rc_a, rc_b);
    SAME (run, rc_a == WP_OK);
    run->in_group = true;
    run->has_mark = false;
    run->group_left = 1 + s_below (run, 12);
    run->reap_exact_at_begin = run->reap_exact;
}

//  Ends the open group: mostly commit, sometimes roll back
static void
s_group_end (s_run_t *run)
{
    run->in_group = false;
    if (s_chance (run, 70)) {
        run->op = "commit";
        wp_status rc_a = wp_store_commit (run->oracle);
        wp_status rc_b = wp_store_commit (run->image);
        s_same_status (run, rc_a, rc_b);
        SAME (run, rc_a == WP_OK);
        run->commits++;
    }
    else {
        run->op = "rollback";
        wp_store_rollback (run->oracle);
        wp_store_rollback (run->image);
        run->reap_exact = run->reap_exact_at_begin;
        run->rollbacks++;
    }
}

//  The clock: mostly small steps, sometimes past every lease and heartbeat
static void
s_tick (s_run_t *run)
{
    int roll = s_below (run, 100);
    if (roll < 80)
        run->clock.now += s_below (run, 50000);
    else
    if (roll < 97)
        run->clock.now += 50000 + s_below (run, 950000);
    else
        run->clock.now += 2 * SECOND + s_below (run, 8) * SECOND;
}

typedef struct {
    void (*call) (s_run_t *run);
    int weight;
} s_op_t;

static const s_op_t s_ops [] = {
    { s_push, 18 }, { s_claim, 14 }, { s_complete, 9 }, { s_fail, 8 }, { s_release, 3 },
    { s_renew, 4 }, { s_register, 5 }, { s_heartbeat, 9 }, { s_update_status, 3 },
    { s_get, 6 }, { s_get_worker, 3 }, { s_list_workers, 3 }, { s_size, 2 }, { s_stats, 2 },
    { s_purge, 3 }, { s_reap, 3 }, { s_next_due, 2 }, { s_group, 6 },
    { s_list, 2 }, { s_retry, 3 }, { s_retry_all, 1 }, { s_cancel, 2 }, { s_purge_pool, 1 },
    { s_set_paused, 2 }, { s_push_many, 3 }, { s_savepoint, 14 },
    { s_set_backoff, 2 }, { s_schedule_put, 2 }, { s_schedule_remove, 1 },
    { s_schedule_list, 1 }, { s_fire, 3 },
};
#define S_OP_COUNT (sizeof s_ops / sizeof s_ops [0])

static void
s_step (s_run_t *run)
{
    int total = 0;
    for (size_t i = 0; i < S_OP_COUNT; i++)
        total += s_ops [i].weight;
    int roll = s_below (run, total);
    for (size_t i = 0; i < S_OP_COUNT; i++) {
        if (roll < s_ops [i].weight) {
            s_ops [i].call (run);
            return;
        }
        roll -= s_ops [i].weight;
    }
}

//  One seed: its own file, both stores from empty
static void
s_run_seed (s_run_t *run, unsigned seed, int steps)
{
    memset (run, 0, sizeof *run);
    run->seed = seed;
    run->rng = seed * UINT64_C (0x2545f4914f6cdd1d) + 1;
    run->clock.now = INT64_C (1700000000) * SECOND;
    run->cfg.lease = 3;
    run->cfg.heartbeat = 1;
    //  One seed in two with synchronous=FULL: the image is the same either way
    run->cfg.sync_full = seed % 2 == 1;
    run->reap_exact = true;
    char dir [64];
    wp_test_dir_new (dir, "wp-image-reload");
    snprintf (run->path, sizeof run->path, "%s/image.db", dir);
    run->oracle = wp_store_memory_new (&run->cfg);
    wp_store_set_clock (run->oracle, wp_test_clock_read, &run->clock);
    run->image = s_image_open (run);

    int next_reopen = 10 + s_below (run, 80);
    for (run->step = 0; run->step < steps; run->step++) {
        s_tick (run);
        s_step (run);
        if (run->in_group && --run->group_left == 0)
            s_group_end (run);
        if (run->step >= next_reopen && (!run->in_group || s_chance (run, 10))) {
            s_reopen (run);
            next_reopen = run->step + 10 + s_below (run, 80);
        }
    }
    //  End the last group, then compare, reopen and compare again
    if (run->in_group)
        s_group_end (run);
    run->op = "end";
    s_compare_all (run);
    s_reopen (run);

    printf ("seed %u: %d steps, %zu items known, %zu reopens (%zu in a group), "
            "%zu commits, %zu rollbacks (%zu to a savepoint), %zu refusals, %zu completed, %zu failed "
            "(%zu poisoned), %zu reaped, %zu items and %zu workers compared, %zu scheduled "
            "seen, %zu key duplicates, %zu fired\n",
            seed, steps, run->known_count, run->reopens, run->reopens_in_group, run->commits,
            run->rollbacks, run->rollbacks_to, run->failures, run->completed, run->failed, run->poisoned,
            run->reaped, run->items_compared, run->workers_compared, run->scheduled,
            run->key_duplicates, run->fired);
    fflush (stdout);

    //  The run exercised what it is meant to
    CHECK (run->reopens >= (size_t) steps / 100);
    CHECK (run->commits > 0 && run->rollbacks > 0 && run->rollbacks_to > 0);
    CHECK (run->items_compared > (size_t) steps);
    CHECK (run->workers_compared > 0);
    CHECK (run->failures > 0);
    CHECK (run->completed > 0 && run->failed > 0);
    CHECK (run->poisoned > 0);
    CHECK (run->reaped > 0);
    CHECK (run->scheduled > 0 && run->key_duplicates > 0 && run->fired > 0);
    wp_store_destroy (&run->image);
    wp_store_destroy (&run->oracle);
    for (size_t i = 0; i < run->known_count; i++) {
        free (run->known [i].oracle_id);
        free (run->known [i].image_id);
    }
    free (run->known);
    wp_test_remove (dir);
}

int
main (int argc, char *argv [])
{
    s_run_t run;
    int steps = argc > 2 ? atoi (argv [2]) : S_STEPS;
    if (argc > 1)
        s_run_seed (&run, (unsigned) strtoul (argv [1], NULL, 10), steps);
    else
        for (unsigned seed = 1; seed <= S_SEEDS; seed++)
            s_run_seed (&run, seed, steps);
    printf ("test_image_reload: ok\n");
    return 0;
}
