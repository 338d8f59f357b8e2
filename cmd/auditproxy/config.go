package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/auditproxy/auditproxy/output"
	"gopkg.in/yaml.v3"
)

// config is every setting of run. It is read from --config (YAML, same
// names), then flags given on the command line override it.
type config struct {
	Listen          string        `yaml:"listen"`
	Upstream        string        `yaml:"upstream"`
	Rules           string        `yaml:"rules"`
	GeoIP           string        `yaml:"geoip"`
	Outputs         outputList    `yaml:"outputs"`
	TrustedProxies  []string      `yaml:"trusted_proxies"`
	KeepHost        bool          `yaml:"keep_host"`
	BodyLimit       int64         `yaml:"body_limit"`
	UpstreamTimeout time.Duration `yaml:"upstream_timeout"`
	App             string        `yaml:"app"`
	QueueSize       int           `yaml:"queue_size"`

	// DataDir holds disk buffers and dead-letter files of outputs that do
	// not name their own.
	DataDir string `yaml:"data_dir"`
	// Admin is the admin listener's address (metrics, health); "" = off.
	Admin string `yaml:"admin"`
	// ActivityLog serves the query API and web viewer on the admin
	// listener; nil: off.
	ActivityLog *activityLogConfig `yaml:"activity_log"`

	// ShutdownTimeout bounds delivering what is queued on SIGTERM; the
	// rest stays in disk buffers for the next start.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`

	// BeforeTimeout bounds a rule's before: pre-fetch; 0: 2s.
	BeforeTimeout time.Duration `yaml:"before_timeout"`

	// TLS on the listener: certificate and key files; ClientCA, when set,
	// asks clients for certificates and verifies them against it (mTLS),
	// so rules can read tls.cn and friends.
	TLSCert  string `yaml:"tls_cert"`
	TLSKey   string `yaml:"tls_key"`
	ClientCA string `yaml:"client_ca"`

	// Identities learned by rules' bind: (session cookie -> user).
	IdentitiesFile string        `yaml:"identities_file"` // "" keeps them in memory only
	IdentitiesTTL  time.Duration `yaml:"identities_ttl"`  // 0: 24h
	IdentitiesMax  int           `yaml:"identities_max"`  // 0: 100000

	// Chain holds the hash chain's options; its state is kept in the
	// data dir.
	Chain chainConfig `yaml:"chain"`

	// GCHeapFloorMiB holds the garbage collector's heap goal at this many
	// MiB at least (internal/gcfloor): fewer collections while the live
	// heap is small. 0 turns it off; a GOGC environment variable wins.
	GCHeapFloorMiB int `yaml:"gc_heap_floor_mib"`
}

// chainConfig: with a signing key, signed checkpoints go into the trail
// (package chain), so that verify --key can tell a trail cut short.
//
//	chain:
//	  signing_key: /etc/auditproxy/signing.pem   # openssl genpkey -algorithm ed25519
//	  checkpoint_interval: 1m
type chainConfig struct {
	SigningKey string `yaml:"signing_key"` // PEM PKCS#8 Ed25519; "": no checkpoints
	// CheckpointInterval is how often a checkpoint is written, traffic or
	// not; 0: a minute. Verify --max-age should allow a little more.
	CheckpointInterval time.Duration `yaml:"checkpoint_interval"`
}

func defaultConfig() config {
	return config{
		Listen:          "127.0.0.1:8080",
		Rules:           "rules.yaml",
		BodyLimit:       1 << 20,
		UpstreamTimeout: 60 * time.Second,
		DataDir:         "auditproxy-data",
		ShutdownTimeout: 10 * time.Second,
		GCHeapFloorMiB:  defaultGCHeapFloorMiB,
	}
}

// listFlag is a repeatable flag: --output stdout --output file:/x.
type listFlag struct{ values *[]string }

func (l listFlag) String() string {
	if l.values == nil {
		return ""
	}
	return strings.Join(*l.values, ",")
}
func (l listFlag) Set(v string) error { *l.values = append(*l.values, v); return nil }

