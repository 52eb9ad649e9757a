//  The reader of tests/cases/wire_cases.json for the Node client (the same
//  list the C and Python runners read): each step's call made through the
//  client's public methods, its outcome put in the wire's shape (records as
//  maps of their wire fields, item values as the CLI's JSON) and matched
//  against the case.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ExtData } from "@msgpack/msgpack";
import { WorkpoolError, statusName } from "../dist/esm/index.js";
import { sourceDir } from "./vectors.mjs";

export function loadCases() {
  const doc = JSON.parse(readFileSync(join(sourceDir, "tests", "cases", "wire_cases.json"), "utf8"));
  if (doc.format !== 1) throw new Error(`wire_cases.json format ${doc.format}, this runner reads 1`);
  return doc.cases;
}

export class CaseFailure extends Error {}

// ---------------------------------------------------------------------
// JSON <-> item values, the CLI's mapping ({"$bin"}, {"$ext","$bin"})

const INT64_MAX = 2n ** 63n - 1n;

export function fromJson(v) {
  if (Array.isArray(v)) return v.map(fromJson);
  if (v && typeof v === "object") {
    const keys = Object.keys(v);
    if ("$bin" in v && (keys.length === 1 || (keys.length === 2 && "$ext" in v))) {
      const bytes = new Uint8Array(Buffer.from(v.$bin, "base64"));
      return "$ext" in v ? new ExtData(v.$ext, bytes) : bytes;
    }
    return Object.fromEntries(keys.map((k) => [k, fromJson(v[k])]));
  }
  return v;
}

export function toJson(v) {
  if (v === null || v === undefined || typeof v === "boolean" || typeof v === "string") return v ?? null;
  if (typeof v === "bigint") return v > INT64_MAX ? Number(v) : Number(v);
  if (typeof v === "number") {
    if (Number.isNaN(v)) return "NaN";
    if (!Number.isFinite(v)) return v > 0 ? "Infinity" : "-Infinity";
    return v;
  }
  if (v instanceof Uint8Array) return { $bin: Buffer.from(v).toString("base64") };
  if (v instanceof ExtData) return { $ext: v.type, $bin: Buffer.from(v.data).toString("base64") };
  if (Array.isArray(v)) return v.map(toJson);
  if (typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, e]) => [k, toJson(e)]));
  throw new TypeError(`${String(v)} has no JSON form`);
}

// ---------------------------------------------------------------------
// One call, through the client's methods

const item = (it) => (it ? { ...it, data: toJson(it.data), result: it.result === null ? null : toJson(it.result) } : null);
const opt = (w, k) => (w[k] === undefined || w[k] === null ? undefined : fromJson(w[k]));
const sched = (s) => ({ ...s, data: toJson(s.data) });
//  Push's (and a PushMany entry's) scheduling fields as the client's options
const scheduling = (w) => ({ delay: w.delay_seconds, runAt: w.run_at, priority: w.priority, uniqueKey: w.unique_key });

export async function call(c, method, w) {
  const pool = c.pool(w.pool ?? "p");
  const claimOpts = { wait: w.wait_seconds, lease: w.lease_seconds };
  switch (method) {
    case "WorkPool.Push":
      return pool.push(fromJson(w.data), { id: w.id, maxRetries: w.max_retries, ...scheduling(w) });
    case "WorkPool.PushMany": {
      const r = await pool.pushMany(w.items.map((e) => ({
        data: fromJson(e.data), id: e.id, maxRetries: e.max_retries, ...scheduling(e),
      })));
      return { ids: r.map((x) => x.id), duplicates: r.map((x) => x.duplicate) };
    }
    case "WorkPool.Claim":
      return { item: item(await pool.claim(w.worker_id, claimOpts)) };
    case "WorkPool.ClaimMany":
      return { items: (await pool.claimMany(w.worker_id, w.max, claimOpts)).map(item) };
    case "WorkPool.Complete":
      await pool.complete(w.id, opt(w, "result"), { workerId: w.worker_id });
      return {};
    case "WorkPool.Fail":
      return { status: await pool.fail(w.id, w.error, { workerId: w.worker_id, retryAfter: w.retry_after_seconds }) };
    case "WorkPool.CompleteAndClaim":
      return { item: item(await pool.completeAndClaim(w.id, w.worker_id, opt(w, "result"), claimOpts)) };
    case "WorkPool.CompleteMany": {
      const r = await pool.completeMany(w.items.map((e) => ({ id: e.id, result: opt(e, "result") })),
        { workerId: w.worker_id });
      return { statuses: r.map((o) => statusName(o.code)), messages: r.map((o) => o.message) };
    }
    case "WorkPool.Unsubscribe":
      await pool.unsubscribe(w.worker_id);
      return {};
    case "WorkPool.Size":
      return { size: await pool.size() };
    case "WorkPool.ReleaseByWorker":
      return { released: await pool.releaseByWorker(w.worker_id) };
    case "WorkPool.Get":
      return { item: item(await pool.get(w.id)) };
    case "WorkPool.Renew":
      return { renewed: await c.renew(w.worker_id, { lease: w.lease_seconds }) };
    case "WorkPool.List": {
      const page = await pool.list({ statuses: w.status, limit: w.limit, cursor: w.cursor });
      return { items: page.items.map(item), cursor: page.cursor };
    }
    case "WorkPool.Retry":
      if (w.all) return { retried: await pool.retryAll() };
      await pool.retry(w.id);
      return {};
    case "WorkPool.Cancel":
      await pool.cancel(w.id);
      return {};
    case "WorkPool.Purge":
      return { purged: await pool.purge(w.status) };
    case "WorkPool.Pause":
      await pool.pause();
      return {};
    case "WorkPool.Resume":
      await pool.resume();
      return {};
    case "WorkPool.SetBackoff":
      await pool.setBackoff(w.base_seconds, { cap: w.cap_seconds, jitter: w.jitter });
      return {};
    case "Schedule.Add":
      return { schedule: sched(await c.scheduleAdd(w.name, w.pool, w.cron, fromJson(w.data),
        { priority: w.priority, maxRetries: w.max_retries })) };
    case "Schedule.List":
      return { schedules: (await c.scheduleList()).map(sched) };
    case "Schedule.Remove":
      await c.scheduleRemove(w.name);
      return {};
    case "Registry.Register":
      return { worker: await c.register(w) };
    case "Registry.Heartbeat":
      await c.heartbeat(w.worker_id, w.metadata);
      return {};
    case "Registry.UpdateStatus":
      await c.updateStatus(w.worker_id, w.status);
      return {};
    case "Registry.Get":
      return { worker: await c.getWorker(w.worker_id) };
    case "Registry.List":
      return { workers: await c.listWorkers(w) };
    case "Broker.Stats":
      return c.stats();
    case "Broker.Ping":
      return c.ping();
    default:
      throw new CaseFailure(`the case names a method this runner does not know: ${method}`);
  }
}

