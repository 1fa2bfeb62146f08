export * from "./defaults";
export * from "./policies";
export * from "./snapshotStore";
export * from "./job";
export * from "./snapshotJob";
