//  Subscriptions (WorkPool.Subscribe) through the Node client against a
//  real workpoold: items streamed once each, credit never exceeded,
//  pipelined acks and their outcomes, close() leaving the held items
//  claimed, the ends (Unsubscribe, replaced, worker lost, broker gone) as
//  error classes, bad input, the streaming Worker (4 processes over 2000
//  items) and the FlatAgents backend's credit. No timed assertions: the
//  waits are bounds.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  Cancelled, Client, FailedPrecondition, InvalidArgument, NotFound, Unavailable, Worker, WorkpoolWorkBackend,
} from "../dist/esm/index.js";
import { startBroker } from "./broker.mjs";

let broker;
before(async () => { broker = await startBroker(); });
after(async () => { await broker?.stop(); });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, check, ms = 60000) {
  const t0 = Date.now();
  for (;;) {
    const v = await check();
    if (v) return v;
    assert.ok(Date.now() - t0 < ms, `${what} did not happen within ${ms} ms`);
    await sleep(20);
  }
}

const statsOf = async (c, pool) => (await c.stats()).pools.find((p) => p.pool === pool);
let n = 0;
const fresh = () => `p${++n}`;

test("items stream once each and the credit is never exceeded", async () => {
  const c = new Client(broker.endpoint, { timeout: 10 });
  const name = fresh();
  const pool = c.pool(name);
  try {
    const ids = (await pool.pushMany(Array.from({ length: 300 }, (_, i) => ({ data: i })))).map((r) => r.id);
    const credit = 8;
    const sub = pool.subscribe("w1", { credit });
    const held = [];
    for (let i = 0; i < credit; i++) held.push(await sub.next(10));
    assert.ok(held.every(Boolean));
    assert.equal(await pool.size(), 300 - credit);
    assert.equal((await statsOf(c, name)).claimed, credit);
    const seen = held.map((x) => x.id);
    let sent = 0;
    for (const it of held) { sub.complete(it, it.data); sent++; }
    while (seen.length < 300) {
      const it = await sub.next(10);
      assert.ok(it, `the stream stalled after ${seen.length}`);
      seen.push(it.id);
      assert.ok(sub.received <= sent + credit, `${sub.received} streamed, ${sent} acks sent`);
      assert.equal(it.claimed_by, "w1");
      sub.complete(it, it.data);
      sent++;
    }
    const outcomes = await sub.flush();
    assert.ok(outcomes.every((o) => o.code === 0));
    assert.deepEqual(await sub.close(), []);
    assert.equal(new Set(seen).size, 300);
    assert.deepEqual([...seen].sort(), [...ids].sort());
    const s = await statsOf(c, name);
    assert.equal(s.done, 300);
    assert.equal(s.claimed, 0);
    assert.equal((await pool.get(ids[7])).result, 7);
  } finally {
    await c.close();
  }
});

test("acks are pipelined and every outcome is kept", async () => {
  const c = new Client(broker.endpoint, { timeout: 10 });
  const name = fresh();
  const pool = c.pool(name);
  try {
    await pool.pushMany(Array.from({ length: 8 }, (_, i) => ({ data: i })));
    const sub = pool.subscribe("w1", { credit: 8 });
    const items = [];
    for (let i = 0; i < 8; i++) items.push(await sub.next(10));
    for (const it of items.slice(0, 6)) sub.complete(it, "done");
    sub.fail(items[6], "broke", { retryAfter: 60 });
    sub.complete("no-such-item");
    //  All sent before any reply is read
    assert.equal(sub.pendingAcks, 8);
    const outcomes = await sub.flush();
    assert.equal(sub.pendingAcks, 0);
    assert.equal(outcomes.length, 8);
    const byId = Object.fromEntries(outcomes.map((o) => [o.id, o]));
    for (const it of items.slice(0, 6)) assert.equal(byId[it.id].code, 0);
    assert.equal(byId[items[6].id].status, "scheduled");
    assert.ok(byId["no-such-item"].error instanceof NotFound);
    sub.completeMany([items[7], "no-such-item"]);
    const many = await sub.flush();
    assert.deepEqual(many.map((o) => [o.verb, o.code]), [["completeMany", 0], ["completeMany", 5]]);
    await sub.close();
    const s = await statsOf(c, name);
    assert.equal(s.done, 7);
    assert.equal(s.scheduled, 1);
    assert.equal(s.claimed, 0);
  } finally {
    await c.close();
  }
});

