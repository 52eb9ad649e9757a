"""The reader of tests/cases/wire_cases.json for the Python client: each
step's call made through workpool.Client's public methods, its outcome put
in the wire's shape (records as maps of their wire fields, item values as
the CLI's JSON) and matched against the case. tests/cases/README.md
describes the format; run_cases.c is the same reader for libworkpool."""
import base64
import json
import os
import time

import workpool
from workpool import Entry
from workpool import _wire
from workpool.jsonvalue import from_json, to_json


def load(source_dir):
    with open(os.path.join(source_dir, "tests", "cases", "wire_cases.json")) as f:
        document = json.load(f)
    assert document["format"] == 1
    return document["cases"]


class CaseFailure(AssertionError):
    pass


# ---------------------------------------------------------------------------
#  Outcomes in the wire's shape

def _item(item):
    if item is None:
        return None
    m = item.to_wire()
    m["data"] = to_json(item.data)
    m["result"] = None if item.result_bytes is None else to_json(item.result)
    return m


def _worker(worker):
    return None if worker is None else worker.to_wire()


def _pushed(pushed):
    return {"id": pushed.id, "duplicate": pushed.duplicate}


def _scheduling(w):
    """Push's (and a PushMany entry's) scheduling fields as the client's keywords."""
    return dict(delay=w.get("delay_seconds"), run_at=w.get("run_at"), priority=w.get("priority"),
                unique_key=w.get("unique_key"))


def _entries(items):
    return [Entry(from_json(e["data"]), e.get("id"), e.get("max_retries"), **_scheduling(e))
            for e in items]


def _schedule(schedule):
    m = schedule.to_wire()
    m["data"] = to_json(schedule.data)
    return m


def _opt(w, key):
    value = w.get(key)
    return None if value is None else from_json(value)


def call(c, method, w):
    """Makes the call named method with the case's fields w; returns the
    reply fields (raises the call's WorkpoolError)."""
    pool = w.get("pool")
    if method == "WorkPool.Push":
        return _pushed(c.push_entry(pool, from_json(w["data"]), id=w.get("id"),
                                    max_retries=w.get("max_retries"), **_scheduling(w)))
    if method == "WorkPool.PushMany":
        pushed = c.push_entries(pool, _entries(w["items"]))
        return {"ids": [p.id for p in pushed], "duplicates": [p.duplicate for p in pushed]}
    if method == "WorkPool.Claim":
        return {"item": _item(c.claim(pool, w["worker_id"], wait=w.get("wait_seconds", 0),
                                      lease=w.get("lease_seconds")))}
    if method == "WorkPool.ClaimMany":
        return {"items": [_item(i) for i in c.claim_many(
            pool, w["worker_id"], w["max"], wait=w.get("wait_seconds", 0),
            lease=w.get("lease_seconds"))]}
    if method == "WorkPool.Complete":
        c.complete(pool, w["id"], _opt(w, "result"), worker_id=w.get("worker_id"))
        return {}
    if method == "WorkPool.Fail":
        return {"status": c.fail(pool, w["id"], w.get("error"), worker_id=w.get("worker_id"),
                                 retry_after=w.get("retry_after_seconds"))}
    if method == "WorkPool.CompleteAndClaim":
        return {"item": _item(c.complete_and_claim(
            pool, w["id"], w["worker_id"], _opt(w, "result"), wait=w.get("wait_seconds", 0),
            lease=w.get("lease_seconds")))}
    if method == "WorkPool.CompleteMany":
        outcomes = c.complete_many(pool, [(e["id"], _opt(e, "result")) for e in w["items"]],
                                   worker_id=w.get("worker_id"))
        return {"statuses": ["OK" if o is None else o.code.name for o in outcomes]}
    if method == "WorkPool.Unsubscribe":
        c.unsubscribe(pool, w["worker_id"])
        return {}
    if method == "WorkPool.Size":
        return {"size": c.size(pool)}
    if method == "WorkPool.ReleaseByWorker":
        return {"released": c.release_by_worker(pool, w["worker_id"])}
    if method == "WorkPool.Get":
        return {"item": _item(c.get(pool, w["id"]))}
    if method == "WorkPool.Renew":
        return {"renewed": c.renew(w["worker_id"], w.get("lease_seconds"))}
    if method == "WorkPool.List":
        page = c.list_items(pool, w.get("status"), limit=w.get("limit"), cursor=w.get("cursor"))
        return {"items": [_item(i) for i in page.items], "cursor": page.cursor}
    if method == "WorkPool.Retry":
        if w.get("all"):
            return {"retried": c.retry_all(pool)}
        c.retry(pool, w["id"])
        return {}
    if method == "WorkPool.Cancel":
        c.cancel(pool, w["id"])
        return {}
    if method == "WorkPool.Purge":
        return {"purged": c.purge(pool, w["status"])}
    if method == "WorkPool.Pause":
        c.pause(pool)
        return {}
    if method == "WorkPool.Resume":
        c.resume(pool)
        return {}
    if method == "WorkPool.SetBackoff":
        c.set_backoff(pool, w.get("base_seconds"), w.get("cap_seconds"), w.get("jitter", 0))
        return {}
    if method == "Schedule.Add":
        return {"schedule": _schedule(c.schedule_add(
            w["name"], pool, w["cron"], from_json(w["data"]), priority=w.get("priority"),
            max_retries=w.get("max_retries")))}
    if method == "Schedule.List":
        return {"schedules": [_schedule(s) for s in c.schedule_list()]}
    if method == "Schedule.Remove":
        c.schedule_remove(w["name"])
        return {}
    if method == "Registry.Register":
        return {"worker": _worker(c.register(
            w["worker_id"], host=w.get("host"), pid=w.get("pid"),
            capabilities=w.get("capabilities", ()), pool_id=w.get("pool_id"),
            started_at=w.get("started_at"),
            heartbeat_interval=w.get("heartbeat_interval_seconds"),
            metadata=w.get("metadata")))}
    if method == "Registry.Heartbeat":
        c.heartbeat(w["worker_id"], w.get("metadata"))
        return {}
    if method == "Registry.UpdateStatus":
        c.update_status(w["worker_id"], w["status"])
        return {}
    if method == "Registry.Get":
        return {"worker": _worker(c.get_worker(w["worker_id"]))}
    if method == "Registry.List":
        return {"workers": [_worker(x) for x in c.list_workers(
            status=w.get("status"), capability=w.get("capability"), pool_id=w.get("pool_id"),
            stale_threshold=w.get("stale_threshold_seconds"))]}
    if method == "Broker.Stats":
        stats = c.stats()
        return {"pools": [p.to_wire() for p in stats.pools], "workers": stats.workers,
                "counters": stats.counters}
    if method == "Broker.Ping":
        ping = c.ping()
        return {"version": ping.version, "server": ping.server,
                "time": _wire.format_time(ping.time), "max_message": ping.max_message}
    raise CaseFailure("the case names a method this runner does not know: %s" % method)


