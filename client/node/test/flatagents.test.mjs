//  The FlatAgents adapters against the spec's interfaces: the distributed
//  worker pattern end to end (seed, workers claim and complete, a reaper
//  finds stale workers and releases their jobs), a long job surviving past
//  2 x the heartbeat interval, and fencing without the SDK's worker ids.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  Client, WorkpoolWorkBackend, WorkpoolRegistrationBackend, FailedPrecondition,
} from "../dist/esm/index.js";
import { startBroker } from "./broker.mjs";

let broker;
before(async () => { broker = await startBroker(); });
after(async () => { await broker?.stop(); });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => new Date().toISOString();

test("the spec's record shapes, and nothing more", async () => {
  const work = new WorkpoolWorkBackend(broker.endpoint);
  const reg = new WorkpoolRegistrationBackend(broker.endpoint);
  try {
    const pool = work.pool("shapes");
    assert.equal(work.pool("shapes"), pool, "one adapter per pool name");
    const id = await pool.push({ paper: 1 }, { max_retries: 2 });
    assert.equal(typeof id, "string");
    assert.equal(await pool.size(), 1);
    const item = await pool.claim("w1");
    assert.deepEqual(Object.keys(item).sort(), ["attempts", "claimed_at", "claimed_by", "data", "id", "max_retries"]);
    assert.deepEqual(item.data, { paper: 1 });
    assert.equal(item.max_retries, 2);
    assert.equal(await pool.claim("w1"), null);
    await pool.complete(item.id, { summary: "ok" });
    const rec = await reg.register({ worker_id: "w1", host: "h", pid: 7, capabilities: ["gpu"], started_at: now() });
    assert.deepEqual(Object.keys(rec).sort(),
      ["capabilities", "host", "last_heartbeat", "pid", "started_at", "status", "worker_id"]);
    assert.equal(rec.status, "active");
    assert.deepEqual(Object.keys(await reg.register({ worker_id: "bare", started_at: now() })).sort(),
      ["last_heartbeat", "started_at", "status", "worker_id"]);
    await reg.heartbeat("w1", { load: 1 });
    await reg.updateStatus("w1", "terminating");
    assert.equal((await reg.get("w1")).status, "terminating");
    assert.equal(await reg.get("nobody"), null);
    assert.deepEqual((await reg.list({ status: "terminating" })).map((w) => w.worker_id), ["w1"]);
    assert.deepEqual((await reg.list({ capability: "gpu" })).map((w) => w.worker_id), ["w1"]);
    assert.equal((await reg.list()).length, 2);
  } finally {
    await work.close();
    await reg.close();
  }
});

test("fencing: complete and fail carry the claiming worker's id; an item not claimed here is refused", async () => {
  const c = new Client(broker.endpoint);
  const work = new WorkpoolWorkBackend(c, { lease: 0.3 });
  try {
    const pool = work.pool("fence");
    await pool.push("a");
    const item = await pool.claim("w1");
    await assert.rejects(work.pool("fence").complete("not-mine"), (e) =>
      e instanceof FailedPrecondition && /not claimed through this backend/.test(e.message));
    await sleep(800);      //  the lease lapses; the item is pending again
    await assert.rejects(pool.complete(item.id, "late"), FailedPrecondition);
    const again = await pool.claim("w2");
    assert.equal(again.id, item.id);
    assert.equal(again.attempts, 1);
    await pool.fail(again.id, "boom");
    const got = await c.pool("fence").get(item.id);
    assert.equal(got.status, "pending");
    assert.equal(got.error, "boom");
    await assert.rejects(pool.fail(item.id, "again"), FailedPrecondition);
  } finally {
    await c.close();
  }
});

test("the distributed-worker pattern: seed, work, reap, and a long job that survives", { timeout: 60000 }, async () => {
  const c = new Client(broker.endpoint);
  const reg = new WorkpoolRegistrationBackend(c, { heartbeatInterval: 0.3 });
  const work = new WorkpoolWorkBackend(c);
  try {
    const jobs = work.pool("papers");
    for (let i = 0; i < 30; i++) await jobs.push({ i });
    //  A worker that registers then vanishes (its keep-alive stopped, as a
    //  dead process's would be), holding a job.
    const ghostReg = new WorkpoolRegistrationBackend(broker.endpoint, { heartbeatInterval: 0.3 });
    await ghostReg.register({ worker_id: "ghost", started_at: now() });
    const held = await work.pool("papers").claim("ghost");
    await ghostReg.close();
    //  Three live workers; one of them on a job that takes 5 x the interval.
    const results = new Map();
    const workers = ["w0", "w1", "w2"].map(async (id, n) => {
      await reg.register({ worker_id: id, started_at: now(), pool_id: "papers" });
      for (;;) {
        const item = await jobs.claim(id);
        if (!item) break;
        if (n === 0 && item.data.i === 0) await sleep(1500);
        await jobs.complete(item.id, { by: id });
        results.set(item.id, id);
      }
      await reg.updateStatus(id, "terminated");
    });
    //  The reaper: stale workers' jobs released.
    let released = 0;
    for (let t = 0; t < 50 && released === 0; t++) {
      for (const w of await reg.list({ stale_threshold_seconds: 0.6 })) {
        if (w.status === "terminated") continue;
        released += await jobs.releaseByWorker(w.worker_id);
        if (w.status === "active") await reg.updateStatus(w.worker_id, "lost");
      }
      await sleep(100);
    }
    await Promise.all(workers);
    //  The ghost's job came back (by the reaper, or by the broker declaring it lost).
    const ghostJob = await c.pool("papers").get(held.id);
    assert.ok(ghostJob.status === "pending" || ghostJob.status === "done", ghostJob.status);
    while (await jobs.size() > 0) {
      const item = await jobs.claim("sweeper");
      if (item) { await jobs.complete(item.id, { by: "sweeper" }); results.set(item.id, "sweeper"); }
    }
    assert.equal(results.size, 30);
    const stats = (await c.stats()).pools.find((p) => p.pool === "papers");
    assert.equal(stats.done, 30);
    assert.equal(stats.claimed, 0);
    //  The long job was completed by its own worker: keep-alive held its claim.
    const long = [...results.entries()].find(([, by]) => by === "w0");
    assert.ok(long, "w0 completed its jobs");
    for (const id of ["w0", "w1", "w2"]) assert.equal((await reg.get(id)).status, "terminated");
  } finally {
    await reg.close();
    await c.close();
  }
});
