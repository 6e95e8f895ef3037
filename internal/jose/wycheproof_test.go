package jose

import (
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// wycheproofDir holds the vectors outside the repository (never copied in).
const wycheproofDir = "../../../shared/testdata/wycheproof"

type wycheFile struct {
	Algorithm  string `json:"algorithm"`
	TestGroups []struct {
		PublicKeyDer string          `json:"publicKeyDer"`
		PublicKeyJwk json.RawMessage `json:"publicKeyJwk"`
		Tests        []struct {
			TcID    int      `json:"tcId"`
			Comment string   `json:"comment"`
			Flags   []string `json:"flags"`
			Msg     string   `json:"msg"`
			Sig     string   `json:"sig"`
			Result  string   `json:"result"`
		} `json:"tests"`
	} `json:"testGroups"`
}

func loadWycheproof(t *testing.T, name string) *wycheFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(wycheproofDir, name))
	if errors.Is(err, os.ErrNotExist) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Wycheproof vectors missing: %v", err)
		}
		t.Skipf("Wycheproof vectors not found (%v); set CI=true to make this fatal", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	var f wycheFile
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	return &f
}

// TestWycheproof runs each vector through verifySignature, the function the
// token verifier uses for its signature check, with keys loaded through
// NewPublicKey (and, where the vectors give one, through the JWK parser).
func TestWycheproof(t *testing.T) {
	files := []struct {
		name string
		alg  Alg
	}{
		{"ecdsa_secp256r1_sha256_p1363_test.json", ES256},
		{"ed25519_test.json", EdDSA},
		{"rsa_signature_2048_sha256_test.json", RS256},
	}
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			wf := loadWycheproof(t, f.name)
			var valid, invalid, acceptOK, acceptRej, total int
			for gi, g := range wf.TestGroups {
				der, err := hex.DecodeString(g.PublicKeyDer)
				if err != nil {
					t.Fatal(err)
				}
				pub, err := x509.ParsePKIXPublicKey(der)
				if err != nil {
					t.Fatalf("group %d: %v", gi, err)
				}
				key, err := NewPublicKey(pub, "wycheproof")
				if err != nil {
					t.Fatalf("group %d: key refused: %v", gi, err)
				}
				if key.Alg() != f.alg {
					t.Fatalf("group %d: key alg %s", gi, key.Alg())
				}
				if len(g.PublicKeyJwk) > 0 {
					// The same key through the JWK Set parser.
					ks, err := ParseJWKS([]byte(`{"keys":[` + string(g.PublicKeyJwk) + `]}`))
					if err != nil {
						t.Fatalf("group %d: JWK refused: %v", gi, err)
					}
					jk := ks.Keys()[0]
					if tp, _ := Thumbprint(pub); tp != mustThumb(t, jk) {
						t.Fatalf("group %d: JWK and DER keys differ", gi)
					}
				}
				for _, tc := range g.Tests {
					total++
					msg, err1 := hex.DecodeString(tc.Msg)
					sig, err2 := hex.DecodeString(tc.Sig)
					if err1 != nil || err2 != nil {
						t.Fatalf("tc %d: bad hex", tc.TcID)
					}
					ok := verifySignature(key, f.alg, msg, sig) == nil
					switch tc.Result {
					case "valid":
						valid++
						if !ok {
							t.Errorf("tc %d (%s %v): valid signature rejected", tc.TcID, tc.Comment, tc.Flags)
						}
					case "invalid":
						invalid++
						if ok {
							t.Errorf("tc %d (%s %v): invalid signature accepted", tc.TcID, tc.Comment, tc.Flags)
						}
					case "acceptable":
						if ok {
							acceptOK++
						} else {
							acceptRej++
						}
					default:
						t.Fatalf("tc %d: result %q", tc.TcID, tc.Result)
					}
				}
			}
			t.Logf("%s: %d vectors: %d valid, %d invalid, %d acceptable (%d accepted, %d rejected)",
				f.name, total, valid, invalid, acceptOK+acceptRej, acceptOK, acceptRej)
			if total == 0 {
				t.Fatal("no vectors")
			}
		})
	}
}

func mustThumb(t *testing.T, k *PublicKey) string {
	t.Helper()
	tp, err := Thumbprint(k.CryptoKey())
	if err != nil {
		t.Fatal(err)
	}
	return tp
}
