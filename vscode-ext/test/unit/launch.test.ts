import * as assert from 'assert';
import * as os from 'os';
import * as path from 'path';

import { checkExecutable, explainExit, launchServer, LaunchError } from '../../src/launch';
import type { ServerCommand } from '../../src/settings';

const cmd = (command: string, ...args: string[]): ServerCommand => ({ command, args, env: {} });

describe('launch', () => {
    it('a missing executable is explained with how to install, not a stack trace', async () => {
        await assert.rejects(launchServer(cmd('codeassist-surely-not-installed', 'lsp'), os.tmpdir(), process.env, () => undefined), (e: Error) => {
            assert.ok(e instanceof LaunchError);
            assert.match(e.message, /`codeassist-surely-not-installed` was not found/);
            assert.match(e.message, /pip install/);
            assert.match(e.message, /codeassist\.server\.path/);
            return true;
        });
    });

    it('checks the executable before starting: on PATH, by path, or explained', () => {
        checkExecutable(cmd(process.execPath), {});
        checkExecutable(cmd('node'), { PATH: `/nonexistent${path.delimiter}${path.dirname(process.execPath)}` });
        assert.throws(() => checkExecutable(cmd('codeassist-surely-not-installed', 'lsp'), { PATH: '/usr/bin:/bin' }),
            (e: Error) => e instanceof LaunchError && /was not found\. Install codeassist/.test(e.message));
        assert.throws(() => checkExecutable(cmd(__filename), {}),  // exists, not executable
            (e: Error) => e instanceof LaunchError && /is not executable/.test(e.message));
    });

    it('a process that starts passes its stderr and environment through', async () => {
        let stderr = '';
        const child = await launchServer({ command: process.execPath, args: ['-e', 'console.error("threads=" + process.env.CODEASSIST_THREADS)'],
            env: { CODEASSIST_THREADS: '1' } }, os.tmpdir(), process.env, t => (stderr += t));
        const code = await new Promise(resolve => child.on('close', resolve));
        assert.strictEqual(code, 0);
        assert.strictEqual(stderr.trim(), 'threads=1');
    });

    it('explains a Python without codeassist, a codeassist without lsp, and other exits', () => {
        const py = cmd('/usr/bin/python3', '-m', 'codeassist', 'lsp');
        assert.match(explainExit(1, null, '/usr/bin/python3: No module named codeassist\n', py), /that Python has no codeassist package\..*pip install/);
        assert.match(explainExit(2, null, "codeassist: error: argument command: invalid choice: 'lsp'", cmd('codeassist', 'lsp')),
            /no `lsp` command/);
        const other = explainExit(1, null, 'Traceback (most recent call last):\n  ...\nRuntimeError: boom\n', cmd('codeassist', 'lsp'));
        assert.match(other, /exited with code 1: RuntimeError: boom\. See the CodeAssist output/);
        assert.match(explainExit(null, 'SIGKILL', '', cmd('codeassist', 'lsp')), /exited on SIGKILL\. See/);
    });
});
