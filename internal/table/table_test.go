package table

import (
	"bytes"
	"fmt"
	"testing"
)

func TestWriter(t *testing.T) {
	var out bytes.Buffer
	w := New(&out)
	fmt.Fprintln(w, "NAME\tPHASE\tMESSAGE")
	fmt.Fprintln(w, "a\tSucceeded\t")
	fmt.Fprintln(w, "longer-name\t\t")
	fmt.Fprintln(w, "b\tFailed\tit broke")
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "NAME         PHASE      MESSAGE\n" +
		"a            Succeeded\n" +
		"longer-name\n" +
		"b            Failed     it broke\n"
	if out.String() != want {
		t.Errorf("got\n%q\nwant\n%q", out.String(), want)
	}
}

// TestRow: lines of a last cell stay under its column; a new line in
// another cell does not cut its row.
func TestRow(t *testing.T) {
	var out bytes.Buffer
	w := New(&out)
	for _, row := range [][]string{
		{"STEP", "PHASE", "MESSAGE"},
		{"Verify", "Succeeded", "job succeeded: checked\nall good\n"},
		{"Done", "Failed\nagain", "-"},
	} {
		if err := w.Row(row...); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "STEP    PHASE         MESSAGE\n" +
		"Verify  Succeeded     job succeeded: checked\n" +
		"                      all good\n" +
		"Done    Failed again  -\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}
