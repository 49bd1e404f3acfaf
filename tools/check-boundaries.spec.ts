import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { checkBoundaries } from './check-boundaries.js';

const roots: string[] = [];

/** A throwaway src/ tree: path → file text. */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'boundaries-'));
  roots.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe('checkBoundaries', () => {
  afterAll(() => roots.forEach((root) => rmSync(root, { recursive: true, force: true })));

  it('passes on the project’s own src/', () => {
    expect(checkBoundaries()).toEqual([]);
  });

  it('accepts downward imports and a sibling feature’s public files', () => {
    const root = tree({
      'common/json.ts': "import { x } from '../config/app-config.js';",
      'vllm/vllm.service.ts': "import { j } from '../common/json.js';",
      'chat/chat.service.ts': "import { m } from '../conversations/chat-memory.service.js';",
      'conversations/x.ts': "import { e } from '../llm-configs/llm-config.entity.js';",
    });
    expect(checkBoundaries(root)).toEqual([]);
  });

  it('fails when common/ imports a feature or database/, and when a feature reaches into a sibling', () => {
    const root = tree({
      'common/filters/error.ts': "import { p } from '../../database/pg-error.js';",
      'common/x.ts': "import { c } from '../chat/relay.types.js';",
      'conversations/y.ts': "import { f } from '../chat/chat-request.js';",
    });
    expect(checkBoundaries(root).map((v) => [v.file, v.target])).toEqual(
      expect.arrayContaining([
        ['common/filters/error.ts', 'database/pg-error.ts'],
        ['common/x.ts', 'chat/relay.types.ts'],
        ['conversations/y.ts', 'chat/chat-request.ts'],
      ]),
    );
  });

  it('fails when two features import each other, even through public files', () => {
    const root = tree({
      'chat/chat.service.ts': "import { m } from '../conversations/chat-memory.service.js';",
      'conversations/chat-memory.service.ts': "import { c } from '../chat/chat.service.js';",
    });
    expect(checkBoundaries(root)).toContainEqual(
      expect.objectContaining({ file: 'chat/', target: 'conversations/', rule: 'two features import each other' }),
    );
  });
});
