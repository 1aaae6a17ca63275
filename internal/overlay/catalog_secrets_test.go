package overlay

import (
	"slices"
	"testing"
)

// TestSecretVariables checks the table of old variables behind the entries'
// secrets against the entries: every secret an entry declares has a row,
// and every row names a secret its entry declares.
func TestSecretVariables(t *testing.T) {
	entries, err := Entries()
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, e := range entries {
		declared, err := entrySecrets(e.Name)
		if err != nil {
			t.Fatal(err)
		}
		var listed []string
		for _, sv := range SecretVariablesOf(e.Name) {
			listed = append(listed, sv.Secret)
			rows++
		}
		slices.Sort(listed)
		if !slices.Equal(declared, listed) {
			t.Errorf("entry %s declares secrets %v, the table lists %v", e.Name, declared, listed)
		}
	}
	if rows != len(secretVariables) {
		t.Errorf("the table has %d rows, %d belong to an entry", len(secretVariables), rows)
	}
}

func TestIsSecretVariable(t *testing.T) {
	for name, want := range map[string]bool{
		"POSTGIS_ROOT_PASSWORD":                true, // behind postgis-password
		"KANO_APP_SECRET":                      true,
		"SLACK_WEBHOOK_URL":                    true, // whole env values only
		"WEACAST_LOADERS_S3_SECRET_ACCESS_KEY": true,
		"AUTH_PASSWORD":                        false, // in Traefik labels
		"AUTH_USER":                            false,
		"MONGODB_TAG":                          false,
		"SECRET":                               true, // read by no entry
	} {
		got, err := IsSecretVariable(name)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("IsSecretVariable(%s) = %v, want %v", name, got, want)
		}
	}
}
