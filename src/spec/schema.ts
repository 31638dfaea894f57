/**
 * The cluster spec: one typed description of a cluster, saved as `kcore.yaml` in a workspace folder.
 * Everything else (Vagrantfile, inventory, PKI, host plans) is derived from it.
 *
 * The zod schema checks shape and types (unknown keys are refused at every level); the cross-field
 * rules that need the whole spec (IP plan, CIDR overlaps, quorum) live in validate.ts.
 */
import { z } from 'zod';

import { FLATCAR_CHANNELS, GROUPS, MAX_CPUS, MAX_MEMORY_MB, PROVIDERS } from './names.js';

export { FLATCAR_CHANNELS, GROUPS, MAX_CPUS, MAX_MEMORY_MB, PROVIDERS };
export type { GroupName, Provider } from './names.js';

const semver = z.string().regex(/^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$/, 'expected a version like 1.2.3 (no leading "v")');
const ipv4 = z.string().regex(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/, 'expected an IPv4 address like 10.3.0.10');
const cidr = z.string().regex(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/, 'expected an IPv4 CIDR like 10.2.0.0/16');
const hostname = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'expected a lower-case DNS label (letters, digits, "-")');


export const groupSchema = z.strictObject({
  count: z.number().int('must be a whole number'),
  // Upper bounds catch a typo or a unit slip (GB for MB) before any machine is sized; preflight then checks the host.
  memory: z.number().int('must be a whole number of megabytes').max(MAX_MEMORY_MB, `at most ${MAX_MEMORY_MB} MB (256 GB) per machine: memory is in megabytes (2048 is 2 GB)`),
  cpus: z.number().int('must be a whole number').min(1, 'at least 1 CPU').max(MAX_CPUS, `at most ${MAX_CPUS} CPUs per machine`),
});
export type GroupSpec = z.infer<typeof groupSchema>;

export const machineSchema = z.strictObject({
  name: hostname,
  address: z.string().min(1, 'an IP address or DNS name'),
  group: z.enum(GROUPS),
  port: z.number().int().min(1).max(65535).default(22),
  /** The address on the cluster's private network, when `address` is not it (e.g. a public IP). */
  privateIp: ipv4.optional(),
});
export type MachineSpec = z.infer<typeof machineSchema>;

export const specSchema = z.strictObject({
  apiVersion: z.literal('kcore-wizard/v1'),
  name: hostname,
  provider: z.enum(PROVIDERS),
  box: z.strictObject({
    /** Vagrant box name as vagrant knows it (`vagrant box list`). */
    name: z.string().min(1),
    /** Where vagrant downloads it from; empty for a box that is built locally (`kcore-wizard box build`). */
    url: z.string().default(''),
    /** Flatcar release channel, used for the default Flatcar box URL. */
    channel: z.enum(FLATCAR_CHANNELS).default('stable'),
  }),
  ssh: z.strictObject({
    user: z.string().regex(/^[a-z_][a-z0-9_-]*$/, 'expected a Unix user name'),
    /** Private key for provider `existing` (relative to the workspace); otherwise ssh-agent is used. Vagrant providers take theirs from ssh.config. */
    identityFile: z.string().min(1).optional(),
  }),
  groups: z.strictObject({
    etcd: groupSchema,
    'kube-master': groupSchema,
    'kube-worker': groupSchema,
  }),
  network: z.strictObject({
    /** The first three octets of the private host network: hosts get <prefix>.1x1 … <prefix>.1x9. */
    prefix: z.string().regex(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/, 'expected three octets like 10.0.0'),
    serviceCidr: cidr,
    podCidr: cidr,
    dnsIp: ipv4,
    domain: z.string().regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/, 'expected a DNS domain like cluster.local'),
  }),
  versions: z.strictObject({
    kubernetes: semver,
    etcd: semver,
    containerd: semver,
    cni: semver,
    flannel: semver,
    coredns: semver,
  }),
  artifacts: z.strictObject({
    /**
     * Where binaries come from: `official` (the projects' release downloads), an http(s) base URL of a
     * mirror that holds the files under their official names with a SHA256SUMS file, or a local folder
     * laid out the same way (relative paths are relative to the workspace).
     */
    source: z.string().min(1),
  }),
  addons: z.strictObject({
    dns: z.boolean(),
    dashboard: z.boolean(),
  }),
  kubelet: z
    .strictObject({
      /**
       * Let the kubelet start on a cgroup v1 (or hybrid) machine: `failCgroupV1: false`. Since 1.35 the
       * kubelet refuses cgroup v1 by default (KEP-5573); v1 is in maintenance mode upstream and will go.
       */
      allowCgroupV1: z.boolean().default(false),
    })
    .default({ allowCgroupV1: false }),
  /** Only with provider `existing`: the machines to configure, by address. */
  machines: z.array(machineSchema).default([]),
});

export type ClusterSpec = z.infer<typeof specSchema>;
export type ClusterSpecInput = z.input<typeof specSchema>;
