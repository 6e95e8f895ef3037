package keyfmt

import (
	"crypto/sha256"
	"hash/crc32"
	"strings"
	"testing"
)

func TestGenerateCheck(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		k, err := Generate("acme")
		if err != nil {
			t.Fatal(err)
		}
		if seen[k] {
			t.Fatalf("duplicate key %q", k)
		}
		seen[k] = true
		if len(k) != len("acme_")+BodyLen {
			t.Fatalf("len(%q) = %d", k, len(k))
		}
		p, err := Check(k)
		if err != nil || p != "acme" {
			t.Fatalf("Check(%q) = %q, %v", k, p, err)
		}
	}
}

func TestCheckRejects(t *testing.T) {
	good, _ := Generate("acme_live")
	flip := func(i int) string {
		b := []byte(good)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	tests := []struct {
		name string
		key  string
		want error
	}{
		{"empty", "", ErrLength},
		{"truncated", good[:len(good)-1], ErrPrefix},
		{"too long", strings.Repeat("a", MaxLen+1), ErrLength},
		{"typo in random part", flip(len("acme_live_") + 3), ErrChecksum},
		{"typo in checksum", flip(len(good) - 1), ErrChecksum},
		{"typo in prefix", flip(1), ErrChecksum},
		{"no separator", strings.Replace(good, "_live_", "xlivex", 1), ErrPrefix},
		{"upper-case prefix", "ACME" + good[4:], ErrPrefix},
		{"non-base62", good[:len(good)-10] + "-" + good[len(good)-9:], ErrAlphabet},
		{"empty prefix", good[len("acme_live"):], ErrLength},
		{"checksum overflow", good[:len(good)-ChecksumLen] + "zzzzzz", ErrChecksum},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Check(tt.key); err != tt.want {
				t.Errorf("Check(%q) = %v, want %v", tt.key, err, tt.want)
			}
		})
	}
}

func TestValidPrefix(t *testing.T) {
	for _, p := range []string{"a", "acme", "sk_live", "a1", strings.Repeat("a", 20)} {
		if !ValidPrefix(p) {
			t.Errorf("ValidPrefix(%q) = false", p)
		}
	}
	for _, p := range []string{"", "1a", "_a", "a_", "Acme", "a-b", strings.Repeat("a", 21), "a b"} {
		if ValidPrefix(p) {
			t.Errorf("ValidPrefix(%q) = true", p)
		}
	}
}

func TestHashAndStart(t *testing.T) {
	k, _ := Generate("acme")
	if Hash(k) != sha256.Sum256([]byte(k)) {
		t.Fatal("Hash differs from SHA-256")
	}
	long := strings.Repeat("x", 300)
	if Hash(long) != sha256.Sum256([]byte(long)) {
		t.Fatal("Hash of a long secret differs from SHA-256")
	}
	if s := Start(k); s != k[:len("acme_")+4] {
		t.Fatalf("Start = %q", s)
	}
}

func TestCheckDoesNotAllocate(t *testing.T) {
	k, _ := Generate("acme")
	if n := testing.AllocsPerRun(100, func() { _, _ = Check(k); _ = Hash(k) }); n != 0 {
		t.Fatalf("Check+Hash allocate %v times", n)
	}
}

func FuzzCheck(f *testing.F) {
	k, _ := Generate("acme")
	f.Add(k)
	f.Add("")
	f.Add("acme_")
	f.Add(strings.Repeat("_", 40))
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Check(s)
		if err != nil {
			return
		}
		// Anything accepted must be well-formed: a valid prefix, base62 body
		// and a checksum that matches on recomputation.
		if !ValidPrefix(p) || len(s) != len(p)+1+BodyLen {
			t.Fatalf("accepted %q with prefix %q", s, p)
		}
		b := appendChecksum([]byte(s[:len(s)-ChecksumLen]), crcOf(s[:len(s)-ChecksumLen]))
		if string(b) != s {
			t.Fatalf("accepted %q but checksum recomputes to %q", s, b)
		}
	})
}

func crcOf(s string) uint32 { return crc32IEEE([]byte(s)) }

var crc32IEEE = crc32.ChecksumIEEE
