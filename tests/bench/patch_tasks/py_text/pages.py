PAGE_SIZE = 10


def page_count(total):
    return total // PAGE_SIZE


def page_range(page):
    start = page * PAGE_SIZE
    return range(start, start + PAGE_SIZE - 1)
