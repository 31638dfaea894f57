// The SSH engine: ssh2 transport, host keys, sudo, atomic uploads, redaction, a connection pool.
export * from './types.js';
export { SshError, classifyError, describeTarget, isSshError, abortedError, type SshErrorKind, type SshErrorInit, type ClassifyContext } from './errors.js';
export { shellQuote, shellJoin } from './quote.js';
export { createRedactor, redact, secretsFromContent, LineSplitter, REDACTED, type Redactor } from './redact.js';
export {
  KnownHosts,
  parseKnownHosts,
  fingerprint,
  keyTypeOf,
  hashHostName,
  hostFieldMatches,
  knownHostsName,
  type KnownHostEntry,
  type HostKeyCheck,
} from './known-hosts.js';
export { targetsFromSshConfig, parseSshConfig, type SshConfigOptions, type SshConfigResult } from './ssh-config.js';
export { SshHostConnection, hostKeyAlgorithms, SMALL_UPLOAD_BYTES, type ConnectionSettings } from './connection.js';
export { SshPool, POOL_DEFAULTS, type HostOutcome } from './pool.js';
export { Semaphore } from './semaphore.js';
