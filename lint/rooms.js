// The folders of the repository ("rooms") and the imports each may make. One table, read by the ESLint rule
// (lint/boundaries.js) and by the folder-cycle check (lint/folderCycles.ts), so the picture in
// docs/architecture.md, the lint and the cycle check cannot drift apart.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: this file lives in <root>/lint/. */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Which core folders each core folder may import (core/random.ts counts as the folder `core/random`). The lists
 * form a layered DAG, so core has no folder-level cycle by construction.
 */
export const CORE_ALLOWED = {
  'core/graph': [],
  'core/store': [],
  'core/reward': [],
  'core/random': [],
  'core/model': ['core/graph', 'core/random'],
  'core/generate': ['core/graph', 'core/model', 'core/random'],
  'core/tools': ['core/generate'],
  'core/rl': ['core/graph', 'core/random'],
  'core/metrics': ['core/store'],
  'core/data': ['core/reward', 'core/store', 'core/tools', 'core/random'],
  'core/config': [
    'core/rl',
    'core/reward',
    'core/data',
    'core/model',
    'core/graph',
    'core/store',
    'core/random',
    'core/tools',
  ],
  'core/train': ['core/rl', 'core/model', 'core/graph', 'core/generate', 'core/config', 'core/random'],
  'core/serve': ['core/generate', 'core/model', 'core/graph', 'core/store', 'core/random'],
  'core/task': [
    'core/config',
    'core/reward',
    'core/data',
    'core/tools',
    'core/model',
    'core/generate',
    'core/store',
    'core/random',
  ],
};

/** Outside core: the top-level folders each may not import, with the reason a reader gets in the lint error. */
export const TOP_FORBIDDEN = {
  core: {
    rooms: [
      'activities',
      'workflows',
      'client',
      'cli',
      'workers',
      'demo',
      'study',
      'bench',
      'infra',
      'scripts',
      'test',
    ],
    why: 'core/ is the library: it knows nothing of Temporal, workers or the programs built on it',
  },
  workflows: {
    rooms: ['client', 'cli', 'workers', 'infra', 'demo', 'study', 'bench', 'scripts', 'test'],
    why: 'workflows/ is bundled, deterministic workflow code',
  },
  activities: {
    rooms: ['workers', 'cli', 'demo', 'study', 'bench', 'scripts', 'test'],
    why: 'activities/ adapt core/ for workers (they may use client/ to ask Temporal about queues); nothing above them',
  },
  client: {
    rooms: ['activities', 'workers', 'cli', 'demo', 'study', 'bench', 'scripts', 'test'],
    why: 'client/ talks to Temporal from outside a worker; it never runs activity code',
  },
  cli: {
    rooms: ['activities', 'demo', 'study', 'bench', 'scripts', 'test'],
    why: 'cli/ is a client: it uses client/ and core/',
  },
  demo: {
    rooms: ['activities', 'cli', 'study', 'bench', 'scripts', 'test'],
    why: 'demo/ is a client: it uses client/ and core/',
  },
  study: {
    rooms: ['activities', 'cli', 'bench', 'scripts', 'test'],
    why: 'study/ is a client: it uses client/ and core/',
  },
  bench: {
    rooms: ['activities', 'cli', 'study', 'scripts', 'test'],
    why: 'bench/ measures core/ and the stack as a client does',
  },
  infra: {
    rooms: [
      'activities',
      'workflows',
      'client',
      'cli',
      'workers',
      'demo',
      'study',
      'bench',
      'scripts',
      'test',
    ],
    why: 'infra/ installs and starts servers; it sits below everything that uses them',
  },
  workers: {
    rooms: ['cli', 'demo', 'study', 'bench', 'scripts', 'test'],
    why: 'workers/ host activities and workflows',
  },
};

/** Workflow code may import these folders' types but never their values (Temporal's sandbox bundles workflows). */
export const WORKFLOW_TYPE_ONLY = ['activities'];

/** Packages core/ may not import. */
export const CORE_FORBIDDEN_PACKAGES = [/^@temporalio\//];

/** The room of a repository-relative path: `core/<folder>` inside core, else its top-level folder. */
export function roomOf(relPath) {
  const parts = relPath.split(/[\\/]/);
  if (parts[0] === 'core') {
    if (parts.length === 2) return `core/${parts[1].replace(/\.[cm]?[tj]s$/, '')}`;
    return `core/${parts[1]}`;
  }
  return parts.length === 1 ? '.' : parts[0];
}

/** Why `fromRoom` may not import `toRoom` (null when it may). */
export function forbiddenArrow(fromRoom, toRoom) {
  if (fromRoom === toRoom) return null;
  const fromTop = fromRoom.split('/')[0];
  const toTop = toRoom.split('/')[0];
  if (fromTop === 'core' && toTop === 'core') {
    const allowed = CORE_ALLOWED[fromRoom];
    if (allowed === undefined)
      return `${fromRoom} is not in lint/rooms.js: add it to CORE_ALLOWED with its allowed imports`;
    if (!allowed.includes(toRoom)) {
      return `${fromRoom} may import only ${allowed.length ? allowed.join(', ') : 'itself'} (lint/rooms.js CORE_ALLOWED)`;
    }
    return null;
  }
  const rule = TOP_FORBIDDEN[fromTop];
  if (rule && rule.rooms.includes(toTop)) return rule.why;
  return null;
}
