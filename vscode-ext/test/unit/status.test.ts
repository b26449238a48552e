import * as assert from 'assert';

import { describeServerStatus, StatusModel } from '../../src/status';

function running(): StatusModel {
    const m = new StatusModel();
    m.setClient('starting');
    m.setClient('running');
    return m;
}

describe('status', () => {
    it('follows the server from indexing with progress through loading to ready with latency', () => {
        const m = running();
        m.onStatus({ state: 'indexing', message: 'indexing /repo' });
        assert.strictEqual(m.view().text, '$(sync~spin) CodeAssist: indexing');
        m.onProgress({ kind: 'begin', title: 'codeassist: indexing', percentage: 0 });
        m.onProgress({ kind: 'report', message: '50/200 files', percentage: 25 });
        assert.strictEqual(m.view().text, '$(sync~spin) CodeAssist: indexing 25%');
        assert.match(m.view().tooltip, /50\/200 files/);
        m.onProgress({ kind: 'end', message: '200 files, 900 symbols in 3.1 s' });
        m.onStatus({ state: 'indexed', message: '200 files, 900 symbols in 3.1 s' });
        m.onStatus({ state: 'loading', message: 'loading model default' });
        assert.strictEqual(m.view().text, '$(loading~spin) CodeAssist: loading model');
        assert.match(m.view().tooltip, /index: 200 files, 900 symbols/);
        m.onStatus({ state: 'ready', message: 'Qwen ready' });
        assert.strictEqual(m.view().text, '$(check) CodeAssist');
        m.onStatus({ state: 'ready', message: 'completed', lastLatencyMs: 412 });
        assert.strictEqual(m.view().text, '$(check) CodeAssist 412 ms');
        assert.match(m.view().tooltip, /last completion: 412 ms/);
        assert.strictEqual(m.view().severity, 'normal');
    });

    it('a model that failed to load is an error with the server message', () => {
        const m = running();
        m.onStatus({ state: 'failed', message: 'model file missing: run codeassist model install' });
        const v = m.view();
        assert.strictEqual(v.text, '$(error) CodeAssist: failed');
        assert.strictEqual(v.severity, 'error');
        assert.match(v.tooltip, /codeassist model install/);
    });

    it('a server that could not start says so, and a restart clears it', () => {
        const m = running();
        m.onStatus({ state: 'ready', message: 'x', lastLatencyMs: 10 });
        m.setClient('failed', '`codeassist` was not found');
        assert.strictEqual(m.view().text, '$(error) CodeAssist: server failed');
        assert.match(m.view().tooltip, /was not found/);
        m.setClient('starting');
        assert.strictEqual(m.view().text, '$(loading~spin) CodeAssist: starting');
        m.setClient('running');
        assert.strictEqual(m.server, 'starting');  // nothing from the new server yet
    });

    it('ignores malformed notifications', () => {
        const m = running();
        m.onStatus({ state: 'ready', message: 'ok' });
        for (const bad of [null, 'ready', { message: 'no state' }, { state: 3 }, { state: 'failed', lastLatencyMs: 'slow' }]) {
            m.onStatus(bad);
        }
        assert.strictEqual(m.server, 'ready');
    });

    it('describes the codeassist.status result', () => {
        assert.deepStrictEqual(describeServerStatus({
            state: 'ready', message: 'Qwen ready', root: '/repo', files: 4, symbols: 17, languages: { python: 4 },
        }), ['state: ready (Qwen ready)', 'workspace: /repo', 'index: 4 files, 17 symbols', 'languages: python 4']);
        assert.deepStrictEqual(describeServerStatus({ state: 'starting', message: '', root: null }), ['state: starting']);
    });
});
