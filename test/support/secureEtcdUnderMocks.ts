import * as pulumi from "@pulumi/pulumi";
import { loadStackConfig, SecureEtcd, type SecureEtcdArgs } from "../../components";
import { spyOnRegistrations, type Registration } from "./registrationSpy";
import { RecordingMocks, valueOf, type RecordingMocksOptions } from "./recordingMocks";
import { readStackConfig, toPulumiConfig } from "./stackFiles";

/** A SecureEtcd built under mocks, with what the engine was told for each resource. */
export interface Built {
  mocks: RecordingMocks;
  log: Registration[];
  etcd: SecureEtcd;
  members: string[];
}

/**
 * SecureEtcd from a stack file (plus `secure-etcd:` overrides) under RecordingMocks, with every
 * registration logged (protect, retainOnDelete and secret inputs are only visible there).
 */
export async function buildSecureEtcd(
  stack: string,
  overrides: Record<string, unknown> = {},
  mockOptions: RecordingMocksOptions = {},
  resourceArgs: Pick<SecureEtcdArgs, "previousSecretStore" | "previousEncryptionKeys"> = {},
): Promise<Built> {
  const mocks = new RecordingMocks(mockOptions);
  await pulumi.runtime.setMocks(mocks, "secure-etcd", stack, false);
  const log: Registration[] = [];
  spyOnRegistrations(log);
  const config = { ...readStackConfig(stack), ...toPulumiConfig(overrides) };
  const { args, settings } = loadStackConfig(config, stack);
  const etcd = new SecureEtcd(settings.clusterName, { ...args, ...resourceArgs });
  const members = settings.members.map((m) => m.name);
  const store = etcd.secretStore;
  await valueOf(
    pulumi.all([
      etcd.nodeBundles,
      etcd.nodeUserData ?? {},
      store?.nodeSecretPolicyJson ?? {},
      store?.secretArns ?? {},
    ]),
  );
  // The versions register last (after their policies): wait until every one has reached the monitor.
  const expected = store
    ? [
        ...members.map((m) => `${settings.clusterName}-secrets-${m}-version`),
        `${settings.clusterName}-secrets-archive-version`,
      ]
    : [];
  for (let i = 0; i < 500 && !expected.every((n) => log.some((r) => r.name === n)); i++)
    await new Promise((r) => setTimeout(r, 10));
  return { mocks, log, etcd, members };
}
