//  The client against a real workpoold: pipelining, deadlines, the
//  resend rules, aborts, close(), and both module systems.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  Client, Raw, Cancelled, DeadlineExceeded, NotFound, Unavailable, WorkpoolError, InvalidArgument,
  packValue, Unimplemented,
} from "../dist/esm/index.js";
import { startBroker } from "./broker.mjs";

let broker;
before(async () => { broker = await startBroker(); });
after(async () => { await broker?.stop(); });

const counter = async (c, name) => (await c.stats()).counters[name] ?? 0;

test("1,000 pushes in flight on one client all arrive, ids distinct", async () => {
  const c = new Client(broker.endpoint);
  try {
    const pool = c.pool("flight");
    let peak = 0;
    const calls = [];
    for (let i = 0; i < 1000; i++) {
      calls.push(pool.push({ i }));
      peak = Math.max(peak, c.inFlight);
    }
    const results = await Promise.all(calls);
    assert.equal(peak, 1000, "every push was in flight at once");
    assert.equal(new Set(results.map((r) => r.id)).size, 1000);
    assert.ok(results.every((r) => r.duplicate === false));
    assert.equal(await pool.size(), 1000);
  } finally {
    await c.close();
  }
});

test("records, values and errors", async () => {
  const c = new Client(broker.endpoint);
  try {
    const pool = c.pool("records");
    const { id } = await pool.push({ text: "café", list: [1, 2.5, null, true], bytes: new Uint8Array([0, 255]) },
      { id: "r1", maxRetries: 4 });
    assert.equal(id, "r1");
    assert.deepEqual(await pool.push(1, { id: "r1" }), { id: "r1", duplicate: true });
    const item = await pool.get("r1");
    assert.deepEqual(item.data, { text: "café", list: [1, 2.5, null, true], bytes: new Uint8Array([0, 255]) });
    assert.equal(item.max_retries, 4);
    assert.equal(item.status, "pending");
    assert.equal(item.claimed_by, null);
    await pool.push(new Raw(packValue([1, 2, 3])), { id: "raw" });
    assert.deepEqual((await pool.get("raw")).data, [1, 2, 3]);
    const raw = new Client(broker.endpoint, { raw: true });
    assert.deepEqual((await raw.pool("records").get("raw")).data, new Uint8Array([0x93, 1, 2, 3]));
    await raw.close();
    await pool.push(2n ** 63n - 1n, { id: "big" });
    const big = new Client(broker.endpoint, { bigint: true });
    assert.equal((await big.pool("records").get("big")).data, 2n ** 63n - 1n);
    await big.close();
    await assert.rejects(pool.get("nope"), (e) => e instanceof NotFound && e instanceof WorkpoolError &&
      e.code === 5 && e.status === "NOT_FOUND" && /nope/.test(e.message));
    await assert.rejects(pool.claimMany("w", 0), InvalidArgument);
  } finally {
    await c.close();
  }
});

test("no broker: UNAVAILABLE within the timeout", async () => {
  const c = new Client(`ipc://${broker.dir}/nobody.ipc`, { timeout: 0.3 });
  const t0 = Date.now();
  try {
    await assert.rejects(c.ping(), (e) => e instanceof Unavailable && /no broker reachable/.test(e.message));
    await assert.rejects(c.pool("p").claim("w", { wait: 0.2 }), Unavailable);
    assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
  } finally {
    await c.close();
  }
});

