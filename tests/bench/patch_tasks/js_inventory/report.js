const { addItem } = require('./inventory');

function lowStock(store, threshold) {
  return Object.keys(store).filter((name) => store[name] < threshold);
}

function isFull(store, name) {
  return (store[name] || 0) >= MAX_STOCK;
}

function firstItems(list, n) {
  const out = [];
  for (let i = 0; i <= n && i < list.length; i++) {
    out.push(list[i]);
  }
  return out;
}

function restock(store, name) {
  return addItem(store, name, 10);
}

module.exports = { lowStock, isFull, firstItems, restock };
