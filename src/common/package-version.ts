import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

interface PackageInfo {
  root: string;
  version: string;
}

let cached: PackageInfo | undefined;

/** The gateway's version from package.json. */
export function packageVersion(): string {
  return packageInfo().version;
}

/**
 * The folder holding the gateway's package.json, found by walking up: this file runs from src/ (tests) and
 * dist/src/ (the build), and files beside the code (public/) are found from there in both.
 */
export function packageRoot(): string {
  return packageInfo().root;
}

function packageInfo(): PackageInfo {
  cached ??= findPackage();
  return cached;
}

function findPackage(): PackageInfo {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'llm-gateway' && typeof pkg.version === 'string') return { root: dir, version: pkg.version };
    }
    if (dirname(dir) === dir) return { root: process.cwd(), version: '0.0.0' };
  }
}
