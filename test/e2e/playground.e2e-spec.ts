import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import type { Browser, Locator, Page } from 'playwright-core';
import { bearer, jsonApi, type JsonApi } from '../factories/api.js';
import { collectPageErrors, launchChromium, screenshotter } from '../helpers/browser.js';
import { startStack, type Stack } from '../helpers/stack.js';

const CLIENT_KEY = `pg-client-${randomUUID()}`;
/** The simulator echoes the last user message one word per token, ITL_MS apart: a reply of N words takes N × ITL_MS. */
const ITL_MS = 60;
const RUN = randomUUID().slice(0, 8);
const SHORT = `Hello ${RUN}, please tell me about parcels and how they travel across the country by train`;
const LONG = `Story ${RUN}: ${Array.from({ length: 150 }, (_, i) => `word${i}`).join(' ')}`;
const CONFIG_NAME = `terse-${RUN}`;
const SYSTEM_PROMPT = 'You answer in one short sentence.';

interface StoredMessage {
  role: string;
  content: unknown;
  status: string;
}

/**
 * The chat playground in headless Chromium against the real gateway (auth on, a static client key), the simulator
 * (slow tokens, so a stream visibly takes a while) and PostgreSQL. The steps share one page and run in order, as a
 * person would use it; each `it` is one thing they rely on.
 */
