// The Heatmap page: the period's grid as a PNG over the live picture.
var BASE = document.body.dataset.base || '';
const range = document.getElementById('heatmap-range');
const plain = document.getElementById('heatmap-plain');

async function showHeatmap() {
  const to = Math.floor(Date.now() / 1000), from = to - Number(range.value) * 3600;
  const query = `from=${from}&to=${to}`;
  document.getElementById('heatmap-overlay').src = `${BASE}/api/heatmap?format=png&${query}`;
  document.getElementById('heatmap-json').href = `${BASE}/api/heatmap?${query}`;
  document.getElementById('heatmap-png').href = `${BASE}/api/heatmap?format=png&${query}`;
  const summary = document.getElementById('heatmap-summary');
  try {
    const grid = await (await fetch(`${BASE}/api/heatmap?${query}`)).json();
    summary.textContent = grid.total > 0
      ? `${(grid.total / 3600).toFixed(1)} person-hours in view over the period; the busiest cell ${Math.round(grid.peak)} person-seconds.`
      : 'Nobody seen over this period yet.';
  } catch (e) {
    summary.textContent = 'The sensor cannot be reached.';
  }
}
range.addEventListener('change', showHeatmap);
plain.addEventListener('change', () => {
  document.getElementById('heatmap-view').classList.toggle('plain', plain.checked);
});
showHeatmap();
setInterval(showHeatmap, 60000);
