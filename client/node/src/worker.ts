/*  worker: a process's loop over one pool. It registers, heartbeats on a
    timer for as long as it runs (so a long handler keeps its claim), claims
    with a wait, completes with what the handler's promise resolves to or
    fails with what it rejects with (a RetryLater: fails it with
    retry_after, so it is tried again no sooner), registers again when the broker says
    it was declared lost, and on SIGTERM/SIGINT (or stop()) finishes the
    item in hand, releases what it holds and marks itself `terminated`.

        const worker = new Worker(client, { pool: "jobs", handler: async (data) => work(data) });
        await worker.run();
*/
import { EventEmitter } from "node:events";
import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import { Client, type Pool } from "./client.js";
import { Cancelled, FailedPrecondition, InvalidArgument, NotFound, WorkpoolError } from "./errors.js";
import { Limits } from "./limits.js";
import type { Item } from "./records.js";
import type { AckOutcome, Subscription } from "./subscription.js";

/** Thrown (or rejected with) by a handler: this attempt failed, try the
 *  item again in `after` seconds (0..366 days). The worker sends Fail with
 *  retry_after_seconds, so the item waits `scheduled`; the attempt counts
 *  toward max_retries like any failure. The stored error is the message
 *  ("retry in N s" when none is given).
 *
 *      handler: async (data) => {
 *        if (!quota.take()) throw new RetryLater(30, "rate limited");
 *        return work(data);
 *      }
 */
export class RetryLater extends Error {
  readonly after: number;

  constructor(after: number, message?: string) {
    if (typeof after !== "number" || !Number.isFinite(after) || after < 0 || after > Limits.WP_DELAY_MAX)
      throw new InvalidArgument(
        `field 'retry_after_seconds' must be a finite number of at least 0 and at most 3.16224e+07`);
    super(message ?? `retry in ${after} s`);
    this.name = "RetryLater";
    this.after = after;
  }
}

export interface WorkerOptions<T = unknown> {
  pool: string;
  /** resolves to the item's result, or rejects: the error's message is
   *  stored (reject with a RetryLater to have it tried again later) */
  handler: (data: T, item: Item<T>) => unknown | Promise<unknown>;
  /** default: host-pid-<8 hex> */
  workerId?: string;
  /** seconds between heartbeats (the broker declares the worker lost after
   *  twice this); 10 */
  heartbeatInterval?: number;
  capabilities?: string[];
  /** the worker group (Register's pool_id) */
  poolId?: string;
  metadata?: Record<string, unknown>;
  /** seconds a claim waits for a push; 5 (also the longest stop() waits
   *  for a claim in progress) */
  wait?: number;
  /** seconds a claim holds; the broker's default */
  lease?: number;
  /** stop on SIGTERM and SIGINT; true */
  handleSignals?: boolean;
  /** 0 (default): claim one item at a time. N > 0 (up to 1000): stream
   *  them (WorkPool.Subscribe, a socket of its own), up to N in hand while
   *  the handler runs, each Complete / Fail sent without waiting for its
   *  reply. A stream ended because the worker was declared lost registers
   *  and subscribes again; one replaced by another subscription of the same
   *  worker id (two processes sharing it) ends run() with Cancelled,
   *  releasing nothing. On stopping it unsubscribes, waits for the acks in
   *  flight, and releases the items not handled. */
  credit?: number;
}

/** Events: "completed" (item), "failed" (item, error), "lost" (), "problem"
 *  (error, item?) for a call that failed and was let go (not "error", so an
 *  unheard one does not throw). */
export class Worker<T = unknown> extends EventEmitter {
  readonly workerId: string;
  readonly client: Client;
  private readonly pool: Pool;
  private readonly opts: WorkerOptions<T>;
  private stopping = false;
  private replaced = false;
  private heartbeatTimer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private readonly ownsClient: boolean;
  /** items completed and failed by this worker */
  readonly counts = { completed: 0, failed: 0 };

