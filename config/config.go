// Package config loads hookworker's settings from the environment.
//
// Every setting is a HOOKWORKER_ variable with a documented default; Load reads
// them, fills in the computed defaults and validates the result. Every error
// names the variable it is about and never repeats a secret.
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/hookworker/hookworker/internal/auth"
	"github.com/hookworker/hookworker/proxies"
	"github.com/hookworker/hookworker/sender"
)

// Prefix starts the name of every variable hookworker reads.
const Prefix = "HOOKWORKER"

// Config holds every setting. A field's envconfig tag is its variable's
// full name, its default tag the value used when the variable is not set,
// and its desc tag the meaning that hookworker -h and docs/configuration.md
// show; a shown tag, where present, is what they show as the default.
type Config struct {
	// NATSURL is the NATS server URL or URLs, comma-separated. Empty starts an
	// embedded JetStream server. Defaults to empty.
	NATSURL string `envconfig:"HOOKWORKER_NATS_URL" desc:"NATS server URL(s), comma-separated; empty starts an embedded JetStream server" shown:"(embedded)"`
	// NATSCreds is a credentials file for the NATS connection. Defaults to
	// empty (none).
	NATSCreds string `envconfig:"HOOKWORKER_NATS_CREDS" desc:"credentials file for the NATS connection (a user JWT and an nkey seed, checked at start-up)"`
	// EmbeddedListen is where the embedded server listens for producers, as
	// host:port. Used only when NATSURL is empty. Defaults to 127.0.0.1:4222.
	EmbeddedListen string `envconfig:"HOOKWORKER_EMBEDDED_LISTEN" default:"127.0.0.1:4222" desc:"host:port the embedded NATS server listens on"`
	// EmbeddedDir is the embedded server's JetStream store. Used only when
	// NATSURL is empty. Defaults to ./data.
	EmbeddedDir string `envconfig:"HOOKWORKER_EMBEDDED_DIR" default:"./data" desc:"the embedded NATS server's JetStream store directory"`
	// Replicas is the replica count of every stream and key-value bucket
	// the worker creates: 1, or 3 (or 5) on a NATS cluster, at most 5. An
	// existing stream or bucket keeps its own, with a warning naming it when
	// it differs. More than 1 needs NATSURL. Defaults to 1.
	Replicas int `envconfig:"HOOKWORKER_REPLICAS" default:"1" desc:"replica count of every stream and bucket the worker creates (3 on a three-server cluster), at most 5; existing ones keep theirs"`

	// Subject is the subject jobs are published on. Defaults to hooks.send.
	Subject string `envconfig:"HOOKWORKER_SUBJECT" default:"hooks.send" desc:"subject jobs are published on"`
	// Stream is the job stream (WorkQueue retention). Defaults to HOOKS.
	Stream string `envconfig:"HOOKWORKER_STREAM" default:"HOOKS" desc:"job stream (work queue), created when missing"`
	// Durable is the durable consumer every worker process shares. Defaults
	// to hookworker.
	Durable string `envconfig:"HOOKWORKER_DURABLE" default:"hookworker" desc:"durable consumer shared by every worker process"`
	// ResultSubject is the subject results are published on. Defaults to
	// hooks.result.
	ResultSubject string `envconfig:"HOOKWORKER_RESULT_SUBJECT" default:"hooks.result" desc:"subject results are published on"`
	// ResultStream keeps the delivery history (Limits retention). Defaults to
	// HOOKS_RESULTS.
	ResultStream string `envconfig:"HOOKWORKER_RESULT_STREAM" default:"HOOKS_RESULTS" desc:"result stream (delivery history), created when missing"`
	// ResultMaxAge is how long the result stream keeps a result; zero keeps
	// results for ever. Defaults to 168h (7 days).
	ResultMaxAge time.Duration `envconfig:"HOOKWORKER_RESULT_MAX_AGE" default:"168h" desc:"how long the result stream keeps results; 0 keeps them for ever"`

	// Concurrency is the number of jobs in flight in one process. Zero lets
	// the worker choose: 64 per CPU, at least 64. Defaults to 0.
	Concurrency int `envconfig:"HOOKWORKER_CONCURRENCY" default:"0" desc:"jobs in flight in one process; 0: 64 per CPU, at least 64" shown:"0 (64 per CPU)"`
	// HostConcurrency is the number of jobs one destination host (host:port)
	// may hold in flight in one process. Zero means a quarter of Concurrency,
	// at least 1. Defaults to 0.
	HostConcurrency int `envconfig:"HOOKWORKER_HOST_CONCURRENCY" default:"0" desc:"jobs one destination host:port may hold in flight; 0: a quarter of CONCURRENCY" shown:"0 (CONCURRENCY/4)"`
	// AckWait is the durable consumer's AckWait; in-flight jobs are kept
	// alive past it. At least 1s. Defaults to 30s.
	AckWait time.Duration `envconfig:"HOOKWORKER_ACK_WAIT" default:"30s" desc:"the durable consumer's AckWait; in-flight jobs are kept alive past it"`
	// ShutdownTimeout is the grace period for in-flight jobs on SIGINT or
	// SIGTERM. Defaults to 30s.
	ShutdownTimeout time.Duration `envconfig:"HOOKWORKER_SHUTDOWN_TIMEOUT" default:"30s" desc:"grace period for in-flight jobs on SIGINT / SIGTERM"`

	// Timeout bounds one HTTP attempt, and is the most a job may ask for.
	// Defaults to 15s.
	Timeout time.Duration `envconfig:"HOOKWORKER_TIMEOUT" default:"15s" desc:"per-attempt HTTP timeout (the most a job may ask for)"`
	// MaxRetries bounds retries on 429, 408, 425 and 5xx, and is the most a
	// job may ask for. Defaults to 3.
	MaxRetries int `envconfig:"HOOKWORKER_MAX_RETRIES" default:"3" desc:"retries on 429 / 408 / 425 / 5xx (the most a job may ask for)"`
	// MaxProxyRetries bounds proxy rotations on timeouts and connection
	// errors, and is the most a job may ask for. Defaults to 3.
	MaxProxyRetries int `envconfig:"HOOKWORKER_MAX_PROXY_RETRIES" default:"3" desc:"proxy rotations on timeouts and connection errors (the most a job may ask for)"`
	// BackoffMin is the first retry wait; each retry doubles it. Defaults to
	// 500ms.
	BackoffMin time.Duration `envconfig:"HOOKWORKER_BACKOFF_MIN" default:"500ms" desc:"first exponential backoff wait"`
	// BackoffMax caps the backoff. Defaults to 30s.
	BackoffMax time.Duration `envconfig:"HOOKWORKER_BACKOFF_MAX" default:"30s" desc:"longest exponential backoff wait"`
	// DeferAfter: a retry wait longer than this frees the job's slot and the
	// job is redelivered when the wait is over. Zero never defers. Defaults
	// to 10s.
	DeferAfter time.Duration `envconfig:"HOOKWORKER_DEFER_AFTER" default:"10s" desc:"a retry wait longer than this frees the slot; the job is redelivered after it; 0 never defers"`
	// MaxRetryWait is the longest Retry-After honoured; a longer one fails
	// the job. Zero means no limit. Defaults to 1h.
	MaxRetryWait time.Duration `envconfig:"HOOKWORKER_MAX_RETRY_WAIT" default:"1h" desc:"longest Retry-After honoured; a longer one fails the job; 0: no limit"`
	// MaxRedeliveries is how many deliveries of a job may be lost without an
	// acknowledgement (a worker died) before the job gets a failed result.
	// Defaults to 5.
	MaxRedeliveries int `envconfig:"HOOKWORKER_MAX_REDELIVERIES" default:"5" desc:"deliveries lost without an ack (worker died) before a job is failed"`

	// Proxies is the raw comma-separated proxy list: host:port,
	// host:port:user:pass or a URL such as http://user:pass@host:port. See
	// ProxyList. Defaults to empty (direct).
	Proxies string `envconfig:"HOOKWORKER_PROXIES" desc:"comma-separated proxies: host:port, host:port:user:pass or http://user:pass@host:port"`
	// ProxiesFile names a file of proxies, one a line, added to Proxies.
	// Defaults to empty.
	ProxiesFile string `envconfig:"HOOKWORKER_PROXIES_FILE" desc:"file of proxies, one a line (# comments), at most 1 MiB and 100,000 lines"`
	// ProxyCooldown is how long a burned proxy stays out of rotation.
	// Defaults to 1m.
	ProxyCooldown time.Duration `envconfig:"HOOKWORKER_PROXY_COOLDOWN" default:"1m" desc:"how long a burned proxy stays out of rotation"`

	// SigningSecret is the Standard Webhooks secret, "whsec_" followed by
	// 32 to 100 characters of base64 (a key of 24 to 75 bytes; see package
	// internal/secret). Empty sends unsigned requests. Defaults to empty.
	SigningSecret string `envconfig:"HOOKWORKER_SIGNING_SECRET" desc:"whsec_… secret for Standard Webhooks signatures, 32 to 100 base64 characters (a key of 24 to 75 bytes)"`
	// DiscordUsername is the default Discord webhook username. Defaults to
	// empty (the webhook's own).
	DiscordUsername string `envconfig:"HOOKWORKER_DISCORD_USERNAME" desc:"default Discord username"`
	// DiscordAvatarURL is the default Discord avatar, an http(s) URL.
	// Defaults to empty (the webhook's own).
	DiscordAvatarURL string `envconfig:"HOOKWORKER_DISCORD_AVATAR_URL" desc:"default Discord avatar URL"`
	// SlackInterval is the pace of one Slack webhook once its burst of two
	// is spent. Defaults to 1s, Slack's documented rate.
	SlackInterval time.Duration `envconfig:"HOOKWORKER_SLACK_INTERVAL" default:"1s" desc:"time between two messages to one Slack webhook once its burst is spent"`
	// AllowPrivateNetworks allows destinations on loopback, private,
	// link-local and other non-public addresses. Defaults to false.
	AllowPrivateNetworks bool `envconfig:"HOOKWORKER_ALLOW_PRIVATE_NETWORKS" default:"false" desc:"allow destinations on loopback, private, link-local and other non-public addresses"`
	// AllowedNetworks are non-public networks allowed anyway, as CIDRs.
	// Defaults to empty.
	AllowedNetworks Networks `envconfig:"HOOKWORKER_ALLOWED_NETWORKS" desc:"comma-separated CIDRs allowed even though non-public, e.g. 10.1.0.0/16"`

	// HTTPAddr is where /metrics, /healthz and /readyz are served, as
	// host:port. Empty turns the server off. Defaults to empty.
	HTTPAddr string `envconfig:"HOOKWORKER_HTTP_ADDR" desc:"host:port for /metrics, /healthz and /readyz, e.g. :9464" shown:"(off)"`
	// LogLevel is debug, info, warn or error. Defaults to info.
	LogLevel string `envconfig:"HOOKWORKER_LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`
	// LogFormat is text (tint, coloured on a terminal) or json. Defaults to
	// text.
	LogFormat string `envconfig:"HOOKWORKER_LOG_FORMAT" default:"text" desc:"text (coloured on a terminal) or json"`

	// Events and endpoints.

	// APIPrefix starts the subjects of the event and endpoint API (the NATS
	// micro service "hookworker"). Defaults to hooks.api.
	APIPrefix string `envconfig:"HOOKWORKER_API_PREFIX" default:"hooks.api" desc:"subject prefix of the event and endpoint API (micro service hookworker)"`
	// SecretGrace is how long an endpoint's rotated-out secret keeps
	// signing. Defaults to 24h.
	SecretGrace time.Duration `envconfig:"HOOKWORKER_SECRET_GRACE" default:"24h" desc:"how long a rotated-out endpoint secret keeps signing"`
	// EventMaxAge is how long the event stream keeps an event; zero keeps
	// events for ever. Defaults to 720h (30 days).
	EventMaxAge time.Duration `envconfig:"HOOKWORKER_EVENT_MAX_AGE" default:"720h" desc:"how long the event stream HOOKS_EVENTS keeps events; 0 keeps them for ever"`
	// AttemptLog says which HTTP attempts the delivery log records:
	// "events" (the attempts of event jobs), "all" or "off". Defaults to
	// events.
	AttemptLog string `envconfig:"HOOKWORKER_ATTEMPT_LOG" default:"events" desc:"which HTTP attempts the delivery log HOOKS_ATTEMPTS records: events (of event jobs), all or off"`
	// AttemptMaxAge is how long the attempt stream keeps a record; zero
	// keeps records for ever. Defaults to 720h (30 days).
	AttemptMaxAge time.Duration `envconfig:"HOOKWORKER_ATTEMPT_MAX_AGE" default:"720h" desc:"how long the attempt stream HOOKS_ATTEMPTS keeps records; 0 keeps them for ever"`
	// RetrySchedule is the wait before each retry of an event job (a job's
	// own retry_schedule replaces it). Defaults to
	// 5s,5m,30m,2h,5h,10h,14h,20h,24h.
	RetrySchedule Schedule `envconfig:"HOOKWORKER_RETRY_SCHEDULE" default:"5s,5m,30m,2h,5h,10h,14h,20h,24h" desc:"comma-separated waits before each retry of an event job"`
	// DisableAfter disables an endpoint every delivery to which has failed
	// for this long; zero never does. Defaults to 120h (5 days).
	DisableAfter time.Duration `envconfig:"HOOKWORKER_DISABLE_AFTER" default:"120h" desc:"an endpoint every delivery to which fails for this long is disabled; 0 never"`
	// AlertAfter publishes hooks.ops.endpoint.failing for an endpoint every
	// delivery to which has failed for this long, once per failing streak,
	// and hooks.ops.endpoint.recovered when one succeeds again; zero never
	// does. Defaults to 1h.
	AlertAfter time.Duration `envconfig:"HOOKWORKER_ALERT_AFTER" default:"1h" desc:"an endpoint every delivery to which fails for this long is reported on hooks.ops.endpoint.failing; 0 never"`

	// The HTTP API and the portal.

	// APIAddr is where the HTTP API and the portal are served, as
	// host:port; it may be HTTPAddr's. Empty turns them off, except in the
	// local quick start (the embedded server and none of APIAddr, APIKeys,
	// APIKeysFile and TokenSecret set), which serves them on
	// 127.0.0.1:8081 with credentials generated in EmbeddedDir; setting
	// it to empty keeps them off there too. Defaults to empty.
	APIAddr string `envconfig:"HOOKWORKER_API_ADDR" desc:"host:port for the HTTP API and the portal; empty: off (unset, with the embedded server and no API variable: 127.0.0.1:8081, the local quick start)" shown:"(off)"`
	// APIKeys are the operator keys of the HTTP API, comma-separated, each
	// at least 32 printable characters with no space. Defaults to empty.
	APIKeys string `envconfig:"HOOKWORKER_API_KEYS" desc:"comma-separated operator keys of the HTTP API, each at least 32 characters"`
	// APIKeysFile names a file of operator keys, one a line (# comments),
	// added to APIKeys. Defaults to empty.
	APIKeysFile string `envconfig:"HOOKWORKER_API_KEYS_FILE" desc:"file of operator keys, one a line (# comments), added to API_KEYS"`
	// TokenSecret signs and verifies tenant tokens (JWTs, HS256); at least
	// 32 bytes. Empty: no tenant token is minted or accepted. Defaults to
	// empty.
	TokenSecret string `envconfig:"HOOKWORKER_TOKEN_SECRET" desc:"secret that signs tenant tokens (HS256), at least 32 bytes; empty: no tenant tokens"`
	// APICORSOrigins are the origins (scheme://host[:port]) browsers may
	// call the HTTP API from, or * for any. Empty turns CORS off. Defaults
	// to empty.
	APICORSOrigins Origins `envconfig:"HOOKWORKER_API_CORS_ORIGINS" desc:"comma-separated origins such as https://app.example.com that may call the HTTP API from a browser, or *; empty: CORS off" shown:"(off)"`
	// PortalFrameAncestors is the portal's Content-Security-Policy
	// frame-ancestors source list: who may embed it in a frame. Defaults
	// to 'self'.
	PortalFrameAncestors string `envconfig:"HOOKWORKER_PORTAL_FRAME_ANCESTORS" default:"'self'" desc:"the portal's CSP frame-ancestors sources, space-separated, e.g. 'self' https://app.example.com"`
}

