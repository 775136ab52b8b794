// The History page: a period's buckets from /api/history, drawn as charts
// with a time axis, a people axis and a legend (in the page).
var BASE = document.body.dataset.base || '';
const section = document.getElementById('history');
const since = section.dataset.since, until = section.dataset.until, bucket = section.dataset.bucket;
function query(series, format) {
  const params = new URLSearchParams({series, from: since, to: until, bucket});
  if (format) params.set('format', format);
  return `${BASE}/api/history?${params}`;
}
// The period runs along the time axis whole (empty buckets stay empty);
// lines: [{values: [number per bucket], colour}]; starts: the buckets' ISO starts
function draw(svg, starts, lines, unit) {
  const W = 760, H = 240, left = 40, right = 16, top = 20, bottom = 36;
  svg.innerHTML = '';
  const t0 = Date.parse(since), t1 = Date.parse(until);
  const width = bucket === 'hour' ? 3600e3 : 86400e3;
  const x = t => left + (t + width / 2 - t0) / (t1 - t0) * (W - left - right);
  const most = Math.max(1, ...lines.flatMap(l => l.values));
  const step = Math.max(1, niceStep(most, 4)), yMax = Math.ceil(most / step) * step;
  const y = v => H - bottom - v / yMax * (H - top - bottom);
  const axes = svgEl('g', {class: 'axes'});
  for (let v = 0; v <= yMax; v += step) {
    axes.append(svgEl('line', {x1: left, x2: W - right, y1: y(v), y2: y(v), class: 'grid'}));
    axes.append(svgEl('text', {x: left - 4, y: y(v) + 4, 'text-anchor': 'end'}, String(v)));
  }
  // ticks: every 3 hours of a day, every day of a week, every 5th day of a month
  const days = Math.round((t1 - t0) / 86400e3);
  const tick = bucket === 'hour' ? 3 * 3600e3 : (days > 10 ? 5 : 1) * 86400e3;
  for (let t = t0; t < t1; t += tick) {
    const at = left + (t - t0) / (t1 - t0) * (W - left - right);
    axes.append(svgEl('line', {x1: at, x2: at, y1: H - bottom, y2: H - bottom + 4}));
    const text = bucket === 'hour' ? new Date(t).toISOString() : '';
    axes.append(svgEl('text', {x: at, y: H - bottom + 15, 'text-anchor': 'middle'},
                   tickLabel(t, text)));
  }
  axes.append(svgEl('line', {x1: left, x2: W - right, y1: H - bottom, y2: H - bottom}));
  axes.append(svgEl('text', {x: 2, y: 12, class: 'unit'}, unit));
  axes.append(svgEl('text', {x: W - right, y: H - 4, 'text-anchor': 'end', class: 'unit'},
                 bucket === 'hour' ? 'hour (sensor time)' : 'day'));
  svg.append(axes);
  if (!starts.length) {
    svg.append(svgEl('text', {x: left + 10, y: H / 2, class: 'chart-note'}, 'nothing counted in this period'));
    return;
  }
  for (const line of lines) {
    const xs = starts.map(s => x(Date.parse(s)));
    const points = line.values.map((v, i) => `${xs[i].toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    svg.append(svgEl('polyline', {points, fill: 'none', stroke: line.colour, 'stroke-width': 2}));
    line.values.forEach((v, i) => svg.append(svgEl('circle', {cx: xs[i], cy: y(v), r: 3, fill: line.colour})));
  }
}
// a tick's label in the sensor's time: hours of the day from the period's start
function tickLabel(t) {
  const offset = since.slice(19) || '+00:00';  // the period's UTC offset, e.g. +01:00
  const sign = offset[0] === '-' ? -1 : 1;
  const minutes = sign * (parseInt(offset.slice(1, 3), 10) * 60 + parseInt(offset.slice(4, 6), 10));
  const local = new Date(t + minutes * 60e3).toISOString();
  return bucket === 'hour' ? local.slice(11, 16) : local.slice(5, 10);
}
async function buckets(series) {
  const answer = await fetch(query(series));
  return answer.ok ? (await answer.json()).buckets : [];
}
async function occupancy() {
  const series = document.getElementById('series').value;
  const rows = await buckets(series);
  draw(document.getElementById('occupancy'), rows.map(r => r.start),
       [{values: rows.map(r => r.mean), colour: COLOURS[0]},
        {values: rows.map(r => r.peak), colour: COLOURS[1]}], 'people');
  document.getElementById('csv-occupancy').href = query(series, 'csv');
}
async function inout() {
  const [ins, outs] = await Promise.all([buckets('line:in'), buckets('line:out')]);
  const starts = [...new Set([...ins, ...outs].map(r => r.start))].sort();
  const value = rows => starts.map(s => (rows.find(r => r.start === s) || {total: 0}).total);
  draw(document.getElementById('inout'), starts,
       [{values: value(ins), colour: COLOURS[2]}, {values: value(outs), colour: COLOURS[3]}],
       'people');
  document.getElementById('csv-in').href = query('line:in', 'csv');
  document.getElementById('csv-out').href = query('line:out', 'csv');
}
document.getElementById('series').onchange = occupancy;
occupancy(); inout();
