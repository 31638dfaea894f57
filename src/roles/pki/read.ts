/**
 * Reading the workspace PKI for upload. A dry run on a fresh workspace plans before the pki role has
 * issued anything: a missing file then stands in as a placeholder (the plan says "create …"); a real
 * run stops with what to do.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { TaskFailure, type TaskContext } from '../../engine/task.js';

export async function readPki(ctx: Pick<TaskContext, 'run'>, file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    const rel = path.relative(ctx.run.workspace, file);
    if (ctx.run.dryRun) return Buffer.from(`(not issued yet: ${rel})\n`);
    throw new TaskFailure(`the workspace PKI has no ${rel}`, 'the pki role issues it: kcore-wizard converge --tags pki');
  }
}
