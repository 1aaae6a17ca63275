package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EnvironmentSpec describes a target Swarm and the variables of its stacks.
type EnvironmentSpec struct {
	// endpoint is how the operator reaches the Docker Engine API of a Swarm manager.
	// +required
	Endpoint Endpoint `json:"endpoint"`

	// variables substituted into the catalog entries of every Stack of this
	// Environment (`${VAR}` and `${VAR:-default}` in compose syntax). Values
	// from variablesFrom override these.
	// +optional
	Variables map[string]string `json:"variables,omitempty"`

	// variablesFrom reads variables from ConfigMaps and Secrets, in order: a
	// later source overrides an earlier one, as later assignments did in the
	// old tool's environment files. Values read from Secrets never appear in
	// logs, events or status.
	// +listType=atomic
	// +optional
	VariablesFrom []VariablesSource `json:"variablesFrom,omitempty"`

	// nodeLabels are the labels wanted on the Swarm nodes, by hostname. Kargo
	// adds and updates them and removes only labels it set itself.
	// +listType=map
	// +listMapKey=hostname
	// +optional
	NodeLabels []NodeLabels `json:"nodeLabels,omitempty"`

	// defaults are deployment settings applied to every Service of this
	// Environment as the lowest configuration layer.
	// +optional
	Defaults *ServiceDefaults `json:"defaults,omitempty"`

	// sharedNetworks are Swarm networks created outside any Stack (the old
	// tool's DOCKER_NETWORK and DOCKER_BACK_NETWORK, kargo-front and
	// kargo-back) that the Stacks of this Environment may join as external
	// networks, by name. An external network not listed here needs
	// spec.policy.allowedExternalNetworks. Default none.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:Pattern=`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`
	// +kubebuilder:validation:items:MaxLength=63
	// +listType=set
	// +optional
	SharedNetworks []string `json:"sharedNetworks,omitempty"`

	// policy is what the Services of this Environment's Stacks may do on
	// the Swarm's nodes: host paths, volume drivers, external networks,
	// published ports, images, global mode, root. Checked before any change
	// on the Swarm; a Stack that breaks it is Stalled with reason
	// PolicyDenied. Default: no bind mounts, only local volumes without
	// driver options, only spec.sharedNetworks as external networks, the
	// rest allowed (see WorkloadPolicy).
	// +optional
	Policy *WorkloadPolicy `json:"policy,omitempty"`

	// suspend stops reconciliation of this Environment and of its Stacks; what
	// runs on the Swarm is left as it is.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// interval between periodic resyncs of the Environment and its Stacks, a
	// fallback for missed Docker events. Default 10m.
	// +kubebuilder:default="10m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +optional
	Interval *metav1.Duration `json:"interval,omitempty"`
}

// Endpoint is the address of a Docker Engine API.
// +kubebuilder:validation:XValidation:rule="!self.host.startsWith('tcp://') || has(self.tlsSecretRef) || (has(self.insecure) && self.insecure)",message="a tcp:// endpoint needs tlsSecretRef, or insecure: true to use plain TCP",fieldPath=".tlsSecretRef"
// +kubebuilder:validation:XValidation:rule="!(has(self.tlsSecretRef) && has(self.insecure) && self.insecure)",message="tlsSecretRef and insecure: true cannot be set together"
type Endpoint struct {
	// host is the Docker endpoint: unix:///path/to/docker.sock or tcp://host:port.
	// +kubebuilder:validation:Pattern=`^(unix:///[^\s]+|tcp://[^\s/:]+:[0-9]{1,5})$`
	// +kubebuilder:validation:MaxLength=512
	// +required
	Host string `json:"host"`

	// tlsSecretRef names a Secret with the client certificate (tls.crt,
	// tls.key) and the CA (ca.crt) that signed the engine's certificate.
	// +optional
	TLSSecretRef *LocalObjectReference `json:"tlsSecretRef,omitempty"`

	// insecure allows a tcp:// endpoint without TLS. Anyone who reaches that
	// port controls the Swarm: use it only on a trusted network.
	// +optional
	Insecure bool `json:"insecure,omitempty"`
}