test("resends: push and complete with a worker id are resent safely, claims never", async () => {
  const slow = await startBroker({ args: ["--test-stall-ms", "300"] });
  const c = new Client(slow.endpoint, { timeout: 5, retryInterval: 0.1 });
  try {
    const pool = c.pool("resend");
    const pushed = await pool.push("x");
    assert.equal(pushed.duplicate, false, "a duplicate of our own resend is not a duplicate");
    assert.ok(await counter(c, "requests.WorkPool.Push.OK") >= 2, "the push was resent");
    const item = await pool.claim("w1");
    assert.equal(item.id, pushed.id);
    assert.equal(await counter(c, "requests.WorkPool.Claim.OK"), 1, "a claim is sent once");
    await pool.complete(item.id, "done", { workerId: "w1" });
    assert.ok(await counter(c, "requests.WorkPool.Complete.FAILED_PRECONDITION") >= 1,
      "the resent complete was refused, and the call still succeeded");
    assert.equal((await pool.get(item.id)).status, "done");
    const p2 = await pool.push("y");
    await pool.claim("w1");
    assert.equal(await pool.fail(p2.id, "bad", { workerId: "w1" }), "pending");
    //  A complete without a worker id is sent once: the stall makes it time out.
    const p3 = await pool.push("z");
    await pool.claim("w2");
    const completes = async () => Object.entries((await c.stats()).counters)
      .filter(([k]) => k.startsWith("requests.WorkPool.Complete.")).reduce((n, [, v]) => n + v, 0);
    const before = await completes();
    const once = new Client(slow.endpoint, { timeout: 0.25, retryInterval: 0.05 });
    await assert.rejects(once.pool("resend").complete(p3.id, 1), DeadlineExceeded);
    await once.close();
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(await completes(), before + 1, "sent once");
  } finally {
    await c.close();
    await slow.stop();
  }
});

test("an aborted claim rejects with CANCELLED; close() cancels what is in flight", async () => {
  const c = new Client(broker.endpoint);
  const ac = new AbortController();
  const waiting = c.pool("abort").claim("w", { wait: 30, signal: ac.signal });
  setTimeout(() => ac.abort(), 50);
  await assert.rejects(waiting, Cancelled);
  const waiting2 = c.pool("abort").claim("w", { wait: 30 });
  await c.close();
  await assert.rejects(waiting2, Cancelled);
  await assert.rejects(c.ping(), Cancelled);
  const other = new Client(broker.endpoint);
  assert.equal(await other.pool("abort").releaseByWorker("w"), 0);
  await other.close();
});

test("claims(): an async iteration of claimed items, ended by its signal", async () => {
  const c = new Client(broker.endpoint);
  try {
    const pool = c.pool("iterate");
    await pool.pushMany([{ data: 1 }, { data: 2 }, { data: 3 }]);
    const ac = new AbortController();
    const seen = [];
    for await (const item of pool.claims("w-it", { wait: 0.2, signal: ac.signal })) {
      seen.push(item.data);
      await pool.complete(item.id, null, { workerId: "w-it" });
      if (seen.length === 3) setTimeout(() => ac.abort(), 50);
    }
    assert.deepEqual(seen, [1, 2, 3]);
  } finally {
    await c.close();
  }
});

test("items(): every page of List in one iteration", async (t) => {
  const c = new Client(broker.endpoint);
  try {
    const pool = c.pool("pages");
    await pool.pushMany(Array.from({ length: 5 }, (_, i) => ({ data: i })));
    const first = await pool.list({ limit: 2 }).catch((e) => e);
    if (first instanceof Unimplemented) return t.skip("this broker has no WorkPool.List yet");
    const all = [];
    for await (const item of pool.items({ limit: 2 })) all.push(item.data);
    assert.deepEqual(all, [0, 1, 2, 3, 4]);
  } finally {
    await c.close();
  }
});

const here = fileURLToPath(new URL(".", import.meta.url));

test("nothing keeps the process alive after close(); CommonJS and ES modules both load", () => {
  const esm = spawnSync(process.execPath, ["--input-type=module", "-e", `
    import { Client } from ${JSON.stringify(new URL("../dist/esm/index.js", import.meta.url).href)};
    const c = new Client(${JSON.stringify(broker.endpoint)});
    await c.pool("alive").push(1);
    c.pool("alive").claim("w", { wait: 60 }).catch(() => {});
    await c.close();
  `], { timeout: 5000 });
  assert.equal(esm.status, 0, `${esm.stderr}`);
  const cjs = spawnSync(process.execPath, ["-e", `
    const { Client, NotFound } = require(${JSON.stringify(here + "../dist/cjs/index.js")});
    const c = new Client(${JSON.stringify(broker.endpoint)});
    c.pool("alive").get("nope").catch((e) => { if (!(e instanceof NotFound)) process.exit(3); return c.close(); });
  `], { timeout: 5000 });
  assert.equal(cjs.status, 0, `${cjs.stderr}`);
});
