#!/usr/bin/env python3
"""Black-box tests of WorkPool.Subscribe / Unsubscribe (issue 16) through
workpoold's socket (pyzmq + msgpack, see wpwire.py): credit, the
acknowledgements that return it, the ends of a stream, fairness with
parked claims, liveness, bad input, disconnects, a SIGKILL of the broker,
a multi-process race with subscribers killed mid-way, and CURVE roles.

usage: test_stream.py WORKPOOLD CASE     (WP_TEST_STORE picks the store)
       WORKPOOLD=... pytest test_stream.py
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wpwire import *  # noqa: F401,F403

QUIET = 0.5     # how long "nothing more comes" is watched for
TestFailure.__test__ = False    # pytest: an exception, not a test class


def push_n(c, pool, n, prefix="i", start=0, **fields):
    """Pushes n items named prefix<k>, in PushMany batches; returns the ids."""
    ids = ["%s%d" % (prefix, k) for k in range(start, start + n)]
    for at in range(0, n, 500):
        entries = [dict({"id": i, "data": pack(i)}, **fields) for i in ids[at:at + 500]]
        c.ok("WorkPool.PushMany", {"pool": pool, "items": entries})
    return ids


def items_of(reply, what="a stream message"):
    check(reply is not None, "no %s came" % what)
    check(reply.status == OK and isinstance(reply.body, dict), "%s: %r" % (what, reply))
    check("end" not in reply.body, "%s ended the stream: %r" % (what, reply))
    items = reply.body["items"]
    check(len(items) >= 1, "a stream message without items: %r" % reply)
    for item in items:
        check(item["status"] == "claimed", "streamed item not claimed: %r" % item)
    return items


def take(w, rid, count, what="items", timeout=20.0):
    """Reads stream messages until count items came; fails on more or an end."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < count:
        left = deadline - time.monotonic()
        reply = w.stream_next(rid, max(left, 0.01))
        check(reply is not None, "%s: %d of %d items came" % (what, len(got), count))
        got += items_of(reply, what)
    check(len(got) == count, "%s: %d items, expected %d" % (what, len(got), count))
    return got


def nothing_more(w, rid, what, quiet=QUIET):
    reply = w.stream_next(rid, quiet)
    check(reply is None, "%s: %r" % (what, reply))


def final(w, rid, status, what, timeout=20.0):
    reply = w.stream_next(rid, timeout)
    check(reply is not None, "no final reply: " + what)
    check(reply.status == status, "%s: %r" % (what, reply))
    if status == OK:
        check(reply.body == {"items": [], "end": True}, "final OK body %r" % reply)
    return reply


def complete(c, pool, item_id, worker):
    return c.ok("WorkPool.Complete", {"pool": pool, "id": item_id, "worker_id": worker})


def pool_stats(c, pool):
    for p in c.ok("Broker.Stats")["pools"]:
        if p["pool"] == pool:
            return p
    return {"pending": 0, "claimed": 0, "done": 0, "poisoned": 0, "scheduled": 0}


def get(c, pool, item_id):
    return c.ok("WorkPool.Get", {"pool": pool, "id": item_id})["item"]


class Broker:
    """A daemon and clients, all closed at the end."""

    def __init__(self, workpoold, tmp, *args):
        self.daemon = Daemon(workpoold, tmp, *args).start()
        self.clients = []

    def client(self):
        c = Client(self.daemon.endpoint)
        self.clients.append(c)
        return c

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for c in self.clients:
            c.close()
        if exc[0] is None:
            self.daemon.stop()
        else:
            self.daemon.kill()


# ---------------------------------------------------------------------------
#  Items, credit, acknowledgements

def case_basic(workpoold, tmp):
    with Broker(workpoold, tmp) as b:
        a, w = b.client(), b.client()
        before = push_n(a, "p", 3, "b")
        rid = w.subscribe({"pool": "p", "worker_id": "w1", "credit": 10})
        got = take(w, rid, 3, "items pushed before")
        check([i["id"] for i in got] == before, "order %r" % [i["id"] for i in got])
        check(all(i["claimed_by"] == "w1" and i["lease_expires_at"] for i in got),
              "claims %r" % got)
        after = push_n(a, "p", 4, "a")
        got = take(w, rid, 4, "items pushed after")
        check([i["id"] for i in got] == after, "order %r" % [i["id"] for i in got])
        check(get(a, "p", "a0")["claimed_by"] == "w1", "the store has the claim")
        counters = a.counters()
        check(counters["subscriptions"] == 1 and counters["stream_items"] == 7
              and counters["stream_messages"] >= 2, "counters %r" % counters)
        # A subscription is a request in flight; other requests still run
        check(w.ok("Broker.Ping")["server"].startswith("workpoold"), "ping while subscribed")


