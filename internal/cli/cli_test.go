package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hookworker/hookworker/internal/build"
	"github.com/hookworker/hookworker/internal/bus/bustest"
	"github.com/hookworker/hookworker/internal/cli"
	"github.com/hookworker/hookworker/internal/freeport"
	"github.com/hookworker/hookworker/internal/syncbuf"
	"github.com/hookworker/hookworker/job"
)

// binary is the hookworker command, built once for the tests that need a
// real process (signals, exit status).
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hookworker-cli-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "hookworker")
	build := exec.Command("go", "build", "-o", binary, "github.com/hookworker/hookworker/cmd/hookworker")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build hookworker:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t *testing.T) string {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// baseEnv is the environment every test worker gets: fast retries,
// destinations on loopback allowed, and no HTTP API unless a test sets
// one, so that a worker on the embedded server does not take the local
// quick start's address (127.0.0.1:8081), which the docs walkthrough's
// worker, in a package tested at the same time, listens on.
func baseEnv(natsURL string) map[string]string {
	return map[string]string{
		"HOOKWORKER_NATS_URL":               natsURL,
		"HOOKWORKER_API_ADDR":               "",
		"HOOKWORKER_ACK_WAIT":               "2s",
		"HOOKWORKER_BACKOFF_MIN":            "10ms",
		"HOOKWORKER_BACKOFF_MAX":            "50ms",
		"HOOKWORKER_ALLOWED_NETWORKS":       "127.0.0.1/32",
		"HOOKWORKER_CONCURRENCY":            "4",
		"HOOKWORKER_LOG_FORMAT":             "json",
		"HOOKWORKER_SHUTDOWN_TIMEOUT":       "5s",
		"HOOKWORKER_RESULT_MAX_AGE":         "1h",
		"HOOKWORKER_ALLOW_PRIVATE_NETWORKS": "false",
	}
}

// proc is a hookworker process.
type proc struct {
	cmd    *exec.Cmd
	stderr *syncbuf.Buffer
	done   chan struct{}
	code   int
}

// start runs the binary with args and exactly the HOOKWORKER_ variables in
// env.
func start(t *testing.T, env map[string]string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HOOKWORKER_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &proc{cmd: cmd, stderr: &syncbuf.Buffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		_ = cmd.Wait()
		p.code = cmd.ProcessState.ExitCode()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("hookworker %v stderr:\n%s", args, p.stderr.String())
		}
	})
	return p
}

// wait waits for the process to exit and returns its status.
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
		return p.code
	case <-time.After(30 * time.Second):
		t.Fatal("hookworker did not exit")
		return -1
	}
}

// waitLog waits until the process has logged a line containing s.
func (p *proc) waitLog(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.stderr.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("hookworker never logged %q", s)
		}
		select {
		case <-p.done:
			t.Fatalf("hookworker exited (%d) before logging %q", p.code, s)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// setEnv sets env for an in-process cli.Main, with every other HOOKWORKER_
// variable cleared.
func setEnv(t *testing.T, env map[string]string) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "HOOKWORKER_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
}

