/*  schema: every method's request and reply fields, in PROTOCOL.md's
    order, with their wire types. One table drives the four directions:
    encodeRequest (what the client sends, canonical form), decodeReply
    (what it reads, checked), and decodeRequest / encodeReply, which the
    golden-vector tests and a stand-in broker use. Bodies here are plain
    objects keyed by the wire's field names; bin fields are Uint8Array.  */
import { Limits } from "./limits.js";
import { Writer, unpack } from "./wire.js";

export type FieldType =
  | "name" | "text" | "time"     // str
  | "bin" | "uint" | "int" | "number" | "bool"
  | "any"                        // any msgpack value
  | "meta"                       // map str -> any
  | "strmap"                     // map str -> str
  | "countmap"                   // map str -> uint
  | "strs"                       // array of str
  | "statuses"                   // array of str (one str accepted when read)
  | "uints" | "bools"
  | { list: Field[] }            // array of records
  | { rec: Field[] };            // one record

export interface Field {
  k: string;
  t: FieldType;
  /** request: required */
  req?: boolean;
  /** reply records: may be nil */
  nil?: boolean;
  /** request: omitted when equal to this (the canonical form); reply: the
   *  value an absent field reads as (a field newer than the broker) */
  def?: unknown;
  /** request: the bounds the broker's decoder applies (numbers: the value;
   *  strings: bytes of UTF-8), checked before sending, in its words */
  min?: number;
  max?: number;
  /** reply: left out when equal to def (a stream message's `end`) */
  omit?: boolean;
}

const f = (k: string, t: FieldType, extra: Partial<Field> = {}): Field => ({ k, t, ...extra });
const R = { req: true };
const N = { nil: true };

const INT32 = { min: -(2 ** 31), max: 2 ** 31 - 1 };
const DELAY = { min: 0, max: Limits.WP_DELAY_MAX };

export const ITEM: Field[] = [
  f("id", "name"), f("pool", "name"), f("data", "bin"), f("status", "name"),
  f("claimed_by", "name", N), f("claimed_at", "time", N), f("lease_expires_at", "time", N),
  f("attempts", "uint"), f("max_retries", "uint"), f("result", "bin", N), f("error", "text", N),
  f("created_at", "time"),
  //  issue 15 (a broker from before it sends 12 fields: these read as unset)
  f("priority", "int", { def: 0 }), f("run_at", "time", N), f("unique_key", "name", N),
];

export const SCHEDULE: Field[] = [
  f("name", "name"), f("pool", "name"), f("cron", "text"), f("data", "bin"), f("priority", "int"),
  f("max_retries", "uint", N), f("next_at", "time", N), f("last_fired_at", "time", N),
  f("created_at", "time"),
];

//  What Push and each PushMany entry add after max_retries, in this order
const SCHEDULING: Field[] = [
  f("delay_seconds", "number", { def: 0, ...DELAY }), f("run_at", "time"),
  f("priority", "int", { def: 0, ...INT32 }), f("unique_key", "name", { min: 1, max: Limits.WP_NAME_MAX }),
];

export const WORKER: Field[] = [
  f("worker_id", "name"), f("host", "text", N), f("pid", "int", N), f("capabilities", "strs"),
  f("pool_id", "name", N), f("started_at", "time"), f("status", "name"),
  f("last_heartbeat", "time"), f("current_task_id", "name", N),
  f("heartbeat_interval_seconds", "number"), f("metadata", "meta"),
];

const POOL_STATS: Field[] = [
  f("pool", "name"), f("pending", "uint"), f("claimed", "uint"), f("done", "uint"),
  f("poisoned", "uint"), f("paused", "bool", { def: false }),
  f("scheduled", "uint", { def: 0 }), f("backoff_base_seconds", "number", { def: 0 }),
  f("backoff_cap_seconds", "number", { def: 0 }), f("backoff_jitter", "number", { def: 0 }),
];

const WAIT = f("wait_seconds", "number", { def: 0 });
const LEASE = f("lease_seconds", "number");

export interface MethodSchema { request: Field[]; reply: Field[] }