def case_credit(workpoold, tmp):
    credit = 4
    with Broker(workpoold, tmp) as b:
        a, w = b.client(), b.client()
        push_n(a, "c", 10 * credit)
        rid = w.subscribe({"pool": "c", "worker_id": "w", "credit": credit})
        held = take(w, rid, credit, "the first credit")
        nothing_more(w, rid, "more than credit streamed")
        check(pool_stats(a, "c")["claimed"] == credit, "claimed %r" % pool_stats(a, "c"))
        seen = [i["id"] for i in held]
        for k in range(10 * credit - credit):
            complete(a, "c", held.pop(0)["id"], "w")
            more = take(w, rid, 1, "the item for ack %d" % k)
            held += more
            seen += [i["id"] for i in more]
            if k % 9 == 0:
                nothing_more(w, rid, "more than one item for one ack", 0.2)
        nothing_more(w, rid, "an item of an empty pool")
        check(len(set(seen)) == 10 * credit, "ids streamed twice: %r" % seen)
        check(pool_stats(a, "c")["claimed"] == credit, "claimed at the end")
        check(a.counters()["stream_credits_returned"] == 9 * credit, "credits returned")


def case_pipelined(workpoold, tmp):
    credit, total = 8, 400
    with Broker(workpoold, tmp) as b:
        a, w = b.client(), b.client()
        push_n(a, "pl", total)
        rid = w.subscribe({"pool": "pl", "worker_id": "w", "credit": credit})
        received, acks, ok = [], [], 0
        while len(received) < total:
            reply = w.stream_next(rid, 20)
            items = items_of(reply, "stream message %d" % len(received))
            received += [i["id"] for i in items]
            # Never more than credit beyond the acks sent (the broker may
            # not have run them yet: it can only be fewer)
            check(len(received) - len(acks) <= credit,
                  "%d received, %d acks sent, credit %d" % (len(received), len(acks), credit))
            for item in items:
                acks.append(w.send("WorkPool.Complete", {"pool": "pl", "id": item["id"],
                                                         "worker_id": "w"}))
        for r in acks:
            ok += w.wait_for(r).status == OK
        check(ok == total and len(set(received)) == total, "%d OK of %d" % (ok, total))
        check(pool_stats(a, "pl")["done"] == total, "done %r" % pool_stats(a, "pl"))
        nothing_more(w, rid, "item after the pool drained")


def case_complete_many(workpoold, tmp):
    with Broker(workpoold, tmp) as b:
        a, w = b.client(), b.client()
        push_n(a, "cm", 30)
        rid = w.subscribe({"pool": "cm", "worker_id": "w", "credit": 10})
        held = take(w, rid, 10, "the credit")
        entries = [{"id": i["id"]} for i in held[:5]] + [{"id": "nope"}, {"id": held[0]["id"]}]
        body = w.ok("WorkPool.CompleteMany", {"pool": "cm", "worker_id": "w", "items": entries})
        check(body["statuses"] == [OK] * 5 + [NOT_FOUND, FAILED_PRECONDITION],
              "statuses %r" % body)
        take(w, rid, 5, "the 5 credits of CompleteMany")
        nothing_more(w, rid, "an unknown id or a repeat returned credit")
        # An acknowledgement that fails otherwise frees nothing
        r = w.call("WorkPool.CompleteMany", {"pool": "cm", "worker_id": "w", "items": []})
        check(r.status == INVALID_ARGUMENT, "empty CompleteMany %r" % r)
        nothing_more(w, rid, "a malformed CompleteMany returned credit")


def case_fail(workpoold, tmp):
    with Broker(workpoold, tmp) as b:
        a, w = b.client(), b.client()
        push_n(a, "f", 4)
        rid = w.subscribe({"pool": "f", "worker_id": "w", "credit": 1})
        first = take(w, rid, 1, "the credit")[0]
        nothing_more(w, rid, "more than credit")
        body = w.ok("WorkPool.Fail", {"pool": "f", "id": first["id"], "worker_id": "w",
                                      "error": "later", "retry_after_seconds": 60})
        check(body["status"] == "scheduled", "fail %r" % body)
        second = take(w, rid, 1, "the item after a Fail")[0]
        check(second["id"] != first["id"], "a scheduled item streamed again")
        body = w.ok("WorkPool.Fail", {"pool": "f", "id": second["id"], "worker_id": "w"})
        check(body["status"] == "pending", "fail %r" % body)
        third = take(w, rid, 1, "the item after a Fail to pending")[0]
        check(third["id"] == second["id"] and third["attempts"] == 1,
              "the failed item is first again %r" % third)
        # Another worker's Complete, refused because this one holds the
        # item, returns nothing: the item is still in this worker's hands
        r = a.call("WorkPool.Complete", {"pool": "f", "id": third["id"], "worker_id": "other"})
        check(r.status == FAILED_PRECONDITION, "foreign complete %r" % r)
        nothing_more(w, rid, "another worker's refused Complete returned credit")
        # An operator's Complete (no worker_id) of it does
        a.ok("WorkPool.Complete", {"pool": "f", "id": third["id"]})
        take(w, rid, 1, "the item after an operator's Complete")


