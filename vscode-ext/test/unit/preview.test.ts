import * as assert from 'assert';
import type { WorkspaceEdit } from 'vscode-languageserver-protocol';

import {
    applyTextEdits, describePlan, inversePlan, isCodeassistPatch, lineCounts, PATCH_ANNOTATION, planWorkspaceEdit, PreviewError,
} from '../../src/preview';

const range = (l1: number, c1: number, l2: number, c2: number) => ({ start: { line: l1, character: c1 }, end: { line: l2, character: c2 } });

function files(texts: Record<string, string>) {
    return async (uri: string) => texts[uri];
}

const PRICING = 'def apply_discount_code(total, code):\n    return total\n';
const CHECKOUT = 'from shop.pricing import apply_discount_code\n\ntotal = apply_discount_code(10, "X")\n';

/** The shape lsp/convert.py `lsp_workspace_edit` sends: whole-file annotated replacements. */
function serverPatch(): WorkspaceEdit {
    return {
        documentChanges: [
            { textDocument: { uri: 'file:///r/pricing.py', version: 3 },
                edits: [{ range: range(0, 0, 2, 0), newText: PRICING.replace('apply_discount_code', 'apply_discount'), annotationId: PATCH_ANNOTATION }] },
            { textDocument: { uri: 'file:///r/checkout.py', version: null },
                edits: [{ range: range(0, 0, 3, 0), newText: CHECKOUT.replace(/apply_discount_code/g, 'apply_discount'), annotationId: PATCH_ANNOTATION }] },
            { kind: 'create', uri: 'file:///r/notes.md', annotationId: PATCH_ANNOTATION },
            { textDocument: { uri: 'file:///r/notes.md', version: null }, edits: [{ range: range(0, 0, 0, 0), newText: 'renamed\n' }] },
        ],
        changeAnnotations: { [PATCH_ANNOTATION]: { label: 'codeassist patch', needsConfirmation: true } },
    };
}

describe('preview', () => {
    it('applies non-overlapping edits in any order, with UTF-16 columns', () => {
        const text = 'a🎉b\nsecond\r\nthird';
        assert.strictEqual(applyTextEdits(text, [
            { range: range(2, 0, 2, 5), newText: 'THIRD' },
            { range: range(0, 3, 0, 4), newText: 'B' },  // after the two-unit emoji
            { range: range(1, 6, 2, 0), newText: '|' },  // across a \r\n
        ]), 'a🎉B\nsecond|THIRD');
        assert.strictEqual(applyTextEdits('ab\n', [{ range: range(0, 99, 9, 0), newText: '!' }]), 'ab!');  // clamped as LSP says
    });

    it('refuses overlapping edits', () => {
        assert.throws(() => applyTextEdits('abcdef', [{ range: range(0, 0, 0, 3), newText: 'x' }, { range: range(0, 2, 0, 4), newText: 'y' }]),
            PreviewError);
    });

    it('plans a multi-file patch: before and after per file, versions, confirmation', async () => {
        const plan = await planWorkspaceEdit(serverPatch(), files({ 'file:///r/pricing.py': PRICING, 'file:///r/checkout.py': CHECKOUT }));
        assert.deepStrictEqual(plan.files.map(f => [f.uri, f.before === undefined, f.after?.includes('apply_discount(')]), [
            ['file:///r/pricing.py', false, true],
            ['file:///r/checkout.py', false, true],
            ['file:///r/notes.md', true, false],
        ]);
        assert.strictEqual(plan.files[2].after, 'renamed\n');
        assert.strictEqual(plan.files[1].after, 'from shop.pricing import apply_discount\n\ntotal = apply_discount(10, "X")\n');
        assert.deepStrictEqual([...plan.versions], [['file:///r/pricing.py', 3]]);
        assert.strictEqual(plan.needsConfirmation, true);
        assert.strictEqual(plan.label, 'codeassist patch');
        assert.deepStrictEqual(describePlan(plan, u => u.replace('file:///r/', '')), [
            'modified pricing.py (+1 -1)', 'modified checkout.py (+2 -2)', 'created notes.md (+1 -0)',
        ]);
    });

    it('the inverse plan restores every file, deleting created ones', async () => {
        const plan = await planWorkspaceEdit(serverPatch(), files({ 'file:///r/pricing.py': PRICING, 'file:///r/checkout.py': CHECKOUT }));
        const undo = inversePlan(plan);
        assert.deepStrictEqual(undo.files.map(f => [f.uri, f.after]), [
            ['file:///r/notes.md', undefined],
            ['file:///r/checkout.py', CHECKOUT],
            ['file:///r/pricing.py', PRICING],
        ]);
        assert.strictEqual(undo.needsConfirmation, false);
    });

    it('handles renames, deletes and the plain `changes` map', async () => {
        const read = files({ 'file:///r/a.py': 'x = 1\n', 'file:///r/b.py': 'y = 2\n' });
        const plan = await planWorkspaceEdit({ documentChanges: [
            { kind: 'rename', oldUri: 'file:///r/a.py', newUri: 'file:///r/c.py' },
            { kind: 'delete', uri: 'file:///r/b.py' },
        ] }, read);
        assert.deepStrictEqual(plan.files.map(f => [f.uri, f.before, f.after]), [
            ['file:///r/a.py', 'x = 1\n', undefined], ['file:///r/c.py', undefined, 'x = 1\n'], ['file:///r/b.py', 'y = 2\n', undefined],
        ]);
        const viaChanges = await planWorkspaceEdit({ changes: { 'file:///r/a.py': [{ range: range(0, 4, 0, 5), newText: '42' }] } }, read);
        assert.deepStrictEqual(viaChanges.files.map(f => f.after), ['x = 42\n']);
        assert.strictEqual(viaChanges.needsConfirmation, false);
    });

    it('refuses edits to missing files and creations over existing ones; drops no-op files', async () => {
        await assert.rejects(planWorkspaceEdit({ changes: { 'file:///r/gone.py': [{ range: range(0, 0, 0, 0), newText: 'x' }] } }, files({})),
            /gone\.py, which does not exist/);
        await assert.rejects(planWorkspaceEdit({ documentChanges: [{ kind: 'create', uri: 'file:///r/a.py' }] }, files({ 'file:///r/a.py': '' })),
            /creates file:\/\/\/r\/a\.py, which exists/);
        const same = await planWorkspaceEdit({ changes: { 'file:///r/a.py': [{ range: range(0, 0, 0, 1), newText: 'x' }] } }, files({ 'file:///r/a.py': 'x' }));
        assert.deepStrictEqual(same.files, []);
    });

    it('recognises codeassist patches and model-updated usages by their annotation', () => {
        assert.strictEqual(isCodeassistPatch(serverPatch()), true);
        assert.strictEqual(isCodeassistPatch({ changes: {}, changeAnnotations: { 'codeassist-usages': { label: 'u', needsConfirmation: true } } }), true);
        assert.strictEqual(isCodeassistPatch({ changes: {} }), false);
        assert.strictEqual(isCodeassistPatch(undefined), false);
    });

    it('counts changed lines with a line diff', () => {
        assert.deepStrictEqual(lineCounts('a\nb\nc\n', 'a\nB\nc\nd\n'), { added: 2, removed: 1 });
        assert.deepStrictEqual(lineCounts(undefined, 'a\nb'), { added: 2, removed: 0 });
        assert.deepStrictEqual(lineCounts('a\n', undefined), { added: 0, removed: 1 });
        assert.deepStrictEqual(lineCounts('x\ny\n', 'y\nx\n'), { added: 1, removed: 1 });
    });
});
