package overlay

import (
	"slices"
	"strings"
	"testing"

	"github.com/kargo-io/kargo/api/v1alpha1"
)

// TestUnused: the variables of an Environment that no render of its Stacks
// read, after the rules of Variables.Unused.
func TestUnused(t *testing.T) {
	redis := []v1alpha1.CatalogService{{Name: "redis"}}
	grafana := []v1alpha1.CatalogService{{Name: "grafana"}}
	patched := func(services []v1alpha1.CatalogService, patch string) *v1alpha1.Stack {
		s := stackOf(services...)
		s.Spec.Patches = []v1alpha1.Patch{{Target: &v1alpha1.PatchTarget{Kind: "Service"}, Patch: patch}}
		return s
	}
	const auth = "AUTH_USER=admin\nAUTH_PASSWORD=hashed\n"
	for _, tc := range []struct {
		name      string
		variables map[string]string
		dotenv    string            // ConfigMap kargo-env key .env, when set
		secret    map[string]string // Secret kargo-secret, key by key, when set
		stacks    []*v1alpha1.Stack
		want      []string
	}{{
		name:      "a variable no entry reads",
		variables: map[string]string{"REDIS_TAG": "6", "REDIS_TAGG": "6"},
		stacks:    []*v1alpha1.Stack{stackOf(redis...)},
		want:      []string{"REDIS_TAGG"},
	}, {
		name:      "a variable read with its default",
		variables: map[string]string{"REDIS_IMAGE": "redis", "REDIS_CONSTRAINTS": "node.role==worker"},
		stacks:    []*v1alpha1.Stack{stackOf(redis...)},
	}, {
		name:   "read through another variable's value",
		dotenv: "DOMAIN=example.org\nSUBDOMAIN=kargo.$DOMAIN\n" + auth + "UNREAD=${DOMAIN}\n",
		stacks: []*v1alpha1.Stack{stackOf(grafana...)},
		want:   []string{"UNREAD"},
	}, {
		name:   "a variable read only by unused ones is unused",
		dotenv: "DOMAIN=example.org\nSUBDOMAIN=kargo.$DOMAIN\n" + auth,
		stacks: []*v1alpha1.Stack{stackOf(redis...)},
		want:   []string{"AUTH_PASSWORD", "AUTH_USER", "DOMAIN", "SUBDOMAIN"},
	}, {
		name: "the old tool's machinery, STACKS and the lists it names",
		dotenv: "DOCKER_SOCKET_NETWORK=kargo-docker-socket\nDOCKER_FRONT_NETWORK=kargo-front\nDOCKER_BACK_NETWORK=kargo-back\n" +
			"DOCKER_HOST_IP=${DOCKER_HOST:6:$((`expr length $DOCKER_HOST`-11))}\nDOCKER_HOST_PORT=${DOCKER_HOST: -4}\n" +
			"STACKS=\"dbs apps my-tools\"\nDBS_STACK=\"mongodb\"\nAPP_STACK=\"kano\"\nMY_TOOLS_STACK=redis\n",
		stacks: []*v1alpha1.Stack{stackOf(redis...)},
		want:   []string{"APP_STACK"}, // STACKS names apps: APPS_STACK
	}, {
		name:      "read by a patch",
		variables: map[string]string{"LOG_LEVEL": "debug", "OTHER": "x"},
		stacks:    []*v1alpha1.Stack{patched(redis, `[{"op": "add", "path": "/spec/env", "value": [{"name": "LOG", "value": "${LOG_LEVEL}"}]}]`)},
		want:      []string{"OTHER"},
	}, {
		name:      "a patch removing what read a variable",
		variables: map[string]string{"REDIS_CONSTRAINTS": "node.role==worker"},
		stacks:    []*v1alpha1.Stack{patched(redis, `[{"op": "remove", "path": "/spec/placement"}]`)},
		want:      []string{"REDIS_CONSTRAINTS"},
	}, {
		name:   "Secret variables: a valueFrom reads it, the others are named",
		secret: map[string]string{"DB_PASSWORD": "s3cret", "OLD_PASSWORD": "0ld"},
		stacks: []*v1alpha1.Stack{patched(redis, `[{"op": "add", "path": "/spec/env", "value": [{"name": "PW", "value": "${DB_PASSWORD}"}]}]`)},
		want:   []string{"OLD_PASSWORD"},
	}, {
		name:      "the Stacks of the Environment together",
		variables: map[string]string{"REDIS_TAG": "6", "SUBDOMAIN": "kargo.example.org", "AUTH_USER": "a", "AUTH_PASSWORD": "b", "MONGODB_TAG": "4.4"},
		stacks:    []*v1alpha1.Stack{stackOf(redis...), stackOf(grafana...)},
		want:      []string{"MONGODB_TAG"},
	}, {
		name:      "a Stack without services reads nothing",
		variables: map[string]string{"REDIS_TAG": "6"},
		stacks:    []*v1alpha1.Stack{stackOf()},
		want:      []string{"REDIS_TAG"},
	}, {
		name:      "a value set again by a .env depends on what the .env line reads",
		variables: map[string]string{"REDIS_TAG": "6", "BASE": "7"},
		dotenv:    "REDIS_TAG=${BASE}-alpine\n",
		stacks:    []*v1alpha1.Stack{stackOf(redis...)},
	}, {
		name:      "a .env value set again by spec.variables depends on nothing",
		dotenv:    "BASE=7\n",
		variables: map[string]string{"REDIS_TAG": "6"},
		stacks:    []*v1alpha1.Stack{stackOf(redis...)},
		want:      []string{"BASE"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			env := &v1alpha1.Environment{Spec: v1alpha1.EnvironmentSpec{Endpoint: v1alpha1.Endpoint{Host: "tcp://10.0.0.1:2376"}, Variables: tc.variables}}
			data := map[string]map[string]string{}
			if tc.dotenv != "" {
				env.Spec.VariablesFrom = append(env.Spec.VariablesFrom, v1alpha1.VariablesSource{ConfigMapRef: &v1alpha1.VariablesReference{Name: "kargo-env", Key: ".env"}})
				data["kargo-env"] = map[string]string{".env": tc.dotenv}
			}
			if tc.secret != nil {
				env.Spec.VariablesFrom = append(env.Spec.VariablesFrom, v1alpha1.VariablesSource{SecretRef: &v1alpha1.VariablesReference{Name: "kargo-secret"}})
				data["kargo-secret"] = tc.secret
			}
			vars, err := EnvironmentVariables(&env.Spec, func(name string, _ bool) (map[string]string, error) {
				if d, ok := data[name]; ok {
					return d, nil
				}
				return nil, ErrNotFound
			})
			if err != nil {
				t.Fatal(err)
			}
			var read []string
			for _, stack := range tc.stacks {
				out, err := Render(Input{Stack: stack, Variables: vars})
				if err != nil {
					t.Fatal(err)
				}
				read = append(read, out.Read...)
			}
			if got := vars.Unused(read); !slices.Equal(got, tc.want) {
				t.Errorf("Unused = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestRenderRecordsReads: Output.Read is what the render looked up, set or
// not, and the Variables given to Render record nothing themselves.
func TestRenderRecordsReads(t *testing.T) {
	vars, err := NewVariables(Source{Origin: "test", Values: map[string]string{"REDIS_TAG": "6"}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := Render(Input{Stack: stackOf(v1alpha1.CatalogService{Name: "redis"}), Variables: vars})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"REDIS_IMAGE", "REDIS_TAG", "REDIS_CONSTRAINTS"} {
		if !slices.Contains(out.Read, name) {
			t.Errorf("Read = %q, want %s in it", out.Read, name)
		}
	}
	if !slices.IsSorted(out.Read) {
		t.Errorf("Read = %q, not sorted", out.Read)
	}
	if vars.read != nil {
		t.Errorf("the caller's Variables recorded %v", vars.read)
	}
}

// TestUnusedMessage: the names in order, cut to the limit with how many
// more there are.
func TestUnusedMessage(t *testing.T) {
	head := "%d variable(s) set but read by no catalog entry or patch of its Stacks: "
	for _, tc := range []struct {
		names []string
		limit int
		want  string
	}{
		{[]string{"A", "B"}, 200, "2 variable(s) set but read by no catalog entry or patch of its Stacks: A, B"},
		{[]string{"ALPHA", "BETA", "GAMMA", "DELTA"}, len(head) + 24, "4 variable(s) set but read by no catalog entry or patch of its Stacks: ALPHA, BETA and 2 more"},
		{[]string{"ALPHA", "BETA"}, 10, "2 variable(s) set but read by no catalog entry or patch of its Stacks: ALPHA and 1 more"},
	} {
		got := UnusedMessage(tc.names, tc.limit)
		if got != tc.want {
			t.Errorf("UnusedMessage(%q, %d) =\n %q\nwant\n %q", tc.names, tc.limit, got, tc.want)
		}
	}
	// A long list stays within the limit.
	var many []string
	for i := 0; i < 500; i++ {
		many = append(many, strings.Repeat("V", 10+i%20))
	}
	if got := UnusedMessage(many, 1000); len(got) > 1000 || !strings.HasSuffix(got, " more") {
		t.Errorf("UnusedMessage of 500 names: %d bytes, ends %q", len(got), got[len(got)-20:])
	}
}
