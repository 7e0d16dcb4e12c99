package webhook

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// DefaultPath is where Alertmanager posts notifications. Point a receiver's
// webhook_configs url at http://<anteater>:<port>/webhook/alertmanager.
const DefaultPath = "/webhook/alertmanager"

// Config is the `webhook` section of anteater.yml.
type Config struct {
	// Path the receiver listens on (default /webhook/alertmanager).
	Path string `yaml:"path,omitempty"`
	// Auth, when set, is required on every request: Alertmanager sends it
	// from webhook_configs.http_config (authorization or basic_auth).
	Auth AuthConfig `yaml:"auth,omitempty"`
	// MaxBodyBytes caps a notification's size; larger ones get 413
	// (default 4 MiB).
	MaxBodyBytes int64 `yaml:"max_body_bytes,omitempty"`
	// QueueSize is how many alerts may wait for the worker; beyond it
	// requests get 503, which Alertmanager retries (default 10000).
	QueueSize int `yaml:"queue_size,omitempty"`
	// DedupTTL is how long an alert (fingerprint, startsAt, status) is
	// remembered, so repeated and HA-pair deliveries give one event
	// (default 24h).
	DedupTTL time.Duration `yaml:"dedup_ttl,omitempty"`
	// SendResolved publishes an INFO anomaly event when an alert resolves
	// (default false: resolved alerts are counted, no event).
	SendResolved bool `yaml:"send_resolved,omitempty"`
	// StateDir holds the durable queue and the dedup keys (default
	// data/webhook).
	StateDir string `yaml:"state_dir,omitempty"`
	// RCATimeout bounds one root-cause inference (default 30s).
	RCATimeout time.Duration `yaml:"rca_timeout,omitempty"`
}

// AuthConfig holds the accepted credentials; with both set, either works.
type AuthConfig struct {
	BearerToken     string          `yaml:"bearer_token,omitempty"`
	BearerTokenFile string          `yaml:"bearer_token_file,omitempty"`
	BasicAuth       BasicAuthConfig `yaml:"basic_auth,omitempty"`
}

// BasicAuthConfig is HTTP basic authentication.
type BasicAuthConfig struct {
	Username     string `yaml:"username,omitempty"`
	Password     string `yaml:"password,omitempty"`
	PasswordFile string `yaml:"password_file,omitempty"`
}

// DefaultConfig is the webhook section with every default filled in.
var DefaultConfig = Config{
	Path:         DefaultPath,
	MaxBodyBytes: 4 << 20,
	QueueSize:    10000,
	DedupTTL:     24 * time.Hour,
	StateDir:     "data/webhook",
	RCATimeout:   30 * time.Second,
}

// UnmarshalYAML fills the defaults before decoding, so absent fields keep them.
func (c *Config) UnmarshalYAML(unmarshal func(any) error) error {
	*c = DefaultConfig
	type plain Config
	if err := unmarshal((*plain)(c)); err != nil {
		return err
	}
	return c.Validate()
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	d := DefaultConfig
	if c.Path == "" {
		c.Path = d.Path
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = d.MaxBodyBytes
	}
	if c.QueueSize == 0 {
		c.QueueSize = d.QueueSize
	}
	if c.DedupTTL == 0 {
		c.DedupTTL = d.DedupTTL
	}
	if c.StateDir == "" {
		c.StateDir = d.StateDir
	}
	if c.RCATimeout == 0 {
		c.RCATimeout = d.RCATimeout
	}
	return c
}

// Validate reports the first invalid field.
func (c *Config) Validate() error {
	if !strings.HasPrefix(c.Path, "/") {
		return fmt.Errorf("webhook: path %q must start with /", c.Path)
	}
	if c.MaxBodyBytes <= 0 {
		return errors.New("webhook: max_body_bytes must be positive")
	}
	if c.QueueSize <= 0 {
		return errors.New("webhook: queue_size must be positive")
	}
	if c.DedupTTL <= 0 {
		return errors.New("webhook: dedup_ttl must be positive")
	}
	if c.RCATimeout <= 0 {
		return errors.New("webhook: rca_timeout must be positive")
	}
	if c.StateDir == "" {
		return errors.New("webhook: state_dir must be set")
	}
	a := c.Auth
	if a.BearerToken != "" && a.BearerTokenFile != "" {
		return errors.New("webhook: auth: bearer_token and bearer_token_file are exclusive")
	}
	b := a.BasicAuth
	if b.Password != "" && b.PasswordFile != "" {
		return errors.New("webhook: auth: basic_auth password and password_file are exclusive")
	}
	if (b.Password != "" || b.PasswordFile != "") && b.Username == "" {
		return errors.New("webhook: auth: basic_auth needs a username")
	}
	if b.Username != "" && b.Password == "" && b.PasswordFile == "" {
		return errors.New("webhook: auth: basic_auth needs a password or password_file")
	}
	return nil
}

// credentials resolves the secrets (reading the files).
func (a AuthConfig) credentials() (token, user, pass string, err error) {
	token, user, pass = a.BearerToken, a.BasicAuth.Username, a.BasicAuth.Password
	if a.BearerTokenFile != "" {
		b, err := os.ReadFile(a.BearerTokenFile)
		if err != nil {
			return "", "", "", fmt.Errorf("webhook: read bearer_token_file: %w", err)
		}
		token = strings.TrimSpace(string(b))
		if token == "" {
			return "", "", "", fmt.Errorf("webhook: bearer_token_file %s is empty", a.BearerTokenFile)
		}
	}
	if a.BasicAuth.PasswordFile != "" {
		b, err := os.ReadFile(a.BasicAuth.PasswordFile)
		if err != nil {
			return "", "", "", fmt.Errorf("webhook: read password_file: %w", err)
		}
		pass = strings.TrimSpace(string(b))
		if pass == "" {
			// An empty password would admit anyone who knows the user name.
			return "", "", "", fmt.Errorf("webhook: password_file %s is empty", a.BasicAuth.PasswordFile)
		}
	}
	return token, user, pass, nil
}
