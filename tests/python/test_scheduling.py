"""Scheduling through the Python client against a real broker (issue 15):
priorities, delays and run_at, unique keys, fail's retry_after, backoff
policies, schedules, RetryLater in the worker loops and the FlatAgents
adapter, and bad input refused before sending and by the broker."""
import asyncio
import datetime
import threading
import time

import pytest

import workpool
from workpool import _ops, _wire
from workpool.flatagents import create_work_backend

UTC = datetime.timezone.utc


def _now():
    return datetime.datetime.now(UTC)


def _raw(client, method, fields, resend=False):
    """A request exactly as given, past the client's own checks, so what
    the broker answers is the broker's."""
    return client._call(_ops.Call(method, fields, resend))


def test_lower_priority_is_claimed_first_then_push_order(client):
    jobs = client.pool("prio")
    jobs.push("a", id="a", priority=5)
    jobs.push("b", id="b", priority=-1)
    jobs.push("c", id="c")
    jobs.push_many([workpool.Entry("d", "d", priority=-1),
                    workpool.Entry("e", "e", priority=-(2 ** 31)),
                    workpool.Entry("f", "f", priority=2 ** 31 - 1)])
    assert jobs.get("b").priority == -1 and jobs.get("c").priority == 0
    order = [jobs.claim("w").id for _ in range(6)]
    assert order == ["e", "b", "d", "c", "a", "f"]
    assert jobs.claim("w") is None


def test_a_delayed_push_is_scheduled_then_claimed_by_a_waiting_claim(client):
    jobs = client.pool("later")
    t0 = time.monotonic()
    id = jobs.push({"n": 1}, delay=1.0)
    item = jobs.get(id)
    assert item.status == "scheduled" and item.run_at is not None
    assert 0.5 < (item.run_at - item.created_at).total_seconds() < 1.5
    assert jobs.size() == 0 and jobs.claim("w") is None
    stats = client.stats().pool("later")
    assert stats.scheduled == 1 and stats.pending == 0
    got = jobs.claim("w", wait=10)
    waited = time.monotonic() - t0
    assert got is not None and got.id == id and got.data == {"n": 1}
    assert 0.9 <= waited < 6, waited
    assert got.status == "claimed"


def test_run_at_as_datetime_and_as_text(client):
    jobs = client.pool("at")
    when = _now() + datetime.timedelta(seconds=0.8)
    a = jobs.push(1, run_at=when)
    b = jobs.push(2, run_at=_wire.format_time(when + datetime.timedelta(seconds=0.2)))
    past = jobs.push(3, run_at=_now() - datetime.timedelta(hours=1))
    assert abs((jobs.get(a).run_at - when).total_seconds()) < 0.001
    assert jobs.get(a).status == jobs.get(b).status == "scheduled"
    assert jobs.get(past).status == "pending" and jobs.get(past).run_at is None
    assert jobs.claim("w").id == past
    assert jobs.claim("w", wait=10).id == a and _now() >= when
    assert jobs.claim("w", wait=10).id == b
    listed = client.list_items("at", ["scheduled", "claimed"]).items
    assert [i.id for i in listed] == [a, b, past]


def test_a_unique_key_admits_one_live_item(client):
    jobs = client.pool("uniq")
    first = jobs.push_entry("x", unique_key="report:1")
    assert first.duplicate is False and jobs.get(first.id).unique_key == "report:1"
    again = jobs.push_entry("y", unique_key="report:1")
    assert again == workpool.Pushed(first.id, True)       # the live item's id, a duplicate
    assert jobs.push("z", unique_key="report:1") == first.id
    ids = jobs.push_many([workpool.Entry("m", unique_key="report:2"),
                          workpool.Entry("n", unique_key="report:1")])
    assert ids[1] == first.id and ids[0] != first.id
    assert jobs.size() == 2 and jobs.get(first.id).data == "x"
    #  Delayed items hold their key too; a done one frees it
    item = jobs.claim("w")
    assert item.id == first.id
    assert jobs.push("again", unique_key="report:1") == first.id   # claimed is live
    jobs.complete(item.id, worker_id="w")
    fresh = jobs.push_entry("again", unique_key="report:1", delay=60)
    assert fresh.duplicate is False and fresh.id != first.id
    assert jobs.push_entry("more", unique_key="report:1") == workpool.Pushed(fresh.id, True)


