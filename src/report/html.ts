// The HTML report: one self-contained page (styles and script inline, nothing loaded from the
// network) with, per model, the property x variant table of `diff` whose cells link to their
// traces, the run figures, and per violation an SVG swimlane diagram: one lane per CPU named by
// its kernel function, one box per step (click or hover: the fields it changed), lock hold
// intervals shaded per lock, the two accesses of a data race joined by a line, a lasso's
// repeating part marked. Pure string building: no DOM here; every text from a model is escaped.

import type { TraceDoc } from "../trace/document.ts";

export interface ReportTrace {
  /** Anchor of the trace in the page (unique). */
  readonly id: string;
  /** The trace shown: the equivalent schedule with the fewest context switches. */
  readonly shown: TraceDoc;
  /** The order the checker found, when the one shown differs from it. */
  readonly original: TraceDoc | undefined;
  /** Where it was saved, when it was. */
  readonly file: string | undefined;
  /** The command that replays it. */
  readonly replay: string | undefined;
}

export interface ReportVariant {
  readonly name: string;
  readonly verdict: string;
  /** Whether the verdict is the declared one (undefined: nothing declared). */
  readonly asDeclared: boolean | undefined;
  readonly declaredDetail: string | undefined;
  readonly complete: boolean;
  readonly stopReason: string | undefined;
  readonly states: number;
  readonly transitions: number;
  readonly seconds: number;
  readonly memoryBytes: number;
  readonly params: Readonly<Record<string, number | string>>;
  /** Cell text per property: holds, violated (N), incomplete, off, error, - */
  readonly cells: Readonly<Record<string, string>>;
  /** Trace anchor per violated property. */
  readonly traceIds: Readonly<Record<string, string>>;
  readonly error: string | undefined;
}

export interface ReportModel {
  readonly name: string;
  readonly doc: string;
  readonly file: string;
  readonly properties: readonly { name: string; declared: boolean }[];
  readonly variants: readonly ReportVariant[];
  readonly traces: readonly ReportTrace[];
}

export interface ReportInput {
  readonly title: string;
  readonly generated: string;
  readonly command: string;
  readonly models: readonly ReportModel[];
}

