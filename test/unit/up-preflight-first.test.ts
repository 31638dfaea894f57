/**
 * `up` on a terminal: preflight first (render, then the checks that need no machine), shown, and the
 * "Create … machines?" question only once it passed; a failed preflight prints each problem once and
 * asks nothing. A fake `vagrant` on PATH (a shell script that logs its arguments) stands for the real
 * one; VirtualBox is absent on this machine, and a fake VBoxManage stands in when the test needs it.
 */
import { appendFileSync } from 'node:fs';
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseCommandArgs } from '../../src/commands/args.js';
import { upCommand } from '../../src/commands/up.js';
import { defaultSpec, saveSpec } from '../../src/spec/index.js';

let bin: string;
let log: string;

// The PKI keys up makes ahead while vagrant starts the machines: told in the fake vagrant's log, in order, and
// not made (seconds of RSA here for nothing).
const prefetchLog = vi.hoisted(() => ({ file: '' }));
vi.mock('../../src/pki/ensure.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../src/pki/ensure.js')>()),
  prefetchPkiKeys: async (workspace: string) => {
    appendFileSync(prefetchLog.file, `prefetch-pki-keys ${workspace}\n`);
    return 0;
  },
}));
const PATH = process.env.PATH;

const FAKE_VAGRANT = `#!/bin/sh
echo "$*" >> "$FAKE_VAGRANT_LOG"
case "$1" in
  --version) echo "Vagrant 2.4.3" ;;
  plugin) ;;
  box) printf '1700000000,,box-name,flatcar-stable\\n1700000000,,box-provider,virtualbox\\n1700000000,,box-version,4230.2.3\\n' ;;
  status) ;;
  *) echo "fake vagrant: $1 must not run in this test" >&2; exit 1 ;;
esac
`;

beforeEach(async () => {
  bin = await mkdtemp(path.join(tmpdir(), 'kcore-fakebin-'));
  log = path.join(bin, 'vagrant.log');
  prefetchLog.file = log;
  await writeFile(log, '');
  await writeFile(path.join(bin, 'vagrant'), FAKE_VAGRANT);
  await chmod(path.join(bin, 'vagrant'), 0o755);
});
afterEach(() => {
  process.env.PATH = PATH;
});

/** Run `up DIR` as on a terminal; `answer` is typed when (and only if) the question appears. */
async function upOnTerminal(dir: string, answer: string) {
  let out = '';
  let err = '';
  const stdin = Object.assign(new PassThrough(), { isTTY: true });
  let asked = 0;
  const stdout = Object.assign(new PassThrough(), { isTTY: true, columns: 120, rows: 40 });
  stdout.on('data', (b: Buffer) => {
    out += b.toString();
    if (/\[y\/N\] $/.test(out)) {
      asked++;
      stdin.write(`${answer}\n`);
    }
  });
  const { values, positionals } = parseCommandArgs(upCommand, [dir]);
  const env = { ...process.env, PATH: `${bin}:${PATH}`, FAKE_VAGRANT_LOG: log };
  const code = await upCommand.run({
    values: values as Record<string, string | boolean | undefined>,
    positionals,
    stdout: stdout as unknown as NodeJS.WriteStream,
    stderr: { write: (s: string) => ((err += s), true) },
    stdin: stdin as unknown as NodeJS.ReadStream,
    env,
    cwd: dir,
    signal: new AbortController().signal,
  });
  return { code, out, err, asked, vagrant: (await readFile(log, 'utf8')).trim().split('\n').filter(Boolean) };
}

async function workspace() {
  const dir = await mkdtemp(path.join(tmpdir(), 'kcore-up-'));
  const spec = defaultSpec({ provider: 'virtualbox' });
  spec.network.prefix = '10.251.7'; // nothing on this machine holds it
  await saveSpec(dir, spec);
  return dir;
}

const count = (s: string, sub: string) => s.split(sub).length - 1;

describe('up on a terminal: preflight before the question', () => {
  it('a failed preflight asks nothing, prints the provider problem once and exits 2', async () => {
    const dir = await workspace();
    const r = await upOnTerminal(dir, 'y');
    expect(r.asked).toBe(0);
    expect(r.out).not.toContain('[y/N]');
    expect(r.code).toBe(2);
    expect(count(r.out, 'VirtualBox is not installed (no VBoxManage on PATH)')).toBe(1);
    expect(count(r.out, 'install VirtualBox from https://www.virtualbox.org')).toBe(1);
    expect(r.out).toMatch(/this machine cannot create the cluster yet: 1 of \d+ preflight checks failed \(provider/);
    expect(r.vagrant).toContain('--version');
    expect(r.vagrant.some((a) => a.startsWith('up'))).toBe(false);
  });

  it('a passing preflight is shown, then asked; "n" creates nothing', async () => {
    await writeFile(path.join(bin, 'VBoxManage'), '#!/bin/sh\necho 7.1.6r167084\n');
    await chmod(path.join(bin, 'VBoxManage'), 0o755);
    process.env.PATH = `${bin}:${PATH}`; // preflight looks VBoxManage up on this process's PATH
    const dir = await workspace();
    const r = await upOnTerminal(dir, 'n');
    expect(r.asked).toBe(1);
    const q = r.out.indexOf('Create or start 4 virtualbox machines');
    expect(q).toBeGreaterThan(0);
    // Every check, before the question.
    for (const c of ['✓ vagrant: Vagrant 2.4.3', '✓ provider: VirtualBox 7.1.6r167084', '✓ box: flatcar-stable (virtualbox, 4230.2.3) is installed', '✓ network: 10.251.7.0/24 is free']) {
      expect(r.out.indexOf(c), c).toBeGreaterThanOrEqual(0);
      expect(r.out.indexOf(c), c).toBeLessThan(q);
    }
    expect(r.code).toBe(1);
    expect(r.err).toContain('nothing done');
    expect(r.vagrant.some((a) => a.startsWith('up'))).toBe(false);
    // Declined: no PKI keys made ahead either.
    expect(r.vagrant.some((a) => a.startsWith('prefetch-pki-keys'))).toBe(false);
  });

  it('"y": the PKI keys converge will need are started as vagrant starts the machines, not after', async () => {
    await writeFile(path.join(bin, 'VBoxManage'), '#!/bin/sh\necho 7.1.6r167084\n');
    await chmod(path.join(bin, 'VBoxManage'), 0o755);
    process.env.PATH = `${bin}:${PATH}`;
    const dir = await workspace();
    // The fake vagrant refuses `up` (the machines cannot start here): up stops in vagrant-up, before converge.
    const r = await upOnTerminal(dir, 'y');
    expect(r.asked).toBe(1);
    expect(r.code).not.toBe(0);
    const prefetch = r.vagrant.indexOf(`prefetch-pki-keys ${dir}`);
    const up = r.vagrant.findIndex((a) => a.startsWith('up'));
    expect({ prefetch: prefetch >= 0, up: up >= 0, before: prefetch < up }).toEqual({ prefetch: true, up: true, before: true });
  });
});
