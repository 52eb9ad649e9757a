"""workpool as the work and registration backends of a FlatAgents program.

    from flatmachines import DistributedWorkerHooks
    from workpool.flatagents import create_registration_backend, create_work_backend

    hooks = DistributedWorkerHooks(
        registration=create_registration_backend("workpool", endpoint="tcp://broker:5555"),
        work=create_work_backend("workpool", endpoint="tcp://broker:5555"))

WorkpoolWorkBackend and WorkpoolRegistrationBackend satisfy the reference
SDK's WorkBackend / WorkPool and RegistrationBackend protocols
(flatmachines/distributed.py, spec flatagents-runtime 0.9.0). They return
the SDK's own WorkItem and WorkerRecord when flatmachines is importable,
and field-for-field equal dataclasses of this module when it is not.
Scheduling. The SDK's push(item, options) names only options["max_retries"];
the adapter also reads options["delay"], ["run_at"], ["priority"] and
["unique_key"] (PUSH_OPTIONS), and fail() takes a keyword-only retry_after:
extensions within the protocol's own shapes (an options dict, an extra
keyword), so code written against the SDK runs unchanged. A scheduled item's
SDK status is "scheduled" (the SDK has no such state; it reads as not
pending). Fields the SDK's records lack (an item's pool, lease, result,
priority and run_at; a worker's pool_id and heartbeat interval) are left out: the native client
(.client, a workpool.AsyncClient) reaches them. Status names follow the SDK
where they differ: a done item is "completed".

Two things the SDK's calls cannot say, and how the adapters make up for them:
- complete(item_id) and fail(item_id) carry no worker id. The work backend
  remembers which worker claimed each item through it (in this process) and
  sends that id, so the broker still refuses a worker whose claim lapsed.
  An item it did not claim is refused with FailedPrecondition rather than
  sent unfenced.
- The SDK's worker machines do not heartbeat during a long job. The
  registration backend keeps every worker it registered alive from a
  background thread (its own socket, so a blocked event loop does not stop
  it) at the worker's interval, until the worker is marked terminated or
  lost, the broker says it was declared lost, close() is called, or the
  process ends.
"""
import dataclasses
from dataclasses import dataclass, field
import datetime
import logging
import threading
import time
from typing import Any, Dict, List, Optional

from . import _wire
from ._socket import DEFAULT_ENDPOINT, DEFAULT_TIMEOUT
from .aio import AsyncClient
from .client import Client
from .errors import FailedPrecondition, NotFound, WorkpoolError

log = logging.getLogger("workpool.flatagents")

try:
    from flatmachines import distributed as _sdk
    from flatmachines.distributed import WorkItem, WorkerFilter, WorkerRecord, WorkerRegistration
    HAVE_SDK = True
except ImportError:
    _sdk = None
    HAVE_SDK = False

    def _now():
        return datetime.datetime.now(datetime.timezone.utc).isoformat()

    #  The SDK's records, field for field (flatmachines/distributed.py)
    @dataclass
    class WorkerRegistration:
        """Information for registering a new worker."""
        worker_id: str
        host: Optional[str] = None
        pid: Optional[int] = None
        capabilities: Optional[List[str]] = None
        started_at: str = field(default_factory=_now)

        def to_dict(self) -> Dict[str, Any]:
            return dataclasses.asdict(self)

    @dataclass
    class WorkerRecord:
        """Complete worker record including status and heartbeat."""
        worker_id: str
        status: str
        last_heartbeat: str
        host: Optional[str] = None
        pid: Optional[int] = None
        capabilities: Optional[List[str]] = None
        started_at: Optional[str] = None
        current_task_id: Optional[str] = None
        metadata: Optional[Dict[str, Any]] = None

        def to_dict(self) -> Dict[str, Any]:
            return dataclasses.asdict(self)

        @classmethod
        def from_dict(cls, data: Dict[str, Any]) -> "WorkerRecord":
            return cls(**data)

    @dataclass
    class WorkerFilter:
        """Filter criteria for listing workers."""
        status: Optional[str] = None
        capability: Optional[str] = None
        stale_threshold_seconds: Optional[int] = None

    @dataclass
    class WorkItem:
        """A claimed work item from a pool."""
        id: str
        data: Any
        claimed_by: Optional[str] = None
        attempts: int = 0
        max_retries: int = 3
        status: str = "pending"
        created_at: str = field(default_factory=_now)
        claimed_at: Optional[str] = None

        def to_dict(self) -> Dict[str, Any]:
            return dataclasses.asdict(self)


#  The keys of push's options the adapter reads: the SDK's max_retries, then
#  workpool's scheduling (named as in workpool.Client.push). The SDK has no
#  scheduling options, so these are extensions a program opts into; a program
#  written for another backend sends none of them and sees no change.
PUSH_OPTIONS = ("max_retries", "delay", "run_at", "priority", "unique_key")

