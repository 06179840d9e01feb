'use strict';
// The SDK's WebSocket client against a hand-driven server: the upgrade, masked frames
// out, fragments joined, pings answered, close, and frames over the size bound refused.
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const http = require('node:http');
const websocket = require('../websocket.js');

// A server whose upgraded socket the test drives by hand.
async function server(onSocket, { accept } = {}) {
  const srv = http.createServer((_, res) => res.writeHead(404).end());
  srv.on('upgrade', (req, socket) => {
    const key = accept ?? crypto.createHash('sha1').update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${key}\r\n\r\n`);
    onSocket(socket);
  });
  const sockets = new Set();
  srv.on('connection', (socket) => sockets.add(socket));
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    url: `ws://127.0.0.1:${srv.address().port}/`,
    close() {
      for (const socket of sockets) socket.destroy();
      srv.close();
    },
  };
}

const serverFrame = (op, payload, fin = true) => {
  const head = payload.length < 126 ? Buffer.from([(fin ? 0x80 : 0) | op, payload.length]) : null;
  return Buffer.concat([head, payload]);
};

// Reads one masked client frame: [op, payload].
function readClientFrame(bytes) {
  const op = bytes[0] & 0x0f;
  assert.ok(bytes[1] & 0x80, 'a client frame is masked');
  const length = bytes[1] & 0x7f;
  const mask = bytes.subarray(2, 6);
  const payload = Buffer.from(bytes.subarray(6, 6 + length)).map((b, i) => b ^ mask[i & 3]);
  return [op, Buffer.from(payload), bytes.subarray(6 + length)];
}

test('text out masked; fragments joined; pings answered; close ends it', { timeout: 10000 }, async () => {
  const received = [];
  let serverSocket;
  let resolveFrames;
  const got = new Promise((resolve) => (resolveFrames = resolve));
  let buffer = Buffer.alloc(0);
  const frames = [];
  const srv = await server((socket) => {
    serverSocket = socket;
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 6 && buffer.length >= 6 + (buffer[1] & 0x7f)) {
        const [op, payload, after] = readClientFrame(buffer);
        frames.push([op, payload.toString()]);
        buffer = after;
      }
      if (frames.length >= 2) resolveFrames(frames);
    });
  });
  const ws = await websocket.connect(srv.url);
  const closed = new Promise((resolve) => (ws.onClose = resolve));
  ws.onMessage = (text) => received.push(text);
  ws.send('{"hello":1}');
  serverSocket.write(serverFrame(9, Buffer.from('ping!')));
  serverSocket.write(serverFrame(1, Buffer.from('hel'), false));
  serverSocket.write(serverFrame(0, Buffer.from('lo'), true));
  await got;
  assert.deepEqual(frames[0], [1, '{"hello":1}']);
  assert.deepEqual(frames[1], [10, 'ping!'], 'the ping is answered with its payload');
  for (let i = 0; i < 50 && received.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.deepEqual(received, ['hello']);
  serverSocket.write(serverFrame(8, Buffer.from([0x03, 0xe8])));
  assert.equal(await closed, undefined, 'a clean close');
  srv.close();
});

test('a frame over the size bound ends the connection with an error', { timeout: 10000 }, async () => {
  const srv = await server((socket) => {
    const head = Buffer.alloc(10);
    head[0] = 0x81;
    head[1] = 127;
    head.writeBigUInt64BE(1n << 40n, 2);
    socket.write(head);
  });
  const ws = await websocket.connect(srv.url, { maxMessageBytes: 1024 });
  const error = await new Promise((resolve) => (ws.onClose = resolve));
  assert.match(String(error), /over the 1024 limit/);
  srv.close();
});

test('a wrong accept key or a plain HTTP answer is refused', { timeout: 10000 }, async () => {
  const wrong = await server(() => {}, { accept: 'not-the-key' });
  await assert.rejects(websocket.connect(wrong.url), /accept key is wrong/);
  wrong.close();
  const plain = http.createServer((_, res) => res.writeHead(404).end());
  await new Promise((resolve) => plain.listen(0, '127.0.0.1', resolve));
  await assert.rejects(websocket.connect(`ws://127.0.0.1:${plain.address().port}/`), /HTTP 404/);
  plain.close();
});
