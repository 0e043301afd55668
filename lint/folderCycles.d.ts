// Types of folderCycles.js for the TypeScript tests that call it.
export function roomGraph(root?: string): Map<string, Map<string, string>>;
export function folderCycles(arrows: Map<string, Map<string, string>>): string[][];
export function valueImports(source: string): string[];
