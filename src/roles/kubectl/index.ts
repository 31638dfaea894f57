/**
 * kubectl (control machine, like the pki role): the admin kubeconfig in the workspace (`<ws>/kubeconfig`,
 * 0600): cluster `kcore-<name>`, server https://<first master>:6443, the admin certificate and key
 * embedded; with more than one master also a cluster and context `kcore-<name>-<master>` per other master. `kcore-wizard kubeconfig [--merge]` hands it to the user.
 * Smoke tests (tag `test`): kubectl (when installed here) reads it and finds the server and the
 * certificates; the API server answers this machine with it.
 */
import { accessSync, constants } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { smokeTest, task, TaskFailure, type Role, type RunContext } from '../../engine/task.js';
import { yaml } from '../../util/yaml.js';
import { hostsOf } from '../../spec/hosts.js';
import { apiServerUrl, buildKubeconfig, clusterName, kubeconfigDoc, parseKubeconfig, readPki } from '../kube-common/index.js';
import { writeFileAtomic } from '../../util/fs.js';

export const KUBECONFIG_FILE = 'kubeconfig';

export const adminKubeconfigPath = (workspace: string) => path.join(workspace, KUBECONFIG_FILE);

/** The names of the admin kubeconfig's contexts: `kcore-<name>` (first master), then one per other master. */
export function adminContexts(spec: RunContext['spec']): string[] {
  const cluster = clusterName(spec);
  return [cluster, ...hostsOf(spec, 'kube-master').slice(1).map((m) => `${cluster}-${m.name}`)];
}

/**
 * The current context a kubeconfig in the workspace already has, when it is one of ours (set by
 * `kcore-wizard kubeconfig --healthy` to a master that answers): converge keeps it. Else undefined.
 */
export function keptContext(text: string | null, spec: RunContext['spec']): string | undefined {
  if (text === null) return undefined;
  try {
    const cur = parseKubeconfig(text)['current-context'];
    return cur && adminContexts(spec).includes(cur) ? cur : undefined;
  } catch {
    return undefined;
  }
}

/** The admin kubeconfig for the control machine (pure but for reading the PKI files). */
export async function adminKubeconfig(run: Pick<RunContext, 'spec' | 'pki'> & Partial<Pick<RunContext, 'workspace' | 'dryRun'>>, opts: { currentContext?: string } = {}): Promise<string> {
  const ctx = { run: { workspace: '', dryRun: false, ...run } as RunContext };
  const cluster = clusterName(run.spec);
  const input = {
    cluster,
    server: apiServerUrl(run.spec),
    ca: await readPki(ctx, run.pki.ca.cert),
    user: `${cluster}-admin`,
    cert: await readPki(ctx, run.pki.admin.cert),
    key: await readPki(ctx, run.pki.admin.key),
    context: cluster,
  };
  const others = hostsOf(run.spec, 'kube-master').slice(1);
  if (!others.length) return buildKubeconfig(input);
  // More than one master: one more cluster and context per other master (same CA, same user), so
  // `kubectl --context <cluster>-kube-master-02` works while the first master is down.
  const doc = kubeconfigDoc(input);
  for (const m of others) {
    doc.clusters.push({ name: `${cluster}-${m.name}`, cluster: { ...doc.clusters[0]!.cluster, server: apiServerUrl(run.spec, m.ip) } });
    doc.contexts.push({ name: `${cluster}-${m.name}`, context: { cluster: `${cluster}-${m.name}`, user: input.user } });
  }
  if (opts.currentContext && doc.contexts.some((c) => c.name === opts.currentContext)) doc['current-context'] = opts.currentContext;
  return yaml().stringify(doc, { lineWidth: 0 });
}

/** A kubeconfig holds a private key: written atomically, mode 0600, by the project's one atomic writer. */
export async function writeSecretFile(file: string, content: string): Promise<void> {
  await writeFileAtomic(file, content, 0o600);
}

/** kubectl on this machine's PATH, or null. */
export function localKubectl(env: NodeJS.ProcessEnv = process.env): string | null {
  for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const p = path.join(dir, 'kubectl');
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return null;
}

interface ViewJson {
  clusters?: Array<{ name: string; cluster: { server?: string; 'certificate-authority-data'?: string } }>;
  users?: Array<{ name: string; user: { 'client-certificate-data'?: string; 'client-key-data'?: string } }>;
  'current-context'?: string;
}

/** What is wrong with an admin kubeconfig as kubectl (or the yaml parser) reads it, or null. */
export function kubeconfigProblem(view: ViewJson, run: Pick<RunContext, 'spec'>, ca: string, cert: string): string | null {
  const cluster = clusterName(run.spec);
  const c = view.clusters?.find((x) => x.name === cluster);
  if (!c) return `no cluster ${cluster}`;
  if (c.cluster.server !== apiServerUrl(run.spec)) return `cluster ${cluster} points at ${c.cluster.server}, not ${apiServerUrl(run.spec)}`;
  if (Buffer.from(c.cluster['certificate-authority-data'] ?? '', 'base64').toString() !== ca) return 'its CA is not the workspace CA';
  const u = view.users?.find((x) => x.name === `${cluster}-admin`);
  if (!u) return `no user ${cluster}-admin`;
  if (Buffer.from(u.user['client-certificate-data'] ?? '', 'base64').toString() !== cert) return 'its client certificate is not the workspace admin certificate';
  // Another master's context is fine: `kcore-wizard kubeconfig --healthy` switches to one that answers.
  if (!adminContexts(run.spec).includes(view['current-context'] ?? '')) return `current context is ${view['current-context'] ?? 'unset'}, not ${cluster}`;
  return null;
}

