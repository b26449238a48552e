/**
 * Reviewing, applying and undoing codeassist patches in the editor. A proposed WorkspaceEdit (from
 * `codeassist.patch` via workspace/applyEdit, or from the "Suggest patch…" code action) becomes a plan
 * (preview.ts), is shown either in the refactor preview (edits marked `needsConfirmation`) or as one
 * diff editor per file followed by an Apply/Discard question, is applied only when confirmed, saved,
 * and kept so that "CodeAssist: Undo Last Patch" can restore the files.
 */
import * as vscode from 'vscode';
import type { WorkspaceEdit } from 'vscode-languageserver-protocol';

import { describePlan, FileChange, inversePlan, PatchPlan, planWorkspaceEdit, PreviewError } from './preview';
import type { PatchPreview } from './settings';

const PROPOSED_SCHEME = 'codeassist-proposed';

export class PatchReviewer implements vscode.Disposable {
    private readonly proposed = new Map<string, string>();  // proposed-document uri -> text
    private lastApplied: PatchPlan | undefined;
    private reviews = 0;
    private readonly disposables: vscode.Disposable[] = [];

    constructor(private readonly log: vscode.LogOutputChannel, private readonly mode: () => PatchPreview) {
        this.disposables.push(vscode.workspace.registerTextDocumentContentProvider(PROPOSED_SCHEME, {
            provideTextDocumentContent: uri => this.proposed.get(uri.toString()) ?? '',
        }));
    }

    dispose(): void {
        this.disposables.forEach(d => d.dispose());
    }

    /** Shows a proposed edit, applies it if the user confirms; resolves to whether it was applied. */
    async review(edit: WorkspaceEdit): Promise<boolean> {
        let plan: PatchPlan;
        try {
            plan = await planWorkspaceEdit(edit, readText);
            checkVersions(plan);
        } catch (e) {
            if (!(e instanceof PreviewError)) {
                throw e;
            }
            this.log.warn(`patch not shown: ${e.message}`);
            void vscode.window.showWarningMessage(`CodeAssist: the proposed patch cannot be applied: ${e.message}`);
            return false;
        }
        if (plan.files.length === 0) {
            void vscode.window.showInformationMessage('CodeAssist: the proposed patch changes nothing.');
            return false;
        }
        const summary = describePlan(plan, relative);
        this.log.info(`patch proposed:\n  ${summary.join('\n  ')}`);
        let applied: boolean;
        try {
            applied = this.mode() === 'diffEditors' ? await this.reviewInDiffEditors(plan, summary)
                : await this.reviewInRefactorPreview(plan);
        } catch (e) {
            if (!(e instanceof PreviewError)) {
                throw e;
            }
            this.log.warn(`patch not applied: ${e.message}`);
            void vscode.window.showWarningMessage(`CodeAssist: the patch was not applied: ${e.message}`);
            return false;
        }
        if (applied) {
            this.lastApplied = plan;
            await saveAll(plan);
            this.log.info(`patch applied to ${plan.files.length} file(s)`);
            void vscode.window.showInformationMessage(`CodeAssist: patch applied to ${plan.files.length} file(s).`, 'Undo')
                .then(choice => (choice === 'Undo' ? this.undo() : undefined));
        } else {
            this.log.info('patch discarded');
        }
        return applied;
    }

    /** Restores the files the last applied patch changed (asks first if they changed since). */
    async undo(): Promise<void> {
        const plan = this.lastApplied;
        if (plan === undefined) {
            void vscode.window.showInformationMessage('CodeAssist: no patch to undo.');
            return;
        }
        const changed = [];
        for (const f of plan.files) {
            if ((await readText(f.uri)) !== f.after) {
                changed.push(relative(f.uri));
            }
        }
        if (changed.length > 0) {
            const choice = await vscode.window.showWarningMessage(
                `CodeAssist: ${changed.join(', ')} changed since the patch was applied; undoing loses those changes.`,
                { modal: true }, 'Undo Anyway');
            if (choice !== 'Undo Anyway') {
                return;
            }
        }
        const inverse = inversePlan(plan);
        if (await vscode.workspace.applyEdit(await toWorkspaceEdit(inverse, undefined, true))) {
            await saveAll(inverse);
            this.lastApplied = undefined;
            this.log.info(`patch undone in ${plan.files.length} file(s)`);
            void vscode.window.showInformationMessage(`CodeAssist: patch undone in ${plan.files.length} file(s).`);
        } else {
            void vscode.window.showErrorMessage('CodeAssist: the patch could not be undone; see the CodeAssist output.');
        }
    }

    private async reviewInRefactorPreview(plan: PatchPlan): Promise<boolean> {
        const metadata: vscode.WorkspaceEditEntryMetadata = { needsConfirmation: true, label: `CodeAssist: ${plan.label}` };
        await vscode.workspace.applyEdit(await toWorkspaceEdit(plan, metadata), { isRefactoring: true });
        return isApplied(plan);  // a discarded preview also resolves; the files tell what happened
    }