export const METHODS: Record<string, MethodSchema> = {
  "WorkPool.Push": {
    request: [f("pool", "name", R), f("data", "bin", R), f("id", "name"), f("max_retries", "int"),
      ...SCHEDULING],
    reply: [f("id", "name"), f("duplicate", "bool")],
  },
  "WorkPool.PushMany": {
    request: [f("pool", "name", R),
      f("items", { list: [f("data", "bin", R), f("id", "name"), f("max_retries", "int"), ...SCHEDULING] }, R)],
    reply: [f("ids", "strs"), f("duplicates", "bools")],
  },
  "WorkPool.Claim": {
    request: [f("pool", "name", R), f("worker_id", "name", R), WAIT, LEASE],
    reply: [f("item", { rec: ITEM }, N)],
  },
  "WorkPool.ClaimMany": {
    request: [f("pool", "name", R), f("worker_id", "name", R), f("max", "uint", R), WAIT, LEASE],
    reply: [f("items", { list: ITEM })],
  },
  "WorkPool.Complete": {
    request: [f("pool", "name", R), f("id", "name", R), f("result", "bin"), f("worker_id", "name")],
    reply: [],
  },
  "WorkPool.Fail": {
    request: [f("pool", "name", R), f("id", "name", R), f("error", "text"), f("worker_id", "name"),
      f("retry_after_seconds", "number", { def: 0, ...DELAY })],
    reply: [f("status", "name")],
  },
  "WorkPool.CompleteAndClaim": {
    request: [f("pool", "name", R), f("id", "name", R), f("worker_id", "name", R),
      f("result", "bin"), WAIT, LEASE],
    reply: [f("item", { rec: ITEM }, N)],
  },
  "WorkPool.CompleteMany": {
    request: [f("pool", "name", R), f("worker_id", "name"),
      f("items", { list: [f("id", "name", R), f("result", "bin")] }, R)],
    reply: [f("statuses", "uints"), f("messages", "strs")],
  },
  //  One request, many replies: each stream message is {items}; the final
  //  OK one {items: [], end: true} (PROTOCOL.md, WorkPool.Subscribe)
  "WorkPool.Subscribe": {
    request: [f("pool", "name", R), f("worker_id", "name", R),
      f("credit", "uint", { req: true, min: 1, max: Limits.WP_CREDIT_MAX }), LEASE],
    reply: [f("items", { list: ITEM }), f("end", "bool", { def: false, omit: true })],
  },
  "WorkPool.Unsubscribe": {
    request: [f("pool", "name", R), f("worker_id", "name", R)],
    reply: [],
  },
  "WorkPool.Size": { request: [f("pool", "name", R)], reply: [f("size", "uint")] },
  "WorkPool.ReleaseByWorker": {
    request: [f("pool", "name", R), f("worker_id", "name", R)],
    reply: [f("released", "uint")],
  },
  "WorkPool.Get": {
    request: [f("pool", "name", R), f("id", "name", R)],
    reply: [f("item", { rec: ITEM })],
  },
  "WorkPool.Renew": {
    request: [f("worker_id", "name", R), LEASE],
    reply: [f("renewed", "uint")],
  },
  "WorkPool.List": {
    request: [f("pool", "name", R), f("status", "statuses", { def: [] }), f("limit", "uint", { def: 0 }),
      f("cursor", "text")],
    reply: [f("items", { list: ITEM }), f("cursor", "text", N)],
  },
  "WorkPool.Retry": {
    request: [f("pool", "name", R), f("id", "name"), f("all", "bool", { def: false })],
    reply: [f("retried", "uint")],
  },
  "WorkPool.Cancel": { request: [f("pool", "name", R), f("id", "name", R)], reply: [] },
  "WorkPool.Purge": {
    request: [f("pool", "name", R), f("status", "statuses", R)],
    reply: [f("purged", "uint")],
  },
  "WorkPool.Pause": { request: [f("pool", "name", R)], reply: [] },
  "WorkPool.Resume": { request: [f("pool", "name", R)], reply: [] },
  "WorkPool.SetBackoff": {
    request: [f("pool", "name", R), f("base_seconds", "number", { req: true, ...DELAY }),
      f("cap_seconds", "number", DELAY), f("jitter", "number", { def: 0, min: 0, max: 1 })],
    reply: [],
  },
  "Schedule.Add": {
    request: [f("name", "name", { req: true, min: 1, max: Limits.WP_SCHEDULE_NAME_MAX }), f("pool", "name", R),
      f("cron", "text", { req: true, min: 0, max: Limits.WP_CRON_MAX }), f("data", "bin", R),
      f("priority", "int", { def: 0, ...INT32 }),
      f("max_retries", "int", { min: 0, max: Limits.WP_MAX_RETRIES_MAX })],
    reply: [f("schedule", { rec: SCHEDULE })],
  },
  "Schedule.List": { request: [], reply: [f("schedules", { list: SCHEDULE })] },
  "Schedule.Remove": {
    request: [f("name", "name", { req: true, min: 1, max: Limits.WP_SCHEDULE_NAME_MAX })],
    reply: [],
  },
  "Registry.Register": {
    request: [f("worker_id", "name", R), f("host", "text"), f("pid", "int"),
      f("capabilities", "strs", { def: [] }), f("pool_id", "name"), f("started_at", "time"),
      f("heartbeat_interval_seconds", "number"), f("metadata", "meta", { def: {} })],
    reply: [f("worker", { rec: WORKER })],
  },
  "Registry.Heartbeat": {
    request: [f("worker_id", "name", R), f("metadata", "meta", { def: {} })],
    reply: [],
  },
  "Registry.UpdateStatus": {
    request: [f("worker_id", "name", R), f("status", "name", R)],
    reply: [],
  },
  "Registry.Get": {
    request: [f("worker_id", "name", R)],
    reply: [f("worker", { rec: WORKER }, N)],
  },
  "Registry.List": {
    request: [f("status", "statuses", { def: [] }), f("capability", "name"), f("pool_id", "name"),
      f("stale_threshold_seconds", "number")],
    reply: [f("workers", { list: WORKER })],
  },
  "Broker.Stats": {
    request: [],
    reply: [f("pools", { list: POOL_STATS }), f("workers", "countmap"), f("counters", "countmap")],
  },
  "Broker.Ping": {
    request: [],
    reply: [f("version", "uint"), f("server", "text"), f("time", "time"), f("max_message", "uint")],
  },
};