// parseRunFlags reads the config file (if any) and the flags, flags winning.
func parseRunFlags(name string, args []string, stderr io.Writer) (config, error) {
	var flags config
	var configFile string
	var outputFlags []string
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&configFile, "config", "", "YAML file with these settings (flags override it)")
	fs.StringVar(&flags.Listen, "listen", "127.0.0.1:8080", "address to accept client traffic on")
	fs.StringVar(&flags.Upstream, "upstream", "", "URL of the app behind the proxy, e.g. http://127.0.0.1:3000")
	fs.StringVar(&flags.Rules, "rules", "rules.yaml", "rules file")
	fs.StringVar(&flags.GeoIP, "geoip", "", "MaxMind or DB-IP .mmdb file for the client's country (optional)")
	fs.Var(listFlag{&outputFlags}, "output", "where events go: stdout, file:PATH, http:URL, syslog:tcp://HOST:PORT, ... (repeatable; default stdout); the config file's outputs: list takes every option")
	fs.StringVar(&flags.DataDir, "data-dir", "auditproxy-data", "where disk buffers and dead-letter files go")
	fs.StringVar(&flags.Admin, "admin", "", "address of the admin listener (Prometheus /metrics, /healthz, /readyz); default off")
	fs.Var(listFlag{&flags.TrustedProxies}, "trusted-proxy", "CIDR of a proxy in front of auditproxy whose X-Forwarded-For is believed (repeatable)")
	fs.BoolVar(&flags.KeepHost, "keep-host", false, "pass the client's Host header upstream instead of the upstream's")
	fs.Int64Var(&flags.BodyLimit, "body-limit", 1<<20, "bytes of each body captured for extraction; larger bodies stream through, unextracted")
	fs.DurationVar(&flags.UpstreamTimeout, "upstream-timeout", 60*time.Second, "time to wait for the upstream's response head before answering 504")
	fs.StringVar(&flags.App, "app", "", "name of the app, copied into every event")
	fs.IntVar(&flags.QueueSize, "queue-size", 8192, "exchanges waiting to become events; beyond it they are dropped, counted and reported")
	fs.DurationVar(&flags.BeforeTimeout, "before-timeout", 2*time.Second, "bound on a rule's before: pre-fetch of the previous state")
	fs.StringVar(&flags.TLSCert, "tls-cert", "", "serve TLS with this certificate (PEM)")
	fs.StringVar(&flags.TLSKey, "tls-key", "", "key of --tls-cert (PEM)")
	fs.StringVar(&flags.ClientCA, "client-ca", "", "CA bundle (PEM) to verify client certificates against (mTLS); needs --tls-cert")
	fs.StringVar(&flags.IdentitiesFile, "identities-file", "", "file keeping identities that rules learn (bind:) across restarts; default: memory only")
	fs.StringVar(&flags.Chain.SigningKey, "signing-key", "", "Ed25519 private key (PEM PKCS#8) to sign checkpoints of the hash chain with; default: no checkpoints")
	fs.DurationVar(&flags.Chain.CheckpointInterval, "checkpoint-interval", time.Minute, "how often a signed checkpoint goes into the trail (with --signing-key)")
	fs.IntVar(&flags.GCHeapFloorMiB, "gc-heap-floor-mib", defaultGCHeapFloorMiB, "let the heap grow to this many MiB between garbage collections (0: Go's default; GOGC, when set, wins)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}

	cfg := defaultConfig()
	if configFile != "" {
		var err error
		if cfg, err = readConfig(configFile); err != nil {
			return config{}, err
		}
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "listen":
			cfg.Listen = flags.Listen
		case "upstream":
			cfg.Upstream = flags.Upstream
		case "rules":
			cfg.Rules = flags.Rules
		case "geoip":
			cfg.GeoIP = flags.GeoIP
		case "data-dir":
			cfg.DataDir = flags.DataDir
		case "admin":
			cfg.Admin = flags.Admin
		case "trusted-proxy":
			cfg.TrustedProxies = flags.TrustedProxies
		case "keep-host":
			cfg.KeepHost = flags.KeepHost
		case "body-limit":
			cfg.BodyLimit = flags.BodyLimit
		case "upstream-timeout":
			cfg.UpstreamTimeout = flags.UpstreamTimeout
		case "app":
			cfg.App = flags.App
		case "queue-size":
			cfg.QueueSize = flags.QueueSize
		case "before-timeout":
			cfg.BeforeTimeout = flags.BeforeTimeout
		case "tls-cert":
			cfg.TLSCert = flags.TLSCert
		case "tls-key":
			cfg.TLSKey = flags.TLSKey
		case "client-ca":
			cfg.ClientCA = flags.ClientCA
		case "identities-file":
			cfg.IdentitiesFile = flags.IdentitiesFile
		case "signing-key":
			cfg.Chain.SigningKey = flags.Chain.SigningKey
		case "checkpoint-interval":
			cfg.Chain.CheckpointInterval = flags.Chain.CheckpointInterval
		case "gc-heap-floor-mib":
			cfg.GCHeapFloorMiB = flags.GCHeapFloorMiB
		}
	})
	if len(outputFlags) > 0 {
		specs, err := outputsFromFlags(outputFlags...)
		if err != nil {
			return config{}, err
		}
		cfg.Outputs = specs
	}
	if len(cfg.Outputs) == 0 {
		cfg.Outputs, _ = outputsFromFlags("stdout")
	}
	return cfg, nil
}

