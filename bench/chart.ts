// An SVG chart of a benchmark run: throughput and p50 latency per workload, one
// bar per server, on log scales (the protocol ceiling is ~50× the others, and
// would flatten them on a linear one). Plain SVG, so it needs no charting library.

interface Row {
  workload: string;
  server: string;
  perSecond: number;
  p50: number;
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728'];
const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/'/g, '&#39;');

function panel(rows: readonly Row[], value: (r: Row) => number, title: string, top: number): string {
  const workloads = [...new Set(rows.map((r) => r.workload))];
  const servers = [...new Set(rows.map((r) => r.server))];
  const values = rows.map(value).filter((v) => Number.isFinite(v) && v > 0);
  // Bars start one decade below the smallest value, so every bar is visible.
  const low = Math.floor(Math.log10(Math.min(...values, 1))) - 1;
  const high = Math.log10(Math.max(...values, 1));
  const scale = (v: number) => (Math.log10(v) - low) / (high - low);
  const group = 150;
  const bar = (group - 30) / servers.length;
  const height = 200;
  const parts = [`<text x="10" y="${top + 15}" font-weight="bold">${escapeXml(title)}</text>`];
  workloads.forEach((workload, w) => {
    const x0 = 60 + w * group;
    servers.forEach((server, s) => {
      const v = value(rows.find((r) => r.workload === workload && r.server === server) ?? ({} as Row));
      const h = Number.isFinite(v) && v > 0 ? scale(v) * height : 0;
      const x = x0 + s * bar;
      parts.push(
        `<rect x="${x}" y="${top + 30 + height - h}" width="${bar - 2}" height="${h}" fill="${COLORS[s % COLORS.length]}"><title>${escapeXml(`${server}: ${v.toFixed(2)}`)}</title></rect>`,
      );
      parts.push(
        `<text x="${x + bar / 2}" y="${top + 26 + height - h}" font-size="9" text-anchor="middle">${Number.isFinite(v) ? (v >= 100 ? v.toFixed(0) : v.toFixed(1)) : ''}</text>`,
      );
    });
    parts.push(
      `<text x="${x0 + (group - 30) / 2}" y="${top + height + 45}" font-size="11" text-anchor="middle">${escapeXml(workload)}</text>`,
    );
  });
  return parts.join('\n');
}

export function chart(rows: readonly Row[]): string {
  const servers = [...new Set(rows.map((r) => r.server))];
  const width = 60 + new Set(rows.map((r) => r.workload)).size * 150 + 20;
  const legend = servers.map(
    (server, s) =>
      `<rect x="${60 + s * 170}" y="560" width="12" height="12" fill="${COLORS[s % COLORS.length]}"/><text x="${76 + s * 170}" y="571" font-size="12">${escapeXml(server)}</text>`,
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="590" font-family="sans-serif" font-size="12">`,
    '<rect width="100%" height="100%" fill="white"/>',
    panel(rows, (r) => r.perSecond, 'executions per second, log scale (higher is better)', 0),
    panel(rows, (r) => r.p50, 'p50 latency, ms, log scale (lower is better)', 270),
    ...legend,
    '</svg>',
  ].join('\n');
}
