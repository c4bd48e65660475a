package docs_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hookworker/hookworker/internal/freeport"
	"github.com/hookworker/hookworker/internal/syncbuf"
)

// walkthrough is the order the pages' runnable blocks run in, as a reader
// follows them: each page goes on from the state the one before left (the
// worker it started, the endpoints it added).
var walkthrough = []string{"jobs.md", "events.md", "receiving.md", "delivery-log.md", "http-api.md", "configuration.md"}

// quickStartAPI is the address the local quick start serves the HTTP API
// on, which http-api.md calls.
const quickStartAPI = "127.0.0.1:8081"

// Bounds on the walkthrough's waits.
const (
	commandTimeout = 30 * time.Second // one command
	settleTimeout  = 5 * time.Second  // a command run again until it prints its lines
	readyTimeout   = 30 * time.Second // a background command's ready lines
	outputTimeout  = 15 * time.Second // a from= block's lines
)

// block is one fenced code block of a page.
type block struct {
	page  string
	line  int               // of the opening fence, 1-based
	lang  string            // the info string's first word: sh, json, text, …
	attrs map[string]string // the info string's other words: background, exit=1, from=listen
	lines []string          // the content, the fence's indentation removed
}

func (b block) String() string { return fmt.Sprintf("%s:%d", b.page, b.line) }

// blocks returns the fenced code blocks of a Markdown page.
func blocks(page, text string) []block {
	var out []block
	var cur *block
	indent := 0
	for i, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimLeft(line, " ")
		if cur == nil {
			if !strings.HasPrefix(trimmed, "```") {
				continue
			}
			indent = len(line) - len(trimmed)
			b := block{page: page, line: i + 1, attrs: map[string]string{}}
			words := strings.Fields(strings.TrimPrefix(trimmed, "```"))
			if len(words) > 0 {
				b.lang = words[0]
				for _, w := range words[1:] {
					k, v, _ := strings.Cut(w, "=")
					b.attrs[k] = v
				}
			}
			cur = &b
			continue
		}
		if trimmed == "```" {
			out = append(out, *cur)
			cur = nil
			continue
		}
		cut := min(indent, len(line)-len(trimmed))
		cur.lines = append(cur.lines, line[cut:])
	}
	return out
}

// command is one command of a sh block, with what it prints.
type command struct {
	text string   // continuation lines joined with newlines
	want []string // the "# " lines after it
}

// commands splits a sh block into its commands. A line ending in "\" or
// "|" goes on on the next line.
func commands(t *testing.T, b block) []command {
	t.Helper()
	var out []command
	for i := 0; i < len(b.lines); i++ {
		line := b.lines[i]
		switch {
		case strings.TrimSpace(line) == "":
			continue
		case strings.HasPrefix(line, "#"):
			if len(out) == 0 {
				t.Fatalf("%s: output %q before any command", b, line)
			}
			last := &out[len(out)-1]
			last.want = append(last.want, strings.TrimSpace(strings.TrimPrefix(line, "#")))
			continue
		}
		text := line
		for (strings.HasSuffix(strings.TrimSpace(text), "\\") || strings.HasSuffix(strings.TrimSpace(text), "|")) && i+1 < len(b.lines) {
			i++
			text += "\n" + b.lines[i]
		}
		out = append(out, command{text: text})
	}
	return out
}

// matches reports whether line is pattern, "…" in pattern standing for any
// text.
func matches(pattern, line string) bool {
	parts := strings.Split(strings.TrimSpace(pattern), "…")
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, parts[0]) {
		return false
	}
	line = line[len(parts[0]):]
	if len(parts) == 1 {
		return line == ""
	}
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(line, p)
		if i < 0 {
			return false
		}
		line = line[i+len(p):]
	}
	return strings.HasSuffix(line, parts[len(parts)-1])
}

// missing returns the first of want that the lines of out do not print, in
// order, or "" when out prints them all.
func missing(want []string, out string) string {
	lines := strings.Split(out, "\n")
	for _, w := range want {
		found := false
		for len(lines) > 0 && !found {
			found = matches(w, lines[0])
			lines = lines[1:]
		}
		if !found {
			return w
		}
	}
	return ""
}

// background is a command left running.
type background struct {
	cmd            *exec.Cmd
	stdout, stderr *syncbuf.Buffer
	done           chan struct{}
}

