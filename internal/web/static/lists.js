// narwhal dashboard, part 2 of 4: the job list with its filters and pages,
// the figures of GET /stats, a repository's page, and the runners with their
// disk use and drain buttons.
'use strict';

// ---- home: figures, runners, jobs ---------------------------------------

const STATUSES = ['queued', 'assigned', 'running', 'success', 'failure', 'error', 'cancelled', 'skipped'];

function homeView(app, params) {
  const filters = el('form', { class: 'filters', id: 'filters' },
    el('input', { name: 'repo', placeholder: 'repository (owner/name)', value: params.get('repo') || '' }),
    el('select', { name: 'status' }, el('option', { value: '' }, 'any status'),
      STATUSES.map((s) => el('option', { value: s, selected: params.get('status') === s }, s))),
    el('input', { name: 'branch', placeholder: 'branch', value: params.get('branch') || '' }),
    el('button', { type: 'submit' }, 'Filter'),
    el('a', { href: '#/', class: 'button-link' }, 'Clear'));
  filters.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(filters)) if (v) q.set(k, v);
    location.hash = '#/' + (q.toString() ? '?' + q : '');
  });
  const figures = el('section', { class: 'figures', id: 'figures' });
  const runners = el('section', { id: 'runners' });
  const jobs = el('tbody', { id: 'jobs' });
  const pager = el('nav', { class: 'pager', id: 'pager' });
  app.replaceChildren(
    figures,
    el('h2', {}, 'Jobs'), filters,
    jobTable(jobs), pager,
    el('h2', {}, 'Runners'), runners);
  const query = new URLSearchParams();
  for (const k of ['repo', 'status', 'branch', 'cursor']) if (params.get(k)) query.set(k, params.get(k));
  poll(async (current) => {
    const [page, rs, stats] = await Promise.all([
      getJSON('/jobs' + (query.toString() ? '?' + query : '')),
      getJSON('/runners'),
      getJSON('/stats').catch(() => null),
    ]);
    if (!current()) return;
    renderJobs(jobs, asList(page, 'jobs'));
    renderPager(pager, query, page.cursor);
    renderRunners(runners, asList(rs, 'runners'));
    renderStats(figures, stats);
  });
}

function jobTable(tbody) {
  return el('table', { class: 'jobs' },
    el('thead', {}, el('tr', {}, ['status', 'job', 'repository', 'branch', 'commit', 'message', 'runner', 'created', 'duration'].map((h) => el('th', {}, h)))),
    tbody);
}

// renderPager links the newest page and the next (older) one: the API pages
// by cursor, so there is no page count, and the cursor lives in the URL.
function renderPager(box, query, next) {
  const link = (cursor, label, id) => {
    const q = new URLSearchParams(query);
    if (cursor) q.set('cursor', cursor); else q.delete('cursor');
    return el('a', { href: '#/' + (q.toString() ? '?' + q : ''), id, class: 'button-link' }, label);
  };
  box.replaceChildren(query.has('cursor') ? link('', '← newest', 'page-newest') : '', next ? link(next, 'older →', 'page-older') : '');
}

// repoView is a repository's page: the latest job of each branch and pull
// request, the repository's jobs, newest first, then its secrets and
// registries (repo.js).
function repoView(app, repo, params) {
  const branches = el('tbody', { id: 'branches' });
  const jobs = el('tbody', { id: 'jobs' });
  const pager = el('nav', { class: 'pager', id: 'pager' });
  const settings = repoSettings(repo);
  app.replaceChildren(el('p', {}, el('a', { href: '#/' }, '← all jobs')),
    el('h2', {}, el('span', { class: 'mono', id: 'repo-name' }, repo)),
    el('table', { class: 'branches' }, el('thead', {}, el('tr', {}, ['branch', 'status', 'job', 'commit', 'message', 'created'].map((h) => el('th', {}, h)))), branches),
    el('p', { class: 'muted' }, `Branches from the repository's latest ${BRANCH_WINDOW} jobs.`),
    el('h3', {}, 'Jobs'), jobTable(jobs), pager, ...settings.nodes);
  const query = new URLSearchParams({ repo });
  if (params.get('cursor')) query.set('cursor', params.get('cursor'));
  poll(async (current) => {
    const [recent, page] = await Promise.all([
      getJSON(`/jobs?repo=${encodeURIComponent(repo)}&limit=${BRANCH_WINDOW}`),
      getJSON('/jobs?' + query),
    ]);
    if (!current()) return;
    renderBranches(branches, asList(recent, 'jobs'));
    renderJobs(jobs, asList(page, 'jobs'));
    renderPager(pager, query, page.cursor);
    await settings.refresh();
  });
}

