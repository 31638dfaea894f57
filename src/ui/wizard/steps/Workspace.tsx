/** Step 1: a new workspace folder, or reopen an existing kcore.yaml (its problems shown with file:line). */
import { Box, Text } from 'ink';
import { TextField } from '../../components/TextField.js';
import { clip } from '../../format.js';
import { useTheme } from '../../theme.js';
import { useWizard } from '../context.js';

const MODES = [
  { id: 'new', title: 'New cluster workspace', note: 'a folder for kcore.yaml and its files' },
  { id: 'reopen', title: 'Reopen an existing kcore.yaml', note: 'a workspace made before (wizard or init)' },
] as const;

export function WorkspaceStep({ width, height }: { width: number; height: number }) {
  const t = useTheme();
  const ws = useWizard((s) => s.workspace);
  const fieldWidth = Math.max(10, width - 12);
  const problemRows = Math.max(1, height - 10);
  return (
    <Box flexDirection="column" width={width} height={height} paddingX={1}>
      <Text bold>Where should the cluster live?</Text>
      <Text> </Text>
      {MODES.map((m) => {
        const on = ws.mode === m.id;
        return (
          <Box key={m.id} width={width - 2}>
            <Text wrap="truncate-end">
              <Text color={on ? t.c('accent') : undefined} bold={on}>
                {on ? '› ● ' : '  ○ '}
                {m.title.padEnd(31)}
              </Text>
              <Text color={t.c('muted')}>{m.note}</Text>
            </Text>
          </Box>
        );
      })}
      <Text> </Text>
      <Box width={width - 2}>
        <Text bold>{'Folder  '}</Text>
        <TextField value={ws.dir} cursor={ws.cursor} focused={!ws.busy} width={fieldWidth} />
      </Box>
      <Text color={t.c('muted')} wrap="truncate-end">
        {ws.mode === 'new' ? '        created if missing; the cluster is named after it' : '        the folder that holds kcore.yaml'}
      </Text>
      <Text> </Text>
      {ws.busy && <Text color={t.c('running')}>● reading {clip(ws.dir, width - 12)}…</Text>}
      {ws.notice && (
        <Text color={t.c('warn')} wrap="truncate-end">
          ! {ws.notice}
        </Text>
      )}
      {ws.problems.length > 0 && (
        <Box flexDirection="column" width={width - 2}>
          <Text color={t.c('failed')} bold>
            ✗ The existing kcore.yaml is not valid:
          </Text>
          {ws.problems.slice(0, problemRows - 2).map((p, i) => (
            <Box key={i} paddingLeft={2} width={width - 2}>
              <Text color={t.c('failed')} wrap="wrap">
                {p}
              </Text>
            </Box>
          ))}
          {ws.problems.length > problemRows - 2 && <Text color={t.c('muted')}>  … and {ws.problems.length - (problemRows - 2)} more</Text>}
          <Box paddingLeft={2} width={width - 2}>
            <Text color={t.c('muted')} wrap="wrap">
              fix the file and press enter to read it again, or ctrl+n to start from the defaults
            </Text>
          </Box>
        </Box>
      )}
    </Box>
  );
}
