package cli

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/typeauth/typeauth/internal/cluster"
	"github.com/typeauth/typeauth/internal/config"
	"github.com/typeauth/typeauth/internal/metrics"
	"github.com/typeauth/typeauth/internal/ratelimit/redislimiter"
	"github.com/typeauth/typeauth/internal/store/postgres"
	"github.com/typeauth/typeauth/internal/verify"
)

// scaleOut holds what several replicas share: the Redis limiter (with its
// failure policy) and the cross-replica cache invalidation (PostgreSQL).
type scaleOut struct {
	rdb     *redis.Client
	limiter *redislimiter.Failover // nil without --redis-url
}

// newScaleOut connects to Redis when --redis-url is set. It does not fail
// when Redis is down at start: the failure policy applies until it is up.
func newScaleOut(cfg config.Config, log *slog.Logger, met *metrics.Metrics) (*scaleOut, error) {
	s := &scaleOut{}
	if cfg.RedisURL == "" {
		return s, nil
	}
	opt, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		// The parse error may quote the URL, password included.
		return nil, fmt.Errorf("--redis-url: invalid Redis URL")
	}
	opt.ContextTimeoutEnabled = true
	opt.DialTimeout = 2 * cfg.RedisTimeout
	opt.ReadTimeout, opt.WriteTimeout = cfg.RedisTimeout, cfg.RedisTimeout
	// No retries: a retried script whose reply was lost would charge twice.
	opt.MaxRetries = -1
	s.rdb = redis.NewClient(opt)
	rl, err := redislimiter.New(s.rdb, redislimiter.Options{Prefix: cfg.RedisPrefix, Timeout: cfg.RedisTimeout})
	if err != nil {
		s.rdb.Close()
		return nil, err
	}
	s.limiter = redislimiter.NewFailover(rl, func(ctx context.Context) error { return s.rdb.Ping(ctx).Err() },
		redislimiter.FailoverOptions{Policy: redislimiter.Policy(cfg.RedisFailurePolicy), Replicas: cfg.Replicas,
			ProbeTimeout: cfg.RedisTimeout, Logger: log})
	f := s.limiter
	met.GaugeFunc("typeauth_redis_up", "1 while Redis answers, 0 while the rate limiter follows --redis-failure-policy.", func() float64 {
		if f.Up() {
			return 1
		}
		return 0
	})
	met.Register(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "typeauth_ratelimit_degraded_checks_total",
			Help: "Rate-limit checks decided without Redis (failed closed or limited locally)."}, func() float64 { return float64(f.DegradedChecks()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "typeauth_redis_outages_total",
			Help: "Times Redis was marked unreachable."}, func() float64 { return float64(f.Outages()) }))
	log.Info("rate limits are shared in Redis", "prefix", cfg.RedisPrefix, "failure_policy", cfg.RedisFailurePolicy, "replicas", cfg.Replicas)
	return s, nil
}

// run starts the background work until ctx ends: the Redis prober and, on
// PostgreSQL, the change feed that evicts what other replicas changed.
func (s *scaleOut) run(ctx context.Context, cfg config.Config, st store, v *verify.Verifier, log *slog.Logger, met *metrics.Metrics, wg *sync.WaitGroup) error {
	if s.limiter != nil {
		wg.Add(1)
		go func() { defer wg.Done(); s.limiter.Run(ctx) }()
	}
	pg, ok := st.(*postgres.Store)
	if !ok {
		return nil // SQLite is one node: nothing to keep coherent
	}
	inv := cluster.New(pg, v, cluster.Options{PollInterval: cfg.InvalidationPoll, Timeout: cfg.StoreTimeout, Logger: log})
	wait, err := inv.Start(ctx)
	if err != nil {
		return fmt.Errorf("change feed: %w", err)
	}
	wg.Add(1)
	go func() { defer wg.Done(); wait() }()
	met.GaugeFunc("typeauth_invalidation_applied_seq", "Seq of the last audit entry applied to this replica's cache.", func() float64 { return float64(inv.Applied()) })
	met.GaugeFunc("typeauth_invalidation_listening", "1 while the change listener (LISTEN) is connected.", func() float64 {
		if inv.Listening() {
			return 1
		}
		return 0
	})
	return nil
}

func (s *scaleOut) close() {
	if s.rdb != nil {
		s.rdb.Close()
	}
}
