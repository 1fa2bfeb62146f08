// Command kms-plugin is secure-etcd's KMS v2 TEST plugin: a stand-in for aws-encryption-provider
// (sigs.k8s.io/aws-encryption-provider), which this machine's Go module proxy does not serve, so the
// drills can run kube-apiserver's kms v2 provider against AWS KMS (moto's, in the drills) with the
// command line the package renders for the real plugin.
//
// What it copies from aws-encryption-provider (cmd/server/main.go, pkg/plugin/plugin_v2.go,
// pkg/cloud/cloud.go at 6d4f71e, 2026-06-16):
//   - the flags it renders: --key, --listen (lists, paired by position; comma-separated or repeated),
//     --encryption-context (one per key), --region, --kms-endpoint, --health-port, --healthz-path,
//     --livez-path, --health-kms-version, --debug;
//   - the AWS calls: kms:Encrypt and kms:Decrypt only, with the encryption context when one is given
//     (no DescribeKey, no GenerateDataKey), so a key policy that lets the plugin work here lets the real
//     one work;
//   - the ciphertext: "1" (its KMS storage version) followed by KMS's CiphertextBlob;
//   - Status: the key's ARN as key_id; healthz "ok" after an Encrypt+Decrypt round trip, cached for the
//     health-check period (30 s), "err" otherwise; KMS errors seen by real calls count too.
//
// What differs: it serves only the v2 API (--health-kms-version must be v2); it reports Status version
// "v2" (the real plugin says "v2beta1"; kube-apiserver accepts both); it adds --version and
// --health-check-period; it sets the socket's mode to 0600.
package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"
	flag "github.com/spf13/pflag"
	"k8s.io/kms/pkg/service"
)

// gitVersion is set at build time by scripts/build-upstream.mjs (-X main.gitVersion=v<version>).
var gitVersion = "v0.0.0-unset"

// storageVersion is the byte aws-encryption-provider puts before KMS's ciphertext (kmsplugin.KMSStorageVersionV2).
const storageVersion = '1'

type kmsAPI interface {
	Encrypt(ctx context.Context, in *kms.EncryptInput, opts ...func(*kms.Options)) (*kms.EncryptOutput, error)
	Decrypt(ctx context.Context, in *kms.DecryptInput, opts ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

// health is the last KMS round trip's outcome, shared by Status and /healthz like the real plugin's.
type health struct {
	mu     sync.Mutex
	at     time.Time
	err    error
	period time.Duration
}

func (h *health) record(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.at, h.err = time.Now(), err
}

// recent returns the cached outcome when it is younger than the period.
func (h *health) recent() (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return !h.at.IsZero() && time.Since(h.at) < h.period, h.err
}

// plugin is one key on one socket: the k8s.io/kms Service kube-apiserver talks to.
type plugin struct {
	key     string
	context map[string]string
	client  kmsAPI
	health  *health
	debug   bool
}

var _ service.Service = (*plugin)(nil)

func (p *plugin) Encrypt(ctx context.Context, _ string, data []byte) (*service.EncryptResponse, error) {
	in := &kms.EncryptInput{KeyId: aws.String(p.key), Plaintext: data}
	if len(p.context) > 0 {
		in.EncryptionContext = p.context
	}
	out, err := p.client.Encrypt(ctx, in)
	p.health.record(err)
	if err != nil {
		log.Printf("encrypt with %s failed: %v", p.key, err)
		return nil, fmt.Errorf("failed to encrypt %w", err)
	}
	if p.debug {
		log.Printf("encrypt with %s: ok", p.key)
	}
	return &service.EncryptResponse{
		Ciphertext: append([]byte{storageVersion}, out.CiphertextBlob...),
		KeyID:      p.key,
	}, nil
}

func (p *plugin) Decrypt(ctx context.Context, _ string, req *service.DecryptRequest) ([]byte, error) {
	if len(req.Ciphertext) == 0 {
		return nil, errors.New("invalid empty ciphertext")
	}
	if req.Ciphertext[0] != storageVersion {
		return nil, fmt.Errorf("version %q in Ciphertext doesn't match kmsplugin", req.Ciphertext[0])
	}
	in := &kms.DecryptInput{CiphertextBlob: req.Ciphertext[1:]}
	if len(p.context) > 0 {
		in.EncryptionContext = p.context
	}
	out, err := p.client.Decrypt(ctx, in)
	if err != nil {
		p.health.record(err)
		log.Printf("decrypt (key id %q) failed: %v", req.KeyID, err)
		return nil, fmt.Errorf("failed to decrypt %w", err)
	}
	if p.debug {
		log.Printf("decrypt (key id %q): ok", req.KeyID)
	}
	return out.Plaintext, nil
}

// check runs the real plugin's health check: an Encrypt then a Decrypt, unless one ran recently.
func (p *plugin) check() error {
	if recent, err := p.health.recent(); recent {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	enc, err := p.Encrypt(ctx, "", []byte("foo"))
	if err != nil {
		return err
	}
	_, err = p.Decrypt(ctx, "", &service.DecryptRequest{Ciphertext: enc.Ciphertext, KeyID: enc.KeyID})
	p.health.record(err)
	return err
}

func (p *plugin) Status(context.Context) (*service.StatusResponse, error) {
	healthz := "ok"
	if err := p.check(); err != nil {
		healthz = "err"
	}
	return &service.StatusResponse{Version: "v2", Healthz: healthz, KeyID: p.key}, nil
}

// userInduced: errors the real plugin's /livez does not count (a disabled or missing key, denied access,
// throttling): the process is alive, KMS answered.
func userInduced(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "DisabledException", "KMSInvalidStateException", "KeyUnavailableException", "NotFoundException",
		"InvalidGrantTokenException", "AccessDeniedException", "ThrottlingException":
		return true
	}
	return false
}

func healthHandler(plugins []*plugin, live bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		for _, p := range plugins {
			if err := p.check(); err != nil && !(live && userInduced(err)) {
				w.WriteHeader(http.StatusInternalServerError)
				fmt.Fprint(w, err)
				return
			}
		}
		fmt.Fprint(w, http.StatusText(http.StatusOK))
	})
}

