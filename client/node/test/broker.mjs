//  A real workpoold for the tests: its own temp directory (ipc endpoint,
//  SQLite file), ready once it answers a ping, stopped by stop().
//  WP_WORKPOOLD names the binary (ctest passes the build's).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, existsSync, readFileSync, openSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { Client, WorkpoolError, Unavailable, DeadlineExceeded } from "../dist/esm/index.js";

const here = dirname(fileURLToPath(import.meta.url));

/** The broker binary: $WP_WORKPOOLD, else a build of this source tree, else /work/main's. */
export function workpooldPath() {
  const candidates = [
    process.env.WP_WORKPOOLD,
    resolve(here, "../../../build/broker/workpoold"),
  ].filter(Boolean);
  for (const c of candidates) if (existsSync(c)) return c;
  throw new Error("no workpoold: set WP_WORKPOOLD to the broker binary");
}

export class Broker {
  //  probe: the client options of the readiness ping (CURVE keys)
  constructor({ args = [], tcp = false, store = process.env.WP_TEST_STORE ?? "sqlite", dir, probe = {} } = {}) {
    this.probe = probe;
    this.dir = dir ?? mkdtempSync(join(tmpdir(), "wp-node-"));
    this.ownsDir = !dir;
    this.args = args;
    this.store = store;
    this.bind = tcp ? "tcp://127.0.0.1:*" : `ipc://${this.dir}/broker.ipc`;
    this.endpoint = tcp ? null : this.bind;
    this.logPath = join(this.dir, "workpoold.log");
  }

  async start(timeoutMs = 30000) {
    const log = openSync(this.logPath, "a");
    this.proc = spawn(workpooldPath(),
      ["--bind", this.bind, "--db", join(this.dir, "workpool.db"), "--store", this.store, ...this.args],
      { stdio: ["ignore", log, log] });
    closeSync(log);
    this.exited = new Promise((r) => this.proc.once("exit", (code, signal) => r({ code, signal })));
    const deadline = Date.now() + timeoutMs;
    while (!this.endpoint) {
      const m = [...this.log().matchAll(/listening on (tcp:\/\/\S+)/g)].pop();
      if (m) this.endpoint = m[1];
      else if (Date.now() > deadline) throw new Error(`workpoold did not bind:\n${this.log()}`);
      else await new Promise((r) => setTimeout(r, 20));
    }
    const probe = new Client(this.endpoint, { ...this.probe, timeout: 1 });
    try {
      for (;;) {
        if (this.proc.exitCode !== null) throw new Error(`workpoold exited:\n${this.log()}`);
        try { await probe.ping(); break; } catch (e) {
          if (e instanceof WorkpoolError && !(e instanceof Unavailable) && !(e instanceof DeadlineExceeded))
            break;              //  an answer, if a refusal (a role without Ping)
          if (Date.now() > deadline) throw new Error(`workpoold did not answer:\n${this.log()}`);
        }
      }
    } finally {
      await probe.close();
    }
    return this;
  }

  get pid() { return this.proc.pid; }

  log() {
    try { return readFileSync(this.logPath, "utf8"); } catch { return ""; }
  }

  /** SIGTERM and wait for the exit; the directory is removed. */
  async stop({ keepDir = false } = {}) {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill("SIGTERM");
      const timer = setTimeout(() => this.proc.kill("SIGKILL"), 10000);
      await this.exited;
      clearTimeout(timer);
    }
    if (this.ownsDir && !keepDir) rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function startBroker(options) {
  return new Broker(options).start();
}
