package main

import (
	"math"
	"math/bits"
	"slices"
	"time"
)

// hist is a fixed log-linear latency histogram in the spirit of HDR
// histograms: values below 128 ns get their own bucket, above that every
// power of two is split into 128 buckets, so a recorded value is known within
// 1/128 (< 0.8 %) at any scale. Recording is one index computation and an
// increment; two histograms merge by adding counts.
type hist struct {
	counts [histBuckets]uint64
	total  uint64
	max    uint64
}

const (
	histSubBits = 7
	histSub     = 1 << histSubBits // 128
	histBuckets = histSub + (64-histSubBits)*histSub
)

func histIndex(v uint64) int {
	if v < histSub {
		return int(v)
	}
	e := bits.Len64(v) - histSubBits - 1 // v>>e is in [128, 256)
	return histSub + e*histSub + int(v>>uint(e)) - histSub
}

// histLow and histHigh bound the values of bucket i: [low, high].
func histLow(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	e := (i - histSub) / histSub
	m := uint64((i-histSub)%histSub + histSub)
	return m << uint(e)
}

func histHigh(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	e := (i - histSub) / histSub
	return histLow(i) + (uint64(1) << uint(e)) - 1
}

func (h *hist) record(d time.Duration) {
	v := uint64(0)
	if d > 0 {
		v = uint64(d)
	}
	h.counts[histIndex(v)]++
	h.total++
	if v > h.max {
		h.max = v
	}
}

func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	if o.max > h.max {
		h.max = o.max
	}
}

// percentile returns the value at percentile p (0 < p <= 100): the smallest
// recorded value v such that at least p % of the values are <= v, as the
// midpoint of its bucket (and never above the largest value recorded).
func (h *hist) percentile(p float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := percentileRank(p, h.total)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			v := histLow(i) + (histHigh(i)-histLow(i))/2
			if v > h.max {
				v = h.max
			}
			return time.Duration(v)
		}
	}
	return time.Duration(h.max)
}

// percentileRank is the 1-based rank of percentile p among n sorted values
// (nearest-rank method).
func percentileRank(p float64, n uint64) uint64 {
	r := uint64(math.Ceil(p / 100 * float64(n)))
	if r < 1 {
		r = 1
	}
	if r > n {
		r = n
	}
	return r
}

// percentileSorted is the exact nearest-rank percentile of sorted values.
func percentileSorted(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[percentileRank(p, uint64(len(sorted)))-1]
}

// median returns the median of xs (the mean of the middle two for an even
// count); xs is not modified.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
