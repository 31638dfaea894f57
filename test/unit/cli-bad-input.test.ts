// Bad input of every kind is refused the same way: exit 2, a message naming the file and what to do,
// never a stack trace, exit 1 or a hang. docs/bad-input.md lists these cases.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rmdir, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

let dir: string;
let spec: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'kcore-bad-'));
  spec = path.join(dir, 'kcore.yaml');
});

const noTrace = (s: string) => expect(s).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n/);

describe('kcore.yaml that is not a readable text file', () => {
  it('a folder', async () => {
    await mkdir(spec);
    const r = await runCli(['render', dir]);
    expect(r).toMatchObject({ code: 2, stderr: `kcore-wizard: ${spec}: is a folder, not a file: the cluster spec (kcore.yaml) must be a regular file\n` });
  });

  it('a symbolic link loop', async () => {
    await symlink(spec, spec);
    const r = await runCli(['render', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${spec}: is a symbolic link that points back to itself (a loop)`);
  });

  it('a link to /dev/zero (used to die with "Invalid string length")', async () => {
    await symlink('/dev/zero', spec);
    const r = await runCli(['render', dir]);
    expect(r).toMatchObject({ code: 2, stderr: expect.stringContaining(`${spec}: is not a regular file (a character device)`) });
  });

  it('a FIFO: refused at once instead of waiting forever for a writer', async () => {
    expect(spawnSync('mkfifo', [spec]).status).toBe(0);
    const t0 = Date.now();
    const r = await runCli(['render', dir]);
    expect(r).toMatchObject({ code: 2, stderr: expect.stringContaining(`${spec}: is not a regular file (a named pipe)`) });
    expect(Date.now() - t0).toBeLessThan(2000);
  }, 5000);

  it('too big, or binary: named, not dumped', async () => {
    await writeFile(spec, 'name: x\n'.repeat(200_000));
    const big = await runCli(['render', dir]);
    expect(big).toMatchObject({ code: 2, stderr: expect.stringContaining(`${spec}: is 1600000 bytes, more than the 1048576 bytes`) });
    await writeFile(spec, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0, 1, 2, 3, 0xff, 0xfe]));
    const bin = await runCli(['render', dir]);
    expect(bin).toMatchObject({ code: 2, stderr: `kcore-wizard: ${spec}: holds binary data (NUL bytes), not text: is it the right file?\n` });
  });
});

describe('workspace arguments', () => {
  it('the file given as DIR (`render kcore.yaml`) says what to type instead', async () => {
    expect((await runCli(['init', dir])).code).toBe(0);
    const r = await runCli(['render', 'kcore.yaml'], { cwd: dir });
    expect(r).toMatchObject({ code: 2, stderr: 'kcore-wizard: kcore.yaml is a file, not a folder: give its folder (.) or --config kcore.yaml\n' });
  });

  it('an extra positional argument is refused, not ignored', async () => {
    const r = await runCli(['init', dir, 'extra']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`one workspace folder at most, got 2 arguments: "${dir}" "extra"`);
    expect(existsSync(spec)).toBe(false);
  });

  it('a repeated flag is refused instead of silently keeping the last', async () => {
    const r = await runCli(['init', dir, '--workers', '3', '--workers', '5']);
    expect(r).toMatchObject({ code: 2, stderr: expect.stringContaining('init: --workers is given twice (3 and 5): give it once') });
    expect(existsSync(spec)).toBe(false);
  });

  it('an unwritable place for the workspace: exit 2 naming the file (a file where a folder should be)', async () => {
    await writeFile(path.join(dir, 'blocker'), '');
    const r = await runCli(['init', path.join(dir, 'blocker', 'ws')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`cannot write ${path.join(dir, 'blocker', 'ws', 'kcore.yaml')}: a part of`);
    noTrace(r.stderr);
  });
});

describe('run flags (plan, converge, test)', () => {
  beforeEach(async () => {
    expect((await runCli(['init', dir])).code).toBe(0);
  });

  it('an unknown --tags or --skip-tags is refused as --limit is, with a suggestion', async () => {
    const r = await runCli(['plan', dir, '--tags', 'etcdd']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--tags etcdd: no such tag or role (did you mean etcd?)');
    expect((await runCli(['converge', dir, '--skip-tags', 'nope'])).stderr).toContain('--skip-tags nope: no such tag or role');
  });

  it('a missing --artifacts folder is refused before anything runs', async () => {
    const r = await runCli(['plan', dir, '--artifacts', './no-such-mirror'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--artifacts ./no-such-mirror: no such folder (${path.join(dir, 'no-such-mirror')})`);
  });

  it('ssh.config that is a folder', async () => {
    await mkdir(path.join(dir, 'ssh.config'));
    const r = await runCli(['plan', dir]);
    expect(r).toMatchObject({ code: 2, stderr: expect.stringContaining(`${path.join(dir, 'ssh.config')}: is a folder, not a file`) });
  });

  it('a broken ssh.config names its file and line instead of connecting to <name>:22', async () => {
    const cfg = path.join(dir, 'ssh.config');
    await writeFile(cfg, 'Host etcd-01\n  HostName 10.0.0.101\n  Port\n');
    const r = await runCli(['plan', dir]);
    expect(r).toMatchObject({ code: 2, stderr: expect.stringContaining(`${cfg}:3: cannot read "Port"`) });
    await writeFile(cfg, 'Host etcd-01\n  HostName 10.0.0.101\n');
    const missing = await runCli(['plan', dir]);
    expect(missing).toMatchObject({ code: 2, stderr: expect.stringContaining(`${cfg} has no \`Host\` entry for kube-master-01, kube-worker-01, kube-worker-02`) });
  });
});

describe('output into a closed pipe', () => {
  it('`kcore-wizard --help | head -0`: exits quietly, no EPIPE trace', async () => {
    const child = spawn(path.resolve('node_modules/.bin/vite-node'), ['test/support/cli-main.ts', '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy(); // the reader is gone before the CLI writes its first byte
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  }, 30_000);
});

it('the spec on disk is untouched by every refusal above', async () => {
  expect((await runCli(['init', dir])).code).toBe(0);
  const before = await readFile(spec, 'utf8');
  await runCli(['init', dir, '--workers', '3', '--workers', '4', '--force']);
  expect(await readFile(spec, 'utf8')).toBe(before);
});

describe('absurd sizes', () => {
  it('999999 MB per worker or 1e12 MB in kcore.yaml are refused with the unit named', async () => {
    const r = await runCli(['init', dir, '--worker-memory', '999999']);
    expect(r).toMatchObject({ code: 2, stderr: expect.stringContaining('groups.kube-worker.memory: at most 262144 MB (256 GB) per machine: memory is in megabytes (2048 is 2 GB)') });
    expect(existsSync(spec)).toBe(false);
    expect((await runCli(['init', dir])).code).toBe(0);
    await writeFile(spec, (await readFile(spec, 'utf8')).replace(/(kube-master:\n\s+count: 1\n\s+memory: )\d+/, '$11e12'));
    const y = await runCli(['render', dir]);
    expect(y.code).toBe(2);
    expect(y.stderr).toMatch(/kcore\.yaml:\d+:\d+: groups\.kube-master\.memory: at most 262144 MB/);
    expect((await runCli(['init', dir, '--force', '--etcd-cpus', '4096'])).stderr).toContain('groups.etcd.cpus: at most 128 CPUs per machine');
  });
});

describe('kcore.yaml messages', () => {
  const edit = async (f: (t: string) => string) => {
    expect((await runCli(['init', dir])).code).toBe(0);
    await writeFile(spec, f(await readFile(spec, 'utf8')));
    return runCli(['render', dir]);
  };

  it('a second YAML document is named as such (not "please use YAML.parseAllDocuments()")', async () => {
    const r = await edit((t) => `${t}---\nname: other\n`);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/kcore\.yaml:\d+:1: more than one YAML document \(a `---` line starts a second one\): keep one cluster spec per file\n$/);
  });

  it('an unquoted `prefix: 10.0` says to quote it', async () => {
    const r = await edit((t) => t.replace('prefix: 10.0.0', 'prefix: 10.0'));
    expect(r.stderr).toMatch(/kcore\.yaml:\d+:\d+: network\.prefix: expected text, got number 10: YAML reads it as a number; put the value in quotes\n$/);
  });

  it('a 64-character name mentions the length', async () => {
    const r = await edit((t) => t.replace(/^name: .*$/m, `name: ${'a'.repeat(64)}`));
    expect(r.stderr).toContain('name: expected a lower-case DNS label (letters, digits, "-"): at most 63 characters, got 64');
  });

  it('a short kcore.yaml gives one line that says to run init, not a line per section', async () => {
    const r = await edit(() => 'apiVersion: kcore-wizard/v1\nname: short\n');
    expect(r).toMatchObject({ code: 2 });
    expect(r.stderr).toBe(
      `kcore-wizard: ${spec}:1: 8 sections are missing (provider, box, ssh, groups, network, versions, artifacts, addons): run \`kcore-wizard init --force\` in this folder to write a complete spec (with every default), then edit it\n`,
    );
  });
});

describe('small wording', () => {
  it('init counts in the plural: "1 master, 2 workers"', async () => {
    const r = await runCli(['init', dir, '--masters', '2', '--workers', '1']);
    expect(r.stdout).toContain('1 etcd, 2 masters, 1 worker (provider virtualbox)');
    expect((await runCli(['init', dir, '--force'])).stdout).toContain('1 etcd, 1 master, 2 workers (provider');
  });

  it('render says "created" for a file it just wrote, "changed" for one it rewrote', async () => {
    expect((await runCli(['init', dir])).code).toBe(0);
    const first = await runCli(['render', dir]);
    expect(first.stdout).toMatch(/^created +.*Vagrantfile\ncreated +.*inventory\.ini\n$/);
    await writeFile(path.join(dir, 'inventory.ini'), 'edited\n');
    const second = await runCli(['render', dir, '--output', 'json']);
    expect(JSON.parse(second.stdout).files).toEqual([
      { path: 'Vagrantfile', changed: false, created: false },
      { path: 'inventory.ini', changed: true, created: false },
    ]);
  });

  it('with --output json an error reaches stderr as one JSON line', async () => {
    const r = await runCli(['plan', dir, '--output', 'json']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const line = JSON.parse(r.stderr) as { type: string; exitCode: number; message: string };
    expect(line).toMatchObject({ type: 'error', exitCode: 2, message: expect.stringContaining('no cluster spec here') });
    const flagError = await runCli(['render', dir, '-o', 'json', '--bogus']);
    expect(JSON.parse(flagError.stderr)).toMatchObject({ type: 'error', exitCode: 2, message: expect.stringContaining("Unknown option '--bogus'") });
  });
});

describe('permissions (run as an unprivileged user: root reads and writes anything)', () => {
  // setpriv (util-linux) drops to nobody for one CLI process run from source.
  const asNobody = (args: string[]) =>
    spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', path.resolve('node_modules/.bin/vite-node'), 'test/support/cli-main.ts', ...args], {
      encoding: 'utf8',
      env: { ...process.env, HOME: tmpdir() },
      timeout: 60_000,
    });
  beforeEach(async () => {
    await chmod(dir, 0o755);
    expect((await runCli(['init', dir])).code).toBe(0);
  });

  it('an unreadable kcore.yaml, and one in an unreadable folder', async () => {
    await chmod(spec, 0o600);
    const r = asNobody(['render', dir]);
    expect(r.error).toBeUndefined();
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 2, stderr: `kcore-wizard: ${spec}: cannot be read (permission denied): check the permissions of the file and its folders\n` });
    await chmod(spec, 0o644);
    await chmod(dir, 0o700);
    const f = asNobody(['render', dir]);
    expect({ status: f.status, stderr: f.stderr }).toEqual({ status: 2, stderr: `kcore-wizard: ${spec}: cannot be read (permission denied): check the permissions of the file and its folders\n` });
  }, 120_000);

  it('an unwritable workspace: exit 2 naming the file and the folder', async () => {
    const r = asNobody(['render', dir]);
    expect({ status: r.status, stderr: r.stderr }).toEqual({
      status: 2,
      stderr: `kcore-wizard: cannot write ${path.join(dir, 'Vagrantfile')}: permission denied; make ${dir} writable for you, or use another workspace folder\n`,
    });
  }, 60_000);
});

