/**
 * The fixed names and limits of the cluster spec, apart from its zod schema (schema.ts): the commands that only
 * read a spec (converge, test, …) use them without loading zod, which the spec cache (load.ts) spares them.
 */
export const GROUPS = ['etcd', 'kube-master', 'kube-worker'] as const;
export type GroupName = (typeof GROUPS)[number];

export const PROVIDERS = ['virtualbox', 'libvirt', 'lxc', 'existing'] as const;
export type Provider = (typeof PROVIDERS)[number];

export const FLATCAR_CHANNELS = ['stable', 'beta', 'alpha'] as const;

/** Per machine. */
export const MAX_MEMORY_MB = 262_144;
export const MAX_CPUS = 128;
