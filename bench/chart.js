'use strict';
// The benchmark's bar chart: one group of bars per scenario, one bar per implementation, each the
// ratio of its figure to ws's in the same run (ws = 1.00, lower is better). Plain hand-written SVG,
// no dependencies. bench/run.js calls renderChart(report) with the report it writes as JSON and
// saves the result as bench/results/<timestamp>.svg (and bench/chart.svg for complete runs).
//
//   node bench/chart.js bench/results/<timestamp>.json > chart.svg   (re-draw an earlier run)

const IMPL_STYLE = {
  'websocket-rs': { color: '#c2542d', label: 'websocket-rs' },
  ws: { color: '#8b9299', label: 'ws (= 1.00)' },
  websocket: { color: '#3d6fa8', label: 'websocket (WebSocket-Node)' },
  uws: { color: '#4f8a3c', label: 'uWS.js (reference)' },
};
const FONT = "DejaVu Sans, Verdana, Arial, Helvetica, sans-serif";

const W = 800;
const LEFT = 16; // label column
const LABEL_W = 206;
const PLOT_X = LEFT + LABEL_W + 14; // where bars start (ratio 0)
const VALUE_ROOM = 118; // room right of the longest bar for its printed value
const PLOT_W = W - 20 - VALUE_ROOM - PLOT_X;
const BAR_H = 15;
const BAR_GAP = 3;
const GROUP_PAD = 9; // above and below the bars of a group
const LINE_H = 15; // scenario title lines (13 px)
const MAX_RATIO = 4; // bars longer than this are cut (and say so)

