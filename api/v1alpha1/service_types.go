package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ServiceSpec describes one Swarm service of a Stack.
// +kubebuilder:validation:XValidation:rule="!(has(self.mode) && self.mode == 'global' && has(self.replicas))",message="replicas cannot be set when mode is global",fieldPath=".replicas"
// +kubebuilder:validation:XValidation:rule="!(has(self.mode) && self.mode == 'global' && has(self.placement) && has(self.placement.maxReplicasPerNode))",message="placement.maxReplicasPerNode cannot be set when mode is global",fieldPath=".placement.maxReplicasPerNode"
type ServiceSpec struct {
	// stackRef names the Stack this Service belongs to. Immutable.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="stackRef is immutable: delete the Service and create it in the other Stack"
	// +required
	StackRef LocalObjectReference `json:"stackRef"`

	// image to run, e.g. mongo:4.2 or registry.example.org/app@sha256:...
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="!self.contains(' ')",message="image cannot contain spaces"
	// +required
	Image string `json:"image"`

	// command replaces the image's entrypoint.
	// +listType=atomic
	// +optional
	Command []string `json:"command,omitempty"`

	// args replace the image's command.
	// +listType=atomic
	// +optional
	Args []string `json:"args,omitempty"`

	// env are the environment variables of the tasks.
	// +listType=map
	// +listMapKey=name
	// +optional
	Env []EnvVar `json:"env,omitempty"`

	// mode: replicated (default) runs `replicas` tasks; global runs one task
	// on every eligible node.
	// +kubebuilder:validation:Enum=replicated;global
	// +kubebuilder:default=replicated
	// +optional
	Mode string `json:"mode,omitempty"`

	// replicas of a replicated service. Default 1. Not allowed with mode global.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	// +optional
	Replicas *int64 `json:"replicas,omitempty"`

	// ports published by the service.
	// +listType=map
	// +listMapKey=target
	// +listMapKey=protocol
	// +optional
	Ports []Port `json:"ports,omitempty"`

	// networks of the Stack the service attaches to, by name.
	// +listType=map
	// +listMapKey=name
	// +optional
	Networks []NetworkAttachment `json:"networks,omitempty"`

	// mounts of volumes, host paths and tmpfs into the tasks.
	// +listType=map
	// +listMapKey=target
	// +optional
	Mounts []Mount `json:"mounts,omitempty"`

	// configs of the Stack mounted as files.
	// +listType=map
	// +listMapKey=name
	// +optional
	Configs []FileReference `json:"configs,omitempty"`

	// secrets of the Stack mounted as files (under /run/secrets/ by default).
	// +listType=map
	// +listMapKey=name
	// +optional
	Secrets []FileReference `json:"secrets,omitempty"`

	// placement constrains on which nodes tasks run.
	// +optional
	Placement *Placement `json:"placement,omitempty"`

	// resources limits and reservations per task.
	// +optional
	Resources *Resources `json:"resources,omitempty"`

	// restartPolicy says when exited tasks are restarted.
	// +optional
	RestartPolicy *RestartPolicy `json:"restartPolicy,omitempty"`

	// updateConfig says how tasks are replaced on update.
	// +optional
	UpdateConfig *UpdateConfig `json:"updateConfig,omitempty"`

	// rollbackConfig says how tasks are replaced on rollback.
	// +kubebuilder:validation:XValidation:rule="!has(self.failureAction) || self.failureAction != 'rollback'",message="rollbackConfig.failureAction must be pause or continue",fieldPath=".failureAction"
	// +optional
	RollbackConfig *UpdateConfig `json:"rollbackConfig,omitempty"`

	// healthcheck of the tasks; overrides the image's.
	// +optional
	Healthcheck *Healthcheck `json:"healthcheck,omitempty"`

	// labels of the service (e.g. traefik.*, prometheus.*).
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// containerLabels of the task containers.
	// +optional
	ContainerLabels map[string]string `json:"containerLabels,omitempty"`

	// logging driver of the tasks.
	// +optional
	Logging *Logging `json:"logging,omitempty"`

	// hostname of the task containers.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Hostname string `json:"hostname,omitempty"`

	// user the tasks run as (name, uid or uid:gid).
	// +optional
	User string `json:"user,omitempty"`

	// workingDir of the tasks.
	// +kubebuilder:validation:Pattern=`^/`
	// +optional
	WorkingDir string `json:"workingDir,omitempty"`

	// stopGracePeriod is how long a task may take to stop before it is killed. Default 10s.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +optional
	StopGracePeriod *metav1.Duration `json:"stopGracePeriod,omitempty"`

	// endpointMode: vip (default, one virtual IP) or dnsrr (DNS round robin;
	// no ingress-published ports).
	// +kubebuilder:validation:Enum=vip;dnsrr
	// +optional
	EndpointMode string `json:"endpointMode,omitempty"`

	// dependsOn names Services of the same Stack that must be Ready before
	// this one is created.
	// +listType=set
	// +optional
	DependsOn []string `json:"dependsOn,omitempty"`
}

