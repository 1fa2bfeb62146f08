/**
 * Moving to a new AWS key: a new kms key (a new AWS key in moto, its own plugin on its own socket, the
 * command the component renders once the key is added as staged) taken through the same steps as any
 * key — stage, promote, rewrite, `verify-encryption --retiring <old>` gating the archive — with writers
 * running through every rolling restart. Two kms keys are live at once: two plugins, two sockets.
 */
import { envelopeEncryptionContext } from "../../../components/kms/naming";
import { kmsPluginPlans } from "../../../components/kms/plan";
import { kmsPluginCommand } from "../../../components/kms/pluginManifest";
import type { KeyStates } from "../../../harness/encryptionKeys";
import { rewrite, rollingStep } from "../rotation";
import { retiringGate, type Sequence } from "../rotationSteps";
import type { KmsDrills } from "./context";

export async function runNewKey(k: KmsDrills, seq: Sequence): Promise<void> {
  const { rot, formerKey } = k;
  const old = k.primary;
  const name = `${old.name}-next`;
  const ok = await seq.step(
    `kms: new AWS key ${name}: created, its plugin (rendered for it) on its own socket beside ${old.name}'s`,
    async () => {
      // What `pulumi up` renders once the key is added to the config as staged, after the existing ones.
      const keys = [
        ...k.settings.encryption.keys,
        {
          name,
          state: "staged" as const,
          provider: "kms" as const,
          endpoint: `unix:///var/run/kmsplugin/${name}.sock`,
          timeout: "3s",
        },
      ];
      const plan = kmsPluginPlans(keys).find((p) => p.key === name)!;
      const render = (keyArn: string) =>
        kmsPluginCommand({
          plan,
          keyArn,
          region: k.env.region,
          image: k.settings.encryption.kms.pluginImage,
          encryptionContext: envelopeEncryptionContext(k.settings.clusterName, k.settings.environment),
        });
      const aws = await k.env.addKey(
        name,
        render("arn:aws:kms:us-east-1:000000000000:key/pending"),
        "components/kms renderKmsPluginManifest (the stack with the key added as staged)",
      );
      // Rendered with the key's own ARN, as `pulumi up` renders it once the key exists: no --key remap.
      const command = render(aws.arn);
      aws.command = command;
      const plugin = await k.env.startPlugin(name);
      const health = await plugin.health("healthz");
      const first = await k.env.keys.get(old.name)!.plugin!.health("healthz");
      return (
        `${aws.arn} in moto; plugin pid ${plugin.pid} ran ${command.slice(1).join(" ")} (remapped: ${plugin.args.join(" ")}); ` +
        `healthz ${health.status}; ${old.name}'s plugin still healthz ${first.status} — two plugins, two sockets, health ports ${plan.healthPort} and ${kmsPluginPlans(keys).find((p) => p.key === old.name)!.healthPort}`
      );
    },
  );
  if (!ok) return;
  const neu = k.env.keys.get(name)!.key;
  rot.keys.unshift(neu);
  const from: KeyStates = { [old.name]: "primary", [formerKey.name]: "archived" };
  const staged: KeyStates = { ...from, [neu.name]: "staged" };
  const promoted: KeyStates = { [neu.name]: "primary", [old.name]: "retired", [formerKey.name]: "archived" };
  const archived: KeyStates = { [neu.name]: "primary", [old.name]: "archived", [formerKey.name]: "archived" };
  await rollingStep(rot, seq, `kms → new AWS key 1 stage ${neu.name}`, from, staged);
  await rollingStep(rot, seq, `kms → new AWS key 2 promote ${neu.name}`, staged, promoted);
  await seq.step(`kms: before the rewrite, verify-encryption --retiring ${old.name} exits 1`, () =>
    retiringGate(rot, old, 1),
  );
  await seq.step("kms: kms → new AWS key 3 rewrite while the others keep writing", async () => {
    // The first rewrite's StorageVersionMigrations (nothing runs them here) would clash by name.
    await rot.servers[0].kubectl.ok(["delete", "storageversionmigrations", "--all"]);
    return rewrite(rot, neu);
  });
  await seq.step(
    `kms: kms → new AWS key 4 verify-encryption --retiring ${old.name} exits 0 (gates step 5)`,
    () => retiringGate(rot, old, 0),
  );
  await rollingStep(rot, seq, `kms → new AWS key 5 archive ${old.name}`, promoted, archived);
  if (seq.results.every((r) => r.passed)) k.primary = neu;
}
