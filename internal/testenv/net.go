package testenv

import (
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// FreeLoopbackAddr returns a 127.0.0.1 address with a port free right now.
func FreeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func freeTCPPort(ip string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// freeLoopbackIP is an address in 127.0.0.0/8, not 127.0.0.1, on which
// swarm's gossip port 7946 is free (TCP and UDP).
func freeLoopbackIP() (string, error) {
	for range 50 {
		ip := fmt.Sprintf("127.%d.%d.%d", 1+mathrand.IntN(254), mathrand.IntN(256), 1+mathrand.IntN(254))
		l, err := net.Listen("tcp", ip+":7946")
		if err != nil {
			continue
		}
		c, err := net.ListenPacket("udp", ip+":7946")
		_ = l.Close()
		if err != nil {
			continue
		}
		_ = c.Close()
		return ip, nil
	}
	return "", errors.New("port 7946 is taken on every address tried in 127.0.0.0/8")
}

// freeDataPathPort is a UDP port for VXLAN: Swarm accepts 1024-49151, and
// the kernel binds it on every address; below the ephemeral range.
func freeDataPathPort() (int, error) {
	for range 100 {
		port := 20000 + mathrand.IntN(12000)
		c, err := net.ListenPacket("udp", ":"+strconv.Itoa(port))
		if err == nil {
			_ = c.Close()
			return port, nil
		}
	}
	return 0, errors.New("none free in 20000-31999")
}

// freePools returns n /16 networks in 10.192.0.0-10.255.255.255 that overlap
// no address or route of the host, so the daemon's bridges shadow nothing.
func freePools(n int) ([]string, error) {
	used, err := usedNetworks()
	if err != nil {
		return nil, err
	}
	var pools []string
	start := mathrand.IntN(64)
	for i := range 64 {
		_, candidate, _ := net.ParseCIDR(fmt.Sprintf("10.%d.0.0/16", 192+(start+i)%64))
		free := true
		for _, u := range used {
			if u.Contains(candidate.IP) || candidate.Contains(u.IP) {
				free = false
				break
			}
		}
		if free {
			pools = append(pools, candidate.String())
			if len(pools) == n {
				return pools, nil
			}
		}
	}
	return nil, errors.New("no free /16 in 10.192.0.0/10")
}

// usedNetworks are the host's interface networks and IPv4 routes (but the
// default route).
func usedNetworks() ([]*net.IPNet, error) {
	var used []*net.IPNet
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
			used = append(used, &net.IPNet{IP: ipn.IP.Mask(ipn.Mask), Mask: ipn.Mask})
		}
	}
	b, err := os.ReadFile("/proc/net/route")
	if err != nil {
		return used, nil
	}
	for _, line := range strings.Split(string(b), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		dst, err1 := strconv.ParseUint(f[1], 16, 32)
		mask, err2 := strconv.ParseUint(f[7], 16, 32)
		if err1 != nil || err2 != nil || mask == 0 {
			continue
		}
		// Little-endian hex in /proc/net/route.
		ip := net.IPv4(byte(dst), byte(dst>>8), byte(dst>>16), byte(dst>>24)).To4()
		m := net.IPv4Mask(byte(mask), byte(mask>>8), byte(mask>>16), byte(mask>>24))
		used = append(used, &net.IPNet{IP: ip.Mask(m), Mask: m})
	}
	return used, nil
}
