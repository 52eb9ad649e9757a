/*  connection: one DEALER socket to a broker, many requests in flight on
    it, each matched to its reply by request id, each with its deadline,
    and resent on silence only when the caller says a resend is harmless.

    Sending. zeromq allows one blocking send at a time, so requests wait in
    a queue and one pump sends them. With ZMQ_IMMEDIATE a request goes out
    only while a connection is up; the pump tries each without blocking
    first (the usual case costs no option change) and, when no connection
    takes it, blocks at most until that request's deadline, so a request
    the caller gave up on is never sent late.

    Failover (FAILOVER.md). The endpoint may list several brokers, comma-
    separated; one is used at a time. When it stops answering (a reply
    later than the retry interval, a parked claim's wait on top, or no
    connection within the retry interval) the socket is replaced by one to
    the next listed (round robin); safe requests sent on the old one go out
    again on the new one, the others never (they end at their deadline),
    and streams sent on it end UNAVAILABLE (their owner subscribes again).

    Closing. close() fails every request in flight with CANCELLED, stops
    every timer and closes the socket; nothing is left to keep the process
    alive.  */
import * as zmq from "zeromq";
import { Cancelled, DeadlineExceeded, Internal, InvalidArgument, Unauthenticated, Unavailable, WorkpoolError } from "./errors.js";
import { decodeReplyHeader, encodeRequestHeader } from "./schema.js";

export interface CurveKeys {
  /** the broker's public key, Z85 (40 characters) */
  serverKey: string;
  /** this client's key pair, Z85 */
  publicKey: string;
  secretKey: string;
}

export interface ConnectionOptions {
  curve?: CurveKeys;
  /** watch the socket's connection: a dropped one ends the streams on it */
  watchDisconnects?: boolean;
  /** milliseconds without a reply before a safe request is sent again */
  retryIntervalMs: number;
}

const SCHEMES = ["tcp", "ipc", "inproc", "ws", "wss"];

/** The brokers of an endpoint string: one, or several comma-separated
 *  (whitespace around commas ignored). INVALID_ARGUMENT names an empty
 *  element or an unknown scheme. */
export function parseEndpoints(endpoint: string): string[] {
  if (typeof endpoint !== "string" || endpoint === "") throw new InvalidArgument("an endpoint is required");
  if (!endpoint.includes(",")) return [endpoint];
  return endpoint.split(",").map((raw, n) => {
    const e = raw.trim();
    if (e === "") throw new InvalidArgument(`endpoint list '${endpoint}': element ${n + 1} is empty`);
    const at = e.indexOf("://");
    if (at < 0 || !SCHEMES.includes(e.slice(0, at)))
      throw new InvalidArgument(`endpoint list '${endpoint}': '${e}' has no known scheme (${SCHEMES.join(", ")})`);
    return e;
  });
}

export interface CallOptions {
  /** milliseconds from now */
  timeoutMs: number;
  /** harmless to send twice (PROTOCOL.md 7, "Retries") */
  resend: boolean;
  /** milliseconds the broker may hold it as asked (a claim's wait): not late before */
  waitMs?: number;
  metadata?: Record<string, string>;
  /** aborting fails the call with CANCELLED */
  signal?: AbortSignal;
}

/** The broker's answer to one request. */
export interface RawReply {
  status: number;
  message: string;
  body: Uint8Array;
  /** the request went out more than once */
  resent: boolean;
}

interface Call {
  id: number;
  /** a stream (one request, many replies): each reply goes here; it says
   *  whether that one was the last. Its header carries streamTimeoutMs. */
  stream?: (r: RawReply) => boolean;
  streamTimeoutMs?: number;
  method: string;
  body: Uint8Array;
  metadata?: Record<string, string>;
  deadline: number;
  totalMs: number;
  resend: boolean;
  waitMs: number;
  sends: number;
  /** the socket it last went out on (Connection.gen) */
  gen: number;
  lateTimer?: NodeJS.Timeout;
  queued: boolean;
  done: boolean;
  deadlineTimer?: NodeJS.Timeout;
  resendTimer?: NodeJS.Timeout;
  signal?: AbortSignal;
  onAbort?: () => void;
  resolve: (r: RawReply) => void;
  reject: (e: WorkpoolError) => void;
}

const now = () => performance.now();

