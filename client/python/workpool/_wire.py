"""The wire format of proto/PROTOCOL.md: the two headers, the canonical
request body of every method, user values to and from msgpack, and times.

Nothing here touches a socket; the clients (client.py, aio.py) send what
this builds and hand back what it decodes.
"""
import datetime
import math

import msgpack

from .errors import InvalidArgument, Internal

VERSION = 1
REQUEST_SIG = "WPQ"
REPLY_SIG = "WPR"

#  Request fields of each method, in the canonical order (PROTOCOL.md
#  section 5), each (name, default): a field equal to its default, or None,
#  is left out, so what we send is the canonical form the vectors hold.
_NONE = object()        # no default: only None is left out

#  Bounds a client needs before sending (proto/wp_limits.h has them all)
WAIT_MAX = 3600.0
LEASE_MAX = 604800.0            # WP_LEASE_MAX
BATCH_MAX = 1000
CREDIT_MAX = 1000               # WP_CREDIT_MAX: credit of one WorkPool.Subscribe
LIST_MAX = 1000
DELAY_MAX = 31622400.0          # WP_DELAY_MAX: delays, retry_after, backoff base and cap
SCHEDULE_NAME_MAX = 200         # WP_SCHEDULE_NAME_MAX
CRON_MAX = 255                  # WP_CRON_MAX
NAME_MAX = 255                  # WP_NAME_MAX
INT32_MIN, INT32_MAX = -2 ** 31, 2 ** 31 - 1
#  What Push and each PushMany entry add after max_retries (issue 15)
_SCHEDULING = (("delay_seconds", 0), ("run_at", _NONE), ("priority", 0), ("unique_key", _NONE))
#  One PushMany entry (max_retries sent whenever given, as before)
ENTRY_FIELDS = (("data", _NONE), ("id", _NONE), ("max_retries", _NONE)) + _SCHEDULING
REQUEST_FIELDS = {
    "WorkPool.Push": (("pool", _NONE), ("data", _NONE), ("id", _NONE), ("max_retries", 3))
    + _SCHEDULING,
    "WorkPool.PushMany": (("pool", _NONE), ("items", _NONE)),
    "WorkPool.Claim": (("pool", _NONE), ("worker_id", _NONE), ("wait_seconds", 0),
                       ("lease_seconds", _NONE)),
    "WorkPool.ClaimMany": (("pool", _NONE), ("worker_id", _NONE), ("max", _NONE),
                           ("wait_seconds", 0), ("lease_seconds", _NONE)),
    "WorkPool.Complete": (("pool", _NONE), ("id", _NONE), ("result", _NONE),
                          ("worker_id", _NONE)),
    "WorkPool.Fail": (("pool", _NONE), ("id", _NONE), ("error", _NONE), ("worker_id", _NONE),
                      ("retry_after_seconds", 0)),
    "WorkPool.CompleteAndClaim": (("pool", _NONE), ("id", _NONE), ("worker_id", _NONE),
                                  ("result", _NONE), ("wait_seconds", 0),
                                  ("lease_seconds", _NONE)),
    "WorkPool.CompleteMany": (("pool", _NONE), ("worker_id", _NONE), ("items", _NONE)),
    "WorkPool.Subscribe": (("pool", _NONE), ("worker_id", _NONE), ("credit", _NONE),
                           ("lease_seconds", _NONE)),
    "WorkPool.Unsubscribe": (("pool", _NONE), ("worker_id", _NONE)),
    "WorkPool.Size": (("pool", _NONE),),
    "WorkPool.ReleaseByWorker": (("pool", _NONE), ("worker_id", _NONE)),
    "WorkPool.Get": (("pool", _NONE), ("id", _NONE)),
    "WorkPool.Renew": (("worker_id", _NONE), ("lease_seconds", _NONE)),
    "WorkPool.List": (("pool", _NONE), ("status", ()), ("limit", 0), ("cursor", _NONE)),
    "WorkPool.Retry": (("pool", _NONE), ("id", _NONE), ("all", False)),
    "WorkPool.Cancel": (("pool", _NONE), ("id", _NONE)),
    "WorkPool.Purge": (("pool", _NONE), ("status", _NONE)),
    "WorkPool.Pause": (("pool", _NONE),),
    "WorkPool.Resume": (("pool", _NONE),),
    "WorkPool.SetBackoff": (("pool", _NONE), ("base_seconds", _NONE), ("cap_seconds", _NONE),
                            ("jitter", 0)),
    "Schedule.Add": (("name", _NONE), ("pool", _NONE), ("cron", _NONE), ("data", _NONE),
                     ("priority", 0), ("max_retries", _NONE)),
    "Schedule.List": (),
    "Schedule.Remove": (("name", _NONE),),
    "Registry.Register": (("worker_id", _NONE), ("host", _NONE), ("pid", _NONE),
                          ("capabilities", ()), ("pool_id", _NONE), ("started_at", _NONE),
                          ("heartbeat_interval_seconds", _NONE), ("metadata", {})),
    "Registry.Heartbeat": (("worker_id", _NONE), ("metadata", {})),
    "Registry.UpdateStatus": (("worker_id", _NONE), ("status", _NONE)),
    "Registry.Get": (("worker_id", _NONE),),
    "Registry.List": (("status", ()), ("capability", _NONE), ("pool_id", _NONE),
                      ("stale_threshold_seconds", _NONE)),
    "Broker.Stats": (),
    "Broker.Ping": (),
}

