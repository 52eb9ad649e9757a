"""The clients' contract beyond the wire cases: errors as classes,
deadlines, the resend rules, asyncio pipelining, the JSON mapping shared
with the CLI, and the two clients having the same methods."""
import asyncio
import inspect
import json
import os
import subprocess
import time

import pytest

import workpool
from workpool.jsonvalue import from_json, to_json


def test_records_and_errors(client):
    jobs = client.pool("jobs")
    first = jobs.push({"n": 1})
    assert jobs.push_entry(2, id="two").duplicate is False
    assert jobs.push_entry(3, id="two") == workpool.Pushed("two", True)
    item = jobs.claim("w1")
    assert isinstance(item, workpool.Item) and item.id == first and item.data == {"n": 1}
    assert item.claimed_at.tzinfo is not None and item.lease_expires_at > item.claimed_at
    jobs.complete(item.id, {"ok": True}, worker_id="w1")
    assert jobs.get(first).result == {"ok": True}
    with pytest.raises(workpool.FailedPrecondition) as e:
        jobs.complete(item.id, worker_id="w1")
    assert e.value.code == workpool.Status.FAILED_PRECONDITION and "is done" in e.value.message
    with pytest.raises(KeyError):           # NotFound is a KeyError, as the SDK raises
        jobs.get("nope")
    with pytest.raises(workpool.NotFound) as e:
        jobs.get("nope")
    assert str(e.value) == "NOT_FOUND: " + e.value.message and "nope" in e.value.message
    with pytest.raises(ValueError):         # InvalidArgument is a ValueError
        jobs.claim_many("w1", 0)
    with pytest.raises(workpool.InvalidArgument):
        client.pool("").push(1)
    assert isinstance(workpool.error_for(99, "x"), workpool.WorkpoolError)


def test_unreachable_broker_is_unavailable_within_the_deadline(tmp_path):
    with workpool.Client("ipc://%s/nobody.ipc" % tmp_path, timeout=0.5) as c:
        t0 = time.monotonic()
        with pytest.raises(workpool.Unavailable) as e:
            c.ping()
        assert 0.45 < time.monotonic() - t0 < 3
        assert "no broker reachable" in e.value.message


def test_async_unreachable_broker_is_unavailable(tmp_path):
    async def main():
        async with workpool.AsyncClient("ipc://%s/nobody.ipc" % tmp_path, timeout=0.5) as c:
            with pytest.raises(workpool.Unavailable):
                await c.size("p")
    asyncio.run(main())


def _counter(client, name):
    return client.stats().counters.get(name, 0)


def test_resend_rules(start_broker):
    """Every batch is held 700 ms; the client asks again after 200 ms when
    a call may be resent, never for a claim."""
    broker = start_broker("--test-stall-ms", "700")
    with workpool.Client(broker.endpoint, timeout=10, retry_interval=0.2) as c, \
            workpool.Client(broker.endpoint, timeout=10) as admin:
        p = c.pool("p")
        assert p.claim("w", wait=0) is None
        assert _counter(admin, "requests.WorkPool.Claim.OK") == 1
        assert p.size() == 0
        time.sleep(1.5)         # the resent copies are answered too
        assert _counter(admin, "requests.WorkPool.Size.OK") >= 2

        # A push of an id the client made, resent: reported as new, pushed once
        pushed = p.push_entry("x")
        assert pushed.duplicate is False
        time.sleep(1.5)
        assert admin.size("p") == 1 and _counter(admin, "requests.WorkPool.Push.OK") >= 2

        # A complete with a worker id, resent: the first copy's success
        item = admin.claim("p", "w")
        p.complete(item.id, "r", worker_id="w")
        time.sleep(1.5)
        assert _counter(admin, "requests.WorkPool.Complete.FAILED_PRECONDITION") >= 1
        assert admin.get("p", item.id).status == "done"

        # A fail with a worker id, resent: the state the first copy left
        item_id = admin.push("p", "y")
        admin.claim("p", "w")
        assert p.fail(item_id, "boom", worker_id="w") == "pending"
        time.sleep(1.5)
        assert _counter(admin, "requests.WorkPool.Fail.FAILED_PRECONDITION") >= 1
        assert admin.get("p", item_id).attempts == 1

        # Without a worker id: sent once
        item_id = admin.push("q", "z")
        admin.claim("q", "w")
        before = _counter(admin, "requests.WorkPool.Complete.OK")
        c.complete("q", item_id)
        time.sleep(1.0)
        assert _counter(admin, "requests.WorkPool.Complete.OK") == before + 1


