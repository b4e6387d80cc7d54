// The sandbox console's page. Plain JavaScript, no framework: the state comes from /api/state and
// then live from /api/events (Server-Sent Events); actions are JSON POSTs to /api/….
// Every piece of text is put in the page with textContent (never innerHTML): what a customer or an
// agent typed cannot become markup here, and the page's CSP allows no inline script anyway.

const $ = (id) => document.getElementById(id);

/** Creates an element: el('div', { class: 'x', dataset: { ts } }, child, 'text', …). */
function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key === 'text') node.textContent = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Segments from the server ({ t, v, href? }) as DOM nodes. */
function segments(list) {
  const out = [];
  for (const s of list ?? []) {
    switch (s.t) {
      case 'b':
        out.push(el('strong', { text: s.v }));
        break;
      case 'i':
        out.push(el('em', { text: s.v }));
        break;
      case 's':
        out.push(el('s', { text: s.v }));
        break;
      case 'code':
        out.push(el('code', { text: s.v }));
        break;
      case 'link':
        // The server only sends http(s) links; check again, the page must not trust anything.
        if (/^https?:\/\//i.test(s.href)) {
          out.push(el('a', { href: s.href, target: '_blank', rel: 'noopener noreferrer', text: s.v }));
        } else out.push(document.createTextNode(s.v));
        break;
      default:
        out.push(document.createTextNode(s.v));
    }
  }
  return out;
}

let state = null;

function formatTime(ms) {
  if (!Number.isFinite(ms)) return '';
  const d = new Date(ms);
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  if (!state) return time;
  const today = new Date(state.now).toDateString() === d.toDateString();
  return today ? time : `${d.toLocaleDateString([], { weekday: 'short' })} ${time}`;
}

function initials(name) {
  return (name || '?')
    .split(/\s+/)
    .map((w) => w[0])
    .join('')
    .slice(0, 2)
    .toUpperCase();
}

function toast(message, kind = 'error') {
  const node = $('toast');
  node.textContent = message;
  node.className = `toast ${kind}`;
  node.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => {
    node.hidden = true;
  }, 5000);
}

async function post(path, body) {
  const response = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body ?? {}),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer?.error?.message ?? `HTTP ${response.status}`);
  return answer;
}

/** Runs an action from a control, disabling it meanwhile and reporting failures. */
async function act(control, run) {
  if (control) control.disabled = true;
  try {
    await run();
    return true;
  } catch (error) {
    toast(error.message);
    return false;
  } finally {
    if (control) control.disabled = false;
  }
}

/** Keeps a scroll box pinned to the bottom when it was at the bottom before an update. */
function keepBottom(box, update) {
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  update();
  if (atBottom) box.scrollTop = box.scrollHeight;
}

/** What each node was rendered from, to re-render only what changed. */
const renderedFrom = new WeakMap();

/**
 * Makes `parent`'s children the nodes for `items`, in order, re-rendering only the items whose data
 * changed and moving nothing that is already in place. Live updates arrive many times a second;
 * replacing every node each time would reset what a person is doing (a click between mouse down
 * and up, a select that is open).
 */
function reconcile(parent, items, keyOf, render) {
  const old = new Map();
  for (const child of parent.children) if (child.dataset.key !== undefined) old.set(child.dataset.key, child);
  const wanted = items.map((item) => {
    const key = keyOf(item);
    const signature = JSON.stringify(item);
    const existing = old.get(key);
    if (existing && renderedFrom.get(existing) === signature) return existing;
    const node = render(item);
    node.dataset.key = key;
    renderedFrom.set(node, signature);
    return node;
  });
  wanted.forEach((node, i) => {
    if (parent.children[i] !== node) parent.insertBefore(node, parent.children[i] ?? null);
  });
  while (parent.children.length > wanted.length) parent.lastElementChild.remove();
}

// ---- Header ------------------------------------------------------------------------------------

