package jose

import (
	"encoding/json"
	"errors"
)

// TypeAccessToken is the typ of the tokens TypeAuth issues (RFC 9068).
const TypeAccessToken = "at+jwt"

// Sign returns a compact JWS of claims with header {alg, kid, typ: "at+jwt"}.
// Claims are serialized with sorted member names, so equal claims give equal
// payloads. Sign refuses claims this package's Verify would refuse as
// malformed (case variants of registered names, nesting, size).
func Sign(claims map[string]any, key *SigningKey) (string, error) {
	if key == nil {
		return "", errors.New("jose: nil signing key")
	}
	hdr, err := json.Marshal(struct {
		Alg Alg    `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{key.Alg(), key.KID(), TypeAccessToken})
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	if _, err := decodeStrictObject(payload, claimNames, maxJSONDepth); err != nil {
		return "", errors.New("jose: claims refused: " + err.Error())
	}
	input := encodeSegment(hdr) + "." + encodeSegment(payload)
	sig, err := sign(key, []byte(input))
	if err != nil {
		return "", err
	}
	tok := input + "." + encodeSegment(sig)
	if len(tok) > MaxTokenSize {
		return "", errors.New("jose: token would exceed MaxTokenSize")
	}
	return tok, nil
}