// BRANCH_WINDOW is how many recent jobs the branch list looks at (the API's
// largest page).
const BRANCH_WINDOW = 200;

// renderBranches shows the newest job of each branch (pushes and tags by
// ref, pull requests by number), as the list comes newest first.
function renderBranches(tbody, list) {
  const seen = new Map();
  for (const j of list) {
    const key = j.pr ? `#${j.pr}` : (j.branch || j.ref || '');
    if (!seen.has(key)) seen.set(key, j);
  }
  if (!seen.size) {
    tbody.replaceChildren(el('tr', {}, el('td', { colspan: 6, class: 'muted' }, 'No jobs for this repository yet.')));
    return;
  }
  tbody.replaceChildren(...[...seen].map(([key, j]) => el('tr', { 'data-branch': key, 'data-status': j.status },
    el('td', { class: 'mono' }, j.pr ? `pull request ${key}` : key),
    el('td', {}, badge(j.status)),
    el('td', {}, el('a', { href: `#/jobs/${j.id}` }, j.id.slice(0, 10))),
    el('td', {}, commitLink(j)),
    el('td', { class: 'message', title: j.message || '' }, firstLine(j.message)),
    el('td', { title: j.created_at }, fmtAgo(j.created_at)))));
}

function renderJobs(tbody, list) {
  if (!list.length) {
    tbody.replaceChildren(el('tr', {}, el('td', { colspan: 9, class: 'muted' }, 'No jobs yet. Push a commit, or run `narwhal trigger`.')));
    return;
  }
  tbody.replaceChildren(...list.map((j) => el('tr', { 'data-job': j.id, 'data-status': j.status },
    el('td', {}, badge(j.status)),
    el('td', {}, el('a', { href: `#/jobs/${j.id}` }, j.id.slice(0, 10)), j.attempt > 1 ? el('span', { class: 'muted' }, ` #${j.attempt}`) : null),
    el('td', {}, el('a', { href: `#/repos/${j.repo}`, title: 'branches, secrets and registries' }, j.repo),
      j.number ? el('a', { href: `#/jobs/${j.id}`, class: 'build-number' }, ` #${j.number}`) : null),
    el('td', {}, j.branch || ''),
    el('td', {}, commitLink(j)),
    el('td', { class: 'message', title: j.message || '' }, firstLine(j.message)),
    el('td', {}, j.runner_id || (j.waiting ? el('span', { class: 'muted', title: j.waiting }, 'waiting') : '')),
    el('td', { title: j.created_at }, fmtAgo(j.created_at)),
    el('td', {}, jobDuration(j)))));
}

