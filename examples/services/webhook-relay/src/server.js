import { createRelay } from './relay.js';

const port = Number(process.env.PORT ?? 8080);
const server = createRelay({ secret: process.env.WEBHOOK_SECRET, targetUrl: process.env.RELAY_TARGET_URL });
server.listen(port, () =>
  console.log(JSON.stringify({ level: 'info', message: `webhook-relay listening on ${port}` })),
);
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
