/**
 * The wizard in a real terminal: a detached tmux session (120×40, private socket) runs the test entry
 * with fake actions (no vagrant), keys are sent with send-keys, and each screen is captured, printed
 * into the test output and checked. Then Ctrl+C cancels the run, Ctrl+C again exits, and the terminal
 * must be usable: alternate screen left, cursor shown, cooked mode, the shell's marker and prompt shown.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const TMUX = '/usr/bin/tmux';
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const VITE_NODE = path.join(REPO, 'node_modules', '.bin', 'vite-node');
const ENTRY = path.join(REPO, 'test', 'ui', 'run-wizard.ts');
const canRun = existsSync(TMUX) && existsSync(VITE_NODE);

let dir = '';
let sock = '';

function tmux(...args: string[]): string {
  return execFileSync(TMUX, ['-S', sock, ...args], { encoding: 'utf8' });
}

function screen(): string {
  return tmux('capture-pane', '-p', '-t', 'wiz');
}

function show(title: string): string {
  const s = screen();
  const width = 120;
  console.log(`\n┌─ ${title} ${'─'.repeat(Math.max(0, width - title.length - 3))}\n${s.replace(/\n+$/, '')}\n└${'─'.repeat(width)}`);
  return s;
}

function keys(...k: string[]): void {
  tmux('send-keys', '-t', 'wiz', ...k);
}

function typeText(text: string): void {
  tmux('send-keys', '-t', 'wiz', '-l', text);
}

async function waitFor(what: string | RegExp, timeoutMs = 15_000): Promise<string> {
  const end = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < end) {
    last = screen();
    if (typeof what === 'string' ? last.includes(what) : what.test(last)) return last;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`timed out waiting for ${String(what)}; the screen:\n${last}`);
}

/** Send keys, then wait for the screen to show `what`. */
async function step(what: string | RegExp, ...k: string[]): Promise<string> {
  keys(...k);
  return waitFor(what);
}

