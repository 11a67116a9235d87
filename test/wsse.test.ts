import { wsseDigest, wsseHeader } from '../srv/upstream/wsse';

describe('WSSE', () => {
  test('digest matches the known vector', () => {
    const digest = wsseDigest('0123456789abcdef0123456789abcdef', '2024-01-01T12:00:00Z', 'example-secret');
    expect(digest).toBe('YTE4MzU5N2RjYjE3MGY4YzIyNzMxY2EyNWVjOWY4YjVhZDVhNzY0NA==');
  });

  test('digest is not the raw SHA-1 variant', () => {
    const digest = wsseDigest('0123456789abcdef0123456789abcdef', '2024-01-01T12:00:00Z', 'example-secret');
    expect(digest).not.toBe('oYNZfcsXD4wicxyiXsn4ta1adkQ=');
  });

  test('header carries UTC Created without milliseconds', () => {
    const header = wsseHeader('account001', 'example-secret', new Date('2024-01-01T12:00:00.456Z'), '0123456789abcdef0123456789abcdef');
    expect(header).toBe('UsernameToken Username="account001", PasswordDigest="YTE4MzU5N2RjYjE3MGY4YzIyNzMxY2EyNWVjOWY4YjVhZDVhNzY0NA==", Nonce="0123456789abcdef0123456789abcdef", Created="2024-01-01T12:00:00Z"');
  });

  test('every header gets a new nonce', () => {
    const nonces = new Set(Array.from({ length: 50 }, () => /Nonce="([0-9a-f]{32})"/.exec(wsseHeader('u', 's'))?.[1]));
    expect(nonces.size).toBe(50);
  });
});
