"""The decode fast path: torch.mv linear layers and the lean one-token step must equal transformers bit for bit."""

import copy

import pytest
import torch

from codeassist import gemv
from codeassist.decode import FastDecoder
from codeassist.engine import Engine
from tests.codeassist.conftest import CharTokenizer


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(1, 1, 48), (1, 5, 48), (48,), (3, 48)])
def test_gemv_linear_equals_nn_linear(dtype, bias, shape):
    torch.manual_seed(1)
    plain = torch.nn.Linear(48, 80, bias=bias).to(dtype)
    fast = copy.deepcopy(plain)
    assert gemv.install(fast) == 1 and type(fast) is gemv.GemvLinear
    x = torch.randn(*shape).to(dtype)
    want, got = plain(x), fast(x)
    assert got.shape == want.shape and torch.equal(got, want)


def test_install_keeps_weights_and_ties(tiny_model):
    model = copy.deepcopy(tiny_model)
    model.lm_head.weight = model.model.embed_tokens.weight  # tied, as in the default model
    count = gemv.install(model)
    assert count == sum(1 for m in tiny_model.modules() if type(m) is torch.nn.Linear)
    assert model.lm_head.weight is model.model.embed_tokens.weight
    assert gemv.install(model) == 0  # already installed: nothing left to convert


def _decode_both(model, prompt, steps, scaling=None):
    """Greedy-decodes ``steps`` tokens with transformers and with the lean step; returns both logit lists."""
    from transformers import DynamicCache

    from codeassist.rope import apply_scaling

    apply_scaling(model, scaling)
    fast = FastDecoder.build(model)
    assert fast is not None
    with torch.inference_mode():
        cache = DynamicCache(config=model.config)
        first = model(input_ids=torch.tensor([prompt]), cache=cache, use_cache=True, logits_to_keep=1).logits[0, -1]
        mine = copy.deepcopy(cache)
        want, got, a, b = [], [], first, first
        for _ in range(steps):
            a = model(input_ids=torch.tensor([[int(a.argmax())]]), cache=cache, use_cache=True, logits_to_keep=1)
            a = a.logits[0, -1]
            b = fast.step(int(b.argmax()), mine)
            want.append(a)
            got.append(b)
    apply_scaling(model, None)
    return want, got


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("scaling", [None, {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32}])
def test_lean_step_equals_transformers_bitwise(tiny_model, dtype, scaling):
    model = copy.deepcopy(tiny_model).to(dtype)
    gemv.install(model)
    want, got = _decode_both(model, [3, 14, 15, 9, 26, 5, 35, 8, 9, 7], steps=12, scaling=scaling)
    assert all(torch.equal(w, g) for w, g in zip(want, got))


def test_unsupported_models_keep_the_plain_forward(tiny_model):
    from transformers import Qwen2Config, Qwen2ForCausalLM

    sliding = Qwen2Config(**{**tiny_model.config.to_dict(), "use_sliding_window": True, "sliding_window": 8,
                             "max_window_layers": 0, "layer_types": None})
    assert FastDecoder.build(Qwen2ForCausalLM(sliding).eval()) is None
    quantised = torch.ao.quantization.quantize_dynamic(copy.deepcopy(tiny_model), {torch.nn.Linear}, dtype=torch.qint8)
    assert FastDecoder.build(quantised) is None
    assert FastDecoder.build(torch.nn.Linear(2, 2)) is None


def test_engine_output_is_the_same_with_and_without_the_lean_step(tiny_model):
    fast, plain = Engine(tiny_model, CharTokenizer()), Engine(tiny_model, CharTokenizer())
    plain._fast = None
    prompt = list(range(1, 40))
    a = fast.generate(prompt, max_new_tokens=16, stop_ids=set())
    b = plain.generate(prompt, max_new_tokens=16, stop_ids=set())
    assert fast._fast is not None and a.text == b.text and a.tokens == 16


def test_default_model_passes_the_probe(default_model):
    # the real Qwen2.5-Coder in bfloat16 with gemv installed by load_model: the lean step must be in use
    assert any(type(m) is gemv.GemvLinear for m in default_model.model.modules())
    assert FastDecoder.build(default_model.model) is not None
