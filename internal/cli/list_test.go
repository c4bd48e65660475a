package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookworker/hookworker/client"
	"github.com/hookworker/hookworker/internal/bus/bustest"
	"github.com/hookworker/hookworker/internal/cli"
)

// TestListsLargerThanTheMaxPayload runs a worker on a server with a 64 KiB
// max payload and fills its catalog with endpoints and event types many
// times that: endpoint list and event-type list print every one, once, in
// order.
func TestListsLargerThanTheMaxPayload(t *testing.T) {
	opts := bustest.Options("127.0.0.1", -1, t.TempDir())
	opts.MaxPayload = 64 << 10
	srv := bustest.Start(t, opts)
	env := baseEnv(srv.ClientURL())
	start(t, env).waitLog(t, "worker running")
	setEnv(t, env)

	nc, _ := bustest.Connect(t, srv.ClientURL())
	c := client.New(nc)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var ids, names []string
	for i := range 16 {
		id := fmt.Sprintf("ep_%02d", i)
		meta := fmt.Sprintf(`{"note":%q}`, strings.Repeat("m", 12000+500*i))
		if _, err := c.PutEndpoint(ctx, client.Endpoint{ID: id, URL: "https://example.com/" + id, Metadata: json.RawMessage(meta)}, ""); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		name := fmt.Sprintf("order.t%02d", i)
		schema := fmt.Sprintf(`{"type":"object","description":%q}`, strings.Repeat("s", 12000+500*i))
		if _, err := c.PutEventType(ctx, client.EventType{Name: name, Schema: json.RawMessage(schema)}); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	newest := slices.Clone(ids)
	slices.Reverse(newest)
	tests := []struct {
		args []string
		key  string
		want []string
	}{
		{[]string{"endpoint", "list", "--asc"}, "id", ids},
		{[]string{"endpoint", "list"}, "id", newest},
		{[]string{"endpoint", "list", "--limit", "5"}, "id", newest[:5]},
		{[]string{"event-type", "list"}, "name", names},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, errOut := mainOut(t, nil, tt.args...)
			if code != cli.ExitOK {
				t.Fatalf("exit %d, stderr %s", code, errOut)
			}
			var got []string
			for _, l := range jsonLines(t, out) {
				got = append(got, fmt.Sprint(l[tt.key]))
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("printed %v, want %v", got, tt.want)
			}
		})
	}
}
