// Drills on real systemd hosts (systemd-nspawn machines with OpenSSH's sshd):
// - uploads interrupted at several moments (an abort, which is what Ctrl+C does, of one upload and of a whole
//   converge; a SIGKILLed client process) leave no `.kcore-upload.*` temp file on any host, and the next
//   upload or converge finishes; temps that an earlier run could not remove (power cut, SIGKILL of the
//   remote shell) are swept by the next run, ours only;
// - a host cut off the network in the middle of a long command fails alone, within 20 s, with a message that
//   names it and says the connection was lost, while the other hosts' long commands run to their end; the
//   rerun changes only that host.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canRunHosts, startSystemdHosts, type TestHosts } from '../hosts/index.js';
import { SshPool, type HostTarget, type SshError } from '../../src/ssh/index.js';
import { runConverge } from '../../src/converge/run.js';
import type { EngineEvent } from '../../src/engine/events.js';
import { task, type Role } from '../../src/engine/task.js';
import { layoutHosts, specForHosts, workspaceFor } from '../support/cluster.js';
import type { ClusterSpec } from '../../src/spec/index.js';

const LAYOUT = { etcd: 1, 'kube-master': 1, 'kube-worker': 1 };
const PLAN = layoutHosts(LAYOUT);
const BIG = 12 * 1024 * 1024;

let hosts: TestHosts;
let work: string;
let spec: ClusterSpec;
let ws: string;
const pools: SshPool[] = [];

function pool(): SshPool {
  const p = new SshPool({ knownHostsPath: join(work, 'known_hosts'), retries: 0 });
  pools.push(p);
  return p;
}

function target(name: string): HostTarget {
  const h = hosts.host(name);
  return { name, host: h.ip, port: h.port, user: hosts.user, identityFile: hosts.identityFile };
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Every upload temp file anywhere on the host's filesystem (not only where we looked for it). */
async function tempsOn(host: string): Promise<string[]> {
  const r = await hosts.exec(host, `find / -xdev -name '.kcore-upload.*' 2>/dev/null || true`);
  return r.stdout.split('\n').filter(Boolean);
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  const can = await canRunHosts();
  if (!can.ok) throw new Error(`real test hosts cannot run here: ${can.reason}`);
  work = mkdtempSync(join(tmpdir(), 'kcore-ssh-drill-'));
  hosts = await startSystemdHosts({ count: PLAN.length, names: PLAN.map((h) => h.name), ips: PLAN.map((h) => h.octet) });
  spec = specForHosts(hosts, LAYOUT);
  ws = await workspaceFor(spec);
});

afterAll(async () => {
  for (const p of pools) await p.closeAll();
  await hosts?.teardown();
  if (work) rmSync(work, { recursive: true, force: true });
  if (ws) rmSync(ws, { recursive: true, force: true });
});

