// Package table writes aligned text tables, as kubectl prints them:
// columns separated by two spaces, no space at the end of a line (a row
// whose last cells are empty ends at its last value).
package table

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// Writer takes rows of tab-separated cells, each ending with a new line,
// and writes them aligned on Flush.
type Writer struct {
	out io.Writer
	buf bytes.Buffer
	tw  *tabwriter.Writer
}

// New is a Writer to out.
func New(out io.Writer) *Writer {
	w := &Writer{out: out}
	w.tw = tabwriter.NewWriter(&w.buf, 0, 0, 2, ' ', 0)
	return w
}

// Write takes cells: tabs separate them, new lines end rows.
func (w *Writer) Write(p []byte) (int, error) { return w.tw.Write(p) }

// Row writes one row of cells. A new line in the last cell continues it on
// lines of their own under its column (a job's output, say); one in another
// cell becomes a space, so that no row is cut short.
func (w *Writer) Row(cells ...string) error {
	cells = slices.Clone(cells) // the caller's stay as they were
	for i, c := range cells[:len(cells)-1] {
		cells[i] = strings.ReplaceAll(c, "\n", " ")
	}
	indent := "\n" + strings.Repeat("\t", len(cells)-1)
	last := strings.TrimRight(cells[len(cells)-1], "\n")
	cells[len(cells)-1] = strings.ReplaceAll(last, "\n", indent)
	_, err := io.WriteString(w.tw, strings.Join(cells, "\t")+"\n")
	return err
}

// Flush writes the rows, aligned.
func (w *Writer) Flush() error {
	if err := w.tw.Flush(); err != nil {
		return err
	}
	var out strings.Builder
	for line := range strings.Lines(w.buf.String()) {
		out.WriteString(strings.TrimRight(line, " \n"))
		out.WriteByte('\n')
	}
	w.buf.Reset()
	_, err := io.WriteString(w.out, out.String())
	return err
}

// OrDash is the cell of a value: "-" when it is empty, so that a column
// never looks shifted.
func OrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
