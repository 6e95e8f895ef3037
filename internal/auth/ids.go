package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"time"
)

const crockford = "0123456789abcdefghjkmnpqrstvwxyz"

// NewID returns prefix + "_" + 26 characters: a 48-bit millisecond timestamp
// and 80 random bits in lower-case Crockford base32. IDs made later sort
// after IDs made earlier (to the millisecond), which cursor pagination uses.
func NewID(prefix string, now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	if _, err := rand.Read(b[6:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	out := make([]byte, 0, len(prefix)+1+26)
	out = append(out, prefix...)
	out = append(out, '_')
	// 128 bits → 26 base32 digits (130 bits, top 2 zero).
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	for i := 25; i >= 0; i-- {
		shift := uint(i * 5)
		var v uint64
		switch {
		case shift >= 64:
			v = hi >> (shift - 64)
		case shift > 59:
			v = lo>>shift | hi<<(64-shift)
		default:
			v = lo >> shift
		}
		out = append(out, crockford[v&31])
	}
	return string(out)
}

// Hash of one audit entry: SHA-256 over the previous hash and every field,
// each length-prefixed so that no two entries encode alike.
func (e *AuditEntry) ComputeHash() [32]byte {
	h := sha256.New()
	h.Write(e.PrevHash[:])
	var n [8]byte
	field := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	binary.BigEndian.PutUint64(n[:], uint64(e.Seq))
	h.Write(n[:])
	field([]byte(e.ID))
	field([]byte(e.Time.UTC().Format(time.RFC3339Nano)))
	field([]byte(e.ActorID))
	field([]byte(e.Action))
	field([]byte(e.TargetType))
	field([]byte(e.TargetID))
	field([]byte(e.RemoteAddr))
	field(e.Before)
	field(e.After)
	var out [32]byte
	h.Sum(out[:0])
	return out
}
