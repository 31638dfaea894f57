#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm run build`, which `npm ci` runs through `prepare`).
import { runCli } from '../dist/cli.js';

void runCli(process.argv.slice(2));
