// Live counts and a chart of the last hours; everything from this sensor.
// this sensor's pages and API (under /cameras/<id> in a site)
var BASE = document.body.dataset.base || '';
// While the sensor cannot be reached the page says so, greys what it shows
// (the last values, not live ones) and keeps asking; once it answers again
// it says "reconnected" and restarts the picture.
let connected = true;
function connection(up) {
  const note = document.getElementById('connection');
  document.querySelector('.live').classList.toggle('offline', !up);
  if (up === connected) return;
  connected = up;
  note.hidden = false;
  note.className = up ? 'ok' : 'error';
  note.textContent = up ? 'Reconnected to the sensor.'
    : 'Connection to the sensor lost: the figures below are the last ones received. Retrying…';
  if (up) {
    const picture = document.getElementById('stream');
    picture.src = `${BASE}/stream.mjpg?t=${Date.now()}`;
    setTimeout(() => { if (connected) note.hidden = true; }, 5000);
  }
}
async function refresh() {
  try {
    const response = await fetch(BASE + '/api/status');
    if (response.status === 401 || response.redirected) { location.reload(); return; }
    if (!response.ok) throw new Error(response.statusText);
    const status = await response.json();
    showCounts(status);
    showSource(status.source || {});
    showStream(status.stream || {});
    const history = await (await fetch(BASE + '/api/history')).json();
    drawChart(history.points || []);
    connection(true);
  } catch (e) {  // the sensor restarts or the network is down: try again next time
    connection(false);
  }
}
// The counts with what each means (people in the regions or in view, the
// line's in/out since its last reset), features paused by their schedule,
// and the flow counts of the report period.
const PAUSED = {region: 'Region counting', line: 'Line crossing', flow: 'People flow'};
function showCounts(status) {
  const labels = status.labels || {};
  const dl = document.getElementById('counts');
  dl.innerHTML = '';
  for (const [key, value] of Object.entries(status.counts || {})) {
    const dt = document.createElement('dt'); dt.textContent = labels[key] || key;
    const dd = document.createElement('dd'); dd.textContent = JSON.stringify(value);
    dd.dataset.count = key; dl.append(dt, dd);
  }
  const spaceForm = document.getElementById('space-set');
  if (spaceForm.hidden === Boolean(status.space)) {
    spaceForm.hidden = !status.space;
    if (status.space) document.getElementById('space-occupancy').value = status.space.occupancy;
  }
  const paused = document.getElementById('paused');
  const names = (status.paused || []).map(f => PAUSED[f]).filter(Boolean);
  paused.hidden = names.length === 0;
  paused.textContent = names.length
    ? `${names.join(', ')}: paused outside ${names.length > 1 ? 'their' : 'its'} schedule (the figures hold until it resumes).` : '';
  const flow = document.getElementById('flow');
  flow.hidden = !status.flow;
  if (status.flow) showFlow(status.flow);
}

// The flow counts as a table: a row per entry edge, a column per exit edge.
function showFlow(counts) {
  const edges = [...new Set(Object.keys(counts).map(pair => pair.split('-')[0]))];
  const table = document.getElementById('flow-counts');
  table.innerHTML = '';
  const head = table.createTHead().insertRow();
  head.append(Object.assign(document.createElement('th'), {textContent: 'from \\ to'}));
  for (const to of edges) head.append(Object.assign(document.createElement('th'), {textContent: to, scope: 'col'}));
  const body = table.createTBody();
  for (const from of edges) {
    const row = body.insertRow();
    row.append(Object.assign(document.createElement('th'), {textContent: from, scope: 'row'}));
    for (const to of edges) {
      const cell = row.insertCell();
      cell.textContent = String(counts[`${from}-${to}`] ?? 0);
      cell.dataset.flow = `${from}-${to}`;
    }
  }
}

// The camera: up or lost, how far behind its clock, frames dropped to keep up.
function showStream(stream) {
  const field = document.querySelector('[data-source="stream"]');
  field.textContent = stream.url || stream.problem || '–';
}

