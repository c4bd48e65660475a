package endpoint_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookworker/hookworker/internal/bus"
	"github.com/hookworker/hookworker/internal/catalog"
	"github.com/hookworker/hookworker/internal/fanout"
	"github.com/hookworker/hookworker/job"
	hwreceiver "github.com/hookworker/hookworker/receiver"
)

// keyOf returns a secret whose key is n bytes long.
func keyOf(n int) string {
	return "whsec_" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{byte(n)}, n))
}

// TestEveryAcceptedKeyLengthSigns: an endpoint gets every key the catalog
// accepts, the Standard Webhooks range and the longer ones up to 100
// characters alike, and each delivery carries a signature that both the
// Standard Webhooks library and the receiver package verify.
func TestEveryAcceptedKeyLengthSigns(t *testing.T) {
	t.Parallel()
	w := start(t, options{})
	w.putType(t, "key.tested")
	v := func(sec string) *hwreceiver.Verifier {
		vf, err := hwreceiver.NewVerifier([]string{sec}, 0)
		if err != nil {
			t.Fatalf("receiver refuses a secret the catalog accepted: %v", err)
		}
		return vf
	}
	for i, n := range []int{24, 32, 64, 72, 75} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			rc := w.receiver(t, nil)
			sec := keyOf(n)
			ep := w.putEndpoint(t, catalog.Endpoint{URL: rc.URL}, sec)
			evID := "evt_key_" + strconv.Itoa(i)
			w.send(t, catalog.Event{ID: evID, Type: "key.tested", Payload: json.RawMessage(`{}`)})
			if r := w.result(t, fanout.JobID(evID, ep.ID)); r.Outcome != job.Delivered {
				t.Fatalf("%d-byte key: %s %q", n, r.Outcome, r.Error)
			}
			req := rc.requests()[0]
			if req.header.Get("webhook-signature") == "" {
				t.Fatalf("%d-byte key: sent without webhook-signature", n)
			}
			if !verifies(t, sec, req) {
				t.Errorf("%d-byte key: the Standard Webhooks library does not verify the signature", n)
			}
			if err := v(sec).Verify(req.header, req.body); err != nil {
				t.Errorf("%d-byte key: receiver.Verify: %v", n, err)
			}
			if verifies(t, keyOf(n+1), req) {
				t.Errorf("%d-byte key: verifies with another key", n)
			}
		})
	}
}

// TestUnparsableSecretFailsDelivery: a stored secret the worker cannot
// sign with (written to the bucket by other means, as an older build with
// a looser rule might have) fails the delivery with nothing sent, naming the
// endpoint and not the secret, while another endpoint gets the same event
// signed; and rotating the bad secret out does not let a delivery go out
// signed with only some of its secrets while the bad one is in its grace
// period.
func TestUnparsableSecretFailsDelivery(t *testing.T) {
	t.Parallel()
	w := start(t, options{})
	w.putType(t, "key.tested")
	rc, rcGood := w.receiver(t, nil), w.receiver(t, nil)
	ep := w.putEndpoint(t, catalog.Endpoint{URL: rc.URL}, "")
	epGood := w.putEndpoint(t, catalog.Endpoint{URL: rcGood.URL}, "")
	ctx := context.Background()
	kv, err := w.js.KeyValue(ctx, bus.EndpointsBucket)
	if err != nil {
		t.Fatal(err)
	}
	entry, err := kv.Get(ctx, ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	var stored map[string]any
	if err := json.Unmarshal(entry.Value(), &stored); err != nil {
		t.Fatal(err)
	}
	bad := keyOf(80) // 108 characters: over what secret.Parse accepts
	stored["secret"] = bad
	raw, _ := json.Marshal(stored)
	if _, err := kv.Update(ctx, ep.ID, raw, entry.Revision()); err != nil {
		t.Fatal(err)
	}
	poll(t, "the catalog's mirror to hold the bad secret", func() bool {
		s, ok := w.cat.MirroredSigningSecrets(ep.ID, time.Now())
		return ok && len(s) == 1 && s[0] == bad
	})

	w.send(t, catalog.Event{ID: "evt_bad_key", Type: "key.tested", Payload: json.RawMessage(`{}`)})
	r := w.result(t, fanout.JobID("evt_bad_key", ep.ID))
	if r.Outcome != job.Failed || !strings.Contains(r.Error, "endpoint "+ep.ID+" signing secret") {
		t.Fatalf("got %s %q, want failed naming the endpoint's signing secret", r.Outcome, r.Error)
	}
	if strings.Contains(r.Error, bad[len("whsec_"):]) {
		t.Fatalf("the error repeats the secret: %q", r.Error)
	}
	if n := len(rc.requests()); n != 0 || r.Attempts != 0 {
		t.Fatalf("receiver got %d requests (result: %d attempts), want none", n, r.Attempts)
	}
	if r := w.result(t, fanout.JobID("evt_bad_key", epGood.ID)); r.Outcome != job.Delivered ||
		!verifies(t, w.secret(t, epGood.ID), rcGood.requests()[0]) {
		t.Fatalf("the endpoint with a good secret: %s %q, want delivered and signed", r.Outcome, r.Error)
	}

	good := keyOf(32)
	if err := w.cat.Rotate(ctx, ep.ID, good); err != nil {
		t.Fatal(err)
	}
	poll(t, "the rotation to reach the mirror", func() bool {
		s, _ := w.cat.MirroredSigningSecrets(ep.ID, time.Now())
		return len(s) > 0 && s[0] == good
	})
	w.send(t, catalog.Event{ID: "evt_good_key", Type: "key.tested", Payload: json.RawMessage(`{}`)})
	// The rotated-out bad secret is still in its grace period, so it would
	// sign beside the good one: the delivery must still fail, not go out
	// with only the good signature.
	r = w.result(t, fanout.JobID("evt_good_key", ep.ID))
	if r.Outcome != job.Failed || len(rc.requests()) != 0 {
		t.Fatalf("with the bad secret in its grace period: %s %q, %d requests; want failed, none sent", r.Outcome, r.Error, len(rc.requests()))
	}
}

// poll waits until cond holds, checking every 10ms, failing the test after
// 10s: for what the world is not told of, such as the catalog's mirror.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