// VariablesSource is one ConfigMap or Secret of variables.
// +kubebuilder:validation:XValidation:rule="has(self.configMapRef) != has(self.secretRef)",message="set exactly one of configMapRef or secretRef"
type VariablesSource struct {
	// configMapRef reads variables from a ConfigMap.
	// +optional
	ConfigMapRef *VariablesReference `json:"configMapRef,omitempty"`
	// secretRef reads variables from a Secret.
	// +optional
	SecretRef *VariablesReference `json:"secretRef,omitempty"`
	// optional: when true a missing ConfigMap or Secret is skipped instead of
	// blocking the Environment.
	// +optional
	Optional bool `json:"optional,omitempty"`
}

// VariablesReference names a ConfigMap or Secret and, optionally, one key of it.
type VariablesReference struct {
	// name of the ConfigMap or Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`
	// key, when set, holds a whole environment file in the old tool's syntax
	// (comments, quotes, references to earlier variables). Unset: each key of
	// the data is a variable.
	// +optional
	Key string `json:"key,omitempty"`
}

// NodeLabels are the labels wanted on one node.
type NodeLabels struct {
	// hostname of the Swarm node.
	// +kubebuilder:validation:MinLength=1
	// +required
	Hostname string `json:"hostname"`
	// labels wanted on the node.
	// +required
	Labels map[string]string `json:"labels"`
}

// EnvironmentStatus is what the operator observed of the Swarm.
type EnvironmentStatus struct {
	// observedGeneration is the generation last reconciled successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// conditions: Ready, Reconciling, Stalled.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// swarm describes the cluster behind the endpoint.
	// +optional
	Swarm *SwarmInfo `json:"swarm,omitempty"`
	// missingNodes lists hostnames of spec.nodeLabels that are not nodes of
	// the Swarm; their labels are applied when they join.
	// +listType=atomic
	// +optional
	MissingNodes []string `json:"missingNodes,omitempty"`
	// orphanedOwners are Stacks deleted while the Swarm did not answer
	// (their finalizer let go after spec.timeout) with objects left on it.
	// The Environment removes those objects (never volumes) once its
	// endpoint answers, then drops the entry. At most 64: the oldest is
	// dropped first.
	// +listType=map
	// +listMapKey=owner
	// +kubebuilder:validation:MaxItems=64
	// +optional
	OrphanedOwners []OrphanedOwner `json:"orphanedOwners,omitempty"`
}

// MaxOrphanedOwners bounds EnvironmentStatus.OrphanedOwners.
const MaxOrphanedOwners = 64

// OrphanedOwner is a deleted Stack whose Swarm objects are still to remove.
type OrphanedOwner struct {
	// owner is the value of the objects' swarm.kargo.io/owner label:
	// <namespace>/<stack>.
	// +kubebuilder:validation:MaxLength=317
	// +required
	Owner string `json:"owner"`
	// namespace is the Swarm stack namespace of the objects.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// since is when the Stack's finalizer let go.
	// +required
	Since metav1.Time `json:"since"`
}

// SwarmInfo describes a Swarm cluster.
type SwarmInfo struct {
	// clusterID of the Swarm.
	ClusterID string `json:"clusterID,omitempty"`
	// nodeID of the manager the operator talks to.
	NodeID string `json:"nodeID,omitempty"`
	// nodes in the Swarm.
	Nodes int32 `json:"nodes,omitempty"`
	// managers in the Swarm.
	Managers int32 `json:"managers,omitempty"`
	// engineVersion of the Docker daemon behind the endpoint.
	EngineVersion string `json:"engineVersion,omitempty"`
	// apiVersion negotiated with the daemon.
	APIVersion string `json:"apiVersion,omitempty"`
	// unavailableNodes are the nodes that take no new tasks, each
	// "<hostname> (<why>)": not ready (down, disconnected, unknown) or not
	// active (drain, pause), e.g. "worker-2 (down)". Swarm moves their tasks
	// to other nodes; Kargo does not change their availability.
	// +optional
	// +listType=atomic
	UnavailableNodes []string `json:"unavailableNodes,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=env;envs,categories=kargo
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.spec.endpoint.host`
// +kubebuilder:printcolumn:name="Nodes",type=integer,JSONPath=`.status.swarm.nodes`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Environment is a target Swarm (one manager's Docker endpoint) and the
// variables and defaults its Stacks are rendered with.
type Environment struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec   EnvironmentSpec   `json:"spec"`
	Status EnvironmentStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// EnvironmentList contains a list of Environment.
type EnvironmentList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Environment `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Environment{}, &EnvironmentList{})
}
