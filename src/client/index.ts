// javascriptd/client is javascriptd-client (packages/client), the package to
// install outside this repository:
//   const rt = await connect('ws://127.0.0.1:8765/', { secret });
//   const { value, console, time } = await rt.execute({ code, call, globals });
export * from 'javascriptd-client';
