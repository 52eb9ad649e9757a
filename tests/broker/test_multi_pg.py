#!/usr/bin/env python3
"""Several workpoold processes on one PostgreSQL database (issue 17), black
box through their sockets (pyzmq + msgpack, see wpwire.py): a claim or a
subscription parked on one broker woken by a push, a failure, a release, a
retry or a scheduled item falling due on another (LISTEN/NOTIFY), also after
its listening connection was cut; 3 brokers and 16 worker processes racing
over 20,000 items; a broker SIGKILLed mid-load, its workers moving to the
others; two brokers firing one schedule.

The database is checked directly with psql at the end of each case.

usage: test_multi_pg.py WORKPOOLD CASE     (under with_postgres.sh: WP_TEST_PG)
"""
import datetime
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wpwire import *  # noqa: F401,F403

#  How soon a wake from another broker must arrive: a correctness bound, not
#  a speed claim (it arrives in milliseconds; without the wake, a parked
#  claim waits for its whole wait_seconds, 30 s, as housekeeping runs once a
#  minute)
WAKE_BOUND = 2.0


def sql(query):
    """Rows of query on the test database, as lists of strings."""
    out = subprocess.run(["psql", os.environ["WP_TEST_PG"], "-qAtX", "-F", "\t", "-c", query],
                         capture_output=True, text=True, timeout=120)
    check(out.returncode == 0, "psql: %s" % out.stderr)
    return [line.split("\t") for line in out.stdout.splitlines() if line]


def start_brokers(workpoold, tmp, count, *args, forms=None):
    """count brokers on the test database, each in its own directory."""
    brokers = []
    for k in range(count):
        workdir = os.path.join(tmp, "b%d" % k)
        os.mkdir(workdir)
        form = forms[k] if forms else "db"
        if form == "db":
            d = Daemon(workpoold, workdir, *args, store="postgres")
            d.db = os.environ["WP_TEST_PG"]
        else:
            #  --store postgres:CONNINFO, no --db
            d = Daemon(workpoold, workdir, *args, store="postgres:" + os.environ["WP_TEST_PG"])
            d.db = None
        brokers.append(d)
    for d in brokers:
        if d.db is None:
            d.log_file = open(d.log_path, "ab")
            d.process = subprocess.Popen([d.binary, "--bind", d.endpoint, "--store", d.store]
                                         + d.args, stdout=d.log_file, stderr=subprocess.STDOUT)
            Daemon.started.append(d)
            probe = Client(d.endpoint)
            try:
                wait_until(lambda: probe.send("Broker.Ping") and probe.recv(0.5) is not None,
                           "the broker to answer", 30, 0)
            finally:
                probe.close()
        else:
            d.start()
    return brokers


def parked(client):
    return client.counters()["parked"]


def timed_claim(worker, admin, pool, make_claimable, what, many=False):
    """Parks a claim on worker's broker, then calls make_claimable; returns
    the item claimed and how long after make_claimable it came."""
    body = {"pool": pool, "worker_id": "wa", "wait_seconds": 30}
    if many:
        body["max"] = 5
    r = worker.send("WorkPool.ClaimMany" if many else "WorkPool.Claim", body)
    wait_until(lambda: parked(admin) == 1, "the claim to park (%s)" % what)
    sent = time.monotonic()
    make_claimable()
    reply = worker.wait_for(r, 35)
    waited = time.monotonic() - sent
    check(reply.status == OK, "%s: %r" % (what, reply))
    item = reply.body["items"][0] if many else reply.body["item"]
    check(item is not None, "%s: the parked claim got nothing" % what)
    print("%-44s woken after %.3f s" % (what, waited))
    check(waited < WAKE_BOUND, "%s: woken after %.3f s, bound %g s" % (what, waited, WAKE_BOUND))
    return item


# ---------------------------------------------------------------------------
#  Wakes across brokers