#  Fields of type number: sent as float 64, the canonical form
_NUMBERS = frozenset(("wait_seconds", "lease_seconds", "heartbeat_interval_seconds",
                      "stale_threshold_seconds", "delay_seconds", "retry_after_seconds",
                      "base_seconds", "cap_seconds", "jitter"))


def _is_default(value, default):
    if value is None:
        return True
    if default is _NONE:
        return False
    if isinstance(default, (tuple, dict)):
        return len(value) == 0
    if isinstance(default, bool):
        return value is default
    return not isinstance(value, bool) and value == default


def request_body(method, fields):
    """The canonical body map of method from fields (a dict; unknown keys
    are an error of ours, not the caller's)."""
    return canonical(REQUEST_FIELDS[method], fields)


def canonical(table, fields):
    """The map of fields in table's order, defaults left out, numbers as
    floats (a request body, or one PushMany entry)."""
    body = {}
    for name, default in table:
        value = fields.get(name)
        if _is_default(value, default):
            continue
        if name in _NUMBERS and not isinstance(value, bool) and isinstance(value, int):
            value = float(value)
        if isinstance(value, tuple):
            value = list(value)
        body[name] = value
    return body


def pack(value):
    """msgpack bytes of a wire value (str as str, bytes as bin)."""
    return msgpack.packb(value, use_bin_type=True)


def unpack(data):
    """Decodes exactly one msgpack value; raises ValueError on anything else."""
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


def encode_request(request_id, method, body, timeout_ms=0, metadata=None):
    """The two frames of a request."""
    header = pack([REQUEST_SIG, VERSION, request_id, method, timeout_ms,
                   {} if metadata is None else metadata])
    return header, pack(body)


def decode_reply_header(frame):
    """(request_id, status, message) of a reply header; ValueError if the
    frame is not one."""
    head = unpack(frame)
    if not (isinstance(head, list) and len(head) == 5 and head[0] == REPLY_SIG
            and head[1] == VERSION and isinstance(head[2], int) and isinstance(head[3], int)
            and isinstance(head[4], str)):
        raise ValueError("not a workpool reply header: %r" % (head,))
    return head[2], head[3], head[4]


def decode_reply_body(frame, method):
    body = unpack(frame)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise Internal("malformed reply to %s: the body is not a map" % method)
    return body


# ---------------------------------------------------------------------------
#  User values. data and result travel as bin holding the msgpack encoding
#  of the user's value; the broker never decodes them.

class Raw:
    """Bytes that are already one msgpack value (sent as they are), or bytes
    read back that are not exactly one msgpack value (data another client
    pushed as it liked). Compares by its bytes."""
    __slots__ = ("data",)

    def __init__(self, data):
        self.data = bytes(data)

    def __eq__(self, other):
        return isinstance(other, Raw) and other.data == self.data

    def __hash__(self):
        return hash(self.data)

    def __repr__(self):
        return "Raw(%r)" % (self.data,)


def encode_value(value):
    """The msgpack bytes a user value travels as (Raw: its bytes)."""
    if isinstance(value, Raw):
        if not value.data:
            raise InvalidArgument("data must not be empty")
        return value.data
    try:
        return pack(value)
    except (TypeError, ValueError, OverflowError) as e:
        raise InvalidArgument("value cannot be encoded as msgpack: %s" % e) from None


def decode_value(data):
    """The user value of msgpack bytes; None for None; Raw if the bytes are
    not exactly one msgpack value Python can hold (invalid UTF-8 in a str,
    a map key that is a list)."""
    if data is None:
        return None
    try:
        return unpack(data)
    except Exception:
        return Raw(data)


# ---------------------------------------------------------------------------
#  Times: RFC 3339 UTC with microseconds on the wire, aware datetimes here

def parse_time(text):
    """A wire time as an aware UTC datetime; None stays None."""
    if text is None:
        return None
    try:
        t = datetime.datetime.fromisoformat(text.replace("z", "Z").replace("t", "T")
                                            .replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        raise Internal("malformed time %r from the broker" % (text,)) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.timezone.utc)
    return t.astimezone(datetime.timezone.utc)


def format_time(value):
    """A datetime (naive means UTC) or an RFC 3339 string as the wire's form."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    value = value.astimezone(datetime.timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def check_int(name, value, low, high):
    """Checks an integer field before it is sent, with the decoder's words."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidArgument("field '%s' must be an integer from %d to %d" % (name, low, high))
    return value


def check_name(name, value, high, low=1):
    """Checks a string field of low..high bytes of UTF-8 without NUL, with
    the decoder's words."""
    if value is None:
        return None
    try:
        size = len(value.encode("utf-8")) if isinstance(value, str) else -1
    except UnicodeEncodeError:
        size = -1
    if not low <= size <= high or "\0" in value:
        bounds = "of %d to %d" % (low, high) if low > 0 else "of at most %d" % high
        raise InvalidArgument("field '%s' must be a string %s bytes of UTF-8 without NUL"
                              % (name, bounds))
    return value


def check_seconds(name, value, low, high, low_open=False):
    """Checks a number of seconds before it is sent, with the broker's words."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) \
            or value > high or value < low or (low_open and value == low):
        raise InvalidArgument("field '%s' must be a finite number %s %g and at most %g"
                              % (name, "greater than" if low_open else "of at least",
                                 low, high))
    return float(value)
