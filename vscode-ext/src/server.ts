/**
 * The server's lifecycle: starts `codeassist lsp` over stdio with the settings as
 * `initializationOptions` (and the remote engine's API key from the secret storage in its environment),
 * restarts it when they or the key change, routes its status and indexing progress to the
 * status bar and its patches to the PatchReviewer, and explains a missing or crashing server in words.
 */
import type { ChildProcess } from 'child_process';
import * as vscode from 'vscode';
import {
    CancellationToken, CancellationTokenSource, CloseAction, CloseHandlerResult, CodeActionResolveRequest, ErrorAction, ExecuteCommandRequest,
    LanguageClient, LanguageClientOptions, ProgressToken, ResponseError, RevealOutputChannelOn, WorkDoneProgressCancelNotification,
} from 'vscode-languageclient/node';

import { ApiKeys, endpointOrigin } from './apiKey';
import { checkExecutable, describeCommand, explainExit, launchServer, LaunchError, OutputTail } from './launch';
import type { PatchReviewer } from './patch';
import { isCodeassistPatch } from './preview';
import {
    backendProblems, documentSelector, initializationOptions, needsRestart, readSettings, serverCommand, ServerCommand, Settings,
} from './settings';
import type { ProgressValue, ServerStatus } from './status';
import type { StatusBar } from './statusBar';

/** The notification lsp/server.py sends with `{"state", "message", "lastLatencyMs"?}`. */
export const STATUS_NOTIFICATION = 'codeassist/status';
/** The internal command a resolved "Suggest patch…" action runs to review its edit. */
export const REVIEW_PATCH_COMMAND = 'codeassist.reviewPatch';

const WATCHED_FILES = '**/*.{py,pyi,js,jsx,mjs,cjs,ts,tsx,mts,cts,go,rs,java,c,h,cc,cpp,cxx,hh,hpp,hxx}';
const MAX_RESTARTS = 3;  // crashes within RESTART_WINDOW_MS before the server stays down
const RESTART_WINDOW_MS = 3 * 60_000;
const EARLY_EXIT_MS = 15_000;  // an exit this soon after start is a broken install, not a crash: no restart

/** The `codeassist.patch` command's result (lsp/server.py `patch_command`). */
interface PatchResult {
    applied: boolean;
    files?: string[];
    attempts?: number;
    errors: string[];
}

export class ServerManager implements vscode.Disposable {
    private client: LanguageClient | undefined;
    private process: ChildProcess | undefined;
    private command: ServerCommand | undefined;
    private startedAt = 0;
    private crashes: number[] = [];
    private stderr = new OutputTail();
    private stopping = false;
    private readonly perClient: vscode.Disposable[] = [];
    private readonly progressTokens = new Set<ProgressToken>();
    private reviewStarted: (() => void) | undefined;
    private apiKey: string | undefined;  // the key the running server was given (remote backend only)
    private readonly listeners: vscode.Disposable[];

    constructor(private readonly output: vscode.LogOutputChannel, private readonly status: StatusBar,
        private readonly patches: PatchReviewer, private readonly keys: ApiKeys,
        onSecretChange: vscode.Event<vscode.SecretStorageChangeEvent>) {
        this.listeners = [
            vscode.workspace.onDidChangeConfiguration(e => {
                if (needsRestart(key => e.affectsConfiguration(key), currentSettings().backend)) {
                    this.output.info('settings changed: restarting the server');
                    void this.restart();
                }
            }),
            onSecretChange(e => {
                if (ApiKeys.concerns(e.key, currentSettings().endpoint)) {
                    void this.applyApiKey();
                }
            }),
        ];
    }

