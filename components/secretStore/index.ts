export * from "./bundle";
export * from "./bundleSigning";
export * from "./defaults";
export * from "./keyArchive";
export * from "./memberBundle";
export * from "./naming";
export * from "./nodeSecretStore";
export * from "./policies";