test("close releases nothing and the items stay claimed", async () => {
  const c = new Client(broker.endpoint, { timeout: 10 });
  const pool = c.pool(fresh());
  try {
    await pool.pushMany(Array.from({ length: 5 }, (_, i) => ({ data: i })));
    const sub = pool.subscribe("w1", { credit: 3 });
    const first = await sub.next(10);
    assert.ok(first);
    await until("three streamed", () => sub.received === 3);
    const left = await sub.close();
    assert.ok(sub.ended);
    assert.equal(left.length, 2);
    for (const it of [first, ...left]) {
      const got = await pool.get(it.id);
      assert.equal(got.status, "claimed");
      assert.equal(got.claimed_by, "w1");
    }
    assert.equal(await pool.size(), 2);
    assert.deepEqual(await sub.close(), []);
    assert.equal(await pool.releaseByWorker("w1"), 3);
    assert.equal(await pool.size(), 5);
  } finally {
    await c.close();
  }
});

test("the ends: Unsubscribe from elsewhere OK, replaced Cancelled", async () => {
  const c = new Client(broker.endpoint, { timeout: 10 });
  const pool = c.pool(fresh());
  try {
    const sub = pool.subscribe("w1", { credit: 2 });
    await pool.push("x", { id: "a" });
    assert.equal((await sub.next(10)).id, "a");
    await pool.unsubscribe("w1");
    assert.equal(await sub.next(10), null);
    assert.ok(sub.ended && sub.error === undefined);
    await sub.close();
    await pool.unsubscribe("w1");
    await pool.pushMany([{ data: "b" }, { data: "c" }]);
    const old = pool.subscribe("w2", { credit: 1 });
    assert.equal((await old.next(10)).data, "b");
    const newer = pool.subscribe("w2", { credit: 2 });
    await assert.rejects(old.next(10), (e) => e instanceof Cancelled);
    assert.ok(old.error instanceof Cancelled);
    assert.equal((await newer.next(10)).data, "c");
    await old.close();
    await newer.close();
  } finally {
    await c.close();
  }
});

test("a lost worker's stream ends FailedPrecondition", async () => {
  const c = new Client(broker.endpoint, { timeout: 10 });
  const pool = c.pool(fresh());
  try {
    await c.register({ worker_id: "gone", heartbeat_interval_seconds: 0.3 });
    await pool.push("x", { id: "a" });
    const sub = pool.subscribe("gone", { credit: 1 });
    assert.equal((await sub.next(10)).id, "a");
    await assert.rejects((async () => { while (await sub.next(30)); })(), (e) => e instanceof FailedPrecondition);
    assert.equal((await pool.get("a")).status, "pending");
    await sub.close();
    assert.equal((await c.getWorker("gone")).status, "lost");
  } finally {
    await c.close();
  }
});

test("the broker gone ends the stream Unavailable", async () => {
  const b = await startBroker();
  const c = new Client(b.endpoint, { timeout: 5 });
  try {
    const sub = c.pool("jobs").subscribe("w1", { credit: 4 });
    await c.pool("jobs").push(1);
    assert.equal((await sub.next(10)).data, 1);
    b.proc.kill("SIGKILL");
    await assert.rejects(sub.next(30), (e) => e instanceof Unavailable);
    await sub.close({ timeout: 1 }).catch(() => undefined);
  } finally {
    await c.close();
    await b.stop();
  }
});