function renderHeader(s) {
  document.title = s.title;
  $('title').textContent = s.title;
  const offset = Math.round(s.clockOffsetMs / 3_600_000);
  const when = new Date(s.now).toLocaleString([], {
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
  });
  $('clock').textContent = offset >= 1 ? `${when} (+${offset} h)` : when;
  reconcile(
    $('actions'),
    s.actions,
    (a) => a.id,
    (a) =>
      el(
        'button',
        {
          type: 'button',
          class: `action${a.running ? ' running' : ''}`,
          title: a.error ? `Failed: ${a.error}` : (a.title ?? a.label),
          disabled: a.running,
          dataset: { testid: `action-${a.id}` },
          onclick: (event) =>
            act(event.currentTarget, () => post(`/api/actions/${encodeURIComponent(a.id)}`)),
        },
        a.running ? `${a.label}…` : a.label,
      ),
  );
  $('links').replaceChildren(
    ...Object.entries(s.links).map(([name, href]) =>
      /^https?:\/\//i.test(href)
        ? el('a', { href, target: '_blank', rel: 'noopener noreferrer', text: name })
        : null,
    ),
  );
}

// ---- WhatsApp ----------------------------------------------------------------------------------

const TICKS = { accepted: '🕓', sent: '✓', delivered: '✓✓', read: '✓✓', failed: '⚠' };

function waBubble(m) {
  // The customer's view: their own messages on the right, the business's on the left.
  const mine = m.direction === 'in';
  const body = el('div', { class: 'text' }, segments(m.segments));
  const parts = [];
  if (m.quote !== null && m.quote !== undefined)
    parts.push(el('div', { class: 'quote', text: m.quote || '…' }));
  if (m.header) parts.push(el('div', { class: 'tpl-header', text: m.header }));
  if (m.media?.mimeType?.startsWith('image/')) {
    parts.push(el('img', { class: 'photo', src: m.media.url, alt: m.label ?? 'image' }));
  } else if (m.label) parts.push(el('div', { class: 'label', text: m.label }));
  if (m.location) {
    const l = m.location;
    parts.push(
      el(
        'div',
        { class: 'location' },
        el('div', { class: 'map', 'aria-hidden': 'true' }, '🗺️'),
        el(
          'div',
          {},
          el('strong', { text: l.name ?? 'Location' }),
          el('br'),
          l.address ?? `${l.latitude}, ${l.longitude}`,
        ),
      ),
    );
  }
  if (m.segments.length > 0) parts.push(body);
  if (m.footer) parts.push(el('div', { class: 'tpl-footer', text: m.footer }));
  const meta = el('div', { class: 'meta' }, formatTime(m.at));
  if (!mine && m.status) {
    // The business's messages show how far WhatsApp got with them (read = blue ticks).
    meta.append(
      el('span', { class: `tick ${m.status}`, title: m.status, text: ` ${TICKS[m.status] ?? ''}` }),
    );
  }
  parts.push(meta);
  if (m.error) parts.push(el('div', { class: 'error', text: m.error }));
  const bubble = el(
    'div',
    {
      class: `bubble ${mine ? 'mine' : 'theirs'}`,
      dataset: { testid: 'wa-message', direction: m.direction, id: m.id, status: m.status ?? '' },
    },
    parts,
  );
  if (m.reactions.length > 0) {
    bubble.append(
      el(
        'div',
        { class: 'reactions' },
        m.reactions.map((r) => el('span', { text: r.emoji })),
      ),
    );
  }
  const row = el('div', { class: `row ${mine ? 'mine' : 'theirs'}` }, bubble);
  if (!mine) {
    const tools = el('div', { class: 'tools' });
    for (const emoji of ['👍', '❤️', '🙏']) {
      tools.append(
        el('button', {
          type: 'button',
          class: 'react',
          title: `React ${emoji}`,
          text: emoji,
          onclick: (event) =>
            act(event.currentTarget, () =>
              post('/api/whatsapp/messages', { type: 'reaction', messageId: m.id, emoji }),
            ),
        }),
      );
    }
    row.append(tools);
    if (m.buttons.length > 0) {
      bubble.append(
        el(
          'div',
          { class: 'quick-replies' },
          m.buttons.map((title) =>
            el('button', {
              type: 'button',
              text: title,
              dataset: { testid: 'wa-quick-reply' },
              onclick: (event) =>
                act(event.currentTarget, () =>
                  post('/api/whatsapp/messages', { type: 'button', messageId: m.id, text: title }),
                ),
            }),
          ),
        ),
      );
    }
  }
  return row;
}

