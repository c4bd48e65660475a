package portal_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The browser tests drive headless Chromium (Debian's chromium package)
// through the DevTools protocol against a real worker: one browser for the
// package, one tab per user.

var screenshots = flag.String("screenshots", "", "folder the browser tests write their screenshots to; empty: a new folder in the system's temporary folder")

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	stopBrowser()
	os.Exit(code)
}

// errNoChromium says that no Chromium is installed.
var errNoChromium = errors.New("no chromium on PATH")

// browser is the one browser of the package's tests, started by the first
// test that asks for it.
var browser struct {
	once    sync.Once
	ctx     context.Context
	err     error
	cancels []func()
	dir     string // its profile
	shots   string // the screenshot folder
}

// startBrowser returns the browser's context, skipping the test when
// Chromium is not installed and CI is not set; under CI a missing Chromium
// fails the test.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	browser.once.Do(func() {
		path := ""
		for _, name := range []string{"chromium", "chromium-browser"} {
			if p, err := exec.LookPath(name); err == nil {
				path = p
				break
			}
		}
		if path == "" {
			browser.err = errNoChromium
			return
		}
		dir, err := os.MkdirTemp("", "hookworker-portal-profile-")
		if err != nil {
			browser.err = err
			return
		}
		browser.dir = dir
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
			chromedp.UserDataDir(dir), chromedp.WindowSize(1280, 800),
			chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true))
		actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		bctx, cancelBrowser := chromedp.NewContext(actx)
		browser.cancels = append(browser.cancels, cancelAlloc, cancelBrowser)
		if err := chromedp.Do(bctx); err != nil {
			browser.err = fmt.Errorf("start %s: %w", path, err)
			return
		}
		browser.ctx = bctx
	})
	switch {
	case errors.Is(browser.err, errNoChromium) && ci():
		t.Fatal("chromium is not installed, and CI is set: the browser tests must run (apt-get install -y chromium)")
	case errors.Is(browser.err, errNoChromium):
		t.Skip("skipping the browser tests: chromium is not installed (apt-get install -y chromium); under CI=true they fail instead")
	case browser.err != nil:
		t.Fatal(browser.err)
	}
	return browser.ctx
}

// ci reports whether CI is set (to anything but false or 0).
func ci() bool {
	v := strings.ToLower(os.Getenv("CI"))
	return v != "" && v != "false" && v != "0"
}

// stopBrowser ends the browser and removes its profile.
func stopBrowser() {
	for i := len(browser.cancels) - 1; i >= 0; i-- {
		browser.cancels[i]()
	}
	if browser.dir != "" {
		os.RemoveAll(browser.dir)
	}
}

// screenshotDir returns the folder screenshots go to, made once, and
// logs it.
func screenshotDir(t *testing.T) string {
	t.Helper()
	if browser.shots == "" {
		dir := *screenshots
		if dir == "" {
			var err error
			if dir, err = os.MkdirTemp("", "hookworker-portal-screenshots-"); err != nil {
				t.Fatal(err)
			}
		} else if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		browser.shots = dir
		t.Logf("screenshots of each page, 1280 and 375 px wide: %s", dir)
	}
	return browser.shots
}

// tab is one user's browser tab, with what it requested.
type tab struct {
	t   *testing.T
	ctx context.Context
	mu  sync.Mutex
	// requests are the URLs and Authorization headers of every request the
	// tab sent.
	requests []request
	// problems are the page's uncaught exceptions, console errors and
	// browser complaints (a CSP violation among them); a request's error
	// status, which the page answers in words, is none.
	problems []string
}

type request struct{ url, authorization string }

func newTab(t *testing.T) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(startBrowser(t))
	t.Cleanup(cancel)
	tb := &tab{t: t, ctx: ctx}
	err := chromedp.Listen(ctx, func(ev any) {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			if e.Request != nil {
				auth, _ := e.Request.Headers["Authorization"].(string)
				tb.requests = append(tb.requests, request{url: e.Request.URL, authorization: auth})
			}
		case *runtime.EventExceptionThrown:
			if d := e.ExceptionDetails; d != nil {
				msg := d.Text
				if d.Exception != nil {
					msg += " " + d.Exception.Description
				}
				tb.problems = append(tb.problems, "exception: "+msg)
			}
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
				tb.problems = append(tb.problems, fmt.Sprintf("console.%s", e.Type))
			}
		case *cdplog.EventEntryAdded:
			if e.Entry != nil && e.Entry.Source != cdplog.EntrySourceNetwork &&
				(e.Entry.Level == cdplog.EntryLevelError || e.Entry.Level == cdplog.EntryLevelWarning) {
				tb.problems = append(tb.problems, fmt.Sprintf("%s %s: %s", e.Entry.Source, e.Entry.Level, e.Entry.Text))
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	tb.do(chromedp.EmulateViewport(1280, 800))
	return tb
}

// do runs actions, failing the test on an error.
func (tb *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("browser: %v", err)
	}
}

