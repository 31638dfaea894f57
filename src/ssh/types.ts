// Public types of the SSH engine. The task engine, dashboard and UI are built against these names.

/** One machine to reach over SSH. Password authentication is deliberately not supported. */
export interface HostTarget {
  /** Logical name (e.g. the Vagrant machine name); used in messages and for --accept-changed-host-keys. */
  name: string;
  host: string;
  port: number;
  user: string;
  /** Private key file (OpenSSH or PEM format, unencrypted: encrypted keys belong in ssh-agent). */
  identityFile?: string;
  /** ssh-agent socket; defaults to $SSH_AUTH_SOCK when set. */
  agent?: string;
  /** Connect through this host first (OpenSSH ProxyJump). */
  proxyJump?: HostTarget;
  password?: never;
}

export interface ExecOptions {
  stdin?: string | Buffer;
  /** Run as root through `sudo -n -- sh -c '…'` (skipped when the target user is root). */
  sudo?: boolean;
  /** Kill the command (remote process group included) after this many ms of running. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Strings that must never appear in output, events, errors or logs; replaced by `***`. */
  secrets?: string[];
  /** Called once per complete stdout line (without the newline), in order. */
  onStdout?: (line: string) => void;
  onStderr?: (line: string) => void;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  /** Exit status; null when the remote process was killed by a signal. */
  exitCode: number | null;
  /** Signal name (`SIGTERM`, …) when the remote process was killed by a signal. */
  signal?: string;
  durationMs: number;
}

/**
 * Runs commands on one host. `exec` RESOLVES with a non-zero exitCode; it rejects (with SshError)
 * only on transport failures, timeouts and aborts.
 */
export interface Transport {
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
  close(opts?: { linger?: boolean }): Promise<void>;
}

export interface HostKeyEvent {
  host: string;
  kind: 'recorded' | 'verified' | 'changed-accepted';
  /** OpenSSH style: `SHA256:` + unpadded base64. */
  fingerprint: string;
  keyType: string;
}

export interface CommandLogEntry {
  /** The command as the caller wrote it (not the sudo/kill wrapper), with secrets redacted. */
  command: string;
  exitCode: number | null;
  durationMs: number;
  sudo: boolean;
}

export interface PoolOptions {
  /** Workspace-owned known_hosts file (OpenSSH format). */
  knownHostsPath: string;
  /** true: accept any changed host key; string[]: accept for these target names / hosts / `host:port`. */
  acceptChangedHostKeys?: boolean | string[];
  /** Hosts worked on in parallel by forEachHost. Default 30. */
  maxHosts?: number;
  /** Concurrent channels per connection; more commands queue. Default 8 (OpenSSH's MaxSessions is 10). */
  maxChannelsPerHost?: number;
  /** TCP connect + SSH handshake + authentication. Default 20000. */
  connectTimeoutMs?: number;
  /** SSH keepalive interval. Default 5000. */
  keepaliveIntervalMs?: number;
  /**
   * Unanswered keepalives tolerated: the connection is declared dead (and its running commands fail with
   * "connection lost") after keepaliveIntervalMs × (keepaliveCountMax + 1) without an answer. Default 2 (15 s).
   */
  keepaliveCountMax?: number;
  /** Connection attempts after the first, for retryable errors only. Default 2. */
  retries?: number;
  /** First backoff delay in ms (doubles each attempt, with jitter). Default 500. */
  retryBaseDelayMs?: number;
  /** When the run began (Date.now()); default: when the pool was made. Upload temps older than it are swept. */
  runStartedAt?: number;
  onHostKey?: (e: HostKeyEvent) => void;
  onCommand?: (host: string, entry: CommandLogEntry) => void;
  /** Awaited at the end of closeAll(): what those callbacks started (a command log's writes) is done when it returns. */
  onClosed?: () => Promise<void>;
}

export interface UploadSpec {
  path: string;
  content: string | Buffer;
  mode: number;
  owner?: string;
  group?: string;
  sudo?: boolean;
  /** The content is secret: never logged, and the file is never readable by others while written. */
  secret?: boolean;
}

export interface UploadResult {
  changed: boolean;
  sha256: string;
}

export interface HostConnection extends Transport {
  target: HostTarget;
  /** Whether `sudo -n` works for the target user; probed once, cached. Always true for root. */
  sudoOk(): Promise<boolean>;
  upload(file: UploadSpec, opts?: { signal?: AbortSignal }): Promise<UploadResult>;
  /** File content, or null when the file does not exist. */
  readFile(path: string, opts?: { sudo?: boolean; signal?: AbortSignal }): Promise<Buffer | null>;
  /** Hex SHA-256 of a remote file, or null when it does not exist. */
  sha256(path: string, opts?: { sudo?: boolean; signal?: AbortSignal }): Promise<string | null>;
  /** Like exec, but rejects with SshError kind 'command-failed' on a non-zero exit. */
  run(command: string, opts?: ExecOptions): Promise<ExecResult>;
}