test("bad input is refused", async () => {
  const c = new Client(broker.endpoint, { timeout: 10 });
  const pool = c.pool(fresh());
  try {
    for (const credit of [0, 1001, -1, 2.5, "8", undefined])
      assert.throws(() => pool.subscribe("w1", { credit }), (e) => e instanceof InvalidArgument, String(credit));
    for (const [p, w] of [["", "w1"], [pool.name, ""], ["x".repeat(256), "w1"]]) {
      const sub = c.pool(p).subscribe(w, { credit: 1 });
      await assert.rejects(sub.next(10), (e) => e instanceof InvalidArgument);
      await sub.close();
    }
    const sub = pool.subscribe("w1", { credit: 1 });
    await pool.push({ n: 1 });
    const it = await sub.next(10);
    assert.throws(() => sub.complete(it, Symbol("no msgpack form")));
    assert.equal(sub.pendingAcks, 0);
    await sub.close();
    assert.throws(() => new Worker(c, { pool: "x", handler: () => 1, credit: 1001 }), (e) => e instanceof InvalidArgument);
    assert.throws(() => new WorkpoolWorkBackend(c, { credit: -1 }), (e) => e instanceof InvalidArgument);
  } finally {
    await c.close();
  }
});

test("four streaming worker processes complete each of 2000 items exactly once", async () => {
  const c = new Client(broker.endpoint, { timeout: 10 });
  const name = fresh();
  const pool = c.pool(name);
  const dir = mkdtempSync(join(tmpdir(), "wp-node-stream-"));
  const script = fileURLToPath(new URL("./stream-worker.mjs", import.meta.url));
  try {
    const ids = [];
    for (let start = 0; start < 2000; start += 500)
      ids.push(...(await pool.pushMany(Array.from({ length: 500 }, (_, i) => ({ data: start + i })))).map((r) => r.id));
    const logs = [0, 1, 2, 3].map((i) => join(dir, `handled-${i}.txt`));
    const procs = logs.map((log) => spawn(process.execPath, [script, broker.endpoint, name, log], { stdio: "inherit" }));
    const exits = procs.map((p) => new Promise((r) => p.once("exit", (code) => r(code))));
    try {
      await until("2000 done", async () => (await statsOf(c, name)).done === 2000, 240000);
    } finally {
      for (const p of procs) p.kill("SIGTERM");
    }
    assert.deepEqual(await Promise.all(exits), [0, 0, 0, 0]);
    const handled = logs.flatMap((log) => existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean) : []);
    assert.equal(handled.length, 2000);
    assert.deepEqual([...new Set(handled)].sort(), [...ids].sort());
    const s = await statsOf(c, name);
    assert.equal(s.done, 2000);
    assert.equal(s.claimed, 0);
    assert.equal(s.pending, 0);
    const pids = new Set(procs.map((p) => p.pid));
    for (const id of [...ids.slice(0, 20), ...ids.slice(-20)]) assert.ok(pids.has((await pool.get(id)).result.by));
  } finally {
    await c.close();
  }
});

test("a streaming worker in process completes, fails and counts", async () => {
  const c = new Client(broker.endpoint, { timeout: 10 });
  const name = fresh();
  const pool = c.pool(name);
  try {
    await pool.pushMany(Array.from({ length: 20 }, (_, i) => ({ data: i, maxRetries: 1 })));
    const worker = new Worker(c, {
      pool: name, workerId: "ws", credit: 4, wait: 0.2, handleSignals: false,
      handler: async (d) => { if (d % 5 === 0) throw new RangeError(`no ${d}`); return d * 2; },
    });
    const running = worker.run();
    await until("20 settled", () => worker.counts.completed + worker.counts.failed === 20);
    worker.stop();
    await running;
    assert.deepEqual(worker.counts, { completed: 16, failed: 4 });
    const s = await statsOf(c, name);
    assert.equal(s.done, 16);
    assert.equal(s.poisoned, 4);
    assert.equal((await c.getWorker("ws")).status, "terminated");
  } finally {
    await c.close();
  }
});

test("the FlatAgents backend claims from a subscription", async () => {
  const c = new Client(broker.endpoint, { timeout: 10 });
  const name = fresh();
  const backend = new WorkpoolWorkBackend(broker.endpoint, { credit: 4 });
  try {
    const pool = backend.pool(name);
    for (let i = 0; i < 10; i++) await pool.push({ n: i });
    const got = [];
    await until("10 claimed", async () => {
      const item = await pool.claim("fa-1");
      if (item) {
        got.push(item.data.n);
        await pool.complete(item.id, { ok: true });
      }
      return got.length === 10;
    });
    assert.deepEqual(got.sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.equal((await statsOf(c, name)).done, 10);
  } finally {
    await backend.close();
    await c.close();
  }
});
