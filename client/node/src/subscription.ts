/*  subscription: a streaming claim (WorkPool.Subscribe) on a socket of its
    own, so the client's other calls are unaffected.

        const sub = pool.subscribe("w1", { credit: 64 });
        for await (const item of sub) {
          sub.complete(item, await work(item.data));   // sent at once, reply not awaited
          for (const o of sub.takeOutcomes()) if (o.code !== 0) console.warn(o);
        }
        const left = await sub.close();                // unsubscribe; left: streamed, not handed out

    The broker claims items for the worker as they become claimable and
    streams them, at most `credit` unacknowledged; each complete / fail /
    completeMany entry given back returns its credit. Acks are pipelined:
    they are sent and their promises kept; each reply becomes an AckOutcome
    kept until takeOutcomes() (or flush(), close()) hands it over, so none is
    lost. They follow the client's resend rules for Complete / Fail with a
    worker id (resent on a late reply; a refused resend checked with a Get).

    The stream ends with one final message: OK end (after close() or an
    Unsubscribe from anywhere: iteration stops) or an error, thrown by
    next() / the iterator as its class: Cancelled (replaced by a newer
    subscription of the worker on the pool), FailedPrecondition (the worker
    was declared lost), DeadlineExceeded (streamTimeout), Unauthenticated /
    PermissionDenied, Unavailable (the broker is stopping, or the
    connection dropped). Items streamed before the end are handed out
    first. Items never handed out stay claimed by the worker, as every
    claimed item does: complete, fail or releaseByWorker them.  */
import { Client, Raw, type CallOptions } from "./client.js";
import { Cancelled, DeadlineExceeded, Internal, InvalidArgument, StatusCode, Unavailable, WorkpoolError, errorFor } from "./errors.js";
import type { FailStatus, Item } from "./records.js";
import type { RawReply } from "./connection.js";
import { decodeReplyBody } from "./schema.js";
import { packValue } from "./wire.js";
import { Limits } from "./limits.js";

export interface SubscribeOptions extends CallOptions {
  /** items streamed and not yet acknowledged, at most (1..1000) */
  credit: number;
  /** seconds each streamed item's claim holds; the broker's default */
  lease?: number;
  /** seconds the stream may last (its timeout_ms): it then ends
   *  DEADLINE_EXCEEDED; without it, until it is ended */
  streamTimeout?: number;
}

/** How one acknowledgement went. code 0: OK; FAILED_PRECONDITION: the claim
 *  had lapsed or gone to another (the credit came back all the same). */
export interface AckOutcome {
  verb: "complete" | "fail" | "completeMany";
  id: string;
  code: number;
  message: string;
  /** a Fail's new state */
  status?: FailStatus;
  /** the error, when code is not 0 */
  error?: WorkpoolError;
}

type Final = { end: true } | { error: WorkpoolError };

export class Subscription<T = unknown> implements AsyncIterable<Item<T>> {
  readonly pool: string;
  readonly workerId: string;
  readonly credit: number;
  /** items streamed to it so far */
  received = 0;
  private readonly client: Client;
  private readonly items: Item<T>[] = [];
  private final?: Final;
  private wake?: () => void;
  private readonly acks = new Set<Promise<void>>();
  private readonly outcomes: AckOutcome[] = [];
  private readonly ended$: Promise<RawReply | void>;
  private closed = false;

  constructor(parent: Client, pool: string, workerId: string, options: SubscribeOptions) {
    this.pool = pool;
    this.workerId = workerId;
    this.credit = options.credit;
    const credit = options.credit as unknown;
    if (typeof credit !== "number" || !Number.isInteger(credit) || credit < 1 || credit > Limits.WP_CREDIT_MAX)
      throw new InvalidArgument(`field 'credit' must be an unsigned integer from 1 to ${Limits.WP_CREDIT_MAX}`);
    const st = options.streamTimeout;
    if (st !== undefined && !(typeof st === "number" && st > 0 && st * 1000 <= 0xffffffff))
      throw new InvalidArgument("streamTimeout must be a number of seconds > 0");
    //  On the endpoint the parent uses; a lost connection moves the parent
    //  on (failover), so a subscribe made again goes to the next broker
    const endpoint = parent.endpoint;
    this.client = new Client(endpoint, { ...parent.options, watchDisconnects: true });
    try {
      this.ended$ = this.client.stream("WorkPool.Subscribe", {
        pool, worker_id: workerId, credit: options.credit, lease_seconds: options.lease,
      }, st === undefined ? 0 : Math.ceil(st * 1000), (r) => this.onReply(r), options).then(
        () => undefined,
        (e: WorkpoolError) => {
          if (e instanceof Unavailable) parent.suspect(endpoint);
          return this.setFinal({ error: e });
        });
    } catch (e) {
      void this.client.close();
      throw e;
    }
  }

  /** The final message came (or the connection dropped). */
  get ended(): boolean {
    return this.final !== undefined;
  }

  /** What ended the stream; undefined while open and after an OK end. */
  get error(): WorkpoolError | undefined {
    return this.final && "error" in this.final ? this.final.error : undefined;
  }

  /** Acks sent and not yet answered. */
  get pendingAcks(): number {
    return this.acks.size;
  }

  // -------------------------------------------------------------------
  // Items

