package catalog_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/internal/secret"
)

const goodSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func TestPutEndpointRefusesBadFields(t *testing.T) {
	c, _, _ := setup(t)
	ctx := context.Background()
	putType(t, c, "order.created", orderSchema)
	tests := []struct {
		name   string
		ep     catalog.Endpoint
		secret string
		field  string
	}{
		{"no url", catalog.Endpoint{}, "", "url"},
		{"relative url", catalog.Endpoint{URL: "/hook"}, "", "url"},
		{"ftp url", catalog.Endpoint{URL: "ftp://example.com/"}, "", "url"},
		{"loopback literal", catalog.Endpoint{URL: "http://127.0.0.1:8080/hook"}, "", "url"},
		{"private literal", catalog.Endpoint{URL: "http://[fd00::1]/hook"}, "", "url"},
		{"bad id", catalog.Endpoint{ID: "ep 1", URL: "https://example.com/"}, "", "id"},
		{"long id", catalog.Endpoint{ID: strings.Repeat("a", 64), URL: "https://example.com/"}, "", "id"},
		{"unknown type", catalog.Endpoint{URL: "https://example.com/", EventTypes: []string{"order.deleted"}}, "", "event_types"},
		{"bad type name", catalog.Endpoint{URL: "https://example.com/", EventTypes: []string{"order"}}, "", "event_types"},
		{"bad channel", catalog.Endpoint{URL: "https://example.com/", Channels: []string{"a b"}}, "", "channels"},
		{"metadata not an object", catalog.Endpoint{URL: "https://example.com/", Metadata: json.RawMessage(`[1]`)}, "", "metadata"},
		{"reserved header", catalog.Endpoint{URL: "https://example.com/", Headers: map[string]string{"webhook-id": "x"}}, "", "headers"},
		{"bad header name", catalog.Endpoint{URL: "https://example.com/", Headers: map[string]string{"a b": "x"}}, "", "headers"},
		{"short secret", catalog.Endpoint{URL: "https://example.com/"}, "whsec_abc", "secret"},
		{"secret without prefix", catalog.Endpoint{URL: "https://example.com/"}, strings.TrimPrefix(goodSecret, "whsec_") + "AAAAAA", "secret"},
		{"secret decoding short", catalog.Endpoint{URL: "https://example.com/"}, "whsec_" + strings.Repeat("=", 32), "secret"},
		{"too large", catalog.Endpoint{URL: "https://example.com/", Description: strings.Repeat("d", catalog.MaxEndpointBytes)}, "", "endpoint"},
		{"too large, nearly the max payload", catalog.Endpoint{URL: "https://example.com/", Metadata: json.RawMessage(`{"a":"` + strings.Repeat("m", 1000<<10) + `"}`)}, "", "endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.PutEndpoint(ctx, tt.ep, tt.secret)
			if got := field(err); got != tt.field {
				t.Fatalf("err = %v: field %q, want %q", err, got, tt.field)
			}
			if strings.Contains(tt.name, "literal") && !strings.Contains(err.Error(), "HOOKWORKER_ALLOW_PRIVATE_NETWORKS") {
				t.Errorf("err = %v, want it to name the variable that allows the address", err)
			}
			if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Fatalf("error repeats the secret: %v", err)
			}
		})
	}
	page, err := c.Endpoints(ctx, catalog.Query{})
	if err != nil || len(page.Endpoints) != 0 {
		t.Fatalf("refused puts stored %d endpoints (%v)", len(page.Endpoints), err)
	}
	// The positive control: the same catalog takes a good endpoint, and
	// one a little short of the size limit.
	if _, err := c.PutEndpoint(ctx, catalog.Endpoint{URL: "https://example.com/", EventTypes: []string{"order.created"},
		Channels: []string{"acme:eu"}, Headers: map[string]string{"X-Env": "prod"}, Metadata: json.RawMessage(`{"team":"a"}`)}, goodSecret); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutEndpoint(ctx, catalog.Endpoint{URL: "https://example.com/big", Description: strings.Repeat("d", catalog.MaxEndpointBytes-1024)}, ""); err != nil {
		t.Fatalf("an endpoint 1 KiB short of the limit: %v", err)
	}
}

