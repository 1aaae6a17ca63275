// Package promotion holds the pure logic of promotion: which Freight a
// Stage may take, and which of it is the newest. The Stage and Promotion
// reconcilers, the admission webhook and the kargo command share it.
package promotion

import (
	"errors"
	"fmt"
	"strings"

	"github.com/kargo-io/kargo/api/v1alpha1"
)

// ErrNoEligibleFreight is returned by Newest when no Freight is eligible.
var ErrNoEligibleFreight = errors.New("no eligible freight")

// Eligible tells whether the Stage may take the Freight: its origin is one
// the Stage requests (spec.requestedFreight), and the request takes it
// directly from the Warehouse, or the Freight was verified in one of the
// request's upstream Stages, or approved for this Stage (kargo approve).
// The error says why not, for people.
func Eligible(stage *v1alpha1.Stage, freight *v1alpha1.Freight) error {
	if stage.Namespace != freight.Namespace {
		return fmt.Errorf("freight %s is in namespace %s, stage %s in namespace %s", freight.Name, freight.Namespace, stage.Name, stage.Namespace)
	}
	req, err := Requested(stage, freight)
	if err != nil {
		return err
	}
	if req.Sources.Direct || freight.IsApprovedFor(stage.Name) {
		return nil
	}
	for _, upstream := range req.Sources.Stages {
		if freight.IsVerifiedIn(upstream) {
			return nil
		}
	}
	return fmt.Errorf("freight %s is not verified in %s (upstream of stage %s) nor approved for stage %s",
		freight.Name, orList(req.Sources.Stages), stage.Name, stage.Name)
}

// Requested is the Stage's request of Freight from the Freight's origin;
// the error says the Stage requests none from there.
func Requested(stage *v1alpha1.Stage, freight *v1alpha1.Freight) (*v1alpha1.FreightRequest, error) {
	origin := freight.Spec.Origin
	for i := range stage.Spec.RequestedFreight {
		req := &stage.Spec.RequestedFreight[i]
		if req.Origin.Name == origin.Name && originKind(req.Origin) == originKind(origin) {
			return req, nil
		}
	}
	return nil, fmt.Errorf("freight %s comes from %s %s, which stage %s does not request (spec.requestedFreight)",
		freight.Name, originKind(origin), origin.Name, stage.Name)
}

// Newest is, of the Freight eligible for the Stage, the one created last;
// Freight created in the same second go by name, the greatest first, so
// that every caller picks the same one. It returns ErrNoEligibleFreight
// (wrapped, naming the Stage) when none is eligible.
func Newest(stage *v1alpha1.Stage, freights []v1alpha1.Freight) (*v1alpha1.Freight, error) {
	var newest *v1alpha1.Freight
	for i := range freights {
		f := &freights[i]
		if Eligible(stage, f) != nil {
			continue
		}
		if newest == nil || Newer(f, newest) {
			newest = f
		}
	}
	if newest == nil {
		return nil, fmt.Errorf("stage %s: %w", stage.Name, ErrNoEligibleFreight)
	}
	return newest, nil
}

// Newer tells whether a was created after b (by name, the greatest first,
// within the same second): the order in which Freight is listed newest
// first.
func Newer(a, b *v1alpha1.Freight) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return b.CreationTimestamp.Before(&a.CreationTimestamp)
	}
	return a.Name > b.Name
}

// originKind is the origin's kind, with its default.
func originKind(o v1alpha1.FreightOrigin) string {
	if o.Kind == "" {
		return "Warehouse"
	}
	return o.Kind
}

// orList writes names as "a", "a or b", "a, b or c".
func orList(names []string) string {
	switch len(names) {
	case 0:
		return "no stage"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// FreightName is how a Freight is shown to people: its alias, else its
// name, shortened to 7 characters when it is a long hexadecimal hash (as
// git shortens commits).
func FreightName(name, alias string) string {
	if alias != "" {
		return alias
	}
	return ShortName(name)
}

// ShortName is a Freight's name shortened to 7 characters when it is a
// hexadecimal hash longer than 12; other names are kept whole.
func ShortName(name string) string {
	if len(name) <= 12 || strings.Trim(name, "0123456789abcdef") != "" {
		return name
	}
	return name[:7]
}
