/**
 * Step 4: provider, box channel, Kubernetes version and the network plan: defaults shown, every field
 * editable and checked as you type. Choice fields open an ink-select-input list.
 */
import { Box, Text } from 'ink';
import SelectInput from 'ink-select-input';
import { TextField } from '../../components/TextField.js';
import { clip } from '../../format.js';
import { useTheme } from '../../theme.js';
import { useWizard, useWizardContext } from '../context.js';
import { OPTION_FIELDS } from '../fields.js';
import { validateDraft } from '../validate.js';

export function OptionsStep({ width, height }: { width: number; height: number }) {
  const t = useTheme();
  const { controller } = useWizardContext();
  const draft = useWizard((s) => s.draft);
  const focus = useWizard((s) => s.options.focus);
  const cursor = useWizard((s) => s.options.cursor);
  const open = useWizard((s) => s.options.open);
  const problems = validateDraft(draft);
  const inner = width - 2;
  const labelW = 20;
  const valueW = Math.min(28, Math.max(12, Math.floor((inner - labelW) / 2)));
  const errW = Math.max(0, inner - labelW - valueW - 3);
  const field = OPTION_FIELDS[focus]!;
  const fieldError = problems.errors[field.path];
  const fieldWarn = problems.warnings[field.path];
  const choices = field.choices?.(draft) ?? [];
  return (
    <Box flexDirection="column" width={width} height={height} paddingX={1} overflow="hidden">
      <Text bold>Options (the defaults work; change what you need)</Text>
      <Text> </Text>
      {OPTION_FIELDS.map((f, i) => {
        const on = i === focus;
        const err = problems.errors[f.path];
        const value = f.get(draft);
        return (
          <Box key={f.id} width={inner}>
            <Text bold={on} color={on ? t.c('accent') : undefined}>
              {((on ? '› ' : '  ') + f.label).padEnd(labelW)}
            </Text>
            <Box width={valueW + 1}>
              {f.kind === 'text' ? (
                <Text>
                  {'  '}
                  <TextField value={value} cursor={cursor} focused={on} width={valueW - 2} colour={err ? t.c('failed') : undefined} />
                </Text>
              ) : (
                <Text inverse={on} color={err ? t.c('failed') : undefined}>
                  {clip(on ? `‹ ${value} ›` : `  ${value}`, valueW)}
                </Text>
              )}
            </Box>
            {err ? (
              <Text color={t.c('failed')} wrap="truncate-end">
                {clip(` ✗ ${err}`, errW)}
              </Text>
            ) : problems.warnings[f.path] ? (
              <Text color={t.c('warn')} wrap="truncate-end">
                {clip(` ! ${problems.warnings[f.path]}`, errW)}
              </Text>
            ) : null}
          </Box>
        );
      })}
      {/* With the list open its rows matter more than the spacer. */}
      {!open && <Text> </Text>}
      {open ? (
        <Box flexDirection="column" width={inner} borderStyle="round" borderColor={t.c('accent')} paddingX={1}>
          <Text bold>Choose {field.label.toLowerCase()} (↑↓ enter; esc keeps {field.get(draft)})</Text>
          <SelectInput
            items={choices.map((c) => ({ key: c.value, label: clip(c.label, inner - 8), value: c.value }))}
            initialIndex={Math.max(0, choices.findIndex((c) => c.value === field.get(draft)))}
            limit={Math.max(2, height - OPTION_FIELDS.length - 5)}
            onSelect={(item) => controller.chooseOption(item.value)}
          />
        </Box>
      ) : (
        <Box flexDirection="column" width={inner}>
          <Text color={t.c('muted')} wrap="wrap">
            {field.label}: {field.hint}
          </Text>
          {fieldError && (
            <Text color={t.c('failed')} wrap="wrap">
              ✗ {field.path}: {fieldError}
            </Text>
          )}
          {!fieldError && fieldWarn && (
            <Text color={t.c('warn')} wrap="wrap">
              ! {field.path}: {fieldWarn}
            </Text>
          )}
          {field.id === 'provider' && (
            <Text color={t.c('muted')} wrap="truncate-end">
              box {draft.box.name} · ssh user {draft.ssh.user}
            </Text>
          )}
        </Box>
      )}
    </Box>
  );
}
