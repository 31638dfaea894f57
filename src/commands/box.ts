/**
 * `kcore-wizard box build --provider lxc`: build (or reuse from the cache) the Debian 12 vagrant-lxc
 * box and add it to vagrant as kcore/debian-12.
 * `kcore-wizard box add [DIR]`: download the spec's Flatcar box, check it against the release's
 * published DIGESTS, and add it (virtualbox, libvirt).
 */
import path from 'node:path';
import { fanOut, type EngineEvent } from '../engine/events.js';
import { createJsonRenderer, createPlainRenderer } from '../output/plain.js';
import { UsageError } from '../spec/errors.js';
import { loadSpec } from '../spec/load.js';
import { FLATCAR_CHANNELS } from '../spec/schema.js';
import { addFlatcarBox, buildLxcBox, DEFAULT_BOX_CACHE, fileSizeMb } from '../vagrant/box.js';
import { buildLibvirtBox, flatcarQemuImageUrl } from '../vagrant/libvirt-box.js';
import { outputFormat, stringFlag, type CommandDef } from './args.js';
import { resolveWorkspace, workspaceOptions, helpOption, outputOption } from './workspace.js';

export const boxCommand: CommandDef = {
  name: 'box',
  summary: 'Vagrant boxes: `box build --provider lxc|libvirt` builds a box here; `box add` fetches and verifies the Flatcar box.',
  usage:
    'kcore-wizard box build --provider lxc [--rebuild] [--cache-dir DIR] [--mirror URL]\n       kcore-wizard box build --provider libvirt [--channel stable] [--image-url URL] [--cache-dir DIR]\n       kcore-wizard box add [DIR]',
  details: [
    'build: debootstrap Debian 12 (systemd, OpenSSH, sudo, the vagrant user) from the mirror apt uses, package it for',
    `vagrant-lxc and add it as kcore/debian-12. Needs root. Cached in ${DEFAULT_BOX_CACHE}: a second build only re-adds it.`,
    'build --provider libvirt: download Flatcar\'s QEMU image, check it against its .DIGESTS (SHA-512), package it as a',
    'vagrant-libvirt box (qcow2, metadata.json, a Vagrantfile passing Ignition through fw_cfg) and add it as kcore/flatcar-<channel>.',
    "add: download the workspace's box.url, check it against <url>.DIGESTS (SHA-512), then `vagrant box add`.",
  ].join('\n'),
  options: {
    ...workspaceOptions,
    provider: { type: 'string', valueName: 'provider', description: 'build: the provider to build for (only lxc can be built here)' },
    rebuild: { type: 'boolean', description: 'build: ignore the cache and build again' },
    'cache-dir': { type: 'string', valueName: 'dir', description: `build: cache folder (default ${DEFAULT_BOX_CACHE})` },
    channel: { type: 'string', valueName: 'channel', description: 'build --provider libvirt: Flatcar channel (stable, beta, alpha; default stable)' },
    'image-url': { type: 'string', valueName: 'url', description: "build --provider libvirt: the QEMU image URL (default: the channel's current release); <url>.DIGESTS must be beside it" },
    mirror: { type: 'string', valueName: 'url', description: "build: Debian mirror (default: the one in apt's sources)" },
    'no-add': { type: 'boolean', description: 'build: make the .box file only, do not add it to vagrant' },
    output: outputOption,
    help: helpOption,
  },
  async run(ctx) {
    const [sub, ...rest] = ctx.positionals;
    const format = outputFormat(ctx.values);
    const write = (s: string) => void ctx.stdout.write(s);
    const events: EngineEvent[] = [];
    const emit = fanOut(format === 'json' ? createJsonRenderer(write) : createPlainRenderer(write), (e) => events.push(e));

    if (sub === 'build') {
      const provider = stringFlag(ctx.values, 'provider') ?? 'lxc';
      if (provider !== 'lxc' && provider !== 'libvirt')
        throw new UsageError(
          `box build builds lxc and libvirt boxes; ${provider} uses the published Flatcar box: \`kcore-wizard box add\` downloads and verifies it (or \`kcore-wizard up\` does on first use)`,
        );
      if (rest.length) throw new UsageError(`box build takes no folder (got ${rest.join(' ')})`);
      if (provider === 'libvirt') {
        const channel = stringFlag(ctx.values, 'channel') ?? 'stable';
        if (!(FLATCAR_CHANNELS as readonly string[]).includes(channel)) throw new UsageError(`--channel ${channel}: Flatcar's channels are ${FLATCAR_CHANNELS.slice(0, -1).join(', ')} and ${FLATCAR_CHANNELS.at(-1)}`);
        const url = stringFlag(ctx.values, 'image-url') ?? flatcarQemuImageUrl(channel);
        const r = await buildLibvirtBox({
          channel,
          url,
          // No root needed for this box: a normal user caches it in their own cache folder.
          cacheDir:
            stringFlag(ctx.values, 'cache-dir') ??
            (process.getuid?.() === 0 ? DEFAULT_BOX_CACHE : path.join(ctx.env.XDG_CACHE_HOME ?? path.join(ctx.env.HOME ?? '/tmp', '.cache'), 'kcore-wizard', 'boxes')),
          noAdd: !!ctx.values['no-add'],
          emit,
          signal: ctx.signal,
          env: ctx.env,
        });
        if (format === 'json') write(JSON.stringify({ type: 'box-result', ...r }) + '\n');
        else
          write(
            `\n${r.name}: ${r.algo.toUpperCase()} ${r.hash.slice(0, 16)}… matches ${url}.DIGESTS; packaged ${r.boxFile} (${await fileSizeMb(r.boxFile)} MB)` +
              `${r.added ? ', added to vagrant' : ''}\nnext: kcore-wizard init --provider libvirt && kcore-wizard up\n`,
          );
        return 0;
      }
      const r = await buildLxcBox({
        cacheDir: stringFlag(ctx.values, 'cache-dir'),
        mirror: stringFlag(ctx.values, 'mirror'),
        rebuild: !!ctx.values.rebuild,
        noAdd: !!ctx.values['no-add'],
        emit,
        signal: ctx.signal,
        env: ctx.env,
      });
      if (format === 'json') write(JSON.stringify({ type: 'box-result', ...r }) + '\n');
      else
        write(
          `\n${r.name}: ${r.built ? 'built' : 'reused from the cache'}${r.added ? ', added to vagrant' : ctx.values['no-add'] ? '' : ', already in vagrant'} in ${(r.durationMs / 1000).toFixed(1)} s\n` +
            `  ${r.boxFile} (${await fileSizeMb(r.boxFile)} MB)\nnext: kcore-wizard init --provider lxc && kcore-wizard up\n`,
        );
      return 0;
    }
    if (sub === 'add') {
      const workspace = resolveWorkspace({ ...ctx, positionals: rest });
      const { spec } = await loadSpec(workspace);
      if (spec.provider !== 'virtualbox' && spec.provider !== 'libvirt')
        throw new UsageError(
          spec.provider === 'lxc' ? 'provider lxc: the box is built here, run `kcore-wizard box build --provider lxc`' : 'provider existing uses no box',
        );
      if (!spec.box.url) throw new UsageError(`kcore.yaml gives no box.url for ${spec.box.name}: set it, or \`vagrant box add\` the box yourself`);
      const v = await addFlatcarBox({ name: spec.box.name, url: spec.box.url, provider: spec.provider, emit, signal: ctx.signal, env: ctx.env });
      if (format === 'json') write(JSON.stringify({ type: 'box-result', name: spec.box.name, ...v }) + '\n');
      else write(`\n${spec.box.name} added (${v.algo.toUpperCase()} ${v.hash.slice(0, 16)}… matches the published DIGESTS)\n`);
      return 0;
    }
    throw new UsageError(`box needs a subcommand: build or add (got ${sub === undefined ? 'nothing' : `"${sub}"`}). Run \`kcore-wizard box --help\``);
  },
};
