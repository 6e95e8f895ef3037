package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/typeauth/typeauth/client"
)

// Commands of the token features: exchange and revocation of JWTs, signing
// keys, trusted issuers (and "keys reveal", registered in the keys group).

func tokensGroup() group {
	return group{"tokens", "exchange an API key for a short-lived JWT; revoke tokens", []sub{
		{"exchange", "exchange an API key for a JWT on the data plane", tokensExchange},
		{"revoke", "revoke a token by jti (or give the token)", tokensRevoke},
	}}
}

func signingKeysGroup() group {
	return group{"signing-keys", "list and rotate the keys TypeAuth signs tokens with", []sub{
		{"list", "list the signing keys and their phase", signingKeysList},
		{"rotate", "create a new signing key", signingKeysRotate},
	}}
}

func issuersGroup() group {
	return group{"issuers", "manage trusted third-party JWT issuers", []sub{
		{"create", "trust an issuer", issuersCreate},
		{"list", "list trusted issuers", issuersList},
		{"get", "show an issuer (with its key set state)", issuersGet},
		{"update", "change an issuer", issuersUpdate},
		{"delete", "stop trusting an issuer", issuersDelete},
	}}
}

func tokensExchange(e *env, g globals, args []string) int {
	c := e.newCmd(g, "tokens exchange", "KEY|- [flags]",
		"Exchange an API key for a short-lived JWT (POST /v1/tokens on the data plane). The key\n"+
			"is verified like a verify (one credit). Give - to read the key from stdin (keeps it\n"+
			"out of the process list).")
	ttl := c.fs.Duration("ttl", 0, "token lifetime `DURATION`, e.g. 15m (default: the app's maximum; capped by it)")
	aud := c.fs.String("audience", "", "the token's `AUDIENCE` (default: the app id; else one of the app's token_audiences)")
	quiet := c.fs.Bool("quiet", false, "print only the access token")
	pos, code, ok := c.parse(args, 1, 1)
	if !ok {
		return code
	}
	if *ttl < 0 || (*ttl > 0 && *ttl < time.Second) {
		return c.usageError("--ttl must be at least 1s")
	}
	if *quiet && c.g.json {
		return c.usageError("--quiet and --json exclude each other")
	}
	key := pos[0]
	if key == "-" {
		k, err := readKey(e.stdin)
		if err != nil {
			return c.fail(err)
		}
		key = k
	}
	var raw json.RawMessage
	res, err := c.dataClient().ExchangeKey(e.ctx, key, client.TokenRequest{TTLSeconds: int64(*ttl / time.Second), Audience: *aud},
		client.WithRawResponse(&raw))
	if err != nil {
		return c.fail(err)
	}
	switch {
	case c.g.json:
		return c.printJSON(raw)
	case *quiet:
		fmt.Fprintln(e.stdout, res.AccessToken)
	default:
		c.printRecord([][2]string{{"access_token", res.AccessToken}, {"token_type", res.TokenType},
			{"expires_in", strconv.FormatInt(res.ExpiresIn, 10) + "s"}})
	}
	return exitOK
}

