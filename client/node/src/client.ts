/*  client: the workpool client. Every method of PROTOCOL.md is a Promise;
    many calls share one socket and run at once, so
        await Promise.all(values.map((v) => pool.push(v)))
    is pipelined. Deadlines and resends follow libworkpool (workpool.h):
    each call must finish within `timeout` seconds (a waiting claim gets its
    wait on top); a call the broker never took fails UNAVAILABLE, one that
    got no reply DEADLINE_EXCEEDED. A request that got no reply within
    `retryInterval` is sent again only if doing it twice is harmless:
    - reads, register, heartbeat, updateStatus, renew, releaseByWorker,
      pause, resume, setBackoff and scheduleAdd (it replaces the record
      with the same one);
    - push and pushMany: every entry carries an id; the client makes a UUID
      v4 for entries without one, and reports a duplicate of an id it made
      as not duplicate (it can only be its own resend);
    - complete, completeMany and fail only with a worker id: the broker
      then refuses a second copy; when a resend is refused because the first
      copy took effect, a get finds that out and the call succeeds.
    Claims (claim, claimMany, completeAndClaim), complete/fail without a
    worker id, retry, cancel, purge and scheduleRemove are sent once.  */
import { randomUUID } from "node:crypto";
import { Connection, type RawReply } from "./connection.js";
import { curveKeys } from "./curve.js";
import { Cancelled, Internal, InvalidArgument, StatusCode, WorkpoolError, errorFor } from "./errors.js";
import type {
  EntryOutcome, FailStatus, Item, ItemStatus, ListPage, PingInfo, PushResult, Schedule, Stats, WorkerInfo,
} from "./records.js";
import { type Body, BoundsError, decodeReplyBody, encodeRequestBody } from "./schema.js";
import { packValue, unpack } from "./wire.js";
import { Subscription, type SubscribeOptions } from "./subscription.js";

/** Bytes that already are the msgpack encoding of a value: pushed and
 *  completed as they are. */
export class Raw {
  constructor(readonly bytes: Uint8Array) {}
}

export interface ClientOptions {
  /** seconds each call may take (a waiting claim: its wait on top); 30 */
  timeout?: number;
  /** seconds without a reply before a safe request is sent again; 2 */
  retryInterval?: number;
  /** CURVE: the broker's public certificate file (or its Z85 public key) */
  serverKey?: string;
  /** CURVE: this client's secret certificate file (NAME_secret) */
  cert?: string;
  /** items' data and results stay the msgpack bytes (Uint8Array) */
  raw?: boolean;
  /** 64-bit integers in data and results decode as bigint (exact) */
  bigint?: boolean;
  /** request-header metadata sent with every call (e.g. a trace id) */
  metadata?: Record<string, string>;
  /** @internal a subscription's own client: a dropped connection ends its stream */
  watchDisconnects?: boolean;
}

export interface CallOptions {
  /** seconds this call may take, instead of the client's timeout */
  timeout?: number;
  /** abort the call: it fails with CANCELLED (an item a claim was given
   *  meanwhile stays claimed until its lease lapses or releaseByWorker) */
  signal?: AbortSignal;
}

export interface ClaimOptions extends CallOptions {
  /** seconds to wait for a push when none is pending (0..3600); 0 */
  wait?: number;
  /** seconds the claim holds before it lapses; the broker's default */
  lease?: number;
}

/** When and how urgently an item runs (push, pushMany entries). */
export interface Scheduling {
  /** seconds until it may be claimed (0..366 days): it waits `scheduled` */
  delay?: number;
  /** when it may be claimed (a Date or RFC 3339 text); not with delay */
  runAt?: Date | string;
  /** lower is claimed first (an int32); 0 */
  priority?: number;
  /** while a live item of the pool (pending, scheduled, claimed) holds this
   *  key, a push returns that item's id as a duplicate and changes nothing */
  uniqueKey?: string;
}

export interface PushOptions extends CallOptions, Scheduling {
  /** the item's id; a UUID v4 is made when absent */
  id?: string;
  /** after a failure, attempts >= maxRetries poisons the item; 3 */
  maxRetries?: number;
}