function renderWhatsApp(wa) {
  $('wa-business').textContent = wa.business.name;
  $('wa-sub').textContent = `WhatsApp · ${wa.customer.name}'s phone (+${wa.customer.waId})`;
  const badge = $('wa-window');
  badge.textContent = wa.windowOpen ? '24-h window open' : '24-h window closed';
  badge.className = `badge ${wa.windowOpen ? 'open' : 'closed'}`;
  const box = $('wa-messages');
  keepBottom(box, () => {
    if (wa.messages.length === 0) {
      box.replaceChildren(el('div', { class: 'empty', text: `Type below as ${wa.customer.name} to start.` }));
      return;
    }
    const entries = [];
    let day = '';
    for (const m of wa.messages) {
      const d = new Date(m.at).toDateString();
      if (d !== day) {
        day = d;
        entries.push({ day: d, at: m.at });
      }
      // "Today" changes when the clock jumps: the time labels depend on it.
      entries.push({ m, today: new Date(state.now).toDateString() });
    }
    reconcile(
      box,
      entries,
      (e) => (e.m ? e.m.id : `day:${e.day}`),
      (e) =>
        e.m
          ? waBubble(e.m)
          : el('div', {
              class: 'day',
              text: new Date(e.at).toLocaleDateString([], {
                weekday: 'long',
                day: 'numeric',
                month: 'short',
              }),
            }),
    );
  });
}

function setupWhatsApp() {
  const input = $('wa-input');
  $('wa-composer').addEventListener('submit', async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    if (await act($('wa-send'), () => post('/api/whatsapp/messages', { type: 'text', text })))
      input.value = '';
  });
  $('wa-photo').addEventListener('click', (event) =>
    act(event.currentTarget, () =>
      post('/api/whatsapp/messages', { type: 'image', caption: input.value.trim() || undefined }).then(() => {
        input.value = '';
      }),
    ),
  );
  $('wa-location').addEventListener('click', (event) =>
    act(event.currentTarget, () => post('/api/whatsapp/messages', { type: 'location' })),
  );
}

// ---- Threads (Slack and Teams share the layout) ------------------------------------------------

/**
 * Re-renders a list of threads while keeping each thread's reply box (and what is typed in it).
 * `key` identifies a thread, `renderMessages` fills its message list, `replyBox` builds its form once.
 */
function renderThreads(container, threads, key, messagesOf, renderMessage, replyBox, emptyText) {
  if (threads.length === 0) {
    container.replaceChildren(el('div', { class: 'empty', text: emptyText }));
    return;
  }
  for (const child of [...container.children]) if (!child.classList.contains('thread')) child.remove();
  const existing = new Map([...container.children].map((n) => [n.dataset.thread, n]));
  const today = new Date(state.now).toDateString();
  keepBottom(container, () => {
    threads.forEach((thread, i) => {
      const k = key(thread);
      let node = existing.get(k);
      if (!node) {
        node = el(
          'article',
          { class: 'thread', dataset: { thread: k } },
          el('div', { class: 'messages' }),
          replyBox(thread),
        );
      }
      reconcile(
        node.querySelector('.messages'),
        messagesOf(thread).map((m) => ({ ...m, today })),
        (m) => m.key,
        renderMessage,
      );
      if (container.children[i] !== node) container.insertBefore(node, container.children[i] ?? null);
    });
    while (container.children.length > threads.length) container.lastElementChild.remove();
  });
}

function replyForm(placeholder, testid, send) {
  const input = el('input', { placeholder, maxlength: 4000, dataset: { testid: `${testid}-input` } });
  const button = el('button', { type: 'submit', text: 'Send', dataset: { testid: `${testid}-send` } });
  return el(
    'form',
    {
      class: 'reply',
      autocomplete: 'off',
      onsubmit: async (event) => {
        event.preventDefault();
        const text = input.value.trim();
        if (!text) return;
        if (await act(button, () => send(text))) input.value = '';
      },
    },
    input,
    button,
  );
}

