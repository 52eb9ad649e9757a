//  One racer of race.test.mjs: claims and completes (fenced) until a claim
//  waiting 1 s finds nothing, then prints the ids it completed as JSON.
import { Client } from "../dist/esm/index.js";

const [endpoint, pool, workerId] = process.argv.slice(2);
const c = new Client(endpoint, { timeout: 30 });
const p = c.pool(pool);
const done = [];
for (;;) {
  const item = await p.claim(workerId, { wait: 1 });
  if (!item) break;
  await p.complete(item.id, workerId, { workerId });
  done.push(item.id);
}
await c.close();
process.stdout.write(JSON.stringify(done));
