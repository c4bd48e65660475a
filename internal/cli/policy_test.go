package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookworker/hookworker/internal/cli"
	"github.com/hookworker/hookworker/internal/tlstest"
)

// TestEndpointPolicyFlags sets an endpoint's delivery policy with endpoint
// add and update against a running worker: the fields come back, the key
// and the client secret never do, and an update keeps what it does not
// name.
func TestEndpointPolicyFlags(t *testing.T) {
	rc, _ := runWorker(t)
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "clients")
	cert, key := ca.Client(t, "hookworker")
	certFile, keyFile, secretFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "secret")
	for f, s := range map[string]string{certFile: cert, keyFile: key, secretFile: "s3cret-client\n"} {
		if err := os.WriteFile(f, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	keyLine := strings.Split(key, "\n")[1]
	must := func(args ...string) map[string]any {
		t.Helper()
		code, out, errOut := mainOut(t, nil, args...)
		if code != cli.ExitOK {
			t.Fatalf("%v: exit %d, stderr %s", args, code, errOut)
		}
		if strings.Contains(out+errOut, keyLine) || strings.Contains(out+errOut, "s3cret-client") {
			t.Fatalf("%v printed key material: %s %s", args, out, errOut)
		}
		return jsonLines(t, out)[0]
	}
	exit := func(want int, args ...string) {
		t.Helper()
		if code, _, errOut := mainOut(t, nil, args...); code != want {
			t.Fatalf("%v: exit %d, want %d (stderr %s)", args, code, want, errOut)
		}
	}

	got := must("endpoint", "add", "--url", "https://example.com/a", "--id", "ep_a", "--rate-limit", "5", "--ordered",
		"--retry-schedule", "1s,1m", "--timeout", "3s", "--auth-mtls-cert", certFile, "--auth-mtls-key", keyFile)
	auth, _ := got["auth"].(map[string]any)
	if got["rate_limit"] != 5.0 || got["ordered"] != true || got["timeout"] != "3s" || len(got["retry_schedule"].([]any)) != 2 ||
		auth["type"] != "mtls" || auth["cert"] != cert || auth["key"] != nil {
		t.Fatalf("add printed %v", got)
	}
	// An update names what changes: the auth keeps its key.
	got = must("endpoint", "update", "ep_a", "--rate-limit", "0", "--description", "slow")
	if got["rate_limit"] != nil || got["description"] != "slow" || got["ordered"] != true || got["auth"] == nil {
		t.Fatalf("update printed %v", got)
	}
	got = must("endpoint", "update", "ep_a", "--oauth2-token-url", "https://auth.example.com/token", "--oauth2-client-id", "hw",
		"--oauth2-client-secret", "@"+secretFile, "--oauth2-scope", "hooks.write")
	auth, _ = got["auth"].(map[string]any)
	if auth["type"] != "oauth2" || auth["client_id"] != "hw" || auth["client_secret"] != nil {
		t.Fatalf("update to oauth2 printed %v", got)
	}
	got = must("endpoint", "update", "ep_a", "--oauth2-scope", "hooks.read") // the rest of the auth kept
	if auth, _ = got["auth"].(map[string]any); auth["client_id"] != "hw" || auth["scopes"].([]any)[0] != "hooks.read" {
		t.Fatalf("update of the scope printed %v", got)
	}
	must("endpoint", "get", "ep_a")
	if got = must("endpoint", "update", "ep_a", "--no-auth", "--retry-schedule", ""); got["auth"] != nil || got["retry_schedule"] != nil {
		t.Fatalf("update --no-auth printed %v", got)
	}

	exit(cli.ExitUsage, "endpoint", "add", "--url", rc.URL, "--rate-limit", "-1")
	exit(cli.ExitUsage, "endpoint", "add", "--url", rc.URL, "--retry-schedule", "1s,soon")
	exit(cli.ExitUsage, "endpoint", "add", "--url", rc.URL, "--auth-mtls-cert", certFile)
	exit(cli.ExitUsage, "endpoint", "add", "--url", rc.URL, "--auth-mtls-cert", certFile, "--auth-mtls-key", keyFile, "--oauth2-client-id", "x")
	exit(cli.ExitUsage, "endpoint", "add", "--url", rc.URL, "--auth-mtls-cert", filepath.Join(dir, "missing.pem"), "--auth-mtls-key", keyFile)
	exit(cli.ExitUsage, "endpoint", "update", "a b", "--ordered")
	exit(cli.ExitFailure, "endpoint", "add", "--url", "https://example.com/b", "--auth-mtls-cert", keyFile, "--auth-mtls-key", keyFile) // the API: not a certificate
	exit(cli.ExitFailure, "endpoint", "add", "--url", rc.URL, "--auth-mtls-cert", certFile, "--auth-mtls-key", keyFile)                 // the API: mtls over http
}
