package policy_test

import (
	"errors"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/policy"
)

// stack declares its own network back, the external network front under
// the Swarm name kargo-front, and the external network outside.
var stack = &v1alpha1.Stack{
	ObjectMeta: metav1.ObjectMeta{Name: "geo", Namespace: "team-a"},
	Spec: v1alpha1.StackSpec{Networks: []v1alpha1.Network{
		{Name: "back"},
		{Name: "front", SwarmName: "kargo-front", External: true},
		{Name: "outside", External: true},
		{Name: "host", External: true},
	}},
}

func web(change func(*v1alpha1.ServiceSpec)) v1alpha1.Service {
	svc := v1alpha1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"}, Spec: v1alpha1.ServiceSpec{Image: "nginx:1.27"}}
	change(&svc.Spec)
	return svc
}

func bind(source string) func(*v1alpha1.ServiceSpec) {
	return func(s *v1alpha1.ServiceSpec) {
		s.Mounts = []v1alpha1.Mount{{Type: "bind", Source: source, Target: "/host"}}
	}
}

func volume(driver string, opts map[string]string) func(*v1alpha1.ServiceSpec) {
	return func(s *v1alpha1.ServiceSpec) {
		s.Mounts = []v1alpha1.Mount{{Type: "volume", Source: "data", Target: "/data", VolumeOptions: &v1alpha1.VolumeOptions{Driver: driver, DriverOpts: opts}}}
	}
}

func attach(names ...string) func(*v1alpha1.ServiceSpec) {
	return func(s *v1alpha1.ServiceSpec) {
		for _, n := range names {
			s.Networks = append(s.Networks, v1alpha1.NetworkAttachment{Name: n})
		}
	}
}

func publish(ports ...int32) func(*v1alpha1.ServiceSpec) {
	return func(s *v1alpha1.ServiceSpec) {
		for i, p := range ports {
			s.Ports = append(s.Ports, v1alpha1.Port{Target: int32(8000 + i), Published: p})
		}
	}
}

func image(name string) func(*v1alpha1.ServiceSpec) {
	return func(s *v1alpha1.ServiceSpec) { s.Image = name }
}

func user(u string) func(*v1alpha1.ServiceSpec) {
	return func(s *v1alpha1.ServiceSpec) { s.User = u }
}

func global(s *v1alpha1.ServiceSpec) { s.Mode = "global" }

