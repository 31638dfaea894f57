// Several hosts may share one address and port (one sshd behind them, a port-forwarding NAT, a
// mistaken ssh.config): each error must still name the host it is about, not the first one asked for.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { SshPool, type HostTarget } from '../../src/ssh/index.js';

const dir = mkdtempSync(join(tmpdir(), 'kcore-pool-names-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

it('errors name each host even when hosts share an address and port', async () => {
  const port = await closedPort();
  const pool = new SshPool({ knownHostsPath: join(dir, 'known_hosts'), retries: 0, connectTimeoutMs: 3000 });
  const names = ['etcd-01', 'kube-master-01', 'kube-worker-01'];
  const targets: HostTarget[] = names.map((name) => ({ name, host: '127.0.0.1', port, user: 'core' }));
  const errors = await Promise.all(targets.map((t) => pool.connection(t).then(() => undefined, (e: unknown) => e as { host?: string; message: string })));
  await pool.closeAll();
  expect(errors.map((e) => e?.host)).toEqual(names);
  for (const [i, e] of errors.entries()) expect(e!.message).toContain(names[i]!);
});
