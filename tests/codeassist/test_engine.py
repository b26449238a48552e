"""The generation loop: KV-cache reuse, stop rules and cancellation, on a tiny random model."""

import pytest

from codeassist.engine import Cancelled, Engine, common_prefix
from tests.codeassist.conftest import CharTokenizer


@pytest.fixture
def engine(tiny_model):
    return Engine(tiny_model, CharTokenizer())


def run(engine, ids, **kw):
    kw.setdefault("max_new_tokens", 8)
    kw.setdefault("stop_ids", set())
    return engine.generate(ids, **kw)


def test_common_prefix():
    assert common_prefix([1, 2, 3], [1, 2, 4]) == 2
    assert common_prefix([], [1]) == 0
    assert common_prefix([1, 2], [1, 2, 3]) == 2


def test_reused_cache_gives_the_same_tokens_as_a_cold_run(tiny_model, engine):
    prompt = list(range(1, 60))
    first = run(engine, prompt)
    assert first.cached_tokens == 0 and first.tokens == 8
    edited = prompt[:50] + [7, 7, 7]  # same 50-token prefix, new tail
    warm = run(engine, edited)
    assert warm.cached_tokens == 50
    cold = run(Engine(tiny_model, CharTokenizer()), edited)
    assert warm.text == cold.text


def test_identical_prompt_reuses_all_but_the_last_token(engine):
    prompt = list(range(1, 30))
    run(engine, prompt)
    again = run(engine, prompt)
    assert again.cached_tokens == len(prompt) - 1


def test_prompt_longer_than_a_prefill_chunk(tiny_model, engine, monkeypatch):
    import codeassist.engine as eng

    monkeypatch.setattr(eng, "PREFILL_CHUNK", 16)
    prompt = [i % 60 + 1 for i in range(70)]
    chunked = run(engine, prompt)
    monkeypatch.setattr(eng, "PREFILL_CHUNK", 512)
    whole = run(Engine(tiny_model, CharTokenizer()), prompt)
    assert chunked.text == whole.text


def test_stop_token_ends_generation(engine):
    prompt = list(range(1, 20))
    free = run(engine, prompt)
    first_token = ord(free.text[0]) - 97
    stopped = run(engine, prompt, stop_ids={t for t in range(64) if t % 26 == first_token})
    assert stopped.tokens == 0 and stopped.stop_reason == "stop_token"


def test_stop_rule_cuts_the_text(engine):
    gen = run(engine, list(range(1, 20)), stop_rule=lambda text: 2 if len(text) >= 3 else None)
    assert len(gen.text) == 2 and gen.stop_reason == "stop_rule" and gen.tokens == 3


def test_cancel_stops_within_one_token_and_keeps_the_cache_usable(engine):
    seen = []
    with pytest.raises(Cancelled):
        run(engine, list(range(1, 20)), max_new_tokens=50, on_text=seen.append, cancel=lambda: len(seen) >= 3)
    assert len(seen) == 3
    after = run(engine, list(range(1, 20)))
    assert after.tokens == 8 and after.cached_tokens > 0


def test_changing_rope_scaling_drops_the_cache(engine):
    from codeassist.rope import apply_scaling, choose_scaling

    prompt = list(range(1, 40))
    run(engine, prompt)
    scaled = run(engine, prompt, scaling=choose_scaling(300, 128))
    assert scaled.cached_tokens == 0 and scaled.rope_scaling == "yarn x4"
    back = run(engine, prompt)
    assert back.cached_tokens == 0 and back.rope_scaling == "default"
    apply_scaling(engine.model, None)
