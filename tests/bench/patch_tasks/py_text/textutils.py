def word_count(text):
    return len(text.split())


def last_words(text, n):
    words = text.split()
    return words[len(words) - n - 1:]


def slugify(title):
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
