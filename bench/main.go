// Command bench is TypeAuth's load benchmark (see docs/performance.md and
// the spec in BENCH.md): it builds and starts TypeAuth and the bare net/http
// baseline (bench/baseline) on loopback with the same keys, warms both up,
// loads them alternately (TypeAuth, baseline, TypeAuth, baseline, ...) with
// the same generator (wrk when installed, else a built-in Go generator), and
// prints every run, the medians and the ratio TypeAuth/baseline.
//
//	go run ./bench -duration 10s -keys 10000 -pairs 3 -conns 64
//	go run ./bench -latency                    # one connection: service latency
//	go run ./bench -duration 1s -pairs 1 -keys 200 -warmup 200ms   # smoke (CI)
//
// It exits non-zero only on errors (a server that does not start, a wrong
// answer before the load, non-2xx or invalid answers or socket errors during
// it), never on a speed figure.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type config struct {
	duration, warmup time.Duration
	pairs, keys      int
	conns, threads   int
	gen, endpoint    string
	latency          bool
	fill             bool
	onlyBaseline     bool
	seedWorkers      int
	state            string
	keep             bool
	readyTimeout     time.Duration
	typeauthArgs     []string
	ext              extConfig // -endpoint check, -grpc-conns, -key-ratelimit (limits.go)
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "length of each measured run")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "warm-up load per target before the measured runs")
	fs.IntVar(&c.pairs, "pairs", 3, "measured runs per target, alternating TypeAuth and baseline")
	fs.IntVar(&c.keys, "keys", 10000, "number of API keys both servers hold; requests cycle through all of them")
	fs.IntVar(&c.conns, "conns", 64, "concurrent keep-alive connections")
	fs.IntVar(&c.threads, "threads", 2, "wrk threads (-t)")
	fs.StringVar(&c.gen, "gen", "auto", "load generator: wrk, go, or auto (wrk when on PATH)")
	fs.StringVar(&c.endpoint, "endpoint", "verify", "endpoint under load: verify (POST /v1/verify), authorize (GET /v1/authorize), check (Envoy ext_authz gRPC Check), or jwt-eddsa / jwt-es256 (POST /v1/verify {\"token\"} with TypeAuth's own tokens)")
	fs.BoolVar(&c.fill, "fill", true, "before the warm-up, request every key once on each target (built-in generator, at most 10 min), so that no measured run pays a first request of a key")
	fs.BoolVar(&c.latency, "latency", false, "service latency mode: one connection, one thread (like wrk -t1 -c1)")
	fs.BoolVar(&c.onlyBaseline, "only-baseline", false, "load the baseline only, with locally generated keys (no TypeAuth)")
	fs.IntVar(&c.seedWorkers, "seed-workers", 16, "concurrent POST /v1/keys while seeding")
	fs.StringVar(&c.state, "state", "", "keep TypeAuth's data, root key and keys in this directory and reuse them when it already holds -keys keys (pays the seeding of a large -keys once)")
	fs.BoolVar(&c.keep, "keep", false, "keep the temporary directory (binaries, logs, keys) after the run")
	fs.DurationVar(&c.readyTimeout, "ready-timeout", time.Minute, "how long to wait for a server's GET /readyz")
	registerExtFlags(fs, c)
	extra := fs.String("typeauth-args", "", "extra arguments for `typeauth serve`, space-separated (e.g. \"--cache-ttl 10m\"); printed with the results")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	c.typeauthArgs = strings.Fields(*extra)
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	case c.duration <= 0 || c.duration > time.Hour || c.warmup < 0 || c.warmup > time.Hour:
		return nil, errors.New("-duration must be in (0, 1h] and -warmup in [0, 1h]")
	case c.pairs < 1 || c.pairs > 100:
		return nil, errors.New("-pairs must be in [1, 100]")
	case c.keys < 1 || c.keys > 10_000_000:
		return nil, errors.New("-keys must be in [1, 10000000]")
	case c.conns < 1 || c.conns > 10000 || c.threads < 1 || c.threads > 64:
		return nil, errors.New("-conns must be in [1, 10000] and -threads in [1, 64]")
	case c.seedWorkers < 1 || c.seedWorkers > 256:
		return nil, errors.New("-seed-workers must be in [1, 256]")
	case c.gen != "auto" && c.gen != "go" && c.gen != "wrk":
		return nil, errors.New("-gen must be auto, go or wrk")
	case c.endpoint != "verify" && c.endpoint != "authorize" && !isCheck(c.endpoint) && !isJWT(c.endpoint):
		return nil, errors.New("-endpoint must be verify, authorize, check, jwt-eddsa or jwt-es256")
	case isJWT(c.endpoint) && (c.onlyBaseline || c.state != ""):
		return nil, errors.New("-endpoint jwt-* needs TypeAuth to issue the tokens: not with -only-baseline or -state")
	case c.state != "" && c.onlyBaseline:
		return nil, errors.New("-state is for TypeAuth's data; -only-baseline has none")
	}
	if err := validateExt(c); err != nil {
		return nil, err
	}
	if c.latency {
		c.conns, c.threads = 1, 1
	}
	return c, nil
}