    async start(): Promise<void> {
        const { settings, problems } = readSettings(vscode.workspace.getConfiguration('codeassist'));
        for (const p of [...problems, ...backendProblems(settings, process.env)]) {
            this.output.warn(p);
            void vscode.window.showWarningMessage(`CodeAssist: ${p}`);
        }
        this.apiKey = await this.readApiKey(settings);
        if (settings.backend === 'remote') {
            const where = endpointOrigin(settings.endpoint) ?? '$CODEASSIST_ENDPOINT';
            this.output.info(`remote backend at ${where}, API key ${this.apiKey ? 'from the secret storage' : 'none stored (or $CODEASSIST_API_KEY)'}`);
        }
        const command = serverCommand(settings, this.apiKey);
        this.command = command;
        this.stopping = false;
        this.status.model.setClient('starting');
        this.status.render();
        try {
            checkExecutable(command, process.env);
        } catch (e) {
            await this.reportFailure(e);
            return;
        }
        const folder = vscode.workspace.workspaceFolders?.find(f => f.uri.scheme === 'file');
        const watcher = vscode.workspace.createFileSystemWatcher(WATCHED_FILES);
        this.perClient.push(watcher);
        const client = new LanguageClient('codeassist', 'CodeAssist', async () => {
            this.stderr = new OutputTail();
            this.output.info(`starting ${describeCommand(command)}${folder ? ` in ${folder.uri.fsPath}` : ''}`);
            const child = await launchServer(command, folder?.uri.fsPath, process.env, text => this.stderr.push(text));
            this.process = child;
            this.startedAt = Date.now();
            return child;
        }, this.clientOptions(settings, watcher));
        this.client = client;
        this.perClient.push(client.onNotification(STATUS_NOTIFICATION, payload => {
            this.status.model.onStatus(payload);
            this.status.render();
        }));
        try {
            await client.start();
        } catch (e) {
            this.client = undefined;
            await this.reportFailure(e);
            return;
        }
        this.status.model.setClient('running');
        this.status.render();
    }

    async stop(): Promise<void> {
        this.stopping = true;
        const client = this.client;
        this.client = undefined;
        this.perClient.splice(0).forEach(d => d.dispose());
        this.progressTokens.clear();
        if (client?.isRunning()) {
            try {
                await client.stop(5000);
            } catch (e) {
                this.output.warn(`the server did not stop cleanly: ${String(e)}`);
            }
        }
        this.status.model.setClient('stopped');
        this.status.render();
    }

    async restart(): Promise<void> {
        await this.stop();
        this.crashes = [];
        await this.start();
    }

    dispose(): void {
        this.listeners.forEach(d => d.dispose());
        void this.stop();
    }

    /**
     * Restarts the server when the remote backend's stored API key is not the one it was started with.
     * Called by the command that sets the key and by the secret storage's change event; the first call
     * records the new key before it restarts, so the second finds nothing to do.
     */
    async applyApiKey(): Promise<void> {
        const settings = currentSettings();
        const key = await this.readApiKey(settings);
        if (settings.backend !== 'remote' || key === this.apiKey) {
            return;
        }
        this.apiKey = key;
        this.output.info('the API key changed: restarting the server');
        await this.restart();
    }

    /** The stored key for the remote backend's endpoint; undefined for the local backend or when none. */
    private async readApiKey(settings: Settings): Promise<string | undefined> {
        if (settings.backend !== 'remote') {
            return undefined;
        }
        try {
            return await this.keys.get(settings.endpoint);
        } catch (e) {  // no keychain on this machine: the server may still have $CODEASSIST_API_KEY
            this.output.warn(`the API key could not be read from the secret storage: ${e instanceof Error ? e.message : String(e)}`);
            return undefined;
        }
    }

