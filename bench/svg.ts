/** bench/snapshot.svg, hand-written from the data: snapshot time vs DB size, one line per variant. */
import type { SnapshotResult } from "./snapshotPath";

const W = 640;
const H = 400;
const pad = { l: 60, r: 170, t: 30, b: 50 };

interface Series {
  label: string;
  color: string;
  points: [mib: number, seconds: number][];
}

export function snapshotSvg(r: SnapshotResult): string {
  const mib = (b: number) => b / 1024 / 1024;
  const series: Series[] = [
    {
      label: "bare etcdctl snapshot save",
      color: "#1b9e77",
      points: r.sizes.map((s) => [mib(s.dbBytes), s.bareSave.medianSeconds]),
    },
    {
      label: "snapshot.sh (after)",
      color: "#d95f02",
      points: r.sizes.map((s) => [mib(s.dbBytes), s.script.medianSeconds]),
    },
    {
      label: "bare snapshot restore",
      color: "#66a61e",
      points: r.sizes.map((s) => [mib(s.dbBytes), s.bareRestore.medianSeconds]),
    },
    {
      label: "restore tool",
      color: "#e7298a",
      points: r.sizes.map((s) => [mib(s.dbBytes), s.restoreTool.medianSeconds]),
    },
  ];
  if (r.sizes.every((s) => s.scriptBefore))
    series.splice(2, 0, {
      label: "snapshot.sh (before)",
      color: "#7570b3",
      points: r.sizes.map((s) => [mib(s.dbBytes), s.scriptBefore!.medianSeconds]),
    });
  const maxX = Math.max(...series.flatMap((s) => s.points.map((p) => p[0]))) * 1.05;
  const maxY = Math.max(...series.flatMap((s) => s.points.map((p) => p[1]))) * 1.1;
  const x = (v: number) => pad.l + (v / maxX) * (W - pad.l - pad.r);
  const y = (v: number) => H - pad.b - (v / maxY) * (H - pad.t - pad.b);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - 60}" y="18" font-size="13" text-anchor="middle">Snapshot and restore time vs DB size (median)</text>`,
    `<line x1="${pad.l}" y1="${H - pad.b}" x2="${W - pad.r}" y2="${H - pad.b}" stroke="black"/>`,
    `<line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${H - pad.b}" stroke="black"/>`,
    `<text x="${(pad.l + W - pad.r) / 2}" y="${H - 12}" text-anchor="middle">DB size (MiB)</text>`,
    `<text x="16" y="${(pad.t + H - pad.b) / 2}" transform="rotate(-90 16 ${(pad.t + H - pad.b) / 2})" text-anchor="middle">seconds</text>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const vx = (maxX / 5) * i;
    const vy = (maxY / 5) * i;
    out.push(`<text x="${x(vx)}" y="${H - pad.b + 15}" text-anchor="middle">${Math.round(vx)}</text>`);
    out.push(
      `<text x="${pad.l - 6}" y="${y(vy) + 4}" text-anchor="end">${vy.toFixed(vy < 10 ? 1 : 0)}</text>`,
    );
    out.push(`<line x1="${pad.l}" y1="${y(vy)}" x2="${W - pad.r}" y2="${y(vy)}" stroke="#eee"/>`);
  }
  series.forEach((s, i) => {
    const pts = s.points.map(([px, py]) => `${x(px).toFixed(1)},${y(py).toFixed(1)}`).join(" ");
    out.push(`<polyline points="${pts}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    for (const [px, py] of s.points)
      out.push(`<circle cx="${x(px).toFixed(1)}" cy="${y(py).toFixed(1)}" r="3" fill="${s.color}"/>`);
    const ly = pad.t + 10 + i * 18;
    out.push(
      `<line x1="${W - pad.r + 10}" y1="${ly}" x2="${W - pad.r + 30}" y2="${ly}" stroke="${s.color}" stroke-width="2"/>`,
    );
    out.push(`<text x="${W - pad.r + 35}" y="${ly + 4}">${s.label}</text>`);
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
