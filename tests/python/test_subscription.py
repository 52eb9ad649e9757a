"""Subscriptions (WorkPool.Subscribe) through the Python client against a
real workpoold: items streamed once each, credit never exceeded, pipelined
acks and their outcomes, close() leaving the held items claimed, the ends
(Unsubscribe, replaced, worker lost, connection lost) as error classes,
bad input, the asyncio client, the streaming Worker (4 processes) and the
FlatAgents backend's credit. No timed assertions: waits are bounds."""
import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import workpool

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("WP_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))


def _wait_until(check, what, bound=60.0):
    """Polls check() until true; fails after bound seconds (a bound, not a measure)."""
    deadline = time.monotonic() + bound
    while not check():
        if time.monotonic() > deadline:
            pytest.fail("%s did not happen within %g s" % (what, bound))
        time.sleep(0.05)


def _stats(client, pool):
    for p in client.stats().pools:
        if p.pool == pool:
            return p
    return None


def test_items_stream_once_each_and_credit_is_never_exceeded(client):
    jobs = client.pool("jobs")
    ids = jobs.push_many(list(range(300)))
    credit = 8
    with jobs.subscribe("w1", credit) as sub:
        held = [sub.next(timeout=10) for _ in range(credit)]
        assert all(held) and len({i.id for i in held}) == credit
        #  The broker claimed exactly the credit: the rest are pending
        assert jobs.size() == 300 - credit
        assert _stats(client, "jobs").claimed == credit
        seen = [i.id for i in held]
        sent = 0
        for item in held:
            sub.complete(item, item.data)
            sent += 1
        while len(seen) < 300:
            item = sub.next(timeout=10)
            assert item is not None, "the stream stalled after %d items" % len(seen)
            seen.append(item.id)
            #  Never more streamed than acks sent plus the credit
            assert sub.received <= sent + credit
            assert item.claimed_by == "w1" and item.status == "claimed"
            sub.complete(item, item.data)
            sent += 1
        outcomes = sub.flush()
        outcomes += sub.outcomes()
        left = sub.close()
    assert left == []
    assert sorted(seen) == sorted(ids) and len(set(seen)) == 300
    assert jobs.size() == 0
    stats = _stats(client, "jobs")
    assert stats.done == 300 and stats.claimed == 0
    assert jobs.get(ids[7]).result == 7


def test_acks_are_pipelined_and_every_outcome_is_kept(client):
    jobs = client.pool("jobs")
    jobs.push_many(list(range(8)))
    sub = jobs.subscribe("w1", 8)
    items = [sub.next(timeout=10) for _ in range(8)]
    assert all(items)
    for item in items[:6]:
        sub.complete(item, "done")
    sub.fail(items[6], "broke", retry_after=60)
    sub.complete("no-such-item")
    #  Nothing was read between the sends: all went out without waiting
    assert sub.pending_acks == 8
    outcomes = sub.flush()
    assert sub.pending_acks == 0
    by_id = {o.id: o for o in outcomes}
    assert len(outcomes) == 8
    assert all(by_id[i.id].ok for i in items[:6])
    assert by_id[items[6].id].ok and by_id[items[6].id].status == "scheduled"
    assert isinstance(by_id["no-such-item"].error, workpool.NotFound)
    #  A batch of acks in one CompleteMany: one outcome per entry
    sub.complete_many([items[7], ("no-such-item", None)])
    many = sub.flush()
    assert [(o.verb, o.ok) for o in many] == [("complete_many", True), ("complete_many", False)]
    assert isinstance(many[1].error, workpool.NotFound)
    sub.close()
    stats = _stats(client, "jobs")
    assert stats.done == 7 and stats.scheduled == 1 and stats.claimed == 0


def test_an_ack_refused_because_the_claim_moved_on_is_reported(client):
    jobs = client.pool("jobs")
    jobs.push("x", id="a")
    with jobs.subscribe("w1", 1) as sub:
        item = sub.next(timeout=10)
        assert item.id == "a"
        #  Another hand settles it first
        client.complete("jobs", "a", "theirs", worker_id="w1")
        sub.complete(item, "mine")
        (outcome,) = sub.flush()
        assert isinstance(outcome.error, workpool.FailedPrecondition)
    assert jobs.get("a").result == "theirs"


def test_close_releases_nothing_and_the_items_stay_claimed(client):
    jobs = client.pool("jobs")
    jobs.push_many(list(range(5)))
    sub = jobs.subscribe("w1", 3)
    first = sub.next(timeout=10)
    assert first is not None
    #  All three are claimed before close (so close finds them streamed)
    #  (outcomes() reads what came without handing items out)
    _wait_until(lambda: (sub.outcomes(), sub.received)[1] == 3, "three items streamed")
    left = sub.close()
    assert sub.ended and sub.error is None
    assert len(left) == 2 and first.id not in {i.id for i in left}
    for item in [first] + left:
        got = jobs.get(item.id)
        assert got.status == "claimed" and got.claimed_by == "w1"
    assert jobs.size() == 2
    assert sub.close() == []                    # safe twice
    assert jobs.release_by_worker("w1") == 3
    assert jobs.size() == 5


def test_unsubscribe_from_elsewhere_ends_the_stream_ok(client):
    jobs = client.pool("jobs")
    sub = jobs.subscribe("w1", 2)
    jobs.push("x", id="a")
    assert sub.next(timeout=10).id == "a"
    jobs.unsubscribe("w1")
    assert sub.next(timeout=10) is None and sub.ended and sub.error is None
    assert list(sub) == []
    sub.close()
    jobs.unsubscribe("w1")                      # no subscription: OK all the same


def test_a_newer_subscription_ends_the_old_one_cancelled(client):
    jobs = client.pool("jobs")
    jobs.push_many(["a", "b", "c"])
    old = jobs.subscribe("w1", 1)
    assert old.next(timeout=10).data == "a"
    new = jobs.subscribe("w1", 2)
    with pytest.raises(workpool.Cancelled):
        old.next(timeout=10)
    assert isinstance(old.error, workpool.Cancelled)
    #  The newer one took over the held item: one more credit free
    assert new.next(timeout=10).data == "b"
    assert jobs.size() == 1
    old.close()
    new.close()


def test_a_lost_worker_ends_its_stream_failed_precondition(client):
    client.register("gone", heartbeat_interval=0.3)
    jobs = client.pool("jobs")
    jobs.push("x", id="a")
    sub = jobs.subscribe("gone", 1)
    assert sub.next(timeout=10).id == "a"
    #  All its credit used and no heartbeat: the stream is no heartbeat
    #  either, so the broker declares the worker lost
    with pytest.raises(workpool.FailedPrecondition):
        while sub.next(timeout=30) is not None:
            pass
    assert jobs.get("a").status == "pending"
    sub.close()
    assert client.get_worker("gone").status == "lost"


def test_the_broker_gone_ends_the_stream_unavailable(start_broker):
    broker = start_broker()
    with workpool.Client(broker.endpoint, timeout=5) as c:
        sub = c.subscribe("jobs", "w1", 4)
        c.push("jobs", 1)
        assert sub.next(timeout=10).data == 1
        broker.kill()
        with pytest.raises(workpool.Unavailable):
            sub.next(timeout=30)
        sub.close(timeout=1)


def test_bad_input_is_refused(client):
    jobs = client.pool("jobs")
    for credit in (0, 1001, -1, True, "8", 2.5, None):
        with pytest.raises(workpool.InvalidArgument, match="credit"):
            jobs.subscribe("w1", credit)
    with pytest.raises(workpool.InvalidArgument, match="lease_seconds"):
        jobs.subscribe("w1", 1, lease=0)
    #  What the broker refuses ends the stream with its error
    for pool, worker in (("", "w1"), ("jobs", ""), ("x" * 256, "w1")):
        sub = client.subscribe(pool, worker, 1)
        with pytest.raises(workpool.InvalidArgument):
            sub.next(timeout=10)
        sub.close()
    sub = jobs.subscribe("w1", 1)
    jobs.push({"n": 1}, id="a")
    item = sub.next(timeout=10)
    with pytest.raises(workpool.InvalidArgument):
        sub.complete(item, object())            # no msgpack form: nothing sent
    assert sub.pending_acks == 0
    sub.close()
    with pytest.raises(workpool.InvalidArgument):
        workpool.Worker("ipc:///nowhere", "jobs", credit=1001)
    with pytest.raises(workpool.InvalidArgument):
        workpool.Worker("ipc:///nowhere", "jobs", credit=-1)


def test_the_subscription_leaves_the_client_free(client):
    jobs = client.pool("jobs")
    with jobs.subscribe("w1", 2):
        #  The client's own socket is not held by the stream
        assert jobs.push("x") and jobs.size() >= 0
        client.ping()


def test_the_async_subscription(broker):
    async def main():
        async with workpool.AsyncClient(broker.endpoint, timeout=10) as c:
            jobs = c.pool("jobs")
            ids = await jobs.push_many(list(range(100)))
            sub = jobs.subscribe("w1", 8)
            seen = []
            async for item in sub:
                seen.append(item.id)
                assert sub.received <= len(seen) - 1 + 8     # acks sent + credit
                sub.complete(item, item.data * 2)
                if len(seen) == 100:
                    break
            outcomes = await sub.flush()
            outcomes += sub.outcomes()
            assert await sub.close() == []
            assert sorted(seen) == sorted(ids)
            assert (await jobs.get(ids[3])).result == 6
            assert _stats_of(await c.stats(), "jobs").done == 100
            #  Replaced: Cancelled
            await jobs.push("y")
            old = jobs.subscribe("w2", 1)
            assert (await old.next(timeout=10)) is not None
            new = jobs.subscribe("w2", 1)
            with pytest.raises(workpool.Cancelled):
                await old.next(timeout=10)
            await old.close()
            await new.close()
            with pytest.raises(workpool.InvalidArgument):
                jobs.subscribe("w1", 0)
    asyncio.run(main())


def _stats_of(stats, pool):
    return next(p for p in stats.pools if p.pool == pool)


WORKER = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, os.path.join(sys.argv[3], "client", "python"))
    import workpool
    out = open(sys.argv[2], "a")
    def handle(item):
        out.write(item.id + "\\n")
        out.flush()
        return {"by": os.getpid()}
    workpool.Worker(sys.argv[1], "jobs", credit=8, heartbeat_interval=1, wait=0.5).run(handle)
