//  The golden vectors of proto/vectors/ (format in its README.md).
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const sourceDir = process.env.WP_SOURCE_DIR ?? resolve(here, "../../..");
export const vectorDir = join(sourceDir, "proto", "vectors");

/** Every vector: { file, kind, method, header, body (Buffers), expect, stage, replyable, message }. */
export function loadVectors() {
  return readdirSync(vectorDir).filter((f) => f.endsWith(".hex")).sort().map((file) => {
    const v = { file };
    for (const line of readFileSync(join(vectorDir, file), "utf8").split("\n")) {
      const t = line.trim();
      if (!t || t.startsWith("#")) continue;
      const i = t.indexOf(" ");
      const key = i < 0 ? t : t.slice(0, i);
      v[key] = i < 0 ? "" : t.slice(i + 1);
    }
    v.header = Buffer.from(v.header ?? "", "hex");
    v.body = Buffer.from(v.body ?? "", "hex");
    return v;
  });
}