    /** Asks the server for a patch for `instruction`; the edit arrives as workspace/applyEdit. */
    async proposePatch(instruction: string, files: string[]): Promise<void> {
        const client = this.runningClient();
        if (client === undefined) {
            return;
        }
        const cts = new CancellationTokenSource();
        const reviewing = new Promise<void>(resolve => (this.reviewStarted = resolve));
        const request = client.sendRequest(ExecuteCommandRequest.type,
            { command: 'codeassist.patch', arguments: [{ instruction, files }] }, cts.token) as Promise<PatchResult | null>;
        await vscode.window.withProgress({
            location: vscode.ProgressLocation.Notification, title: 'CodeAssist: proposing a patch…', cancellable: true,
        }, (_progress, token) => {
            token.onCancellationRequested(() => cts.cancel());
            return Promise.race([request.then(() => undefined, () => undefined), reviewing]);
        });
        let result: PatchResult | null;
        try {
            result = await request;
        } catch (e) {
            this.reviewStarted = undefined;
            if (e instanceof ResponseError && cts.token.isCancellationRequested) {
                this.output.info('patch request cancelled');
                return;
            }
            this.output.error(`codeassist.patch failed: ${String(e)}`);
            void vscode.window.showErrorMessage(`CodeAssist: the patch request failed: ${String(e)}`, 'Show Log')
                .then(c => (c ? this.output.show() : undefined));
            return;
        }
        this.reviewStarted = undefined;
        if (result && result.errors.length > 0) {
            this.output.warn(`no patch after ${result.attempts ?? '?'} attempt(s):\n  ${result.errors.join('\n  ')}`);
            void vscode.window.showWarningMessage(`CodeAssist could not propose a patch: ${result.errors[0]}`, 'Show Log')
                .then(c => (c ? this.output.show() : undefined));
        }
    }

    /** `workspace/executeCommand` on the server; undefined (and a message) when it is not running. */
    async executeCommand<T>(command: string, ...args: unknown[]): Promise<T | undefined> {
        const client = this.runningClient();
        return client && (await client.sendRequest(ExecuteCommandRequest.type, { command, arguments: args }) as T);
    }

    /** Stops the indexing the server reports progress for (`window/workDoneProgress/cancel`). */
    async cancelIndexing(): Promise<void> {
        const client = this.runningClient();
        for (const token of client ? this.progressTokens : []) {
            await client!.sendNotification(WorkDoneProgressCancelNotification.type, { token });
        }
    }

    async serverStatus(): Promise<ServerStatus | undefined> {
        return this.executeCommand<ServerStatus>('codeassist.status');
    }

    private runningClient(): LanguageClient | undefined {
        if (this.client?.isRunning()) {
            return this.client;
        }
        void vscode.window.showWarningMessage('CodeAssist: the server is not running.', 'Restart Server', 'Show Log')
            .then(c => (c === 'Restart Server' ? this.restart() : c ? this.output.show() : undefined));
        return undefined;
    }

    private clientOptions(settings: Settings, watcher: vscode.FileSystemWatcher): LanguageClientOptions {
        return {
            documentSelector: documentSelector(settings),
            initializationOptions: initializationOptions(settings),
            outputChannel: this.output,
            revealOutputChannelOn: RevealOutputChannelOn.Never,
            synchronize: { fileEvents: watcher },
            initializationFailedHandler: error => {  // reportFailure explains it; no generic popup as well
                this.output.error(`initialize failed: ${error instanceof Error ? error.message : String(error)}`);
                return false;
            },
            errorHandler: {
                error: () => ({ action: ErrorAction.Continue }),
                closed: () => this.onClosed(),
            },
            middleware: {
                workspace: {
                    handleApplyEdit: async (params, next) => {
                        if (!isCodeassistPatch(params.edit)) {
                            return next(params, CancellationToken.None);
                        }
                        this.reviewStarted?.();
                        return { applied: await this.patches.review(params.edit) };
                    },
                },
                resolveCodeAction: (item, token) => this.resolveCodeAction(item, token),
                handleWorkDoneProgress: (token, value, next) => {
                    this.onProgress(token, value);
                    next(token, value);
                },
            },
        };
    }

