package catalog_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookworker/hookworker/internal/catalog"
)

// page is one page of either listing, with its JSON.
type page struct {
	names    []string
	iterator string
	done     bool
	json     []byte
}

// lister reads the page of a listing that iterator continues, its pages
// at most maxBytes long (0: no bound) and limit long (0: the default).
type lister func(t *testing.T, iterator string, maxBytes, limit int) (page, error)

// endpointLister lists the endpoints of q, paged.
func endpointLister(c *catalog.Catalog, q catalog.Query) lister {
	return func(t *testing.T, iterator string, maxBytes, limit int) (page, error) {
		t.Helper()
		q := q
		q.Iterator, q.MaxBytes, q.Limit = iterator, maxBytes, limit
		p, err := c.Endpoints(context.Background(), q)
		if err != nil {
			return page{}, err
		}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		out := page{iterator: p.Iterator, done: p.Done, json: b}
		for _, e := range p.Endpoints {
			out.names = append(out.names, e.ID)
		}
		return out, nil
	}
}

// typeLister lists the event types, the archived ones with archived. The
// listing has no limit: the page of a limit is made here, of the listing's
// first items and, when more follow, the name of its last as the iterator.
func typeLister(c *catalog.Catalog, archived bool) lister {
	return func(t *testing.T, iterator string, maxBytes, limit int) (page, error) {
		t.Helper()
		p, err := c.ListEventTypes(context.Background(), catalog.TypeQuery{IncludeArchived: archived, Iterator: iterator, MaxBytes: maxBytes})
		if err != nil {
			return page{}, err
		}
		if limit > 0 && limit < len(p.EventTypes) {
			p.EventTypes, p.Done = p.EventTypes[:limit], false
			p.Iterator = p.EventTypes[limit-1].Name
		}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		out := page{iterator: p.Iterator, done: p.Done, json: b}
		for _, e := range p.EventTypes {
			out.names = append(out.names, e.Name)
		}
		return out, nil
	}
}

// TestListingsFitMaxBytes pages through the endpoints and the event types,
// some larger than others, with pages bounded in bytes: a page holds as many
// items as fit to the byte, every page's JSON fits, every page but the last
// is as full as the bound allows, and the pages give every item once, in
// order.
func TestListingsFitMaxBytes(t *testing.T) {
	c, _, clk := setup(t)
	ctx := context.Background()
	var ids, names []string
	for i := range 12 {
		clk.Add(time.Second)
		id := fmt.Sprintf("ep_%02d", i)
		meta := fmt.Sprintf(`{"note":%q}`, strings.Repeat("m", 100+150*(i%5)))
		if _, err := c.PutEndpoint(ctx, catalog.Endpoint{ID: id, URL: "https://example.com/" + id, Metadata: json.RawMessage(meta)}, ""); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
		name := fmt.Sprintf("order.t%02d", i)
		putType(t, c, name, fmt.Sprintf(`{"type":"object","description":%q}`, strings.Repeat("s", 100+150*(i%4))))
		names = append(names, name)
	}
	if err := c.ArchiveEventType(ctx, "order.t05"); err != nil {
		t.Fatal(err)
	}
	listed := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == "order.t05" })
	newest := slices.Clone(ids)
	slices.Reverse(newest)
	tests := []struct {
		name  string
		list  lister
		limit int
		want  []string
	}{
		{"endpoints ascending", endpointLister(c, catalog.Query{Order: "asc"}), 0, ids},
		{"endpoints descending", endpointLister(c, catalog.Query{}), 0, newest},
		{"endpoints ascending by 3", endpointLister(c, catalog.Query{Order: "asc"}), 3, ids},
		{"event types", typeLister(c, false), 0, listed},
		{"event types with the archived", typeLister(c, true), 0, names},
	}
	for _, tt := range tests {
		t.Run(tt.name+" to the byte", func(t *testing.T) {
			for n := 1; n <= 4; n++ {
				exact, err := tt.list(t, "", 0, n)
				if err != nil {
					t.Fatal(err)
				}
				if p, err := tt.list(t, "", len(exact.json), 0); err != nil || len(p.names) != n {
					t.Fatalf("in the %d bytes of %d items: %d items (%v)", len(exact.json), n, len(p.names), err)
				}
				if p, err := tt.list(t, "", len(exact.json)-1, 0); n > 1 && (err != nil || len(p.names) != n-1) {
					t.Fatalf("in a byte less than %d items take: %d items (%v)", n, len(p.names), err)
				}
			}
		})
		for _, maxBytes := range []int{1200, 2000, 3500} {
			t.Run(fmt.Sprintf("%s in %d bytes", tt.name, maxBytes), func(t *testing.T) {
				var got []string
				iterator := ""
				for pages := 1; ; pages++ {
					if pages > len(tt.want) {
						t.Fatalf("more pages than items; got %v", got)
					}
					p, err := tt.list(t, iterator, maxBytes, tt.limit)
					if err != nil {
						t.Fatal(err)
					}
					if len(p.json) > maxBytes {
						t.Fatalf("page %d takes %d bytes, more than %d", pages, len(p.json), maxBytes)
					}
					if len(p.names) == 0 {
						t.Fatalf("page %d is empty", pages)
					}
					got = append(got, p.names...)
					if p.done != (p.iterator == "") {
						t.Fatalf("page %d: done %v with iterator %q", pages, p.done, p.iterator)
					}
					if p.done {
						break
					}
					if tt.limit == 0 || len(p.names) < tt.limit {
						// Cut by its size: one more item would not fit.
						longer, err := tt.list(t, iterator, 0, len(p.names)+1)
						if err != nil {
							t.Fatal(err)
						}
						if len(longer.json) <= maxBytes {
							t.Fatalf("page %d holds %d items in %d bytes; %d would have fit in %d", pages, len(p.names), len(p.json), len(longer.names), len(longer.json))
						}
					}
					iterator = p.iterator
				}
				if !slices.Equal(got, tt.want) {
					t.Fatalf("pages gave %v, want %v", got, tt.want)
				}
			})
		}
	}
}

