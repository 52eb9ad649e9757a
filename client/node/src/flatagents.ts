/*  flatagents: workpool behind the FlatAgents 0.9.0 runtime interfaces
    (WorkBackend, WorkPool, RegistrationBackend), so a FlatAgents TypeScript
    program uses a broker where it would use the SDK's SQLite backends.
    The interfaces and records below are the spec's, as it states them.

    Fencing. The spec's complete/fail carry no worker id. The pool adapter
    remembers which worker claimed each item (in this process) and sends
    that id, so the broker still refuses a lapsed claim; asked to finish an
    item it did not claim, it refuses (FailedPrecondition) rather than send
    an unfenced call.
    Keep-alive. The SDK's workers do not heartbeat during a long job: the
    registration adapter heartbeats every worker it registered at its
    interval until it is marked terminated or lost, or close() is called.
    Its timers do not keep the process alive.
    Scheduling. The spec's push options name only max_retries; the pool
    adapter also reads delay, run_at, priority and unique_key from them
    (PushOptionsExt), and fail takes an optional third argument
    { retry_after }: the interfaces' shapes are unchanged.  */
import { Client, type ClientOptions, type Pool } from "./client.js";
import { FailedPrecondition, InvalidArgument, NotFound } from "./errors.js";
import { Limits } from "./limits.js";
import type { Subscription } from "./subscription.js";
import type { Item, WorkerInfo } from "./records.js";

// ---------------------------------------------------------------------
// The spec's interfaces (flatagents-runtime.d.ts 0.9.0)

export interface WorkBackend {
  pool(name: string): WorkPool;
}

export interface WorkPool {
  push(item: any, options?: { max_retries?: number }): Promise<string>;
  claim(worker_id: string): Promise<WorkItem | null>;
  complete(item_id: string, result?: any): Promise<void>;
  fail(item_id: string, error?: string): Promise<void>;
  size(): Promise<number>;
  releaseByWorker(worker_id: string): Promise<number>;
}

export interface WorkItem {
  id: string;
  data: any;
  claimed_by?: string;
  claimed_at?: string;
  attempts: number;
  max_retries: number;
}

export interface RegistrationBackend {
  register(worker: WorkerRegistration): Promise<WorkerRecord>;
  heartbeat(worker_id: string, metadata?: Record<string, any>): Promise<void>;
  updateStatus(worker_id: string, status: string): Promise<void>;
  get(worker_id: string): Promise<WorkerRecord | null>;
  list(filter?: WorkerFilter): Promise<WorkerRecord[]>;
}

export interface WorkerRegistration {
  worker_id: string;
  host?: string;
  pid?: number;
  capabilities?: string[];
  pool_id?: string;
  started_at: string;
}

export interface WorkerRecord extends WorkerRegistration {
  status: string;
  last_heartbeat: string;
  current_task_id?: string;
}

export interface WorkerFilter {
  status?: string | string[];
  capability?: string;
  pool_id?: string;
  stale_threshold_seconds?: number;
}

// ---------------------------------------------------------------------

/** push's options: the spec's max_retries, then workpool's scheduling in
 *  the spec's snake_case. The spec has no scheduling options, so nothing of
 *  it maps to these; they are extensions a program opts into, and the
 *  options object stays the spec's shape (extra keys, all optional). */
export interface PushOptionsExt {
  max_retries?: number;
  /** seconds until it may be claimed */
  delay?: number;
  /** when it may be claimed: a Date or RFC 3339 text */
  run_at?: Date | string;
  /** lower is claimed first; 0 */
  priority?: number;
  /** one live item per key: a duplicate push returns the live item's id */
  unique_key?: string;
}

export interface AdapterOptions extends ClientOptions {
  /** WorkBackend: seconds a claim holds; the broker's default */
  lease?: number;
  /** WorkBackend: 0 (default) claims one item per claim(); N > 0 opens a
   *  subscription (WorkPool.Subscribe) per pool and worker on its first
   *  claim(), so up to N items stream in ahead and each claim() takes the
   *  next one there is (null when none is). complete / fail are the same
   *  calls either way. A stream that ended in an error throws it from
   *  claim() (FailedPrecondition: declared lost); the next one subscribes
   *  again. close() ends the subscriptions. */
  credit?: number;
  /** RegistrationBackend: heartbeat interval of the workers it registers, seconds; 10 */
  heartbeatInterval?: number;
}

