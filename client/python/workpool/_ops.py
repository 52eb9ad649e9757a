"""Every call of the client, written once for the synchronous and the
asyncio client alike.

Each operation is a generator: it yields a Call (a request to make) and is
sent back (reply body, resent) or has the call's WorkpoolError thrown in
(with .resent set); it returns the value the user gets. client.py drives
them with blocking sockets, aio.py with the event loop. So what a call sends,
when it may be resent, and how its reply becomes records, is stated here and
nowhere else.

Resend rules (as libworkpool's, PROTOCOL.md section 7): reads, registry
calls, renew, release, pause/resume/set_backoff, schedule_add and pushes (every entry carries an id; the client
makes a UUID v4 for those without) are resent when a reply is late;
complete, complete_many and fail only when they carry a worker_id; claims,
retry, cancel, purge and schedule_remove never.
"""
import uuid

from . import _wire
from .errors import FailedPrecondition, Internal, InvalidArgument, NotFound, error_for
from .records import Entry, Item, Page, Ping, Pushed, Schedule, Stats, WorkerRecord

ONCE, RESEND = False, True


class Call:
    """One request: the method, its canonical body, whether it may be sent
    again, and how long the broker may hold it (a claim's wait)."""
    __slots__ = ("method", "body", "resend", "wait")

    def __init__(self, method, fields, resend, wait=0.0):
        self.method = method
        self.body = _wire.request_body(method, fields)
        self.resend = resend
        self.wait = wait


def _statuses(status):
    """A status filter: None, one name, or several, as the wire's array."""
    if status is None:
        return ()
    if isinstance(status, str):
        return (status,)
    return tuple(status)


def _item(m):
    return None if m is None else Item.from_wire(m)


def _wait(wait):
    return _wire.check_seconds("wait_seconds", wait or 0.0, 0.0, _wire.WAIT_MAX)


def _result(result):
    return None if result is None else _wire.encode_value(result)


# ---------------------------------------------------------------------------
#  WorkPool

def _entry_wire(entry):
    """One entry's wire map, its scheduling options checked as the broker's
    decoder checks them (so bad input fails before anything is sent)."""
    w = {"data": _wire.encode_value(entry.data),
         "id": str(uuid.uuid4()) if entry.id is None else entry.id,
         "max_retries": entry.max_retries,
         "delay_seconds": _wire.check_seconds("delay_seconds", entry.delay, 0.0,
                                              _wire.DELAY_MAX),
         "run_at": _wire.format_time(entry.run_at),
         "priority": _wire.check_int("priority", entry.priority, _wire.INT32_MIN,
                                     _wire.INT32_MAX),
         "unique_key": _wire.check_name("unique_key", entry.unique_key, _wire.NAME_MAX)}
    return w


def push_entries(pool, entries):
    """The core of every push: one entry is a Push, several a PushMany."""
    wire, made = [], []
    for entry in entries:
        if not isinstance(entry, Entry):
            entry = Entry(entry)
        made.append(entry.id is None)
        wire.append(_entry_wire(entry))
    if not wire:
        raise InvalidArgument("field 'items' must be an array of 1 to %d elements"
                              % _wire.BATCH_MAX)
    if len(wire) == 1:
        reply, _ = yield Call("WorkPool.Push", dict(wire[0], pool=pool), RESEND)
        ids, dups = [reply["id"]], [reply["duplicate"]]
    else:
        items = [_wire.canonical(_wire.ENTRY_FIELDS, w) for w in wire]
        reply, _ = yield Call("WorkPool.PushMany", {"pool": pool, "items": items}, RESEND)
        ids, dups = reply["ids"], reply["duplicates"]
    if len(ids) != len(wire) or len(dups) != len(wire):
        raise Internal("the broker answered %d ids for %d items" % (len(ids), len(wire)))
    #  An id we made can only exist already because our own resend arrived
    #  (a unique_key duplicate answers another item's id: that one is real)
    return [Pushed(i, False if m and i == w["id"] else bool(d))
            for i, d, m, w in zip(ids, dups, made, wire)]


