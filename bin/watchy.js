#!/usr/bin/env node
// npm bin shim: runs the TypeScript CLI entry (bin/watchy.ts) through tsx's require hook.
require('tsx/cjs');
require('./watchy.ts');
