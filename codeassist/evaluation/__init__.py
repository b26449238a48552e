"""Cross-file completion evaluation in the manner of CrossCodeEval: does the repository context help?

``cases`` finds lines of a Python repository that use a name defined in another of its files (and some
in-file control lines); ``bm25`` is the CrossCodeEval retrieval baseline; ``runner`` completes every case
under each condition (``infile``, ``bm25``, ``packed``) through the real completion engine, or scores the
ground truth teacher-forced; ``metrics`` holds exact match, edit similarity, identifier match and the
paired bootstrap.
"""