def test_fail_with_retry_after_goes_scheduled(client):
    jobs = client.pool("retry")
    id = jobs.push("r", max_retries=2)
    jobs.claim("w")
    t0 = time.monotonic()
    assert jobs.fail(id, "busy", worker_id="w", retry_after=1.0) == "scheduled"
    item = jobs.get(id)
    assert item.status == "scheduled" and item.attempts == 1 and item.error == "busy"
    assert item.claimed_by is None and item.run_at is not None
    assert jobs.claim("w") is None
    again = jobs.claim("w", wait=10)
    assert again.id == id and 0.9 <= time.monotonic() - t0 < 6
    #  At max_retries it is poisoned, retry_after or not
    assert jobs.fail(id, "busy", worker_id="w", retry_after=1.0) == "poisoned"
    #  retry_after 0: pending at once
    other = jobs.push("s")
    jobs.claim("w")
    assert jobs.fail(other, "x", worker_id="w", retry_after=0) == "pending"


def test_set_backoff_schedules_failures_and_shows_in_stats(client):
    jobs = client.pool("backoff")
    jobs.set_backoff(1.0, cap=4.0, jitter=0.25)
    stats = client.stats().pool("backoff")
    assert stats is not None        # a pool with a policy is listed though it holds nothing
    assert (stats.backoff_base_seconds, stats.backoff_cap_seconds, stats.backoff_jitter) == \
        (1.0, 4.0, 0.25)
    id = jobs.push("b", max_retries=10)
    jobs.claim("w")
    assert jobs.fail(id, "no", worker_id="w") == "scheduled"
    item = jobs.get(id)
    #  attempt 1 waits base (1 s) less up to a quarter of it
    delay = (item.run_at - _now()).total_seconds()
    assert -0.5 < delay <= 1.0, delay
    assert client.stats().pool("backoff").scheduled == 1
    #  retry_after overrides the policy (0 is none: the policy's 2 s)
    assert jobs.claim("w", wait=10).id == id
    assert jobs.fail(id, "no", worker_id="w", retry_after=60) == "scheduled"
    assert (jobs.get(id).run_at - _now()).total_seconds() > 50
    jobs.cancel(id)
    id = jobs.push("c", max_retries=10)
    jobs.claim("w")
    assert jobs.fail(id, "no", worker_id="w", retry_after=0) == "scheduled"
    assert 0.5 < (jobs.get(id).run_at - _now()).total_seconds() <= 1.0
    #  the same policy again changes nothing (the call is resent like pause)
    jobs.set_backoff(1.0, cap=4.0, jitter=0.25)
    #  base 0 clears it: failures are pending again
    jobs.set_backoff(0)
    stats = client.stats().pool("backoff")
    assert stats.backoff_base_seconds == 0 and stats.backoff_cap_seconds == 0
    assert jobs.claim("w", wait=10).id == id
    assert jobs.fail(id, "no", worker_id="w") == "pending"
    #  cap None: the base
    jobs.set_backoff(2.0)
    assert client.stats().pool("backoff").backoff_cap_seconds in (0.0, 2.0)


def test_schedules_add_list_remove_and_an_every_second_cron_fires(client):
    record = client.schedule_add("tick", "cron", "* * * * * *", {"beat": 1}, priority=-3,
                                 max_retries=1)
    assert isinstance(record, workpool.Schedule)
    assert (record.name, record.pool, record.cron, record.data, record.priority,
            record.max_retries) == ("tick", "cron", "* * * * * *", {"beat": 1}, -3, 1)
    assert record.next_at is not None and record.created_at is not None
    assert 0 < (record.next_at - _now()).total_seconds() <= 1.1
    assert record.last_fired_at is None
    client.schedule_add("nightly", "cron", "0 0 2 * * *", "vacuum")
    assert [s.name for s in client.schedule_list()] == ["nightly", "tick"]
    nightly = client.schedule_list()[0]
    assert nightly.max_retries is None and nightly.priority == 0
    assert (nightly.next_at.hour, nightly.next_at.minute, nightly.next_at.second) == (2, 0, 0)
    jobs = client.pool("cron")
    item = jobs.claim("w", wait=10)
    assert item is not None and item.id.startswith("tick@") and item.data == {"beat": 1}
    tick = _wire.parse_time(item.id[len("tick@"):])
    assert tick.microsecond == 0 and item.priority == -3 and item.max_retries == 1
    second = jobs.claim("w", wait=10)
    assert second.id.startswith("tick@") and second.id > item.id
    fired = [s for s in client.schedule_list() if s.name == "tick"][0]
    assert fired.last_fired_at is not None and fired.last_fired_at >= tick
    #  Add replaces the whole record
    replaced = client.schedule_add("tick", "cron", "0 0 0 1 1 *", {"beat": 2})
    assert replaced.data == {"beat": 2} and replaced.priority == 0 and replaced.max_retries is None
    client.schedule_remove("tick")
    client.schedule_remove("nightly")
    assert client.schedule_list() == []
    with pytest.raises(workpool.NotFound) as e:
        client.schedule_remove("tick")
    assert "no schedule 'tick'" in e.value.message


