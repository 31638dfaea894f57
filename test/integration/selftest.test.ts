// `kcore-wizard selftest` (the seed's Molecule sequence) on real systemd machines, provider `existing`,
// limited to etcd as test/integration/etcd.test.ts is (no Kubernetes binaries can be had here): every
// step passes on a healthy run; a file changed on a host between the converge and the idempotence
// step fails idempotence (exit 14) listing what a second converge would change; etcd stopped after
// the idempotence step fails verify (exit 15). The changes are made the moment the step before ends,
// from the command's own output, through the machine's root (/proc/<pid>/root) and its namespaces.
import { execFileSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli.js';
import { canRunHosts, startSystemdHosts, type TestHosts } from '../hosts/index.js';
import { layoutHosts, specForHosts, workspaceFor } from '../support/cluster.js';
import { buildLocalEtcdMirror } from '../support/mirror.js';

const LAYOUT = { etcd: 1, 'kube-master': 1, 'kube-worker': 1 };
const ETCD = layoutHosts(LAYOUT).filter((h) => h.group === 'etcd');
const DROPIN = '/etc/systemd/system/etcd.service.d/10-kcore.conf';

let hosts: TestHosts;
let ws: string;

beforeAll(async () => {
  const can = await canRunHosts({ systemd: true });
  if (!can.ok) throw new Error(`real test hosts cannot run here: ${can.reason}`);
  const mirror = await buildLocalEtcdMirror();
  hosts = await startSystemdHosts({ count: ETCD.length, names: ETCD.map((h) => h.name), ips: ETCD.map((h) => h.octet) });
  ws = await workspaceFor(
    specForHosts(hosts, LAYOUT, (s) => {
      s.versions.etcd = mirror.etcdVersion;
      s.artifacts.source = mirror.dir;
    }),
  );
});

afterAll(async () => {
  await hosts?.teardown();
});

/** selftest in-process; `on(line)` runs synchronously as each output chunk is written, between steps. */
async function selftest(args: string[], on?: (chunk: string) => void) {
  let stdout = '';
  let stderr = '';
  const code = await main(['selftest', ws, '--limit', 'etcd', ...args], {
    stdout: { write: (s: string) => ((stdout += s), on?.(s), true), isTTY: false },
    stderr: { write: (s: string) => ((stderr += s), true) },
    stdin: { isTTY: false },
    cwd: ws,
    env: { ...process.env },
  });
  return { code, stdout, stderr };
}

const inMachine = (name: string, ...cmd: string[]) =>
  execFileSync('nsenter', ['-t', String(hosts.host(name).pid), '-m', '-u', '-i', '-n', '-p', ...cmd], { encoding: 'utf8', timeout: 60_000 });

describe('selftest on systemd machines (provider existing, --limit etcd)', () => {
  it('runs create → syntax → converge → idempotence → verify → destroy, each step shown; exit 0', async () => {
    const r = await selftest([]);
    if (r.code !== 0) console.log(r.stdout, r.stderr);
    expect(r.code).toBe(0);
    const summary = r.stdout.slice(r.stdout.lastIndexOf('== selftest'));
    expect(summary).toMatch(/1 create +skipped +provider existing: the machines listed in kcore\.yaml are used as they are/);
    expect(summary).toMatch(/2 syntax +passed +rendered inventory\.ini, systemd-analyze verify on \d+ units, kubectl annotate --local coredns/);
    expect(summary).toMatch(/3 converge +passed +\d+ changed/);
    expect(summary).toMatch(/4 idempotence +passed +a second converge would change nothing/);
    expect(summary).toMatch(/5 verify +passed +\d+ smoke tests passed/);
    expect(summary).toMatch(/6 destroy +skipped +provider existing/);
    expect(summary).toContain('selftest passed');
    expect(inMachine('etcd-01', 'systemctl', 'is-active', 'etcd').trim()).toBe('active');
  });

  it('a file changed between the converge and the idempotence step: idempotence fails, lists it, exit 14', async () => {
    let edited = false;
    const r = await selftest([], (s) => {
      if (!edited && s.startsWith('---- converge: passed')) {
        edited = true;
        appendFileSync(`/proc/${hosts.host('etcd-01').pid}/root${DROPIN}`, '# edited by hand\n');
      }
    });
    expect(edited).toBe(true);
    expect(r.code).toBe(14);
    expect(r.stdout).toMatch(/---- idempotence: FAILED.*: a second converge would change 1 thing\n {5}- etcd-01 etcd › etcd unit and drop-in: update \/etc\/systemd\/system\/etcd\.service\.d\/10-kcore\.conf \(content differs\)\n/);
    expect(r.stdout).toMatch(/5 verify +skipped +not run: idempotence failed/);
    expect(r.stdout).toContain('selftest failed at idempotence (exit 14)');
  });

  it('etcd stopped after the idempotence step: verify fails naming the host, exit 15 (JSON)', async () => {
    let stopped = false;
    const r = await selftest(['--output', 'json'], (s) => {
      if (!stopped && s.includes('"type":"selftest-step"') && s.includes('"step":"idempotence"')) {
        stopped = true;
        inMachine('etcd-01', 'systemctl', 'stop', 'etcd');
      }
    });
    expect(stopped).toBe(true);
    expect(r.code).toBe(15);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; step?: string; status?: string; lines?: string[]; exitCode?: number; failedStep?: string });
    // The converge before it repaired the hand-edited drop-in of the previous test.
    expect(lines.find((l) => l.type === 'selftest-step' && l.step === 'converge')).toMatchObject({ status: 'passed' });
    expect(lines.find((l) => l.type === 'selftest-step' && l.step === 'idempotence')).toMatchObject({ status: 'passed' });
    const verify = lines.find((l) => l.type === 'selftest-step' && l.step === 'verify')!;
    expect(verify.status).toBe('failed');
    expect(verify.lines!.join('\n')).toMatch(/etcd-01 etcd › etcd: member healthy over TLS: etcd on etcd-01 is not healthy \(service inactive\)/);
    expect(lines.at(-1)).toMatchObject({ type: 'selftest-result', ok: false, failedStep: 'verify', exitCode: 15 });
  });
});
