import { h, replace, formatTime } from '/admin/ui/dom.js';
import { ApiError, api, loadKey, saveKey, streamChat } from './api.js';

/**
 * The chat playground: pick a model or an LLM config, chat with streamed replies, stop one mid-stream, and reopen
 * stored conversations. Every turn belongs to a stored conversation (created on the first message), so the gateway
 * keeps the history and each request carries only the new message.
 */

const TARGET_STORAGE = 'llm-gateway.playground.target';
const TITLE_LENGTH = 60;

const $ = (id) => document.getElementById(id);
const els = {
  keyForm: $('key-form'),
  key: $('api-key'),
  keyForget: $('key-forget'),
  newChat: $('new-chat'),
  conversations: $('conversations'),
  target: $('target'),
  title: $('chat-title'),
  notice: $('notice'),
  messages: $('messages'),
  composer: $('composer'),
  prompt: $('prompt'),
  send: $('send'),
  stop: $('stop'),
};

const state = {
  /** @type {string | null} the open conversation; null until a new chat's first message */
  conversationId: null,
  /** @type {AbortController | null} the reply being streamed */
  streaming: null,
};

function showNotice(message) {
  els.notice.textContent = message;
  els.notice.hidden = false;
}

function clearNotice() {
  els.notice.hidden = true;
  els.notice.textContent = '';
}

function explain(err) {
  if (err instanceof ApiError && err.status === 401) {
    els.key.focus();
    return `This gateway needs an API key: enter it above. (${err.message})`;
  }
  return err instanceof Error ? err.message : String(err);
}

/** A message's text: content is a string, or the content parts a client sent (their text parts are shown). */
function textOf(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .filter((part) => part?.type === 'text' && typeof part.text === 'string')
      .map((part) => part.text)
      .join('\n');
  }
  return '';
}

const STATUS_LABELS = { aborted: 'stopped', error: 'failed' };

/**
 * One message bubble. Returns its element and a setter for the text, so a streamed reply updates one text node.
 * @param {{ role: string, content?: unknown, status?: string, model?: string | null }} message
 */
function bubble(message) {
  const text = h('div', { class: 'message-text', text: textOf(message.content) });
  const status = h('span', { class: 'badge', hidden: true });
  const el = h(
    'li',
    { class: `message role-${message.role}`, dataset: { role: message.role } },
    h('div', { class: 'message-head' }, h('span', { class: 'role', text: message.role }), status),
    text,
  );
  const setStatus = (value) => {
    const label = STATUS_LABELS[value];
    status.hidden = label === undefined;
    status.textContent = label ?? '';
    status.className = `badge status-${value}`;
    el.dataset.status = value;
  };
  if (message.status) setStatus(message.status);
  return { el, text, setStatus };
}

function scrollToEnd() {
  els.messages.scrollTop = els.messages.scrollHeight;
}

function setStreaming(controller) {
  state.streaming = controller;
  const busy = controller !== null;
  els.send.hidden = busy;
  els.stop.hidden = !busy;
  els.newChat.disabled = busy;
  els.target.disabled = busy;
  for (const button of els.conversations.querySelectorAll('button')) button.disabled = busy;
}

/** The select's value as the request fields it stands for. */
function targetFields() {
  const [kind, ...rest] = els.target.value.split(':');
  const id = rest.join(':');
  if (kind === 'config') return { llm_config_id: id };
  if (kind === 'model') return { model: id };
  return {};
}

async function loadTargets() {
  const [models, configs] = await Promise.all([api('GET', '/v1/models'), api('GET', '/v1/llm-configs')]);
  const remembered = localStorage.getItem(TARGET_STORAGE);
  replace(
    els.target,
    h(
      'optgroup',
      { label: 'Models' },
      models.data.map((m) => h('option', { value: `model:${m.id}`, text: m.id })),
    ),
    configs.data.length === 0
      ? null
      : h(
          'optgroup',
          { label: 'LLM configs' },
          configs.data.map((c) =>
            h('option', { value: `config:${c.id}`, text: c.model ? `${c.name} (${c.model})` : c.name }),
          ),
        ),
  );
  if (remembered !== null && [...els.target.options].some((o) => o.value === remembered)) {
    els.target.value = remembered;
  }
}

