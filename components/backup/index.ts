export * from "./defaults";
export * from "./policies";
export * from "./snapshotStore";
export * from "./snapshotJob";