func tokensRevoke(e *env, g globals, args []string) int {
	c := e.newCmd(g, "tokens revoke", "--jti JTI [--expires-at TIME] | --token TOKEN|- [flags]",
		"Put a token's jti on the deny list: the token (TypeAuth's own or a trusted issuer's)\n"+
			"fails verification at TypeAuth until it expires. --token reads the token only for its\n"+
			"jti and exp; give - to read it from stdin. Needs keys.write on all apps.")
	jti := c.fs.String("jti", "", "the token's `JTI`")
	token := c.fs.String("token", "", "the `TOKEN` itself (- reads it from stdin)")
	exp := c.fs.String("expires-at", "", "with --jti: the token's exp, an RFC 3339 `TIME` (default: the longest a token can live)")
	if _, code, ok := c.parse(args, 0, 0); !ok {
		return code
	}
	if (*jti == "") == (*token == "") {
		return c.usageError("give exactly one of --jti and --token")
	}
	req := client.RevokeTokenRequest{JTI: *jti, Token: *token}
	if *exp != "" {
		if *jti == "" {
			return c.usageError("--expires-at goes with --jti (a token carries its exp)")
		}
		t, err := time.Parse(time.RFC3339, *exp)
		if err != nil {
			return c.usageError("--expires-at %q: want an RFC 3339 time", *exp)
		}
		req.ExpiresAt = &t
	}
	if req.Token == "-" {
		k, err := readKey(e.stdin)
		if err != nil {
			return c.fail(err)
		}
		req.Token = k
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	var raw json.RawMessage
	res, err := cl.RevokeToken(e.ctx, req, client.WithRawResponse(&raw))
	if err != nil {
		return c.fail(err)
	}
	if c.g.json {
		return c.printJSON(raw)
	}
	c.printRecord([][2]string{{"jti", res.JTI}, {"denied_until", fmtTime(res.ExpiresAt)}})
	return exitOK
}

func signingKeysList(e *env, g globals, args []string) int {
	c := e.newCmd(g, "signing-keys list", "[flags]",
		"List the token signing keys: next (published, not signing yet), active (signing),\n"+
			"retired (published until every token it signed has expired) or revoked.")
	if _, code, ok := c.parse(args, 0, 0); !ok {
		return code
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	var raw json.RawMessage
	list, err := cl.ListSigningKeys(e.ctx, client.WithRawResponse(&raw))
	if err != nil {
		return c.fail(err)
	}
	if c.g.json {
		return c.printJSON(raw)
	}
	rows := make([][]string, len(list.Data))
	for i, k := range list.Data {
		rows[i] = []string{k.KID, k.Alg, k.State, fmtTime(k.ActivateAt), fmtExpiry(k.RetireAt), fmtExpiry(k.ExpiresAt)}
	}
	c.printTable([]string{"KID", "ALG", "STATE", "ACTIVATES", "RETIRES", "EXPIRES"}, rows)
	return exitOK
}

func signingKeyFields(k *client.SigningKey) [][2]string {
	return [][2]string{
		{"kid", k.KID},
		{"alg", k.Alg},
		{"state", k.State},
		{"created_at", fmtTime(k.CreatedAt)},
		{"activate_at", fmtTime(k.ActivateAt)},
		{"retire_at", fmtExpiry(k.RetireAt)},
		{"expires_at", fmtExpiry(k.ExpiresAt)},
	}
}

func signingKeysRotate(e *env, g globals, args []string) int {
	c := e.newCmd(g, "signing-keys rotate", "[--alg EdDSA|ES256|RS256] [--immediate] [flags]",
		"Create a new signing key. It is published in the JWKS at once and signs after the\n"+
			"publish delay; the key signing before stays published until its tokens have expired.\n"+
			"--immediate makes it sign at once (after a compromise of the old key).")
	alg := c.fs.String("alg", "", "the new key's `ALG`: EdDSA, ES256 or RS256 (default: the server's, EdDSA)")
	imm := c.fs.Bool("immediate", false, "sign with the new key at once")
	if _, code, ok := c.parse(args, 0, 0); !ok {
		return code
	}
	switch *alg {
	case "", "EdDSA", "ES256", "RS256":
	default:
		return c.usageError("--alg %q: want EdDSA, ES256 or RS256", *alg)
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	var raw json.RawMessage
	k, err := cl.RotateSigningKey(e.ctx, client.RotateSigningKeyRequest{Alg: *alg, Immediate: *imm}, client.WithRawResponse(&raw))
	if err != nil {
		return c.fail(err)
	}
	if c.g.json {
		return c.printJSON(raw)
	}
	c.printRecord(signingKeyFields(k))
	return exitOK
}

// issuerFlags are the flags of every field of the issuer contract.
type issuerFlags struct {
	name, issuer, jwksURL, discoveryURL, jwks, ownerClaim, permsClaim *string
	leeway                                                            *int64
	algs, auds, claims                                                stringList
	noAuds, noClaims                                                  *bool
}

func (c *cmd) issuerFlags(update bool) *issuerFlags {
	f := &issuerFlags{}
	f.name = c.fs.String("name", "", "a display `NAME`")
	f.issuer = c.fs.String("issuer", "", "the exact iss of its tokens, e.g. https://tenant.eu.auth0.com/ (`ISS`)")
	f.jwksURL = c.fs.String("jwks-url", "", "fetch its keys from this JWK Set `URL` (one key source)")
	f.discoveryURL = c.fs.String("discovery-url", "", "fetch its keys through this OpenID discovery `URL` (one key source)")
	f.jwks = c.fs.String("jwks", "", "an inline JWK Set: `JSON`, or @FILE to read it from a file (one key source)")
	c.fs.Var(&f.algs, "alg", "allow the algorithm `ALG`: EdDSA, ES256 or RS256 (repeatable; required on create)")
	c.fs.Var(&f.auds, "audience", "accept tokens whose aud has `AUD` (repeatable; none: any audience)")
	c.fs.Var(&f.claims, "required-claim", "require the claim `NAME` (repeatable)")
	f.leeway = c.fs.Int64("leeway-seconds", 0, "clock leeway in `SECONDS` for exp, nbf and iat (default 30, at most 300)")
	f.ownerClaim = c.fs.String("owner-claim", "", "the claim that is the owner id (default sub) (`NAME`)")
	f.permsClaim = c.fs.String("permissions-claim", "", "the claim that carries permissions (default scope) (`NAME`)")
	if update {
		f.noAuds = c.fs.Bool("no-audiences", false, "clear the audiences (accept any)")
		f.noClaims = c.fs.Bool("no-required-claims", false, "clear the required claims")
	}
	return f
}

// readJWKS reads --jwks: inline JSON or @FILE.
func readJWKS(s string) (json.RawMessage, error) {
	b := []byte(s)
	if name, ok := strings.CutPrefix(s, "@"); ok {
		var err error
		if b, err = os.ReadFile(name); err != nil {
			return nil, fmt.Errorf("--jwks: %w", err)
		}
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, fmt.Errorf("--jwks: not valid JSON: %v", err)
	}
	if buf.Len() == 0 || buf.Bytes()[0] != '{' {
		return nil, fmt.Errorf("--jwks: must be a JWK Set, a JSON object {\"keys\": [...]}")
	}
	return json.RawMessage(buf.Bytes()), nil
}

func (f *issuerFlags) sources(set map[string]bool) int {
	n := 0
	for _, s := range []string{"jwks-url", "discovery-url", "jwks"} {
		if set[s] {
			n++
		}
	}
	return n
}

func issuersCreate(e *env, g globals, args []string) int {
	c := e.newCmd(g, "issuers create", "--name NAME --issuer ISS (--jwks-url URL | --discovery-url URL | --jwks JSON|@FILE) --alg ALG [flags]",
		"Trust a third-party JWT issuer: its tokens verify through POST /v1/verify {\"token\"},\n"+
			"the gateway doors and introspection. Exactly one key source.")
	f := c.issuerFlags(false)
	if _, code, ok := c.parse(args, 0, 0); !ok {
		return code
	}
	set := c.setFlags()
	switch {
	case *f.name == "":
		return c.usageError("--name is required")
	case *f.issuer == "":
		return c.usageError("--issuer is required")
	case f.sources(set) != 1:
		return c.usageError("give exactly one of --jwks-url, --discovery-url and --jwks")
	case len(f.algs) == 0:
		return c.usageError("--alg is required (EdDSA, ES256 or RS256; repeatable)")
	}
	req := client.CreateIssuerRequest{Name: *f.name, Issuer: *f.issuer, JWKSURL: *f.jwksURL, DiscoveryURL: *f.discoveryURL,
		Algorithms: f.algs, Audiences: f.auds, RequiredClaims: f.claims, OwnerClaim: *f.ownerClaim, PermissionsClaim: *f.permsClaim}
	if set["jwks"] {
		j, err := readJWKS(*f.jwks)
		if err != nil {
			return c.usageError("%v", err)
		}
		req.JWKS = j
	}
	if set["leeway-seconds"] {
		req.LeewaySeconds = f.leeway
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	var raw json.RawMessage
	is, err := cl.CreateIssuer(e.ctx, req, client.WithRawResponse(&raw))
	if err != nil {
		return c.fail(err)
	}
	return c.showIssuer(is, raw)
}

func (c *cmd) showIssuer(is *client.Issuer, raw json.RawMessage) int {
	if c.g.json {
		return c.printJSON(raw)
	}
	c.printRecord(issuerFields(is))
	return exitOK
}

func issuerSource(is *client.Issuer) string {
	switch {
	case is.JWKSURL != "":
		return "jwks_url " + is.JWKSURL
	case is.DiscoveryURL != "":
		return "discovery_url " + is.DiscoveryURL
	case len(is.JWKS) > 0:
		return "inline jwks"
	}
	return "-"
}

func issuerFields(is *client.Issuer) [][2]string {
	f := [][2]string{
		{"id", is.ID},
		{"name", is.Name},
		{"issuer", is.Issuer},
		{"keys_from", issuerSource(is)},
		{"algorithms", fmtList(is.Algorithms)},
		{"audiences", fmtList(is.Audiences)},
		{"required_claims", fmtList(is.RequiredClaims)},
		{"leeway_seconds", strconv.FormatInt(is.LeewaySeconds, 10)},
		{"owner_claim", orDash(is.OwnerClaim)},
		{"permissions_claim", orDash(is.PermissionsClaim)},
		{"created_at", fmtTime(is.CreatedAt)},
		{"updated_at", fmtTime(is.UpdatedAt)},
	}
	if ks := is.KeySet; ks != nil {
		f = append(f, [2]string{"key_set", fmt.Sprintf("%d keys", ks.Keys)})
		if ks.LastSuccess != nil {
			f = append(f, [2]string{"last_success", fmtTime(*ks.LastSuccess)})
		}
		if ks.LastError != "" {
			f = append(f, [2]string{"last_error", ks.LastError})
		}
	}
	return f
}

func issuersList(e *env, g globals, args []string) int {
	c := e.newCmd(g, "issuers list", "[flags]", "List trusted issuers.")
	if _, code, ok := c.parse(args, 0, 0); !ok {
		return code
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	var raw json.RawMessage
	list, err := cl.ListIssuers(e.ctx, client.WithRawResponse(&raw))
	if err != nil {
		return c.fail(err)
	}
	if c.g.json {
		return c.printJSON(raw)
	}
	rows := make([][]string, len(list.Data))
	for i, is := range list.Data {
		rows[i] = []string{is.ID, is.Name, is.Issuer, issuerSource(&is), fmtList(is.Algorithms), fmtTime(is.CreatedAt)}
	}
	c.printTable([]string{"ID", "NAME", "ISSUER", "KEYS FROM", "ALGORITHMS", "CREATED"}, rows)
	return exitOK
}

func issuersGet(e *env, g globals, args []string) int {
	c := e.newCmd(g, "issuers get", "ID [flags]", "Show a trusted issuer, with the state of its key set on the node that answers.")
	pos, code, ok := c.parse(args, 1, 1)
	if !ok {
		return code
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	var raw json.RawMessage
	is, err := cl.GetIssuer(e.ctx, pos[0], client.WithRawResponse(&raw))
	if err != nil {
		return c.fail(err)
	}
	return c.showIssuer(is, raw)
}

func issuersUpdate(e *env, g globals, args []string) int {
	c := e.newCmd(g, "issuers update", "ID [flags]",
		"Change a trusted issuer: only the flags given change. Setting one key source clears the\n"+
			"others. A list flag (--alg, --audience, --required-claim) replaces the whole list.")
	f := c.issuerFlags(true)
	pos, code, ok := c.parse(args, 1, 1)
	if !ok {
		return code
	}
	set := c.setFlags()
	if f.sources(set) > 1 {
		return c.usageError("give at most one of --jwks-url, --discovery-url and --jwks")
	}
	if set["audience"] && *f.noAuds {
		return c.usageError("--audience and --no-audiences exclude each other")
	}
	if set["required-claim"] && *f.noClaims {
		return c.usageError("--required-claim and --no-required-claims exclude each other")
	}
	var req client.UpdateIssuerRequest
	str := func(flag string, v *string, o *client.Optional[string]) {
		if set[flag] {
			*o = client.Some(*v)
		}
	}
	str("name", f.name, &req.Name)
	str("issuer", f.issuer, &req.Issuer)
	str("jwks-url", f.jwksURL, &req.JWKSURL)
	str("discovery-url", f.discoveryURL, &req.DiscoveryURL)
	str("owner-claim", f.ownerClaim, &req.OwnerClaim)
	str("permissions-claim", f.permsClaim, &req.PermissionsClaim)
	if set["jwks"] {
		j, err := readJWKS(*f.jwks)
		if err != nil {
			return c.usageError("%v", err)
		}
		req.JWKS = client.Some(j)
	}
	if set["alg"] {
		req.Algorithms = client.Some([]string(f.algs))
	}
	if set["audience"] {
		req.Audiences = client.Some([]string(f.auds))
	} else if *f.noAuds {
		req.Audiences = client.Some([]string{})
	}
	if set["required-claim"] {
		req.RequiredClaims = client.Some([]string(f.claims))
	} else if *f.noClaims {
		req.RequiredClaims = client.Some([]string{})
	}
	if set["leeway-seconds"] {
		req.LeewaySeconds = client.Some(*f.leeway)
	}
	changes := 0
	for name := range set {
		if !isGlobalFlag(name) {
			changes++
		}
	}
	if changes == 0 {
		return c.usageError("nothing to change: give at least one flag")
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	var raw json.RawMessage
	is, err := cl.UpdateIssuer(e.ctx, pos[0], req, client.WithRawResponse(&raw))
	if err != nil {
		return c.fail(err)
	}
	return c.showIssuer(is, raw)
}

func issuersDelete(e *env, g globals, args []string) int {
	c := e.newCmd(g, "issuers delete", "ID [flags]", "Stop trusting an issuer: its tokens stop verifying at once.")
	pos, code, ok := c.parse(args, 1, 1)
	if !ok {
		return code
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	if err := cl.DeleteIssuer(e.ctx, pos[0]); err != nil {
		return c.fail(err)
	}
	if !c.g.json {
		fmt.Fprintf(e.stdout, "deleted issuer %s\n", pos[0])
	}
	return exitOK
}

func keysReveal(e *env, g globals, args []string) int {
	c := e.newCmd(g, "keys reveal", "ID [flags]",
		"Show the secret of a key of a recoverable app once more (needs the keys.reveal scope;\n"+
			"audited). The secret goes to stdout.")
	quiet := c.fs.Bool("quiet", false, "print only the secret")
	pos, code, ok := c.parse(args, 1, 1)
	if !ok {
		return code
	}
	if *quiet && c.g.json {
		return c.usageError("--quiet and --json exclude each other")
	}
	cl, err := c.client()
	if err != nil {
		return c.fail(err)
	}
	var raw json.RawMessage
	k, err := cl.RevealKey(e.ctx, pos[0], client.WithRawResponse(&raw))
	if err != nil {
		return c.fail(err)
	}
	return c.printCreated("key", k.Secret, raw, keyFields(&k.Key), *quiet)
}