async function loadConversations() {
  const list = await api('GET', '/v1/conversations?limit=50');
  replace(
    els.conversations,
    list.data.length === 0 ? h('li', { class: 'empty muted', text: 'No conversations yet' }) : null,
    list.data.map((c) =>
      h(
        'li',
        {},
        h(
          'button',
          {
            type: 'button',
            class: 'conversation',
            'aria-current': c.id === state.conversationId ? 'true' : null,
            disabled: state.streaming !== null,
            dataset: { id: c.id },
            onClick: () => void openConversation(c.id),
          },
          h('span', { class: 'conversation-title', text: c.title || 'Untitled' }),
          h('span', { class: 'conversation-time muted', text: formatTime(c.updated_at) }),
        ),
      ),
    ),
  );
}

function newChat() {
  state.conversationId = null;
  els.title.textContent = 'New chat';
  replace(els.messages);
  clearNotice();
  for (const b of els.conversations.querySelectorAll('button[aria-current]')) b.removeAttribute('aria-current');
  els.prompt.focus();
}

async function openConversation(id) {
  clearNotice();
  try {
    const conversation = await api('GET', `/v1/conversations/${encodeURIComponent(id)}`);
    state.conversationId = conversation.id;
    els.title.textContent = conversation.title || 'Untitled';
    if (conversation.llm_config_id) {
      const option = [...els.target.options].find((o) => o.value === `config:${conversation.llm_config_id}`);
      if (option) els.target.value = option.value;
    }
    replace(
      els.messages,
      conversation.has_more_messages ? h('li', { class: 'older muted', text: 'Older messages are not shown.' }) : null,
      conversation.messages.filter((m) => m.role === 'user' || m.role === 'assistant').map((m) => bubble(m).el),
    );
    scrollToEnd();
    for (const b of els.conversations.querySelectorAll('button.conversation')) {
      if (b.dataset.id === id) b.setAttribute('aria-current', 'true');
      else b.removeAttribute('aria-current');
    }
  } catch (err) {
    showNotice(explain(err));
  }
}

async function send() {
  const content = els.prompt.value.trim();
  if (content === '' || state.streaming !== null) return;
  clearNotice();
  const controller = new AbortController();
  setStreaming(controller);
  try {
    if (state.conversationId === null) {
      const title = content.length > TITLE_LENGTH ? `${content.slice(0, TITLE_LENGTH - 1)}…` : content;
      const { llm_config_id } = targetFields();
      const conversation = await api('POST', '/v1/conversations', { title, llm_config_id });
      state.conversationId = conversation.id;
      els.title.textContent = conversation.title;
      // Listed at once, while its first reply streams.
      void loadConversations().catch((err) => showNotice(explain(err)));
    }
    els.prompt.value = '';
    els.messages.append(bubble({ role: 'user', content }).el);
    const reply = bubble({ role: 'assistant', content: '' });
    reply.el.classList.add('pending');
    els.messages.append(reply.el);
    scrollToEnd();

    let text = '';
    try {
      const body = { ...targetFields(), conversation_id: state.conversationId, messages: [{ role: 'user', content }] };
      for await (const chunk of streamChat(body, controller.signal)) {
        const piece = chunk.choices?.[0]?.delta?.content;
        if (typeof piece === 'string' && piece !== '') {
          text += piece;
          reply.text.textContent = text;
          scrollToEnd();
        }
      }
      reply.setStatus('complete');
    } catch (err) {
      if (err instanceof DOMException && err.name === 'AbortError') {
        reply.setStatus('aborted');
      } else {
        reply.setStatus('error');
        showNotice(explain(err));
      }
    } finally {
      reply.el.classList.remove('pending');
    }
  } catch (err) {
    showNotice(explain(err));
  } finally {
    setStreaming(null);
  }
  await loadConversations().catch((err) => showNotice(explain(err)));
}

/** Loads what depends on the key: called at start and whenever the key changes. */
async function connect() {
  clearNotice();
  try {
    await loadTargets();
    await loadConversations();
  } catch (err) {
    replace(els.conversations);
    showNotice(explain(err));
  }
}

els.keyForm.addEventListener('submit', (event) => {
  event.preventDefault();
  saveKey(els.key.value.trim());
  newChat();
  void connect();
});
els.keyForget.addEventListener('click', () => {
  els.key.value = '';
  saveKey('');
  newChat();
  void connect();
});
els.target.addEventListener('change', () => localStorage.setItem(TARGET_STORAGE, els.target.value));
els.newChat.addEventListener('click', newChat);
els.stop.addEventListener('click', () => state.streaming?.abort());
els.composer.addEventListener('submit', (event) => {
  event.preventDefault();
  void send();
});
els.prompt.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    void send();
  }
});

els.key.value = loadKey();
newChat();
void connect();
