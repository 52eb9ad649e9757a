#!/usr/bin/env python3
"""check_vectors: reads every golden vector of proto/vectors/ with Python's
msgpack library (not our C codec) and checks it against the protocol as
proto/PROTOCOL.md states it: frame shapes, field types and bounds of every
method's request and reply, Item and Worker records. Good vectors must pass
and re-pack to the same bytes (so they are canonical msgpack any library
writes); each malformed vector must be refused with its recorded status at
its recorded stage. This proves the vectors readable by another language and
our C decoder's verdicts independent of its own code.

The bounds are read from proto/wp_limits.h (the one table of them), and the
bound list of PROTOCOL.md is checked to give the same values.

Usage: check_vectors.py [VECTOR_DIR]   (default: $WP_SOURCE_DIR/proto/vectors)
Exit 0 if all pass, 1 on a failure, 77 (ctest's skip) without python3-msgpack."""

import math
import os
import re
import sys

try:
    import msgpack
except ImportError:
    print("check_vectors: python3-msgpack is not installed; skipping")
    sys.exit(77)

PROTO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "proto")


def read_limits(path):
    """The #defines of wp_limits.h whose value is a number."""
    limits = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"#define\s+WP_(\w+)\s+\(?([0-9.e]+)(?:\s*<<\s*(\d+))?\)?", line)
            if m:
                value = float(m.group(2)) if any(c in m.group(2) for c in ".e") else int(m.group(2))
                limits[m.group(1)] = value << int(m.group(3)) if m.group(3) else value
    return limits


LIMITS = read_limits(os.path.join(PROTO_DIR, "wp_limits.h"))
NAME_MAX = LIMITS["NAME_MAX"]
BATCH_MAX = LIMITS["BATCH_MAX"]
LIST_MAX = LIMITS["LIST_MAX"]
CURSOR_MAX = LIMITS["CURSOR_MAX"]
DEPTH_MAX = LIMITS["NESTING_MAX"]
ITEM_STATES = ("pending", "claimed", "done", "poisoned", "scheduled")
DELAY_MAX = LIMITS["DELAY_MAX"]
INT32 = (-2 ** 31, 2 ** 31 - 1)
METHODS = [
    "WorkPool.Push", "WorkPool.PushMany", "WorkPool.Claim", "WorkPool.ClaimMany",
    "WorkPool.Complete", "WorkPool.Fail", "WorkPool.CompleteAndClaim", "WorkPool.Size",
    "WorkPool.ReleaseByWorker", "WorkPool.Get", "WorkPool.Renew", "Registry.Register",
    "Registry.Heartbeat", "Registry.UpdateStatus", "Registry.Get", "Registry.List",
    "Broker.Stats", "Broker.Ping", "WorkPool.CompleteMany", "WorkPool.List", "WorkPool.Retry",
    "WorkPool.Cancel", "WorkPool.Purge", "WorkPool.Pause", "WorkPool.Resume",
    "WorkPool.SetBackoff", "Schedule.Add", "Schedule.List", "Schedule.Remove",
    "WorkPool.Subscribe", "WorkPool.Unsubscribe",
]
STATUS = ["OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
          "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
          "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
          "UNAUTHENTICATED"]


class Refused(Exception):
    """The message breaks the protocol: status (a name) and the reason."""

    def __init__(self, status, reason, replyable=True):
        super().__init__(reason)
        self.status = status
        self.replyable = replyable


class Map(dict):
    """A msgpack map read with its keys checked: strings, none twice."""


def pairs_hook(pairs):
    result = Map()
    for key, value in pairs:
        if not isinstance(key, str):
            raise Refused("INVALID_ARGUMENT", "a map key is not a string")
        if key in result:
            raise Refused("INVALID_ARGUMENT", "duplicate key %r" % key)
        result[key] = value
    return result


def unpack(frame):
    """One msgpack value, nothing after it, nested at most DEPTH_MAX deep."""
    try:
        value = msgpack.unpackb(frame, raw=False, object_pairs_hook=pairs_hook,
                                strict_map_key=False)
    except Refused:
        raise
    except Exception as error:          # truncated, extra data, bad UTF-8, ...
        raise Refused("INVALID_ARGUMENT", "not one msgpack value: %s" % error)
    if depth(value) > DEPTH_MAX:
        raise Refused("INVALID_ARGUMENT", "nested deeper than %d" % DEPTH_MAX)
    return value


