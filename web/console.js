// The web console of `facerec serve`: people, faces, identify and verify through the REST API.
// Served by the service itself under a strict Content-Security-Policy: no inline script, calls to
// this origin only. Everything the API returns (names, metadata, messages) is rendered as text
// (textContent), never as HTML. The API key lives in this tab's sessionStorage only.

const KEY_STORAGE = 'facerec.apiKey';
const PAGE_SIZE = 20;

const $ = (id) => document.getElementById(id);

// ---- the API ----------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// One call: JSON out, JSON in; an error body becomes an ApiError with the server's code and message.
async function api(method, path, { body, contentType, key } = {}) {
  const headers = { 'X-API-Key': key ?? sessionStorage.getItem(KEY_STORAGE) ?? '' };
  if (contentType) headers['Content-Type'] = contentType;
  let response;
  try {
    response = await fetch(path, { method, headers, body, cache: 'no-store', credentials: 'omit' });
  } catch (e) {
    throw new ApiError(0, 'network', `the service did not answer (${e.message})`);
  }
  let data = null;
  const text = await response.text();
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    throw new ApiError(response.status, 'bad_response', `the service answered ${response.status} with something that is not JSON`);
  }
  if (!response.ok) {
    const err = data && data.error ? data.error : {};
    throw new ApiError(response.status, err.code || 'http_error', err.message || `HTTP ${response.status}`);
  }
  return data;
}

// ---- messages ---------------------------------------------------------------------------------

function say(text, kind = 'error') {
  const box = $('message');
  box.textContent = text;
  box.className = kind;
  box.hidden = false;
}

function clearMessage() {
  $('message').hidden = true;
  $('message').textContent = '';
}

// What to tell the user about a failed call; a key that stopped working signs out.
function explain(e, what) {
  if (!(e instanceof ApiError)) {
    say(`${what}: ${e.message}`);
    return;
  }
  if (e.status === 401 && sessionStorage.getItem(KEY_STORAGE)) {
    signOut();
    say(`The API key is no longer accepted (${e.message}). Sign in again.`);
    return;
  }
  const hints = {
    body_too_large: 'the file is larger than the service accepts',
    image_too_large: 'the image has more pixels than the service accepts',
    bad_image: 'the file is not an image the service can read',
    no_face: 'no face was found in the photo',
    low_quality: 'the face is too small, blurred, dark or turned away to enrol reliably',
    already_exists: 'a person of that name exists already',
    no_person: 'that person does not exist (any more)',
  };
  const hint = hints[e.code] ? ` (${hints[e.code]})` : '';
  say(`${what}: ${e.message}${hint} [${e.code}${e.status ? ', HTTP ' + e.status : ''}]`);
}

// ---- element helpers (text only) --------------------------------------------------------------

function el(tag, { text, cls, attrs } = {}, children = []) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = String(text);
  if (cls) node.className = cls;
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const child of children) node.append(child);
  return node;
}

const percent = (x) => `${(100 * x).toFixed(2)}%`;
const similarity = (s) => s.toFixed(3);

// An image with boxes over it: `boxes` in the image's pixels, each with a label.
function figure(container, url, boxes = []) {
  container.replaceChildren();
  const img = el('img', { attrs: { src: url, alt: 'the photo sent' } });
  const frame = el('div', { cls: 'frame' }, [img]);
  container.append(frame);
  const place = () => {
    const w = img.naturalWidth, h = img.naturalHeight;
    if (!w || !h) return;
    for (const b of boxes) {
      const box = el('div', { cls: `box ${b.known ? 'known' : 'unknown'}`, attrs: { 'data-testid': 'face-box' } }, [
        el('span', { text: b.label }),
      ]);
      box.style.left = percent(b.x / w);
      box.style.top = percent(b.y / h);
      box.style.width = percent(b.width / w);
      box.style.height = percent(b.height / h);
      frame.append(box);
    }
  };
  if (img.complete) place();
  else img.addEventListener('load', place, { once: true });
}

// A drop zone that also opens its file input; calls `onFiles(File[])`.
function dropZone(zone, input, onFiles) {
  const take = (files) => {
    const images = [...files].filter((f) => f.type.startsWith('image/') || f.type === '');
    if (images.length === 0) say('Drop image files (JPEG, PNG, ...).');
    else onFiles(images);
  };
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('over');
    take(e.dataTransfer.files);
  });
  zone.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') input.click();
  });
  input.addEventListener('change', () => {
    take(input.files);
    input.value = '';
  });
}

