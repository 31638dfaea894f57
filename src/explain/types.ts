/**
 * The teaching view's data (`kcore-wizard explain`, the wizard's and the dashboard's `e` key). Built
 * offline from the spec, the roles' own `why`/`docs`/`concepts` and the PKI; no SSH. Pure data: the CLI
 * prints it as plain text or JSON, the UI draws it. Private keys and tokens are never carried here
 * (`content: null` with a `note` saying where they are).
 */

export interface TaskExplanation {
  name: string;
  why: string;
  docs?: string;
  tags: string[];
}

export interface ConceptExplanation {
  name: string;
  text: string;
  docs?: string;
}

export interface RoleExplanation {
  name: string;
  why: string;
  docs?: string;
  /** Hosts of the spec this role runs on (for a local role: "this machine"). */
  hosts: string[];
  tasks: TaskExplanation[];
  concepts: ConceptExplanation[];
}

export interface FileExplanation {
  path: string;
  /** Octal, four digits: "0644". */
  mode: string;
  owner: string;
  role: string;
  task: string;
  why: string;
  /** The exact content converge writes; null for secrets (private keys, tokens) and binaries. */
  content: string | null;
  /** Why content is null, e.g. "private key: kept in pki/etcd/etcd-01.key on this machine (0600)". */
  note?: string;
  /** For a kubeconfig: the API server URL(s) it points at (shown even when its content is not: it holds a key). */
  servers?: string[];
}

export interface UnitExplanation {
  unit: string;
  role: string;
  why: string;
  docs?: string;
}

/** A smoke test or a dashboard check: what it is, why it exists, the exact command it runs. */
export interface CheckExplanation {
  name: string;
  role: string;
  why: string;
  /** The exact shell command run on the host (secrets redacted). */
  command: string;
}

export interface HostExplanation {
  name: string;
  group: string;
  ip: string;
  /** What this machine is for, in plain words. */
  why: string;
  roles: RoleExplanation[];
  units: UnitExplanation[];
  checks: CheckExplanation[];
  /** Present when asked for (`--files`): every file converge writes on this host, in run order. */
  files?: FileExplanation[];
  /** With `files`: what was assumed about the machine (its OS, containerd, network interface) where a file depends on it. */
  assumptions?: string[];
}