#  Item states whose SDK name differs from workpool's
_SDK_STATUS = {"done": "completed"}


def _work_item(item):
    return WorkItem(id=item.id, data=item.data, claimed_by=item.claimed_by,
                    attempts=item.attempts, max_retries=item.max_retries,
                    status=_SDK_STATUS.get(item.status, item.status),
                    created_at=_wire.format_time(item.created_at),
                    claimed_at=_wire.format_time(item.claimed_at))


def _worker_record(w):
    return WorkerRecord(worker_id=w.worker_id, status=w.status,
                        last_heartbeat=_wire.format_time(w.last_heartbeat), host=w.host,
                        pid=w.pid, capabilities=list(w.capabilities),
                        started_at=_wire.format_time(w.started_at),
                        current_task_id=w.current_task_id, metadata=dict(w.metadata))


# ---------------------------------------------------------------------------
#  Work

class WorkpoolWorkPool:
    """One pool, with the SDK's WorkPool methods (all async)."""

    def __init__(self, backend, name):
        self._backend = backend
        self.name = name

    async def push(self, item: Any, options: Optional[Dict[str, Any]] = None) -> str:
        """Queues item (any msgpack value); returns its id. options: the
        SDK's max_retries, and workpool's scheduling keys (see PUSH_OPTIONS):
        delay (seconds), run_at (datetime or RFC 3339), priority (lower is
        claimed first), unique_key (a duplicate returns the live item's id).
        Other keys are ignored, as the SDK's backends ignore them."""
        options = options or {}
        return await self._backend.client.push(
            self.name, item, **{k: options.get(k) for k in PUSH_OPTIONS})

    async def claim(self, worker_id: str) -> Optional[WorkItem]:
        """The oldest pending item, claimed for worker_id, or None."""
        backend = self._backend
        if backend.credit > 0:
            item = await backend._streamed(self.name, worker_id)
        else:
            item = await backend.client.claim(self.name, worker_id, wait=backend.wait,
                                              lease=backend.lease)
        if item is None:
            return None
        backend._claims[(self.name, item.id)] = worker_id
        return _work_item(item)

    def _claimant(self, item_id, verb):
        worker_id = self._backend._claims.get((self.name, item_id))
        if worker_id is None:
            raise FailedPrecondition(
                "item '%s' of pool '%s' was not claimed through this backend in this process: "
                "refusing to %s it without the claiming worker's id (the broker could not "
                "tell a lapsed claim from a live one); use workpool.AsyncClient.%s with "
                "worker_id" % (item_id, self.name, verb, verb))
        return worker_id

    async def _settle(self, item_id, verb, **kwargs):
        worker_id = self._claimant(item_id, verb)
        call = getattr(self._backend.client, verb)
        try:
            await call(self.name, item_id, worker_id=worker_id, **kwargs)
        except (FailedPrecondition, NotFound):
            #  The claim is gone (lapsed, released, settled): forget it
            self._backend._claims.pop((self.name, item_id), None)
            raise
        self._backend._claims.pop((self.name, item_id), None)

    async def complete(self, item_id: str, result: Optional[Any] = None) -> None:
        """Marks the item done with result, as the worker that claimed it."""
        await self._settle(item_id, "complete", result=result)

    async def fail(self, item_id: str, error: Optional[str] = None, *,
                   retry_after: Optional[float] = None) -> None:
        """Records a failed attempt: pending again (scheduled retry_after
        seconds ahead, or by the pool's backoff), or poisoned at max_retries.
        retry_after is workpool's, keyword-only, so the SDK's call is unchanged."""
        await self._settle(item_id, "fail", error=error, retry_after=retry_after)

    async def size(self) -> int:
        """Pending items."""
        return await self._backend.client.size(self.name)

    async def release_by_worker(self, worker_id: str) -> int:
        """Returns every item worker_id holds in this pool to pending (with
        credit: its subscription is ended first, so none streams in after)."""
        sub = self._backend._subscriptions.pop((self.name, worker_id), None)
        if sub is not None:
            try:
                await sub.close()
            except WorkpoolError as e:
                log.warning("worker %s: unsubscribe: %s", worker_id, e)
        released = await self._backend.client.release_by_worker(self.name, worker_id)
        claims = self._backend._claims
        for key in [k for k, w in claims.items() if k[0] == self.name and w == worker_id]:
            del claims[key]
        return released


