package overlay

import (
	"reflect"
	"testing"
)

func TestDotenvAssignments(t *testing.T) {
	content := "# comment\nA=1\nexport B=\"two\nlines\" # note\n\nC='x' D=4\nnot a statement\nE:5\n"
	got := DotenvAssignments(content)
	want := []DotenvAssignment{
		{Name: "A", FirstLine: 2, LastLine: 2},
		{Name: "B", FirstLine: 3, LastLine: 4},
		{Name: "C", FirstLine: 6, LastLine: 6},
		{Name: "D", FirstLine: 6, LastLine: 6},
		{Name: "E", FirstLine: 8, LastLine: 8},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DotenvAssignments:\n got %+v\nwant %+v", got, want)
	}
}
