//  The golden vectors, byte for byte: every request and reply decoded and
//  encoded again by the client's codec; the full requests produced by the
//  client's own methods (a stand-in broker on a ROUTER socket compares the
//  bytes and answers with the vector's reply, which the client must read).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as zmq from "zeromq";
import { Client, Raw, wire, StatusCode, WorkpoolError } from "../dist/esm/index.js";
import { loadVectors } from "./vectors.mjs";

const vectors = loadVectors();
const good = vectors.filter((v) => !v.file.startsWith("malformed."));
const hex = (b) => Buffer.from(b).toString("hex");

test("the vectors are there", () => {
  assert.ok(good.length >= 40, `only ${good.length} vectors`);
});

for (const v of good) {
  test(`re-encodes ${v.file}`, () => {
    if (v.kind === "request") {
      const head = wire.decodeRequestHeader(v.header);
      assert.equal(head.method, v.method);
      const body = wire.decodeRequestBody(v.method, v.body);
      assert.equal(hex(wire.encodeRequestHeader(head)), hex(v.header));
      assert.equal(hex(wire.encodeRequestBody(v.method, body)), hex(v.body));
    } else {
      const head = wire.decodeReplyHeader(v.header);
      assert.equal(hex(wire.encodeReplyHeader(head)), hex(v.header));
      const body = head.status === StatusCode.OK ? wire.decodeReplyBody(v.method, v.body) : {};
      assert.equal(hex(wire.encodeReplyBody(v.method, head.status, body)), hex(v.body));
    }
  });
}

//  What the client's methods send for each method's full request vector.
const bin = (h) => new Raw(Buffer.from(h, "hex"));
const CALLS = {
  "WorkPool.Push": (c) => c.pool("jobs").push(bin("81a16e01"), {
    id: "job-1", maxRetries: 5, delay: 90, runAt: "2026-11-26T06:39:00.123456Z", priority: -10,
    uniqueKey: "invoice-42" }),
  "WorkPool.PushMany": (c) => c.pool("jobs").pushMany([
    { data: bin("81a16e01"), id: "a", maxRetries: 2 },
    { data: bin("a26f6b"), id: "0b6f3c1e-9a4d-4c7e-8f21-5d3a7b9c2e10", delay: 2.5, priority: 100 },
    { data: bin("93010203"), id: "c", maxRetries: 0, runAt: "2026-11-26T05:40:00.123456Z",
      priority: -(2 ** 31), uniqueKey: "report-c" }]),
  "WorkPool.Claim": (c) => c.pool("jobs").claim("w-1", { wait: 2.5, lease: 60 }),
  "WorkPool.ClaimMany": (c) => c.pool("jobs").claimMany("w-1", 10, { wait: 2.5, lease: 60 }),
  "WorkPool.Complete": (c) => c.pool("jobs").complete("job-1", bin("a26f6b"), { workerId: "w-1" }),
  "WorkPool.Fail": (c) => c.pool("jobs").fail("job-1", "ZeroDivisionError: division by zero",
    { workerId: "w-1", retryAfter: 30 }),
  "WorkPool.CompleteAndClaim": (c) => c.pool("jobs").completeAndClaim("job-1", "w-1", bin("a26f6b"), { wait: 1, lease: 30 }),
  "WorkPool.CompleteMany": (c) => c.pool("jobs").completeMany([
    { id: "job-1", result: bin("a26f6b") }, { id: "job-2" }, { id: "job-3", result: bin("93010203") }],
  { workerId: "w-1" }),
  //  A stream: the stand-in sends the vector's stream message, then the
  //  minimal one (the final OK end), so close() has nothing to unsubscribe
  "WorkPool.Subscribe": async (c) => {
    const sub = c.pool("jobs").subscribe("w-1", { credit: 64, lease: 60, streamTimeout: 5 });
    const first = await sub.next();
    assert.equal(first.id, "job-2");
    assert.equal((await sub.next()).id, "job-3");
    assert.equal(await sub.next(), null);
    assert.ok(sub.ended && sub.error === undefined);
    assert.deepEqual(await sub.close(), []);
  },
  "WorkPool.Unsubscribe": (c) => c.pool("jobs").unsubscribe("w-1"),
  "WorkPool.Size": (c) => c.pool("jobs").size(),
  "WorkPool.ReleaseByWorker": (c) => c.pool("jobs").releaseByWorker("w-1"),
  "WorkPool.Get": (c) => c.pool("jobs").get("job-1"),
  "WorkPool.Renew": (c) => c.renew("w-1", { lease: 120 }),
  "WorkPool.List": (c) => c.pool("jobs").list({ statuses: ["poisoned", "done"], limit: 50, cursor: "1234" }),
  "WorkPool.Retry": (c) => c.pool("jobs").retry("job-1"),
  "WorkPool.Cancel": (c) => c.pool("jobs").cancel("job-1"),
  "WorkPool.Purge": (c) => c.pool("jobs").purge(["done", "poisoned"]),
  "WorkPool.Pause": (c) => c.pool("jobs").pause(),
  "WorkPool.Resume": (c) => c.pool("jobs").resume(),
  "WorkPool.SetBackoff": (c) => c.pool("jobs").setBackoff(2, { cap: 600, jitter: 0.25 }),
  "Schedule.Add": (c) => c.scheduleAdd("nightly-report", "reports", "0 30 2 * * 1-5", bin("81a16e01"),
    { priority: -1, maxRetries: 5 }),
  "Schedule.List": (c) => c.scheduleList(),
  "Schedule.Remove": (c) => c.scheduleRemove("nightly-report"),
  "Registry.Register": (c) => c.register({
    worker_id: "w-1", host: "node-7", pid: 4242, capabilities: ["gpu", "ocr"], pool_id: "jobs",
    started_at: "2026-11-26T05:39:00.123456Z", heartbeat_interval_seconds: 5,
    metadata: { version: "1.2", slots: 4 } }),
  "Registry.Heartbeat": (c) => c.heartbeat("w-1", { load: 0.5 }),
  "Registry.UpdateStatus": (c) => c.updateStatus("w-1", "terminating"),
  "Registry.Get": (c) => c.getWorker("w-1"),
  "Registry.List": (c) => c.listWorkers({ status: ["active", "lost"], capability: "gpu", pool_id: "jobs",
    stale_threshold_seconds: 30 }),
  "Broker.Stats": (c) => c.stats(),
  "Broker.Ping": (c) => c.ping(),
};

