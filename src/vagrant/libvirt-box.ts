/**
 * The libvirt box. Flatcar publishes no vagrant-libvirt box, only a VirtualBox one; it does publish a
 * QEMU image, `flatcar_production_qemu_image.img` (qcow2, uncompressed in current releases; see
 * https://www.flatcar.org/docs/latest/getting-started/quickstart/ and flatcar/scripts
 * build_library/vm_image_util.sh, `qemu` format), with `<image>.DIGESTS` and `.DIGESTS.asc` beside it.
 *
 * `kcore-wizard box build --provider libvirt` downloads that image, checks it against its DIGESTS
 * (SHA-512, src/vagrant/digests.ts), and packages it in vagrant-libvirt's box format
 * (https://vagrant-libvirt.github.io/vagrant-libvirt/boxes.html): a tar of `box.img` (qcow2),
 * `metadata.json` ({provider, format, virtual_size in GiB}) and a `Vagrantfile`, plus `config.ign`.
 *
 * Flatcar has no password and no key for `core` until Ignition gives one: the box's Vagrantfile passes
 * `config.ign` to QEMU through fw_cfg under `opt/org.flatcar-linux/config` (Flatcar's QEMU docs,
 * https://www.flatcar.org/docs/latest/installing/vms/qemu/), with vagrant-libvirt's `qemuargs`.
 * The key is Vagrant's well-known insecure public key, read from the installed vagrant: the cluster
 * Vagrantfile sets `config.ssh.insert_key = true`, so on the first `vagrant up` vagrant logs in with it
 * and replaces it with a key pair generated for that machine, as with every public box (and our lxc
 * box). A per-workspace key would need a box per workspace, and vagrant would still replace it.
 *
 * Unproven here: QEMU (as libvirt-qemu, under AppArmor or SELinux) must be able to read config.ign
 * inside vagrant's box folder. fw_cfg files are not disks, so libvirt's virt-aa-helper does not add them
 * to the VM's profile (coreos/bugs#2083, Flatcar's libvirt docs add an AppArmor rule for it).
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import type { EventSink } from '../engine/events.js';
import { pathExists, replaceFile } from '../util/fs.js';
import { downloadVerified, type DigestAlgo } from './digests.js';
import { boxAdd } from './vagrant.js';

export const FLATCAR_QEMU_IMAGE = 'flatcar_production_qemu_image.img';
/** The fw_cfg name Flatcar's Ignition reads its config from on QEMU. */
export const FLATCAR_FW_CFG_NAME = 'opt/org.flatcar-linux/config';
/** Ignition spec version written into config.ign (Butane's flatcar 1.0.0 variant emits 3.3.0). */
export const IGNITION_VERSION = '3.3.0';

export function libvirtBoxName(channel: string): string {
  return `kcore/flatcar-${channel}`;
}

export function flatcarQemuImageUrl(channel: string): string {
  return `https://${channel}.release.flatcar-linux.net/amd64-usr/current/${FLATCAR_QEMU_IMAGE}`;
}

/** Ignition config (spec 3.3.0) giving `core` the given public keys. */
export function ignitionConfig(publicKeys: string[]): { ignition: { version: string }; passwd: { users: Array<{ name: string; sshAuthorizedKeys: string[] }> } } {
  if (!publicKeys.length) throw new Error('no public key to give the core user');
  return { ignition: { version: IGNITION_VERSION }, passwd: { users: [{ name: 'core', sshAuthorizedKeys: publicKeys }] } };
}

/** Vagrant's insecure public key(s), from the vagrant installation (`keys/vagrant.pub`). */
export async function vagrantInsecurePublicKeys(candidates?: string[]): Promise<string[]> {
  const list = candidates ?? (await defaultVagrantKeyPaths());
  for (const p of list) {
    if (!(await pathExists(p))) continue;
    const keys = (await readFile(p, 'utf8')).split('\n').map((l) => l.trim()).filter((l) => /^(ssh-(rsa|ed25519)|ecdsa-sha2-\S+) /.test(l));
    if (keys.length) return keys;
  }
  throw new Error(`Vagrant's insecure public key was not found (looked in ${list.join(', ') || 'no vagrant installation'}): install vagrant first`);
}

async function defaultVagrantKeyPaths(): Promise<string[]> {
  const out: string[] = [];
  for (const root of ['/usr/share/rubygems-integration/all/gems', '/opt/vagrant/embedded/gems/gems', '/opt/vagrant/embedded/gems/2.0.0/gems']) {
    try {
      for (const d of (await readdir(root)).filter((n) => /^vagrant-\d/.test(n)).sort().reverse()) out.push(path.join(root, d, 'keys', 'vagrant.pub'));
    } catch {
      // not this layout
    }
  }
  return out;
}

