import * as pulumi from "@pulumi/pulumi";
import type { DeploymentContext } from "./config/replication";
import { parseSettings, type SecureEtcdConfig, type SecureEtcdSettings } from "./config/schema";

/*
 * A member's address and extra DNS names may come from another resource (an ENI's privateIp), so they
 * are Inputs; everything that decides which resources exist stays plain. One schema validates both:
 * at construction (preview) with each value not yet known replaced by a stand-in, and once more, whole,
 * when the Inputs resolve — the same field validators, the same ConfigError messages.
 */

/** A member as the component receives it: ip and dnsNames may still be Inputs. */
export interface MemberInput {
  name: string;
  ip: pulumi.Input<string>;
  dnsNames?: pulumi.Input<pulumi.Input<string>[]>;
}

/** Raw args (everything but resources) with members whose ip/dnsNames may be Inputs. */
export type ConfigWithInputs = Record<string, unknown> & { members?: MemberInput[] };

const isPending = (v: unknown): boolean => pulumi.Output.isInstance(v) || v instanceof Promise;

/**
 * IPv6 documentation prefix (RFC 3849) plus an unusual group: valid, unique per member, and never
 * rendered anywhere — everything built from an address reads the resolved settings.
 */
const standInIp = (i: number): string => `2001:db8:5ec:e7cd::${(i + 1).toString(16)}`;

/** Which of a member's Inputs are not known yet (an Output or a Promise, or a list holding one). */
function pendingOf(m: MemberInput | undefined): { ip: boolean; dnsNames: boolean } {
  const dns = m?.dnsNames;
  return {
    ip: isPending(m?.ip),
    dnsNames: isPending(dns) || (Array.isArray(dns) && dns.some(isPending)),
  };
}

/** The args with every Input not known at construction replaced by a valid stand-in. */
export function withStandIns(config: ConfigWithInputs): Record<string, unknown> {
  if (!Array.isArray(config.members)) return config;
  const members = config.members.map((m: MemberInput, i: number) => {
    if (typeof m !== "object" || m === null) return m;
    const pending = pendingOf(m);
    return { ...m, ip: pending.ip ? standInIp(i) : m.ip, ...(pending.dnsNames ? { dnsNames: [] } : {}) };
  });
  return { ...config, members };
}

/** True when some member's ip or dnsNames is an Input (then only the resolved settings carry them). */
export function hasPendingInputs(config: ConfigWithInputs): boolean {
  return (config.members ?? []).some((m) => {
    const pending = pendingOf(m);
    return pending.ip || pending.dnsNames;
  });
}

/**
 * The settings once every member Input has resolved, validated by the same schema (a bad value rejects
 * this Output with the ConfigError naming `members[i].ip`). Unknown during a preview that waits on them.
 */
export function resolveSettings(
  config: ConfigWithInputs,
  planned: { config: SecureEtcdConfig; settings: SecureEtcdSettings },
  source: string,
  context: DeploymentContext = {},
): pulumi.Output<SecureEtcdSettings> {
  // Every value already known: the construction-time parse is the resolved one (no second run).
  if (!hasPendingInputs(config)) return pulumi.output(planned.settings) as pulumi.Output<SecureEtcdSettings>;
  return pulumi
    .output(config.members ?? [])
    .apply(
      (members) => parseSettings({ ...config, members }, "", source, context).settings,
    ) as pulumi.Output<SecureEtcdSettings>;
}