var (
	_ envconfig.Decoder = (*Schedule)(nil)
	_ envconfig.Decoder = (*Networks)(nil)
	_ envconfig.Decoder = (*Origins)(nil)
)

// Schedule is a retry schedule: the wait before each retry. It reads from
// a comma-separated list of durations ("5s,5m,30m").
type Schedule []time.Duration

// Decode parses a comma-separated list of durations (spaces around
// entries allowed); an empty list means no retry. It implements
// envconfig.Decoder.
func (s *Schedule) Decode(value string) error {
	list := Schedule{}
	for e := range strings.SplitSeq(value, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		d, err := time.ParseDuration(e)
		if err != nil || d < 0 {
			return fmt.Errorf("invalid duration %q", e)
		}
		list = append(list, d)
	}
	*s = list
	return nil
}

// String returns the comma-separated list.
func (s Schedule) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = shortDuration(d)
	}
	return strings.Join(parts, ",")
}

// Span is the sum of the waits: how long a delivery that uses every retry
// waits in all.
func (s Schedule) Span() time.Duration {
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return sum
}

// Load reads the configuration from the environment, fills in the computed
// defaults (see Concurrency and HostConcurrency) and validates it. A
// variable that is not set takes its default; one set to "" is read as "",
// which suits a setting whose default is empty and is refused by most
// others. Only the full HOOKWORKER_ names are read, never a bare TIMEOUT.
func Load() (Config, error) {
	var c Config
	if err := envconfig.Process("", &c); err != nil {
		return Config{}, parseError(err)
	}
	c.LogLevel = strings.ToLower(strings.TrimSpace(c.LogLevel))
	c.LogFormat = strings.ToLower(strings.TrimSpace(c.LogFormat))
	c.applyDefaults()
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// parseError rewrites envconfig's error about a value that does not parse
// so that it starts with the variable's name and says what was expected.
func parseError(err error) error {
	var pe *envconfig.ParseError
	if !errors.As(err, &pe) {
		return fmt.Errorf("read environment: %w", err)
	}
	f, _ := reflect.TypeFor[Config]().FieldByName(pe.FieldName)
	switch f.Type {
	case reflect.TypeFor[time.Duration]():
		return fmt.Errorf("%s: must be a duration such as 15s or 1m30s, got %q", pe.KeyName, pe.Value)
	case reflect.TypeFor[int]():
		return fmt.Errorf("%s: must be a whole number, got %q", pe.KeyName, pe.Value)
	case reflect.TypeFor[bool]():
		return fmt.Errorf("%s: must be true or false, got %q", pe.KeyName, pe.Value)
	case reflect.TypeFor[Networks]():
		return fmt.Errorf("%s: must be comma-separated CIDRs such as 10.1.0.0/16: %v", pe.KeyName, pe.Err)
	case reflect.TypeFor[Schedule]():
		return fmt.Errorf("%s: must be comma-separated durations such as 5s,5m,30m: %v", pe.KeyName, pe.Err)
	case reflect.TypeFor[Origins]():
		return fmt.Errorf("%s: must be comma-separated origins such as https://app.example.com, or *: %v", pe.KeyName, pe.Err)
	}
	return fmt.Errorf("%s: %v", pe.KeyName, pe.Err)
}

// Unknown returns the HOOKWORKER_ variables set in the environment that
// hookworker does not read, sorted: most likely misspelt names, whose values
// are silently not used.
func Unknown() []string {
	known := make(map[string]bool)
	for _, v := range variables() {
		known[v.name] = true
	}
	var list []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, Prefix+"_") && !known[name] {
			list = append(list, name)
		}
	}
	slices.Sort(list)
	return list
}