// target is one server under load.
type target struct {
	name string
	base string // http://127.0.0.1:PORT of the data plane
	grpc string // 127.0.0.1:PORT of the ext_authz listener (-endpoint check)
	proc *child
	runs []result
	warm result
}

// run is the whole benchmark; it returns the exit code: 0 on success, 1 on
// any error, 2 on bad flags.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	b := &bench{cfg: cfg, stdout: stdout, stderr: stderr}
	defer b.cleanup()
	if err := b.run(ctx); err != nil {
		fmt.Fprintln(stderr, "bench: FAIL:", err)
		return 1
	}
	return 0
}

type bench struct {
	cfg            *config
	stdout, stderr io.Writer
	tmp            string
	children       []*child
	targets        []*target
	ds             *dataset
	gen            string
	wrkPath        string
	wrkScript      string
	wl             *workload
	goVersion      string
	jwksPath       string // JWT workloads: TypeAuth's JWKS, for the baseline
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.stderr, "bench: "+format+"\n", args...)
}

func (b *bench) cleanup() {
	for i := len(b.children) - 1; i >= 0; i-- {
		b.children[i].stop()
	}
	if b.tmp == "" {
		return
	}
	if b.cfg.keep {
		b.logf("kept %s", b.tmp)
		return
	}
	os.RemoveAll(b.tmp)
}

