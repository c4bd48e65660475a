package portal_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/hookworker/hookworker/internal/api/apitest"
	"github.com/hookworker/hookworker/internal/attempt"
	"github.com/hookworker/hookworker/internal/auth"
	"github.com/hookworker/hookworker/receiver"
)

// The user journeys of the portal, each through a tab of the package's
// browser (browser_test.go) against a real worker (world_test.go).

// waitFor waits until ok is true.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 15s for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// receivedOf returns how many times r was sent event id.
func receivedOf(r *apitest.Receiver, id string) int {
	n := 0
	for _, d := range r.Deliveries() {
		if d.Header.Get("webhook-id") == id {
			n++
		}
	}
	return n
}

// rawJSON is s as a JSON value of a request.
func rawJSON(s string) json.RawMessage { return json.RawMessage(s) }

const orderSchema = `{"type":"object","required":["id"],"properties":{"id":{"type":"string","description":"the order's id"},"total":{"type":"number"}},"examples":[{"id":"ord_1001","total":42.5}]}`

// xssMarker is a global a script of the page would set, were a string
// from a tenant or a receiver taken as markup.
const xssMarker = "__hookworkerXSS"

// A tenant's developer, through the portal opened with a token: adds an
// endpoint with the form, sees an event's delivery arrive without a
// reload, opens it and its response, resends it, rotates the secret (and
// the next delivery verifies with the new one), sees nothing of another
// tenant, and is shown what a payload and a response hold as text. An
// operator signs in with a key and picks a tenant.
func TestPortal(t *testing.T) {
	startBrowser(t)
	start0 := time.Now()
	w := start(t)
	tokA, tokB := w.tenant(t, "acme"), w.tenant(t, "globex")
	w.call(t, "PUT", "/event-types/order.created", operatorKey, map[string]any{
		"description": "An order was placed and paid for.", "schema": rawJSON(orderSchema)}, nil)
	w.call(t, "PUT", "/event-types/invoice.paid", operatorKey, map[string]any{"description": "An invoice was paid."}, nil)

	// Another tenant's endpoint, with a delivery in the log.
	recB := apitest.NewReceiver(t, `{"received":true}`)
	var epB struct {
		ID string `json:"id"`
	}
	w.call(t, "POST", "/endpoints", tokB, map[string]any{"url": recB.URL, "description": "Globex's secret endpoint"}, &epB)
	w.call(t, "POST", "/events", operatorKey, map[string]any{"type": "order.created", "tenant": "globex", "payload": map[string]any{"id": "globex-1"}}, nil)
	recB.Wait(t, 1)

	// The served page carries the security headers.
	resp, err := http.Get(w.base + "/portal/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	checkSecurityHeaders(t, resp.Header, "frame-ancestors 'self'")

	recA := apitest.NewReceiver(t, `{"received":true,"note":"thanks"}`)
	tb := newTab(t)
	tb.do(chromedp.Navigate(w.base + "/portal/#token=" + tokA))
	tb.until("the endpoints page", `document.querySelector('h1')?.innerText === 'Endpoints' && document.querySelector('.empty')`)
	if got := tb.eval(`location.href`); strings.Contains(got, "token") {
		t.Fatalf("the token stayed in the address: %s", got)
	}
	if got := tb.text(".tenant-chip"); got != "acme" {
		t.Errorf("signed in as %q, want acme", got)
	}
	tb.shot("01-endpoints-empty")

	// Add an endpoint through the form.
	tb.clickText("Add endpoint")
	tb.until("the form", `document.querySelector('input[name=url]')`)
	tb.clickText("Create endpoint")
	tb.until("the missing URL, in words", `document.querySelector('main [role=alert]')?.innerText.includes('Enter the URL')`)
	tb.typeInto("input[name=url]", "ftp://example.com/hooks")
	tb.clickText("Create endpoint")
	tb.until("the API's refusal, in words", `document.activeElement?.name === 'url' && document.querySelector('input[name=url]').getAttribute('aria-invalid') === 'true' && !document.querySelector('main [role=alert]').innerText.includes('Enter the URL')`)
	t.Logf("a bad URL is refused with: %s", tb.text("main [role=alert]"))
	tb.eval(`document.querySelector('input[name=url]').value = ''`)
	tb.typeInto("input[name=url]", recA.URL)
	tb.typeInto("input[name=description]", "Order service")
	tb.click(`input[value="order.created"]`)
	tb.clickText("Add header")
	tb.typeInto("input[name=header_name]", "X-Team")
	tb.typeInto("input[name=header_value]", "payments")
	tb.shot("02-endpoint-form")
	tb.clickText("Create endpoint")
	tb.until("the endpoint's page", fmt.Sprintf(`document.querySelector('h1.url')?.innerText === %q`, recA.URL))
	id := tb.eval(`decodeURIComponent(location.hash.split('/')[2])`)
	var ep struct {
		EventTypes []string          `json:"event_types"`
		Headers    map[string]string `json:"headers"`
		Tenant     string            `json:"tenant"`
		RateLimit  int               `json:"rate_limit"`
		Timeout    string            `json:"timeout"`
	}
	w.call(t, "GET", "/endpoints/"+id, tokA, nil, &ep)
	if ep.Tenant != "acme" || len(ep.EventTypes) != 1 || ep.EventTypes[0] != "order.created" || ep.Headers["X-Team"] != "payments" {
		t.Fatalf("the form made %+v", ep)
	}

	// A test event, from the endpoint's page, shows up in its recent
	// attempts as it is delivered.
	tb.until("the live attempts", `document.querySelector('.live.on')`)
	tb.clickText("Send test event")
	tb.until("the test's notice", `document.querySelector('main .notice')?.innerText.includes('Test event')`)
	if got := string(recA.Wait(t, 1).Body); !strings.Contains(got, "ord_1001") {
		t.Errorf("the test event sent %s, want the type's example", got)
	}
	tb.until("the test's attempt", `document.querySelectorAll('table.attempts tbody tr').length === 1`)

	// A test event is not stored: its attempt offers another test, not a
	// resend (which would find no event), and says why it has no payload.
	tb.click("table.attempts tbody tr td button")
	tb.until("the test's attempt dialog", `document.querySelector('dialog[open]')?.innerText.includes('test events are not stored')`)
	if tb.eval(`[...document.querySelectorAll('dialog[open] button')].some((b) => b.innerText.trim() === 'Resend')`) != "false" {
		t.Error("a test event's attempt offers a resend")
	}
	tb.clickText("Send another test event")
	tb.until("the second test's notice", `document.querySelector('dialog[open] .notice')?.innerText.includes('Test event')`)
	if got := string(recA.Wait(t, 2).Body); !strings.Contains(got, "ord_1001") {
		t.Errorf("the second test event sent %s, want the type's example", got)
	}
	tb.clickText("Close")
	tb.until("the second test's attempt", `document.querySelectorAll('table.attempts tbody tr').length === 2`)

	// Edit its delivery policy.
	tb.clickText("Edit")
	tb.until("the edit form", `document.querySelector('input[name=rate_limit]')`)
	tb.click("details.fieldset > summary")
	tb.typeInto("input[name=rate_limit]", "10")
	tb.typeInto("input[name=timeout]", "5s")
	tb.clickText("Save changes")
	tb.until("the changed endpoint", `document.querySelector('main').innerText.includes('10 requests a second')`)
	w.call(t, "GET", "/endpoints/"+id, tokA, nil, &ep)
	if ep.RateLimit != 10 || ep.Timeout != "5s" {
		t.Errorf("after the edit: rate_limit %d, timeout %q", ep.RateLimit, ep.Timeout)
	}

	// Disable it, with a reason; an event sent meanwhile is not
	// delivered; enable it and recover what it missed.
	tb.clickText("Disable")
	tb.until("the confirmation", `document.querySelector('dialog[open] input[name=reason]')`)
	tb.typeInto("dialog[open] input[name=reason]", "Down for maintenance")
	tb.click("dialog[open] button[value=yes]")
	tb.until("the disabled state", `document.querySelector('main').innerText.includes('Down for maintenance')`)
	w.call(t, "POST", "/events", operatorKey, map[string]any{"type": "order.created", "tenant": "acme", "payload": map[string]any{"id": "ord_missed"}}, nil)
	tb.clickText("Enable")
	tb.until("the enabled state", `!document.querySelector('main').innerText.includes('Down for maintenance')`)
	tb.clickText("Recover")
	tb.until("the recovery's notice", `[...document.querySelectorAll('main .notice')].some((n) => /sent again|Nothing to recover/.test(n.innerText))`)
	waitFor(t, "the missed event", func() bool {
		for _, d := range recA.Deliveries() {
			if strings.Contains(string(d.Body), "ord_missed") {
				return true
			}
		}
		return false
	})

	// An endpoint whose receiver fails: its attempts are in the log, and
	// it shows in the list with its success rate.
	down := apitest.NewReceiver(t, "")
	down.Answer(`{"error":"database unavailable"}`, http.StatusServiceUnavailable)
	var billing struct {
		ID string `json:"id"`
	}
	w.call(t, "POST", "/endpoints", tokA, map[string]any{"url": down.URL, "description": "Billing", "event_types": []string{"invoice.paid"}}, &billing)
	w.call(t, "POST", "/events", operatorKey, map[string]any{"type": "invoice.paid", "tenant": "acme", "payload": map[string]any{"invoice": "inv_7"}}, nil)
	waitFor(t, "the failed delivery", func() bool {
		var page struct {
			Attempts []json.RawMessage `json:"attempts"`
		}
		w.call(t, "GET", "/attempts?outcome=failed&endpoint="+billing.ID, tokA, nil, &page)
		return len(page.Attempts) > 0
	})

	// A delivery appears in the log without a reload.
	tb.clickText("Delivery log")
	// The log's own live view, not the endpoint page's still on screen
	// while the log loads.
	tb.until("the live log", `document.querySelector('h1')?.textContent === 'Delivery log' && document.querySelector('.page-head .live.on')`)
	tb.eval(`window.stayed = 'yes'`)
	var sent struct {
		ID string `json:"id"`
	}
	w.call(t, "POST", "/events", operatorKey, map[string]any{"type": "order.created", "tenant": "acme", "payload": map[string]any{"id": "ord_1", "total": 12}}, &sent)
	rowsOf := fmt.Sprintf(`document.querySelectorAll('table.attempts tbody tr[data-event=%q]').length`, sent.ID)
	tb.until("the delivery in the log", rowsOf+` === 1`)
	if tb.eval(`window.stayed`) != "yes" {
		t.Fatal("the page was reloaded")
	}

	// Open the attempt: its response, headers and payload.
	tb.click(fmt.Sprintf("table.attempts tbody tr[data-event=%q] td button", sent.ID))
	tb.until("the attempt", `document.querySelector('dialog[open] pre.response')`)
	if got := tb.text("dialog[open] pre.response"); !strings.Contains(got, `"note": "thanks"`) {
		t.Errorf("the response shows %q", got)
	}
	tb.until("the payload", `document.querySelector('dialog[open]').innerText.includes('"ord_1"')`)
	tb.shot("04-attempt")

	// Resend it: a second attempt arrives.
	tb.clickText("Resend")
	tb.until("the resend's notice", `document.querySelector('dialog[open] .notice')`)
	tb.clickText("Close")
	tb.until("the second attempt", rowsOf+` === 2`)
	if got := receivedOf(recA, sent.ID); got != 2 {
		t.Errorf("the receiver got event %s %d times, want 2", sent.ID, got)
	}
	tb.shot("03-log")

	// Rotate the secret: the next delivery verifies with the new one.
	tb.do(chromedp.Navigate(w.base + "/portal/#/endpoints/" + id))
	tb.until("the endpoint's page", `document.querySelector('#secret-value')`)
	tb.clickText("Reveal")
	tb.until("the secret", `document.querySelector('#secret-value').innerText.startsWith('whsec_') && !document.querySelector('#secret-value').innerText.includes('•')`)
	old := tb.text("#secret-value")
	tb.clickText("Rotate secret")
	tb.until("the confirmation", `document.querySelector('dialog[open]')`)
	tb.click("dialog[open] button[value=yes]")
	tb.until("the new secret", fmt.Sprintf(`document.querySelector('#secret-value').innerText !== %q`, old))
	fresh := tb.text("#secret-value")
	// The copy button puts it on the clipboard.
	tb.clickText("Copy")
	if got := tb.clipboard(w.base); got != fresh {
		t.Errorf("the clipboard holds %q, want the new secret", got)
	}
	n := len(recA.Deliveries())
	w.call(t, "POST", "/events", operatorKey, map[string]any{"type": "order.created", "tenant": "acme", "payload": map[string]any{"id": "ord_2"}}, nil)
	d := recA.Wait(t, n+1)
	v, err := receiver.NewVerifier([]string{fresh}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(d.Header, d.Body); err != nil {
		t.Errorf("a delivery after the rotation does not verify with the new secret: %v", err)
	}
	tb.until("the live attempts", `[...document.querySelectorAll('table.attempts tbody tr')].length >= 5`)
	tb.shot("05-endpoint")

	// The log filtered to one endpoint: its attempts only, and recovery.
	tb.do(chromedp.Navigate(w.base + "/portal/#/log?endpoint=" + id))
	tb.until("the endpoint's log", `document.querySelector('table.attempts') && document.querySelector('input[name=since]')`)
	if body := tb.text("table.attempts"); strings.Contains(body, down.URL) || strings.Contains(body, "Billing") {
		t.Errorf("the log of one endpoint shows another's attempts:\n%s", body)
	}
	tb.clickText("Recover")
	tb.until("the recovery's notice", `[...document.querySelectorAll('main .notice')].some((n) => /sent again|Nothing to recover/.test(n.innerText))`)

	// Delete an endpoint, after a confirmation.
	var spare struct {
		ID string `json:"id"`
	}
	w.call(t, "POST", "/endpoints", tokA, map[string]any{"url": recA.URL + "/spare", "description": "Spare"}, &spare)
	tb.do(chromedp.Navigate(w.base + "/portal/#/endpoints/" + spare.ID))
	tb.until("the spare endpoint", `document.querySelector('h1.url')?.innerText.endsWith('/spare')`)
	tb.clickText("Delete")
	tb.until("the confirmation", `document.querySelector('dialog[open] button.danger')`)
	tb.click("dialog[open] button.danger")
	tb.until("the list without it", `location.hash === '#/endpoints' && document.querySelector('table') && !document.querySelector('main').innerText.includes('/spare')`)

	// Nothing of the other tenant: not in the list, not in the log, and
	// its endpoint's page is missing.
	tb.until("the success rates", `!document.querySelector('main').innerText.includes('…')`)
	tb.shot("06-endpoints")
	for _, page := range []string{"#/endpoints", "#/log"} {
		tb.do(chromedp.Navigate(w.base + "/portal/" + page))
		tb.until("the page", `document.querySelector('table')`)
		if body := tb.text("main"); strings.Contains(body, recB.URL) || strings.Contains(body, "Globex") {
			t.Errorf("%s shows the other tenant's endpoint:\n%s", page, body)
		}
	}
	tb.do(chromedp.Navigate(w.base + "/portal/#/endpoints/" + epB.ID))
	tb.until("the missing endpoint", `document.querySelector('h1')?.innerText === 'Endpoint not found'`)

	// A payload, a response and a description holding markup are text,
	// and run nothing.
	w.call(t, "PATCH", "/endpoints/"+id, tokA, map[string]any{"description": `Orders <img src=x onerror="window.` + xssMarker + `=5">`}, nil)
	recA.Answer(`<img src=x onerror="window.`+xssMarker+`=3"><script>window.`+xssMarker+`=4</script>`, 0)
	tb.do(chromedp.Navigate(w.base + "/portal/#/log"))
	tb.until("the live log", `document.querySelector('h1')?.textContent === 'Delivery log' && document.querySelector('.page-head .live.on')`)
	w.call(t, "POST", "/events", operatorKey, map[string]any{"type": "order.created", "tenant": "acme",
		"payload": map[string]any{"id": "<script>window." + xssMarker + "=1</script>", "note": `<img src=x onerror="window.` + xssMarker + `=2">`}}, &sent)
	tb.until("the new attempt", fmt.Sprintf(`document.querySelector('table.attempts tbody tr[data-event=%q]')`, sent.ID))
	tb.click(fmt.Sprintf("table.attempts tbody tr[data-event=%q] td button", sent.ID))
	tb.until("the payload", `document.querySelector('dialog[open]')?.innerText.includes('<script>window.`+xssMarker+`=1</script>')`)
	if got := tb.text("dialog[open] pre.response"); !strings.Contains(got, `<script>window.`+xssMarker+`=4</script>`) {
		t.Errorf("the response shows %q", got)
	}
	tb.do(chromedp.KeyEvent(kb.Escape)) // a dialog closes from the keyboard
	tb.until("the dialog closed", `!document.querySelector('dialog[open]')`)
	tb.clickText("Endpoints")
	tb.until("the description as text", `document.querySelector('main').innerText.includes('Orders <img src=x onerror=')`)
	if got := tb.eval(`typeof window.` + xssMarker); got != "undefined" {
		t.Errorf("markup from a payload, a response or a description ran: window.%s is set (%s)", xssMarker, tb.eval(`window.`+xssMarker))
	}

	// A header whose name marks a credential is not shown on the
	// endpoint's page; its edit form holds it in a password field.
	const apiKey = "k3y-v4lue-9d1"
	w.call(t, "PATCH", "/endpoints/"+id, tokA, map[string]any{"headers": map[string]string{"X-Team": "payments", "X-Api-Key": apiKey}}, nil)
	tb.do(chromedp.Navigate(w.base + "/portal/#/endpoints/" + id))
	tb.until("the endpoint's headers", `document.querySelector('main')?.innerText.includes('X-Api-Key')`)
	if body := tb.text("main"); strings.Contains(body, apiKey) || !strings.Contains(body, "payments") {
		t.Errorf("the endpoint's page shows the credential header's value, or hides the other's:\n%s", body)
	}
	tb.clickText("Edit")
	tb.until("the edit form's headers", `document.querySelectorAll('input[name=header_value]').length === 2`)
	if got := tb.eval(`[...document.querySelectorAll('input[name=header_value]')].map((i) => i.type + '=' + i.value).sort().join(' ')`); got != "password="+apiKey+" text=payments" {
		t.Errorf("the edit form's header values: %s", got)
	}
	// The portal's rule for which names mark a credential is the delivery
	// log's, written again in JavaScript: the two agree.
	names := []string{"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "Webhook-Signature",
		"X-Api-Key", "X-Auth-Token", "Client-Secret", "X-Monkey", "X-Team", "Content-Type", "Webhook-Id", "Webhook-Timestamp"}
	named := http.Header{}
	for _, n := range names {
		named.Set(n, "v")
	}
	logged := attempt.Headers(named)
	var redacted []string
	for _, n := range names {
		if logged[strings.ToLower(n)] == attempt.Redacted {
			redacted = append(redacted, n)
		}
	}
	list, _ := json.Marshal(names)
	if got := tb.await(`import('/portal/js/dom.js').then((m) => ` + string(list) + `.filter(m.credentialHeader).join(' '))`); got != strings.Join(redacted, " ") {
		t.Errorf("the portal hides the values of %q, the delivery log those of %q", got, strings.Join(redacted, " "))
	}
	tb.checkRequests(w.base, tokA, operatorKey)
	tb.checkConsole()

	// A token that expires while the page is open: the next request
	// signs the tab out, saying why, and forgets the token.
	tokens, err := auth.NewTokens([]byte(tokenSecret))
	if err != nil {
		t.Fatal(err)
	}
	short, expires, err := tokens.Mint("acme", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ex := newTab(t)
	ex.do(chromedp.Navigate(w.base + "/portal/#token=" + short))
	ex.until("the endpoints", `document.querySelector('table')`)
	time.Sleep(time.Until(expires) + time.Second)
	ex.clickText("Event catalog")
	ex.until("the sign-in form, saying why", `document.querySelector('input[name=credential]') && document.querySelector('[role=alert]')?.innerText.includes('expired')`)
	if got := ex.eval(`sessionStorage.length`); got != "0" {
		t.Errorf("the expired token is still kept: sessionStorage holds %s items", got)
	}
	ex.checkConsole()

	// The operator: signs in with the key in the form, sees every tenant,
	// picks one.
	op := newTab(t)
	op.do(chromedp.Navigate(w.base + "/portal/"))
	op.until("the sign-in form", `document.querySelector('input[name=credential]')`)
	op.shot("00-signin")
	op.typeInto("input[name=credential]", "hwk_not-the-key-0123456789abcdefghijklmn\n")
	op.until("the refusal", `document.querySelector('[role=alert]')?.innerText.includes('not accepted')`)
	op.eval(`document.querySelector('input[name=credential]').value = ''`)
	op.typeInto("input[name=credential]", operatorKey+"\n")
	op.until("the endpoints", `document.querySelector('table')`)
	if body := op.text("main"); !strings.Contains(body, recA.URL) || !strings.Contains(body, recB.URL) {
		t.Errorf("the operator does not see both tenants' endpoints:\n%s", body)
	}
	op.clickText("Delivery log")
	op.until("every tenant's attempts", `document.querySelector('table.attempts') && ['acme', 'globex'].every((t) => document.querySelector('table.attempts').innerText.includes(t))`)
	op.clickText("Endpoints")
	op.until("the endpoints", `document.querySelector('table')`)
	op.do(chromedp.SetValue(chromedp.CSS("#tenant-picker"), "globex"))
	op.eval(`document.querySelector('#tenant-picker').dispatchEvent(new Event('change'))`)
	op.until("globex's endpoints", fmt.Sprintf(`document.querySelector('table') && !document.querySelector('main').innerText.includes(%q)`, recA.URL))
	if body := op.text("main"); !strings.Contains(body, recB.URL) {
		t.Errorf("globex's endpoints do not show:\n%s", body)
	}
	op.clickText("Event catalog")
	op.until("the catalog", `document.querySelector('article.type')`)
	if body := op.text("main"); !strings.Contains(body, "ord_1001") || !strings.Contains(body, "An invoice was paid.") {
		t.Errorf("the catalog shows:\n%s", body)
	}
	op.shot("07-catalog")
	op.checkRequests(w.base, operatorKey)
	op.checkConsole()
	t.Logf("the browser tests took %s", time.Since(start0).Round(time.Millisecond))
}
