// Workspaces and artifact mirrors the helpers made (test/support/scratch.ts) go with the file's last test.
import { afterAll } from 'vitest';
import { removeScratch } from '../support/scratch.js';

afterAll(removeScratch);