// applyDefaults fills in the settings whose default is computed.
func (c *Config) applyDefaults() {
	if c.Concurrency == 0 {
		c.Concurrency = max(64, 64*runtime.NumCPU())
	}
	if c.HostConcurrency == 0 && c.Concurrency > 0 {
		c.HostConcurrency = max(1, c.Concurrency/4)
	}
}

// Networks is a list of CIDRs, read from a comma-separated list (spaces
// around entries allowed). Each prefix is kept masked: 10.1.2.3/16 becomes
// 10.1.0.0/16. It converts to and from []netip.Prefix.
type Networks []netip.Prefix

// Decode parses a comma-separated list of CIDRs. It implements
// envconfig.Decoder.
func (n *Networks) Decode(value string) error {
	var list Networks
	for s := range strings.SplitSeq(value, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return fmt.Errorf("invalid CIDR %q", s)
		}
		list = append(list, p.Masked())
	}
	*n = list
	return nil
}

// String returns the comma-separated list.
func (n Networks) String() string {
	parts := make([]string, len(n))
	for i, p := range n {
		parts[i] = p.String()
	}
	return strings.Join(parts, ",")
}

// Origins is a list of web origins, read from a comma-separated list
// (spaces around entries allowed). Each is scheme://host[:port] with scheme
// http or https, kept lower-case as browsers send it, or * for any origin.
type Origins []string