describe('kubeconfig files', () => {
  it("a folder in place of the workspace kubeconfig, a FIFO as $KUBECONFIG: exit 2, no crash, no hang", async () => {
    expect((await runCli(['init', dir])).code).toBe(0);
    const ours = path.join(dir, 'kubeconfig');
    await mkdir(ours);
    const r = await runCli(['kubeconfig', dir]);
    expect(r).toMatchObject({ code: 2, stderr: `kcore-wizard: ${ours}: is a folder, not a file: a kubeconfig must be a regular file\n` });
    await rmdir(ours);
    await writeFile(ours, 'apiVersion: v1\nkind: Config\n');
    const fifo = path.join(dir, 'user-kubeconfig');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const m = await runCli(['kubeconfig', dir, '--merge'], { env: { ...process.env, KUBECONFIG: fifo } });
    expect(m).toMatchObject({ code: 2, stderr: `kcore-wizard: ${fifo}: is not a regular file (a named pipe): a kubeconfig must be a regular file\n` });
  }, 5000);
});

describe('destroy and -v', () => {
  it('destroy with no machine up does not claim it would destroy 4', async () => {
    expect((await runCli(['init', dir])).code).toBe(0);
    const r = await runCli(['destroy', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`kcore-wizard: destroy would forget cluster "kcore" in ${dir} (no machine of it is up: no .vagrant/ nor ssh.config): pass --yes to confirm (no terminal to ask on)\n`);
  });

  it('-v prints the version like -V and --version', async () => {
    const v = await runCli(['-v']);
    expect(v).toMatchObject({ code: 0, stdout: (await runCli(['--version'])).stdout });
  });
});
