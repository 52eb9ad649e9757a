//  Worker: register, heartbeat through long handlers, complete and fail,
//  register again when declared lost, finish the item in hand on SIGTERM.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Client, Worker } from "../dist/esm/index.js";
import { startBroker } from "./broker.mjs";

let broker;
before(async () => { broker = await startBroker(); });
after(async () => { await broker?.stop(); });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, check, ms = 10000) {
  const t0 = Date.now();
  for (;;) {
    const v = await check();
    if (v) return v;
    assert.ok(Date.now() - t0 < ms, `timed out waiting for ${what}`);
    await sleep(20);
  }
}

test("a worker completes with the handler's value and fails with its error", async () => {
  const c = new Client(broker.endpoint);
  const pool = c.pool("work");
  try {
    const pushed = await pool.pushMany(Array.from({ length: 20 }, (_, n) => ({ data: { n }, maxRetries: 1 })));
    const worker = new Worker(c, {
      pool: "work", workerId: "w-ok", wait: 0.2, handleSignals: false, capabilities: ["cpu"],
      handler: async ({ n }) => {
        if (n % 5 === 0) throw new RangeError(`no ${n}`);
        return n * 2;
      },
    });
    const running = worker.run();
    await until("the items", async () => worker.counts.completed + worker.counts.failed === 20);
    const w = await c.getWorker("w-ok");
    assert.equal(w.status, "active");
    assert.deepEqual(w.capabilities, ["cpu"]);
    worker.stop();
    await running;
    assert.equal((await c.getWorker("w-ok")).status, "terminated");
    for (const [n, p] of pushed.entries()) {
      const item = await pool.get(p.id);
      if (n % 5 === 0) {
        assert.equal(item.status, "poisoned");
        assert.equal(item.error, `RangeError: no ${n}`);
      } else {
        assert.equal(item.status, "done");
        assert.equal(item.result, n * 2);
      }
    }
  } finally {
    await c.close();
  }
});

test("a long handler keeps its claim past twice the heartbeat interval", async () => {
  const c = new Client(broker.endpoint);
  try {
    const { id } = await c.pool("long").push("slow");
    const worker = new Worker(c, {
      pool: "long", workerId: "w-long", heartbeatInterval: 0.3, wait: 0.2, handleSignals: false,
      handler: async () => { await sleep(1500); return "made it"; },
    });
    const problems = [];
    worker.on("problem", (e) => problems.push(e));
    const running = worker.run();
    await until("completion", async () => worker.counts.completed === 1);
    worker.stop();
    await running;
    assert.deepEqual(problems, []);
    const item = await c.pool("long").get(id);
    assert.equal(item.status, "done");
    assert.equal(item.attempts, 0);
    assert.equal(item.result, "made it");
  } finally {
    await c.close();
  }
});

test("a worker declared lost registers again", async () => {
  const c = new Client(broker.endpoint);
  try {
    const worker = new Worker(c, {
      pool: "lost", workerId: "w-lost", heartbeatInterval: 0.2, wait: 0.1, handleSignals: false,
      handler: () => null,
    });
    let lost = 0;
    worker.on("lost", () => lost++);
    const running = worker.run();
    await until("registration", async () => (await c.getWorker("w-lost"))?.status === "active");
    await c.updateStatus("w-lost", "lost");
    await until("the lost event", async () => lost > 0);
    await until("registration again", async () => (await c.getWorker("w-lost"))?.status === "active");
    worker.stop();
    await running;
  } finally {
    await c.close();
  }
});

test("closing the client under a running worker ends it", async () => {
  const c = new Client(broker.endpoint);
  const worker = new Worker(c, { pool: "closed", workerId: "w-closed", wait: 5, handleSignals: false, handler: () => 1 });
  const running = worker.run();
  const other = new Client(broker.endpoint);
  try {
    await until("registration", async () => (await other.getWorker("w-closed"))?.status === "active");
    await c.close();
    await running;
  } finally {
    await other.close();
  }
});

test("SIGTERM: the item in hand is finished, then the worker is terminated", { timeout: 30000 }, async () => {
  const c = new Client(broker.endpoint);
  try {
    const { id } = await c.pool("term").push("hello");
    const child = spawn(process.execPath,
      [fileURLToPath(new URL("term-worker.mjs", import.meta.url)), broker.endpoint, "term", "w-term"],
      { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => { out += d; });
    const exited = new Promise((r) => child.on("exit", (code) => r(code)));
    await until("the handler to start", async () => out.includes("started"));
    child.kill("SIGTERM");
    assert.equal(await exited, 0);
    assert.match(out, /completed 1/);
    const item = await c.pool("term").get(id);
    assert.equal(item.status, "done");
    assert.deepEqual(item.result, { echoed: "hello" });
    assert.equal((await c.getWorker("w-term")).status, "terminated");
  } finally {
    await c.close();
  }
});
