/** Sizes on command lines: `16GiB`, `512MiB`, `8G`, `1048576` → bytes; undefined for anything else. */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+)\s*(|[kmgt]i?b?)$/i.exec(text.trim());
  if (!m) return undefined;
  const unit = m[2].toLowerCase()[0] ?? "";
  const n = Number(m[1]) * ({ "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[unit] ?? 1);
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}