export interface PushEntry extends Scheduling {
  data: unknown;
  id?: string;
  maxRetries?: number;
}

export interface FailOptions extends WorkerIdOptions {
  /** seconds before the item may be claimed again (0..366 days): it waits
   *  `scheduled`; without it the pool's backoff policy decides, if any */
  retryAfter?: number;
}

export interface BackoffOptions extends CallOptions {
  /** the longest wait, seconds; the base when absent */
  cap?: number;
  /** 0..1: each wait is shortened by a random part of up to this much; 0 */
  jitter?: number;
}

export interface ScheduleOptions extends CallOptions {
  /** the items' priority; 0 */
  priority?: number;
  /** the items' max_retries; the broker's default when absent */
  maxRetries?: number;
}

export interface WorkerIdOptions extends CallOptions {
  /** who holds the claim: give it (it fences the call and makes a resend safe) */
  workerId?: string;
}

export interface ListOptions extends CallOptions {
  /** only items in these statuses; all when empty */
  statuses?: ItemStatus[] | ItemStatus;
  /** items per page, 1..1000; 100 */
  limit?: number;
  /** where the page starts: the cursor of the page before */
  cursor?: string | null;
}

export interface RegisterOptions extends CallOptions {
  worker_id: string;
  host?: string;
  pid?: number;
  capabilities?: string[];
  pool_id?: string;
  started_at?: string;
  /** seconds; the worker is declared lost after twice this without a heartbeat */
  heartbeat_interval_seconds?: number;
  metadata?: Record<string, unknown>;
}

export interface WorkerListFilter extends CallOptions {
  status?: string | string[];
  capability?: string;
  pool_id?: string;
  stale_threshold_seconds?: number;
}

interface Send {
  resend: boolean;
  /** seconds added to the deadline (a claim's wait) */
  extra?: number;
}

const ONCE: Send = { resend: false };
const SAFE: Send = { resend: true };

export class Client {
  private readonly conn: Connection;
  private readonly timeoutMs: number;
  private readonly metadata?: Record<string, string>;
  /** @internal */ readonly rawData: boolean;
  /** @internal */ readonly bigint: boolean;
  /** @internal what it was made with (a subscription makes its own client alike) */
  readonly options: ClientOptions;

  constructor(endpoint: string, options: ClientOptions = {}) {
    const timeout = options.timeout ?? 30;
    const retry = options.retryInterval ?? 2;
    if (!(timeout > 0)) throw new InvalidArgument("timeout must be a number of seconds > 0");
    if (!(retry > 0)) throw new InvalidArgument("retryInterval must be a number of seconds > 0");
    if (options.cert && !options.serverKey) throw new InvalidArgument("cert needs serverKey (CURVE)");
    this.options = options;
    this.timeoutMs = timeout * 1000;
    this.metadata = options.metadata;
    this.rawData = options.raw ?? false;
    this.bigint = options.bigint ?? false;
    this.conn = new Connection(endpoint, {
      retryIntervalMs: retry * 1000,
      curve: options.serverKey ? curveKeys(options.serverKey, options.cert) : undefined,
      watchDisconnects: options.watchDisconnects,
    });
  }

  /** The endpoint in use: with several listed, the one the client moved
   *  to last (it moves when a broker stops answering; see the README). */
  get endpoint(): string {
    return this.conn.endpoint;
  }

  /** Every endpoint listed, in order. */
  get endpoints(): string[] {
    return [...this.conn.endpoints];
  }

  /** How often the client moved to the next listed broker. */
  get moves(): number {
    return this.conn.moves;
  }

  /** @internal A subscription's connection to endpoint was lost. */
  suspect(endpoint: string): void {
    this.conn.suspect(endpoint);
  }

  /** The pool called name (pools exist once named). */
  pool(name: string): Pool {
    return new Pool(this, name);
  }

  /** Requests in flight on this client's socket. */
  get inFlight(): number {
    return this.conn.inFlight;
  }

