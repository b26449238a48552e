/** The commands package.json declares, registered against the server manager and the patch reviewer. */
import * as vscode from 'vscode';
import type { WorkspaceEdit } from 'vscode-languageserver-protocol';

import { ApiKeys, checkApiKey, endpointOrigin } from './apiKey';
import type { PatchReviewer } from './patch';
import { REVIEW_PATCH_COMMAND, ServerManager } from './server';
import { documentSelector, readSettings } from './settings';
import { describeServerStatus } from './status';

export const SHOW_STATUS_COMMAND = 'codeassist.showStatus';
export const SET_API_KEY_COMMAND = 'codeassist.setApiKey';

export function registerCommands(manager: ServerManager, patches: PatchReviewer, output: vscode.LogOutputChannel,
    keys: ApiKeys): vscode.Disposable[] {
    return [
        vscode.commands.registerCommand('codeassist.restartServer', () => manager.restart()),
        vscode.commands.registerCommand('codeassist.showLog', () => output.show()),
        vscode.commands.registerCommand('codeassist.proposePatch', () => proposePatch(manager)),
        vscode.commands.registerCommand('codeassist.undoPatch', () => patches.undo()),
        vscode.commands.registerCommand('codeassist.reindex', () => manager.executeCommand('codeassist.reindex')),
        vscode.commands.registerCommand('codeassist.cancelIndexing', () => manager.cancelIndexing()),
        vscode.commands.registerCommand(SHOW_STATUS_COMMAND, () => showStatus(manager, output)),
        vscode.commands.registerCommand(REVIEW_PATCH_COMMAND, (edit: WorkspaceEdit) => patches.review(edit)),
        vscode.commands.registerCommand(SET_API_KEY_COMMAND, () => setApiKey(manager, keys, output)),
    ];
}

/**
 * "CodeAssist: Set Remote API Key": asks for the key of the engine at `codeassist.endpoint` and keeps it
 * in the secret storage (empty input removes it); the server restarts with it when the backend is remote.
 */
async function setApiKey(manager: ServerManager, keys: ApiKeys, output: vscode.LogOutputChannel): Promise<void> {
    const settings = readSettings(vscode.workspace.getConfiguration('codeassist')).settings;
    const origin = endpointOrigin(settings.endpoint);
    if (origin === undefined) {
        const choice = await vscode.window.showWarningMessage(
            'CodeAssist: set codeassist.endpoint to the engine\'s URL first; the API key is kept for that endpoint only.', 'Open Settings');
        if (choice) {
            await vscode.commands.executeCommand('workbench.action.openSettings', 'codeassist.endpoint');
        }
        return;
    }
    const key = await vscode.window.showInputBox({
        title: 'CodeAssist: Set Remote API Key',
        prompt: `The API key for ${origin}, sent as a bearer token. It is kept in VS Code's secret storage, not in settings. `
            + 'Leave empty to remove the stored key.',
        password: true,
        ignoreFocusOut: true,
        validateInput: text => checkApiKey(text),
    });
    if (key === undefined) {
        return;
    }
    let outcome: 'stored' | 'removed';
    try {
        outcome = await keys.set(settings.endpoint, key);
    } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        output.error(`the API key was not stored: ${why}`);
        void vscode.window.showErrorMessage(`CodeAssist: the API key was not stored: ${why}`);
        return;
    }
    output.info(`API key for ${origin} ${outcome}`);
    const unused = settings.backend === 'remote' ? '' : ' It is used when codeassist.backend is "remote".';
    void vscode.window.showInformationMessage(`CodeAssist: API key for ${origin} ${outcome}.${unused}`);
    await manager.applyApiKey();
}

/** "CodeAssist: Propose Patch…": an instruction, and the active file as the one to start from. */
async function proposePatch(manager: ServerManager): Promise<void> {
    const instruction = await vscode.window.showInputBox({
        title: 'CodeAssist: Propose Patch',
        prompt: 'What should change? The patch may touch several files; you review it before anything is written.',
        placeHolder: 'e.g. Rename apply_discount_code to apply_discount and update its callers',
        validateInput: text => (text.trim() === '' ? 'Describe the change.' : undefined),
    });
    if (!instruction) {
        return;
    }
    const doc = vscode.window.activeTextEditor?.document;
    const selector = documentSelector(readSettings(vscode.workspace.getConfiguration('codeassist')).settings);
    const files = doc && vscode.languages.match(selector, doc) > 0 ? [doc.uri.toString()] : [];
    await manager.proposePatch(instruction.trim(), files);
}

async function showStatus(manager: ServerManager, output: vscode.LogOutputChannel): Promise<void> {
    const status = await manager.serverStatus();
    if (status === undefined) {
        return;
    }
    const lines = describeServerStatus(status);
    output.info(`status: ${lines.join('; ')}`);
    const choice = await vscode.window.showInformationMessage(`CodeAssist: ${lines.join(' · ')}`, 'Show Log', 'Reindex', 'Restart Server');
    if (choice === 'Show Log') {
        output.show();
    } else if (choice === 'Reindex') {
        await manager.executeCommand('codeassist.reindex');
    } else if (choice === 'Restart Server') {
        await manager.restart();
    }
}
