package cli

import (
	"fmt"
	"io"
	"io/fs"
	"text/tabwriter"

	"sigs.k8s.io/yaml"

	"github.com/kargo-io/kargo/config/catalog"
	"github.com/kargo-io/kargo/internal/overlay"
)

// Catalog runs kargo catalog with args, as the kargo command does.
func Catalog(args []string, stdout io.Writer) error {
	return runCommand(newCatalogCommand(), args, stdout, io.Discard)
}

// runCatalog lists the catalog entries; output "wide" adds their images.
func runCatalog(output string, stdout io.Writer) error {
	wide := false
	switch output {
	case "":
	case "wide":
		wide = true
	default:
		return fmt.Errorf("catalog: -o %s: unknown output format (wide is the only one)", output)
	}
	entries, err := overlay.Entries()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 8, 3, ' ', 0)
	if wide {
		fmt.Fprintln(tw, "NAME\tSUMMARY\tIMAGE")
	} else {
		fmt.Fprintln(tw, "NAME\tSUMMARY")
	}
	for _, e := range entries {
		if !wide {
			fmt.Fprintf(tw, "%s\t%s\n", e.Name, e.Summary)
			continue
		}
		image, err := entryImage(e.Name)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Name, e.Summary, image)
	}
	return tw.Flush()
}

// entryImage is spec.image of an entry's service.yaml, as written.
func entryImage(entry string) (string, error) {
	data, err := fs.ReadFile(catalog.FS, entry+"/service.yaml")
	if err != nil {
		return "", err
	}
	var svc struct {
		Spec struct {
			Image string `json:"image"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(data, &svc); err != nil {
		return "", fmt.Errorf("catalog entry %s: service.yaml: %w", entry, err)
	}
	return svc.Spec.Image, nil
}
