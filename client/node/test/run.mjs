//  The ctest entry: `node test/run.mjs build` compiles the package;
//  `node test/run.mjs FILE...` runs node's test runner on the files and
//  fails unless it passed and ran at least one test (a runner that finds
//  nothing to run exits 0, which must not count as a pass).
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);

if (!existsSync(join(pkg, "node_modules", "zeromq"))) {
  console.error(`client/node: no node_modules; run \`npm ci\` in ${pkg} (./dev does)`);
  process.exit(1);
}

if (args[0] === "build") {
  const tsc = join(pkg, "node_modules", "typescript", "bin", "tsc");
  //  (test/tsconfig.json type-checks a consumer of the built package)
  for (const config of ["tsconfig.json", "tsconfig.cjs.json", "test/tsconfig.json"]) {
    const r = spawnSync(process.execPath, [tsc, "-p", join(pkg, config)], { stdio: "inherit" });
    if (r.status !== 0) process.exit(1);
    if (config === "tsconfig.cjs.json") {
      const m = spawnSync(process.execPath, [join(pkg, "scripts", "cjs-package.mjs")], { stdio: "inherit" });
      if (m.status !== 0) process.exit(1);
    }
  }
  process.exit(0);
}

//  No files named: every test/*.test.mjs (not `node --test test/`, which
//  would also run the helper scripts the tests spawn).
const files = args.length > 0 ? args
  : readdirSync(join(pkg, "test")).filter((f) => f.endsWith(".test.mjs")).sort().map((f) => join("test", f));
const r = spawnSync(process.execPath, ["--test", "--test-reporter=tap", ...files],
  { cwd: pkg, encoding: "utf8", maxBuffer: 64 << 20 });
process.stdout.write(r.stdout ?? "");
process.stderr.write(r.stderr ?? "");
//  Tests that ran and passed, by name: a file with no test in it shows as
//  one passing point named after the file, and skips do not count.
const passed = [...(r.stdout ?? "").matchAll(/^ok \d+ - (.*)$/gm)]
  .map((m) => m[1]).filter((name) => !/\.mjs$/.test(name) && !/# SKIP/.test(name));
const failed = [...(r.stdout ?? "").matchAll(/^not ok \d+ - (.*)$/gm)].length;
if (r.status !== 0 || failed > 0 || passed.length === 0) {
  console.error(`client/node: ${files.join(" ")}: exit ${r.status}, ${passed.length} passed, ${failed} failed`);
  process.exit(1);
}