// mainOut runs cli.Main in-process and returns its status and output.
func mainOut(t *testing.T, stdin io.Reader, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	code := cli.Main(ctx, args, stdin, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// receiver counts requests per webhook-id; block, when set, holds the first
// request until it is closed.
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	counts  map[string]int
	firstIn chan struct{}
	once    sync.Once
}

func newReceiver(t *testing.T, block chan struct{}) *receiver {
	t.Helper()
	rc := &receiver{counts: map[string]int{}, firstIn: make(chan struct{})}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		rc.mu.Lock()
		rc.counts[r.Header.Get("webhook-id")]++
		n := rc.counts[r.Header.Get("webhook-id")]
		rc.mu.Unlock()
		if n == 1 && block != nil {
			rc.once.Do(func() { close(rc.firstIn) })
			select {
			case <-block:
			case <-r.Context().Done():
				return
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) count(id string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.counts[id]
}

// storedResults reads every result of the result stream.
func storedResults(t *testing.T, url string) []job.Result {
	t.Helper()
	_, js := bustest.Connect(t, url)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, "HOOKS_RESULTS")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []job.Result
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		var r job.Result
		if err := json.Unmarshal(m.Data, &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func TestHelpAndVersion(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"dash h", []string{"-h"}, []string{"send", "results", "version", "HOOKWORKER_NATS_URL", "HOOKWORKER_CONCURRENCY", "HOOKWORKER_MAX_REDELIVERIES", "127.0.0.1:4222"}},
		{"help", []string{"help"}, []string{"hookworker send", "HOOKWORKER_ACK_WAIT", "30s", "Exit status"}},
		{"version", []string{"version"}, []string{"hookworker " + build.Version}},
		{"version dash h", []string{"version", "-h"}, []string{"hookworker version", "Exit status"}},
		{"every command", []string{"-h"}, []string{"hookworker [run]", "hookworker send", "hookworker results", "hookworker event-type",
			"hookworker endpoint", "hookworker event send", "hookworker tenant put", "hookworker attempts", "hookworker listen", "hookworker version", "hookworker help [COMMAND]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, _ := mainOut(t, nil, tt.args...)
			if code != cli.ExitOK {
				t.Fatalf("exit %d", code)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}
	if code, _, errOut := mainOut(t, nil, "frobnicate"); code != cli.ExitUsage || !strings.Contains(errOut, "frobnicate") {
		t.Errorf("unknown command: exit %d, stderr %q", code, errOut)
	}
	for _, args := range [][]string{{"version", "now"}, {"help", "frobnicate"}, {"help", "send", "results"}} {
		if code, out, errOut := mainOut(t, nil, args...); code != cli.ExitUsage || out != "" || errOut == "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit %d and why on stderr alone", args, code, out, errOut, cli.ExitUsage)
		}
	}
}

// TestHelpCommand checks that help lists a command's own flags, for a
// group (event-type, endpoint, event, tenant) each subcommand's, and states the
// formats of the ids and secrets they take.
func TestHelpCommand(t *testing.T) {
	for _, tt := range []struct {
		command string
		want    []string
	}{
		{"send", []string{"-wait", "1 to 128 of A-Za-z0-9_-:"}},
		{"results", []string{"-follow"}},
		{"event-type", []string{"--schema", "hookworker event-type put flags:", "-description", "-schema", "hookworker event-type list flags:", "-archived"}},
		{"endpoint", []string{"recover ID --since", "hookworker endpoint add flags:", "-event-type", "-header", "-metadata",
			"1 to 63 of A-Za-z0-9_-", `"whsec_" followed by 32 to 100 characters of standard base64`,
			"hookworker endpoint recover flags:", "-until", "hookworker endpoint disable flags:", "-reason", "-tenant"}},
		{"event", []string{"resend EVENT_ID", "hookworker event send flags:", "-payload", "-channel", "1 to 64 of A-Za-z0-9_-",
			"hookworker event resend flags:", "-endpoint", "-tenant"}},
		{"attempts", []string{"-outcome", "-tenant"}},
		{"tenant", []string{"token ID [--ttl D]", "hookworker tenant put flags:", "-id", "-name", "-metadata",
			"hookworker tenant list flags:", "-limit", "hookworker tenant token flags:", "-ttl"}},
		{"listen", []string{"-addr", "-secret-refresh", "1 to 63 of A-Za-z0-9_-", `"whsec_" followed by 32 to 100`}},
	} {
		code, out, _ := mainOut(t, nil, "help", tt.command)
		if code != cli.ExitOK {
			t.Errorf("help %s: exit %d", tt.command, code)
		}
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("help %s: stdout lacks %q:\n%s", tt.command, w, out)
			}
		}
	}
}

func TestBadVariableExits2(t *testing.T) {
	notCreds := filepath.Join(t.TempDir(), "nats.creds")
	if err := os.WriteFile(notCreds, []byte("user:password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, variable, value string
	}{
		{"duration", "HOOKWORKER_ACK_WAIT", "soon"},
		{"number", "HOOKWORKER_CONCURRENCY", "-3"},
		{"log level", "HOOKWORKER_LOG_LEVEL", "loud"},
		{"endless proxies file", "HOOKWORKER_PROXIES_FILE", "/dev/zero"},
		{"one-byte signing key", "HOOKWORKER_SIGNING_SECRET", "whsec_YQ=="},
		{"not a credentials file", "HOOKWORKER_NATS_CREDS", notCreds},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := baseEnv("nats://127.0.0.1:1") // never reached: config fails first
			env[tt.variable] = tt.value
			p := start(t, env)
			if code := p.wait(t); code != cli.ExitUsage {
				t.Errorf("exit status %d, want %d", code, cli.ExitUsage)
			}
			if !strings.Contains(p.stderr.String(), tt.variable) {
				t.Errorf("stderr does not name %s:\n%s", tt.variable, p.stderr.String())
			}
			if strings.Contains(p.stderr.String(), "nats") && strings.Contains(p.stderr.String(), "connect") {
				t.Errorf("connected before checking the configuration:\n%s", p.stderr.String())
			}
		})
	}
}

