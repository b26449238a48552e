/** The status bar item: draws a StatusModel (status.ts); a click shows the server's status. */
import * as vscode from 'vscode';

import { StatusModel } from './status';

export class StatusBar implements vscode.Disposable {
    readonly model = new StatusModel();
    private readonly item: vscode.StatusBarItem;

    constructor(command: string) {
        this.item = vscode.window.createStatusBarItem('codeassist.status', vscode.StatusBarAlignment.Right, 100);
        this.item.name = 'CodeAssist';
        this.item.command = command;
        this.render();
        this.item.show();
    }

    /** Redraws after the model changed. */
    render(): void {
        const view = this.model.view();
        this.item.text = view.text;
        this.item.tooltip = view.tooltip;
        this.item.backgroundColor = view.severity === 'normal' ? undefined
            : new vscode.ThemeColor(view.severity === 'error' ? 'statusBarItem.errorBackground' : 'statusBarItem.warningBackground');
    }

    dispose(): void {
        this.item.dispose();
    }
}
