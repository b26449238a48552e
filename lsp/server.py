"""``codeassist lsp``: a pygls language server over codeassist, a thin adapter.

Handlers fetch the document, call the core, convert (``lsp.convert``) and return. Long work runs off the
event loop: indexing (with cancellable ``$/progress``) and model loading in a background thread at start,
each completion in a worker thread with a cancel flag checked at every generated token. Until the model
is ready, completion requests return at once with no items and a ``codeassist/status`` notification.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from codeassist import __version__, imports_edit, usages
from codeassist.cli import CliError
from codeassist.completion import CompletionService
from codeassist.engine import Cancelled
from codeassist.backends import BackendError, BackendUnavailable, LocalBackend, open_backends
from codeassist.models import ModelError
from codeassist.packer import PackOptions
from codeassist.patch import propose_patch
from codeassist.position import PositionError
from indexer.index import Index, IndexError_
from indexer.languages import language_for_path
from indexer.store import IndexBusy
from lsp import convert
from lsp.options import MAX_DOCUMENT_BYTES, ServerOptions, parse_options

log = logging.getLogger("codeassist.lsp")
STATUS = "codeassist/status"


@dataclass
class LastSuggestion:
    """The last completion shown for a document, for typed-ahead reuse."""

    uri: str
    line: int  # 0-based
    line_prefix: str  # the line's text before the cursor when it was made
    text: str


class CodeAssistServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("codeassist", __version__)
        self.options = ServerOptions()
        self.root: Path | None = None
        self.index: Index | None = None
        self.service: CompletionService | None = None
        self.state = "starting"  # starting | indexing | loading | ready | failed
        self.state_message = ""
        self.index_lock = threading.RLock()  # the Index is shared by the loop and worker threads
        self.pending: dict[str, tuple[int, threading.Event]] = {}  # uri -> (id, cancel flag) of the running request
        self.last: LastSuggestion | None = None
        self.cancel_indexing = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None  # pygls runs the loop; captured at initialize
        self.queue_lock = threading.Lock()
        self.completion_lock = threading.Lock()  # one completion in a worker thread at a time
        self.queued = 0  # completion requests handed to worker threads and not finished there
        self.max_queued = 0  # the most there have been at once since start

    # -- plumbing --------------------------------------------------------------------------------------
    def notify_threadsafe(self, method: str, payload: Any) -> None:
        self.loop.call_soon_threadsafe(self.protocol.notify, method, payload)

    def set_state(self, state: str, message: str = "") -> None:
        self.state, self.state_message = state, message
        log.info("state %s %s", state, message)
        self.notify_threadsafe(STATUS, convert.lsp_status(state, message))

    def show(self, message: str, kind: types.MessageType = types.MessageType.Warning) -> None:
        self.loop.call_soon_threadsafe(self.window_show_message, types.ShowMessageParams(type=kind, message=message))

    def repo_path(self, uri: str) -> str | None:
        """The repository-relative path of a document the server handles, or None."""
        path = convert.lsp_path(uri)
        if path is None or self.index is None:
            return None
        try:
            rel = self.index.relpath(path)
        except IndexError_:
            return None
        lang = language_for_path(rel)
        return rel if lang and lang.name in self.options.languages else None

    # -- start-up --------------------------------------------------------------------------------------
    def start_background(self) -> None:
        threading.Thread(target=self._prepare, name="codeassist-start", daemon=True).start()

    def _prepare(self) -> None:
        try:
            self._prepare_inner()
        except Exception as e:  # noqa: BLE001 - the top of a thread: report, keep serving what we can
            log.exception("start-up failed")
            self.set_state("failed", f"start-up failed: {e}")

    def _prepare_inner(self) -> None:
        if self.root is not None:
            self.reindex()
        try:
            backend, fallback = open_backends(self.options.backend_options())
        except BackendError as e:
            self.set_state("failed", str(e))
            self.show(f"codeassist: bad backend settings: {e}", types.MessageType.Error)
            return
        local = [b for b in (backend, fallback) if isinstance(b, LocalBackend)]
        self.set_state("loading", f"loading model {self.options.model or 'default'}" if local
                       else f"connecting to {self.options.endpoint or 'the remote engine'}")
        note = ""
        try:
            for b in local:
                b.loaded  # loads the in-process model now, in this background thread
            if backend.kind == "remote":
                try:
                    backend.probe()  # the served model and its window, before the prompt format is chosen
                except BackendUnavailable as e:
                    if fallback is None:
                        raise
                    note = f"; the engine is unreachable ({e}), so the local fallback answers"
            name = backend.name
        except ModelError as e:
            self.set_state("failed", str(e))
            self.show(f"codeassist: the model could not be loaded: {e}", types.MessageType.Error)
            return
        except BackendError as e:
            self.set_state("failed", f"remote engine: {e}")
            self.show(f"codeassist: the remote engine is not usable: {e}", types.MessageType.Error)
            return
        if self.index is None:
            self.set_state("failed", "no workspace folder to index")
            return
        opts = PackOptions(context_tokens=self.options.context_tokens, max_new_tokens=self.options.max_new_tokens)
        self.service = CompletionService(self.index, backend=backend, fallback=fallback, options=opts,
                                         rope_mode=self.options.rope_scaling, index_lock=self.index_lock)
        where = f" on {self.options.endpoint}" if backend.kind == "remote" else ""
        self.set_state("ready", f"{name}{where} ready" + (" (local fallback)" if fallback else "") + note)

    def local_model(self) -> LocalBackend | None:
        """The in-process model that patches and usage updates run on: the backend's, else the fallback's."""
        svc = self.service
        if svc is None:
            return None
        return next((b for b in (svc.backend, svc.fallback) if isinstance(b, LocalBackend)), None)

    def reindex(self) -> None:
        """Refreshes the on-disk index with ``$/progress`` reports; cancellable from the client."""
        token = f"codeassist-index-{uuid.uuid4().hex[:8]}"
        self.set_state("indexing", f"indexing {self.root}")
        self.cancel_indexing.clear()
        can_report = self.client_supports_progress()
        if can_report:
            fut = asyncio.run_coroutine_threadsafe(self.work_done_progress.create_async(token), self.loop)
            try:
                fut.result(timeout=10)
            except Exception:  # noqa: BLE001 - a client that refuses progress still gets an index
                can_report = False
        if can_report:
            self._progress("begin", token, types.WorkDoneProgressBegin(title="codeassist: indexing", cancellable=True, percentage=0))

        def report(done: int, total: int) -> None:
            if self.cancel_indexing.is_set():
                raise KeyboardInterrupt  # stops the refresh; the index keeps what was committed before
            if can_report and total and (done % 50 == 0 or done == total):
                self._progress("report", token, types.WorkDoneProgressReport(message=f"{done}/{total} files",
                                                                           percentage=int(100 * done / total)))

        message = "indexing cancelled"
        try:
            with self.index_lock:
                if self.index is None:
                    self.index = Index(self.root)
                stats = self.index.refresh(report)
            message = f"{stats.files} files, {stats.symbols} symbols in {stats.seconds:.1f} s"
        except KeyboardInterrupt:
            pass
        except (IndexError_, IndexBusy, OSError) as e:
            message = f"indexing failed: {e}"
            self.show(f"codeassist: {message}")
        if can_report:
            self._progress("end", token, types.WorkDoneProgressEnd(message=message))
        self.notify_threadsafe(STATUS, convert.lsp_status("indexed", message))

    def client_supports_progress(self) -> bool:
        caps = self.client_capabilities.window
        return bool(caps and caps.work_done_progress)

    def _progress(self, kind: str, token: str, value: Any) -> None:
        self.loop.call_soon_threadsafe(getattr(self.work_done_progress, kind), token, value)

    # -- completion -------------------------------------------------------------------------------------
    async def suggest(self, uri: str, position: types.Position) -> str:
        """The completion text at ``position`` of an open document ("" when there is none)."""
        if self.state != "ready" or self.service is None:
            self.protocol.notify(STATUS, convert.lsp_status(self.state, self.state_message or "not ready yet"))
            return ""
        rel = self.repo_path(uri)
        if rel is None:
            return ""
        document = self.workspace.get_text_document(uri)
        source = document.source
        if len(source.encode("utf-8", "surrogatepass")) > MAX_DOCUMENT_BYTES or "\0" in source[:8192]:
            return ""
        server_pos = document.position_from_client_units(position)
        lines = source.split("\n")
        if server_pos.line >= len(lines) or server_pos.character > len(lines[server_pos.line]):
            return ""
        line_prefix = lines[server_pos.line][: server_pos.character]
        last = self.last
        if last and last.uri == uri and last.line == server_pos.line and line_prefix.startswith(last.line_prefix):
            typed = line_prefix[len(last.line_prefix):]
            if last.text.startswith(typed) and len(typed) < len(last.text):
                return last.text[len(typed):]  # typed-ahead: the rest of the last suggestion, no model
        request = convert.lsp_request(document, rel, position, self.options.max_new_tokens)
        previous = self.pending.get(uri)
        if previous:
            previous[1].set()  # a newer request for the same document cancels the older one
        cancel = threading.Event()
        self.pending[uri] = (id(cancel), cancel)
        with self.queue_lock:
            self.queued += 1
            self.max_queued = max(self.max_queued, self.queued)
        try:
            result = await asyncio.to_thread(self._complete, request, cancel)
        except asyncio.CancelledError:
            cancel.set()  # $/cancelRequest: the worker stops within one token
            raise
        except Cancelled:
            return ""
        except (PositionError, OSError, IndexBusy, sqlite3.Error, UnicodeError, ValueError) as e:
            log.warning("completion failed for %s: %s", uri, e)  # the next keystroke tries again
            return ""
        except BackendError as e:  # the remote engine failed and no fallback could answer
            log.warning("completion failed for %s: %s", uri, e)
            self.protocol.notify(STATUS, convert.lsp_status("ready", f"remote engine: {e}"))
            return ""
        finally:
            if self.pending.get(uri, (None,))[0] == id(cancel):
                del self.pending[uri]
        self.last = LastSuggestion(uri, server_pos.line, line_prefix, result.completion)
        message = f"completed by the local fallback: {result.fallback_reason}" if result.fallback_reason else "completed"
        self.protocol.notify(STATUS, convert.lsp_status("ready", message, result))
        return result.completion

    def _complete(self, request, cancel: threading.Event):
        """Worker thread: completions run one at a time (the engine is serial anyway), and a request cancelled
        while it waited for its turn returns without gathering context or touching the model."""
        try:
            with self.completion_lock:
                if cancel.is_set():
                    raise Cancelled()
                return self.service.complete(request, cancel=cancel.is_set)
        finally:
            with self.queue_lock:
                self.queued -= 1


server = CodeAssistServer()


@server.feature(types.INITIALIZE)
def initialize(ls: CodeAssistServer, params: types.InitializeParams) -> None:
    ls.loop = asyncio.get_running_loop()
    options, errors = parse_options(params.initialization_options)
    ls.options = options
    for e in errors:
        ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Warning, message=f"codeassist: {e}"))
    folders = params.workspace_folders or []
    root = convert.lsp_path(folders[0].uri) if folders else (convert.lsp_path(params.root_uri) if params.root_uri else None)
    ls.root = root if root and root.is_dir() else None


@server.feature(types.INITIALIZED)
def initialized(ls: CodeAssistServer, params: types.InitializedParams) -> None:
    ls.start_background()


@server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
def did_change_configuration(ls: CodeAssistServer, params: types.DidChangeConfigurationParams) -> None:
    settings = params.settings.get("codeassist", params.settings) if isinstance(params.settings, dict) else params.settings
    options, errors = parse_options(settings)
    for e in errors:
        ls.window_show_message(types.ShowMessageParams(type=types.MessageType.Warning, message=f"codeassist: {e}"))
    if ls.service is not None:
        ls.service.options = PackOptions(context_tokens=options.context_tokens, max_new_tokens=options.max_new_tokens)
        ls.service.rope_mode = options.rope_scaling
    ls.options = options


@server.feature(types.WINDOW_WORK_DONE_PROGRESS_CANCEL)
def progress_cancel(ls: CodeAssistServer, params: types.WorkDoneProgressCancelParams) -> None:
    ls.cancel_indexing.set()


@server.feature(types.TEXT_DOCUMENT_DID_SAVE)
async def did_save(ls: CodeAssistServer, params: types.DidSaveTextDocumentParams) -> None:
    rel = ls.repo_path(params.text_document.uri)
    if rel is not None and ls.index is not None:
        await asyncio.to_thread(_update_files, ls, [rel])


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
async def did_close(ls: CodeAssistServer, params: types.DidCloseTextDocumentParams) -> None:
    rel = ls.repo_path(params.text_document.uri)
    if rel is not None and ls.index is not None:
        await asyncio.to_thread(_drop_buffer, ls, rel)  # the lock may be held by indexing: never wait on the loop


def _drop_buffer(ls: CodeAssistServer, rel: str) -> None:
    with ls.index_lock:
        ls.index.drop_buffer(rel)


@server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
async def did_change_watched_files(ls: CodeAssistServer, params: types.DidChangeWatchedFilesParams) -> None:
    rels = [rel for change in params.changes if (rel := ls.repo_path(change.uri)) is not None]
    if rels and ls.index is not None:
        await asyncio.to_thread(_update_files, ls, rels)


def _update_files(ls: CodeAssistServer, rels: list[str]) -> None:
    """Re-indexes saved or changed files, then rebuilds the ranking graph and the similar-code search once,
    here in the background.

    Otherwise the next completion would pay for it (~1.5 s on the 1,800-file standard library); a burst of
    watched-file changes (a checkout) rebuilds it once, not once per file.
    """
    with ls.index_lock:
        for rel in rels:
            try:
                ls.index.update_file(rel)
            except (IndexError_, OSError) as e:
                log.warning("could not re-index %s: %s", rel, e)
        if ls.service is not None:
            ranker = ls.service.ranker
            try:
                ranker.table(ranker.graph()[0])
                for language in {lang.name for rel in rels if (lang := language_for_path(rel)) is not None}:
                    ls.service.context_cache.similar(ls.index, language)  # re-reads only the changed files
            except Exception as e:  # noqa: BLE001 - the next completion builds it again and reports the error
                log.warning("could not rebuild the ranking after %s: %s", ", ".join(rels), e)


@server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
async def inline_completion(ls: CodeAssistServer, params: types.InlineCompletionParams) -> types.InlineCompletionList:
    if not ls.options.inline_completion:
        return types.InlineCompletionList(items=[])
    return convert.lsp_inline_items(await ls.suggest(params.text_document.uri, params.position), params.position)


@server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=[".", "(", " "]))
async def completion(ls: CodeAssistServer, params: types.CompletionParams) -> types.CompletionList:
    """The suggestion as one item; imports of repository symbols it uses go to ``additionalTextEdits``."""
    text = await ls.suggest(params.text_document.uri, params.position)
    result = convert.lsp_completion_items(text, params.position)
    if result.items:
        imports = await asyncio.to_thread(_imports_for, ls, params.text_document.uri, params.position, text)
        result.items[0].additional_text_edits = imports or None
    return result


def _imports_for(ls: CodeAssistServer, uri: str, position: types.Position, text: str) -> list[types.TextEdit]:
    rel = ls.repo_path(uri)
    if rel is None:
        return []
    document = ls.workspace.get_text_document(uri)
    server_pos = document.position_from_client_units(position)
    with ls.index_lock:
        edits = imports_edit.missing_imports(ls.index, rel, document.source, server_pos.line + 1, server_pos.character, text)
    return convert.lsp_import_edits(edits, document, position)


@server.command("codeassist.status")
async def status_command(ls: CodeAssistServer, *args: Any) -> dict:
    return await asyncio.to_thread(_status, ls)  # the index lock may be held by indexing or a patch


def _status(ls: CodeAssistServer) -> dict:
    with ls.index_lock:
        stats = ls.index.store.stats() if ls.index is not None else {}
    return {"state": ls.state, "message": ls.state_message, "root": str(ls.root) if ls.root else None,
            "completionQueue": ls.queued, "completionQueueMax": ls.max_queued, **stats}


@server.command("codeassist.reindex")
async def reindex_command(ls: CodeAssistServer, *args: Any) -> dict:
    if ls.root is None:
        return {"state": ls.state, "message": "no workspace folder"}
    state, message = ls.state, ls.state_message
    await asyncio.to_thread(ls.reindex)
    if ls.state == "indexing":  # the model's state is what it was (unless its loading ended meanwhile)
        ls.set_state(state, message)
    return await asyncio.to_thread(_status, ls)


# -- patches ------------------------------------------------------------------------------------------
SUGGEST_PATCH = "Suggest patch…"
NO_LOCAL_MODEL = "patches run on the in-process model: with a remote engine, set fallback to 'local' to use them"
UPDATE_USAGES = "Update usages in other files"


def _propose(ls: CodeAssistServer, instruction: str, files: list[str]):
    local = ls.local_model()
    with ls.index_lock:
        return propose_patch(ls.index, local.loaded, local.engine, instruction, named_files=files,
                             rope_mode=ls.options.rope_scaling)


def _open_documents(ls: CodeAssistServer) -> dict:
    return dict(ls.workspace.text_documents)


UNSAVED_CONFLICT = "codeassist: unsaved edits in {} conflict with the patch; save and try again"


def _onto_buffers(ls: CodeAssistServer, changes: list) -> tuple[list, list[str]]:
    """Changes planned on the disk, carried hunk by hunk onto open documents with unsaved edits.

    Returns the changes to send and the paths whose unsaved edits they could not be carried onto: a
    WorkspaceEdit replaces an open document's text, so sending the disk-based change would lose those edits.
    """
    open_documents = _open_documents(ls)
    out, conflicts = [], []
    for c in changes:
        doc = open_documents.get((ls.index.root / c.path).as_uri())
        if doc is None or c.old is None or doc.source == c.old.decode("utf-8", "replace"):
            out.append(c)
            continue
        rebased = usages.rebase_change(c, doc.source) if c.new is not None else None
        if rebased is None:
            conflicts.append(c.path)
        else:
            out.append(rebased)
    return out, conflicts


@server.command("codeassist.patch")
async def patch_command(ls: CodeAssistServer, *args: Any) -> dict:
    """args: [{"instruction": str, "files": [uri, ...]}]; proposes a patch and asks the client to apply it."""
    arg = args[0] if args and isinstance(args[0], dict) else {}
    instruction = arg.get("instruction")
    if not isinstance(instruction, str) or not instruction.strip():
        return {"applied": False, "errors": ["codeassist.patch needs {\"instruction\": \"...\"}"]}
    if ls.state != "ready" or ls.service is None:
        return {"applied": False, "errors": [f"not ready: {ls.state} {ls.state_message}"]}
    if ls.local_model() is None:
        return {"applied": False, "errors": [NO_LOCAL_MODEL]}
    files = [p for p in (ls.repo_path(u) for u in arg.get("files") or [] if isinstance(u, str)) if p]
    proposal = await asyncio.to_thread(_propose, ls, instruction, files)
    if not proposal.ok:
        return {"applied": False, "errors": proposal.errors, "attempts": proposal.attempts}
    changes, conflicts = _onto_buffers(ls, proposal.changes)
    if conflicts:
        return {"applied": False, "errors": [UNSAVED_CONFLICT.format(", ".join(conflicts))], "attempts": proposal.attempts}
    edit = convert.lsp_workspace_edit(changes, ls.index.root, _open_documents(ls))
    result = await ls.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(edit=edit, label="codeassist patch"))
    return {"applied": bool(result and result.applied), "files": [c.path for c in proposal.changes],
            "attempts": proposal.attempts, "errors": []}


@server.feature(types.TEXT_DOCUMENT_CODE_ACTION,
                types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix, types.CodeActionKind.RefactorRewrite],
                                        resolve_provider=True))
async def code_action(ls: CodeAssistServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    """"Update usages in other files" for changed definitions, "Suggest patch…"; edits come in codeAction/resolve."""
    uri = params.text_document.uri
    if ls.repo_path(uri) is None or ls.index is None:
        return []
    try:
        source = ls.workspace.get_text_document(uri).source
    except OSError:  # neither open nor on disk
        return []
    actions = await asyncio.to_thread(_usages_actions, ls, uri, source)
    if ls.state == "ready" and ls.local_model() is not None:
        problems = [d.message for d in params.context.diagnostics]
        actions.append(types.CodeAction(title=SUGGEST_PATCH, kind=types.CodeActionKind.QuickFix,
                                        data={"kind": "patch", "uri": uri, "problems": problems,
                                              "range": [params.range.start.line, params.range.end.line]}))
    return actions


def _usages_actions(ls: CodeAssistServer, uri: str, source: str) -> list[types.CodeAction]:
    """One action per definition renamed or re-parameterised in the unsaved buffer that other files use.

    Parameter changes need the model, so they are offered only once it is ready; renames always.
    """
    rel = ls.repo_path(uri)
    if len(source.encode("utf-8", "surrogatepass")) > MAX_DOCUMENT_BYTES or "\0" in source[:8192]:
        return []
    try:
        with ls.index_lock:
            changes = usages.changed_definitions(ls.index, rel, source)
            offered = [c for c in changes if (not c.params_changed or ls.local_model() is not None)
                       and usages.find_users(ls.index, c)]
    except (IndexError_, OSError) as e:
        log.warning("could not compare the definitions of %s: %s", rel, e)
        return []
    return [types.CodeAction(title=f"{UPDATE_USAGES} ({c.describe()})", kind=types.CodeActionKind.RefactorRewrite,
                             data={"kind": "usages", "uri": uri, "change": c.to_json()})
            for c in offered]


@server.feature(types.CODE_ACTION_RESOLVE)
async def code_action_resolve(ls: CodeAssistServer, action: types.CodeAction) -> types.CodeAction:
    data = action.data if isinstance(action.data, dict) else {}
    if data.get("kind") == "usages":
        return await _resolve_usages(ls, action, data)
    rel = ls.repo_path(data.get("uri", ""))
    if rel is None or ls.local_model() is None:
        return action
    span = data.get("range")
    if not (isinstance(span, list) and len(span) == 2 and all(isinstance(n, int) and n >= 0 for n in span)):
        log.warning("codeAction/resolve: bad range %r in the action's data", span)
        return action
    first, last = span
    problems = "; ".join(p for p in data.get("problems", []) if isinstance(p, str))
    instruction = (f"Fix these problems in {rel} lines {first + 1}-{last + 1}: {problems}" if problems
                   else f"Fix or complete the code in {rel} lines {first + 1}-{last + 1}.")
    proposal = await asyncio.to_thread(_propose, ls, instruction, [rel])
    if proposal.ok:
        changes, conflicts = _onto_buffers(ls, proposal.changes)
        if conflicts:
            ls.show(UNSAVED_CONFLICT.format(", ".join(conflicts)))
        else:
            action.edit = convert.lsp_workspace_edit(changes, ls.index.root, _open_documents(ls))
    return action


async def _resolve_usages(ls: CodeAssistServer, action: types.CodeAction, data: dict) -> types.CodeAction:
    try:
        change = usages.DefinitionChange.from_json(data.get("change"))
    except usages.UsageError as e:
        log.warning("bad usages action: %s", e)
        return action
    if ls.index is None or ls.repo_path(data.get("uri", "")) != change.path:
        return action
    update = await asyncio.to_thread(_update_usages, ls, change)
    if update.errors:
        log.warning("update usages of %s: %s", change.old_name, "; ".join(update.errors))
        ls.window_show_message(types.ShowMessageParams(
            type=types.MessageType.Warning, message=f"codeassist: could not update the usages of {change.old_name}: "
                                                    + "; ".join(update.errors)))
    changes, conflicts = _onto_buffers(ls, update.changes)
    # renames too: without scope analysis a shadowing local of the same name would be renamed with the rest
    edit, skipped = convert.lsp_usages_edit(changes, ls.index.root, _open_documents(ls), confirm=True)
    skipped = conflicts + skipped
    if skipped:
        ls.window_show_message(types.ShowMessageParams(
            type=types.MessageType.Warning, message=f"codeassist: left out {', '.join(skipped)}: edited since; try again"))
    if edit.document_changes:
        action.edit = edit
    return action


def _update_usages(ls: CodeAssistServer, change: usages.DefinitionChange) -> usages.UsageUpdate:
    """Feeds every open repository document to the index, then edits the change's users."""
    local = ls.local_model()
    with ls.index_lock:
        for uri, doc in _open_documents(ls).items():
            rel = ls.repo_path(uri)
            if rel is not None and ls.index.buffers.get(rel, (None,))[0] != doc.source:
                ls.index.update_buffer(rel, doc.source)
        return usages.update_usages(ls.index, change, loaded=local.loaded if local else None,
                                    engine=local.engine if local else None, rope_mode=ls.options.rope_scaling)


# -- command line ----------------------------------------------------------------------------------------
def add_command(subparsers: argparse._SubParsersAction) -> None:
    """Registers ``codeassist lsp`` (found through the ``codeassist.commands`` entry point)."""
    s = subparsers.add_parser("lsp", help="run the language server (stdio by default)")
    s.add_argument("--tcp", metavar="HOST:PORT", type=host_port, help="listen on TCP instead of stdio (for debugging)")
    s.set_defaults(func=run)


def host_port(spec: str) -> tuple[str, int]:
    """``HOST:PORT`` (``:PORT`` means 127.0.0.1) as (host, port); argparse reports a bad one."""
    host, sep, port = spec.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{spec!r} is not HOST:PORT with a port from 1 to 65535")
    return host.strip("[]") or "127.0.0.1", int(port)


def run(args: argparse.Namespace) -> int:
    if args.tcp:
        host, port = args.tcp
        try:
            server.start_tcp(host, port)
        except OSError as e:
            raise CliError(f"cannot listen on {host}:{port}: {e}") from e
    else:
        server.start_io()
    return 0
