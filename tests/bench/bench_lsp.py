"""The language server's cost over the core: ``textDocument/inlineCompletion`` round trips over stdio against
the same requests through the Python API (``CompletionService.complete``), warm, p50/p95; then a burst of
keystrokes with cancellations, as an editor sends them while the user types.

Run: python tests/bench/bench_lsp.py [--repo DIR] [--file PATH] [--requests N] [--max-new-tokens N] [--threads T]

Both sides use the server's default packing (``ServerOptions``: 1,024 context tokens) and greedy decoding,
so they generate the same text; the server runs as a real subprocess (``python -m codeassist lsp``) and
the API side loads the model in this process after the server has exited (never both at once). Cursors
alternate between two lines of one file (a repeated cursor would be answered by the typed-ahead reuse,
without the model). The burst types ``--burst`` characters into a line, one ``didChange`` and one
``inlineCompletion`` request per keystroke every ``--gap-ms``, cancelling the previous request with
``$/cancelRequest`` as editors do; ``codeassist.status`` reports the most completion requests the server
had queued for worker threads at once. Prints rich tables; not a pytest test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

from lsprotocol import types
from pygls.lsp.client import LanguageClient
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from codeassist.completion import CompletionRequest, CompletionService  # noqa: E402
from codeassist.models import load_model  # noqa: E402
from codeassist.packer import PackOptions  # noqa: E402
from indexer.index import Index  # noqa: E402
from lsp.options import ServerOptions  # noqa: E402

DEFAULT_FILE = "codeassist/patch.py"


def pick_cursors(text: str) -> list[tuple[int, int]]:
    """Two cursors (0-based line, 0-based column) right after ``name = `` on nearby lines past line 60."""
    lines = text.split("\n")
    spots = [(i, l.index(" = ") + 3) for i, l in enumerate(lines) if i > 60 and " = " in l and len(l) > l.index(" = ") + 12]
    if len(spots) < 2:
        raise SystemExit("the file needs two lines with `name = value` past line 60")
    return spots[:2]


def burst_line(text: str, cursors: list[tuple[int, int]], chars: int) -> tuple[int, int, str]:
    """(line, column, text to type): a line whose value is retyped, at least ``chars`` characters of it."""
    lines = text.split("\n")
    for i, l in enumerate(lines):
        if i > cursors[1][0] and " = " in l and len(l) - (l.index(" = ") + 3) >= chars:
            col = l.index(" = ") + 3
            return i, col, l[col:col + chars]
    raise SystemExit(f"the file needs a line with `name = ` and {chars} characters after it")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


async def wait_ready(client: LanguageClient, timeout: float = 900) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = await client.workspace_execute_command_async(types.ExecuteCommandParams(command="codeassist.status"))
        if status["state"] in ("ready", "failed"):
            return status
        await asyncio.sleep(0.5)
    raise SystemExit("the server did not get ready")


def inline_params(uri: str, line: int, col: int) -> types.InlineCompletionParams:
    return types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=col),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic))


async def run_lsp(args, repo: Path, rel: str, text: str, cursors, sequence) -> dict:
    client = LanguageClient("bench", "1")
    await client.start_io(sys.executable, "-m", "codeassist", "lsp")
    await client.initialize_async(types.InitializeParams(
        capabilities=types.ClientCapabilities(), root_uri=repo.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=repo.as_uri(), name=repo.name)],
        initialization_options={"maxNewTokens": args.max_new_tokens}))
    client.initialized(types.InitializedParams())
    status = await wait_ready(client)
    if status["state"] != "ready":
        raise SystemExit(f"the server failed: {status}")
    uri = (repo / rel).as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))
    for line, col in cursors:  # warm-up: context cache and KV cache
        await client.text_document_inline_completion_async(inline_params(uri, line, col))
    times, texts = [], []
    for line, col in sequence:
        t = time.perf_counter()
        result = await client.text_document_inline_completion_async(inline_params(uri, line, col))
        times.append((time.perf_counter() - t) * 1000)
        texts.append(result.items[0].insert_text if result.items else "")

    # the burst: one keystroke every gap_ms, each a didChange and a request that cancels the previous one
    line, col, typed = burst_line(text, cursors, args.burst)
    lines = text.split("\n")
    futures, sent_at = [], []
    for k in range(1, len(typed) + 1):
        new_lines = lines[:line] + [lines[line][:col] + typed[:k]] + lines[line + 1:]
        client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=1 + k),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text="\n".join(new_lines))]))
        if futures and not futures[-1][1].done():
            client.protocol.notify("$/cancelRequest", types.CancelParams(id=futures[-1][0]))
        msg_id = f"burst-{k}"
        fut = client.protocol.send_request_async(types.TEXT_DOCUMENT_INLINE_COMPLETION,
                                                 inline_params(uri, line, col + k), msg_id=msg_id)
        futures.append((msg_id, asyncio.ensure_future(fut)))
        sent_at.append(time.perf_counter())
        await asyncio.sleep(args.gap_ms / 1000)
    outcomes = []
    for _, fut in futures:
        try:
            result = await fut
            outcomes.append("items" if result.items else "empty")
        except Exception:  # noqa: BLE001 - a cancelled request answers with an error response
            outcomes.append("cancelled")
    last_ms = (time.perf_counter() - sent_at[-1]) * 1000  # an upper bound: measured after all answers arrived
    after = await client.workspace_execute_command_async(types.ExecuteCommandParams(command="codeassist.status"))
    await client.shutdown_async(None)
    client.exit(None)
    await client.stop()
    return {"times": times, "texts": texts, "outcomes": outcomes, "last_ms": last_ms, "status": after,
            "last_result": futures[-1][1].result() if outcomes[-1] != "cancelled" else None}


def run_api(args, repo: Path, rel: str, text: str, cursors, sequence) -> dict:
    index = Index(repo)
    index.refresh()
    defaults = ServerOptions()
    svc = CompletionService(index, loaded=load_model(), rope_mode=defaults.rope_scaling,
                            options=PackOptions(context_tokens=defaults.context_tokens, max_new_tokens=args.max_new_tokens))

    def request(line, col):
        return CompletionRequest(rel, line + 1, col, text=text, max_new_tokens=args.max_new_tokens)

    for line, col in cursors:
        svc.complete(request(line, col))
    times, texts = [], []
    for line, col in sequence:
        t = time.perf_counter()
        texts.append(svc.complete(request(line, col)).completion)
        times.append((time.perf_counter() - t) * 1000)
    index.close()
    return {"times": times, "texts": texts}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", default=str(ROOT))
    ap.add_argument("--file", default=DEFAULT_FILE, help="repository-relative Python file to complete in")
    ap.add_argument("--requests", type=int, default=12, help="measured round trips per side")
    ap.add_argument("--max-new-tokens", type=int, default=16)
    ap.add_argument("--burst", type=int, default=20, help="keystrokes in the burst")
    ap.add_argument("--gap-ms", type=float, default=40, help="time between keystrokes")
    ap.add_argument("--threads", type=int, default=1, help="CODEASSIST_THREADS for both sides")
    args = ap.parse_args()
    os.environ["CODEASSIST_THREADS"] = str(args.threads)
    console = Console()
    repo = Path(args.repo).resolve()
    text = (repo / args.file).read_text()
    cursors = pick_cursors(text)
    sequence = [cursors[i % 2] for i in range(args.requests)]

    t0 = time.perf_counter()
    lsp = asyncio.run(run_lsp(args, repo, args.file, text, cursors, sequence))
    api = run_api(args, repo, args.file, text, cursors, sequence)
    same = sum(a == b for a, b in zip(lsp["texts"], api["texts"]))

    table = Table(title=f"inlineCompletion, warm: {args.file} {[(l + 1, c) for l, c in cursors]} (1-based lines), "
                        f"{args.max_new_tokens} new tokens, {args.threads} thread(s)")
    for col in ("path", "n", "p50 ms", "p95 ms", "mean ms"):
        table.add_column(col, justify="right" if col != "path" else "left")
    for name, times in (("Python API (CompletionService.complete)", api["times"]),
                        ("LSP over stdio (inlineCompletion)", lsp["times"])):
        table.add_row(name, str(len(times)), f"{pct(times, .5):.0f}", f"{pct(times, .95):.0f}", f"{statistics.mean(times):.0f}")
    overhead = [a - b for a, b in zip(lsp["times"], api["times"])]
    table.add_row("LSP overhead (paired difference)", str(len(overhead)), f"{pct(overhead, .5):.0f}",
                  f"{pct(overhead, .95):.0f}", f"{statistics.mean(overhead):.0f}")
    console.print(table)
    console.print(f"identical completions on both sides: {same}/{len(sequence)}")

    counts = {k: lsp["outcomes"].count(k) for k in ("items", "empty", "cancelled")}
    burst = Table(title=f"burst: {args.burst} keystrokes every {args.gap_ms:.0f} ms, each cancelling the previous request")
    for col in ("answered with items", "empty", "cancelled", "last answered", "last request → answer ms",
                "max queued in server", "queued after"):
        burst.add_column(col, justify="right")
    last = lsp["last_result"]
    burst.add_row(str(counts["items"]), str(counts["empty"]), str(counts["cancelled"]),
                  "yes" if last is not None and last.items else "no", f"{lsp['last_ms']:.0f}",
                  str(lsp["status"]["completionQueueMax"]), str(lsp["status"]["completionQueue"]))
    console.print(burst)
    console.print(f"outcomes in order: {' '.join(o[0] for o in lsp['outcomes'])}  (i items, e empty, c cancelled); "
                  f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