const blobUrls = new Set();
function urlOf(file) {
  const url = URL.createObjectURL(file);
  blobUrls.add(url);
  return url;
}
function releaseUrls() {
  for (const u of blobUrls) URL.revokeObjectURL(u);
  blobUrls.clear();
}

// ---- session ----------------------------------------------------------------------------------

let server = null;  // GET /v1/version of the signed-in session

async function signIn(key) {
  server = await api('GET', '/v1/version', { key });
  sessionStorage.setItem(KEY_STORAGE, key);
  $('sign-in-view').hidden = true;
  $('app-view').hidden = false;
  $('session').hidden = false;
  $('server-info').textContent =
    `facerec ${server.facerec} · ${server.embedder.split('|')[0]} · threshold ${similarity(server.threshold)} (${server.operating_point})`;
  $('server-info').title = server.embedder;
  show('people');
  await loadPeople();
}

function signOut() {
  sessionStorage.removeItem(KEY_STORAGE);
  server = null;
  releaseUrls();
  $('app-view').hidden = true;
  $('session').hidden = true;
  $('sign-in-view').hidden = false;
  $('api-key').value = '';
  $('people-rows').replaceChildren();
  $('person-panel').hidden = true;
}

function show(view) {
  for (const tab of document.querySelectorAll('.tab')) tab.setAttribute('aria-pressed', String(tab.dataset.view === view));
  for (const name of ['people', 'identify', 'verify']) $(`${name}-view`).hidden = name !== view;
}

// ---- people -----------------------------------------------------------------------------------

const people = { offset: 0, total: 0, name: '', selected: null };

async function loadPeople() {
  const q = new URLSearchParams({ offset: String(people.offset), limit: String(PAGE_SIZE) });
  if (people.name) q.set('name', people.name);
  let page;
  try {
    page = await api('GET', `/v1/people?${q}`);
  } catch (e) {
    explain(e, 'Listing people failed');
    return;
  }
  if (page.people.length === 0 && people.offset > 0 && page.total > 0) {
    people.offset = Math.max(0, Math.floor((page.total - 1) / PAGE_SIZE) * PAGE_SIZE);  // the page emptied
    return loadPeople();
  }
  people.total = page.total;
  const rows = page.people.map((p) => {
    const open = el('button', { text: 'Open', attrs: { type: 'button', 'data-testid': 'open-person' } });
    open.addEventListener('click', () => selectPerson(p.id));
    return el('tr', { attrs: { 'data-testid': 'person-row', 'data-person-id': String(p.id) } }, [
      el('td', { text: p.name, cls: 'name' }),
      el('td', { text: p.templates }),
      el('td', { text: p.id, cls: 'muted' }),
      el('td', {}, [open]),
    ]);
  });
  if (rows.length === 0)
    rows.push(el('tr', {}, [el('td', { text: people.name ? 'nobody of that name' : 'no people yet', attrs: { colspan: '4' }, cls: 'muted' })]));
  $('people-rows').replaceChildren(...rows);
  const first = page.total === 0 ? 0 : people.offset + 1;
  $('page-info').textContent = `${first}–${people.offset + page.people.length} of ${page.total}`;
  $('prev-page').disabled = people.offset === 0;
  $('next-page').disabled = people.offset + page.people.length >= page.total;
}

async function selectPerson(id) {
  let p;
  try {
    p = await api('GET', `/v1/people/${id}`);
  } catch (e) {
    explain(e, 'Opening the person failed');
    await loadPeople();
    return;
  }
  if (!people.selected || people.selected.id !== p.id) $('uploads').replaceChildren();  // another person
  people.selected = p;
  $('person-panel').hidden = false;
  $('person-name').textContent = p.name;
  $('person-details').textContent = `id ${p.id} · ${p.templates} enrolled face${p.templates === 1 ? '' : 's'}`;
  const meta = p.metadata === null ? '' : typeof p.metadata === 'string' ? p.metadata : JSON.stringify(p.metadata, null, 2);
  $('person-metadata').textContent = meta;
  $('person-metadata').hidden = meta === '';
}

