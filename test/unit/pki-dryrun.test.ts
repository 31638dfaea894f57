import { access, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensurePki, type PkiInput } from '../../src/pki/index.js';

const input: PkiInput = {
  clusterName: 'kcore',
  clusterDomain: 'cluster.local',
  serviceCidr: '10.3.0.0/24',
  etcd: [{ name: 'etcd-01', ip: '10.0.0.101' }],
  masters: [{ name: 'kube-master-01', ip: '10.0.0.111' }],
  workers: [{ name: 'kube-worker-01', ip: '10.0.0.121' }],
};

describe('ensurePki dry run', () => {
  it('says what a real run would issue, and writes nothing', { timeout: 120_000 }, async () => {
    const ws = await mkdtemp(path.join(tmpdir(), 'kcore-pki-dry-'));
    const dry = await ensurePki(ws, input, { dryRun: true });
    await expect(access(path.join(ws, 'pki'))).rejects.toThrow();
    const real = await ensurePki(ws, input);
    expect(dry.changed).toEqual(real.changed);
    expect(dry.changed).toContain('etcd/server-etcd-01');

    // A new master: the dry run names exactly what the real run then reissues, with reasons.
    const more = { ...input, masters: [...input.masters, { name: 'kube-master-02', ip: '10.0.0.112' }] };
    const dry2 = await ensurePki(ws, more, { dryRun: true });
    expect(dry2.changed).toEqual(['apiserver', 'kubelet/kube-master-02']);
    expect(dry2.reasons.apiserver).toMatch(/10\.0\.0\.112/);
    expect(await ensurePki(ws, more, { dryRun: true })).toEqual(dry2); // still nothing written
    expect((await ensurePki(ws, more)).changed).toEqual(dry2.changed);
  });
});
