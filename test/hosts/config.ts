// The files that give a test host its identity: accounts, sudo rules, name resolution, SSH keys and
// configuration, plus the client-side files (ssh config like `vagrant ssh-config`, known_hosts).
// Shared by light hosts and systemd machines; only the base account lists differ.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { run } from './run.js';

export type SudoMode = 'nopasswd' | 'password' | 'none';

export interface HostPlan {
  name: string;
  ip: string;
}

/** Host names double as ssh config aliases, namespace names and hostnames: keep them simple. */
export function checkNames(names: readonly string[]): void {
  for (const n of names) {
    if (!/^[a-z][a-z0-9-]{0,30}$/.test(n)) throw new Error(`invalid test host name "${n}" (lowercase letters, digits, '-', at most 31)`);
  }
  if (new Set(names).size !== names.length) throw new Error(`duplicate test host names: ${names.join(', ')}`);
}

export function defaultNames(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `host${i + 1}`);
}

/** Generates an ed25519 key pair without passphrase; returns the public key line. */
export async function generateKey(file: string, comment: string): Promise<string> {
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
  return (await fs.readFile(`${file}.pub`, 'utf8')).trim();
}

/** A random password and its SHA-512 crypt hash (for sudo in 'password' mode). */
export async function makePassword(): Promise<{ password: string; hash: string }> {
  const password = randomBytes(12).toString('base64url');
  const hash = (await run('openssl', ['passwd', '-6', '-stdin'], { input: `${password}\n` })).trim();
  return { password, hash };
}

export interface Account {
  user: string;
  uid: number;
  passwordHash: string;
}

/** Parses "name:x:uid:…" lines, keeping those `keep` accepts. */
function pickLines(text: string, keep: (name: string, id: number) => boolean): string[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .filter((l) => {
      const [name = '', , id = ''] = l.split(':');
      return keep(name, Number(id));
    });
}

/**
 * passwd/shadow/group/gshadow: the base system accounts (from `basePasswd`/`baseGroup`, which are
 * the machine's own files for light hosts or the rootfs's for machines) plus the login user.
 * The base shadow entries are generated ("*": no password), never copied from this machine.
 */
export function accountFiles(
  acct: Account,
  basePasswd: string,
  baseGroup: string,
  keepAccount: (name: string, id: number) => boolean,
): { passwd: string; shadow: string; group: string; gshadow: string } {
  const { user, uid, passwordHash } = acct;
  const passwd = pickLines(basePasswd, (n, id) => keepAccount(n, id) && n !== user);
  const groups = pickLines(baseGroup, (n, id) => keepAccount(n, id) && n !== user);
  const names = passwd.map((l) => l.split(':')[0] ?? '');
  const groupNames = groups.map((l) => l.split(':')[0] ?? '');
  const days = Math.floor(Date.now() / 86_400_000);
  // The login user is in no supplementary group: sudo rights come from sudoers.d only.
  passwd.push(`${user}:x:${uid}:${uid}:kcore test user:/home/${user}:/bin/bash`);
  groups.push(`${user}:x:${uid}:`);
  const shadow = names.map((n) => `${n}:*:${days}:0:99999:7:::`);
  shadow.push(`${user}:${passwordHash}:${days}:0:99999:7:::`);
  const gshadow = [...groupNames, user].map((n) => `${n}:*::`);
  const text = (lines: string[]): string => `${lines.join('\n')}\n`;
  return { passwd: text(passwd), shadow: text(shadow), group: text(groups), gshadow: text(gshadow) };
}

/** /etc/sudoers (Debian's defaults, no mail) and the login user's sudoers.d rule for `mode`. */
export function sudoersFiles(user: string, mode: SudoMode): { sudoers: string; dropIn?: string } {
  const sudoers = [
    '# Written by kcore-wizard test hosts.',
    'Defaults env_reset',
    'Defaults secure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"',
    'Defaults use_pty',
    // No mail to root about failed attempts ('password'/'none' modes fail on purpose).
    'Defaults !mail_badpass, !mail_no_user, !mail_no_host, !mail_no_perms, !lecture',
    'root ALL=(ALL:ALL) ALL',
    '@includedir /etc/sudoers.d',
    '',
  ].join('\n');
  if (mode === 'none') return { sudoers };
  const rule = mode === 'nopasswd' ? `${user} ALL=(ALL:ALL) NOPASSWD: ALL` : `${user} ALL=(ALL:ALL) ALL`;
  return { sudoers, dropIn: `# sudo mode: ${mode}\n${rule}\n` };
}

