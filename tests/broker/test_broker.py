#!/usr/bin/env python3
"""Black-box tests of workpoold through its socket, as a client in another
language would talk to it (pyzmq + msgpack, see wpwire.py).

usage: test_broker.py WORKPOOLD CASE
Each CASE is one ctest test; each starts its own broker in its own
temporary directory.
"""
import msgpack
import os
import signal
import subprocess
import sys
import threading
import time
import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wpwire import *  # noqa: F401,F403


def data(value):
    return pack(value)


def claimed_item(reply_body, what="an item"):
    item = reply_body["item"]
    check(item is not None, "expected %s, got none" % what)
    check(list(item.keys()) == ITEM_KEYS, "item keys %r" % list(item.keys()))
    return item


def parked_count(client):
    return client.counters()["parked"]


# ---------------------------------------------------------------------------
#  Every method, success and failure

def case_methods(workpoold, tmp):
    daemon = Daemon(workpoold, tmp).start()
    c = Client(daemon.endpoint)
    try:
        # Broker.Ping
        body = c.ok("Broker.Ping")
        check(body["version"] == 1, "ping version %r" % body)
        check(body["server"].startswith("workpoold "), "ping server %r" % body)
        check(TIME_RE.match(body["time"]), "ping time %r" % body)
        check(body["max_message"] == 1 << 20, "ping max_message %r" % body)

        # WorkPool.Push
        body = c.ok("WorkPool.Push", {"pool": "jobs", "data": data({"n": 1})})
        check(len(body["id"]) == 36 and body["duplicate"] is False, "push %r" % body)
        first = body["id"]
        body = c.ok("WorkPool.Push", {"pool": "jobs", "data": data(2), "id": "two", "max_retries": 1})
        check(body == {"id": "two", "duplicate": False}, "push with id %r" % body)
        body = c.ok("WorkPool.Push", {"pool": "jobs", "data": data(99), "id": "two"})
        check(body == {"id": "two", "duplicate": True}, "duplicate push %r" % body)
        for bad in ({"pool": "jobs"}, {"pool": "", "data": data(1)}, {"data": data(1)},
                    {"pool": "jobs", "data": b""}, {"pool": "jobs", "data": "not bin"},
                    {"pool": "jobs", "data": data(1), "max_retries": -1},
                    {"pool": "x" * 256, "data": data(1)}):
            r = c.call("WorkPool.Push", bad)
            check(r.status == INVALID_ARGUMENT and r.message and r.body == {},
                  "bad push %r: %r" % (bad, r))

        # WorkPool.Size
        check(c.ok("WorkPool.Size", {"pool": "jobs"}) == {"size": 2}, "size 2")
        check(c.ok("WorkPool.Size", {"pool": "empty"}) == {"size": 0}, "size of a new pool")
        r = c.call("WorkPool.Size", {})
        check(r.status == INVALID_ARGUMENT, "size without pool %r" % r)

        # WorkPool.PushMany: all or nothing
        body = c.ok("WorkPool.PushMany", {"pool": "many", "items": [
            {"data": data(1), "id": "m1"}, {"data": data(2)}, {"data": data(3), "id": "m1"}]})
        check(body["ids"][0] == "m1" and len(body["ids"][1]) == 36 and body["ids"][2] == "m1",
              "push many ids %r" % body)
        check(body["duplicates"] == [False, False, True], "push many duplicates %r" % body)
        r = c.call("WorkPool.PushMany", {"pool": "many", "items": [
            {"data": data(4), "id": "m4"}, {"data": b""}]})
        check(r.status == INVALID_ARGUMENT, "push many with a bad entry %r" % r)
        r = c.call("WorkPool.PushMany", {"pool": "many", "items": []})
        check(r.status == INVALID_ARGUMENT, "push many of none %r" % r)
        check(c.ok("WorkPool.Size", {"pool": "many"})["size"] == 2, "a failed push many pushed")
        check(c.call("WorkPool.Get", {"pool": "many", "id": "m4"}).status == NOT_FOUND,
              "m4 of a failed push many exists")

        # WorkPool.Claim
        item = claimed_item(c.ok("WorkPool.Claim", {"pool": "jobs", "worker_id": "w1"}))
        check(item["id"] == first and item["status"] == "claimed" and item["claimed_by"] == "w1",
              "claim %r" % item)
        check(msgpack.unpackb(item["data"], raw=False) == {"n": 1}, "data round trip %r" % item)
        check(TIME_RE.match(item["lease_expires_at"]) and item["attempts"] == 0
              and item["max_retries"] == 3 and item["result"] is None, "claim fields %r" % item)
        r = c.call("WorkPool.Claim", {"pool": "jobs"})
        check(r.status == INVALID_ARGUMENT, "claim without worker %r" % r)
        r = c.call("WorkPool.Claim", {"pool": "jobs", "worker_id": "w1", "wait_seconds": -1})
        check(r.status == INVALID_ARGUMENT, "claim with negative wait %r" % r)

        # WorkPool.Complete
        c.ok("WorkPool.Complete", {"pool": "jobs", "id": first, "result": data("done"),
                                   "worker_id": "w1"})
        r = c.call("WorkPool.Complete", {"pool": "jobs", "id": first})
        check(r.status == FAILED_PRECONDITION, "complete twice %r" % r)
        r = c.call("WorkPool.Complete", {"pool": "jobs", "id": "nope"})
        check(r.status == NOT_FOUND, "complete unknown %r" % r)
        item = claimed_item(c.ok("WorkPool.Claim", {"pool": "jobs", "worker_id": "w1"}))
        check(item["id"] == "two", "second claim %r" % item)
        r = c.call("WorkPool.Complete", {"pool": "jobs", "id": "two", "worker_id": "w2"})
        check(r.status == FAILED_PRECONDITION, "complete by another worker %r" % r)

        # WorkPool.Get
        got = c.ok("WorkPool.Get", {"pool": "jobs", "id": first})["item"]
        check(got["status"] == "done" and msgpack.unpackb(got["result"], raw=False) == "done",
              "get done %r" % got)
        r = c.call("WorkPool.Get", {"pool": "jobs", "id": "nope"})
        check(r.status == NOT_FOUND, "get unknown %r" % r)

        # WorkPool.Fail: max_retries 1 poisons at once
        body = c.ok("WorkPool.Fail", {"pool": "jobs", "id": "two", "error": "boom", "worker_id": "w1"})
        check(body == {"status": "poisoned"}, "fail to poisoned %r" % body)
        r = c.call("WorkPool.Fail", {"pool": "jobs", "id": "two"})
        check(r.status == FAILED_PRECONDITION, "fail of a poisoned item %r" % r)
        r = c.call("WorkPool.Fail", {"pool": "jobs", "id": "nope"})
        check(r.status == NOT_FOUND, "fail unknown %r" % r)
        c.ok("WorkPool.Push", {"pool": "jobs", "data": data(3), "id": "three"})
        claimed_item(c.ok("WorkPool.Claim", {"pool": "jobs", "worker_id": "w1"}))
        body = c.ok("WorkPool.Fail", {"pool": "jobs", "id": "three", "error": "again"})
        check(body == {"status": "pending"}, "fail to pending %r" % body)
        got = c.ok("WorkPool.Get", {"pool": "jobs", "id": "three"})["item"]
        check(got["attempts"] == 1 and got["error"] == "again" and got["claimed_by"] is None,
              "failed item %r" % got)

        # WorkPool.ClaimMany
        body = c.ok("WorkPool.ClaimMany", {"pool": "many", "worker_id": "w3", "max": 5})
        check(len(body["items"]) == 2 and body["items"][0]["id"] == "m1", "claim many %r" % body)
        body = c.ok("WorkPool.ClaimMany", {"pool": "many", "worker_id": "w3", "max": 5})
        check(body == {"items": []}, "claim many of none %r" % body)
        r = c.call("WorkPool.ClaimMany", {"pool": "many", "worker_id": "w3", "max": 0})
        check(r.status == INVALID_ARGUMENT, "claim many of 0 %r" % r)

        # WorkPool.CompleteAndClaim
        c.ok("WorkPool.Push", {"pool": "cc", "data": data(1), "id": "c1"})
        c.ok("WorkPool.Push", {"pool": "cc", "data": data(2), "id": "c2"})
        claimed_item(c.ok("WorkPool.Claim", {"pool": "cc", "worker_id": "w4"}))
        item = claimed_item(c.ok("WorkPool.CompleteAndClaim",
                                 {"pool": "cc", "id": "c1", "worker_id": "w4", "result": data(7)}))
        check(item["id"] == "c2", "complete and claim %r" % item)
        r = c.call("WorkPool.CompleteAndClaim", {"pool": "cc", "id": "c1", "worker_id": "w4"})
        check(r.status == FAILED_PRECONDITION and r.body == {}, "complete-and-claim of done %r" % r)
        body = c.ok("WorkPool.CompleteAndClaim", {"pool": "cc", "id": "c2", "worker_id": "w4"})
        check(body == {"item": None}, "complete and claim, none left %r" % body)

        # WorkPool.ReleaseByWorker and WorkPool.Renew
        c.ok("WorkPool.PushMany", {"pool": "rel", "items": [{"data": data(i)} for i in range(3)]})
        c.ok("WorkPool.ClaimMany", {"pool": "rel", "worker_id": "w5", "max": 2})
        check(c.ok("WorkPool.Renew", {"worker_id": "w5", "lease_seconds": 600}) == {"renewed": 2},
              "renew")
        check(c.ok("WorkPool.Renew", {"worker_id": "nobody"}) == {"renewed": 0}, "renew none")
        r = c.call("WorkPool.Renew", {"worker_id": "w5", "lease_seconds": 0})
        check(r.status == INVALID_ARGUMENT, "renew with lease 0 %r" % r)
        check(c.ok("WorkPool.ReleaseByWorker", {"pool": "rel", "worker_id": "w5"})
              == {"released": 2}, "release")
        check(c.ok("WorkPool.Size", {"pool": "rel"}) == {"size": 3}, "released are pending")
        r = c.call("WorkPool.ReleaseByWorker", {"pool": "rel"})
        check(r.status == INVALID_ARGUMENT, "release without worker %r" % r)

        # Registry.Register
        body = c.ok("Registry.Register", {"worker_id": "alice", "host": "h1", "pid": 42,
                                          "capabilities": ["gpu", "x"], "pool_id": "jobs",
                                          "heartbeat_interval_seconds": 5.0,
                                          "metadata": {"zone": "a", "n": 3}})
        worker = body["worker"]
        check(list(worker.keys()) == WORKER_KEYS, "worker keys %r" % list(worker.keys()))
        check(worker["status"] == "active" and worker["pid"] == 42
              and worker["capabilities"] == ["gpu", "x"]
              and worker["heartbeat_interval_seconds"] == 5.0
              and worker["metadata"] == {"zone": "a", "n": 3}, "register %r" % worker)
        c.ok("Registry.Register", {"worker_id": "bob", "capabilities": ["cpu"]})
        r = c.call("Registry.Register", {"host": "h"})
        check(r.status == INVALID_ARGUMENT, "register without id %r" % r)
        r = c.call("Registry.Register", {"worker_id": "carol", "started_at": "yesterday"})
        check(r.status == INVALID_ARGUMENT, "register with a bad time %r" % r)

        # Registry.Heartbeat
        c.ok("Registry.Heartbeat", {"worker_id": "alice", "metadata": {"load": 0.5}})
        r = c.call("Registry.Heartbeat", {"worker_id": "nobody"})
        check(r.status == NOT_FOUND, "heartbeat unknown %r" % r)

        # Registry.UpdateStatus
        c.ok("Registry.UpdateStatus", {"worker_id": "bob", "status": "terminating"})
        r = c.call("Registry.UpdateStatus", {"worker_id": "nobody", "status": "x"})
        check(r.status == NOT_FOUND, "update unknown %r" % r)
        r = c.call("Registry.UpdateStatus", {"worker_id": "bob"})
        check(r.status == INVALID_ARGUMENT, "update without status %r" % r)

        # Registry.Get
        worker = c.ok("Registry.Get", {"worker_id": "alice"})["worker"]
        check(worker["metadata"] == {"zone": "a", "n": 3, "load": 0.5}, "merged metadata %r" % worker)
        check(c.ok("Registry.Get", {"worker_id": "nobody"}) == {"worker": None}, "get unknown worker")
        r = c.call("Registry.Get", {"worker_id": 5})
        check(r.status == INVALID_ARGUMENT, "get worker by number %r" % r)

        # Registry.List
        ids = lambda body: [w["worker_id"] for w in body["workers"]]
        check(ids(c.ok("Registry.List")) == ["alice", "bob"], "list all")
        check(ids(c.ok("Registry.List", {"status": "active"})) == ["alice"], "list active")
        check(ids(c.ok("Registry.List", {"status": ["active", "terminating"]})) == ["alice", "bob"],
              "list statuses")
        check(ids(c.ok("Registry.List", {"capability": "cpu"})) == ["bob"], "list capability")
        check(ids(c.ok("Registry.List", {"pool_id": "jobs"})) == ["alice"], "list pool")
        check(ids(c.ok("Registry.List", {"stale_threshold_seconds": 3600})) == [], "list stale")
        r = c.call("Registry.List", {"status": 7})
        check(r.status == INVALID_ARGUMENT, "list with a bad filter %r" % r)

        # Broker.Stats
        body = c.ok("Broker.Stats")
        pools = {p["pool"]: p for p in body["pools"]}
        check(pools["jobs"]["done"] == 1 and pools["jobs"]["poisoned"] == 1
              and pools["jobs"]["pending"] == 1, "stats pools %r" % body["pools"])
        check(body["workers"].get("active") == 1 and body["workers"].get("terminating") == 1,
              "stats workers %r" % body["workers"])
        counters = body["counters"]
        for name in ("requests.WorkPool.Push.OK", "requests.WorkPool.Push.INVALID_ARGUMENT",
                     "requests.WorkPool.Complete.NOT_FOUND", "commits", "batches",
                     "batched_requests", "batch_max_seen", "replies_dropped",
                     "malformed_dropped", "parked"):
            check(name in counters, "counter %s missing: %r" % (name, counters))
        check(counters["requests.WorkPool.Push.OK"] >= 4, "push counter %r" % counters)
        check(counters["replies_dropped"] == 0, "dropped %r" % counters)
    finally:
        c.close()
        daemon.stop()