  /** Fails the calls in flight with CANCELLED and closes the socket. */
  async close(): Promise<void> {
    this.conn.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // -------------------------------------------------------------------
  // Broker and registry

  ping(options: CallOptions = {}): Promise<PingInfo> {
    return this.request("Broker.Ping", {}, SAFE, options) as Promise<unknown> as Promise<PingInfo>;
  }

  stats(options: CallOptions = {}): Promise<Stats> {
    return this.request("Broker.Stats", {}, SAFE, options) as Promise<unknown> as Promise<Stats>;
  }

  /** Renews the lease of every claim the worker holds; returns how many. */
  async renew(workerId: string, options: CallOptions & { lease?: number } = {}): Promise<number> {
    const r = await this.request("WorkPool.Renew", { worker_id: workerId, lease_seconds: options.lease },
      SAFE, options);
    return Number(r.renewed);
  }

  /** Creates (or replaces) the worker's record, status active. */
  async register(worker: RegisterOptions): Promise<WorkerInfo> {
    const { timeout, signal, ...body } = worker;
    const r = await this.request("Registry.Register", body as Body, SAFE, { timeout, signal });
    return r.worker as WorkerInfo;
  }

  /** last_heartbeat = now, metadata merged key by key, leases renewed.
   *  FailedPrecondition: the worker was declared lost (register again). */
  async heartbeat(workerId: string, metadata?: Record<string, unknown>, options: CallOptions = {}): Promise<void> {
    await this.request("Registry.Heartbeat", { worker_id: workerId, metadata }, SAFE, options);
  }

  async updateStatus(workerId: string, status: string, options: CallOptions = {}): Promise<void> {
    await this.request("Registry.UpdateStatus", { worker_id: workerId, status }, SAFE, options);
  }

  /** The worker's record, or null if there is none. */
  async getWorker(workerId: string, options: CallOptions = {}): Promise<WorkerInfo | null> {
    const r = await this.request("Registry.Get", { worker_id: workerId }, SAFE, options);
    return (r.worker as WorkerInfo | null) ?? null;
  }

  /** Workers matching every criterion given, by worker id. */
  async listWorkers(filter: WorkerListFilter = {}): Promise<WorkerInfo[]> {
    const { timeout, signal, ...body } = filter;
    const r = await this.request("Registry.List", body as Body, SAFE, { timeout, signal });
    return r.workers as WorkerInfo[];
  }

  // -------------------------------------------------------------------
  // Schedules (admin)

  /** Creates or replaces the schedule called name: at every tick of cron
   *  (5 fields, or 6 with seconds first; UTC) the broker pushes data to
   *  pool as the item NAME@TICK. Resolves to the stored record. */
  async scheduleAdd<T = unknown>(name: string, pool: string, cron: string, data: unknown,
    options: ScheduleOptions = {}): Promise<Schedule<T>> {
    const r = await this.request("Schedule.Add", {
      name, pool, cron, data: packData(data), priority: options.priority, max_retries: options.maxRetries,
    }, SAFE, options);
    return this.schedule<T>(r.schedule);
  }

  /** Every schedule, by name. */
  async scheduleList<T = unknown>(options: CallOptions = {}): Promise<Schedule<T>[]> {
    const r = await this.request("Schedule.List", {}, SAFE, options);
    return (r.schedules as unknown[]).map((s) => this.schedule<T>(s));
  }

  /** Removes a schedule (the items it pushed stay). NotFound: none of that name. */
  async scheduleRemove(name: string, options: CallOptions = {}): Promise<void> {
    await this.request("Schedule.Remove", { name }, ONCE, options);
  }

  // -------------------------------------------------------------------
  // The call

  /** @internal Sends method with body; resolves with the decoded reply body
   *  of an OK reply, rejects with the status's WorkpoolError. */
  async request(method: string, body: Body, send: Send, options: CallOptions = {}): Promise<Body> {
    const reply = await this.send(method, body, send, options);
    return this.check(method, reply);
  }

  /** @internal The raw reply, whatever its status. */
  async send(method: string, body: Body, send: Send, options: CallOptions = {}): Promise<RawReply> {
    let frame: Uint8Array;
    try {
      frame = encodeRequestBody(method, body);
    } catch (e) {
      //  (a bound the broker's decoder applies: in its words, as it would say it)
      if (e instanceof BoundsError) throw new InvalidArgument(e.message);
      throw new InvalidArgument(`${method}: ${(e as Error).message}`);
    }
    const timeoutMs = (options.timeout !== undefined ? options.timeout * 1000 : this.timeoutMs) +
      (send.extra ?? 0) * 1000;
    if (!(timeoutMs > 0)) throw new InvalidArgument(`${method}: timeout must be > 0`);
    return this.conn.call(method, frame, {
      timeoutMs, resend: send.resend, waitMs: (send.extra ?? 0) * 1000, metadata: this.metadata,
      signal: options.signal,
    });
  }

  /** @internal Opens a stream (sent once, never resent): onReply gets each
   *  reply and says whether it was the final one. Bad input throws here. */
  stream(method: string, body: Body, streamTimeoutMs: number, onReply: (r: RawReply) => boolean,
    options: CallOptions = {}): Promise<RawReply> {
    let frame: Uint8Array;
    try {
      frame = encodeRequestBody(method, body);
    } catch (e) {
      if (e instanceof BoundsError) throw new InvalidArgument(e.message);
      throw new InvalidArgument(`${method}: ${(e as Error).message}`);
    }
    const timeoutMs = options.timeout !== undefined ? options.timeout * 1000 : this.timeoutMs;
    return this.conn.stream(method, frame, {
      timeoutMs, resend: false, metadata: this.metadata, streamTimeoutMs,
    }, onReply);
  }

  /** @internal */
  check(method: string, reply: RawReply): Body {
    if (reply.status !== StatusCode.OK) throw errorFor(reply.status, reply.message);
    try {
      return decodeReplyBody(method, reply.body);
    } catch (e) {
      throw new Internal(`malformed reply to ${method}: ${(e as Error).message}`);
    }
  }

  /** @internal The user's value of a data or result field. */
  value(bin: unknown): unknown {
    if (!(bin instanceof Uint8Array)) return null;
    if (this.rawData) return bin;
    try {
      return unpack(bin, this.bigint);
    } catch {
      return bin;               //  not msgpack: the bytes as they came
    }
  }

  /** @internal */
  item<T>(wire: unknown): Item<T> {
    const it = wire as Record<string, unknown>;
    return { ...it, data: this.value(it.data), result: this.value(it.result) } as Item<T>;
  }

  /** @internal */
  schedule<T>(wire: unknown): Schedule<T> {
    const s = wire as Record<string, unknown>;
    return { ...s, data: this.value(s.data) } as Schedule<T>;
  }
}

function packData(v: unknown): Uint8Array {
  return v instanceof Raw ? v.bytes : packValue(v);
}

/** A Date as the wire's RFC 3339 UTC (microseconds), text as given. */
function wireTime(t: Date | string | undefined): string | undefined {
  if (t === undefined || typeof t === "string") return t;
  if (!(t instanceof Date) || Number.isNaN(t.getTime())) throw new InvalidArgument("runAt must be a valid Date or RFC 3339 text");
  return t.toISOString().replace(/Z$/, "000Z");
}

/** An entry's scheduling fields under their wire names. */
function scheduling(s: Scheduling): Body {
  return { delay_seconds: s.delay, run_at: wireTime(s.runAt), priority: s.priority, unique_key: s.uniqueKey };
}

const claimSend = (o: ClaimOptions): Send => ({ resend: false, extra: o.wait ?? 0 });

export class Pool {
  constructor(readonly client: Client, readonly name: string) {}

