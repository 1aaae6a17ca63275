package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// StageSpec says which Freight a Stage takes, which Stacks it sets, and
// how a promotion there is verified.
type StageSpec struct {
	// requestedFreight lists the Freight the Stage takes, one entry per
	// origin Warehouse, and where it may come from.
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=8
	// +required
	RequestedFreight []FreightRequest `json:"requestedFreight"`

	// targets are the Stacks of the Stage's namespace whose images a
	// promotion sets: every image of the Freight whose repository a
	// target's Services use is written to its spec.images, by digest.
	// +listType=map
	// +listMapKey=stack
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +required
	Targets []StageTarget `json:"targets"`

	// autoPromotion promotes the newest eligible Freight as soon as it
	// appears (never one whose promotion already failed in this Stage:
	// that takes a person).
	// +optional
	AutoPromotion bool `json:"autoPromotion,omitempty"`

	// verification says how a promotion is verified once its targets are
	// Ready.
	// +kubebuilder:default={}
	// +optional
	Verification Verification `json:"verification,omitempty"`
}

// FreightRequest is the Freight a Stage takes from one Warehouse.
// +kubebuilder:validation:XValidation:rule="self.sources.direct || size(self.sources.stages) > 0",message="sources: set direct: true or name upstream stages"
type FreightRequest struct {
	// origin is the Warehouse the Freight comes from.
	// +required
	Origin FreightOrigin `json:"origin"`
	// sources say where the Freight may come from.
	// +required
	Sources FreightSources `json:"sources"`
}

// FreightSources are where a Stage takes Freight from.
type FreightSources struct {
	// direct takes any Freight of the Warehouse (the first Stage of a
	// pipeline).
	// +optional
	Direct bool `json:"direct,omitempty"`
	// stages takes the Freight verified in one of these upstream Stages.
	// +listType=set
	// +kubebuilder:validation:MaxItems=8
	// +optional
	Stages []string `json:"stages,omitempty"`
}

// StageTarget is a Stack a Stage deploys Freight to.
type StageTarget struct {
	// stack is the name of a Stack in the Stage's namespace.
	// +kubebuilder:validation:MinLength=1
	// +required
	Stack string `json:"stack"`
}

// Verification says how a promotion is verified.
type Verification struct {
	// soak is how long the targets must stay Ready after the promotion,
	// with no task failing, no update rolled back and no task restarted.
	// +kubebuilder:default="2m"
	// +optional
	Soak *metav1.Duration `json:"soak,omitempty"`
	// timeout bounds the wait for the targets to be Ready for the new
	// images (the verification job has its own).
	// +kubebuilder:default="10m"
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// rollbackOnFailure promotes the Freight the Stage held before back
	// when verification fails, as a Promotion of its own.
	// +kubebuilder:default=true
	// +optional
	RollbackOnFailure *bool `json:"rollbackOnFailure,omitempty"`
	// job, when set, runs once the soak passed, on the Swarm of the first
	// target, as a replicated-job service that must exit 0.
	// +optional
	Job *VerificationJob `json:"job,omitempty"`
}

// VerificationJob is a one-shot Swarm service that checks a promotion.
type VerificationJob struct {
	// image of the job (by tag or digest).
	// +kubebuilder:validation:MinLength=1
	// +required
	Image string `json:"image"`
	// command run, replacing the image's entrypoint.
	// +listType=atomic
	// +optional
	Command []string `json:"command,omitempty"`
	// args of the command.
	// +listType=atomic
	// +optional
	Args []string `json:"args,omitempty"`
	// env of the job.
	// +listType=map
	// +listMapKey=name
	// +optional
	Env []JobEnvVar `json:"env,omitempty"`
	// networks of the first target Stack the job joins (their names in the
	// Stack), to reach its services.
	// +listType=set
	// +optional
	Networks []string `json:"networks,omitempty"`
	// timeout of the job; it fails when it has not exited by then.
	// +kubebuilder:default="5m"
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
}

// JobEnvVar is one environment variable of a verification job.
type JobEnvVar struct {
	// name of the variable.
	// +kubebuilder:validation:MinLength=1
	// +required
	Name string `json:"name"`
	// value of the variable.
	// +optional
	Value string `json:"value,omitempty"`
}

// Stage health, from its targets.
const (
	HealthHealthy   = "Healthy"
	HealthUnhealthy = "Unhealthy"
	HealthUnknown   = "Unknown"
)

// StageStatus is what a Stage holds and how it is doing.
type StageStatus struct {
	// observedGeneration is the generation last reconciled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// conditions: Ready, Reconciling, Stalled.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// currentFreight is the Freight the Stage holds: the last one promoted
	// there successfully.
	// +optional
	CurrentFreight *FreightReference `json:"currentFreight,omitempty"`
	// freightHistory lists the Freight promoted to the Stage, newest first
	// (at most 10), with the outcome of each promotion.
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=10
	// +optional
	FreightHistory []FreightHistoryEntry `json:"freightHistory,omitempty"`
	// lastPromotion is the last Promotion that finished for the Stage.
	// +optional
	LastPromotion *PromotionReference `json:"lastPromotion,omitempty"`
	// health of the targets: Healthy (all Ready), Unhealthy, Unknown.
	// +kubebuilder:validation:Enum=Healthy;Unhealthy;Unknown
	// +optional
	Health string `json:"health,omitempty"`
}

// FreightReference names a Freight.
type FreightReference struct {
	// name of the Freight.
	Name string `json:"name"`
	// alias of the Freight.
	// +optional
	Alias string `json:"alias,omitempty"`
}

// FreightHistoryEntry is one Freight promoted to a Stage.
type FreightHistoryEntry struct {
	FreightReference `json:",inline"`
	// promotion is the Promotion that brought it.
	Promotion string `json:"promotion"`
	// phase is how that Promotion ended: Succeeded, Failed or Errored.
	Phase PromotionPhase `json:"phase"`
	// finishedAt is when it ended.
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
}

// PromotionReference names a Promotion and how it ended.
type PromotionReference struct {
	// name of the Promotion.
	Name string `json:"name"`
	// freight it promoted.
	Freight FreightReference `json:"freight"`
	// phase it ended in.
	Phase PromotionPhase `json:"phase"`
	// message of its end.
	// +optional
	Message string `json:"message,omitempty"`
	// finishedAt is when it ended.
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=stg,categories=kargo
// +kubebuilder:printcolumn:name="Freight",type=string,JSONPath=`.status.currentFreight.alias`
// +kubebuilder:printcolumn:name="Health",type=string,JSONPath=`.status.health`
// +kubebuilder:printcolumn:name="Last Promotion",type=string,JSONPath=`.status.lastPromotion.phase`
// +kubebuilder:printcolumn:name="Auto",type=boolean,JSONPath=`.spec.autoPromotion`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Stage is a promotion target: Stacks of one namespace that Freight is
// promoted to, verified, then offered to the Stages downstream.
type Stage struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec   StageSpec   `json:"spec"`
	Status StageStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// StageList contains a list of Stage.
type StageList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Stage `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Stage{}, &StageList{})
}
