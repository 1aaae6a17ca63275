package overlay

import (
	"fmt"
	"regexp"
	"strings"
)

// A catalog mount may leave its type out: the render then takes it from the
// substituted source, as the old tool's ${X_VOLUME_PATH}x_data did in
// compose's short syntax: an absolute path is a bind mount of that host
// path, a name is a named volume (no source: an anonymous volume). So
//
//	mounts:
//	  - {source: "${POSTGIS_VOLUME_PATH:-}postgis_data", target: /var/lib/postgresql/data}
//
// mounts the volume postgis_data while POSTGIS_VOLUME_PATH is empty, and
// binds /mnt/data/postgis_data when it is /mnt/data/. A mount with a type
// keeps it.

// volumeNamePattern is what Docker accepts as a volume name.
var volumeNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// variableName finds the variables a string reads.
var variableName = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)`)

// untypedMounts returns, by index, the unsubstituted source of each mount
// of a Service that has no type.
func untypedMounts(obj map[string]any) map[int]string {
	spec, _ := obj["spec"].(map[string]any)
	mounts, _ := spec["mounts"].([]any)
	out := map[int]string{}
	for i, item := range mounts {
		m, _ := item.(map[string]any)
		if typ, _ := m["type"].(string); m != nil && typ == "" {
			source, _ := m["source"].(string)
			out[i] = source
		}
	}
	return out
}

// resolveMountTypes sets the type of the mounts untypedMounts found, from
// their substituted source. A source that is neither an absolute path nor a
// volume name is an error naming the variables it was made of.
func resolveMountTypes(obj map[string]any, raw map[int]string) error {
	spec, _ := obj["spec"].(map[string]any)
	mounts, _ := spec["mounts"].([]any)
	for i, item := range mounts {
		written, ok := raw[i]
		m, _ := item.(map[string]any)
		if !ok || m == nil {
			continue
		}
		source, _ := m["source"].(string)
		switch {
		case strings.HasPrefix(source, "/"):
			m["type"] = "bind"
		case source == "" || volumeNamePattern.MatchString(source):
			m["type"] = "volume"
		default:
			msg := fmt.Sprintf("spec.mounts[%d].source: %q is neither an absolute host path (a bind mount) nor a volume name", i, source)
			if vars := variableName.FindAllStringSubmatch(written, -1); len(vars) > 0 && written != source {
				names := make([]string, 0, len(vars))
				for _, v := range vars {
					names = append(names, v[1])
				}
				msg += fmt.Sprintf(" (%q with %s: a directory prefix must be absolute, e.g. /mnt/data/)", written, strings.Join(names, ", "))
			}
			return fmt.Errorf("%s", msg)
		}
	}
	return nil
}
