import { z } from "zod";
import { checked, show } from "../config/fields";
import { parseEtcdVersion } from "../etcd/capabilities";

/* zod fields the backup modules share (the general builders are in config/fields.ts). */

/** A string that is not blank; the message says what was expected. */
export const nonEmpty = (what: string) =>
  checked((v) => (v.trim() === "" ? `is empty; expected ${what}` : undefined));

/** An etcd release version (`3.5.16`, `v3.4.23`), parsed: the caller gets the version the check accepted. */
export const etcdReleaseVersion = () =>
  z.string().transform((v, ctx) => {
    const parsed = parseEtcdVersion(v);
    if (!parsed) {
      ctx.addIssue({ code: "custom", message: `${show(v)} is not an etcd version like 3.5.16` });
      return z.NEVER;
    }
    return parsed;
  });
