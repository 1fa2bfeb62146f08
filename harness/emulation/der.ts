/**
 * Minimal DER (ASN.1 Distinguished Encoding Rules) writer and reader, just enough to build and read
 * X.509 certificates and PKCS#10 requests the way Go's `crypto/x509` (and so terraform-provider-tls)
 * encodes them. Only single-byte tags are supported, which covers everything X.509 needs.
 */

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  T61_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** Encodes one tag-length-value. */
export function tlv(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), encodeLength(content.length), content]);
}

export const sequence = (...items: Buffer[]): Buffer => tlv(TAG.SEQUENCE, Buffer.concat(items));

/** SET OF: DER requires the encoded elements in ascending byte order (Go sorts them too). */
export const setOf = (...items: Buffer[]): Buffer =>
  tlv(TAG.SET, Buffer.concat([...items].sort((a, b) => Buffer.compare(a, b))));

/** Context-specific tag `[n]`; `constructed` for EXPLICIT tags and constructed IMPLICIT ones. */
export const contextTag = (n: number, content: Buffer, constructed: boolean): Buffer =>
  tlv(0x80 | (constructed ? 0x20 : 0) | n, content);

export const derNull = (): Buffer => Buffer.from([TAG.NULL, 0]);

export const boolean = (value: boolean): Buffer => tlv(TAG.BOOLEAN, Buffer.from([value ? 0xff : 0]));

export const octetString = (content: Buffer): Buffer => tlv(TAG.OCTET_STRING, content);

export const bitString = (content: Buffer, unusedBits = 0): Buffer =>
  tlv(TAG.BIT_STRING, Buffer.concat([Buffer.from([unusedBits]), content]));

/** A non-negative INTEGER. */
export function integer(value: bigint | number): Buffer {
  let n = BigInt(value);
  if (n < 0n) throw new Error("der: negative integers are not supported");
  const bytes: number[] = [];
  do {
    bytes.unshift(Number(n & 0xffn));
    n >>= 8n;
  } while (n > 0n);
  if (bytes[0] & 0x80) bytes.unshift(0);
  return tlv(TAG.INTEGER, Buffer.from(bytes));
}

export function oid(dotted: string): Buffer {
  const arcs = dotted.split(".").map((a) => BigInt(a));
  if (arcs.length < 2) throw new Error(`der: bad OID ${dotted}`);
  const out: number[] = [];
  const pushBase128 = (v: bigint): void => {
    const chunk: number[] = [Number(v & 0x7fn)];
    for (let rest = v >> 7n; rest > 0n; rest >>= 7n) chunk.unshift(Number(rest & 0x7fn) | 0x80);
    out.push(...chunk);
  };
  pushBase128(arcs[0] * 40n + arcs[1]);
  for (const arc of arcs.slice(2)) pushBase128(arc);
  return tlv(TAG.OID, Buffer.from(out));
}

export function decodeOid(content: Buffer): string {
  const values: bigint[] = [];
  let acc = 0n;
  for (const byte of content) {
    acc = (acc << 7n) | BigInt(byte & 0x7f);
    if (!(byte & 0x80)) {
      values.push(acc);
      acc = 0n;
    }
  }
  const [first, ...rest] = values;
  const a = first < 80n ? first / 40n : 2n;
  return [a, first - a * 40n, ...rest].join(".");
}

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/**
 * A DirectoryString the way Go's encoding/asn1 writes a plain Go string: PrintableString when every
 * character allows it (Go rejects `*` and `&` here, so `*.example.com` becomes a UTF8String),
 * otherwise UTF8String.
 */
export const directoryString = (value: string): Buffer =>
  PRINTABLE.test(value)
    ? tlv(TAG.PRINTABLE_STRING, Buffer.from(value, "latin1"))
    : tlv(TAG.UTF8_STRING, Buffer.from(value, "utf8"));

