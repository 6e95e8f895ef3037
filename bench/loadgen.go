package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/typeauth/typeauth/client"
)

// workload says what every request of a run is: an endpoint and the keys it
// cycles through.
type workload struct {
	endpoint string // "verify", "authorize", "jwt-eddsa" or "jwt-es256"
	appID    string
	secrets  []string
}

// appendRequest appends the HTTP/1.1 request for key i to b; scratch is a
// buffer for the body, returned for reuse.
func (wl *workload) appendRequest(b, scratch []byte, host string, i int) ([]byte, []byte) {
	secret := wl.secrets[i]
	if wl.endpoint == "authorize" {
		b = append(b, "GET /v1/authorize HTTP/1.1\r\nHost: "...)
		b = append(b, host...)
		b = append(b, "\r\nUser-Agent: typeauth-bench\r\nAuthorization: Bearer "...)
		b = append(b, secret...)
		return append(b, "\r\n\r\n"...), scratch
	}
	scratch = wl.appendBody(scratch[:0], i)
	b = append(b, "POST /v1/verify HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\nUser-Agent: typeauth-bench\r\nContent-Type: application/json\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(scratch)), 10)
	b = append(b, "\r\n\r\n"...)
	return append(b, scratch...), scratch
}

// appendBody appends the JSON body of a verify request for key i: the same
// document as json.Marshal(client.VerifyRequest{Key, AppID}).
func (wl *workload) appendBody(b []byte, i int) []byte {
	if isJWT(wl.endpoint) {
		b = append(b, `{"token":`...)
	} else {
		b = append(b, `{"key":`...)
	}
	b = appendJSONString(b, wl.secrets[i])
	if wl.appID != "" {
		b = append(b, `,"app_id":`...)
		b = appendJSONString(b, wl.appID)
	}
	return append(b, '}')
}

func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20 || c == '<' || c == '>' || c == '&':
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// check reports whether a response is the expected answer for a known key.
func (wl *workload) check(status int, body []byte) (ok2xx, valid bool) {
	if status < 200 || status > 299 {
		return false, false
	}
	if wl.endpoint == "authorize" {
		return true, status == 200 && len(body) == 0
	}
	if bytes.Contains(body, []byte(`"valid":true`)) {
		return true, true
	}
	var vr client.VerifyResponse
	return true, json.Unmarshal(body, &vr) == nil && vr.Valid
}

// result is one run's figures, from either generator.
type result struct {
	target   string
	run      int // 0 for a warm-up
	gen      string
	conns    int
	requests uint64
	elapsed  time.Duration
	rps      float64
	p50, p99 time.Duration
	non2xx   uint64 // answers outside 2xx
	invalid  uint64 // 2xx answers that are not a pass for a known key
	sockErrs uint64 // connect/read/write errors and timeouts
	cpuPerOp time.Duration
	firstErr string
}

func (r *result) errors() uint64 { return r.non2xx + r.invalid + r.sockErrs }

// goLoad runs the built-in generator: conns connections, each a goroutine
// with its own keep-alive TCP connection sending one request at a time (like
// wrk), for dur. Latency is recorded per request into a log-linear histogram.
func goLoad(ctx context.Context, addr string, wl *workload, conns int, dur time.Duration) result {
	return goLoadN(ctx, addr, wl, conns, dur, false)
}

// goLoadN is goLoad; with onePass, the connections share the keys and stop
// once every key was requested exactly once (or at dur, whichever is first).
func goLoadN(ctx context.Context, addr string, wl *workload, conns int, dur time.Duration, onePass bool) result {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total hist
		res   = result{gen: "go", conns: conns}
	)
	start := time.Now()
	end := start.Add(dur)
	n := len(wl.secrets)
	for c := 0; c < conns; c++ {
		count := -1 // unbounded
		if onePass {
			if count = (c+1)*n/conns - c*n/conns; count == 0 {
				continue
			}
		}
		wg.Add(1)
		go func(offset, count int) {
			defer wg.Done()
			w := &loadWorker{addr: addr, wl: wl, end: end, next: offset % n, left: count}
			w.run(ctx)
			mu.Lock()
			defer mu.Unlock()
			total.merge(&w.h)
			res.requests += w.h.total
			res.non2xx += w.non2xx
			res.invalid += w.invalid
			res.sockErrs += w.sockErrs
			if res.firstErr == "" {
				res.firstErr = w.firstErr
			}
		}(c*n/conns, count)
	}
	wg.Wait()
	res.elapsed = time.Since(start) // includes the last requests in flight at the end: ~1 latency
	res.rps = float64(res.requests) / res.elapsed.Seconds()
	res.p50 = total.percentile(50)
	res.p99 = total.percentile(99)
	return res
}