  /** Queues one value. */
  async push(data: unknown, options: PushOptions = {}): Promise<PushResult> {
    const made = options.id === undefined;
    const id = options.id ?? randomUUID();
    const r = await this.client.request("WorkPool.Push", {
      pool: this.name, data: packData(data), id, max_retries: options.maxRetries, ...scheduling(options),
    }, SAFE, options);
    return { id: r.id as string, duplicate: made && r.id === id ? false : (r.duplicate as boolean) };
  }

  /** Queues up to 1000 entries in one request, all or none. */
  async pushMany(entries: PushEntry[], options: CallOptions = {}): Promise<PushResult[]> {
    const made = entries.map((e) => e.id === undefined);
    const items = entries.map((e) => ({
      data: packData(e.data), id: e.id ?? randomUUID(), max_retries: e.maxRetries, ...scheduling(e),
    }));
    const r = await this.client.request("WorkPool.PushMany", { pool: this.name, items }, SAFE, options);
    const ids = r.ids as string[];
    const dups = r.duplicates as boolean[];
    if (ids.length !== entries.length || dups.length !== entries.length)
      throw new Internal(`the broker answered ${ids.length} ids for ${entries.length} items`);
    //  An id we made is a duplicate only as our own resend; a unique key's
    //  duplicate answers another item's id, and that one is real.
    return ids.map((id, i) => ({ id, duplicate: made[i] && id === items[i].id ? false : dups[i] }));
  }