def test_bad_input_is_refused_before_sending(tmp_path):
    #  No broker at all: a check that let the call through would fail
    #  Unavailable instead of InvalidArgument
    with workpool.Client("ipc://%s/nobody.ipc" % tmp_path, timeout=0.3) as c:
        jobs = c.pool("p")
        cases = [
            (lambda: jobs.push(1, delay=-1), "field 'delay_seconds' must be a finite number"),
            (lambda: jobs.push(1, delay=31622400.5), "at most 3.16224e+07"),
            (lambda: jobs.push(1, delay=float("nan")), "delay_seconds"),
            (lambda: jobs.push(1, priority=2 ** 31),
             "field 'priority' must be an integer from -2147483648 to 2147483647"),
            (lambda: jobs.push(1, priority=1.5), "field 'priority' must be an integer"),
            (lambda: jobs.push(1, unique_key=""), "field 'unique_key' must be a string of 1 to 255"),
            (lambda: jobs.push(1, unique_key="k" * 256), "unique_key"),
            (lambda: jobs.push_many([1, workpool.Entry(2, priority=-(2 ** 31) - 1)]), "priority"),
            (lambda: jobs.fail("a", retry_after=-0.1), "field 'retry_after_seconds'"),
            (lambda: jobs.set_backoff(-1), "field 'base_seconds'"),
            (lambda: jobs.set_backoff(1, cap=4e7), "field 'cap_seconds'"),
            (lambda: jobs.set_backoff(1, jitter=1.5),
             "field 'jitter' must be a finite number of at least 0 and at most 1"),
            (lambda: c.schedule_add("n" * 201, "p", "* * * * *", 1),
             "field 'name' must be a string of 1 to 200 bytes"),
            (lambda: c.schedule_add("", "p", "* * * * *", 1), "field 'name'"),
            (lambda: c.schedule_add("s", "p", "*" * 256, 1),
             "field 'cron' must be a string of at most 255 bytes of UTF-8 without NUL"),
            (lambda: c.schedule_add("s", "p", "* * * * *", 1, priority=2 ** 31), "priority"),
            (lambda: c.schedule_add("s", "p", "* * * * *", 1, max_retries=-1), "max_retries"),
            (lambda: c.schedule_remove("n" * 201), "field 'name'"),
            (lambda: workpool.RetryLater(-1), "retry_after_seconds"),
        ]
        for call, words in cases:
            with pytest.raises(workpool.InvalidArgument) as e:
                call()
            assert words in e.value.message, (words, e.value.message)


def test_bad_input_is_refused_by_the_broker(client):
    bad = [
        ("WorkPool.Push", {"pool": "p", "data": b"\x01", "delay_seconds": -1.0}),
        ("WorkPool.Push", {"pool": "p", "data": b"\x01", "delay_seconds": 4e7}),
        ("WorkPool.Push", {"pool": "p", "data": b"\x01", "priority": 2 ** 31}),
        ("WorkPool.Push", {"pool": "p", "data": b"\x01", "run_at": "not a time"}),
        ("WorkPool.Push", {"pool": "p", "data": b"\x01", "unique_key": ""}),
        ("WorkPool.PushMany", {"pool": "p", "items": [{"data": b"\x01", "id": "a",
                                                      "priority": -(2 ** 31) - 1}]}),
        ("WorkPool.Fail", {"pool": "p", "id": "a", "retry_after_seconds": -1.0}),
        ("WorkPool.SetBackoff", {"pool": "p", "base_seconds": 1.0, "jitter": 2.0}),
        ("WorkPool.SetBackoff", {"pool": "p", "base_seconds": -1.0}),
        ("Schedule.Add", {"name": "n" * 201, "pool": "p", "cron": "* * * * *",
                          "data": b"\x01"}),
        ("Schedule.Add", {"name": "s", "pool": "p", "cron": "*" * 256, "data": b"\x01"}),
    ]
    for method, fields in bad:
        with pytest.raises(workpool.InvalidArgument):
            _raw(client, method, fields)
    #  What only the store can tell: both a delay and a time; a cron that
    #  does not parse; a time too far ahead
    jobs = client.pool("p")
    with pytest.raises(workpool.InvalidArgument) as e:
        jobs.push(1, delay=5, run_at=_now())
    assert "give delay_seconds or run_at, not both" in e.value.message
    with pytest.raises(workpool.InvalidArgument):
        client.schedule_add("s", "p", "61 * * * *", 1)
    with pytest.raises(workpool.InvalidArgument) as e:
        jobs.push(1, run_at=_now() + datetime.timedelta(days=400))
    assert "run_at" in e.value.message
    assert jobs.size() == 0 and client.schedule_list() == []


