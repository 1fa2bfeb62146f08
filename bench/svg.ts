/**
 * bench/snapshot.svg and bench/restore.svg, hand-written from the data: time against DB size (log scales:
 * the sizes span 64 MiB to 8 GiB), the bare etcd command beside the package's path, before and after.
 */
import { apiserverProviders, type ApiserverResult, type ProviderFigures } from "./apiserver";
import type { BigSnapshotResult, SnapshotResult } from "./snapshotPath";

const W = 680;
const H = 420;
const pad = { l: 60, r: 200, t: 34, b: 50 };

interface Series {
  label: string;
  color: string;
  dashed?: boolean;
  points: [mib: number, seconds: number][];
}

const mibOf = (b: number) => b / 1024 / 1024;

function plot(title: string, series: Series[], note?: string): string {
  const all = series.flatMap((s) => s.points);
  const [minX, maxX] = [Math.min(...all.map((p) => p[0])) / 1.3, Math.max(...all.map((p) => p[0])) * 1.3];
  const [minY, maxY] = [Math.min(...all.map((p) => p[1])) / 1.5, Math.max(...all.map((p) => p[1])) * 1.5];
  const lx = (v: number) =>
    pad.l + ((Math.log(v) - Math.log(minX)) / (Math.log(maxX) - Math.log(minX))) * (W - pad.l - pad.r);
  const ly = (v: number) =>
    H - pad.b - ((Math.log(v) - Math.log(minY)) / (Math.log(maxY) - Math.log(minY))) * (H - pad.t - pad.b);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${(pad.l + W - pad.r) / 2}" y="18" font-size="13" text-anchor="middle">${title}</text>`,
    `<line x1="${pad.l}" y1="${H - pad.b}" x2="${W - pad.r}" y2="${H - pad.b}" stroke="black"/>`,
    `<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${H - pad.b}" stroke="black"/>`,
    `<text x="${(pad.l + W - pad.r) / 2}" y="${H - 12}" text-anchor="middle">DB size (MiB, log scale)</text>`,
    `<text x="16" y="${(pad.t + H - pad.b) / 2}" transform="rotate(-90 16 ${(pad.t + H - pad.b) / 2})" text-anchor="middle">seconds (median, log scale)</text>`,
  ];
  for (let x = 2 ** Math.ceil(Math.log2(minX)); x <= maxX; x *= 2)
    out.push(`<text x="${lx(x).toFixed(1)}" y="${H - pad.b + 15}" text-anchor="middle">${x}</text>`);
  for (const y of [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000])
    if (y >= minY && y <= maxY) {
      out.push(`<text x="${pad.l - 6}" y="${(ly(y) + 4).toFixed(1)}" text-anchor="end">${y}</text>`);
      out.push(
        `<line x1="${pad.l}" y1="${ly(y).toFixed(1)}" x2="${W - pad.r}" y2="${ly(y).toFixed(1)}" stroke="#eee"/>`,
      );
    }
  series.forEach((s, i) => {
    const pts = s.points.map(([px, py]) => `${lx(px).toFixed(1)},${ly(py).toFixed(1)}`).join(" ");
    const dash = s.dashed ? ` stroke-dasharray="5,4"` : "";
    out.push(`<polyline points="${pts}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>`);
    for (const [px, py] of s.points)
      out.push(`<circle cx="${lx(px).toFixed(1)}" cy="${ly(py).toFixed(1)}" r="3" fill="${s.color}"/>`);
    const y = pad.t + 10 + i * 18;
    out.push(
      `<line x1="${W - pad.r + 10}" y1="${y}" x2="${W - pad.r + 30}" y2="${y}" stroke="${s.color}" stroke-width="2"${dash}/>`,
    );
    out.push(`<text x="${W - pad.r + 35}" y="${y + 4}">${s.label}</text>`);
  });
  if (note)
    out.push(
      `<text x="${W - pad.r + 10}" y="${pad.t + 20 + series.length * 18}" font-size="10" fill="#555">${note}</text>`,
    );
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}

export function snapshotSvg(r: SnapshotResult, big?: BigSnapshotResult): string {
  const withBig = (pts: [number, number][], extra?: number): [number, number][] =>
    big && extra !== undefined ? [...pts, [mibOf(big.dbBytes), extra]] : pts;
  const series: Series[] = [
    {
      label: "bare etcdctl snapshot save",
      color: "#1b9e77",
      points: withBig(
        r.sizes.map((s) => [mibOf(s.dbBytes), s.bareSave.medianSeconds]),
        big?.bareSave.medianSeconds,
      ),
    },
    {
      label: "snapshot job (after)",
      color: "#d95f02",
      points: withBig(
        r.sizes.map((s) => [mibOf(s.dbBytes), s.job.medianSeconds]),
        big?.job.medianSeconds,
      ),
    },
  ];
  if (r.sizes.every((s) => s.jobBefore))
    series.push({
      label: "snapshot.sh (before)",
      color: "#7570b3",
      dashed: true,
      points: r.sizes.map((s) => [mibOf(s.dbBytes), s.jobBefore!.medianSeconds]),
    });
  return plot(`Snapshot path vs bare save, etcd ${r.etcd}`, series, big ? "largest DB: one run" : undefined);
}

