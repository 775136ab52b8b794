// The drawing editor: shapes in relative coordinates (0..1), saved through the REST API.
// this sensor's pages and API (under /cameras/<id> in a site)
var BASE = document.body.dataset.base || '';
// Select mode: click a shape (inside it or on its edge) to select it, drag its
// corners, name a region. Drawing tools: a click or tap adds a point; a
// right-click, a double-click / double-tap or "Finish shape" closes the shape.
// The keyboard does all of it: the picture takes focus (Tab), the arrow keys
// move the cross (Shift: faster), Enter adds a point, Shift+Enter finishes,
// Escape drops the half-drawn shape; with Select, Space selects the next
// shape, Enter steps through its corners and the arrow keys move the corner. Ctrl+Z (or
// Undo) takes back the last point or change; leaving with unsaved changes asks first.
const LIMITS = {region: 16, mask: 8};
const svg = document.getElementById('shapes');
const message = document.getElementById('message');
const nameBox = document.getElementById('name');
const toolBox = document.getElementById('tool');
const surface = document.getElementById('canvas');
let config = null, drawing = [], selected = null, dragging = null, dirty = false;
let cursor = [0.5, 0.5], corner = 0;  // the keyboard's cross and the corner it moves
const undoStack = [];

function say(text, bad) { message.textContent = text; message.className = bad ? 'error' : 'ok'; }

async function load() {
  config = await (await fetch(BASE + '/api/config')).json();
  dirty = false; undoStack.length = 0; selected = null;
  redraw();
}