def test_deadline_exceeded_when_the_reply_is_late(start_broker):
    broker = start_broker("--test-stall-ms", "1500")
    with workpool.Client(broker.endpoint, timeout=0.4) as c:
        t0 = time.monotonic()
        with pytest.raises(workpool.DeadlineExceeded):
            c.claim("p", "w")
        assert time.monotonic() - t0 < 1.4


def test_a_claim_waits_for_a_push(broker):
    async def main():
        async with workpool.AsyncClient(broker.endpoint, timeout=10) as c:
            t0 = time.monotonic()
            assert await c.claim("q", "w", wait=0.3) is None
            assert time.monotonic() - t0 >= 0.29
            waiting = asyncio.ensure_future(c.claim("q", "w", wait=30))
            await asyncio.sleep(0.3)
            assert not waiting.done()
            pushed = await c.push("q", "hello")     # on the same socket
            item = await asyncio.wait_for(waiting, 10)
            assert item.id == pushed and item.data == "hello"
    asyncio.run(main())


def test_async_pipelining(broker):
    """1,000 pushes gathered over one client: all arrive, ids distinct, in
    whatever order the replies came; many ran in one broker batch."""
    async def main():
        async with workpool.AsyncClient(broker.endpoint, timeout=30) as c:
            jobs = c.pool("jobs")
            ids = await asyncio.gather(*(jobs.push({"i": i}) for i in range(1000)))
            assert len(ids) == 1000 and len(set(ids)) == 1000
            assert await jobs.size() == 1000
            stats = await c.stats()
            assert stats.counters["batch_max_seen"] > 1
            seen = set()
            while True:
                batch = await jobs.claim_many("w", 1000)
                if not batch:
                    break
                seen.update(i.data["i"] for i in batch)
            assert seen == set(range(1000))
    asyncio.run(main())


def test_async_client_moves_between_event_loops(broker):
    c = workpool.AsyncClient(broker.endpoint, timeout=10)
    assert asyncio.run(c.push("p", 1))
    assert asyncio.run(c.size("p")) == 1
    asyncio.run(c.close())


def test_both_clients_have_the_same_methods():
    def public(cls):
        return {n for n, _ in inspect.getmembers(cls) if not n.startswith("_")}
    assert public(workpool.Client) == public(workpool.AsyncClient)
    assert public(workpool.Pool) == public(workpool.AsyncPool)
    for name in public(workpool.Pool) - {"iter_items", "subscribe"}:
        assert inspect.iscoroutinefunction(getattr(workpool.AsyncClient, name)), name


VALUES = ['{"n": 1}', '[1, -2, 2.5, null, true, false, "s"]', '"caf\u00e9"', '18446744073',
          '{"bin": {"$bin": "AAH/"}, "ext": {"$ext": 5, "$bin": "eHk="}, "nested": {"a": [[]]}}',
          '0.1', '[-9223372036854775808, 9223372036854775807]']


def _cli(endpoint, *args):
    cli = os.environ.get("WP_CLI")
    if not cli or not os.access(cli, os.X_OK):
        pytest.skip("no workpool CLI (set WP_CLI)")
    out = subprocess.run([cli, "--endpoint", endpoint, "--timeout", "10"] + list(args),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.parametrize("text", VALUES)
def test_json_values_round_trip_with_the_cli(broker, client, text):
    value = json.loads(text)
    # CLI -> Python
    item_id = _cli(broker.endpoint, "push", "jobs", text)
    got = client.get("jobs", item_id)
    assert to_json(got.data) == value
    assert got.data_bytes == workpool._wire.encode_value(from_json(value))
    # Python -> CLI
    item_id = client.push("jobs", from_json(value))
    printed = json.loads(_cli(broker.endpoint, "get", "jobs", item_id))
    assert printed["data"] == value


def test_iter_items_pages_through_a_pool(broker, client):
    pytest.importorskip("workpool")
    try:
        client.list_items("probe", limit=1)
    except (workpool.Unimplemented, workpool.DeadlineExceeded):
        pytest.skip("this broker has no WorkPool.List yet")
    client.push_many("p", list(range(250)))
    assert [i.data for i in client.pool("p").iter_items(page_size=100)] == list(range(250))
    assert [i.data for i in client.iter_items("p", "claimed")] == []