  /** The pending item of lowest priority, oldest first, claimed for workerId; null if none came
   *  within options.wait. */
  async claim<T = unknown>(workerId: string, options: ClaimOptions = {}): Promise<Item<T> | null> {
    const r = await this.client.request("WorkPool.Claim", {
      pool: this.name, worker_id: workerId, wait_seconds: options.wait, lease_seconds: options.lease,
    }, claimSend(options), options);
    return r.item ? this.client.item<T>(r.item) : null;
  }

  /** Up to max (1..1000) items, waiting as claim does for the first. */
  async claimMany<T = unknown>(workerId: string, max: number, options: ClaimOptions = {}): Promise<Item<T>[]> {
    const r = await this.client.request("WorkPool.ClaimMany", {
      pool: this.name, worker_id: workerId, max, wait_seconds: options.wait, lease_seconds: options.lease,
    }, claimSend(options), options);
    return (r.items as unknown[]).map((it) => this.client.item<T>(it));
  }

  /** Marks a claimed item done with result (any value; none if undefined).
   *  NotFound: unknown id; FailedPrecondition: not claimed, or by another. */
  async complete(id: string, result?: unknown, options: WorkerIdOptions = {}): Promise<void> {
    const workerId = options.workerId;
    const reply = await this.client.send("WorkPool.Complete", {
      pool: this.name, id, result: result === undefined ? undefined : packData(result), worker_id: workerId,
    }, { resend: workerId !== undefined }, options);
    if (reply.status === StatusCode.FAILED_PRECONDITION && reply.resent && workerId !== undefined &&
        await this.firstCopyWon(id, workerId, true, undefined))
      return;
    this.client.check("WorkPool.Complete", reply);
  }

  /** Records a failed attempt; returns the item's new status: pending,
   *  scheduled (options.retryAfter, or the pool's backoff) or poisoned. */
  async fail(id: string, error?: string, options: FailOptions = {}): Promise<FailStatus> {
    const workerId = options.workerId;
    const reply = await this.client.send("WorkPool.Fail", {
      pool: this.name, id, error, worker_id: workerId, retry_after_seconds: options.retryAfter,
    }, { resend: workerId !== undefined }, options);
    if (reply.status === StatusCode.FAILED_PRECONDITION && reply.resent && workerId !== undefined) {
      const state = await this.firstCopyWon(id, workerId, false, error);
      if (state) return state as FailStatus;
    }
    return this.client.check("WorkPool.Fail", reply).status as FailStatus;
  }

  /** Completes id and claims the next item in one round trip. */
  async completeAndClaim<T = unknown>(id: string, workerId: string, result?: unknown,
    options: ClaimOptions = {}): Promise<Item<T> | null> {
    const r = await this.client.request("WorkPool.CompleteAndClaim", {
      pool: this.name, id, worker_id: workerId, result: result === undefined ? undefined : packData(result),
      wait_seconds: options.wait, lease_seconds: options.lease,
    }, claimSend(options), options);
    return r.item ? this.client.item<T>(r.item) : null;
  }

