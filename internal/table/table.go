// Package table writes aligned text tables, as kubectl prints them:
// columns separated by two spaces, no space at the end of a line (a row
// whose last cells are empty ends at its last value).
package table

import (
	"bytes"
	"io"
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
