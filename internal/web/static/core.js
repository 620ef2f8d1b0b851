// narwhal dashboard, part 1 of 4: state, API calls, formatting, routing and
// polling. The page loads core.js, lists.js (jobs, figures, runners), job.js
// (one job) and repo.js (a repository's secrets and registries) in that
// order; they share the script scope, no build step.
//
// Routes (hash): #/ jobs with filters, pages, figures and runners;
// #/jobs/<id>[?step=&q=] one job with its step graph, timeline and log panes;
// #/runners the runners alone; #/repos/<owner>/<name> a repository's
// branches, jobs, secrets and registries; #/repos opens one.
// Each view has a refresh function that the poller calls every POLL_MS; the
// next poll is scheduled only when the previous one ended, so a slow API never
// piles up requests.
'use strict';

const POLL_MS = 1500;
const FINAL = ['success', 'failure', 'error', 'cancelled', 'skipped']; // job states that do not change
const LOG_LIMIT = 256 * 1024;

const state = {
  api: meta('narwhal-api') || '/api',
  token: meta('narwhal-token') || sessionStorage.getItem('narwhal-token') || '',
  timer: 0,
  generation: 0, // bumped per route: a refresh of an old view drops its result
};

function meta(name) {
  const m = document.querySelector(`meta[name="${name}"]`);
  return m ? m.content : '';
}

// el builds an element: el('a', {href: '#/', class: 'x'}, 'text', child).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c !== undefined && c !== null && c !== false) e.append(c);
  }
  return e;
}

// ---- API ---------------------------------------------------------------

class APIError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function call(path, opts = {}) {
  const headers = { Accept: 'application/json', ...(opts.headers || {}) };
  if (state.token) headers.Authorization = 'Bearer ' + state.token;
  const resp = await fetch(state.api + path, { ...opts, headers });
  if (resp.status === 401) {
    showLogin();
    throw new APIError(401, 'the API refused the token');
  }
  if (!resp.ok) {
    let msg = `${resp.status} ${resp.statusText}`;
    try {
      const body = await resp.json();
      msg = body.error || body.message || msg;
    } catch (_) { /* not JSON */ }
    throw new APIError(resp.status, msg);
  }
  return resp;
}

const getJSON = async (path) => (await call(path)).json();
const post = (path) => call(path, { method: 'POST' });

// changed reports whether v differs from what memo keeps under key, and
// keeps it: views re-render only what changed, so that a poll does not
// replace the button a person is about to click.
function changed(memo, key, v) {
  const text = JSON.stringify(v);
  if (memo[key] === text) return false;
  memo[key] = text;
  return true;
}

// sendJSON sends method with a JSON body.
const sendJSON = (method, path, body) => call(path, {
  method, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
});

function showError(err) {
  const box = document.getElementById('error');
  if (!err) {
    box.hidden = true;
    return;
  }
  box.textContent = err.message || String(err);
  box.hidden = false;
}

function showLogin() {
  stopPolling();
  const app = document.getElementById('app');
  if (app.querySelector('form.login')) return;
  const form = document.getElementById('login').content.firstElementChild.cloneNode(true);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    state.token = form.elements.token.value.trim();
    sessionStorage.setItem('narwhal-token', state.token);
    route();
  });
  app.replaceChildren(form);
}

// ---- formatting --------------------------------------------------------

const time = (s) => (s ? Date.parse(s) : NaN);

function fmtDuration(ms) {
  if (!(ms >= 0)) return '';
  if (ms < 10000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

// fmtBytes is a size in decimal units, as console.Bytes writes it: "812 B",
// "3.4 kB", "812 MB".
function fmtBytes(n) {
  if (!(n >= 1000)) return `${n || 0} B`;
  let i = -1;
  do { n /= 1000; i++; } while (n >= 1000 && i < 5);
  return `${n >= 100 ? n.toFixed(0) : n.toFixed(1)} ${'kMGTPE'[i]}B`;
}

// fmtUntil is how long until s ("in 7d", "in 5h 2m"), '' when past or unset.
function fmtUntil(s) {
  const ms = time(s) - Date.now();
  if (!(ms > 0)) return '';
  return 'in ' + (ms >= 2 * 86400000 ? `${Math.round(ms / 86400000)}d` : fmtDuration(ms));
}

function fmtAgo(s) {
  const t = time(s);
  if (isNaN(t) || t <= 0) return '';
  return fmtDuration(Date.now() - t) + ' ago';
}

function jobDuration(j) {
  const start = time(j.started_at);
  if (isNaN(start)) return '';
  const end = isNaN(time(j.finished_at)) ? Date.now() : time(j.finished_at);
  return fmtDuration(end - start);
}

function badge(status, id) {
  return el('span', { class: `badge s-${status || 'unknown'}`, id }, status || 'unknown');
}

// asList takes a bare array or the array under key of an object.
const asList = (v, key) => (Array.isArray(v) ? v : (v && Array.isArray(v[key]) ? v[key] : []));
const short = (sha) => (sha || '').slice(0, 8);

// commitURL is the web page of j's commit when its clone URL is an https
// one of a forge (GitHub, and the ones that share its /commit/ path), else ''.
function commitURL(j) {
  const m = /^https:\/\/([^/@]+)\/([^/]+)\/([^/]+?)(\.git)?\/?$/.exec(j.clone_url || '');
  return m && /^[0-9a-f]{40}$/i.test(j.sha || '') ? `https://${m[1]}/${m[2]}/${m[3]}/commit/${j.sha}` : '';
}

// commitLink is the short SHA, linked to the commit's page when there is one.
function commitLink(j, full) {
  const text = full ? j.sha : short(j.sha);
  const url = commitURL(j);
  return url ? el('a', { class: 'mono', href: url, target: '_blank', rel: 'noopener noreferrer' }, text) : el('span', { class: 'mono' }, text);
}
const firstLine = (s) => (s || '').split('\n')[0];

// ---- routing and polling -----------------------------------------------

function stopPolling() {
  clearTimeout(state.timer);
  state.timer = 0;
}

// poll runs refresh now and again every POLL_MS while the view is current.
function poll(refresh) {
  const gen = ++state.generation;
  const tick = async () => {
    try {
      await refresh(() => gen === state.generation);
      if (gen === state.generation) showError(null);
    } catch (err) {
      if (err.status === 401) return;
      if (gen === state.generation) showError(err);
    }
    if (gen === state.generation) state.timer = setTimeout(tick, POLL_MS);
  };
  tick();
}

function route() {
  stopPolling();
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, query] = hash.split('?');
  const params = new URLSearchParams(query || '');
  const app = document.getElementById('app');
  let m;
  if ((m = path.match(/^\/jobs\/([A-Za-z0-9._-]+)$/))) {
    setNav('jobs');
    jobView(app, decodeURIComponent(m[1]), params);
  } else if ((m = path.match(/^\/repos\/([A-Za-z0-9._-]+\/[A-Za-z0-9._-]+)$/))) {
    setNav('jobs');
    repoView(app, m[1], params);
  } else if (path === '/runners') {
    setNav('runners');
    runnersView(app);
  } else if (path === '/repos') {
    setNav('repos');
    repoPickView(app);
  } else {
    setNav('jobs');
    homeView(app, params);
  }
}

function setNav(name) {
  for (const a of document.querySelectorAll('[data-nav]')) {
    a.classList.toggle('active', a.dataset.nav === name);
  }
}

window.addEventListener('hashchange', route);
window.addEventListener('DOMContentLoaded', () => {
  route();
  setInterval(() => {
    document.getElementById('clock').textContent = new Date().toLocaleTimeString();
  }, 1000);
});