def case_wake(workpoold, tmp):
    # The command line: --store postgres --db CONNINFO, --store postgres:CONNINFO, not both
    run = lambda *args: subprocess.run([workpoold] + list(args), capture_output=True, text=True,
                                       timeout=60, cwd=tmp)
    r = run("--help")
    check(r.returncode == 0 and "postgres:CONNINFO" in r.stdout, "--help: %s" % r.stdout)
    r = run("--store", "postgres:dbname=x", "--db", "dbname=y")
    check(r.returncode == 2 and "give one" in r.stderr, "both forms: %d %s"
          % (r.returncode, r.stderr))
    r = run("--store", "postgres", "--db", "host=/nonexistent password=secret",
            "--bind", "ipc://%s/x.ipc" % tmp)
    check(r.returncode == 1 and "cannot open store 'postgres:...'" in r.stderr
          and "secret" not in r.stderr, "an unreachable server: %d %s"
          % (r.returncode, r.stderr))
    a, b = start_brokers(workpoold, tmp, 2, forms=["db", "store"])
    ca, cb, wa, wb = Client(a.endpoint), Client(b.endpoint), Client(a.endpoint), Client(b.endpoint)
    try:
        # A push on B
        item = timed_claim(wa, ca, "p1", lambda: cb.ok("WorkPool.Push", {
            "pool": "p1", "id": "x1", "data": pack(1)}), "claim on A, push on B")
        check(item["id"] == "x1" and item["claimed_by"] == "wa", "claimed %r" % item)

        # A Fail back to pending on B
        cb.ok("WorkPool.Push", {"pool": "p2", "id": "x2", "data": pack(2), "max_retries": 5})
        got = cb.ok("WorkPool.Claim", {"pool": "p2", "worker_id": "wb"})["item"]
        check(got["id"] == "x2", "claimed on B %r" % got)

        def fail():
            check(cb.ok("WorkPool.Fail", {"pool": "p2", "id": "x2", "worker_id": "wb",
                                          "error": "e"})["status"] == "pending", "fail")
        item = timed_claim(wa, ca, "p2", fail, "claim on A, Fail to pending on B")
        check(item["id"] == "x2" and item["attempts"] == 1, "claimed %r" % item)

        # A release by worker on B
        cb.ok("WorkPool.Push", {"pool": "p3", "id": "x3", "data": pack(3)})
        cb.ok("WorkPool.Claim", {"pool": "p3", "worker_id": "wb"})
        item = timed_claim(wa, ca, "p3", lambda: cb.ok("WorkPool.ReleaseByWorker", {
            "pool": "p3", "worker_id": "wb"}), "ClaimMany on A, release on B", many=True)
        check(item["id"] == "x3", "claimed %r" % item)

        # A retry of a poisoned item on B
        cb.ok("WorkPool.Push", {"pool": "p4", "id": "x4", "data": pack(4), "max_retries": 1})
        cb.ok("WorkPool.Claim", {"pool": "p4", "worker_id": "wb"})
        check(cb.ok("WorkPool.Fail", {"pool": "p4", "id": "x4", "worker_id": "wb"})["status"]
              == "poisoned", "poisoned")
        item = timed_claim(wa, ca, "p4", lambda: cb.ok("WorkPool.Retry", {
            "pool": "p4", "id": "x4"}), "claim on A, retry on B")
        check(item["id"] == "x4", "claimed %r" % item)

        # A resume on B of a pool paused with an item
        cb.ok("WorkPool.Pause", {"pool": "p5"})
        cb.ok("WorkPool.Push", {"pool": "p5", "id": "x5", "data": pack(5)})
        item = timed_claim(wa, ca, "p5", lambda: cb.ok("WorkPool.Resume", {"pool": "p5"}),
                           "claim on A, resume on B")
        check(item["id"] == "x5", "claimed %r" % item)

        # A scheduled item pushed on B falls due: both brokers' timers fire,
        # one promotes it, the other must hear of it
        for k in range(3):
            pool, delay = "d%d" % k, 0.5
            r = wa.send("WorkPool.Claim", {"pool": pool, "worker_id": "wa", "wait_seconds": 30})
            wait_until(lambda: parked(ca) == 1, "the claim to park (delayed)")
            sent = time.monotonic()
            cb.ok("WorkPool.Push", {"pool": pool, "id": "y", "data": pack(0),
                                    "delay_seconds": delay})
            item = wa.wait_for(r, 35).body["item"]
            waited = time.monotonic() - sent - delay
            check(item is not None and item["id"] == "y", "delayed item %r" % item)
            print("%-44s woken %.3f s after it fell due" % ("claim on A, delayed push on B", waited))
            check(waited < WAKE_BOUND, "woken %.3f s after its due time" % waited)

        # A subscription on A, pushes on B
        rid = wa.subscribe({"pool": "s1", "worker_id": "ws", "credit": 4})
        wait_until(lambda: ca.counters()["subscriptions"] == 1, "the subscription")
        for k in range(3):
            sent = time.monotonic()
            cb.ok("WorkPool.Push", {"pool": "s1", "id": "s%d" % k, "data": pack(k)})
            reply = wa.stream_next(rid, 35)
            waited = time.monotonic() - sent
            check(reply is not None and reply.status == OK, "stream message %r" % reply)
            check([i["id"] for i in reply.body["items"]] == ["s%d" % k], "streamed %r" % reply)
            print("%-44s woken after %.3f s" % ("subscription on A, push on B", waited))
            check(waited < WAKE_BOUND, "subscription woken after %.3f s" % waited)
        wa.send("WorkPool.Unsubscribe", {"pool": "s1", "worker_id": "ws"})
        wait_until(lambda: ca.counters()["subscriptions"] == 0, "the unsubscription")

        # The listening connection cut (pg_terminate_backend): A listens
        # again, and serves every pool once for what it may have missed
        cut = sql("SELECT pg_terminate_backend (pid) FROM pg_stat_activity"
                  " WHERE application_name = 'workpool-listen'")
        check(len(cut) == 2, "the brokers' listening connections: %r" % cut)
        r = wa.send("WorkPool.Claim", {"pool": "p6", "worker_id": "wa", "wait_seconds": 30})
        wait_until(lambda: parked(ca) == 1, "the claim to park (after the cut)")
        cb.ok("WorkPool.Push", {"pool": "p6", "id": "x6", "data": pack(6)})
        item = wa.wait_for(r, 35).body["item"]
        check(item is not None and item["id"] == "x6", "after the cut: %r" % item)
        wait_until(lambda: len(sql("SELECT 1 FROM pg_stat_activity"
                                   " WHERE application_name = 'workpool-listen'")) == 2,
                   "both brokers listening again")
        item = timed_claim(wa, ca, "p7", lambda: cb.ok("WorkPool.Push", {
            "pool": "p7", "id": "x7", "data": pack(7)}), "claim on A, push on B (relistened)")
        check(ca.counters()["store_wakes"] > 0, "A counted no wake")

        # What only B knew of when it died: a delayed push made there, and
        # a short lease taken there; A's timer reads the shared database
        # again within a second, whatever it last read
        cb.ok("WorkPool.Push", {"pool": "k1", "id": "z1", "data": pack(1), "max_retries": 5})
        check(cb.ok("WorkPool.Claim", {"pool": "k1", "worker_id": "wb", "lease_seconds": 1})
              ["item"]["id"] == "z1", "claim on B")
        r1 = wa.send("WorkPool.Claim", {"pool": "k1", "worker_id": "wa", "wait_seconds": 30})
        r2 = wa.send("WorkPool.Claim", {"pool": "k2", "worker_id": "wa", "wait_seconds": 30})
        wait_until(lambda: parked(ca) == 2, "the claims to park (B to die)")
        cb.ok("WorkPool.Push", {"pool": "k2", "id": "z2", "data": pack(2), "delay_seconds": 1})
        sent = time.monotonic()
        b.kill()
        for r, what in ((r1, "a lease taken on B"), (r2, "a delayed push on B")):
            reply = wa.wait_for(r, 35)
            waited = time.monotonic() - sent - 1.0
            check(reply.body["item"] is not None, "%s, B killed: nothing" % what)
            print("%-44s served %.3f s after it fell due" % (what + ", B killed", waited))
            check(waited < WAKE_BOUND, "%s, B killed: served %.3f s after it fell due"
                  % (what, waited))
    finally:
        for c in (ca, cb, wa, wb):
            c.close()
    a.stop()


