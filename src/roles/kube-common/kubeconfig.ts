/**
 * Kubeconfig files: built as data (never string-pasted YAML), certificates embedded so each file stands
 * alone; merged into a user's kubeconfig without touching anyone else's entries.
 */
import { yaml } from '../../util/yaml.js';

export interface KubeconfigInput {
  /** Cluster entry name, e.g. `kcore-demo`. */
  cluster: string;
  /** `https://10.0.0.111:6443` */
  server: string;
  ca: string | Buffer;
  user: string;
  cert: string | Buffer;
  key: string | Buffer;
  /** Context name (default: the cluster name). */
  context?: string;
}

interface Named<T> {
  name: string;
  [k: string]: unknown;
  cluster?: T;
  user?: T;
  context?: T;
}

export interface KubeconfigDoc {
  apiVersion: string;
  kind: string;
  clusters: Named<Record<string, unknown>>[];
  users: Named<Record<string, unknown>>[];
  contexts: Named<Record<string, unknown>>[];
  'current-context'?: string;
  preferences?: Record<string, unknown>;
  [k: string]: unknown;
}

const b64 = (v: string | Buffer) => Buffer.from(v).toString('base64');

export function kubeconfigDoc(i: KubeconfigInput): KubeconfigDoc {
  const context = i.context ?? i.cluster;
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: i.cluster, cluster: { server: i.server, 'certificate-authority-data': b64(i.ca) } }],
    users: [{ name: i.user, user: { 'client-certificate-data': b64(i.cert), 'client-key-data': b64(i.key) } }],
    contexts: [{ name: context, context: { cluster: i.cluster, user: i.user } }],
    'current-context': context,
    preferences: {},
  };
}

export function buildKubeconfig(i: KubeconfigInput): string {
  return yaml().stringify(kubeconfigDoc(i), { lineWidth: 0 });
}

/** Parse a kubeconfig (empty or missing text: an empty config). Throws with the file's problem. */
export function parseKubeconfig(text: string | null, file = 'kubeconfig'): KubeconfigDoc {
  const empty: KubeconfigDoc = { apiVersion: 'v1', kind: 'Config', clusters: [], users: [], contexts: [], preferences: {} };
  if (text === null || text.trim() === '') return empty;
  let doc: unknown;
  try {
    doc = yaml().parse(text);
  } catch (e) {
    throw new Error(`${file} is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return empty;
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`${file} is not a kubeconfig (expected a mapping with clusters, users, contexts)`);
  const d = doc as Record<string, unknown>;
  for (const k of ['clusters', 'users', 'contexts'] as const) {
    if (d[k] === undefined || d[k] === null) d[k] = [];
    if (!Array.isArray(d[k])) throw new Error(`${file}: ${k} is not a list`);
  }
  return { ...empty, ...d } as KubeconfigDoc;
}

export interface MergeResult {
  text: string;
  /** "cluster kcore-demo", … entries that existed and were replaced. */
  replaced: string[];
  added: string[];
  currentContext: string | undefined;
}

/**
 * Put our cluster, user and context into `existing` (another kubeconfig's text): entries with our names
 * are replaced, every other entry and setting stays as it was, current-context changes only on request
 * (or when there was no file at all).
 */
export function mergeKubeconfig(existing: string | null, ours: string, opts: { useContext?: boolean; file?: string } = {}): MergeResult {
  const base = parseKubeconfig(existing, opts.file);
  const add = parseKubeconfig(ours, 'the cluster kubeconfig');
  const replaced: string[] = [];
  const added: string[] = [];
  for (const [k, label] of [
    ['clusters', 'cluster'],
    ['users', 'user'],
    ['contexts', 'context'],
  ] as const) {
    for (const entry of add[k]) {
      const i = base[k].findIndex((e) => e.name === entry.name);
      if (i >= 0) {
        base[k][i] = entry;
        replaced.push(`${label} ${entry.name}`);
      } else {
        base[k].push(entry);
        added.push(`${label} ${entry.name}`);
      }
    }
  }
  // A new file gets our context as current; an existing one keeps its own unless asked.
  if (opts.useContext || existing === null) base['current-context'] = add['current-context'];
  return { text: yaml().stringify(base, { lineWidth: 0 }), replaced, added, currentContext: base['current-context'] };
}
