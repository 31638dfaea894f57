/**
 * The CA rotation's run: three phases (src/pki/rotate.ts), each rolled out to every host one at a time
 * with its health gates before the next phase starts. The rollout itself is the caller's (`roll`:
 * `certs renew --ca` passes the rolling converge of src/commands/run-common.ts), so this stays free of
 * commands and testable with a recording roll. The phase is recorded in the workspace PKI before and
 * after each rollout: a rerun after a stop (a host that did not come back healthy, Ctrl+C) enters the
 * recorded phase again (idempotent) and rolls it out again, then goes on.
 */
import {
  enterPhase,
  finishRotation,
  markRolled,
  PHASE_TITLES,
  readRotation,
  type EnterPhaseOptions,
  type RotationPhase,
  type RotationState,
} from '../pki/rotate.js';
import type { PkiInput } from '../pki/types.js';

export interface CaRotationDeps extends EnterPhaseOptions {
  /** Roll the current files out to every host, one at a time; the exit code (0: every host healthy). */
  roll(phase: RotationPhase, title: string): Promise<number>;
  /** A line for the user. */
  say(line: string): void;
}

export interface CaRotationResult {
  code: number;
  /** The phase it stopped in (unfinished), or null when the rotation is complete. */
  stoppedIn: RotationPhase | null;
  archiveDir: string | null;
}

export async function rotateCas(workspace: string, input: PkiInput, deps: CaRotationDeps): Promise<CaRotationResult> {
  let state: RotationState | null = await readRotation(workspace);
  if (state) deps.say(`resuming the CA rotation in phase ${state.phase} of 3${state.rolled ? ' (rolled out; next phase)' : ''}`);
  for (;;) {
    if (!state || (state.rolled && state.phase < 3)) {
      const phase = (state ? state.phase + 1 : 1) as RotationPhase;
      const entered = await enterPhase(workspace, input, phase, deps);
      state = entered.state;
      if (phase === 1) deps.say('new cluster CA and etcd CA made (pki/rotation/); the trust bundles hold the old and the new CA');
      if (entered.reissued) deps.say(`reissued ${entered.reissued.changed.length} certificates with the new CAs (keys kept)`);
      if (phase === 3) deps.say('the trust bundles hold the new CA only');
    } else if (!state.rolled) {
      // Resume: put this phase's files in place again (a stop may have come in the middle of a change).
      state = (await enterPhase(workspace, input, state.phase, deps)).state;
    } else {
      const archiveDir = await finishRotation(workspace, deps.now);
      deps.say(`CA rotation done: the old CAs are archived in pki/${archiveDir}/ (moved, not deleted)`);
      return { code: 0, stoppedIn: null, archiveDir };
    }
    const code = await deps.roll(state.phase, PHASE_TITLES[state.phase]);
    if (code !== 0) {
      deps.say(`CA rotation stopped in phase ${state.phase} of 3; fix the host named above, then run \`kcore-wizard certs renew --ca\` again: it resumes here`);
      return { code, stoppedIn: state.phase, archiveDir: null };
    }
    state = await markRolled(workspace, state);
  }
}