def test_retry_later_from_a_worker_handler(broker, client):
    jobs = client.pool("jobs")
    id = jobs.push({"n": 2})
    seen = []

    def handle(item):
        seen.append(time.monotonic())
        if len(seen) == 1:
            raise workpool.RetryLater(1.0, "rate limited")
        return {"doubled": item.data["n"] * 2}

    worker = workpool.Worker(broker.endpoint, "jobs", handler=handle, wait=0.5,
                             heartbeat_interval=0.5, handle_signals=False)
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while jobs.get(id).status != "done":
            assert time.monotonic() < deadline, jobs.get(id)
            time.sleep(0.05)
    finally:
        worker.stop()
        thread.join(10)
    item = jobs.get(id)
    assert item.result == {"doubled": 4} and item.attempts == 1 and item.error == "rate limited"
    assert len(seen) == 2 and seen[1] - seen[0] >= 0.9


def test_retry_later_from_an_async_worker_handler(broker, client):
    jobs = client.pool("ajobs")
    id = jobs.push(1, max_retries=1)

    async def handle(item):
        raise workpool.RetryLater(30)

    async def main():
        worker = workpool.AsyncWorker(broker.endpoint, "ajobs", wait=0.3, handle_signals=False)
        task = asyncio.ensure_future(worker.run(handle))
        for _ in range(200):
            if jobs.get(id).status != "pending" and jobs.get(id).status != "claimed":
                break
            await asyncio.sleep(0.05)
        worker.stop()
        await asyncio.wait_for(task, 10)
    asyncio.run(main())
    item = jobs.get(id)
    #  max_retries 1: the one failed attempt poisons it, RetryLater or not
    assert item.status == "poisoned" and item.error == "retry in 30 s"


def test_async_client_scheduling_calls(broker):
    async def main():
        async with workpool.AsyncClient(broker.endpoint, timeout=10) as c:
            jobs = c.pool("async")
            await jobs.set_backoff(3.0)
            ids = await asyncio.gather(jobs.push(1, priority=9), jobs.push(2, priority=1),
                                       jobs.push(3, delay=60))
            assert (await jobs.claim("w")).id == ids[1]
            assert (await jobs.get(ids[2])).status == "scheduled"
            record = await c.schedule_add("a", "async", "*/5 * * * *", None)
            assert [s.name for s in await c.schedule_list()] == [record.name]
            await c.schedule_remove("a")
            stats = (await c.stats()).pool("async")
            assert stats.scheduled == 1 and stats.backoff_base_seconds == 3.0
    asyncio.run(main())


def test_flatagents_push_options_and_fail_retry_after(broker, client):
    work = create_work_backend("workpool", endpoint=broker.endpoint, timeout=10)

    async def main():
        pool = work.pool("fa")
        late = await pool.push({"k": 1}, {"delay": 60, "max_retries": 5})
        low = await pool.push({"k": 2}, {"priority": 10})
        high = await pool.push({"k": 3}, {"priority": -10, "unique_key": "u"})
        assert await pool.push({"k": 4}, {"unique_key": "u"}) == high
        plain = await pool.push({"k": 5}, {"ignored": True})
        item = await pool.claim("w")
        assert item.id == high
        await pool.fail(item.id, "later", retry_after=60)
        assert (await pool.claim("w")).id == plain          # priority 0 before 10
        assert (await pool.claim("w")).id == low
        return late, high
    try:
        late, high = asyncio.run(main())
    finally:
        asyncio.run(work.close())
    assert client.pool("fa").get(late).status == "scheduled"
    assert client.pool("fa").get(late).max_retries == 5
    assert client.pool("fa").get(high).status == "scheduled"
