package receiver

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// KVStore is a Store in a NATS JetStream key-value bucket, shared by every
// replica of a receiver: a claim is an atomic Create, so of two replicas
// that get the same webhook id at once only one runs its handler.
//
// The bucket's TTL (jetstream.KeyValueConfig.TTL) is the window in which a
// handled id is remembered; create the bucket with one, or it grows for
// ever. A claim records its own deadline, so it expires after the lease on
// any bucket.
type KVStore struct {
	kv    jetstream.KeyValue
	lease time.Duration
}

var _ Store = (*KVStore)(nil)

// The values a KVStore writes: "done", or "claimed <deadline in unix
// nanoseconds>".
const (
	kvDone    = "done"
	kvClaimed = "claimed "
)

// kvClaimTries bounds how often Claim starts over when another replica
// changes the key between its read and its write.
const kvClaimTries = 5

// NewKVStore returns a Store in kv whose claims hold for lease (0 means
// DefaultLease); the lease should outlast the slowest handler.
func NewKVStore(kv jetstream.KeyValue, lease time.Duration) *KVStore {
	if lease <= 0 {
		lease = DefaultLease
	}
	return &KVStore{kv: kv, lease: lease}
}

// kvKey turns a webhook id, which may hold characters a key may not, into
// a valid key: its unpadded URL-safe base64.
func kvKey(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

func (s *KVStore) claimValue() []byte {
	return []byte(kvClaimed + strconv.FormatInt(time.Now().Add(s.lease).UnixNano(), 10))
}

// Claim implements Store.
func (s *KVStore) Claim(ctx context.Context, id string) (Claim, error) {
	key := kvKey(id)
	for range kvClaimTries {
		_, err := s.kv.Create(ctx, key, s.claimValue())
		if err == nil {
			return Claimed, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return 0, fmt.Errorf("claim webhook id in %s: %w", s.kv.Bucket(), err)
		}
		e, err := s.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // released or expired since: create again
		}
		if err != nil {
			return 0, fmt.Errorf("read webhook id in %s: %w", s.kv.Bucket(), err)
		}
		v := string(e.Value())
		if v == kvDone {
			return Handled, nil
		}
		if deadline, ok := strings.CutPrefix(v, kvClaimed); ok {
			if ns, err := strconv.ParseInt(deadline, 10, 64); err == nil && time.Now().UnixNano() < ns {
				return Busy, nil
			}
		}
		// The claim expired (or the value is not one this store wrote):
		// take it over, unless another replica did first.
		_, err = s.kv.Update(ctx, key, s.claimValue(), e.Revision())
		if err == nil {
			return Claimed, nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyExists) {
			return 0, fmt.Errorf("take over webhook id claim in %s: %w", s.kv.Bucket(), err)
		}
	}
	return Busy, nil
}

// Complete implements Store.
func (s *KVStore) Complete(ctx context.Context, id string) error {
	if _, err := s.kv.Put(ctx, kvKey(id), []byte(kvDone)); err != nil {
		return fmt.Errorf("complete webhook id in %s: %w", s.kv.Bucket(), err)
	}
	return nil
}

// Release implements Store. A completed id stays handled.
func (s *KVStore) Release(ctx context.Context, id string) error {
	key := kvKey(id)
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("release webhook id in %s: %w", s.kv.Bucket(), err)
	}
	if !strings.HasPrefix(string(e.Value()), kvClaimed) {
		return nil
	}
	err = s.kv.Delete(ctx, key, jetstream.LastRevision(e.Revision()))
	if err != nil && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("release webhook id in %s: %w", s.kv.Bucket(), err)
	}
	return nil
}