// readConfig reads a config file over the defaults; unknown keys are errors.
func readConfig(path string) (config, error) {
	cfg := defaultConfig()
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("reading config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && err != io.EOF {
		return cfg, fmt.Errorf("reading config %s: %w", path, err)
	}
	return cfg, nil
}

// upstreamURL and trustedPrefixes turn text settings into values, with
// messages that name the setting.
func (c config) upstreamURL() (*url.URL, error) {
	if c.Upstream == "" {
		return nil, fmt.Errorf("no upstream: give --upstream http://HOST:PORT (the app to put behind the proxy)")
	}
	u, err := url.Parse(c.Upstream)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("upstream %q: want an http:// or https:// URL with a host", c.Upstream)
	}
	return u, nil
}

func (c config) trustedPrefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range c.TrustedProxies {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("trusted proxy %q: want a CIDR like 10.0.0.0/8 or an address", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// tlsConfig is the listener's TLS, nil for plain HTTP.
func (c config) tlsConfig() (*tls.Config, error) {
	if c.TLSCert == "" && c.TLSKey == "" {
		if c.ClientCA != "" {
			return nil, fmt.Errorf("client_ca needs tls_cert and tls_key: client certificates come with TLS")
		}
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("loading TLS certificate: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if c.ClientCA != "" {
		pem, err := os.ReadFile(c.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("reading client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("reading client CA %s: no PEM certificates in it", c.ClientCA)
		}
		// Verify a certificate when one is given; clients without one still
		// pass, as the app decides who may do what.
		tc.ClientCAs, tc.ClientAuth = pool, tls.VerifyClientCertIfGiven
	}
	return tc, nil
}

// outputList is the config file's outputs: each entry a mapping with every
// option (output.Spec), or the flag shorthand as a string ("file:/x").
type outputList []output.Spec

func (l *outputList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.SequenceNode {
		return fmt.Errorf("line %d: outputs: want a list", n.Line)
	}
	for _, item := range n.Content {
		if item.Kind == yaml.ScalarNode {
			s, err := output.ParseFlag(item.Value)
			if err != nil {
				return fmt.Errorf("line %d: outputs: %w", item.Line, err)
			}
			s.Line = item.Line
			*l = append(*l, s)
			continue
		}
		var s output.Spec
		if err := item.Decode(&s); err != nil {
			return err
		}
		*l = append(*l, s)
	}
	return nil
}

// outputsFromFlags turns --output values into specs.
func outputsFromFlags(flags ...string) (outputList, error) {
	var l outputList
	for _, f := range flags {
		s, err := output.ParseFlag(f)
		if err != nil {
			return nil, fmt.Errorf("--output %s: %w", f, err)
		}
		l = append(l, s)
	}
	return l, nil
}

// names gives every output a name: its own, or its type, numbered when the
// type repeats (file, file-2).
func (l outputList) named() outputList {
	out := make(outputList, len(l))
	seen := map[string]int{}
	for i, s := range l {
		if s.Name == "" {
			s.Name = s.Type
		}
		seen[s.Name]++
		if n := seen[s.Name]; n > 1 {
			s.Name = fmt.Sprintf("%s-%d", s.Name, n)
		}
		out[i] = s
	}
	return out
}

func (l outputList) names() []string {
	var out []string
	for _, s := range l.named() {
		out = append(out, s.Name)
	}
	return out
}