// env is the walkthrough's environment: this process's, without any
// HOOKWORKER_ variable, with the hookworker binary first on PATH, the
// embedded NATS server on a port of the test's own and RECEIVER set.
func env(bin, natsAddr, receiver string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "HOOKWORKER_") || strings.HasPrefix(kv, "PATH=") || strings.HasPrefix(kv, "RECEIVER=") {
			continue
		}
		out = append(out, kv)
	}
	return append(out,
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"HOOKWORKER_EMBEDDED_LISTEN="+natsAddr,
		"RECEIVER="+receiver,
	)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestWalkthrough runs the runnable blocks of the walkthrough pages, in
// order, as a reader would: hookworker on PATH, a fresh working directory
// (so a fresh ./data for the embedded server), a receiver at $RECEIVER.
func TestWalkthrough(t *testing.T) {
	// The worker the walkthrough starts is the local quick start: its HTTP
	// API listens on a fixed address, which must be free.
	if c, err := net.DialTimeout("tcp", quickStartAPI, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s, where the quick start serves the HTTP API, is taken: stop what listens there", quickStartAPI)
	}
	bin := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "hookworker"), "github.com/hookworker/hookworker/cmd/hookworker")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build hookworker: %v\n%s", err, out)
	}
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(receiver.Close)
	dir := t.TempDir()
	environ := env(bin, freeAddr(t), receiver.URL+"/hook")

	running := map[string]*background{}
	t.Cleanup(func() {
		for name, bg := range running {
			_ = syscall.Kill(-bg.cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-bg.done:
			case <-time.After(10 * time.Second):
				_ = syscall.Kill(-bg.cmd.Process.Pid, syscall.SIGKILL)
				<-bg.done
			}
			if t.Failed() {
				t.Logf("background %s stdout:\n%s\nstderr:\n%s", name, bg.stdout, bg.stderr)
			}
		}
	})

	for _, page := range walkthrough {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range blocks(page, string(data)) {
			switch {
			case b.lang == "sh":
				for _, c := range commands(t, b) {
					if name, ok := b.attrs["background"]; ok {
						if name == "" {
							name = b.String()
						}
						running[name] = startBackground(t, b, c, dir, environ)
						continue
					}
					run(t, b, c, dir, environ)
				}
			case b.attrs["from"] != "":
				bg := running[b.attrs["from"]]
				if bg == nil {
					t.Fatalf("%s: from=%s, but no background command has that name", b, b.attrs["from"])
				}
				var want []string
				for _, l := range b.lines {
					if strings.TrimSpace(l) != "" {
						want = append(want, l)
					}
				}
				waitFor(t, b, bg, want, bg.stdout, outputTimeout)
			}
		}
	}
}

// run runs c and checks its exit status and output. A command that exits
// as it should but does not print its lines yet is run again, until
// settleTimeout: a result or a delivery-log record is stored just after the
// delivery it follows, which a command run at once may not see yet. A
// command whose lines are right the first time runs once.
func run(t *testing.T, b block, c command, dir string, environ []string) {
	t.Helper()
	wantExit := 0
	if v, ok := b.attrs["exit"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("%s: exit=%q is not a number", b, v)
		}
		wantExit = n
	}
	deadline := time.Now().Add(settleTimeout)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), commandTimeout)
		cmd := exec.CommandContext(ctx, "bash", "-o", "pipefail", "-c", c.text)
		cmd.Dir, cmd.Env = dir, environ
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		cancel()
		code := cmd.ProcessState.ExitCode()
		if err != nil && code < 0 {
			t.Fatalf("%s: %s\n%v", b, c.text, err)
		}
		if code != wantExit {
			t.Fatalf("%s: %s\nexit status %d, want %d\nstdout:\n%s\nstderr:\n%s", b, c.text, code, wantExit, &stdout, &stderr)
		}
		w := missing(c.want, stdout.String()+stderr.String())
		if w == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s\nprinted no line like\n  %s\nstdout:\n%s\nstderr:\n%s", b, c.text, w, &stdout, &stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startBackground starts c in a process group of its own and waits until it
// prints its ready lines.
func startBackground(t *testing.T, b block, c command, dir string, environ []string) *background {
	t.Helper()
	cmd := exec.Command("bash", "-o", "pipefail", "-c", c.text)
	cmd.Dir, cmd.Env = dir, environ
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	bg := &background{cmd: cmd, stdout: &syncbuf.Buffer{}, stderr: &syncbuf.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = bg.stdout, bg.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %s\n%v", b, c.text, err)
	}
	go func() {
		_ = cmd.Wait()
		close(bg.done)
	}()
	waitFor(t, b, bg, c.want, nil, readyTimeout)
	return bg
}