/** The local kubectl's arguments in the two smoke tests below (`explain` shows the same lists). */
export const viewArgs = (kubeconfig: string) => ['config', 'view', '--kubeconfig', kubeconfig, '--raw', '-o', 'json'];
export const readyzArgs = (kubeconfig: string) => ['--kubeconfig', kubeconfig, '--request-timeout=10s', 'get', '--raw', '/readyz'];

export const kubectlRole: Role = {
  name: 'kubectl',
  why: "Gives you the keys to the cluster on this machine: the admin kubeconfig in the workspace (`kubeconfig`, 0600), so kubectl here can talk to the API server as cluster-admin. `kcore-wizard kubeconfig --merge` adds it to your own ~/.kube/config without touching the other entries.",
  docs: 'https://kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/',
  concepts: [
    {
      name: 'kubeconfig: clusters, users, contexts',
      text: 'A kubeconfig names clusters (an API server URL and the CA to check it with), users (here a client certificate and key) and contexts that pair one with the other; current-context says which kubectl uses. With more than one master this file has a context per master (kcore-<name>-kube-master-02 …), so `kubectl --context` still reaches the cluster when the first master is down.',
      docs: 'https://kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/',
    },
  ],
  local: true,
  serves: ['kube-master'],
  hosts: () => [],
  tasks: [
    task({
      name: 'admin kubeconfig in the workspace',
      why: "Writes the workspace's admin kubeconfig: the first master's API server, the cluster CA, and the admin certificate and key embedded (user kcore-<name>-admin, group system:masters). Written atomically with mode 0600 because it holds a private key that opens the whole cluster.",
      async gather(ctx) {
        const file = adminKubeconfigPath(ctx.run.workspace);
        let have: string | null = null;
        let mode: number | null = null;
        try {
          have = await readFile(file, 'utf8');
          mode = (await stat(file)).mode & 0o777;
        } catch {
          /* not there yet */
        }
        const want = await adminKubeconfig(ctx.run, { currentContext: keptContext(have, ctx.run.spec) });
        return { file, want, have, mode };
      },
      plan(_ctx, g) {
        if (g.have === null) return [`create ${g.file} (mode 0600, admin credentials of the cluster)`];
        const why = [g.have !== g.want ? 'content differs' : '', g.mode !== 0o600 ? `mode ${g.mode?.toString(8)} → 600` : ''].filter(Boolean);
        return why.length ? [`update ${g.file} (${why.join(', ')})`] : [];
      },
      async apply(ctx, g) {
        await writeSecretFile(g.file, g.want);
        ctx.output(`wrote ${g.file}`);
      },
    }),

    smokeTest('kubectl reads the admin kubeconfig (server, CA, admin certificate)', async (ctx) => {
      const file = adminKubeconfigPath(ctx.run.workspace);
      try {
        await stat(file);
      } catch {
        throw new TaskFailure(`there is no ${file} yet`, 'it is written by `kcore-wizard converge` (the kubectl role, after the PKI)');
      }
      const kubectl = localKubectl();
      let view: ViewJson;
      if (kubectl) {
        const { execa } = await import('execa'); // loaded only when kubectl really runs
        const r = await execa(kubectl, viewArgs(file), { reject: false, cancelSignal: ctx.signal });
        if (r.exitCode !== 0) throw new TaskFailure(`kubectl cannot read ${file}: ${r.stderr.trim().split('\n').pop()}`, 'run `kcore-wizard converge --tags kubectl` to write it again');
        view = JSON.parse(r.stdout) as ViewJson;
      } else {
        try {
          view = parseKubeconfig(await readFile(file, 'utf8'), file) as ViewJson;
        } catch (e) {
          throw new TaskFailure(`${file}: ${(e as Error).message}`, 'run `kcore-wizard converge --tags kubectl`');
        }
      }
      const problem = kubeconfigProblem(view, ctx.run, (await readPki(ctx, ctx.run.pki.ca.cert)).toString(), (await readPki(ctx, ctx.run.pki.admin.cert)).toString());
      if (problem) throw new TaskFailure(`${file}: ${problem}`, 'run `kcore-wizard converge --tags kubectl` to write it again');
    }, { why: "Reads the workspace kubeconfig as kubectl does (or as YAML when this machine has no kubectl) and checks it names the right server, the workspace CA and the admin certificate, so a stale or hand-edited file is caught." }),
    smokeTest(
      'the API server answers this machine with the admin kubeconfig',
      async (ctx) => {
        const file = adminKubeconfigPath(ctx.run.workspace);
        const { execa } = await import('execa');
        const r = await execa(localKubectl()!, readyzArgs(file), { reject: false, cancelSignal: ctx.signal });
        if (r.exitCode !== 0 || r.stdout.trim() !== 'ok')
          throw new TaskFailure(`${apiServerUrl(ctx.run.spec)}/readyz from this machine: ${(r.stderr || r.stdout).trim().split('\n').pop()}`, `is the private network reachable from here? (the masters answer it over SSH: kcore-wizard test --tags kube-master)${hostsOf(ctx.run.spec, 'kube-master').length > 1 ? '; with this master down, `kcore-wizard kubeconfig --healthy` switches the file to one that answers' : ''}`);
      },
      // It asks a master's API server: nothing to ask (and no timeout to wait for) when every master failed.
      { needs: ['kube-master'], skip: () => (localKubectl() ? undefined : 'kubectl is not installed on this machine'), why: 'Uses the kubeconfig from this machine for real: /readyz through the private network, with the admin certificate. It proves you can run kubectl from here, not only from the masters.' },
    ),
  ],
};
