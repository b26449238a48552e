import * as assert from 'assert';

import {
    DEFAULTS, documentSelector, initializationOptions, KEYS, LANGUAGES, needsRestart, readSettings, Section, serverCommand,
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
        });
    });

    it('user values pass through', () => {
        const { settings } = readSettings(section({
            model: ' /models/x.gguf ', contextTokens: 4096, maxNewTokens: 64, ropeScaling: 'dynamic',
            languages: ['go', 'rust', 'go'], 'inlineCompletion.enabled': false,
        }));
        assert.deepStrictEqual(initializationOptions(settings), {
            model: '/models/x.gguf', contextTokens: 4096, maxNewTokens: 64, ropeScaling: 'dynamic',
            languages: ['go', 'rust'], inlineCompletion: false,
        });
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
        assert.strictEqual(needsRestart(changed('codeassist.contextTokens')), true);
        assert.strictEqual(needsRestart(changed('codeassist.server.pythonPath')), true);
        assert.strictEqual(needsRestart(changed('codeassist.patch.preview')), false);
        assert.strictEqual(needsRestart(changed('codeassist.trace.server')), false);
        assert.strictEqual(needsRestart(() => false), false);
    });
});
