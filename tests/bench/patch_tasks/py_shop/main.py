from cart import Cart


def run():
    cart = Cart()
    cart.add("pen", 2.0)
    cart.add("book", 10.0)
    return cart.total()


if __name__ == "__main__":
    print(run())
