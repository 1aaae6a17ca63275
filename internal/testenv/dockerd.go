package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/network"
	dockerswarm "github.com/docker/docker/api/types/swarm"
	dockerclient "github.com/docker/docker/client"
)

// Dockerd is a private dockerd, manager of its own single-node Swarm. It
// runs beside the Swarm of hack/swarm.sh without sharing a socket, port,
// data or exec root, bridge, containerd namespace or cgroup with it, so a
// test may crash it (Kill) and start it again on the same state (Restart)
// without disturbing other tests.
type Dockerd struct {
	// Host is unix://<dir>/docker.sock, or with TLS tcp://127.0.0.1:<port>.
	Host string
	// CA signed the server and client certificates (PEM); TLS only.
	CA []byte
	// ClientCert and ClientKey authenticate a client (PEM), as tls.crt and
	// tls.key; TLS only.
	ClientCert, ClientKey []byte
	// ClusterID of the Swarm initialised on the daemon.
	ClusterID string

	dir, execRoot, logPath string
	dockerd                string
	args                   []string
	bridges                []string // links we created or named, deleted by Stop
	cgroup                 string
	api                    *dockerclient.Client

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited <-chan struct{}

	stopOnce sync.Once
	stopErr  error
}

// DockerdOptions choose how the daemon listens.
type DockerdOptions struct {
	// TLS makes it listen only on tcp://127.0.0.1:<port> with --tlsverify
	// and generated certificates; otherwise only on unix://<dir>/docker.sock.
	TLS bool
}

