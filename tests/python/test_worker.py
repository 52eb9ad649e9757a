"""workpool.Worker and AsyncWorker: a five-line worker, heartbeats while
the handler runs, re-registration when declared lost, and a clean stop on
SIGTERM that finishes the item in hand."""
import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import workpool

PACKAGE = os.path.join(os.environ.get("WP_SOURCE_DIR") or os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))), "client", "python")

FIVE_LINES = textwrap.dedent("""\
    import sys, time, workpool
    def handle(item):
        time.sleep(item.data.get("sleep", 0))
        return {"doubled": item.data["n"] * 2}
    workpool.Worker(sys.argv[1], "jobs", worker_id="w5", heartbeat_interval=0.3, wait=0.5).run(handle)
""")


def wait_until(predicate, what, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(0.05)


def _spawn(script, *args):
    env = dict(os.environ, PYTHONPATH=PACKAGE)
    return subprocess.Popen([sys.executable, "-c", script] + list(args), env=env)


def test_a_five_line_worker_and_sigterm(broker, client):
    jobs = client.pool("jobs")
    ids = [jobs.push({"n": n}) for n in range(5)]
    worker = _spawn(FIVE_LINES, broker.endpoint)
    try:
        wait_until(lambda: all(jobs.get(i).status == "done" for i in ids), "the items to be done")
        assert [jobs.get(i).result for i in ids] == [{"doubled": 2 * n} for n in range(5)]
        record = client.get_worker("w5")
        assert record.status == "active" and record.pid == worker.pid
        assert record.heartbeat_interval_seconds == 0.3

        # A slow item in hand when SIGTERM comes is finished, then the worker leaves
        slow = jobs.push({"n": 21, "sleep": 1.5})
        wait_until(lambda: jobs.get(slow).status == "claimed", "the slow item to be claimed")
        beat = client.get_worker("w5").last_heartbeat
        time.sleep(0.7)
        assert client.get_worker("w5").last_heartbeat > beat, "no heartbeat while handling"
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
        assert jobs.get(slow).status == "done" and jobs.get(slow).result == {"doubled": 42}
        assert client.get_worker("w5").status == "terminated"
        assert jobs.size() == 0
    finally:
        if worker.poll() is None:
            worker.kill()


def test_a_failing_handler_fails_the_item_with_its_text(broker, client):
    jobs = client.pool("jobs")
    bad = jobs.push_entry(0, max_retries=1).id

    def handle(item):
        return 1 / item.data

    w = workpool.Worker(broker.endpoint, "jobs", wait=0.2, handle_signals=False)
    thread = threading.Thread(target=w.run, args=(handle,))
    thread.start()
    try:
        wait_until(lambda: jobs.get(bad).status == "poisoned", "the item to be poisoned")
        assert jobs.get(bad).error == "ZeroDivisionError: division by zero"
    finally:
        w.stop()
        thread.join(30)
    assert client.get_worker(w.worker_id).status == "terminated"


def test_a_worker_declared_lost_registers_again(broker, client):
    w = workpool.Worker(broker.endpoint, "idle", heartbeat_interval=0.2, wait=0.2,
                        handle_signals=False)
    thread = threading.Thread(target=w.run, args=(lambda item: None,))
    thread.start()
    try:
        wait_until(lambda: w.heartbeats >= 2, "heartbeats")
        client.update_status(w.worker_id, "lost")
        wait_until(lambda: w.registrations >= 2, "the worker to register again")
        wait_until(lambda: client.get_worker(w.worker_id).status == "active", "active again")
    finally:
        w.stop()
        thread.join(30)


def test_async_worker(broker, client):
    jobs = client.pool("jobs")
    ids = [jobs.push(n, max_retries=1) for n in range(20)]

    async def handle(item):
        await asyncio.sleep(0.01)
        if item.data == 13:
            raise RuntimeError("unlucky")
        return item.data + 100

    async def main():
        w = workpool.AsyncWorker(broker.endpoint, "jobs", heartbeat_interval=0.2, wait=0.2,
                                 handle_signals=False)
        task = asyncio.ensure_future(w.run(handle))
        while w.processed < 20:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        assert w.heartbeats >= 1
        w.stop()
        assert await asyncio.wait_for(task, 30) == 20
        return w.worker_id

    worker_id = asyncio.run(main())
    for n, i in enumerate(ids):
        item = jobs.get(i)
        if n == 13:
            assert item.status == "poisoned" and item.error == "RuntimeError: unlucky"
        else:
            assert item.status == "done" and item.result == n + 100
    assert client.get_worker(worker_id).status == "terminated"


def test_async_worker_runs_a_plain_handler_in_a_thread(broker, client):
    jobs = client.pool("jobs")
    item_id = jobs.push(7)

    def handle(item):
        time.sleep(1.0)             # blocks its thread, not the loop: heartbeats go on
        return item.data * 3

    async def main():
        w = workpool.AsyncWorker(broker.endpoint, "jobs", heartbeat_interval=0.2, wait=0.2,
                                 handle_signals=False)
        task = asyncio.ensure_future(w.run(handle))
        while w.processed < 1:
            await asyncio.sleep(0.05)
        assert w.heartbeats >= 3
        w.stop()
        await asyncio.wait_for(task, 30)

    asyncio.run(main())
    assert jobs.get(item_id).result == 21
