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
    const dl = document.getElementById('counts');
    dl.innerHTML = '';
    for (const [key, value] of Object.entries(status.counts || {})) {
      const dt = document.createElement('dt'); dt.textContent = key;
      const dd = document.createElement('dd'); dd.textContent = JSON.stringify(value);
      dd.dataset.count = key; dl.append(dt, dd);
    }
    showSource(status.source || {});
    showStream(status.stream || {});
    const history = await (await fetch(BASE + '/api/history')).json();
    drawChart(history.points || []);
    connection(true);
  } catch (e) {  // the sensor restarts or the network is down: try again next time
    connection(false);
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
function drawChart(points) {
  const svg = document.getElementById('chart');
  const W = 420, H = 220, left = 34, right = 8, top = 20, bottom = 34;
  svg.innerHTML = '';
  if (points.length < 2) {
    svg.append(svgEl('text', {x: left, y: H / 2, class: 'chart-note'}, 'collecting counts…'));
    return;
  }
  const keys = [...new Set(points.flatMap(p => Object.keys(p)))].filter(k => k !== 't' && k !== 'alarm');
  const t0 = points[0].t, t1 = points[points.length - 1].t;
  const top_value = Math.max(1, ...points.flatMap(p => keys.map(k => p[k] || 0)));
  const yStep = Math.max(1, niceStep(top_value, 4)), yMax = Math.ceil(top_value / yStep) * yStep;
  const x = t => left + (t - t0) / Math.max(1, t1 - t0) * (W - left - right);
  const y = v => H - bottom - v / yMax * (H - top - bottom);
  const axes = svgEl('g', {class: 'axes'});
  for (let v = 0; v <= yMax; v += yStep) {
    axes.append(svgEl('line', {x1: left, x2: W - right, y1: y(v), y2: y(v), class: 'grid'}));
    axes.append(svgEl('text', {x: left - 4, y: y(v) + 4, 'text-anchor': 'end'}, String(v)));
  }
  const span = Math.max(1, t1 - t0), seconds = span < 120;
  const tStep = Math.max(seconds ? 5 : 60, niceStep(span, 4));
  let times = [];
  for (let t = Math.ceil(t0 / tStep) * tStep; t <= t1; t += tStep) times.push(t);
  if (times.length < 2) times = [t0, t1];  // a short history: its two ends
  for (const t of times) {
    axes.append(svgEl('line', {x1: x(t), x2: x(t), y1: H - bottom, y2: H - bottom + 4}));
    const anchor = x(t) > W - 30 ? 'end' : x(t) < left + 20 ? 'start' : 'middle';
    axes.append(svgEl('text', {x: x(t), y: H - bottom + 15, 'text-anchor': anchor, class: 'tick-time'},
                      clock(t, seconds)));
  }
  axes.append(svgEl('line', {x1: left, x2: W - right, y1: H - bottom, y2: H - bottom}));
  axes.append(svgEl('text', {x: 2, y: 10, class: 'unit'}, 'people'));
  axes.append(svgEl('text', {x: W - right, y: H - 4, 'text-anchor': 'end', class: 'unit'}, 'time'));
  svg.append(axes);
  keys.forEach((key, i) => {
    const colour = COLOURS[i % COLOURS.length];
    const xy = points.filter(p => key in p).map(p => `${x(p.t).toFixed(1)},${y(p[key]).toFixed(1)}`);
    svg.append(svgEl('polyline', {points: xy.join(' '), fill: 'none', stroke: colour, 'stroke-width': 1.5}));
  });
  const legend = document.getElementById('legend');
  legend.innerHTML = '';
  keys.forEach((key, i) => {
    const item = document.createElement('li');
    const swatch = document.createElement('span');
    swatch.className = 'swatch'; swatch.dataset.colour = i % COLOURS.length;
    item.append(swatch, document.createTextNode(key));
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
