package auth_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hookworker/hookworker/internal/auth"
)

func Example() {
	keys, _ := auth.NewKeys([]string{"hwk_an-operator-key-of-32-characters-or-more"})
	tokens, _ := auth.NewTokens([]byte("a-token-secret-of-at-least-32-bytes"))
	s := auth.Settings{Addr: "127.0.0.1:8081", Keys: keys, Tokens: tokens}

	// The operator mints a token for tenant acme and hands it over.
	token, _, _ := s.Tokens.Mint("acme", time.Hour)

	// The HTTP API authenticates each request once ...
	p, err := s.Authenticate("Bearer " + token)
	fmt.Println(p, err)
	ctx := auth.With(context.Background(), p)

	// ... and the operation makes its authorisation check.
	caller, _ := auth.From(ctx)
	fmt.Println(caller.Allows("acme"), caller.Allows("other"))
	fmt.Println(errors.Is(auth.RequireOperator(ctx), auth.ErrForbidden))

	_, err = s.Authenticate("Bearer not-a-key")
	fmt.Println(errors.Is(err, auth.ErrUnauthenticated), err)
	// Output:
	// tenant acme <nil>
	// true false
	// true
	// true unauthenticated: unknown operator key or invalid tenant token
}
