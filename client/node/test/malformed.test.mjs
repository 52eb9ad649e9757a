//  The malformed request vectors sent as they are to a real workpoold:
//  each answered with the status the vector names, or (not replyable) not
//  answered at all, and the broker serving after every one.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as zmq from "zeromq";
import { Client, StatusCode, Unimplemented, unpack, wire } from "../dist/esm/index.js";
import { startBroker } from "./broker.mjs";
import { loadVectors } from "./vectors.mjs";

let broker, lifecycle;
before(async () => {
  broker = await startBroker();
  const c = new Client(broker.endpoint, { timeout: 2 });
  lifecycle = await c.pool("probe").list({ limit: 1 }).then(() => true, (e) => !(e instanceof Unimplemented));
  await c.close();
});
after(async () => { await broker?.stop(); });

const LIFECYCLE = ["WorkPool.List", "WorkPool.Retry", "WorkPool.Cancel", "WorkPool.Purge"];

for (const v of loadVectors().filter((x) => x.file.startsWith("malformed."))) {
  test(v.file, async (t) => {
    let head;
    try { head = unpack(v.header); } catch { head = null; }
    const method = Array.isArray(head) ? head[3] : undefined;
    if (LIFECYCLE.includes(method) && !lifecycle) return t.skip("this broker has no lifecycle verbs yet");
    const sock = new zmq.Dealer({ linger: 0, receiveTimeout: v.replyable === "yes" ? 5000 : 300 });
    sock.connect(broker.endpoint);
    try {
      await sock.send([v.header, v.body]);
      if (v.replyable === "yes") {
        const [h, b] = await sock.receive();
        const reply = wire.decodeReplyHeader(h);
        assert.equal(reply.requestId, head[2]);
        assert.equal(reply.status, StatusCode[v.expect], `${reply.status} '${reply.message}'`);
        assert.equal(Buffer.from(b).toString("hex"), "80");
      } else {
        await assert.rejects(sock.receive(), (e) => e.code === "EAGAIN");
      }
      const c = new Client(broker.endpoint, { timeout: 5 });
      await c.ping();
      await c.close();
    } finally {
      sock.close();
    }
  });
}
