// The UI fixture (test/ui/fixtures/recorded-run.json) must stay what the real engine emits: this records
// the same three runs again on real systemd machines (test/ui/fixtures/record.ts) and compares their
// shape with the committed file — per run the roles and their hosts, per host the sequence of events as
// (type, role, task, status), and the keys every event type carries. Timestamps, durations and output
// lines are left out. When it fails because the product changed on purpose, re-record:
// `npx vite-node test/ui/fixtures/rerecord.ts`, and review the diff of the JSON.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { FIXTURE_FILE, fixtureShape, recordFixture, type RecordedFixture } from '../ui/fixtures/record.js';

describe('the recorded UI fixture', () => {
  it('matches what the real engine emits now (re-recorded on systemd machines)', async () => {
    const committed = JSON.parse(await readFile(FIXTURE_FILE, 'utf8')) as RecordedFixture;
    const fresh = await recordFixture((s) => console.log(s));
    // What the fixture promises its users: 7 roles, a run that succeeds, one that fails with real messages.
    expect(fresh.runs.converge[0]).toMatchObject({ type: 'run-start', roles: ['bootstrap', 'pki', 'etcd', 'kube-master', 'kube-worker', 'kubectl', 'addons'] });
    expect(fresh.runs.etcd.at(-1)).toMatchObject({ type: 'run-end', status: 'ok' });
    expect(fresh.runs.converge.some((e) => e.type === 'task-end' && e.status === 'unreachable' && e.host === 'kube-worker-03')).toBe(true);
    expect(JSON.stringify(fresh)).not.toMatch(/10\.213\.|\/tmp\/kcore-/); // normalized: no test prefix or temp path left
    expect(fixtureShape(fresh)).toEqual(fixtureShape(committed));
  });
});