# ---------------------------------------------------------------------------
#  Matching

def _is_uuid(text):
    """Version 4 (random) or 7 (time-ordered): either may be made."""
    return (isinstance(text, str) and len(text) == 36 and text[14] in "47"
            and text[19] in "89ab" and all(text[i] == "-" for i in (8, 13, 18, 23)))


def resolve(value, saved):
    """The case's request value with $ref and $repeat replaced."""
    if isinstance(value, dict):
        if "$ref" in value and len(value) == 1:
            return saved[value["$ref"]]
        if "$repeat" in value and len(value) == 1:
            text, count = value["$repeat"]
            return text * count
        return {k: resolve(v, saved) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, saved) for v in value]
    return value


def match(expected, actual, saved, path="reply"):
    """Raises CaseFailure unless actual matches expected (maps: the keys
    given; lists: element by element; predicates: see README)."""
    if isinstance(expected, dict) and len(expected) == 1 and next(iter(expected)).startswith("$") \
            and next(iter(expected)) not in ("$bin", "$raw"):
        (kind, arg), = expected.items()
        ok = {"$ref": lambda: actual == saved[arg],
              "$uuid": lambda: _is_uuid(actual) == arg,
              "$time": lambda: (isinstance(actual, str) and actual.endswith("Z")
                                and len(actual) == 27) == arg,
              "$null": lambda: (actual is None) == arg,
              "$prefix": lambda: isinstance(actual, str) and actual.startswith(arg),
              "$contains": lambda: isinstance(actual, str) and arg in actual,
              "$any": lambda: True}.get(kind)
        if ok is None:
            raise CaseFailure("%s: unknown predicate %s" % (path, kind))
        if not ok():
            raise CaseFailure("%s: %r does not satisfy %s %r" % (path, actual, kind, arg))
        return
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            raise CaseFailure("%s: expected a map, got %r" % (path, actual))
        for key, value in expected.items():
            if key not in actual:
                raise CaseFailure("%s: no field %r in %r" % (path, key, actual))
            match(value, actual[key], saved, "%s.%s" % (path, key))
        return
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            raise CaseFailure("%s: expected %d elements, got %r" % (path, len(expected), actual))
        for i, (e, a) in enumerate(zip(expected, actual)):
            match(e, a, saved, "%s[%d]" % (path, i))
        return
    if isinstance(expected, bool) or isinstance(actual, bool):
        same = isinstance(expected, bool) and isinstance(actual, bool) and expected == actual
    else:
        same = expected == actual
    if not same:
        raise CaseFailure("%s: expected %r, got %r" % (path, expected, actual))


