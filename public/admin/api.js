/**
 * The admin session and the JSON API. The token lives in sessionStorage with its expiry: a reload of the tab keeps
 * the session, closing the tab ends it, and no other tab or site gets it sent automatically (unlike a cookie).
 */

const SESSION_KEY = 'llm-gateway.admin.session';

/** Raised for every answer that is not 2xx; `message` is the API's `error.message`. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} message
   * @param {{ type?: string, code?: string | number | null, param?: string | null }} [details]
   */
  constructor(status, message, details = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.type = details.type ?? null;
    this.code = details.code ?? null;
    this.param = details.param ?? null;
  }
}

/** @typedef {{ token: string, username: string, expiresAt: number }} Session */

function readStored() {
  try {
    const session = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? 'null');
    return session !== null && typeof session.token === 'string' && typeof session.expiresAt === 'number'
      ? session
      : null;
  } catch {
    return null;
  }
}

/** @returns {Session | null} the stored session, or null when there is none or it has expired */
export function loadSession() {
  const session = readStored();
  if (session === null || session.expiresAt <= Date.now()) {
    sessionStorage.removeItem(SESSION_KEY);
    return null;
  }
  return session;
}

/** Whether a session is stored whose lifetime is over: the login page then says why it is shown. */
export function storedSessionExpired() {
  const session = readStored();
  return session !== null && session.expiresAt <= Date.now();
}

/** @param {Session} session */
function saveSession(session) {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
}

export function clearSession() {
  sessionStorage.removeItem(SESSION_KEY);
}

/** Called when an authenticated call comes back 401: the token expired or the server no longer accepts it. */
let onUnauthorized = () => {};

/** @param {() => void} handler */
export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

async function send(method, path, body, token) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token !== undefined) headers.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, 'The gateway cannot be reached. Check your connection and try again.');
  }
  const text = await res.text();
  let json = null;
  if (text !== '') {
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
  }
  if (!res.ok) {
    const error = json !== null && typeof json === 'object' ? json.error : undefined;
    const message =
      error && typeof error.message === 'string' && error.message !== ''
        ? error.message
        : `The gateway answered ${res.status} ${res.statusText}`.trim();
    const retryAfter = res.headers.get('Retry-After');
    throw new ApiError(
      res.status,
      res.status === 429 && retryAfter ? `${message} (retry in ${retryAfter} s)` : message,
      error ?? {},
    );
  }
  return json;
}

/**
 * Exchanges the admin credentials for a token and stores the session.
 * @returns {Promise<Session>}
 */
export async function login(username, password) {
  const answer = await send('POST', '/admin/auth/login', { username, password });
  const expiresIn = Number(answer?.expires_in);
  if (typeof answer?.access_token !== 'string' || !Number.isFinite(expiresIn)) {
    throw new ApiError(0, 'The gateway sent an unexpected login answer.');
  }
  // The expiry is kept as a local time, so a reload knows without asking whether the token is still worth sending.
  const session = { token: answer.access_token, username, expiresAt: Date.now() + expiresIn * 1000 };
  saveSession(session);
  return session;
}

/**
 * An authenticated call; a 401 ends the session.
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 */
export async function api(method, path, body) {
  const session = loadSession();
  if (session === null) {
    onUnauthorized();
    throw new ApiError(401, 'Your session has expired. Please sign in again.');
  }
  try {
    return await send(method, path, body, session.token);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      clearSession();
      onUnauthorized();
    }
    throw err;
  }
}

/** A query string from the entries that have a value. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}
