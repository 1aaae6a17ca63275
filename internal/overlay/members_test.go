package overlay

import (
	"slices"
	"strings"
	"testing"

	"github.com/kargo-io/kargo/api/v1alpha1"
)

// TestMembers: a swarm.kargo.io/members template (the mongors entries)
// renders one Service per member, named, mounted and placed after the
// member's index; a bad number of members is an error naming the variable.
func TestMembers(t *testing.T) {
	rs := v1alpha1.CatalogService{Name: "mongors"}
	exporter := v1alpha1.CatalogService{Name: "mongors-exporter"}
	for _, tc := range []struct {
		name      string
		variables map[string]string
		services  []v1alpha1.CatalogService
		patch     string // a JSON patch of the Service mongors, when set
		want      map[string]string
		wantErr   string
	}{{
		name:      "three members by default (empty is unset, as compose reads ${VAR:-3})",
		variables: map[string]string{"MONGORS_MEMBERS": ""},
		services:  []v1alpha1.CatalogService{rs, exporter},
		want: map[string]string{
			"mongors0": "mongod --config /etc/mongo/mongod.conf --replSet mongors|mongors0_data|node.labels.mongors0==true",
			"mongors1": "mongod --config /etc/mongo/mongod.conf --replSet mongors|mongors1_data|node.labels.mongors1==true",
			"mongors2": "mongod --config /etc/mongo/mongod.conf --replSet mongors|mongors2_data|node.labels.mongors2==true",
			// the exporters follow the same variable
			"mongors0-exporter": "--mongodb.uri=mongodb://mongors0 --collect.collection||node.labels.mongors0==true",
			"mongors1-exporter": "--mongodb.uri=mongodb://mongors1 --collect.collection||node.labels.mongors1==true",
			"mongors2-exporter": "--mongodb.uri=mongodb://mongors2 --collect.collection||node.labels.mongors2==true",
		},
	}, {
		name:      "five members of another name",
		variables: map[string]string{"MONGORS_MEMBERS": "5", "MONGORS_NAME": "rs"},
		services:  []v1alpha1.CatalogService{rs},
		want: map[string]string{
			"rs0": "mongod --config /etc/mongo/mongod.conf --replSet rs|rs0_data|node.labels.rs0==true",
			"rs1": "mongod --config /etc/mongo/mongod.conf --replSet rs|rs1_data|node.labels.rs1==true",
			"rs2": "mongod --config /etc/mongo/mongod.conf --replSet rs|rs2_data|node.labels.rs2==true",
			"rs3": "mongod --config /etc/mongo/mongod.conf --replSet rs|rs3_data|node.labels.rs3==true",
			"rs4": "mongod --config /etc/mongo/mongod.conf --replSet rs|rs4_data|node.labels.rs4==true",
		},
	}, {
		name:      "one member; a patch of the template reaches every member and reads its index",
		variables: map[string]string{"MONGORS_MEMBERS": " 1 "},
		services:  []v1alpha1.CatalogService{rs},
		patch:     `[{"op": "replace", "path": "/spec/args/4", "value": "set-${MEMBER_INDEX}"}]`,
		want:      map[string]string{"mongors0": "mongod --config /etc/mongo/mongod.conf --replSet set-0|mongors0_data|node.labels.mongors0==true"},
	}, {
		name:      "seven members at most",
		variables: map[string]string{"MONGORS_MEMBERS": "8"},
		services:  []v1alpha1.CatalogService{rs},
		wantErr:   `service mongors: variable MONGORS_MEMBERS: "8" is not a number of members from 1 to 7`,
	}, {
		name:      "at least one",
		variables: map[string]string{"MONGORS_MEMBERS": "0"},
		services:  []v1alpha1.CatalogService{exporter},
		wantErr:   `service mongors-exporter: variable MONGORS_MEMBERS: "0" is not a number of members from 1 to 7`,
	}, {
		name:      "not a number",
		variables: map[string]string{"MONGORS_MEMBERS": "three"},
		services:  []v1alpha1.CatalogService{rs},
		wantErr:   `service mongors: variable MONGORS_MEMBERS: "three" is not a number of members from 1 to 7`,
	}, {
		name:      "a sign",
		variables: map[string]string{"MONGORS_MEMBERS": "-1"},
		services:  []v1alpha1.CatalogService{rs},
		wantErr:   `service mongors: variable MONGORS_MEMBERS: "-1" is not a number of members from 1 to 7`,
	}, {
		name:     "two templates rendering the same members",
		services: []v1alpha1.CatalogService{exporter, {Name: "exporter-copy", Catalog: "mongors-exporter"}},
		wantErr:  "renders a Service named mongors0-exporter, as service",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			vars, err := NewVariables(Source{Origin: "test", Values: tc.variables})
			if err != nil {
				t.Fatal(err)
			}
			stack := stackOf(tc.services...)
			if tc.patch != "" {
				stack.Spec.Patches = []v1alpha1.Patch{{Target: &v1alpha1.PatchTarget{Kind: "Service", Name: "mongors"}, Patch: tc.patch}}
			}
			out, err := Render(Input{Stack: stack, Variables: vars})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, svc := range out.Services {
				var volumes []string
				for _, m := range svc.Spec.Mounts {
					volumes = append(volumes, m.Source)
				}
				got[svc.Name] = strings.Join(svc.Spec.Args, " ") + "|" + strings.Join(volumes, ",") + "|" + strings.Join(svc.Spec.Placement.Constraints, ",")
				if len(svc.Annotations) > 0 {
					t.Errorf("member %s keeps annotations %v", svc.Name, svc.Annotations)
				}
			}
			if len(got) != len(tc.want) {
				t.Errorf("rendered %d services, want %d: %v", len(got), len(tc.want), got)
			}
			for name, want := range tc.want {
				if got[name] != want {
					t.Errorf("%s: %q, want %q", name, got[name], want)
				}
			}
			if !slices.Contains(out.Read, "MONGORS_MEMBERS") {
				t.Errorf("Read = %q lacks MONGORS_MEMBERS", out.Read)
			}
		})
	}
}

// TestMembersMemoryLimit: MONGORS_MEMORY_LIMIT empty (its default) is no
// limit, set it is each member's.
func TestMembersMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		value, want string
	}{{"", ""}, {"2Gi", "2Gi"}} {
		vars, err := NewVariables(Source{Origin: "test", Values: map[string]string{"MONGORS_MEMORY_LIMIT": tc.value}})
		if err != nil {
			t.Fatal(err)
		}
		out, err := Render(Input{Stack: stackOf(v1alpha1.CatalogService{Name: "mongors"}), Variables: vars})
		if err != nil {
			t.Fatalf("MONGORS_MEMORY_LIMIT=%q: %v", tc.value, err)
		}
		for _, svc := range out.Services {
			got := ""
			if r := svc.Spec.Resources; r != nil && r.Limits != nil && r.Limits.Memory != nil {
				got = r.Limits.Memory.String()
			}
			if got != tc.want {
				t.Errorf("MONGORS_MEMORY_LIMIT=%q: %s limits memory to %q, want %q", tc.value, svc.Name, got, tc.want)
			}
		}
	}
}