// renderStats shows the figures of GET /stats (api.Stats): queue depth,
// queue wait percentiles, success rate and slot use over the recent jobs.
function renderStats(box, stats) {
  if (!stats) {
    box.replaceChildren();
    return;
  }
  const jobs = stats.jobs || {};
  const runners = stats.runners || {};
  const wait = jobs.wait_seconds;
  const pct = (v) => (typeof v === 'number' ? (v * 100).toFixed(1) + '%' : '–');
  const card = (id, label, value, title) => el('div', { class: 'figure', id, title },
    el('div', { class: 'value' }, value), el('div', { class: 'label' }, label));
  box.replaceChildren(
    card('fig-depth', 'queue depth', typeof stats.queue_depth === 'number' ? String(stats.queue_depth) : '–', stats.queue_error),
    card('fig-wait-p50', 'queue wait p50', wait ? fmtSeconds(wait.p50) : '–', wait ? `over ${wait.count} jobs` : 'no job started yet'),
    card('fig-wait-p90', 'queue wait p90', wait ? fmtSeconds(wait.p90) : '–'),
    card('fig-success', 'success rate', pct(jobs.success_rate), `over the last ${jobs.sample || 0} jobs; cancelled ones do not count`),
    card('fig-slots', 'slots in use', `${runners.running || 0}/${runners.capacity || 0}`, 'running jobs / job slots of the runners that are not offline'),
    card('fig-utilisation', 'utilisation', pct(runners.utilisation)),
    ...STATUSES.filter((s) => (jobs.by_status || {})[s]).map((s) => card(`fig-status-${s}`, s, String(jobs.by_status[s]))));
}

function fmtSeconds(v) {
  if (typeof v !== 'number') return '–';
  return v < 10 ? v.toFixed(2) + 's' : fmtDuration(v * 1000);
}

// ---- runners -----------------------------------------------------------

function runnersView(app) {
  const box = el('section', { id: 'runners' });
  app.replaceChildren(el('h2', {}, 'Runners'), box);
  poll(async (current) => {
    const rs = await getJSON('/runners');
    if (current()) renderRunners(box, asList(rs, 'runners'));
  });
}

function renderRunners(box, list) {
  if (!list.length) {
    box.replaceChildren(el('p', { class: 'muted' }, 'No runner has registered.'));
    return;
  }
  const rows = list.map((r) => {
    const cap = Math.max(r.capacity || 0, 1);
    const drain = el('button', { class: 'small', disabled: r.state !== 'active', title: 'stop giving this runner jobs; running jobs finish' }, 'Drain');
    drain.addEventListener('click', async () => {
      if (!confirm(`Drain runner ${r.id}? It takes no new jobs; running ones get time to finish.`)) return;
      drain.disabled = true;
      try {
        await post(`/runners/${encodeURIComponent(r.id)}/drain`);
      } catch (err) {
        showError(err);
      }
    });
    return el('tr', { 'data-runner': r.id },
      el('td', {}, r.id),
      el('td', {}, badge(r.state)),
      el('td', {}, el('meter', { min: 0, max: cap, value: r.running || 0 }), ` ${r.running || 0}/${r.capacity || 0}`),
      diskCell(r),
      el('td', {}, (r.labels || []).join(', ')),
      el('td', { class: 'mono' }, r.address || ''),
      el('td', { title: r.last_heartbeat }, fmtAgo(r.last_heartbeat)),
      el('td', {}, drain));
  });
  box.replaceChildren(el('table', { class: 'runners' },
    el('thead', {}, el('tr', {}, ['runner', 'state', 'load', 'disk', 'labels', 'address', 'heartbeat', ''].map((h) => el('th', {}, h)))),
    el('tbody', {}, rows)));
}

// diskCell shows how full the runner's fullest filesystem is, as a bar and
// a percentage with the free space; red, with the reason, while the runner
// is under disk pressure (it takes no jobs until it has freed space).
function diskCell(r) {
  const used = r.disk_used_percent || 0;
  if (!used && !r.disk_pressure) return el('td', { class: 'disk muted' }, '–');
  const fill = el('div', { class: 'fill' });
  fill.style.width = Math.min(Math.max(used, 0), 100).toFixed(1) + '%';
  const free = r.free_disk_bytes ? `, ${fmtBytes(r.free_disk_bytes)} free` : '';
  return el('td', { class: 'disk' + (r.disk_pressure ? ' pressure' : ''), 'data-disk': used.toFixed(1), title: r.disk_pressure || null },
    el('div', { class: 'diskbar' }, fill), ` ${used.toFixed(0)}%${free}`,
    r.disk_pressure ? el('div', { class: 'pressure-reason' }, 'disk pressure: ' + r.disk_pressure) : null);
}
