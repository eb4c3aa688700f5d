/**
 * CloudFront standard log files (legacy standard logging) as CloudFront writes them: gzip, a
 * `#Version: 1.0` line, the `#Fields:` line with the 33 fields of "Standard logging reference >
 * Log file fields" in their documented order, then one tab-separated line per request (absent
 * values are `-`, the user agent URL-encoded). The sample values follow the reference's example.
 */
import { gzipSync } from 'node:zlib';

export const FIELDS = [
  'date',
  'time',
  'x-edge-location',
  'sc-bytes',
  'c-ip',
  'cs-method',
  'cs(Host)',
  'cs-uri-stem',
  'sc-status',
  'cs(Referer)',
  'cs(User-Agent)',
  'cs-uri-query',
  'cs(Cookie)',
  'x-edge-result-type',
  'x-edge-request-id',
  'x-host-header',
  'cs-protocol',
  'cs-bytes',
  'time-taken',
  'x-forwarded-for',
  'ssl-protocol',
  'ssl-cipher',
  'x-edge-response-result-type',
  'cs-protocol-version',
  'fle-status',
  'fle-encrypted-fields',
  'c-port',
  'time-to-first-byte',
  'x-edge-detailed-result-type',
  'sc-content-type',
  'sc-content-len',
  'sc-range-start',
  'sc-range-end',
] as const;

export const HEADER = `#Version: 1.0\n#Fields: ${FIELDS.join(' ')}\n`;

export interface RequestLine {
  readonly path: string;
  readonly date?: string;
  readonly method?: string;
  readonly status?: number;
  /** `sc-range-start`/`sc-range-end` of a ranged response. */
  readonly range?: readonly [number, number];
}

export function requestLine(request: RequestLine): string {
  const values: Record<(typeof FIELDS)[number], string> = {
    date: request.date ?? '2026-12-03',
    time: '21:02:31',
    'x-edge-location': 'LAX1-C1',
    'sc-bytes': '14211840',
    'c-ip': '192.0.2.100',
    'cs-method': request.method ?? 'GET',
    'cs(Host)': 'd111111abcdef8.cloudfront.net',
    'cs-uri-stem': request.path,
    'sc-status': String(request.status ?? 200),
    'cs(Referer)': '-',
    'cs(User-Agent)': 'watchy-loader/1.0%20(Lambda;%20provided.al2023)',
    'cs-uri-query': '-',
    'cs(Cookie)': '-',
    'x-edge-result-type': 'Hit',
    'x-edge-request-id': 'SOX4xwn4XV6Q4rgb7XiVGOHms_BGlTAC4KyHmureZmBNrjGdRLiNIQ==',
    'x-host-header': 'd111111abcdef8.cloudfront.net',
    'cs-protocol': 'https',
    'cs-bytes': '23',
    'time-taken': '0.001',
    'x-forwarded-for': '-',
    'ssl-protocol': 'TLSv1.3',
    'ssl-cipher': 'TLS_AES_128_GCM_SHA256',
    'x-edge-response-result-type': 'Hit',
    'cs-protocol-version': 'HTTP/2.0',
    'fle-status': '-',
    'fle-encrypted-fields': '-',
    'c-port': '11040',
    'time-to-first-byte': '0.001',
    'x-edge-detailed-result-type': 'Hit',
    'sc-content-type': 'application/gzip',
    'sc-content-len': '14211584',
    'sc-range-start': request.range ? String(request.range[0]) : '-',
    'sc-range-end': request.range ? String(request.range[1]) : '-',
  };
  return FIELDS.map((f) => values[f]).join('\t');
}

export function logText(requests: readonly (RequestLine | string)[]): string {
  return HEADER + requests.map((r) => (typeof r === 'string' ? r : requestLine(r))).join('\n') + '\n';
}

export function logFile(requests: readonly (RequestLine | string)[]): Buffer {
  return gzipSync(logText(requests));
}

/** A CloudFront log object key: `{prefix}{distribution id}.{YYYY-MM-DD-HH}.{unique id}.gz`. */
export function logKey(unique: string, hour = '2026-12-03-21'): string {
  return `cloudfront/E2EXAMPLE1ABCDE.${hour}.${unique}.gz`;
}

/** S3's EventBridge "Object Created" event (S3 User Guide, "EventBridge event message structure"). */
export function objectCreatedEvent(bucket: string, key: string, size: number) {
  return {
    version: '0',
    id: '17793124-05d4-b198-2fde-7ededc63b103',
    'detail-type': 'Object Created',
    source: 'aws.s3',
    account: '123456789012',
    time: '2026-12-03T22:00:00Z',
    region: 'us-east-1',
    resources: [`arn:aws:s3:::${bucket}`],
    detail: {
      version: '0',
      bucket: { name: bucket },
      object: { key, size, etag: 'b1946ac92492d2347c6235b4d2611184', sequencer: '617f08299329d189' },
      'request-id': 'N4N7GDK58NMKJ12R',
      requester: '123456789012',
      'source-ip-address': '1.2.3.4',
      reason: 'PutObject',
    },
  };
}
