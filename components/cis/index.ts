/*
 * The CIS checks as pure functions — ONE home for the policy pack (policy/), the CIS report
 * (`npm run cis`) and the rehearsal's drills. They follow kube-bench's cfg/cis-1.12 audits and tests.
 */
export * from "./types";
export * from "./flags";
export * from "./flagChecks";
export * from "./etcd";
export * from "./apiserver";
export * from "./encryption";
export * from "./files";
export * from "./guidance";
export * from "./kms";
export * from "./report";
