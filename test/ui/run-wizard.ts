/**
 * Test entry for the wizard on a real terminal (the tmux test runs it with `vite-node`):
 * KCORE_WIZARD_FAKE_ACTIONS=1 replays a recorded run instead of calling vagrant. Only this script
 * reads that variable; the production command never fakes anything.
 *   KCORE_WIZARD_FAKE_STEP_MS   delay between replayed events (default 40)
 *   KCORE_WIZARD_FAKE_PAUSE     stop replaying after this many events until cancelled
 *   KCORE_WIZARD_FAKE_PREFLIGHT failing: three failed checks with long fixes (preflight-checks.ts)
 * `e` (the teaching view) is always the real one: it reads only the spec and the roles.
 */
import { realActions, runWizardCommand } from '../../src/commands/wizard.js';
import { fakeActions } from './fixtures/fake-actions.js';
import { FAILING_PREFLIGHT } from './preflight-checks.js';

const env = process.env;
const fake = env.KCORE_WIZARD_FAKE_ACTIONS === '1';
const actions = fake
  ? fakeActions({
      stepMs: Number(env.KCORE_WIZARD_FAKE_STEP_MS ?? 40),
      pauseAfter: env.KCORE_WIZARD_FAKE_PAUSE ? Number(env.KCORE_WIZARD_FAKE_PAUSE) : undefined,
      cancelDelayMs: 300,
      preflight: env.KCORE_WIZARD_FAKE_PREFLIGHT === 'failing' ? FAILING_PREFLIGHT : undefined,
    })
  : realActions();
// The teaching view is offline and pure: the real one, even with the other actions faked.
if (fake) actions.explain = realActions().explain;

const code = await runWizardCommand(
  {
    values: {},
    positionals: process.argv.slice(2),
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env,
    cwd: process.cwd(),
    signal: new AbortController().signal,
  },
  actions,
);
process.exit(code);
