//  CURVE: keys read from czmq certificate files (ZPL), and, when the
//  broker has --curve-secret, a live connection with them; a wrong server
//  key is refused within the deadline, never a hang.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as zmq from "zeromq";
import { Client, parseCert, curveKeys, InvalidArgument, Unavailable, Unauthenticated, PermissionDenied } from "../dist/esm/index.js";
import { startBroker, workpooldPath } from "./broker.mjs";

//  A certificate pair as czmq's zcert_save writes it: NAME (public) and
//  NAME_secret (both keys).
function writeCert(path, meta = {}) {
  const { publicKey, secretKey } = zmq.curveKeyPair();
  const metadata = Object.entries(meta).map(([k, v]) => `    ${k} = "${v}"\n`).join("");
  const head = (kind) => `#   ****  Generated on 2026-12-02 17:00:00 by CZMQ  ****\n` +
    `#   ZeroMQ CURVE ${kind} Certificate\n#   Exchange securely, or use a secure mechanism to verify the contents\n` +
    `#   of this file after exchange. Store public certificates in your home\n#   directory, in the .curve subdirectory.\n\n`;
  writeFileSync(path, `${head("Public")}metadata\n${metadata}curve\n    public-key = "${publicKey}"\n`);
  writeFileSync(`${path}_secret`, `${head("**Secret**")}metadata\n${metadata}curve\n` +
    `    public-key = "${publicKey}"\n    secret-key = "${secretKey}"\n`);
  return { publicKey, secretKey };
}

test("certificate files: the public key, the secret pair, and refusals", () => {
  const dir = mkdtempSync(join(tmpdir(), "wp-node-cert-"));
  try {
    const server = writeCert(join(dir, "server"));
    const client = writeCert(join(dir, "client"), { role: "worker", worker_prefix: "gpu-" });
    const keys = curveKeys(join(dir, "server"), join(dir, "client_secret"));
    assert.deepEqual(keys, { serverKey: server.publicKey, ...client });
    //  NAME for NAME_secret, and a Z85 server key given as itself
    assert.deepEqual(curveKeys(server.publicKey, join(dir, "client")), keys);
    assert.equal(curveKeys(join(dir, "server")).serverKey, server.publicKey);
    assert.deepEqual(parseCert('curve\n    public-key = "' + server.publicKey + '"\n'), { publicKey: server.publicKey });
    assert.throws(() => parseCert("metadata\n    role = \"x\"\n"), InvalidArgument);
    assert.throws(() => parseCert('curve\n    public-key = "short"\n'), InvalidArgument);
    assert.throws(() => curveKeys(join(dir, "nope")), InvalidArgument);
    writeFileSync(join(dir, "pubonly"), `curve\n    public-key = "${client.publicKey}"\n`);
    assert.throws(() => curveKeys(join(dir, "server"), join(dir, "pubonly")), /not a secret certificate/);
    assert.throws(() => new Client("ipc:///nowhere", { cert: join(dir, "client_secret") }), InvalidArgument);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const hasCurve = spawnSync(workpooldPath(), ["--help"], { encoding: "utf8" }).stdout.includes("--curve-secret");

test("a live CURVE connection with the certificate files", { skip: !hasCurve && "this workpoold has no --curve-secret yet" }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "wp-node-curve-"));
  mkdirSync(join(dir, "keys"));
  writeCert(join(dir, "server"));
  writeCert(join(dir, "producer"), { role: "producer" });
  writeFileSync(join(dir, "keys", "producer"), readFileSync(join(dir, "producer")));
  writeCert(join(dir, "stranger"), { role: "admin" });
  const mine = { serverKey: join(dir, "server"), cert: join(dir, "producer_secret") };
  const broker = await startBroker({
    args: ["--curve-secret", join(dir, "server_secret"), "--keys", join(dir, "keys")], probe: mine });
  try {
    const c = new Client(broker.endpoint, { timeout: 5, ...mine });
    assert.ok((await c.pool("sec").push(1)).id);
    await assert.rejects(c.stats(), PermissionDenied);
    await c.close();
    for (const [options, refusal] of [
      //  a key the broker does not know
      [{ serverKey: join(dir, "server"), cert: join(dir, "stranger_secret") }, Unauthenticated],
      //  the wrong server key
      [{ serverKey: join(dir, "stranger"), cert: join(dir, "producer_secret") }, Unavailable],
      //  no CURVE at all
      [{}, Unavailable],
    ]) {
      const bad = new Client(broker.endpoint, { timeout: 1, ...options });
      const t0 = Date.now();
      const e = await bad.ping().then(() => null, (x) => x);
      assert.ok(e instanceof refusal, `${e}`);
      assert.ok(Date.now() - t0 < 3000);
      console.log(`# refused: ${e.message}`);
      await bad.close();
    }
  } finally {
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
