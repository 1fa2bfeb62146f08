/** Pulumi type tokens of the AWS resources the pack judges (from @pulumi/aws 7's `__pulumiType`). */
export const aws = {
  bucket: "aws:s3/bucket:Bucket",
  sse: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
  publicAccessBlock: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
  versioning: "aws:s3/bucketVersioning:BucketVersioning",
  bucketPolicy: "aws:s3/bucketPolicy:BucketPolicy",
  kmsKey: "aws:kms/key:Key",
  secret: "aws:secretsmanager/secret:Secret",
  secretVersion: "aws:secretsmanager/secretVersion:SecretVersion",
  secretPolicy: "aws:secretsmanager/secretPolicy:SecretPolicy",
} as const;

/** AWS-managed keys (`alias/aws/s3`, `alias/aws/secretsmanager`, …): not customer-managed, no key policy of ours. */
export const isAwsManagedKey = (keyId: string) => /(^|:)alias\/aws\//.test(keyId);
