"""Failover across several endpoints (FAILOVER.md, issue 17): two workpoold
processes on separate SQLite files; the one in use is SIGKILLed or
SIGSTOPped; the Client and AsyncClient move to the other, resend what is
safe to resend there, never resend a claim, and count the move."""
import asyncio
import os
import signal
import time

import pytest

import workpool
from broker import Broker

RETRY = 0.3


@pytest.fixture
def two(workpoold, tmp_path):
    brokers = []
    for name in ("a", "b"):
        d = tmp_path / name
        d.mkdir()
        brokers.append(Broker(workpoold, str(d), store="sqlite").start())
    yield brokers
    for b in brokers:
        if b.process.poll() is None:
            os.kill(b.pid, signal.SIGCONT)
        b.kill()


def both(brokers):
    return " , ".join(b.endpoint for b in brokers)


def sigstop(broker):
    """SIGSTOP, returning once every thread of it is stopped (kill()
    returns before a thread running on another core has stopped)."""
    os.kill(broker.pid, signal.SIGSTOP)
    tasks = "/proc/%d/task" % broker.pid
    while True:
        states = []
        for t in os.listdir(tasks):
            try:
                with open("%s/%s/stat" % (tasks, t)) as f:
                    states.append(f.read().rsplit(")", 1)[1].split()[0])
            except OSError:
                pass
        if states and all(s in "Tt" for s in states):
            return
        time.sleep(0.001)


def stop(broker, how):
    if how == "kill":
        broker.kill()
    else:
        sigstop(broker)


@pytest.mark.parametrize("how", ["kill", "stop"])
def test_push_and_get_move_to_the_second(two, how):
    a, b = two
    with workpool.Client(both(two), timeout=5, retry_interval=RETRY) as c, \
            workpool.Client(b.endpoint, timeout=5) as on_b:
        assert c.endpoint == a.endpoint and c.moves == 0
        assert c.endpoints == [a.endpoint, b.endpoint]
        first = c.push("jobs", {"n": 0})
        with pytest.raises(workpool.NotFound):             # it went to A only
            on_b.get("jobs", first)
        stop(a, how)
        pushed = c.push("jobs", {"n": 1})
        assert c.endpoint == b.endpoint and c.moves == 1
        item = on_b.get("jobs", pushed)                  # it is on B
        assert item is not None and item.data == {"n": 1}
        assert c.get("jobs", pushed).data == {"n": 1}    # stays on B
        assert c.moves == 1


@pytest.mark.parametrize("how", ["kill", "stop"])
def test_claim_in_flight_is_not_resent(two, how):
    a, b = two
    with workpool.Client(both(two), timeout=2, retry_interval=RETRY) as c, \
            workpool.Client(b.endpoint, timeout=5) as on_b:
        c.ping()
        waiting = on_b.push("jobs", {"on": "b"})
        sigstop(a)
        #  A parked claim on A: its wait is not late, then A never answers;
        #  the client moves but must not claim B's item with it
        #  (SIGKILL: stopped first, so the claim surely went out to A, then
        #  killed while the claim is in flight)
        if how == "kill":
            import threading
            threading.Timer(0.2, a.kill).start()
        with pytest.raises(workpool.DeadlineExceeded):
            c.claim("jobs", "w1", wait=0.5)
        assert c.moves == 1 and c.endpoint == b.endpoint
        assert on_b.get("jobs", waiting).status == "pending"
        item = c.claim("jobs", "w1")
        assert item is not None and item.id == waiting


def test_wraps_round_robin(two):
    a, b = two
    with workpool.Client(both(two), timeout=5, retry_interval=RETRY) as c:
        c.ping()
        b.kill()
        a.kill()
        #  Unavailable, or DeadlineExceeded when the first copy went out
        #  before the client saw the connection drop
        with pytest.raises((workpool.Unavailable, workpool.DeadlineExceeded)) as e:
            c.ping()
        assert c.moves >= 2         # A, B, A ... until the deadline
        assert a.endpoint in str(e.value) and b.endpoint in str(e.value)


def test_one_endpoint_never_moves(two):
    a, _ = two
    with workpool.Client(a.endpoint, timeout=1, retry_interval=RETRY) as c:
        c.ping()
        a.kill()
        with pytest.raises(workpool.Unavailable):
            c.ping()
        assert c.moves == 0 and c.endpoint == a.endpoint


@pytest.mark.parametrize("bad", ["tcp://127.0.0.1:1,", "tcp://127.0.0.1:1,,ipc:///tmp/x",
                                 "tcp://127.0.0.1:1, http://x:2", "tcp://127.0.0.1:1,nothing"])
def test_a_bad_list_is_an_error_at_construction(bad):
    with pytest.raises(workpool.InvalidArgument) as e:
        workpool.Client(bad)
    assert "endpoint list" in str(e.value)

    async def run():
        with pytest.raises(workpool.InvalidArgument):
            workpool.AsyncClient(bad)
    asyncio.run(run())


@pytest.mark.parametrize("how", ["kill", "stop"])
def test_async_client_moves(two, how):
    a, b = two

    async def run():
        async with workpool.AsyncClient(both(two), timeout=3, retry_interval=RETRY) as c:
            on_b = workpool.Client(b.endpoint, timeout=5)
            try:
                await c.ping()
                waiting = on_b.push("jobs", {"on": "b"})
                sigstop(a)     # the claim surely goes out to A
                claim = asyncio.ensure_future(c.claim("jobs", "w1", wait=0.3))
                await asyncio.sleep(0)
                if how == "kill":
                    a.kill()                        # with the claim in flight
                pushes = await asyncio.gather(*(c.push("jobs", {"n": n}) for n in range(5)))
                assert c.moves == 1 and c.endpoint == b.endpoint
                for p in pushes:
                    assert on_b.get("jobs", p) is not None
                with pytest.raises(workpool.DeadlineExceeded):
                    await claim
                assert on_b.get("jobs", waiting).status == "pending"
                item = await c.claim("jobs", "w1")
                assert item is not None and item.id == waiting
                assert c.moves == 1
            finally:
                on_b.close()
    asyncio.run(run())


def test_subscription_resubscribes_on_the_next(two):
    a, b = two
    with workpool.Client(both(two), timeout=5, retry_interval=RETRY) as c, \
            workpool.Client(b.endpoint, timeout=5) as on_b:
        c.ping()
        sub = c.subscribe("jobs", "w1", 4)
        assert sub.endpoint == a.endpoint
        a.kill()
        with pytest.raises(workpool.Unavailable):
            while True:
                sub.next(timeout=5)
        sub.close()
        assert c.endpoint == b.endpoint and c.moves == 1
        pushed = on_b.push("jobs", {"n": 1})
        sub = c.subscribe("jobs", "w1", 4)
        try:
            assert sub.endpoint == b.endpoint
            item = sub.next(timeout=5)
            assert item is not None and item.id == pushed
        finally:
            sub.close()


def test_a_worker_takes_the_list_and_checks_it(two):
    with pytest.raises(workpool.InvalidArgument):
        workpool.Worker("ipc:///tmp/x,", "jobs", lambda item: None)
    w = workpool.Worker(both(two), "jobs", lambda item: None)
    assert w is not None