# ---------------------------------------------------------------------------
#  Pipelining

def case_complete_many(workpoold, tmp):
    """WorkPool.CompleteMany: each entry as Complete, reported per entry."""
    daemon = Daemon(workpoold, tmp).start()
    c = Client(daemon.endpoint)
    try:
        c.ok("WorkPool.PushMany", {"pool": "cm", "items": [
            {"data": data(i), "id": "k%d" % i} for i in range(6)]})
        body = c.ok("WorkPool.ClaimMany", {"pool": "cm", "worker_id": "w1", "max": 4})
        check([it["id"] for it in body["items"]] == ["k0", "k1", "k2", "k3"], "claimed %r" % body)
        claimed_item(c.ok("WorkPool.Claim", {"pool": "cm", "worker_id": "w2"}))     # k4

        # All succeed: one status per entry, "" messages, results stored
        body = c.ok("WorkPool.CompleteMany", {"pool": "cm", "worker_id": "w1", "items": [
            {"id": "k0", "result": data("r0")}, {"id": "k1"}]})
        check(body == {"statuses": [OK, OK], "messages": ["", ""]}, "complete many %r" % body)
        check(list(body.keys()) == ["statuses", "messages"], "reply keys %r" % list(body))
        got = c.ok("WorkPool.Get", {"pool": "cm", "id": "k0"})["item"]
        check(got["status"] == "done" and msgpack.unpackb(got["result"], raw=False) == "r0",
              "k0 after complete many %r" % got)
        got = c.ok("WorkPool.Get", {"pool": "cm", "id": "k1"})["item"]
        check(got["status"] == "done" and got["result"] is None, "k1 after complete many %r" % got)

        # Mixed: a failing entry changes nothing and does not stop the others
        body = c.ok("WorkPool.CompleteMany", {"pool": "cm", "worker_id": "w1", "items": [
            {"id": "nope"},                         # unknown
            {"id": "k2", "result": data("r2")},     # ok
            {"id": "k5"},                           # pending: not claimed
            {"id": "k4"},                           # claimed by w2
            {"id": "k0"},                           # done already (a resend)
            {"id": "k3"}]})                         # ok
        check(body["statuses"] == [NOT_FOUND, OK, FAILED_PRECONDITION, FAILED_PRECONDITION,
                                   FAILED_PRECONDITION, OK], "mixed statuses %r" % body)
        check(len(body["messages"]) == 6 and body["messages"][1] == "" and body["messages"][5] == ""
              and all(m for i, m in enumerate(body["messages"]) if i not in (1, 5)),
              "mixed messages %r" % body)
        check("nope" in body["messages"][0], "message names the id %r" % body["messages"])
        states = {i: c.ok("WorkPool.Get", {"pool": "cm", "id": i})["item"]
                  for i in ("k2", "k3", "k4", "k5")}
        check(states["k2"]["status"] == "done"
              and msgpack.unpackb(states["k2"]["result"], raw=False) == "r2", "k2 %r" % states)
        check(states["k3"]["status"] == "done", "k3 %r" % states)
        check(states["k4"]["status"] == "claimed" and states["k4"]["claimed_by"] == "w2",
              "k4 of another worker changed %r" % states)
        check(states["k5"]["status"] == "pending" and states["k5"]["result"] is None,
              "unclaimed k5 changed %r" % states)

        # Without worker_id, any claim is completed (as Complete)
        body = c.ok("WorkPool.CompleteMany", {"pool": "cm", "items": [{"id": "k4"}]})
        check(body == {"statuses": [OK], "messages": [""]}, "complete many, no worker %r" % body)

        # Malformed: nothing changes, INVALID_ARGUMENT naming the field
        c.ok("WorkPool.Claim", {"pool": "cm", "worker_id": "w1"})      # k5
        bad = [({"pool": "cm", "worker_id": "w1", "items": []}, "items"),
               ({"pool": "cm", "worker_id": "w1",
                 "items": [{"id": "k5"}] + [{"id": "x%d" % i} for i in range(1000)]}, "items"),
               ({"pool": "cm", "worker_id": "w1", "items": [{"id": "k5"}, {"result": data(1)}]},
                "items[1].id"),
               ({"pool": "cm", "worker_id": "w1", "items": [{"id": "k5", "result": b""}]},
                "items[0].result"),
               ({"pool": "cm", "worker_id": "w1", "items": [{"id": "k5"}, "k6"]}, "items[1]"),
               ({"worker_id": "w1", "items": [{"id": "k5"}]}, "pool"),
               ({"pool": "cm", "worker_id": "", "items": [{"id": "k5"}]}, "worker_id")]
        for body, field in bad:
            r = c.call("WorkPool.CompleteMany", body)
            check(r.status == INVALID_ARGUMENT and field in r.message and r.body == {},
                  "bad complete many (%s): %r" % (field, r))
        got = c.ok("WorkPool.Get", {"pool": "cm", "id": "k5"})["item"]
        check(got["status"] == "claimed", "a malformed complete many changed k5 %r" % got)
        body = c.ok("WorkPool.CompleteMany", {"pool": "cm", "worker_id": "w1",
                                              "items": [{"id": "k5"}]})
        check(body["statuses"] == [OK], "k5 at last %r" % body)

        # 1000 entries in one request
        c.ok("WorkPool.PushMany", {"pool": "big", "items": [
            {"data": data(i), "id": "b%d" % i} for i in range(1000)]})
        got = c.ok("WorkPool.ClaimMany", {"pool": "big", "worker_id": "w1", "max": 1000})
        check(len(got["items"]) == 1000, "claimed 1000")
        body = c.ok("WorkPool.CompleteMany", {"pool": "big", "worker_id": "w1", "items": [
            {"id": "b%d" % i} for i in range(1000)]})
        check(body["statuses"] == [OK] * 1000, "1000 completed")
        pools = {p["pool"]: p for p in c.ok("Broker.Stats")["pools"]}
        check(pools["big"]["done"] == 1000 and pools["big"]["claimed"] == 0, "big %r" % pools["big"])
        check(pools["cm"]["done"] == 6, "cm %r" % pools["cm"])
        counters = c.counters()
        check(counters.get("requests.WorkPool.CompleteMany.OK") == 5
              and counters.get("requests.WorkPool.CompleteMany.INVALID_ARGUMENT") == len(bad),
              "counters %r" % counters)
    finally:
        c.close()
        daemon.stop()


