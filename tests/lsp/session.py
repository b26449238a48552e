"""Starting a pytest-lsp session against ``codeassist lsp`` on a fixture repository, shared by the LSP tests."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities


async def start_session(client: LanguageClient, repo: Path, *, editor: str, options: dict,
                        timeout_s: float = 600) -> dict:
    """Initializes with ``editor``'s client capabilities and waits until the server is ready or failed.

    Returns the last ``codeassist.status`` result. A server still "starting" a minute in is broken: give up.
    """
    await client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities(editor), root_uri=repo.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=repo.as_uri(), name=repo.name)], initialization_options=options))
    started = time.monotonic()
    while True:
        status = await client.workspace_execute_command_async(types.ExecuteCommandParams(command="codeassist.status"))
        elapsed = time.monotonic() - started
        if status["state"] in ("ready", "failed") or elapsed > timeout_s or (status["state"] == "starting" and elapsed > 60):
            return status
        await asyncio.sleep(0.3)
