package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/riskledger/riskledger/domain"
	"github.com/riskledger/riskledger/keys"
)

// Config is every setting riskledger reads. Each comes, in rising order of
// precedence, from its default, the --config file (JSON, the names below),
// a RISKLEDGER_* variable, and a command-line flag.
type Config struct {
	// Data is the embedded store's directory (RISKLEDGER_DATA).
	Data string `json:"data"`
	// DatabaseURL selects PostgreSQL instead (RISKLEDGER_DATABASE_URL or DATABASE_URL).
	DatabaseURL string `json:"database_url"`
	// Zone is the time zone of day boundaries (RISKLEDGER_ZONE).
	Zone string `json:"zone"`
	// Listen is serve's address (RISKLEDGER_LISTEN).
	Listen string `json:"listen"`
	// HeadKeyFile is the Ed25519 key that signs head statements
	// (RISKLEDGER_HEAD_KEY_FILE). Default with the embedded store:
	// DATA/keys/head.key, made on first use. PostgreSQL requires it.
	HeadKeyFile string `json:"head_key_file"`
	// MasterKeyFile wraps the per-person keys of personal data
	// (RISKLEDGER_MASTER_KEY_FILE). Default with the embedded store:
	// DATA/keys/master.key, made on first use. PostgreSQL requires it.
	MasterKeyFile string `json:"master_key_file"`
	// IssuerKeyFile is the ECDSA P-256 key that signs codes
	// (RISKLEDGER_ISSUER_KEY_FILE). Default with the embedded store:
	// DATA/keys/issuer.key, made on first use. PostgreSQL requires it to
	// issue codes.
	IssuerKeyFile string `json:"issuer_key_file"`
	// Issuer is the issuer id our codes carry (RISKLEDGER_ISSUER; default
	// riskledger).
	Issuer string `json:"issuer"`
	// Region is the region our issuer serves, as the trust list names it
	// (RISKLEDGER_REGION; default Shanghai).
	Region string `json:"region"`
	// MaxClockSkew is how far in the future a command's `at` may lie
	// (RISKLEDGER_MAX_CLOCK_SKEW, a Go duration; default 5m).
	MaxClockSkew string `json:"max_clock_skew"`
}

// settings names each setting's variable, for the environment and for help.
var settings = []struct {
	env   string
	field func(*Config) *string
}{
	{"RISKLEDGER_DATA", func(c *Config) *string { return &c.Data }},
	{"RISKLEDGER_DATABASE_URL", func(c *Config) *string { return &c.DatabaseURL }},
	{"RISKLEDGER_ZONE", func(c *Config) *string { return &c.Zone }},
	{"RISKLEDGER_LISTEN", func(c *Config) *string { return &c.Listen }},
	{"RISKLEDGER_HEAD_KEY_FILE", func(c *Config) *string { return &c.HeadKeyFile }},
	{"RISKLEDGER_MASTER_KEY_FILE", func(c *Config) *string { return &c.MasterKeyFile }},
	{"RISKLEDGER_ISSUER_KEY_FILE", func(c *Config) *string { return &c.IssuerKeyFile }},
	{"RISKLEDGER_ISSUER", func(c *Config) *string { return &c.Issuer }},
	{"RISKLEDGER_REGION", func(c *Config) *string { return &c.Region }},
	{"RISKLEDGER_MAX_CLOCK_SKEW", func(c *Config) *string { return &c.MaxClockSkew }},
}

// DefaultConfig returns the settings used when nothing else is said.
func DefaultConfig() Config {
	return Config{Data: "./riskledger-data", Zone: "Asia/Shanghai", Listen: "127.0.0.1:8080", Issuer: "riskledger", Region: "Shanghai"}
}

// loadFile overlays the JSON config file at path. Unknown names are an
// error, so that a misspelt setting is not silently ignored.
func (c *Config) loadFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return domain.Errorf(domain.Invalid, "cannot read config file: %v", err)
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return domain.Errorf(domain.Invalid, "config file %s: %v", path, err)
	}
	return nil
}

// loadEnv overlays the RISKLEDGER_* variables (and DATABASE_URL).
func (c *Config) loadEnv(getenv func(string) string) {
	if v := getenv("DATABASE_URL"); v != "" {
		c.DatabaseURL = v
	}
	for _, s := range settings {
		if v := getenv(s.env); v != "" {
			*s.field(c) = v
		}
	}
}

// Validate reports every problem at once.
func (c *Config) Validate() error {
	var errs []error
	if c.DatabaseURL == "" && strings.TrimSpace(c.Data) == "" {
		errs = append(errs, errors.New("the data directory is empty: give --data DIR or --database-url URL"))
	}
	if _, err := time.LoadLocation(c.Zone); err != nil {
		errs = append(errs, errors.New("zone "+c.Zone+" is not a known time zone (e.g. Asia/Shanghai)"))
	}
	if c.MaxClockSkew != "" {
		if d, err := time.ParseDuration(c.MaxClockSkew); err != nil || d < 0 {
			errs = append(errs, errors.New("max_clock_skew "+c.MaxClockSkew+" is not a duration of 0 or more (e.g. 5m)"))
		}
	}
	if len(errs) > 0 {
		return domain.Errorf(domain.Invalid, "%v", errors.Join(errs...))
	}
	return nil
}

// headKeyPath says where the head signing key lives, or why there is none.
func (c *Config) headKeyPath() (path string, create bool, err error) {
	switch {
	case c.HeadKeyFile != "":
		return c.HeadKeyFile, false, nil
	case c.DatabaseURL == "":
		return filepath.Join(c.Data, "keys", keys.HeadKeyFile), true, nil
	}
	return "", false, domain.Errorf(domain.Invalid,
		"with PostgreSQL every node signs with the same key file: run `riskledger keys init DIR` once and set head_key_file (or RISKLEDGER_HEAD_KEY_FILE) to DIR/%s", keys.HeadKeyFile)
}

// issuerKeyPath says where the key that signs codes lives, or why there
// is none.
func (c *Config) issuerKeyPath() (path string, create bool, err error) {
	switch {
	case c.IssuerKeyFile != "":
		return c.IssuerKeyFile, false, nil
	case c.DatabaseURL == "":
		return filepath.Join(c.Data, "keys", keys.IssuerKeyFile), true, nil
	}
	return "", false, domain.Errorf(domain.Invalid,
		"with PostgreSQL every node signs codes with the same key file: run `riskledger keys init DIR` once and set issuer_key_file (or RISKLEDGER_ISSUER_KEY_FILE) to DIR/%s", keys.IssuerKeyFile)
}

// masterKeyPath says where the master key lives, or why there is none.
func (c *Config) masterKeyPath() (path string, create bool, err error) {
	switch {
	case c.MasterKeyFile != "":
		return c.MasterKeyFile, false, nil
	case c.DatabaseURL == "":
		return filepath.Join(c.Data, "keys", keys.MasterKeyFile), true, nil
	}
	return "", false, domain.Errorf(domain.Invalid,
		"with PostgreSQL every node seals personal data with the same master key: run `riskledger keys init DIR` once and set master_key_file (or RISKLEDGER_MASTER_KEY_FILE) to DIR/%s", keys.MasterKeyFile)
}
