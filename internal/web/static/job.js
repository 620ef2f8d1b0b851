// narwhal dashboard, part 3 of 3: one job, its step timeline and its log,
// followed by offset.
'use strict';

// ---- one job -----------------------------------------------------------

function jobView(app, id) {
  const head = el('section', { class: 'job-head' });
  const timeline = el('section', { class: 'timeline', id: 'timeline' });
  const log = el('pre', { class: 'log', id: 'log' });
  const follow = el('label', { class: 'follow' }, el('input', { type: 'checkbox', checked: true, id: 'follow' }), ' follow');
  app.replaceChildren(el('p', {}, el('a', { href: '#/' }, '← all jobs')), head,
    el('h3', {}, 'Steps'), timeline, el('h3', {}, 'Log ', follow), log);
  const tail = newLogTail(id, log, () => follow.firstChild.checked);
  poll(async (current) => {
    const job = await getJSON(`/jobs/${encodeURIComponent(id)}`);
    if (!current()) return;
    renderJobHead(head, job);
    renderTimeline(timeline, job);
    await tail.pull(job.status, current);
  });
}

function renderJobHead(box, j) {
  const final = ['success', 'failure', 'error', 'cancelled', 'skipped'].includes(j.status);
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
    el('h2', {}, badge(j.status, 'job-status'), ' ', j.repo, el('span', { class: 'muted' }, ` @ ${j.branch || j.ref || ''}`)),
    el('p', { class: 'message' }, firstLine(j.message)),
    el('dl', { class: 'meta' },
      row('job', el('span', { class: 'mono', id: 'job-id' }, j.id)),
      row('commit', el('span', { class: 'mono' }, j.sha)),
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

// renderTimeline draws each step as a bar on the job's time axis.
function renderTimeline(box, j) {
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
      el('span', { class: 'name' }, s.name),
      el('div', { class: 'track' }, bar),
      el('span', { class: 'step-status' }, badge(s.status), s.exit_code ? el('span', { class: 'muted' }, ` exit ${s.exit_code}`) : null, ' ', took));
  }));
}

// newLogTail follows a job's log by offset: each pull reads what was written
// since the last one and appends whole lines ("<step> | <text>").
function newLogTail(id, pre, following) {
  const t = { offset: 0, complete: false, partial: '', busy: false, empty: true };
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
    resp = await call(`/jobs/${encodeURIComponent(id)}/logs?offset=${t.offset}&limit=${LOG_LIMIT}`, {});
  } catch (err) {
    if (err.status === 404) {
      if (['success', 'failure', 'error', 'cancelled', 'skipped'].includes(status)) pre.textContent = 'This job has no log.';
      return 0;
    }
    throw err;
  }
  const { text, next, complete } = await decodeLog(resp, t.offset);
  t.offset = next;
  t.complete = complete;
  appendLog(t, pre, text, complete, following());
  return text.length;
}

// decodeLog reads an answer of GET /jobs/{id}/logs (api.LogChunk): {data,
// offset (the next one to ask for), complete}.
async function decodeLog(resp, offset) {
  const b = await resp.json();
  return { text: b.data || '', next: typeof b.offset === 'number' ? b.offset : offset, complete: !!b.complete };
}

function appendLog(t, pre, text, complete, follow) {
  const all = t.partial + text;
  const cut = complete ? all.length : all.lastIndexOf('\n') + 1;
  t.partial = all.slice(cut);
  const lines = all.slice(0, cut).split('\n').filter((l, i, a) => l !== '' || i < a.length - 1);
  if (!lines.length) {
    if (complete && t.empty) pre.textContent = 'The log is empty.';
    return;
  }
  if (t.empty) {
    pre.textContent = '';
    t.empty = false;
  }
  const frag = document.createDocumentFragment();
  for (const line of lines) frag.append(logLine(line));
  pre.append(frag);
  if (follow) pre.scrollTop = pre.scrollHeight;
}

// stepColours gives each step name a stable colour class.
const stepColours = new Map();

function logLine(line) {
  const i = line.indexOf(' | ');
  if (i < 0) return el('span', { class: 'line' }, line + '\n');
  const step = line.slice(0, i);
  if (!stepColours.has(step)) stepColours.set(step, stepColours.size % 6);
  const text = line.slice(i + 3);
  return el('span', { class: 'line' + (text.startsWith('[narwhal]') ? ' note' : '') },
    el('span', { class: `st c${stepColours.get(step)}` }, step), ' ', text + '\n');
}
