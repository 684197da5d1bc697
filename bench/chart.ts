/**
 * `npm run bench:chart [-- <concurrency.json> <out.svg>]`: draws throughput against
 * concurrency, the service and its bare baseline, from the `concurrency` scenario's JSON
 * (default `bench/results/concurrency.json`) as an SVG line chart (default
 * `docs/throughput-concurrency.svg`). No dependency: the SVG is written by hand.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

import type { SweepPoint } from './lib/concurrency-plan.ts';
import { RESULTS_DIR } from './lib/results.ts';
import { ROOT } from './lib/spawn.ts';

interface SweepResult {
  images: number;
  points: SweepPoint[];
  shape?: string;
  machine: { cpus: number; model: string; loadAverage: number[]; date: string };
}

const WIDTH = 640;
const HEIGHT = 400;
const MARGIN = { top: 50, right: 150, bottom: 60, left: 60 };
const SERIES = [
  { key: 'bare', label: 'bare sharp loop', colour: '#1f77b4' },
  { key: 'service', label: 'service', colour: '#d62728' },
] as const;

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** A round step for about five ticks up to `max`. */
function tickStep(max: number): number {
  const raw = max / 5;
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? raw;
}

function chart(result: SweepResult): string {
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const points = [...result.points].sort((a, b) => a.concurrency - b.concurrency);
  const top = Math.max(...points.flatMap((p) => [p.bare, p.service])) * 1.1;
  const step = tickStep(top);
  const yMax = Math.ceil(top / step) * step;
  // Concurrencies are spaced evenly (they double), whatever their values.
  const x = (i: number) =>
    MARGIN.left + (points.length === 1 ? plotW / 2 : (i * plotW) / (points.length - 1));
  const y = (v: number) => MARGIN.top + plotH - (v / yMax) * plotH;

  const parts: string[] = [];
  for (let v = 0; v <= yMax + 1e-9; v += step) {
    parts.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`,
      `<text x="${MARGIN.left - 8}" y="${y(v) + 4}" text-anchor="end">${Number(v.toFixed(2))}</text>`,
    );
  }
  points.forEach((p, i) => {
    parts.push(
      `<text x="${x(i)}" y="${MARGIN.top + plotH + 20}" text-anchor="middle">${p.concurrency}</text>`,
      `<text x="${x(i)}" y="${MARGIN.top + plotH + 36}" text-anchor="middle" fill="#555">${p.ratio.toFixed(2)}</text>`,
    );
  });
  SERIES.forEach((s, k) => {
    const coords = points.map((p, i) => `${x(i)},${y(p[s.key])}`).join(' ');
    parts.push(
      `<polyline points="${coords}" fill="none" stroke="${s.colour}" stroke-width="2"/>`,
      ...points.map(
        (p, i) => `<circle cx="${x(i)}" cy="${y(p[s.key])}" r="3.5" fill="${s.colour}"/>`,
      ),
      `<line x1="${WIDTH - MARGIN.right + 15}" x2="${WIDTH - MARGIN.right + 35}" y1="${MARGIN.top + 10 + k * 20}" y2="${MARGIN.top + 10 + k * 20}" stroke="${s.colour}" stroke-width="2"/>`,
      `<text x="${WIDTH - MARGIN.right + 40}" y="${MARGIN.top + 14 + k * 20}">${s.label}</text>`,
    );
  });

  const m = result.machine;
  const title = `Images per second against WORKER_CONCURRENCY (${result.images} images a run, medians)`;
  const note = `${m.cpus} × ${m.model}, load ${m.loadAverage[0] ?? '?'}, ${result.shape ?? 'embedded'}, ${m.date.slice(0, 10)}`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${MARGIN.left}" y="22" font-size="14">${escape(title)}</text>`,
    `<text x="${MARGIN.left}" y="38" fill="#555">${escape(note)}</text>`,
    ...parts,
    `<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 6}" text-anchor="middle">images in flight (second row: service / bare)</text>`,
    `<text transform="translate(16 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">images / s</text>`,
    `</svg>`,
    '',
  ].join('\n');
}

const input = process.argv[2] ?? path.join(RESULTS_DIR, 'concurrency.json');
const output = process.argv[3] ?? path.join(ROOT, 'docs', 'throughput-concurrency.svg');
const result = JSON.parse(await readFile(input, 'utf8')) as SweepResult;
await mkdir(path.dirname(output), { recursive: true });
await writeFile(output, chart(result));
process.stdout.write(`chart written to ${output}\n`);
