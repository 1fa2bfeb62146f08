import * as pulumi from "@pulumi/pulumi";
import { EMULATED_ACCOUNT_ID, ProviderEmulation } from "../../harness/emulation";

export interface RecordedResource {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  /** Resource options the engine saw (protect etc. are not exposed by mocks; see `custom`). */
  custom: boolean;
}

/**
 * Mocks that record every resource the program asks for and answer with placeholder outputs. These
 * prove what was *asked*; the provider emulation (harness/emulation) turns asks into real certs.
 */
export interface RecordingMocksOptions {
  /** What aws.getCallerIdentity answers as `arn` (default: the emulation's IAM user). */
  callerArn?: string;
  /** What StackReference reads see: deployed stacks' outputs by fully qualified name. */
  stackOutputs?: Record<string, Record<string, unknown>>;
  /** Secrets that already exist in the account (aws.secretsmanager.getSecrets answers them by name prefix). */
  existingSecretArns?: string[];
  /** What aws.getPartition / getRegion / getServicePrincipal answer (default: the aws partition, us-east-1). */
  partition?: { partition: string; dnsSuffix: string; region: string };
}

export class RecordingMocks implements pulumi.runtime.Mocks {
  readonly resources: RecordedResource[] = [];
  /** Every function call the program made, by token. */
  readonly calls: pulumi.runtime.MockCallArgs[] = [];
  /** aws/kubernetes resources and function calls get the emulation's deterministic ids and ARNs. */
  private readonly generic: ProviderEmulation;

  /** `stackOutputs`: what StackReference reads see (deployed stacks by fully qualified name). */
  constructor(private readonly options: RecordingMocksOptions = {}) {
    this.generic = new ProviderEmulation({ stackOutputs: options.stackOutputs });
  }

  newResource(args: pulumi.runtime.MockResourceArgs): pulumi.runtime.MockResourceResult {
    this.resources.push({
      type: args.type,
      name: args.name,
      inputs: args.inputs,
      custom: args.custom ?? true,
    });
    if (!args.type.startsWith("tls:") && !args.type.startsWith("random:")) {
      const made = this.generic.newResource(args);
      const p = this.options.partition;
      // The emulation speaks the aws partition: ARNs it makes move to the one asked for.
      if (p && typeof made.state?.arn === "string")
        made.state.arn = made.state.arn.replace(/^arn:aws:/, `arn:${p.partition}:`);
      return made;
    }
    const state: Record<string, unknown> = { ...args.inputs };
    switch (args.type) {
      case "tls:index/privateKey:PrivateKey":
        state.privateKeyPem = `-----BEGIN PRIVATE KEY-----\n${args.name}\n-----END PRIVATE KEY-----\n`;
        state.publicKeyPem = `-----BEGIN PUBLIC KEY-----\n${Buffer.from(args.name).toString("base64")}\n-----END PUBLIC KEY-----\n`;
        break;
      case "tls:index/selfSignedCert:SelfSignedCert":
      case "tls:index/locallySignedCert:LocallySignedCert":
        state.certPem = `-----BEGIN CERTIFICATE-----\n${args.name}\n-----END CERTIFICATE-----\n`;
        state.validityEndTime = "2030-01-01T00:00:00Z";
        break;
      case "tls:index/certRequest:CertRequest":
        state.certRequestPem = `-----BEGIN CERTIFICATE REQUEST-----\n${args.name}\n-----END CERTIFICATE REQUEST-----\n`;
        break;
      case "random:index/randomBytes:RandomBytes":
        state.base64 = Buffer.alloc(Number(args.inputs.length), args.name.length).toString("base64");
        break;
    }
    return { id: `${args.name}-id`, state };
  }

  call(args: pulumi.runtime.MockCallArgs): pulumi.runtime.MockCallResult {
    this.calls.push(args);
    const result = this.generic.call(args);
    switch (args.token) {
      case "aws:index/getCallerIdentity:getCallerIdentity":
        return this.options.callerArn ? { ...result, arn: this.options.callerArn } : result;
      case "aws:iam/getSessionContext:getSessionContext": {
        // arn:aws:sts::<account>:assumed-role/<role>/<session> → the role's ARN, as the data source answers.
        const m = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/(.+)$/.exec(
          String(args.inputs.arn),
        );
        if (!m) return { arn: args.inputs.arn, issuerArn: args.inputs.arn };
        return {
          arn: args.inputs.arn,
          issuerArn: `arn:${m[1]}:iam::${m[2]}:role/${m[3]}`,
          sessionName: m[4],
        };
      }
      case "aws:iam/getRole:getRole":
        return { ...result, arn: `arn:aws:iam::${EMULATED_ACCOUNT_ID}:role/${String(args.inputs.name)}` };
      case "aws:secretsmanager/getSecrets:getSecrets": {
        // ListSecrets' name filter: every value is a name prefix.
        const values = ((args.inputs.filters as { values?: string[] }[] | undefined) ?? []).flatMap(
          (f) => f.values ?? [],
        );
        const arns = (this.options.existingSecretArns ?? []).filter((a) =>
          values.some((v) => a.split(":secret:")[1]?.startsWith(v)),
        );
        return { ...result, arns };
      }
      case "aws:index/getPartition:getPartition": {
        const p = this.options.partition;
        return p ? { ...result, partition: p.partition, dnsSuffix: p.dnsSuffix, id: p.partition } : result;
      }
      case "aws:index/getRegion:getRegion": {
        const p = this.options.partition;
        return p ? { ...result, name: p.region, region: p.region, id: p.region } : result;
      }
      case "aws:index/getServicePrincipal:getServicePrincipal": {
        const p = this.options.partition;
        return p
          ? { ...result, name: `${String(args.inputs.serviceName)}.${p.dnsSuffix}`, suffix: p.dnsSuffix }
          : result;
      }
      default:
        return result;
    }
  }

  ofType(type: string): RecordedResource[] {
    return this.resources.filter((r) => r.type === type);
  }

  named(name: string): RecordedResource {
    const r = this.resources.find((x) => x.name === name);
    if (!r)
      throw new Error(`no resource named ${name}; have: ${this.resources.map((x) => x.name).join(", ")}`);
    return r;
  }
}

/**
 * What the real AWS provider answers that the generic emulation does not: a secret's ARN carries
 * `:secret:<name>-<6 random characters>` (and is its id); IAM resources get their (auto)name.
 */
/** Resolves an Output's value and secret-ness (the test-side view of what a stack would export). */
export async function resolveOutput<T>(o: pulumi.Input<T>): Promise<{ value: T; secret: boolean }> {
  const out = pulumi.output(o);
  const [value, secret] = await Promise.all([
    new Promise<T>((resolve) => out.apply((v) => resolve(v as T))),
    pulumi.isSecret(out),
  ]);
  return { value, secret };
}

export const valueOf = async <T>(o: pulumi.Input<T>): Promise<T> => (await resolveOutput(o)).value;
