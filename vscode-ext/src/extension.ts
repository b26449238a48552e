/** Activation and deactivation only: the parts live in server.ts, patch.ts, statusBar.ts, apiKey.ts, commands.ts. */
import * as vscode from 'vscode';

import { ApiKeys } from './apiKey';
import { registerCommands, SHOW_STATUS_COMMAND } from './commands';
import { PatchReviewer } from './patch';
import { ServerManager } from './server';
import { readSettings } from './settings';
import { StatusBar } from './statusBar';

let manager: ServerManager | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
    const output = vscode.window.createOutputChannel('CodeAssist', { log: true });
    const status = new StatusBar(SHOW_STATUS_COMMAND);
    const patches = new PatchReviewer(output, () => readSettings(vscode.workspace.getConfiguration('codeassist')).settings.patchPreview);
    const keys = new ApiKeys(context.secrets);
    manager = new ServerManager(output, status, patches, keys, context.secrets.onDidChange);
    context.subscriptions.push(output, status, patches, manager, ...registerCommands(manager, patches, output, keys));
    await manager.start();
}

export async function deactivate(): Promise<void> {
    await manager?.stop();
    manager = undefined;
}