export function ia5String(value: string): Buffer {
  if ([...value].some((ch) => ch.charCodeAt(0) > 0x7f))
    throw new Error(`x509: ${JSON.stringify(value)} cannot be encoded as an IA5String`);
  return tlv(TAG.IA5_STRING, Buffer.from(value, "ascii"));
}

/** Go (and RFC 5280) use UTCTime for years 1950..2049 and GeneralizedTime otherwise, second precision. */
export function time(date: Date): Buffer {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ, always UTC
  const year = date.getUTCFullYear();
  const digits = iso.slice(0, 19).replace(/[-T:]/g, ""); // YYYYMMDDHHMMSS
  if (year >= 1950 && year < 2050) return tlv(TAG.UTC_TIME, Buffer.from(`${digits.slice(2)}Z`, "ascii"));
  return tlv(TAG.GENERALIZED_TIME, Buffer.from(`${digits}Z`, "ascii"));
}

// ---------------------------------------------------------------------------------------------
// Reader

export interface DerNode {
  tag: number;
  /** Complete encoding, header included. */
  raw: Buffer;
  /** Content octets only. */
  content: Buffer;
  /** Offset just past this node in the buffer it was read from. */
  end: number;
}

export function readDer(buf: Buffer, offset = 0): DerNode {
  if (offset + 2 > buf.length) throw new Error("der: truncated header");
  const tag = buf[offset];
  if ((tag & 0x1f) === 0x1f) throw new Error("der: multi-byte tags are not supported");
  let length = buf[offset + 1];
  let header = 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) throw new Error("der: unsupported length encoding");
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buf[offset + 2 + i];
    header += count;
  }
  const end = offset + header + length;
  if (end > buf.length) throw new Error("der: truncated content");
  return { tag, raw: buf.subarray(offset, end), content: buf.subarray(offset + header, end), end };
}

/** Reads a whole buffer that must hold exactly one node. */
export function parseDer(buf: Buffer): DerNode {
  const node = readDer(buf, 0);
  if (node.end !== buf.length) throw new Error("der: trailing data");
  return node;
}

export function children(node: DerNode): DerNode[] {
  const out: DerNode[] = [];
  for (let offset = 0; offset < node.content.length;) {
    const child = readDer(node.content, offset);
    out.push(child);
    offset = child.end;
  }
  return out;
}

/** Decodes the string types an X.509 name may use. */
export function decodeString(node: DerNode): string | undefined {
  switch (node.tag) {
    case TAG.UTF8_STRING:
      return node.content.toString("utf8");
    case TAG.PRINTABLE_STRING:
    case TAG.IA5_STRING:
    case 0x12: // NumericString
      return node.content.toString("ascii");
    case TAG.T61_STRING:
      return node.content.toString("latin1");
    case TAG.BMP_STRING: {
      const swapped = Buffer.from(node.content);
      swapped.swap16();
      return swapped.toString("utf16le");
    }
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// PEM

export function toPem(type: string, der: Buffer): string {
  const b64 = der.toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${type}-----\n${lines.join("\n")}\n-----END ${type}-----\n`;
}

/** Decodes the first PEM block of the given text; optionally insists on its type. */
export function fromPem(text: string, expectedType?: string): { type: string; der: Buffer } {
  const match = /-----BEGIN ([^-]+)-----\r?\n([\s\S]*?)-----END \1-----/.exec(text ?? "");
  if (!match) {
    throw new Error(
      `failed to decode PEM block${expectedType ? ` of expected type "${expectedType}"` : ""} from bytes`,
    );
  }
  const [, type, body] = match;
  if (expectedType && type !== expectedType) {
    throw new Error(`invalid PEM type - expected "${expectedType}", got "${type}"`);
  }
  if (/^[A-Za-z-]+:/m.test(body)) throw new Error(`PEM block "${type}" has headers (encrypted?)`);
  return { type, der: Buffer.from(body.replace(/\s+/g, ""), "base64") };
}