def push(pool, data, id=None, max_retries=None, *, delay=None, run_at=None, priority=None,
         unique_key=None):
    """Queues data; returns its id (with unique_key held by a live item:
    that item's id). delay: seconds until it may be claimed; run_at: when
    (a datetime, naive is UTC, or RFC 3339 text); priority: lower is claimed
    first (0); unique_key: at most one live item of the pool holds it."""
    pushed = yield from push_entries(pool, [Entry(data, id, max_retries, delay, run_at,
                                                  priority, unique_key)])
    return pushed[0].id


def push_entry(pool, data, id=None, max_retries=None, *, delay=None, run_at=None,
               priority=None, unique_key=None):
    """As push, returning the Pushed (id, duplicate)."""
    pushed = yield from push_entries(pool, [Entry(data, id, max_retries, delay, run_at,
                                                  priority, unique_key)])
    return pushed[0]


def push_many(pool, items):
    """Queues items (values or Entry) in one request, all or none; their ids."""
    pushed = yield from push_entries(pool, items)
    return [p.id for p in pushed]


def claim(pool, worker_id, wait=0.0, lease=None):
    wait = _wait(wait)
    reply, _ = yield Call("WorkPool.Claim", {"pool": pool, "worker_id": worker_id,
                                             "wait_seconds": wait, "lease_seconds": lease},
                          ONCE, wait)
    return _item(reply.get("item"))


def claim_many(pool, worker_id, max, wait=0.0, lease=None):
    wait = _wait(wait)
    reply, _ = yield Call("WorkPool.ClaimMany", {"pool": pool, "worker_id": worker_id,
                                                 "max": max, "wait_seconds": wait,
                                                 "lease_seconds": lease}, ONCE, wait)
    return [Item.from_wire(m) for m in reply.get("items") or []]


def _first_copy_won(pool, id, worker_id, completing, error=None):
    """After a resent Complete or Fail was refused: did our first copy take
    effect? Then the item is in the state it left and nobody else holds it."""
    try:
        reply, _ = yield Call("WorkPool.Get", {"pool": pool, "id": id}, RESEND)
    except Exception:
        return None
    item = reply.get("item")
    if item is None or item.get("claimed_by") not in (None, worker_id):
        return None
    if completing:
        return "done" if item["status"] == "done" else None
    if item["status"] in ("pending", "scheduled", "poisoned") and item.get("error") == error:
        return item["status"]
    return None


def complete(pool, id, result=None, worker_id=None):
    try:
        yield Call("WorkPool.Complete", {"pool": pool, "id": id, "result": _result(result),
                                         "worker_id": worker_id}, worker_id is not None)
    except FailedPrecondition as e:
        if not (e.resent and (yield from _first_copy_won(pool, id, worker_id, True))):
            raise


def complete_many(pool, items, worker_id=None):
    entries = []
    for entry in items:
        if isinstance(entry, str):
            entry = (entry, None)
        id, result = entry
        wire = {"id": id}
        if result is not None:
            wire["result"] = _wire.encode_value(result)
        entries.append(wire)
    if not entries:
        raise InvalidArgument("field 'items' must be an array of 1 to %d elements"
                              % _wire.BATCH_MAX)
    reply, resent = yield Call("WorkPool.CompleteMany", {
        "pool": pool, "worker_id": worker_id, "items": entries}, worker_id is not None)
    statuses, messages = reply["statuses"], reply["messages"]
    if len(statuses) != len(entries) or len(messages) != len(entries):
        raise Internal("the broker answered %d statuses for %d entries"
                       % (len(statuses), len(entries)))
    outcomes = []
    for wire, status, message in zip(entries, statuses, messages):
        if status == FailedPrecondition.code and resent \
                and (yield from _first_copy_won(pool, wire["id"], worker_id, True)):
            status = 0
        outcomes.append(None if status == 0 else error_for(status, message))
    return outcomes


def fail(pool, id, error=None, worker_id=None, retry_after=None):
    """Records a failed attempt; returns the item's new status: pending,
    scheduled (retry_after seconds, or the pool's backoff) or poisoned."""
    retry_after = _wire.check_seconds("retry_after_seconds", retry_after, 0.0, _wire.DELAY_MAX)
    try:
        reply, _ = yield Call("WorkPool.Fail", {"pool": pool, "id": id, "error": error,
                                                "worker_id": worker_id,
                                                "retry_after_seconds": retry_after},
                              worker_id is not None)
    except FailedPrecondition as e:
        state = e.resent and (yield from _first_copy_won(pool, id, worker_id, False, error))
        if not state:
            raise
        return state
    return reply["status"]