def depth(value):
    if isinstance(value, dict):
        return 1 + max([depth(v) for v in value.values()] + [0])
    if isinstance(value, (list, tuple)):
        return 1 + max([depth(v) for v in value] + [0])
    return 0


# ---------------------------------------------------------------------------
# Field types

def fail(field, what):
    raise Refused("INVALID_ARGUMENT", "field %r must be %s" % (field, what))


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def text(v, field, lo=0, hi=None):
    if not isinstance(v, str) or "\0" in v:
        fail(field, "a string without NUL")
    size = len(v.encode("utf-8"))
    if size < lo or (hi is not None and size > hi):
        fail(field, "%d to %s bytes" % (lo, hi))
    return v


def name(v, field):
    return text(v, field, 1, NAME_MAX)


def binary(v, field, nonempty=False):
    if not isinstance(v, bytes):
        fail(field, "bin")
    if nonempty and not v:
        fail(field, "non-empty")
    return v


def uint(v, field, lo=0, hi=2 ** 64 - 1):
    if not is_int(v) or v < lo or v > hi:
        fail(field, "a uint %d..%d" % (lo, hi))
    return v


def integer(v, field, lo, hi):
    if not is_int(v) or v < lo or v > hi:
        fail(field, "an int %d..%d" % (lo, hi))
    return v


def number(v, field, lo, hi=math.inf, lo_open=False):
    if not (is_int(v) or isinstance(v, float)):
        fail(field, "a number")
    v = float(v)
    if not math.isfinite(v) or (v <= lo if lo_open else v < lo) or v > hi:
        fail(field, "a finite number in range")
    return v