async function createPerson(name, metadataText) {
  let metadata;
  if (metadataText.trim() !== '') {
    try {
      metadata = JSON.parse(metadataText);
    } catch {
      metadata = metadataText;  // free text
    }
  }
  try {
    const p = await api('POST', '/v1/people', { body: JSON.stringify({ name, metadata }), contentType: 'application/json' });
    say(`Created ${p.name} (id ${p.id}). Add faces to enrol them.`, 'info');
    people.name = '';
    $('search').value = '';
    await loadPeople();
    await selectPerson(p.id);
    return true;
  } catch (e) {
    explain(e, `Creating "${name}" failed`);
    return false;
  }
}

// Uploads one photo to person `p`; the list item shows what the service found or why it refused.
// Returns false when the person is gone (no use sending more).
async function uploadFace(p, file, item, status, force = false) {
  try {
    const q = force ? '?force=true' : '';
    const r = await api('POST', `/v1/people/${p.id}/faces${q}`, { body: file, contentType: file.type || 'application/octet-stream' });
    const b = r.face.box, fq = r.face.quality;
    status.textContent =
      `enrolled${force ? ' (forced)' : ''} · quality ${r.quality.toFixed(2)} (size ${fq.size.toFixed(2)}, sharpness ${fq.sharpness.toFixed(2)}, ` +
      `exposure ${fq.exposure.toFixed(2)}, pose ${fq.pose.toFixed(2)}) · detection ${r.face.score.toFixed(2)} · ` +
      `face ${Math.round(b.width)}×${Math.round(b.height)} px at (${Math.round(b.x)}, ${Math.round(b.y)})` + (r.note ? ` · ${r.note}` : '');
    status.className = 'ok';
    item.dataset.result = 'enrolled';
  } catch (e) {
    status.textContent = e instanceof ApiError ? `not enrolled: ${e.message} [${e.code}]` : `not enrolled: ${e.message}`;
    status.className = 'bad';
    item.dataset.result = 'refused';
    if (e instanceof ApiError && e.code === 'low_quality') {
      const again = el('button', { text: 'Enrol anyway', attrs: { type: 'button', 'data-testid': 'force' } });
      again.addEventListener('click', async () => {
        again.remove();
        await uploadFace(p, file, item, status, true);
        await refreshPerson(p.id);
      });
      status.after(again);
    }
    if (e instanceof ApiError && e.status === 401) explain(e, 'Adding a face failed');
    if (e instanceof ApiError && e.code === 'no_person') {
      explain(e, 'Adding a face failed');
      return false;
    }
  }
  return true;
}

async function refreshPerson(id) {
  if (people.selected && people.selected.id === id) await selectPerson(id);
  await loadPeople();
}

async function addFaces(files) {
  const p = people.selected;
  if (!p) return;
  for (const file of files) {
    const status = el('span', { text: 'uploading…', cls: 'muted' });
    const item = el('li', { attrs: { 'data-testid': 'upload' } }, [el('img', { attrs: { src: urlOf(file), alt: file.name } }), el('div', {}, [el('div', { text: file.name }), status])]);
    $('uploads').prepend(item);
    if (!(await uploadFace(p, file, item, status))) break;
  }
  await refreshPerson(p.id);
}

async function deleteSelected() {
  const p = people.selected;
  if (!p) return;
  if (!window.confirm(`Delete ${p.name} and their ${p.templates} face(s)? This cannot be undone.`)) return;
  try {
    await api('DELETE', `/v1/people/${p.id}`);
    say(`Deleted ${p.name}.`, 'info');
  } catch (e) {
    explain(e, `Deleting ${p.name} failed`);
  }
  people.selected = null;
  $('person-panel').hidden = true;
  await loadPeople();
}

// ---- identify ---------------------------------------------------------------------------------

