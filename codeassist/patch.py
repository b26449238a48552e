"""Proposing a multi-file patch for an instruction: choose files → prompt → edits → validate → retry.

The model (the instruct model's chat template) answers with SEARCH/REPLACE blocks; they are parsed and
planned against the files in memory (``codeassist.apply.plan_changes``), checked for syntax regressions,
and, when anything fails, the errors go back to the model for up to ``MAX_RETRIES`` more attempts (fewer
when the model only repeats a failed answer).
Nothing is written here: ``codeassist.apply.write_changes`` does that once the user accepts.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Callable

from codeassist import rope
from codeassist.apply import FileChange, plan_changes
from codeassist.edits import EditError, parse_edits
from codeassist.engine import CancelFn, Engine
from codeassist.formats import QWEN, stop_token_ids
from codeassist.models import LoadedModel
from codeassist.verify import syntax_regressions
from indexer.index import Index
from indexer.rank import Ranker

MAX_RETRIES = 2  # extra attempts after the first when edits fail to parse or apply
DEFAULT_FILES_BUDGET = 3000  # tokens of file content shown to the model
DEFAULT_MAX_NEW_TOKENS = 512  # tokens the model may write per attempt
MAX_FILES = 6  # files shown at most, named ones first
IDENT_RE = re.compile(r"`?([A-Za-z_][A-Za-z0-9_]{2,})`?")

SYSTEM_PROMPT = """You are an expert software engineer who edits code precisely.
Answer ONLY with SEARCH/REPLACE blocks: the file path alone on a line, then <<<<<<< SEARCH, lines copied
exactly from that file (with their indentation), =======, the new lines, >>>>>>> REPLACE.
Change every file that needs it, including callers in other files. No explanations."""

# A worked example, given as a previous conversation turn: small models copy a shown answer's shape far
# more reliably than they follow a described format.
EXAMPLE_USER = """Repository files:

greet.py
```
def hello(name):
    return "Hello " + name
```

main.py
```
from greet import hello

print(hello("Ann"))
```

Instruction: Rename hello to greet_user and update its callers."""

EXAMPLE_ASSISTANT = """greet.py
<<<<<<< SEARCH
def hello(name):
=======
def greet_user(name):
>>>>>>> REPLACE

main.py
<<<<<<< SEARCH
from greet import hello

print(hello("Ann"))
=======
from greet import greet_user

