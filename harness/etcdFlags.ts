/** etcd command lines as `--flag=value` lists: read, look up and change flags. */

export type Flag = [name: string, value: string | undefined];

export function parseFlags(args: readonly string[]): Flag[] {
  return args.map((a) => {
    if (!a.startsWith("--"))
      throw new Error(`unexpected etcd argument ${JSON.stringify(a)} (expected --flag=value)`);
    const eq = a.indexOf("=");
    return eq < 0 ? [a, undefined] : [a.slice(0, eq), a.slice(eq + 1)];
  });
}

export const formatFlags = (flags: readonly Flag[]) =>
  flags.map(([k, v]) => (v === undefined ? k : `${k}=${v}`));

export function flagValue(args: readonly string[], name: string): string | undefined {
  return parseFlags(args).find(([k]) => k === name)?.[1];
}

/** Replaces (or appends) flags; `undefined` removes a flag. */
export function withFlags(args: readonly string[], changes: Record<string, string | undefined>): string[] {
  const seen = new Set<string>();
  const out: Flag[] = [];
  for (const [k, v] of parseFlags(args)) {
    if (!(k in changes)) out.push([k, v]);
    else if (!seen.has(k)) {
      seen.add(k);
      if (changes[k] !== undefined) out.push([k, changes[k]]);
    }
  }
  for (const [k, v] of Object.entries(changes)) if (!seen.has(k) && v !== undefined) out.push([k, v]);
  return formatFlags(out);
}

/** A comma-separated URL list flag's values. */
export const splitUrls = (v: string | undefined): string[] => (v ? v.split(",").filter(Boolean) : []);
