package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/hookworker/hookworker/config"
	"github.com/hookworker/hookworker/internal/auth"
)

// The local quick start: where the HTTP API listens and where its
// generated credentials are kept, in the embedded server's data directory.
const (
	quickStartAddr   = "127.0.0.1:8081"
	quickStartKey    = "api-key"
	quickStartSecret = "token-secret"
)

// apiSettings resolves the HTTP API's settings from cfg, which Load has
// validated: the address, the operator keys of API_KEYS and API_KEYS_FILE,
// the token secret, the CORS origins and the portal's frame ancestors.
// Tokens is set whenever a token secret is, even with the API off, for the
// NATS API's tenants.token.
//
// The local quick start is the embedded NATS server (NATS_URL empty) with
// none of API_ADDR, API_KEYS, API_KEYS_FILE and TOKEN_SECRET set
// (API_ADDR set to "" keeps the API off). The API is then served on
// 127.0.0.1:8081 with an operator key and a token secret generated on the
// first start and kept, readable by the owner only, in EMBEDDED_DIR,
// where later starts find them again; apiSettings logs, once, the portal's
// link, where the API is and which file holds the key to sign in with, never
// the key or the secret themselves.
//
// Call it once at start-up, before the NATS API starts (tenants.token mints
// with Tokens) and before the HTTP API listens.
func apiSettings(cfg config.Config, log *slog.Logger) (auth.Settings, error) {
	s := auth.Settings{
		Addr:           cfg.APIAddr,
		CORSOrigins:    []string(cfg.APICORSOrigins),
		FrameAncestors: cfg.PortalFrameAncestors,
	}
	keys, err := cfg.APIKeyList()
	if err != nil {
		return auth.Settings{}, err
	}
	secret := []byte(cfg.TokenSecret)
	if quickStart(cfg) {
		dir := cfg.EmbeddedDir
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return auth.Settings{}, fmt.Errorf("quick start: %w", err)
		}
		keyFile := filepath.Join(dir, quickStartKey)
		key, newKey, err := keep(keyFile, auth.NewKey, func(k string) error { return auth.CheckKey(k) }, log)
		if err != nil {
			return auth.Settings{}, fmt.Errorf("quick start: operator key: %w", err)
		}
		sec, newSecret, err := keep(filepath.Join(dir, quickStartSecret), func() string { return string(auth.NewSecret()) },
			func(s string) error {
				if len(s) < auth.MinSecretLen {
					return fmt.Errorf("is %d bytes, want at least %d", len(s), auth.MinSecretLen)
				}
				return nil
			}, log)
		if err != nil {
			return auth.Settings{}, fmt.Errorf("quick start: token secret: %w", err)
		}
		keys, secret = []string{key}, []byte(sec)
		if abs, err := filepath.Abs(keyFile); err == nil {
			keyFile = abs
		}
		s.Addr, s.QuickStart, s.KeyFile = quickStartAddr, true, keyFile
		base := "http://" + quickStartAddr
		// The portal's link holds no key: a key in a URL would be in
		// this log line, the shell's scrollback and the browser's
		// history. The portal's sign-in form takes it, pasted from the
		// key file.
		log.Info("local quick start: open the portal at "+base+"/portal/ and sign in with the operator key in the key file",
			"api", base+"/api/v1/", "portal", base+"/portal/", "key_file", keyFile, "generated", newKey || newSecret,
			"try", fmt.Sprintf("curl --oauth2-bearer $(cat %s) %s/api/v1/tenants", shellQuote(keyFile), base))
	}
	if s.Keys, err = auth.NewKeys(keys); err != nil {
		return auth.Settings{}, fmt.Errorf("%s: %w", config.Prefix+"_API_KEYS", err)
	}
	if len(secret) > 0 {
		if s.Tokens, err = auth.NewTokens(secret); err != nil {
			return auth.Settings{}, fmt.Errorf("%s: %w", config.Prefix+"_TOKEN_SECRET", err)
		}
	}
	return s, nil
}

// quickStart reports whether cfg is the local quick start: the embedded
// server, and none of the API's variables set (API_ADDR set to "" counts
// as set: the API stays off).
func quickStart(cfg config.Config) bool {
	if cfg.NATSURL != "" || cfg.APIAddr != "" || cfg.APIKeys != "" || cfg.APIKeysFile != "" || cfg.TokenSecret != "" {
		return false
	}
	_, set := os.LookupEnv(config.Prefix + "_API_ADDR")
	return !set
}

// keep returns the credential kept in path, checked by check, or, when
// there is no such file, a new one from generate, written to path with
// mode 0600; created says which. A file that others may read is used, with
// a warning; one that check refuses is an error, and is left as it is.
func keep(path string, generate func() string, check func(string) error, log *slog.Logger) (value string, created bool, err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		value = generate()
		_, err = f.WriteString(value + "\n")
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(path)
			return "", false, err
		}
		return value, true, nil
	case !errors.Is(err, fs.ErrExist):
		return "", false, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", false, err
	}
	value = strings.TrimSpace(string(data))
	if err := check(value); err != nil {
		return "", false, fmt.Errorf("%s: %w; remove the file to have a new one made", path, err)
	}
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o077 != 0 {
		log.Warn("a quick start credential file may be read by others; chmod 600 it", "file", path, "mode", st.Mode().Perm().String())
	}
	return value, false, nil
}

// shellQuote quotes path for a POSIX shell when it needs it.
func shellQuote(path string) string {
	if strings.IndexFunc(path, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) < 0 {
		return path
	}
	return "'" + strings.ReplaceAll(path, "'", `'\''`) + "'"
}
