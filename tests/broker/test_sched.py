#!/usr/bin/env python3
"""Black-box tests of workpoold's scheduling through its socket (pyzmq +
msgpack, see wpwire.py): claims parked on a pool woken when a delayed item
or a backoff falls due, and a periodic schedule across SIGKILLs of the
broker (no tick lost while it ran, none doubled, one catch-up after a
downtime and never a backlog).

usage: test_sched.py WORKPOOLD CASE
"""
import datetime
import os
import random
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wpwire import *  # noqa: F401,F403


def t(text):
    """An RFC 3339 time of the broker as seconds since the epoch."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def item_of(body, what):
    item = body["item"]
    check(item is not None, "expected %s, got none" % what)
    return item


def parked(client):
    return client.counters()["parked"]


# ---------------------------------------------------------------------------
#  A claim parked on a pool is woken when an item falls due

def case_parked_due(workpoold, tmp):
    daemon = Daemon(workpoold, tmp).start()
    admin, worker = Client(daemon.endpoint), Client(daemon.endpoint)
    try:
        lateness = []
        for delay in (0.3, 0.6, 1.0):
            pool = "d%g" % delay
            r = worker.send("WorkPool.Claim", {"pool": pool, "worker_id": "w", "wait_seconds": 30})
            wait_until(lambda: parked(admin) == 1, "the claim to park")
            sent = time.monotonic()
            admin.ok("WorkPool.Push", {"pool": pool, "data": pack(delay), "id": "x",
                                       "delay_seconds": delay})
            check(worker.recv(delay * 0.8) is None, "a claim got a delayed item early")
            item = item_of(worker.wait_for(r, 30).body, "the delayed item")
            waited = time.monotonic() - sent
            check(item["id"] == "x" and item["status"] == "claimed", "woken by %r" % item)
            check(waited >= delay * 0.95, "served after %.3fs, before its %gs delay"
                  % (waited, delay))
            check(t(item["claimed_at"]) >= t(item["run_at"]), "claimed before run_at: %r" % item)
            lateness.append(t(item["claimed_at"]) - t(item["run_at"]))

        # ClaimMany, and an item due by run_at
        r = worker.send("WorkPool.ClaimMany", {"pool": "many", "worker_id": "w", "max": 5,
                                               "wait_seconds": 30})
        wait_until(lambda: parked(admin) == 1, "the claim many to park")
        now = t(admin.ok("Broker.Ping")["time"])
        due = datetime.datetime.fromtimestamp(now + 0.5, datetime.timezone.utc)
        admin.ok("WorkPool.Push", {"pool": "many", "data": pack(1), "id": "m",
                                   "run_at": due.strftime("%Y-%m-%dT%H:%M:%S.%fZ")})
        items = worker.wait_for(r, 30).body["items"]
        check([i["id"] for i in items] == ["m"], "claim many woken by %r" % items)
        lateness.append(t(items[0]["claimed_at"]) - t(items[0]["run_at"]))

        # A fail with retry_after: the parked claim gets it when it is due again
        admin.ok("WorkPool.Push", {"pool": "again", "data": pack(1), "id": "a"})
        item_of(admin.ok("WorkPool.Claim", {"pool": "again", "worker_id": "w"}), "a")
        r = worker.send("WorkPool.Claim", {"pool": "again", "worker_id": "w2", "wait_seconds": 30})
        wait_until(lambda: parked(admin) == 1, "the claim to park")
        reply = admin.ok("WorkPool.Fail", {"pool": "again", "id": "a", "worker_id": "w",
                                           "error": "429", "retry_after_seconds": 0.4})
        check(reply["status"] == "scheduled", "fail with retry_after: %r" % reply)
        check(worker.recv(0.3) is None, "served before retry_after")
        item = item_of(worker.wait_for(r, 30).body, "the retried item")
        check(item["id"] == "a" and item["attempts"] == 1, "retried %r" % item)

        # A backoff policy: the same through the pool's policy
        admin.ok("WorkPool.SetBackoff", {"pool": "again", "base_seconds": 0.4,
                                         "cap_seconds": 10})
        r = worker.send("WorkPool.Claim", {"pool": "again", "worker_id": "w3", "wait_seconds": 30})
        wait_until(lambda: parked(admin) == 1, "the claim to park")
        reply = admin.ok("WorkPool.Fail", {"pool": "again", "id": "a", "worker_id": "w2"})
        check(reply["status"] == "scheduled", "fail under a backoff: %r" % reply)
        check(worker.recv(0.3) is None, "served before the backoff")
        check(item_of(worker.wait_for(r, 30).body, "the backed-off item")["id"] == "a", "backoff")

        # A paused pool keeps its parked claim waiting past the due time
        admin.ok("WorkPool.Pause", {"pool": "held"})
        r = worker.send("WorkPool.Claim", {"pool": "held", "worker_id": "w", "wait_seconds": 30})
        wait_until(lambda: parked(admin) == 1, "the claim to park")
        admin.ok("WorkPool.Push", {"pool": "held", "data": pack(1), "id": "h",
                                   "delay_seconds": 0.2})
        check(worker.recv(0.6) is None, "a paused pool served a claim")
        admin.ok("WorkPool.Resume", {"pool": "held"})
        check(item_of(worker.wait_for(r, 30).body, "h")["id"] == "h", "served after resume")
        counters = admin.counters()
        check(counters["promoted"] >= 5, "promoted counter %r" % counters["promoted"])
        check(counters["backed_off"] == 0, "backed_off counts reaps only: %r"
              % counters["backed_off"])
        print("lateness, due to claimed (broker clock), ms: %s"
              % " ".join("%.2f" % (x * 1000) for x in lateness))
    finally:
        admin.close()
        worker.close()
        daemon.stop()


# ---------------------------------------------------------------------------
#  A schedule across SIGKILLs

def case_schedule_sigkill(workpoold, tmp):
    daemon = Daemon(workpoold, tmp).start()
    c = Client(daemon.endpoint)
    record = c.ok("Schedule.Add", {"name": "tick", "pool": "cron", "cron": "* * * * * *",
                                   "data": pack("tick")})["schedule"]
    check(record["name"] == "tick" and record["last_fired_at"] is None, "added %r" % record)
    c.close()
    rng = random.Random(15)
    downs = []          # (killed at, restarted at, answering again at), wall clock
    started = time.time()
    for round in range(8):
        time.sleep(rng.uniform(0.4, 1.6))
        daemon.signal(signal.SIGKILL)
        killed = time.time()
        check(daemon.wait() == -signal.SIGKILL, "workpoold did not die of SIGKILL")
        if round == 3:
            time.sleep(3.2)        # a longer downtime: several ticks missed
        restarted = time.time()
        daemon = Daemon(workpoold, tmp).start()
        downs.append((killed, restarted, time.time()))
    time.sleep(1.5)
    c = Client(daemon.endpoint)
    try:
        ids, cursor = [], None
        while True:
            body = {"pool": "cron", "limit": 1000}
            if cursor:
                body["cursor"] = cursor
            page = c.ok("WorkPool.List", body)
            ids += [i["id"] for i in page["items"]]
            cursor = page["cursor"]
            if not cursor:
                break
        schedules = c.ok("Schedule.List")["schedules"]
    finally:
        c.close()
        daemon.stop()
    check(len(ids) == len(set(ids)), "an id twice")
    check(all(i.startswith("tick@") for i in ids), "ids %r" % ids[:3])
    ticks = sorted(t(i[5:]) for i in ids)
    check(all(x == int(x) for x in ticks), "ticks on whole seconds")
    check(len(ticks) == len(set(ticks)), "a tick pushed twice")
    check(ticks[0] < started + 1.5, "first tick at %.3f, added at %.3f" % (ticks[0], started))
    check(len(schedules) == 1 and t(schedules[0]["last_fired_at"]) == ticks[-1],
          "last_fired_at %r, last item %.0f" % (schedules, ticks[-1]))
    present = set(ticks)
    margin = 0.25       # the broker fires a tick within milliseconds of it
    lost = [x for x in range(int(ticks[0]), int(ticks[-1]) + 1) if x not in present
            and not any(k - margin < x <= u + margin for k, r, u in downs)]
    check(not lost, "ticks lost while the broker ran: %r (downtimes %r)" % (lost, downs))
    for k, r, u in downs:
        missed = [x for x in range(int(k) + 1, int(u) + 1)]
        fired = [x for x in ticks if k - 1 < x <= u + margin]
        if missed:
            check(fired, "no catch-up after the downtime %.3f..%.3f" % (k, u))
        # While no broker ran, ticks came and went; on the way back one of
        # them is pushed (the first missed), never a backlog
        dark = [x for x in ticks if k + margin < x <= r - margin]
        check(len(dark) <= 1, "a backlog fired after the downtime %.3f..%.3f: %r"
              % (k, r, dark))
    longest = max(r - k for k, r, u in downs)
    check(longest > 3, "no downtime long enough to miss several ticks")
    print("%d ticks over %d SIGKILLs (downtimes %s s): none lost while up, none twice,"
          " one catch-up" % (len(ticks), len(downs),
                             " ".join("%.2f" % (u - k) for k, r, u in downs)))


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in CASES:
        sys.stderr.write("usage: test_sched.py WORKPOOLD CASE\ncases: %s\n" % " ".join(CASES))
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
