import { createApp } from './app.js';

const port = Number(process.env.PORT ?? 8080);
const server = createApp({
  baseUrl: process.env.BINARY_DISTRIBUTION_URL,
  service: { service: 'status-api', revision: process.env.REVISION ?? 'unknown' },
});
server.listen(port, () =>
  console.log(JSON.stringify({ level: 'info', message: `status-api listening on ${port}` })),
);
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
