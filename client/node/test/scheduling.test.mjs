//  Scheduling through the Node client against a real workpoold (issue 15):
//  priorities, delays and runAt, unique keys, fail's retryAfter, backoff
//  policies, schedules firing, RetryLater in the Worker, the FlatAgents
//  adapter's extensions, and bad input refused before sending and by the
//  broker.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  Client, InvalidArgument, NotFound, RetryLater, Worker, WorkpoolWorkBackend, wire,
} from "../dist/esm/index.js";
import { startBroker } from "./broker.mjs";

let broker;
let c;
before(async () => {
  broker = await startBroker();
  c = new Client(broker.endpoint, { timeout: 10 });
});
after(async () => {
  await c?.close();
  await broker?.stop();
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const secondsUntil = (t) => (Date.parse(t) - Date.now()) / 1000;
const poolStats = async (name) => (await c.stats()).pools.find((p) => p.pool === name);

async function until(what, check, ms = 20000) {
  const t0 = Date.now();
  for (;;) {
    const v = await check();
    if (v) return v;
    assert.ok(Date.now() - t0 < ms, `timed out waiting for ${what}`);
    await sleep(20);
  }
}

test("lower priority is claimed first, then push order", async () => {
  const pool = c.pool("prio");
  await pool.push("a", { id: "a", priority: 5 });
  await pool.push("b", { id: "b", priority: -1 });
  await pool.push("c", { id: "c" });
  await pool.pushMany([{ data: "d", id: "d", priority: -1 }, { data: "e", id: "e", priority: -(2 ** 31) },
    { data: "f", id: "f", priority: 2 ** 31 - 1 }]);
  assert.equal((await pool.get("b")).priority, -1);
  assert.equal((await pool.get("c")).priority, 0);
  const order = [];
  for (let i = 0; i < 6; i++) order.push((await pool.claim("w")).id);
  assert.deepEqual(order, ["e", "b", "d", "c", "a", "f"]);
  assert.equal(await pool.claim("w"), null);
});

test("a delayed push is scheduled, then a waiting claim gets it after the delay", async () => {
  const pool = c.pool("later");
  const t0 = Date.now();
  const { id } = await pool.push({ n: 1 }, { delay: 1 });
  const item = await pool.get(id);
  assert.equal(item.status, "scheduled");
  const ahead = (Date.parse(item.run_at) - Date.parse(item.created_at)) / 1000;
  assert.ok(ahead > 0.5 && ahead < 1.5, `run_at ${ahead} s after created_at`);
  assert.equal(await pool.size(), 0);
  assert.equal(await pool.claim("w"), null);
  assert.equal((await poolStats("later")).scheduled, 1);
  const got = await pool.claim("w", { wait: 10 });
  const waited = (Date.now() - t0) / 1000;
  assert.equal(got?.id, id);
  assert.deepEqual(got.data, { n: 1 });
  assert.ok(waited >= 0.9 && waited < 6, `waited ${waited} s`);
});

test("runAt as a Date and as text; a past time is pending at once", async () => {
  const pool = c.pool("at");
  const when = new Date(Date.now() + 800);
  const a = (await pool.push(1, { runAt: when })).id;
  const b = (await pool.push(2, { runAt: new Date(when.getTime() + 200).toISOString() })).id;
  const past = (await pool.push(3, { runAt: new Date(Date.now() - 3600e3) })).id;
  const itemA = await pool.get(a);
  assert.equal(itemA.status, "scheduled");
  assert.equal(Date.parse(itemA.run_at), when.getTime());
  assert.equal((await pool.get(past)).status, "pending");
  assert.equal((await pool.get(past)).run_at, null);
  assert.equal((await pool.claim("w")).id, past);
  assert.equal((await pool.claim("w", { wait: 10 })).id, a);
  assert.ok(Date.now() >= when.getTime());
  assert.equal((await pool.claim("w", { wait: 10 })).id, b);
});

test("a unique key admits one live item", async () => {
  const pool = c.pool("uniq");
  const first = await pool.push("x", { uniqueKey: "report:1" });
  assert.equal(first.duplicate, false);
  assert.equal((await pool.get(first.id)).unique_key, "report:1");
  assert.deepEqual(await pool.push("y", { uniqueKey: "report:1" }), { id: first.id, duplicate: true });
  const many = await pool.pushMany([{ data: "m", uniqueKey: "report:2" }, { data: "n", uniqueKey: "report:1" }]);
  assert.deepEqual(many[1], { id: first.id, duplicate: true });
  assert.equal(many[0].duplicate, false);
  assert.equal(await pool.size(), 2);
  const item = await pool.claim("w");
  assert.equal(item.id, first.id);
  assert.equal((await pool.push("z", { uniqueKey: "report:1" })).id, first.id);   // claimed is live
  await pool.complete(item.id, undefined, { workerId: "w" });
  const fresh = await pool.push("again", { uniqueKey: "report:1", delay: 60 });
  assert.equal(fresh.duplicate, false);
  assert.notEqual(fresh.id, first.id);
  assert.deepEqual(await pool.push("more", { uniqueKey: "report:1" }), { id: fresh.id, duplicate: true });
});

test("fail with retryAfter goes scheduled, then is claimed again", async () => {
  const pool = c.pool("retry");
  const { id } = await pool.push("r", { maxRetries: 2 });
  await pool.claim("w");
  const t0 = Date.now();
  assert.equal(await pool.fail(id, "busy", { workerId: "w", retryAfter: 1 }), "scheduled");
  const item = await pool.get(id);
  assert.equal(item.status, "scheduled");
  assert.equal(item.attempts, 1);
  assert.equal(item.claimed_by, null);
  assert.equal(await pool.claim("w"), null);
  assert.equal((await pool.claim("w", { wait: 10 })).id, id);
  assert.ok(Date.now() - t0 >= 900);
  assert.equal(await pool.fail(id, "busy", { workerId: "w", retryAfter: 1 }), "poisoned");
});

test("setBackoff schedules failures and shows in stats; base 0 clears it", async () => {
  const pool = c.pool("backoff");
  await pool.setBackoff(1, { cap: 4, jitter: 0.25 });
  const s = await poolStats("backoff");
  assert.ok(s, "a pool with a policy is listed though it holds nothing");
  assert.deepEqual([s.backoff_base_seconds, s.backoff_cap_seconds, s.backoff_jitter], [1, 4, 0.25]);
  const { id } = await pool.push("b", { maxRetries: 10 });
  await pool.claim("w");
  assert.equal(await pool.fail(id, "no", { workerId: "w" }), "scheduled");
  const wait = secondsUntil((await pool.get(id)).run_at);
  assert.ok(wait > 0.5 && wait <= 1, `attempt 1 waits ${wait} s`);
  assert.equal((await poolStats("backoff")).scheduled, 1);
  await pool.setBackoff(0);
  const cleared = await poolStats("backoff");
  assert.equal(cleared.backoff_base_seconds, 0);
  assert.equal((await pool.claim("w", { wait: 10 })).id, id);
  assert.equal(await pool.fail(id, "no", { workerId: "w" }), "pending");
});

test("schedules: add, list, an every-second cron fires NAME@TICK items, remove", async () => {
  const record = await c.scheduleAdd("node-tick", "ncron", "* * * * * *", { beat: 1 }, { priority: -3, maxRetries: 1 });
  assert.equal(record.name, "node-tick");
  assert.equal(record.cron, "* * * * * *");
  assert.deepEqual(record.data, { beat: 1 });
  assert.equal(record.priority, -3);
  assert.equal(record.max_retries, 1);
  assert.equal(record.last_fired_at, null);
  assert.ok(secondsUntil(record.next_at) > 0 && secondsUntil(record.next_at) <= 1.1);
  await c.scheduleAdd("node-nightly", "ncron", "0 0 2 * * *", "vacuum");
  const names = (await c.scheduleList()).map((s) => s.name).filter((n) => n.startsWith("node-"));
  assert.deepEqual(names, ["node-nightly", "node-tick"]);
  const nightly = (await c.scheduleList()).find((s) => s.name === "node-nightly");
  assert.equal(nightly.max_retries, null);
  assert.equal(new Date(nightly.next_at).getUTCHours(), 2);
  const pool = c.pool("ncron");
  const item = await pool.claim("w", { wait: 10 });
  assert.ok(item?.id.startsWith("node-tick@"), item?.id);
  assert.deepEqual(item.data, { beat: 1 });
  assert.equal(item.priority, -3);
  assert.ok(!Number.isNaN(Date.parse(item.id.slice("node-tick@".length))));
  const second = await pool.claim("w", { wait: 10 });
  assert.ok(second.id > item.id);
  await c.scheduleRemove("node-tick");
  await c.scheduleRemove("node-nightly");
  assert.deepEqual((await c.scheduleList()).filter((s) => s.name.startsWith("node-")), []);
  await assert.rejects(c.scheduleRemove("node-tick"), (e) => e instanceof NotFound && /no schedule 'node-tick'/.test(e.message));
});

test("bad input is refused before sending, in the decoder's words", async () => {
  //  No broker: a call that got through would fail Unavailable instead
  const off = new Client(`ipc:///tmp/wp-node-nobody-${process.pid}.ipc`, { timeout: 0.3 });
  const pool = off.pool("p");
  const cases = [
    [() => pool.push(1, { delay: -1 }), "field 'delay_seconds' must be a finite number of at least 0 and at most 3.16224e+07"],
    [() => pool.push(1, { delay: NaN }), "delay_seconds"],
    [() => pool.push(1, { priority: 2 ** 31 }), "field 'priority' must be an integer from -2147483648 to 2147483647"],
    [() => pool.push(1, { priority: 1.5 }), "field 'priority' must be an integer"],
    [() => pool.push(1, { uniqueKey: "" }), "field 'unique_key' must be a string of 1 to 255 bytes of UTF-8"],
    [() => pool.push(1, { runAt: new Date(NaN) }), "runAt"],
    [() => pool.pushMany([{ data: 1 }, { data: 2, priority: -(2 ** 31) - 1 }]), "field 'priority'"],
    [() => pool.fail("a", "e", { retryAfter: 4e7 }), "field 'retry_after_seconds'"],
    [() => pool.setBackoff(-1), "field 'base_seconds'"],
    [() => pool.setBackoff(1, { cap: 4e7 }), "field 'cap_seconds'"],
    [() => pool.setBackoff(1, { jitter: 1.5 }), "field 'jitter' must be a finite number of at least 0 and at most 1"],
    [() => off.scheduleAdd("n".repeat(201), "p", "* * * * *", 1), "field 'name' must be a string of 1 to 200 bytes of UTF-8"],
    [() => off.scheduleAdd("s", "p", "*".repeat(256), 1), "field 'cron' must be a string of at most 255 bytes of UTF-8 without NUL"],
    [() => off.scheduleAdd("s", "p", "* * * * *", 1, { maxRetries: -1 }), "field 'max_retries'"],
    [() => off.scheduleRemove(""), "field 'name'"],
    [async () => new RetryLater(-1), "retry_after_seconds"],
  ];
  try {
    for (const [call, words] of cases)
      await assert.rejects(call(), (e) => e instanceof InvalidArgument && e.message.includes(words),
        `expected InvalidArgument with: ${words}`);
  } finally {
    await off.close();
  }
});

test("bad input is refused by the broker", async () => {
  const data = new Uint8Array([1]);
  const bad = [
    ["WorkPool.Push", { pool: "p", data, delay_seconds: -1 }],
    ["WorkPool.Push", { pool: "p", data, delay_seconds: 4e7 }],
    ["WorkPool.Push", { pool: "p", data, priority: 2 ** 31 }],
    ["WorkPool.Push", { pool: "p", data, run_at: "not a time" }],
    ["WorkPool.Fail", { pool: "p", id: "a", retry_after_seconds: -1 }],
    ["WorkPool.SetBackoff", { pool: "p", base_seconds: 1, jitter: 2 }],
    ["Schedule.Add", { name: "n".repeat(201), pool: "p", cron: "* * * * *", data }],
    ["Schedule.Add", { name: "s", pool: "p", cron: "*".repeat(256), data }],
  ];
  //  (the table's bounds would refuse these: write the frames past them)
  for (const [method, body] of bad) {
    const status = await sendFrame(method, encodeUnchecked(method, body));
    assert.equal(status, 3, `${method} ${JSON.stringify(body)}: status ${status}`);
  }
  const pool = c.pool("p");
  await assert.rejects(pool.push(1, { delay: 5, runAt: new Date() }),
    (e) => e instanceof InvalidArgument && e.message.includes("give delay_seconds or run_at, not both"));
  await assert.rejects(c.scheduleAdd("s", "p", "61 * * * *", 1), InvalidArgument);
  await assert.rejects(pool.push(1, { runAt: new Date(Date.now() + 400 * 86400e3) }),
    (e) => e instanceof InvalidArgument && e.message.includes("run_at"));
  assert.equal(await pool.size(), 0);
});

test("a handler's RetryLater fails the item with retry_after", async () => {
  const pool = c.pool("jobs");
  const { id } = await pool.push({ n: 2 });
  const seen = [];
  const worker = new Worker(c, {
    pool: "jobs", wait: 0.5, heartbeatInterval: 0.5, handleSignals: false,
    handler: async (data) => {
      seen.push(Date.now());
      if (seen.length === 1) throw new RetryLater(1, "rate limited");
      return { doubled: data.n * 2 };
    },
  });
  const running = worker.run();
  try {
    await until("the item done", async () => (await pool.get(id)).status === "done");
  } finally {
    worker.stop();
    await running;
  }
  const item = await pool.get(id);
  assert.deepEqual(item.result, { doubled: 4 });
  assert.equal(item.attempts, 1);
  assert.equal(item.error, "rate limited");
  assert.ok(seen[1] - seen[0] >= 900, `retried after ${seen[1] - seen[0]} ms`);
});

test("the FlatAgents pool adapter maps workpool's push options and fail's retry_after", async () => {
  const work = new WorkpoolWorkBackend(c);
  const pool = work.pool("fa");
  const late = await pool.push({ k: 1 }, { delay: 60, max_retries: 5 });
  const low = await pool.push({ k: 2 }, { priority: 10 });
  const high = await pool.push({ k: 3 }, { priority: -10, unique_key: "u" });
  assert.equal(await pool.push({ k: 4 }, { unique_key: "u" }), high);
  const plain = await pool.push({ k: 5 });
  const item = await pool.claim("w");
  assert.equal(item.id, high);
  await pool.fail(item.id, "later", { retry_after: 60 });
  assert.equal((await pool.claim("w")).id, plain);          // priority 0 before 10
  assert.equal((await pool.claim("w")).id, low);
  const native = c.pool("fa");
  assert.equal((await native.get(late)).status, "scheduled");
  assert.equal((await native.get(late)).max_retries, 5);
  assert.equal((await native.get(high)).status, "scheduled");
  await work.close();
});

// ---------------------------------------------------------------------
//  Frames past the client's bounds, for the broker-side test

function encodeUnchecked(method, body) {
  const fields = wire.METHODS[method].request;
  const saved = fields.map((fd) => [fd, fd.min, fd.max]);
  for (const fd of fields) { delete fd.min; delete fd.max; }
  try {
    return wire.encodeRequestBody(method, body);
  } finally {
    for (const [fd, min, max] of saved) { fd.min = min; fd.max = max; }
  }
}

//  The frame as it is, on the client's connection: the broker's status.
async function sendFrame(method, frame) {
  const reply = await c.conn.call(method, frame, { timeoutMs: 5000, resend: false });
  return reply.status;
}
