"""The language server on a remote engine that is down: the local fallback answers, or a clear status does."""

import asyncio
import socket
import sys

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from tests.codeassist.conftest import FIXTURES, make_git_repo
from tests.lsp.session import start_session
from tests.lsp.test_server import CHECKOUT, inline, open_doc


def closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return make_git_repo(FIXTURES / "shop", tmp_path_factory.mktemp("remote") / "shop")


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(server_command=[sys.executable, "-m", "codeassist", "lsp"]))
async def client(lsp_client: LanguageClient, repo):
    options = {"backend": "remote", "endpoint": f"http://127.0.0.1:{closed_port()}", "remoteModel": "qwen2.5-coder",
               "fallback": "local", "requestTimeout": 5, "maxNewTokens": 24}
    lsp_client.statuses = []  # codeassist/status notifications, in order
    lsp_client.feature("codeassist/status")(lambda params: lsp_client.statuses.append(params))
    await start_session(lsp_client, repo, editor="visual-studio-code", options=options)
    yield
    await lsp_client.shutdown_session()


@pytest.mark.asyncio(loop_scope="module")
async def test_engine_down_the_local_fallback_completes(client: LanguageClient, repo):
    status = await client.workspace_execute_command_async(types.ExecuteCommandParams(command="codeassist.status"))
    assert status["state"] == "ready" and "local fallback" in status["message"], status
    uri = open_doc(client, repo, CHECKOUT)
    result = await inline(client, uri, 6, 20)
    assert result.items and result.items[0].insert_text.startswith("compute_invoice_total("), result
    await asyncio.sleep(0.2)
    assert any("local fallback" in getattr(s, "message", "") for s in client.statuses), client.statuses


@pytest.mark.asyncio(loop_scope="module")
async def test_patch_runs_on_the_fallback_model(client: LanguageClient, repo):
    """The fallback is an in-process model, so the patch machinery is offered (not refused as remote-only)."""
    uri = open_doc(client, repo, CHECKOUT)
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=types.Range(start=types.Position(line=6, character=0), end=types.Position(line=7, character=0)),
        context=types.CodeActionContext(diagnostics=[])))
    assert any("Suggest patch" in a.title for a in actions or [])
