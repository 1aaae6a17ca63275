package testenv

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/network"
	dockerswarm "github.com/docker/docker/api/types/swarm"
	dockerclient "github.com/docker/docker/client"
)

// TLSSwarm is a second, private dockerd that listens only on
// tcp://127.0.0.1:<port> with --tlsverify, manager of its own single-node
// Swarm. It runs beside the Swarm of hack/swarm.sh without sharing a socket,
// port, data or exec root, bridge, containerd namespace or cgroup with it.
type TLSSwarm struct {
	// Host is tcp://127.0.0.1:<port>.
	Host string
	// CA signed the server and client certificates (PEM).
	CA []byte
	// ClientCert and ClientKey authenticate a client (PEM), as tls.crt and tls.key.
	ClientCert, ClientKey []byte
	// ClusterID of the Swarm initialised on the daemon.
	ClusterID string

	dir, execRoot, logPath string
	bridges                []string // links we created or named, deleted by Stop
	cgroup                 string
	cmd                    *exec.Cmd
	exited                 chan struct{}
	api                    *dockerclient.Client

	stopOnce sync.Once
	stopErr  error
}

// Client is a TLS client of the daemon, for tests to look at its Swarm.
func (s *TLSSwarm) Client() *dockerclient.Client { return s.api }

// StartTLSSwarm starts the daemon with its state in dir (created, must be
// empty, removed by Stop). dir must be short (at most 40 bytes): containerd
// puts unix sockets under it. Needs root and Debian's docker.io and iproute2.
func StartTLSSwarm(dir string) (*TLSSwarm, error) {
	if !filepath.IsAbs(dir) || len(dir) > 40 {
		return nil, fmt.Errorf("tls swarm: dir %q must be absolute and at most 40 bytes (unix socket paths live under it): use e.g. os.MkdirTemp(\"/tmp\", \"ktls-\")", dir)
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("tls swarm: dockerd needs root")
	}
	dockerd, err := lookPath("dockerd")
	if err != nil {
		return nil, errors.New("tls swarm: dockerd not found: install Debian's docker.io (apt-get install docker.io; .ci/run does)")
	}
	ipCmd, err := lookPath("ip")
	if err != nil {
		return nil, errors.New("tls swarm: ip not found: install Debian's iproute2 (.ci/run does)")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("tls swarm: %w", err)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) > 0 {
		return nil, fmt.Errorf("tls swarm: %s must be an empty dir (%v entries, %v)", dir, len(entries), err)
	}

	id := randomHex(3)
	s := &TLSSwarm{
		dir:      dir,
		execRoot: filepath.Join(dir, "x"),
		logPath:  filepath.Join(dir, "dockerd.log"),
		cgroup:   "kargo-tls-" + id,
		exited:   make(chan struct{}),
	}
	bridge, gwBridge := "ktls"+id, "ktlsgw"+id // interface names: at most 15 bytes

	// Certificates.
	certDir := filepath.Join(dir, "certs")
	ca, err := newCA("kargo test CA " + id)
	if err != nil {
		return nil, fmt.Errorf("tls swarm: CA: %w", err)
	}
	serverCert, serverKey, err := ca.issue("127.0.0.1", true)
	if err != nil {
		return nil, fmt.Errorf("tls swarm: server certificate: %w", err)
	}
	s.ClientCert, s.ClientKey, err = ca.issue("kargo-test-client", false)
	if err != nil {
		return nil, fmt.Errorf("tls swarm: client certificate: %w", err)
	}
	s.CA = ca.certPEM
	files := map[string][]byte{
		"ca.pem": ca.certPEM, "server-cert.pem": serverCert, "server-key.pem": serverKey,
	}
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return nil, fmt.Errorf("tls swarm: %w", err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(certDir, name), data, 0o600); err != nil {
			return nil, fmt.Errorf("tls swarm: %w", err)
		}
	}
	// Our own (empty) config file: /etc/docker/daemon.json, if any, may
	// set hosts or a data root.
	config := filepath.Join(dir, "daemon.json")
	if err := os.WriteFile(config, []byte("{}\n"), 0o600); err != nil {
		return nil, fmt.Errorf("tls swarm: %w", err)
	}

	// Ports and addresses.
	apiPort, err := freeTCPPort("127.0.0.1")
	if err != nil {
		return nil, fmt.Errorf("tls swarm: free port for the API: %w", err)
	}
	// Swarm's network agent (memberlist) binds <listen address>:7946, a
	// port no option changes, which the other swarm holds on 127.0.0.1: the
	// swarm gets a loopback address of its own.
	swarmIP, err := freeLoopbackIP()
	if err != nil {
		return nil, fmt.Errorf("tls swarm: loopback address for swarm: %w", err)
	}
	swarmPort, err := freeTCPPort(swarmIP)
	if err != nil {
		return nil, fmt.Errorf("tls swarm: free port for swarm: %w", err)
	}
	dataPathPort, err := freeDataPathPort()
	if err != nil {
		return nil, fmt.Errorf("tls swarm: free UDP port for the data path: %w", err)
	}
	pools, err := freePools(2)
	if err != nil {
		return nil, fmt.Errorf("tls swarm: address pools: %w", err)
	}
	s.Host = "tcp://127.0.0.1:" + strconv.Itoa(apiPort)

	// Our own default bridge. Not --bridge=none: dockerd then deletes
	// docker0, which a system dockerd may be using.
	if out, err := exec.Command(ipCmd, "link", "add", "name", bridge, "type", "bridge").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("tls swarm: ip link add %s: %v: %s", bridge, err, bytes.TrimSpace(out))
	}
	s.bridges = append(s.bridges, bridge)

	logFile, err := os.Create(s.logPath)
	if err != nil {
		s.cleanupQuietly()
		return nil, fmt.Errorf("tls swarm: %w", err)
	}
	defer logFile.Close()
	s.cmd = exec.Command(dockerd,
		"--config-file", config,
		"-H", "tcp://127.0.0.1:"+strconv.Itoa(apiPort),
		"--tlsverify",
		"--tlscacert", filepath.Join(certDir, "ca.pem"),
		"--tlscert", filepath.Join(certDir, "server-cert.pem"),
		"--tlskey", filepath.Join(certDir, "server-key.pem"),
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", s.execRoot,
		"--pidfile", filepath.Join(dir, "dockerd.pid"),
		"--bridge", bridge,
		"--iptables=false", "--ip-masq=false",
		"--default-address-pool", "base="+pools[0]+",size=24",
		"--containerd-namespace", s.cgroup,
		"--containerd-plugins-namespace", s.cgroup+"-plugins",
		"--cgroup-parent", "/"+s.cgroup,
	)
	s.cmd.Env = daemonEnv()
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	// Own process group (no terminal signals), and SIGKILL if the test
	// process dies: dockerd then takes its containerd along (containerd's
	// own parent-death signal).
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	started := make(chan error, 1)
	go func() {
		// The parent-death signal fires when the thread that started the
		// process exits: keep this thread for dockerd's whole life.
		runtime.LockOSThread()
		if err := s.cmd.Start(); err != nil {
			started <- err
			close(s.exited)
			return
		}
		started <- nil
		_ = s.cmd.Wait()
		close(s.exited)
	}()
	if err := <-started; err != nil {
		s.cleanupQuietly()
		return nil, fmt.Errorf("tls swarm: start dockerd: %w", err)
	}

	s.api, err = newTLSClient(s.Host, s.CA, s.ClientCert, s.ClientKey)
	if err != nil {
		return nil, s.fail("docker client", err)
	}
	if err := s.waitAnswering(60 * time.Second); err != nil {
		return nil, s.fail("dockerd", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Swarm's docker_gwbridge has a fixed interface name that the other
	// daemon may use: create it first, on an interface of our own.
	s.bridges = append(s.bridges, gwBridge)
	if _, err := s.api.NetworkCreate(ctx, "docker_gwbridge", network.CreateOptions{
		Driver: "bridge",
		Options: map[string]string{
			"com.docker.network.bridge.name":                 gwBridge,
			"com.docker.network.bridge.enable_icc":           "false",
			"com.docker.network.bridge.enable_ip_masquerade": "false",
		},
	}); err != nil {
		return nil, s.fail("create docker_gwbridge", err)
	}
	swarmAddr := net.JoinHostPort(swarmIP, strconv.Itoa(swarmPort))
	if _, err := s.api.SwarmInit(ctx, dockerswarm.InitRequest{
		ListenAddr:      swarmAddr,
		AdvertiseAddr:   swarmAddr,
		DataPathPort:    uint32(dataPathPort),
		DefaultAddrPool: []string{pools[1]},
		SubnetSize:      24,
	}); err != nil {
		return nil, s.fail(fmt.Sprintf("swarm init (listen %s, data path port %d)", swarmAddr, dataPathPort), err)
	}
	info, err := s.api.Info(ctx)
	if err != nil {
		return nil, s.fail("docker info after swarm init", err)
	}
	if info.Swarm.LocalNodeState != dockerswarm.LocalNodeStateActive || !info.Swarm.ControlAvailable {
		return nil, s.fail("swarm init", fmt.Errorf("node state %q, manager %v", info.Swarm.LocalNodeState, info.Swarm.ControlAvailable))
	}
	s.ClusterID = info.Swarm.Cluster.ID
	return s, nil
}

// Stop leaves the Swarm, stops dockerd and the containerd it started,
// unmounts and removes the dir and deletes the bridges. Nothing of the
// daemon runs afterwards; the error lists what could not be cleaned.
func (s *TLSSwarm) Stop() error {
	s.stopOnce.Do(func() { s.stopErr = s.stop() })
	return s.stopErr
}

func (s *TLSSwarm) stop() error {
	var errs []error
	if s.api != nil {
		select {
		case <-s.exited:
		default:
			// Removes the ingress sandbox (a netns mount) cleanly.
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			_ = s.api.SwarmLeave(ctx, true)
			cancel()
		}
		_ = s.api.Close()
	}
	if s.cmd != nil && s.cmd.Process != nil {
		if !signalWait(s.cmd.Process, s.exited, syscall.SIGTERM, 30*time.Second) &&
			!signalWait(s.cmd.Process, s.exited, syscall.SIGKILL, 10*time.Second) {
			errs = append(errs, fmt.Errorf("dockerd %d did not exit", s.cmd.Process.Pid))
		}
	}
	// After an unclean stop: the containerd dockerd started (never a system
	// one: its pid file is in our exec root), shims and anything else whose
	// command line names our dir.
	if b, err := os.ReadFile(filepath.Join(s.execRoot, "containerd", "containerd.pid")); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && strings.Contains(cmdline(pid), s.dir+"/") {
			killPid(pid, 10*time.Second)
		}
	}
	for _, pid := range s.processes() {
		killPid(pid, 5*time.Second)
	}
	if left := s.processes(); len(left) > 0 {
		errs = append(errs, fmt.Errorf("processes still running: %v", left))
	}
	for _, m := range mountsUnder(s.dir + "/") {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil {
			errs = append(errs, fmt.Errorf("umount %s: %w", m, err))
		}
	}
	if s.dir != "" {
		if err := os.RemoveAll(s.dir); err != nil {
			errs = append(errs, err)
		}
	}
	if ipCmd, err := lookPath("ip"); err == nil {
		for _, b := range s.bridges {
			if _, err := net.InterfaceByName(b); err != nil {
				continue
			}
			if out, err := exec.Command(ipCmd, "link", "del", b).CombinedOutput(); err != nil {
				errs = append(errs, fmt.Errorf("ip link del %s: %v: %s", b, err, bytes.TrimSpace(out)))
			}
		}
	}
	for _, d := range cgroupDirs(s.cgroup) {
		_ = os.Remove(d)
	}
	if len(errs) > 0 {
		return fmt.Errorf("tls swarm stop: %w", errors.Join(errs...))
	}
	return nil
}

