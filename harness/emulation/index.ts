/**
 * Offline emulation of the Pulumi `tls` and `random` providers with real crypto, for exactly the key
 * types secure-etcd issues (ECDSA P-256/P-384, RSA 2048/3072/4096; others are refused by name).
 *
 * - {@link ProviderEmulation}: a `pulumi.runtime.Mocks` that turns tls/random resources into real
 *   keys, CSRs and certificates and records everything it created.
 * - Pure helpers (`generatePrivateKey`, `createSelfSignedCert`, `createCertRequest`,
 *   `signCertRequest`, ...) with the provider's semantics, for drills that need e.g. a foreign CA or
 *   an already expired client certificate.
 */
export * from "./providerEmulation";
export * from "./keys";
export * from "./names";
export * from "./extensions";
export * from "./certRequest";
export * from "./certificates";
