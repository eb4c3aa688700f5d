/**
 * Download counts from CloudFront standard logs, against moto over HTTP (the log bucket in S3,
 * the records table in DynamoDB): a log object's EventBridge event in, counts per release and day
 * out, exactly once; hostile and corrupt files refused whole; counts read per version.
 */
import { gzipSync } from 'node:zlib';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand, type TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import {
  countLogObject,
  DEFAULT_LOG_LIMITS,
  downloadCountsByVersion,
  recordLogCounts,
  releaseDownloadOf,
  tallyLogFile,
  type CountDeps,
} from '@core/downloads';
import { startMoto, type MotoServer } from '../../support/moto-server';
import {
  HEADER,
  logFile,
  logKey,
  logText,
  objectCreatedEvent,
  requestLine,
  type RequestLine,
} from './cloudfront-log';

const TABLE = 'watchy-records';
const BUCKET = 'watchy-access-logs';
const SLACK = '/binaries/slack-monitor/watchy-slack-monitor-1.4.0.gz';

let moto: MotoServer;
let s3: S3Client;
let doc: DynamoDBDocumentClient;
let deps: CountDeps;

beforeAll(async () => {
  moto = await startMoto();
  s3 = new S3Client(moto.clientConfig);
  doc = DynamoDBDocumentClient.from(new DynamoDBClient(moto.clientConfig));
  deps = {
    s3,
    doc,
    table: TABLE,
    logBucket: BUCKET,
    logPrefix: 'cloudfront/',
    now: () => new Date('2026-12-03T22:00:00Z'),
  };
});
afterAll(async () => {
  s3?.destroy();
  doc?.destroy();
  await moto?.stop();
});
beforeEach(async () => {
  await moto.reset();
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await new DynamoDBClient(moto.clientConfig).send(
    new CreateTableCommand({
      TableName: TABLE,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
    }),
  );
});

async function deliver(key: string, body: Buffer, options: Partial<CountDeps> = {}) {
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
  return countLogObject({ ...deps, ...options }, objectCreatedEvent(BUCKET, key, body.length));
}

/** Every download count in the table, as `service version day` → count. */
async function allCounts(): Promise<Record<string, number>> {
  const items = (await doc.send(new ScanCommand({ TableName: TABLE }))).Items ?? [];
  return Object.fromEntries(
    items
      .filter((i) => String(i['pk']).startsWith('DOWNLOADS#'))
      .map((i) => [`${i['service']} ${i['version']} ${i['day']}`, Number(i['count'])]),
  );
}

async function itemCount(): Promise<number> {
  return ((await doc.send(new ScanCommand({ TableName: TABLE }))).Items ?? []).length;
}

const MIXED: RequestLine[] = [
  { path: SLACK },
  { path: SLACK },
  { path: SLACK, date: '2026-12-04' },
  // A ranged download: its first part counts, the later parts do not.
  {
    path: '/binaries/slack-monitor-arm64/watchy-slack-monitor-arm64-1.4.0.gz',
    status: 206,
    range: [0, 1048575],
  },
  {
    path: '/binaries/slack-monitor-arm64/watchy-slack-monitor-arm64-1.4.0.gz',
    status: 206,
    range: [1048576, 2097151],
  },
  { path: '/binaries/backend-lambda-arm64/watchy-backend-lambda-arm64-0.0.0-dev.20261203175220.g6113728.gz' },
  // CloudFront URL-encodes the `+` of build metadata in cs-uri-stem.
  { path: '/binaries/zoom-monitor/watchy-zoom-monitor-2.0.0%2Bbuild.7.gz' },
  // The latest pointer's binary.
  { path: '/binaries/slack-monitor/watchy-slack-monitor.gz' },
  // Not downloads: a revalidation, a HEAD, an error, metadata, another path, a bad version.
  { path: SLACK, status: 304 },
  { path: SLACK, method: 'HEAD' },
  { path: SLACK, status: 403 },
  { path: '/binaries/slack-monitor/watchy-slack-monitor-1.4.0.json' },
  { path: '/index.html' },
  { path: '/binaries/slack-monitor/watchy-slack-monitor-1.4.gz' },
];

