/**
 * Just enough of the `vscode` module for vscode-languageclient to construct a LanguageClient in plain
 * Node, so the end-to-end test can ask that client for the initialize capabilities it would send from
 * VS Code (`computeClientCapabilities`) instead of copying them by hand.
 *
 * Every name not defined here resolves to an inert constructible, callable object.
 */
import Module from 'module';
import { pathToFileURL } from 'url';

function inert(): unknown {
    const cache = new Map<PropertyKey, unknown>();
    const target = function () { /* inert */ };
    return new Proxy(target, {
        get: (t, p) => {
            if (p === 'prototype') {
                return t.prototype;
            }
            if (p === Symbol.toPrimitive) {
                return () => '';
            }
            if (p === 'then') {
                return undefined;  // not a thenable
            }
            if (!cache.has(p)) {
                cache.set(p, inert());
            }
            return cache.get(p);
        },
        apply: () => inert(),
        construct: () => inert() as object,
    });
}

class Uri {
    private constructor(readonly scheme: string, readonly fsPath: string, private readonly text: string) {}
    static file(path: string): Uri {
        return new Uri('file', path, pathToFileURL(path).href);
    }
    static parse(text: string): Uri {
        return new Uri(text.split(':')[0], text, text);
    }
    toString(): string {
        return this.text;
    }
}

/** Installs the stub for `require('vscode')`; `folder` is the one workspace folder VS Code would have. */
export function installVscodeStub(folder: string, version: string): void {
    const folders = [{ uri: Uri.file(folder), name: folder.split('/').pop(), index: 0 }];
    const base = inert() as Record<string, unknown>;
    const stub = new Proxy(base, {
        get: (t, p) => ({
            version,
            Uri,
            LogLevel: { Off: 0, Trace: 1, Debug: 2, Info: 3, Warning: 4, Error: 5 },
            env: { appName: 'Visual Studio Code', language: 'en' },
            workspace: new Proxy(inert() as object, {
                get: (w, k) => (k === 'workspaceFolders' ? folders : k === 'textDocuments' ? [] : (w as Record<PropertyKey, unknown>)[k]),
            }),
        } as Record<PropertyKey, unknown>)[p as string] ?? t[p as string],
    });
    const load = (Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown });
    const original = load._load;
    load._load = function (request: string, ...rest: unknown[]) {
        return request === 'vscode' ? stub : original.call(this, request, ...rest);
    };
}
