/**
 * The Secrets Manager side of the node bootstrap, on moto with IAM enforcement on: the node bundles' KMS
 * key and secrets, and per member an IAM role carrying the node policy the package renders
 * (`secretReadPolicy`, the stack's `nodeSecretPolicyJson`), whose credentials come from moto's STS
 * AssumeRole. The bootstrap runs with exactly those credentials, so moto's IAM evaluation decides what
 * each node may read. Writes come from the deployer, or from an "intruder": a principal of the account
 * with write rights on every secret (issue 18's way around the store), for the drills that prove the node
 * refuses what it writes.
 *
 * What moto does not evaluate (DESIGN.md): resource policies (the member secrets' policy that admits only
 * the deployer as writer), KMS key policies and the kms:Decrypt statement of the node policy (moto's
 * GetSecretValue never calls KMS). moto authorizes Secrets Manager calls against the secret's ARN only
 * through harness/motoSecretsByArn.py. EC2 hands a node its role's credentials through the instance
 * metadata service; here a stand-in user per member (the only principal the role trusts) assumes it.
 */
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from "@aws-sdk/client-secrets-manager";
import { CreateKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { CreateRoleCommand, IAMClient, PutRolePolicyCommand } from "@aws-sdk/client-iam";
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { secretReadPolicy } from "../components/secretStore/policies";
import { startFaultProxy, type FaultProxy } from "./faultProxy";
import { motoAccountId, motoUserWithPolicy, startMoto, type AwsCredentials, type MotoServer } from "./moto";

export type Writer = "deployer" | "intruder";

export interface MemberSecret {
  member: string;
  secretId: string;
  secretArn: string;
  roleArn: string;
  /** The node policy on the role, as the package renders it. */
  policyJson: string;
  /** The role's session credentials (STS AssumeRole). */
  credentials: AwsCredentials;
}

export interface NodeSecretsOnMoto {
  moto: MotoServer;
  /** The fault proxy in front of moto: the endpoint the bootstrap uses. */
  proxy: FaultProxy;
  region: string;
  kmsKeyArn: string;
  /**
   * A node of `member`: its secret (with a first value unless `undefined`), its own role carrying the node
   * policy for that secret, and the role's credentials. Nodes are told apart by secret.
   */
  addNode(member: string, secretId: string, firstValue?: string): Promise<MemberSecret>;
  node(secretId: string): MemberSecret;
  /** PutSecretValue as `as`: the new version becomes AWSCURRENT. Returns its VersionId. */
  put(secretId: string, value: string, as?: Writer): Promise<string>;
  /** UpdateSecretVersionStage: moves AWSCURRENT to `versionId` (a rollback needs no KMS right). */
  restage(secretId: string, versionId: string, as?: Writer): Promise<void>;
  current(secretId: string): Promise<{ versionId: string; value: string }>;
  /** Environment for the bootstrap's AWS CLI: that node's role credentials, nothing from this machine. */
  nodeEnv(secretId: string): Record<string, string>;
  /** Environment with the deployer's credentials (a node whose role does not exist yet). */
  deployerEnv(): Record<string, string>;
  stop(): Promise<void>;
}

const policy = (statement: object[]) => JSON.stringify({ Version: "2012-10-17", Statement: statement });
const arnOf = (kind: "user" | "role", name: string) => `arn:aws:iam::${motoAccountId}:${kind}/${name}`;

/** Starts moto (with Secrets Manager authorized by ARN), a fault proxy, the deployer and the intruder. */
export async function startNodeSecretsOnMoto(o: {
  workDir: string;
  region?: string;
}): Promise<NodeSecretsOnMoto> {
  const moto = await startMoto({ workDir: o.workDir, region: o.region, secretsByArn: true });
  try {
    return await setUp(moto);
  } catch (e) {
    await moto.stop();
    throw e;
  }
}

async function setUp(moto: MotoServer): Promise<NodeSecretsOnMoto> {
  const region = moto.region;
  const rootIam = new IAMClient(moto.clientConfig());
  const user = (name: string, statement: object[]) => motoUserWithPolicy(rootIam, name, policy(statement));
  const deployer = await user("secure-etcd-deployer", [{ Effect: "Allow", Action: "*", Resource: "*" }]);
  const intruder = await user("account-admin", [
    {
      Effect: "Allow",
      Action: [
        "secretsmanager:PutSecretValue",
        "secretsmanager:UpdateSecretVersionStage",
        "secretsmanager:GetSecretValue",
      ],
      Resource: "*",
    },
  ]);
  // From here on every call is signed and checked against the caller's identity policies.
  await moto.enforceIam(0);
  const as = (w: Writer) => moto.clientConfig(w === "deployer" ? deployer : intruder);
  const sm = (w: Writer) => new SecretsManagerClient({ ...as(w), maxAttempts: 1 });
  const iam = new IAMClient(as("deployer"));
  const kmsKeyArn = (await new KMSClient(as("deployer")).send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
  const proxy = await startFaultProxy(moto.endpoint, moto.host);
  const nodes = new Map<string, MemberSecret>();
  const cliEnv = (c: AwsCredentials) => ({ ...moto.env(c), AWS_ENDPOINT_URL: proxy.url });

  const self: NodeSecretsOnMoto = {
    moto,
    proxy,
    region,
    kmsKeyArn,
    async addNode(member, secretId, firstValue) {
      const secret = await sm("deployer").send(
        new CreateSecretCommand({ Name: secretId, KmsKeyId: kmsKeyArn, SecretString: firstValue }),
      );
      const n = nodes.size + 1;
      const instance = `instance-${n}-${member}`;
      const roleName = `secure-etcd-node-${n}-${member}`;
      const roleArn = arnOf("role", roleName);
      const key = await motoUserWithPolicy(
        iam,
        instance,
        policy([{ Effect: "Allow", Action: "sts:AssumeRole", Resource: roleArn }]),
        "assume-node-role",
      );
      await iam.send(
        new CreateRoleCommand({
          RoleName: roleName,
          AssumeRolePolicyDocument: policy([
            { Effect: "Allow", Principal: { AWS: arnOf("user", instance) }, Action: "sts:AssumeRole" },
          ]),
        }),
      );
      const policyJson = JSON.stringify(
        secretReadPolicy({ secretArn: secret.ARN!, kmsKeyArn, region, dnsSuffix: "amazonaws.com" }),
      );
      await iam.send(
        new PutRolePolicyCommand({
          RoleName: roleName,
          PolicyName: "node-secret",
          PolicyDocument: policyJson,
        }),
      );
      const sts = new STSClient(moto.clientConfig(key));
      const c = (await sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: member })))
        .Credentials!;
      const m: MemberSecret = {
        member,
        secretId,
        secretArn: secret.ARN!,
        roleArn,
        policyJson,
        credentials: {
          accessKeyId: c.AccessKeyId!,
          secretAccessKey: c.SecretAccessKey!,
          sessionToken: c.SessionToken,
        },
      };
      nodes.set(secretId, m);
      return m;
    },
    node(secretId) {
      const m = nodes.get(secretId);
      if (!m) throw new Error(`no node with secret ${secretId} on moto`);
      return m;
    },
    async put(secretId, value, w = "deployer") {
      const r = await sm(w).send(new PutSecretValueCommand({ SecretId: secretId, SecretString: value }));
      return r.VersionId!;
    },
    async restage(secretId, versionId, w = "deployer") {
      const now = await self.current(secretId);
      await sm(w).send(
        new UpdateSecretVersionStageCommand({
          SecretId: secretId,
          VersionStage: "AWSCURRENT",
          MoveToVersionId: versionId,
          RemoveFromVersionId: now.versionId,
        }),
      );
    },
    async current(secretId) {
      const r = await sm("deployer").send(new GetSecretValueCommand({ SecretId: secretId }));
      return { versionId: r.VersionId!, value: r.SecretString! };
    },
    nodeEnv: (secretId) => cliEnv(self.node(secretId).credentials),
    deployerEnv: () => cliEnv(deployer),
    async stop() {
      await proxy.stop();
      await moto.stop();
    },
  };
  return self;
}
