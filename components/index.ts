/**
 * secure-etcd: a Pulumi component package that secures the etcd of a self-managed Kubernetes cluster.
 *
 *   import { SecureEtcd } from "secure-etcd";
 */
export * from "./secureEtcd";
export * from "./config";
export * as manifests from "./manifests";
export * as encryption from "./encryption/render";
export * as pki from "./pki/profiles";
export * from "./etcd/capabilities";
export * as backup from "./backup";
export * as encryptionTransitions from "./encryption/transitions";
export type { KeyStateRecord } from "./encryption/transitions";
export * as secretStore from "./secretStore";
export * as node from "./node";
export * as cost from "./cost";
