export * from "./prices";
export * from "./secretStoreCost";
