"""workpool.flatagents against the FlatAgents SDK's protocols, written here
from the runtime spec (shared/spec flatagents-0.9.0; the SDK is not
installable in this environment), and the distributed-worker pattern end
to end: seed jobs, N workers claim and complete, a reaper finds stale
workers and releases their jobs, a long job outlives 2 x the heartbeat."""
import asyncio
import dataclasses
import inspect
import time
from typing import Any, Dict, List, Optional, Protocol, runtime_checkable

import pytest

import workpool
from workpool import flatagents
from workpool.flatagents import (WorkerFilter, WorkerRegistration, create_registration_backend,
                                 create_work_backend)


#  The SDK's protocols (flatmachines/distributed.py), from the spec
@runtime_checkable
class WorkPool(Protocol):
    async def push(self, item: Any, options: Optional[Dict[str, Any]] = None) -> str: ...
    async def claim(self, worker_id: str): ...
    async def complete(self, item_id: str, result: Optional[Any] = None) -> None: ...
    async def fail(self, item_id: str, error: Optional[str] = None) -> None: ...
    async def size(self) -> int: ...
    async def release_by_worker(self, worker_id: str) -> int: ...


@runtime_checkable
class WorkBackend(Protocol):
    def pool(self, name: str) -> WorkPool: ...


@runtime_checkable
class RegistrationBackend(Protocol):
    async def register(self, worker): ...
    async def heartbeat(self, worker_id: str, metadata: Optional[Dict[str, Any]] = None) -> None: ...
    async def update_status(self, worker_id: str, status: str) -> None: ...
    async def get(self, worker_id: str): ...
    async def list(self, filter=None) -> List[Any]: ...


SDK_FIELDS = {
    "WorkerRegistration": ["worker_id", "host", "pid", "capabilities", "started_at"],
    "WorkerRecord": ["worker_id", "status", "last_heartbeat", "host", "pid", "capabilities",
                     "started_at", "current_task_id", "metadata"],
    "WorkerFilter": ["status", "capability", "stale_threshold_seconds"],
    "WorkItem": ["id", "data", "claimed_by", "attempts", "max_retries", "status", "created_at",
                 "claimed_at"],
}


def _same_signature(ours, theirs):
    """ours takes every call theirs does: the same parameters in the same
    order, and beyond them only keyword-only ones with defaults (workpool's
    extensions, such as fail's retry_after)."""
    a, b = inspect.signature(ours), inspect.signature(theirs)
    extra = [n for n in a.parameters if n not in b.parameters]
    for name in extra:
        p = a.parameters[name]
        assert p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is not p.empty, (ours, name)
    assert [n for n in a.parameters if n not in extra] == list(b.parameters), (ours, a, b)
    for name, p in b.parameters.items():
        assert (a.parameters[name].default is inspect.Parameter.empty) == \
               (p.default is inspect.Parameter.empty), (ours, name)
    assert inspect.iscoroutinefunction(ours) == inspect.iscoroutinefunction(theirs), ours


@pytest.fixture
def backends(broker):
    work = create_work_backend("workpool", endpoint=broker.endpoint, timeout=10)
    registration = create_registration_backend("workpool", endpoint=broker.endpoint,
                                               timeout=10, heartbeat_interval=0.3)
    yield work, registration
    asyncio.run(registration.close())
    asyncio.run(work.close())


def test_the_adapters_satisfy_the_sdk_protocols(backends):
    work, registration = backends
    assert isinstance(work, WorkBackend) and isinstance(work.pool("p"), WorkPool)
    assert isinstance(registration, RegistrationBackend)
    for name in ("push", "claim", "complete", "fail", "size", "release_by_worker"):
        _same_signature(getattr(flatagents.WorkpoolWorkPool, name), getattr(WorkPool, name))
    _same_signature(flatagents.WorkpoolWorkBackend.pool, WorkBackend.pool)
    for name in ("register", "heartbeat", "update_status", "get", "list"):
        _same_signature(getattr(flatagents.WorkpoolRegistrationBackend, name),
                        getattr(RegistrationBackend, name))
    if not flatagents.HAVE_SDK:
        for cls, names in SDK_FIELDS.items():
            assert [f.name for f in dataclasses.fields(getattr(flatagents, cls))] == names


def test_factories_refuse_unknown_types():
    if flatagents.HAVE_SDK:
        pytest.skip("the SDK answers other types itself")
    with pytest.raises(ValueError):
        create_work_backend("redis")
    with pytest.raises(ValueError):
        create_registration_backend("redis")


async def _worker(registration, work, worker_id, pool, log):
    """What the SDK's job-worker machine does through its hooks."""
    record = await registration.register(WorkerRegistration(worker_id=worker_id, host="h",
                                                            pid=1, capabilities=["cpu"]))
    assert record.status == "active" and record.worker_id == worker_id
    jobs = work.pool(pool)
    while True:
        item = await jobs.claim(worker_id)
        if item is None:
            break
        assert item.claimed_by == worker_id and item.status == "claimed"
        if item.data.get("bad"):
            await jobs.fail(item.id, "bad input")
        else:
            await jobs.complete(item.id, {"out": item.data["n"] * 10})
        log.append((worker_id, item.id))
        await asyncio.sleep(0)
    await registration.update_status(worker_id, "terminated")