// Decode parses a comma-separated list of origins. It implements
// envconfig.Decoder.
func (o *Origins) Decode(value string) error {
	var list Origins
	for s := range strings.SplitSeq(value, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if s == "*" {
			list = append(list, s)
			continue
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "#") {
			return fmt.Errorf("invalid origin %q", s)
		}
		list = append(list, strings.ToLower(u.Scheme+"://"+u.Host))
	}
	*o = list
	return nil
}

// String returns the comma-separated list.
func (o Origins) String() string { return strings.Join(o, ",") }

// APIKeyList parses APIKeys and reads APIKeysFile, in that order: the
// operator keys of the HTTP API. An error names the variable and the key's
// place, never the key.
func (c Config) APIKeyList() ([]string, error) {
	keys, err := auth.ParseKeys(c.APIKeys)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", envName("APIKeys"), err)
	}
	if c.APIKeysFile != "" {
		more, err := auth.ReadKeysFile(c.APIKeysFile)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", envName("APIKeysFile"), err)
		}
		keys = append(keys, more...)
	}
	return keys, nil
}

// ProxyList parses Proxies and reads ProxiesFile, in that order.
func (c Config) ProxyList() ([]*url.URL, error) {
	var list []*url.URL
	if strings.TrimSpace(c.Proxies) != "" {
		l, err := proxies.ParseList(c.Proxies)
		if err != nil {
			return nil, fmt.Errorf("%s_PROXIES: %w", Prefix, err)
		}
		list = append(list, l...)
	}
	if c.ProxiesFile != "" {
		l, err := proxies.ReadFile(c.ProxiesFile)
		if err != nil {
			return nil, fmt.Errorf("%s_PROXIES_FILE: %w", Prefix, err)
		}
		list = append(list, l...)
	}
	return list, nil
}

