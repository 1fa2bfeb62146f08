import "reflect-metadata";
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as nodeCrypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as x509 from "@peculiar/x509";
import * as pulumi from "@pulumi/pulumi";
import { keyAlgorithms } from "../components/config/constants";
import { privateKeyArgs } from "../components/pki/profiles";
import {
  FUNCTIONS,
  ProviderEmulation,
  TYPES,
  createCertRequest,
  createSelfSignedCert,
  generatePrivateKey,
  isReadyForRenewal,
  signCertRequest,
  subjectKeyId,
  type GeneratePrivateKeyArgs,
  type GeneratedPrivateKey,
  type LocallySignedCertResult,
  type SelfSignedCertResult,
} from "../harness/emulation";

x509.cryptoProvider.set(nodeCrypto.webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const HOUR = 3_600_000;
let tmpDir = "";

function tmpFile(name: string, content: string): string {
  const file = path.join(tmpDir, `${Math.random().toString(36).slice(2)}-${name}`);
  fs.writeFileSync(file, content, { mode: 0o600 });
  return file;
}

function run(cmd: string, args: string[]): { status: number; out: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

const certText = (pem: string): string => {
  const r = run("openssl", ["x509", "-noout", "-text", "-in", tmpFile("cert.pem", pem)]);
  assert.equal(r.status, 0, r.out);
  return r.out;
};

function opensslVerify(caPem: string, leafPem: string, ...extra: string[]): { ok: boolean; out: string } {
  const r = run("openssl", [
    "verify",
    ...extra,
    "-CAfile",
    tmpFile("ca.pem", caPem),
    tmpFile("leaf.pem", leafPem),
  ]);
  return { ok: r.status === 0, out: r.out };
}

/** The hex key id printed after an extension header, normalised to lower-case without colons. */
function keyIdAfter(text: string, header: string): string | undefined {
  const m = new RegExp(`${header}:\\s*\\n\\s*(?:keyid:)?([0-9A-F:]+)`).exec(text);
  return m?.[1].replace(/:/g, "").toLowerCase();
}

function extensionBlock(text: string, header: string): string | undefined {
  const m = new RegExp(`${header}:( critical)?\\s*\\n\\s*([^\\n]+)`).exec(text);
  return m ? `${m[1] ? "critical " : ""}${m[2].trim()}` : undefined;
}

const pemOf = (key: nodeCrypto.KeyObject): string => key.export({ type: "pkcs8", format: "pem" }) as string;

const spkiOfCert = (pem: string): Buffer =>
  new nodeCrypto.X509Certificate(pem).publicKey.export({ type: "spki", format: "der" });

interface Chain {
  caKey: GeneratedPrivateKey;
  ca: SelfSignedCertResult;
  serverKey: GeneratedPrivateKey;
  server: LocallySignedCertResult;
  client: LocallySignedCertResult;
  csrPem: string;
}

function buildChain(keyArgs: GeneratePrivateKeyArgs, label: string): Chain {
  const caKey = generatePrivateKey(keyArgs);
  const ca = createSelfSignedCert({
    privateKeyPem: caKey.privateKeyPem,
    subject: { commonName: `etcd-ca ${label}`, organization: "secure-etcd" },
    validityPeriodHours: 87600,
    allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
    isCaCertificate: true,
  });
  const serverKey = generatePrivateKey(keyArgs);
  const csr = createCertRequest({
    privateKeyPem: serverKey.privateKeyPem,
    subject: { commonName: "etcd-server" },
    dnsNames: ["localhost", "etcd-0.etcd.kube-system.svc"],
    ipAddresses: ["127.0.0.1", "::1", "10.0.0.5"],
  });
  const server = signCertRequest({
    certRequestPem: csr.certRequestPem,
    caPrivateKeyPem: caKey.privateKeyPem,
    caCertPem: ca.certPem,
    validityPeriodHours: 720,
    earlyRenewalHours: 72,
    allowedUses: ["digital_signature", "key_encipherment", "server_auth", "client_auth"],
  });
  const clientKey = generatePrivateKey(keyArgs);
  const client = signCertRequest({
    certRequestPem: createCertRequest({
      privateKeyPem: clientKey.privateKeyPemPkcs8,
      subject: { commonName: "kube-apiserver-etcd-client", organization: "system:masters" },
    }).certRequestPem,
    caPrivateKeyPem: caKey.privateKeyPemPkcs8,
    caCertPem: ca.certPem,
    validityPeriodHours: 48,
    allowedUses: ["digital_signature", "client_auth"],
  });
  return { caKey, ca, serverKey, server, client, csrPem: csr.certRequestPem };
}

const ALGORITHMS: {
  label: string;
  args: GeneratePrivateKeyArgs;
  keyHeader: string;
  keyText: RegExp;
  signature: string;
}[] = [
  {
    label: "RSA-2048",
    args: { algorithm: "RSA", rsaBits: 2048 },
    keyHeader: "RSA PRIVATE KEY",
    keyText: /Private-Key: \(2048 bit/,
    signature: "sha256WithRSAEncryption",
  },
  {
    label: "RSA-3072",
    args: { algorithm: "RSA", rsaBits: 3072 },
    keyHeader: "RSA PRIVATE KEY",
    keyText: /Private-Key: \(3072 bit/,
    signature: "sha256WithRSAEncryption",
  },
  {
    label: "RSA-4096",
    args: { algorithm: "RSA", rsaBits: 4096 },
    keyHeader: "RSA PRIVATE KEY",
    keyText: /Private-Key: \(4096 bit/,
    signature: "sha256WithRSAEncryption",
  },
  {
    label: "ECDSA-P256",
    args: { algorithm: "ECDSA", ecdsaCurve: "P256" },
    keyHeader: "EC PRIVATE KEY",
    keyText: /ASN1 OID: prime256v1/,
    signature: "ecdsa-with-SHA256",
  },
  {
    label: "ECDSA-P384",
    args: { algorithm: "ECDSA", ecdsaCurve: "P384" },
    keyHeader: "EC PRIVATE KEY",
    keyText: /ASN1 OID: secp384r1/,
    signature: "ecdsa-with-SHA384", // Go's x509 signs with SHA-384 for P-384 keys
  },
];

describe("tls/random provider emulation", function () {
  before(function () {
    tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), "emulation-test-"));
    if (run("openssl", ["version"]).status !== 0) throw new Error("openssl is required for these tests");
  });
  after(function () {
    fs.rmSync(tmpDir, { recursive: true, force: true });
  });

  for (const alg of ALGORITHMS) {
    describe(`${alg.label} chain`, function () {
      let chain: Chain;
      let caText: string;
      let serverText: string;
      before(function () {
        chain = buildChain(alg.args, alg.label);
        caText = certText(chain.ca.certPem);
        serverText = certText(chain.server.certPem);
      });

      it("writes the provider's key PEM formats", function () {
        const k = chain.caKey;
        assert.match(k.privateKeyPem, new RegExp(`^-----BEGIN ${alg.keyHeader}-----\\n`));
        assert.match(k.privateKeyPemPkcs8, /^-----BEGIN PRIVATE KEY-----\n/);
        assert.match(k.publicKeyPem, /^-----BEGIN PUBLIC KEY-----\n[\s\S]+-----END PUBLIC KEY-----\n$/);
        const text = run("openssl", ["pkey", "-noout", "-text", "-in", tmpFile("key.pem", k.privateKeyPem)]);
        assert.equal(text.status, 0, text.out);
        assert.match(text.out, alg.keyText);
        // All three encodings hold the same key, and the id is sha1 of the public key DER.
        const spki = (pem: string): Buffer =>
          nodeCrypto.createPublicKey(pem).export({ type: "spki", format: "der" }) as Buffer;
        assert.deepEqual(spki(k.privateKeyPemPkcs8), spki(k.privateKeyPem));
        assert.deepEqual(spki(k.publicKeyPem), spki(k.privateKeyPem));
        assert.equal(k.id, nodeCrypto.createHash("sha1").update(spki(k.publicKeyPem)).digest("hex"));
        assert.equal(k.algorithm, alg.args.algorithm);
      });

      it("CA + server + client chain verifies with openssl verify, per purpose", function () {
        const server = opensslVerify(chain.ca.certPem, chain.server.certPem, "-purpose", "sslserver");
        assert.ok(server.ok, server.out);
        const client = opensslVerify(chain.ca.certPem, chain.client.certPem, "-purpose", "sslclient");
        assert.ok(client.ok, client.out);
        // The client cert lacks server_auth, so it must not pass as a server.
        const misuse = opensslVerify(chain.ca.certPem, chain.client.certPem, "-purpose", "sslserver");
        assert.ok(!misuse.ok, misuse.out);
      });

      it("CA cert: CA:TRUE, cert signing usages, SHA-1 subject key id, signature algorithm", function () {
        assert.equal(extensionBlock(caText, "X509v3 Basic Constraints"), "critical CA:TRUE");
        assert.equal(
          extensionBlock(caText, "X509v3 Key Usage"),
          "critical Digital Signature, Certificate Sign, CRL Sign",
        );
        assert.equal(extensionBlock(caText, "X509v3 Extended Key Usage"), undefined);
        assert.equal(
          keyIdAfter(caText, "X509v3 Subject Key Identifier"),
          subjectKeyId(spkiOfCert(chain.ca.certPem)).toString("hex"),
        );
        assert.match(caText, new RegExp(`Subject: O = secure-etcd, CN = etcd-ca ${alg.label}\\n`));
        assert.match(caText, new RegExp(`Issuer: O = secure-etcd, CN = etcd-ca ${alg.label}\\n`));
        assert.match(caText, new RegExp(`Signature Algorithm: ${alg.signature}`));
        assert.equal(chain.ca.keyAlgorithm, alg.args.algorithm);
      });

      it("server cert: CA:FALSE, usages, SANs incl. IPv6 ::1, CN, issuer, AKI = CA SKI", function () {
        assert.equal(extensionBlock(serverText, "X509v3 Basic Constraints"), "critical CA:FALSE");
        assert.equal(
          extensionBlock(serverText, "X509v3 Key Usage"),
          "critical Digital Signature, Key Encipherment",
        );
        assert.equal(
          extensionBlock(serverText, "X509v3 Extended Key Usage"),
          "TLS Web Server Authentication, TLS Web Client Authentication",
        );
        assert.equal(
          extensionBlock(serverText, "X509v3 Subject Alternative Name"),
          "DNS:localhost, DNS:etcd-0.etcd.kube-system.svc, IP Address:127.0.0.1, " +
            "IP Address:0:0:0:0:0:0:0:1, IP Address:10.0.0.5",
        );
        assert.match(serverText, /Subject: CN = etcd-server\n/);
        assert.match(serverText, new RegExp(`Issuer: O = secure-etcd, CN = etcd-ca ${alg.label}\\n`));
        const aki = keyIdAfter(serverText, "X509v3 Authority Key Identifier");
        assert.ok(aki, serverText);
        assert.equal(aki, keyIdAfter(caText, "X509v3 Subject Key Identifier"));
        assert.equal(keyIdAfter(serverText, "X509v3 Subject Key Identifier"), undefined); // set_subject_key_id off
        assert.match(serverText, new RegExp(`Signature Algorithm: ${alg.signature}`));
        assert.equal(chain.server.caKeyAlgorithm, alg.args.algorithm);
      });

      it("client cert: client_auth only, CN and O from the CSR", function () {
        const text = certText(chain.client.certPem);
        assert.equal(extensionBlock(text, "X509v3 Basic Constraints"), "critical CA:FALSE");
        assert.equal(extensionBlock(text, "X509v3 Key Usage"), "critical Digital Signature");
        assert.equal(extensionBlock(text, "X509v3 Extended Key Usage"), "TLS Web Client Authentication");
        assert.equal(extensionBlock(text, "X509v3 Subject Alternative Name"), undefined);
        assert.match(text, /Subject: O = system:masters, CN = kube-apiserver-etcd-client\n/);
      });

      it("validity is exactly the hours requested; serial = id, below 2^128", function () {
        for (const [cert, hours] of [
          [chain.ca, 87600],
          [chain.server, 720],
          [chain.client, 48],
        ] as const) {
          const parsed = new nodeCrypto.X509Certificate(cert.certPem);
          const from = Date.parse(parsed.validFrom);
          const to = Date.parse(parsed.validTo);
          assert.equal(to - from, hours * HOUR);
          assert.equal(Date.parse(cert.validityEndTime) - Date.parse(cert.validityStartTime), hours * HOUR);
          // The cert holds whole seconds; NotBefore = now, no backdating.
          assert.ok(Math.abs(Date.parse(cert.validityStartTime) - from) < 1000);
          assert.ok(Math.abs(Date.now() - from) < 60_000);
          assert.match(cert.validityStartTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
          assert.equal(BigInt(`0x${parsed.serialNumber}`).toString(), cert.id);
          assert.ok(BigInt(cert.id) < 1n << 128n);
          assert.equal(cert.readyForRenewal, false);
        }
      });

      it("CSR is a real PKCS#10 request signed by the key, carrying the SANs", function () {
        const r = run("openssl", [
          "req",
          "-noout",
          "-verify",
          "-text",
          "-in",
          tmpFile("csr.pem", chain.csrPem),
        ]);
        assert.equal(r.status, 0, r.out);
        assert.match(r.out, /verify OK/);
        assert.match(r.out, /Subject: CN = etcd-server/);
        assert.match(
          r.out,
          /DNS:localhost, DNS:etcd-0.etcd.kube-system.svc, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1/,
        );
        const pub = run("openssl", ["req", "-noout", "-pubkey", "-in", tmpFile("csr.pem", chain.csrPem)]);
        assert.equal(pub.out, chain.serverKey.publicKeyPem);
      });
    });
  }

  describe("provider semantics", function () {
    let caKey: GeneratedPrivateKey;
    let ca: SelfSignedCertResult;
    let leafCsr: string;
    before(function () {
      caKey = generatePrivateKey({ algorithm: "ECDSA", ecdsaCurve: "P256" });
      ca = createSelfSignedCert({
        privateKeyPem: caKey.privateKeyPem,
        subject: { commonName: "etcd-ca" },
        validityPeriodHours: 8760,
        allowedUses: ["cert_signing", "crl_signing"],
        isCaCertificate: true,
      });
      const leafKey = generatePrivateKey({ algorithm: "ECDSA", ecdsaCurve: "P256" });
      leafCsr = createCertRequest({
        privateKeyPem: leafKey.privateKeyPem,
        subject: { commonName: "old-client" },
      }).certRequestPem;
    });

    it("a cert made with a past `now` is expired: openssl verify fails", function () {
      const now = new Date(Date.now() - 72 * HOUR);
      const expired = signCertRequest({
        certRequestPem: leafCsr,
        caPrivateKeyPem: caKey.privateKeyPem,
        caCertPem: ca.certPem,
        validityPeriodHours: 24,
        allowedUses: ["client_auth"],
        now,
      });
      assert.equal(expired.validityStartTime, now.toISOString());
      const v = opensslVerify(ca.certPem, expired.certPem);
      assert.ok(!v.ok, v.out);
      assert.match(v.out, /certificate has expired/);
      assert.equal(expired.readyForRenewal, false); // as seen at its creation time
      assert.equal(isReadyForRenewal(expired.validityEndTime, 0), true); // as seen now
      // Same leaf without the override verifies, so the failure is the dates alone.
      const fresh = signCertRequest({
        certRequestPem: leafCsr,
        caPrivateKeyPem: caKey.privateKeyPem,
        caCertPem: ca.certPem,
        validityPeriodHours: 24,
        allowedUses: ["client_auth"],
      });
      assert.ok(opensslVerify(ca.certPem, fresh.certPem).ok);
    });

    it("notBefore override backdates only NotBefore; readyForRenewal uses the real clock", function () {
      const notBefore = new Date(Date.now() - 48 * HOUR);
      const expired = signCertRequest({
        certRequestPem: leafCsr,
        caPrivateKeyPem: caKey.privateKeyPem,
        caCertPem: ca.certPem,
        validityPeriodHours: 1,
        allowedUses: ["client_auth"],
        notBefore,
      });
      assert.equal(expired.readyForRenewal, true);
      assert.match(opensslVerify(ca.certPem, expired.certPem).out, /certificate has expired/);
    });

    it("readyForRenewal turns true once now >= NotAfter - earlyRenewalHours", function () {
      const t0 = new Date("2030-01-01T00:00:00Z");
      const cert = signCertRequest({
        certRequestPem: leafCsr,
        caPrivateKeyPem: caKey.privateKeyPem,
        caCertPem: ca.certPem,
        validityPeriodHours: 100,
        earlyRenewalHours: 10,
        allowedUses: ["client_auth"],
        now: t0,
      });
      assert.equal(cert.validityEndTime, "2030-01-05T04:00:00.000Z");
      assert.equal(cert.readyForRenewal, false);
      const at = (h: number): boolean =>
        isReadyForRenewal(cert.validityEndTime, 10, new Date(t0.getTime() + h * HOUR));
      assert.equal(at(89), false);
      assert.equal(at(90), true);
      assert.equal(at(95), true);
      assert.equal(at(101), true);
      // early_renewal_hours >= validity: ready as soon as it is created.
      const eager = signCertRequest({
        certRequestPem: leafCsr,
        caPrivateKeyPem: caKey.privateKeyPem,
        caCertPem: ca.certPem,
        validityPeriodHours: 5,
        earlyRenewalHours: 5,
        allowedUses: ["client_auth"],
        now: t0,
      });
      assert.equal(eager.readyForRenewal, true);
    });

    it("an unknown allowed use throws an error naming it", function () {
      assert.throws(
        () =>
          signCertRequest({
            certRequestPem: leafCsr,
            caPrivateKeyPem: caKey.privateKeyPem,
            caCertPem: ca.certPem,
            validityPeriodHours: 1,
            allowedUses: ["client_auth", "clientAuth"],
          }),
        /unsupported allowed_uses value "clientAuth"/,
      );
      assert.throws(
        () =>
          createSelfSignedCert({
            privateKeyPem: caKey.privateKeyPem,
            subject: { commonName: "x" },
            validityPeriodHours: 1,
            allowedUses: ["cert_sign"],
          }),
        /"cert_sign"/,
      );
    });

    it("every allowed use maps to the usage openssl reports", function () {
      const cert = createSelfSignedCert({
        privateKeyPem: caKey.privateKeyPem,
        subject: { commonName: "all-uses" },
        validityPeriodHours: 1,
        allowedUses: [
          "digital_signature",
          "content_commitment",
          "key_encipherment",
          "data_encipherment",
          "key_agreement",
          "cert_signing",
          "crl_signing",
          "encipher_only",
          "decipher_only",
          "any_extended",
          "server_auth",
          "client_auth",
          "code_signing",
          "email_protection",
          "ipsec_end_system",
          "ipsec_tunnel",
          "ipsec_user",
          "timestamping",
          "ocsp_signing",
          "microsoft_server_gated_crypto",
          "netscape_server_gated_crypto",
        ],
      });
      const text = certText(cert.certPem);
      assert.equal(
        extensionBlock(text, "X509v3 Key Usage"),
        "critical Digital Signature, Non Repudiation, Key Encipherment, Data Encipherment, Key Agreement, " +
          "Certificate Sign, CRL Sign, Encipher Only, Decipher Only",
      );
      assert.equal(
        extensionBlock(text, "X509v3 Extended Key Usage"),
        "Any Extended Key Usage, TLS Web Server Authentication, TLS Web Client Authentication, Code Signing, " +
          "E-mail Protection, IPSec End System, IPSec Tunnel, IPSec User, Time Stamping, OCSP Signing, " +
          "Microsoft Server Gated Crypto, Netscape Server Gated Crypto",
      );
      assert.equal(extensionBlock(text, "X509v3 Basic Constraints"), "critical CA:FALSE");
    });

    it("a leaf from a foreign CA does not verify against ours", function () {
      const foreignKey = generatePrivateKey({ algorithm: "ECDSA", ecdsaCurve: "P256" });
      const foreignCa = createSelfSignedCert({
        privateKeyPem: foreignKey.privateKeyPem,
        subject: { commonName: "etcd-ca" }, // same name, different key
        validityPeriodHours: 8760,
        allowedUses: ["cert_signing"],
        isCaCertificate: true,
      });
      const leaf = signCertRequest({
        certRequestPem: leafCsr,
        caPrivateKeyPem: foreignKey.privateKeyPem,
        caCertPem: foreignCa.certPem,
        validityPeriodHours: 24,
        allowedUses: ["client_auth"],
      });
      assert.ok(opensslVerify(foreignCa.certPem, leaf.certPem).ok);
      assert.ok(!opensslVerify(ca.certPem, leaf.certPem).ok);
    });

    it("refuses a CA key that does not match the CA cert, and a CA without a subject", function () {
      const otherKey = generatePrivateKey({ algorithm: "ECDSA", ecdsaCurve: "P256" });
      assert.throws(
        () =>
          signCertRequest({
            certRequestPem: leafCsr,
            caPrivateKeyPem: otherKey.privateKeyPem,
            caCertPem: ca.certPem,
            validityPeriodHours: 1,
            allowedUses: [],
          }),
        /doesn't match parent's PublicKey/,
      );
      assert.throws(
        () =>
          createSelfSignedCert({
            privateKeyPem: otherKey.privateKeyPem,
            validityPeriodHours: 1,
            allowedUses: ["cert_signing"],
            isCaCertificate: true,
          }),
        /at least one Distinguished Name/,
      );
    });

    it("refuses the keys secure-etcd never requests (P-224 default, P-521, ED25519, other RSA sizes), naming them", function () {
      const supported =
        /supports the keys secure-etcd issues: ECDSA with ecdsaCurve P256 or P384, RSA with rsaBits 2048, 3072 or 4096/;
      const refusals: [GeneratePrivateKeyArgs, RegExp][] = [
        [
          { algorithm: "ECDSA" },
          /ecdsaCurve "P224" \(the tls provider's default when ecdsaCurve is unset\) is not supported/,
        ],
        [{ algorithm: "ECDSA", ecdsaCurve: "P224" }, /ecdsaCurve "P224" is not supported/],
        [{ algorithm: "ECDSA", ecdsaCurve: "P521" }, /ecdsaCurve "P521" is not supported/],
        [{ algorithm: "ED25519" }, /algorithm "ED25519" is not supported/],
        [{ algorithm: "RSA", rsaBits: 1024 }, /rsaBits 1024 is not supported/],
        [{ algorithm: "RSA", rsaBits: 8192 }, /rsaBits 8192 is not supported/],
      ];
      for (const [args, message] of refusals) {
        assert.throws(() => generatePrivateKey(args), message);
        assert.throws(() => generatePrivateKey(args), supported);
      }
      // Through the mocks, as a program asking for the provider's default curve would.
      const emu = new ProviderEmulation();
      assert.throws(
        () => emu.newResource({ type: TYPES.privateKey, name: "k", inputs: { algorithm: "ECDSA" } }),
        /ecdsaCurve "P224" \(the tls provider's default when ecdsaCurve is unset\) is not supported/,
      );
      assert.deepEqual(emu.resources, []);
      // Keys made elsewhere are refused wherever the emulation would sign with or describe them.
      const foreign: [string, RegExp][] = [
        [
          pemOf(nodeCrypto.generateKeyPairSync("ec", { namedCurve: "secp224r1" }).privateKey),
          /an ECDSA key on curve secp224r1 is not supported/,
        ],
        [
          pemOf(nodeCrypto.generateKeyPairSync("ec", { namedCurve: "secp521r1" }).privateKey),
          /an ECDSA key on curve secp521r1 is not supported/,
        ],
        [
          pemOf(nodeCrypto.generateKeyPairSync("ed25519").privateKey),
          /a private key of type ed25519 is not supported/,
        ],
        [
          pemOf(nodeCrypto.generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey),
          /an RSA key of 1024 bits is not supported/,
        ],
      ];
      for (const [pem, message] of foreign) {
        const subject = { commonName: "foreign" };
        const selfSigned = {
          privateKeyPem: pem,
          subject,
          validityPeriodHours: 1,
          allowedUses: ["cert_signing"],
        };
        assert.throws(() => createSelfSignedCert(selfSigned), message);
        assert.throws(() => createCertRequest({ privateKeyPem: pem, subject }), message);
        assert.throws(
          () =>
            signCertRequest({
              certRequestPem: leafCsr,
              caPrivateKeyPem: pem,
              caCertPem: ca.certPem,
              validityPeriodHours: 1,
              allowedUses: [],
            }),
          message,
        );
        assert.throws(
          () => emu.call({ token: FUNCTIONS.getPublicKey, inputs: { privateKeyPem: pem } }),
          message,
        );
      }
    });

    it("accepts every key algorithm the package offers (keyAlgorithms through privateKeyArgs)", function () {
      const emu = new ProviderEmulation();
      for (const algorithm of keyAlgorithms) {
        const args = privateKeyArgs(algorithm);
        const { state } = emu.newResource({ type: TYPES.privateKey, name: algorithm, inputs: args });
        const key = nodeCrypto.createPrivateKey(String(state.privateKeyPem)).asymmetricKeyDetails;
        assert.equal(state.algorithm, args.algorithm, algorithm);
        if (args.algorithm === "RSA") {
          assert.equal(state.rsaBits, args.rsaBits, algorithm);
          assert.equal(key?.modulusLength, args.rsaBits, algorithm);
        } else {
          assert.equal(state.ecdsaCurve, args.ecdsaCurve, algorithm);
          assert.equal(
            key?.namedCurve,
            { P256: "prime256v1", P384: "secp384r1" }[String(args.ecdsaCurve)],
            algorithm,
          );
        }
      }
      assert.deepEqual(
        emu.ofType(TYPES.privateKey).map((r) => r.name),
        [...keyAlgorithms],
      );
      // Each of them also has its own chain suite above.
      assert.deepEqual(ALGORITHMS.map((a) => a.label).sort(), [...keyAlgorithms].sort());
    });

    it("RSA defaults to 2048 bits; a CA of one key type signs leaves of another and openssl verifies", function () {
      const rsa = generatePrivateKey({ algorithm: "RSA" });
      assert.equal(rsa.rsaBits, 2048);
      assert.equal(nodeCrypto.createPrivateKey(rsa.privateKeyPem).asymmetricKeyDetails?.modulusLength, 2048);
      const p384 = generatePrivateKey({ algorithm: "ECDSA", ecdsaCurve: "P384" });
      const p256 = generatePrivateKey({ algorithm: "ECDSA", ecdsaCurve: "P256" });
      for (const [caKey, leafKey] of [
        [p384, rsa],
        [rsa, p256],
      ]) {
        const root = createSelfSignedCert({
          privateKeyPem: caKey.privateKeyPem,
          subject: { commonName: `root ${caKey.algorithm}` },
          validityPeriodHours: 10,
          allowedUses: ["cert_signing"],
          isCaCertificate: true,
        });
        const leaf = signCertRequest({
          certRequestPem: createCertRequest({
            privateKeyPem: leafKey.privateKeyPem,
            subject: { commonName: "leaf" },
          }).certRequestPem,
          caPrivateKeyPem: caKey.privateKeyPem,
          caCertPem: root.certPem,
          validityPeriodHours: 1,
          allowedUses: ["server_auth"],
        });
        const v = opensslVerify(root.certPem, leaf.certPem);
        assert.ok(v.ok, v.out);
      }
    });

    // The skip reason is part of the title, so it shows in mocha's pending list.
    const sshKeygen = run("sh", ["-c", "command -v ssh-keygen"]).status === 0;
    (sshKeygen ? it : it.skip)(
      `OpenSSH encodings agree with ssh-keygen${sshKeygen ? "" : " (skipped: ssh-keygen not installed; Debian package openssh-client)"}`,
      function () {
        for (const key of [
          generatePrivateKey({ algorithm: "RSA" }),
          generatePrivateKey({ algorithm: "ECDSA", ecdsaCurve: "P256" }),
          generatePrivateKey({ algorithm: "ECDSA", ecdsaCurve: "P384" }),
        ]) {
          assert.match(key.privateKeyOpenssh, /^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
          const derived = run("ssh-keygen", ["-y", "-f", tmpFile("id", key.privateKeyOpenssh)]);
          assert.equal(derived.status, 0, derived.out);
          assert.equal(derived.out.trim(), key.publicKeyOpenssh.trim());
          const fp = run("ssh-keygen", ["-l", "-E", "sha256", "-f", tmpFile("id.pub", key.publicKeyOpenssh)]);
          assert.ok(fp.out.includes(key.publicKeyFingerprintSha256), fp.out);
          const md5 = run("ssh-keygen", ["-l", "-E", "md5", "-f", tmpFile("id.pub", key.publicKeyOpenssh)]);
          assert.ok(md5.out.includes(`MD5:${key.publicKeyFingerprintMd5}`), md5.out);
        }
      },
    );

    it("encodes names like Go: PrintableString when possible, UTF8String for '*', multi-valued street RDN", function () {
      const cert = createSelfSignedCert({
        privateKeyPem: caKey.privateKeyPem,
        subject: { commonName: "*.etcd.local", organization: "Acme", streetAddresses: ["2 B St", "1 A St"] },
        validityPeriodHours: 1,
        allowedUses: [],
      });
      const parsed = run("openssl", ["asn1parse", "-in", tmpFile("c.pem", cert.certPem)]);
      assert.match(parsed.out, /OBJECT\s+:commonName\n.*UTF8STRING\s+:\*\.etcd\.local/);
      assert.match(parsed.out, /OBJECT\s+:organizationName\n.*PRINTABLESTRING\s+:Acme/);
      assert.match(
        certText(cert.certPem),
        /Subject: street = 1 A St \+ street = 2 B St, O = Acme, CN = \*\.etcd\.local/,
      );
    });

    it("@peculiar/x509 independently parses and verifies the emulated chain", async function () {
      const server = buildChain({ algorithm: "ECDSA", ecdsaCurve: "P256" }, "peculiar");
      const caCert = new x509.X509Certificate(server.ca.certPem);
      const leaf = new x509.X509Certificate(server.server.certPem);
      assert.ok(await caCert.verify({ signatureOnly: true }));
      assert.ok(await leaf.verify({ publicKey: caCert.publicKey, signatureOnly: true }));
      assert.equal(leaf.issuer, caCert.subject);
      const san = leaf.getExtension(x509.SubjectAlternativeNameExtension);
      assert.deepEqual(
        san?.names.items.map((n) => `${n.type}:${n.value}`),
        ["dns:localhost", "dns:etcd-0.etcd.kube-system.svc", "ip:127.0.0.1", "ip:::1", "ip:10.0.0.5"],
      );
      const csr = new x509.Pkcs10CertificateRequest(server.csrPem);
      assert.ok(await csr.verify());
    });
  });

  describe("ProviderEmulation under pulumi.runtime.setMocks", function () {
    let clock = new Date("2030-06-01T12:00:00Z");
    let emu: ProviderEmulation;
    const v = <T>(o: pulumi.Output<T>): Promise<T> =>
      new Promise<T>((resolve) => {
        o.apply((x) => {
          resolve(x);
          return x;
        });
      });

    class FakeBucket extends pulumi.CustomResource {
      declare readonly arn: pulumi.Output<string>;
      declare readonly bucket: pulumi.Output<string>;
      constructor(name: string) {
        super("aws:s3/bucketV2:BucketV2", name, { arn: undefined, bucket: undefined });
      }
    }
    class FakeSecret extends pulumi.CustomResource {
      declare readonly metadata: pulumi.Output<{ name: string; namespace?: string }>;
      constructor(name: string, namespace: string) {
        super("kubernetes:core/v1:Secret", name, { metadata: { namespace }, stringData: { a: "b" } });
      }
    }

    let program: {
      caKey: {
        id: pulumi.Output<string>;
        privateKeyPem: pulumi.Output<string>;
        ecdsaCurve: pulumi.Output<string>;
      };
      ca: { id: pulumi.Output<string>; certPem: pulumi.Output<string>; keyAlgorithm: pulumi.Output<string> };
      csr: { certRequestPem: pulumi.Output<string>; keyAlgorithm: pulumi.Output<string> };
      server: {
        id: pulumi.Output<string>;
        certPem: pulumi.Output<string>;
        caKeyAlgorithm: pulumi.Output<string>;
        validityStartTime: pulumi.Output<string>;
        validityEndTime: pulumi.Output<string>;
        readyForRenewal: pulumi.Output<boolean>;
        earlyRenewalHours: pulumi.Output<number>;
      };
      serverKey: { privateKeyPem: pulumi.Output<string> };
      aesKey: { base64: pulumi.Output<string>; hex: pulumi.Output<string>; length: pulumi.Output<number> };
      bucket: FakeBucket;
      secret: FakeSecret;
    };

    before(async function () {
      emu = new ProviderEmulation({ now: () => clock });
      await pulumi.runtime.setMocks(emu, "proj", "stack", false);
      const tls = await import("@pulumi/tls");
      const random = await import("@pulumi/random");
      const caKey = new tls.PrivateKey("ca-key", { algorithm: "ECDSA", ecdsaCurve: "P384" });
      const ca = new tls.SelfSignedCert("ca", {
        privateKeyPem: caKey.privateKeyPem,
        subject: { commonName: "etcd-ca", organization: "secure-etcd" },
        validityPeriodHours: 87600,
        earlyRenewalHours: 720,
        allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
        isCaCertificate: true,
      });
      const serverKey = new tls.PrivateKey("server-key", { algorithm: "RSA", rsaBits: 2048 });
      const csr = new tls.CertRequest("server-csr", {
        privateKeyPem: serverKey.privateKeyPem,
        subject: { commonName: "etcd-0" },
        dnsNames: ["localhost", "etcd-0"],
        ipAddresses: ["127.0.0.1", "::1"],
      });
      const server = new tls.LocallySignedCert("server", {
        certRequestPem: csr.certRequestPem,
        caPrivateKeyPem: pulumi.secret(caKey.privateKeyPem),
        caCertPem: ca.certPem,
        validityPeriodHours: 8760,
        earlyRenewalHours: 720,
        allowedUses: ["digital_signature", "key_encipherment", "server_auth", "client_auth"],
      });
      const aesKey = new random.RandomBytes("aescbc-key", { length: 32 });
      program = {
        caKey,
        ca,
        csr,
        server,
        serverKey,
        aesKey,
        bucket: new FakeBucket("snapshots"),
        secret: new FakeSecret("etcd-client-tls", "kube-system"),
      };
      await Promise.all([
        v(server.certPem),
        v(aesKey.hex),
        v(program.bucket.arn),
        v(program.secret.metadata),
      ]);
    });

    it("produces a real chain that openssl verifies", async function () {
      const [caPem, serverPem] = await Promise.all([v(program.ca.certPem), v(program.server.certPem)]);
      const r = opensslVerify(
        caPem,
        serverPem,
        "-purpose",
        "sslserver",
        "-attime",
        String(clock.getTime() / 1000 + 60),
      );
      assert.ok(r.ok, r.out);
      const text = certText(serverPem);
      assert.match(text, /Subject: CN = etcd-0\n/);
      assert.match(text, /DNS:localhost, DNS:etcd-0, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1/);
      assert.match(text, /Signature Algorithm: ecdsa-with-SHA384/);
      assert.equal(await v(program.server.caKeyAlgorithm), "ECDSA");
      assert.equal(await v(program.csr.keyAlgorithm), "RSA");
      assert.equal(await v(program.ca.keyAlgorithm), "ECDSA");
      assert.equal(await v(program.caKey.ecdsaCurve), "P384");
      assert.match(await v(program.caKey.privateKeyPem), /^-----BEGIN EC PRIVATE KEY-----/);
      assert.match(await v(program.serverKey.privateKeyPem), /^-----BEGIN RSA PRIVATE KEY-----/);
    });

    it("uses the emulation clock and the provider's ids", async function () {
      assert.equal(await v(program.server.validityStartTime), clock.toISOString());
      assert.equal(
        await v(program.server.validityEndTime),
        new Date(clock.getTime() + 8760 * HOUR).toISOString(),
      );
      assert.equal(await v(program.server.readyForRenewal), false);
      const serverPem = await v(program.server.certPem);
      const serial = BigInt(`0x${new nodeCrypto.X509Certificate(serverPem).serialNumber}`).toString();
      assert.equal(await v(program.server.id), serial);
      assert.equal(await v(program.ca.id), emu.get(TYPES.selfSignedCert, "ca").id);
      assert.match(await v(program.caKey.id), /^[0-9a-f]{40}$/);
    });

    it("RandomBytes gives real random bytes in base64 and hex", async function () {
      const [b64, hex, length] = await Promise.all([
        v(program.aesKey.base64),
        v(program.aesKey.hex),
        v(program.aesKey.length),
      ]);
      assert.equal(length, 32);
      assert.equal(Buffer.from(b64, "base64").length, 32);
      assert.equal(Buffer.from(b64, "base64").toString("hex"), hex);
      assert.notEqual(hex, "0".repeat(64));
      assert.equal(emu.get(TYPES.randomBytes, "aescbc-key").state.base64, b64);
    });

    it("records every resource with plain inputs/state, dependencies first", function () {
      const names = emu.resources.map((r) => r.name);
      for (const n of ["ca-key", "ca", "server-key", "server-csr", "server", "aescbc-key"])
        assert.ok(names.includes(n), n);
      assert.ok(names.indexOf("ca-key") < names.indexOf("ca"));
      assert.ok(names.indexOf("server-csr") < names.indexOf("server"));
      const server = emu.get(TYPES.locallySignedCert, "server");
      // The secret input arrives unwrapped in the registry.
      assert.match(String(server.inputs.caPrivateKeyPem), /^-----BEGIN EC PRIVATE KEY-----/);
      assert.equal(server.state.caKeyAlgorithm, "ECDSA");
      assert.equal(emu.named("ca-key").state.privateKeyPem, emu.named("ca").inputs.privateKeyPem);
      assert.throws(() => emu.get(TYPES.locallySignedCert, "nope"), /have: server/);
    });

    it("keeps secret inputs secret; leaves other outputs plain unless markSecretOutputs", async function () {
      assert.equal(await pulumi.isSecret(program.server.certPem), false);
      assert.equal(await pulumi.isSecret(program.caKey.privateKeyPem), false);
      assert.equal(
        await pulumi.isSecret(
          (program.server as unknown as { caPrivateKeyPem: pulumi.Output<string> }).caPrivateKeyPem,
        ),
        true,
      );
    });

    it("answers other types and calls with sensible placeholders", async function () {
      assert.equal(await v(program.bucket.arn), "arn:aws:s3:::snapshots");
      assert.equal(await v(program.bucket.bucket), "snapshots");
      assert.deepEqual(await v(program.secret.metadata), {
        name: "etcd-client-tls",
        namespace: "kube-system",
      });
      assert.equal(emu.named("snapshots").id, "snapshots-id");
      const identity = await pulumi.runtime.invoke("aws:index/getCallerIdentity:getCallerIdentity", {});
      assert.equal(identity.accountId, "123456789012");
      const region = await pulumi.runtime.invoke("aws:index/getRegion:getRegion", {});
      assert.equal(region.name, "us-east-1");
      const partition = await pulumi.runtime.invoke("aws:index/getPartition:getPartition", {});
      assert.equal(partition.dnsSuffix, "amazonaws.com");
      const echo = await pulumi.runtime.invoke("kubernetes:yaml:decode", { text: "a: 1" });
      assert.equal(echo.text, "a: 1");
      const other = emu.newResource({
        type: "aws:kms/key:Key",
        name: "etcd-kms",
        inputs: { description: "d" },
      });
      assert.equal(other.id, "etcd-kms-id");
      const state = other.state as { arn: string; keyId: string; description: string };
      assert.equal(state.description, "d");
      // real key ARNs end in key/<uuid>, and the same name always gets the same one
      assert.match(
        state.arn,
        /^arn:aws:kms:us-east-1:123456789012:key\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
      );
      assert.equal(state.arn.endsWith(state.keyId), true);
      const again = new ProviderEmulation().newResource({
        type: "aws:kms/key:Key",
        name: "etcd-kms",
        inputs: {},
      });
      assert.equal((again.state as { arn: string }).arn, state.arn);
    });

    it("readyForRenewal follows the clock on refresh and on Resource.get", async function () {
      const tls = await import("@pulumi/tls");
      const endTime = await v(program.server.validityEndTime);
      assert.deepEqual(emu.refresh(), []);
      clock = new Date(Date.parse(endTime) - 100 * HOUR); // inside the 720 h early-renewal window
      assert.deepEqual(
        emu.refresh().map((r) => r.name),
        ["server"],
      );
      const read = tls.LocallySignedCert.get("server-read", await v(program.server.id));
      assert.equal(await v(read.readyForRenewal), true);
      assert.equal(await v(read.certPem), await v(program.server.certPem));
      assert.equal(emu.find(TYPES.locallySignedCert, "server-read"), undefined); // reads are not creations
    });

    it("rejects an unknown allowed use, naming it", function () {
      const pem = String(emu.get(TYPES.privateKey, "ca-key").state.privateKeyPem);
      assert.throws(
        () =>
          emu.newResource({
            type: TYPES.selfSignedCert,
            name: "bad",
            inputs: { privateKeyPem: pem, validityPeriodHours: 1, allowedUses: ["server_authentication"] },
          }),
        /unsupported allowed_uses value "server_authentication"/,
      );
    });

    it("markSecretOutputs marks what the real SDK lists in additionalSecretOutputs", async function () {
      const secretEmu = new ProviderEmulation({ markSecretOutputs: true });
      await pulumi.runtime.setMocks(secretEmu, "proj", "stack", false);
      const tls = await import("@pulumi/tls");
      const random = await import("@pulumi/random");
      const key = new tls.PrivateKey("k", { algorithm: "ECDSA", ecdsaCurve: "P256" });
      const bytes = new random.RandomBytes("b", { length: 16 });
      assert.equal(await pulumi.isSecret(key.privateKeyPem), true);
      assert.equal(await pulumi.isSecret(key.privateKeyPemPkcs8), true);
      assert.equal(await pulumi.isSecret(key.privateKeyOpenssh), true);
      assert.equal(await pulumi.isSecret(key.publicKeyPem), false);
      assert.equal(await pulumi.isSecret(bytes.base64), true);
      assert.match(await v(key.privateKeyPem), /^-----BEGIN EC PRIVATE KEY-----/);
      assert.match(await v(key.privateKeyPemPkcs8), /^-----BEGIN PRIVATE KEY-----/);
      // The registry holds the plain values.
      const state = secretEmu.get(TYPES.privateKey, "k").state;
      assert.match(String(state.privateKeyPem), /^-----BEGIN EC PRIVATE KEY-----/);
      assert.match(String(state.privateKeyPemPkcs8), /^-----BEGIN PRIVATE KEY-----/);
    });
  });
});
