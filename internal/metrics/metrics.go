// Package metrics exposes TypeAuth's Prometheus metrics. It owns its own
// registry (nothing global), and its hot-path methods do no map lookups and
// no allocation: every outcome's counter is resolved once, at start.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/typeauth/typeauth/internal/auth"
)

// Codes lists every verify outcome, in a fixed order.
var Codes = []auth.Code{auth.CodeValid, auth.CodeNotFound, auth.CodeMalformed, auth.CodeDisabled, auth.CodeExpired,
	auth.CodeForbidden, auth.CodeInsufficientPermissions, auth.CodeRateLimited, auth.CodeUsageExceeded,
	auth.CodeInvalidSignature, auth.CodeInvalidClaims}

// Metrics holds the registry and the resolved collectors.
type Metrics struct {
	reg      *prometheus.Registry
	outcomes map[auth.Code]prometheus.Counter
	errors   prometheus.Counter
	latency  prometheus.Histogram
}

// New returns Metrics with the Go and process collectors registered.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "typeauth_verify_total", Help: "Verify decisions by outcome code (keys and tokens, every door).",
	}, []string{"code"})
	m := &Metrics{
		reg:      reg,
		outcomes: make(map[auth.Code]prometheus.Counter, len(Codes)),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "typeauth_verify_errors_total", Help: "Verifies that could not be decided (store or limiter failure); answered 503.",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "typeauth_verify_duration_seconds", Help: "Time to decide a verify, inside TypeAuth (excluding HTTP).",
			Buckets: []float64{.00001, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .1, .5},
		}),
	}
	for _, c := range Codes {
		m.outcomes[c] = vec.WithLabelValues(string(c))
	}
	reg.MustRegister(vec, m.errors, m.latency)
	return m
}

// Decided records one decision.
func (m *Metrics) Decided(code auth.Code, took time.Duration) {
	if c, ok := m.outcomes[code]; ok {
		c.Inc()
	}
	m.latency.Observe(took.Seconds())
}

// Failed records a verify that could not be decided.
func (m *Metrics) Failed() { m.errors.Inc() }

// GaugeFunc registers a gauge computed at scrape time.
func (m *Metrics) GaugeFunc(name, help string, f func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
}

// Register adds collectors (for other packages' metrics).
func (m *Metrics) Register(cs ...prometheus.Collector) { m.reg.MustRegister(cs...) }

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}
