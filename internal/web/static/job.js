// narwhal dashboard, part 3 of 4: one job, its step graph and timeline (with
// each step's cache hits and misses), its artifacts with download links, and
// its log, followed by offset, all steps or one, with search and raw download.
'use strict';

// ---- one job -----------------------------------------------------------

// jobView shows job id. The query picks the log pane: step=NAME shows that
// step's lines only (the API filters them), q=TEXT keeps the lines that hold
// TEXT; both live in the URL, so a pane can be linked to.
function jobView(app, id, params) {
  const view = { id, step: params.get('step') || '', q: params.get('q') || '' };
  const head = el('section', { class: 'job-head' });
  const graph = el('section', { class: 'graph', id: 'graph' });
  const timeline = el('section', { class: 'timeline', id: 'timeline' });
  const artifacts = el('section', { class: 'artifacts', id: 'artifacts' });
  const tabs = el('nav', { class: 'log-tabs', id: 'log-tabs' });
  const log = el('pre', { class: 'log', id: 'log', 'data-step': view.step || null });
  const follow = el('label', { class: 'follow' }, el('input', { type: 'checkbox', checked: true, id: 'follow' }), ' follow');
  const tools = logTools(view, log);
  app.replaceChildren(el('p', {}, el('a', { href: '#/' }, '← all jobs')), head,
    el('h3', {}, 'Steps'), graph, timeline, artifacts, el('h3', {}, 'Log ', follow), tabs, tools, log);
  const tail = newLogTail(id, view.step, log, () => follow.firstChild.checked, () => view.q);
  const shown = {};
  poll(async (current) => {
    const job = await getJSON(`/jobs/${encodeURIComponent(id)}`);
    if (!current()) return;
    // A finished job re-renders when its record changes or its relative
    // times are 30 s old; a running one on every poll (its times move).
    const stale = Date.now() - (shown.at || 0) > 30000;
    if (changed(shown, 'job', job) || !FINAL.includes(job.status) || stale) {
      shown.at = Date.now();
      renderJobHead(head, job);
      renderGraph(graph, job, view);
      renderTimeline(timeline, job, view);
      // The artifacts only when they changed: a poll must not replace the
      // link a person is about to click.
      if (changed(shown, 'artifacts', (job.steps || []).map((s) => s.artifacts)) || stale) renderArtifacts(artifacts, job);
      renderTabs(tabs, job, view);
    }
    await tail.pull(job.status, current);
  });
}

// paneLink is the address of job view.id's log pane for step and query q.
function paneLink(view, step, q) {
  const p = new URLSearchParams();
  if (step) p.set('step', step);
  if (q) p.set('q', q);
  const query = p.toString();
  return `#/jobs/${encodeURIComponent(view.id)}${query ? '?' + query : ''}`;
}

// renderTabs draws "all" and one tab per step; the selected one is marked.
function renderTabs(box, j, view) {
  const tab = (name, label, status) => el('a', {
    href: paneLink(view, name, view.q), class: 'tab' + (name === view.step ? ' selected' : ''),
    'data-tab': name || 'all', 'data-status': status || null,
  }, label);
  box.replaceChildren(tab('', 'all'), ...(j.steps || []).map((s) => tab(s.name, s.name, s.status)));
}

// logTools is the search box, the match count and the raw download.
function logTools(view, pre) {
  const count = el('span', { class: 'muted', id: 'log-count' });
  const search = el('input', { type: 'search', id: 'log-search', placeholder: 'search the log', value: view.q });
  search.addEventListener('input', () => {
    view.q = search.value;
    history.replaceState(null, '', paneLink(view, view.step, view.q));
    filterLog(pre, view.q);
  });
  pre.addEventListener('narwhal:lines', () => filterLog(pre, view.q));
  pre.countBox = count;
  const download = el('button', { class: 'small', id: 'log-download' }, 'Download raw');
  download.addEventListener('click', () => downloadLog(view).catch(showError));
  return el('div', { class: 'log-tools' }, search, count, download);
}