    private async reviewInDiffEditors(plan: PatchPlan, summary: string[]): Promise<boolean> {
        const review = ++this.reviews;
        const opened: vscode.Uri[] = [];
        for (const f of plan.files) {
            const rel = relative(f.uri);
            const right = vscode.Uri.from({ scheme: PROPOSED_SCHEME, path: `/${rel}`, query: `review=${review}` });
            this.proposed.set(right.toString(), f.after ?? '');
            const left = f.before === undefined
                ? vscode.Uri.from({ scheme: PROPOSED_SCHEME, path: `/${rel}`, query: `review=${review}&empty` })
                : vscode.Uri.parse(f.uri);
            const what = f.before === undefined ? 'new file' : f.after === undefined ? 'deleted' : 'proposed';
            await vscode.commands.executeCommand('vscode.diff', left, right, `${rel} (CodeAssist: ${what})`, { preview: false });
            opened.push(right);
        }
        const choice = await vscode.window.showInformationMessage(
            `CodeAssist proposes a patch: ${summary.join('; ')}. Apply it?`, 'Apply', 'Discard');
        await closeDiffs(opened);
        for (const uri of opened) {
            this.proposed.delete(uri.toString());
        }
        if (choice !== 'Apply') {
            return false;
        }
        checkVersions(plan);
        if (!(await vscode.workspace.applyEdit(await toWorkspaceEdit(plan, undefined), { isRefactoring: true }))) {
            void vscode.window.showErrorMessage('CodeAssist: the editor refused the patch; see the CodeAssist output.');
            return false;
        }
        return isApplied(plan);
    }
}

function relative(uri: string): string {
    return vscode.workspace.asRelativePath(vscode.Uri.parse(uri), false);
}

/** An open document's buffer, else the file on disk; undefined if neither exists. */
async function readText(uri: string): Promise<string | undefined> {
    const open = vscode.workspace.textDocuments.find(d => d.uri.toString() === uri);
    if (open) {
        return open.getText();
    }
    try {
        return new TextDecoder('utf-8').decode(await vscode.workspace.fs.readFile(vscode.Uri.parse(uri)));
    } catch (e) {
        if (e instanceof vscode.FileSystemError && e.code === 'FileNotFound') {
            return undefined;
        }
        throw e;
    }
}

/** Throws PreviewError if an open document moved past the version the patch was computed against. */
function checkVersions(plan: PatchPlan): void {
    for (const [uri, version] of plan.versions) {
        const doc = vscode.workspace.textDocuments.find(d => d.uri.toString() === uri);
        if (doc && doc.version !== version) {
            throw new PreviewError(`${relative(uri)} changed after the patch was proposed`);
        }
    }
}

async function isApplied(plan: PatchPlan): Promise<boolean> {
    for (const f of plan.files) {
        if ((await readText(f.uri)) !== f.after) {
            return false;
        }
    }
    return true;
}

/** The plan as an editor edit: whole-file replacements, creations with contents, deletions. */
async function toWorkspaceEdit(plan: PatchPlan, metadata: vscode.WorkspaceEditEntryMetadata | undefined,
    force = false): Promise<vscode.WorkspaceEdit> {
    const edit = new vscode.WorkspaceEdit();
    for (const f of plan.files) {
        const uri = vscode.Uri.parse(f.uri);
        if (f.after === undefined) {
            edit.deleteFile(uri, { ignoreIfNotExists: true }, metadata);
        } else if (f.before === undefined) {
            edit.createFile(uri, { overwrite: force, contents: new TextEncoder().encode(f.after) }, metadata);
        } else {
            await replaceWhole(edit, uri, f, metadata, force);
        }
    }
    return edit;
}

async function replaceWhole(edit: vscode.WorkspaceEdit, uri: vscode.Uri, f: FileChange,
    metadata: vscode.WorkspaceEditEntryMetadata | undefined, force: boolean): Promise<void> {
    const doc = await vscode.workspace.openTextDocument(uri);
    const text = doc.getText();
    if (!force && text !== f.before) {
        throw new PreviewError(`${relative(f.uri)} changed after the patch was proposed`);
    }
    edit.replace(uri, new vscode.Range(doc.positionAt(0), doc.positionAt(text.length)), f.after ?? '', metadata);
}

async function saveAll(plan: PatchPlan): Promise<void> {
    for (const f of plan.files) {
        const doc = vscode.workspace.textDocuments.find(d => d.uri.toString() === f.uri);
        if (doc?.isDirty) {
            await doc.save();
        }
    }
}

async function closeDiffs(proposed: vscode.Uri[]): Promise<void> {
    const wanted = new Set(proposed.map(u => u.toString()));
    const tabs = vscode.window.tabGroups.all.flatMap(g => g.tabs)
        .filter(t => t.input instanceof vscode.TabInputTextDiff && wanted.has(t.input.modified.toString()));
    if (tabs.length > 0) {
        await vscode.window.tabGroups.close(tabs);
    }
}
