"""Failover end to end on PostgreSQL (FAILOVER.md, issue 17): two workpoold
processes on one database (under tests/store/postgres/with_postgres.sh,
WP_TEST_PG); producers and workers given both endpoints; the broker they
use is SIGKILLed mid-load. Every acknowledged push and complete is in the
database, no push made a second item, each item is completed once."""
import os
import subprocess
import threading

import pytest

import workpool
from broker import Broker

PG = os.environ.get("WP_TEST_PG")
pytestmark = pytest.mark.skipif(not PG, reason="WP_TEST_PG not set (with_postgres.sh)")
TOTAL = 600


def sql(query):
    out = subprocess.run(["psql", PG, "-qAtX", "-F", "\t", "-c", query], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return [line.split("\t") for line in out.stdout.splitlines() if line]


class PgBroker(Broker):
    def start(self, timeout=30.0):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [self.binary, "--bind", self.endpoint, "--store", "postgres", "--db", PG,
                 "--log-level", "error"], stdout=log, stderr=subprocess.STDOUT)
        return self._wait_ready(timeout)


def test_sigkill_mid_load_loses_nothing(workpoold, tmp_path):
    brokers = []
    for name in ("a", "b"):
        d = tmp_path / name
        d.mkdir()
        brokers.append(PgBroker(workpoold, str(d)).start())
    endpoints = ",".join(b.endpoint for b in brokers)
    lock = threading.Lock()
    acked, completed, moves, errors = [], [], [], []
    killed = threading.Event()

    def producer(k):
        with workpool.Client(endpoints, timeout=20, retry_interval=0.3) as c:
            for n in range(TOTAL // 2):
                item_id = "p%d-%d" % (k, n)
                try:
                    c.push_entry("fo", {"n": n}, id=item_id, max_retries=50)
                except workpool.WorkpoolError as e:
                    errors.append(e)        # not acknowledged: may or may not be there
                    continue
                with lock:
                    acked.append(item_id)
                    if len(acked) == TOTAL // 3 and not killed.is_set():
                        brokers[0].kill()   # the one every client uses
                        killed.set()
            moves.append(c.moves)

    def worker(k):
        wid = "w%d" % k
        with workpool.Client(endpoints, timeout=20, retry_interval=0.3) as c:
            while True:
                with lock:
                    if len(completed) >= TOTAL:
                        break
                try:
                    item = c.claim("fo", wid, wait=0.2, lease=2)
                except (workpool.DeadlineExceeded, workpool.Unavailable):
                    continue                # a claim in flight at the kill: never resent
                if item is None:
                    with lock:
                        if not any(t.is_alive() for t in producers) and len(completed) >= len(acked):
                            break
                    continue
                try:
                    c.complete("fo", item.id, {"by": wid}, worker_id=wid)
                except (workpool.FailedPrecondition, workpool.NotFound):
                    continue                # its lease ran out meanwhile: claimed again
                except (workpool.DeadlineExceeded, workpool.Unavailable):
                    continue
                with lock:
                    completed.append(item.id)
            moves.append(c.moves)

    producers = [threading.Thread(target=producer, args=(k,)) for k in range(2)]
    for t in producers:
        t.start()
    workers = [threading.Thread(target=worker, args=(k,)) for k in range(2)]
    for t in workers:
        t.start()
    for t in producers + workers:
        t.join(300)
    assert not any(t.is_alive() for t in producers + workers)
    try:
        assert killed.is_set()
        assert not errors, errors[:3]
        assert len(acked) == TOTAL
        assert all(m >= 1 for m in moves), moves   # every client moved
        rows = sql("SELECT i.id, i.status FROM wp_items i JOIN wp_pools p"
                   " ON p.pool_id = i.pool_id WHERE p.name = 'fo'")
        ids = [r[0] for r in rows]
        assert len(ids) == len(set(ids)) == TOTAL, "a resent push made a second item"
        assert set(acked) == set(ids)
        assert len(completed) == len(set(completed)), "an item completed twice"
        status = dict(rows)
        assert all(status[i] == "2" for i in completed), "an acknowledged complete is lost"
        assert set(completed) == set(ids)
    finally:
        for b in brokers:
            b.kill()
