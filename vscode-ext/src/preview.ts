/**
 * A proposed `WorkspaceEdit` (LSP shape, as `codeassist.patch` and `codeAction/resolve` send it) turned
 * into a preview plan: for each touched file its text before and after, with a line count summary and
 * the inverse plan that undoes it. Pure: no `vscode` import; patch.ts shows and applies plans.
 *
 * Positions are LSP positions: 0-based lines, 0-based UTF-16 columns, which are JavaScript string
 * indices, so edits apply to JavaScript strings directly.
 */
import type { Position, TextEdit, WorkspaceEdit } from 'vscode-languageserver-protocol';

/** The change annotations lsp/convert.py puts on model-made edits: patches, and usages the model updated. */
export const PATCH_ANNOTATION = 'codeassist-patch';
export const USAGES_ANNOTATION = 'codeassist-usages';

/** One file of a plan; `undefined` text means the file does not exist (before: created; after: deleted). */
export interface FileChange {
    uri: string;
    before: string | undefined;
    after: string | undefined;
}

export interface PatchPlan {
    files: FileChange[];
    /** The document versions the edit was computed against (open documents only). */
    versions: Map<string, number>;
    /** Whether any edit asks the user to confirm it (a change annotation with `needsConfirmation`). */
    needsConfirmation: boolean;
    label: string;
}

export class PreviewError extends Error {}

/** Reads a file's current text (an open document's buffer, else the disk); `undefined` if it does not exist. */
export type ReadText = (uri: string) => Promise<string | undefined>;

/** Whether an edit is a model-made codeassist edit to review (it carries one of lsp/convert.py's annotations). */
export function isCodeassistPatch(edit: WorkspaceEdit | undefined | null): edit is WorkspaceEdit {
    const ids = Object.keys(edit?.changeAnnotations ?? {});
    return ids.includes(PATCH_ANNOTATION) || ids.includes(USAGES_ANNOTATION);
}

/** Offsets (string indices) of each line start; LSP ends lines at `\n`, `\r\n` or `\r`. */
function lineStarts(text: string): number[] {
    const starts = [0];
    for (let i = 0; i < text.length; i++) {
        const ch = text.charCodeAt(i);
        if (ch === 13 /* \r */ && text.charCodeAt(i + 1) === 10) {
            continue;  // the \n that follows ends the line
        }
        if (ch === 10 || ch === 13) {
            starts.push(i + 1);
        }
    }
    return starts;
}

function offsetAt(text: string, starts: number[], p: Position): number {
    if (p.line < 0 || p.character < 0) {
        throw new PreviewError(`negative position ${p.line}:${p.character}`);
    }
    if (p.line >= starts.length) {
        return text.length;  // LSP: a position past the last line means the end of the document
    }
    const lineEnd = p.line + 1 < starts.length ? starts[p.line + 1] : text.length;
    let end = lineEnd;
    while (end > starts[p.line] && (text[end - 1] === '\n' || text[end - 1] === '\r')) {
        end--;
    }
    return Math.min(starts[p.line] + p.character, end);  // LSP: a column past the line end means the line end
}

/** `text` with `edits` applied; all ranges refer to the original text and must not overlap. */
export function applyTextEdits(text: string, edits: readonly TextEdit[]): string {
    const starts = lineStarts(text);
    const spans = edits.map((e, i) => ({ start: offsetAt(text, starts, e.range.start), end: offsetAt(text, starts, e.range.end), newText: e.newText, i }));
    for (const s of spans) {
        if (s.end < s.start) {
            throw new PreviewError(`edit ${s.i} ends before it starts`);
        }
    }
    spans.sort((a, b) => a.start - b.start || a.end - b.end || a.i - b.i);
    for (let k = 1; k < spans.length; k++) {
        if (spans[k].start < spans[k - 1].end) {
            throw new PreviewError(`edits ${spans[k - 1].i} and ${spans[k].i} overlap`);
        }
    }
    let out = '';
    let at = 0;
    for (const s of spans) {
        out += text.slice(at, s.start) + s.newText;
        at = s.end;
    }
    return out + text.slice(at);
}

/**
 * The plan for a WorkspaceEdit: `documentChanges` (text edits, create, rename, delete) in order, or the
 * `changes` map. Each file's `before` is read once, when the edit first touches it.
 * Throws PreviewError for edits that cannot apply (a missing file, overlapping edits, snippets).
 */
