// The smallest script for `javascriptd run examples/double.js`: a console line,
// and a value (the completion value of the script), printed as JSON.
console.log('hi');
[1, 2, 3].map((n) => n * 2);