export class Connection {
  /** every endpoint listed */
  readonly endpoints: string[];
  private index = 0;
  /** how often it moved to the next listed broker */
  moves = 0;
  /** sockets replaced so far */
  private gen = 0;
  private sock!: zmq.Dealer;
  private readonly options: ConnectionOptions;
  private readonly retryIntervalMs: number;
  private readonly calls = new Map<number, Call>();
  private readonly queue: Call[] = [];
  private pumping = false;
  private closed = false;
  private nextId = 1;
  /** why the last handshake failed (CURVE), for the UNAVAILABLE message */
  private handshakeError = "";
  private observer?: zmq.Observer;
  private readonly watchDisconnects: boolean;

  constructor(endpoint: string, options: ConnectionOptions) {
    this.endpoints = parseEndpoints(endpoint);
    this.options = options;
    this.retryIntervalMs = options.retryIntervalMs;
    this.watchDisconnects = options.watchDisconnects ?? false;
    this.open();
  }

  /** The endpoint in use. */
  get endpoint(): string {
    return this.endpoints[this.index];
  }

  private get many(): boolean {
    return this.endpoints.length > 1;
  }

  /** What the errors name: the one endpoint, or the list. */
  private get where(): string {
    return this.many ? this.endpoints.join(",") : this.endpoint;
  }

  private open(): void {
    const options = this.options;
    const sock = new zmq.Dealer({
      linger: 0,
      immediate: true,
      sendTimeout: 0,
      ...(options.curve
        ? {
          curveServerKey: options.curve.serverKey,
          curvePublicKey: options.curve.publicKey,
          curveSecretKey: options.curve.secretKey,
        }
        : {}),
    });
    this.sock = sock;
    this.handshakeError = "";
    if (options.curve || this.watchDisconnects) void this.watchHandshakes(sock);
    try {
      sock.connect(this.endpoint);
    } catch (e) {
      sock.close();
      if (!this.many) throw e;    //  one endpoint: as it always was
      throw new InvalidArgument(`cannot connect to '${this.endpoint}': ${(e as Error).message}`);
    }
    void this.receiveLoop(sock);
  }

  /** Leaves the broker in use for the next listed one (FAILOVER.md): safe
   *  requests sent there go out again here, streams sent there end. */
  private move(): void {
    if (this.closed) return;
    const old = this.sock, oldObserver = this.observer;
    this.observer = undefined;
    this.index = (this.index + 1) % this.endpoints.length;
    this.moves++;
    this.gen++;
    this.open();
    oldObserver?.close();
    old.close();
    for (const call of [...this.calls.values()]) {
      if (call.sends === 0 || call.done) continue;
      if (call.stream) {
        this.finish(call, undefined,
          new Unavailable(`${call.method}: the client moved to ${this.endpoint}: the stream ended`));
      } else if (call.resend) {
        clearTimeout(call.resendTimer);
        this.enqueue(call);
      }
      //  else: never resent; it ends at its deadline
    }
  }

  /** A stream's connection to endpoint was lost: move if this connection
   *  still uses it, so a subscribe made again goes elsewhere. */
  suspect(endpoint: string): void {
    if (!this.closed && this.many && this.endpoint === endpoint) this.move();
  }

  /** Requests sent and not yet answered or given up. */
  get inFlight(): number {
    return this.calls.size;
  }

  /** Sends method's encoded body; resolves with the reply (any status),
   *  rejects with UNAVAILABLE if no connection took the request within the
   *  deadline, DEADLINE_EXCEEDED if it went out and no reply came,
   *  CANCELLED if the connection was closed. */
  call(method: string, body: Uint8Array, options: CallOptions): Promise<RawReply> {
    if (this.closed) return Promise.reject(new Cancelled(`${method}: the client is closed`));
    if (options.signal?.aborted) return Promise.reject(new Cancelled(`${method}: aborted`));
    return new Promise<RawReply>((resolve, reject) => {
      const id = this.nextId;
      this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
      const call: Call = {
        id, method, body, metadata: options.metadata, deadline: now() + options.timeoutMs,
        totalMs: options.timeoutMs, resend: options.resend, waitMs: options.waitMs ?? 0, sends: 0,
        gen: -1, queued: false, done: false, resolve, reject,
      };
      call.deadlineTimer = setTimeout(() => this.expire(call), options.timeoutMs);
      if (options.signal) {
        call.signal = options.signal;
        call.onAbort = () => this.finish(call, undefined, new Cancelled(`${method}: aborted`));
        options.signal.addEventListener("abort", call.onAbort, { once: true });
      }
      this.calls.set(id, call);
      this.enqueue(call);
    });
  }