describe('chat playground in a real browser (e2e)', () => {
  let stack: Stack;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  const screenshot = screenshotter(() => page, 'playground');
  let conversationId = '';
  let configId = '';
  /** Calls as a client with the key would make them, outside the browser. */
  let asClient: JsonApi;

  beforeAll(async () => {
    stack = await startStack({ env: { ENABLE_AUTH: 'true', API_KEY: CLIENT_KEY }, simulator: { itlMs: ITL_MS } });
    asClient = jsonApi(stack.gateway.url, bearer(CLIENT_KEY));
    const config = await asClient('POST', '/v1/llm-configs', { name: CONFIG_NAME, system_prompt: SYSTEM_PROMPT });
    configId = String(config.body['id']);
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    page.setDefaultTimeout(15_000);
    collectPageErrors(page, pageErrors);
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  async function storedMessages(id: string): Promise<StoredMessage[]> {
    const conversation = await asClient('GET', `/v1/conversations/${id}`);
    return conversation.body['messages'] as StoredMessage[];
  }

  const prompt = (): Locator => page.getByRole('textbox', { name: 'Message' });
  const lastReply = (): Locator => page.locator('.message.role-assistant').last();
  const lastReplyText = (): Promise<string> => lastReply().locator('.message-text').innerText();

  /**
   * Resolves with the newest reply's text once it shows some but not yet `full`, while the Stop button is up: the
   * text arrived in pieces, during the stream. Read in the page in one go, so a fast stream cannot end in between.
   */
  const waitForPartialReply = async (full: string): Promise<string> => {
    const partial = await page.waitForFunction((expected) => {
      const replies = document.querySelectorAll('.message.role-assistant .message-text');
      const text = replies[replies.length - 1]?.textContent ?? '';
      const streaming = document.getElementById('stop')?.hidden === false;
      return streaming && text.length > 0 && text !== expected ? text : false;
    }, full);
    return (await partial.jsonValue()) as string;
  };

  it('serves the page and its files under a CSP that allows only its own scripts', async () => {
    const res = await fetch(`${stack.gateway.url}/playground`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await res.text()).toContain('/playground/ui/app.js');
    expect((await fetch(`${stack.gateway.url}/playground/ui/api.js`)).headers.get('content-type')).toMatch(
      /^text\/javascript/,
    );
    expect((await fetch(`${stack.gateway.url}/playground/ui/..%2Fpackage.json`)).status).toBe(404);
  });

  it('asks for an API key when the gateway needs one, then loads models and configs with the key entered', async () => {
    await page.goto(`${stack.gateway.url}/playground`);
    await page.getByRole('alert').getByText('This gateway needs an API key').waitFor();
    await screenshot('key-needed');

    await page.getByLabel('API key').fill(CLIENT_KEY);
    await page.getByRole('button', { name: 'Save' }).click();
    await page.locator('#target option[value="model:sim-model"]').waitFor({ state: 'attached' });
    // Other specs' configs share the database: this run's is among them, after the models.
    const options = await page.locator('#target option').allTextContents();
    expect(options[0]).toBe('sim-model');
    expect(options).toContain(CONFIG_NAME);
    expect(await page.getByRole('alert').isHidden()).toBe(true);

    // Remembered: a reload needs no new entry.
    await page.reload();
    await page.locator('#target option[value="model:sim-model"]').waitFor({ state: 'attached' });
    expect(await page.getByLabel('API key').inputValue()).toBe(CLIENT_KEY);
  });

  it('chats with a streamed reply whose tokens appear as they arrive', async () => {
    stack.sim.resetStats();
    await prompt().fill(SHORT);
    await page.getByRole('button', { name: 'Send' }).click();

    const partial = await waitForPartialReply(SHORT);
    expect(SHORT.startsWith(partial)).toBe(true);
    await screenshot('streaming');

    await page.locator('.message.role-assistant[data-status="complete"]').waitFor();
    expect(await lastReplyText()).toBe(SHORT);
    await page.getByRole('button', { name: 'Send' }).waitFor();
    await screenshot('reply-complete');

    const request = stack.sim.received().find((r) => r.path === '/v1/chat/completions');
    expect(request?.body).toMatchObject({ model: 'sim-model', stream: true });
    const listed = page.locator('.conversation', { hasText: `Hello ${RUN}` });
    await listed.waitFor();
    conversationId = (await listed.getAttribute('data-id')) ?? '';
    expect(await storedMessages(conversationId)).toEqual([
      expect.objectContaining({ role: 'user', content: SHORT, status: 'complete' }),
      expect.objectContaining({ role: 'assistant', content: SHORT, status: 'complete' }),
    ]);
  });

  it('stops a reply mid-stream: the stored reply is aborted, with the text received so far', async () => {
    stack.sim.resetStats();
    await prompt().fill(LONG);
    await page.getByRole('button', { name: 'Send' }).click();
    await waitForPartialReply(LONG);
    await page.getByRole('button', { name: 'Stop' }).click();

    await page.locator('.message.role-assistant[data-status="aborted"]').waitFor();
    expect(await lastReply().locator('.badge').innerText()).toBe('stopped');
    await page.getByRole('button', { name: 'Send' }).waitFor();
    await screenshot('stopped');

    // The second turn went into the same conversation: vLLM got the first exchange before it.
    const request = stack.sim.received().find((r) => r.path === '/v1/chat/completions');
    expect((request?.body as { messages: unknown[] }).messages).toEqual([
      { role: 'user', content: SHORT },
      { role: 'assistant', content: SHORT },
      { role: 'user', content: LONG },
    ]);
    // The gateway stores the aborted reply once it sees the connection close; the page does not wait for that.
    let messages = await storedMessages(conversationId);
    for (let i = 0; i < 100 && messages[3]?.status !== 'aborted'; i++) {
      await delay(100);
      messages = await storedMessages(conversationId);
    }
    expect(messages.map((m) => [m.role, m.status])).toEqual([
      ['user', 'complete'],
      ['assistant', 'complete'],
      ['user', 'complete'],
      ['assistant', 'aborted'],
    ]);
    const kept = String(messages[3]?.content);
    expect(kept.length).toBeGreaterThan(0);
    expect(LONG.startsWith(kept)).toBe(true);
    expect(kept.length).toBeLessThan(LONG.length);
  });

  it('starts a new chat with an LLM config, then reopens the first conversation and shows its messages', async () => {
    stack.sim.resetStats();
    await page.getByRole('button', { name: 'New chat' }).click();
    expect(await page.locator('.message').count()).toBe(0);
    await page.getByLabel('Model or config').selectOption(`config:${configId}`);
    await prompt().fill('short question');
    await prompt().press('Enter');
    await page.locator('.message.role-assistant[data-status="complete"]').waitFor();
    const request = stack.sim.received().find((r) => r.path === '/v1/chat/completions');
    expect((request?.body as { messages: unknown[] }).messages).toEqual([
      { role: 'system', content: SYSTEM_PROMPT },
      { role: 'user', content: 'short question' },
    ]);

    await page.locator(`.conversation[data-id="${conversationId}"]`).click();
    await page.locator('.message').nth(3).waitFor();
    expect(await page.locator('.message').evaluateAll((els) => els.map((el) => el.getAttribute('data-role')))).toEqual([
      'user',
      'assistant',
      'user',
      'assistant',
    ]);
    expect(await page.locator('.message .message-text').first().innerText()).toBe(SHORT);
    expect(await lastReply().locator('.badge').innerText()).toBe('stopped');
    expect(await page.locator('#chat-title').innerText()).toBe(SHORT.slice(0, 59) + '…');
    await screenshot('reopened');
  });

  it('ran without a script error or a blocked file, and logged no key', async () => {
    expect(pageErrors).toEqual([]);
    expect(await page.content()).not.toContain(CLIENT_KEY);
    await stack.gateway.close();
    expect(readFileSync(stack.logFile, 'utf8')).not.toContain(CLIENT_KEY);
  });
});

describe('chat playground with auth off (e2e)', () => {
  let stack: Stack;
  let browser: Browser;

  beforeAll(async () => {
    stack = await startStack();
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('needs no key: models load and a chat streams without one', async () => {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    page.setDefaultTimeout(15_000);
    await page.goto(`${stack.gateway.url}/playground`);
    await page.locator('#target option[value="model:sim-model"]').waitFor({ state: 'attached' });
    expect(await page.getByRole('alert').isHidden()).toBe(true);

    await page.getByRole('textbox', { name: 'Message' }).fill('no key needed');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.locator('.message.role-assistant[data-status="complete"]').waitFor();
    expect(await page.locator('.message.role-assistant .message-text').innerText()).toBe('no key needed');
    const request = stack.sim.received().find((r) => r.path === '/v1/chat/completions');
    expect(request?.body).toMatchObject({ messages: [{ role: 'user', content: 'no key needed' }] });
  });
});