function shapes() {
  const out = [];
  (config.region_counting.regions || []).forEach((r, i) => out.push({kind: 'region', index: i, points: r.points, closed: true, name: r.name}));
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

function isSelected(s) { return selected && selected.kind === s.kind && selected.index === s.index; }
function selecting() { return toolBox.value === 'select'; }

function redraw() {
  svg.innerHTML = '';
  const box = svg.getBoundingClientRect();
  for (const s of shapes()) {
    const el = element(s.closed ? 'polygon' : 'polyline', {
      points: s.points.map(p => p.join(',')).join(' '),
      class: `shape ${s.kind}${isSelected(s) ? ' selected' : ''}${selecting() ? ' pickable' : ''}`,
      stroke: COLOURS[s.kind], 'vector-effect': 'non-scaling-stroke',
      'data-kind': s.kind, 'data-index': s.index});
    el.addEventListener('click', ev => {
      if (!selecting()) return;
      ev.stopPropagation(); selected = {kind: s.kind, index: s.index}; corner = 0; redraw();
    });
    svg.append(el);
    if (isSelected(s) && selecting()) s.points.forEach((p, i) => svg.append(handle(s, p, i, box, i === corner)));
  }
  if (drawing.length) {
    svg.append(element('polyline', {points: drawing.map(p => p.join(',')).join(' '), class: 'drawing',
      'vector-effect': 'non-scaling-stroke'}));
  }
  showCursor();
  nameLabels();
  const region = selected && selected.kind === 'region' ? config.region_counting.regions[selected.index] : null;
  nameBox.disabled = !region;
  nameBox.value = region ? region.name : '';
}

// the keyboard's cross, while the picture has the focus and a shape is being
// drawn; alone (a focus must not rebuild the shapes under a mouse press)
function showCursor() {
  for (const old of svg.querySelectorAll('.cursor')) old.remove();
  if (document.activeElement !== surface || selecting()) return;
  const box = svg.getBoundingClientRect();
  const [cx, cy] = cursor, dx = 12 / Math.max(1, box.width), dy = 12 / Math.max(1, box.height);
  svg.append(element('path', {d: `M${cx - dx},${cy}H${cx + dx}M${cx},${cy - dy}V${cy + dy}`,
    class: 'cursor', 'vector-effect': 'non-scaling-stroke'}));
}

// each region's name at its centre, on a dark chip (HTML over the picture:
// SVG text would stretch with the picture's aspect)
function nameLabels() {
  const layer = document.getElementById('labels');
  layer.replaceChildren();
  (config.region_counting.regions || []).forEach((r, i) => {
    if (!r.points.length) return;
    const cx = r.points.reduce((a, p) => a + p[0], 0) / r.points.length;
    const cy = r.points.reduce((a, p) => a + p[1], 0) / r.points.length;
    const tag = document.createElement('span');
    tag.textContent = r.name || `region ${i + 1}`;
    tag.dataset.region = String(i);
    tag.style.left = `${(cx * 100).toFixed(2)}%`;
    tag.style.top = `${(cy * 100).toFixed(2)}%`;
    layer.append(tag);
  });
}

function handle(s, p, i, box, current) {
  // an ellipse 7 px across on screen whatever the picture's aspect
  const el = element('ellipse', {cx: p[0], cy: p[1], rx: 7 / Math.max(1, box.width), ry: 7 / Math.max(1, box.height),
    class: current ? 'handle current' : 'handle', 'data-point': i});
  el.addEventListener('mousedown', ev => {
    ev.stopPropagation(); ev.preventDefault();
    remember(); dragging = {kind: s.kind, index: s.index, point: i};
  });
  return el;
}

function pointsOf(kind, index) {
  if (kind === 'region') return config.region_counting.regions[index].points;
  if (kind === 'mask') return config.privacy_masks.masks[index].points;
  if (kind === 'line') return config.line_crossing.line.points;
  if (kind === 'uturn') return config.line_crossing.uturn_area;
  return config.people_flow.area;
}

window.addEventListener('mousemove', ev => {
  if (!dragging) return;
  pointsOf(dragging.kind, dragging.index)[dragging.point] = relative(ev);
  dirty = true; redraw();
});
window.addEventListener('mouseup', () => { if (dragging) { dragging = null; say('corner moved; Save to apply', false); } });

function relative(ev) {
  const box = svg.getBoundingClientRect();
  const x = Math.min(1, Math.max(0, (ev.clientX - box.left) / box.width));
  const y = Math.min(1, Math.max(0, (ev.clientY - box.top) / box.height));
  return [Math.round(x * 10000) / 10000, Math.round(y * 10000) / 10000];
}

// what the shapes were before each change, for Undo
function snapshot() {
  return JSON.stringify([config.region_counting, config.line_crossing, config.people_flow, config.privacy_masks]);
}
function remember() { undoStack.push(snapshot()); if (undoStack.length > 100) undoStack.shift(); }
function undo() {
  if (drawing.length) { drawing.pop(); say('last point taken back', false); redraw(); return; }
  const last = undoStack.pop();
  if (!last) { say('nothing to undo', true); return; }
  [config.region_counting, config.line_crossing, config.people_flow, config.privacy_masks] = JSON.parse(last);
  selected = null; dirty = true; say('undone', false); redraw();
}

svg.addEventListener('click', ev => {
  if (selecting()) { selected = null; redraw(); return; }
  if (secondClick(ev)) return;  // a double-click (double-tap) finishes instead
  lastClick = {t: ev.timeStamp, x: ev.clientX, y: ev.clientY};
  addPoint(relative(ev));
});

// the second click of a double-click: soon after the last one, at the same spot
let lastClick = null;
function secondClick(ev) {
  return lastClick !== null && ev.timeStamp - lastClick.t < 500
    && Math.hypot(ev.clientX - lastClick.x, ev.clientY - lastClick.y) < 16;
}

function addPoint(point) {
  const kind = toolBox.value;
  if (drawing.length === 0 && LIMITS[kind]) {
    const count = kind === 'region' ? config.region_counting.regions.length : config.privacy_masks.masks.length;
    if (count >= LIMITS[kind]) { say(`at most ${LIMITS[kind]} ${kind}s can be drawn`, true); return; }
  }
  if (kind === 'line' && drawing.length >= 5) { say('a line has at most 4 segments: Finish shape to end it', true); return; }
  if (kind === 'flow' && drawing.length >= 4) { say('a flow area has 3 or 4 corners: Finish shape to close it', true); return; }
  drawing.push(point);
  say(`${drawing.length} point(s); Finish shape (or double-click, right-click, Shift+Enter) when done`, false);
  redraw();
}

svg.addEventListener('contextmenu', ev => { ev.preventDefault(); finish(); });
svg.addEventListener('dblclick', ev => {
  ev.preventDefault();
  if (lastClick && Math.hypot(ev.clientX - lastClick.x, ev.clientY - lastClick.y) < 16) finish();
});
document.getElementById('finish').onclick = () => finish();

function finish() {
  if (selecting()) { say('pick what to draw in Tool first', true); return; }
  const kind = toolBox.value;
  const need = kind === 'line' ? 2 : 3;
  if (drawing.length < need) { say(`a ${kind} needs at least ${need} points`, true); return; }
  remember();
  if (kind === 'region') config.region_counting.regions.push({name: `region ${config.region_counting.regions.length + 1}`, points: drawing});
  if (kind === 'mask') config.privacy_masks.masks.push({name: '', enabled: true, points: drawing});
  if (kind === 'line') { config.line_crossing.line.points = drawing; config.line_crossing.enabled = true; }
  if (kind === 'uturn') { config.line_crossing.uturn_area = drawing; config.line_crossing.uturn_filter = true; }
  if (kind === 'flow') { config.people_flow.area = drawing; config.people_flow.enabled = true; }
  if (kind === 'region') { config.region_counting.customize_area = true; config.region_counting.enabled = true; }
  if (kind === 'mask') config.privacy_masks.enabled = true;
  drawing = []; dirty = true;
  if (kind === 'region') {
    toolBox.value = 'select';
    selected = {kind: 'region', index: config.region_counting.regions.length - 1};
    redraw(); nameBox.focus(); nameBox.select();
    say('region drawn: name it, then Save to apply', false);
    return;
  }
  say(`${kind} drawn; Save to apply`, false);
  redraw();
}

nameBox.addEventListener('focus', () => remember());
nameBox.addEventListener('input', () => {
  if (!selected || selected.kind !== 'region') return;
  config.region_counting.regions[selected.index].name = nameBox.value;
  dirty = true; redraw();
});

toolBox.addEventListener('change', () => {
  if (drawing.length) say('the half-drawn shape was dropped', false);
  drawing = []; selected = null; redraw();
});

// the picture with focus: the arrow keys move the cross (or the selected
// corner), Enter adds a point (or steps to the next corner), Shift+Enter finishes
const STEP = {ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1]};
surface.addEventListener('keydown', ev => {
  const step = STEP[ev.key], size = ev.shiftKey ? 0.05 : 0.01;
  const clamp = v => Math.round(Math.min(1, Math.max(0, v)) * 10000) / 10000;
  const shape = selected && selecting() ? pointsOf(selected.kind, selected.index) : null;
  if (step && shape) {
    ev.preventDefault();
    if (!ev.repeat) remember();
    const p = shape[corner % shape.length];
    shape[corner % shape.length] = [clamp(p[0] + step[0] * size), clamp(p[1] + step[1] * size)];
    dirty = true; say(`corner ${corner % shape.length + 1} moved; Save to apply`, false); redraw();
  } else if (step && !selecting()) {
    ev.preventDefault();
    cursor = [clamp(cursor[0] + step[0] * size), clamp(cursor[1] + step[1] * size)];
    showCursor();
  } else if (ev.key === ' ' && selecting()) {  // the next shape
    ev.preventDefault();
    const all = shapes();
    if (!all.length) { say('nothing drawn yet: pick a shape in Tool', true); return; }
    const at = selected ? all.findIndex(isSelected) : -1;
    const next = all[(at + 1) % all.length];
    selected = {kind: next.kind, index: next.index}; corner = 0;
    say(`${next.name || next.kind} selected: Enter steps through its corners`, false); redraw();
  } else if (ev.key === 'Enter' && shape) {
    ev.preventDefault(); corner = (corner + 1) % shape.length;
    say(`corner ${corner + 1} of ${shape.length}: the arrow keys move it`, false); redraw();
  } else if (ev.key === 'Enter' && !selecting()) {
    ev.preventDefault();
    if (ev.shiftKey) finish(); else addPoint([...cursor]);
  }
});
surface.addEventListener('focus', showCursor);
surface.addEventListener('blur', showCursor);