// SenderConfig returns the sender settings. The caller sets Proxies, Observer,
// Logger and UserAgent.
func (c Config) SenderConfig() sender.Config {
	return sender.Config{
		Timeout:              c.Timeout,
		MaxRetries:           c.MaxRetries,
		MaxProxyRetries:      c.MaxProxyRetries,
		BackoffMin:           c.BackoffMin,
		BackoffMax:           c.BackoffMax,
		DeferAfter:           c.DeferAfter,
		MaxRetryWait:         c.MaxRetryWait,
		SigningSecret:        c.SigningSecret,
		AllowPrivateNetworks: c.AllowPrivateNetworks,
		AllowedNetworks:      append([]netip.Prefix(nil), c.AllowedNetworks...),
	}
}

// variable names one setting's variable and field.
type variable struct {
	name  string // HOOKWORKER_…
	field string
}

// variables lists every setting in declaration order.
func variables() []variable {
	t := reflect.TypeFor[Config]()
	vars := make([]variable, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		vars = append(vars, variable{name: f.Tag.Get("envconfig"), field: f.Name})
	}
	return vars
}

// envName returns the variable that sets the named Config field.
func envName(field string) string {
	f, ok := reflect.TypeFor[Config]().FieldByName(field)
	if !ok {
		panic("config: no field " + field)
	}
	return f.Tag.Get("envconfig")
}
