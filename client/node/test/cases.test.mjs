//  tests/cases/wire_cases.json through the Node client, each case on a
//  fresh broker (the same list the C and Python runners read).
import { test } from "node:test";
import { Client, Unimplemented, DeadlineExceeded } from "../dist/esm/index.js";
import { startBroker } from "./broker.mjs";
import { loadCases, run } from "./cases.mjs";

const cases = loadCases();

//  A broker from before the lifecycle verbs refuses WorkPool.List.
async function hasLifecycle(c) {
  try {
    await c.pool("probe").list({ limit: 1, timeout: 2 });
    return true;
  } catch (e) {
    if (e instanceof Unimplemented || e instanceof DeadlineExceeded) return false;
    throw e;
  }
}

for (const cs of cases) {
  test(cs.name, async (t) => {
    const broker = await startBroker();
    const c = new Client(broker.endpoint, { timeout: 10 });
    try {
      if (cs.needs === "lifecycle" && !(await hasLifecycle(c))) {
        t.skip("this broker has no WorkPool.List yet (the lifecycle verbs)");
        return;
      }
      await run(cs, c);
    } finally {
      await c.close();
      await broker.stop();
    }
  });
}
