package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PromotionPhase is where a Promotion is.
// +kubebuilder:validation:Enum=Pending;Running;Succeeded;Failed;Errored
type PromotionPhase string

const (
	// PromotionPending: waiting for its turn (one Promotion runs per Stage,
	// in creation order) or refused before it started (message says why).
	PromotionPending PromotionPhase = "Pending"
	// PromotionRunning: its steps are underway.
	PromotionRunning PromotionPhase = "Running"
	// PromotionSucceeded: the targets run the Freight and verification
	// passed.
	PromotionSucceeded PromotionPhase = "Succeeded"
	// PromotionFailed: verification failed (targets not Ready in time, a
	// task failed, an update rolled back, the job exited non-zero).
	PromotionFailed PromotionPhase = "Failed"
	// PromotionErrored: the Promotion could not be carried out (Freight not
	// eligible for the Stage, a target missing, a Stack it could not set).
	PromotionErrored PromotionPhase = "Errored"
)

// Terminal tells whether a Promotion in this phase is over.
func (p PromotionPhase) Terminal() bool {
	return p == PromotionSucceeded || p == PromotionFailed || p == PromotionErrored
}

// Promotion steps, in order.
const (
	StepSetImages = "SetImages"
	StepWaitReady = "WaitReady"
	StepVerify    = "Verify"
	StepDone      = "Done"
)

// PromotionSpec names the Freight and the Stage. It never changes.
// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="the spec of a Promotion is immutable: create another Promotion"
type PromotionSpec struct {
	// stage is the name of the Stage of the namespace promoted to.
	// +kubebuilder:validation:MinLength=1
	// +required
	Stage string `json:"stage"`
	// freight is the name of the Freight promoted.
	// +kubebuilder:validation:MinLength=1
	// +required
	Freight string `json:"freight"`
}

// PromotionStep is one step of a Promotion as it ran.
type PromotionStep struct {
	// name of the step: SetImages, WaitReady, Verify, Done.
	Name string `json:"name"`
	// phase of the step: Running, Succeeded, Failed or Errored.
	Phase PromotionPhase `json:"phase"`
	// startedAt is when the step began.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// finishedAt is when the step ended.
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
	// message says what the step did or why it failed.
	// +optional
	Message string `json:"message,omitempty"`
}

// PromotionStatus is how a Promotion ran.
type PromotionStatus struct {
	// phase of the Promotion.
	// +optional
	Phase PromotionPhase `json:"phase,omitempty"`
	// message explains the phase (why it waits, failed or was refused).
	// +optional
	Message string `json:"message,omitempty"`
	// freight is the Freight promoted, with its alias.
	// +optional
	Freight *FreightReference `json:"freight,omitempty"`
	// steps as they ran, in order.
	// +listType=atomic
	// +optional
	Steps []PromotionStep `json:"steps,omitempty"`
	// startedAt is when its first step began.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// finishedAt is when it ended.
	// +optional
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
	// stackGenerations are the generations of the target Stacks after
	// their images were set: Ready for them means Ready for the Freight.
	// +optional
	StackGenerations map[string]int64 `json:"stackGenerations,omitempty"`
	// jobService is the Swarm service of the verification job while it
	// exists.
	// +optional
	JobService string `json:"jobService,omitempty"`
	// rollback names the Promotion created to bring the previous Freight
	// back after this one failed.
	// +optional
	Rollback string `json:"rollback,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=promo,categories=kargo
// +kubebuilder:printcolumn:name="Stage",type=string,JSONPath=`.spec.stage`
// +kubebuilder:printcolumn:name="Freight",type=string,JSONPath=`.status.freight.alias`
// +kubebuilder:printcolumn:name="Cause",type=string,JSONPath=`.metadata.labels.swarm\.kargo\.io/promotion-cause`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Promotion moves one Freight into one Stage: it sets the images of the
// Stage's targets, waits for them to be Ready, verifies, and records the
// outcome on the Stage and the Freight.
type Promotion struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec   PromotionSpec   `json:"spec"`
	Status PromotionStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// PromotionList contains a list of Promotion.
type PromotionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Promotion `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Promotion{}, &PromotionList{})
}