function esc(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

// Approximate text width (there are no font metrics here): per-character advance widths of
// DejaVu Sans, the widest of the listed fonts (rounded up a little), in em; bold is ~10% wider.
// Narrower fonts (Verdana is about as wide, Arial narrower) only leave more room.
function charEm(c) {
  if ("il.,:;!|'".includes(c)) return 0.3;
  if (' ftrj()[]-/'.includes(c)) return 0.41;
  if ('mwMW%'.includes(c)) return 0.95;
  if (c >= 'A' && c <= 'Z') return 0.74;
  if (c >= '0' && c <= '9') return 0.64;
  return 0.62;
}

function textWidth(s, px, bold = false) {
  let em = 0;
  for (const c of String(s)) em += charEm(c);
  return em * px * (bold ? 1.1 : 1);
}

// Word-wraps `text` into lines at most `width` px wide at `px` font size; at most `maxLines`
// lines, the last one cut with an ellipsis if it does not all fit.
function wrap(text, width, px, maxLines) {
  const fits = (s) => textWidth(s, px) <= width;
  const words = String(text).split(/\s+/).filter(Boolean);
  const lines = [];
  let cur = '';
  for (let w of words) {
    while (!fits(w)) { // a single word longer than a line: split it
      if (cur) {
        lines.push(cur);
        cur = '';
      }
      let n = w.length - 1;
      while (n > 1 && !fits(w.slice(0, n) + '-')) n--;
      lines.push(w.slice(0, n) + '-');
      w = w.slice(n);
    }
    if (!cur) cur = w;
    else if (fits(cur + ' ' + w)) cur += ' ' + w;
    else {
      lines.push(cur);
      cur = w;
    }
  }
  if (cur) lines.push(cur);
  if (lines.length > maxLines) {
    const kept = lines.slice(0, maxLines);
    let last = kept[maxLines - 1] + ' ' + lines[maxLines];
    while (last.length > 1 && !fits(last + '…')) last = last.slice(0, -1);
    kept[maxLines - 1] = last.replace(/[\s,;:(-]+$/, '') + '…';
    return kept;
  }
  return lines;
}

function fmtRatio(r) {
  return r >= 10 ? r.toFixed(1) : r.toFixed(2);
}

function fmtValue(v) {
  if (v >= 1000) return v.toFixed(0);
  if (v >= 100) return v.toFixed(1);
  return v.toFixed(2);
}

function niceStep(max) {
  for (const s of [0.25, 0.5, 1]) if (max / s <= 8) return s;
  return 1;
}

function fmtDate(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
}

// report: the object bench/run.js writes as JSON (date, mode, machine, versions, baseline,
// scenarios[{id, title, metric, results{impl: {status, value, ratioToWs, error}}}], ...).
function renderChart(report) {
  const baseline = report.baseline || 'ws';
  const impls = Object.keys(IMPL_STYLE).filter((i) =>
    report.scenarios.some((sc) => sc.results && i in sc.results));
  const quick = report.mode === 'quick';

  // scale: 0 .. the largest ratio (rounded up to a tick), at least 1.25 so that ws's line is not at
  // the edge, at most MAX_RATIO
  let maxRatio = 1;
  for (const sc of report.scenarios) {
    for (const i of impls) {
      const r = sc.results[i];
      if (r && r.status === 'ok' && typeof r.ratioToWs === 'number') maxRatio = Math.max(maxRatio, r.ratioToWs);
    }
  }
  const capped = Math.min(maxRatio, MAX_RATIO);
  const step = niceStep(capped);
  const axisMax = Math.max(1.25, Math.ceil(capped / step - 1e-9) * step);
  const xOf = (r) => PLOT_X + (Math.min(r, axisMax) / axisMax) * PLOT_W;

  const out = [];
  const text = (x, y, s, attrs = '') => out.push(`<text x="${x.toFixed(1)}" y="${y.toFixed(1)}"${attrs ? ' ' + attrs : ''}>${s}</text>`);

  // ---- header
  let y = 30;
  const title = (impls.includes('uws') ? 'websocket-rs, ws, websocket, uWS.js'
    : 'websocket-rs vs ws vs websocket') + ': cost as a ratio to ws';
  text(LEFT, y, esc(title), 'font-size="18" font-weight="bold" fill="#1d2329"');
  if (quick) { // a badge at the right end of the title line
    const qx = W - 20 - 92;
    out.push(`<rect x="${qx}" y="${y - 15}" width="92" height="21" rx="4" fill="#fbe3c4" stroke="#d9822b"/>`);
    text(qx + 46, y, 'QUICK RUN', 'font-size="12" font-weight="bold" fill="#9a4f05" text-anchor="middle"');
  }
  y += 22;
  const m = report.machine || {};
  const machine = `${m.cpuModel || 'unknown CPU'}, ${m.nproc || '?'} cores`;
  text(LEFT, y, esc(`${fmtDate(report.date)} · node ${m.node || '?'} · ${machine}` +
    (m.kernel ? ` · Linux ${m.kernel}` : '')), 'font-size="12.5" fill="#3c4650"');
  y += 18;
  const v = report.versions || {};
  const vParts = [];
  if (v['websocket-rs']) vParts.push(`websocket-rs ${v['websocket-rs']}${v['websocket-rs commit'] ? ` (${v['websocket-rs commit']})` : ''}`);
  if (v.ws) vParts.push(`ws ${v.ws}`);
  if (v.websocket) vParts.push(`websocket ${v.websocket}`);
  if (v.uws && impls.includes('uws')) vParts.push(`uWS.js ${String(v.uws).replace(/^.* /, '')}`);
  // one line, or two if it does not fit (four versions and the quick-run remark)
  const vLines = wrap(vParts.join(' · ') + (quick ? ' · quick run: fewer operations, noisier figures' : ' · full run'),
    W - 20 - LEFT, 12, 2);
  vLines.forEach((l, k) => {
    if (k > 0) y += 16;
    text(LEFT, y, esc(l), 'font-size="12" fill="#5b6670"');
  });

  // ---- legend
  y += 24;
  let lx = LEFT;
  for (const i of impls) {
    out.push(`<rect x="${lx}" y="${y - 10}" width="12" height="12" rx="2" fill="${IMPL_STYLE[i].color}"/>`);
    text(lx + 17, y, esc(IMPL_STYLE[i].label), 'font-size="12.5" fill="#1d2329"');
    lx += 17 + textWidth(IMPL_STYLE[i].label, 12.5) + 18;
  }
  text(W - 20, y, 'lower is better', 'font-size="12.5" font-weight="bold" fill="#1d2329" text-anchor="end"');

  // ---- axis (top)
  y += 24;
  const axisY = y;
  const groups = report.scenarios.map((sc) => {
    const lines = wrap(sc.title, LABEL_W, 13, 3);
    const barsH = impls.length * BAR_H + (impls.length - 1) * BAR_GAP;
    const labelH = lines.length * LINE_H + 14; // + the metric line
    const h = Math.max(barsH, labelH) + 2 * GROUP_PAD;
    return { sc, lines, barsH, labelH, h };
  });
  const plotTop = axisY + 8;
  const plotH = groups.reduce((a, g) => a + g.h, 0);

  // group backgrounds first, then grid lines over them, then bars
  let gy = plotTop;
  groups.forEach((g, k) => {
    g.bg = k % 2 === 0 ? '#f3f5f7' : '#ffffff';
    out.push(`<rect x="${LEFT - 6}" y="${gy}" width="${W - 2 * (LEFT - 6)}" height="${g.h}" fill="${g.bg}"/>`);
    g.y = gy;
    gy += g.h;
  });
  for (let t = 0; t <= axisMax + 1e-9; t += step) {
    const x = xOf(t);
    const isOne = Math.abs(t - 1) < 1e-9;
    if (!isOne) {
      out.push(`<line x1="${x.toFixed(1)}" y1="${plotTop}" x2="${x.toFixed(1)}" y2="${plotTop + plotH}" stroke="${t === 0 ? '#5b6670' : '#d5dae0'}" stroke-width="1"/>`);
    }
    text(x, axisY, `${t === 0 ? '0' : fmtRatio(t).replace(/0$/, '')}x`,
      `font-size="11" fill="${isOne ? '#1d2329' : '#6b7680'}" text-anchor="middle"${isOne ? ' font-weight="bold"' : ''}`);
  }

  // ws's line, the reference (under the bars and the values' halos)
  const x1 = xOf(1);
  out.push(`<line x1="${x1.toFixed(1)}" y1="${plotTop - 2}" x2="${x1.toFixed(1)}" y2="${plotTop + plotH}" stroke="#1d2329" stroke-width="1.2" stroke-dasharray="5 3"/>`);

  // ---- groups
  for (const g of groups) {
    const sc = g.sc;
    // label block, centred on the group
    let ty = g.y + (g.h - g.labelH) / 2 + 12;
    for (const l of g.lines) {
      text(LEFT, ty, esc(l), 'font-size="13" fill="#1d2329"');
      ty += LINE_H;
    }
    text(LEFT, ty - 1, esc(sc.metric), 'font-size="11" fill="#6b7680"');

    const base = sc.results[baseline];
    const baseOk = base && base.status === 'ok';
    let by = g.y + (g.h - g.barsH) / 2;
    // a grey italic remark in place of a bar, on a patch of the row's background
    const remark = (s, y, cy, why) => {
      if (why) out.push(`<g><title>${esc(why)}</title>`);
      out.push(`<rect x="${PLOT_X + 2}" y="${y}" width="${(textWidth(s, 11.5) + 4).toFixed(1)}" height="${BAR_H}" fill="${g.bg}"/>`);
      text(PLOT_X + 4, cy, esc(s), 'font-size="11.5" font-style="italic" fill="#6b7680"');
      if (why) out.push('</g>');
    };
    for (const i of impls) {
      const r = sc.results[i];
      const cy = by + BAR_H / 2 + 4; // text baseline inside the bar's row
      if (!r) {
        remark('not run', by, cy);
      } else if (r.status === 'failed') {
        out.push(`<g><title>${esc(`${i}: failed${r.error ? ' — ' + r.error : ''}`)}</title>`);
        out.push(`<rect x="${PLOT_X}" y="${by}" width="58" height="${BAR_H}" fill="none" stroke="#b3261e" stroke-dasharray="3 2"/>`);
        text(PLOT_X + 29, cy, 'failed', 'font-size="11.5" font-weight="bold" fill="#b3261e" text-anchor="middle"');
        out.push('</g>');
      } else if (r.status !== 'ok') {
        remark(r.status, by, cy, r.error ? `${i}: ${r.status} — ${r.error}` : null);
      } else if (!baseOk || typeof r.ratioToWs !== 'number') {
        remark(`${fmtValue(r.value)} ${sc.metric} (no ratio: ${baseline} ${base ? base.status : 'not run'})`, by, cy);
      } else {
        const ratio = r.ratioToWs;
        const x2 = xOf(ratio);
        const w = Math.max(1.5, x2 - PLOT_X);
        out.push(`<rect x="${PLOT_X}" y="${by}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${IMPL_STYLE[i].color}">` +
          `<title>${esc(`${i}: ${fmtValue(r.value)} ${sc.metric}, ${fmtRatio(ratio)}x ws`)}</title></rect>`);
        const vx = PLOT_X + w + 5;
        if (ratio > axisMax) {
          // cut bar: a white notch near its end, and the value past the plot
          const nx = PLOT_X + w - 14;
          out.push(`<path d="M${nx} ${by - 1} l5 0 l-3 ${BAR_H + 2} l-5 0 z" fill="#ffffff"/>`);
        }
        // the value on a patch of the row's background, so that grid lines and ws's line do
        // not run through it
        const rs = `${fmtRatio(ratio)}x`;
        const vs = fmtValue(r.value);
        const tw = textWidth(rs, 12, true) + 6 + textWidth(vs, 11);
        out.push(`<rect x="${(vx - 2).toFixed(1)}" y="${by}" width="${(tw + 4).toFixed(1)}" height="${BAR_H}" fill="${g.bg}"/>`);
        out.push(`<text x="${vx.toFixed(1)}" y="${cy.toFixed(1)}" font-size="12">` +
          `<tspan font-weight="bold" fill="#1d2329">${rs}</tspan>` +
          `<tspan fill="#6b7680" font-size="11" dx="6">${esc(vs)}</tspan></text>`);
      }
      by += BAR_H + BAR_GAP;
    }
  }

  // ---- footer
  y = plotTop + plotH + 22;
  const notes = [
    `Ratios to ${baseline} measured in the same run (${baseline} = 1.00x); lower is better for every figure.`,
    'Printed on each bar: the ratio, then the figure itself in the unit under the scenario name',
    '(server CPU per operation; client CPU for the client scenario; RSS per idle connection;',
    'deflate: the server\'s compressed bytes per message, peak RSS growth under a decompression bomb).',
  ];
  if (maxRatio > axisMax) notes.push(`Bars beyond ${axisMax}x are cut (notch); their value is printed.`);
  for (const n of notes) {
    text(LEFT, y, esc(n), 'font-size="12" fill="#3c4650"');
    y += 16;
  }
  text(LEFT, y + 2, 'bench/run.js — see bench/README.md', 'font-size="11" fill="#8b9299"');
  const H = Math.ceil(y + 14);

  return `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ` +
    `font-family="${FONT}" role="img">\n` +
    `<title>${esc(`websocket-rs benchmark, ${quick ? 'quick' : 'full'} run of ${fmtDate(report.date)}: ratios to ${baseline}`)}</title>\n` +
    `<rect width="${W}" height="${H}" fill="#ffffff"/>\n` +
    out.join('\n') + '\n</svg>\n';
}

module.exports = { renderChart };

if (require.main === module) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node bench/chart.js bench/results/<timestamp>.json > chart.svg');
    process.exit(2);
  }
  process.stdout.write(renderChart(JSON.parse(require('fs').readFileSync(file, 'utf8'))));
}
