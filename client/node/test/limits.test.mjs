//  The client's limits agree with proto/wp_limits.h, the one table.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Limits } from "../dist/esm/index.js";
import { sourceDir } from "./vectors.mjs";

test("every limit the client names has the C header's value", () => {
  const header = readFileSync(join(sourceDir, "proto", "wp_limits.h"), "utf8");
  for (const [name, value] of Object.entries(Limits)) {
    const m = new RegExp(`#define\\s+${name}\\s+([^\\s/]+)`).exec(header);
    assert.ok(m, `${name} is not in wp_limits.h`);
    assert.equal(Number(m[1]), value, name);
  }
});
