"""Teacher-forced scoring (``Engine.score``) against a plain forward pass, on a tiny random model."""

import pytest
import torch

from codeassist.engine import Engine
from tests.codeassist.conftest import CharTokenizer


def reference(model, prompt, target):
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([prompt + target])).logits[0].float()
    lp = torch.log_softmax(logits, dim=-1)
    return [lp[len(prompt) - 1 + j, t].item() for j, t in enumerate(target)]


def test_score_matches_a_full_forward_pass(tiny_model):
    prompt, target = list(range(1, 40)), [5, 9, 13]
    got = Engine(tiny_model, CharTokenizer()).score(prompt, target)
    assert got == pytest.approx(reference(tiny_model, prompt, target), abs=1e-4)


def test_score_reuses_the_prompt_cache_and_stays_exact(tiny_model, monkeypatch):
    import codeassist.engine as eng

    monkeypatch.setattr(eng, "PREFILL_CHUNK", 16)  # several prefill passes before the scored tail
    engine = Engine(tiny_model, CharTokenizer())
    prompt = [i % 50 + 1 for i in range(70)]
    engine.score(prompt, [3, 4])
    assert engine._cache_ids == prompt + [3, 4]
    second = engine.score(prompt, [7, 8, 9])  # same prompt: only the tail runs
    assert second == pytest.approx(reference(tiny_model, prompt, [7, 8, 9]), abs=1e-4)
    gen = engine.generate(prompt, max_new_tokens=4, stop_ids=set())  # generation after scoring still reuses
    assert gen.cached_tokens == len(prompt) - 1


def test_score_rejects_empty_input(tiny_model):
    with pytest.raises(ValueError):
        Engine(tiny_model, CharTokenizer()).score([], [1])