// fail stops what was started and returns an error naming the step, with
// the end of dockerd's log.
func (s *TLSSwarm) fail(step string, err error) error {
	tail := s.logTail(20)
	if stopErr := s.Stop(); stopErr != nil {
		err = errors.Join(err, stopErr)
	}
	return fmt.Errorf("tls swarm: %s: %w\n--- last lines of %s:\n%s", step, err, s.logPath, tail)
}

func (s *TLSSwarm) cleanupQuietly() { _ = s.Stop() }

func (s *TLSSwarm) waitAnswering(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("exited (%v)", s.cmd.ProcessState)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, last = s.api.Ping(ctx)
		cancel()
		if last == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("did not answer on %s within %s: %v", s.Host, limit, last)
}

func (s *TLSSwarm) logTail(n int) string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// processes are the live processes whose command line names our dir.
func (s *TLSSwarm) processes() []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if strings.Contains(cmdline(pid), s.dir+"/") && !zombie(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func cmdline(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return strings.ReplaceAll(string(b), "\x00", " ")
}

func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true // gone
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] == 'Z'
}

// signalWait sends sig to our child and waits until it has exited.
func signalWait(p *os.Process, exited <-chan struct{}, sig syscall.Signal, limit time.Duration) bool {
	select {
	case <-exited:
		return true
	default:
	}
	_ = p.Signal(sig)
	select {
	case <-exited:
		return true
	case <-time.After(limit):
		return false
	}
}