describe('interrupted uploads leave nothing behind', () => {
  const host = 'kube-worker-01';
  const path = '/opt/bin/kcore-drill';

  it('abort at several moments of a 12 MiB upload: no temp file anywhere, the target whole (old or new), the next upload finishes', async () => {
    const c = await pool().connection(target(host));
    const first = randomBytes(BIG);
    const t0 = Date.now();
    expect((await c.upload({ path, content: first, mode: 0o755, sudo: true })).changed).toBe(true);
    const full = Date.now() - t0;
    let current = sha(first);
    const outcomes: string[] = [];
    // From before the channel opens (0) through the stat, the transfer and the checksum to the very end.
    for (const f of [0, 0.02, 0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 0.95]) {
      const next = randomBytes(BIG);
      let aborted = false;
      const ctl = new AbortController();
      const timer = setTimeout(() => ctl.abort(new Error('Ctrl+C')), Math.round(f * full));
      try {
        await c.upload({ path, content: next, mode: 0o755, sudo: true }, { signal: ctl.signal });
        current = sha(next);
        outcomes.push(`${f}: finished`);
      } catch (e) {
        expect((e as SshError).kind).toBe('aborted');
        aborted = true;
        outcomes.push(`${f}: aborted`);
      } finally {
        clearTimeout(timer);
      }
      // The upload has settled: the remote processes are gone and so is their temp file, at once.
      expect(await tempsOn(host), `after abort at ${f} of ${full} ms`).toEqual([]);
      // Atomic: the target is the previous content or the new one, whole. An abort that lands after the
      // remote rename but before its answer arrives leaves the new one: either is whole.
      const now = (await hosts.exec(host, `sha256sum ${path}`)).stdout.split(' ')[0];
      if (aborted) expect([current, sha(next)], `after abort at ${f} of ${full} ms`).toContain(now);
      else expect(now).toBe(current);
      current = now!;
    }
    console.log(`upload of ${BIG} bytes: ${full} ms; ${outcomes.join(', ')}`);
    expect(outcomes.filter((o) => o.endsWith('aborted')).length).toBeGreaterThanOrEqual(5);
    const last = randomBytes(BIG);
    expect((await c.upload({ path, content: last, mode: 0o755, sudo: true })).changed).toBe(true);
    expect((await hosts.exec(host, `sha256sum ${path}; stat -c %a ${path}`)).stdout).toBe(`${sha(last)}  ${path}\n755\n`);
    expect(await tempsOn(host)).toEqual([]);
  });

  it('abort while the upload\'s session is still opening: the call settles only once the host has removed the temp', async () => {
    // The moment a timed abort hits only now and then: the exec request is out, the channel not yet open.
    // The script may already have created its temp file; the rejection must wait for it to be gone.
    const c = await pool().connection(target(host));
    const client = (c as unknown as { client: { exec: (...a: unknown[]) => unknown } }).client;
    const exec = client.exec.bind(client);
    for (let round = 0; round < 3; round++) {
      const ctl = new AbortController();
      let calls = 0;
      client.exec = (...a: unknown[]) => {
        const r = exec(...a);
        // The large-upload path: the stat first, then the upload script — abort as that one goes out.
        if (++calls === 2) ctl.abort(new Error('Ctrl+C'));
        return r;
      };
      try {
        const e = await c.upload({ path, content: randomBytes(BIG), mode: 0o755, sudo: true }, { signal: ctl.signal }).then(
          () => undefined,
          (err: unknown) => err,
        );
        expect((e as SshError | undefined)?.kind, `round ${round}`).toBe('aborted');
      } finally {
        client.exec = exec;
      }
      expect(await tempsOn(host), `round ${round}`).toEqual([]);
    }
    expect((await c.upload({ path, content: randomBytes(1024), mode: 0o755, sudo: true })).changed).toBe(true);
  });

  it('SIGKILL of the process that uploads: the host removes the temp itself, the next upload finishes', async () => {
    const child = spawn(join(process.cwd(), 'node_modules/.bin/vite-node'), ['test/support/upload-child.ts'], {
      env: { ...process.env, KCORE_UPLOAD_CHILD: JSON.stringify({ target: target(host), knownHostsPath: join(work, 'known_hosts'), path, size: 48 * 1024 * 1024, seed: randomBytes(8).toString('hex') }) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<string | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    try {
      await until('the child to start uploading', 60_000, async () => (out.includes('uploading') ? true : undefined));
      // Killed while the temp file is being written (it exists and holds part of the content).
      const temp = await until('a temp file with content on the host', 60_000, async () => {
        const r = await hosts.exec(host, `find /opt/bin -maxdepth 1 -name '.kcore-upload.*' -size +0 2>/dev/null`);
        return r.stdout.trim() || undefined;
      });
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
      expect(out).not.toContain('done');
      expect(temp).toMatch(/^\/opt\/bin\/\.kcore-upload\.[0-9a-f]{16}$/);
      // sshd sees the connection close and ends the session: cat reads end of input, the script fails its
      // checksum and removes the temp on its way out.
      await until('the temp file to be removed', 15_000, async () => ((await tempsOn(host)).length === 0 ? true : undefined));
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    const again = randomBytes(BIG);
    expect((await (await pool().connection(target(host))).upload({ path, content: again, mode: 0o755, sudo: true })).changed).toBe(true);
    expect((await hosts.exec(host, `sha256sum ${path}`)).stdout.split(' ')[0]).toBe(sha(again));
  });

  it('the next run sweeps the temps an earlier run could not remove (ours only, older than the run), small and large uploads alike', async () => {
    const plant = async (): Promise<void> => {
      // A power cut or SIGKILL of the remote shell mid-upload leaves such files; `touch -d` dates them before this run.
      await hosts.exec(host, [
        'cd /opt/bin',
        "printf partial > .kcore-upload.0011223344556677 && touch -d '10 minutes ago' .kcore-upload.0011223344556677",
        "printf partial > .kcore-upload.aabbccddeeff0011 && touch -d '3 days ago' .kcore-upload.aabbccddeeff0011",
        "printf mine > .kcore-upload.README && touch -d '3 days ago' .kcore-upload.README",
        "printf x > /opt/.kcore-upload.0011223344556677 && touch -d '3 days ago' /opt/.kcore-upload.0011223344556677",
      ].join('; '));
    };
    const left = async (): Promise<string[]> => (await tempsOn(host)).sort();
    const notOurs = ['/opt/.kcore-upload.0011223344556677', '/opt/bin/.kcore-upload.README'];

    await plant();
    // A small file into /opt/bin: the sweep runs in the same session as the upload.
    const small = await pool().connection(target(host));
    await small.upload({ path: '/opt/bin/kcore-drill.conf', content: `x=${randomBytes(4).toString('hex')}\n`, mode: 0o644, sudo: true });
    expect(await left()).toEqual(notOurs);

    await plant();
    // A large file that is already there (a no-op converge): the stat that comes first sweeps.
    const current = await hosts.exec(host, `cat ${path} | base64 -w0`);
    const big = await pool().connection(target(host));
    expect((await big.upload({ path, content: Buffer.from(current.stdout, 'base64'), mode: 0o755, sudo: true })).changed).toBe(false);
    expect(await left()).toEqual(notOurs);
    await hosts.exec(host, `rm -f ${notOurs.join(' ')}`);
  });
});

describe('Ctrl+C during a converge\'s binary uploads', () => {
  let version = 0;
  const bins = ['/opt/bin/kcore-drill-a', '/opt/bin/kcore-drill-b'];
  const contents = new Map<string, { body: Buffer; sum: string }>();
  const content = (v: number, host: string, path: string): { body: Buffer; sum: string } => {
    const key = `${v}:${host}:${path}`;
    let c = contents.get(key);
    if (!c) {
      const body = randomBytes(BIG);
      c = { body, sum: sha(body) };
      contents.set(key, c);
    }
    return c;
  };
  const binRole: Role = {
    name: 'binaries',
    hosts: (run) => run.hosts,
    tasks: [
      task({
        name: 'upload binaries',
        gather: async (ctx) => Promise.all(bins.map((p) => ctx.conn.sha256(p, { sudo: true }))),
        plan: (ctx, sums) => bins.filter((p, i) => sums[i] !== content(version, ctx.host.name, p).sum).map((p) => `write ${p}`),
        async apply(ctx) {
          await Promise.all(bins.map((p) => ctx.conn.upload({ path: p, content: content(version, ctx.host.name, p).body, mode: 0o755, sudo: true }, { signal: ctx.signal })));
        },
      }),
    ],
  };

  it('the run aborted at several moments: no temp file on any host; the next converge finishes', async () => {
    version++;
    const t0 = Date.now();
    expect((await runConverge({ workspace: ws, spec, roles: [binRole], signal: new AbortController().signal, emit: () => undefined })).status).toBe('ok');
    const full = Date.now() - t0;
    const outcomes: string[] = [];
    for (const ms of [0.1, 0.25, 0.4, 0.55, 0.7, 0.85].map((f) => Math.round(f * full))) {
      version++;
      const ctl = new AbortController();
      const timer = setTimeout(() => ctl.abort(new Error('Ctrl+C')), ms);
      const summary = await runConverge({ workspace: ws, spec, roles: [binRole], signal: ctl.signal, emit: () => undefined });
      clearTimeout(timer);
      outcomes.push(`${ms} ms: ${summary.status}`);
      for (const h of PLAN) {
        // Bounded: sessions that the closed connections left end on the host within moments.
        await until(`no upload temp on ${h.name} after an abort at ${ms} ms`, 10_000, async () => ((await tempsOn(h.name)).length === 0 ? true : undefined));
      }
    }
    console.log(`converge of 2 x ${BIG} bytes per host: ${full} ms; aborted at ${outcomes.join(', ')}`);
    expect(outcomes.filter((o) => o.endsWith('cancelled')).length).toBeGreaterThanOrEqual(4);
    const done = await runConverge({ workspace: ws, spec, roles: [binRole], signal: new AbortController().signal, emit: () => undefined });
    expect(done.status).toBe('ok');
    for (const h of PLAN) {
      for (const p of bins) expect((await hosts.exec(h.name, `sha256sum ${p}`)).stdout.split(' ')[0]).toBe(content(version, h.name, p).sum);
      expect(await tempsOn(h.name)).toEqual([]);
    }
  }, 240_000);
});

describe('a host cut off the network', () => {
  const victim = 'kube-master-01';
  const SLOW_S = 24;
  const slowRole: Role = {
    name: 'slow',
    hosts: (run) => run.hosts,
    tasks: [
      task({
        name: 'slow step',
        async gather(ctx) {
          return (await ctx.conn.readFile('/var/lib/kcore-drill/done', { sudo: true }))?.toString() ?? null;
        },
        plan: (_ctx, done) => (done ? [] : [`run the ${SLOW_S} s step`]),
        async apply(ctx) {
          // Silent for longer than the dead-connection detection: keepalives must not cut it short.
          await ctx.conn.run(`sleep ${SLOW_S}; mkdir -p /var/lib/kcore-drill`, { sudo: true, timeoutMs: 120_000, signal: ctx.signal });
        },
      }),
      task({
        name: 'mark done',
        async gather(ctx) {
          return (await ctx.conn.readFile('/var/lib/kcore-drill/done', { sudo: true }))?.toString() ?? null;
        },
        plan: (_ctx, done) => (done ? [] : ['write /var/lib/kcore-drill/done']),
        async apply(ctx) {
          await ctx.conn.run('echo done > /var/lib/kcore-drill/done', { sudo: true, signal: ctx.signal });
        },
      }),
    ],
  };

  async function converge() {
    const events: Array<EngineEvent & { seenAt: number }> = [];
    const summary = await runConverge({ workspace: ws, spec, roles: [slowRole], signal: new AbortController().signal, emit: (e) => events.push({ ...e, seenAt: Date.now() }) });
    return { summary, ends: events.filter((e): e is Extract<EngineEvent, { type: 'task-end' }> & { seenAt: number } => e.type === 'task-end') };
  }

  it('fails alone within 20 s, saying the connection was lost; the others run their long command to its end; the rerun changes only it', async () => {
    await Promise.all(PLAN.map((h) => hosts.exec(h.name, 'rm -rf /var/lib/kcore-drill')));
    const bridgeSide = `${hosts.prefix}.1`;
    let cutAt = 0;
    const running = converge();
    // Cut once the victim's long command runs: its replies to this machine go nowhere (blackhole route).
    await until(`the slow command on ${victim}`, 60_000, async () => ((await hosts.exec(victim, `pgrep -f '[s]leep ${SLOW_S}' || true`)).stdout.trim() ? true : undefined));
    await hosts.exec(victim, `ip route add blackhole ${bridgeSide}/32`);
    cutAt = Date.now();
    let first: Awaited<typeof running>;
    try {
      first = await running;
    } finally {
      await hosts.exec(victim, `ip route del blackhole ${bridgeSide}/32 || true`);
    }
    const failed = first.ends.find((e) => e.host === victim && e.status === 'failed');
    expect(failed, JSON.stringify(first.ends)).toBeDefined();
    const detectedMs = failed!.seenAt - cutAt;
    console.log(`${victim} cut off: reported after ${detectedMs} ms: ${String(failed!.message).split('\n')[0]}`);
    expect(failed!.task).toBe('slow step');
    expect(String(failed!.message)).toMatch(new RegExp(`^The connection to ${victim} was lost while .* was running`));
    expect(detectedMs).toBeLessThan(20_000);
    expect(first.summary.failedHosts).toEqual([victim]);
    // The others' silent 24 s commands ran to their end (longer than the detection) and changed their hosts.
    for (const h of PLAN.filter((p) => p.name !== victim)) {
      expect(first.ends.filter((e) => e.host === h.name).map((e) => `${e.task}:${e.status}`)).toEqual(['slow step:changed', 'mark done:changed']);
      expect(first.summary.recap[h.name]!.state).toBe('changed');
    }
    expect(first.ends.some((e) => e.host === victim && e.task === 'mark done')).toBe(false);

    const second = await converge();
    expect(second.summary.status).toBe('ok');
    expect(second.summary.changed).toBe(2);
    const changed = second.ends.filter((e) => e.status === 'changed');
    expect([...new Set(changed.map((e) => e.host))]).toEqual([victim]);
    expect(changed.map((e) => e.task)).toEqual(['slow step', 'mark done']);
    for (const h of PLAN.filter((p) => p.name !== victim)) expect(second.summary.recap[h.name]!.state).toBe('ok');
  }, 240_000);
});
