from textutils import word_count


def summarize(text):
    lines = text.splitlines()
    return {"lines": len(lines), "words": word_count(text)}