/** /etc/hosts listing the test hosts only. */
export function etcHosts(hosts: readonly HostPlan[]): string {
  return [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    '# kcore-wizard test hosts',
    ...hosts.map((h) => `${h.ip}\t${h.name}`),
    '',
  ].join('\n');
}

/** No resolver: the hosts have no route anywhere and must not query this machine's DNS. */
export const RESOLV_CONF = '# kcore-wizard test host: no DNS on purpose (names come from /etc/hosts only).\noptions attempts:1 timeout:1\n';

/** Name service switch: files only (no DNS fallback to a default 127.0.0.1 resolver). */
export const NSSWITCH_CONF = [
  'passwd:         files',
  'group:          files',
  'shadow:         files',
  'gshadow:        files',
  'hosts:          files',
  'networks:       files',
  'protocols:      db files',
  'services:       db files',
  'ethers:         db files',
  'rpc:            db files',
  '',
].join('\n');

/** sshd_config: key-only login of the test user, host key in /etc/ssh, IPv4 only. */
export function sshdConfig(opts: { listen?: string; user: string; usePam: boolean }): string {
  const { listen, user } = opts;
  return [
    '# Written by kcore-wizard test hosts.',
    'Port 22',
    'AddressFamily inet',
    // A machine's address may come up after sshd: there sshd listens on 0.0.0.0 of its own namespace.
    ...(listen ? [`ListenAddress ${listen}`] : []),
    'HostKey /etc/ssh/ssh_host_ed25519_key',
    'PidFile /run/sshd.pid',
    `UsePAM ${opts.usePam ? 'yes' : 'no'}`,
    'PermitRootLogin no',
    `AllowUsers ${user}`,
    'PubkeyAuthentication yes',
    'AuthorizedKeysFile .ssh/authorized_keys',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'StrictModes yes',
    'UseDNS no',
    'PrintMotd no',
    'PrintLastLog no',
    // Parallel engines open many sessions and connections at once.
    'MaxSessions 64',
    'MaxStartups 200:30:400',
    'AcceptEnv LANG LC_*',
    'Subsystem sftp /usr/lib/openssh/sftp-server',
    'LogLevel VERBOSE',
    '',
  ].join('\n');
}

/** Client config for all hosts, shaped like `vagrant ssh-config` output. */
export function sshConfig(hosts: readonly HostPlan[], user: string, identityFile: string): string {
  return hosts
    .map((h) =>
      [
        `Host ${h.name}`,
        `  HostName ${h.ip}`,
        `  User ${user}`,
        '  Port 22',
        '  UserKnownHostsFile /dev/null',
        '  StrictHostKeyChecking no',
        '  PasswordAuthentication no',
        `  IdentityFile ${identityFile}`,
        '  IdentitiesOnly yes',
        '  LogLevel FATAL',
        '',
      ].join('\n'),
    )
    .join('\n');
}

/** Creates a directory (and parents) with an exact mode, owned by root. */
export async function mkdirMode(dir: string, mode: number): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  await fs.chmod(dir, mode);
}

/** Writes a file with an exact mode and owner (the process umask does not apply). */
export async function writeFile(file: string, content: string, mode: number, uid = 0, gid = 0): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, content);
  await fs.chmod(file, mode);
  await fs.chown(file, uid, gid);
}

/** The login user's home: ~/.ssh/authorized_keys with the test key, owned by the user, as sshd's StrictModes wants. */
export async function writeHome(home: string, uid: number, publicKey: string): Promise<void> {
  await fs.mkdir(path.join(home, '.ssh'), { recursive: true });
  await fs.chmod(home, 0o755);
  await fs.chown(home, uid, uid);
  await writeFile(path.join(home, '.ssh', 'authorized_keys'), `${publicKey}\n`, 0o600, uid, uid);
  await fs.chmod(path.join(home, '.ssh'), 0o700);
  await fs.chown(path.join(home, '.ssh'), uid, uid);
  await writeFile(path.join(home, '.bashrc'), '# kcore-wizard test user\n', 0o644, uid, uid);
}

/** The host's public key as a known_hosts line "ip ssh-ed25519 AAAA…". */
export async function knownHostsLine(ip: string, hostKeyFile: string): Promise<string> {
  const [type = '', key = ''] = (await fs.readFile(`${hostKeyFile}.pub`, 'utf8')).trim().split(/\s+/);
  return `${ip} ${type} ${key}`;
}