// StartDockerd starts the daemon with its state in dir (created, must be
// empty, removed by Stop) and initialises its Swarm. dir must be short (at
// most 40 bytes): containerd puts unix sockets under it. Needs root and
// Debian's docker.io and iproute2.
func StartDockerd(dir string, opts DockerdOptions) (*Dockerd, error) {
	if !filepath.IsAbs(dir) || len(dir) > 40 {
		return nil, fmt.Errorf("dockerd: dir %q must be absolute and at most 40 bytes (unix socket paths live under it): use e.g. os.MkdirTemp(\"/tmp\", \"kd-\")", dir)
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("dockerd: needs root")
	}
	dockerd, err := lookPath("dockerd")
	if err != nil {
		return nil, errors.New("dockerd: not found: install Debian's docker.io (apt-get install docker.io; .ci/run does)")
	}
	ipCmd, err := lookPath("ip")
	if err != nil {
		return nil, errors.New("dockerd: ip not found: install Debian's iproute2 (.ci/run does)")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("dockerd: %w", err)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) > 0 {
		return nil, fmt.Errorf("dockerd: %s must be an empty dir (%v entries, %v)", dir, len(entries), err)
	}

	id := randomHex(3)
	d := &Dockerd{
		dir:      dir,
		execRoot: filepath.Join(dir, "x"),
		logPath:  filepath.Join(dir, "dockerd.log"),
		dockerd:  dockerd,
		cgroup:   "kargo-dockerd-" + id,
	}
	bridge, gwBridge := "kd"+id, "kdgw"+id // interface names: at most 15 bytes

	// Our own (empty) config file: /etc/docker/daemon.json, if any, may
	// set hosts or a data root.
	config := filepath.Join(dir, "daemon.json")
	if err := os.WriteFile(config, []byte("{}\n"), 0o600); err != nil {
		return nil, fmt.Errorf("dockerd: %w", err)
	}
	d.args = []string{"--config-file", config}
	if opts.TLS {
		listen, err := d.generateTLS()
		if err != nil {
			return nil, fmt.Errorf("dockerd: %w", err)
		}
		d.args = append(d.args, listen...)
	} else {
		d.Host = "unix://" + filepath.Join(dir, "docker.sock")
		d.args = append(d.args, "-H", d.Host)
	}

	// Swarm's network agent (memberlist) binds <listen address>:7946, a
	// port no option changes, which the other swarm holds on 127.0.0.1: the
	// swarm gets a loopback address of its own.
	swarmIP, err := freeLoopbackIP()
	if err != nil {
		return nil, fmt.Errorf("dockerd: loopback address for swarm: %w", err)
	}
	swarmPort, err := freeTCPPort(swarmIP)
	if err != nil {
		return nil, fmt.Errorf("dockerd: free port for swarm: %w", err)
	}
	dataPathPort, err := freeDataPathPort()
	if err != nil {
		return nil, fmt.Errorf("dockerd: free UDP port for the data path: %w", err)
	}
	pools, err := freePools(2)
	if err != nil {
		return nil, fmt.Errorf("dockerd: address pools: %w", err)
	}
	d.args = append(d.args,
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", d.execRoot,
		"--pidfile", filepath.Join(dir, "dockerd.pid"),
		"--bridge", bridge,
		"--iptables=false", "--ip-masq=false",
		"--default-address-pool", "base="+pools[0]+",size=24",
		"--containerd-namespace", d.cgroup,
		"--containerd-plugins-namespace", d.cgroup+"-plugins",
		"--cgroup-parent", "/"+d.cgroup,
	)

	// Our own default bridge. Not --bridge=none: dockerd then deletes
	// docker0, which a system dockerd may be using.
	if out, err := exec.Command(ipCmd, "link", "add", "name", bridge, "type", "bridge").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("dockerd: ip link add %s: %v: %s", bridge, err, strings.TrimSpace(string(out)))
	}
	d.bridges = append(d.bridges, bridge)

	if opts.TLS {
		d.api, err = newTLSClient(d.Host, d.CA, d.ClientCert, d.ClientKey)
	} else {
		d.api, err = dockerclient.NewClientWithOpts(dockerclient.WithHost(d.Host), dockerclient.WithAPIVersionNegotiation())
	}
	if err != nil {
		return nil, d.fail("docker client", err)
	}
	if err := d.spawn(); err != nil {
		return nil, d.fail("start dockerd", err)
	}
	if err := d.waitAnswering(60 * time.Second); err != nil {
		return nil, d.fail("dockerd", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Swarm's docker_gwbridge has a fixed interface name that the other
	// daemon may use: create it first, on an interface of our own.
	d.bridges = append(d.bridges, gwBridge)
	if _, err := d.api.NetworkCreate(ctx, "docker_gwbridge", network.CreateOptions{
		Driver: "bridge",
		Options: map[string]string{
			"com.docker.network.bridge.name":                 gwBridge,
			"com.docker.network.bridge.enable_icc":           "false",
			"com.docker.network.bridge.enable_ip_masquerade": "false",
		},
	}); err != nil {
		return nil, d.fail("create docker_gwbridge", err)
	}
	swarmAddr := net.JoinHostPort(swarmIP, strconv.Itoa(swarmPort))
	if _, err := d.api.SwarmInit(ctx, dockerswarm.InitRequest{
		ListenAddr:      swarmAddr,
		AdvertiseAddr:   swarmAddr,
		DataPathPort:    uint32(dataPathPort),
		DefaultAddrPool: []string{pools[1]},
		SubnetSize:      24,
	}); err != nil {
		return nil, d.fail(fmt.Sprintf("swarm init (listen %s, data path port %d)", swarmAddr, dataPathPort), err)
	}
	if d.ClusterID, err = d.waitSwarm(ctx); err != nil {
		return nil, d.fail("swarm init", err)
	}
	return d, nil
}

// generateTLS writes a CA and a server certificate for 127.0.0.1 into
// dir/certs, keeps the CA and a client certificate, and returns dockerd's
// flags to listen on a free port of 127.0.0.1 with --tlsverify.
func (d *Dockerd) generateTLS() ([]string, error) {
	certDir := filepath.Join(d.dir, "certs")
	ca, err := newCA("kargo test CA " + randomHex(3))
	if err != nil {
		return nil, fmt.Errorf("CA: %w", err)
	}
	serverCert, serverKey, err := ca.issue("127.0.0.1", true)
	if err != nil {
		return nil, fmt.Errorf("server certificate: %w", err)
	}
	d.ClientCert, d.ClientKey, err = ca.issue("kargo-test-client", false)
	if err != nil {
		return nil, fmt.Errorf("client certificate: %w", err)
	}
	d.CA = ca.certPEM
	files := map[string][]byte{
		"ca.pem": ca.certPEM, "server-cert.pem": serverCert, "server-key.pem": serverKey,
	}
	if err := os.MkdirAll(certDir, 0o700); err != nil {
		return nil, err
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(certDir, name), data, 0o600); err != nil {
			return nil, err
		}
	}
	apiPort, err := freeTCPPort("127.0.0.1")
	if err != nil {
		return nil, fmt.Errorf("free port for the API: %w", err)
	}
	d.Host = "tcp://127.0.0.1:" + strconv.Itoa(apiPort)
	return []string{
		"-H", d.Host,
		"--tlsverify",
		"--tlscacert", filepath.Join(certDir, "ca.pem"),
		"--tlscert", filepath.Join(certDir, "server-cert.pem"),
		"--tlskey", filepath.Join(certDir, "server-key.pem"),
	}, nil
}

