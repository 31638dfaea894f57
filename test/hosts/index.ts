// Real test hosts for the integration tests: light hosts (network namespace + sshd) and systemd
// machines (systemd-nspawn booting Debian), all on a private bridge in a /24 of their own.
// See test/hosts/README.md for what each kind provides and how it is torn down.
export { startSshHosts } from './light.js';
export { startSystemdHosts, systemdRootfs } from './systemd.js';
export { canRunHosts } from './preflight.js';
export type { CommonHostOptions, ExecOptions, ExecResult, SshHostOptions, SudoMode, SystemdHostOptions, TestHost, TestHosts } from './types.js';
