/**
 * Flatcar's newer Vagrant boxes leave networking to Vagrant's CoreOS guest plugin, which writes
 * COREOS_PUBLIC_IPV4/COREOS_PRIVATE_IPV4 into /etc/environment; with only a private network the
 * "public" address becomes 127.0.0.1 (vagrant: plugins/guests/coreos/cap/configure_networks.rb,
 * https://github.com/hashicorp/vagrant). kcore-wizard takes every address from the spec's IP plan
 * (src/spec/ip.ts) and checks it against the machine's interfaces (src/engine/facts.ts): nothing may
 * read those variables or /etc/environment for an address.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const FORBIDDEN = [/COREOS_(PUBLIC|PRIVATE)_IPV[46]/, /\/etc\/environment\b/, /EnvironmentFile=.*environment\b/];

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await files(p)));
    else out.push(p);
  }
  return out;
}

function offenders(name: string, text: string): string[] {
  const hits: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (FORBIDDEN.some((re) => re.test(line))) hits.push(`${name}:${i + 1}: ${line.trim()}`);
  });
  return hits;
}

describe('no address from the CoreOS guest plugin', () => {
  it('the scan recognizes each forbidden form', () => {
    expect(offenders('x', 'Environment=IP=${COREOS_PUBLIC_IPV4}')).toHaveLength(1);
    expect(offenders('x', '--advertise-address=$COREOS_PRIVATE_IPV4')).toHaveLength(1);
    expect(offenders('x', 'EnvironmentFile=/etc/environment')).toHaveLength(1);
    expect(offenders('x', 'source /etc/environment')).toHaveLength(1);
    expect(offenders('x', '--advertise-address={{ host.privateIp }}')).toHaveLength(0);
  });

  it('no template, role, engine or vagrant file references them', async () => {
    const scanned: string[] = [];
    const hits: string[] = [];
    for (const dir of ['templates', 'src/roles', 'src/engine', 'src/vagrant', 'src/render']) {
      for (const f of await files(path.join(ROOT, dir))) {
        const rel = path.relative(ROOT, f);
        scanned.push(rel);
        hits.push(...offenders(rel, await readFile(f, 'utf8')));
      }
    }
    // The scan saw the files that carry addresses (a moved folder must not make it pass empty).
    expect(scanned).toContain('templates/vagrant/Vagrantfile.njk');
    expect(scanned).toContain('templates/etcd/etcd.service.njk');
    expect(scanned).toContain('templates/kubernetes/kube-apiserver.service.njk');
    expect(scanned).toContain('src/engine/facts.ts');
    expect(hits).toEqual([]);
  });
});
