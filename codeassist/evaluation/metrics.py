"""CrossCodeEval's line-completion metrics and the paired bootstrap that compares conditions.

A prediction is judged on its first line only (line-level completion); both sides are stripped of
surrounding whitespace. Identifiers are the NAME tokens of Python's tokenizer that are not keywords, so
names inside strings and comments do not count.
"""

from __future__ import annotations

import io
import keyword
import tokenize

import numpy as np
from rapidfuzz import fuzz

BOOTSTRAP_SAMPLES = 2000
CONFIDENCE = 0.95


def first_line(text: str) -> str:
    return text.split("\n", 1)[0].strip()


def exact_match(prediction: str, target: str) -> float:
    """1.0 when the prediction's first line equals the ground truth (both stripped), else 0.0."""
    return float(first_line(prediction) == target.strip())


def edit_similarity(prediction: str, target: str) -> float:
    """Normalised Levenshtein (Indel) similarity in [0, 1], as CrossCodeEval's ``fuzz.ratio / 100``."""
    return fuzz.ratio(first_line(prediction), target.strip()) / 100.0


def identifiers(code: str) -> list[str]:
    """Identifiers of a (possibly unfinished) line of Python, in order, with repeats."""
    out: list[str] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(code).readline):
            if tok.type == tokenize.NAME and not keyword.iskeyword(tok.string):
                out.append(tok.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass  # an unclosed bracket at the end of the line: the tokens before it were kept
    return out


def identifier_match(prediction: str, target: str) -> tuple[float, float]:
    """(exact match, F1) of the identifiers, as CrossCodeEval's ``compute_id_match`` defines them.

    Exact match compares the identifier sequences; F1 is 2·tp / (2·tp + fp + fn) over the identifier
    sets. Where CrossCodeEval divides 0 by 0 (no identifiers on either side) this scores F1 1.0.
    """
    pred, gold = identifiers(first_line(prediction)), identifiers(target.strip())
    em = float(pred == gold)
    p, g = set(pred), set(gold)
    if not p and not g:
        return em, 1.0
    tp = len(p & g)
    return em, 2 * tp / (2 * tp + len(p - g) + len(g - p))


def score_prediction(prediction: str, target: str) -> dict[str, float]:
    """All per-case metrics: em, es, id_em, id_f1 (each in [0, 1])."""
    id_em, id_f1 = identifier_match(prediction, target)
    return {"em": exact_match(prediction, target), "es": edit_similarity(prediction, target),
            "id_em": id_em, "id_f1": id_f1}


def paired_bootstrap(a: list[float], b: list[float], *, samples: int = BOOTSTRAP_SAMPLES, seed: int = 0,
                     confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """(mean of a - b, lower, upper): a percentile bootstrap interval over cases resampled in pairs."""
    if len(a) != len(b):
        raise ValueError("paired samples must have the same length")
    if not a:
        return 0.0, 0.0, 0.0
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), size=(samples, len(diff)))].mean(axis=1)
    tail = (1 - confidence) / 2
    lo, hi = np.quantile(means, [tail, 1 - tail])
    return float(diff.mean()), float(lo), float(hi)