def case_lease(workpoold, tmp):
    with Broker(workpoold, tmp) as b:
        a, w = b.client(), b.client()
        ids = push_n(a, "l", 2, max_retries=10)
        rid = w.subscribe({"pool": "l", "worker_id": "w", "credit": 2, "lease_seconds": 0.5})
        got = take(w, rid, 2, "the credit")
        check(all(i["attempts"] == 0 for i in got), "attempts %r" % got)
        # Not acknowledged: the leases lapse, the credit returns and the same
        # items come again, an attempt more
        again = take(w, rid, 2, "the lapsed items", timeout=30)
        check(sorted(i["id"] for i in again) == ids and all(i["attempts"] == 1 for i in again),
              "lapsed items %r" % again)
        check(a.counters()["stream_credits_returned"] >= 2, "credits of lapses")


def case_release(workpoold, tmp):
    with Broker(workpoold, tmp) as b:
        a, w = b.client(), b.client()
        ids = push_n(a, "r", 3)
        push_n(a, "other", 1)
        rid = w.subscribe({"pool": "r", "worker_id": "w", "credit": 3})
        take(w, rid, 3, "the credit")
        # A release on another pool returns nothing here
        w.ok("WorkPool.ReleaseByWorker", {"pool": "other", "worker_id": "w"})
        nothing_more(w, rid, "a release on another pool")
        body = w.ok("WorkPool.ReleaseByWorker", {"pool": "r", "worker_id": "w"})
        check(body["released"] == 3, "released %r" % body)
        again = take(w, rid, 3, "the released items")
        check(sorted(i["id"] for i in again) == ids and all(i["attempts"] == 0 for i in again),
              "released items %r" % again)


# ---------------------------------------------------------------------------
#  Liveness

def case_lost(workpoold, tmp):
    with Broker(workpoold, tmp) as b:
        a, w = b.client(), b.client()
        w.ok("Registry.Register", {"worker_id": "gone", "heartbeat_interval_seconds": 0.3})
        push_n(a, "lo", 2, max_retries=10)
        rid = w.subscribe({"pool": "lo", "worker_id": "gone", "credit": 1})
        held = take(w, rid, 1, "the credit")[0]
        # All its credit is used: the subscription is no heartbeat, and the
        # worker sends none: it is declared lost and the stream ends
        final(w, rid, FAILED_PRECONDITION, "a lost worker's stream", timeout=30)
        item = get(a, "lo", held["id"])
        check(item["status"] == "pending" and item["error"] == "worker lost",
              "the lost worker's item %r" % item)
        check(a.ok("Registry.Get", {"worker_id": "gone"})["worker"]["status"] == "lost", "lost")
        counters = a.counters()
        check(counters["stream_ended_lost"] == 1 and counters["subscriptions"] == 0,
              "counters %r" % counters)


def case_alive(workpoold, tmp):
    with Broker(workpoold, tmp) as b:
        a, w = b.client(), b.client()
        for worker in ("waiting", "idle"):
            w.ok("Registry.Register", {"worker_id": worker, "heartbeat_interval_seconds": 1.0})
        rid = w.subscribe({"pool": "empty", "worker_id": "waiting", "credit": 2})
        time.sleep(5)
        status = lambda worker: a.ok("Registry.Get", {"worker_id": worker})["worker"]["status"]
        check(status("idle") == "lost", "the control worker was not lost: the test proves nothing")
        check(status("waiting") == "active", "a subscription with credit left did not keep "
              "its worker alive")
        check(a.counters()["parked_heartbeats"] > 0, "no parked heartbeats counted")
        push_n(a, "empty", 1)
        take(w, rid, 1, "an item after the wait")


# ---------------------------------------------------------------------------
#  Ends

def case_replace(workpoold, tmp):
    with Broker(workpoold, tmp) as b:
        a, wa, wb = b.client(), b.client(), b.client()
        push_n(a, "rp", 6)
        ra = wa.subscribe({"pool": "rp", "worker_id": "w", "credit": 3})
        held = take(wa, ra, 3, "the first subscription's credit")
        rb = wb.subscribe({"pool": "rp", "worker_id": "w", "credit": 4})
        final(wa, ra, CANCELLED, "the replaced stream")
        # The new one counts the 3 it inherited: one more only
        take(wb, rb, 1, "the new subscription's credit left")
        nothing_more(wb, rb, "the new subscription did not count the items it inherited")
        complete(wa, "rp", held[0]["id"], "w")
        take(wb, rb, 1, "the item for an inherited item's ack")
        nothing_more(wb, rb, "more than credit after an inherited ack")
        # Another worker's subscription is not a replacement
        rc = wa.subscribe({"pool": "rp", "worker_id": "other", "credit": 1})
        take(wa, rc, 1, "another worker's subscription")
        nothing_more(wb, rb, "the other worker's subscription ended this one", 0.2)
        check(a.counters()["stream_ended_replaced"] == 1, "replaced counter")


