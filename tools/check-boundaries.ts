/**
 * `npm run check`: the import boundaries of src/. Dependencies run one way, features → auth → vllm/database →
 * common → config, and a feature uses a sibling feature only through its public files (module, service, entity,
 * DTO, and the few listed below), never in both directions. Prints each import that breaks a rule and exits 1.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src');

/** Lower numbers are lower layers; a folder may import its own layer's folder and the layers below. */
const LAYERS: Readonly<Record<string, number>> = {
  config: 0,
  common: 1,
  database: 2,
  vllm: 2,
  auth: 3,
  chat: 4,
  conversations: 4,
  'llm-configs': 4,
  admin: 4,
  health: 4,
  models: 4,
  metrics: 4,
  usage: 4,
  playground: 4,
};
const FEATURE_LAYER = 4;
/**
 * A sibling feature's public surface, besides its `*.module`, `*.service`, `*.entity` and `*.dto` files: how a config's
 * system prompt is rendered, and the route factory /admin/llm-configs shares with /v1/llm-configs.
 */
const PUBLIC_FILES = new Set(['llm-configs/prompt-template.ts', 'llm-configs/llm-configs.controller.ts']);
const PUBLIC_FILE_RE = /\.(module|service|entity|dto)\.ts$/;

export interface Violation {
  file: string;
  target: string;
  rule: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** The relative imports of a file, resolved to paths under src/ (`x.js` names the `x.ts` source). */
function importsOf(file: string, src: string): string[] {
  const text = readFileSync(file, 'utf8');
  const targets: string[] = [];
  for (const match of text.matchAll(/(?:from|import)\s+'(\.{1,2}\/[^']+)'/g)) {
    const spec = match[1] ?? '';
    targets.push(
      relative(src, resolve(dirname(file), spec.replace(/\.js$/, '.ts')))
        .split('\\')
        .join('/'),
    );
  }
  return targets;
}

export function checkBoundaries(src = SRC): Violation[] {
  const violations: Violation[] = [];
  const featureEdges = new Map<string, Set<string>>();
  for (const path of sourceFiles(src)) {
    const file = relative(src, path).split('\\').join('/');
    const folder = file.includes('/') ? (file.split('/')[0] ?? '') : '';
    // Root files (main.ts, app.module.ts, entities.ts, …) compose the app: they may import anything.
    if (folder === '') continue;
    const layer = LAYERS[folder];
    if (layer === undefined) {
      violations.push({
        file,
        target: folder,
        rule: 'folder missing from the layer list in tools/check-boundaries.ts',
      });
      continue;
    }
    for (const target of importsOf(path, src)) {
      if (target.startsWith('..')) continue; // outside src/ (migrations/): not a layer
      const targetFolder = target.includes('/') ? (target.split('/')[0] ?? '') : '';
      if (targetFolder === folder) continue;
      if (targetFolder === '') {
        violations.push({ file, target, rule: 'only the app root imports root files' });
        continue;
      }
      const targetLayer = LAYERS[targetFolder];
      if (targetLayer === undefined) continue;
      if (targetLayer > layer || (targetLayer === layer && layer !== FEATURE_LAYER)) {
        violations.push({
          file,
          target,
          rule: `${folder}/ may not import ${targetFolder}/ (dependencies run downward)`,
        });
        continue;
      }
      if (layer === FEATURE_LAYER && targetLayer === FEATURE_LAYER) {
        if (!PUBLIC_FILE_RE.test(target) && !PUBLIC_FILES.has(target)) {
          violations.push({ file, target, rule: `a feature imports only a sibling's public files` });
        }
        const edges = featureEdges.get(folder) ?? new Set<string>();
        edges.add(targetFolder);
        featureEdges.set(folder, edges);
      }
    }
  }
  for (const [from, targets] of featureEdges) {
    for (const to of targets) {
      if (from < to && featureEdges.get(to)?.has(from) === true) {
        violations.push({ file: `${from}/`, target: `${to}/`, rule: 'two features import each other' });
      }
    }
  }
  return violations;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const violations = checkBoundaries();
  for (const v of violations) process.stderr.write(`${posix.join('src', v.file)} → ${v.target}: ${v.rule}\n`);
  if (violations.length > 0) process.exit(1);
  process.stdout.write('import boundaries: ok\n');
}
