/**
 * The remote engine's API key: kept in VS Code's secret storage (the OS keychain), not in settings.json,
 * one key per endpoint origin, so that a different `codeassist.endpoint` (a workspace's, say) is never
 * sent a key that was entered for another engine.
 *
 * Pure: takes a `SecretStore` (the subset of `vscode.SecretStorage` it uses) and never imports `vscode`.
 */
import { isHttpUrl } from './settings';

/** The subset of `vscode.SecretStorage` this module uses. */
export interface SecretStore {
    get(key: string): PromiseLike<string | undefined>;
    store(key: string, value: string): PromiseLike<void>;
    delete(key: string): PromiseLike<void>;
}

const PREFIX = 'codeassist.apiKey:';
/** Longer than any bearer token a server issues; a longer paste is a mistake (a file, a log). */
const MAX_KEY_CHARS = 4096;

/**
 * The origin a key is kept for (`https://gpu-box:8000`; path, query and credentials dropped), or
 * undefined when `endpoint` is not an http(s) URL.
 */
export function endpointOrigin(endpoint: string): string | undefined {
    const text = endpoint.trim();
    return isHttpUrl(text) ? new URL(text).origin : undefined;
}

/** The secret storage key for `endpoint`'s origin, or undefined when `endpoint` is not an http(s) URL. */
export function secretName(endpoint: string): string | undefined {
    const origin = endpointOrigin(endpoint);
    return origin === undefined ? undefined : PREFIX + origin;
}

/**
 * Why `text` (as typed, trimmed first) cannot be a key, or undefined when it can. Empty is allowed: it
 * removes the key. A key goes into an HTTP header, so whitespace and control characters are refused.
 */
export function checkApiKey(text: string): string | undefined {
    const key = text.trim();
    if (key.length > MAX_KEY_CHARS) {
        return `An API key is at most ${MAX_KEY_CHARS} characters; this is ${key.length}.`;
    }
    // eslint-disable-next-line no-control-regex
    if (/[\s\u0000-\u001f\u007f]/.test(key)) {
        return 'An API key has no spaces, line breaks or control characters.';
    }
    return undefined;
}

export class ApiKeys {
    constructor(private readonly store: SecretStore) {}

    /** The key kept for `endpoint`'s origin, or undefined (none kept, or no valid endpoint). */
    async get(endpoint: string): Promise<string | undefined> {
        const name = secretName(endpoint);
        const key = name === undefined ? undefined : await this.store.get(name);
        return key === '' ? undefined : key;
    }

    /**
     * Keeps `key` (trimmed) for `endpoint`'s origin; an empty key removes the one kept. Throws an Error
     * that says why for an endpoint that is not an http(s) URL or a key that `checkApiKey` refuses.
     */
    async set(endpoint: string, key: string): Promise<'stored' | 'removed'> {
        const name = secretName(endpoint);
        if (name === undefined) {
            throw new Error(`"${endpoint}" is not an http:// or https:// URL; set codeassist.endpoint first.`);
        }
        const problem = checkApiKey(key);
        if (problem !== undefined) {
            throw new Error(problem);
        }
        if (key.trim() === '') {
            await this.store.delete(name);
            return 'removed';
        }
        await this.store.store(name, key.trim());
        return 'stored';
    }

    /** Whether a change to the secret `changedKey` concerns `endpoint`'s key. */
    static concerns(changedKey: string, endpoint: string): boolean {
        return changedKey === secretName(endpoint);
    }
}
