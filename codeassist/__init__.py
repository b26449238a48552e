"""codeassist core: models and RoPE scaling, repository context, prompt packing, completion, CLI."""

__version__ = "0.1.0"
