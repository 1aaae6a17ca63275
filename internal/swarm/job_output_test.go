package swarm

import (
	"strings"
	"testing"
)

func TestTailText(t *testing.T) {
	numbered := func(from, to int) string {
		var b strings.Builder
		for i := from; i <= to; i++ {
			b.WriteString("line ")
			b.WriteString(strings.Repeat("x", i%3))
			b.WriteString("\n")
		}
		return b.String()
	}
	tests := []struct {
		name     string
		out      string
		lines    int
		maxBytes int
		want     string
	}{
		{"empty", "", 3, 100, ""},
		{"short, trailing newline dropped", "a\nb\n", 3, 100, "a\nb"},
		{"last lines", "1\n2\n3\n4\n5\n", 3, 100, "3\n4\n5"},
		{"bytes bound a long line", "head\n" + strings.Repeat("y", 50), 3, 10, "..." + strings.Repeat("y", 7)},
		{"bytes cut, then whole lines", "aaaa\nbbbb\ncccc\ndddd\n", 2, 12, "cccc\ndddd"},
		{"bytes cut inside the first line kept", "aaaa\nbbbb\ncccc\n", 3, 10, "...bb\ncccc"},
		{"cut on a character boundary", "ééééé", 3, 7, "...éé"},
		{"many lines", numbered(1, 30), 20, 2048, strings.TrimSuffix(numbered(11, 30), "\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := TailText([]byte(tt.out), tt.lines, tt.maxBytes); got != tt.want {
				t.Errorf("TailText() = %q, want %q", got, tt.want)
			}
			if got := TailText([]byte(tt.out), tt.lines, tt.maxBytes); len(got) > tt.maxBytes {
				t.Errorf("TailText() is %d bytes, more than %d", len(got), tt.maxBytes)
			}
		})
	}
}

// TestTailWriter: written in pieces, it keeps at least the last limit
// bytes, in order, and not much more.
func TestTailWriter(t *testing.T) {
	w := &tailWriter{limit: 10}
	var all strings.Builder
	for i := range 100 {
		piece := strings.Repeat(string(rune('a'+i%26)), i%7)
		all.WriteString(piece)
		_, _ = w.Write([]byte(piece))
	}
	if len(w.buf) > 2*w.limit+6 {
		t.Errorf("kept %d bytes, limit %d", len(w.buf), w.limit)
	}
	if !strings.HasSuffix(all.String(), string(w.buf)) || len(w.buf) < w.limit {
		t.Errorf("kept %q, not the last %d bytes of %q", w.buf, w.limit, all.String())
	}
}