// parseContext reads one --encryption-context value ("a=b,c=d"), as the real plugin does.
func parseContext(v string) (map[string]string, error) {
	v = strings.Trim(v, "[]")
	out := map[string]string{}
	if v == "" {
		return out, nil
	}
	pairs, err := csv.NewReader(strings.NewReader(v)).Read()
	if err != nil {
		return nil, err
	}
	for _, pair := range pairs {
		kv := strings.SplitN(pair, "=", 2)
		if len(kv) != 2 {
			return nil, fmt.Errorf("%s must be formatted as key=value", pair)
		}
		out[kv[0]] = kv[1]
	}
	return out, nil
}

func usage(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "kms-plugin: "+format+"\n", a...)
	os.Exit(2)
}

func main() {
	fs := flag.NewFlagSet("kms-plugin", flag.ContinueOnError)
	var (
		healthPort  = fs.String("health-port", ":8080", "address to serve /healthz and /livez on")
		healthzPath = fs.String("healthz-path", "/healthz", "deep health check path")
		livezPath   = fs.String("livez-path", "/livez", "liveness check path")
		listen      = fs.StringSlice("listen", []string{"/var/run/kmsplugin/socket.sock"}, "unix socket paths (one per key)")
		keys        = fs.StringSlice("key", []string{""}, "AWS KMS key ARNs (one per socket)")
		healthKms   = fs.String("health-kms-version", "v1", "KMS API version of the health check (this plugin serves only v2)")
		region      = fs.String("region", "", "AWS region")
		endpoint    = fs.String("kms-endpoint", "", "AWS KMS endpoint instead of the SDK's")
		contexts    = fs.StringArray("encryption-context", nil, "AWS KMS encryption context per key (e.g. 'a=b,c=d')")
		debug       = fs.Bool("debug", false, "log every call")
		period      = fs.Duration("health-check-period", 30*time.Second, "how long a health check's outcome is reused (test plugin only)")
		version     = fs.Bool("version", false, "print the version and exit (test plugin only)")
	)
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		usage("%v", err)
	}
	if *version {
		fmt.Printf("secure-etcd kms-plugin %s (KMS v2 test plugin; flags of aws-encryption-provider)\n", gitVersion)
		return
	}
	if *healthKms != "v2" {
		usage("--health-kms-version=%s: this test plugin serves only the KMS v2 API; pass --health-kms-version=v2", *healthKms)
	}
	if len(*keys) != len(*listen) {
		usage("key and listen lists must have the same number of elements (%d keys, %d sockets)", len(*keys), len(*listen))
	}
	if len(*contexts) > len(*keys) {
		usage("%d --encryption-context values for %d keys", len(*contexts), len(*keys))
	}
	for i, k := range *keys {
		if k == "" {
			usage("--key #%d is empty: pass the AWS KMS key ARN", i+1)
		}
	}

	opts := []func(*config.LoadOptions) error{}
	if *region != "" {
		opts = append(opts, config.WithRegion(*region))
	}
	cfg, err := config.LoadDefaultConfig(context.Background(), opts...)
	if err != nil {
		log.Fatalf("cannot load the AWS configuration: %v", err)
	}
	if cfg.Region == "" {
		usage("no AWS region: pass --region")
	}
	client := kms.NewFromConfig(cfg, func(o *kms.Options) {
		if *endpoint != "" {
			o.BaseEndpoint = aws.String(*endpoint)
		}
	})

	plugins := make([]*plugin, len(*keys))
	for i, k := range *keys {
		ctxMap := map[string]string{}
		if i < len(*contexts) {
			if ctxMap, err = parseContext((*contexts)[i]); err != nil {
				usage("--encryption-context %q: %v", (*contexts)[i], err)
			}
		}
		// One health record per key: one key disabled must not hide behind another's success.
		plugins[i] = &plugin{key: k, context: ctxMap, client: client, health: &health{period: *period}, debug: *debug}
	}

	mux := http.NewServeMux()
	mux.Handle(*healthzPath, healthHandler(plugins, false))
	mux.Handle(*livezPath, healthHandler(plugins, true))
	go func() {
		log.Fatalf("health server on %s: %v", *healthPort, http.ListenAndServe(*healthPort, mux))
	}()

	servers := make([]*service.GRPCService, len(plugins))
	for i, p := range plugins {
		addr := (*listen)[i]
		if err := os.Remove(addr); err != nil && !os.IsNotExist(err) {
			log.Fatalf("cannot remove the old socket %s: %v", addr, err)
		}
		servers[i] = service.NewGRPCService(addr, 30*time.Second, p)
		go func(s *service.GRPCService, addr string) {
			if err := s.ListenAndServe(); err != nil {
				log.Fatalf("KMS v2 service on %s: %v", addr, err)
			}
		}(servers[i], addr)
		go restrictSocket(addr)
		log.Printf("serving KMS v2 for key %s on %s (region %s)", p.key, addr, cfg.Region)
	}

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	log.Printf("received %v, shutting down", <-signals)
	for _, s := range servers {
		s.Shutdown()
	}
}

// restrictSocket makes the socket 0600 once it exists: only root (kube-apiserver) may call the plugin.
func restrictSocket(addr string) {
	for i := 0; i < 100; i++ {
		if err := os.Chmod(addr, 0o600); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	log.Printf("socket %s did not appear; its mode is unchanged", addr)
}
