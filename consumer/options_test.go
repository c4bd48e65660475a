package consumer_test

import (
	"context"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookworker/hookworker/consumer"
	"github.com/hookworker/hookworker/job"
	"github.com/hookworker/hookworker/sender"
)

// Stand-ins that satisfy the interfaces; New only checks they are there.
type (
	someJetStream struct{ jetstream.JetStream }
	someConsumer  struct{ jetstream.Consumer }
	someState     struct{ jetstream.KeyValue }
)

func (someJetStream) Conn() *nats.Conn { return nil }

// New refuses options without what every job needs, naming each missing
// one, instead of a Worker that fails (or panics) on every job.
func TestNewChecksOptions(t *testing.T) {
	t.Parallel()
	deliver := func(*job.Job) (func(context.Context, sender.Request) sender.Result, error) { return nil, nil }
	full := func() consumer.Options {
		return consumer.Options{
			JetStream: someJetStream{}, Consumer: someConsumer{}, State: someState{},
			ResultSubject: "hooks.result", Deliverers: map[job.Type]consumer.Deliverer{job.Webhook: deliver},
		}
	}
	tests := []struct {
		name   string
		change func(*consumer.Options)
		want   []string // the options named; none: accepted
	}{
		{"complete", func(*consumer.Options) {}, nil},
		{"no jetstream", func(o *consumer.Options) { o.JetStream = nil }, []string{"JetStream"}},
		{"no consumer", func(o *consumer.Options) { o.Consumer = nil }, []string{"Consumer"}},
		{"no state", func(o *consumer.Options) { o.State = nil }, []string{"State"}},
		{"no result subject", func(o *consumer.Options) { o.ResultSubject = "" }, []string{"ResultSubject"}},
		{"no deliverer", func(o *consumer.Options) { o.Deliverers = nil }, []string{"Deliverers"}},
		{"a nil deliverer", func(o *consumer.Options) { o.Deliverers[job.Webhook] = nil }, []string{"Deliverers"}},
		{"nothing", func(o *consumer.Options) { *o = consumer.Options{} }, []string{"JetStream", "Consumer", "State", "ResultSubject", "Deliverers"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := full()
			tt.change(&o)
			w, err := consumer.New(o)
			if tt.want == nil {
				if err != nil || w == nil {
					t.Fatalf("New = %v, %v; want a Worker", w, err)
				}
				return
			}
			if err == nil || w != nil {
				t.Fatalf("New = %v, %v; want an error naming %v", w, err, tt.want)
			}
			for _, name := range tt.want {
				if !strings.Contains(err.Error(), name) {
					t.Errorf("error %q does not name %s", err, name)
				}
			}
		})
	}
}