  /** Sends a stream's request once: onReply gets every reply with its id
   *  and returns true for the final one. Resolves when the final reply came
   *  (with it); rejects UNAVAILABLE if no connection took the request
   *  within timeoutMs (or the connection carrying it dropped), CANCELLED if
   *  closed. streamTimeoutMs goes in the header (0: no deadline). */
  stream(method: string, body: Uint8Array, options: CallOptions & { streamTimeoutMs: number },
    onReply: (r: RawReply) => boolean): Promise<RawReply> {
    if (this.closed) return Promise.reject(new Cancelled(`${method}: the client is closed`));
    return new Promise<RawReply>((resolve, reject) => {
      const id = this.nextId;
      this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
      const call: Call = {
        id, method, body, metadata: options.metadata, deadline: now() + options.timeoutMs,
        totalMs: options.timeoutMs, resend: false, waitMs: 0, sends: 0, gen: -1, queued: false,
        done: false, resolve, reject, stream: onReply, streamTimeoutMs: options.streamTimeoutMs,
      };
      //  Until it is sent: then it lasts until its final reply
      call.deadlineTimer = setTimeout(() => this.expire(call), options.timeoutMs);
      this.calls.set(id, call);
      this.enqueue(call);
    });
  }

  /** Fails every call in flight with CANCELLED and closes the socket. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const call of [...this.calls.values()])
      this.finish(call, undefined, new Cancelled(`${call.method}: the client was closed`));
    this.queue.length = 0;
    this.observer?.close();
    this.sock.close();
  }

  private enqueue(call: Call): void {
    if (call.queued || call.done) return;
    call.queued = true;
    this.queue.push(call);
    if (!this.pumping) void this.pump();
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const call = this.queue.shift()!;
        call.queued = false;
        if (call.done) continue;
        await this.sendOne(call);
      }
    } finally {
      this.pumping = false;
    }
  }

  private frames(call: Call): [Uint8Array, Uint8Array] {
    const left = Math.max(1, Math.ceil(call.deadline - now()));
    return [encodeRequestHeader({
      requestId: call.id, method: call.method,
      timeoutMs: call.stream ? call.streamTimeoutMs ?? 0 : Math.min(left, 0xffffffff),
      metadata: call.metadata,
    }), call.body];
  }

  private async sendOne(call: Call): Promise<void> {
    const sock = this.sock, gen = this.gen;
    //  a send failing because a move closed its socket: try the new one
    const moved = () => gen !== this.gen && !this.closed && !call.done;
    try {
      await sock.send(this.frames(call));
    } catch (e) {
      if (this.closed || call.done) return;
      if (moved()) return this.enqueue(call);
      if ((e as { code?: string }).code !== "EAGAIN") return this.sendFailed(call, e);
      //  No connection takes it now: wait for one, up to the deadline
      //  (several brokers: up to the retry interval, then the next one).
      const left = Math.ceil(call.deadline - now());
      if (left <= 0) return;
      sock.sendTimeout = this.many ? Math.max(1, Math.min(left, this.retryIntervalMs)) : left;
      try {
        await sock.send(this.frames(call));
      } catch (e2) {
        if (this.closed || call.done) return;
        if (moved()) return this.enqueue(call);
        if ((e2 as { code?: string }).code !== "EAGAIN") return this.sendFailed(call, e2);
        if (this.many && call.deadline - now() > 0) {
          this.move();            //  no connection within the retry interval
          this.enqueue(call);
        }
        return;     //  the deadline timer reports it
      } finally {
        if (!this.closed && gen === this.gen) sock.sendTimeout = 0;
      }
    }
    if (call.done) return;
    if (moved()) return this.enqueue(call);
    call.sends++;
    call.gen = gen;
    if (call.stream) clearTimeout(call.deadlineTimer);
    if (call.resend) {
      clearTimeout(call.resendTimer);
      call.resendTimer = setTimeout(() => {
        if (this.many && call.gen === this.gen) this.move();    //  late: the next broker
        else this.enqueue(call);
      }, this.retryIntervalMs + (this.many ? call.waitMs : 0));
    } else if (this.many && !call.stream) {
      //  Late past its wait and the retry interval: move (it is not resent)
      clearTimeout(call.lateTimer);
      call.lateTimer = setTimeout(() => {
        if (call.gen === this.gen) this.move();
      }, this.retryIntervalMs + call.waitMs);
    }
  }

  private sendFailed(call: Call, e: unknown): void {
    this.finish(call, undefined,
      new Internal(`cannot send ${call.method} to ${this.where}: ${(e as Error).message}`));
  }

  private expire(call: Call): void {
    if (call.done) return;
    const secs = +(call.totalMs / 1000).toPrecision(3);
    const why = this.handshakeError ? ` (${this.handshakeError})` : "";
    const auth = this.handshakeError.startsWith("CURVE authentication failed");
    this.finish(call, undefined, call.sends === 0
      ? auth
        ? new Unauthenticated(`the broker at ${this.where} refused this client's key within ${secs} s${why}`)
        : new Unavailable(`no broker reachable at ${this.where} within ${secs} s${why}`)
      : new DeadlineExceeded(`no reply to ${call.method} from ${this.where} within ${secs} s${why}`));
  }

  private finish(call: Call, reply: RawReply | undefined, error?: WorkpoolError): void {
    if (call.done) return;
    call.done = true;
    clearTimeout(call.deadlineTimer);
    clearTimeout(call.resendTimer);
    clearTimeout(call.lateTimer);
    this.calls.delete(call.id);
    if (call.onAbort) call.signal!.removeEventListener("abort", call.onAbort);
    if (error) call.reject(error);
    else call.resolve(reply!);
  }

  private async receiveLoop(sock: zmq.Dealer): Promise<void> {
    try {
      for await (const frames of sock) {
        if (frames.length !== 2) continue;
        let head;
        try {
          head = decodeReplyHeader(frames[0]);
        } catch {
          continue;             //  not a reply we can read: nobody to tell
        }
        const call = this.calls.get(head.requestId);
        if (!call) continue;    //  the answer to a request given up on
        //  A plain Uint8Array view, so the bins decoded from it are too
        const body = new Uint8Array(frames[1].buffer, frames[1].byteOffset, frames[1].byteLength);
        const reply = { status: head.status, message: head.message, body, resent: call.sends > 1 };
        if (call.stream && !call.stream(reply)) continue;
        this.finish(call, reply);
      }
    } catch (e) {
      if (this.closed || sock !== this.sock) return;     //  closed, or left by a move
      const err = new Internal(`cannot receive from ${this.endpoint}: ${(e as Error).message}`);
      for (const call of [...this.calls.values()]) this.finish(call, undefined, err);
    }
  }

  //  A stream lives on its connection: the broker ends it, without a word,
  //  when it sees the connection close.
  private dropStreams(): void {
    for (const call of [...this.calls.values()])
      if (call.stream && call.sends > 0)
        this.finish(call, undefined,
          new Unavailable(`the connection to ${this.endpoint} was lost: ${call.method} ended`));
  }

  //  CURVE failures show only as handshake events; keep the latest so a
  //  call that times out can say authentication failed. (Not the
  //  observer's emitter mode: its loop has no catch, and closing rejects it.)
  private async watchHandshakes(sock: zmq.Dealer): Promise<void> {
    //  zeromq.js names a socket's monitor after the socket's address, and a
    //  new socket at a just-closed one's address can find the name still
    //  bound (EADDRINUSE, zeromq/zeromq.js#716): try again shortly; without a
    //  monitor the connection still works (handshake refusals then show at
    //  the deadline, lost connections by the missing replies)
    let observer: zmq.Observer | undefined;
    for (let attempt = 0; !observer; attempt++) {
      if (this.closed || sock.closed) return;
      try {
        observer = sock.events;
      } catch {
        if (attempt >= 50) return;
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    if (sock !== this.sock) {       //  moved to another broker meanwhile
      observer.close();
      return;
    }
    this.observer = observer;
    try {
      for await (const ev of observer) {
        const why = "error" in ev && ev.error ? `: ${ev.error.message}` : "";
        if (ev.type === "handshake:error:auth") this.handshakeError = `CURVE authentication failed${why}`;
        else if (ev.type === "handshake:error:protocol") this.handshakeError = `CURVE handshake failed${why}`;
        else if (ev.type === "handshake:error:other") this.handshakeError = `handshake failed${why}`;
        else if (ev.type === "handshake") this.handshakeError = "";
        else if (ev.type === "disconnect" && this.watchDisconnects && sock === this.sock) this.dropStreams();
      }
    } catch {
      //  the socket closed under the observer
    }
  }
}