def case_unsubscribe(workpoold, tmp):
    with Broker(workpoold, tmp) as b:
        a, w = b.client(), b.client()
        ids = push_n(a, "u", 2)
        rid = w.subscribe({"pool": "u", "worker_id": "w", "credit": 5})
        take(w, rid, 2, "the items")
        ru = w.send("WorkPool.Unsubscribe", {"pool": "u", "worker_id": "w"})
        first, second = w.recv(20), w.recv(20)
        check(first is not None and first.request_id == rid and first.status == OK
              and first.body == {"items": [], "end": True}, "first after Unsubscribe %r" % first)
        check(second is not None and second.request_id == ru and second.status == OK
              and second.body == {}, "second after Unsubscribe %r" % second)
        # The items stay claimed by the worker; nothing more streams
        check(all(get(a, "u", i)["claimed_by"] == "w" for i in ids), "held items kept")
        push_n(a, "u", 1, "late")
        check(w.recv(QUIET) is None, "an item after the end")
        check(pool_stats(a, "u")["pending"] == 1, "the late item is pending")
        # Again, and with no subscription at all: OK
        w.ok("WorkPool.Unsubscribe", {"pool": "u", "worker_id": "w"})
        w.ok("WorkPool.Unsubscribe", {"pool": "never", "worker_id": "nobody"})
        counters = a.counters()
        check(counters["stream_ended_unsubscribed"] == 1 and counters["subscriptions"] == 0,
              "counters %r" % counters)


def case_timeout(workpoold, tmp):
    with Broker(workpoold, tmp) as b:
        a, w = b.client(), b.client()
        push_n(a, "t", 1)
        rid = w.subscribe({"pool": "t", "worker_id": "w", "credit": 2}, timeout_ms=1500)
        take(w, rid, 1, "the item before the timeout")
        reply = final(w, rid, DEADLINE_EXCEEDED, "a subscription's timeout")
        check("1500 ms" in reply.message, "message %r" % reply.message)
        push_n(a, "t", 1, "late")
        check(w.recv(QUIET) is None, "an item after the end")
        check(a.counters()["stream_ended_timeout"] == 1, "timeout counter")


def case_stop(workpoold, tmp):
    daemon = Daemon(workpoold, tmp).start()
    w = Client(daemon.endpoint)
    try:
        rid = w.subscribe({"pool": "s", "worker_id": "w", "credit": 2})
        rc = w.send("WorkPool.Claim", {"pool": "s", "worker_id": "x", "wait_seconds": 600})
        wait_until(lambda: w.counters()["parked"] == 2, "the subscription to park")
        daemon.signal(signal.SIGTERM)
        final(w, rid, UNAVAILABLE, "a subscription when the broker stops", 30)
        check(w.wait_for(rc, 30).body == {"item": None}, "parked claim at stop")
        code = daemon.wait()
        check(code == 0, "workpoold exited with %d:\n%s" % (code, daemon.log()))
    finally:
        w.close()
        daemon.kill()


# ---------------------------------------------------------------------------
#  What is streamed when

def case_pause(workpoold, tmp):
    with Broker(workpoold, tmp) as b:
        a, w = b.client(), b.client()
        push_n(a, "pz", 1)
        rid = w.subscribe({"pool": "pz", "worker_id": "w", "credit": 10})
        take(w, rid, 1, "an item before the pause")
        a.ok("WorkPool.Pause", {"pool": "pz"})
        push_n(a, "pz", 3, "p")
        nothing_more(w, rid, "an item of a paused pool")
        a.ok("WorkPool.Resume", {"pool": "pz"})
        take(w, rid, 3, "the items after resume")


def case_order(workpoold, tmp):
    with Broker(workpoold, tmp) as b:
        a, w = b.client(), b.client()
        for item_id, priority in (("p5", 5), ("p1", 1), ("p3", 3), ("p0", 0)):
            a.ok("WorkPool.Push", {"pool": "pr", "id": item_id, "data": pack(1),
                                   "priority": priority})
        rid = w.subscribe({"pool": "pr", "worker_id": "w", "credit": 1})
        order = []
        for k in range(4):
            item = take(w, rid, 1, "priority item %d" % k)[0]
            order.append(item["id"])
            complete(w, "pr", item["id"], "w")
        check(order == ["p0", "p1", "p3", "p5"], "priority order %r" % order)
        # Delayed items stream when due, in their order
        a.ok("WorkPool.Push", {"pool": "dl", "id": "d2", "data": pack(1), "delay_seconds": 1.2})
        a.ok("WorkPool.Push", {"pool": "dl", "id": "d1", "data": pack(1), "delay_seconds": 0.6})
        a.ok("WorkPool.Push", {"pool": "dl", "id": "now", "data": pack(1)})
        rid = w.subscribe({"pool": "dl", "worker_id": "w", "credit": 10})
        got = [take(w, rid, 1, "delayed item %d" % k, 30)[0] for k in range(3)]
        check([i["id"] for i in got] == ["now", "d1", "d2"], "delay order %r" % got)
        for item in got[1:]:
            check(item["claimed_at"] >= item["run_at"], "streamed before due %r" % item)