class WorkpoolWorkBackend:
    """The SDK's WorkBackend on a workpool broker. wait: seconds a claim
    waits for an item (the SDK's claim returns at once: 0); lease: seconds
    a claim holds (None: the broker's default); credit: 0 claims one item
    per claim(); N > 0 opens a subscription (WorkPool.Subscribe) per pool and
    worker on the first claim(), so up to N items stream in ahead and each
    claim() takes the next (waiting up to wait seconds). Complete and fail
    are the same calls either way (each returns a credit). A stream that
    ends in an error raises it from claim() (FailedPrecondition: the worker
    was declared lost); the next claim() subscribes again."""

    def __init__(self, endpoint: str = DEFAULT_ENDPOINT, *, timeout: float = DEFAULT_TIMEOUT,
                 server_key=None, cert=None, wait: float = 0.0, lease: Optional[float] = None,
                 credit: int = 0, client: Optional[AsyncClient] = None):
        if isinstance(credit, bool) or not isinstance(credit, int) \
                or not 0 <= credit <= _wire.CREDIT_MAX:
            raise ValueError("credit must be an integer from 0 to %d" % _wire.CREDIT_MAX)
        self.client = client or AsyncClient(endpoint, timeout=timeout, server_key=server_key,
                                            cert=cert)
        self.wait = wait
        self.lease = lease
        self.credit = credit
        self._subscriptions = {}    # (pool, worker id) -> AsyncSubscription
        self._claims = {}           # (pool, item id) -> the worker that claimed it here
        self._pools = {}

    def pool(self, name: str) -> WorkpoolWorkPool:
        """The pool called name (created by its first push)."""
        pool = self._pools.get(name)
        if pool is None:
            pool = self._pools[name] = WorkpoolWorkPool(self, name)
        return pool

    async def _streamed(self, pool, worker_id):
        """The next item of the worker's subscription on pool (opened on
        first use), or None within wait seconds."""
        key = (pool, worker_id)
        sub = self._subscriptions.get(key)
        if sub is None:
            sub = self._subscriptions[key] = self.client.subscribe(pool, worker_id, self.credit,
                                                                   self.lease)
        try:
            item = await sub.next(timeout=self.wait)
        except WorkpoolError:
            self._subscriptions.pop(key, None)
            await sub.close()
            raise
        if item is None and sub.ended:
            self._subscriptions.pop(key, None)
            await sub.close()
        return item

    async def close(self):
        """Ends the subscriptions (items streamed and not yet claimed through
        here are released when the worker holds nothing else here; else
        they stay claimed until their leases lapse), closes the socket."""
        subs, self._subscriptions = self._subscriptions, {}
        for (pool, worker_id), sub in subs.items():
            try:
                left = await sub.close()
                held = any(k[0] == pool and w == worker_id for k, w in self._claims.items())
                if left and not held:
                    await self.client.release_by_worker(pool, worker_id)
            except WorkpoolError as e:
                log.warning("worker %s: closing its subscription: %s", worker_id, e)
        await self.client.close()


# ---------------------------------------------------------------------------
#  Registration

class _KeepAlive:
    """A daemon thread that heartbeats registered workers at their intervals."""

    def __init__(self, make_client):
        self._make_client = make_client
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._due = {}              # worker id -> (interval, next time)
        self._thread = None
        self._closed = False
        self.beats = 0

    def add(self, worker_id, interval):
        with self._lock:
            if self._closed:
                return
            self._due[worker_id] = (interval, time.monotonic() + interval)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="workpool-keepalive",
                                                daemon=True)
                self._thread.start()
            self._wake.notify()

    def remove(self, worker_id):
        with self._lock:
            self._due.pop(worker_id, None)

    def workers(self):
        with self._lock:
            return sorted(self._due)

    def close(self):
        with self._lock:
            self._closed = True
            self._due.clear()
            self._wake.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _run(self):
        client = self._make_client()
        try:
            while True:
                with self._lock:
                    while not self._closed:
                        now = time.monotonic()
                        due = [w for w, (_, t) in self._due.items() if t <= now]
                        if due:
                            break
                        nearest = min((t for _, t in self._due.values()), default=now + 3600)
                        self._wake.wait(nearest - now)
                    if self._closed:
                        return
                    for worker_id in due:
                        interval, _ = self._due[worker_id]
                        self._due[worker_id] = (interval, now + interval)
                for worker_id in due:
                    self._beat(client, worker_id)
        finally:
            client.close()

    def _beat(self, client, worker_id):
        try:
            client.heartbeat(worker_id)
            self.beats += 1
        except (FailedPrecondition, NotFound) as e:
            #  Declared lost or unknown: the SDK's reaper has its own view of
            #  it; keeping a lost worker alive would hide that
            log.warning("worker %s: %s; no longer kept alive", worker_id, e.message)
            self.remove(worker_id)
        except WorkpoolError as e:
            log.warning("worker %s: heartbeat failed: %s", worker_id, e)


