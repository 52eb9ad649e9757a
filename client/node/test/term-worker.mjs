//  A Worker whose handler takes 1 s: worker.test.mjs sends it SIGTERM
//  mid-item and expects the item completed and the worker terminated.
import { Client, Worker } from "../dist/esm/index.js";

const [endpoint, pool, workerId] = process.argv.slice(2);
const worker = new Worker(new Client(endpoint), {
  pool, workerId, heartbeatInterval: 1, wait: 1,
  handler: async (data) => {
    process.stdout.write("started\n");
    await new Promise((r) => setTimeout(r, 1000));
    return { echoed: data };
  },
});
await worker.run();
await worker.client.close();
process.stdout.write(`completed ${worker.counts.completed}\n`);