func TestPutEndpointWithoutIDReusesTheURL(t *testing.T) {
	c, _, _ := setup(t)
	ctx := context.Background()
	first, err := c.PutEndpoint(ctx, catalog.Endpoint{URL: "https://example.com/a", Description: "one"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(first.ID, "ep_") {
		t.Fatalf("generated id %q", first.ID)
	}
	second, err := c.PutEndpoint(ctx, catalog.Endpoint{URL: "https://example.com/a", Description: "two"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if second.ID != first.ID || second.Description != "two" || !second.CreatedAt.Equal(first.CreatedAt) {
		t.Fatalf("second put = %+v, want an update of %s", second, first.ID)
	}
	other, err := c.PutEndpoint(ctx, catalog.Endpoint{URL: "https://example.com/b"}, "")
	if err != nil || other.ID == first.ID {
		t.Fatalf("another URL: %+v, %v", other, err)
	}
}

func TestSecretsAndRotation(t *testing.T) {
	c, _, clk := setup(t)
	ctx := context.Background()
	ep, err := c.PutEndpoint(ctx, catalog.Endpoint{ID: "ep_1", URL: "https://example.com/"}, goodSecret)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(ep)
	if strings.Contains(string(body), "whsec_") {
		t.Fatalf("endpoint JSON holds a secret: %s", body)
	}
	got, err := c.SigningSecrets(ctx, "ep_1", clk.Now())
	if err != nil || !slices.Equal(got, []string{goodSecret}) {
		t.Fatalf("secrets = %v, %v", got, err)
	}
	if err := c.Rotate(ctx, "ep_1", ""); err != nil {
		t.Fatal(err)
	}
	current, err := c.Secret(ctx, "ep_1")
	if err != nil || current == goodSecret || catalog.CheckSecret(current) != nil {
		t.Fatalf("rotated secret unusable: %v", err)
	}
	got, _ = c.SigningSecrets(ctx, "ep_1", clk.Now())
	if !slices.Equal(got, []string{current, goodSecret}) {
		t.Fatalf("during the grace period: %d secrets, want the new and the old", len(got))
	}
	got, _ = c.SigningSecrets(ctx, "ep_1", clk.Now().Add(catalog.DefaultSecretGrace+time.Second))
	if !slices.Equal(got, []string{current}) {
		t.Fatalf("after the grace period: %d secrets, want the new one only", len(got))
	}
	// An update without a secret keeps it; the endpoint stays as it was.
	if _, err := c.PutEndpoint(ctx, catalog.Endpoint{ID: "ep_1", URL: "https://example.com/x"}, ""); err != nil {
		t.Fatal(err)
	}
	if s, _ := c.Secret(ctx, "ep_1"); s != current {
		t.Fatal("an update without a secret changed it")
	}
	if _, err := c.SigningSecrets(ctx, "ep_404", clk.Now()); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("unknown endpoint: %v", err)
	}
	if err := c.Rotate(ctx, "ep_1", "whsec_bad"); field(err) != "secret" {
		t.Fatalf("bad rotation secret: %v", err)
	}
}

func TestDisablePublishesTheOperationalEvent(t *testing.T) {
	c, nc, _ := setup(t)
	ctx := context.Background()
	sub, err := nc.SubscribeSync(catalog.DisabledSubject)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutEndpoint(ctx, catalog.Endpoint{ID: "ep_1", URL: "https://example.com/"}, ""); err != nil {
		t.Fatal(err)
	}
	if err := c.Disable(ctx, "ep_1", "410 Gone"); err != nil {
		t.Fatal(err)
	}
	msg, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var d catalog.Disabled
	if err := json.Unmarshal(msg.Data, &d); err != nil || d.Endpoint != "ep_1" || d.Reason != "410 Gone" || d.At.IsZero() {
		t.Fatalf("event %s (%v)", msg.Data, err)
	}
	ep, _ := c.Endpoint(ctx, "ep_1")
	if !ep.Disabled || ep.DisabledReason != "410 Gone" {
		t.Fatalf("endpoint %+v", ep)
	}
	if m, _ := c.Matching(ctx, "", "order.created", ""); len(m) != 0 {
		t.Fatalf("a disabled endpoint matches: %+v", m)
	}
	// put with disabled false enables it again.
	ep.Disabled = false
	if ep, err = c.PutEndpoint(ctx, ep, ""); err != nil || ep.Disabled || ep.DisabledReason != "" {
		t.Fatalf("enable: %+v, %v", ep, err)
	}
	if m, _ := c.Matching(ctx, "", "order.created", ""); len(m) != 1 {
		t.Fatalf("enabled endpoint does not match: %+v", m)
	}
}

func TestListAndMatch(t *testing.T) {
	c, _, clk := setup(t)
	ctx := context.Background()
	putType(t, c, "order.created", `{}`)
	putType(t, c, "order.paid", `{}`)
	add := func(id string, types, channels []string) {
		t.Helper()
		clk.Add(time.Second)
		if _, err := c.PutEndpoint(ctx, catalog.Endpoint{ID: id, URL: "https://example.com/" + id, EventTypes: types, Channels: channels}, ""); err != nil {
			t.Fatal(err)
		}
	}
	add("all", nil, nil)
	add("created", []string{"order.created"}, nil)
	add("paid", []string{"order.paid"}, nil)
	add("eu", nil, []string{"eu"})
	add("us_created", []string{"order.created"}, []string{"us"})

	ids := func(eps []catalog.Endpoint) []string {
		var out []string
		for _, e := range eps {
			out = append(out, e.ID)
		}
		return out
	}
	lists := []struct {
		name string
		q    catalog.Query
		want []string
	}{
		{"all, newest first", catalog.Query{}, []string{"us_created", "eu", "paid", "created", "all"}},
		{"ascending", catalog.Query{Order: "asc"}, []string{"all", "created", "paid", "eu", "us_created"}},
		{"by type", catalog.Query{EventType: "order.created", Order: "asc"}, []string{"all", "created", "eu", "us_created"}},
		{"by channel", catalog.Query{Channel: "eu", Order: "asc"}, []string{"all", "created", "paid", "eu"}},
		{"by both", catalog.Query{EventType: "order.created", Channel: "us", Order: "asc"}, []string{"all", "created", "us_created"}},
	}
	for _, tt := range lists {
		t.Run(tt.name, func(t *testing.T) {
			page, err := c.Endpoints(ctx, tt.q)
			if err != nil || !page.Done || !slices.Equal(ids(page.Endpoints), tt.want) {
				t.Fatalf("page %v done %v (%v), want %v", ids(page.Endpoints), page.Done, err, tt.want)
			}
		})
	}
	t.Run("paging", func(t *testing.T) {
		var got []string
		q := catalog.Query{Order: "asc", Limit: 2}
		for pages := 0; ; pages++ {
			if pages > 3 {
				t.Fatal("too many pages")
			}
			page, err := c.Endpoints(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, ids(page.Endpoints)...)
			if page.Done {
				if page.Iterator != "" {
					t.Fatal("last page has an iterator")
				}
				break
			}
			q.Iterator = page.Iterator
		}
		if !slices.Equal(got, []string{"all", "created", "paid", "eu", "us_created"}) {
			t.Fatalf("pages gave %v", got)
		}
	})
	t.Run("bad queries", func(t *testing.T) {
		for _, q := range []catalog.Query{{Limit: 1001}, {Limit: -1}, {Order: "up"}, {Iterator: "!!"}, {EventType: "x"}, {Channel: "a b"}} {
			if _, err := c.Endpoints(ctx, q); field(err) == "" {
				t.Errorf("query %+v: err = %v, want an invalid request", q, err)
			}
		}
	})
	matches := []struct {
		typ, channel string
		want         []string
	}{
		{"order.created", "", []string{"all", "created"}},
		{"order.created", "us", []string{"all", "created", "us_created"}},
		{"order.paid", "eu", []string{"all", "paid", "eu"}},
	}
	for _, tt := range matches {
		got, err := c.Matching(ctx, "", tt.typ, tt.channel)
		if err != nil || !slices.Equal(ids(got), tt.want) {
			t.Errorf("Matching(%s, %q) = %v (%v), want %v", tt.typ, tt.channel, ids(got), err, tt.want)
		}
	}
	if err := c.DeleteEndpoint(ctx, "all"); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Matching(ctx, "", "order.created", ""); !slices.Equal(ids(got), []string{"created"}) {
		t.Fatalf("after delete: %v", ids(got))
	}
	if _, err := c.Endpoint(ctx, "all"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("deleted endpoint: %v", err)
	}
	if ep, ok := c.Lookup("created"); !ok || ep.URL != "https://example.com/created" {
		t.Fatalf("Lookup = %+v, %v", ep, ok)
	}
}

// Rotating many times in the grace period keeps only the most recent old
// secrets signing beside the current one, so that the signature header
// stays small.
func TestRotationKeepsTheMostRecentOldSecrets(t *testing.T) {
	c, _, clk := setup(t)
	ctx := context.Background()
	if _, err := c.PutEndpoint(ctx, catalog.Endpoint{ID: "ep_1", URL: "https://example.com/"}, goodSecret); err != nil {
		t.Fatal(err)
	}
	var secrets []string // every current secret, oldest first
	for i := range 20 {
		clk.Add(time.Second)
		if i%2 == 0 {
			if err := c.Rotate(ctx, "ep_1", ""); err != nil {
				t.Fatal(err)
			}
		} else {
			// A put with a new secret rotates too.
			if _, err := c.PutEndpoint(ctx, catalog.Endpoint{ID: "ep_1", URL: "https://example.com/"}, secret.New()); err != nil {
				t.Fatal(err)
			}
		}
		s, err := c.Secret(ctx, "ep_1")
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, s)
	}
	got, err := c.SigningSecrets(ctx, "ep_1", clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	n := len(secrets)
	want := []string{secrets[n-1], secrets[n-3], secrets[n-2]}
	if !slices.Equal(got, want) {
		t.Fatalf("after %d rotations %d secrets sign, want the current and the two most recent old ones", n, len(got))
	}
}

// An endpoint stored with more old secrets than a rotation now keeps signs
// with the current one and the most recent old ones only.
func TestSigningSecretsOfAnEndpointStoredWithManyOldSecrets(t *testing.T) {
	c, nc, clk := setup(t)
	ctx := context.Background()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, catalog.EndpointsBucket)
	if err != nil {
		t.Fatal(err)
	}
	until := clk.Now().Add(time.Hour).Format(time.RFC3339)
	var old []string
	var olds []string
	for range 5 {
		s := secret.New()
		old = append(old, s)
		olds = append(olds, `{"secret":"`+s+`","until":"`+until+`"}`)
	}
	body := `{"id":"ep_1","url":"https://example.com/","secret":"` + goodSecret + `","old_secrets":[` + strings.Join(olds, ",") + `]}`
	if _, err := kv.Put(ctx, "ep_1", []byte(body)); err != nil {
		t.Fatal(err)
	}
	got, err := c.SigningSecrets(ctx, "ep_1", clk.Now())
	if want := []string{goodSecret, old[3], old[4]}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("%d secrets sign (%v), want the current and the two most recent old ones", len(got), err)
	}
}