describe('download counts', () => {
  test('200 GETs and ranged GETs from byte 0 of release binaries count per version and day; latest counts as `latest`; 304, HEAD, errors and metadata do not', async () => {
    const outcome = await deliver(logKey('a1b2c3d4'), logFile(MIXED));
    expect(outcome).toMatchObject({
      outcome: 'counted',
      lines: MIXED.length,
      downloads: 7,
      ignored: 7,
      malformed: 0,
      chunks: 1,
    });
    expect(await allCounts()).toEqual({
      'slack-monitor 1.4.0 2026-12-03': 2,
      'slack-monitor 1.4.0 2026-12-04': 1,
      'slack-monitor latest 2026-12-03': 1,
      'slack-monitor-arm64 1.4.0 2026-12-03': 1,
      'backend-lambda-arm64 0.0.0-dev.20261203175220.g6113728 2026-12-03': 1,
      'zoom-monitor 2.0.0+build.7 2026-12-03': 1,
    });
  });

  test('the same log object delivered twice, or twice at once, adds its counts once', async () => {
    const key = logKey('e5f6a7b8');
    const body = logFile([{ path: SLACK }, { path: SLACK }]);
    expect((await deliver(key, body)).outcome).toBe('counted');
    expect((await deliver(key, body)).outcome).toBe('already-counted');
    const concurrent = logKey('c0ffee00');
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: concurrent, Body: body }));
    const event = objectCreatedEvent(BUCKET, concurrent, body.length);
    const outcomes = await Promise.all([
      countLogObject(deps, event),
      countLogObject(deps, event),
      countLogObject(deps, event),
    ]);
    expect(outcomes.map((o) => o.outcome).sort()).toEqual(['already-counted', 'already-counted', 'counted']);
    expect(await allCounts()).toEqual({ 'slack-monitor 1.4.0 2026-12-03': 4 });
  });

  test('a file with more counts than one transaction holds is written in chunks; a run cut off between chunks is completed by the redelivery, never counted twice', async () => {
    // 3 services × 40 versions × 2 days = 240 counts: three transactions of 99, 99, 42.
    const requests: RequestLine[] = [];
    for (const service of ['slack-monitor', 'github-monitor', 'zoom-monitor']) {
      for (let v = 0; v < 40; v++) {
        for (const date of ['2026-12-03', '2026-12-04']) {
          requests.push({ path: `/binaries/${service}/watchy-${service}-1.${v}.0.gz`, date });
        }
      }
    }
    const key = logKey('big00001');
    const body = logFile(requests);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
    const tally = await tallyLogFile(gzipStream(body));
    // The first run stops after its first transaction (a timeout, a throttle): the rest is not written.
    let transactions = 0;
    const cutOff = {
      send: (command: TransactWriteCommand) => {
        if (++transactions > 1) return Promise.reject(new Error('Task timed out'));
        return doc.send(command);
      },
    } as unknown as DynamoDBDocumentClient;
    await expect(recordLogCounts(cutOff, TABLE, key, tally)).rejects.toThrow('Task timed out');
    expect(Object.keys(await allCounts())).toHaveLength(99);
    const redelivered = await countLogObject(deps, objectCreatedEvent(BUCKET, key, body.length));
    expect(redelivered).toMatchObject({
      outcome: 'completed',
      chunks: 3,
      chunksWritten: 2,
      downloadsAdded: 141,
    });
    const counts = await allCounts();
    expect(Object.keys(counts)).toHaveLength(240);
    expect(new Set(Object.values(counts))).toEqual(new Set([1]));
    expect((await deliver(key, body)).outcome).toBe('already-counted');
  });

  test('counts per version of a service, with a day range (the /api query)', async () => {
    await deliver(logKey('q1'), logFile(MIXED));
    await deliver(
      logKey('q2'),
      logFile([
        { path: SLACK, date: '2026-12-05' },
        { path: '/binaries/slack-monitor/watchy-slack-monitor-1.3.9.gz' },
      ]),
    );
    const all = await downloadCountsByVersion(doc, TABLE, 'slack-monitor');
    expect(all).toEqual({
      service: 'slack-monitor',
      total: 6,
      truncated: false,
      versions: [
        { version: '1.3.9', total: 1, days: [{ day: '2026-12-03', count: 1 }] },
        {
          version: '1.4.0',
          total: 4,
          days: [
            { day: '2026-12-03', count: 2 },
            { day: '2026-12-04', count: 1 },
            { day: '2026-12-05', count: 1 },
          ],
        },
        { version: 'latest', total: 1, days: [{ day: '2026-12-03', count: 1 }] },
      ],
    });
    const range = await downloadCountsByVersion(doc, TABLE, 'slack-monitor', {
      fromDay: '2026-12-04',
      toDay: '2026-12-04',
    });
    expect(range.versions).toEqual([{ version: '1.4.0', total: 1, days: [{ day: '2026-12-04', count: 1 }] }]);
    expect((await downloadCountsByVersion(doc, TABLE, 'slack-monitor', { maxItems: 2 })).truncated).toBe(
      true,
    );
    expect((await downloadCountsByVersion(doc, TABLE, 'status-api-image')).versions).toEqual([]);
    await expect(downloadCountsByVersion(doc, TABLE, 'Slack Monitor')).rejects.toThrow(
      'invalid service name',
    );
    await expect(
      downloadCountsByVersion(doc, TABLE, 'slack-monitor', { fromDay: '03/12/2026' }),
    ).rejects.toThrow('invalid day');
  });
});

