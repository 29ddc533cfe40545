import { fileURLToPath } from 'node:url';

/** The package root (the folder holding bpf/, rules/ and package.json), from src/ or dist/. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
