from pricing import apply_discount, calc_total


class Cart:
    def __init__(self):
        self.items = []

    def add(self, name, price):
        self.items.append((name, price))

    def total(self):
        return calc_total([p for _, p in self.items])

    def discounted_total(self, percent):
        return apply_discount(self.total(), percent)
