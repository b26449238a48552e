"""Patches planned on the disk are carried onto open documents with unsaved edits, or refused: never lost."""

from pathlib import Path
from types import SimpleNamespace

from codeassist.apply import FileChange
from lsp.server import _onto_buffers

DISK = "def a():\n    return 1\n\n\ndef b():\n    return 2\n"


def server_with(root: Path, documents: dict[str, str]):
    docs = {(root / p).as_uri(): SimpleNamespace(source=text) for p, text in documents.items()}
    return SimpleNamespace(index=SimpleNamespace(root=root), workspace=SimpleNamespace(text_documents=docs))


def test_unchanged_and_closed_documents_pass_through(tmp_path):
    change = FileChange("m.py", DISK.encode(), DISK.replace("return 2", "return 3").encode())
    assert _onto_buffers(server_with(tmp_path, {}), [change]) == ([change], [])
    assert _onto_buffers(server_with(tmp_path, {"m.py": DISK}), [change]) == ([change], [])


def test_unsaved_edits_elsewhere_in_the_file_are_kept(tmp_path):
    buffer = DISK.replace("return 1", "return 100  # unsaved")
    change = FileChange("m.py", DISK.encode(), DISK.replace("return 2", "return 3").encode())
    (out,), conflicts = _onto_buffers(server_with(tmp_path, {"m.py": buffer}), [change])
    assert conflicts == [] and out.old == buffer.encode()
    assert out.new.decode() == buffer.replace("return 2", "return 3")


def test_unsaved_edits_under_the_hunk_are_a_conflict(tmp_path):
    buffer = DISK.replace("return 2", "return 20")
    change = FileChange("m.py", DISK.encode(), DISK.replace("return 2", "return 3").encode())
    assert _onto_buffers(server_with(tmp_path, {"m.py": buffer}), [change]) == ([], ["m.py"])
    deletion = FileChange("m.py", DISK.encode(), None)
    assert _onto_buffers(server_with(tmp_path, {"m.py": buffer}), [deletion]) == ([], ["m.py"])
