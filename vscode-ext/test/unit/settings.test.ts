import * as assert from 'assert';

import {
    backendProblems, DEFAULTS, documentSelector, initializationOptions, KEYS, LANGUAGES, needsRestart, readSettings, Section, serverCommand,
} from '../../src/settings';

import * as fs from 'fs';
import * as path from 'path';

const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../../../package.json'), 'utf8'));  // out/test/unit -> vscode-ext

function section(values: Record<string, unknown>): Section {
    return { get: <T>(key: string) => values[key] as T | undefined };
}

describe('settings', () => {
    it('package.json declares every setting with the same default and a description', () => {
        const props = pkg.contributes.configuration.properties;
        for (const [field, key] of Object.entries(KEYS)) {
            const decl = props[`codeassist.${key}`];
            assert.ok(decl, `codeassist.${key} is not declared`);
            assert.deepStrictEqual(decl.default, (DEFAULTS as Record<string, unknown>)[field], `codeassist.${key}`);
            assert.ok((decl.markdownDescription ?? decl.description ?? '').length > 20, `codeassist.${key} has no description`);
        }
    });

    it('defaults become the initializationOptions lsp/options.py parses, with its camelCase names', () => {
        const { settings, problems } = readSettings(section({}));
        assert.deepStrictEqual(problems, []);
        assert.deepStrictEqual(initializationOptions(settings), {
            model: null,
            contextTokens: 1024,
            maxNewTokens: 48,
            ropeScaling: 'yarn',
            languages: ['python', 'javascript', 'typescript', 'tsx', 'go', 'rust', 'java', 'c', 'cpp'],
            inlineCompletion: true,
            backend: 'local',
            endpoint: null,
            remoteModel: null,
            tokenizer: null,
            fallback: 'none',
            requestTimeout: 30,
        });
    });

    it('every initializationOptions name is one lsp/options.py parses (field or camelCase alias)', () => {
        const source = fs.readFileSync(path.resolve(__dirname, '../../../../lsp/options.py'), 'utf8');
        const body = source.slice(source.indexOf('class ServerOptions'), source.indexOf('\n    def ', source.indexOf('class ServerOptions')));
        const fields = new Set([...body.matchAll(/^ {4}(\w+): [^=\n]+=/gm)].map(m => m[1]));
        const aliases = new Map([...source.matchAll(/"(\w+)": "(\w+)"/g)].map(m => [m[1], m[2]]));
        assert.ok(fields.has('request_timeout') && aliases.get('apiKey') === 'api_key', 'lsp/options.py was not parsed');
        for (const name of Object.keys(initializationOptions(DEFAULTS))) {
            assert.ok(fields.has(aliases.get(name) ?? name), `${name} is not a ServerOptions field or alias`);
        }
    });

    it('user values pass through', () => {
        const { settings } = readSettings(section({
            model: ' /models/x.gguf ', contextTokens: 4096, maxNewTokens: 64, ropeScaling: 'dynamic',
            languages: ['go', 'rust', 'go'], 'inlineCompletion.enabled': false,
            backend: 'remote', endpoint: ' https://gpu-box:8000/v1 ', remoteModel: 'Qwen/Qwen2.5-Coder-7B',
            tokenizer: '/models/qwen7b', fallback: 'local', requestTimeout: 2.5,
        }));
        assert.deepStrictEqual(initializationOptions(settings), {
            model: '/models/x.gguf', contextTokens: 4096, maxNewTokens: 64, ropeScaling: 'dynamic',
            languages: ['go', 'rust'], inlineCompletion: false,
            backend: 'remote', endpoint: 'https://gpu-box:8000/v1', remoteModel: 'Qwen/Qwen2.5-Coder-7B',
            tokenizer: '/models/qwen7b', fallback: 'local', requestTimeout: 2.5,
        });
    });

    it('bad backend values are named and replaced by their defaults', () => {
        const { settings, problems } = readSettings(section({
            backend: 'cloud', endpoint: 'gpu-box:8000', fallback: 'remote', requestTimeout: 0, remoteModel: 7,
        }));
        assert.deepStrictEqual([settings.backend, settings.endpoint, settings.fallback, settings.requestTimeout, settings.remoteModel],
            ['local', '', 'none', 30, '']);
        assert.strictEqual(problems.length, 5);
        assert.match(problems.join('\n'), /codeassist\.endpoint has a bad value "gpu-box:8000"; using ""/);
        assert.match(problems.join('\n'), /codeassist\.requestTimeout has a bad value 0; using 30/);
        assert.deepStrictEqual(readSettings(section({ requestTimeout: 601 })).problems.length, 1);
        assert.deepStrictEqual(readSettings(section({ requestTimeout: 600, endpoint: 'ftp://x' })).problems.length, 1);
    });

    it('a remote backend without an endpoint is a problem unless $CODEASSIST_ENDPOINT gives one', () => {
        const remote = readSettings(section({ backend: 'remote' })).settings;
        assert.match(backendProblems(remote, {}).join(), /codeassist\.endpoint/);
        assert.deepStrictEqual(backendProblems(remote, { CODEASSIST_ENDPOINT: 'http://gpu-box:8000' }), []);
        assert.deepStrictEqual(backendProblems(readSettings(section({})).settings, {}), []);
    });

    it('the API key reaches the server in its environment for the remote backend only, never in its options or arguments', () => {
        const remote = readSettings(section({ backend: 'remote', endpoint: 'http://gpu-box:8000' })).settings;
        const command = serverCommand(remote, 'sk-secret');
        assert.deepStrictEqual(command.env, { CODEASSIST_API_KEY: 'sk-secret' });
        assert.ok(!command.args.join(' ').includes('sk-secret'));
        assert.ok(!JSON.stringify(initializationOptions(remote)).includes('sk-secret'));
        assert.deepStrictEqual(serverCommand(remote).env, {});
        assert.deepStrictEqual(serverCommand(readSettings(section({})).settings, 'sk-secret').env, {});
    });

    it('bad values are named and replaced by their defaults', () => {
        const { settings, problems } = readSettings(section({
            contextTokens: -5, maxNewTokens: 2.5, ropeScaling: 'bogus', languages: ['python', 'cobol'], 'server.path': '  ',
            'patch.preview': 'popup',
        }));
        assert.strictEqual(settings.contextTokens, 1024);
        assert.strictEqual(settings.maxNewTokens, 48);
        assert.strictEqual(settings.ropeScaling, 'yarn');
        assert.deepStrictEqual(settings.languages, LANGUAGES);
        assert.strictEqual(settings.serverPath, 'codeassist');
        assert.strictEqual(settings.patchPreview, 'refactorPreview');
        assert.strictEqual(problems.length, 6);
        assert.match(problems.join('\n'), /codeassist\.ropeScaling has a bad value "bogus"; using "yarn"/);
        assert.match(problems.join('\n'), /codeassist\.languages has a bad value \["python","cobol"\]/);
    });

    it('the command line is `codeassist lsp`, or `PYTHON -m codeassist lsp`, with threads in the environment', () => {
        assert.deepStrictEqual(serverCommand(readSettings(section({})).settings), { command: 'codeassist', args: ['lsp'], env: {} });
        const s = readSettings(section({ 'server.pythonPath': '/venv/bin/python', 'server.threads': 1, 'server.verbose': true })).settings;
        assert.deepStrictEqual(serverCommand(s), {
            command: '/venv/bin/python', args: ['-m', 'codeassist', '--verbose', 'lsp'], env: { CODEASSIST_THREADS: '1' },
        });
    });

    it('the document selector covers the VS Code ids of the enabled languages, on disk only', () => {
        const all = documentSelector(readSettings(section({})).settings).map(f => f.language);
        assert.deepStrictEqual(all, ['python', 'javascript', 'javascriptreact', 'typescript', 'typescriptreact', 'go', 'rust', 'java', 'c', 'cpp']);
        const some = documentSelector(readSettings(section({ languages: ['tsx', 'cpp'] })).settings);
        assert.deepStrictEqual(some, [{ scheme: 'file', language: 'typescriptreact' }, { scheme: 'file', language: 'cpp' }]);
    });

    it('every language has an activation event', () => {
        const ids = documentSelector(readSettings(section({})).settings).map(f => `onLanguage:${f.language}`);
        for (const id of ids) {
            assert.ok(pkg.activationEvents.includes(id), id);
        }
    });

    it('server settings restart the server; the preview style and tracing do not', () => {
        const changed = (...keys: string[]) => (key: string) => key === 'codeassist' || keys.includes(key);
        assert.strictEqual(needsRestart(changed('codeassist.contextTokens'), 'local'), true);
        assert.strictEqual(needsRestart(changed('codeassist.server.pythonPath'), 'local'), true);
        assert.strictEqual(needsRestart(changed('codeassist.patch.preview'), 'local'), false);
        assert.strictEqual(needsRestart(changed('codeassist.trace.server'), 'remote'), false);
        assert.strictEqual(needsRestart(() => false, 'remote'), false);
    });

    it('backend settings restart the server; the remote-only ones only while the backend is remote', () => {
        const changed = (...keys: string[]) => (key: string) => key === 'codeassist' || keys.includes(key);
        assert.strictEqual(needsRestart(changed('codeassist.backend'), 'local'), true);  // remote -> local
        assert.strictEqual(needsRestart(changed('codeassist.backend'), 'remote'), true);
        for (const key of ['endpoint', 'remoteModel', 'tokenizer', 'fallback', 'requestTimeout']) {
            assert.strictEqual(needsRestart(changed(`codeassist.${key}`), 'remote'), true, key);
            assert.strictEqual(needsRestart(changed(`codeassist.${key}`), 'local'), false, key);
        }
        assert.strictEqual(needsRestart(changed('codeassist.model'), 'remote'), true);  // the fallback's model
    });
});
