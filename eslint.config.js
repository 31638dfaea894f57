// Lint rules that keep the architecture visible: React and Ink belong to src/ui and the command entry points
// only, and the generic engine imports no role, command, UI or workspace run.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const uiOnly = {
  paths: [
    { name: 'react', message: 'React belongs in src/ui (or a command entry point): the core must stay renderer-free.' },
    { name: 'ink', message: 'Ink belongs in src/ui (or a command entry point): the core must stay renderer-free.' },
    { name: 'ink-select-input', message: 'UI component libraries belong in src/ui.' },
    { name: 'ink-text-input', message: 'UI component libraries belong in src/ui.' },
    { name: 'ink-testing-library', message: 'ink-testing-library is for test/ui only.' },
  ],
  patterns: [{ group: ['react/*', 'ink/*'], message: 'React/Ink belong in src/ui.' }],
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.work/**', 'coverage/**', 'reports/**', '.stryker-tmp/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.{ts,tsx}'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': ['error', uiOnly],
    },
  },
  {
    // The UI, the command entry points and the UI tests may import React and Ink.
    files: ['src/ui/**', 'src/commands/**', 'src/cli.ts', 'test/ui/**', 'test/integration/**/*.tsx'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    // The generic engine knows no role, no command and no UI: roles depend on it, never the other way.
    files: ['src/engine/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          ...uiOnly,
          patterns: [
            ...uiOnly.patterns,
            { group: ['../roles/*', '../commands/*', '../ui/*', '../converge/*', '../health/*'], message: 'src/engine is generic: the roles, commands, UI and the workspace run (src/converge) build on it, not the other way.' },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
