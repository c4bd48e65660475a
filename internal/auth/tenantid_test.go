package auth_test

import (
	"strings"
	"testing"

	"github.com/hookworker/hookworker/internal/auth"
	"github.com/hookworker/hookworker/internal/catalog"
)

// TestTenantIDRuleIsTheCatalogs checks that a token is minted for, and
// accepted from, exactly the ids the catalog takes for a tenant: auth
// keeps its own copy of the rule so as to import no store.
func TestTenantIDRuleIsTheCatalogs(t *testing.T) {
	t.Parallel()
	for _, id := range []string{
		"", "a", "acme", "tn_0123-ABC", strings.Repeat("a", 63), strings.Repeat("a", 64),
		"a.b", "a b", "a/b", "é", "a\n", "tn_*", ">",
	} {
		if got, want := auth.ValidTenantID(id), catalog.ValidTenantID(id); got != want {
			t.Errorf("ValidTenantID(%q) = %v, the catalog's %v", id, got, want)
		}
	}
}
