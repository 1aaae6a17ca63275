package overlay

import (
	"os"
	"testing"

	"github.com/kargo-io/kargo/api/v1alpha1"
)

// dotenvEnvironment is an Environment on endpoint host whose variablesFrom
// read the keys of ConfigMap kargo-env in order, each a whole .env file.
func dotenvEnvironment(host string, variables map[string]string, keys ...string) *v1alpha1.Environment {
	env := &v1alpha1.Environment{Spec: v1alpha1.EnvironmentSpec{Endpoint: v1alpha1.Endpoint{Host: host}, Variables: variables}}
	for _, key := range keys {
		env.Spec.VariablesFrom = append(env.Spec.VariablesFrom, v1alpha1.VariablesSource{
			ConfigMapRef: &v1alpha1.VariablesReference{Name: "kargo-env", Key: key},
		})
	}
	return env
}

func configMapGetter(data map[string]string) DataGetter {
	return func(name string, secret bool) (map[string]string, error) {
		if name != "kargo-env" || secret {
			return nil, ErrNotFound
		}
		return data, nil
	}
}

func checkVariables(t *testing.T, vars *Variables, want map[string]string) {
	t.Helper()
	for name, w := range want {
		if got, ok := vars.Lookup(name); !ok || got != w {
			t.Errorf("%s = %q (set: %v), want %q", name, got, ok, w)
		}
	}
}

// TestEnvironmentDockerHost: DOCKER_HOST is the endpoint's host unless a
// source sets it, so the old DOCKER_HOST_IP/DOCKER_HOST_PORT lines work.
func TestEnvironmentDockerHost(t *testing.T) {
	get := configMapGetter(map[string]string{".env": "DOCKER_HOST_IP=${DOCKER_HOST:6:$((`expr length $DOCKER_HOST`-11))}\nDOCKER_HOST_PORT=${DOCKER_HOST: -4}\n"})

	vars, err := EnvironmentVariables(&dotenvEnvironment("tcp://10.0.0.1:2376", nil, ".env").Spec, get)
	if err != nil {
		t.Fatal(err)
	}
	checkVariables(t, vars, map[string]string{"DOCKER_HOST": "tcp://10.0.0.1:2376", "DOCKER_HOST_IP": "10.0.0.1", "DOCKER_HOST_PORT": "2376"})

	vars, err = EnvironmentVariables(&dotenvEnvironment("tcp://10.0.0.1:2376", map[string]string{"DOCKER_HOST": "tcp://192.168.1.20:2376"}, ".env").Spec, get)
	if err != nil {
		t.Fatal(err)
	}
	checkVariables(t, vars, map[string]string{"DOCKER_HOST": "tcp://192.168.1.20:2376", "DOCKER_HOST_IP": "192.168.1.20", "DOCKER_HOST_PORT": "2376"})

	_, err = EnvironmentVariables(&dotenvEnvironment("", nil, ".env").Spec, get)
	if want := "spec.variablesFrom[0] (ConfigMap kargo-env key .env): line 1: variable DOCKER_HOST is not set and has no default"; err == nil || err.Error() != want {
		t.Errorf("no endpoint host:\n got %v\nwant %s", err, want)
	}
}

// TestOldToolEnvFiles loads the old tool's own .env.default then
// .env.sample (testdata/oldtool), as a migrating team would put them in a
// ConfigMap, on a tcp:// endpoint.
func TestOldToolEnvFiles(t *testing.T) {
	data := map[string]string{}
	for _, name := range []string{".env.default", ".env.sample"} {
		b, err := os.ReadFile("testdata/oldtool/" + name)
		if err != nil {
			t.Fatal(err)
		}
		data[name] = string(b)
	}
	get := configMapGetter(data)

	// The old tool's kargo script exported KARGO_USER_ID and
	// KARGO_GROUP_ID; neither file defines them, so the THREDDS lines of
	// .env.default do not load as they are.
	_, err := EnvironmentVariables(&dotenvEnvironment("tcp://10.0.0.1:2376", nil, ".env.default", ".env.sample").Spec, get)
	if want := "spec.variablesFrom[0] (ConfigMap kargo-env key .env.default): line 240: variable KARGO_USER_ID is not set and has no default"; err == nil || err.Error() != want {
		t.Errorf("as they are:\n got %v\nwant %s", err, want)
	}
	_, err = EnvironmentVariables(&dotenvEnvironment("tcp://10.0.0.1:2376", map[string]string{"KARGO_USER_ID": "1000"}, ".env.default", ".env.sample").Spec, get)
	if want := "spec.variablesFrom[0] (ConfigMap kargo-env key .env.default): line 241: variable KARGO_GROUP_ID is not set and has no default"; err == nil || err.Error() != want {
		t.Errorf("without KARGO_GROUP_ID:\n got %v\nwant %s", err, want)
	}

	// With the two ids in spec.variables, every line of both files loads.
	ids := map[string]string{"KARGO_USER_ID": "1000", "KARGO_GROUP_ID": "1001"}
	vars, err := EnvironmentVariables(&dotenvEnvironment("tcp://10.0.0.1:2376", ids, ".env.default", ".env.sample").Spec, get)
	if err != nil {
		t.Fatal(err)
	}
	checkVariables(t, vars, map[string]string{
		"DOCKER_HOST_IP":       "10.0.0.1",
		"DOCKER_HOST_PORT":     "2376",
		"DOCKER_FRONT_NETWORK": "kargo-front",
		"THREDDS_USER_ID":      "1000",
		"THREDDS_GROUP_ID":     "1001",
		"THREDDS_CONSTRAINTS":  "node.role==worker node.labels.thredds==true",
		"CENTIPEDE_CRON":       "0 */5 * * * *",
		"ADMINER_PLUGINS":      "",
		"HUBEAU_STATIONS_TAG":  "stations-1.2.0",
		"MONGODB_IMAGE":        "mongo",
		"MAPCACHE_REPLICAS":    "2",
		// .env.sample: placeholders load as text, as compose reads them
		"DOMAIN":             "your-domain (i.e. kalisio.xyz)",
		"SUBDOMAIN":          "kargo.your-domain (i.e. kalisio.xyz) (kargo.kalisio.xyz)",
		"DB_URL":             "mongodb://mongodb:27017/kargo",
		"STACKS":             "dbs services ows weacast hydro air apps",
		"KANO_LAYERS_FILTER": "*", // the second assignment, without its comment
	})
}
