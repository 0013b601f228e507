import why from 'why-is-node-running';
import { runDemo } from './src/demo.ts';

await runDemo({ port: 0, host: '127.0.0.1', once: true });
setTimeout(() => {
  why();
  process.exit(0);
}, 500).unref();