type loadWorker struct {
	addr string
	wl   *workload
	end  time.Time
	next int
	left int // requests left to send; negative: no bound but end

	h                         hist
	non2xx, invalid, sockErrs uint64
	firstErr                  string
}

// maxReconnects bounds how often one connection is re-dialled in one run.
const maxReconnects = 1000

func (w *loadWorker) fail(format string, args ...any) {
	if w.firstErr == "" {
		w.firstErr = fmt.Sprintf(format, args...)
	}
}

func (w *loadWorker) run(ctx context.Context) {
	var (
		req, scratch, body []byte
		n                  = len(w.wl.secrets)
	)
	for dials := 0; dials < maxReconnects && w.left != 0 && time.Now().Before(w.end) && ctx.Err() == nil; dials++ {
		conn, err := net.DialTimeout("tcp", w.addr, 2*time.Second)
		if err != nil {
			w.sockErrs++
			w.fail("connect: %v", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		// No request may hang past the end of the run by more than this.
		conn.SetDeadline(w.end.Add(5 * time.Second))
		br := bufio.NewReaderSize(conn, 16<<10)
		for w.left != 0 && time.Now().Before(w.end) && ctx.Err() == nil {
			w.left--
			req, scratch = w.wl.appendRequest(req[:0], scratch, w.addr, w.next)
			if w.next++; w.next == n {
				w.next = 0
			}
			t0 := time.Now()
			if _, err = conn.Write(req); err != nil {
				w.sockErrs++
				w.fail("write: %v", err)
				break
			}
			var status int
			var closeConn bool
			status, body, closeConn, err = readResponse(br, body[:0])
			if err != nil {
				w.sockErrs++
				w.fail("read: %v", err)
				break
			}
			w.h.record(time.Since(t0))
			if ok2xx, valid := w.wl.check(status, body); !ok2xx {
				w.non2xx++
				w.fail("status %d: %.200s", status, body)
			} else if !valid {
				w.invalid++
				w.fail("invalid answer for a known key (status %d): %.200s", status, body)
			}
			if closeConn {
				break
			}
		}
		conn.Close()
	}
}

var errMalformed = errors.New("malformed HTTP response")

// readResponse reads one HTTP/1.1 response from br, appends its body to buf
// and returns it with the status code and whether the server will close the
// connection. It handles Content-Length and chunked bodies; it is a minimal
// client for a load generator, not a general one.
func readResponse(br *bufio.Reader, buf []byte) (status int, body []byte, closeConn bool, err error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, buf, false, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, buf, false, errMalformed
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, buf, false, errMalformed
	}
	closeConn = line[7] == '0' // HTTP/1.0
	contentLength, chunked := -1, false
	for headers := 0; ; headers++ {
		if headers > 100 {
			return status, buf, false, errMalformed
		}
		line, err = br.ReadSlice('\n')
		if err != nil {
			return status, buf, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return status, buf, false, errMalformed
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			contentLength, err = strconv.Atoi(string(value))
			if err != nil || contentLength < 0 {
				return status, buf, false, errMalformed
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				closeConn = true
			} else if bytes.EqualFold(value, []byte("keep-alive")) {
				closeConn = false
			}
		}
	}
	switch {
	case status/100 == 1 || status == 204 || status == 304:
		return status, buf, closeConn, nil
	case chunked:
		body, err = readChunked(br, buf)
		return status, body, closeConn, err
	case contentLength >= 0:
		if contentLength > 16<<20 {
			return status, buf, false, errMalformed
		}
		start := len(buf)
		buf = append(buf, make([]byte, contentLength)...)
		_, err = io.ReadFull(br, buf[start:])
		return status, buf, closeConn, err
	default: // body until close
		body, err = io.ReadAll(io.LimitReader(br, 16<<20))
		return status, append(buf, body...), true, err
	}
}

func readChunked(br *bufio.Reader, buf []byte) ([]byte, error) {
	for chunks := 0; chunks < 1<<16; chunks++ {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return buf, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, err := strconv.ParseUint(string(bytes.TrimSpace(line)), 16, 32)
		if err != nil || size > 16<<20 {
			return buf, errMalformed
		}
		if size == 0 { // trailers, then an empty line
			for trailers := 0; trailers < 100; trailers++ {
				line, err = br.ReadSlice('\n')
				if err != nil {
					return buf, err
				}
				if len(bytes.TrimRight(line, "\r\n")) == 0 {
					return buf, nil
				}
			}
			return buf, errMalformed
		}
		start := len(buf)
		buf = append(buf, make([]byte, size)...)
		if _, err := io.ReadFull(br, buf[start:]); err != nil {
			return buf, err
		}
		var crlf [2]byte
		if _, err := io.ReadFull(br, crlf[:]); err != nil {
			return buf, err
		}
		if crlf != [2]byte{'\r', '\n'} {
			return buf, errMalformed
		}
	}
	return buf, errMalformed
}
