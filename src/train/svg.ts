/** The loss curve as a self-contained SVG: raw per-step loss, its moving average, and validation MAP when there is any. */

const W = 720;
const H = 360;
const PAD = { left: 56, right: 56, top: 28, bottom: 40 };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(2));

/** At most `max` evenly spaced [x, y] points of `ys` (x = step, starting at 1). */
function thin(ys: number[], max: number): [number, number][] {
  const stride = Math.max(1, Math.ceil(ys.length / max));
  const out: [number, number][] = [];
  for (let i = 0; i < ys.length; i += stride) out.push([i + 1, ys[i]]);
  if (ys.length > 0 && out[out.length - 1][0] !== ys.length) out.push([ys.length, ys[ys.length - 1]]);
  return out;
}

/** Renders the training loss per step (and validation MAP on a right-hand axis). Sync; returns the SVG text. */
export function lossCurveSvg(
  losses: number[],
  validation: { step: number; map: number }[] = [],
  title = 'jobbert train: InfoNCE loss',
): string {
  const steps = Math.max(1, losses.length);
  let lo = 0;
  let hi = 1e-6;
  for (const v of losses) {
    if (!Number.isFinite(v)) continue;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const x = (s: number) => PAD.left + ((s - 1) / Math.max(1, steps - 1)) * (W - PAD.left - PAD.right);
  const y = (v: number) => PAD.top + (1 - (v - lo) / (hi - lo)) * (H - PAD.top - PAD.bottom);
  const yMap = (v: number) => PAD.top + (1 - v) * (H - PAD.top - PAD.bottom);
  const path = (pts: [number, number][], to: (v: number) => number) =>
    pts.map(([s, v], i) => `${i ? 'L' : 'M'}${x(s).toFixed(1)},${to(v).toFixed(1)}`).join('');
  const window = Math.max(1, Math.round(steps / 50));
  const smooth: number[] = [];
  let sum = 0;
  losses.forEach((v, i) => {
    sum += v;
    if (i >= window) sum -= losses[i - window];
    smooth.push(sum / Math.min(i + 1, window));
  });
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="16" text-anchor="middle" font-size="13">${esc(title)}</text>`,
  ];
  for (let k = 0; k <= 4; k++) {
    const v = lo + ((hi - lo) * k) / 4;
    parts.push(`<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#eee"/>`);
    parts.push(`<text x="${PAD.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${fmt(v)}</text>`);
  }
  for (let k = 0; k <= 4; k++) {
    const s = 1 + Math.round(((steps - 1) * k) / 4);
    parts.push(`<text x="${x(s).toFixed(1)}" y="${H - PAD.bottom + 16}" text-anchor="middle">${s}</text>`);
  }
  parts.push(`<text x="${W / 2}" y="${H - 6}" text-anchor="middle">step</text>`);
  parts.push(`<text x="14" y="${H / 2}" text-anchor="middle" transform="rotate(-90 14 ${H / 2})">loss</text>`);
  parts.push(
    `<rect x="${PAD.left}" y="${PAD.top}" width="${W - PAD.left - PAD.right}" height="${H - PAD.top - PAD.bottom}" fill="none" stroke="#999"/>`,
  );
  if (losses.length > 0) {
    parts.push(`<path d="${path(thin(losses, 2000), y)}" fill="none" stroke="#9ecae1" stroke-width="1"/>`);
    parts.push(`<path d="${path(thin(smooth, 2000), y)}" fill="none" stroke="#08519c" stroke-width="2"/>`);
  }
  if (validation.length > 0) {
    for (let k = 0; k <= 4; k++)
      parts.push(`<text x="${W - PAD.right + 6}" y="${(yMap(k / 4) + 4).toFixed(1)}" fill="#d94801">${(k / 4).toFixed(2)}</text>`);
    parts.push(
      `<text x="${W - 12}" y="${H / 2}" text-anchor="middle" fill="#d94801" transform="rotate(90 ${W - 12} ${H / 2})">validation MAP</text>`,
    );
    parts.push(
      `<path d="${path(
        validation.map((v) => [v.step, v.map] as [number, number]),
        yMap,
      )}" fill="none" stroke="#d94801" stroke-width="2"/>`,
    );
    for (const v of validation) parts.push(`<circle cx="${x(v.step).toFixed(1)}" cy="${yMap(v.map).toFixed(1)}" r="3" fill="#d94801"/>`);
  }
  const last = losses.length
    ? `last ${fmt(losses[losses.length - 1])}, mean of last ${window}: ${fmt(smooth[smooth.length - 1])}`
    : 'no steps';
  parts.push(`<text x="${PAD.left + 6}" y="${PAD.top + 14}" fill="#08519c">${esc(last)}</text>`);
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
