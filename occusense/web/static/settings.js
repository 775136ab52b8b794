// Settings helpers: connection test and schedule copy/reset through the REST API.
// this sensor's pages and API (under /cameras/<id> in a site)
var BASE = document.body.dataset.base || '';
const tools = document.querySelector('.tools');
const headers = {'X-CSRF-Token': tools.dataset.csrf};

const testButton = document.getElementById('test-connection');
if (testButton) testButton.onclick = async () => {
  const list = document.getElementById('test-results');
  // a "saved" from before is not this test's result
  for (const old of document.querySelectorAll('main > p.ok')) old.hidden = true;
  list.innerHTML = '<li>testing…</li>';
  const response = await fetch(BASE + '/api/test-connection', {method: 'POST', headers});
  const body = await response.json();
  list.innerHTML = '';
  for (const r of body.results || [{ok: false, message: body.detail}]) {
    const li = document.createElement('li');
    li.textContent = r.ok ? `${r.recipient}: reached, a test report was accepted`
      : `${r.recipient ? '' : 'Not tested: '}${r.message}`;
    li.className = r.ok ? 'ok' : 'error';
    list.append(li);
  }
};

async function schedule(method, suffix) {
  const feature = document.getElementById('schedule-feature').value;
  const response = await fetch(`${BASE}/api/schedule/${feature}${suffix}`, {method, headers});
  const out = document.getElementById('schedule-result');
  out.textContent = response.ok ? 'done; reloading…' : (await response.json()).detail;
  if (response.ok) setTimeout(() => location.reload(), 300);
}
const copyButton = document.getElementById('schedule-copy');
if (copyButton) {
  copyButton.onclick = () =>
    schedule('POST', `/copy?day=${document.getElementById('schedule-day').value}`);
  document.getElementById('schedule-reset').onclick = () => {
    const feature = document.getElementById('schedule-feature');
    const name = feature.options[feature.selectedIndex].text;
    if (confirm(`Reset the ${name} schedule to always on? Its days and periods are replaced.`)) {
      schedule('DELETE', '');
    }
  };
}

// Recipients: a feature that takes another's recipients hides its own
// (they stay saved, and come back when it is set to "own" again).
for (const select of document.querySelectorAll('select[name$=".report.same_as"]')) {
  const form = select.closest('form');
  const own = () => {
    const shared = select.value !== 'own';
    for (const name of ['protocol', 'mqtt', 'http']) {
      for (const el of form.querySelectorAll(`[data-field="${name}"]`)) el.hidden = shared;
    }
  };
  select.addEventListener('change', own);
  own();
}

// a link to a section in a folded group opens the group
function openTarget() {
  const target = location.hash && document.getElementById(location.hash.slice(1));
  const group = target && target.closest('details');
  if (group) { group.open = true; target.scrollIntoView(); }
}
window.addEventListener('hashchange', openTarget);
openTarget();