function showSource(source) {
  const field = name => document.querySelector(`[data-source="${name}"]`);
  field('state').textContent = source.up ? 'running' : (source.problem || 'camera lost');
  field('state').className = source.up ? '' : 'problem';
  field('lag').textContent = typeof source.lag_s === 'number' ? `${source.lag_s.toFixed(1)} s` : '–';
  field('dropped').textContent = typeof source.dropped === 'number' ? String(source.dropped) : '–';
}
function clock(t, seconds) {
  const parts = {hour: '2-digit', minute: '2-digit', hour12: false};
  if (seconds) parts.second = '2-digit';
  return new Date(t * 1000).toLocaleTimeString([], parts);
}
// The count history: one line per series (people, each region, line in/out),
// a time axis in the sensor's clock, a count axis in people, and a legend.
// Occupancy (people, each region) on the left axis, in people; the line's
// cumulative in/out (dashed) on the right axis, in crossings: two kinds of
// figure, two scales.
const CROSSINGS = ['in', 'out'];
function scale(points, keys, H, top, bottom) {
  const most = Math.max(1, ...points.flatMap(p => keys.map(k => p[k] || 0)));
  const step = Math.max(1, niceStep(most, 4)), max = Math.ceil(most / step) * step;
  return {step, max, y: v => H - bottom - v / max * (H - top - bottom)};
}
function drawChart(points) {
  const svg = document.getElementById('chart');
  const W = 420, H = 220, left = 34, top = 20, bottom = 34;
  svg.innerHTML = '';
  if (points.length < 2) {
    svg.append(svgEl('text', {x: left, y: H / 2, class: 'chart-note'}, 'collecting counts…'));
    return;
  }
  const keys = [...new Set(points.flatMap(p => Object.keys(p)))].filter(k => k !== 't' && k !== 'alarm');
  const people = keys.filter(k => !CROSSINGS.includes(k)), crossings = keys.filter(k => CROSSINGS.includes(k));
  const right = crossings.length ? 34 : 8;
  const t0 = points[0].t, t1 = points[points.length - 1].t;
  const x = t => left + (t - t0) / Math.max(1, t1 - t0) * (W - left - right);
  const occupancy = scale(points, people, H, top, bottom), crossed = scale(points, crossings, H, top, bottom);
  const axes = svgEl('g', {class: 'axes'});
  for (let v = 0; v <= occupancy.max; v += occupancy.step) {
    axes.append(svgEl('line', {x1: left, x2: W - right, y1: occupancy.y(v), y2: occupancy.y(v), class: 'grid'}));
    axes.append(svgEl('text', {x: left - 4, y: occupancy.y(v) + 4, 'text-anchor': 'end'}, String(v)));
  }
  if (crossings.length) {
    for (let v = 0; v <= crossed.max; v += crossed.step) {
      axes.append(svgEl('text', {x: W - right + 4, y: crossed.y(v) + 4, 'text-anchor': 'start', class: 'tick-right'}, String(v)));
    }
    axes.append(svgEl('line', {x1: W - right, x2: W - right, y1: top, y2: H - bottom}));
  }
  const span = Math.max(1, t1 - t0), seconds = span < 120;
  const tStep = Math.max(seconds ? 5 : 60, niceStep(span, 4));
  let times = [];
  for (let t = Math.ceil(t0 / tStep) * tStep; t <= t1; t += tStep) times.push(t);
  if (times.length < 2) times = [t0, t1];  // a short history: its two ends
  for (const t of times) {
    axes.append(svgEl('line', {x1: x(t), x2: x(t), y1: H - bottom, y2: H - bottom + 4}));
    const anchor = x(t) > W - right - 30 ? 'end' : x(t) < left + 20 ? 'start' : 'middle';
    axes.append(svgEl('text', {x: x(t), y: H - bottom + 15, 'text-anchor': anchor, class: 'tick-time'},
                      clock(t, seconds)));
  }
  axes.append(svgEl('line', {x1: left, x2: W - right, y1: H - bottom, y2: H - bottom}));
  axes.append(svgEl('text', {x: 2, y: 10, class: 'unit'}, 'people now'));
  if (crossings.length) axes.append(svgEl('text', {x: W - 2, y: 10, 'text-anchor': 'end', class: 'unit'}, 'crossings'));
  axes.append(svgEl('text', {x: W - right, y: H - 4, 'text-anchor': 'end', class: 'unit'}, 'time'));
  svg.append(axes);
  const legend = document.getElementById('legend');
  legend.innerHTML = '';
  keys.forEach((key, i) => {
    const colour = COLOURS[i % COLOURS.length], dashed = CROSSINGS.includes(key);
    const y = dashed ? crossed.y : occupancy.y;
    const xy = points.filter(p => key in p).map(p => `${x(p.t).toFixed(1)},${y(p[key]).toFixed(1)}`);
    const line = {points: xy.join(' '), fill: 'none', stroke: colour, 'stroke-width': 1.5};
    if (dashed) line['stroke-dasharray'] = '5 3';
    svg.append(svgEl('polyline', line));
    const item = document.createElement('li');
    const swatch = document.createElement('span');
    swatch.className = dashed ? 'swatch dashed' : 'swatch'; swatch.dataset.colour = i % COLOURS.length;
    item.append(swatch, document.createTextNode(dashed ? `${key} (crossings, right axis)` : key));
    legend.append(item);
  });
}
refresh(); setInterval(refresh, 500);
const recordButton = document.getElementById('record');
if (recordButton) {
  let recording = false;
  recordButton.onclick = async () => {
    const action = recording ? 'stop' : 'start';
    const response = await fetch(`${BASE}/api/recording?action=${action}`, {method: 'POST',
      headers: {'X-CSRF-Token': recordButton.dataset.csrf}});
    const body = await response.json();
    if (!response.ok) { document.getElementById('recorded').textContent = body.detail; return; }
    recording = body.recording;
    recordButton.textContent = recording ? 'Stop recording' : 'Start recording';
    const link = document.getElementById('recorded');
    link.innerHTML = !recording && body.file ? `<a href="${BASE}/api/recordings/${body.file}" download>${body.file}</a>` : '';
  };
}

// "There are 12 people inside now": the sensor's own space corrected by hand
const spaceForm = document.getElementById('space-set');
spaceForm.addEventListener('submit', async ev => {
  ev.preventDefault();
  const said = document.getElementById('space-said');
  const occupancy = Number(document.getElementById('space-occupancy').value);
  const response = await fetch(`${BASE}/api/space`, {method: 'PUT',
    headers: {'Content-Type': 'application/json', 'X-CSRF-Token': spaceForm.dataset.csrf},
    body: JSON.stringify({occupancy})});
  const body = await response.json();
  said.textContent = response.ok ? `set: ${body.occupancy} inside` : body.detail;
});