func (b *bench) run(ctx context.Context) error {
	cfg := b.cfg
	b.goVersion = goVersion(ctx)
	b.gen = cfg.gen
	if isCheck(cfg.endpoint) {
		b.gen = "grpc" // wrk cannot speak gRPC (grpc.go)
	}
	if b.gen == "auto" || b.gen == "wrk" {
		p, err := exec.LookPath("wrk")
		switch {
		case err == nil:
			b.gen, b.wrkPath = "wrk", p
		case b.gen == "wrk":
			return errors.New("-gen wrk: wrk is not on PATH (apt-get install wrk)")
		default:
			b.gen = "go"
		}
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	if b.tmp, err = os.MkdirTemp("", "typeauth-bench-"); err != nil {
		return err
	}

	if cfg.onlyBaseline {
		b.logf("building ./bench/baseline")
	} else {
		b.logf("building ./bench/baseline and ./cmd/typeauth")
	}
	baselineBin := filepath.Join(b.tmp, "baseline")
	if err := goBuild(ctx, root, "./bench/baseline", baselineBin); err != nil {
		return err
	}
	if !cfg.onlyBaseline {
		if err := b.startTypeAuth(ctx, root); err != nil {
			return err
		}
	} else {
		b.ds = localDataset(cfg.keys)
	}
	if isJWT(cfg.endpoint) {
		if b.jwksPath, err = b.exchangeTokens(ctx, b.targets[0].base); err != nil {
			return err
		}
	}
	if err := b.startBaseline(ctx, baselineBin); err != nil {
		return err
	}

	b.wl = &workload{endpoint: cfg.endpoint, appID: b.ds.appID, secrets: b.ds.secrets()}
	if cfg.endpoint == "authorize" {
		b.wl.appID = ""
	}
	for _, t := range b.targets {
		if err := b.precheckTarget(ctx, t); err != nil {
			if errors.Is(err, errNoAuthorize) {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			return fmt.Errorf("%s answers wrongly before any load: %w", t.name, err)
		}
	}
	b.logf("answers checked on a sample of %d keys and an unknown one: right on every target", min(32, len(b.ds.keys)))
	if b.gen == "wrk" {
		if b.wrkScript, err = writeWrkFiles(b.tmp, b.wl, cfg.threads); err != nil {
			return err
		}
	}

	b.printHeader()
	failed := false
	if cfg.fill {
		for _, t := range b.targets {
			r, err := b.fillPass(ctx, t)
			if err != nil {
				return err
			}
			b.printRow(r)
			failed = failed || r.errors() > 0
		}
	}
	if cfg.warmup > 0 {
		for _, t := range b.targets {
			r, err := b.load(ctx, t, cfg.warmup)
			if err != nil {
				return err
			}
			t.warm = r
			b.printRow(r)
			failed = failed || r.errors() > 0
		}
	}
	for p := 1; p <= cfg.pairs; p++ {
		for _, t := range b.targets {
			r, err := b.load(ctx, t, cfg.duration)
			if err != nil {
				return err
			}
			r.run = p
			t.runs = append(t.runs, r)
			b.printRow(r)
			failed = failed || r.errors() > 0
		}
	}
	b.printSummary()
	if failed {
		return errors.New("errors during the load (see the errors column)")
	}
	return nil
}

func (b *bench) startTypeAuth(ctx context.Context, root string) error {
	cfg := b.cfg
	bin := filepath.Join(b.tmp, "typeauth")
	if err := goBuild(ctx, root, "./cmd/typeauth", bin); err != nil {
		return err
	}
	dataDir := filepath.Join(b.tmp, "data")
	rootKey := newSecret("root")
	var reuse *dataset
	if cfg.state != "" {
		var err error
		if dataDir, rootKey, reuse, err = openState(cfg.state, cfg.keys); err != nil {
			return err
		}
	}
	p1, err := freePort()
	if err != nil {
		return err
	}
	p2, err := freePort()
	if err != nil {
		return err
	}
	for p2 == p1 {
		if p2, err = freePort(); err != nil {
			return err
		}
	}
	env := []string{"TYPEAUTH_ROOT_KEY=" + rootKey}
	for _, kv := range os.Environ() { // a hermetic server: no TYPEAUTH_* from the caller
		if !strings.HasPrefix(kv, "TYPEAUTH_") {
			env = append(env, kv)
		}
	}
	addr := "127.0.0.1:" + strconv.Itoa(p1)
	adminAddr := "127.0.0.1:" + strconv.Itoa(p2)
	grpcArgs, grpcAddr, err := grpcServeArgs(cfg.endpoint)
	if err != nil {
		return err
	}
	args := append([]string{"serve", "--data-dir", dataDir, "--addr", addr, "--admin-addr", adminAddr}, grpcArgs...)
	args = append(args, cfg.typeauthArgs...)
	args = append(args, jwtServeArgs(cfg.endpoint)...)
	c, err := startChild("typeauth", bin, args, env, filepath.Join(b.tmp, "typeauth.log"))
	if err != nil {
		return err
	}
	b.children = append(b.children, c)
	for _, a := range []string{addr, adminAddr} {
		if err := waitReady(ctx, c, "http://"+a+"/readyz", cfg.readyTimeout); err != nil {
			return err
		}
	}
	b.logf("typeauth ready: data plane %s, management %s, data dir %s", addr, adminAddr, dataDir)
	if reuse != nil {
		b.ds = reuse
		b.logf("reusing the %d keys of %s", len(reuse.keys), cfg.state)
	} else {
		b.logf("seeding 1 app and %d keys through POST /v1/keys (%d workers)", cfg.keys, cfg.seedWorkers)
		ds, err := seedAPI(ctx, newAdmin("http://"+adminAddr, rootKey, cfg.seedWorkers), cfg.keys, cfg.seedWorkers, cfg.seedLimits(), b.stderr)
		if err != nil {
			if c.exited() {
				err = fmt.Errorf("%w; typeauth exited, its last output:\n%s", err, c.logTail(30))
			}
			return err
		}
		b.ds = ds
		if cfg.state != "" {
			if err := writeKeysFile(filepath.Join(cfg.state, "keys.tsv"), ds); err != nil {
				return err
			}
		}
	}
	b.targets = append(b.targets, &target{name: "typeauth", base: "http://" + addr, grpc: grpcAddr, proc: c})
	return nil
}

// openState prepares a -state directory: data dir, root key and, when a
// previous run completed its seeding with the same number of keys, those keys.
func openState(dir string, n int) (dataDir, rootKey string, ds *dataset, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", nil, err
	}
	dataDir = filepath.Join(dir, "data")
	keysPath := filepath.Join(dir, "keys.tsv")
	rootPath := filepath.Join(dir, "root_key")
	if _, err := os.Stat(keysPath); err == nil {
		rk, err := os.ReadFile(rootPath)
		if err != nil {
			return "", "", nil, err
		}
		ds, err := readKeysFile(keysPath)
		if err != nil {
			return "", "", nil, err
		}
		if len(ds.keys) != n {
			return "", "", nil, fmt.Errorf("-state %s holds %d keys, not -keys %d: use another directory or remove it", dir, len(ds.keys), n)
		}
		return dataDir, strings.TrimSpace(string(rk)), ds, nil
	}
	if _, err := os.Stat(dataDir); err == nil {
		return "", "", nil, fmt.Errorf("-state %s has data but no keys.tsv (an interrupted seeding?): remove it", dir)
	}
	rootKey = newSecret("root")
	return dataDir, rootKey, nil, os.WriteFile(rootPath, []byte(rootKey+"\n"), 0o600)
}

func (b *bench) startBaseline(ctx context.Context, bin string) error {
	keysPath := filepath.Join(b.tmp, "keys.tsv")
	if err := writeKeysFile(keysPath, b.ds); err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	bargs := []string{"-addr", addr, "-keys", keysPath}
	grpcAddr := ""
	if isCheck(b.cfg.endpoint) {
		gp, err := freePort()
		if err != nil {
			return err
		}
		grpcAddr = "127.0.0.1:" + strconv.Itoa(gp)
		bargs = append(bargs, "-grpc-addr", grpcAddr)
	}
	if b.jwksPath != "" {
		bargs = append(bargs, "-jwks", b.jwksPath)
	}
	c, err := startChild("baseline", bin, bargs, os.Environ(), filepath.Join(b.tmp, "baseline.log"))
	if err != nil {
		return err
	}
	b.children = append(b.children, c)
	if err := waitReady(ctx, c, "http://"+addr+"/readyz", b.cfg.readyTimeout); err != nil {
		return err
	}
	b.logf("baseline ready on %s with %d keys", addr, len(b.ds.keys))
	b.targets = append(b.targets, &target{name: "baseline", base: "http://" + addr, grpc: grpcAddr, proc: c})
	return nil
}

// fillPass requests every key once, spread over the connections.
func (b *bench) fillPass(ctx context.Context, t *target) (result, error) {
	r := b.goGen(ctx, t, 10*time.Minute, true)
	r.target, r.run, r.cpuPerOp = t.name, -1, -1
	if ctx.Err() != nil {
		return r, ctx.Err()
	}
	if r.requests < uint64(len(b.wl.secrets)) && r.errors() == 0 {
		return r, fmt.Errorf("%s: the fill pass sent %d of %d requests in 10 min", t.name, r.requests, len(b.wl.secrets))
	}
	return r, nil
}

// load runs the generator against t for dur and measures the server's CPU.
func (b *bench) load(ctx context.Context, t *target, dur time.Duration) (result, error) {
	if ctx.Err() != nil {
		return result{}, ctx.Err()
	}
	if t.proc.exited() {
		return result{}, fmt.Errorf("%s exited (%v); its last output:\n%s", t.name, t.proc.err, t.proc.logTail(30))
	}
	cpu0 := procCPU(t.proc.cmd.Process.Pid)
	var r result
	if b.gen == "wrk" {
		url := t.base + "/v1/" + b.cfg.endpoint
		var err error
		if r, err = wrkLoad(ctx, b.wrkPath, url, b.wrkScript, b.cfg.threads, b.cfg.conns, dur); err != nil {
			return r, err
		}
	} else {
		r = b.goGen(ctx, t, dur, false)
	}
	cpu1 := procCPU(t.proc.cmd.Process.Pid)
	r.target = t.name
	r.cpuPerOp = -1
	if cpu0 >= 0 && cpu1 >= 0 && r.requests > 0 {
		r.cpuPerOp = (cpu1 - cpu0) / time.Duration(r.requests)
	}
	if ctx.Err() != nil {
		return r, ctx.Err()
	}
	if t.proc.exited() {
		return r, fmt.Errorf("%s exited during the load (%v); its last output:\n%s", t.name, t.proc.err, t.proc.logTail(30))
	}
	return r, nil
}

func (b *bench) printHeader() {
	cfg := b.cfg
	w := b.stdout
	fmt.Fprintf(w, "TypeAuth load benchmark  %s\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "machine:   nproc %d, %s, %s/%s\n", runtime.NumCPU(), cpuModel(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "go:        %s\n", b.goVersion)
	if len(cfg.typeauthArgs) > 0 {
		fmt.Fprintf(w, "typeauth:  serve ... %s\n", strings.Join(cfg.typeauthArgs, " "))
	}
	fmt.Fprintf(w, "load avg:  %s (before the runs; the machine may be shared)\n", loadAvg())
	genDesc := "built-in Go generator"
	if b.gen == "grpc" {
		genDesc = fmt.Sprintf("built-in Go gRPC generator (%d concurrent callers over %d HTTP/2 connection(s))", cfg.conns, max(1, min(cfg.ext.grpcConns, cfg.conns)))
	} else if b.gen == "wrk" {
		genDesc = fmt.Sprintf("wrk -t%d -c%d -d%ds --latency (Lua script)", min(cfg.threads, cfg.conns), cfg.conns, wrkSeconds(cfg.duration))
	}
	fill := ""
	if cfg.fill {
		fill = "a pass over every key (fill) and "
	}
	fmt.Fprintf(w, "load:      %s; %d connection(s), %d keys, runs of %v after %sa %v warm-up per target, %d pair(s)\n",
		genDesc, cfg.conns, len(b.ds.keys), cfg.duration, fill, cfg.warmup, cfg.pairs)
	if isCheck(cfg.endpoint) {
		fmt.Fprintln(w, "endpoint:  envoy.service.auth.v3.Authorization/Check, Authorization: Bearer <key> (OK with X-TypeAuth-Key-Id/-App-Id/-Owner-Id)")
	} else if cfg.endpoint == "authorize" {
		fmt.Fprintln(w, "endpoint:  GET /v1/authorize with Authorization: Bearer <key> (200, empty body)")
	} else if isJWT(cfg.endpoint) {
		fmt.Fprintf(w, "endpoint:  POST /v1/verify {\"token\",\"app_id\"} with %d %s tokens of TypeAuth (200, \"valid\":true)\n", len(b.ds.keys), jwtAlg(cfg.endpoint))
	} else {
		fmt.Fprintln(w, `endpoint:  POST /v1/verify {"key","app_id"} (200, "valid":true)`)
	}
	if l := cfg.ext.limit; l != nil {
		fmt.Fprintf(w, "limits:    every TypeAuth key has one auto_apply limit %q of %d per %v (the baseline applies none)\n", l.Name, l.Limit, time.Duration(l.DurationMs)*time.Millisecond)
	}
	fmt.Fprintf(w, "\n%-9s %-6s %12s %10s %10s %12s %s\n", "target", "run", "req/s", "p50", "p99", "cpu/req", "errors")
}

func (b *bench) printRow(r result) {
	run := "warm"
	switch {
	case r.run > 0:
		run = strconv.Itoa(r.run)
	case r.run < 0:
		run = "fill"
	}
	fmt.Fprintf(b.stdout, "%-9s %-6s %12.0f %10s %10s %12s %s\n", r.target, run, r.rps, fmtDur(r.p50), fmtDur(r.p99), fmtDur(r.cpuPerOp), fmtErrors(r))
	if r.firstErr != "" {
		fmt.Fprintf(b.stdout, "          first error: %s\n", r.firstErr)
	}
}

func fmtErrors(r result) string {
	if r.errors() == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (non-2xx %d, invalid %d, socket %d)", r.errors(), r.non2xx, r.invalid, r.sockErrs)
}

func fmtDur(d time.Duration) string {
	switch {
	case d < 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%.1fµs", float64(d)/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.2fs", d.Seconds())
	}
}

// summary holds the medians of one target's measured runs.
type summary struct {
	rps, p50, p99, cpu float64
}

func summarize(runs []result) summary {
	var rps, p50, p99, cpu []float64
	for _, r := range runs {
		rps = append(rps, r.rps)
		p50 = append(p50, float64(r.p50))
		p99 = append(p99, float64(r.p99))
		if r.cpuPerOp >= 0 {
			cpu = append(cpu, float64(r.cpuPerOp))
		}
	}
	s := summary{rps: median(rps), p50: median(p50), p99: median(p99), cpu: -1}
	if len(cpu) == len(runs) {
		s.cpu = median(cpu)
	}
	return s
}

func (b *bench) printSummary() {
	w := tabwriter.NewWriter(b.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(b.stdout, "\nmedians of %d run(s) of %v, %d connection(s), %s generator (load avg now %s):\n",
		b.cfg.pairs, b.cfg.duration, b.cfg.conns, b.gen, loadAvg())
	fmt.Fprintln(w, "target\treq/s\tp50\tp99\tserver cpu/req\t")
	sums := map[string]summary{}
	for _, t := range b.targets {
		s := summarize(t.runs)
		sums[t.name] = s
		fmt.Fprintf(w, "%s\t%.0f\t%s\t%s\t%s\t\n", t.name, s.rps, fmtDur(time.Duration(s.p50)), fmtDur(time.Duration(s.p99)), fmtDur(time.Duration(s.cpu)))
	}
	w.Flush()
	ta, okA := sums["typeauth"]
	bl, okB := sums["baseline"]
	if okA && okB && bl.rps > 0 {
		fmt.Fprintf(b.stdout, "ratio of medians typeauth/baseline: req/s %.2f (%.0f%% of the baseline), p50 %.2fx, p99 %.2fx",
			ta.rps/bl.rps, 100*ta.rps/bl.rps, ta.p50/bl.p50, ta.p99/bl.p99)
		if ta.cpu > 0 && bl.cpu > 0 {
			fmt.Fprintf(b.stdout, ", server cpu/req %.2fx", ta.cpu/bl.cpu)
		}
		fmt.Fprintln(b.stdout)
	}
}
