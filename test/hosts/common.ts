// The steps every kind of test host shares: checking options, opening a run (workdir + recorded
// state), the client key, waiting for sshd, and handing the finished TestHosts to the test.
import { randomBytes } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { isAlive, ownerIdentity, procStart, reapStale, track, type RunState } from './cleanup.js';
import { checkNames, defaultNames, generateKey, makePassword, sshConfig, writeFile, type HostPlan } from './config.js';
import { makeHandle } from './handle.js';
import { waitForTcp } from './net.js';
import { canRunHosts } from './preflight.js';
import type { CommonHostOptions, TestHost, TestHosts } from './types.js';

export interface OpenRun {
  state: RunState;
  names: string[];
  user: string;
}

/** Validates options, checks the machine, reaps leftovers of killed runs, and opens a tracked run. */
export async function openRun(opts: CommonHostOptions, needs: { systemd: boolean }): Promise<OpenRun> {
  const pre = await canRunHosts(needs);
  if (!pre.ok) throw new Error(`cannot run test hosts: ${pre.reason}`);
  if (!Number.isInteger(opts.count) || opts.count < 1 || opts.count > 250) throw new Error(`count must be 1..250, got ${opts.count}`);
  const names = opts.names ?? defaultNames(opts.count);
  if (names.length !== opts.count) throw new Error(`names has ${names.length} entries for count ${opts.count}`);
  checkNames(names);
  const user = opts.user ?? 'kcore';
  if (!/^[a-z_][a-z0-9_-]{0,30}$/.test(user) || user === 'root') throw new Error(`invalid login user "${user}" (and never root)`);
  reapStale();
  const workdir = await fsp.mkdtemp('/tmp/kcore-hosts-');
  const state: RunState = { id: randomBytes(3).toString('hex'), owner: ownerIdentity(), workdir, netns: [], veths: [], procs: [], mounts: [] };
  track(state);
  return { state, names, user };
}

export interface ClientSide {
  identityFile: string;
  publicKey: string;
  password: string;
  passwordHash: string;
}

/** The key every host accepts for the login user, and the user's password. */
export async function clientSide(state: RunState, user: string): Promise<ClientSide> {
  const identityFile = path.join(state.workdir, 'id_ed25519');
  const publicKey = await generateKey(identityFile, `${user}@kcore-test-hosts`);
  const { password, hash } = await makePassword();
  return { identityFile, publicKey, password, passwordHash: hash };
}

/**
 * Waits (until `deadline`, ms since epoch) for every host's sshd to accept TCP connections.
 * On failure the error carries `diagnose(host)` for each host that did not come up.
 */
export async function waitForSshd(hosts: readonly TestHost[], deadline: number, diagnose: (h: TestHost) => Promise<string>): Promise<void> {
  const results = await Promise.all(
    hosts.map(async (h) => {
      const start = procStart(h.pid) ?? '';
      return { h, ok: await waitForTcp(h.ip, h.port, deadline, () => isAlive({ pid: h.pid, start })) };
    }),
  );
  const failed = results.filter((r) => !r.ok).map((r) => r.h);
  if (failed.length === 0) return;
  const details = await Promise.all(failed.map(async (h) => `--- ${h.name} (${h.ip}):\n${await diagnose(h)}`));
  throw new Error(`${failed.length} of ${hosts.length} test hosts did not answer on port 22 in time\n${details.join('\n')}`);
}

/** Writes the client-side files (ssh config, known_hosts) and returns the TestHosts handle. */
export async function finishRun(
  state: RunState,
  parts: { plan: readonly HostPlan[]; hosts: TestHost[]; user: string; client: ClientSide; knownHostsLines: string[]; prefix: string },
): Promise<TestHosts> {
  const sshConfigPath = path.join(state.workdir, 'ssh_config');
  await writeFile(sshConfigPath, sshConfig(parts.plan, parts.user, parts.client.identityFile), 0o644);
  const knownHostsPath = path.join(state.workdir, 'known_hosts');
  await writeFile(knownHostsPath, `${parts.knownHostsLines.join('\n')}\n`, 0o644);
  return makeHandle(state, {
    id: state.id,
    hosts: parts.hosts,
    user: parts.user,
    password: parts.client.password,
    identityFile: parts.client.identityFile,
    knownHostsLines: parts.knownHostsLines,
    knownHostsPath,
    prefix: parts.prefix,
    bridge: state.bridge ?? '',
    sshConfigPath,
    workdir: state.workdir,
  });
}

/** A start that failed halfway leaves nothing behind; the original error is what the test sees. */
export async function abortRun(state: RunState, err: unknown): Promise<never> {
  const empty = { id: state.id, hosts: [], user: '', password: '', identityFile: '', knownHostsLines: [], knownHostsPath: '', prefix: '', bridge: '', sshConfigPath: '', workdir: state.workdir };
  await makeHandle(state, empty)
    .teardown()
    .catch(() => undefined);
  throw err;
}