def case_share(workpoold, tmp):
    with Broker(workpoold, tmp) as b:
        a, w1, w2, wc = b.client(), b.client(), b.client(), b.client()
        # Served in turn, the longest waiting first, a served subscription
        # to the back: s1, s2, then the parked claim, then s1 again
        # One after the other: sent together from two connections, the two
        # could be read in either order (the router takes connections in turn)
        r1 = w1.subscribe({"pool": "sh", "worker_id": "s1", "credit": 5})
        wait_until(lambda: a.counters()["parked"] == 1, "the first subscription to park")
        r2 = w2.subscribe({"pool": "sh", "worker_id": "s2", "credit": 5})
        wait_until(lambda: a.counters()["parked"] == 2, "the subscriptions to park")
        rc = wc.send("WorkPool.Claim", {"pool": "sh", "worker_id": "c", "wait_seconds": 60})
        wait_until(lambda: a.counters()["parked"] == 3, "the claim to park")
        for k in range(4):
            a.ok("WorkPool.Push", {"pool": "sh", "id": "x%d" % k, "data": pack(k)})
        check([i["id"] for i in take(w1, r1, 1, "s1's first")] == ["x0"], "s1 first")
        check([i["id"] for i in take(w2, r2, 1, "s2's first")] == ["x1"], "s2 second")
        check(wc.wait_for(rc, 20).body["item"]["id"] == "x2", "the parked claim third")
        check([i["id"] for i in take(w1, r1, 1, "s1's second")] == ["x3"], "s1 again")
        # Under load both subscribers get their share
        counts = {"s1": 0, "s2": 0}
        push_n(a, "sh", 200, "y")
        pending = 200
        last_progress = time.monotonic()
        while pending:
            progressed = False
            for w, r, name in ((w1, r1, "s1"), (w2, r2, "s2")):
                reply = w.stream_next(r, 0.05)
                if reply is None:
                    continue
                items = items_of(reply)
                counts[name] += len(items)
                for item in items:
                    if item["id"].startswith("y"):
                        pending -= 1
                    w.send("WorkPool.Complete", {"pool": "sh", "id": item["id"],
                                                 "worker_id": name})
                progressed = True
                last_progress = time.monotonic()
            # A loaded machine (sanitizers, 2 cores) may pause a while: only
            # a long silence is a stall
            if not progressed and time.monotonic() - last_progress > 10:
                check(False, "the stream stalled with %d items left: %r" % (pending, counts))
        check(min(counts.values()) >= 40, "one subscriber starved: %r" % counts)


def case_big(workpoold, tmp):
    # Items that do not fit one message of --max-message: the stream goes on
    # in several, at once, without waiting for another push or ack
    with Broker(workpoold, tmp, "--max-message", "65536") as b:
        a, w = b.client(), b.client()
        for k in range(10):
            a.ok("WorkPool.Push", {"pool": "big", "id": "g%d" % k, "data": pack(b"x" * 20000)})
        rid = w.subscribe({"pool": "big", "worker_id": "w", "credit": 10})
        got, messages = [], 0
        while len(got) < 10:
            items = items_of(w.stream_next(rid, 20), "big items (%d so far)" % len(got))
            # (as ClaimMany: the claim stops once the items reach the limit)
            check(sum(len(i["data"]) for i in items[:-1]) < 65536,
                  "a message of %d items past --max-message" % len(items))
            got += items
            messages += 1
        check(messages >= 3 and [i["id"] for i in got] == ["g%d" % k for k in range(10)],
              "%d messages: %r" % (messages, [i["id"] for i in got]))


def case_slow_reader(workpoold, tmp):
    # A subscriber that does not read is not served past --max-queued-bytes;
    # as it reads the stream goes on by itself (no push or ack needed), and
    # once it has read everything its connection's reckoning of replies is
    # back to nothing, not leaked: its acks are accepted
    with Broker(workpoold, tmp, "--max-queued-bytes", "200000") as b:
        a, w = b.client(), b.client()
        w.socket.setsockopt(zmq.RCVHWM, 1)
        for at in range(0, 300, 50):
            a.ok("WorkPool.PushMany", {"pool": "sr", "items": [
                {"id": "s%d" % k, "data": pack(b"x" * 10000)} for k in range(at, at + 50)]})
        rid = w.subscribe({"pool": "sr", "worker_id": "w", "credit": 1000})
        time.sleep(1)
        check(pool_stats(a, "sr")["pending"] > 0, "a reader that does not read was given "
              "everything: %r" % pool_stats(a, "sr"))
        a.ok("Broker.Ping")
        got = set()
        while len(got) < 300:
            items = items_of(w.stream_next(rid, 20), "items (%d so far)" % len(got))
            got.update(item["id"] for item in items)
        acks = [w.send("WorkPool.Complete", {"pool": "sr", "id": i, "worker_id": "w"})
                for i in sorted(got)]
        for r in acks:
            reply = w.wait_for(r)
            check(reply.status == OK, "an ack after reading everything: %r" % reply)
        check(pool_stats(a, "sr")["done"] == 300, "every item done")
        for k in range(20):
            r = w.call("WorkPool.Size", {"pool": "sr"})
            check(r.status == OK, "the connection is refused after reading it all: %r" % r)