""")


def test_four_streaming_worker_processes_complete_each_item_exactly_once(broker, client,
                                                                         tmp_path):
    jobs = client.pool("jobs")
    ids = []
    for start in range(0, 2000, 500):
        ids += jobs.push_many(list(range(start, start + 500)))
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    logs = [tmp_path / ("handled-%d.txt" % i) for i in range(4)]
    procs = [subprocess.Popen([sys.executable, str(script), broker.endpoint, str(log), SOURCE])
             for log in logs]
    try:
        _wait_until(lambda: _stats(client, "jobs").done == 2000, "2000 items done", bound=240)
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        codes = [p.wait(60) for p in procs]
    assert codes == [0, 0, 0, 0]
    handled = []
    for log in logs:
        handled += log.read_text().split()
    #  Each handled once, by one process (no lease lapsed, none lost)
    assert len(handled) == 2000 and set(handled) == set(ids)
    stats = _stats(client, "jobs")
    assert stats.done == 2000 and stats.claimed == 0 and stats.pending == 0
    assert sum(1 for log in logs if log.read_text()) >= 2     # the work was shared
    pids = {jobs.get(i).result["by"] for i in ids[:50] + ids[-50:]}
    assert pids <= {p.pid for p in procs}


def test_a_streaming_worker_fails_and_retries_as_the_claiming_one_does(broker, client):
    jobs = client.pool("jobs")
    jobs.push(1, id="ok")
    jobs.push(0, id="bad", max_retries=1)
    jobs.push(5, id="later")

    def handle(item):
        if item.id == "later":
            raise workpool.RetryLater(3600, "come back")
        return 10 // item.data

    w = workpool.Worker(broker.endpoint, "jobs", handle, credit=4, wait=0.2,
                        handle_signals=False)
    import threading
    t = threading.Thread(target=w.run)
    t.start()
    try:
        _wait_until(lambda: w.processed >= 3, "three items settled")
    finally:
        w.stop()
        t.join(60)
    assert not t.is_alive()
    assert jobs.get("ok").result == 10
    bad = jobs.get("bad")
    assert bad.status == "poisoned" and "ZeroDivisionError" in bad.error
    later = jobs.get("later")
    assert later.status == "scheduled" and later.error == "come back"
    assert client.get_worker(w.worker_id).status == "terminated"


def test_the_async_worker_streams_too(broker, client):
    jobs = client.pool("jobs")
    jobs.push_many(list(range(50)))

    async def main():
        w = workpool.AsyncWorker(broker.endpoint, "jobs", credit=8, wait=0.2,
                                 handle_signals=False)

        async def handle(item):
            return item.data + 1
        task = asyncio.ensure_future(w.run(handle))
        while w.processed < 50:
            await asyncio.sleep(0.05)
            assert not task.done(), task.exception() if task.done() else None
        w.stop()
        await asyncio.wait_for(task, 60)
        return w.processed
    assert asyncio.run(main()) == 50
    assert _stats(client, "jobs").done == 50


def test_the_flatagents_backend_claims_from_a_subscription(broker, client):
    from workpool.flatagents import create_work_backend

    async def main():
        backend = create_work_backend("workpool", endpoint=broker.endpoint, credit=4, wait=5)
        pool = backend.pool("jobs")
        for n in range(10):
            await pool.push({"n": n})
        got = []
        while len(got) < 10:
            item = await pool.claim("fa-1")
            assert item is not None
            got.append(item.data["n"])
            await pool.complete(item.id, {"ok": True})
        assert sorted(got) == list(range(10))
        await pool.push({"n": 99})
        item = await pool.claim("fa-1")
        assert item.data == {"n": 99}
        await backend.close()
        return item.id
    held = asyncio.run(main())
    #  The item the SDK was handed stays claimed; nothing else is
    assert client.pool("jobs").get(held).status == "claimed"
    assert _stats(client, "jobs").done == 10
    with pytest.raises(ValueError):
        create_work_backend("workpool", endpoint=broker.endpoint, credit=1001)