// ---- Slack -------------------------------------------------------------------------------------

// A picker's form is kept across live updates (keyed by its message), so that what the person
// chose and typed survives the re-rendering of the thread.
const pickers = new Map();

function slackPicker(message, picker) {
  const kept = pickers.get(message.ts);
  if (kept) return kept;
  const form = buildPicker(message, picker);
  pickers.set(message.ts, form);
  return form;
}

function buildPicker(message, picker) {
  const select = el(
    'select',
    { dataset: { testid: 'slack-template-select' } },
    el('option', { value: '', text: picker.placeholder }),
    picker.options.map((o) => el('option', { value: o.value, text: o.label })),
  );
  const params = el('div', { class: 'params' });
  const preview = el('div', { class: 'preview' });
  const send = el('button', {
    type: 'submit',
    text: 'Send template',
    disabled: true,
    dataset: { testid: 'slack-template-send' },
  });
  select.addEventListener('change', () => {
    const option = picker.options.find((o) => o.value === select.value);
    // The wabridge Slack connector's option value is `name|language|parameter count`.
    const count = Number(/\|(\d+)$/.exec(select.value)?.[1] ?? 0);
    preview.textContent = option?.description ?? '';
    params.replaceChildren(
      ...Array.from({ length: count }, (_, i) =>
        el('input', { placeholder: `Parameter {{${i + 1}}}`, dataset: { testid: 'slack-template-param' } }),
      ),
    );
    send.disabled = !option;
  });
  return el(
    'form',
    {
      class: 'picker',
      autocomplete: 'off',
      onsubmit: async (event) => {
        event.preventDefault();
        const parameters = [...params.querySelectorAll('input')].map((i) => i.value.trim());
        if (parameters.some((p) => p === '')) {
          toast('Fill in every parameter of the template.');
          return;
        }
        await act(send, () =>
          post('/api/slack/templates', {
            ts: message.ts,
            actionId: picker.actionId,
            value: select.value,
            parameters,
          }),
        );
      },
    },
    select,
    preview,
    params,
    send,
  );
}

function slackMessage(m, isRoot) {
  const body = el('div', { class: 'body' });
  body.append(
    el(
      'div',
      { class: 'head' },
      el('strong', { text: m.author }),
      m.bot ? el('span', { class: 'app', text: 'APP' }) : null,
      el('span', { class: 'time', text: formatTime(m.at) }),
    ),
  );
  if (m.segments.length > 0) body.append(el('div', { class: 'text' }, segments(m.segments)));
  for (const b of m.blocks) body.append(el('div', { class: `block ${b.kind}` }, segments(b.segments)));
  for (const f of m.files) {
    body.append(
      f.url
        ? el(
            'figure',
            { class: 'file' },
            el('img', { src: f.url, alt: f.name }),
            el('figcaption', { text: f.name }),
          )
        : el('div', { class: 'file doc', text: `📎 ${f.name}` }),
    );
  }
  if (m.picker) body.append(slackPicker(m, m.picker));
  if (m.reactions.length > 0) {
    body.append(
      el(
        'div',
        { class: 'reactions' },
        m.reactions.map((r) =>
          el('span', { class: 'reaction', title: `:${r.name}:`, text: `${r.emoji} ${r.count}` }),
        ),
      ),
    );
  }
  return el(
    'div',
    {
      class: `msg${isRoot ? ' root' : ''}${m.bot ? ' bot' : ''}`,
      dataset: { testid: 'slack-message', ts: m.ts },
    },
    el('div', {
      class: `avatar${m.bot ? ' bot' : ''}`,
      'aria-hidden': 'true',
      text: m.bot ? 'W' : initials(m.author),
    }),
    body,
  );
}