# ---------------------------------------------------------------------------
#  Worker and producer processes, each on one broker, moving to the next
#  endpoint when theirs stops answering

class Mover:
    """A client on endpoints[at] that moves to the next when one is silent."""

    def __init__(self, endpoints, at, silence):
        self.endpoints, self.at, self.silence = endpoints, at, silence
        self.client = Client(endpoints[at])

    def call(self, method, body, log):
        while True:
            reply = self._call_once(method, body)
            if reply is not None and reply.status in (UNAVAILABLE, ABORTED, DEADLINE_EXCEEDED):
                time.sleep(0.05)        # a store failing for a moment: again
                continue
            if reply is not None:
                return reply
            self.client.close()
            self.at = (self.at + 1) % len(self.endpoints)
            self.client = Client(self.endpoints[self.at])
            log.write("F %s\n" % self.endpoints[self.at])

    def _call_once(self, method, body):
        try:
            return self.client.wait_for(self.client.send(method, body), self.silence)
        except TestFailure:
            return None


def worker_main(endpoints, at, worker, log_path, lease, silence, stop_path):
    """Claims batches and completes them; logs "C id" for each complete
    answered OK, until stop_path exists and nothing is left to claim."""
    log = open(log_path, "a", buffering=1)
    m = Mover(endpoints.split(","), int(at), silence)
    while True:
        reply = m.call("WorkPool.ClaimMany", {"pool": "race", "worker_id": worker, "max": 10,
                                              "wait_seconds": 0.5, "lease_seconds": lease}, log)
        check(reply.status == OK, "ClaimMany %r" % reply)
        items = reply.body["items"]
        if not items:
            if os.path.exists(stop_path):
                return
            continue
        reply = m.call("WorkPool.CompleteMany", {"pool": "race", "worker_id": worker,
                                                 "items": [{"id": i["id"]} for i in items]}, log)
        check(reply.status == OK, "CompleteMany %r" % reply)
        for item, status in zip(items, reply.body["statuses"]):
            if status == OK:
                log.write("C %s\n" % item["id"])