def case_pipeline(workpoold, tmp):
    daemon = Daemon(workpoold, tmp).start()
    c = Client(daemon.endpoint)
    try:
        sent = {}
        for i in range(100):
            if i % 10 == 9:
                sent[c.send("WorkPool.Size", {"pool": "pipe"})] = ("size", None)
            else:
                rid = c.send("WorkPool.Push", {"pool": "pipe", "data": data(i), "id": "item-%d" % i})
                sent[rid] = ("push", "item-%d" % i)
        seen = {}
        for _ in range(100):
            reply = c.recv(30)
            check(reply is not None, "only %d of 100 replies" % len(seen))
            check(reply.request_id in sent and reply.request_id not in seen,
                  "unexpected reply %r" % reply)
            seen[reply.request_id] = reply
        for rid, (kind, expect) in sent.items():
            reply = seen[rid]
            check(reply.status == OK, "pipelined %r" % reply)
            if kind == "push":
                check(reply.body == {"id": expect, "duplicate": False}, "reply to %d %r" % (rid, reply))
        check(c.recv(0.2) is None, "more replies than requests")
        check(c.ok("WorkPool.Size", {"pool": "pipe"})["size"] == 90, "pipelined pushes")

        # Several sockets at once: batches of more than one request
        clients = [Client(daemon.endpoint) for _ in range(4)]
        for k, client in enumerate(clients):
            for i in range(50):
                client.send("WorkPool.Push", {"pool": "multi", "data": data(i), "id": "%d-%d" % (k, i)})
        for client in clients:
            for _ in range(50):
                reply = client.recv(30)
                check(reply is not None and reply.status == OK, "multi-socket push %r" % reply)
            client.close()
        check(c.ok("WorkPool.Size", {"pool": "multi"})["size"] == 200, "200 pushes")
    finally:
        c.close()
        daemon.stop()


# ---------------------------------------------------------------------------
#  Bad input: each answered as PROTOCOL.md says, or silence, and the
#  broker still serves the next request

