import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

describe('cli', () => {
  it('--help lists the commands; --version prints the package version', async () => {
    const h = await runCli(['--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/^ +kcore-wizard <command> \[flags\]/m);
    expect(h.stdout).toMatch(/^ {2}wizard +Open the full-screen wizard/m);
    expect(h.stdout).toMatch(/^ {2}init +Write a cluster spec/m);
    expect(h.stdout).toMatch(/^ {2}render +Write the workspace files/m);
    const v = await runCli(['--version']);
    expect(v.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it('unknown commands and flags exit 2 with a clear message', async () => {
    expect(await runCli(['rnder'])).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown command "rnder" (did you mean render?)') });
    expect(await runCli(['--frobnicate'])).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown flag --frobnicate') });
    const r = await runCli(['init', '--etcdd', '3']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("init: Unknown option '--etcdd'");
    expect(r.stderr).toContain('kcore-wizard init --help');
  });

  it('init refuses bad values with the spec rule and writes nothing', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kcore-cli-'));
    const r = await runCli(['init', dir, '--workers', '12']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('groups.kube-worker.count: at most 9 Kubernetes worker machines fit the IP plan (10.0.0.1x1–1x9), got 12');
    expect((await runCli(['render', dir])).stderr).toContain('no cluster spec here');
    expect((await runCli(['init', dir, '--masters', 'two'])).stderr).toContain('--masters takes a whole number, got "two"');
    expect((await runCli(['init', dir, '--provider', 'vmware'])).stderr).toContain('--provider must be one of virtualbox, libvirt, lxc, existing');
  });

  it('init warns about an even etcd count, refuses to overwrite, and --force replaces', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kcore-cli-'));
    const r = await runCli(['init', dir, '--etcd', '2']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('warning: groups.etcd.count: 2 etcd members tolerate as many failures as 1');
    expect((await runCli(['init', dir])).code).toBe(2);
    expect((await runCli(['init', dir, '--force', '--etcd-version', 'v3.4.23'])).code).toBe(0);
    const j = await runCli(['render', '--config', path.join(dir, 'kcore.yaml'), '--output', 'json']);
    expect(JSON.parse(j.stdout)).toMatchObject({ workspace: dir, files: [{ path: 'Vagrantfile', changed: true }, { path: 'inventory.ini', changed: true }] });
  });

  it('a broken kcore.yaml is reported with file, line and field, exit 2', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kcore-cli-'));
    await runCli(['init', dir]);
    const file = path.join(dir, 'kcore.yaml');
    const { readFile } = await import('node:fs/promises');
    await writeFile(file, (await readFile(file, 'utf8')).replace('    cpus: 1\n  kube-master:', '    cpus: 1\n    disk: 10\n  kube-master:'));
    const r = await runCli(['render', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/kcore\.yaml:\d+:5: groups\.etcd\.disk: unknown field "disk"/);
  });
});

describe('bare command', () => {
  it('off a terminal the wizard refuses in one line naming the plain commands (exit 2)', async () => {
    const r = await runCli([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('kcore-wizard: the wizard needs a terminal; run `kcore-wizard init` then `kcore-wizard up --config kcore.yaml --yes` instead\n');
  });
});