// TestListingItemTooLarge lists an endpoint and an event type that alone
// take more than a page may: an error wrapping ErrTooLarge names each, and
// the items before it are listed.
func TestListingItemTooLarge(t *testing.T) {
	c, _, clk := setup(t)
	ctx := context.Background()
	for _, id := range []string{"ep_small", "ep_huge"} {
		clk.Add(time.Second)
		size := 10
		if id == "ep_huge" {
			size = 2000
		}
		meta := fmt.Sprintf(`{"note":%q}`, strings.Repeat("m", size))
		if _, err := c.PutEndpoint(ctx, catalog.Endpoint{ID: id, URL: "https://example.com/" + id, Metadata: json.RawMessage(meta)}, ""); err != nil {
			t.Fatal(err)
		}
	}
	putType(t, c, "order.a", `{}`)
	putType(t, c, "order.huge", fmt.Sprintf(`{"description":%q}`, strings.Repeat("s", 2000)))
	tests := []struct {
		name  string
		list  lister
		first string
		huge  string
	}{
		{"endpoints", endpointLister(c, catalog.Query{Order: "asc"}), "ep_small", `endpoint "ep_huge"`},
		{"event types", typeLister(c, false), "order.a", `event type "order.huge"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := tt.list(t, "", 1000, 0)
			if err != nil || !slices.Equal(p.names, []string{tt.first}) || p.done {
				t.Fatalf("first page %v done %v (%v), want %s and more", p.names, p.done, err, tt.first)
			}
			_, err = tt.list(t, p.iterator, 1000, 0)
			if !errors.Is(err, catalog.ErrTooLarge) || !strings.Contains(err.Error(), tt.huge) {
				t.Fatalf("second page: err = %v, want ErrTooLarge naming %s", err, tt.huge)
			}
			if p, err := tt.list(t, p.iterator, 0, 0); err != nil || len(p.names) != 1 || !p.done {
				t.Fatalf("unbounded: %v done %v (%v)", p.names, p.done, err)
			}
		})
	}
}

// TestListEventTypesRefusesABadIterator checks the iterator's form.
func TestListEventTypesRefusesABadIterator(t *testing.T) {
	c, _, _ := setup(t)
	if _, err := c.ListEventTypes(context.Background(), catalog.TypeQuery{Iterator: "no name"}); field(err) != "iterator" {
		t.Fatalf("err = %v, want an invalid iterator", err)
	}
}