// ---------------------------------------------------------------------
// Matching (predicates as tests/python/cases.py reads them)

const isUuid = (t) => typeof t === "string" && /^[0-9a-f]{8}-[0-9a-f]{4}-[47][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(t);

export function resolve(v, saved) {
  if (Array.isArray(v)) return v.map((e) => resolve(e, saved));
  if (v && typeof v === "object") {
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === "$ref") return saved[v.$ref];
    if (keys.length === 1 && keys[0] === "$repeat") return v.$repeat[0].repeat(v.$repeat[1]);
    return Object.fromEntries(keys.map((k) => [k, resolve(v[k], saved)]));
  }
  return v;
}

const show = (v) => JSON.stringify(v, (k, x) => (typeof x === "bigint" ? String(x) : x));

export function match(expected, actual, saved, path = "reply") {
  if (expected && typeof expected === "object" && !Array.isArray(expected)) {
    const keys = Object.keys(expected);
    if (keys.length === 1 && keys[0].startsWith("$") && keys[0] !== "$bin" && keys[0] !== "$raw") {
      const arg = expected[keys[0]];
      const checks = {
        $ref: () => actual === saved[arg],
        $uuid: () => isUuid(actual) === arg,
        $time: () => (typeof actual === "string" && actual.endsWith("Z") && actual.length === 27) === arg,
        $null: () => (actual === null || actual === undefined) === arg,
        $prefix: () => typeof actual === "string" && actual.startsWith(arg),
        $contains: () => typeof actual === "string" && actual.includes(arg),
        $any: () => true,
      };
      const check = checks[keys[0]];
      if (!check) throw new CaseFailure(`${path}: unknown predicate ${keys[0]}`);
      if (!check()) throw new CaseFailure(`${path}: ${show(actual)} does not satisfy ${keys[0]} ${show(arg)}`);
      return;
    }
    if (!actual || typeof actual !== "object" || Array.isArray(actual))
      throw new CaseFailure(`${path}: expected a map, got ${show(actual)}`);
    for (const k of keys) {
      if (!(k in actual)) throw new CaseFailure(`${path}: no field '${k}' in ${show(actual)}`);
      match(expected[k], actual[k], saved, `${path}.${k}`);
    }
    return;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length)
      throw new CaseFailure(`${path}: expected ${expected.length} elements, got ${show(actual)}`);
    expected.forEach((e, i) => match(e, actual[i], saved, `${path}[${i}]`));
    return;
  }
  if (expected !== actual) throw new CaseFailure(`${path}: expected ${show(expected)}, got ${show(actual)}`);
}

function dig(v, dotted) {
  for (const part of dotted.split(".")) v = Array.isArray(v) ? v[Number(part)] : v[part];
  return v;
}

const sleep = (s) => new Promise((r) => setTimeout(r, s * 1000));

// ---------------------------------------------------------------------
// Streams (README.md, "Streams")

//  How long a stream step waits for what it expects before it fails (a
//  bound on a wait, never a measure: a passing step returns at once)
const STREAM_WAIT = 10;

