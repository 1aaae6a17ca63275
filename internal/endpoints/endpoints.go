// Package endpoints decides which Docker Engine endpoints the manager may
// connect to: the patterns of kargo manager --allowed-endpoints and the
// --allow-insecure-endpoints switch. The controllers check an Environment's
// endpoint here before they build a client for it, so a refused endpoint is
// never dialed.
//
// A pattern is one of:
//
//	host:port            swarm-1.example.org:2376, *.swarm.example.org:2376
//	IP:port, CIDR:port   10.0.0.7:2376, 10.0.0.0/8:2376, [fd00::/8]:2376
//	unix://path          unix:///var/run/docker.sock, unix:///run/kargo/*.sock
//
// A tcp:// prefix is allowed and ignored. The port is a number, a range
// (2376-2380) or * (any). In a host name, * stands for any characters
// within one dot-separated label (*.example.org matches a.example.org, not
// a.b.example.org); a host of * alone matches every host,
// names and addresses. An endpoint given by IP address matches IP and CIDR
// patterns only: names are not resolved, so a CIDR never matches a name. In
// a unix path, * matches within one path element, as in a shell glob.
package endpoints

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path"
	"strconv"
	"strings"
)

// Pattern is one parsed entry of --allowed-endpoints.
type Pattern struct {
	text string
	// socket is the path glob of a unix:// pattern; the rest is unset then.
	socket string
	// host is the lower-case host name glob ("*": any host), or empty when
	// prefix holds an IP address or network.
	host   string
	prefix netip.Prefix
	// ports is the inclusive range of ports.
	ports [2]int
}

// ParsePattern parses one pattern; its errors say what is wrong with it.
func ParsePattern(s string) (Pattern, error) {
	p := Pattern{text: s}
	if sock, ok := strings.CutPrefix(s, "unix://"); ok {
		if !strings.HasPrefix(sock, "/") || path.Clean(sock) != sock {
			return Pattern{}, fmt.Errorf("%q: a unix socket pattern needs an absolute, clean path (unix:///var/run/*.sock)", s)
		}
		if _, err := path.Match(sock, ""); err != nil {
			return Pattern{}, fmt.Errorf("%q: bad glob: %w", s, err)
		}
		p.socket = sock
		return p, nil
	}
	rest := strings.TrimPrefix(s, "tcp://")
	if strings.Contains(rest, "://") {
		return Pattern{}, fmt.Errorf("%q: only tcp:// and unix:// endpoints exist", s)
	}
	host, port, err := net.SplitHostPort(rest)
	if err != nil {
		return Pattern{}, fmt.Errorf("%q: want host:port, IP:port, CIDR:port or unix://path (port: a number, a range like 2376-2380, or *)", s)
	}
	if p.ports, err = parsePorts(port); err != nil {
		return Pattern{}, fmt.Errorf("%q: %w", s, err)
	}
	switch {
	case strings.Contains(host, "/"):
		prefix, err := netip.ParsePrefix(host)
		if err != nil {
			return Pattern{}, fmt.Errorf("%q: bad CIDR %s", s, host)
		}
		// 10.1.2.3/8 means 10.0.0.0/8, as in most firewall rules.
		p.prefix = prefix.Masked()
	case isIP(host):
		addr, err := netip.ParseAddr(host)
		if err != nil || addr.Zone() != "" {
			return Pattern{}, fmt.Errorf("%q: bad IP address %s", s, host)
		}
		addr = addr.Unmap()
		p.prefix = netip.PrefixFrom(addr, addr.BitLen())
	default:
		if p.host, err = parseHostGlob(host); err != nil {
			return Pattern{}, fmt.Errorf("%q: %w", s, err)
		}
	}
	return p, nil
}

// String is the pattern as it was written.
func (p Pattern) String() string { return p.text }

func parsePorts(s string) ([2]int, error) {
	if s == "*" {
		return [2]int{1, 65535}, nil
	}
	lo, hi, isRange := strings.Cut(s, "-")
	if !isRange {
		hi = lo
	}
	first, err1 := strconv.Atoi(lo)
	last, err2 := strconv.Atoi(hi)
	if err1 != nil || err2 != nil || first < 1 || last > 65535 || first > last {
		return [2]int{}, fmt.Errorf("bad port %q: want 1-65535, a range low-high, or *", s)
	}
	return [2]int{first, last}, nil
}

// isIP tells a literal address (all digits and dots, or with a colon) from
// a host name: 10.0.0.300 is a bad address, not a name.
func isIP(host string) bool {
	return strings.Contains(host, ":") || strings.Trim(host, "0123456789.") == ""
}

// parseHostGlob checks a host name pattern: letters, digits, '-' and '*' in
// non-empty labels.
func parseHostGlob(host string) (string, error) {
	host = strings.ToLower(host)
	if host == "*" {
		return host, nil
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || strings.Trim(label, "abcdefghijklmnopqrstuvwxyz0123456789-*") != "" {
			return "", fmt.Errorf("bad host %q: want a host name of letters, digits, '-' and '*' wildcards, an IP address or a CIDR", host)
		}
	}
	return host, nil
}

