package v1alpha1

// WorkloadPolicy is what the Services of an Environment's Stacks may do on
// the Swarm's nodes. The Stack reconciler checks every Service of a Stack
// against it before it creates or changes anything on the Swarm: one
// violation stops the whole Stack (Ready=False, Stalled, reason
// PolicyDenied, the message naming each Service and field), and what runs
// already is left as it is.
//
// The rules that give a task access to the node itself (host paths, volume
// drivers that mount something, networks shared with other Stacks) deny by
// default. The others (published ports, images, global mode, root) allow by
// default, so that Stacks written before the policy existed keep working;
// an Environment shared by several teams sets them.
type WorkloadPolicy struct {
	// allowedHostPaths are the host paths bind mounts may use, as absolute
	// path prefixes that match on path boundaries: /data allows /data and
	// /data/x, not /database; / allows every path. A source is cleaned
	// first (/data/../etc is /etc). A local volume whose driver options
	// mount a host path (o=bind, or a device that is a path such as
	// /srv/x or /dev/sdb1) is a bind mount in disguise and is held to the
	// same list. Default none: no bind mounts. The engine follows symbolic
	// links on the node: allow only directories no task can write links
	// into.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:Pattern=`^/`
	// +kubebuilder:validation:items:MaxLength=4096
	// +listType=set
	// +optional
	AllowedHostPaths []string `json:"allowedHostPaths,omitempty"`

	// allowedVolumeDrivers adds volume drivers, and driver options, to the
	// one always allowed: the local driver without driver options (a
	// directory the engine manages). An entry named local allows options of
	// the local driver (type, device, o, size); the host paths those mount
	// are still checked against allowedHostPaths. Default: local without
	// options only.
	// +kubebuilder:validation:MaxItems=32
	// +listType=map
	// +listMapKey=name
	// +optional
	AllowedVolumeDrivers []VolumeDriverRule `json:"allowedVolumeDrivers,omitempty"`

	// allowedExternalNetworks are the external networks (networks of
	// spec.networks with external: true, by their Swarm name) Services may
	// join besides the Environment's spec.sharedNetworks: names, or patterns
	// where * matches any characters (team-a-*). A Stack's own networks are
	// always allowed. Default none: only spec.sharedNetworks. The Swarm's
	// host network is an external network like any other: allowing it lets
	// tasks use the node's network stack.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:Pattern=`^[a-zA-Z0-9*][a-zA-Z0-9_.*-]*$`
	// +kubebuilder:validation:items:MaxLength=63
	// +listType=set
	// +optional
	AllowedExternalNetworks []string `json:"allowedExternalNetworks,omitempty"`

	// publishedPortRanges are the port ranges Services may publish, in
	// ingress or host mode. A port without published (the Swarm picks one
	// from its dynamic range) is not checked. Default: any port.
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	// +optional
	PublishedPortRanges []PortRange `json:"publishedPortRanges,omitempty"`

	// allowedImages are the images Services may run, as patterns of the
	// normalized reference (docker.io/library/mongo:4.2 for mongo:4.2,
	// :latest added when there is neither tag nor digest) where * matches
	// any characters: registry.example.org/* allows every image of that
	// registry; end a registry with / (registry.example.org* also matches
	// registry.example.org.attacker.com/x). Default: any image.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=512
	// +listType=set
	// +optional
	AllowedImages []string `json:"allowedImages,omitempty"`

	// allowGlobalMode allows Services in global mode (one task on every
	// eligible node). Default true.
	// +kubebuilder:default=true
	// +optional
	AllowGlobalMode *bool `json:"allowGlobalMode,omitempty"`

	// runAsNonRoot, when true, requires every Service to set a user that is
	// not root: not empty (the image's user, often root), not root, not uid
	// 0 (0, 0:gid). A user name is taken as given: the image's /etc/passwd
	// is not read. Default false: Services may run as root.
	// +optional
	RunAsNonRoot bool `json:"runAsNonRoot,omitempty"`
}

// VolumeDriverRule allows one volume driver and some of its options.
type VolumeDriverRule struct {
	// name of the volume driver: local, or a plugin (rexray/ebs:latest).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`

	// options are the driver option keys Services may set (any value), or
	// * for every key. Default none: the driver without options.
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	// +listType=set
	// +optional
	Options []string `json:"options,omitempty"`
}

// PortRange is a range of published ports, both ends included.
// +kubebuilder:validation:XValidation:rule="self.min <= self.max",message="min must not be greater than max",fieldPath=".max"
type PortRange struct {
	// min is the first port of the range.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +required
	Min int32 `json:"min"`

	// max is the last port of the range; equal to min for one port.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +required
	Max int32 `json:"max"`
}