def case_malformed(workpoold, tmp):
    daemon = Daemon(workpoold, tmp, "--max-message", "4096").start()
    c = Client(daemon.endpoint)

    def still_serving(what):
        r = c.call("Broker.Ping")
        check(r.status == OK, "after %s the broker does not answer a ping: %r" % (what, r))

    def expect(frames, status, what, message=None):
        c.send_raw(frames)
        reply = c.recv(10)
        check(reply is not None, "%s: no reply" % what)
        check(reply.status == status, "%s: %r" % (what, reply))
        check(reply.body == {}, "%s: error body %r" % (what, reply))
        if message is not None:
            check(reply.message == message, "%s: message %r" % (what, reply.message))
        check(reply.message != "", "%s: no message" % what)
        still_serving(what)
        return reply

    try:
        dropped = c.counters()["malformed_dropped"]

        # Silence where no reply is possible
        for what, frames in (
                ("not msgpack", [b"\xc1\xc1", pack({})]),
                ("not an array", [pack({"WPQ": 1}), pack({})]),
                ("another signature", [pack(["XYZ", 1, 5, "Broker.Ping", 0, {}]), pack({})]),
                ("a string request id", [pack(["WPQ", 1, "five", "Broker.Ping", 0, {}]), pack({})]),
                ("empty frame", [b""])):
            c.send_raw(frames)
            still_serving(what)
            check(c.recv(0.1) is None, "%s was answered" % what)
        check(c.counters()["malformed_dropped"] == dropped + 5, "dropped count")

        expect([header(11, "Broker.Ping", version=2), pack({})], UNIMPLEMENTED, "version 2",
               "unsupported protocol version 2 (this broker speaks 1)")
        expect([header(12, "Foo.Bar"), pack({})], UNIMPLEMENTED, "unknown method",
               "unknown method 'Foo.Bar'")
        r = expect([header(13, "Broker.Ping")], INVALID_ARGUMENT, "one frame")
        check(r.request_id == 13, "reply to one frame addressed %r" % r)
        expect([header(14, "Broker.Ping"), pack({}), pack({})], INVALID_ARGUMENT, "three frames")
        expect([pack(["WPQ", 1, 15, "Broker.Ping", 0]), pack({})], INVALID_ARGUMENT,
               "a header of 5 elements")
        expect([pack(["WPQ", 1, 16, "Broker.Ping", "soon", {}]), pack({})], INVALID_ARGUMENT,
               "a string timeout")
        expect([header(17, "WorkPool.Size"), b"\xc1"], INVALID_ARGUMENT, "a body not msgpack")
        expect([header(18, "WorkPool.Size"), pack([1, 2])], INVALID_ARGUMENT, "a body not a map")
        # {"pool": "a", "pool": "b"}: a duplicate key
        expect([header(19, "WorkPool.Size"), b"\x82\xa4pool\xa1a\xa4pool\xa1b"], INVALID_ARGUMENT,
               "a duplicate key")
        expect([header(20, "WorkPool.Push"), pack({"pool": "p", "data": 5})], INVALID_ARGUMENT,
               "data not bin")
        r = expect([header(21, "WorkPool.Push"), pack({"pool": "big", "data": b"x" * 5000})],
                   RESOURCE_EXHAUSTED, "an oversized request")
        check(c.ok("WorkPool.Size", {"pool": "big"})["size"] == 0, "oversized request ran")
        # Unknown body keys are ignored, a nil body is {}
        check(c.ok("WorkPool.Size", {"pool": "big", "future": 1})["size"] == 0, "unknown key")
        c.send_raw([header(22, "Broker.Ping"), pack(None)])
        r = c.recv(10)
        check(r is not None and r.status == OK, "nil body %r" % r)

        # The lifecycle methods' bodies: refused before anything runs
        rid = 30
        for method, body, message in (
                ("WorkPool.List", {}, "field 'pool' is required"),
                ("WorkPool.List", {"pool": "p", "status": "lost"},
                 "status: 'lost' is not an item status (pending, scheduled, claimed, done or poisoned)"),
                ("WorkPool.List", {"pool": "p", "status": ["done", "done"]},
                 "status: 'done' is given twice"),
                ("WorkPool.List", {"pool": "p", "status": []}, None),
                ("WorkPool.List", {"pool": "p", "status": 3}, None),
                ("WorkPool.List", {"pool": "p", "limit": 0}, None),
                ("WorkPool.List", {"pool": "p", "limit": 1001}, None),
                ("WorkPool.List", {"pool": "p", "limit": 1.5}, None),
                ("WorkPool.List", {"pool": "p", "cursor": ""}, None),
                ("WorkPool.List", {"pool": "p", "cursor": "c" * 65}, None),
                ("WorkPool.Retry", {"pool": "p"}, "id or all: true is required"),
                ("WorkPool.Retry", {"pool": "p", "all": False}, "id or all: true is required"),
                ("WorkPool.Retry", {"pool": "p", "id": "i", "all": True},
                 "give id or all: true, not both"),
                ("WorkPool.Retry", {"pool": "p", "all": 1}, "field 'all' must be a boolean"),
                ("WorkPool.Cancel", {"pool": "p"}, "field 'id' is required"),
                ("WorkPool.Cancel", {"id": "i"}, "field 'pool' is required"),
                ("WorkPool.Purge", {"pool": "p"}, "field 'status' is required"),
                ("WorkPool.Purge", {"pool": "p", "status": "claimed"},
                 "status: claimed items cannot be purged (a worker may be halfway)"),
                ("WorkPool.Purge", {"pool": "p", "status": ["pending", "done", "poisoned",
                                                            "claimed"]}, None),
                ("WorkPool.Purge", {"pool": "p", "status": ["done", "done"]},
                 "status: 'done' is given twice"),
                ("WorkPool.Pause", {}, "field 'pool' is required"),
                ("WorkPool.Resume", {"pool": ""}, None)):
            r = expect([header(rid, method), pack(body)], INVALID_ARGUMENT,
                       "%s %r" % (method, body), message)
            check(r.request_id == rid, "%s answered as %r" % (method, r))
            rid += 1
        check(all(p["pool"] != "p" for p in c.ok("Broker.Stats")["pools"]),
              "a refused request left pool 'p' in Stats")

        # A frame over twice max_message: ZeroMQ drops the connection, no reply
        big = Client(daemon.endpoint)
        big.send_raw([header(23, "WorkPool.Push"), pack({"pool": "big", "data": b"x" * 9000})])
        check(big.recv(0.5) is None, "a frame over the transport limit was answered")
        big.close()
        still_serving("a frame over the transport limit")
        check(c.ok("WorkPool.Size", {"pool": "big"})["size"] == 0, "huge request ran")

        # A ClaimMany stops once its items carry max_message bytes of data
        for i in range(5):
            c.ok("WorkPool.Push", {"pool": "fat", "data": pack(b"y" * 3000)})
        body = c.ok("WorkPool.ClaimMany", {"pool": "fat", "worker_id": "w", "max": 5})
        check(len(body["items"]) == 2, "claim many of large items took %d" % len(body["items"]))
        body = c.ok("WorkPool.ClaimMany", {"pool": "fat", "worker_id": "w", "max": 5})
        check(len(body["items"]) == 2, "the next claim many took %d" % len(body["items"]))
    finally:
        c.close()
        daemon.stop()


# ---------------------------------------------------------------------------
#  Inspection and lifecycle: List, Retry, Cancel, Purge, Pause, Resume