def complete_and_claim(pool, id, worker_id, result=None, wait=0.0, lease=None):
    wait = _wait(wait)
    reply, _ = yield Call("WorkPool.CompleteAndClaim", {
        "pool": pool, "id": id, "worker_id": worker_id, "result": _result(result),
        "wait_seconds": wait, "lease_seconds": lease}, ONCE, wait)
    return _item(reply.get("item"))


def size(pool):
    reply, _ = yield Call("WorkPool.Size", {"pool": pool}, RESEND)
    return reply["size"]


def release_by_worker(pool, worker_id):
    reply, _ = yield Call("WorkPool.ReleaseByWorker", {"pool": pool, "worker_id": worker_id},
                          RESEND)
    return reply["released"]


def get(pool, id):
    reply, _ = yield Call("WorkPool.Get", {"pool": pool, "id": id}, RESEND)
    item = reply.get("item")
    if item is None:            # a broker answers NOT_FOUND; be sure all the same
        raise NotFound("no item '%s' in pool '%s'" % (id, pool))
    return Item.from_wire(item)


def unsubscribe(pool, worker_id):
    """Ends the worker's subscription on pool (its stream gets the final
    OK end first); OK with none, so it is resent. The items the worker
    holds stay claimed by it."""
    yield Call("WorkPool.Unsubscribe", {"pool": pool, "worker_id": worker_id}, RESEND)


def subscribe_call(pool, worker_id, credit, lease=None):
    """The Subscribe request a subscription sends once (never resent: a
    second copy would replace the first, PROTOCOL.md section 7)."""
    if isinstance(credit, bool) or not isinstance(credit, int) \
            or not 1 <= credit <= _wire.CREDIT_MAX:
        raise InvalidArgument("field 'credit' must be an unsigned integer from 1 to %d"
                              % _wire.CREDIT_MAX)
    lease = _wire.check_seconds("lease_seconds", lease, 0.0, _wire.LEASE_MAX, low_open=True)
    return Call("WorkPool.Subscribe", {"pool": pool, "worker_id": worker_id, "credit": credit,
                                       "lease_seconds": lease}, ONCE)


def renew(worker_id, lease=None):
    reply, _ = yield Call("WorkPool.Renew", {"worker_id": worker_id, "lease_seconds": lease},
                          RESEND)
    return reply["renewed"]


# ---------------------------------------------------------------------------
#  Inspection and lifecycle (admin verbs)

def list_items(pool, status=None, limit=None, cursor=None):
    reply, _ = yield Call("WorkPool.List", {"pool": pool, "status": _statuses(status),
                                            "limit": limit, "cursor": cursor}, RESEND)
    return Page([Item.from_wire(m) for m in reply.get("items") or []], reply.get("cursor"))


def retry(pool, id):
    #  Once: a second copy would be refused (the item is pending by then)
    yield Call("WorkPool.Retry", {"pool": pool, "id": id}, ONCE)


def retry_all(pool):
    #  Once: a second copy's count would be the answer, not the first's
    reply, _ = yield Call("WorkPool.Retry", {"pool": pool, "all": True}, ONCE)
    return reply["retried"]


def cancel(pool, id):
    #  Once: a second copy would find nothing to cancel
    yield Call("WorkPool.Cancel", {"pool": pool, "id": id}, ONCE)


def purge(pool, status):
    #  Once: a second copy would also remove items pushed in between
    reply, _ = yield Call("WorkPool.Purge", {"pool": pool, "status": _statuses(status)}, ONCE)
    return reply["purged"]


def pause(pool):
    yield Call("WorkPool.Pause", {"pool": pool}, RESEND)


def resume(pool):
    yield Call("WorkPool.Resume", {"pool": pool}, RESEND)


def set_backoff(pool, base, cap=None, jitter=0):
    """The pool's retry policy: a failed attempt n waits min(cap, base *
    2^(n-1)) seconds, less up to jitter (0..1) of it, scheduled; base 0
    clears it; cap None: base."""
    base = _wire.check_seconds("base_seconds", base, 0.0, _wire.DELAY_MAX)
    if base is None:
        raise InvalidArgument("field 'base_seconds' is required")
    cap = _wire.check_seconds("cap_seconds", cap, 0.0, _wire.DELAY_MAX)
    if cap == base:
        cap = None                  # the default: the canonical form leaves it out
    jitter = _wire.check_seconds("jitter", jitter or 0.0, 0.0, 1.0)
    #  Idempotent: resent like pause
    yield Call("WorkPool.SetBackoff", {"pool": pool, "base_seconds": base, "cap_seconds": cap,
                                       "jitter": jitter}, RESEND)