  /** Completes up to 1000 items in one request; each entry's outcome is
   *  reported (an entry that fails changes nothing and stops no other). */
  async completeMany(entries: Array<{ id: string; result?: unknown }>,
    options: WorkerIdOptions = {}): Promise<EntryOutcome[]> {
    const workerId = options.workerId;
    const reply = await this.client.send("WorkPool.CompleteMany", {
      pool: this.name, worker_id: workerId,
      items: entries.map((e) => ({ id: e.id, result: e.result === undefined ? undefined : packData(e.result) })),
    }, { resend: workerId !== undefined }, options);
    const r = this.client.check("WorkPool.CompleteMany", reply);
    const codes = r.statuses as number[];
    const messages = r.messages as string[];
    if (codes.length !== entries.length || messages.length !== entries.length)
      throw new Internal(`the broker answered ${codes.length} statuses for ${entries.length} items`);
    const out = entries.map((e, i) => ({ id: e.id, code: codes[i], message: messages[i] }));
    if (reply.resent && workerId !== undefined)
      for (const o of out)
        if (o.code === StatusCode.FAILED_PRECONDITION && await this.firstCopyWon(o.id, workerId, true, undefined)) {
          o.code = StatusCode.OK;
          o.message = "";
        }
    return out;
  }

  /** Pending items. */
  async size(options: CallOptions = {}): Promise<number> {
    const r = await this.client.request("WorkPool.Size", { pool: this.name }, SAFE, options);
    return Number(r.size);
  }

  /** Returns every item the worker holds in this pool to pending, without
   *  counting an attempt; returns how many. */
  async releaseByWorker(workerId: string, options: CallOptions = {}): Promise<number> {
    const r = await this.client.request("WorkPool.ReleaseByWorker", { pool: this.name, worker_id: workerId },
      SAFE, options);
    return Number(r.released);
  }

  /** The whole item. NotFound: unknown id. */
  async get<T = unknown>(id: string, options: CallOptions = {}): Promise<Item<T>> {
    const r = await this.client.request("WorkPool.Get", { pool: this.name, id }, SAFE, options);
    if (!r.item) throw new Internal("the broker answered Get without an item");
    return this.client.item<T>(r.item);
  }

  /** One page of the pool's items in push order. */
  async list<T = unknown>(options: ListOptions = {}): Promise<ListPage<T>> {
    const statuses = typeof options.statuses === "string" ? [options.statuses] : options.statuses;
    const r = await this.client.request("WorkPool.List", {
      pool: this.name, status: statuses, limit: options.limit, cursor: options.cursor ?? undefined,
    }, SAFE, options);
    return {
      items: (r.items as unknown[]).map((it) => this.client.item<T>(it)),
      cursor: (r.cursor as string | null) ?? null,
    };
  }

  /** Every matching item, page by page:
   *  `for await (const item of pool.items({ statuses: "poisoned" }))`. */
  async *items<T = unknown>(options: ListOptions = {}): AsyncGenerator<Item<T>> {
    let cursor = options.cursor ?? null;
    do {
      const page: ListPage<T> = await this.list<T>({ ...options, cursor });
      yield* page.items;
      cursor = page.cursor;
    } while (cursor !== null);
  }

  /** Claimed items as they come, until options.signal aborts:
   *  `for await (const item of pool.claims("w1", { signal })) { ...; await pool.complete(...) }`.
   *  Each wait is options.wait seconds (5); the caller completes or fails
   *  each item before asking for the next. */
  async *claims<T = unknown>(workerId: string, options: ClaimOptions = {}): AsyncGenerator<Item<T>> {
    const wait = options.wait ?? 5;
    while (!options.signal?.aborted) {
      let item: Item<T> | null;
      try {
        item = await this.claim<T>(workerId, { ...options, wait });
      } catch (e) {
        if (e instanceof Cancelled && options.signal?.aborted) return;
        throw e;
      }
      if (item) yield item;
    }
  }