def case_lifecycle(workpoold, tmp):
    daemon = Daemon(workpoold, tmp).start()
    c = Client(daemon.endpoint)
    try:
        # a..f in push order; b and d poisoned, c done, e claimed, a and f pending
        for name in "abcdef":
            c.ok("WorkPool.Push", {"pool": "q", "id": name, "data": data(name), "max_retries": 0})
        for name, outcome in (("a", None), ("b", "fail"), ("c", "complete"), ("d", "fail"),
                              ("e", None)):
            item = claimed_item(c.ok("WorkPool.Claim", {"pool": "q", "worker_id": "w"}))
            check(item["id"] == name, "claimed %r, expected %r" % (item["id"], name))
            if outcome == "fail":
                body = c.ok("WorkPool.Fail", {"pool": "q", "id": name, "worker_id": "w",
                                              "error": "boom " + name})
                check(body == {"status": "poisoned"}, "fail %r" % body)
            elif outcome == "complete":
                c.ok("WorkPool.Complete", {"pool": "q", "id": name, "worker_id": "w",
                                           "result": data("ok")})
        c.ok("WorkPool.ReleaseByWorker", {"pool": "q", "worker_id": "w"})   # a and e
        item = claimed_item(c.ok("WorkPool.Claim", {"pool": "q", "worker_id": "w"}))
        check(item["id"] == "a", "after release claimed %r" % item["id"])
        item = claimed_item(c.ok("WorkPool.Claim", {"pool": "q", "worker_id": "w"}))
        check(item["id"] == "e", "after release claimed %r" % item["id"])
        c.ok("WorkPool.ReleaseByWorker", {"pool": "q", "worker_id": "w"})
        item = claimed_item(c.ok("WorkPool.Claim", {"pool": "q", "worker_id": "w"}))
        check(item["id"] == "a", "claimed %r" % item["id"])    # a claimed; e, f pending

        # List: push order, each item as Get returns it, paged by cursor
        body = c.ok("WorkPool.List", {"pool": "q"})
        check(list(body) == ["items", "cursor"], "list keys %r" % list(body))
        check([i["id"] for i in body["items"]] == list("abcdef"), "list %r" % body)
        check(body["cursor"] is None, "one page has a next cursor %r" % body["cursor"])
        for i in body["items"]:
            check(i == c.ok("WorkPool.Get", {"pool": "q", "id": i["id"]})["item"],
                  "listed %r is not what Get says" % i["id"])
        seen, cursor, pages = [], None, 0
        while True:
            request = {"pool": "q", "limit": 2}
            if cursor is not None:
                request["cursor"] = cursor
            body = c.ok("WorkPool.List", request)
            check(len(body["items"]) <= 2, "page of %d" % len(body["items"]))
            seen += [i["id"] for i in body["items"]]
            pages += 1
            cursor = body["cursor"]
            if cursor is None:
                break
            check(isinstance(cursor, str) and 1 <= len(cursor.encode()) <= 64,
                  "cursor %r" % cursor)
            check(pages < 10, "paging does not end")
        check(seen == list("abcdef") and pages == 3, "paged %r in %d pages" % (seen, pages))
        body = c.ok("WorkPool.List", {"pool": "q", "status": ["poisoned", "done"]})
        check([i["id"] for i in body["items"]] == list("bcd"), "filtered %r" % body)
        body = c.ok("WorkPool.List", {"pool": "q", "status": "pending", "limit": 1})
        check([i["id"] for i in body["items"]] == ["e"] and body["cursor"] is not None,
              "first pending %r" % body)
        check(c.ok("WorkPool.List", {"pool": "none"}) == {"items": [], "cursor": None},
              "an unknown pool lists nothing")
        r = c.call("WorkPool.List", {"pool": "q", "cursor": "not-a-cursor"})
        check(r.status == INVALID_ARGUMENT and "cursor" in r.message, "bad cursor %r" % r)

        # Retry by id: poisoned -> pending, attempts 0, error kept
        check(c.ok("WorkPool.Retry", {"pool": "q", "id": "b"}) == {"retried": 1}, "retry b")
        item = c.ok("WorkPool.Get", {"pool": "q", "id": "b"})["item"]
        check(item["status"] == "pending" and item["attempts"] == 0 and item["result"] is None
              and item["claimed_by"] is None and item["error"] == "boom b", "retried b %r" % item)
        for bad_id, status in (("b", FAILED_PRECONDITION), ("a", FAILED_PRECONDITION),
                               ("zz", NOT_FOUND)):
            r = c.call("WorkPool.Retry", {"pool": "q", "id": bad_id})
            check(r.status == status, "retry %s: %r" % (bad_id, r))
        check("only poisoned or done" in c.call("WorkPool.Retry", {"pool": "q", "id": "b"}).message,
              "retry of a pending item's message")
        # b claims in its push order: before e and f
        item = claimed_item(c.ok("WorkPool.Claim", {"pool": "q", "worker_id": "w2"}))
        check(item["id"] == "b", "after retry claimed %r" % item["id"])
        c.ok("WorkPool.ReleaseByWorker", {"pool": "q", "worker_id": "w2"})
        # Retry all: the poisoned (d), not the done (c)
        check(c.ok("WorkPool.Retry", {"pool": "q", "all": True}) == {"retried": 1}, "retry all")
        check(c.ok("WorkPool.Retry", {"pool": "q", "all": True}) == {"retried": 0}, "retry all again")
        check(c.ok("WorkPool.Retry", {"pool": "none", "all": True}) == {"retried": 0},
              "retry all of an unknown pool")
        # Retry of a done item
        check(c.ok("WorkPool.Retry", {"pool": "q", "id": "c"}) == {"retried": 1}, "retry done c")
        item = c.ok("WorkPool.Get", {"pool": "q", "id": "c"})["item"]
        check(item["status"] == "pending" and item["result"] is None, "retried c %r" % item)

        # Cancel: pending goes (and may be pushed again); claimed, done, unknown refused
        check(c.ok("WorkPool.Cancel", {"pool": "q", "id": "f"}) == {}, "cancel f")
        check(c.call("WorkPool.Get", {"pool": "q", "id": "f"}).status == NOT_FOUND, "f remains")
        body = c.ok("WorkPool.Push", {"pool": "q", "id": "f", "data": data("f2")})
        check(body["duplicate"] is False, "push after cancel %r" % body)
        r = c.call("WorkPool.Cancel", {"pool": "q", "id": "a"})
        check(r.status == FAILED_PRECONDITION and "'w'" in r.message, "cancel claimed %r" % r)
        c.ok("WorkPool.Complete", {"pool": "q", "id": "a", "worker_id": "w"})
        r = c.call("WorkPool.Cancel", {"pool": "q", "id": "a"})
        check(r.status == FAILED_PRECONDITION, "cancel done %r" % r)
        check(c.call("WorkPool.Cancel", {"pool": "q", "id": "zz"}).status == NOT_FOUND,
              "cancel unknown")

        # Purge by state: a done; b, c, d, e, f pending
        check(c.ok("WorkPool.Purge", {"pool": "q", "status": "done"}) == {"purged": 1}, "purge done")
        check(c.ok("WorkPool.Purge", {"pool": "q", "status": ["done", "poisoned"]})
              == {"purged": 0}, "purge again")
        check(c.ok("WorkPool.Purge", {"pool": "none", "status": "pending"}) == {"purged": 0},
              "purge of an unknown pool")
        check(c.ok("WorkPool.Size", {"pool": "q"})["size"] == 5, "size after purge")

        # Pause: pushes and size go on, claims find nothing; Stats says so
        check(c.ok("WorkPool.Pause", {"pool": "q"}) == {}, "pause")
        check(c.ok("WorkPool.Pause", {"pool": "q"}) == {}, "pause twice")
        check(c.ok("WorkPool.Claim", {"pool": "q", "worker_id": "w"})["item"] is None,
              "a paused pool gave an item")
        check(c.ok("WorkPool.ClaimMany", {"pool": "q", "worker_id": "w", "max": 5})["items"] == [],
              "a paused pool gave items")
        c.ok("WorkPool.Push", {"pool": "q", "id": "g", "data": data("g")})
        check(c.ok("WorkPool.Size", {"pool": "q"})["size"] == 6, "size while paused")
        c.ok("WorkPool.Pause", {"pool": "idle"})
        pools = {p["pool"]: p for p in c.ok("Broker.Stats")["pools"]}
        check(list(pools["q"]) == ["pool", "pending", "claimed", "done", "poisoned", "paused",
                                   "scheduled", "backoff_base_seconds", "backoff_cap_seconds",
                                   "backoff_jitter"],
              "stats keys %r" % pools["q"])
        check(pools["q"]["paused"] is True and pools["q"]["pending"] == 6, "stats q %r" % pools["q"])
        check(pools["idle"] == {"pool": "idle", "pending": 0, "claimed": 0, "done": 0,
                                "poisoned": 0, "paused": True, "scheduled": 0,
                                "backoff_base_seconds": 0, "backoff_cap_seconds": 0,
                                "backoff_jitter": 0}, "stats idle %r" % pools.get("idle"))
        # A claim parked on the paused pool waits through a push, and is served on resume
        parked = c.send("WorkPool.Claim", {"pool": "q", "worker_id": "w3", "wait_seconds": 20})
        wait_until(lambda: parked_count(c) >= 1, "the claim to park")
        c.ok("WorkPool.Push", {"pool": "q", "id": "h", "data": data("h")})
        check(c.recv(0.3) is None, "a parked claim on a paused pool was answered")
        check(c.ok("WorkPool.Resume", {"pool": "q"}) == {}, "resume")
        item = claimed_item(c.wait_for(parked, 10).body, "the parked claim's item")
        check(item["id"] == "b", "after resume the parked claim got %r" % item["id"])
        check(c.ok("WorkPool.Resume", {"pool": "q"}) == {}, "resume twice")
        pools = {p["pool"]: p for p in c.ok("Broker.Stats")["pools"]}
        check(pools["q"]["paused"] is False, "stats after resume %r" % pools["q"])
    finally:
        c.close()
        daemon.stop()

    # The pause is durable: a restarted broker keeps it
    daemon = Daemon(workpoold, tmp).start()
    c = Client(daemon.endpoint)
    try:
        pools = {p["pool"]: p for p in c.ok("Broker.Stats")["pools"]}
        check(pools.get("idle", {}).get("paused") is True, "pause lost on restart: %r" % pools)
        check(pools["q"]["paused"] is False, "resume lost on restart: %r" % pools["q"])
    finally:
        c.close()
        daemon.stop()