// killPid stops a process that is not our child: SIGTERM, then SIGKILL.
func killPid(pid int, limit time.Duration) {
	if zombie(pid) {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if zombie(pid) {
			return
		}
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && !zombie(pid); time.Sleep(100 * time.Millisecond) {
	}
}

// mountsUnder lists mount points under prefix, deepest first.
func mountsUnder(prefix string) []string {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return nil
	}
	defer f.Close()
	var ms []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 1 && strings.HasPrefix(fields[1], prefix) {
			ms = append(ms, fields[1])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(ms)))
	return ms
}

// cgroupDirs are the cgroup directories dockerd may have made under
// --cgroup-parent (v1 or v2), deepest first.
func cgroupDirs(name string) []string {
	var dirs []string
	for _, pattern := range []string{"/sys/fs/cgroup/" + name, "/sys/fs/cgroup/*/" + name} {
		roots, _ := filepath.Glob(pattern)
		for _, root := range roots {
			_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					dirs = append(dirs, path)
				}
				return nil
			})
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	return dirs
}

func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/local/sbin", "/usr/sbin", "/sbin"} {
		if p := filepath.Join(d, name); isExecutable(p) {
			return p, nil
		}
	}
	return "", exec.ErrNotFound
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// daemonEnv is the test's environment without DOCKER_* variables (dockerd
// reads DOCKER_TLS_VERIFY and DOCKER_CERT_PATH), with the sbin dirs on PATH.
func daemonEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "DOCKER_") || strings.HasPrefix(kv, "PATH=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "PATH="+os.Getenv("PATH")+":/usr/local/sbin:/usr/sbin:/sbin")
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

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newTLSClient(host string, caPEM, certPEM, keyPEM []byte) (*dockerclient.Client, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("no CA certificate in PEM")
	}
	transport := &http.Transport{
		TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12},
	}
	return dockerclient.NewClientWithOpts(
		dockerclient.WithHTTPClient(&http.Client{Transport: transport}),
		dockerclient.WithHost(host),
		dockerclient.WithScheme("https"),
		dockerclient.WithAPIVersionNegotiation(),
	)
}

// GenerateCA returns the PEM certificate of a new self-signed CA, e.g. one
// that signed nothing a test daemon presents.
func GenerateCA(commonName string) ([]byte, error) {
	ca, err := newCA(commonName)
	if err != nil {
		return nil, err
	}
	return ca.certPEM, nil
}

// GenerateClientTLS returns the PEM certificate of a new CA, and a client
// certificate and key it signed: the content of an Environment's TLS Secret
// (ca.crt, tls.crt, tls.key) that no engine trusts.
func GenerateClientTLS(commonName string) (caPEM, certPEM, keyPEM []byte, err error) {
	ca, err := newCA(commonName + " CA")
	if err != nil {
		return nil, nil, nil, err
	}
	certPEM, keyPEM, err = ca.issue(commonName, false)
	return ca.certPEM, certPEM, keyPEM, err
}

type certAuthority struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
}

func newCA(commonName string) (*certAuthority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"Kargo tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &certAuthority{cert: cert, key: key, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// issue signs a server certificate for 127.0.0.1 and localhost, or a client
// certificate, and returns it and its PKCS#8 key in PEM.
func (ca *certAuthority) issue(commonName string, server bool) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: commonName, Organization: []string{"Kargo tests"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}
