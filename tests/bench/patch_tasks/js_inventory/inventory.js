const MAX_STOCK = 100;

function addItem(store, name, qty) {
  const current = store[name] || 0;
  store[name] = Math.min(current + qty, MAX_STOCK);
  return store[name];
}

function removeItem(store, name, qty) {
  const current = store[name] || 0;
  store[name] = Math.max(current - qty, 0);
  return store[name];
}

module.exports = { MAX_STOCK, addItem, removeItem };
