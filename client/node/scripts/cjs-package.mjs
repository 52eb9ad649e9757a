//  dist/cjs holds CommonJS under a package whose "type" is "module": mark
//  that folder CommonJS, so require("workpool") loads it.
import { writeFileSync } from "node:fs";
writeFileSync(new URL("../dist/cjs/package.json", import.meta.url), '{ "type": "commonjs" }\n');