describe('hostile and corrupt log files: refused whole or skipped line by line, never counted in part', () => {
  test('lines with the wrong field count are skipped and counted as malformed; the rest of the file counts', async () => {
    const good = requestLine({ path: SLACK });
    const lines = [
      good,
      good.split('\t').slice(0, 20).join('\t'), // truncated line
      `${good}\textra`, // one field too many
      requestLine({ path: SLACK, date: '2026-13-45' }), // no such day
      requestLine({ path: '/binaries/slack-monitor/watchy-slack-monitor-%E0%A4%A.gz' }), // undecodable
      good,
    ];
    const outcome = await deliver(logKey('malformed'), logFile(lines));
    expect(outcome).toMatchObject({ outcome: 'counted', lines: 6, downloads: 2, malformed: 4 });
    expect(await allCounts()).toEqual({ 'slack-monitor 1.4.0 2026-12-03': 2 });
  });

  test('a corrupt gzip (bytes flipped, truncated, or no gzip at all) is refused and nothing is counted', async () => {
    const body = logFile(Array.from({ length: 500 }, () => ({ path: SLACK })));
    const flipped = Buffer.from(body);
    for (let i = 40; i < 80; i++) flipped[i] = flipped[i]! ^ 0xff;
    const truncated = body.subarray(0, Math.floor(body.length / 2));
    for (const [name, bytes] of [
      ['flipped', flipped],
      ['truncated', truncated],
      ['plain', Buffer.from(logText([{ path: SLACK }]))],
    ] as const) {
      expect(await deliver(logKey(name), bytes)).toMatchObject({ outcome: 'refused', reason: 'bad-gzip' });
    }
    expect(await itemCount()).toBe(0);
  });

  test('a huge file (a gzip bomb) is streamed and refused at the decompressed cap; nothing is counted', async () => {
    // 64 MiB of valid download lines compress to well under 1 MiB.
    const line = `${requestLine({ path: SLACK })}\n`;
    const bomb = gzipSync(HEADER + line.repeat(Math.ceil((64 * 1024 * 1024) / line.length)), { level: 9 });
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const limits = { ...DEFAULT_LOG_LIMITS, maxDecompressedBytes: 8 * 1024 * 1024 };
    const outcome = await deliver(logKey('bomb'), bomb, { limits });
    expect(outcome).toEqual({
      outcome: 'refused',
      key: logKey('bomb'),
      reason: 'too-large',
      message: `log file is over ${8 * 1024 * 1024} bytes decompressed`,
    });
    expect(await itemCount()).toBe(0);
  });

  test('an object over the compressed cap is refused from its size, unread', async () => {
    const limits = { ...DEFAULT_LOG_LIMITS, maxCompressedBytes: 1024 };
    const body = logFile(
      Array.from({ length: 2000 }, (_, i) => ({
        path: `/binaries/slack-monitor/watchy-slack-monitor-1.${i}.0.gz`,
      })),
    );
    expect(await deliver(logKey('big'), body, { limits })).toMatchObject({
      outcome: 'refused',
      reason: 'too-large',
    });
    // The event's size may be missing or wrong: the stream is capped as well.
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: logKey('big2'), Body: body }));
    const event = objectCreatedEvent(BUCKET, logKey('big2'), 10);
    expect(await countLogObject({ ...deps, limits }, event)).toMatchObject({
      outcome: 'refused',
      reason: 'too-large',
    });
    expect(await itemCount()).toBe(0);
  });

  test('an overlong line is skipped without being held; the lines around it count', async () => {
    const outcome = await deliver(
      logKey('overlong'),
      logFile([
        requestLine({ path: SLACK }),
        `2026-12-03\t${'A'.repeat(5 * 1024 * 1024)}`,
        requestLine({ path: SLACK }),
      ]),
    );
    expect(outcome).toMatchObject({ outcome: 'counted', downloads: 2, malformed: 1 });
  });

  test('a file with no #Fields: line, or one without the fields downloads are judged by, is refused', async () => {
    expect(await deliver(logKey('nofields'), gzipSync(requestLine({ path: SLACK })))).toMatchObject({
      outcome: 'refused',
      reason: 'not-a-log',
    });
    expect(
      await deliver(
        logKey('fewfields'),
        gzipSync('#Version: 1.0\n#Fields: date time c-ip\n2026-12-03\t21:02:31\t192.0.2.1\n'),
      ),
    ).toMatchObject({
      outcome: 'refused',
      reason: 'not-a-log',
    });
    expect(await deliver(logKey('empty'), gzipSync(''))).toMatchObject({
      outcome: 'refused',
      reason: 'not-a-log',
    });
    expect(await itemCount()).toBe(0);
  });

  test('more distinct counts than the cap is refused whole', async () => {
    const limits = { ...DEFAULT_LOG_LIMITS, maxGroups: 10 };
    const body = logFile(
      Array.from({ length: 11 }, (_, i) => ({
        path: `/binaries/slack-monitor/watchy-slack-monitor-1.${i}.0.gz`,
      })),
    );
    expect(await deliver(logKey('groups'), body, { limits })).toMatchObject({
      outcome: 'refused',
      reason: 'too-many-groups',
    });
    expect(await itemCount()).toBe(0);
  });

  test('objects of another bucket or outside cloudfront/ are skipped; a non-S3 event is an error', async () => {
    expect(await countLogObject(deps, objectCreatedEvent('other-bucket', logKey('x'), 10))).toMatchObject({
      outcome: 'skipped',
    });
    expect(
      await countLogObject(
        deps,
        objectCreatedEvent(BUCKET, 's3/watchy-releases/2026-12-03-21-00-00-ABC', 10),
      ),
    ).toMatchObject({
      outcome: 'skipped',
    });
    expect(await countLogObject(deps, objectCreatedEvent(BUCKET, logKey('gone'), 10))).toMatchObject({
      outcome: 'skipped',
    });
    await expect(countLogObject(deps, { source: 'aws.codebuild' })).rejects.toThrow(
      /^not an S3 Object Created event: /,
    );
  });
});

