//  Compiled (not run) by `node test/run.mjs build`: the shipped types let a
//  TypeScript program use workpool where the FlatAgents interfaces are
//  wanted, and the native client's records type-check.
import {
  Client, Worker, WorkpoolWorkBackend, WorkpoolRegistrationBackend, NotFound,
  type WorkBackend, type WorkPool, type WorkItem, type RegistrationBackend, type WorkerRecord,
  type Item, type Stats, type Schedule, type FailStatus, RetryLater,
} from "workpool";

export async function check(endpoint: string): Promise<void> {
  const work: WorkBackend = new WorkpoolWorkBackend(endpoint);
  const pool: WorkPool = work.pool("jobs");
  const id: string = await pool.push({ n: 1 }, { max_retries: 2 });
  const item: WorkItem | null = await pool.claim("w1");
  if (item) await pool.complete(item.id, { ok: true });
  const reg: RegistrationBackend = new WorkpoolRegistrationBackend(endpoint);
  const rec: WorkerRecord = await reg.register({ worker_id: "w1", started_at: new Date().toISOString() });
  const c = new Client(endpoint, { timeout: 5 });
  const got: Item<{ n: number }> = await c.pool("jobs").get<{ n: number }>(id);
  const n: number = got.data.n;
  const stats: Stats = await c.stats();
  const paused: boolean = stats.pools[0].paused;
  try { await c.pool("jobs").get("x"); } catch (e) { if (e instanceof NotFound) console.log(e.code, e.message); }
  const w = new Worker<{ n: number }>(c, { pool: "jobs", handler: async (data) => data.n * 2 });
  //  Scheduling
  const jobs = c.pool("jobs");
  await jobs.push(1, { delay: 5, priority: -1, uniqueKey: "k" });
  await jobs.push(1, { runAt: new Date() });
  await jobs.pushMany([{ data: 1, runAt: "2026-12-24T00:00:00Z", priority: 2 }]);
  const state: FailStatus = await jobs.fail("x", "e", { workerId: "w1", retryAfter: 3 });
  await jobs.setBackoff(1, { cap: 10, jitter: 0.5 });
  const sched: Schedule<string> = await c.scheduleAdd<string>("s", "jobs", "* * * * * *", "d", { priority: 1 });
  const all: Schedule[] = await c.scheduleList();
  await c.scheduleRemove(sched.name);
  const runAt: string | null = got.run_at;
  const scheduled: number = stats.pools[0].scheduled;
  const w2 = new Worker(c, { pool: "jobs", handler: async () => { throw new RetryLater(5); } });
  void w; void w2; void rec; void n; void paused; void state; void all; void runAt; void scheduled;
}
