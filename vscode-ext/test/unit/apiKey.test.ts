import * as assert from 'assert';

import { ApiKeys, checkApiKey, endpointOrigin, SecretStore, secretName } from '../../src/apiKey';

/** An in-memory SecretStore that records what was asked of it. */
class MemoryStore implements SecretStore {
    readonly values = new Map<string, string>();
    readonly calls: string[] = [];
    async get(key: string) {
        this.calls.push(`get ${key}`);
        return this.values.get(key);
    }
    async store(key: string, value: string) {
        this.calls.push(`store ${key}`);
        this.values.set(key, value);
    }
    async delete(key: string) {
        this.calls.push(`delete ${key}`);
        this.values.delete(key);
    }
}

describe('apiKey', () => {
    it('a key is kept per endpoint origin: path, query, credentials and default port do not matter', () => {
        assert.strictEqual(endpointOrigin(' https://gpu-box:8000/v1?x=1 '), 'https://gpu-box:8000');
        assert.strictEqual(endpointOrigin('https://user:pw@gpu-box:443/v1'), 'https://gpu-box');
        assert.strictEqual(secretName('http://127.0.0.1:8080'), 'codeassist.apiKey:http://127.0.0.1:8080');
        assert.strictEqual(secretName('http://127.0.0.1:8080/v1'), secretName('http://127.0.0.1:8080/'));
        assert.notStrictEqual(secretName('http://gpu-box:8000'), secretName('https://gpu-box:8000'));
        assert.notStrictEqual(secretName('http://gpu-box:8000'), secretName('http://gpu-box:8001'));
        for (const bad of ['', 'gpu-box:8000', 'ftp://gpu-box', 'http://']) {
            assert.strictEqual(secretName(bad), undefined, bad);
        }
    });

    it('keys with whitespace or control characters are refused; an empty one is allowed (it removes)', () => {
        assert.strictEqual(checkApiKey(''), undefined);
        assert.strictEqual(checkApiKey('  sk-abc_DEF.123  '), undefined);
        assert.match(checkApiKey('sk-abc\r\nX-Injected: 1') ?? '', /line breaks/);
        assert.match(checkApiKey('sk abc') ?? '', /spaces/);
        assert.match(checkApiKey('sk-\u0000') ?? '', /control/);
        assert.match(checkApiKey('k'.repeat(5000)) ?? '', /at most 4096/);
    });

    it('stores, reads back and removes the key of one endpoint without touching another', async () => {
        const store = new MemoryStore();
        const keys = new ApiKeys(store);
        assert.strictEqual(await keys.set('http://gpu-box:8000/v1', '  sk-one  '), 'stored');
        assert.strictEqual(await keys.set('https://other:443', 'sk-two'), 'stored');
        assert.strictEqual(await keys.get('http://gpu-box:8000'), 'sk-one');
        assert.strictEqual(await keys.get('https://other'), 'sk-two');
        assert.strictEqual(await keys.get('http://evil.example:8000'), undefined);
        assert.strictEqual(await keys.set('http://gpu-box:8000', ''), 'removed');
        assert.strictEqual(await keys.get('http://gpu-box:8000'), undefined);
        assert.strictEqual(await keys.get('https://other'), 'sk-two');
        assert.deepStrictEqual([...store.values.keys()], ['codeassist.apiKey:https://other']);
    });

    it('no endpoint: nothing is read, and setting a key says to set the endpoint first', async () => {
        const store = new MemoryStore();
        const keys = new ApiKeys(store);
        assert.strictEqual(await keys.get(''), undefined);
        await assert.rejects(keys.set('', 'sk-one'), /set codeassist\.endpoint first/);
        await assert.rejects(keys.set('http://gpu-box:8000', 'sk one'), /no spaces/);
        assert.deepStrictEqual(store.calls, []);
    });

    it('a secret change concerns the endpoint whose origin it names', () => {
        const name = secretName('http://gpu-box:8000')!;
        assert.strictEqual(ApiKeys.concerns(name, 'http://gpu-box:8000/v1'), true);
        assert.strictEqual(ApiKeys.concerns(name, 'http://gpu-box:9000'), false);
        assert.strictEqual(ApiKeys.concerns(name, ''), false);
    });
});