// Client is a client of the daemon's API, closed by Stop.
func (d *Dockerd) Client() *dockerclient.Client { return d.api }

// spawn starts dockerd with the daemon's flags, its output appended to
// the log.
func (d *Dockerd) spawn() error {
	cmd := exec.Command(d.dockerd, d.args...)
	cmd.Env = daemonEnv()
	// SIGKILL if the test process dies: dockerd then takes its containerd
	// along (containerd's own parent-death signal).
	exited, err := StartChild(cmd, d.logPath)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.cmd, d.exited = cmd, exited
	d.mu.Unlock()
	return nil
}

// running returns the current dockerd process and its exit channel.
func (d *Dockerd) running() (*exec.Cmd, <-chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cmd, d.exited
}

// Kill crashes the engine: SIGKILL to dockerd and to its containerd. The
// containers' shims live on, as after a real crash, until the restarted
// daemon stops them.
func (d *Dockerd) Kill() error {
	cmd, exited := d.running()
	if cmd == nil {
		return errors.New("dockerd: not started")
	}
	containerd := d.containerdPid()
	if !signalWait(cmd.Process, exited, syscall.SIGKILL, 10*time.Second) {
		return fmt.Errorf("dockerd %d did not exit on SIGKILL", cmd.Process.Pid)
	}
	if containerd > 0 {
		_ = syscall.Kill(containerd, syscall.SIGKILL)
		for deadline := time.Now().Add(10 * time.Second); !zombie(containerd); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				return fmt.Errorf("containerd %d did not exit on SIGKILL", containerd)
			}
		}
	}
	return nil
}

