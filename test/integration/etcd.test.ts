// The etcd role on real systemd machines (systemd-nspawn): a 3-member TLS cluster under systemd from a
// local artifact mirror (Debian's etcd in the official release layout), its smoke tests, Molecule-style
// idempotence, a plan after a spec change, and a failing smoke test when a member is stopped.
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestHosts } from '../hosts/index.js';
import { ETCD_HOSTS, startEtcdTestCluster } from '../support/etcd-cluster.js';
import { runCli } from '../support/cli.js';

const ETCD = ETCD_HOSTS;

let hosts: TestHosts;
let ws: string;

beforeAll(async () => {
  ({ hosts, ws } = await startEtcdTestCluster());
});

afterAll(async () => {
  await hosts?.teardown();
});

const cli = (...args: string[]) => runCli([...args, '--dir', ws]);

describe('etcd role on 3 systemd hosts', () => {
  it('converge brings up a 3-member etcd cluster with TLS under systemd', async () => {
    const r = await cli('converge', '--limit', 'etcd');
    if (r.code !== 0) console.log(r.stdout, r.stderr);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/== etcd \[etcd-01, etcd-02, etcd-03\]/);
    for (const h of ETCD) {
      const x = await hosts.exec(h.name, 'systemctl is-active etcd; systemctl is-enabled etcd; stat -c "%a %U" /etc/etcd/pki/server.key /var/lib/etcd');
      expect(x.stdout).toBe('active\nenabled\n600 etcd\n700 etcd\n');
    }
    // Real TLS from this machine: a member answers with the client certificate, and refuses without.
    const pki = path.join(ws, 'pki', 'etcd');
    const ip = `${hosts.prefix}.102`;
    const args = [`--endpoints=https://${ip}:2379`, `--cacert=${pki}/ca.crt`, '--dial-timeout=3s', '--command-timeout=5s'];
    const list = execFileSync('etcdctl', [...args, `--cert=${pki}/kcore-etcd-client.crt`, `--key=${pki}/kcore-etcd-client.key`, 'member', 'list'], { encoding: 'utf8', env: { ...process.env, ETCDCTL_API: '3' } });
    for (const h of ETCD) expect(list).toContain(`${h.name}, https://${hosts.prefix}.${h.octet}:2380`);
    expect(() => execFileSync('etcdctl', [...args, 'get', 'x'], { stdio: 'pipe', env: { ...process.env, ETCDCTL_API: '3' } })).toThrow();
  });

  it('`test` passes with a per-host table', async () => {
    const r = await cli('test', '--limit', 'etcd');
    if (r.code !== 0) console.log(r.stdout);
    expect(r.code).toBe(0);
    for (const h of ETCD) {
      for (const t of ['etcd: member healthy over TLS', 'etcd: member list equals the spec', 'etcd: put/get round trip', 'etcd: a client without a certificate is refused'])
        expect(r.stdout).toMatch(new RegExp(`${h.name} +${t.replace(/[/]/g, '\\/')} +pass`));
    }
    expect(r.stdout).toMatch(/local +no certificate has expired +pass/);
    // 4 etcd tests and the bootstrap facts check on each of 3 hosts, and the PKI's own check.
    expect(r.stdout).toMatch(/smoke: 16 passed, 0 failed/);
  });

  it('a second converge reports 0 changed (idempotence) and is quick: one batched exec per host for the bootstrap and etcd roles', async () => {
    const logFile = (h: string) => path.join(ws, '.kcore', 'logs', `${h}.log`);
    const before = new Map<string, number>();
    for (const h of ETCD) before.set(h.name, (await readFile(logFile(h.name), 'utf8')).length);
    const t0 = Date.now();
    const r = await cli('converge', '--limit', 'etcd', '--quiet');
    const ms = Date.now() - t0;
    console.log(`no-op converge of 3 etcd hosts (with smoke tests): ${ms} ms`);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('converged: 0 changed');
    expect(r.stdout).not.toMatch(/\bchanged +\S/);
    for (const h of ETCD) expect(r.stdout).toMatch(new RegExp(`${h.name} +ok +ok=\\d+ changed=0 failed=0`));
    // The command log has one entry per exec ("<time> [sudo] exit=N Dms: <command>").
    for (const h of ETCD) {
      const entries = (await readFile(logFile(h.name), 'utf8')).slice(before.get(h.name)).split(/\n(?=\d{4}-\d\d-\d\dT)/).filter((l) => / (\[sudo\] )?exit=\S+ \d+ms: /.test(l));
      // One batch per host for the whole run: the bootstrap's facts (the sudo check rides in them) and, read ahead,
      // the etcd role's user, directories, files, service and the four smoke tests (runner.ts).
      expect(entries, entries.join('\n')).toHaveLength(1);
      const etcd = entries;
      expect(etcd[0]).toContain('if [ -r /etc/os-release ]');
      for (const part of ['id -u etcd', '/etc/etcd/pki/server.key', 'systemctl is-enabled etcd', '/v3/kv/range', '/v3/cluster/member/list', '/v3/kv/put', '/v3/kv/deleterange', '--tls-max 1.2'])
        expect(etcd[0]).toContain(part);
      // The four smoke tests share one command, run once: one curl process (one TLS connection, one without a certificate).
      expect(etcd[0]!.split('/v3/kv/put').length - 1, etcd[0]).toBe(1);
      expect(etcd[0]!.match(/then echo curl; curl /g), etcd[0]).toHaveLength(1);
      expect(etcd[0]).toMatch(/ \[sudo\] exit=0 /);
      console.log(`${h.name}: ${entries.length} exec in a no-op converge (bootstrap and etcd roles)`);
    }
    // `test`: the facts and the four smoke tests, one exec per host too.
    for (const h of ETCD) before.set(h.name, (await readFile(logFile(h.name), 'utf8')).length);
    const t = await cli('test', '--limit', 'etcd');
    expect(t.code, t.stdout).toBe(0);
    for (const h of ETCD) {
      const entries = (await readFile(logFile(h.name), 'utf8')).slice(before.get(h.name)).split(/\n(?=\d{4}-\d\d-\d\dT)/).filter((l) => / (\[sudo\] )?exit=\S+ \d+ms: /.test(l));
      expect(entries, entries.join('\n')).toHaveLength(1);
      expect(entries[0]).toContain('if [ -r /etc/os-release ]');
      expect(entries[0]).toContain('/v3/kv/deleterange');
    }
  });

  it('a binary changed on the host behind its stamp is still seen: same size, same mtime, and plan says it differs', async () => {
    // The no-op converges above stamped the binaries on each host (engine/ops.ts stampedDigestScript).
    const stamps = await hosts.exec('etcd-02', "ls /var/lib/kcore-wizard/sha256/; stat -c '%a' /var/lib/kcore-wizard/sha256");
    expect(stamps.stdout).toBe('%opt%bin%etcd\n%opt%bin%etcdctl\n700\n');
    // Overwrite one byte in place and put the mtime back: only the ctime tells (it cannot be set back).
    const w = await hosts.exec('etcd-02', "f=/opt/bin/etcdctl; t=$(stat -c '%y' $f); printf 'X' | dd of=$f bs=1 seek=100 conv=notrunc status=none && touch -d \"$t\" $f && stat -c '%y' $f | grep -qxF \"$t\" && echo ok");
    expect(w.stdout.trim(), w.stderr).toBe('ok');
    const r = await cli('plan', '--limit', 'etcd');
    expect(r.code).toBe(0);
    const plan = r.stdout.slice(r.stdout.indexOf('== plan'));
    expect(plan).toContain('   etcd-02: 1 change\n     - update /opt/bin/etcdctl (content differs)\n');
    expect(plan.match(/: \d+ changes?/g)).toHaveLength(1);
    // converge puts the release's etcdctl back; the next plan is empty again.
    expect((await cli('converge', '--limit', 'etcd', '--quiet')).code).toBe(0);
    expect((await cli('plan', '--limit', 'etcd')).stdout).not.toMatch(/: \d+ changes?/);
  });

  it('plan after a spec change lists exactly the files that would change', async () => {
    const file = path.join(ws, 'kcore.yaml');
    const original = await readFile(file, 'utf8');
    await writeFile(file, original.replace(/^name: test$/m, 'name: renamed'));
    try {
      const r = await cli('plan', '--limit', 'etcd');
      expect(r.code).toBe(0);
      const plan = r.stdout.slice(r.stdout.indexOf('== plan'));
      for (const h of ETCD)
        expect(plan).toContain(
          `   ${h.name}: 2 changes\n     - update /etc/systemd/system/etcd.service (content differs)\n     - update /etc/systemd/system/etcd.service.d/10-kcore.conf (content differs)\n`,
        );
      expect(plan.match(/: \d+ changes?/g)).toHaveLength(3);
      // Nothing was changed by the plan.
      expect((await hosts.exec('etcd-01', 'grep -c "cluster test" /etc/systemd/system/etcd.service')).stdout.trim()).toBe('1');
    } finally {
      await writeFile(file, original);
    }
  });

  it('stopping etcd on one host makes `test` fail for that host with a message that says what is wrong; a converge starts it again', async () => {
    await hosts.exec('etcd-02', 'systemctl stop etcd');
    let restored = false;
    try {
      const r = await cli('test', '--limit', 'etcd');
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/etcd-02 +etcd: member healthy over TLS +FAIL: etcd on etcd-02 is not healthy \(service inactive\)/);
      expect(r.stdout).toMatch(/etcd-01 +etcd: member healthy over TLS +pass/);
      expect(r.stdout).toMatch(/etcd-03 +etcd: put\/get round trip +pass/);
      expect(r.stdout).toContain('sudo systemctl start etcd (on etcd-02)');
      // The converge, not the test, brings it back: only the service task on etcd-02 changes.
      const c = await cli('converge', '--limit', 'etcd-02');
      expect(c.code).toBe(0);
      expect(c.stdout).toContain('start etcd (is inactive)');
      expect(c.stdout).toMatch(/etcd-02 +changed +ok=\d+ changed=1 failed=0/);
      expect((await hosts.exec('etcd-02', 'systemctl is-active etcd')).stdout.trim()).toBe('active');
      restored = true;
    } finally {
      // Only when the converge did not: later tests need a healthy cluster.
      if (!restored) await hosts.exec('etcd-02', 'systemctl start etcd');
    }
    const again = await cli('test', '--limit', 'etcd');
    expect(again.code).toBe(0);
  });
});