function renderSlack(slack) {
  const pane = document.querySelector('.pane.slack');
  if (!slack) {
    pane.hidden = true;
    return;
  }
  pane.hidden = false;
  $('slack-channel').textContent = `# ${slack.channel.name}`;
  $('slack-sub').textContent = `Slack · replying as ${slack.agent.name}`;
  renderThreads(
    $('slack-threads'),
    slack.threads,
    (t) => t.root.ts,
    (t) => [
      { key: `root:${t.root.ts}`, message: t.root, root: true },
      { key: 'count', count: t.replies.length },
      ...t.replies.map((r) => ({ key: r.ts, message: r, root: false })),
    ],
    (item) =>
      item.message
        ? slackMessage(item.message, item.root)
        : el('div', {
            class: 'replies-count',
            text: `${item.count} ${item.count === 1 ? 'reply' : 'replies'}`,
          }),
    (t) =>
      replyForm(`Reply in thread as ${slack.agent.name}…`, 'slack-reply', (text) =>
        post('/api/slack/replies', { threadTs: t.root.ts, text }),
      ),
    'No conversation yet: threads appear here when the customer writes.',
  );
}

// ---- Teams -------------------------------------------------------------------------------------

function teamsMessage(m, isRoot) {
  const body = el('div', { class: 'body' });
  body.append(
    el(
      'div',
      { class: 'head' },
      el('strong', { text: m.author }),
      el('span', { class: 'time', text: formatTime(m.at) }),
      m.edited ? el('span', { class: 'time', text: 'Edited' }) : null,
    ),
  );
  if (m.subject) body.append(el('div', { class: 'subject', text: m.subject }));
  if (m.deleted) body.append(el('div', { class: 'text deleted', text: 'This message has been deleted.' }));
  if (m.segments.length > 0) body.append(el('div', { class: 'text' }, segments(m.segments)));
  if (m.cards.length > 0) {
    body.append(
      el(
        'div',
        { class: 'card' },
        m.cards.map((line) => el('div', { class: 'line' }, segments(line))),
      ),
    );
  }
  if (m.reactions.length > 0) {
    body.append(
      el(
        'div',
        { class: 'reactions' },
        m.reactions.map((r) =>
          el('span', { class: 'reaction', title: r.type, text: `${r.emoji} ${r.count}` }),
        ),
      ),
    );
  }
  return el(
    'div',
    {
      class: `msg${isRoot ? ' root' : ''}${m.human ? ' human' : ' bot'}`,
      dataset: { testid: 'teams-message', id: m.id },
    },
    el('div', { class: `avatar${m.human ? '' : ' bot'}`, 'aria-hidden': 'true', text: initials(m.author) }),
    body,
  );
}

function renderTeams(teams) {
  const pane = document.querySelector('.pane.teams');
  if (!teams) {
    pane.hidden = true;
    return;
  }
  pane.hidden = false;
  $('teams-channel').textContent = 'WhatsApp';
  $('teams-sub').textContent = `Microsoft Teams · replying as ${teams.agent.name}`;
  renderThreads(
    $('teams-threads'),
    teams.threads,
    (t) => t.root.id,
    (t) => [
      { key: `root:${t.root.id}`, message: t.root, root: true },
      ...t.replies.map((r) => ({ key: r.id, message: r, root: false })),
    ],
    (item) => teamsMessage(item.message, item.root),
    (t) =>
      replyForm(`Reply as ${teams.agent.name}…`, 'teams-reply', (text) =>
        post('/api/teams/replies', { rootId: t.root.id, text }),
      ),
    'No conversation yet: threads appear here when the customer writes.',
  );
}

// ---- HubSpot -----------------------------------------------------------------------------------

const PROPERTY_LABELS = {
  firstname: 'First name',
  lastname: 'Last name',
  phone: 'Phone number',
  mobilephone: 'Mobile phone',
  email: 'Email',
  country: 'Country',
  wabridge_whatsapp_consent: 'WhatsApp consent',
  wabridge_whatsapp_consent_source: 'Consent source',
  wabridge_whatsapp_consent_updated_at: 'Consent updated',
};