def case_bad_input(workpoold, tmp):
    with Broker(workpoold, tmp) as b:
        w = b.client()
        for body in ({"pool": "b", "worker_id": "w", "credit": 0},
                     {"pool": "b", "worker_id": "w", "credit": 1001},
                     {"pool": "b", "credit": 1},
                     {"worker_id": "w", "credit": 1},
                     {"pool": "b", "worker_id": "w"},
                     {"pool": "b", "worker_id": "w", "credit": "4"},
                     {"pool": "b", "worker_id": "w", "credit": -1},
                     {"pool": "b", "worker_id": "w", "credit": 1.5},
                     {"pool": 5, "worker_id": "w", "credit": 1},
                     {"pool": "b", "worker_id": ["w"], "credit": 1},
                     {"pool": "b", "worker_id": "w", "credit": 1, "lease_seconds": -1},
                     {"pool": "b", "worker_id": "w", "credit": 1, "lease_seconds": "x"}):
            r = w.call("WorkPool.Subscribe", body)
            check(r.status == INVALID_ARGUMENT, "%r: %r" % (body, r))
        for body in ({"pool": "b"}, {"worker_id": "w"}, {"pool": "b", "worker_id": 3}):
            r = w.call("WorkPool.Unsubscribe", body)
            check(r.status == INVALID_ARGUMENT, "Unsubscribe %r: %r" % (body, r))
        check(w.counters()["subscriptions"] == 0, "a bad Subscribe subscribed")
        # The broker keeps serving, a good one works
        w.ok("WorkPool.Push", {"pool": "b", "data": pack(1)})
        rid = w.subscribe({"pool": "b", "worker_id": "w", "credit": 1000})
        take(w, rid, 1, "an item after bad input")


# ---------------------------------------------------------------------------
#  Failures: a client gone, the broker killed

def case_disconnect(workpoold, tmp):
    with Broker(workpoold, tmp) as b:
        a = b.client()
        ids = push_n(a, "dc", 3, max_retries=10)
        x = Client(b.daemon.endpoint)
        rx = x.subscribe({"pool": "dc", "worker_id": "x", "credit": 3, "lease_seconds": 1})
        take(x, rx, 3, "the items of the client that goes")
        x.close()
        # Its items come back after their lease, to another subscriber
        y = b.client()
        ry = y.subscribe({"pool": "dc", "worker_id": "y", "credit": 5})
        got = take(y, ry, 3, "the items of the client gone", 30)
        check(sorted(i["id"] for i in got) == ids and all(i["attempts"] == 1 for i in got),
              "returned %r" % got)
        wait_until(lambda: a.counters()["stream_ended_disconnected"] == 1,
                   "the broker to drop the subscription of the closed connection")
        check(a.counters()["subscriptions"] == 1, "subscriptions %r" % a.counters())
        a.ok("Broker.Ping")


def case_sigkill(workpoold, tmp):
    daemon = Daemon(workpoold, tmp).start()
    w = Client(daemon.endpoint)
    try:
        ids = push_n(w, "k", 10, max_retries=10)
        rid = w.subscribe({"pool": "k", "worker_id": "w", "credit": 5, "lease_seconds": 1.5})
        held = take(w, rid, 5, "the credit")
        acked = [i["id"] for i in held[:3]]
        for item_id in acked:
            complete(w, "k", item_id, "w")
        daemon.signal(signal.SIGKILL)
        daemon.wait()
    finally:
        w.close()
        daemon.kill()
    daemon = Daemon(workpoold, tmp).start()
    c = Client(daemon.endpoint)
    try:
        for item_id in acked:
            check(get(c, "k", item_id)["status"] == "done", "an acknowledged item lost")
        rid = c.subscribe({"pool": "k", "worker_id": "w2", "credit": 10})
        got = take(c, rid, 7, "the items left and the unacknowledged ones after their lease", 30)
        check(sorted(i["id"] for i in got) == sorted(set(ids) - set(acked)), "after restart %r"
              % [i["id"] for i in got])
        unacked = {i["id"] for i in held[3:]}
        check(all(i["attempts"] == 1 for i in got if i["id"] in unacked),
              "the unacknowledged items came back by a lapse: %r" % got)
        nothing_more(c, rid, "an item twice")
    finally:
        c.close()
        daemon.stop()


# ---------------------------------------------------------------------------
#  Many processes: subscribers killed with SIGKILL mid-way

