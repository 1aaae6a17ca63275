// Package freight names Freight: by a hash of what it carries, and by a
// human alias.
package freight

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
)

// Name is the name of the Freight of spec: the hex SHA-1 (a name, not a
// signature: 40 hex digits make a valid object name) of its origin and
// its images (repository@digest, sorted by repository). Tags are left out:
// re-tagging an image is the same Freight. Two Warehouses finding the same
// images make two Freight (origins differ).
func Name(spec kargov1.FreightSpec) string {
	kind := spec.Origin.Kind
	if kind == "" {
		kind = kargov1.WarehouseKind
	}
	lines := make([]string, 0, len(spec.Images)+1)
	for _, i := range spec.Images {
		lines = append(lines, i.RepoURL+"@"+i.Digest)
	}
	slices.Sort(lines)
	lines = slices.Insert(lines, 0, kind+"/"+spec.Origin.Name)
	sum := sha1.Sum([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(sum[:])
}

// Alias is a name for people, adjective-animal, picked from the hash name
// so that it is the same wherever it is computed; when taken says it is
// used by another Freight, the first free of name-2, name-3... follows.
func Alias(name string, taken func(string) bool) string {
	sum := sha1.Sum([]byte(name))
	base := adjectives[int(sum[0])%len(adjectives)] + "-" + animals[int(sum[1])%len(animals)]
	alias := base
	for n := 2; taken(alias); n++ {
		alias = fmt.Sprintf("%s-%d", base, n)
	}
	return alias
}

var adjectives = []string{
	"agile", "amber", "bold", "brave", "breezy", "bright", "calm", "clever",
	"cosy", "crisp", "curious", "dapper", "daring", "eager", "early", "fancy",
	"fearless", "fluffy", "frosty", "gentle", "giddy", "glad", "golden", "happy",
	"hardy", "humble", "jolly", "keen", "kind", "lively", "lucky", "mellow",
	"merry", "mighty", "misty", "nimble", "noble", "patient", "plucky", "polite",
	"proud", "quick", "quiet", "rapid", "rosy", "rustic", "shiny", "silent",
	"sleepy", "sly", "snowy", "spry", "steady", "sunny", "swift", "tidy",
	"tiny", "trusty", "vivid", "wandering", "warm", "wise", "witty", "zesty",
}

var animals = []string{
	"albatross", "alpaca", "badger", "beaver", "bison", "bobcat", "camel", "caribou",
	"cheetah", "condor", "coyote", "crane", "dingo", "dolphin", "eagle", "egret",
	"falcon", "ferret", "finch", "fox", "gazelle", "gecko", "heron", "ibex",
	"iguana", "jackal", "jaguar", "kestrel", "koala", "lemur", "lynx", "magpie",
	"marmot", "marten", "meerkat", "moose", "narwhal", "newt", "ocelot", "okapi",
	"orca", "osprey", "otter", "owl", "panda", "pelican", "penguin", "puffin",
	"quail", "rabbit", "raven", "salmon", "seal", "sparrow", "stork", "tapir",
	"tiger", "toucan", "turtle", "walrus", "weasel", "whale", "wombat", "yak",
}