// waitFor waits until bg has printed want, on out (nil: either stream).
func waitFor(t *testing.T, b block, bg *background, want []string, out *syncbuf.Buffer, timeout time.Duration) {
	t.Helper()
	printed := func() string {
		if out != nil {
			return out.String()
		}
		return bg.stdout.String() + bg.stderr.String()
	}
	deadline := time.Now().Add(timeout)
	for {
		w := missing(want, printed())
		if w == "" {
			return
		}
		select {
		case <-bg.done:
			t.Fatalf("%s: exited (%d) before printing a line like\n  %s\nstdout:\n%s\nstderr:\n%s", b, bg.cmd.ProcessState.ExitCode(), w, bg.stdout, bg.stderr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: printed no line like\n  %s\nwithin %s\nstdout:\n%s\nstderr:\n%s", b, w, timeout, bg.stdout, bg.stderr)
		}
	}
}

// TestRunnableBlocksAreInTheWalkthrough checks that every page with a
// runnable block is one the walkthrough runs, so none is skipped.
func TestRunnableBlocksAreInTheWalkthrough(t *testing.T) {
	pages, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, page := range pages {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range blocks(page, string(data)) {
			if b.lang == "sh" && !slices.Contains(walkthrough, page) {
				t.Errorf("%s: a sh block on a page the walkthrough does not run; add the page to walkthrough or make the block text", b)
			}
		}
	}
}

// TestREADMEAgrees checks that the README's commands are those the
// walkthrough runs, and its test command the one CI runs.
func TestREADMEAgrees(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	ran := map[string]bool{}
	for _, page := range walkthrough {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range blocks(page, string(data)) {
			if b.lang == "sh" {
				for _, c := range commands(t, b) {
					ran[c.text] = true
				}
			}
		}
	}
	const testCommand = "go vet ./... && go test -race ./..."
	sawTest := false
	for _, b := range blocks("README.md", string(readme)) {
		if b.lang != "sh" {
			continue
		}
		for _, c := range commands(t, b) {
			switch {
			case strings.HasPrefix(c.text, testCommand):
				sawTest = true
			case strings.HasPrefix(c.text, "go "):
				// Building and running from the source tree.
			case !ran[c.text]:
				t.Errorf("README.md:%d: %q is not a command the walkthrough runs", b.line, c.text)
			}
		}
	}
	if !sawTest {
		t.Errorf("README.md: no sh block holds the test command %q", testCommand)
	}
	ci, err := os.ReadFile("../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	for _, part := range []string{"go vet ./...", "go test -race"} {
		if !strings.Contains(string(ci), part) {
			t.Errorf(".ci/run does not run %q, which the README's test command does", part)
		}
	}
}

// link is a Markdown link to a page or an anchor: [text](target).
var link = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestLinks checks that the links of the README and the pages to a page of
// the repository, or to a heading of one, lead somewhere.
func TestLinks(t *testing.T) {
	pages, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	pages = append(pages, "../README.md")
	for _, page := range pages {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(prose(string(data)), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			path := page
			if file != "" {
				path = filepath.Join(filepath.Dir(page), file)
			}
			body, err := os.ReadFile(path)
			if err != nil {
				t.Errorf("%s: link %s: %v", page, target, err)
				continue
			}
			if anchor != "" && !slices.Contains(anchors(string(body)), anchor) {
				t.Errorf("%s: link %s: %s has no heading #%s", page, target, path, anchor)
			}
		}
	}
}

// prose is a page without its code blocks.
func prose(text string) string {
	var b strings.Builder
	in := false
	for line := range strings.SplitSeq(text, "\n") {
		if strings.HasPrefix(strings.TrimLeft(line, " "), "```") {
			in = !in
			continue
		}
		if !in {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// anchors returns the anchors GitHub gives the headings of a page:
// lowercase, punctuation but "-" and "_" dropped, spaces made "-".
func anchors(text string) []string {
	var out []string
	for line := range strings.SplitSeq(prose(text), "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		a := strings.Map(func(r rune) rune {
			switch {
			case r == ' ':
				return '-'
			case r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9'):
				return r
			}
			return -1
		}, h)
		out = append(out, a)
	}
	return out
}