/** The Vagrantfile inside the box: libvirt defaults and the Ignition config through fw_cfg. */
export function boxVagrantfile(): string {
  return [
    '# Written by kcore-wizard box build --provider libvirt. Flatcar reads its Ignition config from',
    `# QEMU's fw_cfg (${FLATCAR_FW_CFG_NAME}); config.ign sits next to this file in the box.`,
    'Vagrant.configure("2") do |config|',
    '  config.ssh.username = "core"',
    '  config.vm.synced_folder ".", "/vagrant", disabled: true',
    '  config.vm.provider :libvirt do |libvirt|',
    '    libvirt.driver = "kvm"',
    '    libvirt.disk_bus = "virtio"',
    '    libvirt.qemuargs :value => "-fw_cfg"',
    `    libvirt.qemuargs :value => "name=${FLATCAR_FW_CFG_NAME},file=#{File.expand_path("config.ign", __dir__)}"`,
    '  end',
    'end',
    '',
  ].join('\n');
}

export interface QemuImageInfo {
  format: string;
  virtualSize: number;
}

export async function qemuImageInfo(file: string, signal?: AbortSignal): Promise<QemuImageInfo> {
  const r = await execa('qemu-img', ['info', '--output', 'json', file], { reject: false, cancelSignal: signal });
  if (r.exitCode !== 0) throw new Error(`qemu-img info ${file} failed${r.exitCode === undefined ? ' (is qemu-utils installed? `apt-get install qemu-utils`)' : ''}: ${String(r.stderr).trim()}`);
  const j = JSON.parse(String(r.stdout)) as { format?: string; 'virtual-size'?: number };
  if (typeof j['virtual-size'] !== 'number' || !j.format) throw new Error(`qemu-img info ${file}: no format or virtual-size in its output`);
  return { format: j.format, virtualSize: j['virtual-size'] };
}

/**
 * Package a qcow2 image as a vagrant-libvirt box at `outFile` (written to a temporary name, then
 * renamed). Returns the metadata written.
 */
export async function packageLibvirtBox(opts: { image: string; outFile: string; publicKeys: string[]; signal?: AbortSignal; emit?: EventSink }): Promise<{ provider: 'libvirt'; format: 'qcow2'; virtual_size: number }> {
  const info = await qemuImageInfo(opts.image, opts.signal);
  if (info.format !== 'qcow2') throw new Error(`${opts.image} is ${info.format}, not qcow2: vagrant-libvirt boxes hold a qcow2 image`);
  // vagrant-libvirt reads virtual_size in GiB (rounded up).
  const metadata = { provider: 'libvirt' as const, format: 'qcow2' as const, virtual_size: Math.ceil(info.virtualSize / 1024 ** 3) };
  const work = `${opts.outFile}.work-${randomBytes(4).toString('hex')}`;
  await mkdir(work, { recursive: true, mode: 0o700 });
  try {
    await copyFile(opts.image, path.join(work, 'box.img'));
    await writeFile(path.join(work, 'metadata.json'), JSON.stringify(metadata, null, 2) + '\n');
    await writeFile(path.join(work, 'Vagrantfile'), boxVagrantfile());
    await writeFile(path.join(work, 'config.ign'), JSON.stringify(ignitionConfig(opts.publicKeys)) + '\n');
    await replaceFile(opts.outFile, async (tmp) => {
      const r = await execa('tar', ['-czf', tmp, '-C', work, 'metadata.json', 'Vagrantfile', 'config.ign', 'box.img'], { reject: false, cancelSignal: opts.signal });
      if (r.exitCode !== 0) throw new Error(`packaging ${opts.outFile} failed: ${String(r.stderr).trim()}`);
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  opts.emit?.({ type: 'log', at: Date.now(), level: 'info', message: `packaged ${opts.outFile} (virtual size ${metadata.virtual_size} GiB)` });
  return metadata;
}

export interface LibvirtBoxResult {
  name: string;
  boxFile: string;
  algo: DigestAlgo;
  hash: string;
  added: boolean;
  metadata: { provider: 'libvirt'; format: 'qcow2'; virtual_size: number };
}

/** Download + verify Flatcar's QEMU image, package it as a vagrant-libvirt box, `vagrant box add` it. */
export async function buildLibvirtBox(opts: { channel: string; cacheDir: string; url?: string; noAdd?: boolean; fetchImpl?: typeof fetch; keyPaths?: string[]; emit?: EventSink; signal?: AbortSignal; env?: NodeJS.ProcessEnv }): Promise<LibvirtBoxResult> {
  const url = opts.url ?? flatcarQemuImageUrl(opts.channel);
  const name = libvirtBoxName(opts.channel);
  const dir = path.join(opts.cacheDir, `flatcar-${opts.channel}-libvirt`);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const image = path.join(dir, FLATCAR_QEMU_IMAGE);
  const publicKeys = await vagrantInsecurePublicKeys(opts.keyPaths);
  const v = await downloadVerified(url, image, { fetchImpl: opts.fetchImpl, signal: opts.signal });
  const boxFile = path.join(dir, `kcore-flatcar-${opts.channel}-libvirt.box`);
  const metadata = await packageLibvirtBox({ image, outFile: boxFile, publicKeys, signal: opts.signal, emit: opts.emit });
  await rm(image, { force: true });
  if (!opts.noAdd) await boxAdd(boxFile, { name, provider: 'libvirt', force: true, emit: opts.emit, signal: opts.signal, env: opts.env });
  return { name, boxFile, ...v, added: !opts.noAdd, metadata };
}
