/*  curve: the CURVE keys of a connection, from czmq certificate files (the
    ones `workpool keygen` writes and the CLI reads): ZPL text whose `curve`
    section holds `public-key = "<Z85>"` and, in the `_secret` file,
    `secret-key = "<Z85>"`.  */
import { readFileSync, existsSync } from "node:fs";
import * as zmq from "zeromq";
import { InvalidArgument } from "./errors.js";
import type { CurveKeys } from "./connection.js";

const Z85_KEY = /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/;

/** The `curve` section's keys of a ZPL certificate text. Throws
 *  InvalidArgument if the text has no `curve` section. */
export function parseCert(text: string, where = "certificate"): { publicKey?: string; secretKey?: string } {
  const keys: { publicKey?: string; secretKey?: string } = {};
  let section = "";
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/\s+$/, "");
    if (line === "" || /^\s*#/.test(line)) continue;
    const indent = line.length - line.trimStart().length;
    const m = /^\s*([A-Za-z0-9$\-_@.&+/]+)\s*(?:=\s*(.*))?$/.exec(line);
    if (!m) continue;
    if (indent === 0) { section = m[1]; continue; }
    if (section !== "curve" || m[2] === undefined) continue;
    let value = m[2].trim();
    if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'")))
      value = value.slice(1, -1);
    if (m[1] === "public-key") keys.publicKey = value;
    if (m[1] === "secret-key") keys.secretKey = value;
  }
  if (!keys.publicKey && !keys.secretKey) throw new InvalidArgument(`${where} has no curve keys`);
  for (const [name, v] of Object.entries(keys))
    if (v !== undefined && !Z85_KEY.test(v))
      throw new InvalidArgument(`${where}: ${name} is not a 40-character Z85 key`);
  return keys;
}

function readCert(path: string) {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new InvalidArgument(`cannot read certificate ${path}: ${(e as Error).message}`);
  }
  return parseCert(text, path);
}

/** The broker's public key: a Z85 key itself, or the path of its public
 *  (or secret) certificate file. */
export function serverPublicKey(serverKey: string): string {
  if (Z85_KEY.test(serverKey) && !existsSync(serverKey)) return serverKey;
  const keys = readCert(serverKey);
  if (!keys.publicKey) throw new InvalidArgument(`${serverKey} has no public-key`);
  return keys.publicKey;
}

/** The keys a client connects with. cert is the client's secret
 *  certificate file (NAME_secret; NAME is tried as NAME_secret too); with no
 *  cert a throwaway key pair is made (a broker without a key directory
 *  accepts it). */
export function curveKeys(serverKey: string, cert?: string): CurveKeys {
  const server = serverPublicKey(serverKey);
  if (!cert) {
    const pair = zmq.curveKeyPair();
    return { serverKey: server, publicKey: pair.publicKey, secretKey: pair.secretKey };
  }
  let keys = readCert(cert);
  if (!keys.secretKey && existsSync(`${cert}_secret`)) keys = readCert(`${cert}_secret`);
  if (!keys.secretKey || !keys.publicKey)
    throw new InvalidArgument(`${cert} is not a secret certificate (it needs public-key and secret-key)`);
  return { serverKey: server, publicKey: keys.publicKey, secretKey: keys.secretKey };
}