function renderHubSpot(hs) {
  const pane = document.querySelector('.pane.hs');
  if (!hs) {
    pane.hidden = true;
    return;
  }
  pane.hidden = false;
  const contact = hs.contact;
  $('hs-name').textContent = contact ? contact.name : 'HubSpot';
  const card = $('hs-contact');
  const form = $('hs-consent-form');
  if (!contact) {
    card.replaceChildren(el('div', { class: 'empty', text: 'No contact with the customer’s number yet.' }));
    form.hidden = true;
  } else {
    card.replaceChildren(
      el('div', { class: 'hs-avatar', 'aria-hidden': 'true', text: initials(contact.name) }),
      el('div', { class: 'hs-title', text: contact.name }),
      el(
        'dl',
        { class: 'props' },
        contact.properties.flatMap((p) => [
          el('dt', { text: PROPERTY_LABELS[p.name] ?? p.name }),
          el('dd', {
            text: p.name.endsWith('_updated_at') && Number(p.value) ? formatTime(Number(p.value)) : p.value,
            dataset: { testid: `hubspot-prop-${p.name}` },
          }),
        ]),
      ),
    );
    form.hidden = false;
    form.dataset.contactId = contact.id;
    // Live updates must not undo a choice the person has not saved yet: the options are built
    // once, and the value only follows the CRM when the CRM's value changes.
    const select = $('hs-consent-select');
    const options = hs.consentOptions.join('|');
    if (select.dataset.options !== options) {
      select.replaceChildren(...hs.consentOptions.map((o) => el('option', { value: o, text: o })));
      select.dataset.options = options;
      delete select.dataset.server;
    }
    const server = `${contact.id}:${contact.consent ?? ''}`;
    if (select.dataset.server !== server) {
      select.value = contact.consent ?? '';
      select.dataset.server = server;
    }
    $('hs-consent-history').replaceChildren(
      ...contact.consentHistory.map((h) =>
        el('li', {}, el('strong', { text: h.value }), ` · ${h.by} · ${formatTime(h.at)}`),
      ),
    );
  }
  $('hs-count').textContent = hs.timeline.length > 0 ? String(hs.timeline.length) : '';
  const list = $('hs-timeline');
  list.replaceChildren(
    ...[...hs.timeline].reverse().map((c) =>
      el(
        'li',
        { class: `entry ${c.direction ?? ''}`, dataset: { testid: 'hubspot-entry', id: c.id } },
        el(
          'div',
          { class: 'head' },
          el('span', {
            class: 'kind',
            text: c.direction === 'outbound' ? 'WhatsApp message sent' : 'WhatsApp message received',
          }),
          el('span', { class: 'time', text: formatTime(c.at) }),
        ),
        el('div', { class: 'text' }, segments(c.segments)),
        c.state === 'failed' ? el('div', { class: 'error', text: 'Not delivered' }) : null,
      ),
    ),
  );
  if (hs.timeline.length === 0) list.replaceChildren(el('li', { class: 'empty', text: 'No activity yet.' }));
}

function setupHubSpot() {
  $('hs-consent-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    act(form.querySelector('button'), () =>
      post('/api/hubspot/consent', {
        contactId: form.dataset.contactId,
        value: $('hs-consent-select').value,
      }),
    ).then(() => $('hs-consent-select').blur());
  });
}

// ---- Live state --------------------------------------------------------------------------------

function render(next) {
  state = next;
  renderHeader(next);
  renderWhatsApp(next.whatsapp);
  renderSlack(next.slack);
  renderTeams(next.teams);
  renderHubSpot(next.hubspot);
  document.body.dataset.ready = 'true';
}

function connect() {
  const live = $('live');
  const events = new EventSource('/api/events');
  events.addEventListener('state', (event) => {
    live.textContent = 'live';
    live.className = 'live on';
    render(JSON.parse(event.data));
  });
  events.addEventListener('error', () => {
    live.textContent = 'reconnecting…';
    live.className = 'live off';
  });
}

setupWhatsApp();
setupHubSpot();
fetch('/api/state')
  .then((r) => r.json())
  .then((s) => {
    if (!state) render(s);
  })
  .catch(() => undefined);
connect();
