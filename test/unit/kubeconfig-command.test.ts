// `kcore-wizard kubeconfig [--merge]` with a temporary HOME: the path is printed; --merge adds our
// cluster, user and context beside the user's own entries (kubectl config get-contexts sees both), keeps
// the current context unless --use-context, replaces only our own entries on a rerun, writes 0600.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { ensurePki, pkiPaths } from '../../src/pki/index.js';
import { pkiInput } from '../../src/roles/pki/index.js';
import { adminKubeconfig, adminKubeconfigPath, writeSecretFile } from '../../src/roles/kubectl/index.js';
import { mergeKubeconfig } from '../../src/roles/kube-common/index.js';
import { defaultSpec, saveSpec } from '../../src/spec/index.js';
import { kubeconfigCommand } from '../../src/commands/kubeconfig.js';
import { parseCommandArgs } from '../../src/commands/args.js';
import { UsageError } from '../../src/spec/errors.js';

const exec = promisify(execFile);
let dir: string;
let ws: string;
let home: string;
const spec = defaultSpec({ name: 'demo' });

const OTHER = `apiVersion: v1
kind: Config
clusters:
  - name: work
    cluster: { server: https://work.example:6443, insecure-skip-tls-verify: true }
users:
  - name: me
    user: { token: abc }
contexts:
  - name: work
    context: { cluster: work, user: me, namespace: team }
current-context: work
preferences: {}
`;

async function contexts(file: string) {
  const r = await exec('kubectl', ['config', 'get-contexts', '--kubeconfig', file, '--no-headers']);
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .map((c) => (c[0] === '*' ? { current: true, name: c[1], cluster: c[2], user: c[3] } : { current: false, name: c[0], cluster: c[1], user: c[2] }));
}

/** The command as the CLI runs it (flags parsed strictly, usage errors exit 2 with their message). */
async function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  let stdout = '';
  let stderr = '';
  let code: number;
  try {
    const { values, positionals } = parseCommandArgs(kubeconfigCommand, ['--dir', ws, ...args]);
    code = await kubeconfigCommand.run({
      values: values as Record<string, string | boolean | string[] | undefined>,
      positionals,
      stdout: { write: (s: string) => (stdout += s) },
      stderr: { write: (s: string) => (stderr += s) },
      stdin: { isTTY: false },
      env: { PATH: process.env.PATH, HOME: home, ...env },
      cwd: dir,
      signal: new AbortController().signal,
    });
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    stderr += `kcore-wizard: ${e.message}\n`;
    code = e.exitCode;
  }
  return { code, stdout, stderr };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kcore-kubeconfig-cmd-'));
  ws = path.join(dir, 'ws');
  home = path.join(dir, 'home');
  await mkdir(ws);
  await mkdir(home);
  await saveSpec(ws, spec);
}, 60_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('kcore-wizard kubeconfig', () => {
  it('says how to get one before the cluster exists', async () => {
    const r = await cli([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no kubeconfig in .* yet: `kcore-wizard converge` writes it/);
  });

  it('prints the path of the workspace kubeconfig', async () => {
    await ensurePki(ws, pkiInput(spec));
    await writeSecretFile(adminKubeconfigPath(ws), await adminKubeconfig({ spec, pki: pkiPaths(ws) }));
    expect((await stat(adminKubeconfigPath(ws))).mode & 0o777).toBe(0o600);
    const r = await cli([]);
    expect(r).toMatchObject({ code: 0, stdout: `${adminKubeconfigPath(ws)}\n` });
  }, 60_000);

  it('--merge into a new ~/.kube/config: our context becomes current, mode 0600', async () => {
    const r = await cli(['--merge']);
    expect(r.code).toBe(0);
    const file = path.join(home, '.kube', 'config');
    expect(r.stdout).toContain('added cluster kcore-demo, user kcore-demo-admin, context kcore-demo');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await contexts(file)).toEqual([{ current: true, name: 'kcore-demo', cluster: 'kcore-demo', user: 'kcore-demo-admin' }]);
    await rm(path.join(home, '.kube'), { recursive: true });
  });

  it("--merge keeps the user's entries and current context; a rerun replaces only ours", async () => {
    const file = path.join(home, '.kube', 'config');
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, OTHER, { mode: 0o644 });
    let r = await cli(['--merge']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/current context unchanged \(work\); use it with: kubectl --context kcore-demo get nodes/);
    expect(await contexts(file)).toEqual([
      { current: false, name: 'kcore-demo', cluster: 'kcore-demo', user: 'kcore-demo-admin' },
      { current: true, name: 'work', cluster: 'work', user: 'me' },
    ]);
    const doc = YAML.parse(await readFile(file, 'utf8')) as { contexts: Array<{ name: string; context: Record<string, string> }>; users: Array<{ name: string; user: Record<string, string> }> };
    expect(doc.contexts.find((c) => c.name === 'work')!.context.namespace).toBe('team');
    expect(doc.users.find((u) => u.name === 'me')!.user.token).toBe('abc');
    expect((await stat(file)).mode & 0o777).toBe(0o600);

    r = await cli(['--merge']);
    expect(r.stdout).toContain('replaced cluster kcore-demo, user kcore-demo-admin, context kcore-demo');
    const again = YAML.parse(await readFile(file, 'utf8')) as { clusters: unknown[] };
    expect(again.clusters).toHaveLength(2);

    r = await cli(['--merge', '--use-context']);
    expect(r.stdout).toContain('current context: kcore-demo');
    expect((await contexts(file)).find((c) => c.current)!.name).toBe('kcore-demo');
  });

  it("--merge writes to $KUBECONFIG's first file", async () => {
    const a = path.join(dir, 'a.yaml');
    const b = path.join(dir, 'b.yaml');
    await writeFile(b, OTHER);
    const r = await cli(['--merge'], { KUBECONFIG: `${a}${path.delimiter}${b}` });
    expect(r.code).toBe(0);
    expect((await contexts(a)).map((c) => c.name)).toEqual(['kcore-demo']);
    expect(await readFile(b, 'utf8')).toBe(OTHER);
  });

  it('refuses to touch a kubeconfig it cannot parse', async () => {
    const bad = path.join(dir, 'bad.yaml');
    await writeFile(bad, 'clusters: {not: a list}\n');
    const r = await cli(['--merge'], { KUBECONFIG: bad });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/clusters is not a list: not changed/);
    expect(await readFile(bad, 'utf8')).toBe('clusters: {not: a list}\n');
  });

  it('mergeKubeconfig is pure: other entries byte-for-byte the same after a round trip', () => {
    const ours = YAML.stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'kcore-x', cluster: { server: 'https://1.2.3.4:6443' } }], users: [{ name: 'kcore-x-admin', user: {} }], contexts: [{ name: 'kcore-x', context: { cluster: 'kcore-x', user: 'kcore-x-admin' } }], 'current-context': 'kcore-x' });
    const m = mergeKubeconfig(OTHER, ours);
    const before = YAML.parse(OTHER) as Record<string, unknown[]>;
    const after = YAML.parse(m.text) as Record<string, unknown[]>;
    for (const k of ['clusters', 'users', 'contexts']) expect(after[k]![0]).toEqual(before[k]![0]);
    expect(after['current-context']).toBe('work');
    expect(m.added).toEqual(['cluster kcore-x', 'user kcore-x-admin', 'context kcore-x']);
  });
});
