import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, type ConfigProblem } from "../../config/errors";
import { show } from "../../config/fields";
import type { SnapshotAccessLogging, SnapshotStoreArgs } from "./args";
import type { StoreContext } from "./context";

/*
 * Server access logging of the snapshot bucket. The target is checked twice: at construction against
 * the names already known (plain strings), and again when the bucket's real name resolves.
 */

const PATH = "accessLogging.targetBucket";

function selfTargetProblem(bucket: string, locked: boolean): ConfigProblem {
  return {
    path: PATH,
    message: locked
      ? `${show(bucket)} is the snapshot bucket itself: objectLock is set, and S3 cannot deliver server ` +
        "access logs into a bucket with Object Lock. Point accessLogging.targetBucket at a separate log " +
        "bucket without Object Lock."
      : `${show(bucket)} is the snapshot bucket itself: logging a bucket into itself logs its own log ` +
        "deliveries forever. Use a separate log bucket.",
  };
}

function knownTargetProblem(args: SnapshotStoreArgs, target: string): ConfigProblem | undefined {
  if (target.trim() === "") return { path: PATH, message: `${show(target)} is empty; expected a log bucket` };
  if (args.bucketName !== undefined && target === args.bucketName)
    return selfTargetProblem(target, args.objectLock !== undefined);
  if (args.objectLock && target === args.replication?.bucketName)
    return {
      path: PATH,
      message:
        `${show(target)} is the replica bucket: objectLock is set (the replica is locked too), and S3 ` +
        "cannot deliver server access logs into a bucket with Object Lock.",
    };
  return undefined;
}

/** Construction-time checks of accessLogging.targetBucket against the names we already know. */
export function checkAccessLoggingTarget(args: SnapshotStoreArgs, source: string): void {
  const target = args.accessLogging?.targetBucket;
  if (typeof target !== "string") return; // Outputs are checked again when they resolve.
  const problem = knownTargetProblem(args, target);
  if (problem) throw new ConfigError([problem], source);
}

/** The log target once both names resolve; a ConfigError if it is the snapshot bucket itself. */
export function resolvedLogTarget(
  ownBucket: pulumi.Input<string>,
  targetBucket: pulumi.Input<string>,
  locked: boolean,
  source: string,
): pulumi.Output<string> {
  return pulumi.all([ownBucket, targetBucket]).apply(([own, target]) => {
    if (own === target) throw new ConfigError([selfTargetProblem(own, locked)], source);
    return target;
  });
}

/** The BucketLogging resource of the snapshot bucket. */
export function createAccessLogging(
  ctx: StoreContext,
  bucket: aws.s3.Bucket,
  al: SnapshotAccessLogging,
): void {
  const locked = ctx.args.objectLock !== undefined;
  new aws.s3.BucketLogging(
    `${ctx.name}-logging`,
    {
      bucket: bucket.id,
      targetBucket: resolvedLogTarget(bucket.bucket, al.targetBucket, locked, ctx.source),
      targetPrefix: al.targetPrefix,
    },
    // Retained with the bucket, like every configuration of a retained bucket.
    { parent: ctx.parent, retainOnDelete: true },
  );
}
