// What the Live and History charts share: SVG elements, colours, axis steps.
const SVG = 'http://www.w3.org/2000/svg';
// Okabe-Ito: told apart by colour-blind eyes too, no two alike
const COLOURS = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00', '#56b4e9', '#555555'];
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
