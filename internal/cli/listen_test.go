package cli_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hookworker/hookworker/internal/bus/bustest"
	"github.com/hookworker/hookworker/internal/cli"
	"github.com/hookworker/hookworker/internal/syncbuf"
)

// listening is a `hookworker listen` run in-process.
type listening struct {
	stdout, stderr *syncbuf.Buffer
	addr           string // where it listens
	cancel         context.CancelFunc
	done           chan int
}

// startListen runs `hookworker listen args...` in-process and waits until
// it listens.
func startListen(t *testing.T, args ...string) *listening {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	l := &listening{stdout: &syncbuf.Buffer{}, stderr: &syncbuf.Buffer{}, cancel: cancel, done: make(chan int, 1)}
	go func() { l.done <- cli.Main(ctx, append([]string{"listen"}, args...), nil, l.stdout, l.stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-l.done:
		case <-time.After(30 * time.Second):
			t.Error("listen did not stop")
		}
		if t.Failed() {
			t.Logf("listen %v stderr:\n%s", args, l.stderr.String())
		}
	})
	deadline := time.After(30 * time.Second)
	for {
		for _, m := range logLines(l.stderr.String()) {
			if m["msg"] == "listening" {
				l.addr, _ = m["addr"].(string)
				return l
			}
		}
		select {
		case code := <-l.done:
			l.done <- code
			t.Fatalf("listen exited %d before listening:\n%s", code, l.stderr.String())
		case <-deadline:
			t.Fatalf("listen never listened:\n%s", l.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// stop stops listen as SIGINT does and returns its exit status.
func (l *listening) stop(t *testing.T) int {
	t.Helper()
	l.cancel()
	select {
	case code := <-l.done:
		l.done <- code
		return code
	case <-time.After(30 * time.Second):
		t.Fatal("listen did not stop")
		return -1
	}
}

// logLines decodes the JSON log lines in s, skipping any other.
func logLines(s string) []map[string]any {
	var out []map[string]any
	for l := range strings.SplitSeq(s, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// newWebhookSecret returns a fresh signing secret.
func newWebhookSecret(t *testing.T) string {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(key)
}

// postSigned posts body to url signed with secret as a Standard Webhooks
// sender does, and returns the status.
func postSigned(t *testing.T, url, secret, id, body string) int {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	sig, err := wh.Sign(id, now, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// endpointOf reads an endpoint and its secret through the CLI.
func endpointOf(t *testing.T, id string) (map[string]any, string) {
	t.Helper()
	code, out, errOut := mainOut(t, nil, "endpoint", "get", id)
	if code != cli.ExitOK {
		t.Fatalf("endpoint get %s: exit %d: %s", id, code, errOut)
	}
	ep := jsonLines(t, out)[0]
	code, out, errOut = mainOut(t, nil, "endpoint", "secret", id)
	if code != cli.ExitOK {
		t.Fatalf("endpoint secret %s: exit %d: %s", id, code, errOut)
	}
	return ep, jsonLines(t, out)[0]["secret"].(string)
}

func TestListen(t *testing.T) {
	runWorker(t)
	if code, _, errOut := mainOut(t, nil, "event-type", "put", "order.created"); code != cli.ExitOK {
		t.Fatalf("event-type put: exit %d: %s", code, errOut)
	}

	first := startListen(t, "--addr", "127.0.0.1:0", "--endpoint", "ep_dev", "--event-type", "order.created")
	ep, secret := endpointOf(t, "ep_dev")
	if want := "http://" + first.addr + "/"; ep["url"] != want {
		t.Fatalf("registered url %v, want %s", ep["url"], want)
	}
	if types, _ := ep["event_types"].([]any); len(types) != 1 || types[0] != "order.created" {
		t.Fatalf("registered event types %v", ep["event_types"])
	}
	url := "http://" + first.addr + "/"

	body := `{"type":"order.created","timestamp":"2026-11-27T12:00:00Z","data":{"order":42}}`
	if code := postSigned(t, url, secret, "evt_1", body); code != http.StatusNoContent {
		t.Fatalf("a signed webhook was answered %d, want 204", code)
	}
	lines := jsonLines(t, first.stdout.String())
	if len(lines) != 1 {
		t.Fatalf("listen printed %d lines, want 1:\n%s", len(lines), first.stdout.String())
	}
	got, _ := json.Marshal(lines[0])
	if want := `{"data":{"order":42},"timestamp":"2026-11-27T12:00:00Z","type":"order.created","webhook_id":"evt_1"}`; string(got) != want {
		t.Errorf("listen printed %s, want %s", got, want)
	}

	t.Run("bad signature", func(t *testing.T) {
		before := first.stderr.String()
		forged := `{"type":"order.created","timestamp":"2026-11-27T12:00:00Z","data":{"marker":"FORGED-BODY"}}`
		if code := postSigned(t, url, newWebhookSecret(t), "evt_forged", forged); code != http.StatusForbidden {
			t.Fatalf("a webhook signed with another secret was answered %d, want 403", code)
		}
		// A positive control: the next valid webhook is printed, and
		// nothing came between.
		if code := postSigned(t, url, secret, "evt_2", body); code != http.StatusNoContent {
			t.Fatalf("a signed webhook was answered %d", code)
		}
		lines := jsonLines(t, first.stdout.String())
		if len(lines) != 2 || lines[1]["webhook_id"] != "evt_2" {
			t.Fatalf("listen printed:\n%s\nwant evt_1 then evt_2 alone", first.stdout.String())
		}
		logged := strings.TrimPrefix(first.stderr.String(), before)
		if n := strings.Count(logged, "verification failed"); n != 1 {
			t.Errorf("the forged request was logged %d times, want once:\n%s", n, logged)
		}
		if strings.Contains(logged, "FORGED-BODY") || secretRE.MatchString(first.stderr.String()) {
			t.Errorf("the log holds a body or a secret:\n%s", first.stderr.String())
		}
	})

	if code := first.stop(t); code != cli.ExitOK {
		t.Fatalf("listen stopped with exit %d, want 0", code)
	}

	t.Run("second listen reuses the endpoint", func(t *testing.T) {
		second := startListen(t, "--addr", "127.0.0.1:0", "--endpoint", "ep_dev")
		ep, again := endpointOf(t, "ep_dev")
		if again != secret {
			t.Fatal("the second listen changed the endpoint's secret")
		}
		url := "http://" + second.addr + "/"
		if ep["url"] != url {
			t.Fatalf("endpoint url %v, want it moved to %s", ep["url"], url)
		}
		if types, _ := ep["event_types"].([]any); len(types) != 1 {
			t.Fatalf("event types %v, want them kept", ep["event_types"])
		}
		if code := postSigned(t, url, secret, "evt_1", body); code != http.StatusNoContent {
			t.Fatalf("a signed webhook was answered %d, want 204", code)
		}
		if lines := jsonLines(t, second.stdout.String()); len(lines) != 1 || lines[0]["webhook_id"] != "evt_1" {
			t.Fatalf("listen printed:\n%s", second.stdout.String())
		}
		code, out, _ := mainOut(t, nil, "endpoint", "list")
		if code != cli.ExitOK || len(jsonLines(t, out)) != 1 {
			t.Fatalf("endpoint list: exit %d, %s; want the one endpoint", code, out)
		}
	})
}

func TestListenExitStatus(t *testing.T) {
	_, natsURL := runWorker(t)
	tests := []struct {
		name string
		args []string
		code int
		says string
	}{
		{"argument", []string{"now"}, cli.ExitUsage, "now"},
		{"bad address", []string{"--addr", "8080"}, cli.ExitUsage, "--addr"},
		{"bad id", []string{"--endpoint", "dev endpoint"}, cli.ExitUsage, "--endpoint"},
		{"bad event type", []string{"--event-type", "order"}, cli.ExitUsage, "--event-type"},
		{"bad url", []string{"--url", "ftp://example.com/"}, cli.ExitUsage, "--url"},
		{"bad secret", []string{"--secret", "whsec_c2hvcnQ="}, cli.ExitUsage, "--secret"},
		{"unknown flag", []string{"--port", "80"}, cli.ExitUsage, "port"},
		{"unknown event type", []string{"--addr", "127.0.0.1:0", "--event-type", "order.unknown"}, cli.ExitFailure, "order.unknown"},
		{"private address refused", []string{"--addr", "127.0.0.1:0", "--url", "http://10.1.2.3/"}, cli.ExitFailure, "HOOKWORKER_ALLOW_PRIVATE_NETWORKS=true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := mainOut(t, nil, append([]string{"listen"}, tt.args...)...)
			if code != tt.code || out != "" || !strings.Contains(errOut, tt.says) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d naming %q", code, out, errOut, tt.code, tt.says)
			}
		})
	}
	t.Run("no api", func(t *testing.T) {
		srv := bustest.Server(t) // NATS, but no worker
		env := baseEnv(srv.ClientURL())
		setEnv(t, env)
		code, out, errOut := mainOut(t, nil, "listen", "--addr", "127.0.0.1:0", "--endpoint", "ep_dev")
		if code != cli.ExitFailure || out != "" || !strings.Contains(errOut, "no responders") {
			t.Errorf("exit %d, stdout %q, stderr %q; want exit 1", code, out, errOut)
		}
	})
	t.Run("SIGINT", func(t *testing.T) {
		p := start(t, baseEnv(natsURL), "listen", "--addr", "127.0.0.1:0", "--endpoint", "ep_signal")
		p.waitLog(t, `"msg":"listening"`)
		if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		if code := p.wait(t); code != cli.ExitOK {
			t.Errorf("exit %d after SIGINT, want 0", code)
		}
		if !strings.Contains(p.stderr.String(), "listen stopped") {
			t.Errorf("listen did not stop cleanly:\n%s", p.stderr.String())
		}
	})
	t.Run("help", func(t *testing.T) {
		code, out, _ := mainOut(t, nil, "help", "listen")
		if code != cli.ExitOK || !strings.Contains(out, "HOOKWORKER_ALLOW_PRIVATE_NETWORKS") || !strings.Contains(out, "-endpoint") {
			t.Errorf("help listen: exit %d, stdout %q", code, out)
		}
	})
}

// TestListenWithoutEndpoint runs listen on a new address each time without
// --endpoint: every run takes the one endpoint of this machine along, and
// an endpoint that already has the URL is used as it is.
func TestListenWithoutEndpoint(t *testing.T) {
	runWorker(t)
	host, err := os.Hostname()
	if err != nil {
		t.Skipf("no hostname: %v", err)
	}
	endpoints := func(t *testing.T) []map[string]any {
		t.Helper()
		code, out, errOut := mainOut(t, nil, "endpoint", "list")
		if code != cli.ExitOK {
			t.Fatalf("endpoint list: exit %d: %s", code, errOut)
		}
		return jsonLines(t, out)
	}

	first := startListen(t, "--addr", "127.0.0.1:0")
	list := endpoints(t)
	if len(list) != 1 || !strings.HasPrefix(list[0]["id"].(string), "listen-") || list[0]["url"] != "http://"+first.addr+"/" {
		t.Fatalf("after the first listen the endpoints are %v, want one listen-… at %s", list, first.addr)
	}
	id := list[0]["id"].(string)
	if plain := regexp.MustCompile(`^[A-Za-z0-9_-]{1,56}$`); plain.MatchString(host) && id != "listen-"+host {
		t.Errorf("endpoint id %s, want listen-%s, after this machine", id, host)
	}
	_, secret := endpointOf(t, id)
	if code := first.stop(t); code != cli.ExitOK {
		t.Fatalf("listen stopped with exit %d", code)
	}

	second := startListen(t, "--addr", "127.0.0.1:0")
	if second.addr == first.addr {
		t.Fatalf("both listens had the address %s; the test needs two", first.addr)
	}
	list = endpoints(t)
	if len(list) != 1 || list[0]["id"] != id || list[0]["url"] != "http://"+second.addr+"/" {
		t.Fatalf("after the second listen the endpoints are %v, want %s alone, moved to %s", list, id, second.addr)
	}
	if _, again := endpointOf(t, id); again != secret {
		t.Error("the second listen changed the endpoint's secret")
	}
	if code := second.stop(t); code != cli.ExitOK {
		t.Fatalf("listen stopped with exit %d", code)
	}

	t.Run("an endpoint that has the URL is used", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		if code, _, errOut := mainOut(t, nil, "endpoint", "add", "--id", "ep_mine", "--url", "http://"+addr+"/"); code != cli.ExitOK {
			t.Fatalf("endpoint add: exit %d: %s", code, errOut)
		}
		l := startListen(t, "--addr", addr)
		var ids []string
		for _, ep := range endpoints(t) {
			ids = append(ids, ep["id"].(string))
		}
		slices.Sort(ids)
		if want := []string{id, "ep_mine"}; !slices.Equal(ids, slices.Sorted(slices.Values(want))) {
			t.Errorf("endpoints %v, want %v", ids, want)
		}
		if !strings.Contains(l.stderr.String(), `"endpoint":"ep_mine"`) {
			t.Errorf("listen did not use ep_mine:\n%s", l.stderr.String())
		}
	})
}

// TestListenFollowsRotation rotates the endpoint's secret while listen
// runs: within --secret-refresh, a request signed with the new secret alone
// verifies, and one signed with the old secret alone still does.
func TestListenFollowsRotation(t *testing.T) {
	runWorker(t)
	l := startListen(t, "--addr", "127.0.0.1:0", "--endpoint", "ep_rot", "--secret-refresh", "50ms")
	_, old := endpointOf(t, "ep_rot")
	url := "http://" + l.addr + "/"
	body := `{"type":"order.created","timestamp":"2026-11-27T12:00:00Z","data":{"order":1}}`
	if code := postSigned(t, url, old, "evt_before", body); code != http.StatusNoContent {
		t.Fatalf("a webhook signed with the secret was answered %d, want 204", code)
	}
	if code, _, errOut := mainOut(t, nil, "endpoint", "rotate", "ep_rot"); code != cli.ExitOK {
		t.Fatalf("endpoint rotate: exit %d: %s", code, errOut)
	}
	_, rotated := endpointOf(t, "ep_rot")
	if rotated == old {
		t.Fatal("rotate kept the secret")
	}
	deadline := time.After(10 * time.Second)
	for i := 0; postSigned(t, url, rotated, "evt_new_"+strconv.Itoa(i), body) != http.StatusNoContent; i++ {
		select {
		case <-deadline:
			t.Fatal("a webhook signed with the new secret alone is still refused 10s after the rotation")
		case <-time.After(20 * time.Millisecond):
		}
	}
	if code := postSigned(t, url, old, "evt_old", body); code != http.StatusNoContent {
		t.Errorf("a webhook signed with the old secret alone was answered %d after the rotation, want 204", code)
	}
	if !strings.Contains(l.stderr.String(), "secret changed") {
		t.Errorf("listen did not log the change:\n%s", l.stderr.String())
	}
	if secretRE.MatchString(l.stderr.String()) {
		t.Errorf("the log holds a secret:\n%s", l.stderr.String())
	}
}
