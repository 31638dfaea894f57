/**
 * The libvirt box made from Flatcar's QEMU image (src/vagrant/libvirt-box.ts). What runs here: the
 * packaging of a real qcow2 made with qemu-img (Debian's qemu-utils), the tar layout vagrant-libvirt
 * reads (https://vagrant-libvirt.github.io/vagrant-libvirt/boxes.html: box.img, metadata.json with
 * provider/format/virtual_size, an optional Vagrantfile), the Ignition config checked against the
 * Ignition 3.3.0 spec (https://coreos.github.io/ignition/configuration-v3_3/), the box's Vagrantfile
 * evaluated by real Ruby, and the download/verify path against a local HTTP server with a DIGESTS file
 * in Flatcar's layout. A real Flatcar image and a libvirt VM do not run here (no internet, no KVM).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultBox } from '../../src/spec/index.js';
import { runCli } from '../support/cli.js';
import {
  FLATCAR_FW_CFG_NAME,
  boxVagrantfile,
  flatcarQemuImageUrl,
  ignitionConfig,
  packageLibvirtBox,
  vagrantInsecurePublicKeys,
} from '../../src/vagrant/libvirt-box.js';
import { downloadVerified } from '../../src/vagrant/digests.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const PROBE = path.join(ROOT, 'test/support/vagrantfile-probe.rb');
const VAGRANT_PUB = '/usr/share/rubygems-integration/all/gems/vagrant-2.3.4/keys/vagrant.pub';

/**
 * Ignition 3.3.0's top-level keys and the passwd.users[] fields (configuration-v3_3.md); anything
 * else is refused by Ignition ("unused key" is an error for configs in the 3.x series).
 */
const IGN_TOP = new Set(['ignition', 'kernelArguments', 'passwd', 'storage', 'systemd']);
const IGN_USER = new Set(['name', 'passwordHash', 'sshAuthorizedKeys', 'uid', 'gecos', 'homeDir', 'noCreateHome', 'primaryGroup', 'groups', 'noUserGroup', 'noLogInit', 'shell', 'system', 'should_exist']);
function checkIgnition33(cfg: unknown): string[] {
  const errs: string[] = [];
  const c = cfg as Record<string, unknown>;
  for (const k of Object.keys(c)) if (!IGN_TOP.has(k)) errs.push(`unknown key ${k}`);
  const ign = c.ignition as { version?: unknown } | undefined;
  if (ign?.version !== '3.3.0') errs.push(`ignition.version ${String(ign?.version)}`);
  const users = (c.passwd as { users?: unknown[] } | undefined)?.users ?? [];
  for (const u of users as Array<Record<string, unknown>>) {
    for (const k of Object.keys(u)) if (!IGN_USER.has(k)) errs.push(`unknown user key ${k}`);
    if (typeof u.name !== 'string' || !u.name) errs.push('user without name');
    if (!Array.isArray(u.sshAuthorizedKeys) || u.sshAuthorizedKeys.some((k) => typeof k !== 'string')) errs.push('sshAuthorizedKeys is not a list of strings');
  }
  return errs;
}

describe('libvirt box packaging (real qemu-img, tar and Ruby)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'kcore-libvirt-box-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('packages a qcow2 into box.img + metadata.json + Vagrantfile + config.ign', async () => {
    const image = path.join(dir, 'src.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', image, '3G']);
    const keys = await vagrantInsecurePublicKeys([VAGRANT_PUB]);
    const box = path.join(dir, 'test.box');
    const meta = await packageLibvirtBox({ image, outFile: box, publicKeys: keys });
    expect(meta).toEqual({ provider: 'libvirt', format: 'qcow2', virtual_size: 3 });

    const listing = execFileSync('tar', ['-tzf', box], { encoding: 'utf8' }).trim().split('\n').sort();
    expect(listing).toEqual(['Vagrantfile', 'box.img', 'config.ign', 'metadata.json']);
    const out = path.join(dir, 'x');
    execFileSync('mkdir', ['-p', out]);
    execFileSync('tar', ['-xzf', box, '-C', out]);
    // No stray work folder or temporary file is left beside the box.
    expect((await readdir(dir)).sort()).toEqual(['src.qcow2', 'test.box', 'x']);

    expect(JSON.parse(await readFile(path.join(out, 'metadata.json'), 'utf8'))).toEqual({ provider: 'libvirt', format: 'qcow2', virtual_size: 3 });
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--output', 'json', path.join(out, 'box.img')], { encoding: 'utf8' })) as { format: string; 'virtual-size': number };
    expect(info.format).toBe('qcow2');
    expect(info['virtual-size']).toBe(3 * 1024 ** 3);

    const ign = JSON.parse(await readFile(path.join(out, 'config.ign'), 'utf8')) as ReturnType<typeof ignitionConfig>;
    expect(checkIgnition33(ign)).toEqual([]);
    const pub = (await readFile(VAGRANT_PUB, 'utf8')).trim().split('\n').filter(Boolean);
    expect(ign.passwd.users).toEqual([{ name: 'core', sshAuthorizedKeys: pub }]);

    // The box's Vagrantfile, evaluated by Ruby: fw_cfg carries the config.ign beside it.
    const vf = path.join(out, 'Vagrantfile');
    execFileSync('ruby', ['-c', vf], { stdio: 'pipe' });
    const p = JSON.parse(execFileSync('ruby', [PROBE, vf], { encoding: 'utf8' })) as { ssh: Record<string, unknown>; providers: Record<string, { qemuargs?: unknown[][]; driver?: string }> };
    expect(p.ssh.username).toBe('core');
    const lv = p.providers.libvirt!;
    expect(lv.driver).toBe('kvm');
    expect(lv.qemuargs).toEqual([[{ value: '-fw_cfg' }], [{ value: `name=${FLATCAR_FW_CFG_NAME},file=${path.join(out, 'config.ign')}` }]]);
    expect(FLATCAR_FW_CFG_NAME).toBe('opt/org.flatcar-linux/config');
  });

  it('refuses an image that is not qcow2', async () => {
    const raw = path.join(dir, 'raw.img');
    execFileSync('qemu-img', ['create', '-q', '-f', 'raw', raw, '1M']);
    await expect(packageLibvirtBox({ image: raw, outFile: path.join(dir, 'raw.box'), publicKeys: ['ssh-ed25519 AAAA x'] })).rejects.toThrow(/is raw, not qcow2/);
    await rm(raw);
  });

  it('the Ignition check itself refuses a wrong version and unknown keys', () => {
    expect(checkIgnition33({ ignition: { version: '2.2.0' }, passwd: { users: [{ name: 'core', sshKeys: ['x'] }] } })).toHaveLength(3);
    expect(() => ignitionConfig([])).toThrow(/no public key/);
    expect(boxVagrantfile()).toContain('-fw_cfg');
  });
});

