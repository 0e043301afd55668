import assert from 'node:assert/strict';
import { it } from 'node:test';
import {
  LocalFolderStore,
  S3ObjectStore,
  describeS3Error,
  openStore,
  parseStoreUrl,
  s3StoreConfigFromEnv,
} from '../../../core/store/index.ts';

it('parseStoreUrl: s3 URLs, file URLs and plain paths', () => {
  assert.deepEqual(parseStoreUrl('s3://my-bucket/team/runs/'), {
    kind: 's3',
    bucket: 'my-bucket',
    prefix: 'team/runs',
  });
  assert.deepEqual(parseStoreUrl('s3://my-bucket'), { kind: 's3', bucket: 'my-bucket', prefix: '' });
  assert.deepEqual(parseStoreUrl('file:///data/store'), { kind: 'local', root: '/data/store' });
  assert.deepEqual(parseStoreUrl('store', '/work'), { kind: 'local', root: '/work/store' });
  assert.throws(() => parseStoreUrl('s3://My_Bucket/x'), /store URL s3:\/\/My_Bucket\/x: bucket must be/);
  assert.throws(() => parseStoreUrl('gs://b/x'), /unsupported scheme/);
});

it('s3StoreConfigFromEnv: REASONLOOP_S3_* wins over AWS_*; path style is explicit', () => {
  const config = s3StoreConfigFromEnv('b', 'p', {
    REASONLOOP_S3_ENDPOINT: 'http://127.0.0.1:7070',
    AWS_ENDPOINT_URL: 'http://ignored:1',
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'AK',
    AWS_SECRET_ACCESS_KEY: 'SK',
    REASONLOOP_S3_FORCE_PATH_STYLE: 'false',
  });
  assert.deepEqual(config, {
    bucket: 'b',
    prefix: 'p',
    endpoint: 'http://127.0.0.1:7070',
    region: 'eu-west-1',
    accessKeyId: 'AK',
    secretAccessKey: 'SK',
    forcePathStyle: false,
  });
  assert.throws(() => s3StoreConfigFromEnv('b', '', { AWS_ACCESS_KEY_ID: 'AK' }), /set both/);
  assert.throws(
    () => s3StoreConfigFromEnv('b', '', { REASONLOOP_S3_FORCE_PATH_STYLE: 'maybe' }),
    /must be true or false/,
  );
});

it('openStore picks the implementation from the URL', () => {
  assert.ok(openStore('/tmp/x', {}) instanceof LocalFolderStore);
  const s3 = openStore('s3://bucket-a/pre', { REASONLOOP_S3_ENDPOINT: 'http://127.0.0.1:9' });
  assert.ok(s3 instanceof S3ObjectStore);
  assert.equal(s3.location, 's3://bucket-a/pre (http://127.0.0.1:9)');
  (s3 as S3ObjectStore).destroy();
});

it('describeS3Error: unreachable, refused credentials, missing bucket', () => {
  const where = {
    operation: 'HeadBucket',
    key: '',
    location: 's3://b (http://127.0.0.1:9)',
    config: { bucket: 'b', endpoint: 'http://127.0.0.1:9', accessKeyId: 'AK' },
  };
  const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
  assert.equal(
    describeS3Error(new AggregateError([refused]), where),
    'S3 endpoint http://127.0.0.1:9 is unreachable (ECONNREFUSED) during HeadBucket on s3://b (http://127.0.0.1:9)',
  );
  const badKey = Object.assign(new Error('denied'), {
    name: 'InvalidAccessKeyId',
    $metadata: { httpStatusCode: 403 },
  });
  assert.match(
    describeS3Error(badKey, where),
    /refused the credentials for access key AK during HeadBucket: InvalidAccessKeyId/,
  );
  const noBucket = Object.assign(new Error(''), { name: 'NotFound', $metadata: { httpStatusCode: 404 } });
  assert.equal(describeS3Error(noBucket, where), 'S3 bucket b does not exist at s3://b (http://127.0.0.1:9)');
});
