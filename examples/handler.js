// An order handler for `javascriptd run examples/handler.js --call handle`.
// `order` and `currency` are globals from --globals examples/order.json,
// `discount` (percent) is one from --global discount=10. It calls back with the
// order's total; an order without items throws, and the run exits 1.
function handle(cb) {
  if (order.items.length === 0) throw new Error(`order ${order.id} has no items`);
  const subtotal = order.items.reduce((sum, item) => sum + item.price * item.quantity, 0);
  const total = Math.round(subtotal * (100 - discount)) / 100;
  console.log(`order ${order.id}: ${order.items.length} items, ${subtotal} ${currency} before ${discount}% off`);
  cb({ order: order.id, total, currency });
}