# ---------------------------------------------------------------------------
#  Deadlines

def case_deadline(workpoold, tmp):
    # Every batch is held 300 ms between receipt and running
    daemon = Daemon(workpoold, tmp, "--test-stall-ms", "300").start()
    c = Client(daemon.endpoint)
    try:
        r = c.call("WorkPool.Push", {"pool": "d", "data": data(1), "id": "late"}, timeout_ms=50)
        check(r.status == DEADLINE_EXCEEDED and r.body == {}, "expired push %r" % r)
        r = c.call("WorkPool.Push", {"pool": "d", "data": data(2), "id": "in-time"}, timeout_ms=20000)
        check(r.status == OK, "push in time %r" % r)
        check(c.call("WorkPool.Get", {"pool": "d", "id": "late"}).status == NOT_FOUND,
              "an expired push ran")
        check(c.counters()["requests.WorkPool.Push.DEADLINE_EXCEEDED"] == 1, "deadline counter")
        # A claim that waits ends at its timeout with no item, not an error
        body = c.ok("WorkPool.Claim", {"pool": "empty", "worker_id": "w", "wait_seconds": 60},
                    timeout_ms=1500)
        check(body == {"item": None}, "wait ended by the timeout %r" % body)
    finally:
        c.close()
        daemon.stop()


# ---------------------------------------------------------------------------
#  Blocking claims

def case_parked(workpoold, tmp):
    daemon = Daemon(workpoold, tmp).start()
    pusher = Client(daemon.endpoint)
    a, b = Client(daemon.endpoint), Client(daemon.endpoint)
    try:
        # Woken by a push from another client
        ra = a.send("WorkPool.Claim", {"pool": "q", "worker_id": "wa", "wait_seconds": 60})
        wait_until(lambda: parked_count(pusher) == 1, "the claim to park")
        check(a.recv(0.1) is None, "a parked claim answered early")
        pid = pusher.ok("WorkPool.Push", {"pool": "q", "data": data("hello")})["id"]
        item = claimed_item(a.wait_for(ra).body)
        check(item["id"] == pid and item["claimed_by"] == "wa", "woken claim %r" % item)
        check(parked_count(pusher) == 0, "still parked")

        # The longest waiting is served first
        ra = a.send("WorkPool.Claim", {"pool": "fifo", "worker_id": "wa", "wait_seconds": 60})
        wait_until(lambda: parked_count(pusher) == 1, "the first claim to park")
        rb = b.send("WorkPool.Claim", {"pool": "fifo", "worker_id": "wb", "wait_seconds": 60})
        wait_until(lambda: parked_count(pusher) == 2, "the second claim to park")
        pusher.ok("WorkPool.Push", {"pool": "fifo", "data": data(1), "id": "f1"})
        check(claimed_item(a.wait_for(ra).body)["id"] == "f1", "first waiter served first")
        check(b.recv(0.2) is None, "the second waiter got something")
        pusher.ok("WorkPool.Push", {"pool": "fifo", "data": data(2), "id": "f2"})
        check(claimed_item(b.wait_for(rb).body)["id"] == "f2", "second waiter")

        # Ended by its wait
        t0 = time.monotonic()
        body = a.ok("WorkPool.Claim", {"pool": "none", "worker_id": "wa", "wait_seconds": 0.3})
        check(body == {"item": None}, "wait ended %r" % body)
        check(time.monotonic() - t0 >= 0.29, "the wait ended early")
        body = a.ok("WorkPool.ClaimMany", {"pool": "none", "worker_id": "wa", "max": 3,
                                          "wait_seconds": 0.2})
        check(body == {"items": []}, "claim many wait ended %r" % body)

        # ClaimMany woken by a PushMany takes up to max
        ra = a.send("WorkPool.ClaimMany", {"pool": "cm", "worker_id": "wa", "max": 2,
                                           "wait_seconds": 60})
        wait_until(lambda: parked_count(pusher) == 1, "the claim many to park")
        pusher.ok("WorkPool.PushMany", {"pool": "cm", "items": [
            {"data": data(i), "id": "cm%d" % i} for i in range(3)]})
        body = a.wait_for(ra).body
        check([i["id"] for i in body["items"]] == ["cm0", "cm1"], "claim many woken %r" % body)
        check(pusher.ok("WorkPool.Size", {"pool": "cm"})["size"] == 1, "one left")

        # CompleteAndClaim waits after completing
        claimed_item(a.ok("WorkPool.Claim", {"pool": "cm", "worker_id": "wa"}))
        ra = a.send("WorkPool.CompleteAndClaim", {"pool": "cm", "id": "cm2", "worker_id": "wa",
                                                  "wait_seconds": 60})
        wait_until(lambda: parked_count(pusher) == 1, "the complete-and-claim to park")
        check(pusher.ok("WorkPool.Get", {"pool": "cm", "id": "cm2"})["item"]["status"] == "done",
              "completed before waiting")
        pusher.ok("WorkPool.Push", {"pool": "cm", "data": data(9), "id": "cm9"})
        check(claimed_item(a.wait_for(ra).body)["id"] == "cm9", "complete-and-claim woken")
        # ... and when the complete fails, claims nothing
        r = a.call("WorkPool.CompleteAndClaim", {"pool": "cm", "id": "nope", "worker_id": "wa",
                                                 "wait_seconds": 60})
        check(r.status == NOT_FOUND, "complete-and-claim of unknown %r" % r)

        # Woken by a Fail that returns the item to pending
        pusher.ok("WorkPool.Push", {"pool": "ff", "data": data(1), "id": "ff1"})
        claimed_item(b.ok("WorkPool.Claim", {"pool": "ff", "worker_id": "wb"}))
        ra = a.send("WorkPool.Claim", {"pool": "ff", "worker_id": "wa", "wait_seconds": 60})
        wait_until(lambda: parked_count(pusher) == 1, "the claim to park on ff")
        b.ok("WorkPool.Fail", {"pool": "ff", "id": "ff1", "worker_id": "wb", "error": "x"})
        item = claimed_item(a.wait_for(ra).body)
        check(item["id"] == "ff1" and item["attempts"] == 1, "woken by fail %r" % item)

        # Woken by ReleaseByWorker
        ra = b.send("WorkPool.Claim", {"pool": "ff", "worker_id": "wb", "wait_seconds": 60})
        wait_until(lambda: parked_count(pusher) == 1, "the claim to park on ff again")
        pusher.ok("WorkPool.ReleaseByWorker", {"pool": "ff", "worker_id": "wa"})
        item = claimed_item(b.wait_for(ra).body)
        check(item["id"] == "ff1" and item["claimed_by"] == "wb", "woken by release %r" % item)

        # A client that went away is not handed the item, once the broker
        # can tell it has gone (its I/O thread has seen the connection
        # close: up to the machine, so try until it has)
        abandoned = False
        for attempt in range(20):
            pool = "gone-%d" % attempt
            gone = Client(daemon.endpoint)
            gone.send("WorkPool.Claim", {"pool": pool, "worker_id": "wg", "wait_seconds": 60})
            wait_until(lambda: parked_count(pusher) == 1, "the claim to park on " + pool)
            gone.close()
            time.sleep(0.2)
            pusher.ok("WorkPool.Push", {"pool": pool, "data": data(1), "id": "g1"})
            if pusher.ok("WorkPool.Size", {"pool": pool})["size"] == 1:
                abandoned = True
                break
        check(abandoned, "items were handed to clients that had gone")
        check(pusher.counters()["parked_abandoned"] == 1, "abandoned counter")
        check(claimed_item(a.ok("WorkPool.Claim", {"pool": pool, "worker_id": "wa"}))["id"] == "g1",
              "the item is still there")
        check(parked_count(pusher) == 0, "still parked at the end")
    finally:
        for client in (pusher, a, b):
            client.close()
        daemon.stop()