test("the client's methods send the full request vectors and read the replies", async () => {
  const router = new zmq.Router({ linger: 0 });
  const dir = `/tmp/wp-node-vec-${process.pid}.ipc`;
  await router.bind(`ipc://${dir}`);
  const client = new Client(`ipc://${dir}`, { timeout: 5, metadata: { "trace-id": "4bf92f3577b34da6" } });
  try {
    const requests = good.filter((v) => v.kind === "request" && !v.file.includes(".minimal."));
    let checked = 0;
    for (const v of requests) {
      const call = CALLS[v.method];
      assert.ok(call, `no client call for ${v.method}`);
      const replies = good.filter((r) => r.kind === "reply" && r.method === v.method && !r.file.includes(".minimal."));
      const pending = call(client);
      const [peer, header, body] = await router.receive();
      const head = wire.decodeRequestHeader(header);
      if (v.method === "WorkPool.PushMany") {
        //  The vector's second entry has no id (the broker makes one); this
        //  client always sends one (a resend must not push twice).
        const sent = wire.decodeRequestBody(v.method, body);
        assert.match(sent.items[1].id, /^[0-9a-f-]{36}$/);
        delete sent.items[1].id;
        assert.equal(hex(wire.encodeRequestBody(v.method, sent)), hex(v.body), `${v.file}: body`);
      } else assert.equal(hex(body), hex(v.body), `${v.file}: body`);
      const want = wire.decodeRequestHeader(v.header);
      assert.equal(head.method, want.method);
      assert.deepEqual(head.metadata, want.metadata);
      //  the call's timeout, plus a claim's wait
      const wait = (wire.decodeRequestBody(v.method, v.body).wait_seconds ?? 0) * 1000;
      assert.ok(head.timeoutMs > 4000 + wait && head.timeoutMs <= 5000 + wait, `timeout_ms ${head.timeoutMs}`);
      const reply = replies.find((r) => r.file === `${v.method}.reply.hex`) ?? replies[0];
      const rh = wire.decodeReplyHeader(reply.header);
      await router.send([peer, wire.encodeReplyHeader({ ...rh, requestId: head.requestId }), reply.body]);
      if (v.method === "WorkPool.Subscribe") {
        const end = replies.find((r) => r.file === `${v.method}.reply.minimal.hex`) ??
          good.find((r) => r.file === `${v.method}.reply.minimal.hex`);
        await router.send([peer, wire.encodeReplyHeader({ ...rh, requestId: head.requestId }), end.body]);
      }
      await pending;
      checked++;
    }
    assert.ok(checked >= 25, `only ${checked} methods checked`);
  } finally {
    await client.close();
    router.close();
  }
});

test("an error reply surfaces its code and message unchanged", async () => {
  const router = new zmq.Router({ linger: 0 });
  const path = `/tmp/wp-node-err-${process.pid}.ipc`;
  await router.bind(`ipc://${path}`);
  const client = new Client(`ipc://${path}`, { timeout: 5 });
  try {
    for (const v of good.filter((x) => x.file.startsWith("error.") && x.method === "WorkPool.Get")) {
      const pending = client.pool("jobs").get("job-9");
      const [peer, header] = await router.receive();
      const rh = wire.decodeReplyHeader(v.header);
      const id = wire.decodeRequestHeader(header).requestId;
      await router.send([peer, wire.encodeReplyHeader({ ...rh, requestId: id }), v.body]);
      await assert.rejects(pending, (e) => e instanceof WorkpoolError && e.code === rh.status &&
        e.message === rh.message && e.name === "NotFound");
    }
  } finally {
    await client.close();
    router.close();
  }
});