print(greet_user("Ann"))
>>>>>>> REPLACE"""


@dataclass
class PatchProposal:
    instruction: str
    files: list[str]  # files shown to the model
    changes: list[FileChange] = field(default_factory=list)
    attempts: int = 0
    errors: list[str] = field(default_factory=list)  # the last attempt's problems ([] when it succeeded)
    outputs: list[str] = field(default_factory=list)  # raw model output per attempt
    seconds: float = 0.0
    well_formed: bool = False  # the last output parsed as edits

    @property
    def ok(self) -> bool:
        return bool(self.changes) and not self.errors


BLOCK_END = ">>>>>>> REPLACE"


def stop_at_repeated_block(text: str) -> int | None:
    """Cuts the answer where the model starts writing a block it already wrote (a common loop)."""
    if text.count(BLOCK_END) < 2 or not text.rstrip().endswith(BLOCK_END):
        return None
    blocks = [b.strip() for b in text.split(BLOCK_END)[:-1]]
    if blocks[-1] in blocks[:-1]:
        return text.rstrip().rfind(blocks[-1])
    return None


def choose_files(index: Index, instruction: str, named: list[str], budget_tokens: int,
                 count_tokens: Callable[[str], int]) -> list[str]:
    """Files to show: those named, those whose path or symbols the instruction mentions, then neighbours.

    Neighbours are the files defining or referencing the mentioned symbols (callers and definitions).
    """
    snap = index.snapshot()
    picked: list[str] = [index.relpath(p) for p in named]
    for path in snap.languages:
        if path in instruction or (path.rsplit("/", 1)[-1] in instruction.split()):
            picked.append(path)
    mentioned = {m for m in IDENT_RE.findall(instruction)}
    definers = [p for p, defs in snap.definitions.items() if any(d.name in mentioned for d in defs)]
    users = [p for p, refs in snap.references.items() if mentioned & refs.keys()]
    picked += sorted(definers) + sorted(users, key=lambda p: -sum(snap.references[p].get(n, 0) for n in mentioned))
    if len(dict.fromkeys(picked)) < 2 and picked:
        picked += [s.path for s in Ranker(index).rank(picked[0], focus=list(mentioned), budget=budget_tokens)]
    out, used = [], 0
    for p in dict.fromkeys(picked):
        try:
            tokens = count_tokens(index.read_text(p))
        except OSError:
            continue
        if used + tokens > budget_tokens and out:
            continue
        out.append(p)
        used += tokens
        if len(out) >= MAX_FILES:
            break
    return out


def build_messages(index: Index, instruction: str, files: list[str]) -> list[dict[str, str]]:
    shown = "\n\n".join(f"{p}\n```\n{index.read_text(p).rstrip()}\n```" for p in files)
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": EXAMPLE_USER},
        {"role": "assistant", "content": EXAMPLE_ASSISTANT},
        {"role": "user", "content": f"Repository files:\n\n{shown}\n\nInstruction: {instruction}"},
    ]


def propose_patch(
    index: Index,
    loaded: LoadedModel,
    engine: Engine,
    instruction: str,
    *,
    named_files: list[str] = (),
    files_budget: int = DEFAULT_FILES_BUDGET,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    rope_mode: str = rope.DEFAULT_MODE,
    cancel: CancelFn | None = None,
    on_text: Callable[[str], None] | None = None,
) -> PatchProposal:
    """Asks the model for edits until they parse, apply and keep the syntax, or attempts run out."""
    t0 = time.perf_counter()
    tok = loaded.tokenizer
    count = lambda text: len(tok.encode(text, add_special_tokens=False))  # noqa: E731
    files = choose_files(index, instruction, list(named_files), files_budget, count)
    proposal = PatchProposal(instruction, files)
    messages = build_messages(index, instruction, files)
    stop_ids = stop_token_ids(tok, QWEN)  # <|im_end|>, <|endoftext|> and the tokenizer's EOS end a turn
    for attempt in range(1 + MAX_RETRIES):
        proposal.attempts = attempt + 1
        prompt = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        ids = tok.encode(prompt, add_special_tokens=False)
        scaling = rope.choose_scaling(len(ids) + max_new_tokens, loaded.native_context, rope_mode)
        gen = engine.generate(ids, max_new_tokens=max_new_tokens, stop_ids=stop_ids, cancel=cancel,
                              on_text=on_text, scaling=scaling, stop_rule=stop_at_repeated_block)
        output = gen.text
        proposal.outputs.append(output)
        errors: list[str] = []
        try:
            edits = parse_edits(output)
            proposal.well_formed = bool(edits)
            if not edits:
                errors.append("no SEARCH/REPLACE blocks found in the answer")
            else:
                changes = plan_changes(index.root, edits)
                errors += syntax_regressions(changes)
                if not changes and not errors:
                    errors.append("the edits change nothing")
                proposal.changes = changes
        except EditError as e:
            proposal.well_formed = proposal.well_formed or "truncated" not in str(e)
            errors.append(str(e))
        proposal.errors = errors
        if not errors:
            break
        proposal.changes = []
        if output in proposal.outputs[:-1]:
            # Greedy decoding wrote a failed answer again word for word; in the patch benchmark
            # (tests/bench/RESULTS.md) every answer repeated once was repeated on the next attempt too.
            break
        messages = messages + [
            {"role": "assistant", "content": output},
            {"role": "user", "content": "These edits failed:\n- " + "\n- ".join(errors)
             + "\nReply again with corrected SEARCH/REPLACE blocks for the whole change."},
        ]
    proposal.seconds = time.perf_counter() - t0
    return proposal
