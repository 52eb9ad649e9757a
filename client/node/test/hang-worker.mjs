//  A Worker whose handler never ends: race.test.mjs kills it mid-item.
import { Client, Worker } from "../dist/esm/index.js";

const [endpoint, pool, workerId, interval] = process.argv.slice(2);
const worker = new Worker(new Client(endpoint), {
  pool, workerId, heartbeatInterval: Number(interval), wait: 1,
  handler: () => new Promise(() => { process.stdout.write("holding\n"); }),
});
await worker.run();
