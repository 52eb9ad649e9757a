#!/usr/bin/env node
//  bench/node/bench.mjs: what one Node client gets from a broker. Pushes per
//  second one at a time and with 64 in flight, and a Node worker's drain
//  rate (claim + complete, and CompleteAndClaim), each with the broker's CPU
//  per request (user + system from /proc/<pid>/stat). Medians of --runs
//  rounds in one run; jobs of 64 bytes, as bench/workpool_bench.c's.
//
//    node bench/node/bench.mjs --workpoold build/broker/workpoold [--runs 3]
//        [--n 10000] [--store sqlite|image|memory] [--json]
//
//  Needs client/node built (npm ci in client/node).
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const here = dirname(fileURLToPath(import.meta.url));
const { Client, Raw, Worker } = await import(resolve(here, "../../client/node/dist/esm/index.js"));

const { values: opt } = parseArgs({
  options: {
    workpoold: { type: "string", default: process.env.WP_WORKPOOLD ?? resolve(here, "../../build/broker/workpoold") },
    runs: { type: "string", default: "3" },
    n: { type: "string", default: "10000" },
    store: { type: "string", default: "sqlite" },
    window: { type: "string", default: "64" },
    transport: { type: "string", default: "tcp" },
    json: { type: "boolean", default: false },
  },
});
const N = Number(opt.n), RUNS = Number(opt.runs), WINDOW = Number(opt.window);
const TICK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }));

//  A 64-byte job: a msgpack str of 62 bytes behind its 2-byte header.
const JOB = new Raw(new Uint8Array([0xd9, 62, ...Buffer.from("x".repeat(62))]));

/** The broker's CPU so far, in microseconds (every thread: utime + stime). */
function cpuUs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) / TICK) * 1e6;
}

async function startBroker() {
  const dir = mkdtempSync(join(tmpdir(), "wp-node-bench-"));
  const bind = opt.transport === "ipc" ? `ipc://${dir}/broker.ipc` : "tcp://127.0.0.1:*";
  const proc = spawn(opt.workpoold, ["--bind", bind, "--db", join(dir, "workpool.db"),
    "--store", opt.store], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  const endpoint = await new Promise((res, rej) => {
    proc.stderr.on("data", (d) => {
      log += d;
      const m = /listening on ((?:tcp|ipc):\/\/\S+)/.exec(log);
      if (m) res(m[1]);
    });
    proc.on("exit", (code) => rej(new Error(`workpoold exited ${code}: ${log}`)));
  });
  proc.stderr.resume();
  return {
    endpoint, pid: proc.pid,
    async stop() {
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

//  Runs body (`items` items) and measures items/s and the broker's CPU per
//  request it ran (its batched_requests counter, the Stats call excluded).
async function measure(broker, c, items, body) {
  const ran = async () => (await c.stats()).counters.batched_requests ?? 0;
  const r0 = await ran(), cpu0 = cpuUs(broker.pid), t0 = performance.now();
  await body();
  const secs = (performance.now() - t0) / 1000;
  const cpu = cpuUs(broker.pid) - cpu0;
  const requests = (await ran()) - r0 - 1;
  return { rate: items / secs, cpuPerOp: cpu / requests };
}

async function round() {
  const broker = await startBroker();
  const c = new Client(broker.endpoint, { timeout: 60 });
  try {
    await c.ping();
    const out = {};
    const p1 = c.pool("one");
    out.push_1 = await measure(broker, c, N, async () => {
      for (let i = 0; i < N; i++) await p1.push(JOB);
    });
    const p64 = c.pool("window");
    const M = N * 4;
    out[`push_${WINDOW}`] = await measure(broker, c, M, async () => {
      let next = 0;
      const lane = async () => { while (next < M) { next++; await p64.push(JOB); } };
      await Promise.all(Array.from({ length: WINDOW }, lane));
    });
    //  A Worker (registers, heartbeats, claim with wait, complete fenced)
    const pw = c.pool("worker");
    for (let i = 0; i < N; i += 1000)
      await pw.pushMany(Array.from({ length: Math.min(1000, N - i) }, () => ({ data: JOB })));
    out.drain_worker = await measure(broker, c, N, async () => {
      const worker = new Worker(c, { pool: "worker", workerId: "bench-worker", handleSignals: false,
        handler: () => undefined });
      worker.on("completed", () => { if (worker.counts.completed === N) worker.stop(); });
      await worker.run();
    });
    //  The bare loop: claim, complete (fenced), until the pool is empty
    out.drain_loop = await measure(broker, c, N, async () => {
      for (;;) {
        const item = await p1.claim("bench-w");
        if (!item) break;
        await p1.complete(item.id, undefined, { workerId: "bench-w" });
      }
    });
    //  The fused loop: one CompleteAndClaim per item
    const p2 = c.pool("fused");
    for (let i = 0; i < N; i += 1000)
      await p2.pushMany(Array.from({ length: Math.min(1000, N - i) }, () => ({ data: JOB })));
    out.drain_fused = await measure(broker, c, N, async () => {
      let item = await p2.claim("bench-f");
      while (item) item = await p2.completeAndClaim(item.id, "bench-f");
    });
    return out;
  } finally {
    await c.close();
    await broker.stop();
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rounds = [];
for (let r = 0; r < RUNS; r++) {
  rounds.push(await round());
  if (opt.json) console.log(JSON.stringify({ round: r + 1, ...rounds.at(-1) }));
}
console.log(`node ${process.version}, store ${opt.store}, ${opt.transport}, N=${N}, ${RUNS} rounds, medians; items/s and the broker's CPU µs per request it ran`);
for (const key of Object.keys(rounds[0])) {
  const rate = median(rounds.map((x) => x[key].rate));
  const cpu = median(rounds.map((x) => x[key].cpuPerOp));
  const all = rounds.map((x) => Math.round(x[key].rate)).join(" / ");
  console.log(`${key.padEnd(12)} ${Math.round(rate).toString().padStart(8)} /s   broker ${cpu.toFixed(1).padStart(6)} µs   (rounds: ${all})`);
}
