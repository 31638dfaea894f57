/** `npm run docs:how-it-works`: write docs/how-it-works.md from src/explain (test/unit/explain-docs.test.ts checks it is current). */
import { howItWorksMarkdown } from '../../src/explain/how-it-works.js';
import { writeFileAtomic } from '../../src/util/fs.js';

const file = new URL('../../docs/how-it-works.md', import.meta.url).pathname;
await writeFileAtomic(file, await howItWorksMarkdown(), 0o644);
process.stdout.write(`wrote ${file}\n`);