def time(v, field):
    """RFC 3339: the protocol's canonical form is checked for good vectors."""
    import datetime
    if not isinstance(v, str):
        fail(field, "an RFC 3339 time")
    try:
        datetime.datetime.fromisoformat(v.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        fail(field, "an RFC 3339 time")
    return v


def boolean(v, field):
    if not isinstance(v, bool):
        fail(field, "a bool")
    return v


def array(v, field, lo=0, hi=2 ** 32 - 1):
    if not isinstance(v, list) or not lo <= len(v) <= hi:
        fail(field, "an array of %d..%d" % (lo, hi))
    return v


def meta(v, field, most):
    if not isinstance(v, dict) or len(v) > most:
        fail(field, "a map of at most %d entries" % most)
    for key in v:
        text(key, field + " key", 0, LIMITS["META_KEY_MAX"])
    return v


def body_map(v):
    if v is None:
        return Map()
    if not isinstance(v, dict):
        raise Refused("INVALID_ARGUMENT", "body must be a map")
    return v


def get(body, key, check, *args, required=False):
    """A field: nil or absent counts as absent."""
    v = body.get(key)
    if v is None:
        if required:
            raise Refused("INVALID_ARGUMENT", "field %r is required" % key)
        return None
    return check(v, key, *args)


# ---------------------------------------------------------------------------
# Requests

def request_header(h):
    if not isinstance(h, list) or len(h) < 3 or h[0] != "WPQ" or not is_int(h[2]) or h[2] < 0:
        raise Refused("INVALID_ARGUMENT", "not a request header", replyable=False)
    if is_int(h[1]) and h[1] != 1:
        raise Refused("UNIMPLEMENTED", "unsupported protocol version %d" % h[1])
    if not is_int(h[1]):
        raise Refused("INVALID_ARGUMENT", "version must be a uint")
    if len(h) != 6:
        raise Refused("INVALID_ARGUMENT", "header must have 6 elements")
    name(h[3], "method")
    uint(h[4], "timeout_ms", 0, 2 ** 32 - 1)
    if h[5] is not None:
        if not isinstance(h[5], dict) or len(h[5]) > LIMITS["META_MAX"]:
            raise Refused("INVALID_ARGUMENT", "header metadata")
        for key, value in h[5].items():
            name(key, "metadata key")
            text(value, "metadata value", 0, LIMITS["META_VALUE_MAX"])
    if h[3] not in METHODS:
        raise Refused("UNIMPLEMENTED", "unknown method %r" % h[3])
    return h[3]


def push_entry(body, prefix=""):
    get(body, "data", lambda v, f: binary(v, prefix + f, True), required=True)
    get(body, "id", lambda v, f: name(v, prefix + f))
    get(body, "max_retries", lambda v, f: integer(v, prefix + f, 0, LIMITS["MAX_RETRIES_MAX"]))
    get(body, "delay_seconds", lambda v, f: number(v, prefix + f, 0, DELAY_MAX))
    get(body, "run_at", lambda v, f: time(v, prefix + f))
    get(body, "priority", lambda v, f: integer(v, prefix + f, *INT32))
    get(body, "unique_key", lambda v, f: name(v, prefix + f))


def schedule_name(v, field):
    return text(v, field, 1, LIMITS["SCHEDULE_NAME_MAX"])


def wait_lease(body):
    get(body, "wait_seconds", number, 0, LIMITS["WAIT_MAX"])
    get(body, "lease_seconds", number, 0, LIMITS["LEASE_MAX"], True)


def item_statuses(body, most, purge=False):
    """List's and Purge's status: a state name or 1..most distinct ones."""
    status = get(body, "status", lambda v, f: v, required=purge)
    if status is None:
        return
    names = status if isinstance(status, list) else [status]
    if isinstance(status, list):
        array(status, "status", 1, most)
    for s in names:
        name(s, "status")
        if s not in ITEM_STATES:
            raise Refused("INVALID_ARGUMENT", "status: %r is not an item status" % s)
        if purge and s == "claimed":
            raise Refused("INVALID_ARGUMENT", "status: claimed items cannot be purged")
    if len(set(names)) != len(names):
        raise Refused("INVALID_ARGUMENT", "status: a status given twice")


def request_body(method, body):
    body = body_map(body)
    R = dict(required=True)
    if method == "WorkPool.Push":
        get(body, "pool", name, **R)
        push_entry(body)
    elif method == "WorkPool.PushMany":
        get(body, "pool", name, **R)
        items = get(body, "items", array, 1, BATCH_MAX, **R)
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                fail("items[%d]" % i, "a map")
            push_entry(item, "items[%d]." % i)
    elif method in ("WorkPool.Claim", "WorkPool.ClaimMany"):
        get(body, "pool", name, **R)
        get(body, "worker_id", name, **R)
        if method == "WorkPool.ClaimMany":
            get(body, "max", uint, 1, BATCH_MAX, **R)
        wait_lease(body)
    elif method in ("WorkPool.Complete", "WorkPool.Fail"):
        get(body, "pool", name, **R)
        get(body, "id", name, **R)
        if method == "WorkPool.Complete":
            get(body, "result", binary, True)
        else:
            get(body, "error", text, 0, LIMITS["ERROR_MAX"])
        get(body, "worker_id", name)
        if method == "WorkPool.Fail":
            get(body, "retry_after_seconds", number, 0, DELAY_MAX)
    elif method == "WorkPool.CompleteMany":
        get(body, "pool", name, **R)
        get(body, "worker_id", name)
        items = get(body, "items", array, 1, BATCH_MAX, **R)
        for i, entry in enumerate(items):
            if not isinstance(entry, dict):
                fail("items[%d]" % i, "a map")
            get(entry, "id", lambda v, f: name(v, "items[%d].%s" % (i, f)), required=True)
            get(entry, "result", lambda v, f: binary(v, "items[%d].%s" % (i, f), True))
    elif method == "WorkPool.CompleteAndClaim":
        get(body, "pool", name, **R)
        get(body, "id", name, **R)
        get(body, "worker_id", name, **R)
        get(body, "result", binary, True)
        wait_lease(body)
    elif method in ("WorkPool.Size", "WorkPool.Pause", "WorkPool.Resume"):
        get(body, "pool", name, **R)
    elif method == "WorkPool.List":
        get(body, "pool", name, **R)
        item_statuses(body, len(ITEM_STATES))
        get(body, "limit", uint, 1, LIST_MAX)
        get(body, "cursor", text, 1, CURSOR_MAX)
    elif method == "WorkPool.Retry":
        get(body, "pool", name, **R)
        by_id = get(body, "id", name) is not None
        every = get(body, "all", boolean) is True
        if by_id and every:
            raise Refused("INVALID_ARGUMENT", "give id or all: true, not both")
        if not by_id and not every:
            raise Refused("INVALID_ARGUMENT", "id or all: true is required")
    elif method == "WorkPool.Cancel":
        get(body, "pool", name, **R)
        get(body, "id", name, **R)
    elif method == "WorkPool.Purge":
        get(body, "pool", name, **R)
        item_statuses(body, len(ITEM_STATES) - 1, purge=True)
    elif method == "WorkPool.ReleaseByWorker":
        get(body, "pool", name, **R)
        get(body, "worker_id", name, **R)
    elif method == "WorkPool.Get":
        get(body, "pool", name, **R)
        get(body, "id", name, **R)
    elif method == "WorkPool.Renew":
        get(body, "worker_id", name, **R)
        get(body, "lease_seconds", number, 0, LIMITS["LEASE_MAX"], True)
    elif method == "Registry.Register":
        get(body, "worker_id", name, **R)
        get(body, "host", text, 0, LIMITS["HOST_MAX"])
        get(body, "pid", integer, 0, 2 ** 63 - 1)
        for cap in get(body, "capabilities", array, 0, LIMITS["CAPABILITIES_MAX"]) or []:
            name(cap, "capabilities[]")
        get(body, "pool_id", name)
        get(body, "started_at", time)
        get(body, "heartbeat_interval_seconds", number, 0, LIMITS["HEARTBEAT_MAX"], True)
        get(body, "metadata", meta, LIMITS["META_MAX"])
    elif method == "WorkPool.SetBackoff":
        get(body, "pool", name, **R)
        get(body, "base_seconds", number, 0, DELAY_MAX, **R)
        get(body, "cap_seconds", number, 0, DELAY_MAX)
        get(body, "jitter", number, 0, 1)
    elif method == "Schedule.Add":
        get(body, "name", schedule_name, **R)
        get(body, "pool", name, **R)
        get(body, "cron", text, 0, LIMITS["CRON_MAX"], **R)
        get(body, "data", binary, True, **R)
        get(body, "priority", integer, *INT32)
        get(body, "max_retries", integer, 0, LIMITS["MAX_RETRIES_MAX"])
    elif method == "Schedule.Remove":
        get(body, "name", schedule_name, **R)
    elif method == "WorkPool.Subscribe":
        get(body, "pool", name, **R)
        get(body, "worker_id", name, **R)
        get(body, "credit", integer, 1, LIMITS["CREDIT_MAX"], **R)
        get(body, "lease_seconds", number, 0, LIMITS["LEASE_MAX"], True)
    elif method == "WorkPool.Unsubscribe":
        get(body, "pool", name, **R)
        get(body, "worker_id", name, **R)
    elif method == "Registry.Heartbeat":
        get(body, "worker_id", name, **R)
        get(body, "metadata", meta, LIMITS["META_MAX"])
    elif method == "Registry.UpdateStatus":
        get(body, "worker_id", name, **R)
        get(body, "status", name, **R)
    elif method == "Registry.Get":
        get(body, "worker_id", name, **R)
    elif method == "Registry.List":
        status = body.get("status")
        if isinstance(status, list):
            array(status, "status", 0, LIMITS["STATUSES_MAX"])
            for s in status:
                name(s, "status[]")
        elif status is not None:
            name(status, "status")
        get(body, "capability", name)
        get(body, "pool_id", name)
        get(body, "stale_threshold_seconds", number, 0)
    return body


# ---------------------------------------------------------------------------
# Replies

ITEM_FIELDS = ["id", "pool", "data", "status", "claimed_by", "claimed_at", "lease_expires_at",
               "attempts", "max_retries", "result", "error", "created_at", "priority", "run_at",
               "unique_key"]
SCHEDULE_FIELDS = ["name", "pool", "cron", "data", "priority", "max_retries", "next_at",
                   "last_fired_at", "created_at"]
WORKER_FIELDS = ["worker_id", "host", "pid", "capabilities", "pool_id", "started_at", "status",
                 "last_heartbeat", "current_task_id", "heartbeat_interval_seconds", "metadata"]


def item(v, field):
    if not isinstance(v, dict):
        fail(field, "an Item map")
    if list(v.keys()) != ITEM_FIELDS:
        fail(field, "the 15 Item fields in order")
    name(v["id"], "id")
    name(v["pool"], "pool")
    binary(v["data"], "data")
    if v["status"] not in ITEM_STATES:
        fail("status", "an item state")
    get(v, "claimed_by", name)
    get(v, "claimed_at", time)
    get(v, "lease_expires_at", time)
    uint(v["attempts"], "attempts", 0, 2 ** 32 - 1)
    uint(v["max_retries"], "max_retries", 0, 2 ** 32 - 1)
    get(v, "result", binary)
    get(v, "error", text, 0, LIMITS["ERROR_MAX"])
    time(v["created_at"], "created_at")
    integer(v["priority"], "priority", *INT32)
    get(v, "run_at", time)
    get(v, "unique_key", name)
    return v


def schedule(v, field):
    if not isinstance(v, dict):
        fail(field, "a Schedule map")
    if list(v.keys()) != SCHEDULE_FIELDS:
        fail(field, "the 9 Schedule fields in order")
    schedule_name(v["name"], "name")
    name(v["pool"], "pool")
    text(v["cron"], "cron", 1, LIMITS["CRON_MAX"])
    binary(v["data"], "data", True)
    integer(v["priority"], "priority", *INT32)
    get(v, "max_retries", integer, 0, LIMITS["MAX_RETRIES_MAX"])
    get(v, "next_at", time)
    get(v, "last_fired_at", time)
    time(v["created_at"], "created_at")
    return v


def worker(v, field):
    if not isinstance(v, dict):
        fail(field, "a Worker map")
    if list(v.keys()) != WORKER_FIELDS:
        fail(field, "the 11 Worker fields in order")
    name(v["worker_id"], "worker_id")
    get(v, "host", text, 0, LIMITS["HOST_MAX"])
    get(v, "pid", integer, 0, 2 ** 63 - 1)
    for cap in array(v["capabilities"], "capabilities"):
        name(cap, "capabilities[]")
    get(v, "pool_id", name)
    time(v["started_at"], "started_at")
    name(v["status"], "status")
    time(v["last_heartbeat"], "last_heartbeat")
    get(v, "current_task_id", name)
    if not isinstance(v["heartbeat_interval_seconds"], float):
        fail("heartbeat_interval_seconds", "a float 64")
    meta(v["metadata"], "metadata", 2 ** 32)
    return v


def reply_header(h):
    if not isinstance(h, list) or len(h) != 5 or h[0] != "WPR" or h[1] != 1:
        raise Refused("INVALID_ARGUMENT", "not a reply header")
    uint(h[2], "request_id")
    uint(h[3], "status", 0, 16)
    text(h[4], "message", 0, LIMITS["MESSAGE_TEXT_MAX"])
    if (h[3] == 0) != (h[4] == ""):
        raise Refused("INVALID_ARGUMENT", "message must be empty exactly on OK")
    return h[3]


def exact_keys(body, keys):
    if list(body.keys()) != keys:
        raise Refused("INVALID_ARGUMENT", "reply keys %s, expected %s" % (list(body), keys))


def reply_body(method, body):
    body = body_map(body)
    R = dict(required=True)
    if method == "WorkPool.Push":
        exact_keys(body, ["id", "duplicate"])
        get(body, "id", name, **R)
        get(body, "duplicate", boolean, **R)
    elif method == "WorkPool.PushMany":
        exact_keys(body, ["ids", "duplicates"])
        ids = get(body, "ids", array, 1, BATCH_MAX, **R)
        dups = get(body, "duplicates", array, 1, BATCH_MAX, **R)
        if len(ids) != len(dups):
            fail("duplicates", "as long as ids")
        for i in ids:
            name(i, "ids[]")
        for d in dups:
            boolean(d, "duplicates[]")
    elif method == "WorkPool.CompleteMany":
        exact_keys(body, ["statuses", "messages"])
        statuses = get(body, "statuses", array, 1, BATCH_MAX, **R)
        messages = get(body, "messages", array, 1, BATCH_MAX, **R)
        if len(statuses) != len(messages):
            fail("messages", "as long as statuses")
        for s in statuses:
            uint(s, "statuses[]", 0, len(STATUS) - 1)
        for m in messages:
            text(m, "messages[]", 0, LIMITS["MESSAGE_TEXT_MAX"])
    elif method in ("WorkPool.Claim", "WorkPool.CompleteAndClaim", "WorkPool.Get"):
        exact_keys(body, ["item"])
        get(body, "item", item, required=method == "WorkPool.Get")
    elif method == "WorkPool.ClaimMany":
        exact_keys(body, ["items"])
        for i, it in enumerate(get(body, "items", array, 0, BATCH_MAX, **R)):
            item(it, "items[%d]" % i)
    elif method == "WorkPool.Subscribe":
        end = body.get("end")
        exact_keys(body, ["items", "end"] if end is not None else ["items"])
        if end is not None and end is not True:
            fail("end", "true when present")
        for i, it in enumerate(get(body, "items", array, 0, LIMITS["CREDIT_MAX"], **R)):
            item(it, "items[%d]" % i)
    elif method == "WorkPool.List":
        exact_keys(body, ["items", "cursor"])
        for i, it in enumerate(get(body, "items", array, 0, LIST_MAX, **R)):
            item(it, "items[%d]" % i)
        get(body, "cursor", text, 1, CURSOR_MAX)
    elif method in ("WorkPool.Complete", "Registry.Heartbeat", "Registry.UpdateStatus",
                    "WorkPool.Cancel", "WorkPool.Pause", "WorkPool.Resume",
                    "WorkPool.SetBackoff", "Schedule.Remove", "WorkPool.Unsubscribe"):
        exact_keys(body, [])
    elif method == "WorkPool.Fail":
        exact_keys(body, ["status"])
        if body["status"] not in ("pending", "scheduled", "poisoned"):
            fail("status", "pending, scheduled or poisoned")
    elif method == "Schedule.Add":
        exact_keys(body, ["schedule"])
        get(body, "schedule", schedule, **R)
    elif method == "Schedule.List":
        exact_keys(body, ["schedules"])
        names = [schedule(s, "schedules[%d]" % i)["name"]
                 for i, s in enumerate(get(body, "schedules", array, **R))]
        if names != sorted(names, key=lambda n: n.encode("utf-8")):
            fail("schedules", "in order of name")
    elif method in ("WorkPool.Size", "WorkPool.ReleaseByWorker", "WorkPool.Renew",
                    "WorkPool.Retry", "WorkPool.Purge"):
        key = {"WorkPool.Size": "size", "WorkPool.ReleaseByWorker": "released",
               "WorkPool.Renew": "renewed", "WorkPool.Retry": "retried",
               "WorkPool.Purge": "purged"}[method]
        exact_keys(body, [key])
        get(body, key, uint, **R)
    elif method in ("Registry.Register", "Registry.Get"):
        exact_keys(body, ["worker"])
        get(body, "worker", worker, required=method == "Registry.Register")
    elif method == "Registry.List":
        exact_keys(body, ["workers"])
        for i, w in enumerate(get(body, "workers", array, **R)):
            worker(w, "workers[%d]" % i)
    elif method == "Broker.Stats":
        exact_keys(body, ["pools", "workers", "counters"])
        for p in array(body["pools"], "pools"):
            keys = ["pool", "pending", "claimed", "done", "poisoned", "paused", "scheduled",
                    "backoff_base_seconds", "backoff_cap_seconds", "backoff_jitter"]
            if not isinstance(p, dict) or list(p) != keys:
                fail("pools[]", "a pool count map")
            name(p["pool"], "pool")
            for k in ("pending", "claimed", "done", "poisoned", "scheduled"):
                uint(p[k], k)
            boolean(p["paused"], "paused")
            number(p["backoff_base_seconds"], "backoff_base_seconds", 0, DELAY_MAX)
            number(p["backoff_cap_seconds"], "backoff_cap_seconds", 0, DELAY_MAX)
            number(p["backoff_jitter"], "backoff_jitter", 0, 1)
        for section in ("workers", "counters"):
            if not isinstance(body[section], dict):
                fail(section, "a map")
            for k, v in body[section].items():
                name(k, section + " key")
                uint(v, section + " value")
    elif method == "Broker.Ping":
        exact_keys(body, ["version", "server", "time", "max_message"])
        uint(body["version"], "version", 1, 1)
        text(body["server"], "server", 0, LIMITS["SERVER_MAX"])
        time(body["time"], "time")
        uint(body["max_message"], "max_message")
    else:
        raise Refused("INVALID_ARGUMENT", "unknown method %r" % method)


# ---------------------------------------------------------------------------

def load(path):
    fields = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            key, _, value = line.partition(" ")
            fields[key] = value
    fields["header"] = bytes.fromhex(fields["header"])
    fields["body"] = bytes.fromhex(fields["body"])
    return fields


def canonical(frame):
    """Re-packs a frame with Python's msgpack: canonical bytes come back."""
    value = msgpack.unpackb(frame, raw=False)
    return msgpack.packb(value, use_bin_type=True) == frame


CANONICAL_TIME = __import__("re").compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def times_canonical(value, key=None):
    """Every time field of a good vector is in the canonical form."""
    if isinstance(value, dict):
        return all(times_canonical(v, k) for k, v in value.items())
    if isinstance(value, list):
        return all(times_canonical(v, key) for v in value)
    if key in ("started_at", "claimed_at", "lease_expires_at", "created_at", "last_heartbeat", "time",
               "run_at", "next_at", "last_fired_at") \
            and value is not None:
        return isinstance(value, str) and bool(CANONICAL_TIME.match(value))
    return True


def check(name_, v):
    """Returns a list of problems with one vector."""
    problems = []
    kind, method = v.get("kind"), v.get("method")
    expect = v.get("expect")
    if kind == "request":
        try:
            stage = "header"
            try:
                header = unpack(v["header"])
            except Refused as refused:
                refused.replyable = False       # no request id can be trusted
                raise
            got = request_header(header)
            if got != method:
                problems.append("header method %r, file says %r" % (got, method))
            stage = "body"
            request_body(got, unpack(v["body"]))
            if expect:
                problems.append("accepted, but expected %s" % expect)
        except Refused as refused:
            if not expect:
                problems.append("refused at the %s: %s" % (stage, refused))
            else:
                if refused.status != expect:
                    problems.append("%s at the %s (%s), expected %s" % (refused.status, stage, refused, expect))
                if stage != v.get("stage"):
                    problems.append("refused at the %s, expected the %s" % (stage, v.get("stage")))
                if refused.replyable != (v.get("replyable") == "yes"):
                    problems.append("replyable %s, expected %s" % (refused.replyable, v.get("replyable")))
    elif kind == "reply":
        try:
            status = reply_header(unpack(v["header"]))
            body = unpack(v["body"])
            if status == 0:
                reply_body(method, body)
            elif body != {}:
                problems.append("error reply with a non-empty body")
            if name_.startswith("error.") != (status != 0):
                problems.append("status %s in %s" % (STATUS[status], name_))
        except Refused as refused:
            problems.append("refused: %s" % refused)
    else:
        problems.append("kind %r" % kind)
    if not expect and not problems:
        for frame in ("header", "body"):
            if not canonical(v[frame]):
                problems.append("the %s does not re-pack to the same bytes" % frame)
            if not times_canonical(msgpack.unpackb(v[frame], raw=False)):
                problems.append("a time in the %s is not canonical" % frame)
    return problems


def limits_documented(protocol):
    """Problems where PROTOCOL.md's bound list (rows "| `WP_X` | value |")
    and wp_limits.h disagree, or a limit is missing from the list."""
    problems = []
    with open(protocol) as f:
        rows = dict(re.findall(r"^\| `WP_(\w+)` \| ([^|]+?) \|", f.read(), re.M))
    for key, value in LIMITS.items():
        if key not in rows:
            problems.append("PROTOCOL.md: WP_%s is not in the bound list" % key)
            continue
        text_ = rows[key].replace(" ", "").replace(",", "")
        try:
            documented = float(text_)
        except ValueError:
            problems.append("PROTOCOL.md: WP_%s is %r, not a number" % (key, rows[key]))
            continue
        if documented != float(value):
            problems.append("PROTOCOL.md: WP_%s is %s, wp_limits.h says %s" % (key, rows[key], value))
    return problems


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else \
        os.path.join(os.environ.get("WP_SOURCE_DIR", "."), "proto", "vectors")
    names = sorted(n for n in os.listdir(directory) if n.endswith(".hex"))
    failures = 0
    for problem in limits_documented(os.path.join(PROTO_DIR, "PROTOCOL.md")):
        print(problem)
        failures += 1
    for name_ in names:
        v = load(os.path.join(directory, name_))
        for problem in check(name_, v):
            print("%s: %s" % (name_, problem))
            failures += 1
    for method in METHODS:
        for kind in ("request", "reply"):
            if not os.path.exists(os.path.join(directory, "%s.%s.hex" % (method, kind))):
                print("%s: no %s vector" % (method, kind))
                failures += 1
    if failures or not names:
        print("check_vectors: %d problems in %d vectors" % (failures, len(names)))
        return 1
    print("check_vectors: %d vectors read by Python msgpack %s and match the protocol"
          % (len(names), ".".join(map(str, msgpack.version))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