// EnvVar is an environment variable of the tasks.
// +kubebuilder:validation:XValidation:rule="!(has(self.value) && has(self.valueFrom))",message="set value or valueFrom, not both"
type EnvVar struct {
	// name of the variable.
	// +kubebuilder:validation:Pattern=`^[^=\s]+$`
	// +required
	Name string `json:"name"`
	// value of the variable.
	// +optional
	Value string `json:"value,omitempty"`
	// valueFrom reads the value from a ConfigMap or Secret key.
	// +optional
	ValueFrom *EnvVarSource `json:"valueFrom,omitempty"`
}

// EnvVarSource is a ConfigMap or Secret key.
// +kubebuilder:validation:XValidation:rule="has(self.configMapKeyRef) != has(self.secretKeyRef)",message="set exactly one of configMapKeyRef or secretKeyRef"
type EnvVarSource struct {
	// configMapKeyRef selects a ConfigMap key.
	// +optional
	ConfigMapKeyRef *KeySelector `json:"configMapKeyRef,omitempty"`
	// secretKeyRef selects a Secret key. Prefer secrets mounted as files:
	// Swarm shows environment values to anyone who can inspect the service.
	// +optional
	SecretKeyRef *KeySelector `json:"secretKeyRef,omitempty"`
}

// Port is a published port.
// +kubebuilder:validation:XValidation:rule="!(has(self.mode) && self.mode == 'host' && !has(self.published))",message="a host-mode port needs published",fieldPath=".published"
type Port struct {
	// target is the port inside the container.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +required
	Target int32 `json:"target"`
	// published is the port on the Swarm (ingress) or on the node (host).
	// Unset with ingress: Swarm picks one.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	Published int32 `json:"published,omitempty"`
	// protocol: tcp (default), udp or sctp.
	// +kubebuilder:validation:Enum=tcp;udp;sctp
	// +kubebuilder:default=tcp
	// +optional
	Protocol string `json:"protocol,omitempty"`
	// mode: ingress (default, routing mesh) or host (only on nodes running a task).
	// +kubebuilder:validation:Enum=ingress;host
	// +kubebuilder:default=ingress
	// +optional
	Mode string `json:"mode,omitempty"`
}

// NetworkAttachment attaches the service to a network of its Stack.
type NetworkAttachment struct {
	// name of a network declared in the Stack.
	// +kubebuilder:validation:MinLength=1
	// +required
	Name string `json:"name"`
	// aliases of the service on that network (its name is always one).
	// +listType=set
	// +optional
	Aliases []string `json:"aliases,omitempty"`
}

// Mount is a volume, bind or tmpfs mount.
// +kubebuilder:validation:XValidation:rule="self.type != 'bind' || (has(self.source) && self.source.startsWith('/'))",message="a bind mount needs an absolute source path",fieldPath=".source"
// +kubebuilder:validation:XValidation:rule="self.type != 'tmpfs' || !has(self.source)",message="a tmpfs mount has no source"
// +kubebuilder:validation:XValidation:rule="self.type == 'volume' || !has(self.volumeOptions)",message="volumeOptions are only for volume mounts"
// +kubebuilder:validation:XValidation:rule="self.type == 'tmpfs' || !has(self.tmpfsOptions)",message="tmpfsOptions are only for tmpfs mounts"
type Mount struct {
	// type: volume (default), bind or tmpfs.
	// +kubebuilder:validation:Enum=volume;bind;tmpfs
	// +kubebuilder:default=volume
	// +optional
	Type string `json:"type,omitempty"`
	// source: a volume name (named volumes are never deleted by Kargo; unset
	// means anonymous), or an absolute host path for bind.
	// +optional
	Source string `json:"source,omitempty"`
	// target is the absolute path in the container.
	// +kubebuilder:validation:Pattern=`^/`
	// +required
	Target string `json:"target"`
	// readOnly mounts read-only.
	// +optional
	ReadOnly bool `json:"readOnly,omitempty"`
	// volumeOptions for volume mounts.
	// +optional
	VolumeOptions *VolumeOptions `json:"volumeOptions,omitempty"`
	// tmpfsOptions for tmpfs mounts.
	// +optional
	TmpfsOptions *TmpfsOptions `json:"tmpfsOptions,omitempty"`
}

// VolumeOptions configure a named volume created on first use.
type VolumeOptions struct {
	// noCopy disables copying the image's files into a new volume.
	// +optional
	NoCopy bool `json:"noCopy,omitempty"`
	// labels of the volume.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// driver of the volume. Default local.
	// +optional
	Driver string `json:"driver,omitempty"`
	// driverOpts of the volume.
	// +optional
	DriverOpts map[string]string `json:"driverOpts,omitempty"`
}

// TmpfsOptions configure a tmpfs mount.
type TmpfsOptions struct {
	// size of the tmpfs, e.g. 64Mi.
	// +optional
	Size *resource.Quantity `json:"size,omitempty"`
	// mode of the tmpfs root, e.g. 1777 (octal, as a decimal number in JSON: 1023).
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=4095
	// +optional
	Mode *int32 `json:"mode,omitempty"`
}

