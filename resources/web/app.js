/* app.js: the phone annotation page
 *
 * Plain JavaScript, no build step. Signs in with a pairing code
 * (#pair=CODE), lists the tasks, and shows one batch at a time: swipe
 * between its images, pinch or double-tap to zoom, tap to choose the best.
 * Labels go to an outbox in localStorage first and are sent from there, so
 * a label made offline survives a reload and is replayed when the network
 * returns (the server upserts, so a replay is harmless).
 *
 * After a choice the next batch comes from the prefetch list of the last
 * next-batch answer when its full images are loaded: it is shown at once,
 * and leased in the background once the label is sent. When the lease
 * names another batch (someone else took this one), the page moves to it;
 * a label always carries the batch that was on screen when it was made.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
'use strict';

/* User-visible strings go through t () of i18n.js, written as literals in
 * single quotes (joined with + when long): xgettext reads them from here,
 * and the server sends the page the messages whose literals it finds in
 * this file. */

/* The texts of index.html (its data-t elements and data-t-label
 * aria-labels), spelt out here for xgettext, which cannot read HTML. */
const PAGE_TEXTS = [
  N_('To label images on this phone, open “Pair a Phone…” in the desktop app and scan its ' +
     'QR code with the camera.'),
  N_('Or paste the pairing link or code'),
  N_('Sign in'),
  N_('Tasks'),
  N_('Sign out'),
  N_('No task has images to label yet. This list updates by itself.'),
  N_('Back to tasks'),
  N_('Undo'),
  N_('Images of this batch'),
  N_('Worst'),
  N_('Best'),
  N_('Spam'),
  N_('All labelled'),
  N_('Nothing is left for you in this task right now.'),
];

const KEY_TOKEN = 'cdl.token';
const KEY_USER = 'cdl.user';
const KEY_OUTBOX = 'cdl.outbox';
const KEY_AB = 'cdl.ab';
const PROGRESS_MS = 5000;
const DOUBLE_TAP_MS = 260;
const MAX_PRELOADED = 400;

const $ = (id) => document.getElementById(id);

const state = {
  token: localStorage.getItem(KEY_TOKEN),
  user: JSON.parse(localStorage.getItem(KEY_USER) || 'null'),
  abTest: localStorage.getItem(KEY_AB),
  ab: null,              /* {test_name, variant, config} once assigned */
  task: null,
  batch: null,
  order: [],             /* batch indexes in the order shown */
  pos: 0,
  rejected: -1,          /* batch index marked worst, or -1 */
  labelled: false,       /* the shown batch has its label: ignore repeats */
  requestedAt: 0,
  shownAt: 0,
  history: [],           /* labelled batches, for undo */
  loading: false,
  leasing: false,        /* a next-batch request is on its way */
  pending: null,         /* the batch shown from the prefetch list, not leased yet */
  upcoming: [],          /* prefetch entries of the last next-batch answer */
  repeat: null,          /* a batch labelled before, to show again after this one */
  waitingForNetwork: false,
  progressTimer: 0,
  preloaded: new Map(),  /* url -> Image */
  events: [],            /* A/B events not yet sent */
  timings: [],           /* {batch_id, choice, shown, hit} for tests and benchmarks */
};

/* HTTP ---------------------------------------------------------------------- */

class ApiError extends Error {
  constructor (status, message) {
    super(message);
    this.status = status;
  }
}

async function api (method, path, body, options = {}) {
  const headers = {};
  let res;
  let envelope = null;

  if (state.token)
    headers.Authorization = 'Bearer ' + state.token;
  if (body !== undefined)
    headers['Content-Type'] = 'application/json';

  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      keepalive: options.keepalive === true,
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, t('No network'));
  }

  try {
    envelope = await res.json();
  } catch (e) {
    envelope = null;
  }

  if (res.status === 401 && !options.public) {
    signOut(t('Your sign-in has ended; scan a new QR code in the desktop app.'));
    throw new ApiError(401, 'Signed out');
  }
  if (!res.ok || envelope === null || !envelope.success)
    throw new ApiError(res.status,
                       (envelope && envelope.error) || res.statusText || t('Request failed'));

  return envelope.data;
}

function later (fn) {
  if ('requestIdleCallback' in window)
    requestIdleCallback(fn, { timeout: 2000 });
  else
    setTimeout(fn, 0);
}

/* Views --------------------------------------------------------------------- */

