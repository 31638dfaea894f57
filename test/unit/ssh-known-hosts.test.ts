import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KnownHosts, fingerprint, hashHostName, hostFieldMatches, keyTypeOf, knownHostsName, parseKnownHosts } from '../../src/ssh/index.js';
import { sshKeyPair } from '../support/ssh-keys.js';
import { removeKnownHostsNames } from '../../src/ssh/known-hosts.js';
import { forgetKnownHosts } from '../../src/vagrant/known-hosts.js';

const dir = mkdtempSync(join(tmpdir(), 'kcore-kh-'));
afterAll(() => execFileSync('rm', ['-rf', dir]));

function newKey(type: 'ed25519' | 'ecdsa' | 'rsa' = 'ed25519'): { blob: Buffer; line: string } {
  const kp = sshKeyPair(type);
  const [, b64] = kp.public.split(' ');
  return { blob: Buffer.from(b64!, 'base64'), line: kp.public.trim() };
}

describe('known_hosts parsing', () => {
  const k1 = newKey();
  const k2 = newKey('ecdsa');
  const text = [
    '# comment line',
    '',
    `node1,10.0.0.2 ${k1.line.split(' ').slice(0, 2).join(' ')} a comment`,
    `[127.0.0.1]:2222 ${k2.line.split(' ').slice(0, 2).join(' ')}`,
    `@revoked bad.example ${k2.line.split(' ').slice(0, 2).join(' ')}`,
    `@cert-authority *.example ${k1.line.split(' ').slice(0, 2).join(' ')}`,
    'malformed-line-with-too-few-fields',
    `*.lab,!secret.lab ${k1.line.split(' ').slice(0, 2).join(' ')}`,
  ].join('\n');

  it('reads entries with line numbers, markers and comments', () => {
    const e = parseKnownHosts(text);
    expect(e.map((x) => x.line)).toEqual([3, 4, 5, 6, 8]);
    expect(e[0]).toMatchObject({ hosts: 'node1,10.0.0.2', keyType: 'ssh-ed25519', comment: 'a comment' });
    expect(e[2]!.marker).toBe('@revoked');
    expect(e[3]!.marker).toBe('@cert-authority');
  });

  it('matches plain, [host]:port, wildcard and negated patterns', () => {
    expect(hostFieldMatches('node1,10.0.0.2', '10.0.0.2')).toBe(true);
    expect(hostFieldMatches('node1,10.0.0.2', '10.0.0.3')).toBe(false);
    expect(hostFieldMatches('[127.0.0.1]:2222', knownHostsName('127.0.0.1', 2222))).toBe(true);
    expect(hostFieldMatches('[127.0.0.1]:2222', knownHostsName('127.0.0.1', 22))).toBe(false);
    expect(hostFieldMatches('127.0.0.1', knownHostsName('127.0.0.1', 2222))).toBe(false);
    expect(hostFieldMatches('*.lab,!secret.lab', 'a.lab')).toBe(true);
    expect(hostFieldMatches('*.lab,!secret.lab', 'secret.lab')).toBe(false);
    expect(hostFieldMatches('NODE?', 'node1')).toBe(true);
  });

  it('verifies hashed names by HMAC-SHA1, compatible with ssh-keygen -H', () => {
    const file = join(dir, 'hashed');
    writeFileSync(file, `[10.1.2.3]:2200 ${k1.line}\nplainhost ${k2.line}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
    const entries = parseKnownHosts(readFileSync(file, 'utf8'));
    expect(entries.every((e) => e.hosts.startsWith('|1|'))).toBe(true);
    expect(hostFieldMatches(entries[0]!.hosts, '[10.1.2.3]:2200')).toBe(true);
    expect(hostFieldMatches(entries[0]!.hosts, '10.1.2.3')).toBe(false);
    expect(hostFieldMatches(entries[1]!.hosts, 'plainhost')).toBe(true);
    // and ours verifies with our own hashing
    expect(hostFieldMatches(hashHostName('x.example'), 'x.example')).toBe(true);
    expect(hostFieldMatches(hashHostName('x.example'), 'y.example')).toBe(false);
  });

  it('checks a hashed file: known, changed, unknown', async () => {
    const file = join(dir, 'hashed2');
    writeFileSync(file, `[10.1.2.3]:2200 ${k1.line}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
    const kh = new KnownHosts(file);
    expect((await kh.check('10.1.2.3', 2200, k1.blob)).status).toBe('known');
    expect((await kh.check('10.1.2.3', 2200, k2.blob)).status).toBe('changed');
    expect((await kh.check('10.1.2.3', 22, k1.blob)).status).toBe('unknown');
  });

  it('reports revoked keys and ignores cert-authority lines for lookups', async () => {
    const file = join(dir, 'markers');
    writeFileSync(file, text);
    const kh = new KnownHosts(file);
    expect((await kh.check('bad.example', 22, k2.blob)).status).toBe('revoked');
    expect((await kh.check('a.example', 22, k1.blob)).status).toBe('unknown');
  });
});

describe('fingerprints', () => {
  it('match ssh-keygen -l (SHA256, unpadded base64) and key types are read from the blob', () => {
    for (const type of ['ed25519', 'ecdsa', 'rsa'] as const) {
      const k = newKey(type);
      const file = join(dir, `pub-${type}`);
      writeFileSync(file, k.line + '\n');
      const out = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', file], { encoding: 'utf8' });
      expect(out.split(' ')[1]).toBe(fingerprint(k.blob));
      expect(keyTypeOf(k.blob)).toBe(k.line.split(' ')[0]);
    }
  });
});

describe('KnownHosts updates', () => {
  it('records a first key, verifies it, and ssh-keygen -F finds it', async () => {
    const file = join(dir, 'sub', 'known_hosts');
    const kh = new KnownHosts(file);
    const k = newKey();
    expect((await kh.check('10.9.0.5', 22, k.blob)).status).toBe('unknown');
    await kh.add('10.9.0.5', 22, k.blob);
    await kh.add('10.9.0.5', 22, k.blob); // idempotent
    await kh.add('10.9.0.6', 2222, k.blob);
    expect((await kh.check('10.9.0.5', 22, k.blob)).status).toBe('known');
    const body = readFileSync(file, 'utf8');
    expect(body.trim().split('\n')).toHaveLength(2);
    expect(body).toContain('[10.9.0.6]:2222 ssh-ed25519 ');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(execFileSync('ssh-keygen', ['-F', '[10.9.0.6]:2222', '-f', file], { encoding: 'utf8' })).toContain('ssh-ed25519');
  });

  it('serialises concurrent writers: 40 parallel adds all land, no temp files left', async () => {
    const file = join(dir, 'concurrent', 'known_hosts');
    const keys = Array.from({ length: 40 }, () => newKey());
    // two instances on the same path, like two pools in one process
    const a = new KnownHosts(file);
    const b = new KnownHosts(file);
    await Promise.all(keys.map((k, i) => (i % 2 ? a : b).add(`10.8.0.${i + 1}`, 22, k.blob)));
    const entries = await a.entries();
    expect(entries).toHaveLength(40);
    for (let i = 0; i < 40; i++) expect((await a.check(`10.8.0.${i + 1}`, 22, keys[i]!.blob)).status).toBe('known');
    expect(readdirSync(join(dir, 'concurrent'))).toEqual(['known_hosts']);
  });

  it('replaces a changed key and removes hosts (plain names, [host]:port, host:port, hashed)', async () => {
    const file = join(dir, 'replace');
    const old = newKey();
    const nu = newKey();
    const other = newKey();
    const hashed = `${hashHostName('[10.7.0.9]:2200')} ${other.line}`;
    writeFileSync(file, `# keep me\n10.7.0.1,alias1 ${old.line}\n[10.7.0.2]:2222 ${old.line}\n*.wild ${other.line}\n${hashed}\n`);
    const kh = new KnownHosts(file);
    await kh.replace('10.7.0.1', 22, nu.blob);
    expect((await kh.check('10.7.0.1', 22, nu.blob)).status).toBe('known');
    expect((await kh.check('alias1', 22, old.blob)).status).toBe('known'); // the other name on the line stays
    await kh.remove(['10.7.0.2:2222', '[10.7.0.9]:2200', 'alias1']);
    const body = readFileSync(file, 'utf8');
    expect(body).toContain('# keep me');
    expect(body).toContain('*.wild');
    expect(body).not.toContain('10.7.0.2');
    expect(body).not.toContain('|1|');
    expect(body).not.toContain('alias1');
    expect((await kh.check('10.7.0.1', 22, nu.blob)).status).toBe('known');
  });

  it('a missing file is empty', async () => {
    const kh = new KnownHosts(join(dir, 'nope', 'known_hosts'));
    expect(await kh.entries()).toEqual([]);
    await kh.remove(['x']);
  });
});

describe('one known_hosts editor: `destroy` forgets machines through the same code as the engine', () => {
  it('forgetKnownHosts shares the lock with the engine: parallel adds during a forget all land', async () => {
    const file = join(dir, 'shared-lock', 'known_hosts');
    const seed = newKey();
    const kh = new KnownHosts(file);
    await kh.add('10.6.0.200', 22, seed.blob);
    const keys = Array.from({ length: 30 }, () => newKey());
    // The engine records keys while destroy forgets the old machine: no write may overwrite another.
    const adds = keys.map((k, i) => new KnownHosts(file).add(`10.6.0.${i + 1}`, 22, k.blob));
    const forgot = forgetKnownHosts(file, [{ host: '10.6.0.200' }]);
    await Promise.all([...adds, forgot]);
    expect(await forgot).toBe(1);
    const entries = await kh.entries();
    expect(entries.map((e) => e.hosts).sort()).toEqual(keys.map((_, i) => `10.6.0.${i + 1}`).sort());
    expect(readdirSync(join(dir, 'shared-lock'))).toEqual(['known_hosts']);
  });

  it('writes the file private (0600), whoever edits it, whatever the umask', async () => {
    const file = join(dir, 'mode-forget');
    const k = newKey();
    writeFileSync(file, `10.5.0.1 ${k.line}\n10.5.0.2 ${k.line}\n`, { mode: 0o644 });
    const old = process.umask(0o000);
    try {
      expect(await forgetKnownHosts(file, [{ host: '10.5.0.1' }])).toBe(1);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      await new KnownHosts(file).add('10.5.0.3', 2222, k.blob);
      expect(statSync(file).mode & 0o777).toBe(0o600);
    } finally {
      process.umask(old);
    }
    expect(readFileSync(file, 'utf8')).toBe(`10.5.0.2 ${k.line}\n[10.5.0.3]:2222 ${k.line.split(' ').slice(0, 2).join(' ')}\n`);
  });

  it('a port-22 host is forgotten in both spellings, `h` and `[h]:22`; other ports only as `[h]:port`', async () => {
    const k = newKey().line.split(' ').slice(0, 2).join(' ');
    const text = `10.4.0.1 ${k}\n[10.4.0.1]:22 ${k}\n[10.4.0.1]:2222 ${k}\n10.4.0.10 ${k}\n`;
    expect(removeKnownHostsNames(text, ['10.4.0.1'])).toEqual({ text: `[10.4.0.1]:2222 ${k}\n10.4.0.10 ${k}\n`, removed: 2 });
    expect(removeKnownHostsNames(text, ['[10.4.0.1]:2222'])).toEqual({ text: `10.4.0.1 ${k}\n[10.4.0.1]:22 ${k}\n10.4.0.10 ${k}\n`, removed: 1 });
  });
});

describe('test keys (test/support/ssh-keys.ts)', () => {
  it('ssh2 reads every ed25519 key the helper makes: its generator alone makes about 1 in 230 it cannot read', () => {
    const bad = Array.from({ length: 1500 }, () => sshKeyPair()).filter((k) => Buffer.from(k.public.split(' ')[1]!, 'base64').length !== 51);
    expect(bad).toEqual([]);
  });
});
