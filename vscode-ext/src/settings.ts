/**
 * The extension's settings: read from a configuration section, turned into the server's command line,
 * environment, `initializationOptions` (names as lsp/options.py parses them) and document selector.
 *
 * Pure: takes a `Section` (what `vscode.workspace.getConfiguration('codeassist')` returns) and never
 * imports `vscode`, so the unit tests and the end-to-end test use exactly this code.
 *
 * The remote engine's API key is not a setting: it lives in VS Code's secret storage (apiKey.ts) and
 * reaches the server as `CODEASSIST_API_KEY` in its environment, never in `initializationOptions`, which
 * `codeassist.trace.server: verbose` writes to the log.
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

/** codeassist/backends.py BACKENDS and FALLBACKS. */
export const BACKENDS = ['local', 'remote'] as const;
export type Backend = (typeof BACKENDS)[number];
export const FALLBACKS = ['none', 'local'] as const;
export type Fallback = (typeof FALLBACKS)[number];
/** The variable the server reads the remote engine's API key from (codeassist/backends.py API_KEY_ENV). */
export const API_KEY_ENV = 'CODEASSIST_API_KEY';
/** lsp/options.py's bounds on `requestTimeout` (seconds): more than 0, at most 600. */
export const MAX_REQUEST_TIMEOUT_S = 600;

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
    /** Where completions are generated: the in-process model or an OpenAI-compatible engine. */
    backend: Backend;
    /** remote: the engine's base URL (http:// or https://); empty: `$CODEASSIST_ENDPOINT`. */
    endpoint: string;
    /** remote: the served model's name; empty: `$CODEASSIST_REMOTE_MODEL`, else the engine's first. */
    remoteModel: string;
    /** remote: tokenizer for the context budget; empty: `$CODEASSIST_TOKENIZER`, the remote model, else an estimate. */
    tokenizer: string;
    /** remote: whether the in-process model answers while the engine is unavailable. */
    fallback: Fallback;
    /** remote: longest silence from the engine before a request fails (seconds). */
    requestTimeout: number;
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
    backend: 'local',
    endpoint: '',
    remoteModel: '',
    tokenizer: '',
    fallback: 'none',
    requestTimeout: 30,  // codeassist/backends.py DEFAULT_TIMEOUT_S
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
    backend: 'backend',
    endpoint: 'endpoint',
    remoteModel: 'remoteModel',
    tokenizer: 'tokenizer',
    fallback: 'fallback',
    requestTimeout: 'requestTimeout',
};

/** Keys whose change needs no server restart. */
const CLIENT_ONLY: ReadonlySet<string> = new Set([KEYS.patchPreview, 'trace.server']);
/** Keys that matter only to the remote backend: their change needs no restart while the backend is local. */
const REMOTE_ONLY: ReadonlySet<string> = new Set([KEYS.endpoint, KEYS.remoteModel, KEYS.tokenizer, KEYS.fallback, KEYS.requestTimeout]);

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
    take('backend', v => (BACKENDS as readonly unknown[]).includes(v));
    take('endpoint', v => str(v) && ((v as string).trim() === '' || isHttpUrl((v as string).trim())), (v: string) => v.trim());
    take('remoteModel', str, (v: string) => v.trim());
    take('tokenizer', str, (v: string) => v.trim());
    take('fallback', v => (FALLBACKS as readonly unknown[]).includes(v));
    take('requestTimeout', v => typeof v === 'number' && Number.isFinite(v) && v > 0 && v <= MAX_REQUEST_TIMEOUT_S);
    return { settings, problems };
}

/** An absolute http:// or https:// URL with a host (lsp/options.py accepts only these schemes). */
export function isHttpUrl(text: string): boolean {
    try {
        const url = new URL(text);
        return (url.protocol === 'http:' || url.protocol === 'https:') && url.host !== '';
    } catch {
        return false;
    }
}

/**
 * What is wrong with the backend settings as a whole, given the server's environment `env` (where
 * `CODEASSIST_ENDPOINT` may supply what a setting leaves empty); [] when nothing is.
 */
export function backendProblems(s: Settings, env: NodeJS.ProcessEnv): string[] {
    if (s.backend === 'remote' && s.endpoint === '' && !env.CODEASSIST_ENDPOINT) {
        return ['codeassist.backend is "remote" but no endpoint is set: set codeassist.endpoint to the engine\'s URL, '
            + 'e.g. http://gpu-box:8000'];
    }
    return [];
}

/**
 * The server's `initializationOptions`: the camelCase names lsp/options.py accepts, defaults included.
 * An empty text setting becomes null, which lets the server read its CODEASSIST_* variable instead.
 */
export function initializationOptions(s: Settings): Record<string, unknown> {
    const orNull = (v: string) => (v === '' ? null : v);
    return {
        model: orNull(s.model),
        contextTokens: s.contextTokens,
        maxNewTokens: s.maxNewTokens,
        ropeScaling: s.ropeScaling,
        languages: [...s.languages],
        inlineCompletion: s.inlineCompletion,
        backend: s.backend,
        endpoint: orNull(s.endpoint),
        remoteModel: orNull(s.remoteModel),
        tokenizer: orNull(s.tokenizer),
        fallback: s.fallback,
        requestTimeout: s.requestTimeout,
    };
}

export interface ServerCommand {
    command: string;
    args: string[];
    /** Variables added to the extension host's environment. */
    env: Record<string, string>;
}

/**
 * The command line that starts `codeassist lsp` over stdio. `apiKey` (from the secret storage) is put in
 * the environment for the remote backend only; without one the server sees the inherited variable, if any.
 */
export function serverCommand(s: Settings, apiKey?: string): ServerCommand {
    const verbose = s.verbose ? ['--verbose'] : [];
    const env: Record<string, string> = s.threads > 0 ? { CODEASSIST_THREADS: String(s.threads) } : {};
    if (s.backend === 'remote' && apiKey) {
        env[API_KEY_ENV] = apiKey;
    }
    if (s.pythonPath !== '') {
        return { command: s.pythonPath, args: ['-m', 'codeassist', ...verbose, 'lsp'], env };
    }
    return { command: s.serverPath, args: [...verbose, 'lsp'], env };
}

/** The document selector: files on disk in the enabled languages. */
export function documentSelector(s: Settings): { scheme: string; language: string }[] {
    return s.languages.flatMap(name => (LANGUAGE_IDS[name] ?? []).map(language => ({ scheme: 'file', language })));
}

/**
 * Whether a change to `codeassist.<key>` needs a server restart: every key but the client-only ones, and
 * the remote-only ones only while `backend` (the setting after the change) is remote.
 */
export function needsRestart(affects: (key: string) => boolean, backend: Backend): boolean {
    if (!affects('codeassist')) {
        return false;
    }
    const keys = Object.values(KEYS).filter(k => !CLIENT_ONLY.has(k) && (backend === 'remote' || !REMOTE_ONLY.has(k)));
    return keys.some(k => affects(`codeassist.${k}`));
}
