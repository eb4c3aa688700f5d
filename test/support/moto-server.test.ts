import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startMoto, type MotoServer } from './moto-server';

let moto: MotoServer;
beforeAll(async () => {
  moto = await startMoto();
});
afterAll(async () => {
  await moto.stop();
});

test('moto serves S3 over HTTP and honours If-None-Match create-only writes', async () => {
  const s3 = new S3Client(moto.clientConfig);
  await s3.send(new CreateBucketCommand({ Bucket: 'probe' }));
  await s3.send(new PutObjectCommand({ Bucket: 'probe', Key: 'k', Body: 'one', IfNoneMatch: '*' }));
  await expect(
    s3.send(new PutObjectCommand({ Bucket: 'probe', Key: 'k', Body: 'two', IfNoneMatch: '*' })),
  ).rejects.toMatchObject({ $metadata: { httpStatusCode: 412 } });
  const body = await (
    await s3.send(new GetObjectCommand({ Bucket: 'probe', Key: 'k' }))
  ).Body!.transformToString();
  expect(body).toBe('one');
});