def producer_main(endpoints, at, prefix, count, log_path, silence):
    """Pushes count items prefix<k> in batches of 100; logs "P id" for each
    push acknowledged (a batch resent elsewhere is deduplicated by id)."""
    log = open(log_path, "a", buffering=1)
    m = Mover(endpoints.split(","), int(at), silence)
    for start in range(0, count, 100):
        ids = ["%s%d" % (prefix, k) for k in range(start, min(start + 100, count))]
        reply = m.call("WorkPool.PushMany", {"pool": "race", "items": [
            {"id": i, "data": pack(i), "max_retries": 25} for i in ids]}, log)
        check(reply.status == OK, "PushMany %r" % reply)
        log.write("".join("P %s\n" % i for i in ids))
        time.sleep(0.002)


def read_logs(paths):
    seen = {"P": [], "C": [], "F": []}
    for path in paths:
        if os.path.exists(path):
            with open(path) as f:
                for line in f:
                    kind, _, rest = line.rstrip("\n").partition(" ")
                    seen[kind].append(rest)
    return seen


def pool_counts():
    rows = sql("SELECT count(*), count(DISTINCT i.id),"
               " count(*) FILTER (WHERE status = 2), count(*) FILTER (WHERE status = 3),"
               " count(*) FILTER (WHERE status IN (0, 1, 4))"
               " FROM wp_items i JOIN wp_pools p ON p.pool_id = i.pool_id WHERE p.name = 'race'")
    return [int(x) for x in rows[0]]