// filterLog hides the lines that do not hold q (case-insensitive).
function filterLog(pre, q) {
  const needle = q.toLowerCase();
  let shown = 0, total = 0;
  for (const line of pre.querySelectorAll('.line')) {
    total++;
    const hit = !needle || line.textContent.toLowerCase().includes(needle);
    line.hidden = !hit;
    if (hit) shown++;
  }
  if (pre.countBox) pre.countBox.textContent = needle ? `${shown} of ${total} lines` : '';
}

// downloadLog fetches the raw log (the token goes in a header, so a plain
// link cannot) and saves it.
async function downloadLog(view) {
  const step = view.step ? `&step=${encodeURIComponent(view.step)}` : '';
  const resp = await call(`/jobs/${encodeURIComponent(view.id)}/logs?raw=1${step}`, {});
  const url = URL.createObjectURL(await resp.blob());
  const a = el('a', { href: url, download: `${view.id}${view.step ? '-' + view.step : ''}.log` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function renderJobHead(box, j) {
  const final = FINAL.includes(j.status);
  const act = (label, path, question, cls) => {
    const b = el('button', { class: cls }, label);
    b.addEventListener('click', async () => {
      if (!confirm(question)) return;
      b.disabled = true;
      try {
        const resp = await post(path);
        const body = await resp.json().catch(() => ({}));
        const next = body.id || (body.job && body.job.id);
        if (next && next !== j.id) location.hash = `#/jobs/${next}`;
      } catch (err) {
        showError(err);
      }
    });
    return b;
  };
  const row = (k, v) => (v ? [el('dt', {}, k), el('dd', {}, v)] : []);
  box.replaceChildren(
    el('h2', {}, badge(j.status, 'job-status'), ' ', el('a', { href: `#/repos/${j.repo}`, class: 'repo-link' }, j.repo),
      j.number ? el('span', { id: 'build-number' }, ` #${j.number}`) : null, el('span', { class: 'muted' }, ` @ ${j.branch || j.ref || ''}`)),
    el('p', { class: 'message' }, firstLine(j.message)),
    el('dl', { class: 'meta' },
      row('job', el('span', { class: 'mono', id: 'job-id' }, j.id)),
      row('commit', commitLink(j, true)),
      row('event', j.event + (j.pr ? ` #${j.pr}` : '')),
      row('author', j.author),
      row('attempt', String(j.attempt || 1)),
      row('runner', j.runner_id),
      row('waiting', j.waiting),
      row('error', j.error ? el('span', { class: 'error-text' }, j.error) : ''),
      row('created', fmtAgo(j.created_at)),
      row('duration', jobDuration(j)),
      row('re-submits', j.parent_id ? el('a', { href: `#/jobs/${j.parent_id}` }, j.parent_id) : '')),
    el('div', { class: 'actions' },
      final ? null : act('Cancel', `/jobs/${encodeURIComponent(j.id)}/cancel`, 'Cancel this job?', 'danger'),
      final ? act('Re-run', `/jobs/${encodeURIComponent(j.id)}/resubmit`, 'Run this commit again as a new job?') : null));
}

// Step graph geometry, in SVG units (pixels at 100%).
const NODE_W = 150, NODE_H = 34, COL_GAP = 56, ROW_GAP = 12;

// renderGraph draws the steps as a graph of depends_on: a column per depth
// (a step sits one column right of its deepest dependency), an edge from each
// dependency, each node coloured by its state and opening the step's pane.
function renderGraph(box, j, view) {
  const steps = j.steps || [];
  if (!steps.length) {
    box.replaceChildren();
    return;
  }
  const depth = stepDepths(steps);
  const rows = new Map(); // column → next free row
  const at = new Map(); // step → {x, y}
  for (const s of steps) {
    const col = depth.get(s.name), row = rows.get(col) || 0;
    rows.set(col, row + 1);
    at.set(s.name, { x: col * (NODE_W + COL_GAP), y: row * (NODE_H + ROW_GAP) });
  }
  const width = Math.max(...[...at.values()].map((p) => p.x)) + NODE_W;
  const height = Math.max(...[...at.values()].map((p) => p.y)) + NODE_H;
  const edges = steps.flatMap((s) => (s.depends_on || []).filter((d) => at.has(d)).map((d) => edge(at.get(d), at.get(s.name), s.name, d)));
  const nodes = steps.map((s) => graphNode(s, at.get(s.name), view));
  box.replaceChildren(svg('svg', { width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'step graph' }, ...edges, ...nodes));
}

// stepDepths is each step's column: 0 without dependencies, else one more
// than its deepest dependency (the plan has no cycles: the runner refused them).
function stepDepths(steps) {
  const deps = new Map(steps.map((s) => [s.name, s.depends_on || []]));
  const depth = new Map();
  const of = (name, seen) => {
    if (depth.has(name)) return depth.get(name);
    if (seen.has(name) || !deps.has(name)) return 0;
    seen.add(name);
    const d = Math.max(-1, ...deps.get(name).map((x) => of(x, seen))) + 1;
    depth.set(name, d);
    return d;
  };
  for (const s of steps) of(s.name, new Set());
  return depth;
}

function edge(from, to, step, dep) {
  const x1 = from.x + NODE_W, y1 = from.y + NODE_H / 2, x2 = to.x, y2 = to.y + NODE_H / 2, mid = (x1 + x2) / 2;
  return svg('path', { class: 'edge', d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`, 'data-edge': `${dep}->${step}` });
}

function graphNode(s, p, view) {
  const label = s.name.length > 18 ? s.name.slice(0, 17) + '…' : s.name;
  return svg('a', { href: paneLink(view, s.name, view.q), 'data-node': s.name, 'data-status': s.status },
    svg('title', {}, `${s.name}: ${s.status}`),
    svg('rect', { class: `node s-${s.status}` + (s.name === view.step ? ' selected' : ''), x: p.x, y: p.y, width: NODE_W, height: NODE_H, rx: 8 }),
    svg('text', { x: p.x + 12, y: p.y + NODE_H / 2 + 4 }, label));
}

// svg builds an SVG element, as el does an HTML one.
function svg(tag, attrs, ...children) {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const c of children.flat()) e.append(c);
  return e;
}

// renderTimeline draws each step as a bar on the job's time axis; a step's
// name opens its log pane.
function renderTimeline(box, j, view) {
  const steps = j.steps || [];
  if (!steps.length) {
    box.replaceChildren(el('p', { class: 'muted' }, j.status === 'queued' ? 'Waiting for a runner.' : 'No steps reported yet.'));
    return;
  }
  const now = Date.now();
  const starts = steps.map((s) => time(s.started_at)).filter((t) => !isNaN(t));
  const t0 = Math.min(time(j.started_at) || Infinity, ...starts);
  const ends = steps.map((s) => (isNaN(time(s.finished_at)) ? (isNaN(time(s.started_at)) ? t0 : now) : time(s.finished_at)));
  const t1 = Math.max(t0 + 1, isNaN(time(j.finished_at)) ? Math.max(...ends) : time(j.finished_at));
  const span = t1 - t0;
  box.replaceChildren(...steps.map((s, i) => {
    const start = time(s.started_at);
    const bar = el('div', { class: `bar s-${s.status}` });
    if (!isNaN(start) && isFinite(t0)) {
      bar.style.marginLeft = (((start - t0) / span) * 100).toFixed(2) + '%';
      bar.style.width = Math.max(((ends[i] - start) / span) * 100, 0.5).toFixed(2) + '%';
    } else {
      bar.hidden = true; // not started: no bar
    }
    const took = isNaN(start) ? '' : fmtDuration(ends[i] - start);
    return el('div', { class: 'step', 'data-step': s.name, 'data-status': s.status },
      el('a', { class: 'name' + (s.name === view.step ? ' selected' : ''), href: paneLink(view, s.name, view.q) }, s.name),
      el('div', { class: 'track' }, bar),
      el('span', { class: 'step-status' }, badge(s.status), s.exit_code ? el('span', { class: 'muted' }, ` exit ${s.exit_code}`) : null, ' ', took,
        (s.caches || []).map(cacheBadge), rerunButton(j, s)));
  }));
}

// rerunButton offers, on a failed or cancelled step of a finished job, to
// re-run the job from that step: the steps before it are not run again, and
// the run starts from the workspace they left. When that cannot be (no
// snapshot: a fork, too large, expired), the error says so, and the job's
// Re-run button above runs it whole.
function rerunButton(j, s) {
  if (!FINAL.includes(j.status) || !['failure', 'cancelled'].includes(s.status)) return null;
  const b = el('button', { class: 'small', 'data-rerun': s.name, title: `re-run this job from ${s.name}, keeping what the steps before it did` }, 'Re-run from here');
  b.addEventListener('click', async () => {
    if (!confirm(`Re-run this job from step ${s.name}?`)) return;
    b.disabled = true;
    try {
      const next = await (await sendJSON('POST', `/jobs/${encodeURIComponent(j.id)}/resubmit`, { from_step: s.name })).json();
      if (next.id) location.hash = `#/jobs/${next.id}`;
    } catch (err) {
      showError(err);
      b.disabled = false;
    }
  });
  return b;
}

// newLogTail follows a job's log by offset: each pull reads what was written
// since the last one and appends whole lines ("<step> | <text>").
function newLogTail(id, step, pre, following) {
  const t = { offset: 0, complete: false, partial: '', partialTime: 0, busy: false, empty: true, step, n: 0 };
  pre.textContent = 'Waiting for the log…';
  t.pull = async (status, current) => {
    if (t.complete || t.busy) return;
    t.busy = true;
    try {
      for (let round = 0; round < 8 && !t.complete && current(); round++) {
        const n = await readChunk(t, id, status, pre, following);
        if (n === 0) break;
      }
    } finally {
      t.busy = false;
    }
  };
  return t;
}

// readChunk reads one piece of the log from t.offset and returns its size.
async function readChunk(t, id, status, pre, following) {
  let resp;
  try {
    const step = t.step ? `&step=${encodeURIComponent(t.step)}` : '';
    resp = await call(`/jobs/${encodeURIComponent(id)}/logs?offset=${t.offset}&limit=${LOG_LIMIT}&times=1${step}`, {});
  } catch (err) {
    if (err.status === 404) {
      if (FINAL.includes(status)) pre.textContent = 'This job has no log.';
      return 0;
    }
    throw err;
  }
  const { text, next, complete, times } = await decodeLog(resp, t.offset);
  t.offset = next;
  t.complete = complete;
  appendLog(t, pre, text, complete, following(), times);
  return text.length;
}

// decodeLog reads an answer of GET /jobs/{id}/logs (api.LogChunk): {data,
// offset (the next one to ask for), complete, times (?times=1: when each
// line was logged, ms)}.
async function decodeLog(resp, offset) {
  const b = await resp.json();
  return { text: b.data || '', next: typeof b.offset === 'number' ? b.offset : offset, complete: !!b.complete,
    times: Array.isArray(b.times) ? b.times : [] };
}

// appendLog adds the whole lines of text, each with the time it was logged
// (times[i] is that of the i-th line of text; a line continuing the piece
// kept from the last read has that piece's time).
function appendLog(t, pre, text, complete, follow, times) {
  const all = t.partial + text;
  const at = t.partial ? [t.partialTime, ...times.slice(1)] : times;
  const cut = complete ? all.length : all.lastIndexOf('\n') + 1;
  const lines = all.slice(0, cut).split('\n').filter((l, i, a) => l !== '' || i < a.length - 1);
  t.partial = all.slice(cut);
  t.partialTime = t.partial ? at[lines.length] : 0;
  if (!lines.length) {
    if (complete && t.empty) pre.textContent = 'The log is empty.';
    return;
  }
  if (t.empty) {
    pre.textContent = '';
    t.empty = false;
  }
  const frag = document.createDocumentFragment();
  lines.forEach((line, i) => frag.append(logLine(line, ++t.n, at[i])));
  pre.append(frag);
  pre.dispatchEvent(new Event('narwhal:lines'));
  if (follow) pre.scrollTop = pre.scrollHeight;
}

// stepColours gives each step name a stable colour class.
const stepColours = new Map();

// logLine is line n of the pane: its number (shown by the style sheet, not
// part of the text, so a copy holds only the log), its step and its text,
// and when it was logged (ms, 0 unknown) in the title a hover shows.
function logLine(line, n, ms) {
  const when = ms ? { title: 'logged by ' + new Date(ms).toLocaleTimeString(), 'data-at': ms } : {};
  const i = line.indexOf(' | ');
  if (i < 0) return el('span', { class: 'line', 'data-n': n, ...when }, line + '\n');
  const step = line.slice(0, i);
  if (!stepColours.has(step)) stepColours.set(step, stepColours.size % 6);
  const text = line.slice(i + 3);
  return el('span', { class: 'line' + (text.startsWith('[narwhal]') ? ' note' : ''), 'data-n': n, 'data-step': step, ...when },
    el('span', { class: `st c${stepColours.get(step)}` }, step), ' ', text + '\n');
}

// ---- caches and artifacts ----------------------------------------------

// cacheBadge is "cache hit" or "cache miss" for one cache use of a step
// (ci.CacheUse), with what was restored and saved in its title.
function cacheBadge(u) {
  const partial = !u.hit && u.restored;
  let title = u.hit ? `cache hit ${u.key} (${fmtBytes(u.restored_bytes)})` : `cache miss ${u.key}`;
  if (partial) title += `, restored ${u.restored} (${fmtBytes(u.restored_bytes)})`;
  if (u.saved) title += `, saved ${fmtBytes(u.saved_bytes)}`;
  if (u.error) title += `; ${u.error}`;
  return el('span', { class: 'cache ' + (u.hit ? 'hit' : partial ? 'partial' : 'miss'), 'data-cache': u.key, title },
    u.hit ? 'cache hit' : partial ? 'cache partial' : 'cache miss');
}

// renderArtifacts lists the files the job's steps uploaded (api.ArtifactView),
// each with a download link; expired ones are listed without one.
function renderArtifacts(box, j) {
  const list = (j.steps || []).flatMap((s) => s.artifacts || []);
  if (!list.length) {
    box.replaceChildren();
    return;
  }
  const rows = list.map((a) => el('tr', { 'data-artifact-row': a.name, class: a.expired ? 'expired' : null },
    el('td', { class: 'mono' }, a.expired ? a.name : artifactLink(a)),
    el('td', {}, a.step),
    el('td', {}, fmtBytes(a.size)),
    el('td', { class: 'mono', title: a.sha256 }, (a.sha256 || '').slice(0, 16)),
    el('td', { title: a.expires_at || '' }, a.expired ? el('span', { class: 'muted' }, 'expired') : (fmtUntil(a.expires_at) || 'kept'))));
  box.replaceChildren(el('h3', {}, 'Artifacts'), el('table', { class: 'artifacts' },
    el('thead', {}, el('tr', {}, ['artifact', 'step', 'size', 'sha256', 'expires'].map((h) => el('th', {}, h)))),
    el('tbody', {}, rows)));
}

// artifactLink is the download link of a. The API wants the token in a
// header, so a click asks where to download from: a pre-signed URL of the
// store (AWS) is opened as it is; otherwise the file comes through the API.
function artifactLink(a) {
  const base = a.name.split('/').pop();
  const link = el('a', { href: state.api + a.url, 'data-artifact': a.name, download: base }, a.name);
  link.addEventListener('click', (ev) => {
    ev.preventDefault();
    downloadArtifact(a).catch(showError);
  });
  return link;
}

async function downloadArtifact(a) {
  const where = await getJSON(a.url + '?presign=1');
  if (where.presigned) {
    saveLink(where.url, '');
    return;
  }
  const url = URL.createObjectURL(await (await call(a.url)).blob());
  saveLink(url, a.name.split('/').pop());
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// saveLink follows a link to url, as a download named name when it is given.
function saveLink(url, name) {
  const a = el('a', { href: url, download: name || null, rel: 'noopener noreferrer' });
  document.body.append(a);
  a.click();
  a.remove();
}
