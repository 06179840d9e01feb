'use strict';
// A small WebSocket client (RFC 6455) on Node's own http/https, for JSON-RPC
// subscriptions: text messages in and out, pings answered, fragments joined, a bound on
// message size. Node 20 has no WebSocket client of its own without a flag, and an SDK
// installed from its folder (`npm install ./sdk/js`, a link) gets no dependencies.

const crypto = require('node:crypto');
const http = require('node:http');
const https = require('node:https');

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const OP = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 };

function frame(op, payload) {
  const mask = crypto.randomBytes(4);
  const length = payload.length;
  const head = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const out = Buffer.alloc(head + 4 + length);
  out[0] = 0x80 | op;
  if (length < 126) {
    out[1] = 0x80 | length;
  } else if (length < 65536) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(length, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeBigUInt64BE(BigInt(length), 2);
  }
  mask.copy(out, head);
  for (let i = 0; i < length; i++) out[head + 4 + i] = payload[i] ^ mask[i & 3];
  return out;
}

/**
 * Opens `url` (ws:// or wss://). Resolves to {send(text), close(), onMessage, onClose}
 * once the server accepted the upgrade; `onMessage(text)` is called for each text
 * message, `onClose(error?)` once when the connection ends.
 */
function connect(url, { maxMessageBytes = 64 * 1024 * 1024, timeoutMs = 30000 } = {}) {
  const target = new URL(url);
  const secure = target.protocol === 'wss:';
  const key = crypto.randomBytes(16).toString('base64');
  const request = (secure ? https : http).request({
    host: target.hostname,
    port: target.port || (secure ? 443 : 80),
    path: `${target.pathname}${target.search}`,
    headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Key': key, 'Sec-WebSocket-Version': '13' },
    timeout: timeoutMs,
  });
  return new Promise((resolve, reject) => {
    request.once('timeout', () => request.destroy(new Error(`WebSocket ${url}: no answer within ${timeoutMs} ms`)));
    request.once('error', reject);
    request.once('response', (response) => {
      response.resume();
      reject(new Error(`WebSocket ${url}: the server answered HTTP ${response.statusCode}, not an upgrade`));
    });
    request.once('upgrade', (response, socket, head) => {
      const accept = crypto.createHash('sha1').update(key + GUID).digest('base64');
      if (response.headers['sec-websocket-accept'] !== accept) {
        socket.destroy();
        reject(new Error(`WebSocket ${url}: the server's accept key is wrong`));
        return;
      }
      socket.setTimeout(0);
      socket.setNoDelay(true);
      resolve(open(socket, head, maxMessageBytes));
    });
    request.end();
  });
}

function open(socket, head, maxMessageBytes) {
  let buffer = head && head.length ? Buffer.from(head) : Buffer.alloc(0);
  let fragments = [];
  let fragmentBytes = 0;
  let closed = false;
  const ws = {
    onMessage: () => {},
    onClose: () => {},
    send(text) {
      if (!closed) socket.write(frame(OP.text, Buffer.from(text, 'utf8')));
    },
    close() {
      if (closed) return;
      socket.write(frame(OP.close, Buffer.from([0x03, 0xe8])));
      socket.end();
      finish();
    },
  };
  const finish = (error) => {
    if (closed) return;
    closed = true;
    ws.onClose(error);
  };
  const fail = (why) => {
    socket.destroy();
    finish(new Error(`WebSocket: ${why}`));
  };
  const consume = (chunk) => {
    buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
    while (!closed && buffer.length >= 2) {
      const fin = (buffer[0] & 0x80) !== 0;
      const op = buffer[0] & 0x0f;
      const masked = (buffer[1] & 0x80) !== 0;
      let length = buffer[1] & 0x7f;
      let at = 2;
      if (length === 126) {
        if (buffer.length < 4) return;
        length = buffer.readUInt16BE(2);
        at = 4;
      } else if (length === 127) {
        if (buffer.length < 10) return;
        const long = buffer.readBigUInt64BE(2);
        if (long > BigInt(maxMessageBytes)) return fail(`a frame of ${long} bytes is over the ${maxMessageBytes} limit`);
        length = Number(long);
        at = 10;
      }
      if (length > maxMessageBytes) return fail(`a frame of ${length} bytes is over the ${maxMessageBytes} limit`);
      const maskAt = at;
      if (masked) at += 4;
      if (buffer.length < at + length) return;
      const payload = Buffer.from(buffer.subarray(at, at + length));
      if (masked) for (let i = 0; i < length; i++) payload[i] ^= buffer[maskAt + (i & 3)];
      buffer = buffer.subarray(at + length);
      if (op === OP.ping) {
        socket.write(frame(OP.pong, payload));
      } else if (op === OP.close) {
        socket.end(frame(OP.close, payload.subarray(0, 2)));
        finish();
      } else if (op === OP.text || op === OP.binary || op === OP.continuation) {
        if (op !== OP.continuation) {
          fragments = [];
          fragmentBytes = 0;
        }
        fragments.push(payload);
        fragmentBytes += payload.length;
        if (fragmentBytes > maxMessageBytes) return fail(`a message over the ${maxMessageBytes} byte limit`);
        if (fin) {
          const message = Buffer.concat(fragments).toString('utf8');
          fragments = [];
          fragmentBytes = 0;
          ws.onMessage(message);
        }
      } else if (op !== OP.pong) {
        return fail(`unknown frame opcode ${op}`);
      }
    }
  };
  socket.on('data', consume);
  // Bytes that came with the upgrade answer: read once the caller has set its handlers.
  if (buffer.length) setImmediate(() => consume(Buffer.alloc(0)));
  socket.on('error', (e) => finish(e));
  socket.on('close', () => finish());
  return ws;
}

module.exports = { connect, frame };
