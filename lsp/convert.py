"""Conversions between LSP shapes and codeassist's: URIs to repository paths, positions, results.

LSP positions are 0-based lines and 0-based columns in the negotiated encoding (UTF-16 by default);
codeassist's ``CompletionRequest`` takes a 1-based line and a 0-based column in code points. pygls'
``TextDocument.position_from_client_units`` does the encoding part.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from lsprotocol import types
from pygls import uris
from pygls.workspace import TextDocument

from codeassist.completion import CompletionRequest, CompletionResult
from codeassist.imports_edit import ImportEdit


def lsp_path(uri: str) -> Path | None:
    """The filesystem path of a ``file:`` URI, or None for other schemes."""
    path = uris.to_fs_path(uri)
    return Path(path) if path and uri.startswith("file:") else None


def lsp_request(document: TextDocument, rel_path: str, position: types.Position, max_new_tokens: int) -> CompletionRequest:
    """A CompletionRequest at an LSP position (0-based, client units) of an open document."""
    server_pos = document.position_from_client_units(position)
    return CompletionRequest(rel_path, server_pos.line + 1, server_pos.character, text=document.source,
                             max_new_tokens=max_new_tokens)


def lsp_inline_items(text: str, position: types.Position) -> types.InlineCompletionList:
    if not text:
        return types.InlineCompletionList(items=[])
    return types.InlineCompletionList(items=[
        types.InlineCompletionItem(insert_text=text, range=types.Range(start=position, end=position))
    ])


def lsp_completion_items(text: str, position: types.Position) -> types.CompletionList:
    if not text:
        return types.CompletionList(is_incomplete=True, items=[])
    label = text.strip().split("\n", 1)[0][:60] or text[:60]
    item = types.CompletionItem(
        label=label, kind=types.CompletionItemKind.Text, detail="codeassist", insert_text=text,
        text_edit=types.TextEdit(range=types.Range(start=position, end=position), new_text=text),
        sort_text="0", preselect=True,
    )
    return types.CompletionList(is_incomplete=True, items=[item])


def lsp_status(state: str, message: str, result: CompletionResult | None = None) -> dict:
    """The payload of the ``codeassist/status`` notification."""
    payload = {"state": state, "message": message}
    if result is not None:
        payload["lastLatencyMs"] = round(result.latency_ms)
    return payload


PATCH_ANNOTATION = "codeassist-patch"


def lsp_workspace_edit(changes: list, root: Path, open_documents: dict[str, TextDocument]) -> types.WorkspaceEdit:
    """A WorkspaceEdit with ``documentChanges`` for planned FileChanges (see codeassist.apply).

    Open documents are versioned; every edit carries an annotation that asks the client to confirm.
    Modified files are replaced whole (range from the start to the end of the current text).
    """
    doc_changes: list = []
    for c in changes:
        uri = (root / c.path).as_uri()
        doc = open_documents.get(uri)
        version = doc.version if doc is not None else None
        ident = types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version)
        if c.old is None:
            doc_changes.append(types.CreateFile(uri=uri, annotation_id=PATCH_ANNOTATION))
        if c.new is None:
            doc_changes.append(types.DeleteFile(uri=uri, annotation_id=PATCH_ANNOTATION))
            continue
        old_text = doc.source if doc is not None else (c.old or b"").decode("utf-8", "replace")
        lines = old_text.split("\n")
        end = types.Position(line=len(lines) - 1, character=len(lines[-1].encode("utf-16-le")) // 2)
        edit = types.AnnotatedTextEdit(range=types.Range(start=types.Position(line=0, character=0), end=end),
                                       new_text=c.new.decode("utf-8", "replace"), annotation_id=PATCH_ANNOTATION)
        doc_changes.append(types.TextDocumentEdit(text_document=ident, edits=[edit]))
    return types.WorkspaceEdit(
        document_changes=doc_changes,
        change_annotations={PATCH_ANNOTATION: types.ChangeAnnotation(label="codeassist patch", needs_confirmation=True)},
    )


def lsp_import_edits(edits: list[ImportEdit], document: TextDocument, cursor: types.Position) -> list[types.TextEdit]:
    """``additionalTextEdits`` for a completion item: import insertions (code points → client units).

    An insertion at the cursor itself would overlap the item's own edit, which LSP forbids: it is dropped.
    """
    out = []
    for e in edits:
        pos = document.position_to_client_units(types.Position(line=e.line, character=e.column))
        if pos != cursor:
            out.append(types.TextEdit(range=types.Range(start=pos, end=pos), new_text=e.text))
    return out


LINE_RE = re.compile(r"[^\n]*\n|[^\n]+$")


def lsp_line_edits(old: str, new: str) -> list[types.TextEdit]:
    """Line-granular TextEdits turning ``old`` into ``new`` (LSP lines end at ``\\n``; 0-based).

    Every range starts and ends at a line start (character 0, the same in any encoding), except an end
    past the last line of a text without a final newline, which is counted in UTF-16 units.
    """
    old_lines, new_lines = LINE_RE.findall(old), LINE_RE.findall(new)
    last = old.split("\n")[-1]

    def pos(i: int) -> types.Position:
        if i < len(old_lines) or not last:
            return types.Position(line=i, character=0)
        return types.Position(line=i - 1, character=len(last.encode("utf-16-le")) // 2)

    matcher = difflib.SequenceMatcher(a=old_lines, b=new_lines, autojunk=False)
    return [types.TextEdit(range=types.Range(start=pos(i1), end=pos(i2)), new_text="".join(new_lines[j1:j2]))
            for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"]


USAGES_ANNOTATION = "codeassist-usages"


def lsp_usages_edit(changes: list, root: Path, open_documents: dict[str, TextDocument],
                    confirm: bool) -> tuple[types.WorkspaceEdit, list[str]]:
    """A WorkspaceEdit with ``documentChanges`` (line edits, versioned for open documents) for FileChanges.

    Returns it with the paths left out: open documents whose text is no longer the one the change was
    made from (the user typed since). ``confirm`` marks every edit as needing the user's confirmation.
    """
    doc_changes: list = []
    skipped: list[str] = []
    for c in changes:
        uri = (root / c.path).as_uri()
        old = c.old.decode("utf-8", "replace")
        doc = open_documents.get(uri)
        if doc is not None and doc.source != old:
            skipped.append(c.path)
            continue
        edits = lsp_line_edits(old, c.new.decode("utf-8", "replace"))
        if confirm:
            edits = [types.AnnotatedTextEdit(range=e.range, new_text=e.new_text, annotation_id=USAGES_ANNOTATION)
                     for e in edits]
        ident = types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=doc.version if doc is not None else None)
        doc_changes.append(types.TextDocumentEdit(text_document=ident, edits=edits))
    annotations = ({USAGES_ANNOTATION: types.ChangeAnnotation(label="codeassist: update usages", needs_confirmation=True)}
                   if confirm else None)
    return types.WorkspaceEdit(document_changes=doc_changes, change_annotations=annotations), skipped
