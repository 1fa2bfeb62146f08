export * from "./bundle";
export * from "./defaults";
export * from "./keyArchive";
export * from "./memberBundle";
export * from "./naming";
export * from "./nodeSecretStore";
export * from "./policies";
