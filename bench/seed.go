package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/typeauth/typeauth/client"
)

// seedKey is one key of the data set, the same for TypeAuth and the baseline.
type seedKey struct {
	secret, id, owner string
}

// dataset is what both servers hold.
type dataset struct {
	appID string
	keys  []seedKey
}

func (ds *dataset) secrets() []string {
	s := make([]string, len(ds.keys))
	for i, k := range ds.keys {
		s[i] = k.secret
	}
	return s
}

// newSecret returns a key in TypeAuth's format, <prefix>_<28 base62><6 base62
// CRC-32>, so that it passes the server's shape and checksum checks.
func newSecret(prefix string) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := append([]byte(prefix), '_')
	var buf [64]byte
	for n := 0; n < 28; {
		rand.Read(buf[:])
		for _, c := range buf {
			if c < 248 && n < 28 {
				b = append(b, alphabet[c%62])
				n++
			}
		}
	}
	v := uint64(crc32.ChecksumIEEE(b))
	var sum [6]byte
	for i := 5; i >= 0; i-- {
		sum[i] = alphabet[v%62]
		v /= 62
	}
	return string(append(b, sum[:]...))
}

// localDataset makes n keys without TypeAuth (for -only-baseline).
func localDataset(n int) *dataset {
	ds := &dataset{appID: "app_bench", keys: make([]seedKey, n)}
	for i := range ds.keys {
		ds.keys[i] = seedKey{secret: newSecret("bench"), id: fmt.Sprintf("key_%d", i), owner: fmt.Sprintf("owner_%d", i)}
	}
	return ds
}

// writeKeysFile writes ds in the baseline's format: the app id on the first
// line, then "secret<TAB>key id<TAB>owner id" per key. It writes a temporary
// file and renames it, so a complete file is the proof of a complete seed.
func writeKeysFile(path string, ds *dataset) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(bw, ds.appID)
	for _, k := range ds.keys {
		fmt.Fprintf(bw, "%s\t%s\t%s\n", k.secret, k.id, k.owner)
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func readKeysFile(path string) (*dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ds := &dataset{}
	sc := bufio.NewScanner(f)
	first := true
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if first {
			ds.appID, first = line, false
			continue
		}
		if line == "" {
			continue
		}
		parts := strings.SplitN(line, "\t", 3)
		for len(parts) < 3 {
			parts = append(parts, "")
		}
		ds.keys = append(ds.keys, seedKey{secret: parts[0], id: parts[1], owner: parts[2]})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if ds.appID == "" || len(ds.keys) == 0 {
		return nil, fmt.Errorf("%s: no app id or no keys", path)
	}
	return ds, nil
}

// admin calls TypeAuth's management API with a root key.
type admin struct {
	base    string // http://127.0.0.1:PORT
	rootKey string
	hc      *http.Client
}

func newAdmin(base, rootKey string, conns int) *admin {
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	return &admin{base: base, rootKey: rootKey, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// errRetry marks an answer worth retrying (a transport error, 429 or 5xx).
var errRetry = errors.New("retryable")

func (a *admin) post(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.rootKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.hc.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w (%w)", path, err, errRetry)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusCreated {
		err := fmt.Errorf("POST %s: %s: %.300s", path, resp.Status, b)
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
			err = fmt.Errorf("%w (%w)", err, errRetry)
		}
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("POST %s: decoding the answer: %v", path, err)
	}
	return nil
}

// postRetry retries a retryable failure up to 3 times with a short backoff.
func (a *admin) postRetry(ctx context.Context, path string, in, out any) error {
	var err error
	for attempt := 1; attempt <= 4; attempt++ {
		if err = a.post(ctx, path, in, out); err == nil || !errors.Is(err, errRetry) || ctx.Err() != nil {
			return err
		}
		time.Sleep(time.Duration(attempt) * 200 * time.Millisecond)
	}
	return err
}

// seedAPI creates one app and n keys through the management API, the way a
// customer would (each key with `limits`, none when nil), with `workers`
// concurrent requests; it reports progress on progress every few seconds.
func seedAPI(ctx context.Context, a *admin, n, workers int, limits []client.RateLimit, progress io.Writer) (*dataset, error) {
	var app client.App
	if err := a.postRetry(ctx, "/v1/apps", client.CreateAppRequest{Name: "bench", KeyPrefix: "bench"}, &app); err != nil {
		return nil, fmt.Errorf("creating the app: %w", err)
	}
	if app.ID == "" {
		return nil, errors.New("creating the app: the answer has no id")
	}
	ds := &dataset{appID: app.ID, keys: make([]seedKey, n)}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		next, done atomic.Int64
		wg         sync.WaitGroup
	)
	start := time.Now()
	meta := json.RawMessage(`{"plan":"pro"}`)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				owner := fmt.Sprintf("owner_%d", i)
				var ck client.CreatedKey
				err := a.postRetry(ctx, "/v1/keys", client.CreateKeyRequest{AppID: app.ID, OwnerID: owner, Meta: meta, RateLimits: limits}, &ck)
				if err == nil && (ck.Secret == "" || ck.ID == "") {
					err = fmt.Errorf("POST /v1/keys: the answer lacks the key or its id")
				}
				if err != nil {
					cancel(fmt.Errorf("creating key %d: %w", i, err))
					return
				}
				ds.keys[i] = seedKey{secret: ck.Secret, id: ck.ID, owner: owner}
				done.Add(1)
			}
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-finished:
			if err := context.Cause(ctx); err != nil {
				return nil, err
			}
			el := time.Since(start)
			fmt.Fprintf(progress, "seeded %d keys in %v (%.0f keys/s)\n", n, el.Round(time.Millisecond), float64(n)/el.Seconds())
			return ds, nil
		case <-tick.C:
			d := done.Load()
			el := time.Since(start)
			rate := float64(d) / el.Seconds()
			eta := "?"
			if rate > 0 {
				eta = time.Duration(float64(int64(n)-d) / rate * float64(time.Second)).Round(time.Second).String()
			}
			fmt.Fprintf(progress, "seeding: %d/%d keys (%.0f keys/s, %s left)\n", d, n, rate, eta)
		}
	}
}
