// narwhal dashboard, part 4 of 4: a repository's secrets and registry
// credentials (GET/PUT/DELETE /repos/{owner}/{name}/secrets and
// /registries). Only names, hosts and usernames are ever shown: the API
// never returns a value or a password, and a value typed into a form is sent
// once and cleared.
'use strict';

// repoPickView is #/repos: a form that opens a repository's page.
function repoPickView(app) {
  const form = el('form', { class: 'filters', id: 'repo-pick' },
    el('input', { name: 'repo', placeholder: 'repository (owner/name)', required: true, pattern: '[^/]+/[^/]+' }),
    el('button', { type: 'submit' }, 'Open'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    location.hash = '#/repos/' + form.elements.repo.value.trim();
  });
  app.replaceChildren(el('h2', {}, 'Repository secrets and registries'), form);
}

// repoSettings is the secrets and registries part of a repository's page
// (#/repos/<owner>/<name>, lists.js): its elements, and the refresh that
// fills them, which the page's poll calls.
function repoSettings(repo) {
  const base = '/repos/' + repo.split('/').map(encodeURIComponent).join('/');
  const secrets = el('tbody', { id: 'secrets' });
  const registries = el('tbody', { id: 'registries' });
  const shown = {};
  const refresh = async () => {
    const [s, r] = await Promise.all([getJSON(base + '/secrets'), getJSON(base + '/registries')]);
    // Re-render only what changed: a poll must not replace the button a
    // person is about to click.
    if (changed(shown, 'secrets', s)) renderSecrets(secrets, base, asList(s, 'secrets'), refresh);
    if (changed(shown, 'registries', r)) renderRegistries(registries, base, asList(r, 'registries'), refresh);
  };
  return {
    refresh,
    nodes: [
      el('p', { class: 'muted' }, 'A step gets the secrets it names in narwhal.yml. Pull requests from forks get only the ' +
        'secrets that allow them, and no registry credentials. Values are never shown again.'),
      el('h3', {}, 'Secrets'),
      el('table', { class: 'secrets' }, el('thead', {}, el('tr', {}, ['name', 'fork pull requests', 'updated', ''].map((h) => el('th', {}, h)))), secrets),
      secretForm(base, refresh),
      el('h3', {}, 'Registry credentials'),
      el('table', { class: 'registries' }, el('thead', {}, el('tr', {}, ['host', 'username', 'updated', ''].map((h) => el('th', {}, h)))), registries),
      registryForm(base, refresh),
    ],
  };
}

function renderSecrets(tbody, base, list, refresh) {
  if (!list.length) {
    tbody.replaceChildren(el('tr', {}, el('td', { colspan: 4, class: 'muted' }, 'No secrets.')));
    return;
  }
  tbody.replaceChildren(...list.map((s) => el('tr', { 'data-secret': s.name },
    el('td', { class: 'mono' }, s.name),
    el('td', {}, s.allow_pull_requests ? 'allowed' : 'no'),
    el('td', { title: s.updated_at }, fmtAgo(s.updated_at)),
    el('td', {}, deleteButton(`secret ${s.name}`, `${base}/secrets/${encodeURIComponent(s.name)}`, refresh)))));
}

function renderRegistries(tbody, base, list, refresh) {
  if (!list.length) {
    tbody.replaceChildren(el('tr', {}, el('td', { colspan: 4, class: 'muted' }, 'No registry credentials.')));
    return;
  }
  tbody.replaceChildren(...list.map((r) => el('tr', { 'data-registry': r.host },
    el('td', { class: 'mono' }, r.host),
    el('td', {}, r.username),
    el('td', { title: r.updated_at }, fmtAgo(r.updated_at)),
    el('td', {}, deleteButton(`registry ${r.host}`, `${base}/registries/${encodeURIComponent(r.host)}`, refresh)))));
}

function deleteButton(what, path, refresh) {
  const b = el('button', { class: 'small', 'data-delete': what }, 'Delete');
  b.addEventListener('click', async () => {
    if (!confirm(`Delete ${what}? Jobs handed out from now on do not get it.`)) return;
    b.disabled = true;
    await submit(() => call(path, { method: 'DELETE' }), refresh);
  });
  return b;
}

// putJSON sends a PUT with a JSON body.
const putJSON = (path, body) => sendJSON('PUT', path, body);

// submit runs a change, shows its error if any, and refreshes the lists.
async function submit(change, refresh) {
  try {
    await change();
    showError(null);
  } catch (err) {
    showError(err);
  }
  await refresh().catch(showError);
}

function secretForm(base, refresh) {
  const form = el('form', { class: 'filters', id: 'secret-form' },
    el('input', { name: 'name', placeholder: 'NAME', required: true, autocomplete: 'off' }),
    el('input', { name: 'value', type: 'password', placeholder: 'value', required: true, autocomplete: 'off' }),
    el('label', {}, el('input', { name: 'allow', type: 'checkbox' }), ' pull requests from forks may have it'),
    el('button', { type: 'submit' }, 'Set secret'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = form.elements;
    const body = { value: f.value.value, allow_pull_requests: f.allow.checked };
    f.value.value = '';
    await submit(() => putJSON(`${base}/secrets/${encodeURIComponent(f.name.value.trim())}`, body), refresh);
  });
  return form;
}

function registryForm(base, refresh) {
  const form = el('form', { class: 'filters', id: 'registry-form' },
    el('input', { name: 'host', placeholder: 'host[:port], e.g. ghcr.io', required: true, autocomplete: 'off' }),
    el('input', { name: 'username', placeholder: 'username', required: true, autocomplete: 'off' }),
    el('input', { name: 'password', type: 'password', placeholder: 'password or token', required: true, autocomplete: 'off' }),
    el('button', { type: 'submit' }, 'Add registry'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = form.elements;
    const body = { username: f.username.value.trim(), password: f.password.value };
    f.password.value = '';
    await submit(() => putJSON(`${base}/registries/${encodeURIComponent(f.host.value.trim())}`, body), refresh);
  });
  return form;
}
