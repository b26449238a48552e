"""Repository indexer: tree-sitter parsing, SQLite symbol index, import graph, ranking. Knows nothing of models."""
