/*  connection: one DEALER socket to a broker, many requests in flight on
    it, each matched to its reply by request id, each with its deadline,
    and resent on silence only when the caller says a resend is harmless.

    Sending. zeromq allows one blocking send at a time, so requests wait in
    a queue and one pump sends them. With ZMQ_IMMEDIATE a request goes out
    only while a connection is up; the pump tries each without blocking
    first (the usual case costs no option change) and, when no connection
    takes it, blocks at most until that request's deadline, so a request
    the caller gave up on is never sent late.

    Closing. close() fails every request in flight with CANCELLED, stops
    every timer and closes the socket; nothing is left to keep the process
    alive.  */
import * as zmq from "zeromq";
import { Cancelled, DeadlineExceeded, Internal, Unauthenticated, Unavailable, WorkpoolError } from "./errors.js";
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

export interface CallOptions {
  /** milliseconds from now */
  timeoutMs: number;
  /** harmless to send twice (PROTOCOL.md 7, "Retries") */
  resend: boolean;
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
  sends: number;
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
  readonly endpoint: string;
  private readonly sock: zmq.Dealer;
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
    this.endpoint = endpoint;
    this.retryIntervalMs = options.retryIntervalMs;
    this.watchDisconnects = options.watchDisconnects ?? false;
    this.sock = new zmq.Dealer({
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
    if (options.curve || this.watchDisconnects) void this.watchHandshakes();
    this.sock.connect(endpoint);
    void this.receiveLoop();
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
        totalMs: options.timeoutMs, resend: options.resend, sends: 0, queued: false, done: false,
        resolve, reject,
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
        totalMs: options.timeoutMs, resend: false, sends: 0, queued: false, done: false,
        resolve, reject, stream: onReply, streamTimeoutMs: options.streamTimeoutMs,
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
    try {
      await this.sock.send(this.frames(call));
    } catch (e) {
      if (this.closed || call.done) return;
      if ((e as { code?: string }).code !== "EAGAIN") return this.sendFailed(call, e);
      //  No connection takes it now: wait for one, up to the deadline.
      const left = Math.ceil(call.deadline - now());
      if (left <= 0) return;
      this.sock.sendTimeout = left;
      try {
        await this.sock.send(this.frames(call));
      } catch (e2) {
        if (this.closed || call.done) return;
        if ((e2 as { code?: string }).code !== "EAGAIN") return this.sendFailed(call, e2);
        return;     //  the deadline timer reports it
      } finally {
        if (!this.closed) this.sock.sendTimeout = 0;
      }
    }
    if (call.done) return;
    call.sends++;
    if (call.stream) clearTimeout(call.deadlineTimer);
    if (call.resend) {
      clearTimeout(call.resendTimer);
      call.resendTimer = setTimeout(() => this.enqueue(call), this.retryIntervalMs);
    }
  }

  private sendFailed(call: Call, e: unknown): void {
    this.finish(call, undefined,
      new Internal(`cannot send ${call.method} to ${this.endpoint}: ${(e as Error).message}`));
  }

  private expire(call: Call): void {
    if (call.done) return;
    const secs = +(call.totalMs / 1000).toPrecision(3);
    const why = this.handshakeError ? ` (${this.handshakeError})` : "";
    const auth = this.handshakeError.startsWith("CURVE authentication failed");
    this.finish(call, undefined, call.sends === 0
      ? auth
        ? new Unauthenticated(`the broker at ${this.endpoint} refused this client's key within ${secs} s${why}`)
        : new Unavailable(`no broker reachable at ${this.endpoint} within ${secs} s${why}`)
      : new DeadlineExceeded(`no reply to ${call.method} from ${this.endpoint} within ${secs} s${why}`));
  }

  private finish(call: Call, reply: RawReply | undefined, error?: WorkpoolError): void {
    if (call.done) return;
    call.done = true;
    clearTimeout(call.deadlineTimer);
    clearTimeout(call.resendTimer);
    this.calls.delete(call.id);
    if (call.onAbort) call.signal!.removeEventListener("abort", call.onAbort);
    if (error) call.reject(error);
    else call.resolve(reply!);
  }

  private async receiveLoop(): Promise<void> {
    try {
      for await (const frames of this.sock) {
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
      if (this.closed) return;
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
  private async watchHandshakes(): Promise<void> {
    const observer = this.sock.events;
    this.observer = observer;
    try {
      for await (const ev of observer) {
        const why = "error" in ev && ev.error ? `: ${ev.error.message}` : "";
        if (ev.type === "handshake:error:auth") this.handshakeError = `CURVE authentication failed${why}`;
        else if (ev.type === "handshake:error:protocol") this.handshakeError = `CURVE handshake failed${why}`;
        else if (ev.type === "handshake:error:other") this.handshakeError = `handshake failed${why}`;
        else if (ev.type === "handshake") this.handshakeError = "";
        else if (ev.type === "disconnect" && this.watchDisconnects) this.dropStreams();
      }
    } catch {
      //  the socket closed under the observer
    }
  }
}