# ---------------------------------------------------------------------------
#  Liveness: leases, lost workers, implicit heartbeats, purge

def case_liveness(workpoold, tmp):
    daemon = Daemon(workpoold, tmp, "--retain-done", "0.5").start()
    c = Client(daemon.endpoint)
    waiter = Client(daemon.endpoint)
    try:
        # A worker that stops heartbeating is declared lost; its claim goes
        # back to pending as a failed attempt
        c.ok("Registry.Register", {"worker_id": "quiet", "heartbeat_interval_seconds": 0.3})
        c.ok("WorkPool.Push", {"pool": "live", "data": data(1), "id": "l1"})
        claimed_item(c.ok("WorkPool.Claim", {"pool": "live", "worker_id": "quiet"}))
        wait_until(lambda: c.ok("Registry.Get", {"worker_id": "quiet"})["worker"]["status"] == "lost",
                   "the worker to be declared lost")
        item = c.ok("WorkPool.Get", {"pool": "live", "id": "l1"})["item"]
        check(item["status"] == "pending" and item["attempts"] == 1
              and item["error"] == "worker lost" and item["claimed_by"] is None,
              "item of a lost worker %r" % item)
        r = c.call("Registry.Heartbeat", {"worker_id": "quiet"})
        check(r.status == FAILED_PRECONDITION and "register" in r.message,
              "heartbeat of a lost worker %r" % r)
        c.ok("Registry.Register", {"worker_id": "quiet", "heartbeat_interval_seconds": 0.3})

        # Requests from a registered worker count as its heartbeat
        c.ok("Registry.Register", {"worker_id": "busy", "heartbeat_interval_seconds": 1.0})
        end = time.monotonic() + 3.0
        while time.monotonic() < end:
            c.ok("WorkPool.Claim", {"pool": "nothing", "worker_id": "busy"})
            time.sleep(0.1)
        check(c.ok("Registry.Get", {"worker_id": "busy"})["worker"]["status"] == "active",
              "a worker making requests was declared lost")
        check(c.counters()["implicit_heartbeats"] > 0, "no implicit heartbeats counted")

        # An expired lease returns the item, and wakes a parked claim
        c.ok("WorkPool.Push", {"pool": "lease", "data": data(1), "id": "e1"})
        claimed_item(c.ok("WorkPool.Claim", {"pool": "lease", "worker_id": "slow",
                                             "lease_seconds": 0.5}))
        # (a wait far shorter than the broker's 60 s housekeeping period: the
        # lapse itself must wake it, on every store, SQLite's included)
        rw = waiter.send("WorkPool.Claim", {"pool": "lease", "worker_id": "next", "wait_seconds": 10})
        item = claimed_item(waiter.wait_for(rw, 30).body, "the expired item")
        check(item["id"] == "e1" and item["attempts"] == 1 and item["error"] == "lease expired"
              and item["claimed_by"] == "next", "expired lease %r" % item)
        counters = c.counters()
        check(counters["leases_expired"] >= 1 and counters["workers_lost"] >= 1,
              "reap counters %r" % counters)

        # Done items are purged after --retain-done
        c.ok("WorkPool.Complete", {"pool": "lease", "id": "e1", "worker_id": "next"})
        wait_until(lambda: c.call("WorkPool.Get", {"pool": "lease", "id": "e1"}).status == NOT_FOUND,
                   "the done item to be purged")
        check(c.ok("WorkPool.Get", {"pool": "live", "id": "l1"})["item"]["status"] == "pending",
              "a pending item was purged")
        check(c.counters()["purged"] >= 1, "purge counter")
        log = daemon.log()
        check("workers lost" in log and "purged" in log, "log lines:\n" + log)
    finally:
        c.close()
        waiter.close()
        daemon.stop()


# ---------------------------------------------------------------------------
#  Stopping and crashing under load loses nothing acknowledged

class Loader:
    """Pushes from several sockets, pipelined, and records every id the
    broker acknowledged."""

    def __init__(self, endpoint, sockets=4, window=32):
        self.clients = [Client(endpoint, zmq.Context()) for _ in range(sockets)]
        self.window = window
        self.acked = set()
        self.errors = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run)

    def run(self):
        poller = zmq.Poller()
        outstanding = {}
        for k, client in enumerate(self.clients):
            poller.register(client.socket, zmq.POLLIN)
            outstanding[k] = {}
        n = 0
        quiet_since = None
        while True:
            if not self.stop.is_set():
                for k, client in enumerate(self.clients):
                    while len(outstanding[k]) < self.window:
                        n += 1
                        item_id = "load-%d-%d" % (k, n)
                        rid = client.send("WorkPool.Push", {"pool": "load", "data": data(n),
                                                            "id": item_id})
                        outstanding[k][rid] = item_id
            events = dict(poller.poll(200))
            if not events:
                if self.stop.is_set():
                    if quiet_since is None:
                        quiet_since = time.monotonic()
                    if time.monotonic() - quiet_since > 1.0:
                        break
                continue
            quiet_since = None
            for k, client in enumerate(self.clients):
                if client.socket in events:
                    while client.socket.poll(0):
                        reply = Reply(client.socket.recv_multipart())
                        item_id = outstanding[k].pop(reply.request_id, None)
                        if reply.status == OK and item_id:
                            self.acked.add(item_id)
                        elif reply.status != OK:
                            self.errors.append(reply)

    def start(self):
        self.thread.start()
        return self

    def finish(self):
        self.stop.set()
        self.thread.join(60)
        for client in self.clients:
            client.close()
            client.context.term()