def subscriber_main(endpoint, worker, log_path, credit, lease):
    """A subscriber process: logs each item streamed ("S id attempts") and
    each Complete answered OK ("C id"), line by line, until killed."""
    c = Client(endpoint)
    log = open(log_path, "a", buffering=1)
    rid = c.subscribe({"pool": "race", "worker_id": worker, "credit": credit,
                       "lease_seconds": lease})
    acks = {}
    while True:
        reply = c.recv(3600)
        if reply.request_id == rid:
            if reply.status != OK or "end" in reply.body:
                log.write("E %d\n" % reply.status)
                return
            for item in reply.body["items"]:
                log.write("S %s %d\n" % (item["id"], item["attempts"]))
                time.sleep(0.004)       # the work: items are held a while
                acks[c.send("WorkPool.Complete", {"pool": "race", "id": item["id"],
                                                  "worker_id": worker})] = item["id"]
        else:
            item_id = acks.pop(reply.request_id, None)
            if item_id and reply.status == OK:
                log.write("C %s\n" % item_id)


def producer_main(endpoint, prefix, count):
    c = Client(endpoint)
    for at in range(0, count, 50):
        entries = [{"id": "%s%d" % (prefix, k), "data": pack(k), "max_retries": 20}
                   for k in range(at, min(at + 50, count))]
        c.ok("WorkPool.PushMany", {"pool": "race", "items": entries}, timeout=60)
        time.sleep(0.005)


