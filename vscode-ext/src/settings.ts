/**
 * The extension's settings: read from a configuration section, turned into the server's command line,
 * environment, `initializationOptions` (names as lsp/options.py parses them) and document selector.
 *
 * Pure: takes a `Section` (what `vscode.workspace.getConfiguration('codeassist')` returns) and never
 * imports `vscode`, so the unit tests and the end-to-end test use exactly this code.
 */

/** The subset of `vscode.WorkspaceConfiguration` this module reads. */
export interface Section {
    get<T>(key: string): T | undefined;
}

export const ROPE_MODES = ['yarn', 'dynamic', 'linear', 'none'] as const;
export type RopeMode = (typeof ROPE_MODES)[number];

/** The server's language names (indexer/languages.py) and the VS Code language ids each one covers. */
export const LANGUAGE_IDS: Readonly<Record<string, readonly string[]>> = {
    python: ['python'],
    javascript: ['javascript', 'javascriptreact'],
    typescript: ['typescript'],
    tsx: ['typescriptreact'],
    go: ['go'],
    rust: ['rust'],
    java: ['java'],
    c: ['c'],
    cpp: ['cpp'],
};
export const LANGUAGES = Object.keys(LANGUAGE_IDS);

export type PatchPreview = 'refactorPreview' | 'diffEditors';

export interface Settings {
    /** The `codeassist` executable; used when `pythonPath` is empty. */
    serverPath: string;
    /** A Python interpreter to run `-m codeassist lsp` with; empty: use `serverPath`. */
    pythonPath: string;
    /** Inference threads (CODEASSIST_THREADS); 0: the server's default. */
    threads: number;
    /** Debug logging from the server (`codeassist --verbose lsp`). */
    verbose: boolean;
    /** A `.gguf` file, a Hugging Face directory or hub id; empty: the built-in default. */
    model: string;
    /** Repository context per completion (tokens). */
    contextTokens: number;
    /** Tokens generated per completion. */
    maxNewTokens: number;
    ropeScaling: RopeMode;
    /** Server language names to complete in. */
    languages: string[];
    inlineCompletion: boolean;
    patchPreview: PatchPreview;
}

export const DEFAULTS: Readonly<Settings> = Object.freeze({
    serverPath: 'codeassist',
    pythonPath: '',
    threads: 0,
    verbose: false,
    model: '',
    contextTokens: 1024,
    maxNewTokens: 48,
    ropeScaling: 'yarn',
    languages: [...LANGUAGES],
    inlineCompletion: true,
    patchPreview: 'refactorPreview',
});

/** Setting keys (under `codeassist.`) and the field each fills; package.json declares the same keys. */
export const KEYS: Readonly<Record<keyof Settings, string>> = {
    serverPath: 'server.path',
    pythonPath: 'server.pythonPath',
    threads: 'server.threads',
    verbose: 'server.verbose',
    model: 'model',
    contextTokens: 'contextTokens',
    maxNewTokens: 'maxNewTokens',
    ropeScaling: 'ropeScaling',
    languages: 'languages',
    inlineCompletion: 'inlineCompletion.enabled',
    patchPreview: 'patch.preview',
};

/** Keys whose change needs no server restart. */
const CLIENT_ONLY: ReadonlySet<string> = new Set([KEYS.patchPreview, 'trace.server']);

function isInt(v: unknown, min: number, max: number): v is number {
    return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

/**
 * Settings from a configuration section. Each value of the wrong type or out of range is replaced by
 * its default and named in `problems` (so the user is told, not silently ignored).
 */
export function readSettings(section: Section): { settings: Settings; problems: string[] } {
    const problems: string[] = [];
    const settings: Settings = { ...DEFAULTS, languages: [...DEFAULTS.languages] };
    const take = <K extends keyof Settings>(field: K, ok: (v: unknown) => boolean, normalise?: (v: never) => Settings[K]) => {
        const raw = section.get<unknown>(KEYS[field]);
        if (raw === undefined || raw === null) {
            return;
        }
        if (!ok(raw)) {
            problems.push(`codeassist.${KEYS[field]} has a bad value ${JSON.stringify(raw)}; using ${JSON.stringify(DEFAULTS[field])}`);
            return;
        }
        settings[field] = normalise ? normalise(raw as never) : (raw as Settings[K]);
    };
    const str = (v: unknown) => typeof v === 'string';
    take('serverPath', v => str(v) && (v as string).trim() !== '', (v: string) => v.trim());
    take('pythonPath', str, (v: string) => v.trim());
    take('threads', v => isInt(v, 0, 256));
    take('verbose', v => typeof v === 'boolean');
    take('model', str, (v: string) => v.trim());
    take('contextTokens', v => isInt(v, 0, 131072));  // lsp/options.py's bounds
    take('maxNewTokens', v => isInt(v, 1, 1024));
    take('ropeScaling', v => (ROPE_MODES as readonly unknown[]).includes(v));
    take('languages', v => Array.isArray(v) && v.every(x => LANGUAGES.includes(x as string)),
        (v: string[]) => [...new Set(v)]);
    take('inlineCompletion', v => typeof v === 'boolean');
    take('patchPreview', v => v === 'refactorPreview' || v === 'diffEditors');
    return { settings, problems };
}

/** The server's `initializationOptions`: the camelCase names lsp/options.py accepts, defaults included. */
export function initializationOptions(s: Settings): Record<string, unknown> {
    return {
        model: s.model === '' ? null : s.model,
        contextTokens: s.contextTokens,
        maxNewTokens: s.maxNewTokens,
        ropeScaling: s.ropeScaling,
        languages: [...s.languages],
        inlineCompletion: s.inlineCompletion,
    };
}

export interface ServerCommand {
    command: string;
    args: string[];
    /** Variables added to the extension host's environment. */
    env: Record<string, string>;
}

/** The command line that starts `codeassist lsp` over stdio. */
export function serverCommand(s: Settings): ServerCommand {
    const verbose = s.verbose ? ['--verbose'] : [];
    const env: Record<string, string> = s.threads > 0 ? { CODEASSIST_THREADS: String(s.threads) } : {};
    if (s.pythonPath !== '') {
        return { command: s.pythonPath, args: ['-m', 'codeassist', ...verbose, 'lsp'], env };
    }
    return { command: s.serverPath, args: [...verbose, 'lsp'], env };
}

/** The document selector: files on disk in the enabled languages. */
export function documentSelector(s: Settings): { scheme: string; language: string }[] {
    return s.languages.flatMap(name => (LANGUAGE_IDS[name] ?? []).map(language => ({ scheme: 'file', language })));
}

/** Whether a change to `codeassist.<key>` needs a server restart (every key but the client-only ones). */
export function needsRestart(affects: (key: string) => boolean): boolean {
    if (!affects('codeassist')) {
        return false;
    }
    const keys = Object.values(KEYS).filter(k => !CLIENT_ONLY.has(k));
    return keys.some(k => affects(`codeassist.${k}`));
}
