import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request that a witness server received. */
export interface WitnessRequest {
  method: string;
  contentType: string | undefined;
  body: string;
}

/** An HTTP witness on 127.0.0.1 that records every request and responds with a fixed status. */
export interface WitnessServer {
  url: string;
  requests: WitnessRequest[];
  close(): Promise<void>;
}

/** Starts a witness server on a free port of 127.0.0.1 that responds to every request with `status`. */
export async function startWitnessServer(status: number): Promise<WitnessServer> {
  const requests: WitnessRequest[] = [];
  const server: Server = createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      requests.push({ method: request.method ?? '', contentType: request.headers['content-type'], body });
      response.writeHead(status, { 'content-type': 'text/plain' });
      response.end(status < 300 ? 'ok' : 'witness unavailable');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/checkpoints`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
