/**
 * The yaml package for the Kubernetes roles, loaded on first use. Imported statically it was evaluated by every
 * command that loads the roles (~20-30 ms of `test` or `converge --limit etcd`, which never write a manifest or a
 * kubeconfig). The spec's parser (spec/parse.ts) imports it as usual: that module itself loads on demand.
 */
import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';

let loaded: typeof Yaml | undefined;

export function yaml(): typeof Yaml {
  return (loaded ??= createRequire(import.meta.url)('yaml') as typeof Yaml);
}
