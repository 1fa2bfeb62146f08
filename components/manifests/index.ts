export * from "./apiserver";
export * from "./etcdManifest";
export * from "./kubeadm";
export * from "./paths";
export * from "./urls";
export * from "./nodeFiles";
