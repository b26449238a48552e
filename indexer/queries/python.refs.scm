; codeassist tags for Python. Captures: @definition.KIND with @name, @reference, @import.* (see indexer/parse.py).
(identifier) @reference
