export * from "./bootstrapScript";
export * from "./offlineCloudInit";
export * from "./userData";