document.addEventListener('keydown', ev => {
  if (ev.target === nameBox) return;
  if (ev.key === 'Escape' && drawing.length) { drawing = []; say('drawing cancelled', false); redraw(); }
  else if (ev.key === 'Escape') { selected = null; redraw(); }
  if ((ev.ctrlKey || ev.metaKey) && ev.key === 'z') { ev.preventDefault(); undo(); }
  if ((ev.key === 'Delete' || ev.key === 'Backspace') && selected) { ev.preventDefault(); deleteSelected(); }
});

function remove(kind, index) {
  if (kind === 'region') config.region_counting.regions.splice(index, 1);
  if (kind === 'mask') config.privacy_masks.masks.splice(index, 1);
  if (kind === 'line') { config.line_crossing.line.points = []; config.line_crossing.enabled = false; }
  if (kind === 'uturn') { config.line_crossing.uturn_area = []; config.line_crossing.uturn_filter = false; }
  if (kind === 'flow') { config.people_flow.area = []; config.people_flow.enabled = false; }
}

function deleteSelected() {
  if (!selected) { say('select a shape first (the Select tool, then click it)', true); return; }
  remember(); remove(selected.kind, selected.index); selected = null; dirty = true; redraw();
}
document.getElementById('delete').onclick = deleteSelected;
document.getElementById('undo').onclick = undo;
document.getElementById('clear').onclick = () => {
  const kind = toolBox.value;
  if (kind === 'select') { say('pick the kind of shape to clear in Tool', true); return; }
  remember();
  if (kind === 'region') config.region_counting.regions = [];
  else if (kind === 'mask') config.privacy_masks.masks = [];
  else remove(kind, 0);
  drawing = []; selected = null; dirty = true; redraw();
};
document.getElementById('zoom').oninput = ev => {
  document.getElementById('canvas').style.transform = `scale(${ev.target.value})`;
  redraw();
};

window.addEventListener('beforeunload', ev => {
  if (dirty || drawing.length) { ev.preventDefault(); ev.returnValue = ''; }
});

async function put(section, body) {
  const response = await fetch(`${BASE}/api/config/${section}`, {method: 'PUT',
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
    await load();
    say('saved and applied', false);
  } catch (e) { say(e.message, true); }
};

document.getElementById('picture').addEventListener('load', redraw, {once: true});
load();