function show (view) {
  document.body.dataset.view = view;
}

let toastTimer = 0;

function toast (text) {
  const el = $('toast');

  el.textContent = text;
  el.classList.add('visible');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove('visible'), 3500);
}

function setOfflineBanner () {
  const queued = readOutbox().length;
  const el = $('offline');

  if (navigator.onLine && !state.waitingForNetwork) {
    el.hidden = true;
    return;
  }
  el.hidden = false;
  if (queued === 1)
    el.textContent = t('Offline: 1 label saved on this phone, sent when the network returns');
  else if (queued > 1)
    el.textContent = t('Offline: {0} labels saved on this phone, sent when the network returns',
                       queued);
  else
    el.textContent = t('Offline: waiting for the network');
}

/* Sign-in ------------------------------------------------------------------- */

function hashParams () {
  return new URLSearchParams(location.hash.replace(/^#/, ''));
}

function codeFrom (text) {
  const trimmed = text.trim();
  const at = trimmed.indexOf('#');

  if (at >= 0)
    return new URLSearchParams(trimmed.slice(at + 1)).get('pair') || '';
  return trimmed;
}

async function pair (code) {
  const device = (navigator.userAgentData && navigator.userAgentData.platform) ||
                 navigator.platform || 'phone';
  const data = await api('POST', '/api/pair', { code, device }, { public: true });

  state.token = data.token;
  state.user = data.user;
  localStorage.setItem(KEY_TOKEN, data.token);
  localStorage.setItem(KEY_USER, JSON.stringify(data.user));
}

function signOut (message) {
  stopProgress();
  state.token = null;
  state.user = null;
  state.task = null;
  state.batch = null;
  localStorage.removeItem(KEY_TOKEN);
  localStorage.removeItem(KEY_USER);
  $('login-error').textContent = message || '';
  show('login');
}

async function logout () {
  try {
    await api('POST', '/api/logout');
  } catch (e) {
    /* Signing out locally is what counts. */
  }
  signOut('');
}

/* Tasks --------------------------------------------------------------------- */

async function loadTasks () {
  const list = $('task-list');
  let data;

  show('tasks');
  $('me').textContent = state.user ? state.user.name : '';
  try {
    data = await api('GET', '/api/annotate/tasks');
  } catch (e) {
    if (e.status !== 401)
      toast(e.status === 0 ? t('No network; the list will load when it returns') : e.message);
    return;
  }

  list.replaceChildren();
  for (const task of data.tasks) {
    const li = document.createElement('li');
    const button = document.createElement('button');
    const name = document.createElement('span');
    const count = document.createElement('span');

    name.className = 'name';
    name.textContent = task.name;
    count.className = 'muted';
    /* Translators: {0}, {1} and {2} are numbers; keep them. */
    count.textContent = t('{0} of {1} batches labelled · {2} by you', task.batches_labelled,
                          task.batches_ready, task.my_labels);
    button.append(name, count);
    button.dataset.task = task.id;
    button.addEventListener('click', () => openTask(task));
    li.append(button);
    list.append(li);
  }
  $('tasks-empty').hidden = data.tasks.length > 0;
}

async function assignAb () {
  state.ab = null;
  if (!state.abTest)
    return;
  try {
    state.ab = await api('POST', '/api/ab-tests/assign', { test_name: state.abTest });
  } catch (e) {
    /* The page works without a variant: the defaults apply. */
    console.warn('A/B assignment failed:', e.message);
  }
}

function config () {
  const c = (state.ab && state.ab.config) || {};

  return {
    prefetchBatches: Number.isInteger(c.prefetch_batches) ? c.prefetch_batches : 20,
    prefetchFull: c.prefetch_full !== false,
  };
}

async function openTask (task) {
  state.task = task;
  state.history = [];
  state.batch = null;
  state.pending = null;
  state.upcoming = [];
  state.repeat = null;
  $('task-name').textContent = task.name;
  $('progress').textContent = '';
  show('work');
  await assignAb();
  startProgress();
  await sendOutbox();
  await loadNext();
}

/* Progress ------------------------------------------------------------------ */

async function refreshProgress () {
  let p;

  if (!state.task || document.hidden)
    return;
  try {
    p = await api('GET', `/api/tasks/${state.task.id}/annotation-progress`);
  } catch (e) {
    return;
  }
  /* Translators: {0}, {1} and {2} are numbers; keep them. */
  $('progress').textContent = t('{0} of {1} labelled · {2} by you', p.batches_labelled,
                                p.batches_ready, p.my_labels);
  $('progress-bar').firstElementChild.style.width =
    (p.batches_ready > 0 ? 100 * p.batches_labelled / p.batches_ready : 0) + '%';
}

function startProgress () {
  stopProgress();
  refreshProgress();
  state.progressTimer = setInterval(refreshProgress, PROGRESS_MS);
}

function stopProgress () {
  clearInterval(state.progressTimer);
  state.progressTimer = 0;
}

/* Preloading ---------------------------------------------------------------- */

function preconnect (url) {
  let origin;

  try {
    origin = new URL(url, location.href).origin;
  } catch (e) {
    return;
  }
  if (origin === location.origin || document.querySelector(`link[href="${origin}"]`))
    return;

  const link = document.createElement('link');
  link.rel = 'preconnect';
  link.href = origin;
  link.crossOrigin = 'anonymous';
  document.head.append(link);
}

/* @decode: decode it too (full images of the next batch), so that the
 * slide that takes it over shows it at once. */
function preload (url, decode = false) {
  if (!url || state.preloaded.has(url))
    return;

  const img = new Image();
  img.decoding = 'async';
  img.src = url;
  if (decode)
    img.decode().catch(() => {});
  state.preloaded.set(url, img);

  /* Maps iterate in insertion order: the oldest go first. */
  while (state.preloaded.size > MAX_PRELOADED)
    state.preloaded.delete(state.preloaded.keys().next().value);
}

function preloadAfter (data) {
  const c = config();
  const list = data.prefetch || [];

  if (list.length > 0 && c.prefetchFull)
    for (const url of list[0].fullres || [])
      preload(url, true);
  for (const entry of list)
    for (const url of entry.thumbnails || [])
      preload(url);
}

function wasPreloaded (urls) {
  return urls.every((u) => {
    const img = state.preloaded.get(u);
    return img !== undefined && img.complete && img.naturalWidth > 0;
  });
}

/* The preloaded, maybe decoded, image of @url, for a slide to adopt. */
function takePreloaded (url) {
  const img = state.preloaded.get(url);

  if (!img || !img.complete || img.naturalWidth === 0)
    return null;
  state.preloaded.delete(url);
  return img;
}

/* The batch ----------------------------------------------------------------- */

function fullUrl (b, i) {
  return b.fullres[i] || b.thumbnails[i];
}

/* Leases the next batch and shows it. With a batch shown from the
 * prefetch list (state.pending) it runs in the background: the page stays
 * usable and the answer confirms or replaces that batch. @again: the
 * previous answer named a batch labelled here whose label had not reached
 * the server yet. */
async function loadNext (again = false) {
  const c = config();
  const background = state.pending !== null && state.batch === state.pending &&
                     !state.labelled;
  const task = state.task;
  let path = `/api/tasks/${state.task.id}/next-batch?prefetch=${c.prefetchBatches}`;
  let data;

  if (state.loading || state.leasing)
    return;
  if (state.ab)
    path += '&ab_test=' + encodeURIComponent(state.ab.test_name);

  state.leasing = true;
  state.loading = !background;
  if (!background)
    state.requestedAt = performance.now();
  try {
    data = await api('GET', path);
  } catch (e) {
    state.loading = false;
    state.leasing = false;
    if (e.status === 0) {
      /* The batch on screen stays usable; the lease is asked for again
       * when the network returns. */
      state.waitingForNetwork = true;
      if (!background)
        showNotice(t('Waiting for the network…'));
      setOfflineBanner();
    } else if (e.status !== 401) {
      toast(e.message);
    }
    return;
  }
  state.loading = false;
  state.leasing = false;
  state.waitingForNetwork = false;
  setOfflineBanner();
  /* Back in the task list, or in another task, meanwhile: that task's
   * first batch was not asked for while this answer was on its way. */
  if (state.task !== task) {
    if (state.task && !state.batch)
      loadNext();
    return;
  }
  takeLease(data, again);
}

function labelledHere (batchId) {
  return state.history.some((h) => h.batch.batch_id === batchId);
}

/* The answer of next-batch: the batch now leased to this user. */
function takeLease (data, again) {
  const b = data.batch;
  const pending = state.pending;

  state.pending = null;
  if (b)
    b.is_repeat = data.is_repeat === true;
  if (b && b.is_repeat && pending && state.batch === pending && !state.labelled) {
    /* A batch to label again (no lease): it comes after the one on
     * screen, which still needs its lease. */
    if (!state.repeat) {
      state.repeat = b;
      b.fullres.forEach((url, i) => preload(fullUrl(b, i), true));
    }
    state.pending = pending;
    loadNext();
    return;
  }
  if (b && !b.is_repeat && !again && labelledHere(b.batch_id)) {
    /* Leased before its label reached the server: ask again once it has. */
    sendOutbox().then((sent) => {
      if (sent && state.batch && state.labelled)
        loadNext(true);
    });
    return;
  }

  if (state.batch && !state.labelled) {
    if (state.batch === pending && b && b.batch_id === pending.batch_id) {
      /* The batch on screen is ours: keep it as it is. */
      state.upcoming = data.prefetch || [];
      preloadAfter(data);
      return;
    }
    if (state.batch !== pending) {
      /* Back on an earlier batch (undo): the lease waits for its turn. */
      if (b && pending && b.batch_id === pending.batch_id)
        state.upcoming.unshift(pending);
      return;
    }
    toast(t('Someone else took that batch; here is another one'));
  }

  if (!b) {
    state.batch = null;
    show('done');
    return;
  }
  showBatch(b, null);
  state.upcoming = data.prefetch || [];
  preloadAfter(data);
}

/* The first prefetch entry, when it can be shown without the network. */
function takePrefetched () {
  const next = state.upcoming[0];

  if (!next || typeof next.prompt !== 'string' || !Array.isArray(next.seeds) ||
      !Array.isArray(next.fullres) || next.fullres.length === 0 ||
      labelledHere(next.batch_id))
    return null;
  if (!wasPreloaded(next.fullres.map((url, i) => fullUrl(next, i))))
    return null;
  state.upcoming.shift();
  return next;
}

function showNotice (text) {
  const el = $('notice');

  el.textContent = text || '';
  el.hidden = !text;
}

function showBatch (batch, previous) {
  const track = $('track');
  const rail = $('rail');
  const n = batch.fullres.length;
  const order = Array.isArray(batch.shown_order) && batch.shown_order.length === n
    ? batch.shown_order : [...Array(n).keys()];
  const urls = order.map((i) => fullUrl(batch, i));
  const hit = wasPreloaded(urls);
  const requestedAt = state.requestedAt;

  show('work');
  showNotice('');
  state.batch = batch;
  state.order = order;
  state.pos = 0;
  state.labelled = false;
  state.rejected = previous ? previous.rejected : -1;
  state.chosen = previous ? previous.chosen : -1;

  preconnect(urls[0]);
  track.replaceChildren();
  rail.replaceChildren();
  order.forEach((index, pos) => {
    const slide = document.createElement('div');
    const img = takePreloaded(urls[pos]) || document.createElement('img');
    const thumb = document.createElement('button');
    const timg = document.createElement('img');

    slide.className = 'slide';
    if (!img.src)
      img.src = urls[pos];
    img.alt = t('Image {0} of {1}', pos + 1, n);
    img.draggable = false;
    img.decoding = 'async';
    slide.append(img);
    track.append(slide);

    thumb.className = 'thumb';
    thumb.setAttribute('role', 'tab');
    thumb.setAttribute('aria-label', t('Image {0}', pos + 1));
    timg.src = batch.thumbnails[index] || urls[pos];
    timg.alt = '';
    timg.draggable = false;
    thumb.append(timg);
    thumb.addEventListener('click', () => goTo(pos, false));
    /* A tap in the scrollable rail may not become a click: take it here,
     * unless the finger moved to scroll the rail. */
    thumb.addEventListener('pointerdown', (e) => {
      thumb.dataset.downX = e.clientX;
    });
    thumb.addEventListener('pointerup', (e) => {
      if (Math.abs(e.clientX - Number(thumb.dataset.downX)) < 10)
        goTo(pos, false);
    });
    rail.append(thumb);
  });

  $('prompt').textContent = batch.prompt;
  document.body.dataset.batch = batch.batch_id;
  $('undo').disabled = state.history.length === 0;
  goTo(0, false);
  resetZoom();

  /* Shown when every image of the batch is decoded. */
  Promise.all([...track.querySelectorAll('img')].map((img) => img.decode().catch(() => {})))
    .then(() => {
      if (state.batch !== batch)
        return;
      state.shownAt = performance.now();
      document.body.dataset.shown = batch.batch_id;
      const timing = { batch_id: batch.batch_id, requested: requestedAt,
                       shown: state.shownAt, hit };
      state.timings.push(timing);
      if (!previous)
        later(() => {
          abEvent('image_wait', { ms: Math.round(state.shownAt - requestedAt),
                                  batch_id: batch.batch_id });
          abEvent('prefetch', { hit });
        });
    });
}

/* Back to the current slide after a swipe that did not go anywhere. */
function snapTrack () {
  const track = $('track');

  track.classList.add('animate');
  track.style.transform = `translateX(${-100 * state.pos}%)`;
}

function goTo (pos, animate = true) {
  const n = state.order.length;

  if (n === 0)
    return;
  state.pos = Math.max(0, Math.min(n - 1, pos));
  resetZoom();

  const track = $('track');
  track.classList.toggle('animate', animate);
  track.style.transform = `translateX(${-100 * state.pos}%)`;

  [...$('rail').children].forEach((el, i) => {
    const index = state.order[i];

    el.setAttribute('aria-selected', String(i === state.pos));
    el.classList.toggle('rejected', index === state.rejected);
    el.classList.toggle('chosen', index === state.chosen);
  });
  [...track.children].forEach((el, i) => {
    el.classList.toggle('rejected', state.order[i] === state.rejected);
  });
  $('rail').children[state.pos].scrollIntoView({ block: 'nearest', inline: 'center' });

  const index = state.order[state.pos];
  $('counter').textContent = `${state.pos + 1} / ${n}`;
  $('seed').textContent = n > 1
    /* Translators: {0} is a seed, {1} and {2} numbers; keep them. */
    ? t('Seed {0} · image {1} of {2}', state.batch.seeds[index], state.pos + 1, n)
    : t('Seed {0}', state.batch.seeds[index]);
  $('reject').classList.toggle('on', index === state.rejected);
}

/* Labels -------------------------------------------------------------------- */

function readOutbox () {
  try {
    return JSON.parse(localStorage.getItem(KEY_OUTBOX) || '[]');
  } catch (e) {
    return [];
  }
}

function writeOutbox (labels) {
  localStorage.setItem(KEY_OUTBOX, JSON.stringify(labels));
}

function queueLabel (label) {
  /* A newer label of the same batch replaces the queued one. */
  const labels = readOutbox().filter((l) => !(l.task_id === label.task_id &&
                                              l.batch_id === label.batch_id &&
                                              !l.is_repeat === !label.is_repeat));
  labels.push(label);
  writeOutbox(labels);
}

let sending = null;

/* Sends the queued labels in order; true when the outbox is empty. */
function sendOutbox () {
  if (sending)
    return sending;

  sending = (async () => {
    for (;;) {
      const labels = readOutbox();

      if (labels.length === 0 || !state.token)
        return labels.length === 0;
      const label = labels[0];
      try {
        await api('POST', '/api/annotations', label);
      } catch (e) {
        if (e.status === 0 || e.status === 401 || e.status >= 500)
          return false;
        /* Refused for good (the task was deleted, …): say so, keep going. */
        toast(t('A label could not be saved: {0}', e.message));
      }
      writeOutbox(readOutbox().filter((l) => !(l.task_id === label.task_id &&
                                               l.batch_id === label.batch_id &&
                                               l.queued_at === label.queued_at)));
    }
  })();
  sending.finally(() => {
    sending = null;
    setOfflineBanner();
  });
  return sending;
}

/* What is on screen, for a label made from it. */
function onScreen () {
  return { batch: state.batch, order: state.order, rejected: state.rejected,
           shownAt: state.shownAt };
}

/* Stores the label of @shot's batch in the outbox; @chosen is a batch
 * index, or -1 with @spam. */
function record (shot, chosen, spam, now) {
  const b = shot.batch;
  const label = {
    task_id: state.task.id,
    batch_id: b.batch_id,
    spam,
    shown_order: shot.order,
    decision_ms: Math.max(0, Math.round(now - shot.shownAt)),
    queued_at: Date.now(),
  };

  if (chosen >= 0)
    label.chosen_index = chosen;
  if (chosen >= 0 && shot.rejected >= 0 && shot.rejected !== chosen)
    label.rejected_index = shot.rejected;
  if (state.ab)
    label.variant_key = state.ab.variant;
  /* The answer to a repeat is kept apart from the first label. */
  if (b.is_repeat)
    label.is_repeat = true;

  /* Stored before anything else, so that nothing is lost. */
  queueLabel(label);
  state.history.push({ batch: b, chosen, rejected: shot.rejected });
  state.timings.push({ batch_id: b.batch_id, choice: now });

  /* Analytics after the label, never in its way. */
  later(() => abEvent('decision', { ms: label.decision_ms, batch_id: b.batch_id }));
}

function commit (chosen, spam) {
  const b = state.batch;
  const now = performance.now();
  let next = null;

  if (!b || state.loading || state.labelled)
    return;
  state.labelled = true;
  record(onScreen(), chosen, spam, now);
  flash(spam ? 'spam' : 'chosen');

  /* The next batch at once when it is already here; its lease follows.
   * A repeat needs no lease. */
  const repeat = state.pending === null ? state.repeat : null;

  if (repeat) {
    state.repeat = null;
  } else if (state.pending === null) {
    next = takePrefetched();
  }
  if (repeat || next) {
    state.requestedAt = now;
    showBatch(repeat || next, null);
    state.pending = next;
  }

  sendOutbox().then((sent) => {
    if (!sent) {
      state.waitingForNetwork = true;
      if (!repeat && !next)
        showNotice(t('Saved on this phone. The next batch comes when the network returns.'));
      setOfflineBanner();
    } else if (state.pending !== null || (state.batch === b && state.labelled)) {
      loadNext();
    }
  });
}

function chooseCurrent () {
  if (state.batch)
    commit(state.order[state.pos], false);
}

/* A tap chooses after the double-tap window; if the batch on screen was
 * replaced meanwhile, the label goes to the batch that was tapped. */
function chooseLater (shot, pos) {
  if (state.batch === shot.batch) {
    chooseCurrent();
  } else if (shot.batch && !labelledHere(shot.batch.batch_id)) {
    record(shot, shot.order[pos], false, performance.now());
    sendOutbox();
  }
}

function toggleReject (pos = state.pos) {
  if (!state.batch || state.order.length < 2)
    return;
  const index = state.order[pos];

  state.rejected = state.rejected === index ? -1 : index;
  goTo(pos, false);
}

function markSpam () {
  if (state.batch)
    commit(-1, true);
}

function undo () {
  if (state.rejected >= 0) {
    state.rejected = -1;
    goTo(state.pos, false);
    return;
  }
  const last = state.history.pop();
  if (!last)
    return;
  /* The label stays stored until a new one replaces it (an upsert). */
  showBatch(last.batch, last);
  toast(t('Label the batch again to change it'));
}

function flash (kind) {
  const stage = $('stage');

  stage.classList.remove('flash-chosen', 'flash-spam');
  void stage.offsetWidth;
  stage.classList.add('flash-' + kind);
}

/* A/B events ---------------------------------------------------------------- */

function abEvent (kind, value) {
  if (!state.ab)
    return;
  state.events.push({ kind, value });
  later(flushEvents);
}

function flushEvents () {
  if (!state.ab || state.events.length === 0)
    return;
  const events = state.events.splice(0, 100);

  api('POST', '/api/ab-events', { test_name: state.ab.test_name, events },
      { keepalive: true })
    .catch((e) => {
      if (e.status === 0)
        state.events.unshift(...events);
    });
}

/* Gestures ------------------------------------------------------------------ */

const gesture = {
  pointers: new Map(),   /* id -> {x, y} */
  startX: 0,
  startY: 0,
  startT: 0,
  dx: 0,
  moved: false,
  pinchDist: 0,
  pinchScale: 1,
  zoom: 1,
  panX: 0,
  panY: 0,
  panStartX: 0,
  panStartY: 0,
  lastTap: 0,
  tapTimer: 0,
};

function currentImage () {
  const slide = $('track').children[state.pos];
  return slide ? slide.firstElementChild : null;
}

function applyZoom () {
  const img = currentImage();

  if (img)
    img.style.transform = gesture.zoom === 1 ? ''
      : `translate(${gesture.panX}px, ${gesture.panY}px) scale(${gesture.zoom})`;
  $('stage').classList.toggle('zoomed', gesture.zoom > 1);
}

function resetZoom () {
  for (const img of $('track').querySelectorAll('img'))
    img.style.transform = '';
  gesture.zoom = 1;
  gesture.panX = gesture.panY = 0;
  $('stage').classList.remove('zoomed');
}

function clampPan () {
  const stage = $('stage').getBoundingClientRect();
  const maxX = stage.width * (gesture.zoom - 1) / 2;
  const maxY = stage.height * (gesture.zoom - 1) / 2;

  gesture.panX = Math.max(-maxX, Math.min(maxX, gesture.panX));
  gesture.panY = Math.max(-maxY, Math.min(maxY, gesture.panY));
}

function zoomAt (x, y, zoom) {
  const rect = $('stage').getBoundingClientRect();
  const cx = x - rect.left - rect.width / 2;
  const cy = y - rect.top - rect.height / 2;

  /* Keep the point under the finger where it is. */
  gesture.panX = cx - (cx - gesture.panX) * zoom / gesture.zoom;
  gesture.panY = cy - (cy - gesture.panY) * zoom / gesture.zoom;
  gesture.zoom = zoom;
  if (zoom <= 1)
    gesture.panX = gesture.panY = 0;
  clampPan();
  applyZoom();
}

function distance () {
  const [a, b] = [...gesture.pointers.values()];
  return Math.hypot(a.x - b.x, a.y - b.y);
}

function onPointerDown (e) {
  const stage = $('stage');

  if (!state.batch)
    return;
  stage.setPointerCapture(e.pointerId);
  gesture.pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });

  if (gesture.pointers.size === 1) {
    gesture.startX = e.clientX;
    gesture.startY = e.clientY;
    gesture.startT = performance.now();
    gesture.dx = 0;
    gesture.moved = false;
    gesture.panStartX = gesture.panX;
    gesture.panStartY = gesture.panY;
    $('track').classList.remove('animate');
  } else if (gesture.pointers.size === 2) {
    gesture.pinchDist = distance();
    gesture.pinchScale = gesture.zoom;
    gesture.moved = true;
    snapTrack();
  }
}

