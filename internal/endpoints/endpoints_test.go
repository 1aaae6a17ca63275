package endpoints

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name     string
		allowed  string // --allowed-endpoints
		insecure bool   // the Environment's insecure: true
		host     string
		want     string // "" allowed; else a part of the error
	}{
		{name: "no patterns allow any endpoint", host: "tcp://anything.example.org:2376"},
		{name: "no patterns allow any socket", host: "unix:///var/run/docker.sock"},
		{name: "exact host", allowed: "swarm-1.example.org:2376", host: "tcp://swarm-1.example.org:2376"},
		{name: "tcp:// prefix in the pattern", allowed: "tcp://swarm-1.example.org:2376", host: "tcp://swarm-1.example.org:2376"},
		{name: "host names ignore case", allowed: "Swarm-1.Example.org:2376", host: "tcp://SWARM-1.example.ORG:2376"},
		{name: "exact host, other port", allowed: "swarm-1.example.org:2376", host: "tcp://swarm-1.example.org:2375", want: "not among the endpoints"},
		{name: "exact host, other host", allowed: "swarm-1.example.org:2376", host: "tcp://swarm-2.example.org:2376", want: "not among the endpoints"},
		{name: "wildcard label", allowed: "*.swarm.example.org:2376", host: "tcp://prod.swarm.example.org:2376"},
		{name: "wildcard spans no dot", allowed: "*.swarm.example.org:2376", host: "tcp://a.prod.swarm.example.org:2376", want: "not among the endpoints"},
		{name: "wildcard needs a label", allowed: "*.swarm.example.org:2376", host: "tcp://swarm.example.org:2376", want: "not among the endpoints"},
		{name: "wildcard within a label", allowed: "swarm-*.example.org:2376", host: "tcp://swarm-eu1.example.org:2376"},
		{name: "suffix is not a match", allowed: "*.example.org:2376", host: "tcp://a.example.org.evil.net:2376", want: "not among the endpoints"},
		{name: "host wildcard matches no address", allowed: "*.*.*.*:2376", host: "tcp://10.0.0.1:2376", want: "not among the endpoints"},
		{name: "any host, one port", allowed: "*:2376", host: "tcp://10.0.0.1:2376"},
		{name: "any host, other port", allowed: "*:2376", host: "tcp://10.0.0.1:2375", want: "not among the endpoints"},
		{name: "port range", allowed: "swarm.example.org:2376-2380", host: "tcp://swarm.example.org:2380"},
		{name: "port range, outside", allowed: "swarm.example.org:2376-2380", host: "tcp://swarm.example.org:2381", want: "not among the endpoints"},
		{name: "any port", allowed: "swarm.example.org:*", host: "tcp://swarm.example.org:12345"},
		{name: "exact IPv4", allowed: "10.0.0.7:2376", host: "tcp://10.0.0.7:2376"},
		{name: "exact IPv4, other address", allowed: "10.0.0.7:2376", host: "tcp://10.0.0.8:2376", want: "not among the endpoints"},
		{name: "CIDR v4", allowed: "10.0.0.0/8:2376", host: "tcp://10.200.3.4:2376"},
		{name: "CIDR v4, outside", allowed: "10.0.0.0/8:2376", host: "tcp://11.0.0.1:2376", want: "not among the endpoints"},
		{name: "CIDR v4, host bits are masked", allowed: "10.1.2.3/8:2376", host: "tcp://10.9.9.9:2376"},
		{name: "CIDR v4 matches a v4-mapped v6 address", allowed: "10.0.0.0/8:2376", host: "tcp://[::ffff:10.0.0.1]:2376"},
		{name: "CIDR v4 never matches a name", allowed: "10.0.0.0/8:2376", host: "tcp://swarm.example.org:2376", want: "not among the endpoints"},
		{name: "CIDR v6", allowed: "[fd00::/8]:2376", host: "tcp://[fd12:3456::1]:2376"},
		{name: "CIDR v6, outside", allowed: "[fd00::/8]:2376", host: "tcp://[fe80::1]:2376", want: "not among the endpoints"},
		{name: "exact v6", allowed: "[::1]:2375", host: "tcp://[::1]:2375"},
		{name: "v6 zone refused", allowed: "[fe80::/10]:2376", host: "tcp://[fe80::1%eth0]:2376", want: "zone"},
		{name: "hex name read as an address", allowed: "*.example.org:2375", host: "tcp://0x7f000001:2375", want: "neither an IP address nor a host name"},
		{name: "decimal name read as an address", allowed: "*.example.org:2375", host: "tcp://2130706433:2375", want: "neither an IP address nor a host name"},
		{name: "short dotted address", allowed: "*.example.org:2375", host: "tcp://127.1:2375", want: "neither an IP address nor a host name"},
		{name: "socket exact", allowed: "unix:///var/run/docker.sock", host: "unix:///var/run/docker.sock"},
		{name: "socket glob", allowed: "unix:///run/kargo/*.sock", host: "unix:///run/kargo/team-a.sock"},
		{name: "socket glob spans no slash", allowed: "unix:///run/kargo/*.sock", host: "unix:///run/kargo/sub/team-a.sock", want: "not among the endpoints"},
		{name: "socket path with ..", allowed: "unix:///run/kargo/*", host: "unix:///run/kargo/../docker.sock", want: "absolute and clean"},
		{name: "socket pattern does not allow tcp", allowed: "unix:///var/run/docker.sock", host: "tcp://10.0.0.1:2376", want: "not among the endpoints"},
		{name: "tcp pattern does not allow a socket", allowed: "*:*", host: "unix:///var/run/docker.sock", want: "not among the endpoints"},
		{name: "several patterns", allowed: "unix:///var/run/docker.sock, 10.0.0.0/8:2376,*.example.org:2376", host: "tcp://a.example.org:2376"},
		{name: "other scheme", allowed: "*:*", host: "ssh://user@host", want: "only tcp:// and unix://"},
		{name: "insecure refused by default", insecure: true, host: "tcp://10.0.0.1:2375", want: "--allow-insecure-endpoints=false"},
		{name: "insecure refused even if the endpoint is allowed", allowed: "10.0.0.0/8:2375", insecure: true, host: "tcp://10.0.0.1:2375", want: "plain TCP"},
		{name: "insecure means nothing on a socket", insecure: true, host: "unix:///var/run/docker.sock"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var policy Policy
			if tc.allowed != "" {
				if err := policy.Allowed.Set(tc.allowed); err != nil {
					t.Fatal(err)
				}
			}
			err := policy.Check(tc.host, tc.insecure)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("allowed, want an error with %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("error %q does not say %q", err, tc.want)
			case err != nil && !strings.Contains(err.Error(), tc.host):
				t.Fatalf("error %q does not name the endpoint", err)
			}
		})
	}
}