def test_the_distributed_worker_pattern(backends, client):
    work, registration = backends

    async def main():
        jobs = work.pool("default")
        ids = [await jobs.push({"n": n}) for n in range(40)]
        bad = await jobs.push({"bad": True}, {"max_retries": 1})
        assert await jobs.size() == 41
        log = []
        await asyncio.gather(*(_worker(registration, work, "worker-%d" % k, "default", log)
                               for k in range(4)))
        handled = [i for _, i in log]
        assert sorted(handled) == sorted(ids + [bad])       # each exactly once
        assert len({w for w, _ in log}) > 1
        assert await jobs.size() == 0
        active = await registration.list(WorkerFilter(status="active"))
        assert active == []
        done = await registration.list(WorkerFilter(status="terminated"))
        assert [w.worker_id for w in done] == ["worker-%d" % k for k in range(4)]
        assert registration.kept_alive() == []
        return ids, bad

    ids, bad = asyncio.run(main())
    assert client.get("default", ids[3]).result == {"out": 30}
    poisoned = client.get("default", bad)
    assert poisoned.status == "poisoned" and poisoned.error == "bad input"


def test_the_reaper_releases_a_stale_worker_s_jobs(broker, backends, client):
    work, registration = backends
    # A worker machine that died: registered elsewhere, never heard from again
    dead = create_registration_backend("workpool", endpoint=broker.endpoint,
                                       heartbeat_interval=60, keepalive=False)

    async def main():
        jobs = work.pool("default")
        job = await jobs.push({"n": 1})
        await dead.register(WorkerRegistration(worker_id="dead-1"))
        assert (await jobs.claim("dead-1")).id == job
        await asyncio.sleep(1.2)
        # The reaper machine (DistributedWorkerHooks._reap_stale_workers)
        stale = await registration.list(WorkerFilter(status="active", stale_threshold_seconds=1))
        assert [w.worker_id for w in stale] == ["dead-1"]
        released = 0
        for w in stale:
            await registration.update_status(w.worker_id, "lost")
            released += await jobs.release_by_worker(w.worker_id)
        assert released == 1
        assert (await registration.get("dead-1")).status == "lost"
        # The dead worker's claim is forgotten: its complete is refused
        with pytest.raises(workpool.FailedPrecondition):
            await jobs.complete(job)
        item = await jobs.claim("alive-1")
        assert item.id == job and item.attempts == 0
        await jobs.complete(item.id, "ok")
        await dead.close()
        return job

    job = asyncio.run(main())
    assert client.get("default", job).status == "done"


def test_a_long_job_outlives_twice_the_heartbeat(backends, client):
    """Heartbeat 0.3 s: a job of 1.5 s (5 x the interval) keeps its claim,
    even while the event loop itself is blocked."""
    work, registration = backends

    async def main():
        jobs = work.pool("long")
        job = await jobs.push("slow")
        record = await registration.register(WorkerRegistration(worker_id="patient"))
        item = await jobs.claim("patient")
        time.sleep(0.8)                 # a synchronous model call blocking the loop
        await asyncio.sleep(0.7)
        assert (await registration.get("patient")).status == "active"
        await jobs.complete(item.id, "finally")
        assert registration.kept_alive() == ["patient"]
        await registration.update_status("patient", "terminated")
        assert registration.kept_alive() == []
        return job, record

    job, record = asyncio.run(main())
    item = client.get("long", job)
    assert item.status == "done" and item.attempts == 0 and item.result == "finally"
    assert client.get_worker("patient").status == "terminated"


def test_complete_and_fail_are_fenced(backends, client):
    work, registration = backends

    async def main():
        jobs = work.pool("fence")
        job = await jobs.push(1)
        # Claimed by someone else (not through this backend): refused, unsent
        client.claim("fence", "other")
        with pytest.raises(workpool.FailedPrecondition) as e:
            await jobs.complete(job)
        assert "not claimed through this backend" in e.value.message
        with pytest.raises(workpool.FailedPrecondition):
            await jobs.fail(job, "x")
        assert client.get("fence", job).status == "claimed"
        # A lapsed claim: the broker refuses the late worker
        job2 = await jobs.push(2)
        work.lease = 0.3
        item = await jobs.claim("late")
        work.lease = None
        assert item.id == job2
        await asyncio.sleep(1.0)
        with pytest.raises(workpool.FailedPrecondition):
            await jobs.complete(job2, "too late")
        with pytest.raises(KeyError):       # NotFound, as the SDK's KeyError
            await registration.heartbeat("nobody")

    asyncio.run(main())


def test_records_follow_the_sdk(backends):
    work, registration = backends

    async def main():
        jobs = work.pool("rec")
        job = await jobs.push({"k": [1, 2]}, {"max_retries": 5})
        item = await jobs.claim("w")
        assert isinstance(item, flatagents.WorkItem)
        assert (item.id, item.data, item.claimed_by, item.attempts, item.max_retries,
                item.status) == (job, {"k": [1, 2]}, "w", 0, 5, "claimed")
        assert item.created_at.endswith("Z") and item.claimed_at.endswith("Z")
        record = await registration.register(WorkerRegistration(
            worker_id="r1", host="node", pid=7, capabilities=["gpu"],
            started_at="2026-01-02T03:04:05.000006+00:00"))
        assert isinstance(record, flatagents.WorkerRecord)
        assert (record.worker_id, record.status, record.host, record.pid, record.capabilities,
                record.started_at) == ("r1", "active", "node", 7, ["gpu"],
                                       "2026-01-02T03:04:05.000006Z")
        await registration.heartbeat("r1", {"load": 0.5})
        got = await registration.get("r1")
        assert got.metadata == {"load": 0.5} and got.last_heartbeat >= record.last_heartbeat
        assert await registration.get("nobody") is None
        gpu = await registration.list(WorkerFilter(capability="gpu"))
        assert [w.worker_id for w in gpu] == ["r1"]
        await registration.update_status("r1", "terminated")

    asyncio.run(main())