def case_race(workpoold, tmp):
    total, subscribers, credit, lease = 5000, 8, 16, 2.0
    me = os.path.abspath(__file__)
    with Broker(workpoold, tmp) as b:
        a = b.client()
        logs = [os.path.join(tmp, "sub%d.log" % k) for k in range(subscribers)]
        procs = [subprocess.Popen([sys.executable, me, "--subscriber", b.daemon.endpoint,
                                   "sub%d" % k, logs[k], str(credit), str(lease)])
                 for k in range(subscribers)]
        producers = [subprocess.Popen([sys.executable, me, "--producer", b.daemon.endpoint,
                                       prefix, str(total // 2)]) for prefix in ("a", "b")]
        try:
            wait_until(lambda: pool_stats(a, "race")["done"] >= total // 4,
                       "a quarter of the items done", 120)
            killed = [0, 3, 6]
            for k in killed:
                procs[k].send_signal(signal.SIGKILL)
                procs[k].wait()
            for p in producers:
                check(p.wait(120) == 0, "a producer failed")
            wait_until(lambda: pool_stats(a, "race")["done"] == total, "every item done", 180)
        finally:
            for p in procs + producers:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        stats = pool_stats(a, "race")
        check(stats["pending"] == 0 and stats["claimed"] == 0 and stats["poisoned"] == 0,
              "pool %r" % stats)
        streamed, completed = {}, {}
        for k, path in enumerate(logs):
            with open(path) as f:
                for line in f:
                    parts = line.split()
                    if parts[0] == "S":
                        streamed.setdefault(parts[1], []).append((int(parts[2]), k))
                    elif parts[0] == "C":
                        completed.setdefault(parts[1], []).append(k)
                    elif k not in killed:
                        check(False, "subscriber %d ended: %s" % (k, line))
        everything = {"%s%d" % (p, n) for p in ("a", "b") for n in range(total // 2)}
        check(set(streamed) == everything, "%d items never streamed"
              % len(everything - set(streamed)))
        twice = {i: ks for i, ks in completed.items() if len(ks) > 1}
        check(not twice, "completed OK twice: %r" % list(twice.items())[:5])
        # Streamed again only after a lapse (an attempt more): never to two
        # workers while one held it
        for item_id, receipts in streamed.items():
            attempts = [n for n, k in receipts]
            check(len(set(attempts)) == len(attempts), "%s streamed twice while held: %r"
                  % (item_id, receipts))
        # (an item a killed subscriber had not read yet has one receipt, an
        # attempt more)
        again = sum(1 for r in streamed.values() if max(n for n, k in r) > 0)
        check(again > 0, "no item came back from a killed subscriber: the kill proved nothing")
        for item_id in list(everything)[:50]:
            check(get(a, "race", item_id)["status"] == "done", "item %s" % item_id)
        print("%d items, %d came back after %d subscribers were killed"
              % (total, again, len(killed)))


# ---------------------------------------------------------------------------
#  CURVE: a worker key subscribes with its prefix only, a producer key not

def write_cert(path, public, secret=None, **meta):
    lines = ["#   ZeroMQ CURVE certificate (test)", "metadata"]
    lines += ['    %s = "%s"' % kv for kv in meta.items()]
    lines += ["curve", '    public-key = "%s"' % public.decode()]
    if secret:
        lines.append('    secret-key = "%s"' % secret.decode())
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def case_curve(workpoold, tmp):
    if not zmq.has("curve"):
        print("skipped: this libzmq has no CURVE")
        return
    keys = os.path.join(tmp, "keys")
    os.mkdir(keys)
    server_public, server_secret = zmq.curve_keypair()
    write_cert(os.path.join(tmp, "broker_secret"), server_public, server_secret)
    pairs = {}
    for name, meta in (("worker", {"role": "worker", "worker_prefix": "a-"}),
                       ("producer", {"role": "producer"}), ("admin", {"role": "admin"})):
        pairs[name] = zmq.curve_keypair()
        write_cert(os.path.join(keys, name), pairs[name][0], **meta)
    daemon = Daemon(workpoold, tmp, "--curve-secret", os.path.join(tmp, "broker_secret"),
                    "--keys", keys, bind="tcp://127.0.0.1:*")
    # The readiness probe is plaintext, which a CURVE broker never answers:
    # start it by hand and probe with the admin key
    daemon.log_file = open(daemon.log_path, "ab")
    daemon.process = subprocess.Popen(
        [workpoold, "--bind", daemon.endpoint, "--db", daemon.db, "--store", daemon.store,
         "--curve-secret", os.path.join(tmp, "broker_secret"), "--keys", keys],
        stdout=daemon.log_file, stderr=subprocess.STDOUT)
    Daemon.started.append(daemon)
    found = wait_until(lambda: re.findall(r"listening on (tcp://\S+)", daemon.log()),
                       "the broker to bind")
    endpoint = found[-1]

    def client(name):
        c = Client.__new__(Client)
        c.context = zmq.Context.instance()
        c.socket = c.context.socket(zmq.DEALER)
        c.socket.setsockopt(zmq.LINGER, 0)
        c.socket.curve_serverkey = server_public
        c.socket.curve_publickey, c.socket.curve_secretkey = pairs[name]
        c.socket.connect(endpoint)
        c.next_id, c.early, c.streams = 1, {}, {}
        return c
    admin, worker, producer = client("admin"), client("worker"), client("producer")
    try:
        admin.ok("WorkPool.Push", {"pool": "cv", "id": "x", "data": pack(1)}, timeout=20)
        r = worker.call("WorkPool.Subscribe", {"pool": "cv", "worker_id": "b-1", "credit": 1})
        check(r.status == PERMISSION_DENIED, "a worker key outside its prefix: %r" % r)
        r = producer.call("WorkPool.Subscribe", {"pool": "cv", "worker_id": "a-1", "credit": 1})
        check(r.status == PERMISSION_DENIED, "a producer key subscribed: %r" % r)
        r = producer.call("WorkPool.Unsubscribe", {"pool": "cv", "worker_id": "a-1"})
        check(r.status == PERMISSION_DENIED, "a producer key unsubscribed: %r" % r)
        rid = worker.subscribe({"pool": "cv", "worker_id": "a-1", "credit": 1})
        check(take(worker, rid, 1, "an item under CURVE")[0]["id"] == "x", "item")
        worker.ok("WorkPool.Complete", {"pool": "cv", "id": "x", "worker_id": "a-1"})
        worker.ok("WorkPool.Unsubscribe", {"pool": "cv", "worker_id": "a-1"})
        final(worker, rid, OK, "the end under CURVE", 5)
        # Its key revoked (removed, SIGHUP): the stream ends UNAUTHENTICATED
        rid = worker.subscribe({"pool": "cv", "worker_id": "a-2", "credit": 1})
        wait_until(lambda: admin.counters()["subscriptions"] == 1, "the subscription")
        os.remove(os.path.join(keys, "worker"))
        daemon.signal(signal.SIGHUP)
        final(worker, rid, UNAUTHENTICATED, "a stream of a revoked key", 20)
        check(admin.counters()["stream_ended_refused"] == 1, "refused counter")
    finally:
        for c in (admin, worker, producer):
            c.close()
    daemon.stop()


CASES = {name[5:]: fn for name, fn in list(globals().items()) if name.startswith("case_")}


def main():
    if len(sys.argv) == 7 and sys.argv[1] == "--subscriber":
        subscriber_main(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]),
                        float(sys.argv[6]))
        return 0
    if len(sys.argv) == 5 and sys.argv[1] == "--producer":
        producer_main(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return 0
    if len(sys.argv) != 3 or sys.argv[2] not in CASES:
        sys.stderr.write("usage: test_stream.py WORKPOOLD CASE\ncases: %s\n" % " ".join(CASES))
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


#  pytest: one test per case, against $WORKPOOLD
def _pytest_case(fn):
    def test(tmp_path):
        import pytest
        binary = os.environ.get("WORKPOOLD")
        if not binary:
            pytest.skip("set WORKPOOLD to the workpoold binary")
        try:
            fn(binary, str(tmp_path))
        finally:
            Daemon.kill_all()
    return test


for _name, _fn in CASES.items():
    globals()["test_" + _name] = _pytest_case(_fn)


if __name__ == "__main__":
    sys.exit(main())