// Restart starts dockerd again on the state it left, after Kill, and waits
// until it answers and manages its Swarm again.
func (d *Dockerd) Restart() error {
	if _, exited := d.running(); exited != nil && !closed(exited) {
		return errors.New("dockerd: restart while it runs: Kill it first")
	}
	fail := func(step string, err error) error {
		return fmt.Errorf("dockerd restart: %s: %w\n--- last lines of %s:\n%s", step, err, d.logPath, LogTail(d.logPath, 20))
	}
	// On a loaded machine dockerd may give up waiting for the containerd it
	// starts (which restores the crashed one's tasks): start it again.
	for attempt := 1; ; attempt++ {
		if err := d.spawn(); err != nil {
			return fail("start", err)
		}
		err := d.waitAnswering(60 * time.Second)
		if err == nil {
			break
		}
		if _, exited := d.running(); attempt == 3 || !closed(exited) {
			return fail("answer", err)
		}
		if pid := d.containerdPid(); pid > 0 {
			killPid(pid, 10*time.Second)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := d.waitSwarm(ctx); err != nil {
		return fail("swarm", err)
	}
	return nil
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// waitSwarm waits until the node is an active Swarm manager and returns
// the cluster ID.
func (d *Dockerd) waitSwarm(ctx context.Context) (string, error) {
	for {
		info, err := d.api.Info(ctx)
		if err == nil && info.Swarm.LocalNodeState == dockerswarm.LocalNodeStateActive && info.Swarm.ControlAvailable && info.Swarm.Cluster != nil {
			return info.Swarm.Cluster.ID, nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = fmt.Errorf("node state %q, manager %v", info.Swarm.LocalNodeState, info.Swarm.ControlAvailable)
			}
			return "", err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// CopyImage copies an image from one engine to another (docker save |
// docker load): the test daemons get kargo.local/busybox:1 from the Swarm
// of hack/swarm.sh, which built it without a registry.
func CopyImage(ctx context.Context, from, to *dockerclient.Client, ref string) error {
	saved, err := from.ImageSave(ctx, []string{ref})
	if err != nil {
		return fmt.Errorf("save %s: %w", ref, err)
	}
	defer saved.Close()
	loaded, err := to.ImageLoad(ctx, saved, dockerclient.ImageLoadWithQuiet(true))
	if err != nil {
		return fmt.Errorf("load %s: %w", ref, err)
	}
	defer loaded.Body.Close()
	if _, err := io.Copy(io.Discard, loaded.Body); err != nil {
		return fmt.Errorf("load %s: %w", ref, err)
	}
	if _, err := to.ImageInspect(ctx, ref); err != nil {
		return fmt.Errorf("load %s: %w", ref, err)
	}
	return nil
}

// Stop leaves the Swarm, stops dockerd and the containerd it started,
// unmounts and removes the dir and deletes the bridges. Nothing of the
// daemon runs afterwards; the error lists what could not be cleaned.
func (d *Dockerd) Stop() error {
	d.stopOnce.Do(func() { d.stopErr = d.stop() })
	return d.stopErr
}

func (d *Dockerd) stop() error {
	var errs []error
	cmd, exited := d.running()
	if d.api != nil {
		if cmd != nil {
			select {
			case <-exited:
			default:
				// Removes the ingress sandbox (a netns mount) cleanly.
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				_ = d.api.SwarmLeave(ctx, true)
				cancel()
			}
		}
		_ = d.api.Close()
	}
	if cmd != nil {
		if !signalWait(cmd.Process, exited, syscall.SIGTERM, 30*time.Second) &&
			!signalWait(cmd.Process, exited, syscall.SIGKILL, 10*time.Second) {
			errs = append(errs, fmt.Errorf("dockerd %d did not exit", cmd.Process.Pid))
		}
	}
	// After an unclean stop: the containerd dockerd started, shims and
	// anything else whose command line names our dir.
	if pid := d.containerdPid(); pid > 0 {
		killPid(pid, 10*time.Second)
	}
	for _, pid := range Processes(d.dir + "/") {
		killPid(pid, 5*time.Second)
	}
	if left := Processes(d.dir + "/"); len(left) > 0 {
		errs = append(errs, fmt.Errorf("processes still running: %v", left))
	}
	for _, m := range mountsUnder(d.dir + "/") {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil {
			errs = append(errs, fmt.Errorf("umount %s: %w", m, err))
		}
	}
	if d.dir != "" {
		if err := os.RemoveAll(d.dir); err != nil {
			errs = append(errs, err)
		}
	}
	if ipCmd, err := lookPath("ip"); err == nil {
		for _, b := range d.bridges {
			if _, err := net.InterfaceByName(b); err != nil {
				continue
			}
			if out, err := exec.Command(ipCmd, "link", "del", b).CombinedOutput(); err != nil {
				errs = append(errs, fmt.Errorf("ip link del %s: %v: %s", b, err, strings.TrimSpace(string(out))))
			}
		}
	}
	for _, dir := range cgroupDirs(d.cgroup) {
		_ = os.Remove(dir)
	}
	if len(errs) > 0 {
		return fmt.Errorf("dockerd stop: %w", errors.Join(errs...))
	}
	return nil
}

// containerdPid is the live containerd this dockerd started (never a
// system one: its pid file is in our exec root and its command line names
// our dir), or 0.
func (d *Dockerd) containerdPid() int {
	b, err := os.ReadFile(filepath.Join(d.execRoot, "containerd", "containerd.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || zombie(pid) || !strings.Contains(cmdline(pid), d.dir+"/") {
		return 0
	}
	return pid
}

// fail stops what was started and returns an error naming the step, with
// the end of dockerd's log.
func (d *Dockerd) fail(step string, err error) error {
	tail := LogTail(d.logPath, 20)
	if stopErr := d.Stop(); stopErr != nil {
		err = errors.Join(err, stopErr)
	}
	return fmt.Errorf("dockerd: %s: %w\n--- last lines of %s:\n%s", step, err, d.logPath, tail)
}

func (d *Dockerd) waitAnswering(limit time.Duration) error {
	cmd, exited := d.running()
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("exited (%v)", cmd.ProcessState)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, last = d.api.Ping(ctx)
		cancel()
		if last == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("did not answer on %s within %s: %v", d.Host, limit, last)
}
