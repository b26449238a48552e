const { addItem, removeItem } = require('./inventory');
const { lowStock } = require('./report');

function main() {
  const store = {};
  addItem(store, 'apple', 5);
  addItem(store, 'pear', 50);
  removeItem(store, 'apple', 2);
  return lowStock(store, 10);
}

module.exports = { main };