// FileReference mounts a config or secret of the Stack as a file.
type FileReference struct {
	// name of the config or secret declared in the Stack.
	// +kubebuilder:validation:MinLength=1
	// +required
	Name string `json:"name"`
	// target path of the file. Default: /<name> for configs,
	// /run/secrets/<name> for secrets; a relative path is under those.
	// +optional
	Target string `json:"target,omitempty"`
	// uid owning the file. Default "0".
	// +optional
	UID string `json:"uid,omitempty"`
	// gid owning the file. Default "0".
	// +optional
	GID string `json:"gid,omitempty"`
	// mode of the file (octal 0444 is 292 in JSON). Default 0444.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=511
	// +optional
	Mode *int32 `json:"mode,omitempty"`
}

// Healthcheck is a container health check.
// +kubebuilder:validation:XValidation:rule="(has(self.disable) && self.disable) != (has(self.test) && size(self.test) > 0)",message="set test, or disable: true, but not both"
// +kubebuilder:validation:XValidation:rule="!has(self.test) || size(self.test) == 0 || self.test[0] in ['CMD', 'CMD-SHELL', 'NONE']",message="test must start with CMD, CMD-SHELL or NONE",fieldPath=".test"
type Healthcheck struct {
	// test is the check, as in compose: [CMD, prog, args...] or [CMD-SHELL, "command"].
	// +listType=atomic
	// +optional
	Test []string `json:"test,omitempty"`
	// disable turns off the image's health check.
	// +optional
	Disable bool `json:"disable,omitempty"`
	// interval between checks. Default 30s.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +optional
	Interval *metav1.Duration `json:"interval,omitempty"`
	// timeout of one check. Default 30s.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// retries before the task is unhealthy. Default 3.
	// +kubebuilder:validation:Minimum=0
	// +optional
	Retries *int64 `json:"retries,omitempty"`
	// startPeriod during which failures do not count. Default 0s.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +optional
	StartPeriod *metav1.Duration `json:"startPeriod,omitempty"`
}

// ServiceStatus is what the operator observed of the Swarm service.
type ServiceStatus struct {
	// observedGeneration is the generation last reconciled successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// conditions: Ready, Reconciling, Stalled.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// ServiceState is the observed state on the Swarm.
	ServiceState `json:",inline"`
}

// ServiceState is the observed state of one Swarm service.
type ServiceState struct {
	// name of the Service object.
	// +optional
	Name string `json:"name,omitempty"`
	// swarmName is the Swarm service name, <namespace>_<name>.
	// +optional
	SwarmName string `json:"swarmName,omitempty"`
	// id of the Swarm service.
	// +optional
	ID string `json:"id,omitempty"`
	// image running.
	// +optional
	Image string `json:"image,omitempty"`
	// desiredTasks: replicas, or the eligible nodes for global services.
	// +optional
	DesiredTasks int64 `json:"desiredTasks"`
	// runningTasks are tasks running (and healthy when a health check is set).
	// +optional
	RunningTasks int64 `json:"runningTasks"`
	// replicas is "<running>/<desired>", for kubectl get.
	// +optional
	Replicas string `json:"replicas,omitempty"`
	// updateState of the last update: updating, paused, completed,
	// rollback_started, rollback_paused, rollback_completed.
	// +optional
	UpdateState string `json:"updateState,omitempty"`
	// updateFailed tells whether Swarm paused or rolled back the update to
	// the spec wanted now: retrying that spec cannot help. A rollback onto
	// the spec wanted now (a release set back) is not a failure.
	// +optional
	UpdateFailed bool `json:"updateFailed,omitempty"`
	// ready tells whether the service has converged.
	// +optional
	Ready bool `json:"ready"`
	// message explains why it is not ready: the latest task error (e.g.
	// "No such image", "no suitable node") or the update message.
	// +optional
	Message string `json:"message,omitempty"`
	// specHash is the hash of the spec Kargo last applied (the
	// swarm.kargo.io/spec-hash label). When Swarm paused or rolled back the
	// update to it, Kargo does not apply it again (it would fail the same
	// way, in a loop) until the Service changes.
	// +optional
	SpecHash string `json:"specHash,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ssvc,categories=kargo
// +kubebuilder:selectablefield:JSONPath=`.spec.stackRef.name`
// +kubebuilder:printcolumn:name="Stack",type=string,JSONPath=`.spec.stackRef.name`
// +kubebuilder:printcolumn:name="Image",type=string,JSONPath=`.spec.image`,priority=1
// +kubebuilder:printcolumn:name="Replicas",type=string,JSONPath=`.status.replicas`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Service is one Swarm service of a Stack.
type Service struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec   ServiceSpec   `json:"spec"`
	Status ServiceStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ServiceList contains a list of Service.
type ServiceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Service `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Service{}, &ServiceList{})
}