describe('the wizard in a real terminal (tmux)', () => {
  beforeAll(() => {
    // .ci/run installs tmux: a missing tool is a failure here, never a silent skip.
    if (!canRun) throw new Error('tmux and node_modules/.bin/vite-node are needed for this test (apt-get install tmux; npm ci)');
    dir = mkdtempSync(path.join(tmpdir(), 'kcw-tty-'));
    sock = path.join(dir, 'sock');
    tmux('-f', '/dev/null', 'new-session', '-d', '-s', 'wiz', '-x', '120', '-y', '40', 'env', 'PS1=$ ', 'TERM=xterm-256color', 'bash', '--norc', '--noprofile');
  });

  afterAll(() => {
    try {
      tmux('kill-server');
    } catch {
      // already gone
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('walks workspace → sizing → options → review → run, then Ctrl+C restores the terminal', async () => {
    await waitFor(/^\$ ?$/m, 10_000); // the shell's prompt
    // Pause the fake run mid-provisioning so Ctrl+C has a run to cancel.
    keys(
      `cd ${dir} && KCORE_WIZARD_FAKE_ACTIONS=1 KCORE_WIZARD_FAKE_PAUSE=90 KCORE_WIZARD_FAKE_STEP_MS=15 ${VITE_NODE} --root ${REPO} ${ENTRY}; echo "WIZARD-EXITED rc=$?"`,
      'Enter',
    );
    await waitFor('1/8 Workspace', 120_000);
    expect(tmux('display', '-p', '-t', 'wiz', '#{alternate_on}').trim()).toBe('1');
    let s = show('1/8 workspace');
    expect(s).toContain('New cluster workspace');
    expect(s).toContain(`${dir}/kcore-cluster`);

    keys('C-u');
    typeText(`${dir}/demo`);
    await waitFor(`${dir}/demo`);
    await step('checks passed', 'Enter');
    s = show('2/8 preflight');
    expect(s).toMatch(/✓ vagrant +Vagrant \d/); // the product's own check names (fake-actions runs runPreflight)
    expect(s).toContain('cluster demo');

    await step('3/8 Machines and sizes', 'Enter');
    await step(/✗ a cluster needs at least 1 Kubernetes master machine \(got 0\)/, 'Right', 'Right', 'Right', 'Down');
    s = show('3/8 sizing, with an inline error');
    expect(s).toContain('Total 3 machines');
    keys('+');
    await waitFor('Total 4 machines');
    s = show('3/8 sizing, fixed');
    expect(s).not.toMatch(/✗ a cluster needs/);

    await step('4/8 Options', 'Enter');
    s = show('4/8 options');
    for (const text of ['Provider', 'virtualbox', 'Kubernetes', '1.37.1', '10.3.0.0/24', '10.2.0.0/16', '10.3.0.10', 'cluster.local']) expect(s).toContain(text);
    await step('3/8 Machines and sizes', 'Escape');
    await step('4/8 Options', 'Enter');

    await step('5/8 Review', 'Enter');
    s = show('5/8 review');
    for (const text of ['kcore.yaml', 'Vagrantfile', 'inventory.ini', 'etcd-01', '10.0.0.101', 'kube-master-01', 'kube-worker-02', '10.0.0.122']) expect(s).toContain(text);

    // A smaller terminal: the review redraws to fit, with no stale rows from the bigger frame.
    tmux('resize-window', '-t', 'wiz', '-x', '80', '-y', '24');
    s = await waitFor(/^ kcore-wizard .*5\/8 Review/);
    await new Promise((r) => setTimeout(r, 300));
    s = show('5/8 review after resizing to 80×24');
    const lines = s.replace(/\n+$/, '').split('\n');
    expect(lines.length).toBeLessThanOrEqual(24);
    expect(lines[0]).toMatch(/^ kcore-wizard .*5\/8 Review/);
    expect(s).toContain('kube-worker-02');
    expect(lines.filter((l) => l.includes('5/8 Review'))).toHaveLength(1);
    tmux('resize-window', '-t', 'wiz', '-x', '120', '-y', '40');
    await waitFor(/^ kcore-wizard .*5\/8 Review\s+cluster demo/);

    await step('Create the cluster?', 'Enter');
    show('confirm');
    await step('7/8 Provisioning', 'y');
    await waitFor(/● \d+ running/);
    s = show('7/8 provisioning (paused mid-run)');
    // One panel per host, each naming its host with its own state, under the run's count line.
    for (const h of ['etcd-01', 'kube-master-01', 'kube-worker-01', 'kube-worker-02']) expect(s).toMatch(new RegExp(`│ [●○] ${h}\\s+(running \\d|waiting)`));
    expect(s).toMatch(/5 hosts · role \d+\/\d+ bootstrap · +● \d+ running/); // 4 machines and the control machine, as real runs have

    keys('C-c');
    s = await waitFor(/cancelling… press Ctrl\+C again|8\/8 Summary/);
    show('after the first Ctrl+C');
    expect(s).toMatch(/—/);
    await waitFor('Cancelled');
    show('8/8 summary (cancelled)');

    keys('C-c');
    s = await waitFor('WIZARD-EXITED rc=130', 15_000);
    show('after the second Ctrl+C: the shell again');
    expect(tmux('display', '-p', '-t', 'wiz', '#{alternate_on}').trim()).toBe('0');
    expect(tmux('display', '-p', '-t', 'wiz', '#{cursor_flag}').trim()).toBe('1');
    expect(s).toMatch(/WIZARD-EXITED rc=130\n\$ ?$/m);
    // The terminal is back in cooked mode with echo (raw mode was switched off).
    keys('stty -a | tr -s " ;" "\\n\\n" | grep -x -e icanon -e echo | sort | tr "\\n" " "; echo STTY-DONE', 'Enter');
    s = await waitFor(/echo icanon STTY-DONE/);
    show('stty after exit');
  });

  it('refuses without a terminal, in one line, exit 2', () => {
    const r = spawnSync(VITE_NODE, ['--root', REPO, ENTRY], { input: '', encoding: 'utf8', env: { ...process.env, KCORE_WIZARD_FAKE_ACTIONS: '1' }, timeout: 120_000 });
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split('\n')).toContain(
      'kcore-wizard: the wizard needs a terminal; run `kcore-wizard init` then `kcore-wizard up --config kcore.yaml --yes` instead',
    );
    expect(r.stdout).not.toContain('\x1b[?1049h');
  });
});
