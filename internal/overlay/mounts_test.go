package overlay

import (
	"strings"
	"testing"

	"github.com/kargo-io/kargo/api/v1alpha1"
)

// TestVolumePath: the *_VOLUME_PATH variables of the old tool, empty by
// default, give the named volume; a directory, the bind mount of that
// directory's <name>_data; anything else is an error naming the variable.
// A mount with a type (a patch's) keeps it.
func TestVolumePath(t *testing.T) {
	for _, tc := range []struct {
		name      string
		entry     string
		variables map[string]string
		patch     string // a strategic merge patch of the entry's Service, when set
		want      []string
		wantErr   string
	}{
		{name: "postgis, unset", entry: "postgis", want: []string{"postgis: volume postgis_data /var/lib/postgresql/data"}},
		{name: "postgis, empty", entry: "postgis", variables: map[string]string{"POSTGIS_VOLUME_PATH": ""}, want: []string{"postgis: volume postgis_data /var/lib/postgresql/data"}},
		{name: "postgis, a directory", entry: "postgis", variables: map[string]string{"POSTGIS_VOLUME_PATH": "/mnt/data/"}, want: []string{"postgis: bind /mnt/data/postgis_data /var/lib/postgresql/data"}},
		{name: "mariadb, a directory", entry: "mariadb", variables: map[string]string{"MARIADB_VOLUME_PATH": "/srv/"}, want: []string{"mariadb: bind /srv/mariadb_data /var/lib/mysql"}},
		// as the old tool: the prefix is concatenated as is
		{name: "redis, no trailing slash", entry: "redis", variables: map[string]string{"REDIS_VOLUME_PATH": "/mnt/data"}, want: []string{"redis: bind /mnt/dataredis_data /data"}},
		{name: "redis, unset", entry: "redis", want: []string{"redis: volume redis_data /data"}},
		{name: "mongors, a directory", entry: "mongors", variables: map[string]string{"MONGORS_VOLUME_PATH": "/mnt/db/", "MONGORS_MEMBERS": "2"}, want: []string{
			"mongors0: bind /mnt/db/mongors0_data /data/db",
			"mongors1: bind /mnt/db/mongors1_data /data/db",
		}},
		{name: "mongors, unset", entry: "mongors", variables: map[string]string{"MONGORS_MEMBERS": "1"}, want: []string{"mongors0: volume mongors0_data /data/db"}},
		{
			name: "a relative directory", entry: "postgis", variables: map[string]string{"POSTGIS_VOLUME_PATH": "data/"},
			wantErr: `service postgis: spec.mounts[0].source: "data/postgis_data" is neither an absolute host path (a bind mount) nor a volume name ("${POSTGIS_VOLUME_PATH:-}postgis_data" with POSTGIS_VOLUME_PATH: a directory prefix must be absolute, e.g. /mnt/data/)`,
		},
		{
			name: "a patch's mount without type follows the same rule", entry: "redis",
			patch: "apiVersion: swarm.kargo.io/v1alpha1\nkind: Service\nmetadata: {name: redis}\nspec:\n  mounts:\n    - {source: /var/backups, target: /backups}\n",
			want:  []string{"redis: bind /var/backups /backups", "redis: volume redis_data /data"},
		},
		{
			name: "a patch's type wins", entry: "redis", variables: map[string]string{"REDIS_VOLUME_PATH": "/mnt/data/"},
			patch: "apiVersion: swarm.kargo.io/v1alpha1\nkind: Service\nmetadata: {name: redis}\nspec:\n  mounts:\n    - {type: volume, source: redis_data, target: /data}\n",
			want:  []string{"redis: volume redis_data /data"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vars, err := NewVariables(Source{Origin: "test", Values: tc.variables})
			if err != nil {
				t.Fatal(err)
			}
			stack := stackOf(v1alpha1.CatalogService{Name: tc.entry})
			if tc.patch != "" {
				stack.Spec.Patches = []v1alpha1.Patch{{Patch: tc.patch}}
			}
			out, err := Render(Input{Stack: stack, Variables: vars})
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error:\n got %v\nwant %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, svc := range out.Services {
				for _, m := range svc.Spec.Mounts {
					got = append(got, svc.Name+": "+m.Type+" "+m.Source+" "+m.Target)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("mounts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestVolumePathGolden renders the entries of the *_VOLUME_PATH convention
// with the variables set, as a migrated workspace that had set them.
func TestVolumePathGolden(t *testing.T) {
	vars, err := NewVariables(Source{Origin: "test", Values: map[string]string{
		"POSTGIS_VOLUME_PATH": "/mnt/data0/", "MARIADB_VOLUME_PATH": "/mnt/data0/", "REDIS_VOLUME_PATH": "/mnt/data0/",
		"MONGORS_VOLUME_PATH": "/mnt/data0/",
	}})
	if err != nil {
		t.Fatal(err)
	}
	stack := stackOf(v1alpha1.CatalogService{Name: "postgis"}, v1alpha1.CatalogService{Name: "mariadb"}, v1alpha1.CatalogService{Name: "redis"}, v1alpha1.CatalogService{Name: "mongors"})
	out, err := Render(Input{Stack: stack, Variables: vars})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "volume-path", printOutput(t, out))
}