describe('Flatcar QEMU image download (local HTTP server, Flatcar DIGESTS layout)', () => {
  const IMAGE = Buffer.from('QFI\xfb not really a Flatcar image '.repeat(1000), 'latin1');
  let server: Server;
  let base: string;
  let tamper = false;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'kcore-libvirt-dl-'));
    const sha512 = createHash('sha512').update(IMAGE).digest('hex');
    const md5 = createHash('md5').update(IMAGE).digest('hex');
    // As published: sections per algorithm, `<hex>  <file>` lines (the catalyst DIGESTS layout).
    const digests = `# MD5 HASH\n${md5}  flatcar_production_qemu_image.img\n# SHA1 HASH\n${createHash('sha1').update(IMAGE).digest('hex')}  flatcar_production_qemu_image.img\n# SHA512 HASH\n${sha512}  flatcar_production_qemu_image.img\n`;
    server = createServer((req, res) => {
      if (req.url === '/amd64-usr/current/flatcar_production_qemu_image.img.DIGESTS') res.end(digests);
      else if (req.url === '/amd64-usr/current/flatcar_production_qemu_image.img') res.end(tamper ? Buffer.concat([IMAGE, Buffer.from('x')]) : IMAGE);
      else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/amd64-usr/current`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  it('downloads, checks the SHA-512 and keeps the file', async () => {
    const file = path.join(dir, 'img');
    const v = await downloadVerified(`${base}/flatcar_production_qemu_image.img`, file);
    expect(v.algo).toBe('sha512');
    expect(await readFile(file)).toEqual(IMAGE);
  });

  it('a tampered image is refused and nothing is left behind', async () => {
    tamper = true;
    try {
      const d = await mkdtemp(path.join(dir, 't-'));
      await expect(downloadVerified(`${base}/flatcar_production_qemu_image.img`, path.join(d, 'img'))).rejects.toThrow(/does not match its published SHA512/);
      expect(await readdir(d)).toEqual([]);
    } finally {
      tamper = false;
    }
  });

  it('a missing DIGESTS stops before the image is fetched', async () => {
    await expect(downloadVerified(`${base}/nope.img`, path.join(dir, 'n'))).rejects.toThrow(/nope\.img\.DIGESTS: HTTP 404/);
  });

  it('the default libvirt box is the locally built one, from the QEMU image', () => {
    expect(defaultBox('libvirt')).toEqual({ name: 'kcore/flatcar-stable', url: '', channel: 'stable' });
    expect(flatcarQemuImageUrl('beta')).toBe('https://beta.release.flatcar-linux.net/amd64-usr/current/flatcar_production_qemu_image.img');
  });
});

describe('kcore-wizard box build --provider libvirt (the command, a real qcow2 over local HTTP)', () => {
  it('downloads, verifies and packages; a bad channel exits 2', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kcore-libvirt-cli-'));
    const image = path.join(dir, 'flatcar_production_qemu_image.img');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', image, '8G']);
    const bytes = await readFile(image);
    const digests = `# SHA512 HASH\n${createHash('sha512').update(bytes).digest('hex')}  flatcar_production_qemu_image.img\n`;
    const server = createServer((req, res) => res.end(req.url!.endsWith('.DIGESTS') ? digests : bytes));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/flatcar_production_qemu_image.img`;
      const cache = path.join(dir, 'cache');
      const r = await runCli(['box', 'build', '--provider', 'libvirt', '--image-url', url, '--cache-dir', cache, '--no-add', '--output', 'json']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const result = JSON.parse(r.stdout.trim().split('\n').pop()!) as { name: string; boxFile: string; algo: string; added: boolean; metadata: unknown };
      expect(result).toMatchObject({ name: 'kcore/flatcar-stable', algo: 'sha512', added: false, metadata: { provider: 'libvirt', format: 'qcow2', virtual_size: 8 } });
      expect(execFileSync('tar', ['-tzf', result.boxFile], { encoding: 'utf8' }).trim().split('\n').sort()).toEqual(['Vagrantfile', 'box.img', 'config.ign', 'metadata.json']);
      // The downloaded image is not kept once it is inside the box.
      expect(await readdir(path.dirname(result.boxFile))).toEqual([path.basename(result.boxFile)]);

      const bad = await runCli(['box', 'build', '--provider', 'libvirt', '--channel', 'nightly', '--cache-dir', cache]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/--channel nightly: Flatcar's channels are stable, beta and alpha/);
    } finally {
      await new Promise((r) => server.close(r));
      await rm(dir, { recursive: true, force: true });
    }
  });
});