# ---------------------------------------------------------------------------
#  Schedules (admin)

def schedule_add(name, pool, cron, data, priority=None, max_retries=None):
    """Creates or replaces the schedule called name: at every tick of cron
    (5 fields, or 6 with seconds first; UTC) it pushes data to pool as item
    NAME@TICK. Returns the stored Schedule (next_at set)."""
    _wire.check_name("name", name, _wire.SCHEDULE_NAME_MAX)
    _wire.check_name("cron", cron, _wire.CRON_MAX, low=0)
    _wire.check_int("priority", priority, _wire.INT32_MIN, _wire.INT32_MAX)
    _wire.check_int("max_retries", max_retries, 0, _wire.INT32_MAX)
    #  Resent: a second copy replaces the record with the same one
    reply, _ = yield Call("Schedule.Add", {"name": name, "pool": pool, "cron": cron,
                                           "data": _wire.encode_value(data), "priority": priority,
                                           "max_retries": max_retries}, RESEND)
    return Schedule.from_wire(reply["schedule"])


def schedule_list():
    """Every schedule, by name."""
    reply, _ = yield Call("Schedule.List", {}, RESEND)
    return [Schedule.from_wire(m) for m in reply.get("schedules") or []]


def schedule_remove(name):
    """Removes the schedule (items it pushed stay). NotFound: no such schedule."""
    _wire.check_name("name", name, _wire.SCHEDULE_NAME_MAX)
    #  Once: a second copy would say NOT_FOUND
    yield Call("Schedule.Remove", {"name": name}, ONCE)


# ---------------------------------------------------------------------------
#  Registry and broker

def register(worker_id, host=None, pid=None, capabilities=(), pool_id=None, started_at=None,
             heartbeat_interval=None, metadata=None):
    reply, _ = yield Call("Registry.Register", {
        "worker_id": worker_id, "host": host, "pid": pid, "capabilities": tuple(capabilities or ()),
        "pool_id": pool_id, "started_at": _wire.format_time(started_at),
        "heartbeat_interval_seconds": heartbeat_interval, "metadata": metadata}, RESEND)
    return WorkerRecord.from_wire(reply["worker"])


def heartbeat(worker_id, metadata=None):
    yield Call("Registry.Heartbeat", {"worker_id": worker_id, "metadata": metadata}, RESEND)


def update_status(worker_id, status):
    yield Call("Registry.UpdateStatus", {"worker_id": worker_id, "status": status}, RESEND)


def get_worker(worker_id):
    reply, _ = yield Call("Registry.Get", {"worker_id": worker_id}, RESEND)
    worker = reply.get("worker")
    return None if worker is None else WorkerRecord.from_wire(worker)


def list_workers(status=None, capability=None, pool_id=None, stale_threshold=None):
    reply, _ = yield Call("Registry.List", {
        "status": _statuses(status), "capability": capability, "pool_id": pool_id,
        "stale_threshold_seconds": stale_threshold}, RESEND)
    return [WorkerRecord.from_wire(m) for m in reply.get("workers") or []]


def stats():
    reply, _ = yield Call("Broker.Stats", {}, RESEND)
    return Stats.from_wire(reply)


def ping():
    reply, _ = yield Call("Broker.Ping", {}, RESEND)
    return Ping.from_wire(reply)


#  The calls on one pool, in the order the docs list them (Pool and
#  AsyncPool offer each with the pool's name bound)
POOL_CALLS = ("push", "push_entry", "push_many", "push_entries", "claim", "claim_many",
              "complete", "complete_many", "fail", "complete_and_claim", "unsubscribe", "size",
              "release_by_worker", "get", "list_items", "retry", "retry_all", "cancel", "purge",
              "pause", "resume", "set_backoff")
OTHER_CALLS = ("renew", "register", "heartbeat", "update_status", "get_worker", "list_workers",
               "stats", "ping", "schedule_add", "schedule_list", "schedule_remove")
