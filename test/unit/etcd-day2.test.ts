// The pure parts of the etcd day-2 commands: backup file names, the status line they trust, the
// members' scripts, the upgrade rules.
import { describe, expect, it } from 'vitest';
import { etcdBinaries } from '../../src/roles/etcd/index.js';
import { backupFileName, looksLikeSnapshot, parseSnapshotStatus, removeScript, restoreScript, saveScript } from '../../src/roles/etcd/backup.js';

describe('etcd backup', () => {
  it('names files by UTC time, sortable and without colons', () => {
    expect(backupFileName(new Date('2026-12-02T01:02:03.456Z'))).toBe('etcd-2026-12-02T01-02-03Z.db');
  });

  it('reads the status etcdutl/etcdctl print with -w json, and refuses anything else', () => {
    // etcdutl snapshot status -w json (etcd 3.5: etcdutl/snapshot/v3_snapshot.go Status → {hash, revision, totalKey, totalSize})
    expect(parseSnapshotStatus('{"hash":3245891843,"revision":31,"totalKey":26,"totalSize":20480}\n')).toEqual({ hash: 3245891843, revision: 31, totalKey: 26, totalSize: 20480 });
    expect(parseSnapshotStatus('Deprecated: Use `etcdutl snapshot status` instead.\n\n{"hash":1,"revision":2,"totalKey":3,"totalSize":4}')).toEqual({ hash: 1, revision: 2, totalKey: 3, totalSize: 4 });
    expect(() => parseSnapshotStatus('')).toThrow("the snapshot's status could not be read");
    expect(() => parseSnapshotStatus('{"hash":1,"revision":2}')).toThrow('could not be read');
    expect(() => parseSnapshotStatus('{"hash":1,"revision":-2,"totalKey":3,"totalSize":4}')).toThrow('could not be read');
    expect(() => parseSnapshotStatus('{not json')).toThrow('could not be read');
  });

  it("saves under a private umask, sweeps only its own leftovers, and removes the temp file and etcdctl's .part", () => {
    const s = saveScript('10.0.0.101', '/var/tmp/kcore-etcd-snapshot.1.2.db');
    expect(s.split('\n')[0]).toBe("find /var/tmp -maxdepth 1 -name 'kcore-etcd-snapshot.*' -type f -delete 2>/dev/null");
    expect(s).toContain('umask 077');
    expect(s).toContain('--endpoints=https://10.0.0.101:2379');
    expect(s).toContain('snapshot save /var/tmp/kcore-etcd-snapshot.1.2.db');
    expect(s).toContain('/opt/bin/etcdutl snapshot status -w json');
    expect(removeScript('/var/tmp/kcore-etcd-snapshot.1.2.db')).toBe('rm -f /var/tmp/kcore-etcd-snapshot.1.2.db /var/tmp/kcore-etcd-snapshot.1.2.db.part');
  });
});

describe('etcd binaries', () => {
  it('installs etcdutl from 3.5 on (backup and restore need it; 3.4 has none)', () => {
    expect(etcdBinaries('3.4.23')).toEqual(['etcd', 'etcdctl']);
    expect(etcdBinaries('3.5.0')).toEqual(['etcd', 'etcdctl', 'etcdutl']);
    expect(etcdBinaries('3.7.0')).toEqual(['etcd', 'etcdctl', 'etcdutl']);
    expect(etcdBinaries('4.0.0')).toEqual(['etcd', 'etcdctl', 'etcdutl']);
  });
});

describe('etcd restore', () => {
  it('recognises a bbolt file by its meta page magic (0xED0CDAED at offset 16, little-endian)', () => {
    const page = Buffer.alloc(4096);
    page.writeUInt32LE(0xed0cdaed, 16);
    expect(looksLikeSnapshot(page)).toBe(true);
    expect(looksLikeSnapshot(Buffer.from('hello\n'))).toBe(false);
    expect(looksLikeSnapshot(page.subarray(0, 19))).toBe(false);
    page.writeUInt32LE(0xed0cdaee, 16);
    expect(looksLikeSnapshot(page)).toBe(false);
  });

  it('rebuilds the data dir beside the live one, then keeps the old one aside: never deleted', () => {
    const s = restoreScript({ name: 'etcd-02', ip: '10.0.0.102', initialCluster: 'etcd-01=https://10.0.0.101:2380,etcd-02=https://10.0.0.102:2380', token: 'kcore-t-etcd-restore-X', dataDir: '/var/lib/etcd', stamp: 'X' });
    const lines = s.split('\n');
    expect(lines[0]).toBe('set -e');
    expect(s).toContain(
      'snapshot restore /var/tmp/kcore-etcd-restore.db --name etcd-02 --initial-cluster etcd-01=https://10.0.0.101:2380,etcd-02=https://10.0.0.102:2380 --initial-cluster-token kcore-t-etcd-restore-X --initial-advertise-peer-urls https://10.0.0.102:2380 --data-dir /var/lib/etcd.restore-X',
    );
    expect(lines.slice(-4)).toEqual(['chown -R etcd:etcd /var/lib/etcd.restore-X', 'chmod 700 /var/lib/etcd.restore-X', 'if [ -e /var/lib/etcd ]; then mv /var/lib/etcd /var/lib/etcd.before-restore-X; fi', 'mv /var/lib/etcd.restore-X /var/lib/etcd']);
    expect(s).not.toMatch(/rm -rf \/var\/lib\/etcd( |$)/m);
  });
});

describe('etcd upgrade rules (etcd.io/docs/v3.6/upgrades/: one minor at a time, no downgrade)', () => {
  it('allows a patch or the next minor, and the same version (a rerun resumes); refuses the rest', async () => {
    const { checkEtcdUpgrade } = await import('../../src/commands/upgrade.js');
    expect(checkEtcdUpgrade('3.4.23', '3.5.16')).toBeNull();
    expect(checkEtcdUpgrade('3.5.16', '3.5.21')).toBeNull();
    expect(checkEtcdUpgrade('3.5.16', '3.5.16')).toBeNull();
    expect(checkEtcdUpgrade('3.4.23', '3.6.0')).toContain('one minor version at a time (3.4.23 → 3.5.x first)');
    expect(checkEtcdUpgrade('3.6.1', '3.5.9')).toContain('cannot be downgraded');
    expect(checkEtcdUpgrade('3.5.1', '3.5.0')).toContain('cannot be downgraded');
    expect(checkEtcdUpgrade('3.5.1', '4.0.0')).toContain('one minor version at a time');
    expect(checkEtcdUpgrade('3.5.1', 'latest')).toContain('not a version');
  });
});
