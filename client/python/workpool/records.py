"""The records of the protocol (PROTOCOL.md section 4.4) as dataclasses.

Field names and order are the wire's. Times are aware UTC datetimes;
data and result are the user's values (decoded from their msgpack bytes;
workpool.Raw when the bytes are not one msgpack value). to_wire() gives
back the wire map, byte for byte what the broker sent.
"""
from dataclasses import dataclass, field
import datetime
from typing import Any, Dict, List, NamedTuple, Optional

from . import _wire


@dataclass
class Item:
    """A work item, as Get, Claim and List return it."""
    id: str
    pool: str
    data: Any
    status: str                                     # pending, scheduled, claimed, done, poisoned
    claimed_by: Optional[str] = None
    claimed_at: Optional[datetime.datetime] = None
    lease_expires_at: Optional[datetime.datetime] = None
    attempts: int = 0                               # failed attempts so far
    max_retries: int = 3
    result: Any = None
    error: Optional[str] = None
    created_at: Optional[datetime.datetime] = None
    priority: int = 0                               # lower is claimed first
    run_at: Optional[datetime.datetime] = None      # scheduled: when it becomes pending
    unique_key: Optional[str] = None
    #  The bytes data and result came as (None for no result)
    data_bytes: bytes = field(default=b"", repr=False, compare=False)
    result_bytes: Optional[bytes] = field(default=None, repr=False, compare=False)

    @classmethod
    def from_wire(cls, m):
        return cls(id=m["id"], pool=m["pool"], data=_wire.decode_value(m["data"]),
                   status=m["status"], claimed_by=m.get("claimed_by"),
                   claimed_at=_wire.parse_time(m.get("claimed_at")),
                   lease_expires_at=_wire.parse_time(m.get("lease_expires_at")),
                   attempts=m.get("attempts", 0), max_retries=m.get("max_retries", 3),
                   result=_wire.decode_value(m.get("result")), error=m.get("error"),
                   created_at=_wire.parse_time(m.get("created_at")),
                   priority=m.get("priority", 0), run_at=_wire.parse_time(m.get("run_at")),
                   unique_key=m.get("unique_key"),
                   data_bytes=m["data"], result_bytes=m.get("result"))

    def to_wire(self):
        return {"id": self.id, "pool": self.pool, "data": self.data_bytes, "status": self.status,
                "claimed_by": self.claimed_by, "claimed_at": _wire.format_time(self.claimed_at),
                "lease_expires_at": _wire.format_time(self.lease_expires_at),
                "attempts": self.attempts, "max_retries": self.max_retries,
                "result": self.result_bytes, "error": self.error,
                "created_at": _wire.format_time(self.created_at), "priority": self.priority,
                "run_at": _wire.format_time(self.run_at), "unique_key": self.unique_key}


@dataclass
class WorkerRecord:
    """A registered worker."""
    worker_id: str
    host: Optional[str] = None
    pid: Optional[int] = None
    capabilities: List[str] = field(default_factory=list)
    pool_id: Optional[str] = None
    started_at: Optional[datetime.datetime] = None
    status: str = "active"                  # active, terminating, terminated, lost, ...
    last_heartbeat: Optional[datetime.datetime] = None
    current_task_id: Optional[str] = None
    heartbeat_interval_seconds: float = 10.0
    metadata: Dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, m):
        return cls(worker_id=m["worker_id"], host=m.get("host"), pid=m.get("pid"),
                   capabilities=list(m.get("capabilities") or []), pool_id=m.get("pool_id"),
                   started_at=_wire.parse_time(m.get("started_at")), status=m["status"],
                   last_heartbeat=_wire.parse_time(m.get("last_heartbeat")),
                   current_task_id=m.get("current_task_id"),
                   heartbeat_interval_seconds=m.get("heartbeat_interval_seconds", 10.0),
                   metadata=dict(m.get("metadata") or {}))

    def to_wire(self):
        return {"worker_id": self.worker_id, "host": self.host, "pid": self.pid,
                "capabilities": list(self.capabilities), "pool_id": self.pool_id,
                "started_at": _wire.format_time(self.started_at), "status": self.status,
                "last_heartbeat": _wire.format_time(self.last_heartbeat),
                "current_task_id": self.current_task_id,
                "heartbeat_interval_seconds": float(self.heartbeat_interval_seconds),
                "metadata": dict(self.metadata)}


