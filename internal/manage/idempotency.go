package manage

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"time"

	"github.com/typeauth/typeauth/internal/auth"
)

// IdempotencyWindow is how long a create's answer is kept for replay.
const IdempotencyWindow = 24 * time.Hour

// Idempotency identifies a create carrying an Idempotency-Key header.
//
// A create's answer may hold a secret (a new key), which must never rest in
// plaintext. So the stored answer is sealed with AES-256-GCM under a key
// derived from the caller's root key secret and its Idempotency-Key: only a
// caller presenting both can replay it, and the store alone cannot read it.
type Idempotency struct {
	id, request, seal [32]byte
}

// NewIdempotency derives the record id and sealing key. request is the
// request's method, path and body.
func NewIdempotency(rootSecret, idempotencyKey string, request []byte) *Idempotency {
	mac := func(label string) (out [32]byte) {
		m := hmac.New(sha256.New, []byte(rootSecret))
		m.Write([]byte(label))
		m.Write([]byte{0})
		m.Write([]byte(idempotencyKey))
		m.Sum(out[:0])
		return out
	}
	return &Idempotency{id: mac("typeauth idempotency id"), seal: mac("typeauth idempotency seal"), request: sha256.Sum256(request)}
}

var errIdemRace = errors.New("idempotency record written concurrently")

// idempotent runs fn in a transaction; with idem, it stores fn's sealed
// answer in the same transaction, or replays a stored answer.
func idempotent[T any](ctx context.Context, s *Service, idem *Idempotency, fn func(auth.Tx) (T, error)) (T, error) {
	var zero T
	if idem != nil {
		if out, ok, err := replay[T](ctx, s, idem); ok || err != nil {
			return out, err
		}
	}
	var out T
	err := s.store.Tx(ctx, func(tx auth.Tx) error {
		var err error
		if out, err = fn(tx); err != nil || idem == nil {
			return err
		}
		body, err := json.Marshal(out)
		if err != nil {
			return err
		}
		sealed, err := seal(idem.seal, body)
		if err != nil {
			return err
		}
		err = tx.PutIdempotency(&auth.IdempotencyRecord{ID: idem.id, RequestHash: idem.request, Status: 201, Body: sealed, CreatedAt: s.clock()})
		if errors.Is(err, auth.ErrConflict) {
			return errIdemRace
		}
		return err
	})
	if errors.Is(err, errIdemRace) {
		// The same request ran concurrently and won: answer what it answered.
		if out, ok, err := replay[T](ctx, s, idem); ok || err != nil {
			return out, err
		}
		return zero, auth.Errorf(auth.ErrConflict, "idempotency_in_progress", "a request with this Idempotency-Key is in progress")
	}
	if err != nil {
		return zero, err
	}
	return out, nil
}

func replay[T any](ctx context.Context, s *Service, idem *Idempotency) (T, bool, error) {
	var out T
	rec, err := s.store.GetIdempotency(ctx, idem.id)
	if errors.Is(err, auth.ErrNotFound) || err == nil && s.now().Sub(rec.CreatedAt) > IdempotencyWindow {
		return out, false, nil
	} else if err != nil {
		return out, false, err
	}
	if rec.RequestHash != idem.request {
		return out, false, auth.Errorf(auth.ErrConflict, "idempotency_key_reused", "this Idempotency-Key was used for a different request")
	}
	body, err := open(idem.seal, rec.Body)
	if err != nil {
		return out, false, err
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return out, false, err
	}
	return out, true, nil
}

func seal(key [32]byte, plain []byte) ([]byte, error) {
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize(), gcm.NonceSize()+len(plain)+gcm.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, plain, nil), nil
}

func open(key [32]byte, sealed []byte) ([]byte, error) {
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize() {
		return nil, errors.New("idempotency record is corrupt")
	}
	return gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], nil)
}
