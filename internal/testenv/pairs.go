package testenv

import (
	"slices"
	"testing"
	"time"
)

// Pairs times an operation and its peer adjacent in time, for benchmarks
// that report a ratio rather than an absolute speed: on a shared machine a
// stall skews both sides of a pair, not one.
type Pairs struct{ op, peer []time.Duration }

// Run times op and peer once each, alternating which goes first (with i) so
// that neither always pays for the garbage of the other.
func (p *Pairs) Run(i int, op, peer func()) {
	var dOp, dPeer time.Duration
	if i%2 == 0 {
		start := time.Now()
		op()
		mid := time.Now()
		peer()
		dOp, dPeer = mid.Sub(start), time.Since(mid)
	} else {
		start := time.Now()
		peer()
		mid := time.Now()
		op()
		dPeer, dOp = mid.Sub(start), time.Since(mid)
	}
	p.op, p.peer = append(p.op, dOp), append(p.peer, dPeer)
}

// Report reports ns/<op> and ns/<peer> (medians) and x-<peer>, the median
// of the per-pair ratios op/peer.
func (p *Pairs) Report(b *testing.B, op, peer string) {
	ratios := make([]float64, len(p.op))
	for i := range p.op {
		ratios[i] = float64(p.op[i]) / float64(max(p.peer[i], 1))
	}
	b.ReportMetric(float64(median(p.op)), "ns/"+op)
	b.ReportMetric(float64(median(p.peer)), "ns/"+peer)
	b.ReportMetric(median(ratios), "x-"+peer)
}

func median[T time.Duration | float64](v []T) T {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