def verify_acked(daemon, acked):
    c = Client(daemon.endpoint)
    try:
        pending = {}
        missing = []
        ids = sorted(acked)
        for start in range(0, len(ids), 200):
            chunk = ids[start:start + 200]
            for item_id in chunk:
                pending[c.send("WorkPool.Get", {"pool": "load", "id": item_id})] = item_id
            for _ in chunk:
                reply = c.recv(30)
                check(reply is not None, "no reply to a Get after restart")
                if reply.status != OK:
                    missing.append(pending[reply.request_id])
        check(not missing, "%d acknowledged pushes lost, e.g. %r" % (len(missing), missing[:5]))
    finally:
        c.close()


def load_then(workpoold, tmp, signum):
    daemon = Daemon(workpoold, tmp).start()
    loader = Loader(daemon.endpoint).start()
    wait_until(lambda: len(loader.acked) >= 500, "500 acknowledged pushes", timeout=60)
    daemon.signal(signum)
    code = daemon.wait()
    loader.finish()
    if signum == signal.SIGTERM:
        check(code == 0, "workpoold exited with %d after SIGTERM:\n%s" % (code, daemon.log()))
    else:
        check(code == -signal.SIGKILL, "workpoold exited with %d" % code)
    check(not [e for e in loader.errors if e.status != OK],
          "pushes failed: %r" % loader.errors[:3])
    restarted = Daemon(workpoold, tmp).start()
    try:
        verify_acked(restarted, loader.acked)
    finally:
        restarted.stop()
    return len(loader.acked)


def case_sigterm_load(workpoold, tmp):
    print("%d acknowledged pushes kept over SIGTERM" % load_then(workpoold, tmp, signal.SIGTERM))


def case_sigkill_load(workpoold, tmp):
    print("%d acknowledged pushes kept over SIGKILL" % load_then(workpoold, tmp, signal.SIGKILL))


def case_sigterm_parked(workpoold, tmp):
    daemon = Daemon(workpoold, tmp).start()
    c = Client(daemon.endpoint)
    try:
        c.ok("WorkPool.Push", {"pool": "keep", "data": data(1), "id": "k1"})
        c.ok("WorkPool.Push", {"pool": "keep", "data": data(2), "id": "k2"})
        claimed_item(c.ok("WorkPool.Claim", {"pool": "keep", "worker_id": "w"}))
        r1 = c.send("WorkPool.Claim", {"pool": "idle", "worker_id": "w", "wait_seconds": 600})
        r2 = c.send("WorkPool.ClaimMany", {"pool": "idle", "worker_id": "w", "max": 4,
                                          "wait_seconds": 600})
        wait_until(lambda: parked_count(c) == 2, "the claims to park")
        daemon.signal(signal.SIGTERM)
        check(c.wait_for(r1, 30).body == {"item": None}, "parked claim at stop")
        check(c.wait_for(r2, 30).body == {"items": []}, "parked claim many at stop")
        code = daemon.wait()
        check(code == 0, "workpoold exited with %d:\n%s" % (code, daemon.log()))
    finally:
        c.close()
        daemon.kill()
    # Restarting on the same file resumes where it stopped
    daemon = Daemon(workpoold, tmp).start()
    c = Client(daemon.endpoint)
    try:
        check(c.ok("WorkPool.Get", {"pool": "keep", "id": "k1"})["item"]["status"] == "claimed",
              "claim kept over a restart")
        check(c.ok("WorkPool.Size", {"pool": "keep"})["size"] == 1, "pending kept over a restart")
    finally:
        c.close()
        daemon.stop()


# ---------------------------------------------------------------------------
#  The daemon's command line, tcp, the memory store

def case_daemon(workpoold, tmp):
    run = lambda *args: subprocess.run([workpoold] + list(args), capture_output=True, text=True,
                                       timeout=60, cwd=tmp)
    r = run("--help")
    check(r.returncode == 0 and "--bind" in r.stdout and "--retain-done" in r.stdout, "--help")
    r = run("--version")
    check(r.returncode == 0 and r.stdout.startswith("workpoold "), "--version %r" % r.stdout)
    for bad in (["--bogus"], ["--lease", "abc"], ["--lease", "0"], ["--store", "nope"],
                ["--sync", "often"], ["--bind", "udp://x"], ["--max-message", "12"],
                ["--log-level", "loud"], ["--heartbeat"], ["extra"]):
        r = run(*bad)
        check(r.returncode == 2 and "workpoold:" in r.stderr, "%r gave %d: %s"
              % (bad, r.returncode, r.stderr))
    r = run("--bind", "ipc://%s/no/such/dir/x.ipc" % tmp, "--store", "memory")
    check(r.returncode == 1 and "cannot listen" in r.stderr, "a bind that fails: %r" % r.stderr)
    r = run("--db", tmp, "--bind", "ipc://%s/x.ipc" % tmp)
    check(r.returncode == 1, "a store that cannot open: %d %r" % (r.returncode, r.stderr))

    # The store's settings reach it
    daemon = Daemon(workpoold, tmp, "--sync", "full", "--lease", "5", "--heartbeat", "2",
                    "--retain-done", "0").start()
    try:
        c = Client(daemon.endpoint)
        worker = c.ok("Registry.Register", {"worker_id": "w"})["worker"]
        check(worker["heartbeat_interval_seconds"] == 2.0, "--heartbeat: %r" % worker)
        c.ok("WorkPool.Push", {"pool": "s", "data": data(1)})
        item = claimed_item(c.ok("WorkPool.Claim", {"pool": "s", "worker_id": "w"}))
        seconds = lambda t: time.mktime(time.strptime(t[:19], "%Y-%m-%dT%H:%M:%S")) + float(t[19:-1])
        lease = seconds(item["lease_expires_at"]) - seconds(item["claimed_at"])
        check(abs(lease - 5.0) < 1e-3, "--lease: %r" % item)
        c.close()
    finally:
        daemon.stop()

    # tcp on a free port, with the memory store, two endpoints
    daemon = Daemon(workpoold, tmp, "--bind", "ipc://%s/second.ipc" % tmp, "--log-level", "debug",
                    store="memory", bind="tcp://127.0.0.1:*").start()
    try:
        c = Client(daemon.endpoint)
        c.ok("WorkPool.Push", {"pool": "m", "data": data(1)})
        c.close()
        c = Client("ipc://%s/second.ipc" % tmp)
        check(c.ok("WorkPool.Size", {"pool": "m"})["size"] == 1, "the second endpoint")
        c.close()
    finally:
        daemon.stop()
    log = daemon.log()
    check("listening on tcp://127.0.0.1:" in log and "started" in log and "stopped" in log,
          "log:\n" + log)
    check("WorkPool.Push" not in log, "a log line per request:\n" + log)


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in CASES:
        sys.stderr.write("usage: test_broker.py WORKPOOLD CASE\ncases: %s\n" % " ".join(CASES))
        return 2
    workpoold, case = sys.argv[1], sys.argv[2]
    with Workdir() as tmp:
        try:
            CASES[case](workpoold, tmp)
        except TestFailure as e:
            sys.stderr.write("FAIL %s: %s\n" % (case, e))
            return 1
        finally:
            Daemon.kill_all()
    print("ok %s" % case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