function onPointerMove (e) {
  const p = gesture.pointers.get(e.pointerId);

  if (!p)
    return;
  p.x = e.clientX;
  p.y = e.clientY;

  if (gesture.pointers.size >= 2) {
    const [a, b] = [...gesture.pointers.values()];
    const zoom = Math.max(1, Math.min(5, gesture.pinchScale * distance() / gesture.pinchDist));
    zoomAt((a.x + b.x) / 2, (a.y + b.y) / 2, zoom);
    return;
  }

  const dx = e.clientX - gesture.startX;
  const dy = e.clientY - gesture.startY;
  if (Math.hypot(dx, dy) > 10)
    gesture.moved = true;

  if (gesture.zoom > 1) {
    gesture.panX = gesture.panStartX + dx;
    gesture.panY = gesture.panStartY + dy;
    clampPan();
    applyZoom();
    return;
  }

  gesture.dx = dx;
  const width = $('stage').clientWidth;
  let offset = dx;
  /* Resist past the ends. */
  if ((state.pos === 0 && dx > 0) || (state.pos === state.order.length - 1 && dx < 0))
    offset = dx / 3;
  $('track').style.transform =
    `translateX(calc(${-100 * state.pos}% + ${offset / width * 100}%))`;
}

function onPointerUp (e) {
  if (!gesture.pointers.delete(e.pointerId))
    return;
  if (gesture.pointers.size > 0) {
    /* One finger of a pinch lifted: pan from here with the other. */
    const [p] = [...gesture.pointers.values()];
    gesture.startX = p.x;
    gesture.startY = p.y;
    gesture.panStartX = gesture.panX;
    gesture.panStartY = gesture.panY;
    return;
  }

  const elapsed = performance.now() - gesture.startT;
  const width = $('stage').clientWidth;

  if (gesture.zoom === 1 && gesture.moved) {
    const fast = Math.abs(gesture.dx) > 30 && elapsed < 250;
    if (gesture.dx < -width / 4 || (fast && gesture.dx < 0))
      goTo(state.pos + 1);
    else if (gesture.dx > width / 4 || (fast && gesture.dx > 0))
      goTo(state.pos - 1);
    else
      goTo(state.pos);
    return;
  }
  if (gesture.moved || e.type === 'pointercancel')
    return;

  /* A tap: a second one soon after zooms, a lone one chooses. */
  const now = performance.now();
  if (now - gesture.lastTap < DOUBLE_TAP_MS) {
    clearTimeout(gesture.tapTimer);
    gesture.lastTap = 0;
    zoomAt(e.clientX, e.clientY, gesture.zoom > 1 ? 1 : 2.5);
    return;
  }
  gesture.lastTap = now;
  if (gesture.zoom > 1)
    return;

  const shot = onScreen();
  const pos = state.pos;

  gesture.tapTimer = setTimeout(() => {
    gesture.lastTap = 0;
    chooseLater(shot, pos);
  }, DOUBLE_TAP_MS);
}