test('release keys: versioned and latest binaries of every artifact name; nothing else', () => {
  expect(releaseDownloadOf('/binaries/slack-monitor/watchy-slack-monitor-1.4.0.gz')).toEqual({
    service: 'slack-monitor',
    version: '1.4.0',
  });
  expect(
    releaseDownloadOf('binaries/backend-lambda-arm64/watchy-backend-lambda-arm64-2.0.0-rc.1.gz'),
  ).toEqual({
    service: 'backend-lambda-arm64',
    version: '2.0.0-rc.1',
  });
  expect(releaseDownloadOf('/binaries/ws-connect-lambda/watchy-ws-connect-lambda.gz')).toEqual({
    service: 'ws-connect-lambda',
    version: 'latest',
  });
  for (const path of [
    '/binaries/slack-monitor/watchy-slack-monitor-1.4.0.json',
    '/binaries/slack-monitor/watchy-zoom-monitor-1.4.0.gz',
    '/binaries/slack-monitor/watchy-slack-monitor-arm64.gz',
    '/binaries/slack-monitor-x86_64/watchy-slack-monitor-x86_64-1.0.0.gz',
    '/binaries/slack/watchy-slack-1.0.0.gz',
    '/binaries/slack-monitor/extra/watchy-slack-monitor-1.0.0.gz',
    '/staging/slack-monitor/watchy-slack-monitor-1.0.0.gz',
    '/binaries/../binaries/slack-monitor/watchy-slack-monitor-1.0.0.gz',
  ]) {
    expect(releaseDownloadOf(path)).toBeUndefined();
  }
});

function gzipStream(body: Buffer): AsyncIterable<Uint8Array> {
  return (async function* () {
    yield body;
  })();
}
