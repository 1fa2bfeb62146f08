import { strict as assert } from "node:assert";
import { ConfigError } from "../components/config";
import { keyTransitionProblems, type KeyStateRecord } from "../components/encryption/transitions";
import { RecordingMocks } from "./support/recordingMocks";
import { runProgram } from "./support/program";
import { readStackConfig } from "./support/stackFiles";

const k = (name: string, state: KeyStateRecord["state"], archivedOn?: string): KeyStateRecord => ({
  name,
  state,
  provider: "secretbox",
  ...(archivedOn ? { archivedOn } : {}),
});
const problems = (
  before: KeyStateRecord[],
  after: KeyStateRecord[],
  now = new Date("2026-12-01T00:00:00Z"),
) => keyTransitionProblems(before, after, 42, now);

describe("encryption key transitions against the states last deployed", () => {
  it("every step of the safe rotation is accepted", () => {
    const steps: KeyStateRecord[][] = [
      [k("old", "primary")],
      [k("old", "primary"), k("new", "staged")],
      [k("new", "primary"), k("old", "retired")],
      [k("new", "primary"), k("old", "archived", "2026-10-01")],
      [k("new", "primary")],
    ];
    for (let i = 1; i < steps.length; i++)
      assert.deepEqual(problems(steps[i - 1], steps[i]), [], `step ${i}`);
  });

  it("a key made primary without the staged step is refused, with the safe next step", () => {
    const p = problems([k("old", "primary")], [k("new", "primary"), k("old", "retired")]);
    assert.equal(p.length, 1);
    assert.equal(p[0].key, "new");
    assert.match(p[0].message, /add it as "staged", apply and restart every kube-apiserver/);
  });

  it("dropping a key that may still encrypt data is refused (primary or retired)", () => {
    const dropRetired = problems([k("new", "primary"), k("old", "retired")], [k("new", "primary")]);
    assert.equal(dropRetired[0]?.key, "old");
    assert.match(dropRetired[0].message, /verify-encryption --retiring old/);
    const dropPrimary = problems([k("old", "primary"), k("new", "staged")], [k("new", "primary")]);
    assert.ok(dropPrimary.some((x) => x.key === "old" && /unreadable/.test(x.message)));
  });

  it("primary or staged straight to archived is refused", () => {
    assert.match(
      problems([k("a", "primary")], [k("b", "primary"), k("a", "archived", "2026-11-30")])
        .map((x) => x.message)
        .join(),
      /straight to archived/,
    );
  });

  it("an archived key is kept until every snapshot that may need it has expired", () => {
    const before = [k("new", "primary"), k("old", "archived", "2026-11-01")];
    const early = problems(before, [k("new", "primary")], new Date("2026-12-01T00:00:00Z"));
    assert.match(early[0]?.message ?? "", /keep it archived until 2026-12-13/);
    assert.deepEqual(problems(before, [k("new", "primary")], new Date("2026-12-14T00:00:00Z")), []);
  });

  it("dropping a key that was only staged is fine (it never encrypted anything)", () => {
    assert.deepEqual(problems([k("a", "primary"), k("b", "staged")], [k("a", "primary")]), []);
  });
});

describe("the program refuses an unsafe step at preview, reading its own last deployment", () => {
  const self = (stack: string) => `organization/secure-etcd/${stack}`;

  it("staging: adding its staged key is fine; making a key primary that no server could read is refused", async () => {
    // What staging deployed before the stack file's current step: only stg-2026-10 as primary.
    const deployed = { encryptionKeyStates: [k("stg-2026-10", "primary")] };
    await runProgram("staging", new RecordingMocks({ stackOutputs: { [self("staging")]: deployed } }));

    const config = readStackConfig("staging");
    const enc = JSON.parse(config["secure-etcd:encryption"]);
    enc.keys = [
      { name: "stg-2026-11", state: "primary" },
      { name: "stg-2026-10", state: "retired" },
    ];
    config["secure-etcd:encryption"] = JSON.stringify(enc);
    await assert.rejects(
      runProgram("staging", new RecordingMocks({ stackOutputs: { [self("staging")]: deployed } }), config),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.problems.some(
          (p) => p.path === "encryption.keys[0]" && /"stg-2026-11" becomes primary/.test(p.message),
        ),
    );
  });

  it("a stack that was never deployed is not checked, and exports its key states without key material", async () => {
    const { outputs } = await runProgram("prod");
    const states = await new Promise<KeyStateRecord[]>((resolve) =>
      (outputs.encryptionKeyStates as { apply: (f: (v: KeyStateRecord[]) => void) => void }).apply(resolve),
    );
    assert.deepEqual(
      states.map((s) => `${s.state}:${s.provider}:${s.name}`),
      ["primary:kms:aws-kms-prod", "retired:secretbox:prod-2026-09"],
    );
    assert.ok(!JSON.stringify(states).includes('secret"'), "names and states only");
  });
});
