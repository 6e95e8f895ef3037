package ratelimit

// Bucket is the stored GCRA state of one Key, for implementations that keep
// it outside this process (Redis): the theoretical arrival time TAT (Unix
// ns) plus Rem/Lim ns, 0 <= Rem < Lim. Its text form is "TAT Rem Lim".
type Bucket struct {
	TAT, Rem, Lim int64
}

// Replay decides a Check at now (Unix ns) from the state each bucket had
// before it, exactly as Local decides it, and fills states (when not nil)
// as Check does. stored[i] is the bucket of limits[i].Key (valid when
// exists[i]); a Key repeated in limits has the same stored value at each
// place. A remote implementation runs the decision atomically where the
// buckets live and replays it here to report the states with the same
// arithmetic (and to check that both sides agree).
func Replay(now int64, limits []Limit, stored []Bucket, exists []bool, states []State) (allowed bool, denied int) {
	denied = -1
	next := make([]bucket, len(limits))
	retry := make([]int64, len(limits))
	for i := range limits {
		lm := &limits[i]
		cur, have := bucket{}, false
		for j := i - 1; j >= 0; j-- {
			if limits[j].Key == lm.Key {
				cur, have = next[j], true
				break
			}
		}
		if !have && exists[i] {
			s := stored[i]
			cur, have = bucket{tat: s.TAT, rem: s.Rem, lim: s.Lim}, true
		}
		base := bucket{tat: now, lim: lm.Limit}
		if have {
			base = cur.base(now, lm.Limit)
		}
		n, ok, r := charge(base, lm, now)
		next[i], retry[i] = n, r
		if !ok && denied < 0 {
			denied = i
		}
	}
	if states != nil {
		for i := range limits {
			lm := &limits[i]
			if denied < 0 {
				report(&states[i], lm, next[i], now, 0)
				continue
			}
			b := bucket{tat: now, lim: lm.Limit}
			if exists[i] {
				s := stored[i]
				b = bucket{tat: s.TAT, rem: s.Rem, lim: s.Lim}.base(now, lm.Limit)
			}
			report(&states[i], lm, b, now, retry[i])
		}
	}
	return denied < 0, denied
}