// runWorker starts a NATS server, a receiver and the hookworker binary
// against the server, and sets the test's HOOKWORKER_ variables to the
// worker's, for send and results run in the test. It returns the receiver
// and the server's URL.
func runWorker(t *testing.T) (*receiver, string) {
	t.Helper()
	srv := bustest.Server(t)
	rc := newReceiver(t, nil)
	env := baseEnv(srv.ClientURL())
	start(t, env).waitLog(t, "worker running")
	setEnv(t, env)
	return rc, srv.ClientURL()
}

func TestSendWaitAndResults(t *testing.T) {
	rc, natsURL := runWorker(t)

	code, out, errOut := mainOut(t, nil, "send", "--wait", "--timeout", "20s", "--id", "cli-1",
		"--url", rc.URL+"/hook", "--payload", `{"hello":"world"}`, "--header", "X-Env=test", "--meta", `{"k":1}`)
	if code != cli.ExitOK {
		t.Fatalf("send --wait: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	var r job.Result
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("send --wait printed %q: %v", out, err)
	}
	if r.ID != "cli-1" || !r.OK || r.Outcome != job.Delivered || r.Status != 204 || r.Attempts != 1 || string(r.Meta) != `{"k":1}` {
		t.Errorf("result = %+v", r)
	}

	// A job from standard input, without --wait: the id is printed.
	code, out, errOut = mainOut(t, strings.NewReader(`{"id":"cli-2","url":"`+rc.URL+`","payload":[1,2]}`), "send", "-")
	if code != cli.ExitOK || strings.TrimSpace(out) != "cli-2" {
		t.Fatalf("send -: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// A job that fails: send --wait exits 1 and prints the result.
	code, out, _ = mainOut(t, nil, "send", "--wait", "--timeout", "20s", "--url", "http://10.255.255.1:9/x", "--payload", "{}")
	if code != cli.ExitFailure || !strings.Contains(out, `"outcome":"rejected"`) {
		t.Errorf("send to a refused destination: exit %d, stdout %q", code, out)
	}
	// An invalid job is refused before anything is published.
	if code, _, errOut := mainOut(t, nil, "send", "--url", "ftp://x", "--payload", "{}"); code != cli.ExitUsage || !strings.Contains(errOut, "url") {
		t.Errorf("send invalid job: exit %d, stderr %q", code, errOut)
	}

	// Wait until the three results are stored.
	deadline := time.Now().Add(20 * time.Second)
	for len(storedResults(t, natsURL)) < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	code, out, errOut = mainOut(t, nil, "results")
	if code != cli.ExitOK {
		t.Fatalf("results: exit %d, stderr %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Errorf("results printed %d lines, want 3:\n%s", len(lines), out)
	}
	code, out, _ = mainOut(t, nil, "results", "--id", "cli-2")
	if code != cli.ExitOK || strings.Count(out, "\n") != 1 || !strings.Contains(out, `"id":"cli-2"`) {
		t.Errorf("results --id cli-2: exit %d, output %q", code, out)
	}
}

func TestSIGTERMWithJobInFlight(t *testing.T) {
	srv := bustest.Server(t)
	block := make(chan struct{})
	defer close(block)
	rc := newReceiver(t, block)
	env := baseEnv(srv.ClientURL())
	env["HOOKWORKER_SHUTDOWN_TIMEOUT"] = "300ms"
	a := start(t, env)
	a.waitLog(t, "worker running")
	setEnv(t, env)
	if code, _, errOut := mainOut(t, nil, "send", "--id", "in-flight", "--url", rc.URL, "--payload", "{}"); code != cli.ExitOK {
		t.Fatalf("send: exit %d: %s", code, errOut)
	}
	<-rc.firstIn
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := a.wait(t); code != cli.ExitOK {
		t.Fatalf("exit status after SIGTERM = %d, want 0", code)
	}
	// Another worker picks the job up.
	b := start(t, env)
	b.waitLog(t, `"job_id":"in-flight"`)
	b.waitLog(t, `"outcome":"delivered"`)
	results := storedResults(t, srv.ClientURL())
	if len(results) != 1 || results[0].ID != "in-flight" || results[0].Outcome != job.Delivered || results[0].Attempts != 2 {
		t.Errorf("stored results = %+v, want one delivered result with both attempts", results)
	}
	if n := rc.count("in-flight"); n != 2 {
		t.Errorf("receiver saw the job %d times, want 2 (the interrupted request and the redelivery)", n)
	}
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := b.wait(t); code != cli.ExitOK {
		t.Errorf("second worker exit status = %d", code)
	}
}

func TestEmbeddedServer(t *testing.T) {
	rc := newReceiver(t, nil)
	listen := freePort(t)
	httpAddr := freePort(t)
	env := baseEnv("")
	env["HOOKWORKER_EMBEDDED_LISTEN"] = listen
	env["HOOKWORKER_EMBEDDED_DIR"] = t.TempDir()
	env["HOOKWORKER_HTTP_ADDR"] = httpAddr
	p := start(t, env)
	p.waitLog(t, "worker running")
	resp, err := http.Get("http://" + httpAddr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz = %d, want 200", resp.StatusCode)
	}
	if !strings.Contains(p.stderr.String(), listen) {
		t.Errorf("the worker did not log where the embedded server listens (%s)", listen)
	}
	setEnv(t, env)
	code, out, errOut := mainOut(t, nil, "send", "--wait", "--timeout", "20s", "--url", rc.URL, "--payload", `{"embedded":true}`)
	if code != cli.ExitOK || !strings.Contains(out, `"outcome":"delivered"`) {
		t.Fatalf("send to embedded: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t); code != cli.ExitOK {
		t.Errorf("exit status = %d", code)
	}
	if !strings.Contains(p.stderr.String(), "embedded nats server stopped") {
		t.Error("the embedded server was not shut down")
	}
}

// TestUnreachableServerNamed checks that a command that cannot reach NATS
// says where it tried, without the URL's password, says to start the
// worker, and exits 1.
func TestUnreachableServerNamed(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	for _, env := range []struct {
		name string
		vars map[string]string
	}{
		{"nats url", map[string]string{"HOOKWORKER_NATS_URL": "nats://user:hunter2@" + addr}},
		{"embedded", map[string]string{"HOOKWORKER_EMBEDDED_LISTEN": addr}},
	} {
		t.Run(env.name, func(t *testing.T) {
			setEnv(t, env.vars)
			for _, args := range [][]string{
				{"send", "--url", "https://example.com/hook"}, {"endpoint", "list"}, {"results"},
				{"attempts"}, {"listen", "--addr", "127.0.0.1:0"},
			} {
				code, _, errOut := mainOut(t, nil, args...)
				if code != cli.ExitFailure || !strings.Contains(errOut, "cannot reach NATS at nats://"+addr) || strings.Contains(errOut, "hunter2") {
					t.Errorf("%s: exit %d, stderr %q; want %d and the server's address, without its password", args[0], code, errOut, cli.ExitFailure)
				}
				if !strings.Contains(errOut, "is the worker running?") || !strings.Contains(errOut, "HOOKWORKER_NATS_URL") {
					t.Errorf("%s: stderr %q does not say to start the worker or set HOOKWORKER_NATS_URL", args[0], errOut)
				}
			}
		})
	}
}

// TestBadFlagsExit2 checks that a bad flag value, caught before anything
// connects, exits 2 and says why; the server named is never reached.
func TestBadFlagsExit2(t *testing.T) {
	setEnv(t, map[string]string{"HOOKWORKER_NATS_URL": "nats://127.0.0.1:1"})
	tests := []struct {
		name string
		args []string
		why  string
	}{
		{"results negative since", []string{"results", "--since", "-1h"}, "--since"},
		{"attempts unknown outcome", []string{"attempts", "--outcome", "nope"}, "--outcome"},
		{"attempts negative limit", []string{"attempts", "--limit", "-1"}, "--limit"},
		{"send header without value", []string{"send", "--url", "https://example.com/", "--header", "X-Env"}, "Name:value"},
		{"unknown flag", []string{"endpoint", "list", "--bogus"}, "bogus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := mainOut(t, nil, tt.args...)
			if code != cli.ExitUsage || !strings.Contains(errOut, tt.why) {
				t.Errorf("%q: exit %d, stderr %q; want %d naming %s", tt.args, code, errOut, cli.ExitUsage, tt.why)
			}
		})
	}
}
