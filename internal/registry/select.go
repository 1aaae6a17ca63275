package registry

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
)

// DefaultDiscoveryLimit is how many revisions a subscription without
// discoveryLimit lists (the API's default).
const DefaultDiscoveryLimit = 20

// InvalidError is a subscription that cannot work as written (a bad
// regular expression or constraint): retrying does not help. Field is the
// name of the subscription's field, e.g. allowTags.
type InvalidError struct {
	Field string
	Err   error
}

func (e *InvalidError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *InvalidError) Unwrap() error { return e.Err }

// Limit is a subscription's discoveryLimit, or its default.
func Limit(sub kargov1.ImageSubscription) int {
	if sub.DiscoveryLimit > 0 {
		return int(sub.DiscoveryLimit)
	}
	return DefaultDiscoveryLimit
}

// SelectTags picks, from the tags of a repository, those a subscription
// considers, newest first, at most its discoveryLimit: allowTags and
// ignoreTags filter; then SemVer keeps the semantic versions within
// semverConstraint, highest first, and Lexical sorts greatest first. For
// NewestBuild the order is only a pre-order (see Discover), and Digest
// follows one tag, so it selects nothing here.
func SelectTags(sub kargov1.ImageSubscription, tags []string) ([]string, error) {
	tags, err := filterTags(sub, tags)
	if err != nil {
		return nil, err
	}
	switch sub.ImageSelectionStrategy {
	case kargov1.DigestStrategy:
		return nil, nil
	case kargov1.LexicalStrategy:
		slices.SortFunc(tags, func(a, b string) int { return strings.Compare(b, a) })
	case kargov1.NewestBuildStrategy:
		slices.SortFunc(tags, func(a, b string) int { return cmp.Or(naturalCompare(b, a), strings.Compare(b, a)) })
	default: // SemVer, the API's default
		if tags, err = semverTags(sub.SemverConstraint, tags); err != nil {
			return nil, err
		}
	}
	return tags[:min(len(tags), Limit(sub))], nil
}

// filterTags keeps the tags allowTags matches and ignoreTags does not.
func filterTags(sub kargov1.ImageSubscription, tags []string) ([]string, error) {
	allow, err := compile("allowTags", sub.AllowTags)
	if err != nil {
		return nil, err
	}
	ignore, err := compile("ignoreTags", sub.IgnoreTags)
	if err != nil {
		return nil, err
	}
	var kept []string
	for _, t := range tags {
		if (allow == nil || allow.MatchString(t)) && (ignore == nil || !ignore.MatchString(t)) {
			kept = append(kept, t)
		}
	}
	return kept, nil
}

func compile(field, expr string) (*regexp.Regexp, error) {
	if expr == "" {
		return nil, nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, &InvalidError{Field: field, Err: fmt.Errorf("not a regular expression: %w", err)}
	}
	return re, nil
}

// semverTags keeps the tags that are semantic versions X.Y.Z (a leading v
// allowed; not "1.2" nor a date such as 20261201, which a lenient parse
// would read as versions and rank above every release) within the
// constraint, highest first. Prereleases count only when the constraint
// names one (e.g. ^1.2.0-0), as Masterminds/semver decides; without a
// constraint, never.
func semverTags(constraint string, tags []string) ([]string, error) {
	var c *semver.Constraints
	if constraint != "" {
		var err error
		if c, err = semver.NewConstraint(constraint); err != nil {
			return nil, &InvalidError{Field: "semverConstraint", Err: fmt.Errorf("not a version constraint: %w", err)}
		}
	}
	type version struct {
		tag string
		v   *semver.Version
	}
	var versions []version
	for _, t := range tags {
		v, err := semver.StrictNewVersion(strings.TrimPrefix(t, "v"))
		if err != nil {
			continue
		}
		if c == nil && v.Prerelease() != "" || c != nil && !c.Check(v) {
			continue
		}
		versions = append(versions, version{t, v})
	}
	// Highest first; v1.0.0 and 1.0.0 are one version: the tag decides,
	// so the order never depends on the registry's listing.
	slices.SortFunc(versions, func(a, b version) int {
		return cmp.Or(b.v.Compare(a.v), strings.Compare(b.tag, a.tag))
	})
	out := make([]string, len(versions))
	for i, v := range versions {
		out[i] = v.tag
	}
	return out, nil
}

// naturalCompare compares strings with runs of digits compared as numbers
// (build-10 after build-9, 1.10 after 1.9).
func naturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digitPrefix(a), digitPrefix(b)
		if da != "" && db != "" {
			na, nb := strings.TrimLeft(da, "0"), strings.TrimLeft(db, "0")
			if c := cmp.Or(cmp.Compare(len(na), len(nb)), strings.Compare(na, nb)); c != 0 {
				return c
			}
			a, b = a[len(da):], b[len(db):]
			continue
		}
		if a[0] != b[0] {
			return cmp.Compare(a[0], b[0])
		}
		a, b = a[1:], b[1:]
	}
	return cmp.Compare(len(a), len(b))
}

func digitPrefix(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}

// SortByBuild orders images newest build first; images whose build time
// is unknown come last; equal times by tag, greatest first.
func SortByBuild(images []kargov1.DiscoveredImage) {
	slices.SortFunc(images, func(a, b kargov1.DiscoveredImage) int {
		switch {
		case a.CreatedAt == nil && b.CreatedAt == nil:
		case a.CreatedAt == nil:
			return 1
		case b.CreatedAt == nil:
			return -1
		default:
			if c := b.CreatedAt.Time.Compare(a.CreatedAt.Time); c != 0 {
				return c
			}
		}
		return cmp.Or(naturalCompare(b.Tag, a.Tag), strings.Compare(b.Tag, a.Tag))
	})
}
