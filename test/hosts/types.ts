// Public types of the test hosts module (re-exported by index.ts).
import type { SudoMode } from './config.js';

export type { SudoMode } from './config.js';

export interface TestHost {
  name: string;
  ip: string;
  /** sshd port on `ip` (always 22: every host has its own address). */
  port: number;
  /** Light host: the sshd PID. Systemd host: the machine's leader PID (its systemd, PID 1 inside). */
  pid: number;
  kind: 'light' | 'systemd';
  /** sshd's log (light) or the machine's console output (systemd), for failure messages. */
  logFile: string;
}

export interface ExecOptions {
  /** Written to the command's stdin. */
  input?: string;
  /** Default 120 s; the command is killed past it and exec() rejects. */
  timeoutMs?: number;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface TestHosts {
  /** This run's id: part of the name of every bridge, namespace and link it creates. */
  id: string;
  hosts: TestHost[];
  /** SSH login user on every host (never root). */
  user: string;
  /** The login user's password on every host (needed with sudo: 'password', e.g. `sudo -S`). */
  password: string;
  /** Private key (0600) that logs in as `user` on every host. */
  identityFile: string;
  /** The hosts' real public host keys, "ip ssh-ed25519 AAAA…". */
  knownHostsLines: string[];
  /** The same lines, written to a file. */
  knownHostsPath: string;
  /** The /24 the hosts live in, e.g. "10.213.7" (.1 is the bridge, on this machine's side). */
  prefix: string;
  /** Name of the bridge joining the hosts and this machine. */
  bridge: string;
  /** OpenSSH client config describing every host, as `vagrant ssh-config` writes it. */
  sshConfigPath: string;
  /** Temporary directory holding the keys, configs and per-host state; removed by teardown(). */
  workdir: string;
  /** Looks a host up by name (throws if unknown). */
  host(name: string): TestHost;
  /** Runs `command` with /bin/sh as root inside the host (through its namespaces, not over SSH). */
  exec(host: TestHost | string, command: string, opts?: ExecOptions): Promise<ExecResult>;
  /** Stops every process and removes every namespace, link, mount and file the hosts created. Idempotent. */
  teardown(): Promise<void>;
}

export interface CommonHostOptions {
  count: number;
  /** Host names (default host1…hostN); also the ssh config aliases and hostnames. */
  names?: string[];
  /** The /24 to use, "10.X.Y" (default: a free 10.213.N, or $KCORE_TEST_PREFIX). */
  prefix?: string;
  /** Exact addresses: full IPs inside the prefix or last octets (default .11, .12, …). */
  ips?: (string | number)[];
  /** Login user (default "kcore"). */
  user?: string;
}

export interface SshHostOptions extends CommonHostOptions {
  /** Sudo rights of the login user (default 'nopasswd'). */
  sudo?: SudoMode;
}

export type SystemdHostOptions = CommonHostOptions;
