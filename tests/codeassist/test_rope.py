"""Choosing RoPE scaling per prompt length and swapping the rotary embedding without reloading weights."""

import pytest
import torch

from codeassist.rope import apply_scaling, choose_scaling, describe


def test_inside_the_window_keeps_the_models_own_rope():
    assert choose_scaling(8192, 8192) is None
    assert choose_scaling(100, 8192, "dynamic") is None


def test_beyond_the_window_factor_is_next_power_of_two():
    assert choose_scaling(8193, 8192) == {"rope_type": "yarn", "factor": 2.0, "original_max_position_embeddings": 8192}
    assert choose_scaling(3 * 8192, 8192)["factor"] == 4.0
    assert choose_scaling(20000, 8192, "linear")["rope_type"] == "linear"
    assert choose_scaling(20000, 8192, "none") is None
    with pytest.raises(ValueError, match="unknown RoPE"):
        choose_scaling(20000, 8192, "ntk")


def test_describe():
    assert describe(None) == "default"
    assert describe(choose_scaling(20000, 8192)) == "yarn x4"


def test_yarn_changes_frequencies_as_specified_and_none_restores(tiny_model):
    original = tiny_model.model.rotary_emb.inv_freq.clone()
    apply_scaling(tiny_model, choose_scaling(300, 128))  # factor 4 over a 128-token window
    rot = tiny_model.model.rotary_emb
    assert rot.rope_type == "yarn"
    # YaRN keeps the high frequencies (extrapolation) and divides the lowest by the factor (interpolation)
    assert torch.isclose(rot.inv_freq[0], original[0])
    assert torch.isclose(rot.inv_freq[-1], original[-1] / 4)
    assert rot.attention_scaling == pytest.approx(0.1 * torch.log(torch.tensor(4.0)).item() + 1.0)
    assert tiny_model.config.rope_parameters["rope_type"] == "default"  # the model's config is untouched
    apply_scaling(tiny_model, None)
    assert torch.equal(tiny_model.model.rotary_emb.inv_freq, original)
    assert tiny_model.model.rotary_emb.attention_scaling == 1.0


def test_linear_divides_all_frequencies(tiny_model):
    original = tiny_model.model.rotary_emb.inv_freq.clone()
    apply_scaling(tiny_model, choose_scaling(200, 128, "linear"))
    assert torch.allclose(tiny_model.model.rotary_emb.inv_freq, original / 2)
    apply_scaling(tiny_model, None)


def test_scaled_model_still_runs_beyond_the_window(tiny_model):
    apply_scaling(tiny_model, choose_scaling(300, 128))
    with torch.inference_mode():
        out = tiny_model(input_ids=torch.randint(0, 64, (1, 300)), logits_to_keep=1)
    assert out.logits.shape == (1, 1, 64)
    assert torch.isfinite(out.logits).all()
    apply_scaling(tiny_model, None)


def test_dynamic_is_a_fixed_ntk_base_for_the_whole_request(tiny_model):
    """transformers' dynamic rope changes frequencies per forward pass, which breaks a reused KV cache."""
    from codeassist.rope import ntk_theta

    original = tiny_model.model.rotary_emb.inv_freq.clone()
    apply_scaling(tiny_model, choose_scaling(300, 128, "dynamic"))  # factor 4
    rot = tiny_model.model.rotary_emb
    theta = ntk_theta(10000.0, 4.0, 8)
    assert theta == pytest.approx(10000.0 * 13 ** (8 / 6))
    expected = 1.0 / (theta ** (torch.arange(0, 8, 2, dtype=torch.float) / 8))
    assert torch.allclose(rot.inv_freq, expected)
    before = rot.inv_freq.clone()
    with torch.inference_mode():
        tiny_model(input_ids=torch.randint(0, 64, (1, 300)), logits_to_keep=1)
    assert torch.equal(rot.inv_freq, before)  # unchanged by a long forward pass
    assert rot.inv_freq[-1] < original[-1]
    apply_scaling(tiny_model, None)
