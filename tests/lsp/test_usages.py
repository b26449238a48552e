""""Update usages in other files" end to end over stdio, on the geometry fixture repository.

Renames need no model, so this server is given a model that cannot load: the action must work without it.
"""

import sys

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.codeassist.conftest import FIXTURES, make_git_repo
from tests.lsp.session import start_session

SHAPES = "lib/shapes.py"


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return make_git_repo(FIXTURES / "geometry", tmp_path_factory.mktemp("lsp-usages") / "geometry")


@pytest_lsp.fixture(
    scope="module",
    config=ClientServerConfig(server_command=[sys.executable, "-m", "codeassist", "lsp"]),
)
async def client(lsp_client: LanguageClient, repo):
    status = await start_session(lsp_client, repo, editor="visual-studio-code",
                                 options={"model": str(repo / "no-such-model.gguf")}, timeout_s=120)
    assert status["state"] == "failed" and status["files"] == 8, status
    yield
    await lsp_client.shutdown_session()


def open_doc(client, repo, path, text, version=1):
    uri = (repo / path).as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="python", version=version, text=text)))
    return uri


async def code_actions(client, uri, line=0):
    return await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=types.Range(start=types.Position(line=line, character=0), end=types.Position(line=line, character=0)),
        context=types.CodeActionContext(diagnostics=[])))


def apply_edits(text, edits):
    """Applies LSP TextEdits with ASCII-only positions (character = code point) to ``text``."""
    lines = text.split("\n")

    def offset(p):
        return sum(len(l) + 1 for l in lines[: p.line]) + p.character

    for e in sorted(edits, key=lambda e: offset(e.range.start), reverse=True):
        text = text[: offset(e.range.start)] + e.new_text + text[offset(e.range.end):]
    return text


@pytest.mark.asyncio(loop_scope="module")
async def test_the_multi_file_code_action_returns_edits_for_every_file_that_uses_the_renamed_symbol(client, repo):
    renamed = (repo / SHAPES).read_text().replace("def area(", "def surface(")
    uri = open_doc(client, repo, SHAPES, renamed)
    # a user of the symbol that is open with unsaved changes gets a versioned edit of its buffer
    report_text = (repo / "app/report.py").read_text() + "\nTOTAL = shapes.area(2, 3)\n"
    report_uri = open_doc(client, repo, "app/report.py", report_text, version=7)

    actions = await code_actions(client, uri, 3)
    assert [a.title for a in actions] == ["Update usages in other files (area → surface)"]
    assert actions[0].edit is None  # computed lazily
    resolved = await client.code_action_resolve_async(actions[0])

    edits = {c.text_document.uri: c for c in resolved.edit.document_changes}
    main_uri = (repo / "app/main.py").as_uri()
    assert set(edits) == {main_uri, report_uri}  # app/legacy.py has its own area(); lib/shapes.py is the buffer
    assert edits[report_uri].text_document.version == 7
    assert edits[main_uri].text_document.version is None
    main = (repo / "app/main.py").read_text()
    assert apply_edits(main, edits[main_uri].edits) == main.replace("area", "surface")
    assert apply_edits(report_text, edits[report_uri].edits) == report_text.replace("shapes.area", "shapes.surface")
    assert "the area is" in apply_edits(report_text, edits[report_uri].edits)  # comments are not identifiers
    assert (repo / "app/main.py").read_text() == main  # nothing written by the server


@pytest.mark.asyncio(loop_scope="module")
async def test_a_signature_change_is_not_offered_without_the_model_and_unchanged_files_get_nothing(client, repo):
    js = (repo / "web/geometry.js").read_text()
    uri = open_doc(client, repo, "web/geometry.js", js)
    assert not await code_actions(client, uri)
    changed = js.replace("perimeter(width, height)", "perimeter(width, height, margin)")
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=changed)]))
    assert not await code_actions(client, uri)  # needs the model, which failed to load


@pytest.mark.asyncio(loop_scope="module")
async def test_a_forged_resolve_request_changes_nothing(client, repo):
    action = types.CodeAction(title="x", data={"kind": "usages", "uri": (repo / SHAPES).as_uri(), "change": {"path": 1}})
    resolved = await client.code_action_resolve_async(action)
    assert resolved.edit is None


@pytest.mark.asyncio(loop_scope="module")
async def test_a_javascript_rename_is_offered_and_resolved(client, repo):
    uri = (repo / "web/geometry.js").as_uri()
    renamed = (repo / "web/geometry.js").read_text().replace("perimeter(", "circumference(")
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=3),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=renamed)]))
    actions = await code_actions(client, uri)
    assert [a.title for a in actions] == ["Update usages in other files (perimeter → circumference)"]
    resolved = await client.code_action_resolve_async(actions[0])
    [doc_edit] = resolved.edit.document_changes
    app = (repo / "web/app.js").read_text()
    assert apply_edits(app, doc_edit.edits) == app.replace("perimeter", "circumference")