//  The status the stream ended with; an item before the end is a failure.
async function streamEnd(sub, where) {
  let it;
  try {
    it = await sub.next(STREAM_WAIT);
  } catch (e) {
    if (!(e instanceof WorkpoolError)) throw e;
    return [e.status, e.message];
  }
  if (it) throw new CaseFailure(`${where}: an item '${it.id}' came, expected the end`);
  if (!sub.ended) throw new CaseFailure(`${where}: the stream did not end within ${STREAM_WAIT} s`);
  return ["OK", ""];
}

async function streamStep(c, step, subs, number) {
  if ("subscribe" in step) {
    const name = step.subscribe;
    const where = `step ${number} (subscribe ${name})`;
    const w = step.with ?? {};
    const want = step.status ?? "OK";
    let status, message;
    try {
      const sub = c.pool(w.pool).subscribe(w.worker_id, { credit: w.credit, lease: w.lease_seconds ?? undefined });
      subs[name] = sub;
      if (want === "OK") return;
      [status, message] = await streamEnd(sub, where);
    } catch (e) {
      if (!(e instanceof WorkpoolError)) throw e;
      status = e.status; message = e.message;       //  refused before sending
    }
    if (status !== want) throw new CaseFailure(`${where}: ${status} '${message}', expected ${want}`);
    if (step.message && !message.includes(step.message))
      throw new CaseFailure(`${where}: message '${message}' lacks '${step.message}'`);
    return;
  }
  const name = step.stream;
  const sub = subs[name];
  if (step.items) {
    const where = `step ${number} (stream ${name} items)`;
    const got = [];
    const deadline = Date.now() + STREAM_WAIT * 1000;
    while (got.length < step.items.length) {
      let it;
      try {
        it = await sub.next(Math.max(0, deadline - Date.now()) / 1000);
      } catch (e) {
        if (!(e instanceof WorkpoolError)) throw e;
        throw new CaseFailure(`${where}: the stream ended ${e.status} '${e.message}' after ${show(got)}`);
      }
      if (!it) throw new CaseFailure(`${where}: got ${show(got)}, expected ${show(step.items)}`);
      got.push(it.id);
    }
    if (show(got) !== show(step.items)) throw new CaseFailure(`${where}: got ${show(got)}, expected ${show(step.items)}`);
  } else if ("end" in step) {
    const where = `step ${number} (stream ${name} end)`;
    const [status, message] = await streamEnd(sub, where);
    if (status !== step.end) throw new CaseFailure(`${where}: ended ${status} '${message}', expected ${step.end}`);
    if (step.message && !message.includes(step.message))
      throw new CaseFailure(`${where}: message '${message}' lacks '${step.message}'`);
  } else if (step.unsubscribe) {
    const where = `step ${number} (stream ${name} unsubscribe)`;
    let left;
    try {
      left = await sub.close();
    } catch (e) {
      if (!(e instanceof WorkpoolError)) throw e;
      throw new CaseFailure(`${where}: ${e.status} ${e.message}`);
    }
    if (left.length > 0) throw new CaseFailure(`${where}: items ${show(left.map((x) => x.id))} came before the end`);
    if (sub.error) throw new CaseFailure(`${where}: ended ${sub.error.status}, expected OK end`);
  } else throw new CaseFailure(`step ${number}: a stream step this runner does not know: ${show(step)}`);
}

/** Runs every step of the case on client c; throws CaseFailure. */
export async function run(cs, c) {
  const subs = {};
  try {
    await runSteps(cs, c, subs);
  } finally {
    for (const sub of Object.values(subs)) await sub.close({ timeout: 2 }).catch(() => undefined);
  }
}

async function runSteps(cs, c, subs) {
  const saved = {};
  for (const [i, step] of cs.steps.entries()) {
    if ("sleep" in step) { await sleep(step.sleep); continue; }
    if ("subscribe" in step || "stream" in step) { await streamStep(c, step, subs, i + 1); continue; }
    const where = `step ${i + 1} (${step.call})`;
    const fields = resolve(step.with ?? {}, saved);
    const want = step.status ?? "OK";
    const deadline = Date.now() + (step.within ?? 0) * 1000;
    let reply;
    for (;;) {
      try {
        let status = "OK", message = "";
        reply = undefined;
        try {
          reply = await call(c, step.call, fields);
        } catch (e) {
          if (!(e instanceof WorkpoolError)) throw e;
          status = e.status; message = e.message;
        }
        if (status !== want) throw new CaseFailure(`${where}: ${status} '${message}', expected ${want}`);
        if (step.message && !message.includes(step.message))
          throw new CaseFailure(`${where}: message '${message}' lacks '${step.message}'`);
        if (step.expect && status === "OK") match(step.expect, reply, saved, where);
        break;
      } catch (e) {
        if (!(e instanceof CaseFailure) || Date.now() >= deadline) throw e;
        await sleep(0.05);
      }
    }
    for (const [name, dotted] of Object.entries(step.save ?? {})) saved[name] = dig(reply, dotted);
  }
}
