// The drawing editor: shapes in relative coordinates (0..1), saved through the REST API.
const LIMITS = {region: 16, mask: 8};
const svg = document.getElementById('shapes');
const message = document.getElementById('message');
let config = null, drawing = [], selected = null;

function say(text, bad) { message.textContent = text; message.className = bad ? 'error' : 'ok'; }

async function load() {
  config = await (await fetch('/api/config')).json();
  redraw();
}

function shapes() {
  const out = [];
  (config.region_counting.regions || []).forEach((r, i) => out.push({kind: 'region', index: i, points: r.points, closed: true}));
  if (config.line_crossing.line.points.length) out.push({kind: 'line', index: 0, points: config.line_crossing.line.points, closed: false});
  if (config.line_crossing.uturn_area.length) out.push({kind: 'uturn', index: 0, points: config.line_crossing.uturn_area, closed: true});
  if (config.people_flow.area.length) out.push({kind: 'flow', index: 0, points: config.people_flow.area, closed: true});
  (config.privacy_masks.masks || []).forEach((m, i) => out.push({kind: 'mask', index: i, points: m.points, closed: true}));
  return out;
}

const COLOURS = {region: '#00aaff', line: '#ffc800', uturn: '#ff7f50', flow: '#c850ff', mask: '#444'};

function element(name, attrs) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

function redraw() {
  svg.innerHTML = '';
  for (const s of shapes()) {
    const pts = s.points.map(p => p.join(',')).join(' ');
    const isSel = selected && selected.kind === s.kind && selected.index === s.index;
    const el = element(s.closed ? 'polygon' : 'polyline', {
      points: pts, fill: s.kind === 'mask' ? 'rgba(0,0,0,.35)' : 'none',
      stroke: COLOURS[s.kind], 'stroke-width': isSel ? 0.008 : 0.004,
      'vector-effect': 'non-scaling-stroke', 'data-kind': s.kind, 'data-index': s.index});
    el.style.strokeWidth = isSel ? '4px' : '2px';
    el.style.pointerEvents = 'stroke';
    el.addEventListener('click', ev => { ev.stopPropagation(); selected = s; redraw(); });
    svg.append(el);
  }
  if (drawing.length) {
    const el = element('polyline', {points: drawing.map(p => p.join(',')).join(' '), fill: 'none', stroke: '#fff', 'vector-effect': 'non-scaling-stroke'});
    el.style.strokeWidth = '2px'; el.style.strokeDasharray = '4 3';
    svg.append(el);
  }
}

function relative(ev) {
  const box = svg.getBoundingClientRect();
  const x = Math.min(1, Math.max(0, (ev.clientX - box.left) / box.width));
  const y = Math.min(1, Math.max(0, (ev.clientY - box.top) / box.height));
  return [Math.round(x * 10000) / 10000, Math.round(y * 10000) / 10000];
}

function tool() { return document.getElementById('tool').value; }

svg.addEventListener('click', ev => {
  if (ev.target !== svg) return;
  const kind = tool();
  if (drawing.length === 0 && LIMITS[kind]) {
    const count = kind === 'region' ? config.region_counting.regions.length : config.privacy_masks.masks.length;
    if (count >= LIMITS[kind]) { say(`at most ${LIMITS[kind]} ${kind}s can be drawn`, true); return; }
  }
  if (kind === 'line' && drawing.length >= 5) { say('a line has at most 4 segments: right-click to end it', true); return; }
  if (kind === 'flow' && drawing.length >= 4) { say('a flow area has 3 or 4 corners: right-click to close it', true); return; }
  drawing.push(relative(ev));
  redraw();
});

svg.addEventListener('contextmenu', ev => {
  ev.preventDefault();
  const kind = tool();
  const need = kind === 'line' ? 2 : 3;
  if (drawing.length < need) { say(`a ${kind} needs at least ${need} points`, true); return; }
  if (kind === 'region') config.region_counting.regions.push({name: '', points: drawing});
  if (kind === 'mask') config.privacy_masks.masks.push({name: '', enabled: true, points: drawing});
  if (kind === 'line') { config.line_crossing.line.points = drawing; config.line_crossing.enabled = true; }
  if (kind === 'uturn') { config.line_crossing.uturn_area = drawing; config.line_crossing.uturn_filter = true; }
  if (kind === 'flow') { config.people_flow.area = drawing; config.people_flow.enabled = true; }
  if (kind === 'region') { config.region_counting.customize_area = true; config.region_counting.enabled = true; }
  if (kind === 'mask') config.privacy_masks.enabled = true;
  drawing = [];
  say(`${kind} drawn; Save to apply`, false);
  redraw();
});

function remove(kind, index) {
  if (kind === 'region') config.region_counting.regions.splice(index, 1);
  if (kind === 'mask') config.privacy_masks.masks.splice(index, 1);
  if (kind === 'line') { config.line_crossing.line.points = []; config.line_crossing.enabled = false; }
  if (kind === 'uturn') { config.line_crossing.uturn_area = []; config.line_crossing.uturn_filter = false; }
  if (kind === 'flow') { config.people_flow.area = []; config.people_flow.enabled = false; }
}

document.getElementById('delete').onclick = () => {
  if (!selected) { say('click a shape first', true); return; }
  remove(selected.kind, selected.index); selected = null; redraw();
};
document.getElementById('clear').onclick = () => {
  const kind = tool();
  if (kind === 'region') config.region_counting.regions = [];
  else if (kind === 'mask') config.privacy_masks.masks = [];
  else remove(kind, 0);
  drawing = []; selected = null; redraw();
};
document.getElementById('zoom').oninput = ev => {
  document.getElementById('canvas').style.transform = `scale(${ev.target.value})`;
};

async function put(section, body) {
  const response = await fetch(`/api/config/${section}`, {method: 'PUT',
    headers: {'Content-Type': 'application/json', 'X-CSRF-Token': document.getElementById('canvas').dataset.csrf}, body: JSON.stringify(body)});
  if (!response.ok) throw new Error((await response.json()).detail || response.statusText);
}

document.getElementById('save').onclick = async () => {
  try {
    await put('region_counting', {enabled: config.region_counting.enabled, customize_area: config.region_counting.customize_area, regions: config.region_counting.regions});
    await put('line_crossing', {enabled: config.line_crossing.enabled, line: config.line_crossing.line,
      uturn_filter: config.line_crossing.uturn_filter, uturn_area: config.line_crossing.uturn_area});
    await put('people_flow', {enabled: config.people_flow.enabled, area: config.people_flow.area});
    await put('privacy_masks', {enabled: config.privacy_masks.enabled, masks: config.privacy_masks.masks});
    say('saved and applied', false);
    await load();
  } catch (e) { say(e.message, true); }
};

load();