// TestCheck checks one Service per case against an Environment: want is
// every violation message, none when the Service is allowed.
func TestCheck(t *testing.T) {
	paths := func(p ...string) *v1alpha1.WorkloadPolicy { return &v1alpha1.WorkloadPolicy{AllowedHostPaths: p} }
	drivers := func(r ...v1alpha1.VolumeDriverRule) *v1alpha1.WorkloadPolicy {
		return &v1alpha1.WorkloadPolicy{AllowedVolumeDrivers: r}
	}
	cases := []struct {
		name   string
		policy *v1alpha1.WorkloadPolicy
		shared []string
		spec   func(*v1alpha1.ServiceSpec)
		want   []string
	}{
		// Host paths: none by default, prefixes on path boundaries.
		{"bind without policy", nil, nil, bind("/"),
			[]string{`service web: mounts[0].source "/": host path not allowed by the Environment's policy (spec.policy.allowedHostPaths: none)`}},
		{"bind of the allowed path itself", paths("/data"), nil, bind("/data"), nil},
		{"bind under the allowed path", paths("/data"), nil, bind("/data/x/y"), nil},
		{"bind of a sibling sharing the prefix", paths("/data"), nil, bind("/database"),
			[]string{`service web: mounts[0].source "/database": host path not allowed by the Environment's policy (spec.policy.allowedHostPaths: /data)`}},
		{"bind of the parent", paths("/data/x"), nil, bind("/data"),
			[]string{`service web: mounts[0].source "/data": host path not allowed by the Environment's policy (spec.policy.allowedHostPaths: /data/x)`}},
		{"bind escaping with ..", paths("/data"), nil, bind("/data/../etc"),
			[]string{`service web: mounts[0].source "/data/../etc": host path not allowed by the Environment's policy (spec.policy.allowedHostPaths: /data)`}},
		{"allowed path with a trailing slash", paths("/data/"), nil, bind("/data/x"), nil},
		{"bind with a trailing slash", paths("/data"), nil, bind("/data/"), nil},
		{"root allows every path", paths("/"), nil, bind("/var/run/docker.sock"), nil},
		{"docker socket among other paths", paths("/srv", "/var/run/docker.sock"), nil, bind("/var/run/docker.sock"), nil},
		{"tmpfs needs nothing", nil, nil, func(s *v1alpha1.ServiceSpec) {
			s.Mounts = []v1alpha1.Mount{{Type: "tmpfs", Target: "/tmp"}}
		}, nil},

		// Volume drivers: local without options always; the rest when listed.
		{"plain named volume", nil, nil, func(s *v1alpha1.ServiceSpec) {
			s.Mounts = []v1alpha1.Mount{{Source: "data", Target: "/data"}}
		}, nil},
		{"local driver named", nil, nil, volume("local", nil), nil},
		{"local with options by default", nil, nil, volume("", map[string]string{"type": "tmpfs", "device": "tmpfs"}),
			[]string{
				`service web: mounts[0].volumeOptions.driverOpts.device: option of volume driver local not allowed by the Environment's policy (spec.policy.allowedVolumeDrivers: none, only local without options)`,
				`service web: mounts[0].volumeOptions.driverOpts.type: option of volume driver local not allowed by the Environment's policy (spec.policy.allowedVolumeDrivers: none, only local without options)`,
			}},
		{"local with allowed options", drivers(v1alpha1.VolumeDriverRule{Name: "local", Options: []string{"type", "device", "o"}}), nil,
			volume("local", map[string]string{"type": "tmpfs", "device": "tmpfs", "o": "size=1m"}), nil},
		{"bind in disguise: o=bind", &v1alpha1.WorkloadPolicy{AllowedVolumeDrivers: []v1alpha1.VolumeDriverRule{{Name: "local", Options: []string{"*"}}}}, nil,
			volume("local", map[string]string{"type": "none", "o": "bind", "device": "/etc"}),
			[]string{`service web: mounts[0].volumeOptions.driverOpts.device "/etc": host path not allowed by the Environment's policy (spec.policy.allowedHostPaths: none)`}},
		{"bind in disguise: rbind among options", &v1alpha1.WorkloadPolicy{AllowedVolumeDrivers: []v1alpha1.VolumeDriverRule{{Name: "local", Options: []string{"*"}}}}, nil,
			volume("local", map[string]string{"o": "ro, rbind", "device": "relative"}),
			[]string{`service web: mounts[0].volumeOptions.driverOpts.device "relative": host path not allowed by the Environment's policy (spec.policy.allowedHostPaths: none)`}},
		{"block device", &v1alpha1.WorkloadPolicy{AllowedVolumeDrivers: []v1alpha1.VolumeDriverRule{{Name: "local", Options: []string{"*"}}}}, nil,
			volume("local", map[string]string{"type": "ext4", "device": "/dev/sdb1"}),
			[]string{`service web: mounts[0].volumeOptions.driverOpts.device "/dev/sdb1": host path not allowed by the Environment's policy (spec.policy.allowedHostPaths: none)`}},
		{"bind in disguise under an allowed path", &v1alpha1.WorkloadPolicy{AllowedHostPaths: []string{"/srv"}, AllowedVolumeDrivers: []v1alpha1.VolumeDriverRule{{Name: "local", Options: []string{"type", "o", "device"}}}}, nil,
			volume("local", map[string]string{"type": "none", "o": "bind", "device": "/srv/x"}), nil},
		{"nfs is no host path", drivers(v1alpha1.VolumeDriverRule{Name: "local", Options: []string{"type", "o", "device"}}), nil,
			volume("local", map[string]string{"type": "nfs", "o": "addr=10.0.0.1,rw", "device": ":/export"}), nil},
		{"plugin driver by default", nil, nil, volume("rexray/ebs", nil),
			[]string{`service web: mounts[0].volumeOptions.driver "rexray/ebs": volume driver not allowed by the Environment's policy (spec.policy.allowedVolumeDrivers: none, only local without options)`}},
		{"plugin driver allowed, its option not", drivers(v1alpha1.VolumeDriverRule{Name: "rexray/ebs", Options: []string{"size"}}), nil,
			volume("rexray/ebs", map[string]string{"size": "10", "volumeType": "io1"}),
			[]string{`service web: mounts[0].volumeOptions.driverOpts.volumeType: option of volume driver rexray/ebs not allowed by the Environment's policy (spec.policy.allowedVolumeDrivers: rexray/ebs with options size)`}},
		{"plugin driver listed, local still allowed", drivers(v1alpha1.VolumeDriverRule{Name: "rexray/ebs"}), nil, volume("local", nil), nil},

		// External networks: the shared ones, those allowed, and the Stack's own.
		{"own network", nil, nil, attach("back"), nil},
		{"shared network by its Swarm name", nil, []string{"kargo-front"}, attach("front"), nil},
		{"external network not shared", nil, []string{"kargo-front"}, attach("back", "outside"),
			[]string{`service web: networks[1] "outside": external network "outside" not allowed by the Environment's policy (spec.sharedNetworks: kargo-front; spec.policy.allowedExternalNetworks: none)`}},
		{"shared under its logical name only", nil, []string{"front"}, attach("front"),
			[]string{`service web: networks[0] "front": external network "kargo-front" not allowed by the Environment's policy (spec.sharedNetworks: front; spec.policy.allowedExternalNetworks: none)`}},
		{"external network by pattern", &v1alpha1.WorkloadPolicy{AllowedExternalNetworks: []string{"out*"}}, nil, attach("outside"), nil},
		{"host network", &v1alpha1.WorkloadPolicy{AllowedExternalNetworks: []string{"kargo-*"}}, nil, attach("host"),
			[]string{`service web: networks[0] "host": external network "host" not allowed by the Environment's policy (spec.sharedNetworks: none; spec.policy.allowedExternalNetworks: kargo-*)`}},
		{"undeclared network is left to the conversion", nil, nil, attach("nowhere"), nil},

		// Published ports: any by default.
		{"any port by default", nil, nil, publish(22, 80), nil},
		{"ports in ranges", &v1alpha1.WorkloadPolicy{PublishedPortRanges: []v1alpha1.PortRange{{Min: 80, Max: 80}, {Min: 8000, Max: 8999}}}, nil, publish(80, 8000, 8999, 0), nil},
		{"ports out of ranges", &v1alpha1.WorkloadPolicy{PublishedPortRanges: []v1alpha1.PortRange{{Min: 80, Max: 80}, {Min: 8000, Max: 8999}}}, nil, publish(81, 9000),
			[]string{
				`service web: ports[0].published 81: port not allowed by the Environment's policy (spec.policy.publishedPortRanges: 80, 8000-8999)`,
				`service web: ports[1].published 9000: port not allowed by the Environment's policy (spec.policy.publishedPortRanges: 80, 8000-8999)`,
			}},

		// Images: any by default; patterns of the normalized reference.
		{"any image by default", nil, nil, image("evil.example.com/miner:1"), nil},
		{"official image normalized", &v1alpha1.WorkloadPolicy{AllowedImages: []string{"docker.io/library/*"}}, nil, image("nginx"), nil},
		{"registry pattern", &v1alpha1.WorkloadPolicy{AllowedImages: []string{"registry.example.org/*"}}, nil, image("registry.example.org/team/app@sha256:" + sha), nil},
		{"registry look-alike", &v1alpha1.WorkloadPolicy{AllowedImages: []string{"registry.example.org/*"}}, nil, image("registry.example.org.evil.com/app:1"),
			[]string{`service web: image "registry.example.org.evil.com/app:1": image registry.example.org.evil.com/app:1 not allowed by the Environment's policy (spec.policy.allowedImages: registry.example.org/*)`}},
		{"tag pattern", &v1alpha1.WorkloadPolicy{AllowedImages: []string{"docker.io/library/mongo:4.*"}}, nil, image("mongo"),
			[]string{`service web: image "mongo": image docker.io/library/mongo:latest not allowed by the Environment's policy (spec.policy.allowedImages: docker.io/library/mongo:4.*)`}},

		// Global mode: allowed unless the policy says false.
		{"global by default", nil, nil, global, nil},
		{"global allowed explicitly", &v1alpha1.WorkloadPolicy{AllowGlobalMode: ptr.To(true)}, nil, global, nil},
		{"global denied", &v1alpha1.WorkloadPolicy{AllowGlobalMode: ptr.To(false)}, nil, global,
			[]string{`service web: mode "global": global mode not allowed by the Environment's policy (spec.policy.allowGlobalMode: false)`}},
		{"replicated when global is denied", &v1alpha1.WorkloadPolicy{AllowGlobalMode: ptr.To(false)}, nil, func(*v1alpha1.ServiceSpec) {}, nil},

		// Root: allowed unless runAsNonRoot.
		{"root by default", nil, nil, user("root"), nil},
		{"uid 1000", &v1alpha1.WorkloadPolicy{RunAsNonRoot: true}, nil, user("1000:1000"), nil},
		{"a user name", &v1alpha1.WorkloadPolicy{RunAsNonRoot: true}, nil, user("nobody"), nil},
		{"root group only", &v1alpha1.WorkloadPolicy{RunAsNonRoot: true}, nil, user("1000:0"), nil},
		{"no user", &v1alpha1.WorkloadPolicy{RunAsNonRoot: true}, nil, user(""),
			[]string{`service web: user "": must be a user other than root (uid 0), as the Environment's policy requires (spec.policy.runAsNonRoot: true)`}},
		{"root", &v1alpha1.WorkloadPolicy{RunAsNonRoot: true}, nil, user("root"),
			[]string{`service web: user "root": must be a user other than root (uid 0), as the Environment's policy requires (spec.policy.runAsNonRoot: true)`}},
		{"uid 0 with a group", &v1alpha1.WorkloadPolicy{RunAsNonRoot: true}, nil, user("0:1000"),
			[]string{`service web: user "0:1000": must be a user other than root (uid 0), as the Environment's policy requires (spec.policy.runAsNonRoot: true)`}},
		{"uid 000", &v1alpha1.WorkloadPolicy{RunAsNonRoot: true}, nil, user("000"),
			[]string{`service web: user "000": must be a user other than root (uid 0), as the Environment's policy requires (spec.policy.runAsNonRoot: true)`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := &v1alpha1.EnvironmentSpec{Policy: tc.policy, SharedNetworks: tc.shared}
			got := messages(t, policy.Check(env, stack, []v1alpha1.Service{web(tc.spec)}))
			if !slices.Equal(got, tc.want) {
				t.Errorf("violations:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

const sha = "0123456789012345678901234567890123456789012345678901234567890123"

// TestCheckReportsEverything: every violation of every Service at once,
// Service by Service, field by field, in one error.
func TestCheckReportsEverything(t *testing.T) {
	env := &v1alpha1.EnvironmentSpec{Policy: &v1alpha1.WorkloadPolicy{RunAsNonRoot: true}}
	services := []v1alpha1.Service{
		web(func(s *v1alpha1.ServiceSpec) {
			bind("/")(s)
			s.User = "1000"
		}),
		{ObjectMeta: metav1.ObjectMeta{Name: "agent"}, Spec: v1alpha1.ServiceSpec{
			Image: "agent:1", Mode: "global",
			Networks: []v1alpha1.NetworkAttachment{{Name: "back"}, {Name: "outside"}},
			Mounts: []v1alpha1.Mount{
				{Type: "bind", Source: "/proc", Target: "/host/proc"},
				{Type: "tmpfs", Target: "/tmp"},
				{Type: "bind", Source: "/var/run/docker.sock", Target: "/var/run/docker.sock"},
			},
		}},
	}
	err := policy.Check(env, stack, services)
	want := []string{
		`service web: mounts[0].source "/": host path not allowed by the Environment's policy (spec.policy.allowedHostPaths: none)`,
		`service agent: user "": must be a user other than root (uid 0), as the Environment's policy requires (spec.policy.runAsNonRoot: true)`,
		`service agent: networks[1] "outside": external network "outside" not allowed by the Environment's policy (spec.sharedNetworks: none; spec.policy.allowedExternalNetworks: none)`,
		`service agent: mounts[0].source "/proc": host path not allowed by the Environment's policy (spec.policy.allowedHostPaths: none)`,
		`service agent: mounts[2].source "/var/run/docker.sock": host path not allowed by the Environment's policy (spec.policy.allowedHostPaths: none)`,
	}
	if got := messages(t, err); !slices.Equal(got, want) {
		t.Errorf("violations:\n got %q\nwant %q", got, want)
	}
	if err.Error() != want[0]+"; "+want[1]+"; "+want[2]+"; "+want[3]+"; "+want[4] {
		t.Errorf("error message: %s", err)
	}
}

func messages(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var denied *policy.Error
	if !errors.As(err, &denied) {
		t.Fatalf("Check returned %T, want *policy.Error: %v", err, err)
	}
	return denied.Lines()
}