@dataclass
class PoolStats:
    """Items of one pool by state; paused says claims on it find nothing;
    the backoff fields are its retry policy (set_backoff; 0: none)."""
    pool: str
    pending: int = 0
    claimed: int = 0
    done: int = 0
    poisoned: int = 0
    paused: bool = False
    scheduled: int = 0
    backoff_base_seconds: float = 0.0
    backoff_cap_seconds: float = 0.0
    backoff_jitter: float = 0.0

    #  Fields a broker from before scheduling does not send (read as 0)
    _SCHEDULING = ("scheduled", "backoff_base_seconds", "backoff_cap_seconds", "backoff_jitter")

    @classmethod
    def from_wire(cls, m):
        return cls(pool=m["pool"], pending=m.get("pending", 0), claimed=m.get("claimed", 0),
                   done=m.get("done", 0), poisoned=m.get("poisoned", 0),
                   paused=bool(m.get("paused", False)), scheduled=m.get("scheduled", 0),
                   backoff_base_seconds=m.get("backoff_base_seconds", 0.0),
                   backoff_cap_seconds=m.get("backoff_cap_seconds", 0.0),
                   backoff_jitter=m.get("backoff_jitter", 0.0))

    def to_wire(self, with_paused=True, with_scheduling=True):
        m = {"pool": self.pool, "pending": self.pending, "claimed": self.claimed,
             "done": self.done, "poisoned": self.poisoned}
        if with_paused:
            m["paused"] = self.paused
        if with_scheduling:
            m["scheduled"] = self.scheduled
            for name in self._SCHEDULING[1:]:
                m[name] = float(getattr(self, name))
        return m


@dataclass
class Stats:
    """Broker.Stats: pools holding items or paused, workers by status, counters."""
    pools: List[PoolStats] = field(default_factory=list)
    workers: Dict[str, int] = field(default_factory=dict)
    counters: Dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_wire(cls, m):
        return cls(pools=[PoolStats.from_wire(p) for p in m.get("pools") or []],
                   workers=dict(m.get("workers") or {}), counters=dict(m.get("counters") or {}))

    def pool(self, name):
        """The PoolStats of name, or None if the broker listed no such pool."""
        for p in self.pools:
            if p.pool == name:
                return p
        return None


@dataclass
class Schedule:
    """A periodic push: at every tick of cron (UTC) the broker pushes data
    to pool as the item NAME@TICK (the tick's RFC 3339 time), once."""
    name: str
    pool: str
    cron: str
    data: Any
    priority: int = 0
    max_retries: Optional[int] = None               # None: the broker's default
    next_at: Optional[datetime.datetime] = None     # the next tick
    last_fired_at: Optional[datetime.datetime] = None
    created_at: Optional[datetime.datetime] = None
    data_bytes: bytes = field(default=b"", repr=False, compare=False)

    @classmethod
    def from_wire(cls, m):
        return cls(name=m["name"], pool=m["pool"], cron=m["cron"],
                   data=_wire.decode_value(m["data"]), priority=m.get("priority", 0),
                   max_retries=m.get("max_retries"), next_at=_wire.parse_time(m.get("next_at")),
                   last_fired_at=_wire.parse_time(m.get("last_fired_at")),
                   created_at=_wire.parse_time(m.get("created_at")), data_bytes=m["data"])

    def to_wire(self):
        return {"name": self.name, "pool": self.pool, "cron": self.cron, "data": self.data_bytes,
                "priority": self.priority, "max_retries": self.max_retries,
                "next_at": _wire.format_time(self.next_at),
                "last_fired_at": _wire.format_time(self.last_fired_at),
                "created_at": _wire.format_time(self.created_at)}


@dataclass
class Ping:
    """Broker.Ping: protocol version, server name, its clock, largest request."""
    version: int
    server: str
    time: datetime.datetime
    max_message: int

    @classmethod
    def from_wire(cls, m):
        return cls(version=m["version"], server=m["server"], time=_wire.parse_time(m["time"]),
                   max_message=m["max_message"])


class Pushed(NamedTuple):
    """What a push made: the item's id, and whether the pool already held it
    (then nothing changed)."""
    id: str
    duplicate: bool


class Entry(NamedTuple):
    """One item to push: data (any msgpack value), an id (None: the client
    makes a UUID v4), max_retries (None: the broker's default, 3), and when
    and how urgently: delay (seconds) or run_at (datetime or RFC 3339),
    priority (lower is claimed first; 0), unique_key (one live item each)."""
    data: Any
    id: Optional[str] = None
    max_retries: Optional[int] = None
    delay: Optional[float] = None
    run_at: Any = None
    priority: Optional[int] = None
    unique_key: Optional[str] = None


class Page(NamedTuple):
    """One page of WorkPool.List: the items, and the cursor of the next page
    (None when there are no more)."""
    items: List[Item]
    cursor: Optional[str]
