// Lint rules that keep the architecture visible: React and Ink belong to src/ui and the command entry points only.
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
    files: ['**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