function clientFor(endpoint: string | Client, options: ClientOptions): [Client, boolean] {
  return typeof endpoint === "string" ? [new Client(endpoint, options), true] : [endpoint, false];
}

//  The spec's records carry only the spec's fields; optional ones are left
//  out when workpool has no value.
function workItem(item: Item): WorkItem {
  const w: WorkItem = { id: item.id, data: item.data, attempts: item.attempts, max_retries: item.max_retries };
  if (item.claimed_by !== null) w.claimed_by = item.claimed_by;
  if (item.claimed_at !== null) w.claimed_at = item.claimed_at;
  return w;
}

function workerRecord(w: WorkerInfo): WorkerRecord {
  const r: WorkerRecord = {
    worker_id: w.worker_id, started_at: w.started_at, status: w.status, last_heartbeat: w.last_heartbeat,
  };
  if (w.host !== null) r.host = w.host;
  if (w.pid !== null) r.pid = w.pid;
  if (w.capabilities.length > 0) r.capabilities = w.capabilities;
  if (w.pool_id !== null) r.pool_id = w.pool_id;
  if (w.current_task_id !== null) r.current_task_id = w.current_task_id;
  return r;
}

export class WorkpoolWorkBackend implements WorkBackend {
  readonly client: Client;
  private readonly owns: boolean;
  private readonly lease?: number;
  private readonly credit: number;
  private readonly pools = new Map<string, WorkpoolWorkPool>();

  constructor(endpoint: string | Client, options: AdapterOptions = {}) {
    const credit = options.credit ?? 0;
    if (!Number.isInteger(credit) || credit < 0 || credit > Limits.WP_CREDIT_MAX)
      throw new InvalidArgument(`credit must be an integer from 0 to ${Limits.WP_CREDIT_MAX}`);
    [this.client, this.owns] = clientFor(endpoint, options);
    this.lease = options.lease;
    this.credit = credit;
  }

  /** The pool called name; one adapter per name, so the claims it
   *  remembers are shared by every caller of pool(name). */
  pool(name: string): WorkpoolWorkPool {
    let p = this.pools.get(name);
    if (!p) {
      p = new WorkpoolWorkPool(this.client.pool(name), this.lease, this.credit);
      this.pools.set(name, p);
    }
    return p;
  }

  async close(): Promise<void> {
    for (const p of this.pools.values()) await p.closeSubscriptions();
    if (this.owns) await this.client.close();
  }
}

export class WorkpoolWorkPool implements WorkPool {
  /** item id -> the worker that claimed it through this adapter */
  private readonly claims = new Map<string, string>();

  /** worker id -> its subscription (credit > 0) */
  private readonly subs = new Map<string, Subscription>();

  constructor(readonly native: Pool, private readonly lease?: number, private readonly credit = 0) {}

  /** The spec's max_retries, and workpool's scheduling extensions (the
   *  spec names no others; see PushOptionsExt). */
  async push(item: any, options: PushOptionsExt = {}): Promise<string> {
    return (await this.native.push(item, {
      maxRetries: options.max_retries, delay: options.delay, runAt: options.run_at,
      priority: options.priority, uniqueKey: options.unique_key,
    })).id;
  }

  async claim(worker_id: string): Promise<WorkItem | null> {
    const item = this.credit > 0 ? await this.streamed(worker_id)
      : await this.native.claim(worker_id, { lease: this.lease });
    if (!item) return null;
    this.claims.set(item.id, worker_id);
    return workItem(item);
  }

  async complete(item_id: string, result?: any): Promise<void> {
    const workerId = this.holder(item_id, "complete");
    await this.finish(item_id, () => this.native.complete(item_id, result, { workerId }));
  }

  /** options.retry_after (workpool's): seconds before it may be claimed again. */
  async fail(item_id: string, error?: string, options: { retry_after?: number } = {}): Promise<void> {
    const workerId = this.holder(item_id, "fail");
    await this.finish(item_id, () => this.native.fail(item_id, error, { workerId, retryAfter: options.retry_after }));
  }

  size(): Promise<number> {
    return this.native.size();
  }

