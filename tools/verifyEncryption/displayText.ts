/**
 * Text from outside (etcd keys, etcdctl's error output) made safe to print: it can neither forge a line
 * of the report on a terminal (newlines, carriage returns, ANSI escapes, bidi overrides) nor carry a
 * stored value into an error message.
 */

/**
 * Bytes as printable ASCII: 0x21–0x7e except `\` as they are, every other byte (space, control
 * characters, ESC, anything not ASCII) as `\xHH`. Lossless and one line; Kubernetes names (DNS
 * subdomains) print unchanged, so only names kube-apiserver never wrote look different.
 */
export function escapeBytes(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes)
    out +=
      b > 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`;
  return out;
}

/** escapeBytes of a string's UTF-8 bytes. */
export const escapeText = (s: string): string => escapeBytes(Buffer.from(s, "utf8"));

/** Longest part of a tool's error output quoted in a message. */
const maxQuoted = 300;

/**
 * What may be quoted of another program's error output (etcdctl's stderr), never its stdout: the last
 * non-blank line (where etcdctl writes `Error: …`), escaped, capped, and with any long run of base64
 * or hex (mixed case and digits, as encoded data is) withheld — belt and braces, since etcdctl's
 * diagnostics carry no values.
 */
export function quotableDiagnostic(stderr: string): string {
  const line =
    stderr
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter(Boolean)
      .pop() ?? "";
  const withheld = line.replace(/[A-Za-z0-9+/=]{48,}/g, (run) =>
    /[0-9]/.test(run) && /[a-z]/.test(run) && /[A-Z]/.test(run) ? `[${run.length} chars withheld]` : run,
  );
  const escaped = escapeText(withheld).replace(/\\x20/g, " ");
  return escaped.length > maxQuoted ? `${escaped.slice(0, maxQuoted)}…` : escaped;
}