def _get(value, dotted):
    for part in dotted.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


#  How long a stream step waits for what it expects before it fails (a
#  bound on a wait, never a measure: a passing step returns at once)
STREAM_WAIT = 10.0


def _stream_end(sub, where):
    """The status the stream ended with (items before it are a failure)."""
    try:
        item = sub.next(timeout=STREAM_WAIT)
    except workpool.WorkpoolError as e:
        return e.code.name, e.message
    if item is not None:
        raise CaseFailure("%s: an item %r came, expected the end" % (where, item.id))
    if not sub.ended:
        raise CaseFailure("%s: the stream did not end within %g s" % (where, STREAM_WAIT))
    return "OK", ""


def stream_step(c, step, subs, number):
    """A stream step (README.md, "Streams"): subscribe, items, end, unsubscribe."""
    if "subscribe" in step:
        name = step["subscribe"]
        where = "step %d (subscribe %s)" % (number, name)
        w = step.get("with", {})
        want = step.get("status", "OK")
        try:
            sub = c.subscribe(w.get("pool"), w.get("worker_id"), w.get("credit"),
                              w.get("lease_seconds"))
        except workpool.WorkpoolError as e:
            status, message = e.code.name, e.message      # refused before sending
        else:
            subs[name] = sub
            if want == "OK":
                return
            status, message = _stream_end(sub, where)
        if status != want:
            raise CaseFailure("%s: %s %r, expected %s" % (where, status, message, want))
        if "message" in step and step["message"] not in message:
            raise CaseFailure("%s: message %r lacks %r" % (where, message, step["message"]))
        return
    name = step["stream"]
    sub = subs[name]
    if "items" in step:
        where = "step %d (stream %s items)" % (number, name)
        got = []
        deadline = time.monotonic() + STREAM_WAIT
        while len(got) < len(step["items"]):
            try:
                item = sub.next(timeout=max(0.0, deadline - time.monotonic()))
            except workpool.WorkpoolError as e:
                raise CaseFailure("%s: the stream ended %s %r after %r"
                                  % (where, e.code.name, e.message, got))
            if item is None:
                raise CaseFailure("%s: got %r, expected %r" % (where, got, step["items"]))
            got.append(item.id)
        if got != step["items"]:
            raise CaseFailure("%s: got %r, expected %r" % (where, got, step["items"]))
    elif "end" in step:
        where = "step %d (stream %s end)" % (number, name)
        status, message = _stream_end(sub, where)
        if status != step["end"]:
            raise CaseFailure("%s: ended %s %r, expected %s" % (where, status, message,
                                                                step["end"]))
        if "message" in step and step["message"] not in message:
            raise CaseFailure("%s: message %r lacks %r" % (where, message, step["message"]))
    elif step.get("unsubscribe"):
        where = "step %d (stream %s unsubscribe)" % (number, name)
        try:
            left = sub.close()
        except workpool.WorkpoolError as e:
            raise CaseFailure("%s: %s" % (where, e))
        if left:
            raise CaseFailure("%s: items %r came before the end" % (where, [i.id for i in left]))
        if sub.error is not None:
            raise CaseFailure("%s: ended %s, expected OK end" % (where, sub.error))
    else:
        raise CaseFailure("step %d: a stream step this runner does not know: %r" % (number, step))


def run(case, c):
    """Runs every step of case on client c."""
    subs = {}
    try:
        _run(case, c, subs)
    finally:
        for sub in subs.values():
            try:
                sub.close(timeout=2)
            except workpool.WorkpoolError:
                pass


def _run(case, c, subs):
    saved = {}
    for number, step in enumerate(case["steps"], 1):
        if "sleep" in step:
            time.sleep(step["sleep"])
            continue
        if "subscribe" in step or "stream" in step:
            stream_step(c, step, subs, number)
            continue
        where = "step %d (%s)" % (number, step["call"])
        fields = resolve(step.get("with", {}), saved)
        want = step.get("status", "OK")
        deadline = time.monotonic() + step.get("within", 0)
        while True:
            try:
                try:
                    reply, status, message = call(c, step["call"], fields), "OK", ""
                except workpool.WorkpoolError as e:
                    reply, status, message = None, e.code.name, e.message
                if status != want:
                    raise CaseFailure("%s: %s %r, expected %s" % (where, status, message, want))
                if "message" in step and step["message"] not in message:
                    raise CaseFailure("%s: message %r lacks %r" % (where, message, step["message"]))
                if "expect" in step and status == "OK":
                    match(step["expect"], reply, saved, where)
                break
            except CaseFailure:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)
        for name, dotted in step.get("save", {}).items():
            saved[name] = _get(reply, dotted)