def run_load(workpoold, tmp, total, workers, lease, silence, kill_at=None):
    brokers = start_brokers(workpoold, tmp, 3, "--log-level", "error")
    endpoints = ",".join(d.endpoint for d in brokers)
    me = os.path.abspath(__file__)
    stop = os.path.join(tmp, "stop")
    worker_logs = [os.path.join(tmp, "w%d.log" % k) for k in range(workers)]
    producer_logs = [os.path.join(tmp, "p%d.log" % k) for k in range(3)]
    procs = [subprocess.Popen([sys.executable, me, "--worker", endpoints, str(k % 3), "w%d" % k,
                               worker_logs[k], str(lease), str(silence), stop])
             for k in range(workers)]
    producers = [subprocess.Popen([sys.executable, me, "--producer", endpoints, str(k),
                                   "i%d-" % k, str(total // 3 + (k < total % 3)),
                                   producer_logs[k], str(silence)]) for k in range(3)]
    started = time.monotonic()
    killed = None
    try:
        if kill_at is not None:
            wait_until(lambda: pool_counts()[2] >= total * kill_at, "a share of the items done",
                       300, 0.1)
            killed = brokers[2]
            killed.process.send_signal(signal.SIGKILL)
            killed.process.wait()
            print("SIGKILLed broker 2 with %d of %d items done" % (pool_counts()[2], total))
        for p in producers:
            check(p.wait(600) == 0, "a producer failed")
        wait_until(lambda: pool_counts()[4] == 0 and pool_counts()[0] == total,
                   "every item done or poisoned", 600, 0.2)
        elapsed = time.monotonic() - started
        open(stop, "w").close()
        for p in procs:
            check(p.wait(60) == 0, "a worker failed")
    finally:
        for p in procs + producers:
            if p.poll() is None:
                p.kill()
                p.wait()
    for d in brokers:
        if d is not killed:
            d.stop()
    return read_logs(worker_logs + producer_logs), elapsed


def case_race(workpoold, tmp):
    total = 20000
    seen, elapsed = run_load(workpoold, tmp, total, 16, 60, 30)
    rows, ids, done, poisoned, live = pool_counts()
    check(rows == total and ids == total, "%d rows, %d ids, for %d items" % (rows, ids, total))
    check(done == total, "%d done of %d (%d poisoned)" % (done, total, poisoned))
    completed = seen["C"]
    check(len(completed) == total and len(set(completed)) == total,
          "%d completes answered OK for %d distinct ids of %d" % (len(completed),
                                                                  len(set(completed)), total))
    attempts = sql("SELECT max(attempts) FROM wp_items")[0][0]
    check(attempts == "0", "an item was tried again (%s attempts): a claim lapsed" % attempts)
    print("3 brokers, 16 workers: %d items each completed once in %.1f s (%.0f items/s)"
          % (total, elapsed, total / elapsed))


def case_sigkill(workpoold, tmp):
    total = 6000
    seen, elapsed = run_load(workpoold, tmp, total, 12, 2.0, 3.0, kill_at=0.25)
    rows, ids, done, poisoned, live = pool_counts()
    check(rows == total and ids == total, "%d rows, %d ids, for %d items" % (rows, ids, total))
    check(done + poisoned == total and live == 0, "%d done, %d poisoned of %d"
          % (done, poisoned, total))
    acked = set(seen["P"])
    check(len(acked) == total, "%d of %d pushes acknowledged" % (len(acked), total))
    present = {r[0] for r in sql("SELECT id FROM wp_items")}
    check(acked <= present, "acknowledged pushes lost: %r" % sorted(acked - present)[:5])
    completed = set(seen["C"])
    states = dict((r[0], r[1]) for r in sql("SELECT id, status FROM wp_items"))
    lost = [i for i in completed if states.get(i) != "2"]
    check(not lost, "acknowledged completes not done: %r" % lost[:5])
    check(len(seen["F"]) > 0, "no client moved to another broker: the kill proved nothing")
    again = int(sql("SELECT count(*) FROM wp_items WHERE attempts > 0")[0][0])
    print("%d items over a SIGKILL: %d pushes and %d completes acknowledged, none lost; "
          "%d moves to another broker, %d items came back after their lease, %d poisoned"
          % (total, len(acked), len(completed), len(seen["F"]), again, poisoned))


# ---------------------------------------------------------------------------
#  Two brokers, one schedule: each tick pushed once

def case_schedule(workpoold, tmp):
    brokers = start_brokers(workpoold, tmp, 3)
    clients = [Client(d.endpoint) for d in brokers]
    names = ["tick%d" % k for k in range(4)]
    try:
        for k, name in enumerate(names):
            clients[k % 3].ok("Schedule.Add", {"name": name, "pool": "cron",
                                               "cron": "* * * * * *", "data": pack(name)})
        time.sleep(6.5)
        for k, name in enumerate(names):
            clients[(k + 1) % 3].ok("Schedule.Remove", {"name": name})
        time.sleep(0.5)
        per = [c.counters()["schedule_fired"] for c in clients]
    finally:
        for c in clients:
            c.close()
    for d in brokers:
        d.stop()
    ids = [r[0] for r in sql("SELECT id FROM wp_items ORDER BY id")]
    check(len(ids) == len(set(ids)), "an id twice")
    check(sum(per) == len(ids), "the brokers counted %d firings (%r) for %d items"
          % (sum(per), per, len(ids)))
    for name in names:
        seconds = sorted(datetime.datetime.fromisoformat(
            i[len(name) + 1:].replace("Z", "+00:00")).timestamp()
            for i in ids if i.startswith(name + "@"))   # name@<RFC 3339 time>
        check(len(seconds) >= 5, "only %d ticks of %s in 6.5 s" % (len(seconds), name))
        gaps = [(x, y) for x, y in zip(seconds, seconds[1:]) if y - x != 1]
        check(not gaps, "ticks of %s missing: %r" % (name, gaps))
    print("%d ticks of %d schedules from three brokers (fired by each: %s), each pushed once"
          % (len(ids), len(names), " ".join(map(str, per))))


CASES = {name[5:]: fn for name, fn in list(globals().items()) if name.startswith("case_")}


def main():
    if len(sys.argv) == 9 and sys.argv[1] == "--worker":
        worker_main(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], float(sys.argv[6]),
                    float(sys.argv[7]), sys.argv[8])
        return 0
    if len(sys.argv) == 8 and sys.argv[1] == "--producer":
        producer_main(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6],
                      float(sys.argv[7]))
        return 0
    if len(sys.argv) != 3 or sys.argv[2] not in CASES:
        sys.stderr.write("usage: test_multi_pg.py WORKPOOLD CASE\ncases: %s\n" % " ".join(CASES))
        return 2
    if not os.environ.get("WP_TEST_PG"):
        sys.stderr.write("test_multi_pg.py: WP_TEST_PG is not set (run under with_postgres.sh)\n")
        return 2
    with Workdir() as tmp:
        try:
            CASES[sys.argv[2]](sys.argv[1], tmp)
        except TestFailure as e:
            sys.stderr.write("FAIL %s: %s\n" % (sys.argv[2], e))
            return 1
        finally:
            Daemon.kill_all()
    print("ok %s" % sys.argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main())
