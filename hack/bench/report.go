package main

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// table is the side-by-side result: one row per figure, then notes on
// where the time went.
type table struct {
	title string
	rows  [][4]string
	notes []string
}

// compare adds a row of two durations and their ratio kargo/docker.
func (t *table) compare(what string, kargo, docker time.Duration) {
	t.rows = append(t.rows, [4]string{what, seconds(kargo), seconds(docker), fmt.Sprintf("%.2f", kargo.Seconds()/docker.Seconds())})
}

// count adds a row of two counts (docker's may be "-": not applicable).
func (t *table) count(what string, kargo, docker string) {
	t.rows = append(t.rows, [4]string{what, kargo, docker, ""})
}

func (t *table) note(format string, args ...any) {
	n := fmt.Sprintf(format, args...)
	t.notes = append(t.notes, n)
	progress("%s", n)
}

var began = time.Now()

// progress tells on stderr what the bench is doing, with the time since it began.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%6.1fs] %s\n", time.Since(began).Seconds(), fmt.Sprintf(format, args...))
}

func seconds(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

func (t *table) String() string {
	header := [4]string{"", "kargo", "docker", "kargo/docker"}
	width := [4]int{}
	for _, r := range append([][4]string{header}, t.rows...) {
		for i, c := range r {
			width[i] = max(width[i], len(c))
		}
	}
	var b strings.Builder
	b.WriteString(t.title + "\n\n")
	line := func(r [4]string) {
		fmt.Fprintf(&b, "| %-*s | %*s | %*s | %*s |\n", width[0], r[0], width[1], r[1], width[2], r[2], width[3], r[3])
	}
	line(header)
	fmt.Fprintf(&b, "|%s|%s:|%s:|%s:|\n", strings.Repeat("-", width[0]+2), strings.Repeat("-", width[1]+1), strings.Repeat("-", width[2]+1), strings.Repeat("-", width[3]+1))
	for _, r := range t.rows {
		line(r)
	}
	if len(t.notes) > 0 {
		b.WriteString("\nWhere the time went:\n")
		for _, n := range t.notes {
			b.WriteString("- " + n + "\n")
		}
	}
	return b.String()
}
