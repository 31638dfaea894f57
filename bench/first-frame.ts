/**
 * The wizard's first frame: `node BIN wizard <dir>` in a pseudo-terminal (util-linux script(1), 120×40), from
 * spawn to "1/8 Workspace" on screen; then the session is ended by its process group id. Used by
 * bench/cli-start.ts and bench/ansible-vs-kcore.ts, so both print the same measurement.
 */
import { spawn } from 'node:child_process';

export function wizardFirstFrame(bin: string, dir: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const c = spawn('script', ['-qfec', `stty cols 120 rows 40; exec ${process.execPath} ${bin} wizard ${dir}`, '/dev/null'], { stdio: ['pipe', 'pipe', 'ignore'], detached: true });
    let out = '';
    const stop = () => {
      clearTimeout(timer);
      try {
        process.kill(-c.pid!, 'SIGKILL');
      } catch {
        /* already gone */
      }
    };
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`no wizard frame within 20 s: ${JSON.stringify(out.slice(0, 200))}`));
    }, 20_000);
    c.stdout.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      // eslint-disable-next-line no-control-regex
      if (/1\/8 Workspace/.test(out.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, ''))) {
        stop();
        resolve(performance.now() - t0);
      }
    });
  });
}
