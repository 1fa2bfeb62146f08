import { accessPolicies } from "./accessPolicies";
import { advisoryPolicies } from "./advisoryPolicies";
import { bucketPolicies } from "./bucketPolicies";
import { cisPolicies } from "./cisPolicies";
import { keyPolicies } from "./keyPolicies";
import { kmsPolicies } from "./kmsPolicies";
import { secretPolicies } from "./secretPolicies";
import type { PackPolicy } from "./types";

/** Every policy of the pack, as plain data with pure checks (tests import this; no server starts). */
export const packPolicies: readonly PackPolicy[] = [
  ...cisPolicies,
  ...bucketPolicies,
  ...keyPolicies,
  ...kmsPolicies,
  ...secretPolicies,
  ...accessPolicies,
  ...advisoryPolicies,
];
