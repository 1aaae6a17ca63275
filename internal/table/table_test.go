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