  /** A subscription (WorkPool.Subscribe) on a socket of its own: items
   *  stream in as they are claimed for workerId, at most options.credit
   *  (1..1000) unacknowledged; ack each with sub.complete / sub.fail
   *  (pipelined), end with `await sub.close()`. See subscription.ts. */
  subscribe<T = unknown>(workerId: string, options: SubscribeOptions): Subscription<T> {
    return new Subscription<T>(this.client, this.name, workerId, options);
  }

  /** Ends the worker's subscription on the pool (its stream gets its final
   *  OK end first); OK with none, so it is resent. Its items stay claimed. */
  async unsubscribe(workerId: string, options: CallOptions = {}): Promise<void> {
    await this.client.request("WorkPool.Unsubscribe", { pool: this.name, worker_id: workerId }, SAFE, options);
  }

  /** A poisoned or done item back to pending, attempts 0. */
  async retry(id: string, options: CallOptions = {}): Promise<void> {
    await this.client.request("WorkPool.Retry", { pool: this.name, id }, ONCE, options);
  }

  /** Every poisoned item back to pending; returns how many. */
  async retryAll(options: CallOptions = {}): Promise<number> {
    const r = await this.client.request("WorkPool.Retry", { pool: this.name, all: true }, ONCE, options);
    return Number(r.retried);
  }

  /** Removes a pending, scheduled or poisoned item. */
  async cancel(id: string, options: CallOptions = {}): Promise<void> {
    await this.client.request("WorkPool.Cancel", { pool: this.name, id }, ONCE, options);
  }

  /** Removes every item in these statuses (pending, scheduled, done, poisoned);
   *  returns how many. */
  async purge(statuses: ItemStatus[] | ItemStatus, options: CallOptions = {}): Promise<number> {
    const status = typeof statuses === "string" ? [statuses] : statuses;
    const r = await this.client.request("WorkPool.Purge", { pool: this.name, status }, ONCE, options);
    return Number(r.purged);
  }

  /** Claims on the pool find nothing until resume(); pushes still queue. */
  async pause(options: CallOptions = {}): Promise<void> {
    await this.client.request("WorkPool.Pause", { pool: this.name }, SAFE, options);
  }

  async resume(options: CallOptions = {}): Promise<void> {
    await this.client.request("WorkPool.Resume", { pool: this.name }, SAFE, options);
  }

  /** The pool's retry policy: failed attempt n waits min(cap, base * 2^(n-1))
   *  seconds, less up to jitter of it, scheduled. base 0 clears it. */
  async setBackoff(base: number, options: BackoffOptions = {}): Promise<void> {
    //  (a cap equal to the base is the default: the canonical form leaves it out)
    await this.client.request("WorkPool.SetBackoff", {
      pool: this.name, base_seconds: base, cap_seconds: options.cap === base ? undefined : options.cap,
      jitter: options.jitter,
    }, SAFE, options);
  }

  //  After a resent Complete or Fail was refused: did the first copy take
  //  effect? It did if the item is in the state that copy left and nobody
  //  else holds it. Returns that state, or null.
  private async firstCopyWon(id: string, workerId: string, completing: boolean,
    error: string | undefined): Promise<string | null> {
    let item: Record<string, unknown>;
    try {
      const r = await this.client.request("WorkPool.Get", { pool: this.name, id }, SAFE);
      item = r.item as Record<string, unknown>;
    } catch (e) {
      if (e instanceof WorkpoolError) return null;
      throw e;
    }
    const notOthers = item.claimed_by === null || item.claimed_by === workerId;
    if (completing) return item.status === "done" && notOthers ? "done" : null;
    //  (a poisoned item keeps its last claimant, a pending one none)
    const won = (item.status === "pending" || item.status === "scheduled" || item.status === "poisoned") && notOthers &&
      (item.error ?? undefined) === error;
    return won ? (item.status as string) : null;
  }
}
