import { resolve } from 'node:path';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const appRoot = import.meta.dirname;

// The gateway serves the built files under /review/ and the GraphQL API on /graphql, same origin.
// The dev server (`vite`) forwards /graphql to a running gateway, by default the one `npm start` opens.
export default defineConfig({
  root: appRoot,
  base: '/review/',
  plugins: [react()],
  build: {
    outDir: resolve(appRoot, '../../dist/reviewer-web'),
    emptyOutDir: true,
  },
  server: {
    proxy: {
      '/graphql': { target: process.env.WARDEN_GATEWAY_URL ?? 'http://127.0.0.1:3000', ws: true },
    },
  },
});
