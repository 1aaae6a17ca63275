package overlay

import (
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/kargo-io/kargo/config/catalog"
)

// SecretVariable is the old tool's variable behind one Swarm secret an
// entry declares: the old compose file passed the value in the environment
// (APP_SECRET=${KANO_APP_SECRET}); the entry reads it from the secret, which
// the Stack declares from a Secret key. kargo convert workspace reads
// these variables into that Secret.
type SecretVariable struct {
	// Entry declaring the secret.
	Entry string
	// Secret is the secret's name in the entry (spec.secrets[].name).
	Secret string
	// Variable is the old tool's variable holding the value; "" when the old
	// file had none (the entry adds the secret), e.g. Grafana's admin
	// password, which the old tool left at Grafana's default.
	Variable string
}

// secretVariables lists every secret an entry declares. TestSecretVariables
// checks that it matches the entries.
var secretVariables = []SecretVariable{
	{Entry: "arome-france-high-loader", Secret: "weacast-arome-france-high-token", Variable: "AROME_FRANCE_HIGH_LOADER_TOKEN"},
	{Entry: "arome-france-loader", Secret: "weacast-arome-france-token", Variable: "AROME_FRANCE_LOADER_TOKEN"},
	{Entry: "arpege-europe-loader", Secret: "weacast-arpege-europe-token", Variable: "ARPEGE_EUROPE_LOADER_TOKEN"},
	{Entry: "arpege-world-loader", Secret: "weacast-arpege-world-token", Variable: "ARPEGE_WORLD_LOADER_TOKEN"},
	{Entry: "geoserver", Secret: "geoserver-password", Variable: "GEOSERVER_ADMIN_PASSWORD"},
	{Entry: "grafana", Secret: "grafana-admin-password", Variable: "GRAFANA_ADMIN_PASSWORD"},
	{Entry: "kano", Secret: "kano-app-secret", Variable: "KANO_APP_SECRET"},
	{Entry: "kano", Secret: "kano-cesium-token", Variable: "KANO_CESIUM_TOKEN"},
	{Entry: "kapture", Secret: "kapture-kano-jwt", Variable: "KAPTURE_KANO_JWT"},
	{Entry: "kontrol", Secret: "kontrol-slack-webhook-url", Variable: "KONTROL_SLACK_WEBHOOK_URL"},
	{Entry: "logspout", Secret: "logspout-slack-webhook-url", Variable: "LOGSPOUT_SLACK_WEBHOOK_URL"},
	{Entry: "mariadb", Secret: "mariadb-password", Variable: "MARIADB_ROOT_PASSWORD"},
	{Entry: "meteoradar", Secret: "k-meteoradar-s3-secret-access-key", Variable: "METEORADAR_S3_SECRET_ACCESS_KEY"},
	{Entry: "openradiation", Secret: "k-openradiation-key", Variable: "OPENRADIATION_KEY"},
	{Entry: "postgis", Secret: "postgis-password", Variable: "POSTGIS_ROOT_PASSWORD"},
	{Entry: "weacast", Secret: "weacast-app-secret", Variable: "WEACAST_APP_SECRET"},
}

// SecretVariablesOf returns the secrets an entry (or an alias of one)
// declares, with the old variables behind them.
func SecretVariablesOf(entry string) []SecretVariable {
	entry = Resolve(entry)
	var out []SecretVariable
	for _, sv := range secretVariables {
		if sv.Entry == entry {
			out = append(out, sv)
		}
	}
	return out
}

// secretLikeName matches the names of variables that hold credentials.
var secretLikeName = regexp.MustCompile(`(PASSWORD|SECRET|TOKEN|JWT|WEBHOOK_URL|ACCESS_KEY)`)

// IsSecretVariable tells whether a variable of the old tool's .env holds a
// credential that Kargo keeps in a Secret: the variable behind an entry's
// secret, or a credential-like name (…_PASSWORD, …_SECRET, …_TOKEN, …_JWT,
// …_WEBHOOK_URL, …_ACCESS_KEY) that every entry reading it reads as a whole
// env value, which a Secret-sourced variable can be (it becomes a
// valueFrom). AUTH_PASSWORD is not one: it goes into Traefik labels (it is
// a hash, as the old tool required).
func IsSecretVariable(name string) (bool, error) {
	for _, sv := range secretVariables {
		if sv.Variable == name {
			return true, nil
		}
	}
	if !secretLikeName.MatchString(name) {
		return false, nil
	}
	whole, err := readOnlyAsWholeEnvValue(name)
	if err != nil {
		return false, err
	}
	return whole, nil
}

// readOnlyAsWholeEnvValue tells whether no entry reads the variable other
// than as the whole value of an env variable ("${NAME}" or "${NAME:-…}").
func readOnlyAsWholeEnvValue(name string) (bool, error) {
	wholeValue := regexp.MustCompile(`^\$\{` + name + `(:?[-?][^}]*)?\}$`)
	reference := regexp.MustCompile(`\$\{?` + name + `\b`)
	entries, err := Entries()
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		spec, text, err := entrySpec(e.Name)
		if err != nil {
			return false, err
		}
		inEnv := 0
		for _, env := range listOfMaps(spec["env"]) {
			if value, _ := env["value"].(string); wholeValue.MatchString(value) {
				inEnv++
			}
		}
		if len(reference.FindAllIndex(text, -1)) > inEnv {
			return false, nil
		}
	}
	return true, nil
}

// entrySpec reads the spec of an entry's service.yaml as written (not
// rendered: fields hold ${...} text), and returns it with the file's text,
// comments excluded.
func entrySpec(entry string) (map[string]any, []byte, error) {
	data, err := fs.ReadFile(catalog.FS, entry+"/service.yaml")
	if err != nil {
		return nil, nil, err
	}
	var body []string
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			body = append(body, line)
		}
	}
	text := []byte(strings.Join(body, "\n"))
	var obj struct {
		Spec map[string]any `json:"spec"`
	}
	if err := yaml.Unmarshal(text, &obj); err != nil {
		return nil, nil, fmt.Errorf("catalog entry %s: %w", entry, err)
	}
	return obj.Spec, text, nil
}

// listOfMaps returns the maps of a YAML list.
func listOfMaps(v any) []map[string]any {
	list, _ := v.([]any)
	var out []map[string]any
	for _, item := range list {
		if m, ok := item.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// entrySecrets lists the secrets an entry's service.yaml declares, sorted.
func entrySecrets(entry string) ([]string, error) {
	spec, _, err := entrySpec(entry)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range listOfMaps(spec["secrets"]) {
		if name, ok := s["name"].(string); ok {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out, nil
}
