// The TestHosts object handed to tests: lookup, exec() through the host's namespaces, teardown().
import { execa } from 'execa';
import { teardown as teardownState, untrack, type RunState } from './cleanup.js';
import type { ExecOptions, ExecResult, TestHost, TestHosts } from './types.js';

/** A clean environment for commands run inside a host: nothing of the test process leaks in. */
const HOST_ENV = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/root', 'LANG=C.UTF-8', 'TERM=dumb'];

/**
 * Namespaces that nsenter joins: a light host has its own network, mount and UTS namespaces; a
 * systemd machine also has its own PID, IPC and cgroup namespaces.
 */
const NSENTER_FLAGS: Record<TestHost['kind'], string[]> = {
  light: ['--net', '--mount', '--uts'],
  systemd: ['--net', '--mount', '--uts', '--ipc', '--pid', '--cgroup'],
};

export async function execIn(host: TestHost, command: string, opts: ExecOptions = {}): Promise<ExecResult> {
  const timeout = opts.timeoutMs ?? 120_000;
  const r = await execa(
    'nsenter',
    ['--target', String(host.pid), ...NSENTER_FLAGS[host.kind], '--', 'env', '-i', ...HOST_ENV, '/bin/sh', '-c', command],
    { reject: false, input: opts.input ?? '', timeout, extendEnv: false, env: {}, stripFinalNewline: false },
  );
  if (r.timedOut) throw new Error(`exec on ${host.name} timed out after ${timeout} ms: ${command}`);
  if (r.exitCode === undefined) throw new Error(`exec on ${host.name} could not run: ${r.message}`);
  return { stdout: String(r.stdout), stderr: String(r.stderr), exitCode: r.exitCode };
}

export function makeHandle(
  state: RunState,
  fields: Omit<TestHosts, 'host' | 'exec' | 'teardown'>,
): TestHosts {
  let done: Promise<void> | undefined;
  const byName = new Map(fields.hosts.map((h) => [h.name, h]));
  const host = (name: string): TestHost => {
    const h = byName.get(name);
    if (!h) throw new Error(`no test host named "${name}" (have: ${[...byName.keys()].join(', ')})`);
    return h;
  };
  return {
    ...fields,
    host,
    exec: (h, command, opts) => execIn(typeof h === 'string' ? host(h) : h, command, opts),
    teardown: () => {
      // Idempotent, and safe to call concurrently: every caller waits for the one teardown.
      done ??= (async () => {
        const problems = await teardownState(state);
        untrack(state);
        if (problems.length > 0) throw new Error(`test hosts teardown incomplete: ${problems.join('; ')}`);
      })();
      return done;
    },
  };
}