  constructor(client: Client | string, options: WorkerOptions<T>) {
    super();
    this.ownsClient = typeof client === "string";
    this.client = typeof client === "string" ? new Client(client) : client;
    this.opts = options;
    this.pool = this.client.pool(options.pool);
    this.workerId = options.workerId ?? `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
    const credit = options.credit ?? 0;
    if (!Number.isInteger(credit) || credit < 0 || credit > Limits.WP_CREDIT_MAX)
      throw new InvalidArgument(`credit must be an integer from 0 (claim one at a time) to ${Limits.WP_CREDIT_MAX}`);
  }

  /** Runs until stop() or a signal; resolves once marked terminated. */
  run(): Promise<void> {
    this.running ??= this.loop();
    return this.running;
  }

  /** Finishes the item in hand, then ends run(). A claim waiting for a
   *  push is left to end (at most `wait` seconds), and an item it brings is
   *  handled: aborting it here would leave the broker's parked claim able
   *  to take an item for a worker that is gone. */
  stop(): void {
    if (this.stopping) return;
    this.stopping = true;
    this.client.updateStatus(this.workerId, "terminating").catch((e) => this.emit("problem", e));
  }

  private async register(): Promise<void> {
    await this.client.register({
      worker_id: this.workerId, host: hostname(), pid: process.pid,
      capabilities: this.opts.capabilities, pool_id: this.opts.poolId,
      heartbeat_interval_seconds: this.opts.heartbeatInterval ?? 10, metadata: this.opts.metadata,
    });
  }

  private async beat(): Promise<void> {
    try {
      await this.client.heartbeat(this.workerId);
    } catch (e) {
      if (e instanceof FailedPrecondition || e instanceof NotFound) {
        //  Declared lost (its claims went back): register again.
        this.emit("lost");
        if (!this.stopping) await this.register().catch((e2) => this.emit("problem", e2));
      } else this.emit("problem", e);
    }
  }

  private async loop(): Promise<void> {
    const onSignal = () => this.stop();
    const signals = this.opts.handleSignals ?? true;
    if (signals) {
      process.on("SIGTERM", onSignal);
      process.on("SIGINT", onSignal);
    }
    try {
      await this.register();
      const interval = (this.opts.heartbeatInterval ?? 10) * 1000;
      this.heartbeatTimer = setInterval(() => void this.beat(), interval);
      if ((this.opts.credit ?? 0) > 0) await this.streamLoop();
      while (!this.stopping && !((this.opts.credit ?? 0) > 0)) {
        const item = await this.claimOne();
        if (item) await this.handle(item);
      }
    } finally {
      clearInterval(this.heartbeatTimer);
      if (signals) {
        process.off("SIGTERM", onSignal);
        process.off("SIGINT", onSignal);
      }
      //  (replaced: the newer subscription holds these items now)
      if (!this.replaced) await this.pool.releaseByWorker(this.workerId).catch((e) => this.emit("problem", e));
      await this.client.updateStatus(this.workerId, "terminated").catch((e) => this.emit("problem", e));
      if (this.ownsClient) await this.client.close();
    }
  }

  //  credit > 0: items from a subscription, acks pipelined
  private async streamLoop(): Promise<void> {
    while (!this.stopping) {
      let sub: Subscription<T>;
      try {
        sub = this.pool.subscribe<T>(this.workerId, { credit: this.opts.credit!, lease: this.opts.lease });
      } catch (e) {
        this.stopping = true;
        throw e;
      }
      try {
        while (!this.stopping) {
          let item: Item<T> | null;
          try {
            item = await sub.next(Math.min(this.opts.wait ?? 1, 1));
          } catch (e) {
            if (e instanceof Cancelled) {
              //  replaced by another subscription of this worker id
              this.replaced = true;
              this.stopping = true;
              throw e;
            }
            if (e instanceof FailedPrecondition || e instanceof NotFound) {
              this.emit("lost");
              await this.register().catch((e2) => this.emit("problem", e2));
            } else {
              this.emit("problem", e);
              if (!this.stopping) await new Promise((r) => setTimeout(r, 250));
            }
            break;
          }
          if (item) this.handleStreamed(sub, await this.settle(item));
          else if (sub.ended) break;
          this.count(sub.takeOutcomes());
        }
      } finally {
        await sub.close().catch((e) => this.emit("problem", e));
        this.count(sub.takeOutcomes());
      }
    }
  }

  //  The handler's verdict on item: [item, result] or [item, undefined, error]
  private async settle(item: Item<T>): Promise<[Item<T>, unknown, unknown?, boolean?]> {
    try {
      return [item, await this.opts.handler(item.data, item)];
    } catch (e) {
      return [item, undefined, e, true];
    }
  }

  private handleStreamed(sub: Subscription<T>, [item, result, error, failed]: [Item<T>, unknown, unknown?, boolean?]): void {
    if (failed) {
      const later = error instanceof RetryLater;
      const text = later ? error.message : error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      sub.fail(item, text, { retryAfter: later ? error.after : undefined });
      this.outcomeOf.set(item.id, [item, error]);
      return;
    }
    try {
      sub.complete(item, result);
      this.outcomeOf.set(item.id, [item, undefined]);
    } catch (e) {
      //  The result has no msgpack form (a function, a symbol...)
      sub.fail(item, `result cannot be sent: ${(e as Error).message}`);
      this.outcomeOf.set(item.id, [item, e]);
    }
  }

  /** item id -> [item, the handler's error] of acks in flight */
  private readonly outcomeOf = new Map<string, [Item<T>, unknown]>();

  private count(outcomes: AckOutcome[]): void {
    for (const o of outcomes) {
      const [item, error] = this.outcomeOf.get(o.id) ?? [undefined, undefined];
      this.outcomeOf.delete(o.id);
      if (o.error) this.emit("problem", o.error, item);
      else if (o.verb === "fail") {
        this.counts.failed++;
        this.emit("failed", item, error);
      } else {
        this.counts.completed++;
        this.emit("completed", item);
      }
    }
  }

  private async claimOne(): Promise<Item<T> | null> {
    try {
      return await this.pool.claim<T>(this.workerId, { wait: this.opts.wait ?? 5, lease: this.opts.lease });
    } catch (e) {
      if (e instanceof Cancelled) {
        //  the client was closed under the worker
        this.stopping = true;
        return null;
      }
      if (e instanceof FailedPrecondition) await this.register().catch(() => undefined);
      this.emit("problem", e);
      //  The broker is away or refused: try again shortly, not in a spin.
      if (!this.stopping) await new Promise((r) => setTimeout(r, 250));
      return null;
    }
  }

  private async handle(item: Item<T>): Promise<void> {
    let result: unknown;
    try {
      result = await this.opts.handler(item.data, item);
    } catch (e) {
      const later = e instanceof RetryLater;
      const text = later ? e.message : e instanceof Error ? `${e.name}: ${e.message}` : String(e);
      try {
        await this.pool.fail(item.id, text, { workerId: this.workerId, retryAfter: later ? e.after : undefined });
        this.counts.failed++;
        this.emit("failed", item, e);
      } catch (e2) {
        this.emit("problem", e2, item);
      }
      return;
    }
    try {
      await this.pool.complete(item.id, result, { workerId: this.workerId });
      this.counts.completed++;
      this.emit("completed", item);
    } catch (e) {
      //  FailedPrecondition: the claim lapsed or the worker was declared
      //  lost, and the item went to another: this result is not wanted.
      if (e instanceof WorkpoolError) this.emit("problem", e, item);
      else {
        //  The result has no msgpack form (a function, a symbol...)
        await this.pool.fail(item.id, `result cannot be sent: ${(e as Error).message}`,
          { workerId: this.workerId }).catch((e2) => this.emit("problem", e2, item));
        this.counts.failed++;
        this.emit("failed", item, e);
      }
    }
  }
}
