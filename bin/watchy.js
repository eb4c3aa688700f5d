#!/usr/bin/env node
// npm bin shim: registers tsx (CommonJS and ESM hooks, so the lazy command imports resolve .ts)
// and runs the TypeScript CLI entry, bin/watchy.ts.
import('tsx').then(() => import('./watchy.ts'));
