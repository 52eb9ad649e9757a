/*  wire: the msgpack writer behind every frame we send. PROTOCOL.md wants
    each `number` field as a float 64 even when it holds 5.0, and the golden
    vectors hold that byte; a generic encoder writes 5.0 as the int 5, so
    the frame's structure is written here from the method's field table
    (schema.ts) and only free-form values (item data, metadata values) go
    through @msgpack/msgpack. Reading is the library's, all of it.  */
import { Decoder, Encoder } from "@msgpack/msgpack";

const utf8 = new TextEncoder();

/** A growable buffer that msgpack values are appended to. */
export class Writer {
  private buf: Uint8Array;
  private view: DataView;
  private pos = 0;

  constructor(size = 256) {
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
  }

  /** The bytes written so far (a copy, so the writer may be reused). */
  bytes(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }

  reset(): void {
    this.pos = 0;
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  private u8(b: number): void {
    this.room(1);
    this.buf[this.pos++] = b;
  }

  private head(fix: number, fixMax: number, b8: number | null, b16: number, b32: number, n: number): void {
    if (n <= fixMax) this.u8(fix | n);
    else if (b8 !== null && n <= 0xff) { this.room(2); this.buf[this.pos++] = b8; this.buf[this.pos++] = n; }
    else if (n <= 0xffff) { this.room(3); this.buf[this.pos++] = b16; this.view.setUint16(this.pos, n); this.pos += 2; }
    else { this.room(5); this.buf[this.pos++] = b32; this.view.setUint32(this.pos, n); this.pos += 4; }
  }

  nil(): void { this.u8(0xc0); }
  bool(v: boolean): void { this.u8(v ? 0xc3 : 0xc2); }
  mapHeader(n: number): void { this.head(0x80, 15, null, 0xde, 0xdf, n); }
  arrayHeader(n: number): void { this.head(0x90, 15, null, 0xdc, 0xdd, n); }

  str(s: string): void {
    //  A UTF-16 unit is at most 3 bytes of UTF-8: reserve the worst case
    //  behind a 5-byte header, then write the header that fits.
    const max = s.length * 3;
    this.room(5 + max);
    const start = this.pos;
    const hdr = max <= 31 ? 1 : max <= 0xff ? 2 : max <= 0xffff ? 3 : 5;
    const { written } = utf8.encodeInto(s, this.buf.subarray(start + hdr));
    const fit = written <= 31 ? 1 : written <= 0xff ? 2 : written <= 0xffff ? 3 : 5;
    if (fit !== hdr) this.buf.copyWithin(start + fit, start + hdr, start + hdr + written);
    if (fit === 1) this.buf[start] = 0xa0 | written;
    else if (fit === 2) { this.buf[start] = 0xd9; this.buf[start + 1] = written; }
    else if (fit === 3) { this.buf[start] = 0xda; this.view.setUint16(start + 1, written); }
    else { this.buf[start] = 0xdb; this.view.setUint32(start + 1, written); }
    this.pos = start + fit + written;
  }

  bin(b: Uint8Array): void {
    this.head(0, -1, 0xc4, 0xc5, 0xc6, b.length);
    this.raw(b);
  }

  /** An integer in its smallest encoding (number or bigint). */
  int(v: number | bigint): void {
    if (typeof v === "number" && Number.isSafeInteger(v)) {
      if (v >= 0) {
        if (v < 0x80) this.u8(v);
        else if (v <= 0xff) { this.u8(0xcc); this.u8(v); }
        else if (v <= 0xffff) { this.room(3); this.buf[this.pos++] = 0xcd; this.view.setUint16(this.pos, v); this.pos += 2; }
        else if (v <= 0xffffffff) { this.room(5); this.buf[this.pos++] = 0xce; this.view.setUint32(this.pos, v); this.pos += 4; }
        else this.int(BigInt(v));
      } else {
        if (v >= -32) this.u8(v & 0xff);
        else if (v >= -0x80) { this.u8(0xd0); this.u8(v & 0xff); }
        else if (v >= -0x8000) { this.room(3); this.buf[this.pos++] = 0xd1; this.view.setInt16(this.pos, v); this.pos += 2; }
        else if (v >= -0x80000000) { this.room(5); this.buf[this.pos++] = 0xd2; this.view.setInt32(this.pos, v); this.pos += 4; }
        else this.int(BigInt(v));
      }
      return;
    }
    if (typeof v === "number") throw new TypeError(`${v} is not an integer`);
    if (v >= 0n && v <= 0xffffffffn) return this.int(Number(v));
    if (v < 0n && v >= -0x80000000n) return this.int(Number(v));
    this.room(9);
    if (v > 0n) { this.buf[this.pos++] = 0xcf; this.view.setBigUint64(this.pos, v); }
    else { this.buf[this.pos++] = 0xd3; this.view.setBigInt64(this.pos, v); }
    this.pos += 8;
  }

  f64(v: number): void {
    this.room(9);
    this.buf[this.pos++] = 0xcb;
    this.view.setFloat64(this.pos, v);
    this.pos += 8;
  }

  /** Bytes that already are msgpack values. */
  raw(b: Uint8Array): void {
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** Any value, by @msgpack/msgpack's mapping. */
  any(v: unknown): void {
    this.raw(anyEncoder.encodeSharedRef(v));
  }
}

//  Free-form values: bigint as int 64, undefined object members skipped (as
//  JSON.stringify does), so a JS object round-trips through the CLI's JSON.
const anyEncoder = new Encoder({ useBigInt64: true, ignoreUndefined: true });

/** The msgpack encoding of a user's value (item data, a result). */
export function packValue(v: unknown): Uint8Array {
  return anyEncoder.encode(v);
}

const plainDecoder = new Decoder();
const bigDecoder = new Decoder({ useBigInt64: true });

/** One msgpack value that must fill the bytes; throws on anything else.
 *  With bigint, 64-bit integers come back as bigint (exact). */
export function unpack(b: Uint8Array, bigint = false): unknown {
  return (bigint ? bigDecoder : plainDecoder).decode(b);
}