func TestInsecureAllowed(t *testing.T) {
	policy := Policy{AllowInsecure: true}
	if err := policy.Check("tcp://10.0.0.1:2375", true); err != nil {
		t.Fatal(err)
	}
	if err := policy.Allowed.Set("10.0.0.0/8:2376"); err != nil {
		t.Fatal(err)
	}
	// Allowing plain TCP does not widen --allowed-endpoints.
	if err := policy.Check("tcp://10.0.0.1:2375", true); err == nil || !strings.Contains(err.Error(), "not among the endpoints") {
		t.Fatalf("want refused by the patterns, got %v", err)
	}
}

func TestBadPatterns(t *testing.T) {
	for _, tc := range []struct{ pattern, want string }{
		{"swarm.example.org", "want host:port"},
		{"swarm.example.org:", "bad port"},
		{"swarm.example.org:0", "bad port"},
		{"swarm.example.org:65536", "bad port"},
		{"swarm.example.org:2380-2376", "bad port"},
		{"swarm.example.org:http", "bad port"},
		{"10.0.0.0/33:2376", "bad CIDR"},
		{"[fd00::/129]:2376", "bad CIDR"},
		{"10.0.0.300:2376", "bad IP address"},
		{"[fe80::1%eth0]:2376", "bad IP address"},
		{"[::1:2376", "want host:port"},
		{"swarm_1.example.org:2376", "bad host"},
		{"swarm..example.org:2376", "bad host"},
		{"swarm?.example.org:2376", "bad host"},
		{"http://swarm.example.org:2376", "only tcp:// and unix://"},
		{"unix://var/run/docker.sock", "absolute, clean path"},
		{"unix:///var/run/../docker.sock", "absolute, clean path"},
		{"unix:///var/run/[.sock", "bad glob"},
	} {
		t.Run(tc.pattern, func(t *testing.T) {
			var ps Patterns
			err := ps.Set("unix:///var/run/docker.sock," + tc.pattern)
			if err == nil {
				t.Fatalf("accepted")
			}
			// The error names the pattern, not the whole flag value.
			if !strings.Contains(err.Error(), `"`+tc.pattern+`"`) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q: want it to name %q and say %q", err, tc.pattern, tc.want)
			}
		})
	}
}

func TestPatternsFlagValue(t *testing.T) {
	var ps Patterns
	if err := ps.Set(" 10.0.0.0/8:2376 ,,unix:///var/run/*.sock"); err != nil {
		t.Fatal(err)
	}
	// A repeated flag adds to the list.
	if err := ps.Set("*.example.org:2376"); err != nil {
		t.Fatal(err)
	}
	if got, want := ps.String(), "10.0.0.0/8:2376,unix:///var/run/*.sock,*.example.org:2376"; got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
}
