package diff

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCompare(t *testing.T) {
	tests := []struct {
		name         string
		live, merged string
		redact       Redactor
		want         []string
	}{
		{name: "equal", live: `{"a":1,"b":["x"]}`, merged: `{"b":["x"],"a":1}`, want: nil},
		{name: "scalar changed", live: `{"spec":{"image":"a:1"}}`, merged: `{"spec":{"image":"a:2"}}`,
			want: []string{`spec.image: "a:1" → "a:2"`}},
		{name: "field added and removed", live: `{"spec":{"user":"root"}}`, merged: `{"spec":{"replicas":2}}`,
			want: []string{`spec.replicas: (none) → 2`, `spec.user: "root" → (none)`}},
		{name: "env matched by name, not position",
			live:   `{"spec":{"env":[{"name":"A","value":"1"},{"name":"LOG_LEVEL","value":"info"}]}}`,
			merged: `{"spec":{"env":[{"name":"LOG_LEVEL","value":"debug"},{"name":"A","value":"1"}]}}`,
			want:   []string{`spec.env[LOG_LEVEL].value: "info" → "debug"`}},
		{name: "named element added, leaf by leaf",
			live:   `{"env":[{"name":"A","value":"1"}]}`,
			merged: `{"env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]}`,
			want:   []string{`env[B].name: (none) → "B"`, `env[B].value: (none) → "2"`}},
		{name: "ports matched by target", live: `{"ports":[{"target":80,"published":8080}]}`, merged: `{"ports":[{"target":80,"published":8081}]}`,
			want: []string{`ports[80].published: 8080 → 8081`}},
		{name: "unnamed list by position", live: `{"args":["-v","x"]}`, merged: `{"args":["-v","y","z"]}`,
			want: []string{`args[1]: "x" → "y"`, `args[2]: (none) → "z"`}},
		{name: "duplicate names fall back to positions", live: `{"l":[{"name":"a","v":1},{"name":"a","v":2}]}`, merged: `{"l":[{"name":"a","v":1},{"name":"a","v":3}]}`,
			want: []string{`l[1].v: 2 → 3`}},
		{name: "map on one side only", live: `{}`, merged: `{"spec":{"resources":{"limits":{"memory":"64Mi"}}}}`,
			want: []string{`spec.resources.limits.memory: (none) → "64Mi"`}},
		{name: "label keys with dots are quoted", live: `{"labels":{"swarm.kargo.io/stack":"a"}}`, merged: `{"labels":{"swarm.kargo.io/stack":"b"}}`,
			want: []string{`labels["swarm.kargo.io/stack"]: "a" → "b"`}},
		{name: "type changed", live: `{"a":{"b":1}}`, merged: `{"a":"x"}`,
			want: []string{`a: {"b":1} → "x"`}},
		{name: "secret data redacted", live: `{"data":{"password":"b2xk"}}`, merged: `{"data":{"password":"bmV3","user":"dXNy"}}`,
			redact: Under("data", "stringData"),
			want:   []string{`data.password: <redacted> → <redacted>`, `data.user: (none) → <redacted>`}},
		{name: "redaction is by path prefix, not by substring", live: `{"database":"a","data":{"k":"s"}}`, merged: `{"database":"b","data":{"k":"t"}}`,
			redact: Under("data"),
			want:   []string{`data.k: <redacted> → <redacted>`, `database: "a" → "b"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var live, merged any
			if err := json.Unmarshal([]byte(tt.live), &live); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tt.merged), &merged); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range Compare(live, merged) {
				got = append(got, f.Format(tt.redact))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestCompareKeyed(t *testing.T) {
	live := map[string]any{"Env": Keyed{"LOG_LEVEL": "info", "PW": "old-s3cret"}}
	merged := map[string]any{"Env": Keyed{"LOG_LEVEL": "debug", "PW": "new-s3cret"}}
	var got []string
	for _, f := range Compare(live, merged) {
		got = append(got, f.Format(Under("Env[PW]")))
	}
	want := `Env[LOG_LEVEL]: "info" → "debug"` + "\n" + `Env[PW]: <redacted> → <redacted>`
	if strings.Join(got, "\n") != want {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), want)
	}
}
