import * as path from "node:path";
import { z } from "zod";
import {
  defaultEnvelopeKeyDeletionWindowDays,
  defaultKmsPluginImage,
  reservedControlPlanePorts,
} from "../kms/constants";
import { kmsHealthPorts } from "../kms/plan";
import { socketPathOf } from "../kms/naming";
import { imageProblem } from "./checks";
import type { EncryptionProvider, KeyState } from "./constants";
import { absolutePath, checked, dnsLabel, show, wholeDays } from "./fields";

/*
 * KMS v2 settings (the envelope keys in AWS KMS and the aws-encryption-provider plugin on every
 * control-plane node): the `encryption.kms` block, a kms key's `healthPort`, and the checks that span
 * them. Only read when some key uses `provider: kms`.
 */

/** A port number (Pulumi passes stack-file numbers as strings). */
export const portNumber = (what: string) =>
  z.union([z.number(), z.string()]).transform((v, ctx) => {
    const n = typeof v === "number" ? v : /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < 1024 || n > 65535) {
      ctx.addIssue({
        code: "custom",
        message: `${show(v)} is not a valid ${what}; expected a port from 1024 to 65535`,
      });
      return z.NEVER;
    }
    return n;
  });

export const kmsSettingsSchema = z
  .object({
    /** The aws-encryption-provider image, pinned to an exact tag or a digest. */
    pluginImage: checked(imageProblem).default(defaultKmsPluginImage),
    /** Waiting period of a scheduled deletion of an envelope key (AWS allows 7–30 days). */
    keyDeletionWindowDays: wholeDays("KMS key deletion window", 7, 30).default(
      defaultEnvelopeKeyDeletionWindowDays,
    ),
  })
  .strict();

export type KmsSettings = z.output<typeof kmsSettingsSchema>;

interface KeyForChecks {
  name: string;
  state: KeyState;
  provider?: EncryptionProvider;
  endpoint?: string;
  healthPort?: number;
}

interface SettingsForChecks {
  encryption: { provider: EncryptionProvider; keys: KeyForChecks[] };
  paths: Record<string, string>;
  secretStore: { enabled: boolean };
}

/** Longest kms key name: the plugin pod is `kms-plugin-<name>` and kubelet appends the node name. */
const maxKmsKeyName = 52;

/**
 * The checks of kms keys across fields: names that make valid pod names and AWS aliases, one plugin per
 * socket, health ports that collide with nothing, socket directories apart from the package's secrets,
 * and the node roles the envelope keys grant (the secret store's).
 */
export function kmsChecks(s: SettingsForChecks, add: (path: string, message: string) => void): void {
  const keys = s.encryption.keys.map((k) => ({ ...k, provider: k.provider ?? s.encryption.provider }));
  const kms = keys.map((k, i) => ({ k, i })).filter(({ k }) => k.provider === "kms");
  if (kms.length === 0) return;
  if (!s.secretStore.enabled)
    add(
      `encryption.keys[${kms[0].i}].provider`,
      `kms needs secretStore.enabled: the envelope key in AWS KMS grants Encrypt/Decrypt to the control-plane node roles, which the secret store creates (or takes from secretStore.nodeRoles)`,
    );
  const ports = kmsHealthPorts(keys);
  const sockets = new Map<string, string>();
  const portOwners = new Map<number, string>();
  for (const { k, i } of kms) {
    const at = `encryption.keys[${i}]`;
    if (!dnsLabel.test(k.name) || k.name.length > maxKmsKeyName)
      add(
        `${at}.name`,
        `${show(k.name)} cannot name a kms key: it names the plugin's static pod (kms-plugin-<name>) and the AWS key alias, so it must be lowercase letters, digits and '-' (at most ${maxKmsKeyName})`,
      );
    if (k.state === "archived" || !k.endpoint) continue;
    const socket = socketPathOf(k.endpoint);
    const pathCheck = absolutePath.safeParse(socket);
    if (!pathCheck.success || socket.endsWith("/"))
      add(
        `${at}.endpoint`,
        `${show(k.endpoint)}: the socket path must be an absolute path of letters, digits and . _ / + - (no spaces, no '..')`,
      );
    const other = sockets.get(socket);
    if (other !== undefined)
      add(
        `${at}.endpoint`,
        `${show(k.endpoint)} is also kms key ${show(other)}'s socket: each kms key needs its own plugin on its own socket, or one key's plugin would answer for the other`,
      );
    sockets.set(socket, k.name);
    socketDirProblems(path.posix.dirname(socket), s.paths).forEach((m) =>
      add(`${at}.endpoint`, `${show(k.endpoint)} ${m}`),
    );
    const port = ports.get(k.name)!;
    const reserved = reservedControlPlanePorts[port];
    if (reserved)
      add(
        `${at}.healthPort`,
        `${port} is the ${reserved} port; the plugin runs with hostNetwork, pick another`,
      );
    const owner = portOwners.get(port);
    if (owner !== undefined)
      add(
        `${at}.healthPort`,
        `${port} is also kms key ${show(owner)}'s health port${k.healthPort === undefined ? " (the default is 8083 + the key's position among the kms keys)" : ""}; each plugin needs its own`,
      );
    portOwners.set(port, k.name);
  }
}

/** The socket directory is mounted read-write into the plugin and kube-apiserver: never a secrets dir. */
function socketDirProblems(dir: string, paths: Record<string, string>): string[] {
  if (dir === "/") return ["puts the socket in /; give it its own directory such as /var/run/kmsplugin"];
  const inside = (a: string, b: string) => a === b || a.startsWith(`${b.replace(/\/$/, "")}/`);
  return Object.entries(paths)
    .filter(([, p]) => inside(dir, p) || inside(p, dir))
    .map(
      ([key, p]) =>
        `puts the socket in ${show(dir)}, which overlaps paths.${key} (${show(p)}) and would be mounted into the plugin; give the socket its own directory`,
    );
}