  /** The next item; null at the OK end, or when none came within timeout
   *  seconds (undefined: wait). Throws what ended the stream, once the
   *  items before it are handed out. */
  async next(timeout?: number): Promise<Item<T> | null> {
    const deadline = timeout === undefined ? undefined : performance.now() + timeout * 1000;
    for (;;) {
      if (this.items.length > 0) return this.items.shift()!;
      if (this.final) {
        if ("end" in this.final) return null;
        throw this.final.error;
      }
      const left = deadline === undefined ? undefined : deadline - performance.now();
      if (left !== undefined && left <= 0) return null;
      await new Promise<void>((resolve) => {
        const timer = left === undefined ? undefined : setTimeout(resolve, left);
        this.wake = () => { clearTimeout(timer); resolve(); };
      });
      this.wake = undefined;
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Item<T>> {
    for (;;) {
      const item = await this.next();
      if (item === null) return;
      yield item;
    }
  }

  private onReply(r: RawReply): boolean {
    if (this.final) return true;
    if (r.status !== StatusCode.OK) {
      this.setFinal({ error: errorFor(r.status, r.message) });
      return true;
    }
    let body;
    try {
      body = decodeReplyBody("WorkPool.Subscribe", r.body);
    } catch (e) {
      this.setFinal({ error: new Internal(`malformed stream message: ${(e as Error).message}`) });
      return true;
    }
    const items = body.items as unknown[];
    this.received += items.length;
    for (const it of items) this.items.push(this.client.item<T>(it));
    if (body.end === true) {
      this.setFinal({ end: true });
      return true;
    }
    this.wake?.();
    return false;
  }

  private setFinal(f: Final): void {
    this.final ??= f;
    this.wake?.();
  }

  // -------------------------------------------------------------------
  // Acks

  /** Acknowledges item (an Item or its id) done with result, without
   *  waiting (its outcome comes later). A result with no msgpack form
   *  throws here, and nothing is sent. */
  complete(item: Item<T> | string, result?: unknown): void {
    const id = typeof item === "string" ? item : item.id;
    const packed = result === undefined ? undefined : result instanceof Raw ? result : new Raw(packValue(result));
    this.track("complete", [id], this.client.pool(this.pool).complete(id, packed, { workerId: this.workerId })
      .then(() => [{ code: 0, message: "" }]));
  }

  /** Acknowledges item failed (error text; retryAfter seconds), without waiting. */
  fail(item: Item<T> | string, error?: string, options: { retryAfter?: number } = {}): void {
    const id = typeof item === "string" ? item : item.id;
    this.track("fail", [id], this.client.pool(this.pool).fail(id, error,
      { workerId: this.workerId, retryAfter: options.retryAfter })
      .then((status) => [{ code: 0, message: "", status }]));
  }

  /** Acknowledges several items in one CompleteMany; one outcome each. */
  completeMany(entries: Array<Item<T> | string | { id: string; result?: unknown }>): void {
    const list = entries.map((e) => typeof e === "string" ? { id: e }
      : "status" in e ? { id: e.id } : { id: e.id, result: e.result === undefined || e.result instanceof Raw
        ? e.result : new Raw(packValue(e.result)) });
    this.track("completeMany", list.map((e) => e.id),
      this.client.pool(this.pool).completeMany(list, { workerId: this.workerId }));
  }

  private track(verb: AckOutcome["verb"], ids: string[],
    p: Promise<Array<{ code: number; message: string; status?: FailStatus }>>): void {
    if (this.closed) throw new Unavailable("the subscription is closed");
    const done: Promise<void> = p.then((rs) => {
      rs.forEach((r, i) => this.outcomes.push({
        verb, id: ids[i], code: r.code, message: r.message,
        ...(r.status ? { status: r.status } : {}),
        ...(r.code !== 0 ? { error: errorFor(r.code, r.message) } : {}),
      }));
    }, (e: unknown) => {
      const err = e instanceof WorkpoolError ? e : new Internal(`${verb}: ${(e as Error).message}`);
      for (const id of ids) this.outcomes.push({ verb, id, code: err.code, message: err.message, error: err });
    }).finally(() => { this.acks.delete(done); });
    this.acks.add(done);
  }

  /** The outcomes of the acks answered since the last call. */
  takeOutcomes(): AckOutcome[] {
    return this.outcomes.splice(0);
  }

  /** Waits until every ack in flight is answered; returns takeOutcomes(). */
  async flush(): Promise<AckOutcome[]> {
    while (this.acks.size > 0) await Promise.all([...this.acks]);
    return this.takeOutcomes();
  }

  /** Unsubscribes, waits for the final message and the acks in flight,
   *  closes the socket. Resolves to the items streamed and not handed out
   *  (still claimed by the worker). Safe twice. */
  async close(options: CallOptions = {}): Promise<Item<T>[]> {
    if (this.closed) return [];
    try {
      if (!this.final) {
        try {
          await this.client.pool(this.pool).unsubscribe(this.workerId, options);
        } catch (e) {
          if (!this.final) throw e;
        }
        //  The final message comes before Unsubscribe's reply
        if (!this.final) {
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([this.ended$, new Promise((r) => {
            timer = setTimeout(r, (options.timeout ?? this.client.options.timeout ?? 30) * 1000);
          })]);
          clearTimeout(timer);
          if (!this.final) throw new DeadlineExceeded(`no final message of the subscription of ${this.workerId} on ${this.pool}`);
        }
      }
      await this.flush();
    } finally {
      this.closed = true;
      this.setFinal({ error: new Cancelled("the subscription was closed") });
      await this.client.close();
    }
    return this.items.splice(0);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
