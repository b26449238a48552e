/**
 * What the status bar says: a state machine fed by the client's lifecycle, the server's
 * `codeassist/status` notifications (lsp/convert.py `lsp_status`), indexing `$/progress` and the
 * `codeassist.status` command's result. Pure: no `vscode` import; statusBar.ts draws it.
 */

/** `codeassist/status` params: `{"state", "message", "lastLatencyMs"?}` (milliseconds). */
export interface StatusPayload {
    state: string;
    message?: string;
    lastLatencyMs?: number;
}

/** The `codeassist.status` command's result (lsp/server.py `status_command`). */
export interface ServerStatus {
    state: string;
    message?: string;
    root?: string | null;
    files?: number;
    symbols?: number;
    languages?: Record<string, number>;
}

/** `$/progress` values (LSP WorkDoneProgressBegin/Report/End). */
export interface ProgressValue {
    kind: 'begin' | 'report' | 'end';
    title?: string;
    message?: string;
    percentage?: number;
}

export type ClientState = 'stopped' | 'starting' | 'running' | 'failed';
export type Severity = 'normal' | 'warning' | 'error';

export interface StatusView {
    text: string;
    tooltip: string;
    severity: Severity;
}

export class StatusModel {
    client: ClientState = 'stopped';
    clientProblem = '';
    server = 'starting';
    message = '';
    indexSummary = '';
    progress: { percentage?: number; message?: string } | undefined;
    lastLatencyMs: number | undefined;

    setClient(state: ClientState, problem = ''): void {
        this.client = state;
        this.clientProblem = problem;
        if (state === 'starting') {
            this.server = 'starting';
            this.message = '';
            this.progress = undefined;
        }
    }

    /** Applies a `codeassist/status` notification; ignores payloads without a string `state`. */
    onStatus(payload: unknown): void {
        if (!isStatusPayload(payload)) {
            return;
        }
        if (payload.state === 'indexed') {  // indexing finished; the server moves on to its next state
            this.indexSummary = payload.message ?? '';
            this.progress = undefined;
            return;
        }
        this.server = payload.state;
        this.message = payload.message ?? '';
        if (typeof payload.lastLatencyMs === 'number') {
            this.lastLatencyMs = payload.lastLatencyMs;
        }
    }

    /** Applies an indexing `$/progress` value. */
    onProgress(value: ProgressValue): void {
        if (value.kind === 'end') {
            this.progress = undefined;
            if (value.message) {
                this.indexSummary = value.message;
            }
            return;
        }
        this.progress = { percentage: value.percentage ?? this.progress?.percentage, message: value.message ?? this.progress?.message };
    }

    view(): StatusView {
        const latency = this.lastLatencyMs === undefined ? '' : `last completion: ${this.lastLatencyMs} ms`;
        const lines = (...xs: string[]) => xs.filter(x => x !== '').join('\n');
        if (this.client === 'failed') {
            return { text: '$(error) CodeAssist: server failed', tooltip: lines(this.clientProblem, 'Click for the log.'), severity: 'error' };
        }
        if (this.client === 'stopped') {
            return { text: '$(circle-slash) CodeAssist: stopped', tooltip: 'The CodeAssist server is not running.', severity: 'warning' };
        }
        if (this.client === 'starting') {
            return { text: '$(loading~spin) CodeAssist: starting', tooltip: 'Starting the CodeAssist server…', severity: 'normal' };
        }
        const index = this.indexSummary === '' ? '' : `index: ${this.indexSummary}`;
        switch (this.server) {
            case 'indexing': {
                const pct = this.progress?.percentage;
                return {
                    text: `$(sync~spin) CodeAssist: indexing${pct === undefined ? '' : ` ${pct}%`}`,
                    tooltip: lines(this.progress?.message ?? '', this.message),
                    severity: 'normal',
                };
            }
            case 'loading':
                return { text: '$(loading~spin) CodeAssist: loading model', tooltip: lines(this.message, index), severity: 'normal' };
            case 'ready':
                return {
                    text: `$(check) CodeAssist${this.lastLatencyMs === undefined ? '' : ` ${this.lastLatencyMs} ms`}`,
                    tooltip: lines('Model ready.', latency, index, 'Click for details.'),
                    severity: 'normal',
                };
            case 'failed':
                return { text: '$(error) CodeAssist: failed', tooltip: lines(this.message, index, 'Click for the log.'), severity: 'error' };
            default:
                return { text: `$(loading~spin) CodeAssist: ${this.server}`, tooltip: this.message, severity: 'normal' };
        }
    }
}

function isStatusPayload(p: unknown): p is StatusPayload {
    if (typeof p !== 'object' || p === null) {
        return false;
    }
    const o = p as Record<string, unknown>;
    return typeof o.state === 'string' && (o.message === undefined || typeof o.message === 'string')
        && (o.lastLatencyMs === undefined || typeof o.lastLatencyMs === 'number');
}

/** One line per fact of a `codeassist.status` result, for a message or quick pick. */
export function describeServerStatus(s: ServerStatus): string[] {
    const out = [`state: ${s.state}${s.message ? ` (${s.message})` : ''}`];
    if (s.root) {
        out.push(`workspace: ${s.root}`);
    }
    if (typeof s.files === 'number') {
        out.push(`index: ${s.files} files, ${s.symbols ?? 0} symbols`);
    }
    const langs = Object.entries(s.languages ?? {}).map(([name, n]) => `${name} ${n}`);
    if (langs.length > 0) {
        out.push(`languages: ${langs.join(', ')}`);
    }
    return out;
}
