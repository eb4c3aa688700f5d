#!/usr/bin/env node
// npm bin shim: registers tsx (CommonJS and ESM hooks, so the lazy command imports resolve .ts)
// with the project's tsconfig.json wherever the command runs (it holds the @core/* alias), and
// runs the TypeScript CLI entry, bin/watchy.ts.
process.env.TSX_TSCONFIG_PATH ??= `${__dirname}/../tsconfig.json`;
import('tsx').then(() => import('./watchy.ts'));
