import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reasonloop from './lint/boundaries.js';

export default tseslint.config(
  { ignores: ['node_modules/**', '**/*.py', '.reasonloop/**', 'out/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // The dependency direction of docs/architecture.md, enforced (tests may import anything).
    files: ['**/*.ts', '**/*.js', '**/*.mjs'],
    ignores: ['test/**'],
    plugins: { reasonloop },
    rules: {
      'reasonloop/boundaries': 'error',
      // ≈400 lines is where a file starts doing two things (shared/STYLE.md).
      'max-lines': ['error', { max: 400 }],
    },
  },
);
