//  A Worker with credit 8: subscription.test.mjs runs four of these over
//  one pool and stops them with SIGTERM; each handled item id is written
//  to the file named, one a line.
import { appendFileSync } from "node:fs";
import { Client, Worker } from "../dist/esm/index.js";

const [endpoint, pool, out] = process.argv.slice(2);
const worker = new Worker(new Client(endpoint), {
  pool, credit: 8, heartbeatInterval: 1, wait: 0.5,
  handler: async (data, item) => {
    appendFileSync(out, `${item.id}\n`);
    return { by: process.pid };
  },
});
await worker.run();
await worker.client.close();
