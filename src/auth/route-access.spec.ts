import { describe, expect, it } from '@jest/globals';
import type { AuthRequirement } from '../common/decorators/auth.decorator.js';
import { type AccessRoute, type PathMatching, RouteTable } from './route-access.js';

const KEY: AuthRequirement = { kind: 'api-key', scope: 'chat' };
const ADMIN: AuthRequirement = { kind: 'admin' };
/** Express' defaults, which the app keeps. */
const EXPRESS: PathMatching = { caseSensitive: false, ignoreTrailingSlash: true };

function table(routes: [method: string, template: string, requirement?: AuthRequirement][], options = EXPRESS) {
  return RouteTable.of(
    routes.map(([method, template, requirement]) => ({
      route: `${method} ${template}`,
      template,
      method,
      requirement,
    })),
    options,
  );
}

const routeOf = (found: AccessRoute | undefined): string | undefined => found?.route;

describe('RouteTable', () => {
  const routes = table([
    ['GET', '/', { kind: 'public' }],
    ['POST', '/v1/conversations', KEY],
    ['GET', '/v1/conversations/:id', KEY],
    ['GET', '/v1/conversations/:id/messages', KEY],
    ['DELETE', '/admin/conversations/:id', ADMIN],
    ['ALL', '/anything', KEY],
  ]);

  it('matches static segments, and a :param against any one non-empty segment', () => {
    expect(routeOf(routes.match('GET', '/v1/conversations/abc'))).toBe('GET /v1/conversations/:id');
    expect(routeOf(routes.match('GET', '/v1/conversations/a%2Fb/messages'))).toBe('GET /v1/conversations/:id/messages');
    expect(routes.match('GET', '/v1/conversations//messages')).toBeUndefined();
    expect(routes.match('GET', '/v1/conversations/a/b')).toBeUndefined();
    expect(routes.match('GET', '/v1')).toBeUndefined();
    expect(routeOf(routes.match('GET', '/'))).toBe('GET /');
  });

  it('matches the method, HEAD by a GET route, any method by an ALL route', () => {
    expect(routes.match('POST', '/v1/conversations/abc')).toBeUndefined();
    expect(routeOf(routes.match('HEAD', '/v1/conversations/abc'))).toBe('GET /v1/conversations/:id');
    expect(routes.match('OPTIONS', '/v1/conversations')).toBeUndefined();
    expect(routeOf(routes.match('PATCH', '/anything'))).toBe('ALL /anything');
  });

  it("ignores the query, and case and one trailing slash as Express' defaults do", () => {
    expect(routeOf(routes.match('POST', '/v1/conversations?x=/admin'))).toBe('POST /v1/conversations');
    expect(routeOf(routes.match('POST', '/V1/Conversations/'))).toBe('POST /v1/conversations');
    expect(routeOf(routes.match('DELETE', '/ADMIN/conversations/Id/'))).toBe('DELETE /admin/conversations/:id');
    expect(routes.match('POST', '/v1/conversations//')).toBeUndefined();
    expect(routeOf(routes.match('GET', '//'))).toBe('GET /');
  });

  it('matches case and trailing slash exactly when routing is strict', () => {
    const strict = table([['POST', '/v1/conversations', KEY]], { caseSensitive: true, ignoreTrailingSlash: false });
    expect(routeOf(strict.match('POST', '/v1/conversations'))).toBe('POST /v1/conversations');
    expect(strict.match('POST', '/V1/conversations')).toBeUndefined();
    expect(strict.match('POST', '/v1/conversations/')).toBeUndefined();
  });

  it('takes the first registered route that matches, as Express dispatches', () => {
    const overlapping = table([
      ['GET', '/admin/:page', { kind: 'public' }],
      ['GET', '/admin/stats', ADMIN],
    ]);
    expect(routeOf(overlapping.match('GET', '/admin/stats'))).toBe('GET /admin/:page');
  });

  it('matches no request target that is not a path', () => {
    expect(routes.match('POST', 'http://gateway/v1/conversations')).toBeUndefined();
    expect(routes.match('OPTIONS', '*')).toBeUndefined();
    expect(routes.match('GET', '')).toBeUndefined();
  });

  it('refuses at start a template it cannot match as Express would', () => {
    for (const template of ['/files/{*path}', '/v1/:id.json', '/v1/*', '/v1/a+b']) {
      expect(() => table([['GET', template, KEY]])).toThrow(`GET ${template}: the route access table matches only`);
    }
  });
});
