import { Get, Param, Res } from '@nestjs/common';
import type { Response } from 'express';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { AppError } from '../errors/app-error.js';
import { packageRoot } from '../package-version.js';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/**
 * The pages run only their own files and talk only to this origin: no inline script or style can run, so text an
 * attacker stored in a conversation cannot become code even if some view rendered it as HTML.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

interface Asset {
  body: Buffer;
  type: string;
}

/** `public/<name>` beside package.json, so the same folder serves `src` (tests) and `dist` (the build). */
export function publicDir(name: string): string {
  return join(packageRoot(), 'public', name);
}

/**
 * One web UI's static files (plain HTML, CSS and ES modules, no build step), read once at start-up: `public/common/`
 * (what the UIs share), then the UI's own folder, whose files win. Only the files found there are served (a fixed map,
 * so no request path reaches the file system).
 */
export class StaticUi {
  private readonly assets: ReadonlyMap<string, Asset>;

  /** @param label names the UI in errors, e.g. "admin UI" */
  constructor(
    dir: string,
    private readonly label: string,
  ) {
    this.assets = new Map([...loadAssets(publicDir('common')), ...loadAssets(dir, label)]);
  }

  send(res: Response, name: string): void {
    const asset = this.assets.get(name);
    if (asset === undefined) throw new AppError('not_found', `No ${this.label} file '${name}'`);
    // no-cache, not no-store: the browser revalidates by ETag (Express adds it and answers 304), so a new
    // deployment's files are picked up at once without every reload downloading them again.
    res
      .set({
        'Content-Type': asset.type,
        'Cache-Control': 'no-cache',
        'Content-Security-Policy': CONTENT_SECURITY_POLICY,
        'X-Content-Type-Options': 'nosniff',
        'Referrer-Policy': 'no-referrer',
      })
      .send(asset.body);
  }
}

/** A folder's servable files; `label` names a UI's own folder, which must hold its page. */
function loadAssets(dir: string, label?: string): ReadonlyMap<string, Asset> {
  if (label !== undefined && !existsSync(join(dir, 'index.html'))) {
    throw new Error(`The ${label}'s files are missing: ${join(dir, 'index.html')} does not exist`);
  }
  const assets = new Map<string, Asset>();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const type = CONTENT_TYPES[extname(entry.name)];
    if (entry.isFile() && type !== undefined) {
      assets.set(entry.name, { body: readFileSync(join(dir, entry.name)), type });
    }
  }
  return assets;
}

/**
 * A UI's two routes, `GET /<prefix>` (the page) and `GET /<prefix>/ui/<file>`: a subclass adds `@Controller(prefix)`,
 * its access decorator and the `StaticUi` it serves.
 */
export abstract class StaticUiController {
  protected abstract readonly ui: StaticUi;

  @Get()
  page(@Res() res: Response): void {
    this.ui.send(res, 'index.html');
  }

  @Get('ui/:file')
  asset(@Param('file') file: string, @Res() res: Response): void {
    this.ui.send(res, file);
  }
}
