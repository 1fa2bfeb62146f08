export * from "./prices";
export * from "./secretStoreCost";
export * from "./snapshotStorageCost";
export * from "./envelopeKeyCost";
