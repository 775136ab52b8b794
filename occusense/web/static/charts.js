// What the Live and History charts share: SVG elements, colours, axis steps.
const SVG = 'http://www.w3.org/2000/svg';
const COLOURS = ['#0b3954', '#d1495b', '#00798c', '#edae49', '#66a182', '#8d6a9f', '#2e4057'];
function svgEl(name, attrs, text) {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}
function niceStep(range, ticks) {
  const raw = Math.max(range, 1e-9) / ticks, mag = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map(m => m * mag).find(s => s >= raw);
}