async function identify(file) {
  clearMessage();
  const url = urlOf(file);
  figure($('identify-figure'), url);
  $('identify-results').replaceChildren(el('p', { text: 'identifying…', cls: 'muted' }));
  let r;
  try {
    r = await api('POST', '/v1/identify?top=3', { body: file, contentType: file.type || 'application/octet-stream' });
  } catch (e) {
    $('identify-results').replaceChildren();
    explain(e, 'Identification failed');
    return;
  }
  const boxes = r.faces.map((f, i) => ({ ...f.box, known: !!f.identity, label: `${i + 1}. ${f.identity ? f.identity.name : 'unknown'}` }));
  figure($('identify-figure'), url, boxes);
  const list = r.faces.map((f, i) => {
    const rows = f.candidates.map((c) =>
      el('tr', {}, [
        el('td', { text: c.name, cls: 'name' }),
        el('td', { text: similarity(c.similarity) }),
        el('td', { text: c.similarity >= r.threshold ? 'match' : 'below threshold', cls: c.similarity >= r.threshold ? 'ok' : 'muted' }),
      ]),
    );
    return el('li', { attrs: { 'data-testid': 'identified-face' } }, [
      el('div', { cls: f.identity ? 'ok' : 'bad', attrs: { 'data-testid': 'identity' }, text: f.identity ? f.identity.name : 'unknown' }),
      el('div', { cls: 'muted', text: `face ${i + 1} · detection ${f.score.toFixed(2)} · quality ${f.quality.score.toFixed(2)}` }),
      rows.length
        ? el('table', { cls: 'candidates' }, [el('thead', {}, [el('tr', {}, [el('th', { text: 'Candidate' }), el('th', { text: 'Similarity' }), el('th', { text: 'Decision' })])]), el('tbody', {}, rows)])
        : el('div', { cls: 'muted', text: 'the gallery is empty' }),
    ]);
  });
  $('identify-results').replaceChildren(
    el('p', { cls: 'muted', text: `${r.faces.length} face${r.faces.length === 1 ? '' : 's'} · threshold ${similarity(r.threshold)} (${r.operating_point})` }),
    el('ol', { cls: 'faces' }, list),
  );
}

// ---- verify -----------------------------------------------------------------------------------

const pair = { a: null, b: null };

function pick(which, file) {
  pair[which] = file;
  figure($(`verify-figure-${which}`), urlOf(file));
  $('verify-result').replaceChildren();
  $('verify-run').disabled = !(pair.a && pair.b);
}

async function verify() {
  clearMessage();
  const form = new FormData();
  form.append('a', pair.a, pair.a.name || 'a');
  form.append('b', pair.b, pair.b.name || 'b');
  $('verify-result').replaceChildren(el('p', { text: 'comparing…', cls: 'muted' }));
  try {
    const r = await api('POST', '/v1/verify', { body: form });
    $('verify-result').replaceChildren(
      el('p', { cls: r.same ? 'verdict ok' : 'verdict bad', attrs: { 'data-testid': 'verdict' }, text: r.same ? 'Same person' : 'Different people' }),
      el('p', { cls: 'muted', text: `similarity ${similarity(r.similarity)} against threshold ${similarity(r.threshold)} (${r.operating_point})` }),
    );
  } catch (e) {
    $('verify-result').replaceChildren();
    explain(e, 'Verification failed');
  }
}

// ---- wiring -----------------------------------------------------------------------------------

function start() {
  $('sign-in-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    clearMessage();
    const key = $('api-key').value.trim();
    try {
      await signIn(key);
    } catch (err) {
      sessionStorage.removeItem(KEY_STORAGE);
      if (err instanceof ApiError && err.status === 401) say(`Sign-in refused: ${err.message}.`);
      else explain(err, 'Sign-in failed');
    }
  });
  $('sign-out').addEventListener('click', () => {
    signOut();
    say('Signed out.', 'info');
  });
  for (const tab of document.querySelectorAll('.tab'))
    tab.addEventListener('click', () => {
      clearMessage();
      show(tab.dataset.view);
    });
  $('search-form').addEventListener('submit', (e) => {
    e.preventDefault();
    people.name = $('search').value.trim();
    people.offset = 0;
    loadPeople();
  });
  $('prev-page').addEventListener('click', () => {
    people.offset = Math.max(0, people.offset - PAGE_SIZE);
    loadPeople();
  });
  $('next-page').addEventListener('click', () => {
    people.offset += PAGE_SIZE;
    loadPeople();
  });
  $('create-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    clearMessage();
    const name = $('new-name').value.trim();
    if (!name) return say('A person needs a name.');
    if (await createPerson(name, $('new-metadata').value)) {
      $('new-name').value = '';
      $('new-metadata').value = '';
    }
  });
  $('delete-person').addEventListener('click', deleteSelected);
  dropZone($('face-drop'), $('face-files'), addFaces);
  dropZone($('identify-drop'), $('identify-file'), (files) => identify(files[0]));
  dropZone($('verify-drop-a'), $('verify-file-a'), (files) => pick('a', files[0]));
  dropZone($('verify-drop-b'), $('verify-file-b'), (files) => pick('b', files[0]));
  $('verify-run').addEventListener('click', verify);

  const key = sessionStorage.getItem(KEY_STORAGE);
  if (key)
    signIn(key).catch((e) => {
      signOut();
      explain(e, 'Signing in again failed');
    });
}

start();