class WorkpoolRegistrationBackend:
    """The SDK's RegistrationBackend on a workpool broker.
    heartbeat_interval: seconds between the heartbeats the broker expects of
    the workers registered here (None: the broker's default, 10); a worker
    silent for twice that is declared lost. keepalive: heartbeat registered
    workers from a background thread (see the module's doc)."""

    def __init__(self, endpoint: str = DEFAULT_ENDPOINT, *, timeout: float = DEFAULT_TIMEOUT,
                 server_key=None, cert=None, heartbeat_interval: Optional[float] = None,
                 keepalive: bool = True, client: Optional[AsyncClient] = None):
        options = dict(timeout=timeout, server_key=server_key, cert=cert)
        self.client = client or AsyncClient(endpoint, **options)
        self.heartbeat_interval = heartbeat_interval
        self._keepalive = _KeepAlive(lambda: Client(endpoint, **options)) if keepalive else None

    async def register(self, worker: WorkerRegistration) -> WorkerRecord:
        """Creates (or replaces) the worker's record, status active."""
        record = await self.client.register(
            worker.worker_id, host=worker.host, pid=worker.pid,
            capabilities=worker.capabilities or (), pool_id=getattr(worker, "pool_id", None),
            started_at=getattr(worker, "started_at", None),
            heartbeat_interval=getattr(worker, "heartbeat_interval", None)
            or self.heartbeat_interval)
        if self._keepalive is not None:
            self._keepalive.add(record.worker_id, record.heartbeat_interval_seconds)
        return _worker_record(record)

    async def heartbeat(self, worker_id: str, metadata: Optional[Dict[str, Any]] = None) -> None:
        """Records a heartbeat, merging metadata. Unknown worker: NotFound (a
        KeyError, as the SDK raises); declared lost: FailedPrecondition."""
        await self.client.heartbeat(worker_id, metadata)

    async def update_status(self, worker_id: str, status: str) -> None:
        """Sets the worker's status; terminated or lost ends its keepalive."""
        if status in ("terminated", "lost") and self._keepalive is not None:
            self._keepalive.remove(worker_id)
        await self.client.update_status(worker_id, status)

    async def get(self, worker_id: str) -> Optional[WorkerRecord]:
        worker = await self.client.get_worker(worker_id)
        return None if worker is None else _worker_record(worker)

    async def list(self, filter: Optional[WorkerFilter] = None) -> List[WorkerRecord]:
        """Workers matching every criterion of filter, by id. As in the SDK,
        a stale_threshold_seconds of 0 or None applies no threshold; status
        may also be a list, and a filter with pool_id (the spec's) is honoured."""
        status = capability = pool_id = stale = None
        if filter is not None:
            status = filter.status or None
            capability = filter.capability or None
            pool_id = getattr(filter, "pool_id", None)
            stale = filter.stale_threshold_seconds or None
        workers = await self.client.list_workers(status=status, capability=capability,
                                                 pool_id=pool_id, stale_threshold=stale)
        return [_worker_record(w) for w in workers]

    def kept_alive(self) -> List[str]:
        """The worker ids the background thread heartbeats."""
        return self._keepalive.workers() if self._keepalive is not None else []

    async def close(self):
        """Stops the keepalive thread and closes the sockets."""
        if self._keepalive is not None:
            self._keepalive.close()
        await self.client.close()


# ---------------------------------------------------------------------------
#  Factories, in the SDK's style

def create_work_backend(backend_type: str = "workpool", **kwargs: Any):
    """A work backend by type: "workpool" (kwargs: endpoint, timeout,
    server_key, cert, wait, lease, credit), or any the SDK knows when it is installed."""
    if backend_type == "workpool":
        return WorkpoolWorkBackend(**kwargs)
    if _sdk is not None:
        return _sdk.create_work_backend(backend_type, **kwargs)
    raise ValueError(f"Unknown work backend type: {backend_type}")


def create_registration_backend(backend_type: str = "workpool", **kwargs: Any):
    """A registration backend by type: "workpool" (kwargs: endpoint,
    timeout, server_key, cert, heartbeat_interval, keepalive), or any the
    SDK knows when it is installed."""
    if backend_type == "workpool":
        return WorkpoolRegistrationBackend(**kwargs)
    if _sdk is not None:
        return _sdk.create_registration_backend(backend_type, **kwargs)
    raise ValueError(f"Unknown registration backend type: {backend_type}")


__all__ = ["PUSH_OPTIONS", "WorkpoolWorkBackend", "WorkpoolWorkPool", "WorkpoolRegistrationBackend",
           "create_work_backend", "create_registration_backend", "WorkItem", "WorkerRecord",
           "WorkerRegistration", "WorkerFilter", "HAVE_SDK"]