export function restoreSvg(r: SnapshotResult): string {
  const series: Series[] = [
    {
      label: "bare etcdutl snapshot restore",
      color: "#66a61e",
      points: r.sizes.map((s) => [mibOf(s.dbBytes), s.bareRestore.medianSeconds]),
    },
    {
      label: "restore tool (after)",
      color: "#e7298a",
      points: r.sizes.map((s) => [mibOf(s.dbBytes), s.restoreTool.medianSeconds]),
    },
  ];
  if (r.sizes.every((s) => s.restoreToolBefore))
    series.push({
      label: "restore tool (before)",
      color: "#a6761d",
      dashed: true,
      points: r.sizes.map((s) => [mibOf(s.dbBytes), s.restoreToolBefore!.medianSeconds]),
    });
  return plot(`Restore (one member) vs bare restore, etcd ${r.etcd}`, series);
}

/**
 * bench/apiserver.svg: what each encryption provider costs a Secret write through kube-apiserver, as
 * bars of throughput ÷ identity and p99 ÷ identity per provider, with the 0.90 throughput target.
 */
export function apiserverSvg(r: ApiserverResult): string {
  const bars = [
    { label: "throughput ÷ identity", color: "#1b9e77", of: (p: ProviderFigures) => p.throughputRatio },
    { label: "p99 latency ÷ identity", color: "#d95f02", of: (p: ProviderFigures) => p.p99Ratio },
    { label: "apiserver CPU/Secret ÷ identity", color: "#7570b3", of: (p: ProviderFigures) => p.cpuRatio },
  ];
  const providers = apiserverProviders.map((name) => ({ name, f: r.providers[name] }));
  const maxY = Math.max(1.2, ...providers.flatMap((p) => bars.map((b) => b.of(p.f)))) * 1.1;
  const ly = (v: number) => H - pad.b - (v / maxY) * (H - pad.t - pad.b);
  const group = (W - pad.l - pad.r) / providers.length;
  const barW = (group * 0.7) / bars.length;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${(pad.l + W - pad.r) / 2}" y="18" font-size="13" text-anchor="middle">Secret writes through kube-apiserver ${r.kubeApiserver}: encryption provider cost</text>`,
    `<line x1="${pad.l}" y1="${H - pad.b}" x2="${W - pad.r}" y2="${H - pad.b}" stroke="black"/>`,
    `<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${H - pad.b}" stroke="black"/>`,
    `<text x="16" y="${(pad.t + H - pad.b) / 2}" transform="rotate(-90 16 ${(pad.t + H - pad.b) / 2})" text-anchor="middle">ratio to identity (median of ${r.runs} runs)</text>`,
  ];
  for (let y = 0; y <= maxY; y += 0.2) {
    out.push(`<text x="${pad.l - 6}" y="${(ly(y) + 4).toFixed(1)}" text-anchor="end">${y.toFixed(1)}</text>`);
    out.push(
      `<line x1="${pad.l}" y1="${ly(y).toFixed(1)}" x2="${W - pad.r}" y2="${ly(y).toFixed(1)}" stroke="#eee"/>`,
    );
  }
  out.push(
    `<line x1="${pad.l}" y1="${ly(0.9).toFixed(1)}" x2="${W - pad.r}" y2="${ly(0.9).toFixed(1)}" stroke="#1b9e77" stroke-dasharray="5,4"/>`,
  );
  providers.forEach((p, i) => {
    const x0 = pad.l + i * group + group * 0.15;
    bars.forEach((b, j) => {
      const v = b.of(p.f);
      out.push(
        `<rect x="${(x0 + j * barW).toFixed(1)}" y="${ly(v).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(ly(0) - ly(v)).toFixed(1)}" fill="${b.color}"/>`,
        `<text x="${(x0 + j * barW + barW / 2).toFixed(1)}" y="${(ly(v) - 3).toFixed(1)}" text-anchor="middle" font-size="9">${v.toFixed(2)}</text>`,
      );
    });
    const label = p.name === r.defaultProvider ? `${p.name} (default)` : p.name === "kms" ? "kms v2" : p.name;
    out.push(
      `<text x="${(pad.l + (i + 0.5) * group).toFixed(1)}" y="${H - pad.b + 15}" text-anchor="middle">${label}</text>`,
      `<text x="${(pad.l + (i + 0.5) * group).toFixed(1)}" y="${H - pad.b + 28}" text-anchor="middle" font-size="9" fill="#555">${p.f.secretsPerSec.toFixed(0)} Secrets/s</text>`,
      `<text x="${(pad.l + (i + 0.5) * group).toFixed(1)}" y="${H - pad.b + 40}" text-anchor="middle" font-size="9" fill="#555">p99 ${p.f.p99Ms.toFixed(0)} ms</text>`,
    );
  });
  bars.forEach((b, i) => {
    const y = pad.t + 10 + i * 18;
    out.push(
      `<rect x="${W - pad.r + 10}" y="${y - 6}" width="20" height="10" fill="${b.color}"/>`,
      `<text x="${W - pad.r + 35}" y="${y + 4}">${b.label}</text>`,
    );
  });
  const notes = [
    "dashed: target ≥ 0.90 (default provider)",
    `${r.secretsPerRun} Secrets × ${r.valueBytes} B per run,`,
    `${r.concurrency} in flight; etcd ${r.pinning.etcd}`,
  ];
  notes.forEach((n, i) =>
    out.push(`<text x="${W - pad.r + 10}" y="${pad.t + 70 + i * 14}" font-size="10" fill="#555">${n}</text>`),
  );
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
