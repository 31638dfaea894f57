/** Step 6: files written, then `vagrant up` with a live output panel per machine. */
import { Box, Text } from 'ink';
import { useStore } from 'zustand';
import type { Phase } from '../../../engine/events.js';
import { plannedHosts } from '../../../spec/hosts.js';
import type { RunState, RunStore } from '../../../state/run-store.js';
import { rowsOf } from '../../components/layout.js';
import { clip } from '../../format.js';
import { useTheme, type Tone } from '../../theme.js';
import { useWizard, useWizardContext } from '../context.js';

const PHASES: Array<{ id: Phase; label: string }> = [
  { id: 'render', label: 'files' },
  { id: 'preflight', label: 'preflight' },
  { id: 'vagrant-up', label: 'vagrant up' },
  { id: 'ssh-config', label: 'ssh-config' },
  { id: 'converge', label: 'configure' },
  { id: 'test', label: 'smoke tests' },
];

const PHASE_LOOK: Record<NonNullable<RunState['phases'][Phase]> | 'none', { glyph: string; tone: Tone }> = {
  none: { glyph: '○', tone: 'pending' },
  start: { glyph: '●', tone: 'running' },
  end: { glyph: '✓', tone: 'ok' },
  failed: { glyph: '✗', tone: 'failed' },
  skipped: { glyph: '↷', tone: 'muted' },
};

export function PhaseLine({ width, store }: { width: number; store: RunStore }) {
  const t = useTheme();
  const phases = useStore(store, (s) => s.phases);
  return (
    <Box width={width}>
      <Text wrap="truncate-end">
        {PHASES.map((p, i) => {
          const look = PHASE_LOOK[phases[p.id] ?? 'none'];
          return (
            <Text key={p.id} color={t.c(look.tone)}>
              {i > 0 ? '  ' : ''}
              {look.glyph} {p.label}
            </Text>
          );
        })}
      </Text>
    </Box>
  );
}

function MachinePanel({ name, lines, width, rows }: { name: string; lines: string[]; width: number; rows: number }) {
  const t = useTheme();
  const inner = width - 4;
  const shown = lines.slice(-rows);
  const last = lines[lines.length - 1] ?? '';
  const failed = /error|fail/i.test(last);
  const pad = Array.from({ length: Math.max(0, rows - shown.length) }, () => '');
  return (
    <Box flexDirection="column" width={width} height={rows + 3} borderStyle="round" borderColor={t.c(failed ? 'failed' : lines.length ? 'running' : 'pending')} paddingX={1}>
      <Text bold wrap="truncate-end" color={t.c(failed ? 'failed' : lines.length ? 'running' : 'pending')}>
        {lines.length ? (failed ? '✗' : '●') : '○'} {clip(name, inner - 2)}
      </Text>
      {[...shown, ...pad].map((l, i) => (
        <Text key={i} dimColor wrap="truncate-end">
          {clip(l || ' ', inner)}
        </Text>
      ))}
    </Box>
  );
}

export function MachinesStep({ width, height }: { width: number; height: number }) {
  const t = useTheme();
  const { runStore } = useWizardContext();
  const draft = useWizard((s) => s.draft);
  const files = useWizard((s) => s.run.files);
  const status = useWizard((s) => s.run.status);
  const processLines = useStore(runStore, (s) => s.processLines);
  const log = useStore(runStore, (s) => s.log);
  const names = plannedHosts(draft).map((h) => h.name);
  for (const k of Object.keys(processLines)) if (k && !names.includes(k)) names.push(k);
  // Lines about no machine in particular: vagrant's own, and the run's log (bridge created, box added…).
  const general = [...(processLines[''] ?? []).map((line) => ({ line, level: 'info' as const })), ...log.slice(-2).map((l) => ({ line: l.message.split('\n')[0]!, level: l.level }))].slice(-2);
  const body = height - 4;
  const columns = Math.max(1, Math.floor(width / 38));
  const colW = Math.floor(width / columns);
  const panelRows = Math.ceil(names.length / columns);
  const generalRows = general.length ? 2 : 0;
  const perPanel = Math.floor((body - generalRows) / Math.max(1, panelRows)) - 3;
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <Box paddingX={1} width={width}>
        <PhaseLine width={width - 2} store={runStore} />
      </Box>
      <Text wrap="truncate-end" color={t.c('muted')}>
        {' '}
        {files.length
          ? `wrote ${files.map((f) => `${f.path}${f.changed ? '' : ' (unchanged)'}`).join(', ')}`
          : status === 'running'
            ? 'writing the workspace files…'
            : ' '}
      </Text>
      {general.length > 0 && (
        <Box flexDirection="column" width={width} paddingX={1}>
          {general.map((l, i) => (
            <Text key={i} dimColor={l.level === 'info'} color={l.level === 'error' ? t.c('failed') : l.level === 'warn' ? t.c('warn') : undefined} wrap="truncate-end">
              {clip(l.line, width - 2)}
            </Text>
          ))}
        </Box>
      )}
      <Text> </Text>
      {perPanel >= 1 ? (
        rowsOf(names, columns).map((row, i) => (
          <Box key={i} width={width}>
            {row.map((n) => (
              <MachinePanel key={n} name={n} lines={processLines[n] ?? []} width={colW} rows={Math.min(6, perPanel)} />
            ))}
          </Box>
        ))
      ) : (
        rowsOf(names, Math.max(1, Math.floor(width / 40))).slice(0, Math.max(0, body - generalRows)).map((row, i) => (
          <Box key={i} width={width}>
            {row.map((n) => {
              const lines = processLines[n] ?? [];
              const w = Math.floor(width / Math.max(1, Math.floor(width / 40)));
              return (
                <Box key={n} width={w}>
                  <Text wrap="truncate-end" color={t.c(lines.length ? 'running' : 'pending')}>
                    {clip(`${lines.length ? '●' : '○'} ${n}  ${lines[lines.length - 1] ?? 'waiting'}`, w - 1)}
                  </Text>
                </Box>
              );
            })}
          </Box>
        ))
      )}
    </Box>
  );
}
