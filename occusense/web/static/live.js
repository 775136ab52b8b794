// Live counts and a chart of the last hours; everything from this sensor.
async function refresh() {
  try {
    const status = await (await fetch('/api/status')).json();
    const dl = document.getElementById('counts');
    dl.innerHTML = '';
    for (const [key, value] of Object.entries(status.counts || {})) {
      const dt = document.createElement('dt'); dt.textContent = key;
      const dd = document.createElement('dd'); dd.textContent = JSON.stringify(value);
      dd.dataset.count = key; dl.append(dt, dd);
    }
    const history = await (await fetch('/api/history')).json();
    drawChart(history.points || []);
  } catch (e) { /* the sensor restarts: try again next time */ }
}
function drawChart(points) {
  const svg = document.getElementById('chart'), w = 320, h = 160;
  svg.innerHTML = '';
  if (points.length < 2) return;
  const t0 = points[0].t, t1 = points[points.length - 1].t;
  const key = 'people';
  const max = Math.max(1, ...points.map(p => p[key] || 0));
  const xy = points.map(p => [(p.t - t0) / Math.max(1, t1 - t0) * (w - 10) + 5,
                              h - 5 - (p[key] || 0) / max * (h - 20)]);
  const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
  line.setAttribute('points', xy.map(p => p.join(',')).join(' '));
  line.setAttribute('fill', 'none'); line.setAttribute('stroke', '#0b3954');
  svg.append(line);
}
refresh(); setInterval(refresh, 1000);
const recordButton = document.getElementById('record');
if (recordButton) {
  let recording = false;
  recordButton.onclick = async () => {
    const action = recording ? 'stop' : 'start';
    const response = await fetch(`/api/recording?action=${action}`, {method: 'POST',
      headers: {'X-CSRF-Token': recordButton.dataset.csrf}});
    const body = await response.json();
    if (!response.ok) { document.getElementById('recorded').textContent = body.detail; return; }
    recording = body.recording;
    recordButton.textContent = recording ? 'Stop recording' : 'Start recording';
    const link = document.getElementById('recorded');
    link.innerHTML = !recording && body.file ? `<a href="/api/recordings/${body.file}" download>${body.file}</a>` : '';
  };
}
