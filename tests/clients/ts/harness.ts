// Runs docs/clients/typescript under node 20 against a running Log Center: the browser globals
// the client reads are shimmed, `import.meta.env` is defined at bundle time as Vite would, and
// every request the client makes to Log Center is awaited so its answer can be checked.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import request from './axios';
import { reportError } from './reportError';

type Beacon = (url: string, body: string) => boolean;

const realFetch = globalThis.fetch;
const sent: Promise<Response>[] = [];
globalThis.fetch = (input, init) => {
  const reply = realFetch(input, init);
  sent.push(reply);
  return reply;
};

function browser(sendBeacon?: Beacon): void {
  Object.defineProperty(globalThis, 'window', {
    value: { location: { href: 'http://localhost:5173/orders/7' } },
    configurable: true,
  });
  Object.defineProperty(globalThis, 'navigator', {
    value: { userAgent: 'Mozilla/5.0 (harness)', sendBeacon },
    configurable: true,
  });
}

// What a browser does with a beacon: a text/plain POST it does not wait for.
const beacon: Beacon = (url, body) => {
  void fetch(url, { method: 'POST', body, headers: { 'Content-Type': 'text/plain;charset=UTF-8' } });
  return true;
};

async function main(): Promise<void> {
  const [apiUrl, closedUrl] = process.argv.slice(2);

  browser(undefined); // no sendBeacon: the fetch path
  reportError(new TypeError('fetch path'), { orderId: 7 });

  browser(beacon);
  reportError(new RangeError('beacon path'));

  browser(() => false); // a beacon the browser refuses: fetch instead
  reportError(new SyntaxError('beacon refused'));

  browser(undefined);
  const failing = createServer((_, response) => response.writeHead(502).end()).listen(0);
  await new Promise((ready) => failing.once('listening', ready));
  const { port } = failing.address() as AddressInfo;
  await request.get(`http://127.0.0.1:${port}/api/orders`).catch(() => undefined); // 502: reported
  failing.close();
  await request.get(closedUrl).catch(() => undefined); // no answer at all: reported
  await request.get(`${apiUrl}/api/v1/projects`); // fine: nothing reported
  await request.get(`${apiUrl}/api/v1/no-such-page`).catch(() => undefined); // 404: not reported
  console.log(JSON.stringify({ failingPort: port }));

  const replies = await Promise.all(sent);
  console.log(JSON.stringify({ statuses: replies.map((reply) => reply.status) }));
}

void main();