// eval evaluates a JavaScript expression to a string.
func (tb *tab) eval(expr string) string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`String(`+expr+`)`))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// await evaluates a JavaScript expression whose value is a promise of a
// string, and returns the string.
func (tb *tab) await(expr string) string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// until waits until a JavaScript expression is true, polling from Go (the
// page's CSP allows no code built from strings, chromedp's Poll included).
func (tb *tab) until(what, expr string) {
	tb.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if tb.eval(`!!(`+expr+`)`) == "true" {
			return
		}
		if time.Now().After(deadline) {
			tb.t.Fatalf("waited 15s for %s (%s); the page says:\n%s", what, expr, tb.eval(`document.querySelector('main').innerText`))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// text returns the visible text of the first element sel selects ("" when
// none does).
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	return tb.eval(fmt.Sprintf(`(document.querySelector(%q) || {innerText: ''}).innerText`, sel))
}

// click clicks, with the mouse, the first element sel selects.
func (tb *tab) click(sel string) {
	tb.t.Helper()
	tb.do(chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
}

// clickText clicks the button or link whose text is text.
func (tb *tab) clickText(text string) {
	tb.t.Helper()
	tb.do(chromedp.Click(fmt.Sprintf(`//*[self::button or self::a][normalize-space()=%q]`, text), chromedp.NodeVisible))
}

// typeInto types text into the field sel selects.
func (tb *tab) typeInto(sel, text string) {
	tb.t.Helper()
	tb.do(chromedp.SendKeys(chromedp.CSS(sel), text, chromedp.NodeVisible))
}

// shot writes a screenshot of the page as name-desktop.png (1280 px wide)
// and name-375.png (a 375 px wide phone).
func (tb *tab) shot(name string) {
	tb.t.Helper()
	tb.checkAccessible(name)
	dir := screenshotDir(tb.t)
	tb.eval(`document.getElementById('toasts').replaceChildren()`)
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	for _, size := range []struct {
		suffix string
		view   chromedp.Action[chromedp.Void]
	}{
		{"desktop", chromedp.EmulateViewport(1280, 800)},
		{"375", chromedp.EmulateViewport(375, 812, chromedp.EmulateMobile)},
	} {
		if err := chromedp.Do(ctx, size.view); err != nil {
			tb.t.Fatalf("screenshot %s: %v", name, err)
		}
		time.Sleep(100 * time.Millisecond) // a layout for the new width
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			tb.t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+"-"+size.suffix+".png"), png, 0o644); err != nil {
			tb.t.Fatal(err)
		}
	}
	tb.do(chromedp.EmulateViewport(1280, 800))
}

// checkAccessible fails when a form control of the page has no label, a
// link goes nowhere, or something that is not a button or a link listens
// for clicks in its markup.
func (tb *tab) checkAccessible(page string) {
	tb.t.Helper()
	unlabelled := tb.eval(`[...document.querySelectorAll('input, select, textarea')]
		.filter((el) => el.type !== 'hidden' && el.labels.length === 0 && !el.getAttribute('aria-label'))
		.map((el) => el.outerHTML).join('\n')`)
	if unlabelled != "" {
		tb.t.Errorf("%s: controls without a label:\n%s", page, unlabelled)
	}
	if n := tb.eval(`document.querySelectorAll('a:not([href]), [onclick], [tabindex]:not([tabindex="-1"])').length`); n != "0" {
		tb.t.Errorf("%s: %s links without a target or clickable non-buttons", page, n)
	}
}

// clipboard returns the text on the clipboard, as a page of origin may
// read it once allowed to.
func (tb *tab) clipboard(origin string) string {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.CallBrowser(ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
			Permission: &cdpbrowser.PermissionDescriptor{Name: name}, Setting: cdpbrowser.PermissionSettingGranted, Origin: origin}); err != nil {
			tb.t.Fatalf("allow %s: %v", name, err)
		}
	}
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("read the clipboard: %v", err)
	}
	return text
}

// checkConsole fails when the page threw, logged an error or a warning,
// or broke its CSP.
func (tb *tab) checkConsole() {
	tb.t.Helper()
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, p := range tb.problems {
		tb.t.Errorf("the page: %s", p)
	}
}

// checkRequests fails when a request of the tab carried secret in its URL,
// or a request to the API went without it as its Bearer header.
func (tb *tab) checkRequests(base string, secrets ...string) {
	tb.t.Helper()
	tb.mu.Lock()
	defer tb.mu.Unlock()
	api := 0
	for _, r := range tb.requests {
		for _, s := range secrets {
			if strings.Contains(r.url, s) {
				tb.t.Errorf("a request carried a credential in its URL: %.60s…", r.url)
			}
		}
		if strings.HasPrefix(r.url, base+"/api/v1/") {
			api++
			if !strings.HasPrefix(r.authorization, "Bearer ") {
				tb.t.Errorf("%s went without a Bearer header", r.url)
			}
		}
	}
	if api == 0 {
		tb.t.Error("the tab sent no request to the API")
	}
}