/* Keyboard ------------------------------------------------------------------ */

function onKey (e) {
  if (document.body.dataset.view !== 'work' || e.ctrlKey || e.metaKey || e.altKey ||
      e.target instanceof HTMLInputElement)
    return;

  const digit = /^Digit([1-9])$/.exec(e.code);
  if (digit) {
    const pos = Number(digit[1]) - 1;
    if (pos >= state.order.length)
      return;
    e.preventDefault();
    if (e.shiftKey) {
      toggleReject(pos);
    } else {
      goTo(pos, false);
      chooseCurrent();
    }
    return;
  }

  switch (e.key) {
  case 'ArrowRight':
    goTo(state.pos + 1);
    break;
  case 'ArrowLeft':
    goTo(state.pos - 1);
    break;
  case 'Enter':
  case ' ':
    chooseCurrent();
    break;
  case 's':
  case 'S':
    markSpam();
    break;
  case 'x':
  case 'X':
    toggleReject();
    break;
  case 'z':
  case 'Z':
    undo();
    break;
  default:
    return;
  }
  e.preventDefault();
}

/* Start --------------------------------------------------------------------- */

function wire () {
  const stage = $('stage');

  stage.addEventListener('pointerdown', onPointerDown);
  stage.addEventListener('pointermove', onPointerMove);
  stage.addEventListener('pointerup', onPointerUp);
  stage.addEventListener('pointercancel', onPointerUp);
  document.addEventListener('keydown', onKey);

  $('choose').addEventListener('click', chooseCurrent);
  $('reject').addEventListener('click', () => toggleReject());
  $('spam').addEventListener('click', markSpam);
  $('undo').addEventListener('click', undo);
  $('back').addEventListener('click', () => {
    stopProgress();
    state.task = null;
    loadTasks();
  });
  $('done-back').addEventListener('click', () => {
    stopProgress();
    state.task = null;
    loadTasks();
  });
  $('logout').addEventListener('click', logout);
  $('pair-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    await signIn(codeFrom($('pair-code').value));
  });

  window.addEventListener('online', async () => {
    const sent = await sendOutbox();
    setOfflineBanner();
    if (sent && state.waitingForNetwork && state.task)
      loadNext();
    flushEvents();
  });
  window.addEventListener('offline', setOfflineBanner);
  window.addEventListener('pagehide', flushEvents);
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && state.task)
      refreshProgress();
  });
}

async function signIn (code) {
  if (!code) {
    $('login-error').textContent = t('Paste the link under the QR code, or scan it.');
    return;
  }
  $('login-error').textContent = '';
  try {
    await pair(code);
  } catch (e) {
    $('login-error').textContent = e.status === 0
      ? t('No network: connect to the same network as the desktop and try again.')
      : e.message;
    show('login');
    return;
  }
  await sendOutbox();
  loadTasks();
}

async function start () {
  const params = hashParams();
  const code = params.get('pair');
  const ab = params.get('ab') || new URLSearchParams(location.search).get('ab');

  await loadCatalogue();
  translatePage();
  wire();
  if (ab) {
    state.abTest = ab;
    localStorage.setItem(KEY_AB, ab);
  }
  /* The code is single-use: keep it out of the history and bookmarks. */
  if (code || ab)
    history.replaceState(null, '', location.pathname + location.search);

  setOfflineBanner();
  if (code) {
    await signIn(code);
    return;
  }
  if (!state.token) {
    show('login');
    return;
  }
  await sendOutbox();
  loadTasks();
}

/* For the browser tests and the benchmark. */
window.cdl = { state, PAGE_TEXTS, sendOutbox, readOutbox, goTo, commit, loadNext };

start();