  //  The next item the worker's subscription brought (opened on first use)
  private async streamed(worker_id: string): Promise<Item | null> {
    let sub = this.subs.get(worker_id);
    if (!sub) {
      sub = this.native.subscribe(worker_id, { credit: this.credit, lease: this.lease });
      this.subs.set(worker_id, sub);
    }
    try {
      const item = await sub.next(0);
      if (item === null && sub.ended) {
        this.subs.delete(worker_id);
        await sub.close();
      }
      return item;
    } catch (e) {
      this.subs.delete(worker_id);
      await sub.close().catch(() => undefined);
      throw e;
    }
  }

  /** @internal Ends every subscription; items streamed and not claimed
   *  through here are released when the worker holds nothing else here. */
  async closeSubscriptions(): Promise<void> {
    for (const [worker_id, sub] of this.subs) {
      this.subs.delete(worker_id);
      const left = await sub.close().catch(() => []);
      const held = [...this.claims.values()].includes(worker_id);
      if (left.length > 0 && !held) await this.native.releaseByWorker(worker_id).catch(() => undefined);
    }
  }

  /** Returns every item the worker holds here to pending (with credit: its
   *  subscription is ended first, so none streams in after). */
  async releaseByWorker(worker_id: string): Promise<number> {
    const sub = this.subs.get(worker_id);
    if (sub) {
      this.subs.delete(worker_id);
      await sub.close().catch(() => undefined);
    }
    const n = await this.native.releaseByWorker(worker_id);
    for (const [id, w] of this.claims) if (w === worker_id) this.claims.delete(id);
    return n;
  }

  private holder(item_id: string, verb: string): string {
    const w = this.claims.get(item_id);
    if (w === undefined)
      throw new FailedPrecondition(`item '${item_id}' was not claimed through this backend in this ` +
        `process: refusing to ${verb} it without the worker id that holds it`);
    return w;
  }

  //  A claim that is over (finished, lapsed, taken by another) is forgotten.
  private async finish(item_id: string, op: () => Promise<unknown>): Promise<void> {
    try {
      await op();
      this.claims.delete(item_id);
    } catch (e) {
      if (e instanceof FailedPrecondition || e instanceof NotFound) this.claims.delete(item_id);
      throw e;
    }
  }
}

export class WorkpoolRegistrationBackend implements RegistrationBackend {
  readonly client: Client;
  private readonly owns: boolean;
  private readonly interval: number;
  private readonly alive = new Map<string, NodeJS.Timeout>();

  constructor(endpoint: string | Client, options: AdapterOptions = {}) {
    [this.client, this.owns] = clientFor(endpoint, options);
    this.interval = options.heartbeatInterval ?? 10;
  }

  async register(worker: WorkerRegistration): Promise<WorkerRecord> {
    const info = await this.client.register({ ...worker, heartbeat_interval_seconds: this.interval });
    this.keepAlive(info.worker_id, info.heartbeat_interval_seconds);
    return workerRecord(info);
  }

  async heartbeat(worker_id: string, metadata?: Record<string, any>): Promise<void> {
    await this.client.heartbeat(worker_id, metadata);
  }

  async updateStatus(worker_id: string, status: string): Promise<void> {
    await this.client.updateStatus(worker_id, status);
    if (status === "terminated" || status === "lost") this.forget(worker_id);
  }

  async get(worker_id: string): Promise<WorkerRecord | null> {
    const w = await this.client.getWorker(worker_id);
    return w ? workerRecord(w) : null;
  }

  async list(filter: WorkerFilter = {}): Promise<WorkerRecord[]> {
    return (await this.client.listWorkers({ ...filter })).map(workerRecord);
  }

  /** Stops the keep-alive heartbeats (and closes the client it made). */
  async close(): Promise<void> {
    for (const id of [...this.alive.keys()]) this.forget(id);
    if (this.owns) await this.client.close();
  }

  private keepAlive(worker_id: string, seconds: number): void {
    this.forget(worker_id);
    const timer = setInterval(() => {
      this.client.heartbeat(worker_id).catch((e) => {
        //  Lost (or gone): the SDK's own logic re-registers it; stop here.
        if (e instanceof FailedPrecondition || e instanceof NotFound) this.forget(worker_id);
        //  else the broker is away for now: the next beat tries again
      });
    }, seconds * 1000);
    timer.unref();
    this.alive.set(worker_id, timer);
  }

  private forget(worker_id: string): void {
    clearInterval(this.alive.get(worker_id));
    this.alive.delete(worker_id);
  }
}