/** Text made safe in HTML content and in attribute values. */
export function esc(s: unknown): string {
  return String(s)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/** JSON inside a <script> element: nothing in it can close the element. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/** An anchor name from free text. */
export function anchor(...parts: string[]): string {
  return parts.map((p) => p.replace(/[^A-Za-z0-9_-]+/g, "_")).join("--");
}

const LANE_W = 330;
const ROW_H = 30;
const BOX_H = 24;
const HEAD_H = 44;
const LEFT = 64;
const LOCK_COLOURS = ["#f4a261", "#2a9d8f", "#8ab17d", "#e76f51", "#a08cd6", "#e9c46a"];

/** One colour per lock, by its name (the same lock keeps its colour across variants). */
function lockColour(name: string): string {
  let h = 7;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return LOCK_COLOURS[h % LOCK_COLOURS.length]!;
}

/** At most n characters, with an ellipsis when cut. */
function clip(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

/**
 * The swimlane diagram of one trace. Time runs down: row i holds step i in its CPU's lane.
 * `id` prefixes the ids of its elements.
 */
export function swimlaneSvg(doc: TraceDoc, id: string): string {
  const lanes = doc.lanes;
  const laneX = new Map(lanes.map((l, k) => [l.cpu, LEFT + k * LANE_W]));
  const n = doc.steps.length;
  const rows = n + (doc.race ? 1 : 0);
  const width = LEFT + lanes.length * LANE_W + 16;
  const height = HEAD_H + rows * ROW_H + (doc.race ? 48 : 24);
  const y = (i: number): number => HEAD_H + i * ROW_H;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="swimlane" id="${esc(id)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(`${doc.model} / ${doc.variant}: ${doc.property}, ${n} steps`)}">`,
  );
  // lanes and their headers
  for (const l of lanes) {
    const x = laneX.get(l.cpu)!;
    out.push(
      `<g class="lane" data-cpu="${l.cpu}" data-name="${esc(l.name)}">` +
        `<rect class="lane-bg" x="${x}" y="0" width="${LANE_W - 8}" height="${height}"/>` +
        `<text class="lane-head" x="${x + 8}" y="18">CPU${l.cpu}</text>` +
        `<text class="lane-func" x="${x + 8}" y="34">${esc(clip(l.name, 38))}<title>${esc(l.name)}</title></text>` +
        `</g>`,
    );
  }
  // lock hold intervals, behind the boxes
  for (const h of doc.locks) {
    const x = laneX.get(h.cpu);
    if (x === undefined) continue;
    const top = h.from < 0 ? HEAD_H - 4 : y(h.from);
    const bottom = y(h.to) + BOX_H + 3;
    const inset = 3 + (h.index % 3) * 3;
    const colour = lockColour(h.lock);
    out.push(
      `<rect class="lock-hold" data-lock="${esc(h.lock)}" data-cpu="${h.cpu}" data-from="${h.from}" data-to="${h.to}" ` +
        `x="${x - inset}" y="${top - 3}" width="${LANE_W - 8 + 2 * inset}" height="${bottom - top + 3}" ` +
        `fill="${colour}" fill-opacity="0.22" stroke="${colour}" stroke-dasharray="${h.released ? "none" : "4 3"}">` +
        `<title>${esc(`${h.lock} held by CPU${h.cpu} from step ${h.from < 0 ? "(start)" : h.from + 1} to ${h.released ? `step ${h.to + 1}` : "the end"}`)}</title></rect>`,
    );
  }
  // a lasso: the repeating part
  if (doc.cycleStart !== undefined) {
    const top = y(doc.cycleStart) - 3;
    const bottom = y(n - 1) + BOX_H + 3;
    out.push(
      `<g class="cycle" data-cycle-start="${doc.cycleStart}">` +
        `<rect class="cycle-band" x="4" y="${top}" width="${width - 8}" height="${bottom - top}"/>` +
        `<path class="cycle-arrow" d="M ${LEFT - 14} ${bottom} C ${LEFT - 50} ${bottom}, ${LEFT - 50} ${top}, ${LEFT - 14} ${top}" marker-end="url(#${esc(id)}-arrow)"/>` +
        `<text class="cycle-text" transform="rotate(-90 16 ${(top + bottom) / 2})" x="16" y="${(top + bottom) / 2}" text-anchor="middle">repeats</text>` +
        `<title>steps ${doc.cycleStart + 1} to ${n} repeat forever</title></g>`,
    );
  }
  out.push(
    `<defs><marker id="${esc(id)}-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z"/></marker></defs>`,
  );
  // the steps
  doc.steps.forEach((s, i) => {
    const x = laneX.get(s.cpu)!;
    const changed = s.changes.map((c) => `${c.name} ${c.from} → ${c.to}`);
    const tip = [`${i + 1}. CPU${s.cpu}: ${s.label}`, ...changed.map((c) => `  ${c}`)].join("\n");
    out.push(
      `<g class="step" id="${esc(id)}-s${i}" data-step="${i}" data-cpu="${s.cpu}" data-label="${esc(s.label)}" tabindex="0">` +
        `<rect class="box${s.changes.length ? " changed" : ""}" x="${x}" y="${y(i)}" width="${LANE_W - 8}" height="${BOX_H}" rx="4"/>` +
        `<text class="num" x="${LEFT - 10}" y="${y(i) + 16}" text-anchor="end">${i + 1}</text>` +
        `<text class="label" x="${x + 6}" y="${y(i) + 16}">${esc(clip(s.label, 42))}</text>` +
        `<title>${esc(tip)}</title></g>`,
    );
  });
  // the data race: both CPUs' next steps, joined
  if (doc.race) {
    const r = doc.race;
    const ry = y(n);
    const pend = (
      a: { cpu: number; label: string; write: boolean; marked: boolean },
      k: string,
    ): string => {
      const x = laneX.get(a.cpu)!;
      return (
        `<g class="race-access" data-cpu="${a.cpu}" data-access="${k}" data-write="${a.write}" data-marked="${a.marked}">` +
        `<rect class="pending" x="${x}" y="${ry}" width="${LANE_W - 8}" height="${BOX_H}" rx="4"/>` +
        `<text class="label" x="${x + 6}" y="${ry + 16}">${esc(clip(`${a.write ? "W" : "R"} ${a.label}`, 42))}</text>` +
        `<title>${esc(`next step of CPU${a.cpu}: ${a.label} (${a.marked ? "marked" : "plain"} ${a.write ? "write of" : "read of"} ${r.field})`)}</title></g>`
      );
    };
    // the two accesses joined by an arc under their boxes, from the middle of one to the other
    const ca = laneX.get(r.a.cpu)! + (LANE_W - 8) / 2;
    const cb = laneX.get(r.b.cpu)! + (LANE_W - 8) / 2;
    const base = ry + BOX_H;
    out.push(
      pend(r.a, "a"),
      pend(r.b, "b"),
      `<path class="race-line" data-field="${esc(r.field)}" d="M ${ca} ${base} Q ${(ca + cb) / 2} ${base + 30} ${cb} ${base}"><title>${esc(`data race on ${r.field}`)}</title></path>`,
      `<circle class="race-end" cx="${ca}" cy="${base}" r="3.5"/><circle class="race-end" cx="${cb}" cy="${base}" r="3.5"/>`,
      `<text class="race-text" x="${(ca + cb) / 2}" y="${base + 34}" text-anchor="middle">${esc(clip(`data race on ${r.field}`, 60))}</text>`,
    );
  }
  out.push("</svg>");
  return out.join("\n");
}

function figures(v: ReportVariant): string {
  const mb = (v.memoryBytes / 2 ** 20).toFixed(1);
  return (
    `<tr data-variant="${esc(v.name)}"><td>${esc(v.name)}</td><td class="verdict ${esc(v.verdict)}">${esc(v.verdict)}</td>` +
    `<td>${v.asDeclared === undefined ? "-" : v.asDeclared ? "as declared" : `<b class="bad">NOT as declared</b>: ${esc(v.declaredDetail ?? "")}`}</td>` +
    `<td class="num">${v.states}</td><td class="num">${v.transitions}</td><td class="num">${v.seconds.toFixed(2)}</td>` +
    `<td class="num">${mb}</td><td>${v.complete ? "complete" : `incomplete${v.stopReason ? ` (${esc(v.stopReason)})` : ""}`}</td></tr>`
  );
}

function diffTableHtml(m: ReportModel): string {
  const head = m.variants.map((v) => `<th>${esc(v.name)}</th>`).join("");
  const rows = m.properties.map((p) => {
    const cells = m.variants.map((v) => {
      const text = v.cells[p.name] ?? "-";
      const tid = v.traceIds[p.name];
      const cls = text.startsWith("violated") ? "violated" : text.replace(/[^a-z-]/g, "");
      const inner = tid ? `<a href="#${esc(tid)}">${esc(text)}</a>` : esc(text);
      return `<td class="cell ${esc(cls)}" data-property="${esc(p.name)}" data-variant="${esc(v.name)}">${inner}</td>`;
    });
    return `<tr><th class="prop">${esc(p.name)}${p.declared ? "" : " *"}</th>${cells.join("")}</tr>`;
  });
  return `<table class="diff"><thead><tr><th>property</th>${head}</tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

function traceSection(m: ReportModel, t: ReportTrace): string {
  const d = t.shown;
  const o = t.original;
  const reorderNote = o
    ? `<div class="reorder">Shown with ${d.switches} context switch${d.switches === 1 ? "" : "es"}: the same steps as the trace the checker found (${o.switches} switches), independent steps reordered (happens-before kept). <details><summary>the order found by the checker</summary>${swimlaneSvg(o, `${t.id}-orig`)}<p class="sched">schedule: <code>${esc(o.schedule)}</code></p></details></div>`
    : d.cycleStart !== undefined
      ? `<div class="reorder">A lasso: steps ${d.cycleStart + 1} to ${d.steps.length} repeat forever; shown in the order found (the repeating part stays in one piece).</div>`
      : `<div class="reorder">${d.switches} context switch${d.switches === 1 ? "" : "es"}: no equivalent order has fewer.</div>`;
  const steps = d.steps.map((s, i) => ({
    n: i + 1,
    cpu: s.cpu,
    label: s.label,
    funcs: s.funcs,
    site: s.site,
    changes: s.changes,
  }));
  return `<section class="trace" id="${esc(t.id)}" data-model="${esc(m.name)}" data-variant="${esc(d.variant)}" data-property="${esc(d.property)}" data-steps="${d.steps.length}">
<h3>${esc(d.model)} / ${esc(d.variant)}: ${esc(d.property)} <span class="kind">(${esc(d.kind)}, ${d.steps.length} steps)</span></h3>
<p class="message">${esc(d.message)}</p>
${reorderNote}
<p class="replay">replay: <code>${esc(t.replay ?? "(not saved: run with --save DIR to get a file to replay)")}</code>${t.file ? `<br>saved: <code class="file">${esc(t.file)}</code>` : ""}<br>schedule shown: <code>${esc(d.schedule)}</code></p>
<div class="diagram">${swimlaneSvg(d, `${t.id}-svg`)}
<aside class="details" id="${esc(t.id)}-details" aria-live="polite"><p class="hint">Click a step to see the fields it changed.</p></aside></div>
<script type="application/json" class="steps-data" data-for="${esc(t.id)}-svg">${scriptJson(steps)}</script>
</section>`;
}

const STYLE = `
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1d2330;background:#fbfbfd}
h1{font-size:22px}h2{font-size:19px;margin-top:36px;border-bottom:1px solid #ccd}h3{font-size:16px}
code{font:12.5px ui-monospace,"DejaVu Sans Mono",monospace;background:#eef0f5;padding:1px 4px;border-radius:3px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #d5d8e2;padding:3px 8px;text-align:left}
th{background:#eef0f5}td.num{text-align:right;font-variant-numeric:tabular-nums}
.cell.violated{background:#fde2e1}.cell.holds{background:#e3f4e6}.cell.incomplete{background:#fff4d6}.cell.off{color:#888}
.verdict.violated{color:#b3261e;font-weight:600}.verdict.holds{color:#1e7b34;font-weight:600}.bad{color:#b3261e}
.trace{margin:24px 0;padding:12px 16px;background:#fff;border:1px solid #dde;border-radius:6px}
.kind{color:#667;font-weight:normal}.message{color:#b3261e}
.diagram{display:flex;gap:16px;align-items:flex-start;overflow-x:auto}
.details{min-width:280px;max-width:420px;position:sticky;top:8px;background:#f5f6fa;border:1px solid #dde;border-radius:6px;padding:8px 12px;font-size:13px}
.details .fields{font:12px ui-monospace,"DejaVu Sans Mono",monospace;margin:4px 0;padding-left:16px}
svg.swimlane{font:12px ui-monospace,"DejaVu Sans Mono",monospace;flex:none}
svg .lane-bg{fill:#f3f5fa}svg .lane-head{font-weight:700;font-size:13px}svg .lane-func{fill:#445}
svg .box{fill:#fff;stroke:#8a93a8}svg .box.changed{fill:#eef5ff}
svg .step{cursor:pointer}svg .step:hover .box,svg .step:focus .box{stroke:#1b5fd1;stroke-width:2}
svg .step.selected .box{stroke:#1b5fd1;stroke-width:2.5;fill:#dbe8ff}
svg .num{fill:#889}svg .pending{fill:#fff;stroke:#b3261e;stroke-dasharray:5 3}
svg .race-line{fill:none;stroke:#b3261e;stroke-width:2.5}svg .race-end{fill:#b3261e}svg .race-text{fill:#b3261e;font-weight:700}
svg .cycle-band{fill:#6c4ee0;fill-opacity:.07;stroke:#6c4ee0;stroke-dasharray:6 4}
svg .cycle-arrow{fill:none;stroke:#6c4ee0;stroke-width:2}svg .cycle-text{fill:#6c4ee0;font-weight:700}
.legend span{display:inline-block;margin-right:12px}.legend i{display:inline-block;width:14px;height:10px;margin-right:4px;opacity:.6}
`;

const SCRIPT = `
(function(){
  function show(svg, g){
    var data = JSON.parse(document.querySelector('script.steps-data[data-for="'+svg.id+'"]').textContent);
    var s = data[Number(g.getAttribute('data-step'))];
    var box = document.getElementById(svg.id.replace(/-svg$/,'')+'-details');
    svg.querySelectorAll('.step.selected').forEach(function(e){e.classList.remove('selected');});
    g.classList.add('selected');
    box.textContent = '';
    var h = document.createElement('p'); h.className='step-title';
    h.textContent = s.n + '. CPU' + s.cpu + ': ' + s.label; box.appendChild(h);
    var w = document.createElement('p'); w.className='where';
    w.textContent = (s.funcs ? s.funcs + ' \\u2014 ' : '') + s.site; box.appendChild(w);
    var ul = document.createElement('ul'); ul.className='fields';
    if (s.changes.length === 0) { var li=document.createElement('li'); li.textContent='(no field changed)'; ul.appendChild(li); }
    s.changes.forEach(function(c){ var li=document.createElement('li'); li.className='field';
      li.textContent = c.name + ': ' + c.from + ' \\u2192 ' + c.to; ul.appendChild(li); });
    box.appendChild(ul);
  }
  document.querySelectorAll('svg.swimlane').forEach(function(svg){
    if (!document.querySelector('script.steps-data[data-for="'+svg.id+'"]')) return;
    svg.querySelectorAll('.step').forEach(function(g){
      g.addEventListener('click', function(){ show(svg, g); });
      g.addEventListener('keydown', function(e){ if (e.key==='Enter'||e.key===' ') { e.preventDefault(); show(svg, g); } });
    });
  });
})();
`;

function lockLegend(m: ReportModel): string {
  const locks = new Set<string>();
  for (const t of m.traces) for (const h of t.shown.locks) locks.add(h.lock);
  if (locks.size === 0) return "";
  return `<p class="legend">locks held: ${[...locks]
    .sort()
    .map((name) => `<span><i style="background:${lockColour(name)}"></i>${esc(name)}</span>`)
    .join("")}</p>`;
}

export function reportHtml(input: ReportInput): string {
  const toc = input.models
    .map(
      (m) =>
        `<li><a href="#${esc(anchor("model", m.name))}">${esc(m.name)}</a> (${m.traces.length} trace${m.traces.length === 1 ? "" : "s"})</li>`,
    )
    .join("");
  const body = input.models.map((m) => {
    const runs = `<table class="figures"><thead><tr><th>variant</th><th>verdict</th><th>declared</th><th>states</th><th>transitions</th><th>seconds</th><th>memory (MB)</th><th>search</th></tr></thead><tbody>${m.variants.map(figures).join("")}</tbody></table>`;
    const errors = m.variants
      .filter((v) => v.error)
      .map((v) => `<p class="bad">${esc(v.name)}: ${esc(v.error)}</p>`)
      .join("");
    return `<section class="model" id="${esc(anchor("model", m.name))}" data-model="${esc(m.name)}">
<h2>${esc(m.name)}</h2><p>${esc(m.doc)} <code>${esc(m.file)}</code></p>
${diffTableHtml(m)}
${runs}${errors}${lockLegend(m)}
${m.traces.map((t) => traceSection(m, t)).join("\n")}
</section>`;
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(input.title)}</title>
<style>${STYLE}</style></head>
<body>
<h1>${esc(input.title)}</h1>
<p>Generated ${esc(input.generated)} by <code>${esc(input.command)}</code>. Each cell of a table links to its counterexample; click a step of a diagram to see the fields it changed.</p>
<ul class="toc">${toc}</ul>
${body.join("\n")}
<script>${SCRIPT}</script>
</body></html>
`;
}