// Patterns is the value of --allowed-endpoints: comma-separated patterns,
// parsed when the flag is set (it is a pflag.Value), so a bad one stops the
// manager at start with an error naming it.
type Patterns []Pattern

// Set parses comma-separated patterns and adds them.
func (ps *Patterns) Set(value string) error {
	for _, s := range strings.Split(value, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := ParsePattern(s)
		if err != nil {
			return err
		}
		*ps = append(*ps, p)
	}
	return nil
}

// String lists the patterns, comma-separated.
func (ps *Patterns) String() string {
	texts := make([]string, 0, len(*ps))
	for _, p := range *ps {
		texts = append(texts, p.text)
	}
	return strings.Join(texts, ",")
}

// Type names the flag's value in help text.
func (ps *Patterns) Type() string { return "patterns" }

// Policy is which endpoints the manager may connect to. The zero value
// allows any endpoint except plain TCP.
type Policy struct {
	// Allowed are the patterns of the endpoints allowed; empty allows any.
	Allowed Patterns
	// AllowInsecure allows tcp:// endpoints without TLS (insecure: true).
	AllowInsecure bool
}

// Check returns why the manager may not connect to host (unix:///path or
// tcp://host:port), nil when it may; insecure is the Environment's
// insecure: true (plain TCP).
func (p Policy) Check(host string, insecure bool) error {
	tcp := strings.HasPrefix(host, "tcp://")
	if insecure && tcp && !p.AllowInsecure {
		return fmt.Errorf("endpoint %s: plain TCP (insecure: true) is refused by the manager (--allow-insecure-endpoints=false): use TLS (tlsSecretRef)", host)
	}
	if len(p.Allowed) == 0 {
		return nil
	}
	ok, err := p.Allowed.match(host)
	if err != nil {
		return fmt.Errorf("endpoint %s: %w", host, err)
	}
	if !ok {
		return fmt.Errorf("endpoint %s is not among the endpoints the manager may reach (--allowed-endpoints): ask the cluster's administrators", host)
	}
	return nil
}

// match tells whether one of the patterns allows host.
func (ps Patterns) match(host string) (bool, error) {
	if sock, ok := strings.CutPrefix(host, "unix://"); ok {
		// Lexical cleaning would not be what the kernel does
		// (/var/run/../x with /var/run a symlink): refuse rather than guess.
		if !strings.HasPrefix(sock, "/") || path.Clean(sock) != sock {
			return false, errors.New("the socket path must be absolute and clean (no '.', '..' or '//')")
		}
		for _, p := range ps {
			if ok, _ := path.Match(p.socket, sock); ok {
				return true, nil
			}
		}
		return false, nil
	}
	rest, ok := strings.CutPrefix(host, "tcp://")
	if !ok {
		return false, errors.New("only tcp:// and unix:// endpoints can be allowed")
	}
	name, portText, err := net.SplitHostPort(rest)
	if err != nil {
		return false, errors.New("want tcp://host:port")
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return false, fmt.Errorf("bad port %q", portText)
	}
	addr, err := netip.ParseAddr(name)
	isAddr := err == nil
	switch {
	case isAddr && addr.Zone() != "":
		return false, errors.New("an IPv6 zone cannot be allowed")
	case !isAddr && isIP(name), !isAddr && numericName(name):
		// The C resolver reads 0x7f000001, 2130706433 or 127.1 as
		// 127.0.0.1: such a name could reach an address no pattern allows.
		return false, fmt.Errorf("%s is neither an IP address nor a host name", name)
	}
	addr = addr.Unmap()
	name = strings.ToLower(name)
	for _, p := range ps {
		if p.socket != "" || port < p.ports[0] || port > p.ports[1] {
			continue
		}
		switch {
		case p.host == "*":
			return true, nil
		case isAddr && p.prefix.IsValid() && p.prefix.Contains(addr):
			return true, nil
		case !isAddr && p.host != "" && matchHost(p.host, name):
			return true, nil
		}
	}
	return false, nil
}

// numericName tells a name whose last label is a number (decimal or 0x
// hex): no DNS name ends so, but resolvers take such names for addresses.
func numericName(name string) bool {
	labels := strings.Split(name, ".")
	last := labels[len(labels)-1]
	if hex, ok := strings.CutPrefix(strings.ToLower(last), "0x"); ok {
		return strings.Trim(hex, "0123456789abcdef") == ""
	}
	return strings.Trim(last, "0123456789") == ""
}

// matchHost matches a host name against a glob label by label, so that '*'
// never spans a dot.
func matchHost(glob, name string) bool {
	globs, labels := strings.Split(glob, "."), strings.Split(name, ".")
	if len(globs) != len(labels) {
		return false
	}
	for i := range globs {
		// Labels hold no '/', '?', '[' or '\': '*' is the only special
		// character left for path.Match.
		if ok, _ := path.Match(globs[i], labels[i]); !ok || labels[i] == "" {
			return false
		}
	}
	return true
}
