import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Browser, Locator, Page } from 'playwright-core';
import { type ApiResponse, bearer, jsonApi } from '../factories/api.js';
import { collectPageErrors, launchChromium, screenshotter } from '../helpers/browser.js';
import { startStack, type Stack } from '../helpers/stack.js';

const ADMIN_USER = 'ops';
const ADMIN_PASSWORD = 'ui-test-password-7c1e9a';
const JWT_SECRET = 'ui-test-jwt-secret-0123456789abcdef0123456789';

/** The database is shared with the other specs running at the same time: this run's rows carry their own tag. */
const RUN = randomUUID().slice(0, 8);
const TITLE = `Parcel ${RUN}`;
/** Found by the search through message text only: the title does not contain it. */
const ORDER = randomUUID().slice(0, 8);
const QUESTION = `Where is order ${ORDER}?`;

type Json = Record<string, unknown>;

/**
 * The admin web UI in headless Chromium against the real gateway (auth on, admin login configured), the simulator
 * and PostgreSQL. The steps run in order and share one signed-in page, as an operator would use it: each `it` is one
 * thing the operator relies on, and a failure names the first one that broke.
 */
describe('admin web UI in a real browser (e2e)', () => {
  let stack: Stack;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  const screenshot = screenshotter(() => page, 'admin-ui', { fullPage: true });

  // Set by the steps, read by the later ones.
  let configId = '';
  let apiKey = '';
  let conversationId = '';
  let jwt = '';

  beforeAll(async () => {
    stack = await startStack({
      env: { ENABLE_AUTH: 'true', ADMIN_USERNAME: ADMIN_USER, ADMIN_PASSWORD, JWT_SECRET, JWT_EXPIRES_IN: '15m' },
    });
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: stack.gateway.url });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    collectPageErrors(page, pageErrors);
  });

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  /** A call as a client with `key` would make it, outside the browser. */
  const asClient = (key: string, method: string, path: string, body?: Json): Promise<ApiResponse> =>
    jsonApi(stack.gateway.url, bearer(key))(method, path, body);

  const loginForm = (): Locator => page.getByRole('button', { name: 'Sign in' });

  it('serves the page with a CSP that allows only its own scripts', async () => {
    const res = await fetch(`${stack.gateway.url}/admin`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await res.text()).toContain('/admin/ui/app.js');
    expect((await fetch(`${stack.gateway.url}/admin/ui/app.js`)).headers.get('content-type')).toMatch(
      /^text\/javascript/,
    );
    expect((await fetch(`${stack.gateway.url}/admin/ui/..%2Fpackage.json`)).status).toBe(404);
  });

  it('shows an error for a wrong password, then signs in', async () => {
    await page.goto(`${stack.gateway.url}/admin`);
    await page.getByLabel('Username').fill(ADMIN_USER);
    await page.getByLabel('Password').fill('not-the-password');
    await loginForm().click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/wrong username or password/i);
    await screenshot('login-wrong-password');

    await page.getByLabel('Password').fill(ADMIN_PASSWORD);
    await loginForm().click();
    await page.getByRole('heading', { name: 'Conversations', exact: true }).waitFor();
    expect(await page.locator('.user-name').textContent()).toBe(ADMIN_USER);
    const stored = await page.evaluate(() => sessionStorage.getItem('llm-gateway.admin.session'));
    const session = JSON.parse(stored ?? '{}') as { token?: string; expiresAt?: number };
    jwt = session.token ?? '';
    expect(jwt.split('.')).toHaveLength(3);
    // Kept with the token's expiry (JWT_EXPIRES_IN is 15m), so a reload can tell whether it is still valid.
    expect(session.expiresAt).toBeGreaterThan(Date.now() + 14 * 60_000);
    expect(session.expiresAt).toBeLessThanOrEqual(Date.now() + 15 * 60_000);
  });

  it('creates, edits and deletes LLM configs', async () => {
    await page.getByRole('link', { name: 'LLM configs', exact: true }).click();
    await page.getByRole('heading', { name: 'LLM configs', exact: true }).waitFor();

    for (const name of ['ui-support', 'ui-scratch']) {
      await page.getByRole('button', { name: 'New config' }).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByLabel('Name', { exact: true }).fill(name);
      await dialog.getByLabel('Temperature').fill('0.3');
      await dialog.getByLabel('System prompt').fill('You are the parcel desk of Acme.');
      if (name === 'ui-support') await screenshot('llm-config-form');
      await dialog.getByRole('button', { name: 'Create config' }).click();
      await page.locator(`tr[data-name="${name}"]`).waitFor();
    }

    await page.getByRole('button', { name: 'Edit ui-support' }).click();
    await page.getByRole('dialog').getByLabel('Temperature').fill('0.4');
    await page.getByRole('dialog').getByRole('button', { name: 'Save changes' }).click();
    await page.locator('tr[data-name="ui-support"] td.num', { hasText: '0.4' }).waitFor();

    await page.getByRole('button', { name: 'Delete ui-scratch' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await page.locator('tr[data-name="ui-scratch"]').waitFor({ state: 'detached' });
    await screenshot('llm-configs');
  });

  it('creates an API key, shows its secret once with a copy button, and lists it without the secret', async () => {
    await page.getByRole('link', { name: 'API keys', exact: true }).click();
    await page.getByRole('button', { name: 'New API key' }).click();
    await page.getByRole('dialog').getByLabel('Name', { exact: true }).fill('ui-client');
    await page.getByRole('dialog').getByLabel('Requests per minute').fill('600');
    await page.getByRole('dialog').getByLabel('Concurrent requests').fill('4');
    await page.getByRole('dialog').getByRole('button', { name: 'Create key' }).click();

    const secret = page.getByLabel('Secret key');
    await secret.waitFor();
    apiKey = await secret.inputValue();
    expect(apiKey).toMatch(/^sk-gw-[0-9A-Za-z]{32,}$/);
    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByText('Copied to the clipboard.').waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(apiKey);
    await screenshot('api-key-created');

    await page.getByRole('button', { name: 'Done' }).click();
    await page.locator('tr[data-name="ui-client"][data-state="active"]').waitFor();
    expect(await page.locator('tr[data-name="ui-client"]').textContent()).toContain(apiKey.slice(0, 8));
    expect(await page.locator('tr[data-name="ui-client"]').textContent()).toContain('600/min · 4 at once');
    expect(await page.content()).not.toContain(apiKey);
  });

  it('the new key works on /v1: a conversation using the config, and a chat turn in it', async () => {
    const configs = await asClient(apiKey, 'GET', '/v1/llm-configs');
    expect(configs.status).toBe(200);
    const config = (configs.body['data'] as Json[]).find((c) => c['name'] === 'ui-support');
    expect(config).toMatchObject({ temperature: 0.4, system_prompt: 'You are the parcel desk of Acme.' });
    configId = String(config?.['id']);

    const created = await asClient(apiKey, 'POST', '/v1/conversations', {
      title: TITLE,
      llm_config_id: configId,
    });
    expect(created.status).toBe(201);
    conversationId = String(created.body['id']);

    stack.sim.resetStats();
    const turn = await asClient(apiKey, 'POST', '/v1/chat/completions', {
      conversation_id: conversationId,
      messages: [{ role: 'user', content: QUESTION }],
    });
    expect(turn.status).toBe(200);
    // The config made in the UI, with its edited temperature, is what vLLM was sent.
    expect(stack.sim.received().find((r) => r.path === '/v1/chat/completions')?.body).toMatchObject({
      temperature: 0.4,
      messages: [
        { role: 'system', content: 'You are the parcel desk of Acme.' },
        { role: 'user', content: QUESTION },
      ],
    });
  });

  it('searches conversations and pages through the results', async () => {
    // 21 more with a tag of their own: one more than a page, so the search has a second page.
    const tag = `paging-${RUN}`;
    for (let i = 0; i < 21; i++) {
      expect((await asClient(apiKey, 'POST', '/v1/conversations', { title: `${tag} ${i}` })).status).toBe(201);
    }
    await page.getByRole('link', { name: 'Conversations', exact: true }).click();
    await page.getByRole('searchbox', { name: 'Search conversations' }).fill(tag);
    await page.getByRole('button', { name: 'Search' }).click();
    const rows = page.locator('tbody tr');
    const titles = (): Promise<string[]> => rows.locator('td:first-child').allTextContents();
    // The list before the search shows these 20 newest too, and the search re-renders it (empty while it loads):
    // wait until the address carries the search and a full page of its rows is on screen.
    await page.waitForFunction((t) => {
      const cells = [...document.querySelectorAll('tbody tr td:first-child')];
      return location.hash.includes('search=') && cells.length === 20 && cells.every((c) => c.textContent?.includes(t));
    }, tag);
    const first = await titles();
    expect(first).toHaveLength(20);
    await screenshot('conversations-search');

    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByText('Page 2').waitFor();
    const second = await titles();
    expect(second).toHaveLength(1);
    expect([...first, ...second].sort()).toEqual(Array.from({ length: 21 }, (_, i) => `${tag} ${i}`).sort());
    expect(await page.getByRole('button', { name: 'Next' }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: 'Previous' }).click();
    await page.getByText('Page 1').waitFor();
    expect(await titles()).toEqual(first);
  });

  it('finds the conversation by its message text and shows its thread with statuses', async () => {
    await page.getByRole('searchbox', { name: 'Search conversations' }).fill(ORDER);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: TITLE }).click();

    await page.getByRole('heading', { name: TITLE }).waitFor();
    const messages = page.getByRole('list', { name: 'Messages' }).getByRole('listitem');
    await messages.nth(1).waitFor();
    const thread = await messages.evaluateAll((items) =>
      items.map((item) => [
        item.querySelector('.message-role')?.textContent,
        item.querySelector('.badge')?.textContent,
        item.querySelector('.message-body')?.textContent,
      ]),
    );
    expect(thread).toEqual([
      ['user', 'complete', QUESTION],
      ['assistant', 'complete', QUESTION],
    ]);
    expect(await page.textContent('body')).toContain('ui-support');
    await screenshot('conversation-thread');
  });

  it('keeps the session across a reload', async () => {
    await page.reload();
    await page.getByRole('heading', { name: TITLE }).waitFor();
    expect(await loginForm().count()).toBe(0);
  });

  it('shows usage: totals, requests and tokens per day as a chart, time to first token, and a table by model', async () => {
    // A streamed request too, so the time-to-first-token chart has a point for today.
    const streamed = await fetch(`${stack.gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'stream it' }], stream: true }),
    });
    expect(await streamed.text()).toContain('[DONE]');
    // Usage rows are written in batches about every second: wait for this key's two (the turn, the stream) before
    // the page reads the stats. The database is shared, so only this key's row says they are in.
    const today = new Date().toISOString().slice(0, 10);
    const admin = { authorization: `Bearer ${jwt}` };
    const keys = (await (await fetch(`${stack.gateway.url}/admin/api-keys`, { headers: admin })).json()) as {
      data: { id: string; name: string }[];
    };
    const keyId = keys.data.find((k) => k.name === 'ui-client')?.id;
    const deadline = Date.now() + 10_000;
    for (;;) {
      const res = await fetch(`${stack.gateway.url}/admin/stats?group_by=key`, { headers: admin });
      const groups = ((await res.json()) as { groups: { key: string; requests: number; ttft_p50_ms: number | null }[] })
        .groups;
      const mine = groups.find((g) => g.key === keyId);
      if ((mine?.requests === 2 && mine.ttft_p50_ms !== null) || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    await page.getByRole('link', { name: 'Usage', exact: true }).click();
    const chart = page.getByRole('img', { name: 'Requests and tokens per day' });
    await chart.waitFor();
    // One bar per day of the default 7-day range, today's last and drawn with its requests.
    const bars = chart.locator('rect.chart-bar');
    expect(await bars.count()).toBe(7);
    const todayBar = chart.locator(`rect[data-day="${today}"]`);
    expect(Number(await todayBar.getAttribute('data-requests'))).toBeGreaterThanOrEqual(2);
    expect(Number(await todayBar.getAttribute('height'))).toBeGreaterThan(0);
    expect(await bars.last().getAttribute('data-day')).toBe(today);
    expect(await chart.locator('polyline.chart-line-tokens').count()).toBe(1);
    const ttft = page.getByRole('img', { name: 'Time to first token per day, p50 and p95' });
    expect(await ttft.locator(`circle[data-day="${today}"]`).count()).toBe(2);
    expect(Number(await page.locator('.stats-totals .stat strong').first().textContent())).toBeGreaterThanOrEqual(2);
    await page.locator('tbody tr[data-model]').first().waitFor();
    await screenshot('usage-stats');

    await page.getByRole('link', { name: '30 days' }).click();
    await page.waitForFunction(() => document.querySelectorAll('svg.chart rect.chart-bar').length === 30);
  });

  it('revokes the key, after which /v1 refuses it', async () => {
    await page.getByRole('link', { name: 'API keys', exact: true }).click();
    await page.getByRole('button', { name: 'Revoke ui-client' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke key' }).click();
    await page.locator('tr[data-name="ui-client"][data-state="revoked"]').waitFor();
    await screenshot('api-key-revoked');

    const chat = await asClient(apiKey, 'POST', '/v1/chat/completions', {
      conversation_id: conversationId,
      messages: [{ role: 'user', content: 'And now?' }],
    });
    expect(chat.status).toBe(401);
    expect((await asClient(apiKey, 'GET', `/v1/conversations/${conversationId}`)).status).toBe(401);
  });

  it('logs out: the stored session is gone and a reload shows the login page', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await loginForm().waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await page.reload();
    await loginForm().waitFor();
    await screenshot('logged-out');
  });

  it('sends the user back to the login page, saying why, when the token expires (stored, idle) or is refused', async () => {
    const signIn = async (): Promise<void> => {
      await page.getByLabel('Username').fill(ADMIN_USER);
      await page.getByLabel('Password').fill(ADMIN_PASSWORD);
      await loginForm().click();
      await page.getByRole('button', { name: 'Log out' }).waitFor();
    };
    const editSession = (change: 'expire' | 'forge'): Promise<void> =>
      page.evaluate((how) => {
        const key = 'llm-gateway.admin.session';
        const session = JSON.parse(sessionStorage.getItem(key) ?? '{}') as { token: string; expiresAt: number };
        if (how === 'expire') session.expiresAt = Date.now() - 1000;
        else session.token = `${session.token.slice(0, -6)}AAAAAA`;
        sessionStorage.setItem(key, JSON.stringify(session));
      }, change);

    // Past its stored expiry, the token is not even sent.
    await signIn();
    await editSession('expire');
    await page.reload();
    await page.getByText('Your session has expired').waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);

    // Within its lifetime but refused by the server (a bad signature; a new JWT_SECRET after a restart alike).
    await signIn();
    await editSession('forge');
    await page.reload();
    await page.getByText('Your session has expired').waitFor();
    await loginForm().waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);

    // Left open past the token's lifetime, with a dialog open: the page signs out by itself and closes the dialog.
    await page.clock.install();
    await page.reload();
    await signIn();
    await page.getByRole('link', { name: 'LLM configs', exact: true }).click();
    await page.getByRole('button', { name: 'New config' }).click();
    await page.getByRole('dialog').waitFor();
    await page.clock.fastForward('15:01');
    await page.getByText('Your session has expired').waitFor();
    expect(await page.getByRole('dialog').count()).toBe(0);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
  });

  it('ran without a script error or a blocked file, and logged no secret', async () => {
    expect(pageErrors).toEqual([]);
    await stack.gateway.close();
    const log = readFileSync(stack.logFile, 'utf8');
    expect(log).toContain('/admin/auth/login');
    for (const secret of [apiKey, ADMIN_PASSWORD, 'not-the-password', jwt]) expect(log).not.toContain(secret);
  });
});