    /**
     * Resolves a server code action with a progress notification (proposing a patch takes seconds);
     * a codeassist patch becomes a command that reviews it, so code actions and "Propose Patch…" share
     * one preview, apply and undo path.
     */
    private async resolveCodeAction(item: vscode.CodeAction, token: vscode.CancellationToken): Promise<vscode.CodeAction> {
        const client = this.client;
        if (client === undefined) {
            return item;
        }
        const resolved = await vscode.window.withProgress({
            location: vscode.ProgressLocation.Notification, title: `CodeAssist: ${item.title}`, cancellable: true,
        }, (_progress, cancel) => {
            const cts = new CancellationTokenSource();
            token.onCancellationRequested(() => cts.cancel());
            cancel.onCancellationRequested(() => cts.cancel());
            return client.sendRequest(CodeActionResolveRequest.type, client.code2ProtocolConverter.asCodeActionSync(item), cts.token);
        });
        if (isCodeassistPatch(resolved.edit)) {
            item.edit = undefined;
            item.command = { title: 'Review patch', command: REVIEW_PATCH_COMMAND, arguments: [resolved.edit] };
            return item;
        }
        if (!resolved.edit && !resolved.command) {
            void vscode.window.showWarningMessage(`CodeAssist: "${item.title}" found no patch for this code.`);
            return item;
        }
        return client.protocol2CodeConverter.asCodeAction(resolved, token);
    }

    /** Mirrors the server's work-done progress (indexing) in the status bar; the notification stays too. */
    private onProgress(token: ProgressToken, value: ProgressValue): void {
        if (value.kind === 'end') {
            this.progressTokens.delete(token);
        } else {
            this.progressTokens.add(token);
        }
        this.status.model.onProgress(value);
        this.status.render();
    }

    private async onClosed(): Promise<CloseHandlerResult> {
        if (this.stopping) {
            return { action: CloseAction.DoNotRestart, handled: true };
        }
        const exit = await exitOf(this.process);
        const now = Date.now();
        this.crashes = [...this.crashes.filter(t => now - t < RESTART_WINDOW_MS), now];
        const explanation = explainExit(exit.code, exit.signal, this.stderr.toString(), this.command!);
        this.output.error(explanation);
        if (now - this.startedAt < EARLY_EXIT_MS || this.crashes.length > MAX_RESTARTS) {
            this.fail(explanation);
            return { action: CloseAction.DoNotRestart, handled: true };
        }
        this.status.model.setClient('starting');
        this.status.render();
        return { action: CloseAction.Restart, handled: true };
    }

    private async reportFailure(e: unknown): Promise<void> {
        if (e instanceof LaunchError) {
            this.output.error(e.message);
            this.fail(e.message);
        } else if (this.status.model.client !== 'failed') {  // onClosed has not explained it already
            const exit = await exitOf(this.process);
            const explanation = exit.code !== null || exit.signal !== null
                ? explainExit(exit.code, exit.signal, this.stderr.toString(), this.command!)
                : `CodeAssist: the server did not start: ${e instanceof Error ? e.message : String(e)}`;
            this.output.error(explanation);
            this.fail(explanation);
        }
    }

    private fail(message: string): void {
        this.status.model.setClient('failed', message);
        this.status.render();
        void vscode.window.showErrorMessage(message, 'Show Log', 'Open Settings', 'Retry').then(choice => {
            if (choice === 'Show Log') {
                this.output.show();
            } else if (choice === 'Open Settings') {
                void vscode.commands.executeCommand('workbench.action.openSettings', 'codeassist.server');
            } else if (choice === 'Retry') {
                void this.restart();
            }
        });
    }
}

function currentSettings(): Settings {
    return readSettings(vscode.workspace.getConfiguration('codeassist')).settings;
}

/** The process's exit code and signal, waiting up to 2 s for it to exit. */
function exitOf(child: ChildProcess | undefined): Promise<{ code: number | null; signal: string | null }> {
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) {
        return Promise.resolve({ code: child?.exitCode ?? null, signal: child?.signalCode ?? null });
    }
    return new Promise(resolve => {
        const timer = setTimeout(() => resolve({ code: null, signal: null }), 2000);
        child.once('exit', (code, signal) => {
            clearTimeout(timer);
            resolve({ code, signal });
        });
    });
}
