//  Failover across several endpoints (FAILOVER.md, issue 17): two workpoold
//  processes on separate SQLite files; the one in use is SIGKILLed or
//  SIGSTOPped; the client moves to the other, resends what is safe to resend
//  there, never resends a claim, counts the move; a subscription's lost
//  connection moves its client, so the next subscribe goes to the other.
import { test, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { Client, DeadlineExceeded, InvalidArgument, NotFound, Unavailable } from "../dist/esm/index.js";
import { readdirSync, readFileSync } from "node:fs";
import { startBroker } from "./broker.mjs";

const RETRY = 0.3;
let a, b;
beforeEach(async () => { [a, b] = await Promise.all([startBroker(), startBroker()]); });
afterEach(async () => {
  for (const x of [a, b]) {
    try { process.kill(x.pid, "SIGCONT"); } catch { /* gone */ }
    x.proc.kill("SIGKILL");
    await x.stop();
  }
});

const both = () => `${a.endpoint} , ${b.endpoint}`;
//  SIGSTOP, resolving once every thread of it is stopped (kill() returns
//  before a thread running on another core has stopped)
async function sigstop(x) {
  process.kill(x.pid, "SIGSTOP");
  const tasks = `/proc/${x.pid}/task`;
  for (;;) {
    const states = readdirSync(tasks).map((t) => {
      try { return readFileSync(`${tasks}/${t}/stat`, "utf8").split(")").pop().trim()[0]; } catch { return "T"; }
    });
    if (states.every((c) => c === "T" || c === "t")) return;
    await new Promise((r) => setTimeout(r, 1));
  }
}

async function kill(x) {
  x.proc.kill("SIGKILL");
  await x.exited;
}

for (const how of ["kill", "stop"]) {
  test(`push and get move to the second broker (${how})`, async () => {
    const c = new Client(both(), { timeout: 5, retryInterval: RETRY });
    const onB = new Client(b.endpoint, { timeout: 5 });
    try {
      assert.equal(c.endpoint, a.endpoint);
      assert.deepEqual(c.endpoints, [a.endpoint, b.endpoint]);
      assert.equal(c.moves, 0);
      const first = await c.pool("jobs").push({ n: 0 });
      await assert.rejects(onB.pool("jobs").get(first.id), NotFound);   // on A only
      if (how === "kill") await kill(a); else await sigstop(a);
      const pushed = await c.pool("jobs").push({ n: 1 });
      assert.equal(c.endpoint, b.endpoint);
      assert.equal(c.moves, 1);
      assert.deepEqual((await onB.pool("jobs").get(pushed.id)).data, { n: 1 });
      assert.deepEqual((await c.pool("jobs").get(pushed.id)).data, { n: 1 });
      assert.equal(c.moves, 1, "it stays on B");
    } finally {
      await c.close();
      await onB.close();
    }
  });

  test(`a claim in flight is not resent; the next claim works on the second (${how})`, async () => {
    const c = new Client(both(), { timeout: 2, retryInterval: RETRY });
    const onB = new Client(b.endpoint, { timeout: 5 });
    try {
      await c.ping();
      const waiting = await onB.pool("jobs").push({ on: "b" });
      await sigstop(a);          //  the claim surely goes out to A
      const claim = c.pool("jobs").claim("w1", { wait: 0.5 });
      const pushes = Promise.all([0, 1, 2, 3].map((n) => c.pool("jobs").push({ n })));
      if (how === "kill") setTimeout(() => a.proc.kill("SIGKILL"), 100);   //  in flight
      for (const p of await pushes) assert.ok(await onB.pool("jobs").get(p.id));
      await assert.rejects(claim, DeadlineExceeded);
      assert.equal(c.moves, 1);
      assert.equal(c.endpoint, b.endpoint);
      assert.equal((await onB.pool("jobs").get(waiting.id)).status, "pending", "the claim was not resent");
      const item = await c.pool("jobs").claim("w1");
      assert.equal(item?.id, waiting.id);
    } finally {
      await c.close();
      await onB.close();
    }
  });
}

test("both gone: it wraps round and fails UNAVAILABLE naming the list", async () => {
  const c = new Client(both(), { timeout: 2, retryInterval: RETRY });
  try {
    await c.ping();
    await kill(b);
    await kill(a);
    const e = await c.ping().then(() => null, (e) => e);
    //  DEADLINE_EXCEEDED when the first copy went out before the drop was seen
    assert.ok(e instanceof Unavailable || e instanceof DeadlineExceeded, String(e));
    assert.ok(e.message.includes(a.endpoint) && e.message.includes(b.endpoint), e.message);
    assert.ok(c.moves >= 2, `moves ${c.moves}`);
  } finally {
    await c.close();
  }
});

test("one endpoint never moves", async () => {
  const c = new Client(a.endpoint, { timeout: 1, retryInterval: RETRY });
  try {
    await c.ping();
    await kill(a);
    await assert.rejects(c.ping(), Unavailable);
    assert.equal(c.moves, 0);
    assert.equal(c.endpoint, a.endpoint);
  } finally {
    await c.close();
  }
});

test("a bad list is INVALID_ARGUMENT at construction, naming it", () => {
  for (const bad of ["tcp://127.0.0.1:1,", "tcp://127.0.0.1:1,,ipc:///tmp/x",
    "tcp://127.0.0.1:1, http://x:2", "tcp://127.0.0.1:1,nothing"]) {
    assert.throws(() => new Client(bad), (e) => e instanceof InvalidArgument && e.message.includes("endpoint list"), bad);
  }
});

test("a subscription's lost connection moves its client: the next subscribe is on the second", async () => {
  const c = new Client(both(), { timeout: 5, retryInterval: RETRY });
  const onB = new Client(b.endpoint, { timeout: 5 });
  try {
    await c.ping();
    let sub = c.pool("jobs").subscribe("w1", { credit: 4 });
    await c.pool("jobs").push({ on: "a" });
    assert.ok(await sub.next(5), "the stream is up on A");
    await kill(a);
    await assert.rejects((async () => { for (;;) await sub.next(5); })(), Unavailable);
    await sub.close().catch(() => {});
    assert.equal(c.endpoint, b.endpoint);
    assert.equal(c.moves, 1);
    const pushed = await onB.pool("jobs").push({ n: 1 });
    sub = c.pool("jobs").subscribe("w1", { credit: 4 });
    try {
      const item = await sub.next(5);
      assert.equal(item?.id, pushed.id);
    } finally {
      await sub.close().catch(() => {});
    }
  } finally {
    await c.close();
    await onB.close();
  }
});