export type Body = Record<string, unknown>;

/** A request's header fields, beside its body. */
export interface RequestHead {
  requestId: number;
  method: string;
  /** milliseconds; 0: no deadline */
  timeoutMs: number;
  metadata?: Record<string, string>;
}

export interface ReplyHead {
  requestId: number;
  status: number;
  message: string;
}

// ---------------------------------------------------------------------
// Writing

function isDefault(v: unknown, def: unknown): boolean {
  if (def === undefined) return false;
  if (Array.isArray(def)) return Array.isArray(v) && v.length === 0;
  if (typeof def === "object" && def !== null)
    return typeof v === "object" && v !== null && Object.keys(v).length === 0;
  return v === def;
}

/** A request field out of the bounds its table gives (the client's
 *  InvalidArgument, before anything is sent). */
export class BoundsError extends RangeError {}

const utf8 = new TextEncoder();

//  The decoder's words (proto/wp_proto_fields.c), so a value refused here
//  reads as the broker would have refused it.
function checkBounds(fd: Field, v: unknown): void {
  if (fd.min === undefined && fd.max === undefined) return;
  const lo = fd.min ?? -Infinity, hi = fd.max ?? Infinity;
  if (fd.t === "number") {
    if (typeof v !== "number" || !Number.isFinite(v) || v < lo || v > hi)
      throw new BoundsError(`field '${fd.k}' must be a finite number of at least ${g(lo)} and at most ${g(hi)}`);
  } else if (fd.t === "int" || fd.t === "uint") {
    if (typeof v !== "number" && typeof v !== "bigint") return;   //  the writer's type error
    const n = Number(v);
    if (!Number.isInteger(n) || n < lo || n > hi)
      throw new BoundsError(`field '${fd.k}' must be an ${fd.t === "uint" ? "unsigned " : ""}integer from ${lo} to ${hi}`);
  } else if (typeof v === "string") {
    const bytes = utf8.encode(v).length;
    if (bytes < lo || bytes > hi || v.includes("\0"))
      throw new BoundsError(`field '${fd.k}' must be a string ${lo > 0 ? `of ${lo} to ${hi}` : `of at most ${hi}`} ` +
        "bytes of UTF-8 without NUL");
  }
}

