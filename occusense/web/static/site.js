// The site's cameras page: counts, frame rate, delivery and thumbnails kept fresh.
const REFRESH_MS = 2000;

function show(card, field, text) {
  const cell = card.querySelector(`[data-field="${field}"]`);
  if (cell && cell.textContent !== text) cell.textContent = text;
}

async function refresh() {
  try {
    const response = await fetch('/api/cameras');
    if (!response.ok) return;
    const body = await response.json();
    for (const camera of body.cameras) {
      const card = document.querySelector(`article[data-camera="${camera.id}"]`);
      if (!card) { location.reload(); return; }  // a camera was added
      const counts = camera.counts || {};
      show(card, 'status', camera.status);
      card.querySelector('[data-field="status"]').className = `badge ${camera.status.replace(' ', '-')}`;
      show(card, 'people', 'people' in counts ? String(counts.people) : '–');
      show(card, 'regions', camera.regions || '–');
      show(card, 'line', 'in' in counts ? `${counts.in} / ${counts.out}` : '–');
      show(card, 'fps', camera.frame_rate === undefined ? '–' : camera.frame_rate.toFixed(1));
      show(card, 'lag', camera.lag_s === undefined ? '–' : `${camera.lag_s.toFixed(1)} s`);
      show(card, 'stream', camera.stream ? (camera.stream.url || camera.stream.problem) : '–');
      show(card, 'delivery', camera.delivery_text || '–');
      show(card, 'delivery_detail', camera.delivery_detail || '');
      card.querySelector('[data-field="delivery"]').className = `delivery ${camera.delivery || ''}`;
      const img = card.querySelector('img');
      if (img && camera.status === 'running') img.src = `/cameras/${camera.id}/thumbnail.jpg?t=${Date.now()}`;
    }
    if (document.querySelectorAll('article.camera').length !== body.cameras.length) location.reload();
    const rows = document.querySelectorAll('tr[data-space]');
    if (rows.length) {
      const spaces = (await (await fetch('/api/spaces')).json()).spaces || [];
      for (const space of spaces) {
        const cell = document.querySelector(`tr[data-space="${space.id}"] [data-field="occupancy"]`);
        if (!cell) continue;
        const text = `${space.occupancy}${space.overcrowded ? ' (over capacity)' : ''}`;
        if (cell.textContent !== text) cell.textContent = text;
        cell.className = space.overcrowded ? 'overcrowded' : '';
      }
    }
  } catch (error) {
    // the service restarting: try again at the next tick
  }
}

setInterval(refresh, REFRESH_MS);