export async function planWorkspaceEdit(edit: WorkspaceEdit, readText: ReadText): Promise<PatchPlan> {
    const current = new Map<string, string | undefined>();
    const before = new Map<string, string | undefined>();  // insertion order = the order files are touched
    const versions = new Map<string, number>();
    const touch = async (uri: string) => {
        if (!before.has(uri)) {
            const text = await readText(uri);
            before.set(uri, text);
            current.set(uri, text);
        }
    };
    const editText = async (uri: string, edits: readonly TextEdit[]) => {
        await touch(uri);
        const text = current.get(uri);
        if (text === undefined) {
            throw new PreviewError(`the patch edits ${uri}, which does not exist`);
        }
        for (const e of edits) {
            if (!('newText' in e)) {
                throw new PreviewError('snippet edits are not supported in a patch');
            }
        }
        current.set(uri, applyTextEdits(text, edits));
    };
    for (const change of edit.documentChanges ?? []) {
        if ('kind' in change) {
            if (change.kind === 'create') {
                const opts = change.options ?? {};
                await touch(change.uri);
                if (current.get(change.uri) !== undefined && !opts.overwrite) {
                    if (opts.ignoreIfExists) {
                        continue;
                    }
                    throw new PreviewError(`the patch creates ${change.uri}, which exists`);
                }
                current.set(change.uri, '');
            } else if (change.kind === 'delete') {
                const opts = change.options ?? {};
                await touch(change.uri);
                if (current.get(change.uri) === undefined && !opts.ignoreIfNotExists) {
                    throw new PreviewError(`the patch deletes ${change.uri}, which does not exist`);
                }
                current.set(change.uri, undefined);
            } else {
                const opts = change.options ?? {};
                await touch(change.oldUri);
                await touch(change.newUri);
                const moved = current.get(change.oldUri);
                if (moved === undefined) {
                    throw new PreviewError(`the patch renames ${change.oldUri}, which does not exist`);
                }
                if (current.get(change.newUri) !== undefined && !opts.overwrite) {
                    if (opts.ignoreIfExists) {
                        continue;
                    }
                    throw new PreviewError(`the patch renames onto ${change.newUri}, which exists`);
                }
                current.set(change.newUri, moved);
                current.set(change.oldUri, undefined);
            }
        } else {
            const { uri, version } = change.textDocument;
            if (typeof version === 'number' && !versions.has(uri)) {
                versions.set(uri, version);
            }
            await editText(uri, change.edits as TextEdit[]);
        }
    }
    if (!edit.documentChanges) {
        for (const [uri, edits] of Object.entries(edit.changes ?? {})) {
            await editText(uri, edits);
        }
    }
    const files = [...before.entries()]
        .map(([uri, text]) => ({ uri, before: text, after: current.get(uri) }))
        .filter(f => f.before !== f.after);
    const annotations = Object.values(edit.changeAnnotations ?? {});
    return {
        files,
        versions,
        needsConfirmation: annotations.some(a => a.needsConfirmation === true),
        label: annotations[0]?.label ?? 'patch',
    };
}

/** The plan that restores what `plan` changed. */
export function inversePlan(plan: PatchPlan): PatchPlan {
    return {
        files: [...plan.files].reverse().map(f => ({ uri: f.uri, before: f.after, after: f.before })),
        versions: new Map(),
        needsConfirmation: false,
        label: `undo ${plan.label}`,
    };
}

function splitLines(text: string | undefined): string[] {
    if (text === undefined || text === '') {
        return [];
    }
    const lines = text.split(/\r\n|\r|\n/);
    return lines[lines.length - 1] === '' ? lines.slice(0, -1) : lines;
}

/** Lines added and removed from `before` to `after` (a longest-common-subsequence line diff). */
export function lineCounts(before: string | undefined, after: string | undefined): { added: number; removed: number } {
    let a = splitLines(before);
    let b = splitLines(after);
    let lo = 0;  // trim the common head and tail: patches touch a few lines of long files
    while (lo < a.length && lo < b.length && a[lo] === b[lo]) {
        lo++;
    }
    let tail = 0;
    while (tail < a.length - lo && tail < b.length - lo && a[a.length - 1 - tail] === b[b.length - 1 - tail]) {
        tail++;
    }
    a = a.slice(lo, a.length - tail);
    b = b.slice(lo, b.length - tail);
    if (a.length * b.length > 4_000_000) {
        return { added: b.length, removed: a.length };  // too big to align: count the whole middle
    }
    let prev = new Array<number>(b.length + 1).fill(0);
    for (let i = 1; i <= a.length; i++) {
        const row = new Array<number>(b.length + 1).fill(0);
        for (let j = 1; j <= b.length; j++) {
            row[j] = a[i - 1] === b[j - 1] ? prev[j - 1] + 1 : Math.max(prev[j], row[j - 1]);
        }
        prev = row;
    }
    const common = prev[b.length];
    return { added: b.length - common, removed: a.length - common };
}

/** One line per file (`modified shop/pricing.py (+2 -2)`), paths through `relative`. */
export function describePlan(plan: PatchPlan, relative: (uri: string) => string): string[] {
    return plan.files.map(f => {
        const { added, removed } = lineCounts(f.before, f.after);
        const what = f.before === undefined ? 'created' : f.after === undefined ? 'deleted' : 'modified';
        return `${what} ${relative(f.uri)} (+${added} -${removed})`;
    });
}