//  C's %g, which the decoder's messages use: 6 significant digits
function g(n: number): string {
  const p = Number(n.toPrecision(6));
  if (p !== 0 && (Math.abs(p) >= 1e6 || Math.abs(p) < 1e-4)) {
    const [m, e] = p.toExponential().split("e");
    const exp = Number(e);
    return `${m}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  }
  return String(p);
}

function writeValue(w: Writer, t: FieldType, v: unknown, key: string, request: boolean): void {
  if (typeof t === "object") {
    if ("list" in t) {
      const list = v as unknown[];
      w.arrayHeader(list.length);
      for (const e of list) writeRecord(w, t.list, e as Body, request);
    } else writeRecord(w, t.rec, v as Body, request);
    return;
  }
  switch (t) {
    case "name": case "text": case "time":
      if (typeof v !== "string") throw new TypeError(`field '${key}' must be a string`);
      return w.str(v);
    case "bin":
      if (!(v instanceof Uint8Array)) throw new TypeError(`field '${key}' must be bytes`);
      return w.bin(v);
    case "uint": case "int":
      if (typeof v !== "number" && typeof v !== "bigint") throw new TypeError(`field '${key}' must be an integer`);
      return w.int(v);
    case "number":
      if (typeof v !== "number") throw new TypeError(`field '${key}' must be a number`);
      return w.f64(v);
    case "bool":
      return w.bool(v === true);
    case "any":
      return w.any(v);
    case "meta": case "strmap": case "countmap": {
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o).filter((k) => o[k] !== undefined);
      w.mapHeader(keys.length);
      for (const k of keys) {
        w.str(k);
        if (t === "meta") w.any(o[k]);
        else if (t === "strmap") w.str(String(o[k]));
        else w.int(o[k] as number);
      }
      return;
    }
    case "strs": case "statuses": {
      const list = (typeof v === "string" ? [v] : v) as unknown[];
      w.arrayHeader(list.length);
      for (const e of list) w.str(String(e));
      return;
    }
    case "uints": {
      const list = v as number[];
      w.arrayHeader(list.length);
      for (const e of list) w.int(e);
      return;
    }
    case "bools": {
      const list = v as boolean[];
      w.arrayHeader(list.length);
      for (const e of list) w.bool(e);
      return;
    }
  }
}

//  Requests: fields set and not at their default, in table order (the
//  canonical form of PROTOCOL.md 3.2). Replies: every field, nil if unset.
function writeRecord(w: Writer, fields: Field[], body: Body, request: boolean): void {
  const present = request
    ? fields.filter((fd) => body[fd.k] !== undefined && body[fd.k] !== null && !isDefault(body[fd.k], fd.def))
    : fields.filter((fd) => !(fd.omit && (body[fd.k] === undefined || isDefault(body[fd.k], fd.def))));
  w.mapHeader(present.length);
  for (const fd of present) {
    w.str(fd.k);
    const v = body[fd.k];
    if (request) checkBounds(fd, v);
    if (v === undefined || v === null) w.nil();
    else writeValue(w, fd.t, v, fd.k, request);
  }
}

function schemaOf(method: string): MethodSchema {
  const s = METHODS[method];
  if (!s) throw new TypeError(`unknown method '${method}'`);
  return s;
}

const writer = new Writer(4096);

/** The request header frame. */
export function encodeRequestHeader(head: RequestHead): Uint8Array {
  writer.reset();
  writer.arrayHeader(6);
  writer.str("WPQ");
  writer.int(1);
  writer.int(head.requestId);
  writer.str(head.method);
  writer.int(head.timeoutMs);
  writeValue(writer, "strmap", head.metadata ?? {}, "metadata", true);
  return writer.bytes();
}

/** The request body frame, canonical. Throws TypeError on a field of the
 *  wrong JS type (the broker checks bounds). */
export function encodeRequestBody(method: string, body: Body): Uint8Array {
  writer.reset();
  writeRecord(writer, schemaOf(method).request, body, true);
  return writer.bytes();
}

export function encodeReplyHeader(head: ReplyHead): Uint8Array {
  writer.reset();
  writer.arrayHeader(5);
  writer.str("WPR");
  writer.int(1);
  writer.int(head.requestId);
  writer.int(head.status);
  writer.str(head.status === 0 ? "" : head.message);
  return writer.bytes();
}

/** The reply body: every field of the method's reply on OK, {} otherwise. */
export function encodeReplyBody(method: string, status: number, body: Body): Uint8Array {
  writer.reset();
  if (status !== 0) writer.mapHeader(0);
  else writeRecord(writer, schemaOf(method).reply, body, false);
  return writer.bytes();
}

// ---------------------------------------------------------------------
// Reading

/** A frame that is not what the protocol says (thrown by the readers). */
export class MalformedError extends Error {}

function bad(key: string, what: string): never {
  throw new MalformedError(`field '${key}' must be ${what}`);
}

const isMap = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
const isUint = (v: unknown) => (typeof v === "number" && Number.isInteger(v) && v >= 0) ||
  (typeof v === "bigint" && v >= 0n);
const isInt = (v: unknown) => (typeof v === "number" && Number.isInteger(v)) || typeof v === "bigint";

function readValue(t: FieldType, v: unknown, key: string, request: boolean): unknown {
  if (typeof t === "object") {
    if ("list" in t) {
      if (!Array.isArray(v)) bad(key, "an array");
      return v.map((e, i) => readRecord(t.list, e, `${key}[${i}]`, request));
    }
    return readRecord(t.rec, v, key, request);
  }
  switch (t) {
    case "name": case "text": case "time":
      return typeof v === "string" ? v : bad(key, "a string");
    case "bin":
      return v instanceof Uint8Array ? v : bad(key, "bin");
    case "uint":
      return isUint(v) ? v : bad(key, "an unsigned integer");
    case "int":
      return isInt(v) ? v : bad(key, "an integer");
    case "number":
      return typeof v === "number" ? v : bad(key, "a number");
    case "bool":
      return typeof v === "boolean" ? v : bad(key, "a bool");
    case "any":
      return v;
    case "meta":
      return isMap(v) ? v : bad(key, "a map");
    case "strmap":
      if (!isMap(v) || !Object.values(v).every((e) => typeof e === "string")) bad(key, "a map of strings");
      return v;
    case "countmap":
      if (!isMap(v) || !Object.values(v).every(isUint)) bad(key, "a map of unsigned integers");
      return v;
    case "statuses":
      if (typeof v === "string") return [v];
    // falls through
    case "strs":
      if (!Array.isArray(v) || !v.every((e) => typeof e === "string")) bad(key, "an array of strings");
      return v;
    case "uints":
      if (!Array.isArray(v) || !v.every(isUint)) bad(key, "an array of unsigned integers");
      return v;
    case "bools":
      if (!Array.isArray(v) || !v.every((e) => typeof e === "boolean")) bad(key, "an array of bools");
      return v;
  }
}

//  Unknown keys are dropped; an absent field reads as its def, else nil,
//  and nil is only accepted where the table allows it (or in requests,
//  where nil means omitted).
function readRecord(fields: Field[], v: unknown, where: string, request = false): Body {
  if (v === null && request) v = {};
  if (!isMap(v)) throw new MalformedError(`${where} must be a map`);
  const out: Body = {};
  for (const fd of fields) {
    const raw = v[fd.k];
    const key = where === "body" ? fd.k : `${where}.${fd.k}`;
    if (raw === undefined || raw === null) {
      if (request) {
        if (fd.req) throw new MalformedError(`field '${key}' is required`);
        continue;
      }
      if (raw === undefined && fd.def !== undefined) { out[fd.k] = fd.def; continue; }
      //  PROTOCOL.md 4.3: an absent nullable field is nil; the others must be there
      if (fd.nil) { out[fd.k] = null; continue; }
      bad(key, "present");
    }
    out[fd.k] = readValue(fd.t, raw, key, request);
  }
  return out;
}

function readHeader(frame: Uint8Array, sig: string, count: number): unknown[] {
  const h = unpack(frame);
  if (!Array.isArray(h) || h.length !== count || h[0] !== sig || h[1] !== 1)
    throw new MalformedError(`header is not a version 1 ${sig} array of ${count}`);
  return h;
}

export function decodeReplyHeader(frame: Uint8Array): ReplyHead {
  const h = readHeader(frame, "WPR", 5);
  if (!isUint(h[2]) || !isUint(h[3]) || typeof h[4] !== "string")
    throw new MalformedError("reply header elements have the wrong types");
  return { requestId: Number(h[2]), status: Number(h[3]), message: h[4] };
}

/** The reply body of method, checked against its table (OK replies). */
export function decodeReplyBody(method: string, frame: Uint8Array): Body {
  return readRecord(schemaOf(method).reply, unpack(frame), "body");
}

export function decodeRequestHeader(frame: Uint8Array): RequestHead {
  const h = readHeader(frame, "WPQ", 6);
  if (!isUint(h[2]) || typeof h[3] !== "string" || !isUint(h[4]) || (h[5] !== null && !isMap(h[5])))
    throw new MalformedError("request header elements have the wrong types");
  return {
    requestId: Number(h[2]), method: h[3], timeoutMs: Number(h[4]),
    metadata: (h[5] ?? {}) as Record<string, string>,
  };
}

/** The request body of method, its fields checked for type and presence
 *  (not for bounds: that is the broker's decoder). */
export function decodeRequestBody(method: string, frame: Uint8Array): Body {
  return readRecord(schemaOf(method).request, unpack(frame), "body", true);
}
