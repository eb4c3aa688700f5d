import path from 'node:path';
import { fileURLToPath } from 'node:url';
import tseslint from 'typescript-eslint';

const ROOT = path.dirname(fileURLToPath(import.meta.url));

/**
 * The import walls. Each import is resolved to a repository path and placed in an area: the core
 * (`core/`), one Lambda adapter (`lambda/<name>/`), the infra (`lib/`, `bin/`), the CLI, or
 * the CDK packages. The core imports neither infra, CDK nor an adapter; an adapter imports the core,
 * never another adapter; nothing outside an adapter imports it; the infra imports only the core
 * modules listed in LIB_CORE_IMPORTS. From outside the core, the core is imported through the
 * `@core/*` alias (tsconfig.json paths), never by a relative path.
 */
const LIB_CORE_IMPORTS = [
  'core/artifacts',
  'core/bisect/contract',
  'core/bisect/engine',
  'core/build-env',
  'core/config',
  'core/downloads/contract',
  'core/monitor/contract',
  'core/notifications/contract',
  'core/notifications/format',
  'core/records/contract',
  'core/release/environment',
  'core/release/history/history',
  'core/release/publish/request',
  'core/release/publish/trusted-build',
  'core/trigger-paths',
  'core/versions',
  'core/webhooks/contract',
  'core/webhooks/settings',
  'core/zod-issue',
];

function areaOf(file) {
  if (file === 'core' || file.startsWith('core/')) return 'core';
  const adapter = /^lambda\/([^/]+)/.exec(file);
  if (adapter) return `adapter ${adapter[1]}`;
  const top = file.split('/')[0];
  return top === 'lib' || top === 'bin' ? 'infra' : top;
}

function targetOf(source, filename) {
  if (source === 'aws-cdk-lib' || source.startsWith('aws-cdk-lib/') || source === 'constructs') {
    return { area: 'cdk' };
  }
  let file;
  if (source.startsWith('@core/')) file = `core/${source.slice('@core/'.length)}`;
  else if (source.startsWith('.')) {
    file = path
      .relative(ROOT, path.resolve(path.dirname(filename), source))
      .split(path.sep)
      .join('/');
  } else return undefined;
  return { area: areaOf(file), file: file.replace(/\/index$/, ''), relative: source.startsWith('.') };
}

function wallBroken(from, to) {
  if (from === to.area) return undefined;
  if (to.area === 'core' && to.relative) return 'import the core through the @core/ alias';
  if (from === 'core' && ['infra', 'cdk'].includes(to.area)) return 'the core does not import infra or CDK';
  if (to.area.startsWith('adapter ')) return `nothing outside ${to.area} imports it; import the core instead`;
  if (from.startsWith('adapter ') && to.area === 'infra') return 'an adapter does not import infra';
  if (from === 'infra' && to.area === 'core' && !LIB_CORE_IMPORTS.includes(to.file)) {
    return 'infra imports only the core contracts listed in eslint.config.mjs';
  }
  return undefined;
}

const importWalls = {
  meta: {
    type: 'problem',
    docs: { description: 'Keeps the core, the Lambda adapters, the infra and the CLI apart.' },
    schema: [],
    messages: { wall: "'{{source}}': {{reason}}" },
  },
  create(context) {
    const relative = path.relative(ROOT, context.filename).split(path.sep).join('/');
    if (relative.startsWith('..')) return {};
    const from = areaOf(relative);
    const check = (node) => {
      if (!node.source || typeof node.source.value !== 'string') return;
      const to = targetOf(node.source.value, context.filename);
      const reason = to && wallBroken(from, to);
      if (reason)
        context.report({ node: node.source, messageId: 'wall', data: { source: node.source.value, reason } });
    };
    return {
      ImportDeclaration: check,
      ExportNamedDeclaration: check,
      ExportAllDeclaration: check,
      ImportExpression: check,
    };
  },
};

export default tseslint.config(
  { ignores: ['node_modules/**', 'cdk.out/**', 'examples/**', '.venv/**', 'dist/**', '**/*.generated.js'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
    },
  },
  {
    files: ['core/**/*.ts', 'lambda/**/*.ts', 'lib/**/*.ts', 'bin/**/*.ts', 'cli/**/*.ts'],
    plugins: { walls: { rules: { imports: importWalls } } },
    rules: { 'walls/imports': 'error' },
  },
);
