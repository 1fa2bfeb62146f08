/**
 * What the real-apiserver drills of a full rehearsal must show (rehearsal/drills/apiservers.ts), checked
 * on the rows of the rehearsal's report: the rehearse CLI test runs them once, on the real binaries,
 * and asserts here what each row proves.
 */
import { strict as assert } from "node:assert";

interface Row {
  name: string;
  passed: boolean;
  detail: string;
}

/** The real-apiserver rows every full rehearsal has, by the start of their names. */
export const apiserverDrillNames = [
  "kube-apiserver: the package's rendered flags are accepted by the real kube-apiserver",
  "encryption at rest: kubectl writes are stored under k8s:enc:secretbox:v1:key-2026-11:",
  "encryption at rest: a resource the EncryptionConfiguration does not list stays plaintext",
  "encryption at rest: verify-encryption agrees with what the apiserver wrote",
  "encryption at rest: with a fresh aescbc key primary",
  "encryption at rest: with a fresh aesgcm key primary",
  "rotation 0 start: 3 apiservers",
  "rotation 1 stage new key: apiserver-3 restarted",
  "rotation 2 promote new key: gate",
  "rotation 3 rewrite:",
  "rotation 4 verify:",
  "rotation 5 archive old keys: apiserver-3 restarted",
  "rotation unsafe (a)",
  "rotation unsafe (b)",
  "snapshot readback: restored into a fresh cluster",
  "snapshot readback: with today's keys",
];

/** Asserts what each real-apiserver row of the local stack's rehearsal proves. */
export function checkApiserverDrills(drills: readonly Row[], kubeApiserverVersion: string): void {
  const row = (prefix: string) => {
    const r = drills.find((d) => d.name.startsWith(prefix));
    assert.ok(r, `no drill row starts with "${prefix}"; rows: ${drills.map((d) => d.name).join(" | ")}`);
    assert.ok(r.passed, `${r.name}: ${r.detail}`);
    return r.detail;
  };
  assert.match(
    row("kube-apiserver: the package's rendered flags"),
    new RegExp(
      `^${kubeApiserverVersion.replace(/\./g, "\\.")} .* ran --etcd-servers --etcd-cafile --etcd-certfile --etcd-keyfile --encryption-provider-config as rendered \\(node paths → the files the node bootstrap installed\\)`,
    ),
  );
  // The primary's prefix read raw, for every provider; never a value.
  assert.match(
    row("encryption at rest: kubectl writes"),
    /10 objects \(secrets, configmaps\) created with kubectl through apiserver-1 .*every value starts k8s:enc:secretbox:v1:key-2026-11:; all read back/,
  );
  assert.match(
    row("encryption at rest: a resource"),
    /etcd holds it as k8s\\x00 \(protobuf: plaintext\); verify-encryption --resources=serviceaccounts exit 1 naming "serviceaccounts drill-at-rest-[0-9a-f]+\/drill-unlisted"/,
  );
  assert.match(
    row("encryption at rest: verify-encryption agrees"),
    /^exit 0 over (\d+) values: .*the same \1 of \1 start k8s:enc:secretbox:v1:key-2026-11: read raw with etcdctl .*plaintext 0; --retiring key-2026-05: 0 values/,
  );
  for (const p of ["aescbc", "aesgcm"])
    assert.match(
      row(`encryption at rest: with a fresh ${p} key`),
      new RegExp(
        `every value starts k8s:enc:${p}:v1:at-rest-${p}-[0-9a-f]{8}:; .*verify-encryption counts 6 under ${p}/at-rest-${p}-`,
      ),
    );
  // Rolling restarts: mixed writes mid-step, the check names the laggards, then every step's gate passes.
  const promote1 = row("rotation 2 promote new key: apiserver-1 restarted");
  assert.match(
    promote1,
    /apiserver-1 → k8s:enc:secretbox:v1:rot-new-[0-9a-f]{8}:, apiserver-2 → k8s:enc:secretbox:v1:key-2026-11:/,
  );
  assert.match(
    promote1,
    /encryption-config-status: exit 1, apiserver-2 \(https:\/\/127\.0\.0\.12:6443\) and apiserver-3 \(https:\/\/127\.0\.0\.13:6443\) LAG/,
  );
  for (const step of ["1 stage new key", "2 promote new key", "5 archive old keys"]) {
    for (const i of [1, 2, 3])
      assert.match(
        row(`rotation ${step}: apiserver-${i} restarted`),
        /all \d+ objects read back by apiserver-1, apiserver-2, apiserver-3; .*transitions\.ts: no objection$/,
      );
    assert.match(row(`rotation ${step}: gate`), /^exit 0: all 3 loaded sha256:[0-9a-f]{64}/);
  }
  assert.match(row("rotation: before the rewrite"), /exit 1, [1-9]\d* of \d+ values under it/);
  const rewrite = row("rotation 3 rewrite");
  assert.match(rewrite, /every drill object now starts k8s:enc:secretbox:v1:rot-new-/);
  assert.match(
    rewrite,
    /StorageVersionMigration .* was accepted; after the rewrite its status is still empty/,
  );
  assert.match(
    row("rotation 4 verify"),
    /--retiring key-2026-11: exit 0, 0 of \d+ values under it; verify-encryption --retiring key-2026-05: exit 0/,
  );
  // The unsafe orders: caught with the apiserver's own error, every unreadable object named.
  const a = row("rotation unsafe (a)");
  assert.match(
    a,
    /each of the others failed exactly those: apiserver-2 secrets\/drill-rotation-[0-9a-f]+\/unsafe-a-\d+-apiserver-1: Internal error occurred: StorageError: corrupt object/,
  );
  assert.match(a, /no matching key was found for the provided Secretbox transformer/);
  assert.match(
    a,
    /transitions\.ts refuses the step at preview: "becomes primary but no API server can read with it yet/,
  );
  assert.match(a, /an outage in the window, not loss$/);
  const b = row("rotation unsafe (b)");
  assert.match(
    b,
    /apiserver-1 restarted without rot-new-[0-9a-f]{8} .*is not ready \(\/readyz 500: .*informer-sync failed/,
  );
  assert.match(
    b,
    /cannot read exactly the \d+ objects still under k8s:enc:secretbox:v1:rot-new-[0-9a-f]{8}:: \S+: Internal error occurred: StorageError: corrupt object/,
  );
  assert.match(b, /The gate would have stopped it: verify-encryption --retiring rot-new-[0-9a-f]{8}: exit 1/);
  assert.match(b, /refuses deleting the key outright/);
  // The pre-rotation snapshot: read with its own keys, not with today's; the plan names the keys.
  assert.match(
    row("snapshot readback: restored"),
    /read all 10 objects of drill-at-rest-[0-9a-f]+ back with their values/,
  );
  const wrong = row("snapshot readback: with today's keys");
  assert.match(
    wrong,
    /failed every one of the 10 objects, e\.g\. \S+: Internal error occurred: StorageError: corrupt object/,
  );
  assert.match(
    wrong,
    /the plan's key step says "Give every kube-apiserver the snapshot's encryption keys: secretbox:key-2026-11, aescbc:key-2026-05"/,
  );
}
